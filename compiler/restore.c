/*
 * restore.c - what restore_best does at each transition (see restore.h).
 *
 * For a target phase D without a new optimizer, the optimizer B in force
 * (the one phase D-1 trains with) receives the checkpoint of a source
 * phase b < D, written under the optimizer A phase b trained with.  When
 * A and B are one object (no new_optimizer between b and D-1) the groups
 * and state are its own.  Otherwise torch's load_state_dict leaves each
 * restored group with
 *
 *   B's setforce keys  >  A's keys (A's configuration)  >  B's setdefault keys
 *
 * and the per-parameter state A wrote.  B.step() then reads, in the order
 * of the stdlib's `reads`, group keys (one the dict lacks: KeyError) and
 * state slots (live under the restored keys; one A's state lacks: KeyError;
 * a parameter without state is initialised lazily, except by an optimizer
 * whose state is made at construction).  What it reads and finds, but with
 * a value other than B's configuration, is a reversion.
 */
#include "restore.h"

#include <stdlib.h>
#include <string.h>

#include <math.h>

#include "../runtime/sem.h"
#include "decl.h"
#include "expr.h"
#include "fts_stdlib.h"
#include "ir.h"
#include "planview.h"
#include "simulate.h"

#define MAX_SLOTS 32

/* An optimizer in force, with its configuration resolved. */
struct opt {
	const struct fts_sim_class *sc;
	const struct fts_decl_class *decl;
	struct fts_resolved_arg *ra;    /* decl->nargs */
	const struct fts_decl_state *live[MAX_SLOTS];
	size_t nlive;
};

static bool opt_get(struct fts_arena *a, const struct fts_sim_class *sc, struct opt *o)
{
	memset(o, 0, sizeof(*o));
	o->sc = sc;
	if (!sc->known || !sc->dir || !sc->dir->decl || sc->dir->decl->kind != FTS_DECL_OPTIMIZER)
		return false;
	o->decl = sc->dir->decl;
	if (!o->decl->reads || fts_stdlib_resolve(o->decl, sc->dir->init_args, a, &o->ra) != 0)
		return false;
	o->nlive = fts_stdlib_state_slots(o->decl, o->ra, a, o->live, MAX_SLOTS);
	if (o->nlive > MAX_SLOTS)
		o->nlive = MAX_SLOTS;
	return true;
}

static const struct fts_value *opt_value(const struct opt *o, const char *key)
{
	for (size_t i = 0; i < o->decl->nargs; i++)
		if (strcmp(o->ra[i].arg->name, key) == 0)
			return o->ra[i].missing ? NULL : &o->ra[i].value;
	return NULL;
}

static bool opt_live(const struct fts_decl_state *const *live, size_t n, const char *slot)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(live[i]->name, slot) == 0)
			return true;
	return false;
}

static bool is_state(const struct fts_decl_class *c, const char *name)
{
	for (size_t i = 0; i < c->nstates; i++)
		if (strcmp(c->states[i].name, name) == 0)
			return true;
	return false;
}

static const struct fts_value *setstate_value(const struct fts_decl_class *c, const char *key, bool force)
{
	for (size_t i = 0; i < c->nsetstates; i++)
		if (c->setstates[i].force == force && strcmp(c->setstates[i].name, key) == 0)
			return &c->setstates[i].value;
	return NULL;
}

/* The restored group's value of key, or NULL: the group lacks it. */
static const struct fts_value *restored(const struct opt *A, const struct opt *B, const char *key)
{
	const struct fts_value *v;
	if ((v = setstate_value(B->decl, key, true)))
		return v;
	if ((v = opt_value(A, key)))
		return v;
	return setstate_value(B->decl, key, false);
}

struct outcome {
	bool fails;
	const char *replay;             /* fails: a replayed scheduler cannot be built (why) */
	const char *key;                /* fails: the key step() misses */
	bool construction;              /* fails: state made at construction */
	/* reverts: the keys, configured and restored values */
	const char *names[16];
	const struct fts_value *conf[16], *rest[16];
	size_t n;
};

/*
 * Restoring A's checkpoint into B.  same: one object.  later: parameters
 * B trained that the checkpoint has no state for (thawed after it).
 */
