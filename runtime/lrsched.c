/*
 * lrsched.c - torch.optim.lr_scheduler, reproduced step for step.
 *
 * Stage: runtime.  Every formula below follows torch 2.11's
 * lr_scheduler.py operation by operation, in Python's evaluation order
 * (left to right, `a * b / c` is `(a * b) / c`), because learning rates are
 * compared bit for bit with torch's.  Python ints are int64_t here (bounded
 * by RT_SCHED_INT_LIMIT), floats are doubles; `%` and `//` are Python's
 * floor forms.  The class structure of torch is mirrored by a few
 * functions: sched_step (LRScheduler.step and the overriding steps),
 * update_lr (_update_lr), get_lr / closed_form (the per-class formulas),
 * initial_step (_initial_step).
 */
#include "lrsched.h"
#include "mem.h"

#include "bytes.h"

#include <stddef.h>

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ftsrt.h"

/* ORDER KINDS */
static const char *const kind_names[RT_SCHED_KIND_COUNT_] = {
	"LambdaLR", "MultiplicativeLR", "StepLR", "MultiStepLR", "ExponentialLR",
	"CosineAnnealingLR", "ReduceLROnPlateau", "CosineAnnealingWarmRestarts", "ConstantLR",
	"LinearLR", "PolynomialLR", "OneCycleLR", "CyclicLR", "SequentialLR", "ChainedScheduler",
};

const char *rt_sched_kind_name(enum rt_sched_kind kind)
{
	return (unsigned)kind < RT_SCHED_KIND_COUNT_ ? kind_names[kind] : "?";
}

int rt_sched_kind_from_name(const char *name)
{
	if (!name)
		return -1;
	static const char prefix[] = "torch.optim.lr_scheduler.";
	if (!strncmp(name, prefix, sizeof(prefix) - 1))
		name += sizeof(prefix) - 1;
	for (int k = 0; k < RT_SCHED_KIND_COUNT_; k++)
		if (!strcmp(name, kind_names[k]))
			return k;
	return -1;
}

/* The numeric constructor arguments, by torch's names: the one table the
 * plan reader (run.c) and the golden replay (verify_lrs.c) share. */
static const struct {
	const char *key;
	size_t off;
	bool is_int;
} numeric_args[] = {
	{"gamma", offsetof(struct rt_sched_config, gamma), false},
	{"eta_min", offsetof(struct rt_sched_config, eta_min), false},
	{"factor", offsetof(struct rt_sched_config, factor), false},
	{"start_factor", offsetof(struct rt_sched_config, start_factor), false},
	{"end_factor", offsetof(struct rt_sched_config, end_factor), false},
	{"power", offsetof(struct rt_sched_config, power), false},
	{"threshold", offsetof(struct rt_sched_config, threshold), false},
	{"eps", offsetof(struct rt_sched_config, eps), false},
	{"pct_start", offsetof(struct rt_sched_config, pct_start), false},
	{"div_factor", offsetof(struct rt_sched_config, div_factor), false},
	{"final_div_factor", offsetof(struct rt_sched_config, final_div_factor), false},
	{"step_size_up", offsetof(struct rt_sched_config, step_size_up), false},
	{"step_size_down", offsetof(struct rt_sched_config, step_size_down), false},
	{"step_size", offsetof(struct rt_sched_config, step_size), true},
	{"T_max", offsetof(struct rt_sched_config, T_max), true},
	{"T_0", offsetof(struct rt_sched_config, T_0), true},
	{"T_mult", offsetof(struct rt_sched_config, T_mult), true},
	{"total_iters", offsetof(struct rt_sched_config, total_iters), true},
	{"patience", offsetof(struct rt_sched_config, patience), true},
	{"cooldown", offsetof(struct rt_sched_config, cooldown), true},
	{"total_steps", offsetof(struct rt_sched_config, total_steps), true},
	{"epochs", offsetof(struct rt_sched_config, epochs), true},
	{"steps_per_epoch", offsetof(struct rt_sched_config, steps_per_epoch), true},
	{"last_epoch", offsetof(struct rt_sched_config, last_epoch), true},
};

void *rt_sched_config_field(struct rt_sched_config *cfg, const char *key, bool *is_int)
{
	for (size_t i = 0; i < sizeof(numeric_args) / sizeof(numeric_args[0]); i++)
		if (strcmp(key, numeric_args[i].key) == 0) {
			*is_int = numeric_args[i].is_int;
			return (char *)cfg + numeric_args[i].off;
		}
	return NULL;
}

void rt_sched_config_defaults(struct rt_sched_config *cfg, enum rt_sched_kind kind)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->kind = kind;
	cfg->last_epoch = -1;
	cfg->gamma = kind == RT_SCHED_CYCLIC ? 1.0 : kind == RT_SCHED_EXPONENTIAL ? (double)NAN : 0.1;
	cfg->step_size = RT_SCHED_UNSET;
	cfg->T_max = RT_SCHED_UNSET;
	cfg->T_0 = RT_SCHED_UNSET;
	cfg->T_mult = 1;
	cfg->eta_min = 0.0;
	cfg->factor = kind == RT_SCHED_PLATEAU ? 0.1 : 1.0 / 3;
	cfg->total_iters = 5;
	cfg->start_factor = 1.0 / 3;
	cfg->end_factor = 1.0;
	cfg->power = 1.0;
	cfg->mode = RT_PLATEAU_MIN;
	cfg->threshold = 1e-4;
	cfg->threshold_mode = RT_THRESHOLD_REL;
	cfg->patience = 10;
	cfg->cooldown = 0;
	cfg->min_lr.scalar = 0.0;
	cfg->eps = 1e-8;
	cfg->max_lr.scalar = NAN;
	cfg->base_lr.scalar = NAN;
	cfg->total_steps = 0;
	cfg->pct_start = 0.3;
	cfg->anneal_strategy = RT_ANNEAL_COS;
	cfg->cycle_momentum = true;
	cfg->base_momentum.scalar = kind == RT_SCHED_CYCLIC ? 0.8 : 0.85;
	cfg->max_momentum.scalar = kind == RT_SCHED_CYCLIC ? 0.9 : 0.95;
	cfg->div_factor = 25.0;
	cfg->final_div_factor = 1e4;
	cfg->step_size_up = 2000;
	cfg->step_size_down = NAN;
	cfg->cyclic_mode = RT_CYCLIC_TRIANGULAR;
}

