/*
 * check_run.c - the execution engine (run.c, ckpt.c): the run-time outcome
 * cases of fts-cases.md section 6 replayed on the FTS boring model with the
 * same schedules (tests/schedules/boring_*.yaml) and transitions
 * forced at the same epochs by validation-metric sequences, comparing every
 * epoch's group lrs (rounded to 9 decimals, as the tables are) and group
 * layouts; early-stopping semantics; the seed's incompatible restore_best;
 * a process killed while writing a checkpoint; several runs in one
 * process; per-tensor binding; bad calls; the 1.0 interface conventions
 * (every failure in ftsrt_error, NULL err accepted, struct_size of the
 * structs passed in and out).
 *
 * Plans are built by hand as struct rt_plan values (plan.h), so the tests
 * do not depend on the compiler.
 */
#include <check.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ftsrt.h"
#include "lambda.h"
#include "plan.h"
#include "run_int.h"

/* ---- a hand-built plan for FinetuningSchedulerBoringModel ------------------- */

#define MAXC 12
#define MAXA 8

struct tp {
	struct rt_plan p;
	struct rt_plan_param params[8];
	struct rt_plan_shape shapes[8]; /* one a parameter */
	int64_t dims[8][2];
	struct rt_plan_phase ph[4];
	uint32_t php[4][2];
	struct rt_plan_class cls[MAXC];
	struct rt_plan_arg args[MAXC][MAXA];
	double lists[MAXC][4];
	const char *nd[1];
	uint8_t lam[MAXC][256];
};

static const char *const names[8] = {
	"model.0.weight", "model.0.bias", "model.1.weight", "model.1.bias",
	"model.2.weight", "model.2.bias", "model.3.weight", "model.3.bias",
};

static int cls_add(struct tp *t, bool sched, const char *path)
{
	int c = (int)t->p.nclasses++;
	struct rt_plan_class *k = &t->cls[c];
	memset(k, 0, sizeof(*k));
	k->scheduler = sched;
	k->class_path = path;
	k->args = t->args[c];
	k->epoch_interval = true;
	k->frequency = 1;
	k->ninit_pg_lrs = -1;
	return c;
}

static struct rt_plan_arg *arg_new(struct tp *t, int c, const char *name)
{
	struct rt_plan_arg *a = &t->args[c][t->cls[c].nargs++];
	memset(a, 0, sizeof(*a));
	a->name = name;
	a->given = true;
	return a;
}

static void arg_f(struct tp *t, int c, const char *name, double v)
{
	struct rt_plan_arg *a = arg_new(t, c, name);
	a->kind = RT_ARG_FLOAT;
	a->f = v;
}

static void arg_i(struct tp *t, int c, const char *name, int64_t v)
{
	struct rt_plan_arg *a = arg_new(t, c, name);
	a->kind = RT_ARG_INT;
	a->i = v;
}

static void arg_list(struct tp *t, int c, const char *name, const double *v, uint32_t n)
{
	struct rt_plan_arg *a = arg_new(t, c, name);
	a->kind = RT_ARG_FLOATS;
	memcpy(t->lists[c], v, n * sizeof(double));
	a->v = t->lists[c];
	a->n = n;
}

static void init_pg(struct tp *t, int c, const double *v, int n)
{
	memcpy(t->lists[c], v, (size_t)n * sizeof(double));
	t->cls[c].init_pg_lrs = t->lists[c];
	t->cls[c].ninit_pg_lrs = n;
}

static int steplr(struct tp *t, double gamma)
{
	int c = cls_add(t, true, "torch.optim.lr_scheduler.StepLR");
	arg_i(t, c, "step_size", 1);
	arg_f(t, c, "gamma", gamma);
	return c;
}

/* tests.helpers.boring_models.LinearWarmupLR(warmup, total), interval step */
static int warmup(struct tp *t, int w, int total)
{
	int c = cls_add(t, true, "torch.optim.lr_scheduler.LambdaLR");
	char src[256];
	snprintf(src, sizeof(src),
		 "float(epoch) / float(max(1, %d)) if epoch < %d else "
		 "max(0.0, float(%d - epoch) / float(max(1, %d - %d)))", w, w, total, total, w);
	size_t len;
	struct rt_lambda_diag d;
	ck_assert_int_eq(rt_lambda_compile_text(src, t->lam[c], sizeof(t->lam[c]), &len, &d), 0);
	t->cls[c].lambda = t->lam[c];
	t->cls[c].lambda_len = (uint32_t)len;
	t->cls[c].epoch_interval = false;
	return c;
}

/* M1 + S00 (implicit schedule); SGD(1e-3, wd 1e-6) + StepLR(1, 0.7); ES(patience 1) */
static void tp_init(struct tp *t)
{
	memset(t, 0, sizeof(*t));
	for (int i = 0; i < 8; i++) {
		struct rt_plan_shape *p = &t->shapes[i];
		bool w = i % 2 == 0;
		t->dims[i][0] = i >= 6 ? 2 : 32;
		t->dims[i][1] = 32;
		p->ndim = w ? 2 : 1;
		p->dims = t->dims[i];
		p->numel = w ? (uint64_t)(t->dims[i][0] * 32) : (uint64_t)t->dims[i][0];
		p->requires_grad = true;
		t->params[i].shape = (uint32_t)i;
		t->params[i].tied_to = -1;
	}
	for (int d = 0; d < 4; d++) {
		int layer = 3 - d;
		t->php[d][0] = (uint32_t)(2 * layer);
		t->php[d][1] = (uint32_t)(2 * layer + 1);
		t->ph[d].index = d;
		t->ph[d].mte = -1;
		t->ph[d].lr = 1e-5;
		t->ph[d].params = t->php[d];
		t->ph[d].nparams = 2;
		t->ph[d].new_optimizer = -1;
		t->ph[d].new_lr_scheduler = -1;
		t->ph[d].src_file = "sched.yaml";
		t->ph[d].src_line = (uint32_t)(1 + 10 * d);
	}
	struct rt_plan *p = &t->p;
	p->manifest_hash = 0x1234;
	p->params = t->params;
	p->nparams = 8;
	p->shapes = t->shapes;
	p->nshapes = 8;
	p->names = names;
	p->phases = t->ph;
	p->nphases = 4;
	p->max_depth = 3;
	p->classes = t->cls;
	int sgd = cls_add(t, false, "torch.optim.SGD");
	arg_f(t, sgd, "lr", 1e-3);
	arg_f(t, sgd, "weight_decay", 1e-6);
	p->initial_optimizer = sgd;
	p->initial_scheduler = steplr(t, 0.7);
	p->reinit_optimizer = -1;
	p->reinit_scheduler = -1;
	p->restore_best = true;
	p->max_epochs = 1000;
	p->base_max_lr = 1e-5;
	p->phase0_groups = 1;
	p->es.present = true;
	p->es.monitor = "val_loss";
	p->es.patience = 1;
	p->es.check_finite = true;
	p->ckpt.monitor = "val_loss";
	p->ckpt.save_top_k = 1;
}

static void nodecay(struct tp *t)
{
	t->nd[0] = "bias";
	t->p.no_decay = t->nd;
	t->p.nno_decay = 1;
}

/* S06: phase 1 Adam(2.1e-4), phase 2 SGD(2e-3, momentum 0.9, wd 2e-6) */
static void s06(struct tp *t)
{
	int adam = cls_add(t, false, "torch.optim.Adam");
	arg_f(t, adam, "lr", 2.1e-4);
	int sgd = cls_add(t, false, "torch.optim.SGD");
	arg_f(t, sgd, "lr", 2e-3);
	arg_f(t, sgd, "momentum", 0.9);
	arg_f(t, sgd, "weight_decay", 2e-6);
	t->ph[1].new_optimizer = adam;
	t->ph[2].new_optimizer = sgd;
}

/* S03's phase-1 StepLR(1, 0.7) (S07 = S06 + it + phase 2 lr 3e-6, StepLR(1, 0.2)) */
static void s07(struct tp *t)
{
	s06(t);
	t->ph[1].new_lr_scheduler = steplr(t, 0.7);
	t->ph[2].lr = 3e-6;
	t->ph[2].new_lr_scheduler = steplr(t, 0.2);
}

/* ---- driving a run ------------------------------------------------------------- */

#define MAXE 20
#define MAXG 8

struct trace {
	int nepochs;                    /* epochs run */
	int ng[MAXE];                   /* groups at each epoch start */
	double lr[MAXE][MAXG];          /* their lrs, rounded to 9 decimals */
	int gparams[MAXE][MAXG];        /* parameters per group */
	int phase[MAXE];
	int thawed[MAXE];
	int stop;
	int64_t stop_epoch;
	int restored;                   /* FTSRT_EV_BEST_RESTORED events */
	int restored_phase[MAXE];       /* the phase each restored checkpoint was saved in */
	int rc;                         /* first failing status */
	char err[sizeof(((ftsrt_error *)0)->message)];  /* the failure's err.message */
};

static double r9(double x)
{
	return round(x * 1e9) / 1e9;
}

/* The job: a quadratic pulling parameters towards 0.5, gradients only for thawed ones. */
static void grads(const ftsrt_run *r, const float *p, float *g, size_t n)
{
	memset(g, 0, n * sizeof(float));
	for (int i = 0; i < ftsrt_run_nparams(r); i++) {
		size_t off, k;
		if (!ftsrt_run_thawed(r, i) || ftsrt_run_param_offset(r, i, &off, &k, NULL))
			continue;
		for (size_t j = off; j < off + k; j++)
			g[j] = p[j] - 0.5f + 0.01f * (float)((j * 7919) % 13);
	}
}

static void init_params(float *p, size_t n)
{
	for (size_t j = 0; j < n; j++)
		p[j] = (float)((j * 2654435761u) % 1000) / 1000.0f - 0.5f;
}

/* Run epochs [r.epoch, nepochs) with metrics m[epoch]; steps batches each. */
static void drive_run(ftsrt_run *r, float *p, float *g, size_t n, const double *m, int nepochs,
		      int steps, struct trace *tr)
{
	while (!ftsrt_run_finished(r) && ftsrt_run_epoch(r) < nepochs) {
		int64_t e = ftsrt_run_epoch(r);
		tr->ng[e] = ftsrt_run_ngroups(r);
		tr->phase[e] = ftsrt_run_phase(r);
		tr->thawed[e] = 0;
		for (int i = 0; i < 8; i++)
			tr->thawed[e] += ftsrt_run_thawed(r, i);
		for (int k = 0; k < tr->ng[e] && k < MAXG; k++) {
			struct ftsrt_run_group gi = FTSRT_INIT(struct ftsrt_run_group);
			ck_assert_int_eq(ftsrt_run_group(r, k, &gi, NULL), 0);
			tr->lr[e][k] = r9(gi.lr);
			tr->gparams[e][k] = gi.nparams;
		}
		for (int s = 0; s < steps; s++) {
			grads(r, p, g, n);
			ftsrt_error err;
			int rc = ftsrt_run_step(r, &err);
			if (rc) {
				ck_assert_int_eq(err.status, rc);
				tr->rc = rc;
				snprintf(tr->err, sizeof(tr->err), "%s", err.message);
				return;
			}
		}
		ftsrt_error err;
		int rc = ftsrt_run_epoch_end(r, m[e], &err);
		struct ftsrt_run_event ev = FTSRT_INIT(struct ftsrt_run_event);
		while (ftsrt_run_next_event(r, &ev, NULL))
			if (ev.kind == FTSRT_EV_BEST_RESTORED && tr->restored < MAXE)
				tr->restored_phase[tr->restored++] = ev.phase;
		tr->nepochs = (int)e + 1;
		if (rc) {
			ck_assert_int_eq(err.status, rc);
			tr->rc = rc;
			snprintf(tr->err, sizeof(tr->err), "%s", err.message);
			return;
		}
	}
	tr->stop = ftsrt_run_finished(r);
	tr->stop_epoch = ftsrt_run_epoch(r) - 1;
}

static void drive(const struct tp *t, const double *m, int nepochs, int steps, struct trace *tr)
{
	memset(tr, 0, sizeof(*tr));
	ftsrt_run *r = NULL;
	ftsrt_error err;
	int rc = rt_run_new(&r, &t->p, NULL, &err);
	if (rc) {
		ck_assert_int_eq(err.status, rc);
		tr->rc = rc;
		snprintf(tr->err, sizeof(tr->err), "%s", err.message);
		return;
	}
	size_t n = ftsrt_run_arena_numel(r);
	float *p = calloc(n, sizeof(float)), *g = calloc(n, sizeof(float));
	init_params(p, n);
	ck_assert_int_eq(ftsrt_run_bind_arena(r, p, g, n, 0x1234, NULL), 0);
	drive_run(r, p, g, n, m, nepochs, steps, tr);
	ftsrt_run_free(r);
	free(p);
	free(g);
}

/* Compare epochs [e0, e0 + n) of a trace with rows of expected lrs (0-terminated rows). */
static void expect_lrs(const struct trace *tr, int e0, int n, const double want[][MAXG],
		       const char *what)
{
	ck_assert_msg(tr->rc == 0, "%s: rc %d: %s", what, tr->rc, tr->err);
	for (int e = e0; e < e0 + n; e++) {
		const double *w = want[e - e0];
		int ng = 0;
		while (ng < MAXG && w[ng] != 0)
			ng++;
		if (w[0] == 0 && w[1] == 0)     /* an all-zero row: count given in w[2] */
			ng = (int)w[2] ? (int)w[2] : 1;
		ck_assert_msg(e < tr->nepochs, "%s: ran only %d epochs", what, tr->nepochs);
		ck_assert_msg(tr->ng[e] == ng, "%s: epoch %d has %d groups, want %d", what, e, tr->ng[e], ng);
		for (int k = 0; k < ng; k++) {
			double x = w[0] == 0 && w[1] == 0 ? 0 : w[k];
			ck_assert_msg(fabs(tr->lr[e][k] - x) <= 1e-15 + 1e-12 * fabs(x),
				      "%s: epoch %d group %d lr %.12g, want %.12g", what, e, k, tr->lr[e][k], x);
		}
	}
}

/* metrics: improving to epoch `best`, then worse every epoch */
static void rising_after(double *m, int best, int n)
{
	for (int e = 0; e < n; e++)
		m[e] = e <= best ? 1.0 - 0.1 * e : 1.0 - 0.1 * best + 0.1 * (e - best);
}

static const double common03[4][MAXG] = {{0.001}, {0.0007}, {0.00049}, {0.000343}};

/* ---- R07 ------------------------------------------------------------------------ */

START_TEST(r07_explicit_optim)
{
	struct tp t;
	tp_init(&t);
	t.p.es.patience = 2;
	s06(&t);
	double m[MAXE];
	rising_after(m, 1, MAXE);
	struct trace tr;
	drive(&t, m, 10, 64, &tr);
	static const double want[6][MAXG] = {
		{0.0002401, 1e-05}, {0.00016807, 7e-06}, {0.000117649, 4.9e-06, 1e-05},
		{8.2354e-05, 3.43e-06, 7e-06}, {5.7648e-05, 2.401e-06, 4.9e-06, 1e-05},
		{4.0354e-05, 1.681e-06, 3.43e-06, 7e-06},
	};
	expect_lrs(&tr, 0, 4, common03, "explicit_optim");
	expect_lrs(&tr, 4, 6, want, "explicit_optim");
	ck_assert_int_eq(tr.phase[8], 3);
	ck_assert_int_eq(tr.restored, 3);       /* restored_best_cnt == curr_depth */
	ck_assert_int_eq(tr.gparams[8][0], 2);
	ck_assert_int_eq(tr.stop, FTSRT_STOP_PATIENCE);
	ck_assert_int_eq(tr.stop_epoch, 9);
}
END_TEST

START_TEST(r07_implicit_optim)
{
	struct tp t;
	tp_init(&t);
	t.p.es.patience = 2;
	int adam = cls_add(&t, false, "torch.optim.Adam");
	arg_f(&t, adam, "lr", 2.2e-4);
	t.p.reinit_optimizer = adam;
	double m[MAXE];
	rising_after(m, 1, MAXE);
	struct trace tr;
	drive(&t, m, 10, 64, &tr);
	static const double want[6][MAXG] = {
		{0.0002401, 1e-05}, {0.00016807, 7e-06}, {0.000117649, 4.9e-06, 1e-05},
		{8.2354e-05, 3.43e-06, 7e-06}, {5.7648e-05, 2.401e-06, 4.9e-06, 1e-05},
		{4.0354e-05, 1.681e-06, 3.43e-06, 7e-06},
	};
	expect_lrs(&tr, 4, 6, want, "implicit_optim");
}
END_TEST

START_TEST(r07_explicit_optimlr)
{
	struct tp t;
	tp_init(&t);
	t.p.es.patience = 2;
	s07(&t);
	double m[MAXE];
	rising_after(m, 1, MAXE);
	struct trace tr;
	drive(&t, m, 10, 64, &tr);
	static const double want[6][MAXG] = {
		{0.00021, 1e-05}, {0.000147, 7e-06}, {0.002, 1e-05, 3e-06}, {0.0004, 2e-06, 6e-07},
		{8e-05, 4e-07, 1.2e-07, 1e-05}, {1.6e-05, 8e-08, 2.4e-08, 2e-06},
	};
	expect_lrs(&tr, 0, 4, common03, "explicit_optimlr");
	expect_lrs(&tr, 4, 6, want, "explicit_optimlr");
	/* 6-7: 3 groups of 2 params; 8-9: 4 groups */
	for (int k = 0; k < 3; k++)
		ck_assert_int_eq(tr.gparams[6][k], 2);
	ck_assert_int_eq(tr.ng[8], 4);
}
END_TEST

