/*
 * planview.c - a compilation as the runtime will see its plan (see
 * planview.h).
 */
#include "planview.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../runtime/lrsched.h"
#include "../runtime/sem.h"
#include "config.h"
#include "decl.h"
#include "fts_stdlib.h"
#include "lambda_emit.h"
#include "manifest.h"

struct pv {
	const struct fts_compile *c;
	struct fts_arena *a;
	struct rt_plan_class *cls;
	const struct fts_ir_directive **dir;
	const char **problem;
	size_t n, cap;
};

static void problem(struct pv *b, int32_t rec, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void problem(struct pv *b, int32_t rec, const char *fmt, ...)
{
	if (b->problem[rec])
		return;
	char buf[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	b->problem[rec] = fts_arena_strdup(b->a, buf);
}

static int32_t new_record(struct pv *b)
{
	if (b->n == b->cap) {
		size_t cap = b->cap ? 2 * b->cap : 16;
		struct rt_plan_class *c = fts_arena_alloc(b->a, cap * sizeof(*c));
		const struct fts_ir_directive **d = fts_arena_alloc(b->a, cap * sizeof(*d));
		const char **p = fts_arena_alloc(b->a, cap * sizeof(*p));
		if (b->n) {
			memcpy(c, b->cls, b->n * sizeof(*c));
			memcpy(d, b->dir, b->n * sizeof(*d));
			memcpy(p, b->problem, b->n * sizeof(*p));
		}
		b->cls = c;
		b->dir = d;
		b->problem = p;
		b->cap = cap;
	}
	int32_t k = (int32_t)b->n++;
	memset(&b->cls[k], 0, sizeof(b->cls[k]));
	b->dir[k] = NULL;
	b->problem[k] = NULL;
	return k;
}

/* numbers, or None where torch takes an optional number (Adafactor's eps[0]):
 * a plan holds None in a sequence as NaN, which the runtime reads as None */
static bool all_numbers(const struct fts_value *v)
{
	for (size_t k = 0; k < v->len; k++)
		if (v->items[k].kind != FTS_V_INT && v->items[k].kind != FTS_V_FLOAT &&
		    v->items[k].kind != FTS_V_BOOL && v->items[k].kind != FTS_V_NONE)
			return false;
	return true;
}

const char *fts_planview_value(struct fts_arena *a, const struct fts_value *v, struct rt_plan_arg *out)
{
	out->kind = RT_ARG_NONE;
	switch (v->kind) {
	case FTS_V_NONE:
		return NULL;
	case FTS_V_BOOL:
		out->kind = RT_ARG_BOOL;
		out->b = v->b;
		out->i = v->b;
		out->f = v->b;
		return NULL;
	case FTS_V_INT:
		out->kind = RT_ARG_INT;
		out->i = v->i;
		out->f = (double)v->i;
		return NULL;
	case FTS_V_FLOAT:
		out->kind = RT_ARG_FLOAT;
		out->f = v->f;
		return NULL;
	case FTS_V_STR:
		out->kind = RT_ARG_STR;
		out->s = v->s;
		return NULL;
	case FTS_V_TUPLE:
	case FTS_V_LIST: {
		if (!all_numbers(v))
			return "a sequence of non-numbers";
		double *tmp = fts_arena_alloc(a, (v->len ? v->len : 1) * sizeof(*tmp));
		for (size_t k = 0; k < v->len; k++)
			if (v->items[k].kind == FTS_V_NONE)
				tmp[k] = NAN;
			else
				fts_value_number(&v->items[k], &tmp[k]);
		out->kind = RT_ARG_FLOATS;
		out->v = tmp;
		out->n = (uint32_t)v->len;
		return NULL;
	}
	case FTS_V_DICT:
		return "a mapping";
	}
	return "a value of unknown kind";
}

/* One resolved argument as the plan holds it. */
static void view_arg(struct pv *b, int32_t rec, const struct fts_decl_class *cls,
		     const struct fts_resolved_arg *ra, struct rt_plan_arg *out)
{
	memset(out, 0, sizeof(*out));
	out->name = ra->arg->name;
	out->given = ra->given;
	out->kind = RT_ARG_NONE;
	if (ra->missing) {
		problem(b, rec, "%s: required argument '%s' is missing", cls->path, ra->arg->name);
		return;
	}
	if (ra->arg->type->kind == FTS_T_SCHEDULER_LIST)
		return;                 /* recorded as the class's children */
	if (ra->arg->type->kind == FTS_T_LAMBDA && ra->value.kind != FTS_V_STR &&
	    ra->value.kind != FTS_V_NONE) {
		problem(b, rec, "%s: '%s' is a list of lambdas (one per parameter group); ftsc build "
			"supports a single lambda given as a string expression of 'epoch'", cls->path,
			ra->arg->name);
		return;
	}
	const char *why = fts_planview_value(b->a, &ra->value, out);
	if (why)
		problem(b, rec, "%s: argument '%s' is %s, which a plan cannot hold", cls->path,
			ra->arg->name, why);
}

/* What a class record is made from: a directive, or a scheduler_list item. */
struct cls_src {
	const struct fts_decl_class *decl;
	const char *written;            /* class path as written (messages) */
	const struct fts_node *init_args;
	const struct fts_ir_directive *dir;     /* NULL for children */
};

static const struct fts_node *map_get(const struct fts_node *n, const char *key)
{
	if (!n || n->kind != FTS_N_MAP)
		return NULL;
	struct fts_pair *p = fts_node_get(n, key);
	return p ? p->value : NULL;
}

static void class_lambda(struct pv *b, int32_t rec, const struct fts_decl_class *cls,
			 const struct fts_resolved_arg *ra)
{
	if (ra->value.kind != FTS_V_STR)
		return;
	struct fts_expr *e = fts_expr_parse(b->a, FTS_NOFILE, 0, ra->value.s, ra->value.len, NULL, NULL);
	uint8_t code[FTS_LAMBDA_MAX_LEN];
	size_t len;
	char why[160];
	if (!e) {
		problem(b, rec, "%s: lr_lambda '%s' is not an expression of 'epoch'", cls->path, ra->value.s);
		return;
	}
	if (fts_lambda_emit(e, code, sizeof(code), &len, why, sizeof(why))) {
		problem(b, rec, "%s: lr_lambda '%s': %s", cls->path, ra->value.s, why);
		return;
	}
	uint8_t *copy = fts_arena_alloc(b->a, len ? len : 1);
	memcpy(copy, code, len);
	b->cls[rec].lambda = copy;
	b->cls[rec].lambda_len = (uint32_t)len;
}

static int32_t view_class(struct pv *b, const struct cls_src *cs, bool scheduler)
{
	const struct fts_decl_class *cls = cs->decl;
	int32_t rec = new_record(b);
	struct rt_plan_class *rc = &b->cls[rec];
	rc->scheduler = scheduler;
	rc->epoch_interval = true;      /* interval: epoch unless pl_lrs_cfg says step */
	rc->frequency = 1;
	rc->ninit_pg_lrs = -1;
	rc->class_path = cs->written ? cs->written : "?";
	b->dir[rec] = cs->dir;
	if (!cls) {
		problem(b, rec, "'%s' is not a class ftsc knows; declare it (--declare) to build a plan",
			cs->written ? cs->written : "?");
		return rec;
	}
	rc->class_path = cls->path;
	if ((cls->kind == FTS_DECL_LR_SCHEDULER) != scheduler) {
		problem(b, rec, "'%s' is not %s", cls->path, scheduler ? "an lr scheduler" : "an optimizer");
		return rec;
	}
	if (cls->id > UINT16_MAX) {
		problem(b, rec, "class id %u of '%s' does not fit in a plan (max 65535)", cls->id, cls->path);
		return rec;
	}
	rc->stdlib_id = (uint16_t)cls->id;
	struct fts_resolved_arg *ra;
	fts_stdlib_resolve(cls, cs->init_args, b->a, &ra);
	struct rt_plan_arg *args = fts_arena_alloc(b->a, (cls->nargs ? cls->nargs : 1) * sizeof(*args));
	for (size_t k = 0; k < cls->nargs; k++)
		view_arg(b, rec, cls, &ra[k], &args[k]);
	rc = &b->cls[rec];
	rc->args = args;
	rc->nargs = (uint32_t)cls->nargs;
	int32_t okind;
	if (scheduler ? rt_sched_kind_from_name(cls->path) < 0
		      : ftsrt_optim_kind_from_name(cls->path, &okind, NULL) != 0)
		problem(b, rec, "%s is not %s libftsrt can run", cls->path,
			scheduler ? "an lr scheduler" : "an optimizer");
	if (!scheduler) {
		const struct fts_decl_state *st[64];
		size_t n = fts_stdlib_state_slots(cls, ra, b->a, st, 64);
		if (n > 64)
			n = 64;
		const char **names = fts_arena_alloc(b->a, (n ? n : 1) * sizeof(*names));
		for (size_t k = 0; k < n; k++)
			names[k] = st[k]->name;
		rc->state_slots = names;
		rc->nslots = (uint32_t)n;
		/* the restore profile (runtime/sem.c) */
		rc->state_at_construction = fts_class_has(cls, FTS_CLS_STATE_AT_CONSTRUCTION);
		rc->reads = cls->reads;
		rc->nreads = (uint32_t)cls->nreads;
		struct rt_plan_arg *ss = fts_arena_alloc(b->a, (cls->nsetstates + 1) * sizeof(*ss));
		bool *force = fts_arena_alloc(b->a, (cls->nsetstates + 1) * sizeof(*force));
		for (size_t k = 0; k < cls->nsetstates; k++) {
			struct fts_decl_arg da = {0};
			da.name = cls->setstates[k].name;
			struct fts_type t = {FTS_T_ANY, FTS_SPAN_NONE, NULL, 0, false, NULL, 0};
			da.type = &t;
			struct fts_resolved_arg r = {&da, cls->setstates[k].value, true, false, FTS_SPAN_NONE};
			view_arg(b, rec, cls, &r, &ss[k]);
			force[k] = cls->setstates[k].force;
		}
		rc = &b->cls[rec];
		rc->setstates = ss;
		rc->setstate_force = force;
		rc->nsetstates = (uint32_t)cls->nsetstates;
		return rec;
	}
	const struct fts_ir_directive *d = cs->dir;
	if (d) {
		int64_t freq = 1;
		bool big = false;
		const struct fts_node *fq = map_get(d->pl_lrs_cfg, "frequency");
		if (fq && (fts_node_pyint(fq, &freq, &big) || big || freq < 1 || freq > INT32_MAX))
			problem(b, rec, "%s: pl_lrs_cfg frequency must be a positive integer", cls->path);
		else
			rc->frequency = (uint32_t)freq;
		if (d->metric_as_epoch)
			problem(b, rec, "%s with reduce_on_plateau: libftsrt does not step a scheduler by the "
				"monitored metric", cls->path);
		rc->epoch_interval = d->epoch_interval;
		rc->use_current = d->use_current;
		rc->monitor = d->monitor;
		if (d->init_pg_lrs) {
			rc->init_pg_lrs = d->pg_lrs;
			rc->ninit_pg_lrs = (int32_t)d->npg_lrs;
		}
	}
	for (size_t k = 0; k < cls->nargs; k++) {
		const struct fts_resolved_arg *a = &ra[k];
		if (a->arg->type->kind == FTS_T_LAMBDA && fts_class_has(cls, FTS_CLS_LAMBDAS))
			class_lambda(b, rec, cls, a);
		if (!strcmp(a->arg->name, "milestones") && fts_class_has(cls, FTS_CLS_CONTAINER) &&
		    (a->value.kind == FTS_V_LIST || a->value.kind == FTS_V_TUPLE)) {
			int64_t *ms = fts_arena_alloc(b->a, (a->value.len + 1) * sizeof(*ms));
			for (size_t j = 0; j < a->value.len; j++)
				ms[j] = a->value.items[j].kind == FTS_V_INT ? a->value.items[j].i : 0;
			b->cls[rec].milestones = ms;
			b->cls[rec].nmilestones = (uint32_t)a->value.len;
		}
		if (a->arg->type->kind == FTS_T_SCHEDULER_LIST) {
			const struct fts_node *list = map_get(cs->init_args, a->arg->name);
			size_t nch = list && list->kind == FTS_N_SEQ ? list->nitems : 0;
			int32_t *ch = fts_arena_alloc(b->a, (nch + 1) * sizeof(*ch));
			for (size_t j = 0; j < nch; j++) {
				const struct fts_node *it = list->items[j];
				const struct fts_node *cp = map_get(it, "class_path");
				struct cls_src sub = {NULL, cp ? cp->text : NULL, map_get(it, "init_args"), NULL};
				if (cp && cp->kind == FTS_N_SCALAR && cp->text)
					sub.decl = fts_stdlib_find(b->c->stdlib, cp->text);
				ch[j] = view_class(b, &sub, true);
				if (b->problem[ch[j]] && !b->problem[rec])
					b->problem[rec] = b->problem[ch[j]];
			}
			b->cls[rec].children = ch;
			b->cls[rec].nchildren = (uint32_t)nch;
		}
	}
	return rec;
}

static int32_t view_directive(struct pv *b, const struct fts_ir_directive *d, bool scheduler)
{
	if (!d)
		return -1;
	struct cls_src cs = {d->decl, d->class_path, d->init_args, d};
	return view_class(b, &cs, scheduler);
}

/* FTS's final-phase override (V-FM). */
static int64_t effective_max_epochs(const struct fts_ir *ir)
{
	int64_t me = ir->settings.max_epochs;
	if (ir->nphases && ir->phases[ir->nphases - 1].mte >= 0) {
		int64_t z = -1;
		for (uint32_t i = 1; i < ir->nphases; i++)
			if (ir->phases[i].mte > z)
				z = ir->phases[i].mte;
		if (z > me)
			me = z;
	}
	return me;
}

int fts_planview_build(const struct fts_compile *c, struct fts_arena *a, struct fts_planview *v)
{
	memset(v, 0, sizeof(*v));
	const struct fts_ir *ir = c->ir;
	if (!ir || !ir->keys_ok || ir->nphases == 0)
		return -1;
	for (uint32_t i = 0; i < ir->nphases; i++)
		if (!ir->phases[i].node)
			return -1;
	struct pv b = {c, a, NULL, NULL, NULL, 0, 0};
	struct rt_plan *p = &v->p;
	const struct fts_settings *st = &ir->settings;

	v->optimizer_known = c->initial.optimizer_known && c->initial.optimizer;
	v->scheduler_known = c->initial.scheduler_known;
	p->initial_optimizer = v->optimizer_known ? view_directive(&b, c->initial.optimizer, false) : -1;
	p->initial_scheduler = v->scheduler_known ? view_directive(&b, c->initial.scheduler, true) : -1;
	struct rt_plan_phase *ph = fts_arena_alloc(a, ir->nphases * sizeof(*ph));
	for (uint32_t i = 0; i < ir->nphases; i++) {
		ph[i].new_optimizer = view_directive(&b, ir->phases[i].new_optimizer, false);
		ph[i].new_lr_scheduler = view_directive(&b, ir->phases[i].new_lr_scheduler, true);
	}
	p->reinit_optimizer = view_directive(&b, ir->reinit_optim, false);
	p->reinit_scheduler = view_directive(&b, ir->reinit_lr, true);

	/* settings */
	const char **nd = fts_arena_alloc(a, (c->initial.nno_decay + 1) * sizeof(*nd));
	for (size_t k = 0; k < c->initial.nno_decay; k++)
		nd[k] = c->initial.no_decay[k];
	p->no_decay = nd;
	p->nno_decay = (uint32_t)c->initial.nno_decay;
	p->phase0_groups = c->initial.phase0_groups ? c->initial.phase0_groups : 1;
	if (sem_initial_ngroups(p) > 1 && !sem_initial_split(p))
		v->layout_problem = fts_arena_printf(a, "--phase0-groups=%u: the runtime rebuilds the session's "
						     "groups only as one group, or two split by no_decay "
						     "(--no-decay)", p->phase0_groups);
	p->max_depth = ir->max_depth;
	p->max_epochs = effective_max_epochs(ir);
	p->base_max_lr = st->base_max_lr;
	p->restore_best = st->restore_best;
	p->epoch_transitions_only = st->epoch_transitions_only;
	p->apply_lambdas_new_pgs = st->apply_lambdas_new_pgs;
	/* early stopping and checkpointing: from the configs, else FTS's defaults */
	struct fts_es_cfg es = {.present = !st->epoch_transitions_only, .monitor = "val_loss",
				.patience = 3, .check_finite = true};
	struct fts_ckpt_cfg ck = {.monitor = "val_loss", .save_top_k = 1};
	if (c->config.root) {
		es = c->config.es;
		ck = c->config.ckpt;
		if (es.present && !es.monitor)
			es.monitor = "val_loss";
	}
	p->es.present = es.present;
	p->es.monitor = es.present ? es.monitor : NULL;
	p->es.patience = es.present ? es.patience : 0;
	p->es.min_delta = es.present ? fabs(es.min_delta) : 0.0;
	p->es.mode_max = es.mode_max;
	p->es.has_stopping_threshold = es.has_stopping_threshold;
	p->es.has_divergence_threshold = es.has_divergence_threshold;
	p->es.stopping_threshold = es.has_stopping_threshold ? es.stopping_threshold : 0.0;
	p->es.divergence_threshold = es.has_divergence_threshold ? es.divergence_threshold : 0.0;
	p->es.check_finite = es.check_finite;
	p->ckpt.monitor = ck.monitor;
	p->ckpt.save_top_k = ck.save_top_k;
	p->ckpt.mode_max = ck.mode_max;

	/* phases, and each phase's parameters split by no_decay */
	v->ndecay = fts_arena_alloc(a, ir->nphases * sizeof(*v->ndecay));
	v->nnodecay = fts_arena_alloc(a, ir->nphases * sizeof(*v->nnodecay));
	v->numel_decay = fts_arena_alloc(a, ir->nphases * sizeof(*v->numel_decay));
	v->numel_nodecay = fts_arena_alloc(a, ir->nphases * sizeof(*v->numel_nodecay));
	for (uint32_t i = 0; i < ir->nphases; i++) {
		const struct fts_ir_phase *q = &ir->phases[i];
		uint32_t *idx = fts_arena_alloc(a, (q->nparams + 1) * sizeof(*idx));
		for (uint32_t k = 0; k < q->nparams; k++) {
			idx[k] = q->params[k].index;
			const struct fts_mparam *mp = &ir->manifest->p[idx[k]];
			if (sem_no_decay_n(p, fts_mp_name(ir->manifest, mp), mp->len)) {
				v->nnodecay[i]++;
				v->numel_nodecay[i] += fts_mp_numel(ir->manifest, mp);
			} else {
				v->ndecay[i]++;
				v->numel_decay[i] += fts_mp_numel(ir->manifest, mp);
			}
		}
		ph[i].index = q->index;
		ph[i].mte = q->mte < 0 ? -1 : q->mte;
		ph[i].lr = i == 0 ? st->base_max_lr : q->lr;
		ph[i].params = idx;
		ph[i].nparams = q->nparams;
	}
	p->phases = ph;
	p->nphases = ir->nphases;
	p->classes = b.cls;
	p->nclasses = (uint32_t)b.n;
	p->nparams = ir->manifest ? ir->manifest->n : 0;
	v->dir = b.dir;
	v->problem = b.problem;
	return 0;
}

const char *fts_planview_problem(const struct fts_planview *v)
{
	if (v->layout_problem)
		return v->layout_problem;
	for (uint32_t k = 0; k < v->p.nclasses; k++)
		if (v->problem[k])
			return v->problem[k];
	return NULL;
}
