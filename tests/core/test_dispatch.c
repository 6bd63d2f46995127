// SPDX-License-Identifier: MIT
/*
 * tests/core/test_dispatch.c - the driver-side entry points: argument
 * validation (each error path, with its message and counter), map_single,
 * mapping_error, sync sub-ranges, statistics, coherent allocation and the
 * queries, through the identity backend and the scriptable test backend.
 */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <dmap/dmap.h>
#include <dmap/identity.h>
#include <dmap/ops.h>
#include <dmap/hosted.h>

#include "test_env.h"
#include "test_backend.h"

#define RAM_BASE 0x40000000ULL
#define RAM_SIZE (1u << 20)

static struct dmap_test_env t;
static struct dmap_domain *id;
static struct dmap_dev *dev;

static void setup(void)
{
	dmap_test_env_init(&t, RAM_BASE, RAM_SIZE, false);
	cr_assert_eq(dmap_identity_domain_create(t.ctx, NULL, &id), 0);
	dev = dmap_test_dev(&t, "nic0", 0);
	cr_assert_eq(dmap_dev_attach(dev, id), 0);
}

static void teardown(void)
{
	dmap_dev_destroy(dev);
	dmap_domain_destroy(id);
	dmap_test_env_fini(&t);
}

static struct dmap_domain_stats stats(struct dmap_domain *dom)
{
	struct dmap_domain_stats s;

	cr_assert_eq(dmap_domain_get_stats(dom, &s), 0);
	return s;
}

TestSuite(dispatch, .init = setup, .fini = teardown);

Test(dispatch, map_unmap_identity)
{
	dmap_addr_t a = dmap_map_phys(dev, RAM_BASE + 0x1000, 4096, DMAP_TO_DEVICE, 0);

	cr_assert_eq(a, RAM_BASE + 0x1000);
	cr_assert_eq(dmap_mapping_error(dev, a), 0);
	cr_assert_eq(dmap_unmap_phys(dev, a, 4096, DMAP_TO_DEVICE, 0), 0);
	cr_assert_eq(t.warnings, 0);
}

Test(dispatch, map_null_device)
{
	cr_assert_eq(dmap_map_phys(NULL, RAM_BASE, 1, DMAP_TO_DEVICE, 0), DMAP_MAPPING_ERROR);
	cr_assert_eq(dmap_unmap_phys(NULL, RAM_BASE, 1, DMAP_TO_DEVICE, 0), -DMAP_EINVAL);
	cr_assert_eq(dmap_map_single(NULL, t.ram, 1, DMAP_TO_DEVICE, 0), DMAP_MAPPING_ERROR);
	cr_assert_eq(dmap_unmap_single(NULL, RAM_BASE, 1, DMAP_TO_DEVICE, 0), -DMAP_EINVAL);
	cr_assert_eq(dmap_sync_single_for_cpu(NULL, RAM_BASE, 1, DMAP_FROM_DEVICE), -DMAP_EINVAL);
	cr_assert_eq(dmap_sync_single_for_device(NULL, RAM_BASE, 1, DMAP_TO_DEVICE), -DMAP_EINVAL);
	cr_assert_eq(dmap_max_mapping_size(NULL), 0);
	cr_assert_not(dmap_addressing_limited(NULL));
	cr_assert_eq(dmap_mapping_error(NULL, DMAP_MAPPING_ERROR), -DMAP_ENOMEM);
	cr_assert_eq(dmap_mapping_error(NULL, 0), 0);
}

Test(dispatch, map_size_zero)
{
	dmap_test_log_clear(&t);
	cr_assert_eq(dmap_map_phys(dev, RAM_BASE, 0, DMAP_TO_DEVICE, 0), DMAP_MAPPING_ERROR);
	cr_assert(dmap_test_log_has(&t, "nic0", "size 0", "0x40000000", NULL));
	cr_assert_eq(stats(id).invalid_args, 1);
	cr_assert_eq(dmap_unmap_phys(dev, RAM_BASE, 0, DMAP_TO_DEVICE, 0), -DMAP_EINVAL);
	cr_assert_eq(dmap_sync_single_for_cpu(dev, RAM_BASE, 0, DMAP_FROM_DEVICE), -DMAP_EINVAL);
	cr_assert_eq(dmap_map_single(dev, t.ram, 0, DMAP_TO_DEVICE, 0), DMAP_MAPPING_ERROR);
	cr_assert_eq(stats(id).invalid_args, 4);
}

