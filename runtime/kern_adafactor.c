/*
 * kern_adafactor.c - Adafactor (torch.optim.Adafactor) on one whole tensor:
 * factored second moments (row_var, col_var) for tensors of two or more
 * dimensions, a full variance otherwise, update clipping by RMS.  This is
 * the reference, one thread, pass after pass as torch's Python; the fast
 * path is kern_adafactor_fast.c.  It needs whole-tensor reductions, so it
 * is not an elementwise kernel.  Body: kern_adafactor_tmpl.h.
 */
#include "optim_int.h"

#include <math.h>

#define KERN_TMPL "kern_adafactor_tmpl.h"
#include "kern_inst.h"

/*
 * Adafactor step of tensor p with gradient g; a carries the tensor's shape,
 * step (already incremented), group hyper-parameters and state pointers.
 */
void rt_adafactor_step(int dt, void *p, const void *g, const struct rt_adafactor *a)
{
	if (dt == FTSRT_BF16 || dt == FTSRT_F16)
		rt_adafactor_lowp(dt, p, g, a);
	else if (dt == FTSRT_F64)
		adafactor_f64(p, g, a);
	else
		adafactor_f32(p, g, a);
}
