/*
 * plan.h - the runtime's view of a loaded plan (internal to libftsrt).
 *
 * ftsrt_plan_open() maps a plan file (man/ftsplan.5), validates every
 * byte of it, and fills this decoded, read-only view; the execution engine
 * (run.c) and the inspection tools read only this.  All pointers point into
 * the mapping or into memory the plan owns; they stay valid until
 * ftsrt_plan_close().  Every index has been checked against its table and
 * every enum against its range, so readers need no further checks.
 *
 * Checklist when this changes: plan.c (reader), compiler/emit.c (writer),
 * `ftsc dump` and `ftsrun inspect`, man/ftsplan.5, tests/plan/.
 */
#ifndef RT_PLAN_H
#define RT_PLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ftsrt.h"

enum rt_dtype {
	RT_DTYPE_F32, RT_DTYPE_F64, RT_DTYPE_F16, RT_DTYPE_BF16, RT_DTYPE_OTHER,
};

/* A distinct (dims, dtype, requires_grad) of the manifest (SHAP). */
struct rt_plan_shape {
	uint32_t ndim;
	const int64_t *dims;            /* ndim entries */
	uint64_t numel;
	uint8_t dtype;                  /* enum rt_dtype */
	bool requires_grad;
	const char *dtype_name;         /* "float32" as the manifest spells it */
};

/* One manifest entry: the plan file's MANI record itself (plans are read
 * on little-endian hosts; plan.c asserts the layout).  Its shape is
 * rt_plan_param_shape, its name rt_plan_param_name. */
struct rt_plan_param {
	uint32_t shape;                 /* index into shapes */
	int32_t tied_to;                /* index of the source parameter, or -1 */
};

enum rt_arg_kind {
	RT_ARG_NONE, RT_ARG_BOOL, RT_ARG_INT, RT_ARG_FLOAT, RT_ARG_STR, RT_ARG_FLOATS,
};

/* One resolved constructor argument: given, or the stdlib's default. */
struct rt_plan_arg {
	const char *name;
	uint8_t kind;                   /* enum rt_arg_kind */
	bool given;                     /* written in the schedule (else the default) */
	bool b;
	int64_t i;
	double f;
	const char *s;                  /* RT_ARG_STR */
	const double *v;                /* RT_ARG_FLOATS (tuples/lists of numbers) */
	uint32_t n;                     /* entries in v */
};

/* An optimizer or lr-scheduler record. */
struct rt_plan_class {
	bool scheduler;                 /* else an optimizer */
	uint16_t stdlib_id;             /* the compiler's stdlib class id */
	const char *class_path;         /* "torch.optim.AdamW" */
	const struct rt_plan_arg *args; /* every declared argument, resolved */
	uint32_t nargs;
	const char *const *state_slots; /* optimizers: state slot names in torch's order */
	uint32_t nslots;
	/* schedulers only */
	bool epoch_interval;            /* pl_lrs_cfg.interval: true = epoch */
	uint32_t frequency;             /* pl_lrs_cfg.frequency (>= 1) */
	const char *monitor;            /* pl_lrs_cfg.monitor, or NULL */
	const double *init_pg_lrs;      /* NULL when absent */
	int32_t ninit_pg_lrs;           /* -1 when absent */
	bool use_current;               /* use_current_optimizer_pg_lrs */
	const uint8_t *lambda;          /* lr_lambda bytecode (runtime/lambda.h), or NULL */
	uint32_t lambda_len;
	const int32_t *children;        /* SequentialLR/ChainedScheduler: class record indices */
	uint32_t nchildren;
	const int64_t *milestones;      /* SequentialLR */
	uint32_t nmilestones;
	/* optimizers: what a restore does to them (the stdlib's; runtime/sem.c) */
	bool state_at_construction;     /* the constructor creates per-parameter state */
	const char *const *reads;       /* group keys and state slots step() reads, in order */
	uint32_t nreads;
	const struct rt_plan_arg *setstates; /* __setstate__: fills (or, with b set... see
					   setstate_force) these keys of a loaded group */
	const bool *setstate_force;     /* per setstate: set always, not only when missing */
	uint32_t nsetstates;
};

struct rt_plan_phase {
	int64_t index;
	int64_t mte;                    /* max_transition_epoch, -1 = early-stopping driven */
	double lr;                      /* lr of the groups it adds (base_max_lr when absent) */
	const uint32_t *params;         /* manifest indices, registration order */
	uint32_t nparams;
	int32_t new_optimizer;          /* class record index, or -1 */
	int32_t new_lr_scheduler;       /* class record index, or -1 */
	const char *src_file;           /* source map (NULL when stripped) */
	uint32_t src_line;              /* 1-based, 0 when stripped */
};

/* Early stopping as FTSEarlyStopping will run it. */
struct rt_plan_es {
	bool present;                   /* false in epoch-driven mode */
	const char *monitor;
	int64_t patience;
	double min_delta;               /* non-negative, as the user wrote it */
	bool mode_max;
	bool has_stopping_threshold, has_divergence_threshold;
	double stopping_threshold, divergence_threshold;
	bool check_finite;
};

struct rt_plan_ckpt {
	const char *monitor;
	int64_t save_top_k;
	bool mode_max;
};

/* Added: the simulated parameter-group layout (informational; GRPS). */
enum rt_plan_lr_kind { RT_LR_KNOWN, RT_LR_CONTINUES, RT_LR_UNKNOWN };

