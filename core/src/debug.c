// SPDX-License-Identifier: MIT
/*
 * core/src/debug.c - the DMA-API debug layer (Linux: kernel/dma/debug.c),
 * per domain and switchable at run time.
 *
 * Why a wrapper table: dispatch validates arguments and then calls the
 * domain's *active* ops table. Turning debugging on swaps that table for one
 * whose streaming and coherent hooks record or check a mapping and then
 * forward to the backend's own table, so a domain without debugging pays
 * nothing, not even a branch. The table is a per-domain copy of the backend's
 * (so every hook the layer does not need to see - attach, translate,
 * owns_addr, the capability queries - is the backend's own pointer, NULL
 * where the backend's is NULL, and behaves exactly as without debugging)
 * with the intercepting hooks of a static template written over it. The
 * scatter-gather and sync hooks are always intercepted; they forward through
 * dmap_backend_map_sg()/unmap_sg()/sync() with the backend's table, which
 * apply the same NULL-hook defaults dispatch would.
 *
 * Why a hash of (device, bus address) with a lock per bucket: the layer sits
 * on the map/unmap hot path of every thread using the domain; one lock would
 * serialise them all. Linux hashes by address alone into 1024 buckets; dmap
 * adds the device into the hash because the identity backend hands the same
 * bus address to every device mapping the same buffer. Consecutive pages of
 * one device land in consecutive buckets, which the "which mapping contains
 * this address" search of sync relies on: it walks back one bucket per page
 * as far as the largest mapping ever tracked, and scans every bucket once
 * when that would be more than all of them (Linux does the same walk).
 *
 * Why best-fit lookup: the same (device, address) may be live several times
 * at once (identity; a buffer mapped twice), so an unmap picks the entry that
 * agrees with it on the most of size, direction, kind, sg count and "error
 * checked", as Linux's hash_bucket_find() does. Entries that agree on all are
 * interchangeable, which keeps concurrent identical mappings report-free.
 *
 * Double unmap: a live-entry table alone cannot tell "never mapped" from
 * "unmapped twice". Each bucket remembers the last DMAP_DEBUG_RECENT ranges
 * unmapped from it (2048 in all), under the bucket's own lock, so the second
 * unmap of an address is named for what it is and an unmap still takes one
 * lock. Counters are per bucket or touched only on reports, so concurrent
 * map/unmap of different buckets share no written cache line of the layer.
 *
 * Memory: each mapping costs one small allocation made with
 * DMAP_ALLOC_ATOMIC (map paths may not sleep). If one fails the mapping is
 * not tracked; from then on the layer cannot tell an unknown address from an
 * untracked one, so it stops reporting unknown-address and sync-outside
 * problems for the rest of the session and says so once.
 *
 * Reports never change a call: after checking, the call is forwarded with the
 * caller's arguments and the backend's result is returned. A failed map is
 * not tracked. Every report is counted; the first DMAP_DEBUG_PRINT_LIMIT of a
 * session are also logged, so a driver bug in a loop cannot flood the log.
 */
#include <dmap/debug.h>
#include <dmap/helpers.h>
#include <dmap/ops.h>

#include "internal.h"

#define DMAP_DEBUG_BUCKETS 1024u /* power of two */
#define DMAP_DEBUG_PAGE_SHIFT 12
#define DMAP_DEBUG_RECENT 2u /* recently unmapped ranges remembered per bucket */
#define DMAP_DEBUG_PRINT_LIMIT 100u /* reports logged per session */

enum dmap_debug_kind {
	DMAP_DEBUG_KIND_SINGLE, /* map_phys (and map_single) */
	DMAP_DEBUG_KIND_SG, /* one entry of a map_sg call */
	DMAP_DEBUG_KIND_COHERENT, /* alloc_coherent */
};

/*
 * One live mapping. The device's name is copied because a fallback domain
 * tracks mappings of devices attached elsewhere, which may be destroyed before
 * this domain reports the mapping as leaked; the device pointer is only
 * compared, never dereferenced, after the map call returned.
 */
struct dmap_debug_entry {
	struct dmap_debug_entry *next;
	const struct dmap_dev *dev;
	dmap_addr_t addr;
	size_t size;
	dmap_phys_t phys; /* single and sg: the buffer mapped (0 for coherent); for debuggers */
	void *cpu_addr; /* coherent only */
	/* which map_sg call (0: not sg); a merged segment spans entries of one call */
	uint64_t sg_call;
	int sg_nents; /* nents of that call */
	enum dmap_dir dir;
	enum dmap_debug_kind kind;
	bool error_checked; /* dmap_mapping_error() seen (single only; others need no check) */
	char dev_name[DMAP_NAME_MAX];
};

struct dmap_debug_recent {
	const struct dmap_dev *dev;
	dmap_addr_t addr;
	size_t size; /* 0: empty slot */
};

/*
 * A bucket: its live entries and the last DMAP_DEBUG_RECENT ranges unmapped
 * from it, all under its lock, so an unmap takes exactly one lock.
 */
struct dmap_debug_bucket {
	dmap_spinlock_t lock;
	struct dmap_debug_entry *head;
	uint64_t live; /* entries on @head; written under @lock, read atomically by get_counts */
	unsigned int recent_next;
	struct dmap_debug_recent recent[DMAP_DEBUG_RECENT];
};