START_TEST(r07_explicit_optimlr_use_curr)
{
	struct tp t;
	tp_init(&t);
	t.p.es.patience = 2;
	s07(&t);
	t.cls[t.ph[2].new_lr_scheduler].use_current = true;
	double m[MAXE];
	rising_after(m, 1, MAXE);
	struct trace tr;
	drive(&t, m, 10, 64, &tr);
	static const double want[6][MAXG] = {
		{0.00021, 1e-05}, {0.000147, 7e-06}, {0.0001029, 4.9e-06, 3e-06}, {2.058e-05, 9.8e-07, 6e-07},
		{4.116e-06, 1.96e-07, 1.2e-07, 1e-05}, {8.23e-07, 3.9e-08, 2.4e-08, 2e-06},
	};
	expect_lrs(&tr, 4, 6, want, "explicit_optimlr_use_curr");
}
END_TEST

static void implicit_optimlr(bool use_curr)
{
	struct tp t;
	tp_init(&t);
	t.p.es.patience = 2;
	int adam = cls_add(&t, false, "torch.optim.Adam");
	arg_f(&t, adam, "lr", 2.2e-4);
	t.p.reinit_optimizer = adam;
	t.p.reinit_scheduler = steplr(&t, 0.5);
	t.cls[t.p.reinit_scheduler].use_current = use_curr;
	double m[MAXE];
	rising_after(m, 1, MAXE);
	struct trace tr;
	drive(&t, m, 10, 64, &tr);
	static const double plain[6][MAXG] = {
		{0.00022, 1e-05}, {0.00011, 5e-06}, {0.00022, 1e-05, 1e-05}, {0.00011, 5e-06, 5e-06},
		{0.00022, 1e-05, 1e-05, 1e-05}, {0.00011, 5e-06, 5e-06, 5e-06},
	};
	static const double curr[6][MAXG] = {
		{0.0002401, 1e-05}, {0.00012005, 5e-06}, {6.0025e-05, 2.5e-06, 1e-05},
		{3.0012e-05, 1.25e-06, 5e-06}, {1.5006e-05, 6.25e-07, 2.5e-06, 1e-05},
		{7.503e-06, 3.13e-07, 1.25e-06, 5e-06},
	};
	expect_lrs(&tr, 4, 6, use_curr ? curr : plain, use_curr ? "implicit_use_curr" : "implicit_optimlr");
}

START_TEST(r07_implicit_optimlr)
{
	implicit_optimlr(false);
}
END_TEST

START_TEST(r07_implicit_optimlr_use_curr)
{
	implicit_optimlr(true);
}
END_TEST

/* ---- R02: enforce_phase0_params with a no_decay model ------------------------------ */

/* test_fts_enforce_p0: configure_optimizers builds phase 0 as a decay/no-decay
 * pair, max_depth 2, ES patience 1, M1's loss worse from epoch 3.  New
 * groups enter at the raw phase lr; lr_lambdas shape them from the next step. */
static void r02(int variant)
{
	struct tp t;
	tp_init(&t);
	nodecay(&t);
	t.p.phase0_groups = 2;
	t.p.max_depth = 2;
	if (variant == 1) {
		int c = cls_add(&t, true, "torch.optim.lr_scheduler.ReduceLROnPlateau");
		t.cls[c].monitor = "val_loss";
		t.p.initial_scheduler = c;
	} else if (variant == 2) {
		t.p.initial_scheduler = warmup(&t, 300, 1000);
	}
	double m[MAXE];
	rising_after(m, 3, MAXE);
	struct trace tr;
	drive(&t, m, 7, 64, &tr);
	static const double want[3][7][MAXG] = {
		{{0.001, 0.001}, {0.0007, 0.0007}, {0.00049, 0.00049}, {0.000343, 0.000343},
		 {0.0002401, 0.0002401}, {0.00016807, 0.00016807, 1e-05, 1e-05},
		 {0.000117649, 0.000117649, 7e-06, 7e-06, 1e-05, 1e-05}},
		{{0.001, 0.001}, {0.001, 0.001}, {0.001, 0.001}, {0.001, 0.001}, {0.001, 0.001},
		 {0.001, 0.001, 1e-05, 1e-05}, {0.001, 0.001, 1e-05, 1e-05, 1e-05, 1e-05}},
		{{0.0, 0.0, 2}, {0.000213333, 0.000213333}, {0.000426667, 0.000426667},
		 {0.00064, 0.00064}, {0.000853333, 0.000853333},
		 {0.000971429, 0.000971429, 1e-05, 1e-05},
		 {0.00088, 0.00088, 8.8e-06, 8.8e-06, 1e-05, 1e-05}},
	};
	static const char *const what[3] = {"enforce_p0 step_lr", "enforce_p0 rlrop",
					     "enforce_p0 lr_lambdas"};
	expect_lrs(&tr, 0, 7, want[variant], what[variant]);
	ck_assert_int_eq(tr.phase[4], 0);
	ck_assert_int_eq(tr.phase[5], 1);
	ck_assert_int_eq(tr.phase[6], 2);
}

START_TEST(r02_enforce_p0)
{
	for (int v = 0; v < 3; v++)
		r02(v);
}
END_TEST

/* ---- R05: restore_best on and off give the same states -------------------------- */

START_TEST(r05_intrafit)
{
	for (int rb = 0; rb < 2; rb++) {
		struct tp t;
		tp_init(&t);
		t.p.restore_best = rb;
		double m[MAXE];
		rising_after(m, 3, MAXE);
		struct trace tr;
		drive(&t, m, 8, 64, &tr);
		ck_assert_msg(tr.rc == 0, "%s", tr.err);
		ck_assert_int_eq(tr.nepochs, 8);
		static const int phase[8] = {0, 0, 0, 0, 0, 1, 2, 3};
		for (int e = 0; e < 8; e++) {
			ck_assert_msg(tr.phase[e] == phase[e], "restore_best %d: epoch %d phase %d", rb, e,
				      tr.phase[e]);
			ck_assert_int_eq(tr.ng[e], phase[e] + 1);
			ck_assert_int_eq(tr.thawed[e], 2 * (phase[e] + 1));
		}
		/* the best checkpoint stays at depth 0: the loss diverges from epoch 3 */
		ck_assert_int_eq(tr.restored, rb ? 3 : 0);
	}
}
END_TEST

/* ---- R08: no_decay, positional lr misalignment after restore -------------------- */

START_TEST(r08_nodecay)
{
	struct tp t;
	tp_init(&t);
	t.p.es.patience = 2;
	s07(&t);
	nodecay(&t);
	double m[MAXE];
	rising_after(m, 1, MAXE);
	struct trace tr;
	drive(&t, m, 10, 64, &tr);
	static const double want[6][MAXG] = {
		{0.00021, 0.00021, 1e-05, 1e-05}, {0.000147, 0.000147, 7e-06, 7e-06},
		{0.002, 0.002, 1e-05, 1e-05, 3e-06, 3e-06}, {0.0004, 0.0004, 2e-06, 2e-06, 6e-07, 6e-07},
		{8e-05, 8e-05, 4e-07, 4e-07, 1.2e-07, 1e-05, 1e-05},
		{1.6e-05, 1.6e-05, 8e-08, 8e-08, 2.4e-08, 2e-06, 2e-06},
	};
	expect_lrs(&tr, 4, 6, want, "nodecay");
	static const int layout[7] = {2, 1, 1, 1, 1, 1, 1};
	for (int k = 0; k < 7; k++)
		ck_assert_int_eq(tr.gparams[8][k], layout[k]);
	for (int k = 0; k < 4; k++)
		ck_assert_int_eq(tr.gparams[4][k], 1);
}
END_TEST

/* ---- R10, R11: lr scheduler reinit ------------------------------------------------- */

static void s03(struct tp *t)
{
	t->ph[1].new_lr_scheduler = steplr(t, 0.7);
	t->ph[2].lr = 3e-6;
	int c = cls_add(t, true, "torch.optim.lr_scheduler.CosineAnnealingWarmRestarts");
	arg_i(t, c, "T_0", 1);
	arg_i(t, c, "T_mult", 2);
	arg_f(t, c, "eta_min", 1e-7);
	double ip[2] = {1e-6, 2e-6};
	init_pg(t, c, ip, 2);
	t->ph[2].new_lr_scheduler = c;
}

START_TEST(r10_explicit)
{
	struct tp t;
	tp_init(&t);
	s03(&t);
	double m[MAXE];
	rising_after(m, 3, MAXE);
	struct trace tr;
	drive(&t, m, 12, 64, &tr);
	static const double want[8][MAXG] = {
		{0.001}, {0.0007}, {0.00049}, {0.000343}, {0.0002401}, {0.001, 1e-05}, {1e-06, 2e-06, 3e-06},
		{1e-06, 2e-06, 3e-06, 1e-05},
	};
	expect_lrs(&tr, 0, 8, want, "reinitlr explicit");
	ck_assert_int_eq(tr.phase[7], 3);
	ck_assert_int_eq(tr.stop_epoch, 7);
}
END_TEST

START_TEST(r10_implicit)
{
	struct tp t;
	tp_init(&t);
	t.p.reinit_scheduler = steplr(&t, 0.7);
	double m[MAXE];
	rising_after(m, 3, MAXE);
	struct trace tr;
	drive(&t, m, 12, 64, &tr);
	static const double want[3][MAXG] = {
		{0.001, 1e-05}, {0.001, 1e-05, 1e-05}, {0.001, 1e-05, 1e-05, 1e-05},
	};
	expect_lrs(&tr, 5, 3, want, "reinitlr implicit");
}
END_TEST

static void s04(struct tp *t)
{
	t->ph[1].new_lr_scheduler = warmup(t, 100, 1000);
	t->ph[2].lr = 3e-6;
	int c = warmup(t, 100, 1000);
	double ip[2] = {1e-6, 2e-6};
	init_pg(t, c, ip, 2);
	t->ph[2].new_lr_scheduler = c;
}

static void r11(bool apply)
{
	struct tp t;
	tp_init(&t);
	s04(&t);
	t.p.apply_lambdas_new_pgs = apply;
	double m[MAXE];
	rising_after(m, 3, MAXE);
	struct trace tr;
	drive(&t, m, 12, 64, &tr);
	const double z2[MAXG] = {0, 0, 2}, z3[MAXG] = {0, 0, 3};
	double want[3][MAXG];
	memcpy(want[0], z2, sizeof(z2));
	memcpy(want[1], z3, sizeof(z3));
	static const double a[MAXG] = {6.4e-07, 1.28e-06, 1.229e-06, 6.4e-06};
	static const double na[MAXG] = {6.4e-07, 1.28e-06, 1.92e-06, 1e-05};
	memcpy(want[2], apply ? a : na, sizeof(a));
	expect_lrs(&tr, 0, 4, common03, "lambda");
	expect_lrs(&tr, 5, 3, (const double(*)[MAXG])want, apply ? "lambda apply" : "lambda no apply");
}

START_TEST(r11_lambda_apply)
{
	r11(true);
}
END_TEST

START_TEST(r11_lambda_no_apply)
{
	r11(false);
}
END_TEST

START_TEST(r11_lambda_implicit)
{
	struct tp t;
	tp_init(&t);
	t.p.reinit_scheduler = warmup(&t, 100, 1000);
	double m[MAXE];
	rising_after(m, 3, MAXE);
	struct trace tr;
	drive(&t, m, 12, 64, &tr);
	static const double want[3][MAXG] = {{0, 0, 2}, {0, 0, 3}, {0, 0, 4}};
	expect_lrs(&tr, 5, 3, want, "lambda implicit");
}
END_TEST

/* ---- R12: ReduceLROnPlateau ---------------------------------------------------------- */

static int rlrop(struct tp *t, int patience)
{
	int c = cls_add(t, true, "torch.optim.lr_scheduler.ReduceLROnPlateau");
	arg_i(t, c, "patience", patience);
	t->cls[c].monitor = "val_loss";
	return c;
}

/* S05's plateau: patience 1, min_lr [2e-7, 1e-7], init_pg_lrs [1.5e-6] */
static int rlrop_s05(struct tp *t)
{
	int c = rlrop(t, 1);
	double ml[2] = {2e-7, 1e-7};
	arg_list(t, c, "min_lr", ml, 2);
	double ip[1] = {1.5e-6};
	memcpy(t->lists[c] + 2, ip, sizeof(ip));
	t->cls[c].init_pg_lrs = t->lists[c] + 2;
	t->cls[c].ninit_pg_lrs = 1;
	return c;
}

/* An initial step-interval plateau (patience 1), max_epochs 5, and a
 * metric halving every epoch. */
static void step_plateau(struct tp *t, double *m)
{
	tp_init(t);
	t->p.es.patience = 4;
	t->p.max_epochs = 5;
	int c = rlrop(t, 1);
	t->cls[c].epoch_interval = false;
	t->p.initial_scheduler = c;
	for (int e = 0; e < MAXE; e++)
		m[e] = ldexp(1.0, -e);
}

/* ---- R09 S09: Adam + ReduceLROnPlateau in phase 1, SGD without a scheduler in 2 ---- */

START_TEST(r09_rlrop_sgd)
{
	struct tp t;
	tp_init(&t);
	t.p.es.patience = 2;
	s06(&t);
	int c = rlrop_s05(&t);
	t.ph[1].new_lr_scheduler = c;
	t.ph[2].lr = 3e-6;
	double m[MAXE];
	rising_after(m, 1, MAXE);
	/* M1's val_loss after phase 3 restores the depth-0 best: worse than the
	 * best (0.9), better than anything the phase-1 plateau has seen (1.2) */
	m[8] = 1.0;
	struct trace tr;
	drive(&t, m, 10, 64, &tr);
	ck_assert_msg(tr.rc == 0, "%s", tr.err);
	/* 7: reduced x0.1, group 0 clipped at min_lr 2e-7; 9: the metric improved */
	static const double want[6][MAXG] = {
		{1.5e-06, 1e-05}, {1.5e-06, 1e-05}, {1.5e-06, 1e-05, 3e-06}, {2e-07, 1e-06, 3e-07},
		{2e-07, 1e-06, 3e-07, 1e-05}, {2e-07, 1e-06, 3e-07, 1e-05},
	};
	expect_lrs(&tr, 4, 6, want, "r09 S09");
	ck_assert_int_eq(tr.ng[8], 4);
}
END_TEST

/* R09 S08: Adam + LinearWarmupLR (interval step) in phase 1, SGD without a
 * scheduler in phase 2; the restored LambdaLR keeps base 2.1e-4 for group 0
 * after the SGD (2e-3) swap */
START_TEST(r09_lambda_sgd)
{
	struct tp t;
	tp_init(&t);
	t.p.es.patience = 2;
	s06(&t);
	t.ph[1].new_lr_scheduler = warmup(&t, 100, 1000);
	t.ph[2].lr = 3e-6;
	double m[MAXE];
	rising_after(m, 1, MAXE);
	struct trace tr;
	drive(&t, m, 10, 64, &tr);
	ck_assert_msg(tr.rc == 0, "%s", tr.err);
	static const double want[6][MAXG] = {
		{0.0, 0.0, 2}, {0.0001344, 6.4e-06}, {0.000203467, 9.689e-06, 3e-06},
		{0.000188533, 8.978e-06, 2.693e-06}, {0.0001736, 8.267e-06, 2.48e-06, 1e-05},
		{0.000158667, 7.556e-06, 2.267e-06, 7.556e-06},
	};
	expect_lrs(&tr, 4, 6, want, "r09 S08");
}
END_TEST

/* ---- R13: constant loss ------------------------------------------------------- */

/* test_fts_constant_loss: implicit schedule, save_top_k 3, ES patience 1,
 * max_epochs 6.  FTS's _ft_epoch counts completed epochs.  A constant
 * val_loss stops at depth 3 after 5 epochs (_ft_epoch 5), and every restore
 * loads the depth-0 checkpoint, since a tie never moves the best path
 * (#15).  M1's normal loss (worse from epoch 3) ends at max_epochs (6) at
 * depth 1. */
START_TEST(r13_constant_loss)
{
	struct tp t;
	tp_init(&t);
	t.p.es.patience = 1;
	t.p.max_epochs = 6;
	t.p.ckpt.save_top_k = 3;
	double m[MAXE];
	for (int e = 0; e < MAXE; e++)
		m[e] = 1.0;
	struct trace tr;
	drive(&t, m, MAXE, 8, &tr);
	ck_assert_msg(tr.rc == 0, "%s", tr.err);
	ck_assert_int_eq(tr.nepochs, 5);
	ck_assert_int_eq(tr.phase[4], 3);
	ck_assert_int_eq(tr.stop, FTSRT_STOP_PATIENCE);
	ck_assert_int_eq(tr.restored, 3);
	for (int i = 0; i < tr.restored; i++)
		ck_assert_msg(tr.restored_phase[i] == 0, "restore %d loaded phase %d's checkpoint", i,
			      tr.restored_phase[i]);
	rising_after(m, 3, MAXE);
	drive(&t, m, MAXE, 8, &tr);
	ck_assert_int_eq(tr.nepochs, 6);
	ck_assert_int_eq(tr.phase[5], 1);
	ck_assert_int_eq(tr.stop, FTSRT_STOP_MAX_EPOCHS);
}
END_TEST

START_TEST(r12_explicit)
{
	struct tp t;
	tp_init(&t);
	t.p.es.patience = 5;
	t.p.max_epochs = 10;
	t.p.max_depth = 2;
	t.ph[0].mte = 4;
	t.ph[1].mte = 8;
	int c = rlrop_s05(&t);
	t.ph[1].new_lr_scheduler = c;
	t.ph[2].lr = 3e-6;
	t.ph[2].mte = 10;
	int s = steplr(&t, 0.7);
	double ip2[2] = {2e-6, 3e-6};
	init_pg(&t, s, ip2, 2);
	t.ph[2].new_lr_scheduler = s;
	double m[MAXE];
	rising_after(m, 1, MAXE);
	struct trace tr;
	drive(&t, m, 10, 64, &tr);
	static const double want[10][MAXG] = {
		{0.001}, {0.0007}, {0.00049}, {0.000343}, {1.5e-06, 1e-05}, {1.5e-06, 1e-05},
		{1.5e-06, 1e-05}, {2e-07, 1e-06}, {2e-06, 3e-06, 3e-06}, {1.4e-06, 2.1e-06, 2.1e-06},
	};
	expect_lrs(&tr, 0, 10, want, "rlrop explicit");
	ck_assert_int_eq(tr.stop, FTSRT_STOP_MAX_EPOCHS);
}
END_TEST

