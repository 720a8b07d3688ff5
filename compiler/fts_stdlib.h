/*
 * stdlib.h - the standard library of optimizer and lr_scheduler classes.
 *
 * Stage: semantic data shared by the checker and the plan emitter.  The
 * stdlib is written in the ftsc declaration language (stdlib/optim.fts,
 * stdlib/lr_scheduler.fts), embedded at build time (tools/embed.c) and
 * parsed once into a struct fts_stdlib that the caller owns.  Nothing here
 * is global: two loaded stdlibs are independent.
 *
 * Values: defaults and resolved arguments are struct fts_value (expr.h).
 * A YAML value (struct fts_node, ast.h) is converted the way PyYAML hands
 * it to torch: `1e-5` unquoted is a str (FTS_V_STR), a sequence a list, a
 * mapping an opaque dict.
 */
/*
 * NOTE: this file's name shadows the C library's <stdlib.h> for every
 * translation unit compiled with -Icompiler.  Until it is renamed, it
 * forwards to the real header first, so `#include <stdlib.h>` anywhere
 * still gets malloc/free (and, harmlessly, these declarations).
 */

#ifndef FTS_STDLIB_H
#define FTS_STDLIB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arena.h"
#include "ast.h"
#include "decl.h"
#include "expr.h"
#include "source.h"

/* Ids of user-declared classes start here unless given with `id N;`. */
#define FTS_STDLIB_USER_ID_BASE 1024u

struct fts_stdlib {
	struct fts_arena arena;         /* every class, value and string */
	FTS_VEC(struct fts_decl_class *) classes; /* declaration order: stdlib, then extras */
	unsigned next_user_id;          /* next automatic id for --declare classes */
};

/*
 * Parse the embedded stdlib.  A syntax or semantic error in it is a build
 * bug: the message names the embedded file and line, and the process
 * aborts.  Free with fts_stdlib_free().
 */
struct fts_stdlib *fts_stdlib_load(void);
/*
 * Add the declarations of a user file (ftsc --declare FILE) already loaded
 * into src as `file`.  Problems (syntax, duplicate class path or id, bad
 * default) go through report with spans into that file.  Returns the number
 * of problems; classes that were fine are added even when others were not.
 */
int fts_stdlib_load_extra(struct fts_stdlib *lib, struct fts_sources *src, uint32_t file,
			  fts_report_fn report, void *ctx);
void fts_stdlib_free(struct fts_stdlib *lib);

/* Lookup by class path or alias ("torch.optim.adamw.AdamW"); NULL if none. */
const struct fts_decl_class *fts_stdlib_find(const struct fts_stdlib *lib, const char *class_path);
const struct fts_decl_class *fts_stdlib_by_id(const struct fts_stdlib *lib, unsigned id);
/* Closest known class path for a misspelt one, or NULL (did-you-mean). */
const char *fts_stdlib_suggest(const struct fts_stdlib *lib, const char *class_path);

/* Class accessors (the struct is public in decl.h; these read better). */
static inline bool fts_class_has(const struct fts_decl_class *c, unsigned flag)
{
	return (c->flags & flag) != 0;
}
const struct fts_decl_arg *fts_class_arg(const struct fts_decl_class *c, const char *name);

enum fts_argerr {
	FTS_ARG_UNKNOWN,                /* argument the constructor does not take */
	FTS_ARG_MISSING,                /* required argument not given */
	FTS_ARG_TYPE,                   /* value of the wrong type */
	FTS_ARG_CONSTRAINT,             /* constructor raises; FTS's setup probe would too */
	FTS_ARG_CONSTRAINT_RUNTIME,     /* torch raises later (transition or first step);
					   FTS's setup probe does not see it */
};

typedef void (*fts_arg_report)(void *ctx, enum fts_argerr kind, struct fts_span span,
			       const char *msg, const char *suggestion);

/*
 * What is known about the optimizer a scheduler (or an optimizer's own
 * param groups) is built on, for `@groups` checks.  -1 = unknown.
 */
struct fts_groups_env {
	int ngroups;                    /* param groups at the transition */
	int param_ndim;                 /* ndim of the parameters (Muon needs 2) */
	int opt_momentum;               /* optimizer has momentum or betas (1/0) */
};

/*
 * Check init_args (an FTS_N_MAP node, or NULL for none) against cls:
 * unknown arguments (with a did-you-mean), missing required ones, wrong
 * types (an unquoted `1e-5` is a str to PyYAML: the message says so and
 * suggests 1.0e-5), then every `check` on the merged defaults + given
 * values, in the constructor's order.  Spans: the offending value node,
 * else the key, else `where`.  `@groups` checks are evaluated in FTS's
 * probe environment (V-R13: zero groups for schedulers; V-O3: one 1-element
 * parameter for optimizers) and, when env is not NULL, in the real one.
 * Children of scheduler_list arguments (SequentialLR, ChainedScheduler) are
 * checked recursively.  An `optimizer` key in a scheduler's init_args is
 * skipped (the caller warns per V-R11).  Returns the number of problems.
 */
int fts_stdlib_check_args_ex(const struct fts_stdlib *lib, const struct fts_decl_class *cls,
			     const struct fts_node *init_args, struct fts_span where,
			     const struct fts_groups_env *env, fts_arg_report report, void *ctx);
int fts_stdlib_check_args(const struct fts_stdlib *lib, const struct fts_decl_class *cls,
			  const struct fts_node *init_args, struct fts_span where,
			  fts_arg_report report, void *ctx);

/*
 * Only the `@groups` checks that FTS's setup probe passes but the real
 * environment env fails (the constructor raises at the transition), for
 * init_args that have no other problem.  Reported as
 * FTS_ARG_CONSTRAINT_RUNTIME.  Returns the number of problems.
 */
int fts_stdlib_check_groups(const struct fts_stdlib *lib, const struct fts_decl_class *cls,
			    const struct fts_node *init_args, struct fts_span where,
			    const struct fts_groups_env *env, fts_arg_report report, void *ctx);

/* Resolved arguments: every declared arg (and const) with its value. */
struct fts_resolved_arg {
	const struct fts_decl_arg *arg; /* the declaration */
	struct fts_value value;         /* given value, else the default; None if missing */
	bool given;                     /* came from init_args */
	bool missing;                   /* required and not given */
	struct fts_span span;           /* the value node, or the declaration */
};

/*
 * Fill *out (allocated in a, cls->nargs entries, declaration order) from
 * init_args.  Unknown keys are ignored here (fts_stdlib_check_args reports
 * them).  Returns 0, or -1 when a required argument is missing.
 */
int fts_stdlib_resolve(const struct fts_decl_class *cls, const struct fts_node *init_args,
		       struct fts_arena *a, struct fts_resolved_arg **out);

/*
 * The optimizer state slots present for these resolved arguments, in
 * torch's key order: stores up to max pointers and returns how many there
 * are (SGD with momentum 0 has none; Adam with amsgrad has four).
 */
size_t fts_stdlib_state_slots(const struct fts_decl_class *cls,
			      const struct fts_resolved_arg *args, struct fts_arena *a,
			      const struct fts_decl_state **out, size_t max);

/* Convert a YAML node to the Python value PyYAML gives FTS (see top). */
struct fts_value fts_value_from_node(struct fts_arena *a, const struct fts_node *n);
/* "float", "tuple(float, float)", "optional(bool)": the type as written. */
char *fts_type_str(struct fts_arena *a, const struct fts_type *t);
/* Does v satisfy t?  (float accepts int and bool, int accepts bool.) */
bool fts_type_accepts(const struct fts_type *t, const struct fts_value *v);

#endif /* FTS_STDLIB_H */
