// SPDX-License-Identifier: MIT
/*
 * core/src/dispatch.c - the driver-side entry points: validate once, then
 * one indirect call into the device's domain.
 *
 * Design: this is the hot path of every DMA a driver does, so it is shaped
 * around the common case of valid arguments and an attached device:
 *
 *  - all argument checks of a call are folded into one unlikely branch; only
 *    when it fires does a separate, out-of-line (cold) function work out
 *    which argument was wrong, log it with the device name, address and size,
 *    and count it. The message costs nothing until something is wrong.
 *  - the domain is found with one acquire load of dev->domain (pairing with
 *    the release in dmap_dev_attach()), then its active ops table is called:
 *    the backend's own or the debug wrapper, the core does not care which.
 *  - per-mapping statistics are opt-in (dmap_domain_set_counting()); when
 *    off, the only extra work is one relaxed load of the flag, folded into
 *    the same unlikely branch as the error check on the result, so a
 *    successful identity map+unmap executes no atomic read-modify-write.
 *    Errors are always counted: they are rare and they are what operators
 *    look for.
 *
 * Backends never re-validate (see <dmap/ops.h>), so the checks here are the
 * library's whole defence against bad input: NULL device, size 0, a range
 * whose last byte wraps past 2^64, a direction that is not one of the three
 * a mapping may have (DMAP_NONE included), attribute bits dmap does not
 * know, and a device that is not attached.
 */
#include "internal.h"

void dmap_invalid_arg(struct dmap_dev *dev, struct dmap_domain *dom, const char *fmt, ...)
{
	char what[192];
	va_list ap;

	va_start(ap, fmt);
	dmap_vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	if (dom)
		dmap_domain_count(dom, invalid_args, 1);
	dmap_log(dmap_dev_env(dev), DMAP_LOG_WARN, "dmap: %s: %s", dev->name, what);
}

/* True when any argument of a (addr, size, dir, attrs) call is invalid. */
static inline bool dmap_bad_range_args(dmap_addr_t addr, size_t size, enum dmap_dir dir,
				       unsigned long attrs)
{
	return !size || addr + (size - 1) < addr || !dmap_valid_dir(dir) ||
	       (attrs & ~DMAP_ATTR_ALL);
}

/*
 * The cold half of every check: find what is wrong with a call, say so and
 * return the errno. @dom is the attached domain (NULL: not attached).
 */
static __attribute__((noinline, cold)) int
dmap_reject(struct dmap_dev *dev, struct dmap_domain *dom, const char *call, const char *addr_kind,
	    uint64_t addr, size_t size, enum dmap_dir dir, unsigned long attrs)
{
	if (!size) {
		dmap_invalid_arg(dev, dom, "%s: size 0 (%s 0x%llx)", call, addr_kind,
				 (unsigned long long)addr);
		return -DMAP_EINVAL;
	}
	if (addr + (size - 1) < addr) {
		dmap_invalid_arg(
			dev, dom,
			"%s: %s 0x%llx + size 0x%zx wraps past the end of the address space", call,
			addr_kind, (unsigned long long)addr, size);
		return -DMAP_EINVAL;
	}
	if (!dmap_valid_dir(dir)) {
		dmap_invalid_arg(dev, dom, "%s: invalid direction %d (%s) for %s 0x%llx size 0x%zx",
				 call, (int)dir, dmap_dir_name(dir), addr_kind,
				 (unsigned long long)addr, size);
		return -DMAP_EINVAL;
	}
	if (attrs & ~DMAP_ATTR_ALL) {
		dmap_invalid_arg(dev, dom,
				 "%s: unknown attribute bits 0x%lx for %s 0x%llx size 0x%zx", call,
				 attrs & ~DMAP_ATTR_ALL, addr_kind, (unsigned long long)addr, size);
		return -DMAP_EINVAL;
	}
	if (!dom) {
		dmap_log(dmap_dev_env(dev), DMAP_LOG_WARN,
			 "dmap: %s: %s: device is not attached to a domain (%s 0x%llx size 0x%zx)",
			 dev->name, call, addr_kind, (unsigned long long)addr, size);
		return -DMAP_ENODEV;
	}
	return 0;
}

static __attribute__((noinline, cold)) void dmap_map_failed(struct dmap_domain *dom)
{
	dmap_domain_count(dom, map_errors, 1);
}

static __attribute__((noinline)) void dmap_count_map(struct dmap_domain *dom, size_t size)
{
	dmap_domain_count(dom, maps, 1);
	dmap_domain_count(dom, bytes_mapped, size);
}

