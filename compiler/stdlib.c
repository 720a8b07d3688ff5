/*
 * stdlib.c - load the embedded standard library; check and resolve the
 * init_args of an optimizer or lr_scheduler against its declaration.
 *
 * Stage: semantic data for the checker and the emitter (see stdlib.h).
 * The embedded texts come from build/stdlib_embed.c (tools/embed.c).
 */
#include "fts_stdlib.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

extern const char *const fts_stdlib_files[];
extern const char *const fts_stdlib_texts[];
extern const size_t fts_stdlib_lens[];
extern const size_t fts_stdlib_nfiles;

/* ---- values and types --------------------------------------------------- */

struct fts_value fts_value_from_node(struct fts_arena *a, const struct fts_node *n)
{
	struct fts_value v = {0};

	if (!n)
		return fts_value_none();
	switch (n->kind) {
	case FTS_N_SCALAR:
		switch (n->py) {
		case FTS_PY_NONE: return fts_value_none();
		case FTS_PY_BOOL: return fts_value_bool(n->b);
		case FTS_PY_INT:
			return n->i_big ? fts_value_float(n->f) : fts_value_int(n->i);
		case FTS_PY_FLOAT: return fts_value_float(n->f);
		case FTS_PY_STR:
		case FTS_PY_TIMESTAMP:
			return fts_value_str(n->text ? n->text : "", n->text ? n->len : 0);
		}
		return fts_value_none();
	case FTS_N_SEQ:
		v.kind = FTS_V_LIST;
		v.len = n->nitems;
		v.items = fts_arena_alloc(a, (n->nitems ? n->nitems : 1) * sizeof *v.items);
		for (size_t k = 0; k < n->nitems; k++)
			v.items[k] = fts_value_from_node(a, n->items[k]);
		return v;
	case FTS_N_MAP:
		v.kind = FTS_V_DICT;
		return v;
	}
	return v;
}

static void type_str_into(char *buf, size_t cap, const struct fts_type *t, struct fts_arena *a)
{
	static const char *const names[] = {
		[FTS_T_ANY] = "any", [FTS_T_FLOAT] = "float", [FTS_T_INT] = "int",
		[FTS_T_BOOL] = "bool", [FTS_T_STR] = "str", [FTS_T_NONE] = "none",
		[FTS_T_TUPLE] = "tuple", [FTS_T_LIST] = "list", [FTS_T_OPTIONAL] = "optional",
		[FTS_T_UNION] = "", [FTS_T_CHOICE] = "choice", [FTS_T_LAMBDA] = "lambda",
		[FTS_T_SCHEDULER_LIST] = "scheduler_list",
	};
	size_t o = strlen(buf);

#define PUT(s) do { snprintf(buf + o, cap - o, "%s", (s)); o = strlen(buf); } while (0)
	switch (t->kind) {
	case FTS_T_UNION:
		for (size_t k = 0; k < t->nelems; k++) {
			if (k)
				PUT(" | ");
			type_str_into(buf, cap, t->elems[k], a);
			o = strlen(buf);
		}
		return;
	case FTS_T_CHOICE:
		PUT("choice(");
		for (size_t k = 0; k < t->nchoices; k++) {
			if (k)
				PUT(", ");
			PUT(fts_value_repr(a, &t->choices[k]));
		}
		PUT(")");
		return;
	case FTS_T_TUPLE:
	case FTS_T_LIST:
	case FTS_T_OPTIONAL:
		PUT(names[t->kind]);
		PUT("(");
		for (size_t k = 0; k < t->nelems; k++) {
			if (k)
				PUT(", ");
			type_str_into(buf, cap, t->elems[k], a);
			o = strlen(buf);
		}
		if (t->variadic)
			PUT(", ...");
		PUT(")");
		return;
	default:
		PUT(names[t->kind]);
		return;
	}
#undef PUT
}

char *fts_type_str(struct fts_arena *a, const struct fts_type *t)
{
	char buf[512] = "";
	type_str_into(buf, sizeof buf, t, a);
	return fts_arena_strdup(a, buf);
}

