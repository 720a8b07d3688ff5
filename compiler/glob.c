/*
 * glob.c - glob selectors <-> Python regexes (see glob.h).
 *
 * Stage: front end (glob -> regex, for dsl.c's selectors) and back end
 * (regex -> glob, for dsl_emit.c's params entries).  The two directions
 * are kept side by side so that what one writes the other reads back:
 * fts_dsl_regex_to_glob(fts_dsl_glob_to_regex(g)) == g for the globs the
 * printer writes (tests/unit/check_dsl.c round-trips them).
 */
#include "glob.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "textout.h"

bool fts_dsl_is_glob(const char *text, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (text[i] == '*' || text[i] == '{' || text[i] == '}')
			return true;
	return false;
}

/* [A-Za-z0-9_] */
static bool word_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

/* a character of a name segment: a word character or '-' ('.' separates segments) */
static bool name_char(char ch)
{
	return word_char(ch) || ch == '-';
}

/* --- glob -> regex ----------------------------------------------------------------- */

/* One glob fragment without braces (an alternative, or a run between braces). */
static const char *glob_run(struct fts_out *b, const char *g, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		char ch = g[i];
		if (ch == '*') {
			if (i + 1 < len && g[i + 1] == '*') {
				if (i + 2 < len && g[i + 2] == '*')
					return "'***' is not a pattern: use '*' or '**'";
				fts_out_puts(b, ".*");
				i++;
			} else {
				fts_out_puts(b, "[^.]*");
			}
		} else if (ch == '.') {
			fts_out_puts(b, "\\.");
		} else if (name_char(ch)) {
			fts_out_put(b, &ch, 1);
		} else if (ch == '{' || ch == '}') {
			return "braces cannot nest";
		} else {
			return "a glob holds name characters, '.', '*', '**' and {...} only";
		}
	}
	return NULL;
}

static bool decimal(const char *s, size_t n, int64_t *out)
{
	if (n == 0 || n > 9 || (n > 1 && s[0] == '0'))
		return false;
	int64_t v = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return true;
}

/* {a,b} or {N..M}: appends (?:...) */
static const char *glob_brace(struct fts_out *b, const char *g, size_t len)
{
	const char *dots = NULL;
	for (size_t i = 0; i + 1 < len; i++)
		if (g[i] == '.' && g[i + 1] == '.') {
			dots = g + i;
			break;
		}
	if (dots && !memchr(g, ',', len)) {
		int64_t lo, hi;
		if (!decimal(g, (size_t)(dots - g), &lo)
		    || !decimal(dots + 2, len - (size_t)(dots - g) - 2, &hi))
			return "a range is {N..M} with decimal numbers without leading zeros";
		if (lo > hi)
			return "the range is empty";
		if (hi - lo + 1 > FTS_DSL_MAX_RANGE)
			return "the range holds more than 10000 values";
		fts_out_puts(b, "(?:");
		for (int64_t v = lo; v <= hi; v++) {
			char num[24];
			snprintf(num, sizeof(num), "%s%lld", v == lo ? "" : "|", (long long)v);
			fts_out_puts(b, num);
		}
		fts_out_puts(b, ")");
		return NULL;
	}
	fts_out_puts(b, "(?:");
	size_t start = 0;
	bool first = true;
	for (size_t i = 0; i <= len; i++) {
		if (i < len && g[i] != ',')
			continue;
		if (!first)
			fts_out_puts(b, "|");
		first = false;
		const char *why = glob_run(b, g + start, i - start);
		if (why)
			return why;
		start = i + 1;
	}
	fts_out_puts(b, ")");
	return NULL;
}

