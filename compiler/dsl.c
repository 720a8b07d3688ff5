/*
 * dsl.c - the schedule language front end: builders the grammar calls,
 * includes, `rest` expansion, and the parse driver (globs are lowered to
 * regexes by glob.c).
 *
 * Stage: front end (see dsl.h for the tree it builds).  grammar/ftsc.y
 * recognises the statements; everything here turns them into ast.h nodes
 * typed as the YAML front end types the equivalent YAML, so lowering,
 * checks and diagnostics are shared and point into the DSL text.
 */
#include "dsl.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "manifest.h"
#include "pyre.h"
#include "resolve.h"
#include "yaml_front.h"

#include "ftsc.tab.h"

/* The document under construction, shared by a file and its includes. */
struct dsl_build {
	struct fts_arena *a;
	struct fts_diags *d;
	unsigned flags;                 /* enum fts_dsl_flags */
	uint32_t main_file;             /* the file fts_dsl_parse was given */
	struct fts_node *schedule;      /* ft_schedule: phase key -> phase */
	struct fts_node *model_args;    /* model.init_args, or NULL */
	struct fts_node *settings;      /* FinetuningScheduler init_args after ft_schedule */
	struct fts_node *max_epochs;    /* trainer.max_epochs pair value, or NULL */
	struct fts_node *max_epochs_key;
	struct fts_node *phase;         /* the phase being built, or NULL */
	struct fts_node *phase_key;     /* its key */
	struct fts_node *params;        /* its params (from thaw), or NULL */
	int64_t next_phase;             /* key of a `phase {` without a number */
	struct fts_span *int_keys;      /* span of int phase key k (end == 0: unused) */
	size_t nint_keys;               /* entries in int_keys */
	const char *const *include_dirs; /* --include-dir */
	size_t ninclude_dirs;
	char main_dir[PATH_MAX];        /* the main file's folder, resolved ("" unknown) */
};

#define MAX_TRACKED_KEY ((int64_t)1 << 22)

static struct fts_dsl_ctx *ctx_of(struct fts_parse_ctx *pc)
{
	return (struct fts_dsl_ctx *)(void *)pc;
}

/* --- nodes --------------------------------------------------------------------- */

static struct fts_node *node_new(struct fts_arena *a, enum fts_node_kind k, struct fts_span sp)
{
	struct fts_node *n = fts_arena_alloc(a, sizeof(*n));
	n->kind = k;
	n->span = sp;
	n->weight = 1;
	return n;
}

static struct fts_node *scalar(struct fts_arena *a, struct fts_span sp, const char *text,
			       size_t len, enum fts_py_type py, bool quoted)
{
	struct fts_node *n = node_new(a, FTS_N_SCALAR, sp);
	n->text = fts_arena_strndup(a, text, len);
	n->len = len;
	n->py = py;
	n->quoted = quoted;
	return n;
}

static void weigh(struct fts_node *parent, const struct fts_node *child)
{
	uint64_t w = parent->weight + child->weight;
	parent->weight = w < parent->weight ? UINT64_MAX : w;
}

/* Arrays grow by doubling whenever the count reaches a power of two. */
static bool pow2(size_t n)
{
	return n && !(n & (n - 1));
}

static void seq_push(struct fts_arena *a, struct fts_node *seq, struct fts_node *item)
{
	if (seq->nitems == 0)
		seq->items = fts_arena_alloc(a, 4 * sizeof(*seq->items));
	else if (seq->nitems >= 4 && pow2(seq->nitems))
		seq->items = fts_arena_realloc(a, seq->items, seq->nitems * sizeof(*seq->items),
					       2 * seq->nitems * sizeof(*seq->items));
	seq->items[seq->nitems++] = item;
	weigh(seq, item);
}

static void map_push(struct fts_arena *a, struct fts_node *map, struct fts_node *k,
		     struct fts_node *v)
{
	if (map->npairs == 0)
		map->pairs = fts_arena_alloc(a, 4 * sizeof(*map->pairs));
	else if (map->npairs >= 4 && pow2(map->npairs))
		map->pairs = fts_arena_realloc(a, map->pairs, map->npairs * sizeof(*map->pairs),
					       2 * map->npairs * sizeof(*map->pairs));
	map->pairs[map->npairs].key = k;
	map->pairs[map->npairs].value = v;
	map->npairs++;
	weigh(map, k);
	weigh(map, v);
}

