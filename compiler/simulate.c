/*
 * simulate.c - cross-phase analysis (see simulate.h).
 *
 * An abstract interpreter of the runtime's transition programs
 * (runtime/sem.h): the session's groups at the start, then for each
 * transition the ops sem_transition() gives (thaw, rebuild the optimizer
 * over phase 0, roll the previous lrs forward, add a phase's groups,
 * rebuild the scheduler with the init_pg_lrs > use_current > initial_lr
 * precedence).  Learning rates are sem.c's abstract values; schedulers
 * and optimizers are constructed by sem.c, with the runtime's own code.
 * The simulated scenario is a run without restore_best replays (the
 * group layout and lrs every run starts a phase with); restore.c
 * considers every checkpoint a restore can load.
 */
#include "simulate.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../runtime/lambda.h"
#include "../runtime/sem.h"
#include "decl.h"
#include "expr.h"
#include "fts_stdlib.h"
#include "planview.h"

struct sim {
	struct fts_ir *ir;
	const struct fts_initial *init;
	const struct fts_planview *v;
	const struct rt_plan *p;
	struct fts_diags *d;
	struct fts_arena *a;
	struct sem_groups g;
	int32_t opt;                    /* optimizer record in force, -1 unknown */
	bool opt_rep;                   /* it can be built (a class the runtime knows) */
	double momentum;                /* its momentum/beta1 (NaN none or unknown) */
	int32_t sched;                  /* scheduler record in force; -1 none */
	bool sched_known;               /* false: the session's scheduler is unknown */
	bool sched_rep;                 /* it can be built */
	bool *reported;                 /* per class record: construction failure reported */
};

static struct fts_sim_lr lr_of(double v, uint8_t kind)
{
	struct fts_sim_lr l = {kind == SEM_KNOWN ? FTS_LR_KNOWN : kind == SEM_CONTINUES ? FTS_LR_CONTINUES
										  : FTS_LR_UNKNOWN, v};
	if (l.kind != FTS_LR_KNOWN)
		l.v = 0;
	return l;
}

/* "exp_avg, exp_avg_sq": an optimizer record's state slots. */
static const char *rec_slots(struct sim *s, int32_t rec)
{
	if (rec < 0 || s->v->problem[rec])
		return NULL;
	const struct rt_plan_class *c = &s->p->classes[rec];
	if (c->nslots == 0)
		return "(none)";
	char buf[512];
	size_t off = 0;
	buf[0] = '\0';
	for (uint32_t i = 0; i < c->nslots && off < sizeof(buf) - 64; i++)
		off += (size_t)snprintf(buf + off, sizeof(buf) - off, "%s%s", i ? ", " : "", c->state_slots[i]);
	return fts_arena_strdup(s->a, buf);
}

/* defaults["lr"] of an optimizer record. */
static struct fts_sim_lr rec_lr(struct sim *s, int32_t rec)
{
	struct fts_sim_lr l = {FTS_LR_UNKNOWN, 0};
	double v;
	if (rec >= 0 && sem_arg_num(sem_arg(&s->p->classes[rec], "lr"), &v)) {
		l.kind = FTS_LR_KNOWN;
		l.v = v;
	}
	return l;
}

static void set_optimizer(struct sim *s, int32_t rec)
{
	s->opt = rec;
	s->opt_rep = false;
	s->momentum = NAN;
	if (rec < 0 || s->v->problem[rec])
		return;
	int kind;
	struct ftsrt_optim_hparams h;
	if (sem_optim_config(&s->p->classes[rec], &kind, &h, NULL, 0) == 0) {
		s->opt_rep = true;
		s->momentum = sem_group_momentum(kind, &h);
	}
}

/* Where a class record is written (its directive's class, else the session's configuration). */
static struct fts_span rec_span(const struct sim *s, int32_t rec)
{
	const struct fts_ir_directive *dir = rec >= 0 ? s->v->dir[rec] : NULL;
	if (dir && fts_span_valid(dir->class_span))
		return dir->class_span;
	if (dir && dir->node)
		return dir->node->span;
	return s->init->where;
}

