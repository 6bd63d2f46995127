/* SPDX-License-Identifier: MIT */
/*
 * The smallest complete dmap program: a hosted environment with 16 MiB of
 * simulated RAM, an identity domain, one device; map a buffer for the device,
 * let the device write into it, sync it back to the CPU and unmap.
 */
#include <stdio.h>
#include <string.h>

#include <dmap/dmap.h>
#include <dmap/hosted.h>
#include <dmap/identity.h>

int main(void)
{
	struct dmap_hosted *hosted;
	struct dmap_ctx *ctx;
	struct dmap_domain *domain;
	struct dmap_dev *dev;
	struct dmap_dev_info info = { .name = "nic0", .dma_mask = DMAP_BIT_MASK(64) };
	struct dmap_identity_config config = { .name = "direct" };
	const dmap_phys_t ram_base = 0x40000000;
	char *ram, reply[32] = { 0 };
	dmap_addr_t bus;
	int err;

	if (dmap_hosted_create(NULL, &hosted) ||
	    dmap_hosted_mem_add(hosted, ram_base, 16 << 20, DMAP_HOSTED_MEM_POOL, (void **)&ram) ||
	    dmap_ctx_create(dmap_hosted_env(hosted), &ctx) ||
	    dmap_identity_domain_create(ctx, &config, &domain) ||
	    dmap_dev_create(ctx, &info, &dev) || dmap_dev_attach(dev, domain)) {
		fprintf(stderr, "setup failed: %s\n", dmap_hosted_last_message());
		return 1;
	}

	/* The driver maps a receive buffer ... */
	bus = dmap_map_single(dev, ram + 0x1000, sizeof(reply), DMAP_FROM_DEVICE, 0);
	if (dmap_mapping_error(dev, bus)) {
		fprintf(stderr, "map failed: %s\n", dmap_hosted_last_message());
		return 1;
	}
	/* ... the device writes to the bus address it was given ... */
	err = dmap_dev_write(dev, bus, "hello from the device", 22);
	/* ... and the driver takes the buffer back. */
	err = err ? err : dmap_sync_single_for_cpu(dev, bus, sizeof(reply), DMAP_FROM_DEVICE);
	memcpy(reply, ram + 0x1000, sizeof(reply) - 1);
	err = err ? err : dmap_unmap_single(dev, bus, sizeof(reply), DMAP_FROM_DEVICE, 0);
	printf("bus address 0x%llx, device wrote: \"%s\" (err %d)\n", (unsigned long long)bus,
	       reply, err);

	dmap_dev_destroy(dev);
	dmap_domain_destroy(domain);
	dmap_ctx_destroy(ctx);
	dmap_hosted_destroy(hosted);
	return err || strcmp(reply, "hello from the device") != 0;
}
