/*
 * check_cases.c - FTS verdicts: every schedule case of FTS's rules (the
 * cases of FTS's test suite, written as tests/cases/aNN_*.yaml and
 * fNN_*.yaml, plus ftsc's own x_*.yaml) and the accepted schedules of
 * tests/schedules, run through the whole checking pipeline.
 *
 * A case file carries its expectation in comment lines:
 *   # expect: accept|error [E:CODE] [W:CODE] [R:CODE] ...
 *   # args: --max-depth=1 --epoch-transitions-only ... (--implicit: check
 *           FTS's generated schedule; the file then holds only comments)
 *   # manifest: path (default tests/data/manifests/fts-boring-model.tsv)
 *   # diag: E:CODE@LINE:COL  (one line per diagnostic, or "# diag: none";
 *           kept at the end of the file, where they shift no location)
 * E:/W:/R: in the expect line require a diagnostic with that code at
 * severity error, warning or remark (remarks are enabled for the run).
 * The diag lines are the whole story: every diagnostic reported, of every
 * severity, must be listed there with its location, and every one listed
 * must be reported (as many times as it is listed).  A location is
 * LINE:COL in the case file, FILE:LINE:COL in another file (its base
 * name), or "-" for a diagnostic without one.  Every file of tests/cases
 * and tests/schedules has diag lines; CASE_PRINT_DIAGS=1 prints what each
 * file reports in this form (to write a new case, then read it critically).
 *
 * With FTS_DIR set (make check-fts), the "fts-examples" case runs FTS's own
 * example schedules and test fixtures with the verdicts FTS gives them.
 */
#include <check.h>
#include <dirent.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diag.h"
#include "driver.h"
#include "case_file.h"
#include "fts_examples.h"

#define MANIFESTS "tests/data/manifests/"
#define BORING MANIFESTS "fts-boring-model.tsv"

struct expect {
	char schedule[4096];
	char manifest[1024];
	char args[1024];
	char expect[1024];
	/* check-fts: LightningCLI configs (schedule empty), and "exactly":
	 * no warning or error code beyond those listed */
	const char *configs[2];
	bool exactly;
	/* case files: the "# diag:" tokens, all that is reported */
	char diags[8192];
	bool has_diags;
};

/* One reported diagnostic as a "# diag:" token (SEV:CODE@LOC). */
static void diag_token(const struct fts_diags *d, const struct fts_diag *g, const char *schedule,
		       char *out, size_t outlen)
{
	char sev = g->sev == FTS_SEV_ERROR ? 'E' : g->sev == FTS_SEV_WARNING ? 'W'
		 : g->sev == FTS_SEV_REMARK ? 'R' : 'N';
	const struct fts_source *f = fts_span_valid(g->span) ? fts_source_get(d->src, g->span.file)
		: NULL;
	if (!f) {
		snprintf(out, outlen, "%c:%s@-", sev, fts_diag_code(g->id));
		return;
	}
	size_t line, col;
	fts_source_linecol(f, g->span.start, &line, &col);
	const char *name = f->name ? f->name : "?";
	if (schedule && !strcmp(name, schedule)) {
		snprintf(out, outlen, "%c:%s@%zu:%zu", sev, fts_diag_code(g->id), line, col);
		return;
	}
	const char *base = strrchr(name, '/');
	snprintf(out, outlen, "%c:%s@%s:%zu:%zu", sev, fts_diag_code(g->id), base ? base + 1 : name,
		 line, col);
}

/* The reported diagnostics against the listed ones, as multisets: each
 * listed token consumes one reported diagnostic. */
