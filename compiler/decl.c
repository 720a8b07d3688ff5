/*
 * decl.c - builders the grammar calls, and the parse drivers.
 *
 * Stage: front end.  grammar/ftsc.y recognises the syntax; this file gives
 * it meaning: flag names, type constructors, annotations, message
 * templates with {expr} holes, and the per-class vectors that become one
 * struct fts_decl_class.  fts_parse_run() runs the reentrant scanner and
 * parser on an in-memory buffer, for fts_decl_parse(), fts_expr_parse() and
 * the schedule language (dsl.c).
 */
#include "decl.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ftsc.tab.h"
#include "ftsc.yy.h"

const struct fts_class_flag_name fts_class_flag_names[] = {
	{"fts_supported", FTS_CLS_FTS_SUPPORTED},
	{"chainable", FTS_CLS_CHAINABLE},
	{"closed_form", FTS_CLS_CLOSED_FORM},
	{"lambdas", FTS_CLS_LAMBDAS},
	{"plateau", FTS_CLS_PLATEAU},
	{"cycles_momentum", FTS_CLS_CYCLES_MOMENTUM},
	{"no_reinit", FTS_CLS_NO_REINIT},
	{"varkw", FTS_CLS_VARKW},
	{"container", FTS_CLS_CONTAINER},
	{"no_optimizer_arg", FTS_CLS_NO_OPTIMIZER_ARG},
	{"state_at_construction", FTS_CLS_STATE_AT_CONSTRUCTION},
	{NULL, 0},
};

void fts_parse_error(struct fts_parse_ctx *pc, struct fts_span span, const char *fmt, ...)
{
	char buf[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	pc->nerrors++;
	if (pc->report)
		pc->report(pc->report_ctx, span, buf);
}

void fts_parse_member_flag(struct fts_parse_ctx *pc, const char *name, struct fts_span span)
{
	for (const struct fts_class_flag_name *f = fts_class_flag_names; f->name; f++)
		if (!strcmp(f->name, name)) {
			pc->flags |= f->flag;
			return;
		}
	fts_parse_error(pc, span, "unknown class flag '%s'", name);
}

void fts_parse_class_begin(struct fts_parse_ctx *pc)
{
	pc->aliases.n = 0;
	pc->args.n = 0;
	pc->checks.n = 0;
	pc->states.n = 0;
	pc->reads.n = 0;
	pc->setstates.n = 0;
	pc->has_reads = false;
	pc->flags = 0;
	pc->has_id = false;
	pc->id = 0;
	pc->doc = NULL;
}

#define COPY_VEC(dst, ndst, vec) do {                                          \
	(ndst) = (vec).n;                                                      \
	(dst) = fts_arena_alloc(pc->arena, ((vec).n ? (vec).n : 1) * sizeof *(vec).v); \
	if ((vec).n)                                                           \
		memcpy((void *)(dst), (vec).v, (vec).n * sizeof *(vec).v);     \
} while (0)

void fts_parse_class_end(struct fts_parse_ctx *pc, enum fts_decl_kind kind, const char *path,
			 struct fts_span name_span, struct fts_span span)
{
	struct fts_decl_class *c = fts_arena_alloc(pc->arena, sizeof *c);
	const char *dot = strrchr(path, '.');

