// SPDX-License-Identifier: MIT
/*
 * backends/identity/identity.c - the identity backend (Linux: dma-direct).
 *
 * Design: bus address = physical address + bus_offset (mod 2^64), with no
 * per-mapping state at all, so map and unmap are a few instructions and
 * scale to any number of threads. The only decision is reachability: a
 * mapping goes direct when the device can address every byte of the bus
 * range - dma_capable(): last byte at or below min(dma_mask, bus_dma_limit),
 * computed once in dmap_dev_capable(). Nothing else may cause bouncing
 * (DESIGN.md problem 3): a 64-bit device maps high memory directly, a
 * 32-bit one bounces only what lies above 4 GiB.
 *
 * What the device cannot reach goes to an optional fallback domain (a bounce
 * domain, as swiotlb sits behind dma-direct), called through its active ops
 * table so its own debug layer sees the mapping. Without a fallback the map
 * fails with a rate-limited message naming device, address, size, mask and
 * bus limit. force_fallback sends every streaming mapping to the fallback
 * (swiotlb=force: confidential guests whose memory the device may not see).
 *
 * Unmap and sync must route an address back to whoever produced it. The
 * fallback is asked first (owns_addr, Linux's is_swiotlb_buffer()); anything
 * else is direct and needs only cache maintenance for a non-coherent device:
 * clean before the device reads, invalidate before the CPU reads what the
 * device wrote. An address the device could never have been given (above
 * its DMA limit, not the fallback's) is reported as -ENOENT.
 *
 * Cache maintenance needs RAM, so one rule decides where "no RAM" is an
 * error: at map time, and only when maintenance is due (a non-coherent
 * device in an environment with cache hooks) and the caller did not say
 * DMAP_ATTR_MMIO. Such a map fails; an MMIO mapping maps unchecked. Unmap
 * and sync then never fail for want of RAM: what reaches them without RAM
 * is device memory, which has no cached lines. A coherent system never
 * looks at RAM at all (dma-direct does not either).
 *
 * Device side: translate inverts the arithmetic. An address above the
 * device's reach is an address-size fault (the device cannot drive it). Its
 * reach is the wider of its streaming and coherent limits: the masks are
 * accepted in any order (Linux's dma_set_coherent_mask() does not compare
 * them), and a driver that declares a coherent mask wider than the
 * streaming one says the device drives those addresses for its coherent
 * buffers (descriptor rings behind 64-bit registers, data behind 32-bit
 * ones), so it must reach what alloc_coherent gave it. An
 * address whose physical page is not RAM is a no-memory fault, and direct
 * memory is readable and writable (no IOMMU enforces direction). The
 * contiguous length comes from the environment, so device accesses walk
 * region by region.
 *
 * Coherent memory comes from the environment's alloc_dma_pages below the
 * coherent limit translated to physical (limit - offset; if the offset is
 * above the limit no direct memory qualifies), else from the fallback.
 */
#include <dmap/identity.h>
#include <dmap/ops.h>
#include <dmap/helpers.h>

struct dmap_identity {
	struct dmap_domain dom;
	uint64_t bus_offset;
	struct dmap_domain *fallback;
	bool force_fallback;
	/* The environment has cache hooks (fixed for its lifetime): read once, not per map. */
	bool env_cache_hooks;
	struct dmap_ratelimit ratelimit;
};

static inline struct dmap_identity *to_identity(struct dmap_domain *dom)
{
	return dmap_container_of(dom, struct dmap_identity, dom);
}

static inline bool dmap_identity_needs_cache_ops(const struct dmap_identity *id,
						 const struct dmap_dev *dev)
{
	return id->env_cache_hooks && !(dev->flags & DMAP_DEV_COHERENT);
}

