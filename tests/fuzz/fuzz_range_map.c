// SPDX-License-Identifier: MIT
/*
 * tests/fuzz/fuzz_range_map.c - the RCU range map against a plain model.
 *
 * The range map is what every address lookup in dmap stands on (simulated
 * RAM, the software IOTLB, the P2M, the vhost-user IOTLB), and its edge
 * cases are arithmetic ones: inclusive bounds, ranges that touch 0 or
 * UINT64_MAX, neighbours that share a boundary byte. The input is a program
 * of insert / remove / remove_overlapping / lookup / lookup_next / count /
 * snapshot calls whose addresses are drawn mostly from the edges that matter
 * (0, 1, UINT64_MAX, UINT64_MAX-1, 2^63 and the first/last of live entries
 * plus or minus one) and otherwise at random. After every call the map must
 * agree with a sorted array of the live ranges: same return values
 * (including -EINVAL, -EEXIST, -ENOENT and removal counts), same lookup
 * results, same snapshot.
 *
 * Each inserted entry carries a unique payload; the release callback (run
 * after a grace period, on the environment's RCU thread) must see every
 * removed entry exactly once with its original bounds and value, and after
 * dmap_range_map_destroy() every entry ever inserted must have been released
 * exactly once: nothing leaks, nothing is released twice.
 *
 * The hosted environment is made once per process (it owns an RCU thread);
 * the map is made and destroyed per input.
 */
#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include <dmap/helpers.h>
#include <dmap/hosted.h>
#include <dmap/range_map.h>

#include "fuzz_common.h"

#define MODEL_MAX 128
#define IDS_MAX 512

struct model_range {
	uint64_t first, last, value;
	unsigned int id;
};

struct payload {
	uint64_t first, last, value;
	unsigned int released; /* atomic: the release callback runs on the RCU thread */
};

static struct model_range model[MODEL_MAX];
static unsigned int model_count;
static struct payload payloads[IDS_MAX];
static unsigned int next_id;

static struct dmap_hosted *hosted;
static const struct dmap_env *env;

static void fuzz_log(void *arg, enum dmap_log_level level, const char *message)
{
	(void)arg;
	(void)level;
	FUZZ_CHECK(strlen(message) < 256, "log message of %zu bytes", strlen(message));
}

static void setup(void)
{
	struct dmap_hosted_config config = { .log = fuzz_log };
	int ret;

	if (hosted)
		return;
	ret = dmap_hosted_create(&config, &hosted);
	FUZZ_CHECK(ret == 0, "dmap_hosted_create: %d", ret);
	env = dmap_hosted_env(hosted);
}

static void release(void *cookie, const struct dmap_range *range)
{
	uintptr_t id = (uintptr_t)range->data;
	struct payload *p;

	FUZZ_CHECK(cookie == &payloads, "release got cookie %p", cookie);
	FUZZ_CHECK(id >= 1 && id <= IDS_MAX, "release of an entry with unknown data %p",
		   range->data);
	p = &payloads[id - 1];
	FUZZ_CHECK(
		p->first == range->first && p->last == range->last && p->value == range->value,
		"entry %lu released as [%llx, %llx] value %llx, inserted as [%llx, %llx] value %llx",
		(unsigned long)id, (unsigned long long)range->first,
		(unsigned long long)range->last, (unsigned long long)range->value,
		(unsigned long long)p->first, (unsigned long long)p->last,
		(unsigned long long)p->value);
	FUZZ_CHECK(__atomic_fetch_add(&p->released, 1, __ATOMIC_RELAXED) == 0,
		   "entry %lu [%llx, %llx] released twice", (unsigned long)id,
		   (unsigned long long)range->first, (unsigned long long)range->last);
}

/* Index of the first model entry with last >= @addr. */
static unsigned int model_lower_bound(uint64_t addr)
{
	unsigned int i = 0;

	while (i < model_count && model[i].last < addr)
		i++;
	return i;
}

static uint64_t pick_addr(struct fuzz_input *in)
{
	static const uint64_t edges[] = {
		0,
		1,
		2,
		0xfff,
		0x1000,
		0xffffffff,
		0x100000000ull,
		1ull << 63,
		(1ull << 63) - 1,
		UINT64_MAX - 0x1000,
		UINT64_MAX - 1,
		UINT64_MAX,
	};
	unsigned int choice = fuzz_below(in, 8);

	if (choice < 3 && model_count) {
		const struct model_range *r = &model[fuzz_below(in, model_count)];
		uint64_t base = fuzz_bool(in) ? r->first : r->last;

		return base + (uint64_t)(int64_t)((int)fuzz_below(in, 5) - 2);
	}
	if (choice < 5)
		return FUZZ_PICK(in, edges);
	if (choice < 6)
		return fuzz_u64(in);
	return (uint64_t)fuzz_u16(in)
	       << (fuzz_below(in, 4) * 16); /* clustered, so ranges collide */
}

