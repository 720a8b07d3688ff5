/*
 * check_yaml.c - unit tests for the YAML front end (yaml_front.c) and the
 * document tree helpers (ast.c): PyYAML 6.0 scalar typing, spans,
 * UniqueKeyLoader duplicate keys, tags, aliases and hostile input.
 * Run from the repository root (reads tests/data/golden/yaml_scalars.tsv).
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "arena.h"
#include "ast.h"
#include "diag.h"
#include "source.h"
#include "yaml_front.h"

/* Expected typing, generated once with PyYAML 6.0.3 SafeLoader on "v: <text>":
 * text, Python type (or "error"), repr/str of the value, repr(float(value)). */
static const struct row {
	const char *text, *type, *value, *pyfloat;
} table[] = {
	{"0", "int", "0", "0.0"},
	{"00", "int", "0", "0.0"},
	{"-0", "int", "0", "0.0"},
	{"+0", "int", "0", "0.0"},
	{"07", "int", "7", "7.0"},
	{"08", "str", "'08'", "8.0"},
	{"0_7", "int", "7", "7.0"},
	{"0b", "str", "'0b'", "ValueError"},
	{"0b1", "int", "1", "1.0"},
	{"0b_", "error", "", ""},
	{"-0b101", "int", "-5", "-5.0"},
	{"+0b1_1", "int", "3", "3.0"},
	{"0x", "str", "'0x'", "ValueError"},
	{"0x_", "error", "", ""},
	{"0xFf", "int", "255", "255.0"},
	{"-0x1_f", "int", "-31", "-31.0"},
	{"0o7", "str", "'0o7'", "ValueError"},
	{"1_", "int", "1", "1.0"},
	{"_1", "str", "'_1'", "ValueError"},
	{"1__0", "int", "10", "10.0"},
	{"1_000_000", "int", "1000000", "1000000.0"},
	{"9223372036854775807", "int", "9223372036854775807", "9.223372036854776e+18"},
	{"9223372036854775808", "int", "9223372036854775808", "9.223372036854776e+18"},
	{"-9223372036854775808", "int", "-9223372036854775808", "-9.223372036854776e+18"},
	{"-9223372036854775809", "int", "-9223372036854775809", "-9.223372036854776e+18"},
	{"0x7fffffffffffffff", "int", "9223372036854775807", "9.223372036854776e+18"},
	{"0xffffffffffffffffff", "int", "4722366482869645213695", "4.722366482869645e+21"},
	{"0b11111111111111111111111111111111111111111111111111111111111111111", "int", "36893488147419103231", "3.6893488147419103e+19"},
	{"0777777777777777777777777", "int", "4722366482869645213695", "4.722366482869645e+21"},
	{"1:0", "int", "60", "60.0"},
	{"1:5", "int", "65", "65.0"},
	{"1:05", "int", "65", "65.0"},
	{"1:60", "str", "'1:60'", "ValueError"},
	{"1:6", "int", "66", "66.0"},
	{"59:59:59", "int", "215999", "215999.0"},
	{"-1:30", "int", "-90", "-90.0"},
	{"+1:30", "int", "90", "90.0"},
	{"1:30:00", "int", "5400", "5400.0"},
	{"0:30", "str", "'0:30'", "ValueError"},
	{"1_0:30", "int", "630", "630.0"},
	{"1:3_0", "str", "'1:3_0'", "ValueError"},
	{"1:30.5", "float", "90.5", "90.5"},
	{"1:30.", "float", "90.0", "90.0"},
	{"-1:30.25", "float", "-90.25", "-90.25"},
	{"1:60.0", "str", "'1:60.0'", "ValueError"},
	{"0.0", "float", "0.0", "0.0"},
	{"-0.0", "float", "-0.0", "-0.0"},
	{"+.5", "str", "'+.5'", "0.5"},
	{"-.5", "str", "'-.5'", "-0.5"},
	{".5", "float", "0.5", "0.5"},
	{"._5", "str", "'._5'", "ValueError"},
	{".5e-3", "float", "0.0005", "0.0005"},
	{".5e3", "str", "'.5e3'", "500.0"},
	{"1.e5", "str", "'1.e5'", "100000.0"},
	{"1.e+5", "float", "100000.0", "100000.0"},
	{"1.0E-5", "float", "1e-05", "1e-05"},
	{"1.0e-5x", "str", "'1.0e-5x'", "ValueError"},
	{"1.", "float", "1.0", "1.0"},
	{"+1.", "float", "1.0", "1.0"},
	{"1.1.1", "str", "'1.1.1'", "ValueError"},
	{"1__.5", "float", "1.5", "1.5"},
	{"1_._5", "float", "1.5", "1.5"},
	{"1.5_", "float", "1.5", "1.5"},
	{"6.8523015e+5", "float", "685230.15", "685230.15"},
	{".inf", "float", "inf", "inf"},
	{".INF", "float", "inf", "inf"},
	{".Inf", "float", "inf", "inf"},
	{"+.inf", "float", "inf", "inf"},
	{"-.inf", "float", "-inf", "-inf"},
	{".iNF", "str", "'.iNF'", "ValueError"},
	{".nan", "float", "nan", "nan"},
	{".NaN", "float", "nan", "nan"},
	{".NAN", "float", "nan", "nan"},
	{"-.nan", "str", "'-.nan'", "ValueError"},
	{"+.nan", "str", "'+.nan'", "ValueError"},
	{"inf", "str", "'inf'", "inf"},
	{"nan", "str", "'nan'", "nan"},
	{"NaN", "str", "'NaN'", "nan"},
	{"Infinity", "str", "'Infinity'", "inf"},
	{"1e5", "str", "'1e5'", "100000.0"},
	{"1E-5", "str", "'1E-5'", "1e-05"},
	{"yes", "bool", "True", "1.0"},
	{"Yes", "bool", "True", "1.0"},
	{"YES", "bool", "True", "1.0"},
	{"yEs", "str", "'yEs'", "ValueError"},
	{"no", "bool", "False", "0.0"},
	{"No", "bool", "False", "0.0"},
	{"NO", "bool", "False", "0.0"},
	{"on", "bool", "True", "1.0"},
	{"On", "bool", "True", "1.0"},
	{"ON", "bool", "True", "1.0"},
	{"off", "bool", "False", "0.0"},
	{"Off", "bool", "False", "0.0"},
	{"OFF", "bool", "False", "0.0"},
	{"true", "bool", "True", "1.0"},
	{"True", "bool", "True", "1.0"},
	{"TRUE", "bool", "True", "1.0"},
	{"tRUE", "str", "'tRUE'", "ValueError"},
	{"false", "bool", "False", "0.0"},
	{"False", "bool", "False", "0.0"},
	{"FALSE", "bool", "False", "0.0"},
	{"y", "str", "'y'", "ValueError"},
	{"Y", "str", "'Y'", "ValueError"},
	{"n", "str", "'n'", "ValueError"},
	{"N", "str", "'N'", "ValueError"},
	{"~", "NoneType", "None", "TypeError"},
	{"null", "NoneType", "None", "TypeError"},
	{"Null", "NoneType", "None", "TypeError"},
	{"NULL", "NoneType", "None", "TypeError"},
	{"nULL", "str", "'nULL'", "ValueError"},
	{"nil", "str", "'nil'", "ValueError"},
	{"none", "str", "'none'", "ValueError"},
	{"None", "str", "'None'", "ValueError"},
	{"2001-12-14", "date", "datetime.date(2001, 12, 14)", "TypeError"},
	{"2001-1-14", "str", "'2001-1-14'", "ValueError"},
	{"2001-12-14t21:59:43.10-05:00", "datetime", "datetime.datetime(2001, 12, 14, 21, 59, 43, 100000, tzinfo=datetime.timezone(datetime.timedelta(days=-1, seconds=68400)))", "TypeError"},
	{"2001-12-14", "date", "datetime.date(2001, 12, 14)", "TypeError"},
	{"21:59:43.10", "float", "79183.1", "79183.1"},
	{"-5", "int", "-5", "-5.0"},
	{"2001-12-15", "date", "datetime.date(2001, 12, 15)", "TypeError"},
	{"2:59:43.10", "float", "10783.1", "10783.1"},
	{"2002-12-14T21:59:43Z", "datetime", "datetime.datetime(2002, 12, 14, 21, 59, 43, tzinfo=datetime.timezone.utc)", "TypeError"},
	{"2001-12-14T21:59:43.1+5", "datetime", "datetime.datetime(2001, 12, 14, 21, 59, 43, 100000, tzinfo=datetime.timezone(datetime.timedelta(seconds=18000)))", "TypeError"},
	{"2001-12-14T21:59:43+05:30", "datetime", "datetime.datetime(2001, 12, 14, 21, 59, 43, tzinfo=datetime.timezone(datetime.timedelta(seconds=19800)))", "TypeError"},
	{"2001-12-1", "str", "'2001-12-1'", "ValueError"},
	{"2001-12-14x", "str", "'2001-12-14x'", "ValueError"},
	{"20011214", "int", "20011214", "20011214.0"},
	{"abc", "str", "'abc'", "ValueError"},
	{"=", "error", "", ""},
	{"==", "str", "'=='", "ValueError"},
	{"<<", "error", "", ""},
	{"<<<", "str", "'<<<'", "ValueError"},
	{"a:b", "str", "'a:b'", "ValueError"},
	{"1e", "str", "'1e'", "ValueError"},
	{"1e+", "str", "'1e+'", "ValueError"},
	{"0xg", "str", "'0xg'", "ValueError"},
	{"+-", "str", "'+-'", "ValueError"},
	{"-", "error", "", ""},
	{"+", "str", "'+'", "ValueError"},
	{".", "str", "'.'", "ValueError"},
	{"..", "str", "'..'", "ValueError"},
	{"12abc", "str", "'12abc'", "ValueError"},
	{"3.14", "float", "3.14", "3.14"},
	{"-3.14", "float", "-3.14", "-3.14"},
	{"1e400", "str", "'1e400'", "inf"},
	{"1.0e400", "str", "'1.0e400'", "inf"},
	{"-1.0e400", "str", "'-1.0e400'", "-inf"},
	{"123456789012345678901234567890", "int", "123456789012345678901234567890", "1.2345678901234568e+29"},
	{"0.1", "float", "0.1", "0.1"},
	{"100.0", "float", "100.0", "100.0"},
	{"1.0e16", "str", "'1.0e16'", "1e+16"},
	{"1.0e15", "str", "'1.0e15'", "1000000000000000.0"},
	{"1234567.0", "float", "1234567.0", "1234567.0"},
	{"1.0e-4", "float", "0.0001", "0.0001"},
	{"1.0e-5", "float", "1e-05", "1e-05"},
	{"0.00001", "float", "1e-05", "1e-05"},
	{"2.5e-300", "float", "2.5e-300", "2.5e-300"},
	{"2001-12-14 21:59:43.10 -5", "datetime", "datetime.datetime(2001, 12, 14, 21, 59, 43, 100000, tzinfo=datetime.timezone(datetime.timedelta(days=-1, seconds=68400)))", "TypeError"},
	{"2001-12-15 2:59:43.10", "datetime", "datetime.datetime(2001, 12, 15, 2, 59, 43, 100000)", "TypeError"},
};

