/*
 * ftsrt.h - the public interface of libftsrt, the ftsc runtime.
 *
 * This is the only installed header.  It is self-contained and free of
 * global state: every object is an opaque handle the caller owns.
 *
 * Status of this release: the library carries the version and error
 * vocabulary that plan loading and execution build on; ftsrun exposes
 * them.  Plan loading (ftsrt_plan_open) arrives with the binary plan
 * format, see ftsplan(5) once it exists.
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

#define FTSRT_VERSION_MAJOR 0
#define FTSRT_VERSION_MINOR 1
#define FTSRT_VERSION_PATCH 0
#define FTSRT_VERSION_STRING "0.1.0"

#include <stddef.h>

/* Status codes: 0 is success, failures are negative. */
enum ftsrt_status {
	FTSRT_OK = 0,
	FTSRT_EINVAL = -1,              /* a bad argument (NULL, wrong size, non-finite value) */
	FTSRT_ENOMEM = -2,              /* an allocation failed */
	FTSRT_EIO = -3,                 /* a file could not be read or written */
	FTSRT_EFORMAT = -4,             /* a file is not a valid plan or checkpoint */
	FTSRT_EVERSION = -5,            /* a plan needs a newer reader */
};

/* The library's version string ("0.1.0"); static storage. */
FTSRT_API const char *ftsrt_version(void);

/* A short English description of a status code; static storage. */
FTSRT_API const char *ftsrt_strerror(int status);

/*
 * Optimizers (torch.optim semantics, torch 2.11, foreach=False).
 *
 * An ftsrt_optim updates the parameters of a training job in place.  The
 * caller owns two flat arenas of one dtype: the parameters and the
 * gradients.  Each parameter tensor is an element range of those arenas,
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
	int ns_steps;                   /* Muon */
	int adjust_lr_fn;               /* Muon: enum ftsrt_muon_adjust */
	int nesterov;                   /* SGD, Muon (bool) */
	int maximize;                   /* all but Muon (bool) */
	int amsgrad;                    /* Adam, AdamW (bool) */
	int decoupled_weight_decay;     /* Adam (AdamW forces it), NAdam, RAdam (bool) */
	int centered;                   /* RMSprop (bool) */
	int muon_bf16;                  /* Muon: emulate torch's bfloat16 Newton-Schulz (bool, default 1) */
	int muon_use_addmm;             /* Muon: torch.addmm form of the iteration (bool, default 1) */
};

/*
 * Fill *hp with torch's defaults for kind.  Returns FTSRT_OK, or
 * FTSRT_EINVAL for an unknown kind or NULL hp.
 */
FTSRT_API int ftsrt_optim_hparams_default(int kind, struct ftsrt_optim_hparams *hp);

/*
 * The kind named by name: torch's class name in any letter case, with or
 * without the "torch.optim." prefix ("AdamW", "torch.optim.adamw").
 * Returns the kind, or FTSRT_EINVAL.
 */
FTSRT_API int ftsrt_optim_kind_from_name(const char *name);

/* torch's class name of kind ("AdamW"), or NULL; static storage. */
FTSRT_API const char *ftsrt_optim_kind_name(int kind);

/*
 * The i-th state slot torch keeps per parameter for kind, in torch's order
 * (0-based), with every conditional slot listed ("max_exp_avg_sq" for Adam
 * though it exists only with amsgrad).  *name gets a static string; *shape
 * gets 0 for a scalar, 1 for a parameter-shaped tensor, 2 for a factored
 * one (Adafactor row_var/col_var).  Returns FTSRT_OK, or FTSRT_EINVAL past
 * the last slot or for a bad kind.
 */
FTSRT_API int ftsrt_optim_kind_slot(int kind, int i, const char **name, int *shape);

/*
 * Create an optimizer of the given kind and dtype in *out.  The caller owns
 * the object and releases it with ftsrt_optim_free.  Returns FTSRT_OK,
 * FTSRT_EINVAL (bad kind or dtype, NULL out) or FTSRT_ENOMEM.
 */
FTSRT_API int ftsrt_optim_new(ftsrt_optim **out, int kind, int dtype);

/* Release o and all its state; NULL is a no-op. */
FTSRT_API void ftsrt_optim_free(ftsrt_optim *o);

/*
 * Add a parameter group with hyper-parameters *hp (copied) and store its
 * index in *group (may be NULL).  Runs torch's constructor checks: negative
 * or non-finite values, betas outside [0, 1), Nesterov without momentum,
 * and so on give FTSRT_EINVAL; ftsrt_optim_errmsg says which.
 */
FTSRT_API int ftsrt_optim_add_group(ftsrt_optim *o, const struct ftsrt_optim_hparams *hp,
				    int *group);

/*
 * Add a parameter tensor of ndim dimensions shape[0..ndim-1] (ndim 0 is a
 * scalar) to group, before the first step.  Its element offset in the
 * arenas goes to *offset (may be NULL).  Muon accepts only 2-D tensors.
 * Returns FTSRT_OK, FTSRT_EINVAL or FTSRT_ENOMEM.
 */
FTSRT_API int ftsrt_optim_add_param(ftsrt_optim *o, int group, int ndim, const long *shape,
				    size_t *offset);

/* Total elements of the parameter arena (sum of all tensors' numel). */
FTSRT_API size_t ftsrt_optim_numel(const ftsrt_optim *o);

/* Set group's learning rate for the following steps (a scheduler's job). */
FTSRT_API int ftsrt_optim_set_lr(ftsrt_optim *o, int group, double lr);

/* Threads for the step's parallel region (>= 1; default 1). */
FTSRT_API int ftsrt_optim_set_threads(ftsrt_optim *o, int nthreads);

/* Choose FTSRT_KERNELS_FAST (default) or FTSRT_KERNELS_REF. */
FTSRT_API int ftsrt_optim_set_kernels(ftsrt_optim *o, int kernels);

/*
 * One optimizer step over the whole arena: params (numel elements of the
 * optimizer's dtype, updated in place) and grads (read only), both borrowed
 * for the call.  numel must equal ftsrt_optim_numel.  Returns FTSRT_OK,
 * FTSRT_EINVAL or FTSRT_ENOMEM (state is allocated on the first step).
 */
FTSRT_API int ftsrt_optim_step(ftsrt_optim *o, void *params, const void *grads, size_t numel);

/*
 * A step restricted to elements [begin, end) of the arena (a shard).
 * Tensors that intersect the range advance their per-tensor scalars; each
 * element range must be stepped once per step.  Adafactor and Muon work
 * on whole tensors: for them begin and end must fall on tensor boundaries.
 */
FTSRT_API int ftsrt_optim_step_range(ftsrt_optim *o, void *params, const void *grads,
				     size_t numel, size_t begin, size_t end);

/*
 * State of parameter param: slot name (torch's name).  For a tensor slot,
 * *data gets a pointer to its first element (optimizer's dtype, borrowed,
 * valid until ftsrt_optim_free) and *n its element count; for a scalar slot
 * *value gets its value and *data NULL.  Any output may be NULL.  Returns
 * FTSRT_OK, or FTSRT_EINVAL when the slot does not exist (yet: state is
 * created by the first step, as in torch).
 */
FTSRT_API int ftsrt_optim_state(const ftsrt_optim *o, int param, const char *name,
				void **data, size_t *n, double *value);

/* The last error message of o (static or owned by o); "" when none. */
FTSRT_API const char *ftsrt_optim_errmsg(const ftsrt_optim *o);

#ifdef __cplusplus
}
#endif

#endif /* FTSRT_H */
