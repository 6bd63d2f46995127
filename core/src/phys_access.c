// SPDX-License-Identifier: MIT
/*
 * core/src/phys_access.c - touching physical memory through the environment.
 *
 * Design: core never assumes that physical memory is one flat mapping. The
 * hosted environment models RAM as registered regions, a kernel has highmem,
 * a vhost-user daemon sees guest RAM as several mmap'd slices. So every
 * access goes through env->phys_to_virt, which returns a CPU pointer and how
 * many bytes stay contiguous from there, and a range is processed in chunks
 * of that length. The lookup is only valid under the RCU read lock (hosted
 * memory may be unregistered concurrently and is unmapped after a grace
 * period), so each function takes the read lock around its chunks; read
 * sections nest, so callers already inside one (device_access.c) may use
 * them too.
 *
 * A byte that is not RAM ends the operation with -EFAULT; what was copied
 * before it stays copied (there is no transaction to undo, exactly as with
 * a DMA engine that hits a bus error mid-transfer).
 */
#include "internal.h"

size_t dmap_phys_transfer(const struct dmap_env *env, dmap_phys_t phys, void *buf, size_t len,
			  bool to_phys)
{
	size_t done = 0;

	while (done < len) {
		size_t contig = 0, n;
		char *va = env->ops->phys_to_virt(env->cookie, phys + done, &contig);

		if (!va || !contig)
			break;
		n = dmap_min(len - done, contig);
		if (to_phys)
			dmap_memcpy(va, (char *)buf + done, n);
		else
			dmap_memcpy((char *)buf + done, va, n);
		done += n;
	}
	return done;
}

/* A range whose last byte wraps around 2^64 is never memory. */
static bool dmap_phys_range_ok(dmap_phys_t phys, size_t len)
{
	return !len || phys + (len - 1) >= phys;
}

/**
 * dmap_phys_read() - see <dmap/ops.h>. Context: any; takes the RCU read lock.
 */
int dmap_phys_read(const struct dmap_env *env, dmap_phys_t src, void *buf, size_t len)
{
	size_t done;

	if (!env || (!buf && len) || !dmap_phys_range_ok(src, len))
		return -DMAP_EFAULT;
	dmap_rcu_read_lock();
	done = dmap_phys_transfer(env, src, buf, len, false);
	dmap_rcu_read_unlock();
	return done == len ? 0 : -DMAP_EFAULT;
}

int dmap_phys_write(const struct dmap_env *env, dmap_phys_t dst, const void *buf, size_t len)
{
	size_t done;

	if (!env || (!buf && len) || !dmap_phys_range_ok(dst, len))
		return -DMAP_EFAULT;
	dmap_rcu_read_lock();
	done = dmap_phys_transfer(env, dst, (void *)buf, len, true);
	dmap_rcu_read_unlock();
	return done == len ? 0 : -DMAP_EFAULT;
}

int dmap_phys_copy(const struct dmap_env *env, dmap_phys_t dst, dmap_phys_t src, size_t len)
{
	int ret = 0;

	if (!env || !dmap_phys_range_ok(dst, len) || !dmap_phys_range_ok(src, len))
		return -DMAP_EFAULT;
	dmap_rcu_read_lock();
	while (len) {
		size_t dst_contig = 0, src_contig = 0, n;
		char *d = env->ops->phys_to_virt(env->cookie, dst, &dst_contig);
		char *s = env->ops->phys_to_virt(env->cookie, src, &src_contig);

		if (!d || !s || !dst_contig || !src_contig) {
			ret = -DMAP_EFAULT;
			break;
		}
		n = dmap_min(len, dmap_min(dst_contig, src_contig));
		dmap_memmove(d, s, n);
		dst += n;
		src += n;
		len -= n;
	}
	dmap_rcu_read_unlock();
	return ret;
}

int dmap_phys_fill(const struct dmap_env *env, dmap_phys_t dst, int byte, size_t len)
{
	int ret = 0;

	if (!env || !dmap_phys_range_ok(dst, len))
		return -DMAP_EFAULT;
	dmap_rcu_read_lock();
	while (len) {
		size_t contig = 0, n;
		char *d = env->ops->phys_to_virt(env->cookie, dst, &contig);

		if (!d || !contig) {
			ret = -DMAP_EFAULT;
			break;
		}
		n = dmap_min(len, contig);
		dmap_memset(d, byte, n);
		dst += n;
		len -= n;
	}
	dmap_rcu_read_unlock();
	return ret;
}

/*
 * Walk [@phys, @phys+@size) through the environment's contiguous RAM chunks
 * under the RCU read lock, handing each chunk to @hook (NULL: only check that
 * every byte is RAM). Returns 0, or -EFAULT at the first byte without RAM
 * behind it (chunks before it were handed to @hook).
 */
static int dmap_phys_walk(const struct dmap_env *env, dmap_phys_t phys, size_t size,
			  void (*hook)(void *cookie, void *va, size_t len))
{
	int ret = 0;

	if (!size)
		return 0;
	if (!dmap_phys_range_ok(phys, size))
		return -DMAP_EFAULT; /* wraps past 2^64: never memory */
	dmap_rcu_read_lock();
	while (size) {
		size_t contig = 0, n;
		char *va = env->ops->phys_to_virt(env->cookie, phys, &contig);

		if (!va || !contig) {
			ret = -DMAP_EFAULT;
			break;
		}
		n = dmap_min(size, contig);
		if (hook)
			hook(env->cookie, va, n);
		phys += n;
		size -= n;
	}
	dmap_rcu_read_unlock();
	return ret;
}

/**
 * dmap_phys_check_ram() - see <dmap/ops.h>. Context: any; never sleeps.
 */
int dmap_phys_check_ram(const struct dmap_env *env, dmap_phys_t phys, size_t size)
{
	return dmap_phys_walk(env, phys, size, NULL);
}

/* The hook arch_sync_dma_for_{device,cpu} would run for @dir, or NULL for none. */
static void (*dmap_cache_hook(const struct dmap_env *env, enum dmap_dir dir,
			      bool for_cpu))(void *cookie, void *va, size_t len)
{
	if (for_cpu) /* the CPU must not see stale lines where the device wrote */
		return dir == DMAP_FROM_DEVICE || dir == DMAP_BIDIRECTIONAL ?
			       env->ops->cache_invalidate :
			       NULL;
	/* the device must see what the CPU wrote */
	return dir == DMAP_TO_DEVICE || dir == DMAP_BIDIRECTIONAL ? env->ops->cache_clean : NULL;
}

/**
 * dmap_cache_sync_phys() - see <dmap/ops.h>. Context: any; never sleeps.
 */
int dmap_cache_sync_phys(const struct dmap_env *env, const struct dmap_dev *dev, dmap_phys_t phys,
			 size_t size, enum dmap_dir dir, bool for_cpu)
{
	void (*hook)(void *cookie, void *va, size_t len);

	if (!env || !dev || (dev->flags & DMAP_DEV_COHERENT))
		return 0;
	hook = dmap_cache_hook(env, dir, for_cpu);
	return hook ? dmap_phys_walk(env, phys, size, hook) : 0;
}
