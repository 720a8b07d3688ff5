/*
 * check_dsl.c - unit tests: the schedule language front end (dsl.c), its
 * emitters (dsl_emit.c), glob lowering and regex->glob recognition, and
 * conversion round trips over every schedule and config of tests/ and
 * samples/ (and, with FTS_DIR set by make check-fts, of FTS's examples),
 * checked by resolving parameters on every manifest of
 * tests/data/manifests.  Run from the repository root.
 */
#include <check.h>
#include <sys/stat.h>
#include <dirent.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "arena.h"
#include "ast.h"
#include "diag.h"
#include "dsl.h"
#include "dsl_emit.h"
#include "fts_examples.h"
#include "manifest.h"
#include "pyre.h"
#include "resolve.h"
#include "source.h"
#include "yaml_front.h"

/* ---- fixture ----------------------------------------------------------------- */

struct fx {
	struct fts_sources src;
	struct fts_diags d;
	struct fts_arena a;
};

static void fx_init(struct fx *f)
{
	fts_sources_init(&f->src);
	fts_diags_init(&f->d, &f->src);
	fts_arena_init(&f->a);
	f->d.plain = true;
}

static void fx_release(struct fx *f)
{
	fts_arena_release(&f->a);
	fts_diags_release(&f->d);
	fts_sources_release(&f->src);
}

static struct fts_node *dsl(struct fx *f, const char *text)
{
	uint32_t id = fts_source_add(&f->src, "t.fts", text, strlen(text));
	return fts_dsl_parse_ex(&f->a, &f->d, id, FTS_DSL_NO_INCLUDE);
}

static struct fts_node *yaml(struct fx *f, const char *name, const char *text, size_t len)
{
	bool empty;
	uint32_t id = fts_source_add(&f->src, name, text, len);
	return fts_yaml_parse(&f->a, &f->d, id, &empty);
}

static const struct fts_node *sched_of(const struct fts_node *root)
{
	struct fts_dsl_parts p;
	fts_dsl_parts(root, &p);
	return p.schedule;
}

static const struct fts_node *get(const struct fts_node *m, const char *k)
{
	if (!m || m->kind != FTS_N_MAP)
		return NULL;
	struct fts_pair *p = fts_node_get(m, k);
	return p ? p->value : NULL;
}

static const struct fts_node *phase_n(const struct fts_node *root, size_t i)
{
	const struct fts_node *s = sched_of(root);
	ck_assert_ptr_nonnull(s);
	ck_assert_uint_gt(s->npairs, i);
	return s->pairs[i].value;
}

#define MANIFEST_DIR "tests/data/manifests"

static char *slurp(const char *path, size_t *len)
{
	FILE *fp = fopen(path, "rb");
	if (!fp)
		return NULL;
	fseek(fp, 0, SEEK_END);
	long n = ftell(fp);
	fseek(fp, 0, SEEK_SET);
	char *s = malloc((size_t)n + 1);
	size_t got = fread(s, 1, (size_t)n, fp);
	s[got] = '\0';
	fclose(fp);
	*len = got;
	return s;
}

/* ---- manifests and FTS's resolution -------------------------------------------- */

struct idxvec {
	uint32_t *v;
	size_t n, cap;
};

struct man {
	struct fts_manifest *m;
	struct fts_names *ix;
};

static struct man mans[16];
static size_t nmans;
static struct fx manfx;

static void load_manifests(void)
{
	if (nmans)
		return;
	fx_init(&manfx);
	DIR *dir = opendir(MANIFEST_DIR);
	if (!dir)
		return;
	struct dirent *e;
	while ((e = readdir(dir)) && nmans < 16) {
		if (!strstr(e->d_name, ".tsv"))
			continue;
		char path[1024], err[256];
		uint32_t id;
		snprintf(path, sizeof(path), "%s/%s", MANIFEST_DIR, e->d_name);
		if (fts_source_load(&manfx.src, path, FTS_MAX_INPUT, &id, err, sizeof(err)))
			continue;
		struct fts_manifest *m = fts_manifest_parse(&manfx.a, &manfx.d, id);
		if (!m)
			continue;
		struct fts_names *ix = fts_manifest_link(m, &manfx.d);
		if (!ix)
			continue;
		mans[nmans].m = m;
		mans[nmans].ix = ix;
		nmans++;
	}
	closedir(dir);
}

/* FTS's resolution of one entry: exact name, else re.match; appended to out. */
static void resolve_entry(const struct fts_names *ix, const char *p, size_t len, struct idxvec *out)
{
	long k = fts_names_find(ix, p, len);
	if (k >= 0) {
		FTS_VEC_PUSH(*out, (uint32_t)k);
		return;
	}
	struct fts_pyre *re = fts_pyre_compile(p, len, NULL, 0, NULL);
	if (!re) {
		FTS_VEC_PUSH(*out, UINT32_MAX);
		return;
	}
	struct fts_matches m = {0};
	fts_names_match(ix, re, &m);
	for (size_t i = 0; i < m.n; i++)
		FTS_VEC_PUSH(*out, m.idx[i]);
	fts_matches_free(&m);
	fts_pyre_free(re);
}

static bool same_resolution(const char *p, size_t plen, const char *q, size_t qlen)
{
	load_manifests();
	for (size_t i = 0; i < nmans; i++) {
		struct idxvec a = {0}, b = {0};
		resolve_entry(mans[i].ix, p, plen, &a);
		resolve_entry(mans[i].ix, q, qlen, &b);
		bool same = a.n == b.n && (a.n == 0 || memcmp(a.v, b.v, a.n * sizeof(*a.v)) == 0);
		FTS_VEC_FREE(a);
		FTS_VEC_FREE(b);
		if (!same)
			return false;
	}
	return true;
}

/* ---- tree comparison ----------------------------------------------------------------- */

static bool scalar_eq(const struct fts_node *x, const struct fts_node *y, bool entry)
{
	if (x->py != y->py)
		return false;
	switch (x->py) {
	case FTS_PY_NONE: return true;
	case FTS_PY_BOOL: return x->b == y->b;
	case FTS_PY_INT: return x->i == y->i && x->i_big == y->i_big;
	case FTS_PY_FLOAT: return x->f == y->f || (x->f != x->f && y->f != y->f);
	default:
		if (x->len == y->len && memcmp(x->text, y->text, x->len) == 0)
			return true;
		return entry && same_resolution(x->text, x->len, y->text, y->len);
	}
}

