/* SPDX-License-Identifier: MIT */
/*
 * dmap/hosted_xen.h - a simulated Xen PV guest for the hosted environment:
 * machine memory, a guest pseudo-physical space scattered across it, and the
 * guest's P2M, so that tests, benchmarks and the Python bindings can run the
 * Xen backend against the discontiguity it exists to handle.
 *
 * The model (docs/xen.md has the picture):
 *  - MACHINE memory is one shared-memory file: a low bank of machine frames
 *    [0, low) and a high bank [2^20, 2^20 + high) (above 4 GiB), so machine
 *    addresses really cross a 32-bit mask. A device, which in Xen PV puts
 *    machine addresses on the bus, reaches it with
 *    dmap_hosted_xen_machine_read()/_write().
 *  - The guest's PSEUDO-PHYSICAL space (pfns 0..guest_frames-1) is what the
 *    guest CPU and dmap's "physical" addresses see. The guest maps it into
 *    one virtually contiguous host area, page by page, each 4 KiB page onto
 *    the machine frame the P2M names (mmap of the shared file), exactly as a
 *    PV kernel's page tables map its linear map onto machine frames. RAM
 *    runs of that area are registered with the hosted environment, so the
 *    environment's phys_to_virt/virt_to_phys, dmap_map_single() and every
 *    bounce copy work in guest pseudo-physical addresses, and a CPU store
 *    lands in the machine frame behind it.
 *  - Frames are shuffled across both banks; ranges of the guest may be
 *    missing (ballooned out: no mapping, CPU access faults), identity (an
 *    I/O hole whose machine frames are reserved and mapped 1:1) or foreign
 *    (frames of "another domain", whose M2P entries name that domain's pfns,
 *    grant-mapped here).
 *  - The exchange hook (dmap_hosted_xen_exchange_ops()) does what
 *    XENMEM_exchange does: it trades a run of the guest's frames for a free,
 *    aligned, machine-contiguous extent below an address limit, rewriting the
 *    P2M, the M2P and the guest's page mappings (contents are preserved,
 *    though the contract does not promise it).
 */
#ifndef DMAP_HOSTED_XEN_H
#define DMAP_HOSTED_XEN_H

#include <dmap/hosted.h>
#include <dmap/xen.h>