Test(dispatch, map_wraps)
{
	dmap_test_log_clear(&t);
	cr_assert_eq(dmap_map_phys(dev, ~0ULL - 0xff, 0x200, DMAP_TO_DEVICE, 0),
		     DMAP_MAPPING_ERROR);
	cr_assert(dmap_test_log_has(&t, "nic0", "wraps", "0xffffffffffffff00", "0x200", NULL));
	/* The very last byte of the space alone does not wrap: it reaches the backend. */
	dmap_test_log_clear(&t);
	cr_assert_eq(dmap_map_phys(dev, ~0ULL, 1, DMAP_TO_DEVICE, DMAP_ATTR_NO_WARN),
		     DMAP_MAPPING_ERROR);
	cr_assert_not(dmap_test_log_has(&t, "wraps", NULL));
	cr_assert_eq(dmap_unmap_phys(dev, ~0ULL - 1, 3, DMAP_TO_DEVICE, 0), -DMAP_EINVAL);
	cr_assert_eq(dmap_sync_single_for_device(dev, ~0ULL - 1, 3, DMAP_TO_DEVICE), -DMAP_EINVAL);
	struct dmap_domain_stats s = stats(id);
	cr_assert_eq(s.invalid_args, 3);
	cr_assert_eq(s.map_errors, 1, "the unreachable last byte is a map error");
}

Test(dispatch, bad_direction)
{
	static const int dirs[] = { DMAP_NONE, 4, -1, 1000 };

	for (size_t i = 0; i < DMAP_ARRAY_SIZE(dirs); i++) {
		dmap_test_log_clear(&t);
		cr_assert_eq(dmap_map_phys(dev, RAM_BASE, 64, (enum dmap_dir)dirs[i], 0),
			     DMAP_MAPPING_ERROR);
		cr_assert(dmap_test_log_has(&t, "nic0", "direction", NULL), "dir %d", dirs[i]);
		cr_assert_eq(dmap_unmap_phys(dev, RAM_BASE, 64, (enum dmap_dir)dirs[i], 0),
			     -DMAP_EINVAL);
		cr_assert_eq(dmap_sync_single_for_cpu(dev, RAM_BASE, 64, (enum dmap_dir)dirs[i]),
			     -DMAP_EINVAL);
		cr_assert_eq(dmap_sync_single_for_device(dev, RAM_BASE, 64, (enum dmap_dir)dirs[i]),
			     -DMAP_EINVAL);
	}
	cr_assert_eq(stats(id).invalid_args, 16);
}

Test(dispatch, unknown_attrs)
{
	static const unsigned long bad[] = { 1UL << 0, 1UL << 3, 1UL << 11, 1UL << 40 };

	for (size_t i = 0; i < DMAP_ARRAY_SIZE(bad); i++) {
		char hex[32];

		snprintf(hex, sizeof(hex), "0x%lx", bad[i]);
		dmap_test_log_clear(&t);
		cr_assert_eq(dmap_map_phys(dev, RAM_BASE, 64, DMAP_TO_DEVICE,
					   bad[i] | DMAP_ATTR_SKIP_CPU_SYNC),
			     DMAP_MAPPING_ERROR);
		cr_assert(dmap_test_log_has(&t, "nic0", "attribute", hex, NULL), "%s", hex);
		cr_assert_eq(dmap_unmap_phys(dev, RAM_BASE, 64, DMAP_TO_DEVICE, bad[i]),
			     -DMAP_EINVAL);
	}
	/* every known bit is accepted */
	dmap_addr_t a = dmap_map_phys(dev, RAM_BASE, 64, DMAP_TO_DEVICE, DMAP_ATTR_ALL);
	cr_assert_eq(a, RAM_BASE);
	cr_assert_eq(dmap_unmap_phys(dev, a, 64, DMAP_TO_DEVICE, DMAP_ATTR_ALL), 0);
}

