// SPDX-License-Identifier: MIT
/*
 * core/src/fault_ring.c - the per-domain fault log: a bounded MPMC ring.
 *
 * Design: faults are raised by device-side accesses, which may run on any
 * number of threads at once (vhost-user workers, emulated devices) and must
 * never wait for whoever reads the log; SMMUv3 hardware behaves the same
 * way: when its event queue is full it drops the event and flags overflow.
 * So the ring is Dmitry Vyukov's bounded MPMC queue: every cell carries a
 * sequence number that says whose turn it is (a producer for lap L sees
 * seq == pos, a consumer sees seq == pos + 1), and producers and consumers
 * each claim a position with one compare-and-swap on their own counter. A
 * producer that finds the cell of its position still full (seq < pos) knows
 * the ring is full and drops its record instead of waiting: "drop newest",
 * counted. A consumer that finds a cell not yet published reports "empty"
 * rather than spin, so pop never blocks either.
 *
 * Fault sequence numbers come from a separate counter taken before the
 * enqueue attempt, so every offered fault has a unique number, dropped ones
 * leave gaps (the contract in <dmap/fault.h>), and recorded == popped +
 * queued + dropped holds exactly. Between concurrent producers the ring
 * order may differ slightly from sequence order; the sequence is the truth.
 *
 * Memory: one allocation of capacity cells (rounded up to a power of two so
 * positions map to cells with a mask); records are copied by value, so a
 * producer never holds a pointer into the ring after it published.
 */
#include "internal.h"

struct dmap_fault_cell {
	uint64_t sequence; /* turn marker, see above */
	struct dmap_fault fault;
};

struct dmap_fault_ring {
	const struct dmap_env *env;
	size_t alloc_size;
	uint64_t mask;
	/* Producers and consumers hit different counters: keep them on separate lines. */
	uint64_t enqueue_pos __attribute__((aligned(64)));
	uint64_t dequeue_pos __attribute__((aligned(64)));
	uint64_t recorded __attribute__((aligned(64)));
	uint64_t dropped;
	struct dmap_fault_cell cells[] __attribute__((aligned(64)));
};

struct dmap_fault_ring *dmap_fault_ring_create(const struct dmap_env *env, unsigned int capacity)
{
	struct dmap_fault_ring *ring;
	uint64_t slots = 1;
	size_t size;

	if (!env || !capacity || capacity > (1u << 20))
		return NULL;
	while (slots < capacity)
		slots <<= 1;
	size = sizeof(*ring) + (size_t)slots * sizeof(struct dmap_fault_cell);
	ring = env->ops->alloc(env->cookie, size, 64, DMAP_ALLOC_ZERO);
	if (!ring)
		return NULL;
	dmap_memset(ring, 0, size);
	ring->env = env;
	ring->alloc_size = size;
	ring->mask = slots - 1;
	for (uint64_t i = 0; i < slots; i++)
		ring->cells[i].sequence = i;
	return ring;
}

void dmap_fault_ring_destroy(const struct dmap_env *env, struct dmap_fault_ring *ring)
{
	if (!ring)
		return;
	env->ops->free(env->cookie, ring, ring->alloc_size);
}

void dmap_fault_ring_push(struct dmap_fault_ring *ring, struct dmap_fault *fault)
{
	uint64_t pos;

	fault->sequence = dmap_fetch_add(&ring->recorded, 1);
	pos = dmap_load_relaxed(&ring->enqueue_pos);
	for (;;) {
		struct dmap_fault_cell *cell = &ring->cells[pos & ring->mask];
		uint64_t seq = dmap_load_acquire(&cell->sequence);
		int64_t diff = (int64_t)(seq - pos);

		if (diff == 0) {
			if (dmap_cmpxchg_weak(&ring->enqueue_pos, &pos, pos + 1)) {
				cell->fault = *fault;
				dmap_store_release(&cell->sequence, pos + 1);
				return;
			}
			/* pos was reloaded by the failed CAS */
		} else if (diff < 0) {
			/* The cell still holds last lap's record: full. Drop the newest. */
			dmap_atomic_add_relaxed(&ring->dropped, 1);
			return;
		} else {
			pos = dmap_load_relaxed(&ring->enqueue_pos);
		}
	}
}

int dmap_fault_ring_pop(struct dmap_fault_ring *ring, struct dmap_fault *out)
{
	uint64_t pos = dmap_load_relaxed(&ring->dequeue_pos);

	for (;;) {
		struct dmap_fault_cell *cell = &ring->cells[pos & ring->mask];
		uint64_t seq = dmap_load_acquire(&cell->sequence);
		int64_t diff = (int64_t)(seq - (pos + 1));

		if (diff == 0) {
			if (dmap_cmpxchg_weak(&ring->dequeue_pos, &pos, pos + 1)) {
				*out = cell->fault;
				/* Hand the cell to the producer of the next lap. */
				dmap_store_release(&cell->sequence, pos + ring->mask + 1);
				return 1;
			}
		} else if (diff < 0) {
			return 0; /* empty, or the next record is still being written */
		} else {
			pos = dmap_load_relaxed(&ring->dequeue_pos);
		}
	}
}

void dmap_fault_ring_counts(const struct dmap_fault_ring *ring, uint64_t *recorded,
			    uint64_t *dropped)
{
	if (recorded)
		*recorded = dmap_load_relaxed(&ring->recorded);
	if (dropped)
		*dropped = dmap_load_relaxed(&ring->dropped);
}

unsigned int dmap_fault_ring_capacity(const struct dmap_fault_ring *ring)
{
	return (unsigned int)(ring->mask + 1);
}
