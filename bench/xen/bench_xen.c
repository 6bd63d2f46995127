// SPDX-License-Identifier: MIT
/*
 * bench/xen/bench_xen.c - the Xen backend's costs, side by side.
 *
 *  1. P2M lookup (pfn -> mfn) by 1 and 2 reader threads while one thread
 *     keeps updating the P2M (set_range of a few frames, and now and then a
 *     whole leaf swapped between private and shared pages): lock-free under
 *     RCU, against the same lookup under a pthread rwlock that the updater
 *     takes for writing. Also with no updater, as the floor.
 *  2. map+unmap on a simulated PV guest: a 4 KiB buffer that is
 *     machine-contiguous (direct), an 8 KiB buffer that straddles two
 *     scattered machine frames (bounced: P2M walk + slot + two copies), and
 *     the identity backend's map+unmap of 4 KiB as the baseline.
 *
 * Every figure is the median of several repetitions; ratios are against the
 * named baseline. Usage: bench_xen [seconds-per-repetition, default 0.2].
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <dmap/xen.h>
#include <dmap/identity.h>
#include <dmap/hosted_xen.h>

#define REPS 7
#define WINDOW 65536 /* frames the readers look up */

static double run_seconds = 0.2;

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
	return v[n / 2];
}

static uint64_t thread_cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ---- 1. P2M lookups --------------------------------------------------------- */

struct lookup_run {
	struct dmap_xen_p2m *p2m;
	pthread_rwlock_t rwlock;
	bool use_rwlock;
	volatile int stop;
	unsigned long lookups[2];
	uint64_t cpu_ns[2];
	unsigned long updates;
	uint64_t sink;
};

struct reader_arg {
	struct lookup_run *run;
	int index;
};

static void *lookup_reader(void *arg)
{
	struct reader_arg *ra = arg;
	struct lookup_run *run = ra->run;
	unsigned int x = 0x9e3779b9u * (unsigned int)(ra->index + 1);
	unsigned long n = 0;
	uint64_t sum = 0, cpu0 = thread_cpu_ns();

	while (!__atomic_load_n(&run->stop, __ATOMIC_RELAXED)) {
		for (int i = 0; i < 256; i++) {
			x ^= x << 13;
			x ^= x >> 17;
			x ^= x << 5;
			if (run->use_rwlock) {
				pthread_rwlock_rdlock(&run->rwlock);
				sum += dmap_xen_p2m_get_raw(run->p2m, x % WINDOW);
				pthread_rwlock_unlock(&run->rwlock);
			} else {
				sum += dmap_xen_p2m_get_raw(run->p2m, x % WINDOW);
			}
		}
		n += 256;
	}
	run->cpu_ns[ra->index] = thread_cpu_ns() - cpu0;
	run->lookups[ra->index] = n;
	__atomic_fetch_add(&run->sink, sum, __ATOMIC_RELAXED);
	return NULL;
}

static void *lookup_updater(void *arg)
{
	struct lookup_run *run = arg;
	unsigned int x = 12345;
	unsigned long n = 0;

	while (!__atomic_load_n(&run->stop, __ATOMIC_RELAXED)) {
		uint64_t pfn, count;
		enum dmap_xen_frame_kind kind;

		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		pfn = x % WINDOW;
		count = 1 + (x >> 20) % 8;
		if (pfn + count > WINDOW)
			count = WINDOW - pfn;
		kind = (x >> 8) % 16 == 0 ? DMAP_XEN_FRAME_MISSING : DMAP_XEN_FRAME_VALID;
		if (kind == DMAP_XEN_FRAME_MISSING) {
			pfn &= ~511ull; /* whole leaf: retires a private page */
			count = 512;
		}
		if (run->use_rwlock)
			pthread_rwlock_wrlock(&run->rwlock);
		dmap_xen_p2m_set_range(run->p2m, pfn, count, kind, (1u << 20) + pfn);
		if (run->use_rwlock)
			pthread_rwlock_unlock(&run->rwlock);
		n++;
	}
	run->updates = n;
	return NULL;
}

/*
 * Returns wall ns per lookup per reader thread; *cpu_ns gets the readers' own
 * CPU ns per lookup (excludes preemption by other processes, but also time a
 * rwlock reader sleeps waiting for the writer); *updates_per_s the updater's rate.
 */
