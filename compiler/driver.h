/*
 * driver.h - runs the compiler pipeline: inputs (manifest, schedule,
 * LightningCLI configs, flags) -> document trees -> lowering -> checks ->
 * simulation.  The CLI (main.c) and the tests drive it the same way; the
 * plan emitter reads the result.
 */
#ifndef FTS_DRIVER_H
#define FTS_DRIVER_H

#include <stdio.h>

#include "config.h"
#include "diag.h"
#include "ir.h"
#include "simulate.h"

struct fts_planview;

/* Which run settings the command line gave (they override a config). */
enum fts_given {
	FTS_GIVEN_RESTORE_BEST = 1 << 0,
	FTS_GIVEN_MAX_DEPTH = 1 << 1,
	FTS_GIVEN_ETO = 1 << 2,
	FTS_GIVEN_ALLOW_UNTESTED = 1 << 3,
	FTS_GIVEN_BASE_MAX_LR = 1 << 4,
	FTS_GIVEN_MAX_EPOCHS = 1 << 5,
	FTS_GIVEN_APPLY_LAMBDAS = 1 << 6,
};

struct fts_check_input {
	const char *schedule;           /* FTS schedule (YAML); NULL: from the config, or implicit */
	const char *manifest;           /* the model manifest */
	const char *reinit_optim_cfg;   /* YAML flow text, or NULL */
	const char *reinit_lr_cfg;      /* YAML flow text, or NULL */
	const char *const *declare;     /* extra declaration files (--declare) */
	size_t ndeclare;
	const char *const *include_dirs; /* folders the language's `include` may reach (--include-dir) */
	size_t ninclude_dirs;
	struct fts_settings settings;   /* defaults, with the command line's values */
	unsigned given;                 /* enum fts_given: settings set on the command line */
	const char *const *configs;     /* LightningCLI configs, merged in order */
	size_t nconfigs;
	bool implicit;                  /* check FTS's generated schedule (no ft_schedule) */
	const char *initial_optimizer;  /* YAML flow {class_path, init_args}, or NULL */
	const char *initial_lr_scheduler; /* YAML flow, "none", or NULL */
	const char *const *no_decay;    /* no_decay substrings */
	size_t nno_decay;
	bool no_decay_given;            /* the module's no_decay is known (even empty) */
	unsigned phase0_groups;         /* configure_optimizers' group count (0: 1) */
	bool target_ftsrt;              /* check for libftsrt (ftsc build, --target=ftsrt),
					   not for FTS on torch */
};

/* Everything a compilation produced; valid until fts_compile_release(). */
struct fts_compile {
	struct fts_arena arena;
	struct fts_stdlib *stdlib;
	struct fts_manifest *manifest;
	struct fts_names *names;
	struct fts_ir *ir;              /* NULL when lowering did not run */
	struct fts_planview *view;      /* the plan it builds (planview.h); NULL with errors */
	struct fts_sim *sim;            /* NULL when the schedule has errors */
	struct fts_initial initial;
	struct fts_config config;       /* the merged LightningCLI configs (zeroed without
					   --config): early stopping, checkpointing */
};

/*
 * Compile one schedule.  Diagnostics are collected in d (whose sources are
 * d->src); nothing is printed.  Returns 0 when the inputs could be read
 * (d->errors says whether the schedule is valid), -1 on an I/O problem.
 * Release c with fts_compile_release() in both cases.
 */
int fts_compile_run(const struct fts_check_input *in, struct fts_diags *d, struct fts_compile *c);
void fts_compile_release(struct fts_compile *c);

/* fts_compile_run + release, for callers that only want diagnostics. */
int fts_check_run(const struct fts_check_input *in, struct fts_diags *d);

/* `ftsc gen`: FTS's implicit schedule of a manifest, as FTS writes it.
 * Returns 0 and writes it to out; 1 when the manifest has errors; -1 on an
 * I/O problem (both reported into d). */
int fts_gen_run(const char *manifest, struct fts_diags *d, FILE *out);

#endif /* FTS_DRIVER_H */
