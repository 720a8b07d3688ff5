/*
 * lower.c - lowering: the schedule document (ast.h) becomes the checked
 * schedule (ir.h).
 *
 * This pass owns every rule that looks at one phase at a time, in the
 * terms of docs/fts-semantics.md: phase keys (V-K1..K3 and the negative /
 * colliding keys FTS mishandles), per-phase keys (V-P0..P4, unknown keys),
 * reinitialization directives (V-R1..R13, V-O1..O3, V-T1, V-T2) and
 * parameter resolution (exact name, else Python re.match).  Schedule-wide
 * rules live in check.c.  FTS stops at the first error; ftsc reports all.
 */
#include "lower.h"

#include <ctype.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pyre.h"
#include "resolve.h"
#include "fts_stdlib.h"
#include "util.h"

/* A parameter entry resolved ahead of lowering (see resolve_all). */
struct preres {
	const struct fts_node *node;    /* the params item */
	long exact;                     /* index of an equal name, or -1 */
	struct fts_pyre *re;            /* compiled pattern, or NULL */
	char err[256];                  /* compile error when re == NULL */
	size_t erroff;
	struct fts_matches mt;          /* regex matches */
};

struct lower {
	struct fts_ir *ir;
	struct fts_diags *d;
	struct fts_arena *a;
	const struct fts_manifest *m;
	const struct fts_names *names;
	const struct fts_stdlib *lib;
	struct preres *pre;             /* every string entry of every phase */
	size_t npre;
	size_t pre_next;                /* where lookups start (entries come in order) */
};

void fts_settings_default(struct fts_settings *s)
{
	memset(s, 0, sizeof(*s));
	s->restore_best = true;
	s->max_depth = -1;
	s->base_max_lr = 1e-5;
	s->max_epochs = 1000;
}

/* --- small node helpers ------------------------------------------------------ */

static const struct fts_node *get_key(const struct fts_node *map, const char *key)
{
	struct fts_pair *p = fts_node_get(map, key);
	return p ? p->key : NULL;
}

/* A number FTS reads through float(): reports the YAML 1.1 string remark. */
static bool pyfloat(struct lower *l, const struct fts_node *n, double *v)
{
	if (!fts_node_pyfloat(n, v))
		return false;
	if (n->kind == FTS_N_SCALAR && n->py == FTS_PY_STR && !n->quoted) {
		double dummy;
		bool fts_string = false;
		if (fts_node_number(n, &dummy, &fts_string) && fts_string)
			fts_diag(l->d, FTS_R_YAML11_STRING, n->span, n->text, *v);
	}
	return true;
}

/* --- directives ------------------------------------------------------------------ */

static const char *const optimizer_keys[] = {"optimizer_init", NULL};
static const char *const class_keys[] = {"class_path", "init_args", NULL};
static const char *const lrs_keys[] = {"lr_scheduler_init", "pl_lrs_cfg", "init_pg_lrs",
				       "use_current_optimizer_pg_lrs", NULL};
static const char *const implicit_lrs_keys[] = {"lr_scheduler_init", "pl_lrs_cfg", "init_pg_lrs",
						"use_current_optimizer_pg_lrs", NULL};
/* LightningCLI's LRSchedulerConfig fields ('scheduler' collides in a reinit: FTSC091) */
static const char *const pl_lrs_fields[] = {"interval", "frequency", "name", "monitor",
					    "strict", "reduce_on_plateau", "scheduler", NULL};

struct argctx {
	struct lower *l;
	const char *class_path;
	bool optimizer;
	bool reported;
};

static void arg_report(void *vctx, enum fts_argerr kind, struct fts_span span,
		       const char *msg, const char *suggestion)
{
	struct argctx *c = vctx;
	struct fts_diag *dg;
	if (c->optimizer)
		dg = fts_diag(c->l->d, FTS_E_OPT_ARGS, span, c->class_path, msg);
	else if (kind == FTS_ARG_CONSTRAINT_RUNTIME)
		dg = fts_diag(c->l->d, FTS_E_LRS_ARGS_RUNTIME, span, c->class_path, msg);
	else
		dg = fts_diag(c->l->d, FTS_E_LRS_ARGS, span, c->class_path, msg);
	if (suggestion)
		fts_diag_help(c->l->d, dg, "did you mean '%s'?", suggestion);
	c->reported = true;
}

/*
 * The class part shared by optimizer_init and lr_scheduler_init: FTS's
 * V-R2 (missing *_init), V-R3 (class_path), import (V-R9/V-O2).
 * Returns false when the directive is unusable.
 */
