/*
 * decl.h - declarations of the ftsc language: optimizer and lr_scheduler
 * classes, their arguments, types, constraints and state layout.
 *
 * Stage: front end.  grammar/ftsc.y builds these nodes; stdlib.c loads the
 * embedded standard library (stdlib/NAME.fts) and user --declare files with
 * fts_decl_parse().  The language is documented at the top of grammar/ftsc.y.
 *
 * All nodes live in the arena passed to the parser.  Spans are byte ranges
 * in the parsed file (compiler/source.h).
 */
#ifndef FTS_DECL_H
#define FTS_DECL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arena.h"
#include "expr.h"
#include "source.h"

/* Problem reporter used by the parser and the loaders: msg is complete
 * ("syntax error, unexpected ';', expecting identifier"), lower-case. */
typedef void (*fts_report_fn)(void *ctx, struct fts_span span, const char *msg);

enum fts_type_kind {
	FTS_T_ANY,
	FTS_T_FLOAT,                    /* float; accepts int and bool too (float(x)) */
	FTS_T_INT,                      /* int; accepts bool (a Python int) */
	FTS_T_BOOL,
	FTS_T_STR,
	FTS_T_NONE,
	FTS_T_TUPLE,                    /* fixed arity, or homogeneous with `...` */
	FTS_T_LIST,                     /* list(T): a list or tuple of T */
	FTS_T_OPTIONAL,                 /* None or elems[0] */
	FTS_T_UNION,                    /* any of elems */
	FTS_T_CHOICE,                   /* one of choices (compared with ==) */
	FTS_T_LAMBDA,                   /* expression of `epoch`, as str, or a list of them */
	FTS_T_SCHEDULER_LIST,           /* list of {class_path, init_args} schedulers */
};

struct fts_type {
	enum fts_type_kind kind;
	struct fts_span span;           /* where the type is written */
	struct fts_type **elems;        /* TUPLE/LIST/OPTIONAL/UNION members */
	size_t nelems;                  /* entries in elems */
	bool variadic;                  /* TUPLE written tuple(T, ...) */
	struct fts_value *choices;      /* CHOICE values */
	size_t nchoices;                /* entries in choices */
};

/* One `arg` or `const` member. */
struct fts_decl_arg {
	const char *name;               /* keyword argument name */
	struct fts_span span;           /* the member */
	struct fts_type *type;          /* declared type */
	struct fts_expr *def;           /* default expression, NULL = required */
	struct fts_value defval;        /* evaluated default (stdlib.c), if def */
	bool fixed;                     /* `const`: a param-group default the
					   constructor does not take (AdamW's
					   decoupled_weight_decay) */
	bool needs_groups;              /* `@groups arg`: length tied to param groups */
};

/*
 * When a `check` fires.
 *   FTS_CHECK_ARGS   `check`: the constructor raises it from the arguments
 *                    alone, so FTS's setup probe (V-R13: scheduler on a mock
 *                    optimizer with zero groups; V-O3: optimizer on one
 *                    1-element parameter) raises it too.
 *   FTS_CHECK_GROUPS `@groups check`: depends on the optimizer the class is
 *                    built on, through the names `ngroups` (param groups),
 *                    `param_ndim` (ndim of the parameters) and
 *                    `opt_momentum` (optimizer has momentum or betas).  It is
 *                    evaluated once in FTS's probe environment (a failure is
 *                    an FTS setup error) and once in the real one when the
 *                    caller knows it (a failure is a transition-time error).
 *   FTS_CHECK_STEP   `@step check`: raised by the first step(), not by the
 *                    constructor; FTS's probe never sees it.
 */
enum fts_check_when {
	FTS_CHECK_ARGS,
	FTS_CHECK_GROUPS,
	FTS_CHECK_STEP,
};

/* A piece of a check message: literal text or an interpolated {expr}. */
struct fts_msg_part {
	const char *text;               /* literal (when expr is NULL) */
	struct fts_expr *expr;          /* {expr}, formatted with str() */
};

struct fts_decl_check {
	enum fts_check_when when;
	struct fts_span span;           /* the member */
	struct fts_expr *cond;          /* must be truthy */
	const char *msg;                /* message template as written */
	struct fts_msg_part *parts;     /* msg split into text and {expr} */
	size_t nparts;                  /* entries in parts */
	const char *exc;                /* "ValueError" (default), or as given by `raises` */
};

