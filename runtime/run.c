/*
 * run.c - the execution engine of libftsrt: a training job runs a plan the
 * way finetuning-scheduler (FTS 2.14) drives a Lightning run.
 *
 * Stage: runtime (plan execution).  The engine reads only the decoded plan
 * view (struct rt_plan, plan.h).  It owns the parameter groups (their lrs,
 * initial_lrs and hyper-parameters), one ftsrt_optim over the job's arenas,
 * one lr scheduler (lrsched.h), the early-stopping and checkpoint state,
 * and an event queue.  References to fts-semantics.md are "7.6" etc.
 *
 * Epoch life cycle (Lightning's order):
 *   epoch start   should_transition (7.3) -> transition (7.4-7.10), final phase
 *   each batch    ftsrt_run_step: optimizer step, step-interval schedulers
 *   epoch end     FTSEarlyStopping (2), FTSCheckpoint (7.11, the best
 *                 checkpoint, taken before the epoch-interval scheduler
 *                 step as Lightning's on_validation_end is), epoch-interval
 *                 schedulers (ReduceLROnPlateau with the metric), then the
 *                 next epoch's start.
 *
 * Optimizer layout: the optimizer holds every untied manifest parameter in
 * manifest order, so its arenas are the job's arenas (zero copy); a
 * parameter outside every group is never stepped and has no state, as in
 * torch.  Our optimizers take groups only before their first step, so a
 * change of groups rebuilds the ftsrt_optim and carries each parameter's
 * state over (rt_optim_set_scalars + the slot arenas) unless FTS discards
 * it (new_optimizer, restore_best).  Each step is one ftsrt_optim_step_range
 * call (one parallel region) per maximal run of grouped parameters: one in
 * the usual back-to-front schedules.
 *
 * Deliberate differences from FTS, each where FTS crashes or misbehaves:
 *   - restore_best into an optimizer whose first step would fail on the
 *     checkpoint's groups or state (the plan's RSTR table, the outcome
 *     ftsc check reported as FTSC080) is refused with FTSRT_EFORMAT and
 *     check's message (FTS: KeyError inside the next optimizer step, 9.1);
 *     where FTS silently runs with the checkpoint's hyper-parameters
 *     (FTSC095), so does the run, and a warning event says which;
 *   - a transition with restore_best before any checkpoint exists is
 *     refused (FTS: KeyError, 9.5);
 *   - a scheduler state of another class is not merged into the current
 *     scheduler (FTS: torch's __dict__.update or KeyError, 9.2): a warning
 *     event says so and the current scheduler keeps its state;
 *   - when the scheduler knows more groups than the optimizer holds (torch
 *     zips them), the extra entries are dropped before it steps; when it
 *     knows fewer, the missing groups are added at their current lr.
 *
 * Ownership: the run borrows the plan view and the job's arenas; it owns
 * everything else, allocated through the run's allocator.  No global state.
 */
#include "run_int.h"
#include "mem.h"

#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lambda.h"
#include "lrsched.h"
#include "optim_int.h"
#include "sem.h"

#define MAX_NDIM 8
#define NEVENTS 64

enum { SRC_NONE, SRC_OLD, SRC_CKPT };           /* where a parameter's state comes from */
enum { POS_VALIDATED = 1, POS_EPOCH_DONE, POS_EPOCH_STARTED }; /* checkpoint positions */

struct param {
	size_t off;                     /* first element in the arenas */
	size_t numel;                   /* elements (scaled shape) */
	int ndim;                       /* dimensions */
	long shape[MAX_NDIM];           /* scaled shape */
	bool tied;                      /* an alias: no storage, never grouped */
	int oidx;                       /* optimizer tensor index, -1 when tied */
	int group;                      /* its parameter group, -1 when none */
	bool thawed;                    /* requires_grad */
	int src;                        /* state source at the next rebuild */
	const uint8_t *ck;              /* SRC_CKPT: its state record in r->img */
	void *bp, *bg;                  /* per-tensor binding, or NULL */
};

struct group {
	struct ftsrt_optim_hparams hp;  /* hyper-parameters (hp.lr unused: see sg.lr) */
	int *params;                    /* manifest indices, owned */
	int nparams;                    /* entries in params */
};

struct event {
	struct ftsrt_run_event ev;      /* public part; text points at buf */
	char buf[480];                  /* the text */
};

/* The pre-transition snapshot S of 7.4a. */
struct snapshot {
	uint8_t *state;                 /* scheduler state, or NULL */
	size_t len;                     /* bytes in state */
	double *lrs;                    /* every group's lr */
	int n;                          /* entries in lrs */
};

struct ftsrt_run {
	const struct rt_plan *plan;     /* borrowed */
	ftsrt_alloc_fn alloc;           /* never NULL */
	void *ud;                       /* allocator context */
	struct ftsrt_run_options opt;   /* copy (ckpt_dir points at ckdir) */
	char *ckdir;                    /* owned copy of opt.ckpt_dir */
	int ck_lock;                    /* the checkpoint directory's lock (fd), or -1 */
	char err[768];                  /* last error */
	size_t es;                      /* element size of the dtype */
	/* manifest */
	struct param *p;                /* plan->nparams entries */
	int np;                         /* parameters */
	size_t numel;                   /* elements of an arena */
	/* binding */
	void *ap, *ag;                  /* the arenas (job's or own) */
	bool tensor_mode;               /* per-tensor binding: ap/ag are ours */
	/* position */
	int depth;                      /* curr_depth */
	int max_depth;                  /* the last phase that runs */
	long epoch;                     /* current epoch */
	long batch;                     /* steps taken in this epoch */
	long global_step;               /* steps taken in the run */
	int stop;                       /* enum ftsrt_run_stop */
	/* optimizer */
	int opt_rec;                    /* class record of the current optimizer */
	int opt_kind;                   /* its enum ftsrt_optim_kind */
	int opt_phase;                  /* phase whose new_optimizer made it; 0 initial, -1 reinit_optim_cfg */
	struct ftsrt_optim_hparams def; /* its defaults */
	ftsrt_optim *o;                 /* the optimizer object, or NULL before the first rebuild */
	bool dirty;                     /* groups changed: rebuild before the next step */
	/* groups: identity, lr and initial_lr (NaN absent) in sg, as sem.c keeps
	 * them (the scheduler's rt_pg views sg.lr and sg.init); parameters and
	 * hyper-parameters in g, momentum/beta1 in mom */
	struct sem_groups sg;
	struct group *g;                /* ng groups */
	double *mom;
	int ng, gcap;                   /* groups (== sg.n), capacity of g and mom */
	/* scheduler */
	bool has_sched;                 /* a scheduler is configured */
	struct rt_sched s;              /* it */
	int sched_rec;                  /* its class record */
	bool sched_epoch;               /* interval epoch (else step) */
	bool have_metric;               /* a validation metric has been reported */
	double last_metric;             /* the latest one (Lightning's callback_metrics) */
	uint32_t sched_freq;            /* frequency */
	/* early stopping (2) */
	bool eto;                       /* epoch_transitions_only: no early stopping */
	struct rt_plan_es esc;          /* its configuration */
	double es_best;                 /* best_score, kept across phases */
	long wait;                      /* wait_count */
	bool phase_complete;            /* es_phase_complete */
	bool final_phase;               /* es.final_phase */
	/* checkpoints (7.11) */
	bool ckpt_on;                   /* best checkpoints are written */
	bool have_best;                 /* a best checkpoint exists */
	double ck_best;                 /* its monitor value */
	int best_depth;                 /* best_ckpt_depth */
	long best_epoch;                /* the epoch it was taken */
	uint8_t *best_mem;              /* memory mode: its image */
	size_t best_len;                /* bytes in best_mem */
	uint64_t plan_id;               /* rt_plan_identity of the plan: in every checkpoint */
	char plan_src[160];             /* where the plan came from (its first source file) */
	uint8_t *img;                   /* a checkpoint being restored */
	bool img_borrowed;              /* img is not the run's to free (a resume's snapshot) */
	bool broken;                    /* a failed resume could not be undone: refuse all */
	size_t img_len;                 /* bytes in img */
	rt_ckpt_hook_fn hook;           /* test hook */
	void *hook_ud;                  /* its context */
	/* events */
	struct event ev[NEVENTS];       /* ring */
	int ev_head, ev_n;              /* oldest, count */
	struct event ev_out;            /* the one last handed out */
};

/* --- memory and messages ---------------------------------------------------- */

static void *ralloc(ftsrt_run *r, size_t n)
{
	return r->alloc(r->ud, NULL, 0, n ? n : 1);
}

static void rfree(ftsrt_run *r, void *p, size_t n)
{
	if (p)
		r->alloc(r->ud, p, n ? n : 1, 0);
}

