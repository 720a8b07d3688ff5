/*
 * optim_int.h - internals shared by the optimizer modules of libftsrt:
 * optim.c (objects, state, the step driver), optim_hparams.c (torch's
 * defaults and constructor checks), kern_ref.c (the scalar reference
 * kernels, the oracle), kern_fast.c (fused vectorised kernels),
 * kern_adafactor.c and kern_muon.c (Newton-Schulz with OpenBLAS).
 *
 * Kernel contract: an elementwise kernel updates elements [b, e) of one
 * tensor.  All pointers are arena bases (element 0 of the arena), so the
 * same [b, e) indexes params, grads and every state slot.  The per-step
 * scalars of the tensor are precomputed in double by the driver exactly as
 * torch computes them in Python (struct rt_kscal); kernels convert them
 * to the element type where torch does (a Python float given to a float32
 * tensor op becomes a float).
 */
#ifndef FTSRT_OPTIM_INT_H
#define FTSRT_OPTIM_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ftsrt.h"

#define RT_MAX_SLOTS 4                  /* per-element state slots at most */

/* Flags of struct rt_kscal. */
enum rt_kflags {
	RT_K_MAXIMIZE = 1 << 0,         /* negate the gradient */
	RT_K_WD = 1 << 1,               /* L2 weight decay into the gradient */
	RT_K_DECOUPLED = 1 << 2,        /* decoupled weight decay on the param */
	RT_K_AMSGRAD = 1 << 3,          /* Adam: keep max_exp_avg_sq */
	RT_K_FIRST = 1 << 4,            /* SGD: the momentum buffer does not exist yet */
	RT_K_MOMENTUM = 1 << 5,         /* SGD / RMSprop: momentum buffer in use */
	RT_K_NESTEROV = 1 << 6,         /* SGD */
	RT_K_CENTERED = 1 << 7,         /* RMSprop */
	RT_K_RECT = 1 << 8,             /* RAdam: rho_t > 5, use the rectified update */
	RT_K_MU_ONE = 1 << 9,           /* ASGD: mu == 1, ax = param */
};

/*
 * Per-tensor, per-step scalars.  c[] layout per optimizer is documented at
 * each kernel in kern_ref.c; every value is what torch's Python computes.
 */
struct rt_kscal {
	double c[12];                   /* the scalars, in double */
	unsigned flags;                 /* enum rt_kflags */
};

/* Arguments of one elementwise kernel call. */
struct rt_kargs {
	void *p;                        /* parameter arena base */
	const void *g;                  /* gradient arena base */
	void *s[RT_MAX_SLOTS];          /* state slot arena bases, torch's order */
	const struct rt_kscal *k;       /* the tensor's scalars */
};

typedef void (*rt_kern_fn)(const struct rt_kargs *a, size_t b, size_t e);

/*
 * Kernel tables indexed by enum ftsrt_optim_kind; NULL for the tensor-wise
 * optimizers (Adafactor, Muon), which optim.c drives itself.
 * [0] is float, [1] double.
 */
extern const rt_kern_fn rt_kern_ref[FTSRT_OPTIM_NKINDS][2];
extern const rt_kern_fn rt_kern_fast[FTSRT_OPTIM_NKINDS][2];

/*
 * The initializer of such a table: the kernels a template instantiated
 * (kern_inst.h) as <prefix>_<optimizer>_f32 / _f64.  ORDER: enum
 * ftsrt_optim_kind; AdamW runs Adam's kernel (decoupled decay is a flag).
 */
