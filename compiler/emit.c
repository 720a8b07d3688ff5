/*
 * emit.c - the plan writer (see emit.h; fields by name from
 * runtime/plan_records.def with PLAN_SET, no offsets here).
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
#include "planview.h"

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

/*
 * The writers of the three number pools, one body: each appends n values
 * as consecutive one-field records and returns the index of the first.
 * Each stays a function of its own element type, and the assertion ties
 * that type to the record's `value` field in plan_records.def, so a
 * mismatched pool or table entry is a compile error, not a conversion.
 */
#define EMIT_POOL(fn, T, R)								\
	_Static_assert(_Generic(((struct plan_rec_##R *)0)->value, T: 1, default: 0),	\
		       #R " values are not " #T);					\
	static uint32_t fn(struct em *m, const T *v, size_t n)				\
	{										\
		uint32_t at = count(m, PLAN_SEC_##R, PLAN_SIZE(R));			\
		uint8_t *q = grow(m, PLAN_SEC_##R, PLAN_SIZE(R) * n);			\
		for (size_t k = 0; k < n; k++)						\
			PLAN_SET(R, q + PLAN_SIZE(R) * k, value, v[k]);			\
		return at;								\
	}
EMIT_POOL(emit_i64s, int64_t, I64P)
EMIT_POOL(emit_f64s, double, F64P)
EMIT_POOL(emit_u32s, uint32_t, U32P)
#undef EMIT_POOL

/* ---- manifest --------------------------------------------------------------------- */

static const char *mdtype(const struct fts_mparam *p)
{
	const char *dt = fts_mp_dtype(p);
	return dt ? dt : "";
}

uint64_t fts_emit_manifest_hash(const struct fts_manifest *man)
{
	uint64_t h = PLAN_FNV_OFFSET;
	for (uint32_t i = 0; i < man->n; i++) {
		const struct fts_mparam *p = &man->p[i];
		int32_t ndim = fts_mp_ndim(man, p);
		size_t nd = ndim > 0 ? (size_t)ndim : 0;
		h = plan_manifest_hash_add(h, fts_mp_name(man, p), p->len, nd, fts_mp_dims(man, p), mdtype(p));
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

/* A shape's identity: its dims, its dtype (an interned STRS offset) and
 * requires_grad; first is the manifest entry that introduced it. */
struct shape_key {
	uint32_t first, dtype;
};

static bool same_shape(const struct fts_manifest *man, const struct fts_mparam *a,
		       const struct fts_mparam *b, uint32_t dta, uint32_t dtb)
{
	int32_t nd = fts_mp_ndim(man, a) > 0 ? fts_mp_ndim(man, a) : 0;
	return dta == dtb && a->requires_grad == b->requires_grad &&
	       (fts_mp_ndim(man, b) > 0 ? fts_mp_ndim(man, b) : 0) == nd &&
	       !memcmp(fts_mp_dims(man, a), fts_mp_dims(man, b), (size_t)nd * sizeof(int64_t));
}

static uint64_t shape_hash(const struct fts_manifest *man, const struct fts_mparam *p, uint32_t dt)
{
	uint8_t b[16];
	uint64_t h = PLAN_FNV_OFFSET;
	int32_t nd = fts_mp_ndim(man, p) > 0 ? fts_mp_ndim(man, p) : 0;
	const int64_t *dims = fts_mp_dims(man, p);
	plan_wr32(b, dt);
	plan_wr32(b + 4, (uint32_t)nd);
	plan_wr32(b + 8, p->requires_grad);
	h = plan_fnv(h, b, 12);
	for (int32_t k = 0; k < nd; k++) {
		plan_wr64(b, (uint64_t)dims[k]);
		h = plan_fnv(h, b, 8);
	}
	return h;
}

/* SHAP: the distinct shapes in first-use order; shape[i] gets entry i's. */
static void emit_shapes(struct em *m, uint32_t *shape)
{
	const struct fts_manifest *man = m->c->manifest;
	size_t cap = 64, n = 0;
	struct shape_key *keys = fts_xmalloc(cap * sizeof(*keys));
	size_t htcap = 128;
	uint32_t *ht = fts_xmalloc(htcap * sizeof(*ht));
	memset(ht, 0xFF, htcap * sizeof(*ht));
	for (uint32_t i = 0; i < man->n; i++) {
		const struct fts_mparam *p = &man->p[i];
		uint32_t dt = emit_str(m, mdtype(p));
		size_t h = (size_t)shape_hash(man, p, dt);
		for (;; h++) {
			uint32_t k = ht[h & (htcap - 1)];
			if (k == UINT32_MAX || same_shape(man, p, &man->p[keys[k].first], dt, keys[k].dtype))
				break;
		}
		uint32_t k = ht[h & (htcap - 1)];
		if (k == UINT32_MAX) {
			uint32_t nd = fts_mp_ndim(man, p) > 0 ? (uint32_t)fts_mp_ndim(man, p) : 0;
			uint8_t *r = grow(m, PLAN_SEC_SHAP, PLAN_SIZE(SHAP));
			PLAN_SET(SHAP, r, dims, emit_i64s(m, fts_mp_dims(man, p), nd));
			PLAN_SET(SHAP, r, dtype_name, dt);
			PLAN_SET(SHAP, r, ndim, (uint8_t)nd);
			PLAN_SET(SHAP, r, dtype, dtype_code(mdtype(p)));
			PLAN_SET(SHAP, r, requires_grad, p->requires_grad ? 1 : 0);
			if (n == cap)
				keys = fts_xrealloc(keys, (cap *= 2) * sizeof(*keys));
			keys[n] = (struct shape_key){i, dt};
			k = (uint32_t)n++;
			ht[h & (htcap - 1)] = k;
			if (2 * n > htcap) {    /* rehash */
				size_t ncap = 2 * htcap;
				uint32_t *nt = fts_xmalloc(ncap * sizeof(*nt));
				memset(nt, 0xFF, ncap * sizeof(*nt));
				for (size_t j = 0; j < n; j++) {
					size_t g = (size_t)shape_hash(man, &man->p[keys[j].first], keys[j].dtype);
					while (nt[g & (ncap - 1)] != UINT32_MAX)
						g++;
					nt[g & (ncap - 1)] = (uint32_t)j;
				}
				free(ht);
				ht = nt;
				htcap = ncap;
			}
		}
		shape[i] = k;
	}
	free(ht);
	free(keys);
}

/* NAME: every entry's name, front-coded (plan_format.h): the lengths, then
 * the suffixes. */
static void emit_names(struct em *m)
{
	const struct fts_manifest *man = m->c->manifest;
	size_t lcap = (size_t)man->n * 6 + 1, scap = 1, ln = 0, sn = 0;
	for (uint32_t i = 0; i < man->n; i++)
		scap += man->p[i].len;
	uint8_t *lens = fts_xmalloc(lcap), *suf = fts_xmalloc(scap);
	const char *prev = "";
	size_t prevlen = 0;
	for (uint32_t i = 0; i < man->n; i++) {
		const char *name = fts_mp_name(man, &man->p[i]);
		size_t len = man->p[i].len, shared = plan_name_shared(prev, prevlen, name, len);
		if (len - shared > UINT32_MAX) {
			efail(m, "parameter name %u is over 4 GiB", i);
			break;
		}
		lens[ln++] = (uint8_t)shared;
		ln += plan_leb128_put(lens + ln, (uint32_t)(len - shared));
		memcpy(suf + sn, name + shared, len - shared);
		sn += len - shared;
		prev = name;
		prevlen = len;
	}
	if (ln > UINT32_MAX)
		efail(m, "the parameter names' lengths take over 4 GiB");
	uint8_t *h = grow(m, PLAN_SEC_NAME, PLAN_SIZE(NAMH) + ln + sn);
	PLAN_SET(NAMH, h, nnames, man->n);
	PLAN_SET(NAMH, h, lengths, (uint32_t)ln);
	memcpy(h + PLAN_SIZE(NAMH), lens, ln);
	if (sn)
		memcpy(h + PLAN_SIZE(NAMH) + ln, suf, sn);
	free(lens);
	free(suf);
}

static void emit_manifest(struct em *m)
{
	const struct fts_manifest *man = m->c->manifest;
	if (!man->typed) {
		efail(m, "'%s' has no shapes and dtypes: a plan needs an ftsc-manifest v1 manifest",
		      man->path ? man->path : "the manifest");
		return;
	}
	uint32_t *shape = fts_xmalloc(((size_t)man->n + 1) * sizeof(*shape));
	emit_shapes(m, shape);
	uint8_t *h = grow(m, PLAN_SEC_MANI, PLAN_SIZE(MANH) + (size_t)man->n * PLAN_SIZE(MANI));
	PLAN_SET(MANH, h, manifest_hash, fts_emit_manifest_hash(man));
	PLAN_SET(MANH, h, nparams, man->n);
	for (uint32_t i = 0; i < man->n; i++) {
		uint8_t *r = h + PLAN_SIZE(MANH) + (size_t)i * PLAN_SIZE(MANI);
		PLAN_SET(MANI, r, shape, shape[i]);
		PLAN_SET(MANI, r, tied_to, man->p[i].tied_to < 0 ? -1 : man->p[i].tied_to);
	}
	free(shape);
	emit_names(m);
}

/* ---- classes, phases and settings: the plan view, serialized ------------------------- */

static void emit_arg(struct em *m, const struct rt_plan_arg *a, bool force)
{
	uint32_t name = emit_str(m, a->name), s = PLAN_NOSTR, vi = 0;
	if (a->kind == RT_ARG_STR)
		s = emit_str(m, a->s);
	if (a->kind == RT_ARG_FLOATS)
		vi = emit_f64s(m, a->v, a->n);
	uint8_t *r = grow(m, PLAN_SEC_ARGS, PLAN_SIZE(ARGS));
	PLAN_SET(ARGS, r, name, name);
	PLAN_SET(ARGS, r, kind, a->kind);
	PLAN_SET(ARGS, r, given, a->given ? 1 : 0);
	PLAN_SET(ARGS, r, b, a->b);
	PLAN_SET(ARGS, r, force, force);
	PLAN_SET(ARGS, r, s, s);
	PLAN_SET(ARGS, r, v, vi);
	PLAN_SET(ARGS, r, n, a->kind == RT_ARG_FLOATS ? a->n : 0);
	PLAN_SET(ARGS, r, i, a->i);
	PLAN_SET(ARGS, r, f, a->f);
}

static void emit_class(struct em *m, const struct rt_plan_class *c)
{
	/* the record is filled in a copy: emitting arguments and pools below
	 * may move the section's buffer */
	size_t at = m->s[PLAN_SEC_CLSS].len;
	grow(m, PLAN_SEC_CLSS, PLAN_SIZE(CLSS));
	uint8_t r[PLAN_SIZE(CLSS)] = {0};
	PLAN_SET(CLSS, r, scheduler, c->scheduler);
	PLAN_SET(CLSS, r, epoch_interval, c->epoch_interval);
	PLAN_SET(CLSS, r, use_current, c->use_current);
	PLAN_SET(CLSS, r, stdlib_id, c->stdlib_id);
	PLAN_SET(CLSS, r, class_path, emit_str(m, c->class_path));
	PLAN_SET(CLSS, r, args, count(m, PLAN_SEC_ARGS, PLAN_SIZE(ARGS)));
	for (uint32_t k = 0; k < c->nargs; k++)
		emit_arg(m, &c->args[k], false);
	PLAN_SET(CLSS, r, nargs, c->nargs);
	if (!c->scheduler) {
		uint32_t offs[64];
		uint32_t n = c->nslots < 64 ? c->nslots : 64;
		for (uint32_t k = 0; k < n; k++)
			offs[k] = emit_str(m, c->state_slots[k]);
		PLAN_SET(CLSS, r, slots, emit_u32s(m, offs, n));
		PLAN_SET(CLSS, r, nslots, n);
		/* the restore profile */
		PLAN_SET(CLSS, r, state_at_construction, c->state_at_construction);
		uint32_t nr = c->nreads < 64 ? c->nreads : 64;
		for (uint32_t k = 0; k < nr; k++)
			offs[k] = emit_str(m, c->reads[k]);
		PLAN_SET(CLSS, r, reads, nr ? emit_u32s(m, offs, nr) : 0);
		PLAN_SET(CLSS, r, nreads, (uint16_t)nr);
		uint32_t sx = count(m, PLAN_SEC_ARGS, PLAN_SIZE(ARGS));
		for (uint32_t k = 0; k < c->nsetstates; k++)
			emit_arg(m, &c->setstates[k], c->setstate_force[k]);
		PLAN_SET(CLSS, r, setstates, c->nsetstates ? sx : 0);
		PLAN_SET(CLSS, r, nsetstates, (uint16_t)c->nsetstates);
	}
	PLAN_SET(CLSS, r, frequency, c->frequency ? c->frequency : 1);
	PLAN_SET(CLSS, r, monitor, c->monitor ? emit_str(m, c->monitor) : PLAN_NOSTR);
	PLAN_SET(CLSS, r, ninit_pg_lrs, -1);
	if (c->ninit_pg_lrs >= 0) {
		PLAN_SET(CLSS, r, init_pg_lrs, emit_f64s(m, c->init_pg_lrs, (size_t)c->ninit_pg_lrs));
		PLAN_SET(CLSS, r, ninit_pg_lrs, c->ninit_pg_lrs);
	}
	if (c->lambda_len) {
		uint32_t off = (uint32_t)m->s[PLAN_SEC_BLOB].len;
		memcpy(grow(m, PLAN_SEC_BLOB, c->lambda_len), c->lambda, c->lambda_len);
		PLAN_SET(CLSS, r, lambda, off);
		PLAN_SET(CLSS, r, lambda_len, c->lambda_len);
	}
	if (c->nchildren) {
		uint32_t *ch = fts_arena_alloc(m->a, c->nchildren * sizeof(*ch));
		for (uint32_t k = 0; k < c->nchildren; k++)
			ch[k] = (uint32_t)c->children[k];
		PLAN_SET(CLSS, r, children, emit_u32s(m, ch, c->nchildren));
		PLAN_SET(CLSS, r, nchildren, c->nchildren);
	}
	if (c->nmilestones) {
		PLAN_SET(CLSS, r, milestones, emit_i64s(m, c->milestones, c->nmilestones));
		PLAN_SET(CLSS, r, nmilestones, c->nmilestones);
	}
	memcpy(m->s[PLAN_SEC_CLSS].p + at, r, sizeof(r));
}

static void emit_classes(struct em *m)
{
	const struct rt_plan *p = &m->c->view->p;
	for (uint32_t k = 0; k < p->nclasses; k++)
		emit_class(m, &p->classes[k]);
}

static void emit_phases(struct em *m)
{
	const struct rt_plan *p = &m->c->view->p;
	for (uint32_t i = 0; i < p->nphases; i++) {
		const struct rt_plan_phase *ph = &p->phases[i];
		uint32_t at = emit_u32s(m, ph->params, ph->nparams);
		uint8_t *r = grow(m, PLAN_SEC_PHAS, PLAN_SIZE(PHAS));
		PLAN_SET(PHAS, r, index, ph->index);
		PLAN_SET(PHAS, r, mte, ph->mte);
		PLAN_SET(PHAS, r, lr, ph->lr);
		PLAN_SET(PHAS, r, params, at);
		PLAN_SET(PHAS, r, nparams, ph->nparams);
		PLAN_SET(PHAS, r, new_optimizer, ph->new_optimizer);
		PLAN_SET(PHAS, r, new_lr_scheduler, ph->new_lr_scheduler);
	}
}

static void emit_settings(struct em *m)
{
	const struct rt_plan *p = &m->c->view->p;
	uint32_t *nd = fts_arena_alloc(m->a, (p->nno_decay + 1) * sizeof(*nd));
	for (uint32_t k = 0; k < p->nno_decay; k++)
		nd[k] = emit_str(m, p->no_decay[k]);
	uint32_t ndat = emit_u32s(m, nd, p->nno_decay);
	uint32_t flags = 0;
	flags |= p->restore_best ? PLAN_SETF_RESTORE_BEST : 0;
	flags |= p->epoch_transitions_only ? PLAN_SETF_EPOCH_TRANSITIONS_ONLY : 0;
	flags |= p->apply_lambdas_new_pgs ? PLAN_SETF_APPLY_LAMBDAS_NEW_PGS : 0;
	flags |= p->es.present ? PLAN_SETF_ES_PRESENT : 0;
	flags |= p->es.mode_max ? PLAN_SETF_ES_MODE_MAX : 0;
	flags |= p->es.has_stopping_threshold ? PLAN_SETF_ES_HAS_STOPPING : 0;
	flags |= p->es.has_divergence_threshold ? PLAN_SETF_ES_HAS_DIVERGENCE : 0;
	flags |= p->es.check_finite ? PLAN_SETF_ES_CHECK_FINITE : 0;
	flags |= p->ckpt.mode_max ? PLAN_SETF_CKPT_MODE_MAX : 0;
	uint32_t esmon = p->es.present ? emit_str(m, p->es.monitor) : PLAN_NOSTR;
	uint32_t ckmon = emit_str(m, p->ckpt.monitor);

	uint8_t *r = grow(m, PLAN_SEC_SETT, PLAN_SIZE(SETT));
	PLAN_SET(SETT, r, max_depth, p->max_depth);
	PLAN_SET(SETT, r, max_epochs, p->max_epochs);
	PLAN_SET(SETT, r, base_max_lr, p->base_max_lr);
	PLAN_SET(SETT, r, no_decay, ndat);
	PLAN_SET(SETT, r, nno_decay, p->nno_decay);
	PLAN_SET(SETT, r, phase0_groups, p->phase0_groups);
	PLAN_SET(SETT, r, initial_optimizer, p->initial_optimizer);
	PLAN_SET(SETT, r, initial_scheduler, p->initial_scheduler);
	PLAN_SET(SETT, r, reinit_optimizer, p->reinit_optimizer);
	PLAN_SET(SETT, r, reinit_scheduler, p->reinit_scheduler);
	PLAN_SET(SETT, r, flags, flags);
	PLAN_SET(SETT, r, es_monitor, esmon);
	PLAN_SET(SETT, r, ckpt_monitor, ckmon);
	PLAN_SET(SETT, r, es_patience, p->es.patience);
	PLAN_SET(SETT, r, es_min_delta, p->es.min_delta);
	PLAN_SET(SETT, r, es_stopping_threshold, p->es.stopping_threshold);
	PLAN_SET(SETT, r, es_divergence_threshold, p->es.divergence_threshold);
	PLAN_SET(SETT, r, ckpt_save_top_k, p->ckpt.save_top_k);
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
			uint8_t *r = grow(m, PLAN_SEC_GRPS, PLAN_SIZE(GRPS));
			PLAN_SET(GRPS, r, phase, (uint32_t)i);
			PLAN_SET(GRPS, r, no_decay, gr->no_decay);
			PLAN_SET(GRPS, r, user, gr->user);
			PLAN_SET(GRPS, r, lr_kind, lr_kind(gr->lr.kind));
			PLAN_SET(GRPS, r, initial_lr_kind, lr_kind(gr->initial_lr.kind));
			PLAN_SET(GRPS, r, holds, gr->phase);
			PLAN_SET(GRPS, r, lr, gr->lr.kind == FTS_LR_KNOWN ? gr->lr.v : 0.0);
			PLAN_SET(GRPS, r, initial_lr,
				 gr->initial_lr.kind == FTS_LR_KNOWN ? gr->initial_lr.v : 0.0);
			PLAN_SET(GRPS, r, nparams, gr->nparams);
			PLAN_SET(GRPS, r, numel, gr->numel);
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
	size_t line, col;
	fts_source_linecol(f, sp.start, &line, &col);
	/* schedules and configs are at most FTS_MAX_INPUT bytes: 32 bits hold
	 * their lines and columns */
	if (line > UINT32_MAX)
		line = UINT32_MAX;
	if (col > UINT32_MAX)
		col = UINT32_MAX;
	uint32_t file = emit_str(m, f->name ? f->name : "?");
	uint8_t *r = grow(m, PLAN_SEC_SMAP, PLAN_SIZE(SMAP));
	PLAN_SET(SMAP, r, kind, kind);
	PLAN_SET(SMAP, r, phase, phase);
	PLAN_SET(SMAP, r, item, item);
	PLAN_SET(SMAP, r, file, file);
	PLAN_SET(SMAP, r, line, line ? (uint32_t)line : 1);
	PLAN_SET(SMAP, r, column, col ? (uint32_t)col : 1);
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

static void emit_restores(struct em *m)
{
	const struct rt_plan *v = &m->c->view->p;
	if (!v->nrestores)
		return;
	m->present[PLAN_SEC_RSTR] = true;
	for (uint32_t i = 0; i < v->nrestores; i++) {
		const struct rt_plan_restore *e = &v->restores[i];
		uint32_t msg = emit_str(m, e->message ? e->message : "");
		uint32_t ox = e->noverrides ? count(m, PLAN_SEC_ARGS, PLAN_SIZE(ARGS)) : 0;
		for (uint32_t k = 0; k < e->noverrides; k++)
			emit_arg(m, &e->overrides[k], false);
		uint8_t *r = grow(m, PLAN_SEC_RSTR, PLAN_SIZE(RSTR));
		PLAN_SET(RSTR, r, target, e->target);
		PLAN_SET(RSTR, r, source, e->source);
		PLAN_SET(RSTR, r, kind, e->kind);
		PLAN_SET(RSTR, r, message, msg);
		PLAN_SET(RSTR, r, overrides, ox);
		PLAN_SET(RSTR, r, noverrides, e->noverrides);
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
	memcpy(out + PLAN_OFF(HDR, magic), PLAN_MAGIC, PLAN_MAGIC_LEN);
	PLAN_SET(HDR, out, format_major, PLAN_FORMAT_MAJOR);
	PLAN_SET(HDR, out, format_minor, PLAN_FORMAT_MINOR);
	PLAN_SET(HDR, out, min_reader_minor, PLAN_MIN_READER_MINOR);
	PLAN_SET(HDR, out, header_size, PLAN_HEADER_SIZE);
	PLAN_SET(HDR, out, probe_u32, PLAN_PROBE_U32);
	PLAN_SET(HDR, out, probe_f64, PLAN_PROBE_F64);
	PLAN_SET(HDR, out, file_size, pos);
	PLAN_SET(HDR, out, section_count, n);
	static const char *const ids[PLAN_SEC_COUNT_] = {
#define PLAN_SECTION(name, fourcc, flags, head, what) [PLAN_SEC_##name] = fourcc,
#include "../runtime/plan_ops.def"
#undef PLAN_SECTION
	};
	static const uint32_t secflags[PLAN_SEC_COUNT_] = {
#define PLAN_SECTION(name, fourcc, flags, head, what) [PLAN_SEC_##name] = flags,
#include "../runtime/plan_ops.def"
#undef PLAN_SECTION
	};
	uint8_t *e = out + PLAN_HEADER_SIZE;
	for (int k = 0; k < PLAN_SEC_COUNT_; k++) {
		if (!m->present[k])
			continue;
		if (m->s[k].len)
			memcpy(out + offs[k], m->s[k].p, m->s[k].len);
		PLAN_SET(SECT, e, id, PLAN_FOURCC(ids[k]));
		PLAN_SET(SECT, e, flags, secflags[k]);
		PLAN_SET(SECT, e, offset, offs[k]);
		PLAN_SET(SECT, e, length, m->s[k].len);
		PLAN_SET(SECT, e, crc32c, plan_crc32c(0, m->s[k].p ? m->s[k].p : out, m->s[k].len));
		e += PLAN_SECTION_ENTRY;
	}
	uint32_t crc = plan_crc32c(0, out, PLAN_HEADER_CRC_SPAN);
	crc = plan_crc32c(crc, out + PLAN_HEADER_SIZE, (size_t)n * PLAN_SECTION_ENTRY);
	PLAN_SET(HDR, out, header_crc32c, crc);
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
	if (!c->ir || !c->sim || !c->manifest || !c->view) {
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
		m.present[k] = !(k == PLAN_SEC_GRPS || k == PLAN_SEC_SMAP || k == PLAN_SEC_RSTR);
	grow(&m, PLAN_SEC_STRS, 1);     /* byte 0: "" */

	const char *why = fts_planview_problem(c->view);
	if (why) {
		efail(&m, "%s", why);
		goto out;
	}
	emit_manifest(&m);
	emit_classes(&m);
	emit_phases(&m);
	emit_settings(&m);
	emit_groups(&m);
	emit_restores(&m);
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
