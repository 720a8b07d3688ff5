/*
 * config.c - LightningCLI config loading and the callback rules FTS applies
 * at setup (see config.h).
 *
 * The configs are merged first (jsonargparse's rules), then read section by
 * section: model (initial optimizer/scheduler), trainer (max_epochs,
 * strategy, callbacks), the FinetuningScheduler callback's init_args, and
 * the dependency callbacks as FTS resolves them in _configure_callback_deps.
 * FTS stops at the first error; ftsc reports every problem it finds.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fts_stdlib.h"
#include "util.h"
#include "yaml_front.h"

struct cfg {
	struct fts_arena *a;
	struct fts_diags *d;
	const struct fts_stdlib *lib;
	const char *const *paths;
	size_t npaths;
	struct fts_settings *s;
	struct fts_config *out;
};

/* --- small node helpers ------------------------------------------------------ */

static bool is_null(const struct fts_node *n)
{
	return !n || (n->kind == FTS_N_SCALAR && n->py == FTS_PY_NONE);
}

/* The class_path string of a {class_path, init_args} mapping, or NULL. */
static const char *class_path_of(const struct fts_node *n)
{
	const struct fts_node *cp = fts_node_value(n, "class_path");
	return fts_node_is_str(cp) ? cp->text : NULL;
}

/* The last dotted component of a class path. */
static const char *class_name(const char *path)
{
	const char *dot = strrchr(path, '.');
	return dot ? dot + 1 : path;
}

static void type_error(struct cfg *c, const struct fts_node *n, struct fts_span where,
		       const char *what, const char *want)
{
	struct fts_span sp = n ? n->span : where;
	fts_diag(c->d, FTS_E_CONFIG, sp,
		 fts_arena_printf(c->a, "%s must be %s, not %s", what, want,
				  fts_node_describe(c->a, n)));
}

/* Whether n is a null that a nullable argument takes (*isnull, when not
 * NULL, says the same). */
static bool takes_null(const struct fts_node *n, bool nullable, bool *isnull)
{
	bool yes = nullable && is_null(n);
	if (isnull)
		*isnull = yes;
	return yes;
}

/* The value of an int argument.  Python's bool is refused (jsonargparse
 * does not take true for an int).  Returns true and sets *out when given
 * and valid; null is accepted only when nullable (then *isnull is set). */
static bool want_int(struct cfg *c, const struct fts_node *n, const char *what, bool nullable,
		     int64_t *out, bool *isnull)
{
	if (takes_null(n, nullable, isnull))
		return false;
	if (n && n->kind == FTS_N_SCALAR && n->py == FTS_PY_INT && !n->i_big) {
		*out = n->i;
		return true;
	}
	type_error(c, n, FTS_SPAN_NONE, what, nullable ? "an int or null" : "an int");
	return false;
}

static bool want_bool(struct cfg *c, const struct fts_node *n, const char *what, bool *out)
{
	if (n && n->kind == FTS_N_SCALAR && n->py == FTS_PY_BOOL) {
		*out = n->b;
		return true;
	}
	type_error(c, n, FTS_SPAN_NONE, what, "true or false");
	return false;
}

/* A float argument.  jsonargparse's YAML loader reads 1e-5 as a float
 * (unlike PyYAML), so ftsc's own numeric reading applies. */
static bool want_float(struct cfg *c, const struct fts_node *n, const char *what, bool nullable,
		       double *out, bool *isnull)
{
	if (takes_null(n, nullable, isnull))
		return false;
	bool fts_string = false;
	if (n && n->kind == FTS_N_SCALAR && !n->quoted && n->py != FTS_PY_BOOL &&
	    n->py != FTS_PY_NONE && fts_node_number(n, out, &fts_string))
		return true;
	type_error(c, n, FTS_SPAN_NONE, what, nullable ? "a number or null" : "a number");
	return false;
}

static bool want_str(struct cfg *c, const struct fts_node *n, const char *what, bool nullable,
		     const char **out)
{
	if (is_null(n) && nullable) {
		*out = NULL;
		return false;
	}
	if (fts_node_is_str(n)) {
		*out = n->text;
		return true;
	}
	type_error(c, n, FTS_SPAN_NONE, what, nullable ? "a string or null" : "a string");
	return false;
}

/* --- merging ------------------------------------------------------------------- */

static struct fts_node *new_map(struct fts_arena *a, const struct fts_node *like, size_t cap)
{
	struct fts_node *m = fts_arena_alloc(a, sizeof(*m));
	m->kind = FTS_N_MAP;
	m->span = like->span;
	m->tag = like->tag;
	m->weight = 1;
	m->pairs = cap ? fts_arena_alloc(a, cap * sizeof(*m->pairs)) : NULL;
	return m;
}

/* A copy of a string key node with its text cut to len bytes (`callbacks+`). */
static struct fts_node *cut_key(struct fts_arena *a, const struct fts_node *k, size_t len)
{
	struct fts_node *n = fts_arena_alloc(a, sizeof(*n));
	*n = *k;
	n->text = fts_arena_strndup(a, k->text, len);
	n->len = len;
	return n;
}

static bool same_class(const char *x, const char *y)
{
	if (!strcmp(x, y))
		return true;
	/* a short name and a full import path of the same class */
	return (!strchr(x, '.') || !strchr(y, '.')) && !strcmp(class_name(x), class_name(y));
}

