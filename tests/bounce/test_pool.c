// SPDX-License-Identifier: MIT
/*
 * tests/bounce/test_pool.c - the slot pool on its own: a randomized model
 * test against a bitmap of occupied slots (no overlap, alignment, find()),
 * exhaustion and coalescing (everything comes back as top blocks), a region
 * whose base is not aligned to the top block, statistics, and a 2-thread
 * stress that must be clean under ThreadSanitizer.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <dmap/hosted.h>

#include "pool.h"

static struct dmap_hosted *hosted;
static const struct dmap_env *env;

static void setup(void)
{
	cr_assert_eq(dmap_hosted_create(NULL, &hosted), 0);
	env = dmap_hosted_env(hosted);
}

static void teardown(void)
{
	dmap_hosted_destroy(hosted);
}

TestSuite(pool, .init = setup, .fini = teardown);

static struct dmap_bounce_pool *make(dmap_phys_t phys, size_t size, unsigned int top,
				     unsigned int caches)
{
	struct dmap_bounce_pool_params p = { .phys = phys, .bus = phys + 0x1000000000ull,
					     .size = size, .slot_shift = 11, .top_order = top,
					     .nr_caches = caches };
	struct dmap_bounce_pool *pool = NULL;

	cr_assert_eq(dmap_bounce_pool_create(env, &p, &pool), 0);
	return pool;
}

static unsigned int ceil_log2(uint32_t x)
{
	unsigned int k = 0;

	while ((1u << k) < x)
		k++;
	return k;
}

Test(pool, rejects_bad_parameters)
{
	struct dmap_bounce_pool_params p = { .phys = 0x100000, .size = 1 << 20, .slot_shift = 11,
					     .top_order = 9 };
	struct dmap_bounce_pool *pool;

	p.slot_shift = 8;
	cr_assert_eq(dmap_bounce_pool_create(env, &p, &pool), -DMAP_EINVAL);
	p.slot_shift = 11;
	p.phys = 0x100001;
	cr_assert_eq(dmap_bounce_pool_create(env, &p, &pool), -DMAP_EINVAL);
	p.phys = 0x100000;
	p.nr_caches = 3;
	cr_assert_eq(dmap_bounce_pool_create(env, &p, &pool), -DMAP_EINVAL);
	p.nr_caches = 0;
	p.size = 1000;
	cr_assert_eq(dmap_bounce_pool_create(env, &p, &pool), -DMAP_EINVAL);
	p.size = 1 << 20;
	p.top_order = DMAP_BOUNCE_POOL_MAX_ORDERS;
	cr_assert_eq(dmap_bounce_pool_create(env, &p, &pool), -DMAP_EINVAL);
}

/*
 * Random alloc/free against a bitmap of occupied slots: runs never overlap,
 * stay inside the region, start at their alignment, and find() maps every
 * slot of a published run (and nothing else) back to its head.
 */
static void model_run(dmap_phys_t base, size_t size, unsigned int top, unsigned int caches,
		      unsigned int seed)
{
	struct dmap_bounce_pool *pool = make(base, size, top, caches);
	uint64_t nslots = size >> 11;
	uint8_t *used = calloc(nslots, 1);
	long heads[512];
	uint32_t units[512];
	uint64_t in_use = 0;
	unsigned int live = 0;

	srand(seed);
	for (int step = 0; step < 20000; step++) {
		if (live < 512 && (live == 0 || rand() % 100 < 55)) {
			uint32_t u = 1 + (uint32_t)(rand() % (rand() % 4 ? 16 : (1 << top)));
			unsigned int align = (unsigned int)(rand() % 3);
			long h = dmap_bounce_pool_alloc(pool, u, align);
			if (h < 0) {
				cr_assert_eq(h, -DMAP_ENOSPC);
				continue;
			}
			uint64_t first = (dmap_bounce_pool_slot_phys(pool, h) - base) >> 11;

			cr_assert_lt(first + u - 1, nslots, "run past the region");
			cr_assert_eq(dmap_bounce_pool_slot_phys(pool, h) &
					     ((2048ull << dmap_max(align, ceil_log2(u))) - 1),
				     0, "run not aligned");
			for (uint32_t i = 0; i < u; i++) {
				cr_assert_eq(used[first + i], 0, "slot %llu handed out twice",
					     (unsigned long long)(first + i));
				used[first + i] = 1;
			}
			dmap_bounce_pool_slot(pool, h)->orig = (dmap_phys_t)h;
			dmap_bounce_pool_publish(pool, h);
			heads[live] = h;
			units[live++] = u;
			in_use += u;
		} else {
			unsigned int k = (unsigned int)rand() % live;
			long h = heads[k];
			uint64_t first = (dmap_bounce_pool_slot_phys(pool, h) - base) >> 11;
			uint64_t state;

			/* Every slot of the run finds the head; the slot after it does not (unless live). */
			for (uint32_t i = 0; i < units[k]; i += 1 + units[k] / 4) {
				long f = dmap_bounce_pool_find(pool, base + ((first + i) << 11) + 7,
							       &state);
				cr_assert_eq(f, h);
			}
			cr_assert(dmap_bounce_pool_claim(pool, h, state));
			cr_assert(!dmap_bounce_pool_claim(pool, h, state), "claimed twice");
			cr_assert_eq(dmap_bounce_pool_find(pool, base + (first << 11), &state), -1);
			dmap_bounce_pool_free(pool, h);
			for (uint32_t i = 0; i < units[k]; i++)
				used[first + i] = 0;
			in_use -= units[k];
			heads[k] = heads[--live];
			units[k] = units[live];
		}
		if (step % 1000 == 0)
			cr_assert_eq(dmap_bounce_pool_slots_in_use(pool), in_use);
	}
	while (live) {
		uint64_t state;

		live--;
		cr_assert_geq(dmap_bounce_pool_find(pool, dmap_bounce_pool_slot_phys(pool, heads[live]),
						    &state),
			      0);
		cr_assert(dmap_bounce_pool_claim(pool, heads[live], state));
		dmap_bounce_pool_free(pool, heads[live]);
	}
	cr_assert_eq(dmap_bounce_pool_slots_in_use(pool), 0);
	free(used);
	dmap_bounce_pool_destroy(pool);
}

