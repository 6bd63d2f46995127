// SPDX-License-Identifier: MIT
/*
 * bench/bounce/bench_bounce.c - dmap's bounce pool against a model of Linux
 * swiotlb (swiotlb_model.c), jemalloc and glibc malloc, in one run.
 *
 *  1. allocation+free pairs at 2 KiB, 4 KiB, 64 KiB and 256 KiB, 1 and 2
 *     threads: the pool's slot allocator alone (no copies), the swiotlb
 *     model on the same 64 MiB pool size, jemalloc's mallocx/dallocx and
 *     glibc's malloc/free (called as __libc_malloc/__libc_free so that no
 *     interposed allocator can stand in for it);
 *  2. whole dmap_map_phys + dmap_unmap_phys at 4 KiB and 64 KiB, TO_DEVICE
 *     (one copy) and BIDIRECTIONAL (two), next to the bare memcpy work;
 *  3. fragmentation: two recorded traces replayed against the dmap pool and
 *     the swiotlb model on the same pool size (64 MiB and 8 MiB), reporting
 *     the fraction served and the utilisation at the first failure.
 *
 * Every timing is the median of --reps repetitions. Usage:
 *   bench_bounce [--reps N] [--quick] [--only alloc|map|frag]
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jemalloc/jemalloc.h>

#include <dmap/bounce.h>
#include <dmap/hosted.h>
#include <dmap/ops.h>

#include "pool.h"
#include "swiotlb_model.h"

extern void *__libc_malloc(size_t size);
extern void __libc_free(void *ptr);

static int reps = 5;
static long scale = 1;

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* Call after median(): the array is sorted. */
static double best(const double *v)
{
	return v[0];
}

/* ---- environment -------------------------------------------------------- */

static struct dmap_hosted *hosted;
static const struct dmap_env *env;

static void quiet_log(void *arg, enum dmap_log_level level, const char *message)
{
	(void)arg;
	if (level <= DMAP_LOG_ERR)
		fprintf(stderr, "dmap: %s\n", message);
}

static void env_init(void)
{
	struct dmap_hosted_config cfg = { .log = quiet_log };

	if (dmap_hosted_create(&cfg, &hosted)) {
		fprintf(stderr, "hosted env failed\n");
		exit(1);
	}
	env = dmap_hosted_env(hosted);
}

/* ---- 1. allocation + free pairs ---------------------------------------- */

enum allocator { A_DMAP, A_DMAP_OWNED, A_SWIOTLB, A_JEMALLOC, A_GLIBC, A_COUNT };
static const char *const allocator_names[A_COUNT] = { "dmap pool (locked caches)",
						      "dmap pool (thread caches)", "swiotlb model",
						      "jemalloc", "glibc malloc" };

struct pair_job {
	enum allocator which;
	size_t size;
	long iterations;
	unsigned int cpu;
	struct dmap_bounce_pool *pool;
	struct swiotlb_model *model;
	pthread_barrier_t *barrier;
	uint64_t ns;
	long failures;
};

static void *pair_thread(void *arg)
{
	struct pair_job *job = arg;
	uint32_t units = (uint32_t)((job->size + 2047) >> 11);
	unsigned int align = job->size >= 4096 ? 1 : 0;
	uint64_t t0;
	long i;

	pthread_barrier_wait(job->barrier);
	t0 = now_ns();
	switch (job->which) {
	case A_DMAP:
	case A_DMAP_OWNED:
		for (i = 0; i < job->iterations; i++) {
			long index = dmap_bounce_pool_alloc(job->pool, units, align,
							    DMAP_BOUNCE_NO_BOUNDARY);

			if (index < 0) {
				job->failures++;
				continue;
			}
			dmap_bounce_pool_free(job->pool, index);
		}
		break;
	case A_SWIOTLB:
		for (i = 0; i < job->iterations; i++) {
			long index = swiotlb_model_alloc(job->model, job->size, 0, 0, job->cpu);

			if (index < 0) {
				job->failures++;
				continue;
			}
			swiotlb_model_free(job->model, index, job->size, 0, 0);
		}
		break;
	case A_JEMALLOC:
		for (i = 0; i < job->iterations; i++) {
			void *p = mallocx(job->size, 0);

			__asm__ __volatile__("" : : "r"(p) : "memory");
			dallocx(p, 0);
		}
		break;
	case A_GLIBC:
		for (i = 0; i < job->iterations; i++) {
			void *p = __libc_malloc(job->size);

			__asm__ __volatile__("" : : "r"(p) : "memory");
			__libc_free(p);
		}
		break;
	default:
		break;
	}
	job->ns = now_ns() - t0;
	return NULL;
}

