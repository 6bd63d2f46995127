/* SPDX-License-Identifier: MIT */
/*
 * core/env/hosted/hosted_internal.h - what hosted_env.c and hosted_memory.c
 * share: the environment structure and the memory half's entry points.
 */
#ifndef DMAP_HOSTED_INTERNAL_H
#define DMAP_HOSTED_INTERNAL_H

#include <pthread.h>
#include <semaphore.h>

#include <dmap/hosted.h>
#include <dmap/helpers.h>
#include <dmap/range_map.h>

struct dmap_hosted_region;

/*
 * struct dmap_hosted_aligned - the set of live over-aligned allocations
 * (align > 16), so that free, which is told the size but not the alignment,
 * can still give jemalloc's sdallocx the flags the allocation was made with.
 * Open addressing with linear probing; rare and off the hot path.
 */
struct dmap_hosted_aligned_slot {
	void *ptr; /* NULL: empty */
	size_t align;
};

struct dmap_hosted_aligned {
	pthread_mutex_t lock;
	size_t live; /* entries in use (atomic reads on the free fast path) */
	size_t capacity; /* power of two or 0 */
	struct dmap_hosted_aligned_slot *slots;
};

struct dmap_hosted {
	struct dmap_env env;

	dmap_hosted_log_fn log;
	void *log_arg;
	enum dmap_log_level stderr_level;
	bool non_coherent;

	/* Deferred frees: see the essay in hosted_env.c. */
	struct dmap_rcu_head *rcu_pending; /* Treiber stack of queued heads, newest first */
	uint64_t rcu_queued; /* heads ever queued (atomic) */
	uint64_t rcu_completed; /* heads whose callback has run (under rcu_lock) */
	bool rcu_stop; /* worker exits (under rcu_lock) */
	bool rcu_sleeping; /* worker waits on rcu_wake (atomic) */
	pthread_t rcu_worker;
	pthread_mutex_t rcu_lock;
	pthread_cond_t rcu_done; /* broadcast after each batch */
	sem_t rcu_wake; /* posted by call_rcu: async-signal-safe, never blocks */

	struct dmap_hosted_aligned aligned;

	/* Simulated physical memory (hosted_memory.c). */
	pthread_mutex_t mem_lock; /* serialises registration and the pool allocator */
	struct dmap_range_map *phys_map; /* phys -> host pointer (value), region (data) */
	struct dmap_range_map *host_map; /* host address -> phys base (value) */
	struct dmap_hosted_region *regions; /* sorted by base, descending; under mem_lock */
	dmap_phys_t max_ram; /* last byte of the highest region (atomic) */

	/* Counters (relaxed atomics). */
	uint64_t messages[8];
	uint64_t cache_cleans;
	uint64_t cache_invalidates;
	uint64_t pool_bytes_in_use;
};

/* hosted_env.c */
void dmap_hosted_logf(struct dmap_hosted *hosted, enum dmap_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void dmap_hosted_rcu_barrier(void *cookie);

/* hosted_memory.c */
int dmap_hosted_memory_init(struct dmap_hosted *hosted);
void dmap_hosted_memory_fini(struct dmap_hosted *hosted);
void *dmap_hosted_phys_to_virt(void *cookie, dmap_phys_t phys, size_t *contig);
int dmap_hosted_virt_to_phys(void *cookie, const void *va, dmap_phys_t *phys, size_t *contig);
dmap_phys_t dmap_hosted_max_ram_address(void *cookie);
void *dmap_hosted_alloc_dma_pages(void *cookie, size_t size, size_t align, uint64_t phys_limit,
				  dmap_phys_t *phys);
void dmap_hosted_free_dma_pages(void *cookie, void *va, dmap_phys_t phys, size_t size);
void *dmap_hosted_alloc_table_page(void *cookie, size_t size, dmap_phys_t *phys);
void dmap_hosted_free_table_page(void *cookie, void *va, dmap_phys_t phys, size_t size);

#endif /* DMAP_HOSTED_INTERNAL_H */