static void weigh(struct fts_node *m)
{
	uint64_t w = 1;
	for (size_t i = 0; i < m->npairs; i++) {
		uint64_t kw = m->pairs[i].key ? m->pairs[i].key->weight : 0;
		uint64_t vw = m->pairs[i].value ? m->pairs[i].value->weight : 0;
		w = w + kw + vw < w ? UINT64_MAX : w + kw + vw;
	}
	m->weight = w;
}

/* `base` (a list, a mapping, or absent) with the items of `add` appended. */
static struct fts_node *append_list(struct fts_arena *a, const struct fts_node *base,
				    const struct fts_node *add)
{
	size_t nb = base ? (base->kind == FTS_N_SEQ ? base->nitems : 1) : 0;
	size_t na = add->kind == FTS_N_SEQ ? add->nitems : 1;
	struct fts_node *s = fts_arena_alloc(a, sizeof(*s));
	s->kind = FTS_N_SEQ;
	s->span = add->span;
	s->weight = 1;
	s->items = fts_arena_alloc(a, (nb + na + 1) * sizeof(*s->items));
	for (size_t i = 0; i < nb; i++)
		s->items[s->nitems++] = base->kind == FTS_N_SEQ ? base->items[i]
			: (struct fts_node *)base;
	for (size_t i = 0; i < na; i++)
		s->items[s->nitems++] = add->kind == FTS_N_SEQ ? add->items[i]
			: (struct fts_node *)add;
	for (size_t i = 0; i < s->nitems; i++)
		s->weight += s->items[i]->weight;
	return s;
}

const struct fts_node *fts_config_merge(struct fts_arena *a, const struct fts_node *base,
					const struct fts_node *over)
{
	if (!over)
		return base;
	if (!fts_node_is_map(base) || !fts_node_is_map(over))
		return over;
	const char *bc = class_path_of(base), *oc = class_path_of(over);
	if (bc && oc && !same_class(bc, oc))
		return over;            /* another class: its init_args start afresh */
	struct fts_node *m = new_map(a, over, base->npairs + over->npairs);
	for (size_t i = 0; i < base->npairs; i++)
		m->pairs[m->npairs++] = base->pairs[i];
	for (size_t i = 0; i < over->npairs; i++) {
		struct fts_pair op = over->pairs[i];
		const struct fts_node *k = op.key;
		bool append = false;
		size_t klen = fts_node_is_str(k) ? k->len : 0;
		if (klen > 1 && k->text[klen - 1] == '+' && op.value &&
		    (op.value->kind == FTS_N_SEQ || op.value->kind == FTS_N_MAP)) {
			append = true;
			klen--;
		}
		struct fts_pair *hit = NULL;
		if (fts_node_is_str(k))
			for (size_t j = 0; j < m->npairs; j++) {
				const struct fts_node *bk = m->pairs[j].key;
				if (fts_node_is_str(bk) && bk->len == klen &&
				    !memcmp(bk->text, k->text, klen))
					hit = &m->pairs[j];
			}
		if (append) {
			struct fts_node *key = cut_key(a, k, klen);
			const struct fts_node *prev = hit && !is_null(hit->value) ? hit->value : NULL;
			struct fts_node *v = append_list(a, prev, op.value);
			if (hit) {
				hit->key = key;
				hit->value = v;
			} else {
				m->pairs[m->npairs++] = (struct fts_pair){key, v};
			}
		} else if (hit) {
			hit->key = op.key;
			hit->value = (struct fts_node *)fts_config_merge(a, hit->value, op.value);
		} else {
			m->pairs[m->npairs++] = op;
		}
	}
	weigh(m);
	return m;
}

/* --- ft_schedule path resolution ----------------------------------------------- */

static bool is_file(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && !S_ISDIR(st.st_mode);
}

/* path with "./" components removed ("./a/./b" -> "a/b"); never empty. */
static char *tidy(struct fts_arena *a, const char *path)
{
	char *out = fts_arena_alloc(a, strlen(path) + 2);
	size_t k = 0;
	const char *p = path;
	if (*p == '/')
		out[k++] = *p++;
	while (*p) {
		const char *e = strchr(p, '/');
		size_t n = e ? (size_t)(e - p) : strlen(p);
		if (!(n == 1 && p[0] == '.') && n > 0) {
			if (k > 0 && out[k - 1] != '/')
				out[k++] = '/';
			memcpy(out + k, p, n);
			k += n;
		}
		p += n;
		while (*p == '/')
			p++;
	}
	if (k == 0)
		out[k++] = '.';
	out[k] = '\0';
	return out;
}

/* The directory part of a config path ("" for a bare file name). */
static char *dir_of(struct fts_arena *a, const char *path)
{
	const char *slash = strrchr(path, '/');
	if (!slash)
		return fts_arena_strdup(a, "");
	if (slash == path)
		return fts_arena_strdup(a, "/");
	return fts_arena_strndup(a, path, (size_t)(slash - path));
}

/* Try `rel` relative to the working directory, then to each config's
 * directory, last config first.  Returns the tidied path found, or NULL. */
/*
 * FTS opens ft_schedule with open(): relative to the directory training
 * starts in, nowhere else.  The path, or NULL when there is no such file.
 */
