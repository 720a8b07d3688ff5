/*
 * check_config.c - unit tests for LightningCLI config loading (config.c):
 * jsonargparse-style merging, the FinetuningScheduler arguments applied to
 * the run settings, ft_schedule resolution, and the callback rules
 * V-CB1..CB4, V-CK1, V-CK2, V-ST1 and V-F3.
 *
 * Run from the repository root: the configs are read from tests/config
 * (tests/config/examples holds experiment configs of the shapes FTS's
 * examples use).  With FTS_DIR set (make check-fts), the "fts-examples"
 * case loads FTS's own example configs (chdir-ing there, as they run).
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "arena.h"
#include "ast.h"
#include "config.h"
#include "diag.h"
#include "fts_stdlib.h"
#include "ir.h"
#include "source.h"
#include "yaml_front.h"
#include "fts_examples.h"

#define EX "tests/config/examples/"
#define FTS_DIR fts_examples_dir()

struct ctx {
	struct fts_sources src;
	struct fts_diags d;
	struct fts_arena a;
	struct fts_stdlib *lib;
	struct fts_settings s;
	struct fts_config cfg;
	int rc;
	char home[4096];                /* the working directory to return to */
};

static void ctx_init(struct ctx *c)
{
	fts_sources_init(&c->src);
	fts_diags_init(&c->d, &c->src);
	fts_arena_init(&c->a);
	c->lib = fts_stdlib_load();
	fts_settings_default(&c->s);
	ck_assert_ptr_nonnull(getcwd(c->home, sizeof(c->home)));
}

static void ctx_release(struct ctx *c)
{
	ck_assert_int_eq(chdir(c->home), 0);
	fts_stdlib_free(c->lib);
	fts_arena_release(&c->a);
	fts_diags_release(&c->d);
	fts_sources_release(&c->src);
}

/* Load the NULL-terminated list of configs. */
static void load_v(struct ctx *c, const char *const *paths)
{
	size_t n = 0;
	while (paths[n])
		n++;
	c->rc = fts_config_load(&c->a, &c->d, c->lib, paths, n, &c->s, &c->cfg);
}

#define LOAD(c, ...) load_v((c), (const char *const[]){__VA_ARGS__, NULL})

static size_t count(const struct ctx *c, enum fts_diag_id id)
{
	size_t n = 0;
	for (size_t i = 0; i < c->d.n; i++)
		if (c->d.v[i]->id == id)
			n++;
	return n;
}

static const struct fts_diag *find(const struct ctx *c, enum fts_diag_id id)
{
	for (size_t i = 0; i < c->d.n; i++)
		if (c->d.v[i]->id == id)
			return c->d.v[i];
	return NULL;
}

/* Does some diagnostic with this id have a message or note containing s? */
static bool has_text(const struct ctx *c, enum fts_diag_id id, const char *s)
{
	for (size_t i = 0; i < c->d.n; i++) {
		const struct fts_diag *dg = c->d.v[i];
		if (dg->id != id)
			continue;
		if (strstr(dg->msg, s))
			return true;
		for (size_t k = 0; k < dg->nnotes; k++)
			if (strstr(dg->notes[k].msg, s))
				return true;
	}
	return false;
}

static void dump(const struct ctx *c)
{
	for (size_t i = 0; i < c->d.n; i++)
		fprintf(stderr, "  diag %s: %s\n", fts_diag_code(c->d.v[i]->id), c->d.v[i]->msg);
}

static void assert_clean(const struct ctx *c)
{
	if (c->d.errors || c->d.warnings)
		dump(c);
	ck_assert_int_eq(c->rc, 0);
	ck_assert_uint_eq(c->d.errors, 0);
	ck_assert_uint_eq(c->d.warnings, 0);
}

static const struct fts_node *get(const struct fts_node *m, const char *k)
{
	struct fts_pair *p = fts_node_get(m, k);
	return p ? p->value : NULL;
}

static const char *cls(const struct fts_node *directive)
{
	const struct fts_node *n = get(directive, "class_path");
	ck_assert_ptr_nonnull(n);
	return n->text;
}

static double num(const struct fts_node *n)
{
	ck_assert_ptr_nonnull(n);
	double v;
	bool fts_string;
	ck_assert(fts_node_number(n, &v, &fts_string));
	return v;
}

/* The file name a span points into. */
static const char *span_file(const struct ctx *c, const struct fts_node *n)
{
	return fts_source_get(&c->src, n->span.file)->name;
}

/* Defaults shared by every RteBoolqModule example (fts_defaults.yaml). */
static void assert_defaults_model(const struct ctx *c)
{
	ck_assert_ptr_nonnull(c->cfg.optimizer_init);
	ck_assert_str_eq(cls(c->cfg.optimizer_init), "torch.optim.AdamW");
	const struct fts_node *ia = get(c->cfg.optimizer_init, "init_args");
	ck_assert(fabs(num(get(ia, "lr")) - 1e-5) < 1e-12);
	ck_assert(fabs(num(get(ia, "weight_decay")) - 1e-5) < 1e-12);
	ck_assert_str_eq(c->cfg.strategy, "ddp_find_unused_parameters_false");
}

static void assert_fts_deps(const struct ctx *c, int64_t patience, int64_t topk)
{
	ck_assert(c->cfg.has_fts);
	ck_assert_ptr_nonnull(c->cfg.fts_node);
	ck_assert(c->cfg.es.present);
	ck_assert_ptr_nonnull(c->cfg.es.node);
	ck_assert_str_eq(c->cfg.es.monitor, "val_loss");
	ck_assert_int_eq(c->cfg.es.patience, patience);
	ck_assert(fabs(c->cfg.es.min_delta - 0.001) < 1e-12);
	ck_assert(!c->cfg.es.mode_max);
	ck_assert(c->cfg.es.check_finite);
	ck_assert_ptr_nonnull(c->cfg.ckpt.node);
	ck_assert_str_eq(c->cfg.ckpt.monitor, "val_loss");
	ck_assert_int_eq(c->cfg.ckpt.save_top_k, topk);
}

/* --- experiment configs of FTS's shapes (tests/config/examples) ------------------ */

