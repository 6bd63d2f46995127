// SPDX-License-Identifier: MIT
/*
 * tests/iommu/test_pgtable_common.c - fixtures and the format-independent
 * property checks of the page-table tests (see test_pgtable_common.h).
 *
 * The checks follow Linux's io-pgtable selftest (empty tables translate
 * nothing; each page size maps identity at 0, 1G, 2G...; an overlapping map
 * fails; a partial unmap splits a block; unmap then remap) and add what
 * dmap promises on top: errors leave the tables bit-for-bit unchanged
 * (compared by dumping every table page), table pages are never leaked,
 * flush ops see the right granules, queued gathers defer the free.
 */
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "test_pgtable_common.h"

static void rec_flush_all(void *cookie)
{
	struct pt_flush_rec *rec = cookie;

	__atomic_fetch_add(&rec->flush_all, 1, __ATOMIC_RELAXED);
}

static void rec_flush_walk(uint64_t iova, size_t size, size_t granule, void *cookie)
{
	struct pt_flush_rec *rec = cookie;

	__atomic_fetch_add(&rec->flush_walk, 1, __ATOMIC_RELAXED);
	if (!(rec->pgsize_bitmap & granule))
		__atomic_fetch_add(&rec->bad_granule, 1, __ATOMIC_RELAXED);
	__atomic_store_n(&rec->last_walk_iova, iova, __ATOMIC_RELAXED);
	__atomic_store_n(&rec->last_walk_size, (uint64_t)size, __ATOMIC_RELAXED);
}

static void rec_add_page(struct dmap_iommu_gather *g, uint64_t iova, size_t granule, void *cookie)
{
	struct pt_flush_rec *rec = cookie;

	(void)g;
	(void)iova;
	__atomic_fetch_add(&rec->add_page, 1, __ATOMIC_RELAXED);
	if (!(rec->pgsize_bitmap & granule))
		__atomic_fetch_add(&rec->bad_granule, 1, __ATOMIC_RELAXED);
}

const struct dmap_pgtable_flush_ops pt_flush_ops = {
	.flush_all = rec_flush_all,
	.flush_walk = rec_flush_walk,
	.add_page = rec_add_page,
};

void pt_fixture_init(struct pt_fixture *f, enum dmap_pgtable_format format, uint64_t pgsizes,
		     unsigned int ias, unsigned int oas, bool coherent)
{
	memset(f, 0, sizeof(*f));
	dmap_test_env_init(&f->t, PT_RAM_BASE, PT_RAM_SIZE, !coherent);
	f->cfg.format = format;
	f->cfg.pgsize_bitmap = pgsizes;
	f->cfg.ias = ias;
	f->cfg.oas = oas;
	f->cfg.coherent_walk = coherent;
	f->cfg.flush = &pt_flush_ops;
	f->cfg.cookie = &f->rec;
	f->cfg.env = f->t.env;
	f->pt = dmap_pgtable_alloc(&f->cfg);
	cr_assert_not_null(f->pt, "dmap_pgtable_alloc(%s, sizes 0x%llx, ias %u, oas %u) failed: %s",
			   dmap_pgtable_format_name(format), (unsigned long long)pgsizes, ias, oas,
			   f->t.messages ? f->t.lines[(f->t.messages - 1) % DMAP_TEST_LOG_LINES] :
					   "");
	f->rec.pgsize_bitmap = f->cfg.pgsize_bitmap;
}

uint64_t pt_pool_bytes(struct pt_fixture *f)
{
	struct dmap_hosted_counters c;

	cr_assert_eq(dmap_hosted_get_counters(f->t.hosted, &c), 0);
	return c.pool_bytes_in_use;
}

void pt_fixture_fini(struct pt_fixture *f)
{
	dmap_pgtable_free(f->pt);
	f->pt = NULL;
	cr_expect_eq(pt_pool_bytes(f), 0, "table pages leaked: %llu bytes",
		     (unsigned long long)pt_pool_bytes(f));
	cr_expect_eq(f->rec.bad_granule, 0, "flush ops saw a granule outside the page sizes");
	dmap_test_env_fini(&f->t);
}

