/*
 * dsl.h - the ftsc schedule language front end: DSL text -> ast.h tree.
 *
 * Stage: front end, the twin of yaml_front.h.  grammar/ftsc.y recognises
 * the schedule statements (start token START_SCHEDULE); the builders below
 * give them meaning and build the SAME document tree the YAML front end
 * builds for the equivalent LightningCLI config:
 *
 *   {model: {init_args: {optimizer_init: ..., lr_scheduler_init: ...,
 *                        pl_lrs_cfg: ...}},          only when written
 *    trainer: {max_epochs: N,                        only when written
 *              callbacks: [{class_path: finetuning_scheduler.FinetuningScheduler,
 *                           init_args: {ft_schedule: {<phases>},   (when phases exist)
 *                                       <settings in source order>}}]}}
 *
 * Every node carries its span in the DSL text; scalars are typed as
 * PyYAML types the equivalent YAML value (fts_yaml_resolve_plain), except
 * that a DSL number is always a number (`1e-5` is a float, where YAML 1.1
 * would read a string) and a bare word is always a string (`yes` is not a
 * boolean).  Selectors lower to the strings FTS reads:
 *
 *   exact name   model.classifier.bias      the name itself
 *   glob         model.layer.{0..11}.*      a Python regex, anchored with \Z (glob.h)
 *   regex        re"model\.(a|b)\."         the regex, unchanged
 *   rest         rest                       a scalar tagged FTS_DSL_REST_TAG,
 *                                           expanded by fts_dsl_expand_rest()
 *
 * The language is documented in ftsc-lang(5) and at the top of ftsc.y.
 * Everything lives in the caller's arena; there is no global state.
 */
#ifndef FTS_DSL_H
#define FTS_DSL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arena.h"
#include "ast.h"
#include "decl.h"
#include "diag.h"
#include "expr.h"
#include "glob.h"                       /* the glob selectors' syntax and lowering */

struct fts_manifest;
struct fts_names;

/* Tag of the placeholder scalar a `rest` selector leaves in params. */
#define FTS_DSL_REST_TAG "!ftsc/rest"
/* class_path of the FinetuningScheduler callback entry the DSL builds. */
#define FTS_DSL_FTS_CLASS "finetuning_scheduler.FinetuningScheduler"
/* Include nesting limit (also stops include cycles). */
#define FTS_DSL_MAX_INCLUDE 16

enum fts_dsl_flags {
	FTS_DSL_NO_INCLUDE = 1 << 0,    /* refuse `include` (fuzzing, untrusted text) */
};

/*
 * Parse source file `file` (already in d->src) as a schedule-language
 * document.  Returns the config-shaped root (arena-allocated), or NULL
 * after reporting errors (every syntax error of the file is reported;
 * d->errors grows).  Included files are loaded into d->src.
 */
struct fts_node *fts_dsl_parse(struct fts_arena *a, struct fts_diags *d, uint32_t file);
/* fts_dsl_parse() with enum fts_dsl_flags. */
struct fts_node *fts_dsl_parse_ex(struct fts_arena *a, struct fts_diags *d, uint32_t file,
				  unsigned flags);

/*
 * fts_dsl_parse_ex() with the folders `include` may reach besides the main
 * file's own (--include-dir).  An include names a file relative to the
 * including one; one that resolves (symlinks and `..` followed) outside the
 * main file's folder and every include_dirs entry is refused, and so is an
 * absolute path outside include_dirs.  A file included that does not parse
 * as the ftsc language at all is one error, without its content.
 */
struct fts_node *fts_dsl_parse_opts(struct fts_arena *a, struct fts_diags *d, uint32_t file,
				    unsigned flags, const char *const *include_dirs, size_t ninclude_dirs);

/*
 * The parts of a config-shaped tree (the DSL's, or a LightningCLI
 * config's): the FinetuningScheduler callback's init_args mapping, its
 * ft_schedule value, the model's init_args and trainer.  Each is NULL when
 * absent.  Borrowed from the tree.
 */
struct fts_dsl_parts {
	const struct fts_node *model_args;      /* model.init_args */
	const struct fts_node *trainer;         /* trainer */
	const struct fts_node *fts_args;        /* the FinetuningScheduler's init_args */
	const struct fts_node *schedule;        /* fts_args.ft_schedule */
};
void fts_dsl_parts(const struct fts_node *root, struct fts_dsl_parts *out);
/* True when root looks like a LightningCLI config (a `model` or `trainer`
 * key), false for a bare schedule (phase mapping). */