static void analyse(struct fts_arena *a, const struct opt *A, const struct opt *B, bool same, bool later,
		    struct outcome *out)
{
	memset(out, 0, sizeof(*out));
	bool sac = fts_class_has(B->decl, FTS_CLS_STATE_AT_CONSTRUCTION);
	if (same) {
		if (sac && later && B->nlive) {
			out->fails = out->construction = true;
			out->key = B->live[0]->name;
			for (size_t i = 0; i < B->decl->nreads; i++)
				if (opt_live(B->live, B->nlive, B->decl->reads[i])) {
					out->key = B->decl->reads[i];
					break;
				}
		}
		return;
	}
	/* the restored group, as B's resolved arguments */
	struct fts_resolved_arg *R = fts_arena_alloc(a, (B->decl->nargs + 1) * sizeof(*R));
	for (size_t i = 0; i < B->decl->nargs; i++) {
		R[i] = B->ra[i];
		const struct fts_value *v = restored(A, B, R[i].arg->name);
		R[i].value = v ? *v : fts_value_none();
		R[i].missing = v == NULL;
	}
	const struct fts_decl_state *rlive[MAX_SLOTS];
	size_t nrlive = fts_stdlib_state_slots(B->decl, R, a, rlive, MAX_SLOTS);
	if (nrlive > MAX_SLOTS)
		nrlive = MAX_SLOTS;
	bool stateful = A->nlive > 0;   /* the restored parameters have A's state */
	for (size_t i = 0; i < B->decl->nreads && !out->fails; i++) {
		const char *k = B->decl->reads[i];
		if (is_state(B->decl, k)) {
			if (!opt_live(rlive, nrlive, k))
				continue;       /* not read with this configuration */
			if (sac && (later || !stateful)) {
				out->fails = out->construction = true;
				out->key = k;
			} else if (stateful && !opt_live(A->live, A->nlive, k)) {
				out->fails = true;
				out->key = k;
			}
			continue;
		}
		if (!restored(A, B, k)) {
			out->fails = true;
			out->key = k;
		}
	}
	if (out->fails)
		return;
	for (size_t i = 0; i < B->decl->nreads && out->n < 16; i++) {
		const char *k = B->decl->reads[i];
		if (is_state(B->decl, k) || !strcmp(k, "lr") || !strcmp(k, "initial_lr"))
			continue;
		const struct fts_value *conf = opt_value(B, k), *rest = restored(A, B, k);
		if (!conf || !rest || fts_value_equal(conf, rest))
			continue;
		out->names[out->n] = k;
		out->conf[out->n] = conf;
		out->rest[out->n] = rest;
		out->n++;
	}
}

static const char *class_name(const struct fts_sim_class *c)
{
	if (c->dir && c->dir->decl)
		return c->dir->decl->name;
	if (c->dir && c->dir->class_path) {
		const char *dot = strrchr(c->dir->class_path, '.');
		return dot ? dot + 1 : c->dir->class_path;
	}
	return "the optimizer";
}

static const char *origin(struct fts_arena *a, const struct fts_sim_class *c)
{
	if (c->since < 0)
		return fts_arena_printf(a, "%s, the initial optimizer", class_name(c));
	return fts_arena_printf(a, "%s, new_optimizer of phase %lld", class_name(c), (long long)c->since);
}

static struct fts_span class_span(const struct fts_sim_class *c, const struct fts_initial *init)
{
	if (c->dir && fts_span_valid(c->dir->class_span))
		return c->dir->class_span;
	return init->where;
}

/* "momentum 0.9 → 0, nesterov True → False" */
static const char *reversions(struct fts_arena *a, const struct outcome *o)
{
	const char *s = "";
	for (size_t i = 0; i < o->n; i++)
		s = fts_arena_printf(a, "%s%s%s %s → %s", s, i ? ", " : "", o->names[i],
				     fts_value_repr(a, o->conf[i]), fts_value_repr(a, o->rest[i]));
	return s;
}

static const char *failure(struct fts_arena *a, const struct opt *B, const struct outcome *o)
{
	return fts_arena_printf(a, "%s.step raises KeyError: '%s'", B->decl->name, o->key);
}

struct table {
	struct rt_plan_restore *v;
	size_t n, cap;
};

static void add(struct fts_arena *a, struct table *t, const struct rt_plan_restore *e)
{
	if (t->n == t->cap) {
		size_t cap = t->cap ? 2 * t->cap : 8;
		struct rt_plan_restore *nv = fts_arena_alloc(a, cap * sizeof(*nv));
		if (t->n)
			memcpy(nv, t->v, t->n * sizeof(*nv));
		t->v = nv;
		t->cap = cap;
	}
	t->v[t->n++] = *e;
}