static bool diags_exact(const struct fts_diags *d, const struct expect *e, FILE *f)
{
	bool ok = true;
	bool *used = calloc(d->n + 1, sizeof(*used));
	char want[8192];
	snprintf(want, sizeof(want), "%s", e->diags);
	char *save = NULL;
	for (char *tok = strtok_r(want, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
		bool found = false;
		for (size_t i = 0; i < d->n && !found; i++) {
			char got[512];
			diag_token(d, d->v[i], e->schedule, got, sizeof(got));
			if (!used[i] && !strcmp(got, tok))
				used[i] = found = true;
		}
		if (!found) {
			fprintf(f, "not reported: %s; ", tok);
			ok = false;
		}
	}
	for (size_t i = 0; i < d->n; i++)
		if (!used[i]) {
			char got[512];
			diag_token(d, d->v[i], e->schedule, got, sizeof(got));
			fprintf(f, "reported but not listed: %s; ", got);
			ok = false;
		}
	free(used);
	return ok;
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
	in.schedule = e->schedule[0] ? e->schedule : NULL;
	in.manifest = e->manifest[0] ? e->manifest : BORING;
	static const char *const no_decay[] = {"bias", "LayerNorm.weight"};
	if (e->configs[0]) {
		in.configs = e->configs;
		in.nconfigs = 2;
		in.no_decay = no_decay;
		in.nno_decay = 2;
	}


	char args[1024];
	snprintf(args, sizeof(args), "%s", e->args);
	case_apply_args(&in, args);

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
		} else if (strcmp(tok, "any") == 0) {
			if (rc != 0 && rc != -1) {
				fprintf(f, "unexpected status %d", rc);
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
	if (e->exactly)
		for (size_t i = 0; i < d.n; i++) {
			if (d.v[i]->sev != FTS_SEV_ERROR && d.v[i]->sev != FTS_SEV_WARNING)
				continue;
			char tok[64];
			snprintf(tok, sizeof(tok), " %c:%s ", d.v[i]->sev == FTS_SEV_ERROR ? 'E' : 'W',
				 fts_diag_code(d.v[i]->id));
			char padded[1100];
			snprintf(padded, sizeof(padded), " %s ", e->expect);
			if (!strstr(padded, tok)) {
				fprintf(f, "unexpected%s; ", tok);
				ok = false;
			}
		}
	if (e->has_diags && !diags_exact(&d, e, f))
		ok = false;
	if (getenv("CASE_PRINT_DIAGS") && e->schedule[0]) {
		printf("%s", e->schedule);
		for (size_t i = 0; i < d.n; i++) {
			char got[512];
			diag_token(&d, d.v[i], e->schedule, got, sizeof(got));
			printf("\t%s", got);
		}
		printf("\n");
	}
	if (!ok) {
		fprintf(f, "\n  diagnostics:");
		for (size_t i = 0; i < d.n; i++)
		{
			char got[512];
			diag_token(&d, d.v[i], e->schedule, got, sizeof(got));
			fprintf(f, "\n    %s %s", got, d.v[i]->msg);
		}
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
	struct case_header h;
	case_read_header(path, &h);
	snprintf(e->manifest, sizeof(e->manifest), "%s", h.manifest);
	snprintf(e->args, sizeof(e->args), "%s", h.args);
	snprintf(e->expect, sizeof(e->expect), "%s", h.expect);
	snprintf(e->diags, sizeof(e->diags), "%s", h.diags);
	e->has_diags = h.has_diags;
	if (!h.has_diags && !getenv("CASE_PRINT_DIAGS"))
		ck_abort_msg("%s has no '# diag:' lines (CASE_PRINT_DIAGS=1 shows what it reports)", path);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Run every case file of one folder; returns how many failed. */
static size_t run_folder(const char *folder, size_t *count)
{
	DIR *dir = opendir(folder);
	ck_assert_msg(dir != NULL, "cannot open %s: run the tests from the repository root", folder);
	char *names[512];
	size_t n = 0;
	struct dirent *de;
	while ((de = readdir(dir)) && n < 512) {
		size_t len = strlen(de->d_name);
		if (len > 5 && strcmp(de->d_name + len - 5, ".yaml") == 0)
			names[n++] = strdup(de->d_name);
	}
	closedir(dir);
	qsort(names, n, sizeof(*names), cmp_str);
	size_t failures = 0;
	for (size_t i = 0; i < n; i++) {
		struct expect e = {0};
		snprintf(e.schedule, sizeof(e.schedule), "%s/%s", folder, names[i]);
		read_header(e.schedule, &e);
		char *fail = run_case(&e);
		if (fail) {
			fprintf(stderr, "FAIL %s: %s\n", e.schedule, fail);
			failures++;
		}
		free(fail);
		free(names[i]);
	}
	*count = n;
	return failures;
}

START_TEST(test_case_files)
{
	size_t n;
	size_t failures = run_folder("tests/cases", &n);
	ck_assert_uint_ge(n, 70);
	ck_assert_msg(failures == 0, "%zu case file(s) failed", failures);
}
END_TEST

START_TEST(test_schedule_files)
{
	size_t n;
	size_t failures = run_folder("tests/schedules", &n);
	ck_assert_uint_ge(n, 16);
	ck_assert_msg(failures == 0, "%zu schedule(s) failed", failures);
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

/* ---- make check-fts: FTS's own files (FTS_DIR) ----------------------------------
 *
 * The verdicts FTS gives its test fixtures (the invalid_schedules fixture and
 * the accepted boring, FSDP and model-parallel schedules; only where FTS_DIR
 * holds them as YAML) and its example schedules.  Paths: "tests/..." under
 * the fixtures folder, the others under the examples folder.
 */
static const struct fts_verdict {
	const char *file;
	const char *manifest;           /* under tests/data/manifests, without .tsv */
	const char *args;
	const char *expect;
} fts_verdicts[] = {
	{"tests/invalid_schedules/missing_param.yaml", NULL, "", "error E:FTS-P3 W:FTSC025"},
	{"tests/invalid_schedules/non_disjoint.yaml", NULL, "", "error E:FTS-D1 W:FTSC025"},
	{"tests/invalid_schedules/dup_key.yaml", NULL, "", "error E:FTS-L2"},
	{"tests/invalid_schedules/lr_phase0.yaml", NULL, "", "accept W:FTS-P2 W:FTSC025"},
	{"tests/invalid_schedules/invalid_lr.yaml", NULL, "", "error E:FTS-P1 W:FTSC025"},
	{"tests/invalid_schedules/unsupp_rlrs.yaml", NULL, "", "error E:FTS-R10 E:FTSC034 W:FTSC025"},
	{"tests/invalid_schedules/invalid_plrs.yaml", NULL, "", "error E:FTS-R5 W:FTSC025"},
	{"tests/invalid_schedules/missing_lrs_init.yaml", NULL, "", "error E:FTS-R2 W:FTSC025"},
	{"tests/invalid_schedules/no_cpath.yaml", NULL, "", "error E:FTS-R3 W:FTSC025"},
	{"tests/invalid_schedules/newlr_in0.yaml", NULL, "", "error E:FTS-R1 W:FTSC025"},
	{"tests/invalid_schedules/nonfl_lr_init.yaml", NULL, "", "error E:FTS-R7 W:FTSC025"},
	{"tests/invalid_schedules/imp_lrs_fail.yaml", NULL, "", "error E:FTS-R9 W:FTSC025"},
	{"tests/invalid_schedules/lrs_init_fail.yaml", NULL, "", "error E:FTS-R13 W:FTSC025"},
	{"tests/invalid_schedules/optim_init_fail.yaml", NULL, "", "error E:FTS-O3 W:FTSC025"},
	{"tests/invalid_schedules/cflict_reinit.yaml", NULL,
	 "--reinit-lr-cfg={lr_scheduler_init: {class_path: torch.optim.lr_scheduler.StepLR, init_args: {step_size: 1, gamma: 0.7}}, pl_lrs_cfg: {interval: epoch, frequency: 1, name: Custom_Reinit_LR}}",
	 "error E:FTS-L1 W:FTSC025"},
	{"tests/invalid_schedules/cflict_reinit.yaml", NULL, "", "accept W:FTSC025"},
	{"tests/invalid_schedules/unsupported_optim_reinit.yaml", NULL, "", "error E:FTS-O1 W:FTSC025"},
	{"tests/invalid_schedules/valid_nonint.yaml", NULL, "", "accept W:FTS-K2 W:FTSC025"},
	{"tests/invalid_schedules/extra_plrs_key.yaml", NULL, "", "accept W:FTS-T1 W:FTSC025"},
	{"tests/invalid_schedules/rlrop_missing_mon.yaml", NULL, "", "error E:FTS-T2 W:FTSC025"},
	{"tests/invalid_schedules/num_pg_w.yaml", NULL, "", "accept W:FTSC025 W:FTSC083"},
	{"tests/invalid_schedules/ext_opt_key.yaml", NULL, "", "accept W:FTS-R11 W:FTSC025"},
	{"tests/invalid_schedules/non_integer.yaml", NULL, "", "accept W:FTS-K2 W:FTSC025"},
	{"tests/invalid_schedules/non_conv_int.yaml", NULL, "", "error E:FTS-K1 W:FTSC025"},
	{"tests/invalid_schedules/non_contiguous.yaml", NULL, "", "error E:FTS-K3 W:FTSC025"},
	{"tests/boring_ft_schedule/01_mod_sched_dict.yaml", NULL, "--epoch-transitions-only", "error E:FTS-ETO"},
	{"tests/boring_ft_schedule/02_epoch_only_sched.yaml", NULL, "--epoch-transitions-only --max-epochs=6",
	 "accept W:FTS-FM W:FTS-E0 W:FTSC097"},
	/* the schedules FTS's tests run to completion */
	{"tests/boring_ft_schedule/00_unmod_default_FinetuningSchedulerBoringModel_ft_schedule.yaml", NULL, "", "accept"},
	{"tests/boring_ft_schedule/01_mod_sched_dict.yaml", NULL, "", "accept"},
	{"tests/boring_ft_schedule/02_epoch_only_sched.yaml", NULL, "", "accept W:FTS-FM W:FTS-E0"},
	{"tests/boring_ft_schedule/03_reinitlr_sched_dict.yaml", NULL, "", "accept"},
	{"tests/boring_ft_schedule/04_lambdalr_sched_dict.yaml", NULL, "", "accept W:FTSC030"},
	{"tests/boring_ft_schedule/05_rlrop_sched_dict.yaml", NULL, "", "accept"},
	{"tests/boring_ft_schedule/06_reinit_optim_sched_dict.yaml", NULL, "", "accept W:FTSC080"},
	{"tests/boring_ft_schedule/07_reinitlr_optim_sched_dict.yaml", NULL, "", "accept W:FTSC080"},
	{"tests/boring_ft_schedule/08_reinitlr_optim_lambdalr_sched.yaml", NULL, "", "accept W:FTSC030 W:FTSC080"},
	{"tests/boring_ft_schedule/09_reinitlr_optim_rlrop_sched.yaml", NULL, "", "accept W:FTSC080"},
	{"tests/boring_ft_schedule/10_reinitlr_optim_use_curr_sched_dict.yaml", NULL, "", "accept W:FTSC080"},
	{"tests/boring_ft_schedule/11_bn_sched_dict.yaml", "fts-bn-boring-model", "", "accept"},
	{"tests/fsdp_ft_schedules/00_fsdp_gen_sched_dict.yaml", "fts-shared-param-model", "", "accept"},
	{"tests/fsdp_ft_schedules/01_fsdp_nondis_mod_sched_dict.yaml", "fts-shared-param-model", "", "accept"},
	{"tests/fsdp_ft_schedules/02_fsdp_bn_gen_sched_dict.yaml", "fts-shared-param-model", "", "accept"},
	{"tests/fsdp_ft_schedules/03_fsdp_shared_param_sched_dict.yaml", "fts-shared-param-model", "", "accept W:FTS-P4"},
	{"tests/fsdp_ft_schedules/04_fsdp_adam_gen_sched_dict.yaml", "fts-shared-param-model", "", "accept"},
	{"tests/fsdp_ft_schedules/05_fsdp_nondis_mod_ex_sched_dict.yaml", "fts-shared-param-model", "", "accept W:FTSC025"},
	{"tests/fsdp_ft_schedules/06_fsdp_ext_gen_sched_dict.yaml", "fts-shared-param-model", "", "accept"},
	{"tests/fsdp_ft_schedules/07_fsdp_epoch_only_sched.yaml", "fts-shared-param-model", "", "accept W:FTS-FM"},
	{"tests/fsdp_ft_schedules/08_fsdp_reinitlr_optim_sched_dict.yaml", "fts-shared-param-model", "", "accept"},
	{"tests/model_parallel_schedules/01_mp_tp_sched_dict.yaml", "fts-toy-transformer", "", "accept"},
	{"tests/model_parallel_schedules/02_mp_tp_dbg_req_grad.yaml", "fts-toy-transformer", "", "accept W:FTSC025"},
	/* the example schedules */
	{"config/RteBoolqModule_ft_schedule_deberta_base.yaml", "deberta-v3-base-seqcls", "", "accept W:FTSC024"},
	{"config/RteBoolqModule_ft_schedule_deberta_base_fsdp.yaml", "deberta-v3-base-seqcls", "", "accept W:FTSC025"},
	{"config/advanced/reinit_lr/explicit_reinit_lr.yaml", "deberta-v3-base-seqcls", "", "accept W:FTSC024"},
	{"config/advanced/reinit_optim_lr/explicit_reinit_optim_lr.yaml", "deberta-v3-base-seqcls", "", "accept W:FTSC024 W:FTSC080"},
	{"model_parallel/config/defaults/llama_ft_schedule.yaml", "fts-mp-llama", "", "accept"},
};

/*
 * FTS's example LightningCLI configs, each merged over its defaults and
 * checked from the examples folder (where FTS's examples run).
 */
static const struct fts_config_verdict {
	const char *base, *config;
	const char *manifest;
	const char *expect;
	const char *run;                /* where it runs: the examples folder (NULL), its
					   subfolder, or the checkout's root ("/") */
} fts_configs[] = {
#define RTE(f, e) {"config/fts_defaults.yaml", f, "deberta-v3-base-seqcls", e, NULL}
	/* its ft_schedule path is relative to the checkout's root, where it runs... */
	{"src/fts_examples/config/fts_defaults.yaml", "src/fts_examples/config/fts_explicit.yaml",
	 "deberta-v3-base-seqcls", "accept W:FTSC024", "/"},
	/* ...and from the examples folder FTS cannot find it */
	RTE("config/fts_explicit.yaml", "error E:FTS-L2"),
	RTE("config/fts_implicit.yaml", "accept"),
	RTE("config/nofts_baseline.yaml", "error E:FTSC070"),
	RTE("config/advanced/reinit_lr/fts_explicit_reinit_lr.yaml", "accept W:FTSC024"),
	RTE("config/advanced/reinit_lr/fts_implicit_reinit_lr.yaml", "accept"),
	RTE("config/advanced/reinit_optim_lr/fts_explicit_reinit_optim_lr.yaml", "accept W:FTSC024"),
	RTE("config/advanced/reinit_optim_lr/fts_implicit_reinit_optim_lr.yaml", "accept"),
	RTE("config/advanced/reinit_optim_lr/fts_implicit_reinit_optim_lr_use_curr.yaml", "accept"),
	RTE("config/advanced/fsdp/fts_ddp_fsdp_baseline_profile.yaml", "accept W:FTSC025"),
	RTE("config/advanced/fsdp/fts_fsdp_awp_overrides_offload_profile.yaml", "accept W:FTSC025"),
	RTE("config/advanced/fsdp/fts_fsdp_awp_overrides_profile.yaml", "accept W:FTSC025"),
	RTE("config/advanced/fsdp/fts_fsdp_basic_profile.yaml", "accept W:FTSC025"),
#undef RTE
#define MP(f) {"config/defaults/fts_mp_example_defaults.yaml", f, "fts-mp-llama", "accept", "model_parallel"}
	/* run from model_parallel/, where their ./config/defaults/... paths lead */
	MP("config/fts_tp_plan.yaml"),
	MP("config/fts_fsdp_auto_plan.yaml"),
	MP("config/fts_fsdp_profiling.yaml"),
#undef MP
};

/* Files that are neither a schedule nor a config checked on its own. */
static const char *const fts_aux[] = {
	"config/fts_defaults.yaml",                             /* the base of every config above */
	"model_parallel/config/defaults/fts_mp_example_defaults.yaml",
	"model_parallel/config/defaults/torchtitan_llama.yaml", /* the model's own config */
	"model_parallel/config/profiling/memprofiler_demo.yaml",/* profiler settings */
	"model_parallel/config/profiling/pytorch_profiler.yaml",
};

static void fts_path(char *buf, size_t size, const char *file)
{
	int n;
	if (strncmp(file, "tests/", 6) == 0)
		n = snprintf(buf, size, "%s/%s", fts_fixtures_dir(), file + 6);
	else
		n = snprintf(buf, size, "%s/%s", fts_examples_dir(), file);
	ck_assert(n > 0 && (size_t)n < size);
}

/*
 * What FTS's example LightningModules are (their no_decay attribute and the
 * groups configure_optimizers builds), which a schedule or config does not
 * say: the DeBERTa RteBoolqModule splits every phase into decay/no_decay
 * groups (bias, LayerNorm.weight); FTS's test models have no no_decay.
 */
static const char *model_facts(const char *manifest)
{
	if (manifest && !strcmp(manifest, "deberta-v3-base-seqcls"))
		return " --no-decay=bias,LayerNorm.weight --phase0-groups=2";
	return " --no-decay=";
}

START_TEST(test_fts_verdicts)
{
	const struct fts_verdict *v = &fts_verdicts[_i];
	if (strncmp(v->file, "tests/", 6) == 0 && !fts_fixtures_dir())
		return;                 /* a checkout: its fixtures are Python */
	struct expect e = {0};
	fts_path(e.schedule, sizeof(e.schedule), v->file);
	snprintf(e.manifest, sizeof(e.manifest), MANIFESTS "%s.tsv",
		 v->manifest ? v->manifest : "fts-boring-model");
	snprintf(e.args, sizeof(e.args), "%s%s", v->args, strstr(v->args, "--no-decay") ? "" : model_facts(v->manifest));
	snprintf(e.expect, sizeof(e.expect), "%s", v->expect);
	e.exactly = true;
	char *fail = run_case(&e);
	ck_assert_msg(fail == NULL, "%s: %.3000s", v->file, fail ? fail : "");
}
END_TEST

START_TEST(test_fts_configs)
{
	const struct fts_config_verdict *v = &fts_configs[_i];
	char home[4096];
	ck_assert_ptr_nonnull(getcwd(home, sizeof(home)));
	struct expect e = {0};
	int n = snprintf(e.manifest, sizeof(e.manifest), "%s/" MANIFESTS "%s.tsv", home, v->manifest);
	ck_assert(n > 0 && (size_t)n < sizeof(e.manifest));
	snprintf(e.expect, sizeof(e.expect), "%s", v->expect);
	snprintf(e.args, sizeof(e.args), "%s", model_facts(v->manifest));
	e.configs[0] = v->base;
	e.configs[1] = v->config;
	e.exactly = true;
	char dir[8300];
	if (v->run && !strcmp(v->run, "/"))
		snprintf(dir, sizeof(dir), "%s", fts_repo_root());
	else
		snprintf(dir, sizeof(dir), "%s%s%s", fts_examples_dir(), v->run ? "/" : "", v->run ? v->run : "");
	ck_assert_msg(chdir(dir) == 0, "%s", dir);
	char *fail = run_case(&e);
	ck_assert_int_eq(chdir(home), 0);
	ck_assert_msg(fail == NULL, "%s: %.3000s", v->config, fail ? fail : "");
}
END_TEST

/* Every YAML file under FTS_DIR has a verdict above; a new one is reported. */
static size_t n_unlisted, n_listed;

static bool listed(const char *rel, bool fixture)
{
	char key[4096];
	if (snprintf(key, sizeof(key), "%s%s", fixture ? "tests/" : "", rel) >= (int)sizeof(key))
		return false;
	for (size_t i = 0; i < sizeof(fts_verdicts) / sizeof(fts_verdicts[0]); i++)
		if (strcmp(fts_verdicts[i].file, key) == 0)
			return true;
	for (size_t i = 0; i < sizeof(fts_configs) / sizeof(fts_configs[0]); i++)
		if (fts_configs[i].run && strcmp(fts_configs[i].run, "/")) {
			char k2[4200];
			snprintf(k2, sizeof(k2), "%s/%s", fts_configs[i].run, fts_configs[i].config);
			if (strcmp(k2, key) == 0)
				return true;
		} else if (strcmp(fts_configs[i].config, key) == 0) {
			return true;
		}
	for (size_t i = 0; i < sizeof(fts_aux) / sizeof(fts_aux[0]); i++)
		if (strcmp(fts_aux[i], key) == 0)
			return true;
	return false;
}

static void walk(const char *root, const char *rel, bool fixture)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s%s%s", root, *rel ? "/" : "", rel);
	DIR *dir = opendir(path);
	if (!dir)
		return;
	struct dirent *de;
	while ((de = readdir(dir))) {
		if (de->d_name[0] == '.')
			continue;
		char sub[2048], full[4096];
		int n = snprintf(sub, sizeof(sub), "%s%s%s", rel, *rel ? "/" : "", de->d_name);
		int m = snprintf(full, sizeof(full), "%s/%s", root, sub);
		if (n < 0 || (size_t)n >= sizeof(sub) || m < 0 || (size_t)m >= sizeof(full))
			continue;
		if (fts_ex_isdir(full)) {
			walk(root, sub, fixture);
			continue;
		}
		size_t len = strlen(sub);
		if (len < 5 || strcmp(sub + len - 5, ".yaml") != 0)
			continue;
		if (listed(sub, fixture)) {
			n_listed++;
			continue;
		}
		n_unlisted++;
		/* no verdict is known: it must at least not break ftsc */
		struct expect e = {0};
		if (snprintf(e.schedule, sizeof(e.schedule), "%s", full) >= (int)sizeof(e.schedule))
			continue;
		snprintf(e.expect, sizeof(e.expect), "any");
		char *fail = run_case(&e);
		fprintf(stderr, "# check-fts: %s%s has no expected verdict (checked without a crash)\n",
			fixture ? "tests/" : "", sub);
		free(fail);
	}
	closedir(dir);
}

START_TEST(test_fts_listing)
{
	n_listed = n_unlisted = 0;
	walk(fts_examples_dir(), "config", false);
	walk(fts_examples_dir(), "model_parallel", false);
	if (fts_fixtures_dir())
		walk(fts_fixtures_dir(), "", true);
	ck_assert_msg(n_listed >= 20, "only %zu of FTS's files found under FTS_DIR", n_listed);
	fprintf(stderr, "# check-fts: %zu files with a verdict, %zu without\n", n_listed, n_unlisted);
}
END_TEST

static Suite *cases_suite(void)
{
	Suite *s = suite_create("cases");
	TCase *tc = tcase_create("cases");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_case_files);
	tcase_add_test(tc, test_schedule_files);
	tcase_add_test(tc, test_missing_file);
	suite_add_tcase(s, tc);
	if (fts_examples_dir()) {
		TCase *fx = tcase_create("fts-examples");
		tcase_set_timeout(fx, 120);
		tcase_add_loop_test(fx, test_fts_verdicts, 0,
				    (int)(sizeof(fts_verdicts) / sizeof(fts_verdicts[0])));
		tcase_add_loop_test(fx, test_fts_configs, 0,
				    (int)(sizeof(fts_configs) / sizeof(fts_configs[0])));
		tcase_add_test(fx, test_fts_listing);
		suite_add_tcase(s, fx);
	}
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