Test(pool, model_aligned_region)
{
	model_run(0x40000000, 4 << 20, 6, 4, 1);
}

Test(pool, model_unaligned_region_no_caches)
{
	/* Base 8 KiB past a 1 MiB boundary, size not a multiple of the top block. */
	model_run(0x40002000, (3 << 20) + 6144, 9, 0, 2);
}

Test(pool, model_tiny_region)
{
	model_run(0x1000, 64 << 10, 4, 2, 3);
}

Test(pool, exhaustion_and_coalescing_return_everything)
{
	struct dmap_bounce_pool *pool = make(0x40000000, 4 << 20, 9, 4);
	static long h[4096];
	struct dmap_bounce_pool_stats st;
	int n = 0;

	/* Fill with single slots: the top blocks are split all the way down. */
	while ((h[n] = dmap_bounce_pool_alloc(pool, 1, 0)) >= 0)
		n++;
	cr_assert_eq(n, 2048);
	cr_assert_eq(dmap_bounce_pool_alloc(pool, 1, 0), -DMAP_ENOSPC);
	cr_assert_eq(dmap_bounce_pool_alloc(pool, 1u << 10, 0), -DMAP_E2BIG);
	/* Free every other slot: half the pool free, no two free slots adjacent. */
	for (int i = 0; i < n; i += 2)
		dmap_bounce_pool_free(pool, h[i]);
	cr_assert_eq(dmap_bounce_pool_alloc(pool, 2, 0), -DMAP_ENOSPC,
		     "the buddy worst case: no two adjacent free slots");
	for (int i = 1; i < n; i += 2)
		dmap_bounce_pool_free(pool, h[i]);
	cr_assert_eq(dmap_bounce_pool_slots_in_use(pool), 0);
	/* Everything merges back: four 1 MiB blocks. */
	for (int i = 0; i < 4; i++)
		cr_assert_geq(h[i] = dmap_bounce_pool_alloc(pool, 512, 0), 0, "top block %d", i);
	cr_assert_eq(dmap_bounce_pool_alloc(pool, 1, 0), -DMAP_ENOSPC);
	dmap_bounce_pool_get_stats(pool, &st);
	cr_assert_geq(st.coalesce_passes, 1);
	cr_assert_eq(st.live_by_order[9], 4);
	cr_assert_eq(st.slots_in_use, 2048);
	cr_assert_eq(st.high_water, 2048);
	for (int i = 0; i < 4; i++)
		dmap_bounce_pool_free(pool, h[i]);
	dmap_bounce_pool_destroy(pool);
}

Test(pool, trimming_keeps_waste_below_a_slot)
{
	struct dmap_bounce_pool *pool = make(0x40000000, 1 << 20, 9, 0);
	long a, b;

	/* 257 slots take a 512-slot block and give back 255; a second 255-slot run fits. */
	a = dmap_bounce_pool_alloc(pool, 257, 0);
	cr_assert_geq(a, 0);
	b = dmap_bounce_pool_alloc(pool, 255, 0);
	cr_assert_geq(b, 0, "the trimmed tail must be usable");
	cr_assert_eq(dmap_bounce_pool_slots_in_use(pool), 512);
	dmap_bounce_pool_free(pool, a);
	dmap_bounce_pool_free(pool, b);
	cr_assert_geq(a = dmap_bounce_pool_alloc(pool, 512, 0), 0);
	dmap_bounce_pool_free(pool, a);
	dmap_bounce_pool_destroy(pool);
}