bool fts_dsl_is_config(const struct fts_node *root);

/*
 * Expand `rest` selectors in place: each FTS_DSL_REST_TAG scalar of the
 * schedule (a phase mapping) is replaced by one exact-name scalar (with
 * the span of `rest`) for every schedulable name of m that no other entry
 * of an earlier phase, nor of the same phase, thaws under FTS's rule
 * (exact name, else re.match).  Phases are visited in integer key order.
 * Reports FTS_E_DSL_REST when rest appears more than once.  Returns the
 * number of errors reported.  Call it before fts_lower_schedule().
 */
int fts_dsl_expand_rest(struct fts_arena *a, struct fts_diags *d, struct fts_node *schedule,
			const struct fts_names *names);
/* True when the tree still holds an unexpanded rest selector. */
bool fts_dsl_has_rest(const struct fts_node *n);

/* ---- grammar interface (called from grammar/ftsc.y only) ----------------- */

struct dsl_build;

/* The parse context of one schedule file: struct fts_parse_ctx first, so
 * the scanner and the declaration builders see what they always see. */
struct fts_dsl_ctx {
	struct fts_parse_ctx pc;        /* must be first */
	struct dsl_build *b;            /* the document being built (shared by includes) */
	const char *text;               /* this file's text */
	size_t len;                     /* bytes in text */
	uint32_t file;                  /* this file's id */
	unsigned depth;                 /* include depth (0 = the main file) */
};

enum fts_dsl_sel {
	FTS_DSL_SEL_WORD,               /* exact name or glob */
	FTS_DSL_SEL_STRING,             /* "quoted exact name" */
	FTS_DSL_SEL_REGEX,              /* re"..." */
	FTS_DSL_SEL_REST,               /* rest */
};

struct fts_node *fts_dsl_value(struct fts_parse_ctx *pc, struct fts_expr *e);
struct fts_node *fts_dsl_key(struct fts_parse_ctx *pc, struct fts_expr *e);
struct fts_node *fts_dsl_str(struct fts_parse_ctx *pc, const char *s, struct fts_span span);
struct fts_node *fts_dsl_map(struct fts_parse_ctx *pc, struct fts_span span);
struct fts_node *fts_dsl_seq(struct fts_parse_ctx *pc, struct fts_span span);
/* Append; a duplicate scalar key is reported (what names the kind of key). */
void fts_dsl_map_add(struct fts_parse_ctx *pc, struct fts_node *map, struct fts_node *key,
		     struct fts_node *value, const char *what);
void fts_dsl_seq_add(struct fts_parse_ctx *pc, struct fts_node *seq, struct fts_node *item);
struct fts_node *fts_dsl_selector(struct fts_parse_ctx *pc, enum fts_dsl_sel kind,
				  const char *text, size_t len, struct fts_span span);
/* {class_path: path, init_args: args}; args NULL when no parentheses. */
struct fts_node *fts_dsl_classref(struct fts_parse_ctx *pc, const char *path,
				  struct fts_span path_span, struct fts_node *args,
				  struct fts_span span);

void fts_dsl_phase_begin(struct fts_parse_ctx *pc, struct fts_node *key, struct fts_span kw);
void fts_dsl_phase_end(struct fts_parse_ctx *pc, struct fts_span span);
void fts_dsl_thaw(struct fts_parse_ctx *pc, struct fts_span kw, struct fts_node *sels);
void fts_dsl_phase_item(struct fts_parse_ctx *pc, struct fts_node *key, struct fts_node *value);
void fts_dsl_until(struct fts_parse_ctx *pc, struct fts_span kw, struct fts_node *epoch);
/* optimizer / lr_scheduler statements: in a phase (new_*) or at the top
 * level (the initial ones).  lrs clauses: with, group_lrs, use_current_lrs
 * are in `clauses` (a mapping keyed by the FTS names). */
void fts_dsl_optimizer(struct fts_parse_ctx *pc, struct fts_span kw, struct fts_node *cls,
		       struct fts_span span);
void fts_dsl_lr_scheduler(struct fts_parse_ctx *pc, struct fts_span kw, struct fts_node *cls,
			  struct fts_node *clauses, struct fts_span span);
void fts_dsl_set(struct fts_parse_ctx *pc, const char *name, struct fts_span name_span,
		 struct fts_node *value, struct fts_span span);
void fts_dsl_include(struct fts_parse_ctx *pc, const char *path, struct fts_span span);

#endif /* FTS_DSL_H */
