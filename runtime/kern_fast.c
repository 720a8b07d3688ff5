/*
 * kern_fast.c - the fused optimizer kernels of libftsrt: one read and one
 * write of each array per step, vectorised (#pragma omp simd, function
 * multi-versioning for x86-64-v4/-v3/baseline), called by optim.c from one
 * parallel region per step on element ranges.  Bodies: kern_fast_tmpl.h.
 */
#include "optim_int.h"

#include <math.h>

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(FTSRT_NO_CLONES)
#define TC __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define TC
#endif /* x86-64 gcc */

#define T float
#define SFX f32
#define SQRT sqrtf
#define FMA fmaf
#include "kern_fast_tmpl.h"
#undef T
#undef SFX
#undef SQRT
#undef FMA

#define T double
#define SFX f64
#define SQRT sqrt
#define FMA fma
#include "kern_fast_tmpl.h"
#undef T
#undef SFX
#undef SQRT
#undef FMA

#define PAIR(name) {name##_f32, name##_f64}

/* ORDER: enum ftsrt_optim_kind. */
const rt_kern_fn rt_kern_fast[FTSRT_OPTIM_NKINDS][2] = {
	[FTSRT_OPTIM_SGD] = PAIR(fast_sgd),
	[FTSRT_OPTIM_ADAM] = PAIR(fast_adam),
	[FTSRT_OPTIM_ADAMW] = PAIR(fast_adam),
	[FTSRT_OPTIM_ADAGRAD] = PAIR(fast_adagrad),
	[FTSRT_OPTIM_ADADELTA] = PAIR(fast_adadelta),
	[FTSRT_OPTIM_ADAMAX] = PAIR(fast_adamax),
	[FTSRT_OPTIM_NADAM] = PAIR(fast_nadam),
	[FTSRT_OPTIM_RADAM] = PAIR(fast_radam),
	[FTSRT_OPTIM_RMSPROP] = PAIR(fast_rmsprop),
	[FTSRT_OPTIM_RPROP] = PAIR(fast_rprop),
	[FTSRT_OPTIM_ASGD] = PAIR(fast_asgd),
};