static bool tree_eq(const struct fts_node *x, const struct fts_node *y, bool entries, char *why,
		    size_t cap)
{
	if (!x || !y) {
		if (x != y)
			snprintf(why, cap, "one side is NULL");
		return x == y;
	}
	if (x->kind != y->kind) {
		snprintf(why, cap, "kind differs at %zu", x->span.start);
		return false;
	}
	if (x->kind == FTS_N_SCALAR) {
		if (!scalar_eq(x, y, entries)) {
			snprintf(why, cap, "scalar '%s' vs '%s'", x->text, y->text);
			return false;
		}
		return true;
	}
	if (x->kind == FTS_N_SEQ) {
		if (x->nitems != y->nitems) {
			snprintf(why, cap, "sequence length %zu vs %zu", x->nitems, y->nitems);
			return false;
		}
		for (size_t i = 0; i < x->nitems; i++)
			if (!tree_eq(x->items[i], y->items[i], entries, why, cap))
				return false;
		return true;
	}
	if (x->npairs != y->npairs) {
		snprintf(why, cap, "mapping size %zu vs %zu", x->npairs, y->npairs);
		return false;
	}
	for (size_t i = 0; i < x->npairs; i++) {
		bool params = x->pairs[i].key->kind == FTS_N_SCALAR && x->pairs[i].key->text
			&& strcmp(x->pairs[i].key->text, "params") == 0;
		if (!tree_eq(x->pairs[i].key, y->pairs[i].key, false, why, cap)
		    || !tree_eq(x->pairs[i].value, y->pairs[i].value, params, why, cap))
			return false;
	}
	return true;
}

/* ---- parsing -------------------------------------------------------------------------- */

START_TEST(test_parse_shape)
{
	struct fx f;
	fx_init(&f);
	struct fts_node *r = dsl(&f,
		"optimizer torch.optim.AdamW(lr: 1.0e-05, eps: 1e-7);\n"
		"lr_scheduler torch.optim.lr_scheduler.LinearLR(start_factor: 0.1)\n"
		"    with {interval: epoch, frequency: 1};\n"
		"set max_epochs = 12;\n"
		"set restore_best = false;\n"
		"phase { thaw model.classifier.bias, model.classifier.weight; until epoch 3; }\n"
		"phase 1 {\n"
		"  thaw model.pooler.dense.bias;\n"
		"  thaw model.pooler.dense.weight;\n"
		"  lr: 1e-5;\n"
		"  optimizer torch.optim.SGD(lr: 2.0e-03, momentum: 0.9);\n"
		"  lr_scheduler torch.optim.lr_scheduler.StepLR(step_size: 1, gamma: 0.7)\n"
		"    with {interval: epoch} group_lrs [2.0e-06, 2.0e-06] use_current_lrs;\n"
		"}\n");
	ck_assert_uint_eq(f.d.errors, 0);
	ck_assert_ptr_nonnull(r);
	struct fts_dsl_parts p;
	fts_dsl_parts(r, &p);
	ck_assert_ptr_nonnull(p.model_args);
	const struct fts_node *oi = get(p.model_args, "optimizer_init");
	ck_assert_str_eq(get(oi, "class_path")->text, "torch.optim.AdamW");
	const struct fts_node *eps = get(get(oi, "init_args"), "eps");
	ck_assert_int_eq(eps->py, FTS_PY_FLOAT);   /* a DSL number is a number */
	ck_assert(eps->f == 1e-7);
	ck_assert_str_eq(get(get(p.model_args, "pl_lrs_cfg"), "interval")->text, "epoch");
	ck_assert_int_eq(get(p.trainer, "max_epochs")->i, 12);
	ck_assert_int_eq(get(p.fts_args, "restore_best")->py, FTS_PY_BOOL);
	ck_assert_int_eq(p.fts_args->pairs[0].key->text[0], 'f'); /* ft_schedule first */
	const struct fts_node *p0 = phase_n(r, 0), *p1 = phase_n(r, 1);
	ck_assert_int_eq(sched_of(r)->pairs[0].key->i, 0);
	ck_assert_int_eq(sched_of(r)->pairs[1].key->i, 1);
	ck_assert_uint_eq(get(p0, "params")->nitems, 2);
	ck_assert_int_eq(get(p0, "max_transition_epoch")->i, 3);
	ck_assert_uint_eq(get(p1, "params")->nitems, 2);      /* thaw statements add up */
	ck_assert_int_eq(get(p1, "lr")->py, FTS_PY_FLOAT);
	const struct fts_node *nl = get(p1, "new_lr_scheduler");
	ck_assert_str_eq(nl->pairs[0].key->text, "lr_scheduler_init");
	ck_assert_uint_eq(get(nl, "init_pg_lrs")->nitems, 2);
	ck_assert_int_eq(get(nl, "use_current_optimizer_pg_lrs")->b, true);
	ck_assert_str_eq(get(get(p1, "new_optimizer"), "optimizer_init")->pairs[0].value->text,
			 "torch.optim.SGD");
	/* YAML typing of number texts: 2.0e-03 stays the text YAML reads as a float */
	const struct fts_node *lr = get(get(get(get(p1, "new_optimizer"), "optimizer_init"), "init_args"), "lr");
	ck_assert_str_eq(lr->text, "2.0e-03");
	ck_assert_int_eq(lr->py, FTS_PY_FLOAT);
	fx_release(&f);
}
END_TEST

