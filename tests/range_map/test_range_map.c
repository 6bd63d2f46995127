// SPDX-License-Identifier: MIT
/*
 * tests/range_map/test_range_map.c - the RCU range map against a reference
 * model (a plain array scanned linearly), plus its edge cases: the full
 * 64-bit space, ranges ending at 2^64, adjacency, rejected overlaps that
 * leave the map unchanged, allocation failures, and the exactly-once,
 * after-removal contract of the release callback.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include <dmap/range_map.h>
#include <dmap/helpers.h>

#include "test_env.h"

static struct dmap_test_env t;

/* An environment whose allocator can be told to fail: the hosted one with one hook swapped. */
static struct dmap_env_ops failing_ops;
static struct dmap_env failing_env;
static int alloc_fail_countdown = -1; /* fail when it reaches 0; -1 never */
static unsigned long alloc_failures;

static void *failing_alloc(void *cookie, size_t size, size_t align, unsigned int flags)
{
	if (alloc_fail_countdown >= 0 && alloc_fail_countdown-- == 0) {
		alloc_failures++;
		return NULL;
	}
	return t.env->ops->alloc(cookie, size, align, flags);
}

static void setup(void)
{
	dmap_test_env_init(&t, 0, 0, false);
	failing_ops = *t.env->ops;
	failing_ops.alloc = failing_alloc;
	failing_env.ops = &failing_ops;
	failing_env.cookie = t.env->cookie;
	alloc_fail_countdown = -1;
	alloc_failures = 0;
}

static void teardown(void)
{
	dmap_test_env_fini(&t);
}

TestSuite(range_map, .init = setup, .fini = teardown, .timeout = 60);

/*
 * Payload tokens: the release callback must run exactly once per removed
 * entry, only after the entry was removed, with the entry's own bounds.
 */
struct token {
	uint64_t first, last, value;
	bool inserted; /* the map accepted it */
	bool removed; /* set by the test when the map removed the entry */
	int released; /* incremented by the release callback */
};

static unsigned long releases_total;
static unsigned long
	release_errors; /* checked by the test thread: releases run on the RCU worker */

static void token_release(void *cookie, const struct dmap_range *range)
{
	struct token *token = range->data;

	if (cookie != &releases_total || !token ||
	    !__atomic_load_n(&token->removed, __ATOMIC_ACQUIRE) || range->first != token->first ||
	    range->last != token->last || range->value != token->value)
		__atomic_fetch_add(&release_errors, 1, __ATOMIC_SEQ_CST);
	if (token)
		__atomic_fetch_add(&token->released, 1, __ATOMIC_SEQ_CST);
	__atomic_fetch_add(&releases_total, 1, __ATOMIC_SEQ_CST);
}

static struct token *token_new(uint64_t first, uint64_t last, uint64_t value)
{
	struct token *token = calloc(1, sizeof(*token));

	cr_assert_not_null(token);
	token->first = first;
	token->last = last;
	token->value = value;
	return token;
}

/* ---- the reference model ------------------------------------------------- */

#define MODEL_MAX 4096

struct model {
	size_t count;
	struct dmap_range entries[MODEL_MAX]; /* unsorted */
};

static bool overlaps(uint64_t a_first, uint64_t a_last, uint64_t b_first, uint64_t b_last)
{
	return a_first <= b_last && b_first <= a_last;
}

static const struct dmap_range *model_lookup(const struct model *m, uint64_t addr)
{
	for (size_t i = 0; i < m->count; i++)
		if (m->entries[i].first <= addr && addr <= m->entries[i].last)
			return &m->entries[i];
	return NULL;
}

static const struct dmap_range *model_lookup_next(const struct model *m, uint64_t addr)
{
	const struct dmap_range *best = NULL;

	for (size_t i = 0; i < m->count; i++)
		if (m->entries[i].last >= addr && (!best || m->entries[i].first < best->first))
			best = &m->entries[i];
	return best;
}

/*
 * The release may run as soon as a grace period after the removal, possibly
 * before the remove call returns to us, so entries are marked removed before
 * the call and unmarked if it fails.
 */
