/*
 * dsl_emit.c - ast.h trees written as the schedule language or as YAML
 * (see dsl_emit.h for the fidelity contract).
 *
 * Stage: back end of `ftsc convert` and `ftsc fmt`.  The DSL writer picks
 * the idiomatic statement (thaw, until epoch, optimizer, lr_scheduler)
 * only when the tree has exactly the shape that statement builds, and
 * falls back to the generic `key: value;` form otherwise, so that any
 * schedule, valid or not, survives the round trip.
 */
#include "dsl_emit.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decl.h"
#include "dsl.h"
#include "expr.h"
#include "yaml_front.h"

/* --- text buffer ----------------------------------------------------------------- */

struct out {
	char *p;                        /* heap text */
	size_t n, cap;
	struct fts_arena *a;
	struct fts_diags *d;
};

static void put(struct out *o, const char *s, size_t n)
{
	if (o->n + n + 1 > o->cap) {
		o->cap = (o->n + n + 1) * 2;
		o->p = fts_xrealloc(o->p, o->cap);
	}
	memcpy(o->p + o->n, s, n);
	o->n += n;
	o->p[o->n] = '\0';
}

static void puts_(struct out *o, const char *s)
{
	put(o, s, strlen(s));
}

static void putc_(struct out *o, char c)
{
	put(o, &c, 1);
}

static void indent(struct out *o, unsigned n, char ch)
{
	for (unsigned i = 0; i < n; i++)
		putc_(o, ch);
}

static char *finish(struct out *o, size_t *len)
{
	char *s = fts_arena_strndup(o->a, o->p ? o->p : "", o->n);
	if (len)
		*len = o->n;
	free(o->p);
	o->p = NULL;
	return s;
}

static void lossy(struct out *o, const struct fts_node *n, const char *what, const char *syntax,
		  const char *as)
{
	fts_diag(o->d, FTS_W_DSL_LOSSY, n ? n->span : FTS_SPAN_NONE, what, syntax, as);
}

/* --- regex -> glob ----------------------------------------------------------------- */

struct rg {
	const char *s;                  /* the regex */
	size_t n, i;                    /* length, cursor */
	bool anchored;                  /* ended with \Z */
};

static bool word_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

static bool quantifier_at(const struct rg *r, size_t i)
{
	return i < r->n && (r->s[i] == '*' || r->s[i] == '+' || r->s[i] == '?' || r->s[i] == '{');
}

/* append '*' (segment) or '**' (any), merging adjacent stars exactly */
static void star(struct out *o, bool any)
{
	bool end2 = o->n >= 2 && o->p[o->n - 1] == '*' && o->p[o->n - 2] == '*';
	bool end1 = !end2 && o->n >= 1 && o->p[o->n - 1] == '*';
	if (end2)
		return;
	if (end1) {
		if (any)
			putc_(o, '*');
		return;
	}
	puts_(o, any ? "**" : "*");
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

static void brace(struct out *o, char **alts, size_t n)
{
	long lo = 0, hi = 0;
	char buf[48];
	if (all_decimal_range(alts, n, &lo, &hi)) {
		snprintf(buf, sizeof(buf), "{%ld..%ld}", lo, hi);
		puts_(o, buf);
		return;
	}
	putc_(o, '{');
	for (size_t k = 0; k < n; k++) {
		if (k)
			putc_(o, ',');
		puts_(o, alts[k]);
	}
	putc_(o, '}');
}

static bool rg_seq(struct rg *r, struct out *o, bool in_group);

/* [abc] / [0-9]: a set of name characters */
static bool rg_class(struct rg *r, struct out *o, bool in_group)
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
		putc_(o, alts[0][0]);
		return true;
	}
	if (in_group)
		return false;
	brace(o, alts, n);
	return true;
}

static bool rg_group(struct rg *r, struct out *o, bool in_group)
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
	struct out alt[64];
	size_t n = 0;
	bool ok = false;
	for (;;) {
		if (n == 64)
			break;
		memset(&alt[n], 0, sizeof(alt[n]));
		puts_(&alt[n], "");
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
		free(alt[k].p);
	return ok;
}

static bool rg_seq(struct rg *r, struct out *o, bool in_group)
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
			putc_(o, e);
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
		} else if (word_char(c) || c == '-') {
			if (quantifier_at(r, r->i + 1))
				return false;
			putc_(o, c);
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
	struct out o = {0};
	o.a = a;
	puts_(&o, "");
	if (!rg_seq(&r, &o, false) || r.i != r.n) {
		free(o.p);
		return NULL;
	}
	if (!r.anchored)
		star(&o, true);
	if (!fts_dsl_is_glob(o.p, o.n)) {
		free(o.p);
		return NULL;
	}
	return finish(&o, NULL);
}

/* --- scalars in the DSL ----------------------------------------------------------------- */

