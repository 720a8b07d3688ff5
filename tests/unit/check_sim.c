/*
 * check_sim.c - the cross-phase simulation against the run-time outcome
 * tables of docs/fts-cases.md section 6 (parameter-group layouts, the
 * optimizer in force, and the lrs FTS's tests assert at phase starts), and
 * the checks that need it (restore_best hazards, init_pg_lrs and min_lr
 * counts, scheduler presence, lambdas for new groups).
 *
 * The model is FTS's FinetuningSchedulerBoringModel (M1): SGD(lr 1e-3,
 * weight_decay 1e-6) with StepLR(step_size 1, gamma 0.7).
 */
#include <check.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "diag.h"
#include "driver.h"

#define BORING "tests/data/manifests/fts-boring-model.tsv"
#define SCHED "tests/schedules/boring_"
#define M1_OPT "{class_path: torch.optim.SGD, init_args: {lr: 0.001, weight_decay: 1.0e-06}}"
#define M1_LRS "{class_path: torch.optim.lr_scheduler.StepLR, init_args: {step_size: 1, gamma: 0.7}}"
#define CONT -1.0                       /* expected: continues its trajectory */
#define UNK -2.0                        /* expected: not decided statically */

struct run {
	struct fts_sources src;
	struct fts_diags d;
	struct fts_compile c;
};

static struct fts_check_input boring(const char *schedule)
{
	struct fts_check_input in = {0};
	fts_settings_default(&in.settings);
	in.schedule = schedule;
	in.implicit = schedule == NULL;
	in.manifest = BORING;
	in.initial_optimizer = M1_OPT;
	in.initial_lr_scheduler = M1_LRS;
	return in;
}

static void run(struct run *r, const struct fts_check_input *in)
{
	fts_sources_init(&r->src);
	fts_diags_init(&r->d, &r->src);
	r->d.show_remarks = true;       /* FTSC079 and FTS's INFO remarks are asserted too */
	int rc = fts_compile_run(in, &r->d, &r->c);
	ck_assert_int_eq(rc, 0);
}

static void done(struct run *r)
{
	fts_compile_release(&r->c);
	fts_diags_release(&r->d);
	fts_sources_release(&r->src);
}

static size_t count(struct run *r, const char *code)
{
	size_t n = 0;
	for (size_t i = 0; i < r->d.n; i++)
		if (strcmp(fts_diag_code(r->d.v[i]->id), code) == 0)
			n++;
	return n;
}

static void dump(struct run *r)
{
	for (size_t i = 0; i < r->d.n; i++)
		fprintf(stderr, "  %s %s: %s\n", fts_severity_name(r->d.v[i]->sev),
			fts_diag_code(r->d.v[i]->id), r->d.v[i]->msg);
}

/* Assert phase k's group lrs: n values, CONT or UNK for non-static ones. */
static void lrs(struct run *r, size_t k, size_t n, ...)
{
	ck_assert_msg(r->c.sim != NULL, "no simulation (errors: %zu)", r->d.errors);
	ck_assert_uint_lt(k, r->c.sim->n);
	const struct fts_sim_phase *p = &r->c.sim->phases[k];
	ck_assert_msg(p->ngroups == n, "phase %zu: %zu groups, expected %zu", k, p->ngroups, n);
	va_list ap;
	va_start(ap, n);
	for (size_t g = 0; g < n; g++) {
		double want = va_arg(ap, double);
		const struct fts_sim_lr *lr = &p->groups[g].lr;
		if (want == CONT)
			ck_assert_msg(lr->kind == FTS_LR_CONTINUES, "phase %zu group %zu: kind %d", k, g, lr->kind);
		else if (want == UNK)
			ck_assert_msg(lr->kind == FTS_LR_UNKNOWN, "phase %zu group %zu: kind %d", k, g, lr->kind);
		else
			ck_assert_msg(lr->kind == FTS_LR_KNOWN && fabs(lr->v - want) <= 1e-12 * fabs(want),
				      "phase %zu group %zu: lr %g (kind %d), expected %g", k, g, lr->v,
				      lr->kind, want);
	}
	va_end(ap);
}

static void opt_is(struct run *r, size_t k, const char *cls, double lr)
{
	const struct fts_sim_phase *p = &r->c.sim->phases[k];
	ck_assert(p->opt.known && p->opt.dir);
	ck_assert_str_eq(p->opt.dir->class_path, cls);
	ck_assert(p->opt.lr.kind == FTS_LR_KNOWN && fabs(p->opt.lr.v - lr) < 1e-15);
}

