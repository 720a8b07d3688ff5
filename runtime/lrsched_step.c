/*
 * lrsched_step.c - stepping torch's lr schedulers: the per-class formulas
 * (get_lr, the closed forms), _update_lr, the steps that override
 * LRScheduler.step (ReduceLROnPlateau, CosineAnnealingWarmRestarts,
 * SequentialLR, ChainedScheduler) and the public stepping calls.
 *
 * Stage: runtime (plan execution).  Every formula follows torch 2.11's
 * lr_scheduler.py operation by operation, in Python's evaluation order,
 * because learning rates are compared bit for bit with torch's (see
 * lrsched.c); Python's int and float arithmetic is spelled out first.
 */
#include "lrsched_int.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "ftsrt.h"

/* ---- Python arithmetic --------------------------------------------------- */

/* int % int, Python's floor modulo (b != 0; operands within the int limit). */
static int64_t pymod(int64_t a, int64_t b)
{
	int64_t r = a % b;
	if (r != 0 && ((r < 0) != (b < 0)))
		r += b;
	return r;
}

static int64_t pyfloordiv(int64_t a, int64_t b)
{
	int64_t q = a / b;
	if ((a % b != 0) && ((a < 0) != (b < 0)))
		q--;
	return q;
}

/* float % float (CPython float_rem), b != 0. */
static double pyfmod(double a, double b)
{
	double m = fmod(a, b);
	if (m != 0.0) {
		if ((b < 0) != (m < 0))
			m += b;
	} else {
		m = copysign(0.0, b);
	}
	return m;
}

static int raise_exc(struct rt_sched *s, enum rt_lambda_exc e, const char *what)
{
	return rt_sched_fail(s, FTSRT_EINVAL, "%s: %s raised %s", rt_sched_kind_name(s->kind), what,
			     rt_lambda_exc_name(e));
}

static int ppow(struct rt_sched *s, double a, double b, double *r)
{
	*r = 0.0;
	enum rt_lambda_exc e = rt_lambda_pow(a, b, r);
	return e == RT_LAMBDA_EXC_NONE ? 0 : raise_exc(s, e, "**");
}

int rt_sched_pdiv(struct rt_sched *s, double a, double b, double *r)
{
	*r = 0.0;
	if (b == 0.0)
		return raise_exc(s, RT_LAMBDA_EXC_ZERO_DIVISION, "division");
	*r = a / b;
	return 0;
}


/* ---- per-kind formulas ---------------------------------------------------- */

static bool has_closed_form(enum rt_sched_kind k)
{
	return k == RT_SCHED_STEP || k == RT_SCHED_MULTISTEP || k == RT_SCHED_CONSTANT ||
	       k == RT_SCHED_LINEAR || k == RT_SCHED_EXPONENTIAL || k == RT_SCHED_POLYNOMIAL ||
	       k == RT_SCHED_COSINE;
}

static int eval_lambda(struct rt_sched *s, size_t g, double *out)
{
	enum rt_lambda_exc e;
	uint32_t li = s->lambda_idx[g];
	if (li >= s->nlambdas)
		return rt_sched_fail(s, FTSRT_EINVAL, "%s: group %zu has no lambda",
				     rt_sched_kind_name(s->kind), g);
	if (rt_lambda_eval(&s->lambdas[li], (double)s->last_epoch, out, &e))
		return raise_exc(s, e, "lr_lambda");
	return 0;
}

/* count of m in the sorted milestones, and bisect_right */
static size_t ms_count(const struct rt_sched *s, int64_t m, size_t *bisect)
{
	size_t c = 0, b = 0;
	for (size_t i = 0; i < s->nmilestones; i++) {
		if (s->milestones[i] == m)
			c++;
		if (s->milestones[i] <= m)
			b = i + 1;
	}
	if (bisect)
		*bisect = b;
	return c;
}

static double anneal(const struct rt_sched *s, double start, double end, double pct)
{
	if (s->anneal == RT_ANNEAL_COS) {
		double cos_out = cos(M_PI * pct) + 1;
		return end + (start - end) / 2.0 * cos_out;
	}
	return (end - start) * pct + start;
}

