// SPDX-License-Identifier: MIT
/*
 * tests/core/test_context_device.c - contexts, devices, domains: creation
 * defaults, validation, attach/detach, masks, lifetime refusals.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include <dmap/dmap.h>
#include <dmap/identity.h>
#include <dmap/ops.h>

#include "test_env.h"
#include "test_backend.h"

static struct dmap_test_env t;

static void setup(void)
{
	dmap_test_env_init(&t, 0x100000, 1 << 20, false);
}

static void teardown(void)
{
	dmap_test_env_fini(&t);
}

TestSuite(ctx, .init = setup, .fini = teardown);

Test(ctx, create_rejects_null)
{
	struct dmap_ctx *ctx = (void *)1;

	cr_assert_eq(dmap_ctx_create(NULL, &ctx), -DMAP_EINVAL);
	cr_assert_null(ctx);
	cr_assert_eq(dmap_ctx_create(t.env, NULL), -DMAP_EINVAL);
	cr_assert_eq(dmap_ctx_destroy(NULL), -DMAP_EINVAL);
	cr_assert_null(dmap_ctx_env(NULL));
	cr_assert_eq(dmap_ctx_env(t.ctx), t.env);
}

/* Every required hook, removed one at a time, is named in the refusal. */
Test(ctx, create_names_missing_hook)
{
	static const char *const names[] = { "alloc",	     "free",	 "phys_to_virt",
					     "virt_to_phys", "call_rcu", "synchronize_rcu" };

	for (size_t i = 0; i < DMAP_ARRAY_SIZE(names); i++) {
		struct dmap_env_ops ops = *t.env->ops;
		struct dmap_env env = { .ops = &ops, .cookie = t.env->cookie };
		struct dmap_ctx *ctx = NULL;

		switch (i) {
		case 0:
			ops.alloc = NULL;
			break;
		case 1:
			ops.free = NULL;
			break;
		case 2:
			ops.phys_to_virt = NULL;
			break;
		case 3:
			ops.virt_to_phys = NULL;
			break;
		case 4:
			ops.call_rcu = NULL;
			break;
		case 5:
			ops.synchronize_rcu = NULL;
			break;
		}
		dmap_test_log_clear(&t);
		cr_assert_eq(dmap_ctx_create(&env, &ctx), -DMAP_EINVAL, "%s", names[i]);
		cr_assert_null(ctx);
		cr_assert(dmap_test_log_has(&t, names[i], "required", NULL), "message names %s",
			  names[i]);
	}
	/* No log hook: refused too (nothing to say it with). */
	struct dmap_env_ops ops = *t.env->ops;
	struct dmap_env env = { .ops = &ops, .cookie = t.env->cookie };
	struct dmap_ctx *ctx = NULL;

	ops.log = NULL;
	cr_assert_eq(dmap_ctx_create(&env, &ctx), -DMAP_EINVAL);
}

Test(ctx, destroy_busy_with_counts)
{
	struct dmap_ctx *ctx;
	struct dmap_dev *dev;
	struct dmap_domain *dom;
	struct dmap_dev_info info = { .name = "d" };

	cr_assert_eq(dmap_ctx_create(t.env, &ctx), 0);
	cr_assert_eq(dmap_dev_create(ctx, &info, &dev), 0);
	cr_assert_eq(dmap_identity_domain_create(ctx, NULL, &dom), 0);
	dmap_test_log_clear(&t);
	cr_assert_eq(dmap_ctx_destroy(ctx), -DMAP_EBUSY);
	cr_assert(dmap_test_log_has(&t, "1 device", "1 domain", NULL));
	cr_assert_eq(dmap_dev_destroy(dev), 0);
	cr_assert_eq(dmap_ctx_destroy(ctx), -DMAP_EBUSY);
	cr_assert_eq(dmap_domain_destroy(dom), 0);
	cr_assert_eq(dmap_ctx_destroy(ctx), 0);
}

TestSuite(dev, .init = setup, .fini = teardown);