Test(dispatch, after_detach)
{
	cr_assert_eq(dmap_dev_detach(dev), 0);
	dmap_test_log_clear(&t);
	cr_assert_eq(dmap_map_phys(dev, RAM_BASE, 64, DMAP_TO_DEVICE, 0), DMAP_MAPPING_ERROR);
	cr_assert(dmap_test_log_has(&t, "nic0", "not attached", "0x40000000", NULL));
	cr_assert_eq(dmap_unmap_phys(dev, RAM_BASE, 64, DMAP_TO_DEVICE, 0), -DMAP_ENODEV);
	cr_assert_eq(dmap_sync_single_for_cpu(dev, RAM_BASE, 64, DMAP_FROM_DEVICE), -DMAP_ENODEV);
	cr_assert_eq(dmap_sync_single_for_device(dev, RAM_BASE, 64, DMAP_TO_DEVICE), -DMAP_ENODEV);
	cr_assert_eq(dmap_map_single(dev, t.ram, 64, DMAP_TO_DEVICE, 0), DMAP_MAPPING_ERROR);
	dmap_addr_t h = 0;
	cr_assert_null(dmap_alloc_coherent(dev, 4096, &h, 0));
	cr_assert_eq(h, DMAP_MAPPING_ERROR);
	cr_assert_eq(dmap_free_coherent(dev, 4096, t.ram, RAM_BASE, 0), -DMAP_ENODEV);
	cr_assert_eq(dmap_max_mapping_size(dev), 0);
	cr_assert_not(dmap_addressing_limited(dev));
	struct dmap_sg sg = { .phys = RAM_BASE, .len = 64 };
	cr_assert_eq(dmap_map_sg(dev, &sg, 1, DMAP_TO_DEVICE, 0), -DMAP_ENODEV);
	cr_assert_eq(dmap_unmap_sg(dev, &sg, 1, DMAP_TO_DEVICE, 0), -DMAP_ENODEV);
	cr_assert_eq(dmap_sync_sg_for_cpu(dev, &sg, 1, DMAP_TO_DEVICE), -DMAP_ENODEV);
	cr_assert_eq(dmap_sync_sg_for_device(dev, &sg, 1, DMAP_TO_DEVICE), -DMAP_ENODEV);
	char buf[4];
	struct dmap_translation tr;
	cr_assert_eq(dmap_dev_read(dev, RAM_BASE, buf, 4), -DMAP_ENODEV);
	cr_assert_eq(dmap_dev_write(dev, RAM_BASE, buf, 4), -DMAP_ENODEV);
	cr_assert_eq(dmap_translate(dev, RAM_BASE, DMAP_ACCESS_READ, &tr), -DMAP_ENODEV);
	/* re-attach works again */
	cr_assert_eq(dmap_dev_attach(dev, id), 0);
	cr_assert_eq(dmap_map_phys(dev, RAM_BASE, 64, DMAP_TO_DEVICE, 0), RAM_BASE);
}

Test(dispatch, unmap_mapping_error_address)
{
	dmap_test_log_clear(&t);
	cr_assert_eq(dmap_unmap_phys(dev, DMAP_MAPPING_ERROR, 1, DMAP_TO_DEVICE, 0), -DMAP_EINVAL);
	cr_assert(dmap_test_log_has(&t, "nic0", "DMAP_MAPPING_ERROR", NULL));
}

Test(dispatch, unmap_unknown_address)
{
	/* Above the 32-bit mask: identity could never have handed it out. */
	dmap_test_log_clear(&t);
	cr_assert_eq(dmap_unmap_phys(dev, 0x100000000ULL, 64, DMAP_TO_DEVICE, 0), -DMAP_ENOENT);
	cr_assert(dmap_test_log_has(&t, "nic0", "0x100000000", NULL));
	cr_assert_eq(dmap_sync_single_for_cpu(dev, 0x100000000ULL, 64, DMAP_FROM_DEVICE),
		     -DMAP_ENOENT);
}

