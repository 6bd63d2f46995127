// SPDX-License-Identifier: MIT
/*
 * core/src/scatterlist.c - scatter-gather mapping, merging and its inverse.
 *
 * Design: mapping a list is two separate steps. First every entry is mapped
 * on its own (the backend's map_sg, or map_phys per entry with rollback),
 * leaving entry i's bus address in sg[i].dma_addr. Then the core merges, in
 * place, under the device's rules - the same rules whatever the backend:
 * entry i+1 joins the current bus segment only if
 *
 *   - its bus address is exactly the segment's end (bus-contiguous),
 *   - the merged length stays within dev->max_seg_size, and
 *   - the merged segment does not cross a seg_boundary_mask boundary:
 *     (start & ~mask) == (last byte & ~mask).
 *
 * Keeping merging out of the backends means one implementation to test and
 * that a backend's map_sg cannot break the block layer's segment limits.
 *
 * Unmap and sync receive the original entry count (as in Linux) and must
 * find each entry's bus address again, because backends unmap per entry.
 * That is exact without storing anything: merging only joins entries that
 * were bus-contiguous, in order, so walking the merged segments with the
 * original entry lengths yields every entry's address. If the walk does not
 * add up (a caller passed another list or count) the call is refused with
 * -EINVAL rather than unmapping guesses.
 *
 * Failure anywhere leaves nothing mapped: every entry is validated (length
 * 0, wrap-around) before anything is mapped, and a failure mid-list unmaps
 * the entries already mapped (with SKIP_CPU_SYNC: no data was handed over).
 *
 * The per-entry address array that unmap_sg hands to the backend lives on
 * the stack for lists of up to 64 entries and is allocated atomically
 * beyond; if that allocation fails, the list is unmapped in stack-sized
 * batches (correct for every backend; the debug layer may then see one
 * unmap_sg per batch).
 */
#include "internal.h"

#define DMAP_SG_STACK_ENTRIES 64

int dmap_backend_map_sg(struct dmap_domain *dom, const struct dmap_ops *ops, struct dmap_dev *dev,
			struct dmap_sg *sg, int nents, enum dmap_dir dir, unsigned long attrs)
{
	int i;

	if (ops->map_sg)
		return ops->map_sg(dom, dev, sg, nents, dir, attrs);
	for (i = 0; i < nents; i++) {
		dmap_addr_t addr = ops->map_phys(dom, dev, sg[i].phys, sg[i].len, dir, attrs);

		if (addr == DMAP_MAPPING_ERROR)
			goto rollback;
		sg[i].dma_addr = addr;
		sg[i].dma_len = sg[i].len;
	}
	return 0;
rollback:
	while (i-- > 0) {
		ops->unmap_phys(dom, dev, sg[i].dma_addr, sg[i].len, dir,
				attrs | DMAP_ATTR_SKIP_CPU_SYNC);
		sg[i].dma_addr = DMAP_MAPPING_ERROR;
		sg[i].dma_len = 0;
	}
	return -DMAP_EIO;
}

int dmap_backend_unmap_sg(struct dmap_domain *dom, const struct dmap_ops *ops, struct dmap_dev *dev,
			  const struct dmap_sg *sg, const dmap_addr_t *addrs, int nents,
			  enum dmap_dir dir, unsigned long attrs)
{
	int ret = 0;

	if (ops->unmap_sg)
		return ops->unmap_sg(dom, dev, sg, addrs, nents, dir, attrs);
	for (int i = 0; i < nents; i++) {
		int r = ops->unmap_phys(dom, dev, addrs[i], sg[i].len, dir, attrs);

		if (r && !ret)
			ret = r;
	}
	return ret;
}

/*
 * Walks the merged segments of a mapped list, yielding each original
 * entry's bus address. Segment j is sg[j].dma_addr/dma_len.
 */
struct dmap_sg_cursor {
	const struct dmap_sg *sg;
	int nents;
	int segment;
	size_t offset; /* into the current segment */
};

/* Bus address of the next entry of length @len, or -EINVAL if the list does not add up. */
static int dmap_sg_next(struct dmap_sg_cursor *c, size_t len, dmap_addr_t *addr)
{
	const struct dmap_sg *seg;

	if (c->segment >= c->nents)
		return -DMAP_EINVAL;
	seg = &c->sg[c->segment];
	if (!seg->dma_len || len > seg->dma_len - c->offset)
		return -DMAP_EINVAL;
	*addr = seg->dma_addr + c->offset;
	c->offset += len;
	if (c->offset == seg->dma_len) {
		c->segment++;
		c->offset = 0;
	}
	return 0;
}

