/*
 * restore.h - what restore_best does at each transition, for every
 * checkpoint it may load.
 *
 * Stage: analysis.  With restore_best, FTS restores the best checkpoint
 * before each transition; any earlier phase may have written it.  torch's
 * load_state_dict then gives the restored parameter groups the
 * checkpoint's hyper-parameters and state, and the optimizer's step()
 * reads what it needs (the stdlib's restore profile: `reads`,
 * `setdefault`/`setforce`, `state_at_construction`).  For each target
 * phase without a new optimizer and each source phase whose checkpoint
 * was written under another optimizer (or whose parameters a
 * state-at-construction optimizer lacks), the outcome is one of:
 *
 *   fails     step() raises KeyError (or TypeError) on a key or state slot;
 *   reverts   it runs, with hyper-parameters of the checkpoint's optimizer
 *             where they differ from the configured ones;
 *
 * and nothing otherwise.  The outcomes are reported (FTSC080, FTSC095) and
 * written into the plan (its RSTR section), which the runtime follows: it
 * refuses such a restore with the same message, or applies the restored
 * hyper-parameters and says so.
 */
#ifndef FTS_RESTORE_H
#define FTS_RESTORE_H

#include "diag.h"
#include "driver.h"

/* Analyse c (its simulation and plan view must exist), report into d, and
 * store the table in c->view.  Does nothing when restore_best is off. */
void fts_restore_analyse(struct fts_compile *c, struct fts_diags *d);

#endif /* FTS_RESTORE_H */