enum fts_state_kind {
	FTS_STATE_SCALAR,               /* 0-d tensor per parameter (step, eta, mu) */
	FTS_STATE_PARAM,                /* tensor shaped like the parameter */
	FTS_STATE_FACTORED,             /* reduced-shape tensor (Adafactor row/col var) */
	FTS_STATE_GLOBAL,               /* optimizer-wide, in the first parameter's
					   state (LBFGS history) */
};

struct fts_decl_state {
	const char *name;               /* key in optimizer.state[p] */
	struct fts_span span;           /* the member */
	enum fts_state_kind kind;
	struct fts_expr *cond;          /* present only when truthy; NULL = always */
};

enum fts_decl_kind {
	FTS_DECL_OPTIMIZER,
	FTS_DECL_LR_SCHEDULER,
};

/* Class flags: `flag;` members.  Keep fts_class_flag_names[] in sync. */
enum fts_class_flags {
	FTS_CLS_FTS_SUPPORTED = 1 << 0, /* in FTS's allow-list types.supported_lrs */
	FTS_CLS_CHAINABLE = 1 << 1,     /* recursive get_lr (usable in ChainedScheduler) */
	FTS_CLS_CLOSED_FORM = 1 << 2,   /* has _get_closed_form_lr */
	FTS_CLS_LAMBDAS = 1 << 3,       /* keeps lr_lambdas (LambdaLR, MultiplicativeLR) */
	FTS_CLS_PLATEAU = 1 << 4,       /* metric-driven: min_lrs, needs a monitor */
	FTS_CLS_CYCLES_MOMENTUM = 1 << 5, /* writes momentum/betas (CyclicLR, OneCycleLR) */
	FTS_CLS_NO_REINIT = 1 << 6,     /* FTS refuses it as a reinit optimizer (V-O1) */
	FTS_CLS_VARKW = 1 << 7,         /* takes **kwargs: unknown arguments are passed on */
	FTS_CLS_CONTAINER = 1 << 8,     /* holds other schedulers (SequentialLR, ChainedScheduler) */
	FTS_CLS_NO_OPTIMIZER_ARG = 1 << 9, /* scheduler whose first argument is not the optimizer */
	FTS_CLS_STATE_AT_CONSTRUCTION = 1 << 10, /* optimizer creating per-parameter state in
					    __init__ (Adagrad): no state for parameters a
					    restore brings without it */
};

/*
 * `setdefault NAME = expr;` / `setforce NAME = expr;`: what an optimizer's
 * __setstate__ (run by load_state_dict) does to a loaded parameter group:
 * fill the key when the group lacks it, or set it always (AdamW's
 * decoupled_weight_decay).
 */
struct fts_decl_setstate {
	const char *name;
	struct fts_span span;
	struct fts_expr *expr;
	struct fts_value value;         /* evaluated (stdlib.c) */
	bool force;
};

struct fts_class_flag_name {
	const char *name;
	unsigned flag;
};
extern const struct fts_class_flag_name fts_class_flag_names[];

struct fts_decl_class {
	enum fts_decl_kind kind;
	struct fts_span span;           /* the whole declaration */
	struct fts_span name_span;      /* the class path */
	const char *path;               /* "torch.optim.AdamW" */
	const char *name;               /* last component: "AdamW" */
	const char **aliases;           /* other import paths of the same class */
	size_t naliases;
	unsigned id;                    /* stable numeric id for the plan */
	bool has_id;                    /* `id N;` was written */
	unsigned flags;                 /* enum fts_class_flags */
	struct fts_decl_arg *args;      /* in constructor order (then `const`s) */
	size_t nargs;
	struct fts_decl_check *checks;  /* in the order the constructor raises */
	size_t nchecks;
	struct fts_decl_state *states;  /* optimizer.state[p] keys in torch's order */
	size_t nstates;
	const char **reads;             /* `reads`: group keys and state slots step() reads,
					   in its order; NULL when not declared */
	size_t nreads;
	struct fts_decl_setstate *setstates;
	size_t nsetstates;
	const char *doc;                /* `doc "...";` or NULL */
};

struct fts_decl_file {
	struct fts_decl_class **classes; /* in declaration order */
	size_t nclasses;
};

/*
 * Parse declarations in text[0..len) (file id `file` for spans).  Every
 * problem goes through report; the parser recovers at `;` and `}` so one
 * run reports several.  Returns the number of errors; *out receives the
 * classes that parsed (possibly partial) and is valid while arena lives.
 */