START_TEST(test_values)
{
	struct fx f;
	fx_init(&f);
	struct fts_node *r = dsl(&f,
		"phase 0 { thaw a; x: [1_000, -2, 0x10, yes, \"yes\", none, true, -1.5, inf, -inf,"
		" {k: v, 1: 2}, (0.9, 0.999)];\n"
		" lam: 0.95 ** epoch; lams: [epoch * 2, 0.5]; s: 'q'; }\n");
	ck_assert_uint_eq(f.d.errors, 0);
	const struct fts_node *x = get(phase_n(r, 0), "x");
	ck_assert_uint_eq(x->nitems, 12);
	ck_assert_int_eq(x->items[0]->py, FTS_PY_INT);
	ck_assert_int_eq(x->items[0]->i, 1000);
	ck_assert_int_eq(x->items[1]->i, -2);
	ck_assert_int_eq(x->items[2]->i, 16);
	ck_assert_int_eq(x->items[3]->py, FTS_PY_STR);   /* a bare word is a string */
	ck_assert_int_eq(x->items[3]->quoted, false);
	ck_assert_int_eq(x->items[4]->quoted, true);
	ck_assert_int_eq(x->items[5]->py, FTS_PY_NONE);
	ck_assert_int_eq(x->items[6]->py, FTS_PY_BOOL);
	ck_assert(x->items[7]->f == -1.5);
	ck_assert(x->items[8]->f > 1e308 && x->items[9]->f < -1e308);
	ck_assert_int_eq(x->items[10]->kind, FTS_N_MAP);
	ck_assert_int_eq(x->items[10]->pairs[1].key->py, FTS_PY_INT);
	ck_assert_int_eq(x->items[11]->kind, FTS_N_SEQ);
	const struct fts_node *lam = get(phase_n(r, 0), "lam");
	ck_assert_int_eq(lam->py, FTS_PY_STR);
	ck_assert_str_eq(lam->text, "0.95 ** epoch");
	ck_assert_str_eq(get(phase_n(r, 0), "lams")->items[0]->text, "epoch * 2");
	fx_release(&f);
}
END_TEST

START_TEST(test_spans)
{
	struct fx f;
	fx_init(&f);
	const char *t = "phase 0 {\n\tthaw model.a.*, re\"x\\.y\";\n\tuntil epoch 7;\n}\n";
	struct fts_node *r = dsl(&f, t);
	ck_assert_ptr_nonnull(r);
	const struct fts_node *p0 = phase_n(r, 0);
	const struct fts_node *ps = get(p0, "params");
	ck_assert_uint_eq(ps->items[0]->span.start, (uint32_t)(strstr(t, "model.a.*") - t));
	ck_assert_uint_eq(ps->items[0]->span.end, (uint32_t)(strstr(t, "model.a.*") - t + 9));
	ck_assert_uint_eq(ps->items[1]->span.start, (uint32_t)(strstr(t, "re\"") - t));
	ck_assert_str_eq(ps->items[1]->text, "x\\.y");
	ck_assert_uint_eq(get(p0, "max_transition_epoch")->span.start, (uint32_t)(strstr(t, "7") - t));
	ck_assert_uint_eq(p0->span.start, 0);
	ck_assert_uint_eq(p0->span.end, (uint32_t)(strrchr(t, '}') - t + 1));
	ck_assert_uint_eq(sched_of(r)->pairs[0].key->span.start, 6);
	fx_release(&f);
}
END_TEST

static size_t count_code(struct fx *f, const char *code, const char *substr)
{
	size_t n = 0;
	for (size_t i = 0; i < f->d.n; i++)
		if (strcmp(fts_diag_code(f->d.v[i]->id), code) == 0
		    && (!substr || strstr(f->d.v[i]->msg, substr)))
			n++;
	return n;
}

START_TEST(test_syntax_errors)
{
	struct fx f;
	fx_init(&f);
	struct fts_node *r = dsl(&f,
		"phase 0 { thaw a; until 3; }\n"          /* until without epoch */
		"phase 1 { thaw b; lr 0.1; }\n"           /* missing ':' */
		"optimizer torch.optim.SGD(lr: );\n"      /* missing value */
		"phase 2 { thaw c $; }\n"                 /* stray character */
		"phase 3 { thaw d; }\n");
	ck_assert_ptr_null(r);
	ck_assert_uint_ge(f.d.errors, 4);
	ck_assert_uint_ge(count_code(&f, "FTSC100", "expecting"), 3);
	ck_assert_uint_eq(count_code(&f, "FTSC100", "stray '$'"), 1);
	/* each error is located on its own line */
	size_t lines[8] = {0};
	for (size_t i = 0; i < f.d.n && i < 8; i++) {
		size_t line, col;
		fts_source_linecol(fts_source_get(&f.src, f.d.v[i]->span.file), f.d.v[i]->span.start,
				   &line, &col);
		lines[i] = line;
	}
	ck_assert_uint_eq(lines[0], 1);
	ck_assert_uint_eq(lines[1], 2);
	ck_assert_uint_eq(lines[2], 3);
	fx_release(&f);
	/* one error per bad token: a run of stray characters, a stray quote */
	static const struct { const char *src, *what; } one[] = {
		{"phase 0 { thaw a@@@@; }\n", "stray '@'"},
		{"phase 0 { thaw a; until epoch 3 $$$; }\n", "stray '$'"},
		{"phase 0 { thaw a, \"b; }\n", "missing terminating"},
		{"phase 0 { thaw a, 'b; }\n", "unterminated quote"},
	};
	for (size_t k = 0; k < sizeof(one) / sizeof(one[0]); k++) {
		fx_init(&f);
		ck_assert_ptr_null(dsl(&f, one[k].src));
		ck_assert_msg(f.d.errors == 1 && count_code(&f, "FTSC100", one[k].what) == 1, "%s: %zu errors",
			      one[k].src, f.d.errors);
		fx_release(&f);
	}
}
END_TEST

START_TEST(test_semantic_errors)
{
	struct fx f;
	fx_init(&f);
	struct fts_node *r = dsl(&f,
		"set max_depth = 1; set max_depth = 2;\n"
		"phase 0 { thaw a; until epoch 1; until epoch 2; }\n"
		"phase 0 { thaw b; }\n"
		"phase 1 { thaw x.{3..1}, y.***, z.{a,{b}}; optimizer torch.optim.SGD(lr: 1, lr: 2); }\n"
		"lr_scheduler torch.optim.lr_scheduler.StepLR(step_size: 1) group_lrs [1];\n"
		"include \"other.fts\";\n");
	ck_assert_ptr_null(r);
	ck_assert_uint_eq(count_code(&f, "FTSC101", NULL), 4);
	ck_assert_uint_ge(count_code(&f, "FTSC102", NULL), 2);
	ck_assert_uint_eq(count_code(&f, "FTSC105", "group_lrs"), 1);
	ck_assert_uint_eq(count_code(&f, "FTSC103", NULL), 1);
	fx_release(&f);
}
END_TEST

