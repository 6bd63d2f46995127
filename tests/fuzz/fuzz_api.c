// SPDX-License-Identifier: MIT
/*
 * tests/fuzz/fuzz_api.c - the whole driver-side and device-side API, driven
 * by programs of (often invalid) calls.
 *
 * dmap's promise is that no argument, however wrong, makes it crash, leak or
 * abort: every call returns success or a clean error (a negative errno, or
 * DMAP_MAPPING_ERROR from map calls). The input here is a program. Its head
 * picks a setup on a hosted environment with simulated RAM: an identity
 * domain (bus offset, optional bounce fallback, optional force_fallback), a
 * bounce domain alone, or an iommu domain (ARM LPAE or VT-d tables, granule,
 * address sizes, strict or deferred invalidation, bounce for untrusted
 * devices), the debug layer on or off, a coherent or non-coherent
 * system, and up to three devices whose masks, bus limit, segment limits and
 * flags are drawn from the input (many of them invalid). The rest is a
 * sequence of calls: map_phys, map_single, unmap, map_sg, unmap_sg, the
 * sync calls, alloc/free_coherent, translate, dev_read/dev_write, set_mask
 * and friends, detach/attach, fault log reads, with arguments that are
 * mostly plausible (inside RAM, near region edges, 4 GiB, 2^64) and often
 * not (size 0, wrapping ranges, DMAP_NONE and out-of-range directions,
 * unknown attribute bits, NULL or detached devices, random bus addresses,
 * addresses inside live mappings, garbage scatterlists).
 *
 * Invariants checked on every call:
 *  - return values are in the documented set; invalid arguments fail;
 *  - identity: a mapping the device can reach goes direct (bus = phys +
 *    offset), one it cannot reach bounces or fails; a bounced mapping is
 *    reachable by the device, keeps the low bits under min_align_mask, is
 *    page aligned from a page up and does not cross seg_boundary_mask;
 *  - device side: a successful mapping translates (direct, and through the
 *    IOMMU for a trusted device: to the very phys, with the direction and
 *    privilege the IOMMU enforces), dev_read() returns the CPU's bytes
 *    (zeros for a bounce mapped with SKIP_CPU_SYNC), a device write to a
 *    FROM_DEVICE or BIDIRECTIONAL mapping reaches the CPU after
 *    sync_for_cpu, and a CPU write reaches the device after sync_for_device
 *    (TO_DEVICE, BIDIR);
 *  - map_sg: 1..nents segments that cover the entries in order, each
 *    merged segment within max_seg_size and its boundary, data intact;
 *  - coherent buffers lie below the coherent limit, and the device and the
 *    CPU see the same bytes;
 *  - at the end, when the program has unmapped and freed everything it
 *    still holds: bounce pools hold no slot, the debug layer tracks no
 *    mapping and reported no leak, every object is destroyed with 0, and
 *    the environment's page allocator is back where it started.
 * AddressSanitizer, UBSan and LeakSanitizer (in the libFuzzer build and the
 * ASan test pass) add "no memory error, no undefined behaviour, no leak".
 *
 * The two hosted environments (coherent, non-coherent) and their RAM are
 * made once per process; everything else is made and destroyed per input.
 *
 * Known, reported bugs are tolerated through fuzz_known_issue() (see
 * docs/fuzzing.md); a misuse call that undoes a live mapping (the bounce pool
 * lets any device unmap any live slot, the iommu any mapped range) marks the
 * program "uncertain", after which the owner's later unmap or sync of it may
 * fail with -ENOENT. Debugging aids: DMAP_FUZZ_ECHO=1 (dmap's log),
 * DMAP_FUZZ_TRACE=1 (the calls), DMAP_FUZZ_STATS=1 (what the programs reached).
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <string.h>

#include <dmap/dmap.h>
#include <dmap/debug.h>
#include <dmap/helpers.h>
#include <dmap/hosted.h>
#include <dmap/identity.h>
#ifdef DMAP_FUZZ_HAVE_BOUNCE
#include <dmap/bounce.h>
#endif
#ifdef DMAP_FUZZ_HAVE_IOMMU
#include <dmap/iommu.h>
#endif

#include "fuzz_common.h"

#define MAX_DEVS 3
#define MAX_MAPS 24
#define MAX_SGS 8
#define MAX_SG_ENTS 8
#define MAX_COHERENT 8
#define MAX_STEPS 160
#define CHECK_BYTES 256
#define RW_MAX 4096

/*
 * Simulated RAM: driver buffers come from the first four regions (low, one
 * across 4 GiB, one high, one ending at 2^64); the last is the pool the
 * environment's page allocator hands out (bounce pools, coherent buffers).
 * Buffers are never picked from the pool region on purpose: memory a bounce
 * pool owns is not a driver's to map (in Linux neither), and identity's
 * device side rightly routes such addresses to the pool.
 */
static const struct ram_region {
	dmap_phys_t base;
	size_t size;
	unsigned int flags;
} ram_regions[] = {
	{ 0x100000, 8u << 20, 0 },
	{ 0xffff0000, 0x20000, 0 },
	{ 0x200000000ull, 1u << 20, 0 },
	{ 0ull - (1u << 20), 1u << 20, 0 },
	{ 0x30000000, 16u << 20, DMAP_HOSTED_MEM_POOL },
};
#define NR_REGIONS (sizeof(ram_regions) / sizeof(ram_regions[0]))
#define NR_BUFFER_REGIONS (NR_REGIONS - 1)

struct fuzz_env {
	struct dmap_hosted *hosted;
	const struct dmap_env *env;
};

static struct fuzz_env envs[2]; /* coherent, non-coherent */

struct dev_slot {
	struct dmap_dev *dev;
	bool attached;
	unsigned int live; /* mappings, sg lists and coherent buffers it holds */
};

struct live_map {
	bool used;
	unsigned int dev;
	dmap_addr_t bus;
	dmap_phys_t phys;
	size_t size;
	enum dmap_dir dir;
	bool direct;
	unsigned long attrs;
};

struct live_sg {
	bool used;
	unsigned int dev;
	struct dmap_sg sg[MAX_SG_ENTS];
	int nents;
	enum dmap_dir dir;
};

struct live_coherent {
	bool used;
	unsigned int dev;
	void *cpu;
	dmap_addr_t handle;
	size_t size;
	unsigned long attrs;
};

/* The state of one program. */
static struct state {
	struct fuzz_env *fe;
	struct dmap_ctx *ctx;
	struct dmap_domain *identity; /* NULL when the devices sit on another domain */
	struct dmap_domain *bounce;
	struct dmap_domain *iommu;
	struct dmap_domain *top; /* where devices attach */
	uint64_t bus_offset;
	bool force_fallback;
	bool debug;
	/* A misuse call undid someone's mapping: later unmaps of it may fail with -ENOENT. */
	bool uncertain;
	struct dev_slot devs[MAX_DEVS];
	unsigned int nr_devs;
	struct live_map maps[MAX_MAPS];
	struct live_sg sgs[MAX_SGS];
	struct live_coherent coh[MAX_COHERENT];
} st;

static uint8_t scratch[2][RW_MAX];

/* What the programs reached, printed at exit with DMAP_FUZZ_STATS=1 (to judge the corpus). */
static struct {
	unsigned long programs, maps_direct, maps_bounced, sg_maps, coherent, roundtrips, misuse_ok,
		uncertain;
} stats;

/* DMAP_FUZZ_TRACE=1: print every call of the program (to shrink a failure by hand). */
static int trace_on = -1;
#define TRACE(...)                                                    \
	do {                                                          \
		if (trace_on < 0)                                     \
			trace_on = getenv("DMAP_FUZZ_TRACE") != NULL; \
		if (trace_on) {                                       \
			fprintf(stderr, "trace: " __VA_ARGS__);       \
			fputc('\n', stderr);                          \
		}                                                     \
	} while (0)

static void print_stats(void)
{
	fprintf(stderr,
		"fuzz_api: %lu programs: %lu direct maps, %lu bounced or IOMMU maps, %lu sg lists, "
		"%lu coherent buffers, %lu data round trips, %lu misuse calls returning 0, "
		"%lu programs with stolen mappings\n",
		stats.programs, stats.maps_direct, stats.maps_bounced, stats.sg_maps,
		stats.coherent, stats.roundtrips, stats.misuse_ok, stats.uncertain);
}

