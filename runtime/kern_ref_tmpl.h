/*
 * kern_ref_tmpl.h - body of the scalar reference kernels, included by
 * kern_ref.c (through kern_inst.h) once per element type with T (float or
 * double), SFX (f32 or f64), SQRT and FMA defined.  Not a header of its
 * own: no include guard.
 *
 * Each kernel follows torch's _single_tensor_<opt> line by line, one
 * element at a time: every torch tensor op becomes one C expression with
 * the same operands in the same order, every Python float handed to a
 * tensor op is converted to T where the op does it.  Elementwise ops
 * commute with the loop, so this is the torch result, element by element.
 * No flags are specialised and nothing is hoisted: this is the oracle.
 */

#define RCAT2(a, b) a##_##b
#define RCAT(a, b) RCAT2(a, b)
#define R(name) RCAT(name, SFX)

/* torch.lerp(self, end, weight) with a scalar weight (ATen Lerp.h). */
static T R(lerp)(T self, T end, T w)
{
	return (w < (T)0.5 && w > (T)-0.5) ? FMA(w, end - self, self)
					   : FMA(w - (T)1, end - self, end);
}

/* torch.maximum: NaN in either operand propagates. */
static T R(maximum)(T a, T b)
{
	if (a != a)
		return a;
	if (b != b)
		return b;
	return a > b ? a : b;
}

/* torch.clamp(x, lo, hi): NaN propagates. */
static T R(clamp)(T x, T lo, T hi)
{
	if (x != x)
		return x;
	if (x < lo)
		x = lo;
	if (x > hi)
		x = hi;
	return x;
}

/* torch.sign on CPU: (0 < a) - (a < 0); NaN gives 0. */
static T R(sign)(T a)
{
	return (T)(((T)0 < a) - (a < (T)0));
}

/*
 * SGD.  c: 0 lr, 1 weight_decay, 2 momentum, 3 1-dampening.
 * slot 0 momentum_buffer.
 */
static void R(ref_sgd)(const struct rt_kargs *a, size_t b, size_t e)
{
	T *p = a->p;
	const T *gr = a->g;
	T *buf = a->s[0];
	const struct rt_kscal *k = a->k;
	for (size_t i = b; i < e; i++) {
		T grad = (k->flags & RT_K_MAXIMIZE) ? -gr[i] : gr[i];
		if (k->flags & RT_K_WD)
			grad = FMA((T)k->c[1], p[i], grad);             /* grad.add(param, alpha=wd) */
		if (k->flags & RT_K_MOMENTUM) {
			if (k->flags & RT_K_FIRST)
				buf[i] = grad;                          /* torch.clone(grad) */
			else
				buf[i] = FMA((T)k->c[3], grad, buf[i] * (T)k->c[2]);
			if (k->flags & RT_K_NESTEROV)
				grad = FMA((T)k->c[2], buf[i], grad);  /* grad.add(buf, alpha=momentum) */
			else
				grad = buf[i];
		}
		p[i] = FMA((T)(-k->c[0]), grad, p[i]);                  /* param.add_(grad, alpha=-lr) */
	}
}

/*
 * Adam / AdamW.  c: 0 weight_decay, 1 1-lr*weight_decay, 2 1-beta1,
 * 3 beta2, 4 1-beta2, 5 bias_correction2_sqrt, 6 eps, 7 -step_size.
 * slots 0 exp_avg, 1 exp_avg_sq, 2 max_exp_avg_sq.
 */
