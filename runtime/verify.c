/*
 * verify.c - replays torch's golden optimizer trajectories through
 * libftsrt (see verify.h).  A case is <case>.yaml (optimizer_init,
 * torch_defaults, param_shapes, param_groups, group_overrides, steps,
 * lr_per_step) plus <case>.f32.bin and <case>.f64.bin (initial params, then
 * per step the gradients and torch's params after the step).  We feed
 * torch's gradients, run our own trajectory, and measure the largest
 * relative difference to torch's params over every step.
 *
 * The YAML is read with libyaml's document loader (the files are small).
 * LR-scheduler cases (golden/lrs, key `lrs`) are replayed by verify_lrs.c.
 */
#include "verify.h"
#include "verify_lrs.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "ftsrt.h"

#define MAX_PARAMS 64
#define MAX_GROUPS 16
#define MAX_DIMS 8
#define MAX_STEPS 1000

struct golden {
	int32_t kind;                   /* enum ftsrt_optim_kind */
	struct ftsrt_optim_hparams base; /* torch_defaults */
	int nparams;
	int ndim[MAX_PARAMS];
	int64_t shape[MAX_PARAMS][MAX_DIMS];
	size_t numel[MAX_PARAMS];
	int group_of[MAX_PARAMS];
	int ngroups;
	struct ftsrt_optim_hparams hp[MAX_GROUPS];
	int steps;
	double *lr;                     /* steps x ngroups */
};

double rt_verify_relerr(double a, double b)
{
	if (isnan(a) || isnan(b))
		return (isnan(a) && isnan(b)) ? 0 : INFINITY;
	if (isinf(a) || isinf(b))
		return a == b ? 0 : INFINITY;
	double den = fabs(b) > RT_VERIFY_FLOOR ? fabs(b) : RT_VERIFY_FLOOR;
	return fabs(a - b) / den;
}

/* --- YAML document helpers ----------------------------------------------- */

static yaml_node_t *map_get(yaml_document_t *doc, yaml_node_t *map, const char *key)
{
	if (!map || map->type != YAML_MAPPING_NODE)
		return NULL;
	for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
		yaml_node_t *k = yaml_document_get_node(doc, p->key);
		if (k && k->type == YAML_SCALAR_NODE && strcmp((char *)k->data.scalar.value, key) == 0)
			return yaml_document_get_node(doc, p->value);
	}
	return NULL;
}

static int seq_len(yaml_node_t *n)
{
	if (!n || n->type != YAML_SEQUENCE_NODE)
		return -1;
	return (int)(n->data.sequence.items.top - n->data.sequence.items.start);
}

static yaml_node_t *seq_at(yaml_document_t *doc, yaml_node_t *n, int i)
{
	if (i < 0 || i >= seq_len(n))
		return NULL;
	return yaml_document_get_node(doc, n->data.sequence.items.start[i]);
}

static const char *scalar(yaml_node_t *n)
{
	return (n && n->type == YAML_SCALAR_NODE) ? (const char *)n->data.scalar.value : NULL;
}

static bool is_null(yaml_node_t *n)
{
	const char *s = scalar(n);
	return !s || strcmp(s, "null") == 0 || strcmp(s, "~") == 0 || s[0] == '\0';
}

static bool num(yaml_node_t *n, double *out)
{
	const char *s = scalar(n);
	if (!s)
		return false;
	if (strcmp(s, "true") == 0 || strcmp(s, "false") == 0) {
		*out = s[0] == 't';
		return true;
	}
	if (strcmp(s, ".inf") == 0 || strcmp(s, "-.inf") == 0 || strcmp(s, ".nan") == 0) {
		*out = s[0] == '-' ? -INFINITY : (s[1] == 'i' ? INFINITY : NAN);
		return true;
	}
	char *end;
	*out = strtod(s, &end);
	return end != s && *end == '\0';
}

