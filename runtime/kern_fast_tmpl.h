/*
 * kern_fast_tmpl.h - body of the fused optimizer kernels, included by
 * kern_fast.c (through kern_inst.h) once per element type with T, SFX,
 * SQRT and FMA defined.  Not a header of its own: no include guard.
 *
 * One pass: each array is read once and written once per element.  The
 * scalars are converted to T once, outside the loop.  Flags that change
 * which arrays are touched are specialised into separate loops (constant
 * arguments of always-inline bodies), so every loop is branch-free and
 * vectorises; the arithmetic is the reference kernels', operation for
 * operation, with FMA exactly where the reference (and torch) fuses
 * (ISO C: no other contraction), so results are bit-identical to
 * kern_ref.c.  The baseline clone has no FMA instruction: there fmaf is a
 * libm call, correct but slow.  Each entry point is cloned for x86-64-v4, -v3 and the
 * baseline and picked at load time.
 */

#define FCAT2(a, b) a##_##b
#define FCAT(a, b) FCAT2(a, b)
#define F(name) FCAT(name, SFX)

static inline __attribute__((always_inline)) T F(flerp)(T self, T end, T w, T omw, int small)
{
	return small ? FMA(w, end - self, self) : FMA(omw, end - self, end);
}

static inline __attribute__((always_inline)) T F(fmaximum)(T a, T b)
{
	T r = a > b ? a : b;
	r = (b != b) ? b : r;
	return (a != a) ? a : r;
}

/* torch.sign: 1, -1, or 0 for zeros and NaN; two selects, which GCC
 * if-converts in a loop (a difference of two selects kept Rprop's loop
 * scalar) */
static inline __attribute__((always_inline)) T F(fsign)(T a)
{
	T s = a > (T)0 ? (T)1 : (T)0;
	return a < (T)0 ? (T)-1 : s;
}

/* --- SGD ------------------------------------------------------------- */
static inline __attribute__((always_inline)) void
F(sgd_loop)(T *restrict p, const T *restrict g, T *restrict buf, const struct rt_kscal *k,
	    size_t b, size_t e, const int wd, const int mom, const int first, const int nest)
{
	const T sg = (k->flags & RT_K_MAXIMIZE) ? (T)-1 : (T)1;
	const T cwd = (T)k->c[1], cm = (T)k->c[2], cd = (T)k->c[3], nlr = (T)(-k->c[0]);
#pragma omp simd
	for (size_t i = b; i < e; i++) {
		T grad = sg * g[i];
		T pi = p[i];
		if (wd)
			grad = FMA(cwd, pi, grad);
		if (mom) {
			T bi = first ? grad : FMA(cd, grad, buf[i] * cm);
			buf[i] = bi;
			grad = nest ? FMA(cm, bi, grad) : bi;
		}
		p[i] = FMA(nlr, grad, pi);
	}
}

static TC void F(fast_sgd)(const struct rt_kargs *a, size_t b, size_t e)
{
	unsigned f = a->k->flags;
	int wd = !!(f & RT_K_WD), mom = !!(f & RT_K_MOMENTUM), first = !!(f & RT_K_FIRST),
	    nest = !!(f & RT_K_NESTEROV);
	T *p = a->p, *buf = a->s[0];
	const T *g = a->g;
#define SGD_CASE(W, M, FI, N) \
	if (wd == W && mom == M && first == FI && nest == N) { \
		F(sgd_loop)(p, g, buf, a->k, b, e, W, M, FI, N); \
		return; \
	}
	SGD_CASE(0, 0, 0, 0) SGD_CASE(1, 0, 0, 0)
	SGD_CASE(0, 1, 0, 0) SGD_CASE(1, 1, 0, 0) SGD_CASE(0, 1, 1, 0) SGD_CASE(1, 1, 1, 0)
	SGD_CASE(0, 1, 0, 1) SGD_CASE(1, 1, 0, 1) SGD_CASE(0, 1, 1, 1) SGD_CASE(1, 1, 1, 1)
#undef SGD_CASE
}

