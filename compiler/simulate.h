/*
 * simulate.h - cross-phase analysis: what every phase of a checked
 * schedule will look like when FTS runs it, and what can go wrong between
 * phases.
 *
 * The simulation runs the plan the schedule builds (planview.h) through
 * the runtime's own transition semantics (runtime/sem.h), with abstract
 * learning rates: the optimizer and lr scheduler in force in each phase,
 * the parameter groups FTS builds (one per phase, two with no_decay;
 * phase 0 rebuilt by an optimizer reinitialization; later phases
 * replayed), and the lr each group starts the phase with, as far as it is
 * decided statically: a group that keeps training on a trajectory (a
 * scheduler stepping through earlier phases) "continues" it.  Every
 * optimizer and scheduler is constructed where FTS constructs it, over the
 * groups that phase really has, so a construction torch would refuse is
 * reported where it is written.
 */
#ifndef FTS_SIMULATE_H
#define FTS_SIMULATE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "diag.h"
#include "ir.h"

struct fts_planview;

enum fts_lr_kind {
	FTS_LR_KNOWN,                   /* v holds the value */
	FTS_LR_CONTINUES,               /* continues the group's trajectory (run-time value) */
	FTS_LR_UNKNOWN,                 /* depends on something ftsc cannot see */
};

struct fts_sim_lr {
	enum fts_lr_kind kind;
	double v;
};

struct fts_sim_group {
	int64_t phase;                  /* whose parameters it holds */
	bool no_decay;                  /* the weight_decay 0 half of a no_decay pair */
	bool user;                      /* built by configure_optimizers: contents unknown */
	struct fts_sim_lr lr;           /* at the start of the phase */
	struct fts_sim_lr initial_lr;
	uint32_t nparams;               /* -1 (UINT32_MAX) when unknown */
	uint64_t numel;
	uint64_t bytes;
};

/* An optimizer or scheduler in force. */
struct fts_sim_class {
	bool known;                     /* false: ftsc cannot tell (no config) */
	bool none;                      /* schedulers only: known to be absent */
	const struct fts_ir_directive *dir;     /* the directive that made it (NULL: none/unknown) */
	int32_t rec;                    /* its class record in the plan view, or -1 */
	int64_t since;                  /* phase that created it; -1 = the initial one */
	const char *slots;              /* optimizers: state slot names, comma separated */
	struct fts_sim_lr lr;           /* optimizers: defaults["lr"] */
};

struct fts_sim_phase {
	int64_t index;
	struct fts_sim_class opt;
	struct fts_sim_class sched;
	struct fts_sim_group *groups;
	size_t ngroups;
	size_t existing;                /* groups before this phase added its own */
	uint32_t nparams;               /* parameters this phase thaws */
	uint64_t numel, bytes;
	uint32_t total_params;          /* thawed so far, this phase included */
	uint64_t total_numel, total_bytes;
	int64_t start_epoch;            /* earliest epoch it can start; -1 unknown */
};

struct fts_sim {
	struct fts_sim_phase *phases;   /* 0..max_depth */
	size_t n;
	const struct fts_planview *view;        /* the plan simulated */
};

/* What is known of the training session's own optimizer and scheduler. */
struct fts_initial {
	bool optimizer_known;
	const struct fts_ir_directive *optimizer;       /* valid when known */
	bool scheduler_known;
	const struct fts_ir_directive *scheduler;       /* NULL when known to be absent */
	const char *const *no_decay;    /* no_decay substrings (may be empty) */
	size_t nno_decay;
	bool no_decay_known;            /* given (--no-decay): group counts are verified */
	unsigned phase0_groups;         /* configure_optimizers' group count (default 1) */
	struct fts_span where;          /* where the initial configuration came from */
};

/*
 * Simulate the plan view v of the lowered schedule (phases 0..max_depth),
 * reporting into d every optimizer or scheduler construction that fails
 * (as torch's would) over the groups of its phase.  Memory comes from
 * ir->arena.  Returns NULL when the schedule is too broken to simulate.
 */
struct fts_sim *fts_simulate(struct fts_ir *ir, const struct fts_initial *init,
			     const struct fts_planview *v, struct fts_diags *d);

/* The checks that need the simulation (restore_best hazards, init_pg_lrs
 * and min_lr counts, scheduler presence, lambdas for new groups). */
void fts_check_cross_phase(struct fts_ir *ir, const struct fts_sim *sim,
			   const struct fts_initial *init, struct fts_diags *d);

/* `ftsc check --explain-plan`: the table of phases a user reads before
 * launching a job. */
void fts_explain_plan(const struct fts_ir *ir, const struct fts_sim *sim, FILE *out);

#endif /* FTS_SIMULATE_H */