/* OneCycleLR: the value of a phase key for group g. */
enum { K_INITIAL, K_MAX, K_MIN, K_MAXMOM, K_BASEMOM };

static double oc_key(const struct rt_sched *s, const struct rt_pg *pg, size_t g, int key)
{
	switch (key) {
	case K_INITIAL: return pg->initial_lr[g];
	case K_MAX: return s->max_lrs[g];
	case K_MIN: return s->min_lrs[g];
	case K_MAXMOM: return s->max_mom[g];
	default: return s->base_mom[g];
	}
}

static int onecycle_get_lr(struct rt_sched *s, struct rt_pg *pg, size_t *nout)
{
	static const int lr2[2][2] = {{K_INITIAL, K_MAX}, {K_MAX, K_MIN}};
	static const int mom2[2][2] = {{K_MAXMOM, K_BASEMOM}, {K_BASEMOM, K_MAXMOM}};
	static const int lr3[3][2] = {{K_INITIAL, K_MAX}, {K_MAX, K_INITIAL}, {K_INITIAL, K_MIN}};
	static const int mom3[3][2] = {{K_MAXMOM, K_BASEMOM}, {K_BASEMOM, K_MAXMOM},
				       {K_MAXMOM, K_MAXMOM}};
	int64_t step_num = s->last_epoch;
	if (step_num > s->total_steps)
		return rt_sched_fail(s, FTSRT_EINVAL,
				     "OneCycleLR: tried to step %lld times, the specified number of total "
				     "steps is %lld", (long long)step_num, (long long)s->total_steps);
	if (s->cycle_momentum && !pg->momentum)
		return rt_sched_fail(s, FTSRT_EINVAL, "OneCycleLR: the optimizer has no momentum");
	for (size_t g = 0; g < s->ngroups; g++) {
		double start_step = 0.0, lr = 0.0, m = 0.0;
		for (int i = 0; i < s->nphases; i++) {
			double end_step = s->end_step[i];
			if ((double)step_num <= end_step || i == s->nphases - 1) {
				double pct;
				int rc = rt_sched_pdiv(s, (double)step_num - start_step,
						       end_step - start_step, &pct);
				if (rc)
					return rc;
				const int *lk = s->three_phase ? lr3[i] : lr2[i];
				const int *mk = s->three_phase ? mom3[i] : mom2[i];
				lr = anneal(s, oc_key(s, pg, g, lk[0]), oc_key(s, pg, g, lk[1]), pct);
				if (s->cycle_momentum)
					m = anneal(s, oc_key(s, pg, g, mk[0]), oc_key(s, pg, g, mk[1]),
						   pct);
				break;
			}
			start_step = s->end_step[i];
		}
		s->scratch[g] = lr;
		if (s->cycle_momentum)
			pg->momentum[g] = m;
	}
	*nout = s->ngroups;
	return 0;
}

static int cyclic_scale(struct rt_sched *s, int64_t cycle, double *out)
{
	switch (s->cyclic_mode) {
	case RT_CYCLIC_TRIANGULAR:
		*out = 1.0;
		return 0;
	case RT_CYCLIC_TRIANGULAR2: {
		double p;
		int rc = ppow(s, 2.0, (double)(cycle - 1), &p);
		return rc ? rc : rt_sched_pdiv(s, 1.0, p, out);
	}
	default:
		return ppow(s, s->gamma, (double)s->last_epoch, out);
	}
}

