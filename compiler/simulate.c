/*
 * simulate.c - cross-phase analysis (see simulate.h).
 *
 * The transition procedure is FTS's (docs/fts-semantics.md 7.6-7.10):
 *   - a new optimizer (new_optimizer, or reinit_optim_cfg at every
 *     transition) rebuilds phase 0's groups from the phase-0 parameters
 *     (one group, two with no_decay) at the optimizer's lr, replays phases
 *     1..D-1 (each adding its groups and re-running its own lr-scheduler
 *     reinitialization), then rolls the previous lrs forward by position;
 *   - the target phase adds its groups (lr = the phase lr) and, with a
 *     new_lr_scheduler (or reinit_lr_cfg), resets existing groups by the
 *     init_pg_lrs > use_current_optimizer_pg_lrs > initial_lr precedence
 *     before the new scheduler takes its initial step.
 */
#include "simulate.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "decl.h"
#include "expr.h"
#include "fts_stdlib.h"

struct sim {
	struct fts_ir *ir;
	const struct fts_initial *init;
	struct fts_arena *a;
	struct fts_sim_group *g;        /* the working group list */
	size_t n, cap;
};

static struct fts_sim_lr lr_known(double v)
{
	struct fts_sim_lr l = {FTS_LR_KNOWN, v};
	return l;
}

static const struct fts_sim_lr LR_CONT = {FTS_LR_CONTINUES, 0};
static const struct fts_sim_lr LR_UNKNOWN = {FTS_LR_UNKNOWN, 0};

static bool value_number(const struct fts_value *v, double *out)
{
	switch (v->kind) {
	case FTS_V_FLOAT: *out = v->f; return true;
	case FTS_V_INT: *out = (double)v->i; return true;
	case FTS_V_BOOL: *out = v->b; return true;
	default: return false;
	}
}

/* A resolved argument of a directive's class (given or default), or NULL. */
static const struct fts_resolved_arg *dir_arg(struct sim *s, const struct fts_ir_directive *dir,
					      const char *name)
{
	if (!dir || !dir->decl)
		return NULL;
	struct fts_resolved_arg *args = NULL;
	fts_stdlib_resolve(dir->decl, dir->init_args, s->a, &args);
	if (!args)
		return NULL;
	for (size_t i = 0; i < dir->decl->nargs; i++)
		if (strcmp(args[i].arg->name, name) == 0)
			return &args[i];
	return NULL;
}

/* defaults["lr"] of an optimizer directive. */
static struct fts_sim_lr dir_lr(struct sim *s, const struct fts_ir_directive *dir)
{
	const struct fts_resolved_arg *ra = dir_arg(s, dir, "lr");
	double v;
	if (ra && value_number(&ra->value, &v))
		return lr_known(v);
	return LR_UNKNOWN;
}

/* "exp_avg, exp_avg_sq": the optimizer's state slots for its arguments. */
static const char *dir_slots(struct sim *s, const struct fts_ir_directive *dir)
{
	if (!dir || !dir->decl)
		return NULL;
	struct fts_resolved_arg *args = NULL;
	if (fts_stdlib_resolve(dir->decl, dir->init_args, s->a, &args) != 0 || !args)
		return NULL;
	const struct fts_decl_state *st[16];
	size_t n = fts_stdlib_state_slots(dir->decl, args, s->a, st, 16);
	char buf[512];
	size_t off = 0;
	buf[0] = '\0';
	for (size_t i = 0; i < n && i < 16 && off < sizeof(buf) - 64; i++)
		off += (size_t)snprintf(buf + off, sizeof(buf) - off, "%s%s", i ? ", " : "", st[i]->name);
	return fts_arena_strdup(s->a, n ? buf : "(none)");
}

static bool lambda_env(void *ctx, const char *name, struct fts_value *out)
{
	(void)ctx;
	if (strcmp(name, "epoch") != 0)
		return false;
	out->kind = FTS_V_INT;
	out->i = 0;
	return true;
}

/*
 * The factor a scheduler's construction step applies to every group's
 * lr (torch evaluates get_lr at last_epoch 0): start_factor for LinearLR,
 * factor for ConstantLR, lr_lambda(0) for LambdaLR, 1 for the others.
 */
