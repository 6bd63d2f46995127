/* SPDX-License-Identifier: MIT */
/*
 * dmap/env.h - the runtime half of the environment contract.
 *
 * dmap's core never calls malloc, never takes a pthread lock and never prints:
 * everything it needs from the world arrives through one of two channels.
 *
 *  - The hot-path half is a header of inline primitives, <dmap_env_inline.h>,
 *    picked per build by include path (hosted: core/env/hosted/include; bare
 *    metal: frontends/baremetal/include; kernel: frontends/linux/include). It
 *    provides atomics, barriers, the RCU read side and a spinlock.
 *  - The slow-path half is this ops table plus an opaque cookie: allocation,
 *    page-table pages with their physical address, phys<->virt, cache
 *    maintenance, deferred free after a grace period, logging and time.
 *
 * The split follows io-pgtable's format ops vs flush ops: what must inline
 * comes from the include path, what may cost a call comes through a pointer.
 * docs/environment.md states, for every hook, who calls it and in which
 * context (may it sleep, is it under an RCU read lock).
 */
#ifndef DMAP_ENV_H
#define DMAP_ENV_H

#include <dmap/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/**
 * struct dmap_rcu_head - embed in an object freed after a grace period.
 * @next: owned by the environment while the callback is queued.
 * @func: called once after every RCU reader that could see the object is gone.
 */
struct dmap_rcu_head {
	struct dmap_rcu_head *next;
	void (*func)(struct dmap_rcu_head *head);
};

enum dmap_log_level {
	DMAP_LOG_ERR = 3,
	DMAP_LOG_WARN = 4,
	DMAP_LOG_INFO = 6,
	DMAP_LOG_DEBUG = 7,
};

/* Flags for dmap_env_ops.alloc. */
#define DMAP_ALLOC_ATOMIC (1u << 0) /* caller may not sleep (map path: Linux's GFP_ATOMIC) */
#define DMAP_ALLOC_ZERO (1u << 1) /* memory comes back zeroed */

/**
 * struct dmap_env_ops - what an environment supplies at run time.
 *
 * Every hook receives the cookie of the &struct dmap_env it was found in.
 * Required hooks are marked; optional ones may be NULL and the core then
 * falls back as documented per hook.
 */
struct dmap_env_ops {
	/**
	 * @alloc: (required) metadata allocation of @size bytes aligned to @align
	 * (a power of two, at most 4096). @flags: DMAP_ALLOC_*. Returns NULL on
	 * failure. Called outside RCU read sections; may sleep unless
	 * DMAP_ALLOC_ATOMIC.
	 */
	void *(*alloc)(void *cookie, size_t size, size_t align, unsigned int flags);
	/** @free: (required) releases what @alloc returned; @size is the allocated size. */
	void (*free)(void *cookie, void *ptr, size_t size);

	/**
	 * @alloc_table_page: (optional; required by the iommu backend) a zeroed,
	 * naturally aligned block of @size bytes (512 B..64 KiB) that a hardware
	 * walker can read at the physical address stored in *@phys. Not under RCU;
	 * may be called from the map path, so it must not sleep.
	 */
	void *(*alloc_table_page)(void *cookie, size_t size, dmap_phys_t *phys);
	/** @free_table_page: (optional) releases a table page; never called before its flush completed. */
	void (*free_table_page)(void *cookie, void *va, dmap_phys_t phys, size_t size);

	/**
	 * @alloc_dma_pages: (optional; coherent allocations, bounce pools) @size
	 * bytes of physically contiguous RAM, aligned to the page size or to
	 * @align if larger (a power of two), whose last byte is at or below
	 * @phys_limit. Returns the CPU pointer and the address in *@phys, or NULL.
	 * Memory is zeroed. May sleep; never called inside an RCU read section.
	 */
	void *(*alloc_dma_pages)(void *cookie, size_t size, size_t align, uint64_t phys_limit,
				 dmap_phys_t *phys);
	/** @free_dma_pages: (required with @alloc_dma_pages). May sleep. */
	void (*free_dma_pages)(void *cookie, void *va, dmap_phys_t phys, size_t size);

	/**
	 * @phys_to_virt: (required) CPU pointer for physical address @phys, and in
	 * *@contig how many bytes from there are contiguous in the CPU's view (at
	 * least 1 on success). Returns NULL when @phys is not RAM the environment
	 * knows. Called on map/sync/device-access paths, possibly inside an RCU
	 * read section; must not sleep. The pointer stays valid as long as the
	 * caller holds the RCU read lock (hosted: memory may be unregistered).
	 */
	void *(*phys_to_virt)(void *cookie, dmap_phys_t phys, size_t *contig);
	/**
	 * @virt_to_phys: (required) physical address of CPU pointer @va in *@phys
	 * and bytes contiguous in *@contig. Returns 0 or -EFAULT for memory that
	 * is not DMA-able RAM. Same context as @phys_to_virt.
	 */
	int (*virt_to_phys)(void *cookie, const void *va, dmap_phys_t *phys, size_t *contig);

	/**
	 * @max_ram_address: (optional) highest physical address of RAM the
	 * environment may ask dmap to map (Linux: the last pfn). Lets the identity
	 * backend answer dmap_addressing_limited(). NULL: assume 2^64-1.
	 */
	dmap_phys_t (*max_ram_address)(void *cookie);

	/**
	 * @cache_clean: (optional) write back CPU caches for [@va, @va+@len) before a
	 * non-coherent device reads it (sync for device). NULL: caches are coherent.
	 * Atomic context.
	 */
	void (*cache_clean)(void *cookie, void *va, size_t len);
	/** @cache_invalidate: (optional) discard CPU cache lines so the CPU sees device writes. Atomic. */
	void (*cache_invalidate)(void *cookie, void *va, size_t len);

	/**
	 * @call_rcu: (required) run @head->func(@head) after a grace period. Callable
	 * from any context including inside an RCU read section; never blocks.
	 */
	void (*call_rcu)(void *cookie, struct dmap_rcu_head *head,
			 void (*func)(struct dmap_rcu_head *));
	/**
	 * @synchronize_rcu: (required) wait until every pre-existing RCU reader has
	 * left. Sleeps; never call it inside a read section.
	 */
	void (*synchronize_rcu)(void *cookie);
	/** @rcu_barrier: (optional) wait for all callbacks queued so far to have run. Sleeps. */
	void (*rcu_barrier)(void *cookie);

	/**
	 * @log: (required) deliver one formatted, newline-free message. Any
	 * context; must not block for long and must not call back into dmap.
	 */
	void (*log)(void *cookie, enum dmap_log_level level, const char *message);
	/** @now_ns: (optional) monotonic nanoseconds; rate limits and flush timeouts. NULL: time stands still. */
	uint64_t (*now_ns)(void *cookie);
};

/**
 * struct dmap_env - an environment instance: the ops and their cookie.
 * @ops: hooks, see &struct dmap_env_ops.
 * @cookie: passed back to every hook.
 */
struct dmap_env {
	const struct dmap_env_ops *ops;
	void *cookie;
};

#ifdef __cplusplus
}
#endif
#endif /* DMAP_ENV_H */
