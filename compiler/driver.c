/*
 * driver.c - the compiler pipeline (see driver.h).
 */
#include "driver.h"

#include "planview.h"
#include "restore.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "dsl.h"
#include "fts_stdlib.h"
#include "gen.h"
#include "lower.h"
#include "manifest.h"
#include "resolve.h"
#include "yaml_front.h"

/* The process's peak resident set so far, in KiB (0 if unknown). */
static long peak_rss_kib(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[128];
	long kib = 0;
	while (f && fgets(line, sizeof(line), f))
		if (strncmp(line, "VmHWM:", 6) == 0)
			kib = strtol(line + 6, NULL, 10);
	if (f)
		fclose(f);
	return kib;
}

/* FTSC_TIME_REPORT=1 prints the time of each stage, and the peak resident
 * set at its end, to stderr. */
static void stage(const char *name, struct timespec *t0)
{
	const char *v = getenv("FTSC_TIME_REPORT");
	struct timespec t1;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (v && *v && name)
		fprintf(stderr, "ftsc: time: %-10s %8.2f ms  (peak RSS %.1f MiB)\n", name,
			(double)(t1.tv_sec - t0->tv_sec) * 1e3 + (double)(t1.tv_nsec - t0->tv_nsec) / 1e6,
			(double)peak_rss_kib() / 1024);
	*t0 = t1;
}

/* A schedule in the ftsc language (by its extension). */
static bool fts_is_dsl_path(const char *path)
{
	size_t n = strlen(path);
	return n > 4 && strcmp(path + n - 4, ".fts") == 0;
}

static void decl_report(void *ctx, struct fts_span span, const char *msg)
{
	fts_diag((struct fts_diags *)ctx, FTS_E_DECL, span, msg);
}

static int load_manifest(struct fts_compile *c, const char *path, struct fts_diags *d,
			 struct timespec *t0)
{
	char err[256];
	uint32_t mfile;
	if (fts_source_load(d->src, path, FTS_MAX_MANIFEST, &mfile, err, sizeof(err))) {
		fts_diag(d, FTS_E_IO, FTS_SPAN_NONE, path, err);
		return -1;
	}
	stage("read", t0);
	c->manifest = fts_manifest_parse(&c->arena, d, mfile);
	stage("manifest", t0);
	if (c->manifest)
		c->names = fts_manifest_link(c->manifest, d);
	stage("name index", t0);
	return 0;
}

/* Apply the command line's settings over what a config said. */
static void apply_given(struct fts_settings *s, const struct fts_check_input *in)
{
	const struct fts_settings *f = &in->settings;
	if (in->given & FTS_GIVEN_RESTORE_BEST)
		s->restore_best = f->restore_best;
	if (in->given & FTS_GIVEN_MAX_DEPTH)
		s->max_depth = f->max_depth;
	if (in->given & FTS_GIVEN_ETO)
		s->epoch_transitions_only = f->epoch_transitions_only;
	if (in->given & FTS_GIVEN_ALLOW_UNTESTED)
		s->allow_untested = f->allow_untested;
	if (in->given & FTS_GIVEN_BASE_MAX_LR)
		s->base_max_lr = f->base_max_lr;
	if (in->given & FTS_GIVEN_MAX_EPOCHS)
		s->max_epochs = f->max_epochs;
	if (in->given & FTS_GIVEN_APPLY_LAMBDAS)
		s->apply_lambdas_new_pgs = f->apply_lambdas_new_pgs;
}

static const struct fts_node *flow(struct fts_compile *c, struct fts_diags *d, const char *name,
				   const char *text)
{
	return text ? fts_yaml_parse_text(&c->arena, d, name, text, strlen(text)) : NULL;
}

/* --target=ftsrt: what a plan cannot hold or libftsrt cannot run, where written. */
static void report_target_ftsrt(struct fts_compile *c, struct fts_diags *d)
{
	const struct fts_planview *v = c->view;
	if (v->layout_problem)
		fts_diag(d, FTS_E_TARGET_FTSRT, c->initial.where, v->layout_problem);
	for (uint32_t k = 0; k < v->p.nclasses; k++) {
		if (!v->problem[k])
			continue;
		const struct fts_ir_directive *dir = v->dir[k];
		struct fts_span sp = dir && fts_span_valid(dir->class_span) ? dir->class_span
			: dir && dir->node ? dir->node->span : c->initial.where;
		fts_diag(d, FTS_E_TARGET_FTSRT, sp, v->problem[k]);
	}
}