static int dump_emit(void *arg, unsigned int level, dmap_phys_t phys, const void *table,
		     size_t size)
{
	struct pt_dump *d = arg;
	size_t need = d->len + sizeof(level) + sizeof(phys) + sizeof(size) + size;

	if (need > d->cap) {
		d->cap = need * 2;
		d->buf = realloc(d->buf, d->cap);
		cr_assert_not_null(d->buf);
	}
	memcpy(d->buf + d->len, &level, sizeof(level));
	d->len += sizeof(level);
	memcpy(d->buf + d->len, &phys, sizeof(phys));
	d->len += sizeof(phys);
	memcpy(d->buf + d->len, &size, sizeof(size));
	d->len += sizeof(size);
	memcpy(d->buf + d->len, table, size);
	d->len += size;
	d->tables++;
	return 0;
}

void pt_dump_take(struct dmap_pgtable *pt, struct pt_dump *d)
{
	memset(d, 0, sizeof(*d));
	cr_assert_eq(pt->ops->dump(pt, dump_emit, d), 0);
	cr_assert_geq(d->tables, 1, "dump emitted no root table");
}

bool pt_dump_equal(const struct pt_dump *a, const struct pt_dump *b)
{
	return a->len == b->len && a->tables == b->tables && !memcmp(a->buf, b->buf, a->len);
}

void pt_dump_free(struct pt_dump *d)
{
	free(d->buf);
	memset(d, 0, sizeof(*d));
}

int pt_map(struct dmap_pgtable *pt, uint64_t iova, uint64_t pa, uint64_t size, size_t count,
	   unsigned int prot)
{
	size_t mapped = 0;
	int ret = pt->ops->map_pages(pt, iova, pa, (size_t)size, count, prot, &mapped);

	if (ret == 0)
		cr_assert_eq(mapped, size * count, "map returned 0 but mapped %zu of %llu", mapped,
			     (unsigned long long)(size * count));
	else
		cr_assert_eq(mapped, 0, "map failed with %d after mapping %zu bytes", ret, mapped);
	return ret;
}

size_t pt_unmap(struct dmap_pgtable *pt, uint64_t iova, uint64_t size, size_t count)
{
	struct dmap_iommu_gather g;

	dmap_iommu_gather_init(&g);
	return pt->ops->unmap_pages(pt, iova, (size_t)size, count, &g);
}

uint64_t pt_max_size(const struct dmap_pgtable *pt)
{
	return 1ull << (63 - __builtin_clzll(pt->cfg.pgsize_bitmap));
}

uint64_t pt_min_size(const struct dmap_pgtable *pt)
{
	return 1ull << __builtin_ctzll(pt->cfg.pgsize_bitmap);
}

static bool in_ias(const struct dmap_pgtable *pt, uint64_t iova)
{
	return pt->cfg.ias >= 64 || (iova >> pt->cfg.ias) == 0;
}

static const char *fmt_name(const struct dmap_pgtable *pt)
{
	return dmap_pgtable_format_name(pt->cfg.format);
}

void pt_check_empty(struct pt_fixture *f)
{
	struct dmap_pgtable *pt = f->pt;
	const uint64_t probes[] = { 42, SZ_1G + 42, 2 * SZ_1G + 42 };

	for (size_t i = 0; i < sizeof(probes) / sizeof(probes[0]); i++) {
		struct dmap_pgtable_walk w;
		enum dmap_fault_reason reason = 0;
		unsigned int level = 99;

		if (!in_ias(pt, probes[i]))
			continue;
		cr_assert_eq(pt->ops->iova_to_phys(pt, probes[i]), 0,
			     "%s ias %u: empty table translates 0x%llx", fmt_name(pt), pt->cfg.ias,
			     (unsigned long long)probes[i]);
		cr_assert_eq(pt->ops->walk(pt, probes[i], DMAP_ACCESS_READ, &w, &reason, &level),
			     -DMAP_EFAULT);
		cr_assert_eq(reason, DMAP_FAULT_TRANSLATION);
		cr_assert_neq(level, 99);
	}
}

