// SPDX-License-Identifier: MIT
/*
 * core/src/format.c - freestanding formatting, logging and rate limiting.
 *
 * Design: core runs where there is no libc (a kernel, firmware), yet every
 * error message must name the device, the address and the size. So core
 * carries its own small vsnprintf: exactly the conversions dmap's messages
 * use (integers in decimal and hex, strings, characters, pointers) with
 * the flags and length modifiers needed to print them portably. It writes
 * through one "emit" helper that counts every character the full output
 * would have had and stores only what fits, which gives C99 snprintf's
 * return value and truncation rules for free, and keeps the code free of
 * any allocation or recursion (it is called from map paths and under RCU).
 *
 * dmap_log() formats into a 256-byte stack buffer and hands the finished
 * line to the environment: the environment decides where it goes (stderr,
 * printk, a UART) and core never needs to know. Messages longer than 255
 * bytes are truncated, never split.
 *
 * The rate limiter is Linux's ratelimit_state made lock-free: a window
 * start, a counter of messages printed in the window, and a compare-and-
 * swap to open a new window. Two threads racing at a window boundary may
 * print one or two messages more than the burst; that is the documented
 * "approximate" and it is what lets the limiter sit on map failure paths
 * that must never block.
 */
#include <dmap/helpers.h>
#include <dmap/fault.h>

size_t dmap_strlcpy(char *dst, const char *src, size_t size)
{
	size_t len = 0;

	if (!src)
		src = "";
	while (src[len])
		len++;
	if (dst && size) {
		size_t n = len < size - 1 ? len : size - 1;

		dmap_memcpy(dst, src, n);
		dst[n] = '\0';
	}
	return len;
}

struct dmap_out {
	char *buf;
	size_t size;
	size_t pos; /* characters the full output has so far */
};

static void dmap_emit(struct dmap_out *out, char c)
{
	if (out->size && out->pos < out->size - 1)
		out->buf[out->pos] = c;
	out->pos++;
}

static void dmap_emit_repeat(struct dmap_out *out, char c, int count)
{
	while (count-- > 0)
		dmap_emit(out, c);
}

#define DMAP_FMT_LEFT (1u << 0) /* '-' */
#define DMAP_FMT_ZERO (1u << 1) /* '0' */
#define DMAP_FMT_PLUS (1u << 2) /* '+' */
#define DMAP_FMT_SPACE (1u << 3) /* ' ' */
#define DMAP_FMT_ALT (1u << 4) /* '#' */

struct dmap_spec {
	unsigned int flags;
	int width;
	int precision; /* -1: none */
};

/*
 * Print an unsigned magnitude with an optional sign/prefix, honouring width,
 * precision (minimum digits) and the '-', '0' flags exactly as C99 does.
 */
static void dmap_emit_number(struct dmap_out *out, const struct dmap_spec *spec, uint64_t value,
			     unsigned int base, bool upper, const char *prefix)
{
	const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
	char tmp[24];
	int ndigits = 0, nprefix = 0, zeros = 0, pad;

	/* C99: precision 0 with value 0 prints no digits. */
	if (!(value == 0 && spec->precision == 0)) {
		do {
			tmp[ndigits++] = digits[value % base];
			value /= base;
		} while (value);
	}
	while (prefix && prefix[nprefix])
		nprefix++;
	if (spec->precision > ndigits)
		zeros = spec->precision - ndigits;
	pad = spec->width - (nprefix + zeros + ndigits);
	if ((spec->flags & DMAP_FMT_ZERO) && !(spec->flags & DMAP_FMT_LEFT) &&
	    spec->precision < 0 && pad > 0) {
		zeros += pad;
		pad = 0;
	}
	if (!(spec->flags & DMAP_FMT_LEFT))
		dmap_emit_repeat(out, ' ', pad);
	for (int i = 0; i < nprefix; i++)
		dmap_emit(out, prefix[i]);
	dmap_emit_repeat(out, '0', zeros);
	while (ndigits)
		dmap_emit(out, tmp[--ndigits]);
	if (spec->flags & DMAP_FMT_LEFT)
		dmap_emit_repeat(out, ' ', pad);
}