static bool lower_class(struct lower *l, struct fts_ir_directive *dir,
			const struct fts_node *init, const char *init_key,
			const char *directive, bool optimizer, int64_t phase)
{
	(void)phase;
	if (!init) {
		fts_diag(l->d, FTS_E_REINIT_NO_INIT, dir->node->span, directive, init_key);
		return false;
	}
	if (!fts_node_is_map(init)) {
		fts_diag(l->d, FTS_E_DIRECTIVE_TYPE, init->span, init_key, "a mapping",
			 fts_node_describe(l->a, init));
		return false;
	}
	fts_node_check_keys(l->a, l->d, init, class_keys, init_key);
	const struct fts_node *cp = fts_node_value(init, "class_path");
	if (!cp || fts_node_falsy(cp)) {
		fts_diag(l->d, FTS_E_REINIT_NO_CLASS, cp ? cp->span : init->span, init_key);
		return false;
	}
	if (!fts_node_is_str(cp)) {
		fts_diag(l->d, FTS_E_DIRECTIVE_TYPE, cp->span, "class_path",
			 "a dotted class path", fts_node_describe(l->a, cp));
		return false;
	}
	dir->class_path = cp->text;
	dir->class_span = cp->span;
	if (!strchr(cp->text, '.') || cp->text[0] == '.' || cp->text[strlen(cp->text) - 1] == '.') {
		fts_diag(l->d, FTS_E_CLASS_PATH, cp->span, fts_node_describe(l->a, cp));
		return false;
	}
	const struct fts_node *ia = fts_node_value(init, "init_args");
	if (ia && !fts_node_is_map(ia) && !(ia->kind == FTS_N_SCALAR && ia->py == FTS_PY_NONE)) {
		fts_diag(l->d, FTS_E_INIT_ARGS_TYPE, ia->span, fts_node_describe(l->a, ia));
		return false;
	}
	dir->init_args = fts_node_is_map(ia) ? ia : NULL;
	if (!optimizer && !get_key(init, "init_args")) {
		struct fts_diag *dg = fts_diag(l->d, FTS_E_LRS_NO_INIT_ARGS, init->span);
		fts_diag_help(l->d, dg, "add 'init_args: {}'");
	}
	dir->decl = fts_stdlib_find(l->lib, cp->text);
	if (!dir->decl) {
		if (strncmp(cp->text, "torch.", 6) == 0) {
			struct fts_diag *dg = fts_diag(l->d, FTS_E_CLASS_IMPORT, cp->span, cp->text);
			const char *near = fts_stdlib_suggest(l->lib, cp->text);
			if (near)
				fts_diag_help(l->d, dg, "did you mean '%s'?", near);
			return false;
		}
		fts_diag(l->d, FTS_W_CLASS_UNKNOWN, cp->span, cp->text);
		return true;
	}
	if ((dir->decl->kind == FTS_DECL_OPTIMIZER) != optimizer) {
		fts_diag(l->d, FTS_E_DIRECTIVE_TYPE, cp->span, "class_path",
			 optimizer ? "an optimizer class" : "an lr scheduler class",
			 fts_arena_printf(l->a, "'%s'", cp->text));
		dir->decl = NULL;
		return false;
	}
	return true;
}

/* A string (or a list holding one) where torch expects a callable. */
static const struct fts_node *string_lambda(const struct fts_node *v)
{
	if (v && v->kind == FTS_N_SCALAR && v->py == FTS_PY_STR)
		return v;
	for (size_t k = 0; v && v->kind == FTS_N_SEQ && k < v->nitems; k++)
		if (string_lambda(v->items[k]))
			return v->items[k];
	return NULL;
}

static void check_args(struct lower *l, struct fts_ir_directive *dir, bool optimizer)
{
	if (!dir->decl)
		return;
	struct argctx c = {l, dir->class_path, optimizer, false};
	struct fts_span where = dir->init_args ? dir->init_args->span : dir->class_span;
	fts_stdlib_check_args(l->lib, dir->decl, dir->init_args, where, arg_report, &c);
	/* FTS on torch calls lr_lambda: a string is not callable (libftsrt runs it) */
	for (size_t k = 0; !l->ir->settings.target_ftsrt && k < dir->decl->nargs; k++) {
		const struct fts_decl_arg *a = &dir->decl->args[k];
		const struct fts_node *v = a->type->kind == FTS_T_LAMBDA && dir->init_args
			? string_lambda(fts_node_value(dir->init_args, a->name)) : NULL;
		if (!v)
			continue;
		struct fts_diag *dg = fts_diag(l->d, FTS_E_LAMBDA_STRING, v->span, dir->class_path);
		fts_diag_note(l->d, dg, FTS_SPAN_NONE, "lambda expressions of 'epoch' (the ftsc language's, or "
			      "strings in YAML) run only under libftsrt: ftsc build, or check with --target=ftsrt");
	}
}

static struct fts_ir_directive *lower_optimizer(struct lower *l, const struct fts_node *n,
						const char *directive, int64_t phase)
{
	struct fts_ir_directive *dir = fts_arena_alloc(l->a, sizeof(*dir));
	dir->node = n;
	fts_node_check_keys(l->a, l->d, n, optimizer_keys, directive);
	if (!lower_class(l, dir, fts_node_value(n, "optimizer_init"), "optimizer_init", directive,
			 true, phase))
		return dir;
	if (dir->decl && fts_class_has(dir->decl, FTS_CLS_NO_REINIT)) {
		fts_diag(l->d, FTS_E_OPT_ZERO, dir->class_span, dir->class_path);
		return dir;
	}
	check_args(l, dir, true);
	return dir;
}

/*
 * pl_lrs_cfg, as Lightning builds the scheduler config.  initial: the
 * session's scheduler, configured by configure_optimizers, where Lightning
 * sets reduce_on_plateau from the class; otherwise a reinitialization,
 * where FTS does so only when pl_lrs_cfg is given (_update_pl_lrs) and
 * builds LRSchedulerConfig(scheduler=..., **pl_lrs_cfg).
 */
