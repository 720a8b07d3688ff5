/*
 * emit.c - the plan writer (see emit.h; layout in runtime/plan_format.h).
 *
 * Sections are built in growable byte buffers, one per section id, then
 * laid out behind the header and the section table in plan_ops.def order.
 * Strings are interned (one copy each) in first-use order, which depends
 * only on the inputs.  Class records are numbered in a fixed order: the
 * initial optimizer, the initial scheduler, each phase's new_optimizer and
 * new_lr_scheduler, then reinit_optim_cfg and reinit_lr_cfg; a container
 * scheduler's children follow it (so children always have larger indices).
 */
#include "emit.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../runtime/plan_format.h"
#include "arena.h"
#include "config.h"
#include "decl.h"
#include "fts_stdlib.h"
#include "lambda_emit.h"
#include "manifest.h"

struct buf {
	uint8_t *p;
	size_t len, cap;
};

struct em {
	struct buf s[PLAN_SEC_COUNT_];
	bool present[PLAN_SEC_COUNT_];
	/* string interning: open addressing over offsets into STRS */
	uint32_t *ht;
	size_t htcap, htn;
	const struct fts_compile *c;
	const struct fts_sources *src;
	struct fts_arena *a;
	char *err;
	size_t errlen;
	bool failed;
};

static void efail(struct em *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void efail(struct em *m, const char *fmt, ...)
{
	if (m->failed)
		return;
	m->failed = true;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(m->err, m->errlen, fmt, ap);
	va_end(ap);
}

/* Append n zero bytes to section k; returns a pointer to them. */
static uint8_t *grow(struct em *m, int k, size_t n)
{
	struct buf *b = &m->s[k];
	static uint8_t none[1];
	if (n == 0)
		return b->p ? b->p + b->len : none;
	if (b->len + n > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		while (cap < b->len + n)
			cap *= 2;
		b->p = fts_xrealloc(b->p, cap);
		b->cap = cap;
	}
	uint8_t *q = b->p + b->len;
	memset(q, 0, n);
	b->len += n;
	return q;
}

static uint32_t count(const struct em *m, int k, size_t record)
{
	return (uint32_t)(m->s[k].len / record);
}

/* ---- pools -------------------------------------------------------------------- */

static uint64_t str_hash(const char *s)
{
	return plan_fnv(PLAN_FNV_OFFSET, s, strlen(s));
}

static uint32_t emit_str(struct em *m, const char *s)
{
	if (!s)
		return PLAN_NOSTR;
	if (!*s)
		return 0;               /* byte 0 of STRS is NUL: "" */
	if (2 * (m->htn + 1) > m->htcap) {
		size_t ncap = m->htcap ? 2 * m->htcap : 1024;
		uint32_t *nt = fts_xmalloc(ncap * sizeof(*nt));
		memset(nt, 0xFF, ncap * sizeof(*nt));
		for (size_t k = 0; k < m->htcap; k++) {
			if (m->ht[k] == UINT32_MAX)
				continue;
			size_t h = (size_t)str_hash((const char *)m->s[PLAN_SEC_STRS].p + m->ht[k]);
			while (nt[h & (ncap - 1)] != UINT32_MAX)
				h++;
			nt[h & (ncap - 1)] = m->ht[k];
		}
		free(m->ht);
		m->ht = nt;
		m->htcap = ncap;
	}
	size_t h = (size_t)str_hash(s);
	for (;; h++) {
		uint32_t o = m->ht[h & (m->htcap - 1)];
		if (o == UINT32_MAX)
			break;
		if (!strcmp((const char *)m->s[PLAN_SEC_STRS].p + o, s))
			return o;
	}
	size_t n = strlen(s) + 1;
	if (m->s[PLAN_SEC_STRS].len + n >= UINT32_MAX) {
		efail(m, "string table over 4 GiB");
		return 0;
	}
	uint32_t off = (uint32_t)m->s[PLAN_SEC_STRS].len;
	memcpy(grow(m, PLAN_SEC_STRS, n), s, n);
	m->ht[h & (m->htcap - 1)] = off;
	m->htn++;
	return off;
}

static uint32_t emit_i64s(struct em *m, const int64_t *v, size_t n)
{
	uint32_t at = count(m, PLAN_SEC_I64P, 8);
	uint8_t *q = grow(m, PLAN_SEC_I64P, 8 * n);
	for (size_t k = 0; k < n; k++)
		plan_wr64(q + 8 * k, (uint64_t)v[k]);
	return at;
}

static uint32_t emit_f64s(struct em *m, const double *v, size_t n)
{
	uint32_t at = count(m, PLAN_SEC_F64P, 8);
	uint8_t *q = grow(m, PLAN_SEC_F64P, 8 * n);
	for (size_t k = 0; k < n; k++)
		plan_wrf64(q + 8 * k, v[k]);
	return at;
}

static uint32_t emit_u32s(struct em *m, const uint32_t *v, size_t n)
{
	uint32_t at = count(m, PLAN_SEC_U32P, 4);
	uint8_t *q = grow(m, PLAN_SEC_U32P, 4 * n);
	for (size_t k = 0; k < n; k++)
		plan_wr32(q + 4 * k, v[k]);
	return at;
}

/* ---- manifest --------------------------------------------------------------------- */

static const char *mdtype(const struct fts_mparam *p)
{
	return p->dtype ? p->dtype : "";
}

uint64_t fts_emit_manifest_hash(const struct fts_manifest *man)
{
	uint64_t h = PLAN_FNV_OFFSET;
	for (uint32_t i = 0; i < man->n; i++) {
		const struct fts_mparam *p = &man->p[i];
		size_t nd = p->ndim > 0 ? (size_t)p->ndim : 0;
		h = plan_manifest_hash_add(h, p->name, nd, man->dims + p->dims, mdtype(p));
	}
	return h;
}

static uint8_t dtype_code(const char *s)
{
	if (!strcmp(s, "float32"))
		return PLAN_DTYPE_F32;
	if (!strcmp(s, "float64"))
		return PLAN_DTYPE_F64;
	if (!strcmp(s, "float16"))
		return PLAN_DTYPE_F16;
	if (!strcmp(s, "bfloat16"))
		return PLAN_DTYPE_BF16;
	return PLAN_DTYPE_OTHER;
}

static void emit_manifest(struct em *m)
{
	const struct fts_manifest *man = m->c->manifest;
	if (!man->typed) {
		efail(m, "'%s' has no shapes and dtypes: a plan needs an ftsc-manifest v1 manifest",
		      man->path ? man->path : "the manifest");
		return;
	}
	uint8_t *h = grow(m, PLAN_SEC_MANI, PLAN_MANI_HEAD);
	plan_wr64(h, fts_emit_manifest_hash(man));
	plan_wr32(h + 8, man->n);
	for (uint32_t i = 0; i < man->n; i++) {
		const struct fts_mparam *p = &man->p[i];
		uint32_t name = emit_str(m, p->name), dt = emit_str(m, mdtype(p));
		uint32_t nd = p->ndim > 0 ? (uint32_t)p->ndim : 0;
		uint32_t dims = emit_i64s(m, man->dims + p->dims, nd);
		uint8_t *r = grow(m, PLAN_SEC_MANI, 24);
		plan_wr32(r, name);
		plan_wr32(r + 4, dt);
		plan_wr32(r + 8, dims);
		plan_wr32(r + 12, (uint32_t)(p->tied_to < 0 ? -1 : p->tied_to));
		r[16] = (uint8_t)nd;
		r[17] = dtype_code(mdtype(p));
		r[18] = p->requires_grad ? 1 : 0;
	}
}

/* ---- classes and arguments ------------------------------------------------------------ */

static bool all_numbers(const struct fts_value *v)
{
	for (size_t k = 0; k < v->len; k++)
		if (v->items[k].kind != FTS_V_INT && v->items[k].kind != FTS_V_FLOAT &&
		    v->items[k].kind != FTS_V_BOOL)
			return false;
	return true;
}

static void emit_arg(struct em *m, const struct fts_decl_class *cls,
		     const struct fts_resolved_arg *ra)
{
	const struct fts_value *v = &ra->value;
	uint8_t kind = PLAN_ARG_NONE, b = 0;
	int64_t i = 0;
	double f = 0;
	uint32_t s = PLAN_NOSTR, vi = 0, n = 0;

	if (ra->missing) {
		efail(m, "%s: required argument '%s' is missing", cls->path, ra->arg->name);
		return;
	}
	if (ra->arg->type->kind == FTS_T_SCHEDULER_LIST) {
		kind = PLAN_ARG_NONE;   /* recorded as the class's children */
	} else if (ra->arg->type->kind == FTS_T_LAMBDA && v->kind != FTS_V_STR &&
		   v->kind != FTS_V_NONE) {
		efail(m, "%s: '%s' is a list of lambdas (one per parameter group); ftsc build "
		      "supports a single lambda given as a string expression of 'epoch'", cls->path,
		      ra->arg->name);
		return;
	} else {
		switch (v->kind) {
		case FTS_V_NONE: kind = PLAN_ARG_NONE; break;
		case FTS_V_BOOL: kind = PLAN_ARG_BOOL; b = v->b; i = v->b; f = v->b; break;
		case FTS_V_INT: kind = PLAN_ARG_INT; i = v->i; f = (double)v->i; break;
		case FTS_V_FLOAT: kind = PLAN_ARG_FLOAT; f = v->f; break;
		case FTS_V_STR: kind = PLAN_ARG_STR; s = emit_str(m, v->s); break;
		case FTS_V_TUPLE:
		case FTS_V_LIST: {
			if (!all_numbers(v)) {
				efail(m, "%s: argument '%s' is a sequence of non-numbers, which a plan "
				      "cannot hold", cls->path, ra->arg->name);
				return;
			}
			double *tmp = fts_arena_alloc(m->a, (v->len ? v->len : 1) * sizeof(*tmp));
			for (size_t k = 0; k < v->len; k++)
				fts_value_number(&v->items[k], &tmp[k]);
			kind = PLAN_ARG_FLOATS;
			vi = emit_f64s(m, tmp, v->len);
			n = (uint32_t)v->len;
			break;
		}
		case FTS_V_DICT:
			efail(m, "%s: argument '%s' is a mapping, which a plan cannot hold", cls->path,
			      ra->arg->name);
			return;
		}
	}
	uint32_t name = emit_str(m, ra->arg->name);
	uint8_t *r = grow(m, PLAN_SEC_ARGS, 40);
	plan_wr32(r, name);
	r[4] = kind;
	r[5] = ra->given ? 1 : 0;
	r[6] = b;
	plan_wr32(r + 8, s);
	plan_wr32(r + 12, vi);
	plan_wr32(r + 16, n);
	plan_wr64(r + 24, (uint64_t)i);
	plan_wrf64(r + 32, f);
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

static int32_t emit_class(struct em *m, const struct cls_src *cs, bool scheduler);

static void class_lambda(struct em *m, const struct fts_decl_class *cls,
			 const struct fts_resolved_arg *ra, uint8_t *rec)
{
	if (ra->value.kind != FTS_V_STR)
		return;
	struct fts_expr *e = fts_expr_parse(m->a, FTS_NOFILE, 0, ra->value.s, ra->value.len,
					    NULL, NULL);
	uint8_t code[FTS_LAMBDA_MAX_LEN];
	size_t len;
	char why[160];
	if (!e) {
		efail(m, "%s: lr_lambda '%s' is not an expression of 'epoch'", cls->path, ra->value.s);
		return;
	}
	if (fts_lambda_emit(e, code, sizeof(code), &len, why, sizeof(why))) {
		efail(m, "%s: lr_lambda '%s': %s", cls->path, ra->value.s, why);
		return;
	}
	uint32_t at = (uint32_t)m->s[PLAN_SEC_BLOB].len;
	memcpy(grow(m, PLAN_SEC_BLOB, len), code, len);
	plan_wr32(rec + 44, at);
	plan_wr32(rec + 48, (uint32_t)len);
}

static int32_t emit_class(struct em *m, const struct cls_src *cs, bool scheduler)
{
	const struct fts_decl_class *cls = cs->decl;
	if (m->failed)
		return -1;
	if (!cls) {
		efail(m, "'%s' is not a class ftsc knows; declare it (--declare) to build a plan",
		      cs->written ? cs->written : "?");
		return -1;
	}
	if ((cls->kind == FTS_DECL_LR_SCHEDULER) != scheduler) {
		efail(m, "'%s' is not %s", cls->path, scheduler ? "an lr scheduler" : "an optimizer");
		return -1;
	}
	if (cls->id > UINT16_MAX) {
		efail(m, "class id %u of '%s' does not fit in a plan (max 65535)", cls->id, cls->path);
		return -1;
	}
	int32_t idx = (int32_t)count(m, PLAN_SEC_CLSS, 80);
	grow(m, PLAN_SEC_CLSS, 80);     /* reserved now: children get later indices */
	struct fts_resolved_arg *ra;
	fts_stdlib_resolve(cls, cs->init_args, m->a, &ra);
	uint32_t args = count(m, PLAN_SEC_ARGS, 40);
	for (size_t k = 0; k < cls->nargs; k++)
		emit_arg(m, cls, &ra[k]);

	uint8_t tmp[80] = {0};
	tmp[0] = scheduler;
	tmp[1] = 1;             /* interval: epoch unless pl_lrs_cfg says step */
	plan_wr16(tmp + 4, (uint16_t)cls->id);
	plan_wr32(tmp + 8, emit_str(m, cls->path));
	plan_wr32(tmp + 12, args);
	plan_wr32(tmp + 16, (uint32_t)cls->nargs);
	plan_wr32(tmp + 28, 1);
	plan_wr32(tmp + 32, PLAN_NOSTR);
	plan_wr32(tmp + 40, (uint32_t)-1);
	if (!scheduler) {
		const struct fts_decl_state *st[64];
		size_t n = fts_stdlib_state_slots(cls, ra, m->a, st, 64);
		uint32_t offs[64];
		if (n > 64)
			n = 64;
		for (size_t k = 0; k < n; k++)
			offs[k] = emit_str(m, st[k]->name);
		plan_wr32(tmp + 20, emit_u32s(m, offs, n));
		plan_wr32(tmp + 24, (uint32_t)n);
	} else {
		const struct fts_ir_directive *d = cs->dir;
		if (d) {
			int64_t freq = 1;
			bool big = false;
			const struct fts_node *fq = map_get(d->pl_lrs_cfg, "frequency");
			if (fq && (fts_node_pyint(fq, &freq, &big) || big || freq < 1 || freq > INT32_MAX)) {
				efail(m, "%s: pl_lrs_cfg frequency must be a positive integer", cls->path);
				return -1;
			}
			tmp[1] = d->epoch_interval;
			tmp[2] = d->use_current;
			plan_wr32(tmp + 28, (uint32_t)freq);
			plan_wr32(tmp + 32, emit_str(m, d->monitor));
			if (d->init_pg_lrs) {
				plan_wr32(tmp + 36, emit_f64s(m, d->pg_lrs, d->npg_lrs));
				plan_wr32(tmp + 40, (uint32_t)d->npg_lrs);
			}
		}
		for (size_t k = 0; k < cls->nargs; k++) {
			const struct fts_resolved_arg *a = &ra[k];
			if (a->arg->type->kind == FTS_T_LAMBDA && fts_class_has(cls, FTS_CLS_LAMBDAS))
				class_lambda(m, cls, a, tmp);
			if (!strcmp(a->arg->name, "milestones") && fts_class_has(cls, FTS_CLS_CONTAINER) &&
			    (a->value.kind == FTS_V_LIST || a->value.kind == FTS_V_TUPLE)) {
				int64_t *ms = fts_arena_alloc(m->a, (a->value.len + 1) * sizeof(*ms));
				for (size_t j = 0; j < a->value.len; j++)
					ms[j] = a->value.items[j].kind == FTS_V_INT ? a->value.items[j].i : 0;
				plan_wr32(tmp + 60, emit_i64s(m, ms, a->value.len));
				plan_wr32(tmp + 64, (uint32_t)a->value.len);
			}
			if (a->arg->type->kind == FTS_T_SCHEDULER_LIST) {
				const struct fts_node *list = map_get(cs->init_args, a->arg->name);
				size_t nch = list && list->kind == FTS_N_SEQ ? list->nitems : 0;
				uint32_t *ch = fts_arena_alloc(m->a, (nch + 1) * sizeof(*ch));
				for (size_t j = 0; j < nch; j++) {
					const struct fts_node *it = list->items[j];
					const struct fts_node *cp = map_get(it, "class_path");
					struct cls_src sub = {NULL, cp ? cp->text : NULL,
							      map_get(it, "init_args"), NULL};
					if (cp && cp->kind == FTS_N_SCALAR && cp->text)
						sub.decl = fts_stdlib_find(m->c->stdlib, cp->text);
					int32_t x = emit_class(m, &sub, true);
					if (x < 0)
						return -1;
					ch[j] = (uint32_t)x;
				}
				plan_wr32(tmp + 52, emit_u32s(m, ch, nch));
				plan_wr32(tmp + 56, (uint32_t)nch);
			}
		}
	}
	if (m->failed)
		return -1;
	memcpy(m->s[PLAN_SEC_CLSS].p + (size_t)idx * 80, tmp, 80);
	return idx;
}

static int32_t emit_directive(struct em *m, const struct fts_ir_directive *d, bool scheduler)
{
	if (!d)
		return -1;
	struct cls_src cs = {d->decl, d->class_path, d->init_args, d};
	int32_t x = emit_class(m, &cs, scheduler);
	return m->failed ? -1 : x;
}

/* ---- phases and settings -------------------------------------------------------------- */

static void emit_phases(struct em *m, int32_t *nopt, int32_t *nsched)
{
	const struct fts_ir *ir = m->c->ir;
	for (uint32_t i = 0; i < ir->nphases; i++) {
		const struct fts_ir_phase *ph = &ir->phases[i];
		uint32_t *idx = fts_arena_alloc(m->a, (ph->nparams + 1) * sizeof(*idx));
		for (uint32_t k = 0; k < ph->nparams; k++)
			idx[k] = ph->params[k].index;
		uint32_t at = emit_u32s(m, idx, ph->nparams);
		uint8_t *r = grow(m, PLAN_SEC_PHAS, 48);
		plan_wr64(r, (uint64_t)ph->index);
		plan_wr64(r + 8, (uint64_t)(ph->mte < 0 ? -1 : ph->mte));
		plan_wrf64(r + 16, i == 0 ? ir->settings.base_max_lr : ph->lr);
		plan_wr32(r + 24, at);
		plan_wr32(r + 28, ph->nparams);
		plan_wr32(r + 32, (uint32_t)nopt[i]);
		plan_wr32(r + 36, (uint32_t)nsched[i]);
	}
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

static void emit_settings(struct em *m, const int32_t cls[4])
{
	const struct fts_compile *c = m->c;
	const struct fts_ir *ir = c->ir;
	const struct fts_settings *st = &ir->settings;
	uint32_t *nd = fts_arena_alloc(m->a, (c->initial.nno_decay + 1) * sizeof(*nd));
	for (size_t k = 0; k < c->initial.nno_decay; k++)
		nd[k] = emit_str(m, c->initial.no_decay[k]);
	uint32_t ndat = emit_u32s(m, nd, c->initial.nno_decay);

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
	uint32_t flags = 0;
	flags |= st->restore_best ? PLAN_SETF_RESTORE_BEST : 0;
	flags |= st->epoch_transitions_only ? PLAN_SETF_EPOCH_TRANSITIONS_ONLY : 0;
	flags |= st->apply_lambdas_new_pgs ? PLAN_SETF_APPLY_LAMBDAS_NEW_PGS : 0;
	flags |= es.present ? PLAN_SETF_ES_PRESENT : 0;
	flags |= es.mode_max ? PLAN_SETF_ES_MODE_MAX : 0;
	flags |= es.has_stopping_threshold ? PLAN_SETF_ES_HAS_STOPPING : 0;
	flags |= es.has_divergence_threshold ? PLAN_SETF_ES_HAS_DIVERGENCE : 0;
	flags |= es.check_finite ? PLAN_SETF_ES_CHECK_FINITE : 0;
	flags |= ck.mode_max ? PLAN_SETF_CKPT_MODE_MAX : 0;
	uint32_t esmon = es.present ? emit_str(m, es.monitor) : PLAN_NOSTR;
	uint32_t ckmon = emit_str(m, ck.monitor);

	uint8_t *r = grow(m, PLAN_SEC_SETT, 104);
	plan_wr64(r, (uint64_t)ir->max_depth);
	plan_wr64(r + 8, (uint64_t)effective_max_epochs(ir));
	plan_wrf64(r + 16, st->base_max_lr);
	plan_wr32(r + 24, ndat);
	plan_wr32(r + 28, (uint32_t)c->initial.nno_decay);
	plan_wr32(r + 32, c->initial.phase0_groups ? c->initial.phase0_groups : 1);
	for (int k = 0; k < 4; k++)
		plan_wr32(r + 36 + 4 * k, (uint32_t)cls[k]);
	plan_wr32(r + 52, flags);
	plan_wr32(r + 56, esmon);
	plan_wr32(r + 60, ckmon);
	plan_wr64(r + 64, (uint64_t)(es.present ? es.patience : 0));
	plan_wrf64(r + 72, es.present ? fabs(es.min_delta) : 0.0);
	plan_wrf64(r + 80, es.has_stopping_threshold ? es.stopping_threshold : 0.0);
	plan_wrf64(r + 88, es.has_divergence_threshold ? es.divergence_threshold : 0.0);
	plan_wr64(r + 96, (uint64_t)ck.save_top_k);
}

/* ---- optional sections ------------------------------------------------------------------ */

static uint8_t lr_kind(enum fts_lr_kind k)
{
	return k == FTS_LR_KNOWN ? PLAN_LR_KNOWN : k == FTS_LR_CONTINUES ? PLAN_LR_CONTINUES
		: PLAN_LR_UNKNOWN;
}

static void emit_groups(struct em *m)
{
	const struct fts_sim *sim = m->c->sim;
	m->present[PLAN_SEC_GRPS] = true;
	for (size_t i = 0; i < sim->n; i++) {
		const struct fts_sim_phase *sp = &sim->phases[i];
		for (size_t g = 0; g < sp->ngroups; g++) {
			const struct fts_sim_group *gr = &sp->groups[g];
			uint8_t *r = grow(m, PLAN_SEC_GRPS, 48);
			plan_wr32(r, (uint32_t)i);
			r[4] = gr->no_decay;
			r[5] = gr->user;
			r[6] = lr_kind(gr->lr.kind);
			r[7] = lr_kind(gr->initial_lr.kind);
			plan_wr64(r + 8, (uint64_t)gr->phase);
			plan_wrf64(r + 16, gr->lr.kind == FTS_LR_KNOWN ? gr->lr.v : 0.0);
			plan_wrf64(r + 24, gr->initial_lr.kind == FTS_LR_KNOWN ? gr->initial_lr.v : 0.0);
			plan_wr32(r + 32, gr->nparams);
			plan_wr64(r + 40, gr->numel);
		}
	}
}

static void src_entry(struct em *m, uint8_t kind, uint32_t phase, uint32_t item,
		      struct fts_span sp)
{
	if (!fts_span_valid(sp))
		return;
	const struct fts_source *f = fts_source_get(m->src, sp.file);
	if (!f)
		return;
	uint32_t line, col;
	fts_source_linecol(f, sp.start, &line, &col);
	uint32_t file = emit_str(m, f->name ? f->name : "?");
	uint8_t *r = grow(m, PLAN_SEC_SMAP, 24);
	r[0] = kind;
	plan_wr32(r + 4, phase);
	plan_wr32(r + 8, item);
	plan_wr32(r + 12, file);
	plan_wr32(r + 16, line ? line : 1);
	plan_wr32(r + 20, col ? col : 1);
}

static void emit_srcmap(struct em *m)
{
	const struct fts_ir *ir = m->c->ir;
	m->present[PLAN_SEC_SMAP] = true;
	for (uint32_t i = 0; i < ir->nphases; i++) {
		const struct fts_ir_phase *ph = &ir->phases[i];
		if (ph->key)
			src_entry(m, PLAN_SRC_PHASE, i, 0, ph->key->span);
		for (uint32_t k = 0; k < ph->nentries; k++)
			if (ph->entries[k].node)
				src_entry(m, PLAN_SRC_PARAMS_ENTRY, i, k, ph->entries[k].node->span);
		if (ph->new_optimizer && ph->new_optimizer->node)
			src_entry(m, PLAN_SRC_NEW_OPTIMIZER, i, 0, ph->new_optimizer->node->span);
		if (ph->new_lr_scheduler && ph->new_lr_scheduler->node)
			src_entry(m, PLAN_SRC_NEW_LR_SCHEDULER, i, 0, ph->new_lr_scheduler->node->span);
	}
}

/* ---- container ------------------------------------------------------------------------- */

static uint8_t *emit_header(struct em *m, size_t *total)
{
	uint32_t n = 0;
	for (int k = 0; k < PLAN_SEC_COUNT_; k++)
		n += m->present[k];
	uint64_t pos = plan_align8(PLAN_HEADER_SIZE + (uint64_t)n * PLAN_SECTION_ENTRY);
	uint64_t offs[PLAN_SEC_COUNT_] = {0};
	uint32_t seen = 0;
	for (int k = 0; k < PLAN_SEC_COUNT_; k++) {
		if (!m->present[k])
			continue;
		offs[k] = pos;
		pos += m->s[k].len;
		if (++seen < n)
			pos = plan_align8(pos);
	}
	uint8_t *out = fts_xcalloc(1, (size_t)pos);
	memcpy(out, PLAN_MAGIC, PLAN_MAGIC_LEN);
	plan_wr16(out + 8, PLAN_FORMAT_MAJOR);
	plan_wr16(out + 10, PLAN_FORMAT_MINOR);
	plan_wr16(out + 12, PLAN_MIN_READER_MINOR);
	plan_wr16(out + 14, PLAN_HEADER_SIZE);
	plan_wr32(out + 16, PLAN_PROBE_U32);
	plan_wrf64(out + 24, PLAN_PROBE_F64);
	plan_wr64(out + 32, pos);
	plan_wr32(out + 40, n);
	static const char *const ids[PLAN_SEC_COUNT_] = {
#define PLAN_SECTION(name, fourcc, flags, record, what) [PLAN_SEC_##name] = fourcc,
#include "../runtime/plan_ops.def"
#undef PLAN_SECTION
	};
	static const uint32_t secflags[PLAN_SEC_COUNT_] = {
#define PLAN_SECTION(name, fourcc, flags, record, what) [PLAN_SEC_##name] = flags,
#include "../runtime/plan_ops.def"
#undef PLAN_SECTION
	};
	uint8_t *e = out + PLAN_HEADER_SIZE;
	for (int k = 0; k < PLAN_SEC_COUNT_; k++) {
		if (!m->present[k])
			continue;
		if (m->s[k].len)
			memcpy(out + offs[k], m->s[k].p, m->s[k].len);
		plan_wr32(e, PLAN_FOURCC(ids[k]));
		plan_wr32(e + 4, secflags[k]);
		plan_wr64(e + 8, offs[k]);
		plan_wr64(e + 16, m->s[k].len);
		plan_wr32(e + 24, plan_crc32c(0, m->s[k].p ? m->s[k].p : out, m->s[k].len));
		e += PLAN_SECTION_ENTRY;
	}
	uint32_t crc = plan_crc32c(0, out, PLAN_HEADER_CRC_SPAN);
	crc = plan_crc32c(crc, out + PLAN_HEADER_SIZE, (size_t)n * PLAN_SECTION_ENTRY);
	plan_wr32(out + 44, crc);
	*total = (size_t)pos;
	return out;
}

int fts_emit_plan(const struct fts_compile *c, const struct fts_sources *src, bool strip,
		  uint8_t **out, size_t *len, char *err, size_t errlen)
{
	struct fts_arena a;
	struct em m;
	int rc = -1;

	*out = NULL;
	*len = 0;
	memset(&m, 0, sizeof(m));
	fts_arena_init(&a);
	m.c = c;
	m.src = src;
	m.a = &a;
	m.err = err;
	m.errlen = errlen;
	if (errlen)
		err[0] = '\0';
	if (!c->ir || !c->sim || !c->manifest) {
		efail(&m, "the schedule has errors; no plan is written");
		goto out;
	}
	if (!c->initial.optimizer_known || !c->initial.optimizer) {
		efail(&m, "the initial optimizer is unknown: give --config (a LightningCLI config with "
		      "the model's optimizer) or --initial-optimizer");
		goto out;
	}
	if (!c->initial.scheduler_known) {
		efail(&m, "the initial lr scheduler is unknown: give --config (a LightningCLI config with "
		      "the model's lr_scheduler_init), --initial-lr-scheduler, or --initial-lr-scheduler=none "
		      "when the session has none");
		goto out;
	}
	for (int k = 0; k < PLAN_SEC_COUNT_; k++)
		m.present[k] = !(k == PLAN_SEC_GRPS || k == PLAN_SEC_SMAP);
	grow(&m, PLAN_SEC_STRS, 1);     /* byte 0: "" */

	emit_manifest(&m);
	int32_t cls[4];
	cls[0] = emit_directive(&m, c->initial.optimizer, false);
	cls[1] = emit_directive(&m, c->initial.scheduler_known ? c->initial.scheduler : NULL, true);
	const struct fts_ir *ir = c->ir;
	int32_t *nopt = fts_arena_alloc(&a, (ir->nphases + 1) * sizeof(*nopt));
	int32_t *nsched = fts_arena_alloc(&a, (ir->nphases + 1) * sizeof(*nsched));
	for (uint32_t i = 0; i < ir->nphases; i++) {
		nopt[i] = emit_directive(&m, ir->phases[i].new_optimizer, false);
		nsched[i] = emit_directive(&m, ir->phases[i].new_lr_scheduler, true);
	}
	cls[2] = emit_directive(&m, ir->reinit_optim, false);
	cls[3] = emit_directive(&m, ir->reinit_lr, true);
	emit_phases(&m, nopt, nsched);
	emit_settings(&m, cls);
	emit_groups(&m);
	if (!strip)
		emit_srcmap(&m);
	if (m.failed)
		goto out;
	*out = emit_header(&m, len);
	rc = 0;
out:
	for (int k = 0; k < PLAN_SEC_COUNT_; k++)
		free(m.s[k].p);
	free(m.ht);
	fts_arena_release(&a);
	return rc;
}