Test(dispatch, map_single)
{
	char *p = (char *)t.ram + 0x2345;
	dmap_addr_t a = dmap_map_single(dev, p, 100, DMAP_BIDIRECTIONAL, 0);
	int on_stack;

	cr_assert_eq(a, RAM_BASE + 0x2345);
	cr_assert_eq(dmap_unmap_single(dev, a, 100, DMAP_BIDIRECTIONAL, 0), 0);

	dmap_test_log_clear(&t);
	cr_assert_eq(dmap_map_single(dev, NULL, 100, DMAP_TO_DEVICE, 0), DMAP_MAPPING_ERROR);
	cr_assert(dmap_test_log_has(&t, "nic0", "NULL", NULL));
	dmap_test_log_clear(&t);
	cr_assert_eq(dmap_map_single(dev, &on_stack, sizeof(on_stack), DMAP_TO_DEVICE, 0),
		     DMAP_MAPPING_ERROR);
	cr_assert(dmap_test_log_has(&t, "nic0", "not DMA-able", NULL));
	/* Runs off the end of the RAM region: not contiguous for the whole size. */
	dmap_test_log_clear(&t);
	cr_assert_eq(dmap_map_single(dev, (char *)t.ram + RAM_SIZE - 16, 32, DMAP_TO_DEVICE, 0),
		     DMAP_MAPPING_ERROR);
	cr_assert(dmap_test_log_has(&t, "nic0", "contiguous", NULL));
	cr_assert_eq(stats(id).map_errors, 2);
	/* NO_WARN silences it */
	dmap_test_log_clear(&t);
	cr_assert_eq(dmap_map_single(dev, &on_stack, 4, DMAP_TO_DEVICE, DMAP_ATTR_NO_WARN),
		     DMAP_MAPPING_ERROR);
	cr_assert_eq(t.messages, 0);
}

Test(dispatch, mapping_error)
{
	cr_assert_eq(dmap_mapping_error(dev, DMAP_MAPPING_ERROR), -DMAP_ENOMEM);
	cr_assert_eq(dmap_mapping_error(dev, 0), 0);
	cr_assert_eq(dmap_mapping_error(dev, RAM_BASE), 0);
}

Test(dispatch, counting)
{
	struct dmap_domain_stats s;
	dmap_addr_t a;

	/* off: no per-mapping counts */
	a = dmap_map_phys(dev, RAM_BASE, 100, DMAP_TO_DEVICE, 0);
	dmap_unmap_phys(dev, a, 100, DMAP_TO_DEVICE, 0);
	dmap_sync_single_for_device(dev, a, 100, DMAP_TO_DEVICE);
	s = stats(id);
	cr_assert_eq(s.maps + s.unmaps + s.bytes_mapped + s.syncs, 0);

	cr_assert_eq(dmap_domain_set_counting(id, true), 0);
	for (int i = 0; i < 5; i++) {
		a = dmap_map_phys(dev, RAM_BASE + i * 4096, 1000 + i, DMAP_FROM_DEVICE, 0);
		dmap_sync_single_for_cpu(dev, a, 10, DMAP_FROM_DEVICE);
		dmap_sync_single_for_device(dev, a, 10, DMAP_FROM_DEVICE);
		dmap_unmap_phys(dev, a, 1000 + i, DMAP_FROM_DEVICE, 0);
	}
	/* failures are not maps */
	dmap_map_phys(dev, 0x200000000ULL, 10, DMAP_FROM_DEVICE, DMAP_ATTR_NO_WARN);
	dmap_map_phys(dev, RAM_BASE, 0, DMAP_FROM_DEVICE, 0);
	s = stats(id);
	cr_assert_eq(s.maps, 5);
	cr_assert_eq(s.unmaps, 5);
	cr_assert_eq(s.bytes_mapped, 5 * 1000 + 0 + 1 + 2 + 3 + 4);
	cr_assert_eq(s.syncs, 10);
	cr_assert_eq(s.map_errors, 1);
	cr_assert_eq(s.invalid_args, 1);
	cr_assert_eq(s.fallback_maps, 0);
	cr_assert_eq(dmap_domain_set_counting(id, false), 0);
	a = dmap_map_phys(dev, RAM_BASE, 100, DMAP_TO_DEVICE, 0);
	cr_assert_eq(stats(id).maps, 5);
}

