/*
 * sem.c - finetuning-scheduler's transition semantics (see sem.h).
 */
#include "sem.h"
#include "err.h"
#include "mem.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define err_out rt_fail_buf

/* --- plan records ------------------------------------------------------------------ */

const struct rt_plan_arg *sem_arg(const struct rt_plan_class *c, const char *name)
{
	for (uint32_t i = 0; c && i < c->nargs; i++)
		if (c->args[i].name && strcmp(c->args[i].name, name) == 0)
			return &c->args[i];
	return NULL;
}

bool sem_arg_num(const struct rt_plan_arg *a, double *v)
{
	if (!a)
		return false;
	switch (a->kind) {
	case RT_ARG_FLOAT: *v = a->f; return true;
	case RT_ARG_INT: *v = (double)a->i; return true;
	case RT_ARG_BOOL: *v = a->b; return true;
	default: return false;
	}
}

static const struct rt_plan_arg *arg_in(const struct rt_plan_arg *args, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (args[i].name && strcmp(args[i].name, name) == 0)
			return &args[i];
	return NULL;
}

void sem_hparams_apply(struct ftsrt_optim_hparams *h, const struct rt_plan_arg *args, size_t n)
{
	static const struct {
		const char *name;
		size_t off;
	} dbl[] = {
		{"lr", offsetof(struct ftsrt_optim_hparams, lr)},
		{"weight_decay", offsetof(struct ftsrt_optim_hparams, weight_decay)},
		{"momentum", offsetof(struct ftsrt_optim_hparams, momentum)},
		{"dampening", offsetof(struct ftsrt_optim_hparams, dampening)},
		{"lr_decay", offsetof(struct ftsrt_optim_hparams, lr_decay)},
		{"initial_accumulator_value", offsetof(struct ftsrt_optim_hparams, initial_accumulator_value)},
		{"rho", offsetof(struct ftsrt_optim_hparams, rho)},
		{"momentum_decay", offsetof(struct ftsrt_optim_hparams, momentum_decay)},
		{"alpha", offsetof(struct ftsrt_optim_hparams, alpha)},
		{"lambd", offsetof(struct ftsrt_optim_hparams, lambd)},
		{"t0", offsetof(struct ftsrt_optim_hparams, t0)},
		{"beta2_decay", offsetof(struct ftsrt_optim_hparams, beta2_decay)},
		{"d", offsetof(struct ftsrt_optim_hparams, d)},
	};
	/* typed pointers, not offsets: the flags are bool, ns_steps an int32_t */
	struct {
		const char *name;
		bool *dst;
	} flags[] = {
		{"nesterov", &h->nesterov}, {"maximize", &h->maximize}, {"amsgrad", &h->amsgrad},
		{"decoupled_weight_decay", &h->decoupled_weight_decay}, {"centered", &h->centered},
	};
	for (size_t i = 0; i < sizeof(dbl) / sizeof(dbl[0]); i++)
		sem_arg_num(arg_in(args, n, dbl[i].name), (double *)((char *)h + dbl[i].off));
	for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++) {
		double v;
		if (sem_arg_num(arg_in(args, n, flags[i].name), &v))
			*flags[i].dst = v != 0;
	}
	double steps;
	if (sem_arg_num(arg_in(args, n, "ns_steps"), &steps))   /* out of range: torch's check refuses */
		h->ns_steps = steps >= 0 && steps < 1e6 ? (int32_t)steps : -1;
	const struct rt_plan_arg *a;
	if ((a = arg_in(args, n, "betas")) && a->kind == RT_ARG_FLOATS && a->n == 2) {
		h->beta1 = a->v[0];
		h->beta2 = a->v[1];
	}
	if ((a = arg_in(args, n, "eps"))) {
		if (a->kind == RT_ARG_FLOATS && a->n == 2) {            /* Adafactor (eps1, eps2) */
			h->eps1 = a->v[0];
			h->eps = a->v[1];
		} else {
			sem_arg_num(a, &h->eps);
		}
	}
	if ((a = arg_in(args, n, "etas")) && a->kind == RT_ARG_FLOATS && a->n == 2) {
		h->etaminus = a->v[0];
		h->etaplus = a->v[1];
	}
	if ((a = arg_in(args, n, "step_sizes")) && a->kind == RT_ARG_FLOATS && a->n == 2) {
		h->step_size_min = a->v[0];
		h->step_size_max = a->v[1];
	}
	if ((a = arg_in(args, n, "ns_coefficients")) && a->kind == RT_ARG_FLOATS && a->n == 3) {
		h->ns_a = a->v[0];
		h->ns_b = a->v[1];
		h->ns_c = a->v[2];
	}
	if ((a = arg_in(args, n, "adjust_lr_fn")) && a->kind == RT_ARG_STR && a->s)
		h->adjust_lr_fn = strcmp(a->s, "match_rms_adamw") == 0 ? FTSRT_MUON_ADJUST_MATCH_RMS_ADAMW
								       : FTSRT_MUON_ADJUST_ORIGINAL;
}