Test(dev, defaults)
{
	struct dmap_dev_info info = { 0 }, got;
	struct dmap_dev *dev;

	cr_assert_eq(dmap_dev_create(t.ctx, &info, &dev), 0);
	cr_assert_eq(dmap_dev_get_info(dev, &got), 0);
	cr_assert_str_eq(got.name, "dev");
	cr_assert_str_eq(dmap_dev_name(dev), "dev");
	cr_assert_eq(got.dma_mask, DMAP_BIT_MASK(32));
	cr_assert_eq(got.coherent_dma_mask, DMAP_BIT_MASK(32));
	cr_assert_eq(got.bus_dma_limit, 0);
	cr_assert_eq(got.max_seg_size, 65536);
	cr_assert_eq(got.seg_boundary_mask, ~0ULL);
	cr_assert_eq(got.min_align_mask, 0);
	cr_assert_eq(got.flags, 0);
	cr_assert_null(dmap_dev_domain(dev));
	cr_assert_eq(dmap_dev_destroy(dev), 0);
}

Test(dev, explicit_values_and_long_name)
{
	struct dmap_dev_info info = {
		.name = "a-very-long-device-name-that-exceeds-thirty-two-bytes",
		.stream_id = 0x42,
		.dma_mask = DMAP_BIT_MASK(44),
		.coherent_dma_mask = DMAP_BIT_MASK(40),
		.bus_dma_limit = 0xffffffffff,
		.max_seg_size = 4096,
		.seg_boundary_mask = 0xffff,
		.min_align_mask = 4095,
		.flags = DMAP_DEV_COHERENT | DMAP_DEV_UNTRUSTED,
	}, got;
	struct dmap_dev *dev;

	cr_assert_eq(dmap_dev_create(t.ctx, &info, &dev), 0);
	cr_assert_eq(dmap_dev_get_info(dev, &got), 0);
	cr_assert_eq(strlen(got.name), DMAP_NAME_MAX - 1);
	cr_assert_eq(strncmp(got.name, info.name, DMAP_NAME_MAX - 1), 0);
	cr_assert_eq(got.stream_id, 0x42);
	cr_assert_eq(got.dma_mask, DMAP_BIT_MASK(44));
	cr_assert_eq(got.coherent_dma_mask, DMAP_BIT_MASK(40));
	cr_assert_eq(got.bus_dma_limit, 0xffffffffff);
	cr_assert_eq(got.max_seg_size, 4096);
	cr_assert_eq(got.seg_boundary_mask, 0xffff);
	cr_assert_eq(got.min_align_mask, 4095);
	cr_assert_eq(got.flags, DMAP_DEV_COHERENT | DMAP_DEV_UNTRUSTED);
	dmap_dev_destroy(dev);
}

Test(dev, create_validation)
{
	struct dmap_dev_info info = { .name = "bad" };
	struct dmap_dev *dev = (void *)1;

	cr_assert_eq(dmap_dev_create(NULL, &info, &dev), -DMAP_EINVAL);
	cr_assert_null(dev);
	cr_assert_eq(dmap_dev_create(t.ctx, NULL, &dev), -DMAP_EINVAL);
	cr_assert_eq(dmap_dev_create(t.ctx, &info, NULL), -DMAP_EINVAL);

	info.flags = 1u << 7;
	dmap_test_log_clear(&t);
	cr_assert_eq(dmap_dev_create(t.ctx, &info, &dev), -DMAP_EINVAL);
	cr_assert(dmap_test_log_has(&t, "bad", "flag", NULL));
	info.flags = 0;

	info.seg_boundary_mask = 0x1000; /* mask+1 not a power of two */
	dmap_test_log_clear(&t);
	cr_assert_eq(dmap_dev_create(t.ctx, &info, &dev), -DMAP_EINVAL);
	cr_assert(dmap_test_log_has(&t, "bad", "seg_boundary_mask", "0x1000", NULL));
	info.seg_boundary_mask = 0xfff;
	cr_assert_eq(dmap_dev_create(t.ctx, &info, &dev), 0);
	dmap_dev_destroy(dev);
	info.seg_boundary_mask = 0;

	info.min_align_mask = 0x1800;
	dmap_test_log_clear(&t);
	cr_assert_eq(dmap_dev_create(t.ctx, &info, &dev), -DMAP_EINVAL);
	cr_assert(dmap_test_log_has(&t, "bad", "min_align_mask", NULL));
	info.min_align_mask = ~0ULL; /* 2^64-1 is 2^k-1 */
	cr_assert_eq(dmap_dev_create(t.ctx, &info, &dev), 0);
	dmap_dev_destroy(dev);
	cr_assert_eq(dmap_dev_destroy(NULL), -DMAP_EINVAL);
}