void pt_check_each_size(struct pt_fixture *f)
{
	struct dmap_pgtable *pt = f->pt;
	uint64_t sizes = pt->cfg.pgsize_bitmap, iova = 0;
	const unsigned int prot =
		DMAP_PROT_READ | DMAP_PROT_WRITE | DMAP_PROT_NOEXEC | DMAP_PROT_CACHE;

	while (sizes) {
		uint64_t size = sizes & -sizes;
		struct dmap_pgtable_walk w;
		enum dmap_fault_reason reason;
		struct pt_dump before, after;

		sizes &= sizes - 1;
		cr_assert(in_ias(pt, iova + size - 1));
		cr_assert_eq(pt_map(pt, iova, iova, size, 1, prot), 0, "%s: map 0x%llx at 0x%llx",
			     fmt_name(pt), (unsigned long long)size, (unsigned long long)iova);
		/* Overlapping maps fail and change nothing. */
		pt_dump_take(pt, &before);
		cr_assert_eq(pt_map(pt, iova, iova + size, size, 1, prot), -DMAP_EEXIST);
		cr_assert_eq(pt_map(pt, iova + size - pt_min_size(pt), 0, pt_min_size(pt), 1, prot),
			     -DMAP_EEXIST);
		if (in_ias(pt, iova + 2 * size - 1) && size < SZ_1G)
			cr_assert_eq(pt_map(pt, iova, iova, size, 2, prot), -DMAP_EEXIST);
		pt_dump_take(pt, &after);
		cr_assert(pt_dump_equal(&before, &after),
			  "%s: failed overlapping map changed the tables", fmt_name(pt));
		pt_dump_free(&before);
		pt_dump_free(&after);

		cr_assert_eq(pt->ops->iova_to_phys(pt, iova + 42), iova + 42, "%s size 0x%llx",
			     fmt_name(pt), (unsigned long long)size);
		cr_assert_eq(pt->ops->iova_to_phys(pt, iova + size - 1), iova + size - 1);
		cr_assert_eq(pt->ops->walk(pt, iova + 42, DMAP_ACCESS_READ | DMAP_ACCESS_WRITE, &w,
					   &reason, NULL),
			     0);
		cr_assert_eq(w.phys, iova + 42);
		cr_assert_eq(w.leaf_size, size);
		cr_assert(w.perm & DMAP_ACCESS_READ);
		cr_assert(w.perm & DMAP_ACCESS_WRITE);
		if (in_ias(pt, iova + size) && iova + size < iova + SZ_1G)
			cr_assert_eq(pt->ops->iova_to_phys(pt, iova + size), 0);
		iova += SZ_1G;
	}
	/* Full unmap of each size: nothing translates afterwards. */
	for (sizes = pt->cfg.pgsize_bitmap, iova = 0; sizes; sizes &= sizes - 1, iova += SZ_1G) {
		uint64_t size = sizes & -sizes;

		cr_assert_eq(pt_unmap(pt, iova, size, 1), size);
		cr_assert_eq(pt->ops->iova_to_phys(pt, iova + 42), 0);
	}
}

