// SPDX-License-Identifier: MIT
/*
 * bench/range_map/bench_range_map.c - lookups per second of the RCU range
 * map against the same sorted array protected by a pthread rwlock and by a
 * pthread mutex, with 1 and 2 reader threads and one writer that inserts or
 * removes an entry about every 10 microseconds.
 *
 * All three search the same kind of table (1024 disjoint entries, binary
 * search on the inclusive last address); only the protection differs. The
 * locked variants update in place (memmove), the RCU one copies the table,
 * publishes it and frees the old one after a grace period: the writer pays
 * more, the readers pay nothing. Each configuration runs --runs times (7 by
 * default) for --seconds (0.3) and the median is printed, with ratios.
 *
 * Usage: bench_range_map [--runs N] [--seconds S] [--entries N] [--write-us U]
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>

#include <dmap/hosted.h>
#include <dmap/range_map.h>
#include <dmap/helpers.h>

enum kind { KIND_RCU, KIND_RWLOCK, KIND_MUTEX, KIND_COUNT };
static const char *const kind_names[KIND_COUNT] = { "rcu range map", "rwlock array",
						    "mutex array" };

#define STRIDE 0x10000ull /* entry i covers [i * STRIDE, i * STRIDE + STRIDE / 2) */

static unsigned int entries = 1024;
static unsigned int write_period_us = 10;

/* The locked baseline: a plain sorted array updated in place. */
struct locked_array {
	pthread_rwlock_t rwlock;
	pthread_mutex_t mutex;
	size_t count;
	struct dmap_range *table; /* capacity entries + 1 */
};