struct dmap_debug_state {
	struct dmap_ops ops; /* the active table while debugging: see file comment */
	struct dmap_domain *dom;
	const struct dmap_env *env;
	uint64_t reports[DMAP_DEBUG_REPORT_COUNT]; /* atomic */
	uint64_t
		max_size; /* largest mapping ever tracked (atomic, only grows; read by every sync) */
	uint64_t printed; /* atomic: reports logged so far */
	/* atomic; written by every map_sg, so kept off the line every sync reads */
	uint64_t next_sg_call __attribute__((aligned(64)));
	bool incomplete; /* atomic: an entry could not be allocated */
	struct dmap_debug_bucket buckets[DMAP_DEBUG_BUCKETS];
};

static const char *const dmap_debug_report_names[DMAP_DEBUG_REPORT_COUNT] = {
	[DMAP_DEBUG_UNMAP_UNKNOWN] = "unmap-unknown",
	[DMAP_DEBUG_DOUBLE_UNMAP] = "double-unmap",
	[DMAP_DEBUG_SIZE_MISMATCH] = "size-mismatch",
	[DMAP_DEBUG_DIR_MISMATCH] = "dir-mismatch",
	[DMAP_DEBUG_KIND_MISMATCH] = "kind-mismatch",
	[DMAP_DEBUG_SG_COUNT_MISMATCH] = "sg-count-mismatch",
	[DMAP_DEBUG_SYNC_OUTSIDE] = "sync-outside",
	[DMAP_DEBUG_SYNC_WRONG_DIR] = "sync-wrong-dir",
	[DMAP_DEBUG_ERROR_NOT_CHECKED] = "error-not-checked",
	[DMAP_DEBUG_LEAK] = "leak",
};

/**
 * dmap_debug_report_name() - see <dmap/debug.h>. Context: any; no locks.
 * Returns a static string, "unknown" for a value out of range.
 */
const char *dmap_debug_report_name(enum dmap_debug_report report)
{
	if ((unsigned int)report >= DMAP_DEBUG_REPORT_COUNT)
		return "unknown";
	return dmap_debug_report_names[report];
}

static const char *dmap_debug_kind_name(enum dmap_debug_kind kind)
{
	switch (kind) {
	case DMAP_DEBUG_KIND_SINGLE:
		return "single";
	case DMAP_DEBUG_KIND_SG:
		return "scatter-gather";
	case DMAP_DEBUG_KIND_COHERENT:
		return "coherent";
	}
	return "unknown";
}

static inline struct dmap_debug_state *dmap_debug_state_of(const struct dmap_domain *dom)
{
	return dmap_load_acquire(&dom->debug);
}

/* ---- reports ----------------------------------------------------------- */

/*
 * Count a report and log it as "dmap-debug: <device>: <what>". Counting is a
 * relaxed add: counters are statistics, read without a lock.
 */
static void __attribute__((format(printf, 4, 5)))
dmap_debug_report(struct dmap_debug_state *st, enum dmap_debug_report report, const char *dev_name,
		  const char *fmt, ...)
{
	char text[224];
	uint64_t printed;
	va_list ap;

	dmap_atomic_add_relaxed(&st->reports[report], 1);
	printed = dmap_fetch_add(&st->printed, 1);
	if (printed > DMAP_DEBUG_PRINT_LIMIT)
		return;
	if (printed == DMAP_DEBUG_PRINT_LIMIT) {
		dmap_log(
			st->env, DMAP_LOG_WARN,
			"dmap-debug: domain %s: more than %u reports, further ones are only counted "
			"(dmap_debug_get_counts)",
			st->dom->name, DMAP_DEBUG_PRINT_LIMIT);
		return;
	}
	va_start(ap, fmt);
	dmap_vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	dmap_log(st->env, DMAP_LOG_WARN, "dmap-debug: %s: %s (%s)", dev_name, text,
		 dmap_debug_report_name(report));
}

/* ---- the table --------------------------------------------------------- */

static unsigned int dmap_debug_bucket_index(const struct dmap_dev *dev, dmap_addr_t addr)
{
	uint64_t dev_mix = ((uint64_t)(uintptr_t)dev * 0x9e3779b97f4a7c15ull) >> 40;

	return (unsigned int)(((addr >> DMAP_DEBUG_PAGE_SHIFT) + dev_mix) &
			      (DMAP_DEBUG_BUCKETS - 1));
}

static struct dmap_debug_bucket *dmap_debug_bucket(struct dmap_debug_state *st,
						   const struct dmap_dev *dev, dmap_addr_t addr)
{
	return &st->buckets[dmap_debug_bucket_index(dev, addr)];
}

static struct dmap_debug_entry *dmap_debug_entry_new(struct dmap_debug_state *st,
						     const struct dmap_dev *dev, dmap_addr_t addr,
						     size_t size, enum dmap_dir dir,
						     enum dmap_debug_kind kind)
{
	struct dmap_debug_entry *entry;

	entry = dmap_env_alloc(st->env, sizeof(*entry), DMAP_ALLOC_ATOMIC);
	if (!entry) {
		bool expected = false;

		if (__atomic_compare_exchange_n(&st->incomplete, &expected, true, 0,
						__ATOMIC_RELAXED, __ATOMIC_RELAXED))
			dmap_log(st->env, DMAP_LOG_WARN,
				 "dmap-debug: domain %s: out of memory tracking a mapping of %s "
				 "[bus address=0x%llx size=%zu]; unknown-address and sync checks "
				 "are off from now on",
				 st->dom->name, dev->name, (unsigned long long)addr, size);
		return NULL;
	}
	dmap_memset(entry, 0, sizeof(*entry));
	entry->dev = dev;
	entry->addr = addr;
	entry->size = size;
	entry->dir = dir;
	entry->kind = kind;
	dmap_strlcpy(entry->dev_name, dev->name, sizeof(entry->dev_name));
	return entry;
}