static int fail(ftsrt_run *r, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(ftsrt_run *r, int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(r->err, sizeof(r->err), fmt, ap);
	va_end(ap);
	return code;
}

static void event(ftsrt_run *r, int kind, int phase, int reason, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
static void event(ftsrt_run *r, int kind, int phase, int reason, const char *fmt, ...)
{
	if (r->ev_n == NEVENTS) {               /* full: drop the oldest */
		r->ev_head = (r->ev_head + 1) % NEVENTS;
		r->ev_n--;
	}
	struct event *e = &r->ev[(r->ev_head + r->ev_n) % NEVENTS];
	r->ev_n++;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(e->buf, sizeof(e->buf), fmt, ap);
	va_end(ap);
	e->ev.kind = kind;
	e->ev.epoch = r->epoch;
	e->ev.phase = phase;
	e->ev.reason = reason;
	e->ev.text = NULL;
}

/* "file:line" of phase i's schedule entry, or a placeholder. */
static const char *where(const ftsrt_run *r, int i, char *buf, size_t n)
{
	const struct rt_plan_phase *ph = &r->plan->phases[i];
	if (!ph->src_file || !ph->src_line)
		snprintf(buf, n, "phase %d (no source map)", i);
	else
		snprintf(buf, n, "%s:%u", ph->src_file, ph->src_line);
	return buf;
}

/* --- plan records ------------------------------------------------------------- */

/* The optimizer's kind and defaults (sem.c). */
static int optim_defaults(ftsrt_run *r, int rec, int *kind, struct ftsrt_optim_hparams *h)
{
	char err[256];
	int rc = sem_optim_config(&r->plan->classes[rec], kind, h, err, sizeof(err));
	return rc ? fail(r, rc, "%s", err) : FTSRT_OK;
}

/* --- groups ------------------------------------------------------------------- */

static void clear_groups(ftsrt_run *r)
{
	for (int i = 0; i < r->ng; i++)
		rfree(r, r->g[i].params, (size_t)r->g[i].nparams * sizeof(int));
	r->ng = 0;
	r->sg.n = 0;
	for (int i = 0; i < r->np; i++)
		r->p[i].group = -1;
	r->dirty = true;
}

/* Append a group of the n parameters idx (copied).  lr and initial_lr as given. */
static int add_group(ftsrt_run *r, const int *idx, int n, double lr, double init, int phase,
		     bool no_decay, const struct ftsrt_optim_hparams *hp)
{
	if (r->ng == r->gcap) {
		int cap = r->gcap ? 2 * r->gcap : 8;
		struct group *g = r->alloc(r->ud, r->g, (size_t)r->gcap * sizeof(*g), (size_t)cap * sizeof(*g));
		if (!g)
			return fail(r, FTSRT_ENOMEM, "out of memory");
		r->g = g;
		double *x = r->alloc(r->ud, r->mom, (size_t)r->gcap * sizeof(double), (size_t)cap * sizeof(double));
		if (!x)
			return fail(r, FTSRT_ENOMEM, "out of memory");
		r->mom = x;
		r->gcap = cap;
	}
	if (sem_groups_push(&r->sg, phase, no_decay, false, lr, SEM_KNOWN, init, SEM_KNOWN))
		return fail(r, FTSRT_ENOMEM, "out of memory");
	struct group *g = &r->g[r->ng];
	memset(g, 0, sizeof(*g));
	g->params = ralloc(r, (size_t)n * sizeof(int));
	if (!g->params) {
		r->sg.n--;
		return fail(r, FTSRT_ENOMEM, "out of memory");
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
	return sem_no_decay(r->plan, r->plan->params[i].name);
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
		int rc = add_group(r, idx, n, lr, init, phase, false, &r->def);
		*added = rc ? 0 : 1;
		return rc;
	}
	int *tmp = ralloc(r, (size_t)n * sizeof(int));
	if (!tmp)
		return fail(r, FTSRT_ENOMEM, "out of memory");
	int a = 0, b = 0;
	for (int i = 0; i < n; i++)
		if (!is_no_decay(r, idx[i]))
			tmp[a++] = idx[i];
	int rc = add_group(r, tmp, a, lr, init, phase, false, &r->def);
	for (int i = 0; i < n && !rc; i++)
		if (is_no_decay(r, idx[i]))
			tmp[b++] = idx[i];
	if (!rc)
		rc = add_group(r, tmp, b, lr, init, phase, true, &r->def);
	rfree(r, tmp, (size_t)n * sizeof(int));
	*added = rc ? 0 : 2;
	return rc;
}

/* Thawed, untied parameters of phase i outside every group, in registration order. */
static int candidates(ftsrt_run *r, int i, int **out, int *n)
{
	const struct rt_plan_phase *ph = &r->plan->phases[i];
	*out = ralloc(r, (size_t)ph->nparams * sizeof(int));
	if (!*out)
		return fail(r, FTSRT_ENOMEM, "out of memory");
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

static void thaw(ftsrt_run *r, int i)
{
	const struct rt_plan_phase *ph = &r->plan->phases[i];
	for (uint32_t m = 0; m < ph->nparams; m++)
		r->p[ph->params[m]].thawed = true;
}

/* --- scheduler ------------------------------------------------------------------ */

static struct rt_pg pgview(ftsrt_run *r)
{
	bool has_mom = r->ng > 0 && !isnan(r->mom[0]);
	struct rt_pg pg = {r->sg.lr, r->sg.init, has_mom ? r->mom : NULL, (size_t)r->ng};
	return pg;
}

/* torch zips base_lrs with param_groups: make the counts agree (see the header). */
static int sched_reconcile(ftsrt_run *r)
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
			return fail(r, rc, "lr scheduler: %s", rt_sched_errmsg(&r->s));
	}
	return FTSRT_OK;
}

static int sched_step(ftsrt_run *r, const double *metric)
{
	int rc = sched_reconcile(r);
	if (rc)
		return rc;
	double before[64];
	int nm = r->ng < 64 ? r->ng : 64;
	for (int i = 0; i < nm; i++)
		before[i] = r->mom[i];
	struct rt_pg pg = pgview(r);
	if (rt_sched_step(&r->s, &pg, metric))
		return fail(r, FTSRT_EINVAL, "lr scheduler step: %s", rt_sched_errmsg(&r->s));
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
static int sched_new(ftsrt_run *r, int rec)
{
	struct rt_sched_config cfg;
	struct sem_cfgstore *st = ralloc(r, sizeof(*st));
	if (!st)
		return fail(r, FTSRT_ENOMEM, "out of memory");
	memset(st, 0, sizeof(*st));
	char err[256];
	int rc = sem_sched_config(r->plan, rec, &cfg, st, err, sizeof(err));
	if (rc)
		rc = fail(r, rc, "%s", err);
	struct rt_sched ns;
	memset(&ns, 0, sizeof(ns));
	if (!rc) {
		struct rt_pg pg = pgview(r);
		int src = rt_sched_init(&ns, &cfg, &pg, (rt_sched_alloc_fn)r->alloc, r->ud);
		if (src) {
			rc = fail(r, src, "cannot construct %s: %s", r->plan->classes[rec].class_path,
				  rt_sched_errmsg(&ns));
			rt_sched_release(&ns);
		}
	}
	rfree(r, st, sizeof(*st));
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
static int sched_reinit(ftsrt_run *r, int rec)
{
	sem_reinit_lrs(&r->sg, &r->plan->classes[rec]);
	return sched_new(r, rec);
}

/* --- optimizer rebuild ----------------------------------------------------------- */

static int slot_copy_in(ftsrt_run *r, ftsrt_optim *o, int oidx, const char *name, const void *src,
			size_t n)
{
	void *dst = NULL;
	size_t dn = 0;
	if (ftsrt_optim_state(o, oidx, name, &dst, &dn, NULL) || !dst)
		return FTSRT_OK;                /* the slot is not live here: nothing to restore */
	if (dn != n)
		return fail(r, FTSRT_EFORMAT, "optimizer state '%s' has %zu elements, expected %zu", name,
			    n, dn);
	memcpy(dst, src, n * r->es);
	return FTSRT_OK;
}

/*
 * Parse one checkpoint state record into o for tensor oidx, slot by name.
 * A checkpoint written under another optimizer may lack a slot o keeps:
 * torch then finds the parameter's state empty (the optimizer that wrote it
 * kept none, SGD without momentum) and initialises it at the next step, so
 * the parameter is left without state; where torch would raise instead, the
 * plan's restore table has refused the restore before this point.
 */
static int import_ckpt_state(ftsrt_run *r, ftsrt_optim *o, int oidx, const uint8_t *rec)
{
	struct rt_rbuf b = {r->img, r->img_len, (size_t)(rec - r->img), false};
	double v[4];
	for (int k = 0; k < 4; k++)
		v[k] = rt_rbuf_f64(&b);
	uint32_t ns = rt_rbuf_u32(&b);
	int rc = rt_optim_set_scalars(o, oidx, v);
	unsigned filled = 0, live = 0;
	const char *sn;
	int shape;
	for (int s = 0; s < 32 && ftsrt_optim_kind_slot(r->opt_kind, s, &sn, &shape) == 0; s++) {
		void *d = NULL;
		size_t n = 0;
		if (shape != 0 && !ftsrt_optim_state(o, oidx, sn, &d, &n, NULL) && d)
			live |= 1u << s;
	}
	for (uint32_t s = 0; s < ns && !rc && !b.bad; s++) {
		char name[64];
		rt_rbuf_str(&b, name, sizeof(name));
		uint64_t n = (uint64_t)rt_rbuf_i64(&b);
		const void *d = n <= SIZE_MAX / r->es ? rt_rbuf_get(&b, (size_t)n * r->es) : NULL;
		if (!d)
			break;
		rc = slot_copy_in(r, o, oidx, name, d, (size_t)n);
		for (int k = 0; k < 32 && ftsrt_optim_kind_slot(r->opt_kind, k, &sn, &shape) == 0; k++)
			if (!strcmp(sn, name))
				filled |= 1u << k;
	}
	if (!rc && b.bad)
		rc = fail(r, FTSRT_EFORMAT, "checkpoint: truncated optimizer state");
	if (!rc && (live & ~filled) != 0)
		rc = rt_optim_clear_state(o, oidx);
	return rc;
}

/* Build a new ftsrt_optim from the groups, carrying state as each param's src says. */
static int rebuild(ftsrt_run *r)
{
	ftsrt_optim *o = NULL;
	int rc = ftsrt_optim_new_ex(&o, r->opt_kind, r->opt.dtype, r->alloc, r->ud);
	if (rc)
		return fail(r, rc, "cannot create the optimizer");
	ftsrt_optim_set_threads(o, r->opt.threads);
	ftsrt_optim_set_kernels(o, r->opt.kernels);
	for (int i = 0; i < r->ng && !rc; i++) {
		struct ftsrt_optim_hparams h = r->g[i].hp;
		h.lr = r->sg.lr[i];
		rc = ftsrt_optim_add_group(o, &h, NULL);
	}
	if (!rc && r->ng == 0)
		rc = ftsrt_optim_add_group(o, &r->def, NULL);
	bool need = false;
	for (int i = 0; i < r->np && !rc; i++) {
		struct param *p = &r->p[i];
		if (p->tied)
			continue;
		rc = ftsrt_optim_add_param(o, p->group >= 0 ? p->group : 0, p->ndim, p->shape, NULL);
		if (p->group >= 0 && ((p->src == SRC_OLD && r->o && rt_optim_has_state(r->o, p->oidx)) ||
				      p->src == SRC_CKPT))
			need = true;
	}
	if (rc) {
		rc = fail(r, rc, "optimizer %s: %s", ftsrt_optim_kind_name(r->opt_kind), ftsrt_optim_errmsg(o));
		ftsrt_optim_free(o);
		return rc;
	}
	if (need && (rc = rt_optim_alloc_state(o))) {
		ftsrt_optim_free(o);
		return fail(r, rc, "out of memory for optimizer state");
	}
	for (int i = 0; i < r->np && need && !rc; i++) {
		struct param *p = &r->p[i];
		if (p->tied || p->group < 0)
			continue;
		if (p->src == SRC_CKPT) {
			rc = import_ckpt_state(r, o, p->oidx, p->ck);
		} else if (p->src == SRC_OLD && r->o && rt_optim_has_state(r->o, p->oidx)) {
			double v[4];
			rt_optim_get_scalars(r->o, p->oidx, v);
			rc = rt_optim_set_scalars(o, p->oidx, v);
			const char *name;
			int shape;
			for (int s = 0; !rc && ftsrt_optim_kind_slot(r->opt_kind, s, &name, &shape) == 0; s++) {
				void *d = NULL;
				size_t n = 0;
				if (shape == 0 || ftsrt_optim_state(r->o, p->oidx, name, &d, &n, NULL) || !d)
					continue;
				rc = slot_copy_in(r, o, p->oidx, name, d, n);
			}
		}
	}
	if (rc) {
		ftsrt_optim_free(o);
		return rc;
	}
	ftsrt_optim_free(r->o);
	r->o = o;
	for (int i = 0; i < r->np; i++) {
		r->p[i].src = SRC_OLD;
		r->p[i].ck = NULL;
	}
	r->dirty = false;
	return FTSRT_OK;
}

static void drop_image(ftsrt_run *r)
{
	if (r->img && r->img != r->best_mem && !r->img_borrowed)
		rfree(r, r->img, r->img_len);
	r->img_borrowed = false;
	r->img = NULL;
	r->img_len = 0;
}

/* --- parameters' memory --------------------------------------------------------- */

static void *param_data(ftsrt_run *r, int i)
{
	struct param *p = &r->p[i];
	if (r->tensor_mode)
		return p->bp;
	return r->ap ? (char *)r->ap + p->off * r->es : NULL;
}

static bool bound(const ftsrt_run *r)
{
	if (!r->ap)
		return false;
	if (!r->tensor_mode)
		return true;
	for (int i = 0; i < r->np; i++)
		if (!r->p[i].tied && (!r->p[i].bp || !r->p[i].bg))
			return false;
	return true;
}

/* --- checkpoints ---------------------------------------------------------------- */

/* hyper-parameters as a fixed list of doubles (format v1 order) */
#define HP_D(X) X(lr) X(weight_decay) X(momentum) X(dampening) X(beta1) X(beta2) X(eps) X(eps1) \
	X(lr_decay) X(initial_accumulator_value) X(rho) X(momentum_decay) X(alpha) X(lambd) X(t0) \
	X(etaminus) X(etaplus) X(step_size_min) X(step_size_max) X(beta2_decay) X(d) X(ns_a) X(ns_b) X(ns_c)
#define HP_I(X) X(ns_steps) X(adjust_lr_fn) X(nesterov) X(maximize) X(amsgrad) \
	X(decoupled_weight_decay) X(centered) X(muon_bf16) X(muon_use_addmm)

static void hp_put(struct rt_wbuf *b, const struct ftsrt_optim_hparams *h)
{
#define PD(f) rt_wbuf_f64(b, h->f);
#define PI(f) rt_wbuf_i64(b, h->f);
	HP_D(PD) HP_I(PI)
#undef PD
#undef PI
}

static void hp_get(struct rt_rbuf *b, struct ftsrt_optim_hparams *h)
{
#define GD(f) h->f = rt_rbuf_f64(b);
#define GI(f) h->f = (int)rt_rbuf_i64(b);
	HP_D(GD) HP_I(GI)
#undef GD
#undef GI
}

/*
 * CHECKPOINT BODY (after the ckpt.h header; version 1, minor 1)
 *   str the plan's source (its first schedule file, or "a stripped plan"),
 *   u32 dtype, u32 nparams, i64 arena numel, i64 position, i64 epoch,
 *   i64 batch, i64 global_step, i64 depth, f64 metric (the latest
 *   validation metric; NaN in a mid-run save before the first),
 *   f64 es_best, i64 wait, u32 phase_complete, u32 final_phase, u32 stop,
 *   f64 ck_best, u32 have_best, i64 best_depth, i64 best_epoch,
 *   optimizer: u32 kind, i32 record, i32 phase, str class_path,
 *              str layout tag ("SGD:momentum_buffer"), hparams defaults,
 *   groups: u32 n, then per group i32 phase, u32 no_decay, f64 lr,
 *           f64 initial_lr, hparams, u32 nparams, i32 params[nparams],
 *   scheduler: u32 present, [i32 record, u32 kind, i64 len, bytes],
 *   parameters: i64 bytes, the arena (untied parameters in manifest order),
 *   optimizer state: u32 n, then per parameter i32 index, f64 step,
 *           f64 mu_product, f64 eta, f64 mu, u32 nslots, per slot str name,
 *           i64 elements, elements * dtype size bytes.
 */
static void layout_tag(int kind, char *buf, size_t n)
{
	const char *name;
	int shape;
	size_t k = (size_t)snprintf(buf, n, "%s:", ftsrt_optim_kind_name(kind));
	for (int s = 0; k < n && ftsrt_optim_kind_slot(kind, s, &name, &shape) == 0; s++)
		k += (size_t)snprintf(buf + k, n - k, "%s%s", s ? "," : "", name);
}

static int ckpt_build(ftsrt_run *r, int position, double metric, struct rt_wbuf *b)
{
	if (rt_wbuf_init(b, r->alloc, r->ud))
		return fail(r, FTSRT_ENOMEM, "out of memory");
	rt_wbuf_str(b, r->plan_src);
	rt_wbuf_u32(b, (uint32_t)r->opt.dtype);
	rt_wbuf_u32(b, (uint32_t)r->np);
	rt_wbuf_i64(b, (int64_t)r->numel);
	rt_wbuf_i64(b, position);
	rt_wbuf_i64(b, r->epoch);
	rt_wbuf_i64(b, r->batch);
	rt_wbuf_i64(b, r->global_step);
	rt_wbuf_i64(b, r->depth);
	rt_wbuf_f64(b, metric);
	rt_wbuf_f64(b, r->es_best);
	rt_wbuf_i64(b, r->wait);
	rt_wbuf_u32(b, r->phase_complete);
	rt_wbuf_u32(b, r->final_phase);
	rt_wbuf_u32(b, (uint32_t)r->stop);
	rt_wbuf_f64(b, r->ck_best);
	rt_wbuf_u32(b, r->have_best);
	rt_wbuf_i64(b, r->best_depth);
	rt_wbuf_i64(b, r->best_epoch);
	char tag[256];
	layout_tag(r->opt_kind, tag, sizeof(tag));
	rt_wbuf_u32(b, (uint32_t)r->opt_kind);
	rt_wbuf_u32(b, (uint32_t)r->opt_rec);
	rt_wbuf_u32(b, (uint32_t)r->opt_phase);
	rt_wbuf_str(b, r->plan->classes[r->opt_rec].class_path);
	rt_wbuf_str(b, tag);
	hp_put(b, &r->def);
	rt_wbuf_u32(b, (uint32_t)r->ng);
	for (int i = 0; i < r->ng; i++) {
		rt_wbuf_u32(b, (uint32_t)r->sg.phase[i]);
		rt_wbuf_u32(b, r->sg.no_decay[i]);
		rt_wbuf_f64(b, r->sg.lr[i]);
		rt_wbuf_f64(b, r->sg.init[i]);
		hp_put(b, &r->g[i].hp);
		rt_wbuf_u32(b, (uint32_t)r->g[i].nparams);
		for (int k = 0; k < r->g[i].nparams; k++)
			rt_wbuf_u32(b, (uint32_t)r->g[i].params[k]);
	}
	rt_wbuf_u32(b, r->has_sched);
	if (r->has_sched) {
		sched_reconcile(r);
		size_t n = rt_sched_state_size(&r->s);
		uint8_t *tmp = ralloc(r, n);
		if (!tmp || rt_sched_state_save(&r->s, tmp, n)) {
			rfree(r, tmp, n);
			rt_wbuf_release(b);
			return fail(r, FTSRT_ENOMEM, "cannot save the scheduler state");
		}
		rt_wbuf_u32(b, (uint32_t)r->sched_rec);
		rt_wbuf_u32(b, (uint32_t)r->s.kind);
		rt_wbuf_i64(b, (int64_t)n);
		rt_wbuf_put(b, tmp, n);
		rfree(r, tmp, n);
	}
	rt_wbuf_i64(b, (int64_t)(r->numel * r->es));
	for (int i = 0; i < r->np; i++)
		if (!r->p[i].tied)
			rt_wbuf_put(b, param_data(r, i), r->p[i].numel * r->es);
	uint32_t nst = 0;
	for (int i = 0; i < r->np; i++)
		if (!r->p[i].tied && r->p[i].group >= 0 && r->o && rt_optim_has_state(r->o, r->p[i].oidx))
			nst++;
	rt_wbuf_u32(b, nst);
	for (int i = 0; i < r->np && nst; i++) {
		struct param *p = &r->p[i];
		if (p->tied || p->group < 0 || !rt_optim_has_state(r->o, p->oidx))
			continue;
		double v[4];
		rt_optim_get_scalars(r->o, p->oidx, v);
		rt_wbuf_u32(b, (uint32_t)i);
		for (int k = 0; k < 4; k++)
			rt_wbuf_f64(b, v[k]);
		const char *name;
		int shape;
		uint32_t ns = 0;
		for (int s = 0; ftsrt_optim_kind_slot(r->opt_kind, s, &name, &shape) == 0; s++) {
			void *d;
			if (shape && !ftsrt_optim_state(r->o, p->oidx, name, &d, NULL, NULL) && d)
				ns++;
		}
		rt_wbuf_u32(b, ns);
		for (int s = 0; ftsrt_optim_kind_slot(r->opt_kind, s, &name, &shape) == 0; s++) {
			void *d = NULL;
			size_t n = 0;
			if (!shape || ftsrt_optim_state(r->o, p->oidx, name, &d, &n, NULL) || !d)
				continue;
			rt_wbuf_str(b, name);
			rt_wbuf_i64(b, (int64_t)n);
			rt_wbuf_put(b, d, n * r->es);
		}
	}
	if (rt_ckpt_seal(b, r->plan->manifest_hash, r->plan_id)) {
		rt_wbuf_release(b);
		return fail(r, FTSRT_ENOMEM, "out of memory writing a checkpoint");
	}
	return FTSRT_OK;
}

/* A parsed checkpoint (pointers into r->img). */
struct ckview {
	int64_t position, epoch, batch, global_step, depth;
	double metric, es_best, ck_best;
	int64_t wait, best_depth, best_epoch;
	bool phase_complete, final_phase, have_best;
	int stop;
	int kind, rec, phase;
	char class_path[160], tag[256];
	struct ftsrt_optim_hparams def;
	size_t groups_pos;              /* offset of the group table */
	int ng;
	bool has_sched;
	int sched_rec, sched_kind;
	const uint8_t *sched;
	size_t sched_len;
	const uint8_t *arena;           /* numel * es bytes */
	const uint8_t **st;             /* per parameter: its state record or NULL (owned) */
};

static int ck_parse(ftsrt_run *r, struct ckview *v)
{
	memset(v, 0, sizeof(*v));
	struct rt_rbuf b;
	uint64_t hash, id;
	int rc = rt_ckpt_open(r->img, r->img_len, &b, &hash, &id);
	if (rc)
		return fail(r, rc, "not a valid checkpoint (bad magic, version, size or CRC)");
	if (hash != r->plan->manifest_hash)
		return fail(r, FTSRT_EFORMAT, "checkpoint of another manifest (hash %016llx, plan %016llx)",
			    (unsigned long long)hash, (unsigned long long)r->plan->manifest_hash);
	if (id == 0)
		return fail(r, FTSRT_EFORMAT, "checkpoint of an older libftsrt, which did not record its plan; "
			    "it cannot be resumed");
	char src[160];
	rt_rbuf_str(&b, src, sizeof(src));
	if (id != r->plan_id)
		return fail(r, FTSRT_EFORMAT, "checkpoint of another plan: it was written by the plan %016llx "
			    "(from %s), this run executes the plan %016llx (from %s) -- same model, other "
			    "schedule or settings", (unsigned long long)id, src, (unsigned long long)r->plan_id,
			    r->plan_src);
	uint32_t dt = rt_rbuf_u32(&b), np = rt_rbuf_u32(&b);
	int64_t numel = rt_rbuf_i64(&b);
	if (dt != (uint32_t)r->opt.dtype || np != (uint32_t)r->np || numel != (int64_t)r->numel)
		return fail(r, FTSRT_EFORMAT, "checkpoint of another dtype or parameter layout");
	v->position = rt_rbuf_i64(&b);
	v->epoch = rt_rbuf_i64(&b);
	v->batch = rt_rbuf_i64(&b);
	v->global_step = rt_rbuf_i64(&b);
	v->depth = rt_rbuf_i64(&b);
	v->metric = rt_rbuf_f64(&b);
	v->es_best = rt_rbuf_f64(&b);
	v->wait = rt_rbuf_i64(&b);
	v->phase_complete = rt_rbuf_u32(&b);
	v->final_phase = rt_rbuf_u32(&b);
	v->stop = (int)rt_rbuf_u32(&b);
	v->ck_best = rt_rbuf_f64(&b);
	v->have_best = rt_rbuf_u32(&b);
	v->best_depth = rt_rbuf_i64(&b);
	v->best_epoch = rt_rbuf_i64(&b);
	v->kind = (int)rt_rbuf_u32(&b);
	v->rec = (int)rt_rbuf_u32(&b);
	v->phase = (int)rt_rbuf_u32(&b);
	rt_rbuf_str(&b, v->class_path, sizeof(v->class_path));
	rt_rbuf_str(&b, v->tag, sizeof(v->tag));
	hp_get(&b, &v->def);
	if (b.bad || v->depth < 0 || v->depth > r->max_depth || v->kind < 0 || v->kind >= FTSRT_OPTIM_NKINDS ||
	    v->rec < 0 || (uint32_t)v->rec >= r->plan->nclasses || v->stop < 0 || v->stop > FTSRT_STOP_DIVERGENCE ||
	    v->position < POS_VALIDATED || v->position > POS_EPOCH_STARTED)
		return fail(r, FTSRT_EFORMAT, "checkpoint: bad run state");
	v->groups_pos = b.pos;
	v->ng = (int)rt_rbuf_u32(&b);
	for (int i = 0; i < v->ng && !b.bad; i++) {
		struct ftsrt_optim_hparams h;
		rt_rbuf_u32(&b);
		rt_rbuf_u32(&b);
		rt_rbuf_f64(&b);
		rt_rbuf_f64(&b);
		hp_get(&b, &h);
		uint32_t n = rt_rbuf_u32(&b);
		for (uint32_t k = 0; k < n && !b.bad; k++)
			if (rt_rbuf_u32(&b) >= np)
				return fail(r, FTSRT_EFORMAT, "checkpoint: bad parameter index");
	}
	v->has_sched = rt_rbuf_u32(&b);
	if (v->has_sched) {
		v->sched_rec = (int)rt_rbuf_u32(&b);
		v->sched_kind = (int)rt_rbuf_u32(&b);
		int64_t n = rt_rbuf_i64(&b);
		v->sched_len = n >= 0 ? (size_t)n : 0;
		v->sched = rt_rbuf_get(&b, v->sched_len);
		if (v->sched_rec < 0 || (uint32_t)v->sched_rec >= r->plan->nclasses)
			b.bad = true;
	}
	if ((uint64_t)rt_rbuf_i64(&b) != (uint64_t)(r->numel * r->es))
		b.bad = true;
	v->arena = rt_rbuf_get(&b, r->numel * r->es);
	if (b.bad)
		return fail(r, FTSRT_EFORMAT, "checkpoint: truncated or inconsistent");
	v->st = ralloc(r, (size_t)r->np * sizeof(*v->st));
	if (!v->st)
		return fail(r, FTSRT_ENOMEM, "out of memory");
	memset(v->st, 0, (size_t)r->np * sizeof(*v->st));
	uint32_t nst = rt_rbuf_u32(&b);
	for (uint32_t k = 0; k < nst && !b.bad; k++) {
		uint32_t i = rt_rbuf_u32(&b);
		if (i >= np || r->p[i].tied) {
			b.bad = true;
			break;
		}
		v->st[i] = r->img + b.pos;
		for (int q = 0; q < 4; q++)
			rt_rbuf_f64(&b);
		uint32_t ns = rt_rbuf_u32(&b);
		for (uint32_t s = 0; s < ns && !b.bad; s++) {
			char name[64];
			rt_rbuf_str(&b, name, sizeof(name));
			int64_t n = rt_rbuf_i64(&b);
			if (n < 0 || (uint64_t)n > (uint64_t)r->numel)
				b.bad = true;
			else
				rt_rbuf_get(&b, (size_t)n * r->es);
		}
	}
	if (b.bad || b.pos != b.len) {
		rfree(r, v->st, (size_t)r->np * sizeof(*v->st));
		v->st = NULL;
		return fail(r, FTSRT_EFORMAT, "checkpoint: truncated or inconsistent optimizer state");
	}
	return FTSRT_OK;
}

static void ck_done(ftsrt_run *r, struct ckview *v)
{
	if (v->st)
		rfree(r, v->st, (size_t)r->np * sizeof(*v->st));
	v->st = NULL;
}

/* Replace the groups with the checkpoint's; keep_hp false takes the current defaults. */
/* The checkpoint's groups; their hyper-parameters are the checkpoint's
 * (hp NULL) or hp (weight_decay 0 in no_decay groups). */
static int ck_apply_groups(ftsrt_run *r, const struct ckview *v, const struct ftsrt_optim_hparams *hp)
{
	bool keep_hp = hp == NULL;
	clear_groups(r);
	struct rt_rbuf b = {r->img, r->img_len, v->groups_pos, false};
	int ng = (int)rt_rbuf_u32(&b);
	int rc = FTSRT_OK;
	for (int i = 0; i < ng && !rc; i++) {
		int phase = (int)rt_rbuf_u32(&b);
		bool nd = rt_rbuf_u32(&b);
		double lr = rt_rbuf_f64(&b), init = rt_rbuf_f64(&b);
		struct ftsrt_optim_hparams h;
		hp_get(&b, &h);
		uint32_t n = rt_rbuf_u32(&b);
		int *idx = ralloc(r, (size_t)n * sizeof(int));
		if (!idx)
			return fail(r, FTSRT_ENOMEM, "out of memory");
		for (uint32_t k = 0; k < n; k++)
			idx[k] = (int)rt_rbuf_u32(&b);
		rc = add_group(r, idx, (int)n, lr, init, phase, false, keep_hp ? &h : hp);
		if (!rc) {
			r->sg.no_decay[r->ng - 1] = nd;
			if (nd && !keep_hp)
				r->g[r->ng - 1].hp.weight_decay = 0;
		}
		rfree(r, idx, (size_t)n * sizeof(int));
	}
	return rc;
}

static void ck_apply_weights(ftsrt_run *r, const struct ckview *v)
{
	for (int i = 0; i < r->np; i++) {
		struct param *p = &r->p[i];
		if (!p->tied)
			memcpy(param_data(r, i), v->arena + p->off * r->es, p->numel * r->es);
	}
}

static int ck_path(ftsrt_run *r, const char *name, char *buf, size_t n)
{
	if ((size_t)snprintf(buf, n, "%s/%s", r->ckdir, name) >= n)
		return fail(r, FTSRT_EINVAL, "checkpoint directory name too long");
	return FTSRT_OK;
}

/* Write a checkpoint: best (memory or best.ftsckpt) or last (last.ftsckpt). */
static int ckpt_write(ftsrt_run *r, bool best, int position, double metric)
{
	if (!bound(r))
		return fail(r, FTSRT_EINVAL, "a checkpoint is due but the parameters are not bound");
	struct rt_wbuf b;
	int rc = ckpt_build(r, position, metric, &b);
	if (rc)
		return rc;
	char path[4096];
	if (best && !r->ckdir) {
		if (r->best_mem)
			rfree(r, r->best_mem, r->best_len);
		r->best_mem = b.p;              /* keep the image: ownership moves to the run */
		r->best_len = b.len;
		b.p = NULL;
		rt_wbuf_release(&b);
		event(r, FTSRT_EV_CKPT_SAVED, r->depth, 0, "best checkpoint (epoch %ld, phase %d) kept in memory",
		      r->epoch, r->depth);
		return FTSRT_OK;
	}
	rc = ck_path(r, best ? "best.ftsckpt" : "last.ftsckpt", path, sizeof(path));
	if (!rc) {
		char err[512];
		rc = rt_ckpt_write_file(path, b.p, b.len, r->hook, r->hook_ud, err, sizeof(err));
		if (rc)
			fail(r, rc, "%s", err);
		else
			event(r, FTSRT_EV_CKPT_SAVED, r->depth, 0, "%s", path);
	}
	rt_wbuf_release(&b);
	return rc;
}

/* Load the best checkpoint's image into r->img. */
static int load_best(ftsrt_run *r)
{
	drop_image(r);
	if (!r->ckdir) {
		if (!r->best_mem)
			return fail(r, FTSRT_EINVAL, "restore_best: the best checkpoint is not available "
						     "(memory checkpoints do not survive a resume; set a checkpoint directory)");
		r->img = r->best_mem;
		r->img_len = r->best_len;
		return FTSRT_OK;
	}
	char path[4096], err[512];
	int rc = ck_path(r, "best.ftsckpt", path, sizeof(path));
	if (rc)
		return rc;
	rc = rt_ckpt_read_file(path, r->alloc, r->ud, &r->img, &r->img_len, err, sizeof(err));
	return rc ? fail(r, rc, "restore_best: %s", err) : FTSRT_OK;
}

/* --- transitions ----------------------------------------------------------------- */

/*
 * restore_best_ckpt (7.5) at the transition to depth d.  What loading the
 * best checkpoint does to the optimizer in force is the plan's (RSTR,
 * compiler/restore.c): the first step fails (refused here with check's
 * message), or the restored groups run with hyper-parameters of the
 * checkpoint's optimizer (applied, and said), or nothing.  The state is
 * taken by slot name.
 */
static int restore_best(ftsrt_run *r, int d)
{
	if (!r->have_best)
		return fail(r, FTSRT_EINVAL, "restore_best: no checkpoint was saved before the transition to "
					     "phase %d at epoch %ld (FTS fails here with KeyError)", d, r->epoch);
	int rc = load_best(r);
	if (rc)
		return rc;
	struct ckview v;
	rc = ck_parse(r, &v);
	if (rc) {
		drop_image(r);
		return rc;
	}
	const struct rt_plan_restore *e = sem_new_optimizer(r->plan, d) < 0 && v.depth >= 0 && v.depth < d
		? sem_restore_find(r->plan, d, (int)v.depth) : NULL;
	if (e && e->kind == RT_RESTORE_FAILS) {
		rc = fail(r, FTSRT_EFORMAT, "%s", e->message);
		ck_done(r, &v);
		drop_image(r);
		return rc;
	}
	bool same = v.rec == r->opt_rec && v.phase == r->opt_phase;
	struct ftsrt_optim_hparams h = r->def;
	if (e)
		sem_hparams_apply(&h, e->overrides, e->noverrides);
	rc = ck_apply_groups(r, &v, same ? NULL : &h);
	for (int i = 0; i < r->np && !rc; i++) {
		r->p[i].src = v.st[i] && r->p[i].group >= 0 ? SRC_CKPT : SRC_NONE;
		r->p[i].ck = r->p[i].src == SRC_CKPT ? v.st[i] : NULL;
	}
	if (!rc)
		ck_apply_weights(r, &v);
	if (!rc && r->has_sched && v.has_sched) {
		if ((int)r->s.kind != v.sched_kind || rt_sched_state_load(&r->s, v.sched, v.sched_len))
			event(r, FTSRT_EV_WARNING, d, 0,
			      "restore_best: the checkpoint's %s state was not loaded into the current %s",
			      rt_sched_kind_name((enum rt_sched_kind)v.sched_kind), rt_sched_kind_name(r->s.kind));
	}
	ck_done(r, &v);
	if (!rc)
		event(r, FTSRT_EV_BEST_RESTORED, r->best_depth, 0,
		      "restored the best checkpoint (phase %d, epoch %ld)", r->best_depth, r->best_epoch);
	if (!rc && e)
		event(r, FTSRT_EV_WARNING, d, 0, "%s", e->message);
	return rc;
}

/* reinit_optimizer (7.9): a fresh optimizer over phase 0's groups, state discarded. */
static int reinit_optimizer(ftsrt_run *r, int rec, int d)
{
	int kind;
	struct ftsrt_optim_hparams h;
	int rc = optim_defaults(r, rec, &kind, &h);
	if (rc)
		return rc;
	clear_groups(r);
	r->opt_kind = kind;
	r->opt_rec = rec;
	r->opt_phase = r->plan->reinit_optimizer >= 0 ? -1 : d;
	r->def = h;
	for (int i = 0; i < r->np; i++) {
		r->p[i].src = SRC_NONE;
		r->p[i].ck = NULL;
	}
	int *idx, n, added;
	if ((rc = candidates(r, 0, &idx, &n)))
		return rc;
	rc = add_groups_split(r, idx, n, h.lr, h.lr, 0, sem_phase_ngroups(r->plan, 1) == 2, &added);
	rfree(r, idx, (size_t)r->plan->phases[0].nparams * sizeof(int));
	return rc;
}

/* add_optimizer_groups (7.7) for phase i. */
static int add_phase_groups(ftsrt_run *r, int i)
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
				rc = fail(r, FTSRT_EINVAL, "apply_lambdas_new_pgs: %s", rt_sched_errmsg(&r->s));
			else
				lr *= f;
		}
		if (!rc)
			rc = add_groups_split(r, idx, n, lr, lr, i, sem_phase_ngroups(r->plan, (size_t)n) == 2,
					      &added);
		for (int k = 0; k < added && !rc && r->has_sched; k++)
			if ((rc = rt_sched_add_group(&r->s, unscaled)))
				rc = fail(r, rc, "lr scheduler: %s", rt_sched_errmsg(&r->s));
	}
	rfree(r, idx, (size_t)r->plan->phases[i].nparams * sizeof(int));
	return rc;
}