/* --- Adam / AdamW ------------------------------------------------------ */
static inline __attribute__((always_inline)) void
F(adam_loop)(T *restrict p, const T *restrict g, T *restrict m, T *restrict v, T *restrict vmax,
	     const struct rt_kscal *k, size_t b, size_t e, const int l2, const int ams)
{
	const T sg = (k->flags & RT_K_MAXIMIZE) ? (T)-1 : (T)1;
	const T cwd = (T)k->c[0];
	const T pdec = (k->flags & RT_K_DECOUPLED) ? (T)k->c[1] : (T)1;
	const T w1 = (T)k->c[2], omw1 = w1 - (T)1;
	const int small = w1 < (T)0.5 && w1 > (T)-0.5;
	const T b2 = (T)k->c[3], c2 = (T)k->c[4], bc2s = (T)k->c[5], eps = (T)k->c[6];
	const T nss = (T)k->c[7];
#pragma omp simd
	for (size_t i = b; i < e; i++) {
		T grad = sg * g[i];
		T pi = p[i] * pdec;
		if (l2)
			grad = FMA(cwd, pi, grad);
		T mi = F(flerp)(m[i], grad, w1, omw1, small);
		T vi = v[i] * b2;
		vi = vi + c2 * grad * grad;
		m[i] = mi;
		v[i] = vi;
		T denom;
		if (ams) {
			T x = F(fmaximum)(vmax[i], vi);
			vmax[i] = x;
			denom = SQRT(x) / bc2s;
		} else {
			denom = SQRT(vi) / bc2s;
		}
		denom = denom + eps;
		p[i] = pi + nss * mi / denom;
	}
}

static TC void F(fast_adam)(const struct rt_kargs *a, size_t b, size_t e)
{
	unsigned f = a->k->flags;
	int l2 = (f & RT_K_WD) && !(f & RT_K_DECOUPLED), ams = !!(f & RT_K_AMSGRAD);
	T *p = a->p, *m = a->s[0], *v = a->s[1], *vm = a->s[2];
	const T *g = a->g;
	if (!l2 && !ams)
		F(adam_loop)(p, g, m, v, vm, a->k, b, e, 0, 0);
	else if (l2 && !ams)
		F(adam_loop)(p, g, m, v, vm, a->k, b, e, 1, 0);
	else if (!l2)
		F(adam_loop)(p, g, m, v, vm, a->k, b, e, 0, 1);
	else
		F(adam_loop)(p, g, m, v, vm, a->k, b, e, 1, 1);
}

/* --- Adagrad ------------------------------------------------------------ */
static inline __attribute__((always_inline)) void
F(adagrad_loop)(T *restrict p, const T *restrict g, T *restrict s, const struct rt_kscal *k,
		size_t b, size_t e, const int l2)
{
	const T sg = (k->flags & RT_K_MAXIMIZE) ? (T)-1 : (T)1;
	const T cwd = (T)k->c[0], nclr = (T)k->c[1], eps = (T)k->c[2];
#pragma omp simd
	for (size_t i = b; i < e; i++) {
		T grad = sg * g[i];
		T pi = p[i];
		if (l2)
			grad = FMA(cwd, pi, grad);
		T si = s[i] + (T)1 * grad * grad;
		s[i] = si;
		T std = SQRT(si) + eps;
		p[i] = pi + nclr * grad / std;
	}
}

static TC void F(fast_adagrad)(const struct rt_kargs *a, size_t b, size_t e)
{
	if (a->k->flags & RT_K_WD)
		F(adagrad_loop)(a->p, a->g, a->s[0], a->k, b, e, 1);
	else
		F(adagrad_loop)(a->p, a->g, a->s[0], a->k, b, e, 0);
}