bool fts_type_accepts(const struct fts_type *t, const struct fts_value *v)
{
	bool seq = v->kind == FTS_V_LIST || v->kind == FTS_V_TUPLE;

	switch (t->kind) {
	case FTS_T_ANY: return true;
	case FTS_T_FLOAT:
		return v->kind == FTS_V_FLOAT || v->kind == FTS_V_INT || v->kind == FTS_V_BOOL;
	case FTS_T_INT: return v->kind == FTS_V_INT || v->kind == FTS_V_BOOL;
	case FTS_T_BOOL: return v->kind == FTS_V_BOOL;
	case FTS_T_STR: return v->kind == FTS_V_STR;
	case FTS_T_NONE: return v->kind == FTS_V_NONE;
	case FTS_T_OPTIONAL:
		return v->kind == FTS_V_NONE || fts_type_accepts(t->elems[0], v);
	case FTS_T_UNION:
		for (size_t k = 0; k < t->nelems; k++)
			if (fts_type_accepts(t->elems[k], v))
				return true;
		return false;
	case FTS_T_CHOICE:
		for (size_t k = 0; k < t->nchoices; k++)
			if (t->choices[k].kind == v->kind || (t->choices[k].kind != FTS_V_STR &&
							      v->kind != FTS_V_STR))
				if (fts_value_equal(&t->choices[k], v))
					return true;
		return false;
	case FTS_T_TUPLE:
		if (!seq)
			return false;
		if (t->variadic) {
			for (size_t k = 0; k < v->len; k++)
				if (!fts_type_accepts(t->elems[0], &v->items[k]))
					return false;
			return true;
		}
		if (v->len != t->nelems)
			return false;
		for (size_t k = 0; k < v->len; k++)
			if (!fts_type_accepts(t->elems[k], &v->items[k]))
				return false;
		return true;
	case FTS_T_LIST:
		if (!seq)
			return false;
		for (size_t k = 0; k < v->len; k++)
			if (!fts_type_accepts(t->elems[0], &v->items[k]))
				return false;
		return true;
	case FTS_T_LAMBDA:
		if (v->kind == FTS_V_STR)
			return true;
		if (!seq)
			return false;
		for (size_t k = 0; k < v->len; k++)
			if (v->items[k].kind != FTS_V_STR)
				return false;
		return true;
	case FTS_T_SCHEDULER_LIST:
		if (!seq)
			return false;
		for (size_t k = 0; k < v->len; k++)
			if (v->items[k].kind != FTS_V_DICT)
				return false;
		return true;
	}
	return false;
}

/* ---- loading ------------------------------------------------------------ */

struct load_ctx {
	const char *name;               /* file name for build-bug messages */
	const char *text;
	bool fatal;                     /* embedded stdlib: any problem aborts */
	fts_report_fn report;
	void *report_ctx;
	int nerrors;
};

static void load_report(void *vctx, struct fts_span sp, const char *msg)
{
	struct load_ctx *lc = vctx;
	lc->nerrors++;
	if (lc->fatal) {
		unsigned line = 1;
		for (uint32_t k = 0; k < sp.start && lc->text[k]; k++)
			line += lc->text[k] == '\n';
		fprintf(stderr, "ftsc: BUG: embedded %s:%u: %s\n", lc->name, line, msg);
		abort();
	}
	if (lc->report)
		lc->report(lc->report_ctx, sp, msg);
}

__attribute__((format(printf, 3, 4)))
static void lerr(struct load_ctx *lc, struct fts_span sp, const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	load_report(lc, sp, buf);
}

const struct fts_decl_class *fts_stdlib_find(const struct fts_stdlib *lib, const char *path)
{
	if (!path)
		return NULL;
	for (size_t i = 0; i < lib->classes.n; i++) {
		const struct fts_decl_class *c = lib->classes.v[i];
		if (!strcmp(c->path, path))
			return c;
		for (size_t k = 0; k < c->naliases; k++)
			if (!strcmp(c->aliases[k], path))
				return c;
	}
	return NULL;
}

const struct fts_decl_class *fts_stdlib_by_id(const struct fts_stdlib *lib, unsigned id)
{
	for (size_t i = 0; i < lib->classes.n; i++)
		if (lib->classes.v[i]->id == id)
			return lib->classes.v[i];
	return NULL;
}

