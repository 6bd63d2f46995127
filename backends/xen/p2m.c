// SPDX-License-Identifier: MIT
/*
 * backends/xen/p2m.c - the guest's pfn -> mfn table, the machine-wide
 * mfn -> pfn table, and the reverse map of grant-mapped foreign frames.
 *
 * Why a three-level radix tree with shared placeholder pages. A PV guest's
 * P2M is read on every DMA mapping (and a dozen times for a straddling
 * one), so a lookup must be a few dependent loads and no lock. It is also
 * sparse in a particular way: populated RAM in long runs, I/O holes that are
 * 1:1 (identity) over hundreds of MiB, and ballooned-out or never-populated
 * ranges that are missing. Linux's classic p2m.c answered this with a
 * top -> mid -> leaf tree of 512-entry pages in which every missing leaf is
 * one shared all-INVALID page and every identity leaf one shared page whose
 * *address* means "1:1"; its modern version maps the same shared pages into
 * a virtual linear array. We keep the tree (a virtual linear array needs
 * page tables dmap does not own) and go one step further than the classic
 * code: there are shared middle pages too (all-missing and all-identity), so
 * a 1 GiB hole costs one top slot, and a range update that covers a whole
 * leaf or middle page swaps in the shared page and frees the private one
 * after a grace period, so memory tracks what is populated, not what was
 * once touched. The shared pages are const and live in .rodata: a stray
 * write into them faults instead of silently editing every hole at once.
 *
 * Why RCU and a writer lock instead of Linux's lock-free cmpxchg install.
 * Readers never lock: they load the middle and leaf pointers with acquire
 * (dmap_rcu_dereference) and the entry with a relaxed atomic load; each
 * entry is one 64-bit word written with one atomic store, so a reader sees
 * the old or the new value, never a mix. Writers, though, do more than
 * Linux's set_phys_to_machine(): a range update must be all-or-nothing (it
 * is the simulated XENMEM_exchange), must keep the M2P consistent, and may
 * retire pages. So writers take one internal lock, count in a dry run the
 * pages the update needs, allocate them all (atomically: callers may not
 * sleep), and only then apply the update, which cannot fail. New pages are
 * filled before they are published with a release store; replaced private
 * pages are freed through call_rcu, never while a reader may hold them.
 *
 * The same tree type serves three tables: the P2M (pfn -> raw entry, with
 * the FOREIGN/IDENTITY marker bits of Linux), the M2P (mfn -> pfn, which in
 * a real system is the hypervisor's machine_to_phys_mapping and here is the
 * simulated machine's, updated as Xen would), and the foreign reverse map
 * (mfn -> the local pfn grant-mapping it, Linux 3.x's m2p override), which
 * lets device-side accesses to a grant-mapped frame find the guest page.
 */
#include <dmap/xen.h>
#include <dmap/ops.h>
#include <dmap/helpers.h>

#include "xen_internal.h"

/*
 * A private page: the deferred-free header in front of the payload the tree
 * points at. Shared pages are bare payloads and are never freed.
 */
struct xen_page {
	struct dmap_rcu_head rcu; /* .next links preallocated pages before use */
	const struct dmap_env *env;
	bool is_mid;
	union {
		struct xen_leaf leaf;
		struct xen_mid mid;
	};
};

const struct xen_leaf dmap_xen_missing_leaf = { .entry = { [0 ... XEN_LEAF_ENTRIES - 1] =
								   DMAP_XEN_INVALID_FRAME } };
/* Contents as the missing leaf (a reader that forgets the pointer test sees "missing", not RAM). */
const struct xen_leaf dmap_xen_identity_leaf = { .entry = { [0 ... XEN_LEAF_ENTRIES - 1] =
								    DMAP_XEN_INVALID_FRAME } };
static const struct xen_mid xen_missing_mid = {
	.leaf = { [0 ... XEN_MID_ENTRIES - 1] = (struct xen_leaf *)&dmap_xen_missing_leaf }
};
static const struct xen_mid xen_identity_mid = {
	.leaf = { [0 ... XEN_MID_ENTRIES - 1] = (struct xen_leaf *)&dmap_xen_identity_leaf }
};