/* Python equality of two scalar keys (1 == 1.0 == True; 'a' == 'a'). */
static bool key_eq(const struct fts_node *x, const struct fts_node *y)
{
	if (x->kind != FTS_N_SCALAR || y->kind != FTS_N_SCALAR)
		return false;
	bool xn = x->py == FTS_PY_INT || x->py == FTS_PY_FLOAT || x->py == FTS_PY_BOOL;
	bool yn = y->py == FTS_PY_INT || y->py == FTS_PY_FLOAT || y->py == FTS_PY_BOOL;
	if (xn && yn) {
		double a = x->py == FTS_PY_BOOL ? x->b : x->py == FTS_PY_INT ? (double)x->i : x->f;
		double b = y->py == FTS_PY_BOOL ? y->b : y->py == FTS_PY_INT ? (double)y->i : y->f;
		if (x->py == FTS_PY_INT && y->py == FTS_PY_INT)
			return x->i == y->i;
		return a == b;
	}
	if (x->py != y->py)
		return false;
	if (x->py == FTS_PY_NONE)
		return true;
	return x->len == y->len && memcmp(x->text, y->text, x->len) == 0;
}

static void report_dup(struct fts_dsl_ctx *c, const char *what, const struct fts_node *key,
		       struct fts_span prev)
{
	const char *k = fts_node_describe(c->pc.arena, key);
	char *msg = fts_arena_printf(c->pc.arena, "%s %s", what, k);
	struct fts_diag *dg = fts_diag(c->b->d, FTS_E_DSL_DUP, key->span, msg);
	fts_diag_note(c->b->d, dg, prev, "first given here");
}

/* --- builders ------------------------------------------------------------------ */

struct fts_node *fts_dsl_map(struct fts_parse_ctx *pc, struct fts_span span)
{
	return node_new(pc->arena, FTS_N_MAP, span);
}

struct fts_node *fts_dsl_seq(struct fts_parse_ctx *pc, struct fts_span span)
{
	return node_new(pc->arena, FTS_N_SEQ, span);
}

struct fts_node *fts_dsl_str(struct fts_parse_ctx *pc, const char *s, struct fts_span span)
{
	return scalar(pc->arena, span, s, strlen(s), FTS_PY_STR, false);
}

void fts_dsl_map_add(struct fts_parse_ctx *pc, struct fts_node *map, struct fts_node *key,
		     struct fts_node *value, const char *what)
{
	for (size_t i = 0; i < map->npairs; i++)
		if (key_eq(map->pairs[i].key, key)) {
			report_dup(ctx_of(pc), what, key, map->pairs[i].key->span);
			return;
		}
	map_push(pc->arena, map, key, value);
}

void fts_dsl_seq_add(struct fts_parse_ctx *pc, struct fts_node *seq, struct fts_node *item)
{
	seq_push(pc->arena, seq, item);
}

/* The source text under a span of the current file. */
static const char *slice(struct fts_dsl_ctx *c, struct fts_span sp, size_t *len)
{
	if (sp.file != c->file || sp.end > c->len || sp.start > sp.end) {
		*len = 0;
		return "";
	}
	*len = sp.end - sp.start;
	return c->text + sp.start;
}

/* A DSL number: typed as YAML types its text, but always a number. */
static struct fts_node *number(struct fts_dsl_ctx *c, struct fts_span sp, const char *sign,
			       const struct fts_expr *k)
{
	size_t n;
	const char *t = slice(c, k->span, &n);
	char *text = fts_arena_printf(c->pc.arena, "%s%.*s", sign, (int)n, t);
	bool neg = sign[0] == '-';
	struct fts_node *s = scalar(c->pc.arena, sp, text, strlen(text), FTS_PY_STR, false);
	if (k->val.kind == FTS_V_INT) {
		int64_t v = k->val.i;
		if (neg) {
			if (v == INT64_MIN)
				fts_diag(c->b->d, FTS_E_DSL_VALUE, sp, "integer literal is too large");
			v = v == INT64_MIN ? v : -v;
		}
		if (fts_yaml_resolve_plain(s) != 0 || s->py != FTS_PY_INT || s->i_big || s->i != v) {
			s->py = FTS_PY_INT;
			s->i_big = false;
			s->i = v;
		}
		s->f = (double)v;
	} else {
		double v = neg ? -k->val.f : k->val.f;
		if (fts_yaml_resolve_plain(s) != 0 || s->py != FTS_PY_FLOAT || s->f != v) {
			s->py = FTS_PY_FLOAT;
			s->f = v;
		}
	}
	return s;
}

static bool is_number_const(const struct fts_expr *e)
{
	return e->kind == FTS_E_CONST && (e->val.kind == FTS_V_INT || e->val.kind == FTS_V_FLOAT)
		&& !e->parens;
}