const struct fts_decl_arg *fts_class_arg(const struct fts_decl_class *c, const char *name)
{
	for (size_t k = 0; k < c->nargs; k++)
		if (!c->args[k].fixed && !strcmp(c->args[k].name, name))
			return &c->args[k];
	return NULL;
}

/* Add the classes of one parsed file: ids, duplicates, defaults. */
static void add_classes(struct fts_stdlib *lib, struct load_ctx *lc, struct fts_decl_file *df,
			bool user)
{
	for (size_t i = 0; i < df->nclasses; i++) {
		struct fts_decl_class *c = df->classes[i];
		bool ok = true;

		if (fts_stdlib_find(lib, c->path)) {
			lerr(lc, c->name_span, "class '%s' is already declared", c->path);
			continue;
		}
		for (size_t k = 0; k < c->naliases; k++)
			if (fts_stdlib_find(lib, c->aliases[k])) {
				lerr(lc, c->name_span, "alias '%s' is already declared", c->aliases[k]);
				ok = false;
			}
		if (!c->has_id)
			c->id = user ? lib->next_user_id++ : (unsigned)lib->classes.n;
		if (fts_stdlib_by_id(lib, c->id)) {
			lerr(lc, c->name_span, "class id %u of '%s' is already taken by '%s'", c->id,
			     c->path, fts_stdlib_by_id(lib, c->id)->path);
			ok = false;
		}
		for (size_t k = 0; k < c->nargs; k++) {
			struct fts_decl_arg *a = &c->args[k];
			struct fts_eval_error err;
			if (!a->def)
				continue;
			if (fts_expr_eval(a->def, &lib->arena, NULL, NULL, &a->defval, &err)) {
				lerr(lc, a->def->span, "default of '%s' does not evaluate: %s", a->name,
				     err.msg);
				ok = false;
				continue;
			}
			if (!fts_type_accepts(a->type, &a->defval)) {
				lerr(lc, a->def->span, "default %s of '%s' is not a %s",
				     fts_value_repr(&lib->arena, &a->defval), a->name,
				     fts_type_str(&lib->arena, a->type));
				ok = false;
			}
		}
		for (size_t k = 0; k < c->nsetstates; k++) {
			struct fts_decl_setstate *st = &c->setstates[k];
			struct fts_eval_error err;
			const struct fts_decl_arg *a = NULL;
			for (size_t j = 0; j < c->nargs; j++)     /* `const`s count: group keys */
				if (!strcmp(c->args[j].name, st->name))
					a = &c->args[j];
			if (!a) {
				lerr(lc, st->span, "'%s' sets '%s', which is not an argument of the class",
				     c->path, st->name);
				ok = false;
			} else if (fts_expr_eval(st->expr, &lib->arena, NULL, NULL, &st->value, &err)) {
				lerr(lc, st->expr->span, "value of '%s' does not evaluate: %s", st->name, err.msg);
				ok = false;
			} else if (!fts_type_accepts(a->type, &st->value)) {
				lerr(lc, st->expr->span, "%s is not a %s", fts_value_repr(&lib->arena, &st->value),
				     fts_type_str(&lib->arena, a->type));
				ok = false;
			}
		}
		if (ok)
			FTS_VEC_PUSH(lib->classes, c);
	}
}

struct fts_stdlib *fts_stdlib_load(void)
{
	struct fts_stdlib *lib = fts_xcalloc(1, sizeof *lib);

	fts_arena_init(&lib->arena);
	lib->next_user_id = FTS_STDLIB_USER_ID_BASE;
	for (size_t f = 0; f < fts_stdlib_nfiles; f++) {
		struct load_ctx lc = {fts_stdlib_files[f], fts_stdlib_texts[f], true, NULL, NULL, 0};
		struct fts_decl_file df;
		fts_decl_parse(&lib->arena, (uint32_t)f, fts_stdlib_texts[f], fts_stdlib_lens[f],
			       load_report, &lc, &df);
		add_classes(lib, &lc, &df, false);
	}
	return lib;
}

int fts_stdlib_load_extra(struct fts_stdlib *lib, struct fts_sources *src, uint32_t file,
			  fts_report_fn report, void *ctx)
{
	const struct fts_source *s = fts_source_get(src, file);
	struct load_ctx lc = {s->name, s->text, false, report, ctx, 0};
	struct fts_decl_file df;

	fts_decl_parse(&lib->arena, file, s->text, s->len, load_report, &lc, &df);
	add_classes(lib, &lc, &df, true);
	return lc.nerrors;
}