#define MISSING_LEAF ((struct xen_leaf *)&dmap_xen_missing_leaf)
#define IDENTITY_LEAF XEN_IDENTITY_LEAF
#define MISSING_MID ((struct xen_mid *)&xen_missing_mid)
#define IDENTITY_MID ((struct xen_mid *)&xen_identity_mid)

/* What a range update writes into a table. */
enum xen_fill {
	XEN_FILL_LINEAR, /* value + i */
	XEN_FILL_FOREIGN, /* FOREIGN_FRAME(value + i) */
	XEN_FILL_MISSING,
	XEN_FILL_IDENTITY, /* IDENTITY_FRAME(index) */
};

/* ---- read side ---------------------------------------------------------- */

uint64_t dmap_xen_mfn_to_pfn_rcu(const struct dmap_xen_p2m *p2m, uint64_t mfn)
{
	uint64_t pfn = DMAP_XEN_INVALID_FRAME;

	if (mfn < p2m->m2p.limit)
		pfn = xen_table_read(&p2m->m2p, mfn);
	/* Round trip: the M2P is machine-wide; believe it only if our P2M agrees. */
	if (pfn != DMAP_XEN_INVALID_FRAME && dmap_xen_p2m_raw_rcu(p2m, pfn) != mfn)
		pfn = DMAP_XEN_INVALID_FRAME;
	if (pfn == DMAP_XEN_INVALID_FRAME && mfn <= DMAP_XEN_MAX_FRAME &&
	    dmap_xen_p2m_raw_rcu(p2m, mfn) == DMAP_XEN_IDENTITY_FRAME(mfn))
		pfn = mfn;
	return pfn;
}

uint64_t dmap_xen_foreign_to_pfn_rcu(const struct dmap_xen_p2m *p2m, uint64_t mfn)
{
	uint64_t pfn;

	if (mfn >= p2m->foreign.limit)
		return DMAP_XEN_INVALID_FRAME;
	pfn = xen_table_read(&p2m->foreign, mfn);
	if (pfn != DMAP_XEN_INVALID_FRAME &&
	    dmap_xen_p2m_raw_rcu(p2m, pfn) != DMAP_XEN_FOREIGN_FRAME(mfn))
		pfn = DMAP_XEN_INVALID_FRAME;
	return pfn;
}

uint64_t dmap_xen_p2m_get_raw(const struct dmap_xen_p2m *p2m, uint64_t pfn)
{
	uint64_t raw;

	if (!p2m)
		return DMAP_XEN_INVALID_FRAME;
	dmap_rcu_read_lock();
	raw = dmap_xen_p2m_raw_rcu(p2m, pfn);
	dmap_rcu_read_unlock();
	return raw;
}

int dmap_xen_p2m_lookup(const struct dmap_xen_p2m *p2m, uint64_t pfn, uint64_t *mfn,
			enum dmap_xen_frame_kind *kind)
{
	enum dmap_xen_frame_kind k;
	uint64_t raw;

	if (mfn)
		*mfn = DMAP_XEN_INVALID_FRAME;
	if (kind)
		*kind = DMAP_XEN_FRAME_MISSING;
	if (!p2m)
		return -DMAP_EINVAL;
	if (pfn >= p2m->p2m.limit)
		return -DMAP_ERANGE;
	raw = dmap_xen_p2m_get_raw(p2m, pfn);
	k = dmap_xen_raw_kind(raw);
	if (kind)
		*kind = k;
	if (k == DMAP_XEN_FRAME_MISSING)
		return -DMAP_ENOENT;
	if (mfn)
		*mfn = raw & ~(DMAP_XEN_FOREIGN_FRAME_BIT | DMAP_XEN_IDENTITY_FRAME_BIT);
	return 0;
}

uint64_t dmap_xen_pfn_to_mfn(const struct dmap_xen_p2m *p2m, uint64_t pfn)
{
	uint64_t raw = dmap_xen_p2m_get_raw(p2m, pfn);

	if (raw == DMAP_XEN_INVALID_FRAME)
		return raw;
	return raw & ~(DMAP_XEN_FOREIGN_FRAME_BIT | DMAP_XEN_IDENTITY_FRAME_BIT);
}

uint64_t dmap_xen_mfn_to_pfn(const struct dmap_xen_p2m *p2m, uint64_t mfn)
{
	uint64_t pfn;

	if (!p2m)
		return DMAP_XEN_INVALID_FRAME;
	dmap_rcu_read_lock();
	pfn = dmap_xen_mfn_to_pfn_rcu(p2m, mfn);
	dmap_rcu_read_unlock();
	return pfn;
}