/* Apply one torch hyper-parameter key to *h; unknown keys are ignored. */
static int apply_key(struct ftsrt_optim_hparams *h, yaml_document_t *doc, const char *key,
		     yaml_node_t *v)
{
	struct {
		const char *name;
		double *dst;
	} dbl[] = {
		{"lr", &h->lr}, {"momentum", &h->momentum}, {"dampening", &h->dampening},
		{"weight_decay", &h->weight_decay}, {"lr_decay", &h->lr_decay},
		{"initial_accumulator_value", &h->initial_accumulator_value}, {"rho", &h->rho},
		{"momentum_decay", &h->momentum_decay}, {"alpha", &h->alpha}, {"lambd", &h->lambd},
		{"t0", &h->t0}, {"beta2_decay", &h->beta2_decay}, {"d", &h->d},
	};
	struct {
		const char *name;
		bool *dst;
	} flags[] = {
		{"nesterov", &h->nesterov}, {"maximize", &h->maximize}, {"amsgrad", &h->amsgrad},
		{"decoupled_weight_decay", &h->decoupled_weight_decay}, {"centered", &h->centered},
		{"use_addmm", &h->muon_use_addmm},
	};
	double x;
	for (size_t i = 0; i < sizeof(dbl) / sizeof(dbl[0]); i++)
		if (strcmp(key, dbl[i].name) == 0)
			return num(v, dbl[i].dst) ? 0 : -1;
	for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++)
		if (strcmp(key, flags[i].name) == 0) {
			if (!num(v, &x))
				return -1;
			*flags[i].dst = x != 0;
			return 0;
		}
	if (strcmp(key, "ns_steps") == 0) {
		if (!num(v, &x))
			return -1;
		h->ns_steps = (int)x;
		return 0;
	}
	if (strcmp(key, "eps") == 0) {
		if (seq_len(v) == 2) {                  /* Adafactor (eps1, eps2) */
			yaml_node_t *e1 = seq_at(doc, v, 0);
			if (is_null(e1))
				h->eps1 = NAN;
			else if (!num(e1, &h->eps1))
				return -1;
			return num(seq_at(doc, v, 1), &h->eps) ? 0 : -1;
		}
		return num(v, &h->eps) ? 0 : -1;
	}
	double *pairs[][2] = {{&h->beta1, &h->beta2}, {&h->etaminus, &h->etaplus},
			      {&h->step_size_min, &h->step_size_max}};
	const char *pair_names[] = {"betas", "etas", "step_sizes"};
	for (int i = 0; i < 3; i++)
		if (strcmp(key, pair_names[i]) == 0)
			return (seq_len(v) == 2 && num(seq_at(doc, v, 0), pairs[i][0]) &&
				num(seq_at(doc, v, 1), pairs[i][1])) ? 0 : -1;
	if (strcmp(key, "ns_coefficients") == 0)
		return (seq_len(v) == 3 && num(seq_at(doc, v, 0), &h->ns_a) &&
			num(seq_at(doc, v, 1), &h->ns_b) && num(seq_at(doc, v, 2), &h->ns_c)) ? 0 : -1;
	if (strcmp(key, "adjust_lr_fn") == 0) {
		const char *s = scalar(v);
		if (is_null(v) || strcmp(s, "original") == 0)
			h->adjust_lr_fn = FTSRT_MUON_ADJUST_ORIGINAL;
		else if (strcmp(s, "match_rms_adamw") == 0)
			h->adjust_lr_fn = FTSRT_MUON_ADJUST_MATCH_RMS_ADAMW;
		else
			return -1;
		return 0;
	}
	return 0;
}

static int apply_map(struct ftsrt_optim_hparams *h, yaml_document_t *doc, yaml_node_t *map,
		     char *msg, size_t msgsz)
{
	if (!map)
		return 0;
	if (map->type != YAML_MAPPING_NODE)
		return -1;
	for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
		const char *k = scalar(yaml_document_get_node(doc, p->key));
		if (!k || apply_key(h, doc, k, yaml_document_get_node(doc, p->value))) {
			snprintf(msg, msgsz, "bad value for '%s'", k ? k : "?");
			return -1;
		}
	}
	return 0;
}

