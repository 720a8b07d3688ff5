/*
 * ftsrt.h - the public interface of libftsrt, the ftsc runtime.
 *
 * This is the only installed header.  It is self-contained and free of
 * global state: every object is an opaque handle the caller owns.
 *
 * Contents: conventions, plans (the binary file `ftsc build` writes, see
 * ftsplan(5)), optimizers and runs.  See libftsrt(3).
 *
 * CONVENTIONS (the whole interface follows them)
 *
 * Errors.  A function that can fail returns int: FTSRT_OK (0) or a
 * negative enum ftsrt_status, and takes a last argument ftsrt_error *err.
 * On failure, when err is not NULL, *err receives the status and a
 * one-line message; on success *err is left as it was.  There is no other
 * error channel (no errno, no per-object "last error", no exit or abort).
 * Functions that cannot fail return their value and take no err.
 *
 * Types.  Element counts, offsets and byte sizes of memory: size_t.
 * Indices and counts of a plan's or a run's objects (parameters, phases,
 * groups, state slots) and enumeration values: int32_t (-1 where "none"
 * is allowed).  Epochs, steps, shapes and depths: int64_t.  Hashes and
 * identities: uint64_t.  Real values: double.  Yes/no: bool.
 *
 * Structs.  Every struct passed in or out begins with size_t struct_size,
 * which the caller sets to sizeof the struct it was compiled with (the
 * FTSRT_INIT macro does).  The library reads or writes only that many
 * bytes: a caller built against an older header keeps working when later
 * versions append fields, and a newer caller's extra fields must be zero
 * (otherwise FTSRT_EINVAL: it asks for something this library lacks).
 * Where an options pointer may be NULL, NULL means every default, and an
 * options struct of zeros (FTSRT_INIT) means the same: every option's
 * default is its zero value, or zero stands for it.  (For maintainers: a
 * new field goes after the previous version's sizeof, never into padding,
 * so that struct_size always tells old callers from new ones.)
 */
#ifndef FTSRT_H
#define FTSRT_H

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define FTSRT_API __attribute__((visibility("default")))
#else
#define FTSRT_API
#endif

#define FTSRT_VERSION_MAJOR 1
#define FTSRT_VERSION_MINOR 3
#define FTSRT_VERSION_PATCH 0
#define FTSRT_VERSION_STRING "1.3.0"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Status codes: 0 is success, failures are negative. */
enum ftsrt_status {
	FTSRT_OK = 0,
	FTSRT_EINVAL = -1,              /* a bad argument (NULL, wrong size, non-finite value) */
	FTSRT_ENOMEM = -2,              /* an allocation failed */
	FTSRT_EIO = -3,                 /* a file could not be read or written */
	FTSRT_EFORMAT = -4,             /* a file is not a valid plan or checkpoint */
	FTSRT_EVERSION = -5,            /* a plan needs a newer reader */
	FTSRT_EBUSY = -6,               /* a checkpoint directory is in use by another run */
};

/* Why a call failed (see CONVENTIONS). */
typedef struct ftsrt_error {
	int status;                     /* enum ftsrt_status */
	char message[1024];             /* one line, NUL-terminated */
} ftsrt_error;

/* `struct T x = FTSRT_INIT(struct T);` sets x.struct_size, zeroes the rest. */
#define FTSRT_INIT(T) ((T){.struct_size = sizeof(T)})

/* The structs of the interface, for ftsrt_struct_size. */
enum ftsrt_struct {
	FTSRT_STRUCT_ERROR = 0,         /* ftsrt_error (which has no struct_size) */
	FTSRT_STRUCT_PLAN_OPTIONS,
	FTSRT_STRUCT_PLAN_PARAM,
	FTSRT_STRUCT_PLAN_PHASE,
	FTSRT_STRUCT_OPTIM_HPARAMS,
	FTSRT_STRUCT_OPTIM_OPTIONS,
	FTSRT_STRUCT_RUN_OPTIONS,
	FTSRT_STRUCT_RUN_EVENT,
	FTSRT_STRUCT_RUN_GROUP,
	FTSRT_STRUCT_RUN_OPTIMIZER,     /* 1.2 */
	FTSRT_STRUCT_COUNT_             /* number of structs, not a struct */
};

/* sizeof each struct as this library was built, or 0 for an unknown one:
 * a binding that mirrors the structs in another language checks its
 * mirrors against it. */
FTSRT_API size_t ftsrt_struct_size(int32_t which);

/* The library's version string ("1.1.0"); static storage. */
FTSRT_API const char *ftsrt_version(void);

/* A short English description of a status code; static storage. */
FTSRT_API const char *ftsrt_strerror(int status);

/*
 * An allocator, like lua_Alloc: nsize 0 frees ptr (returns NULL);
 * otherwise (re)allocates ptr from osize to nsize bytes and returns the
 * block, or NULL when out of memory (ptr unchanged).
 */
typedef void *(*ftsrt_alloc_fn)(void *ud, void *ptr, size_t osize, size_t nsize);