/* The groups a phase adds (7.7), at lr (kind klr); user: the session's own. */
static void add_groups(struct sim *s, int phase, double lr, uint8_t klr, bool user)
{
	size_t cand = (size_t)s->v->ndecay[phase] + s->v->nnodecay[phase];
	int n = user ? (cand ? sem_initial_ngroups(s->p) : 0) : sem_phase_ngroups(s->p, cand);
	bool split = user ? sem_initial_split(s->p) : n == 2;
	for (int k = 0; k < n; k++)
		sem_groups_push(&s->g, phase, split && k == 1, user, lr, (enum sem_kind)klr,
				user ? NAN : lr, (enum sem_kind)klr);
}

/* "in phase 2", or "again at the phase 3 transition, which replays phase 1". */
static const char *when(struct sim *s, int64_t target, int64_t phase)
{
	if (target == phase)
		return fts_arena_printf(s->a, "in phase %lld", (long long)phase);
	return fts_arena_printf(s->a, "again at the phase %lld transition (its new optimizer replays "
				"phase %lld)", (long long)target, (long long)phase);
}

struct grp_report {
	struct sim *s;
	int32_t rec;
	const char *when;
	bool any;
};

static void groups_report(void *vctx, enum fts_argerr kind, struct fts_span span, const char *msg,
			  const char *suggestion)
{
	struct grp_report *r = vctx;
	(void)kind;
	(void)suggestion;
	if (r->any)
		return;
	r->any = true;
	fts_diag(r->s->d, FTS_E_CONSTRUCT, span, r->s->p->classes[r->rec].class_path, r->when, r->s->g.n,
		 r->s->g.n == 1 ? "" : "s", msg);
}

/* The stdlib's @groups checks of record rec with the groups the optimizer has now. */
static bool stdlib_groups(struct sim *s, int32_t rec, const char *w)
{
	const struct fts_ir_directive *dir = s->v->dir[rec];
	if (!dir || !dir->decl)
		return false;
	int ndim = -1;
	for (size_t k = 0; k < s->g.n; k++) {
		int ph = s->g.phase[k];
		const struct rt_plan_phase *pp = &s->p->phases[ph];
		for (uint32_t j = 0; j < pp->nparams; j++) {
			int nd = fts_mp_ndim(s->ir->manifest, &s->ir->manifest->p[pp->params[j]]);
			if (ndim < 0 || nd != 2)
				ndim = nd;
		}
	}
	struct fts_groups_env env = {(int)s->g.n, ndim, isnan(s->momentum) ? (s->opt_rep ? 0 : -1) : 1};
	struct grp_report r = {s, rec, w, false};
	fts_stdlib_check_groups(s->ir->stdlib, dir->decl, dir->init_args, rec_span(s, rec), &env,
				groups_report, &r);
	return r.any;
}

/* Construct scheduler rec over the groups; report a failure at its directive once. */
static void construct_scheduler(struct sim *s, int32_t rec, int64_t target, int64_t phase)
{
	s->sched = rec;
	s->sched_known = true;
	s->sched_rep = rec >= 0 && !s->v->problem[rec];
	char err[256];
	int rc = s->sched_rep ? sem_sched_construct(s->p, rec, &s->g, s->momentum, err, sizeof(err)) : 0;
	if (!s->sched_rep || (rc == FTSRT_EINVAL && strstr(err, "not supported by the runtime"))) {
		/* a scheduler ftsc cannot build (a user's class; build says so): its
		 * construction may set any lr */
		s->sched_rep = false;
		for (size_t k = 0; k < s->g.n; k++) {
			s->g.klr[k] = SEM_UNKNOWN;
			s->g.kinit[k] = SEM_UNKNOWN;
			s->g.init[k] = 0.0;
		}
		return;
	}
	const char *w = when(s, target, phase);
	if (!s->reported[rec] && stdlib_groups(s, rec, w)) {
		s->reported[rec] = true;
	} else if (rc && !s->reported[rec]) {
		s->reported[rec] = true;
		fts_diag(s->d, FTS_E_CONSTRUCT, rec_span(s, rec), s->p->classes[rec].class_path, w, s->g.n,
			 s->g.n == 1 ? "" : "s", err);
	}
	if (rc)
		s->sched_rep = false;
}

/* The optimizer's constructor over the groups it is built with (the
 * session's, or phase 0's at a new_optimizer): its @groups checks. */
