/* SPDX-License-Identifier: MIT */
/*
 * dmap/range_map.h - an RCU-protected map from disjoint 64-bit ranges to
 * payloads: the simulated physical memory, the software IOTLB, the Xen P2M's
 * sparse regions and the vhost-user IOTLB are all built on it.
 *
 * Readers look up without any lock inside an RCU read section in O(log n)
 * (binary search over a sorted array). Writers are serialised by an internal
 * lock, build a new array, publish it with one pointer store, and free the
 * old array (and release removed payloads) after a grace period. Writes cost
 * O(n); the users above have tens to thousands of entries and read far more
 * often than they write. docs/range-map.md discusses the alternatives.
 *
 * Ranges are [first, last] with an inclusive last address, so a range that
 * ends exactly at 2^64 is last = UINT64_MAX and nothing overflows.
 */
#ifndef DMAP_RANGE_MAP_H
#define DMAP_RANGE_MAP_H

#include <dmap/types.h>
#include <dmap/env.h>

#ifdef __cplusplus
extern "C" {
#endif

/**
 * struct dmap_range - one entry.
 * @first: first address, inclusive.
 * @last: last address, inclusive (>= @first).
 * @value: a payload word (e.g. the translated base).
 * @data: a payload pointer, handed to the release callback after removal.
 */
struct dmap_range {
	uint64_t first;
	uint64_t last;
	uint64_t value;
	void *data;
};

struct dmap_range_map;

/**
 * typedef dmap_range_release_fn - called once per removed entry (and per entry
 * left at destroy) after a grace period, outside any read section, so no
 * reader can still hold @range. Must not call back into the same map.
 */
typedef void (*dmap_range_release_fn)(void *cookie, const struct dmap_range *range);

/**
 * dmap_range_map_create() - make an empty map.
 * @env: environment (allocation, call_rcu); must outlive the map.
 * @release: optional per-entry release callback.
 * @cookie: passed to @release.
 * @out: receives the map.
 * Context: may sleep. Returns 0, -EINVAL, -ENOMEM.
 */
int dmap_range_map_create(const struct dmap_env *env, dmap_range_release_fn release, void *cookie,
			  struct dmap_range_map **out);

/**
 * dmap_range_map_destroy() - free the map and release every entry.
 * No reader may use the map any more (the caller waits for its readers);
 * Context: sleeps (waits for a grace period). NULL is a no-op.
 */
void dmap_range_map_destroy(struct dmap_range_map *map);

/**
 * dmap_range_map_insert() - add [@first, @last].
 * Context: writer; never sleeps (allocates atomically); serialised internally.
 * Returns 0, -EINVAL (NULL map, @last < @first), -EEXIST if it overlaps an
 * entry (the message names both ranges; the map is unchanged), -ENOMEM.
 */
int dmap_range_map_insert(struct dmap_range_map *map, uint64_t first, uint64_t last, uint64_t value,
			  void *data);

/**
 * dmap_range_map_remove() - remove the entry that is exactly [@first, @last].
 * Returns 0, -EINVAL, -ENOENT (no such entry; unchanged), -ENOMEM.
 */
int dmap_range_map_remove(struct dmap_range_map *map, uint64_t first, uint64_t last);

/**
 * dmap_range_map_remove_overlapping() - remove every entry that intersects
 * [@first, @last] (whole entries; nothing is split). Returns the number
 * removed (>= 0) or -EINVAL, -ENOMEM.
 */
int dmap_range_map_remove_overlapping(struct dmap_range_map *map, uint64_t first, uint64_t last);

/**
 * dmap_range_map_lookup() - the entry containing @addr, or NULL.
 * Context: caller holds dmap_rcu_read_lock(); the result is valid until it
 * unlocks. Lock-free; O(log n).
 */
const struct dmap_range *dmap_range_map_lookup(const struct dmap_range_map *map, uint64_t addr);

/**
 * dmap_range_map_lookup_next() - the first entry with last >= @addr (the one
 * containing @addr or the next one above it), or NULL. Same context.
 */
const struct dmap_range *dmap_range_map_lookup_next(const struct dmap_range_map *map,
						    uint64_t addr);

/** dmap_range_map_count() - number of entries now (a snapshot). */
size_t dmap_range_map_count(const struct dmap_range_map *map);

/**
 * dmap_range_map_snapshot() - copy up to @max entries, in address order, into
 * @out. Returns how many entries the map had (may exceed @max) or -EINVAL.
 * Takes the read lock itself.
 */
long dmap_range_map_snapshot(const struct dmap_range_map *map, struct dmap_range *out, size_t max);

#ifdef __cplusplus
}
#endif
#endif /* DMAP_RANGE_MAP_H */