/* R01: group count follows max_depth; initial lrs are the phase lrs. */
START_TEST(test_r01_explicit_implicit)
{
	static const struct { bool explicit_; int64_t max_depth; size_t groups; } cases[] = {
		{true, -1, 3}, {false, -1, 4}, {true, 0, 1}, {false, 0, 1},
		{true, 2, 3}, {false, 2, 3}, {true, 999, 3}, {false, 999, 4},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct run r;
		struct fts_check_input in = boring(cases[i].explicit_ ? SCHED "mod.yaml" : NULL);
		in.settings.max_depth = cases[i].max_depth;
		run(&r, &in);
		const struct fts_sim *s = r.c.sim;
		ck_assert_msg(s && s->phases[s->n - 1].ngroups == cases[i].groups, "case %zu", i);
		/* metadata lrs: each group's initial_lr when added */
		const struct fts_sim_phase *last = &s->phases[s->n - 1];
		ck_assert(fabs(last->groups[0].initial_lr.v - 0.001) < 1e-15);
		for (size_t g = 1; g < last->ngroups; g++) {
			double want = cases[i].explicit_ && g == 1 ? 1e-06 : 1e-05;
			ck_assert_msg(fabs(last->groups[g].initial_lr.v - want) < 1e-18, "case %zu group %zu", i, g);
		}
		done(&r);
	}
}
END_TEST

/* R03: no_decay doubles every later phase's groups; phase 0 keeps the user's. */
START_TEST(test_r03_no_decay)
{
	static const char *const nd[] = {"bias"};
	struct run r;
	struct fts_check_input in = boring(SCHED "mod.yaml");
	in.no_decay = nd;
	in.nno_decay = 1;
	run(&r, &in);
	const struct fts_sim_phase *last = &r.c.sim->phases[2];
	ck_assert_uint_eq(last->ngroups, 5);
	ck_assert(last->groups[2].no_decay && !last->groups[1].no_decay);
	ck_assert_uint_eq(last->groups[1].nparams, 1);   /* model.1.weight */
	ck_assert_uint_eq(last->groups[2].nparams, 1);   /* model.1.bias */
	done(&r);
	in = boring(NULL);
	in.no_decay = nd;
	in.nno_decay = 1;
	run(&r, &in);
	ck_assert_uint_eq(r.c.sim->phases[3].ngroups, 7);
	done(&r);
}
END_TEST

/* R04: no scheduler; groups enter at the phase lr. */
START_TEST(test_r04_no_scheduler)
{
	struct run r;
	struct fts_check_input in = boring(NULL);
	in.initial_optimizer = "{class_path: torch.optim.SGD, init_args: {lr: 0.1}}";
	in.initial_lr_scheduler = "none";
	run(&r, &in);
	lrs(&r, 0, 1, 0.1);
	lrs(&r, 1, 2, CONT, 1e-05);
	lrs(&r, 3, 4, CONT, CONT, CONT, 1e-05);
	done(&r);
}
END_TEST

/* R07: optimizer reinitialization, with and without lr reinitialization. */
START_TEST(test_r07_reinit_optim)
{
	struct run r;
	struct fts_check_input in = boring(SCHED "reinit_optim.yaml");
	run(&r, &in);                                   /* explicit_optim */
	lrs(&r, 1, 2, CONT, 1e-05);
	lrs(&r, 2, 3, CONT, CONT, 1e-05);
	lrs(&r, 3, 4, CONT, CONT, CONT, 1e-05);
	opt_is(&r, 1, "torch.optim.Adam", 0.00021);
	opt_is(&r, 2, "torch.optim.SGD", 0.002);
	opt_is(&r, 3, "torch.optim.SGD", 0.002);
	done(&r);

	in = boring(SCHED "reinit_optim_lr.yaml");
	run(&r, &in);                                   /* explicit_optimlr */
	lrs(&r, 1, 2, 0.00021, 1e-05);
	lrs(&r, 2, 3, 0.002, 1e-05, 3e-06);
	lrs(&r, 3, 4, CONT, CONT, CONT, 1e-05);
	for (size_t k = 0; k < 4; k++)
		for (size_t g = 0; g < r.c.sim->phases[k].ngroups; g++)
			ck_assert_uint_eq(r.c.sim->phases[k].groups[g].nparams, 2);
	done(&r);

	in = boring(SCHED "use_curr.yaml");
	run(&r, &in);                                   /* explicit_optimlr_use_curr */
	lrs(&r, 1, 2, 0.00021, 1e-05);
	lrs(&r, 2, 3, CONT, CONT, 3e-06);
	done(&r);

	in = boring(NULL);                              /* implicit_optimlr */
	in.reinit_optim_cfg = "{optimizer_init: {class_path: torch.optim.Adam, init_args: {lr: 2.2e-04}}}";
	in.reinit_lr_cfg = "{lr_scheduler_init: {class_path: torch.optim.lr_scheduler.StepLR, "
			   "init_args: {step_size: 1, gamma: 0.5}}, pl_lrs_cfg: {interval: epoch, frequency: 1, "
			   "name: Custom_Reinit_LR}}";
	run(&r, &in);
	ck_assert_msg(r.d.errors == 0, "errors");
	lrs(&r, 1, 2, 0.00022, 1e-05);
	lrs(&r, 2, 3, 0.00022, 1e-05, 1e-05);
	lrs(&r, 3, 4, 0.00022, 1e-05, 1e-05, 1e-05);
	opt_is(&r, 3, "torch.optim.Adam", 0.00022);
	done(&r);

	in = boring(NULL);                              /* implicit_optimlr_use_curr */
	in.reinit_optim_cfg = "{optimizer_init: {class_path: torch.optim.Adam, init_args: {lr: 2.2e-04}}}";
	in.reinit_lr_cfg = "{lr_scheduler_init: {class_path: torch.optim.lr_scheduler.StepLR, "
			   "init_args: {step_size: 1, gamma: 0.5}}, use_current_optimizer_pg_lrs: true}";
	run(&r, &in);
	lrs(&r, 1, 2, CONT, 1e-05);
	lrs(&r, 2, 3, CONT, CONT, 1e-05);
	done(&r);
}
END_TEST

