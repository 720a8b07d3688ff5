/*
 * quadratic.h - the synthetic task of `ftsrun run`: the noisy quadratic
 * model (NQM) of optimizer studies, over a plan's real parameter shapes.
 *
 * Stage: runtime tools.  Every element j of every untied parameter has a
 * curvature h_j, log-uniform over two decades, the largest 1 / (the largest
 * effective lr, lr / (1 - momentum), that a dry run of the plan reaches), a
 * training optimum at 0, a validation optimum shifted by a small d_j, and
 * starts at +-A, A a quarter of what Adam moves at the largest lr over the
 * run.  The job's gradient is h_j * theta_j plus Gaussian noise, computed
 * only for thawed parameters; the training loss is taken over the elements
 * trainable at the time, the validation loss over all of them (comparable
 * across phases), both relative to their starting value.  Everything is
 * deterministic for a seed.
 */
#ifndef RT_QUADRATIC_H
#define RT_QUADRATIC_H

#include <stdio.h>

#include "plan.h"

/*
 * A data-parallel job (ftsrun-mpi): the collectives the run needs, so that
 * this file does not depend on MPI.  Every rank computes the same gradients
 * (one seed), so the job's trajectory is the one-process run's.
 */
struct rt_nqm_comm {
	int rank, world;                /* this rank, the ranks */
	void *ud;                       /* the implementation's context */
	/* average this rank's slice [begin, end) of g[0..n) over the ranks, in
	 * place (a reduce-scatter: the rest of g is left undefined) */
	int (*avg_grads)(void *ud, float *g, size_t n, size_t begin, size_t end);
	/* after a step: every rank's slice [begin, end) of p[0..n) from its rank */
	int (*gather_params)(void *ud, float *p, size_t n, size_t begin, size_t end);
	/* the ranks' average of x */
	int (*avg_metric)(void *ud, double *x);
};

/* Options of one synthetic run (ftsrun(1) `run`). */
struct rt_nqm_opts {
	long epochs;                    /* 0: the plan's max_epochs */
	long steps;                     /* optimizer steps per epoch (64) */
	double scale;                   /* shrink every dimension (1: the plan's shapes) */
	double noise;                   /* gradient noise sigma (0.5) */
	unsigned long long seed;        /* RNG seed */
	int threads;                    /* optimizer threads */
	int progress;                   /* bool: progress bar on stderr */
	const char *csv;                /* --log FILE.csv, or NULL */
	const char *svg;                /* --plot FILE.svg, or NULL */
	const char *metrics;            /* --metrics FILE, or NULL */
	const char *ckpt_dir;           /* checkpoint directory, or NULL (memory) */
	const struct rt_nqm_comm *comm; /* a sharded data-parallel job, or NULL */
};

/* Fill *o with the defaults above. */
void rt_nqm_defaults(struct rt_nqm_opts *o);

/*
 * Run plan (borrowed) on the NQM, printing one line per epoch to out.
 * Returns FTSRT_OK, or a negative FTSRT_E* code with the reason in
 * err[0..errlen).
 */
int rt_nqm_run(const struct rt_plan *plan, const struct rt_nqm_opts *o, FILE *out, char *err,
	       size_t errlen);

#endif /* RT_QUADRATIC_H */