static void lower_pl_lrs_cfg(struct lower *l, struct fts_ir_directive *dir, bool plateau, bool initial)
{
	const struct fts_node *c = dir->pl_lrs_cfg;
	dir->epoch_interval = true;
	bool rop = plateau;
	bool rop_given = false;
	if (c && !fts_node_is_map(c)) {
		if (!(c->kind == FTS_N_SCALAR && c->py == FTS_PY_NONE))
			fts_diag(l->d, FTS_E_DIRECTIVE_TYPE, c->span, "pl_lrs_cfg", "a mapping",
				 fts_node_describe(l->a, c));
		c = NULL;
	}
	if (c) {
		for (size_t i = 0; i < c->npairs; i++) {
			const struct fts_node *k = c->pairs[i].key;
			bool known = false;
			for (const char *const *p = pl_lrs_fields; *p; p++)
				if (fts_node_is_str(k) && strcmp(k->text, *p) == 0)
					known = true;
			if (!known) {
				const char *kd = fts_node_is_str(k) ? k->text : fts_node_describe(l->a, k);
				struct fts_diag *dg = fts_diag(l->d, FTS_W_PL_LRS_KEY, k->span, kd);
				const char *near = fts_node_is_str(k) ? fts_closest(k->text, pl_lrs_fields)
								     : NULL;
				if (near)
					fts_diag_help(l->d, dg, "did you mean '%s'?", near);
			}
		}
		const struct fts_node *iv = fts_node_value(c, "interval");
		if (iv) {
			if (fts_node_is_str(iv) &&
			    (strcmp(iv->text, "step") == 0 || strcmp(iv->text, "epoch") == 0))
				dir->epoch_interval = strcmp(iv->text, "epoch") == 0;
			else
				fts_diag(l->d, FTS_E_INTERVAL, iv->span,
					 fts_node_is_str(iv) ? fts_arena_printf(l->a, "\"%s\"", iv->text)
						    : fts_node_describe(l->a, iv));
		}
		const struct fts_node *fq = fts_node_value(c, "frequency");
		if (fq && !(fq->kind == FTS_N_SCALAR && fq->py == FTS_PY_INT && !fq->i_big && fq->i > 0))
			fts_diag(l->d, FTS_E_PL_LRS_VALUE, fq->span,
				 fts_arena_printf(l->a, "pl_lrs_cfg frequency must be a positive integer, not %s",
						  fts_node_describe(l->a, fq)));
		const struct fts_node *mon = fts_node_value(c, "monitor");
		if (mon && !fts_node_falsy(mon)) {
			if (fts_node_is_str(mon))
				dir->monitor = mon->text;
			else
				fts_diag(l->d, FTS_E_PL_LRS_VALUE, mon->span,
					 fts_arena_printf(l->a, "pl_lrs_cfg monitor must be a metric name, not %s",
							  fts_node_describe(l->a, mon)));
		}
		const struct fts_node *nm = fts_node_value(c, "name");
		if (nm && !fts_node_is_str(nm) && !(nm->kind == FTS_N_SCALAR && nm->py == FTS_PY_NONE))
			fts_diag(l->d, FTS_E_PL_LRS_VALUE, nm->span,
				 fts_arena_printf(l->a, "pl_lrs_cfg name must be a string, not %s",
						  fts_node_describe(l->a, nm)));
		static const char *const bools[] = {"strict", "reduce_on_plateau", NULL};
		for (const char *const *b = bools; *b; b++) {
			const struct fts_node *v = fts_node_value(c, *b);
			if (v && !(v->kind == FTS_N_SCALAR && v->py == FTS_PY_BOOL))
				fts_diag(l->d, FTS_E_PL_LRS_VALUE, v->span,
					 fts_arena_printf(l->a, "pl_lrs_cfg %s must be true or false, not %s",
							  *b, fts_node_describe(l->a, v)));
		}
		const struct fts_node *rp = fts_node_value(c, "reduce_on_plateau");
		if (rp && rp->kind == FTS_N_SCALAR && rp->py == FTS_PY_BOOL) {
			rop = rp->b;
			rop_given = true;
		}
		const struct fts_node *sk = initial ? NULL : get_key(c, "scheduler");
		if (sk)
			fts_diag(l->d, FTS_E_PL_LRS_SCHEDULER, sk->span);
	}
	if (!dir->decl)
		return;
	if (!c && !initial && plateau) {
		struct fts_diag *dg = fts_diag(l->d, FTS_E_PLATEAU_NO_METRIC,
					       dir->node ? dir->node->span : dir->class_span,
					       "without pl_lrs_cfg, its config keeps reduce_on_plateau: false");
		fts_diag_help(l->d, dg, "add 'pl_lrs_cfg: {monitor: val_loss}' (or the metric to watch)");
		return;
	}
	if (plateau && !rop) {
		struct fts_diag *dg = fts_diag(l->d, FTS_E_PLATEAU_NO_METRIC, c ? get_key(c, "reduce_on_plateau")->span
					       : dir->class_span, "pl_lrs_cfg sets reduce_on_plateau: false");
		fts_diag_help(l->d, dg, "remove 'reduce_on_plateau' (it follows the class)");
		return;
	}
	if (rop && !plateau && rop_given)
		dir->metric_as_epoch = true;
	if (rop && !dir->monitor) {
		struct fts_diag *dg = fts_diag(l->d, FTS_E_RLROP_MONITOR,
					       c ? c->span : dir->class_span);
		fts_diag_help(l->d, dg, "add 'monitor: val_loss' (or the metric to watch) to pl_lrs_cfg");
	} else if (dir->metric_as_epoch) {
		fts_diag(l->d, FTS_W_METRIC_AS_EPOCH, get_key(c, "reduce_on_plateau")->span, dir->class_path);
	}
}

