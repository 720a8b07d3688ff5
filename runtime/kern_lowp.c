/*
 * kern_lowp.c - bfloat16 and float16 parameters (enum ftsrt_precision):
 * the conversions, torch.optim's arithmetic on bf16/fp16 tensors, and the
 * fp32-master-weights wrapper around the float32 kernels.
 *
 * FTSRT_PRECISION_PARAM (torch.optim on bf16/fp16 parameters, state in
 * the same dtype).  torch's CPU kernels compute a tensor op on bf16/fp16
 * operands in float and round the op's result to the dtype once; a Python
 * float scalar stays a float -- except add's: add(other, alpha=a) rounds a
 * to the dtype, and so does add(scalar) its scalar (ATen's add kernel takes
 * them as the tensor's scalar_t; torch 1.13 did so for every op's scalar).
 * The kernels below are kern_ref_tmpl.h's
 * elementwise optimizers with every torch op's result passed through rd()
 * (round to nearest even, NaN kept): one rounding where torch stores a
 * tensor, none inside an op.  They run on float copies of a chunk
 * (widening is exact; so is narrowing what rd() made).  Adafactor has
 * the reference's loops with the same roundings (adafactor_lowp); Muon is
 * refused in this precision (rt_lowp_supported).  The goldens
 * (tests/data/golden/lowp) are torch 1.13's optimizers where 1.13 computes
 * what 2.x does; NAdam (1.13's mu_product_next has an extra factor mu),
 * ASGD (1.13 rounds its decay 1 - lambd * eta), large RAdam steps (1.13
 * rounds its bias corrections) and Adafactor (not in 1.13) are checked
 * against 2.x's code emulated op by op on 1.13's float32 arithmetic
 * (gen.py's EMULATED).
 *
 * FTSRT_PRECISION_MASTER (mixed precision): the float32 kernels step the
 * float32 master weights and state with the gradients widened to float,
 * then the parameters are rounded from the master (one rounding).  Every
 * optimizer works this way (Adafactor and Muon: optim.c's step_tensorwise
 * widens a batch of tensors' gradients first).
 *
 * Speed: the kernels and conversions are inlined into rt_lowp_step with
 * the dtype a constant, and that entry is cloned for x86-64-v4, -v3 and the
 * baseline like kern_fast.c's (fmaf is an instruction only in the first
 * two).
 */
#include "optim_int.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

#define CHUNK 256                       /* elements converted at a time (stack buffers) */
#define INL static inline __attribute__((always_inline))

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(FTSRT_NO_CLONES)
#define TC __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define TC
#endif /* x86-64 gcc */

/* --- conversions ------------------------------------------------------------ */

INL float bf16_to_f(uint16_t h)
{
	uint32_t u = (uint32_t)h << 16;
	float x;
	memcpy(&x, &u, sizeof(x));
	return x;
}

/* round to nearest even, NaN kept quiet (rt_bf16_round's rule) */
INL uint16_t f_to_bf16(float x)
{
	uint32_t u;
	memcpy(&u, &x, sizeof(u));
	uint32_t r = (u + 0x7fffu + ((u >> 16) & 1u)) >> 16, q = (u | 0x00400000u) >> 16;
	return (uint16_t)((u & 0x7fffffffu) > 0x7f800000u ? q : r);   /* a select: vectorises */
}

#ifdef __FLT16_MAX__
/* The compiler's _Float16 (IEEE binary16, conversions round to nearest
 * even): F16C instructions in the x86-64-v3/-v4 clones, vectorised. */
INL float f16_to_f(uint16_t h)
{
	_Float16 x;
	memcpy(&x, &h, sizeof(x));
	return (float)x;
}

INL uint16_t f_to_f16(float x)
{
	_Float16 y = (_Float16)x;
	uint16_t h;
	memcpy(&h, &y, sizeof(h));
	return h;
}
#else /* no _Float16: by hand */
INL float f16_to_f(uint16_t h)
{
	uint32_t sign = (uint32_t)(h & 0x8000u) << 16, ex = (h >> 10) & 0x1fu, man = h & 0x3ffu, u;
	if (ex == 0x1f) {
		u = sign | 0x7f800000u | (man << 13);           /* Inf, NaN (payload kept) */
	} else if (ex == 0) {
		if (man == 0) {
			u = sign;
		} else {                                        /* subnormal: normalise */
			int e = -1;
			do {
				man <<= 1;
				e++;
			} while (!(man & 0x400u));
			u = sign | ((uint32_t)(127 - 15 - e) << 23) | ((man & 0x3ffu) << 13);
		}
	} else {
		u = sign | ((ex + 127 - 15) << 23) | (man << 13);
	}
	float x;
	memcpy(&x, &u, sizeof(x));
	return x;
}

