/*
 * run_ckpt.c - what a run's checkpoint holds: the CHECKPOINT BODY below
 * (written by ckpt_build, read by rt_run_ckpt_parse and applied to the
 * run), the best and last checkpoints (memory or files), and the public
 * save and resume.
 *
 * Stage: runtime (plan execution).  ckpt.c frames the body (header, CRC)
 * and writes files atomically; this file decides the bytes inside.  The
 * state machine (run.c) writes best and last checkpoints and restores the
 * best one at a transition (restore_best); a resume applies a whole image
 * here and carries on from its position.
 */
#include "run_impl.h"
#include "err.h"

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* --- the body: writing --------------------------------------------------------- */

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
	h->struct_size = sizeof(*h);
#define GD(f) h->f = rt_rbuf_f64(b);
#define GI(f) h->f = (int)rt_rbuf_i64(b);
	HP_D(GD) HP_I(GI)
#undef GD
#undef GI
}

/*
 * CHECKPOINT BODY (after the ckpt.h header; version 1, minor 1)
 *   str the plan's source (its first schedule file, or "a stripped plan"),
 *   u32 dtype (+ 256 * precision + 65536 in an external run), u32 nparams, i64 arena numel, i64 position, i64 epoch,
 *   i64 batch, i64 global_step, i64 depth, f64 metric (the latest
 *   validation metric; NaN in a mid-run save before the first),
 *   f64 es_best, i64 wait, u32 phase_complete, u32 final_phase, u32 stop,
 *   f64 ck_best, u32 have_best, i64 best_depth, i64 best_epoch,
 *   optimizer: u32 kind, i32 record, i32 phase, str class_path,
 *              str layout tag ("SGD:momentum_buffer"), hparams defaults,
 *   groups: u32 n, then per group i32 phase, u32 no_decay, f64 lr,
 *           f64 initial_lr, hparams, u32 nparams, i32 params[nparams],
 *   scheduler: u32 present, [i32 record, u32 kind, i64 len, bytes],
 *   parameters: i64 bytes, the arena (untied parameters in manifest order;
 *           0 bytes in an external run, whose optimizer state is empty too),
 *   optimizer state: u32 n, then per parameter i32 index, f64 step,
 *           f64 mu_product, f64 eta, f64 mu, u32 nslots, per slot str name,
 *           i64 elements, elements * state dtype size bytes (the dtype's,
 *           float32 beside master weights, which follow the slots as
 *           "master_param");
 *   a sharded run's (1.3) only: the shard trailer, u32 "SHRD" (0x44524853),
 *           u32 rank, u32 world size, i64 slice begin, i64 slice end (28
 *           bytes; its state records hold the elements inside the slice).
 *           An unsharded run writes none: its files are 1.2's.
 */
#define SHARD_MARK UINT32_C(0x44524853)
#define SHARD_TRAILER (4 + 4 + 4 + 8 + 8)
/* The dtype word: the arenas' dtype and, above it, the state's precision
 * and whether the run is external (its checkpoints hold no parameters). */
static uint32_t ckpt_dtype(const ftsrt_run *r)
{
	return (uint32_t)r->opt.dtype | (uint32_t)r->opt.precision << 8 |
	       (uint32_t)r->opt.external << 16;
}

/* Bytes of parameters a checkpoint holds: none in an external run. */
static size_t ckpt_arena_bytes(const ftsrt_run *r)
{
	return r->opt.external ? 0 : r->numel * r->es;
}

static void layout_tag(int kind, char *buf, size_t n)
{
	const char *name;
	int32_t shape;
	size_t k = (size_t)snprintf(buf, n, "%s:", ftsrt_optim_kind_name(kind));
	for (int s = 0; k < n && ftsrt_optim_kind_slot(kind, s, &name, &shape, NULL) == 0; s++)
		k += (size_t)snprintf(buf + k, n - k, "%s%s", s ? "," : "", name);
}