START_TEST(r12_implicit)
{
	struct tp t;
	tp_init(&t);
	t.p.es.patience = 4;
	t.p.max_epochs = 99;
	t.p.initial_scheduler = rlrop(&t, 2);
	t.p.reinit_scheduler = rlrop(&t, 1);
	double m[MAXE];
	rising_after(m, 2, MAXE);
	struct trace tr;
	drive(&t, m, 15, 64, &tr);
	static const double want[15][MAXG] = {
		{0.001}, {0.001}, {0.001}, {0.001}, {0.001}, {0.001}, {0.0001}, {0.0001, 1e-05},
		{0.0001, 1e-05}, {0.0001, 1e-05}, {1e-05, 1e-06}, {1e-05, 1e-05, 1e-05},
		{1e-05, 1e-05, 1e-05}, {1e-05, 1e-05, 1e-05}, {1e-06, 1e-06, 1e-06},
	};
	expect_lrs(&tr, 0, 15, want, "rlrop implicit");
}
END_TEST

/* interval 'step': the plateau reads the latest validation metric at every
 * step (Lightning's callback_metrics) and is skipped before the first one.
 * An improving metric then reduces once per 4-step epoch with patience 1
 * (first step improves or not, the third exceeds the patience); stepped
 * per epoch it would never reduce. */
START_TEST(r12_step_interval)
{
	struct tp t;
	double m[MAXE];
	step_plateau(&t, m);
	struct trace tr;
	drive(&t, m, 5, 4, &tr);
	ck_assert_msg(tr.rc == 0, "%s", tr.err);
	static const double want[5][MAXG] = {{0.001}, {0.001}, {0.0001}, {1e-05}, {1e-06}};
	expect_lrs(&tr, 0, 5, want, "rlrop step interval");
}
END_TEST

/* ---- R06: epoch_transitions_only; R16: early-stopping criteria -------------------- */

START_TEST(r06_eto)
{
	struct tp t;
	tp_init(&t);
	/* S02 = S01 + mte 2 on phases 1 and 2 */
	t.p.nphases = 3;
	t.p.max_depth = 2;
	static uint32_t p0[4] = {4, 5, 6, 7}, p2[2] = {0, 1};
	t.ph[0].params = p0;
	t.ph[0].nparams = 4;
	t.ph[0].mte = 3;
	t.php[1][0] = 2;
	t.php[1][1] = 3;
	t.ph[1].lr = 1e-6;
	t.ph[1].mte = 2;
	t.ph[2].params = p2;
	t.ph[2].mte = 2;
	t.p.epoch_transitions_only = true;
	t.p.es.present = false;
	t.p.max_epochs = 6;
	double m[MAXE] = {0};
	struct trace tr;
	drive(&t, m, 10, 4, &tr);
	static const int phase[6] = {0, 0, 0, 1, 2, 2}, thawed[6] = {4, 4, 4, 6, 8, 8};
	ck_assert_int_eq(tr.nepochs, 6);
	for (int e = 0; e < 6; e++) {
		ck_assert_int_eq(tr.phase[e], phase[e]);
		ck_assert_int_eq(tr.thawed[e], thawed[e]);
	}
	ck_assert_int_eq(tr.stop, FTSRT_STOP_MAX_EPOCHS);
}
END_TEST

static void r16(double thr, double div, const double *m, int n, int want_stop, int64_t want_epoch)
{
	struct tp t;
	tp_init(&t);
	t.p.max_depth = 0;
	t.p.es.patience = 3;
	t.p.restore_best = false;
	if (!isnan(thr)) {
		t.p.es.has_stopping_threshold = true;
		t.p.es.stopping_threshold = thr;
	}
	if (!isnan(div)) {
		t.p.es.has_divergence_threshold = true;
		t.p.es.divergence_threshold = div;
	}
	double mm[MAXE];
	for (int e = 0; e < MAXE; e++)
		mm[e] = e < n ? m[e] : 100;
	struct trace tr;
	drive(&t, mm, MAXE, 2, &tr);
	ck_assert_msg(tr.rc == 0, "%s", tr.err);
	ck_assert_int_eq(tr.stop, want_stop);
	ck_assert_int_eq(tr.stop_epoch, want_epoch);
}

START_TEST(r16_early_stopping)
{
	const double nf[5] = {4, 3, INFINITY, 2, 1}, nn[5] = {4, 3, NAN, 2, 1};
	r16(NAN, NAN, nf, 5, FTSRT_STOP_NONFINITE, 2);
	r16(NAN, NAN, nn, 5, FTSRT_STOP_NONFINITE, 2);
	const double a[8] = {8, 4, 2, 3, 4, 5, 8, 10};
	r16(NAN, NAN, a, 8, FTSRT_STOP_PATIENCE, 5);
	const double b[10] = {9, 8, 7, 6, 5, 6, 4, 3, 2, 1};
	r16(2.9, NAN, b, 10, FTSRT_STOP_THRESHOLD, 8);
	const double c[6] = {9, 4, 2, 16, 32, 64};
	r16(NAN, 15.9, c, 6, FTSRT_STOP_DIVERGENCE, 3);
}
END_TEST

/* best_score is kept across phases; min_delta; mode max */
START_TEST(es_best_kept_across_phases)
{
	struct tp t;
	tp_init(&t);
	t.p.restore_best = false;
	t.p.es.patience = 2;
	t.p.es.min_delta = 0.05;
	/* 0.5 at epoch 1 is the global best; phase 1 never beats it by 0.05 */
	const double m[MAXE] = {1.0, 0.5, 0.6, 0.6, 0.47, 0.46, 0.2, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3};
	struct trace tr;
	drive(&t, m, 14, 2, &tr);
	ck_assert_msg(tr.rc == 0, "%s", tr.err);
	ck_assert_int_eq(tr.phase[3], 0);
	ck_assert_int_eq(tr.phase[4], 1);       /* wait 2 at epoch 3 */
	ck_assert_int_eq(tr.phase[6], 2);       /* 0.47, 0.46: not below 0.5 - 0.05 */
	ck_assert_int_eq(tr.phase[8], 2);       /* 0.2 improved at epoch 6 */
	ck_assert_int_eq(tr.phase[9], 3);
	/* mode max: rising metric never completes a phase */
	tp_init(&t);
	t.p.es.mode_max = true;
	t.p.ckpt.mode_max = true;
	t.p.max_epochs = 6;
	double up[MAXE];
	for (int e = 0; e < MAXE; e++)
		up[e] = e;
	drive(&t, up, 10, 2, &tr);
	ck_assert_int_eq(tr.phase[5], 0);
	ck_assert_int_eq(tr.stop, FTSRT_STOP_MAX_EPOCHS);
}
END_TEST

/* ---- the seed: SGD, Adam in phase 1, phase 2 without new_optimizer, restore_best ----
 * What a restore does is the plan's restore table (ftsc's analysis,
 * compiler/restore.c): the runtime refuses where it says the step fails,
 * applies the restored hyper-parameters where it says they revert, and
 * takes the checkpoint's state by slot name. */

START_TEST(seed_incompatible_restore)
{
	struct tp t;
	tp_init(&t);
	int adam = cls_add(&t, false, "torch.optim.Adam");
	arg_f(&t, adam, "lr", 2.1e-4);
	t.ph[1].new_optimizer = adam;
	static const char msg[] = "restore_best at the transition to phase 2: the best checkpoint, written in "
		"phase 0 under SGD, makes the first step fail: Adam.step raises KeyError: 'betas' (ftsc check "
		"FTSC080)";
	struct rt_plan_restore e = {2, 0, RT_RESTORE_FAILS, msg, NULL, 0};
	t.p.restores = &e;
	t.p.nrestores = 1;
	double m[MAXE];
	rising_after(m, 1, MAXE);
	struct trace tr;
	drive(&t, m, 12, 4, &tr);
	ck_assert_int_eq(tr.rc, FTSRT_EFORMAT);
	ck_assert_int_eq(tr.phase[3], 1);
	ck_assert_int_eq(tr.nepochs, 4);        /* refused at the transition after epoch 3 */
	ck_assert_msg(strstr(tr.err, msg) != NULL, "not check's message: %s", tr.err);
	/* the table names the source: a checkpoint of phase 1 (Adam into Adam) is restored */
	double m1[MAXE];
	for (int k = 0; k < MAXE; k++)
		m1[k] = k == 2 ? 1.0 : 5.0 + k;          /* phase 1's first epoch is the best */
	drive(&t, m1, 12, 4, &tr);
	ck_assert_msg(tr.rc == 0, "%s [%d %d %d %d %d %d]", tr.err, tr.phase[0], tr.phase[1], tr.phase[2], tr.phase[3], tr.phase[4], tr.phase[5]);
	/* without the table entry, the same restore runs (a plan says what fails) */
	t.p.nrestores = 0;
	drive(&t, m, 12, 4, &tr);
	ck_assert_msg(tr.rc == 0, "%s", tr.err);
	/* with new_optimizer at phase 2, the entry does not apply */
	t.p.nrestores = 1;
	int sgd = cls_add(&t, false, "torch.optim.SGD");
	arg_f(&t, sgd, "lr", 1e-3);
	t.ph[2].new_optimizer = sgd;
	drive(&t, m, 12, 4, &tr);
	ck_assert_msg(tr.rc == 0, "%s", tr.err);
	ck_assert_int_eq(tr.phase[5], 3);
}
END_TEST

/* SGD, then SGD(momentum 0.9): a restore of phase 0's checkpoint at phase 2
 * gives the restored group momentum 0 again (torch's load_state_dict); the
 * groups added after it keep 0.9. */
START_TEST(restore_reverts_hyperparameters)
{
	struct tp t;
	tp_init(&t);
	int sgdm = cls_add(&t, false, "torch.optim.SGD");
	arg_f(&t, sgdm, "lr", 1e-3);
	arg_f(&t, sgdm, "momentum", 0.9);
	t.ph[1].new_optimizer = sgdm;
	static const char msg[] = "restore_best at the transition to phase 2: the restored parameter groups "
		"run with its hyper-parameters: momentum 0.9 \xe2\x86\x92 0 (ftsc check FTSC095)";
	struct rt_plan_arg ov = {0};
	ov.name = "momentum";
	ov.kind = RT_ARG_FLOAT;
	ov.f = 0;
	struct rt_plan_restore e = {2, 0, RT_RESTORE_REVERTS, msg, &ov, 1};
	t.p.restores = &e;
	t.p.nrestores = 1;
	ftsrt_run *r;
	ck_assert_int_eq(rt_run_new(&r, &t.p, NULL, NULL), 0);
	size_t n = ftsrt_run_arena_numel(r);
	float *pa = calloc(n, 4), *ga = calloc(n, 4);
	init_params(pa, n);
	ck_assert_int_eq(ftsrt_run_bind_arena(r, pa, ga, n, 0, NULL), 0);
	double m[MAXE];
	rising_after(m, 1, MAXE);
	bool warned = false;
	for (int e2 = 0; e2 < MAXE && ftsrt_run_phase(r) < 2 && !ftsrt_run_finished(r); e2++) {
		for (int k = 0; k < 4; k++) {
			grads(r, pa, ga, n);
			ck_assert_int_eq(ftsrt_run_step(r, NULL), 0);
		}
		ck_assert_int_eq(ftsrt_run_epoch_end(r, m[e2], NULL), 0);
		struct ftsrt_run_event ev = FTSRT_INIT(struct ftsrt_run_event);
		while (ftsrt_run_next_event(r, &ev, NULL))
			if (ev.kind == FTSRT_EV_WARNING && strstr(ev.text, "momentum 0.9"))
				warned = true;
	}
	ck_assert_int_eq(ftsrt_run_phase(r), 2);
	ck_assert(warned);
	/* phase 0's group (restored), then phases 1 and 2 (added after the restore) */
	ck_assert_int_eq(ftsrt_run_ngroups(r), 3);
	struct ftsrt_optim_hparams h = FTSRT_INIT(struct ftsrt_optim_hparams);
	struct ftsrt_run_group g = FTSRT_INIT(struct ftsrt_run_group);
	ck_assert_int_eq(ftsrt_run_group(r, 0, &g, NULL), 0);
	ck_assert_int_eq(g.phase, 0);
	ck_assert_int_eq(ftsrt_run_group_hparams(r, 0, &h, NULL), 0);
	ck_assert(h.momentum == 0);
	ck_assert_int_eq(ftsrt_run_group_hparams(r, 2, &h, NULL), 0);
	ck_assert(h.momentum == 0.9);
	ftsrt_error err;
	ck_assert_int_eq(ftsrt_run_group_hparams(r, 3, &h, &err), FTSRT_EINVAL);
	ck_assert_int_eq(err.status, FTSRT_EINVAL);
	ck_assert_msg(strstr(err.message, "no group 3"), "%s", err.message);
	ck_assert_int_eq(ftsrt_run_group_hparams(NULL, 0, &h, NULL), FTSRT_EINVAL);
	/* it trains on with those values */
	grads(r, pa, ga, n);
	ck_assert_int_eq(ftsrt_run_step(r, NULL), 0);
	ftsrt_run_free(r);
	free(pa);
	free(ga);
}
END_TEST

/* A boolean hyper-parameter of the plan lands in its own bool field and
 * nowhere else: Adam(amsgrad=True) leaves every other flag at its default
 * (muon_bf16 and muon_use_addmm true, the rest false). */
START_TEST(group_hparams_bool_flags)
{
	struct tp t;
	tp_init(&t);
	int adam = cls_add(&t, false, "torch.optim.Adam");
	arg_f(&t, adam, "lr", 1e-3);
	struct rt_plan_arg *a = arg_new(&t, adam, "amsgrad");
	a->kind = RT_ARG_BOOL;
	a->b = true;
	t.p.initial_optimizer = adam;
	ftsrt_run *r = NULL;
	ftsrt_error err = {0};
	ck_assert_msg(rt_run_new(&r, &t.p, NULL, &err) == 0, "%s", err.message);
	struct ftsrt_optim_hparams want = FTSRT_INIT(struct ftsrt_optim_hparams);
	struct ftsrt_optim_hparams h = FTSRT_INIT(struct ftsrt_optim_hparams);
	ck_assert_int_eq(ftsrt_optim_hparams_default(FTSRT_OPTIM_ADAM, &want, NULL), 0);
	ck_assert(want.muon_bf16 && want.muon_use_addmm && !want.amsgrad);
	ck_assert_msg(ftsrt_run_group_hparams(r, 0, &h, &err) == 0, "%s", err.message);
	ck_assert(h.amsgrad);
	ck_assert_int_eq(h.nesterov, want.nesterov);
	ck_assert_int_eq(h.maximize, want.maximize);
	ck_assert_int_eq(h.decoupled_weight_decay, want.decoupled_weight_decay);
	ck_assert_int_eq(h.centered, want.centered);
	ck_assert_msg(h.muon_bf16 == want.muon_bf16 && h.muon_use_addmm == want.muon_use_addmm,
		      "amsgrad=True also set muon_bf16 %d, muon_use_addmm %d", h.muon_bf16, h.muon_use_addmm);
	ck_assert_int_eq(h.ns_steps, want.ns_steps);
	ck_assert_int_eq(h.adjust_lr_fn, want.adjust_lr_fn);
	ftsrt_run_free(r);
}
END_TEST

/* ---- checkpoints: kill during a write, resume ------------------------------------- */

struct killer {
	int64_t epoch_to_kill;             /* kill while writing last.ftsckpt of this epoch */
	ftsrt_run *r;
};

static void kill_hook(void *ud, size_t written, size_t total)
{
	struct killer *k = ud;
	if (ftsrt_run_epoch(k->r) == k->epoch_to_kill && written < total)
		kill(getpid(), SIGKILL);
}

static ftsrt_run *ck_run(const struct tp *t, const char *dir, float **p, float **g, size_t *n)
{
	struct ftsrt_run_options o = FTSRT_INIT(struct ftsrt_run_options);
	ck_assert_int_eq(ftsrt_run_options_default(&o, NULL), 0);
	o.ckpt_dir = dir;
	o.save_last = true;
	ftsrt_run *r = NULL;
	ftsrt_error err = {0};
	ck_assert_msg(rt_run_new(&r, &t->p, &o, &err) == 0, "%s", err.message);
	*n = ftsrt_run_arena_numel(r);
	*p = calloc(*n, sizeof(float));
	*g = calloc(*n, sizeof(float));
	init_params(*p, *n);
	ck_assert_int_eq(ftsrt_run_bind_arena(r, *p, *g, *n, 0, NULL), 0);
	return r;
}

