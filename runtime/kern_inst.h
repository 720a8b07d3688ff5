/*
 * kern_inst.h - instantiates a kernel template once per element type: the
 * file KERN_TMPL names (kern_ref_tmpl.h, kern_fast_tmpl.h,
 * kern_adafactor_tmpl.h or kern_adafactor_fast_tmpl.h) is included with
 * T, SFX, SQRT and FMA defined for float (SFX f32), then again for double
 * (SFX f64), and they are undefined after each.  The template builds its
 * function names from SFX.
 *
 * Stage: runtime (optimizer kernels).  Included once, at file scope, by
 * kern_ref.c, kern_fast.c, kern_adafactor.c and kern_adafactor_fast.c
 * after they define KERN_TMPL.  Like the templates, not a header of its
 * own: no include guard.
 */
#ifndef KERN_TMPL
#error "kern_inst.h: define KERN_TMPL (the kernel template) first"
#endif /* KERN_TMPL */

#define T float
#define SFX f32
#define SQRT sqrtf
#define FMA fmaf
#include KERN_TMPL
#undef T
#undef SFX
#undef SQRT
#undef FMA

#define T double
#define SFX f64
#define SQRT sqrt
#define FMA fma
#include KERN_TMPL
#undef T
#undef SFX
#undef SQRT
#undef FMA

#undef KERN_TMPL