void fts_stdlib_free(struct fts_stdlib *lib)
{
	if (!lib)
		return;
	FTS_VEC_FREE(lib->classes);
	fts_arena_release(&lib->arena);
	free(lib);
}

/* ---- did-you-mean --------------------------------------------------------- */

static const char *closest(const char *word, const char *const *cands, size_t n)
{
	const char *best = NULL;
	size_t bestd = (size_t)-1, lw = strlen(word);
	size_t limit = lw / 3 > 2 ? lw / 3 : 2;
	for (size_t k = 0; k < n; k++) {
		size_t d = fts_edit_distance(word, lw, cands[k], strlen(cands[k]), limit, true);
		if (d < bestd) {
			bestd = d;
			best = cands[k];
		}
	}
	return bestd <= limit ? best : NULL;
}

const char *fts_stdlib_suggest(const struct fts_stdlib *lib, const char *path)
{
	FTS_VEC(const char *) c = {0};
	const char *r, *dot = strrchr(path, '.');

	for (size_t i = 0; i < lib->classes.n; i++) {
		FTS_VEC_PUSH(c, lib->classes.v[i]->path);
		for (size_t k = 0; k < lib->classes.v[i]->naliases; k++)
			FTS_VEC_PUSH(c, lib->classes.v[i]->aliases[k]);
	}
	/* right class name, wrong module (torch.optim.StepLR) wins over spelling */
	const char *name = dot ? dot + 1 : path;
	r = NULL;
	for (size_t i = 0; i < lib->classes.n && !r; i++)
		if (!strcmp(lib->classes.v[i]->name, name))
			r = lib->classes.v[i]->path;
	if (!r)
		r = closest(path, c.v, c.n);
	FTS_VEC_FREE(c);
	return r;
}

/* ---- argument checking ------------------------------------------------------ */

struct given {
	const char *name;
	const struct fts_node *key;     /* may be NULL */
	const struct fts_node *node;    /* value node */
	struct fts_value value;
	bool bad;                       /* unknown or of the wrong type */
};

struct chk {
	const struct fts_stdlib *lib;
	const struct fts_decl_class *cls;
	struct fts_arena *a;
	fts_arg_report report;
	void *ctx;
	int n;
	struct fts_span where;
	struct fts_resolved_arg *res;   /* cls->nargs */
	struct given *given;
	size_t ngiven;
	const struct fts_groups_env *genv; /* for @groups checks, or NULL */
	bool skip;                      /* a referenced argument is bad */
	bool groups_only;               /* report only @groups checks failing in genv */
};

__attribute__((format(printf, 5, 6)))
static void rep(struct chk *ck, enum fts_argerr kind, struct fts_span sp, const char *sugg,
		const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	ck->n++;
	if (ck->report)
		ck->report(ck->ctx, kind, sp, buf, sugg);
}

static struct fts_span node_span(const struct fts_node *n, struct fts_span dflt)
{
	return n && fts_span_valid(n->span) ? n->span : dflt;
}

/* An unquoted scalar that PyYAML reads as str but is a number to us: 1e-5. */
static const struct fts_node *yaml_number_string(const struct fts_node *n)
{
	if (!n)
		return NULL;
	if (n->kind == FTS_N_SEQ) {
		for (size_t k = 0; k < n->nitems; k++) {
			const struct fts_node *r = yaml_number_string(n->items[k]);
			if (r)
				return r;
		}
		return NULL;
	}
	if (n->kind != FTS_N_SCALAR || n->py != FTS_PY_STR || n->quoted || !n->text || !n->len)
		return NULL;
	char *end;
	(void)strtod(n->text, &end);
	return (size_t)(end - n->text) == n->len ? n : NULL;
}

/* 1e-5 -> 1.0e-5; 5E3 -> 5.0E3 */
static char *yaml_float_spelling(struct fts_arena *a, const char *t)
{
	const char *e = strpbrk(t, "eE");
	if (!e || memchr(t, '.', (size_t)(e - t)))
		return fts_arena_strdup(a, t);
	return fts_arena_printf(a, "%.*s.0%s", (int)(e - t), t, e);
}

