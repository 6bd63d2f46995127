// SPDX-License-Identifier: MIT
/*
 * tests/xen/test_p2m.c - the P2M and M2P against a flat reference model,
 * every entry kind, the sharing of missing/identity pages, error paths that
 * must leave the tables unchanged, and lookups racing updates (run it under
 * ThreadSanitizer: -DDMAP_SANITIZE=thread).
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <dmap/xen.h>
#include "test_env.h"

#define INV DMAP_XEN_INVALID_FRAME

/* Our own generator: ThreadSanitizer's rand_r interceptor does not reproduce glibc's sequence. */
static unsigned int next_rand(unsigned int *state)
{
	*state ^= *state << 13;
	*state ^= *state >> 17;
	*state ^= *state << 5;
	return *state >> 1;
}

static struct dmap_test_env t;

static void setup(void)
{
	dmap_test_env_init(&t, 0x100000, 1 << 20, false);
}

static void teardown(void)
{
	dmap_test_env_fini(&t);
}

TestSuite(p2m, .init = setup, .fini = teardown);

static struct dmap_xen_p2m *make_p2m(uint64_t max_pfn, uint64_t max_mfn)
{
	struct dmap_xen_p2m_config cfg = { .max_pfn = max_pfn, .max_mfn = max_mfn };
	struct dmap_xen_p2m *p2m;

	cr_assert_eq(dmap_xen_p2m_create(t.env, &cfg, &p2m), 0);
	return p2m;
}

Test(p2m, empty_is_missing_and_costs_no_pages)
{
	struct dmap_xen_p2m *p2m = make_p2m(0, 0);
	struct dmap_xen_p2m_stats st;
	enum dmap_xen_frame_kind kind;
	uint64_t mfn;

	cr_assert_eq(dmap_xen_p2m_lookup(p2m, 0, &mfn, &kind), -DMAP_ENOENT);
	cr_assert_eq(kind, DMAP_XEN_FRAME_MISSING);
	cr_assert_eq(mfn, INV);
	cr_assert_eq(dmap_xen_p2m_get_raw(p2m, 12345), INV);
	cr_assert_eq(dmap_xen_p2m_lookup(p2m, DMAP_XEN_DEFAULT_FRAMES, NULL, NULL), -DMAP_ERANGE);
	cr_assert_eq(dmap_xen_mfn_to_pfn(p2m, 7), INV);
	cr_assert_eq(dmap_xen_p2m_get_stats(p2m, &st), 0);
	cr_assert_eq(st.leaf_pages, 0);
	cr_assert_eq(st.mid_pages, 0);
	cr_assert_eq(st.max_pfn, DMAP_XEN_DEFAULT_FRAMES);
	/* Linux's 3-level geometry: 512 GiB of guest = one top page (512 pointers). */
	cr_assert_leq(st.bytes, 3 * 4096);
	dmap_xen_p2m_destroy(p2m);
}

Test(p2m, valid_round_trip)
{
	struct dmap_xen_p2m *p2m = make_p2m(0, 0);
	enum dmap_xen_frame_kind kind;
	uint64_t mfn;

	cr_assert_eq(dmap_xen_p2m_set_range(p2m, 100, 4, DMAP_XEN_FRAME_VALID, 9000), 0);
	for (uint64_t i = 0; i < 4; i++) {
		cr_assert_eq(dmap_xen_p2m_lookup(p2m, 100 + i, &mfn, &kind), 0);
		cr_assert_eq(kind, DMAP_XEN_FRAME_VALID);
		cr_assert_eq(mfn, 9000 + i);
		cr_assert_eq(dmap_xen_pfn_to_mfn(p2m, 100 + i), 9000 + i);
		cr_assert_eq(dmap_xen_mfn_to_pfn(p2m, 9000 + i), 100 + i);
		cr_assert_eq(dmap_xen_m2p_get(p2m, 9000 + i), 100 + i);
	}
	/* Remap pfn 101 elsewhere: its old machine frame no longer round-trips. */
	cr_assert_eq(dmap_xen_p2m_set(p2m, 101, DMAP_XEN_FRAME_VALID, 5), 0);
	cr_assert_eq(dmap_xen_mfn_to_pfn(p2m, 9001), INV);
	cr_assert_eq(dmap_xen_m2p_get(p2m, 9001), INV);
	cr_assert_eq(dmap_xen_mfn_to_pfn(p2m, 5), 101);
	dmap_xen_p2m_destroy(p2m);
}