static struct fts_ir_directive *lower_lr_scheduler(struct lower *l, const struct fts_node *n,
						   const char *directive, int64_t phase,
						   bool implicit)
{
	struct fts_ir_directive *dir = fts_arena_alloc(l->a, sizeof(*dir));
	dir->node = n;
	fts_node_check_keys(l->a, l->d, n, implicit ? implicit_lrs_keys : lrs_keys, directive);
	bool usable = lower_class(l, dir, fts_node_value(n, "lr_scheduler_init"), "lr_scheduler_init",
				  directive, false, phase);
	dir->pl_lrs_cfg = fts_node_value(n, "pl_lrs_cfg");

	/* init_pg_lrs: V-R4 (implicit), V-R7 (float casts), V-R8 (warning) */
	const struct fts_node *pg = fts_node_value(n, "init_pg_lrs");
	if (pg && implicit) {
		fts_diag(l->d, FTS_E_REINIT_PG_LRS, get_key(n, "init_pg_lrs")->span);
	} else if (pg) {
		dir->init_pg_lrs = pg;
		if (pg->kind != FTS_N_SEQ) {
			fts_diag(l->d, FTS_E_DIRECTIVE_TYPE, pg->span, "init_pg_lrs",
				 "a list of learning rates", fts_node_describe(l->a, pg));
		} else if (pg->nitems == 0) {
			fts_diag(l->d, FTS_W_INIT_PG_LRS_EMPTY, pg->span);
		} else {
			dir->pg_lrs = fts_arena_alloc(l->a, pg->nitems * sizeof(double));
			dir->npg_lrs = pg->nitems;
			for (size_t i = 0; i < pg->nitems; i++) {
				const struct fts_node *e = pg->items[i];
				double v;
				if (!fts_node_pyfloat(e, &v)) {
					fts_diag(l->d, FTS_E_INIT_PG_LRS_CAST, e->span, fts_node_describe(l->a, e),
						 (long long)phase);
					continue;
				}
				dir->pg_lrs[i] = v;
				if (e->kind == FTS_N_SCALAR && (e->py == FTS_PY_STR || e->py == FTS_PY_BOOL)) {
					struct fts_diag *dg = fts_diag(l->d, FTS_W_YAML11_RAW, e->span,
								       e->text, e->text);
					if (e->py == FTS_PY_STR)
						fts_diag_help(l->d, dg, "write %s so that YAML 1.1 reads a float",
							      fts_arena_printf(l->a, "%.6e", v));
				} else if (!isfinite(v) || v < 0) {
					fts_diag(l->d, FTS_E_LR_VALUE, e->span, fts_node_describe(l->a, e),
						 (long long)phase, isnan(v) ? "not a number"
						 : !isfinite(v) ? "infinite" : "negative");
				}
			}
		}
	}
	const struct fts_node *uc = fts_node_value(n, "use_current_optimizer_pg_lrs");
	if (uc) {
		if (uc->kind == FTS_N_SCALAR && uc->py == FTS_PY_BOOL)
			dir->use_current = uc->b;
		else if (!(uc->kind == FTS_N_SCALAR && uc->py == FTS_PY_NONE))
			fts_diag(l->d, FTS_E_DIRECTIVE_TYPE, uc->span, "use_current_optimizer_pg_lrs",
				 "true or false", fts_node_describe(l->a, uc));
		if (dir->use_current && !pg)
			fts_diag(l->d, FTS_R_USE_CURRENT, uc->span);
	}
	bool plateau = dir->decl && fts_class_has(dir->decl, FTS_CLS_PLATEAU);
	if (usable && dir->decl) {
		if (!fts_class_has(dir->decl, FTS_CLS_FTS_SUPPORTED)) {
			struct fts_diag *dg = fts_diag(l->d, FTS_E_LRS_UNSUPPORTED, dir->class_span,
						       dir->class_path);
			if (l->ir->settings.allow_untested)
				fts_diag_note(l->d, dg, FTS_SPAN_NONE,
					      "allow_untested does not make it usable in a reinitialization directive");
			fts_diag_help(l->d, dg, "FTS supports LambdaLR, MultiplicativeLR, StepLR, MultiStepLR, "
				      "ExponentialLR, CosineAnnealingLR, ReduceLROnPlateau, "
				      "CosineAnnealingWarmRestarts, ConstantLR and LinearLR");
		} else {
			/* V-R11: an 'optimizer' init arg is dropped with a warning */
			const struct fts_node *ia = dir->init_args;
			const struct fts_node *opt_key = ia ? get_key(ia, "optimizer") : NULL;
			if (opt_key) {
				fts_diag(l->d, FTS_W_LRS_OPTIMIZER_ARG, opt_key->span);
				struct fts_node *copy = fts_arena_alloc(l->a, sizeof(*copy));
				*copy = *ia;
				copy->pairs = fts_arena_alloc(l->a, ia->npairs * sizeof(*copy->pairs));
				copy->npairs = 0;
				for (size_t i = 0; i < ia->npairs; i++)
					if (ia->pairs[i].key != opt_key)
						copy->pairs[copy->npairs++] = ia->pairs[i];
				dir->init_args = copy;
			}
			/* V-R12: implicit ReduceLROnPlateau with a min_lr list */
			const struct fts_node *ml = fts_node_value(dir->init_args, "min_lr");
			if (implicit && plateau && ml && ml->kind == FTS_N_SEQ)
				fts_diag(l->d, FTS_E_RLROP_MINLR_LIST, ml->span);
			else
				check_args(l, dir, false);
		}
	}
	lower_pl_lrs_cfg(l, dir, plateau, false);
	return dir;
}

/* --- parameters ------------------------------------------------------------------ */

/* A pattern made of name characters and dots only (the dots being the
 * only regex syntax in it), such as 'model.layer.1'. */
static bool dotted_literal(const char *s)
{
	for (; *s; s++)
		if (!(isalnum((unsigned char)*s) || *s == '_' || *s == '.' || *s == '-'))
			return false;
	return true;
}

/* 'model.1' -> 'model\.1' */
static const char *escape_dots(struct lower *l, const char *s)
{
	size_t n = strlen(s), dots = 0;
	for (size_t i = 0; i < n; i++)
		dots += s[i] == '.';
	char *o = fts_arena_alloc(l->a, n + dots + 1), *q = o;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '.')
			*q++ = '\\';
		*q++ = s[i];
	}
	*q = '\0';
	return o;
}

static struct preres *find_pre(struct lower *l, const struct fts_node *n)
{
	for (size_t k = 0; k < l->npre; k++) {
		size_t i = (l->pre_next + k) % l->npre;
		if (l->pre[i].node == n) {
			l->pre_next = i + 1;
			return &l->pre[i];
		}
	}
	FTS_BUG("parameter entry was not resolved ahead");
}

struct resolve_job {
	struct lower *l;
	const uint32_t *order;          /* the entries, costliest first */
	size_t next;                    /* shared work counter */
};

static void *resolve_worker(void *arg)
{
	struct resolve_job *job = arg;
	struct lower *l = job->l;
	for (;;) {
		size_t k = __atomic_fetch_add(&job->next, 1, __ATOMIC_RELAXED);
		if (k >= l->npre)
			return NULL;
		struct preres *pr = &l->pre[job->order[k]];
		const struct fts_node *n = pr->node;
		pr->exact = fts_names_find(l->names, n->text, n->len);
		if (pr->exact >= 0)
			continue;
		pr->re = fts_pyre_compile(n->text, n->len, pr->err, sizeof(pr->err), &pr->erroff);
		pr->mt.no_end = true;   /* the over-matches are counted for us */
		if (pr->re) {
			fts_names_match(l->names, pr->re, &pr->mt);
			fts_matches_shrink(&pr->mt);
		}
	}
}