static void fuzz_log(void *arg, enum dmap_log_level level, const char *message)
{
	size_t len = strlen(message);

	(void)arg;
	(void)level;
	FUZZ_CHECK(len < 256, "log message of %zu bytes", len);
	if (getenv("DMAP_FUZZ_ECHO"))
		fprintf(stderr, "[dmap] %s\n", message);
}

static void setup_envs(void)
{
	static bool once;

	if (!once && getenv("DMAP_FUZZ_STATS"))
		atexit(print_stats);
	once = true;
	for (unsigned int i = 0; i < 2; i++) {
		struct dmap_hosted_config config = { .log = fuzz_log, .non_coherent = i == 1 };
		int ret;

		if (envs[i].hosted)
			continue;
		ret = dmap_hosted_create(&config, &envs[i].hosted);

		FUZZ_CHECK(ret == 0, "dmap_hosted_create: %d", ret);
		envs[i].env = dmap_hosted_env(envs[i].hosted);
		for (unsigned int r = 0; r < NR_REGIONS; r++) {
			ret = dmap_hosted_mem_add(envs[i].hosted, ram_regions[r].base,
						  ram_regions[r].size, ram_regions[r].flags, NULL);
			FUZZ_CHECK(ret == 0, "dmap_hosted_mem_add(%llx): %d",
				   (unsigned long long)ram_regions[r].base, ret);
		}
	}
}

static uint64_t pool_bytes_in_use(void)
{
	struct dmap_hosted_counters c;

	FUZZ_CHECK(dmap_hosted_get_counters(st.fe->hosted, &c) == 0, "get_counters");
	return c.pool_bytes_in_use;
}

/* Host pointer for [@phys, @phys + @len) when all of it is simulated RAM. */
static uint8_t *ram(dmap_phys_t phys, size_t len)
{
	if (!len || phys + (len - 1) < phys)
		return NULL;
	return dmap_hosted_phys_ptr(st.fe->hosted, phys, len);
}

/* ---- argument pickers --------------------------------------------------- */

static dmap_phys_t pick_phys(struct fuzz_input *in)
{
	const struct ram_region *r = &ram_regions[fuzz_below(in, NR_BUFFER_REGIONS)];

	switch (fuzz_below(in, 10)) {
	case 0:
	case 1:
	case 2: /* somewhere in a region, low */
		return r->base + fuzz_below(in, 1u << 16);
	case 3: /* anywhere in a region */
		return r->base + fuzz_u32(in) % r->size;
	case 4: /* near the end of a region (and past it) */
		return r->base + r->size - fuzz_below(in, 8192) + fuzz_below(in, 16);
	case 5:
		return r->base + (fuzz_u32(in) % r->size & ~0xfffull);
	case 6: /* edges of the address space */
		return fuzz_bool(in) ? fuzz_below(in, 8192) : 0ull - 1 - fuzz_below(in, 8192);
	case 7: /* 4 GiB and other powers of two */
		return (1ull << (20 + fuzz_below(in, 44))) - fuzz_below(in, 4096);
	default:
		return fuzz_u64(in);
	}
}

static size_t pick_size(struct fuzz_input *in)
{
	switch (fuzz_below(in, 12)) {
	case 0:
		return 0;
	case 1:
	case 2:
	case 3:
		return 1 + fuzz_below(in, 64);
	case 4:
	case 5:
		return 1 + fuzz_below(in, 8192);
	case 6:
		return (size_t)4096 << fuzz_below(in, 9);
	case 7:
		return ((size_t)4096 << fuzz_below(in, 9)) + 1 - fuzz_below(in, 3);
	case 8:
		return 1 + (fuzz_u32(in) & 0x3ffff);
	case 9:
		return SIZE_MAX - fuzz_below(in, 4);
	case 10:
		return (size_t)1 << (20 + fuzz_below(in, 44));
	default:
		return (size_t)fuzz_u64(in);
	}
}

static enum dmap_dir pick_dir(struct fuzz_input *in)
{
	unsigned int v = fuzz_below(in, 16);

	if (v < 13)
		return (enum dmap_dir)(v % 3);
	return (enum dmap_dir)(v == 13 ? DMAP_NONE : v == 14 ? 4 : 255);
}

static unsigned long pick_attrs(struct fuzz_input *in)
{
	unsigned int v = fuzz_below(in, 16);

	if (v < 8)
		return 0;
	if (v < 11)
		return DMAP_ATTR_SKIP_CPU_SYNC;
	if (v < 14)
		return (unsigned long)fuzz_u16(in) & DMAP_ATTR_ALL;
	return (unsigned long)fuzz_u64(in); /* unknown bits, usually */
}

/* DMAP_BIT_MASK evaluates its argument twice: never hand it a fuzz_*() call. */
static uint64_t bit_mask(unsigned int bits)
{
	return DMAP_BIT_MASK(bits);
}

static uint64_t pick_mask(struct fuzz_input *in)
{
	static const unsigned int bits[] = { 24, 30, 32, 32, 36, 40, 44, 48, 52, 64, 64 };

	switch (fuzz_below(in, 8)) {
	case 0:
		return 0;
	case 1:
		return fuzz_u64(in);
	default:
		return bit_mask(FUZZ_PICK(in, bits));
	}
}

/* A device index, sometimes one past the devices (NULL) or a detached one. */
static int pick_dev(struct fuzz_input *in)
{
	unsigned int v = fuzz_below(in, 32);

	if (v == 31 || !st.nr_devs)
		return -1; /* NULL */
	return (int)(v % st.nr_devs);
}

static struct dmap_dev *dev_ptr(int i)
{
	return i < 0 ? NULL : st.devs[i].dev;
}

static bool args_ok(int dev, uint64_t addr, size_t size, enum dmap_dir dir, unsigned long attrs)
{
	return dev >= 0 && st.devs[dev].attached && size && addr + (size - 1) >= addr &&
	       (unsigned int)dir <= DMAP_FROM_DEVICE && !(attrs & ~DMAP_ATTR_ALL);
}

static uint64_t dev_limit(const struct dmap_dev_info *info)
{
	return info->bus_dma_limit && info->bus_dma_limit < info->dma_mask ? info->bus_dma_limit :
									     info->dma_mask;
}

static bool capable(const struct dmap_dev_info *info, uint64_t addr, size_t size)
{
	uint64_t last = addr + (size - 1);

	return addr != DMAP_MAPPING_ERROR && last >= addr && last <= dev_limit(info);
}

static void get_info(int dev, struct dmap_dev_info *info)
{
	FUZZ_CHECK(dmap_dev_get_info(st.devs[dev].dev, info) == 0, "dev_get_info");
}

/* ---- device-side checks of a live mapping -------------------------------- */

/* The device reads [bus, bus + len) and must see @expect (NULL: zeros). */
static void check_device_sees(int dev, dmap_addr_t bus, const uint8_t *expect, size_t len,
			      const char *what)
{
	int ret;

	memset(scratch[0], 0xa5, len);
	ret = dmap_dev_read(st.devs[dev].dev, bus, scratch[0], len);
	FUZZ_CHECK(ret == 0, "%s: dev_read(%llx, %zu) of a live mapping: %d", what,
		   (unsigned long long)bus, len, ret);
	if (expect) {
		FUZZ_CHECK(memcmp(scratch[0], expect, len) == 0,
			   "%s: the device reads other bytes than the CPU wrote at bus %llx", what,
			   (unsigned long long)bus);
	} else {
		for (size_t i = 0; i < len; i++)
			FUZZ_CHECK(scratch[0][i] == 0,
				   "%s: bounce slot at bus %llx not zeroed (SKIP_CPU_SYNC)", what,
				   (unsigned long long)bus);
	}
}

/* After a successful map of [phys, phys + size) at @bus: everything the docs promise. */
static void check_new_mapping(int dev, dmap_phys_t phys, size_t size, dmap_addr_t bus,
			      enum dmap_dir dir, unsigned long attrs, bool *direct_out)
{
	struct dmap_dev_info info;
	struct dmap_translation t;
	bool direct = false;
	size_t n = size < CHECK_BYTES ? size : CHECK_BYTES;
	uint8_t *cpu;
	int ret;