/* ns per pair per thread (wall time of the slowest thread / iterations). */
static double run_pairs(enum allocator which, size_t size, unsigned int threads, long iterations,
			struct dmap_bounce_pool *pool, struct swiotlb_model *model)
{
	pthread_t tid[2];
	struct pair_job jobs[2];
	pthread_barrier_t barrier;
	uint64_t worst = 0;

	pthread_barrier_init(&barrier, NULL, threads);
	for (unsigned int t = 0; t < threads; t++) {
		jobs[t] = (struct pair_job){ .which = which,
					     .size = size,
					     .iterations = iterations,
					     .cpu = t,
					     .pool = pool,
					     .model = model,
					     .barrier = &barrier };
		pthread_create(&tid[t], NULL, pair_thread, &jobs[t]);
	}
	for (unsigned int t = 0; t < threads; t++) {
		pthread_join(tid[t], NULL);
		if (jobs[t].ns > worst)
			worst = jobs[t].ns;
		if (jobs[t].failures)
			fprintf(stderr, "%s: %ld failures\n", allocator_names[which],
				jobs[t].failures);
	}
	pthread_barrier_destroy(&barrier);
	return (double)worst / (double)iterations;
}

static struct dmap_bounce_pool *make_pool(size_t bytes, unsigned int nr_caches, bool owned)
{
	struct dmap_bounce_pool_params params = {
		.phys = 0x40000000ull,
		.bus = 0x40000000ull,
		.size = bytes,
		.slot_shift = 11,
		.top_order = 9,
		.nr_caches = nr_caches,
		.thread_caches = owned,
	};
	struct dmap_bounce_pool *pool;

	if (dmap_bounce_pool_create(env, &params, &pool)) {
		fprintf(stderr, "pool create failed\n");
		exit(1);
	}
	return pool;
}