/*
 * Plans (ftsplan(5)).
 *
 * ftsrt_plan_open reads a plan file and validates all of it before
 * returning: magic, versions, every CRC-32C, every offset, length and
 * index, every enumeration, every string and every lr_lambda program.  A
 * plan that opened is consistent; the accessors below need no further
 * checks.  No input file makes it crash, abort or exit.
 *
 * Ownership: the caller owns the handle and releases it with
 * ftsrt_plan_close.  Every pointer the accessors return (strings, arrays)
 * is borrowed from the plan and stays valid until ftsrt_plan_close.  A plan
 * is immutable: any number of threads may read one open plan.
 */
typedef struct ftsrt_plan ftsrt_plan;

/* Options of ftsrt_plan_open and ftsrt_plan_open_mem. */
struct ftsrt_plan_options {
	size_t struct_size;
	ftsrt_alloc_fn alloc;           /* NULL: malloc/realloc/free */
	void *alloc_ud;                 /* alloc's context */
};

/*
 * Open and validate the plan at path; on success *out gets the handle.
 * Returns FTSRT_OK, FTSRT_EINVAL (NULL arguments), FTSRT_EIO (cannot read),
 * FTSRT_EFORMAT (not a valid plan: err says where, "section PHAS: phase 2
 * thaws parameter 91 of 90"), FTSRT_EVERSION (needs a newer reader) or
 * FTSRT_ENOMEM.  On failure *out is NULL.
 */
FTSRT_API int ftsrt_plan_open(ftsrt_plan **out, const char *path,
			      const struct ftsrt_plan_options *opt, ftsrt_error *err);

/* Open a plan held in memory: data[0..len) is copied (the caller keeps
 * ownership of data and may free it on return).  Same statuses. */
FTSRT_API int ftsrt_plan_open_mem(ftsrt_plan **out, const void *data, size_t len,
				  const struct ftsrt_plan_options *opt, ftsrt_error *err);

/* Free a plan; NULL is a no-op.  Borrowed pointers die here. */
FTSRT_API void ftsrt_plan_close(ftsrt_plan *p);

/* The plan's format version (ftsplan(5): major, minor). */
FTSRT_API int32_t ftsrt_plan_format_major(const ftsrt_plan *p);
FTSRT_API int32_t ftsrt_plan_format_minor(const ftsrt_plan *p);

/* The manifest hash recorded in the plan (see ftsrt_manifest_hash). */
FTSRT_API uint64_t ftsrt_plan_manifest_hash(const ftsrt_plan *p);

/*
 * The manifest hash of ftsplan(5): FNV-1a 64 over "name\tshape\tdtype\n"
 * of every parameter in registration order, tied aliases included (shape
 * "AxB" in decimal, "scalar" for ndim 0; dtype as torch names it without
 * the "torch." prefix: "float32").  Start from FTSRT_MANIFEST_HASH_INIT and
 * add each parameter with ftsrt_manifest_hash_add; or hash arrays at once
 * with ftsrt_manifest_hash.  Pure functions.
 */
#define FTSRT_MANIFEST_HASH_INIT UINT64_C(0xcbf29ce484222325)
FTSRT_API uint64_t ftsrt_manifest_hash_add(uint64_t h, const char *name, int32_t ndim,
					   const int64_t *dims, const char *dtype);
FTSRT_API uint64_t ftsrt_manifest_hash(size_t n, const char *const *names, const int32_t *ndims,
				       const int64_t *const *dims, const char *const *dtypes);

/*
 * Confirm that the model a job has is the one the plan was checked
 * against: FTSRT_OK when hash equals the plan's manifest hash, else
 * FTSRT_EINVAL (err names both hashes).
 */
FTSRT_API int ftsrt_plan_bind(const ftsrt_plan *p, uint64_t hash, ftsrt_error *err);

/* Manifest entries (tied aliases included), in registration order. */
FTSRT_API int32_t ftsrt_plan_nparams(const ftsrt_plan *p);

/* One manifest entry (filled by ftsrt_plan_param; strings and dims borrowed). */
struct ftsrt_plan_param {
	size_t struct_size;
	const char *name;
	int32_t ndim;
	const int64_t *dims;            /* ndim entries */
	const char *dtype;              /* "float32", ... */
	int32_t tied_to;                /* the entry it is tied to, or -1 */
};

/* Fill *out with entry i.  Returns FTSRT_OK or FTSRT_EINVAL (i out of range). */
FTSRT_API int ftsrt_plan_param(const ftsrt_plan *p, int32_t i, struct ftsrt_plan_param *out,
			       ftsrt_error *err);

/* One phase of the schedule (filled by ftsrt_plan_phase; pointers borrowed). */
struct ftsrt_plan_phase {
	size_t struct_size;
	int64_t index;                  /* phase number (== its position) */
	int64_t max_transition_epoch;   /* -1: early stopping decides */
	double lr;                      /* lr of the groups it adds */
	const int32_t *params;          /* manifest indices it thaws */
	int32_t nparams;
	bool new_optimizer;             /* reinitializes the optimizer */
	bool new_lr_scheduler;          /* reinitializes the scheduler */
	const char *optimizer;          /* class path of the new optimizer, or NULL */
	const char *lr_scheduler;       /* class path of the new scheduler, or NULL */
	const char *src_file;           /* schedule file, or NULL (stripped plan) */
	int32_t src_line;               /* 1-based line of the phase key, 0 when stripped */
};