Test(p2m, stale_m2p_fails_round_trip)
{
	struct dmap_xen_p2m *p2m = make_p2m(0, 0);

	cr_assert_eq(dmap_xen_p2m_set(p2m, 10, DMAP_XEN_FRAME_VALID, 20), 0);
	/* The hypervisor says machine frame 30 is pfn 10 (another domain's pfn 10). */
	cr_assert_eq(dmap_xen_m2p_set(p2m, 30, 10), 0);
	cr_assert_eq(dmap_xen_m2p_get(p2m, 30), 10);
	cr_assert_eq(dmap_xen_mfn_to_pfn(p2m, 30), INV);
	cr_assert_eq(dmap_xen_mfn_to_pfn(p2m, 20), 10);
	cr_assert_eq(dmap_xen_m2p_set(p2m, 30, INV), 0);
	cr_assert_eq(dmap_xen_m2p_get(p2m, 30), INV);
	dmap_xen_p2m_destroy(p2m);
}

Test(p2m, identity_frames_shared_and_accepted_by_m2p)
{
	struct dmap_xen_p2m *p2m = make_p2m(0, 0);
	struct dmap_xen_p2m_stats st;
	enum dmap_xen_frame_kind kind;
	uint64_t mfn, hole = 1ull << 18; /* a 1 GiB I/O hole, mid-aligned */

	cr_assert_eq(dmap_xen_p2m_set_range(p2m, hole, 1ull << 18, DMAP_XEN_FRAME_IDENTITY, 0), 0);
	cr_assert_eq(dmap_xen_p2m_get_stats(p2m, &st), 0);
	cr_assert_eq(st.leaf_pages + st.mid_pages, 0,
		     "a whole identity mid must be the shared page");
	cr_assert_eq(dmap_xen_p2m_lookup(p2m, hole + 77, &mfn, &kind), 0);
	cr_assert_eq(kind, DMAP_XEN_FRAME_IDENTITY);
	cr_assert_eq(mfn, hole + 77);
	cr_assert_eq(dmap_xen_p2m_get_raw(p2m, hole + 77), DMAP_XEN_IDENTITY_FRAME(hole + 77));
	/* mfn_to_pfn: no M2P entry, but 1:1 is accepted (Linux's identity fallback). */
	cr_assert_eq(dmap_xen_mfn_to_pfn(p2m, hole + 77), hole + 77);

	/* A partial identity range: one private leaf, with per-entry identity values. */
	cr_assert_eq(dmap_xen_p2m_set_range(p2m, 1000, 10, DMAP_XEN_FRAME_IDENTITY, 0), 0);
	cr_assert_eq(dmap_xen_p2m_get_stats(p2m, &st), 0);
	cr_assert_eq(st.leaf_pages, 1);
	cr_assert_eq(st.mid_pages, 1);
	cr_assert_eq(dmap_xen_p2m_get_raw(p2m, 1005), DMAP_XEN_IDENTITY_FRAME(1005));
	cr_assert_eq(dmap_xen_p2m_get_raw(p2m, 1010), INV);

	/* Punch a RAM frame into the identity hole: copy-on-write of the shared pages. */
	cr_assert_eq(dmap_xen_p2m_set(p2m, hole + 600, DMAP_XEN_FRAME_VALID, 42), 0);
	cr_assert_eq(dmap_xen_p2m_get_raw(p2m, hole + 600), 42);
	cr_assert_eq(dmap_xen_p2m_get_raw(p2m, hole + 601), DMAP_XEN_IDENTITY_FRAME(hole + 601));
	cr_assert_eq(dmap_xen_p2m_get_raw(p2m, hole + 599), DMAP_XEN_IDENTITY_FRAME(hole + 599));
	cr_assert_eq(dmap_xen_mfn_to_pfn(p2m, 42), hole + 600);
	/* That frame is no longer identity: mfn hole+600 does not map back to itself. */
	cr_assert_eq(dmap_xen_mfn_to_pfn(p2m, hole + 600), INV);
	dmap_xen_p2m_destroy(p2m);
}

