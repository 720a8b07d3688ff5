/*
 * kern_muon.c - Muon (torch.optim.Muon) on one 2-D tensor: momentum (lerp),
 * Nesterov look-ahead, Newton-Schulz orthogonalisation with torch's quintic
 * coefficients, decoupled weight decay and the shape-adjusted learning rate.
 *
 * torch runs the iteration in bfloat16 whatever the parameter dtype; with
 * bf16 set we do the same arithmetic in float on bfloat16 values and round
 * every tensor op's result to bfloat16 (round to nearest even), the matrix
 * products accumulating in float as torch's CPU bfloat16 gemm does.  Only
 * the summation order of the products differs from torch, so an element
 * whose exact value lies near a bfloat16 rounding boundary may round the
 * other way.  Without bf16 the iteration runs in the parameter's dtype.
 *
 * The fast path uses OpenBLAS cblas_sgemm/cblas_dgemm, single-threaded,
 * from a team of mu->threads OpenMP threads: each product is split by rows
 * of its result, each thread rounding (and, in the plain form, adding) its
 * own rows while they are in cache; the elementwise passes are split the
 * same way.  The elementwise passes and the norm (summed by one thread)
 * give the same bits on any team, but OpenBLAS's product of a block of rows
 * is not always bitwise its part of the whole product, so the team's size
 * may change the last bits (and, with bf16, round an element of the
 * iteration to the neighbouring bfloat16).  The reference path is the
 * same code without a team: plain loops for the products.  The code below
 * runs on every thread of the team; its worksharing constructs are
 * orphaned, so without a team they run serially.
 */
#include "optim_int.h"
#include "blas.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#ifdef _OPENMP
#include <omp.h>
#endif /* _OPENMP */

/* Round a float to bfloat16 precision, ties to even (c10::BFloat16);
 * branch-free, so that the loops calling it vectorise. */
static inline float bf16r(float x)
{
	uint32_t u;
	memcpy(&u, &x, sizeof(u));
	uint32_t r = (u + 0x7fffu + ((u >> 16) & 1u)) & 0xffff0000u;
	uint32_t q = (u | 0x00400000u) & 0xffff0000u;   /* NaN: keep it quiet */
	u = (u & 0x7fffffffu) > 0x7f800000u ? q : r;
	memcpy(&x, &u, sizeof(x));
	return x;
}

float rt_bf16_round(float x)
{
	return bf16r(x);
}

/* This thread's share [*b, *e) of n rows (all of them without a team); row
 * edges on multiples of 16, the gemm kernels' row blocking. */
static void my_rows(size_t n, size_t *b, size_t *e)
{
	size_t tid = 0, nthr = 1;
#ifdef _OPENMP
	tid = (size_t)omp_get_thread_num();
	nthr = (size_t)omp_get_num_threads();
#endif /* _OPENMP */
	size_t blocks = (n + 15) / 16;
	*b = blocks * tid / nthr * 16;
	*e = blocks * (tid + 1) / nthr * 16;
	if (*b > n)
		*b = n;
	if (*e > n)
		*e = n;
}

/* What a product does to its rows of C after the gemm (bf16 set: each
 * result rounded): nothing, round, or C = coef*S + C as torch's two ops
 * (the product rounded, then the sum). */
enum post { POST_NONE, POST_ROUND, POST_ADD_SCALED };

struct prod {
	int tb;                         /* B given n x k (C = A @ B.T) */
	size_t m, n, k;
	const void *a, *b;
	void *c;
	double alpha, beta;             /* C = alpha * A @ B + beta * C */
	const void *pre;                /* beta != 0: C's old value, copied in first */
	int post;                       /* enum post */
	double coef;                    /* POST_ADD_SCALED */
	const void *s;                  /* POST_ADD_SCALED: S, m x n */
	int bf16;                       /* round the float results */
};

/*
 * The rows [r0, r1) of product p in T: gemm (blas) when fast, otherwise
 * plain loops accumulating in T; then the post-op on those rows.
 */