Test(dev, getters_null)
{
	struct dmap_dev_info info;

	cr_assert_eq(dmap_dev_get_info(NULL, &info), -DMAP_EINVAL);
	cr_assert_str_eq(dmap_dev_name(NULL), "");
	cr_assert_null(dmap_dev_domain(NULL));
	cr_assert_str_eq(dmap_domain_name(NULL), "");
	cr_assert_str_eq(dmap_domain_backend(NULL), "");
}

Test(dev, setters)
{
	struct dmap_dev *dev = dmap_test_dev(&t, "s", 0);
	struct dmap_dev_info got;

	cr_assert_eq(dmap_set_mask(dev, 0), -DMAP_EINVAL);
	cr_assert_eq(dmap_set_coherent_mask(dev, 0), -DMAP_EINVAL);
	cr_assert_eq(dmap_set_mask_and_coherent(dev, 0), -DMAP_EINVAL);
	cr_assert_eq(dmap_set_mask(NULL, 1), -DMAP_EINVAL);
	cr_assert_eq(dmap_set_coherent_mask(NULL, 1), -DMAP_EINVAL);
	cr_assert_eq(dmap_set_mask_and_coherent(NULL, 1), -DMAP_EINVAL);
	dmap_dev_get_info(dev, &got);
	cr_assert_eq(got.dma_mask, DMAP_BIT_MASK(32), "failed set leaves the mask");

	cr_assert_eq(dmap_set_mask(dev, DMAP_BIT_MASK(36)), 0);
	cr_assert_eq(dmap_set_coherent_mask(dev, DMAP_BIT_MASK(34)), 0);
	dmap_dev_get_info(dev, &got);
	cr_assert_eq(got.dma_mask, DMAP_BIT_MASK(36));
	cr_assert_eq(got.coherent_dma_mask, DMAP_BIT_MASK(34));
	cr_assert_eq(dmap_set_mask_and_coherent(dev, DMAP_BIT_MASK(64)), 0);
	dmap_dev_get_info(dev, &got);
	cr_assert_eq(got.dma_mask, ~0ULL);
	cr_assert_eq(got.coherent_dma_mask, ~0ULL);

	cr_assert_eq(dmap_set_max_seg_size(dev, 0), -DMAP_EINVAL);
	cr_assert_eq(dmap_set_max_seg_size(NULL, 1), -DMAP_EINVAL);
	cr_assert_eq(dmap_set_max_seg_size(dev, 1234), 0);
	cr_assert_eq(dmap_set_seg_boundary(dev, 0x1fff), 0);
	cr_assert_eq(dmap_set_seg_boundary(dev, 0x1ffe), -DMAP_EINVAL);
	cr_assert_eq(dmap_set_seg_boundary(dev, ~0ULL), 0);
	cr_assert_eq(dmap_set_seg_boundary(NULL, 0xfff), -DMAP_EINVAL);
	cr_assert_eq(dmap_set_min_align_mask(dev, 0), 0);
	cr_assert_eq(dmap_set_min_align_mask(dev, 0xfff), 0);
	cr_assert_eq(dmap_set_min_align_mask(dev, 0xff0), -DMAP_EINVAL);
	cr_assert_eq(dmap_set_min_align_mask(NULL, 0xfff), -DMAP_EINVAL);
	dmap_dev_get_info(dev, &got);
	cr_assert_eq(got.max_seg_size, 1234);
	cr_assert_eq(got.seg_boundary_mask, ~0ULL);
	cr_assert_eq(got.min_align_mask, 0xfff);
	dmap_dev_destroy(dev);
}

