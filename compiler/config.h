/*
 * config.h - LightningCLI configs: `ftsc check --config A.yaml --config B.yaml`.
 *
 * Stage: front end, next to the schedule's YAML front end.  The configs a
 * FinetuningScheduler run is started with (LightningCLI / jsonargparse
 * YAML files, later files overriding earlier ones) are parsed, merged the
 * way jsonargparse merges them, and read for what FTS and ftsc need: the
 * FinetuningScheduler callback's arguments (onto struct fts_settings), the
 * schedule it names, the model's initial optimizer and lr scheduler, the
 * trainer's strategy and max_epochs, and the FTSEarlyStopping/FTSCheckpoint
 * that FTS will actually run with after its callback substitutions.
 *
 * Rules checked here, in the terms of docs/fts-semantics.md: V-CB1..CB4,
 * V-CK1, V-CK2, V-ST1, V-F3 and the existence of the schedule file (V-L2),
 * plus ftsc's own shape checks (unknown FinetuningScheduler / EarlyStopping
 * / ModelCheckpoint arguments, argument types).  V-L1 (ft_schedule with
 * reinit_lr_cfg) is left to the schedule lowering, which sees both.
 */
#ifndef FTS_CONFIG_H
#define FTS_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arena.h"
#include "ast.h"
#include "diag.h"
#include "ir.h"

struct fts_stdlib;

/* The FTSEarlyStopping FTS will use: the configured one, one substituted
 * for a plain EarlyStopping (its configuration copied), or FTS's default. */
struct fts_es_cfg {
	bool present;                   /* false in epoch-driven mode (pruned), without
					   FinetuningScheduler, or with gen_ft_sched_only */
	const char *monitor;            /* "val_loss" when FTS fills it in */
	int64_t patience;               /* Lightning's default 3 */
	double min_delta;               /* as written (Lightning default 0) */
	bool mode_max;                  /* mode: max (default min) */
	double stopping_threshold, divergence_threshold;
	bool has_stopping_threshold, has_divergence_threshold;
	bool check_finite;              /* default true */
	const struct fts_node *node;    /* the callback entry, or NULL when FTS adds a default */
};

/* The FTSCheckpoint FTS will use (configured, substituted, or added). */
struct fts_ckpt_cfg {
	const char *monitor;            /* NULL when an FTSCheckpoint has none */
	int64_t save_top_k;             /* Lightning's default 1; 0 for save_top_k: null */
	bool mode_max;
	const struct fts_node *node;    /* the callback entry, or NULL when FTS adds it */
};

struct fts_config {
	const struct fts_node *optimizer_init;     /* model.init_args.optimizer_init ({class_path,
						      init_args}), else a top-level LightningCLI
						      `optimizer`, or NULL */
	const struct fts_node *lr_scheduler_init;  /* model.init_args.lr_scheduler_init, else a
						      top-level `lr_scheduler`, or NULL */
	const struct fts_node *pl_lrs_cfg;         /* model.init_args.pl_lrs_cfg, or NULL */
	bool has_fts;                              /* a FinetuningScheduler callback is configured */
	const struct fts_node *fts_node;           /* that callback entry (for spans) */
	const char *ft_schedule_path;              /* resolved path of ft_schedule, or NULL */
	const struct fts_node *ft_schedule_inline; /* ft_schedule given as a mapping, or NULL */
	const struct fts_node *ft_schedule_node;   /* where ft_schedule was written, or NULL */
	struct fts_es_cfg es;
	struct fts_ckpt_cfg ckpt;
	const char *strategy;                      /* trainer.strategy flag (lower case; a
						      class_path is mapped to its flag when
						      known), or NULL */
	const struct fts_node *root;               /* the merged document, or NULL */
};

/*
 * Load the configs paths[0..npaths) in order, merging them as LightningCLI
 * (jsonargparse) does: later files override earlier ones; mappings merge
 * key by key; sequences and scalars replace (a `key+:` list appends);
 * a {class_path, init_args} mapping whose class_path differs from the
 * earlier one replaces it whole.  The merged tree reuses the original
 * nodes (spans stay in their own files); merged mappings are new nodes in a.
 *
 * Then read what FTS and ftsc need into *out (zeroed first) and apply the
 * FinetuningScheduler init_args (max_depth, base_max_lr, restore_best,
 * epoch_transitions_only, allow_untested, apply_lambdas_new_pgs,
 * reinit_optim_cfg, reinit_lr_cfg) and trainer.max_epochs onto *settings:
 * only fields written in the config change; the caller initialises
 * *settings (fts_settings_default or its own options) beforehand.
 *
 * ft_schedule paths are resolved relative to the working directory, then
 * to each config's directory (last config first), then with leading
 * components dropped one at a time (FTS's examples name paths relative to
 * the FTS repository root).
 *
 * Every problem is reported through d.  Returns 0, or -1 when a config
 * cannot be read (FTS_E_IO); *out is filled as far as possible either way.
 */
int fts_config_load(struct fts_arena *a, struct fts_diags *d, const struct fts_stdlib *lib,
		    const char *const *paths, size_t npaths, struct fts_settings *settings,
		    struct fts_config *out);
/* The same, with one more config document merged last: the tree of an
 * ftsc-language schedule (dsl.h), which has the shape of a config. */
int fts_config_load_ex(struct fts_arena *a, struct fts_diags *d, const struct fts_stdlib *lib,
		       const char *const *paths, size_t npaths, const struct fts_node *last,
		       struct fts_settings *settings, struct fts_config *out);

/*
 * Merge `over` onto `base` as jsonargparse does (see fts_config_load).
 * Either may be NULL.  Returns the merged node (new mappings in a; other
 * nodes shared with the inputs).
 */
const struct fts_node *fts_config_merge(struct fts_arena *a, const struct fts_node *base,
					const struct fts_node *over);

#endif /* FTS_CONFIG_H */
