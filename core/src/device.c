// SPDX-License-Identifier: MIT
/*
 * core/src/device.c - devices: their addressing properties and attachment.
 *
 * Design: a device is a plain record of how it addresses memory (masks,
 * bus limit, segment rules) plus a pointer to the domain it is attached to.
 * Backends read the record directly on their hot paths, so it lives in
 * <dmap/ops.h> and every field has exactly one writer: the set_* calls,
 * which the API forbids to race with map calls (as Linux forbids changing
 * the mask while DMA is in flight). Only the domain pointer is read by map
 * calls while attach/detach may run on another thread in a buggy driver, so
 * it alone is published with a release store and read with an acquire
 * load: a mapper that sees the domain also sees the backend's attach work.
 *
 * Defaults are Linux's: a device nobody configured drives 32 address bits
 * for both masks, builds segments of at most 64 KiB and has no segment
 * boundary. Validation rejects what Linux would silently misbehave on
 * (a segment boundary that is not a power of two, an alignment mask that is
 * not 2^k-1) and names the device and the field.
 *
 * Masks go through the attached domain's dma_supported hook before they
 * change, so a domain that cannot serve a mask (a bounce pool above a
 * 24-bit device's reach) refuses it with -EIO and the old mask stays.
 */
#include "internal.h"

#define DMAP_DEV_FLAGS_ALL (DMAP_DEV_COHERENT | DMAP_DEV_UNTRUSTED)

static bool dmap_valid_boundary(uint64_t mask)
{
	return mask == ~(uint64_t)0 || dmap_is_power_of_2(mask + 1);
}

static bool dmap_valid_align_mask(uint64_t mask)
{
	return (mask & (mask + 1)) == 0;
}

/**
 * dmap_dev_create() - see <dmap/dmap.h>.
 *
 * Context: may sleep. Errors: -EINVAL (NULL, unknown flags, bad boundary or
 * alignment mask; the message names the device and field), -ENOMEM.
 */
int dmap_dev_create(struct dmap_ctx *ctx, const struct dmap_dev_info *info, struct dmap_dev **out)
{
	const struct dmap_env *env;
	struct dmap_dev *dev;
	const char *name;

	if (out)
		*out = NULL;
	if (!ctx || !info || !out)
		return -DMAP_EINVAL;
	env = ctx->env;
	name = info->name ? info->name : "dev";
	if (info->flags & ~DMAP_DEV_FLAGS_ALL) {
		dmap_log(env, DMAP_LOG_ERR, "dmap: %s: dev_create: unknown flag bits 0x%x", name,
			 info->flags & ~DMAP_DEV_FLAGS_ALL);
		return -DMAP_EINVAL;
	}
	if (info->seg_boundary_mask && !dmap_valid_boundary(info->seg_boundary_mask)) {
		dmap_log(
			env, DMAP_LOG_ERR,
			"dmap: %s: dev_create: seg_boundary_mask 0x%llx: mask+1 is not a power of two",
			name, (unsigned long long)info->seg_boundary_mask);
		return -DMAP_EINVAL;
	}
	if (!dmap_valid_align_mask(info->min_align_mask)) {
		dmap_log(env, DMAP_LOG_ERR,
			 "dmap: %s: dev_create: min_align_mask 0x%llx is not of the form 2^k-1",
			 name, (unsigned long long)info->min_align_mask);
		return -DMAP_EINVAL;
	}
	dev = dmap_env_alloc(env, sizeof(*dev), DMAP_ALLOC_ZERO);
	if (!dev) {
		dmap_log(env, DMAP_LOG_ERR, "dmap: %s: dev_create: out of memory", name);
		return -DMAP_ENOMEM;
	}
	dmap_memset(dev, 0, sizeof(*dev));
	dev->ctx = ctx;
	dmap_strlcpy(dev->name, name, sizeof(dev->name));
	dev->stream_id = info->stream_id;
	dev->dma_mask = info->dma_mask ? info->dma_mask : DMAP_BIT_MASK(32);
	dev->coherent_dma_mask =
		info->coherent_dma_mask ? info->coherent_dma_mask : DMAP_BIT_MASK(32);
	dev->bus_dma_limit = info->bus_dma_limit;
	dev->max_seg_size = info->max_seg_size ? info->max_seg_size : 65536;
	dev->seg_boundary_mask = info->seg_boundary_mask ? info->seg_boundary_mask : ~(uint64_t)0;
	dev->min_align_mask = info->min_align_mask;
	dev->flags = info->flags;
	dmap_fetch_add(&ctx->devices, 1);
	*out = dev;
	return 0;
}