/* R08: with no_decay the rebuilt phase 0 is a pair. */
START_TEST(test_r08_nodecay)
{
	static const char *const nd[] = {"bias"};
	struct run r;
	struct fts_check_input in = boring(SCHED "reinit_optim_lr.yaml");
	in.no_decay = nd;
	in.nno_decay = 1;
	run(&r, &in);
	lrs(&r, 1, 4, 0.00021, 0.00021, 1e-05, 1e-05);
	lrs(&r, 2, 6, 0.002, 0.002, 1e-05, 1e-05, 3e-06, 3e-06);
	done(&r);
}
END_TEST

/* R09 (S09) and R10 (S03, implicit StepLR) and R12 (RLROP). */
START_TEST(test_r09_r10_r12_lr_reinit)
{
	struct run r;
	struct fts_check_input in = boring(SCHED "reinit_optim_rlrop.yaml");
	run(&r, &in);
	lrs(&r, 1, 2, 1.5e-06, 1e-05);
	done(&r);

	in = boring(SCHED "reinit_lr.yaml");
	run(&r, &in);
	lrs(&r, 1, 2, 0.001, 1e-05);
	lrs(&r, 2, 3, 1e-06, 2e-06, 3e-06);
	lrs(&r, 3, 4, CONT, CONT, CONT, 1e-05);
	done(&r);

	in = boring(NULL);
	in.reinit_lr_cfg = "{lr_scheduler_init: {class_path: torch.optim.lr_scheduler.StepLR, "
			   "init_args: {step_size: 1, gamma: 0.7}}, pl_lrs_cfg: {interval: epoch, frequency: 1, "
			   "name: Custom_Reinit_LR}}";
	run(&r, &in);
	lrs(&r, 1, 2, 0.001, 1e-05);
	lrs(&r, 2, 3, 0.001, 1e-05, 1e-05);
	lrs(&r, 3, 4, 0.001, 1e-05, 1e-05, 1e-05);
	done(&r);

	/* an initial ReduceLROnPlateau never sets initial_lr: group 0 keeps its lr */
	in = boring(NULL);
	in.settings.max_depth = 2;
	in.initial_lr_scheduler = "{lr_scheduler_init: {class_path: torch.optim.lr_scheduler.ReduceLROnPlateau, "
				  "init_args: {patience: 2}}, pl_lrs_cfg: {monitor: val_loss}}";
	in.reinit_lr_cfg = "{lr_scheduler_init: {class_path: torch.optim.lr_scheduler.ReduceLROnPlateau, "
			   "init_args: {patience: 1}}, pl_lrs_cfg: {monitor: val_loss}}";
	run(&r, &in);
	lrs(&r, 1, 2, CONT, 1e-05);
	lrs(&r, 2, 3, CONT, 1e-05, 1e-05);
	done(&r);
}
END_TEST

