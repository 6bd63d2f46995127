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
	/*
	 * Every fault that was logged is a clean translation fault of this
	 * device - or, on VT-d, an address-size fault (reason 0x4, beyond the
	 * 48-bit AGAW) for the page after a mapping at the very top of the
	 * IOVA space (IOVAs are handed out top down), where ARM reports a
	 * translation fault.
	 */
	while (dmap_fault_pop(s.dom, &f) == 1) {
		cr_assert_eq(f.stream_id, 0x99);
		cr_assert(f.reason == DMAP_FAULT_TRANSLATION || f.reason == DMAP_FAULT_NO_MEMORY ||
				  (f.reason == DMAP_FAULT_ADDR_SIZE &&
				   cfg->format == DMAP_PGTABLE_VTD_SL && (f.addr >> 48)),
			  "fault reason %s at bus address 0x%llx (access 0x%x)",
			  dmap_fault_reason_name(f.reason), (unsigned long long)f.addr, f.access);
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

/* ---- concurrent flushes of a tiny flush queue ----------------------------- */

#define QUEUE_ROUNDS 8
#define QUEUE_ITERATIONS 10000

struct queue_race {
	struct dmap_dev *dev[2];
	pthread_barrier_t barrier;
	int failures;
};

struct queue_arg {
	struct queue_race *r;
	int id;
};

static void *queue_thread(void *arg)
{
	struct queue_arg *a = arg;
	struct queue_race *r = a->r;
	dmap_phys_t phys = BUF_BASE + (uint64_t)a->id * (BUF_SIZE / 2);

	pthread_barrier_wait(&r->barrier);
	for (int i = 0; i < QUEUE_ITERATIONS; i++) {
		dmap_addr_t addr = dmap_map_phys(r->dev[a->id], phys, 4096, DMAP_TO_DEVICE, 0);

		if (addr == DMAP_MAPPING_ERROR) {
			__atomic_add_fetch(&r->failures, 1, __ATOMIC_RELAXED);
			break;
		}
		if (dmap_unmap_phys(r->dev[a->id], addr, 4096, DMAP_TO_DEVICE, 0))
			__atomic_add_fetch(&r->failures, 1, __ATOMIC_RELAXED);
	}
	return NULL;
}

/*
 * Two threads fill their two-entry rings all the time, so their flushes
 * overlap: one CPU's flush can start before and finish after another's, and
 * then the second finds its ring still full after its own flush (the entries
 * stamped after the first flush began must wait for it). Queuing anyway
 * overwrote the oldest entry, whose slot was then released twice and its
 * IOVA handed out twice: a map failed with -EEXIST within a few thousand
 * unmaps (8 of 8 runs before the fix). Such an unmap must go strict.
 */
Test(iommu_stress, deferred_tiny_queue_concurrent_flushes)
{
	struct dmap_iommu_config cfg = { .format = DMAP_PGTABLE_ARM_LPAE_S1,
					 .deferred = true,
					 .fq_size = 2,
					 .inval_latency_ns = 300 };
	struct queue_race r = { 0 };
	struct queue_arg args[2];
	struct dmap_domain *dom;
	struct dmap_iommu_stats st;

	dmap_test_env_init(&T, POOL_BASE, POOL_SIZE, false);
	cr_assert_eq(dmap_hosted_mem_add(T.hosted, BUF_BASE, BUF_SIZE, 0, NULL), 0);
	cr_assert_eq(dmap_iommu_domain_create(T.ctx, &cfg, &dom), 0);
	for (int i = 0; i < 2; i++) {
		struct dmap_dev_info info = { .name = i ? "queue1" : "queue0",
					      .stream_id = 0x40 + i,
					      .dma_mask = DMAP_BIT_MASK(64),
					      .flags = DMAP_DEV_COHERENT };

		cr_assert_eq(dmap_dev_create(T.ctx, &info, &r.dev[i]), 0);
		cr_assert_eq(dmap_dev_attach(r.dev[i], dom), 0);
	}
	for (int round = 0; round < QUEUE_ROUNDS && !r.failures; round++) {
		pthread_t th[2];

		pthread_barrier_init(&r.barrier, NULL, 2);
		for (int i = 0; i < 2; i++) {
			args[i] = (struct queue_arg){ .r = &r, .id = i };
			pthread_create(&th[i], NULL, queue_thread, &args[i]);
		}
		pthread_join(th[0], NULL);
		pthread_join(th[1], NULL);
		pthread_barrier_destroy(&r.barrier);
	}
	cr_assert_eq(r.failures, 0, "%d map/unmap failures (an IOVA handed out twice?): %s",
		     r.failures, dmap_hosted_last_message());
	cr_assert_eq(dmap_iommu_flush_all(dom), 0);
	cr_assert_eq(dmap_iommu_get_stats(dom, &st), 0);
	cr_assert_gt(st.fq_full_flushes, 0, "the rings filled up");
	for (int i = 0; i < 2; i++)
		cr_assert_eq(dmap_dev_destroy(r.dev[i]), 0);
	cr_assert_eq(dmap_domain_destroy(dom), 0);
	dmap_test_env_fini(&T);
}