Test(p2m, foreign_frames)
{
	struct dmap_xen_p2m *p2m = make_p2m(0, 0);
	enum dmap_xen_frame_kind kind;
	uint64_t mfn;

	/* Another domain owns mfn 777 as its pfn 3; we grant-map it at our pfn 50. */
	cr_assert_eq(dmap_xen_m2p_set(p2m, 777, 3), 0);
	cr_assert_eq(dmap_xen_p2m_set(p2m, 50, DMAP_XEN_FRAME_FOREIGN, 777), 0);
	cr_assert_eq(dmap_xen_p2m_get_raw(p2m, 50), DMAP_XEN_FOREIGN_FRAME(777));
	cr_assert_eq(dmap_xen_p2m_lookup(p2m, 50, &mfn, &kind), 0);
	cr_assert_eq(kind, DMAP_XEN_FRAME_FOREIGN);
	cr_assert_eq(mfn, 777);
	cr_assert_eq(dmap_xen_pfn_to_mfn(p2m, 50), 777);
	/* The M2P is the owner's: the round trip rejects it, and it was not overwritten. */
	cr_assert_eq(dmap_xen_m2p_get(p2m, 777), 3);
	cr_assert_eq(dmap_xen_mfn_to_pfn(p2m, 777), INV);
	cr_assert_eq(dmap_xen_foreign_mfn_to_pfn(p2m, 777), 50);
	/* Unmapping the grant forgets the reverse entry. */
	cr_assert_eq(dmap_xen_p2m_set(p2m, 50, DMAP_XEN_FRAME_MISSING, 0), 0);
	cr_assert_eq(dmap_xen_foreign_mfn_to_pfn(p2m, 777), INV);
	cr_assert_eq(dmap_xen_m2p_get(p2m, 777), 3);
	dmap_xen_p2m_destroy(p2m);
}

Test(p2m, holes_give_memory_back)
{
	struct dmap_xen_p2m *p2m = make_p2m(0, 0);
	struct dmap_xen_p2m_stats st;

	cr_assert_eq(dmap_xen_p2m_set_range(p2m, 0, 4096, DMAP_XEN_FRAME_VALID, 1 << 20), 0);
	cr_assert_eq(dmap_xen_p2m_get_stats(p2m, &st), 0);
	cr_assert_eq(st.leaf_pages, 8 + 8, "8 P2M leaves and 8 M2P leaves");
	cr_assert_eq(st.mid_pages, 2);
	/* Balloon out everything: whole leaves collapse back to the shared missing page. */
	cr_assert_eq(dmap_xen_p2m_set_range(p2m, 0, 4096, DMAP_XEN_FRAME_MISSING, 0), 0);
	cr_assert_eq(dmap_xen_p2m_get_stats(p2m, &st), 0);
	cr_assert_eq(st.leaf_pages, 8, "only M2P leaves (holding INVALID) remain");
	for (uint64_t i = 0; i < 4096; i += 97) {
		cr_assert_eq(dmap_xen_p2m_get_raw(p2m, i), INV);
		cr_assert_eq(dmap_xen_mfn_to_pfn(p2m, (1 << 20) + i), INV);
	}
	/* A whole-mid range collapses the mid page too. */
	cr_assert_eq(dmap_xen_p2m_set_range(p2m, 0, 1 << 18, DMAP_XEN_FRAME_MISSING, 0), 0);
	cr_assert_eq(dmap_xen_p2m_get_stats(p2m, &st), 0);
	cr_assert_eq(st.mid_pages, 1, "the M2P's mid is left");
	dmap_xen_p2m_destroy(p2m);
}