	c->kind = kind;
	c->span = span;
	c->name_span = name_span;
	c->path = path;
	c->name = dot ? dot + 1 : path;
	c->flags = pc->flags;
	c->has_id = pc->has_id;
	c->id = pc->id;
	c->doc = pc->doc;
	COPY_VEC(c->aliases, c->naliases, pc->aliases);
	COPY_VEC(c->args, c->nargs, pc->args);
	COPY_VEC(c->checks, c->nchecks, pc->checks);
	COPY_VEC(c->states, c->nstates, pc->states);
	if (pc->has_reads)
		COPY_VEC(c->reads, c->nreads, pc->reads);
	COPY_VEC(c->setstates, c->nsetstates, pc->setstates);
	if (kind == FTS_DECL_LR_SCHEDULER && (pc->has_reads || c->nsetstates))
		fts_parse_error(pc, name_span, "lr_scheduler '%s' cannot declare 'reads' or setstate members", path);
	for (size_t i = 0; i < c->nreads; i++) {
		bool known = false;
		for (size_t j = 0; j < c->nstates && !known; j++)
			known = !strcmp(c->reads[i], c->states[j].name);
		for (size_t j = 0; j < pc->args.n && !known; j++)
			known = !strcmp(c->reads[i], pc->args.v[j].name);
		if (!known)
			fts_parse_error(pc, name_span, "'%s' reads '%s', which is neither an argument nor a state slot",
					path, c->reads[i]);
	}
	if (kind == FTS_DECL_OPTIMIZER && (c->flags & ~(FTS_CLS_NO_REINIT | FTS_CLS_VARKW | FTS_CLS_STATE_AT_CONSTRUCTION)))
		fts_parse_error(pc, name_span, "optimizer '%s' has a flag only schedulers take", path);
	if (kind == FTS_DECL_LR_SCHEDULER && (c->flags & (FTS_CLS_NO_REINIT | FTS_CLS_STATE_AT_CONSTRUCTION)))
		fts_parse_error(pc, name_span, "'no_reinit' applies to optimizers only");
	if (kind == FTS_DECL_LR_SCHEDULER && c->nstates)
		fts_parse_error(pc, c->states[0].span, "lr_scheduler '%s' cannot declare optimizer state", path);
	for (size_t i = 0; i < c->nargs; i++)
		for (size_t j = 0; j < i; j++)
			if (!strcmp(c->args[i].name, c->args[j].name))
				fts_parse_error(pc, c->args[i].span, "argument '%s' is declared twice",
						c->args[i].name);
	FTS_VEC_PUSH(pc->classes, c);
}

static enum fts_check_when annot_when(struct fts_parse_ctx *pc, const char *annot,
				      struct fts_span sp)
{
	if (!annot)
		return FTS_CHECK_ARGS;
	if (!strcmp(annot, "groups"))
		return FTS_CHECK_GROUPS;
	if (!strcmp(annot, "step"))
		return FTS_CHECK_STEP;
	fts_parse_error(pc, sp, "unknown annotation '@%s' (expected @groups or @step)", annot);
	return FTS_CHECK_ARGS;
}

/* Split "text {expr} text" into parts; {{ and }} are literal braces. */
static void split_message(struct fts_parse_ctx *pc, struct fts_decl_check *c,
			  struct fts_span msg_span)
{
	FTS_VEC(struct fts_msg_part) parts = {0};
	const char *m = c->msg;
	size_t n = strlen(m);
	char *lit = fts_arena_alloc(pc->arena, n + 1);
	size_t lo = 0;

	for (size_t k = 0; k < n; k++) {
		if (m[k] == '{' && k + 1 < n && m[k + 1] == '{') {
			lit[lo++] = '{';
			k++;
			continue;
		}
		if (m[k] == '}' && k + 1 < n && m[k + 1] == '}') {
			lit[lo++] = '}';
			k++;
			continue;
		}
		if (m[k] != '{') {
			lit[lo++] = m[k];
			continue;
		}
		const char *close = strchr(m + k, '}');
		if (!close) {
			fts_parse_error(pc, msg_span, "unbalanced '{' in check message");
			break;
		}
		if (lo) {
			struct fts_msg_part p = {fts_arena_strndup(pc->arena, lit, lo), NULL};
			FTS_VEC_PUSH(parts, p);
			lo = 0;
		}
		/* the span is approximate when the string had escapes */
		uint32_t base = msg_span.start + 1 + (uint32_t)k + 1;
		size_t elen = (size_t)(close - (m + k + 1));
		struct fts_expr *e = fts_expr_parse(pc->arena, pc->file, base, m + k + 1, elen,
						    pc->report, pc->report_ctx);
		if (!e)
			pc->nerrors++;
		struct fts_msg_part p = {NULL, e};
		if (e)
			FTS_VEC_PUSH(parts, p);
		k = (size_t)(close - m);
	}
	if (lo) {
		struct fts_msg_part p = {fts_arena_strndup(pc->arena, lit, lo), NULL};
		FTS_VEC_PUSH(parts, p);
	}
	c->nparts = parts.n;
	c->parts = fts_arena_alloc(pc->arena, (parts.n ? parts.n : 1) * sizeof *c->parts);
	if (parts.n)
		memcpy(c->parts, parts.v, parts.n * sizeof *c->parts);
	FTS_VEC_FREE(parts);
}

void fts_parse_check(struct fts_parse_ctx *pc, const char *annot, struct fts_span annot_span,
		     struct fts_expr *cond, const char *msg, const char *exc, struct fts_span span,
		     struct fts_span msg_span)
{
	struct fts_decl_check c = {0};

