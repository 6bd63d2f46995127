// SPDX-License-Identifier: MIT
/*
 * tests/iommu/test_iova.c - the IOVA allocator against a reference model.
 *
 * The model is a byte per granule (0 free, 1 allocated, 2 reserved). Every
 * allocation the allocator returns must lie inside the aperture and below the
 * limit, be aligned to its power-of-two size, and cover only free granules;
 * frees must make the space allocatable again, with or without the per-CPU
 * cache in front. The allocator only needs an environment's allocator, so
 * the hosted one from the test support is all it uses.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <dmap/env.h>
#include <dmap/types.h>

#include "iova.h"
#include "test_env.h"

/*
 * The allocator needs only an environment's allocator; the hosted one (via
 * the test support, which also makes Criterion usable under TSan) serves.
 */
static struct dmap_test_env T;
#define t_env (*T.env)

static void setup(void)
{
	dmap_test_env_init(&T, 0, 0, false);
}

static void teardown(void)
{
	dmap_test_env_fini(&T);
}

/* Deterministic PRNG so a failure reproduces. */
static uint64_t rng_state = 0x12345678abcdefull;
static uint64_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

struct live {
	uint64_t pfn, count;
};

static uint64_t rounded(uint64_t n, bool cached)
{
	uint64_t p = 1;

	if (!cached || n > DMAP_IOVA_CACHE_MAX)
		return n;
	while (p < n)
		p <<= 1;
	return p;
}

static uint64_t pow2_ge(uint64_t n)
{
	uint64_t p = 1;

	while (p < n)
		p <<= 1;
	return p;
}

static void model_check_and_mark(uint8_t *model, uint64_t pfn, uint64_t count, uint64_t first,
				 uint64_t last, uint64_t limit)
{
	cr_assert_geq(pfn, first);
	cr_assert_leq(pfn + count - 1, last);
	cr_assert_leq(pfn + count - 1, limit, "block %lx+%lx above limit %lx", pfn, count, limit);
	cr_assert_eq(pfn % pow2_ge(count), 0, "block %lx of %lu not size aligned", pfn, count);
	for (uint64_t i = 0; i < count; i++) {
		cr_assert_eq(model[pfn + i], 0, "granule %lx handed out while %s", pfn + i,
			     model[pfn + i] == 2 ? "reserved" : "allocated");
		model[pfn + i] = 1;
	}
}

static void random_model_run(bool cached)
{
	const uint64_t first = 1, last = 8191;
	struct dmap_iova_domain *iovad;
	uint8_t *model = calloc(last + 1, 1);
	struct live *live = calloc(4096, sizeof(*live));
	unsigned int nr = 0;
	uint64_t initial;

	cr_assert_eq(dmap_iova_create(&t_env, first, last, cached, &iovad), 0);
	/* Reserve a window in the middle and one at the top edge. */
	cr_assert_eq(dmap_iova_reserve(iovad, 3000, 3199), 0);
	cr_assert_eq(dmap_iova_reserve(iovad, 8000, 9000), 0); /* clipped to the aperture */
	for (uint64_t i = 3000; i <= 3199; i++)
		model[i] = 2;
	for (uint64_t i = 8000; i <= last; i++)
		model[i] = 2;
	initial = dmap_iova_free_granules(iovad);
	cr_assert_eq(initial, last - first + 1 - 200 - (last - 8000 + 1));

	for (int step = 0; step < 20000; step++) {
		bool do_alloc = nr == 0 || (nr < 4096 && rnd() % 100 < 55);

		if (do_alloc) {
			uint64_t r = rnd() % 100;
			uint64_t count = r < 70 ? 1 + rnd() % 8 :
					 r < 95 ? 1 + rnd() % 64 :
						  65 + rnd() % 300;
			uint64_t limit = rnd() % 4 == 0 ? 4095 + rnd() % 4096 : UINT64_MAX;
			uint64_t pfn;
			int ret = dmap_iova_alloc(iovad, count, limit, &pfn);

			if (ret == -DMAP_ENOSPC)
				continue;
			cr_assert_eq(ret, 0);
			count = rounded(count, cached);
			model_check_and_mark(model, pfn, count, first, last,
					     limit > last ? last : limit);
			live[nr].pfn = pfn;
			live[nr].count = count;
			nr++;
		} else {
			unsigned int i = rnd() % nr;

			cr_assert_eq(dmap_iova_free(iovad, live[i].pfn, live[i].count), 0);
			for (uint64_t g = 0; g < live[i].count; g++)
				model[live[i].pfn + g] = 0;
			live[i] = live[--nr];
		}
	}
	while (nr) {
		nr--;
		cr_assert_eq(dmap_iova_free(iovad, live[nr].pfn, live[nr].count), 0);
	}
	/* Nothing leaked into the caches: all of it is free, and usable. */
	cr_assert_eq(dmap_iova_free_granules(iovad), initial);
	{
		uint64_t pfn, got = 0;
		uint64_t *all = malloc(initial * sizeof(*all));

		/* Highest 1024-aligned block of 1024 below 4095 clear of [3000, 3199]. */
		cr_assert_eq(dmap_iova_alloc(iovad, 1024, 4095, &pfn), 0);
		cr_assert_eq(pfn, 1024, "got %lx", pfn);
		cr_assert_eq(dmap_iova_free(iovad, pfn, 1024), 0);
		/* Every free granule can be had, one at a time, then the space is exhausted. */
		while (dmap_iova_alloc(iovad, 1, UINT64_MAX, &pfn) == 0) {
			cr_assert_lt(got, initial);
			cr_assert_neq(model[pfn], 2, "reserved granule %lx handed out", pfn);
			all[got++] = pfn;
		}
		cr_assert_eq(got, initial);
		for (uint64_t i = 0; i < got; i++)
			cr_assert_eq(dmap_iova_free(iovad, all[i], 1), 0);
		cr_assert_eq(dmap_iova_free_granules(iovad), initial);
		free(all);
	}
	dmap_iova_destroy(iovad);
	free(model);
	free(live);
}

