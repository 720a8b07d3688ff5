/*
 * kern_lowp.c - bfloat16 and float16 parameters (enum ftsrt_precision):
 * the conversions, torch.optim's arithmetic on bf16/fp16 tensors, and the
 * fp32-master-weights wrapper around the float32 kernels.
 *
 * FTSRT_PRECISION_PARAM (torch.optim on bf16/fp16 parameters, state in
 * the same dtype).  torch's CPU kernels compute a tensor op on bf16/fp16
 * operands in float and round the op's result to the dtype once; a Python
 * float scalar stays a float.  The kernels below are kern_ref_tmpl.h's
 * SGD, Adam/AdamW, Adagrad and RMSprop with every torch op's result
 * passed through rd() (round to nearest even, NaN kept): one rounding
 * where torch stores a tensor, none inside an op.  They run on float
 * copies of a chunk (widening is exact; so is narrowing what rd() made).
 * The other elementwise optimizers are refused in this precision
 * (rt_lowp_supported): no golden checks them yet.
 *
 * FTSRT_PRECISION_MASTER (mixed precision): the float32 kernels step the
 * float32 master weights and state with the gradients widened to float,
 * then the parameters are rounded from the master (one rounding).  Every
 * elementwise optimizer works this way.
 */
#include "optim_int.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

#define CHUNK 256                       /* elements converted at a time (stack buffers) */

/* --- conversions ------------------------------------------------------------ */

static float bf16_to_f(uint16_t h)
{
	uint32_t u = (uint32_t)h << 16;
	float x;
	memcpy(&x, &u, sizeof(x));
	return x;
}

static uint16_t f_to_bf16(float x)
{
	float r = rt_bf16_round(x);
	uint32_t u;
	memcpy(&u, &r, sizeof(u));
	return (uint16_t)(u >> 16);
}

static float f16_to_f(uint16_t h)
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
static uint16_t f_to_f16(float x)
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

float rt_lowp_to_float(int dt, uint16_t h)
{
	return dt == FTSRT_F16 ? f16_to_f(h) : bf16_to_f(h);
}

uint16_t rt_lowp_from_float(int dt, float x)
{
	return dt == FTSRT_F16 ? f_to_f16(x) : f_to_bf16(x);
}

/* x rounded to the dtype (the value a torch op of that dtype stores). */
static float rd(int dt, float x)
{
	return dt == FTSRT_F16 ? f16_to_f(f_to_f16(x)) : rt_bf16_round(x);
}

static void widen(int dt, float *dst, const uint16_t *src, size_t n)
{
	for (size_t i = 0; i < n; i++)
		dst[i] = rt_lowp_to_float(dt, src[i]);
}

static void narrow(int dt, uint16_t *dst, const float *src, size_t n)
{
	for (size_t i = 0; i < n; i++)
		dst[i] = rt_lowp_from_float(dt, src[i]);
}

void rt_lowp_fill(int dt, void *a, size_t b, size_t e, double v)
{
	uint16_t h = rt_lowp_from_float(dt, (float)v), *x = a;
	for (size_t i = b; i < e; i++)
		x[i] = h;
}

void rt_lowp_widen(int dt, float *dst, const void *src, size_t b, size_t e)
{
	widen(dt, dst + b, (const uint16_t *)src + b, e - b);
}

/* --- torch's arithmetic on bf16/fp16 tensors (kern_ref_tmpl.h, rounded) ---- */

/* torch.lerp with a scalar weight, computed in float, rounded once. */
static float lerp(int dt, float self, float end, float w)
{
	return rd(dt, (w < 0.5f && w > -0.5f) ? fmaf(w, end - self, self)
					      : fmaf(w - 1.0f, end - self, end));
}

