/*
 * lrsched.h - learning-rate schedulers, step for step as torch.optim.lr_scheduler
 * (PyTorch 2.11) computes them.
 *
 * Stage: runtime (plan execution).  FTS drives one scheduler through phase
 * transitions (fts-semantics.md 7.7-7.10): groups are added, lrs restored,
 * schedulers rebuilt.  To give the same learning rates as FTS on torch, the
 * schedulers here reproduce torch's own arithmetic: the recursive
 * ("chainable") get_lr() forms, not their closed forms, in double precision
 * and in Python's evaluation order; the construction-time behaviour
 * (initial_lr set on groups, base_lrs taken from initial_lr, the initial
 * step, last_epoch); and the explicit-epoch (closed-form) path that
 * SequentialLR's milestone hand-over uses.
 *
 * Kinds: FTS's ten (LambdaLR, MultiplicativeLR, StepLR, MultiStepLR,
 * ExponentialLR, CosineAnnealingLR, ReduceLROnPlateau,
 * CosineAnnealingWarmRestarts, ConstantLR, LinearLR) and PolynomialLR,
 * OneCycleLR, CyclicLR, SequentialLR, ChainedScheduler.  Not supported:
 * user-defined CyclicLR scale_fn, ParamwiseScheduler.
 *
 * Ownership.  The optimizer side owns the parameter groups and lends them
 * as a struct rt_pg on every call; the scheduler owns its per-group arrays
 * (base_lrs, _last_lr, min_lrs, max_lrs, momenta bounds, lambda indices),
 * its copies of the lambda programs, and its child schedulers, all
 * allocated through the allocator given at init.  There is no global state.
 *
 * Errors.  Functions return 0 or a negative FTSRT_* status; what torch
 * would raise (ValueError for a bad argument, ZeroDivisionError inside
 * get_lr, ...) becomes FTSRT_EINVAL with a message in rt_sched_errmsg().
 * A failed step leaves every group lr unchanged.
 */
#ifndef RT_SCHED_H
#define RT_SCHED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lambda.h"

/* ORDER KINDS: keep in sync with kind_names[] in lrsched.c. */
enum rt_sched_kind {
	RT_SCHED_LAMBDA,                /* LambdaLR */
	RT_SCHED_MULTIPLICATIVE,        /* MultiplicativeLR */
	RT_SCHED_STEP,                  /* StepLR */
	RT_SCHED_MULTISTEP,             /* MultiStepLR */
	RT_SCHED_EXPONENTIAL,           /* ExponentialLR */
	RT_SCHED_COSINE,                /* CosineAnnealingLR */
	RT_SCHED_PLATEAU,               /* ReduceLROnPlateau */
	RT_SCHED_COSINE_WR,             /* CosineAnnealingWarmRestarts */
	RT_SCHED_CONSTANT,              /* ConstantLR */
	RT_SCHED_LINEAR,                /* LinearLR */
	RT_SCHED_POLYNOMIAL,            /* PolynomialLR */
	RT_SCHED_ONECYCLE,              /* OneCycleLR */
	RT_SCHED_CYCLIC,                /* CyclicLR */
	RT_SCHED_SEQUENTIAL,            /* SequentialLR */
	RT_SCHED_CHAINED,               /* ChainedScheduler */
	RT_SCHED_KIND_COUNT_,
};

enum rt_plateau_mode { RT_PLATEAU_MIN, RT_PLATEAU_MAX };
enum rt_threshold_mode { RT_THRESHOLD_REL, RT_THRESHOLD_ABS };
enum rt_anneal { RT_ANNEAL_COS, RT_ANNEAL_LINEAR };
enum rt_cyclic_mode { RT_CYCLIC_TRIANGULAR, RT_CYCLIC_TRIANGULAR2, RT_CYCLIC_EXP_RANGE };

/* Integers (epochs, step sizes) are bounded by 2**53 so arithmetic on them
 * can neither overflow nor differ from Python's exact ints. */
#define RT_SCHED_INT_LIMIT ((int64_t)1 << 53)
/* "Not given" for a required integer argument. */
#define RT_SCHED_UNSET INT64_MIN

/*
 * The optimizer's parameter groups as the scheduler sees them: torch's
 * group["lr"], group["initial_lr"] and group["momentum"] (or betas[0]).
 * The arrays belong to the caller and hold n entries.
 */
struct rt_pg {
	double *lr;                     /* read and written */
	double *initial_lr;             /* read and written; NaN means "key absent" */
	double *momentum;               /* momentum or beta1; NULL when the optimizer has
					 * neither (OneCycleLR/CyclicLR with cycle_momentum fail) */
	size_t n;                       /* number of groups */
};

/* A float-or-list argument (torch's `max_lr: float | list[float]`). */
struct rt_sched_param {
	double scalar;                  /* used when list is NULL */
	const double *list;             /* one value per group, or NULL */
	size_t n;                       /* entries in list; must equal the group count */
};