static int ckpt_build(ftsrt_run *r, int position, double metric, struct rt_wbuf *b)
{
	if (rt_wbuf_init(b, r->alloc, r->ud))
		return rt_run_fail(r, FTSRT_ENOMEM, "out of memory");
	rt_wbuf_str(b, r->plan_src);
	rt_wbuf_u32(b, ckpt_dtype(r));
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
		rt_run_sched_reconcile(r);
		size_t n = rt_sched_state_size(&r->s);
		uint8_t *tmp = rt_run_alloc(r, n);
		if (!tmp || rt_sched_state_save(&r->s, tmp, n)) {
			rt_run_dealloc(r, tmp, n);
			rt_wbuf_release(b);
			return rt_run_fail(r, FTSRT_ENOMEM, "cannot save the scheduler state");
		}
		rt_wbuf_u32(b, (uint32_t)r->sched_rec);
		rt_wbuf_u32(b, (uint32_t)r->s.kind);
		rt_wbuf_i64(b, (int64_t)n);
		rt_wbuf_put(b, tmp, n);
		rt_run_dealloc(r, tmp, n);
	}
	rt_wbuf_i64(b, (int64_t)ckpt_arena_bytes(r));
	for (int i = 0; i < r->np && !r->opt.external; i++)
		if (!r->p[i].tied)
			rt_wbuf_put(b, rt_run_param_data(r, i), r->p[i].numel * r->es);
	uint32_t nst = 0;
	for (int i = 0; i < r->np; i++)
		if (!r->p[i].tied && r->p[i].group >= 0 && r->o && rt_optim_has_state(r->o, r->p[i].oidx))
			nst++;
	rt_wbuf_u32(b, nst);
	for (int i = 0; i < r->np && nst; i++) {
		struct rt_run_param *p = &r->p[i];
		if (p->tied || p->group < 0 || !rt_optim_has_state(r->o, p->oidx))
			continue;
		double v[4];
		rt_optim_get_scalars(r->o, p->oidx, v);
		rt_wbuf_u32(b, (uint32_t)i);
		for (int k = 0; k < 4; k++)
			rt_wbuf_f64(b, v[k]);
		const char *name;
		int32_t shape;
		uint32_t ns = 0;
		void *m = NULL;
		size_t nm = 0;
		for (int s = 0; ftsrt_optim_kind_slot(r->opt_kind, s, &name, &shape, NULL) == 0; s++) {
			void *d;
			if (shape && !ftsrt_optim_state(r->o, p->oidx, name, &d, NULL, NULL, NULL) && d)
				ns++;
		}
		bool master = !ftsrt_optim_state(r->o, p->oidx, RT_MASTER_SLOT, &m, &nm, NULL, NULL);
		rt_wbuf_u32(b, ns + master);
		for (int s = 0; ftsrt_optim_kind_slot(r->opt_kind, s, &name, &shape, NULL) == 0; s++) {
			void *d = NULL;
			size_t n = 0;
			if (!shape || ftsrt_optim_state(r->o, p->oidx, name, &d, &n, NULL, NULL) || !d)
				continue;
			rt_wbuf_str(b, name);
			rt_wbuf_i64(b, (int64_t)n);
			rt_wbuf_put(b, d, n * r->ses);
		}
		if (master) {
			rt_wbuf_str(b, RT_MASTER_SLOT);
			rt_wbuf_i64(b, (int64_t)nm);
			rt_wbuf_put(b, m, nm * r->ses);
		}
	}
	if (r->shard_world > 1) {
		rt_wbuf_u32(b, SHARD_MARK);
		rt_wbuf_u32(b, (uint32_t)r->shard_rank);
		rt_wbuf_u32(b, (uint32_t)r->shard_world);
		rt_wbuf_i64(b, (int64_t)r->sb);
		rt_wbuf_i64(b, (int64_t)r->se);
	}
	if (rt_ckpt_seal(b, r->plan->manifest_hash, r->plan_id)) {
		rt_wbuf_release(b);
		return rt_run_fail(r, FTSRT_ENOMEM, "out of memory writing a checkpoint");
	}
	return FTSRT_OK;
}

/* --- the body: reading and applying --------------------------------------------- */

