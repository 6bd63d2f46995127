/* SPDX-License-Identifier: MIT */
/*
 * dmap-demo - what dmap does, on its built-in defaults, in one run.
 *
 * A hosted environment simulates a machine with RAM below and above 4 GiB.
 * One identity domain (bus address = physical address, Linux's dma-direct)
 * serves two devices: a 64-bit capable NIC and a legacy 32-bit device. The
 * demo shows
 *   1. a streaming mapping, a device-side write and the sync back to the CPU;
 *   2. the mask rule: the 32-bit device cannot reach a buffer above 4 GiB,
 *      and without a fallback the map fails cleanly with a message that says
 *      why (the bounce backend becomes that fallback);
 *   3. the debug layer catching a driver bug (a double unmap and an unchecked
 *      mapping), the way CONFIG_DMA_API_DEBUG would, but switched on per
 *      domain at run time;
 *   4. a device access to an address nothing maps, recorded in the fault log.
 * Every step checks its result; the program exits non-zero if one is wrong.
 */
#include <stdio.h>
#include <string.h>

#include <dmap/dmap.h>
#include <dmap/debug.h>
#include <dmap/hosted.h>
#include <dmap/identity.h>

static int failures;

#define CHECK(cond, ...)                                      \
	do {                                                  \
		if (!(cond)) {                                \
			failures++;                           \
			printf("  UNEXPECTED: " __VA_ARGS__); \
			printf("\n");                         \
		}                                             \
	} while (0)

static void on_log(void *arg, enum dmap_log_level level, const char *message)
{
	(void)arg;
	printf("  [dmap %s] %s\n", level <= DMAP_LOG_WARN ? "warn" : "info", message);
}

int main(void)
{
	const dmap_phys_t low_base = 0x10000000, high_base = 0x100000000ull;
	struct dmap_hosted_config hosted_config = { .log = on_log };
	struct dmap_identity_config identity_config = { .name = "dma-direct" };
	struct dmap_dev_info nic_info = { .name = "nic0",
					  .stream_id = 0x100,
					  .dma_mask = DMAP_BIT_MASK(64) };
	struct dmap_dev_info legacy_info = { .name = "legacy-ide", .stream_id = 0x200 };
	struct dmap_hosted *hosted;
	struct dmap_ctx *ctx;
	struct dmap_domain *domain;
	struct dmap_dev *nic, *legacy;
	struct dmap_debug_counts counts;
	struct dmap_fault fault;
	char *low, *high, text[64];
	dmap_addr_t bus;

	printf("dmap demo: identity backend, masks, debug layer, fault log\n\n");
	if (dmap_hosted_create(&hosted_config, &hosted) ||
	    dmap_hosted_mem_add(hosted, low_base, 16 << 20, DMAP_HOSTED_MEM_POOL, (void **)&low) ||
	    dmap_hosted_mem_add(hosted, high_base, 16 << 20, 0, (void **)&high) ||
	    dmap_ctx_create(dmap_hosted_env(hosted), &ctx) ||
	    dmap_identity_domain_create(ctx, &identity_config, &domain) ||
	    dmap_domain_set_debug(domain, true) || dmap_dev_create(ctx, &nic_info, &nic) ||
	    dmap_dev_create(ctx, &legacy_info, &legacy) || dmap_dev_attach(nic, domain) ||
	    dmap_dev_attach(legacy, domain)) {
		printf("setup failed: %s\n", dmap_hosted_last_message());
		return 1;
	}
	printf("machine: 16 MiB RAM at 0x%llx and 16 MiB at 0x%llx; domain '%s' (%s), debug on\n",
	       (unsigned long long)low_base, (unsigned long long)high_base,
	       dmap_domain_name(domain), dmap_domain_backend(domain));

	printf("\n1. nic0 (64-bit mask) receives into a buffer above 4 GiB\n");
	bus = dmap_map_single(nic, high + 0x2000, 64, DMAP_FROM_DEVICE, 0);
	CHECK(!dmap_mapping_error(nic, bus), "map failed");
	printf("  mapped phys 0x%llx -> bus 0x%llx\n", (unsigned long long)(high_base + 0x2000),
	       (unsigned long long)bus);
	CHECK(dmap_dev_write(nic, bus, "packet payload", 15) == 0, "device write failed");
	CHECK(dmap_sync_single_for_cpu(nic, bus, 64, DMAP_FROM_DEVICE) == 0, "sync failed");
	memcpy(text, high + 0x2000, 15);
	printf("  CPU reads after sync: \"%s\"\n", text);
	CHECK(strcmp(text, "packet payload") == 0, "wrong data");
	CHECK(dmap_unmap_single(nic, bus, 64, DMAP_FROM_DEVICE, 0) == 0, "unmap failed");

	printf("\n2. legacy-ide (default 32-bit mask) asked to reach the same buffer\n");
	printf("  dmap_addressing_limited: %s, max mapping size: %zu\n",
	       dmap_addressing_limited(legacy) ? "yes" : "no", dmap_max_mapping_size(legacy));
	bus = dmap_map_single(legacy, high + 0x2000, 64, DMAP_TO_DEVICE, 0);
	CHECK(dmap_mapping_error(legacy, bus) == -12, "a 32-bit device mapped memory above 4 GiB");
	printf("  -> DMAP_MAPPING_ERROR, as it must be without a bounce fallback\n");
	bus = dmap_map_single(legacy, low + 0x4000, 64, DMAP_TO_DEVICE, 0);
	CHECK(!dmap_mapping_error(legacy, bus), "low buffer should map directly");
	printf("  a buffer below 4 GiB maps directly: bus 0x%llx\n", (unsigned long long)bus);
	CHECK(dmap_unmap_single(legacy, bus, 64, DMAP_TO_DEVICE, 0) == 0, "unmap failed");

	printf("\n3. a buggy driver: unchecked mapping, then a double unmap\n");
	bus = dmap_map_single(nic, low + 0x8000, 128, DMAP_BIDIRECTIONAL, 0);
	dmap_unmap_single(nic, bus, 128, DMAP_BIDIRECTIONAL, 0);
	dmap_unmap_single(nic, bus, 128, DMAP_BIDIRECTIONAL, 0);
	CHECK(dmap_debug_get_counts(domain, &counts) == 0, "no debug counts");
	printf("  debug layer: %llu error-not-checked, %llu double-unmap report(s)\n",
	       (unsigned long long)counts.reports[DMAP_DEBUG_ERROR_NOT_CHECKED],
	       (unsigned long long)counts.reports[DMAP_DEBUG_DOUBLE_UNMAP]);
	CHECK(counts.reports[DMAP_DEBUG_ERROR_NOT_CHECKED] == 1, "unchecked mapping not caught");
	CHECK(counts.reports[DMAP_DEBUG_DOUBLE_UNMAP] == 1, "double unmap not caught");

	printf("\n4. legacy-ide emits an address beyond its 32-bit mask\n");
	CHECK(dmap_dev_read(legacy, high_base, text, 16) == -14, "access should fault");
	CHECK(dmap_fault_pop(domain, &fault) == 1, "no fault recorded");
	printf("  fault log: device %s, address 0x%llx, %s fault\n", fault.device,
	       (unsigned long long)fault.addr, dmap_fault_reason_name(fault.reason));

	dmap_dev_destroy(legacy);
	dmap_dev_destroy(nic);
	dmap_domain_destroy(domain);
	dmap_ctx_destroy(ctx);
	dmap_hosted_destroy(hosted);
	printf("\ndemo %s\n", failures ? "FAILED" : "finished: every step behaved as expected");
	return failures != 0;
}