int sem_optim_config(const struct rt_plan_class *c, int *kind, struct ftsrt_optim_hparams *h,
		     char *err, size_t errlen)
{
	int32_t k;
	if (!c || c->scheduler || ftsrt_optim_kind_from_name(c->class_path, &k, NULL))
		return err_out(err, errlen, FTSRT_EINVAL, "optimizer '%s' is not supported by the runtime",
			       c && c->class_path ? c->class_path : "?");
	h->struct_size = sizeof(*h);
	ftsrt_optim_hparams_default(k, h, NULL);
	sem_hparams_apply(h, c->args, c->nargs);
	*kind = k;
	return FTSRT_OK;
}

const struct rt_plan_restore *sem_restore_find(const struct rt_plan *p, int target, int source)
{
	for (uint32_t i = 0; p && i < p->nrestores; i++)
		if ((int)p->restores[i].target == target && (int)p->restores[i].source == source)
			return &p->restores[i];
	return NULL;
}

static int sched_param(const struct rt_plan_arg *a, struct rt_sched_param *p)
{
	if (!a || a->kind == RT_ARG_NONE)
		return 0;
	if (a->kind == RT_ARG_FLOATS) {
		p->list = a->v;
		p->n = a->n;
		return 0;
	}
	return sem_arg_num(a, &p->scalar) ? 0 : -1;
}

