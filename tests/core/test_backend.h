/* SPDX-License-Identifier: MIT */
/*
 * tests/core/test_backend.h - a tiny scriptable backend for core tests: it
 * records every call it receives, can fail the n-th map, and can act either
 * as a direct backend (bus = phys + offset) or as a "bounce" fallback that
 * hands out addresses from a window it owns. Single-threaded use only.
 */
#ifndef DMAP_TEST_BACKEND_H
#define DMAP_TEST_BACKEND_H

#include <dmap/ops.h>

#define TB_LOG 1024

struct tb_call {
	dmap_addr_t addr;
	size_t len;
	enum dmap_dir dir;
	unsigned long attrs;
	bool for_cpu;
};

struct tb_mapping {
	dmap_addr_t addr;
	dmap_phys_t phys;
	size_t len;
	bool live;
};

struct tb {
	struct dmap_domain dom;
	/* configuration */
	uint64_t offset; /* direct mode: bus = phys + offset */
	bool bounce; /* bounce mode: addresses from [window_base, +window_size) */
	uint64_t window_base, window_size;
	int fail_at; /* fail the n-th map_phys call (1-based); 0: never */
	size_t max_mapping; /* max_mapping_size result (0: hook says SIZE_MAX) */
	uint64_t min_mask; /* dma_supported: mask >= min_mask */
	unsigned int perm; /* translate permission bits */
	/* state */
	uint64_t next; /* bounce bump pointer */
	struct tb_mapping maps[TB_LOG];
	int nmaps;
	long live;
	int map_calls, unmap_calls, map_sg_calls, unmap_sg_calls, sync_calls, attach_calls,
		detach_calls, translate_calls;
	struct tb_call unmaps[TB_LOG];
	int nunmaps;
	struct tb_call syncs[TB_LOG];
	int nsyncs;
	int attach_result;
};

/* @sg_hooks: provide map_sg/unmap_sg (else the core maps entry by entry). */
struct tb *tb_create(struct dmap_ctx *ctx, const char *name, bool sg_hooks);
void tb_reset_log(struct tb *tb);

#endif
