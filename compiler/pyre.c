/*
 * pyre.c - Python `re` (3.11, str patterns) to PCRE2 translation, matching,
 * prefix programs and lint predicates.  See pyre.h for the contracts.
 *
 * The translator walks the Python pattern once, mirroring the checks of
 * CPython's Lib/re/_parser.py (messages and offsets included), and emits an
 * equivalent PCRE2 pattern in which every construct is spelled
 * unambiguously: literals are escaped, `{,n}` becomes `{0,n}`, `\Z` becomes
 * `\z`, named groups become plain numbered groups and back references
 * `\g{N}`, `\v` becomes `\x{0b}`, and character classes never contain a raw
 * `[` (PCRE2 would read `[:alpha:]` as a POSIX class).  Verbose mode is
 * handled here (whitespace and comments are dropped), so PCRE2 never sees
 * PCRE2_EXTENDED.
 */
#define PCRE2_CODE_UNIT_WIDTH 8

#include "pyre.h"

#include <pcre2.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "uninames.h"

#define MAX_BRANCHES 64
#define MAX_ELEMS 256
#define MAX_PCRE_REPEAT 65535u

struct fts_pyre {
	pcre2_code *code;
	pcre2_match_data *md;
	pcre2_match_context *mctx;      /* match, depth and heap limits */
	bool jit;
	char *src;
	size_t srclen;
	char *pcre;
	struct fts_pyre_branch *br;
	size_t nbr;
	bool dotall;
	struct fts_pyre_elem *pool;	/* storage of all br[].elem */
	char *dlit;		/* `.*LITERAL`: the literal */
	char *req;		/* a literal every match contains, or NULL */
	size_t reqlen;
	size_t dlitlen;
};

/* ------------------------------------------------------------------------
 * Small character helpers
 */

static bool is_digit(int c) { return c >= '0' && c <= '9'; }
static bool is_odigit(int c) { return c >= '0' && c <= '7'; }
static bool is_alpha(int c) { return (c | 0x20) >= 'a' && (c | 0x20) <= 'z'; }
static bool is_alnum(int c) { return is_alpha(c) || is_digit(c); }
static bool is_word(int c) { return is_alnum(c) || c == '_'; }

static int hexval(int c)
{
	if (is_digit(c))
		return c - '0';
	if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
		return (c | 0x20) - 'a' + 10;
	return -1;
}

static bool is_meta(int c)
{
	return c && strchr(".^$*+?{}[]\\|()", c) != NULL;
}