	get_info(dev, &info);
	FUZZ_CHECK(capable(&info, bus, size),
		   "mapping at bus %llx size %zx is beyond the device's limit %llx",
		   (unsigned long long)bus, size, (unsigned long long)dev_limit(&info));
	if (st.identity) {
		bool reach = capable(&info, phys + st.bus_offset, size);

		if (reach && !st.force_fallback) {
			FUZZ_CHECK(bus == phys + st.bus_offset,
				   "identity: phys %llx size %zx is reachable but mapped at %llx",
				   (unsigned long long)phys, size, (unsigned long long)bus);
			direct = true;
		} else {
			FUZZ_CHECK(st.bounce,
				   "identity without fallback mapped unreachable phys %llx",
				   (unsigned long long)phys);
		}
	}
	*direct_out = direct;
	if (st.iommu) {
		struct dmap_translation ti;

		/* Through the IOMMU: the very phys, unless an untrusted device's buffer bounced. */
		if (!ram(phys, size))
			return;
		/* A DMAP_ATTR_PRIVILEGED mapping admits privileged transactions only. */
		/*
		 * The IOMMU enforces the direction (FROM_DEVICE may be write-only, as
		 * VT-d can express), and a DMAP_ATTR_PRIVILEGED mapping admits
		 * privileged transactions only.
		 */
		ret = dmap_translate(
			st.devs[dev].dev, bus,
			(dir == DMAP_FROM_DEVICE ? DMAP_ACCESS_WRITE : DMAP_ACCESS_READ) |
				(attrs & DMAP_ATTR_PRIVILEGED ? DMAP_ACCESS_PRIV : 0),
			&ti);
		FUZZ_CHECK(ret == 0, "iommu: translate(%llx) of a live mapping: %d",
			   (unsigned long long)bus, ret);
		if (!(info.flags & DMAP_DEV_UNTRUSTED))
			FUZZ_CHECK(ti.phys == phys,
				   "iommu: bus %llx translates to %llx, not phys %llx",
				   (unsigned long long)bus, (unsigned long long)ti.phys,
				   (unsigned long long)phys);
		cpu = ram(phys, n);
		if ((info.flags & DMAP_DEV_UNTRUSTED) && (attrs & DMAP_ATTR_SKIP_CPU_SYNC))
			return; /* a bounced slot holds zeros, a direct one the data */
		if ((attrs & DMAP_ATTR_PRIVILEGED) || dir == DMAP_FROM_DEVICE)
			return; /* dev_read() issues unprivileged reads */
		check_device_sees(dev, bus, cpu, n, "iommu map");
		return;
	}
	if (!direct) {
		/* Bounced: min_align_mask bits kept, page aligned from a page, no boundary crossing. */
		FUZZ_CHECK(
			(bus & info.min_align_mask) == (phys & info.min_align_mask),
			"bounce at %llx lost the low bits of phys %llx under min_align_mask %llx",
			(unsigned long long)bus, (unsigned long long)phys,
			(unsigned long long)info.min_align_mask);
		if (size >= 4096)
			FUZZ_CHECK((bus & ~info.min_align_mask & 0xfff) == 0,
				   "bounce of %zx bytes at %llx is not page aligned", size,
				   (unsigned long long)bus);
		if (info.seg_boundary_mask != ~0ull)
			FUZZ_CHECK(((bus ^ (bus + size - 1)) & ~info.seg_boundary_mask) == 0,
				   "bounce at %llx size %zx crosses boundary mask %llx",
				   (unsigned long long)bus, size,
				   (unsigned long long)info.seg_boundary_mask);
	}
	ret = dmap_translate(st.devs[dev].dev, bus, DMAP_ACCESS_READ, &t);
	if (direct && !ram(phys, 1)) {
		FUZZ_CHECK(ret == -DMAP_EFAULT, "translate of direct non-RAM %llx: %d",
			   (unsigned long long)bus, ret);
		return;
	}
	if (!direct && !ram(phys, size))
		return; /* a bounce of non-RAM fails at map: never gets here */
	FUZZ_CHECK(ret == 0, "translate(%llx) of a live mapping: %d", (unsigned long long)bus, ret);
	FUZZ_CHECK(t.len >= 1 && (t.perm & DMAP_ACCESS_READ) &&
			   !(t.perm & ~(DMAP_ACCESS_READ | DMAP_ACCESS_WRITE)),
		   "translate(%llx): len %zu perm %x", (unsigned long long)bus, t.len, t.perm);
	if (direct)
		FUZZ_CHECK(t.phys == phys, "direct bus %llx translates to %llx, not phys %llx",
			   (unsigned long long)bus, (unsigned long long)t.phys,
			   (unsigned long long)phys);
	cpu = ram(phys, n);
	if (!cpu)
		return;
	if (!direct && (attrs & DMAP_ATTR_SKIP_CPU_SYNC))
		check_device_sees(dev, bus, NULL, n, "map");
	else
		check_device_sees(dev, bus, cpu, n, "map");
}

/*
 * Identity on a non-coherent system, non-coherent device: a direct mapping
 * needs cache maintenance, so a range without RAM behind every byte fails at
 * map time unless it is device memory (DMAP_ATTR_MMIO); unmap and sync of
 * what did map never fail for want of RAM (docs/identity.md).
 */
static bool identity_refuses_nonram(const struct dmap_dev_info *info, dmap_phys_t phys, size_t size,
				    unsigned long attrs)
{
	return st.fe == &envs[1] && !(info->flags & DMAP_DEV_COHERENT) &&
	       !(attrs & DMAP_ATTR_MMIO) && !ram(phys, size);
}

/* ---- operations ---------------------------------------------------------- */

static int free_map_slot(void)
{
	for (int i = 0; i < MAX_MAPS; i++)
		if (!st.maps[i].used)
			return i;
	return -1;
}

static void op_map(struct fuzz_input *in, bool single)
{
	int dev = pick_dev(in);
	dmap_phys_t phys = pick_phys(in);
	size_t size = pick_size(in);
	enum dmap_dir dir = pick_dir(in);
	unsigned long attrs = pick_attrs(in);
	int slot = free_map_slot();
	bool direct = false, valid;
	dmap_addr_t bus;

	if (slot < 0)
		return;
	if (single) {
		void *cpu;

		switch (fuzz_below(in, 6)) {
		case 0:
			cpu = NULL;
			break;
		case 1:
			cpu = scratch[1]; /* host memory that is not simulated RAM */
			break;
		default:
			cpu = ram(phys, 1);
			if (!cpu)
				cpu = (void *)(uintptr_t)(phys | 1);
			break;
		}
		/* Identity never dereferences here; virt_to_phys decides what phys is. */
		bus = dmap_map_single(dev_ptr(dev), cpu, size, dir, attrs);
		valid = cpu && ram(phys, 1) == cpu && ram(phys, size) != NULL;
		if (bus != DMAP_MAPPING_ERROR)
			FUZZ_CHECK(valid && args_ok(dev, phys, size, dir, attrs),
				   "map_single of %p size %zx dir %d attrs %lx succeeded", cpu,
				   size, (int)dir, attrs);
	} else {
		bus = dmap_map_phys(dev_ptr(dev), phys, size, dir, attrs);
		valid = args_ok(dev, phys, size, dir, attrs);
		if (!valid)
			FUZZ_CHECK(
				bus == DMAP_MAPPING_ERROR,
				"invalid map_phys(phys %llx size %zx dir %d attrs %lx) returned %llx",
				(unsigned long long)phys, size, (int)dir, attrs,
				(unsigned long long)bus);
		if (valid && st.identity && !st.force_fallback) {
			struct dmap_dev_info info;

			get_info(dev, &info);
			if (capable(&info, phys + st.bus_offset, size) &&
			    identity_refuses_nonram(&info, phys, size, attrs))
				FUZZ_CHECK(
					bus == DMAP_MAPPING_ERROR,
					"identity: non-coherent map of non-RAM phys %llx size %zx attrs %lx succeeded (%llx)",
					(unsigned long long)phys, size, attrs,
					(unsigned long long)bus);
			else if (capable(&info, phys + st.bus_offset, size))
				FUZZ_CHECK(bus == phys + st.bus_offset,
					   "identity: reachable phys %llx size %zx mapped at %llx",
					   (unsigned long long)phys, size, (unsigned long long)bus);
		}
	}
	TRACE("%s(dev %d, phys %llx, size %zx, %s, attrs %lx) = %llx",
	      single ? "map_single" : "map_phys", dev, (unsigned long long)phys, size,
	      dmap_dir_name(dir), attrs, (unsigned long long)bus);
	if (dev >= 0 && fuzz_below(in, 4))
		FUZZ_CHECK(dmap_mapping_error(st.devs[dev].dev, bus) ==
				   (bus == DMAP_MAPPING_ERROR ? -DMAP_ENOMEM : 0),
			   "dmap_mapping_error");
	if (bus == DMAP_MAPPING_ERROR)
		return;
	check_new_mapping(dev, phys, size, bus, dir, attrs, &direct);
	if (direct)
		stats.maps_direct++;
	else
		stats.maps_bounced++;
	st.maps[slot] =
		(struct live_map){ true, (unsigned int)dev, bus, phys, size, dir, direct, attrs };
	st.devs[dev].live++;
}