/*
 * Resolve every string entry of every phase before lowering, on two
 * threads when there is enough work: entries are independent, and this
 * is the expensive part for 500k-parameter manifests.  The lowering pass
 * then reports in schedule order from the stored results.
 */
static void resolve_all(struct lower *l, const struct fts_node *root)
{
	size_t cnt = 0;
	for (size_t i = 0; i < root->npairs; i++) {
		const struct fts_node *ph = root->pairs[i].value;
		const struct fts_node *ps = fts_node_value(ph, "params");
		if (ps && ps->kind == FTS_N_SEQ)
			cnt += ps->nitems;
	}
	l->pre = fts_xcalloc(cnt ? cnt : 1, sizeof(*l->pre));
	for (size_t i = 0; i < root->npairs; i++) {
		const struct fts_node *ph = root->pairs[i].value;
		const struct fts_node *ps = fts_node_value(ph, "params");
		if (!ps || ps->kind != FTS_N_SEQ)
			continue;
		for (size_t j = 0; j < ps->nitems; j++)
			if (fts_node_is_str(ps->items[j]))
				l->pre[l->npre++].node = ps->items[j];
	}
	/* `.*` patterns read the whole manifest text: taken first, they do
	 * not leave one thread alone with a long one at the end */
	uint32_t *order = fts_xmalloc((l->npre ? l->npre : 1) * sizeof(*order));
	size_t no = 0;
	for (int pass = 0; pass < 2; pass++)
		for (size_t k = 0; k < l->npre; k++) {
			const struct fts_node *n = l->pre[k].node;
			bool scan = n->len >= 2 && n->text[0] == '.' && n->text[1] == '*';
			if (scan == (pass == 0))
				order[no++] = (uint32_t)k;
		}
	struct resolve_job job = {l, order, 0};
	pthread_t th;
	bool threaded = l->npre >= 8 && fts_names_count(l->names) >= 100000 &&
			pthread_create(&th, NULL, resolve_worker, &job) == 0;
	resolve_worker(&job);
	if (threaded)
		pthread_join(th, NULL);
	free(order);
}

static void free_pre(struct lower *l)
{
	for (size_t k = 0; k < l->npre; k++) {
		fts_pyre_free(l->pre[k].re);
		fts_matches_free(&l->pre[k].mt);
	}
	free(l->pre);
	l->pre = NULL;
	l->npre = 0;
}

struct param_vec {
	struct fts_ir_param *v;
	size_t n, cap;
};

static void resolve_entry(struct lower *l, struct fts_ir_phase *ph, uint32_t ei,
			  struct param_vec *out)
{
	struct fts_ir_entry *en = &ph->entries[ei];
	const struct fts_node *n = en->node;
	if (n->kind != FTS_N_SCALAR || n->py == FTS_PY_NONE) {
		fts_diag(l->d, FTS_E_PARAM_ENTRY_TYPE, n->span, fts_node_describe(l->a, n));
		return;
	}
	if (n->py != FTS_PY_STR) {
		struct fts_diag *dg = fts_diag(l->d, FTS_E_PARAM_ENTRY_TYPE, n->span,
					       fts_node_describe(l->a, n));
		fts_diag_help(l->d, dg, "FTS would use str(%s) as a regular expression; quote it if that is meant",
			      n->text);
		return;
	}
	en->text = n->text;
	struct preres *pr = find_pre(l, n);
	long exact = pr->exact;
	if (exact >= 0) {
		en->exact = true;
		en->nmatched = 1;
		struct fts_ir_param p = {fts_sched(l->m, exact), ei};
		FTS_VEC_PUSH(*out, p);
		return;
	}
	struct fts_pyre *re = pr->re;
	if (!re) {
		/* point at the offending character when the scalar is plain text */
		struct fts_span sp = n->span;
		size_t erroff = pr->erroff;
		if (!n->quoted && sp.end - sp.start == n->len && erroff <= n->len) {
			sp.start += (uint32_t)erroff;
			sp.end = sp.start + (erroff < n->len ? 1 : 0);
		}
		fts_diag(l->d, FTS_E_PARAM_REGEX, sp, n->text, pr->err);
		return;
	}
	struct fts_matches mt = pr->mt;
	if (mt.limit) {
		/* no verdict: neither "matches" nor "matches nothing" may be claimed */
		const struct fts_mparam *mp = &l->m->p[fts_sched(l->m, mt.limit_idx)];
		struct fts_diag *dg = fts_diag(l->d, FTS_E_REGEX_LIMIT, n->span, n->text,
					       fts_mp_cname(l->a, l->m, mp));
		if (mt.nlimit > 1)
			fts_diag_note(l->d, dg, FTS_SPAN_NONE, "and on %zu more parameter names", mt.nlimit - 1);
		fts_diag_help(l->d, dg, "avoid nested repetition such as '(a*)*' or '(x+)+y'; Python's re "
			      "backtracks through it too, possibly for a very long time");
		return;
	}
	size_t cnt = mt.n;
	en->nmatched = (uint32_t)cnt;
	/* the resolver counted the over-matches (names it read anyway) */
	size_t over = mt.nover;
	uint32_t first_over = over ? fts_sched(l->m, mt.first_over) : 0;
	if (out->n + cnt > out->cap) {
		out->cap = out->n + cnt > 2 * out->cap ? out->n + cnt : 2 * out->cap;
		out->v = fts_xrealloc(out->v, out->cap * sizeof(*out->v));
	}
	for (size_t i = 0; i < cnt; i++)
		out->v[out->n++] = (struct fts_ir_param){fts_sched(l->m, mt.idx[i]), ei};
	/* each result is read once: give its memory back now (500k matches
	 * would otherwise stay beside the phases' parameter lists) */
	fts_matches_free(&pr->mt);
	if (over) {
		struct fts_diag *dg = fts_diag(l->d, FTS_W_REGEX_OVERMATCH, n->span, n->text,
					       fts_mp_cname(l->a, l->m, &l->m->p[first_over]));
		if (over > 1)
			fts_diag_note(l->d, dg, FTS_SPAN_NONE, "and %zu more name%s beyond a segment boundary",
				      over - 1, over == 2 ? "" : "s");
		if (dotted_literal(n->text))
			fts_diag_help(l->d, dg, "FTS matches patterns as prefixes; to select '%s' alone, "
				      "write '%s\\.'", n->text, escape_dots(l, n->text));
		else
			fts_diag_help(l->d, dg, "FTS matches patterns as prefixes; end the pattern at a "
				      "segment boundary ('\\.')");
	}
	size_t qlen = 0;
	long q = fts_pyre_find_quantified_dot(n->text, n->len, &qlen);
	if (q >= 0) {
		struct fts_span sp = n->span;
		if (!n->quoted && sp.end - sp.start == n->len) {
			sp.start += (uint32_t)q;
			sp.end = sp.start + (uint32_t)qlen;
		}
		fts_diag(l->d, FTS_W_REGEX_QDOT, sp,
			 fts_arena_strndup(l->a, n->text + q, qlen), n->text);
	}
	if (cnt)
		return;
	/* V-P4: a tied alias is pruned with a warning; the source name is noted
	 * by check.c once every phase is resolved. */
	for (uint32_t i = 0; i < l->m->n; i++) {
		const struct fts_mparam *mp = &l->m->p[i];
		if (mp->tied_to >= 0 && mp->len == n->len && memcmp(fts_mp_name(l->m, mp), n->text, n->len) == 0) {
			en->nmatched = 0;
			en->exact = true;
			fts_diag(l->d, FTS_W_PARAM_TIED, n->span, n->text,
				 fts_mp_cname(l->a, l->m, &l->m->p[mp->tied_to]));
			return;
		}
	}
	struct fts_diag *dg = fts_diag(l->d, FTS_E_PARAM_NOMATCH, n->span, n->text,
				       (long long)ph->index);
	uint32_t sug[3];
	size_t ns = fts_names_suggest(l->names, n->text, n->len, sug, 3);
	for (size_t i = 0; i < ns; i++)
		fts_diag_help(l->d, dg, "did you mean '%.*s'?", (int)l->m->p[fts_sched(l->m, sug[i])].len,
			      fts_mp_name(l->m, &l->m->p[fts_sched(l->m, sug[i])]));
}