static void R(ref_adam)(const struct rt_kargs *a, size_t b, size_t e)
{
	T *p = a->p;
	const T *gr = a->g;
	T *m = a->s[0], *v = a->s[1], *vmax = a->s[2];
	const struct rt_kscal *k = a->k;
	for (size_t i = b; i < e; i++) {
		T grad = (k->flags & RT_K_MAXIMIZE) ? -gr[i] : gr[i];
		if (k->flags & RT_K_DECOUPLED)
			p[i] = p[i] * (T)k->c[1];                       /* param.mul_(1 - lr*wd) */
		else if (k->flags & RT_K_WD)
			grad = FMA((T)k->c[0], p[i], grad);
		m[i] = R(lerp)(m[i], grad, (T)k->c[2]);                 /* exp_avg.lerp_(grad, 1-beta1) */
		v[i] = v[i] * (T)k->c[3];                               /* exp_avg_sq.mul_(beta2) */
		v[i] = v[i] + (T)k->c[4] * grad * grad;                 /* .addcmul_(grad, grad, 1-beta2) */
		T denom;
		if (k->flags & RT_K_AMSGRAD) {
			vmax[i] = R(maximum)(vmax[i], v[i]);
			denom = SQRT(vmax[i]) / (T)k->c[5];
		} else {
			denom = SQRT(v[i]) / (T)k->c[5];
		}
		denom = denom + (T)k->c[6];
		p[i] = p[i] + (T)k->c[7] * m[i] / denom;                /* addcdiv_(exp_avg, denom, -step_size) */
	}
}

/* Adagrad.  c: 0 weight_decay, 1 -clr, 2 eps.  slot 0 sum. */
static void R(ref_adagrad)(const struct rt_kargs *a, size_t b, size_t e)
{
	T *p = a->p;
	const T *gr = a->g;
	T *sum = a->s[0];
	const struct rt_kscal *k = a->k;
	for (size_t i = b; i < e; i++) {
		T grad = (k->flags & RT_K_MAXIMIZE) ? -gr[i] : gr[i];
		if (k->flags & RT_K_WD)
			grad = FMA((T)k->c[0], p[i], grad);
		sum[i] = sum[i] + (T)1 * grad * grad;                   /* addcmul_(grad, grad, value=1) */
		T std = SQRT(sum[i]) + (T)k->c[2];
		p[i] = p[i] + (T)k->c[1] * grad / std;                  /* addcdiv_(grad, std, -clr) */
	}
}

/*
 * Adadelta.  c: 0 weight_decay, 1 rho, 2 1-rho, 3 eps, 4 -lr.
 * slots 0 square_avg, 1 acc_delta.
 */
static void R(ref_adadelta)(const struct rt_kargs *a, size_t b, size_t e)
{
	T *p = a->p;
	const T *gr = a->g;
	T *sq = a->s[0], *acc = a->s[1];
	const struct rt_kscal *k = a->k;
	for (size_t i = b; i < e; i++) {
		T grad = (k->flags & RT_K_MAXIMIZE) ? -gr[i] : gr[i];
		if (k->flags & RT_K_WD)
			grad = FMA((T)k->c[0], p[i], grad);
		sq[i] = sq[i] * (T)k->c[1];
		sq[i] = sq[i] + (T)k->c[2] * grad * grad;
		T std = SQRT(sq[i] + (T)k->c[3]);                       /* square_avg.add(eps).sqrt_() */
		T delta = SQRT(acc[i] + (T)k->c[3]);                    /* acc_delta.add(eps).sqrt_() */
		delta = delta / std;
		delta = delta * grad;
		acc[i] = acc[i] * (T)k->c[1];
		acc[i] = acc[i] + (T)k->c[2] * delta * delta;
		p[i] = FMA((T)k->c[4], delta, p[i]);                    /* param.add_(delta, alpha=-lr) */
	}
}

/* Adamax.  c: 0 weight_decay, 1 1-beta1, 2 beta2, 3 eps, 4 -clr.  slots 0 exp_avg, 1 exp_inf. */
static void R(ref_adamax)(const struct rt_kargs *a, size_t b, size_t e)
{
	T *p = a->p;
	const T *gr = a->g;
	T *m = a->s[0], *u = a->s[1];
	const struct rt_kscal *k = a->k;
	for (size_t i = b; i < e; i++) {
		T grad = (k->flags & RT_K_MAXIMIZE) ? -gr[i] : gr[i];
		if (k->flags & RT_K_WD)
			grad = FMA((T)k->c[0], p[i], grad);
		m[i] = R(lerp)(m[i], grad, (T)k->c[1]);
		T decayed = u[i] * (T)k->c[2];                          /* exp_inf.mul_(beta2) */
		T ag = (grad < 0 ? -grad : grad) + (T)k->c[3];          /* grad.abs().add_(eps) */
		u[i] = R(maximum)(decayed, ag);
		p[i] = p[i] + (T)k->c[4] * m[i] / u[i];                 /* addcdiv_(exp_avg, exp_inf, -clr) */
	}
}