uint64_t dmap_xen_foreign_mfn_to_pfn(const struct dmap_xen_p2m *p2m, uint64_t mfn)
{
	uint64_t pfn;

	if (!p2m)
		return DMAP_XEN_INVALID_FRAME;
	dmap_rcu_read_lock();
	pfn = dmap_xen_foreign_to_pfn_rcu(p2m, mfn);
	dmap_rcu_read_unlock();
	return pfn;
}

uint64_t dmap_xen_m2p_get(const struct dmap_xen_p2m *p2m, uint64_t mfn)
{
	uint64_t pfn;

	if (!p2m || mfn >= p2m->m2p.limit)
		return DMAP_XEN_INVALID_FRAME;
	dmap_rcu_read_lock();
	pfn = xen_table_read(&p2m->m2p, mfn);
	dmap_rcu_read_unlock();
	return pfn;
}

/* ---- page management (writer side) ------------------------------------- */

static void xen_page_free_now(struct dmap_xen_p2m *p2m, struct xen_page *page)
{
	if (page->is_mid)
		dmap_atomic_sub_relaxed(&p2m->mid_pages, 1);
	else
		dmap_atomic_sub_relaxed(&p2m->leaf_pages, 1);
	p2m->env->ops->free(p2m->env->cookie, page, sizeof(*page));
}

static bool xen_leaf_shared(const struct xen_leaf *leaf)
{
	return leaf == MISSING_LEAF || leaf == IDENTITY_LEAF;
}

static bool xen_mid_shared(const struct xen_mid *mid)
{
	return mid == MISSING_MID || mid == IDENTITY_MID;
}

static void xen_rcu_free_page(struct dmap_rcu_head *head)
{
	struct xen_page *page = dmap_container_of(head, struct xen_page, rcu);
	const struct dmap_env *env = page->env;
	unsigned int i;

	/* A retired middle page still owns the private leaves it pointed at. */
	if (page->is_mid) {
		for (i = 0; i < XEN_MID_ENTRIES; i++) {
			struct xen_leaf *leaf = page->mid.leaf[i];

			if (!xen_leaf_shared(leaf))
				env->ops->free(env->cookie,
					       dmap_container_of(leaf, struct xen_page, leaf),
					       sizeof(struct xen_page));
		}
	}
	env->ops->free(env->cookie, page, sizeof(*page));
}

/* Unpublished by the caller already; readers may still hold it until a grace period. */
static void xen_retire_leaf(struct dmap_xen_p2m *p2m, struct xen_leaf *leaf)
{
	struct xen_page *page = dmap_container_of(leaf, struct xen_page, leaf);

	dmap_atomic_sub_relaxed(&p2m->leaf_pages, 1);
	p2m->env->ops->call_rcu(p2m->env->cookie, &page->rcu, xen_rcu_free_page);
}

static void xen_retire_mid(struct dmap_xen_p2m *p2m, struct xen_mid *mid)
{
	struct xen_page *page = dmap_container_of(mid, struct xen_page, mid);
	unsigned int i;

	for (i = 0; i < XEN_MID_ENTRIES; i++)
		if (!xen_leaf_shared(mid->leaf[i]))
			dmap_atomic_sub_relaxed(&p2m->leaf_pages, 1);
	dmap_atomic_sub_relaxed(&p2m->mid_pages, 1);
	p2m->env->ops->call_rcu(p2m->env->cookie, &page->rcu, xen_rcu_free_page);
}

/* Pages allocated before an update is applied, so applying cannot fail. */
struct xen_prealloc {
	struct xen_page *head;
	uint64_t count;
};

static int xen_prealloc_fill(struct dmap_xen_p2m *p2m, struct xen_prealloc *pre, uint64_t n)
{
	while (pre->count < n) {
		struct xen_page *page = p2m->env->ops->alloc(p2m->env->cookie, sizeof(*page), 64,
							     DMAP_ALLOC_ATOMIC);
		if (!page)
			return -DMAP_ENOMEM;
		page->env = p2m->env;
		page->rcu.next = pre->head ? &pre->head->rcu : NULL;
		pre->head = page;
		pre->count++;
	}
	return 0;
}