int fts_compile_run(const struct fts_check_input *in, struct fts_diags *d, struct fts_compile *c)
{
	memset(c, 0, sizeof(*c));
	fts_arena_init(&c->arena);
	struct fts_settings settings = in->settings;   /* defaults + command line */
	struct timespec t0;
	char err[256];
	int rc = 0;
	stage(NULL, &t0);

	c->stdlib = fts_stdlib_load();
	for (size_t i = 0; i < in->ndeclare; i++) {
		uint32_t df;
		if (fts_source_load(d->src, in->declare[i], FTS_MAX_INPUT, &df, err, sizeof(err))) {
			fts_diag(d, FTS_E_IO, FTS_SPAN_NONE, in->declare[i], err);
			rc = -1;
			continue;
		}
		fts_stdlib_load_extra(c->stdlib, d->src, df, decl_report, d);
	}
	stage("stdlib", &t0);

	/* the manifest first: an ftsc-language schedule's `rest` needs it */
	if (load_manifest(c, in->manifest, d, &t0))
		return -1;

	/* a schedule in the ftsc language is a whole config: parse it first */
	const struct fts_node *dsl = NULL;
	uint32_t sfile = FTS_NOFILE;
	bool is_dsl = in->schedule && fts_is_dsl_path(in->schedule);
	if (is_dsl) {
		errno = 0;
		if (fts_source_load(d->src, in->schedule, FTS_MAX_INPUT, &sfile, err, sizeof(err))) {
			fts_diag(d, FTS_E_IO, FTS_SPAN_NONE, in->schedule,
				 errno == ENOENT ? "could not find the fine-tuning schedule file" : err);
			return -1;
		}
		struct fts_node *droot = fts_dsl_parse_opts(&c->arena, d, sfile, 0, in->include_dirs,
							    in->ninclude_dirs);
		if (!droot)
			return 0;
		if (c->names)
			fts_dsl_expand_rest(&c->arena, d, droot, c->names);
		dsl = droot;
	}

	/* LightningCLI configs (and the DSL's settings, merged last): settings
	 * (the command line's override them), the schedule path, the session's
	 * optimizer and scheduler */
	struct fts_config cfg;
	memset(&cfg, 0, sizeof(cfg));
	if (in->nconfigs || dsl) {
		fts_settings_default(&settings);
		settings.run_dir = in->settings.run_dir;
		if (fts_config_load_ex(&c->arena, d, c->stdlib, in->configs, in->nconfigs, dsl,
				       &settings, &cfg))
			rc = -1;
		c->config = cfg;
		if (!in->schedule && !cfg.has_fts && rc == 0 && d->errors == 0)
			fts_diag(d, FTS_E_CONFIG, FTS_SPAN_NONE,
				 "the configs have no finetuning_scheduler.FinetuningScheduler callback and no "
				 "schedule was given");
	}

	/* the schedule: a file, inline in the config, or generated (implicit mode) */
	const struct fts_node *root = NULL;
	const char *schedule = is_dsl ? NULL : in->schedule ? in->schedule : cfg.ft_schedule_path;
	/* a ft_schedule path that does not exist is an error (FTS-L2), not implicit mode */
	bool lost = !in->schedule && cfg.ft_schedule_node && !fts_node_falsy(cfg.ft_schedule_node) &&
		!cfg.ft_schedule_path && !cfg.ft_schedule_inline;
	bool implicit = !schedule && !cfg.ft_schedule_inline && !lost && (in->implicit || cfg.has_fts);
	if (schedule) {
		errno = 0;
		if (fts_source_load(d->src, schedule, FTS_MAX_INPUT, &sfile, err, sizeof(err))) {
			fts_diag(d, FTS_E_IO, FTS_SPAN_NONE, schedule,
				 errno == ENOENT ? "could not find the fine-tuning schedule file" : err);
			rc = -1;
		}
	}
	if (rc)
		return rc;

	if (in->reinit_optim_cfg)
		settings.reinit_optim_cfg = flow(c, d, "--reinit-optim-cfg", in->reinit_optim_cfg);
	if (in->reinit_lr_cfg)
		settings.reinit_lr_cfg = flow(c, d, "--reinit-lr-cfg", in->reinit_lr_cfg);
	if (in->nconfigs || dsl)
		apply_given(&settings, in);
	settings.implicit_mode = implicit;
	settings.target_ftsrt = in->target_ftsrt;
	const struct fts_node *opt0 = in->initial_optimizer
		? flow(c, d, "--initial-optimizer", in->initial_optimizer) : cfg.optimizer_init;
	bool sched_none = in->initial_lr_scheduler && strcmp(in->initial_lr_scheduler, "none") == 0;
	const struct fts_node *sched0 = sched_none ? NULL
		: in->initial_lr_scheduler ? flow(c, d, "--initial-lr-scheduler", in->initial_lr_scheduler)
		: cfg.lr_scheduler_init;
	const struct fts_node *pl0 = in->initial_lr_scheduler ? NULL : cfg.pl_lrs_cfg;
	/* the flag also takes {lr_scheduler_init: {...}, pl_lrs_cfg: {...}} */
	if (in->initial_lr_scheduler && sched0 && sched0->kind == FTS_N_MAP &&
	    fts_node_get(sched0, "lr_scheduler_init")) {
		struct fts_pair *pl = fts_node_get(sched0, "pl_lrs_cfg");
		pl0 = pl ? pl->value : NULL;
		sched0 = fts_node_get(sched0, "lr_scheduler_init")->value;
	}

	size_t errors = d->errors;
	if (schedule) {
		bool empty = false;
		root = fts_yaml_parse(&c->arena, d, sfile, &empty);
	} else if (cfg.ft_schedule_inline) {
		root = cfg.ft_schedule_inline;
	} else if (implicit && c->manifest && c->names) {
		size_t len;
		char *text = fts_gen_schedule(&c->arena, c->manifest, &len);
		root = fts_yaml_parse_text(&c->arena, d, "<implicit schedule>", text, len);
	}
	stage("yaml", &t0);
	if (!c->manifest || !c->names || d->errors != errors)
		return 0;               /* nothing sensible to check */
	if (!schedule && !cfg.ft_schedule_inline && !implicit)
		return 0;               /* a config without FTS (reported above) */
	if (!c->names)
		return 0;

	c->ir = fts_lower_schedule(&c->arena, d, root, c->manifest, c->names, c->stdlib, &settings,
				   fts_span_make(sfile, 0, 0));
	/* the IR holds manifest indices: the index is done with */
	fts_names_free(c->names);
	c->names = NULL;
	stage("lower", &t0);
	fts_check_schedule(c->ir, d);
	stage("check", &t0);

	/* what is known of the session's own optimizer and scheduler */
	struct fts_initial *init = &c->initial;
	init->no_decay = in->no_decay;
	init->nno_decay = in->nno_decay;
	init->no_decay_known = in->no_decay_given || in->nno_decay;
	init->phase0_groups = in->phase0_groups ? in->phase0_groups : 1;
	init->where = FTS_SPAN_NONE;
	if (opt0) {
		init->optimizer_known = true;
		init->optimizer = fts_lower_initial_optimizer(c->ir, d, opt0);
		init->where = opt0->span;
	}
	if (sched0 || sched_none) {
		init->scheduler_known = true;
		/* V-F3 for a config's scheduler was reported by the config loader */
		init->scheduler = sched0 ? fts_lower_initial_scheduler(c->ir, d, sched0, pl0,
								       in->initial_lr_scheduler != NULL) : NULL;
		if (!fts_span_valid(init->where) && sched0)
			init->where = sched0->span;
	}
	if (d->errors == 0) {
		c->view = fts_arena_alloc(&c->arena, sizeof(*c->view));
		if (fts_planview_build(c, &c->arena, c->view) != 0)
			c->view = NULL;
		c->sim = fts_simulate(c->ir, init, c->view, d);
		fts_check_cross_phase(c->ir, c->sim, init, d);
		fts_restore_analyse(c, d);
		if (in->target_ftsrt && c->view)
			report_target_ftsrt(c, d);
	}
	stage("simulate", &t0);
	return 0;
}

void fts_compile_release(struct fts_compile *c)
{
	if (c->names)
		fts_names_free(c->names);
	if (c->manifest)
		free(c->manifest->name_recs);
	if (c->stdlib)
		fts_stdlib_free(c->stdlib);
	fts_arena_release(&c->arena);
	memset(c, 0, sizeof(*c));
}

int fts_check_run(const struct fts_check_input *in, struct fts_diags *d)
{
	struct fts_compile c;
	int rc = fts_compile_run(in, d, &c);
	fts_compile_release(&c);
	return rc;
}

int fts_gen_run(const char *manifest, struct fts_diags *d, FILE *out)
{
	struct fts_compile c;
	memset(&c, 0, sizeof(c));
	fts_arena_init(&c.arena);
	int rc = 1;
	struct timespec t0;
	stage(NULL, &t0);
	if (load_manifest(&c, manifest, d, &t0) != 0) {
		rc = -1;
	} else if (c.manifest && c.names) {
		size_t len;
		char *text = fts_gen_schedule(&c.arena, c.manifest, &len);
		rc = fwrite(text, 1, len, out) == len ? 0 : -1;
	}
	fts_compile_release(&c);
	return rc;
}
