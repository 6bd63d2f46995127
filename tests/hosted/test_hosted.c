// SPDX-License-Identifier: MIT
/*
 * tests/hosted/test_hosted.c - the hosted environment: RAM registration and
 * its errors, phys<->virt round trips, the pool page allocator, deferred
 * frees, logging and counters.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

#include <criterion/criterion.h>

#include <dmap/hosted.h>
#include <dmap/helpers.h>

#include "test_env.h"

#define KiB 1024ull
#define MiB (1024ull * KiB)
#define GiB (1024ull * MiB)

static struct dmap_test_env t;

static void setup(void)
{
	dmap_test_env_init(&t, 0, 0, false);
}

static void teardown(void)
{
	dmap_test_env_fini(&t);
}

TestSuite(hosted, .init = setup, .fini = teardown, .timeout = 30);

Test(hosted, registration_errors)
{
	void *host = (void *)1;

	cr_assert_eq(dmap_hosted_mem_add(t.hosted, 0x1000 + 1, 4096, 0, &host), -DMAP_EINVAL);
	cr_assert_null(host);
	cr_assert(dmap_test_log_has(&t, "0x1001", "not 4 KiB aligned", NULL));
	cr_assert_eq(dmap_hosted_mem_add(t.hosted, 0x1000, 0, 0, NULL), -DMAP_EINVAL);
	cr_assert_eq(dmap_hosted_mem_add(t.hosted, 0x1000, 4095, 0, NULL), -DMAP_EINVAL);
	cr_assert_eq(dmap_hosted_mem_add(t.hosted, 0x1000, 6000, 0, NULL), -DMAP_EINVAL);
	/* Wraps: last byte would be 2^64 + 0xfff. */
	cr_assert_eq(dmap_hosted_mem_add(t.hosted, UINT64_MAX - 0xfff, 8192, 0, NULL),
		     -DMAP_EINVAL);
	cr_assert(dmap_test_log_has(&t, "wraps past 2^64", NULL));
	cr_assert_eq(dmap_hosted_mem_add(t.hosted, 0, 4096, 0x80, NULL), -DMAP_EINVAL);
	cr_assert(dmap_test_log_has(&t, "unknown RAM flags 0x80", NULL));
	cr_assert_eq(dmap_hosted_mem_add(NULL, 0, 4096, 0, NULL), -DMAP_EINVAL);
	cr_assert_eq(dmap_hosted_mem_add_external(t.hosted, 0, 4096, 0, NULL), -DMAP_EINVAL);

	cr_assert_eq(dmap_hosted_mem_add(t.hosted, 0x100000, 64 * KiB, 0, &host), 0);
	cr_assert_not_null(host);
	dmap_test_log_clear(&t);
	/* Overlaps at the end, at the start, inside, and around. */
	cr_assert_eq(dmap_hosted_mem_add(t.hosted, 0x10f000, 8192, 0, NULL), -DMAP_EEXIST);
	cr_assert(dmap_test_log_has(&t, "[0x10f000-0x110fff]", "[0x100000-0x10ffff]", NULL));
	cr_assert_eq(dmap_hosted_mem_add(t.hosted, 0xff000, 8192, 0, NULL), -DMAP_EEXIST);
	cr_assert_eq(dmap_hosted_mem_add(t.hosted, 0x104000, 4096, 0, NULL), -DMAP_EEXIST);
	cr_assert_eq(dmap_hosted_mem_add(t.hosted, 0, 1 * GiB, 0, NULL), -DMAP_EEXIST);
	/* Adjacent on both sides is fine. */
	cr_assert_eq(dmap_hosted_mem_add(t.hosted, 0xff000, 4096, 0, NULL), 0);
	cr_assert_eq(dmap_hosted_mem_add(t.hosted, 0x110000, 4096, 0, NULL), 0);
	/* The same host memory cannot be registered twice. */
	cr_assert_eq(dmap_hosted_mem_add_external(t.hosted, 0x200000, 4096, 0, host), -DMAP_EEXIST);
	cr_assert(dmap_test_log_has(&t, "already registered as physical 0x100000", NULL));

	cr_assert_eq(dmap_hosted_mem_remove(t.hosted, 0x101000), -DMAP_ENOENT);
	cr_assert(dmap_test_log_has(&t, "no RAM region starts at 0x101000", NULL));
	cr_assert_eq(dmap_hosted_mem_remove(t.hosted, 0x100000), 0);
	cr_assert_eq(dmap_hosted_mem_remove(t.hosted, 0x100000), -DMAP_ENOENT);
	cr_assert_null(dmap_hosted_phys_ptr(t.hosted, 0x100000, 1));
	cr_assert_not_null(dmap_hosted_phys_ptr(t.hosted, 0xff000, 4096));
	cr_assert_eq(dmap_hosted_mem_remove(NULL, 0), -DMAP_EINVAL);
}