static int sched_config(const struct rt_plan *p, int rec, struct rt_sched_config *cfg,
			struct sem_cfgstore *st, int depth, char *err, size_t errlen)
{
	const struct rt_plan_class *c = &p->classes[rec];
	int kind = c->scheduler ? rt_sched_kind_from_name(c->class_path) : -1;
	if (kind < 0 || depth > 4)
		return err_out(err, errlen, FTSRT_EINVAL, "lr scheduler '%s' is not supported by the runtime",
			       c->class_path ? c->class_path : "?");
	rt_sched_config_defaults(cfg, (enum rt_sched_kind)kind);
	double v;
	for (uint32_t i = 0; i < c->nargs; i++) {
		bool is_int;
		void *field = rt_sched_config_field(cfg, c->args[i].name, &is_int);
		/* last_epoch stays -1: a plan's scheduler is built fresh */
		if (!field || !strcmp(c->args[i].name, "last_epoch") || !sem_arg_num(&c->args[i], &v))
			continue;
		if (is_int)
			*(int64_t *)field = (int64_t)v;
		else
			*(double *)field = v;
	}
	const struct rt_plan_arg *a;
	if ((a = sem_arg(c, "mode")) && a->kind == RT_ARG_STR && a->s) {
		if (!strcmp(a->s, "max"))
			cfg->mode = RT_PLATEAU_MAX;
		else if (!strcmp(a->s, "min"))
			cfg->mode = RT_PLATEAU_MIN;
		else if (!strcmp(a->s, "triangular2"))
			cfg->cyclic_mode = RT_CYCLIC_TRIANGULAR2;
		else if (!strcmp(a->s, "exp_range"))
			cfg->cyclic_mode = RT_CYCLIC_EXP_RANGE;
		else
			cfg->cyclic_mode = RT_CYCLIC_TRIANGULAR;
	}
	if ((a = sem_arg(c, "threshold_mode")) && a->kind == RT_ARG_STR && a->s)
		cfg->threshold_mode = !strcmp(a->s, "abs") ? RT_THRESHOLD_ABS : RT_THRESHOLD_REL;
	if ((a = sem_arg(c, "anneal_strategy")) && a->kind == RT_ARG_STR && a->s)
		cfg->anneal_strategy = !strcmp(a->s, "linear") ? RT_ANNEAL_LINEAR : RT_ANNEAL_COS;
	if (sem_arg_num(sem_arg(c, "cycle_momentum"), &v))
		cfg->cycle_momentum = v != 0;
	if (sem_arg_num(sem_arg(c, "three_phase"), &v))
		cfg->three_phase = v != 0;
	if (sched_param(sem_arg(c, "min_lr"), &cfg->min_lr) || sched_param(sem_arg(c, "max_lr"), &cfg->max_lr) ||
	    sched_param(sem_arg(c, "base_lr"), &cfg->base_lr) ||
	    sched_param(sem_arg(c, "base_momentum"), &cfg->base_momentum) ||
	    sched_param(sem_arg(c, "max_momentum"), &cfg->max_momentum))
		return err_out(err, errlen, FTSRT_EINVAL, "%s: a bad float-or-list argument", c->class_path);
	if ((a = sem_arg(c, "milestones")) && a->kind == RT_ARG_FLOATS && kind == RT_SCHED_MULTISTEP) {
		if (a->n > 256 - (uint32_t)st->nints)
			return err_out(err, errlen, FTSRT_EINVAL, "%s: too many milestones", c->class_path);
		cfg->milestones = st->ints + st->nints;
		cfg->nmilestones = a->n;
		for (uint32_t i = 0; i < a->n; i++)
			st->ints[st->nints++] = (int64_t)a->v[i];
	}
	if (kind == RT_SCHED_SEQUENTIAL && c->milestones) {
		cfg->milestones = c->milestones;
		cfg->nmilestones = c->nmilestones;
	}
	if (kind == RT_SCHED_LAMBDA || kind == RT_SCHED_MULTIPLICATIVE) {
		if (!c->lambda || st->nlam == 16)
			return err_out(err, errlen, FTSRT_EINVAL, "%s without an lr_lambda program", c->class_path);
		struct rt_lambda_diag d;
		if (rt_lambda_validate(c->lambda, c->lambda_len, &st->lam[st->nlam], &d)) {
			if (err && errlen)
				snprintf(err, errlen, "%s: invalid lr_lambda program: %s", c->class_path, d.msg);
			return FTSRT_EINVAL;
		}
		cfg->lambdas = &st->lam[st->nlam++];
		cfg->nlambdas = 1;
	}
	if (c->nchildren) {
		if (c->nchildren > 16 - (uint32_t)st->nch)
			return err_out(err, errlen, FTSRT_EINVAL, "%s: too many child schedulers", c->class_path);
		struct rt_sched_config *ch = st->ch + st->nch;
		st->nch += (int)c->nchildren;
		for (uint32_t i = 0; i < c->nchildren; i++) {
			int rc = sched_config(p, c->children[i], &ch[i], st, depth + 1, err, errlen);
			if (rc)
				return rc;
		}
		cfg->children = ch;
		cfg->nchildren = c->nchildren;
	}
	return FTSRT_OK;
}

