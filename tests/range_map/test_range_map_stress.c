// SPDX-License-Identifier: MIT
/*
 * tests/range_map/test_range_map_stress.c - two readers look up in a tight
 * loop while a writer inserts and removes, for about a second.
 *
 * Every entry's value is first ^ MAGIC and its data points at a payload
 * that repeats the bounds; readers check both for everything they find. The
 * release callback poisons and frees the payload after the grace period, so
 * a reader that could still see a released entry reads poison (caught here)
 * or freed memory (caught by AddressSanitizer); ThreadSanitizer checks the
 * publication and the grace-period ordering. Ranges include the very top of
 * the 64-bit space (last = UINT64_MAX) and address 0.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <criterion/criterion.h>

#include <dmap/range_map.h>
#include <dmap/helpers.h>

#include "test_env.h"

#define MAGIC 0x5eed5eed5eed5eedull
#define SLOTS 64
#define SLOT_SHIFT 58 /* 64 slots of 2^58 bytes cover the whole space */

struct payload {
	uint64_t magic;
	uint64_t first;
	uint64_t last;
	char pad[40];
};

static struct dmap_test_env t;
static struct dmap_range_map *map;
static int stop;
static unsigned long inserted, released, failures;

static void payload_release(void *cookie, const struct dmap_range *range)
{
	struct payload *payload = range->data;

	(void)cookie;
	if (payload->magic != MAGIC || payload->first != range->first)
		__atomic_fetch_add(&failures, 1, __ATOMIC_RELAXED);
	memset(payload, 0xdd, sizeof(*payload));
	free(payload);
	__atomic_fetch_add(&released, 1, __ATOMIC_RELAXED);
}

static uint64_t xorshift(uint64_t *state)
{
	*state ^= *state >> 12;
	*state ^= *state << 25;
	*state ^= *state >> 27;
	return *state * 0x2545f4914f6cdd1dull;
}

struct reader_stats {
	uint64_t seed;
	unsigned long lookups, hits, bad;
};

static void *reader(void *arg)
{
	struct reader_stats *stats = arg;
	uint64_t state = stats->seed;

	while (!__atomic_load_n(&stop, __ATOMIC_RELAXED)) {
		dmap_rcu_read_lock();
		for (int i = 0; i < 16; i++) {
			uint64_t addr = xorshift(&state);
			const struct dmap_range *r;
			const struct payload *p;

			if (i == 0)
				addr = 0;
			else if (i == 1)
				addr = UINT64_MAX;
			r = dmap_range_map_lookup(map, addr);
			stats->lookups++;
			if (r) {
				p = r->data;
				stats->hits++;
				if (r->first > addr || r->last < addr ||
				    r->value != (r->first ^ MAGIC) || p->magic != MAGIC ||
				    p->first != r->first || p->last != r->last)
					stats->bad++;
			}
			r = dmap_range_map_lookup_next(map, addr);
			if (r) {
				p = r->data;
				if (r->last < addr || r->value != (r->first ^ MAGIC) ||
				    p->magic != MAGIC || p->last != r->last)
					stats->bad++;
			}
		}
		dmap_rcu_read_unlock();
	}
	return NULL;
}

static void *writer(void *arg)
{
	uint64_t state = 0x1234567887654321ull;
	bool occupied[SLOTS] = { false };
	uint64_t first[SLOTS], last[SLOTS];
	unsigned long *ops = arg;

	while (!__atomic_load_n(&stop, __ATOMIC_RELAXED)) {
		unsigned int slot = (unsigned int)(xorshift(&state) % SLOTS);
		uint64_t base = (uint64_t)slot << SLOT_SHIFT;
		uint64_t slot_last = base + ((1ull << SLOT_SHIFT) - 1);

		if (occupied[slot]) {
			int ret;

			if (xorshift(&state) & 1)
				ret = dmap_range_map_remove(map, first[slot], last[slot]);
			else
				ret = dmap_range_map_remove_overlapping(map, base, slot_last) == 1 ?
					      0 :
					      -1;
			if (ret)
				__atomic_fetch_add(&failures, 1, __ATOMIC_RELAXED);
			occupied[slot] = false;
		} else {
			struct payload *p = malloc(sizeof(*p));
			uint64_t r = xorshift(&state);

			switch (r % 4) {
			case 0: /* the whole slot: slot 0 starts at 0, slot 63 ends at 2^64 */
				first[slot] = base;
				last[slot] = slot_last;
				break;
			case 1: /* a tail ending at the slot's end */
				first[slot] = base + (xorshift(&state) >> (64 - SLOT_SHIFT));
				last[slot] = slot_last;
				break;
			default:
				first[slot] = base + (xorshift(&state) >> (65 - SLOT_SHIFT));
				last[slot] = first[slot] + (xorshift(&state) >> (65 - SLOT_SHIFT));
				break;
			}
			p->magic = MAGIC;
			p->first = first[slot];
			p->last = last[slot];
			if (dmap_range_map_insert(map, first[slot], last[slot], first[slot] ^ MAGIC,
						  p)) {
				free(p);
				__atomic_fetch_add(&failures, 1, __ATOMIC_RELAXED);
			} else {
				__atomic_fetch_add(&inserted, 1, __ATOMIC_RELAXED);
				occupied[slot] = true;
			}
		}
		(*ops)++;
	}
	return NULL;
}

Test(range_map_stress, readers_and_writer, .timeout = 90)
{
	struct reader_stats stats[2] = { { .seed = 0xabcdef12345ull }, { .seed = 0x13572468ull } };
	pthread_t readers[2], writer_thread;
	unsigned long writes = 0;
	struct timespec duration = { .tv_sec = 1, .tv_nsec = 200000000 };

	dmap_test_env_init(&t, 0, 0, false);
	cr_assert_eq(dmap_range_map_create(t.env, payload_release, NULL, &map), 0);
	for (int i = 0; i < 2; i++)
		cr_assert_eq(pthread_create(&readers[i], NULL, reader, &stats[i]), 0);
	cr_assert_eq(pthread_create(&writer_thread, NULL, writer, &writes), 0);
	nanosleep(&duration, NULL);
	__atomic_store_n(&stop, 1, __ATOMIC_RELAXED);
	for (int i = 0; i < 2; i++)
		pthread_join(readers[i], NULL);
	pthread_join(writer_thread, NULL);
	dmap_range_map_destroy(map);

	cr_log_info("writes %lu, lookups %lu + %lu, hits %lu + %lu", writes, stats[0].lookups,
		    stats[1].lookups, stats[0].hits, stats[1].hits);
	cr_assert_eq(stats[0].bad + stats[1].bad, 0, "readers saw inconsistent entries");
	cr_assert_eq(failures, 0, "writer or release saw errors");
	cr_assert_gt(writes, 100, "the writer barely ran");
	cr_assert_gt(stats[0].hits + stats[1].hits, 100, "the readers barely found anything");
	cr_assert_eq(released, inserted, "every inserted entry is released exactly once");
	dmap_test_env_fini(&t);
}