/* --- Adadelta ----------------------------------------------------------- */
static inline __attribute__((always_inline)) void
F(adadelta_loop)(T *restrict p, const T *restrict g, T *restrict sq, T *restrict acc,
		 const struct rt_kscal *k, size_t b, size_t e, const int l2)
{
	const T sg = (k->flags & RT_K_MAXIMIZE) ? (T)-1 : (T)1;
	const T cwd = (T)k->c[0], rho = (T)k->c[1], orho = (T)k->c[2], eps = (T)k->c[3];
	const T nlr = (T)k->c[4];
#pragma omp simd
	for (size_t i = b; i < e; i++) {
		T grad = sg * g[i];
		T pi = p[i];
		if (l2)
			grad = FMA(cwd, pi, grad);
		T si = sq[i] * rho;
		si = si + orho * grad * grad;
		sq[i] = si;
		T std = SQRT(si + eps);
		T ai = acc[i];
		T delta = SQRT(ai + eps);
		delta = delta / std;
		delta = delta * grad;
		ai = ai * rho;
		acc[i] = ai + orho * delta * delta;
		p[i] = FMA(nlr, delta, pi);
	}
}

static TC void F(fast_adadelta)(const struct rt_kargs *a, size_t b, size_t e)
{
	if (a->k->flags & RT_K_WD)
		F(adadelta_loop)(a->p, a->g, a->s[0], a->s[1], a->k, b, e, 1);
	else
		F(adadelta_loop)(a->p, a->g, a->s[0], a->s[1], a->k, b, e, 0);
}

/* --- Adamax --------------------------------------------------------------- */
static inline __attribute__((always_inline)) void
F(adamax_loop)(T *restrict p, const T *restrict g, T *restrict m, T *restrict u,
	       const struct rt_kscal *k, size_t b, size_t e, const int l2)
{
	const T sg = (k->flags & RT_K_MAXIMIZE) ? (T)-1 : (T)1;
	const T cwd = (T)k->c[0], w1 = (T)k->c[1], omw1 = w1 - (T)1, b2 = (T)k->c[2];
	const T eps = (T)k->c[3], nclr = (T)k->c[4];
	const int small = w1 < (T)0.5 && w1 > (T)-0.5;
#pragma omp simd
	for (size_t i = b; i < e; i++) {
		T grad = sg * g[i];
		T pi = p[i];
		if (l2)
			grad = FMA(cwd, pi, grad);
		T mi = F(flerp)(m[i], grad, w1, omw1, small);
		m[i] = mi;
		T ag = (grad < (T)0 ? -grad : grad) + eps;
		T ui = F(fmaximum)(u[i] * b2, ag);
		u[i] = ui;
		p[i] = pi + nclr * mi / ui;
	}
}

static TC void F(fast_adamax)(const struct rt_kargs *a, size_t b, size_t e)
{
	if (a->k->flags & RT_K_WD)
		F(adamax_loop)(a->p, a->g, a->s[0], a->s[1], a->k, b, e, 1);
	else
		F(adamax_loop)(a->p, a->g, a->s[0], a->s[1], a->k, b, e, 0);
}

/* --- NAdam ---------------------------------------------------------------- */
static inline __attribute__((always_inline)) void
F(nadam_loop)(T *restrict p, const T *restrict g, T *restrict m, T *restrict v,
	      const struct rt_kscal *k, size_t b, size_t e, const int l2)
{
	const T sg = (k->flags & RT_K_MAXIMIZE) ? (T)-1 : (T)1;
	const T cwd = (T)k->c[0];
	const T pdec = (k->flags & RT_K_DECOUPLED) ? (T)k->c[1] : (T)1;
	const T w1 = (T)k->c[2], omw1 = w1 - (T)1, b2 = (T)k->c[3], c2 = (T)k->c[4];
	const T bc2 = (T)k->c[5], eps = (T)k->c[6], v1 = (T)k->c[7], v2 = (T)k->c[8];
	const int small = w1 < (T)0.5 && w1 > (T)-0.5;
#pragma omp simd
	for (size_t i = b; i < e; i++) {
		T grad = sg * g[i];
		T pi = p[i] * pdec;
		if (l2)
			grad = FMA(cwd, pi, grad);
		T mi = F(flerp)(m[i], grad, w1, omw1, small);
		T vi = v[i] * b2;
		vi = vi + c2 * grad * grad;
		m[i] = mi;
		v[i] = vi;
		T denom = SQRT(vi / bc2) + eps;
		pi = pi + v1 * grad / denom;
		p[i] = pi + v2 * mi / denom;
	}
}