struct fts_node *fts_dsl_value(struct fts_parse_ctx *pc, struct fts_expr *e)
{
	struct fts_dsl_ctx *c = ctx_of(pc);
	struct fts_arena *a = pc->arena;
	if (!e)
		return scalar(a, FTS_SPAN_NONE, "", 0, FTS_PY_NONE, false);
	switch (e->kind) {
	case FTS_E_CONST:
		switch (e->val.kind) {
		case FTS_V_INT:
		case FTS_V_FLOAT:
			return number(c, e->span, "", e);
		case FTS_V_STR:
			return scalar(a, e->span, e->val.s, e->val.len, FTS_PY_STR, true);
		case FTS_V_BOOL: {
			struct fts_node *n = scalar(a, e->span, e->val.b ? "true" : "false",
						    e->val.b ? 4 : 5, FTS_PY_BOOL, false);
			n->b = e->val.b;
			n->i = e->val.b;
			n->f = e->val.b;
			return n;
		}
		default:
			return scalar(a, e->span, "null", 4, FTS_PY_NONE, false);
		}
	case FTS_E_NEG:
	case FTS_E_POS:
		if (e->nargs == 1 && is_number_const(e->args[0]))
			return number(c, e->span, e->kind == FTS_E_NEG ? "-" : "+", e->args[0]);
		if (e->nargs == 1 && e->args[0]->kind == FTS_E_NAME && !e->args[0]->parens
		    && strcmp(e->args[0]->name, "inf") == 0) {
			bool neg = e->kind == FTS_E_NEG;
			struct fts_node *n = scalar(a, e->span, neg ? "-.inf" : ".inf", neg ? 5 : 4,
						    FTS_PY_FLOAT, false);
			n->f = neg ? -(double)INFINITY : (double)INFINITY;
			return n;
		}
		break;
	case FTS_E_NAME:
		if (!e->parens && (!strcmp(e->name, "inf") || !strcmp(e->name, "nan"))) {
			struct fts_node *n = scalar(a, e->span, e->name[0] == 'i' ? ".inf" : ".nan", 4,
						    FTS_PY_FLOAT, false);
			n->f = e->name[0] == 'i' ? (double)INFINITY : (double)NAN;
			return n;
		}
		return scalar(a, e->span, e->name, strlen(e->name), FTS_PY_STR, false);
	case FTS_E_LIST:
	case FTS_E_TUPLE: {
		struct fts_node *s = node_new(a, FTS_N_SEQ, e->span);
		for (size_t i = 0; i < e->nargs; i++)
			seq_push(a, s, fts_dsl_value(pc, e->args[i]));
		return s;
	}
	case FTS_E_CALL:
		if (e->name && !strcmp(e->name, "{}")) {
			struct fts_node *m = node_new(a, FTS_N_MAP, e->span);
			for (size_t i = 0; i < e->nargs; i++)
				fts_dsl_map_add(pc, m, fts_dsl_key(pc, e->args[i]->args[0]),
						fts_dsl_value(pc, e->args[i]->args[1]), "key");
			return m;
		}
		break;
	default:
		break;
	}
	/* an expression (a lambda such as 0.95 ** epoch): the string FTS takes */
	size_t n;
	const char *t = slice(c, e->span, &n);
	return scalar(a, e->span, t, n, FTS_PY_STR, true);
}

struct fts_node *fts_dsl_key(struct fts_parse_ctx *pc, struct fts_expr *e)
{
	struct fts_node *k = fts_dsl_value(pc, e);
	if (k->kind != FTS_N_SCALAR) {
		fts_diag(ctx_of(pc)->b->d, FTS_E_DSL_VALUE, k->span,
			 "a mapping key must be a scalar, not a list or mapping");
		return scalar(pc->arena, k->span, "?", 1, FTS_PY_STR, true);
	}
	return k;
}

struct fts_node *fts_dsl_selector(struct fts_parse_ctx *pc, enum fts_dsl_sel kind,
				  const char *text, size_t len, struct fts_span span)
{
	struct fts_dsl_ctx *c = ctx_of(pc);
	struct fts_arena *a = pc->arena;
	switch (kind) {
	case FTS_DSL_SEL_WORD:
		if (fts_dsl_is_glob(text, len)) {
			const char *why;
			const char *re = fts_dsl_glob_to_regex(a, text, len, &why);
			if (!re) {
				fts_diag(c->b->d, FTS_E_DSL_GLOB, span,
					 fts_arena_strndup(a, text, len), why);
				re = "";
			}
			return scalar(a, span, re, strlen(re), FTS_PY_STR, true);
		}
		return scalar(a, span, text, len, FTS_PY_STR, false);
	case FTS_DSL_SEL_STRING:
	case FTS_DSL_SEL_REGEX:
		return scalar(a, span, text, len, FTS_PY_STR, true);
	case FTS_DSL_SEL_REST:
	default: {
		struct fts_node *n = scalar(a, span, "rest", 4, FTS_PY_STR, false);
		n->tag = FTS_DSL_REST_TAG;
		return n;
	}
	}
}

