// SPDX-License-Identifier: MIT
/*
 * core/env/hosted/hosted_memory.c - simulated physical memory for the hosted
 * environment: RAM regions, phys<->virt translation and a page allocator.
 *
 * A region is a physical range [base, base + size) backed by host memory:
 * anonymous mmap (MAP_NORESERVE, so a test can declare a terabyte of sparse
 * RAM and pay only for the pages it touches) or memory the caller owns
 * (vhost-user guest RAM). Each region sits in two RCU range maps: physical
 * address -> host pointer, for phys_to_virt on every map and device access,
 * and host address -> physical address, for virt_to_phys (dmap_map_single).
 * Both lookups are lock-free binary searches under the RCU read lock and
 * report how far the region stays contiguous, so callers can split copies at
 * region edges. Readers only use the entry's value word; the region
 * structure is touched by writers alone and freed (and its memory unmapped)
 * by the physical map's release callback after a grace period, so a reader
 * that translated an address may keep using the pointer until it unlocks.
 *
 * Pool regions also feed alloc_dma_pages/alloc_table_page with a deliberately
 * simple allocator: a bitmap of 4 KiB pages per region under one mutex,
 * searched from the top of the highest region down (so low memory, which
 * 32-bit devices need, is used last, and tests that place buffers near the
 * base of their RAM rarely collide with pool pages). This is the slow path:
 * bounce pools and coherent buffers are allocated once, page-table pages a
 * page at a time; a scan that skips full 64-page words is plenty.
 *
 * Registration and the allocator serialise on hosted->mem_lock; the range
 * maps have their own writer locks, so lookups never wait for either.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "hosted_internal.h"

#define DMAP_HOSTED_PAGE 4096ull
#define DMAP_HOSTED_PAGE_SHIFT 12

/*
 * struct dmap_hosted_region - one registered RAM region.
 * @next: list sorted by @base, descending (under mem_lock).
 * @base, @last: physical range, inclusive.
 * @size: bytes.
 * @host: host memory.
 * @owned: @host was mmap'd here and is unmapped on removal.
 * @flags: DMAP_HOSTED_MEM_*.
 * @bitmap: pool regions: one bit per 4 KiB page, set = allocated.
 * @pages: pages in the region.
 * @pages_in_use: pool pages allocated.
 */
struct dmap_hosted_region {
	struct dmap_hosted_region *next;
	dmap_phys_t base;
	dmap_phys_t last;
	size_t size;
	void *host;
	bool owned;
	unsigned int flags;
	uint64_t *bitmap;
	size_t pages;
	size_t pages_in_use;
};

static void dmap_hosted_region_free(struct dmap_hosted_region *region)
{
	if (region->owned)
		munmap(region->host, region->size);
	free(region->bitmap);
	free(region);
}

/* Physical map release callback: after a grace period no reader can use the region. */
static void dmap_hosted_region_release(void *cookie, const struct dmap_range *range)
{
	(void)cookie;
	dmap_hosted_region_free(range->data);
}

int dmap_hosted_memory_init(struct dmap_hosted *hosted)
{
	int ret;

	pthread_mutex_init(&hosted->mem_lock, NULL);
	ret = dmap_range_map_create(&hosted->env, dmap_hosted_region_release, hosted,
				    &hosted->phys_map);
	if (!ret)
		ret = dmap_range_map_create(&hosted->env, NULL, NULL, &hosted->host_map);
	if (ret) {
		dmap_range_map_destroy(hosted->phys_map);
		hosted->phys_map = NULL;
		pthread_mutex_destroy(&hosted->mem_lock);
	}
	return ret;
}

void dmap_hosted_memory_fini(struct dmap_hosted *hosted)
{
	struct dmap_hosted_region *region;

	pthread_mutex_lock(&hosted->mem_lock);
	for (region = hosted->regions; region; region = region->next)
		if (region->pages_in_use)
			dmap_hosted_logf(
				hosted, DMAP_LOG_WARN,
				"hosted: destroying RAM region [0x%llx-0x%llx] with %zu pool pages still allocated",
				(unsigned long long)region->base, (unsigned long long)region->last,
				region->pages_in_use);
	hosted->regions = NULL;
	pthread_mutex_unlock(&hosted->mem_lock);
	/* The physical map's release callback unmaps and frees every region. */
	dmap_range_map_destroy(hosted->host_map);
	dmap_range_map_destroy(hosted->phys_map);
	pthread_mutex_destroy(&hosted->mem_lock);
}

