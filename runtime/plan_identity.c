/*
 * plan_identity.c - rt_plan_identity: what makes two plans the same run
 * (see plan.h).
 *
 * Stage: runtime (loading).  A hash over the decoded view, not over the
 * file's bytes: it covers everything that decides what a run does and
 * nothing that does not (the source map, the informational group table,
 * how the string table is laid out), so a checkpoint written under one
 * build of a schedule resumes under a rebuild of the same schedule.
 */
#include "plan.h"

#include <string.h>

#include "bytes.h"

struct fnv {
	uint64_t h;
};

static void fnv_bytes(struct fnv *f, const void *p, size_t n)
{
	const uint8_t *b = p;
	for (size_t i = 0; i < n; i++) {
		f->h ^= b[i];
		f->h *= 0x100000001b3ull;
	}
}

static void fnv_u64(struct fnv *f, uint64_t v)
{
	uint8_t b[8];
	rt_wr64(b, v);
	fnv_bytes(f, b, 8);
}

static void fnv_f64(struct fnv *f, double v)
{
	uint64_t u;
	memcpy(&u, &v, 8);
	fnv_u64(f, u);
}

static void fnv_str(struct fnv *f, const char *s)
{
	if (!s) {
		fnv_u64(f, UINT64_MAX);
		return;
	}
	size_t n = strlen(s);
	fnv_u64(f, n);
	fnv_bytes(f, s, n);
}

static void fnv_arg(struct fnv *f, const struct rt_plan_arg *a)
{
	fnv_str(f, a->name);
	fnv_u64(f, a->kind);
	fnv_u64(f, a->b);
	fnv_u64(f, (uint64_t)a->i);
	fnv_f64(f, a->kind == RT_ARG_FLOAT ? a->f : 0.0);
	fnv_str(f, a->kind == RT_ARG_STR ? a->s : NULL);
	fnv_u64(f, a->kind == RT_ARG_FLOATS ? a->n : 0);
	for (uint32_t k = 0; a->kind == RT_ARG_FLOATS && k < a->n; k++)
		fnv_f64(f, a->v[k]);
}

uint64_t rt_plan_identity(const struct rt_plan *v)
{
	struct fnv f = {0xcbf29ce484222325ull};
	fnv_str(&f, "ftsrt plan identity 1");
	fnv_u64(&f, v->manifest_hash);
	fnv_u64(&f, v->nparams);
	fnv_u64(&f, v->nphases);
	for (uint32_t i = 0; i < v->nphases; i++) {
		const struct rt_plan_phase *ph = &v->phases[i];
		fnv_u64(&f, (uint64_t)ph->index);
		fnv_u64(&f, (uint64_t)ph->mte);
		fnv_f64(&f, ph->lr);
		fnv_u64(&f, (uint64_t)(int64_t)ph->new_optimizer);
		fnv_u64(&f, (uint64_t)(int64_t)ph->new_lr_scheduler);
		fnv_u64(&f, ph->nparams);
		for (uint32_t k = 0; k < ph->nparams; k++)
			fnv_u64(&f, ph->params[k]);
	}
	fnv_u64(&f, v->nclasses);
	for (uint32_t i = 0; i < v->nclasses; i++) {
		const struct rt_plan_class *c = &v->classes[i];
		fnv_u64(&f, c->scheduler);
		fnv_str(&f, c->class_path);
		fnv_u64(&f, c->nargs);
		for (uint32_t k = 0; k < c->nargs; k++)
			fnv_arg(&f, &c->args[k]);
		fnv_u64(&f, c->nslots);
		for (uint32_t k = 0; k < c->nslots; k++)
			fnv_str(&f, c->state_slots[k]);
		fnv_u64(&f, c->epoch_interval);
		fnv_u64(&f, c->frequency);
		fnv_str(&f, c->monitor);
		fnv_u64(&f, (uint64_t)(int64_t)c->ninit_pg_lrs);
		for (int32_t k = 0; k < c->ninit_pg_lrs; k++)
			fnv_f64(&f, c->init_pg_lrs[k]);
		fnv_u64(&f, c->use_current);
		fnv_u64(&f, c->lambda_len);
		if (c->lambda_len)
			fnv_bytes(&f, c->lambda, c->lambda_len);
		fnv_u64(&f, c->nchildren);
		for (uint32_t k = 0; k < c->nchildren; k++)
			fnv_u64(&f, (uint64_t)(int64_t)c->children[k]);
		fnv_u64(&f, c->nmilestones);
		for (uint32_t k = 0; k < c->nmilestones; k++)
			fnv_u64(&f, (uint64_t)c->milestones[k]);
		fnv_u64(&f, c->state_at_construction);
		fnv_u64(&f, c->nreads);
		for (uint32_t k = 0; k < c->nreads; k++)
			fnv_str(&f, c->reads[k]);
		fnv_u64(&f, c->nsetstates);
		for (uint32_t k = 0; k < c->nsetstates; k++) {
			fnv_arg(&f, &c->setstates[k]);
			fnv_u64(&f, c->setstate_force[k]);
		}
	}
	fnv_u64(&f, (uint64_t)v->max_depth);
	fnv_u64(&f, (uint64_t)(int64_t)v->initial_optimizer);
	fnv_u64(&f, (uint64_t)(int64_t)v->initial_scheduler);
	fnv_u64(&f, (uint64_t)(int64_t)v->reinit_optimizer);
	fnv_u64(&f, (uint64_t)(int64_t)v->reinit_scheduler);
	fnv_u64(&f, ((uint64_t)v->restore_best << 2) | ((uint64_t)v->epoch_transitions_only << 1) |
		    v->apply_lambdas_new_pgs);
	fnv_u64(&f, (uint64_t)v->max_epochs);
	fnv_f64(&f, v->base_max_lr);
	fnv_u64(&f, v->nno_decay);
	for (uint32_t k = 0; k < v->nno_decay; k++)
		fnv_str(&f, v->no_decay[k]);
	fnv_u64(&f, v->phase0_groups);
	const struct rt_plan_es *es = &v->es;
	fnv_u64(&f, es->present);
	fnv_str(&f, es->present ? es->monitor : NULL);
	fnv_u64(&f, (uint64_t)es->patience);
	fnv_f64(&f, es->min_delta);
	fnv_u64(&f, ((uint64_t)es->mode_max << 3) | ((uint64_t)es->has_stopping_threshold << 2) |
		    ((uint64_t)es->has_divergence_threshold << 1) | es->check_finite);
	fnv_f64(&f, es->stopping_threshold);
	fnv_f64(&f, es->divergence_threshold);
	fnv_str(&f, v->ckpt.monitor);
	fnv_u64(&f, (uint64_t)v->ckpt.save_top_k);
	fnv_u64(&f, v->ckpt.mode_max);
	fnv_u64(&f, v->nrestores);
	for (uint32_t i = 0; i < v->nrestores; i++) {
		const struct rt_plan_restore *e = &v->restores[i];
		fnv_u64(&f, ((uint64_t)e->target << 32) | e->source);
		fnv_u64(&f, e->kind);
		fnv_u64(&f, e->noverrides);
		for (uint32_t k = 0; k < e->noverrides; k++)
			fnv_arg(&f, &e->overrides[k]);
	}
	return f.h;
}