/**
 * dmap_map_phys() - see <dmap/dmap.h>. Context: any; never sleeps.
 */
dmap_addr_t dmap_map_phys(struct dmap_dev *dev, dmap_phys_t phys, size_t size, enum dmap_dir dir,
			  unsigned long attrs)
{
	struct dmap_domain *dom;
	dmap_addr_t addr;

	if (dmap_unlikely(!dev))
		return DMAP_MAPPING_ERROR;
	dom = dmap_load_acquire(&dev->domain);
	if (dmap_unlikely(!dom || dmap_bad_range_args(phys, size, dir, attrs))) {
		dmap_reject(dev, dom, "map_phys", "phys", phys, size, dir, attrs);
		return DMAP_MAPPING_ERROR;
	}
	addr = dom->ops->map_phys(dom, dev, phys, size, dir, attrs);
	if (dmap_unlikely(addr == DMAP_MAPPING_ERROR || dmap_load_relaxed(&dom->counting))) {
		if (addr == DMAP_MAPPING_ERROR)
			dmap_map_failed(dom);
		else
			dmap_count_map(dom, size);
	}
	return addr;
}

/**
 * dmap_unmap_phys() - see <dmap/dmap.h>. Context: any; never sleeps.
 * DMAP_MAPPING_ERROR itself is rejected (-EINVAL): it was never a mapping.
 */
int dmap_unmap_phys(struct dmap_dev *dev, dmap_addr_t addr, size_t size, enum dmap_dir dir,
		    unsigned long attrs)
{
	struct dmap_domain *dom;

	if (dmap_unlikely(!dev))
		return -DMAP_EINVAL;
	dom = dmap_load_acquire(&dev->domain);
	if (dmap_unlikely(!dom || dmap_bad_range_args(addr, size, dir, attrs) ||
			  addr == DMAP_MAPPING_ERROR)) {
		if (addr == DMAP_MAPPING_ERROR && dom) {
			dmap_invalid_arg(
				dev, dom,
				"unmap: address is DMAP_MAPPING_ERROR (size 0x%zx): the map call failed",
				size);
			return -DMAP_EINVAL;
		}
		return dmap_reject(dev, dom, "unmap", "addr", addr, size, dir, attrs);
	}
	/* Nothing to do after the backend unless counting: let the compiler tail-call it. */
	if (dmap_unlikely(dmap_load_relaxed(&dom->counting)))
		dmap_domain_count(dom, unmaps, 1);
	return dom->ops->unmap_phys(dom, dev, addr, size, dir, attrs);
}

/**
 * dmap_map_single() - see <dmap/dmap.h>. The environment's virt_to_phys
 * must report @size contiguous bytes. Context: any; never sleeps.
 */
dmap_addr_t dmap_map_single(struct dmap_dev *dev, void *cpu_addr, size_t size, enum dmap_dir dir,
			    unsigned long attrs)
{
	const struct dmap_env *env;
	dmap_phys_t phys = 0;
	size_t contig = 0;
	int ret;

	if (dmap_unlikely(!dev))
		return DMAP_MAPPING_ERROR;
	if (dmap_unlikely(!cpu_addr)) {
		dmap_invalid_arg(dev, dmap_load_acquire(&dev->domain),
				 "map_single: NULL cpu address (size 0x%zx)", size);
		return DMAP_MAPPING_ERROR;
	}
	if (dmap_unlikely(!size))
		return dmap_map_phys(dev, 0, 0, dir, attrs); /* reports size 0 */
	env = dmap_dev_env(dev);
	dmap_rcu_read_lock();
	ret = env->ops->virt_to_phys(env->cookie, cpu_addr, &phys, &contig);
	dmap_rcu_read_unlock();
	if (dmap_unlikely(ret || contig < size)) {
		struct dmap_domain *dom = dmap_load_acquire(&dev->domain);

		if (dom)
			dmap_map_failed(dom);
		if (!(attrs & DMAP_ATTR_NO_WARN))
			dmap_log(
				env, DMAP_LOG_WARN,
				ret ? "dmap: %s: map_single: cpu address %p (size 0x%zx) is not DMA-able RAM" :
				      "dmap: %s: map_single: cpu address %p size 0x%zx is only physically contiguous for 0x%zx bytes",
				dev->name, cpu_addr, size, contig);
		return DMAP_MAPPING_ERROR;
	}
	return dmap_map_phys(dev, phys, size, dir, attrs);
}

int dmap_unmap_single(struct dmap_dev *dev, dmap_addr_t addr, size_t size, enum dmap_dir dir,
		      unsigned long attrs)
{
	return dmap_unmap_phys(dev, addr, size, dir, attrs);
}