/* ---- selectors ----------------------------------------------------------------------- */

static const char *g2r(struct fts_arena *a, const char *g)
{
	const char *why;
	const char *r = fts_dsl_glob_to_regex(a, g, strlen(g), &why);
	return r ? r : why;
}

START_TEST(test_glob_lowering)
{
	struct fts_arena a;
	fts_arena_init(&a);
	ck_assert_str_eq(g2r(&a, "model.classifier.bias"), "model.classifier.bias");
	ck_assert_str_eq(g2r(&a, "model.0.*"), "model\\.0\\.[^.]*\\Z");
	ck_assert_str_eq(g2r(&a, "model.0.**"), "model\\.0\\..*\\Z");
	ck_assert_str_eq(g2r(&a, "a.{x,y-z}.b"), "a\\.(?:x|y-z)\\.b\\Z");
	ck_assert_str_eq(g2r(&a, "l.{8..11}.w"), "l\\.(?:8|9|10|11)\\.w\\Z");
	ck_assert_str_eq(g2r(&a, "l.{attention.*,mlp}.**"), "l\\.(?:attention\\.[^.]*|mlp)\\..*\\Z");
	ck_assert_str_eq(g2r(&a, "a.{1..0}"), "the range is empty");
	ck_assert_str_eq(g2r(&a, "a.{01..3}"), "a range is {N..M} with decimal numbers without leading zeros");
	ck_assert_str_eq(g2r(&a, "a.{0..99999}"), "the range holds more than 10000 values");
	ck_assert_str_eq(g2r(&a, "a.***"), "'***' is not a pattern: use '*' or '**'");
	ck_assert_str_eq(g2r(&a, "a.{b"), "unbalanced '{'");
	/* every lowered glob is a regex FTS (Python re) accepts */
	const char *ok[] = {"model.0.*", "**", "*.weight", "a.{x,}.b", "l.{0..11}.{q,k,v}_proj.*"};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		const char *re = g2r(&a, ok[i]);
		char err[128];
		struct fts_pyre *p = fts_pyre_compile(re, strlen(re), err, sizeof(err), NULL);
		ck_assert_msg(p != NULL, "%s: %s", re, err);
		fts_pyre_free(p);
	}
	fts_arena_release(&a);
}
END_TEST

/* A direct reading of the glob semantics, as the oracle. */
static bool gmatch(const char *g, const char *s)
{
	if (!*g)
		return !*s;
	if (g[0] == '*' && g[1] == '*') {
		for (const char *t = s;; t++) {
			if (gmatch(g + 2, t))
				return true;
			if (!*t)
				return false;
		}
	}
	if (g[0] == '*') {
		for (const char *t = s;; t++) {
			if (gmatch(g + 1, t))
				return true;
			if (!*t || *t == '.')
				return false;
		}
	}
	if (g[0] == '{') {
		const char *close = strchr(g, '}');
		char body[200];
		snprintf(body, sizeof(body), "%.*s", (int)(close - g - 1), g + 1);
		char *dots = strstr(body, "..");
		char alt[512];
		if (dots && !strchr(body, ',')) {
			long lo = strtol(body, NULL, 10), hi = strtol(dots + 2, NULL, 10);
			for (long v = lo; v <= hi; v++) {
				snprintf(alt, sizeof(alt), "%ld%s", v, close + 1);
				if (gmatch(alt, s))
					return true;
			}
			return false;
		}
		char *save, *tok;
		char copy[256];
		if (strlen(body) > 200)
			return false;
		snprintf(copy, sizeof(copy), "%s,", body);
		size_t start = 0;
		for (size_t i = 0; copy[i]; i++) {
			if (copy[i] != ',')
				continue;
			snprintf(alt, sizeof(alt), "%.*s%s", (int)(i - start), copy + start, close + 1);
			if (gmatch(alt, s))
				return true;
			start = i + 1;
		}
		(void)save;
		(void)tok;
		return false;
	}
	return *g == *s && gmatch(g + 1, s + 1);
}

START_TEST(test_glob_semantics_on_manifests)
{
	load_manifests();
	ck_assert_uint_gt(nmans, 0);
	struct fts_arena a;
	fts_arena_init(&a);
	const char *globs[] = {
		"model.0.*", "model.0.**", "model.*.weight", "model.{1..3}.*",
		"model.deberta.encoder.layer.{0..11}.attention.**",
		"model.deberta.encoder.layer.{0,11}.{output,attention,intermediate}.**",
		"**.LayerNorm.*", "model.bert.encoder.layer.1.**", "model.model.layers.{0..3}.*.*_proj.weight",
		"model.transformer.h.{10..11}.**", "**bias", "*",
	};
	for (size_t g = 0; g < sizeof(globs) / sizeof(globs[0]); g++) {
		const char *why;
		const char *re = fts_dsl_glob_to_regex(&a, globs[g], strlen(globs[g]), &why);
		ck_assert_ptr_nonnull(re);
		for (size_t m = 0; m < nmans; m++) {
			struct idxvec got = {0};
			resolve_entry(mans[m].ix, re, strlen(re), &got);
			size_t k = 0;
			for (uint32_t i = 0; i < fts_names_count(mans[m].ix); i++) {
				size_t len;
				const char *nm = fts_names_get(mans[m].ix, i, &len);
				char name[512];
				snprintf(name, sizeof(name), "%.*s", (int)len, nm);
				if (!gmatch(globs[g], name))
					continue;
				ck_assert_msg(k < got.n && got.v[k] == i, "%s misses %s", globs[g], name);
				k++;
			}
			ck_assert_msg(k == got.n, "%s over-matches on %s", globs[g], mans[m].m->path);
			FTS_VEC_FREE(got);
		}
	}
	fts_arena_release(&a);
}
END_TEST

