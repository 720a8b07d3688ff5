/*
 * kern_adafactor_fast_tmpl.h - body of the fast Adafactor kernel, included
 * by kern_adafactor_fast.c (through kern_inst.h) once per element type with
 * T, SFX, SQRT and FMA defined.  No include guard.
 *
 * The arithmetic is the reference's (kern_adafactor_tmpl.h) but for three
 * changes of rounding, all far inside `ftsrun verify`'s tolerances:
 * - sums of squares are added in T over runs of at most AF_CHUNK
 *   elements in the lanes of a 32-byte vector (column sums: over at most
 *   AF_MAXROWS rows), and the runs in double (the reference: every
 *   element in double);
 * - the update's factor is 1/sqrt(row_var / row_mean), a T per row, times
 *   1/sqrt(col_var), a T per column (afu), not three roundings per element;
 * - when no factor can be clamped, the norm of a matrix's update is not
 *   read from the update: it is row_mean * sum_c (sum_r g^2 / row_var) /
 *   col_var, whose inner sums pass 1 takes from the rows it has just read
 *   (still in cache) and whose outer one af_cols2 takes with col_var.
 *   Pass 2, which reads g again for the norm, runs only when a factor may
 *   be clamped or the sum is not finite (zero, huge or NaN statistics),
 *   and so gives torch's zeros, clamps and NaNs.
 * The blocks are fixed by the shape (struct af_plan), not by the thread
 * count, and partial sums are added in block order, so the result does not
 * depend on the thread count or the ISA clone.  Every block function is a
 * target clone (x86-64-v4/-v3/baseline).
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

/* A vector of AF_VBYTES: one ymm or two xmm registers, the same lanes on
 * every ISA clone (GNU C vector extension). */
typedef T F(afv) __attribute__((vector_size(AF_VBYTES)));
#define AF_NL ((int)(AF_VBYTES / sizeof(T)))

/* Fold the lanes in a fixed order. */
static inline __attribute__((always_inline)) double F(affold)(const double acc[AF_MAXLANES])
{
	double s[AF_MAXLANES];
	for (int l = 0; l < AF_NL; l++)
		s[l] = acc[l];
	for (int w = AF_NL / 2; w > 0; w /= 2)
		for (int l = 0; l < w; l++)
			s[l] = s[l] + s[l + w];
	return s[0];
}

/*
 * Add the squares of x[0..n) to the lanes, lane i % AF_NL for x[i]: in T
 * over runs of AF_CHUNK elements, each run then in double.
 */
static inline __attribute__((always_inline)) void F(afsq)(double acc[AF_MAXLANES], const T *x, size_t n)
{
	for (size_t b = 0; b < n; b += AF_CHUNK) {
		const size_t e = n - b < AF_CHUNK ? n : b + AF_CHUNK;
		F(afv) sum = {0};
		size_t i = b;
		for (; i + AF_NL <= e; i += AF_NL) {
			F(afv) v;
			memcpy(&v, x + i, sizeof(v));
			sum += v * v;
		}
		if (i < e) {                    /* the tail, zero-padded */
			F(afv) v = {0};
			for (int l = 0; i + l < e; l++)
				v[l] = x[i + l];
			sum += v * v;
		}
		for (int l = 0; l < AF_NL; l++)
			acc[l] += (double)sum[l];
	}
}

/*
 * Pass 1 over one run [b, e) of nr rows (g[j], p[j]; into the column sums
 * in row order): squares into each row's lanes racc[j], the column sums
 * and the lanes of p.  nr is a constant (AF_WAYS or 1) after inlining, and
 * the loops over it are unrolled, so the row sums stay in registers (a
 * loop kept them on the stack: a store and a load per vector and row).
 */
