// SPDX-License-Identifier: MIT
/*
 * core/src/range_map.c - an RCU-protected map from disjoint 64-bit ranges to
 * payloads, as a copy-on-write sorted array.
 *
 * Why a sorted array: every user (simulated RAM, the software IOTLB, the
 * Xen P2M's sparse regions, the vhost-user IOTLB) holds tens to a few
 * thousand entries and reads them on every map, sync and device access, but
 * changes them rarely (memory hotplug, IOTLB update messages). A binary search
 * over one contiguous array touches O(log n) cache lines and no pointers that
 * could dangle, and publishing a whole new array makes each update atomic to
 * readers for free: a reader sees either the old array or the new one, never
 * a half-shifted one. The price is an O(n) copy per write, which is nothing
 * against the cost of the events that cause writes. docs/range-map.md weighs
 * the alternatives (RCU skip lists, a maple tree, liburcu's rculfhash).
 *
 * Search keys apart from the entries: the search only ever compares the
 * inclusive last addresses, so each table keeps them a second time in a
 * dense uint64_t array (cache-line aligned) beside the 32-byte entries. A
 * probe then pulls 8 keys per cache line instead of 2, the last <= 8 keys
 * (one or two lines) are counted with independent loads instead of three
 * more dependent halvings, and the whole key array of a 1024-entry map is
 * 8 KiB instead of 32 KiB: a reader that meets a freshly published (cold)
 * table after a write misses on a quarter of the lines. Only the one entry
 * found is read from the entry array. The keys are built by the writer
 * together with the entries and published with them in the same table, so a
 * reader can never see keys and entries of different versions.
 *
 * Concurrency: readers run inside the caller's dmap_rcu_read_lock() and do
 * one dmap_rcu_dereference() of the table pointer; nothing else is shared.
 * Writers serialise on map->lock, build the new table beside the old one
 * (allocated atomically, so a writer never sleeps and may run where the
 * caller holds spinlocks), publish it with dmap_rcu_assign_pointer() and hand
 * the old table to env->ops->call_rcu(). Entries removed by that write are
 * always one contiguous run of the old table (the entries are sorted and
 * disjoint, so the set intersecting a range is contiguous), so the old table
 * records that run as [retire_start, retire_start + retire_count) in its own
 * header and the grace-period callback releases exactly those entries before
 * freeing the table. The header fields are written only by the writer that
 * retires the table; readers never read them, so no reader/writer race.
 *
 * Each table carries the environment, release callback and cookie, so a
 * pending callback never touches the map: the map structure can go away
 * while retired tables are still waiting for their grace period. An empty map
 * publishes NULL instead of an empty table.
 *
 * Arithmetic: ranges are [first, last] with an inclusive last address, so
 * the full 64-bit space is [0, UINT64_MAX] and a range ending at 2^64 has
 * last = UINT64_MAX. No expression here computes last + 1 or first + size,
 * which is what would overflow; comparisons are all on inclusive bounds.
 *
 * Freestanding: only the environment, dmap_log and compiler builtins.
 */
#include <dmap/range_map.h>
#include <dmap/helpers.h>

/*
 * struct dmap_range_table - one published version.
 * @rcu: queued with call_rcu when the table is replaced.
 * @env, @release, @cookie: copied from the map so the callback is self-contained.
 * @alloc_size: bytes allocated, for env->ops->free.
 * @retire_start, @retire_count: entries removed by the write that replaced
 *	this table (released by the callback).
 * @count: number of entries.
 * @keys: keys[i] == entries[i].last; points into this allocation, after the
 *	entries, aligned to DMAP_RANGE_KEY_ALIGN. Searched instead of @entries.
 * @entries: sorted by first; disjoint.
 */
struct dmap_range_table {
	struct dmap_rcu_head rcu;
	const struct dmap_env *env;
	dmap_range_release_fn release;
	void *cookie;
	size_t alloc_size;
	size_t retire_start;
	size_t retire_count;
	size_t count;
	uint64_t *keys;
	struct dmap_range entries[];
};

struct dmap_range_map {
	const struct dmap_env *env;
	dmap_range_release_fn release;
	void *cookie;
	dmap_spinlock_t lock; /* serialises writers */
	struct dmap_range_table *table; /* RCU-published; NULL when empty */
};