static int cyclic_get_lr(struct rt_sched *s, struct rt_pg *pg, size_t *nout)
{
	double q;
	int rc = rt_sched_pdiv(s, (double)s->last_epoch, s->total_size, &q);
	if (rc)
		return rc;
	double cyc = floor(1 + q);
	if (!(fabs(cyc) < (double)RT_SCHED_INT_LIMIT))
		return rt_sched_fail(s, FTSRT_EINVAL, "CyclicLR: cycle out of range");
	int64_t cycle = (int64_t)cyc;
	double x = 1.0 + q - cyc;
	double scale_factor;
	if (x <= s->step_ratio)
		rc = rt_sched_pdiv(s, x, s->step_ratio, &scale_factor);
	else
		rc = rt_sched_pdiv(s, x - 1, s->step_ratio - 1, &scale_factor);
	if (rc)
		return rc;
	double sc;
	if ((rc = cyclic_scale(s, cycle, &sc)))
		return rc;
	size_t n = s->nfixed < s->ngroups ? s->nfixed : s->ngroups;
	for (size_t g = 0; g < n; g++) {
		double base_height = (s->max_lrs[g] - s->base_lrs[g]) * scale_factor;
		s->scratch[g] = s->base_lrs[g] + base_height * sc;
	}
	if (s->cycle_momentum) {
		if (!pg->momentum)
			return rt_sched_fail(s, FTSRT_EINVAL, "CyclicLR: the optimizer has no momentum");
		for (size_t g = 0; g < s->nfixed; g++) {
			double base_height = (s->max_mom[g] - s->base_mom[g]) * scale_factor;
			pg->momentum[g] = s->max_mom[g] - base_height * sc;
		}
	}
	*nout = n;
	return 0;
}

/* get_lr(): new lrs into s->scratch[0..*nout). */
/* Invariants init establishes and a loaded state might not (it is data). */
static int check_invariants(struct rt_sched *s)
{
	if ((s->kind == RT_SCHED_STEP && s->step_size == 0) ||
	    (s->kind == RT_SCHED_COSINE && s->T_max == 0) ||
	    (s->kind == RT_SCHED_ONECYCLE && (s->nphases < 2 || s->nphases > 3)))
		return rt_sched_fail(s, FTSRT_EINVAL, "%s: inconsistent scheduler state",
				     rt_sched_kind_name(s->kind));
	return 0;
}