/* _restore_latest_lr_state (7.8). */
static void restore_latest(ftsrt_run *r, const struct snapshot *S, int d)
{
	if (S->state && r->has_sched && rt_sched_state_load(&r->s, S->state, S->len))
		event(r, FTSRT_EV_WARNING, d, 0,
		      "the previous phase's lr scheduler state was not loaded into the current %s",
		      rt_sched_kind_name(r->s.kind));
	for (int k = 0; k < r->ng && k < S->n; k++)
		r->sg.lr[k] = S->lrs[k];
}

/* step_pg (7.6) for target depth d: the program sem.c makes of it. */
static int step_pg(ftsrt_run *r, int d, bool depth_sync, const struct snapshot *S)
{
	size_t cap = sem_max_ops(r->plan);
	struct sem_op *ops = ralloc(r, cap * sizeof(*ops));
	if (!ops)
		return fail(r, FTSRT_ENOMEM, "out of memory");
	size_t n = sem_transition(r->plan, d, depth_sync, r->best_depth, ops, cap);
	int rc = FTSRT_OK;
	for (size_t k = 0; k < n && !rc; k++) {
		const struct sem_op *op = &ops[k];
		switch ((enum sem_op_kind)op->kind) {
		case SEM_OP_THAW: thaw(r, op->phase); break;
		case SEM_OP_REINIT_OPTIMIZER: rc = reinit_optimizer(r, op->rec, d); break;
		case SEM_OP_ROLL_FORWARD: restore_latest(r, S, d); break;
		case SEM_OP_ADD_GROUPS: rc = add_phase_groups(r, op->phase); break;
		case SEM_OP_REINIT_SCHEDULER: rc = sched_reinit(r, op->rec); break;
		}
	}
	rfree(r, ops, cap * sizeof(*ops));
	return rc;
}