struct ctx {
	struct fts_arena a;
	struct fts_sources src;
	struct fts_diags d;
	bool empty;
};

static void ctx_init(struct ctx *c)
{
	fts_arena_init(&c->a);
	fts_sources_init(&c->src);
	fts_diags_init(&c->d, &c->src);
	c->empty = false;
}

static void ctx_release(struct ctx *c)
{
	fts_diags_release(&c->d);
	fts_sources_release(&c->src);
	fts_arena_release(&c->a);
}

static struct fts_node *parse_n(struct ctx *c, const char *text, size_t len)
{
	uint32_t id = fts_source_add(&c->src, "t.yaml", text, len);
	return fts_yaml_parse(&c->a, &c->d, id, &c->empty);
}

static struct fts_node *parse(struct ctx *c, const char *text)
{
	return parse_n(c, text, strlen(text));
}

static bool has_diag(const struct ctx *c, enum fts_diag_id id)
{
	for (size_t i = 0; i < c->d.n; i++)
		if (c->d.v[i]->id == id)
			return true;
	return false;
}

static size_t count_diag(const struct ctx *c, enum fts_diag_id id)
{
	size_t k = 0;
	for (size_t i = 0; i < c->d.n; i++)
		if (c->d.v[i]->id == id)
			k++;
	return k;
}