START_TEST(test_regex_to_glob)
{
	struct fts_arena a;
	fts_arena_init(&a);
	static const struct {
		const char *re, *glob;
	} t[] = {
		{"model\\.0\\..*", "model.0.**"},
		{"model\\.0\\.", "model.0.**"},
		{"model\\.0\\.[^.]*\\Z", "model.0.*"},
		{"model\\.0\\..*\\Z", "model.0.**"},
		{"model.*", "model**"},
		{"model\\.(a|b)\\.w\\Z", "model.{a,b}.w"},
		{"l\\.(?:0|1|2|3|4|5|6|7|8|9|10|11)\\.q\\Z", "l.{0..11}.q"},
		{"l\\.[0-3]\\.", "l.{0..3}.**"},
		{"l\\.[13]\\.x\\Z", "l.{1,3}.x"},
		{"a\\.[^.]*", "a.**"},
		{"", "**"},
		/* not provably equivalent: kept as regexes */
		{"model.0.*", NULL},                   /* '.' is any character: model_0x matches */
		{"model.[1-4].*", NULL},
		{"model.deberta.encoder.layer.{0,11}.(output|attention|intermediate).*", NULL},
		{"model\\.0\\.weight", "model.0.weight**"}, /* prefix match of a literal */
		{"a\\.b$", NULL}, {"a+", NULL}, {"(?i)a", NULL}, {"a\\.(b|(c))", NULL},
		{"a\\.\\d", NULL}, {"a\\.[^.]+", NULL}, {"a\\.(b|c)?", NULL}, {"a\\.b*", NULL},
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		const char *g = fts_dsl_regex_to_glob(&a, t[i].re, strlen(t[i].re));
		if (!t[i].glob) {
			ck_assert_msg(g == NULL, "%s -> %s", t[i].re, g);
			continue;
		}
		ck_assert_msg(g && strcmp(g, t[i].glob) == 0, "%s -> %s", t[i].re, g ? g : "(null)");
		/* equivalence on real manifests: the lowered glob resolves identically */
		const char *why;
		const char *back = fts_dsl_glob_to_regex(&a, g, strlen(g), &why);
		ck_assert_ptr_nonnull(back);
		ck_assert_msg(same_resolution(t[i].re, strlen(t[i].re), back, strlen(back)),
			      "%s and %s resolve differently", t[i].re, back);
		/* and the recognizer inverts the lowering */
		ck_assert_str_eq(fts_dsl_regex_to_glob(&a, back, strlen(back)), g);
	}
	fts_arena_release(&a);
}
END_TEST

START_TEST(test_selector_forms)
{
	struct fx f;
	fx_init(&f);
	struct fts_node *r = dsl(&f,
		"phase 0 { thaw model.a.weight, model.{a,b}.*, model.{0..2}.**, re\"model\\.c\", "
		"\"odd name:1\", rest; }\n");
	ck_assert_ptr_nonnull(r);
	const struct fts_node *ps = get(phase_n(r, 0), "params");
	ck_assert_uint_eq(ps->nitems, 6);
	ck_assert_str_eq(ps->items[0]->text, "model.a.weight");
	ck_assert_int_eq(ps->items[0]->quoted, false);
	ck_assert_str_eq(ps->items[1]->text, "model\\.(?:a|b)\\.[^.]*\\Z");
	ck_assert_str_eq(ps->items[2]->text, "model\\.(?:0|1|2)\\..*\\Z");
	ck_assert_str_eq(ps->items[3]->text, "model\\.c");
	ck_assert_str_eq(ps->items[4]->text, "odd name:1");
	ck_assert_str_eq(ps->items[5]->tag, FTS_DSL_REST_TAG);
	ck_assert(fts_dsl_has_rest(r));
	fx_release(&f);
}
END_TEST

START_TEST(test_rest)
{
	load_manifests();
	struct man *boring = NULL;
	for (size_t i = 0; i < nmans; i++)
		if (strstr(mans[i].m->path, "/fts-boring-model.tsv"))
			boring = &mans[i];
	ck_assert_ptr_nonnull(boring);
	struct fx f;
	fx_init(&f);
	struct fts_node *r = dsl(&f,
		"phase 0 { thaw model.3.*; }\n"
		"phase 1 { thaw model.2.weight, rest; }\n"
		"phase 2 { thaw model.0.bias; }\n");
	ck_assert_ptr_nonnull(r);
	ck_assert_int_eq(fts_dsl_expand_rest(&f.a, &f.d, r, boring->ix), 0);
	ck_assert(!fts_dsl_has_rest(r));
	const struct fts_node *ps = get(phase_n(r, 1), "params");
	/* model.0.weight model.0.bias model.1.weight model.1.bias model.2.weight model.2.bias ... */
	ck_assert_uint_eq(ps->nitems, 1 + 5);
	ck_assert_str_eq(ps->items[0]->text, "model.2.weight");
	ck_assert_str_eq(ps->items[1]->text, "model.0.weight");
	ck_assert_str_eq(ps->items[5]->text, "model.2.bias");
	/* twice is an error */
	struct fts_node *r2 = dsl(&f, "phase 0 { thaw rest; }\nphase 1 { thaw rest; }\n");
	ck_assert_int_eq(fts_dsl_expand_rest(&f.a, &f.d, r2, boring->ix), 1);
	fx_release(&f);
}
END_TEST

START_TEST(test_include)
{
	struct fx f;
	fx_init(&f);
	char dir[] = "/tmp/ftsc_dsl_XXXXXX";
	ck_assert_ptr_nonnull(mkdtemp(dir));
	char p1[256], p2[256], p3[256];
	snprintf(p1, sizeof(p1), "%s/main.fts", dir);
	snprintf(p2, sizeof(p2), "%s/phases.fts", dir);
	snprintf(p3, sizeof(p3), "%s/loop.fts", dir);
	FILE *fp = fopen(p1, "w");
	fputs("set max_depth = 1;\ninclude \"phases.fts\";\nphase { thaw c; }\n", fp);
	fclose(fp);
	fp = fopen(p2, "w");
	fputs("phase 0 { thaw a; }\nphase { thaw b; }\n", fp);
	fclose(fp);
	fp = fopen(p3, "w");
	fputs("include \"loop.fts\";\n", fp);
	fclose(fp);
	uint32_t id;
	char err[128];
	ck_assert_int_eq(fts_source_load(&f.src, p1, FTS_MAX_INPUT, &id, err, sizeof(err)), 0);
	struct fts_node *r = fts_dsl_parse(&f.a, &f.d, id);
	ck_assert_ptr_nonnull(r);
	ck_assert_uint_eq(sched_of(r)->npairs, 3);
	ck_assert_int_eq(sched_of(r)->pairs[2].key->i, 2);
	ck_assert_uint_eq(get(phase_n(r, 1), "params")->items[0]->span.file, id + 1);
	ck_assert_int_eq(fts_source_load(&f.src, p3, FTS_MAX_INPUT, &id, err, sizeof(err)), 0);
	ck_assert_ptr_null(fts_dsl_parse(&f.a, &f.d, id));
	ck_assert_uint_eq(count_code(&f, "FTSC103", "too deeply"), 1);
	remove(p1);
	remove(p2);
	remove(p3);
	rmdir(dir);
	fx_release(&f);
}
END_TEST