/*
 * The replay after a restore from another optimizer's phase b (7.6): the
 * optimizer in force gets phase b's parameter groups back, then phases
 * b+1..D add theirs and re-run their own new_lr_scheduler over what the
 * groups then are -- which can differ from the run without the restore
 * (phase 0's rebuilt no_decay pair is gone).  Returns NULL, or why a
 * scheduler cannot be built there, as the runtime would refuse it.
 */
static const char *replay_fails(struct fts_compile *c, size_t D, size_t b, int32_t opt_rec)
{
	const struct fts_sim *sim = c->sim;
	const struct fts_planview *v = c->view;
	const struct rt_plan *p = &v->p;
	struct fts_arena *a = &c->arena;
	const struct fts_sim_phase *src = &sim->phases[b];
	struct sem_groups g;
	sem_groups_init(&g, NULL, NULL);
	const char *why = NULL;
	for (size_t k = 0; k < src->ngroups; k++) {
		const struct fts_sim_group *gr = &src->groups[k];
		enum sem_kind kl = gr->lr.kind == FTS_LR_KNOWN ? SEM_KNOWN : gr->lr.kind == FTS_LR_CONTINUES
			? SEM_CONTINUES : SEM_UNKNOWN;
		enum sem_kind ki = gr->initial_lr.kind == FTS_LR_KNOWN ? SEM_KNOWN
			: gr->initial_lr.kind == FTS_LR_CONTINUES ? SEM_CONTINUES : SEM_UNKNOWN;
		sem_groups_push(&g, (int)gr->phase, gr->no_decay, gr->user, gr->lr.v, kl,
				gr->user && ki != SEM_KNOWN ? NAN : gr->initial_lr.v, ki);
	}
	double momentum = NAN;
	int kind;
	struct ftsrt_optim_hparams h;
	char err[256];
	if (opt_rec >= 0 && !v->problem[opt_rec] && sem_optim_config(&p->classes[opt_rec], &kind, &h, err,
								     sizeof(err)) == 0)
		momentum = sem_group_momentum(kind, &h);
	size_t cap = sem_max_ops(p);
	struct sem_op *ops = fts_arena_alloc(a, (cap + 1) * sizeof(*ops));
	size_t n = sem_transition(p, (int)D, true, (int)b, ops, cap);
	for (size_t k = 0; k < n && !why; k++) {
		const struct sem_op *op = &ops[k];
		switch ((enum sem_op_kind)op->kind) {
		case SEM_OP_ADD_GROUPS: {
			size_t cand = (size_t)v->ndecay[op->phase] + v->nnodecay[op->phase];
			int ng = sem_phase_ngroups(p, cand);
			double lr = sem_phase_lr(p, op->phase);
			enum sem_kind kl = p->apply_lambdas_new_pgs ? SEM_UNKNOWN : SEM_KNOWN;
			for (int q = 0; q < ng; q++)
				sem_groups_push(&g, op->phase, ng == 2 && q == 1, false, lr, kl, lr, kl);
			break;
		}
		case SEM_OP_ROLL_FORWARD:
			for (size_t q = 0; q < g.n; q++)
				g.klr[q] = SEM_CONTINUES;
			break;
		case SEM_OP_REINIT_SCHEDULER:
			if (op->rec < 0 || v->problem[op->rec])
				break;
			sem_reinit_lrs(&g, &p->classes[op->rec]);
			if (sem_sched_construct(p, op->rec, &g, momentum, err, sizeof(err)) &&
			    !strstr(err, "not supported by the runtime"))
				why = fts_arena_printf(a, "replaying phase %d, %s cannot be built over the %zu "
						       "groups it then has: %s", op->phase,
						       p->classes[op->rec].class_path, g.n, err);
			break;
		case SEM_OP_THAW:
		case SEM_OP_REINIT_OPTIMIZER:
			break;
		}
	}
	sem_groups_release(&g);
	return why;
}

/* One source's outcome at a target. */
struct src {
	size_t b;
	const struct fts_sim_class *ac;
	struct outcome o;
};