static void assert_ex_defaults(const struct ctx *c)
{
	ck_assert_ptr_nonnull(c->cfg.optimizer_init);
	ck_assert_str_eq(cls(c->cfg.optimizer_init), "torch.optim.AdamW");
	const struct fts_node *ia = get(c->cfg.optimizer_init, "init_args");
	ck_assert(fabs(num(get(ia, "lr")) - 1e-5) < 1e-12);
	ck_assert(fabs(num(get(ia, "eps")) - 1e-7) < 1e-15);
	ck_assert_str_eq(c->cfg.strategy, "ddp_find_unused_parameters_false");
	ck_assert_str_eq(span_file(c, c->cfg.optimizer_init), EX "defaults.yaml");
}

START_TEST(test_ex_explicit)
{
	struct ctx c;
	ctx_init(&c);
	LOAD(&c, EX "defaults.yaml", EX "explicit.yaml");
	assert_clean(&c);
	assert_ex_defaults(&c);
	ck_assert_str_eq(cls(c.cfg.lr_scheduler_init), "torch.optim.lr_scheduler.CosineAnnealingWarmRestarts");
	ck_assert_str_eq(get(c.cfg.pl_lrs_cfg, "name")->text, "session_lrs");
	assert_fts_deps(&c, 2, 1);
	ck_assert_str_eq(c.cfg.ft_schedule_path, "tests/schedules/deberta_three_phase.yaml");
	ck_assert_ptr_null(c.cfg.ft_schedule_inline);
	ck_assert_str_eq(span_file(&c, c.cfg.ft_schedule_node), EX "explicit.yaml");
	ck_assert_int_eq(c.s.max_depth, 1);
	ck_assert(c.s.restore_best);
	ck_assert_int_eq(c.s.max_epochs, 1000);
	ck_assert(!c.s.epoch_transitions_only);
	ck_assert_ptr_null(c.s.reinit_lr_cfg);
	ck_assert_ptr_null(c.s.reinit_optim_cfg);
	ctx_release(&c);
}
END_TEST

START_TEST(test_ex_implicit_baseline)
{
	struct ctx c;
	ctx_init(&c);
	LOAD(&c, EX "defaults.yaml", EX "implicit.yaml");
	assert_clean(&c);
	assert_ex_defaults(&c);
	assert_fts_deps(&c, 2, 5);
	ck_assert_ptr_null(c.cfg.ft_schedule_path);
	ck_assert_ptr_null(c.cfg.ft_schedule_node);
	ck_assert_int_eq(c.s.max_depth, -1);
	ck_assert(c.s.restore_best);
	ctx_release(&c);

	ctx_init(&c);
	LOAD(&c, EX "defaults.yaml", EX "baseline.yaml");
	assert_clean(&c);
	assert_ex_defaults(&c);
	ck_assert(!c.cfg.has_fts);
	ck_assert_ptr_null(c.cfg.fts_node);
	ck_assert(!c.cfg.es.present);
	ck_assert_ptr_null(c.cfg.ft_schedule_path);
	ctx_release(&c);
}
END_TEST

START_TEST(test_ex_reinit_lr)
{
	struct ctx c;
	ctx_init(&c);
	LOAD(&c, EX "defaults.yaml", EX "reinit_lr_explicit.yaml");
	assert_clean(&c);
	assert_ex_defaults(&c);
	/* another class_path: the defaults' T_0 does not carry over */
	ck_assert_str_eq(cls(c.cfg.lr_scheduler_init), "torch.optim.lr_scheduler.LinearLR");
	ck_assert_ptr_null(get(get(c.cfg.lr_scheduler_init, "init_args"), "T_0"));
	ck_assert(fabs(num(get(get(c.cfg.lr_scheduler_init, "init_args"), "start_factor")) - 0.1) < 1e-12);
	ck_assert_str_eq(get(c.cfg.pl_lrs_cfg, "name")->text, "reinit_lrs");
	assert_fts_deps(&c, 5, 1);
	ck_assert_str_eq(c.cfg.ft_schedule_path, "tests/schedules/deberta_reinit_lr.yaml");
	ck_assert_int_eq(c.s.max_depth, 2);
	ck_assert(!c.s.restore_best);
	ctx_release(&c);

	ctx_init(&c);
	LOAD(&c, EX "defaults.yaml", EX "reinit_lr_implicit.yaml");
	assert_clean(&c);
	ck_assert_str_eq(cls(c.cfg.lr_scheduler_init), "torch.optim.lr_scheduler.StepLR");
	assert_fts_deps(&c, 3, 5);
	ck_assert_ptr_null(c.cfg.ft_schedule_path);
	ck_assert_int_eq(c.s.max_depth, 4);
	ck_assert(!c.s.restore_best);
	ck_assert_ptr_nonnull(c.s.reinit_lr_cfg);
	ck_assert_str_eq(cls(get(c.s.reinit_lr_cfg, "lr_scheduler_init")), "torch.optim.lr_scheduler.StepLR");
	ck_assert_ptr_null(c.s.reinit_optim_cfg);
	ctx_release(&c);
}
END_TEST

START_TEST(test_ex_reinit_optim_lr)
{
	struct ctx c;
	ctx_init(&c);
	LOAD(&c, EX "defaults.yaml", EX "reinit_optim_lr_explicit.yaml");
	assert_clean(&c);
	assert_ex_defaults(&c);
	ck_assert_str_eq(cls(c.cfg.lr_scheduler_init), "torch.optim.lr_scheduler.LinearLR");
	ck_assert_str_eq(span_file(&c, c.cfg.lr_scheduler_init), EX "reinit_optim_lr_explicit.yaml");
	ck_assert_int_eq(c.s.max_depth, 2);
	ck_assert(!c.s.restore_best);
	ck_assert_str_eq(c.cfg.ft_schedule_path, "tests/schedules/deberta_reinit_optim_lr.yaml");
	assert_fts_deps(&c, 5, 1);
	ctx_release(&c);

	static const char *const implicit[] = {
		EX "reinit_optim_lr_implicit.yaml", EX "reinit_optim_lr_implicit_curr.yaml",
	};
	for (size_t i = 0; i < 2; i++) {
		ctx_init(&c);
		LOAD(&c, EX "defaults.yaml", implicit[i]);
		assert_clean(&c);
		assert_ex_defaults(&c);
		ck_assert_str_eq(cls(c.cfg.lr_scheduler_init), "torch.optim.lr_scheduler.StepLR");
		ck_assert_ptr_null(c.cfg.ft_schedule_path);
		ck_assert_int_eq(c.s.max_depth, 4);
		ck_assert(!c.s.restore_best);
		ck_assert_ptr_nonnull(c.s.reinit_optim_cfg);
		ck_assert_str_eq(cls(get(c.s.reinit_optim_cfg, "optimizer_init")), "torch.optim.SGD");
		ck_assert_ptr_nonnull(c.s.reinit_lr_cfg);
		ck_assert_int_eq(get(c.s.reinit_lr_cfg, "use_current_optimizer_pg_lrs") != NULL, i == 1);
		assert_fts_deps(&c, 3, 5);
		ctx_release(&c);
	}
}
END_TEST

