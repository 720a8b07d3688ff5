/*
 * check_cases.c - FTS verdicts: every schedule case of docs/fts-cases.md
 * (sections 3 and 7, plus ftsc's own) and every schedule of ../shared/fts
 * that FTS accepts, run through the whole checking pipeline.
 *
 * A case file in tests/cases/ carries its expectation in comment lines:
 *   # expect: accept|error [E:CODE] [W:CODE] [R:CODE] ...
 *   # args: --max-depth=1 --epoch-transitions-only ... (--implicit: check
 *           FTS's generated schedule; the file then holds only comments)
 *   # manifest: path (default ../shared/manifests/fts-boring-model.tsv)
 * E:/W:/R: require a diagnostic with that code at severity error, warning
 * or remark (remarks are enabled for the run).
 */
#include <check.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diag.h"
#include "driver.h"

#define BORING "../shared/manifests/fts-boring-model.tsv"

struct expect {
	char schedule[1024];
	char manifest[1024];
	char args[1024];
	char expect[1024];
};

static void apply_arg(struct fts_check_input *in, char *arg)
{
	char *v = strchr(arg, '=');
	if (v)
		*v++ = '\0';
	if (strcmp(arg, "--max-depth") == 0)
		in->settings.max_depth = atoll(v);
	else if (strcmp(arg, "--max-epochs") == 0)
		in->settings.max_epochs = atoll(v);
	else if (strcmp(arg, "--base-max-lr") == 0)
		in->settings.base_max_lr = atof(v);
	else if (strcmp(arg, "--epoch-transitions-only") == 0)
		in->settings.epoch_transitions_only = true;
	else if (strcmp(arg, "--allow-untested") == 0)
		in->settings.allow_untested = true;
	else if (strcmp(arg, "--restore-best") == 0)
		in->settings.restore_best = strcmp(v, "false") != 0;
	else if (strcmp(arg, "--reinit-optim-cfg") == 0)
		in->reinit_optim_cfg = v;
	else if (strcmp(arg, "--reinit-lr-cfg") == 0)
		in->reinit_lr_cfg = v;
	else if (strcmp(arg, "--implicit") == 0) {
		in->implicit = true;    /* the case file only carries the expectation */
		in->schedule = NULL;
	}
	else
		ck_abort_msg("unknown case argument '%s'", arg);
}

/* Run one case; returns a malloc'd failure description, or NULL. */
static char *run_case(const struct expect *e)
{
	struct fts_sources src;
	struct fts_diags d;
	fts_sources_init(&src);
	fts_diags_init(&d, &src);
	d.show_remarks = true;
	struct fts_check_input in = {0};
	fts_settings_default(&in.settings);
	in.schedule = e->schedule;
	in.manifest = e->manifest[0] ? e->manifest : BORING;


	/* args: split before each " --" so flow mappings keep their spaces */
	char args[1024];
	snprintf(args, sizeof(args), "%s", e->args);
	char *p = args;
	while (p && *p) {
		while (*p == ' ')
			p++;
		if (!*p)
			break;
		char *next = strstr(p, " --");
		if (next)
			*next = '\0';
		apply_arg(&in, p);
		p = next ? next + 1 : NULL;
	}

	char *fail = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&fail, &len);
	int rc = fts_check_run(&in, &d);
	bool ok = true;
	char expect[1024];
	snprintf(expect, sizeof(expect), "%s", e->expect);
	char *save = NULL;
	for (char *tok = strtok_r(expect, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
		if (strcmp(tok, "accept") == 0) {
			if (rc != 0 || d.errors) {
				fprintf(f, "expected accept, got %zu error(s)", d.errors);
				ok = false;
			}
		} else if (strcmp(tok, "error") == 0) {
			if (rc == 0 && !d.errors) {
				fprintf(f, "expected errors, got none");
				ok = false;
			}
		} else if (strcmp(tok, "io") == 0) {
			if (rc != -1) {
				fprintf(f, "expected an I/O failure");
				ok = false;
			}
		} else if (tok[1] == ':') {
			enum fts_severity want = tok[0] == 'E' ? FTS_SEV_ERROR
					       : tok[0] == 'W' ? FTS_SEV_WARNING : FTS_SEV_REMARK;
			bool found = false;
			for (size_t i = 0; i < d.n; i++)
				if (strcmp(fts_diag_code(d.v[i]->id), tok + 2) == 0 && d.v[i]->sev == want)
					found = true;
			if (!found) {
				fprintf(f, "missing %s; ", tok);
				ok = false;
			}
		}
	}
	if (!ok) {
		fprintf(f, "\n  diagnostics:");
		for (size_t i = 0; i < d.n; i++)
			fprintf(f, "\n    %s %s: %s", fts_severity_name(d.v[i]->sev),
				fts_diag_code(d.v[i]->id), d.v[i]->msg);
	}
	fclose(f);
	fts_diags_release(&d);
	fts_sources_release(&src);
	if (ok) {
		free(fail);
		return NULL;
	}
	return fail;
}

