/*
 * run_groups.c - the parameter groups of a run and what is built over
 * them: the optimizer's kind and defaults from the plan's class records,
 * the groups FTS forms (phase 0, add_optimizer_groups, reinit_optimizer),
 * the ftsrt_optim rebuilt over the groups with each parameter's state
 * carried over, and the lr scheduler (construction, reinit, stepping).
 *
 * Stage: runtime (plan execution).  The state machine (run.c) calls these
 * at construction and at each transition; references such as "7.7" are
 * to fts-semantics.md.  Ownership: the groups are the run's, allocated
 * through its allocator.
 */
#include "run_impl.h"

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* --- plan records ------------------------------------------------------------- */

/* The optimizer's kind and defaults (sem.c). */
int rt_run_optim_defaults(ftsrt_run *r, int rec, int *kind, struct ftsrt_optim_hparams *h)
{
	char err[256];
	int rc = sem_optim_config(&r->plan->classes[rec], kind, h, err, sizeof(err));
	return rc ? rt_run_fail(r, rc, "%s", err) : FTSRT_OK;
}

/* --- groups ------------------------------------------------------------------- */

void rt_run_clear_groups(ftsrt_run *r)
{
	for (int i = 0; i < r->ng; i++)
		rt_run_dealloc(r, r->g[i].params, (size_t)r->g[i].nparams * sizeof(int));
	r->ng = 0;
	r->sg.n = 0;
	for (int i = 0; i < r->np; i++)
		r->p[i].group = -1;
	r->dirty = true;
}

/* Append a group of the n parameters idx (copied).  lr and initial_lr as given. */
int rt_run_add_group(ftsrt_run *r, const int *idx, int n, double lr, double init, int phase,
		     bool no_decay, const struct ftsrt_optim_hparams *hp)
{
	if (r->ng == r->gcap) {
		int cap = r->gcap ? 2 * r->gcap : 8;
		struct rt_run_group *g = r->alloc(r->ud, r->g, (size_t)r->gcap * sizeof(*g), (size_t)cap * sizeof(*g));
		if (!g)
			return rt_run_fail(r, FTSRT_ENOMEM, "out of memory");
		r->g = g;
		double *x = r->alloc(r->ud, r->mom, (size_t)r->gcap * sizeof(double), (size_t)cap * sizeof(double));
		if (!x)
			return rt_run_fail(r, FTSRT_ENOMEM, "out of memory");
		r->mom = x;
		r->gcap = cap;
	}
	if (sem_groups_push(&r->sg, phase, no_decay, false, lr, SEM_KNOWN, init, SEM_KNOWN))
		return rt_run_fail(r, FTSRT_ENOMEM, "out of memory");
	struct rt_run_group *g = &r->g[r->ng];
	memset(g, 0, sizeof(*g));
	g->params = rt_run_alloc(r, (size_t)n * sizeof(int));
	if (!g->params) {
		r->sg.n--;
		return rt_run_fail(r, FTSRT_ENOMEM, "out of memory");
	}
	if (n)
		memcpy(g->params, idx, (size_t)n * sizeof(int));
	g->nparams = n;
	g->hp = *hp;
	if (no_decay)
		g->hp.weight_decay = 0.0;
	r->mom[r->ng] = sem_group_momentum(r->opt_kind, &g->hp);
	for (int i = 0; i < n; i++)
		r->p[idx[i]].group = r->ng;
	r->ng++;
	r->dirty = true;
	return FTSRT_OK;
}

static bool is_no_decay(const ftsrt_run *r, int i)
{
	return sem_no_decay(r->plan, rt_plan_param_name(r->plan, (uint32_t)i));
}

/*
 * Group the candidates idx[0..n) as FTS does (7.7): one group, or with
 * no_decay always two (decay first, then no_decay with weight_decay 0),
 * either possibly empty.  *added gets the number of groups.
 */
static int add_groups_split(ftsrt_run *r, int *idx, int n, double lr, double init, int phase,
			    bool split, int *added)
{
	*added = 0;
	if (!split) {
		int rc = rt_run_add_group(r, idx, n, lr, init, phase, false, &r->def);
		*added = rc ? 0 : 1;
		return rc;
	}
	int *tmp = rt_run_alloc(r, (size_t)n * sizeof(int));
	if (!tmp)
		return rt_run_fail(r, FTSRT_ENOMEM, "out of memory");
	int a = 0, b = 0;
	for (int i = 0; i < n; i++)
		if (!is_no_decay(r, idx[i]))
			tmp[a++] = idx[i];
	int rc = rt_run_add_group(r, tmp, a, lr, init, phase, false, &r->def);
	for (int i = 0; i < n && !rc; i++)
		if (is_no_decay(r, idx[i]))
			tmp[b++] = idx[i];
	if (!rc)
		rc = rt_run_add_group(r, tmp, b, lr, init, phase, true, &r->def);
	rt_run_dealloc(r, tmp, (size_t)n * sizeof(int));
	*added = rc ? 0 : 2;
	return rc;
}