START_TEST(test_ex_strategies)
{
	static const struct {
		const char *file, *strategy;
	} t[] = {
		{EX "fsdp.yaml", "fsdp"},       /* a class_path, with !!set arguments */
		{EX "ddp.yaml", "ddp"},
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct ctx c;
		ctx_init(&c);
		LOAD(&c, EX "defaults.yaml", t[i].file);
		assert_clean(&c);
		ck_assert_str_eq(cls(c.cfg.optimizer_init), "torch.optim.AdamW");
		ck_assert_str_eq(c.cfg.strategy, t[i].strategy);
		ck_assert_int_eq(c.s.max_epochs, 4);
		ck_assert_int_eq(c.s.max_depth, 2);
		ck_assert(c.s.restore_best);
		ck_assert_str_eq(c.cfg.ft_schedule_path, "tests/schedules/deberta_partial.yaml");
		assert_fts_deps(&c, 2, 1);
		ctx_release(&c);
	}
}
END_TEST

START_TEST(test_ex_model_parallel)
{
	/* `callbacks+` appends; top-level optimizer / lr_scheduler; strategy class */
	struct ctx c;
	ctx_init(&c);
	LOAD(&c, EX "mp_defaults.yaml", EX "mp_plan.yaml");
	assert_clean(&c);
	ck_assert(c.cfg.has_fts);
	ck_assert_str_eq(c.cfg.ft_schedule_path, "tests/schedules/llama_toy.yaml");
	ck_assert_str_eq(c.cfg.strategy, "modelparallelstrategy");
	ck_assert_str_eq(cls(c.cfg.optimizer_init), "torch.optim.AdamW");
	ck_assert_str_eq(cls(c.cfg.lr_scheduler_init), "torch.optim.lr_scheduler.CosineAnnealingWarmRestarts");
	ck_assert_ptr_null(c.cfg.pl_lrs_cfg);
	assert_fts_deps(&c, 2, 1);
	ck_assert_int_eq(c.s.max_depth, 2);
	ck_assert_int_eq(c.s.max_epochs, 4);
	const struct fts_node *cbs = get(get(c.cfg.root, "trainer"), "callbacks");
	ck_assert_ptr_nonnull(cbs);
	ck_assert_uint_eq(cbs->nitems, 3);
	ck_assert_ptr_null(get(get(c.cfg.root, "trainer"), "callbacks+"));
	ctx_release(&c);
}
END_TEST

/* --- FTS's own example configs (make check-fts) ----------------------------------------------------- */

START_TEST(test_fts_explicit)
{
	struct ctx c;
	ctx_init(&c);
	/* its ft_schedule is relative to the checkout's root: FTS runs it from there */
	ck_assert_int_eq(chdir(FTS_DIR), 0);
	c.s.run_dir = fts_repo_root();
	LOAD(&c, "config/fts_defaults.yaml", "config/fts_explicit.yaml");
	assert_clean(&c);
	assert_defaults_model(&c);
	ck_assert_str_eq(cls(c.cfg.lr_scheduler_init),
			 "torch.optim.lr_scheduler.CosineAnnealingWarmRestarts");
	ck_assert_str_eq(get(c.cfg.pl_lrs_cfg, "name")->text, "CosineAnnealingWithWarmRestartsLR");
	assert_fts_deps(&c, 2, 1);
	/* ./src/fts_examples/config/X.yaml, relative to the FTS repository root */
	ck_assert(strstr(c.cfg.ft_schedule_path, "/src/fts_examples/config/RteBoolqModule_ft_schedule_deberta_base.yaml"));
	ck_assert_ptr_null(c.cfg.ft_schedule_inline);
	ck_assert_ptr_nonnull(c.cfg.ft_schedule_node);
	ck_assert_str_eq(span_file(&c, c.cfg.ft_schedule_node), "config/fts_explicit.yaml");
	ck_assert_str_eq(span_file(&c, c.cfg.optimizer_init), "config/fts_defaults.yaml");
	ck_assert_int_eq(c.s.max_depth, 1);
	ck_assert(c.s.restore_best);
	ck_assert_int_eq(c.s.max_epochs, 1000);
	ck_assert(!c.s.epoch_transitions_only);
	ck_assert_ptr_null(c.s.reinit_lr_cfg);
	ck_assert_ptr_null(c.s.reinit_optim_cfg);
	ctx_release(&c);
}
END_TEST

START_TEST(test_fts_implicit)
{
	struct ctx c;
	ctx_init(&c);
	ck_assert_int_eq(chdir(FTS_DIR), 0);
	LOAD(&c, "config/fts_defaults.yaml", "config/fts_implicit.yaml");
	assert_clean(&c);
	assert_defaults_model(&c);
	assert_fts_deps(&c, 2, 5);
	ck_assert_ptr_null(c.cfg.ft_schedule_path);
	ck_assert_ptr_null(c.cfg.ft_schedule_inline);
	ck_assert_ptr_null(c.cfg.ft_schedule_node);
	ck_assert_int_eq(c.s.max_depth, -1);
	ck_assert(c.s.restore_best);
	ctx_release(&c);
}
END_TEST