Test(p2m, bad_input_is_an_error_and_changes_nothing)
{
	struct dmap_xen_p2m *p2m = make_p2m(1 << 20, 1 << 20);
	struct dmap_xen_p2m_config huge = { .max_pfn = DMAP_XEN_LIMIT_FRAMES + 1 };
	struct dmap_xen_p2m_stats before, after;
	struct dmap_xen_p2m *other;

	cr_assert_eq(dmap_xen_p2m_create(NULL, NULL, &other), -DMAP_EINVAL);
	cr_assert_eq(dmap_xen_p2m_create(t.env, NULL, NULL), -DMAP_EINVAL);
	cr_assert_eq(dmap_xen_p2m_create(t.env, &huge, &other), -DMAP_EINVAL);
	cr_assert_null(other);
	cr_assert(dmap_test_log_has(&t, "max_pfn", NULL));

	cr_assert_eq(dmap_xen_p2m_set(p2m, 5, DMAP_XEN_FRAME_VALID, 500), 0);
	cr_assert_eq(dmap_xen_p2m_get_stats(p2m, &before), 0);

	cr_assert_eq(dmap_xen_p2m_set_range(NULL, 0, 1, DMAP_XEN_FRAME_VALID, 1), -DMAP_EINVAL);
	cr_assert_eq(dmap_xen_p2m_set_range(p2m, 0, 0, DMAP_XEN_FRAME_VALID, 1), -DMAP_EINVAL);
	cr_assert_eq(dmap_xen_p2m_set_range(p2m, 0, 1, (enum dmap_xen_frame_kind)9, 1),
		     -DMAP_EINVAL);
	cr_assert(dmap_test_log_has(&t, "unknown frame kind", NULL));
	/* Unknown pfn: beyond max_pfn, and a range that runs past it. */
	cr_assert_eq(dmap_xen_p2m_set(p2m, 1 << 20, DMAP_XEN_FRAME_VALID, 1), -DMAP_ERANGE);
	cr_assert(dmap_test_log_has(&t, "0x100000", "max_pfn", NULL));
	cr_assert_eq(dmap_xen_p2m_set_range(p2m, (1 << 20) - 2, 4, DMAP_XEN_FRAME_MISSING, 0),
		     -DMAP_ERANGE);
	cr_assert_eq(dmap_xen_p2m_set_range(p2m, 0, UINT64_MAX, DMAP_XEN_FRAME_MISSING, 0),
		     -DMAP_ERANGE);
	cr_assert_eq(dmap_xen_p2m_set(p2m, 6, DMAP_XEN_FRAME_VALID, 1 << 20), -DMAP_ERANGE);
	cr_assert(dmap_test_log_has(&t, "max_mfn", NULL));
	/* Aliasing a machine frame that already backs pfn 5. */
	cr_assert_eq(dmap_xen_p2m_set_range(p2m, 10, 3, DMAP_XEN_FRAME_VALID, 499), -DMAP_EBUSY);
	cr_assert(dmap_test_log_has(&t, "mfn 0x1f4", "already backs pfn 0x5", NULL));
	cr_assert_eq(dmap_xen_m2p_set(p2m, 1 << 20, 1), -DMAP_ERANGE);
	cr_assert_eq(dmap_xen_m2p_set(NULL, 1, 1), -DMAP_EINVAL);
	cr_assert_eq(dmap_xen_p2m_lookup(NULL, 1, NULL, NULL), -DMAP_EINVAL);
	cr_assert_eq(dmap_xen_p2m_get_stats(NULL, &after), -DMAP_EINVAL);

	cr_assert_eq(dmap_xen_p2m_get_stats(p2m, &after), 0);
	cr_assert_eq(after.updates, before.updates);
	cr_assert_eq(after.leaf_pages, before.leaf_pages);
	for (uint64_t pfn = 0; pfn < 16; pfn++)
		cr_assert_eq(dmap_xen_p2m_get_raw(p2m, pfn), pfn == 5 ? 500 : INV);
	cr_assert_eq(dmap_xen_mfn_to_pfn(p2m, 500), 5);
	dmap_xen_p2m_destroy(p2m);
}

/* ---- allocation failure leaves the tables unchanged ------------------- */

static struct dmap_env_ops failing_ops;
static const struct dmap_env *real_env;
static int allocs_left;

static void *failing_alloc(void *cookie, size_t size, size_t align, unsigned int flags)
{
	if (allocs_left == 0)
		return NULL;
	if (allocs_left > 0)
		allocs_left--;
	return real_env->ops->alloc(cookie, size, align, flags);
}

