// SPDX-License-Identifier: MIT
/*
 * core/env/hosted/hosted_env.c - the runtime hooks of the hosted (POSIX)
 * environment: allocation, deferred free, logging, time, cache hooks.
 *
 * Allocation. Metadata comes from jemalloc through its non-standard entry
 * points mallocx()/sdallocx() when DMAP_USE_JEMALLOC is set: calling them
 * never interposes the process's malloc (the application, Python, a test
 * framework keep theirs), and sized deallocation skips jemalloc's pointer
 * lookup on free. The free hook is told the size but not the alignment, and
 * sdallocx needs both to find the size class, so every allocation is made
 * in a size class the size alone determines: sizes round up to 16 bytes
 * (the 8-byte class is only 8-aligned), and the rare over-aligned request
 * (align > 16) is remembered in a small hash set that free consults only
 * while it is non-empty. Without jemalloc (and always under sanitizers,
 * which replace malloc themselves) it is posix_memalign/free.
 *
 * Deferred free. env->ops->call_rcu hands us a struct dmap_rcu_head, which
 * is not liburcu's struct rcu_head, and the hook may be called anywhere
 * (inside a read section, inside another callback), so it must neither
 * allocate a wrapper that could fail nor block. Heads are pushed on a
 * lock-free stack and a worker thread per environment takes the whole stack,
 * waits for one grace period with urcu_bp_synchronize_rcu() and runs the
 * batch; heads pushed meanwhile wait for the next one, so every head waits
 * for a full grace period that began after it was queued. rcu_barrier waits
 * until the worker's "completed" count reaches the "queued" count it saw.
 * liburcu's own call_rcu thread was the first design; it was replaced
 * because its hand-off (wait-free queues, futexes, and the completion
 * objects urcu_bp_barrier() allocates and the callback thread frees) is
 * invisible to ThreadSanitizer, which then reports races inside liburcu and,
 * worse, could only be silenced by suppressions that also hide races in our
 * own callbacks. With our worker every hand-off is an atomic, a semaphore or
 * a mutex TSan understands, and the grace period itself is the annotated one.
 *
 * Why urcu-bp: see core/env/hosted/include/dmap_env_inline.h and
 * docs/environment.md: threads need no registration, and with membarrier
 * the read side is as cheap as urcu-memb's.
 *
 * ThreadSanitizer cannot see a grace period inside liburcu, so the worker
 * after its grace period and each synchronize_rcu() acquire the anchor every
 * read unlock releases (dmap_tsan_rcu_acquire()).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifdef DMAP_USE_JEMALLOC
#include <jemalloc/jemalloc.h>
#endif

#include "hosted_internal.h"

/* ThreadSanitizer's happens-before anchor for grace periods (dmap_env_inline.h). */
char dmap_hosted_rcu_tsan_anchor;

__thread unsigned int dmap_hosted_thread_index;
static unsigned int dmap_hosted_next_thread_index;

/* The last WARN-or-worse message of this thread (dmap_hosted_last_message). */
static __thread char dmap_hosted_last[256];

/**
 * dmap_hosted_assign_thread_index() - give the calling thread its number.
 * Numbers start at 1 (0 means "not assigned yet") and are never reused.
 * Context: any; lock-free.
 */
unsigned int dmap_hosted_assign_thread_index(void)
{
	unsigned int index = dmap_fetch_add(&dmap_hosted_next_thread_index, 1u) + 1;

	if (index == 0) /* wrapped after 2^32 threads: skip the "unassigned" value */
		index = dmap_fetch_add(&dmap_hosted_next_thread_index, 1u) + 1;
	dmap_hosted_thread_index = index;
	return index;
}

/* ---- allocation ----------------------------------------------------------- */

#ifdef DMAP_USE_JEMALLOC
static size_t dmap_hosted_hash(const void *ptr, size_t capacity)
{
	uint64_t x = (uint64_t)(uintptr_t)ptr >> 4;

	x *= 0x9e3779b97f4a7c15ull;
	return (size_t)(x >> 32) & (capacity - 1);
}

/* Called with aligned->lock held. Returns 0 or -ENOMEM. */
static int dmap_hosted_aligned_grow(struct dmap_hosted_aligned *aligned)
{
	size_t capacity = aligned->capacity ? aligned->capacity * 2 : 64, i;
	struct dmap_hosted_aligned_slot *slots = calloc(capacity, sizeof(*slots));

	if (!slots)
		return -ENOMEM;
	for (i = 0; i < aligned->capacity; i++) {
		size_t j;

		if (!aligned->slots[i].ptr)
			continue;
		j = dmap_hosted_hash(aligned->slots[i].ptr, capacity);
		while (slots[j].ptr)
			j = (j + 1) & (capacity - 1);
		slots[j] = aligned->slots[i];
	}
	free(aligned->slots);
	aligned->slots = slots;
	aligned->capacity = capacity;
	return 0;
}