static void lower_params(struct lower *l, struct fts_ir_phase *ph, const struct fts_node *params)
{
	if (!params)
		return;
	if (params->kind != FTS_N_SEQ) {
		struct fts_diag *dg = fts_diag(l->d, FTS_E_PARAMS_TYPE, params->span,
					       fts_node_describe(l->a, params));
		if (fts_node_is_str(params))
			fts_diag_help(l->d, dg, "FTS would iterate the string character by character; "
				      "write a list: params: [%s]", params->text);
		return;
	}
	ph->nentries = (uint32_t)params->nitems;
	ph->entries = fts_arena_alloc(l->a, params->nitems * sizeof(*ph->entries));
	struct param_vec out = {0};
	for (size_t i = 0; i < params->nitems; i++) {
		ph->entries[i].node = params->items[i];
		resolve_entry(l, ph, (uint32_t)i, &out);
	}
	ph->nparams = (uint32_t)out.n;
	ph->params = fts_arena_alloc(l->a, out.n * sizeof(*ph->params));
	if (out.n)
		memcpy(ph->params, out.v, out.n * sizeof(*ph->params));
	FTS_VEC_FREE(out);
}

/* --- phases ----------------------------------------------------------------------- */

/* FTSC096: an epoch PyYAML reads as octal, base 60 or binary. */
static void yaml11_int_warning(struct lower *l, const struct fts_node *n)
{
	const char *t = n->text;
	size_t len = n->len, i = 0;
	if (!t || n->quoted)
		return;
	if (i < len && (t[i] == '-' || t[i] == '+'))
		i++;
	const char *how = NULL;
	if (memchr(t, ':', len))
		how = "a base-60 number";
	else if (len - i >= 2 && t[i] == '0' && (t[i + 1] == 'b' || t[i + 1] == 'B'))
		how = "a binary number";
	else if (len - i >= 2 && t[i] == '0' && t[i + 1] >= '0' && t[i + 1] <= '9')
		how = "an octal number";
	if (how)
		fts_diag(l->d, FTS_W_YAML11_INT, n->span, fts_arena_printf(l->a, "%.*s", (int)len, t), how,
			 (long long)n->i);
}

static const char *const phase_keys[] = {"params", "max_transition_epoch", "lr",
					 "new_optimizer", "new_lr_scheduler", NULL};