/* float to binary16, round to nearest even; overflow gives Inf, NaN stays NaN. */
INL uint16_t f_to_f16(float x)
{
	uint32_t u;
	memcpy(&u, &x, sizeof(u));
	uint16_t sign = (uint16_t)((u >> 16) & 0x8000u);
	uint32_t a = u & 0x7fffffffu;
	if (a > 0x7f800000u)
		return (uint16_t)(sign | 0x7e00u | ((a >> 13) & 0x1ffu));
	if (a >= 0x477ff000u)                                   /* rounds to >= 65520: Inf */
		return (uint16_t)(sign | 0x7c00u);
	if (a < 0x38800000u) {                                  /* below 2^-14: subnormal or 0 */
		if (a < 0x33000000u)                            /* below 2^-25: rounds to 0 */
			return sign;
		uint32_t man = (a & 0x7fffffu) | 0x800000u;
		int shift = 126 - (int)(a >> 23);               /* 14..24 */
		uint32_t q = man >> shift, rem = man & ((1u << shift) - 1), half = 1u << (shift - 1);
		if (rem > half || (rem == half && (q & 1u)))
			q++;
		return (uint16_t)(sign | q);
	}
	uint32_t r = a - 0x38000000u;                           /* rebias 127 -> 15 */
	r += 0xfffu + ((r >> 13) & 1u);
	return (uint16_t)(sign | (r >> 13));
}
#endif /* __FLT16_MAX__ */

INL float to_f(const int dt, uint16_t h)
{
	return dt == FTSRT_F16 ? f16_to_f(h) : bf16_to_f(h);
}

INL uint16_t from_f(const int dt, float x)
{
	return dt == FTSRT_F16 ? f_to_f16(x) : f_to_bf16(x);
}

float rt_lowp_to_float(int dt, uint16_t h)
{
	return to_f(dt, h);
}

uint16_t rt_lowp_from_float(int dt, float x)
{
	return from_f(dt, x);
}

/* x rounded to the dtype (the value a torch op of that dtype stores). */
INL float rd(const int dt, float x)
{
	if (dt == FTSRT_F16)
		return f16_to_f(f_to_f16(x));
	/* bf16_to_f(f_to_bf16(x)) without the shifts: the high half rounded
	 * in place, the low half cleared */
	uint32_t u;
	memcpy(&u, &x, sizeof(u));
	uint32_t r = (u + 0x7fffu + ((u >> 16) & 1u)) & 0xffff0000u, q = (u | 0x00400000u) & 0xffff0000u;
	u = (u & 0x7fffffffu) > 0x7f800000u ? q : r;
	memcpy(&x, &u, sizeof(x));
	return x;
}

/* The loops below vectorise (#pragma omp simd: selects and arithmetic, and
 * for float16 the compiler's conversions). */
INL void widen(const int dt, float *restrict dst, const uint16_t *restrict src, size_t n)
{
#pragma omp simd
	for (size_t i = 0; i < n; i++)
		dst[i] = to_f(dt, src[i]);
}

INL void narrow(const int dt, uint16_t *restrict dst, const float *restrict src, size_t n)
{
#pragma omp simd
	for (size_t i = 0; i < n; i++)
		dst[i] = from_f(dt, src[i]);
}

void rt_lowp_fill(int dt, void *a, size_t b, size_t e, double v)
{
	uint16_t h = from_f(dt, (float)v), *x = a;
	for (size_t i = b; i < e; i++)
		x[i] = h;
}

TC void rt_lowp_widen(int dt, float *dst, const void *src, size_t b, size_t e)
{
	if (dt == FTSRT_F16)
		widen(FTSRT_F16, dst + b, (const uint16_t *)src + b, e - b);
	else
		widen(FTSRT_BF16, dst + b, (const uint16_t *)src + b, e - b);
}

TC void rt_lowp_narrow(int dt, void *dst, const float *src, size_t b, size_t e)
{
	if (dt == FTSRT_F16)
		narrow(FTSRT_F16, (uint16_t *)dst + b, src + b, e - b);
	else
		narrow(FTSRT_BF16, (uint16_t *)dst + b, src + b, e - b);
}

/* --- torch's arithmetic on bf16/fp16 tensors (kern_ref_tmpl.h, rounded) ---- */

/* torch.lerp with a scalar weight, computed in float, rounded once. */
INL float lerp(const int dt, float self, float end, float w)
{
	return rd(dt, (w < 0.5f && w > -0.5f) ? fmaf(w, end - self, self)
					      : fmaf(w - 1.0f, end - self, end));
}

/*
 * SGD.  c: 0 lr, 1 weight_decay, 2 momentum, 3 1-dampening.  slot 0
 * momentum_buffer.  The flags that change which arrays are touched are
 * constant arguments (one branch-free loop per combination, as in
 * kern_fast_tmpl.h).
 */
