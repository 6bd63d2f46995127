// SPDX-License-Identifier: MIT
/*
 * tests/iommu/test_pgtable_arm.c - the Arm VMSAv8-64 stage-1 format: every
 * granule x input size Linux's selftest runs (18 configurations), the
 * geometry and TCR/MAIR values, descriptor bits against values worked out
 * by hand from the Arm ARM, stage-1 permission faults, access-flag and
 * address-size faults on hand-corrupted tables, non-coherent walks and
 * configuration errors.
 */
#include <string.h>

#include <criterion/criterion.h>

#include "test_pgtable_common.h"

static const uint64_t granule_sizes[] = {
	SZ_4K | SZ_2M | SZ_1G,
	SZ_16K | SZ_32M,
	SZ_64K | SZ_512M,
};
static const unsigned int ias_values[] = { 32, 36, 40, 42, 44, 48 };

static void arm_init(struct pt_fixture *f, uint64_t sizes, unsigned int ias, unsigned int oas)
{
	pt_fixture_init(f, DMAP_PGTABLE_ARM_LPAE_S1, sizes, ias, oas, true);
}

Test(pgtable_arm, selftest_all_configs)
{
	for (size_t g = 0; g < sizeof(granule_sizes) / sizeof(granule_sizes[0]); g++) {
		for (size_t i = 0; i < sizeof(ias_values) / sizeof(ias_values[0]); i++) {
			struct pt_fixture f;

			arm_init(&f, granule_sizes[g], ias_values[i], 48);
			cr_assert_eq(f.pt->cfg.pgsize_bitmap, granule_sizes[g]);
			pt_check_empty(&f);
			pt_check_each_size(&f);
			pt_check_split(&f);
			pt_check_unmap_remap(&f);
			pt_check_read_only(&f);
			pt_check_bad_input(&f);
			pt_check_block_over_empty_table(&f);
			pt_check_gather(&f);
			pt_fixture_fini(&f);
		}
	}
}

Test(pgtable_arm, small_output_sizes)
{
	/* oas below the 1G identity maps: each size still maps below 2^oas. */
	const unsigned int oas_values[] = { 32, 36, 40, 42, 44 };

	for (size_t i = 0; i < sizeof(oas_values) / sizeof(oas_values[0]); i++) {
		struct pt_fixture f;

		arm_init(&f, SZ_4K | SZ_2M | SZ_1G, 40, oas_values[i]);
		pt_check_each_size(&f);
		pt_check_bad_input(&f);
		pt_fixture_fini(&f);
	}
}

struct geometry {
	uint64_t sizes;
	unsigned int ias, levels, start, pgd_entries;
};

static int count_root(void *arg, unsigned int level, dmap_phys_t phys, const void *table,
		      size_t size)
{
	size_t *root = arg;

	(void)level;
	(void)phys;
	(void)table;
	if (!*root)
		*root = size / 8;
	return 0;
}

