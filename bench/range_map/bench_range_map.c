// SPDX-License-Identifier: MIT
/*
 * bench/range_map/bench_range_map.c - lookups per second of the RCU range
 * map against the same map protected by a pthread rwlock and by a pthread
 * mutex, with 1 and 2 reader threads and one writer that inserts or removes
 * an entry about every 10 microseconds.
 *
 * All of them search the same table with the same code: the locked variants
 * are a second struct dmap_range_map whose dmap_range_map_lookup() runs under
 * a pthread rwlock or mutex, and whose inserts and removes run only under the
 * same lock held for writing. So the table layout (sorted entries plus the
 * dense key array), the branch-free search and the copy-on-write updates are
 * identical, and only the protection of the read side differs: RCU readers
 * take no lock, the others take the lock word. Each configuration runs
 * --runs times (7 by default) for --seconds (0.3), the kinds interleaved, and the median
 * is printed with ratios; "w/s" is the writer's achieved rate (a starved
 * writer shows as a low number).
 *
 * Readers are pinned to CPUs 0 and 1 (--no-pin: not), the writer is not.
 *
 * Usage: bench_range_map [--runs N] [--seconds S] [--entries N] [--write-us U] [--no-pin]
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include <dmap/hosted.h>
#include <dmap/range_map.h>
#include <dmap/helpers.h>

/*
 * glibc's default rwlock prefers readers: with two readers a writer can wait
 * forever (the "w/s" column shows it), so the writer-preferring variant is
 * measured too: it is the rwlock that actually lets the writer in.
 */
enum kind { KIND_RCU, KIND_RWLOCK, KIND_RWLOCK_WRITER_PREF, KIND_MUTEX, KIND_COUNT };
static const char *const kind_names[KIND_COUNT] = { "rcu range map", "rwlock array",
						    "rwlock (wr-pref)", "mutex array" };

#define STRIDE 0x10000ull /* entry i covers [i * STRIDE, i * STRIDE + STRIDE / 2) */

static unsigned int entries = 1024;
static unsigned int write_period_us = 10;
static bool pin_readers = true;

/*
 * The locked baseline: the library's own map, searched by the library's own
 * lookup, but read under @rwlock (or @mutex) instead of an RCU read section.
 * That is safe without dmap_rcu_read_lock(): every insert and remove runs with
 * the same lock held for writing, so while a reader holds it the published
 * table cannot be replaced, let alone retired and freed.
 */