static const char *const keywords[] = {
	"optimizer", "lr_scheduler", "alias", "arg", "const", "check", "state", "id", "doc",
	"raises", "if", "else", "and", "or", "not", "in", "is", "true", "True", "false",
	"False", "none", "None", "phase", "thaw", "until", "epoch", "include", "set", "with",
	"group_lrs", "use_current_lrs", "inf", "nan", "rest", NULL,
};

static bool is_keyword(const char *s, size_t n)
{
	for (const char *const *k = keywords; *k; k++)
		if (strlen(*k) == n && memcmp(*k, s, n) == 0)
			return true;
	return false;
}

static bool identifier(const char *s, size_t n)
{
	if (n == 0 || (s[0] >= '0' && s[0] <= '9'))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!word_char(s[i]))
			return false;
	return true;
}

/* a bare word the DSL reads back as this string */
static bool bare_word(const char *s, size_t n)
{
	return identifier(s, n) && !is_keyword(s, n);
}

static void dsl_string(struct out *o, const char *s, size_t n)
{
	putc_(o, '"');
	for (size_t i = 0; i < n; i++) {
		switch (s[i]) {
		case '"': puts_(o, "\\\""); break;
		case '\\': puts_(o, "\\\\"); break;
		case '\n': puts_(o, "\\n"); break;
		case '\0': puts_(o, "\\0"); break;
		default: putc_(o, s[i]); break;
		}
	}
	putc_(o, '"');
}

/* digits with single '_' between them */
static size_t digits(const char *s, size_t n, size_t i)
{
	size_t j = i;
	if (j >= n || s[j] < '0' || s[j] > '9')
		return i;
	j++;
	while (j < n) {
		if (s[j] >= '0' && s[j] <= '9')
			j++;
		else if (s[j] == '_' && j + 1 < n && s[j + 1] >= '0' && s[j + 1] <= '9')
			j += 2;
		else
			break;
	}
	return j;
}

static void strip_underscores(const char *s, size_t n, char *buf, size_t cap)
{
	size_t o = 0;
	for (size_t i = 0; i < n && o + 1 < cap; i++)
		if (s[i] != '_')
			buf[o++] = s[i];
	buf[o] = '\0';
}

/* Does the DSL lex text as one int literal of value v (sign allowed)? */
static bool dsl_int_ok(const char *s, size_t n, int64_t v)
{
	size_t i = (n && (s[0] == '-' || s[0] == '+')) ? 1 : 0;
	char buf[96];
	if (n - i > 2 && s[i] == '0' && (s[i + 1] == 'x' || s[i + 1] == 'X')) {
		for (size_t j = i + 2; j < n; j++)
			if (!((s[j] >= '0' && s[j] <= '9') || (s[j] >= 'a' && s[j] <= 'f')
			      || (s[j] >= 'A' && s[j] <= 'F')))
				return false;
	} else {
		if (i >= n || (s[i] == '0' && n - i > 1) || digits(s, n, i) != n)
			return false;
	}
	if (n >= sizeof(buf))
		return false;
	strip_underscores(s, n, buf, sizeof(buf));
	char *end;
	long long x = strtoll(buf, &end, 0);
	return *end == '\0' && x == v;
}

/* Does the DSL lex text as one float literal of value v? */
static bool dsl_float_ok(const char *s, size_t n, double v)
{
	size_t i = (n && (s[0] == '-' || s[0] == '+')) ? 1 : 0;
	size_t j = digits(s, n, i);
	bool mant = j > i, dot = false, exp = false;
	if (j < n && s[j] == '.') {
		dot = true;
		size_t k = digits(s, n, j + 1);
		if (!mant && k == j + 1)
			return false;
		mant = true;
		j = k;
	}
	if (!mant)
		return false;
	if (j < n && (s[j] == 'e' || s[j] == 'E')) {
		size_t k = j + 1;
		if (k < n && (s[k] == '-' || s[k] == '+'))
			k++;
		size_t m = digits(s, n, k);
		if (m == k)
			return false;
		exp = true;
		j = m;
	}
	if (j != n || (!dot && !exp))
		return false;
	char buf[128];
	if (n >= sizeof(buf))
		return false;
	strip_underscores(s, n, buf, sizeof(buf));
	return strtod(buf, NULL) == v;
}

/* Python repr of a float with a '.' in the mantissa (YAML 1.1 needs it) */
static void float_canon(double f, char *buf, size_t cap, bool yaml)
{
	if (isnan(f)) {
		snprintf(buf, cap, "%s", yaml ? ".nan" : "nan");
		return;
	}
	if (isinf(f)) {
		snprintf(buf, cap, "%s%s", f < 0 ? "-" : "", yaml ? ".inf" : "inf");
		return;
	}
	char r[64];
	fts_float_repr(f, r, sizeof(r));
	char *e = strchr(r, 'e');
	if (e && !memchr(r, '.', (size_t)(e - r)))
		snprintf(buf, cap, "%.*s.0%s", (int)(e - r), r, e);
	else
		snprintf(buf, cap, "%s", r);
}