#define DEFINE_PROD_ROWS(name, T, blas, ROUND)                                                  \
	static void name(const struct prod *p, int fast, size_t r0, size_t r1)                  \
	{                                                                                       \
		const size_t m = r1 - r0, n = p->n, k = p->k;                                   \
		const T *a = (const T *)p->a + r0 * k, *b = p->b;                               \
		T *c = (T *)p->c + r0 * n;                                                      \
		const T alpha = (T)p->alpha, beta = (T)p->beta;                                 \
		if (m == 0)                                                                     \
			return;                                                                 \
		if (p->pre)                                                                     \
			memcpy(c, (const T *)p->pre + r0 * n, m * n * sizeof(T));               \
		if (fast) {                                                                     \
			blas(RT_CBLAS_ROW_MAJOR, RT_CBLAS_NO_TRANS,                             \
			     p->tb ? RT_CBLAS_TRANS : RT_CBLAS_NO_TRANS, (int)m, (int)n, (int)k, \
			     alpha, a, (int)k, b, p->tb ? (int)k : (int)n, beta, c, (int)n);    \
		} else {                                                                        \
			for (size_t i = 0; i < m; i++)                                          \
				for (size_t j = 0; j < n; j++) {                                \
					T s = 0;                                                \
					for (size_t l = 0; l < k; l++)                          \
						s += a[i * k + l] *                             \
						     (p->tb ? b[j * k + l] : b[l * n + j]);     \
					c[i * n + j] = beta == 0 ? alpha * s                    \
								 : beta * c[i * n + j] + alpha * s; \
				}                                                               \
		}                                                                               \
		const size_t cnt = m * n;                                                       \
		if (p->post == POST_NONE || (!p->bf16 && p->post == POST_ROUND))                \
			return;                                                                 \
		if (p->post == POST_ROUND) {                                                    \
			_Pragma("omp simd")                                                     \
			for (size_t i = 0; i < cnt; i++)                                        \
				c[i] = ROUND(c[i]);                                             \
			return;                                                                 \
		}                                                                               \
		const T coef = (T)p->coef, *s = (const T *)p->s + r0 * n;                       \
		if (p->bf16) {                                                                  \
			_Pragma("omp simd")                                                     \
			for (size_t i = 0; i < cnt; i++)                                        \
				c[i] = ROUND(ROUND(coef * s[i]) + ROUND(c[i]));                 \
		} else {                                                                        \
			_Pragma("omp simd")                                                     \
			for (size_t i = 0; i < cnt; i++)                                        \
				c[i] = coef * s[i] + c[i];                                      \
		}                                                                               \
	}

#define NO_ROUND(x) (x)
DEFINE_PROD_ROWS(prod_rows_f, float, cblas_sgemm, bf16r)
DEFINE_PROD_ROWS(prod_rows_d, double, cblas_dgemm, NO_ROUND)

/* Product p by the team: each thread its rows, then a barrier. */
static void prod(const struct prod *p, int fast, int dbl)
{
	size_t r0, r1;
	my_rows(p->m, &r0, &r1);
	if (dbl)
		prod_rows_d(p, fast, r0, r1);
	else
		prod_rows_f(p, fast, r0, r1);
#pragma omp barrier
}

/* --- the iteration --------------------------------------------------------- */

/* ||x||, summed in double by one thread (the same bits for every team). */
static double norm_of(const void *xv, size_t n, int dbl)
{
	double s = 0;
#pragma omp single copyprivate(s)
	{
		if (dbl) {
			const double *x = xv;
			for (size_t i = 0; i < n; i++)
				s += x[i] * x[i];
		} else {
			const float *x = xv;
			for (size_t i = 0; i < n; i++)
				s += (double)x[i] * (double)x[i];
		}
	}
	return sqrt(s);
}

/*
 * Newton-Schulz on x (m x n, m <= n); g (m*m), h (m*m) and y (m*n) are
 * scratch.  The result is in x or y: the returned one.  dbl: the
 * iteration runs in double (no bf16), otherwise in float.
 */