/*
 * NAdam.  c: 0 weight_decay, 1 1-lr*weight_decay, 2 1-beta1, 3 beta2,
 * 4 1-beta2, 5 bias_correction2, 6 eps, 7 value of the grad addcdiv,
 * 8 value of the exp_avg addcdiv.  slots 0 exp_avg, 1 exp_avg_sq.
 */
static void R(ref_nadam)(const struct rt_kargs *a, size_t b, size_t e)
{
	T *p = a->p;
	const T *gr = a->g;
	T *m = a->s[0], *v = a->s[1];
	const struct rt_kscal *k = a->k;
	for (size_t i = b; i < e; i++) {
		T grad = (k->flags & RT_K_MAXIMIZE) ? -gr[i] : gr[i];
		if (k->flags & RT_K_DECOUPLED)
			p[i] = p[i] * (T)k->c[1];
		else if (k->flags & RT_K_WD)
			grad = FMA((T)k->c[0], p[i], grad);
		m[i] = R(lerp)(m[i], grad, (T)k->c[2]);
		v[i] = v[i] * (T)k->c[3];
		v[i] = v[i] + (T)k->c[4] * grad * grad;
		T denom = SQRT(v[i] / (T)k->c[5]);                      /* exp_avg_sq.div(bc2).sqrt() */
		denom = denom + (T)k->c[6];
		p[i] = p[i] + (T)k->c[7] * grad / denom;
		p[i] = p[i] + (T)k->c[8] * m[i] / denom;
	}
}

/*
 * RAdam.  c: 0 weight_decay, 1 1-lr*weight_decay, 2 1-beta1, 3 beta2,
 * 4 1-beta2, 5 bias_correction1, 6 lr, 7 bias_correction2**0.5, 8 eps,
 * 9 rect.  slots 0 exp_avg, 1 exp_avg_sq.
 */
static void R(ref_radam)(const struct rt_kargs *a, size_t b, size_t e)
{
	T *p = a->p;
	const T *gr = a->g;
	T *m = a->s[0], *v = a->s[1];
	const struct rt_kscal *k = a->k;
	for (size_t i = b; i < e; i++) {
		T grad = (k->flags & RT_K_MAXIMIZE) ? -gr[i] : gr[i];
		if (k->flags & RT_K_DECOUPLED)
			p[i] = p[i] * (T)k->c[1];
		else if (k->flags & RT_K_WD)
			grad = FMA((T)k->c[0], p[i], grad);
		m[i] = R(lerp)(m[i], grad, (T)k->c[2]);
		v[i] = v[i] * (T)k->c[3];
		v[i] = v[i] + (T)k->c[4] * grad * grad;
		T upd = m[i] / (T)k->c[5];                              /* exp_avg / bias_correction1 */
		upd = upd * (T)k->c[6];                                 /* * lr */
		if (k->flags & RT_K_RECT) {
			T s = SQRT(v[i]) + (T)k->c[8];
			T adaptive = ((T)1 / s) * (T)k->c[7];           /* float / tensor = reciprocal * float */
			upd = upd * adaptive;
			upd = upd * (T)k->c[9];
		}
		p[i] = FMA((T)-1, upd, p[i]);                           /* param.add_(x, alpha=-1) */
	}
}

/*
 * RMSprop.  c: 0 weight_decay, 1 alpha, 2 1-alpha, 3 eps, 4 momentum,
 * 5 -lr.  slots 0 square_avg, 1 momentum_buffer, 2 grad_avg.
 */