static void construct_optimizer(struct sim *s, int64_t phase)
{
	if (s->opt >= 0 && !s->reported[s->opt] && stdlib_groups(s, s->opt, when(s, phase, phase)))
		s->reported[s->opt] = true;
}

/* The optimizer over every group of the phase, as the runtime builds it at
 * each transition: each group's hyper-parameters pass the constructor's
 * validation.  torch validates only where it constructs the optimizer
 * (construct_optimizer); add_param_group and schedulers never do, so for
 * FTS this is no problem: only for libftsrt (--target=ftsrt, build). */
static void validate_optimizer(struct sim *s, int64_t phase)
{
	if (s->opt < 0 || !s->opt_rep || s->reported[s->opt] || !s->ir->settings.target_ftsrt)
		return;
	char err[256];
	if (sem_optim_construct(s->p, s->opt, &s->g, err, sizeof(err)) == 0)
		return;
	s->reported[s->opt] = true;
	fts_diag(s->d, FTS_E_CONSTRUCT, rec_span(s, s->opt), s->p->classes[s->opt].class_path,
		 when(s, phase, phase), s->g.n, s->g.n == 1 ? "" : "s", err);
}

/* The phase whose directive built scheduler record rec (a child: its
 * parent's): 0 for the session's, 1 for reinit_lr_cfg. */
static int64_t rec_phase(const struct sim *s, uint32_t rec)
{
	const struct rt_plan *p = s->p;
	for (uint32_t k = 0; k < p->nclasses; k++)
		for (uint32_t j = 0; j < p->classes[k].nchildren; j++)
			if ((uint32_t)p->classes[k].children[j] == rec)
				return rec_phase(s, k);
	if ((int32_t)rec == p->reinit_scheduler)
		return 1;
	for (uint32_t i = 0; i < p->nphases; i++)
		if (p->phases[i].new_lr_scheduler == (int32_t)rec)
			return p->phases[i].index;
	return 0;
}

/*
 * libftsrt (--target=ftsrt, build): each lr_lambda program over the epochs
 * its scheduler surely sees: from 0 to max_epochs less the phase it starts
 * in (every phase trains at least one epoch; a step-interval scheduler
 * steps at least once an epoch).  One that raises there, or gives a
 * negative or non-finite factor (a negative lr, which libftsrt refuses),
 * stops the run.  Returns whether one was reported.
 */
static bool check_lambdas(struct sim *s)
{
	bool any = false;
	if (!s->ir->settings.target_ftsrt)
		return false;
	int64_t epochs = s->ir->settings.max_epochs > 0 ? s->ir->settings.max_epochs : 1000;
	for (uint32_t k = 0; k < s->p->nclasses; k++) {
		const struct rt_plan_class *c = &s->p->classes[k];
		struct rt_lambda l;
		struct rt_lambda_diag dg;
		if (!c->scheduler || !c->lambda || s->v->problem[k] ||
		    rt_lambda_validate(c->lambda, c->lambda_len, &l, &dg))
			continue;
		int64_t n = epochs - rec_phase(s, k) - 1;
		for (int64_t e = 0; e <= n; e++) {
			double f = 0;
			enum rt_lambda_exc exc = RT_LAMBDA_EXC_NONE;
			const char *why = NULL;
			if (rt_lambda_eval(&l, (double)e, &f, &exc))
				why = fts_arena_printf(s->a, "raises %s", rt_lambda_exc_name(exc));
			else if (!isfinite(f) || f < 0)
				why = fts_arena_printf(s->a, "gives %g, a %s lr that libftsrt refuses", f,
						       isfinite(f) ? "negative" : "non-finite");
			if (!why)
				continue;
			fts_diag(s->d, FTS_E_LAMBDA_FAILS, rec_span(s, (int32_t)k), c->class_path, why,
				 c->epoch_interval ? "epoch" : "step", (long long)e);
			any = true;
			break;
		}
	}
	return any;
}