int rt_run_ckpt_parse(ftsrt_run *r, struct rt_ckview *v)
{
	memset(v, 0, sizeof(*v));
	struct rt_rbuf b;
	uint64_t hash, id;
	int rc = rt_ckpt_open(r->img, r->img_len, &b, &hash, &id);
	if (rc)
		return rt_run_fail(r, rc, "not a valid checkpoint (bad magic, version, size or CRC)");
	if (hash != r->plan->manifest_hash)
		return rt_run_fail(r, FTSRT_EFORMAT,
				   "checkpoint of another manifest (hash %016llx, plan %016llx)",
				   (unsigned long long)hash, (unsigned long long)r->plan->manifest_hash);
	if (id == 0)
		return rt_run_fail(r, FTSRT_EFORMAT,
				   "checkpoint of an older libftsrt, which did not record its plan; "
				   "it cannot be resumed");
	char src[160];
	rt_rbuf_str(&b, src, sizeof(src));
	if (id != r->plan_id)
		return rt_run_fail(r, FTSRT_EFORMAT,
				   "checkpoint of another plan: it was written by the plan %016llx "
				   "(from %s), this run executes the plan %016llx (from %s) -- same model, "
				   "other schedule or settings", (unsigned long long)id, src,
				   (unsigned long long)r->plan_id, r->plan_src);
	uint32_t dt = rt_rbuf_u32(&b), np = rt_rbuf_u32(&b);
	int64_t numel = rt_rbuf_i64(&b);
	if ((dt ^ ckpt_dtype(r)) >> 16 && np == (uint32_t)r->np && numel == (int64_t)r->numel)
		return rt_run_fail(r, FTSRT_EFORMAT, "checkpoint of %s run: it holds %s; this run %s",
				   dt >> 16 ? "an external" : "a native",
				   dt >> 16 ? "no parameters or optimizer state (the job's optimizer kept them)"
					    : "the parameters and libftsrt's optimizer state",
				   r->opt.external ? "is external (the job's optimizer steps)"
						   : "steps with libftsrt's optimizer");
	if (dt != ckpt_dtype(r) || np != (uint32_t)r->np || numel != (int64_t)r->numel)
		return rt_run_fail(r, FTSRT_EFORMAT, "checkpoint of another dtype or parameter layout");
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
	    v->position < RT_POS_VALIDATED || v->position > RT_POS_EPOCH_STARTED)
		return rt_run_fail(r, FTSRT_EFORMAT, "checkpoint: bad run state");
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
				return rt_run_fail(r, FTSRT_EFORMAT, "checkpoint: bad parameter index");
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
	if ((uint64_t)rt_rbuf_i64(&b) != (uint64_t)ckpt_arena_bytes(r))
		b.bad = true;
	v->arena = rt_rbuf_get(&b, ckpt_arena_bytes(r));
	if (b.bad)
		return rt_run_fail(r, FTSRT_EFORMAT, "checkpoint: truncated or inconsistent");
	v->st = rt_run_alloc(r, (size_t)r->np * sizeof(*v->st));
	if (!v->st)
		return rt_run_fail(r, FTSRT_ENOMEM, "out of memory");
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
				rt_rbuf_get(&b, (size_t)n * r->ses);
		}
	}
	uint32_t rank = 0, world = 1;
	int64_t sb = 0, se = (int64_t)r->numel;
	if (!b.bad && b.len - b.pos == SHARD_TRAILER) {
		if (rt_rbuf_u32(&b) != SHARD_MARK)
			b.bad = true;
		rank = rt_rbuf_u32(&b);
		world = rt_rbuf_u32(&b);
		sb = rt_rbuf_i64(&b);
		se = rt_rbuf_i64(&b);
		if (world < 2 || rank >= world)
			b.bad = true;
	}
	if (b.bad || b.pos != b.len) {
		rt_run_dealloc(r, v->st, (size_t)r->np * sizeof(*v->st));
		v->st = NULL;
		return rt_run_fail(r, FTSRT_EFORMAT, "checkpoint: truncated or inconsistent optimizer state");
	}
	const char *why = NULL;
	if (world != (uint32_t)r->shard_world)
		why = "its optimizer state is split by the world size: resume it with the world size that "
		      "wrote it (another world size is not supported)";
	else if (rank != (uint32_t)r->shard_rank)
		why = "each rank resumes its own shard's file";
	else if (sb != (int64_t)r->sb || se != (int64_t)r->se)
		why = "the partitions differ";
	if (why) {
		rt_run_dealloc(r, v->st, (size_t)r->np * sizeof(*v->st));
		v->st = NULL;
		char have[96], want[96];
		if (world > 1)
			snprintf(have, sizeof(have), "rank %u of a run sharded over %u ranks (elements [%lld, %lld))",
				 rank, world, (long long)sb, (long long)se);
		else
			snprintf(have, sizeof(have), "an unsharded run (world size 1)");
		if (r->shard_world > 1)
			snprintf(want, sizeof(want), "rank %d of %d (elements [%zu, %zu))", r->shard_rank,
				 r->shard_world, r->sb, r->se);
		else
			snprintf(want, sizeof(want), "unsharded (world size 1)");
		return rt_run_fail(r, FTSRT_EFORMAT, "checkpoint of %s; this run is %s: %s", have, want, why);
	}
	return FTSRT_OK;
}

