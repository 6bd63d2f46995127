/* SPDX-License-Identifier: MIT */
/*
 * core/src/internal.h - what core's files share and nothing outside core/src
 * may include: the context layout and the seams between dispatch, the
 * scatter-gather helpers and the debug layer.
 */
#ifndef DMAP_CORE_INTERNAL_H
#define DMAP_CORE_INTERNAL_H

#include <dmap/ops.h>
#include <dmap/debug.h>

struct dmap_ctx {
	const struct dmap_env *env;
	unsigned long devices; /* live devices (atomic) */
	unsigned long domains; /* live domains (atomic) */
};

/*
 * Map every entry of @sg through table @ops of @dom, unmerged (entry i's bus
 * address in sg[i].dma_addr, sg[i].dma_len = sg[i].len): the backend's map_sg
 * if it has one, else map_phys entry by entry, unmapping what was mapped if
 * one fails. Returns 0 or a negative errno with nothing left mapped. The
 * debug layer calls it with the backend's table, dispatch with the active one.
 */
int dmap_backend_map_sg(struct dmap_domain *dom, const struct dmap_ops *ops, struct dmap_dev *dev,
			struct dmap_sg *sg, int nents, enum dmap_dir dir, unsigned long attrs);

/* Undo dmap_backend_map_sg() given per-entry bus addresses @addrs. */
int dmap_backend_unmap_sg(struct dmap_domain *dom, const struct dmap_ops *ops, struct dmap_dev *dev,
			  const struct dmap_sg *sg, const dmap_addr_t *addrs, int nents,
			  enum dmap_dir dir, unsigned long attrs);

/* Sync one range through table @ops (NULL hook: cache maintenance only). */
int dmap_backend_sync(struct dmap_domain *dom, const struct dmap_ops *ops, struct dmap_dev *dev,
		      dmap_addr_t addr, size_t size, enum dmap_dir dir, bool for_cpu);

/*
 * Debug layer seams (core/src/debug.c). dmap_debug_enable() allocates the
 * tracking state and switches dom->ops to the debug wrapper; disable restores
 * dom->backend_ops and frees the state (reporting what is still live).
 * Called by dmap_domain_set_debug() with no device attached.
 */
int dmap_debug_enable(struct dmap_domain *dom);
void dmap_debug_disable(struct dmap_domain *dom);
/* dmap_mapping_error() was called on @addr by @dev (clears "not checked"). */
void dmap_debug_mapping_checked(struct dmap_domain *dom, struct dmap_dev *dev, dmap_addr_t addr);
/* @dev is being detached from @dom: report and forget its live mappings. */
void dmap_debug_device_detached(struct dmap_domain *dom, struct dmap_dev *dev);

/* Fault ring (core/src/fault_ring.c). */
struct dmap_fault_ring *dmap_fault_ring_create(const struct dmap_env *env, unsigned int capacity);
void dmap_fault_ring_destroy(const struct dmap_env *env, struct dmap_fault_ring *ring);
/* Never blocks; drops (and counts) when full. */
void dmap_fault_ring_push(struct dmap_fault_ring *ring, struct dmap_fault *fault);

/* Takes the oldest record: 1, or 0 when empty. Never blocks; any number of consumers. */
int dmap_fault_ring_pop(struct dmap_fault_ring *ring, struct dmap_fault *out);
/* Faults offered so far and, of those, dropped because the ring was full. */
void dmap_fault_ring_counts(const struct dmap_fault_ring *ring, uint64_t *recorded,
			    uint64_t *dropped);
/* Slots in the ring (the requested capacity rounded up to a power of two). */
unsigned int dmap_fault_ring_capacity(const struct dmap_fault_ring *ring);

#define DMAP_FAULT_RING_DEFAULT_CAPACITY 256

/*
 * Build a complete fault record from @draft (only reason and the raw record
 * are read: what a translate hook may fill) with @dev's name and stream id,
 * @addr and @access, push it into @dom's ring, count it in stats.faults and
 * log it (rate limited). core/src/device_access.c.
 */
void dmap_fault_record(struct dmap_domain *dom, struct dmap_dev *dev, dmap_addr_t addr,
		       unsigned int access, const struct dmap_fault *draft);

/*
 * Copy between a buffer and physical memory, stopping at the first byte that
 * is not RAM; returns the bytes moved (== @len on success). The caller holds
 * the RCU read lock. core/src/phys_access.c.
 */
size_t dmap_phys_transfer(const struct dmap_env *env, dmap_phys_t phys, void *buf, size_t len,
			  bool to_phys);

/*
 * Argument errors found by dispatch: log "dmap: <device>: <call>: <what>"
 * at WARN and count stats.invalid_args on @dom (may be NULL).
 * core/src/dispatch.c.
 */
void dmap_invalid_arg(struct dmap_dev *dev, struct dmap_domain *dom, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* The environment behind a device (never NULL for a created device). */
static inline const struct dmap_env *dmap_dev_env(const struct dmap_dev *dev)
{
	return dev->ctx->env;
}

#endif /* DMAP_CORE_INTERNAL_H */