INL void sgd_loop(const int dt, float *restrict p, const float *restrict gr, float *restrict buf,
		  const struct rt_kscal *k, size_t n, const int wd, const int mom, const int first,
		  const int nest)
{
	const float sg = (k->flags & RT_K_MAXIMIZE) ? -1.0f : 1.0f;
	const float cm = (float)k->c[2];
	const float cwd = rd(dt, (float)k->c[1]), acm = rd(dt, cm);     /* add's alphas */
	const float cd = rd(dt, (float)k->c[3]), nlr = rd(dt, (float)(-k->c[0]));
#pragma omp simd
	for (size_t i = 0; i < n; i++) {
		float grad = sg * gr[i];
		if (wd)
			grad = rd(dt, fmaf(cwd, p[i], grad));  /* grad.add(param, alpha=wd) */
		if (mom) {
			float bi = first ? grad : rd(dt, fmaf(cd, grad, rd(dt, buf[i] * cm)));
			buf[i] = bi;                            /* buf.mul_(momentum).add_(grad, alpha) */
			grad = nest ? rd(dt, fmaf(acm, bi, grad)) : bi;
		}
		p[i] = rd(dt, fmaf(nlr, grad, p[i]));          /* param.add_(grad, alpha=-lr) */
	}
}

INL void sgd(const int dt, const struct rt_kargs *a, size_t n)
{
	unsigned f = a->k->flags;
	int wd = !!(f & RT_K_WD), mom = !!(f & RT_K_MOMENTUM), first = !!(f & RT_K_FIRST),
	    nest = !!(f & RT_K_NESTEROV);
	float *p = a->p, *buf = a->s[0];
	const float *g = a->g;
#define SGD_CASE(W, M, FI, N)                                                          \
	if (wd == W && mom == M && first == FI && nest == N) {                          \
		sgd_loop(dt, p, g, buf, a->k, n, W, M, FI, N);                            \
		return;                                                                 \
	}
	SGD_CASE(0, 0, 0, 0) SGD_CASE(1, 0, 0, 0)
	SGD_CASE(0, 1, 0, 0) SGD_CASE(1, 1, 0, 0) SGD_CASE(0, 1, 1, 0) SGD_CASE(1, 1, 1, 0)
	SGD_CASE(0, 1, 0, 1) SGD_CASE(1, 1, 0, 1) SGD_CASE(0, 1, 1, 1) SGD_CASE(1, 1, 1, 1)
#undef SGD_CASE
}

/*
 * Adam / AdamW.  c: 0 weight_decay, 1 1-lr*weight_decay, 2 1-beta1,
 * 3 beta2, 4 1-beta2, 5 bias_correction2_sqrt, 6 eps, 7 -step_size.
 * slots 0 exp_avg, 1 exp_avg_sq, 2 max_exp_avg_sq.
 */
INL void adam_loop(const int dt, float *restrict p, const float *restrict gr, float *restrict m,
		   float *restrict v, float *restrict vmax, const struct rt_kscal *k, size_t n,
		   const int dec, const int l2, const int ams)
{
	const float sg = (k->flags & RT_K_MAXIMIZE) ? -1.0f : 1.0f;
	const float cwd = rd(dt, (float)k->c[0]), eps = rd(dt, (float)k->c[6]); /* add's scalars */
	const float pdec = (float)k->c[1], w1 = (float)k->c[2], b2 = (float)k->c[3];
	const float c2 = (float)k->c[4], bc2s = (float)k->c[5], nss = (float)k->c[7];
	const int small = w1 < 0.5f && w1 > -0.5f;
	const float w = small ? w1 : w1 - 1.0f;
#pragma omp simd
	for (size_t i = 0; i < n; i++) {
		float grad = sg * gr[i], pi = p[i];
		if (dec)
			pi = rd(dt, pi * pdec);                 /* param.mul_(1 - lr*wd) */
		if (l2)
			grad = rd(dt, fmaf(cwd, pi, grad));
		float mi = m[i];                                /* exp_avg.lerp_(grad, 1-beta1) */
		mi = rd(dt, fmaf(w, grad - mi, small ? mi : grad));
		float vi = rd(dt, v[i] * b2);                   /* exp_avg_sq.mul_(beta2) */
		vi = rd(dt, vi + c2 * grad * grad);             /* .addcmul_(grad, grad, 1-beta2) */
		m[i] = mi;
		v[i] = vi;
		float x = vi;
		if (ams) {                                      /* torch.maximum: NaN propagates */
			float y = vmax[i];
			x = (y != y || vi != vi) ? y + vi : (y > vi ? y : vi);
			vmax[i] = x;
		}
		float denom = rd(dt, rd(dt, sqrtf(x)) / bc2s);
		denom = rd(dt, denom + eps);
		p[i] = rd(dt, pi + nss * mi / denom);          /* addcdiv_(exp_avg, denom, -step_size) */
	}
}

INL void adam(const int dt, const struct rt_kargs *a, size_t n)
{
	unsigned f = a->k->flags;
	int dec = !!(f & RT_K_DECOUPLED), l2 = !dec && (f & RT_K_WD), ams = !!(f & RT_K_AMSGRAD);
	float *p = a->p, *m = a->s[0], *v = a->s[1], *vm = a->s[2];
	const float *g = a->g;
	if (ams)
		adam_loop(dt, p, g, m, v, vm, a->k, n, dec, l2, 1);
	else if (dec)
		adam_loop(dt, p, g, m, v, vm, a->k, n, 1, 0, 0);
	else if (l2)
		adam_loop(dt, p, g, m, v, vm, a->k, n, 0, 1, 0);
	else
		adam_loop(dt, p, g, m, v, vm, a->k, n, 0, 0, 0);
}