/**
 * dmap_dev_destroy() - see <dmap/dmap.h>. Detaches first (the debug layer
 * reports leaks then). Context: may sleep. Errors: -EINVAL for NULL.
 */
int dmap_dev_destroy(struct dmap_dev *dev)
{
	struct dmap_ctx *ctx;

	if (!dev)
		return -DMAP_EINVAL;
	if (dmap_load_acquire(&dev->domain))
		dmap_dev_detach(dev);
	ctx = dev->ctx;
	dmap_env_free(ctx->env, dev, sizeof(*dev));
	dmap_fetch_sub(&ctx->devices, 1);
	return 0;
}

/**
 * dmap_dev_attach() - see <dmap/dmap.h>.
 *
 * Context: may sleep; not concurrently with map calls on @dev. The backend's
 * attach hook runs before the domain pointer is published (release), so a
 * mapper that sees the domain sees the backend's per-device state.
 * Errors: -EINVAL, -EBUSY, or the attach hook's error.
 */
int dmap_dev_attach(struct dmap_dev *dev, struct dmap_domain *domain)
{
	int ret;

	if (!dev || !domain)
		return -DMAP_EINVAL;
	if (domain->ctx != dev->ctx) {
		dmap_log(dmap_dev_env(dev), DMAP_LOG_ERR,
			 "dmap: %s: attach: domain '%s' belongs to another context", dev->name,
			 domain->name);
		return -DMAP_EINVAL;
	}
	if (dmap_load_acquire(&dev->domain)) {
		dmap_log(dmap_dev_env(dev), DMAP_LOG_ERR,
			 "dmap: %s: attach: already attached to domain '%s'; detach first",
			 dev->name, dev->domain->name);
		return -DMAP_EBUSY;
	}
	if (domain->backend_ops->attach) {
		ret = domain->backend_ops->attach(domain, dev);
		if (ret) {
			dmap_log(dmap_dev_env(dev), DMAP_LOG_ERR,
				 "dmap: %s: attach to domain '%s' (%s) failed: %d", dev->name,
				 domain->name, domain->backend_ops->name, ret);
			return ret;
		}
	}
	dmap_fetch_add(&domain->attached, 1);
	dmap_store_release(&dev->domain, domain);
	return 0;
}

/**
 * dmap_dev_detach() - see <dmap/dmap.h>.
 *
 * The debug layer reports and forgets the device's live mappings before the
 * backend's detach hook runs, while it can still name them. Context: may
 * sleep. Errors: -EINVAL (NULL), -ENODEV (not attached).
 */
int dmap_dev_detach(struct dmap_dev *dev)
{
	struct dmap_domain *domain;

	if (!dev)
		return -DMAP_EINVAL;
	domain = dmap_load_acquire(&dev->domain);
	if (!domain) {
		dmap_log(dmap_dev_env(dev), DMAP_LOG_WARN, "dmap: %s: detach: not attached",
			 dev->name);
		return -DMAP_ENODEV;
	}
	if (domain->debug)
		dmap_debug_device_detached(domain, dev);
	dmap_store_release(&dev->domain, NULL);
	if (domain->backend_ops->detach)
		domain->backend_ops->detach(domain, dev);
	dmap_fetch_sub(&domain->attached, 1);
	return 0;
}

struct dmap_domain *dmap_dev_domain(const struct dmap_dev *dev)
{
	return dev ? dmap_load_acquire(&dev->domain) : NULL;
}