struct env_ctx {
	struct chk *ck;
	const struct fts_groups_env *g; /* NULL: group names unbound */
	bool probe;                     /* FTS's setup probe (V-R13 drops min_lr) */
};

static bool env_lookup(void *vctx, const char *name, struct fts_value *out)
{
	struct env_ctx *ec = vctx;
	struct chk *ck = ec->ck;

	for (size_t k = 0; k < ck->cls->nargs; k++)
		if (!strcmp(ck->cls->args[k].name, name)) {
			if (ck->res[k].missing)
				return false;
			if (ec->probe && (ck->cls->flags & FTS_CLS_PLATEAU) && !strcmp(name, "min_lr") &&
			    ck->cls->args[k].def) {
				*out = ck->cls->args[k].defval;
				return true;
			}
			for (size_t j = 0; j < ck->ngiven; j++)
				if (ck->given[j].bad && !strcmp(ck->given[j].name, name))
					ck->skip = true;
			*out = ck->res[k].value;
			return true;
		}
	if (ec->g) {
		int v = -1;
		if (!strcmp(name, "ngroups"))
			v = ec->g->ngroups;
		else if (!strcmp(name, "param_ndim"))
			v = ec->g->param_ndim;
		else if (!strcmp(name, "opt_momentum")) {
			if (ec->g->opt_momentum < 0)
				return false;
			*out = fts_value_bool(ec->g->opt_momentum != 0);
			return true;
		}
		if (v >= 0) {
			*out = fts_value_int(v);
			return true;
		}
	}
	return false;
}

struct blame {
	struct chk *ck;
	struct fts_span span;
	bool found;
};

static void blame_name(void *vctx, const char *name, struct fts_span sp)
{
	struct blame *b = vctx;
	(void)sp;
	if (b->found)
		return;
	for (size_t j = 0; j < b->ck->ngiven; j++)
		if (!strcmp(b->ck->given[j].name, name)) {
			b->span = node_span(b->ck->given[j].node, b->ck->where);
			b->found = true;
			return;
		}
}

static char *format_message(struct chk *ck, const struct fts_decl_check *c, struct env_ctx *ec)
{
	char buf[1024] = "";
	size_t o = 0;

	for (size_t k = 0; k < c->nparts; k++) {
		const char *piece = c->parts[k].text;
		if (c->parts[k].expr) {
			struct fts_value v;
			if (fts_expr_eval(c->parts[k].expr, ck->a, env_lookup, ec, &v, NULL))
				piece = "?";
			else
				piece = fts_value_tostr(ck->a, &v);
		}
		snprintf(buf + o, sizeof buf - o, "%s", piece);
		o = strlen(buf);
	}
	return fts_arena_strdup(ck->a, buf);
}

/* Evaluate one check in one environment; returns 1 failed, 0 passed, -1 skipped. */
static int eval_check(struct chk *ck, const struct fts_decl_check *c,
		      const struct fts_groups_env *g, bool probe, char **msg)
{
	struct env_ctx ec = {ck, g, probe};
	struct fts_eval_error err;
	struct fts_value v;
	int rc;

	ck->skip = false;
	rc = fts_expr_eval(c->cond, ck->a, env_lookup, &ec, &v, &err);
	if (ck->skip || rc == FTS_EVAL_UNBOUND)
		return -1;
	if (rc) {
		*msg = fts_arena_printf(ck->a, "%s: %s", ck->cls->name, err.msg);
		return 1;
	}
	if (fts_value_truthy(&v))
		return 0;
	*msg = fts_arena_printf(ck->a, "%s raises %s: %s", ck->cls->name, c->exc,
				format_message(ck, c, &ec));
	return 1;
}

static const struct fts_node *map_get(const struct fts_node *m, const char *key)
{
	if (!m || m->kind != FTS_N_MAP)
		return NULL;
	for (size_t k = 0; k < m->npairs; k++) {
		const struct fts_node *kn = m->pairs[k].key;
		if (kn && kn->kind == FTS_N_SCALAR && kn->text && !strcmp(kn->text, key))
			return m->pairs[k].value;
	}
	return NULL;
}