static inline __attribute__((always_inline)) void
F(af_run)(const T *const g[AF_WAYS], const T *const p[AF_WAYS], T *restrict cs, size_t b, size_t e,
	  double racc[AF_WAYS][AF_MAXLANES], double pacc[AF_MAXLANES], const int nr)
{
	F(afv) rs[AF_WAYS], ps = {0};
#pragma GCC unroll 8
	for (int j = 0; j < nr; j++)
		rs[j] = (F(afv)){0};
	size_t c = b;
	for (; c + AF_NL <= e; c += AF_NL) {
		F(afv) vc;
		memcpy(&vc, cs + c, sizeof(vc));
#pragma GCC unroll 8
		for (int j = 0; j < nr; j++) {
			F(afv) vg, vp;
			memcpy(&vg, g[j] + c, sizeof(vg));
			memcpy(&vp, p[j] + c, sizeof(vp));
			vg = vg * vg;
			rs[j] += vg;
			vc += vg;
			ps += vp * vp;
		}
		memcpy(cs + c, &vc, sizeof(vc));
	}
	if (c < e) {                            /* the tail, zero-padded */
		for (int j = 0; j < nr; j++) {
			F(afv) vg = {0}, vp = {0};
			for (int l = 0; c + l < e; l++) {
				vg[l] = g[j][c + l];
				vp[l] = p[j][c + l];
			}
			vg = vg * vg;
			rs[j] += vg;
			ps += vp * vp;
			for (int l = 0; c + l < e; l++)
				cs[c + l] += vg[l];
		}
	}
	for (int l = 0; l < AF_NL; l++) {
		for (int j = 0; j < nr; j++)
			racc[j][l] += (double)rs[j][l];
		pacc[l] += (double)ps[l];
	}
}

/*
 * Pass 1, after a run of nr rows (g[j]) has its row_var: add each row's
 * squares over its row_var (inv[j] = 1 / row_var) to the columns' cw, the
 * rows again, from cache, in row order.
 */
static inline __attribute__((always_inline)) void
F(af_wrun)(const T *const g[AF_WAYS], const T inv[AF_WAYS], T *restrict cw, size_t C, const int nr)
{
	F(afv) vi[AF_WAYS];
#pragma GCC unroll 8
	for (int j = 0; j < nr; j++)
		vi[j] = (F(afv)){0} + inv[j];
	size_t c = 0;
	for (; c + AF_NL <= C; c += AF_NL) {
		F(afv) vc;
		memcpy(&vc, cw + c, sizeof(vc));
#pragma GCC unroll 8
		for (int j = 0; j < nr; j++) {
			F(afv) vg;
			memcpy(&vg, g[j] + c, sizeof(vg));
			vc += (vg * vg) * vi[j];
		}
		memcpy(cw + c, &vc, sizeof(vc));
	}
	for (; c < C; c++)
		for (int j = 0; j < nr; j++)
			cw[c] += (g[j][c] * g[j][c]) * inv[j];
}

/*
 * 2-D pass 1, block k: each row's sum of squares of g (complete in the
 * block) updates row_var; the block's column sums of squares go to
 * colpart[k] (T: at most AF_MAXROWS rows), its sum of squares of p to
 * pp[k], its sums of squares over row_var per column to colw[k] (T).
 * Rows i, i + q, i + 2q, ... of the block (q: its rows over
 * AF_WAYS) are read together: 2 * AF_WAYS memory streams per thread, as an
 * optimizer with three states has; one row at a time leaves bandwidth
 * unused.
 */
