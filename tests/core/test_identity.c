// SPDX-License-Identifier: MIT
/*
 * tests/core/test_identity.c - the identity backend: mask and bus-limit
 * boundaries, bus offset arithmetic, fallback routing (map, unmap, sync,
 * translate, coherent), force_fallback, the queries and config validation.
 *
 * The test RAM straddles 4 GiB ([0xfff00000, 0x100100000)) so a buffer can
 * end exactly on a 32-bit mask or one byte past it.
 */
#include <criterion/criterion.h>
#include <string.h>

#include <dmap/dmap.h>
#include <dmap/identity.h>
#include <dmap/hosted.h>

#include "test_env.h"
#include "test_backend.h"

#define RAM_BASE 0xfff00000ULL
#define RAM_SIZE (2u << 20)
#define FOUR_G 0x100000000ULL
/* the fallback's window: a low address range the test backend hands out */
#define WINDOW 0xfff80000ULL

static struct dmap_test_env t;
static struct dmap_domain *id;
static struct dmap_dev *dev;

static void setup(void)
{
	dmap_test_env_init(&t, RAM_BASE, RAM_SIZE, false);
	dev = dmap_test_dev(&t, "nvme0", 0);
}

static void teardown(void)
{
	dmap_dev_destroy(dev);
	if (id)
		dmap_domain_destroy(id);
	id = NULL;
	dmap_test_env_fini(&t);
}

static struct tb *make_fallback(void)
{
	struct tb *fb = tb_create(t.ctx, "bounce0", false);

	fb->bounce = true;
	fb->window_base = WINDOW;
	fb->window_size = 0x40000;
	return fb;
}

static void make_identity(uint64_t offset, struct dmap_domain *fallback, bool force)
{
	struct dmap_identity_config cfg = { .name = "direct",
					    .bus_offset = offset,
					    .fallback = fallback,
					    .force_fallback = force };

	cr_assert_eq(dmap_identity_domain_create(t.ctx, &cfg, &id), 0);
	cr_assert_eq(dmap_dev_attach(dev, id), 0);
}

static struct dmap_domain_stats stats(struct dmap_domain *dom)
{
	struct dmap_domain_stats s;

	dmap_domain_get_stats(dom, &s);
	return s;
}

TestSuite(identity, .init = setup, .fini = teardown);

Test(identity, last_byte_at_mask_maps_direct)
{
	make_identity(0, NULL, false);
	cr_assert_eq(dmap_map_phys(dev, FOUR_G - 4096, 4096, DMAP_TO_DEVICE, 0), FOUR_G - 4096);
	cr_assert_eq(dmap_map_phys(dev, FOUR_G - 1, 1, DMAP_TO_DEVICE, 0), FOUR_G - 1);
	dmap_test_log_clear(&t);
	cr_assert_eq(dmap_map_phys(dev, FOUR_G - 4096, 4097, DMAP_TO_DEVICE, 0),
		     DMAP_MAPPING_ERROR);
	cr_assert(dmap_test_log_has(&t, "nvme0", "0xfffff000", "0x1001", "0xffffffff", NULL));
	cr_assert_eq(dmap_map_phys(dev, FOUR_G, 1, DMAP_TO_DEVICE, DMAP_ATTR_NO_WARN),
		     DMAP_MAPPING_ERROR);
	cr_assert_eq(stats(id).map_errors, 2);
	/* a 64-bit device maps above 4 GiB directly (no needless bouncing) */
	cr_assert_eq(dmap_set_mask(dev, DMAP_BIT_MASK(64)), 0);
	cr_assert_eq(dmap_map_phys(dev, FOUR_G, 4096, DMAP_TO_DEVICE, 0), FOUR_G);
}

