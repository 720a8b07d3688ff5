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

#define KERN_TMPL "kern_fast_tmpl.h"
#include "kern_inst.h"

/* The fused kernels by optimizer kind (optim_int.h). */
const rt_kern_fn rt_kern_fast[FTSRT_OPTIM_NKINDS][2] = RT_KERN_TABLE(fast);
