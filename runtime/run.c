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
 * External runs (opt.external): the job's own optimizer steps; the run
 * binds nothing, its ftsrt_optim holds the groups only (their checks, no
 * state, never stepped), ftsrt_run_step is the bookkeeping after the
 * optimizer step, and checkpoints hold no parameters (run_ckpt.c).  The
 * job mirrors the groups (ftsrt_run_group*) and the optimizer
 * (ftsrt_run_optimizer: its generation moves when it is replaced).
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
 * Files: this one is the state machine (construction, transitions,
 * restore_best, early stopping, the loop); run_groups.c forms the
 * parameter groups and builds the optimizer and the lr scheduler from the
 * plan's class records; run_ckpt.c writes and reads what a checkpoint
 * holds (the CHECKPOINT BODY), saves and resumes; run_bind.c binds the
 * parameters' memory.  They share struct ftsrt_run through run_impl.h.
 *
 * Ownership: the run borrows the plan view and the job's arenas; it owns
 * everything else, allocated through the run's allocator.  No global state.
 */
#include "run_impl.h"
#include "err.h"
#include "mem.h"

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* The pre-transition snapshot S of 7.4a. */
struct snapshot {
	uint8_t *state;                 /* scheduler state, or NULL */
	size_t len;                     /* bytes in state */
	double *lrs;                    /* every group's lr */
	int n;                          /* entries in lrs */
};

/* --- messages ---------------------------------------------------------------- */