/* Includes stay in the schedule's folder unless --include-dir allows another;
 * a file that is not in the language is one error, none of its content. */
START_TEST(test_include_policy)
{
	char dir[] = "/tmp/ftsc_dsl_pXXXXXX", sub[300], outside[] = "/tmp/ftsc_dsl_oXXXXXX";
	ck_assert_ptr_nonnull(mkdtemp(dir));
	ck_assert_ptr_nonnull(mkdtemp(outside));
	snprintf(sub, sizeof(sub), "%s/sub", dir);
	ck_assert_int_eq(mkdir(sub, 0700), 0);
	char path[400], secret[400], mainp[400];
	snprintf(path, sizeof(path), "%s/sub/ok.fts", dir);
	FILE *fp = fopen(path, "w");
	fputs("phase 1 { thaw b; }\n", fp);
	fclose(fp);
	snprintf(secret, sizeof(secret), "%s/secret.txt", outside);
	fp = fopen(secret, "w");
	fputs("root:x:0:0:TOPSECRET:/root:/bin/sh\n", fp);
	fclose(fp);
	static const struct { const char *inc; const char *want; } c[] = {
		{"sub/ok.fts", NULL},                                   /* inside: fine */
		{"..", "outside the schedule's folder"},                /* a .. escape */
		{"/", "absolute path"},                                 /* absolute */
		{"notes.txt", "not a schedule in the ftsc language"},   /* not the language */
	};
	snprintf(path, sizeof(path), "%s/notes.txt", dir);
	fp = fopen(path, "w");
	fputs("TOPSECRET shopping list: milk, eggs\n", fp);
	fclose(fp);
	const char *oname = strrchr(outside, '/') + 1;
	for (size_t k = 0; k < sizeof(c) / sizeof(c[0]); k++) {
		char inc[400];
		if (k == 1)
			snprintf(inc, sizeof(inc), "../%s/secret.txt", oname);
		else if (k == 2)
			snprintf(inc, sizeof(inc), "%s/secret.txt", outside);
		else
			snprintf(inc, sizeof(inc), "%s", c[k].inc);
		snprintf(mainp, sizeof(mainp), "%s/main.fts", dir);
		fp = fopen(mainp, "w");
		fprintf(fp, "phase 0 { thaw a; }\ninclude \"%s\";\n", inc);
		fclose(fp);
		struct fx f;
		fx_init(&f);
		uint32_t id;
		char err[128];
		ck_assert_int_eq(fts_source_load(&f.src, mainp, FTS_MAX_INPUT, &id, err, sizeof(err)), 0);
		struct fts_node *r = fts_dsl_parse(&f.a, &f.d, id);
		if (!c[k].want) {
			ck_assert_msg(r != NULL && f.d.errors == 0, "%s", inc);
		} else {
			ck_assert_msg(r == NULL && f.d.errors == 1 && count_code(&f, "FTSC103", c[k].want) == 1,
				      "%s: %zu errors", inc, f.d.errors);
			char *out = NULL;
			size_t len = 0;
			FILE *mf = open_memstream(&out, &len);
			fts_diags_render(&f.d, mf);
			fclose(mf);
			ck_assert_msg(!strstr(out, "TOPSECRET"), "content shown:\n%s", out);
			free(out);
		}
		fx_release(&f);
		/* the same absolute include with --include-dir */
		if (k == 2) {
			fx_init(&f);
			ck_assert_int_eq(fts_source_load(&f.src, mainp, FTS_MAX_INPUT, &id, err, sizeof(err)), 0);
			const char *dirs[] = {outside};
			ck_assert_ptr_null(fts_dsl_parse_opts(&f.a, &f.d, id, 0, dirs, 1));
			ck_assert_uint_eq(count_code(&f, "FTSC103", "not a schedule"), 1);
			fx_release(&f);
		}
	}
	char cmd[900];
	snprintf(cmd, sizeof(cmd), "rm -rf %s %s", dir, outside);
	ck_assert_int_eq(system(cmd), 0);
}
END_TEST

/* ---- conversion round trips ----------------------------------------------------------- */

struct rt_stats {
	size_t files, schedules, configs, skipped;
};

/* YAML -> DSL -> tree must equal the YAML tree (schedules), DSL -> YAML ->
 * DSL must be stable, fmt idempotent; entries resolve identically. */