Test(iova, model_uncached, .init = setup, .fini = teardown)
{
	random_model_run(false);
}

Test(iova, model_cached, .init = setup, .fini = teardown)
{
	random_model_run(true);
}

Test(iova, exhaustion_and_recovery, .init = setup, .fini = teardown)
{
	struct dmap_iova_domain *iovad;
	uint64_t pfn, a, b;
	struct dmap_iova_stats st;

	/* 255 granules: [1, 255]. */
	cr_assert_eq(dmap_iova_create(&t_env, 1, 255, true, &iovad), 0);
	cr_assert_eq(dmap_iova_alloc(iovad, 128, UINT64_MAX, &a), 0);
	cr_assert_eq(a, 128);
	cr_assert_eq(dmap_iova_alloc(iovad, 64, UINT64_MAX, &b), 0);
	cr_assert_eq(b, 64);
	cr_assert_eq(dmap_iova_alloc(iovad, 64, UINT64_MAX, &pfn), -DMAP_ENOSPC);
	/* b goes to a magazine (64 granules is a cached size) ... */
	cr_assert_eq(dmap_iova_free(iovad, b, 64), 0);
	/* ... and a 128-block needs it: the failed search flushes the caches and retries. */
	cr_assert_eq(dmap_iova_free(iovad, a, 128), 0);
	cr_assert_eq(dmap_iova_alloc(iovad, 128, UINT64_MAX, &pfn), 0);
	cr_assert_eq(pfn, 128);
	cr_assert_eq(dmap_iova_alloc(iovad, 64, UINT64_MAX, &pfn), 0);
	cr_assert_eq(pfn, 64);
	dmap_iova_get_stats(iovad, &st);
	cr_assert_geq(st.cache_flushes, 1);
	cr_assert_geq(st.failures, 1);
	dmap_iova_destroy(iovad);
}