struct locked_array {
	pthread_rwlock_t rwlock;
	pthread_mutex_t mutex;
	struct dmap_range_map *map;
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

static double thread_cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

struct reader_arg {
	struct bench *b;
	uint64_t seed;
	int cpu;
	uint64_t lookups;
	uint64_t sum;
	double cpu_ns; /* CPU time the thread used */
};

static void *reader(void *p)
{
	struct reader_arg *arg = p;
	struct bench *b = arg->b;
	uint64_t s = arg->seed, lookups = 0, sum = 0;
	uint64_t span = (uint64_t)entries * STRIDE;
	double cpu0;

	if (pin_readers) {
		/* One core per reader, so two readers really run at once when they can. */
		cpu_set_t set;

		CPU_ZERO(&set);
		CPU_SET(arg->cpu, &set);
		pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
	}
	cpu0 = thread_cpu_ns();
	uint64_t mask = 1;

	while (mask < span) /* a power-of-two mask, not a division, per address */
		mask <<= 1;
	mask--;

	while (!__atomic_load_n(&b->stop, __ATOMIC_RELAXED)) {
		for (int i = 0; i < 64; i++) {
			uint64_t addr = (xorshift(&s) >> 7) & mask;
			const struct dmap_range *r;

			switch (b->kind) {
			case KIND_RCU:
				dmap_rcu_read_lock();
				r = dmap_range_map_lookup(b->map, addr);
				sum += r ? r->value : 0;
				dmap_rcu_read_unlock();
				break;
			case KIND_RWLOCK:
			case KIND_RWLOCK_WRITER_PREF:
				pthread_rwlock_rdlock(&b->array.rwlock);
				r = dmap_range_map_lookup(b->array.map, addr);
				sum += r ? r->value : 0;
				pthread_rwlock_unlock(&b->array.rwlock);
				break;
			default:
				pthread_mutex_lock(&b->array.mutex);
				r = dmap_range_map_lookup(b->array.map, addr);
				sum += r ? r->value : 0;
				pthread_mutex_unlock(&b->array.mutex);
				break;
			}
		}
		lookups += 64;
	}
	arg->lookups = lookups;
	arg->sum = sum;
	arg->cpu_ns = thread_cpu_ns() - cpu0;
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
		case KIND_RWLOCK_WRITER_PREF:
			pthread_rwlock_wrlock(&b->array.rwlock);
			if (present)
				dmap_range_map_remove(b->array.map, first, first + 15);
			else
				dmap_range_map_insert(b->array.map, first, first + 15, first, NULL);
			pthread_rwlock_unlock(&b->array.rwlock);
			break;
		default:
			pthread_mutex_lock(&b->array.mutex);
			if (present)
				dmap_range_map_remove(b->array.map, first, first + 15);
			else
				dmap_range_map_insert(b->array.map, first, first + 15, first, NULL);
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
	double cpu_ns_per_lookup; /* reader CPU time per lookup: independent of machine load */
};

static struct result run_once(enum kind kind, int readers, double seconds, bool with_writer)
{
	struct bench b = { .kind = kind };
	struct reader_arg rargs[4];
	struct writer_arg warg = { .b = &b };
	pthread_t rthreads[4], wthread;
	struct timespec duration;
	uint64_t start, elapsed, total = 0;
	double cpu = 0;
	struct result result;

