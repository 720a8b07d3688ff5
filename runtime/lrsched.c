/*
 * lrsched.c - torch.optim.lr_scheduler, reproduced step for step: the
 * scheduler kinds and their constructor arguments, construction (torch's
 * __init__ checks and messages, the initial step), groups added later,
 * and the scheduler's memory.
 *
 * Stage: runtime.  Every formula follows torch 2.11's lr_scheduler.py
 * operation by operation, in Python's evaluation order (left to right,
 * `a * b / c` is `(a * b) / c`), because learning rates are compared bit
 * for bit with torch's.  Python ints are int64_t here (bounded by
 * RT_SCHED_INT_LIMIT), floats are doubles; `%` and `//` are Python's floor
 * forms.  The class structure of torch is mirrored by a few functions:
 * sched_step (LRScheduler.step and the overriding steps), update_lr
 * (_update_lr), get_lr / closed_form (the per-class formulas), all in
 * lrsched_step.c, and rt_sched_initial_step (_initial_step), which the
 * constructors here call.  lrsched_state.c saves and loads a scheduler's
 * state; lrsched_int.h is what the three files share.
 */
#include "lrsched_int.h"
#include "mem.h"

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
 * plan reader (sem.c) and the golden replay (verify_lrs.c) share. */
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


static void *mem(struct rt_sched *s, void *ptr, size_t osize, size_t nsize)
{
	return s->alloc(s->ud, ptr, osize, nsize);
}

double **rt_sched_darray(struct rt_sched *s, int i)
{
	double **a[RT_SCHED_NARRAYS] = {&s->base_lrs, &s->last_lr, &s->min_lrs, &s->max_lrs,
					&s->base_mom, &s->max_mom, &s->scratch};
	return a[i];
}