/* Sync passes sub-ranges through untouched and in the right direction. */
Test(dispatch, sync_subranges_reach_backend)
{
	struct tb *tb = tb_create(t.ctx, "rec", false);
	struct dmap_dev *d2 = dmap_test_dev(&t, "rec0", 0);
	dmap_addr_t a;

	cr_assert_eq(dmap_dev_attach(d2, &tb->dom), 0);
	a = dmap_map_phys(d2, RAM_BASE, 8192, DMAP_BIDIRECTIONAL, 0);
	cr_assert_neq(a, DMAP_MAPPING_ERROR);
	cr_assert_eq(dmap_sync_single_for_cpu(d2, a + 100, 200, DMAP_BIDIRECTIONAL), 0);
	cr_assert_eq(dmap_sync_single_for_device(d2, a + 4096, 4096, DMAP_BIDIRECTIONAL), 0);
	cr_assert_eq(tb->nsyncs, 2);
	cr_assert_eq(tb->syncs[0].addr, a + 100);
	cr_assert_eq(tb->syncs[0].len, 200);
	cr_assert(tb->syncs[0].for_cpu);
	cr_assert_eq(tb->syncs[1].addr, a + 4096);
	cr_assert_eq(tb->syncs[1].len, 4096);
	cr_assert_not(tb->syncs[1].for_cpu);
	/* the backend's error comes back */
	cr_assert_eq(dmap_sync_single_for_cpu(d2, 0x7000000000ULL, 1, DMAP_BIDIRECTIONAL),
		     -DMAP_ENOENT);
	cr_assert_eq(dmap_unmap_phys(d2, a, 8192, DMAP_BIDIRECTIONAL, 0), 0);
	cr_assert_eq(dmap_unmap_phys(d2, a, 8192, DMAP_BIDIRECTIONAL, 0), -DMAP_ENOENT);
	dmap_dev_destroy(d2);
	dmap_domain_destroy(&tb->dom);
}

/* Backend errors from map are counted and DMAP_MAPPING_ERROR comes back. */
Test(dispatch, backend_failure_counted)
{
	struct tb *tb = tb_create(t.ctx, "flaky", false);
	struct dmap_dev *d2 = dmap_test_dev(&t, "flaky0", 0);

	tb->fail_at = 2;
	dmap_dev_attach(d2, &tb->dom);
	cr_assert_neq(dmap_map_phys(d2, RAM_BASE, 64, DMAP_TO_DEVICE, 0), DMAP_MAPPING_ERROR);
	cr_assert_eq(dmap_map_phys(d2, RAM_BASE, 64, DMAP_TO_DEVICE, 0), DMAP_MAPPING_ERROR);
	cr_assert_eq(stats(&tb->dom).map_errors, 1);
	dmap_dev_destroy(d2);
	dmap_domain_destroy(&tb->dom);
}