/* Phases in the plan (every phase of the schedule). */
FTSRT_API int32_t ftsrt_plan_nphases(const ftsrt_plan *p);

/* Fill *out with phase i.  Returns FTSRT_OK or FTSRT_EINVAL. */
FTSRT_API int ftsrt_plan_phase(const ftsrt_plan *p, int32_t i, struct ftsrt_plan_phase *out,
			       ftsrt_error *err);

/* The last phase that runs (FinetuningScheduler max_depth, resolved). */
FTSRT_API int64_t ftsrt_plan_max_depth(const ftsrt_plan *p);

/* Effective trainer max_epochs (after FTS's final-phase override); -1: no limit. */
FTSRT_API int64_t ftsrt_plan_max_epochs(const ftsrt_plan *p);

/* Listings for ftsplan(5) tools: the phase table, or everything. */
enum ftsrt_dump_what {
	FTSRT_DUMP_PHASES = 0,          /* `ftsrun inspect` */
	FTSRT_DUMP_ALL = 1,             /* `ftsc dump`: every section, stable text */
};

/* Print a stable, human-readable listing of p to out.  Returns FTSRT_OK,
 * FTSRT_EINVAL (bad arguments) or FTSRT_EIO (a write failed). */
FTSRT_API int ftsrt_plan_dump(const ftsrt_plan *p, FILE *out, int32_t what, ftsrt_error *err);

/*
 * Optimizers (torch.optim semantics, torch 2.11, foreach=False).
 *
 * An ftsrt_optim updates the parameters of a training job in place.  The
 * caller owns two flat arenas of one dtype: the parameters and the
 * gradients (bf16 and fp16 arenas hold the 16-bit patterns; see enum
 * ftsrt_precision for where their state lives and which kinds take them).  Each parameter tensor is an element range of those arenas,
 * assigned in ftsrt_optim_add_param order (tensor i starts where tensor
 * i-1 ends).  The optimizer owns its state: one arena per per-element state
 * slot, laid out like the parameter arena, so slot s of elements [b, e) is
 * element range [b, e) of that slot's arena.  Per-tensor scalars (step,
 * mu_product, eta, mu) and Adafactor's factored row_var/col_var live
 * beside it.
 *
 * Life cycle: ftsrt_optim_new, ftsrt_optim_add_group (one or more),
 * ftsrt_optim_add_param (one or more), then ftsrt_optim_step once per
 * training step (ftsrt_optim_set_lr between steps, as a scheduler would),
 * ftsrt_optim_free.  No global state: the thread count and the kernel
 * choice belong to the object.  An object is not safe to use from two
 * threads at once.
 *
 * NaN and Inf in gradients propagate as they do in torch (Adam: a NaN
 * gradient gives a NaN parameter); they are data, not errors.
 */
typedef struct ftsrt_optim ftsrt_optim;

/* Optimizer kinds.  ORDER: keep in step with the name table in optim.c. */
enum ftsrt_optim_kind {
	FTSRT_OPTIM_SGD = 0,
	FTSRT_OPTIM_ADAM,
	FTSRT_OPTIM_ADAMW,
	FTSRT_OPTIM_ADAGRAD,
	FTSRT_OPTIM_ADADELTA,
	FTSRT_OPTIM_ADAMAX,
	FTSRT_OPTIM_NADAM,
	FTSRT_OPTIM_RADAM,
	FTSRT_OPTIM_RMSPROP,
	FTSRT_OPTIM_RPROP,
	FTSRT_OPTIM_ASGD,
	FTSRT_OPTIM_ADAFACTOR,
	FTSRT_OPTIM_MUON,
	FTSRT_OPTIM_NKINDS              /* number of kinds, not a kind */
};

/* Element types of parameters, gradients and state. */
enum ftsrt_dtype {
	FTSRT_F32 = 0,                  /* IEEE binary32 */
	FTSRT_F64 = 1,                  /* IEEE binary64 */
	FTSRT_BF16 = 2,                 /* bfloat16 (binary32's top 16 bits) */
	FTSRT_F16 = 3,                  /* IEEE binary16 */
};

/*
 * Where a bf16 or fp16 optimizer keeps its state (ftsrt_optim_options and
 * ftsrt_run_options .precision; float32 and float64 have only the first).
 * PARAM steps every kind but Muon, which it refuses (FTSRT_EINVAL); MASTER
 * every kind (its master weights are the parameters widened, on a
 * tensor's first step).
 */
enum ftsrt_precision {
	FTSRT_PRECISION_PARAM = 0,      /* torch.optim on bf16/fp16 parameters: state in the
					 * parameter dtype, each tensor op's result rounded to it */
	FTSRT_PRECISION_MASTER = 1,     /* mixed precision: float32 master weights and state,
					 * the parameters their rounded copy after each step */
};

/* Which kernels ftsrt_optim_step runs. */
enum ftsrt_kernels {
	FTSRT_KERNELS_FAST = 0,         /* fused, vectorised, multi-threaded (default) */
	FTSRT_KERNELS_REF = 1,          /* scalar reference kernels: the test oracle */
};