/* The key array starts on a cache line, so 8 neighbouring keys share one line. */
#define DMAP_RANGE_KEY_ALIGN 64

/* Largest table size_t can describe; a request above it is -ENOMEM, not an overflow. */
#define DMAP_RANGE_TABLE_MAX                                                       \
	((((size_t)-1) - sizeof(struct dmap_range_table) - DMAP_RANGE_KEY_ALIGN) / \
	 (sizeof(struct dmap_range) + sizeof(uint64_t)))

static struct dmap_range_table *dmap_range_table_alloc(const struct dmap_range_map *map,
						       size_t count)
{
	struct dmap_range_table *table;
	size_t size;

	if (count > DMAP_RANGE_TABLE_MAX)
		return NULL;
	/* Room for the entries, the keys, and the padding that aligns the keys. */
	size = sizeof(*table) + count * (sizeof(struct dmap_range) + sizeof(uint64_t)) +
	       DMAP_RANGE_KEY_ALIGN - sizeof(uint64_t);
	table = dmap_env_alloc(map->env, size, DMAP_ALLOC_ATOMIC);
	if (!table)
		return NULL;
	table->keys = (uint64_t *)dmap_align_up((uintptr_t)&table->entries[count],
						(uintptr_t)DMAP_RANGE_KEY_ALIGN);
	table->env = map->env;
	table->release = map->release;
	table->cookie = map->cookie;
	table->alloc_size = size;
	table->retire_start = 0;
	table->retire_count = 0;
	table->count = count;
	return table;
}

static void dmap_range_table_release(struct dmap_range_table *table)
{
	size_t i;

	if (table->release)
		for (i = 0; i < table->retire_count; i++)
			table->release(table->cookie, &table->entries[table->retire_start + i]);
	dmap_env_free(table->env, table, table->alloc_size);
}

static void dmap_range_table_rcu_free(struct dmap_rcu_head *head)
{
	dmap_range_table_release(dmap_container_of(head, struct dmap_range_table, rcu));
}

/*
 * Publish @next in place of @prev (either may be NULL) and retire @prev,
 * releasing its entries [@start, @start + @count) after a grace period.
 * Called with map->lock held.
 */
static void dmap_range_map_publish(struct dmap_range_map *map, struct dmap_range_table *prev,
				   struct dmap_range_table *next, size_t start, size_t count)
{
	dmap_rcu_assign_pointer(map->table, next);
	if (!prev)
		return;
	prev->retire_start = start;
	prev->retire_count = count;
	map->env->ops->call_rcu(map->env->cookie, &prev->rcu, dmap_range_table_rcu_free);
}

/*
 * Index of the first entry whose last >= @addr (table->count if none).
 * Branch-free halving over the dense key array down to at most 8 keys, then
 * a count of the keys below @addr among those: the only data-dependent
 * choices are masks and carries, so there are no mispredicted branches
 * (random addresses would mispredict half of an if/else search's branches;
 * the loop bounds depend only on the table size), a lookup costs about
 * log2(n) - 3 dependent loads plus up to 8 independent ones, still O(log n),
 * and, with 8 keys per cache line, it touches about log2(n) - 2 lines.
 */
static size_t dmap_range_lower_bound(const struct dmap_range_table *table, uint64_t addr)
{
	const uint64_t *keys = table->keys;
	const uint64_t *base = keys;
	size_t n = table->count, below = 0, i;

	while (n > 8) {
		size_t half = n / 2;

		/*
		 * A mask, not ?:, because gcc -O3 turns the ternary into a branch
		 * that random addresses mispredict half of the time.
		 */
		base += half & ((size_t)0 - (size_t)(base[half - 1] < addr));
		n -= half;
	}
	/*
	 * The answer is in [base, base + n] with n <= 8 keys left, one or two
	 * cache lines: count the keys below @addr instead of halving three more
	 * times, so these loads are independent rather than a dependent chain.
	 */
	for (i = 0; i < n; i++)
		below += base[i] < addr;
	return (size_t)(base - keys) + below;
}