static void dmap_debug_entry_free(struct dmap_debug_state *st, struct dmap_debug_entry *entry)
{
	dmap_env_free(st->env, entry, sizeof(*entry));
}

static void dmap_debug_insert(struct dmap_debug_state *st, struct dmap_debug_entry *entry)
{
	struct dmap_debug_bucket *bucket = dmap_debug_bucket(st, entry->dev, entry->addr);
	uint64_t max = dmap_load_relaxed(&st->max_size);

	while (max < entry->size &&
	       !__atomic_compare_exchange_n(&st->max_size, &max, (uint64_t)entry->size, 1,
					    __ATOMIC_RELAXED, __ATOMIC_RELAXED))
		;
	dmap_spin_lock(&bucket->lock);
	entry->next = bucket->head;
	bucket->head = entry;
	dmap_store_relaxed(&bucket->live, bucket->live + 1);
	dmap_spin_unlock(&bucket->lock);
}

/* What an unmap/free call says about the mapping it ends. */
struct dmap_debug_ref {
	const struct dmap_dev *dev;
	dmap_addr_t addr;
	size_t size;
	enum dmap_dir dir;
	enum dmap_debug_kind kind;
	int sg_nents;
	void *cpu_addr;
};

/*
 * How well a live entry fits an unmap: every argument that agrees counts two,
 * and a single mapping whose error was checked one more, so that of
 * otherwise identical mappings a checked one ends first.
 */
#define DMAP_DEBUG_SCORE_MAX 9

static unsigned int dmap_debug_score(const struct dmap_debug_entry *entry,
				     const struct dmap_debug_ref *ref)
{
	unsigned int score = 0;

	score += 2 * (entry->size == ref->size);
	score += 2 * (entry->dir == ref->dir);
	score += 2 * (entry->kind == ref->kind);
	if (ref->kind == DMAP_DEBUG_KIND_SG)
		score += 2 * (entry->sg_nents == ref->sg_nents) + 1;
	else if (ref->kind == DMAP_DEBUG_KIND_COHERENT)
		score += 2 * (entry->cpu_addr == ref->cpu_addr) + 1;
	else
		score += 2 + entry->error_checked;
	return score;
}

/*
 * Unlink and return the live entry of (ref->dev, ref->addr) that best fits
 * @ref, or NULL. The caller owns the entry afterwards.
 *
 * dmap_mapping_error() names only (device, address), so when one address is
 * mapped twice at once its check may have marked the other mapping. Checks
 * are therefore treated as a count per (device, address): an unchecked
 * mapping ending while another single mapping of the same address is marked
 * takes that mark over. A mapping is reported unchecked only when there were
 * fewer checks than mappings of its address.
 */
static struct dmap_debug_entry *dmap_debug_take(struct dmap_debug_state *st,
						const struct dmap_debug_ref *ref,
						size_t *unmapped_before)
{
	struct dmap_debug_bucket *bucket = dmap_debug_bucket(st, ref->dev, ref->addr);
	struct dmap_debug_entry **link, **best_link = NULL, *best = NULL, *entry;
	unsigned int best_score = 0, i;

	*unmapped_before = 0;
	dmap_spin_lock(&bucket->lock);
	for (link = &bucket->head; *link; link = &(*link)->next) {
		unsigned int score;

		entry = *link;
		if (entry->dev != ref->dev || entry->addr != ref->addr)
			continue;
		score = dmap_debug_score(entry, ref);
		if (!best || score > best_score) {
			best = entry;
			best_link = link;
			best_score = score;
			if (score == DMAP_DEBUG_SCORE_MAX)
				break;
		}
	}
	if (best) {
		struct dmap_debug_recent *slot = &bucket->recent[bucket->recent_next];

		*best_link = best->next;
		dmap_store_relaxed(&bucket->live, bucket->live - 1);
		if (best->kind == DMAP_DEBUG_KIND_SINGLE && !best->error_checked) {
			for (entry = bucket->head; entry; entry = entry->next) {
				if (entry->dev == ref->dev && entry->addr == ref->addr &&
				    entry->kind == DMAP_DEBUG_KIND_SINGLE && entry->error_checked) {
					entry->error_checked = false;
					best->error_checked = true;
					break;
				}
			}
		}
		/* remember it, so a second unmap is named a double unmap */
		slot->dev = best->dev;
		slot->addr = best->addr;
		slot->size = best->size;
		bucket->recent_next = (bucket->recent_next + 1) % DMAP_DEBUG_RECENT;
	} else {
		for (i = 0; i < DMAP_DEBUG_RECENT; i++) {
			/* newest first, so the size named is the last unmap's */
			const struct dmap_debug_recent *slot =
				&bucket->recent[(bucket->recent_next + DMAP_DEBUG_RECENT - 1 - i) %
						DMAP_DEBUG_RECENT];

			if (slot->size && slot->dev == ref->dev && slot->addr == ref->addr) {
				*unmapped_before = slot->size;
				break;
			}
		}
	}
	dmap_spin_unlock(&bucket->lock);
	return best;
}

/* ---- checks ------------------------------------------------------------ */