/* Muon's learning-rate adjustment (torch's adjust_lr_fn). */
enum ftsrt_muon_adjust {
	FTSRT_MUON_ADJUST_ORIGINAL = 0, /* None or "original": sqrt(max(1, A/B)) */
	FTSRT_MUON_ADJUST_MATCH_RMS_ADAMW = 1, /* 0.2 * sqrt(max(A, B)) */
};

/*
 * The hyper-parameters of one parameter group, named as torch names them.
 * Fill it with ftsrt_optim_hparams_default() and change what differs; each
 * optimizer reads only its own fields.  Plain data, copied by
 * ftsrt_optim_add_group.
 */
struct ftsrt_optim_hparams {
	size_t struct_size;
	double lr;                      /* all */
	double weight_decay;            /* all but Rprop */
	double momentum;                /* SGD, RMSprop, Muon */
	double dampening;               /* SGD */
	double beta1;                   /* betas[0]: Adam, AdamW, Adamax, NAdam, RAdam */
	double beta2;                   /* betas[1] */
	double eps;                     /* eps; Adafactor: eps[1] (eps2) */
	double eps1;                    /* Adafactor eps[0]; NaN means None (finfo(dtype).eps) */
	double lr_decay;                /* Adagrad */
	double initial_accumulator_value; /* Adagrad */
	double rho;                     /* Adadelta */
	double momentum_decay;          /* NAdam */
	double alpha;                   /* RMSprop smoothing, ASGD power */
	double lambd;                   /* ASGD decay term */
	double t0;                      /* ASGD averaging start */
	double etaminus;                /* Rprop etas[0] */
	double etaplus;                 /* Rprop etas[1] */
	double step_size_min;           /* Rprop step_sizes[0] */
	double step_size_max;           /* Rprop step_sizes[1] */
	double beta2_decay;             /* Adafactor */
	double d;                       /* Adafactor clipping threshold */
	double ns_a, ns_b, ns_c;        /* Muon ns_coefficients */
	int32_t ns_steps;               /* Muon */
	int32_t adjust_lr_fn;           /* Muon: enum ftsrt_muon_adjust */
	bool nesterov;                  /* SGD, Muon */
	bool maximize;                  /* all but Muon */
	bool amsgrad;                   /* Adam, AdamW */
	bool decoupled_weight_decay;    /* Adam (AdamW forces it), NAdam, RAdam */
	bool centered;                  /* RMSprop */
	bool muon_bf16;                 /* Muon: emulate torch's bfloat16 Newton-Schulz (default true) */
	bool muon_use_addmm;            /* Muon: torch.addmm form of the iteration (default true) */
};

/* Fill *hp (struct_size set by the caller) with torch's defaults for kind.
 * Returns FTSRT_OK, or FTSRT_EINVAL for an unknown kind or a bad hp. */
FTSRT_API int ftsrt_optim_hparams_default(int32_t kind, struct ftsrt_optim_hparams *hp,
					  ftsrt_error *err);

/* The kind named by name: torch's class name in any letter case, with or
 * without the "torch.optim." prefix ("AdamW", "torch.optim.adamw").
 * Returns FTSRT_OK with *kind set, or FTSRT_EINVAL. */
FTSRT_API int ftsrt_optim_kind_from_name(const char *name, int32_t *kind, ftsrt_error *err);

/* torch's class name of kind ("AdamW"), or NULL; static storage. */
FTSRT_API const char *ftsrt_optim_kind_name(int32_t kind);

/*
 * The i-th state slot torch keeps per parameter for kind, in torch's order
 * (0-based), with every conditional slot listed ("max_exp_avg_sq" for Adam
 * though it exists only with amsgrad).  *name gets a static string; *shape
 * gets 0 for a scalar, 1 for a parameter-shaped tensor, 2 for a factored
 * one (Adafactor row_var/col_var).  Returns FTSRT_OK, or FTSRT_EINVAL past
 * the last slot or for a bad kind.
 */
FTSRT_API int ftsrt_optim_kind_slot(int32_t kind, int32_t i, const char **name, int32_t *shape,
				    ftsrt_error *err);

/* Options of ftsrt_optim_new. */
struct ftsrt_optim_options {
	size_t struct_size;
	ftsrt_alloc_fn alloc;           /* NULL: malloc/realloc/free; every allocation of
					 * the optimizer goes through it (state, scratch) */
	void *alloc_ud;                 /* alloc's context */
	int32_t threads;                /* threads of the step's parallel region, 1..4096
					 * (0: the default, 1) */
	int32_t kernels;                /* enum ftsrt_kernels (FTSRT_KERNELS_FAST) */
	int32_t precision;              /* enum ftsrt_precision (FTSRT_PRECISION_PARAM) */
};

/*
 * Create an optimizer of the given kind and dtype in *out.  The caller owns
 * the object and releases it with ftsrt_optim_free.  Returns FTSRT_OK,
 * FTSRT_EINVAL (bad kind, dtype or option, NULL out) or FTSRT_ENOMEM.
 */
