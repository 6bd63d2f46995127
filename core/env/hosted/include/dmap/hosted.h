/* SPDX-License-Identifier: MIT */
/*
 * dmap/hosted.h - the hosted (POSIX) environment: what tests, benchmarks,
 * the Python bindings and the vhost-user daemon run dmap on.
 *
 * It supplies the runtime hooks of &struct dmap_env with pthreads, liburcu
 * (urcu-bp flavour) and jemalloc (or libc malloc, a build option), and
 * simulates physical memory: the caller registers RAM regions (a physical
 * base, a size, host memory from mmap or its own), kept in an RCU-protected
 * range map so phys<->virt lookups take no lock. Regions flagged as a pool
 * also back page-table pages, coherent allocations and bounce pools.
 */
#ifndef DMAP_HOSTED_H
#define DMAP_HOSTED_H

#include <dmap/types.h>
#include <dmap/env.h>

#ifdef __cplusplus
extern "C" {
#endif

struct dmap_hosted;

typedef void (*dmap_hosted_log_fn)(void *arg, enum dmap_log_level level, const char *message);

/**
 * struct dmap_hosted_config - hosted environment settings (all optional).
 * @log: receives every message; NULL prints to stderr messages at or above
 *       @stderr_level (lower number = more severe, as syslog).
 * @log_arg: passed to @log.
 * @stderr_level: default DMAP_LOG_WARN (when 0).
 * @non_coherent: simulate a non-coherent system: cache hooks are installed
 *       and counted (the hosted CPU is coherent, so they only count).
 */
struct dmap_hosted_config {
	dmap_hosted_log_fn log;
	void *log_arg;
	enum dmap_log_level stderr_level;
	bool non_coherent;
};

/**
 * dmap_hosted_create() - make a hosted environment. @config may be NULL.
 * Returns 0, -EINVAL, -ENOMEM.
 */
int dmap_hosted_create(const struct dmap_hosted_config *config, struct dmap_hosted **out);

/**
 * dmap_hosted_destroy() - unregister all memory, wait for RCU callbacks and
 * free. Every dmap object using the environment must be gone. NULL: no-op.
 */
void dmap_hosted_destroy(struct dmap_hosted *hosted);

/** dmap_hosted_env() - the &struct dmap_env to pass to dmap_ctx_create(). */
const struct dmap_env *dmap_hosted_env(struct dmap_hosted *hosted);

#define DMAP_HOSTED_MEM_POOL \
	(1u << 0) /* pages may be handed out by alloc_dma_pages/alloc_table_page */

/**
 * dmap_hosted_mem_add() - register simulated RAM.
 * @base: physical base, 4 KiB aligned.
 * @size: bytes, > 0, multiple of 4 KiB; @base + @size may equal 2^64.
 * @flags: DMAP_HOSTED_MEM_*.
 * @host: receives the zeroed host memory (mmap'd; may be NULL).
 * Returns 0, -EINVAL (alignment, zero size, wrap), -EEXIST (overlaps a
 * region; the message names both), -ENOMEM.
 */
int dmap_hosted_mem_add(struct dmap_hosted *hosted, dmap_phys_t base, size_t size,
			unsigned int flags, void **host);

/**
 * dmap_hosted_mem_add_external() - register memory the caller owns (e.g.
 * guest RAM mapped from a vhost-user memory-table fd). dmap never frees it.
 * Same rules as dmap_hosted_mem_add(); @host must be non-NULL.
 */
int dmap_hosted_mem_add_external(struct dmap_hosted *hosted, dmap_phys_t base, size_t size,
				 unsigned int flags, void *host);

/**
 * dmap_hosted_mem_remove() - unregister the region starting at @base. Host
 * memory is unmapped after a grace period. Returns 0, -ENOENT, -EBUSY (pages
 * of a pool region are still allocated).
 */
int dmap_hosted_mem_remove(struct dmap_hosted *hosted, dmap_phys_t base);

/**
 * dmap_hosted_phys_ptr() - host pointer for [@phys, @phys+@len) if it lies in
 * one region, else NULL. For tests and tools; the pointer is valid until the
 * region is removed.
 */
void *dmap_hosted_phys_ptr(struct dmap_hosted *hosted, dmap_phys_t phys, size_t len);

/**
 * dmap_hosted_last_message() - the last WARN-or-worse message logged by the
 * calling thread through any hosted environment ("" if none). Lets bindings
 * attach the library's own words to an error code.
 */
const char *dmap_hosted_last_message(void);

/**
 * dmap_hosted_log_level_name() - "error", "warning", "info", "debug", or
 * "log" for any other value; for log hooks that print the level.
 */
const char *dmap_hosted_log_level_name(enum dmap_log_level level);

/** dmap_hosted_clear_last_message() - forget it (before a call whose message you want). */
void dmap_hosted_clear_last_message(void);

/**
 * struct dmap_hosted_counters - what the environment saw.
 * @messages: messages logged, by level index (0..7).
 * @cache_cleans, @cache_invalidates: hook calls (non_coherent only).
 * @pool_bytes_in_use: bytes handed out by alloc_dma_pages/alloc_table_page.
 */
struct dmap_hosted_counters {
	uint64_t messages[8];
	uint64_t cache_cleans;
	uint64_t cache_invalidates;
	uint64_t pool_bytes_in_use;
};

int dmap_hosted_get_counters(struct dmap_hosted *hosted, struct dmap_hosted_counters *out);

#ifdef __cplusplus
}
#endif
#endif /* DMAP_HOSTED_H */
