/*
 * ir.h - the checked schedule: phases with resolved parameters, directives
 * bound to stdlib declarations, and the run settings they execute under.
 *
 * lower.c builds it from the document tree (ast.h) and reports every
 * per-phase problem; check.c then runs the schedule-wide rules over it.
 * Later stages (plan emission, explain-plan) read only this.
 */
#ifndef FTS_IR_H
#define FTS_IR_H

#include <stdbool.h>
#include <stdint.h>

#include "ast.h"
#include "manifest.h"

struct fts_decl_class;
struct fts_stdlib;
struct fts_names;

/* Run settings: FinetuningScheduler's callback arguments and the trainer's. */
struct fts_settings {
	bool restore_best;              /* default true */
	int64_t max_depth;              /* default -1: all phases */
	bool epoch_transitions_only;    /* default false */
	bool allow_untested;            /* default false */
	double base_max_lr;             /* default 1e-5 */
	int64_t max_epochs;             /* default 1000 (Lightning's default) */
	bool apply_lambdas_new_pgs;     /* default false */
	const struct fts_node *reinit_optim_cfg;        /* implicit optimizer reinit, or NULL */
	const struct fts_node *reinit_lr_cfg;           /* implicit scheduler reinit, or NULL */
	bool implicit_mode;             /* the schedule is FTS's generated one (no ft_schedule) */
	bool target_ftsrt;              /* checked for libftsrt, not FTS (--target=ftsrt, build) */
	const char *run_dir;            /* where training starts: FTS opens a relative
					   ft_schedule path there (--run-dir; NULL: here) */
};

void fts_settings_default(struct fts_settings *s);

/* An optimizer or lr-scheduler directive (new_optimizer, new_lr_scheduler,
 * reinit_optim_cfg, reinit_lr_cfg). */
struct fts_ir_directive {
	const struct fts_node *node;    /* the directive mapping */
	const char *class_path;         /* NULL when missing */
	struct fts_span class_span;
	const struct fts_decl_class *decl;      /* NULL when unknown to the stdlib */
	const struct fts_node *init_args;       /* mapping, or NULL */
	/* lr schedulers only */
	const struct fts_node *pl_lrs_cfg;
	const struct fts_node *init_pg_lrs;     /* the list node, or NULL */
	double *pg_lrs;                 /* init_pg_lrs as numbers */
	size_t npg_lrs;
	bool use_current;               /* use_current_optimizer_pg_lrs */
	bool epoch_interval;            /* pl_lrs_cfg.interval: true = epoch (default) */
	const char *monitor;            /* pl_lrs_cfg.monitor, or NULL */
	bool metric_as_epoch;           /* reduce_on_plateau on a scheduler that is not
					   ReduceLROnPlateau: stepped with the metric as epoch */
};

/* Where each resolved parameter of a phase came from. */
struct fts_ir_param {
	uint32_t index;                 /* manifest index (schedulable entry) */
	uint32_t entry;                 /* which params entry of the phase */
};

struct fts_ir_entry {
	const struct fts_node *node;    /* the params list item */
	const char *text;               /* as written */
	bool exact;                     /* matched as an exact name */
	uint32_t nmatched;
};

struct fts_ir_phase {
	int64_t index;                  /* phase number after FTS's int() */
	const struct fts_node *key;     /* the key as written */
	const struct fts_node *node;    /* the phase mapping (NULL if malformed) */
	struct fts_ir_entry *entries;   /* params entries, in order */
	uint32_t nentries;
	struct fts_ir_param *params;    /* resolved, duplicates kept (as FTS) */
	uint32_t nparams;
	int64_t mte;                    /* max_transition_epoch, -1 if absent */
	const struct fts_node *mte_node;
	double lr;                      /* phase lr (base_max_lr if absent); phase 0: unused */
	const struct fts_node *lr_node;
	struct fts_ir_directive *new_optimizer;   /* NULL if absent */
	struct fts_ir_directive *new_lr_scheduler;
};

struct fts_ir {
	struct fts_arena *arena;
	const struct fts_manifest *manifest;
	const struct fts_stdlib *stdlib;
	struct fts_settings settings;
	const struct fts_node *root;    /* the schedule document */
	struct fts_ir_phase *phases;    /* sorted by index; n == number of phases */
	uint32_t nphases;
	bool keys_ok;                   /* keys are exactly 0..n-1 */
	int64_t max_depth;              /* effective: -1 resolved and clamped */
	struct fts_ir_directive *reinit_optim;  /* from settings.reinit_optim_cfg */
	struct fts_ir_directive *reinit_lr;
};

#endif /* FTS_IR_H */