/* Non-coherent device on a non-coherent system: identity cleans and invalidates. */
Test(dispatch, cache_maintenance_non_coherent)
{
	struct dmap_test_env nc;
	struct dmap_domain *dom;
	struct dmap_dev *d;
	struct dmap_hosted_counters c0, c1;
	struct dmap_dev_info info = { .name = "dma-nc" };
	dmap_addr_t a;

	dmap_test_env_init(&nc, RAM_BASE, RAM_SIZE, true);
	cr_assert_eq(dmap_identity_domain_create(nc.ctx, NULL, &dom), 0);
	cr_assert_eq(dmap_dev_create(nc.ctx, &info, &d), 0);
	cr_assert_eq(dmap_dev_attach(d, dom), 0);
	dmap_hosted_get_counters(nc.hosted, &c0);
	a = dmap_map_phys(d, RAM_BASE, 4096, DMAP_TO_DEVICE, 0); /* clean */
	dmap_sync_single_for_cpu(d, a, 4096, DMAP_TO_DEVICE); /* nothing */
	dmap_unmap_phys(d, a, 4096, DMAP_TO_DEVICE, 0); /* nothing */
	dmap_hosted_get_counters(nc.hosted, &c1);
	cr_assert_eq(c1.cache_cleans - c0.cache_cleans, 1);
	cr_assert_eq(c1.cache_invalidates - c0.cache_invalidates, 0);
	a = dmap_map_phys(d, RAM_BASE, 4096, DMAP_FROM_DEVICE, 0); /* nothing */
	dmap_sync_single_for_cpu(d, a, 4096, DMAP_FROM_DEVICE); /* invalidate */
	dmap_unmap_phys(d, a, 4096, DMAP_FROM_DEVICE, 0); /* invalidate */
	dmap_unmap_phys(d, a, 4096, DMAP_FROM_DEVICE, DMAP_ATTR_SKIP_CPU_SYNC); /* nothing */
	dmap_hosted_get_counters(nc.hosted, &c0);
	cr_assert_eq(c0.cache_cleans - c1.cache_cleans, 0);
	cr_assert_eq(c0.cache_invalidates - c1.cache_invalidates, 2);
	/* a coherent device needs none */
	dmap_set_mask(d, DMAP_BIT_MASK(32));
	dmap_dev_detach(d);
	dmap_dev_destroy(d);
	info.flags = DMAP_DEV_COHERENT;
	cr_assert_eq(dmap_dev_create(nc.ctx, &info, &d), 0);
	dmap_dev_attach(d, dom);
	a = dmap_map_phys(d, RAM_BASE, 4096, DMAP_BIDIRECTIONAL, 0);
	dmap_sync_single_for_cpu(d, a, 4096, DMAP_BIDIRECTIONAL);
	dmap_unmap_phys(d, a, 4096, DMAP_BIDIRECTIONAL, 0);
	dmap_hosted_get_counters(nc.hosted, &c1);
	cr_assert_eq(c1.cache_cleans, c0.cache_cleans);
	cr_assert_eq(c1.cache_invalidates, c0.cache_invalidates);
	dmap_dev_destroy(d);
	dmap_domain_destroy(dom);
	dmap_test_env_fini(&nc);
}

/* A backend without sync hooks gets cache maintenance through its translate. */
static struct tb *nosync;
static const struct dmap_ops *orig_ops;
static struct dmap_ops nosync_ops;

Test(dispatch, sync_without_hooks_uses_translate)
{
	struct dmap_test_env nc;
	struct dmap_dev *d;
	struct dmap_hosted_counters c0, c1;
	dmap_addr_t a;

	dmap_test_env_init(&nc, RAM_BASE, RAM_SIZE, true);
	nosync = tb_create(nc.ctx, "nosync", false);
	orig_ops = nosync->dom.backend_ops;
	nosync_ops = *orig_ops;
	nosync_ops.sync_for_cpu = NULL;
	nosync_ops.sync_for_device = NULL;
	nosync->dom.ops = nosync->dom.backend_ops = &nosync_ops;
	d = dmap_test_dev(&nc, "ns0", 0);
	dmap_dev_attach(d, &nosync->dom);
	a = dmap_map_phys(d, RAM_BASE + 0x3000, 0x2000, DMAP_BIDIRECTIONAL, 0);
	dmap_hosted_get_counters(nc.hosted, &c0);
	cr_assert_eq(dmap_sync_single_for_cpu(d, a + 0x100, 0x100, DMAP_BIDIRECTIONAL), 0);
	cr_assert_eq(dmap_sync_single_for_device(d, a, 0x2000, DMAP_BIDIRECTIONAL), 0);
	cr_assert_eq(dmap_sync_single_for_device(d, a, 0x2000, DMAP_FROM_DEVICE), 0);
	dmap_hosted_get_counters(nc.hosted, &c1);
	cr_assert_eq(c1.cache_invalidates - c0.cache_invalidates, 1);
	cr_assert_eq(c1.cache_cleans - c0.cache_cleans, 1);
	cr_assert(nosync->translate_calls >= 2);
	/* an address it does not translate */
	cr_assert_eq(dmap_sync_single_for_device(d, 0x9000000, 16, DMAP_TO_DEVICE), -DMAP_EFAULT);
	dmap_dev_destroy(d);
	dmap_domain_destroy(&nosync->dom);
	dmap_test_env_fini(&nc);
}