/* FinetuningScheduler.step (7.4.3): one transition, to curr_depth + 1. */
static int transition(ftsrt_run *r)
{
	int d = r->depth + 1;
	struct snapshot S = {NULL, 0, NULL, r->ng};
	int rc = FTSRT_OK;
	if (r->has_sched) {
		sched_reconcile(r);
		S.len = rt_sched_state_size(&r->s);
		S.state = ralloc(r, S.len);
		if (!S.state || rt_sched_state_save(&r->s, S.state, S.len))
			rc = fail(r, FTSRT_ENOMEM, "out of memory");
	}
	S.lrs = ralloc(r, (size_t)r->ng * sizeof(double));
	if (!S.lrs)
		rc = fail(r, FTSRT_ENOMEM, "out of memory");
	else if (r->ng)
		memcpy(S.lrs, r->sg.lr, (size_t)r->ng * sizeof(double));
	if (!rc && r->plan->restore_best)
		rc = restore_best(r, d);
	if (!rc) {
		r->depth = d;
		rc = step_pg(r, d, r->plan->restore_best, &S);
	}
	if (!rc)
		rc = rebuild(r);
	drop_image(r);
	rfree(r, S.state, S.len);
	rfree(r, S.lrs, (size_t)S.n * sizeof(double));
	if (rc)
		return rc;
	if (!r->eto && r->depth >= r->max_depth)
		r->final_phase = true;
	if (!r->eto) {
		r->phase_complete = false;
		r->wait = 0;
	}
	char w[300];
	event(r, FTSRT_EV_TRANSITION, d, 0, "phase %d starts at epoch %ld (%s)%s", d, r->epoch,
	      where(r, d, w, sizeof(w)), r->depth >= r->max_depth ? ", the final phase" : "");
	return FTSRT_OK;
}

