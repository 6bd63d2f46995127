// SPDX-License-Identifier: MIT
/*
 * core/env/hosted/xen_guest.c - a simulated Xen PV guest: machine memory, a
 * pseudo-physical space scattered across it, the P2M/M2P and XENMEM_exchange.
 *
 * Why build the guest's CPU view out of real page mappings. The Xen backend
 * works in two address spaces at once: guest pseudo-physical addresses (what
 * the driver maps, what bounce copies read) and machine addresses (what the
 * device uses). A simulation that translated both through lookup tables
 * would be checking dmap against itself. Instead machine memory is one
 * shared-memory file, and the guest's pseudo-physical space is an area of
 * the host's address space in which page N is an mmap of the machine frame
 * the P2M gives for pfn N: the same thing a PV kernel's page tables do with
 * its linear map. A CPU store through the guest view therefore lands in a
 * machine frame chosen by the P2M, a "device" store at a machine address
 * lands in that frame, and the two agree only if dmap translated correctly.
 * Pseudo-physically contiguous memory is virtually contiguous here as it is
 * in the kernel, so the hosted environment's ordinary RAM regions (physical
 * base = guest pseudo-physical address, host pointer = guest view) give the
 * environment's phys_to_virt/virt_to_phys, dmap_map_single() and the bounce
 * backend's copies the guest's view without knowing Xen exists.
 *
 * Why the guest's RAM sits in two zones. Frames are shuffled across a zone
 * at the bottom of each bank (below and above 4 GiB), so almost every pair of
 * neighbouring guest frames is machine-discontiguous and half of them are out
 * of a 32-bit device's reach; the rest of each bank stays free so that the
 * simulated XENMEM_exchange finds aligned contiguous extents, as a real
 * hypervisor with free memory does. A uniformly random spread over all of
 * machine memory would make every exchange fail, which tests nothing.
 *
 * The hypervisor's state (who owns each machine frame) sits under one mutex:
 * it changes at creation, on exchanges and on test-driven remaps only.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <dmap/helpers.h>
#include <dmap/hosted_xen.h>

#define XPAGE 4096ull
#define XSHIFT 12
#define XEN_GUEST_MAX_REGIONS 64

enum xen_owner {
	XEN_FREE = 0,
	XEN_GUEST, /* backs one of this guest's VALID frames */
	XEN_OTHER, /* another domain's frame (grant-mapped foreign frames) */
	XEN_RESERVED, /* I/O space behind an identity range */
};

struct dmap_hosted_xen {
	struct dmap_hosted *hosted;
	const struct dmap_env *env;
	struct dmap_xen_p2m *p2m;
	int memfd;
	uint64_t low, high; /* frames per bank */
	uint8_t *machine; /* whole file: low bank, then high bank */
	uint8_t *view; /* guest pseudo-physical space */
	uint64_t guest_frames;
	uint8_t *owner; /* per machine frame index */
	pthread_mutex_t lock;
	unsigned int fail_next;
	unsigned int fail_after_ok; /* successes to allow before fail_next applies */
	uint64_t rng;
	uint64_t exchanges, exchange_failures, releases;
	dmap_phys_t regions[XEN_GUEST_MAX_REGIONS];
	unsigned int nr_regions;
};

static const struct dmap_hosted_xen_range xen_default_ranges[] = {
	{ .pfn = 0xa0, .count = 0x60, .kind = DMAP_XEN_FRAME_IDENTITY },
	{ .pfn = 0, .count = 128, .kind = DMAP_XEN_FRAME_MISSING }, /* pfn set at create */
	{ .pfn = 0, .count = 64, .kind = DMAP_XEN_FRAME_FOREIGN }, /* pfn set at create */
};

static uint64_t xen_rand(struct dmap_hosted_xen *g)
{
	/* xorshift64*: reproducible from the seed, good enough to shuffle. */
	g->rng ^= g->rng >> 12;
	g->rng ^= g->rng << 25;
	g->rng ^= g->rng >> 27;
	return g->rng * 2685821657736338717ull;
}

/* Machine frame number <-> index into the file; INVALID when not in a bank. */
static uint64_t xen_mfn_index(const struct dmap_hosted_xen *g, uint64_t mfn)
{
	if (mfn < g->low)
		return mfn;
	if (mfn >= DMAP_HOSTED_XEN_HIGH_MFN && mfn - DMAP_HOSTED_XEN_HIGH_MFN < g->high)
		return g->low + (mfn - DMAP_HOSTED_XEN_HIGH_MFN);
	return DMAP_XEN_INVALID_FRAME;
}