#define RT_KERN_PAIR(name) {name##_f32, name##_f64}
#define RT_KERN_TABLE(prefix) {                                                 \
	[FTSRT_OPTIM_SGD] = RT_KERN_PAIR(prefix##_sgd),                         \
	[FTSRT_OPTIM_ADAM] = RT_KERN_PAIR(prefix##_adam),                       \
	[FTSRT_OPTIM_ADAMW] = RT_KERN_PAIR(prefix##_adam),                      \
	[FTSRT_OPTIM_ADAGRAD] = RT_KERN_PAIR(prefix##_adagrad),                 \
	[FTSRT_OPTIM_ADADELTA] = RT_KERN_PAIR(prefix##_adadelta),               \
	[FTSRT_OPTIM_ADAMAX] = RT_KERN_PAIR(prefix##_adamax),                   \
	[FTSRT_OPTIM_NADAM] = RT_KERN_PAIR(prefix##_nadam),                     \
	[FTSRT_OPTIM_RADAM] = RT_KERN_PAIR(prefix##_radam),                     \
	[FTSRT_OPTIM_RMSPROP] = RT_KERN_PAIR(prefix##_rmsprop),                 \
	[FTSRT_OPTIM_RPROP] = RT_KERN_PAIR(prefix##_rprop),                     \
	[FTSRT_OPTIM_ASGD] = RT_KERN_PAIR(prefix##_asgd),                       \
}

/* Adafactor over one whole tensor (see kern_ref.c for the algorithm). */
struct rt_adafactor {
	int ndim;                       /* the tensor's dimensions */
	const int64_t *shape;            /* its shape */
	size_t numel;                   /* its elements */
	double step;                    /* step after the increment */
	double lr, wd, beta2_decay, eps1, eps2, d;
	int maximize;                   /* bool */
	void *variance;                 /* ndim < 2: numel elements */
	void *row_var;                  /* ndim >= 2: numel / C elements */
	void *col_var;                  /* ndim >= 2: numel / R elements */
	void *work;                     /* reference: rt_adafactor_work_bytes() bytes, 8-aligned */
};

/* The scratch a step of a tensor of that shape in dt needs: the
 * reference's (fast 0) or the fast kernels' (kern_adafactor_fast.c). */
size_t rt_adafactor_work_bytes(int dt, int fast, int ndim, const int64_t *shape, size_t numel);

/* The reference Adafactor step on tensor p (grads g) in dtype dt, on the
 * calling thread (kern_adafactor.c; bf16/fp16, state in that dtype:
 * rt_adafactor_lowp in kern_lowp.c, a->work then numel floats). */
void rt_adafactor_step(int dt, void *p, const void *g, const struct rt_adafactor *a);
void rt_adafactor_lowp(int dt, void *p, const void *g, const struct rt_adafactor *a);

/* One tensor of a fast Adafactor step over many. */
struct rt_adafactor_job {
	void *p;                        /* its parameters */
	const void *g;                  /* its gradients */
	struct rt_adafactor a;          /* a.work is not read */
};

/* The scratch rt_adafactor_fast_many needs for these n tensors on nthr threads. */
size_t rt_adafactor_many_bytes(int dt, const struct rt_adafactor_job *jobs, int n, int nthr);

/*
 * The fast step of n tensors on nthr threads in one parallel region, in
 * scratch work of rt_adafactor_many_bytes() bytes: the large tensors on
 * every thread, the others side by side.  Each tensor's result does not
 * depend on nthr.
 */
void rt_adafactor_fast_many(int dt, const struct rt_adafactor_job *jobs, int n, int nthr, void *work);

/* Muon on one 2-D tensor. */
struct rt_muon {
	int64_t rows, cols;             /* the tensor's shape */
	double lr, wd, momentum;
	double a, b, c, eps;            /* ns_coefficients, eps */
	int ns_steps;
	int nesterov;                   /* bool */
	int adjust;                     /* enum ftsrt_muon_adjust */
	int bf16;                       /* bool: emulate torch's bfloat16 iteration */
	int use_addmm;                  /* bool: addmm form (one rounding per addmm) */
	int threads;                    /* the team of the fast path (OpenMP threads) */
	void *buf;                      /* momentum_buffer, rows*cols elements */
	void *scratch;                  /* rt_muon_scratch_bytes() bytes, 8-aligned */
};

/* The scratch rt_muon_step needs for a rows x cols tensor in dtype dt. */
size_t rt_muon_scratch_bytes(int dt, size_t rows, size_t cols);

/*
 * Muon step on tensor p (grads g) in dtype dt, in m->scratch.  fast uses
 * OpenBLAS gemm (single-threaded, split by rows over m->threads OpenMP
 * threads), otherwise plain loops on the calling thread.  Returns FTSRT_OK.
 */
int rt_muon_step(int dt, int fast, void *p, const void *g, const struct rt_muon *m);

/* Round a float to the nearest bfloat16 (ties to even), NaN kept. */
float rt_bf16_round(float x);

/*
 * bf16 and fp16 parameters (kern_lowp.c).  dt is FTSRT_BF16 or FTSRT_F16;
 * the arenas of that dtype hold uint16_t bit patterns.
 */
float rt_lowp_to_float(int dt, uint16_t h);
uint16_t rt_lowp_from_float(int dt, float x);  /* round to nearest even, NaN kept */
/* x[b..e) = v rounded to dt; dst[b..e) = src[b..e) widened to float. */
void rt_lowp_fill(int dt, void *x, size_t b, size_t e, double v);
void rt_lowp_widen(int dt, float *dst, const void *src, size_t b, size_t e);
void rt_lowp_narrow(int dt, void *dst, const float *src, size_t b, size_t e);     /* rounded */
/* Whether kind steps bf16/fp16 parameters in precision (enum ftsrt_precision). */
bool rt_lowp_supported(int kind, int precision);

/* How rt_lowp_step runs one optimizer's elementwise kernel. */
struct rt_lowp {
	int kind;                       /* enum ftsrt_optim_kind */
	int dtype;                      /* FTSRT_BF16 or FTSRT_F16 */
	int master;                     /* bool: FTSRT_PRECISION_MASTER */
	rt_kern_fn f32;                 /* master: the float32 kernel */
	void *model;                    /* master: the dt parameter arena (the rounded copy) */
};

/*
 * Step elements [b, e) of one tensor.  PARAM: a's arenas are all of dtype
 * dt.  MASTER: a->p and a->s[] are float32 (master weights, state), a->g
 * is of dtype dt, and l->model[b..e) receives the rounded master.
 */
void rt_lowp_step(const struct rt_lowp *l, const struct rt_kargs *a, size_t b, size_t e);

/* ftsrt_optim_state's name of the master weights (FTSRT_PRECISION_MASTER). */
#define RT_MASTER_SLOT "master_param"

/*
 * torch's constructor checks of an optimizer of kind for the group
 * hyper-parameters h (optim_hparams.c): FTSRT_OK, or FTSRT_EINVAL with
 * torch's message in err[0..errlen).
 */
int rt_optim_check_hparams(int kind, const struct ftsrt_optim_hparams *h, char *err, size_t errlen);

/* torch's defaults for kind into *hp (struct_size set); kind must be valid. */
void rt_optim_hparams_default(int kind, struct ftsrt_optim_hparams *hp);

/* ftsrt_optim_add_group for a complete struct of the library's own
 * (struct_size not consulted); the message in rt_optim_errmsg. */
int rt_optim_add_group(ftsrt_optim *o, const struct ftsrt_optim_hparams *hp, int32_t *group);

/* The optimizer's message for its last failure ("" when none). */
const char *rt_optim_errmsg(const ftsrt_optim *o);

/* The thread count of the step's parallel region (1..4096), after creation. */
int rt_optim_set_threads(ftsrt_optim *o, int nthreads);

/* Beside master weights, Adafactor and Muon widen the gradients of at
 * least this many elements at a time (tensors whole; the scratch is a
 * batch's floats).  rt_optim_set_mbatch changes it (tests). */
#define RT_MASTER_BATCH ((size_t)1 << 24)
void rt_optim_set_mbatch(ftsrt_optim *o, size_t n);

/*
 * State import for the engine (run_groups.c, run_ckpt.c), which rebuilds
 * an optimizer when FTS adds parameter groups (torch's optimizers take
 * groups at any time, ours only before the first step) and restores
 * checkpoints.
 *
 * rt_optim_alloc_state allocates the state arenas as the first step would
 * and freezes the layout.  rt_optim_set_scalars then marks tensor param as
 * having state with torch's per-tensor scalars v = {step, mu_product, eta,
 * mu}; its per-element slots are the caller's to fill through the pointers
 * ftsrt_optim_state gives.  rt_optim_get_scalars reads them back;
 * rt_optim_has_state says whether a step (or an import) created state.
 */
int rt_optim_alloc_state(ftsrt_optim *o);
int rt_optim_set_scalars(ftsrt_optim *o, int param, const double v[4]);
int rt_optim_get_scalars(const ftsrt_optim *o, int param, double v[4]);
bool rt_optim_has_state(const ftsrt_optim *o, int param);
/* Drop param's state: its next step initialises it, as torch's does for an
 * empty state. */
int rt_optim_clear_state(ftsrt_optim *o, int param);

/*
 * A shard (ZeRO-1): restrict the state to elements [begin, end) of the
 * arena, before the state is allocated (the first step or
 * rt_optim_alloc_state).  The state arenas and master weights then hold
 * end - begin elements; steps must stay inside the window; a tensor the
 * window cuts keeps (ftsrt_optim_state) the state of its elements inside
 * the window only.  The parameter and gradient arenas stay whole.
 */
int rt_optim_set_window(ftsrt_optim *o, size_t begin, size_t end);

/* Bytes of optimizer state allocated (slot arenas, master weights,
 * Adafactor's factored rows and columns); 0 before the first step. */
size_t rt_optim_state_bytes(const ftsrt_optim *o);

/* optim_kinds.c: each kind's state slots as torch keys them, in torch's order. */
enum rt_slot_shape { RT_SLOT_SCALAR = 0, RT_SLOT_PARAM = 1, RT_SLOT_FACTORED = 2 };

struct rt_slot_desc {
	const char *name;               /* torch's state key */
	int shape;                      /* enum rt_slot_shape */
	int arena;                      /* per-element arena index, -1 if none */
};

/* The slots of kind (a valid enum ftsrt_optim_kind), rt_optim_nslots(kind) of them. */
const struct rt_slot_desc *rt_optim_slots(int kind);
int rt_optim_nslots(int kind);

#endif /* FTSRT_OPTIM_INT_H */
