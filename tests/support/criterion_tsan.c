// SPDX-License-Identifier: MIT
/*
 * tests/support/criterion_tsan.c - what every Criterion test binary needs to
 * run under ThreadSanitizer. Compiled into each test executable (an
 * INTERFACE source of dmap_test_support), not archived: a binary that never
 * calls into test_env.c would otherwise not link it. Empty without TSan.
 *
 * 1. Criterion cannot start under TSan as packaged (Criterion issue #274):
 *    its BoxFort arena probes random 16 MiB-aligned addresses in
 *    [0x200000000000, 0x600000000000) with rand_r(), gives up after a few
 *    busy ones ("Could not initialize inheritable arena"), and TSan reserves
 *    nearly all of that span for shadow and metadata; the only hole is
 *    0x550000000000-0x568000000000 (GCC 12 libtsan, x86-64), where PIE
 *    binaries load. BoxFort is the only rand_r() caller in a test binary, so
 *    under TSan rand_r() walks the upper part of that hole instead (BoxFort
 *    computes 0x200000000000 + (r & 0x3fffff) * 16 MiB). The seed still
 *    advances, so any other caller keeps getting varying values.
 *
 * 2. Criterion runs each test in a child that leaves through _exit(), so
 *    TSan's end-of-process "exit 66 if anything was reported" never happens
 *    and a racy test would pass. Halting on the first report makes it a
 *    crash, which Criterion and ctest count as a failure.
 */
#if defined(__SANITIZE_THREAD__)

int rand_r(unsigned int *seed);
const char *__tsan_default_options(void);

int rand_r(unsigned int *seed)
{
	static unsigned int probe;
	unsigned int step = __atomic_fetch_add(&probe, 1u, __ATOMIC_RELAXED);

	if (seed)
		*seed = *seed * 1103515245u + 12345u;
	return (int)(0x360000u + ((step * 0x400u) & 0x7fffu));
}

const char *__tsan_default_options(void)
{
	return "halt_on_error=1:second_deadlock_stack=1";
}

#else
/* ISO C forbids an empty translation unit. */
typedef int dmap_criterion_tsan_unused;
#endif
