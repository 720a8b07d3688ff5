/*
 * kern_ref.c - the scalar reference optimizer kernels of libftsrt: simple,
 * one element at a time, torch's op order spelled out (kern_ref_tmpl.h).
 * They are the oracle the fast kernels (kern_fast.c) are tested against,
 * and they are checked themselves against torch's golden trajectories.
 */
#include "optim_int.h"

#include <math.h>

#define T float
#define SFX f32
#define SQRT sqrtf
#define FMA fmaf
#include "kern_ref_tmpl.h"
#undef T
#undef SFX
#undef SQRT
#undef FMA

#define T double
#define SFX f64
#define SQRT sqrt
#define FMA fma
#include "kern_ref_tmpl.h"
#undef T
#undef SFX
#undef SQRT
#undef FMA

#define PAIR(name) {name##_f32, name##_f64}

/* ORDER: enum ftsrt_optim_kind. */
const rt_kern_fn rt_kern_ref[FTSRT_OPTIM_NKINDS][2] = {
	[FTSRT_OPTIM_SGD] = PAIR(ref_sgd),
	[FTSRT_OPTIM_ADAM] = PAIR(ref_adam),
	[FTSRT_OPTIM_ADAMW] = PAIR(ref_adam),
	[FTSRT_OPTIM_ADAGRAD] = PAIR(ref_adagrad),
	[FTSRT_OPTIM_ADADELTA] = PAIR(ref_adadelta),
	[FTSRT_OPTIM_ADAMAX] = PAIR(ref_adamax),
	[FTSRT_OPTIM_NADAM] = PAIR(ref_nadam),
	[FTSRT_OPTIM_RADAM] = PAIR(ref_radam),
	[FTSRT_OPTIM_RMSPROP] = PAIR(ref_rmsprop),
	[FTSRT_OPTIM_RPROP] = PAIR(ref_rprop),
	[FTSRT_OPTIM_ASGD] = PAIR(ref_asgd),
};
