/* SPDX-License-Identifier: MIT */
/*
 * dmap_env_inline.h (hosted) - the hot-path half of the environment for
 * POSIX processes: GCC atomics, liburcu's "bulletproof" RCU flavour for the
 * read side, and a pthread mutex as the spinlock.
 *
 * Why urcu-bp: dmap is a library; it cannot make every thread that calls it
 * (a Python interpreter thread, a vhost-user worker, a test) register with
 * RCU first, and urcu-bp registers threads on their first read lock. With
 * sys_membarrier (Linux >= 4.3) its read side is a TLS access and a compiler
 * barrier, the same cost as urcu-memb. docs/environment.md has the details.
 *
 * Why a mutex for the "spinlock": hosted threads are preemptible and the
 * machines dmap runs tests on have two cores; a spinning waiter behind a
 * descheduled holder burns its time slice. Every critical section behind it
 * is short and off the lock-free fast paths.
 *
 * ThreadSanitizer cannot see liburcu's grace periods (it is not built with
 * -fsanitize=thread), so under TSan each read unlock releases, and every
 * grace period acquires, one anchor object: exactly the happens-before edge
 * RCU guarantees between a reader and the free that waits for it.
 */
#ifndef DMAP_ENV_INLINE_H
#define DMAP_ENV_INLINE_H

/*
 * Sanitizer builds call liburcu's out-of-line read side instead of inlining
 * it (_LGPL_SOURCE): liburcu 0.13 places its 128-byte-aligned reader records
 * at smaller offsets, which UBSan's alignment check rejects inside the
 * inlined code, and TSan treats the uninstrumented library as the black box
 * the annotations below assume anyway.
 */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define DMAP_URCU_OUT_OF_LINE 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define DMAP_URCU_OUT_OF_LINE 1
#endif
#endif
#if !defined(DMAP_URCU_OUT_OF_LINE) && !defined(_LGPL_SOURCE)
#define _LGPL_SOURCE
#endif
#include <pthread.h>
/* Not <urcu-bp.h>: that compatibility header leaves call_rcu, synchronize_rcu and
 * rcu_barrier defined as macros, which would rename dmap_env_ops members. */
#include <urcu/urcu-bp.h>

#include <dmap/atomic_builtins.h>

#define DMAP_ENV_HOSTED 1

#if defined(__SANITIZE_THREAD__)
#define DMAP_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define DMAP_TSAN 1
#endif
#endif

#ifdef DMAP_TSAN
void __tsan_acquire(void *addr);
void __tsan_release(void *addr);
extern char dmap_hosted_rcu_tsan_anchor;
#define dmap_tsan_rcu_release() __tsan_release(&dmap_hosted_rcu_tsan_anchor)
#define dmap_tsan_rcu_acquire() __tsan_acquire(&dmap_hosted_rcu_tsan_anchor)
#else
#define dmap_tsan_rcu_release() ((void)0)
#define dmap_tsan_rcu_acquire() ((void)0)
#endif

/** dmap_rcu_read_lock() - enter an RCU read section; nests; never blocks. */
static inline void dmap_rcu_read_lock(void)
{
	urcu_bp_read_lock();
}

/** dmap_rcu_read_unlock() - leave it. */
static inline void dmap_rcu_read_unlock(void)
{
	dmap_tsan_rcu_release();
	urcu_bp_read_unlock();
}

typedef pthread_mutex_t dmap_spinlock_t;

static inline void dmap_spin_init(dmap_spinlock_t *lock)
{
	pthread_mutex_init(lock, NULL);
}

static inline void dmap_spin_destroy(dmap_spinlock_t *lock)
{
	pthread_mutex_destroy(lock);
}

static inline void dmap_spin_lock(dmap_spinlock_t *lock)
{
	pthread_mutex_lock(lock);
}

static inline bool dmap_spin_trylock(dmap_spinlock_t *lock)
{
	return pthread_mutex_trylock(lock) == 0;
}

static inline void dmap_spin_unlock(dmap_spinlock_t *lock)
{
	pthread_mutex_unlock(lock);
}

/*
 * dmap_cpu_hint() - a small per-thread number for sharding caches and
 * counters (the kernel uses raw_smp_processor_id()). Threads get consecutive
 * numbers on first use; callers reduce it modulo their shard count.
 */
extern __thread unsigned int dmap_hosted_thread_index;
unsigned int dmap_hosted_assign_thread_index(void);

static inline unsigned int dmap_cpu_hint(void)
{
	unsigned int index = dmap_hosted_thread_index;

	if (__builtin_expect(index == 0, 0))
		index = dmap_hosted_assign_thread_index();
	return index - 1;
}

#endif /* DMAP_ENV_INLINE_H */