static const struct fts_diag *first_diag(const struct ctx *c, enum fts_diag_id id)
{
	for (size_t i = 0; i < c->d.n; i++)
		if (c->d.v[i]->id == id)
			return c->d.v[i];
	return NULL;
}

static void linecol(const struct ctx *c, struct fts_span sp, uint32_t *l, uint32_t *col)
{
	size_t line, column;
	fts_source_linecol(fts_source_get(&c->src, sp.file), sp.start, &line, &column);
	*l = (uint32_t)line;
	*col = (uint32_t)column;
}

static const char *pytype(const struct fts_node *n)
{
	switch (n->py) {
	case FTS_PY_NONE: return "NoneType";
	case FTS_PY_BOOL: return "bool";
	case FTS_PY_INT: return "int";
	case FTS_PY_FLOAT: return "float";
	case FTS_PY_STR: return "str";
	case FTS_PY_TIMESTAMP: return "timestamp";
	}
	return "?";
}

/* repr() of the value as Python prints it. */
static const char *pyrepr(struct fts_arena *a, const struct fts_node *n)
{
	if (n->py == FTS_PY_BOOL)
		return n->b ? "True" : "False";
	if (n->py == FTS_PY_NONE)
		return "None";
	if (n->py == FTS_PY_INT && n->i_big)
		return NULL;
	return fts_node_describe(a, n);
}

static const char *pyfloat_repr(struct fts_arena *a, const struct fts_node *n)
{
	double f;
	if (!fts_node_pyfloat(n, &f))
		return NULL;
	struct fts_node tmp = {.kind = FTS_N_SCALAR, .py = FTS_PY_FLOAT, .f = f};
	return fts_node_describe(a, &tmp);
}

static void check_row(const char *text, const char *type, const char *value, const char *pyf)
{
	struct ctx c;
	ctx_init(&c);
	char *doc = fts_arena_printf(&c.a, "v: %s\n", text);
	struct fts_node *root = parse(&c, doc);
	if (strcmp(type, "error") == 0) {
		ck_assert_msg(c.d.errors > 0, "'%s' should be refused", text);
		ctx_release(&c);
		return;
	}
	ck_assert_msg(root != NULL, "'%s' did not parse", text);
	struct fts_pair *p = fts_node_get(root, "v");
	ck_assert_ptr_nonnull(p);
	const struct fts_node *n = p->value;
	const char *want = strcmp(type, "date") == 0 || strcmp(type, "datetime") == 0 ?
		"timestamp" : type;
	ck_assert_msg(strcmp(pytype(n), want) == 0, "'%s': type %s, PyYAML says %s", text,
		      pytype(n), type);
	if (strcmp(want, "timestamp") != 0) {
		const char *r = pyrepr(&c.a, n);
		if (r)
			ck_assert_msg(strcmp(r, value) == 0, "'%s': value %s, PyYAML says %s", text,
				      r, value);
		else
			ck_assert_msg(n->len > 0, "'%s'", text);
	}
	const char *fr = pyfloat_repr(&c.a, n);
	bool raises = strcmp(pyf, "ValueError") == 0 || strcmp(pyf, "TypeError") == 0 ||
		strcmp(pyf, "OverflowError") == 0;
	if (raises)
		ck_assert_msg(fr == NULL, "'%s': float() gave %s, Python raises %s", text, fr, pyf);
	else
		ck_assert_msg(fr && strcmp(fr, pyf) == 0, "'%s': float() gave %s, Python %s", text,
			      fr ? fr : "an error", pyf);
	ctx_release(&c);
}

START_TEST(test_golden_tsv)
{
	FILE *fp = fopen("tests/data/golden/yaml_scalars.tsv", "r");
	ck_assert_msg(fp != NULL, "cannot open tests/data/golden/yaml_scalars.tsv");
	char line[1024];
	int rows = 0;
	while (fgets(line, sizeof(line), fp)) {
		if (line[0] == '#')
			continue;
		line[strcspn(line, "\n")] = '\0';
		char *f[4];
		char *p = line;
		int k;
		for (k = 0; k < 4; k++) {
			f[k] = p;
			char *tab = strchr(p, '\t');
			if (!tab) {
				k++;
				break;
			}
			*tab = '\0';
			p = tab + 1;
		}
		if (k < 4)
			continue;
		check_row(f[0], f[1], f[2], f[3]);
		rows++;
	}
	fclose(fp);
	ck_assert_int_ge(rows, 50);
}
END_TEST

START_TEST(test_table)
{
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
		check_row(table[i].text, table[i].type, table[i].value, table[i].pyfloat);
}
END_TEST

START_TEST(test_values)
{
	struct ctx c;
	ctx_init(&c);
	struct fts_node *r = parse(&c, "a: 1000000000000000000000\nb: 0x1F\nc: -9223372036854775808\n"
				   "d: 'yes'\ne: |\n  x\nf: !!str 12\ng: ! 12\nh: ! '12'\n");
	ck_assert_ptr_nonnull(r);
	const struct fts_node *a = fts_node_get(r, "a")->value;
	ck_assert(a->py == FTS_PY_INT && a->i_big);
	ck_assert(a->f == 1e21);
	const struct fts_node *b = fts_node_get(r, "b")->value;
	ck_assert(b->py == FTS_PY_INT && !b->i_big && b->i == 31);
	const struct fts_node *cc = fts_node_get(r, "c")->value;
	ck_assert(cc->py == FTS_PY_INT && !cc->i_big && cc->i == INT64_MIN);
	ck_assert(fts_node_get(r, "d")->value->py == FTS_PY_STR);
	ck_assert(fts_node_get(r, "d")->value->quoted);
	ck_assert(fts_node_get(r, "e")->value->py == FTS_PY_STR);
	ck_assert_str_eq(fts_node_get(r, "e")->value->text, "x\n");
	ck_assert(fts_node_get(r, "f")->value->py == FTS_PY_STR);
	/* PyYAML resolves '!'-tagged scalars implicitly, even quoted ones */
	ck_assert(fts_node_get(r, "g")->value->py == FTS_PY_INT);
	ck_assert(fts_node_get(r, "h")->value->py == FTS_PY_INT);
	ck_assert_int_eq(c.d.errors, 0);
	ctx_release(&c);
}
END_TEST