static bool soft_name(void *ctx, const char *name)
{
	(void)ctx;
	static const char *const soft[] = {"phase", "thaw", "until", "include", "set", "with",
					   "group_lrs", "use_current_lrs", "rest", NULL};
	for (const char *const *k = soft; *k; k++)
		if (strcmp(*k, name) == 0)
			return true;
	return false;
}

struct names_scan {
	bool epoch;                     /* reads `epoch` */
	bool soft;                      /* reads a schedule-language keyword */
};

static void scan_name(void *ctx, const char *name, struct fts_span sp)
{
	struct names_scan *s = ctx;
	(void)sp;
	if (strcmp(name, "epoch") == 0)
		s->epoch = true;
	if (soft_name(NULL, name))
		s->soft = true;
}

/* A string that reads as a lambda (an expression of epoch), written bare. */
static bool lambda_text(struct fts_arena *a, const char *s, size_t n)
{
	if (n == 0 || n > 4096 || memchr(s, '#', n) || memchr(s, '\n', n) || memchr(s, '{', n)
	    || memchr(s, '\0', n))
		return false;
	struct fts_expr *e = fts_expr_parse(a, FTS_NOFILE, 0, s, n, NULL, NULL);
	if (!e || e->span.start != 0 || e->span.end != n)
		return false;
	switch (e->kind) {
	case FTS_E_CONST: case FTS_E_NAME: case FTS_E_LIST: case FTS_E_TUPLE:
	case FTS_E_NEG: case FTS_E_POS:
		return false;
	default:
		break;
	}
	if (e->parens)
		return false;
	struct names_scan sc = {false, false};
	fts_expr_names(e, scan_name, &sc);
	return sc.epoch && !sc.soft;
}

static void dsl_value(struct out *o, const struct fts_node *n);

static void dsl_scalar(struct out *o, const struct fts_node *n)
{
	char buf[64];
	if (n->tag && strcmp(n->tag, FTS_DSL_REST_TAG) == 0) {
		lossy(o, n, "'rest' outside a thaw statement", "schedule-language", "a string");
		dsl_string(o, n->text, n->len);
		return;
	}
	switch (n->py) {
	case FTS_PY_NONE:
		puts_(o, "none");
		return;
	case FTS_PY_BOOL:
		puts_(o, n->b ? "true" : "false");
		return;
	case FTS_PY_INT:
		if (n->i_big) {
			lossy(o, n, fts_arena_printf(o->a, "integer %s", n->text), "schedule-language",
			      "a string");
			dsl_string(o, n->text, n->len);
		} else if (dsl_int_ok(n->text, n->len, n->i)) {
			put(o, n->text, n->len);
		} else {
			snprintf(buf, sizeof(buf), "%lld", (long long)n->i);
			puts_(o, buf);
		}
		return;
	case FTS_PY_FLOAT:
		if (!isnan(n->f) && dsl_float_ok(n->text, n->len, n->f)) {
			put(o, n->text, n->len);
		} else {
			float_canon(n->f, buf, sizeof(buf), false);
			puts_(o, buf);
		}
		return;
	case FTS_PY_TIMESTAMP:
		lossy(o, n, fts_arena_printf(o->a, "timestamp %s", n->text), "schedule-language",
		      "a string");
		dsl_string(o, n->text, n->len);
		return;
	case FTS_PY_STR:
	default:
		if (bare_word(n->text, n->len) || (n->len == 5 && memcmp(n->text, "epoch", 5) == 0)
		    || lambda_text(o->a, n->text, n->len))
			put(o, n->text, n->len);
		else
			dsl_string(o, n->text, n->len);
		return;
	}
}

static void dsl_value(struct out *o, const struct fts_node *n)
{
	if (!n) {
		puts_(o, "none");
		return;
	}
	switch (n->kind) {
	case FTS_N_SCALAR:
		dsl_scalar(o, n);
		return;
	case FTS_N_SEQ:
		putc_(o, '[');
		for (size_t i = 0; i < n->nitems; i++) {
			if (i)
				puts_(o, ", ");
			dsl_value(o, n->items[i]);
		}
		putc_(o, ']');
		return;
	case FTS_N_MAP:
	default:
		putc_(o, '{');
		for (size_t i = 0; i < n->npairs; i++) {
			if (i)
				puts_(o, ", ");
			const struct fts_node *k = n->pairs[i].key;
			if (k->kind != FTS_N_SCALAR) {
				lossy(o, k, "a non-scalar mapping key", "schedule-language", "a string");
				puts_(o, "\"?\"");
			} else {
				dsl_scalar(o, k);
			}
			puts_(o, ": ");
			dsl_value(o, n->pairs[i].value);
		}
		putc_(o, '}');
		return;
	}
}

