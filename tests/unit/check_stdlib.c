/*
 * check_stdlib.c - unit tests: the declaration grammar, the expression
 * evaluator, the embedded stdlib (classes, flags, ids, defaults against
 * torch's golden data, state layouts) and init_args checking.
 *
 * The golden files are read from FTS_GOLDEN_DIR (default
 * tests/data/golden, run from the repository root) with libyaml and a
 * small YAML 1.1 resolver.
 */
#include <check.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "arena.h"
#include "ast.h"
#include "decl.h"
#include "expr.h"
#include "source.h"
#include "fts_stdlib.h"

/* ---- helpers ------------------------------------------------------------ */

struct diag {
	int n;
	struct fts_span span[32];
	char msg[32][512];
	char sugg[32][128];
	enum fts_argerr kind[32];
};

static void rep_parse(void *ctx, struct fts_span sp, const char *msg)
{
	struct diag *d = ctx;
	if (d->n < 32) {
		d->span[d->n] = sp;
		snprintf(d->msg[d->n], sizeof d->msg[0], "%s", msg);
	}
	d->n++;
}

static void rep_arg(void *ctx, enum fts_argerr kind, struct fts_span sp, const char *msg,
		    const char *sugg)
{
	struct diag *d = ctx;
	if (d->n < 32) {
		d->span[d->n] = sp;
		d->kind[d->n] = kind;
		snprintf(d->msg[d->n], sizeof d->msg[0], "%s", msg);
		snprintf(d->sugg[d->n], sizeof d->sugg[0], "%s", sugg ? sugg : "");
	}
	d->n++;
}

/* Evaluate an expression and return repr(result) or "!" + error message. */
static const char *ev(struct fts_arena *a, const char *src)
{
	struct diag d = {0};
	struct fts_expr *e = fts_expr_parse(a, 0, 0, src, strlen(src), rep_parse, &d);
	struct fts_value v;
	struct fts_eval_error err;

	if (!e)
		return fts_arena_printf(a, "!syntax: %s", d.n ? d.msg[0] : "?");
	if (fts_expr_eval(e, a, NULL, NULL, &v, &err))
		return fts_arena_printf(a, "!%s", err.msg);
	return fts_value_repr(a, &v);
}

/* Minimal YAML 1.1 (PyYAML) resolver over a libyaml document. */
static struct fts_node *conv(struct fts_arena *a, yaml_document_t *doc, yaml_node_t *yn)
{
	struct fts_node *n = fts_arena_alloc(a, sizeof *n);
	n->span = fts_span_make(0, yn->start_mark.index, yn->end_mark.index);
	switch (yn->type) {
	case YAML_SCALAR_NODE: {
		const char *t = (const char *)yn->data.scalar.value;
		char *end;
		n->kind = FTS_N_SCALAR;
		n->text = fts_arena_strdup(a, t);
		n->len = yn->data.scalar.length;
		n->quoted = yn->data.scalar.style != YAML_PLAIN_SCALAR_STYLE;
		n->py = FTS_PY_STR;
		if (n->quoted)
			break;
		if (!*t || !strcmp(t, "null") || !strcmp(t, "~")) {
			n->py = FTS_PY_NONE;
		} else if (!strcmp(t, "true") || !strcmp(t, "false")) {
			n->py = FTS_PY_BOOL;
			n->b = t[0] == 't';
		} else {
			long long iv = strtoll(t, &end, 10);
			if (!*end) {
				n->py = FTS_PY_INT;
				n->i = iv;
				n->f = (double)iv;
			} else if (strchr(t, '.')) {
				double f = strtod(t, &end);
				if (!*end) {
					n->py = FTS_PY_FLOAT;
					n->f = f;
				}
			}
		}
		break;
	}
	case YAML_SEQUENCE_NODE: {
		size_t cnt = (size_t)(yn->data.sequence.items.top - yn->data.sequence.items.start);
		n->kind = FTS_N_SEQ;
		n->items = fts_arena_alloc(a, (cnt ? cnt : 1) * sizeof *n->items);
		for (size_t k = 0; k < cnt; k++)
			n->items[n->nitems++] = conv(a, doc, yaml_document_get_node(doc,
						      yn->data.sequence.items.start[k]));
		break;
	}
	case YAML_MAPPING_NODE: {
		size_t cnt = (size_t)(yn->data.mapping.pairs.top - yn->data.mapping.pairs.start);
		n->kind = FTS_N_MAP;
		n->pairs = fts_arena_alloc(a, (cnt ? cnt : 1) * sizeof *n->pairs);
		for (size_t k = 0; k < cnt; k++) {
			yaml_node_pair_t *p = &yn->data.mapping.pairs.start[k];
			n->pairs[k].key = conv(a, doc, yaml_document_get_node(doc, p->key));
			n->pairs[k].value = conv(a, doc, yaml_document_get_node(doc, p->value));
			n->npairs++;
		}
		break;
	}
	default:
		n->kind = FTS_N_SCALAR;
		n->py = FTS_PY_NONE;
	}
	return n;
}

static struct fts_node *yaml_text(struct fts_arena *a, const char *text)
{
	yaml_parser_t p;
	yaml_document_t doc;
	struct fts_node *n = NULL;

	yaml_parser_initialize(&p);
	yaml_parser_set_input_string(&p, (const unsigned char *)text, strlen(text));
	if (yaml_parser_load(&p, &doc)) {
		yaml_node_t *root = yaml_document_get_root_node(&doc);
		if (root)
			n = conv(a, &doc, root);
		yaml_document_delete(&doc);
	}
	yaml_parser_delete(&p);
	return n;
}