static void bench_alloc(void)
{
	static const size_t sizes[] = { 2048, 4096, 65536, 262144 };
	long iterations = 50000 / scale; /* short runs: less exposure to preemption */

	printf("\n## 1. Allocation + free pairs (ns per pair per thread, median of %d)\n\n", reps);
	printf("Pool size 64 MiB for dmap and the swiotlb model (2 areas); %ld pairs per thread.\n\n",
	       iterations);
	printf("Each cell: median (best) of the repetitions; ratios use the medians.\n\n");
	printf("thread caches: the hosted default, each thread owns its cache (no atomic instruction\n");
	printf("on the fast path, an RCU read section instead); locked caches: what every other\n");
	printf("environment does (and hosted with locked_caches), one compare-and-swap per call.\n");
	printf("Ratios: thread-cache dmap / baseline, and locked-cache dmap / jemalloc.\n\n");
	printf("| size | threads | dmap (thread caches) | dmap (locked caches) | swiotlb model | jemalloc | glibc malloc | dmap/swiotlb | dmap/jemalloc | locked dmap/jemalloc |\n");
	printf("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
	for (unsigned int s = 0; s < 4; s++) {
		for (unsigned int threads = 1; threads <= 2; threads++) {
			double med[A_COUNT], min[A_COUNT];
			double v[A_COUNT][32];

			/* Repetitions outermost: a burst of noise hits every allocator alike. */
			for (int r = 0; r < reps; r++) {
				for (int a = 0; a < A_COUNT; a++) {
					struct dmap_bounce_pool *pool = NULL;
					struct swiotlb_model model = { 0 };

					if (a == A_DMAP || a == A_DMAP_OWNED)
						pool = make_pool(64 << 20, 16, a == A_DMAP_OWNED);
					if (a == A_SWIOTLB)
						swiotlb_model_init(&model, 64 << 20, 2);
					v[a][r] = run_pairs(a, sizes[s], threads, iterations, pool,
							    &model);
					if (pool)
						dmap_bounce_pool_destroy(pool);
					if (a == A_SWIOTLB)
						swiotlb_model_destroy(&model);
				}
			}
			for (int a = 0; a < A_COUNT; a++) {
				med[a] = median(v[a], reps);
				min[a] = best(v[a]);
			}
			printf("| %zu KiB | %u | %.1f (%.1f) | %.1f (%.1f) | %.1f (%.1f) | %.1f (%.1f) | %.1f (%.1f) | %.2f | %.2f | %.2f |\n",
			       sizes[s] >> 10, threads, med[A_DMAP_OWNED], min[A_DMAP_OWNED],
			       med[A_DMAP], min[A_DMAP], med[A_SWIOTLB], min[A_SWIOTLB],
			       med[A_JEMALLOC], min[A_JEMALLOC], med[A_GLIBC], min[A_GLIBC],
			       med[A_DMAP_OWNED] / med[A_SWIOTLB],
			       med[A_DMAP_OWNED] / med[A_JEMALLOC], med[A_DMAP] / med[A_JEMALLOC]);
			fflush(stdout);
		}
	}
}

/* ---- 2. map + unmap vs memcpy ------------------------------------------ */

#define MAP_POOL_BASE 0x10000000ull
#define MAP_POOL_RAM (128ull << 20)
#define BUF_BASE 0x100000000ull
#define BUF_RAM (16ull << 20)

struct map_job {
	struct dmap_dev *dev;
	dmap_phys_t phys;
	char *buf;
	char *dst;
	size_t size;
	enum dmap_dir dir;
	bool floor;
	long iterations;
	pthread_barrier_t *barrier;
	uint64_t ns;
};

static void *map_thread(void *arg)
{
	struct map_job *job = arg;
	uint64_t t0;
	long i;

	pthread_barrier_wait(job->barrier);
	t0 = now_ns();
	if (job->floor) {
		for (i = 0; i < job->iterations; i++) {
			memcpy(job->dst, job->buf, job->size);
			__asm__ __volatile__("" : : "r"(job->dst) : "memory");
			if (job->dir == DMAP_BIDIRECTIONAL) {
				memcpy(job->buf, job->dst, job->size);
				__asm__ __volatile__("" : : "r"(job->buf) : "memory");
			}
		}
	} else {
		for (i = 0; i < job->iterations; i++) {
			dmap_addr_t bus =
				dmap_map_phys(job->dev, job->phys, job->size, job->dir, 0);

			if (bus == DMAP_MAPPING_ERROR) {
				fprintf(stderr, "map failed\n");
				exit(1);
			}
			dmap_unmap_phys(job->dev, bus, job->size, job->dir, 0);
		}
	}
	job->ns = now_ns() - t0;
	return NULL;
}

static void bench_map(void)
{
	static const size_t sizes[] = { 4096, 65536 };
	static const enum dmap_dir dirs[] = { DMAP_TO_DEVICE, DMAP_BIDIRECTIONAL };
	struct dmap_bounce_config cfg = { .name = "bench", .pool_size = 64 << 20 };
	struct dmap_dev_info info = { .name = "bench-dev", .flags = DMAP_DEV_COHERENT };
	struct dmap_ctx *ctx;
	struct dmap_domain *dom;
	struct dmap_dev *dev;
	void *buf_ram, *pool_ram;
	char *floor_dst[2];

	if (dmap_hosted_mem_add(hosted, MAP_POOL_BASE, MAP_POOL_RAM, DMAP_HOSTED_MEM_POOL,
				&pool_ram) ||
	    dmap_hosted_mem_add(hosted, BUF_BASE, BUF_RAM, 0, &buf_ram) ||
	    dmap_ctx_create(env, &ctx) || dmap_bounce_domain_create(ctx, &cfg, &dom) ||
	    dmap_dev_create(ctx, &info, &dev) || dmap_dev_attach(dev, dom)) {
		fprintf(stderr, "map bench setup failed: %s\n", dmap_hosted_last_message());
		exit(1);
	}
	floor_dst[0] = aligned_alloc(4096, 1 << 20);
	floor_dst[1] = aligned_alloc(4096, 1 << 20);
	memset(buf_ram, 1, BUF_RAM);
	memset(floor_dst[0], 2, 1 << 20);
	memset(floor_dst[1], 2, 1 << 20);

	printf("\n## 2. map + unmap vs the memcpy floor (ns per operation, median of %d)\n\n",
	       reps);
	printf("64 MiB bounce domain, coherent device, buffer above 4 GiB; the floor is the bare memcpy\n");
	printf("the operation implies (one copy for TO_DEVICE, two for BIDIRECTIONAL), same sizes.\n\n");
	printf("Each cell: median (best); the ratio uses the medians.\n\n");
	printf("| size | dir | threads | map+unmap | memcpy floor | ratio |\n|---:|---|---:|---:|---:|---:|\n");
	for (unsigned int s = 0; s < 2; s++) {
		for (unsigned int d = 0; d < 2; d++) {
			for (unsigned int threads = 1; threads <= 2; threads++) {
				double res[2], low[2], v[2][32];

				/* Repetitions outermost, so noise hits the floor and the map alike. */
				for (int r = 0; r < reps; r++) {
					for (int floor = 0; floor < 2; floor++) {
						pthread_t tid[2];
						struct map_job jobs[2];
						pthread_barrier_t barrier;
						uint64_t worst = 0;
						long iters =
							(sizes[s] > 8192 ? 20000 : 200000) / scale;

						pthread_barrier_init(&barrier, NULL, threads);
						for (unsigned int t = 0; t < threads; t++) {
							jobs[t] = (struct map_job){
								.dev = dev,
								.phys = BUF_BASE + (4ull << 20) * t,
								.buf = (char *)buf_ram +
								       (4 << 20) * t,
								.dst = floor_dst[t],
								.size = sizes[s],
								.dir = dirs[d],
								.floor = floor,
								.iterations = iters,
								.barrier = &barrier,
							};
							pthread_create(&tid[t], NULL, map_thread,
								       &jobs[t]);
						}
						for (unsigned int t = 0; t < threads; t++) {
							pthread_join(tid[t], NULL);
							if (jobs[t].ns > worst)
								worst = jobs[t].ns;
						}
						pthread_barrier_destroy(&barrier);
						v[floor][r] = (double)worst / (double)iters;
					}
				}
				for (int floor = 0; floor < 2; floor++) {
					res[floor] = median(v[floor], reps);
					low[floor] = best(v[floor]);
				}
				printf("| %zu KiB | %s | %u | %.0f (%.0f) | %.0f (%.0f) | %.2f |\n",
				       sizes[s] >> 10, dmap_dir_name(dirs[d]), threads, res[0],
				       low[0], res[1], low[1], res[0] / res[1]);
				fflush(stdout);
			}
		}
	}
	dmap_dev_destroy(dev);
	dmap_domain_destroy(dom);
	dmap_ctx_destroy(ctx);
	free(floor_dst[0]);
	free(floor_dst[1]);
}

/* ---- 3. fragmentation traces ------------------------------------------- */

struct trace_event {
	uint32_t id; /* request number */
	uint32_t size; /* 0: free of request @id */
};

struct trace {
	const char *name;
	struct trace_event *events;
	size_t nevents;
	uint32_t nrequests;
};

static uint64_t rng_state;

static uint64_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static double rng_unit(void)
{
	return (double)(rng() >> 11) / (double)(1ull << 53);
}

static void trace_push(struct trace *t, size_t *cap, uint32_t id, uint32_t size)
{
	if (t->nevents == *cap) {
		*cap = *cap ? *cap * 2 : 4096;
		t->events = realloc(t->events, *cap * sizeof(*t->events));
	}
	t->events[t->nevents++] = (struct trace_event){ id, size };
}

/* (a) read-ahead: 70% 4 KiB, 20% 64-128 KiB, 10% 480 KiB; 64 in flight, random completion. */
static struct trace make_readahead(uint32_t requests, uint64_t seed)
{
	struct trace t = { .name = "read-ahead" };
	uint32_t inflight[64];
	unsigned int n = 0;
	size_t cap = 0;

	rng_state = seed;
	for (uint32_t id = 0; id < requests; id++) {
		unsigned int pick = (unsigned int)(rng() % 100);
		uint32_t size;

		if (n == 64) {
			unsigned int victim = (unsigned int)(rng() % 64);

			trace_push(&t, &cap, inflight[victim], 0);
			inflight[victim] = inflight[--n];
		}
		if (pick < 70)
			size = 4096;
		else if (pick < 90)
			size = (uint32_t)(64 + rng() % 65) << 10;
		else
			size = 480 << 10;
		trace_push(&t, &cap, id, size);
		inflight[n++] = id;
	}
	while (n)
		trace_push(&t, &cap, inflight[--n], 0);
	t.nrequests = requests;
	return t;
}

/*
 * (b) asymmetric: sizes log-uniform in [512 B, 256 KiB], each request lives
 * a uniformly random number of later requests in [1, 2 * @mean_life].
 */
static struct trace make_asymmetric(uint32_t requests, uint32_t mean_life, uint64_t seed)
{
	struct trace t = { .name = "asymmetric" };
	uint32_t *death = malloc(sizeof(uint32_t) * requests);
	/* bucket list of frees per step */
	uint32_t *head = malloc(sizeof(uint32_t) * (requests + 1));
	uint32_t *next = malloc(sizeof(uint32_t) * requests);
	size_t cap = 0;

	rng_state = seed;
	for (uint32_t i = 0; i <= requests; i++)
		head[i] = UINT32_MAX;
	for (uint32_t id = 0; id < requests; id++) {
		double lg = 9.0 + rng_unit() * 9.0; /* 2^9 .. 2^18 */
		uint32_t size = (uint32_t)__builtin_exp2(lg);
		uint32_t life = 1 + (uint32_t)(rng() % (2ull * mean_life));
		uint32_t step = id + life < requests ? id + life : requests;

		for (uint32_t f = head[id]; f != UINT32_MAX; f = next[f])
			trace_push(&t, &cap, f, 0);
		if (size > 256 << 10)
			size = 256 << 10;
		trace_push(&t, &cap, id, size);
		death[id] = step;
		next[id] = head[step];
		head[step] = id;
	}
	for (uint32_t f = head[requests]; f != UINT32_MAX; f = next[f])
		trace_push(&t, &cap, f, 0);
	t.nrequests = requests;
	free(death);
	free(head);
	free(next);
	return t;
}

struct replay_result {
	uint32_t served;
	uint32_t failed;
	uint32_t impossible; /* requests the allocator cannot serve at any occupancy */
	double util_first_failure; /* live requested bytes / pool size at the first failure */
	bool failed_any;
	double peak_util;
	uint32_t first_failure_size;
};

static struct replay_result replay(const struct trace *t, size_t pool_bytes, bool use_swiotlb)
{
	struct replay_result res = { 0 };
	long *handle = malloc(sizeof(long) * t->nrequests);
	uint32_t *sizes = malloc(sizeof(uint32_t) * t->nrequests);
	struct dmap_bounce_pool *pool = NULL;
	struct swiotlb_model model;
	uint64_t live = 0;

	if (use_swiotlb)
		swiotlb_model_init(&model, pool_bytes, 2);
	else
		pool = make_pool(pool_bytes, 16, true);
	for (size_t e = 0; e < t->nevents; e++) {
		const struct trace_event *ev = &t->events[e];
		long h;

		if (!ev->size) {
			if (handle[ev->id] < 0)
				continue;
			if (use_swiotlb)
				swiotlb_model_free(&model, handle[ev->id], sizes[ev->id], 0, 0);
			else
				dmap_bounce_pool_free(pool, handle[ev->id]);
			live -= sizes[ev->id];
			continue;
		}
		sizes[ev->id] = ev->size;
		if (use_swiotlb) {
			h = swiotlb_model_alloc(&model, ev->size, 0, 0, 0);
			if (ev->size > SWIOTLB_MAX_MAPPING)
				res.impossible++;
		} else {
			h = dmap_bounce_pool_alloc(pool, (uint32_t)((ev->size + 2047) >> 11),
						   ev->size >= 4096 ? 1 : 0,
						   DMAP_BOUNCE_NO_BOUNDARY);
		}
		handle[ev->id] = h;
		if (h < 0) {
			if (!res.failed_any) {
				res.failed_any = true;
				res.util_first_failure = (double)live / (double)pool_bytes;
				res.first_failure_size = ev->size;
			}
			res.failed++;
			continue;
		}
		res.served++;
		live += ev->size;
		if ((double)live / (double)pool_bytes > res.peak_util)
			res.peak_util = (double)live / (double)pool_bytes;
	}
	if (use_swiotlb)
		swiotlb_model_destroy(&model);
	else
		dmap_bounce_pool_destroy(pool);
	free(handle);
	free(sizes);
	return res;
}

static void print_replay(const struct trace *t, size_t pool_bytes, const char *who,
			 struct replay_result r)
{
	char first[64];

	if (r.failed_any)
		snprintf(first, sizeof(first), "%.1f%% (request of %u KiB)",
			 100.0 * r.util_first_failure, r.first_failure_size >> 10);
	else
		snprintf(first, sizeof(first), "no failure");
	printf("| %s | %zu MiB | %s | %.2f%% | %u | %u | %s | %.1f%% |\n", t->name,
	       pool_bytes >> 20, who, 100.0 * r.served / t->nrequests, r.failed, r.impossible,
	       first, 100.0 * r.peak_util);
}

static void bench_frag(void)
{
	static const size_t pools[] = { 64 << 20, 8 << 20 };
	uint32_t requests = (uint32_t)(200000 / scale);

	printf("\n## 3. Fragmentation: recorded traces replayed on the same pool size\n\n");
	printf("Served = requests that got slots; impossible = requests above swiotlb's 256 KiB\n");
	printf("segment (it cannot serve them at any occupancy); utilisation = live requested bytes\n");
	printf("/ pool size at the first failed request; peak = highest utilisation reached.\n\n");
	printf("| trace | pool | allocator | served | failed | impossible | utilisation at first failure | peak |\n");
	printf("|---|---:|---|---:|---:|---:|---|---:|\n");
	for (unsigned int p = 0; p < 2; p++) {
		/* asymmetric: average demand about 1.3 x the pool (mean size ~46 KiB). */
		uint32_t mean_life = (uint32_t)((double)pools[p] * 1.3 / 46000.0);
		struct trace traces[2] = { make_readahead(requests, 0x5eed0001ull),
					   make_asymmetric(requests, mean_life, 0x5eed0002ull) };

		for (unsigned int k = 0; k < 2; k++) {
			print_replay(&traces[k], pools[p], "dmap pool",
				     replay(&traces[k], pools[p], false));
			print_replay(&traces[k], pools[p], "swiotlb model",
				     replay(&traces[k], pools[p], true));
			free(traces[k].events);
		}
		fflush(stdout);
	}
}

int main(int argc, char **argv)
{
	const char *only = NULL;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--reps") && i + 1 < argc)
			reps = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--quick"))
			scale = 10;
		else if (!strcmp(argv[i], "--only") && i + 1 < argc)
			only = argv[++i];
	}
	if (reps < 1 || reps > 31)
		reps = 5;
	env_init();
	printf("# bench_bounce (reps %d%s)\n", reps, scale > 1 ? ", quick" : "");
	if (!only || !strcmp(only, "alloc"))
		bench_alloc();
	if (!only || !strcmp(only, "map"))
		bench_map();
	if (!only || !strcmp(only, "frag"))
		bench_frag();
	dmap_hosted_destroy(hosted);
	return 0;
}