static void mark_removed(struct dmap_range *entry, bool removed)
{
	__atomic_store_n(&((struct token *)entry->data)->removed, removed, __ATOMIC_RELEASE);
}

static void model_remove_at(struct model *m, size_t i)
{
	m->entries[i] = m->entries[--m->count];
}

static int compare_first(const void *a, const void *b)
{
	const struct dmap_range *x = a, *y = b;

	return x->first < y->first ? -1 : x->first > y->first;
}

static void assert_same(struct dmap_range_map *map, const struct model *m)
{
	static struct dmap_range sorted[MODEL_MAX], got[MODEL_MAX];
	long n;

	memcpy(sorted, m->entries, m->count * sizeof(sorted[0]));
	qsort(sorted, m->count, sizeof(sorted[0]), compare_first);
	n = dmap_range_map_snapshot(map, got, MODEL_MAX);
	cr_assert_eq(n, (long)m->count);
	cr_assert_eq(dmap_range_map_count(map), m->count);
	for (size_t i = 0; i < m->count; i++) {
		cr_assert_eq(got[i].first, sorted[i].first, "entry %zu", i);
		cr_assert_eq(got[i].last, sorted[i].last, "entry %zu", i);
		cr_assert_eq(got[i].value, sorted[i].value, "entry %zu", i);
		cr_assert_eq(got[i].data, sorted[i].data, "entry %zu", i);
	}
}

/* xorshift64*: deterministic per seed so a failure can be replayed. */
static uint64_t rng_state;

static uint64_t rng(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dull;
}

/*
 * Candidate bounds: a sorted grid with the edges of the 64-bit space, small
 * numbers and random points, so random ranges overlap, touch and nest often.
 */
#define GRID 48
static uint64_t grid[GRID];

static int compare_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static void make_grid(void)
{
	static const uint64_t fixed[] = { 0,
					  1,
					  2,
					  3,
					  0x1000,
					  0x7fffffffffffffffull,
					  0x8000000000000000ull,
					  UINT64_MAX - 2,
					  UINT64_MAX - 1,
					  UINT64_MAX };
	size_t i;

	for (i = 0; i < DMAP_ARRAY_SIZE(fixed); i++)
		grid[i] = fixed[i];
	for (; i < GRID; i++)
		grid[i] = (i & 1) ? rng() : rng() % 0x100000;
	qsort(grid, GRID, sizeof(grid[0]), compare_u64);
}

static uint64_t random_point(void)
{
	uint64_t p = grid[rng() % GRID];

	switch (rng() % 4) {
	case 0:
		return p == UINT64_MAX ? p : p + 1;
	case 1:
		return p == 0 ? p : p - 1;
	default:
		return p;
	}
}

static void random_range(uint64_t *first, uint64_t *last)
{
	uint64_t a = random_point(), b = random_point();

	if (rng() % 16 == 0) { /* occasionally an inverted range: -EINVAL */
		*first = a;
		*last = b;
		return;
	}
	*first = a < b ? a : b;
	*last = a < b ? b : a;
}

