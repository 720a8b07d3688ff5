/*
 * sem.h - finetuning-scheduler's transition semantics, in one place.
 *
 * Stage: runtime (shared).  What happens to the optimizer's parameter
 * groups and their learning rates when FTS starts a run and when it moves
 * to the next phase (fts-semantics.md 7.1-7.10) is decided here, once:
 *
 *   - how a plan's class records become an optimizer's hyper-parameters
 *     and a scheduler's configuration (the constructors' arguments);
 *   - which parameters are no_decay;
 *   - the groups a phase adds (one, or a decay/no_decay pair) and the
 *     session's own phase-0 groups;
 *   - the program of a transition (step_pg, 7.6): which phases are
 *     processed, in what order, and what each does (thaw, rebuild the
 *     optimizer, roll the previous lrs forward, add groups, rebuild the
 *     scheduler);
 *   - the lr each existing group takes when a scheduler is rebuilt
 *     (init_pg_lrs > use_current_optimizer_pg_lrs > initial_lr, 7.10);
 *   - what a scheduler's and an optimizer's construction does to the groups
 *     and whether it fails, by constructing the real objects (lrsched.h,
 *     ftsrt_optim).
 *
 * Two interpreters run it.  The execution engine (run.c) holds concrete
 * learning rates.  `ftsc check` (compiler/simulate.c) holds abstract ones:
 * a group's lr is known, continues the trajectory a scheduler stepped it
 * through (a run-time value), or unknown; sem_sched_construct() then
 * probes the scheduler's construction with two assignments of the values
 * it cannot see and keeps what does not depend on them.
 *
 * No global state; memory through the caller's allocator.
 */
#ifndef RT_SEM_H
#define RT_SEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ftsrt.h"
#include "lambda.h"
#include "lrsched.h"
#include "plan.h"

/* --- plan records -> constructor arguments ------------------------------------- */

/*
 * An optimizer record's kind (enum ftsrt_optim_kind) and hyper-parameters:
 * torch's defaults for the kind, then the record's arguments.  Returns
 * FTSRT_OK, or FTSRT_EINVAL (the runtime has no kernel for the class) with
 * the reason in err.
 */
int sem_optim_config(const struct rt_plan_class *c, int *kind, struct ftsrt_optim_hparams *h,
		     char *err, size_t errlen);

/* Apply plan arguments (torch keys: "momentum", "betas", ...) to h; keys h
 * has no field for are ignored. */
void sem_hparams_apply(struct ftsrt_optim_hparams *h, const struct rt_plan_arg *args, size_t n);

/* What the plan says restoring phase source's checkpoint at the transition
 * to target does (RSTR), or NULL: nothing to do. */
const struct rt_plan_restore *sem_restore_find(const struct rt_plan *p, int target, int source);

/* Storage a scheduler configuration borrows until rt_sched_init returns. */
struct sem_cfgstore {
	struct rt_sched_config ch[16];  /* children */
	int nch;
	struct rt_lambda lam[16];       /* validated lambdas */
	int nlam;
	int64_t ints[256];              /* milestones */
	int nints;
};

/*
 * The rt_sched_config of scheduler record rec of p (children and lambda
 * programs included).  Returns FTSRT_OK, or FTSRT_EINVAL with the reason
 * in err (the runtime has no such scheduler, a bad lambda program, ...).
 */
int sem_sched_config(const struct rt_plan *p, int rec, struct rt_sched_config *cfg,
		     struct sem_cfgstore *st, char *err, size_t errlen);

/* A record's argument by name, or NULL. */
const struct rt_plan_arg *sem_arg(const struct rt_plan_class *c, const char *name);

/* The argument as a number (float, int or bool); false when it is not one. */
bool sem_arg_num(const struct rt_plan_arg *a, double *v);

/* momentum or beta1 of kind's hyper-parameters (what OneCycleLR and CyclicLR
 * cycle); NaN when the kind has neither. */
double sem_group_momentum(int kind, const struct ftsrt_optim_hparams *h);

/* FTS's no_decay rule (7.7): some no_decay substring occurs in name. */
bool sem_no_decay(const struct rt_plan *p, const char *name);
/* The same for a name of len bytes (not NUL-terminated). */
bool sem_no_decay_n(const struct rt_plan *p, const char *name, size_t len);

/* --- learning rates and groups ---------------------------------------------------- */

/* What is known of a learning rate.  The runtime has only SEM_KNOWN. */
enum sem_kind {
	SEM_KNOWN,                      /* the value */
	SEM_CONTINUES,                  /* where a scheduler stepped it: a run-time value */
	SEM_UNKNOWN,                    /* depends on something not in the plan */
};

/*
 * The parameter groups as FTS keeps them, in optimizer order: whose
 * parameters each holds, and group["lr"] / group["initial_lr"].  Arrays,
 * so that a scheduler sees lr and init directly (struct rt_pg).  init is
 * NaN while a group has no initial_lr (configure_optimizers' groups before
 * a scheduler sets it).  klr/kinit are the kinds, SEM_KNOWN in the runtime.
 */
