// SPDX-License-Identifier: MIT
/*
 * bench/bounce/swiotlb_model.c - Linux swiotlb's slot search and release,
 * written from the description in shared/reference/linux-dma.md section 1
 * (no kernel code copied). See swiotlb_model.h for what is and is not
 * modelled. The point is an honest baseline: same pool size, same traces,
 * same 2-thread load as dmap's pool, with swiotlb's own data structure,
 * search order and locking.
 */
#include <stdlib.h>
#include <string.h>

#include "swiotlb_model.h"

#define MODEL_PAGE 4096u

static inline unsigned int seg_offset(unsigned long i)
{
	return (unsigned int)(i & (SWIOTLB_SEGSIZE - 1));
}

int swiotlb_model_init(struct swiotlb_model *m, size_t bytes, unsigned int cpus)
{
	unsigned long i;
	unsigned int nareas = 1;

	memset(m, 0, sizeof(*m));
	m->nslabs = (bytes >> SWIOTLB_SHIFT) & ~(unsigned long)(SWIOTLB_SEGSIZE - 1);
	if (!m->nslabs)
		return -1;
	while (nareas < cpus)
		nareas <<= 1;
	/* limit_nareas(): every area holds at least one segment. */
	while (nareas > 1 && m->nslabs / nareas < SWIOTLB_SEGSIZE)
		nareas >>= 1;
	m->nareas = nareas;
	m->area_nslabs = (unsigned int)(m->nslabs / nareas);
	m->start = 0x40000000ull;
	m->areas = aligned_alloc(64, sizeof(*m->areas) * nareas);
	m->slots = calloc(m->nslabs, sizeof(*m->slots));
	if (!m->areas || !m->slots) {
		swiotlb_model_destroy(m);
		return -1;
	}
	for (i = 0; i < nareas; i++) {
		pthread_spin_init(&m->areas[i].lock, PTHREAD_PROCESS_PRIVATE);
		m->areas[i].used = 0;
		m->areas[i].index = 0;
	}
	for (i = 0; i < m->nslabs; i++)
		m->slots[i].list = SWIOTLB_SEGSIZE - seg_offset(i);
	return 0;
}

void swiotlb_model_destroy(struct swiotlb_model *m)
{
	if (m->areas)
		for (unsigned int i = 0; i < m->nareas; i++)
			pthread_spin_destroy(&m->areas[i].lock);
	free(m->areas);
	free(m->slots);
	memset(m, 0, sizeof(*m));
}

static inline unsigned int wrap_index(const struct swiotlb_model *m, unsigned int index)
{
	return index >= m->area_nslabs ? 0 : index;
}