Test(p2m, out_of_memory_changes_nothing)
{
	struct dmap_env env;
	struct dmap_xen_p2m *p2m;
	struct dmap_xen_p2m_stats st;

	real_env = t.env;
	failing_ops = *t.env->ops;
	failing_ops.alloc = failing_alloc;
	env.ops = &failing_ops;
	env.cookie = t.env->cookie;
	allocs_left = -1;
	cr_assert_eq(dmap_xen_p2m_create(&env, NULL, &p2m), 0);
	cr_assert_eq(dmap_xen_p2m_set_range(p2m, 0, 10, DMAP_XEN_FRAME_VALID, 100), 0);
	/* Needs a new P2M leaf + mid and M2P leaf + mid: fail at each step in turn. */
	for (int budget = 0; budget < 4; budget++) {
		allocs_left = budget;
		cr_assert_eq(
			dmap_xen_p2m_set_range(p2m, 1 << 20, 600, DMAP_XEN_FRAME_VALID, 1 << 21),
			-DMAP_ENOMEM);
		allocs_left = -1;
		cr_assert_eq(dmap_xen_p2m_get_stats(p2m, &st), 0);
		cr_assert_eq(st.leaf_pages, 2);
		cr_assert_eq(st.mid_pages, 2);
		cr_assert_eq(dmap_xen_p2m_get_raw(p2m, 1 << 20), INV);
		cr_assert_eq(dmap_xen_p2m_get_raw(p2m, 5), 105);
	}
	cr_assert(dmap_test_log_has(&t, "no memory", NULL));
	allocs_left = -1;
	cr_assert_eq(dmap_xen_p2m_set_range(p2m, 1 << 20, 600, DMAP_XEN_FRAME_VALID, 1 << 21), 0);
	cr_assert_eq(dmap_xen_p2m_get_raw(p2m, (1 << 20) + 599), (1 << 21) + 599);
	dmap_xen_p2m_destroy(p2m);
}

/* ---- model test --------------------------------------------------------- */

#define M_PFNS (3 * (1u << 18) + 1000) /* spans four middle pages */
#define M_MFNS (1u << 19)

struct model {
	uint64_t *p2m; /* raw entries */
	uint64_t *m2p;
	uint64_t *foreign;
};

static uint64_t model_mfn_to_pfn(const struct model *m, uint64_t mfn)
{
	uint64_t pfn = mfn < M_MFNS ? m->m2p[mfn] : INV;

	if (pfn != INV && (pfn >= M_PFNS || m->p2m[pfn] != mfn))
		pfn = INV;
	if (pfn == INV && mfn < M_PFNS && m->p2m[mfn] == DMAP_XEN_IDENTITY_FRAME(mfn))
		pfn = mfn;
	return pfn;
}

static int model_set(struct model *m, uint64_t pfn, uint64_t count, enum dmap_xen_frame_kind kind,
		     uint64_t mfn)
{
	uint64_t *reverse = kind == DMAP_XEN_FRAME_VALID   ? m->m2p :
			    kind == DMAP_XEN_FRAME_FOREIGN ? m->foreign :
							     NULL;

	if (pfn >= M_PFNS || count > M_PFNS - pfn)
		return -DMAP_ERANGE;
	if (reverse && (mfn >= M_MFNS || count > M_MFNS - mfn))
		return -DMAP_ERANGE;
	if (kind == DMAP_XEN_FRAME_VALID) {
		for (uint64_t i = 0; i < count; i++) {
			uint64_t owner = m->m2p[mfn + i];

			if (owner != INV && (owner < pfn || owner >= pfn + count) &&
			    owner < M_PFNS && m->p2m[owner] == mfn + i)
				return -DMAP_EBUSY;
		}
	}
	for (uint64_t i = 0; i < count; i++) {
		uint64_t raw = m->p2m[pfn + i];

		if (raw == INV || (raw & DMAP_XEN_IDENTITY_FRAME_BIT))
			continue;
		if (raw & DMAP_XEN_FOREIGN_FRAME_BIT) {
			uint64_t f = raw & ~DMAP_XEN_FOREIGN_FRAME_BIT;

			if (m->foreign[f] == pfn + i)
				m->foreign[f] = INV;
		} else if (m->m2p[raw] == pfn + i) {
			m->m2p[raw] = INV;
		}
	}
	for (uint64_t i = 0; i < count; i++) {
		switch (kind) {
		case DMAP_XEN_FRAME_MISSING:
			m->p2m[pfn + i] = INV;
			break;
		case DMAP_XEN_FRAME_IDENTITY:
			m->p2m[pfn + i] = DMAP_XEN_IDENTITY_FRAME(pfn + i);
			break;
		case DMAP_XEN_FRAME_VALID:
			m->p2m[pfn + i] = mfn + i;
			break;
		case DMAP_XEN_FRAME_FOREIGN:
			m->p2m[pfn + i] = DMAP_XEN_FOREIGN_FRAME(mfn + i);
			break;
		}
		if (reverse)
			reverse[mfn + i] = pfn + i;
	}
	return 0;
}