struct fts_node *fts_dsl_classref(struct fts_parse_ctx *pc, const char *path,
				  struct fts_span path_span, struct fts_node *args,
				  struct fts_span span)
{
	struct fts_node *m = fts_dsl_map(pc, span);
	struct fts_span kw = path_span;
	kw.end = kw.start;
	map_push(pc->arena, m, fts_dsl_str(pc, "class_path", kw), fts_dsl_str(pc, path, path_span));
	if (args)
		map_push(pc->arena, m, fts_dsl_str(pc, "init_args", args->span), args);
	return m;
}

/* --- phases -------------------------------------------------------------------- */

static void add_phase(struct fts_dsl_ctx *c, struct fts_node *key, struct fts_node *phase)
{
	struct dsl_build *b = c->b;
	if (key->py == FTS_PY_INT && !key->i_big && key->i >= 0 && key->i < MAX_TRACKED_KEY) {
		size_t k = (size_t)key->i;
		if (k >= b->nint_keys) {
			size_t n = b->nint_keys ? b->nint_keys : 64;
			while (n <= k)
				n *= 2;
			b->int_keys = fts_arena_realloc(b->a, b->int_keys,
							b->nint_keys * sizeof(*b->int_keys),
							n * sizeof(*b->int_keys));
			b->nint_keys = n;
		}
		if (b->int_keys[k].end) {
			report_dup(c, "phase", key, b->int_keys[k]);
			return;
		}
		b->int_keys[k] = key->span;
		b->int_keys[k].end = key->span.end ? key->span.end : 1;
		map_push(b->a, b->schedule, key, phase);
	} else {
		fts_dsl_map_add(&c->pc, b->schedule, key, phase, "phase");
	}
	if (key->py == FTS_PY_INT && !key->i_big && key->i < INT64_MAX)
		b->next_phase = key->i + 1;
	if (b->schedule->npairs == 1)
		b->schedule->span = phase->span;
	else if (phase->span.file == b->schedule->span.file && phase->span.end > b->schedule->span.end)
		b->schedule->span.end = phase->span.end;
}

void fts_dsl_phase_begin(struct fts_parse_ctx *pc, struct fts_node *key, struct fts_span kw)
{
	struct dsl_build *b = ctx_of(pc)->b;
	if (b->phase)
		fts_dsl_phase_end(pc, b->phase->span);
	if (!key) {
		char *t = fts_arena_printf(pc->arena, "%lld", (long long)b->next_phase);
		key = scalar(pc->arena, kw, t, strlen(t), FTS_PY_INT, false);
		key->i = b->next_phase;
		key->f = (double)key->i;
	}
	b->phase_key = key;
	b->phase = fts_dsl_map(pc, kw);
	b->params = NULL;
}

void fts_dsl_phase_end(struct fts_parse_ctx *pc, struct fts_span span)
{
	struct dsl_build *b = ctx_of(pc)->b;
	if (!b->phase)
		return;
	b->phase->span = span;
	struct fts_node *phase = b->phase, *key = b->phase_key;
	b->phase = NULL;
	b->phase_key = NULL;
	b->params = NULL;
	add_phase(ctx_of(pc), key, phase);
}

/* Statements that belong in a phase but were written outside one. */
static bool need_phase(struct fts_parse_ctx *pc, struct fts_span span, const char *what)
{
	if (ctx_of(pc)->b->phase)
		return true;
	fts_diag(ctx_of(pc)->b->d, FTS_E_DSL_VALUE, span,
		 fts_arena_printf(pc->arena, "'%s' belongs in a phase", what));
	return false;
}

void fts_dsl_thaw(struct fts_parse_ctx *pc, struct fts_span kw, struct fts_node *sels)
{
	struct dsl_build *b = ctx_of(pc)->b;
	if (!need_phase(pc, kw, "thaw"))
		return;
	if (b->params) {
		for (size_t i = 0; i < sels->nitems; i++)
			seq_push(pc->arena, b->params, sels->items[i]);
		return;
	}
	size_t before = b->phase->npairs;
	fts_dsl_map_add(pc, b->phase, fts_dsl_str(pc, "params", kw), sels, "phase entry");
	if (b->phase->npairs != before)
		b->params = sels;
}

void fts_dsl_phase_item(struct fts_parse_ctx *pc, struct fts_node *key, struct fts_node *value)
{
	struct dsl_build *b = ctx_of(pc)->b;
	if (!need_phase(pc, key->span, key->text))
		return;
	fts_dsl_map_add(pc, b->phase, key, value, "phase entry");
}