struct bench {
	enum kind kind;
	struct dmap_hosted *hosted;
	struct dmap_range_map *map;
	struct locked_array array;
	int stop;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t xorshift(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545f4914f6cdd1dull;
}

static const struct dmap_range *array_lookup(const struct locked_array *a, uint64_t addr)
{
	size_t low = 0, high = a->count;

	while (low < high) {
		size_t mid = low + (high - low) / 2;

		if (a->table[mid].last < addr)
			low = mid + 1;
		else
			high = mid;
	}
	return low < a->count && a->table[low].first <= addr ? &a->table[low] : NULL;
}

static void array_insert(struct locked_array *a, uint64_t first, uint64_t last, uint64_t value)
{
	size_t i = 0;

	while (i < a->count && a->table[i].last < first) /* writers may be O(n) here too */
		i++;
	memmove(&a->table[i + 1], &a->table[i], (a->count - i) * sizeof(a->table[0]));
	a->table[i] = (struct dmap_range){ first, last, value, NULL };
	a->count++;
}

static void array_remove(struct locked_array *a, uint64_t first)
{
	size_t i = 0;

	while (i < a->count && a->table[i].first != first)
		i++;
	if (i == a->count)
		return;
	memmove(&a->table[i], &a->table[i + 1], (a->count - i - 1) * sizeof(a->table[0]));
	a->count--;
}

struct reader_arg {
	struct bench *b;
	uint64_t seed;
	uint64_t lookups;
	uint64_t sum;
};

static void *reader(void *p)
{
	struct reader_arg *arg = p;
	struct bench *b = arg->b;
	uint64_t s = arg->seed, lookups = 0, sum = 0;
	uint64_t span = (uint64_t)entries * STRIDE;

	while (!__atomic_load_n(&b->stop, __ATOMIC_RELAXED)) {
		for (int i = 0; i < 64; i++) {
			uint64_t addr = xorshift(&s) % span;
			const struct dmap_range *r;

			switch (b->kind) {
			case KIND_RCU:
				dmap_rcu_read_lock();
				r = dmap_range_map_lookup(b->map, addr);
				sum += r ? r->value : 0;
				dmap_rcu_read_unlock();
				break;
			case KIND_RWLOCK:
				pthread_rwlock_rdlock(&b->array.rwlock);
				r = array_lookup(&b->array, addr);
				sum += r ? r->value : 0;
				pthread_rwlock_unlock(&b->array.rwlock);
				break;
			default:
				pthread_mutex_lock(&b->array.mutex);
				r = array_lookup(&b->array, addr);
				sum += r ? r->value : 0;
				pthread_mutex_unlock(&b->array.mutex);
				break;
			}
		}
		lookups += 64;
	}
	arg->lookups = lookups;
	arg->sum = sum;
	return NULL;
}

struct writer_arg {
	struct bench *b;
	uint64_t writes;
};

/* Toggle entries in the gaps: insert one, then remove it, every write_period_us. */
static void *writer(void *p)
{
	struct writer_arg *arg = p;
	struct bench *b = arg->b;
	struct timespec period = { .tv_nsec = (long)write_period_us * 1000 };
	uint64_t s = 0x5151, writes = 0;
	uint64_t first = 0;
	bool present = false;

	prctl(PR_SET_TIMERSLACK, 1UL); /* let a 10 us sleep be ~10 us, not 50 */
	while (!__atomic_load_n(&b->stop, __ATOMIC_RELAXED)) {
		if (!present)
			first = (xorshift(&s) % entries) * STRIDE + STRIDE / 2 + 16;
		switch (b->kind) {
		case KIND_RCU:
			if (present)
				dmap_range_map_remove(b->map, first, first + 15);
			else
				dmap_range_map_insert(b->map, first, first + 15, first, NULL);
			break;
		case KIND_RWLOCK:
			pthread_rwlock_wrlock(&b->array.rwlock);
			if (present)
				array_remove(&b->array, first);
			else
				array_insert(&b->array, first, first + 15, first);
			pthread_rwlock_unlock(&b->array.rwlock);
			break;
		default:
			pthread_mutex_lock(&b->array.mutex);
			if (present)
				array_remove(&b->array, first);
			else
				array_insert(&b->array, first, first + 15, first);
			pthread_mutex_unlock(&b->array.mutex);
			break;
		}
		present = !present;
		writes++;
		if (write_period_us)
			nanosleep(&period, NULL);
	}
	arg->writes = writes;
	return NULL;
}

struct result {
	double lookups_per_s;
	double writes_per_s;
};

static struct result run_once(enum kind kind, int readers, double seconds, bool with_writer)
{
	struct bench b = { .kind = kind };
	struct reader_arg rargs[4];
	struct writer_arg warg = { .b = &b };
	pthread_t rthreads[4], wthread;
	struct timespec duration;
	uint64_t start, elapsed, total = 0;
	struct result result;