/* a key written where the grammar takes NAME or a string */
static bool dsl_key(struct out *o, const struct fts_node *k)
{
	if (k->kind != FTS_N_SCALAR || k->py != FTS_PY_STR || k->tag)
		return false;
	if (bare_word(k->text, k->len))
		put(o, k->text, k->len);
	else
		dsl_string(o, k->text, k->len);
	return true;
}

static bool key_is(const struct fts_node *k, const char *s)
{
	return k->kind == FTS_N_SCALAR && k->py == FTS_PY_STR && !k->tag && strcmp(k->text, s) == 0;
}

static const struct fts_node *mget(const struct fts_node *m, const char *k)
{
	if (!m || m->kind != FTS_N_MAP)
		return NULL;
	for (size_t i = 0; i < m->npairs; i++)
		if (key_is(m->pairs[i].key, k))
			return m->pairs[i].value;
	return NULL;
}

/* class path whose segments the grammar's `dotted` reads */
static bool dotted_ok(const struct fts_node *n)
{
	if (!n || n->kind != FTS_N_SCALAR || n->py != FTS_PY_STR || n->tag || n->len == 0)
		return false;
	const char *s = n->text;
	size_t start = 0;
	for (size_t i = 0; i <= n->len; i++) {
		if (i < n->len && s[i] != '.')
			continue;
		size_t len = i - start;
		if (!identifier(s + start, len))
			return false;
		bool kw_ok = (len == 9 && !memcmp(s + start, "optimizer", 9))
			|| (len == 12 && !memcmp(s + start, "lr_scheduler", 12));
		if (is_keyword(s + start, len) && !kw_ok)
			return false;
		start = i + 1;
	}
	return true;
}

/* {class_path: X, init_args: {...}} in that order, arguments with word keys */
static bool classref_ok(const struct fts_node *m)
{
	if (!m || m->kind != FTS_N_MAP || m->npairs < 1 || m->npairs > 2)
		return false;
	if (!key_is(m->pairs[0].key, "class_path") || !dotted_ok(m->pairs[0].value))
		return false;
	if (m->npairs == 2) {
		const struct fts_node *args = m->pairs[1].value;
		if (!key_is(m->pairs[1].key, "init_args") || !args || args->kind != FTS_N_MAP)
			return false;
		for (size_t i = 0; i < args->npairs; i++) {
			const struct fts_node *k = args->pairs[i].key;
			if (k->kind != FTS_N_SCALAR || k->py != FTS_PY_STR || k->tag)
				return false;
		}
	}
	return true;
}

static void classref(struct out *o, const struct fts_node *m)
{
	put(o, m->pairs[0].value->text, m->pairs[0].value->len);
	if (m->npairs < 2)
		return;
	const struct fts_node *args = m->pairs[1].value;
	putc_(o, '(');
	for (size_t i = 0; i < args->npairs; i++) {
		if (i)
			puts_(o, ", ");
		dsl_key(o, args->pairs[i].key);
		puts_(o, ": ");
		dsl_value(o, args->pairs[i].value);
	}
	putc_(o, ')');
}

/* new_lr_scheduler / initial: lr_scheduler_init first, then known clauses */
static bool lrs_ok(const struct fts_node *m)
{
	if (!m || m->kind != FTS_N_MAP || m->npairs < 1)
		return false;
	if (!key_is(m->pairs[0].key, "lr_scheduler_init") || !classref_ok(m->pairs[0].value))
		return false;
	for (size_t i = 1; i < m->npairs; i++) {
		const struct fts_node *k = m->pairs[i].key;
		if (!key_is(k, "pl_lrs_cfg") && !key_is(k, "init_pg_lrs")
		    && !key_is(k, "use_current_optimizer_pg_lrs"))
			return false;
		for (size_t j = 1; j < i; j++)
			if (key_is(m->pairs[j].key, k->text))
				return false;
	}
	return true;
}

static void lrs_stmt(struct out *o, const struct fts_node *m)
{
	puts_(o, "lr_scheduler ");
	classref(o, m->pairs[0].value);
	for (size_t i = 1; i < m->npairs; i++) {
		const struct fts_node *k = m->pairs[i].key, *v = m->pairs[i].value;
		if (key_is(k, "pl_lrs_cfg")) {
			puts_(o, "\n\t\twith ");
			dsl_value(o, v);
		} else if (key_is(k, "init_pg_lrs")) {
			puts_(o, "\n\t\tgroup_lrs ");
			dsl_value(o, v);
		} else if (v && v->kind == FTS_N_SCALAR && v->py == FTS_PY_BOOL && v->b
			   && strcmp(v->text, "true") == 0) {
			puts_(o, "\n\t\tuse_current_lrs");
		} else {
			puts_(o, "\n\t\tuse_current_lrs = ");
			dsl_value(o, v);
		}
	}
	puts_(o, ";\n");
}