/* A domain whose dma_supported refuses small masks: set_mask -EIO, old mask kept. */
Test(dev, mask_refused_by_domain)
{
	struct tb *tb = tb_create(t.ctx, "picky", false);
	struct dmap_dev *dev = dmap_test_dev(&t, "m", 0);
	struct dmap_dev_info got;

	tb->min_mask = DMAP_BIT_MASK(32);
	cr_assert_eq(dmap_dev_attach(dev, &tb->dom), 0);
	dmap_test_log_clear(&t);
	cr_assert_eq(dmap_set_mask(dev, DMAP_BIT_MASK(24)), -DMAP_EIO);
	cr_assert(dmap_test_log_has(&t, "m", "picky", "0xffffff", NULL));
	cr_assert_eq(dmap_set_coherent_mask(dev, DMAP_BIT_MASK(24)), -DMAP_EIO);
	cr_assert_eq(dmap_set_mask_and_coherent(dev, DMAP_BIT_MASK(24)), -DMAP_EIO);
	dmap_dev_get_info(dev, &got);
	cr_assert_eq(got.dma_mask, DMAP_BIT_MASK(32));
	cr_assert_eq(got.coherent_dma_mask, DMAP_BIT_MASK(32));
	cr_assert_eq(dmap_set_mask_and_coherent(dev, DMAP_BIT_MASK(48)), 0);
	dmap_dev_destroy(dev);
	dmap_domain_destroy(&tb->dom);
}

Test(dev, attach_detach)
{
	struct tb *tb = tb_create(t.ctx, "tb", false);
	struct dmap_domain *id;
	struct dmap_dev *dev = dmap_test_dev(&t, "ad", 0);

	cr_assert_eq(dmap_identity_domain_create(t.ctx, NULL, &id), 0);
	cr_assert_eq(dmap_dev_attach(NULL, id), -DMAP_EINVAL);
	cr_assert_eq(dmap_dev_attach(dev, NULL), -DMAP_EINVAL);
	cr_assert_eq(dmap_dev_detach(NULL), -DMAP_EINVAL);
	cr_assert_eq(dmap_dev_detach(dev), -DMAP_ENODEV);

	cr_assert_eq(dmap_dev_attach(dev, &tb->dom), 0);
	cr_assert_eq(tb->attach_calls, 1);
	cr_assert_eq(dmap_dev_domain(dev), &tb->dom);
	cr_assert_eq(dmap_dev_attach(dev, id), -DMAP_EBUSY);
	cr_assert_eq(dmap_domain_destroy(&tb->dom), -DMAP_EBUSY);
	cr_assert_eq(dmap_domain_set_debug(&tb->dom, true), -DMAP_EBUSY);
	cr_assert_eq(dmap_dev_detach(dev), 0);
	cr_assert_eq(tb->detach_calls, 1);
	cr_assert_null(dmap_dev_domain(dev));

	/* A failing attach hook leaves the device detached. */
	tb->attach_result = -DMAP_ENODEV;
	cr_assert_eq(dmap_dev_attach(dev, &tb->dom), -DMAP_ENODEV);
	cr_assert_null(dmap_dev_domain(dev));
	tb->attach_result = 0;

	/* destroy detaches */
	cr_assert_eq(dmap_dev_attach(dev, id), 0);
	cr_assert_eq(dmap_domain_destroy(id), -DMAP_EBUSY);
	cr_assert_eq(dmap_dev_destroy(dev), 0);
	cr_assert_eq(dmap_domain_destroy(id), 0);
	cr_assert_eq(dmap_domain_destroy(&tb->dom), 0);
	cr_assert_eq(dmap_domain_destroy(NULL), -DMAP_EINVAL);
}

