/*
 * driver.c - the checking pipeline (see driver.h).
 */
#include "driver.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lower.h"
#include "manifest.h"
#include "resolve.h"
#include "stdlib.h"
#include "yaml_front.h"

int fts_check_run(const struct fts_check_input *in, struct fts_diags *d)
{
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

	struct fts_arena arena;
	fts_arena_init(&arena);
	struct fts_stdlib *lib = fts_stdlib_load();
	struct fts_names *names = NULL;

	struct fts_manifest *m = fts_manifest_parse(&arena, d, mfile);
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
	if (!m || d->errors != errors)
		goto out;               /* nothing sensible to check */

	const char **nm = fts_xmalloc((size_t)m->nsched * sizeof(*nm));
	size_t *nl = fts_xmalloc((size_t)m->nsched * sizeof(*nl));
	for (uint32_t i = 0; i < m->nsched; i++) {
		nm[i] = m->p[m->sched[i]].name;
		nl[i] = m->p[m->sched[i]].len;
	}
	names = fts_names_new(nm, nl, m->nsched);
	free(nm);
	free(nl);
	struct fts_ir *ir = fts_lower_schedule(&arena, d, root, m, names, lib, &settings,
					       fts_span_make(sfile, 0, 0));
	fts_check_schedule(ir, d);
out:
	if (names)
		fts_names_free(names);
	fts_stdlib_free(lib);
	fts_arena_release(&arena);
	return 0;
}
