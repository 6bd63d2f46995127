// SPDX-License-Identifier: MIT
/*
 * tests/iommu/test_pgtable_stress.c - a randomized model test and a
 * concurrency test for both page-table formats.
 *
 * Model: a flat array with one entry per granule of a window of IOVA space
 * (physical address + permission, or unmapped). Random maps of every page
 * size (and counts > 1) must fail with -EEXIST exactly when the model has
 * something in the range; random unmaps target ranges with at least one
 * mapped granule, where the format's answer is predictable (a block is
 * split, a table is removed whole); random translations and walks must
 * agree with the model. At the end the fixture checks no table page leaked.
 *
 * Concurrency: two mappers install mappings in disjoint ranges that share
 * every upper-level table, round after round in fresh parts of the address
 * space, so that both race to install the same intermediate tables with
 * compare-and-swap; a third thread walks the same addresses meanwhile and
 * may see "not yet mapped" but never a wrong translation. Run under
 * ThreadSanitizer too.
 */
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "test_pgtable_common.h"

struct model {
	uint64_t granule, window, n;
	uint64_t *pa; /* physical address of the granule; valid if prot != 0 */
	unsigned char *prot;
};

static uint64_t rng_state;

static uint64_t rnd(void)
{
	/* xorshift64*: reproducible per seed. */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dull;
}

static uint64_t rnd_below(uint64_t n)
{
	return rnd() % n;
}

static bool model_any(const struct model *m, uint64_t iova, uint64_t size)
{
	for (uint64_t i = iova / m->granule; i < (iova + size) / m->granule; i++)
		if (m->prot[i])
			return true;
	return false;
}

static bool model_all(const struct model *m, uint64_t iova, uint64_t size)
{
	for (uint64_t i = iova / m->granule; i < (iova + size) / m->granule; i++)
		if (!m->prot[i])
			return false;
	return true;
}

static uint64_t pick_size(const struct dmap_pgtable *pt, uint64_t window)
{
	uint64_t sizes[8];
	unsigned int n = 0;

	for (uint64_t s = pt->cfg.pgsize_bitmap; s; s &= s - 1)
		if ((s & -s) <= window / 4)
			sizes[n++] = s & -s;
	/* Small pages most of the time, blocks now and then. */
	return rnd_below(4) ? sizes[0] : sizes[rnd_below(n)];
}

static void run_model(enum dmap_pgtable_format format, uint64_t pgsizes, unsigned int ias,
		      uint64_t window, unsigned int ops, uint64_t seed, bool coherent)
{
	struct pt_fixture f;
	struct dmap_pgtable *pt;
	struct model m;
	uint64_t base = 1ull << (ias - 2); /* an aligned window away from zero */
	unsigned long maps = 0, eexist = 0, unmaps = 0, splits = 0;

	rng_state = seed;
	pt_fixture_init(&f, format, pgsizes, ias, 48, coherent);
	pt = f.pt;
	m.granule = pt_min_size(pt);
	m.window = window;
	m.n = window / m.granule;
	m.pa = calloc(m.n, sizeof(*m.pa));
	m.prot = calloc(m.n, 1);
	cr_assert(m.pa && m.prot);

	for (unsigned int op = 0; op < ops; op++) {
		unsigned int what = (unsigned int)rnd_below(10);

		if (what < 5) { /* map */
			uint64_t size = pick_size(pt, window);
			size_t count = size == m.granule ? 1 + rnd_below(8) : 1;
			uint64_t off = rnd_below(window / size) * size;
			uint64_t pa = rnd_below((1ull << 40) / size) * size;
			unsigned int prot =
				rnd_below(3) ? DMAP_PROT_READ | DMAP_PROT_WRITE : DMAP_PROT_READ;
			bool busy;
			int ret;

			if (off + size * count > window)
				count = 1;
			busy = model_any(&m, off, size * count);
			ret = pt_map(pt, base + off, pa, size, count, prot);
			if (busy) {
				cr_assert_eq(ret, -DMAP_EEXIST,
					     "op %u: map over a mapping at 0x%llx", op,
					     (unsigned long long)off);
				eexist++;
				continue;
			}
			cr_assert_eq(ret, 0, "op %u: map 0x%llx x%zu at 0x%llx: %d", op,
				     (unsigned long long)size, count, (unsigned long long)off, ret);
			for (uint64_t i = 0; i < size * count / m.granule; i++) {
				m.pa[off / m.granule + i] = pa + i * m.granule;
				m.prot[off / m.granule + i] = (unsigned char)prot;
			}
			maps++;
		} else if (what < 8) { /* unmap */
			uint64_t size = pick_size(pt, window);
			uint64_t off = rnd_below(window / size) * size;
			size_t done;

			if (!model_any(&m, off, size))
				continue; /* an empty range may hold an empty table: unpredictable */
			if (!model_all(&m, off, size) || size > m.granule)
				splits++;
			done = pt_unmap(pt, base + off, size, 1);
			cr_assert_eq(done, size, "op %u: unmap 0x%llx at 0x%llx returned 0x%zx", op,
				     (unsigned long long)size, (unsigned long long)off, done);
			memset(&m.prot[off / m.granule], 0, size / m.granule);
			unmaps++;
		} else { /* translate and walk */
			for (int k = 0; k < 16; k++) {
				uint64_t off = rnd_below(window) & ~7ull;
				uint64_t g = off / m.granule;
				struct dmap_pgtable_walk w;
				enum dmap_fault_reason reason;
				int ret = pt->ops->walk(pt, base + off, DMAP_ACCESS_WRITE, &w,
							&reason, NULL);

				if (!m.prot[g]) {
					cr_assert_eq(pt->ops->iova_to_phys(pt, base + off), 0);
					cr_assert_eq(ret, -DMAP_EFAULT);
					cr_assert_eq(reason, DMAP_FAULT_TRANSLATION);
					continue;
				}
				cr_assert_eq(pt->ops->iova_to_phys(pt, base + off),
					     m.pa[g] + off % m.granule, "op %u off 0x%llx", op,
					     (unsigned long long)off);
				if (m.prot[g] & DMAP_PROT_WRITE) {
					cr_assert_eq(ret, 0);
					cr_assert_eq(w.phys, m.pa[g] + off % m.granule);
				} else {
					cr_assert_eq(ret, -DMAP_EFAULT);
					cr_assert_eq(reason, DMAP_FAULT_PERMISSION);
				}
			}
		}
	}
	/* Everything still agrees, granule by granule. */
	for (uint64_t g = 0; g < m.n; g++)
		cr_assert_eq(pt->ops->iova_to_phys(pt, base + g * m.granule + 1),
			     m.prot[g] ? m.pa[g] + 1 : 0, "granule %llu", (unsigned long long)g);
	cr_assert_gt(maps, 10);
	cr_assert_gt(unmaps, 10);
	cr_assert_gt(eexist, 0);
	cr_assert_gt(splits, 0);
	free(m.pa);
	free(m.prot);
	pt_fixture_fini(&f);
}

