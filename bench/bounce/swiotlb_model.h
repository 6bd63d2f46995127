/* SPDX-License-Identifier: MIT */
/*
 * bench/bounce/swiotlb_model.h - a model of Linux's swiotlb slot allocator,
 * re-implemented from its description (shared/reference/linux-dma.md section
 * 1: kernel/dma/swiotlb.c around 6.6-6.9), for benchmarks and fragmentation
 * replays only. It is not dmap code and is not linked into the library.
 *
 * Faithful in what decides speed and fragmentation: 2 KiB slots, 128-slot
 * segments (so at most 256 KiB per mapping), per-slot "list" count of the
 * free slots that follow inside the segment, a next-fit search that starts at
 * the area's rotating index and steps by the alignment stride, the two-step
 * merge on release, and areas (CPUs rounded up to a power of two, each at
 * least one segment) with one spinlock each, the search starting in the
 * calling CPU's area and trying the others round-robin. Left out: HighMem,
 * the debugfs counters' atomics, dynamic pools, orig_addr bookkeeping beyond
 * what release needs.
 */
#ifndef DMAP_SWIOTLB_MODEL_H
#define DMAP_SWIOTLB_MODEL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SWIOTLB_SHIFT 11
#define SWIOTLB_SLOT (1u << SWIOTLB_SHIFT)
#define SWIOTLB_SEGSIZE 128u
#define SWIOTLB_MAX_MAPPING (SWIOTLB_SLOT * SWIOTLB_SEGSIZE)

struct swiotlb_slot {
	uint32_t list;
	uint32_t alloc_size;
};

struct swiotlb_area {
	pthread_spinlock_t lock;
	unsigned long used;
	unsigned int index;
} __attribute__((aligned(64)));

struct swiotlb_model {
	unsigned long nslabs;
	unsigned int nareas;
	unsigned int area_nslabs;
	struct swiotlb_area *areas;
	struct swiotlb_slot *slots;
	uint64_t start; /* "physical" address of slot 0, page aligned */
};

/* @bytes: pool size (rounded down to segments); @cpus: areas = cpus rounded up to a power of two. */
int swiotlb_model_init(struct swiotlb_model *m, size_t bytes, unsigned int cpus);
void swiotlb_model_destroy(struct swiotlb_model *m);

/*
 * Find slots for @size bytes of a buffer at @orig (its low bits decide the
 * offset under @min_align_mask), starting in area @cpu. Page-sized requests
 * are page aligned (6.9+ rule). Returns the first slot index or -1 (full, or
 * larger than 256 KiB: swiotlb cannot serve it at all).
 */
long swiotlb_model_alloc(struct swiotlb_model *m, size_t size, uint64_t orig,
			 uint64_t min_align_mask, unsigned int cpu);
/* Release what swiotlb_model_alloc() returned for the same @size/@orig/@min_align_mask. */
void swiotlb_model_free(struct swiotlb_model *m, long index, size_t size, uint64_t orig,
			uint64_t min_align_mask);
/* Slots in use (sum of the areas' counters; unlocked, as Linux's fallback). */
unsigned long swiotlb_model_used(struct swiotlb_model *m);

#endif /* DMAP_SWIOTLB_MODEL_H */
