/* SPDX-License-Identifier: MIT */
/*
 * tests/bounce/bounce_test.h - a fixture for bounce tests: a hosted env whose
 * pool RAM sits at 256 MiB (below 4 GiB, where bounce pools come from) and a
 * second, non-pool region above 4 GiB for buffers a 32-bit device cannot
 * reach.
 */
#ifndef DMAP_BOUNCE_TEST_H
#define DMAP_BOUNCE_TEST_H

#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <dmap/bounce.h>
#include <dmap/debug.h>
#include <dmap/identity.h>
#include <dmap/ops.h>

#include "test_env.h"

#define LOW_BASE 0x10000000ull
#define LOW_SIZE (48ull << 20)
#define HIGH_BASE 0x100000000ull
#define HIGH_SIZE (16ull << 20)

struct bounce_fixture {
	struct dmap_test_env t;
	void *high;
	struct dmap_domain *dom;
};

static inline void bounce_fixture_init(struct bounce_fixture *f,
				       const struct dmap_bounce_config *cfg)
{
	int ret;

	dmap_test_env_init(&f->t, LOW_BASE, LOW_SIZE, false);
	ret = dmap_hosted_mem_add(f->t.hosted, HIGH_BASE, HIGH_SIZE, 0, &f->high);
	cr_assert_eq(ret, 0, "high RAM: %d", ret);
	f->dom = NULL;
	if (cfg) {
		ret = dmap_bounce_domain_create(f->t.ctx, cfg, &f->dom);
		cr_assert_eq(ret, 0, "bounce create: %d (%s)", ret, dmap_hosted_last_message());
	}
}

static inline void bounce_fixture_fini(struct bounce_fixture *f)
{
	if (f->dom)
		cr_expect_eq(dmap_domain_destroy(f->dom), 0);
	dmap_test_env_fini(&f->t);
}

/* Host pointer of a buffer physical address in either region. */
static inline unsigned char *bounce_ptr(struct bounce_fixture *f, dmap_phys_t phys)
{
	if (phys >= HIGH_BASE)
		return (unsigned char *)f->high + (phys - HIGH_BASE);
	return dmap_test_ram(&f->t, phys);
}

static inline void bounce_fill(unsigned char *p, size_t n, unsigned int seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (unsigned char)(seed * 131u + i * 7u + (i >> 8));
}

static inline struct dmap_dev *bounce_dev(struct bounce_fixture *f, const char *name, uint64_t mask,
					  uint64_t min_align_mask, uint64_t boundary)
{
	struct dmap_dev_info info = { 0 };
	struct dmap_dev *dev = NULL;
	int ret;

	info.name = name;
	info.dma_mask = mask;
	info.coherent_dma_mask = mask;
	info.min_align_mask = min_align_mask;
	info.seg_boundary_mask = boundary;
	info.flags = DMAP_DEV_COHERENT;
	ret = dmap_dev_create(f->t.ctx, &info, &dev);
	cr_assert_eq(ret, 0, "dev create: %d (%s)", ret, dmap_hosted_last_message());
	if (f->dom) {
		ret = dmap_dev_attach(dev, f->dom);
		cr_assert_eq(ret, 0, "attach: %d (%s)", ret, dmap_hosted_last_message());
	}
	return dev;
}

static inline struct dmap_bounce_stats bounce_stats(struct dmap_domain *dom)
{
	struct dmap_bounce_stats s;

	cr_assert_eq(dmap_bounce_get_stats(dom, &s), 0);
	return s;
}

#endif /* DMAP_BOUNCE_TEST_H */
