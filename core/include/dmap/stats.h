/* SPDX-License-Identifier: MIT */
/*
 * dmap/stats.h - per-domain counters kept by the core.
 *
 * Backends keep their own, richer statistics (the bounce pool's occupancy,
 * the iommu's IOTLB hits) behind their own headers; these are the counters
 * every domain has. Error and fault counters are always on; the per-mapping
 * counters need dmap_domain_set_counting() because they cost an atomic add
 * on the hot path.
 */
#ifndef DMAP_STATS_H
#define DMAP_STATS_H

#include <dmap/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/**
 * struct dmap_domain_stats - counters of one domain.
 * @maps: successful single mappings (counting on).
 * @unmaps: single unmaps (counting on).
 * @sg_maps: successful dmap_map_sg() calls (counting on).
 * @sg_segments_merged: sg entries merged into their predecessor (counting on).
 * @bytes_mapped: bytes of successful mappings, single and sg (counting on).
 * @syncs: sync calls (counting on).
 * @coherent_allocs: successful coherent allocations (always).
 * @map_errors: map calls that returned DMAP_MAPPING_ERROR or an sg error (always).
 * @invalid_args: calls rejected for bad arguments before reaching the backend (always).
 * @fallback_maps: mappings a domain handed to its fallback domain (always).
 * @faults: device-side accesses that faulted (always).
 */
struct dmap_domain_stats {
	uint64_t maps;
	uint64_t unmaps;
	uint64_t sg_maps;
	uint64_t sg_segments_merged;
	uint64_t bytes_mapped;
	uint64_t syncs;
	uint64_t coherent_allocs;
	uint64_t map_errors;
	uint64_t invalid_args;
	uint64_t fallback_maps;
	uint64_t faults;
};

#ifdef __cplusplus
}
#endif
#endif /* DMAP_STATS_H */