/*
 * Cache maintenance for a backend without a sync hook: find the physical
 * pages behind [@addr, @addr+@size) with the backend's translate and clean or
 * invalidate them. Coherent devices, environments without cache hooks and
 * directions that need nothing return at once.
 */
static int dmap_sync_by_translation(struct dmap_domain *dom, const struct dmap_ops *ops,
				    struct dmap_dev *dev, dmap_addr_t addr, size_t size,
				    enum dmap_dir dir, bool for_cpu)
{
	const struct dmap_env *env = dom->env;
	unsigned int access;
	int ret = 0;

	if (dev->flags & DMAP_DEV_COHERENT)
		return 0;
	if (for_cpu ? (!env->ops->cache_invalidate || dir == DMAP_TO_DEVICE) :
		      (!env->ops->cache_clean || dir == DMAP_FROM_DEVICE))
		return 0;
	access = for_cpu ? DMAP_ACCESS_WRITE : DMAP_ACCESS_READ;
	dmap_rcu_read_lock();
	while (size) {
		struct dmap_translation t = { 0 };
		struct dmap_fault fault = { 0 };
		size_t n;

		if (ops->translate(dom, dev, addr, access, &t, &fault)) {
			dmap_log(
				env, DMAP_LOG_WARN,
				"dmap: %s: sync: bus address 0x%llx does not translate in domain '%s'",
				dev->name, (unsigned long long)addr, dom->name);
			ret = -DMAP_EFAULT;
			break;
		}
		n = dmap_min(size, t.len ? t.len : 1);
		ret = dmap_cache_sync_phys(env, dev, t.phys, n, dir, for_cpu);
		if (ret)
			break;
		addr += n;
		size -= n;
	}
	dmap_rcu_read_unlock();
	return ret;
}

int dmap_backend_sync(struct dmap_domain *dom, const struct dmap_ops *ops, struct dmap_dev *dev,
		      dmap_addr_t addr, size_t size, enum dmap_dir dir, bool for_cpu)
{
	int (*hook)(struct dmap_domain *, struct dmap_dev *, dmap_addr_t, size_t, enum dmap_dir) =
		for_cpu ? ops->sync_for_cpu : ops->sync_for_device;

	if (hook)
		return hook(dom, dev, addr, size, dir);
	return dmap_sync_by_translation(dom, ops, dev, addr, size, dir, for_cpu);
}

int dmap_domain_call_sync(struct dmap_domain *dom, struct dmap_dev *dev, dmap_addr_t addr,
			  size_t size, enum dmap_dir dir, bool for_cpu)
{
	return dmap_backend_sync(dom, dom->ops, dev, addr, size, dir, for_cpu);
}

int dmap_domain_call_translate(struct dmap_domain *dom, struct dmap_dev *dev, dmap_addr_t addr,
			       unsigned int access, struct dmap_translation *out,
			       struct dmap_fault *fault)
{
	return dom->ops->translate(dom, dev, addr, access, out, fault);
}

static int dmap_sync_single(struct dmap_dev *dev, dmap_addr_t addr, size_t size, enum dmap_dir dir,
			    bool for_cpu)
{
	struct dmap_domain *dom;
	int ret;

	if (dmap_unlikely(!dev))
		return -DMAP_EINVAL;
	dom = dmap_load_acquire(&dev->domain);
	if (dmap_unlikely(!dom || dmap_bad_range_args(addr, size, dir, 0)))
		return dmap_reject(dev, dom, for_cpu ? "sync_for_cpu" : "sync_for_device", "addr",
				   addr, size, dir, 0);
	ret = dmap_backend_sync(dom, dom->ops, dev, addr, size, dir, for_cpu);
	if (dmap_unlikely(dmap_load_relaxed(&dom->counting)))
		dmap_domain_count(dom, syncs, 1);
	return ret;
}

/**
 * dmap_sync_single_for_cpu() - see <dmap/dmap.h>. Any sub-range of a live
 * mapping may be synced. Context: any; never sleeps.
 */
int dmap_sync_single_for_cpu(struct dmap_dev *dev, dmap_addr_t addr, size_t size, enum dmap_dir dir)
{
	return dmap_sync_single(dev, addr, size, dir, true);
}

int dmap_sync_single_for_device(struct dmap_dev *dev, dmap_addr_t addr, size_t size,
				enum dmap_dir dir)
{
	return dmap_sync_single(dev, addr, size, dir, false);
}