START_TEST(test_nofts_baseline)
{
	struct ctx c;
	ctx_init(&c);
	ck_assert_int_eq(chdir(FTS_DIR), 0);
	LOAD(&c, "config/fts_defaults.yaml", "config/nofts_baseline.yaml");
	assert_clean(&c);
	assert_defaults_model(&c);
	ck_assert(!c.cfg.has_fts);
	ck_assert_ptr_null(c.cfg.fts_node);
	ck_assert(!c.cfg.es.present);
	ck_assert_ptr_null(c.cfg.ft_schedule_path);
	ctx_release(&c);
}
END_TEST

START_TEST(test_reinit_lr)
{
	struct ctx c;
	ctx_init(&c);
	ck_assert_int_eq(chdir(FTS_DIR), 0);
	LOAD(&c, "config/fts_defaults.yaml", "config/advanced/reinit_lr/fts_explicit_reinit_lr.yaml");
	assert_clean(&c);
	assert_defaults_model(&c);
	ck_assert_str_eq(cls(c.cfg.lr_scheduler_init), "torch.optim.lr_scheduler.LinearLR");
	/* same class_path merges init_args; CosineAnnealingWarmRestarts's T_0 is gone */
	ck_assert_ptr_null(get(get(c.cfg.lr_scheduler_init, "init_args"), "T_0"));
	ck_assert(fabs(num(get(get(c.cfg.lr_scheduler_init, "init_args"), "start_factor")) - 0.1) < 1e-12);
	ck_assert_str_eq(get(c.cfg.pl_lrs_cfg, "name")->text, "Explicit_Reinit_LR_Scheduler");
	assert_fts_deps(&c, 5, 1);
	ck_assert_str_eq(c.cfg.ft_schedule_path, "config/advanced/reinit_lr/explicit_reinit_lr.yaml");
	ck_assert_int_eq(c.s.max_depth, 2);
	ck_assert(!c.s.restore_best);
	ctx_release(&c);

	ctx_init(&c);
	ck_assert_int_eq(chdir(FTS_DIR), 0);
	LOAD(&c, "config/fts_defaults.yaml", "config/advanced/reinit_lr/fts_implicit_reinit_lr.yaml");
	assert_clean(&c);
	ck_assert_str_eq(cls(c.cfg.lr_scheduler_init), "torch.optim.lr_scheduler.StepLR");
	assert_fts_deps(&c, 3, 5);
	ck_assert_ptr_null(c.cfg.ft_schedule_path);
	ck_assert_int_eq(c.s.max_depth, 4);
	ck_assert(!c.s.restore_best);
	ck_assert_ptr_nonnull(c.s.reinit_lr_cfg);
	ck_assert_str_eq(cls(get(c.s.reinit_lr_cfg, "lr_scheduler_init")),
			 "torch.optim.lr_scheduler.StepLR");
	ck_assert_ptr_null(c.s.reinit_optim_cfg);
	ctx_release(&c);
}
END_TEST

START_TEST(test_reinit_optim_lr)
{
	struct ctx c;
	ctx_init(&c);
	ck_assert_int_eq(chdir(FTS_DIR), 0);
	LOAD(&c, "config/fts_defaults.yaml",
	     "config/advanced/reinit_optim_lr/fts_explicit_reinit_optim_lr.yaml");
	assert_clean(&c);
	assert_defaults_model(&c);    /* AdamW lr 1e-5 from the defaults */
	ck_assert_str_eq(cls(c.cfg.lr_scheduler_init), "torch.optim.lr_scheduler.LinearLR");
	ck_assert_str_eq(span_file(&c, c.cfg.lr_scheduler_init),
			 "config/advanced/reinit_optim_lr/fts_explicit_reinit_optim_lr.yaml");
	ck_assert_int_eq(c.s.max_depth, 2);
	ck_assert(!c.s.restore_best);
	ck_assert_str_eq(c.cfg.ft_schedule_path,
			 "config/advanced/reinit_optim_lr/explicit_reinit_optim_lr.yaml");
	assert_fts_deps(&c, 5, 1);
	ctx_release(&c);

	static const char *const implicit[] = {
		"config/advanced/reinit_optim_lr/fts_implicit_reinit_optim_lr.yaml",
		"config/advanced/reinit_optim_lr/fts_implicit_reinit_optim_lr_use_curr.yaml",
	};
	for (size_t i = 0; i < 2; i++) {
		ctx_init(&c);
		ck_assert_int_eq(chdir(FTS_DIR), 0);
		LOAD(&c, "config/fts_defaults.yaml", implicit[i]);
		assert_clean(&c);
		assert_defaults_model(&c);
		ck_assert_str_eq(cls(c.cfg.lr_scheduler_init), "torch.optim.lr_scheduler.StepLR");
		ck_assert_ptr_null(c.cfg.ft_schedule_path);
		ck_assert_int_eq(c.s.max_depth, 4);
		ck_assert(!c.s.restore_best);
		ck_assert_ptr_nonnull(c.s.reinit_optim_cfg);
		ck_assert_str_eq(cls(get(c.s.reinit_optim_cfg, "optimizer_init")), "torch.optim.SGD");
		ck_assert_ptr_nonnull(c.s.reinit_lr_cfg);
		ck_assert_int_eq(get(c.s.reinit_lr_cfg, "use_current_optimizer_pg_lrs") != NULL,
				 i == 1);
		assert_fts_deps(&c, 3, 5);
		ctx_release(&c);
	}
}
END_TEST

START_TEST(test_fsdp)
{
	static const struct {
		const char *file, *strategy;
	} t[] = {
		{"config/advanced/fsdp/fts_ddp_fsdp_baseline_profile.yaml", "ddp_find_unused_parameters_false"},
		{"config/advanced/fsdp/fts_fsdp_awp_overrides_offload_profile.yaml", "fsdp"},
		{"config/advanced/fsdp/fts_fsdp_awp_overrides_profile.yaml", "fsdp"},
		{"config/advanced/fsdp/fts_fsdp_basic_profile.yaml", "fsdp"},
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct ctx c;
		ctx_init(&c);
		ck_assert_int_eq(chdir(FTS_DIR), 0);
		LOAD(&c, "config/fts_defaults.yaml", t[i].file);
		assert_clean(&c);
		ck_assert_str_eq(cls(c.cfg.optimizer_init), "torch.optim.AdamW");
		ck_assert_str_eq(c.cfg.strategy, t[i].strategy);
		ck_assert_int_eq(c.s.max_epochs, 4);
		ck_assert_int_eq(c.s.max_depth, 2);
		ck_assert(c.s.restore_best);
		ck_assert_str_eq(c.cfg.ft_schedule_path,
				 "config/RteBoolqModule_ft_schedule_deberta_base_fsdp.yaml");
		assert_fts_deps(&c, 2, 1);
		ctx_release(&c);
	}
}
END_TEST