Test(identity, one_byte_past_mask_goes_to_fallback)
{
	struct tb *fb = make_fallback();
	dmap_addr_t a, b;

	make_identity(0, &fb->dom, false);
	a = dmap_map_phys(dev, FOUR_G - 4096, 4096, DMAP_FROM_DEVICE, 0);
	cr_assert_eq(a, FOUR_G - 4096, "fits: direct");
	cr_assert_eq(fb->map_calls, 0);
	b = dmap_map_phys(dev, FOUR_G - 4096, 4097, DMAP_FROM_DEVICE, 0);
	cr_assert_eq(b, WINDOW, "one byte more: fallback");
	cr_assert_eq(fb->map_calls, 1);
	cr_assert_eq(stats(id).fallback_maps, 1);
	/* unmap and sync are routed by ownership */
	cr_assert_eq(dmap_sync_single_for_cpu(dev, b + 16, 32, DMAP_FROM_DEVICE), 0);
	cr_assert_eq(fb->nsyncs, 1);
	cr_assert_eq(fb->syncs[0].addr, b + 16);
	cr_assert_eq(dmap_sync_single_for_cpu(dev, a, 32, DMAP_FROM_DEVICE), 0);
	cr_assert_eq(fb->nsyncs, 1, "direct sync does not reach the fallback");
	cr_assert_eq(dmap_unmap_phys(dev, b, 4097, DMAP_FROM_DEVICE, 0), 0);
	cr_assert_eq(fb->unmap_calls, 1);
	cr_assert_eq(fb->live, 0);
	cr_assert_eq(dmap_unmap_phys(dev, a, 4096, DMAP_FROM_DEVICE, 0), 0);
	cr_assert_eq(fb->unmap_calls, 1);
	/* fallback failure comes back as a map error */
	fb->fail_at = fb->map_calls + 1;
	cr_assert_eq(dmap_map_phys(dev, FOUR_G, 8, DMAP_FROM_DEVICE, 0), DMAP_MAPPING_ERROR);
	cr_assert_eq(stats(id).map_errors, 1);
	cr_assert_eq(stats(id).fallback_maps, 1);
	/* the fallback cannot go while identity uses it */
	cr_assert_eq(dmap_domain_destroy(&fb->dom), -DMAP_EBUSY);
	dmap_dev_detach(dev);
	cr_assert_eq(dmap_domain_destroy(id), 0);
	id = NULL;
	cr_assert_eq(dmap_domain_destroy(&fb->dom), 0);
}

Test(identity, bus_limit_below_mask_wins)
{
	struct dmap_dev_info info = { .name = "limited",
				      .dma_mask = DMAP_BIT_MASK(64),
				      .bus_dma_limit = FOUR_G - 1 };
	struct dmap_dev *d;

	make_identity(0, NULL, false);
	cr_assert_eq(dmap_dev_create(t.ctx, &info, &d), 0);
	cr_assert_eq(dmap_dev_attach(d, id), 0);
	cr_assert_eq(dmap_map_phys(d, FOUR_G - 4096, 4096, DMAP_TO_DEVICE, 0), FOUR_G - 4096);
	dmap_test_log_clear(&t);
	cr_assert_eq(dmap_map_phys(d, FOUR_G - 4096, 4097, DMAP_TO_DEVICE, 0), DMAP_MAPPING_ERROR);
	cr_assert(dmap_test_log_has(&t, "limited", "bus limit 0xffffffff", NULL));
	cr_assert(dmap_addressing_limited(d));
	/* a bus limit above the mask does not widen it */
	dmap_dev_destroy(d);
	info.dma_mask = DMAP_BIT_MASK(32);
	info.bus_dma_limit = DMAP_BIT_MASK(40);
	cr_assert_eq(dmap_dev_create(t.ctx, &info, &d), 0);
	cr_assert_eq(dmap_dev_attach(d, id), 0);
	cr_assert_eq(dmap_map_phys(d, FOUR_G, 1, DMAP_TO_DEVICE, DMAP_ATTR_NO_WARN),
		     DMAP_MAPPING_ERROR);
	dmap_dev_destroy(d);
}