static const char *resolve_schedule(struct cfg *c, const char *path)
{
	const char *p = path;
	if (path[0] != '/' && c->s->run_dir && *c->s->run_dir)
		p = fts_arena_printf(c->a, "%s/%s", c->s->run_dir, path);
	return is_file(p) ? tidy(c->a, p) : NULL;
}

/* A file of that name next to a config (FTS does not look there), or NULL. */
static const char *beside_config(struct cfg *c, const char *rel)
{
	if (rel[0] == '/')
		return NULL;
	for (size_t i = c->npaths; i-- > 0;) {
		const char *dir = dir_of(c->a, c->paths[i]);
		if (!*dir)
			continue;
		char *p = fts_arena_printf(c->a, "%s/%s", dir, rel);
		if (is_file(p))
			return tidy(c->a, p);
	}
	return NULL;
}

/* --- callbacks -------------------------------------------------------------------- */

enum cb_kind {
	CB_OTHER,
	CB_FTS,
	CB_FTS_CKPT,
	CB_FTS_ES,
	CB_CKPT,
	CB_ES,
};

static bool has_prefix(const char *s, const char *p)
{
	return !strncmp(s, p, strlen(p));
}

static enum cb_kind classify(const char *path)
{
	const char *name = class_name(path);
	if (name != path && !has_prefix(path, "finetuning_scheduler.") &&
	    !has_prefix(path, "lightning.") && !has_prefix(path, "pytorch_lightning."))
		return CB_OTHER;        /* a user's own class */
	if (!strcmp(name, "FinetuningScheduler"))
		return CB_FTS;
	if (!strcmp(name, "FTSCheckpoint"))
		return CB_FTS_CKPT;
	if (!strcmp(name, "FTSEarlyStopping"))
		return CB_FTS_ES;
	if (!strcmp(name, "ModelCheckpoint"))
		return CB_CKPT;
	if (!strcmp(name, "EarlyStopping"))
		return CB_ES;
	return CB_OTHER;
}

static const char *const es_keys[] = {
	"monitor", "min_delta", "patience", "verbose", "mode", "strict", "check_finite",
	"stopping_threshold", "divergence_threshold", "check_on_train_epoch_end",
	"log_rank_zero_only", NULL,
};

static const char *const ckpt_keys[] = {
	"dirpath", "filename", "monitor", "verbose", "save_last", "save_top_k",
	"save_on_exception", "save_weights_only", "mode", "auto_insert_metric_name",
	"every_n_train_steps", "train_time_interval", "every_n_epochs",
	"save_on_train_epoch_end", "enable_version_counter", NULL,
};

/* The keys of a class_path entry that jsonargparse takes. */
static const char *const entry_keys[] = {"class_path", "init_args", "dict_kwargs", NULL};

static const char *const fts_keys[] = {
	"ft_schedule", "max_depth", "base_max_lr", "restore_best", "gen_ft_sched_only",
	"epoch_transitions_only", "reinit_optim_cfg", "reinit_lr_cfg", "strategy_adapter_cfg",
	"custom_strategy_adapters", "allow_untested", "apply_lambdas_new_pgs", "logging_level",
	"enforce_phase0_params", "frozen_bn_track_running_stats", "log_dir", NULL,
};

/* The init_args mapping of a callback entry, or NULL (reported when it is
 * neither a mapping nor null). */
static const struct fts_node *init_args_of(struct cfg *c, const struct fts_node *entry,
					   const char *cls)
{
	const struct fts_node *ia = fts_node_value(entry, "init_args");
	if (is_null(ia))
		return NULL;
	if (fts_node_is_map(ia))
		return ia;
	type_error(c, ia, entry->span, fts_arena_printf(c->a, "init_args of %s", cls), "a mapping");
	return NULL;
}

static bool read_mode(struct cfg *c, const struct fts_node *n, const char *cls, bool *mode_max)
{
	const char *m;
	if (!want_str(c, n, fts_arena_printf(c->a, "%s mode", cls), false, &m))
		return false;
	if (!strcmp(m, "min") || !strcmp(m, "max")) {
		*mode_max = !strcmp(m, "max");
		return true;
	}
	fts_diag(c->d, FTS_E_CONFIG, n->span,
		 fts_arena_printf(c->a, "%s mode must be 'min' or 'max', not %s", cls,
				  fts_node_describe(c->a, n)));
	return false;
}

/* Lightning's EarlyStopping defaults (what FTS's default FTSEarlyStopping has). */
static void es_default(struct fts_es_cfg *es)
{
	memset(es, 0, sizeof(*es));
	es->present = true;
	es->patience = 3;
	es->check_finite = true;
}