static void xen_prealloc_drain(struct dmap_xen_p2m *p2m, struct xen_prealloc *pre)
{
	while (pre->head) {
		struct xen_page *page = pre->head;

		pre->head = page->rcu.next ?
				    dmap_container_of(page->rcu.next, struct xen_page, rcu) :
				    NULL;
		p2m->env->ops->free(p2m->env->cookie, page, sizeof(*page));
	}
	pre->count = 0;
}

static struct xen_page *xen_prealloc_take(struct dmap_xen_p2m *p2m, struct xen_prealloc *pre,
					  bool is_mid)
{
	struct xen_page *page = pre->head;

	/* The dry run counted every page; running out here is a bug in that count. */
	if (!page)
		return NULL;
	pre->head = page->rcu.next ? dmap_container_of(page->rcu.next, struct xen_page, rcu) : NULL;
	pre->count--;
	page->rcu.next = NULL;
	page->is_mid = is_mid;
	if (is_mid)
		dmap_atomic_add_relaxed(&p2m->mid_pages, 1);
	else
		dmap_atomic_add_relaxed(&p2m->leaf_pages, 1);
	return page;
}

/*
 * Walk [first, first+count) of @t and either count the private pages the
 * update needs (@dry) or apply it with pages from @pre. Lock held. In the
 * dry run the tree is not modified, so a middle page made private for one
 * leaf is remembered in @dry_mid to count it once.
 */
static uint64_t xen_table_update(struct dmap_xen_p2m *p2m, struct xen_table *t, uint64_t first,
				 uint64_t count, enum xen_fill fill, uint64_t value, bool dry,
				 struct xen_prealloc *pre)
{
	struct xen_mid *target_mid = NULL;
	struct xen_leaf *target_leaf = NULL;
	uint64_t last = first + count - 1;
	uint64_t needed = 0;
	uint64_t index = first;

	if (fill == XEN_FILL_MISSING) {
		target_mid = MISSING_MID;
		target_leaf = MISSING_LEAF;
	} else if (fill == XEN_FILL_IDENTITY) {
		target_mid = IDENTITY_MID;
		target_leaf = IDENTITY_LEAF;
	}

	while (index <= last) {
		uint64_t top_index = index >> XEN_MID_SHIFT;
		uint64_t mid_first = top_index << XEN_MID_SHIFT;
		uint64_t mid_last = mid_first + XEN_MID_FRAMES - 1;
		struct xen_mid *mid = t->top[top_index];
		bool mid_was_shared;
		uint64_t stop;

		if (target_mid && index == mid_first && last >= mid_last) {
			if (mid != target_mid && !dry) {
				dmap_rcu_assign_pointer(t->top[top_index], target_mid);
				if (!xen_mid_shared(mid))
					xen_retire_mid(p2m, mid);
			}
			index = mid_last + 1;
			continue;
		}
		stop = dmap_min(last, mid_last);
		if (mid == target_mid) {
			index = stop + 1;
			continue;
		}
		mid_was_shared = xen_mid_shared(mid);
		if (mid_was_shared) {
			if (dry) {
				needed++;
			} else {
				struct xen_page *page = xen_prealloc_take(p2m, pre, true);
				unsigned int i;

				if (!page)
					return needed;
				/* Same contents as the shared page: publishing it changes nothing a reader sees. */
				for (i = 0; i < XEN_MID_ENTRIES; i++)
					page->mid.leaf[i] = mid->leaf[i];
				dmap_rcu_assign_pointer(t->top[top_index], &page->mid);
				mid = &page->mid;
			}
		}

		while (index <= stop) {
			unsigned int leaf_index = (index >> XEN_LEAF_SHIFT) & (XEN_MID_ENTRIES - 1);
			uint64_t leaf_first = index & ~(uint64_t)(XEN_LEAF_ENTRIES - 1);
			uint64_t leaf_last = leaf_first + XEN_LEAF_ENTRIES - 1;
			uint64_t leaf_stop = dmap_min(stop, leaf_last);
			struct xen_leaf *leaf = mid->leaf[leaf_index];

			if (target_leaf && index == leaf_first && stop >= leaf_last) {
				if (leaf != target_leaf && !dry) {
					dmap_rcu_assign_pointer(mid->leaf[leaf_index], target_leaf);
					if (!xen_leaf_shared(leaf))
						xen_retire_leaf(p2m, leaf);
				}
				index = leaf_last + 1;
				continue;
			}
			if (leaf == target_leaf) {
				index = leaf_stop + 1;
				continue;
			}
			if (xen_leaf_shared(leaf)) {
				if (dry) {
					needed++;
					index = leaf_stop + 1;
					continue;
				}
				struct xen_page *page = xen_prealloc_take(p2m, pre, false);
				unsigned int i;

				if (!page)
					return needed;
				for (i = 0; i < XEN_LEAF_ENTRIES; i++)
					page->leaf.entry[i] =
						leaf == IDENTITY_LEAF ?
							DMAP_XEN_IDENTITY_FRAME(leaf_first + i) :
							DMAP_XEN_INVALID_FRAME;
				dmap_rcu_assign_pointer(mid->leaf[leaf_index], &page->leaf);
				leaf = &page->leaf;
			}
			if (dry) {
				index = leaf_stop + 1;
				continue;
			}
			for (; index <= leaf_stop; index++) {
				uint64_t v;

				switch (fill) {
				case XEN_FILL_LINEAR:
					v = value + (index - first);
					break;
				case XEN_FILL_FOREIGN:
					v = DMAP_XEN_FOREIGN_FRAME(value + (index - first));
					break;
				case XEN_FILL_IDENTITY:
					v = DMAP_XEN_IDENTITY_FRAME(index);
					break;
				default:
					v = DMAP_XEN_INVALID_FRAME;
					break;
				}
				dmap_store_relaxed(&leaf->entry[index & (XEN_LEAF_ENTRIES - 1)], v);
			}
		}
		if (stop == UINT64_MAX)
			break;
	}
	return needed;
}