static TC void F(af_stats2)(const struct af_plan *pl, const struct rt_adafactor *a, const T *p,
			    const T *g, const struct af_work *wk, size_t k)
{
	const size_t C = pl->C, R = pl->R, m = k / pl->bpm;
	const size_t r0 = (k % pl->bpm) * pl->rb, r1 = r0 + pl->rb < R ? r0 + pl->rb : R;
	const size_t q = (r1 - r0) / AF_WAYS;
	const T w = (T)pow(a->step, a->beta2_decay);
	T *restrict cs = (T *)wk->colpart + k * C;
	T *restrict cw = (T *)wk->colw + k * C;
	T *rv = (T *)a->row_var + m * R;
	for (size_t c = 0; c < C; c++)
		cs[c] = cw[c] = 0;
	double pacc[AF_MAXLANES] = {0};
	/* i < q: rows i + j*q, j < AF_WAYS; then the rows after AF_WAYS * q, one by one */
	for (size_t i = 0; i < q + (r1 - r0 - AF_WAYS * q); i++) {
		const int nr = i < q ? AF_WAYS : 1;
		size_t rows[AF_WAYS];
		const T *gj[AF_WAYS], *pj[AF_WAYS];
		for (int j = 0; j < AF_WAYS; j++) {
			rows[j] = i < q ? r0 + i + (size_t)j * q : r0 + AF_WAYS * q + (i - q);
			gj[j] = g + (m * R + rows[j]) * C;
			pj[j] = p + (m * R + rows[j]) * C;
		}
		double racc[AF_WAYS][AF_MAXLANES] = {{0}};
		for (size_t b = 0; b < C; b += AF_CHUNK) {
			const size_t e = C - b < AF_CHUNK ? C : b + AF_CHUNK;
			if (nr == AF_WAYS)
				F(af_run)(gj, pj, cs, b, e, racc, pacc, AF_WAYS);
			else
				F(af_run)(gj, pj, cs, b, e, racc, pacc, 1);
		}
		T inv[AF_WAYS];
		for (int j = 0; j < nr; j++) {
			T nrm = (T)sqrt(F(affold)(racc[j]));
			T mean = (nrm * nrm) / (T)C;    /* norm(dim=-1).square_().div_(C) */
			rv[rows[j]] = F(aflerp)(rv[rows[j]], mean, w);
			inv[j] = (T)1 / rv[rows[j]];
		}
		if (nr == AF_WAYS)
			F(af_wrun)(gj, inv, cw, C, AF_WAYS);
		else
			F(af_wrun)(gj, inv, cw, C, 1);
	}
	wk->pp[k] = F(affold)(pacc);
}

/*
 * 2-D, between the passes: columns [c0, c1) of matrix m sum their block
 * partials in block order and update col_var; the chunk's sum of
 * colw / col_var and its least col_var go to csum[ch] and cmin[ch].
 */
static TC void F(af_cols2)(const struct af_plan *pl, const struct rt_adafactor *a,
			   const struct af_work *wk, size_t m, size_t c0, size_t c1)
{
	const size_t C = pl->C;
	const T w = (T)pow(a->step, a->beta2_decay);
	T *cv = (T *)a->col_var + m * C;
	const T *part = (const T *)wk->colpart + m * pl->bpm * C;
	T *rb = (T *)wk->rb + m * C;
	const T *wpart = (const T *)wk->colw + m * pl->bpm * C;
	double s[AF_COLS], sw[AF_COLS];         /* block partials, added in block order */
	const size_t n = c1 - c0;
	for (size_t c = 0; c < n; c++)
		s[c] = sw[c] = 0;
	for (size_t j = 0; j < pl->bpm; j++) {
		const T *pj = part + j * C + c0, *wj = wpart + j * C + c0;
#pragma omp simd
		for (size_t c = 0; c < n; c++) {
			s[c] += (double)pj[c];
			sw[c] += (double)wj[c];
		}
	}
	const T Rt = (T)pl->R;
	const int small = w < (T)0.5 && w > (T)-0.5;
#pragma omp simd
	for (size_t c = 0; c < n; c++) {
		T nr = (T)sqrt(s[c]);
		T mean = (nr * nr) / Rt;                /* norm(dim=-2).square_().div_(R) */
		T old = cv[c0 + c];
		T v = small ? FMA(w, mean - old, old) : FMA(w - (T)1, mean - old, mean);
		cv[c0 + c] = v;
		rb[c0 + c] = (T)(1 / sqrt((double)v));
	}
	double su = 0, mn = INFINITY;
	for (size_t c = 0; c < n; c++) {
		const double v = (double)cv[c0 + c];
		su += sw[c] / v;
		mn = (v < mn || v != v) ? v : mn;
	}
	const size_t ch = m * af_cchunks(pl) + c0 / AF_COLS;
	wk->csum[ch] = su;
	wk->cmin[ch] = mn;
}

