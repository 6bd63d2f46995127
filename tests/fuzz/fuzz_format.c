// SPDX-License-Identifier: MIT
/*
 * tests/fuzz/fuzz_format.c - dmap_vsnprintf() against the C library's
 * vsnprintf().
 *
 * dmap carries its own printf (core is freestanding) and every error message
 * goes through it, so it must agree with the C standard, byte for byte and
 * in its return value, on everything it documents: %d %i %u %x %X %p %s %c
 * %%, the flags '-' and '0', a field width, a precision for %s and the
 * length modifiers hh h l ll z j. It also implements, and is compared on,
 * what C defines around them: integer precision, the '+', ' ' and '#' flags
 * and '*' widths and precisions.
 *
 * The input is a program that builds a format piece by piece. The libc is
 * only a reference where the C standard defines the result, so no call here
 * is one the standard leaves undefined: each conversion gets an argument of
 * its own type (the one liberty: an int read back as unsigned int, which
 * every ABI passes identically). Every format is checked three ways:
 *   - per conversion: a literal prefix plus one conversion with its own
 *     correctly typed argument (and '*' arguments), at several buffer sizes
 *     (0 with a NULL buffer, 1, a truncating size, a roomy one), comparing
 *     the return value, every byte written and a canary past the end;
 *   - whole formats of up to eight conversions that all take an int (hh, h
 *     or no modifier on d i u x X, and c), called with eight int arguments
 *     (surplus arguments are allowed), to check the parser's state across
 *     conversions; the same with long long arguments and ll conversions, and
 *     with strings and %s.
 * Never generated, because C leaves them undefined: '0' with s c p, flags or
 * a width on %%, '#' outside x/X, a precision on c and p, l on c and s.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <dmap/helpers.h>

#include "fuzz_common.h"

#define FMT_MAX 512
#define OUT_MAX 1024

enum arg_type {
	ARG_INT, /* int: d i with hh h or none; c */
	ARG_UINT, /* unsigned int: u x X with hh h or none */
	ARG_LONG,
	ARG_ULONG,
	ARG_LLONG,
	ARG_ULLONG,
	ARG_SIZE, /* z: size_t for u x X, and d i (the signed type of the same width) */
	ARG_SSIZE,
	ARG_INTMAX,
	ARG_UINTMAX,
	ARG_PTR,
	ARG_STR,
	ARG_NONE, /* %% */
};

struct spec {
	char text[64]; /* the conversion specification, '%' included */
	enum arg_type type;
	int star_width, star_precision; /* -1: not used */
	bool has_star_width, has_star_precision;
	uint64_t value; /* integer or pointer value */
	const char *str;
	bool int_only; /* takes an int (usable in the all-int format) */
	bool llong_only; /* takes a long long */
	bool str_only;
};

static const char *const fuzz_strings[] = {
	"",
	"a",
	"dmap",
	"hello, world",
	"0x1234",
	"%d not a conversion",
	"tab\there",
	"a longer string that is well past the usual field widths of a message",
	"\xff\xfe high bytes",
};

static const uint64_t fuzz_values[] = {
	0,
	1,
	9,
	10,
	0x7f,
	0x80,
	0xff,
	0x100,
	0x7fff,
	0x8000,
	0xffff,
	0x7fffffff,
	0x80000000,
	0xffffffff,
	0x100000000ull,
	0x7fffffffffffffffull,
	0x8000000000000000ull,
	0xffffffffffffffffull,
	0xfffffffffffffffeull,
	1234567890123456789ull,
};

static uint64_t pick_value(struct fuzz_input *in)
{
	switch (fuzz_below(in, 3)) {
	case 0:
		return FUZZ_PICK(in, fuzz_values);
	case 1:
		return FUZZ_PICK(in, fuzz_values) - fuzz_below(in, 3);
	default:
		return fuzz_u64(in);
	}
}

/* Append to @s (capacity @cap) a width or precision number, or '*'. */
static void add_number(struct fuzz_input *in, char *s, size_t cap, bool *star, int *star_value,
		       bool zero_flag_ok)
{
	size_t len = strlen(s);
	unsigned int choice = fuzz_below(in, 8);

	if (choice == 0) {
		/* '*': an int argument; negative widths mean '-', negative precisions none. */
		*star = true;
		*star_value = (int)(int8_t)fuzz_u8(in) / 2;
		snprintf(s + len, cap - len, "*");
	} else if (choice == 1 && zero_flag_ok) {
		snprintf(s + len, cap - len, "0%u", fuzz_below(in, 20)); /* leading zero: a flag */
	} else {
		snprintf(s + len, cap - len, "%u", fuzz_below(in, choice == 2 ? 200 : 40));
	}
}