static void report_fails(struct fts_compile *c, struct fts_diags *d, size_t D, const struct opt *B,
			 const struct src *v, size_t n, struct table *t)
{
	struct fts_arena *a = &c->arena;
	const struct fts_sim_class *bc = B->sc;
	struct fts_diag *dg = NULL;
	for (size_t i = 0; i < n; i++) {
		const struct src *s = &v[i];
		if (!s->o.fails || s->o.replay)
			continue;
		const char *why = failure(a, B, &s->o);
		if (!dg) {
			const char *who = bc->since < 0 ? fts_arena_printf(a, "%s (the initial optimizer)",
									     class_name(bc))
				: fts_arena_printf(a, "%s (new_optimizer of phase %lld)", class_name(bc),
						   (long long)bc->since);
			dg = fts_diag(d, FTS_W_RESTORE_OPTIMIZER, c->ir->phases[D].key->span, (long long)D, who,
				      fts_arena_printf(a, "KeyError: '%s'", s->o.key));
			fts_diag_help(d, dg, "give phase %zu its own new_optimizer (the restored state is then "
				      "discarded), or set restore_best: false", D);
		}
		if (s->o.construction)
			fts_diag_note(d, dg, class_span(s->ac, &c->initial),
				      "if phase %zu's checkpoint is the best when phase %zu starts, it holds no "
				      "%s state for the parameters thawed after it, and %s creates its state "
				      "only at construction: %s", s->b, D, class_name(bc), class_name(bc), why);
		else
			fts_diag_note(d, dg, class_span(s->ac, &c->initial),
				      "phase %zu trains with %s: if its checkpoint is the best when phase %zu "
				      "starts, its groups and state are loaded into %s and %s",
				      s->b, origin(a, s->ac), D, class_name(bc), why);
		struct rt_plan_restore e = {(uint32_t)D, (uint32_t)s->b, RT_RESTORE_FAILS, NULL, NULL, 0};
		e.message = fts_arena_printf(a, "restore_best at the transition to phase %zu: the best "
					     "checkpoint, written in phase %zu under %s, makes the first step "
					     "fail: %s (ftsc check FTSC080). Give phase %zu a new_optimizer, or "
					     "set restore_best: false", D, s->b, origin(a, s->ac), why, D);
		add(a, t, &e);
	}
}

/* FTSC078: a restore whose replay cannot build a scheduler. */
static void report_replays(struct fts_compile *c, struct fts_diags *d, size_t D, const struct src *v,
			   size_t n, struct table *t)
{
	struct fts_arena *a = &c->arena;
	struct fts_diag *dg = NULL;
	for (size_t i = 0; i < n; i++) {
		const struct src *s = &v[i];
		if (!s->o.replay)
			continue;
		if (!dg) {
			dg = fts_diag(d, FTS_W_RESTORE_REPLAY, c->ir->phases[D].key->span, (long long)D,
				      s->o.replay);
			fts_diag_help(d, dg, "give phase %zu its own new_optimizer (the replay then starts from "
				      "phase 0's groups), or set restore_best: false", D);
		}
		fts_diag_note(d, dg, class_span(s->ac, &c->initial),
			      "if phase %zu's checkpoint (%s) is the best when phase %zu starts, the optimizer "
			      "gets phase %zu's %zu parameter group%s back before phases %zu..%zu are replayed",
			      s->b, origin(a, s->ac), D, s->b, c->sim->phases[s->b].ngroups,
			      c->sim->phases[s->b].ngroups == 1 ? "" : "s", s->b + 1, D);
		struct rt_plan_restore e = {(uint32_t)D, (uint32_t)s->b, RT_RESTORE_FAILS, NULL, NULL, 0};
		e.message = fts_arena_printf(a, "restore_best at the transition to phase %zu: the best "
					     "checkpoint, written in phase %zu under %s, brings back its "
					     "parameter groups; %s (ftsc check FTSC078). Give phase %zu a "
					     "new_optimizer, or set restore_best: false", D, s->b,
					     origin(a, s->ac), s->o.replay, D);
		add(a, t, &e);
	}
}