static uint64_t xen_index_mfn(const struct dmap_hosted_xen *g, uint64_t index)
{
	return index < g->low ? index : DMAP_HOSTED_XEN_HIGH_MFN + (index - g->low);
}

/* Point guest pages [pfn, pfn+count) at machine frames [mfn, mfn+count) (one bank). */
static int xen_map_view(struct dmap_hosted_xen *g, uint64_t pfn, uint64_t count, uint64_t mfn)
{
	uint64_t index = xen_mfn_index(g, mfn);
	void *p;

	p = mmap(g->view + (pfn << XSHIFT), count << XSHIFT, PROT_READ | PROT_WRITE,
		 MAP_SHARED | MAP_FIXED, g->memfd, (off_t)(index << XSHIFT));
	return p == MAP_FAILED ? -errno : 0;
}

const struct dmap_xen_exchange_ops *dmap_hosted_xen_exchange_ops(void);

struct dmap_xen_p2m *dmap_hosted_xen_p2m(struct dmap_hosted_xen *g)
{
	return g ? g->p2m : NULL;
}

static int xen_register(struct dmap_hosted_xen *g, uint64_t pfn, uint64_t count, bool pool)
{
	int ret;

	if (g->nr_regions == XEN_GUEST_MAX_REGIONS) {
		dmap_log(g->env, DMAP_LOG_ERR, "xen guest: more than %d RAM runs",
			 XEN_GUEST_MAX_REGIONS);
		return -EINVAL;
	}
	ret = dmap_hosted_mem_add_external(g->hosted, pfn << XSHIFT, count << XSHIFT,
					   pool ? DMAP_HOSTED_MEM_POOL : 0,
					   g->view + (pfn << XSHIFT));
	if (!ret)
		g->regions[g->nr_regions++] = pfn << XSHIFT;
	return ret;
}

void dmap_hosted_xen_destroy(struct dmap_hosted_xen *g)
{
	unsigned int i;

	if (!g)
		return;
	for (i = 0; i < g->nr_regions; i++)
		dmap_hosted_mem_remove(g->hosted, g->regions[i]);
	if (g->nr_regions)
		g->env->ops->synchronize_rcu(g->env->cookie);
	dmap_xen_p2m_destroy(g->p2m);
	if (g->view)
		munmap(g->view, g->guest_frames << XSHIFT);
	if (g->machine)
		munmap(g->machine, (g->low + g->high) << XSHIFT);
	if (g->memfd >= 0)
		close(g->memfd);
	free(g->owner);
	pthread_mutex_destroy(&g->lock);
	free(g);
}

int dmap_hosted_xen_create(struct dmap_hosted *hosted, const struct dmap_hosted_xen_config *config,
			   struct dmap_hosted_xen **out)
{
	struct dmap_hosted_xen_config cfg = { 0 };
	struct dmap_hosted_xen_range defaults[DMAP_ARRAY_SIZE(xen_default_ranges)];
	const struct dmap_hosted_xen_range *ranges;
	struct dmap_hosted_xen *g;
	uint8_t *kind = NULL;
	uint64_t *frames = NULL;
	uint64_t nr_frames = 0, i, pfn, other_pfn = 0x40000;
	size_t nr_ranges, r;
	int ret = -ENOMEM;

	if (out)
		*out = NULL;
	if (!hosted || !out)
		return -EINVAL;
	if (config)
		cfg = *config;
	if (!cfg.guest_frames)
		cfg.guest_frames = 4096;
	if (!cfg.low_machine_frames)
		cfg.low_machine_frames = 8192;
	if (!cfg.high_machine_frames)
		cfg.high_machine_frames = 8192;

	g = calloc(1, sizeof(*g));
	if (!g)
		return -ENOMEM;
	g->hosted = hosted;
	g->env = dmap_hosted_env(hosted);
	g->memfd = -1;
	g->low = cfg.low_machine_frames;
	g->high = cfg.high_machine_frames;
	g->guest_frames = cfg.guest_frames;
	g->rng = cfg.seed ? cfg.seed : 0x9e3779b97f4a7c15ull;
	pthread_mutex_init(&g->lock, NULL);
	if (g->low > DMAP_HOSTED_XEN_HIGH_MFN || g->high > (1ull << 24) ||
	    g->guest_frames > (1ull << 24) || g->guest_frames > g->low + g->high) {
		dmap_log(
			g->env, DMAP_LOG_ERR,
			"xen guest: bad sizes: %llu guest frames, %llu low and %llu high machine frames",
			(unsigned long long)g->guest_frames, (unsigned long long)g->low,
			(unsigned long long)g->high);
		ret = -EINVAL;
		goto fail;
	}