START_TEST(test_tags)
{
	static const struct { const char *text; int py; double f; } ok[] = {
		{"!!int '0x1F'", FTS_PY_INT, 31}, {"!!float 1", FTS_PY_FLOAT, 1},
		{"!!float '1e5'", FTS_PY_FLOAT, 1e5}, {"!!bool yes", FTS_PY_BOOL, 1},
		{"!!null foo", FTS_PY_NONE, 0}, {"!<tag:yaml.org,2002:int> 12", FTS_PY_INT, 12},
		{"!!str 1", FTS_PY_STR, 0}, {"!!int 1:30", FTS_PY_INT, 90},
		{"!!float 1_0", FTS_PY_FLOAT, 10}, {"!!int -0b1_0", FTS_PY_INT, -2},
		{"!!bool OFF", FTS_PY_BOOL, 0}, {"!!timestamp 2001-12-14", FTS_PY_TIMESTAMP, 0},
	};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		struct ctx c;
		ctx_init(&c);
		char *doc = fts_arena_printf(&c.a, "v: %s\n", ok[i].text);
		struct fts_node *r = parse(&c, doc);
		ck_assert_msg(r && c.d.errors == 0, "%s", ok[i].text);
		const struct fts_node *n = fts_node_get(r, "v")->value;
		ck_assert_msg((int)n->py == ok[i].py, "%s: %d", ok[i].text, (int)n->py);
		if (n->py == FTS_PY_INT || n->py == FTS_PY_FLOAT)
			ck_assert_msg(n->f == ok[i].f, "%s: %g", ok[i].text, n->f);
		ctx_release(&c);
	}
	static const struct { const char *text; enum fts_diag_id id; } bad[] = {
		{"!foo 1", FTS_E_YAML_TAG}, {"!!python/object:foo {}", FTS_E_YAML_TAG},
		{"!!int 1.5", FTS_E_YAML_SYNTAX}, {"!!bool y", FTS_E_YAML_SYNTAX},
		{"!!seq {a: 1}", FTS_E_YAML_SYNTAX}, {"!!str [1]", FTS_E_YAML_SYNTAX},
		{"!!int ''", FTS_E_YAML_SYNTAX}, {"!!float abc", FTS_E_YAML_SYNTAX},
		{"=", FTS_E_YAML_TAG}, {"<<", FTS_E_YAML_TAG}, {"0b_", FTS_E_YAML_SYNTAX},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct ctx c;
		ctx_init(&c);
		char *doc = fts_arena_printf(&c.a, "v: %s\n", bad[i].text);
		struct fts_node *r = parse(&c, doc);
		ck_assert_msg(r == NULL && has_diag(&c, bad[i].id), "%s", bad[i].text);
		ctx_release(&c);
	}
	struct ctx c;
	ctx_init(&c);
	parse(&c, "x: !!python/object:foo {}\n");
	const struct fts_diag *dg = first_diag(&c, FTS_E_YAML_TAG);
	ck_assert_ptr_nonnull(dg);
	ck_assert_ptr_nonnull(strstr(dg->msg, "tag:yaml.org,2002:python/object:foo"));
	ctx_release(&c);
	/* !!seq / !!map on the right kind, '!' on collections */
	ctx_init(&c);
	ck_assert_ptr_nonnull(parse(&c, "a: !!seq [1]\nb: !!map {x: 1}\nc: ! [1]\n"
				    "d: !!set {x, y}\ne: !!omap [{a: 1}]\nf: !!binary aGVsbG8=\n"));
	ck_assert_int_eq(c.d.errors, 0);
	ctx_release(&c);
	/* the LightningCLI idiom: a block !!set */
	ctx_init(&c);
	struct fts_node *r = parse(&c, "m: !!set\n  ? a.B\n  ? c.D\n");
	ck_assert_ptr_nonnull(r);
	ck_assert_str_eq(fts_node_get(r, "m")->value->tag, "tag:yaml.org,2002:set");
	ck_assert_int_eq(fts_node_get(r, "m")->value->npairs, 2);
	ctx_release(&c);
	ctx_init(&c);
	ck_assert_ptr_null(parse(&c, "m: !!set {a, a}\nn: !!set [1]\no: !!omap {a: 1}\np: !!set x\n"));
	ck_assert_int_eq(count_diag(&c, FTS_E_DUP_KEY), 1);
	ck_assert_int_eq(count_diag(&c, FTS_E_YAML_SYNTAX), 3);
	ctx_release(&c);
}
END_TEST