/* SGD.  c: 0 lr, 1 weight_decay, 2 momentum, 3 1-dampening.  slot 0 momentum_buffer. */
static void sgd(int dt, const struct rt_kargs *a, size_t n)
{
	float *p = a->p, *buf = a->s[0];
	const float *gr = a->g;
	const struct rt_kscal *k = a->k;
	for (size_t i = 0; i < n; i++) {
		float grad = (k->flags & RT_K_MAXIMIZE) ? -gr[i] : gr[i];
		if (k->flags & RT_K_WD)
			grad = rd(dt, fmaf((float)k->c[1], p[i], grad));
		if (k->flags & RT_K_MOMENTUM) {
			if (k->flags & RT_K_FIRST)
				buf[i] = grad;
			else                                    /* buf.mul_(momentum).add_(grad, alpha) */
				buf[i] = rd(dt, fmaf((float)k->c[3], grad, rd(dt, buf[i] * (float)k->c[2])));
			if (k->flags & RT_K_NESTEROV)
				grad = rd(dt, fmaf((float)k->c[2], buf[i], grad));
			else
				grad = buf[i];
		}
		p[i] = rd(dt, fmaf((float)(-k->c[0]), grad, p[i]));
	}
}

/*
 * Adam / AdamW.  c: 0 weight_decay, 1 1-lr*weight_decay, 2 1-beta1,
 * 3 beta2, 4 1-beta2, 5 bias_correction2_sqrt, 6 eps, 7 -step_size.
 * slots 0 exp_avg, 1 exp_avg_sq, 2 max_exp_avg_sq.
 */
static void adam(int dt, const struct rt_kargs *a, size_t n)
{
	float *p = a->p, *m = a->s[0], *v = a->s[1], *vmax = a->s[2];
	const float *gr = a->g;
	const struct rt_kscal *k = a->k;
	for (size_t i = 0; i < n; i++) {
		float grad = (k->flags & RT_K_MAXIMIZE) ? -gr[i] : gr[i];
		if (k->flags & RT_K_DECOUPLED)
			p[i] = rd(dt, p[i] * (float)k->c[1]);
		else if (k->flags & RT_K_WD)
			grad = rd(dt, fmaf((float)k->c[0], p[i], grad));
		m[i] = lerp(dt, m[i], grad, (float)k->c[2]);
		v[i] = rd(dt, v[i] * (float)k->c[3]);
		v[i] = rd(dt, v[i] + (float)k->c[4] * grad * grad);
		float s;
		if (k->flags & RT_K_AMSGRAD) {
			float x = vmax[i];
			vmax[i] = (x != x || v[i] != v[i]) ? x + v[i] : (x > v[i] ? x : v[i]);
			s = rd(dt, sqrtf(vmax[i]));
		} else {
			s = rd(dt, sqrtf(v[i]));
		}
		float denom = rd(dt, s / (float)k->c[5]);
		denom = rd(dt, denom + (float)k->c[6]);
		p[i] = rd(dt, p[i] + (float)k->c[7] * m[i] / denom);
	}
}

/* Adagrad.  c: 0 weight_decay, 1 -clr, 2 eps.  slot 0 sum. */
static void adagrad(int dt, const struct rt_kargs *a, size_t n)
{
	float *p = a->p, *sum = a->s[0];
	const float *gr = a->g;
	const struct rt_kscal *k = a->k;
	for (size_t i = 0; i < n; i++) {
		float grad = (k->flags & RT_K_MAXIMIZE) ? -gr[i] : gr[i];
		if (k->flags & RT_K_WD)
			grad = rd(dt, fmaf((float)k->c[0], p[i], grad));
		sum[i] = rd(dt, sum[i] + 1.0f * grad * grad);
		float std = rd(dt, rd(dt, sqrtf(sum[i])) + (float)k->c[2]);
		p[i] = rd(dt, p[i] + (float)k->c[1] * grad / std);
	}
}

/*
 * RMSprop.  c: 0 weight_decay, 1 alpha, 2 1-alpha, 3 eps, 4 momentum,
 * 5 -lr.  slots 0 square_avg, 1 momentum_buffer, 2 grad_avg.
 */
