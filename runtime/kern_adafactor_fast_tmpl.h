/*
 * kern_adafactor_fast_tmpl.h - body of the fast Adafactor kernel, included
 * by kern_adafactor_fast.c (through kern_inst.h) once per element type with
 * T, SFX, SQRT and FMA defined.  No include guard.
 *
 * Per element the arithmetic is the reference's (kern_adafactor_tmpl.h),
 * operation for operation; only the order of the double reductions
 * differs: eight lanes per row or block, blocks summed in block order.
 * The blocks are fixed by the shape (struct af_plan), not by the thread
 * count, so the result does not depend on the thread count or the ISA
 * clone.  Every block function is a target clone (x86-64-v4/-v3/baseline).
 */

#define FCAT2(a, b) a##_##b
#define FCAT(a, b) FCAT2(a, b)
#define F(name) FCAT(name, SFX)

static inline __attribute__((always_inline)) T F(aflerp)(T self, T end, T w)
{
	return (w < (T)0.5 && w > (T)-0.5) ? FMA(w, end - self, self)
					   : FMA(w - (T)1, end - self, end);
}

static inline __attribute__((always_inline)) T F(afclamp)(T x, T lo)
{
	return (x != x) ? x : (x < lo ? lo : x);
}

/* Fold eight lanes in a fixed order. */
static inline __attribute__((always_inline)) double F(affold)(const double acc[AF_LANES])
{
	return ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
}

/* Add the squares of x[0..n) to the eight lanes, lane i % 8 for x[i]. */
static inline __attribute__((always_inline)) void F(afsq)(double acc[AF_LANES], const T *x, size_t n)
{
	size_t i = 0;
	for (; i + AF_LANES <= n; i += AF_LANES)
		for (int l = 0; l < AF_LANES; l++)
			acc[l] += (double)x[i + l] * (double)x[i + l];
	for (int l = 0; i < n; i++, l++)
		acc[l] += (double)x[i] * (double)x[i];
}

/*
 * 2-D pass 1, block k: each row's sum of squares of g (complete in the
 * block) updates row_var; the block's column sums of squares go to
 * colpart[k], its sum of squares of p to pp[k].
 */
static TC void F(af_stats2)(const struct af_plan *pl, const struct rt_adafactor *a, const T *p,
			    const T *g, const struct af_work *wk, size_t k)
{
	const size_t C = pl->C, R = pl->R, m = k / pl->bpm;
	const size_t r0 = (k % pl->bpm) * pl->rb, r1 = r0 + pl->rb < R ? r0 + pl->rb : R;
	const T w = (T)pow(a->step, a->beta2_decay);
	double *restrict cs = wk->colpart + k * C;
	T *rv = (T *)a->row_var + m * R;
	for (size_t c = 0; c < C; c++)
		cs[c] = 0;
	double pacc[AF_LANES] = {0};
	for (size_t r = r0; r < r1; r++) {
		const T *restrict gr = g + (m * R + r) * C, *restrict pr = p + (m * R + r) * C;
		double racc[AF_LANES] = {0};
		size_t c = 0;
		for (; c + AF_LANES <= C; c += AF_LANES)
			for (int l = 0; l < AF_LANES; l++) {
				double x = (double)gr[c + l], y = (double)pr[c + l];
				racc[l] += x * x;
				cs[c + l] += x * x;
				pacc[l] += y * y;
			}
		for (int l = 0; c < C; c++, l++) {
			double x = (double)gr[c], y = (double)pr[c];
			racc[l] += x * x;
			cs[c] += x * x;
			pacc[l] += y * y;
		}
		T nr = (T)sqrt(F(affold)(racc));
		T mean = (nr * nr) / (T)C;              /* norm(dim=-1).square_().div_(C) */
		rv[r] = F(aflerp)(rv[r], mean, w);
	}
	wk->pp[k] = F(affold)(pacc);
}

/*
 * 2-D, between the passes: columns [c0, c1) of matrix m sum their block
 * partials in block order and update col_var.
 */
static TC void F(af_cols2)(const struct af_plan *pl, const struct rt_adafactor *a,
			   const struct af_work *wk, size_t m, size_t c0, size_t c1)
{
	const size_t C = pl->C;
	const T w = (T)pow(a->step, a->beta2_decay);
	T *cv = (T *)a->col_var + m * C;
	const double *part = wk->colpart + m * pl->bpm * C;
	for (size_t c = c0; c < c1; c++) {
		double s = 0;
		for (size_t j = 0; j < pl->bpm; j++)
			s += part[j * C + c];
		T nr = (T)sqrt(s);
		T mean = (nr * nr) / (T)pl->R;          /* norm(dim=-2).square_().div_(R) */
		cv[c] = F(aflerp)(cv[c], mean, w);
	}
}

/* 2-D: matrix m's row_var mean, clamped (row_var.mean(dim=-1).clamp_(eps1)). */
static void F(af_rmean2)(const struct af_plan *pl, const struct rt_adafactor *a,
			 const struct af_work *wk, size_t m)
{
	const T *rv = (const T *)a->row_var + m * pl->R;
	double s = 0;
	for (size_t r = 0; r < pl->R; r++)
		s += (double)rv[r];
	wk->rmean[m] = (double)F(afclamp)((T)(s / (double)pl->R), (T)a->eps1);
}

