// SPDX-License-Identifier: MIT
/*
 * tests/bounce/stress_bounce.c - two threads against one bounce pool and one
 * bounce domain, checking every byte, meant to run under ThreadSanitizer.
 *
 * A plain program rather than a Criterion test: Criterion cannot start under
 * ThreadSanitizer ("Could not initialize inheritable arena", Criterion issue
 * 274), and this is the test that most needs TSan. Exit status 0 = pass.
 *
 *  pool:   both threads allocate and free random runs on a 1 MiB pool (so
 *          they exhaust it and run the draining slow path concurrently),
 *          claiming every slot in a shared ownership map: any slot handed to
 *          two threads at once fails the test;
 *  domain: both threads map, let the "device" read and write, sync and unmap
 *          random buffers through a small domain with growth on, checking
 *          that the device sees the CPU's bytes and the CPU gets the device's.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <dmap/bounce.h>
#include <dmap/hosted.h>
#include <dmap/ops.h>

#include "pool.h"

#define POOL_BASE 0x40000000ull
#define POOL_SLOTS 512u

static int failures;
static const struct dmap_env *env;
static struct dmap_hosted *hosted;

#define CHECK(cond, ...)                                                    \
	do {                                                                \
		if (!(cond)) {                                              \
			fprintf(stderr, "%s:%d: ", __FILE__, __LINE__);     \
			fprintf(stderr, __VA_ARGS__);                       \
			fprintf(stderr, "\n");                              \
			__atomic_add_fetch(&failures, 1, __ATOMIC_RELAXED); \
			return NULL;                                        \
		}                                                           \
	} while (0)

/* ---- pool ---------------------------------------------------------------- */

struct pool_arg {
	struct dmap_bounce_pool *pool;
	unsigned int seed;
	long ops;
	uint8_t *owner;
	uint8_t id;
};

static void *pool_thread(void *p)
{
	struct pool_arg *a = p;
	long heads[64];
	uint32_t units[64];
	int live = 0;

	for (long i = 0; i < a->ops; i++) {
		if (live < 64 && (live == 0 || rand_r(&a->seed) % 2)) {
			uint32_t u = 1 + rand_r(&a->seed) % (rand_r(&a->seed) % 8 ? 8 : 200);
			long h = dmap_bounce_pool_alloc(a->pool, u, rand_r(&a->seed) % 2,
							DMAP_BOUNCE_NO_BOUNDARY);
			uint64_t first;

			if (h < 0)
				continue;
			first = (dmap_bounce_pool_slot_phys(a->pool, h) - POOL_BASE) >> 11;
			CHECK(first + u <= POOL_SLOTS, "run past the pool");
			for (uint32_t k = 0; k < u; k++) {
				uint8_t expected = 0;

				CHECK(__atomic_compare_exchange_n(&a->owner[first + k], &expected,
								  a->id, 0, __ATOMIC_RELAXED,
								  __ATOMIC_RELAXED),
				      "pool: slot %llu (run %ld+%u) already owned by thread %u",
				      (unsigned long long)(first + k), h, u, expected);
			}
			dmap_bounce_pool_publish(a->pool, h);
			heads[live] = h;
			units[live++] = u;
		} else {
			int k = rand_r(&a->seed) % live;
			long h = heads[k];
			uint64_t first = (dmap_bounce_pool_slot_phys(a->pool, h) - POOL_BASE) >> 11;
			uint64_t state;

			CHECK(dmap_bounce_pool_find(a->pool, POOL_BASE + (first << 11) + 5,
						    &state) == h,
			      "pool: find lost run %ld", h);
			CHECK(dmap_bounce_pool_claim(a->pool, h, state), "pool: claim failed");
			for (uint32_t j = 0; j < units[k]; j++)
				__atomic_store_n(&a->owner[first + j], 0, __ATOMIC_RELAXED);
			dmap_bounce_pool_free(a->pool, h);
			heads[k] = heads[--live];
			units[k] = units[live];
		}
	}
	while (live--) {
		uint64_t state;
		long h = heads[live];
		uint64_t first = (dmap_bounce_pool_slot_phys(a->pool, h) - POOL_BASE) >> 11;

		CHECK(dmap_bounce_pool_find(a->pool, POOL_BASE + (first << 11), &state) == h,
		      "pool: find lost run");
		dmap_bounce_pool_claim(a->pool, h, state);
		for (uint32_t j = 0; j < units[live]; j++)
			__atomic_store_n(&a->owner[first + j], 0, __ATOMIC_RELAXED);
		dmap_bounce_pool_free(a->pool, h);
	}
	return NULL;
}

