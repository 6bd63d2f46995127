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
#include <dmap/debug.h>

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

/*
 * Regression (fuzzer): a coherent mask wider than the streaming mask is
 * accepted (Linux does not compare them); the buffer is allocated below the
 * coherent limit, and the device must reach it. Identity's device side used
 * to check the streaming limit only and faulted (address-size).
 */
Test(identity, coherent_mask_wider_than_streaming_is_reachable)
{
	uint8_t pattern[64], back[64];
	dmap_addr_t h;
	void *p;

	make_identity(0, NULL, false);
	cr_assert_eq(dmap_set_mask(dev, DMAP_BIT_MASK(32)), 0);
	cr_assert_eq(dmap_set_coherent_mask(dev, DMAP_BIT_MASK(64)), 0);
	/* The pool hands out from the top of RAM: above 4 GiB, so above the streaming mask. */
	p = dmap_alloc_coherent(dev, 8192, &h, 0);
	cr_assert_not_null(p);
	cr_assert_gt(h, DMAP_BIT_MASK(32), "expected a buffer above the streaming mask");
	for (size_t i = 0; i < sizeof(pattern); i++)
		pattern[i] = (uint8_t)(i * 5 + 3);
	cr_assert_eq(dmap_dev_write(dev, h + 100, pattern, sizeof(pattern)), 0);
	cr_assert_eq(memcmp((uint8_t *)p + 100, pattern, sizeof(pattern)), 0);
	cr_assert_eq(dmap_dev_read(dev, h, back, sizeof(back)), 0);
	cr_assert_eq(memcmp(back, p, sizeof(back)), 0);
	/* Streaming mappings still obey the streaming mask. */
	cr_assert_eq(dmap_map_phys(dev, FOUR_G + 0x1000, 64, DMAP_TO_DEVICE, DMAP_ATTR_NO_WARN),
		     DMAP_MAPPING_ERROR);
	cr_assert_eq(dmap_free_coherent(dev, 8192, p, h, 0), 0);
	/* Beyond both masks the device still cannot drive the address. */
	cr_assert_eq(dmap_set_coherent_mask(dev, DMAP_BIT_MASK(32)), 0);
	cr_assert_neq(dmap_dev_read(dev, FOUR_G + 0x1000, back, 8), 0);
}

/* ---- RAM, device memory and cache maintenance ---------------------------- */

/* Below the test RAM: reachable through a 32-bit mask, but no RAM behind it. */
#define NONRAM 0x10000000ULL

static void setup_noncoherent(void)
{
	dmap_test_env_init(&t, RAM_BASE, RAM_SIZE, true);
	dev = dmap_test_dev(&t, "nvme0", 0);
}

static struct dmap_hosted_counters counters(void)
{
	struct dmap_hosted_counters c;

	cr_assert_eq(dmap_hosted_get_counters(t.hosted, &c), 0);
	return c;
}

TestSuite(identity_cache, .init = setup_noncoherent, .fini = teardown);

/*
 * Regression (fuzzer id identity-nonram-unmap-efault): on a non-coherent
 * system a range without RAM used to map (the failed cache clean was
 * ignored) and then fail unmap and sync with -EFAULT. It now fails at map
 * time, whatever the direction, SKIP_CPU_SYNC or not, with a message naming
 * device, address and size.
 */