int sem_sched_config(const struct rt_plan *p, int rec, struct rt_sched_config *cfg,
		     struct sem_cfgstore *st, char *err, size_t errlen)
{
	if (!p || rec < 0 || (uint32_t)rec >= p->nclasses)
		return err_out(err, errlen, FTSRT_EINVAL, "no scheduler record %d", rec);
	return sched_config(p, rec, cfg, st, 0, err, errlen);
}

double sem_group_momentum(int kind, const struct ftsrt_optim_hparams *h)
{
	switch (kind) {
	case FTSRT_OPTIM_SGD:
	case FTSRT_OPTIM_RMSPROP:
	case FTSRT_OPTIM_MUON:
		return h->momentum;
	case FTSRT_OPTIM_ADAM:
	case FTSRT_OPTIM_ADAMW:
	case FTSRT_OPTIM_ADAMAX:
	case FTSRT_OPTIM_NADAM:
	case FTSRT_OPTIM_RADAM:
		return h->beta1;
	default:
		return NAN;
	}
}

bool sem_no_decay(const struct rt_plan *p, const char *name)
{
	return name && sem_no_decay_n(p, name, strlen(name));
}

bool sem_no_decay_n(const struct rt_plan *p, const char *name, size_t len)
{
	for (uint32_t k = 0; k < p->nno_decay; k++)
		if (p->no_decay[k] && memmem(name, len, p->no_decay[k], strlen(p->no_decay[k])))
			return true;
	return false;
}

/* --- groups --------------------------------------------------------------------------- */

void sem_groups_init(struct sem_groups *g, ftsrt_alloc_fn alloc, void *ud)
{
	memset(g, 0, sizeof(*g));
	g->alloc = alloc ? alloc : rt_default_alloc;
	g->ud = ud;
}

#define SEM_ARRAYS(X) X(phase) X(no_decay) X(user) X(lr) X(init) X(klr) X(kinit)

void sem_groups_release(struct sem_groups *g)
{
#define FREE_ARRAY(f) g->alloc(g->ud, g->f, g->cap * sizeof(*g->f), 0);
	SEM_ARRAYS(FREE_ARRAY)
#undef FREE_ARRAY
	ftsrt_alloc_fn a = g->alloc;
	void *ud = g->ud;
	memset(g, 0, sizeof(*g));
	g->alloc = a;
	g->ud = ud;
}

int sem_groups_push(struct sem_groups *g, int phase, bool no_decay, bool user, double lr,
		    enum sem_kind klr, double init, enum sem_kind kinit)
{
	if (g->n == g->cap) {
		size_t cap = g->cap ? 2 * g->cap : 8;
		bool ok = true;
#define GROW(f) if (ok) { \
			void *x = g->alloc(g->ud, g->f, g->cap * sizeof(*g->f), cap * sizeof(*g->f)); \
			if (x) g->f = x; else ok = false; \
		}
		SEM_ARRAYS(GROW)
#undef GROW
		if (!ok)
			return FTSRT_ENOMEM;    /* arrays that grew keep their contents */
		g->cap = cap;
	}
	size_t k = g->n++;
	g->phase[k] = phase;
	g->no_decay[k] = no_decay;
	g->user[k] = user;
	g->lr[k] = lr;
	g->init[k] = init;
	g->klr[k] = (uint8_t)klr;
	g->kinit[k] = (uint8_t)kinit;
	return FTSRT_OK;
}

int sem_phase_ngroups(const struct rt_plan *p, size_t ncandidates)
{
	if (ncandidates == 0)
		return 0;
	return p->nno_decay > 0 ? 2 : 1;
}

int sem_initial_ngroups(const struct rt_plan *p)
{
	return p->phase0_groups >= 1 ? (int)p->phase0_groups : 1;
}

bool sem_initial_split(const struct rt_plan *p)
{
	return p->phase0_groups == 2 && p->nno_decay > 0;
}

double sem_phase_lr(const struct rt_plan *p, int phase)
{
	return p->phases[phase].lr;
}