static void forget_map(int i)
{
	st.devs[st.maps[i].dev].live--;
	st.maps[i].used = false;
}

static int pick_map(struct fuzz_input *in)
{
	int start = (int)fuzz_below(in, MAX_MAPS);

	for (int k = 0; k < MAX_MAPS; k++) {
		int i = (start + k) % MAX_MAPS;

		if (st.maps[i].used)
			return i;
	}
	return -1;
}

static uint64_t bounce_live(void)
{
#ifdef DMAP_FUZZ_HAVE_BOUNCE
	struct dmap_bounce_stats s;

	if (st.bounce) {
		FUZZ_CHECK(dmap_bounce_get_stats(st.bounce, &s) == 0, "bounce stats");
		return s.live_mappings;
	}
#endif
	return 0;
}

static bool is_errno(int ret)
{
	switch (-ret) {
	case DMAP_EPERM:
	case DMAP_ENOENT:
	case DMAP_EIO:
	case DMAP_E2BIG:
	case DMAP_ENOMEM:
	case DMAP_EFAULT:
	case DMAP_EBUSY:
	case DMAP_EEXIST:
	case DMAP_ENODEV:
	case DMAP_EINVAL:
	case DMAP_ENOSPC:
	case DMAP_ERANGE:
	case DMAP_EOPNOTSUPP:
		return true;
	}
	return false;
}

/* A misuse call returned @ret: a clean error, or 0 - then note if it took a live mapping. */
#ifdef DMAP_FUZZ_HAVE_IOMMU
/*
 * Is every page of [@bus, @bus + @size) still mapped (up to 256 pages and the
 * last byte)? dmap_iommu_iova_lookup() tells physical address 0 from a hole.
 */
static bool iommu_range_mapped(dmap_addr_t bus, size_t size)
{
	dmap_addr_t last = bus + (size - 1);

	for (unsigned int k = 0; k <= 256; k++) {
		dmap_addr_t probe = k == 256 ? last :
				    k	     ? (bus & ~0xfffull) + ((uint64_t)k << 12) :
					       bus;

		dmap_phys_t phys;

		if (probe > last)
			probe = last;
		if (dmap_iommu_iova_lookup(st.iommu, probe, &phys))
			return false;
		if (probe == last)
			break;
	}
	return true;
}
#endif

/* Did a misuse call take away (part of) one of the program's live IOMMU mappings? */
static bool iommu_lost_mapping(void)
{
#ifdef DMAP_FUZZ_HAVE_IOMMU
	if (!st.iommu)
		return false;
	for (int i = 0; i < MAX_MAPS; i++)
		if (st.maps[i].used && !iommu_range_mapped(st.maps[i].bus, st.maps[i].size))
			return true;
	for (int i = 0; i < MAX_COHERENT; i++)
		if (st.coh[i].used && !iommu_range_mapped(st.coh[i].handle, st.coh[i].size))
			return true;
	for (int i = 0; i < MAX_SGS; i++) {
		const struct live_sg *l = &st.sgs[i];

		/* Segments may merge entries: check each segment. */
		for (int k = 0; l->used && k < l->nents && l->sg[k].dma_len; k++)
			if (!iommu_range_mapped(l->sg[k].dma_addr, l->sg[k].dma_len))
				return true;
	}
#endif
	return false;
}

/*
 * A misuse call returned @ret: it must be a clean error or 0. Either way, if
 * it took a live mapping away (a bounce slot freed, an IOMMU range unmapped),
 * the program's own later unmap of it may fail: mark the program uncertain.
 */
static void misuse_result(int ret, uint64_t live_before, const char *what)
{
	bool lost = bounce_live() < live_before;

	FUZZ_CHECK(ret == 0 || is_errno(ret), "%s returned %d", what, ret);
	if (ret == 0)
		stats.misuse_ok++;
	if (iommu_lost_mapping()) {
		/*
		 * The iommu backend takes a mapping only for an (address, size,
		 * device) that is exactly a live one's - then the call succeeds;
		 * an error must leave everything mapped.
		 */
		FUZZ_CHECK(ret == 0, "%s returned %d but tore down a live IOMMU mapping", what,
			   ret);
		lost = true;
	}
	if (lost) {
		stats.uncertain += !st.uncertain;
		st.uncertain = true;
	}
}

static void op_unmap(struct fuzz_input *in)
{
	int i = pick_map(in);
	unsigned int how = fuzz_below(in, 4);
	int ret;

	if (i >= 0 && how < 3) {
		struct live_map *m = &st.maps[i];
		/* Valid, or with another valid direction or SKIP_CPU_SYNC: both allowed. */
		enum dmap_dir dir = how == 2 ? (enum dmap_dir)fuzz_below(in, 3) : m->dir;
		unsigned long attrs = fuzz_bool(in) ? DMAP_ATTR_SKIP_CPU_SYNC : 0;

		ret = fuzz_bool(in) ?
			      dmap_unmap_single(st.devs[m->dev].dev, m->bus, m->size, dir, attrs) :
			      dmap_unmap_phys(st.devs[m->dev].dev, m->bus, m->size, dir, attrs);
		TRACE("unmap(dev %u, bus %llx, size %zx, %s, attrs %lx) = %d", m->dev,
		      (unsigned long long)m->bus, m->size, dmap_dir_name(dir), attrs, ret);
		FUZZ_CHECK(
			ret == 0 || (st.uncertain && ret == -DMAP_ENOENT),
			"unmap of live mapping bus %llx size %zx (phys %llx, %s, %s, attrs %lx): %d",
			(unsigned long long)m->bus, m->size, (unsigned long long)m->phys,
			m->direct ? "direct" : "bounced", dmap_dir_name(m->dir), m->attrs, ret);
		forget_map(i);
		return;
	}
	/* Misuse: a random address, one inside a live mapping, the error value, bad args. */
	{
		int dev = pick_dev(in);
		dmap_addr_t addr = pick_phys(in);
		size_t size = pick_size(in);
		enum dmap_dir dir = pick_dir(in);
		unsigned long attrs = pick_attrs(in);
		uint64_t live = bounce_live();

		if (i >= 0 && fuzz_bool(in))
			addr = st.maps[i].bus + 1 + fuzz_below(in, 64);
		if (fuzz_below(in, 8) == 0)
			addr = DMAP_MAPPING_ERROR;
		ret = dmap_unmap_phys(dev_ptr(dev), addr, size, dir, attrs);
		TRACE("misuse unmap(dev %d, bus %llx, size %zx, %s, attrs %lx) = %d", dev,
		      (unsigned long long)addr, size, dmap_dir_name(dir), attrs, ret);
		if (!args_ok(dev, addr, size, dir, attrs) || addr == DMAP_MAPPING_ERROR)
			FUZZ_CHECK(ret < 0, "invalid unmap(%llx, %zx, %d, %lx) returned %d",
				   (unsigned long long)addr, size, (int)dir, attrs, ret);
		misuse_result(ret, live, "unmap");
	}
}

static void op_sync(struct fuzz_input *in)
{
	int i = pick_map(in);
	bool for_cpu = fuzz_bool(in);
	int ret;

	if (i >= 0 && fuzz_below(in, 4)) {
		struct live_map *m = &st.maps[i];
		size_t off = fuzz_below(in, 256) % m->size;
		size_t len = 1 + fuzz_below(in, 256) % (m->size - off);
		struct dmap_dev *dev = st.devs[m->dev].dev;

		ret = for_cpu ? dmap_sync_single_for_cpu(dev, m->bus + off, len, m->dir) :
				dmap_sync_single_for_device(dev, m->bus + off, len, m->dir);
		FUZZ_CHECK(ret == 0 || (st.uncertain && ret == -DMAP_ENOENT),
			   "sync of live mapping bus %llx + %zx len %zx: %d",
			   (unsigned long long)m->bus, off, len, ret);
		return;
	}
	{
		int dev = pick_dev(in);
		dmap_addr_t addr = pick_phys(in);
		size_t size = pick_size(in);
		enum dmap_dir dir = pick_dir(in);

		ret = for_cpu ? dmap_sync_single_for_cpu(dev_ptr(dev), addr, size, dir) :
				dmap_sync_single_for_device(dev_ptr(dev), addr, size, dir);
		if (!args_ok(dev, addr, size, dir, 0))
			FUZZ_CHECK(ret < 0, "invalid sync(%llx, %zx, %d) returned %d",
				   (unsigned long long)addr, size, (int)dir, ret);
		FUZZ_CHECK(ret == 0 || is_errno(ret), "sync returned %d", ret);
	}
}