Test(hosted, phys_virt_round_trip_two_regions)
{
	const struct dmap_env *env = t.env;
	void *low, *high;
	dmap_phys_t phys;
	size_t contig;

	cr_assert_eq(dmap_hosted_mem_add(t.hosted, 0x80000000, 1 * MiB, 0, &low), 0);
	cr_assert_eq(dmap_hosted_mem_add(t.hosted, 0x80100000, 2 * MiB, 0, &high), 0);
	for (uint64_t off = 0; off < 3 * MiB; off += 4093) {
		dmap_phys_t p = 0x80000000 + off;
		char *va = env->ops->phys_to_virt(env->cookie, p, &contig);
		bool in_low = off < 1 * MiB;

		cr_assert_not_null(va);
		cr_assert_eq(va, in_low ? (char *)low + off : (char *)high + (off - 1 * MiB));
		cr_assert_eq(contig, in_low ? 1 * MiB - off : 3 * MiB - off, "contig at 0x%llx",
			     (unsigned long long)p);
		cr_assert_eq(env->ops->virt_to_phys(env->cookie, va, &phys, &contig), 0);
		cr_assert_eq(phys, p);
		cr_assert_eq(contig, in_low ? 1 * MiB - off : 3 * MiB - off);
	}
	/* The two host mappings are separate: contiguity stops at the region edge. */
	cr_assert_eq(env->ops->phys_to_virt(env->cookie, 0x800fffff, &contig),
		     (char *)low + 0xfffff);
	cr_assert_eq(contig, 1);
	cr_assert_null(env->ops->phys_to_virt(env->cookie, 0x7fffffff, &contig));
	cr_assert_null(env->ops->phys_to_virt(env->cookie, 0x80300000, &contig));
	cr_assert_eq(env->ops->virt_to_phys(env->cookie, &phys, &phys, &contig), -DMAP_EFAULT);
	cr_assert_eq(env->ops->max_ram_address(env->cookie), 0x802fffff);

	/* Memory is zeroed and writable; a write through one view shows in the other. */
	cr_assert_eq(((char *)high)[12345], 0);
	memset(dmap_hosted_phys_ptr(t.hosted, 0x80100000 + 12345, 10), 0x5a, 10);
	cr_assert_eq(((unsigned char *)high)[12345 + 9], 0x5a);
	cr_assert_null(dmap_hosted_phys_ptr(t.hosted, 0x800fffff, 2), "crosses a region edge");
	cr_assert_null(dmap_hosted_phys_ptr(NULL, 0x80000000, 1));

	cr_assert_eq(dmap_hosted_mem_remove(t.hosted, 0x80100000), 0);
	cr_assert_eq(env->ops->max_ram_address(env->cookie), 0x800fffff);
}