struct rt_plan_group {
	uint32_t phase;                 /* index into phases: whose layout this is */
	int64_t holds;                  /* the phase whose parameters it holds */
	bool no_decay, user;
	uint8_t lr_kind, initial_lr_kind; /* enum rt_plan_lr_kind */
	double lr, initial_lr;          /* valid when the kind is RT_LR_KNOWN */
	uint32_t nparams;               /* UINT32_MAX when unknown */
	uint64_t numel;
};

/* What a restore_best does (RSTR, compiler/restore.h): restoring, at the
 * transition to phase `target`, a checkpoint written in phase `source`. */
enum rt_plan_restore_kind { RT_RESTORE_REVERTS, RT_RESTORE_FAILS };  /* = enum plan_restore_kind */

struct rt_plan_restore {
	uint32_t target, source;        /* PHAS indices, source < target */
	uint8_t kind;                   /* enum rt_plan_restore_kind */
	const char *message;            /* what ftsc check said */
	const struct rt_plan_arg *overrides; /* REVERTS: the restored groups' hyper-parameters
					   that differ from the configured ones (torch key names) */
	uint32_t noverrides;
};

/* Added: one source map entry (SMAP), in file order. */
enum rt_plan_src_kind {
	RT_SRC_PHASE, RT_SRC_PARAMS_ENTRY, RT_SRC_NEW_OPTIMIZER, RT_SRC_NEW_LR_SCHEDULER,
};

struct rt_plan_src {
	uint8_t kind;                   /* enum rt_plan_src_kind */
	uint32_t phase;                 /* index into phases */
	uint32_t item;                  /* params entry number (RT_SRC_PARAMS_ENTRY) */
	const char *file;
	uint32_t line, col;             /* 1-based */
};

struct rt_plan_names_cache;             /* plan.c's: a loaded plan's names, decoded once */

struct rt_plan {
	uint64_t manifest_hash;         /* fts_manifest_hash(): names, shapes, dtypes */
	const struct rt_plan_param *params;
	uint32_t nparams;
	const struct rt_plan_shape *shapes;
	uint32_t nshapes;
	/* the names: given (a view built by hand), or NULL and decoded from the
	 * file by the first rt_plan_names (names_cache, a loaded plan's) */
	const char *const *names;
	struct rt_plan_names_cache *names_cache;
	const struct rt_plan_phase *phases;     /* every phase of the schedule */
	uint32_t nphases;
	int64_t max_depth;              /* effective: the last phase that runs */
	const struct rt_plan_class *classes;
	uint32_t nclasses;
	int32_t initial_optimizer;      /* class record index (always present in a built plan) */
	int32_t initial_scheduler;      /* class record index, or -1 when the session has none */
	int32_t reinit_optimizer;       /* reinit_optim_cfg, or -1 */
	int32_t reinit_scheduler;       /* reinit_lr_cfg, or -1 */
	bool restore_best;
	bool epoch_transitions_only;
	bool apply_lambdas_new_pgs;
	int64_t max_epochs;             /* effective (after FTS's final-phase override) */
	double base_max_lr;
	const char *const *no_decay;    /* no_decay substrings */
	uint32_t nno_decay;
	uint32_t phase0_groups;         /* groups configure_optimizers builds (>= 1) */
	struct rt_plan_es es;
	struct rt_plan_ckpt ckpt;
	bool stripped;                  /* no source map */
	/* added */
	const struct rt_plan_group *groups;     /* GRPS, NULL/0 when absent */
	uint32_t ngroups;
	const struct rt_plan_src *src;  /* SMAP, NULL/0 when stripped */
	uint32_t nsrc;
	const struct rt_plan_restore *restores; /* RSTR, NULL/0 when absent */
	uint32_t nrestores;
	uint16_t format_major, format_minor;
};

/* The decoded view of an open plan (never NULL for an open plan). */
const struct rt_plan *rt_plan_view(const ftsrt_plan *p);

static inline const struct rt_plan_shape *rt_plan_param_shape(const struct rt_plan *v, uint32_t i)
{
	return &v->shapes[v->params[i].shape];
}

/*
 * Every parameter's name, NUL-terminated, indexed like params; NULL when
 * out of memory.  A view built by hand gives them (names); a loaded plan's
 * are front-coded in the file (checked when the plan is opened), and the
 * first call decodes them all (O(total length)) into memory the plan owns
 * until ftsrt_plan_close; later calls return that.  Safe to call from
 * several threads at once (the first finished decoding is kept, with
 * release/acquire ordering).  A run decodes them when it is created
 * (rt_run_new), so rt_plan_param_name never fails under a run.
 */
const char *const *rt_plan_names(const struct rt_plan *v);

/*
 * The index of the parameter called name, or -1 (the first, should names
 * repeat).  A loaded plan's first call builds a hash table of the names
 * (O(total length), kept like the names), later calls are O(1); a view
 * built by hand is searched linearly.
 */
int32_t rt_plan_name_index(const struct rt_plan *v, const char *name);

/* Name i, or "?" when rt_plan_names failed (out of memory). */
static inline const char *rt_plan_param_name(const struct rt_plan *v, uint32_t i)
{
	const char *const *n = rt_plan_names(v);
	return n ? n[i] : "?";
}

/*
 * The plan's identity (computed by rt_run_new, not at open): a 64-bit
 * FNV-1a over everything that decides what a run does -- the manifest
 * hash, the phases, every class record with its arguments and programs,
 * the settings, the restore table -- and nothing that does not (the source map, the informational group table, how the
 * string table is laid out).  A checkpoint records it; a resume with
 * another plan is refused.
 */
uint64_t rt_plan_identity(const struct rt_plan *v);

#endif /* RT_PLAN_H */