static void dmap_emit_string(struct dmap_out *out, const struct dmap_spec *spec, const char *s)
{
	int len = 0, pad;

	if (!s)
		s = "(null)";
	while (s[len] && (spec->precision < 0 || len < spec->precision))
		len++;
	pad = spec->width - len;
	if (!(spec->flags & DMAP_FMT_LEFT))
		dmap_emit_repeat(out, ' ', pad);
	for (int i = 0; i < len; i++)
		dmap_emit(out, s[i]);
	if (spec->flags & DMAP_FMT_LEFT)
		dmap_emit_repeat(out, ' ', pad);
}

enum dmap_length {
	DMAP_LEN_INT,
	DMAP_LEN_CHAR,
	DMAP_LEN_SHORT,
	DMAP_LEN_LONG,
	DMAP_LEN_LLONG,
	DMAP_LEN_SIZE,
	DMAP_LEN_MAX
};

static uint64_t dmap_arg_unsigned(va_list *ap, enum dmap_length length)
{
	switch (length) {
	case DMAP_LEN_CHAR:
		return (unsigned char)va_arg(*ap, unsigned int);
	case DMAP_LEN_SHORT:
		return (unsigned short)va_arg(*ap, unsigned int);
	case DMAP_LEN_LONG:
		return va_arg(*ap, unsigned long);
	case DMAP_LEN_LLONG:
		return va_arg(*ap, unsigned long long);
	case DMAP_LEN_SIZE:
		return va_arg(*ap, size_t);
	case DMAP_LEN_MAX:
		return va_arg(*ap, uintmax_t);
	default:
		return va_arg(*ap, unsigned int);
	}
}

static int64_t dmap_arg_signed(va_list *ap, enum dmap_length length)
{
	switch (length) {
	case DMAP_LEN_CHAR:
		return (signed char)va_arg(*ap, int);
	case DMAP_LEN_SHORT:
		return (short)va_arg(*ap, int);
	case DMAP_LEN_LONG:
		return va_arg(*ap, long);
	case DMAP_LEN_LLONG:
		return va_arg(*ap, long long);
	case DMAP_LEN_SIZE:
		/* %zd: the signed type of size_t's width. */
		return (int64_t)(ptrdiff_t)va_arg(*ap, size_t);
	case DMAP_LEN_MAX:
		return va_arg(*ap, intmax_t);
	default:
		return va_arg(*ap, int);
	}
}

#define DMAP_FMT_INT_MAX 0x7fffffff

/*
 * Read a decimal field width or precision at *@fmt into *@value, advancing
 * *@fmt past the digits. Returns false, with nothing consumed past the
 * offending digit, when the number does not fit an int: C leaves that
 * undefined and glibc fails the call with EOVERFLOW, which is what the
 * caller does. The check comes before the multiplication, so no
 * intermediate value ever overflows.
 */
static bool dmap_parse_count(const char **fmt, int *value)
{
	const char *p = *fmt;
	int v = 0;

	while (*p >= '0' && *p <= '9') {
		int digit = *p - '0';

		if (v > (DMAP_FMT_INT_MAX - digit) / 10)
			return false;
		v = v * 10 + digit;
		p++;
	}
	*fmt = p;
	*value = v;
	return true;
}

/**
 * dmap_vsnprintf() - see <dmap/helpers.h>.
 *
 * Context: any; never sleeps, no allocation, no recursion. Returns the
 * length the full output would have had (capped at INT_MAX), or -1 when a
 * field width or precision written in @fmt does not fit an int (as glibc,
 * which fails with EOVERFLOW); @buf then holds, terminated, what was
 * formatted before that directive. Widths and precisions that do fit are
 * honoured exactly, however large.
 */