int dmap_dev_get_info(const struct dmap_dev *dev, struct dmap_dev_info *out)
{
	if (!dev || !out)
		return -DMAP_EINVAL;
	out->name = dev->name;
	out->stream_id = dev->stream_id;
	out->dma_mask = dev->dma_mask;
	out->coherent_dma_mask = dev->coherent_dma_mask;
	out->bus_dma_limit = dev->bus_dma_limit;
	out->max_seg_size = dev->max_seg_size;
	out->seg_boundary_mask = dev->seg_boundary_mask;
	out->min_align_mask = dev->min_align_mask;
	out->flags = dev->flags;
	return 0;
}

const char *dmap_dev_name(const struct dmap_dev *dev)
{
	return dev ? dev->name : "";
}

/* Ask the attached domain (if any) whether it can serve @dev with @mask. */
static int dmap_mask_supported(struct dmap_dev *dev, uint64_t mask, const char *what)
{
	struct dmap_domain *domain = dmap_load_acquire(&dev->domain);

	if (!mask) {
		dmap_log(dmap_dev_env(dev), DMAP_LOG_ERR, "dmap: %s: %s: mask 0 is invalid",
			 dev->name, what);
		return -DMAP_EINVAL;
	}
	if (domain && domain->backend_ops->dma_supported &&
	    !domain->backend_ops->dma_supported(domain, dev, mask)) {
		dmap_log(
			dmap_dev_env(dev), DMAP_LOG_ERR,
			"dmap: %s: %s: domain '%s' (%s) cannot serve mask 0x%llx; keeping the old mask",
			dev->name, what, domain->name, domain->backend_ops->name,
			(unsigned long long)mask);
		return -DMAP_EIO;
	}
	return 0;
}

/**
 * dmap_set_mask() - see <dmap/dmap.h>. Context: may sleep; not concurrently
 * with map calls on @dev. Errors: -EINVAL (NULL, 0), -EIO (domain refuses).
 */
int dmap_set_mask(struct dmap_dev *dev, uint64_t mask)
{
	int ret;

	if (!dev)
		return -DMAP_EINVAL;
	ret = dmap_mask_supported(dev, mask, "set_mask");
	if (!ret)
		dev->dma_mask = mask;
	return ret;
}

int dmap_set_coherent_mask(struct dmap_dev *dev, uint64_t mask)
{
	int ret;

	if (!dev)
		return -DMAP_EINVAL;
	ret = dmap_mask_supported(dev, mask, "set_coherent_mask");
	if (!ret)
		dev->coherent_dma_mask = mask;
	return ret;
}

int dmap_set_mask_and_coherent(struct dmap_dev *dev, uint64_t mask)
{
	int ret;

	if (!dev)
		return -DMAP_EINVAL;
	ret = dmap_mask_supported(dev, mask, "set_mask_and_coherent");
	if (!ret) {
		dev->dma_mask = mask;
		dev->coherent_dma_mask = mask;
	}
	return ret;
}

int dmap_set_max_seg_size(struct dmap_dev *dev, size_t size)
{
	if (!dev)
		return -DMAP_EINVAL;
	if (!size) {
		dmap_log(dmap_dev_env(dev), DMAP_LOG_ERR,
			 "dmap: %s: set_max_seg_size: size 0 is invalid", dev->name);
		return -DMAP_EINVAL;
	}
	dev->max_seg_size = size;
	return 0;
}

int dmap_set_seg_boundary(struct dmap_dev *dev, uint64_t mask)
{
	if (!dev)
		return -DMAP_EINVAL;
	if (!dmap_valid_boundary(mask)) {
		dmap_log(dmap_dev_env(dev), DMAP_LOG_ERR,
			 "dmap: %s: set_seg_boundary: mask 0x%llx: mask+1 is not a power of two",
			 dev->name, (unsigned long long)mask);
		return -DMAP_EINVAL;
	}
	dev->seg_boundary_mask = mask;
	return 0;
}

int dmap_set_min_align_mask(struct dmap_dev *dev, uint64_t mask)
{
	if (!dev)
		return -DMAP_EINVAL;
	if (!dmap_valid_align_mask(mask)) {
		dmap_log(dmap_dev_env(dev), DMAP_LOG_ERR,
			 "dmap: %s: set_min_align_mask: mask 0x%llx is not of the form 2^k-1",
			 dev->name, (unsigned long long)mask);
		return -DMAP_EINVAL;
	}
	dev->min_align_mask = mask;
	return 0;
}