/* 2-D: matrix m's row_var mean, clamped (row_var.mean(dim=-1).clamp_(eps1)). */
static void F(af_rmean2)(const struct af_plan *pl, const struct rt_adafactor *a,
			 const struct af_work *wk, size_t m)
{
	const T *rv = (const T *)a->row_var + m * pl->R;
	double s = 0, mn = INFINITY;
	for (size_t r = 0; r < pl->R; r++) {
		const double v = (double)rv[r];
		s += v;
		mn = (v < mn || v != v) ? v : mn;
	}
	wk->rmean[m] = (double)F(afclamp)((T)(s / (double)pl->R), (T)a->eps1);
	wk->rvmin[m] = mn;
}

/*
 * 2-D, after af_cols2 and af_rmean2: the sum of squares of the update of
 * every matrix from csum into *un, unless a factor may be clamped (its
 * largest, sqrt(row_mean / (least row_var * least col_var)), within 1e-4
 * of 1/eps1 or above) or a statistic or the sum is not finite: then 0, and
 * pass 2 takes the norm from the update itself.
 */
static int F(af_unorm_cols)(const struct af_plan *pl, const struct rt_adafactor *a,
			    const struct af_work *wk, double *un)
{
	const T eps1sq = (T)(a->eps1 * a->eps1);
	const double fmax = (double)((T)1 / SQRT(eps1sq));
	const size_t nch = af_cchunks(pl);
	double sum = 0;
	for (size_t m = 0; m < pl->nb; m++) {
		double s = 0, cmin = INFINITY;
		for (size_t j = 0; j < nch; j++) {
			const double v = wk->cmin[m * nch + j];
			s += wk->csum[m * nch + j];
			cmin = (v < cmin || v != v) ? v : cmin;
		}
		const double rvmin = wk->rvmin[m], rmean = wk->rmean[m];
		if (!(rvmin > 0) || !(cmin > 0) || !(rmean > 0))
			return 0;
		const double f2 = rmean / rvmin / cmin;
		if (!(f2 * (1 + 1e-4) < fmax * fmax))
			return 0;
		sum += rmean * s;
	}
	if (!isfinite(sum))
		return 0;
	*un = sum;
	return 1;
}

/*
 * 2-D: the update of row r over n columns into u.  torch computes
 * 1/sqrt(clamp(row_var[r] * col_var[c] / row_mean, eps1^2)) with four
 * roundings per element; here ra = 1/sqrt(row_var[r] / row_mean) per row
 * and rb[c] = 1/sqrt(col_var[c]) per column, each rounded once to T, and
 * their product clamped at 1/eps1: one multiply per element in place of
 * two divisions and a square root, within a few units in the last place
 * of torch's factor.  Zero, infinite and NaN factors give torch's results
 * (row_var 0 gives ra inf: clamped, as torch clamps 0; 0 * inf is NaN in
 * both).  Rounding is monotonic and fmax a T: clamping after it is the same.
 */
static inline __attribute__((always_inline)) void
F(afu)(T *restrict u, const T *restrict gr, const T *restrict rb, T ra, T fmax, T sg, size_t n)
{
#pragma omp simd
	for (size_t c = 0; c < n; c++) {
		T f = ra * rb[c];
		f = f > fmax ? fmax : f;
		u[c] = f * (sg * gr[c]);
	}
}

/* The per-block constants of afu. */
struct F(af_fac) {
	size_t m, r0, r1;               /* matrix, rows */
	T fmax;                         /* 1/sqrt(eps1^2), as torch rounds it */
	double rmean;                   /* the matrix's clamped row mean */
	T sg;                           /* -1 to maximize */
};

static inline __attribute__((always_inline)) void
F(af_fac_of)(struct F(af_fac) *f, const struct af_plan *pl, const struct rt_adafactor *a,
	     const struct af_work *wk, size_t k)
{
	const T eps1sq = (T)(a->eps1 * a->eps1);
	f->m = k / pl->bpm;
	f->r0 = (k % pl->bpm) * pl->rb;
	f->r1 = f->r0 + pl->rb < pl->R ? f->r0 + pl->rb : pl->R;
	f->fmax = (T)1 / SQRT(eps1sq);
	f->rmean = wk->rmean[f->m];
	f->sg = a->maximize ? (T)-1 : (T)1;
}