/**
 * dmap_range_map_create() - make an empty map.
 * @env: environment; needs alloc, free and call_rcu; must outlive the map.
 * @release: optional per-entry release callback (after a grace period).
 * @cookie: passed to @release.
 * @out: receives the map.
 *
 * Context: may sleep. Returns 0, -EINVAL (NULL @env, @out or a required hook
 * missing), -ENOMEM.
 */
int dmap_range_map_create(const struct dmap_env *env, dmap_range_release_fn release, void *cookie,
			  struct dmap_range_map **out)
{
	struct dmap_range_map *map;

	if (out)
		*out = NULL;
	if (!env || !out || !env->ops || !env->ops->alloc || !env->ops->free ||
	    !env->ops->call_rcu || !env->ops->synchronize_rcu)
		return -DMAP_EINVAL;
	map = dmap_env_alloc(env, sizeof(*map), 0);
	if (!map) {
		dmap_log(env, DMAP_LOG_ERR, "range map: out of memory allocating %zu bytes",
			 sizeof(*map));
		return -DMAP_ENOMEM;
	}
	map->env = env;
	map->release = release;
	map->cookie = cookie;
	map->table = NULL;
	dmap_spin_init(&map->lock);
	*out = map;
	return 0;
}

/**
 * dmap_range_map_destroy() - free @map and release every entry.
 * @map: map with no readers left and no concurrent writer; NULL is a no-op.
 *
 * Every release callback, for the entries still present and for those
 * removed earlier whose grace period is pending, has run when it returns
 * (when the environment has rcu_barrier; without it, pending callbacks of
 * earlier removals may still run later, but they never touch @map).
 * Context: sleeps (synchronize_rcu, rcu_barrier); never inside a read section.
 */
void dmap_range_map_destroy(struct dmap_range_map *map)
{
	const struct dmap_env *env;
	struct dmap_range_table *table;

	if (!map)
		return;
	env = map->env;
	dmap_spin_lock(&map->lock);
	table = map->table;
	dmap_rcu_assign_pointer(map->table, NULL);
	dmap_spin_unlock(&map->lock);
	/* The caller promised no new readers; wait for ones that may still be inside. */
	env->ops->synchronize_rcu(env->cookie);
	if (table) {
		table->retire_start = 0;
		table->retire_count = table->count;
		dmap_range_table_release(table);
	}
	if (env->ops->rcu_barrier)
		env->ops->rcu_barrier(env->cookie);
	dmap_spin_destroy(&map->lock);
	dmap_env_free(env, map, sizeof(*map));
}

/**
 * dmap_range_map_insert() - add [@first, @last] with payload @value, @data.
 * @map: the map.
 * @first: first address.
 * @last: last address, inclusive (UINT64_MAX for a range ending at 2^64).
 * @value: payload word.
 * @data: payload pointer, given to the release callback after removal.
 *
 * Context: writer; never sleeps (atomic allocation); serialised internally;
 * may run concurrently with readers. Returns 0, -EINVAL (NULL map, @last <
 * @first), -EEXIST (overlaps an entry; logged with both ranges; map
 * unchanged), -ENOMEM (map unchanged).
 */