START_TEST(test_model_parallel)
{
	/* `callbacks+` appends; top-level optimizer / lr_scheduler; strategy class */
	static const char *const plans[] = {
		"model_parallel/config/fts_tp_plan.yaml",
		"model_parallel/config/fts_fsdp_auto_plan.yaml",
	};
	for (size_t i = 0; i < 2; i++) {
		struct ctx c;
		ctx_init(&c);
		/* run from model_parallel/, where its ./config/defaults/... leads */
		ck_assert_int_eq(chdir(FTS_DIR), 0);
		c.s.run_dir = "model_parallel";
		LOAD(&c, "model_parallel/config/defaults/fts_mp_example_defaults.yaml", plans[i]);
		assert_clean(&c);
		ck_assert(c.cfg.has_fts);
		ck_assert_str_eq(c.cfg.ft_schedule_path,
				 "model_parallel/config/defaults/llama_ft_schedule.yaml");
		ck_assert_str_eq(c.cfg.strategy, "modelparallelstrategy");
		ck_assert_str_eq(cls(c.cfg.optimizer_init), "torch.optim.AdamW");
		ck_assert_str_eq(cls(c.cfg.lr_scheduler_init),
				 "torch.optim.lr_scheduler.CosineAnnealingWarmRestarts");
		ck_assert_ptr_null(c.cfg.pl_lrs_cfg);
		assert_fts_deps(&c, 2, 1);
		ck_assert_int_eq(c.s.max_depth, 2);
		ck_assert_int_eq(c.s.max_epochs, 4);
		const struct fts_node *cbs = get(get(c.cfg.root, "trainer"), "callbacks");
		ck_assert_ptr_nonnull(cbs);
		ck_assert_uint_eq(cbs->nitems, 3);
		ck_assert_ptr_null(get(get(c.cfg.root, "trainer"), "callbacks+"));
		ctx_release(&c);
	}
}
END_TEST

/* --- merging --------------------------------------------------------------------------- */

START_TEST(test_merge)
{
	struct ctx c;
	ctx_init(&c);
	LOAD(&c, "tests/config/merge_base.yaml", "tests/config/merge_over.yaml");
	assert_clean(&c);
	/* another class_path: the init_args start afresh */
	ck_assert_str_eq(cls(c.cfg.optimizer_init), "torch.optim.SGD");
	const struct fts_node *oia = get(c.cfg.optimizer_init, "init_args");
	ck_assert(fabs(num(get(oia, "lr")) - 0.1) < 1e-12);
	ck_assert_ptr_null(get(oia, "weight_decay"));
	ck_assert_uint_eq(oia->npairs, 1);
	/* the same class_path: init_args merge key by key */
	ck_assert_str_eq(cls(c.cfg.lr_scheduler_init), "torch.optim.lr_scheduler.StepLR");
	const struct fts_node *sia = get(c.cfg.lr_scheduler_init, "init_args");
	ck_assert(fabs(num(get(sia, "step_size")) - 1) < 1e-12);
	ck_assert(fabs(num(get(sia, "gamma")) - 0.5) < 1e-12);
	ck_assert_str_eq(span_file(&c, get(sia, "step_size")), "tests/config/merge_base.yaml");
	ck_assert_str_eq(span_file(&c, get(sia, "gamma")), "tests/config/merge_over.yaml");
	/* the model's class_path survives an init_args-only override */
	ck_assert_str_eq(cls(get(c.cfg.root, "model")), "my.Module");
	/* callbacks+ appended the FTSEarlyStopping to the base list */
	ck_assert(c.cfg.es.present);
	ck_assert_str_eq(c.cfg.es.monitor, "val_acc");
	ck_assert(c.cfg.es.mode_max);
	ck_assert_int_eq(c.cfg.es.patience, 7);
	ck_assert_int_eq(c.s.max_depth, 3);
	ck_assert_int_eq(c.s.max_epochs, 10);
	ctx_release(&c);
}
END_TEST

START_TEST(test_merge_scalars)
{
	struct ctx c;
	ctx_init(&c);
	struct fts_node *b = NULL, *o = NULL;
	uint32_t f1 = fts_source_add(&c.src, "b", "a: {x: 1, y: [1, 2]}\nk: 1\n", 26);
	uint32_t f2 = fts_source_add(&c.src, "o", "a: {y: [3], z: 2}\nk: null\n", 25);
	bool empty;
	b = fts_yaml_parse(&c.a, &c.d, f1, &empty);
	o = fts_yaml_parse(&c.a, &c.d, f2, &empty);
	ck_assert_ptr_nonnull(b);
	ck_assert_ptr_nonnull(o);
	const struct fts_node *m = fts_config_merge(&c.a, b, o);
	const struct fts_node *ma = get(m, "a");
	ck_assert_uint_eq(ma->npairs, 3);
	ck_assert_int_eq(get(ma, "x")->i, 1);
	ck_assert_uint_eq(get(ma, "y")->nitems, 1);     /* a list replaces */
	ck_assert_int_eq(get(ma, "z")->i, 2);
	ck_assert_int_eq(get(m, "k")->py, FTS_PY_NONE); /* null overrides */
	ck_assert_ptr_eq(fts_config_merge(&c.a, b, NULL), b);
	ck_assert_ptr_eq(fts_config_merge(&c.a, NULL, o), o);
	ctx_release(&c);
}
END_TEST

/* --- ft_schedule --------------------------------------------------------------------------- */

