// SPDX-License-Identifier: MIT
/* tests/core/test_backend.c - see test_backend.h. */
#include <stdlib.h>
#include <string.h>

#include "test_backend.h"

static struct tb *to_tb(struct dmap_domain *dom)
{
	return dmap_container_of(dom, struct tb, dom);
}

static struct tb_mapping *tb_find(struct tb *tb, dmap_addr_t addr)
{
	for (int i = 0; i < tb->nmaps; i++) {
		struct tb_mapping *m = &tb->maps[i];

		if (m->live && addr >= m->addr && addr - m->addr < m->len)
			return m;
	}
	return NULL;
}

static dmap_addr_t tb_map_phys(struct dmap_domain *dom, struct dmap_dev *dev, dmap_phys_t phys,
			       size_t size, enum dmap_dir dir, unsigned long attrs)
{
	struct tb *tb = to_tb(dom);
	dmap_addr_t addr;

	(void)dev;
	(void)dir;
	(void)attrs;
	tb->map_calls++;
	if (tb->fail_at && tb->map_calls == tb->fail_at)
		return DMAP_MAPPING_ERROR;
	if (tb->bounce) {
		if (tb->next + size > tb->window_size)
			return DMAP_MAPPING_ERROR;
		addr = tb->window_base + tb->next;
		tb->next += (size + 4095) & ~(size_t)4095;
	} else {
		addr = phys + tb->offset;
	}
	for (int i = 0; i <= tb->nmaps && i < TB_LOG; i++) {
		if (i == tb->nmaps || !tb->maps[i].live) {
			tb->maps[i] = (struct tb_mapping){ addr, phys, size, true };
			if (i == tb->nmaps)
				tb->nmaps++;
			break;
		}
	}
	tb->live++;
	return addr;
}

static int tb_unmap_phys(struct dmap_domain *dom, struct dmap_dev *dev, dmap_addr_t addr,
			 size_t size, enum dmap_dir dir, unsigned long attrs)
{
	struct tb *tb = to_tb(dom);
	struct tb_mapping *m = tb_find(tb, addr);

	(void)dev;
	tb->unmap_calls++;
	if (tb->nunmaps < TB_LOG)
		tb->unmaps[tb->nunmaps++] = (struct tb_call){ addr, size, dir, attrs, false };
	if (!m || m->addr != addr)
		return -DMAP_ENOENT;
	m->live = false;
	tb->live--;
	return 0;
}

static int tb_map_sg(struct dmap_domain *dom, struct dmap_dev *dev, struct dmap_sg *sg, int nents,
		     enum dmap_dir dir, unsigned long attrs)
{
	struct tb *tb = to_tb(dom);

	tb->map_sg_calls++;
	for (int i = 0; i < nents; i++) {
		dmap_addr_t a = tb_map_phys(dom, dev, sg[i].phys, sg[i].len, dir, attrs);

		if (a == DMAP_MAPPING_ERROR) {
			while (i-- > 0)
				tb_unmap_phys(dom, dev, sg[i].dma_addr, sg[i].len, dir, attrs);
			return -DMAP_ENOMEM;
		}
		sg[i].dma_addr = a;
		sg[i].dma_len = sg[i].len;
	}
	return 0;
}

static int tb_unmap_sg(struct dmap_domain *dom, struct dmap_dev *dev, const struct dmap_sg *sg,
		       const dmap_addr_t *addrs, int nents, enum dmap_dir dir, unsigned long attrs)
{
	struct tb *tb = to_tb(dom);
	int ret = 0;

	tb->unmap_sg_calls++;
	for (int i = 0; i < nents; i++) {
		int r = tb_unmap_phys(dom, dev, addrs[i], sg[i].len, dir, attrs);

		if (r && !ret)
			ret = r;
	}
	return ret;
}

static int tb_sync(struct dmap_domain *dom, dmap_addr_t addr, size_t size, enum dmap_dir dir,
		   bool for_cpu)
{
	struct tb *tb = to_tb(dom);

	tb->sync_calls++;
	if (tb->nsyncs < TB_LOG)
		tb->syncs[tb->nsyncs++] = (struct tb_call){ addr, size, dir, 0, for_cpu };
	return tb_find(tb, addr) ? 0 : -DMAP_ENOENT;
}