Test(iova, cache_hits_and_rounding, .init = setup, .fini = teardown)
{
	struct dmap_iova_domain *iovad;
	uint64_t pfn, again;
	struct dmap_iova_stats st;

	cr_assert_eq(dmap_iova_create(&t_env, 1, (1u << 20) - 1, true, &iovad), 0);
	cr_assert_eq(dmap_iova_round(iovad, 3), 4);
	cr_assert_eq(dmap_iova_round(iovad, 64), 64);
	cr_assert_eq(dmap_iova_round(iovad, 65), 65);
	cr_assert_eq(dmap_iova_alloc(iovad, 3, UINT64_MAX, &pfn), 0);
	cr_assert_eq(pfn % 4, 0);
	cr_assert_eq(dmap_iova_free(iovad, pfn, 3), 0);
	cr_assert_eq(dmap_iova_alloc(iovad, 4, UINT64_MAX, &again), 0);
	cr_assert_eq(again, pfn, "a freed block comes back from the magazine first");
	dmap_iova_get_stats(iovad, &st);
	cr_assert_eq(st.cache_hits, 1);
	cr_assert_eq(st.cache_misses, 1);
	/* A cached entry above a device's limit is not handed to that device. */
	cr_assert_eq(dmap_iova_free(iovad, again, 4), 0);
	cr_assert_eq(dmap_iova_alloc(iovad, 4, 0xfff, &pfn), 0);
	cr_assert_leq(pfn + 3, 0xfff);
	cr_assert_eq(dmap_iova_free(iovad, pfn, 4), 0);
	dmap_iova_destroy(iovad);
}

Test(iova, many_magazines_through_the_depot, .init = setup, .fini = teardown)
{
	struct dmap_iova_domain *iovad;
	enum { N = 20000 };
	uint64_t *p = malloc(N * sizeof(*p));
	uint64_t initial;

	cr_assert_eq(dmap_iova_create(&t_env, 1, (1u << 16) - 1, true, &iovad), 0);
	initial = dmap_iova_free_granules(iovad);
	for (int round = 0; round < 3; round++) {
		for (int i = 0; i < N; i++)
			cr_assert_eq(dmap_iova_alloc(iovad, 2, UINT64_MAX, &p[i]), 0);
		for (int i = 0; i < N; i++)
			cr_assert_eq(dmap_iova_free(iovad, p[i], 2), 0);
		cr_assert_eq(dmap_iova_free_granules(iovad), initial);
	}
	dmap_iova_flush_caches(iovad);
	{
		struct dmap_iova_stats st;

		dmap_iova_get_stats(iovad, &st);
		cr_assert_eq(st.free_ranges, 1, "flushed caches coalesce back into one range");
	}
	dmap_iova_destroy(iovad);
	free(p);
}

Test(iova, double_free_and_bad_input, .init = setup, .fini = teardown)
{
	struct dmap_iova_domain *iovad;
	uint64_t pfn;

	cr_assert_eq(dmap_iova_create(&t_env, 0, 100, false, &iovad), -DMAP_EINVAL);
	cr_assert_eq(dmap_iova_create(&t_env, 10, 9, false, &iovad), -DMAP_EINVAL);
	cr_assert_eq(dmap_iova_create(NULL, 1, 9, false, &iovad), -DMAP_EINVAL);
	cr_assert_eq(dmap_iova_create(&t_env, 1, 1023, false, &iovad), 0);
	cr_assert_eq(dmap_iova_alloc(iovad, 0, UINT64_MAX, &pfn), -DMAP_EINVAL);
	cr_assert_eq(dmap_iova_alloc(NULL, 1, UINT64_MAX, &pfn), -DMAP_EINVAL);
	cr_assert_eq(dmap_iova_alloc(iovad, 2048, UINT64_MAX, &pfn), -DMAP_ENOSPC);
	cr_assert_eq(dmap_iova_alloc(iovad, UINT64_MAX, UINT64_MAX, &pfn), -DMAP_ENOSPC);
	cr_assert_eq(dmap_iova_alloc(iovad, 1, 0, &pfn), -DMAP_ENOSPC, "limit below the aperture");
	cr_assert_eq(dmap_iova_alloc(iovad, 5, UINT64_MAX, &pfn), 0);
	cr_assert_eq(pfn % 8, 0);
	cr_assert_eq(dmap_iova_free(iovad, pfn, 5), 0);
	cr_assert_eq(dmap_iova_free(iovad, pfn, 5), -DMAP_EINVAL, "double free");
	cr_assert_eq(dmap_iova_free(iovad, 2000, 1), -DMAP_EINVAL, "outside the aperture");
	cr_assert_eq(dmap_iova_free(iovad, 0, 1), -DMAP_EINVAL);
	cr_assert_eq(dmap_iova_reserve(iovad, 5, 4), -DMAP_EINVAL);
	dmap_iova_destroy(iovad);
	dmap_iova_destroy(NULL);
}

