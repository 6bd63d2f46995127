// SPDX-License-Identifier: MIT
/*
 * tests/support/test_env.c - a hosted environment, a context and some RAM for
 * a Criterion test, with every log message captured.
 *
 * The log callback may run on any thread (a stress test's workers, the hosted
 * environment's RCU worker), so the ring of captured lines sits behind a mutex. The
 * mutex is one global here rather than a field of struct dmap_test_env, whose
 * layout other helpers already compile against; logging is never hot enough
 * in a test for one lock shared by all environments to matter.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "test_env.h"

static pthread_mutex_t dmap_test_log_lock = PTHREAD_MUTEX_INITIALIZER;

static void dmap_test_log(void *arg, enum dmap_log_level level, const char *message)
{
	struct dmap_test_env *t = arg;

	pthread_mutex_lock(&dmap_test_log_lock);
	snprintf(t->lines[t->messages % DMAP_TEST_LOG_LINES], sizeof(t->lines[0]), "%s", message);
	t->messages++;
	if (level <= DMAP_LOG_WARN)
		t->warnings++;
	pthread_mutex_unlock(&dmap_test_log_lock);
	if (t->echo)
		fprintf(stderr, "[dmap %s] %s\n", dmap_hosted_log_level_name(level), message);
}

void dmap_test_env_init(struct dmap_test_env *t, dmap_phys_t ram_base, size_t ram_size,
			bool non_coherent)
{
	struct dmap_hosted_config config = { 0 };
	const char *echo = getenv("DMAP_TEST_ECHO");
	int ret;

	memset(t, 0, sizeof(*t));
	t->echo = echo && *echo && strcmp(echo, "0") != 0;
	config.log = dmap_test_log;
	config.log_arg = t;
	config.non_coherent = non_coherent;
	ret = dmap_hosted_create(&config, &t->hosted);
	cr_assert_eq(ret, 0, "dmap_hosted_create: %d", ret);
	t->env = dmap_hosted_env(t->hosted);
	if (ram_size) {
		ret = dmap_hosted_mem_add(t->hosted, ram_base, ram_size, DMAP_HOSTED_MEM_POOL,
					  &t->ram);
		cr_assert_eq(ret, 0, "dmap_hosted_mem_add(0x%llx, 0x%zx): %d (%s)",
			     (unsigned long long)ram_base, ram_size, ret,
			     dmap_hosted_last_message());
		t->ram_base = ram_base;
		t->ram_size = ram_size;
	}
	ret = dmap_ctx_create(t->env, &t->ctx);
	cr_assert_eq(ret, 0, "dmap_ctx_create: %d (%s)", ret, dmap_hosted_last_message());
}

void dmap_test_env_fini(struct dmap_test_env *t)
{
	if (t->ctx) {
		int ret = dmap_ctx_destroy(t->ctx);

		cr_expect_eq(ret, 0, "dmap_ctx_destroy: %d (%s)", ret, dmap_hosted_last_message());
		t->ctx = NULL;
	}
	dmap_hosted_destroy(t->hosted);
	t->hosted = NULL;
	t->env = NULL;
	t->ram = NULL;
}

void *dmap_test_ram(struct dmap_test_env *t, dmap_phys_t phys)
{
	cr_assert(t->ram && phys >= t->ram_base && phys - t->ram_base < t->ram_size,
		  "physical 0x%llx is outside the test RAM [0x%llx, +0x%zx)",
		  (unsigned long long)phys, (unsigned long long)t->ram_base, t->ram_size);
	return (char *)t->ram + (phys - t->ram_base);
}

/* Visit the captured lines still in the ring, oldest first. Called with the lock held. */
#define DMAP_TEST_FOR_EACH_LINE(t, i, line)                                  \
	for (unsigned long i = (t)->messages > DMAP_TEST_LOG_LINES ?         \
				       (t)->messages - DMAP_TEST_LOG_LINES : \
				       0;                                    \
	     i < (t)->messages && ((line) = (t)->lines[i % DMAP_TEST_LOG_LINES], 1); i++)

bool dmap_test_log_has(struct dmap_test_env *t, const char *needle, ...)
{
	const char *needles[16];
	unsigned int n = 0;
	const char *line;
	bool found = false;
	va_list ap;

	va_start(ap, needle);
	for (const char *s = needle; s && n < 16; s = va_arg(ap, const char *))
		needles[n++] = s;
	va_end(ap);
	pthread_mutex_lock(&dmap_test_log_lock);
	DMAP_TEST_FOR_EACH_LINE(t, i, line)
	{
		unsigned int k;

		for (k = 0; k < n && strstr(line, needles[k]); k++)
			;
		if (k == n) {
			found = true;
			break;
		}
	}
	pthread_mutex_unlock(&dmap_test_log_lock);
	return found;
}

unsigned long dmap_test_log_count(struct dmap_test_env *t, const char *needle)
{
	unsigned long count = 0;
	const char *line;

	pthread_mutex_lock(&dmap_test_log_lock);
	DMAP_TEST_FOR_EACH_LINE(t, i, line)
	{
		if (strstr(line, needle))
			count++;
	}
	pthread_mutex_unlock(&dmap_test_log_lock);
	return count;
}

void dmap_test_log_clear(struct dmap_test_env *t)
{
	pthread_mutex_lock(&dmap_test_log_lock);
	t->messages = 0;
	t->warnings = 0;
	memset(t->lines, 0, sizeof(t->lines));
	pthread_mutex_unlock(&dmap_test_log_lock);
}

struct dmap_dev *dmap_test_dev(struct dmap_test_env *t, const char *name, uint64_t dma_mask)
{
	struct dmap_dev_info info = { 0 };
	struct dmap_dev *dev = NULL;
	int ret;

	info.name = name;
	info.dma_mask = dma_mask;
	info.coherent_dma_mask = dma_mask;
	ret = dmap_dev_create(t->ctx, &info, &dev);
	cr_assert_eq(ret, 0, "dmap_dev_create(%s): %d (%s)", name ? name : "(null)", ret,
		     dmap_hosted_last_message());
	return dev;
}