/* 2-D pass 2, block k: the sum of squares of its update into up[k]. */
static TC void F(af_unorm2)(const struct af_plan *pl, const struct rt_adafactor *a, const T *g,
			    const struct af_work *wk, size_t k)
{
	struct F(af_fac) f;
	F(af_fac_of)(&f, pl, a, wk, k);
	const size_t C = pl->C;
	const T *rv = (const T *)a->row_var + f.m * pl->R;
	const T *rb = (const T *)wk->rb + f.m * C;
	double uacc[AF_MAXLANES] = {0};
	typedef __typeof__((F(afv)){0} > (F(afv)){0}) mask_t;
	const F(afv) zero = {0};
	const F(afv) vmax = zero + f.fmax, vsg = zero + f.sg;
	for (size_t r = f.r0; r < f.r1; r++) {
		const T *gr = g + (f.m * pl->R + r) * C;
		const T ra = (T)(1 / sqrt((double)rv[r] / f.rmean));
		const F(afv) vra = zero + ra;
		for (size_t b = 0; b < C; b += AF_CHUNK) {
			/* afu and afsq in registers: the same values, the same lanes */
			const size_t e = C - b < AF_CHUNK ? C : b + AF_CHUNK;
			F(afv) sum = zero;
			size_t c = b;
			for (; c + AF_NL <= e; c += AF_NL) {
				F(afv) vb, vg;
				memcpy(&vb, rb + c, sizeof(vb));
				memcpy(&vg, gr + c, sizeof(vg));
				F(afv) fc = vra * vb;
				mask_t big = fc > vmax;
				fc = (F(afv))(((mask_t)fc & ~big) | ((mask_t)vmax & big));
				F(afv) u = fc * (vsg * vg);
				sum += u * u;
			}
			if (c < e) {                    /* the tail, zero-padded */
				T ut[AF_MAXLANES] = {0};
				F(afv) u;
				F(afu)(ut, gr + c, rb + c, ra, f.fmax, f.sg, e - c);
				memcpy(&u, ut, sizeof(u));
				sum += u * u;
			}
			for (int l = 0; l < AF_NL; l++)
				uacc[l] += (double)sum[l];
		}
	}
	wk->up[k] = F(affold)(uacc);
}