static struct fts_sim_lr construction_factor(struct sim *s, const struct fts_ir_directive *dir)
{
	if (!dir || !dir->decl)
		return LR_UNKNOWN;
	const char *name = dir->decl->name;
	const char *arg = NULL;
	if (strcmp(name, "LinearLR") == 0)
		arg = "start_factor";
	else if (strcmp(name, "ConstantLR") == 0)
		arg = "factor";
	else if (strcmp(name, "LambdaLR") == 0)
		arg = "lr_lambda";
	if (strncmp(dir->decl->path, "torch.", 6) != 0 || strcmp(name, "CyclicLR") == 0 ||
	    strcmp(name, "OneCycleLR") == 0 || fts_class_has(dir->decl, FTS_CLS_CONTAINER))
		return LR_UNKNOWN;      /* a user's class, or one that sets lrs of its own */
	if (!arg)
		return lr_known(1.0);
	const struct fts_resolved_arg *ra = dir_arg(s, dir, arg);
	if (!ra)
		return LR_UNKNOWN;
	double v;
	if (value_number(&ra->value, &v))
		return lr_known(v);
	if (ra->value.kind == FTS_V_STR) {
		struct fts_expr *e = fts_expr_parse(s->a, FTS_NOFILE, 0, ra->value.s, ra->value.len,
						    NULL, NULL);
		struct fts_value out;
		if (e && fts_expr_eval(e, s->a, lambda_env, NULL, &out, NULL) == FTS_EVAL_OK &&
		    value_number(&out, &v))
			return lr_known(v);
	}
	return LR_UNKNOWN;
}

static struct fts_sim_lr scaled(struct fts_sim_lr lr, struct fts_sim_lr f)
{
	if (lr.kind != FTS_LR_KNOWN)
		return lr;
	if (f.kind != FTS_LR_KNOWN)
		return LR_UNKNOWN;
	return lr_known(lr.v * f.v);
}

/* --- groups -------------------------------------------------------------------- */

static void push_group(struct sim *s, struct fts_sim_group g)
{
	if (s->n == s->cap) {
		s->cap = s->cap ? 2 * s->cap : 16;
		s->g = fts_xrealloc(s->g, s->cap * sizeof(*s->g));
	}
	s->g[s->n++] = g;
}

static bool is_no_decay(const struct sim *s, const char *name)
{
	for (size_t i = 0; i < s->init->nno_decay; i++)
		if (strstr(name, s->init->no_decay[i]))
			return true;
	return false;
}

/* FTS's add_optimizer_groups for the parameters of phase i. */
static void add_phase_groups(struct sim *s, const struct fts_ir_phase *ph, struct fts_sim_lr lr)
{
	const struct fts_manifest *m = s->ir->manifest;
	struct fts_sim_group g[2] = {{0}, {0}};
	for (int k = 0; k < 2; k++) {
		g[k].phase = ph->index;
		g[k].no_decay = k == 1;
		g[k].lr = g[k].initial_lr = lr;
	}
	for (uint32_t j = 0; j < ph->nparams; j++) {
		const struct fts_mparam *mp = &m->p[ph->params[j].index];
		int k = s->init->nno_decay && is_no_decay(s, mp->name);
		g[k].nparams++;
		g[k].numel += mp->numel;
		g[k].bytes += mp->numel * mp->dtype_size;
	}
	if (ph->nparams == 0)
		return;                 /* "No thawed parameters passed": no group */
	push_group(s, g[0]);
	if (s->init->nno_decay)
		push_group(s, g[1]);
}

/* Phase 0's groups: FTS-built (after an optimizer reinitialization) or the user's. */
static void phase0_groups(struct sim *s, bool fts_built, struct fts_sim_lr lr)
{
	const struct fts_ir_phase *p0 = &s->ir->phases[0];
	if (fts_built) {
		add_phase_groups(s, p0, lr);
		return;
	}
	unsigned n = s->init->phase0_groups ? s->init->phase0_groups : 1;
	uint64_t numel = 0, bytes = 0;
	for (uint32_t j = 0; j < p0->nparams; j++) {
		const struct fts_mparam *mp = &s->ir->manifest->p[p0->params[j].index];
		numel += mp->numel;
		bytes += mp->numel * mp->dtype_size;
	}
	for (unsigned k = 0; k < n; k++) {
		struct fts_sim_group g = {0};
		g.phase = 0;
		g.user = true;
		g.lr = g.initial_lr = lr;
		g.nparams = n == 1 ? p0->nparams : UINT32_MAX;
		g.numel = n == 1 ? numel : 0;
		g.bytes = n == 1 ? bytes : 0;
		push_group(s, g);
	}
}