/* Validate a list before anything is done with it. */
static int dmap_sg_check(struct dmap_dev *dev, struct dmap_domain *dom, const char *call,
			 const struct dmap_sg *sg, int nents, enum dmap_dir dir,
			 unsigned long attrs, size_t *total)
{
	size_t sum = 0;

	if (!sg || nents <= 0) {
		dmap_invalid_arg(dev, dom, "%s: %s (nents %d)", call,
				 !sg ? "NULL list" : "no entries", nents);
		return -DMAP_EINVAL;
	}
	if (!dmap_valid_dir(dir)) {
		dmap_invalid_arg(dev, dom, "%s: invalid direction %d (%s), %d entries", call,
				 (int)dir, dmap_dir_name(dir), nents);
		return -DMAP_EINVAL;
	}
	if (attrs & ~DMAP_ATTR_ALL) {
		dmap_invalid_arg(dev, dom, "%s: unknown attribute bits 0x%lx, %d entries", call,
				 attrs & ~DMAP_ATTR_ALL, nents);
		return -DMAP_EINVAL;
	}
	for (int i = 0; i < nents; i++) {
		if (!sg[i].len) {
			dmap_invalid_arg(dev, dom, "%s: entry %d (phys 0x%llx) has length 0", call,
					 i, (unsigned long long)sg[i].phys);
			return -DMAP_EINVAL;
		}
		if (sg[i].phys + (sg[i].len - 1) < sg[i].phys) {
			dmap_invalid_arg(
				dev, dom,
				"%s: entry %d phys 0x%llx + length 0x%zx wraps past the end of the address space",
				call, i, (unsigned long long)sg[i].phys, sg[i].len);
			return -DMAP_EINVAL;
		}
		sum += sg[i].len;
	}
	if (total)
		*total = sum;
	if (!dom) {
		dmap_log(
			dmap_dev_env(dev), DMAP_LOG_WARN,
			"dmap: %s: %s: device is not attached to a domain (%d entries, first phys 0x%llx)",
			dev->name, call, nents, (unsigned long long)sg[0].phys);
		return -DMAP_ENODEV;
	}
	return 0;
}

/* Merge in place; returns the number of bus segments and counts merges in *@merged. */
static int dmap_sg_merge(const struct dmap_dev *dev, struct dmap_sg *sg, int nents, int *merged)
{
	uint64_t boundary = ~dev->seg_boundary_mask;
	dmap_addr_t start = sg[0].dma_addr;
	size_t len = sg[0].dma_len;
	int n = 0, joined = 0;

	for (int i = 1; i < nents; i++) {
		dmap_addr_t addr = sg[i].dma_addr;
		size_t l = sg[i].dma_len;
		dmap_addr_t end = start + len;

		if (addr == end && end != 0 && l <= dev->max_seg_size &&
		    len <= dev->max_seg_size - l &&
		    (start & boundary) == ((addr + l - 1) & boundary)) {
			len += l;
			joined++;
			continue;
		}
		sg[n].dma_addr = start;
		sg[n].dma_len = len;
		n++;
		start = addr;
		len = l;
	}
	sg[n].dma_addr = start;
	sg[n].dma_len = len;
	n++;
	for (int i = n; i < nents; i++) {
		sg[i].dma_addr = DMAP_MAPPING_ERROR;
		sg[i].dma_len = 0;
	}
	*merged = joined;
	return n;
}

/**
 * dmap_map_sg() - see <dmap/dmap.h>. Context: any; never sleeps.
 * Errors: -EINVAL (bad list or arguments), -ENODEV (detached), the backend's
 * error (-EIO when a per-entry map failed); nothing is left mapped.
 */
int dmap_map_sg(struct dmap_dev *dev, struct dmap_sg *sg, int nents, enum dmap_dir dir,
		unsigned long attrs)
{
	struct dmap_domain *dom;
	size_t total = 0;
	int ret, merged, count;

	if (!dev)
		return -DMAP_EINVAL;
	dom = dmap_load_acquire(&dev->domain);
	ret = dmap_sg_check(dev, dom, "map_sg", sg, nents, dir, attrs, &total);
	if (ret)
		return ret;
	ret = dmap_backend_map_sg(dom, dom->ops, dev, sg, nents, dir, attrs);
	if (ret) {
		dmap_domain_count(dom, map_errors, 1);
		if (!(attrs & DMAP_ATTR_NO_WARN))
			dmap_log(
				dom->env, DMAP_LOG_WARN,
				"dmap: %s: map_sg: mapping %d entries (0x%zx bytes, first phys 0x%llx) failed: %d",
				dev->name, nents, total, (unsigned long long)sg[0].phys, ret);
		return ret < 0 ? ret : -DMAP_EIO;
	}
	count = dmap_sg_merge(dev, sg, nents, &merged);
	if (dmap_unlikely(dmap_load_relaxed(&dom->counting))) {
		dmap_domain_count(dom, sg_maps, 1);
		dmap_domain_count(dom, sg_segments_merged, merged);
		dmap_domain_count(dom, bytes_mapped, total);
	}
	return count;
}