	c.when = annot_when(pc, annot, annot_span);
	c.span = span;
	c.cond = cond;
	c.msg = msg;
	c.exc = exc ? exc : "ValueError";
	split_message(pc, &c, msg_span);
	FTS_VEC_PUSH(pc->checks, c);
}

void fts_parse_state(struct fts_parse_ctx *pc, const char *annot, const char *name,
		     const char *kind, struct fts_span kind_span, struct fts_expr *cond,
		     struct fts_span span)
{
	static const char *const kinds[] = {"scalar", "param", "factored", "global"};
	struct fts_decl_state s = {0};
	size_t k;

	if (annot)
		fts_parse_error(pc, span, "annotation '@%s' does not apply to state", annot);
	for (k = 0; k < 4; k++)
		if (!strcmp(kind, kinds[k]))
			break;
	if (k == 4) {
		fts_parse_error(pc, kind_span,
				"unknown state kind '%s' (expected scalar, param, factored or global)", kind);
		k = 0;
	}
	s.name = name;
	s.span = span;
	s.kind = (enum fts_state_kind)k;
	s.cond = cond;
	FTS_VEC_PUSH(pc->states, s);
}

void fts_parse_reads(struct fts_parse_ctx *pc, const char *word, struct fts_span span)
{
	if (strcmp(word, "reads") != 0) {
		fts_parse_error(pc, span, "unknown member '%s' (expected 'reads' before a list of names)", word);
		pc->reads.n = 0;
		return;
	}
	if (pc->has_reads)
		fts_parse_error(pc, span, "'reads' is given twice");
	pc->has_reads = true;
}

void fts_parse_setstate(struct fts_parse_ctx *pc, const char *word, struct fts_span word_span,
			const char *name, struct fts_expr *value, struct fts_span span)
{
	bool force = !strcmp(word, "setforce");
	if (!force && strcmp(word, "setdefault") != 0) {
		fts_parse_error(pc, word_span, "unknown member '%s' (expected setdefault or setforce)", word);
		return;
	}
	struct fts_decl_setstate st = {name, span, value, {0}, force};
	FTS_VEC_PUSH(pc->setstates, st);
}

void fts_parse_arg(struct fts_parse_ctx *pc, const char *annot, bool fixed, const char *name,
		   struct fts_type *type, struct fts_expr *def, struct fts_span span)
{
	struct fts_decl_arg a = {0};

	if (annot && strcmp(annot, "groups"))
		fts_parse_error(pc, span, "unknown annotation '@%s' on an argument", annot);
	a.name = name;
	a.span = span;
	a.type = type;
	a.def = def;
	a.fixed = fixed;
	a.needs_groups = annot != NULL;
	FTS_VEC_PUSH(pc->args, a);
}

struct fts_type *fts_parse_type(struct fts_parse_ctx *pc, const char *name, struct fts_span span,
				struct fts_type **elems, size_t nelems, bool has_parens, bool variadic)
{
	static const struct {
		const char *name;
		enum fts_type_kind kind;
		int nargs;              /* -1 any (>= 1), 0 none, 1 exactly one */
	} tab[] = {
		{"any", FTS_T_ANY, 0}, {"float", FTS_T_FLOAT, 0}, {"int", FTS_T_INT, 0},
		{"bool", FTS_T_BOOL, 0}, {"str", FTS_T_STR, 0}, {"none", FTS_T_NONE, 0},
		{"lambda", FTS_T_LAMBDA, 0}, {"scheduler_list", FTS_T_SCHEDULER_LIST, 0},
		{"tuple", FTS_T_TUPLE, -1}, {"list", FTS_T_LIST, 1},
		{"optional", FTS_T_OPTIONAL, 1}, {"choice", FTS_T_CHOICE, -1},
		{"|", FTS_T_UNION, -1},
	};
	struct fts_type *t = fts_arena_alloc(pc->arena, sizeof *t);
	size_t k;