Test(pool, high_water_and_reset)
{
	struct dmap_bounce_pool *pool = make(0x40000000, 1 << 20, 9, 2);
	struct dmap_bounce_pool_stats st;
	long a = dmap_bounce_pool_alloc(pool, 10, 0);
	long b = dmap_bounce_pool_alloc(pool, 20, 0);

	dmap_bounce_pool_free(pool, b);
	dmap_bounce_pool_get_stats(pool, &st);
	cr_assert_eq(st.high_water, 30);
	cr_assert_eq(st.slots_in_use, 10);
	dmap_bounce_pool_reset_high_water(pool);
	dmap_bounce_pool_get_stats(pool, &st);
	cr_assert_eq(st.high_water, 10);
	b = dmap_bounce_pool_alloc(pool, 1, 0);
	dmap_bounce_pool_get_stats(pool, &st);
	cr_assert_eq(st.high_water, 11);
	dmap_bounce_pool_free(pool, a);
	dmap_bounce_pool_free(pool, b);
	dmap_bounce_pool_destroy(pool);
}

/* ---- two threads --------------------------------------------------------- */

struct stress_arg {
	struct dmap_bounce_pool *pool;
	unsigned int seed;
	long ops;
	uint8_t *owner; /* per slot: which thread holds it (0 none) */
	int id;
};

static void *stress_thread(void *p)
{
	struct stress_arg *a = p;
	long heads[64];
	uint32_t units[64];
	int live = 0;

	for (long i = 0; i < a->ops; i++) {
		if (live < 64 && (live == 0 || rand_r(&a->seed) % 2)) {
			uint32_t u = 1 + rand_r(&a->seed) % (rand_r(&a->seed) % 8 ? 8 : 200);
			long h = dmap_bounce_pool_alloc(a->pool, u, 0);

			if (h < 0)
				continue;
			uint64_t first = (dmap_bounce_pool_slot_phys(a->pool, h) - 0x40000000) >> 11;

			for (uint32_t k = 0; k < u; k++) {
				uint8_t expected = 0;

				cr_assert(__atomic_compare_exchange_n(&a->owner[first + k], &expected,
								      (uint8_t)a->id, 0,
								      __ATOMIC_RELAXED,
								      __ATOMIC_RELAXED),
					  "slot %llu owned by thread %u", (unsigned long long)(first + k),
					  expected);
			}
			dmap_bounce_pool_publish(a->pool, h);
			heads[live] = h;
			units[live++] = u;
		} else {
			int k = rand_r(&a->seed) % live;
			long h = heads[k];
			uint64_t first = (dmap_bounce_pool_slot_phys(a->pool, h) - 0x40000000) >> 11;
			uint64_t state;

			cr_assert_eq(dmap_bounce_pool_find(a->pool, 0x40000000 + (first << 11), &state),
				     h);
			cr_assert(dmap_bounce_pool_claim(a->pool, h, state));
			for (uint32_t j = 0; j < units[k]; j++)
				__atomic_store_n(&a->owner[first + j], 0, __ATOMIC_RELAXED);
			dmap_bounce_pool_free(a->pool, h);
			heads[k] = heads[--live];
			units[k] = units[live];
		}
	}
	while (live--) {
		uint64_t state;

		cr_assert_geq(dmap_bounce_pool_find(a->pool, dmap_bounce_pool_slot_phys(a->pool, heads[live]), &state), 0);
		dmap_bounce_pool_claim(a->pool, heads[live], state);
		dmap_bounce_pool_free(a->pool, heads[live]);
	}
	return NULL;
}

static void stress(unsigned int caches)
{
	/* Small pool: both threads hit exhaustion and the coalescing slow path. */
	struct dmap_bounce_pool *pool = make(0x40000000, 1 << 20, 8, caches);
	uint8_t *owner = calloc(512, 1);
	struct stress_arg args[2];
	pthread_t t[2];

	for (int i = 0; i < 2; i++) {
		args[i] = (struct stress_arg){ .pool = pool, .seed = 11u + (unsigned int)i,
					       .ops = 60000, .owner = owner, .id = i + 1 };
		pthread_create(&t[i], NULL, stress_thread, &args[i]);
	}
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	cr_assert_eq(dmap_bounce_pool_slots_in_use(pool), 0);
	/* Everything comes back. */
	long a = dmap_bounce_pool_alloc(pool, 256, 0), b = dmap_bounce_pool_alloc(pool, 256, 0);

	cr_assert_geq(a, 0);
	cr_assert_geq(b, 0);
	dmap_bounce_pool_free(pool, a);
	dmap_bounce_pool_free(pool, b);
	free(owner);
	dmap_bounce_pool_destroy(pool);
}

Test(pool, two_threads_with_caches, .timeout = 60)
{
	stress(4);
}

Test(pool, two_threads_shared_lists_only, .timeout = 60)
{
	stress(0);
}