static const char *dmap_debug_call_name(enum dmap_debug_kind kind)
{
	switch (kind) {
	case DMAP_DEBUG_KIND_SINGLE:
		return "dmap_unmap_phys()";
	case DMAP_DEBUG_KIND_SG:
		return "dmap_unmap_sg()";
	case DMAP_DEBUG_KIND_COHERENT:
		return "dmap_free_coherent()";
	}
	return "?";
}

/* Reports already made by one call, so a bad sg list yields one report per problem. */
#define DMAP_DEBUG_ONCE(mask, report) (!((mask) & (1u << (report))) && ((mask) |= 1u << (report)))

/*
 * Check the end of a mapping described by @ref, report what is wrong and
 * forget the mapping. @once (may be NULL) suppresses repeats within one call.
 */
static void dmap_debug_check_unmap(struct dmap_debug_state *st, const struct dmap_debug_ref *ref,
				   unsigned int *once)
{
	const char *name = ref->dev->name;
	unsigned int local = 0;
	struct dmap_debug_entry *entry;
	size_t before;

	if (!once)
		once = &local;
	entry = dmap_debug_take(st, ref, &before);
	if (!entry) {
		if (dmap_load_relaxed(&st->incomplete))
			return;
		if (before) {
			if (DMAP_DEBUG_ONCE(*once, DMAP_DEBUG_DOUBLE_UNMAP))
				dmap_debug_report(st, DMAP_DEBUG_DOUBLE_UNMAP, name,
						  "%s of DMA memory already unmapped [bus "
						  "address=0x%llx size=%zu dir=%s; unmapped "
						  "before with size=%zu]",
						  dmap_debug_call_name(ref->kind),
						  (unsigned long long)ref->addr, ref->size,
						  dmap_dir_name(ref->dir), before);
		} else if (DMAP_DEBUG_ONCE(*once, DMAP_DEBUG_UNMAP_UNKNOWN)) {
			dmap_debug_report(st, DMAP_DEBUG_UNMAP_UNKNOWN, name,
					  "%s of DMA memory it has not mapped [bus address=0x%llx "
					  "size=%zu dir=%s]",
					  dmap_debug_call_name(ref->kind),
					  (unsigned long long)ref->addr, ref->size,
					  dmap_dir_name(ref->dir));
		}
		return;
	}

	if (entry->kind != ref->kind) {
		if (DMAP_DEBUG_ONCE(*once, DMAP_DEBUG_KIND_MISMATCH))
			dmap_debug_report(st, DMAP_DEBUG_KIND_MISMATCH, name,
					  "%s of a %s mapping [bus address=0x%llx size=%zu dir=%s]",
					  dmap_debug_call_name(ref->kind),
					  dmap_debug_kind_name(entry->kind),
					  (unsigned long long)entry->addr, entry->size,
					  dmap_dir_name(entry->dir));
	} else if (ref->kind == DMAP_DEBUG_KIND_COHERENT && entry->cpu_addr != ref->cpu_addr) {
		if (DMAP_DEBUG_ONCE(*once, DMAP_DEBUG_KIND_MISMATCH))
			dmap_debug_report(st, DMAP_DEBUG_KIND_MISMATCH, name,
					  "dmap_free_coherent() with a different CPU address [bus "
					  "address=0x%llx size=%zu allocated cpu address=%p freed "
					  "cpu address=%p]",
					  (unsigned long long)entry->addr, entry->size,
					  entry->cpu_addr, ref->cpu_addr);
	}
	if (entry->size != ref->size && DMAP_DEBUG_ONCE(*once, DMAP_DEBUG_SIZE_MISMATCH))
		dmap_debug_report(st, DMAP_DEBUG_SIZE_MISMATCH, name,
				  "%s with a different size [bus address=0x%llx mapped size=%zu "
				  "unmapped size=%zu]",
				  dmap_debug_call_name(ref->kind), (unsigned long long)entry->addr,
				  entry->size, ref->size);
	if (ref->kind != DMAP_DEBUG_KIND_COHERENT && entry->kind != DMAP_DEBUG_KIND_COHERENT &&
	    entry->dir != ref->dir && DMAP_DEBUG_ONCE(*once, DMAP_DEBUG_DIR_MISMATCH))
		dmap_debug_report(st, DMAP_DEBUG_DIR_MISMATCH, name,
				  "%s with a different direction [bus address=0x%llx size=%zu "
				  "mapped dir=%s unmapped dir=%s]",
				  dmap_debug_call_name(ref->kind), (unsigned long long)entry->addr,
				  entry->size, dmap_dir_name(entry->dir), dmap_dir_name(ref->dir));
	if (ref->kind == DMAP_DEBUG_KIND_SG && entry->kind == DMAP_DEBUG_KIND_SG &&
	    entry->sg_nents != ref->sg_nents &&
	    DMAP_DEBUG_ONCE(*once, DMAP_DEBUG_SG_COUNT_MISMATCH))
		dmap_debug_report(st, DMAP_DEBUG_SG_COUNT_MISMATCH, name,
				  "dmap_unmap_sg() with a different entry count [bus "
				  "address=0x%llx size=%zu mapped nents=%d unmapped nents=%d]",
				  (unsigned long long)entry->addr, entry->size, entry->sg_nents,
				  ref->sg_nents);
	if (entry->kind == DMAP_DEBUG_KIND_SINGLE && !entry->error_checked &&
	    DMAP_DEBUG_ONCE(*once, DMAP_DEBUG_ERROR_NOT_CHECKED))
		dmap_debug_report(st, DMAP_DEBUG_ERROR_NOT_CHECKED, name,
				  "failed to check the map error with dmap_mapping_error() [bus "
				  "address=0x%llx size=%zu dir=%s]",
				  (unsigned long long)entry->addr, entry->size,
				  dmap_dir_name(entry->dir));

	dmap_debug_entry_free(st, entry);
}