/*
 * A scheduler's constructor arguments; rt_sched_config_defaults() fills in
 * torch's defaults for a kind, then set what the schedule names.  Fields
 * other kinds use are ignored.  Required arguments without a default are
 * NaN / RT_SCHED_UNSET until set.
 */
struct rt_sched_config {
	enum rt_sched_kind kind;
	int64_t last_epoch;             /* -1: a fresh start */
	/* LambdaLR, MultiplicativeLR */
	const struct rt_lambda *lambdas; /* validated programs (copied at init) */
	size_t nlambdas;                /* entries in lambdas */
	bool lambda_list;               /* false: one lambda for every group */
	/* StepLR, MultiStepLR, ExponentialLR, CyclicLR (exp_range) */
	double gamma;
	int64_t step_size;              /* StepLR */
	const int64_t *milestones;      /* MultiStepLR, SequentialLR */
	size_t nmilestones;
	/* CosineAnnealingLR, CosineAnnealingWarmRestarts */
	int64_t T_max;
	double eta_min;
	int64_t T_0, T_mult;
	/* ConstantLR, LinearLR, PolynomialLR */
	double factor;                  /* ConstantLR, ReduceLROnPlateau */
	int64_t total_iters;
	double start_factor, end_factor;
	double power;
	/* ReduceLROnPlateau */
	enum rt_plateau_mode mode;
	double threshold;
	enum rt_threshold_mode threshold_mode;
	int64_t patience, cooldown;
	struct rt_sched_param min_lr;
	double eps;
	/* OneCycleLR, CyclicLR */
	struct rt_sched_param max_lr;
	struct rt_sched_param base_lr;  /* CyclicLR */
	int64_t total_steps;            /* OneCycleLR: 0 = derive from epochs * steps_per_epoch */
	int64_t epochs, steps_per_epoch;
	double pct_start;
	enum rt_anneal anneal_strategy;
	bool cycle_momentum;
	struct rt_sched_param base_momentum, max_momentum;
	double div_factor, final_div_factor;
	bool three_phase;
	double step_size_up, step_size_down; /* CyclicLR; step_size_down NaN = None */
	enum rt_cyclic_mode cyclic_mode;
	/* SequentialLR, ChainedScheduler: children, constructed in order */
	const struct rt_sched_config *children;
	size_t nchildren;
};

/* Allocator in the lua_Alloc style: nsize 0 frees, otherwise (re)allocates. */
typedef void *(*rt_sched_alloc_fn)(void *ud, void *ptr, size_t osize, size_t nsize);

/* Scheduler state.  The caller allocates the struct; the fields are private. */
struct rt_sched {
	enum rt_sched_kind kind;
	rt_sched_alloc_fn alloc;        /* never NULL after init */
	void *ud;                       /* allocator context */
	size_t ngroups;                 /* groups the scheduler knows */
	size_t cap;                     /* allocated entries per group array */
	int64_t last_epoch;             /* torch last_epoch */
	int64_t step_count;             /* torch _step_count */
	bool is_initial;                /* inside _initial_step */
	/* hyper-parameters */
	double gamma, eta_min, factor, start_factor, end_factor, power;
	double threshold, eps, pct_start, div_factor, final_div_factor;
	double total_size, step_ratio;  /* CyclicLR */
	double default_min_lr;          /* ReduceLROnPlateau; NaN = None (list given) */
	double end_step[3];             /* OneCycleLR phase ends */
	int64_t step_size, T_max, T_0, T_mult, total_iters, patience, cooldown;
	int64_t total_steps, nphases;
	int mode, threshold_mode, anneal, cyclic_mode;
	bool cycle_momentum, three_phase;
	/* mutable state besides last_epoch */
	double T_cur, T_i;              /* CosineAnnealingWarmRestarts */
	double best;                    /* ReduceLROnPlateau */
	int64_t num_bad_epochs, cooldown_counter;
	size_t nfixed;                  /* CyclicLR: groups covered by max_lrs */
	/* per-group arrays, cap entries each */
	double *base_lrs;               /* base_lrs */
	double *last_lr;                /* _last_lr */
	double *min_lrs;                /* ReduceLROnPlateau min_lrs; OneCycleLR group min_lr */
	double *max_lrs;                /* OneCycleLR group max_lr; CyclicLR max_lrs */
	double *base_mom, *max_mom;     /* OneCycleLR/CyclicLR momentum bounds */
	double *scratch;                /* new lrs before they are committed */
	uint32_t *lambda_idx;           /* group -> index into lambdas */
	/* owned copies */
	struct rt_lambda *lambdas;      /* nlambdas programs */
	size_t nlambdas;
	uint8_t *lambda_code;           /* their bytes */
	size_t lambda_code_len;
	int64_t *milestones;            /* MultiStepLR: sorted; SequentialLR: as given */
	size_t nmilestones;
	struct rt_sched *children;      /* SequentialLR, ChainedScheduler */
	size_t nchildren;
	char errmsg[160];               /* why the last call failed */
};

