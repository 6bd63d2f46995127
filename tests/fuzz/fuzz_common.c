// SPDX-License-Identifier: MIT
/*
 * tests/fuzz/fuzz_common.c - the known-issue counter shared by the libFuzzer
 * binaries and the replay driver.
 *
 * A fuzz target that detects a problem already reported (and not yet fixed
 * in the code it tests) calls fuzz_known_issue() instead of FUZZ_CHECK, so
 * that the ctest replay of the checked-in corpus keeps passing and still
 * shows, in its output, how often each open problem was hit. With
 * DMAP_FUZZ_STRICT=1 in the environment every known issue aborts like any
 * other broken invariant (use it to confirm a fix, then delete the call);
 * DMAP_FUZZ_STRICT=<id> does so for that one issue only.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"

#define FUZZ_MAX_ISSUES 32

static struct {
	const char *id;
	unsigned long count;
} fuzz_issues[FUZZ_MAX_ISSUES];

bool fuzz_strict(void)
{
	static int strict = -1;

	if (strict < 0) {
		const char *s = getenv("DMAP_FUZZ_STRICT");

		strict = s && *s && strcmp(s, "0") != 0;
	}
	return strict;
}

/* DMAP_FUZZ_STRICT=1: every known issue aborts; DMAP_FUZZ_STRICT=<id>: only that one. */
static bool fuzz_strict_for(const char *id)
{
	const char *s = getenv("DMAP_FUZZ_STRICT");

	return fuzz_strict() && (strcmp(s, "1") == 0 || strcmp(s, id) == 0);
}

void fuzz_known_issue(const char *id)
{
	unsigned int i;

	if (fuzz_strict_for(id)) {
		fprintf(stderr, "fuzz: known issue '%s' hit with DMAP_FUZZ_STRICT set\n", id);
		abort();
	}
	for (i = 0; i < FUZZ_MAX_ISSUES && fuzz_issues[i].id; i++)
		if (strcmp(fuzz_issues[i].id, id) == 0)
			break;
	if (i == FUZZ_MAX_ISSUES)
		return;
	if (!fuzz_issues[i].id) {
		fuzz_issues[i].id = id;
		fprintf(stderr,
			"fuzz: known issue '%s' (reported, tolerated; see docs/fuzzing.md)\n", id);
	}
	fuzz_issues[i].count++;
}

/* Called by the replay driver at the end; the libFuzzer binaries print nothing more. */
void fuzz_print_known_issues(void);
void fuzz_print_known_issues(void)
{
	for (unsigned int i = 0; i < FUZZ_MAX_ISSUES && fuzz_issues[i].id; i++)
		printf("known issue %-32s hit %lu times\n", fuzz_issues[i].id,
		       fuzz_issues[i].count);
}
