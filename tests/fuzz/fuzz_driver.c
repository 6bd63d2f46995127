// SPDX-License-Identifier: MIT
/*
 * tests/fuzz/fuzz_driver.c - a main() for any fuzz target, so the targets run
 * in every build (gcc, no libFuzzer) and under ctest.
 *
 * Why a replay driver: real coverage-guided fuzzing needs clang and runs for
 * minutes (scripts/fuzz.sh); the invariants must also hold on every commit,
 * in the normal and the sanitizer test passes, in seconds. So each target is
 * linked a second time with this driver, which feeds it
 *   1. every file of the checked-in seed corpus (tests/fuzz/corpus/<target>/):
 *      hand-made programs for the interesting paths plus every input that
 *      once found a bug (kept once the bug is fixed), and
 *   2. N inputs generated from a fixed seed: half plain random bytes, half
 *      mutations (bit flips, byte overwrites, splices, truncations) of the
 *      corpus files, which keeps the generated programs close to meaningful
 *      ones the way libFuzzer's own mutator does.
 * Everything is deterministic (xorshift64*, fixed seed), so a failure in CI
 * reproduces by rerunning the same command.
 *
 * When a target aborts (FUZZ_CHECK) or a sanitizer reports, the driver writes
 * the input it was running to fuzz-failure-<target>.bin in the current
 * directory (DMAP_FUZZ_FAILURE_DIR overrides) and names it on stderr; feed
 * that file back to this binary, or to the libFuzzer binary, to reproduce.
 *
 * Usage: fuzz_replay_<target> [-n COUNT] [-s SEED] [-m MAXLEN] [PATH...]
 *   PATH: a corpus directory or a single input file.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#ifndef __has_feature
#define __has_feature(x) 0
#endif
#if defined(__SANITIZE_ADDRESS__) || __has_feature(address_sanitizer)
#include <sanitizer/common_interface_defs.h>
#define FUZZ_HAVE_SANITIZER 1
#endif

#ifndef FUZZ_TARGET_NAME
#define FUZZ_TARGET_NAME "target"
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
void fuzz_print_known_issues(void);

struct corpus_entry {
	uint8_t *data;
	size_t size;
	char *name;
};

static struct corpus_entry *corpus;
static size_t corpus_count, corpus_cap;

/* The input being run, for the failure hooks. */
static const uint8_t *current_data;
static size_t current_size;
static char current_label[512];

static void write_failure(void)
{
	const char *dir = getenv("DMAP_FUZZ_FAILURE_DIR");
	char path[1024];
	FILE *f;

	if (!current_data && current_size)
		return;
	snprintf(path, sizeof(path), "%s/fuzz-failure-%s.bin", dir && *dir ? dir : ".",
		 FUZZ_TARGET_NAME);
	f = fopen(path, "wb");
	if (f) {
		if (current_size)
			fwrite(current_data, 1, current_size, f);
		fclose(f);
	}
	fprintf(stderr, "fuzz: failing input: %s (%zu bytes), saved to %s\n", current_label,
		current_size, f ? path : "(could not write)");
}

static void on_abort(int sig)
{
	write_failure();
	signal(sig, SIG_DFL);
	raise(sig);
}

#ifdef FUZZ_HAVE_SANITIZER
static void on_sanitizer_death(void)
{
	write_failure();
}
#endif

static uint64_t rng_state;

static uint64_t rng_next(void)
{
	uint64_t x = rng_state;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	rng_state = x;
	return x * 0x2545F4914F6CDD1Dull;
}

static size_t rng_below(size_t n)
{
	return n ? (size_t)(rng_next() % n) : 0;
}

static void corpus_add(uint8_t *data, size_t size, const char *name)
{
	if (corpus_count == corpus_cap) {
		corpus_cap = corpus_cap ? 2 * corpus_cap : 64;
		corpus = realloc(corpus, corpus_cap * sizeof(*corpus));
		if (!corpus) {
			perror("realloc");
			exit(2);
		}
	}
	corpus[corpus_count].data = data;
	corpus[corpus_count].size = size;
	corpus[corpus_count].name = strdup(name);
	corpus_count++;
}

static int load_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	uint8_t *data = NULL;
	size_t size = 0, cap = 0, n;

	if (!f) {
		perror(path);
		return -1;
	}
	for (;;) {
		if (size == cap) {
			cap = cap ? 2 * cap : 4096;
			data = realloc(data, cap);
			if (!data) {
				fclose(f);
				return -1;
			}
		}
		n = fread(data + size, 1, cap - size, f);
		if (!n)
			break;
		size += n;
	}
	fclose(f);
	corpus_add(data, size, path);
	return 0;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int load_path(const char *path)
{
	struct stat st;
	DIR *dir;
	struct dirent *de;
	char **names = NULL;
	size_t count = 0, cap = 0;
	int ret = 0;

	if (stat(path, &st)) {
		perror(path);
		return -1;
	}
	if (!S_ISDIR(st.st_mode))
		return load_file(path);
	dir = opendir(path);
	if (!dir) {
		perror(path);
		return -1;
	}
	while ((de = readdir(dir))) {
		char full[4096];
		struct stat fst;

		if (de->d_name[0] == '.')
			continue;
		snprintf(full, sizeof(full), "%s/%s", path, de->d_name);
		if (stat(full, &fst) || !S_ISREG(fst.st_mode))
			continue;
		if (count == cap) {
			cap = cap ? 2 * cap : 64;
			names = realloc(names, cap * sizeof(*names));
			if (!names) {
				closedir(dir);
				return -1;
			}
		}
		names[count++] = strdup(full);
	}
	closedir(dir);
	/* Sorted, so the order (and so the generated mutations) does not depend on the filesystem. */
	if (count)
		qsort(names, count, sizeof(*names), cmp_names);
	for (size_t i = 0; i < count; i++) {
		if (load_file(names[i]))
			ret = -1;
		free(names[i]);
	}
	free(names);
	return ret;
}

