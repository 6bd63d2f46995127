/* SPDX-License-Identifier: MIT */
/*
 * backends/xen/xen_internal.h - what the Xen backend's files share: the P2M's
 * layout and its lock-free read side, inline, because the map path reads it
 * once per 4 KiB frame of every buffer. p2m.c explains the structure.
 */
#ifndef DMAP_XEN_INTERNAL_H
#define DMAP_XEN_INTERNAL_H

#include <dmap/xen.h>
#include <dmap/helpers.h>

#define XEN_LEAF_SHIFT 9
#define XEN_LEAF_ENTRIES (1u << XEN_LEAF_SHIFT)
#define XEN_MID_SHIFT (2 * XEN_LEAF_SHIFT) /* frames covered by one middle page: 2^18 */
#define XEN_MID_ENTRIES (1u << XEN_LEAF_SHIFT)
#define XEN_MID_FRAMES (1ull << XEN_MID_SHIFT)

struct xen_leaf {
	uint64_t entry[XEN_LEAF_ENTRIES];
};

struct xen_mid {
	struct xen_leaf *leaf[XEN_MID_ENTRIES];
};

/* The shared read-only leaves (p2m.c); the identity one's address means "1:1". */
extern const struct xen_leaf dmap_xen_missing_leaf;
extern const struct xen_leaf dmap_xen_identity_leaf;
#define XEN_IDENTITY_LEAF ((struct xen_leaf *)&dmap_xen_identity_leaf)

struct xen_table {
	struct xen_mid **top;
	uint64_t top_entries;
	uint64_t limit; /* indices 0..limit-1 */
};

struct dmap_xen_p2m {
	const struct dmap_env *env;
	dmap_spinlock_t lock; /* serialises writers of all three tables */
	struct xen_table p2m; /* pfn -> raw entry */
	struct xen_table m2p; /* mfn -> pfn */
	struct xen_table foreign; /* mfn -> local pfn grant-mapping it */
	uint64_t leaf_pages, mid_pages, top_bytes; /* writer-owned, read relaxed */
	uint64_t updates, frames_written, generation;
};

/* Caller holds the RCU read lock; @index < t->limit. */
static inline uint64_t xen_table_read(const struct xen_table *t, uint64_t index)
{
	struct xen_mid *mid = dmap_rcu_dereference(t->top[index >> XEN_MID_SHIFT]);
	struct xen_leaf *leaf =
		dmap_rcu_dereference(mid->leaf[(index >> XEN_LEAF_SHIFT) & (XEN_MID_ENTRIES - 1)]);

	if (leaf == XEN_IDENTITY_LEAF)
		return DMAP_XEN_IDENTITY_FRAME(index);
	return dmap_load_relaxed(&leaf->entry[index & (XEN_LEAF_ENTRIES - 1)]);
}

/* Raw P2M entry of @pfn (INVALID beyond max_pfn). Caller holds the RCU read lock. */
static inline uint64_t dmap_xen_p2m_raw_rcu(const struct dmap_xen_p2m *p2m, uint64_t pfn)
{
	if (dmap_unlikely(pfn >= p2m->p2m.limit))
		return DMAP_XEN_INVALID_FRAME;
	return xen_table_read(&p2m->p2m, pfn);
}

/* mfn_to_pfn with the round-trip and identity rules. Caller holds the RCU read lock. */
uint64_t dmap_xen_mfn_to_pfn_rcu(const struct dmap_xen_p2m *p2m, uint64_t mfn);
/* The local pfn grant-mapping foreign @mfn, checked. Caller holds the RCU read lock. */
uint64_t dmap_xen_foreign_to_pfn_rcu(const struct dmap_xen_p2m *p2m, uint64_t mfn);
const char *dmap_xen_frame_kind_name(enum dmap_xen_frame_kind kind);
uint64_t dmap_xen_p2m_max_pfn(const struct dmap_xen_p2m *p2m);
const struct dmap_env *dmap_xen_p2m_env(const struct dmap_xen_p2m *p2m);

/* Kind of a raw entry. */
static inline enum dmap_xen_frame_kind dmap_xen_raw_kind(uint64_t raw)
{
	if (raw == DMAP_XEN_INVALID_FRAME)
		return DMAP_XEN_FRAME_MISSING;
	if (raw & DMAP_XEN_FOREIGN_FRAME_BIT)
		return DMAP_XEN_FRAME_FOREIGN;
	if (raw & DMAP_XEN_IDENTITY_FRAME_BIT)
		return DMAP_XEN_FRAME_IDENTITY;
	return DMAP_XEN_FRAME_VALID;
}

/* Machine frame of a raw entry (marker bits removed). */
static inline uint64_t dmap_xen_raw_frame(uint64_t raw)
{
	return raw & ~(DMAP_XEN_FOREIGN_FRAME_BIT | DMAP_XEN_IDENTITY_FRAME_BIT);
}

#endif /* DMAP_XEN_INTERNAL_H */