/* A range [first, last]: sometimes inverted, sometimes the whole space. */
static void pick_range(struct fuzz_input *in, uint64_t *first, uint64_t *last)
{
	uint64_t a = pick_addr(in);

	switch (fuzz_below(in, 6)) {
	case 0:
		*first = a;
		*last = pick_addr(in); /* may be below first: -EINVAL */
		return;
	case 1:
		*first = a;
		*last = a;
		return;
	case 2:
		*first = a;
		*last = UINT64_MAX;
		return;
	case 3:
		*first = 0;
		*last = a;
		return;
	default: {
		uint64_t len = (uint64_t)fuzz_u16(in) << fuzz_below(in, 5);

		*first = a;
		*last = a + len < a ? UINT64_MAX : a + len;
		return;
	}
	}
}

static void check_entry(const struct dmap_range *got, int want, const char *what, uint64_t addr)
{
	if (want < 0) {
		FUZZ_CHECK(!got, "%s(%llx) found [%llx, %llx], the model has none", what,
			   (unsigned long long)addr, (unsigned long long)got->first,
			   (unsigned long long)got->last);
		return;
	}
	FUZZ_CHECK(got, "%s(%llx) found nothing, the model has [%llx, %llx]", what,
		   (unsigned long long)addr, (unsigned long long)model[want].first,
		   (unsigned long long)model[want].last);
	FUZZ_CHECK(got->first == model[want].first && got->last == model[want].last &&
			   got->value == model[want].value &&
			   (uintptr_t)got->data == model[want].id,
		   "%s(%llx) found [%llx, %llx] value %llx, the model has [%llx, %llx] value %llx",
		   what, (unsigned long long)addr, (unsigned long long)got->first,
		   (unsigned long long)got->last, (unsigned long long)got->value,
		   (unsigned long long)model[want].first, (unsigned long long)model[want].last,
		   (unsigned long long)model[want].value);
}