static void run_one(const uint8_t *data, size_t size)
{
	current_data = data;
	current_size = size;
	LLVMFuzzerTestOneInput(data, size);
	current_data = NULL;
	current_size = 0;
}

/* One generated input into @buf (capacity @max); returns its length. */
static size_t generate(uint8_t *buf, size_t max, char *label, size_t label_size, unsigned long i)
{
	size_t len, k;

	if (!corpus_count || rng_below(2) == 0) {
		/* Plain random: mostly short, sometimes up to @max. */
		len = rng_below(4) ? rng_below(max < 256 ? max + 1 : 257) : rng_below(max + 1);
		for (k = 0; k < len; k++)
			buf[k] = (uint8_t)rng_next();
		snprintf(label, label_size, "generated #%lu (random)", i);
		return len;
	}
	/* Mutate a corpus entry. */
	k = rng_below(corpus_count);
	len = corpus[k].size < max ? corpus[k].size : max;
	memcpy(buf, corpus[k].data, len);
	for (unsigned int m = 1 + (unsigned int)rng_below(8); m; m--) {
		switch (rng_below(5)) {
		case 0: /* flip a bit */
			if (len)
				buf[rng_below(len)] ^= (uint8_t)(1u << rng_below(8));
			break;
		case 1: /* overwrite a byte with an interesting value */
			if (len) {
				static const uint8_t vals[] = {
					0, 1, 0x7f, 0x80, 0xff, 0x10, 0x40
				};

				buf[rng_below(len)] = vals[rng_below(sizeof(vals))];
			}
			break;
		case 2: /* truncate */
			len = rng_below(len + 1);
			break;
		case 3: { /* splice in a piece of another entry */
			const struct corpus_entry *o = &corpus[rng_below(corpus_count)];
			size_t at = rng_below(len + 1), from, n;

			if (!o->size)
				break;
			from = rng_below(o->size);
			n = 1 + rng_below(o->size - from);
			if (at + n > max)
				n = max - at;
			memcpy(buf + at, o->data + from, n);
			if (at + n > len)
				len = at + n;
			break;
		}
		default: /* append random bytes */
			for (size_t n = rng_below(16); n && len < max; n--)
				buf[len++] = (uint8_t)rng_next();
			break;
		}
	}
	snprintf(label, label_size, "generated #%lu (mutation of %s)", i, corpus[k].name);
	return len;
}

int main(int argc, char **argv)
{
	unsigned long count = 2000, seed = 0x646d6170; /* "dmap" */
	size_t max_len = 4096;
	struct timespec t0, t1;
	uint8_t *buf;
	int opt;

	while ((opt = getopt(argc, argv, "n:s:m:")) != -1) {
		switch (opt) {
		case 'n':
			count = strtoul(optarg, NULL, 0);
			break;
		case 's':
			seed = strtoul(optarg, NULL, 0);
			break;
		case 'm':
			max_len = strtoul(optarg, NULL, 0);
			break;
		default:
			fprintf(stderr, "usage: %s [-n COUNT] [-s SEED] [-m MAXLEN] [PATH...]\n",
				argv[0]);
			return 2;
		}
	}
	signal(SIGABRT, on_abort);
	signal(SIGSEGV, on_abort);
	signal(SIGBUS, on_abort);
	signal(SIGFPE, on_abort);
#ifdef FUZZ_HAVE_SANITIZER
	__sanitizer_set_death_callback(on_sanitizer_death);
#endif
	for (int i = optind; i < argc; i++)
		if (load_path(argv[i]))
			return 2;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (size_t i = 0; i < corpus_count; i++) {
		snprintf(current_label, sizeof(current_label), "corpus file %s", corpus[i].name);
		run_one(corpus[i].data, corpus[i].size);
	}
	rng_state = seed ? seed : 1;
	buf = malloc(max_len ? max_len : 1);
	if (!buf)
		return 2;
	for (unsigned long i = 0; i < count; i++) {
		size_t len = generate(buf, max_len, current_label, sizeof(current_label), i);

		run_one(buf, len);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("%s: %zu corpus inputs + %lu generated (seed 0x%lx): all invariants held (%.2f s)\n",
	       FUZZ_TARGET_NAME, corpus_count, count, seed,
	       (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
	fuzz_print_known_issues();
	free(buf);
	for (size_t i = 0; i < corpus_count; i++) {
		free(corpus[i].data);
		free(corpus[i].name);
	}
	free(corpus);
	return 0;
}