static struct fts_node *yaml_file(struct fts_arena *a, const char *path)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long len;
	struct fts_node *n;

	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	len = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = fts_arena_alloc(a, (size_t)len + 1);
	if (fread(buf, 1, (size_t)len, f) != (size_t)len)
		len = 0;
	buf[len] = '\0';
	fclose(f);
	n = yaml_text(a, buf);
	return n;
}

static const struct fts_node *get(const struct fts_node *m, const char *key)
{
	if (!m || m->kind != FTS_N_MAP)
		return NULL;
	for (size_t k = 0; k < m->npairs; k++)
		if (m->pairs[k].key->text && !strcmp(m->pairs[k].key->text, key))
			return m->pairs[k].value;
	return NULL;
}

static const char *golden_dir(void)
{
	const char *d = getenv("FTS_GOLDEN_DIR");
	return d ? d : "tests/data/golden";
}

/* Check init_args given as YAML text; returns the diagnostics. */
static struct diag check_yaml(const struct fts_stdlib *lib, const char *path, const char *yaml,
			      const struct fts_groups_env *env)
{
	struct fts_arena a;
	struct diag d = {0};
	const struct fts_decl_class *c = fts_stdlib_find(lib, path);

	ck_assert_msg(c != NULL, "class %s", path);
	fts_arena_init(&a);
	struct fts_node *n = yaml_text(&a, yaml);
	fts_stdlib_check_args_ex(lib, c, n, FTS_SPAN_NONE, env, rep_arg, &d);
	fts_arena_release(&a);
	return d;
}

/* ---- grammar --------------------------------------------------------------- */

static const char sample[] =
	"# torch.optim.AdamW, torch 2.11\n"
	"optimizer my.AdamW {\n"
	"    alias my.adamw.AdamW;\n"
	"    id 7;\n"
	"    arg lr: float = 0.001;\n"
	"    arg betas: tuple(float, float) = (0.9, 0.999);\n"
	"    arg eps: float = 1e-8;\n"
	"    arg fused: optional(bool) = none;\n"
	"    arg mode: choice(\"min\", \"max\") | none = \"min\";\n"
	"    arg xs: tuple(int, ...) = ();\n"
	"    check 0.0 <= lr : \"Invalid learning rate: {lr}\";\n"
	"    check 0.0 <= betas[0] < 1.0 : \"Invalid beta parameter at index 0: {betas[0]}\";\n"
	"    state step: scalar;\n"
	"    state max_exp_avg_sq: param if amsgrad;\n"
	"}\n"
	"lr_scheduler my.StepLR {\n"
	"    fts_supported; chainable;\n"
	"    arg step_size: int;\n"
	"    @groups check ngroups >= 0 : 'x {{literal}} {ngroups}' raises RuntimeError;\n"
	"}\n";

START_TEST(test_grammar_valid)
{
	struct fts_arena a;
	struct diag d = {0};
	struct fts_decl_file f;

	fts_arena_init(&a);
	ck_assert_int_eq(fts_decl_parse(&a, 3, sample, strlen(sample), rep_parse, &d, &f), 0);
	ck_assert_int_eq(d.n, 0);
	ck_assert_uint_eq(f.nclasses, 2);
	const struct fts_decl_class *c = f.classes[0];
	ck_assert_str_eq(c->path, "my.AdamW");
	ck_assert_str_eq(c->name, "AdamW");
	ck_assert_uint_eq(c->naliases, 1);
	ck_assert_str_eq(c->aliases[0], "my.adamw.AdamW");
	ck_assert(c->has_id);
	ck_assert_uint_eq(c->id, 7);
	ck_assert_uint_eq(c->nargs, 6);
	ck_assert_int_eq(c->args[1].type->kind, FTS_T_TUPLE);
	ck_assert_uint_eq(c->args[1].type->nelems, 2);
	ck_assert_int_eq(c->args[3].type->kind, FTS_T_OPTIONAL);
	ck_assert_int_eq(c->args[4].type->kind, FTS_T_UNION);
	ck_assert_int_eq(c->args[4].type->elems[0]->kind, FTS_T_CHOICE);
	ck_assert_uint_eq(c->args[4].type->elems[0]->nchoices, 2);
	ck_assert(c->args[5].type->variadic);
	ck_assert_uint_eq(c->nchecks, 2);
	ck_assert_uint_eq(c->checks[1].nparts, 2);
	ck_assert_str_eq(c->checks[1].parts[0].text, "Invalid beta parameter at index 0: ");
	ck_assert_int_eq(c->checks[1].parts[1].expr->kind, FTS_E_INDEX);
	ck_assert_int_eq(c->checks[1].cond->kind, FTS_E_COMPARE);
	ck_assert_uint_eq(c->checks[1].cond->nargs, 3);   /* chained */
	ck_assert_uint_eq(c->nstates, 2);
	ck_assert_int_eq(c->states[1].kind, FTS_STATE_PARAM);
	ck_assert_ptr_nonnull(c->states[1].cond);
	/* spans are byte offsets into the file */
	ck_assert_uint_eq(c->name_span.file, 3);
	ck_assert_int_eq(strncmp(sample + c->name_span.start, "my.AdamW", 8), 0);
	ck_assert_uint_eq(c->name_span.end - c->name_span.start, 8);
	c = f.classes[1];
	ck_assert_int_eq(c->kind, FTS_DECL_LR_SCHEDULER);
	ck_assert_uint_eq(c->flags, FTS_CLS_FTS_SUPPORTED | FTS_CLS_CHAINABLE);
	ck_assert_ptr_null(c->args[0].def);
	ck_assert_int_eq(c->checks[0].when, FTS_CHECK_GROUPS);
	ck_assert_str_eq(c->checks[0].exc, "RuntimeError");
	ck_assert_str_eq(c->checks[0].parts[0].text, "x {literal} ");
	fts_arena_release(&a);
}
END_TEST

