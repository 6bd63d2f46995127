/* SPDX-License-Identifier: MIT */
/*
 * dmap/atomic_builtins.h - atomics and barriers on the GCC/Clang __atomic
 * builtins, shared by the hosted and bare-metal inline environments (the
 * kernel environment maps the same names onto READ_ONCE, smp_load_acquire,
 * cmpxchg64 and friends instead).
 *
 * Why builtins and not <stdatomic.h>: the objects they touch are plain
 * uint64_t page-table entries and pointers that hardware and the kernel also
 * read, and _Atomic would change their type. The builtins are freestanding
 * (no libatomic for naturally aligned 1..8-byte objects on the targets dmap
 * supports) and ThreadSanitizer understands them.
 */
#ifndef DMAP_ATOMIC_BUILTINS_H
#define DMAP_ATOMIC_BUILTINS_H

#define dmap_load_relaxed(p) __atomic_load_n((p), __ATOMIC_RELAXED)
#define dmap_store_relaxed(p, v) __atomic_store_n((p), (v), __ATOMIC_RELAXED)
#define dmap_load_acquire(p) __atomic_load_n((p), __ATOMIC_ACQUIRE)
#define dmap_store_release(p, v) __atomic_store_n((p), (v), __ATOMIC_RELEASE)
/* Returns true and stores @desired if *@p == *@expected; else loads *@p into *@expected. */
#define dmap_cmpxchg(p, expected, desired)                                           \
	__atomic_compare_exchange_n((p), (expected), (desired), 0, __ATOMIC_ACQ_REL, \
				    __ATOMIC_ACQUIRE)
#define dmap_cmpxchg_weak(p, expected, desired)                                      \
	__atomic_compare_exchange_n((p), (expected), (desired), 1, __ATOMIC_ACQ_REL, \
				    __ATOMIC_ACQUIRE)
#define dmap_xchg(p, v) __atomic_exchange_n((p), (v), __ATOMIC_ACQ_REL)
#define dmap_fetch_add(p, v) __atomic_fetch_add((p), (v), __ATOMIC_ACQ_REL)
#define dmap_fetch_sub(p, v) __atomic_fetch_sub((p), (v), __ATOMIC_ACQ_REL)
#define dmap_atomic_add_relaxed(p, v) ((void)__atomic_fetch_add((p), (v), __ATOMIC_RELAXED))
#define dmap_atomic_sub_relaxed(p, v) ((void)__atomic_fetch_sub((p), (v), __ATOMIC_RELAXED))

#define dmap_smp_mb() __atomic_thread_fence(__ATOMIC_SEQ_CST)
#define dmap_smp_rmb() __atomic_thread_fence(__ATOMIC_ACQUIRE)
#define dmap_smp_wmb() __atomic_thread_fence(__ATOMIC_RELEASE)
/* Order CPU writes of descriptors/tables before a device may see them (Linux dma_wmb). */
#define dmap_dma_wmb() __atomic_thread_fence(__ATOMIC_RELEASE)
#define dmap_barrier() __asm__ __volatile__("" ::: "memory")

#if defined(__x86_64__) || defined(__i386__)
#define dmap_cpu_relax() __builtin_ia32_pause()
#elif defined(__aarch64__)
#define dmap_cpu_relax() __asm__ __volatile__("yield" ::: "memory")
#else
#define dmap_cpu_relax() dmap_barrier()
#endif

/* RCU pointer publication: acquire/release so ThreadSanitizer sees the pairing. */
#define dmap_rcu_dereference(p) __atomic_load_n(&(p), __ATOMIC_ACQUIRE)
#define dmap_rcu_assign_pointer(p, v) __atomic_store_n(&(p), (v), __ATOMIC_RELEASE)

#endif /* DMAP_ATOMIC_BUILTINS_H */