START_TEST(kill_during_checkpoint_then_resume)
{
	struct tp t;
	tp_init(&t);
	t.p.es.patience = 2;
	s07(&t);                                /* optimizer and scheduler swaps, restore_best */
	double m[MAXE];
	rising_after(m, 1, MAXE);
	char ref_dir[] = "/tmp/check_run_refXXXXXX", dir[] = "/tmp/check_run_ckXXXXXX";
	ck_assert_ptr_nonnull(mkdtemp(ref_dir));
	ck_assert_ptr_nonnull(mkdtemp(dir));
	/* the uninterrupted reference */
	float *rp, *rg;
	size_t n;
	ftsrt_run *ref = ck_run(&t, ref_dir, &rp, &rg, &n);
	struct trace rtr;
	memset(&rtr, 0, sizeof(rtr));
	drive_run(ref, rp, rg, n, m, 12, 16, &rtr);
	ck_assert_msg(rtr.rc == 0, "%s", rtr.err);
	/* the victim: SIGKILLed half-way through writing epoch 5's last checkpoint */
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		float *p, *g;
		size_t nn;
		ftsrt_run *r = ck_run(&t, dir, &p, &g, &nn);
		struct killer k = {5, r};
		rt_run_set_ckpt_hook(r, kill_hook, &k);
		struct trace tr;
		memset(&tr, 0, sizeof(tr));
		drive_run(r, p, g, nn, m, 12, 16, &tr);
		_exit(0);                       /* not reached */
	}
	int status;
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	/* last.ftsckpt is the intact epoch-4 checkpoint; resume a fresh run from it */
	char path[256];
	snprintf(path, sizeof(path), "%s/last.ftsckpt", dir);
	float *p, *g;
	ftsrt_run *r = ck_run(&t, dir, &p, &g, &n);
	ftsrt_error err = {0};
	ck_assert_msg(ftsrt_run_resume(r, path, &err) == 0, "%s", err.message);
	ck_assert_int_eq(ftsrt_run_epoch(r), 5);
	struct trace tr;
	memset(&tr, 0, sizeof(tr));
	drive_run(r, p, g, n, m, 12, 16, &tr);
	ck_assert_msg(tr.rc == 0, "%s", tr.err);
	ck_assert_int_eq(tr.stop, rtr.stop);
	ck_assert_int_eq(tr.stop_epoch, rtr.stop_epoch);
	for (int e = 5; e < rtr.nepochs; e++)
		for (int k = 0; k < rtr.ng[e]; k++)
			ck_assert(tr.lr[e][k] == rtr.lr[e][k]);
	ck_assert_msg(memcmp(p, rp, n * sizeof(float)) == 0, "resumed parameters differ");
	/* a damaged checkpoint is refused (by a new run: the directory is free again) */
	ftsrt_run_free(r);
	r = NULL;
	FILE *f = fopen(path, "r+b");
	ck_assert_ptr_nonnull(f);
	fseek(f, 100, SEEK_SET);
	fputc(0x55 ^ fgetc(f), f);
	fclose(f);
	float *p2, *g2;
	ftsrt_run *r2 = ck_run(&t, dir, &p2, &g2, &n);
	ck_assert_int_eq(ftsrt_run_resume(r2, path, &err), FTSRT_EFORMAT);
	ck_assert_int_eq(err.status, FTSRT_EFORMAT);
	ftsrt_run_free(r2);
	free(p2);
	free(g2);
	ftsrt_run_free(ref);
	free(p);
	free(g);
	free(rp);
	free(rg);
	char cmd[512];
	snprintf(cmd, sizeof(cmd), "rm -rf %s %s", dir, ref_dir);
	ck_assert_int_eq(system(cmd), 0);
}
END_TEST

/* ftsrt_run_save between epochs keeps the latest validation metric, so a
 * resumed step-interval ReduceLROnPlateau steps as the uninterrupted run */
START_TEST(save_resume_step_plateau)
{
	struct tp t;
	double m[MAXE];
	step_plateau(&t, m);
	/* the reference in a directory of its own: one run per checkpoint directory */
	char dir[] = "/tmp/check_run_spXXXXXX", rdir[] = "/tmp/check_run_sprXXXXXX", path[256];
	ck_assert_ptr_nonnull(mkdtemp(rdir));
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/mid.ftsckpt", dir);
	float *rp, *rg, *p, *g;
	size_t n;
	ftsrt_run *ref = ck_run(&t, rdir, &rp, &rg, &n);
	struct trace rtr, tr;
	memset(&rtr, 0, sizeof(rtr));
	drive_run(ref, rp, rg, n, m, 5, 4, &rtr);
	ck_assert_msg(rtr.rc == 0, "%s", rtr.err);
	ftsrt_run *a = ck_run(&t, dir, &p, &g, &n);
	memset(&tr, 0, sizeof(tr));
	drive_run(a, p, g, n, m, 2, 4, &tr);
	ck_assert_int_eq(ftsrt_run_epoch(a), 2);
	ftsrt_error err = {0};
	ck_assert_msg(ftsrt_run_save(a, path, &err) == 0, "%s", err.message);
	ftsrt_run_free(a);
	free(p);
	free(g);
	ftsrt_run *b = ck_run(&t, dir, &p, &g, &n);
	ck_assert_msg(ftsrt_run_resume(b, path, &err) == 0, "%s", err.message);
	memset(&tr, 0, sizeof(tr));
	drive_run(b, p, g, n, m, 5, 4, &tr);
	ck_assert_msg(tr.rc == 0, "%s", tr.err);
	for (int e = 2; e < 5; e++)
		ck_assert_msg(tr.lr[e][0] == rtr.lr[e][0], "epoch %d: lr %g, uninterrupted %g", e,
			      tr.lr[e][0], rtr.lr[e][0]);
	ck_assert(rtr.lr[4][0] == 1e-06);
	ck_assert_msg(memcmp(p, rp, n * sizeof(float)) == 0, "resumed parameters differ");
	ftsrt_run_free(b);
	ftsrt_run_free(ref);
	free(p);
	free(g);
	free(rp);
	free(rg);
	char cmd[512];
	snprintf(cmd, sizeof(cmd), "rm -rf %s %s", dir, rdir);
	ck_assert_int_eq(system(cmd), 0);
}
END_TEST

/* ---- several runs in one process; per-tensor binding ---------------------------------- */

START_TEST(several_runs_interleaved)
{
	struct tp a, b;
	tp_init(&a);
	a.p.es.patience = 2;
	s07(&a);
	tp_init(&b);
	s03(&b);
	double ma[MAXE], mb[MAXE];
	rising_after(ma, 1, MAXE);
	rising_after(mb, 3, MAXE);
	struct trace ta, tb, sa, sb;
	drive(&a, ma, 10, 8, &sa);
	drive(&b, mb, 10, 8, &sb);
	ftsrt_run *ra, *rb;
	ck_assert_int_eq(rt_run_new(&ra, &a.p, NULL, NULL), 0);
	ck_assert_int_eq(rt_run_new(&rb, &b.p, NULL, NULL), 0);
	size_t n = ftsrt_run_arena_numel(ra);
	float *pa = calloc(n, 4), *ga = calloc(n, 4), *pb = calloc(n, 4), *gb = calloc(n, 4);
	init_params(pa, n);
	init_params(pb, n);
	ck_assert_int_eq(ftsrt_run_bind_arena(ra, pa, ga, n, 0, NULL), 0);
	ck_assert_int_eq(ftsrt_run_bind_arena(rb, pb, gb, n, 0, NULL), 0);
	memset(&ta, 0, sizeof(ta));
	memset(&tb, 0, sizeof(tb));
	for (int e = 1; e <= 10; e++) {         /* one epoch of each, alternately */
		drive_run(ra, pa, ga, n, ma, e, 8, &ta);
		drive_run(rb, pb, gb, n, mb, e, 8, &tb);
	}
	for (int e = 0; e < 10; e++)
		for (int k = 0; k < sa.ng[e]; k++) {
			ck_assert(ta.lr[e][k] == sa.lr[e][k]);
			ck_assert(tb.lr[e][k] == sb.lr[e][k]);
		}
	ftsrt_run_free(ra);
	ftsrt_run_free(rb);
	free(pa);
	free(ga);
	free(pb);
	free(gb);
}
END_TEST

START_TEST(per_tensor_binding_matches_arena)
{
	struct tp t;
	tp_init(&t);
	t.p.es.patience = 2;
	s07(&t);
	double m[MAXE];
	rising_after(m, 1, MAXE);
	ftsrt_run *ra, *rt;
	ck_assert_int_eq(rt_run_new(&ra, &t.p, NULL, NULL), 0);
	ck_assert_int_eq(rt_run_new(&rt, &t.p, NULL, NULL), 0);
	size_t n = ftsrt_run_arena_numel(ra);
	float *pa = calloc(n, 4), *ga = calloc(n, 4);
	float *pt[8], *gt[8];
	init_params(pa, n);
	for (int i = 0; i < 8; i++) {
		size_t off, k;
		ck_assert_int_eq(ftsrt_run_param_offset(rt, i, &off, &k, NULL), 0);
		pt[i] = malloc(k * 4);
		gt[i] = malloc(k * 4);
		memcpy(pt[i], pa + off, k * 4);
		int64_t shape[2] = {t.dims[i][0], 32};
		if (i % 2)
			ck_assert_int_eq(ftsrt_run_bind(rt, NULL, i, pt[i], gt[i], 1, shape, NULL), 0);
		else
			ck_assert_int_eq(ftsrt_run_bind(rt, names[i], -1, pt[i], gt[i], 2, shape, NULL), 0);
	}
	ck_assert_int_eq(ftsrt_run_bind_arena(ra, pa, ga, n, 0, NULL), 0);
	float *tmpp = malloc(n * 4), *tmpg = malloc(n * 4);
	while (!ftsrt_run_finished(ra)) {
		int64_t e = ftsrt_run_epoch(ra);
		for (int s = 0; s < 8; s++) {
			grads(ra, pa, ga, n);
			for (int i = 0; i < 8; i++) {
				size_t off, k;
				ftsrt_run_param_offset(rt, i, &off, &k, NULL);
				memcpy(tmpp + off, pt[i], k * 4);
			}
			grads(rt, tmpp, tmpg, n);
			for (int i = 0; i < 8; i++) {
				size_t off, k;
				ftsrt_run_param_offset(rt, i, &off, &k, NULL);
				memcpy(gt[i], tmpg + off, k * 4);
			}
			ck_assert_int_eq(ftsrt_run_step(ra, NULL), 0);
			ck_assert_int_eq(ftsrt_run_step(rt, NULL), 0);
		}
		ck_assert_int_eq(ftsrt_run_epoch_end(ra, m[e], NULL), 0);
		ck_assert_int_eq(ftsrt_run_epoch_end(rt, m[e], NULL), 0);
	}
	for (int i = 0; i < 8; i++) {
		size_t off, k;
		ftsrt_run_param_offset(rt, i, &off, &k, NULL);
		ck_assert_msg(memcmp(pt[i], pa + off, k * 4) == 0, "parameter %d differs", i);
		free(pt[i]);
		free(gt[i]);
	}
	ftsrt_run_free(ra);
	ftsrt_run_free(rt);
	free(pa);
	free(ga);
	free(tmpp);
	free(tmpg);
}
END_TEST

/* ---- bad calls --------------------------------------------------------------------- */

START_TEST(bad_calls)
{
	struct tp t;
	tp_init(&t);
	ftsrt_run *r = NULL;
	struct ftsrt_run_options o = FTSRT_INIT(struct ftsrt_run_options);
	ftsrt_error err;
	ck_assert_int_eq(ftsrt_run_options_default(NULL, &err), FTSRT_EINVAL);
	ck_assert_int_eq(err.status, FTSRT_EINVAL);
	ck_assert_int_eq(ftsrt_run_options_default(&o, NULL), 0);
	o.threads = -1;
	ck_assert_int_eq(rt_run_new(&r, &t.p, &o, &err), FTSRT_EINVAL);
	ck_assert_ptr_null(r);
	o.threads = 1;
	o.save_last = true;                     /* without a directory */
	ck_assert_int_eq(rt_run_new(&r, &t.p, &o, &err), FTSRT_EINVAL);
	ck_assert_int_eq(rt_run_new(NULL, &t.p, NULL, NULL), FTSRT_EINVAL);
	ck_assert_int_eq(rt_run_new(&r, NULL, NULL, &err), FTSRT_EINVAL);
	t.p.max_depth = 7;
	ck_assert_int_eq(rt_run_new(&r, &t.p, NULL, &err), FTSRT_EINVAL);
	ck_assert_msg(strstr(err.message, "max_depth 7"), "%s", err.message);
	t.p.max_depth = 3;
	int bogus = cls_add(&t, false, "torch.optim.NoSuchOptimizer");
	t.p.initial_optimizer = bogus;
	ck_assert_int_eq(rt_run_new(&r, &t.p, NULL, &err), FTSRT_EINVAL);
	ck_assert_int_eq(err.status, FTSRT_EINVAL);
	ck_assert_msg(strstr(err.message, "NoSuchOptimizer"), "%s", err.message);
	tp_init(&t);
	ck_assert_int_eq(ftsrt_run_new(&r, NULL, NULL, NULL), FTSRT_EINVAL);
	ck_assert_int_eq(rt_run_new(&r, &t.p, NULL, NULL), 0);
	ck_assert_int_eq(ftsrt_run_step(r, &err), FTSRT_EINVAL);        /* nothing bound */
	ck_assert_int_eq(err.status, FTSRT_EINVAL);
	ck_assert_msg(strstr(err.message, "bound"), "%s", err.message);
	size_t n = ftsrt_run_arena_numel(r);
	ck_assert_uint_eq(n, 3 * (32 * 32 + 32) + 2 * 32 + 2);
	float *p = calloc(n, 4), *g = calloc(n, 4);
	ck_assert_int_eq(ftsrt_run_bind_arena(r, p, g, n - 1, 0, NULL), FTSRT_EINVAL);
	ck_assert_int_eq(ftsrt_run_bind_arena(r, p, g, n, 0x999, NULL), FTSRT_EINVAL);
	ck_assert_int_eq(ftsrt_run_bind_arena(r, NULL, g, n, 0, NULL), FTSRT_EINVAL);
	int64_t bad[2] = {31, 32};
	ck_assert_int_eq(ftsrt_run_bind(r, "model.0.weight", -1, p, g, 2, bad, NULL), FTSRT_EINVAL);
	ck_assert_int_eq(ftsrt_run_bind(r, "model.9.weight", -1, p, g, 2, bad, NULL), FTSRT_EINVAL);
	ck_assert_int_eq(ftsrt_run_bind(r, NULL, 99, p, g, 2, bad, NULL), FTSRT_EINVAL);
	int32_t idx = -1;
	ck_assert_int_eq(ftsrt_run_param_index(r, "model.3.bias", &idx, NULL), 0);
	ck_assert_int_eq(idx, 7);
	ck_assert_int_eq(ftsrt_run_param_index(r, "nope", &idx, NULL), FTSRT_EINVAL);
	ck_assert_int_eq(ftsrt_run_param_offset(r, 8, NULL, NULL, NULL), FTSRT_EINVAL);
	ck_assert(ftsrt_run_thawed(r, 7));
	ck_assert(!ftsrt_run_thawed(r, 0));
	ck_assert(!ftsrt_run_thawed(r, -1));
	ck_assert_int_eq(ftsrt_run_bind_arena(r, p, g, n, 0x1234, NULL), 0);
	ck_assert_int_eq(ftsrt_run_step(r, NULL), 0);
	struct ftsrt_run_group gi = FTSRT_INIT(struct ftsrt_run_group);
	ck_assert_int_eq(ftsrt_run_group(r, 1, &gi, NULL), FTSRT_EINVAL);
	ck_assert_int_eq(ftsrt_run_group(r, 0, NULL, NULL), FTSRT_EINVAL);
	ck_assert_int_eq(ftsrt_run_resume(r, "/nonexistent/x.ftsckpt", &err), FTSRT_EIO);
	ck_assert_int_eq(err.status, FTSRT_EIO);
	ck_assert_int_eq(ftsrt_run_step(NULL, NULL), FTSRT_EINVAL);
	ck_assert_int_eq(ftsrt_run_epoch_end(NULL, 1, NULL), FTSRT_EINVAL);
	ck_assert(!ftsrt_run_next_event(NULL, NULL, NULL));
	t.p.max_epochs = 1;
	ftsrt_run *r1;
	ck_assert_int_eq(rt_run_new(&r1, &t.p, NULL, NULL), 0);
	ck_assert_int_eq(ftsrt_run_epoch_end(r1, 1.0, NULL), FTSRT_EINVAL);    /* checkpoint due, nothing bound */
	ftsrt_run_free(r1);
	t.p.restore_best = false;
	ck_assert_int_eq(rt_run_new(&r1, &t.p, NULL, NULL), 0);
	ck_assert_int_eq(ftsrt_run_epoch_end(r1, 1.0, NULL), 0);
	ck_assert_int_eq(ftsrt_run_finished(r1), FTSRT_STOP_MAX_EPOCHS);
	ck_assert_int_eq(ftsrt_run_epoch_end(r1, 1.0, &err), FTSRT_EINVAL);
	ck_assert_int_eq(err.status, FTSRT_EINVAL);
	ftsrt_run_free(r1);
	/* a transition with restore_best before any checkpoint (phase 0 mte 0) */
	tp_init(&t);
	t.p.restore_best = true;
	t.ph[0].mte = 0;
	ck_assert_int_eq(rt_run_new(&r1, &t.p, NULL, &err), FTSRT_EINVAL);
	ck_assert_int_eq(err.status, FTSRT_EINVAL);
	ck_assert_msg(strstr(err.message, "no checkpoint"), "%s", err.message);
	ck_assert_ptr_null(r1);
	t.p.restore_best = false;
	ck_assert_int_eq(rt_run_new(&r1, &t.p, NULL, &err), 0);
	ck_assert_int_eq(ftsrt_run_phase(r1), 1);       /* phase 0 trained zero epochs */
	ftsrt_run_free(r1);
	ftsrt_run_free(r);
	ftsrt_run_free(NULL);
	free(p);
	free(g);
}
END_TEST

/* allocation failures: every N-th allocation fails, the run fails cleanly */
struct failalloc {
	long n, fail_at;
};

static void *fail_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
	struct failalloc *f = ud;
	(void)osize;
	if (nsize == 0) {
		free(ptr);
		return NULL;
	}
	if (++f->n == f->fail_at)
		return NULL;
	return realloc(ptr, nsize);
}