static int dmap_hosted_aligned_add(struct dmap_hosted_aligned *aligned, void *ptr, size_t align)
{
	size_t j;

	pthread_mutex_lock(&aligned->lock);
	if ((aligned->live + 1) * 2 > aligned->capacity && dmap_hosted_aligned_grow(aligned)) {
		pthread_mutex_unlock(&aligned->lock);
		return -ENOMEM;
	}
	j = dmap_hosted_hash(ptr, aligned->capacity);
	while (aligned->slots[j].ptr)
		j = (j + 1) & (aligned->capacity - 1);
	aligned->slots[j].ptr = ptr;
	aligned->slots[j].align = align;
	dmap_store_relaxed(&aligned->live, aligned->live + 1);
	pthread_mutex_unlock(&aligned->lock);
	return 0;
}

/* Forget @ptr; returns its alignment, or 0 if it was not over-aligned. */
static size_t dmap_hosted_aligned_take(struct dmap_hosted_aligned *aligned, void *ptr)
{
	size_t j, mask, align = 0;

	pthread_mutex_lock(&aligned->lock);
	if (!aligned->capacity)
		goto out;
	mask = aligned->capacity - 1;
	j = dmap_hosted_hash(ptr, aligned->capacity);
	while (aligned->slots[j].ptr && aligned->slots[j].ptr != ptr)
		j = (j + 1) & mask;
	if (!aligned->slots[j].ptr)
		goto out;
	align = aligned->slots[j].align;
	aligned->slots[j].ptr = NULL;
	/* Backward-shift deletion keeps every probe chain unbroken without tombstones. */
	for (size_t hole = j, k = (j + 1) & mask; aligned->slots[k].ptr; k = (k + 1) & mask) {
		size_t home = dmap_hosted_hash(aligned->slots[k].ptr, aligned->capacity);

		if (((k - home) & mask) >= ((k - hole) & mask)) {
			aligned->slots[hole] = aligned->slots[k];
			aligned->slots[k].ptr = NULL;
			hole = k;
		}
	}
	dmap_store_relaxed(&aligned->live, aligned->live - 1);
out:
	pthread_mutex_unlock(&aligned->lock);
	return align;
}
#endif

static size_t dmap_hosted_round16(size_t size)
{
	return size ? (size + 15) & ~(size_t)15 : 16;
}

static void *dmap_hosted_alloc(void *cookie, size_t size, size_t align, unsigned int flags)
{
	struct dmap_hosted *hosted = cookie;
	size_t rounded = dmap_hosted_round16(size);
	void *ptr;

	if ((align && !dmap_is_power_of_2(align)) || align > 4096 || rounded < size)
		return NULL;
	if (align < 16)
		align = 16;
#ifdef DMAP_USE_JEMALLOC
	if (align > 16) {
		rounded = (rounded + align - 1) & ~(align - 1);
		if (rounded < size)
			return NULL;
	}
	ptr = mallocx(rounded, (align > 16 ? MALLOCX_ALIGN(align) : 0) |
				       ((flags & DMAP_ALLOC_ZERO) ? MALLOCX_ZERO : 0));
	if (ptr && align > 16 && dmap_hosted_aligned_add(&hosted->aligned, ptr, align)) {
		sdallocx(ptr, rounded, MALLOCX_ALIGN(align));
		ptr = NULL;
	}
#else
	(void)hosted;
	if (posix_memalign(&ptr, align, rounded))
		ptr = NULL;
	else if (flags & DMAP_ALLOC_ZERO)
		memset(ptr, 0, rounded);
#endif
	return ptr;
}

static void dmap_hosted_free(void *cookie, void *ptr, size_t size)
{
	struct dmap_hosted *hosted = cookie;

	if (!ptr)
		return;
#ifdef DMAP_USE_JEMALLOC
	size_t rounded = dmap_hosted_round16(size), align = 0;

	if (dmap_load_relaxed(&hosted->aligned.live))
		align = dmap_hosted_aligned_take(&hosted->aligned, ptr);
	if (align) {
		rounded = (rounded + align - 1) & ~(align - 1);
		sdallocx(ptr, rounded, MALLOCX_ALIGN(align));
	} else {
		sdallocx(ptr, rounded, 0);
	}
#else
	(void)hosted;
	(void)size;
	free(ptr);
#endif
}