START_TEST(test_grammar_errors)
{
	static const char bad[] =
		"optimizer a.B {\n"
		"    arg lr float = 1;\n"                  /* missing ':' */
		"    arg ok: float = 2;\n"
		"    check lr < : \"x\";\n"                /* bad expression */
		"    state s: blob;\n"                     /* unknown kind */
		"    bogus_flag;\n"                        /* unknown flag */
		"}\n"
		"lr_scheduler c.D { arg x: int = $; }\n"   /* stray character */
		"optimizer e.F { arg y: int; }\n";
	struct fts_arena a;
	struct diag d = {0};
	struct fts_decl_file f;

	fts_arena_init(&a);
	int n = fts_decl_parse(&a, 0, bad, strlen(bad), rep_parse, &d, &f);
	ck_assert_int_ge(n, 5);
	ck_assert_int_eq(n, d.n);
	/* first: at 'float' on line 2 */
	ck_assert_msg(strstr(d.msg[0], "syntax error") != NULL, "%s", d.msg[0]);
	ck_assert_msg(strstr(d.msg[0], "expecting ':'") != NULL, "%s", d.msg[0]);
	ck_assert_int_eq(strncmp(bad + d.span[0].start, "float", 5), 0);
	int saw_kind = 0, saw_flag = 0, saw_stray = 0;
	for (int k = 0; k < d.n && k < 32; k++) {
		if (strstr(d.msg[k], "unknown state kind 'blob'"))
			saw_kind = !strncmp(bad + d.span[k].start, "blob", 4);
		if (strstr(d.msg[k], "unknown class flag 'bogus_flag'"))
			saw_flag = 1;
		if (strstr(d.msg[k], "stray '$'"))
			saw_stray = bad[d.span[k].start] == '$';
	}
	ck_assert(saw_kind);
	ck_assert(saw_flag);
	ck_assert(saw_stray);
	/* recovery kept the good classes */
	ck_assert_uint_ge(f.nclasses, 2);
	ck_assert_str_eq(f.classes[f.nclasses - 1]->path, "e.F");
	fts_arena_release(&a);
}
END_TEST

/* ---- evaluator ----------------------------------------------------------------- */

START_TEST(test_eval_python)
{
	static const struct {
		const char *src, *want;
	} cases[] = {
		{"1 + 2", "3"}, {"1 + 2.0", "3.0"}, {"7 / 2", "3.5"}, {"7 // 2", "3"},
		{"-7 // 2", "-4"}, {"-7 % 3", "2"}, {"7 % -3", "-2"}, {"-7.0 // 2", "-4.0"},
		{"2 ** 10", "1024"}, {"2 ** -1", "0.5"}, {"-2 ** 2", "-4"}, {"2 ** 3 ** 2", "512"},
		{"0.95 ** 2", "0.9025"}, {"1e-5", "1e-05"}, {"1e16", "1e+16"}, {"0.0001", "0.0001"},
		{"1.0 / 3", "0.3333333333333333"}, {"True + True", "2"}, {"0 <= 0.5 < 1", "True"},
		{"0 <= 1.5 < 1", "False"}, {"1 < 2 < 3 < 2", "False"}, {"(1 < 2) < 2", "True"},
		{"1 == 1.0", "True"}, {"'a' == 1", "False"}, {"none is none", "True"},
		{"1 is not none", "True"}, {"0 or 'x'", "'x'"}, {"1 and 0.0", "0.0"},
		{"not []", "True"}, {"(0.9, 0.999)[1]", "0.999"}, {"[1, 2, 3][-1]", "3"},
		{"min(3, 1.5)", "1.5"}, {"max([1, 7, 2])", "7"}, {"abs(-2.5)", "2.5"},
		{"len((1, 2))", "2"}, {"float('1e-5')", "1e-05"}, {"int(2.9)", "2"},
		{"int(-2.9)", "-2"}, {"'a' in ('a', 'b')", "True"}, {"3 not in [1, 2]", "True"},
		{"1 if 0 else 2", "2"}, {"(1,)", "(1,)"}, {"()", "()"}, {"'ab' + 'c'", "'abc'"},
		{"(1, 2) + (3,)", "(1, 2, 3)"}, {"1_000", "1000"}, {"0x10", "16"},
		{"is_seq([1])", "True"}, {"is_seq(1)", "False"}, {"(1, 2) < (1, 3)", "True"},
	};
	static const struct {
		const char *src, *want;
	} errs[] = {
		{"1 / 0", "ZeroDivisionError"}, {"1 // 0", "ZeroDivisionError"},
		{"1.0 % 0", "ZeroDivisionError"}, {"'a' < 1", "TypeError: '<' not supported between instances of 'str' and 'int'"},
		{"none < 1", "TypeError"}, {"'a' + 1", "TypeError: unsupported operand type(s) for +"},
		{"(1, 2)[5]", "IndexError: tuple index out of range"}, {"1[0]", "TypeError"},
		{"x + 1", "NameError: name 'x' is not defined"}, {"len(1)", "TypeError"},
		{"2 ** 100", "OverflowError"}, {"(-8) ** 0.5", "ValueError"},
		{"float('abc')", "ValueError"}, {"min([])", "ValueError"}, {"nosuch(1)", "NameError"},
	};
	struct fts_arena a;

	fts_arena_init(&a);
	for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
		const char *got = ev(&a, cases[k].src);
		ck_assert_msg(!strcmp(got, cases[k].want), "%s: got %s, want %s", cases[k].src, got,
			      cases[k].want);
	}
	for (size_t k = 0; k < sizeof errs / sizeof errs[0]; k++) {
		const char *got = ev(&a, errs[k].src);
		ck_assert_msg(got[0] == '!' && strstr(got, errs[k].want), "%s: got %s, want %s",
			      errs[k].src, got, errs[k].want);
	}
	/* syntax error in an expression is reported with its span */
	ck_assert_msg(!strncmp(ev(&a, "1 +"), "!syntax", 7), "1 +");
	fts_arena_release(&a);
}
END_TEST