Test(identity_cache, nonram_fails_at_map)
{
	static const enum dmap_dir dirs[] = { DMAP_TO_DEVICE, DMAP_FROM_DEVICE,
					      DMAP_BIDIRECTIONAL };

	make_identity(0, NULL, false);
	for (size_t i = 0; i < DMAP_ARRAY_SIZE(dirs); i++) {
		for (int skip = 0; skip < 2; skip++) {
			unsigned long attrs = skip ? DMAP_ATTR_SKIP_CPU_SYNC : 0;

			dmap_test_log_clear(&t);
			cr_assert_eq(dmap_map_phys(dev, NONRAM, 0x200, dirs[i], attrs),
				     DMAP_MAPPING_ERROR, "dir %d skip %d", (int)dirs[i], skip);
			cr_assert(dmap_test_log_has(&t, "nvme0", "no RAM behind phys 0x10000000",
						    "size 0x200", NULL),
				  "dir %d skip %d", (int)dirs[i], skip);
		}
	}
	/* Partly RAM is not RAM: the range straddles the start of the test RAM. */
	cr_assert_eq(dmap_map_phys(dev, RAM_BASE - 0x100, 0x200, DMAP_TO_DEVICE, 0),
		     DMAP_MAPPING_ERROR);
	cr_assert_eq(dmap_map_phys(dev, RAM_BASE + RAM_SIZE - 0x100, 0x200, DMAP_FROM_DEVICE, 0),
		     DMAP_MAPPING_ERROR);
	/* NO_WARN silences it. */
	dmap_test_log_clear(&t);
	cr_assert_eq(dmap_map_phys(dev, NONRAM, 16, DMAP_TO_DEVICE, DMAP_ATTR_NO_WARN),
		     DMAP_MAPPING_ERROR);
	cr_assert_not(dmap_test_log_has(&t, "no RAM", NULL));
	cr_assert_eq(stats(id).map_errors, 9);
}

/* Device memory (DMAP_ATTR_MMIO): no cache maintenance, maps, and unmap/sync succeed. */
Test(identity_cache, mmio_maps_and_unmaps_without_cache_maintenance)
{
	struct dmap_hosted_counters before, after;
	dmap_addr_t b;

	make_identity(0, NULL, false);
	before = counters();
	b = dmap_map_phys(dev, NONRAM, 0x1000, DMAP_BIDIRECTIONAL, DMAP_ATTR_MMIO);
	cr_assert_eq(b, NONRAM);
	cr_assert_eq(dmap_sync_single_for_cpu(dev, b, 0x1000, DMAP_BIDIRECTIONAL), 0);
	cr_assert_eq(dmap_sync_single_for_device(dev, b + 0x10, 0x20, DMAP_BIDIRECTIONAL), 0);
	/* Unmapped with the attribute, or without it (dma_unmap_resource has none). */
	cr_assert_eq(dmap_unmap_phys(dev, b, 0x1000, DMAP_BIDIRECTIONAL, DMAP_ATTR_MMIO), 0);
	b = dmap_map_phys(dev, NONRAM, 0x1000, DMAP_FROM_DEVICE, DMAP_ATTR_MMIO);
	cr_assert_eq(b, NONRAM);
	cr_assert_eq(dmap_unmap_phys(dev, b, 0x1000, DMAP_FROM_DEVICE, 0), 0);
	/* Device memory next to RAM: maintenance of the RAM part is harmless. */
	b = dmap_map_phys(dev, RAM_BASE - 0x100, 0x200, DMAP_TO_DEVICE, DMAP_ATTR_MMIO);
	cr_assert_eq(b, RAM_BASE - 0x100);
	cr_assert_eq(dmap_unmap_phys(dev, b, 0x200, DMAP_TO_DEVICE, 0), 0);
	after = counters();
	cr_assert_eq(after.cache_cleans, before.cache_cleans, "MMIO mapping cleaned a cache");
	cr_assert_eq(after.cache_invalidates, before.cache_invalidates);
	cr_assert_eq(t.warnings, 0, "%s", t.lines[0]);
}