START_TEST(oom_sweep)
{
	struct tp t;
	tp_init(&t);
	t.p.es.patience = 2;
	s07(&t);
	double m[MAXE];
	rising_after(m, 1, MAXE);
	int ok = 0;
	for (long k = 1; k < 400 && !ok; k++) {
		struct failalloc f = {0, k};
		struct ftsrt_run_options o = FTSRT_INIT(struct ftsrt_run_options);
		ftsrt_run_options_default(&o, NULL);
		o.alloc = fail_alloc;
		o.alloc_ud = &f;
		ftsrt_run *r = NULL;
		ftsrt_error err;
		int rc = rt_run_new(&r, &t.p, &o, &err);
		if (rc) {
			ck_assert_msg(rc == FTSRT_ENOMEM, "allocation %ld: rc %d", k, rc);
			ck_assert_int_eq(err.status, rc);
			ck_assert_ptr_null(r);
			continue;
		}
		size_t n = ftsrt_run_arena_numel(r);
		float *p = calloc(n, 4), *g = calloc(n, 4);
		ftsrt_run_bind_arena(r, p, g, n, 0, NULL);
		struct trace tr;
		memset(&tr, 0, sizeof(tr));
		drive_run(r, p, g, n, m, 10, 2, &tr);
		ck_assert(tr.rc == 0 || tr.rc == FTSRT_ENOMEM);
		ok = tr.rc == 0 && f.n < k;
		ftsrt_run_free(r);
		free(p);
		free(g);
	}
	ck_assert_msg(ok, "never completed");
}
END_TEST

/* A resume refused part-way (an allocation fails at every point in turn)
 * leaves the run as it was: it trains on exactly as a run that never tried. */
START_TEST(resume_failure_rolls_back)
{
	struct tp t;
	tp_init(&t);
	t.p.es.patience = 2;
	s07(&t);
	double m[MAXE];
	rising_after(m, 1, MAXE);
	char dir[] = "/tmp/check_run_rbXXXXXX", path[256];
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/at3.ftsckpt", dir);
	/* the reference: 3 epochs, a save, then to the end */
	struct ftsrt_run_options o = FTSRT_INIT(struct ftsrt_run_options);
	ck_assert_int_eq(ftsrt_run_options_default(&o, NULL), 0);
	ftsrt_run *ref = NULL;
	ck_assert_int_eq(rt_run_new(&ref, &t.p, &o, NULL), 0);
	size_t n = ftsrt_run_arena_numel(ref);
	float *rp = calloc(n, 4), *rg = calloc(n, 4);
	init_params(rp, n);
	ck_assert_int_eq(ftsrt_run_bind_arena(ref, rp, rg, n, 0, NULL), 0);
	struct trace tr;
	memset(&tr, 0, sizeof(tr));
	drive_run(ref, rp, rg, n, m, 3, 4, &tr);
	ck_assert_int_eq(ftsrt_run_save(ref, path, NULL), 0);
	drive_run(ref, rp, rg, n, m, 12, 4, &tr);
	ck_assert_int_eq(tr.rc, 0);
	bool resumed = false;
	int failed = 0;
	for (long k = 1; k < 2000 && !resumed; k++) {
		struct failalloc f = {0, 0};
		o.alloc = fail_alloc;
		o.alloc_ud = &f;
		ftsrt_run *r = NULL;
		ck_assert_int_eq(rt_run_new(&r, &t.p, &o, NULL), 0);
		float *p = calloc(n, 4), *g = calloc(n, 4);
		init_params(p, n);
		ck_assert_int_eq(ftsrt_run_bind_arena(r, p, g, n, 0, NULL), 0);
		struct trace t2;
		memset(&t2, 0, sizeof(t2));
		drive_run(r, p, g, n, m, 3, 4, &t2);
		f.n = 0;
		f.fail_at = k;
		ftsrt_error err;
		int rc = ftsrt_run_resume(r, path, &err);
		f.fail_at = 0;
		if (rc == 0) {
			resumed = true;
		} else {
			ck_assert_msg(rc == FTSRT_ENOMEM, "allocation %ld: rc %d (%s)", k, rc, err.message);
			ck_assert_int_eq(err.status, rc);
			failed++;
		}
		ck_assert_int_eq(ftsrt_run_epoch(r), 3);
		drive_run(r, p, g, n, m, 12, 4, &t2);
		ck_assert_msg(t2.rc == 0, "after a refused resume (allocation %ld): %s", k, t2.err);
		ck_assert_msg(memcmp(p, rp, n * 4) == 0, "allocation %ld: the run differs after the refused resume", k);
		ftsrt_run_free(r);
		free(p);
		free(g);
	}
	ck_assert(resumed && failed > 10);
	ftsrt_run_free(ref);
	free(rp);
	free(rg);
	unlink(path);
	rmdir(dir);
}
END_TEST

/* Checkpoint files: never written through a planted symlink, one run per
 * directory, stale temporaries removed; a resume refuses what is not a
 * regular file or not a checkpoint before reading it all. */
START_TEST(checkpoint_files_safe)
{
	struct tp t;
	tp_init(&t);
	t.p.es.patience = 2;
	s07(&t);
	double m[MAXE];
	rising_after(m, 1, MAXE);
	char dir[] = "/tmp/check_run_fsXXXXXX", victim[] = "/tmp/check_run_victimXXXXXX", path[512];
	ck_assert_ptr_nonnull(mkdtemp(dir));
	int vfd = mkstemp(victim);
	ck_assert_int_ge(vfd, 0);
	ck_assert_int_eq(write(vfd, "precious", 8), 8);
	close(vfd);
	/* planted links at the old fixed temporary name and at the checkpoint itself */
	snprintf(path, sizeof(path), "%s/best.ftsckpt.tmp", dir);
	ck_assert_int_eq(symlink(victim, path), 0);
	snprintf(path, sizeof(path), "%s/last.ftsckpt", dir);
	ck_assert_int_eq(symlink(victim, path), 0);
	/* a stale temporary a killed writer left */
	snprintf(path, sizeof(path), "%s/best.ftsckpt.tmp.AbC123", dir);
	FILE *f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fclose(f);
	float *p, *g;
	size_t n;
	ftsrt_run *r = ck_run(&t, dir, &p, &g, &n);
	ck_assert_int_ne(access(path, F_OK), 0);        /* removed by the lock holder */
	/* a second run on the same directory is refused, naming the first */
	struct ftsrt_run_options o = FTSRT_INIT(struct ftsrt_run_options);
	ck_assert_int_eq(ftsrt_run_options_default(&o, NULL), 0);
	o.ckpt_dir = dir;
	ftsrt_run *r2 = NULL;
	ftsrt_error err;
	ck_assert_int_eq(rt_run_new(&r2, &t.p, &o, &err), FTSRT_EBUSY);
	ck_assert_int_eq(err.status, FTSRT_EBUSY);
	char want[64];
	snprintf(want, sizeof(want), "in use by pid %ld", (long)getpid());
	/* the lock is per process: another process sees the pid */
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		ftsrt_run *r3 = NULL;
		ftsrt_error e3;
		int rc3 = rt_run_new(&r3, &t.p, &o, &e3);
		_exit(rc3 == FTSRT_EBUSY && e3.status == rc3 && strstr(e3.message, want) ? 0 : 1);
	}
	int status;
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the other process was not refused by pid");
	struct trace tr;
	memset(&tr, 0, sizeof(tr));
	drive_run(r, p, g, n, m, 8, 4, &tr);
	ck_assert_msg(tr.rc == 0, "%s", tr.err);
	char buf[16] = {0};
	f = fopen(victim, "r");
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fread(buf, 1, sizeof(buf) - 1, f), 8);
	fclose(f);
	ck_assert_str_eq(buf, "precious");
	struct stat st;
	snprintf(path, sizeof(path), "%s/best.ftsckpt", dir);
	ck_assert(lstat(path, &st) == 0 && S_ISREG(st.st_mode));
	snprintf(path, sizeof(path), "%s/last.ftsckpt", dir);
	ck_assert(lstat(path, &st) == 0 && S_ISREG(st.st_mode));
	/* resume: a FIFO and a large file that is no checkpoint are refused at once */
	snprintf(path, sizeof(path), "%s/fifo", dir);
	ck_assert_int_eq(mkfifo(path, 0600), 0);
	ck_assert_int_eq(ftsrt_run_resume(r, path, &err), FTSRT_EIO);
	ck_assert_int_eq(err.status, FTSRT_EIO);
	ck_assert_msg(strstr(err.message, "not a regular file"), "%s", err.message);
	snprintf(path, sizeof(path), "%s/big", dir);
	int bfd = open(path, O_CREAT | O_WRONLY, 0600);
	ck_assert_int_ge(bfd, 0);
	ck_assert_int_eq(ftruncate(bfd, (off_t)1 << 30), 0);     /* 1 GiB, sparse */
	close(bfd);
	ck_assert_int_eq(ftsrt_run_resume(r, path, &err), FTSRT_EFORMAT);
	ck_assert_int_eq(err.status, FTSRT_EFORMAT);
	ck_assert_msg(strstr(err.message, "not a checkpoint"), "%s", err.message);
	ftsrt_run_free(r);
	/* the directory is free again */
	ck_assert_msg(rt_run_new(&r2, &t.p, &o, &err) == 0, "%s", err.message);
	ftsrt_run_free(r2);
	free(p);
	free(g);
	unlink(victim);
	char cmd[600];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	ck_assert_int_eq(system(cmd), 0);
}
END_TEST

/* ---- the 1.0 conventions: ftsrt_error and struct_size ------------------------------ */

static bool msg_has(const ftsrt_error *e, const char *s)
{
	return strstr(e->message, s) != NULL;
}

/* err holds status and a one-line, NUL-terminated message naming `want` */
#define ck_err(e, st, want)                                                                   \
	do {                                                                                  \
		ck_assert_int_eq((e).status, (st));                                           \
		ck_assert_ptr_nonnull(memchr((e).message, 0, sizeof((e).message)));           \
		ck_assert_ptr_null(strchr((e).message, '\n'));                                \
		ck_assert_msg(msg_has(&(e), (want)), "message \"%s\" lacks \"%s\"", (e).message, \
			      (want));                                                        \
	} while (0)

/* A failing call fills *err with its status and a message saying what is
 * wrong; NULL err is accepted (same status); a call that succeeds leaves
 * *err as it was. */
START_TEST(err_filled_and_null_accepted)
{
	struct tp t;
	tp_init(&t);
	ftsrt_run *r = NULL;
	ck_assert_int_eq(rt_run_new(&r, &t.p, NULL, NULL), 0);
	ftsrt_error err;
	memset(&err, 0x5a, sizeof(err));        /* no NUL anywhere: the library must write one */
	/* a step before binding */
	ck_assert_int_eq(ftsrt_run_step(r, &err), FTSRT_EINVAL);
	ck_err(err, FTSRT_EINVAL, "not (all) bound");
	ck_assert_int_eq(ftsrt_run_step(r, NULL), FTSRT_EINVAL);
	ck_assert_int_eq(ftsrt_run_global_step(r), 0);
	size_t n = ftsrt_run_arena_numel(r);
	float *p = calloc(n, 4), *g = calloc(n, 4);
	/* a wrong shape names the parameter and the dimension */
	int64_t d0[2] = {31, 32}, d1[2] = {32, 33};
	ck_assert_int_eq(ftsrt_run_bind(r, "model.0.weight", -1, p, g, 2, d0, &err), FTSRT_EINVAL);
	ck_err(err, FTSRT_EINVAL, "'model.0.weight': dimension 0 is 31, the manifest says 32");
	ck_assert_int_eq(ftsrt_run_bind(r, NULL, 2, p, g, 2, d1, &err), FTSRT_EINVAL);
	ck_err(err, FTSRT_EINVAL, "'model.1.weight': dimension 1 is 33, the manifest says 32");
	ck_assert_int_eq(ftsrt_run_bind(r, "model.0.weight", -1, p, g, 2, d0, NULL), FTSRT_EINVAL);
	ck_assert_int_eq(ftsrt_run_bind(r, "model.0.bias", -1, p, g, 2, d0, &err), FTSRT_EINVAL);
	ck_err(err, FTSRT_EINVAL, "number of dimensions");
	ck_assert_int_eq(ftsrt_run_bind(r, "model.9.weight", -1, p, g, 2, d0, &err), FTSRT_EINVAL);
	ck_err(err, FTSRT_EINVAL, "model.9.weight");
	ck_assert_int_eq(ftsrt_run_bind(r, NULL, 99, p, g, 2, d0, &err), FTSRT_EINVAL);
	ck_err(err, FTSRT_EINVAL, "no parameter 99");
	/* the arena */
	ck_assert_int_eq(ftsrt_run_bind_arena(r, p, g, n - 1, 0, &err), FTSRT_EINVAL);
	char want[128];
	snprintf(want, sizeof(want), "%zu elements, the plan's parameters %zu", n - 1, n);
	ck_err(err, FTSRT_EINVAL, want);
	ck_assert_int_eq(ftsrt_run_bind_arena(r, p, g, n, 0x999, &err), FTSRT_EINVAL);
	ck_err(err, FTSRT_EINVAL, "manifest hash 0000000000000999");
	ck_assert_int_eq(ftsrt_run_bind_arena(r, p, g, n, 0x999, NULL), FTSRT_EINVAL);
	/* lookups: the output stays untouched on failure */
	int32_t idx = -7;
	ck_assert_int_eq(ftsrt_run_param_index(r, "nope", &idx, &err), FTSRT_EINVAL);
	ck_err(err, FTSRT_EINVAL, "'nope'");
	ck_assert_int_eq(idx, -7);
	ck_assert_int_eq(ftsrt_run_param_index(r, "nope", &idx, NULL), FTSRT_EINVAL);
	ck_assert_int_eq(ftsrt_run_param_index(r, NULL, &idx, &err), FTSRT_EINVAL);
	ck_err(err, FTSRT_EINVAL, "NULL");
	ck_assert_int_eq(ftsrt_run_param_index(r, "model.0.bias", NULL, NULL), FTSRT_EINVAL);
	ck_assert_int_eq(ftsrt_run_param_offset(r, 8, NULL, NULL, &err), FTSRT_EINVAL);
	ck_err(err, FTSRT_EINVAL, "no parameter 8");
	ck_assert_int_eq(ftsrt_run_param_offset(r, -1, NULL, NULL, NULL), FTSRT_EINVAL);
	struct ftsrt_run_group gi = FTSRT_INIT(struct ftsrt_run_group);
	ck_assert_int_eq(ftsrt_run_group(r, 1, &gi, &err), FTSRT_EINVAL);
	ck_err(err, FTSRT_EINVAL, "no group 1");
	ck_assert_int_eq(ftsrt_run_group(r, -1, &gi, NULL), FTSRT_EINVAL);
	/* no run at all */
	ck_assert_int_eq(ftsrt_run_epoch_end(NULL, 1.0, &err), FTSRT_EINVAL);
	ck_err(err, FTSRT_EINVAL, "ftsrt_run_epoch_end");
	ck_assert_int_eq(ftsrt_run_save(NULL, "/tmp/x", &err), FTSRT_EINVAL);
	ck_err(err, FTSRT_EINVAL, "ftsrt_run_save");
	ck_assert_int_eq(ftsrt_run_resume(NULL, "/tmp/x", NULL), FTSRT_EINVAL);
	ck_assert_int_eq(ftsrt_run_nparams(NULL), 0);
	/* successes leave err alone */
	ftsrt_error keep;
	memcpy(&keep, &err, sizeof(err));
	ck_assert_int_eq(ftsrt_run_bind_arena(r, p, g, n, 0x1234, &err), 0);
	ck_assert_int_eq(ftsrt_run_param_index(r, "model.3.bias", &idx, &err), 0);
	ck_assert_int_eq(idx, 7);
	size_t off = 1, k = 1;
	ck_assert_int_eq(ftsrt_run_param_offset(r, idx, &off, &k, &err), 0);
	ck_assert_uint_eq(off + k, n);
	grads(r, p, g, n);
	ck_assert_int_eq(ftsrt_run_step(r, &err), 0);
	ck_assert_int_eq(ftsrt_run_group(r, 0, &gi, &err), 0);
	ck_assert_int_eq(ftsrt_run_epoch_end(r, 1.0, &err), 0);
	ck_assert_msg(memcmp(&keep, &err, sizeof(err)) == 0, "a successful call changed err: %d \"%s\"",
		      err.status, err.message);
	ftsrt_run_free(r);
	free(p);
	free(g);
}
END_TEST

/* ftsrt_run_new refuses a bad option, the message naming the option and its
 * value; *out is NULL; NULL err gives the same status.  (ftsrt_run_new is
 * rt_run_new on the plan's view: these hand-built plans have no file.) */