	if (kind == KIND_RCU) {
		if (dmap_hosted_create(NULL, &b.hosted) ||
		    dmap_range_map_create(dmap_hosted_env(b.hosted), NULL, NULL, &b.map)) {
			fprintf(stderr, "setup failed\n");
			exit(1);
		}
		for (unsigned int i = 0; i < entries; i++)
			dmap_range_map_insert(b.map, i * STRIDE, i * STRIDE + STRIDE / 2 - 1, i, NULL);
	} else {
		pthread_rwlock_init(&b.array.rwlock, NULL);
		pthread_mutex_init(&b.array.mutex, NULL);
		b.array.table = calloc(entries + 1, sizeof(b.array.table[0]));
		for (unsigned int i = 0; i < entries; i++)
			array_insert(&b.array, i * STRIDE, i * STRIDE + STRIDE / 2 - 1, i);
	}
	start = now_ns();
	for (int i = 0; i < readers; i++) {
		rargs[i] = (struct reader_arg){ .b = &b, .seed = 0x9e3779b97f4a7c15ull * (i + 1) };
		pthread_create(&rthreads[i], NULL, reader, &rargs[i]);
	}
	if (with_writer)
		pthread_create(&wthread, NULL, writer, &warg);
	duration.tv_sec = (time_t)seconds;
	duration.tv_nsec = (long)((seconds - (double)duration.tv_sec) * 1e9);
	nanosleep(&duration, NULL);
	__atomic_store_n(&b.stop, 1, __ATOMIC_RELAXED);
	for (int i = 0; i < readers; i++) {
		pthread_join(rthreads[i], NULL);
		total += rargs[i].lookups;
	}
	if (with_writer)
		pthread_join(wthread, NULL);
	elapsed = now_ns() - start;
	result.lookups_per_s = (double)total * 1e9 / (double)elapsed;
	result.writes_per_s = (double)warg.writes * 1e9 / (double)elapsed;
	if (kind == KIND_RCU) {
		dmap_range_map_destroy(b.map);
		dmap_hosted_destroy(b.hosted);
	} else {
		free(b.array.table);
		pthread_rwlock_destroy(&b.array.rwlock);
		pthread_mutex_destroy(&b.array.mutex);
	}
	return result;
}

static int compare_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	int runs = 7;
	double seconds = 0.3;
	double median[KIND_COUNT][3], writes[KIND_COUNT][3];
	static const struct {
		int readers;
		bool writer;
	} configs[3] = { { 1, true }, { 2, true }, { 2, false } };

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--runs") && i + 1 < argc)
			runs = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--seconds") && i + 1 < argc)
			seconds = atof(argv[++i]);
		else if (!strcmp(argv[i], "--entries") && i + 1 < argc)
			entries = (unsigned int)atoi(argv[++i]);
		else if (!strcmp(argv[i], "--write-us") && i + 1 < argc)
			write_period_us = (unsigned int)atoi(argv[++i]);
		else {
			fprintf(stderr,
				"usage: %s [--runs N] [--seconds S] [--entries N] [--write-us U]\n",
				argv[0]);
			return 2;
		}
	}
	if (runs < 1 || runs > 101 || seconds <= 0 || entries < 2) {
		fprintf(stderr, "bad arguments\n");
		return 2;
	}
	printf("range map lookups: %u entries, writer toggles an entry every %u us, median of %d runs of %.2f s\n",
	       entries, write_period_us, runs, seconds);
	for (int c = 0; c < 3; c++) {
		for (int k = 0; k < KIND_COUNT; k++) {
			double samples[101], wsamples[101];

			/* Interleave kinds run by run would be fairer to drift; runs are short, so
			 * each kind's runs go back to back and the median absorbs outliers. */
			for (int r = 0; r < runs; r++) {
				struct result res = run_once((enum kind)k, configs[c].readers, seconds,
							     configs[c].writer);

				samples[r] = res.lookups_per_s;
				wsamples[r] = res.writes_per_s;
			}
			qsort(samples, (size_t)runs, sizeof(double), compare_double);
			qsort(wsamples, (size_t)runs, sizeof(double), compare_double);
			median[k][c] = samples[runs / 2];
			writes[k][c] = wsamples[runs / 2];
		}
	}
	printf("\n%-16s", "");
	for (int c = 0; c < 3; c++)
		printf(" | %d reader%s %-9s", configs[c].readers, configs[c].readers > 1 ? "s" : " ",
		       configs[c].writer ? "+ writer" : "no writer");
	printf("\n");
	for (int k = 0; k < KIND_COUNT; k++) {
		printf("%-16s", kind_names[k]);
		for (int c = 0; c < 3; c++)
			printf(" | %7.2f M/s (%5.0f w/s)", median[k][c] / 1e6, writes[k][c]);
		printf("\n");
	}
	printf("\nratios (lookups/s):\n");
	for (int c = 0; c < 3; c++)
		printf("  %d reader%s %s: rcu/rwlock %.2fx, rcu/mutex %.2fx\n", configs[c].readers,
		       configs[c].readers > 1 ? "s" : "", configs[c].writer ? "+ writer" : "(no writer)",
		       median[KIND_RCU][c] / median[KIND_RWLOCK][c],
		       median[KIND_RCU][c] / median[KIND_MUTEX][c]);
	return 0;
}