void pt_check_split(struct pt_fixture *f)
{
	struct dmap_pgtable *pt = f->pt;
	uint64_t big = pt_max_size(pt), small = pt_min_size(pt);
	uint64_t iova = 3 * big, pa = 4 * big; /* not identity: catches offset mix-ups */
	struct dmap_pgtable_walk w;
	enum dmap_fault_reason reason;
	unsigned long adds, walks;

	if (big == small || !in_ias(pt, iova + big - 1) || ((pa + big - 1) >> pt->cfg.oas))
		return;
	cr_assert_eq(pt_map(pt, iova, pa, big, 1, DMAP_PROT_READ | DMAP_PROT_WRITE), 0);
	adds = f->rec.add_page;
	/* Unmap three small pages in the middle of the block. */
	cr_assert_eq(pt_unmap(pt, iova + 5 * small, small, 3), 3 * small, "%s: split unmap",
		     fmt_name(pt));
	cr_assert_eq(f->rec.add_page - adds, 3);
	for (uint64_t off = 5 * small; off < 8 * small; off += small) {
		cr_assert_eq(pt->ops->iova_to_phys(pt, iova + off + 42), 0);
		cr_assert_eq(pt->ops->walk(pt, iova + off, DMAP_ACCESS_READ, &w, &reason, NULL),
			     -DMAP_EFAULT);
		cr_assert_eq(reason, DMAP_FAULT_TRANSLATION);
	}
	cr_assert_eq(pt->ops->iova_to_phys(pt, iova + 42), pa + 42);
	cr_assert_eq(pt->ops->iova_to_phys(pt, iova + 4 * small + 42), pa + 4 * small + 42);
	cr_assert_eq(pt->ops->iova_to_phys(pt, iova + 8 * small), pa + 8 * small);
	cr_assert_eq(pt->ops->iova_to_phys(pt, iova + big - 1), pa + big - 1);
	cr_assert_eq(pt->ops->walk(pt, iova + 4 * small, DMAP_ACCESS_WRITE, &w, &reason, NULL), 0);
	cr_assert_eq(w.leaf_size, small, "%s: page next to the hole should be a small leaf",
		     fmt_name(pt));
	/* Remap the hole, then unmap the whole block range (now a table): flush_walk. */
	cr_assert_eq(pt_map(pt, iova + 5 * small, pa + 5 * small, small, 3, DMAP_PROT_READ), 0);
	cr_assert_eq(pt->ops->iova_to_phys(pt, iova + 6 * small + 7), pa + 6 * small + 7);
	walks = f->rec.flush_walk;
	cr_assert_eq(pt_unmap(pt, iova, big, 1), big);
	cr_assert_gt(f->rec.flush_walk, walks, "removing a table must flush walk caches");
	cr_assert_eq(pt->ops->iova_to_phys(pt, iova + 42), 0);
	cr_assert_eq(pt->ops->iova_to_phys(pt, iova + 6 * small), 0);
	cr_assert_eq(pt->ops->iova_to_phys(pt, iova + big - 1), 0);
}

void pt_check_unmap_remap(struct pt_fixture *f)
{
	struct dmap_pgtable *pt = f->pt;
	uint64_t sizes = pt->cfg.pgsize_bitmap, iova = 0;

	while (sizes) {
		uint64_t size = sizes & -sizes;
		struct dmap_pgtable_walk w;
		enum dmap_fault_reason reason;

		sizes &= sizes - 1;
		cr_assert_eq(pt_map(pt, iova, iova, size, 1, DMAP_PROT_READ | DMAP_PROT_WRITE), 0);
		cr_assert_eq(pt_unmap(pt, iova, size, 1), size);
		cr_assert_eq(pt->ops->iova_to_phys(pt, iova + 42), 0);
		cr_assert_eq(pt_unmap(pt, iova, size, 1), 0, "second unmap must find nothing");
		cr_assert_eq(pt_map(pt, iova, iova, size, 1, DMAP_PROT_WRITE), 0);
		cr_assert_eq(pt->ops->iova_to_phys(pt, iova + 42), iova + 42);
		cr_assert_eq(pt->ops->walk(pt, iova + 42, DMAP_ACCESS_WRITE, &w, &reason, NULL), 0);
		cr_assert(w.perm & DMAP_ACCESS_WRITE);
		cr_assert_eq(pt_unmap(pt, iova, size, 1), size);
		iova += SZ_1G;
	}
}

void pt_check_read_only(struct pt_fixture *f)
{
	struct dmap_pgtable *pt = f->pt;
	uint64_t g = pt_min_size(pt), iova = 16 * g;
	struct dmap_pgtable_walk w;
	enum dmap_fault_reason reason = 0;
	unsigned int level = 0;

	cr_assert_eq(pt_map(pt, iova, 0x80000000ull, g, 1, DMAP_PROT_READ), 0);
	cr_assert_eq(pt->ops->walk(pt, iova + 8, DMAP_ACCESS_READ, &w, &reason, NULL), 0);
	cr_assert_eq(w.phys, 0x80000008ull);
	cr_assert(w.perm & DMAP_ACCESS_READ);
	cr_assert_not(w.perm & DMAP_ACCESS_WRITE);
	cr_assert_eq(pt->ops->walk(pt, iova + 8, DMAP_ACCESS_WRITE, &w, &reason, &level),
		     -DMAP_EFAULT);
	cr_assert_eq(reason, DMAP_FAULT_PERMISSION);
	cr_assert_eq(pt_unmap(pt, iova, g, 1), g);
}