static __attribute__((noinline, cold)) dmap_addr_t
dmap_identity_map_slow(struct dmap_identity *id, struct dmap_dev *dev, dmap_phys_t phys,
		       size_t size, enum dmap_dir dir, unsigned long attrs)
{
	struct dmap_domain *dom = &id->dom;
	dmap_addr_t bus = phys + id->bus_offset;

	if (id->fallback) {
		dmap_addr_t addr =
			dmap_domain_call_map_phys(id->fallback, dev, phys, size, dir, attrs);

		if (addr != DMAP_MAPPING_ERROR)
			dmap_domain_count(dom, fallback_maps, 1);
		return addr;
	}
	if (!(attrs & DMAP_ATTR_NO_WARN) && dmap_ratelimit_ok(dom->env, &id->ratelimit))
		dmap_log(
			dom->env, DMAP_LOG_WARN,
			"dmap: %s: identity '%s': cannot reach phys 0x%llx size 0x%zx (bus 0x%llx): dma mask 0x%llx, bus limit 0x%llx, and no fallback domain",
			dev->name, dom->name, (unsigned long long)phys, size,
			(unsigned long long)bus, (unsigned long long)dev->dma_mask,
			(unsigned long long)dev->bus_dma_limit);
	return DMAP_MAPPING_ERROR;
}

/*
 * Direct mapping for a non-coherent device. Its cache maintenance (clean
 * now, invalidate at unmap/sync) needs RAM behind every byte, whatever the
 * direction and even with SKIP_CPU_SYNC (a later unmap or sync still does
 * it), so a range without RAM fails here rather than at unmap: Linux's
 * dma_map_page() can only be given RAM (a struct page). Device memory is
 * mapped with DMAP_ATTR_MMIO (dma_map_resource()): never cache-maintained,
 * never checked.
 */
static __attribute__((noinline)) dmap_addr_t
dmap_identity_map_sync(struct dmap_identity *id, struct dmap_dev *dev, dmap_phys_t phys,
		       size_t size, enum dmap_dir dir, unsigned long attrs)
{
	const struct dmap_env *env = id->dom.env;

	if (attrs & DMAP_ATTR_MMIO)
		return phys + id->bus_offset;
	if (dmap_phys_check_ram(env, phys, size) ||
	    (!(attrs & DMAP_ATTR_SKIP_CPU_SYNC) &&
	     dmap_cache_sync_phys(env, dev, phys, size, dir, false))) {
		if (!(attrs & DMAP_ATTR_NO_WARN) && dmap_ratelimit_ok(env, &id->ratelimit))
			dmap_log(
				env, DMAP_LOG_WARN,
				"dmap: %s: identity '%s': no RAM behind phys 0x%llx size 0x%zx: a non-coherent device's mapping needs cache maintenance (device memory: map with DMAP_ATTR_MMIO)",
				dev->name, id->dom.name, (unsigned long long)phys, size);
		return DMAP_MAPPING_ERROR;
	}
	return phys + id->bus_offset;
}

/*
 * Cache maintenance at unmap or sync of a direct range. A byte without RAM
 * can only belong to a DMAP_ATTR_MMIO mapping (map refused every other
 * one), and device memory has nothing cached to maintain: the walk stops
 * there and the call succeeds, as dma_direct_unmap_phys() returns early for
 * DMA_ATTR_MMIO. Linux has no way to tell a sync of such a mapping apart
 * either; dmap keeps it harmless.
 */
static int dmap_identity_cache_sync(struct dmap_identity *id, struct dmap_dev *dev,
				    dmap_phys_t phys, size_t size, enum dmap_dir dir, bool for_cpu)
{
	(void)dmap_cache_sync_phys(id->dom.env, dev, phys, size, dir, for_cpu);
	return 0;
}

static dmap_addr_t dmap_identity_map_phys(struct dmap_domain *dom, struct dmap_dev *dev,
					  dmap_phys_t phys, size_t size, enum dmap_dir dir,
					  unsigned long attrs)
{
	struct dmap_identity *id = to_identity(dom);
	dmap_addr_t bus = phys + id->bus_offset;

	if (dmap_unlikely(id->force_fallback || !dmap_dev_capable(dev, bus, size)))
		return dmap_identity_map_slow(id, dev, phys, size, dir, attrs);
	if (dmap_unlikely(dmap_identity_needs_cache_ops(id, dev)))
		return dmap_identity_map_sync(id, dev, phys, size, dir, attrs);
	return bus;
}

