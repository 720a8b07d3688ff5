/*
 * nqm_plot.h - the SVG plot of `ftsrun run`: the losses and every group's
 * lr against epochs, phases marked.
 *
 * Stage: runtime tools (quadratic.c fills the records, this file draws them).
 */
#ifndef RT_NQM_PLOT_H
#define RT_NQM_PLOT_H

#include <stddef.h>

/* One epoch of a run, as plotted. */
struct rt_epoch_rec {
	int phase;                      /* phase the epoch ran */
	int ng;                         /* groups */
	double *lr;                     /* lr of the epoch's first step, per group */
	double train;                   /* mean training loss over the epoch's steps */
	double val;                     /* validation metric given to the run */
};

/*
 * Write the plot of ep[0..ne) to path atomically: a loss panel (training
 * and validation, log scale when positive) over an lr panel (one line per
 * group, log scale when positive), dashed lines where a phase starts.
 * FTSRT_OK, or a negative FTSRT_E* code with the reason in err.
 */
int rt_nqm_write_svg(const char *path, const struct rt_epoch_rec *ep, long ne, char *err, size_t errlen);

#endif /* RT_NQM_PLOT_H */