static void *ns(const struct rt_muon *mu, int fast, int dbl, void *x, size_t m, size_t n, void *g,
		void *h, void *y)
{
	const int bf = mu->bf16 && !dbl;
	const size_t nn = m * n;
	double nrm = norm_of(x, nn, dbl);
	if (dbl) {
		double d = nrm < mu->eps ? mu->eps : nrm, *xd = x;
#pragma omp for simd schedule(static)
		for (size_t i = 0; i < nn; i++)
			xd[i] = xd[i] / d;
	} else {
		float f = (float)nrm, eps = (float)mu->eps, *xf = x;
		if (bf) {
			f = bf16r(f);
			eps = bf16r(eps);
		}
		if (!(f != f) && f < eps)
			f = eps;
#pragma omp for simd schedule(static)
		for (size_t i = 0; i < nn; i++)
			xf[i] = bf ? bf16r(xf[i] / f) : xf[i] / f;
	}
	for (int it = 0; it < mu->ns_steps; it++) {
		/* G = X @ X.T */
		struct prod p = {.tb = 1, .m = m, .n = m, .k = n, .a = x, .b = x, .c = g, .alpha = 1,
				 .post = POST_ROUND, .bf16 = bf};
		prod(&p, fast, dbl);
		if (mu->use_addmm || dbl) {
			/* H = addmm(G, G, G, beta=b, alpha=c); Y = addmm(X, H, X, beta=a) */
			p = (struct prod){.m = m, .n = m, .k = m, .a = g, .b = g, .c = h, .alpha = mu->c,
					  .beta = mu->b, .pre = g, .post = POST_ROUND, .bf16 = bf};
			prod(&p, fast, dbl);
			p = (struct prod){.m = m, .n = n, .k = m, .a = h, .b = x, .c = y, .alpha = 1,
					  .beta = mu->a, .pre = x, .post = POST_ROUND, .bf16 = bf};
			prod(&p, fast, dbl);
		} else {
			/* cG = c*G (in y, m*m <= m*n); H = cG @ G, then b*G + H; Y = H @ X, then a*X + Y */
			float *cg = y, *gf = g;
			const float c = (float)mu->c;
#pragma omp for simd schedule(static)
			for (size_t i = 0; i < m * m; i++)
				cg[i] = bf ? bf16r(c * gf[i]) : c * gf[i];
			p = (struct prod){.m = m, .n = m, .k = m, .a = cg, .b = g, .c = h, .alpha = 1,
					  .post = POST_ADD_SCALED, .coef = mu->b, .s = g, .bf16 = bf};
			prod(&p, fast, dbl);
			p = (struct prod){.m = m, .n = n, .k = m, .a = h, .b = x, .c = y, .alpha = 1,
					  .post = POST_ADD_SCALED, .coef = mu->a, .s = x, .bf16 = bf};
			prod(&p, fast, dbl);
		}
		void *t = x;                    /* the new X is Y */
		x = y;
		y = t;
	}
	return x;
}

/* torch's _adjust_lr. */
static double adjusted_lr(const struct rt_muon *mu)
{
	double A = (double)mu->rows, B = (double)mu->cols;
	if (mu->adjust == FTSRT_MUON_ADJUST_MATCH_RMS_ADAMW)
		return mu->lr * (0.2 * sqrt(A > B ? A : B));
	double r = A / B;
	return mu->lr * sqrt(r > 1 ? r : 1);
}

/* buf = lerp(buf, g, 1 - momentum); the update (Nesterov: lerp(g, buf,
 * momentum)) into upd.  Elementwise: the team splits it. */
#define MUON_BODY(T, FMA)                                                                     \
	T *buf = mu->buf;                                                                     \
	const T *g = gv;                                                                      \
	const T w1 = (T)(1 - mu->momentum), w2 = (T)mu->momentum;                             \
	const int nest = mu->nesterov;                                                        \
	_Pragma("omp for simd schedule(static)")                                              \
	for (size_t i = 0; i < nn; i++) {                                                     \
		T bi = buf[i];                                                                \
		bi = (w1 < (T)0.5) ? FMA(w1, g[i] - bi, bi) : FMA(w1 - (T)1, g[i] - bi, g[i]); \
		buf[i] = bi;                                                                  \
		T u = bi;                                                                     \
		if (nest)                                                                     \
			u = (w2 < (T)0.5) ? FMA(w2, bi - g[i], g[i])                          \
					  : FMA(w2 - (T)1, bi - g[i], bi);                    \
		upd[i] = u;                                                                   \
	}

/*
 * Muon step of the rows x cols tensor p with gradient g; see struct rt_muon.
 * Returns FTSRT_OK or FTSRT_ENOMEM (scratch matrices).
 */
size_t rt_muon_scratch_bytes(int dt, size_t rows, size_t cols)
{
	size_t nn = rows * cols, m = rows > cols ? cols : rows;
	size_t es = dt == FTSRT_F64 ? sizeof(double) : sizeof(float);  /* the iteration's, at most */
	return (nn * es + 63) / 64 * 64 + 2 * ((nn * es + 63) / 64 * 64) +
	       2 * ((m * m * es + 63) / 64 * 64);
}

/* Edge of the square tiles of the transposing passes. */
#define TILE 32