/* ---- errors, allocation ---------------------------------------------------- */

static int fail(struct rt_sched *s, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int fail(struct rt_sched *s, int status, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(s->errmsg, sizeof(s->errmsg), fmt, ap);
	va_end(ap);
	return status;
}

static void *mem(struct rt_sched *s, void *ptr, size_t osize, size_t nsize)
{
	return s->alloc(s->ud, ptr, osize, nsize);
}

#define NARRAYS 7

static double **darray(struct rt_sched *s, int i)
{
	double **a[NARRAYS] = {&s->base_lrs, &s->last_lr, &s->min_lrs, &s->max_lrs,
			       &s->base_mom, &s->max_mom, &s->scratch};
	return a[i];
}

/* Grow every per-group array to hold at least want entries. */
static int reserve(struct rt_sched *s, size_t want)
{
	if (want <= s->cap)
		return 0;
	size_t ncap = s->cap ? s->cap : 4;
	while (ncap < want)
		ncap *= 2;
	if (ncap > ((size_t)1 << 24))
		return fail(s, FTSRT_EINVAL, "too many parameter groups");
	for (int i = 0; i < NARRAYS; i++) {
		double **p = darray(s, i);
		double *n = mem(s, *p, s->cap * sizeof(double), ncap * sizeof(double));
		if (!n)
			return fail(s, FTSRT_ENOMEM, "out of memory");
		for (size_t j = s->cap; j < ncap; j++)
			n[j] = 0.0;
		*p = n;
	}
	uint32_t *li = mem(s, s->lambda_idx, s->cap * sizeof(uint32_t), ncap * sizeof(uint32_t));
	if (!li)
		return fail(s, FTSRT_ENOMEM, "out of memory");
	for (size_t j = s->cap; j < ncap; j++)
		li[j] = 0;
	s->lambda_idx = li;
	s->cap = ncap;
	return 0;
}

void rt_sched_release(struct rt_sched *s)
{
	if (!s || !s->alloc)
		return;
	for (size_t i = 0; i < s->nchildren; i++)
		rt_sched_release(&s->children[i]);
	if (s->children)
		mem(s, s->children, s->nchildren * sizeof(*s->children), 0);
	for (int i = 0; i < NARRAYS; i++) {
		double **p = darray(s, i);
		if (*p)
			mem(s, *p, s->cap * sizeof(double), 0);
		*p = NULL;
	}
	if (s->lambda_idx)
		mem(s, s->lambda_idx, s->cap * sizeof(uint32_t), 0);
	if (s->lambdas)
		mem(s, s->lambdas, s->nlambdas * sizeof(*s->lambdas), 0);
	if (s->lambda_code)
		mem(s, s->lambda_code, s->lambda_code_len, 0);
	if (s->milestones)
		mem(s, s->milestones, s->nmilestones * sizeof(int64_t), 0);
	rt_sched_alloc_fn a = s->alloc;
	void *ud = s->ud;
	memset(s, 0, sizeof(*s));
	s->alloc = a;
	s->ud = ud;
}

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
	return fail(s, FTSRT_EINVAL, "%s: %s raised %s", kind_names[s->kind], what,
		    rt_lambda_exc_name(e));
}

static int ppow(struct rt_sched *s, double a, double b, double *r)
{
	*r = 0.0;
	enum rt_lambda_exc e = rt_lambda_pow(a, b, r);
	return e == RT_LAMBDA_EXC_NONE ? 0 : raise_exc(s, e, "**");
}

static int pdiv(struct rt_sched *s, double a, double b, double *r)
{
	*r = 0.0;
	if (b == 0.0)
		return raise_exc(s, RT_LAMBDA_EXC_ZERO_DIVISION, "division");
	*r = a / b;
	return 0;
}

static bool int_ok(int64_t v)
{
	return v >= -RT_SCHED_INT_LIMIT && v <= RT_SCHED_INT_LIMIT;
}

/* ---- per-kind formulas ---------------------------------------------------- */

static bool has_closed_form(enum rt_sched_kind k)
{
	return k == RT_SCHED_STEP || k == RT_SCHED_MULTISTEP || k == RT_SCHED_CONSTANT ||
	       k == RT_SCHED_LINEAR || k == RT_SCHED_EXPONENTIAL || k == RT_SCHED_POLYNOMIAL ||
	       k == RT_SCHED_COSINE;
}

static bool is_composite(enum rt_sched_kind k)
{
	return k == RT_SCHED_SEQUENTIAL || k == RT_SCHED_CHAINED;
}