int dmap_vsnprintf(char *buf, size_t size, const char *fmt, va_list ap_in)
{
	struct dmap_out out = { .buf = buf, .size = buf ? size : 0 };
	va_list ap;

	va_copy(ap, ap_in);
	while (fmt && *fmt) {
		struct dmap_spec spec = { .precision = -1 };
		enum dmap_length length = DMAP_LEN_INT;
		char conv;

		if (*fmt != '%') {
			dmap_emit(&out, *fmt++);
			continue;
		}
		fmt++;
		for (;; fmt++) {
			if (*fmt == '-')
				spec.flags |= DMAP_FMT_LEFT;
			else if (*fmt == '0')
				spec.flags |= DMAP_FMT_ZERO;
			else if (*fmt == '+')
				spec.flags |= DMAP_FMT_PLUS;
			else if (*fmt == ' ')
				spec.flags |= DMAP_FMT_SPACE;
			else if (*fmt == '#')
				spec.flags |= DMAP_FMT_ALT;
			else
				break;
		}
		if (*fmt == '*') {
			spec.width = va_arg(ap, int);
			if (spec.width < 0) {
				spec.flags |= DMAP_FMT_LEFT;
				spec.width = spec.width == -2147483647 - 1 ? 0 : -spec.width;
			}
			fmt++;
		} else if (!dmap_parse_count(&fmt, &spec.width)) {
			goto overflow;
		}
		if (*fmt == '.') {
			fmt++;
			spec.precision = 0;
			if (*fmt == '*') {
				spec.precision = va_arg(ap, int);
				if (spec.precision < 0)
					spec.precision = -1;
				fmt++;
			} else if (!dmap_parse_count(&fmt, &spec.precision)) {
				goto overflow;
			}
		}
		switch (*fmt) {
		case 'h':
			length = DMAP_LEN_SHORT;
			if (*++fmt == 'h') {
				length = DMAP_LEN_CHAR;
				fmt++;
			}
			break;
		case 'l':
			length = DMAP_LEN_LONG;
			if (*++fmt == 'l') {
				length = DMAP_LEN_LLONG;
				fmt++;
			}
			break;
		case 'z':
			length = DMAP_LEN_SIZE;
			fmt++;
			break;
		case 'j':
			length = DMAP_LEN_MAX;
			fmt++;
			break;
		default:
			break;
		}
		conv = *fmt;
		if (!conv)
			break; /* a lone '%' at the end prints nothing */
		fmt++;
		switch (conv) {
		case 'd':
		case 'i': {
			int64_t v = dmap_arg_signed(&ap, length);
			uint64_t magnitude = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
			const char *sign = v < 0			 ? "-" :
					   (spec.flags & DMAP_FMT_PLUS)	 ? "+" :
					   (spec.flags & DMAP_FMT_SPACE) ? " " :
									   "";

			dmap_emit_number(&out, &spec, magnitude, 10, false, sign);
			break;
		}
		case 'u':
			dmap_emit_number(&out, &spec, dmap_arg_unsigned(&ap, length), 10, false,
					 "");
			break;
		case 'x':
		case 'X': {
			uint64_t v = dmap_arg_unsigned(&ap, length);
			const char *prefix = "";

			if ((spec.flags & DMAP_FMT_ALT) && v)
				prefix = conv == 'x' ? "0x" : "0X";
			dmap_emit_number(&out, &spec, v, 16, conv == 'X', prefix);
			break;
		}
		case 'p': {
			/*
			 * glibc's rendering, so messages read the same hosted and
			 * bare: "%#lx" with the flags given ('0' pads after the
			 * "0x", '+' and ' ' put a sign before it, as glibc does),
			 * and NULL as "(nil)" padded with spaces, never cut by a
			 * precision.
			 */
			uintptr_t v = (uintptr_t)va_arg(ap, void *);

			if (!v) {
				spec.precision = -1;
				dmap_emit_string(&out, &spec, "(nil)");
			} else {
				const char *prefix = (spec.flags & DMAP_FMT_PLUS)  ? "+0x" :
						     (spec.flags & DMAP_FMT_SPACE) ? " 0x" :
										     "0x";

				dmap_emit_number(&out, &spec, v, 16, false, prefix);
			}
			break;
		}
		case 's':
			dmap_emit_string(&out, &spec, va_arg(ap, const char *));
			break;
		case 'c': {
			char s[2] = { (char)va_arg(ap, int), 0 };
			int pad = spec.width - 1;

			if (!(spec.flags & DMAP_FMT_LEFT))
				dmap_emit_repeat(&out, ' ', pad);
			dmap_emit(&out, s[0]);
			if (spec.flags & DMAP_FMT_LEFT)
				dmap_emit_repeat(&out, ' ', pad);
			break;
		}
		case '%':
			dmap_emit(&out, '%');
			break;
		default:
			/* Unknown conversion: show it rather than guess its argument. */
			dmap_emit(&out, '%');
			dmap_emit(&out, conv);
			break;
		}
	}
	va_end(ap);
	if (out.size)
		out.buf[out.pos < out.size ? out.pos : out.size - 1] = '\0';
	return out.pos > DMAP_FMT_INT_MAX ? DMAP_FMT_INT_MAX : (int)out.pos;
overflow:
	/* glibc's EOVERFLOW: keep what was formatted before the bad directive. */
	va_end(ap);
	if (out.size)
		out.buf[out.pos < out.size ? out.pos : out.size - 1] = '\0';
	return -1;
}