Test(identity, bus_offset)
{
	uint64_t offset = 0x800000000ULL;

	make_identity(offset, NULL, false);
	cr_assert_eq(dmap_set_mask(dev, DMAP_BIT_MASK(36)), 0);
	cr_assert_eq(dmap_map_phys(dev, RAM_BASE, 64, DMAP_TO_DEVICE, 0), RAM_BASE + offset);
	/* the mask applies to the bus address: with a 35-bit mask it is out of reach */
	cr_assert_eq(dmap_set_mask(dev, DMAP_BIT_MASK(35)), 0);
	cr_assert_eq(dmap_map_phys(dev, RAM_BASE, 64, DMAP_TO_DEVICE, DMAP_ATTR_NO_WARN),
		     DMAP_MAPPING_ERROR);
	cr_assert_eq(dmap_set_mask(dev, DMAP_BIT_MASK(36)), 0);
	/* device side inverts the offset */
	memcpy(dmap_test_ram(&t, RAM_BASE + 100), "offset!", 8);
	char buf[8];
	cr_assert_eq(dmap_dev_read(dev, RAM_BASE + offset + 100, buf, 8), 0);
	cr_assert_str_eq(buf, "offset!");
	struct dmap_translation tr;
	cr_assert_eq(dmap_translate(dev, RAM_BASE + offset + 100, DMAP_ACCESS_WRITE, &tr), 0);
	cr_assert_eq(tr.phys, RAM_BASE + 100);
	/* coherent memory is below the coherent limit in bus terms */
	cr_assert_eq(dmap_set_coherent_mask(dev, DMAP_BIT_MASK(36)), 0);
	dmap_addr_t h;
	void *p = dmap_alloc_coherent(dev, 4096, &h, 0);
	cr_assert_not_null(p);
	cr_assert_eq(p, dmap_test_ram(&t, h - offset));
	cr_assert_eq(dmap_free_coherent(dev, 4096, p, h, 0), 0);
	/* coherent limit below the offset: nothing qualifies, no underflow */
	cr_assert_eq(dmap_set_coherent_mask(dev, DMAP_BIT_MASK(32)), 0);
	cr_assert_null(dmap_alloc_coherent(dev, 4096, &h, DMAP_ATTR_NO_WARN));
	cr_assert_eq(h, DMAP_MAPPING_ERROR);
}

Test(identity, bus_offset_wraps_mod_2_64)
{
	/* bus = phys + offset mod 2^64: phys 0xfff00000 lands at bus 0x100000. */
	uint64_t offset = 0ULL - (RAM_BASE - 0x100000);

	make_identity(offset, NULL, false);
	cr_assert_eq(dmap_map_phys(dev, RAM_BASE, 4096, DMAP_TO_DEVICE, 0), 0x100000);
	char buf[4] = "abc";
	cr_assert_eq(dmap_dev_write(dev, 0x100000 + 8, buf, 4), 0);
	cr_assert_str_eq((char *)dmap_test_ram(&t, RAM_BASE + 8), "abc");
}

Test(identity, force_fallback)
{
	struct tb *fb = make_fallback();
	dmap_addr_t a;

	fb->max_mapping = 256 * 1024;
	make_identity(0, &fb->dom, true);
	a = dmap_map_phys(dev, RAM_BASE, 64, DMAP_TO_DEVICE, 0);
	cr_assert_eq(a, WINDOW, "even reachable memory bounces");
	cr_assert_eq(stats(id).fallback_maps, 1);
	cr_assert_eq(dmap_max_mapping_size(dev), 256 * 1024);
	cr_assert_eq(dmap_unmap_phys(dev, a, 64, DMAP_TO_DEVICE, 0), 0);
	cr_assert_eq(fb->live, 0);
	dmap_dev_detach(dev);
	dmap_domain_destroy(id);
	id = NULL;
	dmap_domain_destroy(&fb->dom);
}

Test(identity, config_validation)
{
	struct dmap_domain *d = (void *)1;
	struct dmap_identity_config cfg = { .force_fallback = true };
	struct dmap_ctx *other;

	cr_assert_eq(dmap_identity_domain_create(NULL, NULL, &d), -DMAP_EINVAL);
	cr_assert_null(d);
	cr_assert_eq(dmap_identity_domain_create(t.ctx, NULL, NULL), -DMAP_EINVAL);
	dmap_test_log_clear(&t);
	cr_assert_eq(dmap_identity_domain_create(t.ctx, &cfg, &d), -DMAP_EINVAL);
	cr_assert(dmap_test_log_has(&t, "force_fallback", NULL));
	/* fallback of another context */
	cr_assert_eq(dmap_ctx_create(t.env, &other), 0);
	struct tb *fb = tb_create(other, "foreign", false);
	cfg.force_fallback = false;
	cfg.fallback = &fb->dom;
	cr_assert_eq(dmap_identity_domain_create(t.ctx, &cfg, &d), -DMAP_EINVAL);
	cr_assert_eq(fb->dom.users, 0, "not marked used after a refusal");
	dmap_domain_destroy(&fb->dom);
	cr_assert_eq(dmap_ctx_destroy(other), 0);
}