Test(hosted, region_ending_at_2_pow_64)
{
	const struct dmap_env *env = t.env;
	dmap_phys_t base = 0ull - 64 * KiB, phys = 0;
	size_t contig = 0;
	char *host, *va;

	cr_assert_eq(
		dmap_hosted_mem_add(t.hosted, base, 64 * KiB, DMAP_HOSTED_MEM_POOL, (void **)&host),
		0);
	va = env->ops->phys_to_virt(env->cookie, UINT64_MAX, &contig);
	cr_assert_eq(va, host + 64 * KiB - 1);
	cr_assert_eq(contig, 1);
	cr_assert_eq(env->ops->virt_to_phys(env->cookie, va, &phys, &contig), 0);
	cr_assert_eq(phys, UINT64_MAX);
	cr_assert_eq(env->ops->max_ram_address(env->cookie), UINT64_MAX);
	cr_assert_not_null(dmap_hosted_phys_ptr(t.hosted, base, 64 * KiB));
	cr_assert_null(dmap_hosted_phys_ptr(t.hosted, base + 1, 64 * KiB));

	/* The pool allocator handles a region whose end is 2^64 and a limit of all ones. */
	va = env->ops->alloc_dma_pages(env->cookie, 64 * KiB, 0, UINT64_MAX, &phys);
	cr_assert_eq(va, host);
	cr_assert_eq(phys, base);
	cr_assert_null(env->ops->alloc_dma_pages(env->cookie, 4096, 0, UINT64_MAX, &phys));
	env->ops->free_dma_pages(env->cookie, va, phys, 64 * KiB);
	cr_assert_eq(dmap_hosted_mem_remove(t.hosted, base), 0);
}

Test(hosted, large_sparse_region_is_cheap)
{
	char *host;

	/* 64 GiB of MAP_NORESERVE memory: only touched pages cost anything. */
	cr_assert_eq(dmap_hosted_mem_add(t.hosted, 1ull << 40, 64 * GiB, 0, (void **)&host), 0);
	host[0] = 1;
	host[64 * GiB - 1] = 2;
	cr_assert_eq(*(char *)dmap_hosted_phys_ptr(t.hosted, (1ull << 40) + 64 * GiB - 1, 1), 2);
}

Test(hosted, dma_pages_limit_alignment_exhaustion)
{
	const struct dmap_env *env = t.env;
	dmap_phys_t phys[8];
	void *va[8];
	char *low, *high;
	struct dmap_hosted_counters counters;

	/* Pool RAM below and above 4 GiB, plus non-pool RAM that must never be handed out. */
	cr_assert_eq(dmap_hosted_mem_add(t.hosted, 0xfff00000, 1 * MiB, DMAP_HOSTED_MEM_POOL,
					 (void **)&low),
		     0);
	cr_assert_eq(dmap_hosted_mem_add(t.hosted, 0x100000000, 1 * MiB, DMAP_HOSTED_MEM_POOL,
					 (void **)&high),
		     0);
	cr_assert_eq(dmap_hosted_mem_add(t.hosted, 0x200000000, 4 * MiB, 0, NULL), 0);

	/* No limit: highest pool memory first. */
	va[0] = env->ops->alloc_dma_pages(env->cookie, 5000, 0, UINT64_MAX, &phys[0]);
	cr_assert_not_null(va[0]);
	cr_assert_geq(phys[0], 0x100000000);
	cr_assert_eq(phys[0] % 4096, 0);
	cr_assert_eq(va[0], high + (phys[0] - 0x100000000));
	cr_assert_leq(phys[0] + 8192 - 1, 0x1000fffff);

	/* 32-bit limit: must come from below 4 GiB. */
	memset(low, 0xee, 1 * MiB); /* allocation must zero it */
	va[1] = env->ops->alloc_dma_pages(env->cookie, 64 * KiB, 0, 0xffffffff, &phys[1]);
	cr_assert_not_null(va[1]);
	cr_assert_leq(phys[1] + 64 * KiB - 1, 0xffffffff);
	for (size_t i = 0; i < 64 * KiB; i++)
		cr_assert_eq(((unsigned char *)va[1])[i], 0);

	/* A limit that ends inside the low region: last byte must not pass it. */
	va[2] = env->ops->alloc_dma_pages(env->cookie, 8192, 0, 0xfff07fff, &phys[2]);
	cr_assert_not_null(va[2]);
	cr_assert_leq(phys[2] + 8192 - 1, 0xfff07fff);

	/* Alignment larger than a page. */
	va[3] = env->ops->alloc_dma_pages(env->cookie, 4096, 256 * KiB, UINT64_MAX, &phys[3]);
	cr_assert_not_null(va[3]);
	cr_assert_eq(phys[3] % (256 * KiB), 0);

	/* Non-power-of-two alignment and zero size are refused. */
	cr_assert_null(
		env->ops->alloc_dma_pages(env->cookie, 4096, 3 * 4096, UINT64_MAX, &phys[4]));
	cr_assert_null(env->ops->alloc_dma_pages(env->cookie, 0, 0, UINT64_MAX, &phys[4]));
	/* A limit below all pool memory. */
	cr_assert_null(env->ops->alloc_dma_pages(env->cookie, 4096, 0, 0xffefffff, &phys[4]));
	cr_assert(dmap_test_log_has(&t, "no pool memory", NULL));

	cr_assert_eq(dmap_hosted_get_counters(t.hosted, &counters), 0);
	cr_assert_eq(counters.pool_bytes_in_use, 8192 + 64 * KiB + 8192 + 4096);

	/* A region with allocated pool pages cannot be removed. */
	cr_assert_eq(dmap_hosted_mem_remove(t.hosted, 0xfff00000), -DMAP_EBUSY);
	cr_assert(dmap_test_log_has(&t, "[0xfff00000-0xffffffff]", "pool pages", NULL));

	/* Exhaustion: the rest of the 2 MiB, then nothing. */
	size_t got = 0;
	void *chunk;
	dmap_phys_t chunk_phys;

	while ((chunk = env->ops->alloc_dma_pages(env->cookie, 4096, 0, UINT64_MAX, &chunk_phys)))
		got++;
	cr_assert_eq(got * 4096 + 8192 + 64 * KiB + 8192 + 4096, 2 * MiB);

	/* A bad free is reported, not obeyed. */
	dmap_test_log_clear(&t);
	env->ops->free_dma_pages(env->cookie, (char *)va[0] + 1, phys[0] + 1, 4096);
	cr_assert(dmap_test_log_has(&t, "not allocated", NULL));

	/* Free and reuse. */
	env->ops->free_dma_pages(env->cookie, va[1], phys[1], 64 * KiB);
	va[5] = env->ops->alloc_dma_pages(env->cookie, 64 * KiB, 0, 0xffffffff, &phys[5]);
	cr_assert_eq(phys[5], phys[1]);
	/* Double free is reported. */
	env->ops->free_dma_pages(env->cookie, va[5], phys[5], 64 * KiB);
	dmap_test_log_clear(&t);
	env->ops->free_dma_pages(env->cookie, va[5], phys[5], 64 * KiB);
	cr_assert(dmap_test_log_has(&t, "not allocated", NULL));
	/* The destroy in teardown warns about the leaked pages and unmaps anyway. */
}