static void check_snapshot(struct dmap_range_map *map, size_t max)
{
	struct dmap_range out[MODEL_MAX + 1];
	long n;

	memset(out, 0xa5, sizeof(out));
	n = dmap_range_map_snapshot(map, max ? out : NULL, max);
	FUZZ_CHECK(n == (long)model_count, "snapshot says %ld entries, the model has %u", n,
		   model_count);
	for (size_t i = 0; i < max && i < model_count; i++)
		FUZZ_CHECK(out[i].first == model[i].first && out[i].last == model[i].last &&
				   out[i].value == model[i].value,
			   "snapshot entry %zu is [%llx, %llx], the model has [%llx, %llx]", i,
			   (unsigned long long)out[i].first, (unsigned long long)out[i].last,
			   (unsigned long long)model[i].first, (unsigned long long)model[i].last);
	/* Nothing written past @max. */
	if (max <= MODEL_MAX) {
		const unsigned char *p = (const unsigned char *)&out[max];

		for (size_t k = 0; k < sizeof(out[0]); k++)
			FUZZ_CHECK(p[k] == 0xa5, "snapshot(max %zu) wrote past max", max);
	}
	FUZZ_CHECK(dmap_range_map_count(map) == model_count, "count %zu, model %u",
		   dmap_range_map_count(map), model_count);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dmap_range_map *map = NULL;
	struct fuzz_input in;
	unsigned int ids;
	int ret;

	setup();
	fuzz_input_init(&in, data, size);
	model_count = 0;
	next_id = 0;
	memset(payloads, 0, sizeof(payloads));
	ret = dmap_range_map_create(env, release, &payloads, &map);
	FUZZ_CHECK(ret == 0 && map, "dmap_range_map_create: %d", ret);

	for (unsigned int step = 0; step < 256 && !fuzz_done(&in); step++) {
		uint64_t first, last, addr;
		unsigned int i, end;

		switch (fuzz_below(&in, 8)) {
		case 0:
		case 1: { /* insert */
			uint64_t value = fuzz_u64(&in);
			int want;

			pick_range(&in, &first, &last);
			i = model_lower_bound(first);
			if (last < first)
				want = -DMAP_EINVAL;
			else if (i < model_count && model[i].first <= last)
				want = -DMAP_EEXIST;
			else if (model_count == MODEL_MAX || next_id == IDS_MAX)
				break; /* the model is full: skip */
			else
				want = 0;
			ret = dmap_range_map_insert(map, first, last, value,
						    want ? NULL : (void *)(uintptr_t)(next_id + 1));
			FUZZ_CHECK(ret == want, "insert [%llx, %llx]: %d, the model says %d",
				   (unsigned long long)first, (unsigned long long)last, ret, want);
			if (ret)
				break;
			memmove(&model[i + 1], &model[i], (model_count - i) * sizeof(model[0]));
			model[i] = (struct model_range){ first, last, value, next_id + 1 };
			payloads[next_id] = (struct payload){ first, last, value, 0 };
			next_id++;
			model_count++;
			break;
		}
		case 2: { /* remove exactly */
			int want;

			if (model_count && fuzz_below(&in, 3)) {
				const struct model_range *r = &model[fuzz_below(&in, model_count)];

				first = r->first;
				last = r->last;
				if (fuzz_below(&in, 4) == 0)
					last += fuzz_bool(&in) ? 1 : -1; /* near miss */
			} else {
				pick_range(&in, &first, &last);
			}
			i = model_lower_bound(first);
			if (last < first)
				want = -DMAP_EINVAL;
			else if (i < model_count && model[i].first == first &&
				 model[i].last == last)
				want = 0;
			else
				want = -DMAP_ENOENT;
			ret = dmap_range_map_remove(map, first, last);
			FUZZ_CHECK(ret == want, "remove [%llx, %llx]: %d, the model says %d",
				   (unsigned long long)first, (unsigned long long)last, ret, want);
			if (!ret) {
				memmove(&model[i], &model[i + 1],
					(model_count - i - 1) * sizeof(model[0]));
				model_count--;
			}
			break;
		}
		case 3: { /* remove everything overlapping */
			int want;

			pick_range(&in, &first, &last);
			i = model_lower_bound(first);
			end = i;
			while (end < model_count && model[end].first <= last)
				end++;
			want = last < first ? -DMAP_EINVAL : (int)(end - i);
			ret = dmap_range_map_remove_overlapping(map, first, last);
			FUZZ_CHECK(ret == want,
				   "remove_overlapping [%llx, %llx]: %d, the model says %d",
				   (unsigned long long)first, (unsigned long long)last, ret, want);
			if (ret > 0) {
				memmove(&model[i], &model[end],
					(model_count - end) * sizeof(model[0]));
				model_count -= end - i;
			}
			break;
		}
		case 4:
		case 5: { /* lookup */
			const struct dmap_range *got;

			addr = pick_addr(&in);
			i = model_lower_bound(addr);
			dmap_rcu_read_lock();
			got = dmap_range_map_lookup(map, addr);
			check_entry(got, i < model_count && model[i].first <= addr ? (int)i : -1,
				    "lookup", addr);
			dmap_rcu_read_unlock();
			break;
		}
		case 6: { /* lookup_next */
			const struct dmap_range *got;

			addr = pick_addr(&in);
			i = model_lower_bound(addr);
			dmap_rcu_read_lock();
			got = dmap_range_map_lookup_next(map, addr);
			check_entry(got, i < model_count ? (int)i : -1, "lookup_next", addr);
			dmap_rcu_read_unlock();
			break;
		}
		default:
			check_snapshot(map, fuzz_below(&in, model_count + 2));
			break;
		}
	}
	check_snapshot(map, model_count);

	/* NULL and invalid arguments are clean errors, never crashes. */
	FUZZ_CHECK(dmap_range_map_insert(NULL, 0, 0, 0, NULL) == -DMAP_EINVAL, "insert(NULL)");
	FUZZ_CHECK(dmap_range_map_remove(NULL, 0, 0) == -DMAP_EINVAL, "remove(NULL)");
	FUZZ_CHECK(dmap_range_map_remove_overlapping(NULL, 0, 0) == -DMAP_EINVAL,
		   "remove_overlapping(NULL)");
	FUZZ_CHECK(dmap_range_map_snapshot(map, NULL, 1) == -DMAP_EINVAL, "snapshot(NULL, 1)");
	FUZZ_CHECK(!dmap_range_map_lookup(NULL, 0) && !dmap_range_map_lookup_next(NULL, 0),
		   "lookup(NULL)");

	/* Destroy releases what is left and waits for pending releases: all exactly once. */
	dmap_range_map_destroy(map);
	ids = next_id;
	for (unsigned int id = 0; id < ids; id++)
		FUZZ_CHECK(__atomic_load_n(&payloads[id].released, __ATOMIC_RELAXED) == 1,
			   "entry %u [%llx, %llx] released %u times after destroy", id + 1,
			   (unsigned long long)payloads[id].first,
			   (unsigned long long)payloads[id].last, payloads[id].released);
	return 0;
}