/* Torch's class name of a kind ("StepLR"); static storage. */
const char *rt_sched_kind_name(enum rt_sched_kind kind);

/* The kind for a class name, bare ("StepLR") or dotted
 * ("torch.optim.lr_scheduler.StepLR"); -1 when unknown. */
int rt_sched_kind_from_name(const char *name);

/* Fill cfg with torch's defaults for kind (everything else zero). */
void rt_sched_config_defaults(struct rt_sched_config *cfg, enum rt_sched_kind kind);

/*
 * The numeric field of cfg that the constructor argument `key` (torch's
 * name: gamma, T_0, step_size, ...) sets: a double, or an int64_t when
 * *is_int; NULL for any other argument.
 */
void *rt_sched_config_field(struct rt_sched_config *cfg, const char *key, bool *is_int);

/*
 * Construct a scheduler over the groups pg, as torch's constructor does:
 * validate the arguments, set initial_lr/lr/momentum on the groups where
 * torch does, take base_lrs, and perform the initial step (children of
 * SequentialLR/ChainedScheduler are constructed first, in order, on the
 * same groups).  alloc may be NULL (malloc/realloc/free).  Returns 0, or
 * FTSRT_EINVAL / FTSRT_ENOMEM with the reason in s->errmsg; on failure
 * nothing is left allocated (rt_sched_release is still safe to call) but
 * the groups may have been partly modified, as in torch.
 */
int rt_sched_init(struct rt_sched *s, const struct rt_sched_config *cfg, struct rt_pg *pg,
		  rt_sched_alloc_fn alloc, void *ud);

/* Free everything the scheduler owns; s may then be re-initialised. */
void rt_sched_release(struct rt_sched *s);

/*
 * One scheduler.step(): for ReduceLROnPlateau metric points at the
 * monitored value (NULL is FTSRT_EINVAL); other kinds ignore it.  pg->n
 * must equal the number of groups the scheduler knows.  Updates pg->lr
 * (and pg->momentum for cycling schedulers).  On FTSRT_EINVAL no lr changed.
 */
int rt_sched_step(struct rt_sched *s, struct rt_pg *pg, const double *metric);

/*
 * scheduler.step(epoch), torch's deprecated explicit-epoch form: the
 * closed form where the class has one.  CosineAnnealingWarmRestarts takes
 * fractional epochs; every other kind needs an integral one.
 * SequentialLR and ChainedScheduler reject it, as torch does.
 */
int rt_sched_step_epoch(struct rt_sched *s, struct rt_pg *pg, double epoch,
			const double *metric);

/*
 * FTS's bookkeeping for one parameter group appended to the optimizer
 * (fts-semantics.md 7.7), after the caller appended it to the groups:
 * ReduceLROnPlateau extends min_lrs with min_lrs[0]; the others extend
 * base_lrs with the unscaled lr and pad their lambdas with copies of the
 * last one.  Composite schedulers apply this to every child (an ftsc
 * extension: FTS does not support them).  CyclicLR records the base lr but,
 * as in torch, never schedules a group its max_lrs do not cover.  OneCycleLR
 * cannot schedule a group without its max_lr: FTSRT_EINVAL.
 */
int rt_sched_add_group(struct rt_sched *s, double lr);

/* True when the scheduler has lr_lambdas (LambdaLR, MultiplicativeLR). */
bool rt_sched_has_lambdas(const struct rt_sched *s);

/*
 * lr_lambdas[-1](last_epoch), the factor FTS's apply_lambdas_new_pgs applies
 * to a new group's lr.  FTSRT_EINVAL when there are no lambdas or it raises.
 */
int rt_sched_last_lambda(struct rt_sched *s, double *factor);

/* get_last_lr()[i], or NaN when i is out of range. */
double rt_sched_last_lr(const struct rt_sched *s, size_t i);

/* Why the last failing call failed ("" if none). */
const char *rt_sched_errmsg(const struct rt_sched *s);

/*
 * State save/load (torch's state_dict/load_state_dict) as a flat,
 * versioned, CRC-checked little-endian buffer: counters, hyper-parameters,
 * per-group arrays and children, recursively; lambda programs are not
 * saved (like torch, which drops lambdas), only which lambda each group
 * uses.  rt_sched_state_size gives the exact size save needs.
 * rt_sched_state_load restores into a scheduler built from the same
 * configuration (same kind and children) and may grow its group count; it
 * checks the whole buffer before changing anything and returns
 * FTSRT_EFORMAT for a truncated, corrupted, foreign or mismatched buffer,
 * FTSRT_EVERSION for a newer format.
 */
size_t rt_sched_state_size(const struct rt_sched *s);
int rt_sched_state_save(const struct rt_sched *s, void *buf, size_t len);
int rt_sched_state_load(struct rt_sched *s, const void *buf, size_t len);

#endif /* RT_SCHED_H */