/* Writer-side read (lock held; no RCU needed: only writers change the tree). */
static uint64_t xen_table_get_locked(const struct xen_table *t, uint64_t index)
{
	struct xen_mid *mid = t->top[index >> XEN_MID_SHIFT];
	struct xen_leaf *leaf = mid->leaf[(index >> XEN_LEAF_SHIFT) & (XEN_MID_ENTRIES - 1)];

	if (leaf == IDENTITY_LEAF)
		return DMAP_XEN_IDENTITY_FRAME(index);
	return leaf->entry[index & (XEN_LEAF_ENTRIES - 1)];
}

/* Overwrite one existing entry in a private leaf (no allocation: callers know it is populated). */
static void xen_table_clear_locked(struct xen_table *t, uint64_t index)
{
	struct xen_mid *mid = t->top[index >> XEN_MID_SHIFT];
	struct xen_leaf *leaf = mid->leaf[(index >> XEN_LEAF_SHIFT) & (XEN_MID_ENTRIES - 1)];

	if (!xen_leaf_shared(leaf))
		dmap_store_relaxed(&leaf->entry[index & (XEN_LEAF_ENTRIES - 1)],
				   DMAP_XEN_INVALID_FRAME);
}

/*
 * Before overwriting P2M entries [first, last]: clear M2P and foreign-map
 * entries that point back at them, so a stale reverse entry cannot survive
 * (the round-trip check would reject it anyway; this keeps the tables
 * tidy). Skips shared leaves 512 frames at a time.
 */
static void xen_unlink_reverse(struct dmap_xen_p2m *p2m, uint64_t first, uint64_t last)
{
	uint64_t pfn = first;

	while (pfn <= last) {
		struct xen_mid *mid = p2m->p2m.top[pfn >> XEN_MID_SHIFT];
		struct xen_leaf *leaf = mid->leaf[(pfn >> XEN_LEAF_SHIFT) & (XEN_MID_ENTRIES - 1)];
		uint64_t leaf_last = (pfn | (XEN_LEAF_ENTRIES - 1));
		uint64_t stop = dmap_min(last, leaf_last);

		if (xen_leaf_shared(leaf)) {
			pfn = stop + 1;
			continue;
		}
		for (; pfn <= stop; pfn++) {
			uint64_t raw = leaf->entry[pfn & (XEN_LEAF_ENTRIES - 1)];
			enum dmap_xen_frame_kind kind = dmap_xen_raw_kind(raw);
			uint64_t mfn = raw & ~DMAP_XEN_FOREIGN_FRAME_BIT;

			if (kind == DMAP_XEN_FRAME_VALID && mfn < p2m->m2p.limit &&
			    xen_table_get_locked(&p2m->m2p, mfn) == pfn)
				xen_table_clear_locked(&p2m->m2p, mfn);
			else if (kind == DMAP_XEN_FRAME_FOREIGN && mfn < p2m->foreign.limit &&
				 xen_table_get_locked(&p2m->foreign, mfn) == pfn)
				xen_table_clear_locked(&p2m->foreign, mfn);
		}
	}
}