static struct fts_sim_class class_state(struct sim *s, bool optimizer, int64_t since)
{
	struct fts_sim_class c = {0};
	int32_t rec = optimizer ? s->opt : s->sched;
	c.rec = rec;
	c.since = since;
	if (optimizer) {
		c.known = rec >= 0;
		c.lr = rec_lr(s, rec);
		c.slots = rec_slots(s, rec);
	} else {
		c.known = s->sched_known;
		c.none = s->sched_known && rec < 0;
	}
	c.dir = rec >= 0 ? s->v->dir[rec] : NULL;
	if (rec >= 0 && !c.dir)
		c.dir = optimizer ? s->init->optimizer : s->init->scheduler;
	return c;
}

/* The phase's layout: the groups as they are now. */
static void snapshot(struct sim *s, struct fts_sim_phase *sp)
{
	const struct fts_planview *v = s->v;
	sp->ngroups = s->g.n;
	sp->groups = fts_arena_alloc(s->a, (s->g.n + 1) * sizeof(*sp->groups));
	for (size_t k = 0; k < s->g.n; k++) {
		struct fts_sim_group *gr = &sp->groups[k];
		int ph = s->g.phase[k];
		bool pair = (k + 1 < s->g.n && s->g.phase[k + 1] == ph && s->g.no_decay[k + 1] && !s->g.no_decay[k])
			|| s->g.no_decay[k];
		bool unknown = s->g.user[k] && sem_initial_ngroups(s->p) > 1 && !sem_initial_split(s->p);
		gr->phase = s->p->phases[ph].index;
		gr->no_decay = s->g.no_decay[k];
		gr->user = s->g.user[k];
		gr->lr = lr_of(s->g.lr[k], s->g.klr[k]);
		gr->initial_lr = isnan(s->g.init[k]) ? lr_of(0, SEM_UNKNOWN) : lr_of(s->g.init[k], s->g.kinit[k]);
		if (unknown) {
			gr->nparams = UINT32_MAX;
			gr->numel = 0;
		} else if (!pair) {
			gr->nparams = v->ndecay[ph] + v->nnodecay[ph];
			gr->numel = v->numel_decay[ph] + v->numel_nodecay[ph];
		} else {
			gr->nparams = gr->no_decay ? v->nnodecay[ph] : v->ndecay[ph];
			gr->numel = gr->no_decay ? v->numel_nodecay[ph] : v->numel_decay[ph];
		}
		gr->bytes = 0;
	}
}