static void round_trip(const char *path, struct rt_stats *st)
{
	size_t len;
	char *text = slurp(path, &len);
	ck_assert_ptr_nonnull(text);
	struct fx f;
	fx_init(&f);
	struct fts_node *y = yaml(&f, path, text, len);
	free(text);
	st->files++;
	if (!y || f.d.errors) {
		st->skipped++;
		fx_release(&f);
		return;
	}
	bool config = fts_dsl_is_config(y);
	bool sched = y->kind == FTS_N_MAP;
	for (size_t i = 0; sched && i < y->npairs; i++) {
		int64_t k;
		bool big;
		sched = fts_node_pyint(y->pairs[i].key, &k, &big) == 0;
	}
	if (!config && (!sched || y->npairs == 0)) {
		/* a config fragment (neither a schedule nor a config), or the
		 * empty schedule, which has nothing to convert */
		st->skipped++;
		fx_release(&f);
		return;
	}
	size_t n1, w0 = f.d.warnings;
	char *d1 = fts_dsl_from_tree(&f.a, &f.d, y, &n1);
	for (size_t i = 0; i < f.d.n; i++)
		if (f.d.v[i]->id == FTS_W_DSL_LOSSY && f.d.warnings > w0) {
			st->skipped++;  /* said to be lossy (an invalid schedule): nothing to compare */
			fx_release(&f);
			return;
		}
	uint32_t id = fts_source_add(&f.src, "rt1.fts", d1, n1);
	size_t e0 = f.d.errors;
	struct fts_node *t = fts_dsl_parse(&f.a, &f.d, id);
	ck_assert_msg(t && f.d.errors == e0, "%s: DSL does not parse back:\n%s", path, d1);
	char why[256] = "";
	if (!config) {
		st->schedules++;
		ck_assert_msg(tree_eq(y, sched_of(t), false, why, sizeof(why)), "%s: %s\n%s", path, why, d1);
	} else {
		st->configs++;
		struct fts_dsl_parts a, b;
		fts_dsl_parts(y, &a);
		fts_dsl_parts(t, &b);
		/* ft_schedule: {} is FTS's implicit mode, which the language writes as no schedule */
		if (a.schedule && a.schedule->kind == FTS_N_MAP && a.schedule->npairs)
			ck_assert_msg(tree_eq(a.schedule, b.schedule, false, why, sizeof(why)), "%s: %s", path, why);
	}
	/* DSL -> YAML -> DSL */
	char *ys, *cs;
	size_t yn, cn;
	ck_assert_int_eq(fts_dsl_to_yaml(&f.a, &f.d, t, NULL, &ys, &yn, &cs, &cn), 0);
	if (!cs && yn == 0) {           /* implicit mode, nothing FTS-relevant: no output */
		fx_release(&f);
		return;
	}
	struct fts_node *y2 = yaml(&f, "rt2.yaml", cs ? cs : ys, cs ? cn : yn);
	ck_assert_msg(y2 != NULL, "%s: YAML output does not parse:\n%s", path, cs ? cs : ys);
	ck_assert_msg(tree_eq(sched_of(t), sched_of(y2), false, why, sizeof(why)), "%s: %s", path, why);
	size_t n2;
	char *d2 = fts_dsl_from_tree(&f.a, &f.d, y2, &n2);
	ck_assert_msg(strcmp(d1, d2) == 0, "%s: DSL -> YAML -> DSL changed:\n%s\n---\n%s", path, d1, d2);
	/* fmt is idempotent */
	size_t n3;
	char *d3 = fts_dsl_format(&f.a, &f.d, id, &n3);
	ck_assert_str_eq(d3, d1);
	fx_release(&f);
}

static struct rt_stats *walk_stats;

static int walk_cb(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
	(void)sb;
	(void)ftw;
	size_t n = strlen(path);
	if (type == FTW_F && n > 5 && strcmp(path + n - 5, ".yaml") == 0)
		round_trip(path, walk_stats);
	return 0;
}

START_TEST(test_round_trip_tests)
{
	struct rt_stats st = {0};
	walk_stats = &st;
	static const char *const dirs[] = {"tests/schedules", "tests/cases", "tests/config"};
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++)
		ck_assert_int_eq(nftw(dirs[i], walk_cb, 16, FTW_PHYS), 0);
	ck_assert_uint_ge(st.schedules, 60);
	ck_assert_uint_ge(st.configs, 12);
}
END_TEST

/* make check-fts: every schedule and config of FTS's examples and fixtures */
START_TEST(test_round_trip_fts)
{
	struct rt_stats st = {0};
	walk_stats = &st;
	ck_assert_int_eq(nftw(fts_examples_dir(), walk_cb, 16, FTW_PHYS), 0);
	if (fts_fixtures_dir() && !strstr(fts_fixtures_dir(), fts_examples_dir()))
		ck_assert_int_eq(nftw(fts_fixtures_dir(), walk_cb, 16, FTW_PHYS), 0);
	ck_assert_uint_ge(st.schedules, 5);
	fprintf(stderr, "# round trips: %zu files, %zu schedules, %zu configs, %zu not YAML-valid\n",
		st.files, st.schedules, st.configs, st.skipped);
}
END_TEST

START_TEST(test_round_trip_samples)
{
	struct rt_stats st = {0};
	walk_stats = &st;
	ck_assert_int_eq(nftw("samples", walk_cb, 16, FTW_PHYS), 0);
	ck_assert_uint_ge(st.files, 1);
}
END_TEST

/* samples/x.fts and samples/x.yaml hold the same schedule */
START_TEST(test_samples_twins)
{
	DIR *dir = opendir("samples");
	ck_assert_ptr_nonnull(dir);
	struct dirent *e;
	size_t twins = 0;
	while ((e = readdir(dir))) {
		size_t n = strlen(e->d_name);
		if (n < 5 || strcmp(e->d_name + n - 4, ".fts") != 0)
			continue;
		char fp[512], yp[512];
		snprintf(fp, sizeof(fp), "samples/%s", e->d_name);
		snprintf(yp, sizeof(yp), "samples/%.*s.yaml", (int)(n - 4), e->d_name);
		struct fx f;
		fx_init(&f);
		uint32_t id;
		char err[128];
		ck_assert_int_eq(fts_source_load(&f.src, fp, FTS_MAX_INPUT, &id, err, sizeof(err)), 0);
		struct fts_node *t = fts_dsl_parse(&f.a, &f.d, id);
		ck_assert_msg(t != NULL, "%s does not parse", fp);
		if (fts_dsl_has_rest(t)) {
			/* `rest` becomes names only against a manifest: such twins are
			 * compared as built plans (check_cli's test_dsl_plan_identity) */
			fx_release(&f);
			continue;
		}
		size_t len;
		char *text = slurp(yp, &len);
		ck_assert_msg(text != NULL, "%s has no YAML twin", fp);
		struct fts_node *y = yaml(&f, yp, text, len);
		free(text);
		ck_assert_ptr_nonnull(y);
		char why[256] = "";
		if (fts_dsl_is_config(y)) {
			struct fts_dsl_parts a, b;
			fts_dsl_parts(y, &a);
			fts_dsl_parts(t, &b);
			ck_assert_msg(tree_eq(a.model_args, b.model_args, false, why, sizeof(why)), "%s: %s", fp, why);
			ck_assert_msg(tree_eq(a.fts_args, b.fts_args, false, why, sizeof(why)), "%s: %s", fp, why);
		} else {
			ck_assert_msg(tree_eq(y, sched_of(t), false, why, sizeof(why)), "%s: %s", fp, why);
		}
		twins++;
		fx_release(&f);
	}
	closedir(dir);
	ck_assert_uint_ge(twins, 4);
}
END_TEST

