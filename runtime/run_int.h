/*
 * run_int.h - internals of the execution engine (run.c) shared with the
 * synthetic task (quadratic.c) and the unit tests.
 *
 * The engine works on the decoded plan view (struct rt_plan, plan.h); the
 * public ftsrt_run_new is a thin wrapper that takes it from rt_plan_view.
 * Tests build struct rt_plan values by hand and call rt_run_new directly.
 */
#ifndef RT_RUN_INT_H
#define RT_RUN_INT_H

#include <stddef.h>

#include "ckpt.h"
#include "ftsrt.h"
#include "plan.h"

/*
 * Create a run of the plan view p (borrowed: it must outlive the run).
 * opt may be NULL.  On failure *out is NULL and *err (may be NULL) says
 * why.  Returns FTSRT_OK, FTSRT_EINVAL or FTSRT_ENOMEM.
 */
int rt_run_new(ftsrt_run **out, const struct rt_plan *p, const struct ftsrt_run_options *opt,
	       ftsrt_error *err);

/* The run's message for its last failure ("" when none). */
const char *rt_run_errmsg(const ftsrt_run *r);

/* Test hook: called while checkpoint files are written (see ckpt.h). */
void rt_run_set_ckpt_hook(ftsrt_run *r, rt_ckpt_hook_fn fn, void *ud);

/* The plan view a run executes. */
const struct rt_plan *rt_run_plan(const ftsrt_run *r);

#endif /* RT_RUN_INT_H */
