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
 * The fast path uses OpenBLAS cblas_sgemm/cblas_dgemm, the reference path
 * plain loops.
 */
#include "optim_int.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/*
 * OpenBLAS's CBLAS gemm entry points (libopenblas, LP64 build: int indices).
 * Declared here rather than through <cblas.h>: that header includes
 * <sched.h>, which on the runtime's include path (-Iruntime) resolves to
 * runtime/sched.h, the LR schedulers, and not the system header.
 */
enum { RT_CBLAS_ROW_MAJOR = 101, RT_CBLAS_NO_TRANS = 111, RT_CBLAS_TRANS = 112 };
void cblas_sgemm(int order, int ta, int tb, int m, int n, int k, float alpha, const float *a,
		 int lda, const float *b, int ldb, float beta, float *c, int ldc);
void cblas_dgemm(int order, int ta, int tb, int m, int n, int k, double alpha, const double *a,
		 int lda, const double *b, int ldb, double beta, double *c, int ldc);

/* Round a float to bfloat16 precision, ties to even (c10::BFloat16). */
float rt_bf16_round(float x)
{
	uint32_t u;
	memcpy(&u, &x, sizeof(u));
	if ((u & 0x7fffffffu) > 0x7f800000u) {  /* NaN: keep it quiet */
		u |= 0x00400000u;
		u &= 0xffff0000u;
	} else {
		u += 0x7fffu + ((u >> 16) & 1u);
		u &= 0xffff0000u;
	}
	memcpy(&x, &u, sizeof(x));
	return x;
}

/*
 * C[m x n] = alpha * A[m x k] * op(B) + beta * C; tb: B is given n x k.
 * fast: OpenBLAS's gemm (blas, the element type's); otherwise plain loops,
 * accumulating in T.  One body for float (gemm_f) and double (gemm_d).
 */
#define DEFINE_GEMM(name, T, blas)                                                              \
	static void name(int fast, int tb, size_t m, size_t n, size_t k, T alpha, const T *a,   \
			 const T *b, T beta, T *c)                                              \
	{                                                                                       \
		if (fast) {                                                                     \
			blas(RT_CBLAS_ROW_MAJOR, RT_CBLAS_NO_TRANS,                             \
			     tb ? RT_CBLAS_TRANS : RT_CBLAS_NO_TRANS, (int)m, (int)n, (int)k,   \
			     alpha, a, (int)k, b, tb ? (int)k : (int)n, beta, c, (int)n);       \
			return;                                                                 \
		}                                                                               \
		for (size_t i = 0; i < m; i++)                                                  \
			for (size_t j = 0; j < n; j++) {                                        \
				T s = 0;                                                        \
				for (size_t l = 0; l < k; l++)                                  \
					s += a[i * k + l] * (tb ? b[j * k + l] : b[l * n + j]); \
				c[i * n + j] = beta == 0 ? alpha * s                            \
							 : beta * c[i * n + j] + alpha * s;     \
			}                                                                       \
	}

DEFINE_GEMM(gemm_f, float, cblas_sgemm)
DEFINE_GEMM(gemm_d, double, cblas_dgemm)

/* --- float iteration (fp32 or bf16-emulating) ----------------------------- */

static void round_f(float *x, size_t n, int bf16)
{
	if (!bf16)
		return;
	for (size_t i = 0; i < n; i++)
		x[i] = rt_bf16_round(x[i]);
}

/* y = coef * x + y as torch's two tensor ops: the product is rounded, then
 * the sum (with bf16 set, each to bfloat16). */
static void add_scaled_f(float *y, float coef, const float *x, size_t n, int bf16)
{
	for (size_t i = 0; i < n; i++) {
		float t = coef * x[i];
		if (bf16)
			t = rt_bf16_round(t);
		y[i] = t + y[i];
	}
	round_f(y, n, bf16);
}

/*
 * Newton-Schulz on x (m x n, m <= n), in place; g (m*m), h (m*m) and y
 * (m*n) are scratch.
 */
static void ns_f(const struct rt_muon *mu, int fast, float *x, size_t m, size_t n, float *g,
		 float *h, float *y)
{
	const int bf = mu->bf16;
	const float a = (float)mu->a, b = (float)mu->b, c = (float)mu->c;
	double s = 0;
	for (size_t i = 0; i < m * n; i++)
		s += (double)x[i] * (double)x[i];
	float nrm = (float)sqrt(s);
	if (bf)
		nrm = rt_bf16_round(nrm);
	float eps = bf ? rt_bf16_round((float)mu->eps) : (float)mu->eps;
	if (!(nrm != nrm) && nrm < eps)
		nrm = eps;
	for (size_t i = 0; i < m * n; i++)
		x[i] = x[i] / nrm;
	round_f(x, m * n, bf);
	for (int it = 0; it < mu->ns_steps; it++) {
		gemm_f(fast, 1, m, m, n, 1.0f, x, x, 0.0f, g);              /* X @ X.T */
		round_f(g, m * m, bf);
		if (mu->use_addmm) {
			memcpy(h, g, m * m * sizeof(*h));                    /* addmm(G, G, G, b, c) */
			gemm_f(fast, 0, m, m, m, c, g, g, b, h);
			round_f(h, m * m, bf);
			memcpy(y, x, m * n * sizeof(*y));                    /* addmm(X, H, X, a) */
			gemm_f(fast, 0, m, n, m, 1.0f, h, x, a, y);
			round_f(y, m * n, bf);
		} else {
			float *cg = y;                                       /* y as scratch (m*m <= m*n) */
			for (size_t i = 0; i < m * m; i++)
				cg[i] = c * g[i];
			round_f(cg, m * m, bf);
			gemm_f(fast, 0, m, m, m, 1.0f, cg, g, 0.0f, h);      /* (c*G) @ G */
			round_f(h, m * m, bf);
			add_scaled_f(h, b, g, m * m, bf);                    /* H = b*G + that */
			gemm_f(fast, 0, m, n, m, 1.0f, h, x, 0.0f, y);       /* H @ X */
			round_f(y, m * n, bf);
			add_scaled_f(y, a, x, m * n, bf);                    /* a*X + that */
		}
		memcpy(x, y, m * n * sizeof(*x));
	}
}