START_TEST(test_schedule_paths)
{
	struct ctx c;
	/* FTS open()s ft_schedule where training starts (--run-dir), nowhere else */
	ctx_init(&c);
	c.s.run_dir = "tests/config";
	LOAD(&c, "tests/config/with_sched.yaml");
	assert_clean(&c);
	ck_assert_str_eq(c.cfg.ft_schedule_path, "tests/config/sched.yaml");
	ck_assert(fabs(c.s.base_max_lr - 1e-4) < 1e-15);  /* jsonargparse reads 1e-4 as a float */
	ctx_release(&c);
	ctx_init(&c);
	LOAD(&c, "tests/config/with_sched.yaml");
	ck_assert_uint_eq(c.d.errors, 1);
	ck_assert_ptr_null(c.cfg.ft_schedule_path);
	ck_assert(has_text(&c, FTS_E_CONFIG_SCHEDULE, "sched.yaml"));
	ck_assert(has_text(&c, FTS_E_CONFIG_SCHEDULE, "--run-dir"));
	ck_assert(has_text(&c, FTS_E_CONFIG_SCHEDULE, "'tests/config/sched.yaml' exists, next to a config"));
	ctx_release(&c);
	/* an empty inline schedule: implicit mode, said */
	ctx_init(&c);
	LOAD(&c, "tests/config/empty_sched.yaml");
	ck_assert_uint_eq(c.d.errors, 0);
	ck_assert_uint_eq(count(&c, FTS_W_EMPTY_SCHEDULE), 1);
	ck_assert(has_text(&c, FTS_W_EMPTY_SCHEDULE, "implicit mode"));
	ck_assert_ptr_null(c.cfg.ft_schedule_inline);
	ck_assert_ptr_null(c.cfg.ft_schedule_path);
	ctx_release(&c);

	ctx_init(&c);
	LOAD(&c, "tests/config/inline_sched.yaml");
	assert_clean(&c);
	ck_assert_ptr_null(c.cfg.ft_schedule_path);
	ck_assert_ptr_nonnull(c.cfg.ft_schedule_inline);
	ck_assert_ptr_eq(c.cfg.ft_schedule_inline, c.cfg.ft_schedule_node);
	ck_assert_uint_eq(c.cfg.ft_schedule_inline->npairs, 1);
	ctx_release(&c);

	ctx_init(&c);
	LOAD(&c, "tests/config/missing_schedule.yaml");
	ck_assert_int_eq(c.rc, 0);
	ck_assert_uint_eq(c.d.errors, 1);
	const struct fts_diag *dg = find(&c, FTS_E_CONFIG_SCHEDULE);
	ck_assert_ptr_nonnull(dg);
	ck_assert(strstr(dg->msg, "./nowhere/missing_ft_schedule.yaml") != NULL);
	ck_assert_ptr_null(c.cfg.ft_schedule_path);
	ck_assert_ptr_nonnull(c.cfg.ft_schedule_node);
	ck_assert_uint_eq(dg->span.file, c.cfg.ft_schedule_node->span.file);
	ck_assert_uint_eq(dg->span.start, c.cfg.ft_schedule_node->span.start);
	ctx_release(&c);
}
END_TEST

/* --- callback rules -------------------------------------------------------------------------- */

START_TEST(test_cb_multi)
{
	struct ctx c;
	ctx_init(&c);
	LOAD(&c, "tests/config/multi_ckpt.yaml");
	ck_assert_uint_eq(count(&c, FTS_E_CB_MULTI), 2);
	ck_assert(has_text(&c, FTS_E_CB_MULTI, "ModelCheckpoint"));
	ck_assert(has_text(&c, FTS_E_CB_MULTI, "EarlyStopping"));
	ck_assert(has_text(&c, FTS_E_CB_MULTI, "the first"));
	ck_assert_uint_eq(c.d.errors, 2);
	ctx_release(&c);

	ctx_init(&c);
	LOAD(&c, "tests/config/multi_fts.yaml");
	ck_assert_uint_eq(count(&c, FTS_E_CB_MULTI), 1);
	ck_assert(has_text(&c, FTS_E_CB_MULTI, "FinetuningScheduler"));
	ck_assert_uint_eq(c.d.errors, 1);
	ctx_release(&c);
}
END_TEST

START_TEST(test_cb_nofts)
{
	struct ctx c;
	ctx_init(&c);
	LOAD(&c, "tests/config/nofts.yaml");
	ck_assert_uint_eq(count(&c, FTS_E_CB_NOFTS), 2);
	ck_assert(has_text(&c, FTS_E_CB_NOFTS, "FTSCheckpoint is configured"));
	ck_assert(has_text(&c, FTS_E_CB_NOFTS, "standard EarlyStopping"));
	ck_assert_uint_eq(c.d.errors, 2);
	ck_assert(!c.cfg.has_fts);
	ctx_release(&c);
}
END_TEST

