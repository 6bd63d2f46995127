// SPDX-License-Identifier: MIT
/*
 * tests/hosted/test_hosted_stress.c - lock-free phys<->virt translation while
 * RAM regions come and go, and the pool allocator under concurrent use.
 *
 * Two readers translate addresses of a region that a writer keeps
 * registering (fresh mmap each time) and removing, and touch the first and
 * last byte of what the translation says is contiguous, inside their read
 * section. The hosted environment unmaps removed memory only after a grace
 * period, so a premature unmap shows up as a crash here (and as a report under
 * ASan/TSan). Two allocator threads meanwhile allocate, fill, check and free
 * pool pages, which must never overlap.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include <criterion/criterion.h>

#include <dmap/hosted.h>
#include <dmap/helpers.h>

#include "test_env.h"

#define FLAP_BASE 0x40000000ull
#define FLAP_SIZE (256 * 1024ull)
#define POOL_BASE 0x80000000ull
#define POOL_SIZE (4 * 1024 * 1024ull)

static struct dmap_test_env t;
static int stop;
static unsigned long bad;

struct reader_stats {
	uint64_t seed;
	unsigned long hits, misses;
};

static uint64_t xorshift(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545f4914f6cdd1dull;
}

static void *reader(void *arg)
{
	struct reader_stats *stats = arg;
	const struct dmap_env *env = t.env;

	while (!__atomic_load_n(&stop, __ATOMIC_RELAXED)) {
		dmap_phys_t phys = FLAP_BASE + xorshift(&stats->seed) % FLAP_SIZE, back;
		volatile unsigned char *va;
		size_t contig = 0, contig2;

		dmap_rcu_read_lock();
		va = env->ops->phys_to_virt(env->cookie, phys, &contig);
		if (va) {
			/*
			 * Everything promised contiguous must stay mapped until we unlock:
			 * walk it page by page, which keeps the section open long enough for
			 * a removal to land in the middle of it.
			 */
			for (size_t off = 0; off < contig; off += 4096)
				(void)va[off];
			(void)va[contig - 1];
			if (contig != FLAP_BASE + FLAP_SIZE - phys)
				__atomic_fetch_add(&bad, 1, __ATOMIC_RELAXED);
			/* The host map may already have dropped it (removal order); if not, it agrees. */
			if (!env->ops->virt_to_phys(env->cookie, (const void *)va, &back,
						    &contig2) &&
			    back != phys)
				__atomic_fetch_add(&bad, 1, __ATOMIC_RELAXED);
			stats->hits++;
		} else {
			stats->misses++;
		}
		dmap_rcu_read_unlock();
	}
	return NULL;
}

static void *flapper(void *arg)
{
	unsigned long *cycles = arg;

	while (!__atomic_load_n(&stop, __ATOMIC_RELAXED)) {
		void *host;
		struct timespec nap = { .tv_nsec = 200000 };

		if (dmap_hosted_mem_add(t.hosted, FLAP_BASE, FLAP_SIZE, 0, &host)) {
			__atomic_fetch_add(&bad, 1, __ATOMIC_RELAXED);
			break;
		}
		memset(host, 0x5a, 4096);
		nanosleep(&nap, NULL);
		if (dmap_hosted_mem_remove(t.hosted, FLAP_BASE)) {
			__atomic_fetch_add(&bad, 1, __ATOMIC_RELAXED);
			break;
		}
		(*cycles)++;
		/* Leave the hole unmapped for a while, so a premature unmap cannot hide behind
		 * the next mmap reusing the same addresses. */
		nanosleep(&nap, NULL);
	}
	return NULL;
}

static void *allocator(void *arg)
{
	unsigned char tag = (unsigned char)(uintptr_t)arg;
	const struct dmap_env *env = t.env;
	uint64_t seed = 0x1234567 + tag;

	while (!__atomic_load_n(&stop, __ATOMIC_RELAXED)) {
		size_t size = 4096 * (1 + xorshift(&seed) % 16);
		dmap_phys_t phys;
		unsigned char *va =
			env->ops->alloc_dma_pages(env->cookie, size, 0, UINT64_MAX, &phys);

		if (!va)
			continue; /* the other thread holds the rest; try again */
		for (size_t i = 0; i < size; i += 512)
			if (va[i] != 0) /* zeroed on allocation */
				__atomic_fetch_add(&bad, 1, __ATOMIC_RELAXED);
		memset(va, tag, size);
		sched_yield();
		for (size_t i = 0; i < size; i += 512)
			if (va[i] != tag) /* nobody else was given these pages */
				__atomic_fetch_add(&bad, 1, __ATOMIC_RELAXED);
		env->ops->free_dma_pages(env->cookie, va, phys, size);
	}
	return NULL;
}

Test(hosted_stress, translate_while_regions_flap, .timeout = 90)
{
	struct reader_stats stats[2] = { { .seed = 99 }, { .seed = 12345 } };
	pthread_t readers[2], flap, allocators[2];
	unsigned long cycles = 0;
	struct timespec duration = { .tv_sec = 1 };
	struct dmap_hosted_counters counters;

	dmap_test_env_init(&t, POOL_BASE, POOL_SIZE, false);
	for (int i = 0; i < 2; i++)
		cr_assert_eq(pthread_create(&readers[i], NULL, reader, &stats[i]), 0);
	cr_assert_eq(pthread_create(&flap, NULL, flapper, &cycles), 0);
	for (int i = 0; i < 2; i++)
		cr_assert_eq(
			pthread_create(&allocators[i], NULL, allocator, (void *)(uintptr_t)(i + 1)),
			0);
	nanosleep(&duration, NULL);
	__atomic_store_n(&stop, 1, __ATOMIC_RELAXED);
	for (int i = 0; i < 2; i++) {
		pthread_join(readers[i], NULL);
		pthread_join(allocators[i], NULL);
	}
	pthread_join(flap, NULL);
	cr_log_info("region add/remove cycles %lu; translations hit %lu + %lu, missed %lu + %lu",
		    cycles, stats[0].hits, stats[1].hits, stats[0].misses, stats[1].misses);
	cr_assert_eq(bad, 0, "inconsistent translation or allocation");
	cr_assert_gt(cycles, 10);
	cr_assert_gt(stats[0].hits + stats[1].hits, 0);
	cr_assert_eq(dmap_hosted_get_counters(t.hosted, &counters), 0);
	cr_assert_eq(counters.pool_bytes_in_use, 0);
	dmap_test_env_fini(&t);
}
