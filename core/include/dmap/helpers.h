/* SPDX-License-Identifier: MIT */
/*
 * dmap/helpers.h - small things core and backends share: container_of,
 * alignment arithmetic, freestanding formatting, logging and rate limits.
 * Backend-facing; users of the library never need it.
 */
#ifndef DMAP_HELPERS_H
#define DMAP_HELPERS_H

#include <stdarg.h>

#include <dmap/types.h>
#include <dmap/env.h>
#include <dmap_env_inline.h>

#ifdef __cplusplus
extern "C" {
#endif

#define dmap_container_of(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))
#define DMAP_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define dmap_likely(x) __builtin_expect(!!(x), 1)
#define dmap_unlikely(x) __builtin_expect(!!(x), 0)
#define dmap_min(a, b) ((a) < (b) ? (a) : (b))
#define dmap_max(a, b) ((a) > (b) ? (a) : (b))

/* Alignment helpers; @a must be a power of two. */
#define dmap_align_down(x, a) ((x) & ~((__typeof__(x))(a)-1))
#define dmap_align_up(x, a) (((x) + ((__typeof__(x))(a)-1)) & ~((__typeof__(x))(a)-1))
#define dmap_is_aligned(x, a) (((x) & ((__typeof__(x))(a)-1)) == 0)
#define dmap_is_power_of_2(x) ((x) != 0 && ((x) & ((x)-1)) == 0)

/* Memory primitives: compiler builtins (a freestanding target provides the four functions). */
#define dmap_memcpy(d, s, n) __builtin_memcpy((d), (s), (n))
#define dmap_memmove(d, s, n) __builtin_memmove((d), (s), (n))
#define dmap_memset(d, c, n) __builtin_memset((d), (c), (n))
#define dmap_memcmp(a, b, n) __builtin_memcmp((a), (b), (n))

/** dmap_fls64() - index of the highest set bit plus one; 0 for 0. */
static inline unsigned int dmap_fls64(uint64_t x)
{
	return x ? 64 - (unsigned int)__builtin_clzll(x) : 0;
}

/** dmap_ffs64() - index of the lowest set bit; 64 for 0. */
static inline unsigned int dmap_ffs64(uint64_t x)
{
	return x ? (unsigned int)__builtin_ctzll(x) : 64;
}

/** dmap_strlcpy() - bounded copy that always terminates; returns strlen(@src). */
size_t dmap_strlcpy(char *dst, const char *src, size_t size);

/**
 * dmap_vsnprintf() - freestanding vsnprintf: %d %i %u %x %X %p %s %c %%,
 * flags '-' and '0', a field width, precision for %s, and the h, hh, l, ll,
 * z and j length modifiers. Always terminates (when @size > 0); returns the
 * length the full output would have had, or -1 (as glibc) when a width or
 * precision written in @fmt does not fit an int.
 */
int dmap_vsnprintf(char *buf, size_t size, const char *fmt, va_list ap);
int dmap_snprintf(char *buf, size_t size, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/**
 * dmap_log() - format and hand one message to the environment's log hook.
 * Messages longer than 255 bytes are truncated. Any context.
 */
void dmap_log(const struct dmap_env *env, enum dmap_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void dmap_vlog(const struct dmap_env *env, enum dmap_log_level level, const char *fmt, va_list ap);

/**
 * struct dmap_ratelimit - at most @burst messages per @interval_ns (Linux's
 * ratelimit_state). Lock-free and approximate under concurrency.
 */
struct dmap_ratelimit {
	uint64_t interval_ns;
	uint32_t burst;
	uint64_t window_start;
	uint32_t printed;
	uint64_t suppressed;
};

#define DMAP_RATELIMIT_INIT(interval, n)                \
	{                                               \
		.interval_ns = (interval), .burst = (n) \
	}
#define DMAP_RATELIMIT_DEFAULT DMAP_RATELIMIT_INIT(5000000000ull, 10)

/** dmap_ratelimit_ok() - true if one more message may be printed now. */
bool dmap_ratelimit_ok(const struct dmap_env *env, struct dmap_ratelimit *rl);

/** dmap_env_alloc()/dmap_env_free() - shorthands for the environment's allocator. */
static inline void *dmap_env_alloc(const struct dmap_env *env, size_t size, unsigned int flags)
{
	return env->ops->alloc(env->cookie, size, 16, flags);
}

static inline void dmap_env_free(const struct dmap_env *env, void *ptr, size_t size)
{
	if (ptr)
		env->ops->free(env->cookie, ptr, size);
}

static inline uint64_t dmap_env_now_ns(const struct dmap_env *env)
{
	return env->ops->now_ns ? env->ops->now_ns(env->cookie) : 0;
}

/** dmap_dir_name() - "BIDIRECTIONAL", "TO_DEVICE", "FROM_DEVICE", "NONE" or "invalid". */
const char *dmap_dir_name(enum dmap_dir dir);

/** dmap_valid_dir() - true for the three directions a mapping may have. */
static inline bool dmap_valid_dir(enum dmap_dir dir)
{
	return (unsigned int)dir <= DMAP_FROM_DEVICE;
}

#ifdef __cplusplus
}
#endif
#endif /* DMAP_HELPERS_H */
