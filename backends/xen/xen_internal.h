/* SPDX-License-Identifier: MIT */
/*
 * backends/xen/xen_internal.h - what the Xen backend's files share: the
 * read side of the P2M for callers that already hold the RCU read lock.
 */
#ifndef DMAP_XEN_INTERNAL_H
#define DMAP_XEN_INTERNAL_H

#include <dmap/xen.h>

/* Raw P2M entry of @pfn (INVALID beyond max_pfn). Caller holds the RCU read lock. */
uint64_t dmap_xen_p2m_raw_rcu(const struct dmap_xen_p2m *p2m, uint64_t pfn);
/* mfn_to_pfn with the round-trip and identity rules. Caller holds the RCU read lock. */
uint64_t dmap_xen_mfn_to_pfn_rcu(const struct dmap_xen_p2m *p2m, uint64_t mfn);
/* The local pfn grant-mapping foreign @mfn, checked. Caller holds the RCU read lock. */
uint64_t dmap_xen_foreign_to_pfn_rcu(const struct dmap_xen_p2m *p2m, uint64_t mfn);
/* Kind of a raw entry. */
enum dmap_xen_frame_kind dmap_xen_raw_kind(uint64_t raw);
const char *dmap_xen_frame_kind_name(enum dmap_xen_frame_kind kind);
uint64_t dmap_xen_p2m_max_pfn(const struct dmap_xen_p2m *p2m);
const struct dmap_env *dmap_xen_p2m_env(const struct dmap_xen_p2m *p2m);

/* Machine frame of a raw entry (marker bits removed). */
static inline uint64_t dmap_xen_raw_frame(uint64_t raw)
{
	return raw & ~(DMAP_XEN_FOREIGN_FRAME_BIT | DMAP_XEN_IDENTITY_FRAME_BIT);
}

#endif /* DMAP_XEN_INTERNAL_H */