/* Thawed, untied parameters of phase i outside every group, in registration order. */
static int candidates(ftsrt_run *r, int i, int **out, int *n)
{
	const struct rt_plan_phase *ph = &r->plan->phases[i];
	*out = rt_run_alloc(r, (size_t)ph->nparams * sizeof(int));
	if (!*out)
		return rt_run_fail(r, FTSRT_ENOMEM, "out of memory");
	int k = 0;
	/* registration order: manifest order, whatever order the phase lists */
	for (int j = 0; j < r->np; j++)
		for (uint32_t m = 0; m < ph->nparams; m++)
			if (ph->params[m] == (uint32_t)j && !r->p[j].tied && r->p[j].thawed &&
			    r->p[j].group < 0) {
				(*out)[k++] = j;
				break;
			}
	*n = k;
	return FTSRT_OK;
}

void rt_run_thaw(ftsrt_run *r, int i)
{
	const struct rt_plan_phase *ph = &r->plan->phases[i];
	for (uint32_t m = 0; m < ph->nparams; m++)
		r->p[ph->params[m]].thawed = true;
}

/* --- the groups FTS forms ------------------------------------------------------ */

/*
 * Phase 0 (7.1, 7.2): the user's optimizer (its defaults) over phase 0's
 * thawed parameters, one group or two split by no_decay as the session's
 * optimizer had them, then the initial scheduler.
 */
int rt_run_phase0(ftsrt_run *r)
{
	const struct rt_plan *p = r->plan;
	int kind;
	int rc = rt_run_optim_defaults(r, p->initial_optimizer, &kind, &r->def);
	if (rc)
		return rc;
	r->opt_kind = kind;
	r->opt_rec = p->initial_optimizer;
	r->opt_phase = 0;
	rt_run_thaw(r, 0);
	int *idx, n, added;
	if ((rc = candidates(r, 0, &idx, &n)))
		return rc;
	rc = add_groups_split(r, idx, n, r->def.lr, NAN, 0, sem_initial_split(p), &added);
	rt_run_dealloc(r, idx, (size_t)p->phases[0].nparams * sizeof(int));
	if (!rc && p->initial_scheduler >= 0)
		rc = rt_run_sched_new(r, p->initial_scheduler);
	return rc;
}

/* reinit_optimizer (7.9): a fresh optimizer over phase 0's groups, state discarded. */
int rt_run_reinit_optimizer(ftsrt_run *r, int rec, int d)
{
	int kind;
	struct ftsrt_optim_hparams h;
	int rc = rt_run_optim_defaults(r, rec, &kind, &h);
	if (rc)
		return rc;
	rt_run_clear_groups(r);
	r->opt_gen++;
	r->opt_kind = kind;
	r->opt_rec = rec;
	r->opt_phase = r->plan->reinit_optimizer >= 0 ? -1 : d;
	r->def = h;
	for (int i = 0; i < r->np; i++) {
		r->p[i].src = RT_SRC_NONE;
		r->p[i].ck = NULL;
	}
	int *idx, n, added;
	if ((rc = candidates(r, 0, &idx, &n)))
		return rc;
	rc = add_groups_split(r, idx, n, h.lr, h.lr, 0, sem_phase_ngroups(r->plan, 1) == 2, &added);
	rt_run_dealloc(r, idx, (size_t)r->plan->phases[0].nparams * sizeof(int));
	return rc;
}

/* add_optimizer_groups (7.7) for phase i. */
int rt_run_add_phase_groups(ftsrt_run *r, int i)
{
	int *idx, n, added = 0;
	int rc = candidates(r, i, &idx, &n);
	if (rc)
		return rc;
	if (sem_phase_ngroups(r->plan, (size_t)n) > 0) {
		double lr = sem_phase_lr(r->plan, i), unscaled = lr;
		if (r->plan->apply_lambdas_new_pgs && r->has_sched && rt_sched_has_lambdas(&r->s)) {
			double f;
			if (rt_sched_last_lambda(&r->s, &f))
				rc = rt_run_fail(r, FTSRT_EINVAL, "apply_lambdas_new_pgs: %s",
						 rt_sched_errmsg(&r->s));
			else
				lr *= f;
		}
		if (!rc)
			rc = add_groups_split(r, idx, n, lr, lr, i, sem_phase_ngroups(r->plan, (size_t)n) == 2,
					      &added);
		for (int k = 0; k < added && !rc && r->has_sched; k++)
			if ((rc = rt_sched_add_group(&r->s, unscaled)))
				rc = rt_run_fail(r, rc, "lr scheduler: %s", rt_sched_errmsg(&r->s));
	}
	rt_run_dealloc(r, idx, (size_t)r->plan->phases[i].nparams * sizeof(int));
	return rc;
}

