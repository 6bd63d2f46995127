// SPDX-License-Identifier: MIT
/*
 * tests/core/test_format.c - dmap_vsnprintf against libc snprintf, strlcpy,
 * dmap_log truncation, the rate limiter and the name helpers.
 */
#include <criterion/criterion.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <dmap/helpers.h>
#include <dmap/fault.h>

/* The comparisons deliberately truncate and combine flags C says are ignored. */
#pragma GCC diagnostic ignored "-Wformat-truncation"
#pragma GCC diagnostic ignored "-Wformat"
#pragma GCC diagnostic ignored "-Wformat-overflow"

/* Compare dmap_snprintf with libc for one format, at several buffer sizes. */
#define SAME(...)                                                                               \
	do {                                                                                    \
		char ours[300], libc[300];                                                      \
		int n1 = dmap_snprintf(ours, sizeof(ours), __VA_ARGS__);                        \
		int n2 = snprintf(libc, sizeof(libc), __VA_ARGS__);                             \
		cr_assert_eq(n1, n2, "length for %s: dmap %d libc %d", #__VA_ARGS__, n1, n2);   \
		cr_assert_str_eq(ours, libc, "output for %s", #__VA_ARGS__);                    \
		for (size_t cut = 0; cut < 8; cut++) {                                          \
			memset(ours, 'X', sizeof(ours));                                        \
			memset(libc, 'X', sizeof(libc));                                        \
			n1 = dmap_snprintf(cut ? ours : NULL, cut, __VA_ARGS__);                \
			n2 = snprintf(cut ? libc : NULL, cut, __VA_ARGS__);                     \
			cr_assert_eq(n1, n2, "truncated length %zu for %s", cut, #__VA_ARGS__); \
			cr_assert_eq(memcmp(ours, libc, cut + 1), 0,                            \
				     "truncated output at %zu for %s", cut, #__VA_ARGS__);      \
		}                                                                               \
	} while (0)

Test(format, integers)
{
	SAME("%d", 0);
	SAME("%d %d %d", 1, -1, 42);
	SAME("%d", INT_MAX);
	SAME("%d", INT_MIN);
	SAME("%i", -12345);
	SAME("%u", 0u);
	SAME("%u", UINT_MAX);
	SAME("%x", 0xdeadbeefu);
	SAME("%X", 0xdeadbeefu);
	SAME("%ld %lu %lx", LONG_MIN, ULONG_MAX, 0x123456789abcdefUL);
	SAME("%lld %llu %llx", LLONG_MIN, ULLONG_MAX, 0xfedcba9876543210ULL);
	SAME("%hd %hu %hx", (short)-2, (unsigned short)65535, (unsigned short)0xbeef);
	SAME("%hhd %hhu %hhx", (signed char)-128, (unsigned char)255, (unsigned char)0xab);
	SAME("%hhd", 300); /* promoted int narrowed to char */
	SAME("%zu %zx %zd", (size_t)SIZE_MAX, (size_t)0x1000, (ssize_t)-5);
	SAME("%jd %ju %jx", (intmax_t)INT64_MIN, (uintmax_t)UINT64_MAX, (uintmax_t)0xabc);
}

Test(format, flags_width_precision)
{
	SAME("[%5d]", 42);
	SAME("[%-5d]", 42);
	SAME("[%05d]", 42);
	SAME("[%05d]", -42);
	SAME("[%-05d]", 42);
	SAME("[%016llx]", 0x1234ULL);
	SAME("[%#x]", 0x1234u);
	SAME("[%#x]", 0u);
	SAME("[%#010x]", 0x1234u);
	SAME("[%#X]", 0xabcu);
	SAME("[%+d] [%+d] [% d] [% d]", 5, -5, 5, -5);
	SAME("[%.3d] [%.0d] [%5.3d] [%-8.4x]", 7, 0, -7, 0xabu);
	SAME("[%08.3d]", 5);
	SAME("[%*d] [%-*d] [%*d]", 6, 1, 6, 2, -6, 3);
	SAME("[%.*d]", 4, 9);
	SAME("[%1d]", 12345);
	SAME("[%20llu]", 18446744073709551615ULL);
}

Test(format, strings_chars_pointers)
{
	int x;

	SAME("%s", "hello");
	SAME("[%10s]", "hi");
	SAME("[%-10s]", "hi");
	SAME("[%.3s]", "abcdef");
	SAME("[%8.2s]", "abcdef");
	SAME("[%.*s]", 2, "abcdef");
	SAME("[%.0s]", "abc");
	SAME("%s", "");
	SAME("%c%c%c", 'a', 'b', 'c');
	SAME("[%3c] [%-3c]", 'x', 'y');
	SAME("%p", (void *)&x);
	SAME("%p", (void *)0x1000);
	SAME("[%20p]", (void *)0xabcdef);
	SAME("[%-20p]", (void *)0xabcdef);
	SAME("%p", (void *)NULL);
	SAME("100%% done");
	SAME("%%%d%%", 5);
	SAME("mixed %s=%d (0x%llx) %c", "key", -3, 0xffffULL, '!');
}

Test(format, null_string_and_long_output)
{
	char buf[16];
	char big[600];
	int n;

	n = dmap_snprintf(buf, sizeof(buf), "%s", (const char *)NULL);
	cr_assert_eq(n, 6);
	cr_assert_str_eq(buf, "(null)");
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = 0;
	n = dmap_snprintf(buf, sizeof(buf), "%s", big);
	cr_assert_eq(n, 599);
	cr_assert_eq(strlen(buf), 15);
	n = dmap_snprintf(buf, 0, "%d", 12345);
	cr_assert_eq(n, 5);
}

Test(format, random_against_libc)
{
	static const char *const fmts[] = { "%d", "%5d",  "%-7d", "%07d", "%x",	 "%08x", "%#x",
					    "%u", "%12u", "%-3x", "%+d",  "% d", "%.4d", "%X" };
	unsigned int seed = 1234;

	for (int i = 0; i < 3000; i++) {
		const char *f = fmts[i % DMAP_ARRAY_SIZE(fmts)];
		int v;
		char a[64], b[64];

		seed = seed * 1103515245u + 12345u;
		v = (int)(seed ^ (seed << 7));
		/* libc and dmap must agree for every value. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
		int n1 = dmap_snprintf(a, sizeof(a), f, v);
		int n2 = snprintf(b, sizeof(b), f, v);
#pragma GCC diagnostic pop
		cr_assert_eq(n1, n2, "fmt %s value %d", f, v);
		cr_assert_str_eq(a, b, "fmt %s value %d", f, v);
	}
}

Test(format, strlcpy)
{
	char buf[8];

	cr_assert_eq(dmap_strlcpy(buf, "abc", sizeof(buf)), 3);
	cr_assert_str_eq(buf, "abc");
	cr_assert_eq(dmap_strlcpy(buf, "abcdefghijkl", sizeof(buf)), 12);
	cr_assert_str_eq(buf, "abcdefg");
	memset(buf, 'x', sizeof(buf));
	cr_assert_eq(dmap_strlcpy(buf, "abc", 0), 3);
	cr_assert_eq(buf[0], 'x', "size 0 writes nothing");
	cr_assert_eq(dmap_strlcpy(buf, "abc", 1), 3);
	cr_assert_str_eq(buf, "");
}

/* A minimal environment: only what dmap_log and the rate limiter use. */
static char last_message[512];
static enum dmap_log_level last_level;
static int log_calls;
static uint64_t fake_now;

static void fake_log(void *cookie, enum dmap_log_level level, const char *message)
{
	(void)cookie;
	last_level = level;
	log_calls++;
	snprintf(last_message, sizeof(last_message), "%s", message);
}

static uint64_t fake_now_ns(void *cookie)
{
	(void)cookie;
	return fake_now;
}

static const struct dmap_env_ops fake_ops = { .log = fake_log, .now_ns = fake_now_ns };
static const struct dmap_env fake_env = { .ops = &fake_ops };
static const struct dmap_env_ops frozen_ops = { .log = fake_log };
static const struct dmap_env frozen_env = { .ops = &frozen_ops };

Test(format, log_truncates_at_255)
{
	char big[400];

	memset(big, 'z', sizeof(big) - 1);
	big[sizeof(big) - 1] = 0;
	dmap_log(&fake_env, DMAP_LOG_ERR, "dev %s: %s", "nic0", big);
	cr_assert_eq(last_level, DMAP_LOG_ERR);
	cr_assert_eq(strlen(last_message), 255);
	cr_assert_eq(strncmp(last_message, "dev nic0: zzz", 13), 0);
	log_calls = 0;
	dmap_log(NULL, DMAP_LOG_ERR, "nothing");
	cr_assert_eq(log_calls, 0, "NULL env drops the message");
}

Test(format, ratelimit_window)
{
	struct dmap_ratelimit rl = DMAP_RATELIMIT_INIT(1000, 3);
	int ok = 0;

	fake_now = 5000;
	for (int i = 0; i < 10; i++)
		ok += dmap_ratelimit_ok(&fake_env, &rl);
	cr_assert_eq(ok, 3);
	cr_assert_eq(rl.suppressed, 7);
	fake_now += 999;
	cr_assert_not(dmap_ratelimit_ok(&fake_env, &rl), "still in the window");
	fake_now += 1;
	cr_assert(dmap_ratelimit_ok(&fake_env, &rl), "a new window opens");
	cr_assert(dmap_ratelimit_ok(&fake_env, &rl));
	cr_assert(dmap_ratelimit_ok(&fake_env, &rl));
	cr_assert_not(dmap_ratelimit_ok(&fake_env, &rl));
}

Test(format, ratelimit_without_clock)
{
	struct dmap_ratelimit rl = DMAP_RATELIMIT_INIT(1000, 2);
	int ok = 0;

	for (int i = 0; i < 100; i++)
		ok += dmap_ratelimit_ok(&frozen_env, &rl);
	cr_assert_eq(ok, 2, "time stands still: one window forever");
	cr_assert_eq(rl.suppressed, 98);
}

Test(format, names)
{
	cr_assert_str_eq(dmap_dir_name(DMAP_BIDIRECTIONAL), "BIDIRECTIONAL");
	cr_assert_str_eq(dmap_dir_name(DMAP_TO_DEVICE), "TO_DEVICE");
	cr_assert_str_eq(dmap_dir_name(DMAP_FROM_DEVICE), "FROM_DEVICE");
	cr_assert_str_eq(dmap_dir_name(DMAP_NONE), "NONE");
	cr_assert_str_eq(dmap_dir_name((enum dmap_dir)9), "invalid");
	cr_assert_str_eq(dmap_fault_reason_name(DMAP_FAULT_TRANSLATION), "translation");
	cr_assert_str_eq(dmap_fault_reason_name(DMAP_FAULT_PERMISSION), "permission");
	cr_assert_str_eq(dmap_fault_reason_name(DMAP_FAULT_ADDR_SIZE), "address-size");
	cr_assert_str_eq(dmap_fault_reason_name(DMAP_FAULT_NO_MEMORY), "no-memory");
	cr_assert_str_eq(dmap_fault_reason_name((enum dmap_fault_reason)0), "unknown");
	cr_assert_str_eq(dmap_fault_reason_name((enum dmap_fault_reason)99), "unknown");
}

/*
 * Through a real (hosted) environment: the message arrives whole and with
 * its level. (Also links tests/support/test_env.o, which carries the
 * Criterion-under-TSan workaround.)
 */
#include "test_env.h"

Test(format, log_through_hosted_env)
{
	struct dmap_test_env t;

	dmap_test_env_init(&t, 0, 0, false);
	dmap_test_log_clear(&t);
	dmap_log(t.env, DMAP_LOG_WARN, "dmap: %s: phys 0x%llx size 0x%zx", "eth0",
		 (unsigned long long)0x12345000ULL, (size_t)4096);
	cr_assert(dmap_test_log_has(&t, "dmap: eth0: phys 0x12345000 size 0x1000", NULL));
	cr_assert_eq(t.warnings, 1);
	dmap_log(t.env, DMAP_LOG_DEBUG, "quiet");
	cr_assert_eq(t.warnings, 1);
	cr_assert_eq(t.messages, 2);
	dmap_test_env_fini(&t);
}

/*
 * Regression (fuzzer): a width or precision of 10+ digits used to overflow
 * the int it was parsed into (UB, caught by UBSan). dmap now rejects such a
 * directive as glibc does (EOVERFLOW): -1, and the buffer holds what came
 * before it. Widths and precisions that fit an int are still honoured.
 */
Test(format, width_precision_overflow_rejected)
{
	static const char *const fmts[] = {
		"%4294967297d",	 "a%2147483648d",  "ab%.2147483648d", "%99999999999999999999x",
		"%.4294967296s", "x%-4294967297s", "%04294967297p",   "%1.99999999999d",
	};
	char buf[64];

	for (size_t i = 0; i < DMAP_ARRAY_SIZE(fmts); i++) {
		size_t prefix = strcspn(fmts[i], "%");

		memset(buf, 'X', sizeof(buf));
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
		cr_assert_eq(dmap_snprintf(buf, sizeof(buf), fmts[i], 5), -1, "%s", fmts[i]);
#pragma GCC diagnostic pop
		cr_assert_eq(strlen(buf), prefix, "%s left '%s'", fmts[i], buf);
		cr_assert_eq(memcmp(buf, fmts[i], prefix), 0, "%s", fmts[i]);
		/* Same verdict with no buffer at all (a length query). */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
		cr_assert_eq(dmap_snprintf(NULL, 0, fmts[i], 5), -1, "%s", fmts[i]);
#pragma GCC diagnostic pop
	}
	/* The largest value that fits is accepted (and not printed: it is only counted). */
	cr_assert_eq(dmap_snprintf(NULL, 0, "%.2147483646s|", "abc"), 4);
	SAME("[%.2147483647s]", "abc");
	SAME("[%0000000000005d]", 42);
	SAME("[%.0000000000003d]", 7);
	/* glibc agrees on the rejection. */
	SAME("a%2147483648d", 5);
}

/* %p renders as glibc's: '0' pads after "0x", '+'/' ' sign it, NULL is "(nil)". */
Test(format, pointer_flags_like_glibc)
{
	SAME("[%020p]", (void *)0x1234);
	SAME("[%-020p]", (void *)0x1234);
	SAME("[%020.4p]", (void *)0x1234);
	SAME("[%.12p]", (void *)0x1234);
	SAME("[%010p]", (void *)0xdeadbeef);
	SAME("[%08p]", (void *)0x1234);
	SAME("[%2p]", (void *)0x1234);
	SAME("[%+p] [% p] [%0+20p] [% 012p]", (void *)0x12, (void *)0x12, (void *)0x1234,
	     (void *)0x12);
	SAME("[%#020p]", (void *)0x1234);
	SAME("[%020p] [%.2p] [%08p] [%+p] [%-8p]", (void *)0, (void *)0, (void *)0, (void *)0,
	     (void *)0);
}
