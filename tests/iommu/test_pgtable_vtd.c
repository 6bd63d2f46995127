// SPDX-License-Identifier: MIT
/*
 * tests/iommu/test_pgtable_vtd.c - the Intel VT-d second-level format: 3, 4
 * and 5 levels (39/48/57-bit AGAW) through the same property checks as the
 * Arm format, SL-PTE bits against values worked out by hand from the VT-d
 * specification (9.8), R/W checks, SNP only with snoop control, and
 * configuration errors.
 */
#include <string.h>

#include <criterion/criterion.h>

#include "test_pgtable_common.h"

#define VTD_SIZES (SZ_4K | SZ_2M | SZ_1G)

Test(pgtable_vtd, selftest_all_levels)
{
	const unsigned int ias_values[] = { 39, 48, 57 };
	const unsigned int oas_values[] = { 39, 46, 52 };

	for (size_t i = 0; i < 3; i++) {
		for (size_t o = 0; o < 3; o++) {
			struct pt_fixture f;

			pt_fixture_init(&f, DMAP_PGTABLE_VTD_SL, VTD_SIZES, ias_values[i],
					oas_values[o], true);
			cr_assert_eq(f.cfg.out.vtd.levels, 3 + i);
			cr_assert_eq(f.cfg.out.vtd.agaw, 1 + i);
			cr_assert_eq(f.cfg.pgsize_bitmap, VTD_SIZES);
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

Test(pgtable_vtd, levels_from_config_and_odd_widths)
{
	struct pt_fixture f;
	struct dmap_test_env t;
	struct dmap_pgtable_config cfg = { 0 };
	struct dmap_pgtable *pt;

	/* ias 0: derive from out.vtd.levels. */
	dmap_test_env_init(&t, PT_RAM_BASE, PT_RAM_SIZE, false);
	cfg.format = DMAP_PGTABLE_VTD_SL;
	cfg.pgsize_bitmap = VTD_SIZES;
	cfg.oas = 48;
	cfg.coherent_walk = true;
	cfg.env = t.env;
	cfg.out.vtd.levels = 5;
	pt = dmap_pgtable_alloc(&cfg);
	cr_assert_not_null(pt);
	cr_assert_eq(cfg.ias, 57);
	cr_assert_eq(cfg.out.vtd.agaw, 3);
	dmap_pgtable_free(pt);
	dmap_test_env_fini(&t);

	/* 40 bits need the 4-level table; addresses above 2^40 are still refused. */
	pt_fixture_init(&f, DMAP_PGTABLE_VTD_SL, SZ_4K | SZ_2M, 40, 48, true);
	cr_assert_eq(f.cfg.out.vtd.levels, 4);
	cr_assert_eq(f.cfg.pgsize_bitmap, SZ_4K | SZ_2M, "sizes narrow to what was asked");
	pt_check_bad_input(&f);
	pt_fixture_fini(&f);
}

static uint64_t leaf_pte(struct dmap_pgtable *pt, uint64_t iova)
{
	struct dmap_pgtable_walk w;
	enum dmap_fault_reason r;

	cr_assert_eq(pt->ops->walk(pt, iova, 0, &w, &r, NULL), 0);
	return w.pte;
}

static int first_tables(void *arg, unsigned int level, dmap_phys_t phys, const void *table,
			size_t size)
{
	dmap_phys_t *out = arg;

	(void)table;
	(void)size;
	if (level >= 1 && level <= 5 && !out[level])
		out[level] = phys;
	return 0;
}

Test(pgtable_vtd, sl_pte_bits_golden)
{
	struct pt_fixture f;
	struct dmap_pgtable *pt;
	dmap_phys_t tables[6] = { 0 };
	uint64_t *root;

	pt_fixture_init(&f, DMAP_PGTABLE_VTD_SL, VTD_SIZES, 48, 48, true);
	pt = f.pt;
	/* VT-d 9.8, SL-PTE: R bit 0, W bit 1, ADDR [51:12]; nothing else for a plain page. */
	cr_assert_eq(pt_map(pt, 0x1000, 0x12345000, SZ_4K, 1,
			    DMAP_PROT_READ | DMAP_PROT_WRITE | DMAP_PROT_NOEXEC | DMAP_PROT_PRIV),
		     0);
	cr_assert_eq(leaf_pte(pt, 0x1000), 0x12345003ull, "pte 0x%llx",
		     (unsigned long long)leaf_pte(pt, 0x1000));
	/* CACHE without snoop control: bit 11 is reserved, so it stays clear. */
	cr_assert_eq(pt_map(pt, 0x2000, 0xfedcba000ull, SZ_4K, 1, DMAP_PROT_READ | DMAP_PROT_CACHE),
		     0);
	cr_assert_eq(leaf_pte(pt, 0x2000), 0xfedcba001ull);
	/* SL-PDE with PS (bit 7) for a 2 MiB superpage, read-only: 0x40000000 | 0x80 | 0x1. */
	cr_assert_eq(pt_map(pt, 0x40000000, 0x40000000, SZ_2M, 1, DMAP_PROT_READ), 0);
	cr_assert_eq(leaf_pte(pt, 0x40000000), 0x40000081ull);
	/* SL-PDPE with PS for 1 GiB, write-only: 0x1_0000_0000 | 0x80 | 0x2. */
	cr_assert_eq(pt_map(pt, 0x80000000ull, 0x100000000ull, SZ_1G, 1, DMAP_PROT_WRITE), 0);
	cr_assert_eq(leaf_pte(pt, 0x80000000ull), 0x100000082ull);
	/* Non-leaf entries: next table address | R | W (3). */
	cr_assert_eq(pt->ops->dump(pt, first_tables, tables), 0);
	root = dmap_test_ram(&f.t, tables[4]);
	cr_assert_eq(root[0], tables[3] | 3, "pml4e 0x%llx", (unsigned long long)root[0]);
	pt_fixture_fini(&f);

	/* With snoop control (ECAP.SC), CACHE sets SNP (bit 11): 0x12345000 | 0x800 | 3. */
	memset(&f, 0, sizeof(f));
	dmap_test_env_init(&f.t, PT_RAM_BASE, PT_RAM_SIZE, false);
	f.cfg.format = DMAP_PGTABLE_VTD_SL;
	f.cfg.pgsize_bitmap = VTD_SIZES;
	f.cfg.ias = 39;
	f.cfg.oas = 48;
	f.cfg.coherent_walk = true;
	f.cfg.quirks = DMAP_PGTABLE_QUIRK_VTD_SNOOP_CTL;
	f.cfg.env = f.t.env;
	f.pt = dmap_pgtable_alloc(&f.cfg);
	cr_assert_not_null(f.pt);
	f.rec.pgsize_bitmap = f.cfg.pgsize_bitmap;
	cr_assert_eq(pt_map(f.pt, 0x1000, 0x12345000, SZ_4K, 1,
			    DMAP_PROT_READ | DMAP_PROT_WRITE | DMAP_PROT_CACHE),
		     0);
	cr_assert_eq(leaf_pte(f.pt, 0x1000), 0x12345803ull);
	cr_assert_eq(pt_map(f.pt, 0x2000, 0x12346000, SZ_4K, 1, DMAP_PROT_READ), 0);
	cr_assert_eq(leaf_pte(f.pt, 0x2000), 0x12346001ull, "SNP only when CACHE is asked");
	pt_fixture_fini(&f);
}

Test(pgtable_vtd, permissions_and_faults)
{
	struct pt_fixture f;
	struct dmap_pgtable *pt;
	struct dmap_pgtable_walk w;
	enum dmap_fault_reason reason;
	unsigned int level;
	dmap_phys_t tables[6] = { 0 };
	uint64_t *pt1, saved;

	pt_fixture_init(&f, DMAP_PGTABLE_VTD_SL, VTD_SIZES, 39, 40, true);
	pt = f.pt;
	/* Write-only: VT-d can express it (W without R); a read faults (reason 0x6). */
	cr_assert_eq(pt_map(pt, 0x10000, 0x20000, SZ_4K, 1, DMAP_PROT_WRITE), 0);
	cr_assert_eq(pt->ops->walk(pt, 0x10004, DMAP_ACCESS_WRITE, &w, &reason, NULL), 0);
	cr_assert_eq(w.phys, 0x20004);
	cr_assert_eq(w.level, 1);
	cr_assert_eq(w.perm, DMAP_ACCESS_WRITE);
	cr_assert_eq(pt->ops->walk(pt, 0x10004, DMAP_ACCESS_READ, &w, &reason, &level),
		     -DMAP_EFAULT);
	cr_assert_eq(reason, DMAP_FAULT_PERMISSION);
	cr_assert_eq(level, 1);
	cr_assert_eq(dmap_vtd_fault_reason_for(reason, DMAP_ACCESS_READ), DMAP_VTD_FR_READ);
	/* Beyond the 39-bit AGAW: reason 0x4 (ADDR_SIZE). */
	cr_assert_eq(pt->ops->walk(pt, 1ull << 39, DMAP_ACCESS_READ, &w, &reason, &level),
		     -DMAP_EFAULT);
	cr_assert_eq(reason, DMAP_FAULT_ADDR_SIZE);
	cr_assert_eq(level, 3);
	/* A non-leaf entry with W cleared blocks writes below it: R/W checked at every level. */
	cr_assert_eq(pt->ops->dump(pt, first_tables, tables), 0);
	pt1 = dmap_test_ram(&f.t, tables[3]);
	saved = pt1[0];
	pt1[0] = saved & ~DMAP_VTD_PTE_WRITE;
	cr_assert_eq(pt->ops->walk(pt, 0x10000, DMAP_ACCESS_WRITE, &w, &reason, &level),
		     -DMAP_EFAULT);
	cr_assert_eq(reason, DMAP_FAULT_PERMISSION);
	cr_assert_eq(level, 3);
	pt1[0] = saved;
	/* An address beyond the 40-bit HAW in a leaf: address-size fault. */
	{
		dmap_phys_t t1 = 0;
		uint64_t *leaf;

		memset(tables, 0, sizeof(tables));
		cr_assert_eq(pt->ops->dump(pt, first_tables, tables), 0);
		t1 = tables[1];
		leaf = dmap_test_ram(&f.t, t1);
		saved = leaf[0x10];
		leaf[0x10] = saved | (1ull << 45);
		cr_assert_eq(pt->ops->walk(pt, 0x10000, DMAP_ACCESS_WRITE, &w, &reason, &level),
			     -DMAP_EFAULT);
		cr_assert_eq(reason, DMAP_FAULT_ADDR_SIZE);
		leaf[0x10] = saved;
	}
	/* PS in a level-4 entry is reserved: a 4-level table, PML4E with PS -> fault at level 4. */
	pt_fixture_fini(&f);

	pt_fixture_init(&f, DMAP_PGTABLE_VTD_SL, VTD_SIZES, 48, 48, true);
	pt = f.pt;
	cr_assert_eq(pt_map(pt, 0, 0, SZ_4K, 1, DMAP_PROT_READ), 0);
	memset(tables, 0, sizeof(tables));
	cr_assert_eq(pt->ops->dump(pt, first_tables, tables), 0);
	pt1 = dmap_test_ram(&f.t, tables[4]);
	saved = pt1[0];
	pt1[0] = saved | DMAP_VTD_PTE_PS;
	cr_assert_eq(pt->ops->walk(pt, 0, DMAP_ACCESS_READ, &w, &reason, &level), -DMAP_EFAULT);
	cr_assert_eq(reason, DMAP_FAULT_TRANSLATION);
	cr_assert_eq(level, 4);
	pt1[0] = saved;
	cr_assert_eq(pt->ops->iova_to_phys(pt, 0x123), 0x123);
	pt_fixture_fini(&f);
}

Test(pgtable_vtd, non_coherent_walker)
{
	struct pt_fixture f;
	struct dmap_hosted_counters before, after;
	dmap_phys_t tables[6] = { 0 };
	uint64_t *root;

	pt_fixture_init(&f, DMAP_PGTABLE_VTD_SL, VTD_SIZES, 48, 48, false);
	cr_assert_eq(dmap_hosted_get_counters(f.t.hosted, &before), 0);
	cr_assert_eq(pt_map(f.pt, 0x7000, 0x9000, SZ_4K, 1, DMAP_PROT_READ), 0);
	cr_assert_eq(dmap_hosted_get_counters(f.t.hosted, &after), 0);
	cr_assert_geq(after.cache_cleans - before.cache_cleans, 7);
	cr_assert_eq(f.pt->ops->dump(f.pt, first_tables, tables), 0);
	root = dmap_test_ram(&f.t, tables[4]);
	cr_assert_eq(root[0], tables[3] | 3 | DMAP_VTD_PTE_SW_SYNC);
	cr_assert_eq(f.pt->ops->iova_to_phys(f.pt, 0x7abc), 0x9abc);
	pt_check_each_size(&f);
	pt_check_split(&f);
	pt_check_bad_input(&f);
	pt_check_gather(&f);
	pt_fixture_fini(&f);
}

Test(pgtable_vtd, bad_configs)
{
	struct dmap_test_env t;
	struct dmap_pgtable_config cfg;

	dmap_test_env_init(&t, PT_RAM_BASE, PT_RAM_SIZE, false);
#define TRY(field_setup, needle)                                                                 \
	do {                                                                                     \
		memset(&cfg, 0, sizeof(cfg));                                                    \
		cfg.format = DMAP_PGTABLE_VTD_SL;                                                \
		cfg.pgsize_bitmap = VTD_SIZES;                                                   \
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
	TRY(cfg.pgsize_bitmap = SZ_2M, "lack the 4 KiB page");
	TRY(cfg.ias = 58, "input size 58");
	TRY(cfg.ias = 31, "input size 31");
	TRY((cfg.ias = 0, cfg.out.vtd.levels = 2), "levels 3, 4 or 5");
	TRY(cfg.oas = 53, "output size 53");
	TRY(cfg.oas = 20, "output size 20");
#undef TRY
	cr_assert_str_eq(dmap_pgtable_format_name(DMAP_PGTABLE_VTD_SL), "vtd-sl");
	dmap_test_env_fini(&t);
}

Test(pgtable_vtd, top_of_57_bit_space)
{
	struct pt_fixture f;
	uint64_t top = (1ull << 57) - SZ_1G;

	pt_fixture_init(&f, DMAP_PGTABLE_VTD_SL, VTD_SIZES, 57, 52, true);
	cr_assert_eq(pt_map(f.pt, top, (1ull << 52) - SZ_1G, SZ_1G, 1, DMAP_PROT_READ), 0);
	cr_assert_eq(f.pt->ops->iova_to_phys(f.pt, top + SZ_1G - 1), (1ull << 52) - 1);
	cr_assert_eq(pt_unmap(f.pt, top + SZ_1G - SZ_4K, SZ_4K, 1), SZ_4K);
	cr_assert_eq(f.pt->ops->iova_to_phys(f.pt, top + SZ_1G - 1), 0);
	cr_assert_eq(f.pt->ops->iova_to_phys(f.pt, top + SZ_1G - SZ_4K - 1),
		     (1ull << 52) - SZ_4K - 1);
	cr_assert_eq(pt_unmap(f.pt, top, SZ_1G, 1), SZ_1G);
	pt_fixture_fini(&f);
}

Test(pgtable_vtd, table_installed_without_node)
{
	struct pt_fixture f;

	pt_fixture_init(&f, DMAP_PGTABLE_VTD_SL, VTD_SIZES, 48, 48, true);
	pt_check_table_without_node(&f, f.cfg.out.vtd.root, 39,
				    DMAP_VTD_PTE_READ | DMAP_VTD_PTE_WRITE);
	pt_fixture_fini(&f);
}