static void run_model(uint64_t seed, int operations, bool inject_failures)
{
	static struct model m;
	struct dmap_range_map *map;
	const struct dmap_env *env = inject_failures ? &failing_env : t.env;
	static struct token *all[20000];
	size_t tokens = 0;
	unsigned long expected_releases = 0;

	rng_state = seed;
	make_grid();
	m.count = 0;
	releases_total = 0;
	release_errors = 0;
	cr_assert_eq(dmap_range_map_create(env, token_release, &releases_total, &map), 0);
	for (int op = 0; op < operations; op++) {
		uint64_t first, last, addr;
		int expect, ret;

		if (inject_failures)
			alloc_fail_countdown = (rng() % 8 == 0) ? 0 : -1;
		switch (rng() % 8) {
		case 0:
		case 1:
		case 2: { /* insert */
			struct token *token;
			bool clash = false;

			random_range(&first, &last);
			for (size_t i = 0; i < m.count; i++)
				clash |= overlaps(first, last, m.entries[i].first,
						  m.entries[i].last);
			expect = last < first ? -DMAP_EINVAL : clash ? -DMAP_EEXIST : 0;
			if (expect == 0 && alloc_fail_countdown == 0)
				expect = -DMAP_ENOMEM;
			if (m.count == MODEL_MAX && expect == 0)
				break;
			token = token_new(first, last, rng());
			cr_assert_lt(tokens, DMAP_ARRAY_SIZE(all));
			all[tokens++] = token;
			ret = dmap_range_map_insert(map, first, last, token->value, token);
			cr_assert_eq(ret, expect, "op %d insert [%llx, %llx]: %d, expected %d", op,
				     (unsigned long long)first, (unsigned long long)last, ret,
				     expect);
			if (ret == -DMAP_EEXIST)
				cr_assert(dmap_test_log_has(&t, "overlaps existing entry", NULL));
			token->inserted = ret == 0;
			if (ret == 0)
				m.entries[m.count++] =
					(struct dmap_range){ first, last, token->value, token };
			else
				token->removed =
					true; /* never in the map: must never be released */
			break;
		}
		case 3: { /* remove an existing entry exactly, or a near miss */
			if (m.count && rng() % 4) {
				size_t i = rng() % m.count;

				first = m.entries[i].first;
				last = m.entries[i].last;
				if (rng() % 4 == 0 && last != UINT64_MAX)
					last++; /* not exact: -ENOENT */
			} else {
				random_range(&first, &last);
			}
			expect = last < first ? -DMAP_EINVAL : -DMAP_ENOENT;
			size_t found = m.count;

			for (size_t i = 0; i < m.count && expect != -DMAP_EINVAL; i++)
				if (m.entries[i].first == first && m.entries[i].last == last)
					found = i;
			if (found < m.count) {
				expect =
					alloc_fail_countdown == 0 && m.count > 1 ? -DMAP_ENOMEM : 0;
				mark_removed(&m.entries[found], true);
			}
			ret = dmap_range_map_remove(map, first, last);
			if (ret && found < m.count)
				mark_removed(&m.entries[found], false);
			cr_assert_eq(ret, expect, "op %d remove [%llx, %llx]: %d, expected %d", op,
				     (unsigned long long)first, (unsigned long long)last, ret,
				     expect);
			if (ret == 0) {
				model_remove_at(&m, found);
				expected_releases++;
			}
			break;
		}
		case 4: { /* remove_overlapping */
			int hits = 0;

			random_range(&first, &last);
			for (size_t i = 0; i < m.count; i++) {
				bool hit =
					first <= last && overlaps(first, last, m.entries[i].first,
								  m.entries[i].last);

				hits += hit;
				mark_removed(&m.entries[i], hit);
			}
			expect = last < first ? -DMAP_EINVAL : hits;
			if (hits && expect > 0 && hits < (int)m.count && alloc_fail_countdown == 0)
				expect = -DMAP_ENOMEM;
			ret = dmap_range_map_remove_overlapping(map, first, last);
			if (ret <= 0)
				for (size_t i = 0; i < m.count; i++)
					mark_removed(&m.entries[i], false);
			cr_assert_eq(ret, expect,
				     "op %d remove_overlapping [%llx, %llx]: %d, expected %d", op,
				     (unsigned long long)first, (unsigned long long)last, ret,
				     expect);
			if (ret > 0) {
				for (size_t i = 0; i < m.count;) {
					if (overlaps(first, last, m.entries[i].first,
						     m.entries[i].last))
						model_remove_at(&m, i);
					else
						i++;
				}
				expected_releases += (unsigned long)ret;
			}
			break;
		}
		default: { /* lookups */
			const struct dmap_range *want, *got;

			addr = random_point();
			dmap_rcu_read_lock();
			want = model_lookup(&m, addr);
			got = dmap_range_map_lookup(map, addr);
			cr_assert_eq(!!got, !!want, "op %d lookup %llx", op,
				     (unsigned long long)addr);
			if (got)
				cr_assert_eq(got->data, want->data);
			want = model_lookup_next(&m, addr);
			got = dmap_range_map_lookup_next(map, addr);
			cr_assert_eq(!!got, !!want, "op %d lookup_next %llx", op,
				     (unsigned long long)addr);
			if (got) {
				cr_assert_eq(got->data, want->data);
				cr_assert_eq(got->first, want->first);
				cr_assert_eq(got->value, want->value);
			}
			dmap_rcu_read_unlock();
			break;
		}
		}
		alloc_fail_countdown = -1;
		if (op % 97 == 0)
			assert_same(map, &m);
		if (op % 1009 == 0) {
			/* After a barrier every removal so far has been released, exactly once. */
			t.env->ops->rcu_barrier(t.env->cookie);
			cr_assert_eq(__atomic_load_n(&releases_total, __ATOMIC_SEQ_CST),
				     expected_releases);
			cr_assert_eq(__atomic_load_n(&release_errors, __ATOMIC_SEQ_CST), 0);
		}
	}
	assert_same(map, &m);
	if (inject_failures)
		cr_assert_gt(alloc_failures, 0, "the failure injection never fired");
	/* Destroy releases what is left: mark it removed first. */
	for (size_t i = 0; i < m.count; i++)
		__atomic_store_n(&((struct token *)m.entries[i].data)->removed, true,
				 __ATOMIC_RELEASE);
	expected_releases += m.count;
	dmap_range_map_destroy(map);
	cr_assert_eq(release_errors, 0, "a release ran early or with the wrong entry");
	cr_assert_eq(releases_total, expected_releases);
	for (size_t i = 0; i < tokens; i++) {
		struct token *token = all[i];

		/* Inserted entries were released exactly once, rejected ones never. */
		cr_assert_eq(token->released, token->inserted ? 1 : 0, "token %zu [%llx, %llx]", i,
			     (unsigned long long)token->first, (unsigned long long)token->last);
		free(token);
	}
}