static void model_check_all(struct dmap_xen_p2m *p2m, const struct model *m)
{
	for (uint64_t pfn = 0; pfn < M_PFNS; pfn++)
		if (dmap_xen_p2m_get_raw(p2m, pfn) != m->p2m[pfn])
			cr_assert_fail("pfn 0x%lx: 0x%lx, model 0x%lx", (unsigned long)pfn,
				       (unsigned long)dmap_xen_p2m_get_raw(p2m, pfn),
				       (unsigned long)m->p2m[pfn]);
	for (uint64_t mfn = 0; mfn < M_MFNS; mfn++) {
		if (dmap_xen_m2p_get(p2m, mfn) != m->m2p[mfn])
			cr_assert_fail("m2p 0x%lx", (unsigned long)mfn);
		if (dmap_xen_mfn_to_pfn(p2m, mfn) != model_mfn_to_pfn(m, mfn))
			cr_assert_fail("mfn_to_pfn 0x%lx", (unsigned long)mfn);
		uint64_t f = m->foreign[mfn];

		if (f != INV && m->p2m[f] != DMAP_XEN_FOREIGN_FRAME(mfn))
			f = INV;
		if (dmap_xen_foreign_mfn_to_pfn(p2m, mfn) != f)
			cr_assert_fail("foreign 0x%lx", (unsigned long)mfn);
	}
}

Test(p2m, random_updates_match_model, .timeout = 60)
{
	struct dmap_xen_p2m *p2m = make_p2m(M_PFNS, M_MFNS);
	struct model m;
	unsigned int seed = 12345;
	int busy = 0, ok = 0;

	m.p2m = malloc(M_PFNS * sizeof(uint64_t));
	m.m2p = malloc(M_MFNS * sizeof(uint64_t));
	m.foreign = malloc(M_MFNS * sizeof(uint64_t));
	memset(m.p2m, 0xff, M_PFNS * sizeof(uint64_t));
	memset(m.m2p, 0xff, M_MFNS * sizeof(uint64_t));
	memset(m.foreign, 0xff, M_MFNS * sizeof(uint64_t));

	for (int op = 0; op < 2500; op++) {
		unsigned int r = next_rand(&seed);
		enum dmap_xen_frame_kind kind = (enum dmap_xen_frame_kind)(r % 4);
		/* Mostly short ranges, sometimes whole leaves and middle pages. */
		uint64_t count;

		if ((r >> 4) % 8 == 0)
			count = (1u << 18) + (uint64_t)next_rand(&seed) % 2000;
		else if ((r >> 4) % 8 == 1)
			count = 512 * (1 + (uint64_t)next_rand(&seed) % 4);
		else
			count = 1 + (uint64_t)next_rand(&seed) % 700;
		uint64_t pfn = (uint64_t)next_rand(&seed) % (M_PFNS + 64);
		uint64_t mfn = (uint64_t)next_rand(&seed) % (M_MFNS + 64);

		if ((r >> 8) % 4 == 0)
			pfn &= ~511ull; /* leaf-aligned */
		int want = model_set(&m, pfn, count, kind, mfn);
		int got = dmap_xen_p2m_set_range(p2m, pfn, count, kind, mfn);

		cr_assert_eq(got, want, "op %d: set 0x%lx+0x%lx kind %d mfn 0x%lx: %d, model %d",
			     op, (unsigned long)pfn, (unsigned long)count, kind, (unsigned long)mfn,
			     got, want);
		busy += got == -DMAP_EBUSY;
		ok += got == 0;
		/* Spot checks around each update; a full sweep at the end. */
		for (uint64_t i = pfn > 600 ? pfn - 600 : 0; i < pfn + 600 && i < M_PFNS; i += 7)
			cr_assert_eq(dmap_xen_p2m_get_raw(p2m, i), m.p2m[i], "op %d pfn 0x%lx", op,
				     (unsigned long)i);
	}
	model_check_all(p2m, &m);
	cr_assert_gt(busy, 10, "the aliasing refusal was exercised (%d)", busy);
	cr_assert_gt(ok, 1000);
	dmap_xen_p2m_destroy(p2m);
	free(m.p2m);
	free(m.m2p);
	free(m.foreign);
}