/* RAM on a non-coherent system: clean at map, invalidate at unmap, per direction. */
Test(identity_cache, ram_is_cleaned_and_invalidated)
{
	struct dmap_hosted_counters c0, c1, c2;
	dmap_addr_t b;

	make_identity(0, NULL, false);
	c0 = counters();
	b = dmap_map_phys(dev, RAM_BASE + 0x1000, 0x800, DMAP_TO_DEVICE, 0);
	cr_assert_eq(b, RAM_BASE + 0x1000);
	c1 = counters();
	cr_assert_gt(c1.cache_cleans, c0.cache_cleans);
	cr_assert_eq(dmap_unmap_phys(dev, b, 0x800, DMAP_TO_DEVICE, 0), 0);
	cr_assert_eq(counters().cache_invalidates, c1.cache_invalidates);
	b = dmap_map_phys(dev, RAM_BASE + 0x1000, 0x800, DMAP_FROM_DEVICE, 0);
	cr_assert_eq(b, RAM_BASE + 0x1000);
	c2 = counters();
	cr_assert_eq(c2.cache_cleans, c1.cache_cleans);
	cr_assert_eq(dmap_sync_single_for_cpu(dev, b, 0x800, DMAP_FROM_DEVICE), 0);
	cr_assert_eq(dmap_unmap_phys(dev, b, 0x800, DMAP_FROM_DEVICE, 0), 0);
	cr_assert_eq(counters().cache_invalidates, c2.cache_invalidates + 2);
	/* SKIP_CPU_SYNC: checked for RAM, not cleaned. */
	b = dmap_map_phys(dev, RAM_BASE, 0x100, DMAP_TO_DEVICE, DMAP_ATTR_SKIP_CPU_SYNC);
	cr_assert_eq(b, RAM_BASE);
	cr_assert_eq(counters().cache_cleans, c2.cache_cleans);
	cr_assert_eq(dmap_unmap_phys(dev, b, 0x100, DMAP_TO_DEVICE, 0), 0);
}

/*
 * Regression (fuzzer id nonram-sg-unmap-efault): the sg path follows the
 * same rule. A list with an entry without RAM fails and leaves nothing
 * mapped (the debug layer tracks every mapping); an MMIO list maps, syncs
 * and unmaps.
 */
Test(identity_cache, sg_follows_the_same_rule)
{
	struct dmap_sg sg[3] = {
		{ .phys = RAM_BASE, .len = 0x1000 },
		{ .phys = RAM_BASE + 0x1000, .len = 0x1000 },
		{ .phys = NONRAM, .len = 0x1000 },
	};
	struct dmap_debug_counts dc;
	int n;

	make_identity(0, NULL, false);
	/* The debug layer can only be switched while nothing is attached. */
	cr_assert_eq(dmap_dev_detach(dev), 0);
	cr_assert_eq(dmap_domain_set_debug(id, true), 0);
	cr_assert_eq(dmap_dev_attach(dev, id), 0);
	dmap_test_log_clear(&t);
	cr_assert_lt(dmap_map_sg(dev, sg, 3, DMAP_TO_DEVICE, 0), 0);
	cr_assert(dmap_test_log_has(&t, "nvme0", "no RAM behind phys 0x10000000", NULL));
	cr_assert_eq(dmap_debug_get_counts(id, &dc), 0);
	cr_assert_eq(dc.live_mappings, 0, "a failed map_sg left %llu mappings",
		     (unsigned long long)dc.live_mappings);
	/* Same with SKIP_CPU_SYNC and with the bad entry first. */
	sg[0].phys = NONRAM + 0x4000;
	cr_assert_lt(dmap_map_sg(dev, sg, 3, DMAP_FROM_DEVICE, DMAP_ATTR_SKIP_CPU_SYNC), 0);
	cr_assert_eq(dmap_debug_get_counts(id, &dc), 0);
	cr_assert_eq(dc.live_mappings, 0);
	/* All device memory, as MMIO: maps, syncs, unmaps. */
	sg[0].phys = NONRAM;
	sg[1].phys = NONRAM + 0x1000;
	sg[2].phys = NONRAM + 0x2000;
	n = dmap_map_sg(dev, sg, 3, DMAP_BIDIRECTIONAL, DMAP_ATTR_MMIO);
	cr_assert_eq(n, 1, "three contiguous entries merge: %d", n);
	cr_assert_eq(dmap_sync_sg_for_cpu(dev, sg, 3, DMAP_BIDIRECTIONAL), 0);
	cr_assert_eq(dmap_sync_sg_for_device(dev, sg, 3, DMAP_BIDIRECTIONAL), 0);
	cr_assert_eq(dmap_unmap_sg(dev, sg, 3, DMAP_BIDIRECTIONAL, 0), 0);
	cr_assert_eq(dmap_debug_get_counts(id, &dc), 0);
	cr_assert_eq(dc.live_mappings, 0);
	/* RAM lists still work. */
	sg[0].phys = RAM_BASE;
	sg[1].phys = RAM_BASE + 0x1000;
	sg[2].phys = RAM_BASE + 0x3000;
	n = dmap_map_sg(dev, sg, 3, DMAP_BIDIRECTIONAL, 0);
	cr_assert_eq(n, 2);
	cr_assert_eq(dmap_sync_sg_for_cpu(dev, sg, 3, DMAP_BIDIRECTIONAL), 0);
	cr_assert_eq(dmap_unmap_sg(dev, sg, 3, DMAP_BIDIRECTIONAL, 0), 0);
	cr_assert_eq(dmap_debug_get_counts(id, &dc), 0);
	cr_assert_eq(dc.live_mappings, 0);
	cr_assert_eq(dc.reports[DMAP_DEBUG_UNMAP_UNKNOWN], 0);
}