static int check_args(const struct fts_stdlib *lib, const struct fts_decl_class *cls,
		      const struct fts_node *init_args, struct fts_span where,
		      const struct fts_groups_env *env, fts_arg_report report, void *ctx,
		      struct fts_arena *a, bool groups_only);

static void check_scheduler_list(struct chk *ck, const struct fts_node *n)
{
	if (!n || n->kind != FTS_N_SEQ)
		return;
	for (size_t k = 0; k < n->nitems; k++) {
		const struct fts_node *item = n->items[k];
		const struct fts_node *cp = map_get(item, "class_path");
		const struct fts_node *ia = map_get(item, "init_args");
		struct fts_span sp = node_span(item, ck->where);
		if (!cp || cp->kind != FTS_N_SCALAR || !cp->text) {
			rep(ck, FTS_ARG_TYPE, sp, NULL, "scheduler %zu has no 'class_path'", k);
			continue;
		}
		const struct fts_decl_class *c = fts_stdlib_find(ck->lib, cp->text);
		if (!c || c->kind != FTS_DECL_LR_SCHEDULER) {
			const char *s = fts_stdlib_suggest(ck->lib, cp->text);
			rep(ck, FTS_ARG_TYPE, node_span(cp, sp), s, "'%s' is not a known lr scheduler%s%s%s",
			    cp->text, s ? "; did you mean '" : "", s ? s : "", s ? "'?" : "");
			continue;
		}
		if (ia && ia->kind != FTS_N_MAP) {
			rep(ck, FTS_ARG_TYPE, node_span(ia, sp), NULL, "'init_args' of '%s' must be a mapping",
			    cp->text);
			continue;
		}
		ck->n += check_args(ck->lib, c, ia, node_span(cp, sp), ck->genv, ck->report, ck->ctx, ck->a,
				    ck->groups_only);
	}
}

static void check_lambda(struct chk *ck, const struct fts_value *v, const struct fts_node *n)
{
	if (v->kind == FTS_V_LIST) {
		for (size_t k = 0; k < v->len; k++)
			check_lambda(ck, &v->items[k], n && n->kind == FTS_N_SEQ && k < n->nitems ?
				     n->items[k] : n);
		return;
	}
	if (v->kind != FTS_V_STR)
		return;
	struct fts_expr *e = fts_expr_parse(ck->a, FTS_NOFILE, 0, v->s, v->len, NULL, NULL);
	if (!e)
		rep(ck, FTS_ARG_TYPE, node_span(n, ck->where), NULL,
		    "lambda '%s' is not a valid expression of 'epoch'", v->s);
}

static int check_args(const struct fts_stdlib *lib, const struct fts_decl_class *cls,
		      const struct fts_node *init_args, struct fts_span where,
		      const struct fts_groups_env *env, fts_arg_report report, void *ctx,
		      struct fts_arena *a, bool groups_only)
{
	/* groups_only: the problems below were reported when the directive was
	 * lowered; only the @groups checks of the real environment speak */
	struct chk ck = {lib, cls, a, groups_only ? NULL : report, ctx, 0, where, NULL, NULL, 0, env, false,
			 groups_only};
	size_t np = init_args && init_args->kind == FTS_N_MAP ? init_args->npairs : 0;

	ck.given = fts_arena_alloc(a, (np ? np : 1) * sizeof *ck.given);
	fts_stdlib_resolve(cls, init_args, a, &ck.res);

