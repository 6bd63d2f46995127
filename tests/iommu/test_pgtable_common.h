/* SPDX-License-Identifier: MIT */
/*
 * tests/iommu/test_pgtable_common.h - fixtures shared by the page-table
 * format tests: a hosted environment whose RAM pool backs the table pages,
 * a recording set of flush ops, table dumps to prove "nothing changed", and
 * the format-independent property checks both formats run.
 */
#ifndef DMAP_TEST_PGTABLE_COMMON_H
#define DMAP_TEST_PGTABLE_COMMON_H

#include <stdbool.h>
#include <stdint.h>

#include "pgtable.h"
#include "test_env.h"

#define SZ_4K 0x1000ull
#define SZ_16K 0x4000ull
#define SZ_64K 0x10000ull
#define SZ_2M 0x200000ull
#define SZ_32M 0x2000000ull
#define SZ_512M 0x20000000ull
#define SZ_1G 0x40000000ull

/* Test RAM: table pages live here (below 4 GiB so 32-bit output sizes work). */
#define PT_RAM_BASE 0x10000000ull
#define PT_RAM_SIZE (64ull << 20)

struct pt_flush_rec {
	uint64_t pgsize_bitmap;
	unsigned long flush_all, flush_walk, add_page;
	unsigned long bad_granule; /* granule not in the table's page sizes */
	uint64_t last_walk_iova, last_walk_size;
};

struct pt_fixture {
	struct dmap_test_env t;
	struct dmap_pgtable_config cfg;
	struct dmap_pgtable *pt;
	struct pt_flush_rec rec;
};

extern const struct dmap_pgtable_flush_ops pt_flush_ops;

/* Environment + table; asserts success. @coherent false: non-coherent walker. */
void pt_fixture_init(struct pt_fixture *f, enum dmap_pgtable_format format, uint64_t pgsizes,
		     unsigned int ias, unsigned int oas, bool coherent);
/* Free the table, check that every table page went back to the pool, tear down. */
void pt_fixture_fini(struct pt_fixture *f);

/* Bytes of table pages currently allocated from the pool. */
uint64_t pt_pool_bytes(struct pt_fixture *f);

/* A snapshot of every table page (level, phys, contents), for before/after comparison. */
struct pt_dump {
	unsigned char *buf;
	size_t len, cap;
	unsigned int tables;
};
void pt_dump_take(struct dmap_pgtable *pt, struct pt_dump *d);
bool pt_dump_equal(const struct pt_dump *a, const struct pt_dump *b);
void pt_dump_free(struct pt_dump *d);

/* map_pages returning the error, with *mapped checked against it. */
int pt_map(struct dmap_pgtable *pt, uint64_t iova, uint64_t pa, uint64_t size, size_t count,
	   unsigned int prot);
/* unmap with a fresh non-queued gather (leaves reported by add_page). */
size_t pt_unmap(struct dmap_pgtable *pt, uint64_t iova, uint64_t size, size_t count);

/* Format-independent property checks (Linux's selftest plus dmap's own). */
void pt_check_empty(struct pt_fixture *f);
void pt_check_each_size(struct pt_fixture *f);
void pt_check_split(struct pt_fixture *f);
void pt_check_unmap_remap(struct pt_fixture *f);
void pt_check_bad_input(struct pt_fixture *f);
void pt_check_block_over_empty_table(struct pt_fixture *f);
void pt_check_gather(struct pt_fixture *f);
void pt_check_read_only(struct pt_fixture *f);

/*
 * A table installed behind the CPU side's back (a table descriptor written
 * straight into root entry 1, covering 1 << @root_shift bytes, as another
 * thread's install looks before it publishes its shadow node) is found
 * through phys_to_virt, used, and freed with the rest; one pointing at
 * memory the environment does not know fails the map with -EINVAL.
 * @table_bits: the format's table-descriptor bits besides the address.
 */
void pt_check_table_without_node(struct pt_fixture *f, uint64_t root_phys, unsigned int root_shift,
				 uint64_t table_bits);

/* Largest / smallest page size of the table. */
uint64_t pt_max_size(const struct dmap_pgtable *pt);
uint64_t pt_min_size(const struct dmap_pgtable *pt);

#endif