/* 2-D pass 2, block k: the update into work, its sum of squares into up[k]. */
static TC void F(af_update2)(const struct af_plan *pl, const struct rt_adafactor *a, const T *g,
			     const struct af_work *wk, size_t k)
{
	const size_t C = pl->C, R = pl->R, m = k / pl->bpm;
	const size_t r0 = (k % pl->bpm) * pl->rb, r1 = r0 + pl->rb < R ? r0 + pl->rb : R;
	const T sg = a->maximize ? (T)-1 : (T)1;
	const T eps1sq = (T)(a->eps1 * a->eps1), rmean = (T)wk->rmean[m];
	const T *rv = (const T *)a->row_var + m * R;
	const T *restrict cv = (const T *)a->col_var + m * C;
	double uacc[AF_LANES] = {0};
	for (size_t r = r0; r < r1; r++) {
		const T *restrict gr = g + (m * R + r) * C;
		T *restrict ur = (T *)wk->upd + (m * R + r) * C;
		const T rvr = rv[r];
#pragma omp simd
		for (size_t c = 0; c < C; c++) {
			T ve = rvr * cv[c];                     /* row_var @ col_var */
			ve = ve / rmean;
			ve = F(afclamp)(ve, eps1sq);
			ve = (T)1 / SQRT(ve);                   /* rsqrt_ */
			ur[c] = ve * (sg * gr[c]);
		}
		F(afsq)(uacc, ur, C);
	}
	wk->up[k] = F(affold)(uacc);
}

/*
 * 1-D, block k: sum of squares of p into pp[k], the full variance, the
 * update into work and its sum of squares into up[k], in one pass.
 */
static TC void F(af_full1)(const struct af_plan *pl, const struct rt_adafactor *a, const T *p,
			   const T *g, const struct af_work *wk, size_t k)
{
	const size_t b = k * AF_BLOCK1, e = b + AF_BLOCK1 < pl->C ? b + AF_BLOCK1 : pl->C;
	const T w = (T)pow(a->step, a->beta2_decay);
	const T sg = a->maximize ? (T)-1 : (T)1;
	const T eps1sq = (T)(a->eps1 * a->eps1);
	T *restrict var = a->variance;
	T *restrict upd = wk->upd;
	double pacc[AF_LANES] = {0}, uacc[AF_LANES] = {0};
#pragma omp simd
	for (size_t i = b; i < e; i++) {
		T gi = sg * g[i];
		T vi = F(aflerp)(var[i], gi * gi, w);
		var[i] = vi;
		upd[i] = ((T)1 / SQRT(F(afclamp)(vi, eps1sq))) * gi;
	}
	F(afsq)(pacc, p + b, e - b);
	F(afsq)(uacc, upd + b, e - b);
	wk->pp[k] = F(affold)(pacc);
	wk->up[k] = F(affold)(uacc);
}

/* Last pass over [b, e): weight decay and the clipped update. */
static TC void F(af_apply)(T *restrict p, const T *restrict u, T dec, T coef, size_t b, size_t e)
{
#pragma omp simd
	for (size_t i = b; i < e; i++)
		p[i] = FMA(coef, u[i], p[i] * dec);
}

/* The whole step of one tensor, on nthr threads (see kern_adafactor_fast.c). */
static void F(af_step)(T *p, const T *g, const struct rt_adafactor *a, int nthr)
{
	struct af_plan pl;
	struct af_work wk;
	af_plan_of(&pl, a->ndim, a->shape, a->numel);
	af_work_of(&wk, &pl, a->work, sizeof(T));
	const size_t n = a->numel;
	double coef = 0, dec = a->wd != 0 ? (double)(T)(1 - a->lr * a->wd) : 1.0;
	(void)nthr;
#pragma omp parallel num_threads(nthr) if (nthr > 1)
	{
		if (pl.two) {
#pragma omp for schedule(static)
			for (size_t k = 0; k < pl.nblk; k++)
				F(af_stats2)(&pl, a, p, g, &wk, k);
			/* columns in chunks of AF_COLS: col_var, then each matrix's row mean */
			const size_t cchunks = (pl.C + AF_COLS - 1) / AF_COLS;
#pragma omp for schedule(static)
			for (size_t j = 0; j < pl.nb * cchunks; j++) {
				size_t m = j / cchunks, c0 = (j % cchunks) * AF_COLS;
				F(af_cols2)(&pl, a, &wk, m, c0, c0 + AF_COLS < pl.C ? c0 + AF_COLS : pl.C);
			}
#pragma omp for schedule(static)
			for (size_t m = 0; m < pl.nb; m++)
				F(af_rmean2)(&pl, a, &wk, m);
#pragma omp for schedule(static)
			for (size_t k = 0; k < pl.nblk; k++)
				F(af_update2)(&pl, a, g, &wk, k);
		} else {
#pragma omp for schedule(static)
			for (size_t k = 0; k < pl.nblk; k++)
				F(af_full1)(&pl, a, p, g, &wk, k);
		}
#pragma omp single
		{
			/* alpha from param.norm(2) before decay, the RMS clip from update.norm(2) */
			const double step = a->step;
			const double rho = a->lr < 1 / sqrt(step) ? a->lr : 1 / sqrt(step);
			double pn = 0, un = 0;
			for (size_t k = 0; k < pl.nblk; k++) {
				pn += wk.pp[k];
				un += wk.up[k];
			}
			const double pnorm = (double)(T)sqrt(pn);
			double alpha = pnorm / sqrt((double)n);
			alpha = (a->eps2 > alpha ? a->eps2 : alpha) * rho;
			const double unorm = (double)(T)sqrt(un);
			double denom = unorm / (sqrt((double)n) * a->d);
			if (denom < 1.0)
				denom = 1.0;
			coef = (double)(T)(-alpha / denom);
		}
		int tid = 0, nt = 1;
#ifdef _OPENMP
		tid = omp_get_thread_num();
		nt = omp_get_num_threads();
#endif /* _OPENMP */
		size_t b = af_split(n, tid, nt), e = af_split(n, tid + 1, nt);
		F(af_apply)(p, wk.upd, (T)dec, (T)coef, b, e);
	}
}

#undef F
#undef FCAT
#undef FCAT2
