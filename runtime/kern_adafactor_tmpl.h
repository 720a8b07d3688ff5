/*
 * kern_adafactor_tmpl.h - body of the Adafactor kernel (torch.optim
 * Adafactor, _single_tensor_adafactor), included by kern_adafactor.c
 * (through kern_inst.h) once per element type with T, SFX, SQRT and FMA
 * defined.  No include guard.
 *
 * Reductions (norms, means) accumulate in double and round once to T, as
 * a correctly rounded stand-in for torch's vectorised float reductions.
 */

#define ACAT2(a, b) a##_##b
#define ACAT(a, b) ACAT2(a, b)
#define A(name) ACAT(name, SFX)

static T A(alerp)(T self, T end, T w)
{
	return (w < (T)0.5 && w > (T)-0.5) ? FMA(w, end - self, self)
					   : FMA(w - (T)1, end - self, end);
}

static T A(clamp_min)(T x, T lo)
{
	return (x != x) ? x : (x < lo ? lo : x);
}

static void A(adafactor)(T *p, const T *gr, const struct rt_adafactor *a)
{
	const size_t n = a->numel;
	T *upd = a->work;
	const double step = a->step;
	const double omb2 = pow(step, a->beta2_decay);          /* one_minus_beta2_t */
	const double rho = a->lr < 1 / sqrt(step) ? a->lr : 1 / sqrt(step);
	double pn = 0;
	for (size_t i = 0; i < n; i++)
		pn += (double)p[i] * (double)p[i];
	const double pnorm = (double)(T)sqrt(pn);               /* param.norm(2).item() */
	double alpha = pnorm / sqrt((double)n);
	alpha = (a->eps2 > alpha ? a->eps2 : alpha) * rho;
	if (a->wd != 0) {
		const T dec = (T)(1 - a->lr * a->wd);
		for (size_t i = 0; i < n; i++)
			p[i] = p[i] * dec;
	}
	const T sg = a->maximize ? (T)-1 : (T)1;
	const T w = (T)omb2;
	const T eps1 = (T)a->eps1, eps1sq = (T)(a->eps1 * a->eps1);
	if (a->ndim >= 2) {
		const size_t C = (size_t)a->shape[a->ndim - 1], R = (size_t)a->shape[a->ndim - 2];
		const size_t B = (R && C) ? n / (R * C) : 0;
		T *rv = a->row_var, *cv = a->col_var;
		for (size_t bi = 0; bi < B; bi++) {
			const T *g = gr + bi * R * C;
			T *rvb = rv + bi * R, *cvb = cv + bi * C;
			for (size_t r = 0; r < R; r++) {       /* norm(dim=-1).square_().div_(C) */
				double s = 0;
				for (size_t c = 0; c < C; c++)
					s += (double)(sg * g[r * C + c]) * (double)(sg * g[r * C + c]);
				T nr = (T)sqrt(s);
				T mean = (nr * nr) / (T)C;
				rvb[r] = A(alerp)(rvb[r], mean, w);
			}
			for (size_t c = 0; c < C; c++) {       /* norm(dim=-2).square_().div_(R) */
				double s = 0;
				for (size_t r = 0; r < R; r++)
					s += (double)(sg * g[r * C + c]) * (double)(sg * g[r * C + c]);
				T nr = (T)sqrt(s);
				T mean = (nr * nr) / (T)R;
				cvb[c] = A(alerp)(cvb[c], mean, w);
			}
			double rs = 0;
			for (size_t r = 0; r < R; r++)
				rs += (double)rvb[r];
			T rmean = A(clamp_min)((T)(rs / (double)R), eps1);
			for (size_t r = 0; r < R; r++)
				for (size_t c = 0; c < C; c++) {
					T ve = rvb[r] * cvb[c];         /* row_var @ col_var */
					ve = ve / rmean;
					ve = A(clamp_min)(ve, eps1sq);
					ve = (T)1 / SQRT(ve);           /* rsqrt_ */
					upd[bi * R * C + r * C + c] = ve * (sg * g[r * C + c]);
				}
		}
	} else {
		T *var = a->variance;
		for (size_t i = 0; i < n; i++) {
			T gi = sg * gr[i];
			var[i] = A(alerp)(var[i], gi * gi, w);
			T ve = A(clamp_min)(var[i], eps1sq);
			upd[i] = ((T)1 / SQRT(ve)) * gi;
		}
	}
	double un = 0;
	for (size_t i = 0; i < n; i++)
		un += (double)upd[i] * (double)upd[i];
	double unorm = (double)(T)sqrt(un);
	double denom = unorm / (sqrt((double)n) * a->d);
	if (denom < 1.0)
		denom = 1.0;
	const T coef = (T)(-alpha / denom);
	for (size_t i = 0; i < n; i++)
		p[i] = FMA(coef, upd[i], p[i]);
}

#undef A
#undef ACAT
#undef ACAT2