static bool env_epoch(void *ctx, const char *name, struct fts_value *out)
{
	if (strcmp(name, "epoch"))
		return false;
	*out = fts_value_int(*(int *)ctx);
	return true;
}

START_TEST(test_eval_lambda)
{
	struct fts_arena a;
	struct fts_value v;
	int epoch = 3;

	fts_arena_init(&a);
	struct fts_expr *e = fts_expr_parse(&a, 0, 100, "0.95 ** epoch", 13, NULL, NULL);
	ck_assert_ptr_nonnull(e);
	ck_assert_uint_eq(e->span.start, 100);
	ck_assert_uint_eq(e->span.end, 113);
	ck_assert_int_eq(fts_expr_eval(e, &a, env_epoch, &epoch, &v, NULL), 0);
	ck_assert_int_eq(v.kind, FTS_V_FLOAT);
	ck_assert_double_eq_tol(v.f, 0.857375, 1e-15);
	e = fts_expr_parse(&a, 0, 0, "min(1.0, (epoch + 1) / 5)", 25, NULL, NULL);
	ck_assert_int_eq(fts_expr_eval(e, &a, env_epoch, &epoch, &v, NULL), 0);
	ck_assert_double_eq(v.f, 0.8);
	e = fts_expr_parse(&a, 0, 0, "lr + 1", 6, NULL, NULL);
	ck_assert_int_eq(fts_expr_eval(e, &a, env_epoch, &epoch, &v, NULL), FTS_EVAL_UNBOUND);
	fts_arena_release(&a);
}
END_TEST

/* ---- stdlib contents ------------------------------------------------------------ */

static struct fts_stdlib *lib;

static void lib_setup(void)
{
	lib = fts_stdlib_load();
}

static void lib_teardown(void)
{
	fts_stdlib_free(lib);
	lib = NULL;
}

START_TEST(test_every_class)
{
	static const char *const optims[] = {
		"SGD", "Adam", "AdamW", "Adagrad", "Adadelta", "Adamax", "NAdam", "RAdam",
		"RMSprop", "Rprop", "ASGD", "SparseAdam", "LBFGS", "Adafactor", "Muon",
	};
	static const struct {
		const char *name;
		unsigned flags;
	} lrs[] = {
		{"LambdaLR", FTS_CLS_FTS_SUPPORTED | FTS_CLS_LAMBDAS},
		{"MultiplicativeLR", FTS_CLS_FTS_SUPPORTED | FTS_CLS_LAMBDAS | FTS_CLS_CHAINABLE},
		{"StepLR", FTS_CLS_FTS_SUPPORTED | FTS_CLS_CHAINABLE | FTS_CLS_CLOSED_FORM},
		{"MultiStepLR", FTS_CLS_FTS_SUPPORTED | FTS_CLS_CHAINABLE | FTS_CLS_CLOSED_FORM},
		{"ConstantLR", FTS_CLS_FTS_SUPPORTED | FTS_CLS_CHAINABLE | FTS_CLS_CLOSED_FORM},
		{"LinearLR", FTS_CLS_FTS_SUPPORTED | FTS_CLS_CHAINABLE | FTS_CLS_CLOSED_FORM},
		{"ExponentialLR", FTS_CLS_FTS_SUPPORTED | FTS_CLS_CHAINABLE | FTS_CLS_CLOSED_FORM},
		{"SequentialLR", FTS_CLS_CONTAINER},
		{"PolynomialLR", FTS_CLS_CHAINABLE | FTS_CLS_CLOSED_FORM},
		{"CosineAnnealingLR", FTS_CLS_FTS_SUPPORTED | FTS_CLS_CHAINABLE | FTS_CLS_CLOSED_FORM},
		{"ChainedScheduler", FTS_CLS_CONTAINER | FTS_CLS_NO_OPTIMIZER_ARG},
		{"ReduceLROnPlateau", FTS_CLS_FTS_SUPPORTED | FTS_CLS_PLATEAU},
		{"CyclicLR", FTS_CLS_CYCLES_MOMENTUM},
		{"OneCycleLR", FTS_CLS_CYCLES_MOMENTUM},
		{"CosineAnnealingWarmRestarts", FTS_CLS_FTS_SUPPORTED},
	};
	char path[128];
	int supported = 0;

	for (size_t k = 0; k < sizeof optims / sizeof optims[0]; k++) {
		snprintf(path, sizeof path, "torch.optim.%s", optims[k]);
		const struct fts_decl_class *c = fts_stdlib_find(lib, path);
		ck_assert_msg(c != NULL, "%s", path);
		ck_assert_int_eq(c->kind, FTS_DECL_OPTIMIZER);
		/* only Adagrad creates its state in the constructor */
		ck_assert_uint_eq(c->flags, strcmp(optims[k], "Adagrad") ? 0u : (unsigned)FTS_CLS_STATE_AT_CONSTRUCTION);
		ck_assert_msg(c->nreads > 0, "%s declares no reads", path);
		ck_assert_ptr_eq(fts_stdlib_by_id(lib, c->id), c);
		ck_assert_ptr_nonnull(fts_class_arg(c, "lr"));
		ck_assert_uint_eq(c->naliases, 1);
		ck_assert_ptr_eq(fts_stdlib_find(lib, c->aliases[0]), c);
	}
	for (size_t k = 0; k < sizeof lrs / sizeof lrs[0]; k++) {
		snprintf(path, sizeof path, "torch.optim.lr_scheduler.%s", lrs[k].name);
		const struct fts_decl_class *c = fts_stdlib_find(lib, path);
		ck_assert_msg(c != NULL, "%s", path);
		ck_assert_int_eq(c->kind, FTS_DECL_LR_SCHEDULER);
		ck_assert_msg(c->flags == lrs[k].flags, "%s flags %#x", path, c->flags);
		ck_assert_ptr_eq(fts_stdlib_by_id(lib, c->id), c);
		supported += fts_class_has(c, FTS_CLS_FTS_SUPPORTED);
	}
	ck_assert_int_eq(supported, 10);
	const struct fts_decl_class *z =
		fts_stdlib_find(lib, "torch.distributed.optim.ZeroRedundancyOptimizer");
	ck_assert_ptr_nonnull(z);
	ck_assert(fts_class_has(z, FTS_CLS_NO_REINIT));
	ck_assert_uint_eq(lib->classes.n, 31);
	/* ids are unique and stable (declaration order) */
	for (size_t i = 0; i < lib->classes.n; i++)
		ck_assert_uint_eq(lib->classes.v[i]->id, i);
	ck_assert_ptr_null(fts_stdlib_find(lib, "torch.optim.Nope"));
	ck_assert_str_eq(fts_stdlib_suggest(lib, "torch.optim.Adamw"), "torch.optim.AdamW");
	ck_assert_str_eq(fts_stdlib_suggest(lib, "torch.optim.StepLR"),
			 "torch.optim.lr_scheduler.StepLR");
	ck_assert_ptr_null(fts_stdlib_suggest(lib, "completely.Different"));
}
END_TEST