static bool is_vspace(int c)
{
	/* Python's verbose-mode WHITESPACE */
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

/* Decode one UTF-8 sequence at s[0..n); returns its length, 0 if invalid. */
static size_t utf8_decode(const unsigned char *s, size_t n, uint32_t *cp)
{
	uint32_t c = s[0];
	size_t k, i;

	if (c < 0x80) {
		*cp = c;
		return 1;
	} else if (c >= 0xc2 && c <= 0xdf) {
		k = 2;
		c &= 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		k = 3;
		c &= 0x0f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		k = 4;
		c &= 0x07;
	} else {
		return 0;
	}
	if (n < k)
		return 0;
	for (i = 1; i < k; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = (c << 6) | (s[i] & 0x3f);
	}
	if ((k == 3 && (c < 0x800 || (c >= 0xd800 && c <= 0xdfff))) || (k == 4 && (c < 0x10000 || c > 0x10ffff)))
		return 0;
	*cp = c;
	return k;
}

/* Documented in pyre.h. */
bool fts_utf8_valid(const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0;
	uint32_t cp;

	while (i < n) {
		size_t k;

		if (u[i] < 0x80) {
			i++;
			continue;
		}
		k = utf8_decode(u + i, n - i, &cp);
		if (!k)
			return false;
		i += k;
	}
	return true;
}

/* ------------------------------------------------------------------------
 * Translator
 */

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

static int t_upper(int c)
{
	return c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c;
}

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

/* --- \N{NAME}: unicodedata.lookup ---------------------------------------------- */

/* "CJK UNIFIED IDEOGRAPH-4E00" and its kin: the hex in one of the ranges. */
static bool name_hex(const char *q, const char *prefix, const uint32_t (*r)[2], size_t nr, uint32_t *cp)
{
	size_t pl = strlen(prefix), n = strlen(q);
	if (strncmp(q, prefix, pl) != 0 || (n - pl != 4 && n - pl != 5))
		return false;
	uint32_t v = 0;
	for (size_t k = pl; k < n; k++) {
		int h = q[k] >= '0' && q[k] <= '9' ? q[k] - '0' : q[k] >= 'A' && q[k] <= 'F' ? q[k] - 'A' + 10 : -1;
		if (h < 0)
			return false;
		v = v * 16 + (uint32_t)h;
	}
	for (size_t k = 0; k < nr; k++)
		if (v >= r[k][0] && v <= r[k][1]) {
			*cp = v;
			return true;
		}
	return false;
}

/* The longest of names[0..n) that s starts with (index, or -1); "" matches. */
static int jamo(const char *s, const char *const *names, int n, size_t *len)
{
	int best = -1;
	*len = 0;
	for (int k = 0; k < n; k++) {
		size_t l = strlen(names[k]);
		if (strncmp(s, names[k], l) == 0 && (best < 0 || l > *len)) {
			best = k;
			*len = l;
		}
	}
	return best;
}

static bool hangul(const char *q, uint32_t *cp)
{
	static const char *const L[] = {"G", "GG", "N", "D", "DD", "R", "M", "B", "BB", "S", "SS", "", "J",
					"JJ", "C", "K", "T", "P", "H"};
	static const char *const V[] = {"A", "AE", "YA", "YAE", "EO", "E", "YEO", "YE", "O", "WA", "WAE",
					"OE", "YO", "U", "WEO", "WE", "WI", "YU", "EU", "YI", "I"};
	static const char *const T[] = {"", "G", "GG", "GS", "N", "NJ", "NH", "D", "L", "LG", "LM", "LB",
					"LS", "LT", "LP", "LH", "M", "B", "BS", "S", "SS", "NG", "J", "C",
					"K", "T", "P", "H"};
	static const char prefix[] = "HANGUL SYLLABLE ";
	if (strncmp(q, prefix, sizeof(prefix) - 1) != 0)
		return false;
	const char *s = q + sizeof(prefix) - 1;
	size_t n;
	int l = jamo(s, L, 19, &n);
	s += n;
	int v = jamo(s, V, 21, &n);
	s += n;
	int tt = jamo(s, T, 28, &n);
	s += n;
	if (l < 0 || v < 0 || tt < 0 || *s)
		return false;
	*cp = 0xAC00u + (uint32_t)((l * 21 + v) * 28 + tt);
	return true;
}

/* unicodedata.lookup (case-insensitive), as Python 3.11 has it; see uninames.h
 * for the names ftsc carries. */
static bool uni_lookup(const char *name, size_t n, uint32_t *cp)
{
	static const uint32_t cjk[][2] = {{0x3400, 0x4DBF}, {0x4E00, 0x9FFF}, {0x20000, 0x2A6DF},
					  {0x2A700, 0x2B739}, {0x2B740, 0x2B81D}, {0x2B820, 0x2CEA1},
					  {0x2CEB0, 0x2EBE0}, {0x30000, 0x3134A}};
	static const uint32_t compat[][2] = {{0xF900, 0xFA6D}, {0xFA70, 0xFAD9}, {0x2F800, 0x2FA1D}};
	static const uint32_t tangut[][2] = {{0x17000, 0x187F7}, {0x18D00, 0x18D08}};
	static const uint32_t khitan[][2] = {{0x18B00, 0x18CD5}};
	static const uint32_t nushu[][2] = {{0x1B170, 0x1B2FB}};
	char q[128];
	if (n == 0 || n >= sizeof(q))
		return false;
	for (size_t k = 0; k < n; k++)
		q[k] = (char)(t_upper((unsigned char)name[k]));
	q[n] = '\0';
	if (name_hex(q, "CJK UNIFIED IDEOGRAPH-", cjk, 8, cp) ||
	    name_hex(q, "CJK COMPATIBILITY IDEOGRAPH-", compat, 3, cp) ||
	    name_hex(q, "TANGUT IDEOGRAPH-", tangut, 2, cp) ||
	    name_hex(q, "KHITAN SMALL SCRIPT CHARACTER-", khitan, 1, cp) ||
	    name_hex(q, "NUSHU CHARACTER-", nushu, 1, cp) || hangul(q, cp))
		return true;
	size_t lo = 0, hi = sizeof(uninames) / sizeof(uninames[0]);
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = strcmp(uninames[mid].name, q);
		if (c == 0) {
			*cp = uninames[mid].cp;
			return true;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return false;
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
		if (!uni_lookup(t->p + open, n, cp))
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
		size_t k = utf8_decode((const unsigned char *)t->p + t->i - 1, t->len - t->i + 1, cp);

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
	k = utf8_decode(u + t->i, t->len - t->i, cp);
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
			size_t k = utf8_decode((const unsigned char *)t->p + t->i - 1, t->len - t->i + 1, &cp);

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

/*
 * Is there a valid `{m,n}` quantifier at t->p[i] (Python rules)?  On
 * success fills lo/hi (hi = UINT64_MAX for unbounded) and *endp.
 */
static bool scan_brace(const char *p, size_t len, size_t i, uint64_t *lo, uint64_t *hi, bool *haslo,
		       size_t *endp)
{
	size_t j = i + 1, d0;
	uint64_t a = 0, b = 0;
	bool comma = false, hashi = false;

	if (j < len && p[j] == '}')
		return false;
	d0 = j;
	while (j < len && is_digit(p[j])) {
		if (a < UINT64_MAX / 16)
			a = a * 10 + (uint64_t)(p[j] - '0');
		j++;
	}
	*haslo = j > d0;
	if (j < len && p[j] == ',') {
		comma = true;
		j++;
		d0 = j;
		while (j < len && is_digit(p[j])) {
			if (b < UINT64_MAX / 16)
				b = b * 10 + (uint64_t)(p[j] - '0');
			j++;
		}
		hashi = j > d0;
	}
	if (j >= len || p[j] != '}')
		return false;
	*lo = *haslo ? a : 0;
	*hi = comma ? (hashi ? b : UINT64_MAX) : *lo;
	*endp = j + 1;
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

		scan_brace(t->p, t->len, t->i, &lo, &hi, &haslo, &end);
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

static bool is_flag(int c)
{
	return c && strchr(FLAGCHARS, c) != NULL;
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
	char fl[8];
	size_t nf = 0;

#define FBIT(ch) (1u << (strchr(FLAGCHARS, (ch)) - FLAGCHARS))
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
			if (!is_flag(c))
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
		if (add & FBIT('i'))
			fl[nf++] = 'i';
		if (add & FBIT('m'))
			fl[nf++] = 'm';
		if (add & FBIT('s'))
			fl[nf++] = 's';
		if (nf) {
			t->cur = start;
			emit(t, "(?");
			emitn(t, fl, nf);
			emit(t, ")");
		}
		return true;
	}
	if (c == '-') {
		t->i++;
		if (t->i >= t->len)
			return fail(t, t->i, "missing flag");
		c = (unsigned char)t->p[t->i];
		if (!is_flag(c))
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
			if (!is_flag(c))
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
	if (add & FBIT('i'))
		emit(t, "i");
	if (add & FBIT('m'))
		emit(t, "m");
	if (add & FBIT('s'))
		emit(t, "s");
	if (del & (FBIT('i') | FBIT('m') | FBIT('s'))) {
		emit(t, "-");
		if (del & FBIT('i'))
			emit(t, "i");
		if (del & FBIT('m'))
			emit(t, "m");
		if (del & FBIT('s'))
			emit(t, "s");
	}
	emit(t, ":");
	return true;
#undef FBIT
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
			if (!get_name(t, '>', "group name", &name, &nlen))
				return false;
			if (!is_ident(name, nlen))
				return fail(t, t->i - nlen - 1, "bad character in group name '%.*s'", (int)nlen, name);
			return open_capture(t, start, name, nlen);
		}
		if (t->i < t->len && t->p[t->i] == '=') {
			t->i++;
			if (!get_name(t, ')', "group name", &name, &nlen))
				return false;
			if (!is_ident(name, nlen))
				return fail(t, t->i - nlen - 1, "bad character in group name '%.*s'", (int)nlen, name);
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
	if (is_flag(c) || c == '-') {
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

			if (scan_brace(t->p, t->len, t->i, &lo, &hi, &haslo, &end)) {
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
				size_t k = utf8_decode(u + t->i, t->len - t->i, &cp);

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

/* ------------------------------------------------------------------------
 * Prefix programs: see struct fts_pyre_branch.
 */

struct pb {
	FTS_VEC(struct fts_pyre_elem) e;
	bool stopped;
	enum fts_pyre_tail tail;
};

typedef FTS_VEC(struct pb) pbvec;

struct px {
	const char *p;
	size_t len, i;
	bool dotall;
	bool bad;		/* whole pattern unusable */
};

static void pbvec_free(pbvec *v)
{
	for (size_t k = 0; k < v->n; k++)
		FTS_VEC_FREE(v->v[k].e);
	FTS_VEC_FREE(*v);
}

static void setbit(struct fts_pyre_elem *e, int c) { e->bits[c >> 3] |= (uint8_t)(1u << (c & 7)); }

static void setrange(struct fts_pyre_elem *e, int lo, int hi)
{
	for (int c = lo; c <= hi; c++)
		setbit(e, c);
}

/* ASCII part of a category; non-ASCII chars may match too (multi). */
static void setcat(struct fts_pyre_elem *e, int c)
{
	struct fts_pyre_elem x;
	int k;

	memset(&x, 0, sizeof(x));
	switch (c | 0x20) {
	case 'd':
		setrange(&x, '0', '9');
		break;
	case 'w':
		setrange(&x, '0', '9');
		setrange(&x, 'A', 'Z');
		setrange(&x, 'a', 'z');
		setbit(&x, '_');
		break;
	case 's':
		setrange(&x, 9, 13);
		setrange(&x, 0x1c, 0x20);
		break;
	}
	if (c & 0x20) {
		for (k = 0; k < 16; k++)
			e->bits[k] |= x.bits[k];
	} else {
		for (k = 0; k < 16; k++)
			e->bits[k] |= (uint8_t)~x.bits[k];
	}
	e->multi = true;
}

/* Skip to the end of the current sequence (a top-level `|` or `)` or end). */
static void px_skip_seq(struct px *x)
{
	int depth = 0;

	while (x->i < x->len) {
		char c = x->p[x->i];

		if (c == '\\') {
			x->i += 2;
		} else if (c == '[') {
			x->i++;
			if (x->i < x->len && x->p[x->i] == '^')
				x->i++;
			if (x->i < x->len && x->p[x->i] == ']')
				x->i++;
			while (x->i < x->len && x->p[x->i] != ']')
				x->i += x->p[x->i] == '\\' ? 2 : 1;
			x->i++;
		} else if (c == '(' && x->i + 2 < x->len && x->p[x->i + 1] == '?' && x->p[x->i + 2] == '#') {
			while (x->i < x->len && x->p[x->i] != ')')
				x->i++;
			x->i++;
		} else if (c == '(') {
			depth++;
			x->i++;
		} else if (c == ')' || c == '|') {
			if (!depth)
				return;
			if (c == ')')
				depth--;
			x->i++;
		} else {
			x->i++;
		}
	}
	if (x->i > x->len)
		x->i = x->len;
}

/* A simple class at x->i: fills e; false when unusable. */
static bool px_class(struct px *x, struct fts_pyre_elem *e)
{
	const unsigned char *u = (const unsigned char *)x->p;
	bool neg = false, first = true;
	int k;

	memset(e, 0, sizeof(*e));
	x->i++;
	if (x->i < x->len && u[x->i] == '^') {
		neg = true;
		x->i++;
	}
	for (;;) {
		int lo, hi;

		if (x->i >= x->len)
			return false;
		if (u[x->i] == ']' && !first) {
			x->i++;
			break;
		}
		first = false;
		if (u[x->i] == '\\') {
			int c = x->i + 1 < x->len ? u[x->i + 1] : 0;

			if (strchr("dDwWsS", c) && c) {
				setcat(e, c);
				x->i += 2;
				continue;
			}
			if (c == 'n')
				lo = '\n';
			else if (c == 't')
				lo = '\t';
			else if (c >= 0x20 && c < 0x7f && !is_alnum(c))
				lo = c;
			else
				return false;
			x->i += 2;
		} else if (u[x->i] >= 0x80) {
			return false;
		} else {
			lo = u[x->i++];
		}
		hi = lo;
		if (x->i + 1 < x->len && u[x->i] == '-' && u[x->i + 1] != ']') {
			int c = u[x->i + 1];

			if (c == '\\' || c >= 0x80)
				return false;
			hi = c;
			x->i += 2;
		}
		setrange(e, lo, hi);
	}
	if (neg) {
		for (k = 0; k < 16; k++)
			e->bits[k] = (uint8_t)~e->bits[k];
		e->multi = true;
	}
	if (e->multi)
		memset(e->bits + 16, 0xff, 16);
	return true;
}

static pbvec px_alts(struct px *x, bool top);

/* Concatenate atom alternatives onto cur; false if over the cap. */
static bool px_product(pbvec *cur, const pbvec *atom)
{
	pbvec out = { 0 };
	size_t a, b, live = 0;

	for (a = 0; a < cur->n; a++)
		live += !cur->v[a].stopped;
	if (cur->n - live + live * atom->n > MAX_BRANCHES)
		return false;
	for (a = 0; a < cur->n; a++) {
		struct pb *c = &cur->v[a];

		if (c->stopped) {
			FTS_VEC_PUSH(out, *c);
			c->e.v = NULL;
			continue;
		}
		for (b = 0; b < atom->n; b++) {
			const struct pb *t = &atom->v[b];
			struct pb nb = { { 0 }, t->stopped, FTS_PYRE_TAIL_REGEX };
			size_t k;

			if (c->e.n + t->e.n > MAX_ELEMS) {
				nb.stopped = true;
				for (k = 0; k < c->e.n; k++)
					FTS_VEC_PUSH(nb.e, c->e.v[k]);
			} else {
				for (k = 0; k < c->e.n; k++)
					FTS_VEC_PUSH(nb.e, c->e.v[k]);
				for (k = 0; k < t->e.n; k++)
					FTS_VEC_PUSH(nb.e, t->e.v[k]);
			}
			FTS_VEC_PUSH(out, nb);
		}
	}
	pbvec_free(cur);
	*cur = out;
	return true;
}

static void px_stop_all(pbvec *cur)
{
	for (size_t k = 0; k < cur->n; k++)
		cur->v[k].stopped = true;
}

static bool px_any_live(const pbvec *cur)
{
	for (size_t k = 0; k < cur->n; k++)
		if (!cur->v[k].stopped)
			return true;
	return false;
}

static bool px_all_empty(const pbvec *cur)
{
	for (size_t k = 0; k < cur->n; k++)
		if (cur->v[k].e.n)
			return false;
	return true;
}

static void single(pbvec *atom, const struct fts_pyre_elem *e, size_t n)
{
	struct pb b = { { 0 }, false, FTS_PYRE_TAIL_REGEX };

	for (size_t k = 0; k < n; k++)
		FTS_VEC_PUSH(b.e, e[k]);
	FTS_VEC_PUSH(*atom, b);
}

/*
 * Parse one atom at x->i into alternatives.  Returns 1 on success, 0 when
 * the atom is unusable (x->i unspecified), 2 for a zero-width no-op.
 */
static int px_atom(struct px *x, pbvec *atom, const pbvec *cur, bool top)
{
	const unsigned char *u = (const unsigned char *)x->p;
	struct fts_pyre_elem e[4];
	int c = u[x->i];

	memset(e, 0, sizeof(e));
	switch (c) {
	case '(':
		if (x->i + 2 < x->len && u[x->i + 1] == '?') {
			int c2 = u[x->i + 2];

			if (c2 == '#') {
				px_skip_seq(x);	/* not used: comments are skipped below */
				return 0;
			}
			if (c2 == 'P' && x->i + 3 < x->len && u[x->i + 3] == '<') {
				while (x->i < x->len && u[x->i] != '>')
					x->i++;
				x->i++;
			} else if (c2 == ':') {
				x->i += 3;
			} else if (top && px_all_empty(cur) && is_flag(c2)) {
				/* leading global flags */
				size_t j = x->i + 2;

				while (j < x->len && is_flag(u[j]))
					j++;
				if (j >= x->len || u[j] != ')')
					return 0;
				for (size_t k = x->i + 2; k < j; k++) {
					if (u[k] == 'i' || u[k] == 'x' || u[k] == 'a')
						x->bad = true;
					if (u[k] == 's')
						x->dotall = true;
				}
				x->i = j + 1;
				return 2;
			} else {
				return 0;
			}
		} else {
			x->i++;
		}
		*atom = px_alts(x, false);
		if (x->bad || x->i >= x->len || u[x->i] != ')')
			return 0;
		x->i++;
		return 1;
	case '[':
		if (!px_class(x, &e[0]))
			return 0;
		single(atom, e, 1);
		return 1;
	case '.':
		memset(e[0].bits, 0xff, sizeof(e[0].bits));
		if (!x->dotall)
			e[0].bits['\n' >> 3] &= (uint8_t)~(1u << ('\n' & 7));
		e[0].multi = true;
		x->i++;
		single(atom, e, 1);
		return 1;
	case '^':
		if (!px_all_empty(cur))
			return 0;
		x->i++;
		return 2;
	case '\\': {
		int d = x->i + 1 < x->len ? u[x->i + 1] : 0;

		x->i += 2;
		if (d == 'A' && px_all_empty(cur))
			return 2;
		if (d && strchr("dDwWsS", d)) {
			setcat(&e[0], d);
			memset(e[0].bits + 16, 0xff, 16);
		} else if (d == 'n' || d == 't' || d == 'r' || d == 'f') {
			setbit(&e[0], d == 'n' ? '\n' : d == 't' ? '\t' : d == 'r' ? '\r' : '\f');
		} else if (d >= 0x20 && d < 0x7f && !is_alnum(d)) {
			setbit(&e[0], d);
		} else {
			return 0;
		}
		single(atom, e, 1);
		return 1;
	}
	default:
		if (is_meta(c))
			return 0;
		if (c < 0x80) {
			setbit(&e[0], c);
			x->i++;
			single(atom, e, 1);
		} else {
			uint32_t cp;
			size_t k = utf8_decode(u + x->i, x->len - x->i, &cp);

			if (!k)
				return 0;
			for (size_t j = 0; j < k; j++)
				setbit(&e[j], u[x->i + j]);
			x->i += k;
			single(atom, e, k);
		}
		return 1;
	}
}

/* One sequence (up to `|`, `)` or the end), extending cur. */
static void px_seq(struct px *x, pbvec *cur, bool top)
{
	const unsigned char *u = (const unsigned char *)x->p;

	while (x->i < x->len && u[x->i] != '|' && u[x->i] != ')') {
		pbvec atom = { 0 };
		size_t save = x->i;
		int r;

		if (!px_any_live(cur) || x->bad) {
			px_skip_seq(x);
			return;
		}
		if (u[x->i] == '(' && x->i + 2 < x->len && u[x->i + 1] == '?' && u[x->i + 2] == '#') {
			while (x->i < x->len && u[x->i] != ')')
				x->i++;
			x->i++;
			continue;
		}
		if (top && x->len - x->i == 2 && !memcmp(x->p + x->i, ".*", 2)) {
			for (size_t k = 0; k < cur->n; k++)
				if (!cur->v[k].stopped)
					cur->v[k].tail = FTS_PYRE_TAIL_DOTSTAR;
			x->i = x->len;
			return;
		}
		if (top && x->len - x->i == 3 && !memcmp(x->p + x->i, ".*?", 3)) {
			for (size_t k = 0; k < cur->n; k++)
				if (!cur->v[k].stopped)
					cur->v[k].tail = FTS_PYRE_TAIL_DOTSTAR_LAZY;
			x->i = x->len;
			return;
		}
		r = px_atom(x, &atom, cur, top);
		if (r == 2) {
			pbvec_free(&atom);
			continue;
		}
		if (r == 0) {
			pbvec_free(&atom);
			px_stop_all(cur);
			x->i = save;
			px_skip_seq(x);
			return;
		}
		if (x->i < x->len && (u[x->i] == '*' || u[x->i] == '?' || u[x->i] == '{')) {
			pbvec_free(&atom);
			px_stop_all(cur);
			px_skip_seq(x);
			return;
		}
		if (!px_product(cur, &atom)) {
			pbvec_free(&atom);
			px_stop_all(cur);
			px_skip_seq(x);
			return;
		}
		pbvec_free(&atom);
		if (x->i < x->len && u[x->i] == '+') {
			px_stop_all(cur);
			px_skip_seq(x);
			return;
		}
	}
}

/* Alternatives up to `)` or the end. */
static pbvec px_alts(struct px *x, bool top)
{
	pbvec all = { 0 };

	for (;;) {
		pbvec cur = { 0 };
		struct pb empty = { { 0 }, false, FTS_PYRE_TAIL_REGEX };

		FTS_VEC_PUSH(cur, empty);
		px_seq(x, &cur, top);
		if (all.n + cur.n > MAX_BRANCHES)
			x->bad = true;
		for (size_t k = 0; k < cur.n && !x->bad; k++) {
			FTS_VEC_PUSH(all, cur.v[k]);
			cur.v[k].e.v = NULL;
		}
		pbvec_free(&cur);
		if (x->bad || x->i >= x->len || x->p[x->i] != '|')
			break;
		x->i++;
	}
	return all;
}

static void build_prefix(struct fts_pyre *re)
{
	struct px x = { re->src, re->srclen, 0, false, false };
	pbvec all = px_alts(&x, true);
	size_t k, ne = 0;
	struct fts_pyre_elem *pool;

	if (x.bad || x.i != x.len) {
		pbvec_free(&all);
		return;
	}
	for (k = 0; k < all.n; k++) {
		if (!all.v[k].stopped && all.v[k].tail == FTS_PYRE_TAIL_REGEX)
			all.v[k].tail = FTS_PYRE_TAIL_EMPTY;
		if (all.v[k].stopped)
			all.v[k].tail = FTS_PYRE_TAIL_REGEX;
		ne += all.v[k].e.n;
	}
	re->br = fts_xcalloc(all.n ? all.n : 1, sizeof(*re->br));
	pool = re->pool = fts_xcalloc(ne ? ne : 1, sizeof(*pool));
	re->nbr = all.n;
	re->dotall = x.dotall;
	for (k = 0; k < all.n; k++) {
		if (all.v[k].e.n)
			memcpy(pool, all.v[k].e.v, all.v[k].e.n * sizeof(*pool));
		re->br[k].elem = pool;
		re->br[k].n = (uint32_t)all.v[k].e.n;
		re->br[k].tail = all.v[k].tail;
		pool += all.v[k].e.n;
	}
	pbvec_free(&all);
}

/*
 * `.*` (or `.*?`) followed by literal text, no top-level alternation: every
 * match contains that text.
 */
static void build_required(struct fts_pyre *re)
{
	const char *p = re->src;
	size_t len = re->srclen, i = 2, n = 0;
	struct px x = { p, len, 0, false, false };
	char buf[256];

	if (len < 4 || p[0] != '.' || p[1] != '*')
		return;
	px_skip_seq(&x);
	if (x.i < len)
		return;		/* a top-level `|` */
	if (i < len && p[i] == '?')
		i++;
	while (i < len && n < sizeof(buf)) {
		unsigned char c = (unsigned char)p[i];

		if (c == '\\' && i + 1 < len && (unsigned char)p[i + 1] < 0x80 && !is_alnum(p[i + 1]) &&
		    p[i + 1] >= 0x20) {
			buf[n++] = p[i + 1];
			i += 2;
		} else if (!is_meta(c) && c >= 0x20 && c < 0x80) {
			buf[n++] = (char)c;
			i++;
		} else {
			break;
		}
	}
	if (n && i < len && (p[i] == '?' || p[i] == '*' || p[i] == '{'))
		n--;
	if (n < 2)
		return;
	re->req = fts_xmalloc(n + 1);
	memcpy(re->req, buf, n);
	re->req[n] = '\0';
	re->reqlen = n;
}

/* ------------------------------------------------------------------------
 * Public API
 */

/* Documented in pyre.h. */
struct fts_pyre *fts_pyre_compile(const char *pat, size_t len, char *err, size_t errlen, size_t *erroff)
{
	struct tr t;
	struct fts_pyre *re;
	pcre2_compile_context *cc;
	uint32_t opts;
	int ecode;
	PCRE2_SIZE eoff;

	memset(&t, 0, sizeof(t));
	t.p = pat;
	t.len = len;
	t.err = err;
	t.errlen = errlen;
	FTS_VEC_PUSH(t.closed, false);
	if (!translate(&t)) {
		if (erroff)
			*erroff = t.erroff;
		goto fail;
	}
	FTS_VEC_PUSH(t.out, '\0');
	opts = PCRE2_UTF | PCRE2_NEVER_BACKSLASH_C | PCRE2_ANCHORED | (t.ascii_global ? 0 : PCRE2_UCP);
	cc = pcre2_compile_context_create(NULL);
	if (!cc)
		fts_oom();
	pcre2_set_newline(cc, PCRE2_NEWLINE_LF);
	re = fts_xcalloc(1, sizeof(*re));
	re->code = pcre2_compile((PCRE2_SPTR)t.out.v, t.out.n - 1, opts, &ecode, &eoff, cc);
	pcre2_compile_context_free(cc);
	if (!re->code) {
		PCRE2_UCHAR buf[160];

		if (ecode == 125 || ecode == 136)
			snprintf(err ? err : (char *)buf, err ? errlen : sizeof(buf),
				 "look-behind requires fixed-width pattern");
		else if (err && errlen) {
			pcre2_get_error_message(ecode, buf, sizeof(buf));
			snprintf(err, errlen, "ftsc: %s", (const char *)buf);
		}
		if (erroff)
			*erroff = t.map.n ? t.map.v[eoff < t.map.n ? eoff : t.map.n - 1] : 0;
		free(re);
		goto fail;
	}
	re->jit = pcre2_jit_compile(re->code, PCRE2_JIT_COMPLETE) == 0;
	re->md = pcre2_match_data_create(1, NULL);
	re->mctx = pcre2_match_context_create(NULL);
	if (!re->md || !re->mctx)
		fts_oom();
	/* a catastrophic pattern (nested repetition over a long name) stops at
	 * these instead of running for minutes or taking gigabytes: the caller
	 * reports it as too expensive, never as a verdict */
	pcre2_set_match_limit(re->mctx, FTS_PYRE_MATCH_LIMIT);
	pcre2_set_depth_limit(re->mctx, FTS_PYRE_DEPTH_LIMIT);
	pcre2_set_heap_limit(re->mctx, FTS_PYRE_HEAP_LIMIT_KIB);
	re->src = fts_xmalloc(len + 1);
	memcpy(re->src, pat, len);
	re->src[len] = '\0';
	re->srclen = len;
	re->pcre = t.out.v;
	build_prefix(re);
	if (len > 2 && pat[0] == '.' && pat[1] == '*' && !memchr(pat, '\n', len)) {
		long n = fts_pyre_literal(pat + 2, len - 2, NULL, 0);

		if (n > 0) {
			re->dlit = fts_xmalloc((size_t)n + 1);
			fts_pyre_literal(pat + 2, len - 2, re->dlit, (size_t)n + 1);
			re->dlitlen = (size_t)n;
		}
	}
	build_required(re);
	FTS_VEC_FREE(t.map);
	FTS_VEC_FREE(t.stk);
	FTS_VEC_FREE(t.closed);
	FTS_VEC_FREE(t.names);
	FTS_VEC_FREE(t.conds);
	return re;
fail:
	FTS_VEC_FREE(t.out);
	FTS_VEC_FREE(t.map);
	FTS_VEC_FREE(t.stk);
	FTS_VEC_FREE(t.closed);
	FTS_VEC_FREE(t.names);
	FTS_VEC_FREE(t.conds);
	return NULL;
}

/* Documented in pyre.h. */
int fts_pyre_match_unchecked(const struct fts_pyre *re, const char *s, size_t len, size_t *end)
{
	int rc;

	if (re->jit)
		rc = pcre2_jit_match(re->code, (PCRE2_SPTR)s, len, 0, 0, re->md, re->mctx);
	else
		rc = pcre2_match(re->code, (PCRE2_SPTR)s, len, 0, PCRE2_NO_UTF_CHECK, re->md, re->mctx);
	if (rc == PCRE2_ERROR_JIT_STACKLIMIT)
		/* the JIT's stack: the interpreter uses the heap, within its limit */
		rc = pcre2_match(re->code, (PCRE2_SPTR)s, len, 0, PCRE2_NO_JIT | PCRE2_NO_UTF_CHECK, re->md,
				 re->mctx);
	if (rc == PCRE2_ERROR_NOMATCH || rc == PCRE2_ERROR_PARTIAL)
		return 0;
	if (rc < 0)
		return -1;      /* a limit (or another failure): no verdict */
	if (end)
		*end = pcre2_get_ovector_pointer(re->md)[1];
	return 1;
}

/* Documented in pyre.h. */
int fts_pyre_match(const struct fts_pyre *re, const char *s, size_t len, size_t *end)
{
	if (!fts_utf8_valid(s, len))
		return 0;
	return fts_pyre_match_unchecked(re, s, len, end);
}

/* Documented in pyre.h. */
void fts_pyre_free(struct fts_pyre *re)
{
	if (!re)
		return;
	pcre2_match_data_free(re->md);
	pcre2_match_context_free(re->mctx);
	pcre2_code_free(re->code);
	free(re->pool);
	free(re->br);
	free(re->src);
	free(re->pcre);
	free(re->dlit);
	free(re->req);
	free(re);
}

/* Documented in pyre.h. */
const char *fts_pyre_source(const struct fts_pyre *re, size_t *len)
{
	if (len)
		*len = re->srclen;
	return re->src;
}

/* Documented in pyre.h. */
const char *fts_pyre_translated(const struct fts_pyre *re)
{
	return re->pcre;
}

/* Documented in pyre.h. */
size_t fts_pyre_branches(const struct fts_pyre *re, const struct fts_pyre_branch **out, bool *dotall)
{
	*out = re->br;
	if (dotall)
		*dotall = re->dotall;
	return re->nbr;
}

/* Documented in pyre.h. */
const char *fts_pyre_required(const struct fts_pyre *re, size_t *len)
{
	if (len)
		*len = re->reqlen;
	return re->req;
}

/* Documented in pyre.h. */
const char *fts_pyre_dotstar_literal(const struct fts_pyre *re, size_t *len)
{
	if (len)
		*len = re->dlitlen;
	return re->dlit;
}

/* ------------------------------------------------------------------------
 * Lint helpers
 */

/* Documented in pyre.h. */
long fts_pyre_find_quantified_dot(const char *pat, size_t len, size_t *qlen)
{
	size_t i = 0;

	while (i < len) {
		char c = pat[i];

		if (c == '\\') {
			i += 2;
		} else if (c == '[') {
			i++;
			if (i < len && pat[i] == '^')
				i++;
			if (i < len && pat[i] == ']')
				i++;
			while (i < len && pat[i] != ']')
				i += pat[i] == '\\' ? 2 : 1;
			i++;
		} else if (c == '.' && i + 1 < len && pat[i + 1] == '{') {
			uint64_t lo, hi;
			bool haslo;
			size_t end;

			if (scan_brace(pat, len, i + 1, &lo, &hi, &haslo, &end)) {
				if (qlen)
					*qlen = end - i;
				return (long)i;
			}
			i++;
		} else {
			i++;
		}
	}
	return -1;
}

/* Documented in pyre.h. */
bool fts_pyre_is_plain(const char *pat, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (is_meta((unsigned char)pat[i]))
			return false;
	return true;
}

/* Documented in pyre.h. */
long fts_pyre_literal(const char *pat, size_t len, char *out, size_t outlen)
{
	size_t i, n = 0;

	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)pat[i];

		if (c == '\\') {
			if (i + 1 >= len)
				return -1;
			c = (unsigned char)pat[++i];
			if (c >= 0x80 || is_alnum(c) || c < 0x20)
				return -1;
		} else if (is_meta(c)) {
			return -1;
		}
		if (out && n + 1 < outlen)
			out[n] = (char)c;
		n++;
	}
	if (out && outlen)
		out[n < outlen ? n : outlen - 1] = '\0';
	return (long)n;
}

/* Documented in pyre.h. */
bool fts_pyre_has_wildcard_dot(const char *pat, size_t len)
{
	size_t i = 0;

	while (i < len) {
		char c = pat[i];

		if (c == '\\') {
			i += 2;
		} else if (c == '[') {
			i++;
			if (i < len && pat[i] == '^')
				i++;
			if (i < len && pat[i] == ']')
				i++;
			while (i < len && pat[i] != ']')
				i += pat[i] == '\\' ? 2 : 1;
			i++;
		} else {
			if (c == '.' && i > 0 && i + 1 < len && is_word((unsigned char)pat[i - 1]) &&
			    is_word((unsigned char)pat[i + 1]))
				return true;
			i++;
		}
	}
	return false;
}
