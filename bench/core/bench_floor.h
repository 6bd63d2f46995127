/* SPDX-License-Identifier: MIT */
/* bench/core/bench_floor.h - see bench_floor.c. */
#ifndef BENCH_FLOOR_H
#define BENCH_FLOOR_H

#include <stddef.h>
#include <stdint.h>

struct bench_floor_dev {
	uint64_t offset;
	uint64_t limit;
};

uint64_t bench_floor_map(const struct bench_floor_dev *dev, uint64_t phys, size_t size);
int bench_floor_unmap(const struct bench_floor_dev *dev, uint64_t bus, size_t size);

#endif