/* Adagrad.  c: 0 weight_decay, 1 -clr, 2 eps.  slot 0 sum. */
INL void adagrad(const int dt, const struct rt_kargs *a, size_t n)
{
	float *p = a->p, *sum = a->s[0];
	const float *gr = a->g;
	const struct rt_kscal *k = a->k;
	const float cwd = rd(dt, (float)k->c[0]), eps = rd(dt, (float)k->c[2]);  /* add's scalars */
	for (size_t i = 0; i < n; i++) {
		float grad = (k->flags & RT_K_MAXIMIZE) ? -gr[i] : gr[i];
		if (k->flags & RT_K_WD)
			grad = rd(dt, fmaf(cwd, p[i], grad));
		sum[i] = rd(dt, sum[i] + 1.0f * grad * grad);
		float std = rd(dt, rd(dt, sqrtf(sum[i])) + eps);
		p[i] = rd(dt, p[i] + (float)k->c[1] * grad / std);
	}
}

/*
 * RMSprop.  c: 0 weight_decay, 1 alpha, 2 1-alpha, 3 eps, 4 momentum,
 * 5 -lr.  slots 0 square_avg, 1 momentum_buffer, 2 grad_avg.
 */
INL void rmsprop(const int dt, const struct rt_kargs *a, size_t n)
{
	float *p = a->p, *sq = a->s[0], *buf = a->s[1], *ga = a->s[2];
	const float *gr = a->g;
	const struct rt_kscal *k = a->k;
	const float cwd = rd(dt, (float)k->c[0]), eps = rd(dt, (float)k->c[3]);  /* add's scalars */
	const float nlr = rd(dt, (float)k->c[5]);
	for (size_t i = 0; i < n; i++) {
		float grad = (k->flags & RT_K_MAXIMIZE) ? -gr[i] : gr[i];
		if (k->flags & RT_K_WD)
			grad = rd(dt, fmaf(cwd, p[i], grad));
		sq[i] = rd(dt, sq[i] * (float)k->c[1]);
		sq[i] = rd(dt, sq[i] + (float)k->c[2] * grad * grad);
		float avg;
		if (k->flags & RT_K_CENTERED) {
			ga[i] = lerp(dt, ga[i], grad, (float)k->c[2]);
			avg = rd(dt, sqrtf(rd(dt, sq[i] + -1.0f * ga[i] * ga[i])));
		} else {
			avg = rd(dt, sqrtf(sq[i]));
		}
		avg = rd(dt, avg + eps);
		if (k->flags & RT_K_MOMENTUM) {
			buf[i] = rd(dt, buf[i] * (float)k->c[4]);
			buf[i] = rd(dt, buf[i] + 1.0f * grad / avg);
			p[i] = rd(dt, fmaf(nlr, buf[i], p[i]));         /* param.add_(buf, alpha=-lr) */
		} else {
			p[i] = rd(dt, p[i] + (float)k->c[5] * grad / avg);
		}
	}
}

/*
 * Adadelta.  c: 0 weight_decay, 1 rho, 2 1-rho, 3 eps, 4 -lr.  slots 0
 * square_avg, 1 acc_delta.
 */
INL void adadelta(const int dt, const struct rt_kargs *a, size_t n)
{
	float *p = a->p, *sq = a->s[0], *acc = a->s[1];
	const float *gr = a->g;
	const struct rt_kscal *k = a->k;
	const float cwd = rd(dt, (float)k->c[0]), eps = rd(dt, (float)k->c[3]);  /* add's scalars */
	const float nlr = rd(dt, (float)k->c[4]), rho = (float)k->c[1], c2 = (float)k->c[2];
	const float sg = (k->flags & RT_K_MAXIMIZE) ? -1.0f : 1.0f;
	const int wd = !!(k->flags & RT_K_WD);
#pragma omp simd
	for (size_t i = 0; i < n; i++) {
		float grad = sg * gr[i];
		if (wd)
			grad = rd(dt, fmaf(cwd, p[i], grad));
		float si = rd(dt, sq[i] * rho);                 /* square_avg.mul_(rho) */
		si = rd(dt, si + c2 * grad * grad);             /* .addcmul_(grad, grad, 1-rho) */
		sq[i] = si;
		float std = rd(dt, sqrtf(rd(dt, si + eps)));    /* square_avg.add(eps).sqrt_() */
		float delta = rd(dt, sqrtf(rd(dt, acc[i] + eps)));  /* acc_delta.add(eps).sqrt_() */
		delta = rd(dt, delta / std);                    /* .div_(std) */
		delta = rd(dt, delta * grad);                   /* .mul_(grad) */
		float ai = rd(dt, acc[i] * rho);                /* acc_delta.mul_(rho) */
		acc[i] = rd(dt, ai + c2 * delta * delta);       /* .addcmul_(delta, delta, 1-rho) */
		p[i] = rd(dt, fmaf(nlr, delta, p[i]));          /* param.add_(delta, alpha=-lr) */
	}
}