/* The device writes into a live mapping; after sync_for_cpu the CPU must see it (and back). */
static void op_roundtrip(struct fuzz_input *in)
{
	int i = pick_map(in);
	struct live_map *m;
	struct dmap_dev *dev;
	size_t off, len;
	uint8_t *cpu;
	int ret;

	if (i < 0)
		return;
	m = &st.maps[i];
	if (st.uncertain)
		return; /* a misuse call may have torn this mapping down */
	if (st.iommu && (m->attrs & DMAP_ATTR_PRIVILEGED))
		return; /* dev_read()/dev_write() are unprivileged: they fault, rightly */
	dev = st.devs[m->dev].dev;
	off = fuzz_u32(in) % m->size;
	len = 1 + fuzz_below(in, CHECK_BYTES) % (m->size - off);
	cpu = ram(m->phys + off, len);
	if (!cpu)
		return;
	for (size_t k = 0; k < len; k++)
		scratch[1][k] = (uint8_t)(fuzz_u8(in) + k);
	if (fuzz_bool(in)) {
		/* Device -> CPU. */
		ret = dmap_dev_write(dev, m->bus + off, scratch[1], len);
		if (m->dir == DMAP_TO_DEVICE) {
			/* A bounce refuses (permission fault); a direct mapping cannot. */
			FUZZ_CHECK(ret == 0 || (!m->direct && ret == -DMAP_EFAULT),
				   "device write to TO_DEVICE mapping: %d", ret);
			return;
		}
		FUZZ_CHECK(ret == 0, "device write to a live %s mapping at %llx: %d",
			   dmap_dir_name(m->dir), (unsigned long long)(m->bus + off), ret);
		ret = dmap_sync_single_for_cpu(dev, m->bus + off, len, m->dir);
		FUZZ_CHECK(ret == 0, "sync_for_cpu after device write: %d", ret);
		stats.roundtrips++;
		FUZZ_CHECK(memcmp(cpu, scratch[1], len) == 0,
			   "CPU does not see the device's write after sync_for_cpu (bus %llx, %s)",
			   (unsigned long long)(m->bus + off), m->direct ? "direct" : "bounced");
	} else {
		/* CPU -> device. */
		if (m->dir == DMAP_FROM_DEVICE)
			return;
		memcpy(cpu, scratch[1], len);
		ret = dmap_sync_single_for_device(dev, m->bus + off, len, m->dir);
		FUZZ_CHECK(ret == 0, "sync_for_device: %d", ret);
		check_device_sees((int)m->dev, m->bus + off, scratch[1], len, "sync_for_device");
		stats.roundtrips++;
	}
}

static void check_sg_result(int dev, struct dmap_sg *sg, int nents, int count, enum dmap_dir dir,
			    unsigned long attrs)
{
	struct dmap_dev_info info;
	int e = 0;

	get_info(dev, &info);
	FUZZ_CHECK(count >= 1 && count <= nents, "map_sg(%d) returned %d", nents, count);
	for (int s = 0; s < count; s++) {
		size_t covered = 0;
		int first = e;
		dmap_addr_t bus = sg[s].dma_addr;

		FUZZ_CHECK(sg[s].dma_len > 0, "segment %d has length 0", s);
		FUZZ_CHECK(capable(&info, bus, sg[s].dma_len),
			   "segment %d at %llx beyond the limit", s, (unsigned long long)bus);
		while (covered < sg[s].dma_len && e < nents)
			covered += sg[e++].len;
		FUZZ_CHECK(covered == sg[s].dma_len,
			   "segment %d (len %zx) does not cover whole entries", s, sg[s].dma_len);
		if (e - first > 1) {
			FUZZ_CHECK(sg[s].dma_len <= info.max_seg_size,
				   "merged segment %d of %zx bytes exceeds max_seg_size %zx", s,
				   sg[s].dma_len, info.max_seg_size);
			FUZZ_CHECK(((bus ^ (bus + sg[s].dma_len - 1)) & ~info.seg_boundary_mask) ==
					   0,
				   "merged segment %d crosses boundary mask %llx", s,
				   (unsigned long long)info.seg_boundary_mask);
		}
		/* The data: each entry's bytes, in order, through the segment. */
		for (int k = first, at = 0; k < e; at += (int)sg[k].len, k++) {
			size_t n = sg[k].len < 64 ? sg[k].len : 64;
			uint8_t *cpu = ram(sg[k].phys, n);

			/* SKIP_CPU_SYNC: a bounced entry holds zeros until the driver syncs. */
			if (cpu && ram(sg[k].phys, sg[k].len) &&
			    !(attrs & DMAP_ATTR_SKIP_CPU_SYNC) &&
			    !(st.iommu &&
			      ((attrs & DMAP_ATTR_PRIVILEGED) || dir == DMAP_FROM_DEVICE)))
				check_device_sees(dev, bus + (size_t)at, cpu, n, "map_sg");
		}
	}
	FUZZ_CHECK(e == nents, "segments cover %d of %d entries", e, nents);
	for (int s = count; s < nents; s++)
		FUZZ_CHECK(sg[s].dma_len == 0, "entry %d past the count has dma_len %zx", s,
			   sg[s].dma_len);
}

static void op_map_sg(struct fuzz_input *in)
{
	int dev = pick_dev(in);
	int slot = -1, nents = 1 + (int)fuzz_below(in, MAX_SG_ENTS), ret;
	enum dmap_dir dir = pick_dir(in);
	unsigned long attrs = pick_attrs(in);
	struct dmap_sg sg[MAX_SG_ENTS], *list = sg;
	bool valid = dev >= 0 && st.devs[dev].attached && dir <= DMAP_FROM_DEVICE &&
		     !(attrs & ~DMAP_ATTR_ALL);
	dmap_phys_t next = pick_phys(in);
	uint8_t garbage = fuzz_u8(in);

	for (int i = 0; i < MAX_SGS; i++)
		if (!st.sgs[i].used)
			slot = i;
	if (slot < 0)
		return;
	for (int i = 0; i < MAX_SG_ENTS; i++) {
		/* Often contiguous with the previous entry, so merging happens. */
		sg[i].phys = i >= nents || fuzz_below(in, 3) != 2 ? next : pick_phys(in);
		sg[i].len = i >= nents || fuzz_below(in, 4) != 3 ? 1 + fuzz_below(in, 8192) :
								   pick_size(in);
		/* Output fields hold garbage before the call: map_sg must not read them. */
		memset(&sg[i].dma_addr, garbage, sizeof(sg[i].dma_addr));
		memset(&sg[i].dma_len, garbage, sizeof(sg[i].dma_len));
		next = sg[i].phys + sg[i].len;
		if (i < nents && (!sg[i].len || sg[i].phys + (sg[i].len - 1) < sg[i].phys))
			valid = false;
	}
	switch (fuzz_below(in, 32)) {
	case 29:
		nents = -(int)fuzz_below(in, 3);
		valid = false;
		break;
	case 30:
		list = NULL;
		valid = false;
		break;
	case 31:
		dev = -1;
		valid = false;
		break;
	}
	ret = dmap_map_sg(dev_ptr(dev), list, nents, dir, attrs);
	TRACE("map_sg(dev %d, nents %d, %s, attrs %lx) = %d", dev, nents, dmap_dir_name(dir), attrs,
	      ret);
	if (ret <= 0) {
		FUZZ_CHECK(is_errno(ret), "map_sg returned %d", ret);
		return;
	}
	FUZZ_CHECK(valid, "invalid map_sg(nents %d, dir %d, attrs %lx) returned %d", nents,
		   (int)dir, attrs, ret);
	check_sg_result(dev, sg, nents, ret, dir, attrs);
	stats.sg_maps++;
	st.sgs[slot].used = true;
	st.sgs[slot].dev = (unsigned int)dev;
	memcpy(st.sgs[slot].sg, sg, sizeof(sg));
	st.sgs[slot].nents = nents;
	st.sgs[slot].dir = dir;
	st.devs[dev].live++;
}