/* One params entry as a selector; false when it has none. */
static bool selector(struct out *o, const struct fts_node *n)
{
	if (n->kind != FTS_N_SCALAR || n->py != FTS_PY_STR)
		return false;
	if (n->tag) {
		if (strcmp(n->tag, FTS_DSL_REST_TAG) != 0)
			return false;
		puts_(o, "rest");
		return true;
	}
	const char *s = n->text;
	size_t len = n->len;
	bool word = len > 0 && !(len == 4 && memcmp(s, "rest", 4) == 0);
	for (size_t i = 0; i < len && word; i++)
		word = word_char(s[i]) || s[i] == '.' || s[i] == '-';
	if (word) {
		put(o, s, len);
		return true;
	}
	const char *glob = fts_dsl_regex_to_glob(o->a, s, len);
	if (glob) {
		puts_(o, glob);
		return true;
	}
	static const char meta[] = ".^$*+?{}[]\\|()";
	bool plain = true;
	for (size_t i = 0; i < len && plain; i++)
		plain = !strchr(meta, s[i]) || s[i] == '.';
	bool has_meta = false;
	for (size_t i = 0; i < len; i++)
		if (s[i] != '.' && strchr(meta, s[i]))
			has_meta = true;
	if (!has_meta || !plain) {
		/* re"..." keeps the text verbatim: no newline, quotes escaped */
		bool ok = !memchr(s, '\n', len) && !memchr(s, '\0', len);
		for (size_t i = 0; i < len && ok; i++) {
			if (s[i] == '\\') {
				if (i + 1 >= len)
					ok = false;
				i++;
			} else if (s[i] == '"') {
				ok = false;
			}
		}
		if (!has_meta) {
			dsl_string(o, s, len);
			return true;
		}
		if (!ok)
			return false;
		puts_(o, "re\"");
		put(o, s, len);
		putc_(o, '"');
		return true;
	}
	return false;
}

static bool params_ok(struct out *o, const struct fts_node *v)
{
	if (!v || v->kind != FTS_N_SEQ || v->nitems == 0)
		return false;
	struct out probe = {0};
	probe.a = o->a;
	probe.d = o->d;
	bool ok = true;
	for (size_t i = 0; i < v->nitems && ok; i++)
		ok = selector(&probe, v->items[i]);
	free(probe.p);
	return ok;
}

static void generic_item(struct out *o, const struct fts_node *k, const struct fts_node *v)
{
	indent(o, 1, '\t');
	if (!dsl_key(o, k)) {
		lossy(o, k, fts_arena_printf(o->a, "phase key %s", fts_node_describe(o->a, k)),
		      "schedule-language", "a string");
		dsl_string(o, k->kind == FTS_N_SCALAR ? k->text : "?",
			   k->kind == FTS_N_SCALAR ? k->len : 1);
	}
	puts_(o, ": ");
	dsl_value(o, v);
	puts_(o, ";\n");
}

static void phase(struct out *o, const struct fts_node *k, const struct fts_node *v)
{
	char buf[64];
	puts_(o, "phase ");
	if (k->kind == FTS_N_SCALAR && k->py == FTS_PY_INT && !k->i_big) {
		snprintf(buf, sizeof(buf), "%lld", (long long)k->i);
		puts_(o, buf);
	} else if (k->kind == FTS_N_SCALAR && k->py == FTS_PY_FLOAT && k->f >= 0 && !isnan(k->f)
		   && !isinf(k->f)) {
		dsl_scalar(o, k);
	} else if (k->kind == FTS_N_SCALAR && k->py == FTS_PY_STR && !k->tag) {
		dsl_string(o, k->text, k->len);
	} else {
		lossy(o, k, fts_arena_printf(o->a, "phase key %s", fts_node_describe(o->a, k)),
		      "schedule-language", "a string");
		dsl_string(o, k->kind == FTS_N_SCALAR ? k->text : "?", k->kind == FTS_N_SCALAR ? k->len : 1);
	}
	puts_(o, " {\n");
	if (!v || v->kind != FTS_N_MAP) {
		lossy(o, v ? v : k, fts_arena_printf(o->a, "phase %s", fts_node_describe(o->a, v)),
		      "schedule-language", "an empty phase");
		puts_(o, "}\n");
		return;
	}
	for (size_t i = 0; i < v->npairs; i++) {
		const struct fts_node *pk = v->pairs[i].key, *pv = v->pairs[i].value;
		if (key_is(pk, "params") && params_ok(o, pv)) {
			puts_(o, "\tthaw ");
			for (size_t j = 0; j < pv->nitems; j++) {
				if (j)
					puts_(o, ",\n\t\t");
				selector(o, pv->items[j]);
			}
			puts_(o, ";\n");
		} else if (key_is(pk, "max_transition_epoch") && pv && pv->kind == FTS_N_SCALAR
			   && pv->py == FTS_PY_INT && !pv->i_big) {
			puts_(o, "\tuntil epoch ");
			dsl_scalar(o, pv);
			puts_(o, ";\n");
		} else if (key_is(pk, "new_optimizer") && pv && pv->kind == FTS_N_MAP && pv->npairs == 1
			   && key_is(pv->pairs[0].key, "optimizer_init")
			   && classref_ok(pv->pairs[0].value)) {
			puts_(o, "\toptimizer ");
			classref(o, pv->pairs[0].value);
			puts_(o, ";\n");
		} else if (key_is(pk, "new_lr_scheduler") && lrs_ok(pv)) {
			puts_(o, "\t");
			lrs_stmt(o, pv);
		} else {
			generic_item(o, pk, pv);
		}
	}
	puts_(o, "}\n");
}