/* Every key of torch_defaults the golden file did not override must equal
 * the stdlib default; foreach is resolved by torch at the first step. */
START_TEST(test_golden_optim_defaults)
{
	char dirpath[512], path[1024];
	DIR *dir;
	struct dirent *de;
	int files = 0;

	snprintf(dirpath, sizeof dirpath, "%s/optim", golden_dir());
	dir = opendir(dirpath);
	ck_assert_msg(dir != NULL, "cannot open %s", dirpath);
	while ((de = readdir(dir))) {
		size_t l = strlen(de->d_name);
		if (l < 5 || strcmp(de->d_name + l - 5, ".yaml"))
			continue;
		struct fts_arena a;
		fts_arena_init(&a);
		snprintf(path, sizeof path, "%s/%s", dirpath, de->d_name);
		struct fts_node *root = yaml_file(&a, path);
		ck_assert_msg(root != NULL, "%s", path);
		const struct fts_node *oi = get(root, "optimizer_init");
		const char *cp = get(oi, "class_path")->text;
		const struct fts_node *ia = get(oi, "init_args");
		const struct fts_node *td = get(root, "torch_defaults");
		const struct fts_decl_class *c = fts_stdlib_find(lib, cp);
		ck_assert_msg(c != NULL, "%s: %s", de->d_name, cp);
		for (size_t k = 0; k < td->npairs; k++) {
			const char *key = td->pairs[k].key->text;
			const struct fts_decl_arg *da = NULL;
			for (size_t j = 0; j < c->nargs; j++)
				if (!strcmp(c->args[j].name, key))
					da = &c->args[j];
			ck_assert_msg(da != NULL, "%s: torch default '%s' not declared", de->d_name, key);
			if (get(ia, key) || !strcmp(key, "foreach"))
				continue;
			struct fts_value want = fts_value_from_node(&a, td->pairs[k].value);
			if (want.kind == FTS_V_LIST && da->defval.kind == FTS_V_TUPLE)
				want.kind = FTS_V_TUPLE;   /* the dump writes tuples as lists */
			ck_assert_msg(fts_value_equal(&da->defval, &want), "%s: %s default %s, torch %s",
				      de->d_name, key, fts_value_repr(&a, &da->defval),
				      fts_value_repr(&a, &want));
		}
		/* every declared argument is one torch reports (no extras) */
		for (size_t j = 0; j < c->nargs; j++)
			ck_assert_msg(get(td, c->args[j].name) != NULL, "%s: '%s' not in torch_defaults",
				      de->d_name, c->args[j].name);
		/* the golden init_args check clean */
		struct diag d = {0};
		fts_stdlib_check_args(lib, c, ia, FTS_SPAN_NONE, rep_arg, &d);
		if (!strcmp(c->name, "Muon"))   /* 2-D only: FTS's 1-D probe always fails */
			ck_assert_msg(d.n == 1 && d.kind[0] == FTS_ARG_CONSTRAINT, "%s", d.msg[0]);
		else
			ck_assert_msg(d.n == 0, "%s: %s", de->d_name, d.msg[0]);
		/* state layout: keys of the first parameter, in torch's order */
		const struct fts_node *st = get(root, "state_after_last_step");
		const struct fts_node *s0 = st->items[0];
		struct fts_resolved_arg *ra;
		const struct fts_decl_state *slots[16];
		fts_stdlib_resolve(c, ia, &a, &ra);
		size_t ns = fts_stdlib_state_slots(c, ra, &a, slots, 16);
		size_t m = 0;
		for (size_t j = 0; j < ns && j < 16; j++) {
			if (slots[j]->kind == FTS_STATE_FACTORED)
				continue;
			ck_assert_msg(m < s0->npairs && !strcmp(s0->pairs[m].key->text, slots[j]->name),
				      "%s: state slot %zu is '%s'", de->d_name, m, slots[j]->name);
			m++;
		}
		ck_assert_msg(m == s0->npairs, "%s: %zu state slots, torch has %zu", de->d_name, m,
			      s0->npairs);
		files++;
		fts_arena_release(&a);
	}
	closedir(dir);
	ck_assert_int_ge(files, 20);
}
END_TEST