/* Read an EarlyStopping/FTSEarlyStopping configuration onto *es. */
static void read_es(struct cfg *c, const struct fts_node *entry, const char *cls,
		    struct fts_es_cfg *es)
{
	es_default(es);
	es->node = entry;
	const struct fts_node *ia = init_args_of(c, entry, cls);
	const struct fts_node *mon = fts_node_value(ia, "monitor");
	if (is_null(mon))               /* EarlyStopping's monitor is a required argument */
		type_error(c, mon, entry->span, fts_arena_printf(c->a, "%s monitor", cls),
			   "a metric name");
	if (!ia)
		return;
	fts_node_check_keys(c->a, c->d, ia, es_keys, fts_arena_printf(c->a, "%s init_args", cls));
	const struct fts_node *n;
	if ((n = fts_node_value(ia, "monitor")))
		want_str(c, n, fts_arena_printf(c->a, "%s monitor", cls), true, &es->monitor);
	if ((n = fts_node_value(ia, "patience")))
		want_int(c, n, fts_arena_printf(c->a, "%s patience", cls), false, &es->patience, NULL);
	if ((n = fts_node_value(ia, "min_delta")))
		want_float(c, n, fts_arena_printf(c->a, "%s min_delta", cls), false,
			   &es->min_delta, NULL);
	if ((n = fts_node_value(ia, "mode")))
		read_mode(c, n, cls, &es->mode_max);
	if ((n = fts_node_value(ia, "check_finite")))
		want_bool(c, n, fts_arena_printf(c->a, "%s check_finite", cls), &es->check_finite);
	if ((n = fts_node_value(ia, "stopping_threshold")))
		es->has_stopping_threshold =
			want_float(c, n, fts_arena_printf(c->a, "%s stopping_threshold", cls), true,
				   &es->stopping_threshold, NULL);
	if ((n = fts_node_value(ia, "divergence_threshold")))
		es->has_divergence_threshold =
			want_float(c, n, fts_arena_printf(c->a, "%s divergence_threshold", cls), true,
				   &es->divergence_threshold, NULL);
	static const char *const bools[] = {
		"verbose", "strict", "log_rank_zero_only", NULL,
	};
	for (const char *const *b = bools; *b; b++) {
		bool dummy;
		if ((n = fts_node_value(ia, *b)))
			want_bool(c, n, fts_arena_printf(c->a, "%s %s", cls, *b), &dummy);
	}
}

/* Read a ModelCheckpoint/FTSCheckpoint configuration onto *ck. */
static void read_ckpt(struct cfg *c, const struct fts_node *entry, const char *cls,
		      struct fts_ckpt_cfg *ck, const struct fts_node **topk_node)
{
	memset(ck, 0, sizeof(*ck));
	ck->save_top_k = 1;
	ck->node = entry;
	*topk_node = NULL;
	const struct fts_node *ia = init_args_of(c, entry, cls);
	if (!ia)
		return;
	fts_node_check_keys(c->a, c->d, ia, ckpt_keys, fts_arena_printf(c->a, "%s init_args", cls));
	const struct fts_node *n;
	if ((n = fts_node_value(ia, "monitor")))
		want_str(c, n, fts_arena_printf(c->a, "%s monitor", cls), true, &ck->monitor);
	if ((n = fts_node_value(ia, "save_top_k"))) {
		bool isnull = false;
		*topk_node = n;
		if (want_int(c, n, fts_arena_printf(c->a, "%s save_top_k", cls), true,
			     &ck->save_top_k, &isnull)) {
			if (ck->save_top_k < -1)
				fts_diag(c->d, FTS_E_CONFIG, n->span,
					 fts_arena_printf(c->a, "%s save_top_k must be >= -1, not %lld",
							  cls, (long long)ck->save_top_k));
		} else if (isnull) {
			ck->save_top_k = 0;
		} else {
			ck->save_top_k = 1;
		}
	}
	if ((n = fts_node_value(ia, "mode")))
		read_mode(c, n, cls, &ck->mode_max);
}

/* --- FinetuningScheduler init_args ---------------------------------------------- */

static bool want_dict(struct cfg *c, const struct fts_node *n, const char *what)
{
	if (is_null(n) || fts_node_is_map(n))
		return true;
	type_error(c, n, FTS_SPAN_NONE, what, "a mapping or null");
	return false;
}

/* Flags FTS reads that decide the callback resolution. */
struct fts_flags {
	bool gen_ft_sched_only;
};