/* A copy of the fields sync needs, taken under the bucket lock. */
struct dmap_debug_span {
	dmap_addr_t addr;
	size_t size;
	enum dmap_dir dir;
	uint64_t sg_call;
};

#define DMAP_DEBUG_SYNC_CANDIDATES 16

static bool dmap_debug_dir_allows(enum dmap_dir mapped, enum dmap_dir dir)
{
	return mapped == DMAP_BIDIRECTIONAL || mapped == dir;
}

static unsigned int dmap_debug_span_score(const struct dmap_debug_span *span, dmap_addr_t last,
					  enum dmap_dir dir)
{
	return 2 * dmap_debug_dir_allows(span->dir, dir) + (span->addr + (span->size - 1) >= last);
}

/*
 * Collect (up to DMAP_DEBUG_SYNC_CANDIDATES, the best-fitting kept) the live
 * mappings of @dev that contain @addr. Several may: a buffer mapped twice.
 * Entries are found in the buckets of the pages from @addr back as far as
 * the largest mapping ever tracked reaches.
 */
static unsigned int dmap_debug_find_covering(struct dmap_debug_state *st,
					     const struct dmap_dev *dev, dmap_addr_t addr,
					     dmap_addr_t last, enum dmap_dir dir,
					     struct dmap_debug_span *out)
{
	uint64_t max = dmap_load_relaxed(&st->max_size);
	uint64_t pages, page, first_page, low;
	unsigned int found = 0;

	if (!max)
		return 0;
	low = addr >= max - 1 ? addr - (max - 1) : 0;
	first_page = addr >> DMAP_DEBUG_PAGE_SHIFT;
	pages = first_page - (low >> DMAP_DEBUG_PAGE_SHIFT) + 1;
	for (page = 0; page < pages && page < DMAP_DEBUG_BUCKETS; page++) {
		struct dmap_debug_bucket *bucket;
		struct dmap_debug_entry *entry;

		/*
		 * Buckets of pages first_page, first_page-1, ...; with more pages
		 * than buckets the loop visits every bucket exactly once.
		 */
		bucket = dmap_debug_bucket(st, dev, (first_page - page) << DMAP_DEBUG_PAGE_SHIFT);
		dmap_spin_lock(&bucket->lock);
		for (entry = bucket->head; entry; entry = entry->next) {
			struct dmap_debug_span span;
			unsigned int slot, i;

			if (entry->dev != dev || entry->addr > addr ||
			    addr - entry->addr >= entry->size)
				continue;
			span.addr = entry->addr;
			span.size = entry->size;
			span.dir = entry->dir;
			span.sg_call = entry->sg_call;
			if (found < DMAP_DEBUG_SYNC_CANDIDATES) {
				slot = found++;
			} else {
				/* full: replace the worst candidate if this one is better */
				slot = 0;
				for (i = 1; i < found; i++)
					if (dmap_debug_span_score(&out[i], last, dir) <
					    dmap_debug_span_score(&out[slot], last, dir))
						slot = i;
				if (dmap_debug_span_score(&out[slot], last, dir) >=
				    dmap_debug_span_score(&span, last, dir))
					continue;
			}
			out[slot] = span;
		}
		dmap_spin_unlock(&bucket->lock);
	}
	return found;
}

/* The entry of sg call @sg_call of @dev that starts exactly at @addr. */
static bool dmap_debug_find_next(struct dmap_debug_state *st, const struct dmap_dev *dev,
				 dmap_addr_t addr, uint64_t sg_call, struct dmap_debug_span *out)
{
	struct dmap_debug_bucket *bucket = dmap_debug_bucket(st, dev, addr);
	struct dmap_debug_entry *entry;
	bool found = false;

	dmap_spin_lock(&bucket->lock);
	for (entry = bucket->head; entry; entry = entry->next) {
		if (entry->dev == dev && entry->addr == addr && entry->sg_call == sg_call) {
			out->addr = entry->addr;
			out->size = entry->size;
			out->dir = entry->dir;
			out->sg_call = entry->sg_call;
			found = true;
			break;
		}
	}
	dmap_spin_unlock(&bucket->lock);
	return found;
}

/*
 * Does the mapping starting with @span cover up to @last? A single or
 * coherent mapping must do so alone; an sg entry may continue in the next
 * entries of its call, since dispatch syncs merged bus segments.
 */
static bool dmap_debug_reaches(struct dmap_debug_state *st, const struct dmap_dev *dev,
			       struct dmap_debug_span span, dmap_addr_t last)
{
	for (;;) {
		dmap_addr_t span_last = span.addr + (span.size - 1);

		if (span_last >= last)
			return true;
		if (!span.sg_call || span_last == ~(dmap_addr_t)0 ||
		    !dmap_debug_find_next(st, dev, span_last + 1, span.sg_call, &span))
			return false;
	}
}

/*
 * Sync [@addr, @addr+@size) must lie inside one live mapping of @dev (a
 * merged sg segment counts as one) and use the mapping's direction unless
 * that is BIDIRECTIONAL. With several candidates, a fitting one wins: a
 * report is made only when none fits.
 */