/* Rebuild per-entry bus addresses of sg[first..first+count) into @addrs. */
static int dmap_sg_addresses(struct dmap_sg_cursor *c, const struct dmap_sg *sg, int count,
			     dmap_addr_t *addrs)
{
	for (int i = 0; i < count; i++) {
		if (dmap_sg_next(c, sg[i].len, &addrs[i]))
			return -DMAP_EINVAL;
	}
	return 0;
}

/**
 * dmap_unmap_sg() - see <dmap/dmap.h>; @nents as passed to dmap_map_sg().
 * Context: any; never sleeps. Errors: -EINVAL (also when the merged list
 * does not match the entries), -ENODEV, the backend's.
 */
int dmap_unmap_sg(struct dmap_dev *dev, struct dmap_sg *sg, int nents, enum dmap_dir dir,
		  unsigned long attrs)
{
	dmap_addr_t stack_addrs[DMAP_SG_STACK_ENTRIES];
	struct dmap_sg_cursor cursor = { .sg = sg, .nents = nents };
	struct dmap_domain *dom;
	dmap_addr_t *addrs = stack_addrs;
	size_t alloc_size = 0;
	bool mismatch = false;
	int ret;

	if (!dev)
		return -DMAP_EINVAL;
	dom = dmap_load_acquire(&dev->domain);
	ret = dmap_sg_check(dev, dom, "unmap_sg", sg, nents, dir, attrs, NULL);
	if (ret)
		return ret;
	if (nents > DMAP_SG_STACK_ENTRIES) {
		alloc_size = (size_t)nents * sizeof(*addrs);
		addrs = dmap_env_alloc(dom->env, alloc_size, DMAP_ALLOC_ATOMIC);
		if (!addrs) {
			addrs = stack_addrs;
			alloc_size = 0;
		}
	}
	if (addrs != stack_addrs || nents <= DMAP_SG_STACK_ENTRIES) {
		ret = dmap_sg_addresses(&cursor, sg, nents, addrs);
		mismatch = ret != 0;
		if (!ret)
			ret = dmap_backend_unmap_sg(dom, dom->ops, dev, sg, addrs, nents, dir,
						    attrs);
	} else {
		/* Out of memory for the address array: unmap in stack-sized batches. */
		for (int first = 0; first < nents && !ret; first += DMAP_SG_STACK_ENTRIES) {
			int count = dmap_min(nents - first, DMAP_SG_STACK_ENTRIES);

			ret = dmap_sg_addresses(&cursor, sg + first, count, addrs);
			mismatch = ret != 0;
			if (!ret)
				ret = dmap_backend_unmap_sg(dom, dom->ops, dev, sg + first, addrs,
							    count, dir, attrs);
		}
	}
	if (alloc_size)
		dmap_env_free(dom->env, addrs, alloc_size);
	if (mismatch)
		dmap_invalid_arg(
			dev, dom,
			"unmap_sg: the mapped segments do not match the %d entries (stopped at segment %d)",
			nents, cursor.segment);
	return ret;
}

static int dmap_sync_sg(struct dmap_dev *dev, struct dmap_sg *sg, int nents, enum dmap_dir dir,
			bool for_cpu)
{
	const char *call = for_cpu ? "sync_sg_for_cpu" : "sync_sg_for_device";
	struct dmap_sg_cursor cursor = { .sg = sg, .nents = nents };
	struct dmap_domain *dom;
	int ret, first_error = 0;

	if (!dev)
		return -DMAP_EINVAL;
	dom = dmap_load_acquire(&dev->domain);
	ret = dmap_sg_check(dev, dom, call, sg, nents, dir, 0, NULL);
	if (ret)
		return ret;
	for (int i = 0; i < nents; i++) {
		dmap_addr_t addr;

		if (dmap_sg_next(&cursor, sg[i].len, &addr)) {
			dmap_invalid_arg(
				dev, dom,
				"%s: the mapped segments do not match the %d entries (entry %d)",
				call, nents, i);
			return -DMAP_EINVAL;
		}
		ret = dmap_backend_sync(dom, dom->ops, dev, addr, sg[i].len, dir, for_cpu);
		if (ret && !first_error)
			first_error = ret;
	}
	if (dmap_unlikely(dmap_load_relaxed(&dom->counting)))
		dmap_domain_count(dom, syncs, 1);
	return first_error;
}

int dmap_sync_sg_for_cpu(struct dmap_dev *dev, struct dmap_sg *sg, int nents, enum dmap_dir dir)
{
	return dmap_sync_sg(dev, sg, nents, dir, true);
}

int dmap_sync_sg_for_device(struct dmap_dev *dev, struct dmap_sg *sg, int nents, enum dmap_dir dir)
{
	return dmap_sync_sg(dev, sg, nents, dir, false);
}