static void read_header(const char *path, struct expect *e)
{
	FILE *f = fopen(path, "r");
	ck_assert_msg(f != NULL, "cannot open %s", path);
	char line[1024];
	while (fgets(line, sizeof(line), f)) {
		if (line[0] != '#')
			continue;
		line[strcspn(line, "\n")] = '\0';
		if (strncmp(line, "# expect:", 9) == 0)
			snprintf(e->expect, sizeof(e->expect), "%s", line + 9);
		else if (strncmp(line, "# args:", 7) == 0)
			snprintf(e->args, sizeof(e->args), "%s", line + 7);
		else if (strncmp(line, "# manifest:", 11) == 0)
			snprintf(e->manifest, sizeof(e->manifest), "%s", line + 12);
	}
	fclose(f);
	ck_assert_msg(e->expect[0], "%s has no '# expect:' line", path);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

START_TEST(test_case_files)
{
	DIR *dir = opendir("tests/cases");
	ck_assert_msg(dir != NULL, "run the tests from the repository root");
	char *names[512];
	size_t n = 0;
	struct dirent *de;
	while ((de = readdir(dir)) && n < 512)
		if (strstr(de->d_name, ".yaml"))
			names[n++] = strdup(de->d_name);
	closedir(dir);
	qsort(names, n, sizeof(*names), cmp_str);
	ck_assert_uint_ge(n, 40);
	size_t failures = 0;
	for (size_t i = 0; i < n; i++) {
		struct expect e = {0};
		snprintf(e.schedule, sizeof(e.schedule), "tests/cases/%s", names[i]);
		read_header(e.schedule, &e);
		char *fail = run_case(&e);
		if (fail) {
			fprintf(stderr, "FAIL %s: %s\n", e.schedule, fail);
			failures++;
		}
		free(fail);
		free(names[i]);
	}
	ck_assert_msg(failures == 0, "%zu case file(s) failed", failures);
}
END_TEST

/* docs/fts-cases.md section 3 on the data files of ../shared/fts. */
static const struct {
	const char *file;
	const char *args;
	const char *expect;
} shared_cases[] = {
	{"invalid_schedules/missing_param.yaml", "", "error E:FTS-P3"},                 /* A01 */
	{"invalid_schedules/non_disjoint.yaml", "", "error E:FTS-D1"},                  /* A02 */
	{"invalid_schedules/dup_key.yaml", "", "error E:FTS-L2"},                       /* A03 */
	{"invalid_schedules/lr_phase0.yaml", "", "accept W:FTS-P2"},                    /* A04 */
	{"invalid_schedules/invalid_lr.yaml", "", "error E:FTS-P1"},                    /* A05 */
	{"invalid_schedules/unsupp_rlrs.yaml", "", "error E:FTS-R10"},                  /* A06 */
	{"invalid_schedules/invalid_plrs.yaml", "", "error E:FTS-R5"},                  /* A07 */
	{"invalid_schedules/missing_lrs_init.yaml", "", "error E:FTS-R2"},              /* A08 */
	{"invalid_schedules/no_cpath.yaml", "", "error E:FTS-R3"},                      /* A09 */
	{"invalid_schedules/newlr_in0.yaml", "", "error E:FTS-R1"},                     /* A10 */
	{"invalid_schedules/nonfl_lr_init.yaml", "", "error E:FTS-R7"},                 /* A11 */
	{"invalid_schedules/imp_lrs_fail.yaml", "", "error E:FTS-R9"},                  /* A12 */
	{"invalid_schedules/lrs_init_fail.yaml", "", "error E:FTS-R13"},                /* A13 */
	{"invalid_schedules/optim_init_fail.yaml", "", "error E:FTS-O3"},               /* A14 */
	{"invalid_schedules/cflict_reinit.yaml",                                        /* A15 */
	 "--reinit-lr-cfg={lr_scheduler_init: {class_path: torch.optim.lr_scheduler.StepLR, init_args: {step_size: 1, gamma: 0.7}}, pl_lrs_cfg: {interval: epoch, frequency: 1, name: Custom_Reinit_LR}}",
	 "error E:FTS-L1"},
	{"invalid_schedules/cflict_reinit.yaml", "", "accept"},                         /* A15 alone */
	{"invalid_schedules/unsupported_optim_reinit.yaml", "", "error E:FTS-O1"},      /* A16 */
	{"invalid_schedules/valid_nonint.yaml", "", "accept W:FTS-K2"},                 /* A17 */
	{"invalid_schedules/extra_plrs_key.yaml", "", "accept W:FTS-T1"},               /* A18 */
	{"invalid_schedules/rlrop_missing_mon.yaml", "", "error E:FTS-T2"},             /* A19 */
	{"invalid_schedules/num_pg_w.yaml", "", "accept W:FTS-R8"},                     /* A20 */
	{"invalid_schedules/ext_opt_key.yaml", "", "accept W:FTS-R11"},                 /* A21 */
	{"invalid_schedules/non_integer.yaml", "", "accept W:FTS-K2"},                  /* A22 */
	{"invalid_schedules/non_conv_int.yaml", "", "error E:FTS-K1"},                  /* A23 */
	{"invalid_schedules/non_contiguous.yaml", "", "error E:FTS-K3"},                /* A24 */
	{"boring_ft_schedule/01_mod_sched_dict.yaml", "--epoch-transitions-only", "error E:FTS-ETO"}, /* A25 */
	{"boring_ft_schedule/02_epoch_only_sched.yaml", "--epoch-transitions-only --max-epochs=6",
	 "accept W:FTS-FM"},                                                            /* A26 */
};

START_TEST(test_shared_invalid)
{
	struct expect e = {0};
	snprintf(e.schedule, sizeof(e.schedule), "../shared/fts/tests/%s", shared_cases[_i].file);
	snprintf(e.args, sizeof(e.args), "%s", shared_cases[_i].args);
	snprintf(e.expect, sizeof(e.expect), "%s", shared_cases[_i].expect);
	char *fail = run_case(&e);
	ck_assert_msg(fail == NULL, "%s: %s", e.schedule, fail ? fail : "");
}
END_TEST

/* Every schedule of ../shared/fts that FTS accepts, against its manifest. */
static const struct {
	const char *file;
	const char *manifest;
} accepted[] = {
	{"tests/boring_ft_schedule/00_unmod_default_FinetuningSchedulerBoringModel_ft_schedule.yaml", "fts-boring-model"},
	{"tests/boring_ft_schedule/01_mod_sched_dict.yaml", "fts-boring-model"},
	{"tests/boring_ft_schedule/02_epoch_only_sched.yaml", "fts-boring-model"},
	{"tests/boring_ft_schedule/03_reinitlr_sched_dict.yaml", "fts-boring-model"},
	{"tests/boring_ft_schedule/04_lambdalr_sched_dict.yaml", "fts-boring-model"},
	{"tests/boring_ft_schedule/05_rlrop_sched_dict.yaml", "fts-boring-model"},
	{"tests/boring_ft_schedule/06_reinit_optim_sched_dict.yaml", "fts-boring-model"},
	{"tests/boring_ft_schedule/07_reinitlr_optim_sched_dict.yaml", "fts-boring-model"},
	{"tests/boring_ft_schedule/08_reinitlr_optim_lambdalr_sched.yaml", "fts-boring-model"},
	{"tests/boring_ft_schedule/09_reinitlr_optim_rlrop_sched.yaml", "fts-boring-model"},
	{"tests/boring_ft_schedule/10_reinitlr_optim_use_curr_sched_dict.yaml", "fts-boring-model"},
	{"tests/boring_ft_schedule/11_bn_sched_dict.yaml", "fts-bn-boring-model"},
	{"tests/fsdp_ft_schedules/00_fsdp_gen_sched_dict.yaml", "fts-shared-param-model"},
	{"tests/fsdp_ft_schedules/01_fsdp_nondis_mod_sched_dict.yaml", "fts-shared-param-model"},
	{"tests/fsdp_ft_schedules/02_fsdp_bn_gen_sched_dict.yaml", "fts-shared-param-model"},
	{"tests/fsdp_ft_schedules/03_fsdp_shared_param_sched_dict.yaml", "fts-shared-param-model"},
	{"tests/fsdp_ft_schedules/04_fsdp_adam_gen_sched_dict.yaml", "fts-shared-param-model"},
	{"tests/fsdp_ft_schedules/05_fsdp_nondis_mod_ex_sched_dict.yaml", "fts-shared-param-model"},
	{"tests/fsdp_ft_schedules/06_fsdp_ext_gen_sched_dict.yaml", "fts-shared-param-model"},
	{"tests/fsdp_ft_schedules/07_fsdp_epoch_only_sched.yaml", "fts-shared-param-model"},
	{"tests/fsdp_ft_schedules/08_fsdp_reinitlr_optim_sched_dict.yaml", "fts-shared-param-model"},
	{"config/RteBoolqModule_ft_schedule_deberta_base.yaml", "deberta-v3-base-seqcls"},
	{"config/RteBoolqModule_ft_schedule_deberta_base_fsdp.yaml", "deberta-v3-base-seqcls"},
	{"config/advanced/reinit_lr/explicit_reinit_lr.yaml", "deberta-v3-base-seqcls"},
	{"config/advanced/reinit_optim_lr/explicit_reinit_optim_lr.yaml", "deberta-v3-base-seqcls"},
};

START_TEST(test_shared_accepted)
{
	struct expect e = {0};
	snprintf(e.schedule, sizeof(e.schedule), "../shared/fts/%s", accepted[_i].file);
	snprintf(e.manifest, sizeof(e.manifest), "../shared/manifests/%s.tsv", accepted[_i].manifest);
	snprintf(e.expect, sizeof(e.expect), "accept");
	char *fail = run_case(&e);
	ck_assert_msg(fail == NULL, "%s: %s", e.schedule, fail ? fail : "");
}
END_TEST

START_TEST(test_missing_file)
{
	struct expect e = {0};
	snprintf(e.schedule, sizeof(e.schedule), "/nonexistent/schedule.yaml");
	snprintf(e.expect, sizeof(e.expect), "io E:FTSC001");
	char *fail = run_case(&e);
	ck_assert_msg(fail == NULL, "%s", fail ? fail : "");
}
END_TEST

static Suite *cases_suite(void)
{
	Suite *s = suite_create("cases");
	TCase *tc = tcase_create("fts");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_case_files);
	tcase_add_loop_test(tc, test_shared_invalid, 0,
			    (int)(sizeof(shared_cases) / sizeof(shared_cases[0])));
	tcase_add_loop_test(tc, test_shared_accepted, 0,
			    (int)(sizeof(accepted) / sizeof(accepted[0])));
	tcase_add_test(tc, test_missing_file);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(cases_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