void fts_dsl_until(struct fts_parse_ctx *pc, struct fts_span kw, struct fts_node *epoch)
{
	struct dsl_build *b = ctx_of(pc)->b;
	if (!need_phase(pc, kw, "until"))
		return;
	fts_dsl_map_add(pc, b->phase, fts_dsl_str(pc, "max_transition_epoch", kw), epoch,
			"phase entry");
}

static struct fts_node *model_args(struct fts_parse_ctx *pc)
{
	struct dsl_build *b = ctx_of(pc)->b;
	if (!b->model_args)
		b->model_args = fts_dsl_map(pc, fts_span_make(b->main_file, 0, 0));
	return b->model_args;
}

void fts_dsl_optimizer(struct fts_parse_ctx *pc, struct fts_span kw, struct fts_node *cls,
		       struct fts_span span)
{
	struct dsl_build *b = ctx_of(pc)->b;
	if (b->phase) {
		struct fts_node *dir = fts_dsl_map(pc, span);
		map_push(pc->arena, dir, fts_dsl_str(pc, "optimizer_init", cls->span), cls);
		fts_dsl_map_add(pc, b->phase, fts_dsl_str(pc, "new_optimizer", kw), dir, "phase entry");
		return;
	}
	fts_dsl_map_add(pc, model_args(pc), fts_dsl_str(pc, "optimizer_init", kw), cls,
			"initial setting");
}

void fts_dsl_lr_scheduler(struct fts_parse_ctx *pc, struct fts_span kw, struct fts_node *cls,
			  struct fts_node *clauses, struct fts_span span)
{
	struct dsl_build *b = ctx_of(pc)->b;
	if (b->phase) {
		struct fts_node *dir = fts_dsl_map(pc, span);
		map_push(pc->arena, dir, fts_dsl_str(pc, "lr_scheduler_init", cls->span), cls);
		for (size_t i = 0; clauses && i < clauses->npairs; i++)
			map_push(pc->arena, dir, clauses->pairs[i].key, clauses->pairs[i].value);
		fts_dsl_map_add(pc, b->phase, fts_dsl_str(pc, "new_lr_scheduler", kw), dir,
				"phase entry");
		return;
	}
	struct fts_node *m = model_args(pc);
	fts_dsl_map_add(pc, m, fts_dsl_str(pc, "lr_scheduler_init", kw), cls, "initial setting");
	for (size_t i = 0; clauses && i < clauses->npairs; i++) {
		struct fts_node *k = clauses->pairs[i].key;
		if (strcmp(k->text, "pl_lrs_cfg") == 0)
			fts_dsl_map_add(pc, m, k, clauses->pairs[i].value, "initial setting");
		else
			fts_diag(b->d, FTS_E_DSL_VALUE, k->span,
				 fts_arena_printf(pc->arena, "'%s' applies to a phase's lr_scheduler only",
						  strcmp(k->text, "init_pg_lrs") == 0 ? "group_lrs"
						  : "use_current_lrs"));
	}
}

void fts_dsl_set(struct fts_parse_ctx *pc, const char *name, struct fts_span name_span,
		 struct fts_node *value, struct fts_span span)
{
	struct dsl_build *b = ctx_of(pc)->b;
	(void)span;
	if (b->phase) {
		fts_diag(b->d, FTS_E_DSL_VALUE, name_span, "'set' is a schedule-wide setting: write it outside the phases");
		return;
	}
	struct fts_node *key = fts_dsl_str(pc, name, name_span);
	if (strcmp(name, "max_epochs") == 0) {
		if (b->max_epochs) {
			report_dup(ctx_of(pc), "setting", key, b->max_epochs_key->span);
			return;
		}
		b->max_epochs = value;
		b->max_epochs_key = key;
		return;
	}
	if (strcmp(name, "ft_schedule") == 0) {
		fts_diag(b->d, FTS_E_DSL_VALUE, name_span, "the schedule is written with phase statements, not 'set ft_schedule'");
		return;
	}
	if (!b->settings)
		b->settings = fts_dsl_map(pc, name_span);
	fts_dsl_map_add(pc, b->settings, key, value, "setting");
}

/* --- driver -------------------------------------------------------------------- */

static void dsl_report(void *ctx, struct fts_span span, const char *msg)
{
	fts_diag((struct fts_diags *)ctx, FTS_E_DSL_SYNTAX, span, msg);
}

