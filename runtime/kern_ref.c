/*
 * kern_ref.c - the scalar reference optimizer kernels of libftsrt: simple,
 * one element at a time, torch's op order spelled out (kern_ref_tmpl.h).
 * They are the oracle the fast kernels (kern_fast.c) are tested against,
 * and they are checked themselves against torch's golden trajectories.
 */
#include "optim_int.h"

#include <math.h>

#define KERN_TMPL "kern_ref_tmpl.h"
#include "kern_inst.h"

/* The reference kernels by optimizer kind (optim_int.h). */
const rt_kern_fn rt_kern_ref[FTSRT_OPTIM_NKINDS][2] = RT_KERN_TABLE(ref);