/* Build one conversion specification with its argument. */
static void build_spec(struct fuzz_input *in, struct spec *sp)
{
	static const char convs[] = { 'd', 'i', 'u', 'x', 'X', 'p', 's', 'c', '%' };
	static const char *const lengths[] = { "", "", "hh", "h", "l", "ll", "z", "j" };
	char conv = FUZZ_PICK(in, convs);
	bool is_int = conv == 'd' || conv == 'i' || conv == 'u' || conv == 'x' || conv == 'X';
	bool is_signed = conv == 'd' || conv == 'i';
	const char *length = "";
	char *s = sp->text;
	size_t cap = sizeof(sp->text);
	unsigned int flags;

	memset(sp, 0, sizeof(*sp));
	s[0] = '%';
	if (conv == '%') {
		snprintf(s + 1, cap - 1, "%%");
		sp->type = ARG_NONE;
		sp->int_only = sp->llong_only = sp->str_only = true;
		return;
	}
	/* Flags: '-' and '0' always; '+' and ' ' for signed, '#' for x/X. */
	flags = fuzz_u8(in);
	if (flags & 1)
		strcat(s, "-");
	if ((flags & 2) && (is_int))
		strcat(s, "0");
	if ((flags & 4) && is_signed)
		strcat(s, "+");
	if ((flags & 8) && is_signed)
		strcat(s, " ");
	if ((flags & 16) && (conv == 'x' || conv == 'X'))
		strcat(s, "#");
	if ((flags & 32) && (flags & 1))
		strcat(s, "-"); /* repeated flags are allowed */
	if (flags & 64)
		add_number(in, s, cap, &sp->has_star_width, &sp->star_width, is_int);
	if ((flags & 128) && (is_int || conv == 's')) {
		strcat(s, ".");
		if (fuzz_below(in, 4))
			add_number(in, s, cap, &sp->has_star_precision, &sp->star_precision, true);
		/* "." alone: precision 0 */
	}
	if (is_int)
		length = FUZZ_PICK(in, lengths);
	snprintf(s + strlen(s), cap - strlen(s), "%s%c", length, conv);

	sp->value = pick_value(in);
	if (conv == 's') {
		sp->type = ARG_STR;
		sp->str = FUZZ_PICK(in, fuzz_strings);
		sp->str_only = !sp->has_star_width && !sp->has_star_precision;
	} else if (conv == 'p') {
		sp->type = ARG_PTR;
		if (fuzz_below(in, 4) == 0)
			sp->value = 0; /* "(nil)" */
	} else if (conv == 'c') {
		sp->type = ARG_INT;
		sp->value = fuzz_below(in, 4) ? 0x20 + fuzz_below(in, 0x5f) : fuzz_u8(in);
		sp->int_only = !sp->has_star_width;
	} else if (!strcmp(length, "l")) {
		sp->type = is_signed ? ARG_LONG : ARG_ULONG;
	} else if (!strcmp(length, "ll")) {
		sp->type = is_signed ? ARG_LLONG : ARG_ULLONG;
		sp->llong_only = !sp->has_star_width && !sp->has_star_precision;
	} else if (!strcmp(length, "z")) {
		sp->type = is_signed ? ARG_SSIZE : ARG_SIZE;
	} else if (!strcmp(length, "j")) {
		sp->type = is_signed ? ARG_INTMAX : ARG_UINTMAX;
	} else {
		sp->type = is_signed ? ARG_INT : ARG_UINT;
		sp->int_only = !sp->has_star_width && !sp->has_star_precision;
	}
}

/* Format with both implementations into separate buffers of @size bytes and compare. */
static void compare_va(const char *fmt, size_t size, int null_buf, ...)
{
	char ours[OUT_MAX + 8], theirs[OUT_MAX + 8];
	va_list ap, aq;
	int r_ours, r_theirs;

	memset(ours, 0x5a, sizeof(ours));
	memset(theirs, 0x5a, sizeof(theirs));
	va_start(ap, null_buf);
	va_copy(aq, ap);
	/* A NULL buffer (with size 0) must be accepted: it is how callers measure. */
	char *volatile ours_buf = null_buf ? NULL : ours;
	char *volatile theirs_buf = null_buf ? NULL : theirs;

	r_ours = dmap_vsnprintf(ours_buf, size, fmt, ap);
	r_theirs = vsnprintf(theirs_buf, size, fmt, aq);
	va_end(aq);
	va_end(ap);
	FUZZ_CHECK(r_ours == r_theirs, "format \"%s\" size %zu: dmap returned %d, libc %d", fmt,
		   size, r_ours, r_theirs);
	if (null_buf)
		return;
	/* Everything written (and the canary after the buffer) must match. */
	FUZZ_CHECK(memcmp(ours, theirs, size + 8) == 0,
		   "format \"%s\" size %zu: dmap wrote \"%.*s\", libc \"%.*s\"", fmt, size,
		   (int)size, ours, (int)size, theirs);
}

