/*
 * kern_adafactor_fast.c - the fast Adafactor step: torch's algorithm (the
 * reference is kern_adafactor.c) in three passes over a tensor, on the
 * optimizer's threads, vectorised and cloned for x86-64-v4/-v3/baseline
 * like the fused elementwise kernels.  Body: kern_adafactor_fast_tmpl.h,
 * whose header says where its rounding differs from the reference's.
 *
 * A tensor of two or more dimensions is nb matrices of R x C.  Pass 1
 * reads p and g: per row the sum of squares of g (row_var), per block of
 * rows the column sums of squares and the sum of squares of p; the column
 * partials are then added in block order (col_var).  Pass 2 reads g for
 * the norm of the update; pass 3 reads p and g again, recomputes the
 * update and writes p.  The reference walks the columns at a stride of C
 * elements and makes seven passes on one thread.  A 1-D tensor (full
 * variance) takes two passes: p, g and the variance (the update to the
 * scratch), then p.  Blocks are fixed by the shape, so the result does not
 * depend on the thread count.  Tensors under AF_PAR_MIN elements run on
 * the calling thread.
 *
 * Bytes per element, fp32, when a matrix's p and g stay in the last-level
 * cache between the passes: 12 from memory (p and g read, p written; the
 * factors are per row and column); otherwise up to 24.
 */
#include "optim_int.h"

#include <math.h>
#include <stdbool.h>
#include <string.h>

#ifdef _OPENMP
#include <omp.h>
#endif /* _OPENMP */

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(FTSRT_NO_CLONES)
#define TC __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define TC
#endif /* x86-64 gcc */

#define AF_VBYTES 32                    /* the lanes of a reduction: a 32-byte vector */
#define AF_MAXLANES 8                   /* of float */
#define AF_ELEMS 32768                  /* elements of a row block, at least */
#define AF_MINROWS 16                   /* rows of a row block, at least */
#define AF_MAXROWS 32                   /* and at most (its column sums are T) */
#define AF_WAYS 4                       /* rows pass 1 reads at once */
#define AF_CHUNK 512                    /* elements summed in T, then in double */
#define AF_BLOCK1 4096                  /* elements of a 1-D block (L1-resident for its sums) */
#define AF_COLS 256                     /* columns per task between the passes */
#define AF_PAR_MIN 65536                /* smaller tensors run on the caller's thread */

/* The fixed blocking of a tensor. */
struct af_plan {
	bool two;                       /* factored: ndim >= 2 */
	size_t nb;                      /* matrices (1-D: 1) */
	size_t R, C;                    /* rows and columns of each (1-D: 1 x numel) */
	size_t rb;                      /* rows per block (1-D: unused) */
	size_t bpm;                     /* blocks per matrix */
	size_t nblk;                    /* blocks in all */
};

/* The scratch, carved from rt_adafactor.work. */
struct af_work {
	void *upd;                      /* the update, numel elements */
	double *pp, *up;                /* per block: sums of squares of p, of the update */
	double *rmean;                  /* per matrix: clamped row_var mean (a T value) */
	void *colpart;                  /* per block: C column sums of squares (T) */
	void *rb;                       /* per matrix: C values 1/sqrt(col_var) (T) */
};

static void af_plan_of(struct af_plan *pl, int ndim, const int64_t *shape, size_t numel)
{
	pl->two = ndim >= 2 && numel > 0;
	if (pl->two) {
		pl->C = (size_t)shape[ndim - 1];
		pl->R = (size_t)shape[ndim - 2];
		pl->nb = numel / (pl->R * pl->C);
		size_t rb = (AF_ELEMS + pl->C - 1) / pl->C;
		rb = rb < AF_MINROWS ? AF_MINROWS : rb > AF_MAXROWS ? AF_MAXROWS : rb;
		pl->rb = rb < pl->R ? rb : pl->R;
		pl->bpm = (pl->R + pl->rb - 1) / pl->rb;
	} else {
		pl->nb = 1;
		pl->R = 1;
		pl->C = numel;
		pl->rb = 1;
		pl->bpm = (numel + AF_BLOCK1 - 1) / AF_BLOCK1;
	}
	pl->nblk = pl->nb * pl->bpm;
}

static size_t af_up64(size_t n)
{
	return (n + 63) / 64 * 64;
}

/* Lay the scratch out at base; returns its bytes (base may be NULL). */
static size_t af_work_of(struct af_work *wk, const struct af_plan *pl, void *base, size_t es)
{
	char *b = base;
	size_t off = af_up64(pl->nb * pl->R * pl->C * es);
	wk->upd = b;
	wk->pp = (double *)(b + off);
	off += af_up64(pl->nblk * sizeof(double));
	wk->up = (double *)(b + off);
	off += af_up64(pl->nblk * sizeof(double));
	wk->rmean = (double *)(b + off);
	off += af_up64(pl->nb * sizeof(double));
	wk->colpart = b + off;
	if (pl->two)
		off += af_up64(pl->nblk * pl->C * es);
	wk->rb = b + off;
	if (pl->two)
		off += af_up64(pl->nb * pl->C * es);
	return off;
}

/* Thread tid's start in [0, n) of nt threads, on 64-byte boundaries. */
static size_t af_split(size_t n, int tid, int nt)
{
	if (tid >= nt)
		return n;
	size_t b = (size_t)((double)n * tid / nt) / 16 * 16;
	return b < n ? b : n;
}

#define KERN_TMPL "kern_adafactor_fast_tmpl.h"
#include "kern_inst.h"

size_t rt_adafactor_work_bytes(int dt, int ndim, const int64_t *shape, size_t numel)
{
	struct af_plan pl;
	struct af_work wk;
	af_plan_of(&pl, ndim, shape, numel);
	return af_work_of(&wk, &pl, NULL, dt == FTSRT_F64 ? 8 : 4) + 64;
}

void rt_adafactor_fast(int dt, void *p, const void *g, const struct rt_adafactor *a)
{
	if (a->numel == 0)
		return;
	int nthr = a->numel < AF_PAR_MIN ? 1 : a->threads;
	if (dt == FTSRT_F64)
		af_step_f64(p, g, a, nthr);
	else
		af_step_f32(p, g, a, nthr);
}