static int get_lr(struct rt_sched *s, struct rt_pg *pg, size_t *nout)
{
	const double *lr = pg->lr;
	double *v = s->scratch;
	int64_t le = s->last_epoch;
	size_t n = s->ngroups;
	int rc = check_invariants(s);
	*nout = n;
	if (rc)
		return rc;

	switch (s->kind) {
	case RT_SCHED_LAMBDA:
		for (size_t g = 0; g < n; g++) {
			double f;
			if ((rc = eval_lambda(s, g, &f)))
				return rc;
			v[g] = s->base_lrs[g] * f;
		}
		return 0;
	case RT_SCHED_MULTIPLICATIVE:
		for (size_t g = 0; g < n; g++) {
			double f = 1.0;
			if (!s->is_initial) {
				if ((rc = eval_lambda(s, g, &f)))
					return rc;
				v[g] = lr[g] * f;
			} else {
				v[g] = lr[g];
			}
		}
		return 0;
	case RT_SCHED_STEP:
		for (size_t g = 0; g < n; g++)
			v[g] = (le == 0 || pymod(le, s->step_size) != 0) ? lr[g] : lr[g] * s->gamma;
		return 0;
	case RT_SCHED_MULTISTEP: {
		size_t c = ms_count(s, le, NULL);
		double f = 1.0;
		if (c && (rc = ppow(s, s->gamma, (double)c, &f)))
			return rc;
		for (size_t g = 0; g < n; g++)
			v[g] = c ? lr[g] * f : lr[g];
		return 0;
	}
	case RT_SCHED_CONSTANT: {
		double inv = 0.0;
		if (le != 0 && le == s->total_iters && (rc = rt_sched_pdiv(s, 1.0, s->factor, &inv)))
			return rc;
		for (size_t g = 0; g < n; g++)
			v[g] = le == 0 ? lr[g] * s->factor : le != s->total_iters ? lr[g] : lr[g] * inv;
		return 0;
	}
	case RT_SCHED_LINEAR: {
		double f = 0.0;
		bool mul = le != 0 && !(s->is_initial || le > s->total_iters);
		if (mul) {
			double d = (double)s->total_iters * s->start_factor +
				   (double)(le - 1) * (s->end_factor - s->start_factor);
			if ((rc = rt_sched_pdiv(s, s->end_factor - s->start_factor, d, &f)))
				return rc;
			f = 1.0 + f;
		}
		for (size_t g = 0; g < n; g++)
			v[g] = le == 0 ? lr[g] * s->start_factor : !mul ? lr[g] : lr[g] * f;
		return 0;
	}
	case RT_SCHED_EXPONENTIAL:
		for (size_t g = 0; g < n; g++)
			v[g] = s->is_initial ? lr[g] : lr[g] * s->gamma;
		return 0;
	case RT_SCHED_POLYNOMIAL: {
		bool keep = s->is_initial || le > s->total_iters;
		double decay = 1.0;
		if (!keep) {
			double a, b, q;
			if ((rc = rt_sched_pdiv(s, (double)le, (double)s->total_iters, &a)) ||
			    (rc = rt_sched_pdiv(s, (double)(le - 1), (double)s->total_iters, &b)) ||
			    (rc = rt_sched_pdiv(s, 1.0 - a, 1.0 - b, &q)) ||
			    (rc = ppow(s, q, s->power, &decay)))
				return rc;
		}
		for (size_t g = 0; g < n; g++)
			v[g] = keep ? lr[g] : lr[g] * decay;
		return 0;
	}
	case RT_SCHED_COSINE: {
		double T = (double)s->T_max;
		if (s->is_initial) {
			for (size_t g = 0; g < n; g++)
				v[g] = lr[g];
		} else if (s->step_count == 1 && le > 0) {
			for (size_t g = 0; g < n; g++)
				v[g] = s->eta_min + (s->base_lrs[g] - s->eta_min) *
							    (1 + cos((double)le * M_PI / T)) / 2;
		} else if (pymod(le - 1 - s->T_max, 2 * s->T_max) == 0) {
			for (size_t g = 0; g < n; g++)
				v[g] = lr[g] + (s->base_lrs[g] - s->eta_min) * (1 - cos(M_PI / T)) / 2;
		} else {
			double num = 1 + cos(M_PI * (double)le / T);
			double den = 1 + cos(M_PI * (double)(le - 1) / T);
			double q;
			if ((rc = rt_sched_pdiv(s, num, den, &q)))
				return rc;
			for (size_t g = 0; g < n; g++)
				v[g] = q * (lr[g] - s->eta_min) + s->eta_min;
		}
		return 0;
	}
	case RT_SCHED_COSINE_WR:
		for (size_t g = 0; g < n; g++)
			v[g] = s->eta_min + (s->base_lrs[g] - s->eta_min) *
						    (1 + cos(M_PI * s->T_cur / s->T_i)) / 2;
		return 0;
	case RT_SCHED_ONECYCLE:
		return onecycle_get_lr(s, pg, nout);
	case RT_SCHED_CYCLIC:
		return cyclic_get_lr(s, pg, nout);
	default:
		/* LRScheduler.get_lr: SequentialLR / ChainedScheduler have none */
		return rt_sched_fail(s, FTSRT_EINVAL, "%s has no get_lr() (NotImplementedError)",
				     rt_sched_kind_name(s->kind));
	}
}