void rt_run_ckpt_done(ftsrt_run *r, struct rt_ckview *v)
{
	if (v->st)
		rt_run_dealloc(r, v->st, (size_t)r->np * sizeof(*v->st));
	v->st = NULL;
}

/* Replace the groups with the checkpoint's; keep_hp false takes the current defaults. */
/* The checkpoint's groups; their hyper-parameters are the checkpoint's
 * (hp NULL) or hp (weight_decay 0 in no_decay groups). */
int rt_run_ckpt_apply_groups(ftsrt_run *r, const struct rt_ckview *v, const struct ftsrt_optim_hparams *hp)
{
	bool keep_hp = hp == NULL;
	rt_run_clear_groups(r);
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
		int *idx = rt_run_alloc(r, (size_t)n * sizeof(int));
		if (!idx)
			return rt_run_fail(r, FTSRT_ENOMEM, "out of memory");
		for (uint32_t k = 0; k < n; k++)
			idx[k] = (int)rt_rbuf_u32(&b);
		rc = rt_run_add_group(r, idx, (int)n, lr, init, phase, false, keep_hp ? &h : hp);
		if (!rc) {
			r->sg.no_decay[r->ng - 1] = nd;
			if (nd && !keep_hp)
				r->g[r->ng - 1].hp.weight_decay = 0;
		}
		rt_run_dealloc(r, idx, (size_t)n * sizeof(int));
	}
	return rc;
}

void rt_run_ckpt_apply_weights(ftsrt_run *r, const struct rt_ckview *v)
{
	for (int i = 0; i < r->np && !r->opt.external; i++) {
		struct rt_run_param *p = &r->p[i];
		if (!p->tied)
			memcpy(rt_run_param_data(r, i), v->arena + p->off * r->es, p->numel * r->es);
	}
}

/*
 * Parse one checkpoint state record into o for tensor oidx, slot by name.
 * A checkpoint written under another optimizer may lack a slot o keeps:
 * torch then finds the parameter's state empty (the optimizer that wrote it
 * kept none, SGD without momentum) and initialises it at the next step, so
 * the parameter is left without state; where torch would raise instead, the
 * plan's restore table has refused the restore before this point.
 */
int rt_run_import_state(ftsrt_run *r, ftsrt_optim *o, int oidx, const uint8_t *rec)
{
	struct rt_rbuf b = {r->img, r->img_len, (size_t)(rec - r->img), false};
	double v[4];
	for (int k = 0; k < 4; k++)
		v[k] = rt_rbuf_f64(&b);
	uint32_t ns = rt_rbuf_u32(&b);
	int rc = rt_optim_set_scalars(o, oidx, v);
	unsigned filled = 0, live = 0;
	const char *sn;
	int32_t shape;
	for (int s = 0; s < 32 && ftsrt_optim_kind_slot(r->opt_kind, s, &sn, &shape, NULL) == 0; s++) {
		void *d = NULL;
		size_t n = 0;
		if (shape != 0 && !ftsrt_optim_state(o, oidx, sn, &d, &n, NULL, NULL) && d)
			live |= 1u << s;
	}
	for (uint32_t s = 0; s < ns && !rc && !b.bad; s++) {
		char name[64];
		rt_rbuf_str(&b, name, sizeof(name));
		uint64_t n = (uint64_t)rt_rbuf_i64(&b);
		const void *d = n <= SIZE_MAX / r->ses ? rt_rbuf_get(&b, (size_t)n * r->ses) : NULL;
		if (!d)
			break;
		rc = rt_run_slot_copy_in(r, o, oidx, name, d, (size_t)n);
		for (int k = 0; k < 32 && ftsrt_optim_kind_slot(r->opt_kind, k, &sn, &shape, NULL) == 0; k++)
			if (!strcmp(sn, name))
				filled |= 1u << k;
	}
	if (!rc && b.bad)
		rc = rt_run_fail(r, FTSRT_EFORMAT, "checkpoint: truncated optimizer state");
	if (!rc && (live & ~filled) != 0)
		rc = rt_optim_clear_state(o, oidx);
	return rc;
}

/* --- best and last checkpoints ---------------------------------------------------- */

static int ck_path(ftsrt_run *r, const char *name, char *buf, size_t n)
{
	if ((size_t)snprintf(buf, n, "%s/%s", r->ckdir, name) >= n)
		return rt_run_fail(r, FTSRT_EINVAL, "checkpoint directory name too long");
	return FTSRT_OK;
}