Test(range_map, model_random_operations)
{
	for (uint64_t seed = 1; seed <= 4; seed++)
		run_model(seed * 0x9e3779b97f4a7c15ull, 6000, false);
}

Test(range_map, model_with_allocation_failures)
{
	for (uint64_t seed = 11; seed <= 13; seed++)
		run_model(seed * 0x9e3779b97f4a7c15ull, 4000, true);
}

/* Many small entries: exercises the binary search over a deep table. */
Test(range_map, model_dense)
{
	struct dmap_range_map *map;
	const struct dmap_range *r;

	cr_assert_eq(dmap_range_map_create(t.env, NULL, NULL, &map), 0);
	for (uint64_t i = 0; i < 3000; i++) {
		uint64_t k = (i * 7919) % 3000; /* scattered insertion order */

		cr_assert_eq(dmap_range_map_insert(map, k * 16, k * 16 + 9, k, NULL), 0);
	}
	dmap_rcu_read_lock();
	for (uint64_t a = 0; a < 3000 * 16; a++) {
		r = dmap_range_map_lookup(map, a);
		if (a % 16 <= 9) {
			cr_assert_not_null(r);
			cr_assert_eq(r->value, a / 16);
		} else {
			cr_assert_null(r);
			r = dmap_range_map_lookup_next(map, a);
			if (a / 16 + 1 < 3000)
				cr_assert_eq(r->value, a / 16 + 1);
			else
				cr_assert_null(r);
		}
	}
	dmap_rcu_read_unlock();
	cr_assert_eq(dmap_range_map_remove_overlapping(map, 100, 16 * 20), 15); /* k = 6..20 */
	cr_assert_eq(dmap_range_map_count(map), 3000 - 15);
	dmap_range_map_destroy(map);
}

/*
 * Check every entry's boundaries (first - 1, first, last, last + 1) and the
 * gaps of a map whose entries are k * 64 + [8, 8 + k % 40] for k in @present:
 * the search runs over a key array that the writers keep beside the entries,
 * so this checks that the keys are right after every kind of write.
 */