Test(dispatch, coherent_alloc_and_free)
{
	dmap_addr_t h = 0;
	void *p = dmap_alloc_coherent(dev, 8192, &h, 0);
	struct dmap_dev_info info;

	cr_assert_not_null(p);
	cr_assert_neq(h, DMAP_MAPPING_ERROR);
	dmap_dev_get_info(dev, &info);
	cr_assert_leq(h + 8192 - 1, info.coherent_dma_mask);
	cr_assert_eq(p, dmap_test_ram(&t, h), "handle is the physical address (offset 0)");
	cr_assert_eq(((char *)p)[0], 0, "zeroed");
	cr_assert_eq(stats(id).coherent_allocs, 1);
	/* wrong arguments */
	cr_assert_eq(dmap_free_coherent(dev, 8192, NULL, h, 0), -DMAP_EINVAL);
	cr_assert_eq(dmap_free_coherent(dev, 8192, p, DMAP_MAPPING_ERROR, 0), -DMAP_EINVAL);
	cr_assert_eq(dmap_free_coherent(dev, 0, p, h, 0), -DMAP_EINVAL);
	cr_assert_eq(dmap_free_coherent(dev, 8192, p, h + 4096, 0), -DMAP_EINVAL);
	cr_assert_eq(dmap_free_coherent(NULL, 8192, p, h, 0), -DMAP_EINVAL);
	cr_assert_eq(dmap_free_coherent(dev, 8192, p, h, 0), 0);

	cr_assert_null(dmap_alloc_coherent(dev, 0, &h, 0));
	cr_assert_eq(h, DMAP_MAPPING_ERROR);
	cr_assert_null(dmap_alloc_coherent(dev, 4096, NULL, 0));
	cr_assert_null(dmap_alloc_coherent(NULL, 4096, &h, 0));
	cr_assert_null(dmap_alloc_coherent(dev, 4096, &h, 1UL << 30));
}

Test(dispatch, coherent_below_mask)
{
	dmap_addr_t h;
	void *p;

	/* RAM is at 1 GiB: a 30-bit coherent mask reaches none of it. */
	cr_assert_eq(dmap_set_coherent_mask(dev, DMAP_BIT_MASK(30)), 0);
	dmap_test_log_clear(&t);
	p = dmap_alloc_coherent(dev, 4096, &h, 0);
	cr_assert_null(p);
	cr_assert_eq(h, DMAP_MAPPING_ERROR);
	cr_assert(dmap_test_log_has(&t, "nic0", "coherent", "0x3fffffff", NULL));
	cr_assert_eq(stats(id).map_errors, 1);
	/* one page above the region start: the allocation must sit in the first page */
	cr_assert_eq(dmap_set_coherent_mask(dev, RAM_BASE + 4095), 0);
	p = dmap_alloc_coherent(dev, 4096, &h, 0);
	cr_assert_not_null(p);
	cr_assert_eq(h, RAM_BASE);
	cr_assert_eq(dmap_free_coherent(dev, 4096, p, h, 0), 0);
}

Test(dispatch, queries_identity_without_fallback)
{
	cr_assert_eq(dmap_max_mapping_size(dev), SIZE_MAX);
	/* the hosted env's RAM ends below 4 GiB: a 32-bit device reaches it all */
	cr_assert_not(dmap_addressing_limited(dev));
	cr_assert_eq(dmap_set_mask(dev, DMAP_BIT_MASK(24)), 0);
	cr_assert(dmap_addressing_limited(dev));
}

Test(dispatch, coherent_unsupported_backend)
{
	struct tb *tb = tb_create(t.ctx, "nocoh", false);
	struct dmap_dev *d2 = dmap_test_dev(&t, "nocoh0", 0);
	dmap_addr_t h;

	dmap_dev_attach(d2, &tb->dom);
	dmap_test_log_clear(&t);
	cr_assert_null(dmap_alloc_coherent(d2, 4096, &h, 0));
	cr_assert(dmap_test_log_has(&t, "nocoh0", "coherent", NULL));
	cr_assert_eq(dmap_free_coherent(d2, 4096, t.ram, RAM_BASE, 0), -DMAP_EOPNOTSUPP);
	cr_assert_eq(dmap_max_mapping_size(d2), SIZE_MAX);
	tb->max_mapping = 65536;
	cr_assert_eq(dmap_max_mapping_size(d2), 65536);
	cr_assert_not(dmap_addressing_limited(d2), "no hook: not limited");
	dmap_dev_destroy(d2);
	dmap_domain_destroy(&tb->dom);
}