static int closed_form(struct rt_sched *s, struct rt_pg *pg, size_t *nout)
{
	double *v = s->scratch;
	int64_t le = s->last_epoch;
	size_t n = s->ngroups;
	int rc = check_invariants(s);
	double f;
	*nout = n;
	if (rc)
		return rc;

	switch (s->kind) {
	case RT_SCHED_STEP:
		if ((rc = ppow(s, s->gamma, (double)pyfloordiv(le, s->step_size), &f)))
			return rc;
		for (size_t g = 0; g < n; g++)
			v[g] = s->base_lrs[g] * f;
		return 0;
	case RT_SCHED_MULTISTEP: {
		size_t b;
		ms_count(s, le, &b);
		if ((rc = ppow(s, s->gamma, (double)b, &f)))
			return rc;
		for (size_t g = 0; g < n; g++)
			v[g] = s->base_lrs[g] * f;
		return 0;
	}
	case RT_SCHED_CONSTANT:
		for (size_t g = 0; g < n; g++)
			v[g] = s->base_lrs[g] *
			       (s->factor + (double)(le >= s->total_iters) * (1 - s->factor));
		return 0;
	case RT_SCHED_LINEAR: {
		int64_t m = s->total_iters < le ? s->total_iters : le;
		if ((rc = rt_sched_pdiv(s, (s->end_factor - s->start_factor) * (double)m,
					(double)s->total_iters, &f)))
			return rc;
		for (size_t g = 0; g < n; g++)
			v[g] = s->base_lrs[g] * (s->start_factor + f);
		return 0;
	}
	case RT_SCHED_EXPONENTIAL:
		if ((rc = ppow(s, s->gamma, (double)le, &f)))
			return rc;
		for (size_t g = 0; g < n; g++)
			v[g] = s->base_lrs[g] * f;
		return 0;
	case RT_SCHED_POLYNOMIAL: {
		int64_t m = s->total_iters < le ? s->total_iters : le;
		double q;
		if ((rc = rt_sched_pdiv(s, (double)m, (double)s->total_iters, &q)) ||
		    (rc = ppow(s, 1.0 - q, s->power, &f)))
			return rc;
		for (size_t g = 0; g < n; g++)
			v[g] = s->base_lrs[g] * f;
		return 0;
	}
	case RT_SCHED_COSINE:
		for (size_t g = 0; g < n; g++)
			v[g] = s->eta_min + (s->base_lrs[g] - s->eta_min) *
						    (1 + cos(M_PI * (double)le / (double)s->T_max)) / 2;
		return 0;
	default:
		return get_lr(s, pg, nout);
	}
}

static void commit(struct rt_sched *s, struct rt_pg *pg, size_t n)
{
	for (size_t g = 0; g < n && g < pg->n; g++)
		pg->lr[g] = s->scratch[g];
	for (size_t g = 0; g < s->ngroups; g++)
		s->last_lr[g] = pg->lr[g];
}

/* LRScheduler._update_lr(epoch) */
static int update_lr(struct rt_sched *s, struct rt_pg *pg, bool has_epoch, int64_t epoch)
{
	size_t n;
	int rc;
	int64_t saved = s->last_epoch;
	if (has_epoch) {
		s->last_epoch = epoch;
		rc = has_closed_form(s->kind) ? closed_form(s, pg, &n) : get_lr(s, pg, &n);
	} else {
		s->last_epoch++;
		rc = get_lr(s, pg, &n);
	}
	if (rc) {
		s->last_epoch = saved;
		return rc;
	}
	commit(s, pg, n);
	return 0;
}

static int sched_step(struct rt_sched *s, struct rt_pg *pg, bool has_epoch, double epoch,
		      const double *metric);

/* LRScheduler._initial_step */
int rt_sched_initial_step(struct rt_sched *s, struct rt_pg *pg)
{
	s->step_count = 0;
	s->is_initial = true;
	int rc = sched_step(s, pg, false, 0.0, NULL);
	s->is_initial = false;
	return rc;
}

/* CosineAnnealingWarmRestarts.step(epoch) */
static int cawr_step(struct rt_sched *s, struct rt_pg *pg, bool has_epoch, double epoch)
{
	double T_cur = s->T_cur, T_i = s->T_i;
	if (!has_epoch && s->last_epoch < 0) {
		has_epoch = true;
		epoch = 0;
	}
	if (!has_epoch) {
		epoch = (double)(s->last_epoch + 1);
		T_cur = T_cur + 1;
		if (T_cur >= T_i) {
			T_cur = pyfmod(T_cur, T_i);
			T_i = T_i * (double)s->T_mult;
		}
	} else {
		if (!(epoch >= 0))
			return rt_sched_fail(s, FTSRT_EINVAL,
					     "CosineAnnealingWarmRestarts: expected non-negative epoch, "
					     "got %g", epoch);
		if (epoch > (double)RT_SCHED_INT_LIMIT)
			return rt_sched_fail(s, FTSRT_EINVAL, "CosineAnnealingWarmRestarts: epoch too large");
		double T0 = (double)s->T_0;
		if (epoch >= T0) {
			if (s->T_mult == 1) {
				T_cur = pyfmod(epoch, T0);
			} else {
				double tm = (double)s->T_mult;
				double x = epoch / T0 * (tm - 1) + 1;
				double n = trunc(log(x) / log(tm));
				double p;
				int rc = ppow(s, tm, n, &p);
				if (rc)
					return rc;
				T_cur = epoch - T0 * (p - 1) / (tm - 1);
				T_i = T0 * p;
			}
		} else {
			T_i = T0;
			T_cur = epoch;
		}
	}
	int64_t saved = s->last_epoch;
	s->last_epoch = (int64_t)floor(epoch);
	double sc = s->T_cur, si = s->T_i;
	s->T_cur = T_cur;
	s->T_i = T_i;
	size_t n;
	int rc = get_lr(s, pg, &n);
	if (rc) {
		s->last_epoch = saved;
		s->T_cur = sc;
		s->T_i = si;
		return rc;
	}
	commit(s, pg, n);
	return 0;
}

