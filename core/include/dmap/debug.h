/* SPDX-License-Identifier: MIT */
/*
 * dmap/debug.h - the DMA-API debug layer (Linux: CONFIG_DMA_API_DEBUG), per
 * domain and switchable at run time with dmap_domain_set_debug().
 *
 * When on, the domain's active ops table is a wrapper that records every
 * mapping (device, bus address, size, direction, kind, whether its error was
 * checked) before forwarding to the backend, and reports misuse through the
 * environment's log, each line starting "dmap-debug: <device>: ". Reports
 * never change what the call does: a bad unmap is still forwarded, so the
 * backend's own error comes back as it would without debugging.
 */
#ifndef DMAP_DEBUG_H
#define DMAP_DEBUG_H

#include <dmap/types.h>

#ifdef __cplusplus
extern "C" {
#endif

struct dmap_domain;

/* The kinds of report, each counted separately. */
enum dmap_debug_report {
	DMAP_DEBUG_UNMAP_UNKNOWN = 0, /* unmap of an address never mapped */
	DMAP_DEBUG_DOUBLE_UNMAP, /* unmap of an address unmapped before */
	DMAP_DEBUG_SIZE_MISMATCH, /* unmap/free size differs from the map's */
	DMAP_DEBUG_DIR_MISMATCH, /* unmap direction differs */
	DMAP_DEBUG_KIND_MISMATCH, /* e.g. unmap_phys of an sg or coherent mapping */
	DMAP_DEBUG_SG_COUNT_MISMATCH, /* unmap_sg with another nents */
	DMAP_DEBUG_SYNC_OUTSIDE, /* sync range not inside a live mapping */
	DMAP_DEBUG_SYNC_WRONG_DIR, /* sync direction not the mapping's */
	DMAP_DEBUG_ERROR_NOT_CHECKED, /* unmapped without dmap_mapping_error() having been called */
	DMAP_DEBUG_LEAK, /* mapping still live at detach or destroy */
	DMAP_DEBUG_REPORT_COUNT
};

/**
 * struct dmap_debug_counts - reports per kind, plus what is tracked now.
 * @reports: indexed by enum dmap_debug_report.
 * @live_mappings: mappings currently tracked.
 */
struct dmap_debug_counts {
	uint64_t reports[DMAP_DEBUG_REPORT_COUNT];
	uint64_t live_mappings;
};

/**
 * dmap_debug_get_counts() - read a domain's debug counters.
 * Returns 0, -EINVAL (NULL), -ENODEV (debugging is off for @domain).
 */
int dmap_debug_get_counts(const struct dmap_domain *domain, struct dmap_debug_counts *out);

/** dmap_debug_report_name() - "unmap-unknown", "double-unmap", ...; "unknown". */
const char *dmap_debug_report_name(enum dmap_debug_report report);

#ifdef __cplusplus
}
#endif
#endif /* DMAP_DEBUG_H */