void pt_check_bad_input(struct pt_fixture *f)
{
	struct dmap_pgtable *pt = f->pt;
	uint64_t g = pt_min_size(pt), top = 1ull << pt->cfg.ias, otop = 1ull << pt->cfg.oas;
	const unsigned int rw = DMAP_PROT_READ | DMAP_PROT_WRITE;
	struct pt_dump before, after;
	size_t mapped = 0;

	/* Something mapped, so the dump has more than an empty root. */
	cr_assert_eq(pt_map(pt, 3 * g, 7 * g, g, 2, rw), 0);
	pt_dump_take(pt, &before);
	dmap_test_log_clear(&f->t);

	cr_assert_eq(pt_map(pt, g / 2, 0, g, 1, rw), -DMAP_EINVAL, "unaligned iova");
	cr_assert(dmap_test_log_has(&f->t, "not aligned", NULL));
	cr_assert_eq(pt_map(pt, 16 * g, g / 2, g, 1, rw), -DMAP_EINVAL, "unaligned phys");
	cr_assert_eq(pt_map(pt, 16 * g, 0, 2 * g, 1, rw), -DMAP_EINVAL, "size not in bitmap");
	cr_assert_eq(pt_map(pt, 16 * g, 0, g + 1, 1, rw), -DMAP_EINVAL, "size not a power of 2");
	cr_assert_eq(pt_map(pt, 16 * g, 0, 0, 1, rw), -DMAP_EINVAL, "zero size");
	cr_assert_eq(pt_map(pt, 16 * g, 0, g, 0, rw), -DMAP_EINVAL, "zero count");
	cr_assert(dmap_test_log_has(&f->t, "zero page count", NULL));
	cr_assert_eq(pt_map(pt, top, 0, g, 1, rw), -DMAP_ERANGE, "iova beyond ias");
	cr_assert(dmap_test_log_has(&f->t, "input size", NULL));
	cr_assert_eq(pt_map(pt, top - g, 0, g, 2, rw), -DMAP_ERANGE, "range crosses ias");
	cr_assert_eq(pt_map(pt, 16 * g, otop, g, 1, rw), -DMAP_ERANGE, "phys beyond oas");
	cr_assert(dmap_test_log_has(&f->t, "output size", NULL));
	cr_assert_eq(pt_map(pt, 16 * g, otop - g, g, 2, rw), -DMAP_ERANGE,
		     "phys range crosses oas");
	cr_assert_eq(pt_map(pt, 16 * g, 0, g, ~(size_t)0 / g + 1, rw), -DMAP_ERANGE,
		     "size overflow");
	cr_assert_eq(pt_map(pt, 16 * g, 0, g, 1, rw | (1u << 7)), -DMAP_EINVAL, "unknown prot");
	cr_assert(dmap_test_log_has(&f->t, "bad prot", NULL));
	cr_assert_eq(pt_map(pt, 16 * g, 0, g, 1, 0), -DMAP_EINVAL, "no prot");
	cr_assert_eq(pt_map(pt, 16 * g, 0, g, 1, DMAP_PROT_CACHE | DMAP_PROT_NOEXEC), -DMAP_EINVAL,
		     "neither read nor write");
	cr_assert_eq(pt->ops->map_pages(pt, 16 * g, 0, g, 1, rw, NULL), -DMAP_EINVAL,
		     "NULL mapped");
	cr_assert_eq(pt->ops->map_pages(NULL, 16 * g, 0, g, 1, rw, &mapped), -DMAP_EINVAL);
	/* Overlap with an existing mapping in the middle of a multi-page request. */
	cr_assert_eq(pt_map(pt, 2 * g, 0, g, 3, rw), -DMAP_EEXIST);

	cr_assert_eq(pt_unmap(pt, 16 * g, g, 1), 0, "unmap of nothing");
	cr_assert_eq(pt_unmap(pt, 3 * g + g / 2, g, 1), 0, "unaligned unmap");
	cr_assert_eq(pt_unmap(pt, 3 * g, 2 * g, 1), 0, "unmap size not in bitmap");
	cr_assert_eq(pt_unmap(pt, 3 * g, g, 0), 0, "unmap zero count");
	cr_assert_eq(pt_unmap(pt, top, g, 1), 0, "unmap beyond ias");
	cr_assert_eq(pt->ops->unmap_pages(NULL, 3 * g, g, 1, NULL), 0);

	pt_dump_take(pt, &after);
	cr_assert(pt_dump_equal(&before, &after), "%s: a rejected call changed the tables",
		  fmt_name(pt));
	pt_dump_free(&before);
	pt_dump_free(&after);

	/* The page after a hole is not unmapped: unmap stops at the first hole. */
	cr_assert_eq(pt_unmap(pt, 2 * g, g, 3), 0);
	cr_assert_eq(pt_unmap(pt, 3 * g, g, 3), 2 * g);
	cr_assert_eq(pt->ops->iova_to_phys(pt, 3 * g), 0);
}