/*
 * Adamax.  c: 0 weight_decay, 1 1-beta1, 2 beta2, 3 eps, 4 -clr.  slots 0
 * exp_avg, 1 exp_inf.
 */
INL void adamax(const int dt, const struct rt_kargs *a, size_t n)
{
	float *p = a->p, *m = a->s[0], *u = a->s[1];
	const float *gr = a->g;
	const struct rt_kscal *k = a->k;
	const float cwd = rd(dt, (float)k->c[0]), eps = rd(dt, (float)k->c[3]);  /* add's scalars */
	const float w = (float)k->c[1], b2 = (float)k->c[2], nclr = (float)k->c[4];
	const float sg = (k->flags & RT_K_MAXIMIZE) ? -1.0f : 1.0f;
	const int wd = !!(k->flags & RT_K_WD);
#pragma omp simd
	for (size_t i = 0; i < n; i++) {
		float grad = sg * gr[i];
		if (wd)
			grad = rd(dt, fmaf(cwd, p[i], grad));
		float mi = lerp(dt, m[i], grad, w);             /* exp_avg.lerp_(grad, 1-beta1) */
		m[i] = mi;
		float decayed = rd(dt, u[i] * b2);              /* exp_inf.mul_(beta2) */
		float ag = rd(dt, fabsf(grad) + eps);           /* grad.abs().add_(eps) */
		float ui = (decayed != decayed || ag != ag) ? decayed + ag : (decayed > ag ? decayed : ag);
		u[i] = ui;                                      /* amax: NaN propagates */
		p[i] = rd(dt, p[i] + nclr * mi / ui);           /* addcdiv_(exp_avg, exp_inf, -clr) */
	}
}

/*
 * Rprop.  c: 0 etaminus, 1 etaplus, 2 step_size_min, 3 step_size_max.
 * slots 0 prev, 1 step_size.  The etas are stored into the sign tensor and
 * clamp_ takes its bounds as the dtype: all four are rounded to it.
 */
INL void rprop(const int dt, const struct rt_kargs *a, size_t n)
{
	float *p = a->p, *prev = a->s[0], *ss = a->s[1];
	const float *gr = a->g;
	const struct rt_kscal *k = a->k;
	const float em = rd(dt, (float)k->c[0]), ep = rd(dt, (float)k->c[1]);
	const float lo = rd(dt, (float)k->c[2]), hi = rd(dt, (float)k->c[3]);
	const float sg = (k->flags & RT_K_MAXIMIZE) ? -1.0f : 1.0f;
#pragma omp simd
	for (size_t i = 0; i < n; i++) {
		float grad = sg * gr[i];
		float pr = rd(dt, grad * prev[i]);              /* grad.mul(prev).sign() */
		float factor = pr > 0.0f ? ep : 1.0f;
		factor = pr < 0.0f ? em : factor;
		float s = rd(dt, ss[i] * factor);               /* step_size.mul_(sign) */
		float c = s < lo ? lo : s;                      /* .clamp_(min, max), NaN kept */
		c = c > hi ? hi : c;
		c = (s != s) ? s : c;
		ss[i] = c;
		grad = (factor == em) ? 0.0f : grad;            /* grad[sign.eq(etaminus)] = 0 */
		float sgn = grad > 0.0f ? 1.0f : 0.0f;
		sgn = grad < 0.0f ? -1.0f : sgn;
		p[i] = rd(dt, p[i] - sgn * c);                  /* addcmul_(grad.sign(), step_size, -1) */
		prev[i] = grad;
	}
}

/*
 * NAdam.  c: 0 weight_decay, 1 1-lr*weight_decay, 2 1-beta1, 3 beta2,
 * 4 1-beta2, 5 bias_correction2, 6 eps, 7 and 8 the two addcdiv values.
 * slots 0 exp_avg, 1 exp_avg_sq.
 */