Test(pgtable_stress, model_arm_4k)
{
	run_model(DMAP_PGTABLE_ARM_LPAE_S1, SZ_4K | SZ_2M | SZ_1G, 48, 64ull << 20, 20000, 1, true);
}

Test(pgtable_stress, model_arm_16k)
{
	run_model(DMAP_PGTABLE_ARM_LPAE_S1, SZ_16K | SZ_32M, 36, 256ull << 20, 15000, 2, true);
}

Test(pgtable_stress, model_arm_64k)
{
	run_model(DMAP_PGTABLE_ARM_LPAE_S1, SZ_64K | SZ_512M, 42, 4ull << 30, 15000, 3, true);
}

Test(pgtable_stress, model_vtd_4level)
{
	run_model(DMAP_PGTABLE_VTD_SL, SZ_4K | SZ_2M | SZ_1G, 48, 64ull << 20, 20000, 4, true);
}

Test(pgtable_stress, model_vtd_3level_non_coherent)
{
	run_model(DMAP_PGTABLE_VTD_SL, SZ_4K | SZ_2M, 39, 32ull << 20, 15000, 5, false);
}

/* ---- concurrency ---------------------------------------------------------- */

#define ROUNDS 500
#define PAGES_PER_ROUND 8

struct race {
	struct dmap_pgtable *pt;
	uint64_t stride; /* address space per round: a fresh top-level entry each time */
	pthread_barrier_t barrier;
	int walking; /* the walker has started: the mappers start only then */
	int done;
	unsigned long walks, hits;
	int errors;
};

static uint64_t race_iova(const struct race *r, unsigned int round, unsigned int thread,
			  unsigned int page)
{
	/*
	 * Both threads inside the same 2 MiB-or-larger region: they share every table above the
	 * leaf.
	 */
	return (uint64_t)round * r->stride + ((uint64_t)page * 2 + thread) * SZ_4K * 8;
}

static uint64_t race_pa(uint64_t iova)
{
	return (iova ^ 0x5a5a5000ull) & ((1ull << 47) - 1) & ~0xfffull;
}

struct mapper_arg {
	struct race *r;
	unsigned int thread;
};

static void *mapper(void *p)
{
	struct mapper_arg *a = p;
	struct race *r = a->r;

	for (unsigned int round = 0; round < ROUNDS; round++) {
		pthread_barrier_wait(&r->barrier);
		for (unsigned int page = 0; page < PAGES_PER_ROUND; page++) {
			uint64_t iova = race_iova(r, round, a->thread, page);
			size_t mapped = 0;

			if (r->pt->ops->map_pages(r->pt, iova, race_pa(iova), SZ_4K, 1,
						  DMAP_PROT_READ | DMAP_PROT_WRITE, &mapped))
				__atomic_fetch_add(&r->errors, 1, __ATOMIC_RELAXED);
		}
	}
	return NULL;
}

