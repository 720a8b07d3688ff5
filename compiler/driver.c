/*
 * driver.c - the checking pipeline (see driver.h).
 */
#include "driver.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lower.h"
#include "manifest.h"
#include "resolve.h"
#include "fts_stdlib.h"
#include "yaml_front.h"

/* FTSC_TIME_REPORT=1 prints the time of each stage to stderr. */
static void stage(const char *name, struct timespec *t0)
{
	static const char *const env = "FTSC_TIME_REPORT";
	const char *v = getenv(env);
	struct timespec t1;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (v && *v && name)
		fprintf(stderr, "ftsc: time: %-10s %8.2f ms\n", name,
			(double)(t1.tv_sec - t0->tv_sec) * 1e3 + (double)(t1.tv_nsec - t0->tv_nsec) / 1e6);
	*t0 = t1;
}

static void decl_report(void *ctx, struct fts_span span, const char *msg)
{
	fts_diag((struct fts_diags *)ctx, FTS_E_DECL, span, msg);
}

int fts_check_run(const struct fts_check_input *in, struct fts_diags *d)
{
	struct timespec t0;
	stage(NULL, &t0);
	struct fts_settings settings = in->settings;
	char err[256];
	uint32_t mfile = 0, sfile = 0;
	int rc = 0;

	if (fts_source_load(d->src, in->manifest, FTS_MAX_INPUT, &mfile, err, sizeof(err))) {
		fts_diag(d, FTS_E_IO, FTS_SPAN_NONE, in->manifest, err);
		rc = -1;
	}
	errno = 0;
	if (fts_source_load(d->src, in->schedule, FTS_MAX_INPUT, &sfile, err, sizeof(err))) {
		fts_diag(d, FTS_E_IO, FTS_SPAN_NONE, in->schedule,
			 errno == ENOENT ? "could not find the fine-tuning schedule file" : err);
		rc = -1;
	}
	if (rc)
		return rc;
	stage("read", &t0);

	struct fts_arena arena;
	fts_arena_init(&arena);
	struct fts_stdlib *lib = fts_stdlib_load();
	struct fts_names *names = NULL;
	struct fts_manifest *m = NULL;

	for (size_t i = 0; i < in->ndeclare; i++) {
		uint32_t df;
		if (fts_source_load(d->src, in->declare[i], FTS_MAX_INPUT, &df, err, sizeof(err))) {
			fts_diag(d, FTS_E_IO, FTS_SPAN_NONE, in->declare[i], err);
			rc = -1;
			continue;
		}
		fts_stdlib_load_extra(lib, d->src, df, decl_report, d);
	}
	if (rc)
		goto out;
	stage("stdlib", &t0);
	m = fts_manifest_parse(&arena, d, mfile);
	stage("manifest", &t0);
	if (in->reinit_optim_cfg)
		settings.reinit_optim_cfg = fts_yaml_parse_text(&arena, d, "--reinit-optim-cfg",
								 in->reinit_optim_cfg,
								 strlen(in->reinit_optim_cfg));
	if (in->reinit_lr_cfg)
		settings.reinit_lr_cfg = fts_yaml_parse_text(&arena, d, "--reinit-lr-cfg",
							      in->reinit_lr_cfg,
							      strlen(in->reinit_lr_cfg));
	size_t errors = d->errors;
	bool empty = false;
	struct fts_node *root = fts_yaml_parse(&arena, d, sfile, &empty);
	stage("yaml", &t0);
	if (!m || d->errors != errors)
		goto out;               /* nothing sensible to check */

	names = fts_manifest_link(m, d);
	if (!names)
		goto out;
	stage("index", &t0);
	struct fts_ir *ir = fts_lower_schedule(&arena, d, root, m, names, lib, &settings,
					       fts_span_make(sfile, 0, 0));
	stage("lower", &t0);
	fts_check_schedule(ir, d);
	stage("check", &t0);
out:
	if (names)
		fts_names_free(names);
	if (m)
		free(m->sched_names);
	fts_stdlib_free(lib);
	fts_arena_release(&arena);
	return 0;
}
