/*
 * case_file.h - the schedule case files of tests/cases and tests/schedules:
 * their header comments (# manifest: / # args: / # expect:) and the
 * `ftsc check` options an args line gives, applied to a check input.
 * Shared by check_cases.c and check_semantics.c.
 */
#ifndef TEST_CASE_FILE_H
#define TEST_CASE_FILE_H

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "driver.h"

#define CASE_MANIFESTS "tests/data/manifests/"
#define CASE_BORING CASE_MANIFESTS "fts-boring-model.tsv"

struct case_header {
	char manifest[1024];            /* "" = the boring model */
	char args[1024];
	char expect[1024];
	char diags[8192];               /* the "# diag:" lines' tokens, blank-separated */
	bool has_diags;                 /* at least one "# diag:" line (none: "# diag: none") */
};

/* Read the header comments of a case file (aborts the test when it has no expect line). */
static inline void case_read_header(const char *path, struct case_header *h)
{
	memset(h, 0, sizeof(*h));
	FILE *f = fopen(path, "r");
	ck_assert_msg(f != NULL, "cannot open %s", path);
	char line[1024];
	while (fgets(line, sizeof(line), f)) {
		if (line[0] != '#')
			continue;
		line[strcspn(line, "\n")] = '\0';
		if (strncmp(line, "# expect:", 9) == 0)
			snprintf(h->expect, sizeof(h->expect), "%s", line + 9);
		else if (strncmp(line, "# args:", 7) == 0)
			snprintf(h->args, sizeof(h->args), "%s", line + 7);
		else if (strncmp(line, "# manifest:", 11) == 0)
			snprintf(h->manifest, sizeof(h->manifest), "%s", line + 12);
		else if (strncmp(line, "# diag:", 7) == 0) {
			size_t n = strlen(h->diags);
			if (strcmp(line + 7, " none") != 0)
				snprintf(h->diags + n, sizeof(h->diags) - n, "%s", line + 7);
			h->has_diags = true;
		}
	}
	fclose(f);
	ck_assert_msg(h->expect[0], "%s has no '# expect:' line", path);
}

/* One option; v points into the caller's buffer, which must outlive the check. */
static inline void case_apply_arg(struct fts_check_input *in, char *arg)
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
	else if (strcmp(arg, "--apply-lambdas-new-pgs") == 0)
		in->settings.apply_lambdas_new_pgs = true;
	else if (strcmp(arg, "--restore-best") == 0)
		in->settings.restore_best = strcmp(v, "false") != 0;
	else if (strcmp(arg, "--reinit-optim-cfg") == 0)
		in->reinit_optim_cfg = v;
	else if (strcmp(arg, "--reinit-lr-cfg") == 0)
		in->reinit_lr_cfg = v;
	else if (strcmp(arg, "--phase0-groups") == 0)
		in->phase0_groups = (unsigned)atoi(v);
	else if (strcmp(arg, "--no-decay") == 0) {
		/* comma-separated; the pieces stay in the caller's buffer */
		static const char *parts[8];
		size_t n = 0;
		for (char *save = NULL, *t = strtok_r(v, ",", &save); t && n < 8; t = strtok_r(NULL, ",", &save))
			parts[n++] = t;
		in->no_decay = parts;
		in->nno_decay = n;
		in->no_decay_given = true;
	} else if (strcmp(arg, "--initial-optimizer") == 0)
		in->initial_optimizer = v;
	else if (strcmp(arg, "--initial-lr-scheduler") == 0)
		in->initial_lr_scheduler = v;
	else if (strcmp(arg, "--target") == 0)
		in->target_ftsrt = strcmp(v, "ftsrt") == 0;
	else if (strcmp(arg, "--implicit") == 0) {
		in->implicit = true;    /* the case file only carries the expectation */
		in->schedule = NULL;
	} else
		ck_abort_msg("unknown case argument '%s'", arg);
}

/* Apply an args line, split before each " --" so flow mappings keep their spaces.
 * buf is modified and must outlive the check. */
static inline void case_apply_args(struct fts_check_input *in, char *buf)
{
	char *p = buf;
	while (p && *p) {
		while (*p == ' ')
			p++;
		if (!*p)
			break;
		char *next = strstr(p, " --");
		if (next)
			*next = '\0';
		case_apply_arg(in, p);
		p = next ? next + 1 : NULL;
	}
}

#endif /* TEST_CASE_FILE_H */