/* ---- deferred free -------------------------------------------------------- */

/*
 * The worker: sleep until heads are queued, take them all, wait for one grace
 * period (liburcu's urcu_bp_synchronize_rcu), run them oldest first, and tell
 * rcu_barrier() waiters. Heads queued while it waits form the next batch.
 */
static void *dmap_hosted_rcu_worker(void *arg)
{
	struct dmap_hosted *hosted = arg;

	for (;;) {
		struct dmap_rcu_head *head, *oldest = NULL;
		uint64_t ran = 0;

		__atomic_store_n(&hosted->rcu_sleeping, true, __ATOMIC_SEQ_CST);
		head = __atomic_exchange_n(&hosted->rcu_pending, NULL, __ATOMIC_SEQ_CST);
		if (!head) {
			pthread_mutex_lock(&hosted->rcu_lock);
			if (hosted->rcu_stop) {
				pthread_mutex_unlock(&hosted->rcu_lock);
				return NULL;
			}
			pthread_mutex_unlock(&hosted->rcu_lock);
			while (sem_wait(&hosted->rcu_wake) && errno == EINTR)
				;
			continue;
		}
		__atomic_store_n(&hosted->rcu_sleeping, false, __ATOMIC_SEQ_CST);
		/* The stack is newest first; run oldest first, as call_rcu users expect. */
		while (head) {
			struct dmap_rcu_head *next = head->next;

			head->next = oldest;
			oldest = head;
			head = next;
		}
		/* Every reader that could have seen these objects started before this. */
		urcu_bp_synchronize_rcu();
		dmap_tsan_rcu_acquire();
		while (oldest) {
			struct dmap_rcu_head *next = oldest->next;

			oldest->func(oldest);
			oldest = next;
			ran++;
		}
		pthread_mutex_lock(&hosted->rcu_lock);
		hosted->rcu_completed += ran;
		pthread_cond_broadcast(&hosted->rcu_done);
		pthread_mutex_unlock(&hosted->rcu_lock);
	}
}

static void dmap_hosted_call_rcu(void *cookie, struct dmap_rcu_head *head,
				 void (*func)(struct dmap_rcu_head *))
{
	struct dmap_hosted *hosted = cookie;
	struct dmap_rcu_head *top = __atomic_load_n(&hosted->rcu_pending, __ATOMIC_RELAXED);

	head->func = func;
	__atomic_fetch_add(&hosted->rcu_queued, 1, __ATOMIC_SEQ_CST);
	do {
		head->next = top;
	} while (!__atomic_compare_exchange_n(&hosted->rcu_pending, &top, head, 1, __ATOMIC_SEQ_CST,
					      __ATOMIC_RELAXED));
	/*
	 * Wake the worker only if it may be asleep and this push made the stack
	 * non-empty; a worker that is awake re-checks the stack before sleeping
	 * (it sets rcu_sleeping first, so with sequential consistency one of the
	 * two sees the other).
	 */
	if (!top && __atomic_load_n(&hosted->rcu_sleeping, __ATOMIC_SEQ_CST))
		sem_post(&hosted->rcu_wake);
}

static void dmap_hosted_synchronize_rcu(void *cookie)
{
	(void)cookie;
	urcu_bp_synchronize_rcu();
	dmap_tsan_rcu_acquire();
}

/* Wait until every head queued before the call has run. Sleeps; not from a callback. */
void dmap_hosted_rcu_barrier(void *cookie)
{
	struct dmap_hosted *hosted = cookie;
	uint64_t target = __atomic_load_n(&hosted->rcu_queued, __ATOMIC_SEQ_CST);

	pthread_mutex_lock(&hosted->rcu_lock);
	while (hosted->rcu_completed < target)
		pthread_cond_wait(&hosted->rcu_done, &hosted->rcu_lock);
	pthread_mutex_unlock(&hosted->rcu_lock);
	dmap_tsan_rcu_acquire();
}

static int dmap_hosted_rcu_start(struct dmap_hosted *hosted)
{
	int ret;

	pthread_mutex_init(&hosted->rcu_lock, NULL);
	pthread_cond_init(&hosted->rcu_done, NULL);
	sem_init(&hosted->rcu_wake, 0, 0);
	ret = pthread_create(&hosted->rcu_worker, NULL, dmap_hosted_rcu_worker, hosted);
	if (ret) {
		sem_destroy(&hosted->rcu_wake);
		pthread_cond_destroy(&hosted->rcu_done);
		pthread_mutex_destroy(&hosted->rcu_lock);
		return -ret;
	}
	return 0;
}

