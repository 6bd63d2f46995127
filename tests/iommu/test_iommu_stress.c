// SPDX-License-Identifier: MIT
/*
 * tests/iommu/test_iommu_stress.c - two threads map and unmap while a third
 * translates device-side, in strict and deferred mode, with both formats.
 *
 * Mappers write a per-mapping tag through the device and read it back (so a
 * mapping that aliased another thread's would show up as a wrong tag), then
 * publish the live bus address for the translator, which translates
 * whatever is published: a fault is allowed (the mapping may just have gone),
 * a successful translation must land inside the buffer region. Meant to be
 * run under ThreadSanitizer too.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <string.h>

#include <dmap/dmap.h>
#include <dmap/hosted.h>
#include <dmap/iommu.h>

#include "test_env.h"

#define POOL_BASE 0x40000000ull
#define POOL_SIZE (32ull << 20)
#define BUF_BASE 0x200000000ull
#define BUF_SIZE (8ull << 20)
#define ITERATIONS 3000

static struct dmap_test_env T;

struct shared {
	struct dmap_domain *dom;
	struct dmap_dev *dev;
	dmap_addr_t published[2];
	int stop;
	int translated; /* set by the translator once it has translated a published address */
	int errors;
	uint64_t translations, faults;
};

struct mapper {
	struct shared *s;
	int id;
};

static void *mapper_thread(void *arg)
{
	struct mapper *m = arg;
	struct shared *s = m->s;
	uint64_t x = 0x9e3779b97f4a7c15ull * (m->id + 1);

	/*
	 * Keep going past ITERATIONS until the translator has run at least once
	 * (bounded): on a loaded 2-core machine the mappers may otherwise finish
	 * before the third thread is first scheduled.
	 */
	for (int i = 0; i < ITERATIONS ||
			(!__atomic_load_n(&s->translated, __ATOMIC_ACQUIRE) && i < 50 * ITERATIONS);
	     i++) {
		size_t size, off;
		dmap_phys_t phys;
		dmap_addr_t addr;
		uint64_t tag = ((uint64_t)m->id << 32) | (uint64_t)i, back = 0;

		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		size = 8 + (x % 5 == 0 ? (x >> 8) % (256 * 1024) : (x >> 8) % 8192);
		/* Each thread owns half of the buffer region. */
		off = (x >> 32) % (BUF_SIZE / 2 - size - 8);
		phys = BUF_BASE + (uint64_t)m->id * (BUF_SIZE / 2) + off;
		addr = dmap_map_phys(s->dev, phys, size, DMAP_BIDIRECTIONAL, 0);
		if (addr == DMAP_MAPPING_ERROR) {
			__atomic_add_fetch(&s->errors, 1, __ATOMIC_RELAXED);
			continue;
		}
		__atomic_store_n(&s->published[m->id], addr, __ATOMIC_RELEASE);
		if (dmap_dev_write(s->dev, addr, &tag, sizeof(tag) < size ? sizeof(tag) : size) ||
		    dmap_dev_read(s->dev, addr, &back, sizeof(tag) < size ? sizeof(tag) : size) ||
		    memcmp(&back, &tag, sizeof(tag) < size ? sizeof(tag) : size))
			__atomic_add_fetch(&s->errors, 1, __ATOMIC_RELAXED);
		if (dmap_unmap_phys(s->dev, addr, size, DMAP_BIDIRECTIONAL, 0))
			__atomic_add_fetch(&s->errors, 1, __ATOMIC_RELAXED);
		if (i % 512 == 0)
			dmap_iommu_poll(s->dom);
	}
	return NULL;
}

static void *translator_thread(void *arg)
{
	struct shared *s = arg;
	unsigned int k = 0;

	while (!__atomic_load_n(&s->stop, __ATOMIC_ACQUIRE)) {
		dmap_addr_t addr = __atomic_load_n(&s->published[k++ & 1], __ATOMIC_ACQUIRE);
		struct dmap_translation t;

		if (!addr)
			continue;
		if (dmap_translate(s->dev, addr, DMAP_ACCESS_READ, &t) == 0) {
			if (t.phys < BUF_BASE || t.phys >= BUF_BASE + BUF_SIZE)
				__atomic_add_fetch(&s->errors, 1, __ATOMIC_RELAXED);
			s->translations++;
		} else {
			s->faults++;
		}
		/* Only translations: reading the data would race with the mappers' writes. */
		(void)dmap_translate(s->dev, addr + 4096, DMAP_ACCESS_WRITE, &t);
		__atomic_store_n(&s->translated, 1, __ATOMIC_RELEASE);
	}
	return NULL;
}

static void run(const struct dmap_iommu_config *cfg)
{
	struct shared s = { 0 };
	struct mapper m[2];
	pthread_t th[3];
	struct dmap_fault f;

	dmap_test_env_init(&T, POOL_BASE, POOL_SIZE, false);
	cr_assert_eq(dmap_hosted_mem_add(T.hosted, BUF_BASE, BUF_SIZE, 0, NULL), 0);
	cr_assert_eq(dmap_iommu_domain_create(T.ctx, cfg, &s.dom), 0);
	{
		struct dmap_dev_info info = { .name = "stress",
					      .stream_id = 0x99,
					      .dma_mask = DMAP_BIT_MASK(64) };

		cr_assert_eq(dmap_dev_create(T.ctx, &info, &s.dev), 0);
		cr_assert_eq(dmap_dev_attach(s.dev, s.dom), 0);
	}
	pthread_create(&th[2], NULL, translator_thread, &s);
	for (int i = 0; i < 2; i++) {
		m[i] = (struct mapper){ .s = &s, .id = i };
		pthread_create(&th[i], NULL, mapper_thread, &m[i]);
	}
	pthread_join(th[0], NULL);
	pthread_join(th[1], NULL);
	__atomic_store_n(&s.stop, 1, __ATOMIC_RELEASE);
	pthread_join(th[2], NULL);
	cr_assert_eq(s.errors, 0, "%d errors (%s)", s.errors, dmap_hosted_last_message());
	cr_assert_gt(s.translations + s.faults, 0, "the translator ran alongside");
	/* Every fault that was logged is a clean translation fault of this device. */
	while (dmap_fault_pop(s.dom, &f) == 1) {
		cr_assert_eq(f.stream_id, 0x99);
		cr_assert(f.reason == DMAP_FAULT_TRANSLATION || f.reason == DMAP_FAULT_NO_MEMORY);
	}
	cr_assert_eq(dmap_iommu_flush_all(s.dom), 0);
	cr_assert_eq(dmap_dev_destroy(s.dev), 0);
	cr_assert_eq(dmap_domain_destroy(s.dom), 0);
	dmap_test_env_fini(&T);
}

Test(iommu_stress, strict_arm)
{
	struct dmap_iommu_config cfg = { .format = DMAP_PGTABLE_ARM_LPAE_S1 };

	run(&cfg);
}

Test(iommu_stress, deferred_arm)
{
	struct dmap_iommu_config cfg = { .format = DMAP_PGTABLE_ARM_LPAE_S1,
					 .deferred = true,
					 .fq_size = 64,
					 .fq_timeout_ns = 1000000 };

	run(&cfg);
}

Test(iommu_stress, deferred_vtd)
{
	struct dmap_iommu_config cfg = { .format = DMAP_PGTABLE_VTD_SL, .deferred = true };

	run(&cfg);
}