Test(iova, claim_exact_ranges, .init = setup, .fini = teardown)
{
	struct dmap_iova_domain *iovad;
	uint64_t pfn;

	cr_assert_eq(dmap_iova_create(&t_env, 1, 1023, true, &iovad), 0);
	cr_assert_eq(dmap_iova_reserve(iovad, 500, 509), 0);
	cr_assert_eq(dmap_iova_claim(iovad, 100, 3), 0);
	cr_assert_eq(dmap_iova_claim(iovad, 102, 3), -DMAP_EBUSY, "overlaps a claim");
	cr_assert_eq(dmap_iova_claim(iovad, 505, 1), -DMAP_EBUSY, "reserved");
	cr_assert_eq(dmap_iova_claim(iovad, 1020, 8), -DMAP_EBUSY, "beyond the aperture");
	cr_assert_eq(dmap_iova_claim(iovad, 0, 1), -DMAP_EBUSY, "granule 0");
	/* Top-down allocation never returns the claimed granules. */
	for (int i = 0; i < 2000; i++) {
		if (dmap_iova_alloc(iovad, 1, UINT64_MAX, &pfn))
			break;
		cr_assert(pfn < 100 || pfn > 102);
		cr_assert(pfn < 500 || pfn > 509);
	}
	cr_assert_eq(dmap_iova_free_exact(iovad, 100, 3), 0);
	cr_assert_eq(dmap_iova_free_exact(iovad, 100, 3), -DMAP_EINVAL);
	cr_assert_eq(dmap_iova_claim(iovad, 100, 3), 0);
	dmap_iova_destroy(iovad);
}

/*
 * Two threads allocate and free concurrently; a shared byte map (atomic
 * exchange) catches any granule handed to both. TSan checks the locking.
 */
struct stress {
	struct dmap_iova_domain *iovad;
	uint8_t *owner;
	uint64_t seed;
	int failures;
};

static void *stress_thread(void *arg)
{
	struct stress *s = arg;
	struct live live[64];
	unsigned int nr = 0;
	uint64_t x = s->seed;

	for (int step = 0; step < 40000; step++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		if (nr < 64 && (nr == 0 || x % 2)) {
			uint64_t count = 1 + (x >> 8) % (x % 7 == 0 ? 100 : 16);
			uint64_t pfn;

			if (dmap_iova_alloc(s->iovad, count, UINT64_MAX, &pfn))
				continue;
			count = rounded(count, true);
			for (uint64_t g = 0; g < count; g++)
				if (__atomic_exchange_n(&s->owner[pfn + g], 1, __ATOMIC_RELAXED))
					s->failures++;
			live[nr].pfn = pfn;
			live[nr++].count = count;
		} else {
			unsigned int i = (x >> 16) % nr;

			for (uint64_t g = 0; g < live[i].count; g++)
				__atomic_store_n(&s->owner[live[i].pfn + g], 0, __ATOMIC_RELAXED);
			if (dmap_iova_free(s->iovad, live[i].pfn, live[i].count))
				s->failures++;
			live[i] = live[--nr];
		}
	}
	while (nr--) {
		for (uint64_t g = 0; g < live[nr].count; g++)
			__atomic_store_n(&s->owner[live[nr].pfn + g], 0, __ATOMIC_RELAXED);
		if (dmap_iova_free(s->iovad, live[nr].pfn, live[nr].count))
			s->failures++;
	}
	return NULL;
}

Test(iova, concurrent_alloc_free, .init = setup, .fini = teardown)
{
	struct dmap_iova_domain *iovad;
	const uint64_t last = (1u << 14) - 1;
	uint8_t *owner = calloc(last + 1, 1);
	struct stress s[2];
	pthread_t th[2];
	uint64_t initial;

	cr_assert_eq(dmap_iova_create(&t_env, 1, last, true, &iovad), 0);
	initial = dmap_iova_free_granules(iovad);
	for (int i = 0; i < 2; i++) {
		s[i] = (struct stress){ .iovad = iovad,
					.owner = owner,
					.seed = 0x9e3779b97f4a7c15ull * (i + 1) };
		pthread_create(&th[i], NULL, stress_thread, &s[i]);
	}
	for (int i = 0; i < 2; i++) {
		pthread_join(th[i], NULL);
		cr_assert_eq(s[i].failures, 0, "thread %d saw %d overlaps or failed frees", i,
			     s[i].failures);
	}
	cr_assert_eq(dmap_iova_free_granules(iovad), initial);
	dmap_iova_destroy(iovad);
	free(owner);
}