static void dmap_hosted_rcu_stop(struct dmap_hosted *hosted)
{
	dmap_hosted_rcu_barrier(hosted);
	pthread_mutex_lock(&hosted->rcu_lock);
	hosted->rcu_stop = true;
	pthread_mutex_unlock(&hosted->rcu_lock);
	sem_post(&hosted->rcu_wake);
	pthread_join(hosted->rcu_worker, NULL);
	sem_destroy(&hosted->rcu_wake);
	pthread_cond_destroy(&hosted->rcu_done);
	pthread_mutex_destroy(&hosted->rcu_lock);
}

/* ---- logging, time, cache hooks ------------------------------------------ */

/**
 * dmap_hosted_log_level_name() - see <dmap/hosted.h>. Any context.
 */
const char *dmap_hosted_log_level_name(enum dmap_log_level level)
{
	switch (level) {
	case DMAP_LOG_ERR:
		return "error";
	case DMAP_LOG_WARN:
		return "warning";
	case DMAP_LOG_INFO:
		return "info";
	case DMAP_LOG_DEBUG:
		return "debug";
	}
	return "log";
}

static void dmap_hosted_log(void *cookie, enum dmap_log_level level, const char *message)
{
	struct dmap_hosted *hosted = cookie;

	if (!message)
		message = "";
	dmap_atomic_add_relaxed(&hosted->messages[(unsigned int)level & 7], 1);
	if (level <= DMAP_LOG_WARN) {
		size_t len = strnlen(message, sizeof(dmap_hosted_last) - 1);

		memcpy(dmap_hosted_last, message, len);
		dmap_hosted_last[len] = '\0';
	}
	if (hosted->log)
		hosted->log(hosted->log_arg, level, message);
	else if (level <= hosted->stderr_level)
		fprintf(stderr, "dmap %s: %s\n", dmap_hosted_log_level_name(level), message);
}