struct sem_groups {
	size_t n, cap;
	int32_t *phase;                 /* the phase whose parameters the group holds */
	uint8_t *no_decay;              /* the weight_decay 0 half of a no_decay pair */
	uint8_t *user;                  /* made by configure_optimizers */
	double *lr, *init;
	uint8_t *klr, *kinit;           /* enum sem_kind */
	ftsrt_alloc_fn alloc;
	void *ud;
};

void sem_groups_init(struct sem_groups *g, ftsrt_alloc_fn alloc, void *ud);
void sem_groups_release(struct sem_groups *g);

/* Append one group; FTSRT_ENOMEM when out of memory. */
int sem_groups_push(struct sem_groups *g, int phase, bool no_decay, bool user, double lr,
		    enum sem_kind klr, double init, enum sem_kind kinit);

/*
 * How many groups a phase adds (7.7): none when it has no parameter left
 * to add (ncandidates 0: "No thawed parameters passed"), else one, or a
 * decay/no_decay pair (either possibly empty) when the plan has no_decay.
 */
int sem_phase_ngroups(const struct rt_plan *p, size_t ncandidates);

/*
 * The groups the session starts with (7.1-7.2): configure_optimizers'
 * phase0_groups groups over phase 0 at the optimizer's lr, without
 * initial_lr.  Which parameter is in which is known when there is one
 * group, or two split by no_decay (sem_initial_split: the usual
 * LightningModule with weight-decay exemptions); the runtime runs only
 * those layouts, ftsc check counts any.
 */
int sem_initial_ngroups(const struct rt_plan *p);
bool sem_initial_split(const struct rt_plan *p);

/* The lr FTS gives the groups a phase adds: the phase's lr (base_max_lr
 * when the schedule gives none). */
double sem_phase_lr(const struct rt_plan *p, int phase);

/* The new optimizer of the transition to depth d (reinit_optim_cfg, else
 * the phase's new_optimizer), or -1. */
int sem_new_optimizer(const struct rt_plan *p, int d);

/* The scheduler phase i rebuilds when it is processed for target depth d
 * (reinit_lr_cfg, else phase i's new_lr_scheduler), or -1 (7.6). */
int sem_new_scheduler(const struct rt_plan *p, int d, int i);

/* The lrs of the existing groups before a scheduler is rebuilt (7.10):
 * init_pg_lrs, else use_current_optimizer_pg_lrs (unchanged), else each
 * group's initial_lr where it has one. */
void sem_reinit_lrs(struct sem_groups *g, const struct rt_plan_class *c);

/* --- transitions ---------------------------------------------------------------------- */

enum sem_op_kind {
	SEM_OP_THAW,                    /* set requires_grad on phase's parameters */
	SEM_OP_REINIT_OPTIMIZER,        /* a new optimizer (rec) over phase 0's groups */
	SEM_OP_ROLL_FORWARD,            /* the pre-transition lrs and scheduler state, by position (7.8) */
	SEM_OP_ADD_GROUPS,              /* the groups of phase, at its lr (7.7) */
	SEM_OP_REINIT_SCHEDULER,        /* lr precedence, then a new scheduler (rec) (7.10) */
};

struct sem_op {
	uint8_t kind;                   /* enum sem_op_kind */
	int32_t phase;
	int32_t rec;                    /* class record (REINIT_*), else -1 */
};

/* Upper bound of the ops of a transition of p. */
size_t sem_max_ops(const struct rt_plan *p);

/*
 * step_pg for the transition to depth d (7.6), as a program: with a new
 * optimizer every phase 0..d is processed; with restore_best (restore) the
 * phases after best_depth; otherwise d alone.  Writes the ops into
 * ops[0..cap) and returns how many (at most sem_max_ops()).
 */
size_t sem_transition(const struct rt_plan *p, int d, bool restore, int best_depth,
		      struct sem_op *ops, size_t cap);

/* --- constructions ------------------------------------------------------------------ */

/*
 * Construct scheduler rec over the groups, as the checker needs it: the
 * lrs and initial_lrs the construction leaves (its initial step), with
 * their kinds.  Values that are not SEM_KNOWN are probed: the scheduler is
 * built twice, with two assignments of them, and a result that differs
 * between the two takes the weakest kind of its group's inputs.  momentum
 * is the optimizer's momentum or beta1 (NaN: none).  Returns FTSRT_OK, or
 * FTSRT_EINVAL when the construction fails as torch's would (the reason in
 * err); the groups are then unchanged.
 */
int sem_sched_construct(const struct rt_plan *p, int rec, struct sem_groups *g, double momentum,
			char *err, size_t errlen);

/*
 * Build optimizer rec over the groups (hyper-parameters from the record,
 * weight_decay 0 for no_decay groups, each group's lr where known) and
 * report whether the runtime's optimizer accepts it.  FTSRT_EINVAL with
 * the reason in err when not.
 */
int sem_optim_construct(const struct rt_plan *p, int rec, const struct sem_groups *g, char *err,
			size_t errlen);

#endif /* RT_SEM_H */