/* Many threads mapping on one device with counting on: exact totals, TSan-clean. */
#include <pthread.h>

struct mapper_arg {
	struct dmap_dev *dev;
	int index;
	int count;
	int bad;
};

static void *mapper(void *p)
{
	struct mapper_arg *a = p;

	for (int i = 0; i < a->count; i++) {
		dmap_phys_t phys = RAM_BASE + (dmap_phys_t)a->index * 65536 + (i & 15) * 512;
		dmap_addr_t bus = dmap_map_phys(a->dev, phys, 512, DMAP_BIDIRECTIONAL, 0);

		if (bus != phys || dmap_sync_single_for_cpu(a->dev, bus, 64, DMAP_BIDIRECTIONAL) ||
		    dmap_unmap_phys(a->dev, bus, 512, DMAP_BIDIRECTIONAL, 0))
			a->bad++;
	}
	return NULL;
}

Test(dispatch, concurrent_mappers_counted_exactly)
{
	enum { THREADS = 4, COUNT = 20000 };
	pthread_t th[THREADS];
	struct mapper_arg args[THREADS];
	struct dmap_domain_stats s;

	dmap_domain_set_counting(id, true);
	for (int i = 0; i < THREADS; i++) {
		args[i] = (struct mapper_arg){ dev, i, COUNT, 0 };
		pthread_create(&th[i], NULL, mapper, &args[i]);
	}
	for (int i = 0; i < THREADS; i++) {
		pthread_join(th[i], NULL);
		cr_assert_eq(args[i].bad, 0);
	}
	s = stats(id);
	cr_assert_eq(s.maps, THREADS * COUNT);
	cr_assert_eq(s.unmaps, THREADS * COUNT);
	cr_assert_eq(s.syncs, THREADS * COUNT);
	cr_assert_eq(s.bytes_mapped, (uint64_t)THREADS * COUNT * 512);
	cr_assert_eq(s.map_errors + s.invalid_args, 0);
}

/* The seams into the debug layer: mapping_error marks the check, detach reports leaks. */
#include <dmap/debug.h>

Test(dispatch, debug_layer_seams)
{
	struct dmap_domain *dbg;
	struct dmap_dev *d = dmap_test_dev(&t, "dbg0", 0);
	struct dmap_debug_counts c;
	dmap_addr_t a, b;

	cr_assert_eq(dmap_identity_domain_create(t.ctx, NULL, &dbg), 0);
	cr_assert_eq(dmap_domain_set_debug(dbg, true), 0);
	cr_assert_eq(dmap_dev_attach(d, dbg), 0);
	a = dmap_map_phys(d, RAM_BASE, 256, DMAP_TO_DEVICE, 0);
	cr_assert_eq(dmap_mapping_error(d, a), 0);
	cr_assert_eq(dmap_unmap_phys(d, a, 256, DMAP_TO_DEVICE, 0), 0);
	b = dmap_map_phys(d, RAM_BASE + 4096, 256, DMAP_TO_DEVICE, 0);
	(void)b; /* never checked, never unmapped: leaked at detach */
	cr_assert_eq(dmap_debug_get_counts(dbg, &c), 0);
	cr_assert_eq(c.reports[DMAP_DEBUG_ERROR_NOT_CHECKED], 0);
	cr_assert_eq(c.live_mappings, 1);
	dmap_test_log_clear(&t);
	cr_assert_eq(dmap_dev_detach(d), 0);
	cr_assert_eq(dmap_debug_get_counts(dbg, &c), 0);
	cr_assert_eq(c.reports[DMAP_DEBUG_LEAK], 1);
	cr_assert_eq(c.live_mappings, 0);
	cr_assert(dmap_test_log_has(&t, "dbg0", NULL));
	dmap_dev_destroy(d);
	dmap_domain_destroy(dbg);
}