static void check_every_boundary(struct dmap_range_map *map, const bool *present, uint64_t slots)
{
	const struct dmap_range *r;
	uint64_t next = UINT64_MAX, count = 0; /* next: lowest present slot above k */

	dmap_rcu_read_lock();
	for (uint64_t k = slots; k-- > 0;) {
		uint64_t first = k * 64 + 8, last = first + k % 40;

		/* Past the end of slot k: nothing contains it, the next entry is above. */
		cr_assert_null(dmap_range_map_lookup(map, last + 1));
		r = dmap_range_map_lookup_next(map, last + 1);
		if (next == UINT64_MAX)
			cr_assert_null(r, "lookup_next(%llx)", (unsigned long long)(last + 1));
		else
			cr_assert(r && r->value == next, "lookup_next(%llx)",
				  (unsigned long long)(last + 1));
		cr_assert_null(dmap_range_map_lookup(map, first - 1));
		if (present[k]) {
			count++;
			next = k;
			r = dmap_range_map_lookup(map, first);
			cr_assert(r && r->value == k, "lookup(%llx) at slot %llu",
				  (unsigned long long)first, (unsigned long long)k);
			r = dmap_range_map_lookup(map, last);
			cr_assert(r && r->value == k, "lookup(%llx) at slot %llu",
				  (unsigned long long)last, (unsigned long long)k);
		} else {
			cr_assert_null(dmap_range_map_lookup(map, first));
			cr_assert_null(dmap_range_map_lookup(map, last));
		}
		r = dmap_range_map_lookup_next(map, first - 1);
		if (next == UINT64_MAX)
			cr_assert_null(r, "lookup_next(%llx)", (unsigned long long)(first - 1));
		else
			cr_assert(r && r->value == next, "lookup_next(%llx)",
				  (unsigned long long)(first - 1));
	}
	dmap_rcu_read_unlock();
	cr_assert_eq(dmap_range_map_count(map), count);
}

/* Every table size from 1 to 300 up and down again, with writes at every position. */
Test(range_map, every_size_and_position)
{
	enum { SLOTS = 300 };
	static bool present[SLOTS];
	struct dmap_range_map *map;

	memset(present, 0, sizeof(present));
	cr_assert_eq(dmap_range_map_create(t.env, NULL, NULL, &map), 0);
	for (uint64_t i = 0; i < SLOTS; i++) {
		uint64_t k = (i * 113) % SLOTS; /* scattered: inserts at the front, middle, end */

		cr_assert_eq(dmap_range_map_insert(map, k * 64 + 8, k * 64 + 8 + k % 40, k, NULL),
			     0);
		present[k] = true;
		check_every_boundary(map, present, SLOTS);
	}
	for (uint64_t i = 0; i < SLOTS; i++) {
		uint64_t k = (i * 71) % SLOTS;

		if (!present[k])
			continue;
		if (i % 3 == 0) {
			/* Takes k and, when present, its upper neighbour in one cut. */
			int removed = present[k] + (k + 1 < SLOTS && present[k + 1]);

			cr_assert_eq(dmap_range_map_remove_overlapping(map, k * 64 + 8,
								       (k + 1) * 64 + 8),
				     removed);
			if (k + 1 < SLOTS)
				present[k + 1] = false;
		} else {
			cr_assert_eq(dmap_range_map_remove(map, k * 64 + 8, k * 64 + 8 + k % 40),
				     0);
		}
		present[k] = false;
		check_every_boundary(map, present, SLOTS);
	}
	cr_assert_eq(dmap_range_map_count(map), 0);
	dmap_range_map_destroy(map);
}

/* ---- edge cases --------------------------------------------------------- */