void rt_run_event(ftsrt_run *r, int kind, int phase, int reason, const char *fmt, ...)
{
	if (r->ev_n == RT_RUN_NEVENTS) { /* full: drop the oldest */
		r->ev_head = (r->ev_head + 1) % RT_RUN_NEVENTS;
		r->ev_n--;
	}
	struct rt_run_ev *e = &r->ev[(r->ev_head + r->ev_n) % RT_RUN_NEVENTS];
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

int rt_run_check_usable(ftsrt_run *r)
{
	if (r->broken)
		return rt_run_fail(r, FTSRT_EINVAL,
				   "the run is unusable after a failed resume could not be undone");
	return FTSRT_OK;
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
		return rt_run_fail(r, FTSRT_EINVAL, "restore_best: no checkpoint was saved before the "
				   "transition to phase %d at epoch %ld (FTS fails here with KeyError)", d,
				   r->epoch);
	int rc = rt_run_load_best(r);
	if (rc)
		return rc;
	struct rt_ckview v;
	rc = rt_run_ckpt_parse(r, &v);
	if (rc) {
		rt_run_drop_image(r);
		return rc;
	}
	const struct rt_plan_restore *e = sem_new_optimizer(r->plan, d) < 0 && v.depth >= 0 && v.depth < d
		? sem_restore_find(r->plan, d, (int)v.depth) : NULL;
	if (e && e->kind == RT_RESTORE_FAILS) {
		rc = rt_run_fail(r, FTSRT_EFORMAT, "%s", e->message);
		rt_run_ckpt_done(r, &v);
		rt_run_drop_image(r);
		return rc;
	}
	bool same = v.rec == r->opt_rec && v.phase == r->opt_phase;
	struct ftsrt_optim_hparams h = r->def;
	if (e)
		sem_hparams_apply(&h, e->overrides, e->noverrides);
	rc = rt_run_ckpt_apply_groups(r, &v, same ? NULL : &h);
	for (int i = 0; i < r->np && !rc; i++) {
		r->p[i].src = v.st[i] && r->p[i].group >= 0 ? RT_SRC_CKPT : RT_SRC_NONE;
		r->p[i].ck = r->p[i].src == RT_SRC_CKPT ? v.st[i] : NULL;
	}
	if (!rc)
		rt_run_ckpt_apply_weights(r, &v);
	if (!rc && r->has_sched && v.has_sched) {
		if ((int)r->s.kind != v.sched_kind || rt_sched_state_load(&r->s, v.sched, v.sched_len))
			rt_run_event(r, FTSRT_EV_WARNING, d, 0,
				     "restore_best: the checkpoint's %s state was not loaded into the "
				     "current %s",
				     rt_sched_kind_name((enum rt_sched_kind)v.sched_kind),
				     rt_sched_kind_name(r->s.kind));
	}
	rt_run_ckpt_done(r, &v);
	if (!rc)
		rt_run_event(r, FTSRT_EV_BEST_RESTORED, r->best_depth, 0,
			     "restored the best checkpoint (phase %d, epoch %ld)", r->best_depth,
			     r->best_epoch);
	if (!rc && e)
		rt_run_event(r, FTSRT_EV_WARNING, d, 0, "%s", e->message);
	return rc;
}

/* _restore_latest_lr_state (7.8). */
static void restore_latest(ftsrt_run *r, const struct snapshot *S, int d)
{
	if (S->state && r->has_sched && rt_sched_state_load(&r->s, S->state, S->len))
		rt_run_event(r, FTSRT_EV_WARNING, d, 0,
			     "the previous phase's lr scheduler state was not loaded into the current %s",
			     rt_sched_kind_name(r->s.kind));
	for (int k = 0; k < r->ng && k < S->n; k++)
		r->sg.lr[k] = S->lrs[k];
}

/* step_pg (7.6) for target depth d: the program sem.c makes of it. */
static int step_pg(ftsrt_run *r, int d, bool depth_sync, const struct snapshot *S)
{
	size_t cap = sem_max_ops(r->plan);
	struct sem_op *ops = rt_run_alloc(r, cap * sizeof(*ops));
	if (!ops)
		return rt_run_fail(r, FTSRT_ENOMEM, "out of memory");
	size_t n = sem_transition(r->plan, d, depth_sync, r->best_depth, ops, cap);
	int rc = FTSRT_OK;
	for (size_t k = 0; k < n && !rc; k++) {
		const struct sem_op *op = &ops[k];
		switch ((enum sem_op_kind)op->kind) {
		case SEM_OP_THAW: rt_run_thaw(r, op->phase); break;
		case SEM_OP_REINIT_OPTIMIZER: rc = rt_run_reinit_optimizer(r, op->rec, d); break;
		case SEM_OP_ROLL_FORWARD: restore_latest(r, S, d); break;
		case SEM_OP_ADD_GROUPS: rc = rt_run_add_phase_groups(r, op->phase); break;
		case SEM_OP_REINIT_SCHEDULER: rc = rt_run_sched_reinit(r, op->rec); break;
		}
	}
	rt_run_dealloc(r, ops, cap * sizeof(*ops));
	return rc;
}

/* FinetuningScheduler.step (7.4.3): one transition, to curr_depth + 1. */
static int transition(ftsrt_run *r)
{
	int d = r->depth + 1;
	struct snapshot S = {NULL, 0, NULL, r->ng};
	int rc = FTSRT_OK;
	if (r->has_sched) {
		rt_run_sched_reconcile(r);
		S.len = rt_sched_state_size(&r->s);
		S.state = rt_run_alloc(r, S.len);
		if (!S.state || rt_sched_state_save(&r->s, S.state, S.len))
			rc = rt_run_fail(r, FTSRT_ENOMEM, "out of memory");
	}
	S.lrs = rt_run_alloc(r, (size_t)r->ng * sizeof(double));
	if (!S.lrs)
		rc = rt_run_fail(r, FTSRT_ENOMEM, "out of memory");
	else if (r->ng)
		memcpy(S.lrs, r->sg.lr, (size_t)r->ng * sizeof(double));
	if (!rc && r->plan->restore_best)
		rc = restore_best(r, d);
	if (!rc) {
		r->depth = d;
		rc = step_pg(r, d, r->plan->restore_best, &S);
	}
	if (!rc)
		rc = rt_run_rebuild(r);
	rt_run_drop_image(r);
	rt_run_dealloc(r, S.state, S.len);
	rt_run_dealloc(r, S.lrs, (size_t)S.n * sizeof(double));
	if (rc)
		return rc;
	if (!r->eto && r->depth >= r->max_depth)
		r->final_phase = true;
	if (!r->eto) {
		r->phase_complete = false;
		r->wait = 0;
	}
	char w[300];
	rt_run_event(r, FTSRT_EV_TRANSITION, d, 0, "phase %d starts at epoch %ld (%s)%s", d, r->epoch,
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
	rt_run_event(r, FTSRT_EV_FINISHED, r->depth, reason, "training finished at epoch %ld in phase %d: %s",
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

static const struct ftsrt_run_options default_options = {
	.struct_size = sizeof(struct ftsrt_run_options),
	.dtype = FTSRT_F32,
	.threads = 1,
	.kernels = FTSRT_KERNELS_FAST,
	.scale = 1.0,
};

FTSRT_API int ftsrt_run_options_default(struct ftsrt_run_options *o, ftsrt_error *err)
{
	if (!o)
		return rt_error(err, FTSRT_EINVAL, "ftsrt_run_options_default: NULL options");
	return rt_struct_out(o, &default_options, sizeof(default_options), "ftsrt_run_options", err);
}

/* Does any optimizer the plan may use step whole tensors (Adafactor, Muon)? */
static bool plan_tensorwise(ftsrt_run *r)
{
	const struct rt_plan *p = r->plan;
	for (uint32_t d = 0; d <= p->nphases; d++) {
		int rec = d == 0 ? p->initial_optimizer : d == p->nphases ? p->reinit_optimizer
			: p->phases[d].new_optimizer;
		int kind;
		struct ftsrt_optim_hparams h;
		char e[256];
		if (rec < 0 || (uint32_t)rec >= p->nclasses ||
		    sem_optim_config(&p->classes[rec], &kind, &h, e, sizeof(e)))
			continue;
		if (kind == FTSRT_OPTIM_ADAFACTOR || kind == FTSRT_OPTIM_MUON)
			return true;
	}
	return false;
}

/*
 * Cut k of the static partition (SHARDED RUNS in ftsrt.h): the element
 * nearest k/W of the arena, on a 64-byte multiple, or on the nearest
 * tensor boundary when whole tensors are needed.  Cuts never decrease.
 */
static size_t shard_cut(const ftsrt_run *r, int k, bool whole)
{
	if (k <= 0)
		return 0;
	if (k >= r->shard_world)
		return r->numel;
	long double x = (long double)r->numel * k / r->shard_world;
	size_t ideal = (size_t)(x + 0.5L);
	if (!whole) {
		size_t a = 64 / r->es;
		size_t c = (ideal + a / 2) / a * a;
		return c > r->numel ? r->numel : c;
	}
	size_t best = 0, bd = ideal;            /* boundary 0 */
	for (int i = 0; i < r->np; i++) {
		if (r->p[i].tied)
			continue;
		size_t b = r->p[i].off + r->p[i].numel;      /* the end of tensor i */
		size_t d = b > ideal ? b - ideal : ideal - b;
		if (d < bd) {
			bd = d;
			best = b;
		}
	}
	return best;
}

static void shard_range(ftsrt_run *r)
{
	if (r->shard_world <= 1) {
		r->sb = 0;
		r->se = r->numel;
		return;
	}
	/* the cuts are monotone in k (a rounding, or the nearest of sorted
	 * boundaries, of a monotone ideal): this rank's two are enough */
	bool whole = plan_tensorwise(r);
	r->sb = shard_cut(r, r->shard_rank, whole);
	r->se = shard_cut(r, r->shard_rank + 1, whole);
}

int rt_run_new(ftsrt_run **out, const struct rt_plan *p, const struct ftsrt_run_options *opt,
	       ftsrt_error *err)
{
	char e[512] = "";
	if (!out)
		return rt_error(err, FTSRT_EINVAL, "ftsrt_run_new: NULL out");
	*out = NULL;
	struct ftsrt_run_options o;
	int rc = rt_struct_in(&o, sizeof(o), opt, &default_options, "ftsrt_run_options", err);
	if (rc)
		return rc;
	/* zero means the default where zero is no value (FTSRT_INIT'd options) */
	if (o.threads == 0)
		o.threads = default_options.threads;
	if (o.scale == 0)
		o.scale = default_options.scale;
	rc = check_plan(p, e, sizeof(e));
	if (rc)
		return rt_report(err, rc, e);
	if (o.dtype < FTSRT_F32 || o.dtype > FTSRT_F16)
		return rt_error(err, FTSRT_EINVAL, "run options: no dtype %" PRId32, o.dtype);
	if (o.precision != FTSRT_PRECISION_PARAM && o.precision != FTSRT_PRECISION_MASTER)
		return rt_error(err, FTSRT_EINVAL, "run options: no precision %" PRId32, o.precision);
	if (o.precision == FTSRT_PRECISION_MASTER && o.dtype != FTSRT_BF16 && o.dtype != FTSRT_F16)
		return rt_error(err, FTSRT_EINVAL, "run options: precision %" PRId32 " (master weights) "
				"is for bfloat16 and float16 arenas", o.precision);
	if (o.threads < 1 || o.threads > 4096)
		return rt_error(err, FTSRT_EINVAL, "run options: threads %" PRId32 " outside 1..4096",
				o.threads);
	if (o.kernels != FTSRT_KERNELS_FAST && o.kernels != FTSRT_KERNELS_REF)
		return rt_error(err, FTSRT_EINVAL, "run options: no kernels %" PRId32, o.kernels);
	if (!(o.scale > 0 && o.scale <= 1))
		return rt_error(err, FTSRT_EINVAL, "run options: scale %g outside (0, 1]", o.scale);
	if (o.external && o.precision == FTSRT_PRECISION_MASTER)
		return rt_error(err, FTSRT_EINVAL, "run options: master weights (precision %" PRId32 ") "
				"are the job's own optimizer's in an external run", o.precision);
	if (o.save_last && !o.ckpt_dir)
		return rt_error(err, FTSRT_EINVAL, "run options: save_last needs a ckpt_dir");
	if (o.shard_world == 0)
		o.shard_world = 1;
	if (o.shard_world < 1 || o.shard_world > 1 << 20)
		return rt_error(err, FTSRT_EINVAL, "run options: shard_world %" PRId32 " outside 1..%d",
				o.shard_world, 1 << 20);
	if (o.shard_rank < 0 || o.shard_rank >= o.shard_world)
		return rt_error(err, FTSRT_EINVAL, "run options: shard_rank %" PRId32 " outside 0..%" PRId32,
				o.shard_rank, o.shard_world - 1);
	if (o.external && o.shard_world > 1)
		return rt_error(err, FTSRT_EINVAL, "run options: an external run keeps no optimizer state "
				"to shard (shard_world %" PRId32 "): the job's optimizer shards its own",
				o.shard_world);
	/* the names, decoded once: rt_plan_param_name cannot fail below */
	if (!rt_plan_names(p))
		return rt_error(err, FTSRT_ENOMEM, "out of memory (decoding the parameter names)");
	ftsrt_alloc_fn alloc = o.alloc ? o.alloc : rt_default_alloc;
	ftsrt_run *r = alloc(o.alloc_ud, NULL, 0, sizeof(*r));
	if (!r)
		return rt_error(err, FTSRT_ENOMEM, "out of memory");
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
	r->es = o.dtype == FTSRT_F64 ? sizeof(double) : o.dtype == FTSRT_F32 ? sizeof(float) : 2;
	r->ses = o.precision == FTSRT_PRECISION_MASTER ? sizeof(float) : r->es;
	r->max_depth = (int)p->max_depth;
	r->best_depth = -1;
	r->best_epoch = -1;
	r->shard_rank = o.shard_rank;
	r->shard_world = o.shard_world;
	if (o.ckpt_dir) {
		/* a sharded run's checkpoints: its own subdirectory, locked per rank */
		char sub[64] = "";
		if (o.shard_world > 1)
			snprintf(sub, sizeof(sub), "/shard-%" PRId32 "-of-%" PRId32, o.shard_rank, o.shard_world);
		size_t n = strlen(o.ckpt_dir) + strlen(sub) + 1;
		r->ckdir = rt_run_alloc(r, n);
		if (!r->ckdir) {
			rc = rt_run_fail(r, FTSRT_ENOMEM, "out of memory");
			goto out_free;
		}
		snprintf(r->ckdir, n, "%s%s", o.ckpt_dir, sub);
		if (*sub && mkdir(r->ckdir, 0777) != 0 && errno != EEXIST) {
			rc = rt_run_fail(r, FTSRT_EIO, "cannot create the shard's checkpoint directory %s: %s",
					 r->ckdir, strerror(errno));
			goto out_free;
		}
		/* one run per checkpoint directory */
		char why[600];
		int lrc = rt_ckpt_lock_dir(r->ckdir, &r->ck_lock, why, sizeof(why));
		if (lrc) {
			rc = rt_run_fail(r, lrc, "%s", why);
			goto out_free;
		}
	}
	r->opt.ckpt_dir = r->ckdir;
	r->p = rt_run_alloc(r, (size_t)p->nparams * sizeof(*r->p));
	if (!r->p) {
		rc = rt_run_fail(r, FTSRT_ENOMEM, "out of memory");
		goto out_free;
	}
	r->np = (int)p->nparams;
	memset(r->p, 0, (size_t)r->np * sizeof(*r->p));
	int oidx = 0;
	for (int i = 0; i < r->np; i++) {
		const struct rt_plan_param *pp = &p->params[i];
		const struct rt_plan_shape *sh = rt_plan_param_shape(p, (uint32_t)i);
		struct rt_run_param *q = &r->p[i];
		q->group = -1;
		q->oidx = -1;
		q->src = RT_SRC_OLD;
		q->tied = pp->tied_to >= 0;
		if (sh->ndim > RT_RUN_MAX_NDIM) {
			rc = rt_run_fail(r, FTSRT_EINVAL, "parameter '%s' has %u dimensions (at most %d)",
					 rt_plan_param_name(p, (uint32_t)i), sh->ndim, RT_RUN_MAX_NDIM);
			goto out_free;
		}
		q->ndim = (int)sh->ndim;
		size_t n = 1;
		for (uint32_t k = 0; k < sh->ndim; k++) {
			int64_t dim = sh->dims[k];
			if (o.scale < 1 && dim > 0) {
				dim = (int64_t)llround((double)dim * o.scale);
				dim = dim < 1 ? 1 : dim;
			}
			if (dim < 0 || (dim > 0 && n > SIZE_MAX / 64 / (size_t)dim)) {
				rc = rt_run_fail(r, FTSRT_EINVAL, "parameter '%s' has a bad shape",
						 rt_plan_param_name(p, (uint32_t)i));
				goto out_free;
			}
			q->shape[k] = dim;
			n *= (size_t)dim;
		}
		if (q->tied)
			continue;
		q->numel = n;
		q->off = r->numel;
		q->oidx = oidx++;
		r->numel += n;
	}
	shard_range(r);
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
	rc = rt_run_phase0(r);
	if (!rc)
		rc = rt_run_rebuild(r);
	if (!rc)
		rc = epoch_start(r);
	if (rc)
		goto out_free;
	*out = r;
	return FTSRT_OK;
out_free:
	rt_report(err, rc, r->err);
	ftsrt_run_free(r);
	return rc;
}

FTSRT_API int ftsrt_run_new(ftsrt_run **out, const ftsrt_plan *plan,
			    const struct ftsrt_run_options *opt, ftsrt_error *err)
{
	if (out)
		*out = NULL;
	if (!out || !plan)
		return rt_error(err, FTSRT_EINVAL, "ftsrt_run_new: NULL %s", out ? "plan" : "out");
	return rt_run_new(out, rt_plan_view(plan), opt, err);
}

FTSRT_API void ftsrt_run_free(ftsrt_run *r)
{
	if (!r)
		return;
	rt_run_drop_image(r);
	rt_run_clear_groups(r);
	rt_run_dealloc(r, r->g, (size_t)r->gcap * sizeof(*r->g));
	rt_run_dealloc(r, r->mom, (size_t)r->gcap * sizeof(double));
	sem_groups_release(&r->sg);
	if (r->has_sched)
		rt_sched_release(&r->s);
	ftsrt_optim_free(r->o);
	if (r->tensor_mode) {
		rt_run_dealloc(r, r->ap, r->numel * r->es);
		rt_run_dealloc(r, r->ag, r->numel * r->es);
	}
	rt_run_dealloc(r, r->best_mem, r->best_len);
	rt_run_dealloc(r, r->p, (size_t)r->np * sizeof(*r->p));
	if (r->ckdir)
		rt_run_dealloc(r, r->ckdir, strlen(r->ckdir) + 1);
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

const char *rt_run_errmsg(const ftsrt_run *r)
{
	return r ? r->err : "no run";
}

/* --- the loop -------------------------------------------------------------------- */

/* What a call that moves the run on needs: a usable, unfinished run. */
static int check_running(ftsrt_run *r)
{
	int rc = rt_run_check_usable(r);
	if (rc)
		return rc;
	if (r->stop)
		return rt_run_fail(r, FTSRT_EINVAL, "the run has finished");
	return FTSRT_OK;
}

FTSRT_API bool ftsrt_run_thawed(const ftsrt_run *r, int32_t index)
{
	return r && index >= 0 && index < r->np && r->p[index].thawed;
}

/* The optimizer step over the bound parameters (not in an external run). */
static int optim_step(ftsrt_run *r)
{
	int rc;
	ftsrt_error oe;
	for (int i = 0; i < r->ng; i++)
		if ((rc = ftsrt_optim_set_lr(r->o, i, r->sg.lr[i], &oe)))
			return rt_run_fail(r, rc, "group %d: %s", i, oe.message);
	if (r->tensor_mode)
		for (int i = 0; i < r->np; i++) {
			struct rt_run_param *p = &r->p[i];
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
		b = b > r->sb ? b : r->sb;      /* a sharded run steps its slice only */
		e = e < r->se ? e : r->se;
		if (r->shard_world > 1 && b >= e)
			continue;
		if ((rc = ftsrt_optim_step_range(r->o, r->ap, r->ag, r->numel, b, e, &oe)))
			return rt_run_fail(r, rc, "optimizer step: %s", oe.message);
	}
	if (r->tensor_mode)
		for (int i = 0; i < r->np; i++) {
			struct rt_run_param *p = &r->p[i];
			if (!p->tied && p->group >= 0)
				memcpy(p->bp, (char *)r->ap + p->off * r->es, p->numel * r->es);
		}
	return FTSRT_OK;
}

static int run_step(ftsrt_run *r)
{
	int rc = check_running(r);
	if (rc)
		return rc;
	if (!rt_run_bound(r))
		return rt_run_fail(r, FTSRT_EINVAL, "parameters and gradients are not (all) bound");
	if (r->dirty && (rc = rt_run_rebuild(r)))
		return rc;
	/* in an external run the job's optimizer has stepped: the bookkeeping only */
	if (!r->opt.external && (rc = optim_step(r)))
		return rc;
	r->batch++;
	r->global_step++;
	/* A step-interval ReduceLROnPlateau reads the latest validation metric,
	 * as Lightning reads callback_metrics; before the first validation it is
	 * skipped (Lightning's strict: false; strict: true raises there). */
	if (r->has_sched && !r->sched_epoch && r->batch % (long)r->sched_freq == 0) {
		if (r->s.kind != RT_SCHED_PLATEAU)
			return rt_run_sched_step(r, NULL);
		if (r->have_metric)
			return rt_run_sched_step(r, &r->last_metric);
	}
	return FTSRT_OK;
}

FTSRT_API int ftsrt_run_step(ftsrt_run *r, ftsrt_error *err)
{
	if (!r)
		return rt_error(err, FTSRT_EINVAL, "ftsrt_run_step: no run");
	return rt_report(err, run_step(r), r->err);
}

/* The epoch-interval scheduler step and what follows it. */
int rt_run_epoch_after_validation(ftsrt_run *r, double metric)
{
	int rc;
	if (r->has_sched && r->sched_epoch && (r->epoch + 1) % (long)r->sched_freq == 0 &&
	    (rc = rt_run_sched_step(r, r->s.kind == RT_SCHED_PLATEAU ? &metric : NULL)))
		return rc;
	if (r->opt.save_last && (rc = rt_run_ckpt_write(r, false, RT_POS_EPOCH_DONE, metric)))
		return rc;
	return FTSRT_OK;
}

int rt_run_next_epoch(ftsrt_run *r)
{
	r->epoch++;
	if (r->stop)
		return FTSRT_OK;
	if (r->plan->max_epochs >= 0 && r->epoch >= r->plan->max_epochs) {
		r->epoch--;
		finish(r, FTSRT_STOP_MAX_EPOCHS, "max_epochs reached");
		r->epoch++;
		return FTSRT_OK;
	}
	return epoch_start(r);
}

static int run_epoch_end(ftsrt_run *r, double metric)
{
	int rc = check_running(r);
	if (rc)
		return rc;
	if (!r->eto)
		es_check(r, metric);
	r->have_metric = true;
	r->last_metric = metric;
	/* FTSCheckpoint: the best path moves only on a strict improvement (7.11, #15) */
	bool mx = r->plan->ckpt.mode_max;
	double v = isfinite(metric) ? metric : (mx ? -INFINITY : INFINITY);
	bool improved = !r->have_best || (mx ? v > r->ck_best : v < r->ck_best);
	if (improved && r->plan->ckpt.save_top_k != 0) {
		r->have_best = true;
		r->ck_best = v;
		r->best_depth = r->depth;
		r->best_epoch = r->epoch;
		if (r->ckpt_on && (rc = rt_run_ckpt_write(r, true, RT_POS_VALIDATED, metric)))
			return rc;
	}
	if ((rc = rt_run_epoch_after_validation(r, metric)))
		return rc;
	return rt_run_next_epoch(r);
}

FTSRT_API int ftsrt_run_epoch_end(ftsrt_run *r, double metric, ftsrt_error *err)
{
	if (!r)
		return rt_error(err, FTSRT_EINVAL, "ftsrt_run_epoch_end: no run");
	return rt_report(err, run_epoch_end(r, metric), r->err);
}

FTSRT_API int ftsrt_run_shard_range(const ftsrt_run *r, size_t *begin, size_t *end,
				    ftsrt_error *err)
{
	if (!r || !begin || !end)
		return rt_error(err, FTSRT_EINVAL, "ftsrt_run_shard_range: NULL argument");
	*begin = r->sb;
	*end = r->se;
	return FTSRT_OK;
}

FTSRT_API size_t ftsrt_run_state_bytes(const ftsrt_run *r)
{
	return r && !r->opt.external ? rt_optim_state_bytes(r->o) : 0;
}

FTSRT_API int32_t ftsrt_run_finished(const ftsrt_run *r)
{
	return r ? r->stop : FTSRT_STOP_NONE;
}

FTSRT_API bool ftsrt_run_next_event(ftsrt_run *r, struct ftsrt_run_event *ev, ftsrt_error *err)
{
	if (!r || !ev) {
		rt_error(err, FTSRT_EINVAL, "ftsrt_run_next_event: NULL %s", r ? "event" : "run");
		return false;
	}
	if (r->ev_n == 0)
		return false;
	struct ftsrt_run_event e = r->ev[r->ev_head].ev;
	e.struct_size = sizeof(e);
	e.text = r->ev[r->ev_head].buf;
	if (rt_struct_out(ev, &e, sizeof(e), "ftsrt_run_event", err))
		return false;           /* a bad struct_size: the event stays queued */
	/* the text lives in ev_out until the next call on the run */
	r->ev_out = r->ev[r->ev_head];
	r->ev_head = (r->ev_head + 1) % RT_RUN_NEVENTS;
	r->ev_n--;
	if (ev->struct_size >= offsetof(struct ftsrt_run_event, text) + sizeof(ev->text))
		ev->text = r->ev_out.buf;
	return true;
}

FTSRT_API int64_t ftsrt_run_epoch(const ftsrt_run *r)
{
	return r ? r->epoch : -1;
}

FTSRT_API int32_t ftsrt_run_phase(const ftsrt_run *r)
{
	return r ? r->depth : -1;
}

FTSRT_API int64_t ftsrt_run_global_step(const ftsrt_run *r)
{
	return r ? r->global_step : -1;
}

FTSRT_API int32_t ftsrt_run_ngroups(const ftsrt_run *r)
{
	return r ? r->ng : 0;
}

static int group_index(const ftsrt_run *r, int32_t g, const void *out, ftsrt_error *err)
{
	if (!r || !out)
		return rt_error(err, FTSRT_EINVAL, "NULL run or output");
	if (g < 0 || g >= r->ng)
		return rt_error(err, FTSRT_EINVAL, "no group %" PRId32 " (the optimizer has %d)", g,
				r->ng);
	return FTSRT_OK;
}

FTSRT_API int ftsrt_run_group_hparams(const ftsrt_run *r, int32_t g,
				      struct ftsrt_optim_hparams *out, ftsrt_error *err)
{
	int rc = group_index(r, g, out, err);
	if (rc)
		return rc;
	struct ftsrt_optim_hparams h = r->g[g].hp;
	h.struct_size = sizeof(h);
	h.lr = r->sg.lr[g];
	return rt_struct_out(out, &h, sizeof(h), "ftsrt_optim_hparams", err);
}

FTSRT_API int ftsrt_run_optimizer(const ftsrt_run *r, struct ftsrt_run_optimizer *out,
				  ftsrt_error *err)
{
	if (!r || !out)
		return rt_error(err, FTSRT_EINVAL, "ftsrt_run_optimizer: NULL %s", r ? "output" : "run");
	struct ftsrt_run_optimizer v = {
		.struct_size = sizeof(v),
		.kind = r->opt_kind,
		.phase = r->opt_phase,
		.generation = r->opt_gen,
		.class_path = r->plan->classes[r->opt_rec].class_path,
	};
	return rt_struct_out(out, &v, sizeof(v), "ftsrt_run_optimizer", err);
}

FTSRT_API int ftsrt_run_group(const ftsrt_run *r, int32_t g, struct ftsrt_run_group *out,
			      ftsrt_error *err)
{
	int rc = group_index(r, g, out, err);
	if (rc)
		return rc;
	struct ftsrt_run_group v = {
		.struct_size = sizeof(v),
		.lr = r->sg.lr[g],
		.initial_lr = r->sg.init[g],
		.weight_decay = r->g[g].hp.weight_decay,
		.phase = r->sg.phase[g],
		.no_decay = r->sg.no_decay[g],
		.nparams = r->g[g].nparams,
		.params = r->g[g].params,
	};
	return rt_struct_out(out, &v, sizeof(v), "ftsrt_run_group", err);
}