int fts_decl_parse(struct fts_arena *arena, uint32_t file, const char *text, size_t len,
		   fts_report_fn report, void *ctx, struct fts_decl_file *out);

/*
 * Parse one expression (a lambda such as `0.95 ** epoch`, or the inside of
 * a `{...}` in a message).  base is the byte offset of text in its file, so
 * spans point into that file.  Returns the expression or NULL after
 * reporting errors.
 */
struct fts_expr *fts_expr_parse(struct fts_arena *arena, uint32_t file, uint32_t base,
				const char *text, size_t len, fts_report_fn report, void *ctx);

/* ---- parser internals (shared by grammar/ftsc.y, grammar/ftsc.l, decl.c, dsl.c) ---- */

struct fts_parse_ctx {
	struct fts_arena *arena;        /* every node */
	uint32_t file;                  /* span file id */
	uint32_t off;                   /* lexer byte offset in the file */
	int start_token;                /* first token to return (selects the start rule) */
	fts_report_fn report;
	void *report_ctx;
	int nerrors;                    /* problems reported */
	uint32_t stray_end;             /* end of the last stray character reported (a run of
					   them is one bad token, one error) */
	FTS_VEC(struct fts_decl_class *) classes; /* result of a file parse */
	struct fts_expr *expr;          /* result of an expression parse */
	/* the class being built */
	unsigned flags;                 /* enum fts_class_flags so far */
	bool has_id;                    /* `id N;` seen */
	unsigned id;                    /* its value */
	const char *doc;                /* `doc "...";` */
	FTS_VEC(const char *) aliases;
	FTS_VEC(struct fts_decl_arg) args;
	FTS_VEC(struct fts_decl_check) checks;
	FTS_VEC(struct fts_decl_state) states;
	FTS_VEC(const char *) reads;
	bool has_reads;                 /* `reads` seen */
	FTS_VEC(struct fts_decl_setstate) setstates;
};

/* A zeroed context for one parse of `file` from start_token (a TOK_START_*
 * token of ftsc.tab.h: it selects the grammar's start rule). */
void fts_parse_begin(struct fts_parse_ctx *pc, struct fts_arena *arena, uint32_t file,
		     int start_token, fts_report_fn report, void *ctx);
/* Run the reentrant scanner and parser over text[0..len) with pc (the
 * scanner's extra: a struct embedding pc first may be cast back).  Returns
 * yyparse's result: 0, or 1 after a syntax error; out of memory is fatal. */
int fts_parse_run(struct fts_parse_ctx *pc, const char *text, size_t len);
/* Free the context's vectors (what it built stays in the arena). */
void fts_parse_release(struct fts_parse_ctx *pc);

void fts_parse_error(struct fts_parse_ctx *pc, struct fts_span span, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Called by the grammar for each member / class. */
void fts_parse_member_flag(struct fts_parse_ctx *pc, const char *name, struct fts_span span);
void fts_parse_class_begin(struct fts_parse_ctx *pc);
void fts_parse_class_end(struct fts_parse_ctx *pc, enum fts_decl_kind kind, const char *path,
			 struct fts_span name_span, struct fts_span span);
void fts_parse_check(struct fts_parse_ctx *pc, const char *annot, struct fts_span annot_span,
		     struct fts_expr *cond, const char *msg, const char *exc, struct fts_span span,
		     struct fts_span msg_span);
void fts_parse_state(struct fts_parse_ctx *pc, const char *annot, const char *name,
		     const char *kind, struct fts_span kind_span, struct fts_expr *cond,
		     struct fts_span span);
void fts_parse_reads(struct fts_parse_ctx *pc, const char *word, struct fts_span span);
void fts_parse_setstate(struct fts_parse_ctx *pc, const char *word, struct fts_span word_span,
			const char *name, struct fts_expr *value, struct fts_span span);
void fts_parse_arg(struct fts_parse_ctx *pc, const char *annot, bool fixed, const char *name,
		   struct fts_type *type, struct fts_expr *def, struct fts_span span);
struct fts_type *fts_parse_type(struct fts_parse_ctx *pc, const char *name, struct fts_span span,
				struct fts_type **elems, size_t nelems, bool has_parens, bool variadic);

#endif /* FTS_DECL_H */