/* should_transition (7.3). */
static bool should_transition(const ftsrt_run *r)
{
	bool remaining = r->depth < r->max_depth;
	int64_t m = remaining ? r->plan->phases[r->depth].mte : r->plan->max_epochs;
	bool by_epoch = m >= 0 && m <= r->epoch;
	if (r->eto)
		return remaining && by_epoch;
	return r->phase_complete || (!r->final_phase && by_epoch && remaining);
}

/* on_train_epoch_start (7.4). */
static int epoch_start(ftsrt_run *r)
{
	r->batch = 0;
	if (should_transition(r)) {
		int rc = transition(r);
		if (rc)
			return rc;
	}
	if (!r->eto && r->depth >= r->max_depth)
		r->final_phase = true;
	return FTSRT_OK;
}

static void finish(ftsrt_run *r, int reason, const char *why)
{
	r->stop = reason;
	event(r, FTSRT_EV_FINISHED, r->depth, reason, "training finished at epoch %ld in phase %d: %s",
	      r->epoch, r->depth, why);
}

/* FTSEarlyStopping._evaluate_stopping_criteria (2). */
static void es_check(ftsrt_run *r, double v)
{
	const struct rt_plan_es *es = &r->esc;
	bool mx = es->mode_max;
#define BETTER(a, b) (mx ? (a) > (b) : (a) < (b))
	double md = mx ? es->min_delta : -es->min_delta;
	if (es->check_finite && !isfinite(v)) {
		finish(r, FTSRT_STOP_NONFINITE, "the monitored metric is not finite");
	} else if (es->has_stopping_threshold && BETTER(v, es->stopping_threshold)) {
		finish(r, FTSRT_STOP_THRESHOLD, "stopping_threshold reached");
	} else if (es->has_divergence_threshold && BETTER(-v, -es->divergence_threshold)) {
		finish(r, FTSRT_STOP_DIVERGENCE, "divergence_threshold reached");
	} else if (BETTER(v - md, r->es_best)) {
		r->es_best = v;
		r->wait = 0;
	} else {
		r->wait++;
		if (r->wait >= es->patience) {
			if (r->final_phase) {
				finish(r, FTSRT_STOP_PATIENCE, "early stopping in the final phase");
			} else {
				r->phase_complete = true;
				r->wait = 0;
			}
		}
	}
#undef BETTER
}