/* A coherent device on a non-coherent system needs no maintenance: maps without looking. */
Test(identity_cache, coherent_device_maps_nonram)
{
	struct dmap_dev_info info = { .name = "gpu0", .flags = DMAP_DEV_COHERENT };
	struct dmap_dev *cdev;
	dmap_addr_t b;

	make_identity(0, NULL, false);
	cr_assert_eq(dmap_dev_create(t.ctx, &info, &cdev), 0);
	cr_assert_eq(dmap_dev_attach(cdev, id), 0);
	b = dmap_map_phys(cdev, NONRAM, 0x1000, DMAP_BIDIRECTIONAL, 0);
	cr_assert_eq(b, NONRAM);
	cr_assert_eq(dmap_sync_single_for_cpu(cdev, b, 0x1000, DMAP_BIDIRECTIONAL), 0);
	cr_assert_eq(dmap_unmap_phys(cdev, b, 0x1000, DMAP_BIDIRECTIONAL, 0), 0);
	dmap_dev_destroy(cdev);
}

/* A coherent system: identity maps without looking at RAM, and unmap/sync succeed. */
Test(identity, coherent_system_maps_nonram_and_unmaps)
{
	struct dmap_sg sg[2] = { { .phys = NONRAM, .len = 0x800 },
				 { .phys = NONRAM + 0x800, .len = 0x800 } };
	dmap_addr_t b;

	make_identity(0, NULL, false);
	b = dmap_map_phys(dev, NONRAM, 0x1000, DMAP_BIDIRECTIONAL, 0);
	cr_assert_eq(b, NONRAM);
	cr_assert_eq(dmap_sync_single_for_cpu(dev, b, 0x1000, DMAP_BIDIRECTIONAL), 0);
	cr_assert_eq(dmap_sync_single_for_device(dev, b, 0x1000, DMAP_BIDIRECTIONAL), 0);
	cr_assert_eq(dmap_unmap_phys(dev, b, 0x1000, DMAP_BIDIRECTIONAL, 0), 0);
	cr_assert_eq(dmap_map_sg(dev, sg, 2, DMAP_FROM_DEVICE, 0), 1);
	cr_assert_eq(dmap_sync_sg_for_cpu(dev, sg, 2, DMAP_FROM_DEVICE), 0);
	cr_assert_eq(dmap_unmap_sg(dev, sg, 2, DMAP_FROM_DEVICE, 0), 0);
}