void pt_check_block_over_empty_table(struct pt_fixture *f)
{
	struct dmap_pgtable *pt = f->pt;
	uint64_t big = pt_max_size(pt), g = pt_min_size(pt), iova = big;
	uint64_t pool_empty, pool_with_table;
	unsigned long walks;

	if (big == g || !in_ias(pt, 2 * big - 1))
		return;
	pool_empty = pt_pool_bytes(f);
	cr_assert_eq(pt_map(pt, iova + 4 * g, 0x1000000, g, 4, DMAP_PROT_READ), 0);
	cr_assert_eq(pt_unmap(pt, iova + 4 * g, g, 4), 4 * g);
	pool_with_table = pt_pool_bytes(f);
	cr_assert_gt(pool_with_table, pool_empty, "unmapping leaves does not free tables");
	walks = f->rec.flush_walk;
	cr_assert_eq(pt_map(pt, iova, 0, big, 1, DMAP_PROT_READ), 0,
		     "%s: a block over an empty table must map", fmt_name(pt));
	cr_assert_gt(f->rec.flush_walk, walks);
	cr_assert_lt(pt_pool_bytes(f), pool_with_table, "replaced table pages must be freed");
	cr_assert_eq(pt->ops->iova_to_phys(pt, iova + 5 * g + 3), 5 * g + 3);
	cr_assert_eq(pt_unmap(pt, iova, big, 1), big);
}

void pt_check_gather(struct pt_fixture *f)
{
	struct dmap_pgtable *pt = f->pt;
	uint64_t g = pt_min_size(pt), iova = 64 * g;
	struct dmap_iommu_gather gather;
	unsigned long adds = f->rec.add_page, walks;
	uint64_t pool;

	cr_assert_eq(pt_map(pt, iova, iova, g, 4, DMAP_PROT_READ), 0);
	dmap_iommu_gather_init(&gather);
	cr_assert_eq(pt->ops->unmap_pages(pt, iova, g, 4, &gather), 4 * g);
	cr_assert_eq(f->rec.add_page - adds, 4);
	cr_assert_eq(gather.start, iova);
	cr_assert_eq(gather.end, iova + 4 * g - 1);
	cr_assert_eq(gather.pgsize, g);
	cr_assert_null(gather.freelist);

	/* Queued: no add_page, and the tables under a removed range wait on the freelist. */
	{
		uint64_t span = 0;
		unsigned int pgsize_level_sizes = 0;
		uint64_t sizes = pt->cfg.pgsize_bitmap;

		/* The range a second-smallest size (or a 512-entry table) covers. */
		sizes &= sizes - 1;
		span = sizes ? (sizes & -sizes) : 0;
		(void)pgsize_level_sizes;
		if (!span || !in_ias(pt, 2 * span - 1))
			return;
		cr_assert_eq(pt_map(pt, span, span, g, 8, DMAP_PROT_READ), 0);
		pool = pt_pool_bytes(f);
		adds = f->rec.add_page;
		walks = f->rec.flush_walk;
		dmap_iommu_gather_init(&gather);
		gather.queued = true;
		cr_assert_eq(pt->ops->unmap_pages(pt, span, span, 1, &gather), span);
		cr_assert_eq(f->rec.add_page, adds, "a queued gather must not see add_page");
		cr_assert_gt(f->rec.flush_walk, walks);
		cr_assert_not_null(gather.freelist, "the removed table must wait for the flush");
		cr_assert_eq(pt_pool_bytes(f), pool, "nothing may be freed before the flush");
		cr_assert_eq(pt->ops->iova_to_phys(pt, span), 0);
		dmap_pgtable_gather_release(pt, &gather);
		cr_assert_null(gather.freelist);
		cr_assert_lt(pt_pool_bytes(f), pool);
	}
}

