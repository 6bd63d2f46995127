/* SPDX-License-Identifier: MIT */
/*
 * dmap_env_inline.h (bare metal) - the hot-path environment for a single
 * CPU without an operating system: the trivial RCU flavour (a read section
 * is a compiler barrier; a grace period has passed as soon as the writer
 * runs, since nothing else can be inside a read section) and a test-and-set
 * spinlock that also serves an SMP bring-up.
 *
 * It is also the header the freestanding CI check builds core/ and
 * backends/ against, so it may include nothing but compiler headers.
 */
#ifndef DMAP_ENV_INLINE_H
#define DMAP_ENV_INLINE_H

#include <stdbool.h>
#include <stdint.h>

#include <dmap/atomic_builtins.h>

#define DMAP_ENV_BAREMETAL 1
#define dmap_tsan_rcu_release() ((void)0)
#define dmap_tsan_rcu_acquire() ((void)0)

static inline void dmap_rcu_read_lock(void)
{
	dmap_barrier();
}

static inline void dmap_rcu_read_unlock(void)
{
	dmap_barrier();
}

typedef struct {
	uint32_t locked;
} dmap_spinlock_t;

static inline void dmap_spin_init(dmap_spinlock_t *lock)
{
	lock->locked = 0;
}

static inline void dmap_spin_destroy(dmap_spinlock_t *lock)
{
	(void)lock;
}

static inline bool dmap_spin_trylock(dmap_spinlock_t *lock)
{
	return !__atomic_exchange_n(&lock->locked, 1, __ATOMIC_ACQUIRE);
}

static inline void dmap_spin_lock(dmap_spinlock_t *lock)
{
	while (!dmap_spin_trylock(lock))
		while (__atomic_load_n(&lock->locked, __ATOMIC_RELAXED))
			dmap_cpu_relax();
}

static inline void dmap_spin_unlock(dmap_spinlock_t *lock)
{
	__atomic_store_n(&lock->locked, 0, __ATOMIC_RELEASE);
}

static inline unsigned int dmap_cpu_hint(void)
{
	return 0;
}

#endif /* DMAP_ENV_INLINE_H */