START_TEST(run_new_bad_options)
{
	struct tp t;
	tp_init(&t);
	static const char *const want[] = {
		"threads -1", "threads 5000", "scale 2", "scale -1e-300", "scale nan", "scale -0.5",
		"save_last needs a ckpt_dir", "dtype 7", "dtype -1", "kernels 9", "precision 1",
		"precision 5",
	};
	for (int c = 0; c < (int)(sizeof(want) / sizeof(want[0])); c++) {
		struct ftsrt_run_options o = FTSRT_INIT(struct ftsrt_run_options);
		ck_assert_int_eq(ftsrt_run_options_default(&o, NULL), 0);
		switch (c) {
		case 0: o.threads = -1; break;
		case 1: o.threads = 5000; break;
		case 2: o.scale = 2; break;
		case 3: o.scale = -1e-300; break;
		case 4: o.scale = NAN; break;
		case 5: o.scale = -0.5; break;
		case 6: o.save_last = true; break;
		case 7: o.dtype = 7; break;
		case 8: o.dtype = -1; break;
		case 9: o.kernels = 9; break;
		case 10: o.precision = FTSRT_PRECISION_MASTER; break;   /* of float32 arenas */
		case 11: o.dtype = FTSRT_BF16; o.precision = 5; break;
		}
		ftsrt_run *r = (ftsrt_run *)&t;         /* any non-NULL value: it must be reset */
		ftsrt_error err;
		ck_assert_int_eq(rt_run_new(&r, &t.p, &o, &err), FTSRT_EINVAL);
		ck_assert_ptr_null(r);
		ck_err(err, FTSRT_EINVAL, want[c]);
		ck_assert_msg(msg_has(&err, "run options"), "%s", err.message);
		r = (ftsrt_run *)&t;
		ck_assert_int_eq(rt_run_new(&r, &t.p, &o, NULL), FTSRT_EINVAL);
		ck_assert_ptr_null(r);
	}
	/* zeros are the defaults: an FTSRT_INIT'd struct is all defaults */
	{
		struct ftsrt_run_options z = FTSRT_INIT(struct ftsrt_run_options);
		ftsrt_run *r = NULL;
		ftsrt_error err = {0};
		ck_assert_msg(rt_run_new(&r, &t.p, &z, &err) == 0, "%s", err.message);
		ftsrt_run *d = NULL;
		ck_assert_int_eq(rt_run_new(&d, &t.p, NULL, &err), 0);
		ck_assert_uint_eq(ftsrt_run_arena_numel(r), ftsrt_run_arena_numel(d)); /* scale 1 */
		ftsrt_run_free(d);
		ftsrt_run_free(r);
	}
	/* the good values next to them */
	struct ftsrt_run_options o = FTSRT_INIT(struct ftsrt_run_options);
	ck_assert_int_eq(ftsrt_run_options_default(&o, NULL), 0);
	ck_assert_int_eq(o.dtype, FTSRT_F32);
	ck_assert_int_eq(o.threads, 1);
	ck_assert_int_eq(o.kernels, FTSRT_KERNELS_FAST);
	ck_assert(!o.save_last);
	ck_assert_ptr_null(o.ckpt_dir);
	ck_assert(o.scale == 1.0);
	ck_assert(o.alloc == NULL);
	o.threads = 4096;
	o.scale = 0.5;
	o.dtype = FTSRT_F64;
	o.kernels = FTSRT_KERNELS_REF;
	ftsrt_run *r = NULL;
	ftsrt_error err = {0};
	ck_assert_msg(rt_run_new(&r, &t.p, &o, &err) == 0, "%s", err.message);
	ck_assert_uint_eq(ftsrt_run_arena_numel(r), 3 * (16 * 16 + 16) + 16 + 1);
	for (int pr = 0; pr < 2; pr++) {        /* bfloat16 arenas, both precisions */
		struct ftsrt_run_options lo = o;
		lo.dtype = FTSRT_BF16;
		lo.precision = pr;
		ftsrt_run *lr = NULL;
		ck_assert_msg(rt_run_new(&lr, &t.p, &lo, &err) == 0, "%s", err.message);
		ck_assert_uint_eq(ftsrt_run_arena_numel(lr), ftsrt_run_arena_numel(r));
		ftsrt_run_free(lr);
	}
	ftsrt_run_free(r);
	/* the public constructor's own checks */
	ck_assert_int_eq(ftsrt_run_new(&r, NULL, &o, &err), FTSRT_EINVAL);
	ck_err(err, FTSRT_EINVAL, "NULL plan");
	ck_assert_ptr_null(r);
	ck_assert_int_eq(ftsrt_run_new(NULL, NULL, NULL, &err), FTSRT_EINVAL);
	ck_err(err, FTSRT_EINVAL, "NULL out");
	ck_assert_int_eq(ftsrt_run_new(NULL, NULL, NULL, NULL), FTSRT_EINVAL);
	ck_assert_int_eq(rt_run_new(&r, NULL, NULL, NULL), FTSRT_EINVAL);
	ck_assert_int_eq(ftsrt_run_options_default(NULL, &err), FTSRT_EINVAL);
	ck_err(err, FTSRT_EINVAL, "NULL options");
}
END_TEST

static long count_allocs;

static void *counting_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
	(void)ud;
	(void)osize;
	count_allocs++;
	if (nsize == 0) {
		free(ptr);
		return NULL;
	}
	return realloc(ptr, nsize);
}

/* struct_size of ftsrt_run_options: 0 (or less than a size_t) is refused;
 * a caller's older, shorter struct is read only as far as it goes, the
 * rest defaulted; a newer, longer one is accepted while its extra fields
 * are zero.  The same for the structs the run fills. */
START_TEST(options_struct_size)
{
	struct tp t;
	tp_init(&t);
	const size_t full = 3 * (32 * 32 + 32) + 2 * 32 + 2;
	ftsrt_run *r = NULL;
	ftsrt_error err;
	struct ftsrt_run_options o = FTSRT_INIT(struct ftsrt_run_options);
	ck_assert_int_eq(ftsrt_run_options_default(&o, NULL), 0);
	ck_assert_uint_eq(o.struct_size, sizeof(o));
	/* 0 and a partial size_t are refused, by the constructor and by the defaults */
	static const size_t refused[] = {0, 1, sizeof(size_t) - 1};
	for (int c = 0; c < 3; c++) {
		o.struct_size = refused[c];
		r = (ftsrt_run *)&t;
		ck_assert_int_eq(rt_run_new(&r, &t.p, &o, &err), FTSRT_EINVAL);
		ck_assert_ptr_null(r);
		char want[64];
		snprintf(want, sizeof(want), "struct_size %zu", refused[c]);
		ck_err(err, FTSRT_EINVAL, want);
		ck_assert_msg(msg_has(&err, "ftsrt_run_options"), "%s", err.message);
		ck_assert_int_eq(rt_run_new(&r, &t.p, &o, NULL), FTSRT_EINVAL);
		struct ftsrt_run_options z;
		memset(&z, 0x77, sizeof(z));
		z.struct_size = refused[c];
		ck_assert_int_eq(ftsrt_run_options_default(&z, &err), FTSRT_EINVAL);
		ck_err(err, FTSRT_EINVAL, want);
		ck_assert_int_eq(z.threads, 0x77777777);        /* untouched */
	}
	/* an older caller's struct ends before ckpt_dir: what lies past it is
	 * never read (each of these would fail or show if it were) */
	const size_t old = offsetof(struct ftsrt_run_options, ckpt_dir);
	struct ftsrt_run_options s = FTSRT_INIT(struct ftsrt_run_options);
	ck_assert_int_eq(ftsrt_run_options_default(&s, NULL), 0);
	s.struct_size = old;
	s.ckpt_dir = "/nonexistent/ckpt/dir";
	s.scale = 5;
	s.alloc = counting_alloc;
	count_allocs = 0;
	ck_assert_msg(rt_run_new(&r, &t.p, &s, &err) == 0, "%s", err.message);
	ck_assert_uint_eq(ftsrt_run_arena_numel(r), full);      /* scale 1 */
	ck_assert_int_eq(count_allocs, 0);                      /* malloc */
	float *p = calloc(full, 4), *g = calloc(full, 4);
	ck_assert_int_eq(ftsrt_run_bind_arena(r, p, g, full, 0, NULL), 0);
	grads(r, p, g, full);
	ck_assert_int_eq(ftsrt_run_step(r, NULL), 0);
	ck_assert_int_eq(ftsrt_run_epoch_end(r, 1.0, NULL), 0);
	struct ftsrt_run_event ev = FTSRT_INIT(struct ftsrt_run_event);
	bool in_memory = false;
	while (ftsrt_run_next_event(r, &ev, NULL))
		if (ev.kind == FTSRT_EV_CKPT_SAVED)
			in_memory = strstr(ev.text, "kept in memory") != NULL;
	ck_assert_msg(in_memory, "the best checkpoint was not kept in memory (ckpt_dir read?)");
	ck_assert_int_eq(count_allocs, 0);
	ftsrt_run_free(r);
	/* ... while what lies before it is read */
	s.save_last = true;
	ck_assert_int_eq(rt_run_new(&r, &t.p, &s, &err), FTSRT_EINVAL);
	ck_err(err, FTSRT_EINVAL, "save_last needs a ckpt_dir");     /* the set ckpt_dir unseen */
	s.save_last = false;
	s.threads = -3;
	ck_assert_int_eq(rt_run_new(&r, &t.p, &s, &err), FTSRT_EINVAL);
	ck_err(err, FTSRT_EINVAL, "threads -3");
	/* the defaults for an older caller fill its struct only */
	union {
		struct ftsrt_run_options o;
		unsigned char b[sizeof(struct ftsrt_run_options) + 16];
	} u;
	memset(&u, 0xa5, sizeof(u));
	u.o.struct_size = old;
	ck_assert_int_eq(ftsrt_run_options_default(&u.o, NULL), 0);
	ck_assert_uint_eq(u.o.struct_size, old);
	ck_assert_int_eq(u.o.dtype, FTSRT_F32);
	ck_assert_int_eq(u.o.threads, 1);
	ck_assert_int_eq(u.o.kernels, FTSRT_KERNELS_FAST);
	ck_assert(!u.o.save_last);
	for (size_t k = old; k < sizeof(u); k++)
		ck_assert_msg(u.b[k] == 0xa5, "byte %zu past struct_size %zu written", k, old);
	/* a newer caller's longer struct: zeroed extra fields are fine, set ones refused */
	struct {
		struct ftsrt_run_options o;
		uint64_t later;
	} big;
	memset(&big, 0, sizeof(big));
	big.later = UINT64_MAX;
	big.o.struct_size = sizeof(big);
	ck_assert_int_eq(ftsrt_run_options_default(&big.o, NULL), 0);
	ck_assert_uint_eq(big.o.struct_size, sizeof(big));
	ck_assert_uint_eq(big.later, 0);                /* the library's defaults end: zero */
	ck_assert_int_eq(big.o.threads, 1);
	ck_assert_msg(rt_run_new(&r, &t.p, &big.o, &err) == 0, "%s", err.message);
	ftsrt_run_free(r);
	big.later = 1;
	ck_assert_int_eq(rt_run_new(&r, &t.p, &big.o, &err), FTSRT_EINVAL);
	ck_assert_ptr_null(r);
	ck_err(err, FTSRT_EINVAL, "ftsrt_run_options");
	ck_assert_msg(msg_has(&err, "does not know"), "%s", err.message);
	/* the structs a run fills: group and group hparams */
	ck_assert_int_eq(rt_run_new(&r, &t.p, NULL, NULL), 0);
	struct ftsrt_run_group gi = FTSRT_INIT(struct ftsrt_run_group);
	gi.struct_size = 0;
	gi.nparams = -3;
	ck_assert_int_eq(ftsrt_run_group(r, 0, &gi, &err), FTSRT_EINVAL);
	ck_err(err, FTSRT_EINVAL, "struct_size 0");
	ck_assert_int_eq(gi.nparams, -3);
	struct ftsrt_optim_hparams h = FTSRT_INIT(struct ftsrt_optim_hparams);
	h.struct_size = 0;
	h.lr = -1;
	ck_assert_int_eq(ftsrt_run_group_hparams(r, 0, &h, &err), FTSRT_EINVAL);
	ck_err(err, FTSRT_EINVAL, "struct_size 0");
	ck_assert(h.lr == -1);
	union {
		struct ftsrt_run_group g;
		unsigned char b[sizeof(struct ftsrt_run_group) + 16];
	} ug;
	memset(&ug, 0xa5, sizeof(ug));
	const size_t gsz = offsetof(struct ftsrt_run_group, phase);
	ug.g.struct_size = gsz;
	ck_assert_int_eq(ftsrt_run_group(r, 0, &ug.g, &err), 0);
	ck_assert_uint_eq(ug.g.struct_size, gsz);
	ck_assert(ug.g.lr == 1e-3);
	ck_assert(ug.g.weight_decay == 1e-6);
	for (size_t k = gsz; k < sizeof(ug); k++)
		ck_assert_msg(ug.b[k] == 0xa5, "group: byte %zu past struct_size %zu written", k, gsz);
	ftsrt_run_free(r);
	free(p);
	free(g);
}
END_TEST

/* two identical runs with events queued: a's are drained with full structs
 * as the reference for b's */
struct ref_ev {
	int32_t kind, phase, reason;
	int64_t epoch;
	char text[256];
};

static ftsrt_run *ev_run(const struct tp *t, float **p, float **g)
{
	ftsrt_run *r = NULL;
	ck_assert_int_eq(rt_run_new(&r, &t->p, NULL, NULL), 0);
	size_t n = ftsrt_run_arena_numel(r);
	*p = calloc(n, 4);
	*g = calloc(n, 4);
	init_params(*p, n);
	ck_assert_int_eq(ftsrt_run_bind_arena(r, *p, *g, n, 0, NULL), 0);
	/* epoch 0 the best; 1 and 2 worse: two transitions with restores */
	static const double m[3] = {1.0, 2.0, 3.0};
	for (int e = 0; e < 3; e++) {
		grads(r, *p, *g, n);
		ck_assert_int_eq(ftsrt_run_step(r, NULL), 0);
		ck_assert_int_eq(ftsrt_run_epoch_end(r, m[e], NULL), 0);
	}
	return r;
}

static int ev_reference(const struct tp *t, struct ref_ev *ref, int max)
{
	float *p, *g;
	ftsrt_run *r = ev_run(t, &p, &g);
	struct ftsrt_run_event ev = FTSRT_INIT(struct ftsrt_run_event);
	int n = 0;
	while (n < max && ftsrt_run_next_event(r, &ev, NULL)) {
		ck_assert_uint_eq(ev.struct_size, sizeof(ev));
		ck_assert_ptr_nonnull(ev.text);
		ref[n].kind = ev.kind;
		ref[n].phase = ev.phase;
		ref[n].reason = ev.reason;
		ref[n].epoch = ev.epoch;
		snprintf(ref[n].text, sizeof(ref[n].text), "%s", ev.text);
		n++;
	}
	ck_assert(!ftsrt_run_next_event(r, &ev, NULL));
	ftsrt_run_free(r);
	free(p);
	free(g);
	return n;
}

static void ev_same(const struct ftsrt_run_event *ev, const struct ref_ev *ref, int i)
{
	ck_assert_msg(ev->kind == ref->kind && ev->phase == ref->phase && ev->epoch == ref->epoch &&
		      ev->reason == ref->reason, "event %d: kind %d phase %d epoch %" PRId64
		      ", want kind %d phase %d epoch %" PRId64, i, ev->kind, ev->phase, ev->epoch,
		      ref->kind, ref->phase, ref->epoch);
	ck_assert_str_eq(ev->text, ref->text);
}

/* A struct_size of 0 (or less than a size_t) takes no event: false, the
 * event stays queued and the next good call gets it; nothing is written. */
START_TEST(event_struct_size_zero_keeps_queued)
{
	struct tp t;
	tp_init(&t);
	struct ref_ev ref[16];
	int nref = ev_reference(&t, ref, 16);
	ck_assert_int_ge(nref, 4);
	float *p, *g;
	ftsrt_run *r = ev_run(&t, &p, &g);
	struct ftsrt_run_event ev = FTSRT_INIT(struct ftsrt_run_event);
	int i = 0;
	for (; i < nref; i++) {
		if (i < 3) {                    /* a refused call before each of the first three */
			struct ftsrt_run_event bad;
			memset(&bad, 0x3c, sizeof(bad));
			bad.struct_size = i == 2 ? sizeof(size_t) - 1 : 0;
			ftsrt_error e = {0, ""};
			ck_assert_msg(!ftsrt_run_next_event(r, &bad, &e), "struct_size %zu took event %d",
				      bad.struct_size, i);
			/* refused, and said so: not mistaken for an empty queue */
			ck_assert_int_eq(e.status, FTSRT_EINVAL);
			ck_assert_ptr_nonnull(strstr(e.message, "ftsrt_run_event"));
			unsigned char *b = (unsigned char *)&bad;
			for (size_t k = sizeof(size_t); k < sizeof(bad); k++)
				ck_assert_msg(b[k] == 0x3c, "refused call wrote byte %zu", k);
		}
		ck_assert_msg(ftsrt_run_next_event(r, &ev, NULL), "event %d lost", i);
		ev_same(&ev, &ref[i], i);
	}
	/* an empty queue is no error: err is left alone */
	ftsrt_error e = {12345, "untouched"};
	ck_assert(!ftsrt_run_next_event(r, &ev, &e));
	ck_assert_int_eq(e.status, 12345);
	ck_assert_str_eq(e.message, "untouched");
	ck_assert(!ftsrt_run_next_event(r, NULL, &e));
	ck_assert_int_eq(e.status, FTSRT_EINVAL);
	ftsrt_run_free(r);
	free(p);
	free(g);
}
END_TEST

/* An older caller's event struct ends after `epoch`: it gets kind, phase and
 * epoch, and not a byte past its struct_size is written; a newer caller's
 * longer struct gets its extra fields zeroed. */
START_TEST(event_struct_size_short_fills_only_that_far)
{
	struct tp t;
	tp_init(&t);
	struct ref_ev ref[16];
	int nref = ev_reference(&t, ref, 16);
	ck_assert_int_ge(nref, 4);
	float *p, *g;
	ftsrt_run *r = ev_run(&t, &p, &g);
	const size_t old = offsetof(struct ftsrt_run_event, epoch) + sizeof(int64_t);
	union {
		struct ftsrt_run_event ev;
		unsigned char b[sizeof(struct ftsrt_run_event) + 16];
	} u;
	memset(&u, 0xa5, sizeof(u));
	u.ev.struct_size = old;
	ck_assert(ftsrt_run_next_event(r, &u.ev, NULL));
	ck_assert_uint_eq(u.ev.struct_size, old);
	ck_assert_int_eq(u.ev.kind, ref[0].kind);
	ck_assert_int_eq(u.ev.phase, ref[0].phase);
	ck_assert_int_eq(u.ev.epoch, ref[0].epoch);
	for (size_t k = old; k < sizeof(u); k++)
		ck_assert_msg(u.b[k] == 0xa5, "byte %zu past struct_size %zu written (reason at %zu, "
			      "text at %zu)", k, old, offsetof(struct ftsrt_run_event, reason),
			      offsetof(struct ftsrt_run_event, text));
	/* it took exactly one event */
	struct ftsrt_run_event ev = FTSRT_INIT(struct ftsrt_run_event);
	ck_assert(ftsrt_run_next_event(r, &ev, NULL));
	ev_same(&ev, &ref[1], 1);
	/* a newer, longer struct */
	struct {
		struct ftsrt_run_event ev;
		uint64_t later[2];
	} big;
	memset(&big, 0xff, sizeof(big));
	big.ev.struct_size = sizeof(big);
	ck_assert(ftsrt_run_next_event(r, &big.ev, NULL));
	ck_assert_uint_eq(big.ev.struct_size, sizeof(big));
	ev_same(&big.ev, &ref[2], 2);
	ck_assert_uint_eq(big.later[0], 0);
	ck_assert_uint_eq(big.later[1], 0);
	ftsrt_run_free(r);
	free(p);
	free(g);
}
END_TEST