void pt_check_table_without_node(struct pt_fixture *f, uint64_t root_phys, unsigned int root_shift,
				 uint64_t table_bits)
{
	struct dmap_pgtable *pt = f->pt;
	uint64_t *root = dmap_test_ram(&f->t, root_phys);
	uint64_t iova = 1ull << root_shift, bad_iova = 2ull << root_shift;
	uint64_t pa = 0x345000, pool_before = pt_pool_bytes(f);
	struct dmap_pgtable_walk w;
	enum dmap_fault_reason reason;
	dmap_phys_t table_phys;
	void *table;
	size_t mapped = 0;

	cr_assert_eq(__atomic_load_n(&root[1], __ATOMIC_RELAXED), 0);
	table = dmap_pgtable_page_alloc(&f->cfg, SZ_4K, &table_phys);
	cr_assert_not_null(table);
	__atomic_store_n(&root[1], table_phys | table_bits, __ATOMIC_RELEASE);

	/* Map below it, twice (the second descent uses the node the first published). */
	cr_assert_eq(pt_map(pt, iova, pa, SZ_4K, 1, DMAP_PROT_READ | DMAP_PROT_WRITE), 0);
	cr_assert_eq(pt_map(pt, iova + SZ_2M, pa + SZ_4K, SZ_4K, 1, DMAP_PROT_READ), 0);
	cr_assert_eq(pt->ops->iova_to_phys(pt, iova + 0x10), pa + 0x10);
	cr_assert_eq(pt->ops->walk(pt, iova + SZ_2M + 8, DMAP_ACCESS_READ, &w, &reason, NULL), 0);
	cr_assert_eq(w.phys, pa + SZ_4K + 8);
	cr_assert_eq(pt_map(pt, iova, pa, SZ_4K, 1, DMAP_PROT_READ), -DMAP_EEXIST);
	cr_assert_eq(pt_unmap(pt, iova, SZ_4K, 1), SZ_4K);
	cr_assert_eq(pt->ops->iova_to_phys(pt, iova + 0x10), 0);
	cr_assert_eq(pt->ops->iova_to_phys(pt, iova + SZ_2M), pa + SZ_4K);
	cr_assert_gt(pt_pool_bytes(f), pool_before, "tables below the foreign one were allocated");

	/* A table descriptor to memory nobody knows: the map fails and says why. */
	__atomic_store_n(&root[2], 0x7f0000000000ull | table_bits, __ATOMIC_RELEASE);
	dmap_test_log_clear(&f->t);
	cr_assert_eq(pt->ops->map_pages(pt, bad_iova, pa, SZ_4K, 1, DMAP_PROT_READ, &mapped),
		     -DMAP_EINVAL);
	cr_assert_eq(mapped, 0);
	cr_assert(dmap_test_log_has(&f->t, "not memory the environment knows", "0x7f0000000000",
				    NULL));
	cr_assert_eq(pt_unmap(pt, bad_iova, SZ_4K, 1), 0);
	__atomic_store_n(&root[2], 0, __ATOMIC_RELEASE);
	/* pt_fixture_fini() checks that the foreign table went back to the pool with the rest. */
}