static void schedule(struct out *o, const struct fts_node *s, bool blank)
{
	if (!s)
		return;
	if (s->kind != FTS_N_MAP) {
		lossy(o, s, fts_arena_printf(o->a, "a schedule that is %s", fts_node_describe(o->a, s)),
		      "schedule-language", "an empty schedule");
		return;
	}
	for (size_t i = 0; i < s->npairs; i++) {
		if (blank || i)
			putc_(o, '\n');
		phase(o, s->pairs[i].key, s->pairs[i].value);
	}
}

static bool setting_name(const struct fts_node *k)
{
	return k->kind == FTS_N_SCALAR && k->py == FTS_PY_STR && !k->tag && identifier(k->text, k->len)
		&& !is_keyword(k->text, k->len);
}

char *fts_dsl_from_tree(struct fts_arena *a, struct fts_diags *d, const struct fts_node *root,
			size_t *len)
{
	struct out o = {0};
	o.a = a;
	o.d = d;
	puts_(&o, "");
	struct fts_dsl_parts p;
	fts_dsl_parts(root, &p);
	bool any = false;
	if (fts_dsl_is_config(root)) {
		const struct fts_node *ma = p.model_args;
		for (size_t i = 0; ma && ma->kind == FTS_N_MAP && i < ma->npairs; i++) {
			const struct fts_node *k = ma->pairs[i].key, *v = ma->pairs[i].value;
			if (key_is(k, "optimizer_init") && classref_ok(v)) {
				puts_(&o, "optimizer ");
				classref(&o, v);
				puts_(&o, ";\n");
				any = true;
			} else if (key_is(k, "lr_scheduler_init") && classref_ok(v)) {
				puts_(&o, "lr_scheduler ");
				classref(&o, v);
				const struct fts_node *pl = mget(ma, "pl_lrs_cfg");
				if (pl) {
					puts_(&o, "\n\t\twith ");
					dsl_value(&o, pl);
				}
				puts_(&o, ";\n");
				any = true;
			} else if (!key_is(k, "pl_lrs_cfg") || !classref_ok(mget(ma, "lr_scheduler_init"))) {
				lossy(&o, k, fts_arena_printf(a, "model.init_args.%s",
							      k->kind == FTS_N_SCALAR ? k->text : "?"),
				      "schedule-language", "nothing (dropped)");
			}
		}
		const struct fts_node *me = mget(p.trainer, "max_epochs");
		if (me) {
			puts_(&o, "set max_epochs = ");
			dsl_value(&o, me);
			puts_(&o, ";\n");
			any = true;
		}
		for (size_t i = 0; p.fts_args && p.fts_args->kind == FTS_N_MAP && i < p.fts_args->npairs; i++) {
			const struct fts_node *k = p.fts_args->pairs[i].key, *v = p.fts_args->pairs[i].value;
			if (key_is(k, "ft_schedule"))
				continue;
			if (!setting_name(k)) {
				lossy(&o, k, "a FinetuningScheduler argument", "schedule-language",
				      "nothing (dropped)");
				continue;
			}
			puts_(&o, "set ");
			put(&o, k->text, k->len);
			puts_(&o, " = ");
			dsl_value(&o, v);
			puts_(&o, ";\n");
			any = true;
		}
		if (p.schedule && p.schedule->kind == FTS_N_SCALAR)
			lossy(&o, p.schedule, "an ft_schedule file name", "schedule-language",
			      "nothing: convert the schedule file itself");
	}
	if (!p.schedule || p.schedule->kind != FTS_N_SCALAR)
		schedule(&o, p.schedule, any);
	return finish(&o, len);
}

/* --- YAML --------------------------------------------------------------------------------- */

static bool resolves_as(const struct fts_node *n, enum fts_py_type py, struct fts_node *tmp)
{
	memset(tmp, 0, sizeof(*tmp));
	tmp->kind = FTS_N_SCALAR;
	tmp->text = n->text;
	tmp->len = n->len;
	if (fts_yaml_resolve_plain(tmp) != 0 || tmp->py != py)
		return false;
	return true;
}