Test(range_map, whole_64bit_space)
{
	struct dmap_range_map *map;
	const struct dmap_range *r;
	struct token *token = token_new(0, UINT64_MAX, 42);

	releases_total = 0;
	cr_assert_eq(dmap_range_map_create(t.env, token_release, &releases_total, &map), 0);
	cr_assert_eq(dmap_range_map_insert(map, 0, UINT64_MAX, 42, token), 0);
	dmap_rcu_read_lock();
	r = dmap_range_map_lookup(map, 0);
	cr_assert(r && r->value == 42);
	cr_assert_eq(dmap_range_map_lookup(map, UINT64_MAX), r);
	cr_assert_eq(dmap_range_map_lookup(map, 0x8000000000000000ull), r);
	cr_assert_eq(dmap_range_map_lookup_next(map, UINT64_MAX), r);
	dmap_rcu_read_unlock();
	cr_assert_eq(dmap_range_map_insert(map, 5, 5, 0, NULL), -DMAP_EEXIST);
	cr_assert_eq(dmap_range_map_insert(map, UINT64_MAX, UINT64_MAX, 0, NULL), -DMAP_EEXIST);
	cr_assert(dmap_test_log_has(&t, "[ffffffffffffffff, ffffffffffffffff]",
				    "[0, ffffffffffffffff]", NULL));
	cr_assert_eq(dmap_range_map_remove(map, 0, UINT64_MAX - 1), -DMAP_ENOENT);
	token->removed = true;
	cr_assert_eq(dmap_range_map_remove(map, 0, UINT64_MAX), 0);
	cr_assert_eq(dmap_range_map_count(map), 0);
	dmap_rcu_read_lock();
	cr_assert_null(dmap_range_map_lookup(map, 7));
	cr_assert_null(dmap_range_map_lookup_next(map, 0));
	dmap_rcu_read_unlock();
	t.env->ops->rcu_barrier(t.env->cookie);
	cr_assert_eq(token->released, 1);
	dmap_range_map_destroy(map);
	cr_assert_eq(releases_total, 1);
	cr_assert_eq(release_errors, 0);
	free(token);
}

Test(range_map, ranges_touching_2_pow_64_and_adjacent)
{
	struct dmap_range_map *map;
	const struct dmap_range *r;
	struct dmap_range snap[8];

	cr_assert_eq(dmap_range_map_create(t.env, NULL, NULL, &map), 0);
	/* [2^64 - 4096, 2^64) and [2^64 - 8192, 2^64 - 4096): adjacent, the top one ends at 2^64. */
	cr_assert_eq(dmap_range_map_insert(map, UINT64_MAX - 4095, UINT64_MAX, 1, NULL), 0);
	cr_assert_eq(dmap_range_map_insert(map, UINT64_MAX - 8191, UINT64_MAX - 4096, 2, NULL), 0);
	cr_assert_eq(dmap_range_map_insert(map, 0, 0, 3, NULL), 0);
	cr_assert_eq(dmap_range_map_insert(map, 1, 0xfff, 4, NULL), 0);
	cr_assert_eq(dmap_range_map_insert(map, UINT64_MAX, UINT64_MAX, 5, NULL), -DMAP_EEXIST);
	cr_assert_eq(dmap_range_map_insert(map, 0xfff, 0x1000, 5, NULL), -DMAP_EEXIST);
	cr_assert_eq(dmap_range_map_count(map), 4);

	dmap_rcu_read_lock();
	cr_assert_eq(dmap_range_map_lookup(map, UINT64_MAX)->value, 1);
	cr_assert_eq(dmap_range_map_lookup(map, UINT64_MAX - 4095)->value, 1);
	cr_assert_eq(dmap_range_map_lookup(map, UINT64_MAX - 4096)->value, 2);
	cr_assert_eq(dmap_range_map_lookup(map, 0)->value, 3);
	cr_assert_eq(dmap_range_map_lookup(map, 1)->value, 4);
	cr_assert_null(dmap_range_map_lookup(map, 0x1000));
	cr_assert_null(dmap_range_map_lookup(map, UINT64_MAX - 8192));
	r = dmap_range_map_lookup_next(map, 0x1000);
	cr_assert_eq(r->value, 2);
	/* Walking with last + 1 stops at the entry whose last is UINT64_MAX. */
	int walked = 0;

	for (r = dmap_range_map_lookup_next(map, 0); r;
	     r = dmap_range_map_lookup_next(map, r->last + 1)) {
		walked++;
		if (r->last == UINT64_MAX)
			break;
	}
	cr_assert_eq(walked, 4);
	dmap_rcu_read_unlock();

	cr_assert_eq(dmap_range_map_snapshot(map, snap, 2), 4);
	cr_assert_eq(snap[0].value, 3);
	cr_assert_eq(snap[1].value, 4);
	cr_assert_eq(dmap_range_map_snapshot(map, NULL, 0), 4);
	cr_assert_eq(dmap_range_map_snapshot(map, NULL, 1), -DMAP_EINVAL);
	cr_assert_eq(dmap_range_map_snapshot(NULL, snap, 8), -DMAP_EINVAL);

	/* remove_overlapping at the very top and at the very bottom. */
	cr_assert_eq(dmap_range_map_remove_overlapping(map, UINT64_MAX, UINT64_MAX), 1);
	cr_assert_eq(dmap_range_map_remove_overlapping(map, 0, 1), 2);
	cr_assert_eq(dmap_range_map_remove_overlapping(map, 0, 1), 0);
	cr_assert_eq(dmap_range_map_remove_overlapping(map, 0, UINT64_MAX), 1);
	cr_assert_eq(dmap_range_map_count(map), 0);
	cr_assert_eq(dmap_range_map_remove_overlapping(map, 0, UINT64_MAX), 0);
	dmap_range_map_destroy(map);
}

