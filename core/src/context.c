// SPDX-License-Identifier: MIT
/*
 * core/src/context.c - the library context.
 *
 * Design: a context is the one object that binds dmap to an environment.
 * It is deliberately tiny (the env pointer and two live-object counters)
 * because everything else hangs off devices and domains. Its job is to
 * check the environment once, at creation, so that no other path ever has
 * to test a required hook for NULL: a missing hook is named in the message
 * instead of crashing later on a map path. The counters let destroy refuse
 * (-EBUSY) rather than free a context that devices and domains still point
 * to; they are atomics because devices may be created from several threads.
 */
#include "internal.h"

/**
 * dmap_ctx_create() - see <dmap/dmap.h>.
 *
 * Context: may sleep (allocates). Errors: -EINVAL for NULL arguments or a
 * missing required hook (logged through the env's log hook when it has one),
 * -ENOMEM.
 */
int dmap_ctx_create(const struct dmap_env *env, struct dmap_ctx **out)
{
	struct dmap_ctx *ctx;

	if (out)
		*out = NULL;
	if (!env || !out || !env->ops)
		return -DMAP_EINVAL;
	{
		const struct dmap_env_ops *ops = env->ops;
		const struct {
			const char *name;
			bool present;
		} hooks[] = {
			{ "alloc", ops->alloc != NULL },
			{ "free", ops->free != NULL },
			{ "phys_to_virt", ops->phys_to_virt != NULL },
			{ "virt_to_phys", ops->virt_to_phys != NULL },
			{ "call_rcu", ops->call_rcu != NULL },
			{ "synchronize_rcu", ops->synchronize_rcu != NULL },
			{ "log", ops->log != NULL },
		};

		for (size_t i = 0; i < DMAP_ARRAY_SIZE(hooks); i++) {
			if (!hooks[i].present) {
				dmap_log(
					env, DMAP_LOG_ERR,
					"dmap: ctx_create: environment lacks the required hook '%s'",
					hooks[i].name);
				return -DMAP_EINVAL;
			}
		}
	}
	if (env->ops->alloc_dma_pages && !env->ops->free_dma_pages) {
		dmap_log(
			env, DMAP_LOG_ERR,
			"dmap: ctx_create: environment has alloc_dma_pages but lacks the required hook 'free_dma_pages'");
		return -DMAP_EINVAL;
	}
	ctx = dmap_env_alloc(env, sizeof(*ctx), DMAP_ALLOC_ZERO);
	if (!ctx) {
		dmap_log(env, DMAP_LOG_ERR, "dmap: ctx_create: out of memory (%zu bytes)",
			 sizeof(*ctx));
		return -DMAP_ENOMEM;
	}
	ctx->env = env;
	ctx->devices = 0;
	ctx->domains = 0;
	*out = ctx;
	return 0;
}

/**
 * dmap_ctx_destroy() - see <dmap/dmap.h>.
 *
 * Context: may sleep. Errors: -EINVAL for NULL, -EBUSY (nothing freed) while
 * devices or domains exist; the message gives both counts.
 */
int dmap_ctx_destroy(struct dmap_ctx *ctx)
{
	unsigned long devices, domains;

	if (!ctx)
		return -DMAP_EINVAL;
	devices = dmap_load_acquire(&ctx->devices);
	domains = dmap_load_acquire(&ctx->domains);
	if (devices || domains) {
		dmap_log(ctx->env, DMAP_LOG_ERR,
			 "dmap: ctx_destroy: context still has %lu device(s) and %lu domain(s)",
			 devices, domains);
		return -DMAP_EBUSY;
	}
	dmap_env_free(ctx->env, ctx, sizeof(*ctx));
	return 0;
}

const struct dmap_env *dmap_ctx_env(const struct dmap_ctx *ctx)
{
	return ctx ? ctx->env : NULL;
}
