/*
 * pyre_translate.c - Python `re` (3.11, str patterns) syntax to PCRE2
 * syntax, with Python's errors.  See pyre_internal.h for the contract.
 *
 * Stage: the first step of fts_pyre_compile() (pyre.c), which compiles
 * what this file writes.  The translator walks the Python pattern once,
 * mirroring the checks of CPython's Lib/re/_parser.py (messages and offsets
 * included), and emits an equivalent PCRE2 pattern in which every
 * construct is spelled unambiguously: literals are escaped, `{,n}` becomes
 * `{0,n}`, `\Z` becomes `\z`, named groups become plain numbered groups and
 * back references `\g{N}`, `\v` becomes `\x{0b}`, and character classes
 * never contain a raw `[` (PCRE2 would read `[:alpha:]` as a POSIX class).
 * Verbose mode is handled here (whitespace and comments are dropped), so
 * PCRE2 never sees PCRE2_EXTENDED.  Every emitted byte remembers the source
 * offset it came from, so that PCRE2's own errors point into the Python
 * pattern.
 */
#include "pyre_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"

#define MAX_PCRE_REPEAT 65535u

static bool is_odigit(int c) { return c >= '0' && c <= '7'; }

static int hexval(int c)
{
	if (is_digit(c))
		return c - '0';
	if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
		return (c | 0x20) - 'a' + 10;
	return -1;
}