static TC void F(fast_nadam)(const struct rt_kargs *a, size_t b, size_t e)
{
	unsigned f = a->k->flags;
	if ((f & RT_K_WD) && !(f & RT_K_DECOUPLED))
		F(nadam_loop)(a->p, a->g, a->s[0], a->s[1], a->k, b, e, 1);
	else
		F(nadam_loop)(a->p, a->g, a->s[0], a->s[1], a->k, b, e, 0);
}

/* --- RAdam ---------------------------------------------------------------- */
static inline __attribute__((always_inline)) void
F(radam_loop)(T *restrict p, const T *restrict g, T *restrict m, T *restrict v,
	      const struct rt_kscal *k, size_t b, size_t e, const int l2, const int rect)
{
	const T sg = (k->flags & RT_K_MAXIMIZE) ? (T)-1 : (T)1;
	const T cwd = (T)k->c[0];
	const T pdec = (k->flags & RT_K_DECOUPLED) ? (T)k->c[1] : (T)1;
	const T w1 = (T)k->c[2], omw1 = w1 - (T)1, b2 = (T)k->c[3], c2 = (T)k->c[4];
	const T bc1 = (T)k->c[5], lr = (T)k->c[6], bc2s = (T)k->c[7], eps = (T)k->c[8];
	const T rc = (T)k->c[9];
	const int small = w1 < (T)0.5 && w1 > (T)-0.5;
#pragma omp simd
	for (size_t i = b; i < e; i++) {
		T grad = sg * g[i];
		T pi = p[i] * pdec;
		if (l2)
			grad = FMA(cwd, pi, grad);
		T mi = F(flerp)(m[i], grad, w1, omw1, small);
		T vi = v[i] * b2;
		vi = vi + c2 * grad * grad;
		m[i] = mi;
		v[i] = vi;
		T upd = mi / bc1;
		upd = upd * lr;
		if (rect) {
			T adaptive = ((T)1 / (SQRT(vi) + eps)) * bc2s;
			upd = upd * adaptive;
			upd = upd * rc;
		}
		p[i] = FMA((T)-1, upd, pi);
	}
}

static TC void F(fast_radam)(const struct rt_kargs *a, size_t b, size_t e)
{
	unsigned f = a->k->flags;
	int l2 = (f & RT_K_WD) && !(f & RT_K_DECOUPLED), rect = !!(f & RT_K_RECT);
	T *p = a->p, *m = a->s[0], *v = a->s[1];
	const T *g = a->g;
	if (l2 && rect)
		F(radam_loop)(p, g, m, v, a->k, b, e, 1, 1);
	else if (l2)
		F(radam_loop)(p, g, m, v, a->k, b, e, 1, 0);
	else if (rect)
		F(radam_loop)(p, g, m, v, a->k, b, e, 0, 1);
	else
		F(radam_loop)(p, g, m, v, a->k, b, e, 0, 0);
}

/* --- RMSprop ---------------------------------------------------------------- */
static inline __attribute__((always_inline)) void
F(rmsprop_loop)(T *restrict p, const T *restrict g, T *restrict sq, T *restrict buf,
		T *restrict ga, const struct rt_kscal *k, size_t b, size_t e, const int l2,
		const int centered, const int mom)
{
	const T sg = (k->flags & RT_K_MAXIMIZE) ? (T)-1 : (T)1;
	const T cwd = (T)k->c[0], al = (T)k->c[1], oal = (T)k->c[2], eps = (T)k->c[3];
	const T cm = (T)k->c[4], nlr = (T)k->c[5], omw = oal - (T)1;
	const int small = oal < (T)0.5 && oal > (T)-0.5;
#pragma omp simd
	for (size_t i = b; i < e; i++) {
		T grad = sg * g[i];
		T pi = p[i];
		if (l2)
			grad = FMA(cwd, pi, grad);
		T si = sq[i] * al;
		si = si + oal * grad * grad;
		sq[i] = si;
		T avg;
		if (centered) {
			T gi = F(flerp)(ga[i], grad, oal, omw, small);
			ga[i] = gi;
			avg = SQRT(si + (T)-1 * gi * gi);
		} else {
			avg = SQRT(si);
		}
		avg = avg + eps;
		if (mom) {
			T bi = buf[i] * cm;
			bi = bi + (T)1 * grad / avg;
			buf[i] = bi;
			p[i] = FMA(nlr, bi, pi);
		} else {
			p[i] = pi + nlr * grad / avg;
		}
	}
}