/* --- double iteration (fp64 without bf16) --------------------------------- */

static void ns_d(const struct rt_muon *mu, int fast, double *x, size_t m, size_t n, double *g,
		 double *h, double *y)
{
	double s = 0;
	for (size_t i = 0; i < m * n; i++)
		s += x[i] * x[i];
	double nrm = sqrt(s);
	if (nrm < mu->eps)
		nrm = mu->eps;
	for (size_t i = 0; i < m * n; i++)
		x[i] = x[i] / nrm;
	for (int it = 0; it < mu->ns_steps; it++) {
		gemm_d(fast, 1, m, m, n, 1.0, x, x, 0.0, g);
		memcpy(h, g, m * m * sizeof(*h));
		gemm_d(fast, 0, m, m, m, mu->c, g, g, mu->b, h);
		memcpy(y, x, m * n * sizeof(*y));
		gemm_d(fast, 0, m, n, m, 1.0, h, x, mu->a, y);
		memcpy(x, y, m * n * sizeof(*x));
	}
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

#define MUON_BODY(T, FMA)                                                                          \
	T *buf = mu->buf;                                                                     \
	const T *g = gv;                                                                      \
	const T w1 = (T)(1 - mu->momentum), w2 = (T)mu->momentum;                             \
	for (size_t i = 0; i < nn; i++) {                                                     \
		T bi = buf[i];                                                                \
		bi = (w1 < (T)0.5) ? FMA(w1, g[i] - bi, bi) : FMA(w1 - (T)1, g[i] - bi, g[i]); \
		buf[i] = bi;                                                                  \
		T u = bi;                                                                     \
		if (mu->nesterov)                                                             \
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
	size_t out = (dt == FTSRT_F64 ? sizeof(double) : sizeof(float)) * nn;
	size_t it = dt == FTSRT_F64 ? sizeof(double) : sizeof(float);  /* the iteration's type, at most */
	return (out + 7) / 8 * 8 + (2 * nn + 2 * m * m) * (it > sizeof(float) ? it : sizeof(double));
}

int rt_muon_step(int dt, int fast, void *pv, const void *gv, const struct rt_muon *mu)
{
	const size_t R = (size_t)mu->rows, C = (size_t)mu->cols, nn = R * C;
	const int tr = R > C;
	const size_t m = tr ? C : R, n = tr ? R : C;
	const int in_double = dt == FTSRT_F64 && !mu->bf16;
	const size_t es = in_double ? sizeof(double) : sizeof(float);
	const double adj = adjusted_lr(mu);
	if (nn == 0)
		return FTSRT_OK;
	/* the caller's scratch (rt_muon_scratch_bytes): the update, then the matrices */
	void *updv = mu->scratch;
	size_t outb = (nn * (dt == FTSRT_F64 ? sizeof(double) : sizeof(float)) + 7) / 8 * 8;
	char *scratch = (char *)mu->scratch + outb;
	void *x = scratch, *y = scratch + nn * es, *gm = scratch + 2 * nn * es;
	void *hm = scratch + (2 * nn + m * m) * es;
	if (dt == FTSRT_F64) {
		double *upd = updv;
		MUON_BODY(double, fma)
	} else {
		float *upd = updv;
		MUON_BODY(float, fmaf)
	}
	/* X = update (transposed when rows > cols), in the iteration's type */
	for (size_t r = 0; r < R; r++)
		for (size_t c = 0; c < C; c++) {
			size_t src = r * C + c, dst = tr ? c * R + r : src;
			if (in_double) {
				((double *)x)[dst] = ((const double *)updv)[src];
			} else {
				float v = dt == FTSRT_F64 ? (float)((const double *)updv)[src]
							  : ((const float *)updv)[src];
				((float *)x)[dst] = mu->bf16 ? rt_bf16_round(v) : v;
			}
		}
	if (in_double)
		ns_d(mu, fast, x, m, n, gm, hm, y);
	else
		ns_f(mu, fast, x, m, n, gm, hm, y);
	const double dec = 1 - mu->lr * mu->wd;
	for (size_t r = 0; r < R; r++)
		for (size_t c = 0; c < C; c++) {
			size_t i = r * C + c, src = tr ? c * R + r : i;
			if (dt == FTSRT_F64) {
				double *p = pv;
				double u = in_double ? ((double *)x)[src] : (double)((float *)x)[src];
				p[i] = p[i] * dec;
				p[i] = fma(-adj, u, p[i]);
			} else {
				float *p = pv;
				p[i] = p[i] * (float)dec;
				p[i] = fmaf((float)(-adj), ((float *)x)[src], p[i]);
			}
		}
	return FTSRT_OK;
}