Test(range_map, overlap_rejection_leaves_map_unchanged)
{
	struct dmap_range_map *map;
	struct dmap_range before[4], after[4];

	cr_assert_eq(dmap_range_map_create(t.env, NULL, NULL, &map), 0);
	cr_assert_eq(dmap_range_map_insert(map, 0x1000, 0x1fff, 1, NULL), 0);
	cr_assert_eq(dmap_range_map_insert(map, 0x3000, 0x3fff, 2, NULL), 0);
	cr_assert_eq(dmap_range_map_snapshot(map, before, 4), 2);
	dmap_test_log_clear(&t);
	/* Spans the gap and both neighbours; touches only the first; contains the second. */
	cr_assert_eq(dmap_range_map_insert(map, 0x1800, 0x3800, 9, NULL), -DMAP_EEXIST);
	cr_assert(dmap_test_log_has(&t, "[1800, 3800]", "[1000, 1fff]", NULL));
	cr_assert_eq(dmap_range_map_insert(map, 0x1fff, 0x2000, 9, NULL), -DMAP_EEXIST);
	cr_assert_eq(dmap_range_map_insert(map, 0x2fff, 0x4000, 9, NULL), -DMAP_EEXIST);
	cr_assert(dmap_test_log_has(&t, "[2fff, 4000]", "[3000, 3fff]", NULL));
	cr_assert_eq(dmap_range_map_insert(map, 0x3400, 0x3400, 9, NULL), -DMAP_EEXIST);
	cr_assert_eq(t.warnings, 4);
	cr_assert_eq(dmap_range_map_snapshot(map, after, 4), 2);
	cr_assert_eq(memcmp(before, after, sizeof(struct dmap_range) * 2), 0);
	/* The gap itself is free. */
	cr_assert_eq(dmap_range_map_insert(map, 0x2000, 0x2fff, 3, NULL), 0);
	dmap_range_map_destroy(map);
}

Test(range_map, invalid_arguments_and_missing_entries)
{
	struct dmap_range_map *map = (void *)1;
	static struct dmap_env_ops no_call_rcu;
	struct dmap_env env_without_rcu;

	cr_assert_eq(dmap_range_map_create(NULL, NULL, NULL, &map), -DMAP_EINVAL);
	cr_assert_null(map);
	cr_assert_eq(dmap_range_map_create(t.env, NULL, NULL, NULL), -DMAP_EINVAL);
	no_call_rcu = *t.env->ops;
	no_call_rcu.call_rcu = NULL;
	env_without_rcu.ops = &no_call_rcu;
	env_without_rcu.cookie = t.env->cookie;
	cr_assert_eq(dmap_range_map_create(&env_without_rcu, NULL, NULL, &map), -DMAP_EINVAL);

	cr_assert_eq(dmap_range_map_insert(NULL, 0, 1, 0, NULL), -DMAP_EINVAL);
	cr_assert_eq(dmap_range_map_remove(NULL, 0, 1), -DMAP_EINVAL);
	cr_assert_eq(dmap_range_map_remove_overlapping(NULL, 0, 1), -DMAP_EINVAL);
	cr_assert_null(dmap_range_map_lookup(NULL, 0));
	cr_assert_null(dmap_range_map_lookup_next(NULL, 0));
	cr_assert_eq(dmap_range_map_count(NULL), 0);
	dmap_range_map_destroy(NULL);

	cr_assert_eq(dmap_range_map_create(t.env, NULL, NULL, &map), 0);
	cr_assert_eq(dmap_range_map_insert(map, 10, 9, 0, NULL), -DMAP_EINVAL);
	cr_assert(dmap_test_log_has(&t, "[a, 9]", "last below first", NULL));
	cr_assert_eq(dmap_range_map_remove(map, 10, 9), -DMAP_EINVAL);
	cr_assert_eq(dmap_range_map_remove_overlapping(map, 10, 9), -DMAP_EINVAL);
	cr_assert_eq(dmap_range_map_remove(map, 0, 9), -DMAP_ENOENT, "empty map");
	cr_assert_eq(dmap_range_map_insert(map, 0x100, 0x1ff, 0, NULL), 0);
	cr_assert_eq(dmap_range_map_remove(map, 0x100, 0x1fe), -DMAP_ENOENT);
	cr_assert_eq(dmap_range_map_remove(map, 0x101, 0x1ff), -DMAP_ENOENT);
	cr_assert_eq(dmap_range_map_remove(map, 0x200, 0x2ff), -DMAP_ENOENT);
	cr_assert_eq(dmap_range_map_count(map), 1);
	cr_assert_eq(dmap_range_map_remove(map, 0x100, 0x1ff), 0);
	dmap_range_map_destroy(map);
}