/* Every golden scheduler configuration checks clean (lambda_expr supplies
 * the lr_lambda FTS cannot express in YAML). */
START_TEST(test_golden_lrs)
{
	char dirpath[512], path[1024];
	DIR *dir;
	struct dirent *de;
	int files = 0;

	snprintf(dirpath, sizeof dirpath, "%s/lrs", golden_dir());
	dir = opendir(dirpath);
	ck_assert_msg(dir != NULL, "cannot open %s", dirpath);
	while ((de = readdir(dir))) {
		size_t l = strlen(de->d_name);
		if (l < 5 || strcmp(de->d_name + l - 5, ".yaml"))
			continue;
		struct fts_arena a;
		fts_arena_init(&a);
		snprintf(path, sizeof path, "%s/%s", dirpath, de->d_name);
		struct fts_node *root = yaml_file(&a, path);
		const struct fts_node *li = get(root, "lr_scheduler_init");
		const char *cp = get(li, "class_path")->text;
		struct fts_node *ia = (struct fts_node *)get(li, "init_args");
		const struct fts_node *le = get(root, "lambda_expr");
		const struct fts_decl_class *c = fts_stdlib_find(lib, cp);
		ck_assert_msg(c != NULL, "%s: %s", de->d_name, cp);
		if (le && le->py == FTS_PY_STR) {
			struct fts_pair *p = fts_arena_alloc(&a, (ia->npairs + 1) * sizeof *p);
			memcpy(p, ia->pairs, ia->npairs * sizeof *p);
			struct fts_node *k = fts_arena_alloc(&a, sizeof *k);
			k->kind = FTS_N_SCALAR;
			k->py = FTS_PY_STR;
			k->text = "lr_lambda";
			k->len = 9;
			p[ia->npairs].key = k;
			p[ia->npairs].value = (struct fts_node *)le;
			ia->pairs = p;
			ia->npairs++;
		}
		struct fts_groups_env env = {3, 1, 1};  /* SGD momentum=0.9, three groups */
		struct diag d = {0};
		fts_stdlib_check_args_ex(lib, c, ia, FTS_SPAN_NONE, &env, rep_arg, &d);
		/* OneCycleLR's max_lr list has 3 values: FTS's zero-group probe rejects it */
		if (!strcmp(c->name, "OneCycleLR")) {
			ck_assert_int_eq(d.n, 1);
			ck_assert_int_eq(d.kind[0], FTS_ARG_CONSTRAINT);
			ck_assert_msg(strstr(d.msg[0], "max_lr has 3 values, param_groups has 0"), "%s",
				      d.msg[0]);
		} else {
			ck_assert_msg(d.n == 0, "%s: %s", de->d_name, d.msg[0]);
		}
		files++;
		fts_arena_release(&a);
	}
	closedir(dir);
	ck_assert_int_ge(files, 15);
}
END_TEST

/* ---- argument checking ------------------------------------------------------------ */

START_TEST(test_args_unknown_missing)
{
	struct diag d = check_yaml(lib, "torch.optim.Adam", "{lr: 0.1, weight_decy: 0.1}", NULL);
	ck_assert_int_eq(d.n, 1);
	ck_assert_int_eq(d.kind[0], FTS_ARG_UNKNOWN);
	ck_assert_str_eq(d.sugg[0], "weight_decay");
	ck_assert_msg(strstr(d.msg[0], "unexpected keyword argument 'weight_decy'"), "%s", d.msg[0]);
	ck_assert_uint_eq(d.span[0].start, 10);   /* the key */

	d = check_yaml(lib, "torch.optim.lr_scheduler.StepLR", "{gamma: 0.5}", NULL);
	ck_assert_int_eq(d.n, 1);
	ck_assert_int_eq(d.kind[0], FTS_ARG_MISSING);
	ck_assert_msg(strstr(d.msg[0], "'step_size'"), "%s", d.msg[0]);

	d = check_yaml(lib, "torch.optim.lr_scheduler.StepLR", "{step_size: 2, optimizer: x}", NULL);
	ck_assert_int_eq(d.n, 0);   /* V-R11 is the caller's warning */

	d = check_yaml(lib, "torch.distributed.optim.ZeroRedundancyOptimizer",
		       "{optimizer_class: torch.optim.AdamW, lr: 0.1}", NULL);
	ck_assert_int_eq(d.n, 0);   /* **defaults */
}
END_TEST

