// SPDX-License-Identifier: MIT
/*
 * bench/core/bench_identity.c - cost of an identity map+unmap pair through
 * the whole dispatch path (argument checks, acquire load of the domain,
 * indirect call into the backend, opt-in statistics), next to the floor of
 * two plain out-of-line calls doing the same arithmetic (bench_floor.c).
 *
 * For 1 and 2 threads (each mapping on the same device, as queues of one
 * NIC would), and with per-domain counting off and on, it runs N map+unmap
 * pairs per thread, repeats the measurement R times and prints the median ns
 * per pair and the ratio to the floor measured in the same run. Modes are
 * interleaved so drifting machine load hits them alike; many short
 * measurements (default 31 x 200,000 pairs) keep most of them inside one
 * scheduler time slice on a shared machine, which steadies the median.
 *
 * Usage: bench_identity [iterations-per-thread (200000)] [repetitions (31)]
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <dmap/dmap.h>
#include <dmap/hosted.h>
#include <dmap/identity.h>

#include "bench_floor.h"

#define RAM_BASE 0x10000000ULL
#define RAM_SIZE (1u << 20)
#define MAP_SIZE 1500

enum mode { MODE_FLOOR, MODE_IDENTITY, MODE_IDENTITY_COUNTING, MODE_COUNT };
static const char *const mode_names[] = { "floor (2 out-of-line calls)", "identity, counting off",
					  "identity, counting on" };

static struct dmap_dev *dev;
static struct dmap_domain *domain;
static struct bench_floor_dev floor_dev = { .offset = 0, .limit = ~0ULL };
static uint64_t (*volatile floor_map)(const struct bench_floor_dev *, uint64_t,
				      size_t) = bench_floor_map;
static int (*volatile floor_unmap)(const struct bench_floor_dev *, uint64_t,
				   size_t) = bench_floor_unmap;

struct worker {
	pthread_t thread;
	pthread_barrier_t *start;
	enum mode mode;
	long iterations;
	unsigned int index;
	uint64_t ns;
	uint64_t sink;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void *run(void *arg)
{
	struct worker *w = arg;
	uint64_t sink = 0, t0;
	dmap_phys_t base = RAM_BASE + (dmap_phys_t)w->index * 65536;

	pthread_barrier_wait(w->start);
	t0 = now_ns();
	if (w->mode == MODE_FLOOR) {
		for (long i = 0; i < w->iterations; i++) {
			dmap_phys_t phys = base + (dmap_phys_t)(i & 31) * 2048;
			uint64_t bus = floor_map(&floor_dev, phys, MAP_SIZE);

			sink += bus;
			sink += (uint64_t)floor_unmap(&floor_dev, bus, MAP_SIZE);
		}
	} else {
		for (long i = 0; i < w->iterations; i++) {
			dmap_phys_t phys = base + (dmap_phys_t)(i & 31) * 2048;
			dmap_addr_t bus = dmap_map_phys(dev, phys, MAP_SIZE, DMAP_TO_DEVICE, 0);

			sink += bus;
			sink += (uint64_t)dmap_unmap_phys(dev, bus, MAP_SIZE, DMAP_TO_DEVICE, 0);
		}
	}
	w->ns = now_ns() - t0;
	w->sink = sink;
	return NULL;
}

/* One measurement: ns per map+unmap pair, averaged over the threads. */
static double measure(enum mode mode, int threads, long iterations)
{
	struct worker w[8];
	pthread_barrier_t start;
	double total = 0;

	dmap_domain_set_counting(domain, mode == MODE_IDENTITY_COUNTING);
	pthread_barrier_init(&start, NULL, (unsigned int)threads);
	for (int i = 0; i < threads; i++) {
		w[i] = (struct worker){ .start = &start,
					.mode = mode,
					.iterations = iterations,
					.index = (unsigned int)i };
		pthread_create(&w[i].thread, NULL, run, &w[i]);
	}
	for (int i = 0; i < threads; i++) {
		pthread_join(w[i].thread, NULL);
		total += (double)w[i].ns / (double)iterations;
	}
	pthread_barrier_destroy(&start);
	return total / threads;
}

/* The machine is shared: say how busy it was, so the figures can be judged. */
static void print_load(const char *when)
{
	char line[128] = "?";
	FILE *f = fopen("/proc/loadavg", "r");

	if (f) {
		if (!fgets(line, sizeof(line), f))
			line[0] = 0;
		fclose(f);
	}
	line[strcspn(line, "\n")] = 0;
	printf("%s (/proc/loadavg): %s\n", when, line);
}

static int compare_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	long iterations = argc > 1 ? atol(argv[1]) : 200000;
	int reps = argc > 2 ? atoi(argv[2]) : 31;
	struct dmap_hosted *hosted;
	struct dmap_ctx *ctx;
	struct dmap_dev_info info = { .name = "bench0", .dma_mask = DMAP_BIT_MASK(64) };
	double samples[MODE_COUNT][64];
	void *ram;

	if (reps < 1 || reps > 64 || iterations < 1) {
		fprintf(stderr, "usage: %s [iterations-per-thread] [repetitions 1..64]\n", argv[0]);
		return 2;
	}
	if (dmap_hosted_create(NULL, &hosted) ||
	    dmap_hosted_mem_add(hosted, RAM_BASE, RAM_SIZE, 0, &ram) ||
	    dmap_ctx_create(dmap_hosted_env(hosted), &ctx) ||
	    dmap_identity_domain_create(ctx, NULL, &domain) || dmap_dev_create(ctx, &info, &dev) ||
	    dmap_dev_attach(dev, domain)) {
		fprintf(stderr, "setup failed: %s\n", dmap_hosted_last_message());
		return 1;
	}
	printf("identity map+unmap of %d bytes, %ld pairs per thread, median of %d runs\n",
	       MAP_SIZE, iterations, reps);
	print_load("load before");
	for (int threads = 1; threads <= 2; threads++) {
		double median[MODE_COUNT];

		/* interleave modes so drift in machine load hits them alike */
		for (int r = 0; r < reps; r++)
			for (int m = 0; m < MODE_COUNT; m++)
				samples[m][r] = measure((enum mode)m, threads, iterations);
		for (int m = 0; m < MODE_COUNT; m++) {
			qsort(samples[m], (size_t)reps, sizeof(double), compare_double);
			median[m] = samples[m][reps / 2];
		}
		printf("\n%d thread%s:\n", threads, threads > 1 ? "s" : "");
		for (int m = 0; m < MODE_COUNT; m++)
			printf("  %-30s %7.2f ns/pair  (min %6.2f, max %6.2f)  ratio to floor %.2fx\n",
			       mode_names[m], median[m], samples[m][0], samples[m][reps - 1],
			       median[m] / median[MODE_FLOOR]);
	}
	print_load("\nload after");
	dmap_dev_destroy(dev);
	dmap_domain_destroy(domain);
	dmap_ctx_destroy(ctx);
	dmap_hosted_destroy(hosted);
	return 0;
}
