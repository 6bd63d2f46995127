/* SPDX-License-Identifier: MIT */
/*
 * tests/support/test_env.h - a hosted environment, a context and some RAM for
 * a Criterion test, with every log message captured so tests can assert on
 * what dmap said.
 */
#ifndef DMAP_TEST_ENV_H
#define DMAP_TEST_ENV_H

#include <stdbool.h>
#include <dmap/dmap.h>
#include <dmap/hosted.h>

#define DMAP_TEST_LOG_LINES 256

struct dmap_test_env {
	struct dmap_hosted *hosted;
	const struct dmap_env *env;
	struct dmap_ctx *ctx;
	void *ram; /* host memory of the RAM region */
	dmap_phys_t ram_base;
	size_t ram_size;
	/* captured log (guarded internally) */
	unsigned long messages; /* all messages */
	unsigned long warnings; /* WARN or worse */
	char lines[DMAP_TEST_LOG_LINES][256];
	bool echo; /* also print to stderr (set DMAP_TEST_ECHO=1) */
};

/*
 * dmap_test_env_init() - hosted env + context + one RAM region [ram_base,
 * ram_base+ram_size) registered with DMAP_HOSTED_MEM_POOL. Fails the test
 * (cr_assert) if anything goes wrong. @non_coherent: simulate cache hooks.
 */
void dmap_test_env_init(struct dmap_test_env *t, dmap_phys_t ram_base, size_t ram_size,
			bool non_coherent);
void dmap_test_env_fini(struct dmap_test_env *t);

/* Host pointer for physical address @phys in the test RAM (asserts it is inside). */
void *dmap_test_ram(struct dmap_test_env *t, dmap_phys_t phys);

/* Does any captured message contain every one of the NULL-terminated needles? */
bool dmap_test_log_has(struct dmap_test_env *t, const char *needle, ...);
/* Number of captured messages containing @needle. */
unsigned long dmap_test_log_count(struct dmap_test_env *t, const char *needle);
void dmap_test_log_clear(struct dmap_test_env *t);

/* A device with defaults overridden by the arguments (mask 0 = default). */
struct dmap_dev *dmap_test_dev(struct dmap_test_env *t, const char *name, uint64_t dma_mask);

#endif /* DMAP_TEST_ENV_H */
