/*
 * kern_adafactor_fast.c - the fast Adafactor step: torch's algorithm (the
 * reference is kern_adafactor.c) in two passes over a tensor (three when
 * a factor is clamped), on the optimizer's threads, vectorised and cloned
 * for x86-64-v4/-v3/baseline like the fused elementwise kernels.  Body:
 * kern_adafactor_fast_tmpl.h, whose header says where its rounding
 * differs from the reference's.
 *
 * A tensor of two or more dimensions is nb matrices of R x C.  Pass 1
 * reads p and g: per row the sum of squares of g (row_var), then the row
 * again from cache for the column sums of g^2 / row_var; per block of rows
 * the column sums of squares and the sum of squares of p.  The column
 * partials are then added in block order (col_var), and with col_var and
 * the row mean they give the norm of the update.  Pass 2, which reads g
 * for that norm, runs only when a factor may be clamped or a statistic is
 * not finite.  Pass 3 reads p and g again, recomputes the update and
 * writes p.  The reference walks the columns at a stride of C elements and
 * makes seven passes on one thread.  A 1-D tensor (full variance) takes
 * two passes: p, g and the variance (the update to the scratch), then p.
 * Blocks are fixed by the shape, so the result does not depend on the
 * thread count.
 *
 * A step's tensors are stepped in one parallel region
 * (rt_adafactor_fast_many): the large ones one after another on every
 * thread, the others side by side, a whole tensor per thread (af_team).
 * With OMP_WAIT_POLICY=passive a barrier is a sleep and a wake-up: a
 * region per tensor and three barriers in it cost more than pass 2 did.
 *
 * Bytes per element, fp32, when a matrix's p and g stay in the last-level
 * cache between the passes: 12 from memory (p and g read, p written; the
 * factors are per row and column); otherwise up to 20.
 */
#include "optim_int.h"

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
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
#define AF_PAR_MIN 65536                /* smaller tensors run on one thread */
#define AF_SOLO_SET (32u << 20)         /* bytes of p and g side-by-side tensors may span */

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
	void *colw;                     /* per block: C sums of g^2 / row_var (T) */
	double *csum;                   /* per column chunk: sum of colw / col_var */
	double *cmin;                   /* per column chunk: least col_var (NaN sticks) */
	double *rvmin;                  /* per matrix: least row_var (NaN sticks) */
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

/* Column chunks of AF_COLS per matrix (2-D). */
static size_t af_cchunks(const struct af_plan *pl)
{
	return (pl->C + AF_COLS - 1) / AF_COLS;
}

static size_t af_up64(size_t n)
{
	return (n + 63) / 64 * 64;
}

