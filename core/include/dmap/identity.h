/* SPDX-License-Identifier: MIT */
/*
 * dmap/identity.h - the identity backend (Linux: dma-direct).
 *
 * bus address = physical address + bus_offset. A mapping goes direct when the
 * device can address the whole bus range (dma_capable: last byte at or below
 * min(mask, bus_dma_limit)); otherwise it goes to the fallback domain (a
 * bounce domain, like swiotlb behind dma-direct) or, without one, fails with
 * DMAP_MAPPING_ERROR and a message naming device, address, size and mask.
 */
#ifndef DMAP_IDENTITY_H
#define DMAP_IDENTITY_H

#include <dmap/dmap.h>

#ifdef __cplusplus
extern "C" {
#endif

/**
 * struct dmap_identity_config - identity domain settings.
 * @name: instance name (NULL: "identity").
 * @bus_offset: added to physical addresses (Linux: dma_range_map offset);
 *              bus = phys + offset, computed modulo 2^64.
 * @fallback: optional domain for buffers a device cannot reach; it is marked
 *            used (cannot be destroyed) until this domain is destroyed.
 * @force_fallback: send every streaming mapping to @fallback (Linux's
 *            swiotlb=force, used by confidential guests).
 */
struct dmap_identity_config {
	const char *name;
	uint64_t bus_offset;
	struct dmap_domain *fallback;
	bool force_fallback;
};

/**
 * dmap_identity_domain_create() - make an identity domain.
 * Context: may sleep. Returns 0, -EINVAL (NULL, force_fallback without a
 * fallback, fallback of another context), -ENOMEM.
 */
int dmap_identity_domain_create(struct dmap_ctx *ctx, const struct dmap_identity_config *config,
				struct dmap_domain **out);

#ifdef __cplusplus
}
#endif
#endif /* DMAP_IDENTITY_H */