/* ---- external runs (1.2): the job's optimizer does the math ------------------------------- */

static ftsrt_run *ext_run(const struct tp *t, const char *dir)
{
	struct ftsrt_run_options o = FTSRT_INIT(struct ftsrt_run_options);
	ck_assert_int_eq(ftsrt_run_options_default(&o, NULL), 0);
	ck_assert(!o.external);
	o.external = true;
	o.ckpt_dir = dir;
	ftsrt_run *r = NULL;
	ftsrt_error err = {0};
	ck_assert_msg(rt_run_new(&r, &t->p, &o, &err) == 0, "%s", err.message);
	return r;
}

/* Phases, group lrs and layouts, restores and the stop of an external run are
 * the native run's, with nothing bound; the optimizer's generation moves at
 * new_optimizer; binding is refused; checkpoints of the two kinds do not mix. */
START_TEST(external_run_decides_as_native)
{
	struct tp t;
	tp_init(&t);
	int adam = cls_add(&t, false, "torch.optim.Adam");
	arg_f(&t, adam, "lr", 2.1e-4);
	t.ph[2].new_optimizer = adam;
	double m[MAXE];
	rising_after(m, 1, MAXE);
	struct trace nat, ext;
	drive(&t, m, 14, 3, &nat);
	ck_assert_msg(nat.rc == 0, "%s", nat.err);
	ck_assert_int_gt(nat.restored, 0);
	ftsrt_run *r = ext_run(&t, NULL);
	float x = 0;
	ftsrt_error err = {0};
	ck_assert_int_eq(ftsrt_run_bind_arena(r, &x, &x, ftsrt_run_arena_numel(r), 0, &err), FTSRT_EINVAL);
	ck_err(err, FTSRT_EINVAL, "external run binds no arenas");
	int64_t shape[2] = {32, 32};
	ck_assert_int_eq(ftsrt_run_bind(r, "model.0.weight", -1, &x, &x, 2, shape, &err), FTSRT_EINVAL);
	ck_err(err, FTSRT_EINVAL, "external run binds no tensors");
	struct ftsrt_run_optimizer oi = FTSRT_INIT(struct ftsrt_run_optimizer);
	ck_assert_int_eq(ftsrt_run_optimizer(r, &oi, NULL), 0);
	ck_assert_int_eq(oi.kind, FTSRT_OPTIM_SGD);
	ck_assert_int_eq(oi.phase, 0);
	ck_assert_uint_eq(oi.generation, 0);
	ck_assert_str_eq(oi.class_path, "torch.optim.SGD");
	size_t n = ftsrt_run_arena_numel(r);
	float *p = calloc(n, sizeof(float)), *g = calloc(n, sizeof(float));
	memset(&ext, 0, sizeof(ext));
	drive_run(r, p, g, n, m, 14, 3, &ext);
	ck_assert_msg(ext.rc == 0, "%s", ext.err);
	ck_assert_int_eq(ext.nepochs, nat.nepochs);
	ck_assert_int_eq(ext.stop, nat.stop);
	ck_assert_int_eq(ext.stop_epoch, nat.stop_epoch);
	ck_assert_int_eq(ext.restored, nat.restored);
	for (int k = 0; k < nat.restored; k++)
		ck_assert_int_eq(ext.restored_phase[k], nat.restored_phase[k]);
	for (int e = 0; e < nat.nepochs; e++) {
		ck_assert_int_eq(ext.phase[e], nat.phase[e]);
		ck_assert_int_eq(ext.ng[e], nat.ng[e]);
		ck_assert_int_eq(ext.thawed[e], nat.thawed[e]);
		for (int k = 0; k < nat.ng[e] && k < MAXG; k++) {
			ck_assert_msg(ext.lr[e][k] == nat.lr[e][k], "epoch %d group %d: lr %g, native %g", e,
				      k, ext.lr[e][k], nat.lr[e][k]);
			ck_assert_int_eq(ext.gparams[e][k], nat.gparams[e][k]);
		}
	}
	ck_assert_int_eq(ftsrt_run_optimizer(r, &oi, NULL), 0);
	ck_assert_int_eq(oi.kind, FTSRT_OPTIM_ADAM);
	ck_assert_int_eq(oi.phase, 2);
	ck_assert_uint_eq(oi.generation, 1);
	ck_assert_str_eq(oi.class_path, "torch.optim.Adam");
	ck_assert_int_eq(ftsrt_run_optimizer(NULL, &oi, &err), FTSRT_EINVAL);
	ck_assert_int_eq(ftsrt_run_optimizer(r, NULL, &err), FTSRT_EINVAL);
	ftsrt_run_free(r);
	/* a 1.1 caller's options end where 1.2's reserved_1_1 begins its padding:
	 * what lies past them (garbage in reserved_1_1, external) is not read */
	struct ftsrt_run_options o = FTSRT_INIT(struct ftsrt_run_options);
	ck_assert_int_eq(ftsrt_run_options_default(&o, NULL), 0);
	ck_assert_uint_eq(offsetof(struct ftsrt_run_options, reserved_1_1) % 8, 4);
	o.struct_size = offsetof(struct ftsrt_run_options, reserved_1_1) + 4;
	o.reserved_1_1 = 0x5a5a5a5a;
	o.external = true;
	ck_assert_msg(rt_run_new(&r, &t.p, &o, &err) == 0, "%s", err.message);
	ck_assert_int_eq(ftsrt_run_bind_arena(r, p, g, n, 0, &err), 0);      /* native */
	ftsrt_run_free(r);
	/* garbage in reserved_1_1 of a 1.2 caller is ignored too */
	o.struct_size = sizeof(o);
	o.external = false;
	ck_assert_msg(rt_run_new(&r, &t.p, &o, &err) == 0, "%s", err.message);
	ftsrt_run_free(r);
	free(p);
	free(g);
}
END_TEST

/* FTSRT_EV_CKPT_SAVED says which checkpoint it reports (1.2): an external
 * job snapshots on the best one only. */
START_TEST(ckpt_saved_reason)
{
	struct tp t;
	tp_init(&t);
	char dir[] = "/tmp/check_run_rsXXXXXX";
	ck_assert_ptr_nonnull(mkdtemp(dir));
	float *p, *g;
	size_t n;
	ftsrt_run *r = ck_run(&t, dir, &p, &g, &n);
	ck_assert_int_eq(ftsrt_run_step(r, NULL), 0);
	ck_assert_int_eq(ftsrt_run_epoch_end(r, 1.0, NULL), 0);
	ck_assert_int_eq(ftsrt_run_step(r, NULL), 0);
	ck_assert_int_eq(ftsrt_run_epoch_end(r, 2.0, NULL), 0);     /* no improvement: last only */
	struct ftsrt_run_event ev = FTSRT_INIT(struct ftsrt_run_event);
	int got[8], k = 0;
	while (ftsrt_run_next_event(r, &ev, NULL) && k < 8)
		if (ev.kind == FTSRT_EV_CKPT_SAVED) {
			ck_assert_ptr_nonnull(strstr(ev.text, ev.reason == FTSRT_CKPT_BEST ? "best.ftsckpt"
						     : "last.ftsckpt"));
			got[k++] = ev.reason;
		}
	ck_assert_int_eq(k, 3);
	ck_assert_int_eq(got[0], FTSRT_CKPT_BEST);
	ck_assert_int_eq(got[1], FTSRT_CKPT_LAST);
	ck_assert_int_eq(got[2], FTSRT_CKPT_LAST);
	ftsrt_run_free(r);
	free(p);
	free(g);
	char cmd[512];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	ck_assert_int_eq(system(cmd), 0);
}
END_TEST

/* The seed's incompatible restore (SGD's checkpoint into Adam) is refused in an
 * external run with the native run's status and message. */
START_TEST(external_incompatible_restore)
{
	struct tp t;
	tp_init(&t);
	int adam = cls_add(&t, false, "torch.optim.Adam");
	arg_f(&t, adam, "lr", 2.1e-4);
	t.ph[1].new_optimizer = adam;
	static const char msg[] = "restore_best at the transition to phase 2: the best checkpoint, written in "
		"phase 0 under SGD, makes the first step fail (FTSC080)";
	struct rt_plan_restore e = {2, 0, RT_RESTORE_FAILS, msg, NULL, 0};
	t.p.restores = &e;
	t.p.nrestores = 1;
	double m[MAXE];
	rising_after(m, 1, MAXE);
	struct trace nat, ext;
	drive(&t, m, 12, 4, &nat);
	ck_assert_int_eq(nat.rc, FTSRT_EFORMAT);
	ftsrt_run *r = ext_run(&t, NULL);
	size_t n = ftsrt_run_arena_numel(r);
	float *p = calloc(n, sizeof(float)), *g = calloc(n, sizeof(float));
	memset(&ext, 0, sizeof(ext));
	drive_run(r, p, g, n, m, 12, 4, &ext);
	ck_assert_int_eq(ext.rc, FTSRT_EFORMAT);
	ck_assert_int_eq(ext.nepochs, nat.nepochs);
	ck_assert_str_eq(ext.err, nat.err);
	ck_assert_msg(strstr(ext.err, msg) != NULL, "%s", ext.err);
	ftsrt_run_free(r);
	free(p);
	free(g);
}
END_TEST

/* Save and resume of an external run: the run's own state, no parameters; a
 * resumed run goes on as the uninterrupted one, its optimizer a new
 * generation; a native run refuses the checkpoint and the other way round. */
START_TEST(external_save_resume)
{
	struct tp t;
	tp_init(&t);
	double m[MAXE];
	rising_after(m, 3, MAXE);
	char dir[] = "/tmp/check_run_exXXXXXX", rdir[] = "/tmp/check_run_exrXXXXXX";
	char path[256], npath[256];
	ck_assert_ptr_nonnull(mkdtemp(dir));
	ck_assert_ptr_nonnull(mkdtemp(rdir));
	snprintf(path, sizeof(path), "%s/mid.ftsckpt", dir);
	snprintf(npath, sizeof(npath), "%s/native.ftsckpt", dir);
	ftsrt_run *ref = ext_run(&t, rdir);
	size_t n = ftsrt_run_arena_numel(ref);
	float *p = calloc(n, sizeof(float)), *g = calloc(n, sizeof(float));
	struct trace rtr, tr;
	memset(&rtr, 0, sizeof(rtr));
	drive_run(ref, p, g, n, m, 9, 3, &rtr);
	ck_assert_msg(rtr.rc == 0, "%s", rtr.err);
	ftsrt_run *a = ext_run(&t, dir);
	memset(&tr, 0, sizeof(tr));
	drive_run(a, p, g, n, m, 4, 3, &tr);
	ftsrt_error err = {0};
	ck_assert_msg(ftsrt_run_save(a, path, &err) == 0, "%s", err.message);
	ftsrt_run_free(a);
	ftsrt_run *b = ext_run(&t, dir);
	ck_assert_msg(ftsrt_run_resume(b, path, &err) == 0, "%s", err.message);
	struct ftsrt_run_optimizer oi = FTSRT_INIT(struct ftsrt_run_optimizer);
	ck_assert_int_eq(ftsrt_run_optimizer(b, &oi, NULL), 0);
	ck_assert_uint_eq(oi.generation, 1);
	ck_assert_int_eq(ftsrt_run_epoch(b), 4);
	memset(&tr, 0, sizeof(tr));
	drive_run(b, p, g, n, m, 9, 3, &tr);
	ck_assert_msg(tr.rc == 0, "%s", tr.err);
	for (int e = 4; e < rtr.nepochs; e++) {
		ck_assert_int_eq(tr.phase[e], rtr.phase[e]);
		ck_assert_int_eq(tr.ng[e], rtr.ng[e]);
		for (int k = 0; k < rtr.ng[e] && k < MAXG; k++)
			ck_assert(tr.lr[e][k] == rtr.lr[e][k]);
	}
	ck_assert_int_eq(ftsrt_run_global_step(b), ftsrt_run_global_step(ref));
	/* a native run refuses the external checkpoint; an external run a native one */
	float *np_ = NULL, *ng_ = NULL;
	size_t nn;
	ftsrt_run_free(b);
	ftsrt_run *nat = ck_run(&t, dir, &np_, &ng_, &nn);
	ck_assert_int_eq(ftsrt_run_resume(nat, path, &err), FTSRT_EFORMAT);
	ck_err(err, FTSRT_EFORMAT, "checkpoint of an external run");
	ck_assert_msg(ftsrt_run_save(nat, npath, &err) == 0, "%s", err.message);
	ftsrt_run_free(nat);
	ftsrt_run *c = ext_run(&t, dir);
	ck_assert_int_eq(ftsrt_run_resume(c, npath, &err), FTSRT_EFORMAT);
	ck_err(err, FTSRT_EFORMAT, "checkpoint of a native run");
	ftsrt_run_free(c);
	ftsrt_run_free(ref);
	/* master weights are the job's optimizer's business in an external run */
	tp_init(&t);
	struct ftsrt_run_options o = FTSRT_INIT(struct ftsrt_run_options);
	o.external = true;
	o.dtype = FTSRT_BF16;
	o.precision = FTSRT_PRECISION_MASTER;
	ck_assert_int_eq(rt_run_new(&c, &t.p, &o, &err), FTSRT_EINVAL);
	ck_err(err, FTSRT_EINVAL, "external run");
	free(p);
	free(g);
	free(np_);
	free(ng_);
	char cmd[512];
	snprintf(cmd, sizeof(cmd), "rm -rf %s %s", dir, rdir);
	ck_assert_int_eq(system(cmd), 0);
}
END_TEST


/* ---- sharded runs (ZeRO-1, libftsrt 1.3) ------------------------------------------ */

#define SW 3                            /* ranks */

static ftsrt_run *shard_run(const struct tp *t, const char *dir, int rank, int world, float **p,
			    float **g, size_t *n)
{
	struct ftsrt_run_options o = FTSRT_INIT(struct ftsrt_run_options);
	ck_assert_int_eq(ftsrt_run_options_default(&o, NULL), 0);
	o.ckpt_dir = dir;
	o.shard_rank = rank;
	o.shard_world = world;
	ftsrt_run *r = NULL;
	ftsrt_error err = {0};
	ck_assert_msg(rt_run_new(&r, &t->p, &o, &err) == 0, "%s", err.message);
	*n = ftsrt_run_arena_numel(r);
	*p = calloc(*n, sizeof(float));
	*g = calloc(*n, sizeof(float));
	init_params(*p, *n);
	ck_assert_int_eq(ftsrt_run_bind_arena(r, *p, *g, *n, 0, NULL), 0);
	return r;
}

/* One epoch of W ranks: the same gradients on each (the all-reduced ones),
 * each steps its slice, then each slice is copied to the others (the
 * all-gather); the metric is the same on all. */
static void shard_epoch(ftsrt_run **r, float **p, float **g, size_t n, int world, double metric,
			int steps, size_t *state)
{
	for (int s = 0; s < steps; s++) {
		for (int k = 0; k < world; k++) {
			grads(r[k], p[k], g[k], n);
			ftsrt_error err = {0};
			ck_assert_msg(ftsrt_run_step(r[k], &err) == 0, "%s", err.message);
		}
		for (int k = 0; k < world; k++) {
			size_t b, e;
			ck_assert_int_eq(ftsrt_run_shard_range(r[k], &b, &e, NULL), 0);
			for (int j = 0; j < world; j++)
				if (j != k)
					memcpy(p[j] + b, p[k] + b, (e - b) * sizeof(float));
		}
	}
	for (int k = 0; k < world; k++) {
		ftsrt_error err = {0};
		if (state)      /* the state after the epoch's steps (a transition rebuilds it) */
			state[k] = ftsrt_run_state_bytes(r[k]);
		ck_assert_msg(ftsrt_run_epoch_end(r[k], metric, &err) == 0, "%s", err.message);
		struct ftsrt_run_event ev = FTSRT_INIT(struct ftsrt_run_event);
		while (ftsrt_run_next_event(r[k], &ev, NULL))
			;
	}
}

/* The slices tile the arena in rank order; elementwise cuts fall on 64-byte
 * multiples, whole-tensor ones on tensor boundaries. */
static void check_partition(ftsrt_run **r, int world, bool whole)
{
	size_t prev = 0, n = ftsrt_run_arena_numel(r[0]);
	for (int k = 0; k < world; k++) {
		size_t b, e;
		ck_assert_int_eq(ftsrt_run_shard_range(r[k], &b, &e, NULL), 0);
		ck_assert_uint_eq(b, prev);
		ck_assert_uint_le(b, e);
		bool edge = e == n;
		for (int i = 0; i < ftsrt_run_nparams(r[k]) && !edge; i++) {
			size_t off, cnt;
			if (!ftsrt_run_param_offset(r[k], i, &off, &cnt, NULL))
				edge = off == e;
		}
		if (whole)
			ck_assert_msg(edge, "cut %zu is not a tensor boundary", e);
		else
			ck_assert_msg(e == n || e % 16 == 0, "cut %zu is not 64-byte aligned", e);
		/* balanced: within a tensor (whole) or 16 elements of n/W */
		double ideal = (double)n * (k + 1) / world;
		ck_assert_msg(fabs((double)e - ideal) <= (whole ? 1056 : 16), "cut %zu far from %g", e, ideal);
		prev = e;
	}
	ck_assert_uint_eq(prev, n);
}