START_TEST(test_spans)
{
	struct ctx c;
	ctx_init(&c);
	const char *text = "# comment\n0:\n  params:\n  - model.a.weight\n  - 'b'\n  lr: 1.0e-5\n"
			   "1: {params: [x, \"y\"]}\n";
	struct fts_node *r = parse(&c, text);
	ck_assert_ptr_nonnull(r);
	ck_assert_int_eq(r->kind, FTS_N_MAP);
	ck_assert_int_eq(r->npairs, 2);
	uint32_t l, col;
	linecol(&c, r->pairs[0].key->span, &l, &col);
	ck_assert_int_eq(l, 2);
	ck_assert_int_eq(col, 1);
	struct fts_node *ph = r->pairs[0].value;
	struct fts_node *params = fts_node_get(ph, "params")->value;
	ck_assert_int_eq(params->kind, FTS_N_SEQ);
	linecol(&c, params->items[1]->span, &l, &col);
	ck_assert_int_eq(l, 5);
	ck_assert_int_eq(col, 5);
	ck_assert_int_eq(params->items[1]->span.end - params->items[1]->span.start, 3);
	ck_assert(memcmp(text + params->items[0]->span.start, "model.a.weight", 14) == 0);
	ck_assert_int_eq(params->items[0]->span.end - params->items[0]->span.start, 14);
	struct fts_node *lr = fts_node_get(ph, "lr")->value;
	linecol(&c, lr->span, &l, &col);
	ck_assert_int_eq(l, 6);
	ck_assert_int_eq(col, 7);
	/* a block collection's span ends at its last character */
	ck_assert(memcmp(text + ph->span.end - 6, "1.0e-5", 6) == 0);
	struct fts_node *p1 = r->pairs[1].value;
	ck_assert(memcmp(text + p1->span.start, "{params", 7) == 0);
	ck_assert_int_eq(text[p1->span.end - 1], '}');
	struct fts_node *y = fts_node_get(p1, "params")->value->items[1];
	ck_assert(memcmp(text + y->span.start, "\"y\"", 3) == 0);
	ctx_release(&c);

	/* multi-byte characters: marks count characters, spans are bytes */
	ctx_init(&c);
	text = "k\xc3\xa9y: \xe2\x82\xac\xe2\x82\xac x\n";
	r = parse(&c, text);
	ck_assert_ptr_nonnull(r);
	ck_assert_int_eq(r->pairs[0].value->span.start, 6);
	ck_assert_int_eq(r->pairs[0].value->span.end, 14);
	ctx_release(&c);

	/* CR-only line breaks */
	ctx_init(&c);
	text = "a: 1\rb: xyz\r";
	r = parse(&c, text);
	ck_assert_ptr_nonnull(r);
	ck_assert_int_eq(fts_node_get(r, "b")->value->span.start, 8);
	ctx_release(&c);

	/* syntax errors are located */
	ctx_init(&c);
	ck_assert_ptr_null(parse(&c, "a: 1\nb: [1, 2\nc: 3\n"));
	const struct fts_diag *dg = first_diag(&c, FTS_E_YAML_SYNTAX);
	ck_assert_ptr_nonnull(dg);
	ck_assert(fts_span_valid(dg->span));
	ck_assert_int_ge(dg->nnotes, 1);
	ctx_release(&c);
}
END_TEST

START_TEST(test_dup_keys)
{
	static const struct { const char *text; size_t dups; } cases[] = {
		{"a: 1\na: 2\n", 1},
		{"1: a\n1.0: b\n", 1},
		{"1: a\ntrue: b\n", 1},
		{"1: a\n+1: b\n", 1},
		{"yes: a\nTrue: b\n", 1},
		{"0: a\nfalse: b\n0.0: c\n-0: d\n", 3},
		{"0x10: a\n16: b\n", 1},
		{"1:30: a\n90: b\n", 1},
		{"1: a\n'1': b\n", 0},
		{"'a': 1\na: 2\n", 1},
		{"~: 1\nnull: 2\n", 1},
		{".nan: 1\n.nan: 2\n", 0},
		{"&n .nan : 1\n*n : 2\n", 1},
		{"2001-12-14: 1\n2001-12-14: 2\n", 1},
		{"0: {params: [a], lr: 1, lr: 2}\n", 1},
		{"0:\n  new_lr_scheduler:\n    init_args: {x: 1, x: 2}\n", 1},
		{"- {a: 1, b: 2, a: 3, b: 4}\n", 2},
		{"1.5: a\n1: b\n", 0},
		{"9007199254740993: a\n9007199254740992.0: b\n", 0},
		{"9007199254740992: a\n9007199254740992.0: b\n", 1},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct ctx c;
		ctx_init(&c);
		struct fts_node *r = parse(&c, cases[i].text);
		ck_assert_msg(count_diag(&c, FTS_E_DUP_KEY) == cases[i].dups,
			      "%s: %zu duplicates", cases[i].text, count_diag(&c, FTS_E_DUP_KEY));
		if (cases[i].dups) {
			ck_assert_ptr_null(r);
			const struct fts_diag *dg = first_diag(&c, FTS_E_DUP_KEY);
			ck_assert_int_eq(dg->nnotes, 1);
			ck_assert_str_eq(dg->notes[0].msg, "first defined here");
			ck_assert(dg->notes[0].span.start < dg->span.start);
		} else {
			ck_assert_ptr_nonnull(r);
		}
		ctx_release(&c);
	}
	/* location of the later key, note at the earlier one */
	struct ctx c;
	ctx_init(&c);
	parse(&c, "0:\n  lr: 1\n  params: []\n  lr: 2\n");
	const struct fts_diag *dg = first_diag(&c, FTS_E_DUP_KEY);
	ck_assert_ptr_nonnull(dg);
	uint32_t l, col;
	linecol(&c, dg->span, &l, &col);
	ck_assert_int_eq(l, 4);
	ck_assert_int_eq(col, 3);
	linecol(&c, dg->notes[0].span, &l, &col);
	ck_assert_int_eq(l, 2);
	ck_assert_ptr_nonnull(strstr(dg->msg, "'lr'"));
	ctx_release(&c);
	/* unhashable keys */
	ctx_init(&c);
	ck_assert_ptr_null(parse(&c, "? [1]\n: 2\n? {a: 1}\n: 3\n"));
	ck_assert_int_eq(count_diag(&c, FTS_E_YAML_UNHASHABLE), 2);
	ctx_release(&c);
}
END_TEST