static void lower_phase(struct lower *l, struct fts_ir_phase *ph)
{
	const struct fts_node *n = ph->node;
	struct fts_settings *s = &l->ir->settings;
	char where[64];
	snprintf(where, sizeof(where), "phase %lld", (long long)ph->index);
	fts_node_check_keys(l->a, l->d, n, phase_keys, fts_arena_strdup(l->a, where));

	/* V-P0: max_transition_epoch defaults to -1 */
	ph->mte = -1;
	const struct fts_node *mte = fts_node_value(n, "max_transition_epoch");
	if (mte) {
		ph->mte_node = mte;
		if (mte->kind == FTS_N_SCALAR && mte->py == FTS_PY_INT && !mte->i_big) {
			ph->mte = mte->i;
			yaml11_int_warning(l, mte);
		}
		else if (mte->kind == FTS_N_SCALAR && mte->py == FTS_PY_FLOAT && isfinite(mte->f))
			ph->mte = (int64_t)ceil(mte->f);
		else
			fts_diag(l->d, FTS_E_MTE_TYPE, mte->span, fts_node_describe(l->a, mte));
	}

	/* V-P1 / V-P2: the phase lr */
	const struct fts_node *lr = fts_node_value(n, "lr");
	ph->lr = s->base_max_lr;
	ph->lr_node = lr;
	if (ph->index == 0) {
		if (lr && !fts_node_falsy(lr))
			fts_diag(l->d, FTS_W_LR_PHASE0, get_key(n, "lr")->span);
	} else if (lr) {
		double v;
		if (!pyfloat(l, lr, &v)) {
			fts_diag(l->d, FTS_E_LR_CAST, lr->span, fts_node_describe(l->a, lr),
				 (long long)ph->index);
		} else {
			ph->lr = v;
			if (isnan(v) || isinf(v) || v < 0)
				fts_diag(l->d, FTS_E_LR_VALUE, lr->span, fts_node_describe(l->a, lr),
					 (long long)ph->index,
					 isnan(v) ? "not a number" : isinf(v) ? "infinite" : "negative");
		}
	}

	/* V-R1 and the directives */
	static const char *const dkeys[] = {"new_optimizer", "new_lr_scheduler"};
	for (int k = 0; k < 2; k++) {
		const struct fts_node *dn = fts_node_value(n, dkeys[k]);
		if (!dn)
			continue;
		const struct fts_node *key = get_key(n, dkeys[k]);
		if (fts_node_falsy(dn)) {
			fts_diag(l->d, FTS_W_EMPTY_DIRECTIVE, key->span, dkeys[k]);
			continue;
		}
		if (ph->index == 0) {
			fts_diag(l->d, FTS_E_REINIT_PHASE0, key->span, dkeys[k]);
			continue;
		}
		if (!fts_node_is_map(dn)) {
			fts_diag(l->d, FTS_E_DIRECTIVE_TYPE, dn->span, dkeys[k], "a mapping",
				 fts_node_describe(l->a, dn));
			continue;
		}
		if (k == 0) {
			if (l->ir->settings.reinit_optim_cfg) {
				/* F19: shadowed by reinit_optim_cfg, neither validated nor used */
				fts_diag(l->d, FTS_W_SHADOWED_DIRECTIVE, key->span, (long long)ph->index);
				continue;
			}
			ph->new_optimizer = lower_optimizer(l, dn, "new_optimizer", ph->index);
		} else {
			ph->new_lr_scheduler = lower_lr_scheduler(l, dn, "new_lr_scheduler",
								  ph->index, false);
		}
	}

	const struct fts_node *params = fts_node_value(n, "params");
	if (params && params->kind == FTS_N_SCALAR && params->py == FTS_PY_NONE) {
		fts_diag(l->d, FTS_E_PARAMS_TYPE, params->span, "null");
		params = NULL;
	}
	lower_params(l, ph, params);
}

/* --- phase keys (V-K1..K3) ------------------------------------------------------------ */

static bool ambiguous_int_text(const struct fts_node *k)
{
	if (k->kind != FTS_N_SCALAR || k->quoted || k->py != FTS_PY_INT)
		return false;
	const char *t = k->text;
	if (*t == '+' || *t == '-')
		t++;
	if (t[0] == '0' && t[1])
		return true;            /* octal, hex, binary */
	return strchr(t, '_') || strchr(t, ':');
}

static int cmp_phase(const void *a, const void *b)
{
	const struct fts_ir_phase *x = a, *y = b;
	return x->index < y->index ? -1 : x->index > y->index;
}

struct fts_ir *fts_lower_schedule(struct fts_arena *a, struct fts_diags *d,
				  const struct fts_node *root,
				  const struct fts_manifest *m, const struct fts_names *names,
				  const struct fts_stdlib *lib, const struct fts_settings *s,
				  struct fts_span root_span)
{
	struct fts_ir *ir = fts_arena_alloc(a, sizeof(*ir));
	ir->arena = a;
	ir->manifest = m;
	ir->stdlib = lib;
	ir->settings = *s;
	ir->root = root;
	struct lower l = {ir, d, a, m, names, lib, NULL, 0, 0};

	/* implicit-style directives given as run settings */
	if (s->reinit_lr_cfg && !fts_node_falsy(s->reinit_lr_cfg)) {
		if (root && !s->implicit_mode)
			fts_diag(d, FTS_E_BOTH_SCHEDULE_REINIT_LR, s->reinit_lr_cfg->span);
		if (fts_node_is_map(s->reinit_lr_cfg))
			ir->reinit_lr = lower_lr_scheduler(&l, s->reinit_lr_cfg, "reinit_lr_cfg", 1, true);
		else
			fts_diag(d, FTS_E_DIRECTIVE_TYPE, s->reinit_lr_cfg->span, "reinit_lr_cfg",
				 "a mapping", fts_node_describe(a, s->reinit_lr_cfg));
	}
	if (s->reinit_optim_cfg && !fts_node_falsy(s->reinit_optim_cfg)) {
		if (fts_node_is_map(s->reinit_optim_cfg))
			ir->reinit_optim = lower_optimizer(&l, s->reinit_optim_cfg, "reinit_optim_cfg", 1);
		else
			fts_diag(d, FTS_E_DIRECTIVE_TYPE, s->reinit_optim_cfg->span, "reinit_optim_cfg",
				 "a mapping", fts_node_describe(a, s->reinit_optim_cfg));
	}
	if (s->max_depth < -1)
		fts_diag(d, FTS_E_MAX_DEPTH, FTS_SPAN_NONE, (long long)s->max_depth);

	if (!root) {
		fts_diag(d, FTS_E_EMPTY, root_span);
		return ir;
	}
	if (!fts_node_is_map(root)) {
		fts_diag(d, FTS_E_TOP_NOT_MAP, root->span, fts_node_describe(a, root));
		return ir;
	}
	if (root->npairs == 0) {
		struct fts_diag *dg = fts_diag(d, FTS_E_EMPTY, root->span);
		fts_diag_note(d, dg, FTS_SPAN_NONE,
			      "FTS treats an empty schedule as no schedule and silently switches to implicit mode");
		return ir;
	}