/* Lay the scratch out at base; returns its bytes (base may be NULL). */
static size_t af_work_of(struct af_work *wk, const struct af_plan *pl, void *base, size_t es)
{
	char *b = base;
	size_t off = pl->two ? 0 : af_up64(pl->C * es);      /* 1-D: the update */
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
	wk->colw = b + off;
	if (pl->two)
		off += af_up64(pl->nblk * pl->C * es);
	const size_t nch = pl->two ? pl->nb * af_cchunks(pl) : 0;
	wk->csum = (double *)(b + off);
	off += af_up64(nch * sizeof(double));
	wk->cmin = (double *)(b + off);
	off += af_up64(nch * sizeof(double));
	wk->rvmin = (double *)(b + off);
	off += af_up64(pl->nb * sizeof(double));
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

/* Thread tid's start in [0, n) items (blocks, column chunks) of nt threads. */
static size_t af_part(size_t n, int tid, int nt)
{
	if (tid >= nt)
		return n;
	return (size_t)((double)n * tid / nt);
}

/* A barrier of the team when a tensor is stepped by more than one thread. */
#ifdef _OPENMP
#define AF_BARRIER(nt)                                                                             \
	do {                                                                                       \
		if ((nt) > 1) {                                                                    \
			_Pragma("omp barrier")                                                     \
		}                                                                                  \
	} while (0)
#else
#define AF_BARRIER(nt) ((void)(nt))
#endif /* _OPENMP */

#define KERN_TMPL "kern_adafactor_fast_tmpl.h"
#include "kern_inst.h"

size_t rt_adafactor_work_bytes(int dt, int fast, int ndim, const int64_t *shape, size_t numel)
{
	const size_t es = dt == FTSRT_F64 ? 8 : 4;
	if (!fast)                              /* the reference: the update */
		return (numel ? numel : 1) * es + 64;
	struct af_plan pl;
	struct af_work wk;
	af_plan_of(&pl, ndim, shape, numel);
	return af_work_of(&wk, &pl, NULL, es) + 64;
}

/*
 * Is a tensor of numel elements (es bytes each), of total in the step,
 * stepped by the whole team of nthr threads?  Side by side, a whole tensor
 * per thread, there is no barrier, but pass 3 finds its p and g in the
 * last-level cache only if the threads' tensors fit there together, and a
 * tensor larger than half a thread's share of the step would leave the
 * others idle.  So the team takes a tensor of at least AF_PAR_MIN elements
 * when it is more than half a share or nthr copies of its p and g exceed
 * AF_SOLO_SET bytes.
 */
static bool af_team(size_t numel, size_t es, size_t total, int nthr)
{
	if (nthr < 2 || numel < AF_PAR_MIN)
		return false;
	return numel > total / (2 * (size_t)nthr) || numel > AF_SOLO_SET / (2 * es * (size_t)nthr);
}

/* The scratch of rt_adafactor_fast_many, laid out (base may be NULL). */
struct af_many {
	struct af_ord { size_t numel; int i; } *ord;    /* the side-by-side tensors, largest first */
	int nsolo;
	char *team[2];                  /* the team's tensors: two scratches, in turn */
	char *solo;                     /* then one per thread, of solo bytes */
	size_t solo_bytes;
	size_t bytes;
};

static void af_many_of(struct af_many *m, int dt, const struct rt_adafactor_job *jobs, int n, int nthr,
		       void *base)
{
	const size_t es = dt == FTSRT_F64 ? 8 : 4;
	size_t total = 0, team = 0, solo = 0;
	for (int i = 0; i < n; i++)
		total += jobs[i].a.numel;
	char *b = base;
	m->ord = (struct af_ord *)b;
	m->nsolo = 0;
	for (int i = 0; i < n; i++) {
		const struct rt_adafactor *a = &jobs[i].a;
		if (a->numel == 0)
			continue;
		size_t w = af_up64(rt_adafactor_work_bytes(dt, 1, a->ndim, a->shape, a->numel));
		if (af_team(a->numel, es, total, nthr)) {
			team = w > team ? w : team;
		} else {
			solo = w > solo ? w : solo;
			if (base)
				m->ord[m->nsolo] = (struct af_ord){a->numel, i};
			m->nsolo++;
		}
	}
	size_t off = af_up64((size_t)m->nsolo * sizeof(struct af_ord));
	m->team[0] = b + off;
	m->team[1] = b + off + team;
	off += 2 * team;
	m->solo = b + off;
	m->solo_bytes = solo;
	off += (size_t)nthr * solo;
	m->bytes = off + 64;
}

size_t rt_adafactor_many_bytes(int dt, const struct rt_adafactor_job *jobs, int n, int nthr)
{
	struct af_many m;
	af_many_of(&m, dt, jobs, n, nthr < 1 ? 1 : nthr, NULL);
	return m.bytes;
}

static int af_ord_cmp(const void *x, const void *y)
{
	const struct af_ord *a = x, *b = y;
	if (a->numel != b->numel)
		return a->numel > b->numel ? -1 : 1;
	return (a->i > b->i) - (a->i < b->i);
}

static void af_step_one(int dt, const struct rt_adafactor_job *j, void *work, int tid, int nt)
{
	if (dt == FTSRT_F64)
		af_step_f64(j->p, j->g, &j->a, work, tid, nt);
	else
		af_step_f32(j->p, j->g, &j->a, work, tid, nt);
}

/*
 * One parallel region for the whole step: the team's tensors one after
 * another, each on every thread (two barriers each, three when pass 2
 * runs; the scratch alternates between two, so the next tensor's first
 * pass may start while a thread still writes the last one's parameters),
 * then the others side by side, largest first, each thread taking the
 * next.  Every tensor's result is the same whichever way it is stepped.
 */
void rt_adafactor_fast_many(int dt, const struct rt_adafactor_job *jobs, int n, int nthr, void *work)
{
	if (nthr < 1)
		nthr = 1;
	struct af_many m;
	char *base = (char *)(((uintptr_t)work + 63) & ~(uintptr_t)63);
	af_many_of(&m, dt, jobs, n, nthr, base);
	qsort(m.ord, (size_t)m.nsolo, sizeof(*m.ord), af_ord_cmp);
	const size_t es = dt == FTSRT_F64 ? 8 : 4;
	size_t total = 0;
	for (int i = 0; i < n; i++)
		total += jobs[i].a.numel;
#pragma omp parallel num_threads(nthr) if (nthr > 1)
	{
		int tid = 0, nt = 1;
#ifdef _OPENMP
		tid = omp_get_thread_num();
		nt = omp_get_num_threads();
#endif /* _OPENMP */
		int turn = 0;
		for (int i = 0; i < n; i++)
			if (jobs[i].a.numel && af_team(jobs[i].a.numel, es, total, nthr)) {
				af_step_one(dt, &jobs[i], m.team[turn], tid, nt);
				turn ^= 1;
			}
#pragma omp for schedule(dynamic, 1)
		for (int k = 0; k < m.nsolo; k++)
			af_step_one(dt, &jobs[m.ord[k].i], m.solo + (size_t)tid * m.solo_bytes, 0, 1);
	}
}