Test(dev, attach_other_context)
{
	struct dmap_ctx *other;
	struct dmap_domain *dom;
	struct dmap_dev *dev = dmap_test_dev(&t, "x", 0);

	cr_assert_eq(dmap_ctx_create(t.env, &other), 0);
	cr_assert_eq(dmap_identity_domain_create(other, NULL, &dom), 0);
	dmap_test_log_clear(&t);
	cr_assert_eq(dmap_dev_attach(dev, dom), -DMAP_EINVAL);
	cr_assert(dmap_test_log_has(&t, "x", "context", NULL));
	dmap_dev_destroy(dev);
	dmap_domain_destroy(dom);
	cr_assert_eq(dmap_ctx_destroy(other), 0);
}

TestSuite(domain, .init = setup, .fini = teardown);

Test(domain, names_and_settings)
{
	struct dmap_domain *dom;
	struct dmap_identity_config cfg = { .name = "direct0" };
	struct dmap_domain_stats st;

	cr_assert_eq(dmap_identity_domain_create(t.ctx, &cfg, &dom), 0);
	cr_assert_str_eq(dmap_domain_name(dom), "direct0");
	cr_assert_str_eq(dmap_domain_backend(dom), "identity");
	cr_assert_eq(dmap_domain_set_counting(NULL, true), -DMAP_EINVAL);
	cr_assert_eq(dmap_domain_set_counting(dom, true), 0);
	cr_assert_eq(dmap_domain_get_stats(NULL, &st), -DMAP_EINVAL);
	cr_assert_eq(dmap_domain_get_stats(dom, NULL), -DMAP_EINVAL);
	cr_assert_eq(dmap_domain_get_stats(dom, &st), 0);
	cr_assert_eq(st.maps, 0);
	cr_assert_eq(dmap_domain_set_debug(NULL, true), -DMAP_EINVAL);
	cr_assert_eq(dmap_domain_set_debug(dom, false), 0, "already off");
	cr_assert_eq(dmap_domain_use(NULL), -DMAP_EINVAL);
	dmap_domain_unuse(NULL);
	cr_assert_eq(dmap_domain_use(dom), 0);
	cr_assert_eq(dmap_domain_destroy(dom), -DMAP_EBUSY);
	dmap_domain_unuse(dom);
	cr_assert_eq(dmap_domain_destroy(dom), 0);

	cr_assert_eq(dmap_identity_domain_create(t.ctx, NULL, &dom), 0);
	cr_assert_str_eq(dmap_domain_name(dom), "identity");
	dmap_domain_destroy(dom);
}

Test(domain, debug_switch_round_trip)
{
	struct dmap_domain *dom;

	cr_assert_eq(dmap_identity_domain_create(t.ctx, NULL, &dom), 0);
	cr_assert_eq(dmap_domain_set_debug(dom, true), 0);
	cr_assert_eq(dmap_domain_set_debug(dom, true), 0, "already on");
	cr_assert_eq(dmap_domain_set_debug(dom, false), 0);
	cr_assert_eq(dmap_domain_set_debug(dom, true), 0);
	cr_assert_eq(dmap_domain_destroy(dom), 0, "destroy with debug on");
}

static void tb_noop_destroy(struct dmap_domain *dom)
{
	(void)dom;
}

static dmap_addr_t tb_noop_map(struct dmap_domain *dom, struct dmap_dev *dev, dmap_phys_t phys,
			       size_t size, enum dmap_dir dir, unsigned long attrs)
{
	(void)dom, (void)dev, (void)size, (void)dir, (void)attrs;
	return phys;
}

Test(domain, init_validation)
{
	struct dmap_domain dom;
	struct dmap_ops ops = { .name = "incomplete",
				.destroy = tb_noop_destroy,
				.map_phys = tb_noop_map };

	cr_assert_eq(dmap_domain_init(NULL, t.ctx, &ops, NULL), -DMAP_EINVAL);
	cr_assert_eq(dmap_domain_init(&dom, NULL, &ops, NULL), -DMAP_EINVAL);
	cr_assert_eq(dmap_domain_init(&dom, t.ctx, NULL, NULL), -DMAP_EINVAL);
	dmap_test_log_clear(&t);
	cr_assert_eq(dmap_domain_init(&dom, t.ctx, &ops, "x"), -DMAP_EINVAL);
	cr_assert(dmap_test_log_has(&t, "incomplete", "unmap_phys", NULL));
}
