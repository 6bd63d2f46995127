// SPDX-License-Identifier: MIT
/*
 * tests/core/test_phys.c - physical memory helpers (dmap_phys_read/write/
 * copy/fill) across region edges and holes, and dmap_cache_sync_phys's
 * direction rules on a non-coherent environment.
 */
#include <criterion/criterion.h>
#include <string.h>

#include <dmap/identity.h>
#include <dmap/ops.h>
#include <dmap/hosted.h>

#include "test_env.h"

#define RAM_BASE 0x20000000ULL
#define RAM_SIZE (64u << 10)

static struct dmap_test_env t;
static void *second; /* a region right after the first one */

static void setup(void)
{
	dmap_test_env_init(&t, RAM_BASE, RAM_SIZE, true);
	cr_assert_eq(dmap_hosted_mem_add(t.hosted, RAM_BASE + RAM_SIZE, 8192, 0, &second), 0);
}

static void teardown(void)
{
	dmap_test_env_fini(&t);
}

TestSuite(phys, .init = setup, .fini = teardown);

Test(phys, read_write_across_regions)
{
	char in[300], out[300];
	dmap_phys_t at = RAM_BASE + RAM_SIZE - 100;

	for (int i = 0; i < 300; i++)
		in[i] = (char)(i + 1);
	cr_assert_eq(dmap_phys_write(t.env, at, in, sizeof(in)), 0);
	cr_assert_eq(memcmp(dmap_test_ram(&t, at), in, 100), 0);
	cr_assert_eq(memcmp(second, in + 100, 200), 0);
	memset(out, 0, sizeof(out));
	cr_assert_eq(dmap_phys_read(t.env, at, out, sizeof(out)), 0);
	cr_assert_eq(memcmp(in, out, sizeof(in)), 0);
	cr_assert_eq(dmap_phys_read(t.env, at, out, 0), 0, "zero bytes is nothing to do");
}

Test(phys, holes_and_bad_arguments)
{
	char buf[64];
	dmap_phys_t end = RAM_BASE + RAM_SIZE + 8192;

	cr_assert_eq(dmap_phys_read(t.env, end, buf, 1), -DMAP_EFAULT);
	cr_assert_eq(dmap_phys_write(t.env, end - 10, buf, 20), -DMAP_EFAULT);
	cr_assert_eq(dmap_phys_read(t.env, 0x1000, buf, 1), -DMAP_EFAULT);
	cr_assert_eq(dmap_phys_read(NULL, RAM_BASE, buf, 1), -DMAP_EFAULT);
	cr_assert_eq(dmap_phys_read(t.env, RAM_BASE, NULL, 1), -DMAP_EFAULT);
	cr_assert_eq(dmap_phys_write(t.env, ~0ULL - 2, buf, 8), -DMAP_EFAULT);
	cr_assert_eq(dmap_phys_fill(t.env, end, 0, 1), -DMAP_EFAULT);
	cr_assert_eq(dmap_phys_copy(t.env, end, RAM_BASE, 1), -DMAP_EFAULT);
	cr_assert_eq(dmap_phys_copy(t.env, RAM_BASE, end, 1), -DMAP_EFAULT);
	cr_assert_eq(dmap_phys_copy(NULL, RAM_BASE, RAM_BASE, 1), -DMAP_EFAULT);
	/* partial write up to the hole: the bytes before it are written */
	memset(buf, 0x77, sizeof(buf));
	cr_assert_eq(dmap_phys_write(t.env, end - 8, buf, 16), -DMAP_EFAULT);
	cr_assert_eq(((unsigned char *)second)[8191], 0x77);
}

Test(phys, fill_and_copy)
{
	unsigned char *ram = t.ram;

	cr_assert_eq(dmap_phys_fill(t.env, RAM_BASE + RAM_SIZE - 10, 0xab, 20), 0);
	cr_assert_eq(ram[RAM_SIZE - 10], 0xab);
	cr_assert_eq(ram[RAM_SIZE - 11], 0);
	cr_assert_eq(((unsigned char *)second)[9], 0xab);
	cr_assert_eq(((unsigned char *)second)[10], 0);
	for (int i = 0; i < 64; i++)
		ram[i] = (unsigned char)i;
	/* overlapping copy behaves like memmove */
	cr_assert_eq(dmap_phys_copy(t.env, RAM_BASE + 8, RAM_BASE, 32), 0);
	for (int i = 0; i < 32; i++)
		cr_assert_eq(ram[8 + i], i);
	/* across the region edge, source and destination chunked independently */
	cr_assert_eq(dmap_phys_copy(t.env, RAM_BASE + RAM_SIZE - 4, RAM_BASE, 16), 0);
	cr_assert_eq(((unsigned char *)second)[0], ram[4]);
	cr_assert_eq(dmap_phys_fill(t.env, RAM_BASE, 0, 0), 0);
}