	if (dmap_hosted_create(NULL, &b.hosted) ||
	    dmap_range_map_create(dmap_hosted_env(b.hosted), NULL, NULL, &b.map)) {
		fprintf(stderr, "setup failed\n");
		exit(1);
	}
	for (unsigned int i = 0; i < entries; i++)
		dmap_range_map_insert(b.map, i * STRIDE, i * STRIDE + STRIDE / 2 - 1, i, NULL);
	if (kind != KIND_RCU) {
		pthread_rwlockattr_t attr;

		pthread_rwlockattr_init(&attr);
		if (kind == KIND_RWLOCK_WRITER_PREF)
			pthread_rwlockattr_setkind_np(&attr,
						      PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
		pthread_rwlock_init(&b.array.rwlock, &attr);
		pthread_rwlockattr_destroy(&attr);
		pthread_mutex_init(&b.array.mutex, NULL);
		/* The same map, built the same way; only the read side's protection differs. */
		b.array.map = b.map;
		b.map = NULL;
	}
	start = now_ns();
	for (int i = 0; i < readers; i++) {
		rargs[i] = (struct reader_arg){ .b = &b,
						.seed = 0x9e3779b97f4a7c15ull * (i + 1),
						.cpu = i % (int)sysconf(_SC_NPROCESSORS_ONLN) };
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
		cpu += rargs[i].cpu_ns;
	}
	if (with_writer)
		pthread_join(wthread, NULL);
	elapsed = now_ns() - start;
	result.lookups_per_s = (double)total * 1e9 / (double)elapsed;
	result.writes_per_s = (double)warg.writes * 1e9 / (double)elapsed;
	result.cpu_ns_per_lookup = total ? cpu / (double)total : 0;
	if (kind != KIND_RCU) {
		b.map = b.array.map;
		pthread_rwlock_destroy(&b.array.rwlock);
		pthread_mutex_destroy(&b.array.mutex);
	}
	dmap_range_map_destroy(b.map);
	dmap_hosted_destroy(b.hosted);
	return result;
}

/*
 * Single thread, CPU time per lookup: the bare search inside one long read
 * section vs a read lock/unlock around every lookup. Shows what the RCU read
 * side itself costs (CPU time, so other load on the machine does not count).
 */
static void read_side_cost(void)
{
	struct dmap_hosted *hosted;
	struct dmap_range_map *map;
	const int n = 4000000;
	uint64_t s = 0x9e3779b97f4a7c15ull, sum = 0, mask = 1;
	double t0, bare, locked;

	while (mask < (uint64_t)entries * STRIDE)
		mask <<= 1;
	mask--;
	if (dmap_hosted_create(NULL, &hosted) ||
	    dmap_range_map_create(dmap_hosted_env(hosted), NULL, NULL, &map))
		exit(1);
	for (unsigned int i = 0; i < entries; i++)
		dmap_range_map_insert(map, i * STRIDE, i * STRIDE + STRIDE / 2 - 1, i, NULL);
	t0 = thread_cpu_ns();
	dmap_rcu_read_lock();
	for (int i = 0; i < n; i++) {
		const struct dmap_range *r = dmap_range_map_lookup(map, (xorshift(&s) >> 7) & mask);

		sum += r ? r->value : 0;
	}
	dmap_rcu_read_unlock();
	bare = (thread_cpu_ns() - t0) / n;
	t0 = thread_cpu_ns();
	for (int i = 0; i < n; i++) {
		const struct dmap_range *r;

		dmap_rcu_read_lock();
		r = dmap_range_map_lookup(map, (xorshift(&s) >> 7) & mask);
		sum += r ? r->value : 0;
		dmap_rcu_read_unlock();
	}
	locked = (thread_cpu_ns() - t0) / n;
	printf("read side, 1 thread, CPU time per lookup: bare search %.1f ns, with read lock/unlock per lookup %.1f ns (checksum %llu)\n",
	       bare, locked, (unsigned long long)(sum & 0xff));
	dmap_range_map_destroy(map);
	dmap_hosted_destroy(hosted);
}

/*
 * Single thread: CPU cost of one write (insert or remove of one entry in a
 * 1024-entry map), for the writer itself and for the whole process (which
 * adds the RCU worker's grace periods and frees).
 */
static void write_cost(void)
{
	struct dmap_hosted *hosted;
	struct dmap_range_map *map;
	const struct dmap_env *env;
	const int n = 20000;
	struct timespec ts;
	double t0, p0, writer, process;

	if (dmap_hosted_create(NULL, &hosted))
		exit(1);
	env = dmap_hosted_env(hosted);
	if (dmap_range_map_create(env, NULL, NULL, &map))
		exit(1);
	for (unsigned int i = 0; i < entries; i++)
		dmap_range_map_insert(map, i * STRIDE, i * STRIDE + STRIDE / 2 - 1, i, NULL);
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	p0 = (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
	t0 = thread_cpu_ns();
	for (int i = 0; i < n; i++) {
		uint64_t first = (uint64_t)(i % (int)entries) * STRIDE + STRIDE / 2 + 16;
		struct timespec nap = { .tv_nsec = 10000 };

		dmap_range_map_insert(map, first, first + 15, first, NULL);
		dmap_range_map_remove(map, first, first + 15);
		if (i % 8 == 0) /* let the worker batch as it would at ~10 us per write */
			nanosleep(&nap, NULL);
	}
	writer = (thread_cpu_ns() - t0) / (2.0 * n);
	env->ops->rcu_barrier(env->cookie);
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	process = ((double)ts.tv_sec * 1e9 + (double)ts.tv_nsec - p0) / (2.0 * n);
	printf("write, 1 thread, CPU time per insert or remove: writer %.0f ns, whole process (with the RCU worker) %.0f ns\n",
	       writer, process);
	dmap_range_map_destroy(map);
	dmap_hosted_destroy(hosted);
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
	double median[KIND_COUNT][4], writes[KIND_COUNT][4], cpu_ns[KIND_COUNT][4];
	static const struct {
		int readers;
		bool writer;
	} configs[4] = { { 1, false }, { 2, false }, { 1, true }, { 2, true } };

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--runs") && i + 1 < argc)
			runs = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--seconds") && i + 1 < argc)
			seconds = atof(argv[++i]);
		else if (!strcmp(argv[i], "--entries") && i + 1 < argc)
			entries = (unsigned int)atoi(argv[++i]);
		else if (!strcmp(argv[i], "--no-pin"))
			pin_readers = false;
		else if (!strcmp(argv[i], "--write-us") && i + 1 < argc)
			write_period_us = (unsigned int)atoi(argv[++i]);
		else {
			fprintf(stderr,
				"usage: %s [--runs N] [--seconds S] [--entries N] [--write-us U] [--no-pin]\n",
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
	read_side_cost();
	write_cost();
	for (int c = 0; c < 4; c++) {
		double samples[KIND_COUNT][101], wsamples[KIND_COUNT][101],
			csamples[KIND_COUNT][101];

		/* Interleave the kinds run by run, so drift in the machine's load (2 shared
		 * cores) spreads over all three instead of favouring whichever ran first. */
		for (int r = 0; r < runs; r++) {
			for (int k = 0; k < KIND_COUNT; k++) {
				struct result res = run_once((enum kind)k, configs[c].readers,
							     seconds, configs[c].writer);

				samples[k][r] = res.lookups_per_s;
				wsamples[k][r] = res.writes_per_s;
				csamples[k][r] = res.cpu_ns_per_lookup;
			}
		}
		for (int k = 0; k < KIND_COUNT; k++) {
			qsort(samples[k], (size_t)runs, sizeof(double), compare_double);
			qsort(wsamples[k], (size_t)runs, sizeof(double), compare_double);
			median[k][c] = samples[k][runs / 2];
			writes[k][c] = wsamples[k][runs / 2];
			qsort(csamples[k], (size_t)runs, sizeof(double), compare_double);
			cpu_ns[k][c] = csamples[k][runs / 2];
		}
	}
	printf("\n%-16s", "");
	for (int c = 0; c < 4; c++)
		printf(" | %d reader%s %-9s", configs[c].readers,
		       configs[c].readers > 1 ? "s" : " ",
		       configs[c].writer ? "+ writer" : "no writer");
	printf("\n");
	for (int k = 0; k < KIND_COUNT; k++) {
		printf("%-16s", kind_names[k]);
		for (int c = 0; c < 4; c++)
			printf(" | %7.2f M/s (%5.0f w/s)", median[k][c] / 1e6, writes[k][c]);
		printf("\n");
	}
	printf("\nreader CPU time per lookup (ns; excludes time blocked or preempted):\n%-16s", "");
	for (int c = 0; c < 4; c++)
		printf(" | %d reader%s %-9s", configs[c].readers,
		       configs[c].readers > 1 ? "s" : " ",
		       configs[c].writer ? "+ writer" : "no writer");
	printf("\n");
	for (int k = 0; k < KIND_COUNT; k++) {
		printf("%-16s", kind_names[k]);
		for (int c = 0; c < 4; c++)
			printf(" | %11.1f ns        ", cpu_ns[k][c]);
		printf("\n");
	}
	printf("\nratios (lookups/s; in brackets: CPU cost per lookup of the baseline over rcu's):\n");
	for (int c = 0; c < 4; c++)
		printf("  %d reader%s %s: rcu/rwlock %.2fx (%.2fx), rcu/rwlock-wr-pref %.2fx (%.2fx), "
		       "rcu/mutex %.2fx (%.2fx)\n",
		       configs[c].readers, configs[c].readers > 1 ? "s" : "",
		       configs[c].writer ? "+ writer" : "(no writer)",
		       median[KIND_RCU][c] / median[KIND_RWLOCK][c],
		       cpu_ns[KIND_RWLOCK][c] / cpu_ns[KIND_RCU][c],
		       median[KIND_RCU][c] / median[KIND_RWLOCK_WRITER_PREF][c],
		       cpu_ns[KIND_RWLOCK_WRITER_PREF][c] / cpu_ns[KIND_RCU][c],
		       median[KIND_RCU][c] / median[KIND_MUTEX][c],
		       cpu_ns[KIND_MUTEX][c] / cpu_ns[KIND_RCU][c]);
	return 0;
}