START_TEST(test_cb_subst)
{
	struct ctx c;
	ctx_init(&c);
	LOAD(&c, "tests/config/subst.yaml");
	ck_assert_uint_eq(c.d.errors, 0);
	/* ES substituted; checkpoint substituted; checkpoint monitor defaulted */
	ck_assert_uint_eq(count(&c, FTS_W_CB_SUBST), 3);
	ck_assert(has_text(&c, FTS_W_CB_SUBST, "Substituting current EarlyStopping for FTSEarlyStopping"));
	ck_assert(has_text(&c, FTS_W_CB_SUBST, "Substituting current ModelCheckpoint for FTSCheckpoint"));
	ck_assert(has_text(&c, FTS_W_CB_SUBST, "No monitor metric specified for FTSCheckpoint"));
	ck_assert(c.cfg.es.present);
	ck_assert_ptr_nonnull(c.cfg.es.node);
	ck_assert_str_eq(c.cfg.es.monitor, "val_acc");
	ck_assert(fabs(c.cfg.es.min_delta - 0.01) < 1e-12);     /* as written, not negated */
	ck_assert(c.cfg.es.mode_max);
	ck_assert_int_eq(c.cfg.es.patience, 5);
	ck_assert_str_eq(c.cfg.ckpt.monitor, "val_loss");
	ck_assert_int_eq(c.cfg.ckpt.save_top_k, 3);
	ck_assert(c.cfg.ckpt.mode_max);
	ctx_release(&c);

	ctx_init(&c);
	LOAD(&c, "tests/config/fts_only.yaml");
	ck_assert_uint_eq(c.d.errors, 0);
	ck_assert_uint_eq(count(&c, FTS_W_CB_SUBST), 4);
	ck_assert(has_text(&c, FTS_W_CB_SUBST, "Adding an FTSEarlyStopping callback with default configuration."));
	ck_assert(has_text(&c, FTS_W_CB_SUBST, "Adding an FTSCheckpoint callback with default configuration."));
	ck_assert(has_text(&c, FTS_W_CB_SUBST, "No monitor metric specified for FTSEarlyStopping, using 'val_loss' as default."));
	ck_assert(c.cfg.has_fts);
	ck_assert(c.cfg.es.present);
	ck_assert_ptr_null(c.cfg.es.node);
	ck_assert_str_eq(c.cfg.es.monitor, "val_loss");
	ck_assert_int_eq(c.cfg.es.patience, 3);
	ck_assert(c.cfg.es.min_delta == 0);
	ck_assert(!c.cfg.es.mode_max);
	ck_assert_ptr_null(c.cfg.ckpt.node);
	ck_assert_str_eq(c.cfg.ckpt.monitor, "val_loss");
	ck_assert_int_eq(c.cfg.ckpt.save_top_k, 1);
	ctx_release(&c);

	/* with checkpointing on, Lightning's default ModelCheckpoint is substituted */
	ctx_init(&c);
	LOAD(&c, "tests/config/fts_bare.yaml");
	ck_assert_uint_eq(c.d.errors, 0);
	ck_assert_uint_eq(count(&c, FTS_W_CB_SUBST), 4);
	ck_assert(has_text(&c, FTS_W_CB_SUBST, "Substituting current ModelCheckpoint (Lightning's default)"));
	ck_assert_int_eq(c.cfg.ckpt.save_top_k, 1);
	ck_assert_str_eq(c.cfg.ckpt.monitor, "val_loss");
	ctx_release(&c);

	/* a configured FTSEarlyStopping needs a monitor (a required argument) */
	ctx_init(&c);
	LOAD(&c, "tests/config/es_no_monitor.yaml");
	ck_assert_uint_eq(c.d.errors, 1);
	ck_assert(has_text(&c, FTS_E_CONFIG, "FTSEarlyStopping monitor must be a metric name, not null"));
	ck_assert_uint_eq(c.d.warnings, 0);
	ck_assert_int_eq(c.cfg.es.patience, 2);
	ctx_release(&c);
}
END_TEST

START_TEST(test_cb_eto)
{
	struct ctx c;
	ctx_init(&c);
	LOAD(&c, "tests/config/eto.yaml");
	ck_assert_uint_eq(c.d.errors, 0);
	ck_assert_uint_eq(count(&c, FTS_W_CB_ETO_ES), 1);
	ck_assert_uint_eq(c.d.warnings, 1);
	ck_assert(c.s.epoch_transitions_only);
	ck_assert(!c.cfg.es.present);
	ctx_release(&c);
}
END_TEST

START_TEST(test_ck_topk)
{
	struct ctx c;
	ctx_init(&c);
	LOAD(&c, "tests/config/topk0.yaml");
	ck_assert_uint_eq(count(&c, FTS_E_CK_TOPK), 1);
	ck_assert(has_text(&c, FTS_E_CK_TOPK, "save_top_k is 0"));
	ck_assert_uint_eq(c.d.errors, 1);
	ck_assert_int_eq(c.cfg.ckpt.save_top_k, 0);
	ctx_release(&c);

	ctx_init(&c);
	LOAD(&c, "tests/config/topk_null.yaml");
	ck_assert_uint_eq(count(&c, FTS_E_CK_TOPK), 1);
	ck_assert(has_text(&c, FTS_E_CK_TOPK, "save_top_k is None"));
	ck_assert_uint_eq(c.d.errors, 1);
	ctx_release(&c);

	/* restore_best: false lifts V-CK1 and V-CK2 */
	ctx_init(&c);
	LOAD(&c, "tests/config/topk0.yaml", "tests/config/no_restore.yaml");
	assert_clean(&c);
	ck_assert(!c.s.restore_best);
	ck_assert_ptr_null(c.cfg.ckpt.monitor);
	ctx_release(&c);
}
END_TEST

START_TEST(test_ck_monitor)
{
	struct ctx c;
	ctx_init(&c);
	LOAD(&c, "tests/config/monitor_null.yaml");
	ck_assert_uint_eq(count(&c, FTS_E_CK_MONITOR), 1);
	ck_assert_uint_eq(c.d.errors, 1);
	ck_assert_uint_eq(c.d.warnings, 0);
	ck_assert_ptr_null(c.cfg.ckpt.monitor);
	ck_assert_int_eq(c.cfg.ckpt.save_top_k, 2);
	ctx_release(&c);
}
END_TEST

/* --- FinetuningScheduler arguments ------------------------------------------------------------ */

START_TEST(test_unknown_arg)
{
	struct ctx c;
	ctx_init(&c);
	LOAD(&c, "tests/config/unknown_arg.yaml");
	ck_assert_uint_eq(count(&c, FTS_E_UNKNOWN_KEY), 2);
	ck_assert_uint_eq(c.d.errors, 2);
	ck_assert(has_text(&c, FTS_E_UNKNOWN_KEY, "unknown key 'max_dept' in FinetuningScheduler init_args"));
	ck_assert(has_text(&c, FTS_E_UNKNOWN_KEY, "did you mean 'max_depth'?"));
	ck_assert(has_text(&c, FTS_E_UNKNOWN_KEY, "did you mean 'patience'?"));
	const struct fts_diag *dg = find(&c, FTS_E_UNKNOWN_KEY);
	ck_assert_uint_eq(dg->span.end - dg->span.start, strlen("max_dept"));
	ck_assert_int_eq(c.s.max_depth, -1);    /* unchanged */
	ctx_release(&c);

	ctx_init(&c);
	LOAD(&c, "tests/config/entry_typo.yaml");
	ck_assert_uint_eq(c.d.errors, 1);
	ck_assert(has_text(&c, FTS_E_UNKNOWN_KEY, "unknown key 'init_arg' in the FinetuningScheduler entry"));
	ck_assert(has_text(&c, FTS_E_UNKNOWN_KEY, "did you mean 'init_args'?"));
	ctx_release(&c);
}
END_TEST