#ifdef __cplusplus
extern "C" {
#endif

struct dmap_hosted_xen;

/* First machine frame of the high bank: machine address 4 GiB. */
#define DMAP_HOSTED_XEN_HIGH_MFN (1ull << 20)

/**
 * struct dmap_hosted_xen_range - a special range of the guest's frames.
 * @pfn: first frame.
 * @count: frames.
 * @kind: DMAP_XEN_FRAME_MISSING, _IDENTITY or _FOREIGN (VALID is the default
 *	of every frame not in a range).
 */
struct dmap_hosted_xen_range {
	uint64_t pfn;
	uint64_t count;
	enum dmap_xen_frame_kind kind;
};

/**
 * struct dmap_hosted_xen_config - the simulated machine and guest.
 * @guest_frames: guest pseudo-physical frames (0: 4096, 16 MiB).
 * @low_machine_frames: machine frames below 4 GiB, from mfn 0 (0: 8192).
 * @high_machine_frames: machine frames from DMAP_HOSTED_XEN_HIGH_MFN (0: 8192).
 * @seed: shuffles which machine frame backs which guest frame (0: a fixed seed).
 * @in_order: back the guest's RAM with ascending free machine frames (low
 *	bank first) instead of shuffling: the "no straddles" baseline.
 * @plain: no special ranges at all (otherwise @ranges, or if @nr_ranges is
 *	0 the defaults: the PC's 640 KiB-1 MiB identity hole at pfns
 *	0xa0-0xff, 128 missing frames at guest_frames-256 and 64 foreign
 *	frames at the end).
 * @ranges, @nr_ranges: special ranges; must not overlap; identity ranges
 *	must lie in the low machine bank (they are 1:1).
 */
struct dmap_hosted_xen_config {
	uint64_t guest_frames;
	uint64_t low_machine_frames;
	uint64_t high_machine_frames;
	unsigned int seed;
	bool in_order;
	bool plain;
	const struct dmap_hosted_xen_range *ranges;
	size_t nr_ranges;
};

/**
 * dmap_hosted_xen_create() - build machine memory, the guest's P2M/M2P and
 * its mappings, and register the guest's RAM with @hosted (as pool memory,
 * so the Xen domain's bounce pool and coherent buffers come from it; foreign
 * ranges are registered as non-pool RAM).
 * @hosted: the hosted environment; nothing else may have registered memory
 *	below guest_frames << 12.
 * @config: NULL for the defaults.
 * @out: receives the guest.
 * Returns 0, -EINVAL (bad sizes or ranges; the message says which), -ENOMEM,
 * or what registering memory returned.
 */
int dmap_hosted_xen_create(struct dmap_hosted *hosted, const struct dmap_hosted_xen_config *config,
			   struct dmap_hosted_xen **out);

/** dmap_hosted_xen_destroy() - unregister the guest's memory and free everything. NULL: no-op. */
void dmap_hosted_xen_destroy(struct dmap_hosted_xen *guest);

/** dmap_hosted_xen_p2m() - the guest's P2M (owned by the guest). */
struct dmap_xen_p2m *dmap_hosted_xen_p2m(struct dmap_hosted_xen *guest);

/**
 * dmap_hosted_xen_exchange_ops() - the simulated XENMEM_exchange; pass it
 * with the guest as cookie in &struct dmap_xen_config.
 */
const struct dmap_xen_exchange_ops *dmap_hosted_xen_exchange_ops(void);

/**
 * dmap_hosted_xen_fail_exchanges() - make the next @count create_contiguous
 * calls fail with -ENOMEM ("Xen has no such extent"), for error-path tests.
 */
void dmap_hosted_xen_fail_exchanges(struct dmap_hosted_xen *guest, unsigned int count);

/**
 * dmap_hosted_xen_fail_exchanges_after() - let @ok more exchanges succeed,
 * then fail the next @count calls (a failure half way through a pool).
 */
void dmap_hosted_xen_fail_exchanges_after(struct dmap_hosted_xen *guest, unsigned int ok,
					  unsigned int count);

/**
 * dmap_hosted_xen_guest_ptr() - the guest CPU's pointer for pseudo-physical
 * @gphys (valid for @len bytes if they are in the guest), or NULL.
 */
void *dmap_hosted_xen_guest_ptr(struct dmap_hosted_xen *guest, dmap_phys_t gphys, size_t len);

/**
 * dmap_hosted_xen_machine_ptr() - host pointer of machine address @maddr if
 * [@maddr, @maddr + @len) lies in one bank, else NULL.
 */
void *dmap_hosted_xen_machine_ptr(struct dmap_hosted_xen *guest, uint64_t maddr, size_t len);

/**
 * dmap_hosted_xen_machine_read() / _write() - a device's access at machine
 * address @maddr, bypassing every translation (what real hardware does with
 * the bus address it was given). Return 0 or -EFAULT outside machine memory.
 */
int dmap_hosted_xen_machine_read(struct dmap_hosted_xen *guest, uint64_t maddr, void *buf,
				 size_t len);
int dmap_hosted_xen_machine_write(struct dmap_hosted_xen *guest, uint64_t maddr, const void *buf,
				  size_t len);

/**
 * dmap_hosted_xen_remap() - move guest frames [@pfn, @pfn + @count) onto the
 * free machine frames [@mfn, @mfn + @count) (contents kept, P2M, M2P and the
 * CPU mapping updated): lets a test build an exact layout, e.g. a buffer
 * that is machine-contiguous above 4 GiB. The frames must be VALID and the
 * targets free. Returns 0, -EINVAL, -EBUSY (a target frame is in use).
 */
int dmap_hosted_xen_remap(struct dmap_hosted_xen *guest, uint64_t pfn, uint64_t count,
			  uint64_t mfn);

/**
 * dmap_hosted_xen_find_free() - the first free run of @count machine frames
 * at or above @min_mfn that ends below @limit_mfn, or DMAP_XEN_INVALID_FRAME.
 */
uint64_t dmap_hosted_xen_find_free(struct dmap_hosted_xen *guest, uint64_t count, uint64_t min_mfn,
				   uint64_t limit_mfn);

/**
 * struct dmap_hosted_xen_counters - what the simulated hypervisor did.
 * @exchanges: successful create_contiguous calls.
 * @exchange_failures: refused ones (injected or no extent).
 * @releases: destroy_contiguous calls.
 * @free_frames: machine frames owned by nobody now.
 */
struct dmap_hosted_xen_counters {
	uint64_t exchanges;
	uint64_t exchange_failures;
	uint64_t releases;
	uint64_t free_frames;
};

int dmap_hosted_xen_get_counters(struct dmap_hosted_xen *guest,
				 struct dmap_hosted_xen_counters *out);

#ifdef __cplusplus
}
#endif
#endif /* DMAP_HOSTED_XEN_H */