static void compare_one(const char *fmt, const struct spec *sp, size_t size, bool null_buf)
{
	/* The '*' arguments come first, then the value, each with its exact type. */
#define CALL(v)                                                                                 \
	do {                                                                                    \
		if (sp->has_star_width && sp->has_star_precision)                               \
			compare_va(fmt, size, null_buf, sp->star_width, sp->star_precision, v); \
		else if (sp->has_star_width)                                                    \
			compare_va(fmt, size, null_buf, sp->star_width, v);                     \
		else if (sp->has_star_precision)                                                \
			compare_va(fmt, size, null_buf, sp->star_precision, v);                 \
		else                                                                            \
			compare_va(fmt, size, null_buf, v);                                     \
	} while (0)

	switch (sp->type) {
	case ARG_INT:
		CALL((int)sp->value);
		break;
	case ARG_UINT:
		CALL((unsigned int)sp->value);
		break;
	case ARG_LONG:
		CALL((long)sp->value);
		break;
	case ARG_ULONG:
		CALL((unsigned long)sp->value);
		break;
	case ARG_LLONG:
		CALL((long long)sp->value);
		break;
	case ARG_ULLONG:
		CALL((unsigned long long)sp->value);
		break;
	case ARG_SIZE:
		CALL((size_t)sp->value);
		break;
	case ARG_SSIZE:
		/* %zd reads the signed type of size_t's width: ptrdiff_t on every dmap target. */
		CALL((ptrdiff_t)sp->value);
		break;
	case ARG_INTMAX:
		CALL((intmax_t)sp->value);
		break;
	case ARG_UINTMAX:
		CALL((uintmax_t)sp->value);
		break;
	case ARG_PTR:
		CALL((void *)(uintptr_t)sp->value);
		break;
	case ARG_STR:
		CALL(sp->str);
		break;
	case ARG_NONE:
		compare_va(fmt, size, null_buf, 0);
		break;
	}
#undef CALL
}

/* Literal text without '%' (C leaves nothing about it to the implementation). */
static void add_literal(struct fuzz_input *in, char *fmt, size_t cap)
{
	size_t len = strlen(fmt);
	unsigned int n = fuzz_below(in, 12);

	while (n-- && len + 1 < cap) {
		char c = (char)fuzz_u8(in);

		if (c == '%' || c == '\0')
			c = '_';
		fmt[len++] = c;
	}
	fmt[len] = '\0';
}

static size_t pick_size(struct fuzz_input *in, bool *null_buf)
{
	*null_buf = false;
	switch (fuzz_below(in, 6)) {
	case 0:
		*null_buf = fuzz_bool(in);
		return 0;
	case 1:
		return 1;
	case 2:
	case 3:
		return 1 + fuzz_below(in, 64);
	default:
		return OUT_MAX;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_input in;
	char fmt_int[FMT_MAX] = "", fmt_ll[FMT_MAX] = "", fmt_str[FMT_MAX] = "";
	int ints[8];
	long long llongs[8];
	const char *strs[8];
	unsigned int n_int = 0, n_ll = 0, n_str = 0;
	bool null_buf;

	fuzz_input_init(&in, data, size);
	for (unsigned int i = 0; i < 8; i++) {
		ints[i] = (int)pick_value(&in);
		llongs[i] = (long long)pick_value(&in);
		strs[i] = FUZZ_PICK(&in, fuzz_strings);
	}
	for (unsigned int piece = 0; piece < 24 && !fuzz_done(&in); piece++) {
		char fmt[FMT_MAX] = "";
		struct spec sp;
		size_t out_size;

		add_literal(&in, fmt, 32);
		build_spec(&in, &sp);
		strcat(fmt, sp.text);
		if (fuzz_bool(&in))
			add_literal(&in, fmt, sizeof(fmt) - 1);
		out_size = pick_size(&in, &null_buf);
		compare_one(fmt, &sp, out_size, null_buf);
		if (out_size != OUT_MAX)
			compare_one(fmt, &sp, OUT_MAX, false);

		/* Collect the spec into the whole-format checks whose argument type it takes. */
		if (sp.int_only && (sp.type == ARG_NONE || n_int < 8) &&
		    strlen(fmt_int) + strlen(fmt) + 1 < FMT_MAX) {
			strcat(fmt_int, fmt);
			n_int += sp.type != ARG_NONE;
		}
		if (sp.llong_only && (sp.type == ARG_NONE || n_ll < 8) &&
		    strlen(fmt_ll) + strlen(fmt) + 1 < FMT_MAX) {
			strcat(fmt_ll, fmt);
			n_ll += sp.type != ARG_NONE;
		}
		if (sp.str_only && (sp.type == ARG_NONE || n_str < 8) &&
		    strlen(fmt_str) + strlen(fmt) + 1 < FMT_MAX) {
			strcat(fmt_str, fmt);
			n_str += sp.type != ARG_NONE;
		}
	}
	for (unsigned int k = 0; k < 2; k++) {
		size_t out_size = k ? pick_size(&in, &null_buf) : OUT_MAX;

		if (!k)
			null_buf = false;
		compare_va(fmt_int, out_size, null_buf, ints[0], ints[1], ints[2], ints[3], ints[4],
			   ints[5], ints[6], ints[7]);
		compare_va(fmt_ll, out_size, null_buf, llongs[0], llongs[1], llongs[2], llongs[3],
			   llongs[4], llongs[5], llongs[6], llongs[7]);
		compare_va(fmt_str, out_size, null_buf, strs[0], strs[1], strs[2], strs[3], strs[4],
			   strs[5], strs[6], strs[7]);
	}
	return 0;
}
