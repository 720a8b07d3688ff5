/*
 * lower.h - document tree (ast.h) -> checked schedule (ir.h).
 */
#ifndef FTS_LOWER_H
#define FTS_LOWER_H

#include "diag.h"
#include "ir.h"

struct fts_names;

/*
 * Lower an explicit FTS schedule: convert and validate phase keys as FTS
 * does, validate every phase, resolve parameter entries against the
 * manifest with FTS's exact-then-re.match rule, and bind directives to
 * the stdlib.  `root` may be NULL (empty document).  Reports through d;
 * returns the IR (also when errors were reported, for further checks).
 * `names` indexes the manifest's schedulable names (manifest->sched order).
 */
struct fts_ir *fts_lower_schedule(struct fts_arena *a, struct fts_diags *d,
				  const struct fts_node *root,
				  const struct fts_manifest *m, const struct fts_names *names,
				  const struct fts_stdlib *lib, const struct fts_settings *s,
				  struct fts_span root_span);

/*
 * The training session's own optimizer (an optimizer_init mapping:
 * {class_path, init_args}) and lr scheduler (lr_scheduler_init, with its
 * pl_lrs_cfg), from a LightningCLI config or the --initial-* flags:
 * validated like reinitialization directives, the scheduler against
 * FTS's allow-list (V-F3) when check_supported.  Never NULL.
 */
struct fts_ir_directive *fts_lower_initial_optimizer(struct fts_ir *ir, struct fts_diags *d,
						     const struct fts_node *optimizer_init);
struct fts_ir_directive *fts_lower_initial_scheduler(struct fts_ir *ir, struct fts_diags *d,
						     const struct fts_node *lr_scheduler_init,
						     const struct fts_node *pl_lrs_cfg, bool check_supported);

/* Schedule-wide rules (check.c): disjointness, run settings, coverage. */
void fts_check_schedule(struct fts_ir *ir, struct fts_diags *d);

#endif /* FTS_LOWER_H */