static int tb_sync_for_cpu(struct dmap_domain *dom, struct dmap_dev *dev, dmap_addr_t addr,
			   size_t size, enum dmap_dir dir)
{
	(void)dev;
	return tb_sync(dom, addr, size, dir, true);
}

static int tb_sync_for_device(struct dmap_domain *dom, struct dmap_dev *dev, dmap_addr_t addr,
			      size_t size, enum dmap_dir dir)
{
	(void)dev;
	return tb_sync(dom, addr, size, dir, false);
}

static int tb_translate(struct dmap_domain *dom, struct dmap_dev *dev, dmap_addr_t addr,
			unsigned int access, struct dmap_translation *out, struct dmap_fault *fault)
{
	struct tb *tb = to_tb(dom);
	struct tb_mapping *m = tb_find(tb, addr);

	(void)dev;
	(void)access;
	tb->translate_calls++;
	if (!m) {
		fault->reason = DMAP_FAULT_TRANSLATION;
		return -DMAP_EFAULT;
	}
	out->phys = m->phys + (addr - m->addr);
	out->len = m->len - (addr - m->addr);
	out->perm = tb->perm;
	return 0;
}

static bool tb_owns_addr(struct dmap_domain *dom, struct dmap_dev *dev, dmap_addr_t addr)
{
	struct tb *tb = to_tb(dom);

	(void)dev;
	return tb->bounce && addr >= tb->window_base && addr - tb->window_base < tb->window_size;
}

static size_t tb_max_mapping_size(struct dmap_domain *dom, struct dmap_dev *dev)
{
	(void)dev;
	return to_tb(dom)->max_mapping ? to_tb(dom)->max_mapping : SIZE_MAX;
}

static bool tb_dma_supported(struct dmap_domain *dom, struct dmap_dev *dev, uint64_t mask)
{
	(void)dev;
	return mask >= to_tb(dom)->min_mask;
}

static int tb_attach(struct dmap_domain *dom, struct dmap_dev *dev)
{
	(void)dev;
	to_tb(dom)->attach_calls++;
	return to_tb(dom)->attach_result;
}

static void tb_detach(struct dmap_domain *dom, struct dmap_dev *dev)
{
	(void)dev;
	to_tb(dom)->detach_calls++;
}

static void tb_destroy(struct dmap_domain *dom)
{
	free(to_tb(dom));
}

static const struct dmap_ops tb_ops = {
	.name = "testbackend",
	.attach = tb_attach,
	.detach = tb_detach,
	.destroy = tb_destroy,
	.map_phys = tb_map_phys,
	.unmap_phys = tb_unmap_phys,
	.sync_for_cpu = tb_sync_for_cpu,
	.sync_for_device = tb_sync_for_device,
	.max_mapping_size = tb_max_mapping_size,
	.dma_supported = tb_dma_supported,
	.translate = tb_translate,
	.owns_addr = tb_owns_addr,
};

static const struct dmap_ops tb_sg_ops = {
	.name = "testbackend-sg",
	.attach = tb_attach,
	.detach = tb_detach,
	.destroy = tb_destroy,
	.map_phys = tb_map_phys,
	.unmap_phys = tb_unmap_phys,
	.map_sg = tb_map_sg,
	.unmap_sg = tb_unmap_sg,
	.sync_for_cpu = tb_sync_for_cpu,
	.sync_for_device = tb_sync_for_device,
	.max_mapping_size = tb_max_mapping_size,
	.dma_supported = tb_dma_supported,
	.translate = tb_translate,
	.owns_addr = tb_owns_addr,
};

struct tb *tb_create(struct dmap_ctx *ctx, const char *name, bool sg_hooks)
{
	struct tb *tb = calloc(1, sizeof(*tb));

	if (!tb)
		return NULL;
	tb->perm = DMAP_ACCESS_READ | DMAP_ACCESS_WRITE;
	if (dmap_domain_init(&tb->dom, ctx, sg_hooks ? &tb_sg_ops : &tb_ops, name)) {
		free(tb);
		return NULL;
	}
	return tb;
}

void tb_reset_log(struct tb *tb)
{
	tb->map_calls = tb->unmap_calls = tb->map_sg_calls = tb->unmap_sg_calls = 0;
	tb->sync_calls = tb->translate_calls = 0;
	tb->nunmaps = tb->nsyncs = 0;
}