/* R02: the user's phase 0 rebuilt as a no_decay pair (--phase0-groups=2). */
START_TEST(test_r02_phase0_groups)
{
	struct run r;
	struct fts_check_input in = boring(NULL);
	in.phase0_groups = 2;
	in.settings.max_depth = 2;
	static const char *const nd[] = {"bias"};
	in.no_decay = nd;
	in.nno_decay = 1;
	run(&r, &in);
	lrs(&r, 0, 2, 0.001, 0.001);
	lrs(&r, 1, 4, CONT, CONT, 1e-05, 1e-05);
	lrs(&r, 2, 6, CONT, CONT, CONT, CONT, 1e-05, 1e-05);
	done(&r);
}
END_TEST

/* The seed's hazard: SGD, then Adam (phase 1), then phase 2 without new_optimizer. */
START_TEST(test_seed_restore_hazard)
{
	char path[] = "/tmp/ftsc-seed-XXXXXX.yaml";
	int fd = mkstemps(path, 5);
	ck_assert_int_ge(fd, 0);
	FILE *f = fdopen(fd, "w");
	fputs("0:\n  params: [model.3.bias, model.3.weight]\n"
	      "1:\n  params: [model.2.bias, model.2.weight]\n"
	      "  new_optimizer:\n    optimizer_init:\n      class_path: torch.optim.Adam\n"
	      "      init_args: {lr: 1.0e-05}\n"
	      "2:\n  params: [model.1.bias, model.1.weight]\n", f);
	fclose(f);
	struct run r;
	struct fts_check_input in = boring(path);
	run(&r, &in);
	ck_assert_msg(count(&r, "FTSC080") == 1, "hazard not reported");
	const struct fts_diag *dg = NULL;
	for (size_t i = 0; i < r.d.n; i++)
		if (strcmp(fts_diag_code(r.d.v[i]->id), "FTSC080") == 0)
			dg = r.d.v[i];
	ck_assert_msg(strstr(dg->msg, "phase 2") && strstr(dg->msg, "Adam (new_optimizer of phase 1)") &&
		      strstr(dg->msg, "KeyError: 'betas'"), "%s", dg->msg);
	size_t helps = 0, notes = 0;
	for (size_t j = 0; j < dg->nnotes; j++) {
		if (dg->notes[j].help && strstr(dg->notes[j].msg, "give phase 2 its own new_optimizer") &&
		    strstr(dg->notes[j].msg, "restore_best: false"))
			helps++;
		/* the crashing source is phase 0 (SGD); phase 1's own checkpoint cannot crash */
		if (!dg->notes[j].help) {
			notes++;
			ck_assert_msg(strstr(dg->notes[j].msg, "phase 0 trains with SGD"), "%s", dg->notes[j].msg);
		}
	}
	ck_assert_uint_eq(helps, 1);
	ck_assert_uint_eq(notes, 1);
	done(&r);
	/* restore_best off: nothing to restore */
	in.settings.restore_best = false;
	run(&r, &in);
	ck_assert_uint_eq(count(&r, "FTSC080"), 0);
	done(&r);
	/* unknown initial optimizer: skipped with a note, never guessed */
	in = boring(path);
	in.initial_optimizer = NULL;
	run(&r, &in);
	ck_assert_uint_eq(count(&r, "FTSC080"), 0);
	ck_assert_uint_eq(count(&r, "FTSC079"), 1);
	done(&r);
	unlink(path);
}
END_TEST