static void op_sg_other(struct fuzz_input *in)
{
	int start = (int)fuzz_below(in, MAX_SGS), i = -1, ret;
	unsigned int how = fuzz_below(in, 4);

	for (int k = 0; k < MAX_SGS; k++)
		if (st.sgs[(start + k) % MAX_SGS].used) {
			i = (start + k) % MAX_SGS;
			break;
		}
	if (i >= 0 && how < 3) {
		struct live_sg *l = &st.sgs[i];
		struct dmap_dev *dev = st.devs[l->dev].dev;

		if (how == 0) {
			ret = dmap_sync_sg_for_cpu(dev, l->sg, l->nents, l->dir);
		} else if (how == 1) {
			ret = dmap_sync_sg_for_device(dev, l->sg, l->nents, l->dir);
		} else {
			ret = dmap_unmap_sg(dev, l->sg, l->nents, l->dir,
					    fuzz_bool(in) ? DMAP_ATTR_SKIP_CPU_SYNC : 0);
			FUZZ_CHECK(ret == 0 || (st.uncertain && ret == -DMAP_ENOENT),
				   "unmap_sg of a live list: %d", ret);
			l->used = false;
			st.devs[l->dev].live--;
			return;
		}
		FUZZ_CHECK(ret == 0 || (st.uncertain && ret == -DMAP_ENOENT),
			   "sync_sg of a live list: %d", ret);
		return;
	}
	/* Misuse: unmap or sync a list that was never mapped (garbage dma fields). */
	{
		struct dmap_sg sg[MAX_SG_ENTS];
		int dev = pick_dev(in), nents = (int)fuzz_below(in, MAX_SG_ENTS + 1) - 1;
		enum dmap_dir dir = pick_dir(in);
		uint64_t live = bounce_live();

		for (int k = 0; k < MAX_SG_ENTS; k++) {
			sg[k].phys = pick_phys(in);
			sg[k].len = pick_size(in);
			sg[k].dma_addr = fuzz_below(in, 4) ? pick_phys(in) : DMAP_MAPPING_ERROR;
			sg[k].dma_len = fuzz_below(in, 3) ? pick_size(in) : 0;
		}
		switch (fuzz_below(in, 3)) {
		case 0:
			ret = dmap_unmap_sg(dev_ptr(dev), sg, nents, dir, pick_attrs(in));
			break;
		case 1:
			ret = dmap_sync_sg_for_cpu(dev_ptr(dev), sg, nents, dir);
			break;
		default:
			ret = dmap_sync_sg_for_device(dev_ptr(dev), sg, nents, dir);
			break;
		}
		misuse_result(ret, live, "garbage scatterlist");
	}
}

static void op_coherent(struct fuzz_input *in)
{
	int start = (int)fuzz_below(in, MAX_COHERENT), i = -1, slot = -1, ret;

	for (int k = 0; k < MAX_COHERENT; k++) {
		int j = (start + k) % MAX_COHERENT;

		if (st.coh[j].used && i < 0)
			i = j;
		if (!st.coh[j].used && slot < 0)
			slot = j;
	}
	if (fuzz_bool(in) && slot >= 0) {
		int dev = pick_dev(in);
		size_t size = fuzz_below(in, 4) ? 1 + fuzz_below(in, 3 * 4096) : pick_size(in);
		unsigned long attrs = pick_attrs(in);
		dmap_addr_t handle = 0;
		struct dmap_dev_info info;
		void *cpu = dmap_alloc_coherent(dev_ptr(dev), size,
						fuzz_below(in, 16) ? &handle : NULL, attrs);
		TRACE("alloc_coherent(dev %d, size %zx, attrs %lx) = %p handle %llx", dev, size,
		      attrs, cpu, (unsigned long long)handle);

		if (!cpu) {
			FUZZ_CHECK(handle == DMAP_MAPPING_ERROR || handle == 0,
				   "failed alloc_coherent left handle %llx",
				   (unsigned long long)handle);
			return;
		}
		FUZZ_CHECK(args_ok(dev, 0, size, DMAP_BIDIRECTIONAL, attrs),
			   "invalid alloc_coherent(size %zx, attrs %lx) succeeded", size, attrs);
		get_info(dev, &info);
		{
			uint64_t limit =
				info.bus_dma_limit && info.bus_dma_limit < info.coherent_dma_mask ?
					info.bus_dma_limit :
					info.coherent_dma_mask;

			FUZZ_CHECK(
				handle != DMAP_MAPPING_ERROR && handle + (size - 1) >= handle &&
					handle + (size - 1) <= limit,
				"coherent buffer at %llx size %zx beyond the coherent limit %llx",
				(unsigned long long)handle, size, (unsigned long long)limit);
		}
		/*
		 * The CPU and the device see the same memory; the device's accesses
		 * are checked against its streaming limit, which a coherent mask
		 * wider than the streaming mask (Linux forbids it) may exceed.
		 */
		if (capable(&info, handle, size < CHECK_BYTES ? size : CHECK_BYTES) &&
		    !(st.iommu && (attrs & DMAP_ATTR_PRIVILEGED))) {
			size_t n = size < CHECK_BYTES ? size : CHECK_BYTES;

			for (size_t k = 0; k < n; k++)
				((uint8_t *)cpu)[k] = (uint8_t)(k * 7 + 1);
			check_device_sees(dev, handle, cpu, n, "coherent");
			memset(scratch[1], 0x3c, n);
			ret = dmap_dev_write(st.devs[dev].dev, handle, scratch[1], n);
			FUZZ_CHECK(ret == 0, "device write to a coherent buffer: %d", ret);
			FUZZ_CHECK(memcmp(cpu, scratch[1], n) == 0,
				   "CPU does not see the device's write to a coherent buffer");
		}
		stats.coherent++;
		st.coh[slot] =
			(struct live_coherent){ true, (unsigned int)dev, cpu, handle, size, attrs };
		st.devs[dev].live++;
		return;
	}
	if (i >= 0 && fuzz_below(in, 4)) {
		struct live_coherent *c = &st.coh[i];

		ret = dmap_free_coherent(st.devs[c->dev].dev, c->size, c->cpu, c->handle, c->attrs);
		FUZZ_CHECK(ret == 0 ||
				   (st.uncertain && (ret == -DMAP_ENOENT || ret == -DMAP_EINVAL)),
			   "free_coherent of a live buffer: %d", ret);
		c->used = false;
		st.devs[c->dev].live--;
		return;
	}
	/* Misuse: NULL, the error handle, a handle with another buffer's pointer, random. */
	{
		int dev = pick_dev(in);
		void *cpu = i >= 0 && fuzz_bool(in) ? st.coh[i].cpu : NULL;
		dmap_addr_t handle = pick_phys(in);
		size_t size = i >= 0 ? st.coh[i].size : pick_size(in);
		uint64_t live = bounce_live();

		if (fuzz_below(in, 4) == 0)
			handle = DMAP_MAPPING_ERROR;
		if (cpu && handle == st.coh[i].handle)
			return; /* that would be a valid free */
		if (!cpu && fuzz_bool(in))
			cpu = scratch[1];
		ret = dmap_free_coherent(dev_ptr(dev), size, cpu, handle, pick_attrs(in));
		TRACE("misuse free_coherent(dev %d, size %zx, %p, handle %llx) = %d", dev, size,
		      cpu, (unsigned long long)handle, ret);
		FUZZ_CHECK(ret < 0 && is_errno(ret),
			   "free_coherent(%p, handle %llx, size %zx) of no buffer returned %d", cpu,
			   (unsigned long long)handle, size, ret);
		misuse_result(ret, live, "free_coherent");
	}
}