static __attribute__((noinline)) int
dmap_identity_unmap_slow(struct dmap_identity *id, struct dmap_dev *dev, dmap_addr_t addr,
			 size_t size, enum dmap_dir dir, unsigned long attrs)
{
	struct dmap_domain *dom = &id->dom;

	if (id->fallback && dmap_domain_call_owns_addr(id->fallback, dev, addr))
		return dmap_domain_call_unmap_phys(id->fallback, dev, addr, size, dir, attrs);
	if (!dmap_dev_capable(dev, addr, size)) {
		dmap_log(
			dom->env, DMAP_LOG_WARN,
			"dmap: %s: identity '%s': unmap of bus 0x%llx size 0x%zx: not a direct mapping (dma limit 0x%llx) and not the fallback's",
			dev->name, dom->name, (unsigned long long)addr, size,
			(unsigned long long)dmap_dev_dma_limit(dev));
		return -DMAP_ENOENT;
	}
	if (dmap_identity_needs_cache_ops(id, dev) &&
	    !(attrs & (DMAP_ATTR_SKIP_CPU_SYNC | DMAP_ATTR_MMIO)))
		return dmap_identity_cache_sync(id, dev, addr - id->bus_offset, size, dir, true);
	return 0;
}

static int dmap_identity_unmap_phys(struct dmap_domain *dom, struct dmap_dev *dev, dmap_addr_t addr,
				    size_t size, enum dmap_dir dir, unsigned long attrs)
{
	struct dmap_identity *id = to_identity(dom);

	/* Common case: no fallback, coherent device (or no cache hooks), in range. */
	if (dmap_likely(!id->fallback && !dmap_identity_needs_cache_ops(id, dev) &&
			dmap_dev_capable(dev, addr, size)))
		return 0;
	return dmap_identity_unmap_slow(id, dev, addr, size, dir, attrs);
}

static int dmap_identity_sync(struct dmap_domain *dom, struct dmap_dev *dev, dmap_addr_t addr,
			      size_t size, enum dmap_dir dir, bool for_cpu)
{
	struct dmap_identity *id = to_identity(dom);

	if (id->fallback && dmap_domain_call_owns_addr(id->fallback, dev, addr))
		return dmap_domain_call_sync(id->fallback, dev, addr, size, dir, for_cpu);
	if (!dmap_dev_capable(dev, addr, size)) {
		dmap_log(
			dom->env, DMAP_LOG_WARN,
			"dmap: %s: identity '%s': sync of bus 0x%llx size 0x%zx: not a direct mapping (dma limit 0x%llx) and not the fallback's",
			dev->name, dom->name, (unsigned long long)addr, size,
			(unsigned long long)dmap_dev_dma_limit(dev));
		return -DMAP_ENOENT;
	}
	if (!dmap_identity_needs_cache_ops(id, dev))
		return 0;
	return dmap_identity_cache_sync(id, dev, addr - id->bus_offset, size, dir, for_cpu);
}

static int dmap_identity_sync_for_cpu(struct dmap_domain *dom, struct dmap_dev *dev,
				      dmap_addr_t addr, size_t size, enum dmap_dir dir)
{
	return dmap_identity_sync(dom, dev, addr, size, dir, true);
}

static int dmap_identity_sync_for_device(struct dmap_domain *dom, struct dmap_dev *dev,
					 dmap_addr_t addr, size_t size, enum dmap_dir dir)
{
	return dmap_identity_sync(dom, dev, addr, size, dir, false);
}

static int dmap_identity_translate(struct dmap_domain *dom, struct dmap_dev *dev, dmap_addr_t addr,
				   unsigned int access, struct dmap_translation *out,
				   struct dmap_fault *fault)
{
	struct dmap_identity *id = to_identity(dom);
	uint64_t limit = dmap_max(dmap_dev_dma_limit(dev), dmap_dev_coherent_limit(dev));
	const struct dmap_env *env = dom->env;
	dmap_phys_t phys;
	size_t contig = 0;
	uint64_t to_limit;

	if (id->fallback && dmap_domain_call_owns_addr(id->fallback, dev, addr))
		return dmap_domain_call_translate(id->fallback, dev, addr, access, out, fault);
	if (addr > limit) {
		fault->reason = DMAP_FAULT_ADDR_SIZE;
		return -DMAP_EFAULT;
	}
	phys = addr - id->bus_offset;
	if (!env->ops->phys_to_virt(env->cookie, phys, &contig) || !contig) {
		fault->reason = DMAP_FAULT_NO_MEMORY;
		return -DMAP_EFAULT;
	}
	/* Never let one chunk run past what the device can address. */
	to_limit = limit - addr + 1; /* 0 means 2^64: the whole space */
	if (to_limit && contig > to_limit)
		contig = (size_t)to_limit;
	out->phys = phys;
	out->len = contig;
	out->perm = DMAP_ACCESS_READ | DMAP_ACCESS_WRITE;
	return 0;
}

