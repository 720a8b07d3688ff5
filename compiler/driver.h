/*
 * driver.h - runs the checking pipeline: manifest and schedule loading,
 * YAML front end, lowering, schedule-wide checks.  The CLI (main.c) and
 * the tests drive it the same way.
 */
#ifndef FTS_DRIVER_H
#define FTS_DRIVER_H

#include "diag.h"
#include "ir.h"

struct fts_check_input {
	const char *schedule;           /* path of the FTS schedule (YAML) */
	const char *manifest;           /* path of the model manifest */
	const char *reinit_optim_cfg;   /* YAML flow text, or NULL */
	const char *reinit_lr_cfg;      /* YAML flow text, or NULL */
	const char *const *declare;     /* extra declaration files (--declare) */
	size_t ndeclare;
	struct fts_settings settings;
};

/*
 * Check one schedule.  Diagnostics are collected in d (whose sources are
 * `d->src`); nothing is printed.  Returns 0 when the inputs could be read
 * (d->errors says whether the schedule is valid), -1 on an I/O problem.
 */
int fts_check_run(const struct fts_check_input *in, struct fts_diags *d);

#endif /* FTS_DRIVER_H */