Test(hosted, table_pages)
{
	const struct dmap_env *env = t.env;
	dmap_phys_t phys;
	void *va;

	cr_assert_eq(dmap_hosted_mem_add(t.hosted, 0x40000000, 1 * MiB, DMAP_HOSTED_MEM_POOL, NULL),
		     0);
	for (size_t size = 512; size <= 64 * KiB; size *= 2) {
		va = env->ops->alloc_table_page(env->cookie, size, &phys);
		cr_assert_not_null(va, "size %zu", size);
		cr_assert_eq(phys % size, 0);
		cr_assert_eq((uintptr_t)va % dmap_min(size, 4096), 0);
		cr_assert_eq(env->ops->phys_to_virt(env->cookie, phys, NULL), va);
		env->ops->free_table_page(env->cookie, va, phys, size);
	}
	cr_assert_null(env->ops->alloc_table_page(env->cookie, 256, &phys));
	cr_assert_null(env->ops->alloc_table_page(env->cookie, 128 * KiB, &phys));
	cr_assert_null(env->ops->alloc_table_page(env->cookie, 3000, &phys));
}

Test(hosted, external_memory)
{
	const struct dmap_env *env = t.env;
	char *mem =
		mmap(NULL, 64 * KiB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	dmap_phys_t phys;
	size_t contig;

	cr_assert_neq(mem, MAP_FAILED);
	mem[100] = 42;
	cr_assert_eq(dmap_hosted_mem_add_external(t.hosted, 0x9000000, 64 * KiB, 0, mem), 0);
	cr_assert_eq(*(char *)env->ops->phys_to_virt(env->cookie, 0x9000064, &contig), 42);
	cr_assert_eq(env->ops->virt_to_phys(env->cookie, mem + 100, &phys, &contig), 0);
	cr_assert_eq(phys, 0x9000064);
	cr_assert_eq(dmap_hosted_mem_remove(t.hosted, 0x9000000), 0);
	/* Wait for the grace period: external memory must not be unmapped. */
	env->ops->rcu_barrier(env->cookie);
	cr_assert_eq(mem[100], 42);
	munmap(mem, 64 * KiB);
}

struct rcu_probe {
	struct dmap_rcu_head head;
	int *counter;
};

static void rcu_probe_run(struct dmap_rcu_head *head)
{
	struct rcu_probe *probe = dmap_container_of(head, struct rcu_probe, head);

	__atomic_fetch_add(probe->counter, 1, __ATOMIC_SEQ_CST);
}

static void *call_rcu_thread(void *arg)
{
	const struct dmap_env *env = t.env;
	struct rcu_probe *probes = arg;

	for (int i = 0; i < 1000; i++) {
		dmap_rcu_read_lock();
		env->ops->call_rcu(env->cookie, &probes[i].head, rcu_probe_run);
		dmap_rcu_read_unlock();
	}
	return NULL;
}

Test(hosted, call_rcu_and_barrier)
{
	const struct dmap_env *env = t.env;
	static struct rcu_probe probes[4][1000];
	pthread_t threads[4];
	int counter = 0;

	for (int i = 0; i < 4; i++)
		for (int j = 0; j < 1000; j++)
			probes[i][j].counter = &counter;
	for (int i = 0; i < 4; i++)
		pthread_create(&threads[i], NULL, call_rcu_thread, probes[i]);
	for (int i = 0; i < 4; i++)
		pthread_join(threads[i], NULL);
	env->ops->rcu_barrier(env->cookie);
	cr_assert_eq(__atomic_load_n(&counter, __ATOMIC_SEQ_CST), 4000);
	env->ops->synchronize_rcu(env->cookie);
	env->ops->rcu_barrier(env->cookie); /* nothing queued: returns */
}

static void *last_message_thread(void *arg)
{
	const struct dmap_env *env = t.env;

	(void)arg;
	dmap_hosted_clear_last_message();
	cr_assert_str_empty(dmap_hosted_last_message());
	dmap_log(env, DMAP_LOG_ERR, "thread %s", "two");
	dmap_log(env, DMAP_LOG_INFO, "info does not replace it");
	return strdup(dmap_hosted_last_message());
}

Test(hosted, last_message_per_thread_and_counters)
{
	const struct dmap_env *env = t.env;
	struct dmap_hosted_counters counters;
	pthread_t thread;
	char *other;

	dmap_hosted_clear_last_message();
	dmap_log(env, DMAP_LOG_WARN, "main %d", 1);
	dmap_log(env, DMAP_LOG_DEBUG, "debug %d", 2);
	pthread_create(&thread, NULL, last_message_thread, NULL);
	pthread_join(thread, (void **)&other);
	cr_assert_str_eq(other, "thread two");
	free(other);
	cr_assert_str_eq(dmap_hosted_last_message(), "main 1");
	dmap_hosted_clear_last_message();
	cr_assert_str_empty(dmap_hosted_last_message());

	cr_assert_eq(dmap_hosted_get_counters(t.hosted, &counters), 0);
	cr_assert_eq(counters.messages[DMAP_LOG_WARN], 1);
	cr_assert_eq(counters.messages[DMAP_LOG_ERR], 1);
	cr_assert_eq(counters.messages[DMAP_LOG_INFO], 1);
	cr_assert_eq(counters.messages[DMAP_LOG_DEBUG], 1);
	cr_assert_eq(counters.cache_cleans, 0);
	cr_assert_null(env->ops->cache_clean, "coherent environment installs no cache hooks");
	cr_assert_eq(dmap_hosted_get_counters(NULL, &counters), -DMAP_EINVAL);
	cr_assert(dmap_test_log_has(&t, "main 1", NULL));
	cr_assert_eq(dmap_test_log_count(&t, "thread two"), 1);
	cr_assert_eq(t.warnings, 2);
}

Test(hosted, non_coherent_cache_hooks, .init = NULL, .fini = NULL)
{
	struct dmap_hosted_counters counters;
	struct dmap_hosted *hosted;
	struct dmap_hosted_config config = { .non_coherent = true };
	const struct dmap_env *env;
	char buf[64];

	cr_assert_eq(dmap_hosted_create(&config, &hosted), 0);
	env = dmap_hosted_env(hosted);
	cr_assert_not_null(env->ops->cache_clean);
	env->ops->cache_clean(env->cookie, buf, sizeof(buf));
	env->ops->cache_invalidate(env->cookie, buf, sizeof(buf));
	env->ops->cache_invalidate(env->cookie, buf, sizeof(buf));
	cr_assert_eq(dmap_hosted_get_counters(hosted, &counters), 0);
	cr_assert_eq(counters.cache_cleans, 1);
	cr_assert_eq(counters.cache_invalidates, 2);
	cr_assert_gt(env->ops->now_ns(env->cookie), 0);
	dmap_hosted_destroy(hosted);
	dmap_hosted_destroy(NULL);
	cr_assert_null(dmap_hosted_env(NULL));
	cr_assert_eq(dmap_hosted_create(NULL, NULL), -DMAP_EINVAL);
}

Test(hosted, allocator_alignments)
{
	const struct dmap_env *env = t.env;
	void *ptrs[64];
	size_t sizes[64], aligns[64];

	/* Mixed small/large sizes and alignments up to a page, freed out of order. */
	for (int round = 0; round < 20; round++) {
		for (int i = 0; i < 64; i++) {
			sizes[i] = (size_t)(i * 37 + round * 11) % 5000 + 1;
			aligns[i] = (size_t)1 << ((i + round) % 13);
			ptrs[i] = env->ops->alloc(env->cookie, sizes[i], aligns[i],
						  (i & 1) ? DMAP_ALLOC_ZERO : 0);
			cr_assert_not_null(ptrs[i]);
			cr_assert_eq((uintptr_t)ptrs[i] % aligns[i], 0, "size %zu align %zu",
				     sizes[i], aligns[i]);
			if (i & 1)
				for (size_t k = 0; k < sizes[i]; k++)
					cr_assert_eq(((char *)ptrs[i])[k], 0);
			memset(ptrs[i], 0xab, sizes[i]);
		}
		for (int i = 0; i < 64; i++) {
			int j = (i * 29 + round) % 64;

			env->ops->free(env->cookie, ptrs[j], sizes[j]);
		}
	}
	cr_assert_null(env->ops->alloc(env->cookie, 64, 3, 0), "alignment not a power of two");
	cr_assert_null(env->ops->alloc(env->cookie, 64, 8192, 0), "alignment above 4096");
	env->ops->free(env->cookie, NULL, 0);
}

Test(hosted, test_env_helpers, .init = NULL, .fini = NULL)
{
	struct dmap_test_env local;
	struct dmap_dev *dev;

	dmap_test_env_init(&local, 0x10000000, 1 * MiB, true);
	cr_assert_not_null(local.ctx);
	*(char *)dmap_test_ram(&local, 0x10000010) = 7;
	cr_assert_eq(((char *)local.ram)[0x10], 7);
	cr_assert_not_null(local.env->ops->cache_clean);
	dev = dmap_test_dev(&local, "nic0", DMAP_BIT_MASK(64));
	cr_assert_not_null(dev);
	cr_assert_eq(dmap_dev_destroy(dev), 0);
	dmap_log(local.env, DMAP_LOG_INFO, "hello %s", "world");
	cr_assert(dmap_test_log_has(&local, "hello", "world", NULL));
	cr_assert_not(dmap_test_log_has(&local, "hello", "mars", NULL));
	dmap_test_log_clear(&local);
	cr_assert_not(dmap_test_log_has(&local, "hello", NULL));
	for (int i = 0; i < DMAP_TEST_LOG_LINES + 10; i++)
		dmap_log(local.env, DMAP_LOG_INFO, "line %d", i);
	cr_assert_eq(dmap_test_log_count(&local, "line "), DMAP_TEST_LOG_LINES);
	cr_assert(dmap_test_log_has(&local, "line 265", NULL));
	cr_assert_eq(local.messages, DMAP_TEST_LOG_LINES + 10);
	dmap_test_env_fini(&local);
}
