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
		if (fts_emit_plan(&c, &src, true, &b->buf, &b->len, err, sizeof(err)) != 0) {
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
};

struct trace {
	struct phase_seen ph[32];
	int nph;
	int stop;                       /* ftsrt_run_finished */
	int rc;                         /* first failing status, 0 */
	char err[768];
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
	for (int i = 0; i < p->ngroups && i < 64; i++)
		ftsrt_run_group(r, i, &p->g[i]);
}

static void drive(const struct built *b, curve_fn curve, void *ud, int steps, long max_epochs,
		  struct trace *t)
{
	memset(t, 0, sizeof(*t));
	ftsrt_plan *p = NULL;
	t->rc = ftsrt_plan_open_mem(&p, b->buf, b->len, t->err, sizeof(t->err));
	if (t->rc)
		return;
	struct ftsrt_run_options o;
	ftsrt_run_options_default(&o);
	o.dtype = FTSRT_F64;
	o.scale = 0.1;
	ftsrt_run *r = NULL;
	t->rc = ftsrt_run_new_ex(&r, p, &o, t->err, sizeof(t->err));
	if (t->rc) {
		ftsrt_plan_close(p);
		return;
	}
	size_t n = ftsrt_run_arena_numel(r);
	double *ap = calloc(n ? n : 1, sizeof(double)), *ag = calloc(n ? n : 1, sizeof(double));
	uint64_t s = 42;
	for (size_t i = 0; i < n; i++)
		ap[i] = 0.1 * (rng_unit(&s) - 0.5);
	t->rc = ftsrt_run_bind_arena(r, ap, ag, n, 0);
	if (!t->rc)
		seen(r, t);
	int phase = ftsrt_run_phase(r);
	long in_phase = 0;
	for (long e = 0; !t->rc && !ftsrt_run_finished(r) && e < max_epochs; e++) {
		for (int k = 0; k < steps && !t->rc; k++) {
			for (size_t i = 0; i < n; i++)
				ag[i] = ap[i] + 0.01 * (rng_unit(&s) - 0.5);
			t->rc = ftsrt_run_step(r);
		}
		if (t->rc)
			break;
		t->rc = ftsrt_run_epoch_end(r, curve(ud, e, phase, in_phase));
		struct ftsrt_run_event ev;
		while (ftsrt_run_next_event(r, &ev))
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
		snprintf(t->err, sizeof(t->err), "%s", ftsrt_run_errmsg(r));
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
	char msg[256];
	if (ftsrt_plan_open_mem(&p, b->buf, b->len, msg, sizeof(msg)))
		return strdup(msg);
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

static Suite *semantics_suite(void)
{
	Suite *s = suite_create("semantics");
	TCase *tc = tcase_create("parity");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_parity);
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