/* Read the case description; returns 0 or -1 with r->msg set. */
static int load_golden(yaml_document_t *doc, yaml_node_t *root, struct golden *gd,
		       struct rt_verify_result *r)
{
	yaml_node_t *init = map_get(doc, root, "optimizer_init");
	const char *cls = scalar(map_get(doc, init, "class_path"));
	if (ftsrt_optim_kind_from_name(cls, &gd->kind, NULL)) {
		snprintf(r->msg, sizeof(r->msg), "unknown optimizer '%s'", cls ? cls : "?");
		return -1;
	}
	gd->base.struct_size = sizeof(gd->base);
	ftsrt_optim_hparams_default(gd->kind, &gd->base, NULL);
	if (apply_map(&gd->base, doc, map_get(doc, root, "torch_defaults"), r->msg, sizeof(r->msg)) ||
	    apply_map(&gd->base, doc, map_get(doc, init, "init_args"), r->msg, sizeof(r->msg)))
		return -1;
	yaml_node_t *shapes = map_get(doc, root, "param_shapes");
	gd->nparams = seq_len(shapes);
	if (gd->nparams < 1 || gd->nparams > MAX_PARAMS) {
		snprintf(r->msg, sizeof(r->msg), "bad param_shapes");
		return -1;
	}
	for (int i = 0; i < gd->nparams; i++) {
		yaml_node_t *s = seq_at(doc, shapes, i);
		gd->ndim[i] = seq_len(s);
		if (gd->ndim[i] < 0 || gd->ndim[i] > MAX_DIMS) {
			snprintf(r->msg, sizeof(r->msg), "bad shape of p%d", i);
			return -1;
		}
		gd->numel[i] = 1;
		for (int d = 0; d < gd->ndim[i]; d++) {
			double x;
			if (!num(seq_at(doc, s, d), &x) || x < 0) {
				snprintf(r->msg, sizeof(r->msg), "bad shape of p%d", i);
				return -1;
			}
			gd->shape[i][d] = (int64_t)x;
			gd->numel[i] *= (size_t)x;
		}
		gd->group_of[i] = -1;
	}
	yaml_node_t *groups = map_get(doc, root, "param_groups");
	yaml_node_t *over = map_get(doc, root, "group_overrides");
	gd->ngroups = seq_len(groups);
	if (gd->ngroups < 1 || gd->ngroups > MAX_GROUPS) {
		snprintf(r->msg, sizeof(r->msg), "bad param_groups");
		return -1;
	}
	for (int g = 0; g < gd->ngroups; g++) {
		yaml_node_t *gl = seq_at(doc, groups, g);
		for (int j = 0; j < seq_len(gl); j++) {
			double x;
			if (!num(seq_at(doc, gl, j), &x) || x < 0 || x >= gd->nparams) {
				snprintf(r->msg, sizeof(r->msg), "bad param index in group %d", g);
				return -1;
			}
			gd->group_of[(int)x] = g;
		}
		gd->hp[g] = gd->base;
		if (apply_map(&gd->hp[g], doc, seq_at(doc, over, g), r->msg, sizeof(r->msg)))
			return -1;
	}
	for (int i = 0; i < gd->nparams; i++)
		if (gd->group_of[i] < 0) {
			snprintf(r->msg, sizeof(r->msg), "p%d is in no group", i);
			return -1;
		}
	double x;
	if (!num(map_get(doc, root, "steps"), &x) || x < 1 || x > MAX_STEPS) {
		snprintf(r->msg, sizeof(r->msg), "bad steps");
		return -1;
	}
	gd->steps = (int)x;
	yaml_node_t *lrs = map_get(doc, root, "lr_per_step");
	if (seq_len(lrs) != gd->steps) {
		snprintf(r->msg, sizeof(r->msg), "lr_per_step has %d entries for %d steps", seq_len(lrs),
			 gd->steps);
		return -1;
	}
	gd->lr = malloc((size_t)gd->steps * (size_t)gd->ngroups * sizeof(double));
	if (!gd->lr) {
		snprintf(r->msg, sizeof(r->msg), "out of memory");
		return -1;
	}
	for (int s = 0; s < gd->steps; s++) {
		yaml_node_t *row = seq_at(doc, lrs, s);
		for (int g = 0; g < gd->ngroups; g++)
			if (!num(seq_at(doc, row, g), &gd->lr[s * gd->ngroups + g])) {
				snprintf(r->msg, sizeof(r->msg), "bad lr_per_step[%d]", s);
				return -1;
			}
	}
	return 0;
}