START_TEST(test_bad_types)
{
	struct ctx c;
	ctx_init(&c);
	c.s.max_depth = 7;
	LOAD(&c, "tests/config/bad_types.yaml");
	if (c.d.errors != 8)
		dump(&c);
	ck_assert_uint_eq(count(&c, FTS_E_CONFIG), 8);
	ck_assert_uint_eq(c.d.errors, 8);
	ck_assert(has_text(&c, FTS_E_CONFIG, "ft_schedule must be a path, a schedule mapping or null, not a list"));
	ck_assert(has_text(&c, FTS_E_CONFIG, "max_depth must be an int, not 'two'"));
	ck_assert(has_text(&c, FTS_E_CONFIG, "restore_best must be true or false, not 3"));
	ck_assert(has_text(&c, FTS_E_CONFIG, "base_max_lr must be a number"));
	ck_assert(has_text(&c, FTS_E_CONFIG, "reinit_lr_cfg must be a mapping or null"));
	ck_assert(has_text(&c, FTS_E_CONFIG, "trainer.max_epochs must be an int or null, not 'many'"));
	ck_assert(has_text(&c, FTS_E_CONFIG, "FTSCheckpoint save_top_k"));
	ck_assert(has_text(&c, FTS_E_CONFIG, "FTSEarlyStopping mode must be 'min' or 'max'"));
	/* settings keep their values where the config is wrong */
	ck_assert_int_eq(c.s.max_depth, 7);
	ck_assert(c.s.restore_best);
	ck_assert_int_eq(c.s.max_epochs, 1000);
	ck_assert_ptr_null(c.s.reinit_lr_cfg);
	ctx_release(&c);

	ctx_init(&c);
	LOAD(&c, "tests/config/not_a_map.yaml");
	ck_assert_uint_eq(count(&c, FTS_E_CONFIG), 1);
	ck_assert_ptr_null(c.cfg.root);
	ctx_release(&c);
}
END_TEST

START_TEST(test_io)
{
	struct ctx c;
	ctx_init(&c);
	LOAD(&c, "tests/config/does_not_exist.yaml", "tests/config/eto.yaml");
	ck_assert_int_eq(c.rc, -1);
	ck_assert_uint_eq(count(&c, FTS_E_IO), 1);
	ck_assert(has_text(&c, FTS_E_IO, "does_not_exist.yaml"));
	/* the readable config is still read */
	ck_assert(c.cfg.has_fts);
	ck_assert(c.s.epoch_transitions_only);
	ctx_release(&c);
}
END_TEST

/* --- strategy and initial scheduler ----------------------------------------------------------- */

START_TEST(test_strategy)
{
	struct ctx c;
	ctx_init(&c);
	LOAD(&c, "tests/config/deepspeed.yaml");
	ck_assert_uint_eq(count(&c, FTS_E_STRATEGY), 1);
	ck_assert(has_text(&c, FTS_E_STRATEGY, "'deepspeed'"));
	ck_assert_uint_eq(c.d.errors, 1);
	ck_assert_str_eq(c.cfg.strategy, "deepspeed");
	ctx_release(&c);

	ctx_init(&c);
	LOAD(&c, "tests/config/deepspeed.yaml", "tests/config/allow_untested.yaml");
	ck_assert_uint_eq(c.d.errors, 0);
	ck_assert_uint_eq(count(&c, FTS_W_STRATEGY), 1);
	ck_assert_uint_eq(c.d.warnings, 1);
	ck_assert(c.s.allow_untested);
	ctx_release(&c);
}
END_TEST

START_TEST(test_initial_lrs)
{
	struct ctx c;
	ctx_init(&c);
	LOAD(&c, "tests/config/bad_lrs.yaml");
	ck_assert_uint_eq(count(&c, FTS_E_INITIAL_LRS), 1);
	ck_assert(has_text(&c, FTS_E_INITIAL_LRS, "OneCycleLR"));
	ck_assert_uint_eq(c.d.errors, 1);
	ctx_release(&c);

	ctx_init(&c);
	LOAD(&c, "tests/config/bad_lrs.yaml", "tests/config/allow_untested.yaml");
	ck_assert_uint_eq(c.d.errors, 0);
	ck_assert_uint_eq(count(&c, FTS_W_INITIAL_LRS), 1);
	ck_assert_uint_eq(c.d.warnings, 1);
	ctx_release(&c);
}
END_TEST

static Suite *config_suite(void)
{
	Suite *s = suite_create("config");
	TCase *tc = tcase_create("examples");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_ex_explicit);
	tcase_add_test(tc, test_ex_implicit_baseline);
	tcase_add_test(tc, test_ex_reinit_lr);
	tcase_add_test(tc, test_ex_reinit_optim_lr);
	tcase_add_test(tc, test_ex_strategies);
	tcase_add_test(tc, test_ex_model_parallel);
	suite_add_tcase(s, tc);

	if (fts_examples_dir()) {
		tc = tcase_create("fts-examples");
		tcase_set_timeout(tc, 60);
		tcase_add_test(tc, test_fts_explicit);
		tcase_add_test(tc, test_fts_implicit);
		tcase_add_test(tc, test_nofts_baseline);
		tcase_add_test(tc, test_reinit_lr);
		tcase_add_test(tc, test_reinit_optim_lr);
		tcase_add_test(tc, test_fsdp);
		tcase_add_test(tc, test_model_parallel);
		suite_add_tcase(s, tc);
	}

	tc = tcase_create("rules");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_merge);
	tcase_add_test(tc, test_merge_scalars);
	tcase_add_test(tc, test_schedule_paths);
	tcase_add_test(tc, test_cb_multi);
	tcase_add_test(tc, test_cb_nofts);
	tcase_add_test(tc, test_cb_subst);
	tcase_add_test(tc, test_cb_eto);
	tcase_add_test(tc, test_ck_topk);
	tcase_add_test(tc, test_ck_monitor);
	tcase_add_test(tc, test_unknown_arg);
	tcase_add_test(tc, test_bad_types);
	tcase_add_test(tc, test_io);
	tcase_add_test(tc, test_strategy);
	tcase_add_test(tc, test_initial_lrs);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(config_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