static bool yaml_plain_ok(const char *s, size_t n)
{
	static const char indicators[] = "-?:,[]{}#&*!|>'\"%@`";
	if (n == 0 || s[0] == ' ' || s[n - 1] == ' ' || s[n - 1] == ':')
		return false;
	/* '-' starts a plain scalar when a non-space follows it (PyYAML's check_plain) */
	if (strchr(indicators, s[0]) && !(s[0] == '-' && n > 1 && s[1] != ' '))
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x20 || c >= 0x7f)
			return false;
		if (c == ':' && i + 1 < n && s[i + 1] == ' ')
			return false;
		if (c == '#' && i > 0 && s[i - 1] == ' ')
			return false;
		if ((c == ',' || c == '[' || c == ']' || c == '{' || c == '}'))
			return false;
	}
	return true;
}

static void yaml_quoted(struct out *o, const char *s, size_t n)
{
	bool ctl = false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			ctl = true;
	if (!ctl) {
		putc_(o, '\'');
		for (size_t i = 0; i < n; i++) {
			if (s[i] == '\'')
				putc_(o, '\'');
			putc_(o, s[i]);
		}
		putc_(o, '\'');
		return;
	}
	putc_(o, '"');
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		char buf[8];
		if (c == '"' || c == '\\') {
			putc_(o, '\\');
			putc_(o, (char)c);
		} else if (c == '\n') {
			puts_(o, "\\n");
		} else if (c == '\t') {
			puts_(o, "\\t");
		} else if (c < 0x20 || c == 0x7f) {
			snprintf(buf, sizeof(buf), "\\x%02x", c);
			puts_(o, buf);
		} else {
			putc_(o, (char)c);
		}
	}
	putc_(o, '"');
}

static bool yaml_scalar(struct out *o, const struct fts_node *n)
{
	struct fts_node tmp;
	char buf[64];
	if (n->tag && strcmp(n->tag, FTS_DSL_REST_TAG) == 0) {
		fts_diag(o->d, FTS_E_DSL_REST, n->span,
			 "'rest' needs the model manifest to be written as YAML (give --manifest)");
		return false;
	}
	switch (n->py) {
	case FTS_PY_NONE:
		puts_(o, "null");
		break;
	case FTS_PY_BOOL:
		puts_(o, n->b ? "true" : "false");
		break;
	case FTS_PY_INT:
		if (yaml_plain_ok(n->text, n->len) && resolves_as(n, FTS_PY_INT, &tmp)
		    && tmp.i_big == n->i_big && (n->i_big || tmp.i == n->i)) {
			put(o, n->text, n->len);
		} else {
			snprintf(buf, sizeof(buf), "%lld", (long long)n->i);
			puts_(o, buf);
		}
		break;
	case FTS_PY_FLOAT:
		if (yaml_plain_ok(n->text, n->len) && resolves_as(n, FTS_PY_FLOAT, &tmp)
		    && (tmp.f == n->f || (isnan(tmp.f) && isnan(n->f)))) {
			put(o, n->text, n->len);
		} else {
			float_canon(n->f, buf, sizeof(buf), true);
			puts_(o, buf);
		}
		break;
	case FTS_PY_TIMESTAMP:
		put(o, n->text, n->len);
		break;
	case FTS_PY_STR:
	default:
		if (yaml_plain_ok(n->text, n->len) && resolves_as(n, FTS_PY_STR, &tmp))
			put(o, n->text, n->len);
		else
			yaml_quoted(o, n->text, n->len);
		break;
	}
	return true;
}

static bool flow_seq(const struct fts_node *n)
{
	if (n->kind != FTS_N_SEQ)
		return false;
	for (size_t i = 0; i < n->nitems; i++)
		if (n->items[i]->kind != FTS_N_SCALAR || n->items[i]->py == FTS_PY_STR
		    || n->items[i]->py == FTS_PY_TIMESTAMP)
			return false;
	return true;
}

static bool yaml_block(struct out *o, const struct fts_node *n, unsigned ind, bool first_inline);

/* the value after "key:" or "- " */
static bool yaml_after(struct out *o, const struct fts_node *v, unsigned ind, bool seq_item)
{
	if (!v) {
		puts_(o, " null\n");
		return true;
	}
	if (v->kind == FTS_N_SCALAR) {
		putc_(o, ' ');
		bool ok = yaml_scalar(o, v);
		putc_(o, '\n');
		return ok;
	}
	if (v->kind == FTS_N_MAP && v->npairs == 0) {
		puts_(o, " {}\n");
		return true;
	}
	if (v->kind == FTS_N_SEQ && v->nitems == 0) {
		puts_(o, " []\n");
		return true;
	}
	if (flow_seq(v)) {
		puts_(o, " [");
		for (size_t i = 0; i < v->nitems; i++) {
			if (i)
				puts_(o, ", ");
			yaml_scalar(o, v->items[i]);
		}
		puts_(o, "]\n");
		return true;
	}
	if (seq_item) {
		putc_(o, ' ');
		return yaml_block(o, v, ind + 2, true);
	}
	putc_(o, '\n');
	return yaml_block(o, v, v->kind == FTS_N_MAP ? ind + 2 : ind, false);
}