/**
 * dmap_mapping_error() - see <dmap/dmap.h>. Tells the debug layer (when on)
 * that @addr was checked. Context: any.
 */
int dmap_mapping_error(struct dmap_dev *dev, dmap_addr_t addr)
{
	if (dev) {
		struct dmap_domain *dom = dmap_load_acquire(&dev->domain);

		if (dom && dom->debug)
			dmap_debug_mapping_checked(dom, dev, addr);
	}
	return addr == DMAP_MAPPING_ERROR ? -DMAP_ENOMEM : 0;
}

/**
 * dmap_alloc_coherent() - see <dmap/dmap.h>. Context: may sleep.
 */
void *dmap_alloc_coherent(struct dmap_dev *dev, size_t size, dmap_addr_t *handle,
			  unsigned long attrs)
{
	struct dmap_domain *dom;
	void *cpu;

	if (handle)
		*handle = DMAP_MAPPING_ERROR;
	if (!dev)
		return NULL;
	dom = dmap_load_acquire(&dev->domain);
	if (!handle) {
		dmap_invalid_arg(dev, dom, "alloc_coherent: NULL handle (size 0x%zx)", size);
		return NULL;
	}
	if (!dom || dmap_bad_range_args(0, size, DMAP_BIDIRECTIONAL, attrs)) {
		dmap_reject(dev, dom, "alloc_coherent", "addr", 0, size, DMAP_BIDIRECTIONAL, attrs);
		return NULL;
	}
	if (!dom->ops->alloc_coherent) {
		dmap_map_failed(dom);
		dmap_log(
			dom->env, DMAP_LOG_WARN,
			"dmap: %s: alloc_coherent: domain '%s' (%s) cannot allocate coherent memory (size 0x%zx)",
			dev->name, dom->name, dom->backend_ops->name, size);
		return NULL;
	}
	cpu = dom->ops->alloc_coherent(dom, dev, size, handle, attrs);
	if (!cpu) {
		*handle = DMAP_MAPPING_ERROR;
		dmap_map_failed(dom);
		return NULL;
	}
	dmap_domain_count(dom, coherent_allocs, 1);
	return cpu;
}

/**
 * dmap_free_coherent() - see <dmap/dmap.h>. Context: may sleep.
 * Errors: -EINVAL, -ENODEV, -EOPNOTSUPP (domain has no coherent allocator),
 * or the backend's.
 */
int dmap_free_coherent(struct dmap_dev *dev, size_t size, void *cpu_addr, dmap_addr_t handle,
		       unsigned long attrs)
{
	struct dmap_domain *dom;
	int ret;

	if (!dev)
		return -DMAP_EINVAL;
	dom = dmap_load_acquire(&dev->domain);
	if (!cpu_addr || handle == DMAP_MAPPING_ERROR) {
		dmap_invalid_arg(dev, dom, "free_coherent: %s (handle 0x%llx size 0x%zx)",
				 !cpu_addr ? "NULL cpu address" : "handle is DMAP_MAPPING_ERROR",
				 (unsigned long long)handle, size);
		return -DMAP_EINVAL;
	}
	if (!dom || dmap_bad_range_args(handle, size, DMAP_BIDIRECTIONAL, attrs))
		return dmap_reject(dev, dom, "free_coherent", "handle", handle, size,
				   DMAP_BIDIRECTIONAL, attrs);
	if (!dom->ops->free_coherent) {
		dmap_log(
			dom->env, DMAP_LOG_WARN,
			"dmap: %s: free_coherent: domain '%s' (%s) has no coherent allocator (handle 0x%llx)",
			dev->name, dom->name, dom->backend_ops->name, (unsigned long long)handle);
		return -DMAP_EOPNOTSUPP;
	}
	ret = dom->ops->free_coherent(dom, dev, size, cpu_addr, handle, attrs);
	return ret;
}

size_t dmap_max_mapping_size(struct dmap_dev *dev)
{
	struct dmap_domain *dom;

	if (!dev)
		return 0;
	dom = dmap_load_acquire(&dev->domain);
	if (!dom)
		return 0;
	if (!dom->backend_ops->max_mapping_size)
		return SIZE_MAX;
	return dom->backend_ops->max_mapping_size(dom, dev);
}

bool dmap_addressing_limited(struct dmap_dev *dev)
{
	struct dmap_domain *dom;

	if (!dev)
		return false;
	dom = dmap_load_acquire(&dev->domain);
	if (!dom || !dom->backend_ops->addressing_limited)
		return false;
	return dom->backend_ops->addressing_limited(dom, dev);
}