/* Write a checkpoint: best (memory or best.ftsckpt) or last (last.ftsckpt). */
int rt_run_ckpt_write(ftsrt_run *r, bool best, int position, double metric)
{
	if (!rt_run_bound(r))
		return rt_run_fail(r, FTSRT_EINVAL, "a checkpoint is due but the parameters are not bound");
	struct rt_wbuf b;
	int rc = ckpt_build(r, position, metric, &b);
	if (rc)
		return rc;
	char path[4096];
	if (best && !r->ckdir) {
		if (r->best_mem)
			rt_run_dealloc(r, r->best_mem, r->best_len);
		r->best_mem = b.p;              /* keep the image: ownership moves to the run */
		r->best_len = b.len;
		b.p = NULL;
		rt_wbuf_release(&b);
		rt_run_event(r, FTSRT_EV_CKPT_SAVED, r->depth, 0,
			     "best checkpoint (epoch %ld, phase %d) kept in memory", r->epoch, r->depth);
		return FTSRT_OK;
	}
	rc = ck_path(r, best ? "best.ftsckpt" : "last.ftsckpt", path, sizeof(path));
	if (!rc) {
		char err[512];
		rc = rt_ckpt_write_file(path, b.p, b.len, r->hook, r->hook_ud, err, sizeof(err));
		if (rc)
			rt_run_fail(r, rc, "%s", err);
		else
			rt_run_event(r, FTSRT_EV_CKPT_SAVED, r->depth,
				     best ? FTSRT_CKPT_BEST : FTSRT_CKPT_LAST, "%s", path);
	}
	rt_wbuf_release(&b);
	return rc;
}

/* Release r->img unless it is the memory best checkpoint or borrowed. */
void rt_run_drop_image(ftsrt_run *r)
{
	if (r->img && r->img != r->best_mem && !r->img_borrowed)
		rt_run_dealloc(r, r->img, r->img_len);
	r->img_borrowed = false;
	r->img = NULL;
	r->img_len = 0;
}

/* Load the best checkpoint's image into r->img. */
int rt_run_load_best(ftsrt_run *r)
{
	rt_run_drop_image(r);
	if (!r->ckdir) {
		if (!r->best_mem)
			return rt_run_fail(r, FTSRT_EINVAL, "restore_best: the best checkpoint is not "
					   "available (memory checkpoints do not survive a resume; set a "
					   "checkpoint directory)");
		r->img = r->best_mem;
		r->img_len = r->best_len;
		return FTSRT_OK;
	}
	char path[4096], err[512];
	int rc = ck_path(r, "best.ftsckpt", path, sizeof(path));
	if (rc)
		return rc;
	rc = rt_ckpt_read_file(path, r->alloc, r->ud, &r->img, &r->img_len, err, sizeof(err));
	return rc ? rt_run_fail(r, rc, "restore_best: %s", err) : FTSRT_OK;
}

/* --- save and resume ------------------------------------------------------------- */

/* What saving and resuming need: a usable run whose parameters are bound
 * (unbound: the message when they are not). */
static int check_saveable(ftsrt_run *r, const char *path, const char *unbound)
{
	if (!path)
		return rt_run_fail(r, FTSRT_EINVAL, "no path given");
	int rc = rt_run_check_usable(r);
	if (rc)
		return rc;
	if (!rt_run_bound(r))
		return rt_run_fail(r, FTSRT_EINVAL, "%s", unbound);
	return FTSRT_OK;
}

/* The run as it stands, as a checkpoint image of the mid-run position: the
 * metric field carries the latest validation metric (NaN before the first),
 * which a step-interval ReduceLROnPlateau reads. */
static int build_mid_run(ftsrt_run *r, struct rt_wbuf *b)
{
	return ckpt_build(r, RT_POS_EPOCH_STARTED, r->have_metric ? r->last_metric : NAN, b);
}