static void *dmap_identity_alloc_coherent(struct dmap_domain *dom, struct dmap_dev *dev,
					  size_t size, dmap_addr_t *handle, unsigned long attrs)
{
	struct dmap_identity *id = to_identity(dom);
	const struct dmap_env *env = dom->env;
	uint64_t limit = dmap_dev_coherent_limit(dev);
	dmap_phys_t phys = 0;
	void *cpu = NULL;

	if (!id->force_fallback && env->ops->alloc_dma_pages && limit >= id->bus_offset) {
		cpu = env->ops->alloc_dma_pages(env->cookie, size, 4096, limit - id->bus_offset,
						&phys);
		if (cpu) {
			*handle = phys + id->bus_offset;
			return cpu;
		}
	}
	if (id->fallback && id->fallback->ops->alloc_coherent) {
		cpu = id->fallback->ops->alloc_coherent(id->fallback, dev, size, handle, attrs);
		if (cpu)
			return cpu;
	}
	if (!(attrs & DMAP_ATTR_NO_WARN))
		dmap_log(
			env, DMAP_LOG_WARN,
			"dmap: %s: identity '%s': no coherent memory of size 0x%zx below coherent limit 0x%llx (bus offset 0x%llx)%s",
			dev->name, dom->name, size, (unsigned long long)limit,
			(unsigned long long)id->bus_offset,
			id->fallback ? ", fallback failed too" : "");
	*handle = DMAP_MAPPING_ERROR;
	return NULL;
}

static int dmap_identity_free_coherent(struct dmap_domain *dom, struct dmap_dev *dev, size_t size,
				       void *cpu_addr, dmap_addr_t handle, unsigned long attrs)
{
	struct dmap_identity *id = to_identity(dom);
	const struct dmap_env *env = dom->env;
	dmap_phys_t phys = handle - id->bus_offset;
	size_t contig = 0;
	void *va;

	if (id->fallback && dmap_domain_call_owns_addr(id->fallback, dev, handle) &&
	    id->fallback->ops->free_coherent)
		return id->fallback->ops->free_coherent(id->fallback, dev, size, cpu_addr, handle,
							attrs);
	dmap_rcu_read_lock();
	va = env->ops->phys_to_virt(env->cookie, phys, &contig);
	dmap_rcu_read_unlock();
	if (va != cpu_addr || contig < size || !env->ops->free_dma_pages) {
		dmap_log(
			env, DMAP_LOG_WARN,
			"dmap: %s: identity '%s': free_coherent: handle 0x%llx size 0x%zx does not match cpu address %p",
			dev->name, dom->name, (unsigned long long)handle, size, cpu_addr);
		return -DMAP_EINVAL;
	}
	env->ops->free_dma_pages(env->cookie, cpu_addr, phys, size);
	return 0;
}

/* Is some RAM out of the device's direct reach? */
static bool dmap_identity_addressing_limited(struct dmap_domain *dom, struct dmap_dev *dev)
{
	struct dmap_identity *id = to_identity(dom);
	const struct dmap_env *env = dom->env;
	uint64_t max_ram =
		env->ops->max_ram_address ? env->ops->max_ram_address(env->cookie) : ~(uint64_t)0;
	uint64_t ram_bus = max_ram + id->bus_offset;

	if (ram_bus < max_ram)
		ram_bus = ~(uint64_t)0; /* top of RAM lands past 2^64: saturate */
	return dmap_dev_dma_limit(dev) < ram_bus;
}

static size_t dmap_identity_max_mapping_size(struct dmap_domain *dom, struct dmap_dev *dev)
{
	struct dmap_identity *id = to_identity(dom);
	struct dmap_domain *fb = id->fallback;

	if (fb && (id->force_fallback || dmap_identity_addressing_limited(dom, dev)))
		return fb->backend_ops->max_mapping_size ?
			       fb->backend_ops->max_mapping_size(fb, dev) :
			       SIZE_MAX;
	return SIZE_MAX;
}