	/* unknown arguments */
	for (size_t k = 0; k < np; k++) {
		const struct fts_pair *p = &init_args->pairs[k];
		struct given *g = &ck.given[ck.ngiven++];
		g->key = p->key;
		g->node = p->value;
		g->name = p->key && p->key->kind == FTS_N_SCALAR && p->key->text ? p->key->text : "?";
		g->value = fts_value_from_node(a, p->value);
		if (cls->kind == FTS_DECL_LR_SCHEDULER && !strcmp(g->name, "optimizer") &&
		    !fts_class_arg(cls, "optimizer"))
			continue;       /* V-R11: the caller warns and FTS deletes it */
		if (fts_class_arg(cls, g->name))
			continue;
		g->bad = true;
		if (cls->flags & FTS_CLS_VARKW)
			continue;
		if (!strcmp(g->name, "params") && cls->kind == FTS_DECL_OPTIMIZER) {
			rep(&ck, FTS_ARG_UNKNOWN, node_span(p->key, where), NULL,
			    "%s got multiple values for argument 'params' (FTS passes the parameters)",
			    cls->name);
			continue;
		}
		const char **names = fts_arena_alloc(a, (cls->nargs + 1) * sizeof *names);
		size_t nn = 0;
		for (size_t j = 0; j < cls->nargs; j++)
			if (!cls->args[j].fixed)
				names[nn++] = cls->args[j].name;
		const char *s = closest(g->name, names, nn);
		if (s)
			rep(&ck, FTS_ARG_UNKNOWN, node_span(p->key, where), s,
			    "%s got an unexpected keyword argument '%s'; did you mean '%s'?",
			    cls->name, g->name, s);
		else
			rep(&ck, FTS_ARG_UNKNOWN, node_span(p->key, where), NULL,
			    "%s got an unexpected keyword argument '%s'", cls->name, g->name);
	}
	/* missing required arguments */
	for (size_t k = 0; k < cls->nargs; k++)
		if (ck.res[k].missing)
			rep(&ck, FTS_ARG_MISSING, where, NULL,
			    "%s missing required argument '%s'", cls->name, cls->args[k].name);
	/* types */
	for (size_t k = 0; k < ck.ngiven; k++) {
		struct given *g = &ck.given[k];
		const struct fts_decl_arg *da = fts_class_arg(cls, g->name);
		if (!da)
			continue;
		if (!fts_type_accepts(da->type, &g->value)) {
			const struct fts_node *ns = yaml_number_string(g->node);
			g->bad = true;
			if (ns) {
				char *fix = yaml_float_spelling(a, ns->text);
				rep(&ck, FTS_ARG_TYPE, node_span(ns, where), fix,
				    "argument '%s' of %s must be %s, but PyYAML reads '%s' as a string; write %s",
				    g->name, cls->name, fts_type_str(a, da->type), ns->text, fix);
			} else {
				rep(&ck, FTS_ARG_TYPE, node_span(g->node, where), NULL,
				    "argument '%s' of %s must be %s, not %s %s", g->name, cls->name,
				    fts_type_str(a, da->type), fts_value_type_name(&g->value),
				    fts_value_repr(a, &g->value));
			}
			continue;
		}
		if (da->type->kind == FTS_T_SCHEDULER_LIST)
			check_scheduler_list(&ck, g->node);
		if (da->type->kind == FTS_T_LAMBDA)
			check_lambda(&ck, &g->value, g->node);
	}
	/* constraints, in the constructor's order */
	struct fts_groups_env probe = {cls->kind == FTS_DECL_OPTIMIZER ? 1 : 0,
				       cls->kind == FTS_DECL_OPTIMIZER ? 1 : -1, -1};
	int before = ck.n;
	ck.report = report;
	if (groups_only)
		ck.n = 0;
	for (size_t k = 0; k < cls->nchecks; k++) {
		const struct fts_decl_check *c = &cls->checks[k];
		struct blame b = {&ck, where, false};
		char *msg = NULL;
		int r;

		fts_expr_names(c->cond, blame_name, &b);
		if (groups_only) {
			if (c->when == FTS_CHECK_GROUPS && env && before == 0 &&
			    eval_check(&ck, c, &probe, true, &msg) != 1 &&
			    eval_check(&ck, c, env, false, &msg) == 1)
				rep(&ck, FTS_ARG_CONSTRAINT_RUNTIME, b.span, NULL, "%s", msg);
			continue;
		}
		switch (c->when) {
		case FTS_CHECK_ARGS:
			if (eval_check(&ck, c, NULL, false, &msg) == 1)
				rep(&ck, FTS_ARG_CONSTRAINT, b.span, NULL, "%s", msg);
			break;
		case FTS_CHECK_GROUPS:
			r = eval_check(&ck, c, &probe, true, &msg);
			if (r == 1) {
				rep(&ck, FTS_ARG_CONSTRAINT, b.span, NULL, "%s (FTS builds it on %s at setup)",
				    msg, cls->kind == FTS_DECL_OPTIMIZER ?
				    "one 1-element parameter" : "an optimizer with no param groups");
				break;
			}
			if (env && eval_check(&ck, c, env, false, &msg) == 1)
				rep(&ck, FTS_ARG_CONSTRAINT_RUNTIME, b.span, NULL, "%s", msg);
			break;
		case FTS_CHECK_STEP:
			if (eval_check(&ck, c, env, false, &msg) == 1)
				rep(&ck, FTS_ARG_CONSTRAINT_RUNTIME, b.span, NULL, "%s (at the first step)", msg);
			break;
		}
	}
	return ck.n;
}