/* 2-D pass 3, block k: weight decay and the clipped update (as af_apply). */
static TC void F(af_apply2)(const struct af_plan *pl, const struct rt_adafactor *a, T *p,
			    const T *g, const struct af_work *wk, size_t k, T dec, T coef)
{
	struct F(af_fac) f;
	F(af_fac_of)(&f, pl, a, wk, k);
	const size_t C = pl->C;
	const T *rv = (const T *)a->row_var + f.m * pl->R;
	const T *rb = (const T *)wk->rb + f.m * C;
	const T fmax = f.fmax, sg = f.sg;
	for (size_t r = f.r0; r < f.r1; r++) {
		const size_t row = (f.m * pl->R + r) * C;
		const T ra = (T)(1 / sqrt((double)rv[r] / f.rmean));
		T *restrict pr = p + row;
		const T *restrict gr = g + row;
#pragma omp simd
		for (size_t c = 0; c < C; c++) {
			/* afu, inline: the update whose norm pass 2 takes, bit for bit */
			T fc = ra * rb[c];
			fc = fc > fmax ? fmax : fc;
			pr[c] = FMA(coef, fc * (sg * gr[c]), pr[c] * dec);
		}
	}
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
	double pacc[AF_MAXLANES] = {0}, uacc[AF_MAXLANES] = {0};
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

/* 1-D, last pass over [b, e): weight decay and the clipped update. */
static TC void F(af_apply)(T *restrict p, const T *restrict u, T dec, T coef, size_t b, size_t e)
{
#pragma omp simd
	for (size_t i = b; i < e; i++)
		p[i] = FMA(coef, u[i], p[i] * dec);
}

/*
 * The whole step of one tensor in scratch work, by thread tid of the nt
 * that call it together: every thread of the current OpenMP team (nt > 1:
 * the barriers are the team's), or one thread alone (nt 1: none).
 */
static void F(af_step)(T *p, const T *g, const struct rt_adafactor *a, void *work, int tid, int nt)
{
	struct af_plan pl;
	struct af_work wk;
	af_plan_of(&pl, a->ndim, a->shape, a->numel);
	af_work_of(&wk, &pl, work, sizeof(T));
	const size_t n = a->numel;
	const double dec = a->wd != 0 ? (double)(T)(1 - a->lr * a->wd) : 1.0;
	/* each thread its own run of blocks in every pass, every other pass
	 * backwards: it begins with the blocks the one before left in the
	 * last-level cache */
	const size_t kb = af_part(pl.nblk, tid, nt), ke = af_part(pl.nblk, tid + 1, nt);
	int cols = 0;
	double uncols = 0;
	if (pl.two) {
		for (size_t k = kb; k < ke; k++)
			F(af_stats2)(&pl, a, p, g, &wk, k);
		AF_BARRIER(nt);
		/* columns in chunks of AF_COLS (col_var), then each matrix's row mean */
		const size_t ncol = pl.nb * af_cchunks(&pl), nj = ncol + pl.nb;
		for (size_t j = af_part(nj, tid, nt); j < af_part(nj, tid + 1, nt); j++) {
			if (j >= ncol) {
				F(af_rmean2)(&pl, a, &wk, j - ncol);
				continue;
			}
			size_t m = j / af_cchunks(&pl), c0 = (j % af_cchunks(&pl)) * AF_COLS;
			F(af_cols2)(&pl, a, &wk, m, c0, c0 + AF_COLS < pl.C ? c0 + AF_COLS : pl.C);
		}
		AF_BARRIER(nt);
		/* pass 2 only when the column sums cannot give the norm (the
		 * same answer on every thread) */
		cols = F(af_unorm_cols)(&pl, a, &wk, &uncols);
		if (!cols) {
			for (size_t k = ke; k-- > kb;)
				F(af_unorm2)(&pl, a, g, &wk, k);
			AF_BARRIER(nt);
		}
	} else {
		for (size_t k = kb; k < ke; k++)
			F(af_full1)(&pl, a, p, g, &wk, k);
		AF_BARRIER(nt);
	}
	/* alpha from param.norm(2) before decay, the RMS clip from update.norm(2) */
	const double step = a->step;
	const double rho = a->lr < 1 / sqrt(step) ? a->lr : 1 / sqrt(step);
	double pn = 0, un = 0;
	for (size_t k = 0; k < pl.nblk; k++) {
		pn += wk.pp[k];
		un += cols ? 0 : wk.up[k];
	}
	if (cols)
		un = uncols;
	const double pnorm = (double)(T)sqrt(pn);
	double alpha = pnorm / sqrt((double)n);
	alpha = (a->eps2 > alpha ? a->eps2 : alpha) * rho;
	const double unorm = (double)(T)sqrt(un);
	double denom = unorm / (sqrt((double)n) * a->d);
	if (denom < 1.0)
		denom = 1.0;
	const T coef = (T)(-alpha / denom);
	if (pl.two && cols) {
		for (size_t k = ke; k-- > kb;)
			F(af_apply2)(&pl, a, p, g, &wk, k, (T)dec, coef);
	} else if (pl.two) {
		for (size_t k = kb; k < ke; k++)
			F(af_apply2)(&pl, a, p, g, &wk, k, (T)dec, coef);
	} else {
		size_t b = af_split(n, tid, nt), e = af_split(n, tid + 1, nt);
		F(af_apply)(p, wk.upd, (T)dec, coef, b, e);
	}
}

#undef AF_NL
#undef F
#undef FCAT
#undef FCAT2