static void parse_file(struct dsl_build *b, uint32_t file, unsigned depth)
{
	const struct fts_source *src = fts_source_get(b->d->src, file);
	struct fts_dsl_ctx c;

	memset(&c, 0, sizeof(c));
	fts_parse_begin(&c.pc, b->a, file, TOK_START_SCHEDULE, dsl_report, b->d);
	c.b = b;
	c.text = src->text;
	c.len = src->len;
	c.file = file;
	c.depth = depth;
	int rc = fts_parse_run(&c.pc, src->text, src->len);
	if (rc && !c.pc.nerrors)
		fts_diag(b->d, FTS_E_DSL_SYNTAX, fts_span_make(file, src->len, src->len), "syntax error");
	/* a phase left open by error recovery */
	if (depth == 0 && b->phase)
		fts_dsl_phase_end(&c.pc, b->phase->span);
	fts_parse_release(&c.pc);
}

/* Is the resolved path p inside the resolved folder dir? */
static bool under(const char *p, const char *dir)
{
	size_t n = strlen(dir);
	if (n == 0)
		return false;
	if (n == 1 && dir[0] == '/')
		return true;
	return strncmp(p, dir, n) == 0 && (p[n] == '/' || p[n] == '\0');
}

void fts_dsl_include(struct fts_parse_ctx *pc, const char *path, struct fts_span span)
{
	struct fts_dsl_ctx *c = ctx_of(pc);
	struct dsl_build *b = c->b;
	if (b->flags & FTS_DSL_NO_INCLUDE) {
		fts_diag(b->d, FTS_E_DSL_INCLUDE, span, path, "includes are disabled here");
		return;
	}
	if (c->depth + 1 >= FTS_DSL_MAX_INCLUDE) {
		fts_diag(b->d, FTS_E_DSL_INCLUDE, span, path, "includes nest too deeply (a cycle?)");
		return;
	}
	const char *full = path;
	const char *name = fts_source_get(b->d->src, c->file)->name;
	const char *slash = name ? strrchr(name, '/') : NULL;
	if (path[0] != '/' && slash)
		full = fts_arena_printf(pc->arena, "%.*s/%s", (int)(slash - name), name, path);
	/* where it really is, and whether an include may reach there */
	char real[PATH_MAX];
	if (!realpath(full, real)) {
		fts_diag(b->d, FTS_E_DSL_INCLUDE, span, path, strerror(errno));
		return;
	}
	bool allowed = path[0] != '/' && under(real, b->main_dir);
	for (size_t k = 0; k < b->ninclude_dirs && !allowed; k++) {
		char dir[PATH_MAX];
		allowed = realpath(b->include_dirs[k], dir) && under(real, dir);
	}
	if (!allowed) {
		fts_diag(b->d, FTS_E_DSL_INCLUDE, span, path, path[0] == '/'
			 ? "an absolute path is allowed only inside an --include-dir"
			 : fts_arena_printf(pc->arena, "it is outside the schedule's folder '%s' (allow another "
					    "folder with --include-dir)", b->main_dir[0] ? b->main_dir : "?"));
		return;
	}
	char err[256];
	uint32_t id;
	if (fts_source_load(b->d->src, full, FTS_MAX_INPUT, &id, err, sizeof(err))) {
		fts_diag(b->d, FTS_E_DSL_INCLUDE, span, path, err);
		return;
	}
	/* a file that is not in the language at all (a stray path to some other
	 * file): one error, and nothing of its content */
	size_t n0 = b->d->n, e0 = b->d->errors;
	size_t before = b->schedule->npairs + (b->settings ? b->settings->npairs : 0) +
		(b->model_args != NULL) + (b->max_epochs != NULL);
	parse_file(b, id, c->depth + 1);
	size_t after = b->schedule->npairs + (b->settings ? b->settings->npairs : 0) +
		(b->model_args != NULL) + (b->max_epochs != NULL);
	bool syntax = false;     /* its own text fails to parse (not a nested include) */
	for (size_t k = n0; k < b->d->n; k++)
		syntax |= b->d->v[k]->id == FTS_E_DSL_SYNTAX && b->d->v[k]->span.file == id;
	if (b->d->errors != e0 && after == before && syntax) {
		fts_diags_truncate(b->d, n0);
		fts_diag(b->d, FTS_E_DSL_INCLUDE, span, path, "it is not a schedule in the ftsc language "
			 "(its content is not shown)");
	}
}

static struct fts_node *key_node(struct dsl_build *b, const char *k)
{
	return scalar(b->a, fts_span_make(b->main_file, 0, 0), k, strlen(k), FTS_PY_STR, false);
}