/* --- scheduler ------------------------------------------------------------------ */

static struct rt_pg pgview(ftsrt_run *r)
{
	bool has_mom = r->ng > 0 && !isnan(r->mom[0]);
	struct rt_pg pg = {r->sg.lr, r->sg.init, has_mom ? r->mom : NULL, (size_t)r->ng};
	return pg;
}

/* torch zips base_lrs with param_groups: make the counts agree (see the header). */
int rt_run_sched_reconcile(ftsrt_run *r)
{
	if (!r->has_sched)
		return FTSRT_OK;
	if (r->s.ngroups > (size_t)r->ng && r->ng > 0) {
		r->s.ngroups = (size_t)r->ng;
		for (size_t i = 0; i < r->s.nchildren; i++)
			r->s.children[i].ngroups = (size_t)r->ng;
	}
	while (r->s.ngroups < (size_t)r->ng) {
		int rc = rt_sched_add_group(&r->s, r->sg.lr[r->s.ngroups]);
		if (rc)
			return rt_run_fail(r, rc, "lr scheduler: %s", rt_sched_errmsg(&r->s));
	}
	return FTSRT_OK;
}

int rt_run_sched_step(ftsrt_run *r, const double *metric)
{
	int rc = rt_run_sched_reconcile(r);
	if (rc)
		return rc;
	double before[64];
	int nm = r->ng < 64 ? r->ng : 64;
	for (int i = 0; i < nm; i++)
		before[i] = r->mom[i];
	struct rt_pg pg = pgview(r);
	if (rt_sched_step(&r->s, &pg, metric))
		return rt_run_fail(r, FTSRT_EINVAL, "lr scheduler step: %s", rt_sched_errmsg(&r->s));
	for (int i = 0; i < nm; i++)
		if (pg.momentum && r->mom[i] != before[i]) {
			if (isnan(sem_group_momentum(r->opt_kind, &r->g[i].hp)))
				continue;
			if (r->opt_kind == FTSRT_OPTIM_SGD || r->opt_kind == FTSRT_OPTIM_RMSPROP ||
			    r->opt_kind == FTSRT_OPTIM_MUON)
				r->g[i].hp.momentum = r->mom[i];
			else
				r->g[i].hp.beta1 = r->mom[i];
			r->dirty = true;
		}
	return FTSRT_OK;
}

/* Construct scheduler rec over the groups (replacing the current one). */
int rt_run_sched_new(ftsrt_run *r, int rec)
{
	struct rt_sched_config cfg;
	struct sem_cfgstore *st = rt_run_alloc(r, sizeof(*st));
	if (!st)
		return rt_run_fail(r, FTSRT_ENOMEM, "out of memory");
	memset(st, 0, sizeof(*st));
	char err[256];
	int rc = sem_sched_config(r->plan, rec, &cfg, st, err, sizeof(err));
	if (rc)
		rc = rt_run_fail(r, rc, "%s", err);
	struct rt_sched ns;
	memset(&ns, 0, sizeof(ns));
	if (!rc) {
		struct rt_pg pg = pgview(r);
		int src = rt_sched_init(&ns, &cfg, &pg, (rt_sched_alloc_fn)r->alloc, r->ud);
		if (src) {
			rc = rt_run_fail(r, src, "cannot construct %s: %s", r->plan->classes[rec].class_path,
					 rt_sched_errmsg(&ns));
			rt_sched_release(&ns);
		}
	}
	rt_run_dealloc(r, st, sizeof(*st));
	if (rc)
		return rc;
	if (r->has_sched)
		rt_sched_release(&r->s);
	r->s = ns;
	r->has_sched = true;
	r->sched_rec = rec;
	r->sched_epoch = r->plan->classes[rec].epoch_interval;
	r->sched_freq = r->plan->classes[rec].frequency ? r->plan->classes[rec].frequency : 1;
	return FTSRT_OK;
}

/* reinit_lr_scheduler (7.10): existing-group lr precedence, then construct. */
int rt_run_sched_reinit(ftsrt_run *r, int rec)
{
	sem_reinit_lrs(&r->sg, &r->plan->classes[rec]);
	return rt_run_sched_new(r, rec);
}

/* --- optimizer rebuild ----------------------------------------------------------- */

int rt_run_slot_copy_in(ftsrt_run *r, ftsrt_optim *o, int oidx, const char *name, const void *src,
			size_t n)
{
	void *dst = NULL;
	size_t dn = 0;
	if (ftsrt_optim_state(o, oidx, name, &dst, &dn, NULL, NULL) || !dst)
		return FTSRT_OK;                /* the slot is not live here: nothing to restore */
	if (dn != n)
		return rt_run_fail(r, FTSRT_EFORMAT, "optimizer state '%s' has %zu elements, expected %zu",
				   name, n, dn);
	memcpy(dst, src, n * r->ses);
	return FTSRT_OK;
}

