/*
 * verify_lrs.c - replay a torch golden/lrs case through rt_sched.
 *
 * Stage: runtime tooling (linked into ftsrun and the tests, not libftsrt).
 * The case is loaded as a libyaml document; lr_scheduler_init becomes an
 * rt_sched_config (recursively for SequentialLR/ChainedScheduler), the
 * lambda text is translated with rt_lambda_compile_text, and the trace is
 * compared value by value.
 */
#include "verify_lrs.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "err.h"
#include "ftsrt.h"
#include "lambda.h"
#include "lrsched.h"

struct vctx {
	yaml_document_t doc;            /* the loaded case */
	void **owned;                   /* allocations to free at the end */
	size_t nowned, capowned;
	struct rt_lambda lambda;        /* lambda_expr, if any */
	bool have_lambda;
	uint8_t code[RT_LAMBDA_MAX_LEN];
	char *msg;                      /* caller's message buffer */
	size_t msglen;
};

#define say(v, status, ...) rt_fail_buf((v)->msg, (v)->msglen, (status), __VA_ARGS__)

static void *own(struct vctx *v, size_t n)
{
	if (v->nowned == v->capowned) {
		size_t nc = v->capowned ? 2 * v->capowned : 16;
		void **p = realloc(v->owned, nc * sizeof(*p));
		if (!p)
			return NULL;
		v->owned = p;
		v->capowned = nc;
	}
	void *m = calloc(1, n ? n : 1);
	if (m)
		v->owned[v->nowned++] = m;
	return m;
}

static yaml_node_t *node(struct vctx *v, int id)
{
	return id ? yaml_document_get_node(&v->doc, id) : NULL;
}

static yaml_node_t *map_get(struct vctx *v, yaml_node_t *m, const char *key)
{
	if (!m || m->type != YAML_MAPPING_NODE)
		return NULL;
	for (yaml_node_pair_t *p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top; p++) {
		yaml_node_t *k = node(v, p->key);
		if (k && k->type == YAML_SCALAR_NODE && !strcmp((char *)k->data.scalar.value, key))
			return node(v, p->value);
	}
	return NULL;
}