struct fts_sim *fts_simulate(struct fts_ir *ir, const struct fts_initial *init,
			     const struct fts_planview *v, struct fts_diags *d)
{
	if (!v || ir->nphases == 0 || ir->max_depth < 0)
		return NULL;
	struct sim s = {0};
	s.ir = ir;
	s.init = init;
	s.v = v;
	s.p = &v->p;
	s.d = d;
	s.a = ir->arena;
	sem_groups_init(&s.g, NULL, NULL);
	s.reported = fts_arena_alloc(ir->arena, (v->p.nclasses + 1) * sizeof(*s.reported));
	size_t nph = (size_t)ir->max_depth + 1;
	struct fts_sim *sim = fts_arena_alloc(ir->arena, sizeof(*sim));
	sim->phases = fts_arena_alloc(ir->arena, nph * sizeof(*sim->phases));
	sim->n = nph;
	sim->view = v;

	if (check_lambdas(&s))          /* its negative lrs are no second problem */
		for (uint32_t k = 0; k < v->p.nclasses; k++)
			s.reported[k] = true;
	/* phase 0: the training session's own optimizer and scheduler (7.1) */
	set_optimizer(&s, v->optimizer_known ? v->p.initial_optimizer : -1);
	struct fts_sim_lr l0 = rec_lr(&s, s.opt);
	add_groups(&s, 0, l0.v, l0.kind == FTS_LR_KNOWN ? SEM_KNOWN : SEM_UNKNOWN, true);
	s.sched_known = v->scheduler_known;
	s.sched = v->scheduler_known ? v->p.initial_scheduler : -1;
	if (v->scheduler_known && s.sched >= 0)
		construct_scheduler(&s, s.sched, 0, 0);
	construct_optimizer(&s, 0);
	validate_optimizer(&s, 0);
	int64_t opt_since = -1, sched_since = -1;

	size_t cap = sem_max_ops(s.p);
	struct sem_op *ops = fts_arena_alloc(ir->arena, cap * sizeof(*ops));
	int64_t start = 0;
	for (size_t dd = 0; dd < nph; dd++) {
		struct fts_ir_phase *ph = &ir->phases[dd];
		struct fts_sim_phase *sp = &sim->phases[dd];
		sp->index = ph->index;
		sp->existing = 0;
		if (dd > 0) {
			size_t prev_n = s.g.n;
			size_t n = sem_transition(s.p, (int)dd, false, (int)dd - 1, ops, cap);
			for (size_t k = 0; k < n; k++) {
				const struct sem_op *op = &ops[k];
				switch ((enum sem_op_kind)op->kind) {
				case SEM_OP_THAW:
					break;
				case SEM_OP_REINIT_OPTIMIZER: {
					set_optimizer(&s, op->rec);
					opt_since = ph->index;
					s.g.n = 0;
					struct fts_sim_lr lr = rec_lr(&s, op->rec);
					add_groups(&s, 0, lr.v, lr.kind == FTS_LR_KNOWN ? SEM_KNOWN : SEM_UNKNOWN, false);
					construct_optimizer(&s, ph->index);
					break;
				}
				case SEM_OP_ROLL_FORWARD:
					for (size_t g = 0; g < s.g.n && g < prev_n; g++)
						s.g.klr[g] = SEM_CONTINUES;
					break;
				case SEM_OP_ADD_GROUPS: {
					if (op->phase == (int)dd)
						sp->existing = s.g.n;
					double lr = sem_phase_lr(s.p, op->phase);
					uint8_t k2 = SEM_KNOWN;
					/* apply_lambdas_new_pgs: scaled by lr_lambdas[-1](last_epoch) */
					if (s.p->apply_lambdas_new_pgs && s.sched >= 0 &&
					    (!s.sched_rep || s.p->classes[s.sched].lambda))
						k2 = SEM_UNKNOWN;
					add_groups(&s, op->phase, lr, k2, false);
					break;
				}
				case SEM_OP_REINIT_SCHEDULER:
					sem_reinit_lrs(&s.g, &s.p->classes[op->rec]);
					construct_scheduler(&s, op->rec, ph->index, s.p->phases[op->phase].index);
					sched_since = ph->index;
					break;
				}
			}
			validate_optimizer(&s, ph->index);
			int64_t prev_mte = ir->phases[dd - 1].mte;
			start = ir->settings.epoch_transitions_only && prev_mte >= 0
				? (prev_mte > start + 1 ? prev_mte : start + 1) : start + 1;
		}
		sp->opt = class_state(&s, true, opt_since);
		sp->sched = class_state(&s, false, sched_since);
		sp->start_epoch = dd == 0 ? 0 : (ir->settings.epoch_transitions_only ? start : -1);
		snapshot(&s, sp);
		for (uint32_t j = 0; j < ph->nparams; j++) {
			const struct fts_mparam *mp = &ir->manifest->p[ph->params[j].index];
			sp->nparams++;
			sp->numel += fts_mp_numel(ir->manifest, mp);
			sp->bytes += fts_mp_numel(ir->manifest, mp) * fts_mp_dtype_size(mp);
		}
		sp->total_params = (dd ? sim->phases[dd - 1].total_params : 0) + sp->nparams;
		sp->total_numel = (dd ? sim->phases[dd - 1].total_numel : 0) + sp->numel;
		sp->total_bytes = (dd ? sim->phases[dd - 1].total_bytes : 0) + sp->bytes;
	}
	sem_groups_release(&s.g);
	return sim;
}

/* --- checks ---------------------------------------------------------------------- */

static const char *class_name(const struct fts_sim_class *c)
{
	if (!c->known)
		return "an unknown class";
	if (c->none)
		return "no scheduler";
	return c->dir && c->dir->class_path ? c->dir->class_path : "an unknown class";
}