int sem_new_optimizer(const struct rt_plan *p, int d)
{
	if (d <= 0)
		return -1;
	return p->reinit_optimizer >= 0 ? p->reinit_optimizer : p->phases[d].new_optimizer;
}

int sem_new_scheduler(const struct rt_plan *p, int d, int i)
{
	if (d <= 0)
		return -1;
	return p->reinit_scheduler >= 0 ? p->reinit_scheduler : p->phases[i].new_lr_scheduler;
}

void sem_reinit_lrs(struct sem_groups *g, const struct rt_plan_class *c)
{
	if (c->ninit_pg_lrs > 0) {
		for (size_t k = 0; k < g->n && k < (size_t)c->ninit_pg_lrs; k++) {
			g->lr[k] = g->init[k] = c->init_pg_lrs[k];
			g->klr[k] = g->kinit[k] = SEM_KNOWN;
		}
	} else if (c->ninit_pg_lrs == 0 || c->use_current) {
		/* init_pg_lrs: [] or use_current_optimizer_pg_lrs: lrs unchanged */
	} else {
		for (size_t k = 0; k < g->n; k++)
			if (!isnan(g->init[k])) {
				g->lr[k] = g->init[k];
				g->klr[k] = g->kinit[k];
			}
	}
}

/* --- transitions ------------------------------------------------------------------------ */

size_t sem_max_ops(const struct rt_plan *p)
{
	return 4 * (size_t)p->nphases + 4;
}

size_t sem_transition(const struct rt_plan *p, int d, bool restore, int best_depth,
		      struct sem_op *ops, size_t cap)
{
	size_t n = 0;
#define OP(k, ph, r) do { if (n < cap) ops[n] = (struct sem_op){(uint8_t)(k), (ph), (r)}; n++; } while (0)
	int new_opt = sem_new_optimizer(p, d);
	int restored = new_opt >= 0 ? -1 : best_depth;
	int first = (restore || new_opt >= 0) ? restored + 1 : d;
	if (first < 0)
		first = 0;
	for (int i = first; i <= d; i++) {
		OP(SEM_OP_THAW, i, -1);
		if (new_opt >= 0 && i == 0) {
			OP(SEM_OP_REINIT_OPTIMIZER, 0, new_opt);
			continue;
		}
		if (i == d && d > 0)
			OP(SEM_OP_ROLL_FORWARD, i, -1);
		OP(SEM_OP_ADD_GROUPS, i, -1);
		int s = sem_new_scheduler(p, d, i);
		if (s >= 0)
			OP(SEM_OP_REINIT_SCHEDULER, i, s);
	}
#undef OP
	return n < cap ? n : cap;
}

/* --- constructions ------------------------------------------------------------------------ */

static enum sem_kind weaker(enum sem_kind a, enum sem_kind b)
{
	return a > b ? a : b;
}

/* The value a probe gives an input it cannot see (two different, plausible lrs). */
static double probe_value(int probe, size_t k)
{
	return (probe ? 3.7e-3 : 1.3e-3) * (double)(k + 1);
}