static int run_save(ftsrt_run *r, const char *path)
{
	int rc = check_saveable(r, path, "parameters are not bound");
	if (rc)
		return rc;
	struct rt_wbuf b;
	if ((rc = build_mid_run(r, &b)))
		return rc;
	char err[512];
	rc = rt_ckpt_write_file(path, b.p, b.len, r->hook, r->hook_ud, err, sizeof(err));
	rt_wbuf_release(&b);
	return rc ? rt_run_fail(r, rc, "%s", err) : FTSRT_OK;
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
	struct rt_ckview v;
	if ((rc = rt_run_ckpt_parse(r, &v))) {
		rt_run_drop_image(r);
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
		rt_run_thaw(r, i);
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
	if (!(rc = rt_run_optim_defaults(r, v.rec, &kind, &h)) && kind != v.kind)
		rc = rt_run_fail(r, FTSRT_EFORMAT, "checkpoint: optimizer record does not match its kind");
	if (!rc) {
		r->opt_gen++;           /* a new optimizer, its state the checkpoint's */
		r->opt_kind = v.kind;
		r->opt_rec = v.rec;
		r->opt_phase = v.phase;
		r->def = v.def;
		rc = rt_run_ckpt_apply_groups(r, &v, NULL);
	}
	for (int i = 0; i < r->np && !rc; i++) {
		r->p[i].src = v.st[i] && r->p[i].group >= 0 ? RT_SRC_CKPT : RT_SRC_NONE;
		r->p[i].ck = v.st[i];
	}
	if (!rc)
		rt_run_ckpt_apply_weights(r, &v);
	if (!rc && v.has_sched) {
		/* construct on scratch lrs (the constructor writes them), then load the state */
		size_t n = (size_t)r->ng * sizeof(double);
		double *l = rt_run_alloc(r, n), *in = rt_run_alloc(r, n);
		if (!l || !in) {
			rc = rt_run_fail(r, FTSRT_ENOMEM, "out of memory");
		} else {
			memcpy(l, r->sg.lr, n);
			memcpy(in, r->sg.init, n);
			rc = rt_run_sched_new(r, v.sched_rec);
			memcpy(r->sg.lr, l, n);
			memcpy(r->sg.init, in, n);
			if (!rc && rt_sched_state_load(&r->s, v.sched, v.sched_len))
				rc = rt_run_fail(r, FTSRT_EFORMAT, "checkpoint: scheduler state: %s",
						 rt_sched_errmsg(&r->s));
		}
		rt_run_dealloc(r, l, n);
		rt_run_dealloc(r, in, n);
	} else if (!rc && r->has_sched) {
		rt_sched_release(&r->s);
		r->has_sched = false;
	}
	if (!rc)
		rc = rt_run_rebuild(r);
	int64_t pos = v.position;
	double metric = v.metric;
	r->have_metric = pos != RT_POS_EPOCH_STARTED || !isnan(metric);
	r->last_metric = metric;
	rt_run_ckpt_done(r, &v);
	rt_run_drop_image(r);
	if (rc || !cont)
		return rc;
	if (pos == RT_POS_VALIDATED && (rc = rt_run_epoch_after_validation(r, metric)))
		return rc;
	if (pos != RT_POS_EPOCH_STARTED)
		return rt_run_next_epoch(r);
	return FTSRT_OK;
}

/*
 * Resume from a checkpoint file.  A resume that fails leaves the run as it
 * was: its state is saved to memory first (as ftsrt_run_save would write
 * it) and put back on failure; should even that fail (out of memory), the
 * run refuses every later call rather than use a half-applied state.
 */
static int run_resume(ftsrt_run *r, const char *path)
{
	int rc = check_saveable(r, path, "bind the parameters before resuming");
	if (rc)
		return rc;
	rt_run_drop_image(r);
	char err[512];
	uint8_t *img = NULL;
	size_t img_len = 0;
	rc = rt_ckpt_read_file(path, r->alloc, r->ud, &img, &img_len, err, sizeof(err));
	if (rc)
		return rt_run_fail(r, rc, "%s", err);
	struct rt_wbuf snap;
	rc = build_mid_run(r, &snap);
	if (rc) {
		rt_run_dealloc(r, img, img_len);
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
		rt_run_fail(r, rc, "%s%s", msg,
			    rb ? " (and the run could not be put back: it is unusable)" : "");
	}
	rt_wbuf_release(&snap);
	return rc;
}

FTSRT_API int ftsrt_run_save(ftsrt_run *r, const char *path, ftsrt_error *err)
{
	if (!r)
		return rt_error(err, FTSRT_EINVAL, "ftsrt_run_save: no run");
	return rt_report(err, run_save(r, path), r->err);
}

FTSRT_API int ftsrt_run_resume(ftsrt_run *r, const char *path, ftsrt_error *err)
{
	if (!r)
		return rt_error(err, FTSRT_EINVAL, "ftsrt_run_resume: no run");
	return rt_report(err, run_resume(r, path), r->err);
}