FTSRT_API int ftsrt_optim_new(ftsrt_optim **out, int32_t kind, int32_t dtype,
			      const struct ftsrt_optim_options *opt, ftsrt_error *err);

/* Release o and all its state; NULL is a no-op. */
FTSRT_API void ftsrt_optim_free(ftsrt_optim *o);

/*
 * Add a parameter group with hyper-parameters *hp (copied) and store its
 * index in *group (may be NULL).  Runs torch's constructor checks: negative
 * or non-finite values, betas outside [0, 1), Nesterov without momentum,
 * and so on give FTSRT_EINVAL, err saying which.
 */
FTSRT_API int ftsrt_optim_add_group(ftsrt_optim *o, const struct ftsrt_optim_hparams *hp,
				    int32_t *group, ftsrt_error *err);

/*
 * Add a parameter tensor of ndim dimensions shape[0..ndim-1] (ndim 0 is a
 * scalar) to group, before the first step.  Its element offset in the
 * arenas goes to *offset (may be NULL).  Muon accepts only 2-D tensors.
 * Returns FTSRT_OK, FTSRT_EINVAL or FTSRT_ENOMEM.
 */
FTSRT_API int ftsrt_optim_add_param(ftsrt_optim *o, int32_t group, int32_t ndim,
				    const int64_t *shape, size_t *offset, ftsrt_error *err);

/* Total elements of the parameter arena (sum of all tensors' numel). */
FTSRT_API size_t ftsrt_optim_numel(const ftsrt_optim *o);

/* Set group's learning rate for the following steps (a scheduler's job). */
FTSRT_API int ftsrt_optim_set_lr(ftsrt_optim *o, int32_t group, double lr, ftsrt_error *err);

/*
 * One optimizer step over the whole arena: params (numel elements of the
 * optimizer's dtype, updated in place) and grads (read only), both borrowed
 * for the call.  numel must equal ftsrt_optim_numel.  Returns FTSRT_OK,
 * FTSRT_EINVAL or FTSRT_ENOMEM (state is allocated on the first step).
 */
FTSRT_API int ftsrt_optim_step(ftsrt_optim *o, void *params, const void *grads, size_t numel,
			       ftsrt_error *err);

/*
 * A step restricted to elements [begin, end) of the arena (a shard).
 * Tensors that intersect the range advance their per-tensor scalars; each
 * element range must be stepped once per step.  Adafactor and Muon work
 * on whole tensors: for them begin and end must fall on tensor boundaries.
 */
FTSRT_API int ftsrt_optim_step_range(ftsrt_optim *o, void *params, const void *grads,
				     size_t numel, size_t begin, size_t end, ftsrt_error *err);

/*
 * State of parameter param: slot name (torch's name).  For a tensor slot,
 * *data gets a pointer to its first element (optimizer's dtype, borrowed,
 * valid until ftsrt_optim_free; float32 beside master weights, which the
 * name "master_param" gives) and *n its element count; for a scalar slot
 * *value gets its value and *data NULL.  Any output may be NULL.  Returns
 * FTSRT_OK, or FTSRT_EINVAL when the slot does not exist (yet: state is
 * created by the first step, as in torch).
 */
FTSRT_API int ftsrt_optim_state(const ftsrt_optim *o, int32_t param, const char *name,
				void **data, size_t *n, double *value, ftsrt_error *err);

/*
 * Runs: executing a plan in a training loop.
 *
 * An ftsrt_run drives one training job through a plan the way
 * finetuning-scheduler (FTS 2.14) drives a Lightning run: which parameters
 * are thawed, the optimizer's parameter groups and their learning rates,
 * the lr scheduler, early stopping (FTSEarlyStopping), phase transitions
 * and restore_best checkpoints.  The job computes gradients; the run steps
 * the optimizer (one ftsrt_optim, one parallel region per step).
 *
 * Memory: the job owns two flat arenas in the run's dtype, parameters and
 * gradients, holding every manifest parameter that is not tied to another
 * (tied_to -1), in manifest order; ftsrt_run_param_offset gives each
 * one's element range.  Bind them with ftsrt_run_bind_arena (zero copy),
 * or bind each tensor where it lives with ftsrt_run_bind (the run then
 * gathers gradients and scatters parameters around every step).  Only
 * thawed parameters' gradients are read.
 *
 * Loop, per epoch: for each batch, compute the gradients of the thawed
 * parameters (ftsrt_run_thawed), call ftsrt_run_step; then call
 * ftsrt_run_epoch_end with the validation metric, and drain the events
 * with ftsrt_run_next_event; stop when ftsrt_run_finished says so.
 * ftsrt_run_epoch_end also starts the next epoch: it steps epoch-interval
 * schedulers and performs the transition FTS would perform at the next
 * epoch's start, so the thawed set and lrs read after it are the next
 * epoch's.
 *
 * No global state: any number of runs may live in one process, over the
 * same plan or different ones; one run is not safe to use from two
 * threads at once.
 *
 * EXTERNAL RUNS (1.2, ftsrt_run_options .external): the job's own
 * optimizer (torch.optim on any device) does the math; the run still
 * decides everything the plan says -- thawed parameters, the groups and
 * their hyper-parameters (ftsrt_run_group, ftsrt_run_group_hparams), each
 * group's lr, scheduler steps, transitions, early stopping, restore_best
 * and its refusals, checkpoint metadata -- and says which optimizer to
 * use (ftsrt_run_optimizer).  Nothing is bound (binding is refused) and
 * no optimizer state is kept.  Before each optimizer step the job sets
 * each group's lr from the run; ftsrt_run_step then does the bookkeeping
 * (the global step, step-interval schedulers).  FTSRT_EV_CKPT_SAVED of
 * the best checkpoint (reason FTSRT_CKPT_BEST) means "snapshot the
 * parameters and the optimizer state now",
 * FTSRT_EV_BEST_RESTORED "put that snapshot back" (into the groups the
 * run has after the transition: the state of each parameter that had
 * state in the snapshot, unless the optimizer's generation changed).
 * Checkpoints (best, last, ftsrt_run_save) hold the run's own state
 * without parameters or optimizer state, marked external: a native run
 * refuses them and an external run refuses a native one.
 */