static void stress_pool(unsigned int caches, bool thread_caches, long ops)
{
	struct dmap_bounce_pool_params params = { .thread_caches = thread_caches,
						  .phys = POOL_BASE,
						  .bus = POOL_BASE,
						  .size = POOL_SLOTS << 11,
						  .slot_shift = 11,
						  .top_order = 9,
						  .nr_caches = caches };
	struct dmap_bounce_pool *pool;
	uint8_t owner[POOL_SLOTS] = { 0 };
	struct pool_arg args[2];
	pthread_t t[2];
	long a, b;

	if (dmap_bounce_pool_create(env, &params, &pool)) {
		failures++;
		return;
	}
	for (int i = 0; i < 2; i++) {
		args[i] = (struct pool_arg){ .pool = pool,
					     .seed = 7u + (unsigned int)i + caches,
					     .ops = ops,
					     .owner = owner,
					     .id = (uint8_t)(i + 1) };
		pthread_create(&t[i], NULL, pool_thread, &args[i]);
	}
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	if (dmap_bounce_pool_slots_in_use(pool) != 0) {
		fprintf(stderr, "pool: %llu slots still in use\n",
			(unsigned long long)dmap_bounce_pool_slots_in_use(pool));
		failures++;
	}
	if (thread_caches) {
		/* Runs the exited threads' own caches keep are parked, not lost: count them. */
		struct dmap_bounce_pool_stats st;
		uint64_t parked = 0;

		dmap_bounce_pool_get_stats(pool, &st);
		for (unsigned int o = 0; o < DMAP_BOUNCE_POOL_MAX_ORDERS; o++)
			parked += st.free_by_order[o] << o;
		if (st.slots_free + parked != POOL_SLOTS) {
			fprintf(stderr, "pool: %llu free + %llu parked != %u slots\n",
				(unsigned long long)st.slots_free, (unsigned long long)parked,
				POOL_SLOTS);
			failures++;
		}
		/*
		 * The exited threads' caches come back: the first failing request
		 * revokes them, and after a grace period the whole pool is one run.
		 */
		a = dmap_bounce_pool_alloc(pool, POOL_SLOTS, 0, DMAP_BOUNCE_NO_BOUNDARY);
		if (a < 0) {
			env->ops->rcu_barrier(env->cookie);
			a = dmap_bounce_pool_alloc(pool, POOL_SLOTS, 0, DMAP_BOUNCE_NO_BOUNDARY);
		}
		b = dmap_bounce_pool_alloc(pool, 1, 0, DMAP_BOUNCE_NO_BOUNDARY);
		if (a < 0 || b != -DMAP_ENOSPC) {
			fprintf(stderr, "pool: dead threads' caches did not come back (%ld, %ld)\n",
				a, b);
			failures++;
		}
	} else {
		/* Nothing lost: the whole pool as one run (this drains the size classes). */
		a = dmap_bounce_pool_alloc(pool, POOL_SLOTS, 0, DMAP_BOUNCE_NO_BOUNDARY);
		b = dmap_bounce_pool_alloc(pool, 1, 0, DMAP_BOUNCE_NO_BOUNDARY);
		if (a < 0 || b != -DMAP_ENOSPC) {
			fprintf(stderr, "pool: the whole pool did not come back (%ld, %ld)\n", a,
				b);
			failures++;
		}
	}
	dmap_bounce_pool_destroy(pool);
	printf("pool stress (%u %s caches, %ld ops x 2 threads): %s\n", caches,
	       thread_caches ? "thread-owned" : "locked", ops, failures ? "FAIL" : "ok");
}

/* ---- domain --------------------------------------------------------------- */

#define RAM_BASE 0x10000000ull
#define RAM_SIZE (16ull << 20)
#define BUF_BASE 0x100000000ull
#define BUF_SIZE (8ull << 20)

struct dom_arg {
	struct dmap_dev *dev;
	unsigned char *buf; /* this thread's half of the buffer region */
	dmap_phys_t phys;
	unsigned int seed;
	long ops;
};

struct live_map {
	dmap_addr_t bus;
	size_t off, size;
	enum dmap_dir dir;
	unsigned char *expect; /* what the CPU must hold after unmap */
};