/* Grow every per-group array to hold at least want entries. */
int rt_sched_reserve(struct rt_sched *s, size_t want)
{
	if (want <= s->cap)
		return 0;
	size_t ncap = s->cap ? s->cap : 4;
	while (ncap < want)
		ncap *= 2;
	if (ncap > ((size_t)1 << 24))
		return rt_sched_fail(s, FTSRT_EINVAL, "too many parameter groups");
	for (int i = 0; i < RT_SCHED_NARRAYS; i++) {
		double **p = rt_sched_darray(s, i);
		double *n = mem(s, *p, s->cap * sizeof(double), ncap * sizeof(double));
		if (!n)
			return rt_sched_fail(s, FTSRT_ENOMEM, "out of memory");
		for (size_t j = s->cap; j < ncap; j++)
			n[j] = 0.0;
		*p = n;
	}
	uint32_t *li = mem(s, s->lambda_idx, s->cap * sizeof(uint32_t), ncap * sizeof(uint32_t));
	if (!li)
		return rt_sched_fail(s, FTSRT_ENOMEM, "out of memory");
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
	for (int i = 0; i < RT_SCHED_NARRAYS; i++) {
		double **p = rt_sched_darray(s, i);
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

/* ---- construction ------------------------------------------------------------ */

/* SequentialLR.recursive_undo */
static void recursive_undo(struct rt_sched *s)
{
	for (size_t i = 0; i < s->nchildren; i++) {
		struct rt_sched *c = &s->children[i];
		if (rt_sched_is_composite(c->kind))
			recursive_undo(c);
		else
			c->last_epoch--;
	}
}

static int format_param(struct rt_sched *s, const char *name, const struct rt_sched_param *p,
			double *dst, size_t n)
{
	if (p->list) {
		if (p->n != n)
			return rt_sched_fail(s, FTSRT_EINVAL,
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
			return rt_sched_fail(s, FTSRT_EINVAL, "%s: %s is required",
					     kind_names[s->kind], name);
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
			return rt_sched_fail(s, FTSRT_EINVAL,
					     "param 'initial_lr' is not specified in param_groups[%zu] when "
					     "resuming an optimizer", g);
		}
		s->base_lrs[g] = pg->initial_lr[g];
	}
	s->last_epoch = last_epoch;
	return rt_sched_initial_step(s, pg);
}

static int copy_lambdas(struct rt_sched *s, const struct rt_sched_config *cfg, size_t n)
{
	if (!cfg->lambdas || cfg->nlambdas == 0)
		return rt_sched_fail(s, FTSRT_EINVAL, "%s: lr_lambda is required", kind_names[s->kind]);
	if (cfg->lambda_list && cfg->nlambdas != n)
		return rt_sched_fail(s, FTSRT_EINVAL, "Expected %zu lr_lambdas, but got %zu", n,
				     cfg->nlambdas);
	if (!cfg->lambda_list && cfg->nlambdas != 1)
		return rt_sched_fail(s, FTSRT_EINVAL, "%s: one lr_lambda expected", kind_names[s->kind]);
	size_t total = 0;
	for (size_t i = 0; i < cfg->nlambdas; i++) {
		if (!cfg->lambdas[i].code || cfg->lambdas[i].len > RT_LAMBDA_MAX_LEN)
			return rt_sched_fail(s, FTSRT_EINVAL, "lr_lambda %zu is not a program", i);
		total += cfg->lambdas[i].len;
	}
	s->lambda_code = mem(s, NULL, 0, total);
	s->lambdas = mem(s, NULL, 0, cfg->nlambdas * sizeof(*s->lambdas));
	if (!s->lambda_code || !s->lambdas)
		return rt_sched_fail(s, FTSRT_ENOMEM, "out of memory");
	s->lambda_code_len = total;
	s->nlambdas = cfg->nlambdas;
	size_t off = 0;
	for (size_t i = 0; i < cfg->nlambdas; i++) {
		struct rt_lambda_diag d;
		memcpy(s->lambda_code + off, cfg->lambdas[i].code, cfg->lambdas[i].len);
		if (rt_lambda_validate(s->lambda_code + off, cfg->lambdas[i].len, &s->lambdas[i], &d))
			return rt_sched_fail(s, FTSRT_EINVAL, "lr_lambda %zu: %s at byte %zu", i, d.msg,
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
		if (!rt_sched_int_ok(v[i]))
			return rt_sched_fail(s, FTSRT_EINVAL, "%s: integer argument out of range",
					     kind_names[s->kind]);
	for (size_t i = 0; i < c->nmilestones; i++)
		if (!rt_sched_int_ok(c->milestones[i]))
			return rt_sched_fail(s, FTSRT_EINVAL, "%s: milestone out of range",
					     kind_names[s->kind]);
	if (c->last_epoch < -1)
		return rt_sched_fail(s, FTSRT_EINVAL, "%s: last_epoch must be >= -1", kind_names[s->kind]);
	return 0;
}

static int copy_milestones(struct rt_sched *s, const struct rt_sched_config *cfg, bool sort)
{
	if (cfg->nmilestones == 0)
		return 0;
	if (!cfg->milestones)
		return rt_sched_fail(s, FTSRT_EINVAL, "%s: milestones missing", kind_names[s->kind]);
	s->milestones = mem(s, NULL, 0, cfg->nmilestones * sizeof(int64_t));
	if (!s->milestones)
		return rt_sched_fail(s, FTSRT_ENOMEM, "out of memory");
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
		return rt_sched_fail(s, FTSRT_EINVAL,
				     "%s expects at least one scheduler, but got no scheduler.",
				     kind_names[s->kind]);
	s->children = mem(s, NULL, 0, cfg->nchildren * sizeof(*s->children));
	if (!s->children)
		return rt_sched_fail(s, FTSRT_ENOMEM, "out of memory");
	memset(s->children, 0, cfg->nchildren * sizeof(*s->children));
	for (size_t i = 0; i < cfg->nchildren; i++) {
		s->children[i].alloc = s->alloc;
		s->children[i].ud = s->ud;
	}
	s->nchildren = cfg->nchildren;
	for (size_t i = 0; i < cfg->nchildren; i++) {
		if (cfg->children[i].kind == RT_SCHED_PLATEAU)
			return rt_sched_fail(s, FTSRT_EINVAL,
					     "%s does not support `ReduceLROnPlateau` scheduler (index %zu)",
					     kind_names[s->kind], i);
		int rc = rt_sched_init(&s->children[i], &cfg->children[i], pg, s->alloc, s->ud);
		if (rc)
			return rt_sched_fail(s, rc, "%s child %zu (%s): %s", kind_names[s->kind], i,
					     rt_sched_kind_name(cfg->children[i].kind),
					     s->children[i].errmsg);
	}
	return 0;
}

/*
 * cycle_momentum (OneCycleLR, CyclicLR): the momentum bounds, formatted in
 * the order torch formats them (CyclicLR base first, OneCycleLR max first:
 * the first bad one is the one reported), and the groups' momentum set to
 * the maximum unless resuming.
 */
static int cycle_momentum(struct rt_sched *s, const struct rt_sched_config *cfg, struct rt_pg *pg,
			  bool base_first)
{
	size_t n = pg->n;
	int rc;
	if (!pg->momentum)
		return rt_sched_fail(s, FTSRT_EINVAL, "optimizer must support momentum or beta1 "
						      "with `cycle_momentum` option enabled");
	if ((base_first &&
	     (rc = format_param(s, "base_momentum", &cfg->base_momentum, s->base_mom, n))) ||
	    (rc = format_param(s, "max_momentum", &cfg->max_momentum, s->max_mom, n)) ||
	    (!base_first &&
	     (rc = format_param(s, "base_momentum", &cfg->base_momentum, s->base_mom, n))))
		return rc;
	if (cfg->last_epoch == -1)
		for (size_t g = 0; g < n; g++)
			pg->momentum[g] = s->max_mom[g];
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
		if (cfg->step_size == RT_SCHED_UNSET || cfg->step_size == 0 ||
		    !rt_sched_int_ok(cfg->step_size))
			return rt_sched_fail(s, FTSRT_EINVAL, "StepLR: step_size must be a non-zero integer");
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
			return rt_sched_fail(s, FTSRT_EINVAL,
					     "Constant multiplicative factor expected to be between 0 "
					     "and 1.");
		s->factor = cfg->factor;
		s->total_iters = cfg->total_iters;
		return base_init(s, pg, cfg->last_epoch);
	case RT_SCHED_LINEAR:
		if (!(cfg->start_factor > 0 && cfg->start_factor <= 1.0))
			return rt_sched_fail(s, FTSRT_EINVAL,
					     "Starting multiplicative factor expected to be greater than "
					     "0 and less or equal to 1.");
		if (!(cfg->end_factor >= 0 && cfg->end_factor <= 1.0))
			return rt_sched_fail(s, FTSRT_EINVAL,
					     "Ending multiplicative factor expected to be between 0 and 1.");
		s->start_factor = cfg->start_factor;
		s->end_factor = cfg->end_factor;
		s->total_iters = cfg->total_iters;
		return base_init(s, pg, cfg->last_epoch);
	case RT_SCHED_EXPONENTIAL:
		if (isnan(cfg->gamma))
			return rt_sched_fail(s, FTSRT_EINVAL, "ExponentialLR: gamma is required");
		s->gamma = cfg->gamma;
		return base_init(s, pg, cfg->last_epoch);
	case RT_SCHED_POLYNOMIAL:
		s->total_iters = cfg->total_iters;
		s->power = cfg->power;
		return base_init(s, pg, cfg->last_epoch);
	case RT_SCHED_COSINE:
		if (cfg->T_max == RT_SCHED_UNSET || cfg->T_max == 0 || !rt_sched_int_ok(cfg->T_max))
			return rt_sched_fail(s, FTSRT_EINVAL,
					     "CosineAnnealingLR: T_max must be a non-zero integer");
		s->T_max = cfg->T_max;
		s->eta_min = cfg->eta_min;
		return base_init(s, pg, cfg->last_epoch);
	case RT_SCHED_COSINE_WR:
		if (cfg->T_0 == RT_SCHED_UNSET || cfg->T_0 <= 0 || !rt_sched_int_ok(cfg->T_0))
			return rt_sched_fail(s, FTSRT_EINVAL, "Expected positive integer T_0, but got %lld",
					     (long long)cfg->T_0);
		if (cfg->T_mult < 1)
			return rt_sched_fail(s, FTSRT_EINVAL, "Expected integer T_mult >= 1, but got %lld",
					     (long long)cfg->T_mult);
		s->T_0 = cfg->T_0;
		s->T_i = (double)cfg->T_0;
		s->T_mult = cfg->T_mult;
		s->eta_min = cfg->eta_min;
		s->T_cur = (double)cfg->last_epoch;
		return base_init(s, pg, cfg->last_epoch);
	case RT_SCHED_PLATEAU:
		if (!(cfg->factor < 1.0))
			return rt_sched_fail(s, FTSRT_EINVAL, "Factor should be < 1.0.");
		if (cfg->mode != RT_PLATEAU_MIN && cfg->mode != RT_PLATEAU_MAX)
			return rt_sched_fail(s, FTSRT_EINVAL, "ReduceLROnPlateau: mode is unknown");
		if (cfg->threshold_mode != RT_THRESHOLD_REL && cfg->threshold_mode != RT_THRESHOLD_ABS)
			return rt_sched_fail(s, FTSRT_EINVAL, "ReduceLROnPlateau: threshold mode is unknown");
		if (cfg->min_lr.list && cfg->min_lr.n != n)
			return rt_sched_fail(s, FTSRT_EINVAL, "expected %zu min_lrs, got %zu", n,
					     cfg->min_lr.n);
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
				return rt_sched_fail(s, FTSRT_EINVAL, "You must define either total_steps OR "
								      "(epochs AND steps_per_epoch)");
			if (cfg->epochs > RT_SCHED_INT_LIMIT / cfg->steps_per_epoch)
				return rt_sched_fail(s, FTSRT_EINVAL, "OneCycleLR: too many steps");
			total = cfg->epochs * cfg->steps_per_epoch;
		} else if (total < 0) {
			return rt_sched_fail(s, FTSRT_EINVAL,
					     "Expected positive integer total_steps, but got %lld",
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
			return rt_sched_fail(s, FTSRT_EINVAL,
					     "Expected float between 0 and 1 pct_start, but got %g",
					     pct);
		if (cfg->anneal_strategy != RT_ANNEAL_COS && cfg->anneal_strategy != RT_ANNEAL_LINEAR)
			return rt_sched_fail(s, FTSRT_EINVAL,
					     "anneal_strategy must be one of 'cos' or 'linear'");
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
		if (cfg->cycle_momentum && (rc = cycle_momentum(s, cfg, pg, false)))
			return rc;
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
		if ((rc = rt_sched_pdiv(s, up, s->total_size, &s->step_ratio)))
			return rc;
		if ((unsigned)cfg->cyclic_mode > RT_CYCLIC_EXP_RANGE)
			return rt_sched_fail(s, FTSRT_EINVAL, "mode is invalid and scale_fn is None");
		s->cyclic_mode = cfg->cyclic_mode;
		s->gamma = cfg->gamma;
		s->cycle_momentum = cfg->cycle_momentum;
		s->nfixed = n;
		if (cfg->cycle_momentum && (rc = cycle_momentum(s, cfg, pg, true)))
			return rc;
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
			return rt_sched_fail(s, FTSRT_EINVAL,
					     "Sequential Schedulers expects number of schedulers provided "
					     "to be one more than the number of milestone points, but got "
					     "number of schedulers %zu and the number of milestones to be "
					     "equal to %zu",
					     cfg->nchildren, cfg->nmilestones);
		if ((rc = copy_milestones(s, cfg, false)))
			return rc;
		s->last_epoch = cfg->last_epoch + 1;
		for (size_t g = 0; g < n; g++) {
			if (isnan(pg->initial_lr[g]))
				return rt_sched_fail(s, FTSRT_EINVAL,
						     "SequentialLR: group %zu has no initial_lr", g);
			pg->lr[g] = pg->initial_lr[g];
		}
		recursive_undo(s);
		if ((rc = rt_sched_initial_step(&s->children[0], pg)))
			return rt_sched_fail(s, rc, "SequentialLR: %s", s->children[0].errmsg);
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
		return rt_sched_fail(s, FTSRT_EINVAL, "unknown scheduler kind %d", (int)cfg->kind);
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
		return rt_sched_fail(s, FTSRT_EINVAL,
				     "a scheduler needs a configuration and parameter groups");
	if ((unsigned)cfg->kind >= RT_SCHED_KIND_COUNT_)
		return rt_sched_fail(s, FTSRT_EINVAL, "unknown scheduler kind %d", (int)cfg->kind);
	s->kind = cfg->kind;
	s->default_min_lr = NAN;
	int rc = check_ints(s, cfg);
	if (!rc)
		rc = rt_sched_reserve(s, pg->n);
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

/* ---- groups added later, messages ---------------------------------------------- */

int rt_sched_add_group(struct rt_sched *s, double lr)
{
	if (!s || !s->alloc)
		return FTSRT_EINVAL;
	if (s->kind == RT_SCHED_ONECYCLE)
		return rt_sched_fail(s, FTSRT_EINVAL,
				     "OneCycleLR cannot schedule an added group (no max_lr)");
	int rc = rt_sched_reserve(s, s->ngroups + 1);
	if (rc)
		return rc;
	for (size_t i = 0; i < s->nchildren; i++)
		if ((rc = rt_sched_add_group(&s->children[i], lr)))
			return rt_sched_fail(s, rc, "%s", s->children[i].errmsg);
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

const char *rt_sched_errmsg(const struct rt_sched *s)
{
	return s ? s->errmsg : "no scheduler";
}
