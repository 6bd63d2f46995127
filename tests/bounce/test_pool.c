// SPDX-License-Identifier: MIT
/*
 * tests/bounce/test_pool.c - the slot pool on its own: a randomized model
 * test against a bitmap of occupied slots (no overlap, alignment, find()),
 * exhaustion and recovery (the whole pool comes back), a region
 * whose base is not aligned to the top block, and statistics.
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

static bool thread_caches; /* hosted: threads own their caches */

static struct dmap_bounce_pool *make(dmap_phys_t phys, size_t size, unsigned int top,
				     unsigned int caches)
{
	struct dmap_bounce_pool_params p = { .phys = phys,
					     .bus = phys + 0x1000000000ull,
					     .size = size,
					     .slot_shift = 11,
					     .top_order = top,
					     .nr_caches = caches,
					     .thread_caches = thread_caches };
	struct dmap_bounce_pool *pool = NULL;

	cr_assert_eq(dmap_bounce_pool_create(env, &p, &pool), 0);
	return pool;
}

Test(pool, rejects_bad_parameters)
{
	struct dmap_bounce_pool_params p = {
		.phys = 0x100000, .size = 1 << 20, .slot_shift = 11, .top_order = 9
	};
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
			long h = dmap_bounce_pool_alloc(pool, u, align, DMAP_BOUNCE_NO_BOUNDARY);
			if (h < 0) {
				cr_assert_eq(h, -DMAP_ENOSPC);
				continue;
			}
			uint64_t first = (dmap_bounce_pool_slot_phys(pool, h) - base) >> 11;

			cr_assert_lt(first + u - 1, nslots, "run past the region");
			/* Runs the slow path places across blocks keep the asked alignment only. */
			cr_assert_eq(dmap_bounce_pool_slot_phys(pool, h) & ((2048ull << align) - 1),
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
		cr_assert_geq(dmap_bounce_pool_find(
				      pool, dmap_bounce_pool_slot_phys(pool, heads[live]), &state),
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

Test(pool, model_thread_owned_caches)
{
	thread_caches = true;
	model_run(0x40000000, 4 << 20, 6, 4, 4);
}

Test(pool, exhaustion_with_thread_owned_caches)
{
	struct dmap_bounce_pool *pool;
	static long h[2049]; /* the failing call writes one past the pool */
	int n = 0;

	thread_caches = true;
	pool = make(0x40000000, 4 << 20, 9, 4);
	while ((h[n] = dmap_bounce_pool_alloc(pool, 1, 0, DMAP_BOUNCE_NO_BOUNDARY)) >= 0)
		n++;
	cr_assert_eq(n, 2048);
	for (int i = 0; i < n; i++)
		dmap_bounce_pool_free(pool, h[i]);
	/* The owner's own cache is drained by its own slow path: the whole pool comes back. */
	for (int i = 0; i < 4; i++)
		cr_assert_geq(h[i] = dmap_bounce_pool_alloc(pool, 512, 0, DMAP_BOUNCE_NO_BOUNDARY),
			      0, "run %d", i);
	cr_assert_eq(dmap_bounce_pool_alloc(pool, 1, 0, DMAP_BOUNCE_NO_BOUNDARY), -DMAP_ENOSPC);
	for (int i = 0; i < 4; i++)
		dmap_bounce_pool_free(pool, h[i]);
	dmap_bounce_pool_destroy(pool);
}

Test(pool, model_tiny_region)
{
	model_run(0x1000, 64 << 10, 4, 2, 3);
}

Test(pool, exhaustion_then_everything_comes_back)
{
	struct dmap_bounce_pool *pool = make(0x40000000, 4 << 20, 9, 4);
	static long h[4096];
	struct dmap_bounce_pool_stats st;
	int n = 0;

	/* Fill with single slots. */
	while ((h[n] = dmap_bounce_pool_alloc(pool, 1, 0, DMAP_BOUNCE_NO_BOUNDARY)) >= 0)
		n++;
	cr_assert_eq(n, 2048);
	cr_assert_eq(dmap_bounce_pool_alloc(pool, 1, 0, DMAP_BOUNCE_NO_BOUNDARY), -DMAP_ENOSPC);
	cr_assert_eq(dmap_bounce_pool_alloc(pool, 1u << 10, 0, DMAP_BOUNCE_NO_BOUNDARY),
		     -DMAP_E2BIG);
	/* Free every other slot: half the pool free, no two free slots adjacent. */
	for (int i = 0; i < n; i += 2)
		dmap_bounce_pool_free(pool, h[i]);
	cr_assert_eq(dmap_bounce_pool_alloc(pool, 2, 0, DMAP_BOUNCE_NO_BOUNDARY), -DMAP_ENOSPC,
		     "the worst case: no two adjacent free slots");
	for (int i = 1; i < n; i += 2)
		dmap_bounce_pool_free(pool, h[i]);
	cr_assert_eq(dmap_bounce_pool_slots_in_use(pool), 0);
	/* Everything comes back: four 1 MiB runs (the last one drains the classes). */
	for (int i = 0; i < 4; i++)
		cr_assert_geq(h[i] = dmap_bounce_pool_alloc(pool, 512, 0, DMAP_BOUNCE_NO_BOUNDARY),
			      0, "top block %d", i);
	cr_assert_eq(dmap_bounce_pool_alloc(pool, 1, 0, DMAP_BOUNCE_NO_BOUNDARY), -DMAP_ENOSPC);
	dmap_bounce_pool_get_stats(pool, &st);
	cr_assert_geq(st.coalesce_passes, 1);
	cr_assert_eq(st.live_by_order[9], 4);
	cr_assert_eq(st.slots_in_use, 2048);
	cr_assert_eq(st.high_water, 2048);
	for (int i = 0; i < 4; i++)
		dmap_bounce_pool_free(pool, h[i]);
	dmap_bounce_pool_destroy(pool);
}

Test(pool, runs_are_exact_so_the_rest_stays_usable)
{
	struct dmap_bounce_pool *pool = make(0x40000000, 1 << 20, 9, 0);
	long a, b;

	long tail[8];

	/* A 257-slot run takes exactly 257 slots: 128+64+...+1 more fill the pool. */
	a = dmap_bounce_pool_alloc(pool, 257, 0, DMAP_BOUNCE_NO_BOUNDARY);
	cr_assert_geq(a, 0);
	for (int i = 0; i < 8; i++)
		cr_assert_geq(tail[i] = dmap_bounce_pool_alloc(pool, 128u >> i, 0,
							       DMAP_BOUNCE_NO_BOUNDARY),
			      0, "the rest of the pool must be usable (%u slots)", 128u >> i);
	cr_assert_eq(dmap_bounce_pool_slots_in_use(pool), 512);
	cr_assert_eq(dmap_bounce_pool_alloc(pool, 1, 0, DMAP_BOUNCE_NO_BOUNDARY), -DMAP_ENOSPC);
	dmap_bounce_pool_free(pool, a);
	for (int i = 0; i < 8; i++)
		dmap_bounce_pool_free(pool, tail[i]);
	(void)b;
	cr_assert_geq(a = dmap_bounce_pool_alloc(pool, 512, 0, DMAP_BOUNCE_NO_BOUNDARY), 0);
	dmap_bounce_pool_free(pool, a);
	dmap_bounce_pool_destroy(pool);
}

Test(pool, high_water_and_reset)
{
	struct dmap_bounce_pool *pool = make(0x40000000, 1 << 20, 9, 2);
	struct dmap_bounce_pool_stats st;
	long a = dmap_bounce_pool_alloc(pool, 10, 0, DMAP_BOUNCE_NO_BOUNDARY);
	long b = dmap_bounce_pool_alloc(pool, 20, 0, DMAP_BOUNCE_NO_BOUNDARY);

	dmap_bounce_pool_free(pool, b);
	dmap_bounce_pool_get_stats(pool, &st);
	cr_assert_eq(st.high_water, 30);
	cr_assert_eq(st.slots_in_use, 10);
	dmap_bounce_pool_reset_high_water(pool);
	dmap_bounce_pool_get_stats(pool, &st);
	cr_assert_eq(st.high_water, 10);
	b = dmap_bounce_pool_alloc(pool, 1, 0, DMAP_BOUNCE_NO_BOUNDARY);
	dmap_bounce_pool_get_stats(pool, &st);
	cr_assert_eq(st.high_water, 11);
	dmap_bounce_pool_free(pool, a);
	dmap_bounce_pool_free(pool, b);
	dmap_bounce_pool_destroy(pool);
}

/* Two-thread stress: tests/bounce/stress_bounce.c (runs under ThreadSanitizer). */

/*
 * After mixed-size use and a free-all, an empty pool serves every class to
 * its full capacity, as a fresh pool does: runs the classes kept in place
 * sit at their natural (size-aligned) offsets, and the rest is drained when
 * a request runs short. Each class is filled in turn on the same pool, so
 * the previous class's recycled runs are in the caches when the next one
 * starts. @lo_pages: base this many 4 KiB pages past a top block.
 */
static void refill_run(unsigned int caches, unsigned int lo_pages, unsigned int seed)
{
	const dmap_phys_t base = 0x40000000 + 4096ull * lo_pages;
	const size_t size = 4 << 20;
	const unsigned int top = 7;
	struct dmap_bounce_pool *pool = make(base, size, top, caches);
	static long h[2048];
	uint32_t units[2048];
	unsigned int live = 0, n, i, order;

	srand(seed);
	for (int step = 0; step < 4000; step++) {
		if (live < 200 && rand() % 100 < 55) {
			uint32_t u = rand() % 2 ? 1u << (rand() % (top + 1)) :
						  1 + (uint32_t)(rand() % 200);
			long r = dmap_bounce_pool_alloc(pool, u, u >= 2 ? 1 : 0,
							DMAP_BOUNCE_NO_BOUNDARY);

			if (r >= 0) {
				h[live] = r;
				units[live++] = u;
			}
		} else if (live) {
			unsigned int k = (unsigned int)rand() % live;

			dmap_bounce_pool_free(pool, h[k]);
			h[k] = h[--live];
			units[k] = units[live];
		}
	}
	while (live)
		dmap_bounce_pool_free(pool, h[--live]);
	cr_assert_eq(dmap_bounce_pool_slots_in_use(pool), 0);
	for (order = 0; order <= top; order++) {
		for (n = 0; n < 2048; n++) {
			h[n] = dmap_bounce_pool_alloc(pool, 1u << order, order ? 1 : 0,
						      DMAP_BOUNCE_NO_BOUNDARY);
			if (h[n] < 0)
				break;
		}
		cr_assert_eq(n, (size >> 11) >> order,
			     "seed %u, %u caches: %u of %zu runs of 2^%u slots fit the empty pool",
			     seed, caches, n, (size >> 11) >> order, order);
		for (i = 0; i < n; i++)
			dmap_bounce_pool_free(pool, h[i]);
	}
	dmap_bounce_pool_destroy(pool);
}

Test(pool, empty_pool_serves_every_class_in_full)
{
	for (unsigned int seed = 1; seed <= 6; seed++) {
		refill_run(4, 0, seed);
		refill_run(0, 3, seed); /* base not on a top block */
		refill_run(16, 5, seed);
	}
}

Test(pool, empty_pool_serves_every_class_in_full_thread_owned)
{
	thread_caches = true;
	for (unsigned int seed = 1; seed <= 6; seed++)
		refill_run(4, 1, seed);
}

/*
 * A thread that owns a cache and exits leaves runs in it. The next request
 * that runs short revokes the cache; one grace period later its runs are
 * back in the bitmap and the cache can be owned by another thread.
 */
struct exiting_thread_arg {
	struct dmap_bounce_pool *pool;
	long runs[8];
};

static void *exiting_thread(void *arg)
{
	struct exiting_thread_arg *a = arg;

	for (int i = 0; i < 8; i++)
		a->runs[i] = dmap_bounce_pool_alloc(a->pool, 1, 0, DMAP_BOUNCE_NO_BOUNDARY);
	for (int i = 0; i < 8; i++)
		if (a->runs[i] >= 0)
			dmap_bounce_pool_free(a->pool, a->runs[i]);
	return NULL;
}

Test(pool, exited_threads_caches_are_revoked_and_reclaimed)
{
	struct dmap_bounce_pool_stats st;
	struct exiting_thread_arg arg;
	pthread_t t;
	long whole;

	thread_caches = true;
	/* One cache: the exited thread's cache is the one every later thread maps to. */
	arg.pool = make(0x40000000, 1 << 20, 9, 1);
	cr_assert_eq(pthread_create(&t, NULL, exiting_thread, &arg), 0);
	cr_assert_eq(pthread_join(t, NULL), 0);
	for (int i = 0; i < 8; i++)
		cr_assert_geq(arg.runs[i], 0);
	dmap_bounce_pool_get_stats(arg.pool, &st);
	cr_assert_eq(st.free_by_order[0], 8, "the exited thread's cache keeps its runs");
	cr_assert_eq(st.slots_free, 512 - 8);
	/* The whole pool: the drain revokes the dead thread's cache (its runs come later). */
	whole = dmap_bounce_pool_alloc(arg.pool, 512, 0, DMAP_BOUNCE_NO_BOUNDARY);
	if (whole < 0) {
		cr_assert_eq(whole, -DMAP_ENOSPC);
		env->ops->rcu_barrier(env->cookie);
		whole = dmap_bounce_pool_alloc(arg.pool, 512, 0, DMAP_BOUNCE_NO_BOUNDARY);
	}
	cr_assert_geq(whole, 0, "the dead thread's runs never came back");
	dmap_bounce_pool_get_stats(arg.pool, &st);
	cr_assert_eq(st.free_by_order[0], 0);
	cr_assert_eq(st.slots_in_use, 512);
	dmap_bounce_pool_free(arg.pool, whole);
	/* The revoked cache is free again: this thread owns it and recycles through it. */
	whole = dmap_bounce_pool_alloc(arg.pool, 1, 0, DMAP_BOUNCE_NO_BOUNDARY);
	dmap_bounce_pool_free(arg.pool, whole);
	cr_assert_eq(dmap_bounce_pool_alloc(arg.pool, 1, 0, DMAP_BOUNCE_NO_BOUNDARY), whole,
		     "the same run comes back from this thread's cache");
	dmap_bounce_pool_get_stats(arg.pool, &st);
	cr_assert_eq(st.free_by_order[0], 0);
	dmap_bounce_pool_destroy(arg.pool);
}

/* Destroying a pool with a revocation in flight: the metadata waits for it. */
Test(pool, destroy_with_a_revocation_in_flight)
{
	struct exiting_thread_arg arg;
	pthread_t t;

	thread_caches = true;
	arg.pool = make(0x40000000, 1 << 20, 9, 1);
	cr_assert_eq(pthread_create(&t, NULL, exiting_thread, &arg), 0);
	cr_assert_eq(pthread_join(t, NULL), 0);
	dmap_bounce_pool_alloc(arg.pool, 512, 0, DMAP_BOUNCE_NO_BOUNDARY);
	dmap_bounce_pool_destroy(arg.pool);
	env->ops->rcu_barrier(env->cookie);
}