INL void nadam(const int dt, const struct rt_kargs *a, size_t n)
{
	float *p = a->p, *m = a->s[0], *v = a->s[1];
	const float *gr = a->g;
	const struct rt_kscal *k = a->k;
	const float cwd = rd(dt, (float)k->c[0]), eps = rd(dt, (float)k->c[6]);  /* add's scalars */
	const float pdec = (float)k->c[1], w = (float)k->c[2], b2 = (float)k->c[3];
	const float c2 = (float)k->c[4], bc2 = (float)k->c[5], v1 = (float)k->c[7], v2 = (float)k->c[8];
	const float sg = (k->flags & RT_K_MAXIMIZE) ? -1.0f : 1.0f;
	const int dec = !!(k->flags & RT_K_DECOUPLED), l2 = !dec && (k->flags & RT_K_WD);
#pragma omp simd
	for (size_t i = 0; i < n; i++) {
		float grad = sg * gr[i], pi = p[i];
		if (dec)
			pi = rd(dt, pi * pdec);                 /* param.mul_(1 - lr*wd) */
		if (l2)
			grad = rd(dt, fmaf(cwd, pi, grad));
		float mi = lerp(dt, m[i], grad, w);             /* exp_avg.lerp_(grad, 1-beta1) */
		float vi = rd(dt, v[i] * b2);                   /* exp_avg_sq.mul_(beta2) */
		vi = rd(dt, vi + c2 * grad * grad);             /* .addcmul_(grad, grad, 1-beta2) */
		m[i] = mi;
		v[i] = vi;
		float denom = rd(dt, sqrtf(rd(dt, vi / bc2)));  /* exp_avg_sq.div(bc2).sqrt() */
		denom = rd(dt, denom + eps);                    /* .add_(eps) */
		pi = rd(dt, pi + v1 * grad / denom);            /* addcdiv_(grad, denom, value) */
		p[i] = rd(dt, pi + v2 * mi / denom);            /* addcdiv_(exp_avg, denom, value) */
	}
}

/*
 * RAdam.  c: 0 weight_decay, 1 1-lr*weight_decay, 2 1-beta1, 3 beta2,
 * 4 1-beta2, 5 bias_correction1, 6 lr, 7 sqrt(bias_correction2), 8 eps,
 * 9 rect.  slots 0 exp_avg, 1 exp_avg_sq.
 */
INL void radam(const int dt, const struct rt_kargs *a, size_t n)
{
	float *p = a->p, *m = a->s[0], *v = a->s[1];
	const float *gr = a->g;
	const struct rt_kscal *k = a->k;
	const float cwd = rd(dt, (float)k->c[0]), eps = rd(dt, (float)k->c[8]);  /* add's scalars */
	const float pdec = (float)k->c[1], w = (float)k->c[2], b2 = (float)k->c[3];
	const float c2 = (float)k->c[4], bc1 = (float)k->c[5], lr = (float)k->c[6];
	const float bc2s = (float)k->c[7], rect = (float)k->c[9];
	const float sg = (k->flags & RT_K_MAXIMIZE) ? -1.0f : 1.0f;
	const int dec = !!(k->flags & RT_K_DECOUPLED), l2 = !dec && (k->flags & RT_K_WD);
	const int rec = !!(k->flags & RT_K_RECT);
#pragma omp simd
	for (size_t i = 0; i < n; i++) {
		float grad = sg * gr[i], pi = p[i];
		if (dec)
			pi = rd(dt, pi * pdec);
		if (l2)
			grad = rd(dt, fmaf(cwd, pi, grad));
		float mi = lerp(dt, m[i], grad, w);
		float vi = rd(dt, v[i] * b2);
		vi = rd(dt, vi + c2 * grad * grad);
		m[i] = mi;
		v[i] = vi;
		float upd = rd(dt, mi / bc1);                   /* exp_avg / bias_correction1 */
		upd = rd(dt, upd * lr);                         /* * lr */
		if (rec) {
			float sq = rd(dt, rd(dt, sqrtf(vi)) + eps); /* exp_avg_sq.sqrt().add_(eps) */
			float ad = rd(dt, rd(dt, 1.0f / sq) * bc2s); /* float / tensor: reciprocal * float */
			upd = rd(dt, upd * ad);                 /* * adaptive_lr */
			upd = rd(dt, upd * rect);               /* * rect */
		}
		p[i] = rd(dt, pi - upd);                        /* param.add_(x, alpha=-1) */
	}
}

/*
 * ASGD.  c: 0 weight_decay, 1 1-lambd*eta, 2 -eta, 3 mu.  slot 0 ax.  mu
 * is a float32 scalar tensor, which 2.x's mul_ reads as a float.
 */
INL void asgd(const int dt, const struct rt_kargs *a, size_t n)
{
	float *p = a->p, *ax = a->s[0];
	const float *gr = a->g;
	const struct rt_kscal *k = a->k;
	const float cwd = rd(dt, (float)k->c[0]), neta = rd(dt, (float)k->c[2]);  /* add's alphas */
	const float dec = (float)k->c[1], mu = (float)k->c[3];
	const float sg = (k->flags & RT_K_MAXIMIZE) ? -1.0f : 1.0f;
	const int wd = !!(k->flags & RT_K_WD), one = !!(k->flags & RT_K_MU_ONE);
#pragma omp simd
	for (size_t i = 0; i < n; i++) {
		float grad = sg * gr[i];
		if (wd)
			grad = rd(dt, fmaf(cwd, p[i], grad));
		float pi = rd(dt, p[i] * dec);                  /* param.mul_(1 - lambd*eta) */
		pi = rd(dt, fmaf(neta, grad, pi));              /* param.add_(grad, alpha=-eta) */
		p[i] = pi;
		/* ax.copy_(param), or ax.add_(param.sub(ax).mul_(mu)) */
		ax[i] = one ? pi : rd(dt, ax[i] + rd(dt, rd(dt, pi - ax[i]) * mu));
	}
}