static void read_fts_args(struct cfg *c, const struct fts_node *entry, struct fts_flags *fl)
{
	const struct fts_node *ia = init_args_of(c, entry, "FinetuningScheduler");
	if (!ia)
		return;
	fts_node_check_keys(c->a, c->d, ia, fts_keys, "FinetuningScheduler init_args");
	struct fts_settings *s = c->s;
	struct fts_config *out = c->out;
	const struct fts_node *n;
	bool b;
	int64_t i;
	double f;

	if ((n = fts_node_value(ia, "ft_schedule"))) {
		out->ft_schedule_node = n;
		if (fts_node_falsy(n)) {
			/* None, "" or {}: implicit mode; an empty mapping or string looks like a
			 * schedule that was meant to be there */
			if (!is_null(n))
				fts_diag(c->d, FTS_W_EMPTY_SCHEDULE, n->span,
					 fts_node_is_map(n) ? "{}" : "''");
		} else if (fts_node_is_map(n)) {
			out->ft_schedule_inline = n;
		} else if (fts_node_is_str(n)) {
			out->ft_schedule_path = resolve_schedule(c, n->text);
			if (!out->ft_schedule_path) {
				struct fts_diag *dg = fts_diag(c->d, FTS_E_CONFIG_SCHEDULE, n->span,
							       n->text);
				const char *rd = c->s->run_dir && *c->s->run_dir ? c->s->run_dir : ".";
				fts_diag_note(c->d, dg, FTS_SPAN_NONE,
					      "FTS opens it relative to the directory training starts in "
					      "(here '%s'; give that directory with --run-dir)", rd);
				const char *near = beside_config(c, n->text);
				if (near)
					fts_diag_help(c->d, dg, "'%s' exists, next to a config; FTS does not "
						      "look there", near);
			}
		} else {
			type_error(c, n, FTS_SPAN_NONE, "ft_schedule",
				   "a path, a schedule mapping or null");
		}
	}
	if ((n = fts_node_value(ia, "max_depth")) && want_int(c, n, "max_depth", false, &i, NULL))
		s->max_depth = i;
	if ((n = fts_node_value(ia, "base_max_lr")) && want_float(c, n, "base_max_lr", false, &f, NULL))
		s->base_max_lr = f;
	if ((n = fts_node_value(ia, "restore_best")) && want_bool(c, n, "restore_best", &b))
		s->restore_best = b;
	if ((n = fts_node_value(ia, "gen_ft_sched_only")) && want_bool(c, n, "gen_ft_sched_only", &b))
		fl->gen_ft_sched_only = b;
	if ((n = fts_node_value(ia, "epoch_transitions_only")) &&
	    want_bool(c, n, "epoch_transitions_only", &b))
		s->epoch_transitions_only = b;
	if ((n = fts_node_value(ia, "allow_untested")) && want_bool(c, n, "allow_untested", &b))
		s->allow_untested = b;
	if ((n = fts_node_value(ia, "apply_lambdas_new_pgs")) &&
	    want_bool(c, n, "apply_lambdas_new_pgs", &b))
		s->apply_lambdas_new_pgs = b;
	if ((n = fts_node_value(ia, "enforce_phase0_params")))
		want_bool(c, n, "enforce_phase0_params", &b);
	if ((n = fts_node_value(ia, "frozen_bn_track_running_stats")))
		want_bool(c, n, "frozen_bn_track_running_stats", &b);
	if ((n = fts_node_value(ia, "logging_level")))
		want_int(c, n, "logging_level", false, &i, NULL);
	if ((n = fts_node_value(ia, "log_dir"))) {
		const char *str;
		want_str(c, n, "log_dir", true, &str);
	}
	if ((n = fts_node_value(ia, "reinit_optim_cfg")) && want_dict(c, n, "reinit_optim_cfg"))
		s->reinit_optim_cfg = is_null(n) ? NULL : n;
	if ((n = fts_node_value(ia, "reinit_lr_cfg")) && want_dict(c, n, "reinit_lr_cfg"))
		s->reinit_lr_cfg = is_null(n) ? NULL : n;
	if ((n = fts_node_value(ia, "strategy_adapter_cfg")))
		want_dict(c, n, "strategy_adapter_cfg");
	if ((n = fts_node_value(ia, "custom_strategy_adapters")) &&
	    want_dict(c, n, "custom_strategy_adapters") && fts_node_is_map(n)) {
		for (size_t k = 0; k < n->npairs; k++)
			if (!fts_node_is_str(n->pairs[k].key) || !fts_node_is_str(n->pairs[k].value))
				type_error(c, fts_node_is_str(n->pairs[k].key) ? n->pairs[k].value
					   : n->pairs[k].key, n->span,
					   "custom_strategy_adapters entries",
					   "strings (strategy flag: adapter)");
	}
}

/* --- sections ---------------------------------------------------------------------- */

/* A {class_path, init_args} directive of the model, or NULL. */
static const struct fts_node *class_directive(struct cfg *c, const struct fts_node *n,
					      const char *what)
{
	if (is_null(n))
		return NULL;
	if (fts_node_is_map(n) && class_path_of(n))
		return n;
	if (fts_node_is_map(n) && fts_node_value(n, "class_path"))
		type_error(c, fts_node_value(n, "class_path"), n->span,
			   fts_arena_printf(c->a, "%s class_path", what), "a string");
	else
		type_error(c, n, FTS_SPAN_NONE, what, "a mapping with a class_path");
	return NULL;
}

static void read_model(struct cfg *c, const struct fts_node *root)
{
	const struct fts_node *model = fts_node_value(root, "model");
	const struct fts_node *ia = NULL;
	if (fts_node_is_map(model)) {
		ia = fts_node_value(model, "init_args");
		if (!fts_node_is_map(ia))
			ia = fts_node_value(model, "class_path") ? NULL : model; /* a fixed model class */
	}
	struct fts_config *out = c->out;
	out->optimizer_init = class_directive(c, fts_node_value(ia, "optimizer_init"), "optimizer_init");
	out->lr_scheduler_init = class_directive(c, fts_node_value(ia, "lr_scheduler_init"),
						 "lr_scheduler_init");
	const struct fts_node *pl = fts_node_value(ia, "pl_lrs_cfg");
	if (!is_null(pl) && want_dict(c, pl, "pl_lrs_cfg"))
		out->pl_lrs_cfg = pl;
	/* LightningCLI's auto_configure_optimizers: top-level optimizer / lr_scheduler */
	if (!out->optimizer_init && fts_node_is_map(fts_node_value(root, "optimizer")))
		out->optimizer_init = class_directive(c, fts_node_value(root, "optimizer"), "optimizer");
	if (!out->lr_scheduler_init && fts_node_is_map(fts_node_value(root, "lr_scheduler")))
		out->lr_scheduler_init = class_directive(c, fts_node_value(root, "lr_scheduler"),
							 "lr_scheduler");
}

static const char *const supported_strategies[] = {
	"ddp", "ddp_find_unused_parameters_false", "ddp_find_unused_parameters_true",
	"ddp_spawn", "ddp_fork", "ddp_notebook", "single_device", "fsdp", "fsdp_cpu_offload",
	"modelparallelstrategy", NULL,
};

