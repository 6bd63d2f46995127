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
int dmap_backend_unmap_sg(struct dmap_domain *dom, const struct dmap_ops *ops,
			  struct dmap_dev *dev, const struct dmap_sg *sg, const dmap_addr_t *addrs,
			  int nents, enum dmap_dir dir, unsigned long attrs);

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

#define DMAP_FAULT_RING_DEFAULT_CAPACITY 256

#endif /* DMAP_CORE_INTERNAL_H */