static void dmap_debug_check_sync(struct dmap_debug_state *st, const struct dmap_dev *dev,
				  dmap_addr_t addr, size_t size, enum dmap_dir dir, bool for_cpu)
{
	struct dmap_debug_span spans[DMAP_DEBUG_SYNC_CANDIDATES];
	const char *what = for_cpu ? "for cpu" : "for device";
	dmap_addr_t last = addr + (size - 1);
	const struct dmap_debug_span *wrong = NULL;
	unsigned int found, i;

	found = dmap_debug_find_covering(st, dev, addr, last, dir, spans);
	for (i = 0; i < found; i++) {
		if (!dmap_debug_reaches(st, dev, spans[i], last))
			continue;
		if (dmap_debug_dir_allows(spans[i].dir, dir))
			return;
		wrong = &spans[i];
	}
	if (wrong) {
		dmap_debug_report(st, DMAP_DEBUG_SYNC_WRONG_DIR, dev->name,
				  "syncs DMA memory %s with a different direction [bus "
				  "address=0x%llx size=%zu mapped dir=%s sync dir=%s]",
				  what, (unsigned long long)addr, size, dmap_dir_name(wrong->dir),
				  dmap_dir_name(dir));
		return;
	}
	if (dmap_load_relaxed(&st->incomplete))
		return;
	dmap_debug_report(st, DMAP_DEBUG_SYNC_OUTSIDE, dev->name,
			  "syncs DMA memory %s outside any live mapping [bus address=0x%llx "
			  "size=%zu dir=%s]",
			  what, (unsigned long long)addr, size, dmap_dir_name(dir));
}

/* ---- the wrapper hooks ------------------------------------------------- */

static dmap_addr_t dmap_debug_map_phys(struct dmap_domain *dom, struct dmap_dev *dev,
				       dmap_phys_t phys, size_t size, enum dmap_dir dir,
				       unsigned long attrs)
{
	struct dmap_debug_state *st = dmap_debug_state_of(dom);
	struct dmap_debug_entry *entry;
	dmap_addr_t addr;

	addr = dom->backend_ops->map_phys(dom, dev, phys, size, dir, attrs);
	if (addr == DMAP_MAPPING_ERROR)
		return addr;
	entry = dmap_debug_entry_new(st, dev, addr, size, dir, DMAP_DEBUG_KIND_SINGLE);
	if (entry) {
		entry->phys = phys;
		/*
		 * A domain serving another domain's device (a fallback) never sees
		 * the driver's dmap_mapping_error(): that goes to the domain the
		 * device is attached to, whose own debug layer judges it.
		 */
		entry->error_checked = dmap_load_acquire(&dev->domain) != dom;
		dmap_debug_insert(st, entry);
	}
	return addr;
}

static int dmap_debug_unmap_phys(struct dmap_domain *dom, struct dmap_dev *dev, dmap_addr_t addr,
				 size_t size, enum dmap_dir dir, unsigned long attrs)
{
	struct dmap_debug_ref ref = {
		.dev = dev,
		.addr = addr,
		.size = size,
		.dir = dir,
		.kind = DMAP_DEBUG_KIND_SINGLE,
	};

	/* before forwarding: once the backend frees the address it may be handed out again */
	dmap_debug_check_unmap(dmap_debug_state_of(dom), &ref, NULL);
	return dom->backend_ops->unmap_phys(dom, dev, addr, size, dir, attrs);
}

static int dmap_debug_map_sg(struct dmap_domain *dom, struct dmap_dev *dev, struct dmap_sg *sg,
			     int nents, enum dmap_dir dir, unsigned long attrs)
{
	struct dmap_debug_state *st = dmap_debug_state_of(dom);
	uint64_t call;
	int ret, i;

	ret = dmap_backend_map_sg(dom, dom->backend_ops, dev, sg, nents, dir, attrs);
	if (ret < 0)
		return ret;
	call = dmap_fetch_add(&st->next_sg_call, 1) + 1;
	for (i = 0; i < nents; i++) {
		struct dmap_debug_entry *entry;

		entry = dmap_debug_entry_new(st, dev, sg[i].dma_addr, sg[i].len, dir,
					     DMAP_DEBUG_KIND_SG);
		if (!entry)
			continue;
		entry->phys = sg[i].phys;
		entry->sg_call = call;
		entry->sg_nents = nents;
		dmap_debug_insert(st, entry);
	}
	return ret;
}

static int dmap_debug_unmap_sg(struct dmap_domain *dom, struct dmap_dev *dev,
			       const struct dmap_sg *sg, const dmap_addr_t *addrs, int nents,
			       enum dmap_dir dir, unsigned long attrs)
{
	struct dmap_debug_state *st = dmap_debug_state_of(dom);
	unsigned int once = 0;
	int i;

	for (i = 0; i < nents; i++) {
		struct dmap_debug_ref ref = {
			.dev = dev,
			.addr = addrs[i],
			.size = sg[i].len,
			.dir = dir,
			.kind = DMAP_DEBUG_KIND_SG,
			.sg_nents = nents,
		};

		dmap_debug_check_unmap(st, &ref, &once);
	}
	return dmap_backend_unmap_sg(dom, dom->backend_ops, dev, sg, addrs, nents, dir, attrs);
}

static int dmap_debug_sync_for_cpu(struct dmap_domain *dom, struct dmap_dev *dev, dmap_addr_t addr,
				   size_t size, enum dmap_dir dir)
{
	dmap_debug_check_sync(dmap_debug_state_of(dom), dev, addr, size, dir, true);
	return dmap_backend_sync(dom, dom->backend_ops, dev, addr, size, dir, true);
}