int dmap_range_map_insert(struct dmap_range_map *map, uint64_t first, uint64_t last, uint64_t value,
			  void *data)
{
	struct dmap_range_table *table, *next;
	size_t count, index;

	if (!map)
		return -DMAP_EINVAL;
	if (last < first) {
		dmap_log(map->env, DMAP_LOG_ERR,
			 "range map: invalid range [%llx, %llx]: last below first",
			 (unsigned long long)first, (unsigned long long)last);
		return -DMAP_EINVAL;
	}
	dmap_spin_lock(&map->lock);
	table = map->table;
	count = table ? table->count : 0;
	index = table ? dmap_range_lower_bound(table, first) : 0;
	if (index < count && table->entries[index].first <= last) {
		const struct dmap_range *old = &table->entries[index];

		dmap_log(map->env, DMAP_LOG_ERR,
			 "range map: [%llx, %llx] overlaps existing entry [%llx, %llx]",
			 (unsigned long long)first, (unsigned long long)last,
			 (unsigned long long)old->first, (unsigned long long)old->last);
		dmap_spin_unlock(&map->lock);
		return -DMAP_EEXIST;
	}
	next = dmap_range_table_alloc(map, count + 1);
	if (!next) {
		dmap_spin_unlock(&map->lock);
		dmap_log(map->env, DMAP_LOG_ERR,
			 "range map: out of memory inserting [%llx, %llx] (%zu entries)",
			 (unsigned long long)first, (unsigned long long)last, count);
		return -DMAP_ENOMEM;
	}
	if (index) {
		dmap_memcpy(next->entries, table->entries, index * sizeof(struct dmap_range));
		dmap_memcpy(next->keys, table->keys, index * sizeof(uint64_t));
	}
	next->entries[index].first = first;
	next->entries[index].last = last;
	next->entries[index].value = value;
	next->entries[index].data = data;
	next->keys[index] = last;
	if (count > index) {
		dmap_memcpy(&next->entries[index + 1], &table->entries[index],
			    (count - index) * sizeof(struct dmap_range));
		dmap_memcpy(&next->keys[index + 1], &table->keys[index],
			    (count - index) * sizeof(uint64_t));
	}
	dmap_range_map_publish(map, table, next, 0, 0);
	dmap_spin_unlock(&map->lock);
	return 0;
}

/*
 * Remove entries [@index, @index + @removed) of the current table. Called
 * with map->lock held; returns 0 or -ENOMEM (map unchanged).
 */
static int dmap_range_map_cut(struct dmap_range_map *map, struct dmap_range_table *table,
			      size_t index, size_t removed)
{
	struct dmap_range_table *next = NULL;
	size_t remaining = table->count - removed;

	if (remaining) {
		next = dmap_range_table_alloc(map, remaining);
		if (!next)
			return -DMAP_ENOMEM;
		if (index) {
			dmap_memcpy(next->entries, table->entries,
				    index * sizeof(struct dmap_range));
			dmap_memcpy(next->keys, table->keys, index * sizeof(uint64_t));
		}
		if (remaining > index) {
			dmap_memcpy(&next->entries[index], &table->entries[index + removed],
				    (remaining - index) * sizeof(struct dmap_range));
			dmap_memcpy(&next->keys[index], &table->keys[index + removed],
				    (remaining - index) * sizeof(uint64_t));
		}
	}
	dmap_range_map_publish(map, table, next, index, removed);
	return 0;
}

/**
 * dmap_range_map_remove() - remove the entry that is exactly [@first, @last].
 * @map: the map.
 * @first: first address of the entry.
 * @last: last address of the entry, inclusive.
 *
 * The release callback runs for the entry after a grace period.
 * Context: writer; never sleeps. Returns 0, -EINVAL (NULL map, @last <
 * @first), -ENOENT (no entry with exactly these bounds; map unchanged),
 * -ENOMEM (map unchanged).
 */
int dmap_range_map_remove(struct dmap_range_map *map, uint64_t first, uint64_t last)
{
	struct dmap_range_table *table;
	size_t index;
	int ret;

	if (!map)
		return -DMAP_EINVAL;
	if (last < first)
		return -DMAP_EINVAL;
	dmap_spin_lock(&map->lock);
	table = map->table;
	if (!table) {
		dmap_spin_unlock(&map->lock);
		return -DMAP_ENOENT;
	}
	index = dmap_range_lower_bound(table, first);
	if (index >= table->count || table->entries[index].first != first ||
	    table->entries[index].last != last) {
		dmap_spin_unlock(&map->lock);
		return -DMAP_ENOENT;
	}
	ret = dmap_range_map_cut(map, table, index, 1);
	dmap_spin_unlock(&map->lock);
	if (ret)
		dmap_log(map->env, DMAP_LOG_ERR, "range map: out of memory removing [%llx, %llx]",
			 (unsigned long long)first, (unsigned long long)last);
	return ret;
}

/**
 * dmap_range_map_remove_overlapping() - remove every entry intersecting
 * [@first, @last]; whole entries, nothing is split.
 * @map: the map.
 * @first: first address.
 * @last: last address, inclusive.
 *
 * Context: writer; never sleeps. Returns the number of entries removed (0 if
 * none: no allocation, no grace period), -EINVAL (NULL map, @last < @first),
 * -ENOMEM (map unchanged).
 */