static const char *xen_kind_name(enum dmap_xen_frame_kind kind)
{
	switch (kind) {
	case DMAP_XEN_FRAME_MISSING:
		return "missing";
	case DMAP_XEN_FRAME_VALID:
		return "valid";
	case DMAP_XEN_FRAME_IDENTITY:
		return "identity";
	case DMAP_XEN_FRAME_FOREIGN:
		return "foreign";
	}
	return "unknown";
}

const char *dmap_xen_frame_kind_name(enum dmap_xen_frame_kind kind)
{
	return xen_kind_name(kind);
}

int dmap_xen_p2m_set_range(struct dmap_xen_p2m *p2m, uint64_t pfn, uint64_t count,
			   enum dmap_xen_frame_kind kind, uint64_t mfn)
{
	struct xen_prealloc pre = { 0 };
	struct xen_table *reverse = NULL;
	enum xen_fill fill;
	uint64_t needed, i;
	int ret;

	if (!p2m || !count)
		return -DMAP_EINVAL;
	switch (kind) {
	case DMAP_XEN_FRAME_MISSING:
		fill = XEN_FILL_MISSING;
		break;
	case DMAP_XEN_FRAME_IDENTITY:
		fill = XEN_FILL_IDENTITY;
		break;
	case DMAP_XEN_FRAME_VALID:
		fill = XEN_FILL_LINEAR;
		reverse = &p2m->m2p;
		break;
	case DMAP_XEN_FRAME_FOREIGN:
		fill = XEN_FILL_FOREIGN;
		reverse = &p2m->foreign;
		break;
	default:
		dmap_log(p2m->env, DMAP_LOG_ERR, "xen p2m: unknown frame kind %d for pfn 0x%llx",
			 (int)kind, (unsigned long long)pfn);
		return -DMAP_EINVAL;
	}
	if (pfn >= p2m->p2m.limit || count > p2m->p2m.limit - pfn) {
		dmap_log(p2m->env, DMAP_LOG_ERR,
			 "xen p2m: pfns 0x%llx+0x%llx beyond the P2M (max_pfn 0x%llx)",
			 (unsigned long long)pfn, (unsigned long long)count,
			 (unsigned long long)p2m->p2m.limit);
		return -DMAP_ERANGE;
	}
	if (reverse && (mfn >= p2m->m2p.limit || count > p2m->m2p.limit - mfn)) {
		dmap_log(
			p2m->env, DMAP_LOG_ERR,
			"xen p2m: mfns 0x%llx+0x%llx for pfn 0x%llx beyond the M2P (max_mfn 0x%llx)",
			(unsigned long long)mfn, (unsigned long long)count, (unsigned long long)pfn,
			(unsigned long long)p2m->m2p.limit);
		return -DMAP_ERANGE;
	}

	dmap_spin_lock(&p2m->lock);
	/* A machine frame backs at most one of our frames: refuse to alias one. */
	if (kind == DMAP_XEN_FRAME_VALID) {
		for (i = 0; i < count; i++) {
			uint64_t owner = xen_table_get_locked(&p2m->m2p, mfn + i);

			if (owner != DMAP_XEN_INVALID_FRAME &&
			    (owner < pfn || owner >= pfn + count) && owner < p2m->p2m.limit &&
			    xen_table_get_locked(&p2m->p2m, owner) == mfn + i) {
				dmap_spin_unlock(&p2m->lock);
				dmap_log(
					p2m->env, DMAP_LOG_ERR,
					"xen p2m: mfn 0x%llx for pfn 0x%llx already backs pfn 0x%llx",
					(unsigned long long)(mfn + i),
					(unsigned long long)(pfn + i), (unsigned long long)owner);
				return -DMAP_EBUSY;
			}
		}
	}
	needed = xen_table_update(p2m, &p2m->p2m, pfn, count, fill, mfn, true, NULL);
	if (reverse)
		needed += xen_table_update(p2m, reverse, mfn, count, XEN_FILL_LINEAR, pfn, true,
					   NULL);
	ret = xen_prealloc_fill(p2m, &pre, needed);
	if (ret) {
		dmap_spin_unlock(&p2m->lock);
		xen_prealloc_drain(p2m, &pre);
		dmap_log(p2m->env, DMAP_LOG_ERR,
			 "xen p2m: no memory for %llu table pages to set pfns 0x%llx+0x%llx %s",
			 (unsigned long long)needed, (unsigned long long)pfn,
			 (unsigned long long)count, xen_kind_name(kind));
		return ret;
	}