/* ReduceLROnPlateau.step(metrics, epoch) */
static int plateau_step(struct rt_sched *s, struct rt_pg *pg, bool has_epoch, double epoch,
			const double *metric)
{
	if (!metric)
		return rt_sched_fail(s, FTSRT_EINVAL, "ReduceLROnPlateau: step() needs the metric");
	if (has_epoch && (epoch != floor(epoch) || fabs(epoch) > (double)RT_SCHED_INT_LIMIT))
		return rt_sched_fail(s, FTSRT_EINVAL, "ReduceLROnPlateau: epoch must be an integer");
	double current = *metric;
	s->last_epoch = has_epoch ? (int64_t)epoch : s->last_epoch + 1;
	bool better;
	if (s->mode == RT_PLATEAU_MIN && s->threshold_mode == RT_THRESHOLD_REL)
		better = current < s->best * (1.0 - s->threshold);
	else if (s->mode == RT_PLATEAU_MIN)
		better = current < s->best - s->threshold;
	else if (s->threshold_mode == RT_THRESHOLD_REL)
		better = current > s->best * (s->threshold + 1.0);
	else
		better = current > s->best + s->threshold;
	if (better) {
		s->best = current;
		s->num_bad_epochs = 0;
	} else if (s->num_bad_epochs < RT_SCHED_INT_LIMIT) {
		s->num_bad_epochs++;
	}
	if (s->cooldown_counter > 0) {
		s->cooldown_counter--;
		s->num_bad_epochs = 0;
	}
	if (s->num_bad_epochs > s->patience) {
		/* _reduce_lr: the groups match min_lrs (rt_sched_add_group keeps them so) */
		for (size_t g = 0; g < s->ngroups; g++) {
			double old_lr = pg->lr[g];
			double new_lr = old_lr * s->factor;
			if (s->min_lrs[g] > new_lr)
				new_lr = s->min_lrs[g];
			if (old_lr - new_lr > s->eps)
				pg->lr[g] = new_lr;
		}
		s->cooldown_counter = s->cooldown;
		s->num_bad_epochs = 0;
	}
	for (size_t g = 0; g < s->ngroups; g++)
		s->last_lr[g] = pg->lr[g];
	return 0;
}

/* SequentialLR.step() */
static int sequential_step(struct rt_sched *s, struct rt_pg *pg)
{
	s->last_epoch++;
	size_t idx = 0;
	while (idx < s->nmilestones && s->milestones[idx] <= s->last_epoch)
		idx++;
	struct rt_sched *c = &s->children[idx];
	int rc;
	if (idx > 0 && s->milestones[idx - 1] == s->last_epoch) {
		/* scheduler._update_lr(0): CosineAnnealingWarmRestarts does not
		 * override _update_lr, composites have no get_lr */
		if (rt_sched_is_composite(c->kind))
			rc = get_lr(c, pg, &(size_t){0});
		else
			rc = update_lr(c, pg, true, 0);
	} else {
		rc = sched_step(c, pg, false, 0.0, NULL);
	}
	if (rc) {
		s->last_epoch--;
		snprintf(s->errmsg, sizeof(s->errmsg), "%s", c->errmsg);
		return rc;
	}
	for (size_t g = 0; g < s->ngroups; g++)
		s->last_lr[g] = c->last_lr[g];
	return 0;
}

