/*
 * check_semantics.c - one FTS semantics for check and run.
 *
 *   parity     every schedule of tests/schedules, tests/cases (accepted
 *              ones) and samples/ is built into a plan and run by the
 *              runtime; at the start of each phase the runtime's groups and
 *              lrs must be the ones `ftsc check` simulated (the plan's GRPS
 *              section): same count, same phases and no_decay halves, and
 *              every lr and initial_lr the simulation knows.
 *   invariant  random schedules over the FTS boring model (phases,
 *              optimizers, schedulers and their arguments, lr directives,
 *              no_decay, epoch-only transitions, early stopping) and random
 *              validation curves: when `ftsc check --target=ftsrt` reports no
 *              error, `ftsc build` writes a plan and the runtime completes it
 *              under every curve -- except a restore_best refusal, which check
 *              must have warned about naming the phases involved.  Bounded
 *              here (FTS_PROPERTY_CASES, default 300); `make fuzz` runs it
 *              long.  Every counterexample found became a case file.
 *
 * Run from the repository root.
 */
#include <check.h>
#include <dirent.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "case_file.h"
#include "diag.h"
#include "driver.h"
#include "emit.h"
#include "ftsrt.h"
#include "plan.h"
#include "planview.h"

#define SGD_STEPLR "--initial-optimizer={class_path: torch.optim.SGD, init_args: {lr: 0.001, weight_decay: 1.0e-06}} " \
	"--initial-lr-scheduler={class_path: torch.optim.lr_scheduler.StepLR, init_args: {step_size: 1, gamma: 0.7}}"

/* ---- building a plan in process ----------------------------------------------- */

struct built {
	uint8_t *buf;                   /* the plan, or NULL */
	size_t len;
	size_t errors, warnings;
	char codes[2048];               /* " CODE@phase" of every warning and error */
	char first_error[1024];
};

static void built_free(struct built *b)
{
	free(b->buf);
	memset(b, 0, sizeof(*b));
}

/* Check and build schedule with the case args (and defaults for what they omit). */
static bool build_strip = true;

static void build(const char *schedule, const char *manifest, const char *args, bool ftsrt, struct built *b)
{
	memset(b, 0, sizeof(*b));
	struct fts_sources src;
	struct fts_diags d;
	fts_sources_init(&src);
	fts_diags_init(&d, &src);
	struct fts_check_input in = {0};
	fts_settings_default(&in.settings);
	in.schedule = schedule;
	in.manifest = manifest && *manifest ? manifest : CASE_BORING;
	char buf[2048];
	snprintf(buf, sizeof(buf), "%s%s%s", args ? args : "",
		 args && strstr(args, "--initial-optimizer") ? "" : " " SGD_STEPLR, "");
	if (args && strstr(args, "--initial-optimizer") && !strstr(args, "--initial-lr-scheduler"))
		snprintf(buf + strlen(buf), sizeof(buf) - strlen(buf), " --initial-lr-scheduler=none");
	case_apply_args(&in, buf);
	in.target_ftsrt = ftsrt;
	struct fts_compile c;
	int rc = fts_compile_run(&in, &d, &c);
	size_t o = 0;
	for (size_t i = 0; i < d.n; i++) {
		const struct fts_diag *dg = d.v[i];
		if (dg->sev != FTS_SEV_ERROR && dg->sev != FTS_SEV_WARNING)
			continue;
		o += (size_t)snprintf(b->codes + o, sizeof(b->codes) - o, " %s", fts_diag_code(dg->id));
		if (o >= sizeof(b->codes))
			o = sizeof(b->codes) - 1;
		if (dg->sev == FTS_SEV_ERROR && !b->first_error[0])
			snprintf(b->first_error, sizeof(b->first_error), "%s %s", fts_diag_code(dg->id), dg->msg);
	}
	b->errors = d.errors;
	b->warnings = d.warnings;
	if (rc == 0 && d.errors == 0) {
		char err[512];
		if (fts_emit_plan(&c, &src, build_strip, &b->buf, &b->len, err, sizeof(err)) != 0) {
			b->buf = NULL;
			snprintf(b->first_error, sizeof(b->first_error), "build: %s", err);
		}
	} else if (rc != 0) {
		snprintf(b->first_error, sizeof(b->first_error), "I/O error");
	}
	fts_compile_release(&c);
	fts_diags_release(&d);
	fts_sources_release(&src);
}

/* ---- driving the runtime ----------------------------------------------------------- */

/* The validation metric of an epoch: a curve, given the epoch, the phase and
 * how many epochs the phase has run. */
typedef double (*curve_fn)(void *ud, long epoch, int phase, long in_phase);

struct phase_seen {
	int phase;
	int ngroups;
	struct ftsrt_run_group g[64];
	struct ftsrt_optim_hparams hp[8];       /* the first groups' hyper-parameters */
};

struct trace {
	struct phase_seen ph[32];
	int nph;
	int stop;                       /* ftsrt_run_finished */
	int rc;                         /* first failing status, 0 */
	char err[sizeof(((ftsrt_error *)0)->message)];
	long epochs;
};