static void *walker(void *p)
{
	struct race *r = p;
	unsigned long walks = 0, hits = 0;
	uint64_t state = 99;

	while (!__atomic_load_n(&r->done, __ATOMIC_ACQUIRE)) {
		unsigned int round, thread, page;
		uint64_t iova;
		struct dmap_pgtable_walk w;
		enum dmap_fault_reason reason;

		state = state * 6364136223846793005ull + 1442695040888963407ull;
		round = (unsigned int)((state >> 33) % ROUNDS);
		thread = (unsigned int)((state >> 20) & 1);
		page = (unsigned int)((state >> 24) % PAGES_PER_ROUND);
		iova = race_iova(r, round, thread, page) + 0x18;
		walks++;
		__atomic_store_n(&r->walking, 1, __ATOMIC_RELEASE);
		if (r->pt->ops->walk(r->pt, iova, DMAP_ACCESS_READ, &w, &reason, NULL) == 0) {
			hits++;
			if (w.phys != race_pa(iova & ~0xfffull) + 0x18)
				__atomic_fetch_add(&r->errors, 1, __ATOMIC_RELAXED);
		} else if (reason != DMAP_FAULT_TRANSLATION) {
			__atomic_fetch_add(&r->errors, 1, __ATOMIC_RELAXED);
		}
	}
	r->walks = walks;
	r->hits = hits;
	return NULL;
}

static void run_race(enum dmap_pgtable_format format, unsigned int ias, uint64_t stride,
		     bool coherent)
{
	struct pt_fixture f;
	struct race r = { 0 };
	struct mapper_arg args[2];
	pthread_t threads[3];
	uint64_t tables_before;

	pt_fixture_init(&f, format, SZ_4K | SZ_2M | SZ_1G, ias, 48, coherent);
	r.pt = f.pt;
	r.stride = stride;
	cr_assert((uint64_t)ROUNDS * stride <= (1ull << ias));
	pthread_barrier_init(&r.barrier, NULL, 2);
	tables_before = pt_pool_bytes(&f);
	cr_assert_eq(pthread_create(&threads[2], NULL, walker, &r), 0);
	/*
	 * On a loaded 2-core machine the mappers may otherwise finish before
	 * the walker is first scheduled (they take ~20 ms).
	 */
	while (!__atomic_load_n(&r.walking, __ATOMIC_ACQUIRE))
		sched_yield();
	for (unsigned int i = 0; i < 2; i++) {
		args[i].r = &r;
		args[i].thread = i;
		cr_assert_eq(pthread_create(&threads[i], NULL, mapper, &args[i]), 0);
	}
	pthread_join(threads[0], NULL);
	pthread_join(threads[1], NULL);
	__atomic_store_n(&r.done, 1, __ATOMIC_RELEASE);
	pthread_join(threads[2], NULL);
	pthread_barrier_destroy(&r.barrier);
	cr_assert_eq(r.errors, 0, "%d map failures or wrong translations", r.errors);
	cr_assert_gt(r.walks, 0);

	/* Every mapping is there, and the losers of install races freed their pages. */
	for (unsigned int round = 0; round < ROUNDS; round++)
		for (unsigned int t = 0; t < 2; t++)
			for (unsigned int page = 0; page < PAGES_PER_ROUND; page++) {
				uint64_t iova = race_iova(&r, round, t, page);

				cr_assert_eq(f.pt->ops->iova_to_phys(f.pt, iova + 1),
					     race_pa(iova) + 1);
			}
	{
		/*
		 * One table per level below the root per round (the 16 pages share a leaf table).
		 */
		unsigned int levels =
			format == DMAP_PGTABLE_VTD_SL ? f.cfg.out.vtd.levels : f.cfg.out.arm.levels;
		uint64_t expect = (uint64_t)ROUNDS * (levels - 1) * SZ_4K;

		cr_assert_eq(pt_pool_bytes(&f) - tables_before, expect,
			     "table pages: %llu bytes, expected %llu (a lost install race leaked?)",
			     (unsigned long long)(pt_pool_bytes(&f) - tables_before),
			     (unsigned long long)expect);
	}
	pt_fixture_fini(&f);
}

Test(pgtable_stress, concurrent_install_arm, .timeout = 60)
{
	/* 4K, ias 48: stride 512 GiB = a fresh level-0 entry per round -> L1, L2, L3 raced. */
	run_race(DMAP_PGTABLE_ARM_LPAE_S1, 48, 1ull << 39, true);
}

Test(pgtable_stress, concurrent_install_arm_non_coherent, .timeout = 60)
{
	run_race(DMAP_PGTABLE_ARM_LPAE_S1, 48, 1ull << 39, false);
}

Test(pgtable_stress, concurrent_install_vtd, .timeout = 60)
{
	run_race(DMAP_PGTABLE_VTD_SL, 48, 1ull << 39, true);
}