static long area_find(struct swiotlb_model *m, unsigned int area_index, size_t size, uint64_t orig,
		      uint64_t min_align_mask)
{
	struct swiotlb_area *area = &m->areas[area_index];
	uint64_t alloc_align_mask = 0, iotlb_align_mask = min_align_mask;
	unsigned int offset = (unsigned int)(orig & min_align_mask & (SWIOTLB_SLOT - 1));
	unsigned int nslots = (unsigned int)((size + offset + SWIOTLB_SLOT - 1) >> SWIOTLB_SHIFT);
	unsigned long slot_base = (unsigned long)area_index * m->area_nslabs;
	unsigned int index, slots_checked, stride, count = 0;
	unsigned long slot_index = 0, i;

	/* 6.9+ alignment rules (reference 1.5). */
	if (!alloc_align_mask && !iotlb_align_mask && size >= MODEL_PAGE)
		alloc_align_mask = MODEL_PAGE - 1;
	alloc_align_mask |= SWIOTLB_SLOT - 1;
	iotlb_align_mask &= ~alloc_align_mask;
	stride = (unsigned int)(((alloc_align_mask > iotlb_align_mask ? alloc_align_mask :
									iotlb_align_mask) >>
				 SWIOTLB_SHIFT) +
				1);

	pthread_spin_lock(&area->lock);
	if (nslots > m->area_nslabs - area->used)
		goto not_found;
	index = area->index;
	for (slots_checked = 0; slots_checked < m->area_nslabs;) {
		uint64_t tlb_addr;

		slot_index = slot_base + index;
		tlb_addr = m->start + ((uint64_t)slot_index << SWIOTLB_SHIFT);
		if ((tlb_addr & alloc_align_mask) ||
		    (tlb_addr & iotlb_align_mask) != (orig & iotlb_align_mask)) {
			index = wrap_index(m, index + 1);
			slots_checked++;
			continue;
		}
		/* No device boundary in the benchmarks: iommu_is_span_boundary() is false. */
		if (m->slots[slot_index].list >= nslots)
			goto found;
		index = wrap_index(m, index + stride);
		slots_checked += stride;
	}
not_found:
	pthread_spin_unlock(&area->lock);
	return -1;
found:
	for (i = slot_index; i < slot_index + nslots; i++) {
		m->slots[i].list = 0;
		m->slots[i].alloc_size =
			(uint32_t)(size + offset - ((i - slot_index) << SWIOTLB_SHIFT));
	}
	for (i = slot_index - 1;
	     slot_index && seg_offset(i) != SWIOTLB_SEGSIZE - 1 && m->slots[i].list; i--) {
		m->slots[i].list = ++count;
		if (!i)
			break;
	}
	area->index = wrap_index(m, index + nslots);
	area->used += nslots;
	pthread_spin_unlock(&area->lock);
	return (long)slot_index;
}

long swiotlb_model_alloc(struct swiotlb_model *m, size_t size, uint64_t orig,
			 uint64_t min_align_mask, unsigned int cpu)
{
	unsigned int start, i;

	if (size + (orig & min_align_mask & (SWIOTLB_SLOT - 1)) > SWIOTLB_MAX_MAPPING)
		return -1;
	start = cpu & (m->nareas - 1);
	i = start;
	do {
		long index = area_find(m, i, size, orig, min_align_mask);

		if (index >= 0)
			return index;
		if (++i >= m->nareas)
			i = 0;
	} while (i != start);
	return -1;
}

void swiotlb_model_free(struct swiotlb_model *m, long index, size_t size, uint64_t orig,
			uint64_t min_align_mask)
{
	unsigned int offset = (unsigned int)(orig & min_align_mask & (SWIOTLB_SLOT - 1));
	unsigned int nslots = (unsigned int)((size + offset + SWIOTLB_SLOT - 1) >> SWIOTLB_SHIFT);
	struct swiotlb_area *area = &m->areas[(unsigned long)index / m->area_nslabs];
	unsigned int count;
	long i;

	pthread_spin_lock(&area->lock);
	/* Step 1: take the free run after us if it is in the same segment. */
	if ((unsigned long)index + nslots < (((unsigned long)index + 1 + SWIOTLB_SEGSIZE - 1) &
					     ~(unsigned long)(SWIOTLB_SEGSIZE - 1)))
		count = m->slots[index + nslots].list;
	else
		count = 0;
	for (i = index + nslots - 1; i >= index; i--) {
		m->slots[i].list = ++count;
		m->slots[i].alloc_size = 0;
	}
	/* Step 2: extend backwards over the free slots before us, within the segment. */
	for (i = index - 1;
	     i >= 0 && seg_offset((unsigned long)i) != SWIOTLB_SEGSIZE - 1 && m->slots[i].list; i--)
		m->slots[i].list = ++count;
	area->used -= nslots;
	pthread_spin_unlock(&area->lock);
}

unsigned long swiotlb_model_used(struct swiotlb_model *m)
{
	unsigned long used = 0;

	for (unsigned int i = 0; i < m->nareas; i++)
		used += __atomic_load_n(&m->areas[i].used, __ATOMIC_RELAXED);
	return used;
}