static void op_device_access(struct fuzz_input *in)
{
	int dev = pick_dev(in);
	int i = pick_map(in);
	dmap_addr_t addr = pick_phys(in);
	size_t len = fuzz_below(in, 8) ? fuzz_below(in, 512) : fuzz_below(in, RW_MAX + 1);
	struct dmap_translation t;
	unsigned int access;
	int ret;

	if (i >= 0 && fuzz_bool(in)) {
		addr = st.maps[i].bus + fuzz_below(in, 64) - 8;
		dev = (int)st.maps[i].dev;
	}
	switch (fuzz_below(in, 3)) {
	case 0:
		access = fuzz_below(in, 4) ? 1u + fuzz_below(in, 3) : fuzz_u8(in);
		ret = dmap_translate(dev_ptr(dev), addr, access, fuzz_below(in, 16) ? &t : NULL);
		FUZZ_CHECK(ret == 0 || is_errno(ret), "translate returned %d", ret);
		if (ret == 0)
			FUZZ_CHECK(t.len >= 1 &&
					   (t.perm & ~(DMAP_ACCESS_READ | DMAP_ACCESS_WRITE)) == 0,
				   "translate(%llx): len %zu perm %x", (unsigned long long)addr,
				   t.len, t.perm);
		break;
	case 1:
		ret = dmap_dev_read(dev_ptr(dev), addr, fuzz_below(in, 16) ? scratch[0] : NULL,
				    len);
		FUZZ_CHECK(ret == 0 || is_errno(ret), "dev_read returned %d", ret);
		break;
	default:
		memset(scratch[1], fuzz_u8(in), len);
		ret = dmap_dev_write(dev_ptr(dev), addr, fuzz_below(in, 16) ? scratch[1] : NULL,
				     len);
		FUZZ_CHECK(ret == 0 || is_errno(ret), "dev_write returned %d", ret);
		break;
	}
}

static void op_device_config(struct fuzz_input *in)
{
	int dev = pick_dev(in);
	struct dmap_dev *d = dev_ptr(dev);
	uint64_t v = pick_mask(in);
	int ret;

	/* Changing masks under live DMA is not allowed (as in Linux): only idle devices. */
	if (dev >= 0 && st.devs[dev].live)
		return;
	switch (fuzz_below(in, 9)) {
	case 0:
		ret = dmap_set_mask(d, v);
		break;
	case 1:
		ret = dmap_set_coherent_mask(d, v);
		break;
	case 2:
		ret = dmap_set_mask_and_coherent(d, v);
		break;
	case 3:
		ret = dmap_set_max_seg_size(d, fuzz_bool(in) ? (size_t)fuzz_u32(in) : 0);
		break;
	case 4:
		ret = dmap_set_seg_boundary(d, fuzz_bool(in) ? bit_mask(1 + fuzz_below(in, 64)) :
							       fuzz_u64(in));
		break;
	case 5:
		ret = dmap_set_min_align_mask(d, fuzz_bool(in) ? bit_mask(fuzz_below(in, 16)) :
								 fuzz_u64(in));
		break;
	case 6:
		/* Detach and maybe attach again. */
		if (dev < 0 || !st.devs[dev].attached) {
			ret = dmap_dev_detach(d);
			FUZZ_CHECK(ret < 0, "detach of a detached or NULL device: %d", ret);
			if (dev >= 0 && fuzz_bool(in)) {
				ret = dmap_dev_attach(d, st.top);
				FUZZ_CHECK(ret == 0 || is_errno(ret), "re-attach: %d", ret);
				st.devs[dev].attached = ret == 0;
			}
			return;
		}
		ret = dmap_dev_detach(d);
		FUZZ_CHECK(ret == 0, "detach: %d", ret);
		st.devs[dev].attached = false;
		return;
	case 7:
		(void)dmap_max_mapping_size(d);
		(void)dmap_addressing_limited(d);
		(void)dmap_dev_name(d);
		(void)dmap_dev_domain(d);
		return;
	default: {
		struct dmap_fault f;
		struct dmap_domain *doms[4] = { st.identity, st.bounce, st.iommu, NULL };

#ifdef DMAP_FUZZ_HAVE_IOMMU
		if (st.iommu) {
			ret = fuzz_bool(in) ? dmap_iommu_flush_all(st.iommu) :
					      dmap_iommu_poll(st.iommu);
			FUZZ_CHECK(ret >= 0 || is_errno(ret), "iommu flush/poll: %d", ret);
		}
#endif
		for (unsigned int k = 0; k < 4; k++) {
			for (int n = 0; n < 8; n++) {
				ret = dmap_fault_pop(doms[k], &f);
				FUZZ_CHECK(ret == 1 || ret == 0 ||
						   (!doms[k] && ret == -DMAP_EINVAL),
					   "fault_pop: %d", ret);
				if (ret != 1)
					break;
				FUZZ_CHECK(f.raw_len <= DMAP_FAULT_RAW_MAX &&
						   memchr(f.device, 0, sizeof(f.device)),
					   "fault record: raw_len %u", f.raw_len);
			}
		}
		return;
	}
	}
	FUZZ_CHECK(ret == 0 || ret == -DMAP_EINVAL || ret == -DMAP_EIO, "device setter returned %d",
		   ret);
	if (!d)
		FUZZ_CHECK(ret == -DMAP_EINVAL, "setter on NULL device: %d", ret);
}

/* ---- setup and teardown -------------------------------------------------- */

static void setup(struct fuzz_input *in)
{
	uint8_t head = fuzz_u8(in);
	struct dmap_identity_config idc = { 0 };
	int ret;

	st.fe = &envs[head & 1];
	ret = dmap_ctx_create(st.fe->env, &st.ctx);
	FUZZ_CHECK(ret == 0, "ctx_create: %d", ret);
	st.debug = head & 2;
#ifdef DMAP_FUZZ_HAVE_BOUNCE
	if (head & 4) {
		static const size_t pools[] = { 64u << 10, 256u << 10, 1u << 20, 4u << 20 };
		static const uint64_t limits[] = { 0, 0xffffffff, 0x30ffffff, 0x307fffff,
						   0x2fffffff };
		static const size_t slots[] = { 0, 512, 2048, 4096, 65536, 1000 };
		static const size_t maxmaps[] = { 0, 4096, 65536, 256u << 10, 8u << 20 };
		static const unsigned int caches[] = { 0, 1, 4, 16, 64, 3 };
		struct dmap_bounce_config bc = { .name = "fuzz-bounce" };

		bc.pool_size = FUZZ_PICK(in, pools);
		bc.phys_limit = FUZZ_PICK(in, limits);
		bc.slot_size = FUZZ_PICK(in, slots);
		bc.max_mapping_size = FUZZ_PICK(in, maxmaps);
		bc.nr_caches = FUZZ_PICK(in, caches);
		bc.no_caches = fuzz_below(in, 4) == 0;
		bc.allow_growth = fuzz_below(in, 4) == 0;
		bc.growth_cap = bc.allow_growth && fuzz_bool(in) ? bc.pool_size : 0;
		ret = dmap_bounce_domain_create(st.ctx, &bc, &st.bounce);
		FUZZ_CHECK(ret == 0 ? st.bounce != NULL : st.bounce == NULL && is_errno(ret),
			   "bounce_domain_create: %d", ret);
		if (st.bounce && st.debug && !(head & 8) && !(head & 16)) {
			/* The fallback's own debug layer too, sometimes. */
			ret = dmap_domain_set_debug(st.bounce, true);
			FUZZ_CHECK(ret == 0, "set_debug(bounce): %d", ret);
		}
	}
#endif
#ifdef DMAP_FUZZ_HAVE_IOMMU
	if (fuzz_below(in, 4) == 0) {
		static const size_t granules[] = { 0, 4096, 16384, 65536, 8192 };
		static const unsigned int ias[] = { 0, 0, 32, 39, 48, 52 };
		static const unsigned int oas[] = { 0, 0, 36, 40, 48, 52 };
		static const unsigned int levels[] = { 0, 3, 4, 5, 2 };
		struct dmap_iommu_config ic = { .name = "fuzz-iommu" };

		ic.format = fuzz_bool(in) ? DMAP_PGTABLE_ARM_LPAE_S1 : DMAP_PGTABLE_VTD_SL;
		ic.granule = FUZZ_PICK(in, granules);
		ic.ias = FUZZ_PICK(in, ias);
		ic.oas = FUZZ_PICK(in, oas);
		ic.levels = FUZZ_PICK(in, levels);
		ic.deferred = fuzz_bool(in);
		ic.fq_size = fuzz_bool(in) ? 0 : 1u << fuzz_below(in, 8);
		ic.bounce = st.bounce;
		ic.no_iotlb = fuzz_below(in, 4) == 0;
		ic.no_iova_cache = fuzz_below(in, 4) == 0;
		ic.iotlb_entries = fuzz_below(in, 4) == 0 ? 1 + fuzz_below(in, 8) : 0;
		ret = dmap_iommu_domain_create(st.ctx, &ic, &st.iommu);
		FUZZ_CHECK(ret == 0 ? st.iommu != NULL : st.iommu == NULL && is_errno(ret),
			   "iommu_domain_create: %d", ret);
	}
	if (st.iommu) {
		st.top = st.iommu;
	} else
#endif
		if (!st.bounce || !(head & 16)) {
		static const uint64_t offsets[] = { 0,		0,	    0x10000000,
						    0x80000000, 1ull << 40, 0xffff000000000000ull };

		idc.name = "fuzz-identity";
		idc.bus_offset = FUZZ_PICK(in, offsets);
		idc.fallback = st.bounce;
		idc.force_fallback = st.bounce && (head & 32);
		ret = dmap_identity_domain_create(st.ctx, &idc, &st.identity);
		FUZZ_CHECK(ret == 0, "identity_domain_create: %d", ret);
		st.bus_offset = idc.bus_offset;
		st.force_fallback = idc.force_fallback;
		st.top = st.identity;
	} else {
		st.top = st.bounce;
	}
	if (st.debug) {
		ret = dmap_domain_set_debug(st.top, true);
		FUZZ_CHECK(ret == 0, "set_debug: %d", ret);
	}
	if (head & 64)
		FUZZ_CHECK(dmap_domain_set_counting(st.top, true) == 0, "set_counting");

	st.nr_devs = 1 + fuzz_below(in, MAX_DEVS);
	for (unsigned int i = 0; i < st.nr_devs; i++) {
		static const size_t segs[] = { 0, 512, 4096, 65536, 3 };
		static const uint64_t bounds[] = { 0, 0xfff, 0xffff, 0xffffffff, 0x1234 };
		static const uint64_t aligns[] = { 0, 0, 0xfff, 0x7, 0x1ff, 0x1000 };
		struct dmap_dev_info info = { .name = "fuzz-dev" };
		struct dmap_dev *dev = NULL;

		info.stream_id = i;
		info.dma_mask = pick_mask(in);
		info.coherent_dma_mask = fuzz_bool(in) ? info.dma_mask : pick_mask(in);
		info.bus_dma_limit = fuzz_below(in, 4) ? 0 : pick_mask(in);
		info.max_seg_size = FUZZ_PICK(in, segs);
		info.seg_boundary_mask = FUZZ_PICK(in, bounds);
		info.min_align_mask = FUZZ_PICK(in, aligns);
		info.flags = fuzz_below(in, 8) ? fuzz_below(in, 4) : fuzz_u32(in);
		if (fuzz_below(in, 16) == 0)
			info.name = "a device name far longer than the thirty-one bytes dmap keeps";
		ret = dmap_dev_create(st.ctx, &info, &dev);
		if (ret) {
			FUZZ_CHECK(ret == -DMAP_EINVAL && !dev, "dev_create: %d", ret);
			/* Fall back to a default device so the program has something to drive. */
			memset(&info, 0, sizeof(info));
			info.dma_mask = pick_mask(in);
			ret = dmap_dev_create(st.ctx, &info, &dev);
			FUZZ_CHECK(ret == 0, "dev_create(defaults): %d", ret);
		}
		st.devs[i].dev = dev;
		/* The last device stays detached a quarter of the time. */
		if (i + 1 < st.nr_devs || st.nr_devs == 1 || fuzz_below(in, 4)) {
			ret = dmap_dev_attach(dev, st.top);
			FUZZ_CHECK(ret == 0 || is_errno(ret), "attach: %d", ret);
			st.devs[i].attached = ret == 0;
		}
	}
}