static void rmsprop(int dt, const struct rt_kargs *a, size_t n)
{
	float *p = a->p, *sq = a->s[0], *buf = a->s[1], *ga = a->s[2];
	const float *gr = a->g;
	const struct rt_kscal *k = a->k;
	for (size_t i = 0; i < n; i++) {
		float grad = (k->flags & RT_K_MAXIMIZE) ? -gr[i] : gr[i];
		if (k->flags & RT_K_WD)
			grad = rd(dt, fmaf((float)k->c[0], p[i], grad));
		sq[i] = rd(dt, sq[i] * (float)k->c[1]);
		sq[i] = rd(dt, sq[i] + (float)k->c[2] * grad * grad);
		float avg;
		if (k->flags & RT_K_CENTERED) {
			ga[i] = lerp(dt, ga[i], grad, (float)k->c[2]);
			avg = rd(dt, sqrtf(rd(dt, sq[i] + -1.0f * ga[i] * ga[i])));
		} else {
			avg = rd(dt, sqrtf(sq[i]));
		}
		avg = rd(dt, avg + (float)k->c[3]);
		if (k->flags & RT_K_MOMENTUM) {
			buf[i] = rd(dt, buf[i] * (float)k->c[4]);
			buf[i] = rd(dt, buf[i] + 1.0f * grad / avg);
			p[i] = rd(dt, fmaf((float)k->c[5], buf[i], p[i]));
		} else {
			p[i] = rd(dt, p[i] + (float)k->c[5] * grad / avg);
		}
	}
}

typedef void (*lowp_fn)(int dt, const struct rt_kargs *a, size_t n);

static lowp_fn lowp_kernel(int kind)
{
	switch (kind) {
	case FTSRT_OPTIM_SGD:
		return sgd;
	case FTSRT_OPTIM_ADAM:
	case FTSRT_OPTIM_ADAMW:
		return adam;
	case FTSRT_OPTIM_ADAGRAD:
		return adagrad;
	case FTSRT_OPTIM_RMSPROP:
		return rmsprop;
	default:
		return NULL;
	}
}

bool rt_lowp_supported(int kind, int precision)
{
	if (kind == FTSRT_OPTIM_ADAFACTOR || kind == FTSRT_OPTIM_MUON)
		return false;
	return precision == FTSRT_PRECISION_MASTER || lowp_kernel(kind) != NULL;
}

/* --- the step ------------------------------------------------------------------ */

void rt_lowp_step(const struct rt_lowp *l, const struct rt_kargs *a, size_t b, size_t e)
{
	float gbuf[CHUNK];
	if (l->master) {
		/* a->p: the float master arena; l->model: the bf16/fp16 parameters */
		for (size_t c = b; c < e; c += CHUNK) {
			size_t n = e - c < CHUNK ? e - c : CHUNK;
			widen(l->dtype, gbuf, (const uint16_t *)a->g + c, n);
			struct rt_kargs w = {(float *)a->p + c, gbuf, {NULL, NULL, NULL, NULL}, a->k};
			for (int s = 0; s < RT_MAX_SLOTS; s++)
				w.s[s] = a->s[s] ? (float *)a->s[s] + c : NULL;
			l->f32(&w, 0, n);
			narrow(l->dtype, (uint16_t *)l->model + c, (float *)a->p + c, n);
		}
		return;
	}
	lowp_fn fn = lowp_kernel(l->kind);
	float pbuf[CHUNK], sbuf[RT_MAX_SLOTS][CHUNK];
	for (size_t c = b; c < e; c += CHUNK) {
		size_t n = e - c < CHUNK ? e - c : CHUNK;
		widen(l->dtype, gbuf, (const uint16_t *)a->g + c, n);
		widen(l->dtype, pbuf, (const uint16_t *)a->p + c, n);
		struct rt_kargs w = {pbuf, gbuf, {NULL, NULL, NULL, NULL}, a->k};
		for (int s = 0; s < RT_MAX_SLOTS; s++)
			if (a->s[s]) {
				widen(l->dtype, sbuf[s], (const uint16_t *)a->s[s] + c, n);
				w.s[s] = sbuf[s];
			}
		fn(l->dtype, &w, n);
		narrow(l->dtype, (uint16_t *)a->p + c, pbuf, n);
		for (int s = 0; s < RT_MAX_SLOTS; s++)
			if (a->s[s])
				narrow(l->dtype, (uint16_t *)a->s[s] + c, sbuf[s], n);
	}
}