static struct fts_node *finish(struct dsl_build *b)
{
	struct fts_arena *a = b->a;
	const struct fts_source *src = fts_source_get(b->d->src, b->main_file);
	struct fts_span whole = fts_span_make(b->main_file, 0, src->len);
	struct fts_node *root = node_new(a, FTS_N_MAP, whole);
	if (b->model_args) {
		struct fts_node *model = node_new(a, FTS_N_MAP, b->model_args->span);
		map_push(a, model, key_node(b, "init_args"), b->model_args);
		map_push(a, root, key_node(b, "model"), model);
	}
	struct fts_node *trainer = node_new(a, FTS_N_MAP, whole);
	if (b->max_epochs)
		map_push(a, trainer, b->max_epochs_key, b->max_epochs);
	struct fts_node *cbs = node_new(a, FTS_N_SEQ, whole);
	struct fts_node *cb = node_new(a, FTS_N_MAP, whole);
	struct fts_node *args = node_new(a, FTS_N_MAP, whole);
	map_push(a, cb, key_node(b, "class_path"), key_node(b, FTS_DSL_FTS_CLASS));
	if (b->schedule->npairs)        /* no phases: implicit mode, as without ft_schedule */
		map_push(a, args, key_node(b, "ft_schedule"), b->schedule);
	for (size_t i = 0; b->settings && i < b->settings->npairs; i++)
		map_push(a, args, b->settings->pairs[i].key, b->settings->pairs[i].value);
	map_push(a, cb, key_node(b, "init_args"), args);
	seq_push(a, cbs, cb);
	map_push(a, trainer, key_node(b, "callbacks"), cbs);
	map_push(a, root, key_node(b, "trainer"), trainer);
	return root;
}

struct fts_node *fts_dsl_parse_opts(struct fts_arena *a, struct fts_diags *d, uint32_t file,
				    unsigned flags, const char *const *include_dirs, size_t ninclude_dirs)
{
	struct dsl_build b;
	size_t errors = d->errors;

	memset(&b, 0, sizeof(b));
	b.a = a;
	b.d = d;
	b.flags = flags;
	b.include_dirs = include_dirs;
	b.ninclude_dirs = ninclude_dirs;
	const char *name = fts_source_get(d->src, file)->name;
	const char *slash = name ? strrchr(name, '/') : NULL;
	char *dir = slash ? fts_arena_printf(a, "%.*s", (int)(slash - name + (slash == name)), name)
		: fts_arena_strdup(a, ".");
	if (!realpath(dir, b.main_dir))
		b.main_dir[0] = '\0';
	b.main_file = file;
	b.schedule = node_new(a, FTS_N_MAP, fts_span_make(file, 0, 0));
	parse_file(&b, file, 0);
	if (d->errors != errors)
		return NULL;
	return finish(&b);
}

struct fts_node *fts_dsl_parse_ex(struct fts_arena *a, struct fts_diags *d, uint32_t file,
				  unsigned flags)
{
	return fts_dsl_parse_opts(a, d, file, flags, NULL, 0);
}

struct fts_node *fts_dsl_parse(struct fts_arena *a, struct fts_diags *d, uint32_t file)
{
	return fts_dsl_parse_ex(a, d, file, 0);
}

/* --- the parts of a config-shaped tree ------------------------------------------ */

bool fts_dsl_is_config(const struct fts_node *root)
{
	return root && root->kind == FTS_N_MAP
		&& (fts_node_value(root, "model") || fts_node_value(root, "trainer"));
}

void fts_dsl_parts(const struct fts_node *root, struct fts_dsl_parts *out)
{
	memset(out, 0, sizeof(*out));
	if (!fts_dsl_is_config(root)) {
		out->schedule = root;
		return;
	}
	out->model_args = fts_node_value(fts_node_value(root, "model"), "init_args");
	out->trainer = fts_node_value(root, "trainer");
	const struct fts_node *cbs = fts_node_value(out->trainer, "callbacks");
	for (size_t i = 0; cbs && cbs->kind == FTS_N_SEQ && i < cbs->nitems; i++) {
		const struct fts_node *cp = fts_node_value(cbs->items[i], "class_path");
		if (cp && cp->kind == FTS_N_SCALAR && cp->text
		    && (strcmp(cp->text, FTS_DSL_FTS_CLASS) == 0
			|| strcmp(cp->text, "finetuning_scheduler.fts.FinetuningScheduler") == 0)) {
			out->fts_args = fts_node_value(cbs->items[i], "init_args");
			out->schedule = fts_node_value(out->fts_args, "ft_schedule");
			break;
		}
	}
}

/* --- rest -------------------------------------------------------------------------- */