/* --- construction ---------------------------------------------------------------- */

static int check_plan(const struct rt_plan *p, char *err, size_t n)
{
	if (!p || !p->params || p->nparams == 0 || !p->phases || p->nphases == 0 || !p->classes)
		return snprintf(err, n, "the plan has no parameters, phases or classes"), FTSRT_EINVAL;
	if (p->initial_optimizer < 0 || (uint32_t)p->initial_optimizer >= p->nclasses)
		return snprintf(err, n, "the plan has no initial optimizer"), FTSRT_EINVAL;
	if (p->max_depth < 0 || p->max_depth >= p->nphases)
		return snprintf(err, n, "max_depth %lld outside the schedule", (long long)p->max_depth),
		       FTSRT_EINVAL;
	if (p->nparams > (uint32_t)INT32_MAX / 2)
		return snprintf(err, n, "too many parameters"), FTSRT_EINVAL;
	if (sem_initial_ngroups(p) > 1 && !sem_initial_split(p))
		return snprintf(err, n, "the session's optimizer has %u parameter groups, a layout the runtime "
			       "cannot rebuild (it knows one group, or two split by no_decay)", p->phase0_groups),
		       FTSRT_EINVAL;
	for (uint32_t i = 0; i < p->nphases; i++)
		for (uint32_t k = 0; k < p->phases[i].nparams; k++)
			if (p->phases[i].params[k] >= p->nparams)
				return snprintf(err, n, "phase %u names parameter %u", i, p->phases[i].params[k]),
				       FTSRT_EINVAL;
	return FTSRT_OK;
}

FTSRT_API int ftsrt_run_options_default(struct ftsrt_run_options *o)
{
	if (!o)
		return FTSRT_EINVAL;
	memset(o, 0, sizeof(*o));
	o->dtype = FTSRT_F32;
	o->threads = 1;
	o->kernels = FTSRT_KERNELS_FAST;
	o->scale = 1.0;
	return FTSRT_OK;
}

int rt_run_new(ftsrt_run **out, const struct rt_plan *p, const struct ftsrt_run_options *opt,
	       char *err, size_t errlen)
{
	char e[512] = "";
	if (!out)
		return FTSRT_EINVAL;
	*out = NULL;
	struct ftsrt_run_options o;
	ftsrt_run_options_default(&o);
	if (opt)
		o = *opt;
	int rc = check_plan(p, e, sizeof(e));
	if (!rc && ((o.dtype != FTSRT_F32 && o.dtype != FTSRT_F64) || o.threads < 1 ||
		    !(o.scale > 0 && o.scale <= 1) || (o.save_last && !o.ckpt_dir)))
		rc = FTSRT_EINVAL, snprintf(e, sizeof(e), "bad run options");
	if (rc) {
		if (err && errlen)
			snprintf(err, errlen, "%s", e);
		return rc;
	}
	ftsrt_alloc_fn alloc = o.alloc ? o.alloc : rt_default_alloc;
	ftsrt_run *r = alloc(o.alloc_ud, NULL, 0, sizeof(*r));
	if (!r) {
		if (err && errlen)
			snprintf(err, errlen, "out of memory");
		return FTSRT_ENOMEM;
	}
	memset(r, 0, sizeof(*r));
	r->ck_lock = -1;
	r->plan = p;
	r->plan_id = rt_plan_identity(p);
	snprintf(r->plan_src, sizeof(r->plan_src), "%s", p->nsrc ? p->src[0].file
		 : p->nphases && p->phases[0].src_file ? p->phases[0].src_file : "a stripped plan");
	r->alloc = alloc;
	r->ud = o.alloc_ud;
	sem_groups_init(&r->sg, alloc, o.alloc_ud);
	r->opt = o;
	r->es = o.dtype == FTSRT_F64 ? sizeof(double) : sizeof(float);
	r->max_depth = (int)p->max_depth;
	r->best_depth = -1;
	r->best_epoch = -1;
	if (o.ckpt_dir) {
		size_t n = strlen(o.ckpt_dir) + 1;
		r->ckdir = ralloc(r, n);
		if (!r->ckdir) {
			rc = fail(r, FTSRT_ENOMEM, "out of memory");
			goto out_free;
		}
		memcpy(r->ckdir, o.ckpt_dir, n);
		/* one run per checkpoint directory */
		char why[600];
		int lrc = rt_ckpt_lock_dir(r->ckdir, &r->ck_lock, why, sizeof(why));
		if (lrc) {
			rc = fail(r, lrc, "%s", why);
			goto out_free;
		}
	}
	r->opt.ckpt_dir = r->ckdir;
	r->p = ralloc(r, (size_t)p->nparams * sizeof(*r->p));
	if (!r->p) {
		rc = fail(r, FTSRT_ENOMEM, "out of memory");
		goto out_free;
	}
	r->np = (int)p->nparams;
	memset(r->p, 0, (size_t)r->np * sizeof(*r->p));
	int oidx = 0;
	for (int i = 0; i < r->np; i++) {
		const struct rt_plan_param *pp = &p->params[i];
		struct param *q = &r->p[i];
		q->group = -1;
		q->oidx = -1;
		q->src = SRC_OLD;
		q->tied = pp->tied_to >= 0;
		if (pp->ndim > MAX_NDIM) {
			rc = fail(r, FTSRT_EINVAL, "parameter '%s' has %u dimensions (at most %d)", pp->name,
				  pp->ndim, MAX_NDIM);
			goto out_free;
		}
		q->ndim = (int)pp->ndim;
		size_t n = 1;
		for (uint32_t k = 0; k < pp->ndim; k++) {
			int64_t dim = pp->dims[k];
			if (o.scale < 1 && dim > 0) {
				dim = (int64_t)llround((double)dim * o.scale);
				dim = dim < 1 ? 1 : dim;
			}
			if (dim < 0 || (dim > 0 && n > SIZE_MAX / 64 / (size_t)dim)) {
				rc = fail(r, FTSRT_EINVAL, "parameter '%s' has a bad shape", pp->name);
				goto out_free;
			}
			q->shape[k] = (long)dim;
			n *= (size_t)dim;
		}
		if (q->tied)
			continue;
		q->numel = n;
		q->off = r->numel;
		q->oidx = oidx++;
		r->numel += n;
	}
	r->eto = p->epoch_transitions_only;
	r->esc = p->es;
	if (!r->eto && !p->es.present) {                /* FTS adds a default FTSEarlyStopping */
		memset(&r->esc, 0, sizeof(r->esc));
		r->esc.present = true;
		r->esc.patience = 3;
		r->esc.check_finite = true;
	}
	r->es_best = r->esc.mode_max ? -INFINITY : INFINITY;
	r->ck_best = p->ckpt.mode_max ? -INFINITY : INFINITY;
	r->ckpt_on = p->restore_best || r->ckdir;
	/* phase 0: the user's optimizer over phase 0 (7.1, 7.2), then the initial scheduler */
	int kind;
	if ((rc = optim_defaults(r, p->initial_optimizer, &kind, &r->def)))
		goto out_free;
	r->opt_kind = kind;
	r->opt_rec = p->initial_optimizer;
	r->opt_phase = 0;
	thaw(r, 0);
	int *idx, n, added;
	if ((rc = candidates(r, 0, &idx, &n)))
		goto out_free;
	rc = add_groups_split(r, idx, n, r->def.lr, NAN, 0, sem_initial_split(p), &added);
	rfree(r, idx, (size_t)p->phases[0].nparams * sizeof(int));
	if (!rc && p->initial_scheduler >= 0)
		rc = sched_new(r, p->initial_scheduler);
	if (!rc)
		rc = rebuild(r);
	if (!rc)
		rc = epoch_start(r);
	if (rc)
		goto out_free;
	*out = r;
	return FTSRT_OK;
out_free:
	if (err && errlen)
		snprintf(err, errlen, "%s", r->err);
	ftsrt_run_free(r);
	return rc;
}