static bool dmap_identity_dma_supported(struct dmap_domain *dom, struct dmap_dev *dev,
					uint64_t mask)
{
	struct dmap_domain *fb = to_identity(dom)->fallback;

	if (fb && fb->backend_ops->dma_supported)
		return fb->backend_ops->dma_supported(fb, dev, mask);
	return true;
}

static bool dmap_identity_owns_addr(struct dmap_domain *dom, struct dmap_dev *dev, dmap_addr_t addr)
{
	struct dmap_identity *id = to_identity(dom);

	/* A stacked domain above us asks: only our fallback's mappings are state. */
	return id->fallback && dmap_domain_call_owns_addr(id->fallback, dev, addr);
}

static void dmap_identity_destroy(struct dmap_domain *dom)
{
	struct dmap_identity *id = to_identity(dom);
	const struct dmap_env *env = dom->env;

	dmap_domain_unuse(id->fallback);
	dmap_env_free(env, id, sizeof(*id));
}

static const struct dmap_ops dmap_identity_ops = {
	.name = "identity",
	.destroy = dmap_identity_destroy,
	.map_phys = dmap_identity_map_phys,
	.unmap_phys = dmap_identity_unmap_phys,
	.sync_for_cpu = dmap_identity_sync_for_cpu,
	.sync_for_device = dmap_identity_sync_for_device,
	.alloc_coherent = dmap_identity_alloc_coherent,
	.free_coherent = dmap_identity_free_coherent,
	.max_mapping_size = dmap_identity_max_mapping_size,
	.dma_supported = dmap_identity_dma_supported,
	.addressing_limited = dmap_identity_addressing_limited,
	.translate = dmap_identity_translate,
	.owns_addr = dmap_identity_owns_addr,
};

/**
 * dmap_identity_domain_create() - see <dmap/identity.h>.
 *
 * Context: may sleep. @config may be NULL (all defaults). Errors: -EINVAL
 * (NULL @ctx/@out, force_fallback without a fallback, a fallback of another
 * context), -ENOMEM.
 */
int dmap_identity_domain_create(struct dmap_ctx *ctx, const struct dmap_identity_config *config,
				struct dmap_domain **out)
{
	static const struct dmap_identity_config defaults = { 0 };
	const struct dmap_env *env;
	struct dmap_identity *id;
	int ret;

	if (out)
		*out = NULL;
	if (!ctx || !out)
		return -DMAP_EINVAL;
	env = dmap_ctx_env(ctx);
	if (!config)
		config = &defaults;
	if (config->force_fallback && !config->fallback) {
		dmap_log(env, DMAP_LOG_ERR,
			 "dmap: identity '%s': force_fallback needs a fallback domain",
			 config->name ? config->name : "identity");
		return -DMAP_EINVAL;
	}
	if (config->fallback && config->fallback->ctx != ctx) {
		dmap_log(env, DMAP_LOG_ERR,
			 "dmap: identity '%s': fallback domain '%s' belongs to another context",
			 config->name ? config->name : "identity", config->fallback->name);
		return -DMAP_EINVAL;
	}
	id = dmap_env_alloc(env, sizeof(*id), DMAP_ALLOC_ZERO);
	if (!id) {
		dmap_log(env, DMAP_LOG_ERR, "dmap: identity '%s': out of memory",
			 config->name ? config->name : "identity");
		return -DMAP_ENOMEM;
	}
	dmap_memset(id, 0, sizeof(*id));
	id->bus_offset = config->bus_offset;
	id->fallback = config->fallback;
	id->force_fallback = config->force_fallback;
	id->env_cache_hooks = env->ops->cache_clean || env->ops->cache_invalidate;
	id->ratelimit = (struct dmap_ratelimit)DMAP_RATELIMIT_DEFAULT;
	if (id->fallback)
		dmap_domain_use(id->fallback);
	ret = dmap_domain_init(&id->dom, ctx, &dmap_identity_ops, config->name);
	if (ret) {
		dmap_domain_unuse(id->fallback);
		dmap_env_free(env, id, sizeof(*id));
		return ret;
	}
	*out = &id->dom;
	return 0;
}