/*
 * W ranks, each its slice of the optimizer state, against one unsharded
 * run: the same phases, lrs and bit-identical parameters through optimizer
 * swaps (SGD, Adam, SGD with momentum), scheduler swaps and restore_best
 * at every transition; each rank's state about 1/W of the whole; every
 * rank's save and resume continue bit-identically; another world size or
 * rank is refused.
 */
static void sharded_vs_single(struct tp *t, bool whole)
{
	double m[MAXE];
	rising_after(m, 1, MAXE);
	const int nep = 9, steps = 5, cut = 5;
	char dir[] = "/tmp/check_run_shXXXXXX";
	ck_assert_ptr_nonnull(mkdtemp(dir));
	char d1[300], dw[300], dr[300];
	snprintf(d1, sizeof(d1), "%s/one", dir);
	snprintf(dw, sizeof(dw), "%s/sharded", dir);
	snprintf(dr, sizeof(dr), "%s/resumed", dir);
	ck_assert_int_eq(mkdir(d1, 0777), 0);
	ck_assert_int_eq(mkdir(dw, 0777), 0);
	ck_assert_int_eq(mkdir(dr, 0777), 0);
	float *p1, *g1, *p[SW], *g[SW];
	size_t n;
	ftsrt_run *one = shard_run(t, d1, 0, 1, &p1, &g1, &n), *r[SW];
	for (int k = 0; k < SW; k++)
		r[k] = shard_run(t, dw, k, SW, &p[k], &g[k], &n);
	check_partition(r, SW, whole);
	size_t b1, e1;
	ck_assert_int_eq(ftsrt_run_shard_range(one, &b1, &e1, NULL), 0);
	ck_assert_uint_eq(b1, 0);
	ck_assert_uint_eq(e1, n);
	char path[SW][400];
	int stateful = 0;
	for (int e = 0; e < nep; e++) {
		ck_assert_int_eq(ftsrt_run_phase(one), ftsrt_run_phase(r[0]));
		size_t s1, sk[SW];
		int ph = ftsrt_run_phase(one);
		shard_epoch(&one, &p1, &g1, n, 1, m[e], steps, &s1);
		shard_epoch(r, p, g, n, SW, m[e], steps, sk);
		for (int k = 0; k < SW; k++) {
			ck_assert_int_eq(ftsrt_run_phase(r[k]), ftsrt_run_phase(one));
			ck_assert_int_eq(ftsrt_run_ngroups(r[k]), ftsrt_run_ngroups(one));
			for (int q = 0; q < ftsrt_run_ngroups(one); q++) {
				struct ftsrt_run_group a = FTSRT_INIT(struct ftsrt_run_group), c = a;
				ck_assert_int_eq(ftsrt_run_group(one, q, &a, NULL), 0);
				ck_assert_int_eq(ftsrt_run_group(r[k], q, &c, NULL), 0);
				ck_assert(a.lr == c.lr);
			}
			ck_assert_msg(memcmp(p[k], p1, n * sizeof(float)) == 0,
				      "epoch %d: rank %d's parameters differ from the unsharded run's", e, k);
		}
		/* each rank holds at most about 1/W of the state (none while its slice is
		 * frozen: state is allocated by the first step that touches it) */
		size_t sum = 0;
		stateful += s1 > 0;     /* SGD without momentum keeps none */
		for (int k = 0; k < SW; k++) {
			ck_assert_msg(sk[k] * SW <= s1 + s1 / 4, "rank %d keeps %zu state bytes, the unsharded run %zu",
				      k, sk[k], s1);
			ck_assert_msg(sk[k] > 0 || ph < 3, "rank %d keeps no state in phase 3", k);
			sum += sk[k];
		}
		ck_assert(sum > 0 || s1 == 0);
		ck_assert_msg(sum <= s1 + (size_t)SW * 4 * 128, "ranks keep %zu state bytes in all, one run %zu",
			      sum, s1);
		if (e + 1 == cut)
			for (int k = 0; k < SW; k++) {
				snprintf(path[k], sizeof(path[k]), "%s/mid.rank%d", dir, k);
				ftsrt_error err = {0};
				ck_assert_msg(ftsrt_run_save(r[k], path[k], &err) == 0, "%s", err.message);
			}
	}
	ck_assert_int_gt(ftsrt_run_phase(one), 1);
	ck_assert_int_ge(stateful, 4);
	/* the best checkpoints live in per-rank subdirectories */
	char sub[400];
	struct stat st;
	snprintf(sub, sizeof(sub), "%s/shard-1-of-%d/best.ftsckpt", dw, SW);
	ck_assert_msg(stat(sub, &st) == 0, "no %s", sub);
	/* resume every rank from the epoch-5 files and run to the end again */
	float *q[SW], *h[SW];
	ftsrt_run *s2[SW];
	for (int k = 0; k < SW; k++) {
		s2[k] = shard_run(t, dr, k, SW, &q[k], &h[k], &n);
		ftsrt_error err = {0};
		ck_assert_msg(ftsrt_run_resume(s2[k], path[k], &err) == 0, "%s", err.message);
		ck_assert_int_eq(ftsrt_run_epoch(s2[k]), cut);
	}
	/* resumed runs need the best checkpoints of the original directory: copy them */
	char cmd[1200];
	snprintf(cmd, sizeof(cmd), "for d in %s/shard-*; do cp $d/best.ftsckpt %s/$(basename $d)/; done", dw, dr);
	ck_assert_int_eq(system(cmd), 0);
	for (int e = cut; e < nep; e++)
		shard_epoch(s2, q, h, n, SW, m[e], steps, NULL);
	for (int k = 0; k < SW; k++)
		ck_assert_msg(memcmp(q[k], p1, n * sizeof(float)) == 0, "resumed rank %d differs", k);
	/* refusals: an unsharded run, another world size, another rank */
	float *x, *y;
	char d3[300];
	snprintf(d3, sizeof(d3), "%s/other", dir);
	ck_assert_int_eq(mkdir(d3, 0777), 0);
	ftsrt_run *u = shard_run(t, NULL, 0, 1, &x, &y, &n);
	ftsrt_error err = {0};
	ck_assert_int_eq(ftsrt_run_resume(u, path[1], &err), FTSRT_EFORMAT);
	ck_assert_msg(strstr(err.message, "rank 1 of a run sharded over 3 ranks") &&
		      strstr(err.message, "unsharded") && strstr(err.message, "world size"), "%s", err.message);
	ftsrt_run_free(u);
	free(x);
	free(y);
	u = shard_run(t, d3, 1, 2, &x, &y, &n);
	ck_assert_int_eq(ftsrt_run_resume(u, path[1], &err), FTSRT_EFORMAT);
	ck_assert_msg(strstr(err.message, "this run is rank 1 of 2") && strstr(err.message, "world size"), "%s",
		      err.message);
	ftsrt_run_free(u);
	free(x);
	free(y);
	u = shard_run(t, NULL, 2, SW, &x, &y, &n);
	ck_assert_int_eq(ftsrt_run_resume(u, path[1], &err), FTSRT_EFORMAT);
	ck_assert_msg(strstr(err.message, "its own shard"), "%s", err.message);
	ftsrt_run_free(u);
	free(x);
	free(y);
	/* and an unsharded checkpoint into a sharded run */
	char p1path[400];
	snprintf(p1path, sizeof(p1path), "%s/one.ckpt", dir);
	ck_assert_int_eq(ftsrt_run_save(one, p1path, NULL), 0);
	u = shard_run(t, NULL, 0, SW, &x, &y, &n);
	ck_assert_int_eq(ftsrt_run_resume(u, p1path, &err), FTSRT_EFORMAT);
	ck_assert_msg(strstr(err.message, "an unsharded run (world size 1)"), "%s", err.message);
	ftsrt_run_free(u);
	free(x);
	free(y);
	for (int k = 0; k < SW; k++) {
		ftsrt_run_free(r[k]);
		ftsrt_run_free(s2[k]);
		free(p[k]);
		free(g[k]);
		free(q[k]);
		free(h[k]);
	}
	ftsrt_run_free(one);
	free(p1);
	free(g1);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	ck_assert_int_eq(system(cmd), 0);
}

START_TEST(sharded_matches_unsharded)
{
	struct tp t;
	tp_init(&t);
	t.p.es.patience = 2;
	s07(&t);                                /* SGD -> Adam -> SGD(momentum), restore_best */
	sharded_vs_single(&t, false);
}
END_TEST

START_TEST(sharded_tensorwise_cuts_whole_tensors)
{
	struct tp t;
	tp_init(&t);
	t.p.es.patience = 2;
	s07(&t);
	int af = cls_add(&t, false, "torch.optim.Adafactor");   /* phase 2: whole tensors */
	arg_f(&t, af, "lr", 1e-2);
	t.ph[2].new_optimizer = af;
	sharded_vs_single(&t, true);
}
END_TEST

START_TEST(sharded_bad_options)
{
	struct tp t;
	tp_init(&t);
	struct ftsrt_run_options o = FTSRT_INIT(struct ftsrt_run_options);
	ftsrt_run *r = NULL;
	ftsrt_error err = {0};
	o.shard_world = 2;
	o.shard_rank = 2;
	ck_assert_int_eq(rt_run_new(&r, &t.p, &o, &err), FTSRT_EINVAL);
	ck_assert_msg(strstr(err.message, "shard_rank 2 outside 0..1"), "%s", err.message);
	o.shard_rank = -1;
	ck_assert_int_eq(rt_run_new(&r, &t.p, &o, &err), FTSRT_EINVAL);
	o.shard_rank = 0;
	o.shard_world = -3;
	ck_assert_int_eq(rt_run_new(&r, &t.p, &o, &err), FTSRT_EINVAL);
	o.shard_world = 2;
	o.external = true;
	ck_assert_int_eq(rt_run_new(&r, &t.p, &o, &err), FTSRT_EINVAL);
	ck_assert_msg(strstr(err.message, "external"), "%s", err.message);
	ck_assert_ptr_null(r);
	/* more ranks than 64-byte blocks: some slices are empty, all still tile
	 * (each rank computes its own two cuts) */
	o.external = false;
	o.shard_world = 1000;
	size_t b, e, prev = 0;
	for (int k = 0; k < 1000; k++) {
		o.shard_rank = k;
		ck_assert_int_eq(rt_run_new(&r, &t.p, &o, &err), 0);
		ck_assert_int_eq(ftsrt_run_shard_range(r, &b, &e, NULL), 0);
		ck_assert_uint_eq(b, prev);
		ck_assert_uint_le(b, e);
		prev = e;
		if (k == 999) {
			ck_assert_uint_eq(e, ftsrt_run_arena_numel(r));
			ck_assert_int_eq(ftsrt_run_shard_range(r, NULL, &e, &err), FTSRT_EINVAL);
		}
		ftsrt_run_free(r);
	}
}
END_TEST


/* bfloat16 parameters with float32 master weights: the masters are sharded
 * too (windowed), and the ranks' rounded parameters are the unsharded run's */
static uint16_t to_bf16(float x)
{
	uint32_t u;
	memcpy(&u, &x, 4);
	u += 0x7fff + ((u >> 16) & 1);
	return (uint16_t)(u >> 16);
}

static float from_bf16(uint16_t h)
{
	uint32_t u = (uint32_t)h << 16;
	float x;
	memcpy(&x, &u, 4);
	return x;
}

static void grads_bf16(const ftsrt_run *r, const uint16_t *p, uint16_t *g, size_t n)
{
	memset(g, 0, n * sizeof(*g));
	for (int i = 0; i < ftsrt_run_nparams(r); i++) {
		size_t off, k;
		if (!ftsrt_run_thawed(r, i) || ftsrt_run_param_offset(r, i, &off, &k, NULL))
			continue;
		for (size_t j = off; j < off + k; j++)
			g[j] = to_bf16(from_bf16(p[j]) - 0.5f + 0.01f * (float)((j * 7919) % 13));
	}
}

START_TEST(sharded_bf16_master_weights)
{
	struct tp t;
	tp_init(&t);
	t.p.es.patience = 2;
	s07(&t);
	t.p.restore_best = false;               /* checkpoints in memory are not the point here */
	enum { W = 2 };
	ftsrt_run *r[W + 1];
	uint16_t *p[W + 1], *g[W + 1];
	size_t n = 0;
	for (int k = 0; k <= W; k++) {  /* r[W]: the unsharded run */
		struct ftsrt_run_options o = FTSRT_INIT(struct ftsrt_run_options);
		o.dtype = FTSRT_BF16;
		o.precision = FTSRT_PRECISION_MASTER;
		o.shard_rank = k < W ? k : 0;
		o.shard_world = k < W ? W : 1;
		ftsrt_error err = {0};
		ck_assert_msg(rt_run_new(&r[k], &t.p, &o, &err) == 0, "%s", err.message);
		n = ftsrt_run_arena_numel(r[k]);
		p[k] = calloc(n, sizeof(uint16_t));
		g[k] = calloc(n, sizeof(uint16_t));
		for (size_t j = 0; j < n; j++)
			p[k][j] = to_bf16((float)((j * 2654435761u) % 1000) / 1000.0f - 0.5f);
		ck_assert_int_eq(ftsrt_run_bind_arena(r[k], p[k], g[k], n, 0, NULL), 0);
	}
	double m[MAXE];
	rising_after(m, 1, MAXE);
	for (int e = 0; e < 8; e++) {
		for (int s = 0; s < 4; s++) {
			for (int k = 0; k <= W; k++) {
				grads_bf16(r[k], p[k], g[k], n);
				ftsrt_error err = {0};
				ck_assert_msg(ftsrt_run_step(r[k], &err) == 0, "%s", err.message);
			}
			for (int k = 0; k < W; k++) {
				size_t b, en;
				ck_assert_int_eq(ftsrt_run_shard_range(r[k], &b, &en, NULL), 0);
				ck_assert_uint_eq(b % 32, 0);           /* 64 bytes of bf16 */
				memcpy(p[1 - k] + b, p[k] + b, (en - b) * sizeof(uint16_t));
			}
		}
		size_t s1 = ftsrt_run_state_bytes(r[W]);
		for (int k = 0; k < W; k++) {
			ck_assert_msg(ftsrt_run_state_bytes(r[k]) <= s1 / W + 4 * 128, "rank %d: %zu of %zu", k,
				      ftsrt_run_state_bytes(r[k]), s1);
			ck_assert_msg(memcmp(p[k], p[W], n * sizeof(uint16_t)) == 0, "epoch %d: rank %d differs", e, k);
		}
		for (int k = 0; k <= W; k++) {
			ftsrt_error err = {0};
			ck_assert_msg(ftsrt_run_epoch_end(r[k], m[e], &err) == 0, "%s", err.message);
		}
	}
	ck_assert_int_gt(ftsrt_run_phase(r[W]), 1);
	for (int k = 0; k <= W; k++) {
		ftsrt_run_free(r[k]);
		free(p[k]);
		free(g[k]);
	}
}
END_TEST

static Suite *run_suite(void)
{
	Suite *s = suite_create("run");
	TCase *tc = tcase_create("fts-cases");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, r07_explicit_optim);
	tcase_add_test(tc, r07_implicit_optim);
	tcase_add_test(tc, r07_explicit_optimlr);
	tcase_add_test(tc, r07_explicit_optimlr_use_curr);
	tcase_add_test(tc, r07_implicit_optimlr);
	tcase_add_test(tc, r07_implicit_optimlr_use_curr);
	tcase_add_test(tc, r02_enforce_p0);
	tcase_add_test(tc, r05_intrafit);
	tcase_add_test(tc, r08_nodecay);
	tcase_add_test(tc, r10_explicit);
	tcase_add_test(tc, r10_implicit);
	tcase_add_test(tc, r11_lambda_apply);
	tcase_add_test(tc, r11_lambda_no_apply);
	tcase_add_test(tc, r11_lambda_implicit);
	tcase_add_test(tc, r09_lambda_sgd);
	tcase_add_test(tc, r09_rlrop_sgd);
	tcase_add_test(tc, r13_constant_loss);
	tcase_add_test(tc, r12_explicit);
	tcase_add_test(tc, r12_implicit);
	tcase_add_test(tc, r12_step_interval);
	tcase_add_test(tc, r06_eto);
	tcase_add_test(tc, r16_early_stopping);
	tcase_add_test(tc, es_best_kept_across_phases);
	suite_add_tcase(s, tc);
	TCase *tk = tcase_create("engine");
	tcase_set_timeout(tk, 120);
	tcase_add_test(tk, seed_incompatible_restore);
	tcase_add_test(tk, kill_during_checkpoint_then_resume);
	tcase_add_test(tk, save_resume_step_plateau);
	tcase_add_test(tk, several_runs_interleaved);
	tcase_add_test(tk, per_tensor_binding_matches_arena);
	tcase_add_test(tk, restore_reverts_hyperparameters);
	tcase_add_test(tk, group_hparams_bool_flags);
	tcase_add_test(tk, bad_calls);
	tcase_add_test(tk, oom_sweep);
	tcase_add_test(tk, resume_failure_rolls_back);
	tcase_add_test(tk, checkpoint_files_safe);
	tcase_add_test(tk, external_run_decides_as_native);
	tcase_add_test(tk, external_incompatible_restore);
	tcase_add_test(tk, external_save_resume);
	tcase_add_test(tk, ckpt_saved_reason);
	tcase_add_test(tk, sharded_matches_unsharded);
	tcase_add_test(tk, sharded_tensorwise_cuts_whole_tensors);
	tcase_add_test(tk, sharded_bad_options);
	tcase_add_test(tk, sharded_bf16_master_weights);
	suite_add_tcase(s, tk);
	TCase *tv = tcase_create("conventions");
	tcase_set_timeout(tv, 60);
	tcase_add_test(tv, err_filled_and_null_accepted);
	tcase_add_test(tv, run_new_bad_options);
	tcase_add_test(tv, options_struct_size);
	tcase_add_test(tv, event_struct_size_zero_keeps_queued);
	tcase_add_test(tv, event_struct_size_short_fills_only_that_far);
	suite_add_tcase(s, tv);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(run_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
