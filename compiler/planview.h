/*
 * planview.h - a compilation as the runtime will see its plan.
 *
 * Stage: back end.  The class records (every constructor argument
 * resolved, lambda programs compiled, children and milestones), the phases
 * and the settings of a struct rt_plan (runtime/plan.h), built from the
 * IR once.  `ftsc check` analyses this view with the runtime's own
 * semantics (runtime/sem.h, compiler/simulate.c) and `ftsc build` writes
 * it (emit.c), so what is checked is what is run.
 *
 * Class records are numbered in a fixed order: the initial optimizer, the
 * initial scheduler, each phase's new_optimizer and new_lr_scheduler, then
 * reinit_optim_cfg and reinit_lr_cfg; a container scheduler's children
 * follow it.  A directive that cannot be written in a plan (a class the
 * stdlib does not know, a list of lambdas, ...) still gets its record,
 * with the reason in problem[]: check treats it as unknown, build refuses.
 *
 * The view holds no manifest (params is NULL); emit.c writes the manifest
 * from the compilation's.  All memory is in the arena given.
 */
#ifndef FTS_PLANVIEW_H
#define FTS_PLANVIEW_H

#include <stdbool.h>
#include <stdint.h>

#include "../runtime/plan.h"
#include "arena.h"
#include "driver.h"
#include "expr.h"

struct fts_planview {
	struct rt_plan p;
	bool optimizer_known;           /* p.initial_optimizer holds the session's optimizer */
	bool scheduler_known;           /* p.initial_scheduler is the session's (-1: none) */
	const struct fts_ir_directive **dir;    /* per record: its directive (NULL for children) */
	const char **problem;           /* per record: why a plan cannot hold it, or NULL */
	const char *layout_problem;     /* the session's groups cannot be rebuilt, or NULL */
	uint32_t *ndecay, *nnodecay;    /* per phase: parameters outside / inside no_decay */
	uint64_t *numel_decay, *numel_nodecay;
};

/*
 * Build the view of c (c->ir must be set).  Returns 0, or -1 when the
 * schedule's phases cannot be represented at all (keys not 0..n-1).
 */
int fts_planview_build(const struct fts_compile *c, struct fts_arena *a, struct fts_planview *v);

/* v as a plan argument (name and given left to the caller): NULL, or why a
 * plan cannot hold it ("a mapping"); memory from a. */
const char *fts_planview_value(struct fts_arena *a, const struct fts_value *v, struct rt_plan_arg *out);

/* Why a plan cannot hold the view (the reason build refuses), or NULL. */
const char *fts_planview_problem(const struct fts_planview *v);

#endif /* FTS_PLANVIEW_H */
