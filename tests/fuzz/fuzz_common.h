/* SPDX-License-Identifier: MIT */
/*
 * tests/fuzz/fuzz_common.h - what every fuzz target shares: a byte reader
 * that turns the fuzzer's input into choices, and a check macro.
 *
 * The reader never fails: past the end of the input it returns zeros, so a
 * target can interpret any byte string (including the empty one) as a
 * complete program and libFuzzer's mutations stay meaningful at every length.
 *
 * FUZZ_CHECK aborts with a message naming the broken invariant: libFuzzer
 * treats the abort as a crash and saves the input; the replay driver
 * (fuzz_driver.c) catches it and writes the input to a file.
 */
#ifndef DMAP_FUZZ_COMMON_H
#define DMAP_FUZZ_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

struct fuzz_input {
	const uint8_t *data;
	size_t size;
	size_t pos;
};

static inline void fuzz_input_init(struct fuzz_input *in, const uint8_t *data, size_t size)
{
	in->data = data;
	in->size = size;
	in->pos = 0;
}

static inline bool fuzz_done(const struct fuzz_input *in)
{
	return in->pos >= in->size;
}

static inline uint8_t fuzz_u8(struct fuzz_input *in)
{
	return in->pos < in->size ? in->data[in->pos++] : 0;
}

static inline uint16_t fuzz_u16(struct fuzz_input *in)
{
	uint16_t v = fuzz_u8(in);

	return (uint16_t)(v | (uint16_t)fuzz_u8(in) << 8);
}

static inline uint32_t fuzz_u32(struct fuzz_input *in)
{
	uint32_t v = fuzz_u16(in);

	return v | (uint32_t)fuzz_u16(in) << 16;
}

static inline uint64_t fuzz_u64(struct fuzz_input *in)
{
	uint64_t v = fuzz_u32(in);

	return v | (uint64_t)fuzz_u32(in) << 32;
}

static inline bool fuzz_bool(struct fuzz_input *in)
{
	return fuzz_u8(in) & 1;
}

/* A value in [0, @n) (@n > 0); one byte for small @n, so mutations map to choices. */
static inline uint32_t fuzz_below(struct fuzz_input *in, uint32_t n)
{
	if (n <= 256)
		return fuzz_u8(in) % n;
	return fuzz_u32(in) % n;
}

/* Pick one of an array's values. */
#define FUZZ_PICK(in, array) ((array)[fuzz_below((in), sizeof(array) / sizeof((array)[0]))])

/* Abort (a crash for libFuzzer and for the replay driver) when an invariant breaks. */
#define FUZZ_CHECK(cond, ...)                                                                      \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "fuzz: %s:%d: invariant failed: %s: ", __FILE__, __LINE__, \
				#cond);                                                            \
			fprintf(stderr, __VA_ARGS__);                                              \
			fputc('\n', stderr);                                                       \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

/*
 * Known, reported and not yet fixed problems in the code under test: a
 * target that meets one counts it here instead of aborting, so the seeded
 * ctest runs stay green while the report is open. The replay driver prints
 * the counts. Set DMAP_FUZZ_STRICT=1 in the environment to abort instead
 * (DMAP_FUZZ_STRICT=<id>: abort on that issue only).
 */
void fuzz_known_issue(const char *id);
bool fuzz_strict(void);

#endif /* DMAP_FUZZ_COMMON_H */