/* ---- concurrency ------------------------------------------------------- */

/*
 * Each pfn in the window alternates between two machine frames, identity,
 * missing and foreign; a reader may see any of those for that pfn but
 * nothing else, and mfn_to_pfn may only answer the pfn itself or INVALID.
 * Whole-leaf missing/identity updates retire private leaves under the
 * readers' feet, so use-after-free would show under ASan/TSan.
 */
#define C_PFNS 4096
#define C_BASE_A 0x10000
#define C_BASE_B 0x20000
#define C_BASE_F 0x30000

struct race {
	struct dmap_xen_p2m *p2m;
	volatile bool stop;
	unsigned long lookups;
	bool bad;
};

static bool plausible(uint64_t pfn, uint64_t raw)
{
	return raw == INV || raw == C_BASE_A + pfn || raw == C_BASE_B + pfn ||
	       raw == DMAP_XEN_IDENTITY_FRAME(pfn) || raw == DMAP_XEN_FOREIGN_FRAME(C_BASE_F + pfn);
}

static void *reader(void *arg)
{
	struct race *r = arg;
	unsigned int seed = (unsigned int)(uintptr_t)&seed;
	unsigned long n = 0;

	while (!__atomic_load_n(&r->stop, __ATOMIC_RELAXED)) {
		uint64_t pfn = next_rand(&seed) % C_PFNS;
		uint64_t raw = dmap_xen_p2m_get_raw(r->p2m, pfn);
		uint64_t back = dmap_xen_mfn_to_pfn(r->p2m, C_BASE_A + pfn);

		if (!plausible(pfn, raw) || (back != INV && back != pfn))
			__atomic_store_n(&r->bad, true, __ATOMIC_RELAXED);
		n++;
	}
	__atomic_fetch_add(&r->lookups, n, __ATOMIC_RELAXED);
	return NULL;
}

static void *writer(void *arg)
{
	struct race *r = arg;
	unsigned int seed = 99;

	for (int i = 0; i < 4000; i++) {
		unsigned int x = next_rand(&seed);
		uint64_t pfn = x % C_PFNS, count = 1 + (x >> 12) % 64;

		if (pfn + count > C_PFNS)
			count = C_PFNS - pfn;
		if ((x >> 20) % 8 == 0) {
			pfn &= ~511ull;
			count = 512;
		}
		switch ((x >> 24) % 5) {
		case 0:
			cr_assert_eq(dmap_xen_p2m_set_range(r->p2m, pfn, count,
							    DMAP_XEN_FRAME_VALID, C_BASE_A + pfn),
				     0);
			break;
		case 1:
			cr_assert_eq(dmap_xen_p2m_set_range(r->p2m, pfn, count,
							    DMAP_XEN_FRAME_VALID, C_BASE_B + pfn),
				     0);
			break;
		case 2:
			cr_assert_eq(dmap_xen_p2m_set_range(r->p2m, pfn, count,
							    DMAP_XEN_FRAME_IDENTITY, 0),
				     0);
			break;
		case 3:
			cr_assert_eq(dmap_xen_p2m_set_range(r->p2m, pfn, count,
							    DMAP_XEN_FRAME_MISSING, 0),
				     0);
			break;
		default:
			cr_assert_eq(dmap_xen_p2m_set_range(r->p2m, pfn, count,
							    DMAP_XEN_FRAME_FOREIGN, C_BASE_F + pfn),
				     0);
			break;
		}
	}
	return NULL;
}

Test(p2m, lookups_race_updates, .timeout = 60)
{
	struct race r = { .p2m = make_p2m(1 << 20, 1 << 20) };
	pthread_t readers[2], w;

	for (int i = 0; i < 2; i++)
		cr_assert_eq(pthread_create(&readers[i], NULL, reader, &r), 0);
	cr_assert_eq(pthread_create(&w, NULL, writer, &r), 0);
	pthread_join(w, NULL);
	__atomic_store_n(&r.stop, true, __ATOMIC_RELAXED);
	for (int i = 0; i < 2; i++)
		pthread_join(readers[i], NULL);
	cr_assert_not(r.bad, "a reader saw a value the writer never wrote");
	cr_assert_gt(r.lookups, 1000);
	dmap_xen_p2m_destroy(r.p2m);
}