START_TEST(test_args_constraints)
{
	struct diag d = check_yaml(lib, "torch.optim.Adam", "{lr: -1}", NULL);
	ck_assert_int_eq(d.n, 1);
	ck_assert_int_eq(d.kind[0], FTS_ARG_CONSTRAINT);
	ck_assert_str_eq(d.msg[0], "Adam raises ValueError: Invalid learning rate: -1");
	ck_assert_uint_eq(d.span[0].start, 5);

	d = check_yaml(lib, "torch.optim.Adam", "{betas: [1.0, 0.9]}", NULL);
	ck_assert_int_eq(d.n, 1);
	ck_assert_str_eq(d.msg[0], "Adam raises ValueError: Invalid beta parameter at index 0: 1.0");

	d = check_yaml(lib, "torch.optim.SGD", "{lr: 0.1, nesterov: true}", NULL);
	ck_assert_int_eq(d.n, 1);
	ck_assert_msg(strstr(d.msg[0], "Nesterov momentum requires a momentum and zero dampening"),
		      "%s", d.msg[0]);
	d = check_yaml(lib, "torch.optim.SGD", "{lr: 0.1, nesterov: true, momentum: 0.9}", NULL);
	ck_assert_int_eq(d.n, 0);

	d = check_yaml(lib, "torch.optim.lr_scheduler.ConstantLR", "{factor: 1.5}", NULL);
	ck_assert_int_eq(d.n, 1);
	ck_assert_str_eq(d.msg[0], "ConstantLR raises ValueError: Constant multiplicative factor "
			 "expected to be between 0 and 1.");

	d = check_yaml(lib, "torch.optim.SGD", "{fused: true, foreach: true}", NULL);
	ck_assert_int_eq(d.n, 1);
	ck_assert_msg(strstr(d.msg[0], "raises RuntimeError: `fused` and `foreach`"), "%s", d.msg[0]);

	d = check_yaml(lib, "torch.optim.Rprop", "{etas: [0.5, 0.9]}", NULL);
	ck_assert_int_eq(d.n, 1);
	ck_assert_msg(strstr(d.msg[0], "Invalid eta values: 0.5, 0.9"), "%s", d.msg[0]);

	/* Muon always fails FTS's V-O3 probe (a 1-D parameter) */
	d = check_yaml(lib, "torch.optim.Muon", "{lr: 0.02}", NULL);
	ck_assert_int_eq(d.n, 1);
	ck_assert_int_eq(d.kind[0], FTS_ARG_CONSTRAINT);

	/* a list min_lr: FTS removes it before the probe; torch checks it at the transition */
	struct fts_groups_env env = {2, 1, 1};
	d = check_yaml(lib, "torch.optim.lr_scheduler.ReduceLROnPlateau", "{min_lr: [0.1, 0.1, 0.1]}",
		       &env);
	ck_assert_int_eq(d.n, 1);
	ck_assert_int_eq(d.kind[0], FTS_ARG_CONSTRAINT_RUNTIME);
	ck_assert_msg(strstr(d.msg[0], "expected 2 min_lrs, got 3"), "%s", d.msg[0]);

	/* OneCycleLR needs total_steps or epochs and steps_per_epoch */
	d = check_yaml(lib, "torch.optim.lr_scheduler.OneCycleLR", "{max_lr: 0.1}", NULL);
	ck_assert_int_eq(d.n, 1);
	ck_assert_msg(strstr(d.msg[0], "You must define either total_steps OR"), "%s", d.msg[0]);

	/* CyclicLR on an optimizer without momentum: only known at the transition */
	struct fts_groups_env nomom = {1, 1, 0};
	d = check_yaml(lib, "torch.optim.lr_scheduler.CyclicLR", "{base_lr: 0.01, max_lr: 0.1}", &nomom);
	ck_assert_int_eq(d.n, 1);
	ck_assert_int_eq(d.kind[0], FTS_ARG_CONSTRAINT_RUNTIME);

	/* nested schedulers are checked */
	d = check_yaml(lib, "torch.optim.lr_scheduler.SequentialLR",
		       "{schedulers: [{class_path: torch.optim.lr_scheduler.ConstantLR, "
		       "init_args: {factor: 2.0}}, {class_path: torch.optim.lr_scheduler.StepLRR, "
		       "init_args: {}}], milestones: [3, 4]}", NULL);
	ck_assert_int_eq(d.n, 3);
	ck_assert_msg(strstr(d.msg[0], "Constant multiplicative factor"), "%s", d.msg[0]);
	ck_assert_str_eq(d.sugg[1], "torch.optim.lr_scheduler.StepLR");
	ck_assert_msg(strstr(d.msg[2], "number of schedulers 2 and the number of milestones to be equal to 2"),
		      "%s", d.msg[2]);
}
END_TEST

START_TEST(test_args_types)
{
	struct diag d = check_yaml(lib, "torch.optim.AdamW", "{lr: 1e-5}", NULL);
	ck_assert_int_eq(d.n, 1);
	ck_assert_int_eq(d.kind[0], FTS_ARG_TYPE);
	ck_assert_msg(strstr(d.msg[0], "PyYAML reads '1e-5' as a string; write 1.0e-5"), "%s", d.msg[0]);
	ck_assert_str_eq(d.sugg[0], "1.0e-5");
	ck_assert_uint_eq(d.span[0].start, 5);
	ck_assert_uint_eq(d.span[0].end, 9);

	d = check_yaml(lib, "torch.optim.Adam", "{betas: [0.9, 1e-3]}", NULL);
	ck_assert_int_eq(d.n, 1);
	ck_assert_msg(strstr(d.msg[0], "'1e-3' as a string"), "%s", d.msg[0]);

	d = check_yaml(lib, "torch.optim.Adam", "{amsgrad: 'yes please'}", NULL);
	ck_assert_int_eq(d.n, 1);
	ck_assert_msg(strstr(d.msg[0], "must be bool, not str 'yes please'"), "%s", d.msg[0]);

	d = check_yaml(lib, "torch.optim.lr_scheduler.ReduceLROnPlateau", "{mode: avg}", NULL);
	ck_assert_int_eq(d.n, 1);
	ck_assert_msg(strstr(d.msg[0], "choice('min', 'max')"), "%s", d.msg[0]);

	d = check_yaml(lib, "torch.optim.lr_scheduler.LambdaLR", "{lr_lambda: '0.9 ** (epoch'}", NULL);
	ck_assert_int_eq(d.n, 1);
	ck_assert_int_eq(d.kind[0], FTS_ARG_TYPE);

	/* an int where float is declared is fine, as in torch */
	d = check_yaml(lib, "torch.optim.SGD", "{lr: 1, momentum: 0}", NULL);
	ck_assert_int_eq(d.n, 0);
}
END_TEST

