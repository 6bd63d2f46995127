/* SPDX-License-Identifier: MIT */
/*
 * dmap/dmap.h - the user-facing API: contexts, devices, domains, the driver
 * side (map/unmap/sync/coherent) and the device side (read/write/translate).
 *
 * Semantics follow the Linux DMA API; where dmap differs it says so:
 *  - errors are negative errno values (never errno, never abort), map calls
 *    return DMAP_MAPPING_ERROR and leave the reason in the log;
 *  - dmap_map_sg() returns a negative errno instead of 0 on failure (like
 *    dma_map_sgtable());
 *  - unmap and sync calls return an int so bad input is reported, not ignored.
 *
 * Locking contract (applies to every function unless its comment says
 * otherwise): map, unmap, sync and device-side calls are safe to call
 * concurrently from any number of threads, never sleep and may be called
 * inside an RCU read section. Object lifetime calls (create, destroy, attach,
 * detach, set_mask) may sleep and must not race with map calls on the same
 * device, exactly as a Linux driver may not change its mask while DMA is in
 * flight.
 */
#ifndef DMAP_DMAP_H
#define DMAP_DMAP_H

#include <dmap/types.h>
#include <dmap/env.h>
#include <dmap/fault.h>
#include <dmap/stats.h>

#ifdef __cplusplus
extern "C" {
#endif

struct dmap_ctx;
struct dmap_dev;
struct dmap_domain;

/* ---- context ----------------------------------------------------------- */

/**
 * dmap_ctx_create() - create a library context bound to an environment.
 * @env: the environment; must outlive the context.
 * @out: receives the context.
 *
 * Context: may sleep. Returns 0, -EINVAL if @env or @out is NULL or @env lacks
 * a required hook (the message names it), -ENOMEM.
 */
int dmap_ctx_create(const struct dmap_env *env, struct dmap_ctx **out);

/**
 * dmap_ctx_destroy() - free a context.
 * @ctx: context with no devices and no domains left.
 *
 * Returns 0, -EINVAL for NULL, -EBUSY (and frees nothing) while devices or
 * domains still exist; the message gives their counts.
 */
int dmap_ctx_destroy(struct dmap_ctx *ctx);

/** dmap_ctx_env() - the environment a context was created with (NULL for NULL). */
const struct dmap_env *dmap_ctx_env(const struct dmap_ctx *ctx);

/* ---- devices ----------------------------------------------------------- */

#define DMAP_DEV_COHERENT (1u << 0) /* snoops CPU caches: no cache maintenance needed */
#define DMAP_DEV_UNTRUSTED (1u << 1) /* external-facing: never sees data it was not given */

/**
 * struct dmap_dev_info - how a device addresses memory (Linux: struct device
 * dma fields and struct device_dma_parameters).
 * @name: for messages; copied (at most DMAP_NAME_MAX-1 bytes kept). NULL: "dev".
 * @stream_id: SMMUv3 StreamID or PCI requester id (bus<<8 | devfn) for VT-d.
 * @dma_mask: streaming mask; 0 means Linux's default, DMAP_BIT_MASK(32).
 * @coherent_dma_mask: mask for dmap_alloc_coherent(); 0 means DMAP_BIT_MASK(32).
 * @bus_dma_limit: highest address the interconnect passes; 0 means no limit.
 * @max_seg_size: largest bus segment dmap_map_sg() may build; 0 means 65536 (Linux default).
 * @seg_boundary_mask: no segment crosses a (mask+1)-aligned boundary; 0 means no boundary (~0).
 * @min_align_mask: low address bits a bounce buffer must preserve (NVMe: 4095).
 * @flags: DMAP_DEV_COHERENT, DMAP_DEV_UNTRUSTED.
 */
struct dmap_dev_info {
	const char *name;
	uint32_t stream_id;
	uint64_t dma_mask;
	uint64_t coherent_dma_mask;
	uint64_t bus_dma_limit;
	size_t max_seg_size;
	uint64_t seg_boundary_mask;
	uint64_t min_align_mask;
	uint32_t flags;
};

#define DMAP_NAME_MAX 32

/**
 * dmap_dev_create() - describe a device to dmap.
 * @ctx: context.
 * @info: addressing properties; see &struct dmap_dev_info for defaults.
 * @out: receives the device, not attached to any domain.
 *
 * Context: may sleep. Returns 0, -EINVAL (NULL pointers, unknown flag bits,
 * seg_boundary_mask+1 not a power of two, min_align_mask not of the form
 * 2^k-1), -ENOMEM. The message names the device and the field.
 */
int dmap_dev_create(struct dmap_ctx *ctx, const struct dmap_dev_info *info, struct dmap_dev **out);

/**
 * dmap_dev_destroy() - detach (if attached) and free a device.
 * @dev: device; no map call may run on it concurrently.
 *
 * Mappings still live are reported by the debug layer when it is on. Returns
 * 0 or -EINVAL for NULL.
 */
int dmap_dev_destroy(struct dmap_dev *dev);

/**
 * dmap_dev_attach() - route a device's DMA through a domain.
 * @dev: device, not attached.
 * @domain: domain of the same context.
 *
 * Context: may sleep; not concurrently with map calls on @dev. Returns 0,
 * -EINVAL (NULL, different contexts), -EBUSY (already attached: detach first),
 * or what the backend's attach hook returns (e.g. -ENODEV if an iommu domain
 * cannot take this StreamID).
 */
int dmap_dev_attach(struct dmap_dev *dev, struct dmap_domain *domain);

/**
 * dmap_dev_detach() - stop routing a device through its domain.
 * @dev: attached device.
 *
 * With the debug layer on, mappings the device still holds are reported as
 * leaked. After detach, map calls fail with DMAP_MAPPING_ERROR / -ENODEV.
 * Returns 0, -EINVAL (NULL) or -ENODEV (not attached).
 */
int dmap_dev_detach(struct dmap_dev *dev);

/** dmap_dev_domain() - the domain @dev is attached to, or NULL. Same context as map calls. */
struct dmap_domain *dmap_dev_domain(const struct dmap_dev *dev);

/**
 * dmap_dev_get_info() - read back a device's current properties (defaults resolved).
 * Returns 0 or -EINVAL for NULL. @out->name points into the device.
 */
int dmap_dev_get_info(const struct dmap_dev *dev, struct dmap_dev_info *out);

/**
 * dmap_set_mask() - set the streaming DMA mask (Linux: dma_set_mask()).
 * @dev: device.
 * @mask: new mask; must be non-zero.
 *
 * Returns 0, -EINVAL (NULL, mask 0) or -EIO when the attached domain cannot
 * serve a device with this mask (its dma_supported hook says no), in which
 * case the old mask stays.
 */
int dmap_set_mask(struct dmap_dev *dev, uint64_t mask);
/** dmap_set_coherent_mask() - as dmap_set_mask() for the coherent mask. */
int dmap_set_coherent_mask(struct dmap_dev *dev, uint64_t mask);
/** dmap_set_mask_and_coherent() - both masks at once; neither changes on failure. */
int dmap_set_mask_and_coherent(struct dmap_dev *dev, uint64_t mask);
/** dmap_set_max_seg_size() - 0 is -EINVAL. */
int dmap_set_max_seg_size(struct dmap_dev *dev, size_t size);
/** dmap_set_seg_boundary() - @mask+1 must be a power of two (or @mask all ones). */
int dmap_set_seg_boundary(struct dmap_dev *dev, uint64_t mask);
/** dmap_set_min_align_mask() - @mask must be 2^k-1 (0 allowed). */
int dmap_set_min_align_mask(struct dmap_dev *dev, uint64_t mask);

/* ---- domains ----------------------------------------------------------- */

/*
 * A domain is one instance of a backend (identity, bounce, iommu, xen, or one
 * you write against <dmap/ops.h>). Each backend has its own constructor in
 * its header (dmap/identity.h, ...); everything else is common.
 */

/**
 * dmap_domain_destroy() - free a domain.
 * @domain: domain with no attached devices.
 *
 * Returns 0, -EINVAL for NULL, -EBUSY while devices are attached or another
 * domain uses it as its fallback (nothing is freed then).
 */
int dmap_domain_destroy(struct dmap_domain *domain);

/** dmap_domain_name() - the backend instance's name (e.g. "identity"); "" for NULL. */
const char *dmap_domain_name(const struct dmap_domain *domain);

/** dmap_domain_backend() - the backend's name from its ops table; "" for NULL. */
const char *dmap_domain_backend(const struct dmap_domain *domain);

/**
 * dmap_domain_set_debug() - switch the DMA-API debug layer on or off.
 * @domain: domain.
 * @enable: true to track every mapping and report misuse.
 *
 * The layer must see a domain's whole history to judge it, so it can only be
 * switched while no device is attached. Returns 0, -EINVAL for NULL, -EBUSY
 * while devices are attached, -ENOMEM. See <dmap/debug.h> for the reports.
 */
int dmap_domain_set_debug(struct dmap_domain *domain, bool enable);

/**
 * dmap_domain_set_counting() - count every map/unmap and its bytes.
 * @domain: domain.
 * @enable: on or off.
 *
 * Errors, faults and fallbacks are always counted; per-mapping counts cost an
 * atomic add on the hot path, so they are opt-in. Returns 0 or -EINVAL.
 */
int dmap_domain_set_counting(struct dmap_domain *domain, bool enable);

/**
 * dmap_domain_get_stats() - snapshot a domain's counters.
 * Returns 0 or -EINVAL. Counters are read without a lock and may be mid-update.
 */
int dmap_domain_get_stats(const struct dmap_domain *domain, struct dmap_domain_stats *out);

/* ---- driver side ------------------------------------------------------- */

/**
 * dmap_map_phys() - map a physically contiguous buffer for streaming DMA.
 * @dev: attached device.
 * @phys: CPU physical address.
 * @size: bytes, > 0, and @phys + @size - 1 must not wrap.
 * @dir: DMAP_BIDIRECTIONAL, DMAP_TO_DEVICE or DMAP_FROM_DEVICE.
 * @attrs: DMAP_ATTR_* bits.
 *
 * Ownership passes to the device. Context: any; never sleeps.
 * Returns the bus address or DMAP_MAPPING_ERROR (bad argument, device not
 * attached, mask cannot reach and no fallback, resource exhaustion); the
 * message names the device, the address and the size.
 */
dmap_addr_t dmap_map_phys(struct dmap_dev *dev, dmap_phys_t phys, size_t size, enum dmap_dir dir,
			  unsigned long attrs);

/**
 * dmap_unmap_phys() - end a streaming mapping.
 * @dev, @addr, @size, @dir, @attrs: as passed to / returned by the map call.
 *
 * Ownership returns to the CPU (bounced data copied back for FROM_DEVICE and
 * BIDIRECTIONAL unless DMAP_ATTR_SKIP_CPU_SYNC). Returns 0, -EINVAL (bad
 * argument), -ENODEV (not attached), or the backend's error (-ENOENT for an
 * address it never handed out, where it can tell).
 */
int dmap_unmap_phys(struct dmap_dev *dev, dmap_addr_t addr, size_t size, enum dmap_dir dir,
		    unsigned long attrs);

/**
 * dmap_map_single() - map a CPU pointer (Linux: dma_map_single()).
 * @cpu_addr: must be physically contiguous for @size bytes (the environment's
 * virt_to_phys says how far it is); otherwise DMAP_MAPPING_ERROR.
 * Other arguments and context as dmap_map_phys().
 */
dmap_addr_t dmap_map_single(struct dmap_dev *dev, void *cpu_addr, size_t size, enum dmap_dir dir,
			    unsigned long attrs);

/** dmap_unmap_single() - same as dmap_unmap_phys(). */
int dmap_unmap_single(struct dmap_dev *dev, dmap_addr_t addr, size_t size, enum dmap_dir dir,
		      unsigned long attrs);

/**
 * dmap_map_sg() - map a scatter-gather list.
 * @dev: attached device.
 * @sg: @nents entries; phys/len read, dma_addr/dma_len written.
 * @nents: > 0.
 * @dir, @attrs: as dmap_map_phys().
 *
 * Entries are mapped in order and adjacent results merged into one bus
 * segment only when they are contiguous in bus space, the merged length stays
 * within the device's max_seg_size and the segment does not cross its
 * seg_boundary_mask. Returns the number of bus segments (1..@nents) or a
 * negative errno; on failure nothing stays mapped. Unmap and sync with the
 * original @nents, never the returned count.
 */
int dmap_map_sg(struct dmap_dev *dev, struct dmap_sg *sg, int nents, enum dmap_dir dir,
		unsigned long attrs);

/** dmap_unmap_sg() - unmap what dmap_map_sg() mapped; @nents as passed to it. */
int dmap_unmap_sg(struct dmap_dev *dev, struct dmap_sg *sg, int nents, enum dmap_dir dir,
		  unsigned long attrs);

/**
 * dmap_sync_single_for_cpu() - give a (sub)range of a live mapping back to the CPU.
 * @addr: inside a live mapping (a sub-range is allowed: it syncs exactly that range).
 * @size: > 0.
 * @dir: the mapping's direction.
 *
 * Copies bounced data back for FROM_DEVICE and BIDIRECTIONAL and invalidates
 * CPU caches for non-coherent devices. Returns 0 or a negative errno.
 */
int dmap_sync_single_for_cpu(struct dmap_dev *dev, dmap_addr_t addr, size_t size,
			     enum dmap_dir dir);
/** dmap_sync_single_for_device() - give the range back to the device (copy in for TO/BIDIR). */
int dmap_sync_single_for_device(struct dmap_dev *dev, dmap_addr_t addr, size_t size,
				enum dmap_dir dir);
/** dmap_sync_sg_for_cpu() - sync every entry of a mapped list; @nents as passed to map. */
int dmap_sync_sg_for_cpu(struct dmap_dev *dev, struct dmap_sg *sg, int nents, enum dmap_dir dir);
/** dmap_sync_sg_for_device() - as dmap_sync_sg_for_cpu(), towards the device. */
int dmap_sync_sg_for_device(struct dmap_dev *dev, struct dmap_sg *sg, int nents, enum dmap_dir dir);

/**
 * dmap_alloc_coherent() - allocate memory both the CPU and the device see.
 * @dev: attached device.
 * @size: > 0.
 * @handle: receives the bus address (DMAP_MAPPING_ERROR on failure).
 * @attrs: DMAP_ATTR_* bits.
 *
 * The memory lies below the device's coherent mask. Context: may sleep.
 * Returns the CPU pointer or NULL.
 */
void *dmap_alloc_coherent(struct dmap_dev *dev, size_t size, dmap_addr_t *handle,
			  unsigned long attrs);

/** dmap_free_coherent() - free what dmap_alloc_coherent() returned; all arguments must match. */
int dmap_free_coherent(struct dmap_dev *dev, size_t size, void *cpu_addr, dmap_addr_t handle,
		       unsigned long attrs);

/**
 * dmap_max_mapping_size() - the largest single mapping that can succeed, for
 * capping block-layer segments before anyone maps (Linux:
 * dma_max_mapping_size()). SIZE_MAX when unlimited; 0 for a NULL or detached
 * device.
 */
size_t dmap_max_mapping_size(struct dmap_dev *dev);

/**
 * dmap_addressing_limited() - true when the device's mask (or bus limit)
 * cannot reach all memory the domain may be asked to map, i.e. some mappings
 * will bounce or fail (Linux: dma_addressing_limited()). false for NULL.
 */
bool dmap_addressing_limited(struct dmap_dev *dev);

/**
 * dmap_mapping_error() - check a map result (Linux: dma_mapping_error()).
 * Returns -ENOMEM if @addr is DMAP_MAPPING_ERROR, else 0. Also tells the debug
 * layer the result was checked.
 */
int dmap_mapping_error(struct dmap_dev *dev, dmap_addr_t addr);

/* ---- device side ------------------------------------------------------- */

/* Access bits for dmap_translate() and the fault log. */
#define DMAP_ACCESS_READ (1u << 0)
#define DMAP_ACCESS_WRITE (1u << 1)
#define DMAP_ACCESS_PRIV (1u << 2) /* privileged transaction (SMMU PnU) */
#define DMAP_ACCESS_EXEC (1u << 3) /* instruction fetch (SMMU InD) */

/**
 * struct dmap_translation - where a bus address lands.
 * @phys: CPU physical address of @addr.
 * @len: bytes from @addr that stay physically contiguous with the same
 *       permissions (at least 1).
 * @perm: DMAP_ACCESS_READ / DMAP_ACCESS_WRITE allowed there.
 */
struct dmap_translation {
	dmap_phys_t phys;
	size_t len;
	unsigned int perm;
};

/**
 * dmap_translate() - what the device would reach at @addr.
 * @dev: attached device.
 * @addr: bus address.
 * @access: DMAP_ACCESS_* bits of the intended access (READ or WRITE at least).
 * @out: filled on success.
 *
 * Context: any; never sleeps. Returns 0, -EINVAL, -ENODEV (not attached) or
 * -EFAULT when the access would fault; a fault is recorded in the domain's
 * fault log.
 */
int dmap_translate(struct dmap_dev *dev, dmap_addr_t addr, unsigned int access,
		   struct dmap_translation *out);

/**
 * dmap_dev_read() - the device reads @len bytes at bus address @addr.
 * @buf: destination.
 *
 * Walks the device's translation chunk by chunk with the permission checks of
 * its domain. Returns 0 or -EFAULT (first failing chunk recorded in the fault
 * log; bytes before it may have been transferred, as on real hardware),
 * -EINVAL, -ENODEV.
 */
int dmap_dev_read(struct dmap_dev *dev, dmap_addr_t addr, void *buf, size_t len);

/** dmap_dev_write() - the device writes @len bytes to @addr; as dmap_dev_read(). */
int dmap_dev_write(struct dmap_dev *dev, dmap_addr_t addr, const void *buf, size_t len);

/** dmap_dev_name() - the device's name ("" for NULL). */
const char *dmap_dev_name(const struct dmap_dev *dev);

#ifdef __cplusplus
}
#endif
#endif /* DMAP_DMAP_H */