FTSRT_API int ftsrt_run_new_ex(ftsrt_run **out, const ftsrt_plan *plan,
			       const struct ftsrt_run_options *opt, char *err, size_t errlen)
{
	if (!out || !plan) {
		if (out)
			*out = NULL;
		if (err && errlen)
			snprintf(err, errlen, "NULL plan");
		return FTSRT_EINVAL;
	}
	return rt_run_new(out, rt_plan_view(plan), opt, err, errlen);
}

FTSRT_API int ftsrt_run_new(ftsrt_run **out, const ftsrt_plan *plan, const struct ftsrt_run_options *opt)
{
	return ftsrt_run_new_ex(out, plan, opt, NULL, 0);
}

FTSRT_API void ftsrt_run_free(ftsrt_run *r)
{
	if (!r)
		return;
	drop_image(r);
	clear_groups(r);
	rfree(r, r->g, (size_t)r->gcap * sizeof(*r->g));
	rfree(r, r->mom, (size_t)r->gcap * sizeof(double));
	sem_groups_release(&r->sg);
	if (r->has_sched)
		rt_sched_release(&r->s);
	ftsrt_optim_free(r->o);
	if (r->tensor_mode) {
		rfree(r, r->ap, r->numel * r->es);
		rfree(r, r->ag, r->numel * r->es);
	}
	rfree(r, r->best_mem, r->best_len);
	rfree(r, r->p, (size_t)r->np * sizeof(*r->p));
	if (r->ckdir)
		rfree(r, r->ckdir, strlen(r->ckdir) + 1);
	rt_ckpt_unlock_dir(r->ck_lock);
	r->alloc(r->ud, r, sizeof(*r), 0);
}

void rt_run_set_ckpt_hook(ftsrt_run *r, rt_ckpt_hook_fn fn, void *ud)
{
	if (r) {
		r->hook = fn;
		r->hook_ud = ud;
	}
}

const struct rt_plan *rt_run_plan(const ftsrt_run *r)
{
	return r ? r->plan : NULL;
}

FTSRT_API const char *ftsrt_run_errmsg(const ftsrt_run *r)
{
	return r ? r->err : "no run";
}

/* --- binding --------------------------------------------------------------------- */

FTSRT_API int ftsrt_run_nparams(const ftsrt_run *r)
{
	return r ? r->np : FTSRT_EINVAL;
}

FTSRT_API int ftsrt_run_param_index(const ftsrt_run *r, const char *name)
{
	if (!r || !name)
		return FTSRT_EINVAL;
	for (int i = 0; i < r->np; i++)
		if (strcmp(r->plan->params[i].name, name) == 0)
			return i;
	return FTSRT_EINVAL;
}

FTSRT_API int ftsrt_run_param_offset(const ftsrt_run *r, int index, size_t *offset, size_t *numel)
{
	if (!r || index < 0 || index >= r->np || r->p[index].tied)
		return FTSRT_EINVAL;
	if (offset)
		*offset = r->p[index].off;
	if (numel)
		*numel = r->p[index].numel;
	return FTSRT_OK;
}

FTSRT_API size_t ftsrt_run_arena_numel(const ftsrt_run *r)
{
	return r ? r->numel : 0;
}

FTSRT_API int ftsrt_run_bind_arena(ftsrt_run *r, void *params, void *grads, size_t numel,
				   unsigned long long manifest_hash)
{
	if (!r)
		return FTSRT_EINVAL;
	if (!params || !grads)
		return fail(r, FTSRT_EINVAL, "NULL parameter or gradient arena");
	if (numel != r->numel)
		return fail(r, FTSRT_EINVAL, "the arena has %zu elements, the plan's parameters %zu", numel,
			    r->numel);
	if (manifest_hash && manifest_hash != r->plan->manifest_hash)
		return fail(r, FTSRT_EINVAL, "manifest hash %016llx is not the plan's %016llx", manifest_hash,
			    (unsigned long long)r->plan->manifest_hash);
	if (r->tensor_mode) {
		rfree(r, r->ap, r->numel * r->es);
		rfree(r, r->ag, r->numel * r->es);
		r->tensor_mode = false;
	}
	r->ap = params;
	r->ag = grads;
	return FTSRT_OK;
}

FTSRT_API int ftsrt_run_bind(ftsrt_run *r, const char *name, int index, void *param, void *grad, int ndim,
			     const long long *shape)
{
	if (!r)
		return FTSRT_EINVAL;
	int i = name ? ftsrt_run_param_index(r, name) : index;
	if (i < 0 || i >= r->np)
		return fail(r, FTSRT_EINVAL, "no parameter %s%s", name ? name : "at index ", name ? "" : "?");
	struct param *p = &r->p[i];
	if (p->tied)
		return fail(r, FTSRT_EINVAL, "'%s' is tied to another parameter: bind that one",
			    r->plan->params[i].name);
	if (!param || !grad || ndim != p->ndim || (ndim && !shape))
		return fail(r, FTSRT_EINVAL, "'%s': bad buffers or number of dimensions", r->plan->params[i].name);
	for (int k = 0; k < ndim; k++)
		if (shape[k] != p->shape[k])
			return fail(r, FTSRT_EINVAL, "'%s': dimension %d is %lld, the manifest says %ld",
				    r->plan->params[i].name, k, shape[k], p->shape[k]);
	if (!r->tensor_mode) {
		void *a = ralloc(r, r->numel * r->es), *g = ralloc(r, r->numel * r->es);
		if (!a || !g) {
			rfree(r, a, r->numel * r->es);
			rfree(r, g, r->numel * r->es);
			return fail(r, FTSRT_ENOMEM, "out of memory");
		}
		r->ap = a;
		r->ag = g;
		r->tensor_mode = true;
	}
	p->bp = param;
	p->bg = grad;
	return FTSRT_OK;
}

/* --- the loop -------------------------------------------------------------------- */

FTSRT_API int ftsrt_run_thawed(const ftsrt_run *r, int index)
{
	return r && index >= 0 && index < r->np && r->p[index].thawed;
}

FTSRT_API int ftsrt_run_step(ftsrt_run *r)
{
	if (!r)
		return FTSRT_EINVAL;
	if (r->broken)
		return fail(r, FTSRT_EINVAL, "the run is unusable after a failed resume could not be undone");
	if (r->stop)
		return fail(r, FTSRT_EINVAL, "the run has finished");
	if (!bound(r))
		return fail(r, FTSRT_EINVAL, "parameters and gradients are not (all) bound");
	int rc;
	if (r->dirty && (rc = rebuild(r)))
		return rc;
	for (int i = 0; i < r->ng; i++)
		if ((rc = ftsrt_optim_set_lr(r->o, i, r->sg.lr[i])))
			return fail(r, rc, "group %d: %s", i, ftsrt_optim_errmsg(r->o));
	if (r->tensor_mode)
		for (int i = 0; i < r->np; i++) {
			struct param *p = &r->p[i];
			if (p->tied || p->group < 0)
				continue;
			memcpy((char *)r->ap + p->off * r->es, p->bp, p->numel * r->es);
			memcpy((char *)r->ag + p->off * r->es, p->bg, p->numel * r->es);
		}
	for (int i = 0; i < r->np;) {
		if (r->p[i].tied || r->p[i].group < 0) {
			i++;
			continue;
		}
		size_t b = r->p[i].off, e = b;
		while (i < r->np && (r->p[i].tied || r->p[i].group >= 0)) {
			if (!r->p[i].tied)
				e = r->p[i].off + r->p[i].numel;
			i++;
		}
		if ((rc = ftsrt_optim_step_range(r->o, r->ap, r->ag, r->numel, b, e)))
			return fail(r, rc, "optimizer step: %s", ftsrt_optim_errmsg(r->o));
	}
	if (r->tensor_mode)
		for (int i = 0; i < r->np; i++) {
			struct param *p = &r->p[i];
			if (!p->tied && p->group >= 0)
				memcpy(p->bp, (char *)r->ap + p->off * r->es, p->numel * r->es);
		}
	r->batch++;
	r->global_step++;
	/* A step-interval ReduceLROnPlateau reads the latest validation metric,
	 * as Lightning reads callback_metrics; before the first validation it is
	 * skipped (Lightning's strict: false; strict: true raises there). */
	if (r->has_sched && !r->sched_epoch && r->batch % (long)r->sched_freq == 0) {
		if (r->s.kind != RT_SCHED_PLATEAU)
			return sched_step(r, NULL);
		if (r->have_metric)
			return sched_step(r, &r->last_metric);
	}
	return FTSRT_OK;
}

/* The epoch-interval scheduler step and what follows it. */
static int epoch_after_validation(ftsrt_run *r, double metric)
{
	int rc;
	if (r->has_sched && r->sched_epoch && (r->epoch + 1) % (long)r->sched_freq == 0 &&
	    (rc = sched_step(r, r->s.kind == RT_SCHED_PLATEAU ? &metric : NULL)))
		return rc;
	if (r->opt.save_last && (rc = ckpt_write(r, false, POS_EPOCH_DONE, metric)))
		return rc;
	return FTSRT_OK;
}