START_TEST(test_counts_and_presence)
{
	struct run r;
	/* A20: 2 init_pg_lrs entries for 1 existing group: the second hits the new group
	 * (the boring model has no no_decay: the count is verified, no reminder) */
	struct fts_check_input in = boring("tests/cases/a20_num_pg_w.yaml");
	in.no_decay_given = true;
	run(&r, &in);
	ck_assert_uint_eq(count(&r, "FTSC083"), 1);
	ck_assert_uint_eq(count(&r, "FTS-R8"), 0);
	done(&r);
	/* not knowing the module's no_decay, 2 entries may be one phase's pair: FTS's
	 * reminder (FTS-R8) only, since ftsc cannot verify the count */
	in.no_decay_given = false;
	run(&r, &in);
	ck_assert_uint_eq(count(&r, "FTSC083"), 0);
	ck_assert_uint_eq(count(&r, "FTS-R8"), 1);
	done(&r);
	in.no_decay_given = true;
	/* with two user groups in phase 0 the list fits */
	in.phase0_groups = 2;
	run(&r, &in);
	ck_assert_uint_eq(count(&r, "FTSC083"), 0);
	done(&r);
	/* S05's min_lr list fits the 2 groups of phase 1 */
	in = boring(SCHED "rlrop.yaml");
	run(&r, &in);
	ck_assert_uint_eq(count(&r, "FTSC088"), 0);
	done(&r);
	/* F21: three min_lr for two groups */
	char path[] = "/tmp/ftsc-minlr-XXXXXX.yaml";
	int fd = mkstemps(path, 5);
	FILE *f = fdopen(fd, "w");
	fputs("0:\n  params: [model.3.bias, model.3.weight]\n1:\n  params: [model.2.bias, model.2.weight]\n"
	      "  new_lr_scheduler:\n    lr_scheduler_init:\n"
	      "      class_path: torch.optim.lr_scheduler.ReduceLROnPlateau\n"
	      "      init_args: {min_lr: [1.0e-07, 1.0e-07, 1.0e-07]}\n    pl_lrs_cfg: {monitor: val_loss}\n", f);
	fclose(f);
	in = boring(path);
	run(&r, &in);
	ck_assert_msg(count(&r, "FTSC088") == 1, "min_lr count");
	ck_assert(r.d.errors > 0);
	done(&r);
	/* F12: new_lr_scheduler without an initial scheduler */
	in = boring(SCHED "reinit_lr.yaml");
	in.initial_lr_scheduler = "none";
	run(&r, &in);
	ck_assert_uint_eq(count(&r, "FTSC085"), 1);
	done(&r);
	/* unknown initial scheduler: a note */
	in = boring(SCHED "reinit_lr.yaml");
	in.initial_lr_scheduler = NULL;
	run(&r, &in);
	ck_assert_uint_eq(count(&r, "FTSC085"), 0);
	ck_assert_uint_ge(count(&r, "FTSC079"), 1);
	done(&r);
	unlink(path);
}
END_TEST

START_TEST(test_lambdas_and_scheduler_hazard)
{
	struct run r;
	/* C11 / V-T3: S04 with the LambdaLR subclass declared; phase 3 adds a group
	 * under it without apply_lambdas_new_pgs */
	static const char *const decl[] = {"tests/data/boring_models.fts"};
	struct fts_check_input in = boring(SCHED "lambdalr.yaml");
	in.declare = decl;
	in.ndeclare = 1;
	run(&r, &in);
	ck_assert_msg(count(&r, "FTS-T3") == 1, "V-T3");
	/* phase 3 may restore a StepLR checkpoint of phase 0 into the phase-2 LambdaLR: FTS
	 * rolls the previous scheduler state forward (7.8), no hazard (FTSC081 is retired) */
	ck_assert_uint_eq(count(&r, "FTSC081"), 0);
	lrs(&r, 1, 2, UNK, UNK);
	done(&r);
	in.settings.apply_lambdas_new_pgs = true;
	run(&r, &in);
	ck_assert_uint_eq(count(&r, "FTS-T3"), 0);
	ck_assert_uint_eq(count(&r, "FTSC086"), 1);
	done(&r);
}
END_TEST

/* Every FTS-accepted boring schedule simulates without errors. */
START_TEST(test_accepted_schedules_simulate)
{
	static const char *const files[] = {
		"default.yaml", "mod.yaml",
		"epoch_only.yaml", "reinit_lr.yaml", "rlrop.yaml",
		"reinit_optim.yaml", "reinit_optim_lr.yaml",
		"reinit_optim_rlrop.yaml", "use_curr.yaml",
	};
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		char path[256];
		snprintf(path, sizeof(path), SCHED "%s", files[i]);
		struct run r;
		struct fts_check_input in = boring(path);
		run(&r, &in);
		if (r.d.errors)
			dump(&r);
		ck_assert_msg(r.d.errors == 0 && r.c.sim, "%s", files[i]);
		done(&r);
	}
}
END_TEST

static Suite *sim_suite(void)
{
	Suite *s = suite_create("simulate");
	TCase *tc = tcase_create("fts-cases-6");
	tcase_add_test(tc, test_r01_explicit_implicit);
	tcase_add_test(tc, test_r03_no_decay);
	tcase_add_test(tc, test_r04_no_scheduler);
	tcase_add_test(tc, test_r07_reinit_optim);
	tcase_add_test(tc, test_r08_nodecay);
	tcase_add_test(tc, test_r09_r10_r12_lr_reinit);
	tcase_add_test(tc, test_r02_phase0_groups);
	tcase_add_test(tc, test_seed_restore_hazard);
	tcase_add_test(tc, test_counts_and_presence);
	tcase_add_test(tc, test_lambdas_and_scheduler_hazard);
	tcase_add_test(tc, test_accepted_schedules_simulate);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(sim_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