	dmap_store_relaxed(&p2m->generation, p2m->generation + 1);
	xen_unlink_reverse(p2m, pfn, pfn + count - 1);
	xen_table_update(p2m, &p2m->p2m, pfn, count, fill, mfn, false, &pre);
	/* Reverse entries after the forward ones: a reader that finds one can round-trip it. */
	if (reverse)
		xen_table_update(p2m, reverse, mfn, count, XEN_FILL_LINEAR, pfn, false, &pre);
	dmap_store_relaxed(&p2m->generation, p2m->generation + 1);
	dmap_store_relaxed(&p2m->updates, p2m->updates + 1);
	dmap_store_relaxed(&p2m->frames_written, p2m->frames_written + count);
	dmap_spin_unlock(&p2m->lock);
	/* Only a miscounted dry run leaves pages here; free rather than leak. */
	xen_prealloc_drain(p2m, &pre);
	return 0;
}

int dmap_xen_p2m_set(struct dmap_xen_p2m *p2m, uint64_t pfn, enum dmap_xen_frame_kind kind,
		     uint64_t mfn)
{
	return dmap_xen_p2m_set_range(p2m, pfn, 1, kind, mfn);
}

int dmap_xen_m2p_set(struct dmap_xen_p2m *p2m, uint64_t mfn, uint64_t pfn)
{
	struct xen_prealloc pre = { 0 };
	uint64_t needed;
	int ret;

	if (!p2m)
		return -DMAP_EINVAL;
	if (mfn >= p2m->m2p.limit) {
		dmap_log(p2m->env, DMAP_LOG_ERR, "xen m2p: mfn 0x%llx beyond max_mfn 0x%llx",
			 (unsigned long long)mfn, (unsigned long long)p2m->m2p.limit);
		return -DMAP_ERANGE;
	}
	dmap_spin_lock(&p2m->lock);
	if (pfn == DMAP_XEN_INVALID_FRAME) {
		xen_table_clear_locked(&p2m->m2p, mfn);
		dmap_spin_unlock(&p2m->lock);
		return 0;
	}
	needed = xen_table_update(p2m, &p2m->m2p, mfn, 1, XEN_FILL_LINEAR, pfn, true, NULL);
	ret = xen_prealloc_fill(p2m, &pre, needed);
	if (!ret)
		xen_table_update(p2m, &p2m->m2p, mfn, 1, XEN_FILL_LINEAR, pfn, false, &pre);
	dmap_spin_unlock(&p2m->lock);
	xen_prealloc_drain(p2m, &pre);
	return ret;
}

/* ---- create, destroy, stats ------------------------------------------- */

static int xen_table_init(struct dmap_xen_p2m *p2m, struct xen_table *t, uint64_t limit)
{
	uint64_t i;

	t->limit = limit;
	t->top_entries = (limit + XEN_MID_FRAMES - 1) >> XEN_MID_SHIFT;
	t->top = p2m->env->ops->alloc(p2m->env->cookie, t->top_entries * sizeof(*t->top), 64, 0);
	if (!t->top)
		return -DMAP_ENOMEM;
	for (i = 0; i < t->top_entries; i++)
		t->top[i] = MISSING_MID;
	p2m->top_bytes += t->top_entries * sizeof(*t->top);
	return 0;
}