/* Strategy classes and the flag (strategy_name) FTS sees for them. */
static const struct {
	const char *cls, *flag;
} strategy_classes[] = {
	{"DDPStrategy", "ddp"},
	{"FSDPStrategy", "fsdp"},
	{"ModelParallelStrategy", "modelparallelstrategy"},
	{"SingleDeviceStrategy", "single_device"},
	{"DeepSpeedStrategy", "deepspeed"},
	{"DataParallelStrategy", "dp"},
	{"XLAStrategy", "xla"},
	{"XLAFSDPStrategy", "xla_fsdp"},
	{"SingleDeviceXLAStrategy", "single_xla"},
};

static void read_strategy(struct cfg *c, const struct fts_node *trainer)
{
	const struct fts_node *n = fts_node_value(trainer, "strategy");
	if (is_null(n))
		return;
	const char *flag = NULL;
	if (fts_node_is_str(n)) {
		char *low = fts_arena_strdup(c->a, n->text);
		for (char *p = low; *p; p++)
			*p = (char)tolower((unsigned char)*p);
		flag = low;
	} else if (fts_node_is_map(n) && class_path_of(n)) {
		const char *name = class_name(class_path_of(n));
		for (size_t i = 0; i < sizeof(strategy_classes) / sizeof(strategy_classes[0]); i++)
			if (!strcmp(name, strategy_classes[i].cls))
				flag = strategy_classes[i].flag;
		if (!flag)
			return;         /* a class ftsc does not know: not checked */
	} else if (fts_node_is_map(n)) {
		return;                 /* init_args only: the class comes from elsewhere */
	} else {
		type_error(c, n, FTS_SPAN_NONE, "trainer.strategy",
			   "a strategy name or a class_path mapping");
		return;
	}
	c->out->strategy = flag;
	if (!c->out->has_fts || !*flag || !strcmp(flag, "auto"))
		return;
	for (const char *const *p = supported_strategies; *p; p++)
		if (!strcmp(flag, *p))
			return;
	if (c->s->allow_untested) {
		fts_diag(c->d, FTS_W_STRATEGY, n->span, flag);
	} else {
		struct fts_diag *dg = fts_diag(c->d, FTS_E_STRATEGY, n->span, flag);
		fts_diag_help(c->d, dg, "set allow_untested: true in the FinetuningScheduler "
			      "init_args to try it anyway");
	}
}

static void read_max_epochs(struct cfg *c, const struct fts_node *trainer)
{
	const struct fts_node *n = fts_node_value(trainer, "max_epochs");
	int64_t v;
	if (n && want_int(c, n, "trainer.max_epochs", true, &v, NULL))
		c->s->max_epochs = v;
}

/* V-F3: the initial lr scheduler must be on FTS's allow-list. */
static void check_initial_scheduler(struct cfg *c)
{
	const struct fts_node *lrs = c->out->lr_scheduler_init;
	if (!c->out->has_fts || !lrs)
		return;
	const struct fts_node *cpn = fts_node_value(lrs, "class_path");
	const struct fts_decl_class *cls = fts_stdlib_find(c->lib, cpn->text);
	if (!cls || cls->kind != FTS_DECL_LR_SCHEDULER)
		return;                 /* unknown: the schedule checker reports it */
	if (fts_class_has(cls, FTS_CLS_FTS_SUPPORTED))
		return;
	if (c->s->allow_untested) {
		fts_diag(c->d, FTS_W_INITIAL_LRS, cpn->span, cpn->text);
	} else {
		struct fts_diag *dg = fts_diag(c->d, FTS_E_INITIAL_LRS, cpn->span, cpn->text);
		fts_diag_help(c->d, dg, "FTS supports LambdaLR, MultiplicativeLR, StepLR, MultiStepLR, "
			      "ExponentialLR, CosineAnnealingLR, ReduceLROnPlateau, "
			      "CosineAnnealingWarmRestarts, ConstantLR and LinearLR; "
			      "allow_untested: true lets others through with a warning");
	}
}

static void subst(struct cfg *c, struct fts_span sp, const char *msg)
{
	/* a schedule alone (an ftsc-language file without --config) says
	 * nothing of callbacks: FTS's substitutions are not news then */
	if (c->npaths == 0)
		return;
	fts_diag(c->d, FTS_W_CB_SUBST, sp, msg);
}

/* FTS fills in a missing monitor of its callback cls with 'val_loss', and says so. */
static void default_monitor(struct cfg *c, const char **monitor, struct fts_span sp,
			    const char *cls)
{
	if (*monitor && **monitor)
		return;
	*monitor = "val_loss";
	subst(c, sp, fts_arena_printf(c->a, "No monitor metric specified for %s, using 'val_loss' "
				      "as default.", cls));
}

/* The callbacks of one dependency FTS resolves (checkpointing, early
 * stopping): Lightning takes one of each, so a second is reported; FTS's
 * own class (the twin) and Lightning's are remembered apart. */
struct dep {
	const char *name;               /* Lightning's class, which both derive from */
	const struct fts_node *first;   /* the first entry of either class */
	const struct fts_node *twin;    /* the first FTSCheckpoint / FTSEarlyStopping */
	const struct fts_node *plain;   /* the first ModelCheckpoint / EarlyStopping */
};