/* The kinds with torch-semantics kernels here: every elementwise one. */
static bool has_kernel(int kind)
{
	return kind >= 0 && kind < FTSRT_OPTIM_NKINDS && kind != FTSRT_OPTIM_ADAFACTOR &&
	       kind != FTSRT_OPTIM_MUON;
}

INL void kernel(const int dt, int kind, const struct rt_kargs *a, size_t n)
{
	switch (kind) {
	case FTSRT_OPTIM_SGD:
		sgd(dt, a, n);
		break;
	case FTSRT_OPTIM_ADAM:
	case FTSRT_OPTIM_ADAMW:
		adam(dt, a, n);
		break;
	case FTSRT_OPTIM_ADAGRAD:
		adagrad(dt, a, n);
		break;
	case FTSRT_OPTIM_RMSPROP:
		rmsprop(dt, a, n);
		break;
	case FTSRT_OPTIM_ADADELTA:
		adadelta(dt, a, n);
		break;
	case FTSRT_OPTIM_ADAMAX:
		adamax(dt, a, n);
		break;
	case FTSRT_OPTIM_RPROP:
		rprop(dt, a, n);
		break;
	case FTSRT_OPTIM_NADAM:
		nadam(dt, a, n);
		break;
	case FTSRT_OPTIM_ASGD:
		asgd(dt, a, n);
		break;
	case FTSRT_OPTIM_RADAM:
		radam(dt, a, n);
		break;
	default:
		break;
	}
}

bool rt_lowp_supported(int kind, int precision)
{
	return precision == FTSRT_PRECISION_MASTER || has_kernel(kind) || kind == FTSRT_OPTIM_ADAFACTOR;
}

/* --- Adafactor ------------------------------------------------------------------- */

/* x rounded to the dtype, in double (a reduction's result: torch rounds it once). */
INL double rdd(const int dt, double x)
{
	return (double)rd(dt, (float)x);
}

/*
 * Adafactor on one bf16/fp16 tensor, state in its dtype: kern_adafactor_tmpl.h's
 * reference with every torch op's result rounded to the dtype.  Norms and
 * means accumulate in double and round once (torch: float accumulation,
 * one rounding); clamp_'s bounds and add_'s alpha are rounded to the dtype,
 * lerp_'s and mul_'s scalars stay float.  upd: numel floats of scratch.
 */
INL void adafactor_lowp(const int dt, uint16_t *p, const uint16_t *gr, const struct rt_adafactor *a,
			float *upd)
{
	const size_t n = a->numel;
	const double step = a->step;
	const float w = (float)pow(step, a->beta2_decay);      /* one_minus_beta2_t */
	const double rho = a->lr < 1 / sqrt(step) ? a->lr : 1 / sqrt(step);
	double pn = 0;
	for (size_t i = 0; i < n; i++) {
		double x = to_f(dt, p[i]);
		pn += x * x;
	}
	double alpha = rdd(dt, sqrt(pn)) / sqrt((double)n);    /* param.norm(2).item() */
	alpha = (a->eps2 > alpha ? a->eps2 : alpha) * rho;
	if (a->wd != 0) {                                       /* param.mul_(1 - lr * wd) */
		const float dec = (float)(1 - a->lr * a->wd);
		for (size_t i = 0; i < n; i++)
			p[i] = from_f(dt, to_f(dt, p[i]) * dec);
	}
	const float sg = a->maximize ? -1.0f : 1.0f;
	const float eps1 = rd(dt, (float)a->eps1), eps1sq = rd(dt, (float)(a->eps1 * a->eps1));
	if (a->ndim >= 2) {
		const size_t C = (size_t)a->shape[a->ndim - 1], R = (size_t)a->shape[a->ndim - 2];
		const size_t B = (R && C) ? n / (R * C) : 0;
		uint16_t *rv = a->row_var, *cv = a->col_var;
		for (size_t bi = 0; bi < B; bi++) {
			const uint16_t *g = gr + bi * R * C;
			uint16_t *rvb = rv + bi * R, *cvb = cv + bi * C;
			for (size_t r = 0; r < R; r++) {       /* norm(dim=-1).square_().div_(C) */
				double sum = 0;
				for (size_t c = 0; c < C; c++) {
					double x = to_f(dt, g[r * C + c]);
					sum += x * x;
				}
				float nr = (float)rdd(dt, sqrt(sum));
				float mean = rd(dt, rd(dt, nr * nr) / (float)C);
				rvb[r] = from_f(dt, lerp(dt, to_f(dt, rvb[r]), mean, w));
			}
			for (size_t c = 0; c < C; c++) {       /* norm(dim=-2).square_().div_(R) */
				double sum = 0;
				for (size_t r = 0; r < R; r++) {
					double x = to_f(dt, g[r * C + c]);
					sum += x * x;
				}
				float nr = (float)rdd(dt, sqrt(sum));
				float mean = rd(dt, rd(dt, nr * nr) / (float)R);
				cvb[c] = from_f(dt, lerp(dt, to_f(dt, cvb[c]), mean, w));
			}
			double rs = 0;                          /* row_var.mean(dim=-2).clamp_(eps1) */
			for (size_t r = 0; r < R; r++)
				rs += to_f(dt, rvb[r]);
			float rmean = (float)rdd(dt, rs / (double)R);
			rmean = rmean != rmean ? rmean : (rmean < eps1 ? eps1 : rmean);
			for (size_t r = 0; r < R; r++) {
				const float rr = to_f(dt, rvb[r]);
				for (size_t c = 0; c < C; c++) {
					float ve = rd(dt, rr * to_f(dt, cvb[c]));  /* row_var @ col_var */
					ve = rd(dt, ve / rmean);                   /* div_ */
					ve = ve != ve ? ve : (ve < eps1sq ? eps1sq : ve);   /* clamp_ */
					ve = rd(dt, 1.0f / sqrtf(ve));             /* rsqrt_ */
					upd[bi * R * C + r * C + c] =                /* mul_(grad) */
						rd(dt, ve * (sg * to_f(dt, g[r * C + c])));
				}
			}
		}
	} else {
		uint16_t *var = a->variance;
		for (size_t i = 0; i < n; i++) {
			float gi = sg * to_f(dt, gr[i]);
			float vi = lerp(dt, to_f(dt, var[i]), rd(dt, gi * gi), w);  /* lerp_(grad.square()) */
			var[i] = from_f(dt, vi);
			float ve = vi != vi ? vi : (vi < eps1sq ? eps1sq : vi);     /* clone().clamp_ */
			upd[i] = rd(dt, rd(dt, 1.0f / sqrtf(ve)) * gi);            /* rsqrt_().mul_(grad) */
		}
	}
	double un = 0;
	for (size_t i = 0; i < n; i++)
		un += (double)upd[i] * (double)upd[i];
	double denom = rdd(dt, sqrt(un)) / (sqrt((double)n) * a->d);  /* update.norm(2).item() */
	if (denom < 1.0)
		denom = 1.0;
	const float coef = rd(dt, (float)(-alpha / denom));             /* add_'s alpha */
	for (size_t i = 0; i < n; i++)
		p[i] = from_f(dt, fmaf(coef, upd[i], to_f(dt, p[i])));
}