const char *fts_dsl_glob_to_regex(struct fts_arena *a, const char *glob, size_t len,
				  const char **why)
{
	*why = NULL;
	if (len == 0) {
		*why = "the pattern is empty";
		return NULL;
	}
	if (!fts_dsl_is_glob(glob, len))
		return fts_arena_strndup(a, glob, len);
	struct fts_out b = {0};
	b.a = a;
	size_t i = 0;
	while (i < len && !*why) {
		if (glob[i] == '{') {
			const char *close = memchr(glob + i, '}', len - i);
			const char *open2 = close ? memchr(glob + i + 1, '{', (size_t)(close - glob) - i - 1) : NULL;
			if (!close || open2) {
				*why = close ? "braces cannot nest" : "unbalanced '{'";
				break;
			}
			*why = glob_brace(&b, glob + i + 1, (size_t)(close - glob) - i - 1);
			i = (size_t)(close - glob) + 1;
			continue;
		}
		size_t j = i;
		while (j < len && glob[j] != '{')
			j++;
		if (memchr(glob + i, '}', j - i)) {
			*why = "unbalanced '}'";
			break;
		}
		/* '*' runs may not straddle a brace: "a*{b}" is fine, "**{" too */
		*why = glob_run(&b, glob + i, j - i);
		i = j;
	}
	if (*why) {
		fts_out_free(&b);
		return NULL;
	}
	fts_out_puts(&b, "\\Z");
	return fts_out_finish(&b, NULL);
}

/* --- regex -> glob ----------------------------------------------------------------- */

struct rg {
	const char *s;                  /* the regex */
	size_t n, i;                    /* length, cursor */
	bool anchored;                  /* ended with \Z */
};

static bool quantifier_at(const struct rg *r, size_t i)
{
	return i < r->n && (r->s[i] == '*' || r->s[i] == '+' || r->s[i] == '?' || r->s[i] == '{');
}

/* append '*' (segment) or '**' (any), merging adjacent stars exactly */
static void star(struct fts_out *o, bool any)
{
	bool end2 = o->n >= 2 && o->p[o->n - 1] == '*' && o->p[o->n - 2] == '*';
	bool end1 = !end2 && o->n >= 1 && o->p[o->n - 1] == '*';
	if (end2)
		return;
	if (end1) {
		if (any)
			fts_out_putc(o, '*');
		return;
	}
	fts_out_puts(o, any ? "**" : "*");
}

static bool all_decimal_range(char **alts, size_t n, long *lo, long *hi)
{
	if (n < 3)
		return false;
	for (size_t k = 0; k < n; k++) {
		const char *s = alts[k];
		size_t len = strlen(s);
		if (len == 0 || len > 9 || (len > 1 && s[0] == '0'))
			return false;
		for (size_t j = 0; j < len; j++)
			if (s[j] < '0' || s[j] > '9')
				return false;
		long v = strtol(s, NULL, 10);
		if (k == 0)
			*lo = v;
		else if (v != *lo + (long)k)
			return false;
		*hi = v;
	}
	return true;
}

static void brace(struct fts_out *o, char **alts, size_t n)
{
	long lo = 0, hi = 0;
	char buf[48];
	if (all_decimal_range(alts, n, &lo, &hi)) {
		snprintf(buf, sizeof(buf), "{%ld..%ld}", lo, hi);
		fts_out_puts(o, buf);
		return;
	}
	fts_out_putc(o, '{');
	for (size_t k = 0; k < n; k++) {
		if (k)
			fts_out_putc(o, ',');
		fts_out_puts(o, alts[k]);
	}
	fts_out_putc(o, '}');
}

static bool rg_seq(struct rg *r, struct fts_out *o, bool in_group);

/* [abc] / [0-9]: a set of name characters */
static bool rg_class(struct rg *r, struct fts_out *o, bool in_group)
{
	bool set[128] = {false};
	size_t i = r->i + 1;
	if (i < r->n && r->s[i] == '^')
		return false;
	while (i < r->n && r->s[i] != ']') {
		char c = r->s[i];
		if (!word_char(c))
			return false;
		if (i + 2 < r->n && r->s[i + 1] == '-' && r->s[i + 2] != ']') {
			char e = r->s[i + 2];
			if (!(c >= '0' && c <= '9' && e >= c && e <= '9'))
				return false;
			for (char k = c; k <= e; k++)
				set[(unsigned char)k] = true;
			i += 3;
			continue;
		}
		set[(unsigned char)c] = true;
		i++;
	}
	if (i >= r->n || i == r->i + 1)
		return false;
	r->i = i + 1;
	if (quantifier_at(r, r->i))
		return false;
	char *alts[128];
	char store[128][2];
	size_t n = 0;
	for (int c = 0; c < 128; c++)
		if (set[c]) {
			store[n][0] = (char)c;
			store[n][1] = '\0';
			alts[n] = store[n];
			n++;
		}
	if (n == 1) {
		fts_out_putc(o, alts[0][0]);
		return true;
	}
	if (in_group)
		return false;
	brace(o, alts, n);
	return true;
}