typedef struct ftsrt_run ftsrt_run;

/*
 * SHARDED RUNS (1.3, ZeRO-1; ftsrt_run_options .shard_rank, .shard_world):
 * a job of W ranks runs one run per rank, each with the whole parameter
 * and gradient arenas, and each rank keeps and steps the optimizer state
 * of one contiguous slice of the arena only (ftsrt_run_shard_range).
 *
 * Partition: static, over the whole arena (frozen elements included, so a
 * thawing never moves anything): cut k is the element nearest k/W of the
 * arena, rounded to a 64-byte multiple; when the plan uses Adafactor or
 * Muon anywhere (they step whole tensors), to the nearest tensor boundary
 * instead.  Ranks are balanced by bytes of the arena, not by trainable
 * bytes: a rank whose slice is frozen in a phase steps nothing then.
 *
 * The job's loop, per step: all-reduce (average) the gradient arena (or
 * reduce-scatter it: a rank reads only its slice), ftsrt_run_step (steps
 * the slice's grouped parameters), then all-gather the parameters (each
 * rank's slice from it).  ftsrt_run_epoch_end takes the metric every rank
 * agrees on (all-reduce it first), so every rank makes the same decisions:
 * groups, lrs, transitions, restore_best.  The run never communicates.
 *
 * Checkpoints: each rank's hold the whole parameter arena and its slice's
 * optimizer state, and record the rank, the world size and the slice;
 * with ckpt_dir, rank R of W keeps best/last in ckpt_dir/shard-R-of-W
 * (created; locked per rank).  A resume refuses a checkpoint of another
 * world size (the optimizer state is split by it: FTSRT_EFORMAT, naming
 * both) or of another rank.  An external run cannot be sharded.
 */

/* Options of a run; fill with ftsrt_run_options_default, change what differs. */
struct ftsrt_run_options {
	size_t struct_size;
	int32_t dtype;                  /* enum ftsrt_dtype of the arenas (FTSRT_F32) */
	int32_t threads;                /* threads of the step's parallel region, 1..4096
					 * (0: the default, 1) */
	int32_t kernels;                /* enum ftsrt_kernels (FTSRT_KERNELS_FAST) */
	bool save_last;                 /* also write last.ftsckpt every epoch (false) */
	const char *ckpt_dir;           /* directory for checkpoint files (copied);
					 * NULL: the best checkpoint is kept in memory */
	double scale;                   /* 1: the plan's shapes; 0 < s < 1 shrinks every
					 * dimension to max(1, round(d * s)) (synthetic
					 * runs); 0: the default, 1 */
	ftsrt_alloc_fn alloc;           /* NULL: malloc/realloc/free */
	void *alloc_ud;                 /* alloc's context */
	int32_t precision;              /* enum ftsrt_precision (FTSRT_PRECISION_PARAM); the
					 * master weights go into checkpoints and rebuilds */
	int32_t reserved_1_1;           /* the padding of 1.1's struct: ignored */
	/* 1.2 */
	bool external;                  /* the job's own optimizer does the math (false): see
					 * EXTERNAL RUNS below */
	uint8_t reserved_1_2[7];        /* the padding of 1.2's struct: ignored */
	/* 1.3 */
	int32_t shard_rank;             /* this run's rank in a sharded job (0) */
	int32_t shard_world;            /* ranks of the job (0 or 1: not sharded): see
					 * SHARDED RUNS below */
};

/* Kinds of event a run reports (ftsrt_run_next_event). */
enum ftsrt_run_event_kind {
	FTSRT_EV_TRANSITION = 1,        /* phase `phase` starts at epoch `epoch` */
	FTSRT_EV_CKPT_SAVED,            /* a checkpoint was written (text: its file, or that the
					 * best checkpoint is kept in memory) */
	FTSRT_EV_BEST_RESTORED,         /* the best checkpoint (phase `phase`) was restored */
	FTSRT_EV_FINISHED,              /* training is over; `reason` says why */
	FTSRT_EV_WARNING,               /* FTS would warn (text says what) */
};