/* Format and log a message of the hosted environment itself (libc formatting). */
void dmap_hosted_logf(struct dmap_hosted *hosted, enum dmap_log_level level, const char *fmt, ...)
{
	char buf[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	dmap_hosted_log(hosted, level, buf);
}

static uint64_t dmap_hosted_now_ns(void *cookie)
{
	struct timespec ts;

	(void)cookie;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void dmap_hosted_cache_clean(void *cookie, void *va, size_t len)
{
	struct dmap_hosted *hosted = cookie;

	(void)va;
	(void)len;
	dmap_atomic_add_relaxed(&hosted->cache_cleans, 1);
}

static void dmap_hosted_cache_invalidate(void *cookie, void *va, size_t len)
{
	struct dmap_hosted *hosted = cookie;

	(void)va;
	(void)len;
	dmap_atomic_add_relaxed(&hosted->cache_invalidates, 1);
}

/*
 * Two tables that differ only in the cache hooks: a coherent environment
 * leaves them NULL, which tells core to skip cache maintenance altogether.
 */
static const struct dmap_env_ops dmap_hosted_coherent_ops = {
	.alloc = dmap_hosted_alloc,
	.free = dmap_hosted_free,
	.alloc_table_page = dmap_hosted_alloc_table_page,
	.free_table_page = dmap_hosted_free_table_page,
	.alloc_dma_pages = dmap_hosted_alloc_dma_pages,
	.free_dma_pages = dmap_hosted_free_dma_pages,
	.phys_to_virt = dmap_hosted_phys_to_virt,
	.virt_to_phys = dmap_hosted_virt_to_phys,
	.max_ram_address = dmap_hosted_max_ram_address,
	.call_rcu = dmap_hosted_call_rcu,
	.synchronize_rcu = dmap_hosted_synchronize_rcu,
	.rcu_barrier = dmap_hosted_rcu_barrier,
	.log = dmap_hosted_log,
	.now_ns = dmap_hosted_now_ns,
};

static const struct dmap_env_ops dmap_hosted_non_coherent_ops = {
	.alloc = dmap_hosted_alloc,
	.free = dmap_hosted_free,
	.alloc_table_page = dmap_hosted_alloc_table_page,
	.free_table_page = dmap_hosted_free_table_page,
	.alloc_dma_pages = dmap_hosted_alloc_dma_pages,
	.free_dma_pages = dmap_hosted_free_dma_pages,
	.phys_to_virt = dmap_hosted_phys_to_virt,
	.virt_to_phys = dmap_hosted_virt_to_phys,
	.max_ram_address = dmap_hosted_max_ram_address,
	.cache_clean = dmap_hosted_cache_clean,
	.cache_invalidate = dmap_hosted_cache_invalidate,
	.call_rcu = dmap_hosted_call_rcu,
	.synchronize_rcu = dmap_hosted_synchronize_rcu,
	.rcu_barrier = dmap_hosted_rcu_barrier,
	.log = dmap_hosted_log,
	.now_ns = dmap_hosted_now_ns,
};

/* ---- public API ----------------------------------------------------------- */

/**
 * dmap_hosted_create() - make a hosted environment.
 * @config: settings, see &struct dmap_hosted_config; NULL for defaults.
 * @out: receives the environment.
 *
 * Context: may sleep. Returns 0, -EINVAL (NULL @out, a log level outside
 * 0..7), -ENOMEM.
 */
int dmap_hosted_create(const struct dmap_hosted_config *config, struct dmap_hosted **out)
{
	struct dmap_hosted *hosted;
	int ret;

	if (out)
		*out = NULL;
	if (!out || (config && ((unsigned int)config->stderr_level > 7)))
		return -EINVAL;
	hosted = calloc(1, sizeof(*hosted));
	if (!hosted)
		return -ENOMEM;
	if (config) {
		hosted->log = config->log;
		hosted->log_arg = config->log_arg;
		hosted->stderr_level = config->stderr_level;
		hosted->non_coherent = config->non_coherent;
	}
	if (!hosted->stderr_level)
		hosted->stderr_level = DMAP_LOG_WARN;
	hosted->env.ops =
		hosted->non_coherent ? &dmap_hosted_non_coherent_ops : &dmap_hosted_coherent_ops;
	hosted->env.cookie = hosted;
	pthread_mutex_init(&hosted->aligned.lock, NULL);
	ret = dmap_hosted_rcu_start(hosted);
	if (ret) {
		pthread_mutex_destroy(&hosted->aligned.lock);
		free(hosted);
		return ret;
	}
	ret = dmap_hosted_memory_init(hosted);
	if (ret) {
		dmap_hosted_rcu_stop(hosted);
		pthread_mutex_destroy(&hosted->aligned.lock);
		free(hosted);
		return ret;
	}
	*out = hosted;
	return 0;
}

/**
 * dmap_hosted_destroy() - unregister all memory, run every pending RCU
 * callback and free the environment.
 * @hosted: environment no dmap object uses any more; NULL is a no-op.
 *
 * Pool pages still allocated are reported (WARN) and unmapped anyway.
 * Context: sleeps; not inside an RCU read section and not from an RCU
 * callback (it joins the worker thread that runs them).
 */
void dmap_hosted_destroy(struct dmap_hosted *hosted)
{
	if (!hosted)
		return;
	dmap_hosted_memory_fini(hosted);
	dmap_hosted_rcu_stop(hosted);
#ifdef DMAP_USE_JEMALLOC
	if (hosted->aligned.live)
		dmap_hosted_logf(hosted, DMAP_LOG_WARN,
				 "hosted: %zu over-aligned allocations leaked at destroy",
				 hosted->aligned.live);
#endif
	free(hosted->aligned.slots);
	pthread_mutex_destroy(&hosted->aligned.lock);
	free(hosted);
}

/** dmap_hosted_env() - the environment to pass to dmap_ctx_create() (NULL for NULL). */
const struct dmap_env *dmap_hosted_env(struct dmap_hosted *hosted)
{
	return hosted ? &hosted->env : NULL;
}

/**
 * dmap_hosted_last_message() - the calling thread's last WARN-or-worse
 * message through any hosted environment, "" if none. Valid until the
 * thread logs again. Context: any.
 */
const char *dmap_hosted_last_message(void)
{
	return dmap_hosted_last;
}

/** dmap_hosted_clear_last_message() - forget the calling thread's last message. */
void dmap_hosted_clear_last_message(void)
{
	dmap_hosted_last[0] = '\0';
}

/**
 * dmap_hosted_get_counters() - copy the environment's counters.
 * @hosted: environment.
 * @out: receives the counters (each read atomically; not one snapshot).
 *
 * Returns 0 or -EINVAL for NULL arguments.
 */
int dmap_hosted_get_counters(struct dmap_hosted *hosted, struct dmap_hosted_counters *out)
{
	unsigned int i;

	if (!hosted || !out)
		return -EINVAL;
	for (i = 0; i < 8; i++)
		out->messages[i] = dmap_load_relaxed(&hosted->messages[i]);
	out->cache_cleans = dmap_load_relaxed(&hosted->cache_cleans);
	out->cache_invalidates = dmap_load_relaxed(&hosted->cache_invalidates);
	out->pool_bytes_in_use = dmap_load_relaxed(&hosted->pool_bytes_in_use);
	return 0;
}