int dmap_range_map_remove_overlapping(struct dmap_range_map *map, uint64_t first, uint64_t last)
{
	struct dmap_range_table *table;
	size_t index, end;
	int ret;

	if (!map || last < first)
		return -DMAP_EINVAL;
	dmap_spin_lock(&map->lock);
	table = map->table;
	if (!table) {
		dmap_spin_unlock(&map->lock);
		return 0;
	}
	index = dmap_range_lower_bound(table, first);
	end = index;
	while (end < table->count && table->entries[end].first <= last)
		end++;
	if (end == index) {
		dmap_spin_unlock(&map->lock);
		return 0;
	}
	ret = dmap_range_map_cut(map, table, index, end - index);
	dmap_spin_unlock(&map->lock);
	if (ret) {
		dmap_log(map->env, DMAP_LOG_ERR,
			 "range map: out of memory removing entries overlapping [%llx, %llx]",
			 (unsigned long long)first, (unsigned long long)last);
		return ret;
	}
	return (int)(end - index);
}

/**
 * dmap_range_map_lookup() - the entry containing @addr, or NULL.
 * @map: the map (NULL: NULL).
 * @addr: address.
 *
 * Context: caller holds dmap_rcu_read_lock(); the result stays valid until it
 * unlocks. Lock-free; O(log n).
 */
const struct dmap_range *dmap_range_map_lookup(const struct dmap_range_map *map, uint64_t addr)
{
	const struct dmap_range_table *table;
	size_t index;

	if (!map)
		return NULL;
	table = dmap_rcu_dereference(map->table);
	if (!table)
		return NULL;
	index = dmap_range_lower_bound(table, addr);
	if (index < table->count && table->entries[index].first <= addr)
		return &table->entries[index];
	return NULL;
}

/**
 * dmap_range_map_lookup_next() - the first entry with last >= @addr: the one
 * containing @addr, or else the next one above it; NULL if none.
 * @map: the map (NULL: NULL).
 * @addr: address.
 *
 * Context: as dmap_range_map_lookup(). To walk the map, continue from
 * entry->last + 1, stopping after an entry whose last is UINT64_MAX.
 */
const struct dmap_range *dmap_range_map_lookup_next(const struct dmap_range_map *map, uint64_t addr)
{
	const struct dmap_range_table *table;
	size_t index;

	if (!map)
		return NULL;
	table = dmap_rcu_dereference(map->table);
	if (!table)
		return NULL;
	index = dmap_range_lower_bound(table, addr);
	return index < table->count ? &table->entries[index] : NULL;
}

/**
 * dmap_range_map_count() - number of entries now (a snapshot; 0 for NULL).
 * Context: any but a writer's own callback; takes the read lock itself.
 */
size_t dmap_range_map_count(const struct dmap_range_map *map)
{
	const struct dmap_range_table *table;
	size_t count;

	if (!map)
		return 0;
	dmap_rcu_read_lock();
	table = dmap_rcu_dereference(map->table);
	count = table ? table->count : 0;
	dmap_rcu_read_unlock();
	return count;
}

/**
 * dmap_range_map_snapshot() - copy up to @max entries in address order.
 * @map: the map.
 * @out: destination (may be NULL when @max is 0).
 * @max: capacity of @out.
 *
 * All entries copied come from one version of the map. Context: takes the
 * read lock itself; never sleeps. Returns the number of entries the map had
 * (may exceed @max) or -EINVAL (NULL map, NULL @out with @max > 0).
 */
long dmap_range_map_snapshot(const struct dmap_range_map *map, struct dmap_range *out, size_t max)
{
	const struct dmap_range_table *table;
	size_t count;

	if (!map || (!out && max))
		return -DMAP_EINVAL;
	dmap_rcu_read_lock();
	table = dmap_rcu_dereference(map->table);
	count = table ? table->count : 0;
	if (count && max)
		dmap_memcpy(out, table->entries, dmap_min(count, max) * sizeof(struct dmap_range));
	dmap_rcu_read_unlock();
	return (long)count;
}