static void xen_table_free(struct dmap_xen_p2m *p2m, struct xen_table *t)
{
	uint64_t i;
	unsigned int j;

	if (!t->top)
		return;
	for (i = 0; i < t->top_entries; i++) {
		struct xen_mid *mid = t->top[i];

		if (xen_mid_shared(mid))
			continue;
		for (j = 0; j < XEN_MID_ENTRIES; j++)
			if (!xen_leaf_shared(mid->leaf[j]))
				xen_page_free_now(p2m, dmap_container_of(mid->leaf[j],
									 struct xen_page, leaf));
		xen_page_free_now(p2m, dmap_container_of(mid, struct xen_page, mid));
	}
	p2m->env->ops->free(p2m->env->cookie, t->top, t->top_entries * sizeof(*t->top));
	t->top = NULL;
}

int dmap_xen_p2m_create(const struct dmap_env *env, const struct dmap_xen_p2m_config *config,
			struct dmap_xen_p2m **out)
{
	uint64_t max_pfn = config && config->max_pfn ? config->max_pfn : DMAP_XEN_DEFAULT_FRAMES;
	uint64_t max_mfn = config && config->max_mfn ? config->max_mfn : DMAP_XEN_DEFAULT_FRAMES;
	struct dmap_xen_p2m *p2m;

	if (out)
		*out = NULL;
	if (!env || !out)
		return -DMAP_EINVAL;
	if (max_pfn > DMAP_XEN_LIMIT_FRAMES || max_mfn > DMAP_XEN_LIMIT_FRAMES) {
		dmap_log(env, DMAP_LOG_ERR,
			 "xen p2m: max_pfn 0x%llx / max_mfn 0x%llx above the limit 0x%llx",
			 (unsigned long long)max_pfn, (unsigned long long)max_mfn,
			 (unsigned long long)DMAP_XEN_LIMIT_FRAMES);
		return -DMAP_EINVAL;
	}
	p2m = env->ops->alloc(env->cookie, sizeof(*p2m), 64, DMAP_ALLOC_ZERO);
	if (!p2m)
		return -DMAP_ENOMEM;
	dmap_memset(p2m, 0, sizeof(*p2m));
	p2m->env = env;
	dmap_spin_init(&p2m->lock);
	if (xen_table_init(p2m, &p2m->p2m, max_pfn) || xen_table_init(p2m, &p2m->m2p, max_mfn) ||
	    xen_table_init(p2m, &p2m->foreign, max_mfn)) {
		dmap_xen_p2m_destroy(p2m);
		dmap_log(env, DMAP_LOG_ERR, "xen p2m: no memory for the top levels");
		return -DMAP_ENOMEM;
	}
	*out = p2m;
	return 0;
}

void dmap_xen_p2m_destroy(struct dmap_xen_p2m *p2m)
{
	const struct dmap_env *env;

	if (!p2m)
		return;
	env = p2m->env;
	/* Pages retired earlier are freed by their callbacks; wait for them first. */
	if (env->ops->rcu_barrier)
		env->ops->rcu_barrier(env->cookie);
	else
		env->ops->synchronize_rcu(env->cookie);
	xen_table_free(p2m, &p2m->p2m);
	xen_table_free(p2m, &p2m->m2p);
	xen_table_free(p2m, &p2m->foreign);
	dmap_spin_destroy(&p2m->lock);
	env->ops->free(env->cookie, p2m, sizeof(*p2m));
}

int dmap_xen_p2m_get_stats(const struct dmap_xen_p2m *p2m, struct dmap_xen_p2m_stats *out)
{
	if (!p2m || !out)
		return -DMAP_EINVAL;
	out->leaf_pages = dmap_load_relaxed(&p2m->leaf_pages);
	out->mid_pages = dmap_load_relaxed(&p2m->mid_pages);
	out->bytes = p2m->top_bytes + (out->leaf_pages + out->mid_pages) * sizeof(struct xen_page);
	out->updates = dmap_load_relaxed(&p2m->updates);
	out->frames_written = dmap_load_relaxed(&p2m->frames_written);
	out->generation = dmap_load_relaxed(&p2m->generation);
	out->max_pfn = p2m->p2m.limit;
	out->max_mfn = p2m->m2p.limit;
	return 0;
}

uint64_t dmap_xen_p2m_max_pfn(const struct dmap_xen_p2m *p2m)
{
	return p2m->p2m.limit;
}

const struct dmap_env *dmap_xen_p2m_env(const struct dmap_xen_p2m *p2m)
{
	return p2m->env;
}