int sem_sched_construct(const struct rt_plan *p, int rec, struct sem_groups *g, double momentum,
			char *err, size_t errlen)
{
	struct sem_cfgstore *st = g->alloc(g->ud, NULL, 0, sizeof(*st));
	size_t n = g->n ? g->n : 1;
	double *buf = g->alloc(g->ud, NULL, 0, 6 * n * sizeof(double));
	if (!st || !buf) {
		g->alloc(g->ud, st, st ? sizeof(*st) : 0, 0);
		g->alloc(g->ud, buf, buf ? 6 * n * sizeof(double) : 0, 0);
		return err_out(err, errlen, FTSRT_ENOMEM, "out of memory");
	}
	memset(st, 0, sizeof(*st));
	struct rt_sched_config cfg;
	int rc = sem_sched_config(p, rec, &cfg, st, err, errlen);
	bool probed = false;
	for (size_t k = 0; k < g->n; k++)
		if (g->klr[k] != SEM_KNOWN || (!isnan(g->init[k]) && g->kinit[k] != SEM_KNOWN))
			probed = true;
	double *lr[2] = {buf, buf + n}, *in[2] = {buf + 2 * n, buf + 3 * n}, *mo[2] = {buf + 4 * n, buf + 5 * n};
	for (int probe = 0; probe < (probed ? 2 : 1) && !rc; probe++) {
		for (size_t k = 0; k < g->n; k++) {
			lr[probe][k] = g->klr[k] == SEM_KNOWN ? g->lr[k] : probe_value(probe, k);
			in[probe][k] = isnan(g->init[k]) || g->kinit[k] == SEM_KNOWN ? g->init[k]
										   : probe_value(probe, k);
			mo[probe][k] = momentum;
		}
		struct rt_pg pg = {lr[probe], in[probe], isnan(momentum) ? NULL : mo[probe], g->n};
		struct rt_sched s;
		memset(&s, 0, sizeof(s));
		int src = rt_sched_init(&s, &cfg, &pg, (rt_sched_alloc_fn)g->alloc, g->ud);
		if (src) {
			if (err && errlen)
				snprintf(err, errlen, "%s", rt_sched_errmsg(&s));
			rc = src;
		}
		rt_sched_release(&s);
	}
	if (!rc) {
		for (size_t k = 0; k < g->n; k++) {
			enum sem_kind kin = SEM_KNOWN;
			if (g->klr[k] != SEM_KNOWN)
				kin = weaker(kin, (enum sem_kind)g->klr[k]);
			if (!isnan(g->init[k]) && g->kinit[k] != SEM_KNOWN)
				kin = weaker(kin, (enum sem_kind)g->kinit[k]);
			bool same_lr = !probed || lr[0][k] == lr[1][k];
			bool same_in = !probed || in[0][k] == in[1][k] || (isnan(in[0][k]) && isnan(in[1][k]));
			g->lr[k] = same_lr ? lr[0][k] : NAN;
			g->klr[k] = same_lr ? SEM_KNOWN : (uint8_t)kin;
			g->init[k] = same_in ? in[0][k] : 0.0;
			g->kinit[k] = same_in ? SEM_KNOWN : (uint8_t)kin;
		}
	}
	g->alloc(g->ud, buf, 6 * n * sizeof(double), 0);
	g->alloc(g->ud, st, sizeof(*st), 0);
	return rc;
}

int sem_optim_construct(const struct rt_plan *p, int rec, const struct sem_groups *g, char *err,
			size_t errlen)
{
	if (rec < 0 || (uint32_t)rec >= p->nclasses)
		return err_out(err, errlen, FTSRT_EINVAL, "no optimizer record %d", rec);
	int kind;
	struct ftsrt_optim_hparams h;
	int rc = sem_optim_config(&p->classes[rec], &kind, &h, err, errlen);
	if (rc)
		return rc;
	ftsrt_optim *o = NULL;
	ftsrt_error oe;
	if ((rc = ftsrt_optim_new(&o, kind, FTSRT_F32, NULL, &oe)))
		return err_out(err, errlen, rc, "cannot create the optimizer %s: %s",
			       p->classes[rec].class_path, oe.message);
	for (size_t k = 0; k < g->n && !rc; k++) {
		struct ftsrt_optim_hparams gh = h;
		if (g->klr[k] == SEM_KNOWN && !isnan(g->lr[k]))
			gh.lr = g->lr[k];
		if (g->no_decay[k])
			gh.weight_decay = 0.0;
		rc = ftsrt_optim_add_group(o, &gh, NULL, &oe);
	}
	if (!rc && g->n == 0)
		rc = ftsrt_optim_add_group(o, &h, NULL, &oe);
	if (rc && err && errlen)
		snprintf(err, errlen, "%s", oe.message);
	ftsrt_optim_free(o);
	return rc;
}