/* Replay one dtype; returns 0 (err in *err) or -1 with r->msg set. */
static int replay(const struct golden *gd, const char *bin, int dtype, int kernels, int nthreads,
		  double *err, struct rt_verify_result *r)
{
	const size_t es = dtype == FTSRT_F64 ? sizeof(double) : sizeof(float);
	size_t n = 0;
	for (int i = 0; i < gd->nparams; i++)
		n += gd->numel[i];
	int rc = -1;
	ftsrt_optim *o = NULL;
	FILE *f = fopen(bin, "rb");
	char *p = malloc(n * es + 1), *g = malloc(n * es + 1), *want = malloc(n * es + 1);
	if (!f) {
		snprintf(r->msg, sizeof(r->msg), "cannot open %s", bin);
		goto out;
	}
	if (!p || !g || !want) {
		snprintf(r->msg, sizeof(r->msg), "out of memory");
		goto out;
	}
	ftsrt_error oe;
	struct ftsrt_optim_options oo = FTSRT_INIT(struct ftsrt_optim_options);
	oo.kernels = kernels;
	oo.threads = nthreads;
	int st = ftsrt_optim_new(&o, gd->kind, dtype, &oo, &oe);
	for (int gi = 0; st == 0 && gi < gd->ngroups; gi++)
		st = ftsrt_optim_add_group(o, &gd->hp[gi], NULL, &oe);
	for (int i = 0; st == 0 && i < gd->nparams; i++)
		st = ftsrt_optim_add_param(o, gd->group_of[i], gd->ndim[i], gd->shape[i], NULL, &oe);
	if (st) {
		snprintf(r->msg, sizeof(r->msg), "optimizer refused: %s (%.160s)", ftsrt_strerror(st),
			 oe.message);
		goto out;
	}
	if (fread(p, es, n, f) != n) {
		snprintf(r->msg, sizeof(r->msg), "%s is truncated", bin);
		goto out;
	}
	double worst = 0;
	for (int s = 0; s < gd->steps; s++) {
		for (int gi = 0; gi < gd->ngroups; gi++)
			ftsrt_optim_set_lr(o, gi, gd->lr[s * gd->ngroups + gi], NULL);
		if (fread(g, es, n, f) != n || fread(want, es, n, f) != n) {
			snprintf(r->msg, sizeof(r->msg), "%s is truncated", bin);
			goto out;
		}
		st = ftsrt_optim_step(o, p, g, n, &oe);
		if (st) {
			snprintf(r->msg, sizeof(r->msg), "step %d: %s (%.160s)", s + 1, ftsrt_strerror(st),
				 oe.message);
			goto out;
		}
		for (size_t i = 0; i < n; i++) {
			double a = dtype == FTSRT_F64 ? ((double *)p)[i] : ((float *)p)[i];
			double b = dtype == FTSRT_F64 ? ((double *)want)[i] : ((float *)want)[i];
			double e = rt_verify_relerr(a, b);
			if (!(e <= worst))
				worst = e;
		}
	}
	if (fgetc(f) != EOF) {
		snprintf(r->msg, sizeof(r->msg), "%s is longer than the case says", bin);
		goto out;
	}
	*err = worst;
	rc = 0;
out:
	ftsrt_optim_free(o);
	free(p);
	free(g);
	free(want);
	if (f)
		fclose(f);
	return rc;
}