static void report_reverts(struct fts_compile *c, struct fts_diags *d, size_t D, const struct opt *B,
			   const struct src *v, size_t n, struct table *t)
{
	struct fts_arena *a = &c->arena;
	struct fts_diag *dg = NULL;
	for (size_t i = 0; i < n; i++) {
		const struct src *s = &v[i];
		if (s->o.fails || !s->o.n)
			continue;
		const char *list = reversions(a, &s->o);
		if (!dg) {
			dg = fts_diag(d, FTS_W_RESTORE_REVERTS, c->ir->phases[D].key->span, (long long)D,
				      class_name(B->sc), list);
			fts_diag_help(d, dg, "give phase %zu its own new_optimizer, or set restore_best: false",
				      D);
		}
		fts_diag_note(d, dg, class_span(s->ac, &c->initial),
			      "phase %zu trains with %s: if its checkpoint is the best when phase %zu starts, "
			      "the restored groups run with %s", s->b, origin(a, s->ac), D, list);
		struct rt_plan_arg *ov = fts_arena_alloc(a, s->o.n * sizeof(*ov));
		size_t nov = 0;
		for (size_t k = 0; k < s->o.n; k++) {
			memset(&ov[nov], 0, sizeof(ov[nov]));
			if (fts_planview_value(a, s->o.rest[k], &ov[nov]))
				continue;       /* a value no plan holds: nothing to apply */
			ov[nov].name = s->o.names[k];
			ov[nov].given = true;
			nov++;
		}
		struct rt_plan_restore e = {(uint32_t)D, (uint32_t)s->b, RT_RESTORE_REVERTS, NULL, ov,
					    (uint32_t)nov};
		e.message = fts_arena_printf(a, "restore_best at the transition to phase %zu: the best "
					     "checkpoint was written in phase %zu under %s; the restored "
					     "parameter groups run with its hyper-parameters: %s (ftsc check "
					     "FTSC095)", D, s->b, origin(a, s->ac), list);
		add(a, t, &e);
	}
}

static int cmp_restore(const void *x, const void *y)
{
	const struct rt_plan_restore *p = x, *q = y;
	if (p->target != q->target)
		return p->target < q->target ? -1 : 1;
	return p->source < q->source ? -1 : p->source > q->source;
}

void fts_restore_analyse(struct fts_compile *c, struct fts_diags *d)
{
	struct fts_ir *ir = c->ir;
	const struct fts_sim *sim = c->sim;
	if (!ir || !sim || !ir->settings.restore_best || ir->reinit_optim)
		return;
	struct fts_arena *a = &c->arena;
	struct table t = {NULL, 0, 0};
	bool noted = false;
	struct src *v = fts_arena_alloc(a, (sim->n + 1) * sizeof(*v));
	for (size_t D = 1; D < sim->n; D++) {
		const struct fts_ir_phase *ph = &ir->phases[D];
		if (ph->new_optimizer)
			continue;
		const struct fts_sim_class *bc = &sim->phases[D - 1].opt;
		struct opt B;
		bool bok = opt_get(a, bc, &B);
		size_t n = 0;
		for (size_t b = 0; b < D; b++) {
			const struct fts_sim_class *ac = &sim->phases[b].opt;
			if (!ac->known || !bc->known) {
				if (!noted)
					fts_diag(d, FTS_N_INFO, ph->key->span,
						 "the initial optimizer is unknown: what restore_best does with "
						 "phase 0's checkpoints is not checked (give --config or "
						 "--initial-optimizer)");
				noted = true;
				continue;
			}
			struct opt A;
			if (!bok || !opt_get(a, ac, &A))
				continue;       /* a class without a restore profile: not analysed */
			bool same = ac->rec == bc->rec && ac->since == bc->since;
			bool later = false;
			for (size_t k = b + 1; k < D; k++)
				later |= sim->phases[k].nparams > 0;
			v[n].b = b;
			v[n].ac = ac;
			analyse(a, &A, &B, same, later, &v[n].o);
			if (!same && !v[n].o.fails) {
				const char *why = replay_fails(c, D, b, bc->rec);
				if (why) {
					v[n].o.fails = true;
					v[n].o.replay = why;
					v[n].o.n = 0;
				}
			}
			if (v[n].o.fails || v[n].o.n)
				n++;
		}
		if (n) {
			report_fails(c, d, D, &B, v, n, &t);
			report_replays(c, d, D, v, n, &t);
			report_reverts(c, d, D, &B, v, n, &t);
		}
	}
	if (t.n)
		qsort(t.v, t.n, sizeof(*t.v), cmp_restore);
	if (c->view) {
		c->view->p.restores = t.v;
		c->view->p.nrestores = (uint32_t)t.n;
	}
}