static const char *scalar(yaml_node_t *n)
{
	return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

static bool is_null(yaml_node_t *n)
{
	const char *s = scalar(n);
	return !n || (s && (!strcmp(s, "null") || !strcmp(s, "~") || !*s) &&
		      n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE);
}

static bool to_double(yaml_node_t *n, double *out)
{
	const char *s = scalar(n);
	if (!s || !*s)
		return false;
	if (!strcmp(s, ".inf") || !strcmp(s, "+.inf")) {
		*out = INFINITY;
		return true;
	}
	if (!strcmp(s, "-.inf")) {
		*out = -INFINITY;
		return true;
	}
	if (!strcmp(s, ".nan")) {
		*out = NAN;
		return true;
	}
	char *end;
	errno = 0;
	*out = strtod(s, &end);
	return *end == '\0';
}

static bool to_int(yaml_node_t *n, int64_t *out)
{
	const char *s = scalar(n);
	if (!s || !*s)
		return false;
	char *end;
	errno = 0;
	long long x = strtoll(s, &end, 10);
	if (*end || errno)
		return false;
	*out = x;
	return true;
}

static bool to_bool(yaml_node_t *n, bool *out)
{
	const char *s = scalar(n);
	if (!s)
		return false;
	if (!strcmp(s, "true") || !strcmp(s, "True") || !strcmp(s, "yes") || !strcmp(s, "on")) {
		*out = true;
		return true;
	}
	if (!strcmp(s, "false") || !strcmp(s, "False") || !strcmp(s, "no") || !strcmp(s, "off")) {
		*out = false;
		return true;
	}
	return false;
}

static size_t seq_len(yaml_node_t *n)
{
	return n && n->type == YAML_SEQUENCE_NODE
		       ? (size_t)(n->data.sequence.items.top - n->data.sequence.items.start)
		       : 0;
}

static yaml_node_t *seq_at(struct vctx *v, yaml_node_t *n, size_t i)
{
	return node(v, n->data.sequence.items.start[i]);
}

/* A float sequence into owned memory. */
static int dlist(struct vctx *v, yaml_node_t *n, const char *what, double **out, size_t *len)
{
	if (!n || n->type != YAML_SEQUENCE_NODE)
		return say(v, FTSRT_EFORMAT, "'%s' is not a list", what);
	size_t k = seq_len(n);
	double *d = own(v, k * sizeof(double));
	if (!d)
		return say(v, FTSRT_ENOMEM, "out of memory");
	for (size_t i = 0; i < k; i++)
		if (!to_double(seq_at(v, n, i), &d[i]))
			return say(v, FTSRT_EFORMAT, "'%s'[%zu] is not a number", what, i);
	*out = d;
	*len = k;
	return 0;
}

static int param(struct vctx *v, yaml_node_t *n, const char *key, struct rt_sched_param *p)
{
	if (n->type == YAML_SEQUENCE_NODE) {
		double *d;
		size_t k;
		int rc = dlist(v, n, key, &d, &k);
		p->list = d;
		p->n = k;
		return rc;
	}
	if (!to_double(n, &p->scalar))
		return say(v, FTSRT_EFORMAT, "'%s' is not a number", key);
	return 0;
}

static int build_config(struct vctx *v, yaml_node_t *init, struct rt_sched_config *cfg, int depth);

static int set_arg(struct vctx *v, struct rt_sched_config *cfg, const char *k, yaml_node_t *val,
		   int depth)
{
	bool is_int;
	void *field = rt_sched_config_field(cfg, k, &is_int);
	if (field && !is_int) {
		if (is_null(val) && !strcmp(k, "step_size_down"))
			return 0;
		if (!to_double(val, (double *)field))
			return say(v, FTSRT_EFORMAT, "'%s' is not a number", k);
		return 0;
	}
	if (field) {
		if (is_null(val) && (!strcmp(k, "total_steps") || !strcmp(k, "epochs") ||
				     !strcmp(k, "steps_per_epoch")))
			return 0;
		if (!to_int(val, (int64_t *)field))
			return say(v, FTSRT_EFORMAT, "'%s' is not an integer", k);
		return 0;
	}
	const char *s = scalar(val);
	if (!strcmp(k, "mode") && s) {
		if (!strcmp(s, "min") || !strcmp(s, "max"))
			cfg->mode = s[1] == 'i' ? RT_PLATEAU_MIN : RT_PLATEAU_MAX;
		else if (!strcmp(s, "triangular"))
			cfg->cyclic_mode = RT_CYCLIC_TRIANGULAR;
		else if (!strcmp(s, "triangular2"))
			cfg->cyclic_mode = RT_CYCLIC_TRIANGULAR2;
		else if (!strcmp(s, "exp_range"))
			cfg->cyclic_mode = RT_CYCLIC_EXP_RANGE;
		else
			return say(v, FTSRT_EINVAL, "mode '%s' is unknown", s);
		return 0;
	}
	if (!strcmp(k, "threshold_mode") && s && (!strcmp(s, "rel") || !strcmp(s, "abs"))) {
		cfg->threshold_mode = s[0] == 'r' ? RT_THRESHOLD_REL : RT_THRESHOLD_ABS;
		return 0;
	}
	if (!strcmp(k, "anneal_strategy") && s && (!strcmp(s, "cos") || !strcmp(s, "linear"))) {
		cfg->anneal_strategy = s[0] == 'c' ? RT_ANNEAL_COS : RT_ANNEAL_LINEAR;
		return 0;
	}
	if (!strcmp(k, "cycle_momentum") || !strcmp(k, "three_phase")) {
		bool b;
		if (!to_bool(val, &b))
			return say(v, FTSRT_EFORMAT, "'%s' is not a boolean", k);
		*(k[0] == 'c' ? &cfg->cycle_momentum : &cfg->three_phase) = b;
		return 0;
	}
	if (!strcmp(k, "min_lr"))
		return param(v, val, k, &cfg->min_lr);
	if (!strcmp(k, "max_lr"))
		return param(v, val, k, &cfg->max_lr);
	if (!strcmp(k, "base_lr"))
		return param(v, val, k, &cfg->base_lr);
	if (!strcmp(k, "base_momentum"))
		return param(v, val, k, &cfg->base_momentum);
	if (!strcmp(k, "max_momentum"))
		return param(v, val, k, &cfg->max_momentum);
	if (!strcmp(k, "milestones")) {
		size_t n = seq_len(val);
		int64_t *m = own(v, n * sizeof(int64_t));
		if (!m || val->type != YAML_SEQUENCE_NODE)
			return say(v, m ? FTSRT_EFORMAT : FTSRT_ENOMEM, "bad milestones");
		for (size_t i = 0; i < n; i++)
			if (!to_int(seq_at(v, val, i), &m[i]))
				return say(v, FTSRT_EFORMAT, "milestone %zu is not an integer", i);
		cfg->milestones = m;
		cfg->nmilestones = n;
		return 0;
	}
	if (!strcmp(k, "schedulers")) {
		size_t n = seq_len(val);
		if (!n)
			return say(v, FTSRT_EFORMAT, "'schedulers' is not a non-empty list");
		struct rt_sched_config *ch = own(v, n * sizeof(*ch));
		if (!ch)
			return say(v, FTSRT_ENOMEM, "out of memory");
		for (size_t i = 0; i < n; i++) {
			int rc = build_config(v, seq_at(v, val, i), &ch[i], depth + 1);
			if (rc)
				return rc;
		}
		cfg->children = ch;
		cfg->nchildren = n;
		return 0;
	}
	if (!strcmp(k, "lr_lambda"))
		return 0;       /* carried by lambda_expr */
	return say(v, FTSRT_EINVAL, "init_args key '%s' is not supported", k);
}

static int build_config(struct vctx *v, yaml_node_t *init, struct rt_sched_config *cfg, int depth)
{
	if (depth > 8)
		return say(v, FTSRT_EFORMAT, "schedulers nested too deeply");
	const char *cp = scalar(map_get(v, init, "class_path"));
	int kind = rt_sched_kind_from_name(cp);
	if (kind < 0)
		return say(v, FTSRT_EINVAL, "unknown scheduler class '%s'", cp ? cp : "(none)");
	rt_sched_config_defaults(cfg, (enum rt_sched_kind)kind);
	if (kind == RT_SCHED_LAMBDA || kind == RT_SCHED_MULTIPLICATIVE) {
		if (!v->have_lambda)
			return say(v, FTSRT_EFORMAT, "%s without lambda_expr", cp);
		cfg->lambdas = &v->lambda;
		cfg->nlambdas = 1;
	}
	yaml_node_t *args = map_get(v, init, "init_args");
	if (!args || args->type != YAML_MAPPING_NODE)
		return is_null(args) ? 0 : say(v, FTSRT_EFORMAT, "init_args is not a mapping");
	for (yaml_node_pair_t *p = args->data.mapping.pairs.start; p < args->data.mapping.pairs.top;
	     p++) {
		const char *k = scalar(node(v, p->key));
		if (!k)
			return say(v, FTSRT_EFORMAT, "init_args key is not a string");
		int rc = set_arg(v, cfg, k, node(v, p->value), depth);
		if (rc)
			return rc;
	}
	return 0;
}

/* The optimizer's momentum or beta1, from a line like "SGD momentum=0.9". */
static double opt_momentum(const char *opt)
{
	const char *m = opt ? strstr(opt, "momentum=") : NULL;
	if (m)
		return strtod(m + 9, NULL);
	m = opt ? strstr(opt, "betas=(") : NULL;
	if (m)
		return strtod(m + 7, NULL);
	m = opt ? strstr(opt, "beta1=") : NULL;
	if (m)
		return strtod(m + 6, NULL);
	if (opt && strstr(opt, "Adam"))
		return 0.9;
	return 0.0;
}

static double rel_err(double got, double want)
{
	if (got == want)
		return 0.0;
	double d = fabs(got - want);
	return want == 0.0 ? d : d / fabs(want);
}

/* Compare one row of the trace; 1 with a message on the first mismatch. */
static int compare_row(struct vctx *v, yaml_node_t *row, const double *got, size_t n,
		       const char *what, size_t step, double *maxe, size_t *exact, size_t *count)
{
	if (!row || row->type != YAML_SEQUENCE_NODE || seq_len(row) != n)
		return say(v, FTSRT_EFORMAT, "%s[%zu] does not have %zu entries", what, step, n);
	for (size_t g = 0; g < n; g++) {
		double want;
		if (!to_double(seq_at(v, row, g), &want))
			return say(v, FTSRT_EFORMAT, "%s[%zu][%zu] is not a number", what, step, g);
		double e = rel_err(got[g], want);
		if (isnan(e))
			e = INFINITY;
		if (e > *maxe)
			*maxe = e;
		(*count)++;
		if (got[g] == want)
			(*exact)++;
		if (e > RT_VERIFY_LRS_RTOL)
			return say(v, 1, "%s[%zu][%zu]: got %.17g, torch %.17g (rel err %.3g)", what, step,
				   g, got[g], want, e);
	}
	return 0;
}

static int replay(struct vctx *v, double *max_rel_err)
{
	yaml_node_t *root = yaml_document_get_root_node(&v->doc);
	if (!root || root->type != YAML_MAPPING_NODE)
		return say(v, FTSRT_EFORMAT, "not a golden/lrs case");
	yaml_node_t *lex = map_get(v, root, "lambda_expr");
	if (!is_null(lex)) {
		const char *src = scalar(lex);
		size_t len;
		struct rt_lambda_diag d;
		if (!src)
			return say(v, FTSRT_EFORMAT, "lambda_expr is not a string");
		if (rt_lambda_compile_text(src, v->code, sizeof(v->code), &len, &d) ||
		    rt_lambda_validate(v->code, len, &v->lambda, &d))
			return say(v, FTSRT_EINVAL, "lambda_expr '%s': %s at %zu", src, d.msg, d.offset);
		v->have_lambda = true;
	}
	struct rt_sched_config cfg;
	int rc = build_config(v, map_get(v, root, "lr_scheduler_init"), &cfg, 0);
	if (rc)
		return rc;
	double *base;
	size_t n;
	if ((rc = dlist(v, map_get(v, root, "base_lrs"), "base_lrs", &base, &n)))
		return rc;
	yaml_node_t *lrs = map_get(v, root, "lrs");
	yaml_node_t *moms = map_get(v, root, "momentum_or_beta1");
	yaml_node_t *metrics_node = map_get(v, root, "metrics");
	size_t steps = seq_len(lrs);
	if (n == 0 || steps == 0)
		return say(v, FTSRT_EFORMAT, "no base_lrs or lrs");
	double *metrics = NULL;
	size_t nmetrics = 0;
	if (!is_null(metrics_node) &&
	    (rc = dlist(v, metrics_node, "metrics", &metrics, &nmetrics)))
		return rc;
	if (cfg.kind == RT_SCHED_PLATEAU && nmetrics + 1 < steps)
		return say(v, FTSRT_EFORMAT, "ReduceLROnPlateau case with %zu metrics for %zu steps",
			   nmetrics, steps - 1);

	double *lr = own(v, n * sizeof(double)), *ilr = own(v, n * sizeof(double));
	double *mom = own(v, n * sizeof(double));
	if (!lr || !ilr || !mom)
		return say(v, FTSRT_ENOMEM, "out of memory");
	double m0 = opt_momentum(scalar(map_get(v, root, "optimizer")));
	for (size_t g = 0; g < n; g++) {
		lr[g] = base[g];
		ilr[g] = NAN;
		mom[g] = m0;
	}
	struct rt_pg pg = {lr, ilr, mom, n};
	struct rt_sched s;
	if ((rc = rt_sched_init(&s, &cfg, &pg, NULL, NULL)))
		return say(v, rc, "constructing %s: %s", rt_sched_kind_name(cfg.kind), rt_sched_errmsg(&s));
	double maxe = 0.0;
	size_t exact = 0, count = 0;
	bool with_mom = seq_len(moms) == steps;
	for (size_t i = 0; i < steps && rc == 0; i++) {
		if (i > 0 && (rc = rt_sched_step(&s, &pg, metrics ? &metrics[i - 1] : NULL))) {
			rc = say(v, rc, "step %zu: %s", i, rt_sched_errmsg(&s));
			break;
		}
		rc = compare_row(v, seq_at(v, lrs, i), lr, n, "lrs", i, &maxe, &exact, &count);
		if (!rc && with_mom)
			rc = compare_row(v, seq_at(v, moms, i), mom, n, "momentum_or_beta1", i, &maxe,
					 &exact, &count);
	}
	rt_sched_release(&s);
	if (max_rel_err)
		*max_rel_err = maxe;
	if (rc == 0)
		say(v, 0, "%s: %zu values match (%zu bit-exact), max rel err %.3g",
		    rt_sched_kind_name(cfg.kind), count, exact, maxe);
	return rc;
}

int rt_verify_lrs_case(const char *yaml_path, double *max_rel_err, char *msg, size_t msglen)
{
	struct vctx v;
	memset(&v, 0, sizeof(v));
	v.msg = msg;
	v.msglen = msglen;
	if (max_rel_err)
		*max_rel_err = 0.0;
	if (msg && msglen)
		msg[0] = '\0';
	if (!yaml_path)
		return say(&v, FTSRT_EINVAL, "no case file");
	FILE *f = fopen(yaml_path, "rb");
	if (!f)
		return say(&v, FTSRT_EIO, "%s: %s", yaml_path, strerror(errno));
	yaml_parser_t parser;
	if (!yaml_parser_initialize(&parser)) {
		fclose(f);
		return say(&v, FTSRT_ENOMEM, "out of memory");
	}
	yaml_parser_set_input_file(&parser, f);
	int rc;
	if (!yaml_parser_load(&parser, &v.doc)) {
		rc = say(&v, FTSRT_EFORMAT, "%s:%zu: %s", yaml_path, parser.problem_mark.line + 1,
			 parser.problem ? parser.problem : "YAML error");
		yaml_parser_delete(&parser);
		fclose(f);
		return rc;
	}
	yaml_parser_delete(&parser);
	fclose(f);
	rc = replay(&v, max_rel_err);
	yaml_document_delete(&v.doc);
	for (size_t i = 0; i < v.nowned; i++)
		free(v.owned[i]);
	free(v.owned);
	return rc;
}