Test(range_map, allocation_failure_leaves_map_unchanged)
{
	struct dmap_range_map *map;
	struct dmap_range snap[4];

	alloc_fail_countdown = 0;
	cr_assert_eq(dmap_range_map_create(&failing_env, NULL, NULL, &map), -DMAP_ENOMEM);
	cr_assert_eq(dmap_range_map_create(&failing_env, NULL, NULL, &map), 0);
	cr_assert_eq(dmap_range_map_insert(map, 0, 9, 1, NULL), 0);
	cr_assert_eq(dmap_range_map_insert(map, 20, 29, 2, NULL), 0);
	alloc_fail_countdown = 0;
	cr_assert_eq(dmap_range_map_insert(map, 10, 19, 3, NULL), -DMAP_ENOMEM);
	cr_assert(dmap_test_log_has(&t, "out of memory inserting [a, 13]", NULL));
	alloc_fail_countdown = 0;
	cr_assert_eq(dmap_range_map_remove(map, 0, 9), -DMAP_ENOMEM);
	alloc_fail_countdown = 0;
	cr_assert_eq(dmap_range_map_remove_overlapping(map, 0, 9), -DMAP_ENOMEM);
	cr_assert_eq(dmap_range_map_snapshot(map, snap, 4), 2);
	cr_assert_eq(snap[0].value, 1);
	cr_assert_eq(snap[1].value, 2);
	/* Removing every entry needs no allocation: the empty map is a NULL table. */
	alloc_fail_countdown = 0;
	cr_assert_eq(dmap_range_map_remove_overlapping(map, 0, UINT64_MAX), 2);
	alloc_fail_countdown = -1;
	dmap_range_map_destroy(map);
}

Test(range_map, destroy_releases_everything_and_waits)
{
	struct dmap_range_map *map;
	struct token *tokens[100];

	releases_total = 0;
	cr_assert_eq(dmap_range_map_create(t.env, token_release, &releases_total, &map), 0);
	for (int i = 0; i < 100; i++) {
		tokens[i] = token_new((uint64_t)i << 20, ((uint64_t)i << 20) + 0xfffff, i);
		cr_assert_eq(
			dmap_range_map_insert(map, tokens[i]->first, tokens[i]->last, i, tokens[i]),
			0);
	}
	/* Half removed (pending grace periods), half left for destroy. */
	for (int i = 0; i < 50; i++) {
		tokens[i]->removed = true;
		cr_assert_eq(dmap_range_map_remove(map, tokens[i]->first, tokens[i]->last), 0);
	}
	for (int i = 50; i < 100; i++)
		tokens[i]->removed = true;
	dmap_range_map_destroy(map);
	cr_assert_eq(releases_total, 100);
	cr_assert_eq(release_errors, 0);
	for (int i = 0; i < 100; i++) {
		cr_assert_eq(tokens[i]->released, 1);
		free(tokens[i]);
	}
}
