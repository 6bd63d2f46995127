// SPDX-License-Identifier: MIT
/*
 * core/src/domain.c - the common part of every backend instance.
 *
 * Design: a backend allocates its own structure with &struct dmap_domain
 * embedded and calls dmap_domain_init() last, so the core owns a uniform
 * header (ops tables, name, counters, fault ring, debug state) and the
 * backend owns everything else; destroy releases the core's part and then
 * hands the memory back to the backend's destroy hook, which frees it.
 *
 * Two tables are kept: @backend_ops, the backend's own, and @ops, the one
 * dispatch calls. They are equal unless the debug layer is on, in which case
 * @ops is its wrapper. Switching is only allowed with no device attached:
 * the layer must see a mapping's whole life to judge its unmap, and map
 * calls read @ops without any lock.
 *
 * Lifetime rules are counters, not locks: @attached (devices routed here)
 * and @users (domains stacked on this one as their fallback). destroy
 * refuses with -EBUSY while either is non-zero, so a bounce domain cannot
 * vanish from under the identity domain that bounces through it.
 */
#include "internal.h"

/**
 * dmap_domain_init() - see <dmap/ops.h>.
 *
 * Context: may sleep (allocates the fault ring). Errors: -EINVAL (NULL, a
 * table without name/map_phys/unmap_phys/translate/destroy, or with
 * alloc_coherent but no free_coherent), -ENOMEM.
 */
int dmap_domain_init(struct dmap_domain *dom, struct dmap_ctx *ctx, const struct dmap_ops *ops,
		     const char *name)
{
	const char *missing = NULL;

	if (!dom || !ctx || !ops)
		return -DMAP_EINVAL;
	if (!ops->name)
		missing = "name";
	else if (!ops->map_phys)
		missing = "map_phys";
	else if (!ops->unmap_phys)
		missing = "unmap_phys";
	else if (!ops->translate)
		missing = "translate";
	else if (!ops->destroy)
		missing = "destroy";
	else if (ops->alloc_coherent && !ops->free_coherent)
		missing = "free_coherent";
	if (missing) {
		dmap_log(ctx->env, DMAP_LOG_ERR,
			 "dmap: domain_init '%s': backend ops table '%s' lacks the required '%s'",
			 name ? name : "", ops->name ? ops->name : "", missing);
		return -DMAP_EINVAL;
	}
	dmap_memset(dom, 0, sizeof(*dom));
	dom->faults = dmap_fault_ring_create(ctx->env, DMAP_FAULT_RING_DEFAULT_CAPACITY);
	if (!dom->faults) {
		dmap_log(ctx->env, DMAP_LOG_ERR,
			 "dmap: domain_init '%s': out of memory for the fault log",
			 name ? name : ops->name);
		return -DMAP_ENOMEM;
	}
	dom->ops = ops;
	dom->backend_ops = ops;
	dom->ctx = ctx;
	dom->env = ctx->env;
	dmap_strlcpy(dom->name, name ? name : ops->name, sizeof(dom->name));
	dmap_fetch_add(&ctx->domains, 1);
	return 0;
}

/**
 * dmap_domain_destroy() - see <dmap/dmap.h>.
 *
 * Turns the debug layer off first (it reports what is still mapped), frees
 * the fault ring, then calls the backend's destroy hook. Context: may sleep.
 * Errors: -EINVAL (NULL), -EBUSY while devices are attached or another
 * domain uses this one as its fallback.
 */
int dmap_domain_destroy(struct dmap_domain *domain)
{
	struct dmap_ctx *ctx;
	unsigned long attached, users;

	if (!domain)
		return -DMAP_EINVAL;
	attached = dmap_load_acquire(&domain->attached);
	users = dmap_load_acquire(&domain->users);
	if (attached || users) {
		dmap_log(
			domain->env, DMAP_LOG_ERR,
			"dmap: domain '%s' (%s): destroy refused: %lu device(s) attached, used as fallback by %lu domain(s)",
			domain->name, domain->backend_ops->name, attached, users);
		return -DMAP_EBUSY;
	}
	ctx = domain->ctx;
	if (domain->debug)
		dmap_debug_disable(domain);
	dmap_fault_ring_destroy(domain->env, domain->faults);
	domain->faults = NULL;
	domain->backend_ops->destroy(domain);
	dmap_fetch_sub(&ctx->domains, 1);
	return 0;
}

const char *dmap_domain_name(const struct dmap_domain *domain)
{
	return domain ? domain->name : "";
}

const char *dmap_domain_backend(const struct dmap_domain *domain)
{
	return domain ? domain->backend_ops->name : "";
}

/**
 * dmap_domain_set_debug() - see <dmap/dmap.h>. Context: may sleep.
 * Errors: -EINVAL, -EBUSY (devices attached), -ENOMEM (from the layer).
 */
int dmap_domain_set_debug(struct dmap_domain *domain, bool enable)
{
	unsigned long attached;

	if (!domain)
		return -DMAP_EINVAL;
	attached = dmap_load_acquire(&domain->attached);
	if (attached) {
		dmap_log(domain->env, DMAP_LOG_ERR,
			 "dmap: domain '%s': set_debug(%s) refused: %lu device(s) attached",
			 domain->name, enable ? "on" : "off", attached);
		return -DMAP_EBUSY;
	}
	if (enable == (domain->debug != NULL))
		return 0;
	if (enable)
		return dmap_debug_enable(domain);
	dmap_debug_disable(domain);
	return 0;
}

int dmap_domain_set_counting(struct dmap_domain *domain, bool enable)
{
	if (!domain)
		return -DMAP_EINVAL;
	dmap_store_relaxed(&domain->counting, enable);
	return 0;
}

int dmap_domain_get_stats(const struct dmap_domain *domain, struct dmap_domain_stats *out)
{
	/* Every counter is a uint64_t: sum the shards field by field. */
	enum { FIELDS = sizeof(struct dmap_domain_stats) / sizeof(uint64_t) };
	_Static_assert(sizeof(struct dmap_domain_stats) == FIELDS * sizeof(uint64_t),
		       "struct dmap_domain_stats holds only uint64_t counters");
	uint64_t *sum = (uint64_t *)out;

	if (!domain || !out)
		return -DMAP_EINVAL;
	for (unsigned int field = 0; field < FIELDS; field++) {
		sum[field] = 0;
		for (unsigned int shard = 0; shard < DMAP_STATS_SHARDS; shard++) {
			const uint64_t *counters = (const uint64_t *)&domain->stats[shard].counters;

			sum[field] += dmap_load_relaxed(&counters[field]);
		}
	}
	return 0;
}

int dmap_domain_use(struct dmap_domain *dom)
{
	if (!dom)
		return -DMAP_EINVAL;
	dmap_fetch_add(&dom->users, 1);
	return 0;
}

void dmap_domain_unuse(struct dmap_domain *dom)
{
	if (dom)
		dmap_fetch_sub(&dom->users, 1);
}