/* check_args with a scratch arena of its own (its values die with the call). */
static int check_args_scratch(const struct fts_stdlib *lib, const struct fts_decl_class *cls,
			      const struct fts_node *init_args, struct fts_span where,
			      const struct fts_groups_env *env, fts_arg_report report, void *ctx,
			      bool groups_only)
{
	struct fts_arena a;
	int n;

	fts_arena_init(&a);
	n = check_args(lib, cls, init_args, where, env, report, ctx, &a, groups_only);
	fts_arena_release(&a);
	return n;
}

int fts_stdlib_check_args_ex(const struct fts_stdlib *lib, const struct fts_decl_class *cls,
			     const struct fts_node *init_args, struct fts_span where,
			     const struct fts_groups_env *env, fts_arg_report report, void *ctx)
{
	return check_args_scratch(lib, cls, init_args, where, env, report, ctx, false);
}

int fts_stdlib_check_groups(const struct fts_stdlib *lib, const struct fts_decl_class *cls,
			    const struct fts_node *init_args, struct fts_span where,
			    const struct fts_groups_env *env, fts_arg_report report, void *ctx)
{
	return check_args_scratch(lib, cls, init_args, where, env, report, ctx, true);
}

int fts_stdlib_check_args(const struct fts_stdlib *lib, const struct fts_decl_class *cls,
			  const struct fts_node *init_args, struct fts_span where,
			  fts_arg_report report, void *ctx)
{
	return fts_stdlib_check_args_ex(lib, cls, init_args, where, NULL, report, ctx);
}

int fts_stdlib_resolve(const struct fts_decl_class *cls, const struct fts_node *init_args,
		       struct fts_arena *a, struct fts_resolved_arg **out)
{
	struct fts_resolved_arg *r = fts_arena_alloc(a, (cls->nargs ? cls->nargs : 1) * sizeof *r);
	int rc = 0;

	for (size_t k = 0; k < cls->nargs; k++) {
		const struct fts_decl_arg *da = &cls->args[k];
		const struct fts_node *n = da->fixed ? NULL : map_get(init_args, da->name);
		r[k].arg = da;
		r[k].span = da->span;
		if (n) {
			r[k].value = fts_value_from_node(a, n);
			r[k].given = true;
			r[k].span = n->span;
		} else if (da->def) {
			r[k].value = da->defval;
		} else {
			r[k].value = fts_value_none();
			r[k].missing = true;
			rc = -1;
		}
	}
	*out = r;
	return rc;
}

struct slot_env {
	const struct fts_decl_class *cls;
	const struct fts_resolved_arg *args;
};

static bool slot_lookup(void *vctx, const char *name, struct fts_value *out)
{
	struct slot_env *se = vctx;
	for (size_t k = 0; k < se->cls->nargs; k++)
		if (!strcmp(se->cls->args[k].name, name)) {
			*out = se->args[k].value;
			return true;
		}
	return false;
}

size_t fts_stdlib_state_slots(const struct fts_decl_class *cls,
			      const struct fts_resolved_arg *args, struct fts_arena *a,
			      const struct fts_decl_state **out, size_t max)
{
	struct slot_env se = {cls, args};
	size_t n = 0;

	for (size_t k = 0; k < cls->nstates; k++) {
		const struct fts_decl_state *s = &cls->states[k];
		if (s->cond) {
			struct fts_value v;
			if (fts_expr_eval(s->cond, a, slot_lookup, &se, &v, NULL) ||
			    !fts_value_truthy(&v))
				continue;
		}
		if (n < max)
			out[n] = s;
		n++;
	}
	return n;
}