void rt_adafactor_lowp(int dt, void *p, const void *g, const struct rt_adafactor *a)
{
	if (dt == FTSRT_F16)
		adafactor_lowp(FTSRT_F16, p, g, a, a->work);
	else
		adafactor_lowp(FTSRT_BF16, p, g, a, a->work);
}

/* --- the step ------------------------------------------------------------------ */

INL void step(const int dt, const struct rt_lowp *l, const struct rt_kargs *a, size_t b, size_t e)
{
	float gbuf[CHUNK];
	if (l->master) {
		/* a->p: the float master arena; l->model: the bf16/fp16 parameters */
		for (size_t c = b; c < e; c += CHUNK) {
			size_t n = e - c < CHUNK ? e - c : CHUNK;
			widen(dt, gbuf, (const uint16_t *)a->g + c, n);
			struct rt_kargs w = {(float *)a->p + c, gbuf, {NULL, NULL, NULL, NULL}, a->k};
			for (int s = 0; s < RT_MAX_SLOTS; s++)
				w.s[s] = a->s[s] ? (float *)a->s[s] + c : NULL;
			l->f32(&w, 0, n);
			narrow(dt, (uint16_t *)l->model + c, (float *)a->p + c, n);
		}
		return;
	}
	float pbuf[CHUNK], sbuf[RT_MAX_SLOTS][CHUNK];
	for (size_t c = b; c < e; c += CHUNK) {
		size_t n = e - c < CHUNK ? e - c : CHUNK;
		widen(dt, gbuf, (const uint16_t *)a->g + c, n);
		widen(dt, pbuf, (const uint16_t *)a->p + c, n);
		struct rt_kargs w = {pbuf, gbuf, {NULL, NULL, NULL, NULL}, a->k};
		for (int s = 0; s < RT_MAX_SLOTS; s++)
			if (a->s[s]) {
				widen(dt, sbuf[s], (const uint16_t *)a->s[s] + c, n);
				w.s[s] = sbuf[s];
			}
		kernel(dt, l->kind, &w, n);
		narrow(dt, (uint16_t *)a->p + c, pbuf, n);
		for (int s = 0; s < RT_MAX_SLOTS; s++)
			if (a->s[s])
				narrow(dt, (uint16_t *)a->s[s] + c, sbuf[s], n);
	}
}

TC void rt_lowp_step(const struct rt_lowp *l, const struct rt_kargs *a, size_t b, size_t e)
{
	if (l->dtype == FTSRT_F16)
		step(FTSRT_F16, l, a, b, e);
	else
		step(FTSRT_BF16, l, a, b, e);
}