static bool is_vspace(int c)
{
	/* Python's verbose-mode WHITESPACE */
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

enum gkind { G_CAP, G_NONCAP, G_LOOK, G_ATOMIC, G_COND, G_SCOPED };
enum lastk { L_NONE, L_AT, L_ITEM, L_REPEAT };

struct grp {
	size_t start;
	enum gkind kind;
	bool verbose, ascii;
	uint32_t gid;
	int nalts;
};

struct gname {
	const char *s;
	size_t len;
	uint32_t gid;
};

struct condref {
	uint32_t g;
	size_t pos;
};

struct tr {
	const char *p;
	size_t len, i;
	FTS_VEC(char) out;
	FTS_VEC(size_t) map;
	FTS_VEC(struct grp) stk;
	FTS_VEC(bool) closed;	/* closed[gid], gid >= 1 */
	FTS_VEC(struct gname) names;
	FTS_VEC(struct condref) conds;
	uint32_t ngroups;
	size_t cur;		/* source offset of the construct being emitted */
	bool verbose, ascii, ascii_global, first;
	enum lastk last;
	char *err;
	size_t errlen, erroff;
};

__attribute__((format(printf, 3, 4)))
static bool fail(struct tr *t, size_t off, const char *fmt, ...)
{
	va_list ap;

	if (t->err && t->errlen) {
		va_start(ap, fmt);
		vsnprintf(t->err, t->errlen, fmt, ap);
		va_end(ap);
	}
	t->erroff = off;
	return false;
}

static void emitn(struct tr *t, const char *s, size_t n)
{
	size_t k;

	for (k = 0; k < n; k++) {
		FTS_VEC_PUSH(t->out, s[k]);
		FTS_VEC_PUSH(t->map, t->cur);
	}
}

static void emit(struct tr *t, const char *s)
{
	emitn(t, s, strlen(s));
}

__attribute__((format(printf, 2, 3)))
static void emitf(struct tr *t, const char *fmt, ...)
{
	char buf[64];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	emitn(t, buf, (size_t)n);
}

/* A literal code point, outside or inside a class (same spelling works). */
static void emit_cp(struct tr *t, uint32_t cp)
{
	char c = (char)cp;

	if (cp >= 0xd800 && cp <= 0xdfff) {
		/* lone surrogates cannot occur in UTF-8 text */
		emit(t, "(?!)");
	} else if (cp < 0x80 && is_alnum((int)cp)) {
		emitn(t, &c, 1);
	} else if (cp > 0x20 && cp < 0x7f) {
		emit(t, "\\");
		emitn(t, &c, 1);
	} else {
		emitf(t, "\\x{%x}", (unsigned)cp);
	}
}

static void set_item(struct tr *t, enum lastk k)
{
	t->last = k;
	t->first = false;
}

/* ASCII-only spellings used inside a scoped (?a:...) of a Unicode pattern. */
static const char *ascii_class(int c, bool in_class)
{
	switch (c) {
	case 'd': return in_class ? "0-9" : "[0-9]";
	case 'D': return in_class ? "\\x{0}-/:-\\x{10ffff}" : "[^0-9]";
	case 'w': return in_class ? "A-Za-z0-9_" : "[A-Za-z0-9_]";
	case 'W': return in_class ? "\\x{0}-/:-@\\[-\\^`\\{-\\x{10ffff}" : "[^A-Za-z0-9_]";
	case 's': return in_class ? "\\t\\n\\x{b}\\f\\r\\x{20}" : "[\\t\\n\\x{b}\\f\\r\\x{20}]";
	case 'S': return in_class ? "\\x{0}-\\x{8}\\x{e}-\\x{1f}!-\\x{10ffff}" : "[^\\t\\n\\x{b}\\f\\r\\x{20}]";
	case 'b': return "(?:(?<=[A-Za-z0-9_])(?![A-Za-z0-9_])|(?<![A-Za-z0-9_])(?=[A-Za-z0-9_]))";
	case 'B': return "(?:(?<=[A-Za-z0-9_])(?=[A-Za-z0-9_])|(?<![A-Za-z0-9_])(?![A-Za-z0-9_]))";
	}
	return NULL;
}

/* Emit one of \d \D \w \W \s \S (\b \B outside classes). */
static void emit_category(struct tr *t, int c, bool in_class)
{
	char buf[3] = { '\\', (char)c, 0 };

	if (t->ascii && !t->ascii_global) {
		emit(t, ascii_class(c, in_class));
	} else if (!t->ascii_global && c == 's') {
		/* Python's str.isspace() also accepts U+001C..U+001F */
		emit(t, in_class ? "\\s\\x{1c}-\\x{1f}" : "[\\s\\x{1c}-\\x{1f}]");
	} else if (!t->ascii_global && c == 'S' && !in_class) {
		emit(t, "[^\\s\\x{1c}-\\x{1f}]");
	} else {
		emit(t, buf);
	}
}

/* Read exactly/up to `max` hex digits for \x \u \U at t->i; -1 if fewer than `need`. */
static long read_hex(struct tr *t, size_t max)
{
	long v = 0;
	size_t k;

	for (k = 0; k < max && t->i < t->len && hexval((unsigned char)t->p[t->i]) >= 0; k++)
		v = v * 16 + hexval((unsigned char)t->p[t->i++]);
	return k == max ? v : -1;
}

/*
 * Escapes shared by classes and the main loop: \x \u \U \N.  t->i points
 * after the letter.  Returns 1 and *cp on success, 0 on error.
 */
static int hex_escape(struct tr *t, size_t start, int c, uint32_t *cp)
{
	size_t need = c == 'x' ? 2 : c == 'u' ? 4 : 8;
	long v;

	if (c == 'N') {
		/* sre_parse: \N{name}, else "missing {" / "missing character name" */
		if (t->i >= t->len || t->p[t->i] != '{')
			return fail(t, t->i, "missing {"), 0;
		size_t open = ++t->i;
		while (t->i < t->len && t->p[t->i] != '}')
			t->i++;
		if (t->i == open)
			return fail(t, open, "missing character name"), 0;
		if (t->i >= t->len)
			return fail(t, open, "missing }, unterminated name"), 0;
		size_t n = t->i - open;
		t->i++;
		if (!pyre_uni_lookup(t->p + open, n, cp))
			return fail(t, start, "undefined character name '%.*s'%s", (int)n, t->p + open,
				    n < 128 ? " (ftsc knows the names of Latin, Greek, Cyrillic, punctuation, "
				    "arrows, math operators and the algorithmic CJK and Hangul names)" : ""), 0;
		return 1;
	}
	v = read_hex(t, need);
	if (v < 0)
		return fail(t, start, "incomplete escape %.*s", (int)(t->i - start), t->p + start), 0;
	if (v > 0x10ffff)
		return fail(t, start, "bad escape %.*s", (int)(t->i - start), t->p + start), 0;
	*cp = (uint32_t)v;
	return 1;
}

/*
 * An escape inside a class.  Returns 0 on error, 1 for a literal (*cp),
 * 2 for a category (*cp = its letter).
 */
static int class_escape(struct tr *t, uint32_t *cp)
{
	size_t start = t->i;
	int c;

	t->i++;
	if (t->i >= t->len)
		return fail(t, start, "bad escape (end of pattern)"), 0;
	c = (unsigned char)t->p[t->i++];
	switch (c) {
	case 'a': *cp = 7; return 1;
	case 'b': *cp = 8; return 1;
	case 'f': *cp = 12; return 1;
	case 'n': *cp = 10; return 1;
	case 'r': *cp = 13; return 1;
	case 't': *cp = 9; return 1;
	case 'v': *cp = 11; return 1;
	case '\\': *cp = '\\'; return 1;
	case 'd': case 'D': case 's': case 'S': case 'w': case 'W':
		*cp = (uint32_t)c;
		return 2;
	case 'x': case 'u': case 'U': case 'N':
		return hex_escape(t, start, c, cp);
	}
	if (is_odigit(c)) {
		uint32_t v = (uint32_t)(c - '0');
		int k;

		for (k = 0; k < 2 && t->i < t->len && is_odigit(t->p[t->i]); k++)
			v = v * 8 + (uint32_t)(t->p[t->i++] - '0');
		if (v > 0377)
			return fail(t, start, "octal escape value %.*s outside of range 0-0o377",
				    (int)(t->i - start), t->p + start), 0;
		*cp = v;
		return 1;
	}
	if (is_alnum(c))
		return fail(t, start, "bad escape \\%c", c), 0;
	if (c >= 0x80) {
		size_t k = pyre_utf8_decode((const unsigned char *)t->p + t->i - 1, t->len - t->i + 1, cp);

		if (!k)
			return fail(t, t->i - 1, "invalid UTF-8 in pattern"), 0;
		t->i += k - 1;
		return 1;
	}
	*cp = (uint32_t)c;
	return 1;
}

/* Read one class item at t->i: 0 error, 1 literal, 2 category. */
static int class_item(struct tr *t, uint32_t *cp)
{
	const unsigned char *u = (const unsigned char *)t->p;
	size_t k;

	if (u[t->i] == '\\')
		return class_escape(t, cp);
	if (u[t->i] < 0x80) {
		*cp = u[t->i++];
		return 1;
	}
	k = pyre_utf8_decode(u + t->i, t->len - t->i, cp);
	if (!k)
		return fail(t, t->i, "invalid UTF-8 in pattern"), 0;
	t->i += k;
	return 1;
}

static void emit_class_cp(struct tr *t, uint32_t cp)
{
	if (cp >= 0xd800 && cp <= 0xdfff)
		return;		/* unmatchable in UTF-8 text */
	emit_cp(t, cp);
}

static bool parse_class(struct tr *t)
{
	size_t here = t->i, nitems = 0, outstart;
	bool negate = false;

	t->cur = here;
	t->i++;
	if (t->i < t->len && t->p[t->i] == '^') {
		negate = true;
		t->i++;
	}
	outstart = t->out.n;
	emit(t, negate ? "[^" : "[");
	for (;;) {
		size_t istart = t->i, tstart, thatstart;
		uint32_t lo, hi;
		int k1, k2;

		if (t->i >= t->len)
			return fail(t, here, "unterminated character set");
		if (t->p[t->i] == ']' && nitems) {
			t->i++;
			break;
		}
		nitems++;
		t->cur = istart;
		tstart = t->i;
		k1 = class_item(t, &lo);
		if (!k1)
			return false;
		if (t->i < t->len && t->p[t->i] == '-') {
			t->i++;
			if (t->i >= t->len)
				return fail(t, here, "unterminated character set");
			if (t->p[t->i] == ']') {
				t->i++;
				if (k1 == 2)
					emit_category(t, (int)lo, true);
				else
					emit_class_cp(t, lo);
				emit(t, "\\-");
				break;
			}
			thatstart = t->i;
			k2 = class_item(t, &hi);
			if (!k2)
				return false;
			if (k1 != 1 || k2 != 1 || hi < lo) {
				int l1 = t->p[tstart] == '\\' ? 2 : (int)(thatstart - 1 - tstart);
				int l2 = t->p[thatstart] == '\\' ? 2 : (int)(t->i - thatstart);

				return fail(t, tstart, "bad character range %.*s-%.*s", l1, t->p + tstart,
					    l2, t->p + thatstart);
			}
			if (lo >= 0xd800 && lo <= 0xdfff)
				lo = 0xe000;
			if (hi >= 0xd800 && hi <= 0xdfff)
				hi = 0xd7ff;
			if (lo <= hi) {
				emit_cp(t, lo);
				emit(t, "-");
				emit_cp(t, hi);
			}
		} else if (k1 == 2) {
			emit_category(t, (int)lo, true);
		} else {
			emit_class_cp(t, lo);
		}
	}
	if (t->out.n == outstart + (negate ? 2 : 1)) {
		/* only surrogates: nothing (or everything) */
		t->out.n = t->map.n = outstart;
		emit(t, negate ? "(?s:.)" : "(?!)");
	} else {
		emit(t, "]");
	}
	set_item(t, L_ITEM);
	return true;
}

/* Escape outside a class; t->i at the backslash. */
static bool parse_escape(struct tr *t)
{
	size_t start = t->i;
	uint32_t cp;
	int c;

	t->cur = start;
	t->i++;
	if (t->i >= t->len)
		return fail(t, start, "bad escape (end of pattern)");
	c = (unsigned char)t->p[t->i++];
	switch (c) {
	case 'A':
		emit(t, "\\A");
		set_item(t, L_AT);
		return true;
	case 'Z':
		emit(t, "\\z");
		set_item(t, L_AT);
		return true;
	case 'b': case 'B':
		if (t->ascii && !t->ascii_global)
			emit(t, ascii_class(c, false));
		else
			emit(t, c == 'b' ? "\\b" : "\\B");
		set_item(t, L_AT);
		return true;
	case 'd': case 'D': case 's': case 'S': case 'w': case 'W':
		emit_category(t, c, false);
		set_item(t, L_ITEM);
		return true;
	case 'a': cp = 7; break;
	case 'f': cp = 12; break;
	case 'n': cp = 10; break;
	case 'r': cp = 13; break;
	case 't': cp = 9; break;
	case 'v': cp = 11; break;
	case '\\': cp = '\\'; break;
	case 'x': case 'u': case 'U': case 'N':
		if (!hex_escape(t, start, c, &cp))
			return false;
		break;
	case '0':
		cp = 0;
		for (int k = 0; k < 2 && t->i < t->len && is_odigit(t->p[t->i]); k++)
			cp = cp * 8 + (uint32_t)(t->p[t->i++] - '0');
		break;
	default:
		if (is_digit(c)) {
			uint32_t g = (uint32_t)(c - '0');

			if (t->i < t->len && is_digit(t->p[t->i])) {
				int c2 = t->p[t->i++];

				if (is_odigit(c) && is_odigit(c2) && t->i < t->len && is_odigit(t->p[t->i])) {
					cp = (uint32_t)((c - '0') * 64 + (c2 - '0') * 8 + (t->p[t->i++] - '0'));
					if (cp > 0377)
						return fail(t, start, "octal escape value %.*s outside of range 0-0o377",
							    (int)(t->i - start), t->p + start);
					break;
				}
				g = g * 10 + (uint32_t)(c2 - '0');
			}
			if (g <= t->ngroups) {
				if (!t->closed.v[g])
					return fail(t, start, "cannot refer to an open group");
				emitf(t, "\\g{%u}", g);
				set_item(t, L_ITEM);
				return true;
			}
			return fail(t, start + 1, "invalid group reference %u", g);
		}
		if (is_alpha(c))
			return fail(t, start, "bad escape \\%c", c);
		if (c >= 0x80) {
			size_t k = pyre_utf8_decode((const unsigned char *)t->p + t->i - 1, t->len - t->i + 1, &cp);

			if (!k)
				return fail(t, t->i - 1, "invalid UTF-8 in pattern");
			t->i += k - 1;
		} else {
			cp = (uint32_t)c;
		}
		break;
	}
	emit_cp(t, cp);
	set_item(t, L_ITEM);
	return true;
}

static bool parse_quant(struct tr *t)
{
	size_t start = t->i;
	char c = t->p[t->i];

	t->cur = start;
	if (t->last == L_NONE || t->last == L_AT)
		return fail(t, start, "nothing to repeat");
	if (t->last == L_REPEAT)
		return fail(t, start, "multiple repeat");
	if (c == '{') {
		uint64_t lo, hi;
		bool haslo;
		size_t end;

		pyre_scan_brace(t->p, t->len, t->i, &lo, &hi, &haslo, &end);
		if (lo >= 0xffffffffu || (hi != UINT64_MAX && hi >= 0xffffffffu))
			return fail(t, start + 1, "the repetition number is too large");
		if (hi != UINT64_MAX && hi < lo)
			return fail(t, start + 1, "min repeat greater than max repeat");
		if (lo > MAX_PCRE_REPEAT || (hi != UINT64_MAX && hi > MAX_PCRE_REPEAT))
			return fail(t, start + 1, "ftsc: repeat counts above %u are not supported", MAX_PCRE_REPEAT);
		if (hi == UINT64_MAX)
			emitf(t, "{%u,}", (unsigned)lo);
		else if (hi == lo)
			emitf(t, "{%u}", (unsigned)lo);
		else
			emitf(t, "{%u,%u}", (unsigned)lo, (unsigned)hi);
		t->i = end;
	} else {
		emitn(t, &c, 1);
		t->i++;
	}
	if (t->i < t->len && (t->p[t->i] == '?' || t->p[t->i] == '+')) {
		t->cur = t->i;
		emitn(t, t->p + t->i, 1);
		t->i++;
	}
	t->last = L_REPEAT;
	return true;
}

static const char FLAGCHARS[] = "aiLmsux";

#define FBIT(ch) (1u << (strchr(FLAGCHARS, (ch)) - FLAGCHARS))
#define FBITS_IMS (FBIT('i') | FBIT('m') | FBIT('s'))

/* Documented in pyre_internal.h. */
bool pyre_is_flag(int c)
{
	return c && strchr(FLAGCHARS, c) != NULL;
}

/* The letters of the flags i, m and s in mask (FBIT bits), which PCRE2
 * spells as Python does. */
static void emit_ims(struct tr *t, unsigned mask)
{
	if (mask & FBIT('i'))
		emit(t, "i");
	if (mask & FBIT('m'))
		emit(t, "m");
	if (mask & FBIT('s'))
		emit(t, "s");
}

/* Read a group name terminated by term, Python getuntil() messages. */
static bool get_name(struct tr *t, char term, const char *what, const char **name, size_t *nlen)
{
	size_t s = t->i;

	for (;;) {
		if (t->i >= t->len) {
			if (t->i == s)
				return fail(t, t->i, "missing %s", what);
			return fail(t, s, "missing %c, unterminated name", term);
		}
		if (t->p[t->i] == term) {
			if (t->i == s)
				return fail(t, t->i, "missing %s", what);
			*name = t->p + s;
			*nlen = t->i - s;
			t->i++;
			return true;
		}
		t->i++;
	}
}

static bool is_ident(const char *s, size_t n)
{
	size_t k;

	if (!n || is_digit(s[0]))
		return false;
	for (k = 0; k < n; k++) {
		unsigned char c = (unsigned char)s[k];

		if (c < 0x80 && !is_word(c))
			return false;
	}
	return true;
}

/* A group name terminated by term, which must be an identifier. */
static bool get_group_name(struct tr *t, char term, const char **name, size_t *nlen)
{
	if (!get_name(t, term, "group name", name, nlen))
		return false;
	if (!is_ident(*name, *nlen))
		return fail(t, t->i - *nlen - 1, "bad character in group name '%.*s'", (int)*nlen, *name);
	return true;
}

static long find_name(struct tr *t, const char *s, size_t n)
{
	size_t k;

	for (k = 0; k < t->names.n; k++)
		if (t->names.v[k].len == n && !memcmp(t->names.v[k].s, s, n))
			return t->names.v[k].gid;
	return -1;
}

static void push_group(struct tr *t, size_t start, enum gkind kind, uint32_t gid)
{
	struct grp g = { start, kind, t->verbose, t->ascii, gid, 0 };

	FTS_VEC_PUSH(t->stk, g);
	t->last = L_NONE;
	t->first = false;
}

/* Inline flags after "(?" (t->i at the first flag char). */
static bool parse_flags(struct tr *t, size_t start)
{
	unsigned add = 0, del = 0;
	int c = (unsigned char)t->p[t->i];

	if (c != '-') {
		for (;;) {
			t->i++;
			if (c == 'L')
				return fail(t, t->i, "bad inline flags: cannot use 'L' flag with a str pattern");
			add |= FBIT(c);
			if ((add & FBIT('a')) && (add & FBIT('u')))
				return fail(t, t->i, "bad inline flags: flags 'a', 'u' and 'L' are incompatible");
			if (t->i >= t->len)
				return fail(t, t->i, "missing -, : or )");
			c = (unsigned char)t->p[t->i];
			if (c == ')' || c == '-' || c == ':')
				break;
			if (!pyre_is_flag(c))
				return fail(t, t->i, is_alpha(c) ? "unknown flag" : "missing -, : or )");
		}
	}
	if (c == ')') {
		t->i++;
		if (t->stk.n || !t->first)
			return fail(t, start, "global flags not at the start of the expression");
		if (add & FBIT('x'))
			t->verbose = true;
		if (add & FBIT('a'))
			t->ascii = t->ascii_global = true;
		if (add & FBITS_IMS) {
			t->cur = start;
			emit(t, "(?");
			emit_ims(t, add);
			emit(t, ")");
		}
		return true;
	}
	if (c == '-') {
		t->i++;
		if (t->i >= t->len)
			return fail(t, t->i, "missing flag");
		c = (unsigned char)t->p[t->i];
		if (!pyre_is_flag(c))
			return fail(t, t->i, is_alpha(c) ? "unknown flag" : "missing flag");
		for (;;) {
			t->i++;
			if (c == 'a' || c == 'u' || c == 'L')
				return fail(t, t->i, "bad inline flags: cannot turn off flags 'a', 'u' and 'L'");
			del |= FBIT(c);
			if (t->i >= t->len)
				return fail(t, t->i, "missing :");
			c = (unsigned char)t->p[t->i];
			if (c == ':')
				break;
			if (!pyre_is_flag(c))
				return fail(t, t->i, is_alpha(c) ? "unknown flag" : "missing :");
		}
	}
	/* c == ':' */
	if (add & del)
		return fail(t, t->i, "bad inline flags: flag turned on and off");
	t->i++;
	if ((add & FBIT('u')) && t->ascii_global)
		return fail(t, start, "ftsc: (?u:...) inside an ASCII pattern is not supported");
	t->cur = start;
	push_group(t, start, G_SCOPED, 0);
	if (add & FBIT('x'))
		t->verbose = true;
	if (del & FBIT('x'))
		t->verbose = false;
	if (add & FBIT('a'))
		t->ascii = true;
	if (add & FBIT('u'))
		t->ascii = false;
	emit(t, "(?");
	emit_ims(t, add);
	if (del & FBITS_IMS) {
		emit(t, "-");
		emit_ims(t, del);
	}
	emit(t, ":");
	return true;
}

static bool open_capture(struct tr *t, size_t start, const char *name, size_t nlen)
{
	uint32_t gid = ++t->ngroups;

	if (name) {
		long old = find_name(t, name, nlen);

		if (old >= 0)
			return fail(t, t->i - nlen - 1, "redefinition of group name '%.*s' as group %u; was group %ld",
				    (int)nlen, name, gid, old);
		struct gname gn = { name, nlen, gid };

		FTS_VEC_PUSH(t->names, gn);
	}
	while (t->closed.n <= gid)
		FTS_VEC_PUSH(t->closed, false);
	t->cur = start;
	emit(t, "(");
	push_group(t, start, G_CAP, gid);
	return true;
}

static bool parse_group(struct tr *t)
{
	size_t start = t->i;
	int c;

	t->cur = start;
	t->i++;
	if (t->i >= t->len || t->p[t->i] != '?')
		return open_capture(t, start, NULL, 0);
	t->i++;
	if (t->i >= t->len)
		return fail(t, t->i, "unexpected end of pattern");
	c = (unsigned char)t->p[t->i++];
	if (c == 'P') {
		const char *name;
		size_t nlen;
		long gid;

		if (t->i < t->len && t->p[t->i] == '<') {
			t->i++;
			if (!get_group_name(t, '>', &name, &nlen))
				return false;
			return open_capture(t, start, name, nlen);
		}
		if (t->i < t->len && t->p[t->i] == '=') {
			t->i++;
			if (!get_group_name(t, ')', &name, &nlen))
				return false;
			gid = find_name(t, name, nlen);
			if (gid < 0)
				return fail(t, t->i - nlen - 1, "unknown group name '%.*s'", (int)nlen, name);
			if (!t->closed.v[gid])
				return fail(t, t->i - nlen - 1, "cannot refer to an open group");
			emitf(t, "\\g{%ld}", gid);
			set_item(t, L_ITEM);
			return true;
		}
		if (t->i >= t->len)
			return fail(t, t->i, "unexpected end of pattern");
		return fail(t, start + 1, "unknown extension ?P%c", t->p[t->i]);
	}
	if (c == ':') {
		emit(t, "(?:");
		push_group(t, start, G_NONCAP, 0);
		return true;
	}
	if (c == '#') {
		for (;;) {
			if (t->i >= t->len)
				return fail(t, start, "missing ), unterminated comment");
			if (t->p[t->i++] == ')')
				return true;
		}
	}
	if (c == '=' || c == '!') {
		emit(t, c == '=' ? "(?=" : "(?!");
		push_group(t, start, G_LOOK, 0);
		return true;
	}
	if (c == '<') {
		if (t->i >= t->len)
			return fail(t, t->i, "unexpected end of pattern");
		c = (unsigned char)t->p[t->i];
		if (c != '=' && c != '!')
			return fail(t, start + 1, "unknown extension ?<%c", c);
		t->i++;
		emit(t, c == '=' ? "(?<=" : "(?<!");
		push_group(t, start, G_LOOK, 0);
		return true;
	}
	if (c == '>') {
		emit(t, "(?>");
		push_group(t, start, G_ATOMIC, 0);
		return true;
	}
	if (c == '(') {
		const char *name;
		size_t nlen;
		long g;

		if (!get_name(t, ')', "group name", &name, &nlen))
			return false;
		if (is_ident(name, nlen)) {
			g = find_name(t, name, nlen);
			if (g < 0)
				return fail(t, t->i - nlen - 1, "unknown group name '%.*s'", (int)nlen, name);
		} else {
			size_t k;

			g = 0;
			for (k = 0; k < nlen; k++) {
				if (!is_digit(name[k]))
					return fail(t, t->i - nlen - 1, "bad character in group name '%.*s'",
						    (int)nlen, name);
				if (g < 100000000)
					g = g * 10 + (name[k] - '0');
			}
			if (!g)
				return fail(t, t->i - nlen - 1, "bad group number");
			struct condref cr = { (uint32_t)g, t->i - nlen - 1 };

			FTS_VEC_PUSH(t->conds, cr);
		}
		emitf(t, "(?(%ld)", g);
		push_group(t, start, G_COND, 0);
		return true;
	}
	if (pyre_is_flag(c) || c == '-') {
		t->i--;
		return parse_flags(t, start);
	}
	return fail(t, start + 1, "unknown extension ?%c", c);
}

static bool close_group(struct tr *t)
{
	struct grp g;

	t->cur = t->i;
	if (!t->stk.n)
		return fail(t, t->i, "unbalanced parenthesis");
	g = t->stk.v[--t->stk.n];
	t->i++;
	t->verbose = g.verbose;
	t->ascii = g.ascii;
	if (g.kind == G_CAP)
		t->closed.v[g.gid] = true;
	emit(t, ")");
	set_item(t, L_ITEM);
	return true;
}

static bool translate(struct tr *t)
{
	const unsigned char *u = (const unsigned char *)t->p;

	t->first = true;
	t->last = L_NONE;
	while (t->i < t->len) {
		int c = u[t->i];
		bool ok = true;

		t->cur = t->i;
		if (t->verbose && is_vspace(c)) {
			t->i++;
			continue;
		}
		if (t->verbose && c == '#') {
			while (t->i < t->len && u[t->i] != '\n')
				t->i++;
			continue;
		}
		switch (c) {
		case '|':
			if (t->stk.n && t->stk.v[t->stk.n - 1].kind == G_COND &&
			    ++t->stk.v[t->stk.n - 1].nalts > 1)
				return fail(t, t->i, "conditional backref with more than two branches");
			emit(t, "|");
			t->i++;
			t->last = L_NONE;
			t->first = false;
			break;
		case '(':
			ok = parse_group(t);
			break;
		case ')':
			ok = close_group(t);
			break;
		case '[':
			ok = parse_class(t);
			break;
		case '.':
			emit(t, ".");
			t->i++;
			set_item(t, L_ITEM);
			break;
		case '^':
		case '$':
			emitn(t, t->p + t->i, 1);
			t->i++;
			set_item(t, L_AT);
			break;
		case '*':
		case '+':
		case '?':
			ok = parse_quant(t);
			break;
		case '{': {
			uint64_t lo, hi;
			bool haslo;
			size_t end;

			if (pyre_scan_brace(t->p, t->len, t->i, &lo, &hi, &haslo, &end)) {
				ok = parse_quant(t);
			} else {
				emit(t, "\\{");
				t->i++;
				set_item(t, L_ITEM);
			}
			break;
		}
		case '\\':
			ok = parse_escape(t);
			break;
		default:
			if (c < 0x80) {
				emit_cp(t, (uint32_t)c);
				t->i++;
			} else {
				uint32_t cp;
				size_t k = pyre_utf8_decode(u + t->i, t->len - t->i, &cp);

				if (!k)
					return fail(t, t->i, "invalid UTF-8 in pattern");
				emitn(t, t->p + t->i, k);
				t->i += k;
			}
			set_item(t, L_ITEM);
			break;
		}
		if (!ok)
			return false;
	}
	if (t->stk.n)
		return fail(t, t->stk.v[t->stk.n - 1].start, "missing ), unterminated subpattern");
	for (size_t k = 0; k < t->conds.n; k++)
		if (t->conds.v[k].g > t->ngroups)
			return fail(t, t->conds.v[k].pos, "invalid group reference %u", t->conds.v[k].g);
	return true;
}

/* Documented in pyre_internal.h. */
bool pyre_translate(const char *pat, size_t len, struct pyre_pcre *out, char *err, size_t errlen,
		    size_t *erroff)
{
	struct tr t;
	bool ok;

	memset(&t, 0, sizeof(t));
	t.p = pat;
	t.len = len;
	t.err = err;
	t.errlen = errlen;
	FTS_VEC_PUSH(t.closed, false);
	ok = translate(&t);
	if (ok) {
		out->len = t.out.n;
		FTS_VEC_PUSH(t.out, '\0');
		out->pat = t.out.v;
		out->map = t.map.v;
		out->ascii = t.ascii_global;
	} else {
		if (erroff)
			*erroff = t.erroff;
		FTS_VEC_FREE(t.out);
		FTS_VEC_FREE(t.map);
	}
	FTS_VEC_FREE(t.stk);
	FTS_VEC_FREE(t.closed);
	FTS_VEC_FREE(t.names);
	FTS_VEC_FREE(t.conds);
	return ok;
}