START_TEST(test_merge_multidoc_alias)
{
	struct ctx c;
	ctx_init(&c);
	ck_assert_ptr_null(parse(&c, "x: &a {b: 1}\ny:\n  <<: *a\n"));
	ck_assert(has_diag(&c, FTS_E_YAML_MERGE));
	ctx_release(&c);

	ctx_init(&c);
	ck_assert_ptr_nonnull(parse(&c, "'<<': 1\n"));
	ctx_release(&c);

	ctx_init(&c);
	ck_assert_ptr_null(parse(&c, "a: 1\n---\nb: 2\n"));
	ck_assert(has_diag(&c, FTS_E_YAML_MULTIDOC));
	ctx_release(&c);

	ctx_init(&c);
	ck_assert_ptr_null(parse(&c, "--- 1\n--- [\n"));    /* second doc never read */
	ck_assert(has_diag(&c, FTS_E_YAML_MULTIDOC));
	ck_assert(!has_diag(&c, FTS_E_YAML_SYNTAX));
	ctx_release(&c);

	ctx_init(&c);
	ck_assert_ptr_null(parse(&c, "a: *nope\n"));
	ck_assert(has_diag(&c, FTS_E_YAML_ALIAS));
	ck_assert_ptr_nonnull(strstr(first_diag(&c, FTS_E_YAML_ALIAS)->msg, "nope"));
	ctx_release(&c);

	ctx_init(&c);
	ck_assert_ptr_null(parse(&c, "[&a 1, &a 2]\n"));
	ck_assert(has_diag(&c, FTS_E_YAML_SYNTAX));
	ctx_release(&c);

	ctx_init(&c);
	ck_assert_ptr_null(parse(&c, "&a [*a]\n"));
	ck_assert(has_diag(&c, FTS_E_YAML_BOMB));
	ctx_release(&c);

	/* sharing */
	ctx_init(&c);
	const char *text = "base: &opt {class_path: torch.optim.SGD, init_args: {lr: 0.1}}\n"
			   "0: {new_optimizer: *opt}\nl: &s x\nm: *s\n";
	struct fts_node *r = parse(&c, text);
	ck_assert_ptr_nonnull(r);
	struct fts_node *base = fts_node_get(r, "base")->value;
	struct fts_node *al = r->pairs[1].value->pairs[0].value;
	ck_assert(al->is_alias && !base->is_alias);
	ck_assert_int_eq(al->kind, FTS_N_MAP);
	ck_assert_ptr_eq(al->pairs, base->pairs);
	ck_assert_int_eq(al->npairs, 2);
	ck_assert(memcmp(text + al->span.start, "*opt", 4) == 0);
	ck_assert_int_eq(al->span.end - al->span.start, 4);
	ck_assert_uint_eq(al->weight, base->weight);
	ck_assert_uint_eq(base->weight, 7);
	struct fts_node *m = fts_node_get(r, "m")->value;
	ck_assert(m->is_alias && m->py == FTS_PY_STR);
	ck_assert_ptr_eq(m->text, fts_node_get(r, "l")->value->text);
	ck_assert_uint_eq(r->weight, 1 + (1 + 7) + (1 + (1 + 1 + 7)) + 2 + 2);
	ctx_release(&c);
}
END_TEST

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

START_TEST(test_depth)
{
	struct ctx c;
	ctx_init(&c);
	size_t n = 100000;
	char *buf = malloc(2 * n + 1);
	memset(buf, '[', n);
	memset(buf + n, ']', n);
	buf[2 * n] = '\0';
	double t0 = now();
	ck_assert_ptr_null(parse_n(&c, buf, 2 * n));
	ck_assert(now() - t0 < 0.5);
	ck_assert(has_diag(&c, FTS_E_YAML_DEPTH));
	ck_assert_int_eq(c.d.errors, 1);
	uint32_t l, col;
	linecol(&c, first_diag(&c, FTS_E_YAML_DEPTH)->span, &l, &col);
	ck_assert_int_eq(col, 257);
	ctx_release(&c);
	/* exactly 256 levels are fine */
	ctx_init(&c);
	memset(buf, '[', 256);
	memset(buf + 256, ']', 256);
	ck_assert_ptr_nonnull(parse_n(&c, buf, 512));
	ck_assert_int_eq(c.d.errors, 0);
	ctx_release(&c);
	/* block nesting too */
	ctx_init(&c);
	size_t cap = 300 * 300 * 2, k = 0;
	char *blk = malloc(cap);
	for (int i = 0; i < 300; i++) {
		memset(blk + k, ' ', (size_t)i);
		k += (size_t)i;
		memcpy(blk + k, "a:\n", 3);
		k += 3;
	}
	ck_assert_ptr_null(parse_n(&c, blk, k));
	ck_assert(has_diag(&c, FTS_E_YAML_DEPTH));
	free(blk);
	ctx_release(&c);
	free(buf);
}
END_TEST