static uint64_t rng_next(uint64_t *s)
{
	uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

static double rng_unit(uint64_t *s)
{
	return (double)(rng_next(s) >> 11) / 9007199254740992.0;
}

static void seen(ftsrt_run *r, struct trace *t)
{
	if (t->nph >= 32)
		return;
	struct phase_seen *p = &t->ph[t->nph++];
	p->phase = ftsrt_run_phase(r);
	p->ngroups = ftsrt_run_ngroups(r);
	for (int i = 0; i < p->ngroups && i < 64; i++) {
		p->g[i] = FTSRT_INIT(struct ftsrt_run_group);
		ck_assert_int_eq(ftsrt_run_group(r, i, &p->g[i], NULL), FTSRT_OK);
	}
	for (int i = 0; i < p->ngroups && i < 8; i++) {
		p->hp[i] = FTSRT_INIT(struct ftsrt_optim_hparams);
		ck_assert_int_eq(ftsrt_run_group_hparams(r, i, &p->hp[i], NULL), FTSRT_OK);
	}
}

static void drive(const struct built *b, curve_fn curve, void *ud, int steps, long max_epochs,
		  struct trace *t)
{
	memset(t, 0, sizeof(*t));
	ftsrt_error err;
	ftsrt_plan *p = NULL;
	t->rc = ftsrt_plan_open_mem(&p, b->buf, b->len, NULL, &err);
	if (t->rc) {
		snprintf(t->err, sizeof(t->err), "%s", err.message);
		return;
	}
	struct ftsrt_run_options o = FTSRT_INIT(struct ftsrt_run_options);
	ck_assert_int_eq(ftsrt_run_options_default(&o, NULL), FTSRT_OK);
	o.dtype = FTSRT_F64;
	o.scale = 0.1;
	ftsrt_run *r = NULL;
	t->rc = ftsrt_run_new(&r, p, &o, &err);
	if (t->rc) {
		snprintf(t->err, sizeof(t->err), "%s", err.message);
		ftsrt_plan_close(p);
		return;
	}
	size_t n = ftsrt_run_arena_numel(r);
	double *ap = calloc(n ? n : 1, sizeof(double)), *ag = calloc(n ? n : 1, sizeof(double));
	uint64_t s = 42;
	for (size_t i = 0; i < n; i++)
		ap[i] = 0.1 * (rng_unit(&s) - 0.5);
	t->rc = ftsrt_run_bind_arena(r, ap, ag, n, 0, &err);
	if (!t->rc)
		seen(r, t);
	int phase = ftsrt_run_phase(r);
	long in_phase = 0;
	for (long e = 0; !t->rc && !ftsrt_run_finished(r) && e < max_epochs; e++) {
		for (int k = 0; k < steps && !t->rc; k++) {
			for (size_t i = 0; i < n; i++)
				ag[i] = ap[i] + 0.01 * (rng_unit(&s) - 0.5);
			t->rc = ftsrt_run_step(r, &err);
		}
		if (t->rc)
			break;
		t->rc = ftsrt_run_epoch_end(r, curve(ud, e, phase, in_phase), &err);
		struct ftsrt_run_event ev = FTSRT_INIT(struct ftsrt_run_event);
		while (ftsrt_run_next_event(r, &ev, NULL))
			;
		in_phase++;
		t->epochs = e + 1;
		if (!t->rc && ftsrt_run_phase(r) != phase) {
			phase = ftsrt_run_phase(r);
			in_phase = 0;
			seen(r, t);
		}
	}
	if (t->rc)
		snprintf(t->err, sizeof(t->err), "%s", err.message);
	t->stop = ftsrt_run_finished(r);
	free(ap);
	free(ag);
	ftsrt_run_free(r);
	ftsrt_plan_close(p);
}

/* Each phase improves once, at its first epoch, then stalls: early stopping
 * completes it, and the best checkpoint is always the current phase's. */
static double curve_staircase(void *ud, long epoch, int phase, long in_phase)
{
	(void)ud;
	(void)epoch;
	(void)in_phase;
	return 100.0 - 10.0 * (phase + 1);
}

/* ---- parity ---------------------------------------------------------------------------- */

static int near(double a, double b)
{
	return a == b || fabs(a - b) <= 1e-12 * fmax(fabs(a), fabs(b));
}

/* Compare the runtime's groups with the plan's simulated ones; returns a message or NULL. */
static char *compare(const struct built *b, const struct trace *t)
{
	ftsrt_plan *p = NULL;
	ftsrt_error err;
	if (ftsrt_plan_open_mem(&p, b->buf, b->len, NULL, &err))
		return strdup(err.message);
	const struct rt_plan *v = rt_plan_view(p);
	char *out = NULL;
	for (int k = 0; k < t->nph && !out; k++) {
		const struct phase_seen *ps = &t->ph[k];
		uint32_t first = 0, n = 0;
		for (uint32_t g = 0; g < v->ngroups; g++)
			if (v->groups[g].phase == (uint32_t)ps->phase) {
				if (!n)
					first = g;
				n++;
			}
		char buf[512];
		if ((int)n != ps->ngroups) {
			snprintf(buf, sizeof(buf), "phase %d: %d groups run, %u simulated", ps->phase, ps->ngroups, n);
			out = strdup(buf);
			break;
		}
		for (uint32_t g = 0; g < n && !out; g++) {
			const struct rt_plan_group *sg = &v->groups[first + g];
			const struct ftsrt_run_group *rg = &ps->g[g];
			if (sg->holds != v->phases[rg->phase].index || sg->no_decay != (rg->no_decay != 0))
				snprintf(buf, sizeof(buf), "phase %d group %u: holds phase %d%s, simulated %lld%s",
					 ps->phase, g, rg->phase, rg->no_decay ? " no_decay" : "",
					 (long long)sg->holds, sg->no_decay ? " no_decay" : "");
			else if (sg->lr_kind == RT_LR_KNOWN && !near(sg->lr, rg->lr))
				snprintf(buf, sizeof(buf), "phase %d group %u: lr %.17g, simulated %.17g", ps->phase, g,
					 rg->lr, sg->lr);
			else if (sg->initial_lr_kind == RT_LR_KNOWN && !near(sg->initial_lr, rg->initial_lr))
				snprintf(buf, sizeof(buf), "phase %d group %u: initial_lr %.17g, simulated %.17g",
					 ps->phase, g, rg->initial_lr, sg->initial_lr);
			else
				continue;
			out = strdup(buf);
		}
	}
	ftsrt_plan_close(p);
	return out;
}

static size_t parity_runs, parity_skipped;

static void parity_file(const char *path)
{
	struct case_header h;
	case_read_header(path, &h);
	if (strstr(h.expect, "error") || strstr(h.args, "--implicit") || strstr(h.args, "--reinit-lr-cfg"))
		return;
	struct built b;
	build(path, h.manifest, h.args, true, &b);
	if (!b.buf) {
		parity_skipped++;       /* a class the runtime lacks, an untyped manifest, ... */
		built_free(&b);
		return;
	}
	struct trace t;
	drive(&b, curve_staircase, NULL, 2, 60, &t);
	ck_assert_msg(t.rc == 0, "%s: the runtime failed: %s", path, t.err);
	char *why = compare(&b, &t);
	ck_assert_msg(why == NULL, "%s: %s", path, why ? why : "");
	parity_runs++;
	built_free(&b);
}

static void parity_dir(const char *dir)
{
	DIR *d = opendir(dir);
	ck_assert_msg(d != NULL, "cannot open %s", dir);
	struct dirent *e;
	while ((e = readdir(d))) {
		size_t n = strlen(e->d_name);
		if (n < 6 || strcmp(e->d_name + n - 5, ".yaml") != 0)
			continue;
		char path[1024];
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		parity_file(path);
	}
	closedir(d);
}

START_TEST(test_parity)
{
	parity_runs = parity_skipped = 0;
	parity_dir("tests/schedules");
	parity_dir("tests/cases");
	ck_assert_uint_ge(parity_runs, 40);
	fprintf(stderr, "# parity: %zu plans run as simulated (%zu not buildable)\n", parity_runs, parity_skipped);
}
END_TEST


/* ---- the invariant: check passes => build and run complete ----------------------------- */

struct sb {
	char *p;
	size_t n, cap;
};

static void sbf(struct sb *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sbf(struct sb *b, const char *fmt, ...)
{
	va_list ap;
	for (;;) {
		va_start(ap, fmt);
		int k = vsnprintf(b->p ? b->p + b->n : NULL, b->p ? b->cap - b->n : 0, fmt, ap);
		va_end(ap);
		if (b->p && b->n + (size_t)k < b->cap) {
			b->n += (size_t)k;
			return;
		}
		b->cap = b->cap ? 2 * b->cap + (size_t)k : 4096 + (size_t)k;
		b->p = realloc(b->p, b->cap);
		ck_assert_ptr_nonnull(b->p);
	}
}

static int pick(uint64_t *s, int n)
{
	return (int)(rng_next(s) % (uint64_t)n);
}

static double pickd(uint64_t *s, const double *v, int n)
{
	return v[pick(s, n)];
}

/* {class_path: torch.optim.X, init_args: {...}} */
static void gen_optimizer(uint64_t *s, struct sb *b)
{
	static const double lrs[] = {1e-3, 1e-2, 3e-4, 0.05, 2e-5};
	double lr = pickd(s, lrs, 5);
	switch (pick(s, 11)) {
	case 0: sbf(b, "{class_path: torch.optim.SGD, init_args: {lr: %.1e, momentum: %s, weight_decay: %s}}", lr,
		    pick(s, 2) ? "0.9" : "0.0", pick(s, 2) ? "1.0e-06" : "0.0"); break;
	case 1: sbf(b, "{class_path: torch.optim.SGD, init_args: {lr: %.1e, momentum: 0.9, nesterov: true}}", lr); break;
	case 2: sbf(b, "{class_path: torch.optim.Adam, init_args: {lr: %.1e, amsgrad: %s}}", lr,
		    pick(s, 2) ? "true" : "false"); break;
	case 3: sbf(b, "{class_path: torch.optim.AdamW, init_args: {lr: %.1e, weight_decay: %s}}", lr,
		    pick(s, 2) ? "0.05" : "0.01"); break;
	case 4: sbf(b, "{class_path: torch.optim.RMSprop, init_args: {lr: %.1e, momentum: %s, centered: %s}}", lr,
		    pick(s, 2) ? "0.5" : "0.0", pick(s, 2) ? "true" : "false"); break;
	case 5: sbf(b, "{class_path: torch.optim.Adagrad, init_args: {lr: %.1e}}", lr); break;
	case 6: sbf(b, "{class_path: torch.optim.Adadelta, init_args: {lr: %.1e}}", lr); break;
	case 7: sbf(b, "{class_path: torch.optim.Adamax, init_args: {lr: %.1e}}", lr); break;
	case 8: sbf(b, "{class_path: torch.optim.NAdam, init_args: {lr: %.1e}}", lr); break;
	case 9: sbf(b, "{class_path: torch.optim.RAdam, init_args: {lr: %.1e}}", lr); break;
	default: sbf(b, "{class_path: torch.optim.ASGD, init_args: {lr: %.1e}}", lr); break;
	}
}

/* lr_scheduler_init mapping and, into pl, a pl_lrs_cfg; plateau set for ReduceLROnPlateau */
static void gen_scheduler(uint64_t *s, struct sb *b, bool *plateau, int ngroups_hint)
{
	*plateau = false;
	switch (pick(s, 12)) {
	case 0: sbf(b, "{class_path: torch.optim.lr_scheduler.StepLR, init_args: {step_size: %d, gamma: %s}}",
		    pick(s, 4), pick(s, 2) ? "0.7" : "0.5"); break;
	case 1: sbf(b, "{class_path: torch.optim.lr_scheduler.MultiStepLR, init_args: {milestones: [%d, %d]}}",
		    1 + pick(s, 3), 3 + pick(s, 4)); break;
	case 2: sbf(b, "{class_path: torch.optim.lr_scheduler.ExponentialLR, init_args: {gamma: %s}}",
		    pick(s, 2) ? "0.9" : "0.5"); break;
	case 3: sbf(b, "{class_path: torch.optim.lr_scheduler.CosineAnnealingLR, init_args: {T_max: %d, eta_min: %s}}",
		    pick(s, 6), pick(s, 2) ? "0.0" : "1.0e-07"); break;
	case 4: sbf(b, "{class_path: torch.optim.lr_scheduler.LinearLR, init_args: {start_factor: %s, total_iters: %d}}",
		    pick(s, 2) ? "0.1" : "0.5", pick(s, 5)); break;
	case 5: sbf(b, "{class_path: torch.optim.lr_scheduler.ConstantLR, init_args: {factor: %s, total_iters: %d}}",
		    pick(s, 2) ? "0.5" : "1.0", pick(s, 4)); break;
	case 6: sbf(b, "{class_path: torch.optim.lr_scheduler.CosineAnnealingWarmRestarts, init_args: "
		    "{T_0: %d, T_mult: %d, eta_min: 1.0e-07}}", 1 + pick(s, 3), 1 + pick(s, 2)); break;
	case 7: {
		*plateau = true;
		int n = pick(s, 3) ? 0 : 1 + pick(s, ngroups_hint + 2);
		sbf(b, "{class_path: torch.optim.lr_scheduler.ReduceLROnPlateau, init_args: {patience: %d, factor: 0.5",
		    pick(s, 3));
		if (n) {
			sbf(b, ", min_lr: [");
			for (int k = 0; k < n; k++)
				sbf(b, "%s1.0e-08", k ? ", " : "");
			sbf(b, "]");
		}
		sbf(b, "}}");
		break;
	}
	case 8: {
		/* some lambdas fail only at a later epoch (a division by zero, a negative
		 * power of zero): check must evaluate them over the epochs they will see */
		static const char *const lam[] = {"0.9 ** epoch", "1.0 / (epoch + 1)", "1.0 / (epoch - 3)",
						   "1.0 if epoch < 4 else 0.5", "(epoch - 2) ** -1",
						   "max(0.1, 1.0 - epoch / 10)"};
		sbf(b, "{class_path: torch.optim.lr_scheduler.LambdaLR, init_args: {lr_lambda: \"%s\"}}",
		    lam[pick(s, 6)]);
		break;
	}
	case 9: sbf(b, "{class_path: torch.optim.lr_scheduler.MultiplicativeLR, init_args: {lr_lambda: \"0.95\"}}"); break;
	case 10: sbf(b, "{class_path: torch.optim.lr_scheduler.PolynomialLR, init_args: {total_iters: 4}}"); break;
	default: sbf(b, "{class_path: torch.optim.lr_scheduler.ExponentialLR, init_args: {gamma: 1.0}}"); break;
	}
}

static void gen_pl(uint64_t *s, struct sb *b, bool plateau)
{
	/* sometimes Lightning's reduce_on_plateau said outright, rightly or not
	 * (FTSC092: a plateau scheduler stepped without its metric; FTSC093: the
	 * metric fed to another scheduler as its epoch) */
	int rop = pick(s, 10);
	sbf(b, "{interval: %s, frequency: %d%s%s}", pick(s, 4) ? "epoch" : "step", 1 + pick(s, 2),
	    plateau || !pick(s, 8) ? ", monitor: val_loss" : "",
	    rop == 0 ? ", reduce_on_plateau: true" : rop == 1 ? ", reduce_on_plateau: false" : "");
}

struct gen_case {
	char path[64];
	char args[2048];
	char *yaml;
};

static void gen_case(uint64_t seed, struct gen_case *gc)
{
	uint64_t s = seed;
	struct sb y = {0}, a = {0};
	/* settings */
	bool eto = !pick(&s, 4);
	bool nodecay = pick(&s, 2);
	int max_epochs = 3 + pick(&s, 10);
	sbf(&a, "--max-epochs=%d%s%s%s%s", max_epochs, pick(&s, 2) ? " --restore-best=false" : "",
	    eto ? " --epoch-transitions-only" : "", nodecay ? " --no-decay=bias" : "",
	    !pick(&s, 5) ? " --apply-lambdas-new-pgs" : "");
	if (nodecay && pick(&s, 2))
		sbf(&a, " --phase0-groups=2");
	sbf(&a, " --initial-optimizer=");
	gen_optimizer(&s, &a);
	bool plateau0 = false;
	if (pick(&s, 4)) {
		struct sb sc = {0}, pl = {0};
		gen_scheduler(&s, &sc, &plateau0, 2);
		gen_pl(&s, &pl, plateau0);
		sbf(&a, " --initial-lr-scheduler={lr_scheduler_init: %s, pl_lrs_cfg: %s}", sc.p, pl.p);
		free(sc.p);
		free(pl.p);
	} else {
		sbf(&a, " --initial-lr-scheduler=none");
	}
	/* phases: the four layers, shuffled, over 1..4 phases (phase 0 never empty) */
	int layers[4] = {3, 2, 1, 0};
	for (int i = 3; i > 0; i--) {
		int j = pick(&s, i + 1), t = layers[i];
		layers[i] = layers[j];
		layers[j] = t;
	}
	int nph = 1 + pick(&s, 4), owner[4];
	for (int i = 0; i < 4; i++)
		owner[i] = i == 0 ? 0 : pick(&s, nph);
	int mte = 0;
	for (int ph = 0; ph < nph; ph++) {
		sbf(&y, "%d:\n  params: [", ph);
		int n = 0;
		for (int i = 0; i < 4; i++) {
			if (owner[i] != ph)
				continue;
			if (pick(&s, 3))
				sbf(&y, "%smodel.%d.weight, model.%d.bias", n ? ", " : "", layers[i], layers[i]);
			else
				sbf(&y, "%s'model\\.%d\\..*'", n ? ", " : "", layers[i]);
			n++;
		}
		sbf(&y, "]\n");
		if (eto || !pick(&s, 3)) {
			mte += 1 + pick(&s, 3);
			sbf(&y, "  max_transition_epoch: %d\n", mte);
		}
		if (ph == 0)
			continue;
		if (pick(&s, 2)) {
			static const double lrs[] = {1e-5, 3e-6, 1e-3, 0.05};
			sbf(&y, "  lr: %.1e\n", pickd(&s, lrs, 4));
		}
		if (!pick(&s, 3)) {
			sbf(&y, "  new_optimizer:\n    optimizer_init: ");
			gen_optimizer(&s, &y);
			sbf(&y, "\n");
		}
		if (!pick(&s, 2)) {
			bool plateau;
			sbf(&y, "  new_lr_scheduler:\n    lr_scheduler_init: ");
			gen_scheduler(&s, &y, &plateau, 2 * ph + 1);
			sbf(&y, "\n    pl_lrs_cfg: ");
			gen_pl(&s, &y, plateau);
			sbf(&y, "\n");
			if (!pick(&s, 3)) {
				int n2 = 1 + pick(&s, 2 * ph + 2);
				sbf(&y, "    init_pg_lrs: [");
				for (int k = 0; k < n2; k++)
					sbf(&y, "%s%.1e", k ? ", " : "", 1e-5 * (k + 1));
				sbf(&y, "]\n");
			}
			if (!pick(&s, 4))
				sbf(&y, "    use_current_optimizer_pg_lrs: true\n");
		}
	}
	snprintf(gc->path, sizeof(gc->path), "/tmp/ftsc-prop-XXXXXX.yaml");
	int fd = mkstemps(gc->path, 5);
	ck_assert_int_ge(fd, 0);
	ck_assert(write(fd, y.p, y.n) == (ssize_t)y.n);
	close(fd);
	snprintf(gc->args, sizeof(gc->args), "%s", a.p);
	gc->yaml = y.p;
	free(a.p);
}

/* A random validation curve (kind 0..5). */
struct rcurve {
	int kind;
	uint64_t s;
};

static double curve_random(void *ud, long epoch, int phase, long in_phase)
{
	struct rcurve *c = ud;
	switch (c->kind) {
	case 0: return curve_staircase(NULL, epoch, phase, in_phase);
	case 1: return rng_unit(&c->s);
	case 2: return 1.0;
	case 3: return 1.0 + (double)epoch;                     /* only gets worse */
	case 4: return fabs((double)epoch - 4.0) + 0.1 * rng_unit(&c->s);
	default: return 10.0 / (double)(epoch + 1) + 0.5 * rng_unit(&c->s);
	}
}

static size_t inv_rejected, inv_ran, inv_restore_refusals;
static char inv_first_codes[4096];

static char *check_invariant(uint64_t seed)
{
	struct gen_case gc;
	gen_case(seed, &gc);
	struct built b;
	build(gc.path, NULL, gc.args, true, &b);
	char *fail = NULL;
	if (b.errors) {
		inv_rejected++;
		size_t o = strlen(inv_first_codes);
		if (o < sizeof(inv_first_codes) - 64)
			snprintf(inv_first_codes + o, sizeof(inv_first_codes) - o, " %.40s", b.first_error);
	} else
		inv_ran++;
	if (b.errors == 0 && !b.buf) {
		fail = strdup(b.first_error);
	} else if (b.buf) {
		for (int k = 0; k < 6 && !fail; k++) {
			struct rcurve c = {k, seed ^ (uint64_t)k};
			struct trace t;
			drive(&b, curve_random, &c, 1 + (int)(seed % 3), 200, &t);
			if (t.rc == 0)
				continue;
			/* a restore_best refusal is allowed where check warned about it, with
			 * check's own message */
			if (strstr(t.err, "restore_best") &&
			    ((strstr(t.err, "(ftsc check FTSC080)") && strstr(b.codes, "FTSC080")) ||
			     (strstr(t.err, "(ftsc check FTSC078)") && strstr(b.codes, "FTSC078")))) {
				inv_restore_refusals++;
				continue;
			}
			char buf[sizeof(t.err) + 64];
			snprintf(buf, sizeof(buf), "curve %d, %ld epochs: %s", k, t.epochs, t.err);
			fail = strdup(buf);
		}
	}
	if (fail) {
		char *full = NULL;
		size_t len = 0;
		FILE *f = open_memstream(&full, &len);
		fprintf(f, "seed %llu: %s\n  args: %s\n  diagnostics:%s\n%s", (unsigned long long)seed, fail,
			gc.args, b.codes, gc.yaml);
		fclose(f);
		free(fail);
		fail = full;
	}
	built_free(&b);
	unlink(gc.path);
	free(gc.yaml);
	return fail;
}

START_TEST(test_invariant)
{
	const char *env = getenv("FTS_PROPERTY_CASES");
	long n = env ? atol(env) : 300;
	const char *s0 = getenv("FTS_PROPERTY_SEED");
	uint64_t base = s0 ? strtoull(s0, NULL, 10) : 1;
	size_t failures = 0, checked = 0;
	for (long i = 0; i < n && failures < 5; i++) {
		char *fail = check_invariant(base + (uint64_t)i);
		checked++;
		if (fail) {
			fprintf(stderr, "COUNTEREXAMPLE %s\n", fail);
			failures++;
		}
		free(fail);
	}
	fprintf(stderr, "# invariant: %zu random schedules, %zu rejected by check, %zu built and run under 6 "
		"curves (%zu restore_best refusals check warned about)\n", checked, inv_rejected, inv_ran,
		inv_restore_refusals);
	if (getenv("FTS_PROPERTY_VERBOSE"))
		fprintf(stderr, "# rejections:%s\n", inv_first_codes);
	ck_assert_msg(failures == 0, "%zu counterexample(s) in %zu random schedules", failures, checked);
}
END_TEST

/* ---- restore_best: what a restore does, optimizer pair by optimizer pair ----------------
 *
 * Phase 0 trains with A (the session's optimizer), phase 1 swaps in B with
 * new_optimizer, phase 2 adds none; the validation curve makes phase 0's
 * first epoch the best, so the transition to phase 2 restores phase 0's
 * checkpoint into B.  `ftsc check` says what torch does then (FTSC080: the
 * step fails; FTSC095: the restored groups revert a hyper-parameter;
 * nothing), and the runtime does it: refuses with check's message, or runs
 * the restored group with the checkpoint's value while the groups added
 * after the restore keep B's.  Expectations from the measurements
 * with finetuning-scheduler 2.14 / torch 2.11.
 */
enum hp_field { F_NONE, F_MOMENTUM, F_NESTEROV, F_WD, F_DECOUPLED, F_AMSGRAD, F_EPS };

static double hp_get(const struct ftsrt_optim_hparams *h, enum hp_field f)
{
	switch (f) {
	case F_MOMENTUM: return h->momentum;
	case F_NESTEROV: return h->nesterov;
	case F_WD: return h->weight_decay;
	case F_DECOUPLED: return h->decoupled_weight_decay;
	case F_AMSGRAD: return h->amsgrad;
	case F_EPS: return h->eps;
	default: return 0;
	}
}

static const struct restore_pair {
	const char *a, *b;
	const char *expect;             /* "" (nothing), "fails 'key'" or "reverts <FTSC095 list>" */
	enum hp_field field;            /* reverts: checked in the run */
	double conf, rest;              /* B's value, the restored one */
} restore_pairs[] = {
	{"torch.optim.SGD, init_args: {lr: 0.01}", "torch.optim.SGD, init_args: {lr: 0.01, momentum: 0.9}",
	 "reverts momentum 0.9 → 0", F_MOMENTUM, 0.9, 0},
	{"torch.optim.SGD, init_args: {lr: 0.01, momentum: 0.9}",
	 "torch.optim.SGD, init_args: {lr: 0.01, momentum: 0.9, nesterov: true}",
	 "reverts nesterov True → False", F_NESTEROV, 1, 0},
	{"torch.optim.AdamW, init_args: {weight_decay: 0.05}", "torch.optim.Adam",
	 "reverts weight_decay 0 → 0.05, decoupled_weight_decay False → True", F_DECOUPLED, 0, 1},
	{"torch.optim.Adam", "torch.optim.AdamW, init_args: {weight_decay: 0.05}",
	 "reverts weight_decay 0.05 → 0", F_WD, 0.05, 0},
	{"torch.optim.Adam", "torch.optim.Adam, init_args: {amsgrad: true}",
	 "reverts amsgrad True → False", F_AMSGRAD, 1, 0},
	{"torch.optim.Adam, init_args: {eps: 1.0e-06}", "torch.optim.Adam",
	 "reverts eps 1e-08 → 1e-06", F_EPS, 1e-8, 1e-6},
	{"torch.optim.Adagrad", "torch.optim.Adagrad", "fails 'sum'", F_NONE, 0, 0},
	{"torch.optim.SGD", "torch.optim.Adam", "fails 'betas'", F_NONE, 0, 0},
	{"torch.optim.Adam", "torch.optim.SGD", "fails 'momentum'", F_NONE, 0, 0},
	{"torch.optim.Adam", "torch.optim.RMSprop", "fails 'square_avg'", F_NONE, 0, 0},
	{"torch.optim.Adam", "torch.optim.NAdam", "fails 'mu_product'", F_NONE, 0, 0},
	{"torch.optim.SGD, init_args: {lr: 0.01, momentum: 0.9}", "torch.optim.RMSprop, init_args: {momentum: 0.9}",
	 "fails 'square_avg'", F_NONE, 0, 0},
	{"torch.optim.Adam", "torch.optim.RAdam", "", F_NONE, 0, 0},
	{"torch.optim.RAdam", "torch.optim.Adam", "", F_NONE, 0, 0},
	{"torch.optim.NAdam", "torch.optim.Adam", "", F_NONE, 0, 0},
	{"torch.optim.SGD, init_args: {lr: 0.01}", "torch.optim.SGD, init_args: {lr: 0.05}", "", F_NONE, 0, 0},
	{"torch.optim.AdamW", "torch.optim.AdamW, init_args: {lr: 0.01}", "", F_NONE, 0, 0},
};

static double curve_phase0_best(void *ud, long epoch, int phase, long in_phase)
{
	(void)ud;
	(void)phase;
	(void)in_phase;
	return epoch == 0 ? 0.5 : 1.0 + (double)epoch;
}

static const struct fts_diag *find_code(const struct fts_diags *d, const char *code)
{
	for (size_t i = 0; i < d->n; i++)
		if (!strcmp(fts_diag_code(d->v[i]->id), code))
			return d->v[i];
	return NULL;
}

/* Check path with args; the FTSC080 and FTSC095 messages (or ""). */
static void restore_diags(const char *path, const char *args, char *f080, char *f095, size_t n)
{
	struct fts_sources src;
	struct fts_diags d;
	fts_sources_init(&src);
	fts_diags_init(&d, &src);
	struct fts_check_input in = {0};
	fts_settings_default(&in.settings);
	in.schedule = path;
	in.manifest = CASE_BORING;
	char abuf[1024];
	snprintf(abuf, sizeof(abuf), "%s", args);
	case_apply_args(&in, abuf);
	struct fts_compile c;
	ck_assert_int_eq(fts_compile_run(&in, &d, &c), 0);
	ck_assert_msg(d.errors == 0, "%s: errors", path);
	const struct fts_diag *x = find_code(&d, "FTSC080"), *y = find_code(&d, "FTSC095");
	snprintf(f080, n, "%s", x ? x->msg : "");
	snprintf(f095, n, "%s", y ? y->msg : "");
	fts_compile_release(&c);
	fts_diags_release(&d);
	fts_sources_release(&src);
}

START_TEST(test_restore_pairs)
{
	const struct restore_pair *rp = &restore_pairs[_i];
	char path[] = "/tmp/ftsc-restore-XXXXXX.yaml";
	int fd = mkstemps(path, 5);
	ck_assert_int_ge(fd, 0);
	FILE *f = fdopen(fd, "w");
	fprintf(f, "0:\n  params: [model.3.weight, model.3.bias]\n"
		"1:\n  params: [model.2.weight, model.2.bias]\n"
		"  new_optimizer:\n    optimizer_init: {class_path: %s}\n"
		"2:\n  params: [model.1.weight, model.1.bias, model.0.weight, model.0.bias]\n", rp->b);
	fclose(f);
	char args[512];
	snprintf(args, sizeof(args), "--initial-optimizer={class_path: %s} --initial-lr-scheduler=none", rp->a);
	char f080[1024], f095[1024];
	restore_diags(path, args, f080, f095, sizeof(f080));
	const char *label = rp->expect;
	if (!strncmp(label, "fails ", 6)) {
		char want[128];
		snprintf(want, sizeof(want), "KeyError: %s", label + 6);
		ck_assert_msg(strstr(f080, "phase 2") && strstr(f080, want), "%s -> %s: FTSC080 '%s'", rp->a, rp->b,
			      f080);
		ck_assert_msg(!f095[0], "%s -> %s: FTSC095 '%s'", rp->a, rp->b, f095);
	} else if (!strncmp(label, "reverts ", 8)) {
		ck_assert_msg(!f080[0], "%s -> %s: FTSC080 '%s'", rp->a, rp->b, f080);
		const char *tail = strstr(f095, ": ");
		ck_assert_msg(tail && !strcmp(tail + 2, label + 8), "%s -> %s: FTSC095 '%s', want '%s'", rp->a,
			      rp->b, f095, label + 8);
	} else {
		ck_assert_msg(!f080[0] && !f095[0], "%s -> %s: '%s' '%s'", rp->a, rp->b, f080, f095);
	}
	/* the runtime does the same */
	struct built b;
	build(path, NULL, args, true, &b);
	ck_assert_msg(b.buf, "%s", b.first_error);
	struct trace t;
	drive(&b, curve_phase0_best, NULL, 2, 60, &t);
	if (!strncmp(label, "fails ", 6)) {
		ck_assert_int_eq(t.rc, FTSRT_EFORMAT);
		ck_assert_msg(strstr(t.err, "(ftsc check FTSC080)") && strstr(t.err, label + 6) &&
			      strstr(t.err, "transition to phase 2"), "%s", t.err);
	} else {
		ck_assert_msg(t.rc == 0, "%s -> %s: %s", rp->a, rp->b, t.err);
		const struct phase_seen *p2 = NULL;
		for (int k = 0; k < t.nph; k++)
			if (t.ph[k].phase == 2)
				p2 = &t.ph[k];
		ck_assert_msg(p2 && p2->ngroups == 3 && p2->g[0].phase == 0, "phase 2 not reached as expected");
		if (rp->field != F_NONE) {
			ck_assert_msg(hp_get(&p2->hp[0], rp->field) == rp->rest, "restored group: %g, want %g",
				      hp_get(&p2->hp[0], rp->field), rp->rest);
			ck_assert_msg(hp_get(&p2->hp[2], rp->field) == rp->conf, "added group: %g, want %g",
				      hp_get(&p2->hp[2], rp->field), rp->conf);
		} else {
			for (enum hp_field k = F_MOMENTUM; k <= F_EPS; k++)
				ck_assert_msg(hp_get(&p2->hp[0], k) == hp_get(&p2->hp[2], k),
					      "%s -> %s: field %d differs after a silent restore", rp->a, rp->b, k);
		}
	}
	built_free(&b);
	unlink(path);
}
END_TEST

/* SGD, Adam (phase 1), SGD again (phase 2), phase 3 without new_optimizer:
 * phase 1's Adam checkpoint crashes phase 3's SGD (KeyError 'momentum') and
 * is the only source named; phase 0's SGD checkpoint is the same
 * configuration and cannot crash. */
START_TEST(test_restore_every_source)
{
	char path[] = "/tmp/ftsc-restore-XXXXXX.yaml";
	int fd = mkstemps(path, 5);
	ck_assert_int_ge(fd, 0);
	FILE *f = fdopen(fd, "w");
	fputs("0:\n  params: [model.3.weight, model.3.bias]\n"
	      "1:\n  params: [model.2.weight, model.2.bias]\n"
	      "  new_optimizer:\n    optimizer_init: {class_path: torch.optim.Adam}\n"
	      "2:\n  params: [model.1.weight, model.1.bias]\n"
	      "  new_optimizer:\n    optimizer_init: {class_path: torch.optim.SGD, init_args: {lr: 0.01}}\n"
	      "3:\n  params: [model.0.weight, model.0.bias]\n", f);
	fclose(f);
	char args[] = "--initial-optimizer={class_path: torch.optim.SGD, init_args: {lr: 0.01}} "
		"--initial-lr-scheduler=none";
	struct fts_sources src;
	struct fts_diags d;
	fts_sources_init(&src);
	fts_diags_init(&d, &src);
	struct fts_check_input in = {0};
	fts_settings_default(&in.settings);
	in.schedule = path;
	in.manifest = CASE_BORING;
	case_apply_args(&in, args);
	struct fts_compile c;
	ck_assert_int_eq(fts_compile_run(&in, &d, &c), 0);
	const struct fts_diag *dg = find_code(&d, "FTSC080");
	ck_assert_ptr_nonnull(dg);
	ck_assert_msg(strstr(dg->msg, "phase 3") && strstr(dg->msg, "KeyError: 'momentum'"), "%s", dg->msg);
	size_t notes = 0;
	for (size_t j = 0; j < dg->nnotes; j++)
		if (!dg->notes[j].help) {
			notes++;
			ck_assert_msg(strstr(dg->notes[j].msg, "phase 1 trains with Adam"), "%s", dg->notes[j].msg);
		}
	ck_assert_uint_eq(notes, 1);
	ck_assert_ptr_null(find_code(&d, "FTSC095"));
	/* the plan's table: phase 3 from phase 1 fails, nothing else */
	const struct rt_plan *v = &c.view->p;
	ck_assert_uint_eq(v->nrestores, 1);
	ck_assert_uint_eq(v->restores[0].target, 3);
	ck_assert_uint_eq(v->restores[0].source, 1);
	ck_assert_int_eq(v->restores[0].kind, RT_RESTORE_FAILS);
	fts_compile_release(&c);
	fts_diags_release(&d);
	/* restore_best off: no analysis, no table */
	fts_diags_init(&d, &src);
	in.settings.restore_best = false;
	ck_assert_int_eq(fts_compile_run(&in, &d, &c), 0);
	ck_assert_ptr_null(find_code(&d, "FTSC080"));
	ck_assert_uint_eq(c.view->p.nrestores, 0);
	fts_compile_release(&c);
	fts_diags_release(&d);
	fts_sources_release(&src);
	unlink(path);
}
END_TEST

/* The property's counterexample (seed 13088), fixed: the runtime refuses the
 * restore whose replay cannot build the scheduler, with check's message. */
START_TEST(test_restore_replay)
{
	struct case_header h;
	case_read_header("tests/cases/x_restore_replay_groups.yaml", &h);
	struct built b;
	build("tests/cases/x_restore_replay_groups.yaml", NULL, h.args, true, &b);
	ck_assert_msg(b.buf && strstr(b.codes, "FTSC078"), "%s %s", b.first_error, b.codes);
	struct trace t;
	drive(&b, curve_phase0_best, NULL, 2, 60, &t);
	ck_assert_int_eq(t.rc, FTSRT_EFORMAT);
	ck_assert_msg(strstr(t.err, "(ftsc check FTSC078)") && strstr(t.err, "min_lrs"), "%s", t.err);
	/* when phase 1's checkpoint is the best, the groups are the run's: it completes */
	drive(&b, curve_staircase, NULL, 2, 60, &t);
	ck_assert_msg(t.rc == 0, "%s", t.err);
	built_free(&b);
}
END_TEST

/* A checkpoint belongs to its plan: another plan of the same model refuses it,
 * naming both; the same plan stripped of its source map takes it. */
START_TEST(test_checkpoint_identity)
{
	struct built a, a2, other;
	build("tests/schedules/boring_default.yaml", NULL, "", true, &a);
	build_strip = false;
	build("tests/schedules/boring_default.yaml", NULL, "", true, &a2);
	build("tests/schedules/boring_mod.yaml", NULL, "", true, &other);
	build_strip = true;
	ck_assert(a.buf && a2.buf && other.buf);
	ck_assert(a.len != a2.len);     /* the source map is in one only */
	char dir[] = "/tmp/ftsc-ident-XXXXXX", path[256];
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/run.ftsckpt", dir);
	const struct built *pl[3] = {&a, &a2, &other};
	ftsrt_plan *p[3];
	ftsrt_run *r[3];
	double *ap[3], *ag[3];
	ftsrt_error err;
	for (int k = 0; k < 3; k++) {
		ck_assert_int_eq(ftsrt_plan_open_mem(&p[k], pl[k]->buf, pl[k]->len, NULL, &err), 0);
		struct ftsrt_run_options o = FTSRT_INIT(struct ftsrt_run_options);
		ck_assert_int_eq(ftsrt_run_options_default(&o, &err), 0);
		o.dtype = FTSRT_F64;
		o.scale = 0.1;
		ck_assert_int_eq(ftsrt_run_new(&r[k], p[k], &o, &err), 0);
		size_t n = ftsrt_run_arena_numel(r[k]);
		ap[k] = calloc(n, sizeof(double));
		ag[k] = calloc(n, sizeof(double));
		ck_assert_int_eq(ftsrt_run_bind_arena(r[k], ap[k], ag[k], n, 0, &err), 0);
	}
	ck_assert_int_eq(ftsrt_run_step(r[0], &err), 0);
	ck_assert_int_eq(ftsrt_run_save(r[0], path, &err), 0);
	ck_assert_int_eq(ftsrt_run_resume(r[1], path, &err), 0);
	ck_assert_int_eq(ftsrt_run_resume(r[2], path, &err), FTSRT_EFORMAT);
	ck_assert_int_eq(err.status, FTSRT_EFORMAT);
	ck_assert_msg(strstr(err.message, "checkpoint of another plan") &&
		      strstr(err.message, "boring_default.yaml") == NULL /* a's is stripped */ &&
		      strstr(err.message, "boring_mod.yaml"), "%s", err.message);
	for (int k = 0; k < 3; k++) {
		ftsrt_run_free(r[k]);
		ftsrt_plan_close(p[k]);
		free(ap[k]);
		free(ag[k]);
	}
	built_free(&a);
	built_free(&a2);
	built_free(&other);
	unlink(path);
	rmdir(dir);
}
END_TEST

static Suite *semantics_suite(void)
{
	Suite *s = suite_create("semantics");
	TCase *tc = tcase_create("parity");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_parity);
	suite_add_tcase(s, tc);
	tc = tcase_create("restore");
	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, test_restore_pairs, 0, (int)(sizeof(restore_pairs) / sizeof(restore_pairs[0])));
	tcase_add_test(tc, test_restore_every_source);
	tcase_add_test(tc, test_restore_replay);
	tcase_add_test(tc, test_checkpoint_identity);
	suite_add_tcase(s, tc);
	tc = tcase_create("invariant");
	tcase_set_timeout(tc, 600);
	tcase_add_test(tc, test_invariant);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(semantics_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