	if (cfg.plain) {
		ranges = NULL;
		nr_ranges = 0;
	} else if (cfg.nr_ranges) {
		ranges = cfg.ranges;
		nr_ranges = cfg.nr_ranges;
	} else {
		memcpy(defaults, xen_default_ranges, sizeof(defaults));
		defaults[1].pfn = g->guest_frames - 256;
		defaults[2].pfn = g->guest_frames - 64;
		ranges = defaults;
		nr_ranges = DMAP_ARRAY_SIZE(defaults);
		if (g->guest_frames < 512) {
			ret = -EINVAL;
			dmap_log(g->env, DMAP_LOG_ERR,
				 "xen guest: the default layout needs 512 guest frames");
			goto fail;
		}
	}

	kind = calloc(g->guest_frames, 1);
	g->owner = calloc(g->low + g->high, 1);
	frames = calloc(g->low + g->high, sizeof(*frames));
	if (!kind || !g->owner || !frames)
		goto fail;
	for (i = 0; i < g->guest_frames; i++)
		kind[i] = DMAP_XEN_FRAME_VALID;
	for (r = 0; r < nr_ranges; r++) {
		const struct dmap_hosted_xen_range *range = &ranges[r];

		if (range->pfn >= g->guest_frames || range->count > g->guest_frames - range->pfn ||
		    !range->count || range->kind == DMAP_XEN_FRAME_VALID ||
		    (unsigned int)range->kind > DMAP_XEN_FRAME_FOREIGN ||
		    (range->kind == DMAP_XEN_FRAME_IDENTITY &&
		     range->pfn + range->count > g->low)) {
			dmap_log(g->env, DMAP_LOG_ERR,
				 "xen guest: bad range %zu: pfn 0x%llx count 0x%llx kind %d", r,
				 (unsigned long long)range->pfn, (unsigned long long)range->count,
				 (int)range->kind);
			ret = -EINVAL;
			goto fail;
		}
		for (i = 0; i < range->count; i++) {
			if (kind[range->pfn + i] != DMAP_XEN_FRAME_VALID) {
				dmap_log(g->env, DMAP_LOG_ERR,
					 "xen guest: range %zu overlaps at pfn 0x%llx", r,
					 (unsigned long long)(range->pfn + i));
				ret = -EINVAL;
				goto fail;
			}
			kind[range->pfn + i] = (uint8_t)range->kind;
		}
	}