static void teardown(uint64_t pool_baseline)
{
	struct dmap_debug_counts dc;
	int ret;

	for (int i = 0; i < MAX_MAPS; i++) {
		if (!st.maps[i].used)
			continue;
		ret = dmap_unmap_phys(st.devs[st.maps[i].dev].dev, st.maps[i].bus, st.maps[i].size,
				      st.maps[i].dir, 0);
		FUZZ_CHECK(ret == 0 || (st.uncertain && ret == -DMAP_ENOENT),
			   "final unmap of bus %llx: %d", (unsigned long long)st.maps[i].bus, ret);
		forget_map(i);
	}
	for (int i = 0; i < MAX_SGS; i++) {
		if (!st.sgs[i].used)
			continue;
		ret = dmap_unmap_sg(st.devs[st.sgs[i].dev].dev, st.sgs[i].sg, st.sgs[i].nents,
				    st.sgs[i].dir, 0);
		FUZZ_CHECK(ret == 0 || (st.uncertain && ret == -DMAP_ENOENT), "final unmap_sg: %d",
			   ret);
		st.sgs[i].used = false;
		st.devs[st.sgs[i].dev].live--;
	}
	for (int i = 0; i < MAX_COHERENT; i++) {
		struct live_coherent *c = &st.coh[i];

		if (!c->used)
			continue;
		ret = dmap_free_coherent(st.devs[c->dev].dev, c->size, c->cpu, c->handle, c->attrs);
		FUZZ_CHECK(ret == 0 ||
				   (st.uncertain && (ret == -DMAP_ENOENT || ret == -DMAP_EINVAL)),
			   "final free_coherent: %d", ret);
		c->used = false;
		st.devs[c->dev].live--;
	}
	/* Nothing may be left in the pools, whatever misuse happened. */
	FUZZ_CHECK(bounce_live() == 0, "bounce pool still holds %llu mappings after cleanup",
		   (unsigned long long)bounce_live());
	if (st.debug) {
		ret = dmap_debug_get_counts(st.top, &dc);
		FUZZ_CHECK(ret == 0, "debug_get_counts: %d", ret);
		FUZZ_CHECK(dc.live_mappings == 0, "debug layer still tracks %llu mappings",
			   (unsigned long long)dc.live_mappings);
	}
	for (unsigned int i = 0; i < st.nr_devs; i++) {
		ret = dmap_dev_destroy(st.devs[i].dev);
		FUZZ_CHECK(ret == 0, "dev_destroy: %d", ret);
	}
	if (st.debug) {
		ret = dmap_debug_get_counts(st.top, &dc);
		FUZZ_CHECK(ret == 0 && dc.reports[DMAP_DEBUG_LEAK] == 0,
			   "debug layer reported %llu leaks",
			   (unsigned long long)dc.reports[DMAP_DEBUG_LEAK]);
	}
	if (st.identity) {
		if (st.bounce)
			FUZZ_CHECK(dmap_domain_destroy(st.bounce) == -DMAP_EBUSY,
				   "a fallback in use was destroyed");
		ret = dmap_domain_destroy(st.identity);
		FUZZ_CHECK(ret == 0, "identity destroy: %d", ret);
	}
	if (st.iommu) {
		ret = dmap_domain_destroy(st.iommu);
		FUZZ_CHECK(ret == 0, "iommu destroy: %d", ret);
	}
	if (st.bounce) {
		ret = dmap_domain_destroy(st.bounce);
		FUZZ_CHECK(ret == 0, "bounce destroy: %d", ret);
	}
	ret = dmap_ctx_destroy(st.ctx);
	FUZZ_CHECK(ret == 0, "ctx_destroy: %d", ret);
	/* Pools are freed after a grace period: wait for it, then nothing may be left. */
	st.fe->env->ops->rcu_barrier(st.fe->env->cookie);
	FUZZ_CHECK(pool_bytes_in_use() == pool_baseline,
		   "environment pages leaked: %llu bytes in use, %llu before",
		   (unsigned long long)pool_bytes_in_use(), (unsigned long long)pool_baseline);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_input in;
	uint64_t baseline;

	setup_envs();
	stats.programs++;
	fuzz_input_init(&in, data, size);
	memset(&st, 0, sizeof(st));
	st.fe = &envs[size ? data[0] & 1 : 0];
	baseline = pool_bytes_in_use();
	setup(&in);
	for (unsigned int step = 0; step < MAX_STEPS && !fuzz_done(&in); step++) {
		switch (fuzz_below(&in, 16)) {
		case 0:
		case 1:
		case 2:
			op_map(&in, false);
			break;
		case 3:
			op_map(&in, true);
			break;
		case 4:
		case 5:
			op_unmap(&in);
			break;
		case 6:
			op_sync(&in);
			break;
		case 7:
		case 8:
			op_roundtrip(&in);
			break;
		case 9:
			op_map_sg(&in);
			break;
		case 10:
			op_sg_other(&in);
			break;
		case 11:
			op_coherent(&in);
			break;
		case 12:
		case 13:
			op_device_access(&in);
			break;
		default:
			op_device_config(&in);
			break;
		}
	}
	teardown(baseline);
	return 0;
}