static int eval_lambda(struct rt_sched *s, size_t g, double *out)
{
	enum rt_lambda_exc e;
	uint32_t li = s->lambda_idx[g];
	if (li >= s->nlambdas)
		return fail(s, FTSRT_EINVAL, "%s: group %zu has no lambda", kind_names[s->kind], g);
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
		return fail(s, FTSRT_EINVAL,
			    "OneCycleLR: tried to step %lld times, the specified number of total "
			    "steps is %lld", (long long)step_num, (long long)s->total_steps);
	if (s->cycle_momentum && !pg->momentum)
		return fail(s, FTSRT_EINVAL, "OneCycleLR: the optimizer has no momentum");
	for (size_t g = 0; g < s->ngroups; g++) {
		double start_step = 0.0, lr = 0.0, m = 0.0;
		for (int i = 0; i < s->nphases; i++) {
			double end_step = s->end_step[i];
			if ((double)step_num <= end_step || i == s->nphases - 1) {
				double pct;
				int rc = pdiv(s, (double)step_num - start_step, end_step - start_step, &pct);
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
		return rc ? rc : pdiv(s, 1.0, p, out);
	}
	default:
		return ppow(s, s->gamma, (double)s->last_epoch, out);
	}
}

static int cyclic_get_lr(struct rt_sched *s, struct rt_pg *pg, size_t *nout)
{
	double q;
	int rc = pdiv(s, (double)s->last_epoch, s->total_size, &q);
	if (rc)
		return rc;
	double cyc = floor(1 + q);
	if (!(fabs(cyc) < (double)RT_SCHED_INT_LIMIT))
		return fail(s, FTSRT_EINVAL, "CyclicLR: cycle out of range");
	int64_t cycle = (int64_t)cyc;
	double x = 1.0 + q - cyc;
	double scale_factor;
	if (x <= s->step_ratio)
		rc = pdiv(s, x, s->step_ratio, &scale_factor);
	else
		rc = pdiv(s, x - 1, s->step_ratio - 1, &scale_factor);
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
			return fail(s, FTSRT_EINVAL, "CyclicLR: the optimizer has no momentum");
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
		return fail(s, FTSRT_EINVAL, "%s: inconsistent scheduler state", kind_names[s->kind]);
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
		if (le != 0 && le == s->total_iters && (rc = pdiv(s, 1.0, s->factor, &inv)))
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
			if ((rc = pdiv(s, s->end_factor - s->start_factor, d, &f)))
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
			if ((rc = pdiv(s, (double)le, (double)s->total_iters, &a)) ||
			    (rc = pdiv(s, (double)(le - 1), (double)s->total_iters, &b)) ||
			    (rc = pdiv(s, 1.0 - a, 1.0 - b, &q)) || (rc = ppow(s, q, s->power, &decay)))
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
			if ((rc = pdiv(s, num, den, &q)))
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
		return fail(s, FTSRT_EINVAL, "%s has no get_lr() (NotImplementedError)",
			    kind_names[s->kind]);
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
		if ((rc = pdiv(s, (s->end_factor - s->start_factor) * (double)m,
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
		if ((rc = pdiv(s, (double)m, (double)s->total_iters, &q)) ||
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
static int initial_step(struct rt_sched *s, struct rt_pg *pg)
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
			return fail(s, FTSRT_EINVAL,
				    "CosineAnnealingWarmRestarts: expected non-negative epoch, got %g",
				    epoch);
		if (epoch > (double)RT_SCHED_INT_LIMIT)
			return fail(s, FTSRT_EINVAL, "CosineAnnealingWarmRestarts: epoch too large");
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
		return fail(s, FTSRT_EINVAL, "ReduceLROnPlateau: step() needs the metric");
	if (has_epoch && (epoch != floor(epoch) || fabs(epoch) > (double)RT_SCHED_INT_LIMIT))
		return fail(s, FTSRT_EINVAL, "ReduceLROnPlateau: epoch must be an integer");
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
		if (is_composite(c->kind))
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
		return fail(s, FTSRT_EINVAL, "%s: epoch counter overflow", kind_names[s->kind]);
	switch (s->kind) {
	case RT_SCHED_PLATEAU:
		return plateau_step(s, pg, has_epoch, epoch, metric);
	case RT_SCHED_COSINE_WR:
		return cawr_step(s, pg, has_epoch, epoch);
	case RT_SCHED_SEQUENTIAL:
	case RT_SCHED_CHAINED:
		if (has_epoch)
			return fail(s, FTSRT_EINVAL, "%s.step() takes no epoch (TypeError)",
				    kind_names[s->kind]);
		return s->kind == RT_SCHED_SEQUENTIAL ? sequential_step(s, pg) : chained_step(s, pg);
	default:
		if (has_epoch && (epoch != floor(epoch) || fabs(epoch) > (double)RT_SCHED_INT_LIMIT))
			return fail(s, FTSRT_EINVAL, "%s: epoch must be an integer", kind_names[s->kind]);
		s->step_count++;
		int rc = update_lr(s, pg, has_epoch, (int64_t)epoch);
		if (rc)
			s->step_count--;
		return rc;
	}
}

/* SequentialLR.recursive_undo */
static void recursive_undo(struct rt_sched *s)
{
	for (size_t i = 0; i < s->nchildren; i++) {
		struct rt_sched *c = &s->children[i];
		if (is_composite(c->kind))
			recursive_undo(c);
		else
			c->last_epoch--;
	}
}

/* ---- construction ------------------------------------------------------------ */

static int format_param(struct rt_sched *s, const char *name, const struct rt_sched_param *p,
			double *dst, size_t n)
{
	if (p->list) {
		if (p->n != n)
			return fail(s, FTSRT_EINVAL,
				    "%s must have the same length as optimizer.param_groups. %s has "
				    "%zu values, param_groups has %zu.", name, name, p->n, n);
		for (size_t i = 0; i < n; i++)
			dst[i] = p->list[i];
	} else {
		for (size_t i = 0; i < n; i++)
			dst[i] = p->scalar;
	}
	for (size_t i = 0; i < n; i++)
		if (isnan(dst[i]))
			return fail(s, FTSRT_EINVAL, "%s: %s is required", kind_names[s->kind], name);
	return 0;
}

/* LRScheduler.__init__: initial_lr, base_lrs, last_epoch, the initial step */
static int base_init(struct rt_sched *s, struct rt_pg *pg, int64_t last_epoch)
{
	for (size_t g = 0; g < pg->n; g++) {
		if (last_epoch == -1) {
			if (isnan(pg->initial_lr[g]))
				pg->initial_lr[g] = pg->lr[g];
		} else if (isnan(pg->initial_lr[g])) {
			return fail(s, FTSRT_EINVAL,
				    "param 'initial_lr' is not specified in param_groups[%zu] when "
				    "resuming an optimizer", g);
		}
		s->base_lrs[g] = pg->initial_lr[g];
	}
	s->last_epoch = last_epoch;
	return initial_step(s, pg);
}

static int copy_lambdas(struct rt_sched *s, const struct rt_sched_config *cfg, size_t n)
{
	if (!cfg->lambdas || cfg->nlambdas == 0)
		return fail(s, FTSRT_EINVAL, "%s: lr_lambda is required", kind_names[s->kind]);
	if (cfg->lambda_list && cfg->nlambdas != n)
		return fail(s, FTSRT_EINVAL, "Expected %zu lr_lambdas, but got %zu", n, cfg->nlambdas);
	if (!cfg->lambda_list && cfg->nlambdas != 1)
		return fail(s, FTSRT_EINVAL, "%s: one lr_lambda expected", kind_names[s->kind]);
	size_t total = 0;
	for (size_t i = 0; i < cfg->nlambdas; i++) {
		if (!cfg->lambdas[i].code || cfg->lambdas[i].len > RT_LAMBDA_MAX_LEN)
			return fail(s, FTSRT_EINVAL, "lr_lambda %zu is not a program", i);
		total += cfg->lambdas[i].len;
	}
	s->lambda_code = mem(s, NULL, 0, total);
	s->lambdas = mem(s, NULL, 0, cfg->nlambdas * sizeof(*s->lambdas));
	if (!s->lambda_code || !s->lambdas)
		return fail(s, FTSRT_ENOMEM, "out of memory");
	s->lambda_code_len = total;
	s->nlambdas = cfg->nlambdas;
	size_t off = 0;
	for (size_t i = 0; i < cfg->nlambdas; i++) {
		struct rt_lambda_diag d;
		memcpy(s->lambda_code + off, cfg->lambdas[i].code, cfg->lambdas[i].len);
		if (rt_lambda_validate(s->lambda_code + off, cfg->lambdas[i].len, &s->lambdas[i], &d))
			return fail(s, FTSRT_EINVAL, "lr_lambda %zu: %s at byte %zu", i, d.msg,
				    d.offset);
		off += cfg->lambdas[i].len;
	}
	for (size_t g = 0; g < n; g++)
		s->lambda_idx[g] = cfg->lambda_list ? (uint32_t)g : 0;
	return 0;
}

static int check_ints(struct rt_sched *s, const struct rt_sched_config *c)
{
	const int64_t v[] = {c->last_epoch, c->total_iters, c->patience, c->cooldown,
			     c->total_steps, c->epochs, c->steps_per_epoch, c->T_mult};
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
		if (!int_ok(v[i]))
			return fail(s, FTSRT_EINVAL, "%s: integer argument out of range",
				    kind_names[s->kind]);
	for (size_t i = 0; i < c->nmilestones; i++)
		if (!int_ok(c->milestones[i]))
			return fail(s, FTSRT_EINVAL, "%s: milestone out of range", kind_names[s->kind]);
	if (c->last_epoch < -1)
		return fail(s, FTSRT_EINVAL, "%s: last_epoch must be >= -1", kind_names[s->kind]);
	return 0;
}

static int copy_milestones(struct rt_sched *s, const struct rt_sched_config *cfg, bool sort)
{
	if (cfg->nmilestones == 0)
		return 0;
	if (!cfg->milestones)
		return fail(s, FTSRT_EINVAL, "%s: milestones missing", kind_names[s->kind]);
	s->milestones = mem(s, NULL, 0, cfg->nmilestones * sizeof(int64_t));
	if (!s->milestones)
		return fail(s, FTSRT_ENOMEM, "out of memory");
	s->nmilestones = cfg->nmilestones;
	memcpy(s->milestones, cfg->milestones, cfg->nmilestones * sizeof(int64_t));
	if (sort) /* insertion sort: milestone lists are short */
		for (size_t i = 1; i < s->nmilestones; i++)
			for (size_t j = i; j > 0 && s->milestones[j - 1] > s->milestones[j]; j--) {
				int64_t t = s->milestones[j];
				s->milestones[j] = s->milestones[j - 1];
				s->milestones[j - 1] = t;
			}
	return 0;
}

static int init_children(struct rt_sched *s, const struct rt_sched_config *cfg, struct rt_pg *pg)
{
	if (cfg->nchildren < 1 || !cfg->children)
		return fail(s, FTSRT_EINVAL, "%s expects at least one scheduler, but got no scheduler.",
			    kind_names[s->kind]);
	s->children = mem(s, NULL, 0, cfg->nchildren * sizeof(*s->children));
	if (!s->children)
		return fail(s, FTSRT_ENOMEM, "out of memory");
	memset(s->children, 0, cfg->nchildren * sizeof(*s->children));
	for (size_t i = 0; i < cfg->nchildren; i++) {
		s->children[i].alloc = s->alloc;
		s->children[i].ud = s->ud;
	}
	s->nchildren = cfg->nchildren;
	for (size_t i = 0; i < cfg->nchildren; i++) {
		if (cfg->children[i].kind == RT_SCHED_PLATEAU)
			return fail(s, FTSRT_EINVAL,
				    "%s does not support `ReduceLROnPlateau` scheduler (index %zu)",
				    kind_names[s->kind], i);
		int rc = rt_sched_init(&s->children[i], &cfg->children[i], pg, s->alloc, s->ud);
		if (rc)
			return fail(s, rc, "%s child %zu (%s): %s", kind_names[s->kind], i,
				    rt_sched_kind_name(cfg->children[i].kind), s->children[i].errmsg);
	}
	return 0;
}

static int init_kind(struct rt_sched *s, const struct rt_sched_config *cfg, struct rt_pg *pg)
{
	size_t n = pg->n;
	int rc;
	switch (cfg->kind) {
	case RT_SCHED_LAMBDA:
	case RT_SCHED_MULTIPLICATIVE:
		if ((rc = copy_lambdas(s, cfg, n)))
			return rc;
		return base_init(s, pg, cfg->last_epoch);
	case RT_SCHED_STEP:
		if (cfg->step_size == RT_SCHED_UNSET || cfg->step_size == 0 || !int_ok(cfg->step_size))
			return fail(s, FTSRT_EINVAL, "StepLR: step_size must be a non-zero integer");
		s->step_size = cfg->step_size;
		s->gamma = cfg->gamma;
		return base_init(s, pg, cfg->last_epoch);
	case RT_SCHED_MULTISTEP:
		if ((rc = copy_milestones(s, cfg, true)))
			return rc;
		s->gamma = cfg->gamma;
		return base_init(s, pg, cfg->last_epoch);
	case RT_SCHED_CONSTANT:
		if (!(cfg->factor >= 0 && cfg->factor <= 1.0))
			return fail(s, FTSRT_EINVAL,
				    "Constant multiplicative factor expected to be between 0 and 1.");
		s->factor = cfg->factor;
		s->total_iters = cfg->total_iters;
		return base_init(s, pg, cfg->last_epoch);
	case RT_SCHED_LINEAR:
		if (!(cfg->start_factor > 0 && cfg->start_factor <= 1.0))
			return fail(s, FTSRT_EINVAL,
				    "Starting multiplicative factor expected to be greater than 0 and "
				    "less or equal to 1.");
		if (!(cfg->end_factor >= 0 && cfg->end_factor <= 1.0))
			return fail(s, FTSRT_EINVAL,
				    "Ending multiplicative factor expected to be between 0 and 1.");
		s->start_factor = cfg->start_factor;
		s->end_factor = cfg->end_factor;
		s->total_iters = cfg->total_iters;
		return base_init(s, pg, cfg->last_epoch);
	case RT_SCHED_EXPONENTIAL:
		if (isnan(cfg->gamma))
			return fail(s, FTSRT_EINVAL, "ExponentialLR: gamma is required");
		s->gamma = cfg->gamma;
		return base_init(s, pg, cfg->last_epoch);
	case RT_SCHED_POLYNOMIAL:
		s->total_iters = cfg->total_iters;
		s->power = cfg->power;
		return base_init(s, pg, cfg->last_epoch);
	case RT_SCHED_COSINE:
		if (cfg->T_max == RT_SCHED_UNSET || cfg->T_max == 0 || !int_ok(cfg->T_max))
			return fail(s, FTSRT_EINVAL, "CosineAnnealingLR: T_max must be a non-zero integer");
		s->T_max = cfg->T_max;
		s->eta_min = cfg->eta_min;
		return base_init(s, pg, cfg->last_epoch);
	case RT_SCHED_COSINE_WR:
		if (cfg->T_0 == RT_SCHED_UNSET || cfg->T_0 <= 0 || !int_ok(cfg->T_0))
			return fail(s, FTSRT_EINVAL, "Expected positive integer T_0, but got %lld",
				    (long long)cfg->T_0);
		if (cfg->T_mult < 1)
			return fail(s, FTSRT_EINVAL, "Expected integer T_mult >= 1, but got %lld",
				    (long long)cfg->T_mult);
		s->T_0 = cfg->T_0;
		s->T_i = (double)cfg->T_0;
		s->T_mult = cfg->T_mult;
		s->eta_min = cfg->eta_min;
		s->T_cur = (double)cfg->last_epoch;
		return base_init(s, pg, cfg->last_epoch);
	case RT_SCHED_PLATEAU:
		if (!(cfg->factor < 1.0))
			return fail(s, FTSRT_EINVAL, "Factor should be < 1.0.");
		if (cfg->mode != RT_PLATEAU_MIN && cfg->mode != RT_PLATEAU_MAX)
			return fail(s, FTSRT_EINVAL, "ReduceLROnPlateau: mode is unknown");
		if (cfg->threshold_mode != RT_THRESHOLD_REL && cfg->threshold_mode != RT_THRESHOLD_ABS)
			return fail(s, FTSRT_EINVAL, "ReduceLROnPlateau: threshold mode is unknown");
		if (cfg->min_lr.list && cfg->min_lr.n != n)
			return fail(s, FTSRT_EINVAL, "expected %zu min_lrs, got %zu", n, cfg->min_lr.n);
		if ((rc = format_param(s, "min_lr", &cfg->min_lr, s->min_lrs, n)))
			return rc;
		s->default_min_lr = cfg->min_lr.list ? (double)NAN : cfg->min_lr.scalar;
		s->factor = cfg->factor;
		s->patience = cfg->patience;
		s->cooldown = cfg->cooldown;
		s->eps = cfg->eps;
		s->last_epoch = 0;
		s->mode = cfg->mode;
		s->threshold = cfg->threshold;
		s->threshold_mode = cfg->threshold_mode;
		s->best = cfg->mode == RT_PLATEAU_MIN ? INFINITY : -INFINITY;
		s->cooldown_counter = 0;
		s->num_bad_epochs = 0;
		for (size_t g = 0; g < n; g++)
			s->last_lr[g] = pg->lr[g];
		return 0;
	case RT_SCHED_ONECYCLE: {
		int64_t total = cfg->total_steps;
		if (total == 0) {
			if (cfg->epochs <= 0 || cfg->steps_per_epoch <= 0)
				return fail(s, FTSRT_EINVAL, "You must define either total_steps OR "
							     "(epochs AND steps_per_epoch)");
			if (cfg->epochs > RT_SCHED_INT_LIMIT / cfg->steps_per_epoch)
				return fail(s, FTSRT_EINVAL, "OneCycleLR: too many steps");
			total = cfg->epochs * cfg->steps_per_epoch;
		} else if (total < 0) {
			return fail(s, FTSRT_EINVAL, "Expected positive integer total_steps, but got %lld",
				    (long long)total);
		}
		s->total_steps = total;
		double pct = cfg->pct_start;
		s->three_phase = cfg->three_phase;
		if (cfg->three_phase) {
			s->nphases = 3;
			s->end_step[0] = pct * (double)total - 1;
			s->end_step[1] = 2 * pct * (double)total - 2;
			s->end_step[2] = (double)(total - 1);
		} else {
			s->nphases = 2;
			s->end_step[0] = pct * (double)total - 1;
			s->end_step[1] = (double)(total - 1);
		}
		if (!(pct >= 0 && pct <= 1))
			return fail(s, FTSRT_EINVAL, "Expected float between 0 and 1 pct_start, but got %g",
				    pct);
		if (cfg->anneal_strategy != RT_ANNEAL_COS && cfg->anneal_strategy != RT_ANNEAL_LINEAR)
			return fail(s, FTSRT_EINVAL, "anneal_strategy must be one of 'cos' or 'linear'");
		s->anneal = cfg->anneal_strategy;
		s->pct_start = pct;
		s->div_factor = cfg->div_factor;
		s->final_div_factor = cfg->final_div_factor;
		if ((rc = format_param(s, "max_lr", &cfg->max_lr, s->max_lrs, n)))
			return rc;
		for (size_t g = 0; g < n; g++) {
			double init = s->max_lrs[g] / cfg->div_factor;
			if (cfg->last_epoch == -1)
				pg->initial_lr[g] = init;
			s->min_lrs[g] = init / cfg->final_div_factor;
		}
		s->cycle_momentum = cfg->cycle_momentum;
		if (cfg->cycle_momentum) {
			if (!pg->momentum)
				return fail(s, FTSRT_EINVAL, "optimizer must support momentum or beta1 "
							     "with `cycle_momentum` option enabled");
			if ((rc = format_param(s, "max_momentum", &cfg->max_momentum, s->max_mom, n)) ||
			    (rc = format_param(s, "base_momentum", &cfg->base_momentum, s->base_mom, n)))
				return rc;
			if (cfg->last_epoch == -1)
				for (size_t g = 0; g < n; g++)
					pg->momentum[g] = s->max_mom[g];
		}
		return base_init(s, pg, cfg->last_epoch);
	}
	case RT_SCHED_CYCLIC: {
		if ((rc = format_param(s, "base_lr", &cfg->base_lr, s->scratch, n)))
			return rc;
		if (cfg->last_epoch == -1)
			for (size_t g = 0; g < n; g++)
				pg->lr[g] = s->scratch[g];
		if ((rc = format_param(s, "max_lr", &cfg->max_lr, s->max_lrs, n)))
			return rc;
		double up = cfg->step_size_up;
		double down = isnan(cfg->step_size_down) ? up : cfg->step_size_down;
		s->total_size = up + down;
		if ((rc = pdiv(s, up, s->total_size, &s->step_ratio)))
			return rc;
		if ((unsigned)cfg->cyclic_mode > RT_CYCLIC_EXP_RANGE)
			return fail(s, FTSRT_EINVAL, "mode is invalid and scale_fn is None");
		s->cyclic_mode = cfg->cyclic_mode;
		s->gamma = cfg->gamma;
		s->cycle_momentum = cfg->cycle_momentum;
		s->nfixed = n;
		if (cfg->cycle_momentum) {
			if (!pg->momentum)
				return fail(s, FTSRT_EINVAL, "optimizer must support momentum or beta1 "
							     "with `cycle_momentum` option enabled");
			if ((rc = format_param(s, "base_momentum", &cfg->base_momentum, s->base_mom, n)) ||
			    (rc = format_param(s, "max_momentum", &cfg->max_momentum, s->max_mom, n)))
				return rc;
			if (cfg->last_epoch == -1)
				for (size_t g = 0; g < n; g++)
					pg->momentum[g] = s->max_mom[g];
		}
		/* the initial step runs with base_lrs from initial_lr; then torch
		 * replaces base_lrs with the base_lr argument */
		if ((rc = base_init(s, pg, cfg->last_epoch)))
			return rc;
		return format_param(s, "base_lr", &cfg->base_lr, s->base_lrs, n);
	}
	case RT_SCHED_SEQUENTIAL:
		if ((rc = init_children(s, cfg, pg)))
			return rc;
		if (cfg->nmilestones != cfg->nchildren - 1)
			return fail(s, FTSRT_EINVAL,
				    "Sequential Schedulers expects number of schedulers provided to be "
				    "one more than the number of milestone points, but got number of "
				    "schedulers %zu and the number of milestones to be equal to %zu",
				    cfg->nchildren, cfg->nmilestones);
		if ((rc = copy_milestones(s, cfg, false)))
			return rc;
		s->last_epoch = cfg->last_epoch + 1;
		for (size_t g = 0; g < n; g++) {
			if (isnan(pg->initial_lr[g]))
				return fail(s, FTSRT_EINVAL, "SequentialLR: group %zu has no initial_lr", g);
			pg->lr[g] = pg->initial_lr[g];
		}
		recursive_undo(s);
		if ((rc = initial_step(&s->children[0], pg)))
			return fail(s, rc, "SequentialLR: %s", s->children[0].errmsg);
		for (size_t g = 0; g < n; g++)
			s->last_lr[g] = s->children[0].last_lr[g];
		return 0;
	case RT_SCHED_CHAINED:
		if ((rc = init_children(s, cfg, pg)))
			return rc;
		for (size_t g = 0; g < n; g++)
			s->last_lr[g] = pg->lr[g];
		return 0;
	default:
		return fail(s, FTSRT_EINVAL, "unknown scheduler kind %d", (int)cfg->kind);
	}
}

int rt_sched_init(struct rt_sched *s, const struct rt_sched_config *cfg, struct rt_pg *pg,
		  rt_sched_alloc_fn alloc, void *ud)
{
	if (!s)
		return FTSRT_EINVAL;
	memset(s, 0, sizeof(*s));
	s->alloc = alloc ? alloc : rt_default_alloc;
	s->ud = ud;
	if (!cfg || !pg || !pg->lr || !pg->initial_lr || pg->n == 0)
		return fail(s, FTSRT_EINVAL, "a scheduler needs a configuration and parameter groups");
	if ((unsigned)cfg->kind >= RT_SCHED_KIND_COUNT_)
		return fail(s, FTSRT_EINVAL, "unknown scheduler kind %d", (int)cfg->kind);
	s->kind = cfg->kind;
	s->default_min_lr = NAN;
	int rc = check_ints(s, cfg);
	if (!rc)
		rc = reserve(s, pg->n);
	if (!rc) {
		s->ngroups = pg->n;
		rc = init_kind(s, cfg, pg);
	}
	if (rc) {
		char msg[sizeof(s->errmsg)];
		memcpy(msg, s->errmsg, sizeof(msg));
		rt_sched_release(s);
		memcpy(s->errmsg, msg, sizeof(msg));
	}
	return rc;
}

/* ---- public stepping ------------------------------------------------------------ */

static int check_groups(struct rt_sched *s, const struct rt_pg *pg)
{
	if (!pg || !pg->lr || !pg->initial_lr || pg->n != s->ngroups)
		return fail(s, FTSRT_EINVAL, "%s: %zu parameter groups given, the scheduler knows %zu",
			    kind_names[s->kind], pg ? pg->n : 0, s->ngroups);
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
		return fail(s, FTSRT_EINVAL, "%s: epoch must be finite", kind_names[s->kind]);
	return sched_step(s, pg, true, epoch, metric);
}

int rt_sched_add_group(struct rt_sched *s, double lr)
{
	if (!s || !s->alloc)
		return FTSRT_EINVAL;
	if (s->kind == RT_SCHED_ONECYCLE)
		return fail(s, FTSRT_EINVAL, "OneCycleLR cannot schedule an added group (no max_lr)");
	int rc = reserve(s, s->ngroups + 1);
	if (rc)
		return rc;
	for (size_t i = 0; i < s->nchildren; i++)
		if ((rc = rt_sched_add_group(&s->children[i], lr)))
			return fail(s, rc, "%s", s->children[i].errmsg);
	size_t g = s->ngroups;
	if (s->kind == RT_SCHED_PLATEAU)
		s->min_lrs[g] = s->min_lrs[0];
	else
		s->base_lrs[g] = lr;
	if (s->nlambdas)
		s->lambda_idx[g] = s->lambda_idx[g - 1];
	s->last_lr[g] = lr;
	s->ngroups++;
	return 0;
}

bool rt_sched_has_lambdas(const struct rt_sched *s)
{
	return s && s->nlambdas > 0;
}

int rt_sched_last_lambda(struct rt_sched *s, double *factor)
{
	if (!s || !factor || !s->nlambdas || !s->ngroups)
		return s ? fail(s, FTSRT_EINVAL, "the scheduler has no lr_lambdas") : FTSRT_EINVAL;
	return eval_lambda(s, s->ngroups - 1, factor);
}

double rt_sched_last_lr(const struct rt_sched *s, size_t i)
{
	return s && i < s->ngroups ? s->last_lr[i] : (double)NAN;
}

const char *rt_sched_errmsg(const struct rt_sched *s)
{
	return s ? s->errmsg : "no scheduler";
}

/* ---- state save / load ------------------------------------------------------------
 *
 * Buffer: header (struct state_header), then one node per scheduler
 * (depth first).
 *   node    a struct node_header, then
 *           NSCALAR x 8-byte scalars (the fields[] table, in order),
 *           NARRAYS x ngroups f64 (base_lrs, _last_lr, min_lrs, max_lrs,
 *           base_mom, max_mom, scratch), ngroups u32 lambda indices,
 *           nmilestones i64, then the children's nodes.
 * CHECKLIST when a field is added: fields[], bump STATE_VERSION, tests.
 */
#define STATE_MAGIC "FTSS"
#define STATE_VERSION 2                 /* 2: CRC-32C (1 had CRC-32/IEEE) */

/* Layouts (bytes.h: RT_GET/RT_SET). */
struct state_header {
	uint32_t magic;                 /* the 4 bytes of STATE_MAGIC */
	uint16_t version;               /* STATE_VERSION */
	uint16_t zero0;
	uint64_t length;                /* of the whole buffer */
	uint32_t crc32c;                /* of the bytes after the header */
	uint32_t zero1;
};
RT_LAYOUT_ASSERT(struct state_header, 4 + 2 + 2 + 8 + 4 + 4);
struct node_header {
	uint32_t kind;                  /* enum rt_sched_kind */
	uint32_t nchildren;
	uint64_t ngroups;
	uint64_t nmilestones;
};
RT_LAYOUT_ASSERT(struct node_header, 4 + 4 + 8 + 8);
#define STATE_HEADER sizeof(struct state_header)
#define NODE_HEADER sizeof(struct node_header)
#define SH_GET(p, N) RT_GET(struct state_header, p, N)
#define SH_SET(p, N, v) RT_SET(struct state_header, p, N, v)
#define NH_GET(p, N) RT_GET(struct node_header, p, N)
#define NH_SET(p, N, v) RT_SET(struct node_header, p, N, v)

enum ftype { F_F64, F_I64, F_INT, F_BOOL, F_SIZE };
struct field {
	size_t off;                     /* offsetof(struct rt_sched, ...) */
	enum ftype type;
	int64_t lo, hi;                 /* bounds for integer types */
};

#define FD(name) {offsetof(struct rt_sched, name), F_F64, 0, 0}
#define FI(name) {offsetof(struct rt_sched, name), F_I64, -RT_SCHED_INT_LIMIT, RT_SCHED_INT_LIMIT}
#define FE(name, hi) {offsetof(struct rt_sched, name), F_INT, 0, hi}
#define FB(name) {offsetof(struct rt_sched, name), F_BOOL, 0, 1}

static const struct field fields[] = {
	FI(last_epoch), FI(step_count), FD(gamma), FD(eta_min), FD(factor), FD(start_factor),
	FD(end_factor), FD(power), FD(threshold), FD(eps), FD(pct_start), FD(div_factor),
	FD(final_div_factor), FD(total_size), FD(step_ratio), FD(default_min_lr),
	FD(end_step[0]), FD(end_step[1]), FD(end_step[2]), FI(step_size), FI(T_max), FI(T_0),
	FI(T_mult), FI(total_iters), FI(patience), FI(cooldown), FI(total_steps), FI(nphases),
	FE(mode, 1), FE(threshold_mode, 1), FE(anneal, 1), FE(cyclic_mode, 2),
	FB(cycle_momentum), FB(three_phase), FD(T_cur), FD(T_i), FD(best), FI(num_bad_epochs),
	FI(cooldown_counter), {offsetof(struct rt_sched, nfixed), F_SIZE, 0, 1 << 24},
};
#define NSCALAR (sizeof(fields) / sizeof(fields[0]))


static uint64_t dbits(double d)
{
	uint64_t u;
	memcpy(&u, &d, sizeof(u));
	return u;
}

static double bitsd(uint64_t u)
{
	double d;
	memcpy(&d, &u, sizeof(d));
	return d;
}

static size_t node_size(const struct rt_sched *s)
{
	size_t n = NODE_HEADER + NSCALAR * 8 + NARRAYS * 8 * s->ngroups + 4 * s->ngroups + 8 * s->nmilestones;
	for (size_t i = 0; i < s->nchildren; i++)
		n += node_size(&s->children[i]);
	return n;
}

size_t rt_sched_state_size(const struct rt_sched *s)
{
	return s ? STATE_HEADER + node_size(s) : 0;
}

static uint8_t *save_node(const struct rt_sched *s, uint8_t *p)
{
	NH_SET(p, kind, (uint32_t)s->kind);
	NH_SET(p, nchildren, (uint32_t)s->nchildren);
	NH_SET(p, ngroups, s->ngroups);
	NH_SET(p, nmilestones, s->nmilestones);
	p += NODE_HEADER;
	const uint8_t *base = (const uint8_t *)s;
	for (size_t i = 0; i < NSCALAR; i++, p += 8) {
		const void *fp = base + fields[i].off;
		uint64_t v;
		switch (fields[i].type) {
		case F_F64: v = dbits(*(const double *)fp); break;
		case F_I64: v = (uint64_t)*(const int64_t *)fp; break;
		case F_INT: v = (uint64_t)(int64_t)*(const int *)fp; break;
		case F_BOOL: v = *(const bool *)fp; break;
		default: v = *(const size_t *)fp; break;
		}
		rt_wr_le(p, v, 8);
	}
	for (int a = 0; a < NARRAYS; a++) {
		const double *arr = *darray((struct rt_sched *)s, a);
		for (size_t g = 0; g < s->ngroups; g++, p += 8)
			rt_wr_le(p, dbits(arr[g]), 8);
	}
	for (size_t g = 0; g < s->ngroups; g++, p += 4)
		rt_wr_le(p, s->lambda_idx[g], 4);
	for (size_t i = 0; i < s->nmilestones; i++, p += 8)
		rt_wr_le(p, (uint64_t)s->milestones[i], 8);
	for (size_t i = 0; i < s->nchildren; i++)
		p = save_node(&s->children[i], p);
	return p;
}

int rt_sched_state_save(const struct rt_sched *s, void *buf, size_t len)
{
	if (!s || !buf || !s->alloc)
		return FTSRT_EINVAL;
	size_t need = rt_sched_state_size(s);
	if (len < need)
		return FTSRT_EINVAL;
	uint8_t *p = buf;
	memset(p, 0, STATE_HEADER);
	memcpy(p + offsetof(struct state_header, magic), STATE_MAGIC, 4);
	SH_SET(p, version, STATE_VERSION);
	SH_SET(p, length, need);
	save_node(s, p + STATE_HEADER);
	SH_SET(p, crc32c, rt_crc32c(0, p + STATE_HEADER, need - STATE_HEADER));
	return 0;
}

/*
 * Walk one node: with apply false only check it against s (kind, children,
 * lengths, ranges); with apply true (after a successful check) copy it in.
 */
static int load_node(struct rt_sched *s, const uint8_t **pp, const uint8_t *end, bool apply,
		     uint64_t expect_groups)
{
	const uint8_t *p = *pp;
	if ((size_t)(end - p) < NODE_HEADER)
		return FTSRT_EFORMAT;
	uint64_t kind = NH_GET(p, kind), nchildren = NH_GET(p, nchildren);
	uint64_t ngroups = NH_GET(p, ngroups), nms = NH_GET(p, nmilestones);
	p += NODE_HEADER;
	if (kind != (uint64_t)s->kind || nchildren != s->nchildren || ngroups == 0 ||
	    ngroups > ((uint64_t)1 << 24) || nms != s->nmilestones ||
	    (expect_groups && ngroups != expect_groups))
		return FTSRT_EFORMAT;
	uint64_t body = NSCALAR * 8 + (NARRAYS * 8 + 4) * ngroups + 8 * nms;
	if ((uint64_t)(end - p) < body)
		return FTSRT_EFORMAT;
	/* check scalars */
	for (size_t i = 0; i < NSCALAR; i++) {
		int64_t v = (int64_t)rt_rd_le(p + 8 * i, 8);
		if (fields[i].type != F_F64 && (v < fields[i].lo || v > fields[i].hi))
			return FTSRT_EFORMAT;
	}
	const uint8_t *li = p + NSCALAR * 8 + NARRAYS * 8 * ngroups;
	for (uint64_t g = 0; g < ngroups; g++) {
		uint64_t idx = rt_rd_le(li + 4 * g, 4);
		if (s->nlambdas ? idx >= s->nlambdas : idx != 0)
			return FTSRT_EFORMAT;
	}
	if (apply) {
		uint8_t *base = (uint8_t *)s;
		for (size_t i = 0; i < NSCALAR; i++) {
			void *fp = base + fields[i].off;
			uint64_t v = rt_rd_le(p + 8 * i, 8);
			switch (fields[i].type) {
			case F_F64: *(double *)fp = bitsd(v); break;
			case F_I64: *(int64_t *)fp = (int64_t)v; break;
			case F_INT: *(int *)fp = (int)(int64_t)v; break;
			case F_BOOL: *(bool *)fp = v != 0; break;
			default: *(size_t *)fp = (size_t)v; break;
			}
		}
		const uint8_t *q = p + NSCALAR * 8;
		for (int a = 0; a < NARRAYS; a++) {
			double *arr = *darray(s, a);
			for (uint64_t g = 0; g < ngroups; g++, q += 8)
				arr[g] = bitsd(rt_rd_le(q, 8));
		}
		for (uint64_t g = 0; g < ngroups; g++, q += 4)
			s->lambda_idx[g] = (uint32_t)rt_rd_le(q, 4);
		for (uint64_t i = 0; i < nms; i++, q += 8)
			s->milestones[i] = (int64_t)rt_rd_le(q, 8);
		s->ngroups = (size_t)ngroups;
	} else {
		const uint8_t *q = p + NSCALAR * 8 + (NARRAYS * 8 + 4) * ngroups;
		for (uint64_t i = 0; i < nms; i++, q += 8)
			if (!int_ok((int64_t)rt_rd_le(q, 8)))
				return FTSRT_EFORMAT;
		/* grow now, so that applying cannot fail half-way */
		if (reserve(s, (size_t)ngroups))
			return FTSRT_ENOMEM;
	}
	p += body;
	for (size_t i = 0; i < s->nchildren; i++) {
		int rc = load_node(&s->children[i], &p, end, apply, ngroups);
		if (rc)
			return rc;
	}
	*pp = p;
	return 0;
}

int rt_sched_state_load(struct rt_sched *s, const void *buf, size_t len)
{
	if (!s || !buf || !s->alloc)
		return FTSRT_EINVAL;
	const uint8_t *p = buf;
	if (len < STATE_HEADER || memcmp(p + offsetof(struct state_header, magic), STATE_MAGIC, 4) != 0)
		return fail(s, FTSRT_EFORMAT, "not a scheduler state");
	unsigned version = SH_GET(p, version);
	if (version != STATE_VERSION)
		return fail(s, version > STATE_VERSION ? FTSRT_EVERSION : FTSRT_EFORMAT,
			    "scheduler state version %u", version);
	if (SH_GET(p, zero0) != 0 || SH_GET(p, zero1) != 0)
		return fail(s, FTSRT_EFORMAT, "scheduler state has non-zero reserved fields");
	if (SH_GET(p, length) != len)
		return fail(s, FTSRT_EFORMAT, "scheduler state length mismatch");
	if (SH_GET(p, crc32c) != rt_crc32c(0, p + STATE_HEADER, len - STATE_HEADER))
		return fail(s, FTSRT_EFORMAT, "scheduler state checksum mismatch");
	const uint8_t *q = p + STATE_HEADER, *end = p + len;
	int rc = load_node(s, &q, end, false, 0);
	if (!rc && q != end)
		rc = FTSRT_EFORMAT;
	if (rc)
		return fail(s, rc, "scheduler state does not match this %s", kind_names[s->kind]);
	q = p + STATE_HEADER;
	rc = load_node(s, &q, end, true, 0);
	return rc ? fail(s, rc, "scheduler state could not be applied") : 0;
}