static struct dmap_hosted_counters counters(void)
{
	struct dmap_hosted_counters c;

	dmap_hosted_get_counters(t.hosted, &c);
	return c;
}

Test(phys, cache_sync_directions)
{
	struct dmap_dev *dev = dmap_test_dev(&t, "nc", 0);
	struct dmap_hosted_counters c0 = counters(), c1;

	/* for the device: clean for TO and BIDIR */
	cr_assert_eq(dmap_cache_sync_phys(t.env, dev, RAM_BASE, 64, DMAP_TO_DEVICE, false), 0);
	cr_assert_eq(dmap_cache_sync_phys(t.env, dev, RAM_BASE, 64, DMAP_BIDIRECTIONAL, false), 0);
	cr_assert_eq(dmap_cache_sync_phys(t.env, dev, RAM_BASE, 64, DMAP_FROM_DEVICE, false), 0);
	/* for the CPU: invalidate for FROM and BIDIR */
	cr_assert_eq(dmap_cache_sync_phys(t.env, dev, RAM_BASE, 64, DMAP_FROM_DEVICE, true), 0);
	cr_assert_eq(dmap_cache_sync_phys(t.env, dev, RAM_BASE, 64, DMAP_BIDIRECTIONAL, true), 0);
	cr_assert_eq(dmap_cache_sync_phys(t.env, dev, RAM_BASE, 64, DMAP_TO_DEVICE, true), 0);
	c1 = counters();
	cr_assert_eq(c1.cache_cleans - c0.cache_cleans, 2);
	cr_assert_eq(c1.cache_invalidates - c0.cache_invalidates, 2);
	/* a range over two regions is two hook calls */
	cr_assert_eq(dmap_cache_sync_phys(t.env, dev, RAM_BASE + RAM_SIZE - 8, 16, DMAP_TO_DEVICE,
					  false),
		     0);
	c0 = counters();
	cr_assert_eq(c0.cache_cleans - c1.cache_cleans, 2);
	/* not RAM */
	cr_assert_eq(dmap_cache_sync_phys(t.env, dev, 0x1000, 16, DMAP_TO_DEVICE, false),
		     -DMAP_EFAULT);
	dmap_dev_destroy(dev);

	/* a coherent device never needs maintenance */
	struct dmap_dev_info info = { .name = "coh", .flags = DMAP_DEV_COHERENT };
	cr_assert_eq(dmap_dev_create(t.ctx, &info, &dev), 0);
	c0 = counters();
	cr_assert_eq(dmap_cache_sync_phys(t.env, dev, 0x1000, 16, DMAP_TO_DEVICE, false), 0);
	cr_assert_eq(dmap_cache_sync_phys(t.env, dev, RAM_BASE, 16, DMAP_BIDIRECTIONAL, true), 0);
	c1 = counters();
	cr_assert_eq(c1.cache_cleans + c1.cache_invalidates,
		     c0.cache_cleans + c0.cache_invalidates);
	dmap_dev_destroy(dev);
}

Test(phys, getters_and_fault_api_nulls)
{
	struct dmap_dev *dev = dmap_test_dev(&t, "g", 0);
	struct dmap_domain *dom;

	cr_assert_eq(dmap_dev_get_info(dev, NULL), -DMAP_EINVAL);
	cr_assert_eq(dmap_identity_domain_create(t.ctx, NULL, &dom), 0);
	cr_assert_eq(dmap_fault_pop(dom, NULL), -DMAP_EINVAL);
	cr_assert_eq(dmap_fault_counts(dom, NULL, NULL), 0);
	dmap_dev_destroy(dev);
	dmap_domain_destroy(dom);
}
