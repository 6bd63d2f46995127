// SPDX-License-Identifier: MIT
/*
 * bench/core/bench_floor.c - the floor identity map+unmap is compared with:
 * two plain out-of-line calls doing the work a direct mapping must do (add
 * the bus offset, check the last byte against the device's limit; check the
 * range again on unmap). Kept in its own translation unit, marked noinline
 * and called through volatile function pointers so the compiler cannot fold
 * it into the loop.
 */
#include <stddef.h>
#include <stdint.h>

#include "bench_floor.h"

__attribute__((noinline)) uint64_t bench_floor_map(const struct bench_floor_dev *dev, uint64_t phys,
						   size_t size)
{
	uint64_t bus = phys + dev->offset;
	uint64_t last = bus + (size - 1);

	if (last < bus || last > dev->limit)
		return ~(uint64_t)0;
	return bus;
}

__attribute__((noinline)) int bench_floor_unmap(const struct bench_floor_dev *dev, uint64_t bus,
						size_t size)
{
	uint64_t last = bus + (size - 1);

	return (last < bus || last > dev->limit) ? -2 : 0;
}