static double lookup_once(const struct dmap_env *env, int readers, bool updater, bool rwlock,
			  double *cpu_ns, double *updates_per_s)
{
	struct lookup_run run = { .use_rwlock = rwlock };
	struct reader_arg ra[2];
	pthread_t th[2], up;
	uint64_t t0, t1;
	unsigned long total = 0;

	dmap_xen_p2m_create(env, NULL, &run.p2m);
	dmap_xen_p2m_set_range(run.p2m, 0, WINDOW, DMAP_XEN_FRAME_VALID, 1u << 20);
	pthread_rwlock_init(&run.rwlock, NULL);
	t0 = now_ns();
	for (int i = 0; i < readers; i++) {
		ra[i] = (struct reader_arg){ .run = &run, .index = i };
		pthread_create(&th[i], NULL, lookup_reader, &ra[i]);
	}
	if (updater)
		pthread_create(&up, NULL, lookup_updater, &run);
	struct timespec sleep = { .tv_sec = 0, .tv_nsec = (long)(run_seconds * 1e9) };

	nanosleep(&sleep, NULL);
	__atomic_store_n(&run.stop, 1, __ATOMIC_RELAXED);
	for (int i = 0; i < readers; i++)
		pthread_join(th[i], NULL);
	if (updater)
		pthread_join(up, NULL);
	t1 = now_ns();
	uint64_t cpu_total = 0;

	for (int i = 0; i < readers; i++) {
		total += run.lookups[i];
		cpu_total += run.cpu_ns[i];
	}
	*cpu_ns = (double)cpu_total / (double)total;
	if (updates_per_s)
		*updates_per_s = updater ? run.updates / ((t1 - t0) / 1e9) : 0;
	pthread_rwlock_destroy(&run.rwlock);
	dmap_xen_p2m_destroy(run.p2m);
	/* Per reader: each reader's own time per lookup. */
	return (double)(t1 - t0) * readers / (double)total;
}

static void bench_lookups(const struct dmap_env *env)
{
	printf("P2M lookup (pfn -> raw entry, %d-frame window), ns per lookup per reader (median of %d x %.2f s)\n",
	       WINDOW, REPS, run_seconds);
	printf("wall = elapsed time x readers / lookups; cpu = the readers' own CPU time / lookups\n");
	printf("%-8s %-9s %10s %10s %10s %10s %8s %14s %14s\n", "readers", "updater", "rcu wall",
	       "rw wall", "rcu cpu", "rw cpu", "rw/rcu", "upd/s rcu", "upd/s rwlock");
	for (int readers = 1; readers <= 2; readers++) {
		for (int updater = 0; updater <= 1; updater++) {
			double rcu[REPS], rw[REPS], crcu[REPS], crw[REPS], urcu[REPS], urw[REPS];

			for (int r = 0; r < REPS; r++) {
				rcu[r] = lookup_once(env, readers, updater, false, &crcu[r],
						     &urcu[r]);
				rw[r] = lookup_once(env, readers, updater, true, &crw[r], &urw[r]);
			}
			double m_rcu = median(rcu, REPS), m_rw = median(rw, REPS);

			printf("%-8d %-9s %10.1f %10.1f %10.1f %10.1f %8.2f %14.0f %14.0f\n",
			       readers, updater ? "1 thread" : "none", m_rcu, m_rw,
			       median(crcu, REPS), median(crw, REPS), m_rw / m_rcu,
			       median(urcu, REPS), median(urw, REPS));
		}
	}
}

/* ---- 2. map + unmap ------------------------------------------------------------ */

/* Thread CPU time, not wall time: on a shared 2-core machine preemption would dominate. */
static double map_loop(struct dmap_dev *dev, dmap_phys_t phys, size_t size, enum dmap_dir dir)
{
	uint64_t deadline = thread_cpu_ns() + (uint64_t)(run_seconds * 1e9), t0 = thread_cpu_ns(),
		 t1;
	unsigned long n = 0;

	do {
		for (int i = 0; i < 512; i++) {
			dmap_addr_t bus = dmap_map_phys(dev, phys, size, dir, 0);

			if (bus == DMAP_MAPPING_ERROR) {
				fprintf(stderr, "bench_xen: map failed: %s\n",
					dmap_hosted_last_message());
				exit(1);
			}
			dmap_unmap_phys(dev, bus, size, dir, 0);
		}
		n += 512;
		t1 = thread_cpu_ns();
	} while (t1 < deadline);
	return (double)(t1 - t0) / (double)n;
}