/* Build a new ftsrt_optim from the groups, carrying state as each param's src says. */
int rt_run_rebuild(ftsrt_run *r)
{
	ftsrt_optim *o = NULL;
	ftsrt_error oe;
	/* an external run's optimizer holds the groups (their checks, as the
	 * job's optimizer's constructor runs them) and never steps: float32 */
	bool ext = r->opt.external;
	struct ftsrt_optim_options oo = {
		.struct_size = sizeof(oo),
		.alloc = r->alloc,
		.alloc_ud = r->ud,
		.threads = ext ? 1 : r->opt.threads,
		.kernels = r->opt.kernels,
		.precision = ext ? FTSRT_PRECISION_PARAM : r->opt.precision,
	};
	int rc = ftsrt_optim_new(&o, r->opt_kind, ext ? FTSRT_F32 : r->opt.dtype, &oo, &oe);
	if (rc)
		return rt_run_fail(r, rc, "cannot create the optimizer: %s", oe.message);
	for (int i = 0; i < r->ng && !rc; i++) {
		struct ftsrt_optim_hparams h = r->g[i].hp;
		h.lr = r->sg.lr[i];
		rc = rt_optim_add_group(o, &h, NULL);
	}
	if (!rc && r->ng == 0)
		rc = rt_optim_add_group(o, &r->def, NULL);
	if (rc)
		snprintf(oe.message, sizeof(oe.message), "%s", rt_optim_errmsg(o));
	bool need = false;
	for (int i = 0; i < r->np && !rc; i++) {
		struct rt_run_param *p = &r->p[i];
		if (p->tied)
			continue;
		rc = ftsrt_optim_add_param(o, p->group >= 0 ? p->group : 0, p->ndim, p->shape, NULL,
					   &oe);
		if (p->group >= 0 && ((p->src == RT_SRC_OLD && r->o && rt_optim_has_state(r->o, p->oidx)) ||
				      p->src == RT_SRC_CKPT))
			need = true;
	}
	/* a sharded run keeps the state of its slice only */
	if (!rc && !ext && r->shard_world > 1 && rt_optim_set_window(o, r->sb, r->se)) {
		snprintf(oe.message, sizeof(oe.message), "%s", rt_optim_errmsg(o));
		rc = FTSRT_EINVAL;
	}
	if (rc) {
		rc = rt_run_fail(r, rc, "optimizer %s: %s", ftsrt_optim_kind_name(r->opt_kind),
				 oe.message);
		ftsrt_optim_free(o);
		return rc;
	}
	if (need && (rc = rt_optim_alloc_state(o))) {
		ftsrt_optim_free(o);
		return rt_run_fail(r, rc, "out of memory for optimizer state");
	}
	for (int i = 0; i < r->np && need && !rc; i++) {
		struct rt_run_param *p = &r->p[i];
		if (p->tied || p->group < 0)
			continue;
		if (p->src == RT_SRC_CKPT) {
			rc = rt_run_import_state(r, o, p->oidx, p->ck);
		} else if (p->src == RT_SRC_OLD && r->o && rt_optim_has_state(r->o, p->oidx)) {
			double v[4];
			rt_optim_get_scalars(r->o, p->oidx, v);
			rc = rt_optim_set_scalars(o, p->oidx, v);
			const char *name;
			int32_t shape;
			for (int s = 0; !rc && ftsrt_optim_kind_slot(r->opt_kind, s, &name, &shape, NULL) == 0; s++) {
				void *d = NULL;
				size_t n = 0;
				if (shape == 0 || ftsrt_optim_state(r->o, p->oidx, name, &d, &n, NULL, NULL) || !d)
					continue;
				rc = rt_run_slot_copy_in(r, o, p->oidx, name, d, n);
			}
			void *m = NULL;         /* the master weights, beside FTSRT_PRECISION_MASTER */
			size_t n = 0;
			if (!rc && !ftsrt_optim_state(r->o, p->oidx, RT_MASTER_SLOT, &m, &n, NULL, NULL))
				rc = rt_run_slot_copy_in(r, o, p->oidx, RT_MASTER_SLOT, m, n);
		}
	}
	if (rc) {
		ftsrt_optim_free(o);
		return rc;
	}
	ftsrt_optim_free(r->o);
	r->o = o;
	for (int i = 0; i < r->np; i++) {
		r->p[i].src = RT_SRC_OLD;
		r->p[i].ck = NULL;
	}
	r->dirty = false;
	return FTSRT_OK;
}