/* Why a run finished (FTSRT_EV_FINISHED's reason). */
enum ftsrt_run_stop {
	FTSRT_STOP_NONE = 0,            /* still running */
	FTSRT_STOP_MAX_EPOCHS,          /* max_epochs reached */
	FTSRT_STOP_PATIENCE,            /* early stopping in the final phase */
	FTSRT_STOP_NONFINITE,           /* the metric was NaN or infinite (check_finite) */
	FTSRT_STOP_THRESHOLD,           /* stopping_threshold reached */
	FTSRT_STOP_DIVERGENCE,          /* divergence_threshold reached */
};

/* Which checkpoint FTSRT_EV_CKPT_SAVED reports (its reason; 1.2). */
enum ftsrt_run_ckpt {
	FTSRT_CKPT_BEST = 0,            /* the best checkpoint (restore_best's) */
	FTSRT_CKPT_LAST = 1,            /* last.ftsckpt (save_last) */
};

/* One event.  text is owned by the run and valid until the next call on it. */
struct ftsrt_run_event {
	size_t struct_size;
	int32_t kind;                   /* enum ftsrt_run_event_kind */
	int32_t phase;                  /* the phase it concerns */
	int64_t epoch;                  /* the epoch it belongs to (0-based) */
	int32_t reason;                 /* FTSRT_EV_FINISHED: enum ftsrt_run_stop;
					 * FTSRT_EV_CKPT_SAVED: enum ftsrt_run_ckpt (1.2) */
	const char *text;               /* a one-line description */
};

/* One parameter group as the optimizer holds it now. */
struct ftsrt_run_group {
	size_t struct_size;
	double lr;                      /* the lr the next step uses */
	double initial_lr;              /* torch's initial_lr; NaN when absent */
	double weight_decay;            /* the group's weight decay */
	int32_t phase;                  /* the phase that added it */
	bool no_decay;                  /* the no_decay half of a pair */
	int32_t nparams;                /* parameters in it */
	const int32_t *params;          /* their manifest indices (borrowed, valid until
					 * the next call that changes the run) */
};

/* The optimizer a run uses now (ftsrt_run_optimizer; 1.2). */
struct ftsrt_run_optimizer {
	size_t struct_size;
	int32_t kind;                   /* enum ftsrt_optim_kind */
	int32_t phase;                  /* the phase whose new_optimizer made it: 0 the
					 * initial one, -1 reinit_optimizer's configuration */
	uint64_t generation;            /* 0 at ftsrt_run_new, one more each time the
					 * optimizer is replaced (new_optimizer, a resume):
					 * a new optimizer starts without state */
	const char *class_path;         /* the plan's class_path ("torch.optim.AdamW"; owned
					 * by the plan) */
};

/* Fill *o (struct_size set by the caller) with the defaults above. */
FTSRT_API int ftsrt_run_options_default(struct ftsrt_run_options *o, ftsrt_error *err);

/*
 * Create a run of plan in *out, at epoch 0 with phase 0 thawed (or later,
 * when phase 0's max_transition_epoch is 0).  plan is borrowed and must
 * stay open until ftsrt_run_free; opt (NULL: the defaults) is copied.  The
 * caller owns *out.  Returns FTSRT_OK, FTSRT_EINVAL (a bad option, or a
 * plan the runtime cannot execute: err says why) or FTSRT_ENOMEM; on
 * failure *out is NULL.
 */
FTSRT_API int ftsrt_run_new(ftsrt_run **out, const ftsrt_plan *plan,
			    const struct ftsrt_run_options *opt, ftsrt_error *err);

/* Release r and everything it owns (not the bound arenas); NULL is a no-op. */
FTSRT_API void ftsrt_run_free(ftsrt_run *r);

/* Manifest parameters (tied aliases included). */
FTSRT_API int32_t ftsrt_run_nparams(const ftsrt_run *r);

/* The index of the parameter called name, in *index.  FTSRT_OK or FTSRT_EINVAL. */
FTSRT_API int ftsrt_run_param_index(const ftsrt_run *r, const char *name, int32_t *index,
				    ftsrt_error *err);

/*
 * Parameter index's element range [*offset, *offset + *numel) in the
 * arenas (scaled shapes when opt.scale < 1).  A tied parameter has no
 * range of its own: FTSRT_EINVAL.
 */
FTSRT_API int ftsrt_run_param_offset(const ftsrt_run *r, int32_t index, size_t *offset,
				     size_t *numel, ftsrt_error *err);

/* Elements of a whole arena. */
FTSRT_API size_t ftsrt_run_arena_numel(const ftsrt_run *r);

/* The slice [*begin, *end) of the arenas whose optimizer state this run
 * keeps and steps: the whole arena unless sharded (1.3).  FTSRT_OK or
 * FTSRT_EINVAL (a NULL argument). */
FTSRT_API int ftsrt_run_shard_range(const ftsrt_run *r, size_t *begin, size_t *end,
				    ftsrt_error *err);

/* Bytes of optimizer state the run holds now (per-element slots, master
 * weights, factored statistics); 0 before the first step (1.3). */
FTSRT_API size_t ftsrt_run_state_bytes(const ftsrt_run *r);