static void *dom_thread(void *p)
{
	struct dom_arg *a = p;
	unsigned char *dev_buf = malloc(300 << 10);
	struct live_map live[4] = { 0 }; /* one per 1 MiB window; size 0 = window free */

	for (long i = 0; i < a->ops; i++) {
		int w = rand_r(&a->seed) % 4;
		struct live_map *m = &live[w];

		if (!m->size) {
			unsigned char *cpu;

			m->size = 1 + (size_t)rand_r(&a->seed) %
					      (rand_r(&a->seed) % 4 ? 8192 : (280 << 10));
			m->off = ((size_t)w << 20) +
				 (size_t)rand_r(&a->seed) % ((1 << 20) - m->size);
			m->dir = (enum dmap_dir)(rand_r(&a->seed) % 3);
			cpu = a->buf + m->off;
			for (size_t k = 0; k < m->size; k += 97)
				cpu[k] = (unsigned char)(i + k);
			m->bus = dmap_map_phys(a->dev, a->phys + m->off, m->size, m->dir,
					       DMAP_ATTR_NO_WARN);
			if (m->bus == DMAP_MAPPING_ERROR) {
				m->size = 0; /* exhaustion is allowed; corruption is not */
				continue;
			}
			m->expect = malloc(m->size);
			memcpy(m->expect, cpu, m->size);
			CHECK(dmap_dev_read(a->dev, m->bus, dev_buf, m->size) == 0,
			      "domain: device read failed");
			CHECK(memcmp(dev_buf, m->expect, m->size) == 0,
			      "domain: device saw wrong bytes");
			if (m->dir != DMAP_TO_DEVICE) {
				for (size_t k = 0; k < m->size; k += 89)
					dev_buf[k] = (unsigned char)(0x5a ^ k ^ i);
				CHECK(dmap_dev_write(a->dev, m->bus, dev_buf, m->size) == 0,
				      "domain: write failed");
				CHECK(dmap_sync_single_for_cpu(a->dev, m->bus, m->size, m->dir) ==
					      0,
				      "domain: sync");
				CHECK(memcmp(cpu, dev_buf, m->size) == 0,
				      "domain: sync_for_cpu lost bytes");
				memcpy(m->expect, dev_buf, m->size);
			}
		} else {
			CHECK(dmap_unmap_phys(a->dev, m->bus, m->size, m->dir, 0) == 0,
			      "domain: unmap failed");
			CHECK(memcmp(a->buf + m->off, m->expect, m->size) == 0,
			      "domain: unmap corrupted the buffer");
			free(m->expect);
			m->size = 0;
		}
	}
	for (int w = 0; w < 4; w++) {
		struct live_map *m = &live[w];

		if (!m->size)
			continue;
		CHECK(dmap_unmap_phys(a->dev, m->bus, m->size, m->dir, 0) == 0,
		      "domain: unmap failed");
		CHECK(memcmp(a->buf + m->off, m->expect, m->size) == 0,
		      "domain: final unmap corrupted the buffer");
		free(m->expect);
	}
	free(dev_buf);
	return NULL;
}

static void stress_domain(long ops)
{
	struct dmap_bounce_config cfg = { .name = "stress",
					  .pool_size = 1 << 20,
					  .max_mapping_size = 512 << 10,
					  .allow_growth = true,
					  .growth_cap = 2 << 20 };
	struct dmap_dev_info info = { .name = "stress-dev", .flags = DMAP_DEV_COHERENT };
	struct dmap_bounce_stats s;
	struct dmap_domain *dom;
	struct dmap_ctx *ctx;
	struct dmap_dev *dev;
	void *ram, *buf;
	struct dom_arg args[2];
	pthread_t t[2];

	if (dmap_hosted_mem_add(hosted, RAM_BASE, RAM_SIZE, DMAP_HOSTED_MEM_POOL, &ram) ||
	    dmap_hosted_mem_add(hosted, BUF_BASE, BUF_SIZE, 0, &buf) ||
	    dmap_ctx_create(env, &ctx) || dmap_bounce_domain_create(ctx, &cfg, &dom) ||
	    dmap_dev_create(ctx, &info, &dev) || dmap_dev_attach(dev, dom)) {
		fprintf(stderr, "domain setup failed: %s\n", dmap_hosted_last_message());
		failures++;
		return;
	}
	for (int i = 0; i < 2; i++) {
		args[i] = (struct dom_arg){ .dev = dev,
					    .buf = (unsigned char *)buf + (4 << 20) * i,
					    .phys = BUF_BASE + (4ull << 20) * i,
					    .seed = 3u + (unsigned int)i,
					    .ops = ops };
		pthread_create(&t[i], NULL, dom_thread, &args[i]);
	}
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	dmap_bounce_get_stats(dom, &s);
	if (s.slots_in_use || s.live_mappings) {
		fprintf(stderr, "domain: %llu slots / %llu mappings left\n",
			(unsigned long long)s.slots_in_use, (unsigned long long)s.live_mappings);
		failures++;
	}
	printf("domain stress (%ld ops x 2 threads): %s; pools added %llu released %llu, failed_full %llu\n",
	       ops, failures ? "FAIL" : "ok", (unsigned long long)s.pools_added,
	       (unsigned long long)s.pools_released, (unsigned long long)s.failed_full);
	dmap_dev_destroy(dev);
	dmap_domain_destroy(dom);
	dmap_ctx_destroy(ctx);
}

int main(int argc, char **argv)
{
	long ops = argc > 1 ? atol(argv[1]) : 40000;

	if (dmap_hosted_create(NULL, &hosted))
		return 2;
	env = dmap_hosted_env(hosted);
	stress_pool(4, false, ops);
	stress_pool(0, false, ops);
	stress_pool(4, true, ops);
	stress_domain(ops / 20);
	dmap_hosted_destroy(hosted);
	return failures ? 1 : 0;
}