static void check_counts(struct fts_ir *ir, const struct fts_sim *sim,
			 const struct fts_initial *init, struct fts_diags *d)
{
	for (size_t k = 1; k < sim->n; k++) {
		const struct fts_sim_phase *sp = &sim->phases[k];
		const struct fts_ir_phase *ph = &ir->phases[k];
		const struct fts_ir_directive *lrs = ir->reinit_lr ? ir->reinit_lr : ph->new_lr_scheduler;
		if (!lrs)
			continue;
		bool user0 = sp->ngroups && sp->groups[0].user;
		if (!lrs->init_pg_lrs)
			continue;
		/* without the module's no_decay, every phase may have the decay/no_decay pair:
		 * the count is not verified (FTS's own reminder), and wrong only past both */
		size_t most = init->no_decay_known ? sp->existing : 2 * sp->existing;
		if (!init->no_decay_known)
			fts_diag(d, FTS_W_INIT_PG_LRS, lrs->init_pg_lrs->span);
		if (lrs->npg_lrs > most) {
			const char *tail = lrs->npg_lrs > sp->ngroups
				? fts_arena_printf(ir->arena, "; entries beyond the %zu groups are ignored",
						   sp->ngroups)
				: fts_arena_printf(ir->arena, ": entry %zu overrides the lr of a group phase %lld "
						   "has just added", sp->existing + 1, (long long)ph->index);
			struct fts_diag *dg = fts_diag(d, FTS_W_INIT_PG_LRS_COUNT, lrs->init_pg_lrs->span,
						       lrs->npg_lrs, sp->existing, tail);
			if (!init->no_decay_known)
				fts_diag_note(d, dg, FTS_SPAN_NONE, "even with a no_decay pair in every phase "
					      "there would be %zu (the module's no_decay is not given: --no-decay)",
					      most);
			if (user0)
				fts_diag_note(d, dg, FTS_SPAN_NONE,
					      "assuming configure_optimizers builds %u parameter group%s for phase 0 "
					      "(--phase0-groups)", init->phase0_groups ? init->phase0_groups : 1,
					      init->phase0_groups > 1 ? "s" : "");
		}
	}
}

static void check_schedulers(struct fts_ir *ir, const struct fts_sim *sim,
			     const struct fts_initial *init, struct fts_diags *d)
{
	bool noted = false;
	for (size_t k = 1; k < sim->n; k++) {
		const struct fts_ir_phase *ph = &ir->phases[k];
		const struct fts_sim_phase *prev = &sim->phases[k - 1];
		const struct fts_ir_directive *lrs = ir->reinit_lr ? ir->reinit_lr : ph->new_lr_scheduler;
		if (lrs && prev->sched.known && prev->sched.none) {
			struct fts_diag *dg = fts_diag(d, FTS_E_NO_INITIAL_SCHEDULER,
						       lrs->node ? lrs->node->span : ph->key->span,
						       (long long)ph->index);
			if (fts_span_valid(init->where))
				fts_diag_note(d, dg, init->where, "the training session is configured here, without "
					      "lr_scheduler_init");
			break;
		}
		if (lrs && !prev->sched.known && !noted) {
			fts_diag(d, FTS_N_INFO, ph->key->span,
				 fts_arena_printf(ir->arena, "the initial lr scheduler is unknown: whether phase %lld "
						  "has one to replace is not checked (give --config or "
						  "--initial-lr-scheduler)", (long long)ph->index));
			noted = true;
		}
		/* V-T3: new groups under a lambda scheduler without apply_lambdas_new_pgs */
		const struct fts_sim_class *sc = &prev->sched;
		if (!lrs && ph->nparams && sc->dir && sc->dir->decl &&
		    fts_class_has(sc->dir->decl, FTS_CLS_LAMBDAS)) {
			if (!ir->settings.apply_lambdas_new_pgs)
				fts_diag(d, FTS_W_LAMBDAS_NEW_PGS, ph->key->span, (long long)ph->index,
					 class_name(sc));
			else if (!fts_class_has(sc->dir->decl, FTS_CLS_CHAINABLE))
				fts_diag(d, FTS_W_APPLY_LAMBDAS_CLOSED, ph->key->span, class_name(sc));
		}
	}
}

static void check_reachable(struct fts_ir *ir, const struct fts_sim *sim, struct fts_diags *d)
{
	if (!ir->settings.epoch_transitions_only)
		return;
	for (size_t k = 1; k < sim->n; k++)
		if (ir->settings.max_epochs >= 0 && sim->phases[k].start_epoch >= ir->settings.max_epochs) {
			int64_t me = ir->settings.max_epochs;
			fts_diag(d, FTS_W_PHASE_UNREACHABLE, ir->phases[k].key->span,
				 (long long)ir->phases[k].index, (long long)me);
			break;
		}
}