	g->memfd = memfd_create("dmap-xen-machine", MFD_CLOEXEC);
	if (g->memfd < 0 || ftruncate(g->memfd, (off_t)((g->low + g->high) << XSHIFT))) {
		ret = -errno;
		goto fail;
	}
	g->machine = mmap(NULL, (g->low + g->high) << XSHIFT, PROT_READ | PROT_WRITE, MAP_SHARED,
			  g->memfd, 0);
	g->view = mmap(NULL, g->guest_frames << XSHIFT, PROT_NONE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (g->machine == MAP_FAILED || g->view == MAP_FAILED) {
		g->machine = g->machine == MAP_FAILED ? NULL : g->machine;
		g->view = g->view == MAP_FAILED ? NULL : g->view;
		goto fail;
	}
	ret = dmap_xen_p2m_create(g->env, NULL, &g->p2m);
	if (ret)
		goto fail;

	/* Machine frame 0 stays the hypervisor's; identity ranges reserve their I/O frames. */
	g->owner[0] = XEN_RESERVED;
	for (pfn = 0; pfn < g->guest_frames; pfn++)
		if (kind[pfn] == DMAP_XEN_FRAME_IDENTITY)
			g->owner[pfn] = XEN_RESERVED;

	/* The guest's zones: the lowest free frames of each bank, half the guest in each. */
	{
		uint64_t guest_ram = 0, want_low, taken = 0, index;

		for (pfn = 0; pfn < g->guest_frames; pfn++)
			guest_ram += kind[pfn] == DMAP_XEN_FRAME_VALID;
		want_low = g->high ? guest_ram / 2 : guest_ram;
		if (want_low > g->low / 2)
			want_low = g->low / 2;
		for (index = 0; index < g->low && taken < want_low; index++)
			if (g->owner[index] == XEN_FREE)
				frames[nr_frames++] = index, taken++;
		for (uint64_t h = g->low; h < g->low + g->high && nr_frames < guest_ram; h++)
			frames[nr_frames++] = h;
		/* A small high bank: the rest comes from the low bank, after the zone. */
		for (; index < g->low && nr_frames < guest_ram; index++)
			if (g->owner[index] == XEN_FREE)
				frames[nr_frames++] = index;
		if (nr_frames < guest_ram) {
			dmap_log(g->env, DMAP_LOG_ERR, "xen guest: machine memory too small");
			ret = -EINVAL;
			goto fail;
		}
		if (cfg.in_order) {
			/* Ascending machine order, low bank first. */
			for (i = 1; i < nr_frames; i++)
				for (uint64_t j = i; j > 0 && frames[j - 1] > frames[j]; j--) {
					uint64_t t = frames[j];

					frames[j] = frames[j - 1];
					frames[j - 1] = t;
				}
		} else {
			for (i = nr_frames - 1; i > 0; i--) {
				uint64_t j = xen_rand(g) % (i + 1), t = frames[i];

				frames[i] = frames[j];
				frames[j] = t;
			}
		}
	}

	/* Populate the P2M, the mappings and the owners. */
	{
		uint64_t next = 0, foreign_next = g->low + g->high;

		for (pfn = 0; pfn < g->guest_frames; pfn++) {
			uint64_t index, mfn;

			switch (kind[pfn]) {
			case DMAP_XEN_FRAME_VALID:
				index = frames[next++];
				mfn = xen_index_mfn(g, index);
				g->owner[index] = XEN_GUEST;
				ret = dmap_xen_p2m_set(g->p2m, pfn, DMAP_XEN_FRAME_VALID, mfn);
				if (!ret)
					ret = xen_map_view(g, pfn, 1, mfn);
				break;
			case DMAP_XEN_FRAME_FOREIGN:
				/* Another domain's frames, from the top of the low bank down. */
				do {
					index = --foreign_next;
				} while (g->owner[index] != XEN_FREE);
				mfn = xen_index_mfn(g, index);
				g->owner[index] = XEN_OTHER;
				ret = dmap_xen_m2p_set(g->p2m, mfn, other_pfn++);
				if (!ret)
					ret = dmap_xen_p2m_set(g->p2m, pfn, DMAP_XEN_FRAME_FOREIGN,
							       mfn);
				if (!ret)
					ret = xen_map_view(g, pfn, 1, mfn);
				break;
			case DMAP_XEN_FRAME_IDENTITY:
				ret = dmap_xen_p2m_set(g->p2m, pfn, DMAP_XEN_FRAME_IDENTITY, 0);
				if (!ret)
					ret = xen_map_view(g, pfn, 1, pfn);
				break;
			default:
				ret = 0; /* missing: no mapping, no entry */
				break;
			}
			if (ret)
				goto fail;
		}
	}

	/* Register RAM runs (pool) and foreign runs (not pool) with the environment. */
	for (pfn = 0; pfn < g->guest_frames;) {
		uint64_t end = pfn;

		if (kind[pfn] != DMAP_XEN_FRAME_VALID && kind[pfn] != DMAP_XEN_FRAME_FOREIGN) {
			pfn++;
			continue;
		}
		while (end < g->guest_frames && kind[end] == kind[pfn])
			end++;
		ret = xen_register(g, pfn, end - pfn, kind[pfn] == DMAP_XEN_FRAME_VALID);
		if (ret)
			goto fail;
		pfn = end;
	}
	free(kind);
	free(frames);
	*out = g;
	return 0;

fail:
	free(kind);
	free(frames);
	dmap_hosted_xen_destroy(g);
	return ret;
}

/*
 * Move guest frames [pfn, pfn+count) onto machine frames given by @target
 * (consecutive from target_mfn when @targets is NULL). Lock held; frames
 * checked by the caller. Returns 0 or an errno with nothing changed.
 */
static int xen_move(struct dmap_hosted_xen *g, uint64_t pfn, uint64_t count, uint64_t target_mfn,
		    const uint64_t *targets)
{
	uint64_t i;
	int ret;

	for (i = 0; i < count; i++) {
		uint64_t to = targets ? targets[i] : target_mfn + i;
		uint64_t from = dmap_xen_pfn_to_mfn(g->p2m, pfn + i);

		memcpy(g->machine + (xen_mfn_index(g, to) << XSHIFT),
		       g->machine + (xen_mfn_index(g, from) << XSHIFT), XPAGE);
	}
	if (targets) {
		uint64_t *old = malloc(count * sizeof(*old));

		if (!old)
			return -ENOMEM;
		for (i = 0; i < count; i++)
			old[i] = dmap_xen_pfn_to_mfn(g->p2m, pfn + i);
		/* Free the old frames first so a target may reuse none of them mid-way. */
		for (i = 0; i < count; i++) {
			ret = dmap_xen_p2m_set(g->p2m, pfn + i, DMAP_XEN_FRAME_VALID, targets[i]);
			if (ret) {
				while (i--)
					dmap_xen_p2m_set(g->p2m, pfn + i, DMAP_XEN_FRAME_VALID,
							 old[i]);
				free(old);
				return ret;
			}
		}
		for (i = 0; i < count; i++) {
			g->owner[xen_mfn_index(g, old[i])] = XEN_FREE;
			g->owner[xen_mfn_index(g, targets[i])] = XEN_GUEST;
			xen_map_view(g, pfn + i, 1, targets[i]);
		}
		free(old);
		return 0;
	}
	{
		uint64_t *old = malloc(count * sizeof(*old));

		if (!old)
			return -ENOMEM;
		for (i = 0; i < count; i++)
			old[i] = dmap_xen_pfn_to_mfn(g->p2m, pfn + i);
		ret = dmap_xen_p2m_set_range(g->p2m, pfn, count, DMAP_XEN_FRAME_VALID, target_mfn);
		if (ret) {
			free(old);
			return ret;
		}
		for (i = 0; i < count; i++)
			g->owner[xen_mfn_index(g, old[i])] = XEN_FREE;
		for (i = 0; i < count; i++)
			g->owner[xen_mfn_index(g, target_mfn + i)] = XEN_GUEST;
		free(old);
		ret = xen_map_view(g, pfn, count, target_mfn);
		if (ret)
			dmap_log(g->env, DMAP_LOG_ERR, "xen guest: remapping pfn 0x%llx failed: %d",
				 (unsigned long long)pfn, ret);
		return ret;
	}
}

/* Guest frames [pfn, pfn+count) all VALID and ours? Lock held. */
static bool xen_frames_ours(struct dmap_hosted_xen *g, uint64_t pfn, uint64_t count)
{
	uint64_t i;

	if (pfn >= g->guest_frames || count > g->guest_frames - pfn)
		return false;
	for (i = 0; i < count; i++) {
		uint64_t raw = dmap_xen_p2m_get_raw(g->p2m, pfn + i);

		if (raw == DMAP_XEN_INVALID_FRAME || (raw >> 62) ||
		    xen_mfn_index(g, raw) == DMAP_XEN_INVALID_FRAME ||
		    g->owner[xen_mfn_index(g, raw)] != XEN_GUEST)
			return false;
	}
	return true;
}

static uint64_t xen_find_free_locked(struct dmap_hosted_xen *g, uint64_t count, uint64_t align,
				     uint64_t min_mfn, uint64_t limit_mfn)
{
	uint64_t bank_first[2] = { 0, DMAP_HOSTED_XEN_HIGH_MFN };
	uint64_t bank_frames[2] = { g->low, g->high };
	int b;

	for (b = 0; b < 2; b++) {
		uint64_t mfn = dmap_max(bank_first[b], min_mfn);
		uint64_t end = bank_first[b] + bank_frames[b];

		if (end > limit_mfn)
			end = limit_mfn;
		mfn = dmap_align_up(mfn, align);
		while (mfn + count <= end && mfn + count > mfn) {
			uint64_t i;

			for (i = 0; i < count; i++)
				if (g->owner[xen_mfn_index(g, mfn + i)] != XEN_FREE)
					break;
			if (i == count)
				return mfn;
			mfn = dmap_align_up(mfn + i + 1, align);
		}
	}
	return DMAP_XEN_INVALID_FRAME;
}

uint64_t dmap_hosted_xen_find_free(struct dmap_hosted_xen *g, uint64_t count, uint64_t min_mfn,
				   uint64_t limit_mfn)
{
	uint64_t mfn;

	if (!g || !count)
		return DMAP_XEN_INVALID_FRAME;
	pthread_mutex_lock(&g->lock);
	mfn = xen_find_free_locked(g, count, 1, min_mfn, limit_mfn);
	pthread_mutex_unlock(&g->lock);
	return mfn;
}

int dmap_hosted_xen_remap(struct dmap_hosted_xen *g, uint64_t pfn, uint64_t count, uint64_t mfn)
{
	uint64_t i;
	int ret;

	if (!g || !count)
		return -EINVAL;
	pthread_mutex_lock(&g->lock);
	if (!xen_frames_ours(g, pfn, count)) {
		pthread_mutex_unlock(&g->lock);
		dmap_log(g->env, DMAP_LOG_ERR, "xen guest: remap: pfns 0x%llx+%llu are not all RAM",
			 (unsigned long long)pfn, (unsigned long long)count);
		return -EINVAL;
	}
	for (i = 0; i < count; i++) {
		uint64_t index = xen_mfn_index(g, mfn + i);

		if (index == DMAP_XEN_INVALID_FRAME || (i && index != xen_mfn_index(g, mfn) + i) ||
		    g->owner[index] != XEN_FREE) {
			pthread_mutex_unlock(&g->lock);
			dmap_log(g->env, DMAP_LOG_ERR, "xen guest: remap: mfn 0x%llx is not free",
				 (unsigned long long)(mfn + i));
			return -EBUSY;
		}
	}
	ret = xen_move(g, pfn, count, mfn, NULL);
	pthread_mutex_unlock(&g->lock);
	return ret;
}

/* ---- the simulated XENMEM_exchange ------------------------------------- */

static int xen_create_contiguous(void *cookie, struct dmap_xen_p2m *p2m, uint64_t pfn,
				 unsigned int order, unsigned int address_bits, uint64_t *mfn_out)
{
	struct dmap_hosted_xen *g = cookie;
	uint64_t count = 1ull << order, limit_mfn, mfn;
	int ret;

	if (mfn_out)
		*mfn_out = DMAP_XEN_INVALID_FRAME;
	if (!g || p2m != g->p2m || !mfn_out || order > DMAP_XEN_MAX_CONTIG_ORDER ||
	    address_bits < order + XSHIFT || address_bits > 64)
		return -EINVAL;
	limit_mfn = address_bits >= 64 ? UINT64_MAX : 1ull << (address_bits - XSHIFT);
	pthread_mutex_lock(&g->lock);
	if (g->fail_next && !g->fail_after_ok) {
		g->fail_next--;
		g->exchange_failures++;
		pthread_mutex_unlock(&g->lock);
		return -ENOMEM;
	}
	if (!xen_frames_ours(g, pfn, count)) {
		g->exchange_failures++;
		pthread_mutex_unlock(&g->lock);
		dmap_log(g->env, DMAP_LOG_ERR,
			 "xen guest: exchange: pfns 0x%llx+%llu are not all this guest's RAM",
			 (unsigned long long)pfn, (unsigned long long)count);
		return -EINVAL;
	}
	mfn = xen_find_free_locked(g, count, count, 0, limit_mfn);
	if (mfn == DMAP_XEN_INVALID_FRAME) {
		g->exchange_failures++;
		pthread_mutex_unlock(&g->lock);
		return -ENOMEM;
	}
	ret = xen_move(g, pfn, count, mfn, NULL);
	if (ret) {
		g->exchange_failures++;
	} else {
		g->exchanges++;
		if (g->fail_after_ok)
			g->fail_after_ok--;
	}
	pthread_mutex_unlock(&g->lock);
	if (!ret)
		*mfn_out = mfn;
	return ret;
}

static void xen_destroy_contiguous(void *cookie, struct dmap_xen_p2m *p2m, uint64_t pfn,
				   unsigned int order)
{
	struct dmap_hosted_xen *g = cookie;
	uint64_t count = 1ull << order, i, *targets;
	uint64_t start;

	if (!g || p2m != g->p2m || order > DMAP_XEN_MAX_CONTIG_ORDER)
		return;
	targets = malloc(count * sizeof(*targets));
	if (!targets)
		return;
	pthread_mutex_lock(&g->lock);
	if (!xen_frames_ours(g, pfn, count)) {
		pthread_mutex_unlock(&g->lock);
		free(targets);
		return;
	}
	/* Any free frames will do; scatter them again, as Xen would not keep them together. */
	start = xen_rand(g) % (g->low + g->high);
	for (i = 0; i < count; i++) {
		uint64_t index = start, tries = 0;

		while (g->owner[index] != XEN_FREE && tries++ < g->low + g->high)
			index = (index + 1 + xen_rand(g) % 7) % (g->low + g->high);
		if (g->owner[index] != XEN_FREE)
			break;
		g->owner[index] = XEN_GUEST; /* claim now so the next pick skips it */
		targets[i] = xen_index_mfn(g, index);
		start = (index + 1 + xen_rand(g) % 97) % (g->low + g->high);
	}
	for (uint64_t j = 0; j < i; j++)
		g->owner[xen_mfn_index(g, targets[j])] = XEN_FREE;
	if (i == count && xen_move(g, pfn, count, 0, targets) == 0)
		g->releases++;
	pthread_mutex_unlock(&g->lock);
	free(targets);
}

static const struct dmap_xen_exchange_ops xen_guest_exchange_ops = {
	.create_contiguous = xen_create_contiguous,
	.destroy_contiguous = xen_destroy_contiguous,
};

const struct dmap_xen_exchange_ops *dmap_hosted_xen_exchange_ops(void)
{
	return &xen_guest_exchange_ops;
}

void dmap_hosted_xen_fail_exchanges(struct dmap_hosted_xen *g, unsigned int count)
{
	if (!g)
		return;
	pthread_mutex_lock(&g->lock);
	g->fail_next = count;
	g->fail_after_ok = 0;
	pthread_mutex_unlock(&g->lock);
}

void dmap_hosted_xen_fail_exchanges_after(struct dmap_hosted_xen *g, unsigned int ok,
					  unsigned int count)
{
	if (!g)
		return;
	pthread_mutex_lock(&g->lock);
	g->fail_next = count;
	g->fail_after_ok = ok;
	pthread_mutex_unlock(&g->lock);
}

/* ---- access -------------------------------------------------------------- */

void *dmap_hosted_xen_guest_ptr(struct dmap_hosted_xen *g, dmap_phys_t gphys, size_t len)
{
	uint64_t size;

	if (!g)
		return NULL;
	size = g->guest_frames << XSHIFT;
	if (gphys >= size || len > size - gphys)
		return NULL;
	return g->view + gphys;
}

void *dmap_hosted_xen_machine_ptr(struct dmap_hosted_xen *g, uint64_t maddr, size_t len)
{
	uint64_t index, last_index;

	if (!g || !len || maddr + (len - 1) < maddr)
		return NULL;
	index = xen_mfn_index(g, maddr >> XSHIFT);
	last_index = xen_mfn_index(g, (maddr + len - 1) >> XSHIFT);
	if (index == DMAP_XEN_INVALID_FRAME || last_index == DMAP_XEN_INVALID_FRAME ||
	    last_index - index != ((maddr + len - 1) >> XSHIFT) - (maddr >> XSHIFT))
		return NULL;
	return g->machine + (index << XSHIFT) + (maddr & (XPAGE - 1));
}

int dmap_hosted_xen_machine_read(struct dmap_hosted_xen *g, uint64_t maddr, void *buf, size_t len)
{
	void *p = dmap_hosted_xen_machine_ptr(g, maddr, len);

	if (!p || !buf)
		return -EFAULT;
	memcpy(buf, p, len);
	return 0;
}

int dmap_hosted_xen_machine_write(struct dmap_hosted_xen *g, uint64_t maddr, const void *buf,
				  size_t len)
{
	void *p = dmap_hosted_xen_machine_ptr(g, maddr, len);

	if (!p || !buf)
		return -EFAULT;
	memcpy(p, buf, len);
	return 0;
}

int dmap_hosted_xen_get_counters(struct dmap_hosted_xen *g, struct dmap_hosted_xen_counters *out)
{
	uint64_t i;

	if (!g || !out)
		return -EINVAL;
	pthread_mutex_lock(&g->lock);
	out->exchanges = g->exchanges;
	out->exchange_failures = g->exchange_failures;
	out->releases = g->releases;
	out->free_frames = 0;
	for (i = 0; i < g->low + g->high; i++)
		out->free_frames += g->owner[i] == XEN_FREE;
	pthread_mutex_unlock(&g->lock);
	return 0;
}
