/*
 * dsl_emit.c - ast.h trees written as the schedule language, and a DSL
 * document split into the YAML files FTS reads (see dsl_emit.h for the
 * fidelity contract).
 *
 * Stage: back end of `ftsc convert` and `ftsc fmt`.  The DSL writer picks
 * the idiomatic statement (thaw, until epoch, optimizer, lr_scheduler)
 * only when the tree has exactly the shape that statement builds, and
 * falls back to the generic `key: value;` form otherwise, so that any
 * schedule, valid or not, survives the round trip.  Params entries that
 * are regexes become globs through glob.c; the YAML itself is written by
 * yaml_emit.c.
 */
#include "dsl_emit.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "decl.h"
#include "dsl.h"
#include "expr.h"
#include "glob.h"
#include "textout.h"

/* --- scalars in the DSL ----------------------------------------------------------------- */

/* [A-Za-z0-9_]: a character of a bare word (the grammar's NAME) */
static bool word_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

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

static void dsl_string(struct fts_out *o, const char *s, size_t n)
{
	fts_out_putc(o, '"');
	for (size_t i = 0; i < n; i++) {
		switch (s[i]) {
		case '"': fts_out_puts(o, "\\\""); break;
		case '\\': fts_out_puts(o, "\\\\"); break;
		case '\n': fts_out_puts(o, "\\n"); break;
		case '\0': fts_out_puts(o, "\\0"); break;
		default: fts_out_putc(o, s[i]); break;
		}
	}
	fts_out_putc(o, '"');
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

static void dsl_value(struct fts_out *o, const struct fts_node *n);

static void dsl_scalar(struct fts_out *o, const struct fts_node *n)
{
	if (n->tag && strcmp(n->tag, FTS_DSL_REST_TAG) == 0) {
		fts_out_lossy(o, n, "'rest' outside a thaw statement", "schedule-language", "a string");
		dsl_string(o, n->text, n->len);
		return;
	}
	switch (n->py) {
	case FTS_PY_NONE:
		fts_out_puts(o, "none");
		return;
	case FTS_PY_BOOL:
		fts_out_puts(o, n->b ? "true" : "false");
		return;
	case FTS_PY_INT:
		if (n->i_big) {
			fts_out_lossy(o, n, fts_arena_printf(o->a, "integer %s", n->text),
				      "schedule-language", "a string");
			dsl_string(o, n->text, n->len);
		} else if (dsl_int_ok(n->text, n->len, n->i)) {
			fts_out_put(o, n->text, n->len);
		} else {
			fts_out_int(o, n->i);
		}
		return;
	case FTS_PY_FLOAT:
		if (!isnan(n->f) && dsl_float_ok(n->text, n->len, n->f)) {
			fts_out_put(o, n->text, n->len);
		} else {
			fts_out_float(o, n->f, false);
		}
		return;
	case FTS_PY_TIMESTAMP:
		fts_out_lossy(o, n, fts_arena_printf(o->a, "timestamp %s", n->text),
			      "schedule-language", "a string");
		dsl_string(o, n->text, n->len);
		return;
	case FTS_PY_STR:
	default:
		if (bare_word(n->text, n->len) || (n->len == 5 && memcmp(n->text, "epoch", 5) == 0)
		    || lambda_text(o->a, n->text, n->len))
			fts_out_put(o, n->text, n->len);
		else
			dsl_string(o, n->text, n->len);
		return;
	}
}

static void dsl_value(struct fts_out *o, const struct fts_node *n)
{
	if (!n) {
		fts_out_puts(o, "none");
		return;
	}
	switch (n->kind) {
	case FTS_N_SCALAR:
		dsl_scalar(o, n);
		return;
	case FTS_N_SEQ:
		fts_out_putc(o, '[');
		for (size_t i = 0; i < n->nitems; i++) {
			if (i)
				fts_out_puts(o, ", ");
			dsl_value(o, n->items[i]);
		}
		fts_out_putc(o, ']');
		return;
	case FTS_N_MAP:
	default:
		fts_out_putc(o, '{');
		for (size_t i = 0; i < n->npairs; i++) {
			if (i)
				fts_out_puts(o, ", ");
			const struct fts_node *k = n->pairs[i].key;
			if (k->kind != FTS_N_SCALAR) {
				fts_out_lossy(o, k, "a non-scalar mapping key", "schedule-language",
					      "a string");
				fts_out_puts(o, "\"?\"");
			} else {
				dsl_scalar(o, k);
			}
			fts_out_puts(o, ": ");
			dsl_value(o, n->pairs[i].value);
		}
		fts_out_putc(o, '}');
		return;
	}
}

/* a key written where the grammar takes NAME or a string */
static bool dsl_key(struct fts_out *o, const struct fts_node *k)
{
	if (k->kind != FTS_N_SCALAR || k->py != FTS_PY_STR || k->tag)
		return false;
	if (bare_word(k->text, k->len))
		fts_out_put(o, k->text, k->len);
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

static void classref(struct fts_out *o, const struct fts_node *m)
{
	fts_out_put(o, m->pairs[0].value->text, m->pairs[0].value->len);
	if (m->npairs < 2)
		return;
	const struct fts_node *args = m->pairs[1].value;
	fts_out_putc(o, '(');
	for (size_t i = 0; i < args->npairs; i++) {
		if (i)
			fts_out_puts(o, ", ");
		dsl_key(o, args->pairs[i].key);
		fts_out_puts(o, ": ");
		dsl_value(o, args->pairs[i].value);
	}
	fts_out_putc(o, ')');
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

static void lrs_stmt(struct fts_out *o, const struct fts_node *m)
{
	fts_out_puts(o, "lr_scheduler ");
	classref(o, m->pairs[0].value);
	for (size_t i = 1; i < m->npairs; i++) {
		const struct fts_node *k = m->pairs[i].key, *v = m->pairs[i].value;
		if (key_is(k, "pl_lrs_cfg")) {
			fts_out_puts(o, "\n\t\twith ");
			dsl_value(o, v);
		} else if (key_is(k, "init_pg_lrs")) {
			fts_out_puts(o, "\n\t\tgroup_lrs ");
			dsl_value(o, v);
		} else if (v && v->kind == FTS_N_SCALAR && v->py == FTS_PY_BOOL && v->b
			   && strcmp(v->text, "true") == 0) {
			fts_out_puts(o, "\n\t\tuse_current_lrs");
		} else {
			fts_out_puts(o, "\n\t\tuse_current_lrs = ");
			dsl_value(o, v);
		}
	}
	fts_out_puts(o, ";\n");
}

/* One params entry as a selector; false when it has none. */
static bool selector(struct fts_out *o, const struct fts_node *n)
{
	if (n->kind != FTS_N_SCALAR || n->py != FTS_PY_STR)
		return false;
	if (n->tag) {
		if (strcmp(n->tag, FTS_DSL_REST_TAG) != 0)
			return false;
		fts_out_puts(o, "rest");
		return true;
	}
	const char *s = n->text;
	size_t len = n->len;
	bool word = len > 0 && !(len == 4 && memcmp(s, "rest", 4) == 0);
	for (size_t i = 0; i < len && word; i++)
		word = word_char(s[i]) || s[i] == '.' || s[i] == '-';
	if (word) {
		fts_out_put(o, s, len);
		return true;
	}
	const char *glob = fts_dsl_regex_to_glob(o->a, s, len);
	if (glob) {
		fts_out_puts(o, glob);
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
		fts_out_puts(o, "re\"");
		fts_out_put(o, s, len);
		fts_out_putc(o, '"');
		return true;
	}
	return false;
}

static bool params_ok(struct fts_out *o, const struct fts_node *v)
{
	if (!v || v->kind != FTS_N_SEQ || v->nitems == 0)
		return false;
	struct fts_out probe = {0};
	probe.a = o->a;
	probe.d = o->d;
	bool ok = true;
	for (size_t i = 0; i < v->nitems && ok; i++)
		ok = selector(&probe, v->items[i]);
	fts_out_free(&probe);
	return ok;
}

static void generic_item(struct fts_out *o, const struct fts_node *k, const struct fts_node *v)
{
	fts_out_indent(o, 1, '\t');
	if (!dsl_key(o, k)) {
		fts_out_lossy(o, k, fts_arena_printf(o->a, "phase key %s", fts_node_describe(o->a, k)),
			      "schedule-language", "a string");
		dsl_string(o, k->kind == FTS_N_SCALAR ? k->text : "?",
			   k->kind == FTS_N_SCALAR ? k->len : 1);
	}
	fts_out_puts(o, ": ");
	dsl_value(o, v);
	fts_out_puts(o, ";\n");
}

static void phase(struct fts_out *o, const struct fts_node *k, const struct fts_node *v)
{
	fts_out_puts(o, "phase ");
	if (k->kind == FTS_N_SCALAR && k->py == FTS_PY_INT && !k->i_big) {
		fts_out_int(o, k->i);
	} else if (k->kind == FTS_N_SCALAR && k->py == FTS_PY_FLOAT && k->f >= 0 && !isnan(k->f)
		   && !isinf(k->f)) {
		dsl_scalar(o, k);
	} else if (k->kind == FTS_N_SCALAR && k->py == FTS_PY_STR && !k->tag) {
		dsl_string(o, k->text, k->len);
	} else {
		fts_out_lossy(o, k, fts_arena_printf(o->a, "phase key %s", fts_node_describe(o->a, k)),
			      "schedule-language", "a string");
		dsl_string(o, k->kind == FTS_N_SCALAR ? k->text : "?", k->kind == FTS_N_SCALAR ? k->len : 1);
	}
	fts_out_puts(o, " {\n");
	if (!v || v->kind != FTS_N_MAP) {
		fts_out_lossy(o, v ? v : k, fts_arena_printf(o->a, "phase %s", fts_node_describe(o->a, v)),
			      "schedule-language", "an empty phase");
		fts_out_puts(o, "}\n");
		return;
	}
	for (size_t i = 0; i < v->npairs; i++) {
		const struct fts_node *pk = v->pairs[i].key, *pv = v->pairs[i].value;
		if (key_is(pk, "params") && params_ok(o, pv)) {
			fts_out_puts(o, "\tthaw ");
			for (size_t j = 0; j < pv->nitems; j++) {
				if (j)
					fts_out_puts(o, ",\n\t\t");
				selector(o, pv->items[j]);
			}
			fts_out_puts(o, ";\n");
		} else if (key_is(pk, "max_transition_epoch") && pv && pv->kind == FTS_N_SCALAR
			   && pv->py == FTS_PY_INT && !pv->i_big) {
			fts_out_puts(o, "\tuntil epoch ");
			dsl_scalar(o, pv);
			fts_out_puts(o, ";\n");
		} else if (key_is(pk, "new_optimizer") && pv && pv->kind == FTS_N_MAP && pv->npairs == 1
			   && key_is(pv->pairs[0].key, "optimizer_init")
			   && classref_ok(pv->pairs[0].value)) {
			fts_out_puts(o, "\toptimizer ");
			classref(o, pv->pairs[0].value);
			fts_out_puts(o, ";\n");
		} else if (key_is(pk, "new_lr_scheduler") && lrs_ok(pv)) {
			fts_out_puts(o, "\t");
			lrs_stmt(o, pv);
		} else {
			generic_item(o, pk, pv);
		}
	}
	fts_out_puts(o, "}\n");
}

static void schedule(struct fts_out *o, const struct fts_node *s, bool blank)
{
	if (!s)
		return;
	if (s->kind != FTS_N_MAP) {
		fts_out_lossy(o, s, fts_arena_printf(o->a, "a schedule that is %s",
						     fts_node_describe(o->a, s)),
			      "schedule-language", "an empty schedule");
		return;
	}
	for (size_t i = 0; i < s->npairs; i++) {
		if (blank || i)
			fts_out_putc(o, '\n');
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
	struct fts_out o = {0};
	o.a = a;
	o.d = d;
	fts_out_puts(&o, "");
	struct fts_dsl_parts p;
	fts_dsl_parts(root, &p);
	bool any = false;
	if (fts_dsl_is_config(root)) {
		const struct fts_node *ma = p.model_args;
		for (size_t i = 0; ma && ma->kind == FTS_N_MAP && i < ma->npairs; i++) {
			const struct fts_node *k = ma->pairs[i].key, *v = ma->pairs[i].value;
			if (key_is(k, "optimizer_init") && classref_ok(v)) {
				fts_out_puts(&o, "optimizer ");
				classref(&o, v);
				fts_out_puts(&o, ";\n");
				any = true;
			} else if (key_is(k, "lr_scheduler_init") && classref_ok(v)) {
				fts_out_puts(&o, "lr_scheduler ");
				classref(&o, v);
				const struct fts_node *pl = mget(ma, "pl_lrs_cfg");
				if (pl) {
					fts_out_puts(&o, "\n\t\twith ");
					dsl_value(&o, pl);
				}
				fts_out_puts(&o, ";\n");
				any = true;
			} else if (!key_is(k, "pl_lrs_cfg") || !classref_ok(mget(ma, "lr_scheduler_init"))) {
				fts_out_lossy(&o, k, fts_arena_printf(a, "model.init_args.%s",
								      k->kind == FTS_N_SCALAR ? k->text : "?"),
					      "schedule-language", "nothing (dropped)");
			}
		}
		const struct fts_node *me = mget(p.trainer, "max_epochs");
		if (me) {
			fts_out_puts(&o, "set max_epochs = ");
			dsl_value(&o, me);
			fts_out_puts(&o, ";\n");
			any = true;
		}
		for (size_t i = 0; p.fts_args && p.fts_args->kind == FTS_N_MAP && i < p.fts_args->npairs; i++) {
			const struct fts_node *k = p.fts_args->pairs[i].key, *v = p.fts_args->pairs[i].value;
			if (key_is(k, "ft_schedule"))
				continue;
			if (!setting_name(k)) {
				fts_out_lossy(&o, k, "a FinetuningScheduler argument", "schedule-language",
					      "nothing (dropped)");
				continue;
			}
			fts_out_puts(&o, "set ");
			fts_out_put(&o, k->text, k->len);
			fts_out_puts(&o, " = ");
			dsl_value(&o, v);
			fts_out_puts(&o, ";\n");
			any = true;
		}
		if (p.schedule && p.schedule->kind == FTS_N_SCALAR)
			fts_out_lossy(&o, p.schedule, "an ft_schedule file name", "schedule-language",
				      "nothing: convert the schedule file itself");
	}
	if (!p.schedule || p.schedule->kind != FTS_N_SCALAR)
		schedule(&o, p.schedule, any);
	return fts_out_finish(&o, len);
}

char *fts_dsl_format(struct fts_arena *a, struct fts_diags *d, uint32_t file, size_t *len)
{
	struct fts_node *root = fts_dsl_parse(a, d, file);
	if (!root)
		return NULL;
	return fts_dsl_from_tree(a, d, root, len);
}

/* --- the DSL document as FTS's files ------------------------------------------------ */

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