static int dmap_hosted_check_range(struct dmap_hosted *hosted, dmap_phys_t base, size_t size)
{
	if (base & (DMAP_HOSTED_PAGE - 1)) {
		dmap_hosted_logf(hosted, DMAP_LOG_ERR,
				 "hosted: RAM base 0x%llx is not 4 KiB aligned",
				 (unsigned long long)base);
		return -EINVAL;
	}
	if (!size || (size & (DMAP_HOSTED_PAGE - 1))) {
		dmap_hosted_logf(
			hosted, DMAP_LOG_ERR,
			"hosted: RAM size 0x%zx at 0x%llx is zero or not a multiple of 4 KiB", size,
			(unsigned long long)base);
		return -EINVAL;
	}
	if ((uint64_t)size - 1 > UINT64_MAX - base) {
		dmap_hosted_logf(hosted, DMAP_LOG_ERR,
				 "hosted: RAM at 0x%llx of size 0x%zx wraps past 2^64",
				 (unsigned long long)base, size);
		return -EINVAL;
	}
	return 0;
}

/* Register @region (host memory set) in both maps and the list. Takes mem_lock. */
static int dmap_hosted_region_insert(struct dmap_hosted *hosted, struct dmap_hosted_region *region)
{
	uint64_t host_first = (uint64_t)(uintptr_t)region->host;
	uint64_t host_last = host_first + (region->size - 1);
	const struct dmap_range *other;
	struct dmap_hosted_region **link;
	int ret;

	pthread_mutex_lock(&hosted->mem_lock);
	/* Writers serialise on mem_lock, so what we see under the read lock stays true. */
	dmap_rcu_read_lock();
	other = dmap_range_map_lookup_next(hosted->phys_map, region->base);
	if (other && other->first <= region->last) {
		dmap_hosted_logf(
			hosted, DMAP_LOG_ERR,
			"hosted: RAM [0x%llx-0x%llx] overlaps registered region [0x%llx-0x%llx]",
			(unsigned long long)region->base, (unsigned long long)region->last,
			(unsigned long long)other->first, (unsigned long long)other->last);
		dmap_rcu_read_unlock();
		ret = -EEXIST;
		goto out;
	}
	other = dmap_range_map_lookup_next(hosted->host_map, host_first);
	if (other && other->first <= host_last) {
		dmap_hosted_logf(
			hosted, DMAP_LOG_ERR,
			"hosted: host memory %p..%p of RAM [0x%llx-0x%llx] is already registered as physical 0x%llx",
			region->host, (void *)(uintptr_t)host_last,
			(unsigned long long)region->base, (unsigned long long)region->last,
			(unsigned long long)(other->value + (host_first > other->first ?
								     host_first - other->first :
								     0)));
		dmap_rcu_read_unlock();
		ret = -EEXIST;
		goto out;
	}
	dmap_rcu_read_unlock();
	ret = dmap_range_map_insert(hosted->host_map, host_first, host_last, region->base, region);
	if (ret)
		goto out;
	ret = dmap_range_map_insert(hosted->phys_map, region->base, region->last,
				    (uint64_t)(uintptr_t)region->host, region);
	if (ret) {
		dmap_range_map_remove(hosted->host_map, host_first, host_last);
		goto out;
	}
	for (link = &hosted->regions; *link && (*link)->base > region->base; link = &(*link)->next)
		;
	region->next = *link;
	*link = region;
	if (region->last > dmap_load_relaxed(&hosted->max_ram))
		dmap_store_relaxed(&hosted->max_ram, region->last);
out:
	pthread_mutex_unlock(&hosted->mem_lock);
	return ret;
}