/* FTS's reinit_lr_scheduler on the current groups (7.10). */
static void lr_reinit(struct sim *s, const struct fts_ir_directive *dir, bool user_groups_have_initial)
{
	for (size_t k = 0; k < s->n; k++) {
		struct fts_sim_group *g = &s->g[k];
		if (dir->init_pg_lrs && dir->init_pg_lrs->kind == FTS_N_SEQ) {
			if (k < dir->npg_lrs) {
				g->lr = g->initial_lr = lr_known(dir->pg_lrs[k]);
			}
			continue;       /* uncovered groups keep lr and initial_lr */
		}
		if (dir->use_current)
			continue;
		if (g->user && !user_groups_have_initial)
			continue;       /* no initial_lr (initial ReduceLROnPlateau): lr unchanged */
		g->lr = g->initial_lr;
	}
	struct fts_sim_lr f = construction_factor(s, dir);
	for (size_t k = 0; k < s->n; k++)
		s->g[k].lr = scaled(s->g[k].lr, f);
}

static struct fts_sim_class class_of(struct sim *s, const struct fts_ir_directive *dir,
				     int64_t since, bool optimizer)
{
	struct fts_sim_class c = {0};
	c.known = true;
	c.dir = dir;
	c.since = since;
	if (optimizer) {
		c.slots = dir_slots(s, dir);
		c.lr = dir_lr(s, dir);
	}
	return c;
}

struct fts_sim *fts_simulate(struct fts_ir *ir, const struct fts_initial *init)
{
	if (!ir->keys_ok || ir->nphases == 0 || ir->max_depth < 0)
		return NULL;
	for (uint32_t i = 0; i < ir->nphases; i++)
		if (!ir->phases[i].node)
			return NULL;
	struct sim s = {ir, init, ir->arena, NULL, 0, 0};
	size_t nph = (size_t)ir->max_depth + 1;
	struct fts_sim *sim = fts_arena_alloc(ir->arena, sizeof(*sim));
	sim->phases = fts_arena_alloc(ir->arena, nph * sizeof(*sim->phases));
	sim->n = nph;

	/* phase 0: the training session's own optimizer and scheduler */
	struct fts_sim_class opt = {0}, sched = {0};
	opt.since = sched.since = -1;
	if (init->optimizer_known) {
		opt = class_of(&s, init->optimizer, -1, true);
	} else {
		opt.lr = LR_UNKNOWN;
	}
	if (init->scheduler_known) {
		sched.known = true;
		sched.none = !init->scheduler;
		sched.dir = init->scheduler;
	}
	sched.since = -1;
	/* an initial ReduceLROnPlateau never sets initial_lr */
	bool user_initial = !(sched.dir && sched.dir->decl &&
			      fts_class_has(sched.dir->decl, FTS_CLS_PLATEAU));
	phase0_groups(&s, false, opt.lr);
	if (sched.dir) {
		struct fts_sim_lr f = construction_factor(&s, sched.dir);
		for (size_t k = 0; k < s.n; k++)
			s.g[k].lr = scaled(s.g[k].lr, f);
	}