static void bench_maps(void)
{
	struct dmap_hosted *hosted;
	struct dmap_hosted_xen *guest;
	struct dmap_ctx *ctx;
	struct dmap_domain *xdom, *idom;
	struct dmap_dev *xdev, *idev;
	struct dmap_dev_info info = { .name = "bench",
				      .dma_mask = ~0ull,
				      .coherent_dma_mask = ~0ull,
				      .flags = DMAP_DEV_COHERENT };
	struct dmap_xen_config xcfg = { .name = "xen" };
	struct dmap_xen_p2m *p2m;
	uint64_t straddle = 0, contig = 0, mfn;

	if (dmap_hosted_create(NULL, &hosted) || dmap_hosted_xen_create(hosted, NULL, &guest) ||
	    dmap_ctx_create(dmap_hosted_env(hosted), &ctx)) {
		fprintf(stderr, "bench_xen: setup failed\n");
		exit(1);
	}
	p2m = dmap_hosted_xen_p2m(guest);
	xcfg.p2m = p2m;
	xcfg.exchange = dmap_hosted_xen_exchange_ops();
	xcfg.exchange_cookie = guest;
	xcfg.pool_size = 1 << 20;
	if (dmap_xen_domain_create(ctx, &xcfg, &xdom) ||
	    dmap_identity_domain_create(ctx, NULL, &idom) || dmap_dev_create(ctx, &info, &xdev) ||
	    dmap_dev_create(ctx, &info, &idev) || dmap_dev_attach(xdev, xdom) ||
	    dmap_dev_attach(idev, idom)) {
		fprintf(stderr, "bench_xen: domains: %s\n", dmap_hosted_last_message());
		exit(1);
	}
	for (uint64_t p = 0x200; p < 4000 && !straddle; p++)
		if (dmap_xen_pfn_to_mfn(p2m, p + 1) != dmap_xen_pfn_to_mfn(p2m, p) + 1 &&
		    dmap_xen_p2m_get_raw(p2m, p) < (1ull << 40) &&
		    dmap_xen_p2m_get_raw(p2m, p + 1) < (1ull << 40))
			straddle = p;
	contig = straddle + 8;
	mfn = dmap_hosted_xen_find_free(guest, 1, 1, 1ull << 20);
	if (dmap_hosted_xen_remap(guest, contig, 1, mfn)) {
		fprintf(stderr, "bench_xen: remap failed\n");
		exit(1);
	}

	printf("\nmap+unmap, one thread, coherent 64-bit device, CPU ns per pair (median of %d x %.2f s)\n",
	       REPS, run_seconds);
	struct {
		const char *name;
		struct dmap_dev *dev;
		dmap_phys_t phys;
		size_t size;
		enum dmap_dir dir;
		double ns[REPS];
	} cases[] = {
		{ "identity 4 KiB (baseline)", idev, 0x300000, 4096, DMAP_TO_DEVICE },
		{ "xen direct 4 KiB (contiguous)", xdev, contig << 12, 4096, DMAP_TO_DEVICE },
		{ "xen straddling 8 KiB (bounced, TO_DEVICE)", xdev, (straddle << 12), 8192,
		  DMAP_TO_DEVICE },
		{ "xen straddling 8 KiB (bounced, BIDIRECTIONAL)", xdev, (straddle << 12), 8192,
		  DMAP_BIDIRECTIONAL },
	};
	const int nr = (int)(sizeof(cases) / sizeof(cases[0]));

	for (int r = 0; r < REPS; r++)
		for (int c = 0; c < nr; c++)
			cases[c].ns[r] =
				map_loop(cases[c].dev, cases[c].phys, cases[c].size, cases[c].dir);
	double base = median(cases[0].ns, REPS);

	printf("%-46s %10s %10s\n", "case", "ns/pair", "x identity");
	for (int c = 0; c < nr; c++) {
		double m = median(cases[c].ns, REPS);

		printf("%-46s %10.1f %10.2f\n", cases[c].name, m, m / base);
	}
	struct dmap_xen_stats s;

	dmap_xen_get_stats(xdom, &s);
	printf("xen stats: direct %llu (counted only with counting on), bounced %llu, straddles %llu, exchanges %llu\n",
	       (unsigned long long)s.direct_maps, (unsigned long long)s.bounced_maps,
	       (unsigned long long)s.straddles, (unsigned long long)s.exchanges);

	dmap_dev_destroy(xdev);
	dmap_dev_destroy(idev);
	dmap_domain_destroy(xdom);
	dmap_domain_destroy(idom);
	dmap_ctx_destroy(ctx);
	dmap_hosted_xen_destroy(guest);
	dmap_hosted_destroy(hosted);
}

int main(int argc, char **argv)
{
	struct dmap_hosted *hosted;

	if (argc > 1)
		run_seconds = atof(argv[1]);
	if (run_seconds <= 0)
		run_seconds = 0.2;
	if (dmap_hosted_create(NULL, &hosted)) {
		fprintf(stderr, "bench_xen: no hosted environment\n");
		return 1;
	}
	bench_lookups(dmap_hosted_env(hosted));
	dmap_hosted_destroy(hosted);
	bench_maps();
	return 0;
}