START_TEST(test_state_layout)
{
	struct fts_arena a;
	struct fts_resolved_arg *ra;
	const struct fts_decl_state *slots[8];

	fts_arena_init(&a);
	const struct fts_decl_class *adam = fts_stdlib_find(lib, "torch.optim.Adam");
	struct fts_node *n = yaml_text(&a, "{amsgrad: true}");
	ck_assert_int_eq(fts_stdlib_resolve(adam, n, &a, &ra), 0);
	ck_assert_uint_eq(fts_stdlib_state_slots(adam, ra, &a, slots, 8), 4);
	ck_assert_str_eq(slots[3]->name, "max_exp_avg_sq");
	ck_assert_int_eq(slots[0]->kind, FTS_STATE_SCALAR);
	fts_stdlib_resolve(adam, NULL, &a, &ra);
	ck_assert_uint_eq(fts_stdlib_state_slots(adam, ra, &a, slots, 8), 3);

	const struct fts_decl_class *sgd = fts_stdlib_find(lib, "torch.optim.SGD");
	fts_stdlib_resolve(sgd, NULL, &a, &ra);
	ck_assert_uint_eq(fts_stdlib_state_slots(sgd, ra, &a, slots, 8), 0);
	n = yaml_text(&a, "{momentum: 0.9}");
	fts_stdlib_resolve(sgd, n, &a, &ra);
	ck_assert_uint_eq(fts_stdlib_state_slots(sgd, ra, &a, slots, 8), 1);
	ck_assert_str_eq(slots[0]->name, "momentum_buffer");
	ck_assert(ra[1].given);
	ck_assert_double_eq(ra[1].value.f, 0.9);
	ck_assert(!ra[0].given);
	ck_assert_double_eq(ra[0].value.f, 0.001);

	const struct fts_decl_class *step = fts_stdlib_find(lib, "torch.optim.lr_scheduler.StepLR");
	ck_assert_int_eq(fts_stdlib_resolve(step, NULL, &a, &ra), -1);
	ck_assert(ra[0].missing);
	fts_arena_release(&a);
}
END_TEST

START_TEST(test_load_extra)
{
	static const char user[] =
		"optimizer my.Lion {\n"
		"    arg lr: float = 1e-4;\n"
		"    arg betas: tuple(float, float) = (0.9, 0.99);\n"
		"    check 0.0 <= lr : \"bad lr {lr}\";\n"
		"    state exp_avg: param;\n"
		"}\n"
		"optimizer torch.optim.SGD { }\n"              /* duplicate */
		"optimizer my.Bad { arg x: int = 1.5; }\n"     /* default of wrong type */
		"optimizer my.Broken { arg : ; }\n";           /* syntax */
	struct fts_sources src;
	struct diag d = {0};

	fts_sources_init(&src);
	uint32_t id = fts_source_add(&src, "user.fts", user, strlen(user));
	int n = fts_stdlib_load_extra(lib, &src, id, rep_parse, &d);
	ck_assert_int_eq(n, 3);
	const struct fts_decl_class *c = fts_stdlib_find(lib, "my.Lion");
	ck_assert_ptr_nonnull(c);
	ck_assert_uint_eq(c->id, FTS_STDLIB_USER_ID_BASE);
	ck_assert_ptr_null(fts_stdlib_find(lib, "my.Bad"));
	int dup = 0;
	for (int k = 0; k < d.n; k++)
		dup |= strstr(d.msg[k], "'torch.optim.SGD' is already declared") != NULL;
	ck_assert(dup);
	struct diag d2 = check_yaml(lib, "my.Lion", "{lr: -0.5}", NULL);
	ck_assert_int_eq(d2.n, 1);
	ck_assert_str_eq(d2.msg[0], "Lion raises ValueError: bad lr -0.5");
	fts_sources_release(&src);
}
END_TEST

static Suite *stdlib_suite(void)
{
	Suite *s = suite_create("stdlib");
	TCase *tc = tcase_create("grammar");
	tcase_add_test(tc, test_grammar_valid);
	tcase_add_test(tc, test_grammar_errors);
	suite_add_tcase(s, tc);
	tc = tcase_create("eval");
	tcase_add_test(tc, test_eval_python);
	tcase_add_test(tc, test_eval_lambda);
	suite_add_tcase(s, tc);
	tc = tcase_create("stdlib");
	tcase_add_checked_fixture(tc, lib_setup, lib_teardown);
	tcase_add_test(tc, test_every_class);
	tcase_add_test(tc, test_golden_optim_defaults);
	tcase_add_test(tc, test_golden_lrs);
	tcase_add_test(tc, test_args_unknown_missing);
	tcase_add_test(tc, test_args_constraints);
	tcase_add_test(tc, test_args_types);
	tcase_add_test(tc, test_state_layout);
	tcase_add_test(tc, test_load_extra);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(stdlib_suite());
	srunner_set_tap(sr, "-");
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