	/* V-K1/K2: int() of every key; collisions; negative keys */
	ir->phases = fts_arena_alloc(a, root->npairs * sizeof(*ir->phases));
	bool keys_ok = true;
	int64_t prev_index = INT64_MIN;
	bool order_warned = false;
	for (size_t i = 0; i < root->npairs; i++) {
		const struct fts_node *k = root->pairs[i].key;
		int64_t v;
		bool big = false;
		if (fts_node_pyint(k, &v, &big) != 0) {
			struct fts_diag *dg = fts_diag(d, FTS_E_KEY_NOT_INT, k->span,
						       fts_node_describe(a, k));
			fts_diag_help(d, dg, "phase keys are the integers 0, 1, 2, ...");
			keys_ok = false;
			continue;
		}
		if (big || v > 1000000 || v < -1000000) {
			fts_diag(d, FTS_E_KEY_NONCONTIG, k->span, (size_t)root->npairs - 1,
				 (long long)(root->npairs - 1));
			keys_ok = false;
			continue;
		}
		bool is_int_obj = k->kind == FTS_N_SCALAR &&
			(k->py == FTS_PY_INT || k->py == FTS_PY_BOOL ||
			 (k->py == FTS_PY_FLOAT && k->f == (double)v));
		if (!is_int_obj)
			fts_diag(d, FTS_W_KEY_CONVERTED, k->span, fts_node_describe(a, k), (long long)v);
		else if (ambiguous_int_text(k))
			fts_diag(d, FTS_W_KEY_AMBIGUOUS, k->span, k->text, (long long)v);
		if (v < 0) {
			fts_diag(d, FTS_E_KEY_NEGATIVE, k->span, (long long)v);
			keys_ok = false;
			continue;
		}
		bool dup = false;
		for (uint32_t j = 0; j < ir->nphases; j++)
			if (ir->phases[j].index == v) {
				struct fts_diag *dg = fts_diag(d, FTS_E_KEY_COLLISION, k->span,
							       fts_node_describe(a, k), (long long)v);
				fts_diag_note(d, dg, ir->phases[j].key->span, "phase %lld is defined here",
					      (long long)v);
				dup = true;
				keys_ok = false;
			}
		if (dup)
			continue;
		if (v < prev_index && !order_warned) {
			fts_diag(d, FTS_W_KEY_ORDER, k->span, (long long)v, (long long)prev_index);
			order_warned = true;
		}
		if (v > prev_index)
			prev_index = v;
		struct fts_ir_phase *ph = &ir->phases[ir->nphases++];
		ph->index = v;
		ph->key = k;
		ph->node = root->pairs[i].value;
	}
	qsort(ir->phases, ir->nphases, sizeof(*ir->phases), cmp_phase);
	/* V-K3: exactly 0..n-1 */
	size_t nkeys = root->npairs;
	for (uint32_t i = 0; i < ir->nphases; i++) {
		if (ir->phases[i].index != (int64_t)i) {
			if (keys_ok)
				fts_diag(d, FTS_E_KEY_NONCONTIG, ir->phases[i].key->span, nkeys - 1,
					 (long long)i);
			keys_ok = false;
			break;
		}
	}
	ir->keys_ok = keys_ok;

	resolve_all(&l, root);
	for (uint32_t i = 0; i < ir->nphases; i++) {
		struct fts_ir_phase *ph = &ir->phases[i];
		if (!fts_node_is_map(ph->node)) {
			fts_diag(d, FTS_E_PHASE_NOT_MAP, ph->node->span, (long long)ph->index,
				 fts_node_describe(a, ph->node));
			ph->node = NULL;
			ph->mte = -1;
			ph->lr = s->base_max_lr;
			continue;
		}
		lower_phase(&l, ph);
	}
	free_pre(&l);
	int64_t last = (int64_t)ir->nphases - 1;
	ir->max_depth = s->max_depth < 0 ? last : s->max_depth < last ? s->max_depth : last;
	if (s->max_depth < -1)
		ir->max_depth = s->max_depth;
	return ir;
}

/* --- the training session's own optimizer and scheduler --------------------------- */

struct fts_ir_directive *fts_lower_initial_optimizer(struct fts_ir *ir, struct fts_diags *d,
						     const struct fts_node *optimizer_init)
{
	struct lower l = {ir, d, ir->arena, ir->manifest, NULL, ir->stdlib, NULL, 0, 0};
	struct fts_ir_directive *dir = fts_arena_alloc(ir->arena, sizeof(*dir));
	dir->node = optimizer_init;
	if (lower_class(&l, dir, optimizer_init, "optimizer_init", "optimizer_init", true, 0))
		check_args(&l, dir, true);
	return dir;
}

struct fts_ir_directive *fts_lower_initial_scheduler(struct fts_ir *ir, struct fts_diags *d,
						     const struct fts_node *lr_scheduler_init,
						     const struct fts_node *pl_lrs_cfg, bool check_supported)
{
	struct lower l = {ir, d, ir->arena, ir->manifest, NULL, ir->stdlib, NULL, 0, 0};
	struct fts_ir_directive *dir = fts_arena_alloc(ir->arena, sizeof(*dir));
	dir->node = lr_scheduler_init;
	dir->pl_lrs_cfg = pl_lrs_cfg;
	bool usable = lower_class(&l, dir, lr_scheduler_init, "lr_scheduler_init", "lr_scheduler_init",
				  false, 0);
	if (usable && dir->decl) {
		/* V-F3: the session's own scheduler must be one FTS supports */
		if (check_supported && !fts_class_has(dir->decl, FTS_CLS_FTS_SUPPORTED)) {
			if (ir->settings.allow_untested)
				fts_diag(d, FTS_W_INITIAL_LRS, dir->class_span, dir->class_path);
			else
				fts_diag(d, FTS_E_INITIAL_LRS, dir->class_span, dir->class_path);
		}
		check_args(&l, dir, false);
	}
	lower_pl_lrs_cfg(&l, dir, dir->decl && fts_class_has(dir->decl, FTS_CLS_PLATEAU), true);
	return dir;
}