	int64_t start = 0;
	for (size_t d = 0; d < nph; d++) {
		struct fts_ir_phase *ph = &ir->phases[d];
		struct fts_sim_phase *sp = &sim->phases[d];
		sp->index = ph->index;
		if (d > 0) {
			const struct fts_ir_directive *nopt = ir->reinit_optim ? ir->reinit_optim
									      : ph->new_optimizer;
			const struct fts_ir_directive *nlrs = ir->reinit_lr ? ir->reinit_lr
									    : ph->new_lr_scheduler;
			size_t prev_n = s.n;
			if (nopt) {
				opt = class_of(&s, nopt, ph->index, true);
				s.n = 0;
				phase0_groups(&s, true, opt.lr);
				for (size_t i = 1; i < d; i++) {
					const struct fts_ir_phase *pi = &ir->phases[i];
					add_phase_groups(&s, pi, lr_known(pi->lr));
					const struct fts_ir_directive *li = ir->reinit_lr ? ir->reinit_lr
											  : pi->new_lr_scheduler;
					if (li)
						lr_reinit(&s, li, true);
				}
				/* the target's roll-forward of the previous lrs, by position */
				for (size_t k = 0; k < s.n && k < prev_n; k++)
					s.g[k].lr = LR_CONT;
				user_initial = true;
			} else {
				for (size_t k = 0; k < s.n; k++)
					s.g[k].lr = LR_CONT;
			}
			sp->existing = s.n;
			struct fts_sim_lr plr = lr_known(ph->lr);
			if (ir->settings.apply_lambdas_new_pgs && sched.dir && sched.dir->decl &&
			    fts_class_has(sched.dir->decl, FTS_CLS_LAMBDAS))
				plr = LR_UNKNOWN;       /* scaled by lr_lambdas[-1](last_epoch) */
			add_phase_groups(&s, ph, plr);
			if (nlrs) {
				lr_reinit(&s, nlrs, user_initial);
				sched = (struct fts_sim_class){0};
				sched.known = true;
				sched.dir = nlrs;
				sched.since = ph->index;
			}
			int64_t prev_mte = ir->phases[d - 1].mte;
			start = ir->settings.epoch_transitions_only && prev_mte >= 0
				? (prev_mte > start + 1 ? prev_mte : start + 1) : start + 1;
		}
		sp->opt = opt;
		sp->sched = sched;
		sp->start_epoch = d == 0 ? 0 : (ir->settings.epoch_transitions_only ? start : -1);
		sp->ngroups = s.n;
		sp->groups = fts_arena_alloc(ir->arena, (s.n + 1) * sizeof(*sp->groups));
		memcpy(sp->groups, s.g, s.n * sizeof(*s.g));
		if (d == 0)
			sp->existing = 0;
		for (uint32_t j = 0; j < ph->nparams; j++) {
			const struct fts_mparam *mp = &ir->manifest->p[ph->params[j].index];
			sp->nparams++;
			sp->numel += mp->numel;
			sp->bytes += mp->numel * mp->dtype_size;
		}
		sp->total_params = (d ? sim->phases[d - 1].total_params : 0) + sp->nparams;
		sp->total_numel = (d ? sim->phases[d - 1].total_numel : 0) + sp->numel;
		sp->total_bytes = (d ? sim->phases[d - 1].total_bytes : 0) + sp->bytes;
	}
	free(s.g);
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

static const char *origin(struct fts_arena *a, const struct fts_sim_class *c, const char *what)
{
	if (c->since < 0)
		return fts_arena_printf(a, "%s (the initial %s, phase 0)", class_name(c), what);
	return fts_arena_printf(a, "%s (%s of phase %lld)", class_name(c),
				strcmp(what, "optimizer") == 0 ? "new_optimizer" : "new_lr_scheduler",
				(long long)c->since);
}

static struct fts_span class_span(const struct fts_sim_class *c, const struct fts_initial *init)
{
	if (c->dir && fts_span_valid(c->dir->class_span))
		return c->dir->class_span;
	return init->where;
}

static bool same_class(const struct fts_sim_class *x, const struct fts_sim_class *y)
{
	const char *a = x->dir ? x->dir->class_path : NULL, *b = y->dir ? y->dir->class_path : NULL;
	if (x->dir && y->dir && x->dir->decl && x->dir->decl == y->dir->decl)
		return true;
	return a && b && strcmp(a, b) == 0;
}

static void check_restore(struct fts_ir *ir, const struct fts_sim *sim,
			  const struct fts_initial *init, struct fts_diags *d)
{
	bool noted = false;
	for (size_t k = 1; k < sim->n; k++) {
		const struct fts_sim_phase *sp = &sim->phases[k];
		const struct fts_ir_phase *ph = &ir->phases[k];
		bool new_opt = ir->reinit_optim || ph->new_optimizer;
		bool new_lrs = ir->reinit_lr || ph->new_lr_scheduler;
		/* optimizer: any earlier phase may hold the best checkpoint */
		if (!new_opt) {
			for (size_t j = 0; j < k; j++) {
				const struct fts_sim_class *old = &sim->phases[j].opt, *cur = &sp->opt;
				if (!old->known || !cur->known) {
					if (!noted) {
						fts_diag(d, FTS_N_INFO, ph->key->span,
							 "the initial optimizer is unknown: restore_best compatibility of "
							 "phase 0's checkpoints is not checked (give --config or "
							 "--initial-optimizer)");
						noted = true;
					}
					continue;
				}
				bool same = same_class(old, cur);
				bool same_slots = old->slots && cur->slots && strcmp(old->slots, cur->slots) == 0;
				if (same && same_slots)
					continue;
				const char *from = origin(ir->arena, old, "optimizer");
				const char *into = origin(ir->arena, cur, "optimizer");
				struct fts_diag *dg = fts_diag(d, FTS_W_RESTORE_OPTIMIZER, ph->key->span,
							       (long long)ph->index, from, into);
				if (!same)
					fts_diag_note(d, dg, class_span(old, init),
						      "phase %zu trains with %s: if the best checkpoint at the phase %lld "
						      "transition was saved in phase %zu, its parameter groups and state are "
						      "loaded into %s and the first optimizer step of phase %lld fails",
						      j, class_name(old), (long long)ph->index, j, class_name(cur),
						      (long long)ph->index);
				else
					fts_diag_note(d, dg, class_span(old, init),
						      "phase %zu's %s keeps state [%s], phase %lld's keeps [%s]: if the best "
						      "checkpoint was saved in phase %zu, its hyper-parameters and state "
						      "silently replace those new_optimizer configured",
						      j, class_name(old), old->slots, (long long)cur->since, cur->slots, j);
				fts_diag_help(d, dg, "re-specify new_optimizer in phase %lld (the restored state is "
					      "then discarded)", (long long)ph->index);
				fts_diag_help(d, dg, "or set restore_best: false (ftsc --restore-best=false)");
				break;
			}
		}
		/* scheduler: the restored state lands in the scheduler in force */
		if (!new_lrs) {
			for (size_t j = 0; j < k; j++) {
				const struct fts_sim_class *old = &sim->phases[j].sched, *cur = &sp->sched;
				if (!old->known || !cur->known || old->none || cur->none || same_class(old, cur))
					continue;
				struct fts_diag *dg = fts_diag(d, FTS_W_RESTORE_SCHEDULER, ph->key->span,
							       (long long)ph->index,
							       origin(ir->arena, old, "lr scheduler"),
							       origin(ir->arena, cur, "lr scheduler"));
				fts_diag_note(d, dg, class_span(old, init), "phase %zu steps %s", j, class_name(old));
				fts_diag_help(d, dg, "give phase %lld its own new_lr_scheduler", (long long)ph->index);
				fts_diag_help(d, dg, "or set restore_best: false (ftsc --restore-best=false)");
				break;
			}
		}
	}
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
		if (lrs->npg_lrs > sp->existing) {
			const char *tail = lrs->npg_lrs > sp->ngroups
				? fts_arena_printf(ir->arena, "; entries beyond the %zu groups are ignored",
						   sp->ngroups)
				: fts_arena_printf(ir->arena, ": entry %zu overrides the lr of a group phase %lld "
						   "has just added", sp->existing + 1, (long long)ph->index);
			struct fts_diag *dg = fts_diag(d, FTS_W_INIT_PG_LRS_COUNT, lrs->init_pg_lrs->span,
						       lrs->npg_lrs, sp->existing, tail);
			if (user0)
				fts_diag_note(d, dg, FTS_SPAN_NONE,
					      "assuming configure_optimizers builds %u parameter group%s for phase 0 "
					      "(--phase0-groups)", init->phase0_groups ? init->phase0_groups : 1,
					      init->phase0_groups > 1 ? "s" : "");
		}
		/* ReduceLROnPlateau with a per-group min_lr list */
		if (lrs->decl && fts_class_has(lrs->decl, FTS_CLS_PLATEAU) && lrs->init_args) {
			struct fts_pair *pr = fts_node_get(lrs->init_args, "min_lr");
			if (pr && pr->value->kind == FTS_N_SEQ && pr->value->nitems != sp->ngroups) {
				struct fts_diag *dg = fts_diag(d, FTS_E_MIN_LR_COUNT, pr->value->span,
							       pr->value->nitems, sp->ngroups,
							       (long long)ph->index);
				if (user0)
					fts_diag_note(d, dg, FTS_SPAN_NONE,
						      "assuming configure_optimizers builds %u parameter group%s for "
						      "phase 0 (--phase0-groups)",
						      init->phase0_groups ? init->phase0_groups : 1,
						      init->phase0_groups > 1 ? "s" : "");
			}
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
		if (sim->phases[k].start_epoch >= ir->settings.max_epochs) {
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
	if (ir->settings.restore_best)
		check_restore(ir, sim, init, d);
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