START_TEST(test_bomb)
{
	struct ctx c;
	ctx_init(&c);
	char *doc = fts_arena_printf(&c.a, "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
	for (int i = 1; i <= 9; i++)
		doc = fts_arena_printf(&c.a, "%sa%d: &a%d [*a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d]\n",
				       doc, i, i, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1,
				       i - 1, i - 1, i - 1);
	double t0 = now();
	ck_assert_ptr_null(parse(&c, doc));
	ck_assert(now() - t0 < 0.5);
	ck_assert(has_diag(&c, FTS_E_YAML_BOMB));
	const struct fts_diag *dg = first_diag(&c, FTS_E_YAML_BOMB);
	uint32_t l, col;
	linecol(&c, dg->span, &l, &col);
	ck_assert_int_eq(l, 7);       /* a6 expands to 11,111,111 nodes */
	ck_assert(doc[dg->span.start] == '*');
	ctx_release(&c);
	/* 6 levels are fine, and the weight is right */
	ctx_init(&c);
	doc = fts_arena_printf(&c.a, "- &a0 [x, x]\n- &a1 [*a0, *a0]\n- &a2 [*a1, *a1]\n");
	struct fts_node *r = parse(&c, doc);
	ck_assert_ptr_nonnull(r);
	ck_assert_uint_eq(r->items[2]->weight, 1 + 2 * (1 + 2 * 3));
	ctx_release(&c);
}
END_TEST

START_TEST(test_junk)
{
	static const char *const bad[] = {
		"a: \xff\xfe\n", "a: \xc3\x28\n", "\xed\xa0\x80: 1\n", "a: b\x01\n",
		"\xfe\xff\x00""a\x00:", "a: 'x\x80'\n",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct ctx c;
		ctx_init(&c);
		ck_assert_ptr_null(parse_n(&c, bad[i], strlen(bad[i]) + (i == 4 ? 4 : 0)));
		const struct fts_diag *dg = first_diag(&c, FTS_E_YAML_SYNTAX);
		ck_assert_msg(dg != NULL, "case %zu", i);
		ck_assert(fts_span_valid(dg->span));
		ctx_release(&c);
	}
	/* NUL byte */
	struct ctx c;
	ctx_init(&c);
	ck_assert_ptr_null(parse_n(&c, "a: b\0c\n", 7));
	ck_assert(c.d.errors > 0);
	ctx_release(&c);
	/* random binary junk and random YAML-ish junk: never a crash or hang */
	unsigned seed = 12345;
	static const char alphabet[] = "[]{}:,-?&*!|>'\"#%@` \n\tab01.\xc3\xa9";
	for (int round = 0; round < 600; round++) {
		size_t n = 1 + (size_t)(rand_r(&seed) % 400);
		char *b = malloc(n);
		for (size_t i = 0; i < n; i++)
			b[i] = round % 2 ? (char)(rand_r(&seed) & 0xff) :
				alphabet[(size_t)rand_r(&seed) % (sizeof(alphabet) - 1)];
		if (round % 2)
			b[0] = (char)0xff;    /* make sure binary junk is refused */
		ctx_init(&c);
		struct fts_node *r = parse_n(&c, b, n);
		if (round % 2)
			ck_assert(r == NULL && c.d.errors > 0);
		if (!r && !c.empty)
			ck_assert(c.d.errors > 0);
		for (size_t i = 0; i < c.d.n; i++) {
			struct fts_span sp = c.d.v[i]->span;
			ck_assert(fts_span_valid(sp) && sp.start <= sp.end && sp.end <= n);
		}
		ctx_release(&c);
		free(b);
	}
}
END_TEST

START_TEST(test_empty)
{
	static const char *const empties[] = {"", "\n\n", "# just a comment\n", "---\n", "~\n",
					      "--- null\n...\n"};
	for (size_t i = 0; i < sizeof(empties) / sizeof(empties[0]); i++) {
		struct ctx c;
		ctx_init(&c);
		ck_assert_ptr_null(parse(&c, empties[i]));
		ck_assert_msg(c.empty, "case %zu", i);
		ck_assert_int_eq(c.d.errors, 0);
		ctx_release(&c);
	}
	struct ctx c;
	ctx_init(&c);
	struct fts_node *r = parse(&c, "{}\n");
	ck_assert_ptr_nonnull(r);
	ck_assert(!c.empty && fts_node_falsy(r));
	ctx_release(&c);
	ctx_init(&c);
	r = parse(&c, "--- ''\n");
	ck_assert_ptr_nonnull(r);
	ck_assert(fts_node_is_str(r) && fts_node_falsy(r));
	ctx_release(&c);
}
END_TEST

START_TEST(test_big_scalar)
{
	struct ctx c;
	ctx_init(&c);
	size_t n = 20u << 20;
	char *buf = malloc(n + 8);
	memcpy(buf, "a: ", 3);
	memset(buf + 3, 'x', n);
	memcpy(buf + 3 + n, "\n", 2);
	double t0 = now();
	struct fts_node *r = parse_n(&c, buf, n + 4);
	ck_assert_ptr_nonnull(r);
	ck_assert_uint_eq(fts_node_get(r, "a")->value->len, n);
	ck_assert(now() - t0 < 10);
	ctx_release(&c);
	/* a 20 MB integer: a bignum, float() overflows */
	ctx_init(&c);
	memset(buf + 3, '7', n);
	r = parse_n(&c, buf, n + 4);
	ck_assert_ptr_nonnull(r);
	const struct fts_node *v = fts_node_get(r, "a")->value;
	ck_assert(v->py == FTS_PY_INT && v->i_big && isinf(v->f));
	double f;
	ck_assert(!fts_node_pyfloat(v, &f));
	ctx_release(&c);
	free(buf);
}
END_TEST

START_TEST(test_parse_text)
{
	struct ctx c;
	ctx_init(&c);
	const char *t = "{class_path: torch.optim.SGD, init_args: {lr: 1e-3}}";
	struct fts_node *r = fts_yaml_parse_text(&c.a, &c.d, "--initial-optimizer", t, strlen(t));
	ck_assert_ptr_nonnull(r);
	ck_assert_str_eq(fts_node_get(r, "class_path")->value->text, "torch.optim.SGD");
	const struct fts_node *lr = fts_node_get(fts_node_get(r, "init_args")->value, "lr")->value;
	double v;
	bool s;
	ck_assert(fts_node_number(lr, &v, &s) && s && v == 1e-3);
	ck_assert_str_eq(fts_source_get(&c.src, r->span.file)->name, "--initial-optimizer");
	ck_assert_ptr_null(fts_yaml_parse_text(&c.a, &c.d, "--x", "{a: ", 4));
	ck_assert(has_diag(&c, FTS_E_YAML_SYNTAX));
	ctx_release(&c);
}
END_TEST

START_TEST(test_pyfloat_str)
{
	static const struct { const char *s; bool ok; double v; } cases[] = {
		{"1e-5", true, 1e-5}, {"  1.5\n", true, 1.5}, {"1_000.5", true, 1000.5},
		{"1__0", false, 0}, {"_1", false, 0}, {"1_", false, 0}, {"1_e5", false, 0},
		{"inf", true, HUGE_VAL}, {"-Infinity", true, -HUGE_VAL}, {"+iNF", true, HUGE_VAL},
		{"infinit", false, 0}, {"0x10", false, 0}, {"", false, 0}, {" ", false, 0},
		{".", false, 0}, {"5.", true, 5}, {".5", true, 0.5}, {"1e", false, 0},
		{"1e+5", true, 1e5}, {"-1e400", true, -HUGE_VAL}, {"1.5.2", false, 0},
		{"1e-5x", false, 0}, {"0o17", false, 0}, {"1_0e1_0", true, 1e11},
		{"1._5", false, 0}, {"1.5_5", true, 1.55}, {"+-1", false, 0},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		double v = 0;
		bool ok = fts_pyfloat_str(cases[i].s, strlen(cases[i].s), &v);
		ck_assert_msg(ok == cases[i].ok, "'%s'", cases[i].s);
		if (ok)
			ck_assert_msg(v == cases[i].v, "'%s': %g", cases[i].s, v);
	}
	double v;
	ck_assert(fts_pyfloat_str("nan", 3, &v) && isnan(v));
	ck_assert(fts_pyfloat_str("-NaN", 4, &v) && isnan(v));
}
END_TEST

START_TEST(test_pyint)
{
	static const struct { const char *yaml; int rc; int64_t v; bool big; } cases[] = {
		{"1", 0, 1, false}, {"'1'", 0, 1, false}, {"' 2 '", 0, 2, false},
		{"1.9", 0, 1, false}, {"-1.9", 0, -1, false}, {"true", 0, 1, false},
		{"false", 0, 0, false}, {"~", -1, 0, false}, {"b", -1, 0, false},
		{".nan", -1, 0, false}, {".inf", -1, 0, false}, {"'1_0'", 0, 10, false},
		{"'1__0'", -1, 0, false}, {"'0x10'", -1, 0, false}, {"'1.5'", -1, 0, false},
		{"'-3'", 0, -3, false}, {"010", 0, 8, false}, {"1:30", 0, 90, false},
		{"'99999999999999999999'", 0, INT64_MAX, true}, {"1.0e+30", 0, INT64_MAX, true},
		{"[1]", -1, 0, false}, {"{}", -1, 0, false}, {"2001-12-14", -1, 0, false},
		{"''", -1, 0, false}, {"'+'", -1, 0, false}, {"'0010'", 0, 10, false},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct ctx c;
		ctx_init(&c);
		char *doc = fts_arena_printf(&c.a, "v: %s\n", cases[i].yaml);
		struct fts_node *r = parse(&c, doc);
		ck_assert_ptr_nonnull(r);
		int64_t v = 0;
		bool big = false;
		int rc = fts_node_pyint(fts_node_get(r, "v")->value, &v, &big);
		ck_assert_msg(rc == cases[i].rc, "%s: rc %d", cases[i].yaml, rc);
		if (rc == 0) {
			ck_assert_msg(v == cases[i].v, "%s: %lld", cases[i].yaml, (long long)v);
			ck_assert_msg(big == cases[i].big, "%s", cases[i].yaml);
		}
		ctx_release(&c);
	}
}
END_TEST

START_TEST(test_helpers)
{
	struct ctx c;
	ctx_init(&c);
	struct fts_node *r = parse(&c, "a: 1e-5\nb: 1.0e-5\nc: '1e-5'\nd: 010\ne: 0o17\nf: abc\n"
				   "g: yes\nh: []\ni: {}\nj: 0.0\nk: .nan\nl: ~\nm: 'it''s'\n"
				   "n: 1.0e+16\no: 0.0001\np: 2.0e-06\nq: -0.0\nr: 1:30\n");
	ck_assert_ptr_nonnull(r);
	double v;
	bool s;
#define V(k) (fts_node_get(r, k)->value)
	ck_assert(fts_node_number(V("a"), &v, &s) && s && v == 1e-5);
	ck_assert(fts_node_number(V("b"), &v, &s) && !s && v == 1e-5);
	ck_assert(!fts_node_number(V("c"), &v, &s));
	ck_assert(fts_node_number(V("d"), &v, &s) && !s && v == 8);
	ck_assert(fts_node_number(V("e"), &v, &s) && s && v == 15);
	ck_assert(!fts_node_number(V("f"), &v, &s));
	ck_assert(!fts_node_number(V("g"), &v, &s));
	ck_assert(!fts_node_number(V("h"), &v, &s));
	ck_assert(fts_node_number(V("r"), &v, &s) && !s && v == 90);
	ck_assert(!fts_node_falsy(V("a")) && fts_node_falsy(V("h")) && fts_node_falsy(V("i")));
	ck_assert(fts_node_falsy(V("j")) && !fts_node_falsy(V("k")) && fts_node_falsy(V("l")));
	ck_assert(fts_node_falsy(V("q")) && !fts_node_falsy(V("g")));
	ck_assert_str_eq(fts_node_describe(&c.a, V("a")), "'1e-5'");
	ck_assert_str_eq(fts_node_describe(&c.a, V("b")), "1e-05");
	ck_assert_str_eq(fts_node_describe(&c.a, V("d")), "8");
	ck_assert_str_eq(fts_node_describe(&c.a, V("g")), "true");
	ck_assert_str_eq(fts_node_describe(&c.a, V("h")), "a list");
	ck_assert_str_eq(fts_node_describe(&c.a, V("i")), "a mapping");
	ck_assert_str_eq(fts_node_describe(&c.a, V("k")), "nan");
	ck_assert_str_eq(fts_node_describe(&c.a, V("l")), "null");
	ck_assert_str_eq(fts_node_describe(&c.a, V("m")), "'it\\'s'");
	ck_assert_str_eq(fts_node_describe(&c.a, V("n")), "1e+16");
	ck_assert_str_eq(fts_node_describe(&c.a, V("o")), "0.0001");
	ck_assert_str_eq(fts_node_describe(&c.a, V("p")), "2e-06");
	ck_assert_str_eq(fts_node_describe(&c.a, V("q")), "-0.0");
	ck_assert_str_eq(fts_node_kind_name(V("h")), "list");
	ck_assert_str_eq(fts_node_kind_name(V("i")), "mapping");
	ck_assert_str_eq(fts_node_kind_name(V("f")), "string");
	ck_assert(fts_node_is_str(V("f")) && !fts_node_is_str(V("g")));
	ck_assert_ptr_null(fts_node_get(r, "zz"));
	ck_assert_ptr_null(fts_node_get(V("h"), "a"));
#undef V
	ctx_release(&c);
}
END_TEST

static Suite *yaml_suite(void)
{
	Suite *s = suite_create("yaml");
	TCase *tc = tcase_create("core");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_golden_tsv);
	tcase_add_test(tc, test_table);
	tcase_add_test(tc, test_values);
	tcase_add_test(tc, test_tags);
	tcase_add_test(tc, test_spans);
	tcase_add_test(tc, test_dup_keys);
	tcase_add_test(tc, test_merge_multidoc_alias);
	tcase_add_test(tc, test_depth);
	tcase_add_test(tc, test_bomb);
	tcase_add_test(tc, test_junk);
	tcase_add_test(tc, test_empty);
	tcase_add_test(tc, test_big_scalar);
	tcase_add_test(tc, test_parse_text);
	tcase_add_test(tc, test_pyfloat_str);
	tcase_add_test(tc, test_pyint);
	tcase_add_test(tc, test_helpers);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(yaml_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