/*
 * Bind the job's arenas (borrowed until ftsrt_run_free or the next bind):
 * numel must equal ftsrt_run_arena_numel and manifest_hash the plan's
 * (0 skips that check).  Returns FTSRT_OK or FTSRT_EINVAL.
 */
FTSRT_API int ftsrt_run_bind_arena(ftsrt_run *r, void *params, void *grads, size_t numel,
				   uint64_t manifest_hash, ftsrt_error *err);

/*
 * Bind one parameter where the job keeps it: by name, or by index when
 * name is NULL.  shape[0..ndim) must equal the manifest's (scaled) shape.
 * param and grad are borrowed until ftsrt_run_free.  Every untied
 * parameter must be bound before the first step.  Returns FTSRT_OK,
 * FTSRT_EINVAL or FTSRT_ENOMEM.
 */
FTSRT_API int ftsrt_run_bind(ftsrt_run *r, const char *name, int32_t index, void *param,
			     void *grad, int32_t ndim, const int64_t *shape, ftsrt_error *err);

/* Whether parameter index is thawed in the current phase. */
FTSRT_API bool ftsrt_run_thawed(const ftsrt_run *r, int32_t index);

/*
 * One optimizer step after a backward pass: steps every parameter in a
 * group with the groups' current lrs, then steps step-interval
 * schedulers (a step-interval ReduceLROnPlateau reads the latest metric
 * given to ftsrt_run_epoch_end and waits for the first).  Returns
 * FTSRT_OK, FTSRT_EINVAL (nothing bound, finished) or FTSRT_ENOMEM.
 */
FTSRT_API int ftsrt_run_step(ftsrt_run *r, ftsrt_error *err);

/*
 * End the current epoch with its validation metric (the value the plan's
 * early-stopping and checkpoint monitors watch): early stopping,
 * checkpointing, epoch-interval schedulers (ReduceLROnPlateau gets the
 * metric), then the next epoch's start with its transition, if any.
 * Returns FTSRT_OK, FTSRT_EINVAL (already finished), FTSRT_EIO (a
 * checkpoint could not be written or read), FTSRT_EFORMAT (the best
 * checkpoint cannot be restored into this optimizer: err names both
 * optimizers and the schedule line) or FTSRT_ENOMEM.
 */
FTSRT_API int ftsrt_run_epoch_end(ftsrt_run *r, double metric, ftsrt_error *err);

/* enum ftsrt_run_stop: FTSRT_STOP_NONE while the run goes on. */
FTSRT_API int32_t ftsrt_run_finished(const ftsrt_run *r);

/* Take the oldest pending event into *ev (struct_size set by the caller):
 * true, or false when none is left -- or when r or ev is bad, which *err
 * then says (it is left alone when the queue is simply empty); a refused
 * event stays queued. */
FTSRT_API bool ftsrt_run_next_event(ftsrt_run *r, struct ftsrt_run_event *ev, ftsrt_error *err);

/* The current epoch (0-based), phase, global step count and group count. */
FTSRT_API int64_t ftsrt_run_epoch(const ftsrt_run *r);
FTSRT_API int32_t ftsrt_run_phase(const ftsrt_run *r);
FTSRT_API int64_t ftsrt_run_global_step(const ftsrt_run *r);
FTSRT_API int32_t ftsrt_run_ngroups(const ftsrt_run *r);

/* Group g now (see struct ftsrt_run_group).  FTSRT_OK or FTSRT_EINVAL. */
FTSRT_API int ftsrt_run_group(const ftsrt_run *r, int32_t g, struct ftsrt_run_group *out,
			      ftsrt_error *err);

/* Group g's hyper-parameters as its next step uses them (lr included): the
 * optimizer's configuration, or what a restore_best left in the group.
 * FTSRT_OK or FTSRT_EINVAL. */
FTSRT_API int ftsrt_run_group_hparams(const ftsrt_run *r, int32_t g,
				      struct ftsrt_optim_hparams *out, ftsrt_error *err);

/* The optimizer the run uses now (see struct ftsrt_run_optimizer; 1.2).
 * FTSRT_OK or FTSRT_EINVAL. */
FTSRT_API int ftsrt_run_optimizer(const ftsrt_run *r, struct ftsrt_run_optimizer *out,
				  ftsrt_error *err);

/*
 * Write the run's whole state to path now (atomically: temporary file,
 * fsync, rename), or resume r, a fresh run of the same plan, from a
 * checkpoint written by a run of it: parameters (into the bound arenas,
 * so bind first), optimizer and scheduler state, phase, group layout,
 * epoch and early-stopping state; the run continues with the epoch after
 * the checkpointed one.  Returns FTSRT_OK, FTSRT_EIO, FTSRT_EFORMAT (a
 * damaged, foreign or incompatible file), FTSRT_EBUSY, FTSRT_EINVAL or
 * FTSRT_ENOMEM.
 */
FTSRT_API int ftsrt_run_save(ftsrt_run *r, const char *path, ftsrt_error *err);
FTSRT_API int ftsrt_run_resume(ftsrt_run *r, const char *path, ftsrt_error *err);

#ifdef __cplusplus
}
#endif

#endif /* FTSRT_H */