/* Callback entry e of dp's kind (twin: FTS's class, also listed in nofts). */
static void take_dep(struct cfg *c, struct dep *dp, const struct fts_node *e, bool twin,
		     const struct fts_node **nofts, size_t *nnofts)
{
	if (dp->first) {
		struct fts_diag *dg = fts_diag(c->d, FTS_E_CB_MULTI, e->span, dp->name);
		fts_diag_note(c->d, dg, dp->first->span, "the first %s-derived callback is here",
			      dp->name);
	} else {
		dp->first = e;
	}
	if (twin) {
		nofts[(*nnofts)++] = e;
		if (!dp->twin)
			dp->twin = e;
	} else if (!dp->plain) {
		dp->plain = e;
	}
}

/* The callbacks as FTS resolves them (_configure_callback_deps). */
static void read_callbacks(struct cfg *c, const struct fts_node *trainer)
{
	const struct fts_node *cbs = fts_node_value(trainer, "callbacks");
	const struct fts_node *const *items = NULL;
	size_t n = 0;
	const struct fts_node *single = NULL;
	if (is_null(cbs)) {
		/* none */
	} else if (cbs->kind == FTS_N_SEQ) {
		items = (const struct fts_node *const *)cbs->items;
		n = cbs->nitems;
	} else if (fts_node_is_map(cbs)) {
		single = cbs;
		items = &single;
		n = 1;
	} else {
		type_error(c, cbs, FTS_SPAN_NONE, "trainer.callbacks",
			   "a list of class_path/init_args mappings");
	}

	const struct fts_node *fts = NULL;
	struct dep ck_dep = {"ModelCheckpoint", NULL, NULL, NULL};
	struct dep es_dep = {"EarlyStopping", NULL, NULL, NULL};
	const struct fts_node **nofts = fts_arena_alloc(c->a, (n + 1) * sizeof(*nofts));
	size_t nnofts = 0;
	for (size_t i = 0; i < n; i++) {
		const struct fts_node *e = items[i];
		const char *cp = class_path_of(e);
		if (!cp) {
			type_error(c, e, cbs->span, "a trainer.callbacks entry",
				   "a mapping with a class_path");
			continue;
		}
		enum cb_kind k = classify(cp);
		if (k != CB_OTHER)
			fts_node_check_keys(c->a, c->d, e, entry_keys,
					    fts_arena_printf(c->a, "the %s entry", class_name(cp)));
		if (k == CB_FTS) {
			if (fts) {
				struct fts_diag *dg = fts_diag(c->d, FTS_E_CB_MULTI, e->span,
							       "FinetuningScheduler");
				fts_diag_note(c->d, dg, fts->span, "the first FinetuningScheduler is here");
			} else {
				fts = e;
			}
		} else if (k == CB_FTS_CKPT || k == CB_CKPT) {
			take_dep(c, &ck_dep, e, k == CB_FTS_CKPT, nofts, &nnofts);
		} else if (k == CB_FTS_ES || k == CB_ES) {
			take_dep(c, &es_dep, e, k == CB_FTS_ES, nofts, &nnofts);
		}
	}
	const struct fts_node *fts_ckpt = ck_dep.twin, *ckpt = ck_dep.plain;
	const struct fts_node *fts_es = es_dep.twin, *es = es_dep.plain;

	struct fts_config *out = c->out;
	out->has_fts = fts != NULL;
	out->fts_node = fts;
	if (!fts) {
		/* V-CB2: the FTS twins need a FinetuningScheduler */
		for (size_t i = 0; i < nnofts; i++) {
			bool isck = classify(class_path_of(nofts[i])) == CB_FTS_CKPT;
			fts_diag(c->d, FTS_E_CB_NOFTS, nofts[i]->span,
				 isck ? "FTSCheckpoint" : "FTSEarlyStopping",
				 isck ? "ModelCheckpoint" : "EarlyStopping");
		}
		return;
	}

	struct fts_flags fl = {false};
	read_fts_args(c, fts, &fl);
	struct fts_settings *s = c->s;
	struct fts_span fsp = fts->span;

	/* the early-stopping dependency (V-CB3, V-CB4) */
	if (s->epoch_transitions_only) {
		if (fts_es || es) {
			const struct fts_node *e = fts_es ? fts_es : es;
			struct fts_es_cfg tmp;
			read_es(c, e, fts_es ? "FTSEarlyStopping" : "EarlyStopping", &tmp);
			fts_diag(c->d, FTS_W_CB_ETO_ES, e->span);
		}
		memset(&out->es, 0, sizeof(out->es));
	} else if (fts_es) {
		read_es(c, fts_es, "FTSEarlyStopping", &out->es);
	} else if (fl.gen_ft_sched_only) {
		if (es) {
			struct fts_es_cfg tmp;
			read_es(c, es, "EarlyStopping", &tmp);
		}
		memset(&out->es, 0, sizeof(out->es));
	} else {
		if (es) {
			read_es(c, es, "EarlyStopping", &out->es);
			subst(c, es->span, "FinetuningScheduler currently depends upon an "
			      "FTSEarlyStopping callback unless configured in epoch_transitions_only "
			      "mode. Substituting current EarlyStopping for FTSEarlyStopping");
		} else {
			es_default(&out->es);
			subst(c, fsp, "FinetuningScheduler currently depends upon an FTSEarlyStopping "
			      "callback unless configured in epoch_transitions_only mode. Adding an "
			      "FTSEarlyStopping callback with default configuration.");
		}
		default_monitor(c, &out->es.monitor, es ? es->span : fsp, "FTSEarlyStopping");
	}

	/* the checkpoint dependency (V-CB3, V-CK1, V-CK2) */
	const struct fts_node *topk = NULL;
	const struct fts_node *ck_ia = NULL;
	if (fts_ckpt) {
		read_ckpt(c, fts_ckpt, "FTSCheckpoint", &out->ckpt, &topk);
		ck_ia = init_args_of(c, fts_ckpt, "FTSCheckpoint");
	} else {
		bool enabled = true;
		const struct fts_node *en = fts_node_value(trainer, "enable_checkpointing");
		if (en && !is_null(en))
			want_bool(c, en, "trainer.enable_checkpointing", &enabled);
		if (ckpt) {
			read_ckpt(c, ckpt, "ModelCheckpoint", &out->ckpt, &topk);
			subst(c, ckpt->span, "FinetuningScheduler currently depends upon a checkpoint "
			      "callback that inherits from FTSCheckpoint. Substituting current "
			      "ModelCheckpoint for FTSCheckpoint");
		} else {
			memset(&out->ckpt, 0, sizeof(out->ckpt));
			out->ckpt.save_top_k = 1;
			/* Lightning adds a default ModelCheckpoint unless checkpointing is off */
			subst(c, fsp, enabled
			      ? "FinetuningScheduler currently depends upon a checkpoint callback that "
				"inherits from FTSCheckpoint. Substituting current ModelCheckpoint "
				"(Lightning's default) for FTSCheckpoint"
			      : "FinetuningScheduler currently depends upon a checkpoint callback that "
				"inherits from FTSCheckpoint. Adding an FTSCheckpoint callback with "
				"default configuration.");
		}
		default_monitor(c, &out->ckpt.monitor, ckpt ? ckpt->span : fsp, "FTSCheckpoint");
	}
	if (s->restore_best && !fl.gen_ft_sched_only) {
		struct fts_span ksp = topk ? topk->span : fts_ckpt ? fts_ckpt->span : fsp;
		if (out->ckpt.save_top_k == 0) {
			struct fts_diag *dg = fts_diag(c->d, FTS_E_CK_TOPK, ksp,
						       topk && is_null(topk) ? "None" : "0");
			fts_diag_help(c->d, dg, "set save_top_k to a non-zero value or set "
				      "restore_best: false");
		}
		if (fts_ckpt && (!out->ckpt.monitor || !*out->ckpt.monitor)) {
			const struct fts_node *mn = fts_node_value(ck_ia, "monitor");
			struct fts_diag *dg = fts_diag(c->d, FTS_E_CK_MONITOR,
						       mn ? mn->span : fts_ckpt->span);
			fts_diag_help(c->d, dg, "add 'monitor: val_loss' (or the metric to watch) to "
				      "the FTSCheckpoint init_args, or set restore_best: false");
		}
	}
}