void fts_check_cross_phase(struct fts_ir *ir, const struct fts_sim *sim,
			   const struct fts_initial *init, struct fts_diags *d)
{
	if (!sim)
		return;
	check_counts(ir, sim, init, d);
	check_schedulers(ir, sim, init, d);
	check_reachable(ir, sim, d);
}

/* --- explain-plan ------------------------------------------------------------------- */

static void print_bytes(FILE *out, uint64_t b)
{
	static const char *const unit[] = {"B", "KiB", "MiB", "GiB", "TiB"};
	double v = (double)b;
	int u = 0;
	while (v >= 1024 && u < 4) {
		v /= 1024;
		u++;
	}
	fprintf(out, u ? "%.1f %s" : "%.0f %s", v, unit[u]);
}

static void print_lr(FILE *out, struct fts_sim_lr lr)
{
	switch (lr.kind) {
	case FTS_LR_KNOWN: fprintf(out, "%g", lr.v); break;
	case FTS_LR_CONTINUES: fputs("(continues)", out); break;
	case FTS_LR_UNKNOWN: fputs("?", out); break;
	}
}

void fts_explain_plan(const struct fts_ir *ir, const struct fts_sim *sim, FILE *out)
{
	if (!sim) {
		fputs("ftsc: no plan to explain: the schedule has errors\n", out);
		return;
	}
	fprintf(out, "%zu phase%s", sim->n, sim->n == 1 ? "" : "s");
	if ((size_t)ir->nphases > sim->n)
		fprintf(out, " of %u (max_depth %lld)", ir->nphases, (long long)ir->max_depth);
	fprintf(out, "; restore_best %s; %s transitions; max_epochs %lld\n",
		ir->settings.restore_best ? "on" : "off",
		ir->settings.epoch_transitions_only ? "epoch-driven" : "early-stopping or epoch",
		(long long)ir->settings.max_epochs);
	for (size_t k = 0; k < sim->n; k++) {
		const struct fts_sim_phase *sp = &sim->phases[k];
		const struct fts_ir_phase *ph = &ir->phases[k];
		fprintf(out, "\nphase %lld", (long long)sp->index);
		if (sp->start_epoch >= 0)
			fprintf(out, ": from epoch %lld", (long long)sp->start_epoch);
		if (k + 1 < sim->n) {
			if (ph->mte >= 0)
				fprintf(out, "%s until epoch %lld", sp->start_epoch >= 0 ? "" : ":",
					(long long)ph->mte);
			else
				fputs(sp->start_epoch >= 0 ? " until early stopping" : ": until early stopping", out);
		} else {
			fputs(sp->start_epoch >= 0 ? " to the end of training" : ": final phase", out);
		}
		fprintf(out, "\n  thaws     %u parameter%s, %llu elements, ", sp->nparams,
			sp->nparams == 1 ? "" : "s", (unsigned long long)sp->numel);
		print_bytes(out, sp->bytes);
		fprintf(out, " (trainable now: %u, ", sp->total_params);
		print_bytes(out, sp->total_bytes);
		fputs(")\n", out);
		fprintf(out, "  optimizer %s", class_name(&sp->opt));
		if (sp->opt.known && sp->opt.slots)
			fprintf(out, " [state: %s]", sp->opt.slots);
		if (sp->opt.since >= 1)
			fprintf(out, " (new in phase %lld)", (long long)sp->opt.since);
		fprintf(out, "\n  scheduler %s", class_name(&sp->sched));
		if (sp->sched.since >= 1)
			fprintf(out, " (new in phase %lld)", (long long)sp->sched.since);
		fprintf(out, "\n  groups    %zu\n", sp->ngroups);
		for (size_t g = 0; g < sp->ngroups; g++) {
			const struct fts_sim_group *gr = &sp->groups[g];
			fprintf(out, "    %2zu  phase %lld%s%s  lr ", g, (long long)gr->phase,
				gr->user ? " (configure_optimizers)" : "",
				gr->no_decay ? " no_decay (weight_decay 0)" : "");
			print_lr(out, gr->lr);
			if (gr->nparams != UINT32_MAX)
				fprintf(out, "  %u param%s", gr->nparams, gr->nparams == 1 ? "" : "s");
			fputc('\n', out);
		}
	}
}