static TC void F(fast_rmsprop)(const struct rt_kargs *a, size_t b, size_t e)
{
	unsigned f = a->k->flags;
	int l2 = !!(f & RT_K_WD), c = !!(f & RT_K_CENTERED), mo = !!(f & RT_K_MOMENTUM);
	T *p = a->p, *sq = a->s[0], *buf = a->s[1], *ga = a->s[2];
	const T *g = a->g;
#define RMS_CASE(L, C, M) \
	if (l2 == L && c == C && mo == M) { \
		F(rmsprop_loop)(p, g, sq, buf, ga, a->k, b, e, L, C, M); \
		return; \
	}
	RMS_CASE(0, 0, 0) RMS_CASE(1, 0, 0) RMS_CASE(0, 1, 0) RMS_CASE(1, 1, 0)
	RMS_CASE(0, 0, 1) RMS_CASE(1, 0, 1) RMS_CASE(0, 1, 1) RMS_CASE(1, 1, 1)
#undef RMS_CASE
}

/* --- Rprop ---------------------------------------------------------------- */
static TC void F(fast_rprop)(const struct rt_kargs *a, size_t b, size_t e)
{
	T *restrict p = a->p, *restrict prev = a->s[0], *restrict ss = a->s[1];
	const T *restrict g = a->g;
	const struct rt_kscal *k = a->k;
	const T sg = (k->flags & RT_K_MAXIMIZE) ? (T)-1 : (T)1;
	const T em = (T)k->c[0], ep = (T)k->c[1], lo = (T)k->c[2], hi = (T)k->c[3];
#pragma omp simd
	for (size_t i = b; i < e; i++) {
		T grad = sg * g[i];
		T pr = grad * prev[i];
		T factor = pr > (T)0 ? ep : (pr < (T)0 ? em : (T)1);
		T s = ss[i] * factor;
		T c = s < lo ? lo : s;
		c = c > hi ? hi : c;
		c = (s != s) ? s : c;
		ss[i] = c;
		grad = (factor == em) ? (T)0 : grad;
		p[i] = p[i] - F(fsign)(grad) * c;       /* = p + (-1 * sign) * c, exactly */
		prev[i] = grad;
	}
}

/* --- ASGD ----------------------------------------------------------------- */
static inline __attribute__((always_inline)) void
F(asgd_loop)(T *restrict p, const T *restrict g, T *restrict ax, const struct rt_kscal *k,
	     size_t b, size_t e, const int l2, const int one)
{
	const T sg = (k->flags & RT_K_MAXIMIZE) ? (T)-1 : (T)1;
	const T cwd = (T)k->c[0], dec = (T)k->c[1], neta = (T)k->c[2], mu = (T)k->c[3];
#pragma omp simd
	for (size_t i = b; i < e; i++) {
		T grad = sg * g[i];
		T pi = p[i];
		if (l2)
			grad = FMA(cwd, pi, grad);
		pi = pi * dec;
		pi = FMA(neta, grad, pi);
		p[i] = pi;
		ax[i] = one ? pi : ax[i] + (pi - ax[i]) * mu;
	}
}

static TC void F(fast_asgd)(const struct rt_kargs *a, size_t b, size_t e)
{
	unsigned f = a->k->flags;
	int l2 = !!(f & RT_K_WD), one = !!(f & RT_K_MU_ONE);
	if (l2 && one)
		F(asgd_loop)(a->p, a->g, a->s[0], a->k, b, e, 1, 1);
	else if (l2)
		F(asgd_loop)(a->p, a->g, a->s[0], a->k, b, e, 1, 0);
	else if (one)
		F(asgd_loop)(a->p, a->g, a->s[0], a->k, b, e, 0, 1);
	else
		F(asgd_loop)(a->p, a->g, a->s[0], a->k, b, e, 0, 0);
}

#undef F
#undef FCAT
#undef FCAT2