static int dmap_hosted_add(struct dmap_hosted *hosted, dmap_phys_t base, size_t size,
			   unsigned int flags, void *external, void **host)
{
	struct dmap_hosted_region *region;
	int ret;

	if (host)
		*host = NULL;
	if (!hosted)
		return -EINVAL;
	ret = dmap_hosted_check_range(hosted, base, size);
	if (ret)
		return ret;
	if (flags & ~DMAP_HOSTED_MEM_POOL) {
		dmap_hosted_logf(hosted, DMAP_LOG_ERR,
				 "hosted: unknown RAM flags 0x%x for [0x%llx-0x%llx]",
				 flags & ~DMAP_HOSTED_MEM_POOL, (unsigned long long)base,
				 (unsigned long long)(base + (size - 1)));
		return -EINVAL;
	}
	region = calloc(1, sizeof(*region));
	if (!region)
		return -ENOMEM;
	region->base = base;
	region->last = base + (size - 1);
	region->size = size;
	region->flags = flags;
	region->pages = size >> DMAP_HOSTED_PAGE_SHIFT;
	if (flags & DMAP_HOSTED_MEM_POOL) {
		region->bitmap = calloc((region->pages + 63) / 64, sizeof(uint64_t));
		if (!region->bitmap) {
			free(region);
			return -ENOMEM;
		}
	}
	if (external) {
		region->host = external;
	} else {
		region->host = mmap(NULL, size, PROT_READ | PROT_WRITE,
				    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		if (region->host == MAP_FAILED) {
			dmap_hosted_logf(
				hosted, DMAP_LOG_ERR,
				"hosted: cannot map 0x%zx bytes for RAM [0x%llx-0x%llx]: %s", size,
				(unsigned long long)base, (unsigned long long)region->last,
				strerror(errno));
			free(region->bitmap);
			free(region);
			return -ENOMEM;
		}
		region->owned = true;
	}
	ret = dmap_hosted_region_insert(hosted, region);
	if (ret) {
		/* Never published, or withdrawn from the host map, which releases nothing. */
		dmap_hosted_region_free(region);
		return ret;
	}
	if (host)
		*host = region->host;
	return 0;
}

/**
 * dmap_hosted_mem_add() - register simulated RAM backed by fresh zeroed memory.
 * @hosted: environment.
 * @base: physical base, 4 KiB aligned.
 * @size: bytes, a non-zero multiple of 4 KiB; @base + @size may be 2^64.
 * @flags: DMAP_HOSTED_MEM_POOL or 0.
 * @host: receives the host memory (may be NULL).
 *
 * Context: may sleep; any thread; concurrent lookups continue lock-free.
 * Returns 0, -EINVAL (NULL @hosted, alignment, zero size, wrap past 2^64,
 * unknown flags), -EEXIST (overlaps a region; the message names both),
 * -ENOMEM (mmap or metadata).
 */
int dmap_hosted_mem_add(struct dmap_hosted *hosted, dmap_phys_t base, size_t size,
			unsigned int flags, void **host)
{
	return dmap_hosted_add(hosted, base, size, flags, NULL, host);
}

/**
 * dmap_hosted_mem_add_external() - register caller-owned host memory as RAM.
 * @hosted: environment.
 * @base: physical base, 4 KiB aligned.
 * @size: bytes, a non-zero multiple of 4 KiB.
 * @flags: DMAP_HOSTED_MEM_POOL or 0.
 * @host: the memory; dmap never frees it. It must not overlap the host
 *	memory of another region.
 *
 * Returns as dmap_hosted_mem_add(), and -EINVAL for NULL @host; -EEXIST also
 * when @host overlaps another region's host memory.
 */
int dmap_hosted_mem_add_external(struct dmap_hosted *hosted, dmap_phys_t base, size_t size,
				 unsigned int flags, void *host)
{
	if (hosted && !host) {
		dmap_hosted_logf(hosted, DMAP_LOG_ERR,
				 "hosted: external RAM at 0x%llx has no host memory",
				 (unsigned long long)base);
		return -EINVAL;
	}
	return dmap_hosted_add(hosted, base, size, flags, host, NULL);
}

/**
 * dmap_hosted_mem_remove() - unregister the region starting at @base.
 * @hosted: environment.
 * @base: the region's physical base.
 *
 * Lookups that already translated into the region may keep using the host
 * pointer until they leave their read section: the memory is unmapped after
 * a grace period. Context: may sleep. Returns 0, -EINVAL (NULL), -ENOENT (no
 * region starts at @base), -EBUSY (pool pages of the region are allocated;
 * nothing changes), -ENOMEM.
 */
int dmap_hosted_mem_remove(struct dmap_hosted *hosted, dmap_phys_t base)
{
	struct dmap_hosted_region **link, *region, *next;
	uint64_t host_first;
	int ret;

	if (!hosted)
		return -EINVAL;
	pthread_mutex_lock(&hosted->mem_lock);
	for (link = &hosted->regions; *link && (*link)->base != base; link = &(*link)->next)
		;
	region = *link;
	if (!region) {
		pthread_mutex_unlock(&hosted->mem_lock);
		dmap_hosted_logf(hosted, DMAP_LOG_ERR, "hosted: no RAM region starts at 0x%llx",
				 (unsigned long long)base);
		return -ENOENT;
	}
	if (region->pages_in_use) {
		pthread_mutex_unlock(&hosted->mem_lock);
		dmap_hosted_logf(
			hosted, DMAP_LOG_ERR,
			"hosted: RAM region [0x%llx-0x%llx] still has %zu pool pages (%zu bytes) allocated",
			(unsigned long long)region->base, (unsigned long long)region->last,
			region->pages_in_use, region->pages_in_use * (size_t)DMAP_HOSTED_PAGE);
		return -EBUSY;
	}
	host_first = (uint64_t)(uintptr_t)region->host;
	/* Read now: once out of the physical map, the release callback may free @region. */
	next = region->next;
	/* Host map first: its entry has no release, so the region is still alive afterwards. */
	ret = dmap_range_map_remove(hosted->host_map, host_first, host_first + (region->size - 1));
	if (!ret) {
		ret = dmap_range_map_remove(hosted->phys_map, region->base, region->last);
		if (ret) /* keep the maps consistent: put the host entry back */
			dmap_range_map_insert(hosted->host_map, host_first,
					      host_first + (region->size - 1), region->base,
					      region);
	}
	if (ret) {
		pthread_mutex_unlock(&hosted->mem_lock);
		return ret;
	}
	*link = next;
	{
		dmap_phys_t max_ram = 0;

		for (struct dmap_hosted_region *r = hosted->regions; r; r = r->next)
			if (r->last > max_ram)
				max_ram = r->last;
		dmap_store_relaxed(&hosted->max_ram, max_ram);
	}
	pthread_mutex_unlock(&hosted->mem_lock);
	/* @region now belongs to the physical map's release callback. */
	return 0;
}

/**
 * dmap_hosted_phys_ptr() - host pointer for [@phys, @phys + @len) when it lies
 * inside one region, else NULL (@len 0 is taken as 1).
 * Context: any; lock-free. The pointer is valid until the region is removed.
 */
void *dmap_hosted_phys_ptr(struct dmap_hosted *hosted, dmap_phys_t phys, size_t len)
{
	const struct dmap_range *range;
	void *ptr = NULL;

	if (!hosted)
		return NULL;
	if (!len)
		len = 1;
	dmap_rcu_read_lock();
	range = dmap_range_map_lookup(hosted->phys_map, phys);
	if (range && (uint64_t)len - 1 <= range->last - phys)
		ptr = (char *)(uintptr_t)range->value + (phys - range->first);
	dmap_rcu_read_unlock();
	return ptr;
}

/* Bytes from @addr to the end of @range, saturated at SIZE_MAX. */
static size_t dmap_hosted_contig(const struct dmap_range *range, uint64_t addr)
{
	uint64_t rest = range->last - addr;

	return rest >= (uint64_t)SIZE_MAX ? SIZE_MAX : (size_t)rest + 1;
}

void *dmap_hosted_phys_to_virt(void *cookie, dmap_phys_t phys, size_t *contig)
{
	struct dmap_hosted *hosted = cookie;
	const struct dmap_range *range;
	void *ptr = NULL;

	dmap_rcu_read_lock();
	range = dmap_range_map_lookup(hosted->phys_map, phys);
	if (range) {
		ptr = (char *)(uintptr_t)range->value + (phys - range->first);
		if (contig)
			*contig = dmap_hosted_contig(range, phys);
	}
	dmap_rcu_read_unlock();
	return ptr;
}

int dmap_hosted_virt_to_phys(void *cookie, const void *va, dmap_phys_t *phys, size_t *contig)
{
	struct dmap_hosted *hosted = cookie;
	const struct dmap_range *range;
	uint64_t addr = (uint64_t)(uintptr_t)va;
	int ret = -EFAULT;

	dmap_rcu_read_lock();
	range = dmap_range_map_lookup(hosted->host_map, addr);
	if (range) {
		if (phys)
			*phys = range->value + (addr - range->first);
		if (contig)
			*contig = dmap_hosted_contig(range, addr);
		ret = 0;
	}
	dmap_rcu_read_unlock();
	return ret;
}

dmap_phys_t dmap_hosted_max_ram_address(void *cookie)
{
	struct dmap_hosted *hosted = cookie;

	return dmap_load_relaxed(&hosted->max_ram);
}

/* ---- pool page allocator ----------------------------------------------- */

static bool dmap_hosted_page_used(const struct dmap_hosted_region *region, size_t page)
{
	return region->bitmap[page / 64] >> (page % 64) & 1;
}

static void dmap_hosted_pages_set(struct dmap_hosted_region *region, size_t first, size_t count,
				  bool used)
{
	for (size_t page = first; page < first + count; page++) {
		uint64_t bit = 1ull << (page % 64);

		if (used)
			region->bitmap[page / 64] |= bit;
		else
			region->bitmap[page / 64] &= ~bit;
	}
}

/*
 * Highest run of @count free pages in @region whose physical start is
 * @align-aligned and whose last byte is at or below @limit. Returns the first
 * page or (size_t)-1.
 */
static size_t dmap_hosted_find_pages(const struct dmap_hosted_region *region, size_t count,
				     uint64_t align, uint64_t limit)
{
	uint64_t top = dmap_min(limit, region->last), span;
	size_t avail, page, run = 0;

	if (top < region->base)
		return (size_t)-1;
	/* Whole pages within [base, top], without computing top + 1 (it may be 2^64). */
	span = top - region->base;
	avail = (size_t)((span >> DMAP_HOSTED_PAGE_SHIFT) +
			 ((span & (DMAP_HOSTED_PAGE - 1)) == DMAP_HOSTED_PAGE - 1));
	avail = dmap_min(avail, region->pages);
	if (avail < count)
		return (size_t)-1;
	page = avail;
	while (page > 0) {
		page--;
		if (page % 64 == 63 && region->bitmap[page / 64] == ~0ull) {
			run = 0;
			page -= 63;
			continue;
		}
		if (dmap_hosted_page_used(region, page)) {
			run = 0;
			continue;
		}
		run++;
		if (run >= count && ((region->base + ((uint64_t)page << DMAP_HOSTED_PAGE_SHIFT)) &
				     (align - 1)) == 0)
			return page;
	}
	return (size_t)-1;
}

void *dmap_hosted_alloc_dma_pages(void *cookie, size_t size, size_t align, uint64_t phys_limit,
				  dmap_phys_t *phys)
{
	struct dmap_hosted *hosted = cookie;
	struct dmap_hosted_region *region;
	size_t count, page = (size_t)-1;
	void *va = NULL;

	if (!size || (align && !dmap_is_power_of_2(align)) || size > SIZE_MAX - DMAP_HOSTED_PAGE) {
		dmap_hosted_logf(hosted, DMAP_LOG_ERR,
				 "hosted: bad DMA page request: size 0x%zx align 0x%zx", size,
				 align);
		return NULL;
	}
	if (align < DMAP_HOSTED_PAGE)
		align = DMAP_HOSTED_PAGE;
	count = (size + DMAP_HOSTED_PAGE - 1) >> DMAP_HOSTED_PAGE_SHIFT;
	pthread_mutex_lock(&hosted->mem_lock);
	for (region = hosted->regions; region; region = region->next) {
		if (!(region->flags & DMAP_HOSTED_MEM_POOL))
			continue;
		page = dmap_hosted_find_pages(region, count, align, phys_limit);
		if (page != (size_t)-1)
			break;
	}
	if (region) {
		dmap_hosted_pages_set(region, page, count, true);
		region->pages_in_use += count;
		dmap_atomic_add_relaxed(&hosted->pool_bytes_in_use, (uint64_t)count << 12);
		va = (char *)region->host + ((size_t)page << DMAP_HOSTED_PAGE_SHIFT);
		if (phys)
			*phys = region->base + ((uint64_t)page << DMAP_HOSTED_PAGE_SHIFT);
	}
	pthread_mutex_unlock(&hosted->mem_lock);
	if (!va) {
		dmap_hosted_logf(
			hosted, DMAP_LOG_WARN,
			"hosted: no pool memory for 0x%zx bytes aligned to 0x%zx below 0x%llx (0x%llx bytes of pool in use)",
			size, align, (unsigned long long)phys_limit,
			(unsigned long long)dmap_load_relaxed(&hosted->pool_bytes_in_use));
		return NULL;
	}
	/* The pages are ours alone now; zero them outside the lock. */
	memset(va, 0, count << DMAP_HOSTED_PAGE_SHIFT);
	return va;
}

void dmap_hosted_free_dma_pages(void *cookie, void *va, dmap_phys_t phys, size_t size)
{
	struct dmap_hosted *hosted = cookie;
	struct dmap_hosted_region *region;
	size_t count, first, page;

	if (!va || !size)
		return;
	count = (size + DMAP_HOSTED_PAGE - 1) >> DMAP_HOSTED_PAGE_SHIFT;
	pthread_mutex_lock(&hosted->mem_lock);
	for (region = hosted->regions; region; region = region->next)
		if (phys >= region->base && phys <= region->last)
			break;
	if (!region || !region->bitmap || (phys & (DMAP_HOSTED_PAGE - 1)) ||
	    (uint64_t)count > region->pages - ((phys - region->base) >> DMAP_HOSTED_PAGE_SHIFT) ||
	    (char *)region->host + (phys - region->base) != (char *)va)
		goto bad;
	first = (size_t)((phys - region->base) >> DMAP_HOSTED_PAGE_SHIFT);
	for (page = first; page < first + count; page++)
		if (!dmap_hosted_page_used(region, page))
			goto bad;
	dmap_hosted_pages_set(region, first, count, false);
	region->pages_in_use -= count;
	dmap_atomic_sub_relaxed(&hosted->pool_bytes_in_use, (uint64_t)count << 12);
	pthread_mutex_unlock(&hosted->mem_lock);
	return;
bad:
	pthread_mutex_unlock(&hosted->mem_lock);
	dmap_hosted_logf(
		hosted, DMAP_LOG_ERR,
		"hosted: freeing pool pages %p phys 0x%llx size 0x%zx that were not allocated as such",
		va, (unsigned long long)phys, size);
}

void *dmap_hosted_alloc_table_page(void *cookie, size_t size, dmap_phys_t *phys)
{
	if (size < 512 || size > 65536 || !dmap_is_power_of_2(size))
		return NULL;
	/* Sub-page tables take a whole page: naturally aligned, and the pool's unit. */
	return dmap_hosted_alloc_dma_pages(cookie, size, size, UINT64_MAX, phys);
}

void dmap_hosted_free_table_page(void *cookie, void *va, dmap_phys_t phys, size_t size)
{
	dmap_hosted_free_dma_pages(cookie, va, phys, size);
}