static int dmap_debug_sync_for_device(struct dmap_domain *dom, struct dmap_dev *dev,
				      dmap_addr_t addr, size_t size, enum dmap_dir dir)
{
	dmap_debug_check_sync(dmap_debug_state_of(dom), dev, addr, size, dir, false);
	return dmap_backend_sync(dom, dom->backend_ops, dev, addr, size, dir, false);
}

static void *dmap_debug_alloc_coherent(struct dmap_domain *dom, struct dmap_dev *dev, size_t size,
				       dmap_addr_t *handle, unsigned long attrs)
{
	struct dmap_debug_state *st = dmap_debug_state_of(dom);
	struct dmap_debug_entry *entry;
	void *cpu_addr;

	cpu_addr = dom->backend_ops->alloc_coherent(dom, dev, size, handle, attrs);
	if (!cpu_addr || *handle == DMAP_MAPPING_ERROR)
		return cpu_addr;
	entry = dmap_debug_entry_new(st, dev, *handle, size, DMAP_BIDIRECTIONAL,
				     DMAP_DEBUG_KIND_COHERENT);
	if (entry) {
		entry->cpu_addr = cpu_addr;
		dmap_debug_insert(st, entry);
	}
	return cpu_addr;
}

static int dmap_debug_free_coherent(struct dmap_domain *dom, struct dmap_dev *dev, size_t size,
				    void *cpu_addr, dmap_addr_t handle, unsigned long attrs)
{
	struct dmap_debug_ref ref = {
		.dev = dev,
		.addr = handle,
		.size = size,
		.dir = DMAP_BIDIRECTIONAL,
		.kind = DMAP_DEBUG_KIND_COHERENT,
		.cpu_addr = cpu_addr,
	};

	dmap_debug_check_unmap(dmap_debug_state_of(dom), &ref, NULL);
	if (!dom->backend_ops->free_coherent)
		return -DMAP_EOPNOTSUPP;
	return dom->backend_ops->free_coherent(dom, dev, size, cpu_addr, handle, attrs);
}

/* The core releases its part of a domain before calling destroy; be safe if debugging is still on. */
static void dmap_debug_destroy(struct dmap_domain *dom)
{
	const struct dmap_ops *backend = dom->backend_ops;

	if (dmap_debug_state_of(dom))
		dmap_debug_disable(dom);
	backend->destroy(dom);
}

/* The hooks written over the copy of the backend's table. */
static const struct dmap_ops dmap_debug_template = {
	.name = "debug",
	.destroy = dmap_debug_destroy,
	.map_phys = dmap_debug_map_phys,
	.unmap_phys = dmap_debug_unmap_phys,
	.map_sg = dmap_debug_map_sg,
	.unmap_sg = dmap_debug_unmap_sg,
	.sync_for_cpu = dmap_debug_sync_for_cpu,
	.sync_for_device = dmap_debug_sync_for_device,
	.alloc_coherent = dmap_debug_alloc_coherent,
	.free_coherent = dmap_debug_free_coherent,
};

/* ---- seams and public calls -------------------------------------------- */

/* Report every live entry for which @match says yes as leaked, and free it. */
static void dmap_debug_drain(struct dmap_debug_state *st, const struct dmap_dev *dev,
			     const char *when)
{
	unsigned int i;

	for (i = 0; i < DMAP_DEBUG_BUCKETS; i++) {
		struct dmap_debug_bucket *bucket = &st->buckets[i];
		struct dmap_debug_entry **link, *leaked = NULL;

		dmap_spin_lock(&bucket->lock);
		link = &bucket->head;
		while (*link) {
			struct dmap_debug_entry *entry = *link;

			if (dev && entry->dev != dev) {
				link = &entry->next;
				continue;
			}
			*link = entry->next;
			entry->next = leaked;
			leaked = entry;
			dmap_store_relaxed(&bucket->live, bucket->live - 1);
		}
		dmap_spin_unlock(&bucket->lock);

		/* report outside the lock: the log hook may be slow */
		while (leaked) {
			struct dmap_debug_entry *entry = leaked;

			leaked = entry->next;
			dmap_debug_report(st, DMAP_DEBUG_LEAK, entry->dev_name,
					  "%s mapping still live %s [bus address=0x%llx size=%zu "
					  "dir=%s]",
					  dmap_debug_kind_name(entry->kind), when,
					  (unsigned long long)entry->addr, entry->size,
					  dmap_dir_name(entry->dir));
			dmap_debug_entry_free(st, entry);
		}
	}
}

/**
 * dmap_debug_enable() - start tracking @dom's mappings.
 * @dom: domain with no device attached and no map call in flight.
 *
 * Context: may sleep (allocates the state). Called by dmap_domain_set_debug().
 * Returns 0 (also when already on), -EINVAL for NULL, -ENOMEM.
 */