int rt_verify_case(const char *yaml_path, int kernels, int nthreads, struct rt_verify_result *r)
{
	memset(r, 0, sizeof(*r));
	r->kind = RT_VERIFY_UNKNOWN;
	r->status = RT_VERIFY_ERROR;
	const char *base = strrchr(yaml_path, '/');
	base = base ? base + 1 : yaml_path;
	snprintf(r->name, sizeof(r->name), "%s", base);
	char *dot = strstr(r->name, ".yaml");
	if (dot)
		*dot = '\0';

	FILE *f = fopen(yaml_path, "rb");
	if (!f) {
		snprintf(r->msg, sizeof(r->msg), "cannot open %s", yaml_path);
		return r->status;
	}
	yaml_parser_t parser;
	yaml_document_t doc;
	struct golden gd;
	memset(&gd, 0, sizeof(gd));
	yaml_parser_initialize(&parser);
	yaml_parser_set_input_file(&parser, f);
	if (!yaml_parser_load(&parser, &doc)) {
		snprintf(r->msg, sizeof(r->msg), "YAML error: %s", parser.problem ? parser.problem : "?");
		yaml_parser_delete(&parser);
		fclose(f);
		return r->status;
	}
	yaml_node_t *root = yaml_document_get_root_node(&doc);
	if (map_get(&doc, root, "lrs")) {
		/* an LR-scheduler trace: replayed by verify_lrs.c in double precision */
		r->kind = RT_VERIFY_LRS;
		double err = 0;
		int rc = rt_verify_lrs_case(yaml_path, &err, r->msg, sizeof(r->msg));
		r->err[0] = r->err[1] = err;
		r->tol[0] = r->tol[1] = RT_VERIFY_LRS_RTOL;
		r->status = rc == 0 ? RT_VERIFY_PASS : rc == 1 ? RT_VERIFY_FAIL : RT_VERIFY_ERROR;
	} else if (map_get(&doc, root, "optimizer_init")) {
		r->kind = RT_VERIFY_OPTIM;
		if (load_golden(&doc, root, &gd, r) == 0) {
			size_t plen = strlen(yaml_path);
			char *bin = malloc(plen + 16);
			int ok = bin != NULL;
			for (int d = 0; ok && d < 2; d++) {
				snprintf(bin, plen + 16, "%.*s.%s.bin", (int)(plen - (dot ? 5 : 0)), yaml_path,
					 d ? "f64" : "f32");
				if (replay(&gd, bin, d ? FTSRT_F64 : FTSRT_F32, kernels, nthreads, &r->err[d], r))
					ok = 0;
			}
			free(bin);
			if (ok) {
				bool muon = gd.kind == FTSRT_OPTIM_MUON;
				r->tol[0] = muon ? RT_VERIFY_TOL_MUON_F32 : RT_VERIFY_TOL_F32;
				r->tol[1] = muon ? RT_VERIFY_TOL_MUON_F64 : RT_VERIFY_TOL_F64;
				r->status = (r->err[0] <= r->tol[0] && r->err[1] <= r->tol[1])
						    ? RT_VERIFY_PASS : RT_VERIFY_FAIL;
				if (r->status == RT_VERIFY_FAIL)
					snprintf(r->msg, sizeof(r->msg), "error above tolerance");
			}
		}
	} else {
		snprintf(r->msg, sizeof(r->msg), "not a golden optimizer or scheduler case");
	}
	free(gd.lr);
	yaml_document_delete(&doc);
	yaml_parser_delete(&parser);
	fclose(f);
	return r->status;
}