bool fts_dsl_has_rest(const struct fts_node *n)
{
	if (!n)
		return false;
	if (n->kind == FTS_N_SCALAR)
		return n->tag && strcmp(n->tag, FTS_DSL_REST_TAG) == 0;
	for (size_t i = 0; i < n->nitems; i++)
		if (fts_dsl_has_rest(n->items[i]))
			return true;
	for (size_t i = 0; i < n->npairs; i++)
		if (fts_dsl_has_rest(n->pairs[i].value))
			return true;
	return false;
}

static bool is_rest(const struct fts_node *n)
{
	return n->kind == FTS_N_SCALAR && n->tag && strcmp(n->tag, FTS_DSL_REST_TAG) == 0;
}

/* Mark what entry e thaws under FTS's rule: exact name, else re.match. */
static void mark_entry(const struct fts_names *ix, const struct fts_node *e, bool *thawed)
{
	if (e->kind != FTS_N_SCALAR || e->py != FTS_PY_STR)
		return;
	long k = fts_names_find(ix, e->text, e->len);
	if (k >= 0) {
		thawed[k] = true;
		return;
	}
	struct fts_pyre *re = fts_pyre_compile(e->text, e->len, NULL, 0, NULL);
	if (!re)
		return;
	struct fts_matches m = {0};
	fts_names_match(ix, re, &m);
	for (size_t i = 0; i < m.n; i++)
		thawed[m.idx[i]] = true;
	fts_matches_free(&m);
	fts_pyre_free(re);
}

struct phase_ref {
	int64_t key;
	size_t index;
};

static int phase_cmp(const void *x, const void *y)
{
	const struct phase_ref *a = x, *b = y;
	if (a->key != b->key)
		return a->key < b->key ? -1 : 1;
	return a->index < b->index ? -1 : a->index > b->index;
}

int fts_dsl_expand_rest(struct fts_arena *a, struct fts_diags *d, struct fts_node *root,
			const struct fts_names *names)
{
	struct fts_dsl_parts parts;
	fts_dsl_parts(root, &parts);
	struct fts_node *sched = (struct fts_node *)parts.schedule;
	if (!sched || sched->kind != FTS_N_MAP || !fts_dsl_has_rest(sched))
		return 0;
	int errors = 0;
	uint32_t nn = fts_names_count(names);
	bool *thawed = fts_xcalloc(nn ? nn : 1, sizeof(bool));
	struct phase_ref *order = fts_xcalloc(sched->npairs ? sched->npairs : 1, sizeof(*order));
	size_t np = 0;
	for (size_t i = 0; i < sched->npairs; i++) {
		int64_t k;
		bool big;
		if (fts_node_pyint(sched->pairs[i].key, &k, &big) != 0)
			continue;
		order[np].key = k;
		order[np].index = i;
		np++;
	}
	qsort(order, np, sizeof(*order), phase_cmp);
	const struct fts_node *first_rest = NULL;
	for (size_t p = 0; p < np; p++) {
		const struct fts_node *phase = sched->pairs[order[p].index].value;
		struct fts_node *params = (struct fts_node *)fts_node_value(phase, "params");
		if (!params || params->kind != FTS_N_SEQ)
			continue;
		size_t rest_at = SIZE_MAX;
		for (size_t i = 0; i < params->nitems; i++) {
			if (!is_rest(params->items[i])) {
				mark_entry(names, params->items[i], thawed);
				continue;
			}
			if (first_rest || rest_at != SIZE_MAX) {
				struct fts_diag *dg = fts_diag(d, FTS_E_DSL_REST, params->items[i]->span,
							       "'rest' may appear once in a schedule");
				fts_diag_note(d, dg, first_rest ? first_rest->span
					      : params->items[rest_at]->span, "first used here");
				errors++;
				continue;
			}
			rest_at = i;
		}
		if (rest_at == SIZE_MAX)
			continue;
		struct fts_node *rest = params->items[rest_at];
		first_rest = rest;
		size_t add = 0;
		for (uint32_t k = 0; k < nn; k++)
			add += !thawed[k];
		size_t n = params->nitems - 1 + add;
		struct fts_node **items = fts_arena_alloc(a, (n ? n : 1) * sizeof(*items));
		size_t o = 0;
		for (size_t i = 0; i < params->nitems; i++) {
			if (i != rest_at) {
				if (!is_rest(params->items[i]))
					items[o++] = params->items[i];
				continue;
			}
			for (uint32_t k = 0; k < nn; k++) {
				if (thawed[k])
					continue;
				size_t len;
				const char *nm = fts_names_get(names, k, &len);
				items[o++] = scalar(a, rest->span, nm, len, FTS_PY_STR, false);
				thawed[k] = true;
			}
		}
		params->items = items;
		params->nitems = o;
		params->weight = 1 + o;
	}
	free(order);
	free(thawed);
	return errors;
}