static int next_epoch(ftsrt_run *r)
{
	r->epoch++;
	if (r->stop)
		return FTSRT_OK;
	if (r->epoch >= r->plan->max_epochs) {
		r->epoch--;
		finish(r, FTSRT_STOP_MAX_EPOCHS, "max_epochs reached");
		r->epoch++;
		return FTSRT_OK;
	}
	return epoch_start(r);
}

FTSRT_API int ftsrt_run_epoch_end(ftsrt_run *r, double metric)
{
	if (!r)
		return FTSRT_EINVAL;
	if (r->broken)
		return fail(r, FTSRT_EINVAL, "the run is unusable after a failed resume could not be undone");
	if (r->stop)
		return fail(r, FTSRT_EINVAL, "the run has finished");
	if (!r->eto)
		es_check(r, metric);
	r->have_metric = true;
	r->last_metric = metric;
	/* FTSCheckpoint: the best path moves only on a strict improvement (7.11, #15) */
	bool mx = r->plan->ckpt.mode_max;
	double v = isfinite(metric) ? metric : (mx ? -INFINITY : INFINITY);
	bool improved = !r->have_best || (mx ? v > r->ck_best : v < r->ck_best);
	int rc;
	if (improved && r->plan->ckpt.save_top_k != 0) {
		r->have_best = true;
		r->ck_best = v;
		r->best_depth = r->depth;
		r->best_epoch = r->epoch;
		if (r->ckpt_on && (rc = ckpt_write(r, true, POS_VALIDATED, metric)))
			return rc;
	}
	if ((rc = epoch_after_validation(r, metric)))
		return rc;
	return next_epoch(r);
}

FTSRT_API int ftsrt_run_finished(const ftsrt_run *r)
{
	return r ? r->stop : FTSRT_STOP_NONE;
}

FTSRT_API int ftsrt_run_next_event(ftsrt_run *r, struct ftsrt_run_event *ev)
{
	if (!r || !ev || r->ev_n == 0)
		return 0;
	r->ev_out = r->ev[r->ev_head];
	r->ev_head = (r->ev_head + 1) % NEVENTS;
	r->ev_n--;
	*ev = r->ev_out.ev;
	ev->text = r->ev_out.buf;
	return 1;
}

FTSRT_API long ftsrt_run_epoch(const ftsrt_run *r)
{
	return r ? r->epoch : FTSRT_EINVAL;
}

FTSRT_API int ftsrt_run_phase(const ftsrt_run *r)
{
	return r ? r->depth : FTSRT_EINVAL;
}

FTSRT_API long ftsrt_run_global_step(const ftsrt_run *r)
{
	return r ? r->global_step : FTSRT_EINVAL;
}

FTSRT_API int ftsrt_run_ngroups(const ftsrt_run *r)
{
	return r ? r->ng : FTSRT_EINVAL;
}

FTSRT_API int ftsrt_run_group_hparams(const ftsrt_run *r, int g, struct ftsrt_optim_hparams *out)
{
	if (!r || !out || g < 0 || g >= r->ng)
		return FTSRT_EINVAL;
	*out = r->g[g].hp;
	out->lr = r->sg.lr[g];
	return FTSRT_OK;
}

FTSRT_API int ftsrt_run_group(const ftsrt_run *r, int g, struct ftsrt_run_group *out)
{
	if (!r || !out || g < 0 || g >= r->ng)
		return FTSRT_EINVAL;
	out->lr = r->sg.lr[g];
	out->initial_lr = r->sg.init[g];
	out->weight_decay = r->g[g].hp.weight_decay;
	out->phase = r->sg.phase[g];
	out->no_decay = r->sg.no_decay[g];
	out->nparams = r->g[g].nparams;
	out->params = r->g[g].params;
	return FTSRT_OK;
}

/* --- save and resume ------------------------------------------------------------- */

FTSRT_API int ftsrt_run_save(ftsrt_run *r, const char *path)
{
	if (!r || !path)
		return FTSRT_EINVAL;
	if (r->broken)
		return fail(r, FTSRT_EINVAL, "the run is unusable after a failed resume could not be undone");
	if (!bound(r))
		return fail(r, FTSRT_EINVAL, "parameters are not bound");
	struct rt_wbuf b;
	/* mid-run: the metric field carries the latest validation metric (NaN
	 * before the first), which a step-interval ReduceLROnPlateau reads */
	int rc = ckpt_build(r, POS_EPOCH_STARTED, r->have_metric ? r->last_metric : NAN, &b);
	if (rc)
		return rc;
	char err[512];
	rc = rt_ckpt_write_file(path, b.p, b.len, r->hook, r->hook_ud, err, sizeof(err));
	rt_wbuf_release(&b);
	return rc ? fail(r, rc, "%s", err) : FTSRT_OK;
}

/*
 * Apply the run-state image r->img (set by the caller; dropped here).  On
 * failure the run is left part-applied: the caller rolls it back.  cont:
 * carry on from the saved position (epoch-end processing); a rollback
 * does not.
 */
static int resume_image(ftsrt_run *r, bool cont)
{
	int rc;
	struct ckview v;
	if ((rc = ck_parse(r, &v))) {
		drop_image(r);
		return rc;
	}
	if (cont)
		r->ev_n = 0;
	r->epoch = v.epoch;
	r->batch = v.batch;
	r->global_step = v.global_step;
	r->depth = (int)v.depth;
	for (int i = 0; i < r->np; i++)
		r->p[i].thawed = false;
	for (int i = 0; i <= r->depth; i++)
		thaw(r, i);
	r->es_best = v.es_best;
	r->wait = v.wait;
	r->phase_complete = v.phase_complete;
	r->final_phase = v.final_phase;
	r->stop = v.stop;
	r->ck_best = v.ck_best;
	r->have_best = v.have_best;
	r->best_depth = (int)v.best_depth;
	r->best_epoch = v.best_epoch;
	int kind;
	struct ftsrt_optim_hparams h;
	if (!(rc = optim_defaults(r, v.rec, &kind, &h)) && kind != v.kind)
		rc = fail(r, FTSRT_EFORMAT, "checkpoint: optimizer record does not match its kind");
	if (!rc) {
		r->opt_kind = v.kind;
		r->opt_rec = v.rec;
		r->opt_phase = v.phase;
		r->def = v.def;
		rc = ck_apply_groups(r, &v, NULL);
	}
	for (int i = 0; i < r->np && !rc; i++) {
		r->p[i].src = v.st[i] && r->p[i].group >= 0 ? SRC_CKPT : SRC_NONE;
		r->p[i].ck = v.st[i];
	}
	if (!rc)
		ck_apply_weights(r, &v);
	if (!rc && v.has_sched) {
		/* construct on scratch lrs (the constructor writes them), then load the state */
		size_t n = (size_t)r->ng * sizeof(double);
		double *l = ralloc(r, n), *in = ralloc(r, n);
		if (!l || !in) {
			rc = fail(r, FTSRT_ENOMEM, "out of memory");
		} else {
			memcpy(l, r->sg.lr, n);
			memcpy(in, r->sg.init, n);
			rc = sched_new(r, v.sched_rec);
			memcpy(r->sg.lr, l, n);
			memcpy(r->sg.init, in, n);
			if (!rc && rt_sched_state_load(&r->s, v.sched, v.sched_len))
				rc = fail(r, FTSRT_EFORMAT, "checkpoint: scheduler state: %s", rt_sched_errmsg(&r->s));
		}
		rfree(r, l, n);
		rfree(r, in, n);
	} else if (!rc && r->has_sched) {
		rt_sched_release(&r->s);
		r->has_sched = false;
	}
	if (!rc)
		rc = rebuild(r);
	int64_t pos = v.position;
	double metric = v.metric;
	r->have_metric = pos != POS_EPOCH_STARTED || !isnan(metric);
	r->last_metric = metric;
	ck_done(r, &v);
	drop_image(r);
	if (rc || !cont)
		return rc;
	if (pos == POS_VALIDATED && (rc = epoch_after_validation(r, metric)))
		return rc;
	if (pos != POS_EPOCH_STARTED)
		return next_epoch(r);
	return FTSRT_OK;
}

/*
 * Resume from a checkpoint file.  A resume that fails leaves the run as it
 * was: its state is saved to memory first (as ftsrun_run_save would write
 * it) and put back on failure; should even that fail (out of memory), the
 * run refuses every later call rather than use a half-applied state.
 */
FTSRT_API int ftsrt_run_resume(ftsrt_run *r, const char *path)
{
	if (!r || !path)
		return FTSRT_EINVAL;
	if (r->broken)
		return fail(r, FTSRT_EINVAL, "the run is unusable after a failed resume could not be undone");
	if (!bound(r))
		return fail(r, FTSRT_EINVAL, "bind the parameters before resuming");
	drop_image(r);
	char err[512];
	uint8_t *img = NULL;
	size_t img_len = 0;
	int rc = rt_ckpt_read_file(path, r->alloc, r->ud, &img, &img_len, err, sizeof(err));
	if (rc)
		return fail(r, rc, "%s", err);
	struct rt_wbuf snap;
	rc = ckpt_build(r, POS_EPOCH_STARTED, r->have_metric ? r->last_metric : NAN, &snap);
	if (rc) {
		rfree(r, img, img_len);
		return rc;
	}
	r->img = img;
	r->img_len = img_len;
	rc = resume_image(r, true);
	if (rc) {
		char msg[sizeof(r->err)];
		snprintf(msg, sizeof(msg), "%s", r->err);
		bool hm = r->have_metric;
		double lm = r->last_metric;
		r->img = snap.p;
		r->img_len = snap.len;
		r->img_borrowed = true; /* the snapshot is the wbuf's, released below */
		int rb = resume_image(r, false);
		r->have_metric = hm;
		r->last_metric = lm;
		if (rb)
			r->broken = true;
		fail(r, rc, "%s%s", msg, rb ? " (and the run could not be put back: it is unusable)" : "");
	}
	rt_wbuf_release(&snap);
	return rc;
}