/* man/ftsc-lang.5: every `.Bd -literal` block after ".\" example" parses */
START_TEST(test_man_examples)
{
	size_t len;
	char *text = slurp("man/ftsc-lang.5", &len);
	ck_assert_ptr_nonnull(text);
	size_t examples = 0;
	for (char *p = strstr(text, ".\\\" example\n"); p; p = strstr(p + 1, ".\\\" example\n")) {
		char *start = strstr(p, ".Bd -literal");
		ck_assert_ptr_nonnull(start);
		start = strchr(start, '\n') + 1;
		char *end = strstr(start, "\n.Ed");
		ck_assert_ptr_nonnull(end);
		/* mdoc escapes: \e is a backslash, \&. a dot */
		char *ex = malloc((size_t)(end - start) + 2);
		size_t o = 0;
		for (char *q = start; q < end; q++) {
			if (q[0] == '\\' && q[1] == 'e') {
				ex[o++] = '\\';
				q++;
			} else if (q[0] == '\\' && q[1] == '&') {
				q++;
			} else {
				ex[o++] = *q;
			}
		}
		ex[o++] = '\n';
		ex[o] = '\0';
		struct fx f;
		fx_init(&f);
		ck_assert_msg(dsl(&f, ex) != NULL, "man example does not parse:\n%s", ex);
		fx_release(&f);
		free(ex);
		examples++;
	}
	ck_assert_uint_ge(examples, 3);
	free(text);
}
END_TEST

/* mutated samples never crash the parser (the fuzz harness does this at scale) */
/*
 * Mutants of a valid program (one to three random bytes replaced by
 * syntax characters, digits or letters), each held to two properties:
 *  - a refusal is never silent: no tree means at least one error, and
 *    every diagnostic points inside the mutant;
 *  - an accepted mutant prints to canonical text that reads back without
 *    a diagnostic and prints to the same text (the printer is a fixed point
 *    of parse-then-print).
 */
START_TEST(test_mutations)
{
	const char *base =
		"optimizer torch.optim.AdamW(lr: 1.0e-05);\nset max_depth = 2;\n"
		"phase 0 { thaw model.{0..3}.*, re\"a\\.b\"; until epoch 2; }\n"
		"phase 1 { lr_scheduler torch.optim.lr_scheduler.StepLR(step_size: 1) with {interval: epoch}"
		" group_lrs [1e-5]; x: {a: [1, 2]}; }\n";
	size_t n = strlen(base);
	char *buf = malloc(n + 1);
	unsigned seed = 12345;
	size_t refused = 0, accepted = 0;
	for (int it = 0; it < 3000; it++) {
		memcpy(buf, base, n + 1);
		for (int k = 0; k <= it % 3; k++) {
			seed = seed * 1103515245u + 12345u;
			size_t at = (seed >> 8) % n;
			seed = seed * 1103515245u + 12345u;
			buf[at] = "{};,.*\"'()[]:=-# \n0a{19xe_"[(seed >> 8) % 27];
		}
		struct fx f;
		fx_init(&f);
		struct fts_node *r = dsl(&f, buf);
		ck_assert_msg(r || f.d.errors, "mutant %d refused without an error:\n%s", it, buf);
		for (size_t i = 0; i < f.d.n; i++) {
			struct fts_span sp = f.d.v[i]->span;
			ck_assert_msg(!fts_span_valid(sp) || (sp.start <= n && sp.end <= n + 1),
				      "mutant %d: %s points past the text", it, f.d.v[i]->msg);
		}
		if (!r || f.d.errors) {
			refused++;
			fx_release(&f);
			continue;
		}
		size_t len1, len2;
		char *t1 = fts_dsl_from_tree(&f.a, &f.d, r, &len1);
		ck_assert_msg(t1 || f.d.errors, "mutant %d: not printed, no error:\n%s", it, buf);
		if (t1) {
			struct fx g;
			fx_init(&g);
			struct fts_node *r2 = dsl(&g, t1);
			ck_assert_msg(r2 && g.d.n == 0, "mutant %d: its canonical text reads back with %zu "
				      "diagnostic(s):\n%s\n%s", it, g.d.n, buf, t1);
			char *t2 = fts_dsl_from_tree(&g.a, &g.d, r2, &len2);
			ck_assert_msg(t2 && len2 == len1 && !memcmp(t1, t2, len1),
				      "mutant %d: printing is not a fixed point:\n%s\n%s", it, t1,
				      t2 ? t2 : "(null)");
			fx_release(&g);
			accepted++;
		}
		fx_release(&f);
	}
	free(buf);
	/* both kinds happen (the properties were exercised) */
	fprintf(stderr, "check_dsl: %zu mutants refused, %zu accepted and round-tripped\n", refused,
		accepted);
	ck_assert_uint_ge(refused, 1000);
	ck_assert_uint_ge(accepted, 100);
}
END_TEST

static Suite *dsl_suite(void)
{
	Suite *s = suite_create("dsl");
	TCase *tc = tcase_create("dsl");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_parse_shape);
	tcase_add_test(tc, test_values);
	tcase_add_test(tc, test_spans);
	tcase_add_test(tc, test_syntax_errors);
	tcase_add_test(tc, test_semantic_errors);
	tcase_add_test(tc, test_glob_lowering);
	tcase_add_test(tc, test_glob_semantics_on_manifests);
	tcase_add_test(tc, test_regex_to_glob);
	tcase_add_test(tc, test_selector_forms);
	tcase_add_test(tc, test_rest);
	tcase_add_test(tc, test_include);
	tcase_add_test(tc, test_include_policy);
	tcase_add_test(tc, test_round_trip_tests);
	tcase_add_test(tc, test_round_trip_samples);
	tcase_add_test(tc, test_samples_twins);
	tcase_add_test(tc, test_man_examples);
	tcase_add_test(tc, test_mutations);
	suite_add_tcase(s, tc);
	if (fts_examples_dir()) {
		tc = tcase_create("fts-examples");
		tcase_set_timeout(tc, 120);
		tcase_add_test(tc, test_round_trip_fts);
		suite_add_tcase(s, tc);
	}
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(dsl_suite());
	srunner_set_tap(sr, "-");
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