int dmap_debug_enable(struct dmap_domain *dom)
{
	struct dmap_debug_state *st;
	unsigned int i;

	if (!dom || !dom->env || !dom->backend_ops)
		return -DMAP_EINVAL;
	if (dmap_debug_state_of(dom))
		return 0;
	/* aligned for next_sg_call's cache line, which dmap_env_alloc()'s 16 bytes are not */
	st = dom->env->ops->alloc(dom->env->cookie, sizeof(*st), _Alignof(struct dmap_debug_state),
				  DMAP_ALLOC_ZERO);
	if (!st) {
		dmap_log(dom->env, DMAP_LOG_ERR,
			 "dmap-debug: domain %s: cannot allocate %zu bytes of tracking state",
			 dom->name, sizeof(*st));
		return -DMAP_ENOMEM;
	}
	dmap_memset(st, 0, sizeof(*st));
	st->dom = dom;
	st->env = dom->env;
	for (i = 0; i < DMAP_DEBUG_BUCKETS; i++)
		dmap_spin_init(&st->buckets[i].lock);

	/*
	 * The backend's table with the intercepting hooks over it. Coherent
	 * hooks stay NULL when the backend has none, so dmap_alloc_coherent()
	 * fails exactly as it would without debugging.
	 */
	st->ops = *dom->backend_ops;
	st->ops.destroy = dmap_debug_template.destroy;
	st->ops.map_phys = dmap_debug_template.map_phys;
	st->ops.unmap_phys = dmap_debug_template.unmap_phys;
	st->ops.map_sg = dmap_debug_template.map_sg;
	st->ops.unmap_sg = dmap_debug_template.unmap_sg;
	st->ops.sync_for_cpu = dmap_debug_template.sync_for_cpu;
	st->ops.sync_for_device = dmap_debug_template.sync_for_device;
	if (dom->backend_ops->alloc_coherent) {
		st->ops.alloc_coherent = dmap_debug_template.alloc_coherent;
		st->ops.free_coherent = dmap_debug_template.free_coherent;
	}

	dmap_store_release(&dom->debug, st);
	dmap_store_release(&dom->ops, (const struct dmap_ops *)&st->ops);
	return 0;
}

/**
 * dmap_debug_disable() - stop tracking: report what is still live as leaked,
 * restore the backend's table and free the state.
 * @dom: domain with no map call in flight (no device attached, and no domain
 * using it as a fallback mapping through it).
 *
 * Context: may sleep. Does nothing when debugging is off or @dom is NULL.
 */
void dmap_debug_disable(struct dmap_domain *dom)
{
	struct dmap_debug_state *st;
	unsigned int i;

	if (!dom)
		return;
	st = dmap_debug_state_of(dom);
	if (!st)
		return;
	dmap_store_release(&dom->ops, dom->backend_ops);
	dmap_store_release(&dom->debug, (struct dmap_debug_state *)NULL);
	dmap_debug_drain(st, NULL, "when debugging stopped (domain destroyed or debug off)");
	for (i = 0; i < DMAP_DEBUG_BUCKETS; i++)
		dmap_spin_destroy(&st->buckets[i].lock);
	dmap_env_free(dom->env, st, sizeof(*st));
}

/**
 * dmap_debug_mapping_checked() - dmap_mapping_error() was called on @addr.
 * Marks one unchecked single mapping of (@dev, @addr), as Linux marks the
 * first NOT_CHECKED entry. Context: any; takes one bucket lock.
 */
void dmap_debug_mapping_checked(struct dmap_domain *dom, struct dmap_dev *dev, dmap_addr_t addr)
{
	struct dmap_debug_state *st;
	struct dmap_debug_bucket *bucket;
	struct dmap_debug_entry *entry;

	if (!dom || !dev || addr == DMAP_MAPPING_ERROR)
		return;
	st = dmap_debug_state_of(dom);
	if (!st)
		return;
	bucket = dmap_debug_bucket(st, dev, addr);
	dmap_spin_lock(&bucket->lock);
	for (entry = bucket->head; entry; entry = entry->next) {
		if (entry->dev == dev && entry->addr == addr &&
		    entry->kind == DMAP_DEBUG_KIND_SINGLE && !entry->error_checked) {
			entry->error_checked = true;
			break;
		}
	}
	dmap_spin_unlock(&bucket->lock);
}

/**
 * dmap_debug_device_detached() - @dev leaves @dom: report its live mappings
 * as leaked (Linux: "pending DMA allocations while released from device")
 * and forget them. Context: may sleep; no map call on @dev in flight.
 */
void dmap_debug_device_detached(struct dmap_domain *dom, struct dmap_dev *dev)
{
	struct dmap_debug_state *st;

	if (!dom || !dev)
		return;
	st = dmap_debug_state_of(dom);
	if (!st)
		return;
	dmap_debug_drain(st, dev, "at detach");
}

/**
 * dmap_debug_get_counts() - see <dmap/debug.h>.
 *
 * Context: any; takes no lock. The counters are read one by one with relaxed
 * loads, so a snapshot taken while other threads map may be mid-update (the
 * live count sums the buckets). Must not race with switching debugging off.
 * Errors: -EINVAL (NULL), -ENODEV (debugging off).
 */
int dmap_debug_get_counts(const struct dmap_domain *domain, struct dmap_debug_counts *out)
{
	struct dmap_debug_state *st;
	unsigned int i;

	if (!domain || !out)
		return -DMAP_EINVAL;
	st = dmap_debug_state_of(domain);
	if (!st)
		return -DMAP_ENODEV;
	for (i = 0; i < DMAP_DEBUG_REPORT_COUNT; i++)
		out->reports[i] = dmap_load_relaxed(&st->reports[i]);
	out->live_mappings = 0;
	for (i = 0; i < DMAP_DEBUG_BUCKETS; i++)
		out->live_mappings += dmap_load_relaxed(&st->buckets[i].live);
	return 0;
}