int dmap_snprintf(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;
	int ret;

	va_start(ap, fmt);
	ret = dmap_vsnprintf(buf, size, fmt, ap);
	va_end(ap);
	return ret;
}

void dmap_vlog(const struct dmap_env *env, enum dmap_log_level level, const char *fmt, va_list ap)
{
	char message[256];

	if (!env || !env->ops || !env->ops->log || !fmt)
		return;
	dmap_vsnprintf(message, sizeof(message), fmt, ap);
	env->ops->log(env->cookie, level, message);
}

void dmap_log(const struct dmap_env *env, enum dmap_log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	dmap_vlog(env, level, fmt, ap);
	va_end(ap);
}

bool dmap_ratelimit_ok(const struct dmap_env *env, struct dmap_ratelimit *rl)
{
	uint64_t now, start;

	if (!rl)
		return true;
	if (!rl->burst)
		return true; /* Linux: burst 0 disables limiting */
	now = env ? dmap_env_now_ns(env) : 0;
	start = dmap_load_relaxed(&rl->window_start);
	/* now < start: another thread opened a window with a later clock read. */
	if (now >= start && now - start >= rl->interval_ns && now != start) {
		if (dmap_cmpxchg(&rl->window_start, &start, now))
			dmap_store_relaxed(&rl->printed, 0);
	}
	if (dmap_fetch_add(&rl->printed, 1) < rl->burst)
		return true;
	dmap_atomic_add_relaxed(&rl->suppressed, 1);
	return false;
}

const char *dmap_dir_name(enum dmap_dir dir)
{
	switch (dir) {
	case DMAP_BIDIRECTIONAL:
		return "BIDIRECTIONAL";
	case DMAP_TO_DEVICE:
		return "TO_DEVICE";
	case DMAP_FROM_DEVICE:
		return "FROM_DEVICE";
	case DMAP_NONE:
		return "NONE";
	}
	return "invalid";
}

const char *dmap_fault_reason_name(enum dmap_fault_reason reason)
{
	switch (reason) {
	case DMAP_FAULT_TRANSLATION:
		return "translation";
	case DMAP_FAULT_ADDR_SIZE:
		return "address-size";
	case DMAP_FAULT_ACCESS_FLAG:
		return "access-flag";
	case DMAP_FAULT_PERMISSION:
		return "permission";
	case DMAP_FAULT_BAD_CONFIG:
		return "bad-config";
	case DMAP_FAULT_NO_MEMORY:
		return "no-memory";
	case DMAP_FAULT_NOT_ATTACHED:
		return "not-attached";
	}
	return "unknown";
}