static bool yaml_block(struct out *o, const struct fts_node *n, unsigned ind, bool first_inline)
{
	bool ok = true;
	if (n->kind == FTS_N_MAP) {
		for (size_t i = 0; i < n->npairs; i++) {
			if (i || !first_inline)
				indent(o, ind, ' ');
			const struct fts_node *k = n->pairs[i].key;
			if (k->kind != FTS_N_SCALAR) {
				lossy(o, k, "a non-scalar mapping key", "YAML", "'?'");
				puts_(o, "'?'");
			} else {
				ok &= yaml_scalar(o, k);
			}
			putc_(o, ':');
			ok &= yaml_after(o, n->pairs[i].value, ind, false);
		}
	} else if (n->kind == FTS_N_SEQ) {
		for (size_t i = 0; i < n->nitems; i++) {
			if (i || !first_inline)
				indent(o, ind, ' ');
			putc_(o, '-');
			ok &= yaml_after(o, n->items[i], ind, true);
		}
	} else {
		ok &= yaml_scalar(o, n);
		putc_(o, '\n');
	}
	return ok;
}

char *fts_yaml_from_tree(struct fts_arena *a, struct fts_diags *d, const struct fts_node *n,
			 size_t *len)
{
	struct out o = {0};
	o.a = a;
	o.d = d;
	puts_(&o, "");
	bool ok = true;
	if (n && (n->kind != FTS_N_MAP || n->npairs) && (n->kind != FTS_N_SEQ || n->nitems))
		ok = yaml_block(&o, n, 0, false);
	else if (n)
		puts_(&o, n->kind == FTS_N_MAP ? "{}\n" : "[]\n");
	char *s = finish(&o, len);
	return ok ? s : NULL;
}

/* A copy of the config-shaped root with ft_schedule's value replaced. */
static struct fts_node *with_schedule(struct fts_arena *a, const struct fts_node *n,
				      const struct fts_node *old, struct fts_node *repl)
{
	if (n == old)
		return repl;
	if (!n || n->kind == FTS_N_SCALAR)
		return (struct fts_node *)n;
	struct fts_node *c = fts_arena_alloc(a, sizeof(*c));
	*c = *n;
	if (n->kind == FTS_N_SEQ) {
		c->items = fts_arena_alloc(a, (n->nitems ? n->nitems : 1) * sizeof(*c->items));
		for (size_t i = 0; i < n->nitems; i++)
			c->items[i] = with_schedule(a, n->items[i], old, repl);
	} else {
		c->pairs = fts_arena_alloc(a, (n->npairs ? n->npairs : 1) * sizeof(*c->pairs));
		for (size_t i = 0; i < n->npairs; i++) {
			c->pairs[i].key = n->pairs[i].key;
			c->pairs[i].value = with_schedule(a, n->pairs[i].value, old, repl);
		}
	}
	return c;
}

int fts_dsl_to_yaml(struct fts_arena *a, struct fts_diags *d, const struct fts_node *root,
		    const char *schedule_path, char **sched, size_t *sched_len,
		    char **config, size_t *config_len)
{
	struct fts_dsl_parts p;
	fts_dsl_parts(root, &p);
	*config = NULL;
	*config_len = 0;
	*sched = fts_yaml_from_tree(a, d, p.schedule, sched_len);
	if (!*sched)
		return -1;
	if (!p.schedule)
		schedule_path = NULL;   /* implicit mode: the config is the whole output */
	if (!fts_dsl_is_config(root))
		return 0;
	bool more = p.model_args || mget(p.trainer, "max_epochs")
		|| (p.fts_args && p.fts_args->kind == FTS_N_MAP && p.fts_args->npairs > 1);
	if (!more)
		return 0;
	const struct fts_node *cfg = root;
	if (schedule_path) {
		struct fts_node *path = fts_arena_alloc(a, sizeof(*path));
		path->kind = FTS_N_SCALAR;
		path->span = p.schedule ? p.schedule->span : FTS_SPAN_NONE;
		path->text = fts_arena_strdup(a, schedule_path);
		path->len = strlen(schedule_path);
		path->py = FTS_PY_STR;
		path->weight = 1;
		cfg = with_schedule(a, root, p.schedule, path);
	}
	*config = fts_yaml_from_tree(a, d, cfg, config_len);
	return *config ? 0 : -1;
}

char *fts_dsl_format(struct fts_arena *a, struct fts_diags *d, uint32_t file, size_t *len)
{
	struct fts_node *root = fts_dsl_parse(a, d, file);
	if (!root)
		return NULL;
	return fts_dsl_from_tree(a, d, root, len);
}