/* --- loading ------------------------------------------------------------------------ */

int fts_config_load(struct fts_arena *a, struct fts_diags *d, const struct fts_stdlib *lib,
		    const char *const *paths, size_t npaths, struct fts_settings *settings,
		    struct fts_config *out)
{
	return fts_config_load_ex(a, d, lib, paths, npaths, NULL, settings, out);
}

int fts_config_load_ex(struct fts_arena *a, struct fts_diags *d, const struct fts_stdlib *lib,
		       const char *const *paths, size_t npaths, const struct fts_node *last,
		       struct fts_settings *settings, struct fts_config *out)
{
	memset(out, 0, sizeof(*out));
	struct cfg c = {a, d, lib, paths, npaths, settings, out};
	int rc = 0;
	const struct fts_node *root = NULL;
	for (size_t i = 0; i < npaths; i++) {
		char err[256] = "";
		uint32_t file;
		errno = 0;
		if (fts_source_load(d->src, paths[i], FTS_MAX_INPUT, &file, err, sizeof(err))) {
			fts_diag(d, FTS_E_IO, FTS_SPAN_NONE, paths[i], err);
			rc = -1;
			continue;
		}
		bool empty = false;
		size_t before = d->errors;
		const struct fts_node *doc = fts_yaml_parse(a, d, file, &empty);
		if (!doc) {
			if (empty || d->errors > before)
				continue;
		} else if (!fts_node_is_map(doc)) {
			type_error(&c, doc, FTS_SPAN_NONE,
				   fts_arena_printf(a, "the config '%s'", paths[i]), "a mapping");
			continue;
		}
		root = fts_config_merge(a, root, doc);
	}
	if (last)
		root = fts_config_merge(a, root, last);
	out->root = root;
	if (!root)
		return rc;

	read_model(&c, root);
	const struct fts_node *trainer = fts_node_value(root, "trainer");
	if (!is_null(trainer) && !fts_node_is_map(trainer)) {
		type_error(&c, trainer, FTS_SPAN_NONE, "trainer", "a mapping");
		trainer = NULL;
	}
	read_callbacks(&c, trainer);    /* FinetuningScheduler init_args first */
	read_max_epochs(&c, trainer);
	read_strategy(&c, trainer);
	check_initial_scheduler(&c);
	return rc;
}