/* The step's body, run by every thread of the team (or alone). */
static void step_body(int dt, int fast, void *pv, const void *gv, const struct rt_muon *mu)
{
	const size_t R = (size_t)mu->rows, C = (size_t)mu->cols, nn = R * C;
	const int tr = R > C;
	const size_t m = tr ? C : R, n = tr ? R : C;
	const int dbl = dt == FTSRT_F64 && !mu->bf16;
	const size_t es = dbl ? sizeof(double) : sizeof(float);
	/* the caller's scratch (rt_muon_scratch_bytes): the update, then the matrices */
	void *updv = mu->scratch;
	const size_t outb = (nn * (dt == FTSRT_F64 ? sizeof(double) : sizeof(float)) + 63) / 64 * 64;
	const size_t xb = (nn * es + 63) / 64 * 64, gb = (m * m * es + 63) / 64 * 64;
	char *scratch = (char *)mu->scratch + outb;
	void *x = scratch, *y = scratch + xb, *gm = scratch + 2 * xb, *hm = scratch + 2 * xb + gb;
	if (dt == FTSRT_F64) {
		double *upd = updv;
		MUON_BODY(double, fma)
	} else {
		float *upd = updv;
		MUON_BODY(float, fmaf)
	}
	/* X = update (transposed when rows > cols), in the iteration's type:
	 * tiles of the R x C update */
	const size_t tr_r = (R + TILE - 1) / TILE, tr_c = (C + TILE - 1) / TILE;
#pragma omp for schedule(static)
	for (size_t t = 0; t < tr_r * tr_c; t++) {
		const size_t r0 = t / tr_c * TILE, c0 = t % tr_c * TILE;
		const size_t r1 = r0 + TILE < R ? r0 + TILE : R, c1 = c0 + TILE < C ? c0 + TILE : C;
		for (size_t r = r0; r < r1; r++)
			for (size_t c = c0; c < c1; c++) {
				size_t src = r * C + c, dst = tr ? c * R + r : src;
				if (dbl) {
					((double *)x)[dst] = ((const double *)updv)[src];
				} else {
					float v = dt == FTSRT_F64 ? (float)((const double *)updv)[src]
								  : ((const float *)updv)[src];
					((float *)x)[dst] = mu->bf16 ? bf16r(v) : v;
				}
			}
	}
	x = ns(mu, fast, dbl, x, m, n, gm, hm, y);
	const double dec = 1 - mu->lr * mu->wd, adj = adjusted_lr(mu);
#pragma omp for schedule(static)
	for (size_t t = 0; t < tr_r * tr_c; t++) {
		const size_t r0 = t / tr_c * TILE, c0 = t % tr_c * TILE;
		const size_t r1 = r0 + TILE < R ? r0 + TILE : R, c1 = c0 + TILE < C ? c0 + TILE : C;
		for (size_t r = r0; r < r1; r++)
			for (size_t c = c0; c < c1; c++) {
				size_t i = r * C + c, src = tr ? c * R + r : i;
				if (dt == FTSRT_F64) {
					double *p = pv;
					double u = dbl ? ((double *)x)[src] : (double)((float *)x)[src];
					p[i] = p[i] * dec;
					p[i] = fma(-adj, u, p[i]);
				} else {
					float *p = pv;
					p[i] = p[i] * (float)dec;
					p[i] = fmaf((float)(-adj), ((float *)x)[src], p[i]);
				}
			}
	}
}

/* Elements below which a tensor's step runs on one thread: the team's
 * barriers would cost more than they save. */
#define MUON_TEAM_MIN ((size_t)1 << 14)

int rt_muon_step(int dt, int fast, void *pv, const void *gv, const struct rt_muon *mu)
{
	const size_t nn = (size_t)mu->rows * (size_t)mu->cols;
	if (nn == 0)
		return FTSRT_OK;
	if (!fast) {
		step_body(dt, 0, pv, gv, mu);
		return FTSRT_OK;
	}
	/* a process without OpenBLAS (ftsc): the same team, plain loops for
	 * the products; the team of one thread, too, is a team of its own
	 * (not the caller's: tensors side by side run inside a parallel
	 * region, which step_body's orphaned constructs must not bind to) */
	const int blas = rt_blas_linked();
	int nthr = mu->threads > 1 && nn >= MUON_TEAM_MIN ? mu->threads : 1;
	if (blas) {
		rt_blas_setup();
		rt_blas_single_begin();
	}
	(void)nthr;
#pragma omp parallel num_threads(nthr) if (nthr > 1)
	step_body(dt, blas, pv, gv, mu);
	if (blas)
		rt_blas_single_end();
	return FTSRT_OK;
}