	t->span = span;
	for (k = 0; k < sizeof tab / sizeof tab[0]; k++)
		if (!strcmp(tab[k].name, name))
			break;
	if (k == sizeof tab / sizeof tab[0]) {
		fts_parse_error(pc, span, "unknown type '%s'", name);
		t->kind = FTS_T_ANY;
		return t;
	}
	t->kind = tab[k].kind;
	if (t->kind == FTS_T_UNION)
		return t;
	if (tab[k].nargs == 0 && has_parens) {
		fts_parse_error(pc, span, "type '%s' takes no arguments", name);
		return t;
	}
	if (tab[k].nargs != 0 && !has_parens) {
		fts_parse_error(pc, span, "type '%s' needs arguments: %s(...)", name, name);
		return t;
	}
	if (tab[k].nargs == 1 && (nelems != 1 || variadic)) {
		fts_parse_error(pc, span, "type '%s' takes exactly one type", name);
		return t;
	}
	if (variadic && (t->kind != FTS_T_TUPLE || nelems != 1)) {
		fts_parse_error(pc, span, "'...' is allowed only as tuple(T, ...)");
		variadic = false;
	}
	t->variadic = variadic;
	if (t->kind == FTS_T_CHOICE) {
		t->choices = fts_arena_alloc(pc->arena, nelems * sizeof *t->choices);
		for (size_t i = 0; i < nelems; i++) {
			if (elems[i]->kind == FTS_T_NONE) {
				t->choices[t->nchoices++] = fts_value_none();
			} else if (elems[i]->kind == FTS_T_CHOICE && elems[i]->nchoices == 1) {
				t->choices[t->nchoices++] = elems[i]->choices[0];
			} else {
				fts_parse_error(pc, elems[i]->span, "choice() takes literal values");
			}
		}
		return t;
	}
	/* a literal where a type belongs (tuple(1, 2)) is a one-value choice */
	t->elems = elems;
	t->nelems = nelems;
	return t;
}

/* ---- drivers ----------------------------------------------------------- */

void fts_parse_begin(struct fts_parse_ctx *pc, struct fts_arena *arena, uint32_t file,
		     int start_token, fts_report_fn report, void *ctx)
{
	memset(pc, 0, sizeof *pc);
	pc->arena = arena;
	pc->file = file;
	pc->start_token = start_token;
	pc->report = report;
	pc->report_ctx = ctx;
}

int fts_parse_run(struct fts_parse_ctx *pc, const char *text, size_t len)
{
	yyscan_t scanner;
	YY_BUFFER_STATE buf;
	int rc;

	if (fts_yylex_init_extra(pc, &scanner))
		fts_oom();
	buf = fts_yy_scan_bytes(text, (int)len, scanner);
	rc = fts_yyparse(scanner, pc);
	fts_yy_delete_buffer(buf, scanner);
	fts_yylex_destroy(scanner);
	if (rc == 2)
		fts_oom();
	return rc;
}

void fts_parse_release(struct fts_parse_ctx *pc)
{
	FTS_VEC_FREE(pc->classes);
	FTS_VEC_FREE(pc->aliases);
	FTS_VEC_FREE(pc->args);
	FTS_VEC_FREE(pc->checks);
	FTS_VEC_FREE(pc->states);
	FTS_VEC_FREE(pc->reads);
	FTS_VEC_FREE(pc->setstates);
}

/* fts_parse_run; a failure the parser did not report counts as one error. */
static int run_parser(struct fts_parse_ctx *pc, const char *text, size_t len)
{
	if (fts_parse_run(pc, text, len) && !pc->nerrors)
		pc->nerrors++;
	return pc->nerrors;
}

int fts_decl_parse(struct fts_arena *arena, uint32_t file, const char *text, size_t len,
		   fts_report_fn report, void *ctx, struct fts_decl_file *out)
{
	struct fts_parse_ctx pc;
	int n;

	fts_parse_begin(&pc, arena, file, TOK_START_FILE, report, ctx);
	n = run_parser(&pc, text, len);
	out->nclasses = pc.classes.n;
	out->classes = fts_arena_alloc(arena, (pc.classes.n ? pc.classes.n : 1) * sizeof *out->classes);
	if (pc.classes.n)
		memcpy(out->classes, pc.classes.v, pc.classes.n * sizeof *out->classes);
	fts_parse_release(&pc);
	return n;
}

struct fts_expr *fts_expr_parse(struct fts_arena *arena, uint32_t file, uint32_t base,
				const char *text, size_t len, fts_report_fn report, void *ctx)
{
	struct fts_parse_ctx pc;
	int n;

	fts_parse_begin(&pc, arena, file, TOK_START_EXPR, report, ctx);
	pc.off = base;
	n = run_parser(&pc, text, len);
	fts_parse_release(&pc);
	return n ? NULL : pc.expr;
}