Test(pgtable_arm, geometry)
{
	/*
	 * levels = ceil((ias - g) / (g - 3)), start = 4 - levels, pgd entries = 2^(leftover bits).
	 */
	const struct geometry cases[] = {
		{ SZ_4K, 48, 4, 0, 512 },   { SZ_4K, 39, 3, 1, 512 },  { SZ_4K, 32, 3, 1, 4 },
		{ SZ_4K, 36, 3, 1, 64 },    { SZ_4K, 40, 4, 0, 2 },    { SZ_16K, 48, 4, 0, 2 },
		{ SZ_16K, 47, 3, 1, 2048 }, { SZ_16K, 32, 2, 2, 128 }, { SZ_64K, 48, 3, 1, 64 },
		{ SZ_64K, 42, 2, 2, 8192 }, { SZ_64K, 32, 2, 2, 8 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct pt_fixture f;
		size_t root = 0;

		arm_init(&f, cases[i].sizes, cases[i].ias, 48);
		cr_assert_eq(f.cfg.out.arm.levels, cases[i].levels, "case %zu", i);
		cr_assert_eq(f.cfg.out.arm.start_level, cases[i].start, "case %zu", i);
		cr_assert_eq(f.cfg.out.arm.granule_shift,
			     (unsigned int)__builtin_ctzll(cases[i].sizes));
		cr_assert_eq(f.pt->ops->dump(f.pt, count_root, &root), 0);
		cr_assert_eq(root, cases[i].pgd_entries, "case %zu: pgd has %zu entries", i, root);
		cr_assert_eq(f.cfg.out.arm.ttbr % 64, 0, "TTB0 must be 64-byte aligned at least");
		pt_fixture_fini(&f);
	}
}

Test(pgtable_arm, pgsize_narrowing)
{
	struct pt_fixture f;

	/* 4K asked with 2M only: no 1G blocks. 16K ignores a 2M request. */
	arm_init(&f, SZ_4K | SZ_2M, 48, 48);
	cr_assert_eq(f.cfg.pgsize_bitmap, SZ_4K | SZ_2M);
	pt_fixture_fini(&f);
	arm_init(&f, SZ_16K | SZ_2M | SZ_32M, 48, 48);
	cr_assert_eq(f.cfg.pgsize_bitmap, SZ_16K | SZ_32M);
	pt_fixture_fini(&f);
	/* 4K with a 3-level, start-level-1 table still allows 1G blocks at level 1. */
	arm_init(&f, SZ_4K | SZ_2M | SZ_1G, 32, 48);
	cr_assert_eq(f.cfg.pgsize_bitmap, SZ_4K | SZ_2M | SZ_1G);
	pt_fixture_fini(&f);
}

Test(pgtable_arm, tcr_and_mair_golden)
{
	struct pt_fixture f;

	/*
	 * Arm ARM D19.2 TCR_EL1: 4K, ias 48, oas 48, coherent walk:
	 * T0SZ = 16 (0x10), IRGN0 = 01 << 8, ORGN0 = 01 << 10, SH0 = 11 << 12,
	 * TG0 = 00 << 14, IPS = 101 << 32  ->  0x0000000500003510.
	 */
	arm_init(&f, SZ_4K | SZ_2M | SZ_1G, 48, 48);
	cr_assert_eq(f.cfg.out.arm.tcr, 0x0000000500003510ull, "tcr 0x%llx",
		     (unsigned long long)f.cfg.out.arm.tcr);
	/* MAIR: attr0 0x44 (NC), attr1 0xff (WBRWA), attr2 0x04 (nGnRE), attr3 0xf4. */
	cr_assert_eq(f.cfg.out.arm.mair, 0x00000000f404ff44ull);
	cr_assert(f.cfg.out.arm.ttbr >= PT_RAM_BASE &&
			  f.cfg.out.arm.ttbr < PT_RAM_BASE + PT_RAM_SIZE,
		  "the root comes from the pool");
	pt_fixture_fini(&f);

	/*
	 * 64K, ias 42, oas 40, non-coherent: T0SZ 22 (0x16), TG0 01 << 14, NC, OS (10 << 12), IPS
	 * 010.
	 */
	pt_fixture_init(&f, DMAP_PGTABLE_ARM_LPAE_S1, SZ_64K | SZ_512M, 42, 40, false);
	cr_assert_eq(f.cfg.out.arm.tcr, 0x0000000200006016ull, "tcr 0x%llx",
		     (unsigned long long)f.cfg.out.arm.tcr);
	pt_fixture_fini(&f);

	/* 16K, ias 36, oas 36: T0SZ 28 (0x1c), TG0 10 << 14, IPS 001. */
	arm_init(&f, SZ_16K | SZ_32M, 36, 36);
	cr_assert_eq(f.cfg.out.arm.tcr, 0x000000010000b51cull, "tcr 0x%llx",
		     (unsigned long long)f.cfg.out.arm.tcr);
	pt_fixture_fini(&f);
}

static uint64_t leaf_pte(struct dmap_pgtable *pt, uint64_t iova)
{
	struct dmap_pgtable_walk w;
	enum dmap_fault_reason r;

	cr_assert_eq(pt->ops->walk(pt, iova, DMAP_ACCESS_PRIV, &w, &r, NULL), 0);
	return w.pte;
}

Test(pgtable_arm, descriptor_bits_golden)
{
	struct pt_fixture f;
	struct dmap_pgtable *pt;

	arm_init(&f, SZ_4K | SZ_2M | SZ_1G, 48, 48);
	pt = f.pt;
	/*
	 * Arm ARM D8.3 (VMSAv8-64 descriptors), level-3 page:
	 * OA 0x12345000 | type 0b11 | AttrIndx 1 (0x4) | AP[1] unpriv (0x40) |
	 * SH inner (0x300) | AF (0x400) | nG (0x800) | PXN|UXN (3 << 53)
	 * = 0x0060000012345f47.
	 */
	cr_assert_eq(pt_map(pt, 0x1000, 0x12345000, SZ_4K, 1,
			    DMAP_PROT_READ | DMAP_PROT_WRITE | DMAP_PROT_CACHE | DMAP_PROT_NOEXEC),
		     0);
	cr_assert_eq(leaf_pte(pt, 0x1000), 0x0060000012345f47ull, "pte 0x%llx",
		     (unsigned long long)leaf_pte(pt, 0x1000));
	/*
	 * Read-only, non-cacheable (AttrIndx 0), outer shareable (0x200): 0x...ec3 =
	 * 3|0x40|0x80|0x200|0x400|0x800.
	 */
	cr_assert_eq(pt_map(pt, 0x2000, 0xabcdef000, SZ_4K, 1, DMAP_PROT_READ), 0);
	cr_assert_eq(leaf_pte(pt, 0x2000), 0x0000000abcdefec3ull, "pte 0x%llx",
		     (unsigned long long)leaf_pte(pt, 0x2000));
	/*
	 * Privileged-only MMIO, writable: AP[1] clear, AttrIndx 2 (0x8), OS:
	 * 3|0x8|0x200|0x400|0x800 = 0xe0b.
	 */
	cr_assert_eq(pt_map(pt, 0x3000, 0x80000000, SZ_4K, 1,
			    DMAP_PROT_READ | DMAP_PROT_WRITE | DMAP_PROT_MMIO | DMAP_PROT_PRIV),
		     0);
	cr_assert_eq(leaf_pte(pt, 0x3000), 0x0000000080000e0bull);
	/*
	 * Level-2 block (type 0b01) of 2 MiB at 0x40200000: 1|0x4|0x40|0x300|0x400|0x800 = 0xf45.
	 */
	cr_assert_eq(pt_map(pt, 0x200000, 0x40200000, SZ_2M, 1,
			    DMAP_PROT_READ | DMAP_PROT_WRITE | DMAP_PROT_CACHE),
		     0);
	cr_assert_eq(leaf_pte(pt, 0x200000), 0x0000000040200f45ull);
	/*
	 * Level-1 block of 1 GiB at 0x1_4000_0000, read-only NC: 1|0x40|0x80|0x200|0x400|0x800 =
	 * 0xec1.
	 */
	cr_assert_eq(pt_map(pt, SZ_1G, 0x140000000ull, SZ_1G, 1, DMAP_PROT_READ), 0);
	cr_assert_eq(leaf_pte(pt, SZ_1G), 0x0000000140000ec1ull);
	pt_fixture_fini(&f);
}

struct table_list {
	unsigned int n;
	unsigned int level[8];
	dmap_phys_t phys[8];
};

static int list_tables(void *arg, unsigned int level, dmap_phys_t phys, const void *table,
		       size_t size)
{
	struct table_list *l = arg;

	(void)table;
	(void)size;
	if (l->n < 8) {
		l->level[l->n] = level;
		l->phys[l->n] = phys;
	}
	l->n++;
	return 0;
}

Test(pgtable_arm, table_descriptors_and_faults_on_corrupted_tables)
{
	struct pt_fixture f;
	struct dmap_pgtable *pt;
	struct table_list tl = { 0 };
	uint64_t iova = 0x0000123456789000ull & ((1ull << 48) - 1), *root, *l3, pte;
	struct dmap_pgtable_walk w;
	enum dmap_fault_reason reason;
	unsigned int level;

	arm_init(&f, SZ_4K | SZ_2M | SZ_1G, 48, 40);
	pt = f.pt;
	cr_assert_eq(pt_map(pt, iova, 0x5000, SZ_4K, 1, DMAP_PROT_READ | DMAP_PROT_WRITE), 0);
	cr_assert_eq(pt->ops->dump(pt, list_tables, &tl), 0);
	cr_assert_eq(tl.n, 4);
	for (unsigned int i = 0; i < 4; i++)
		cr_assert_eq(tl.level[i], i);
	/* The level-0 entry is a table descriptor: next table's address | 0b11, nothing else. */
	root = dmap_test_ram(&f.t, tl.phys[0]);
	cr_assert_eq(root[(iova >> 39) & 511], tl.phys[1] | 3);
	/* Clear AF in the leaf: an access-flag fault (CD.AFFD = 0, no HTTU). */
	l3 = dmap_test_ram(&f.t, tl.phys[3]);
	pte = l3[(iova >> 12) & 511];
	l3[(iova >> 12) & 511] = pte & ~DMAP_ARM_PTE_AF;
	cr_assert_eq(pt->ops->walk(pt, iova, DMAP_ACCESS_READ, &w, &reason, &level), -DMAP_EFAULT);
	cr_assert_eq(reason, DMAP_FAULT_ACCESS_FLAG);
	cr_assert_eq(level, 3);
	/* An output address above the 40-bit oas: an address-size fault. */
	l3[(iova >> 12) & 511] = pte | (1ull << 44);
	cr_assert_eq(pt->ops->walk(pt, iova, DMAP_ACCESS_READ, &w, &reason, &level), -DMAP_EFAULT);
	cr_assert_eq(reason, DMAP_FAULT_ADDR_SIZE);
	/* Type 0b01 at level 3 is reserved: translation fault. */
	l3[(iova >> 12) & 511] = (pte & ~3ull) | 1;
	cr_assert_eq(pt->ops->walk(pt, iova, DMAP_ACCESS_READ, &w, &reason, &level), -DMAP_EFAULT);
	cr_assert_eq(reason, DMAP_FAULT_TRANSLATION);
	l3[(iova >> 12) & 511] = pte;
	cr_assert_eq(pt->ops->iova_to_phys(pt, iova + 0x123), 0x5123);
	/* A block descriptor at level 0 is not allowed with 4K granules. */
	{
		uint64_t saved = root[(iova >> 39) & 511];

		root[(iova >> 39) & 511] = 1 | DMAP_ARM_PTE_AF;
		cr_assert_eq(pt->ops->walk(pt, iova, DMAP_ACCESS_READ, &w, &reason, &level),
			     -DMAP_EFAULT);
		cr_assert_eq(reason, DMAP_FAULT_TRANSLATION);
		cr_assert_eq(level, 0);
		root[(iova >> 39) & 511] = saved;
	}
	/* Beyond T0SZ's region: translation fault at the start level. */
	cr_assert_eq(pt->ops->walk(pt, 1ull << 48, DMAP_ACCESS_READ, &w, &reason, &level),
		     -DMAP_EFAULT);
	cr_assert_eq(reason, DMAP_FAULT_TRANSLATION);
	cr_assert_eq(level, 0);
	cr_assert_eq(pt->ops->walk(pt, iova, DMAP_ACCESS_READ, NULL, &reason, &level),
		     -DMAP_EINVAL);
	cr_assert_eq(pt->ops->walk(NULL, iova, DMAP_ACCESS_READ, &w, &reason, &level),
		     -DMAP_EINVAL);
	pt_fixture_fini(&f);
}

Test(pgtable_arm, permissions)
{
	struct pt_fixture f;
	struct dmap_pgtable *pt;
	struct dmap_pgtable_walk w;
	enum dmap_fault_reason reason;
	const unsigned int rw = DMAP_PROT_READ | DMAP_PROT_WRITE;

	arm_init(&f, SZ_4K | SZ_2M | SZ_1G, 40, 40);
	pt = f.pt;
	cr_assert_eq(pt_map(pt, 0x10000, 0x10000, SZ_4K, 1, rw | DMAP_PROT_PRIV), 0);
	/* Privileged-only page: an unprivileged read faults, a privileged one does not. */
	cr_assert_eq(pt->ops->walk(pt, 0x10000, DMAP_ACCESS_READ, &w, &reason, NULL), -DMAP_EFAULT);
	cr_assert_eq(reason, DMAP_FAULT_PERMISSION);
	cr_assert_eq(pt->ops->walk(pt, 0x10000,
				   DMAP_ACCESS_READ | DMAP_ACCESS_WRITE | DMAP_ACCESS_PRIV, &w,
				   &reason, NULL),
		     0);
	cr_assert(w.perm & DMAP_ACCESS_PRIV);
	/* Privileged execute of a page EL0 cannot write is allowed without NOEXEC. */
	cr_assert_eq(
		pt->ops->walk(pt, 0x10000, DMAP_ACCESS_EXEC | DMAP_ACCESS_PRIV, &w, &reason, NULL),
		0);

	cr_assert_eq(pt_map(pt, 0x20000, 0x20000, SZ_4K, 1, rw | DMAP_PROT_NOEXEC), 0);
	cr_assert_eq(pt->ops->walk(pt, 0x20000, DMAP_ACCESS_READ, &w, &reason, NULL), 0);
	cr_assert_not(w.perm & DMAP_ACCESS_PRIV);
	cr_assert_not(w.perm & DMAP_ACCESS_EXEC);
	cr_assert_eq(pt->ops->walk(pt, 0x20000, DMAP_ACCESS_EXEC, &w, &reason, NULL), -DMAP_EFAULT);
	cr_assert_eq(reason, DMAP_FAULT_PERMISSION);
	cr_assert_eq(
		pt->ops->walk(pt, 0x20000, DMAP_ACCESS_EXEC | DMAP_ACCESS_PRIV, &w, &reason, NULL),
		-DMAP_EFAULT);

	/* Without NOEXEC an unprivileged fetch works, but EL0-writable is never EL1-executable. */
	cr_assert_eq(pt_map(pt, 0x30000, 0x30000, SZ_4K, 1, rw), 0);
	cr_assert_eq(pt->ops->walk(pt, 0x30000, DMAP_ACCESS_EXEC, &w, &reason, NULL), 0);
	cr_assert_eq(
		pt->ops->walk(pt, 0x30000, DMAP_ACCESS_EXEC | DMAP_ACCESS_PRIV, &w, &reason, NULL),
		-DMAP_EFAULT);
	cr_assert_eq(reason, DMAP_FAULT_PERMISSION);

	/* Read-only page written, privileged or not. */
	cr_assert_eq(pt_map(pt, 0x40000, 0x40000, SZ_4K, 1, DMAP_PROT_READ), 0);
	cr_assert_eq(
		pt->ops->walk(pt, 0x40000, DMAP_ACCESS_WRITE | DMAP_ACCESS_PRIV, &w, &reason, NULL),
		-DMAP_EFAULT);
	cr_assert_eq(reason, DMAP_FAULT_PERMISSION);
	/* Write-only cannot be expressed by stage-1 AP bits: it reads as read-write. */
	cr_assert_eq(pt_map(pt, 0x50000, 0x50000, SZ_4K, 1, DMAP_PROT_WRITE), 0);
	cr_assert_eq(
		pt->ops->walk(pt, 0x50000, DMAP_ACCESS_READ | DMAP_ACCESS_WRITE, &w, &reason, NULL),
		0);
	pt_fixture_fini(&f);
}

Test(pgtable_arm, non_coherent_walker)
{
	struct pt_fixture f;
	struct dmap_hosted_counters before, after;
	struct table_list tl = { 0 };
	uint64_t *root;

	pt_fixture_init(&f, DMAP_PGTABLE_ARM_LPAE_S1, SZ_4K | SZ_2M | SZ_1G, 48, 48, false);
	cr_assert_eq(dmap_hosted_get_counters(f.t.hosted, &before), 0);
	cr_assert_eq(pt_map(f.pt, 0x7000, 0x9000, SZ_4K, 1, DMAP_PROT_READ), 0);
	cr_assert_eq(dmap_hosted_get_counters(f.t.hosted, &after), 0);
	/* Three new tables cleaned, three table entries and one leaf: at least 7 cleans. */
	cr_assert_geq(after.cache_cleans - before.cache_cleans, 7, "cleans %llu",
		      (unsigned long long)(after.cache_cleans - before.cache_cleans));
	cr_assert_eq(f.pt->ops->dump(f.pt, list_tables, &tl), 0);
	root = dmap_test_ram(&f.t, tl.phys[0]);
	cr_assert_eq(root[0], tl.phys[1] | 3 | DMAP_ARM_PTE_SW_SYNC,
		     "an installed, cleaned table entry carries the software sync bit");
	cr_assert_eq(f.pt->ops->iova_to_phys(f.pt, 0x7abc), 0x9abc);
	pt_check_split(&f);
	pt_check_gather(&f);
	pt_fixture_fini(&f);
	/* Same properties for every granule. */
	for (size_t g = 0; g < sizeof(granule_sizes) / sizeof(granule_sizes[0]); g++) {
		pt_fixture_init(&f, DMAP_PGTABLE_ARM_LPAE_S1, granule_sizes[g], 44, 48, false);
		pt_check_each_size(&f);
		pt_check_bad_input(&f);
		pt_fixture_fini(&f);
	}
}

Test(pgtable_arm, bad_configs)
{
	struct dmap_test_env t;
	struct dmap_pgtable_config cfg;
	static const struct dmap_pgtable_flush_ops partial = { .flush_all = NULL };

	dmap_test_env_init(&t, PT_RAM_BASE, PT_RAM_SIZE, false);
#define TRY(field_setup, needle)                                                                 \
	do {                                                                                     \
		memset(&cfg, 0, sizeof(cfg));                                                    \
		cfg.format = DMAP_PGTABLE_ARM_LPAE_S1;                                           \
		cfg.pgsize_bitmap = SZ_4K | SZ_2M;                                               \
		cfg.ias = 48;                                                                    \
		cfg.oas = 48;                                                                    \
		cfg.coherent_walk = true;                                                        \
		cfg.env = t.env;                                                                 \
		field_setup;                                                                     \
		dmap_test_log_clear(&t);                                                         \
		cr_assert_null(dmap_pgtable_alloc(&cfg), "accepted: %s", #field_setup);          \
		cr_assert(dmap_test_log_has(&t, needle, NULL), "no message '%s' for %s", needle, \
			  #field_setup);                                                         \
	} while (0)
	TRY(cfg.pgsize_bitmap = 0x2000, "granule");
	TRY(cfg.pgsize_bitmap = SZ_2M, "granule");
	TRY(cfg.pgsize_bitmap = 0x800 | SZ_4K, "granule");
	TRY(cfg.ias = 31, "input size 31");
	TRY(cfg.ias = 49, "input size 49");
	TRY(cfg.oas = 52, "output size 52");
	TRY(cfg.oas = 38, "output size 38");
	TRY(cfg.format = 7, "unknown page-table format");
	TRY(cfg.quirks = 1u << 9, "quirk");
	TRY(cfg.flush = &partial, "flush ops");
#undef TRY
	cr_assert_null(dmap_pgtable_alloc(NULL));
	dmap_pgtable_free(NULL);
	dmap_iommu_gather_init(NULL);
	dmap_pgtable_gather_release(NULL, NULL);
	cr_assert_str_eq(dmap_pgtable_format_name(DMAP_PGTABLE_ARM_LPAE_S1), "arm-lpae-s1");
	cr_assert_str_eq(dmap_pgtable_format_name(9), "unknown");
	dmap_test_env_fini(&t);
}

Test(pgtable_arm, multi_page_batches_cross_tables)
{
	struct pt_fixture f;
	struct dmap_pgtable *pt;
	/* 700 pages starting 10 pages before a 2M boundary: spans two leaf tables. */
	uint64_t iova = SZ_2M - 10 * SZ_4K, pa = 0x300000000ull;

	arm_init(&f, SZ_4K | SZ_2M | SZ_1G, 39, 48);
	pt = f.pt;
	cr_assert_eq(pt_map(pt, iova, pa, SZ_4K, 700, DMAP_PROT_READ), 0);
	for (uint64_t i = 0; i < 700; i += 33)
		cr_assert_eq(pt->ops->iova_to_phys(pt, iova + i * SZ_4K + 5), pa + i * SZ_4K + 5);
	cr_assert_eq(pt->ops->iova_to_phys(pt, iova + 700 * SZ_4K), 0);
	cr_assert_eq(pt->ops->iova_to_phys(pt, iova - SZ_4K), 0);
	cr_assert_eq(pt_unmap(pt, iova, SZ_4K, 700), 700 * SZ_4K);
	cr_assert_eq(f.rec.add_page, 700);
	pt_fixture_fini(&f);
}

Test(pgtable_arm, out_of_table_memory)
{
	struct pt_fixture f;
	struct dmap_test_env *t = &f.t;
	struct pt_dump before, after;
	size_t mapped = 0;

	/* Four table pages of RAM: the root and one path of three tables. */
	memset(&f, 0, sizeof(f));
	dmap_test_env_init(t, PT_RAM_BASE, 4 * SZ_4K, false);
	f.cfg.format = DMAP_PGTABLE_ARM_LPAE_S1;
	f.cfg.pgsize_bitmap = SZ_4K | SZ_2M | SZ_1G;
	f.cfg.ias = 48;
	f.cfg.oas = 48;
	f.cfg.coherent_walk = true;
	f.cfg.flush = &pt_flush_ops;
	f.cfg.cookie = &f.rec;
	f.cfg.env = t->env;
	f.pt = dmap_pgtable_alloc(&f.cfg);
	cr_assert_not_null(f.pt);
	f.rec.pgsize_bitmap = f.cfg.pgsize_bitmap;
	cr_assert_eq(pt_map(f.pt, 0, 0x100000, SZ_4K, 1, DMAP_PROT_READ), 0);

	/* A second path needs three more pages: -ENOMEM, nothing mapped, nothing changed. */
	pt_dump_take(f.pt, &before);
	dmap_test_log_clear(t);
	cr_assert_eq(f.pt->ops->map_pages(f.pt, 1ull << 40, 0, SZ_4K, 1, DMAP_PROT_READ, &mapped),
		     -DMAP_ENOMEM);
	cr_assert_eq(mapped, 0);
	cr_assert(dmap_test_log_has(t, "no memory", NULL));
	pt_dump_take(f.pt, &after);
	cr_assert(pt_dump_equal(&before, &after));
	pt_dump_free(&before);
	pt_dump_free(&after);

	/* Two pages across a leaf-table boundary: the first maps, the second cannot. */
	cr_assert_eq(f.pt->ops->map_pages(f.pt, SZ_2M - SZ_4K, 0x200000, SZ_4K, 2, DMAP_PROT_READ,
					  &mapped),
		     -DMAP_ENOMEM);
	cr_assert_eq(mapped, SZ_4K, "the mapped part is reported for the caller to undo");
	cr_assert_eq(f.pt->ops->iova_to_phys(f.pt, SZ_2M - SZ_4K + 1), 0x200001);
	cr_assert_eq(pt_unmap(f.pt, SZ_2M - SZ_4K, SZ_4K, 1), SZ_4K);
	pt_fixture_fini(&f);
}

Test(pgtable_arm, table_installed_without_node)
{
	struct pt_fixture f;

	arm_init(&f, SZ_4K | SZ_2M | SZ_1G, 48, 48);
	pt_check_table_without_node(&f, f.cfg.out.arm.ttbr, 39, DMAP_ARM_PTE_TYPE_TABLE);
	pt_fixture_fini(&f);
}