static bool rg_group(struct rg *r, struct fts_out *o, bool in_group)
{
	if (in_group)
		return false;
	r->i++;
	if (r->i < r->n && r->s[r->i] == '?') {
		if (r->i + 1 < r->n && r->s[r->i + 1] == ':')
			r->i += 2;
		else
			return false;
	}
	struct fts_out alt[64];
	size_t n = 0;
	bool ok = false;
	for (;;) {
		if (n == 64)
			break;
		memset(&alt[n], 0, sizeof(alt[n]));
		fts_out_puts(&alt[n], "");
		n++;
		if (!rg_seq(r, &alt[n - 1], true))
			break;
		if (r->i < r->n && r->s[r->i] == '|') {
			r->i++;
			continue;
		}
		if (r->i < r->n && r->s[r->i] == ')') {
			r->i++;
			ok = !quantifier_at(r, r->i);
		}
		break;
	}
	if (ok) {
		char *alts[64];
		for (size_t k = 0; k < n; k++)
			alts[k] = alt[k].p;
		brace(o, alts, n);
	}
	for (size_t k = 0; k < n; k++)
		fts_out_free(&alt[k]);
	return ok;
}

static bool rg_seq(struct rg *r, struct fts_out *o, bool in_group)
{
	while (r->i < r->n) {
		char c = r->s[r->i];
		if (c == '|' || c == ')')
			return in_group;
		if (c == '\\') {
			if (r->i + 1 >= r->n)
				return false;
			char e = r->s[r->i + 1];
			if (e == 'Z' && !in_group && r->i + 2 == r->n) {
				r->anchored = true;
				r->i += 2;
				return true;
			}
			if (e != '.' && e != '-' && e != '_')
				return false;
			if (quantifier_at(r, r->i + 2))
				return false;
			fts_out_putc(o, e);
			r->i += 2;
		} else if (c == '.') {
			if (r->i + 1 < r->n && r->s[r->i + 1] == '*' && !quantifier_at(r, r->i + 2)) {
				star(o, true);
				r->i += 2;
			} else {
				return false;       /* a lone '.' matches any character */
			}
		} else if (c == '[') {
			if (r->n - r->i >= 5 && memcmp(r->s + r->i, "[^.]*", 5) == 0
			    && !quantifier_at(r, r->i + 5)) {
				star(o, false);
				r->i += 5;
			} else if (!rg_class(r, o, in_group)) {
				return false;
			}
		} else if (c == '(') {
			if (!rg_group(r, o, in_group))
				return false;
		} else if (name_char(c)) {
			if (quantifier_at(r, r->i + 1))
				return false;
			fts_out_putc(o, c);
			r->i++;
		} else {
			return false;
		}
	}
	return !in_group;
}

const char *fts_dsl_regex_to_glob(struct fts_arena *a, const char *re, size_t len)
{
	struct rg r = {re, len, 0, false};
	struct fts_out o = {0};
	o.a = a;
	fts_out_puts(&o, "");
	if (!rg_seq(&r, &o, false) || r.i != r.n) {
		fts_out_free(&o);
		return NULL;
	}
	if (!r.anchored)
		star(&o, true);
	if (!fts_dsl_is_glob(o.p, o.n)) {
		fts_out_free(&o);
		return NULL;
	}
	return fts_out_finish(&o, NULL);
}