Test(identity, queries)
{
	struct tb *fb = make_fallback();

	fb->max_mapping = 128 * 1024;
	fb->min_mask = DMAP_BIT_MASK(24);
	make_identity(0, &fb->dom, false);
	/* RAM ends above 4 GiB: a 32-bit device is limited, its mappings may bounce */
	cr_assert(dmap_addressing_limited(dev));
	cr_assert_eq(dmap_max_mapping_size(dev), 128 * 1024);
	cr_assert_eq(dmap_set_mask(dev, DMAP_BIT_MASK(64)), 0);
	cr_assert_not(dmap_addressing_limited(dev));
	cr_assert_eq(dmap_max_mapping_size(dev), SIZE_MAX);
	/* dma_supported asks the fallback */
	cr_assert_eq(dmap_set_mask(dev, DMAP_BIT_MASK(20)), -DMAP_EIO);
	cr_assert_eq(dmap_set_mask(dev, DMAP_BIT_MASK(24)), 0);
	dmap_dev_detach(dev);
	dmap_domain_destroy(id);
	id = NULL;
	dmap_domain_destroy(&fb->dom);

	/* without a fallback: unlimited size, every mask accepted */
	make_identity(0, NULL, false);
	cr_assert_eq(dmap_max_mapping_size(dev), SIZE_MAX);
	cr_assert_eq(dmap_set_mask(dev, DMAP_BIT_MASK(12)), 0);
	cr_assert(dmap_addressing_limited(dev));
}

Test(identity, coherent_from_fallback_when_direct_impossible)
{
	/* the test backend has no coherent allocator: the call fails cleanly with a message */
	struct tb *fb = make_fallback();
	dmap_addr_t h;

	make_identity(0, &fb->dom, false);
	cr_assert_eq(dmap_set_coherent_mask(dev, DMAP_BIT_MASK(20)), 0);
	dmap_test_log_clear(&t);
	cr_assert_null(dmap_alloc_coherent(dev, 4096, &h, 0));
	cr_assert_eq(h, DMAP_MAPPING_ERROR);
	cr_assert(dmap_test_log_has(&t, "nvme0", "fallback", NULL));
	dmap_dev_detach(dev);
	dmap_domain_destroy(id);
	id = NULL;
	dmap_domain_destroy(&fb->dom);
}

Test(identity, coherent_allocations_below_mask)
{
	dmap_addr_t h[8];
	void *p[8];

	make_identity(0, NULL, false);
	/* the pool hands out from the top; a 32-bit coherent mask keeps them below 4 GiB */
	for (int i = 0; i < 8; i++) {
		p[i] = dmap_alloc_coherent(dev, 8192, &h[i], 0);
		cr_assert_not_null(p[i]);
		cr_assert_leq(h[i] + 8192 - 1, DMAP_BIT_MASK(32));
		cr_assert_eq(h[i] % 4096, 0);
	}
	for (int i = 0; i < 8; i++)
		cr_assert_eq(dmap_free_coherent(dev, 8192, p[i], h[i], 0), 0);
	cr_assert_eq(stats(id).coherent_allocs, 8);
}

Test(identity, translate_direct)
{
	struct dmap_translation tr;

	make_identity(0, NULL, false);
	cr_assert_eq(dmap_translate(dev, RAM_BASE + 0x10, DMAP_ACCESS_READ, &tr), 0);
	cr_assert_eq(tr.phys, RAM_BASE + 0x10);
	cr_assert_eq(tr.perm, DMAP_ACCESS_READ | DMAP_ACCESS_WRITE);
	/* contiguous up to the device limit, not beyond */
	cr_assert_eq(tr.len, FOUR_G - (RAM_BASE + 0x10));
	cr_assert_eq(dmap_set_mask(dev, DMAP_BIT_MASK(64)), 0);
	cr_assert_eq(dmap_translate(dev, RAM_BASE + 0x10, DMAP_ACCESS_READ, &tr), 0);
	cr_assert_eq(tr.len, RAM_SIZE - 0x10);
}

Test(identity, translate_through_fallback)
{
	struct tb *fb = make_fallback();
	struct dmap_translation tr;
	dmap_addr_t b;

	make_identity(0, &fb->dom, false);
	b = dmap_map_phys(dev, FOUR_G + 0x100, 64, DMAP_FROM_DEVICE, 0);
	cr_assert_eq(b, WINDOW);
	cr_assert_eq(dmap_translate(dev, b + 8, DMAP_ACCESS_WRITE, &tr), 0);
	cr_assert_eq(tr.phys, FOUR_G + 0x108, "the test fallback maps straight through");
	cr_assert_eq(fb->translate_calls, 1);
	dmap_unmap_phys(dev, b, 64, DMAP_FROM_DEVICE, 0);
	dmap_dev_detach(dev);
	dmap_domain_destroy(id);
	id = NULL;
	dmap_domain_destroy(&fb->dom);
}