static int chained_step(struct rt_sched *s, struct rt_pg *pg)
{
	for (size_t i = 0; i < s->nchildren; i++) {
		int rc = sched_step(&s->children[i], pg, false, 0.0, NULL);
		if (rc) {
			snprintf(s->errmsg, sizeof(s->errmsg), "%s", s->children[i].errmsg);
			return rc;
		}
	}
	for (size_t g = 0; g < s->ngroups; g++)
		s->last_lr[g] = pg->lr[g];
	return 0;
}

/* scheduler.step([epoch]) dispatched to the class that defines it */
static int sched_step(struct rt_sched *s, struct rt_pg *pg, bool has_epoch, double epoch,
		      const double *metric)
{
	if (s->last_epoch >= RT_SCHED_INT_LIMIT)
		return rt_sched_fail(s, FTSRT_EINVAL, "%s: epoch counter overflow",
				     rt_sched_kind_name(s->kind));
	switch (s->kind) {
	case RT_SCHED_PLATEAU:
		return plateau_step(s, pg, has_epoch, epoch, metric);
	case RT_SCHED_COSINE_WR:
		return cawr_step(s, pg, has_epoch, epoch);
	case RT_SCHED_SEQUENTIAL:
	case RT_SCHED_CHAINED:
		if (has_epoch)
			return rt_sched_fail(s, FTSRT_EINVAL, "%s.step() takes no epoch (TypeError)",
					     rt_sched_kind_name(s->kind));
		return s->kind == RT_SCHED_SEQUENTIAL ? sequential_step(s, pg) : chained_step(s, pg);
	default:
		if (has_epoch && (epoch != floor(epoch) || fabs(epoch) > (double)RT_SCHED_INT_LIMIT))
			return rt_sched_fail(s, FTSRT_EINVAL, "%s: epoch must be an integer",
					     rt_sched_kind_name(s->kind));
		s->step_count++;
		int rc = update_lr(s, pg, has_epoch, (int64_t)epoch);
		if (rc)
			s->step_count--;
		return rc;
	}
}

/* ---- public stepping ------------------------------------------------------------ */

static int check_groups(struct rt_sched *s, const struct rt_pg *pg)
{
	if (!pg || !pg->lr || !pg->initial_lr || pg->n != s->ngroups)
		return rt_sched_fail(s, FTSRT_EINVAL,
				     "%s: %zu parameter groups given, the scheduler knows %zu",
				     rt_sched_kind_name(s->kind), pg ? pg->n : 0, s->ngroups);
	return 0;
}

int rt_sched_step(struct rt_sched *s, struct rt_pg *pg, const double *metric)
{
	if (!s || !s->alloc)
		return FTSRT_EINVAL;
	s->errmsg[0] = '\0';
	int rc = check_groups(s, pg);
	return rc ? rc : sched_step(s, pg, false, 0.0, metric);
}

int rt_sched_step_epoch(struct rt_sched *s, struct rt_pg *pg, double epoch, const double *metric)
{
	if (!s || !s->alloc)
		return FTSRT_EINVAL;
	s->errmsg[0] = '\0';
	int rc = check_groups(s, pg);
	if (rc)
		return rc;
	if (!isfinite(epoch))
		return rt_sched_fail(s, FTSRT_EINVAL, "%s: epoch must be finite",
				     rt_sched_kind_name(s->kind));
	return sched_step(s, pg, true, epoch, metric);
}

bool rt_sched_has_lambdas(const struct rt_sched *s)
{
	return s && s->nlambdas > 0;
}

int rt_sched_last_lambda(struct rt_sched *s, double *factor)
{
	if (!s || !factor || !s->nlambdas || !s->ngroups)
		return s ? rt_sched_fail(s, FTSRT_EINVAL, "the scheduler has no lr_lambdas") : FTSRT_EINVAL;
	return eval_lambda(s, s->ngroups - 1, factor);
}

double rt_sched_last_lr(const struct rt_sched *s, size_t i)
{
	return s && i < s->ngroups ? s->last_lr[i] : (double)NAN;
}