static void R(ref_rmsprop)(const struct rt_kargs *a, size_t b, size_t e)
{
	T *p = a->p;
	const T *gr = a->g;
	T *sq = a->s[0], *buf = a->s[1], *ga = a->s[2];
	const struct rt_kscal *k = a->k;
	for (size_t i = b; i < e; i++) {
		T grad = (k->flags & RT_K_MAXIMIZE) ? -gr[i] : gr[i];
		if (k->flags & RT_K_WD)
			grad = FMA((T)k->c[0], p[i], grad);
		sq[i] = sq[i] * (T)k->c[1];
		sq[i] = sq[i] + (T)k->c[2] * grad * grad;
		T avg;
		if (k->flags & RT_K_CENTERED) {
			ga[i] = R(lerp)(ga[i], grad, (T)k->c[2]);
			avg = SQRT(sq[i] + (T)-1 * ga[i] * ga[i]);      /* addcmul(ga, ga, value=-1).sqrt_() */
		} else {
			avg = SQRT(sq[i]);
		}
		avg = avg + (T)k->c[3];
		if (k->flags & RT_K_MOMENTUM) {
			buf[i] = buf[i] * (T)k->c[4];
			buf[i] = buf[i] + (T)1 * grad / avg;            /* addcdiv_(grad, avg) */
			p[i] = FMA((T)k->c[5], buf[i], p[i]);
		} else {
			p[i] = p[i] + (T)k->c[5] * grad / avg;
		}
	}
}

/*
 * Rprop.  c: 0 etaminus, 1 etaplus, 2 step_size_min, 3 step_size_max.
 * slots 0 prev, 1 step_size.
 */
static void R(ref_rprop)(const struct rt_kargs *a, size_t b, size_t e)
{
	T *p = a->p;
	const T *gr = a->g;
	T *prev = a->s[0], *ss = a->s[1];
	const struct rt_kscal *k = a->k;
	for (size_t i = b; i < e; i++) {
		T grad = (k->flags & RT_K_MAXIMIZE) ? -gr[i] : gr[i];
		T sgn = R(sign)(grad * prev[i]);
		T factor;
		if (sgn > 0)
			factor = (T)k->c[1];
		else if (sgn < 0)
			factor = (T)k->c[0];
		else
			factor = (T)1;
		ss[i] = R(clamp)(ss[i] * factor, (T)k->c[2], (T)k->c[3]);
		if (factor == (T)k->c[0])                               /* grad[sign.eq(etaminus)] = 0 */
			grad = 0;
		p[i] = p[i] + (T)-1 * R(sign)(grad) * ss[i];            /* addcmul_(grad.sign(), step_size, -1) */
		prev[i] = grad;
	}
}

/* ASGD.  c: 0 weight_decay, 1 1-lambd*eta, 2 -eta, 3 mu.  slot 0 ax. */
static void R(ref_asgd)(const struct rt_kargs *a, size_t b, size_t e)
{
	T *p = a->p;
	const T *gr = a->g;
	T *ax = a->s[0];
	const struct rt_kscal *k = a->k;
	for (size_t i = b; i < e; i++) {
		T grad = (k->flags & RT_K_MAXIMIZE) ? -gr[i] : gr[i];
		if (k->flags & RT_K_WD)
			grad = FMA((T)k->c[0], p[i], grad);
		p[i] = p[i] * (T)k->c[1];                               /* param.mul_(1 - lambd*eta) */
		p[i] = FMA((T)k->c[2], grad, p[i]);                     /* param.add_(grad, alpha=-eta) */
		if (k->flags & RT_K_MU_ONE)
			ax[i] = p[i];
		else
			ax[i] = ax[i] + (p[i] - ax[i]) * (T)k->c[3];    /* ax.add_(param.sub(ax).mul_(mu)) */
	}
}

#undef R
#undef RCAT
#undef RCAT2
