/*
 * check_sched.c - the runtime's lr schedulers and lambda bytecode: every
 * torch golden/lrs trace replayed, the bytecode validator's error paths and
 * Python float semantics, FTS's rules for added groups, state save/load and
 * corrupted-state rejection, allocation failure.  Run from the repository
 * root (reads tests/data/golden/lrs).
 */
#include <check.h>
#include <dirent.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ftsrt.h"
#include "lambda.h"
#include "lrsched.h"
#include "verify_lrs.h"

#define GOLDEN_DIR "tests/data/golden/lrs"

/* ---- golden traces ------------------------------------------------------ */

START_TEST(golden_all_cases)
{
	DIR *d = opendir(GOLDEN_DIR);
	ck_assert_msg(d != NULL, "cannot open %s", GOLDEN_DIR);
	struct dirent *e;
	int ncases = 0;
	while ((e = readdir(d))) {
		size_t n = strlen(e->d_name);
		if (n < 6 || strcmp(e->d_name + n - 5, ".yaml"))
			continue;
		char path[512], msg[256];
		double err = -1;
		snprintf(path, sizeof(path), "%s/%s", GOLDEN_DIR, e->d_name);
		int rc = rt_verify_lrs_case(path, &err, msg, sizeof(msg));
		ck_assert_msg(rc == 0, "%s: rc %d: %s", e->d_name, rc, msg);
		ck_assert_msg(err <= RT_VERIFY_LRS_RTOL, "%s: %s", e->d_name, msg);
		ncases++;
	}
	closedir(d);
	ck_assert_int_ge(ncases, 18);
}
END_TEST

START_TEST(golden_missing_file)
{
	char msg[128];
	ck_assert_int_eq(rt_verify_lrs_case("/nonexistent/x.yaml", NULL, msg, sizeof(msg)), FTSRT_EIO);
	ck_assert_int_eq(rt_verify_lrs_case("Makefile", NULL, msg, sizeof(msg)), FTSRT_EFORMAT);
}
END_TEST

/* ---- lambda bytecode ----------------------------------------------------- */

static int compile(const char *src, uint8_t *buf, size_t cap, struct rt_lambda *l)
{
	size_t len;
	struct rt_lambda_diag d;
	int rc = rt_lambda_compile_text(src, buf, cap, &len, &d);
	if (rc)
		return rc;
	return rt_lambda_validate(buf, len, l, &d);
}

static double eval_ok(const char *src, double epoch)
{
	uint8_t buf[RT_LAMBDA_MAX_LEN];
	struct rt_lambda l;
	ck_assert_msg(compile(src, buf, sizeof(buf), &l) == 0, "compile '%s'", src);
	double r = NAN;
	enum rt_lambda_exc x;
	ck_assert_msg(rt_lambda_eval(&l, epoch, &r, &x) == 0, "'%s' at %g raised %s", src, epoch,
		      rt_lambda_exc_name(x));
	return r;
}

static enum rt_lambda_exc eval_raises(const char *src, double epoch)
{
	uint8_t buf[RT_LAMBDA_MAX_LEN];
	struct rt_lambda l;
	ck_assert_msg(compile(src, buf, sizeof(buf), &l) == 0, "compile '%s'", src);
	double r = 12345.0;
	enum rt_lambda_exc x = RT_LAMBDA_EXC_NONE;
	ck_assert_int_eq(rt_lambda_eval(&l, epoch, &r, &x), FTSRT_EINVAL);
	ck_assert(r == 12345.0);
	return x;
}

START_TEST(lambda_python_values)
{
	static const struct {
		const char *src;
		double epoch, want;
	} t[] = {
		{"0.95 ** epoch", 3, 0.8573749999999999}, /* Python's repr */
		{"min(1.0, (epoch + 1) / 5)", 2, 0.6},
		{"min(1.0, (epoch + 1) / 5)", 9, 1.0},
		{"0.9", 7, 0.9},
		{"epoch // 30", 61, 2},
		{"-7 // 2", 0, -4},
		{"-7 % 3", 0, 2},
		{"7 % -3", 0, -2},
		{"-7.5 // 2", 0, -4},
		{"2 ** -1", 0, 0.5},
		{"-2 ** 2", 0, -4},
		{"2 ** 3 ** 2", 0, 512},
		{"(-2) ** 3", 0, -8},
		{"0 ** 0", 0, 1},
		{"1 / epoch if epoch > 0 else 1.0", 0, 1.0},
		{"1 / epoch if epoch > 0 else 1.0", 4, 0.25},
		{"0.1 if epoch < 2 else 0.2 if epoch < 4 else 0.3", 3, 0.2},
		{"0 <= epoch < 3", 2, 1},
		{"0 <= epoch < 3", 3, 0},
		{"epoch and 5 or 7", 0, 7},
		{"epoch and 5 or 7", 1, 5},
		{"not epoch", 0, 1},
		{"int(-2.7) + abs(-1) + float(2)", 0, 1},
		{"max(1, 2, epoch, 3)", 10, 10},
		{"1_000.5e-3 * .5", 0, 0.50025},
		{"0x10 + 0o7 + 0b11", 0, 26},
		{"True + False", 0, 1},
		{"(epoch + 1) / 5 if epoch < 5 else 0.5 ** ((epoch - 5) // 10)", 25, 0.25},
		{"1e308 * 10", 0, INFINITY}, /* Python: inf, no exception */
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		double r = eval_ok(t[i].src, t[i].epoch);
		ck_assert_msg(r == t[i].want, "'%s' at %g: %.17g, want %.17g", t[i].src, t[i].epoch, r,
			      t[i].want);
	}
}
END_TEST

START_TEST(lambda_python_exceptions)
{
	ck_assert_int_eq(eval_raises("1 / epoch", 0), RT_LAMBDA_EXC_ZERO_DIVISION);
	ck_assert_int_eq(eval_raises("epoch // 0", 3), RT_LAMBDA_EXC_ZERO_DIVISION);
	ck_assert_int_eq(eval_raises("epoch % 0.0", 3), RT_LAMBDA_EXC_ZERO_DIVISION);
	ck_assert_int_eq(eval_raises("0.0 ** -1", 0), RT_LAMBDA_EXC_ZERO_DIVISION);
	ck_assert_int_eq(eval_raises("(-8) ** (1 / 3)", 0), RT_LAMBDA_EXC_VALUE);
	ck_assert_int_eq(eval_raises("10.0 ** epoch", 400), RT_LAMBDA_EXC_OVERFLOW);
	ck_assert_int_eq(eval_raises("2 ** 100000", 0), RT_LAMBDA_EXC_OVERFLOW);
	ck_assert_int_eq(eval_raises("int(1e308 * 10)", 0), RT_LAMBDA_EXC_OVERFLOW);
	ck_assert_int_eq(eval_raises("int(1e308 * 10 - 1e308 * 10)", 0), RT_LAMBDA_EXC_VALUE);
	/* short-circuit: the untaken branch does not raise */
	ck_assert(eval_ok("epoch > 0 and 1 / epoch", 0) == 0);
}
END_TEST

START_TEST(lambda_syntax_errors)
{
	static const char *const bad[] = {
		"", "epoch +", "foo", "epoch(", "min(1)", "abs(1, 2)", "1e", "1__0", "1_", "(1",
		"1 if epoch", "epoch epoch", "import os", "lr * epoch", "1..2", "0x", "epoch ** ",
	};
	uint8_t buf[256];
	size_t len;
	struct rt_lambda_diag d;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(rt_lambda_compile_text(bad[i], buf, sizeof(buf), &len, &d) == FTSRT_EINVAL,
			      "'%s' accepted", bad[i]);
	/* nesting and program size are bounded */
	char deep[400];
	memset(deep, '(', 200);
	deep[200] = '1';
	memset(deep + 201, ')', 198);
	deep[399] = '\0';
	ck_assert_int_eq(rt_lambda_compile_text(deep, buf, sizeof(buf), &len, &d), FTSRT_EINVAL);
	ck_assert_int_eq(rt_lambda_compile_text("1 + 2 + 3 + 4", buf, 12, &len, &d), FTSRT_EINVAL);
}
END_TEST

/* Hand-assembled programs for the validator's error paths. */
struct prog {
	uint8_t b[64];
	size_t n;
};

static void p_init(struct prog *p, unsigned max_stack)
{
	p->b[0] = RT_LAMBDA_MAGIC0;
	p->b[1] = RT_LAMBDA_MAGIC1;
	p->b[2] = RT_LAMBDA_VERSION;
	p->b[3] = (uint8_t)max_stack;
	p->n = 4;
}

static void p_op(struct prog *p, uint8_t op)
{
	p->b[p->n++] = op;
}

static void p_const(struct prog *p, double v)
{
	uint64_t u;
	memcpy(&u, &v, 8);
	p_op(p, RT_LOP_CONST);
	for (int i = 0; i < 8; i++)
		p->b[p->n++] = (uint8_t)(u >> (8 * i));
}

static void p_jump(struct prog *p, uint8_t op, uint16_t off)
{
	p_op(p, op);
	p->b[p->n++] = (uint8_t)off;
	p->b[p->n++] = (uint8_t)(off >> 8);
}

static int validate(const struct prog *p, struct rt_lambda *l)
{
	return rt_lambda_validate(p->b, p->n, l, NULL);
}

START_TEST(lambda_validator)
{
	struct prog p;
	struct rt_lambda l;
	double r;

	/* a valid one: 2 * epoch */
	p_init(&p, 2);
	p_const(&p, 2.0);
	p_op(&p, RT_LOP_EPOCH);
	p_op(&p, RT_LOP_MUL);
	p_op(&p, RT_LOP_RET);
	ck_assert_int_eq(validate(&p, &l), 0);
	ck_assert_int_eq(rt_lambda_eval(&l, 21, &r, NULL), 0);
	ck_assert(r == 42.0);

	/* stack overflow: two pushes with max_stack 1 */
	p.b[3] = 1;
	ck_assert_int_eq(validate(&p, &l), FTSRT_EFORMAT);
	/* max_stack out of range */
	p.b[3] = 0;
	ck_assert_int_eq(validate(&p, &l), FTSRT_EFORMAT);
	p.b[3] = RT_LAMBDA_STACK_MAX + 1;
	ck_assert_int_eq(validate(&p, &l), FTSRT_EFORMAT);
	p.b[3] = 2;
	/* bad magic, bad version */
	p.b[0] = 'X';
	ck_assert_int_eq(validate(&p, &l), FTSRT_EFORMAT);
	p.b[0] = RT_LAMBDA_MAGIC0;
	p.b[2] = 2;
	ck_assert_int_eq(validate(&p, &l), FTSRT_EFORMAT);
	p.b[2] = RT_LAMBDA_VERSION;
	/* truncated program: every proper prefix is invalid */
	for (size_t n = 0; n < p.n; n++)
		ck_assert_msg(rt_lambda_validate(p.b, n, &l, NULL) == FTSRT_EFORMAT, "prefix %zu", n);

	/* bad opcodes */
	const uint8_t bad_ops[] = {0x00, RT_LOP_COUNT_, 0x7F, 0xFF};
	for (size_t i = 0; i < sizeof(bad_ops); i++) {
		p_init(&p, 2);
		p_op(&p, bad_ops[i]);
		p_op(&p, RT_LOP_RET);
		ck_assert_int_eq(validate(&p, &l), FTSRT_EFORMAT);
	}
	/* underflow */
	p_init(&p, 2);
	p_op(&p, RT_LOP_EPOCH);
	p_op(&p, RT_LOP_ADD);
	p_op(&p, RT_LOP_RET);
	ck_assert_int_eq(validate(&p, &l), FTSRT_EFORMAT);
	/* RET with two values; RET with none */
	p_init(&p, 2);
	p_op(&p, RT_LOP_EPOCH);
	p_op(&p, RT_LOP_EPOCH);
	p_op(&p, RT_LOP_RET);
	ck_assert_int_eq(validate(&p, &l), FTSRT_EFORMAT);
	p_init(&p, 2);
	p_op(&p, RT_LOP_RET);
	ck_assert_int_eq(validate(&p, &l), FTSRT_EFORMAT);
	/* runs off the end (no RET) */
	p_init(&p, 2);
	p_op(&p, RT_LOP_EPOCH);
	ck_assert_int_eq(validate(&p, &l), FTSRT_EFORMAT);
	/* truncated CONST operand */
	p_init(&p, 2);
	p_op(&p, RT_LOP_CONST);
	p_op(&p, 0);
	p_op(&p, 0);
	ck_assert_int_eq(validate(&p, &l), FTSRT_EFORMAT);
	/* jump into a CONST operand */
	p_init(&p, 2);
	p_op(&p, RT_LOP_EPOCH);
	p_jump(&p, RT_LOP_JUMP_IF_FALSE, 1);
	p_const(&p, 1.0);
	p_op(&p, RT_LOP_RET);
	ck_assert_int_eq(validate(&p, &l), FTSRT_EFORMAT);
	/* jump past the end */
	p_init(&p, 2);
	p_op(&p, RT_LOP_EPOCH);
	p_jump(&p, RT_LOP_JUMP, 100);
	p_op(&p, RT_LOP_RET);
	ck_assert_int_eq(validate(&p, &l), FTSRT_EFORMAT);
	/* depths disagree at a join: JUMP_IF_FALSE_OR_POP keeps a value on the
	 * jump path, the fall-through path pushes two */
	p_init(&p, 4);
	p_op(&p, RT_LOP_EPOCH);
	p_jump(&p, RT_LOP_JUMP_IF_FALSE_OR_POP, 2);
	p_op(&p, RT_LOP_EPOCH);
	p_op(&p, RT_LOP_EPOCH);
	p_op(&p, RT_LOP_RET);
	ck_assert_int_eq(validate(&p, &l), FTSRT_EFORMAT);
	/* unreachable code after RET */
	p_init(&p, 2);
	p_op(&p, RT_LOP_EPOCH);
	p_op(&p, RT_LOP_RET);
	p_op(&p, RT_LOP_EPOCH);
	p_op(&p, RT_LOP_RET);
	ck_assert_int_eq(validate(&p, &l), FTSRT_EFORMAT);
	/* a correct conditional: epoch if epoch else 7 */
	p_init(&p, 1);
	p_op(&p, RT_LOP_EPOCH);
	p_jump(&p, RT_LOP_JUMP_IF_FALSE, 4);
	p_op(&p, RT_LOP_EPOCH);
	p_jump(&p, RT_LOP_JUMP, 9);
	p_const(&p, 7.0);
	p_op(&p, RT_LOP_RET);
	ck_assert_int_eq(validate(&p, &l), 0);
	ck_assert_int_eq(rt_lambda_eval(&l, 0, &r, NULL), 0);
	ck_assert(r == 7.0);
	ck_assert_int_eq(rt_lambda_eval(&l, 3, &r, NULL), 0);
	ck_assert(r == 3.0);
	/* an unvalidated struct is refused by eval */
	struct rt_lambda junk = {p.b, 2, 1};
	enum rt_lambda_exc x;
	ck_assert_int_eq(rt_lambda_eval(&junk, 0, &r, &x), FTSRT_EINVAL);
	ck_assert_int_eq(x, RT_LAMBDA_EXC_INVALID);
}
END_TEST

/*
 * Mutated programs (bytes flipped, tails cut) held to the validator's and
 * the interpreter's contracts: a rejection says where (an offset inside
 * the program) and why; a validated program evaluates at every epoch to a
 * value or to a named Python exception (never "not validated"), leaves
 * *out untouched when it raises, and gives the same bits every time.
 */
START_TEST(lambda_mutation_fuzz)
{
	uint8_t orig[RT_LAMBDA_MAX_LEN], buf[RT_LAMBDA_MAX_LEN];
	size_t len;
	ck_assert_int_eq(rt_lambda_compile_text("min(1.0, (epoch + 1) / 5) if 0 <= epoch < 9 or not "
						"epoch else 0.5 ** (epoch // 3)",
						orig, sizeof(orig), &len, NULL), 0);
	uint32_t seed = 12345;
	int accepted = 0, rejected = 0, raised = 0;
	for (int it = 0; it < 20000; it++) {
		memcpy(buf, orig, len);
		int flips = 1 + it % 3;
		for (int f = 0; f < flips; f++) {
			seed = seed * 1103515245u + 12345u;
			size_t at = (seed >> 8) % len;
			seed = seed * 1103515245u + 12345u;
			buf[at] = (uint8_t)(seed >> 16);
		}
		seed = seed * 1103515245u + 12345u;
		size_t n = (it % 7 == 0) ? (seed >> 8) % (len + 1) : len;
		struct rt_lambda l;
		struct rt_lambda_diag dg = {0};
		if (rt_lambda_validate(buf, n, &l, &dg) != 0) {
			ck_assert_msg(dg.msg[0] && dg.offset <= n, "mutant %d: rejected at %zu of %zu "
				      "with \"%s\"", it, dg.offset, n, dg.msg);
			rejected++;
			continue;
		}
		ck_assert_ptr_eq(l.code, buf);
		ck_assert_uint_eq(l.len, n);
		for (int e = -2; e < 12; e++) {
			double r1 = -12345.0, r2 = -12345.0;
			enum rt_lambda_exc x1 = RT_LAMBDA_EXC_INVALID, x2 = RT_LAMBDA_EXC_INVALID;
			int rc1 = rt_lambda_eval(&l, e, &r1, &x1);
			int rc2 = rt_lambda_eval(&l, e, &r2, &x2);
			ck_assert_int_eq(rc1, rc2);
			ck_assert_int_eq(x1, x2);
			if (rc1 == 0) {
				ck_assert_int_eq(x1, RT_LAMBDA_EXC_NONE);
				ck_assert_msg(!memcmp(&r1, &r2, sizeof(r1)), "mutant %d: two values at "
					      "epoch %d", it, e);
			} else {
				ck_assert_int_eq(rc1, FTSRT_EINVAL);
				ck_assert_msg(x1 == RT_LAMBDA_EXC_ZERO_DIVISION || x1 == RT_LAMBDA_EXC_VALUE ||
					      x1 == RT_LAMBDA_EXC_OVERFLOW, "mutant %d: exception %d", it,
					      (int)x1);
				ck_assert(r1 == -12345.0);
				ck_assert_str_ne(rt_lambda_exc_name(x1), "");
				raised++;
			}
		}
		accepted++;
	}
	fprintf(stderr, "check_sched: %d lambda mutants rejected, %d validated (%d raising "
		"evaluations)\n", rejected, accepted, raised);
	ck_assert_int_gt(accepted, 100);
	ck_assert_int_gt(rejected, 1000);
}
END_TEST

/* ---- schedulers: helpers ------------------------------------------------- */

#define MAXG 8
struct groups {
	double lr[MAXG], ilr[MAXG], mom[MAXG];
	struct rt_pg pg;
};

static void groups_init(struct groups *g, size_t n, const double *lrs)
{
	for (size_t i = 0; i < n; i++) {
		g->lr[i] = lrs[i];
		g->ilr[i] = NAN;
		g->mom[i] = 0.9;
	}
	g->pg.lr = g->lr;
	g->pg.initial_lr = g->ilr;
	g->pg.momentum = g->mom;
	g->pg.n = n;
}

/* FTS appends a group: lr and initial_lr set to the phase lr */
static void groups_add(struct groups *g, double lr)
{
	size_t i = g->pg.n++;
	g->lr[i] = lr;
	g->ilr[i] = lr;
	g->mom[i] = 0.9;
}

static const double base3[3] = {0.1, 0.05, 0.01};

/* ---- add_group (FTS 7.7) ------------------------------------------------- */

START_TEST(add_group_lambda_padding)
{
	uint8_t b1[256], b2[256];
	struct rt_lambda l[2];
	ck_assert_int_eq(compile("0.5 ** epoch", b1, sizeof(b1), &l[0]), 0);
	ck_assert_int_eq(compile("0.9 ** epoch", b2, sizeof(b2), &l[1]), 0);
	struct rt_sched_config cfg;
	rt_sched_config_defaults(&cfg, RT_SCHED_LAMBDA);
	cfg.lambdas = l;
	cfg.nlambdas = 2;
	cfg.lambda_list = true;
	struct groups g;
	groups_init(&g, 2, base3);
	struct rt_sched s;
	ck_assert_int_eq(rt_sched_init(&s, &cfg, &g.pg, NULL, NULL), 0);
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(rt_sched_step(&s, &g.pg, NULL), 0);
	ck_assert(rt_sched_has_lambdas(&s));
	double f;
	ck_assert_int_eq(rt_sched_last_lambda(&s, &f), 0);
	ck_assert(f == 0.9 * 0.9 * 0.9);
	/* apply_lambdas_new_pgs would scale the new group's lr by f; the
	 * scheduler's base_lrs gets the unscaled lr */
	groups_add(&g, 0.2 * f);
	ck_assert_int_eq(rt_sched_add_group(&s, 0.2), 0);
	ck_assert_uint_eq(s.ngroups, 3);
	ck_assert(s.base_lrs[2] == 0.2);
	ck_assert_uint_eq(s.lambda_idx[2], 1); /* a copy of the last lambda */
	ck_assert_int_eq(rt_sched_step(&s, &g.pg, NULL), 0);
	double p4;
	ck_assert_int_eq(rt_lambda_pow(0.9, 4, &p4), RT_LAMBDA_EXC_NONE);
	ck_assert(g.lr[2] == 0.2 * p4);
	ck_assert(g.lr[1] == 0.05 * p4);
	ck_assert(rt_sched_last_lr(&s, 2) == g.lr[2]);
	/* a group the scheduler does not know about is refused */
	groups_add(&g, 0.3);
	ck_assert_int_eq(rt_sched_step(&s, &g.pg, NULL), FTSRT_EINVAL);
	rt_sched_release(&s);
}
END_TEST

START_TEST(add_group_chainable_and_plateau)
{
	struct rt_sched_config cfg;
	struct groups g;
	struct rt_sched s;

	/* StepLR continues from the group's current lr */
	rt_sched_config_defaults(&cfg, RT_SCHED_STEP);
	cfg.step_size = 2;
	cfg.gamma = 0.5;
	groups_init(&g, 1, base3);
	ck_assert_int_eq(rt_sched_init(&s, &cfg, &g.pg, NULL, NULL), 0);
	ck_assert_int_eq(rt_sched_step(&s, &g.pg, NULL), 0);
	groups_add(&g, 0.04);
	ck_assert_int_eq(rt_sched_add_group(&s, 0.04), 0);
	ck_assert(s.base_lrs[1] == 0.04);
	ck_assert_int_eq(rt_sched_step(&s, &g.pg, NULL), 0); /* epoch 2: decay */
	ck_assert(g.lr[0] == 0.05 && g.lr[1] == 0.02);
	rt_sched_release(&s);

	/* ReduceLROnPlateau: min_lrs extended with min_lrs[0] */
	rt_sched_config_defaults(&cfg, RT_SCHED_PLATEAU);
	const double mins[2] = {0.03, 0.001};
	cfg.min_lr.list = mins;
	cfg.min_lr.n = 2;
	cfg.patience = 0;
	cfg.factor = 0.5;
	groups_init(&g, 2, base3);
	ck_assert_int_eq(rt_sched_init(&s, &cfg, &g.pg, NULL, NULL), 0);
	ck_assert(isnan(g.ilr[0])); /* RLROP never sets initial_lr */
	groups_add(&g, 0.04);
	ck_assert_int_eq(rt_sched_add_group(&s, 0.04), 0);
	ck_assert(s.min_lrs[2] == 0.03);
	ck_assert_int_eq(rt_sched_step(&s, &g.pg, NULL), FTSRT_EINVAL); /* metric required */
	double m = 1.0;
	ck_assert_int_eq(rt_sched_step(&s, &g.pg, &m), 0);
	ck_assert_int_eq(rt_sched_step(&s, &g.pg, &m), 0); /* bad epoch -> reduce */
	ck_assert(g.lr[0] == 0.05 && g.lr[1] == 0.025 && g.lr[2] == 0.03);
	rt_sched_release(&s);

	/* OneCycleLR cannot take a group */
	rt_sched_config_defaults(&cfg, RT_SCHED_ONECYCLE);
	cfg.max_lr.scalar = 0.1;
	cfg.total_steps = 10;
	groups_init(&g, 2, base3);
	ck_assert_int_eq(rt_sched_init(&s, &cfg, &g.pg, NULL, NULL), 0);
	ck_assert_int_eq(rt_sched_add_group(&s, 0.1), FTSRT_EINVAL);
	rt_sched_release(&s);
}
END_TEST

/* ---- construction-time behaviour ----------------------------------------- */

START_TEST(initial_lr_precedence)
{
	/* closed-form LambdaLR starts from initial_lr, chainable ExponentialLR
	 * from the group's current lr (fts-semantics 7.10) */
	uint8_t b[256];
	struct rt_lambda l;
	ck_assert_int_eq(compile("1.0", b, sizeof(b), &l), 0);
	struct rt_sched_config cfg;
	rt_sched_config_defaults(&cfg, RT_SCHED_LAMBDA);
	cfg.lambdas = &l;
	cfg.nlambdas = 1;
	struct groups g;
	groups_init(&g, 1, base3);
	g.ilr[0] = 0.5;
	struct rt_sched s;
	ck_assert_int_eq(rt_sched_init(&s, &cfg, &g.pg, NULL, NULL), 0);
	ck_assert(g.lr[0] == 0.5 && s.base_lrs[0] == 0.5);
	rt_sched_release(&s);

	rt_sched_config_defaults(&cfg, RT_SCHED_EXPONENTIAL);
	cfg.gamma = 0.5;
	groups_init(&g, 1, base3);
	g.ilr[0] = 0.5;
	ck_assert_int_eq(rt_sched_init(&s, &cfg, &g.pg, NULL, NULL), 0);
	ck_assert(g.lr[0] == 0.1);
	ck_assert_int_eq(rt_sched_step(&s, &g.pg, NULL), 0);
	ck_assert(g.lr[0] == 0.05);
	rt_sched_release(&s);

	/* resuming (last_epoch != -1) needs initial_lr on every group */
	cfg.last_epoch = 3;
	groups_init(&g, 1, base3);
	ck_assert_int_eq(rt_sched_init(&s, &cfg, &g.pg, NULL, NULL), FTSRT_EINVAL);
	ck_assert_ptr_nonnull(strstr(rt_sched_errmsg(&s), "initial_lr"));
	rt_sched_release(&s);
}
END_TEST

START_TEST(argument_errors)
{
	struct rt_sched_config cfg;
	struct groups g;
	struct rt_sched s;
	groups_init(&g, 3, base3);

	rt_sched_config_defaults(&cfg, RT_SCHED_CONSTANT);
	cfg.factor = 2.0;
	ck_assert_int_eq(rt_sched_init(&s, &cfg, &g.pg, NULL, NULL), FTSRT_EINVAL);
	rt_sched_config_defaults(&cfg, RT_SCHED_STEP); /* step_size required */
	ck_assert_int_eq(rt_sched_init(&s, &cfg, &g.pg, NULL, NULL), FTSRT_EINVAL);
	rt_sched_config_defaults(&cfg, RT_SCHED_EXPONENTIAL); /* gamma required */
	ck_assert_int_eq(rt_sched_init(&s, &cfg, &g.pg, NULL, NULL), FTSRT_EINVAL);
	rt_sched_config_defaults(&cfg, RT_SCHED_PLATEAU);
	cfg.factor = 1.0;
	ck_assert_int_eq(rt_sched_init(&s, &cfg, &g.pg, NULL, NULL), FTSRT_EINVAL);
	rt_sched_config_defaults(&cfg, RT_SCHED_ONECYCLE); /* max_lr, total_steps */
	ck_assert_int_eq(rt_sched_init(&s, &cfg, &g.pg, NULL, NULL), FTSRT_EINVAL);
	rt_sched_config_defaults(&cfg, RT_SCHED_ONECYCLE);
	cfg.max_lr.scalar = 0.1;
	cfg.total_steps = 10;
	g.pg.momentum = NULL;
	ck_assert_int_eq(rt_sched_init(&s, &cfg, &g.pg, NULL, NULL), FTSRT_EINVAL);
	g.pg.momentum = g.mom;
	const double two[2] = {0.1, 0.2};
	cfg.max_lr.list = two;
	cfg.max_lr.n = 2;
	ck_assert_int_eq(rt_sched_init(&s, &cfg, &g.pg, NULL, NULL), FTSRT_EINVAL);
	/* SequentialLR: milestones count, no ReduceLROnPlateau children */
	struct rt_sched_config ch[2];
	rt_sched_config_defaults(&ch[0], RT_SCHED_PLATEAU);
	rt_sched_config_defaults(&ch[1], RT_SCHED_EXPONENTIAL);
	ch[1].gamma = 0.9;
	rt_sched_config_defaults(&cfg, RT_SCHED_SEQUENTIAL);
	cfg.children = ch;
	cfg.nchildren = 2;
	ck_assert_int_eq(rt_sched_init(&s, &cfg, &g.pg, NULL, NULL), FTSRT_EINVAL);
	rt_sched_config_defaults(&ch[0], RT_SCHED_EXPONENTIAL);
	ch[0].gamma = 0.9;
	ck_assert_int_eq(rt_sched_init(&s, &cfg, &g.pg, NULL, NULL), FTSRT_EINVAL);
	rt_sched_release(&s);

	/* ConstantLR(factor=0) raises ZeroDivisionError at total_iters; no lr moves */
	rt_sched_config_defaults(&cfg, RT_SCHED_CONSTANT);
	cfg.factor = 0.0;
	cfg.total_iters = 2;
	groups_init(&g, 3, base3);
	ck_assert_int_eq(rt_sched_init(&s, &cfg, &g.pg, NULL, NULL), 0);
	ck_assert_int_eq(rt_sched_step(&s, &g.pg, NULL), 0);
	ck_assert_int_eq(rt_sched_step(&s, &g.pg, NULL), FTSRT_EINVAL);
	ck_assert_ptr_nonnull(strstr(rt_sched_errmsg(&s), "ZeroDivisionError"));
	ck_assert(g.lr[0] == 0.0 && s.last_epoch == 1);
	rt_sched_release(&s);

	/* SequentialLR/ChainedScheduler take no epoch */
	rt_sched_config_defaults(&cfg, RT_SCHED_CHAINED);
	cfg.children = ch;
	cfg.nchildren = 1;
	ck_assert_int_eq(rt_sched_init(&s, &cfg, &g.pg, NULL, NULL), 0);
	ck_assert_int_eq(rt_sched_step_epoch(&s, &g.pg, 3, NULL), FTSRT_EINVAL);
	rt_sched_release(&s);
}
END_TEST

/* ---- other kinds against hand-computed torch arithmetic --------------------- */

START_TEST(cawr_fractional_epoch)
{
	struct rt_sched_config cfg;
	rt_sched_config_defaults(&cfg, RT_SCHED_COSINE_WR);
	cfg.T_0 = 10;
	cfg.T_mult = 2;
	cfg.eta_min = 0.001;
	struct groups g;
	groups_init(&g, 1, base3);
	struct rt_sched s;
	ck_assert_int_eq(rt_sched_init(&s, &cfg, &g.pg, NULL, NULL), 0);
	ck_assert_int_eq(rt_sched_step_epoch(&s, &g.pg, 25.5, NULL), 0);
	/* n = int(log(25.5/10*1+1, 2)) = 1; T_cur = 25.5 - 10*(2-1)/1; T_i = 20 */
	ck_assert(s.T_cur == 15.5 && s.T_i == 20 && s.last_epoch == 25);
	double want = 0.001 + (0.1 - 0.001) * (1 + cos(M_PI * 15.5 / 20)) / 2;
	ck_assert(g.lr[0] == want);
	ck_assert_int_eq(rt_sched_step(&s, &g.pg, NULL), 0); /* T_cur 16.5 */
	ck_assert(s.T_cur == 16.5 && s.last_epoch == 26);
	ck_assert_int_eq(rt_sched_step_epoch(&s, &g.pg, -1, NULL), FTSRT_EINVAL);
	rt_sched_release(&s);
}
END_TEST

START_TEST(onecycle_three_phase_linear_and_cyclic)
{
	struct rt_sched_config cfg;
	struct groups g;
	struct rt_sched s;
	rt_sched_config_defaults(&cfg, RT_SCHED_ONECYCLE);
	cfg.max_lr.scalar = 1.0;
	cfg.total_steps = 21;
	cfg.pct_start = 0.25;
	cfg.three_phase = true;
	cfg.anneal_strategy = RT_ANNEAL_LINEAR;
	groups_init(&g, 1, base3);
	ck_assert_int_eq(rt_sched_init(&s, &cfg, &g.pg, NULL, NULL), 0);
	ck_assert(g.lr[0] == 1.0 / 25 && g.ilr[0] == 1.0 / 25 && g.mom[0] == 0.95);
	/* end_steps 4.25, 8.5, 20 */
	for (int i = 0; i < 20; i++)
		ck_assert_int_eq(rt_sched_step(&s, &g.pg, NULL), 0);
	ck_assert_double_eq_tol(g.lr[0], 1.0 / 25 / 1e4, 1e-15); /* (end - start) * 1 + start */
	ck_assert(g.mom[0] == 0.95);
	ck_assert_int_eq(rt_sched_step(&s, &g.pg, NULL), 0);  /* step 21 == total_steps */
	ck_assert_int_eq(rt_sched_step(&s, &g.pg, NULL), FTSRT_EINVAL); /* 22 > total */
	rt_sched_release(&s);

	/* CyclicLR triangular: max_lr and base_momentum at step_size_up */
	rt_sched_config_defaults(&cfg, RT_SCHED_CYCLIC);
	cfg.base_lr.scalar = 0.01;
	cfg.max_lr.scalar = 0.1;
	cfg.step_size_up = 4;
	cfg.step_size_down = 2;
	groups_init(&g, 2, base3);
	ck_assert_int_eq(rt_sched_init(&s, &cfg, &g.pg, NULL, NULL), 0);
	ck_assert(g.lr[0] == 0.01 && g.mom[1] == 0.9);
	for (int i = 0; i < 4; i++)
		ck_assert_int_eq(rt_sched_step(&s, &g.pg, NULL), 0);
	ck_assert_double_eq_tol(g.lr[0], 0.1, 1e-15);  /* x / step_ratio is not exactly 1 */
	ck_assert_double_eq_tol(g.mom[0], 0.8, 1e-15);
	ck_assert_int_eq(rt_sched_step(&s, &g.pg, NULL), 0);
	{
		double q = 5 / 6.0, cyc = floor(1 + q), x = 1.0 + q - cyc, ratio = 4 / 6.0;
		ck_assert(g.lr[1] == 0.01 + (0.1 - 0.01) * ((x - 1) / (ratio - 1)) * 1.0);
	}
	/* an added group is not covered by max_lrs: torch leaves it alone */
	groups_add(&g, 0.3);
	ck_assert_int_eq(rt_sched_add_group(&s, 0.3), 0);
	ck_assert_int_eq(rt_sched_step(&s, &g.pg, NULL), 0);
	ck_assert(g.lr[2] == 0.3);
	rt_sched_release(&s);

	/* exp_range scales by gamma ** iteration */
	rt_sched_config_defaults(&cfg, RT_SCHED_CYCLIC);
	cfg.base_lr.scalar = 0.0;
	cfg.max_lr.scalar = 1.0;
	cfg.step_size_up = 2;
	cfg.cyclic_mode = RT_CYCLIC_EXP_RANGE;
	cfg.gamma = 0.5;
	cfg.cycle_momentum = false;
	groups_init(&g, 1, base3);
	g.pg.momentum = NULL;
	ck_assert_int_eq(rt_sched_init(&s, &cfg, &g.pg, NULL, NULL), 0);
	ck_assert_int_eq(rt_sched_step(&s, &g.pg, NULL), 0);
	ck_assert_int_eq(rt_sched_step(&s, &g.pg, NULL), 0);
	ck_assert(g.lr[0] == 0.25);
	rt_sched_release(&s);
}
END_TEST

/* ---- state save / load ------------------------------------------------------- */

static void build_seq(struct rt_sched_config *cfg, struct rt_sched_config ch[2], int64_t *ms)
{
	rt_sched_config_defaults(&ch[0], RT_SCHED_LINEAR);
	ch[0].start_factor = 0.1;
	ch[0].total_iters = 3;
	rt_sched_config_defaults(&ch[1], RT_SCHED_COSINE);
	ch[1].T_max = 7;
	ch[1].eta_min = 1e-4;
	rt_sched_config_defaults(cfg, RT_SCHED_SEQUENTIAL);
	cfg->children = ch;
	cfg->nchildren = 2;
	*ms = 3;
	cfg->milestones = ms;
	cfg->nmilestones = 1;
}

START_TEST(state_round_trip)
{
	struct rt_sched_config cfg, ch[2];
	int64_t ms;
	build_seq(&cfg, ch, &ms);
	struct groups a, b;
	struct rt_sched sa, sb;
	groups_init(&a, 2, base3);
	ck_assert_int_eq(rt_sched_init(&sa, &cfg, &a.pg, NULL, NULL), 0);
	for (int i = 0; i < 5; i++)
		ck_assert_int_eq(rt_sched_step(&sa, &a.pg, NULL), 0);
	groups_add(&a, 0.02);
	ck_assert_int_eq(rt_sched_add_group(&sa, 0.02), 0);
	ck_assert_int_eq(rt_sched_step(&sa, &a.pg, NULL), 0);

	size_t n = rt_sched_state_size(&sa);
	uint8_t *buf = malloc(n);
	ck_assert_int_eq(rt_sched_state_save(&sa, buf, n - 1), FTSRT_EINVAL);
	ck_assert_int_eq(rt_sched_state_save(&sa, buf, n), 0);

	/* a fresh scheduler from the same configuration, groups restored by the
	 * optimizer side, then the scheduler state */
	groups_init(&b, 2, base3);
	ck_assert_int_eq(rt_sched_init(&sb, &cfg, &b.pg, NULL, NULL), 0);
	ck_assert_int_eq(rt_sched_state_load(&sb, buf, n), 0);
	b = a;
	b.pg.lr = b.lr;
	b.pg.initial_lr = b.ilr;
	b.pg.momentum = b.mom;
	ck_assert_uint_eq(sb.ngroups, 3);
	for (int i = 0; i < 12; i++) {
		ck_assert_int_eq(rt_sched_step(&sa, &a.pg, NULL), 0);
		ck_assert_int_eq(rt_sched_step(&sb, &b.pg, NULL), 0);
		for (int k = 0; k < 3; k++)
			ck_assert(a.lr[k] == b.lr[k]);
	}

	/* corruption: every single-byte change is rejected, nothing changes */
	uint8_t *bad = malloc(n);
	struct rt_sched_config save_cfg = cfg;
	(void)save_cfg;
	int64_t le = sb.last_epoch;
	for (size_t i = 0; i < n; i++) {
		memcpy(bad, buf, n);
		bad[i] ^= 0x5A;
		int rc = rt_sched_state_load(&sb, bad, n);
		ck_assert_msg(rc == FTSRT_EFORMAT || rc == FTSRT_EVERSION, "byte %zu: rc %d", i, rc);
	}
	for (size_t k = 0; k < n; k += 7)
		ck_assert_int_eq(rt_sched_state_load(&sb, buf, k), FTSRT_EFORMAT);
	ck_assert_int_eq(sb.last_epoch, le);
	/* newer version */
	memcpy(bad, buf, n);
	bad[4] = 9;
	ck_assert_int_eq(rt_sched_state_load(&sb, bad, n), FTSRT_EVERSION);
	/* a state of another kind */
	struct rt_sched_config ec;
	rt_sched_config_defaults(&ec, RT_SCHED_EXPONENTIAL);
	ec.gamma = 0.9;
	struct groups c;
	struct rt_sched sc;
	groups_init(&c, 2, base3);
	ck_assert_int_eq(rt_sched_init(&sc, &ec, &c.pg, NULL, NULL), 0);
	ck_assert_int_eq(rt_sched_state_load(&sc, buf, n), FTSRT_EFORMAT);
	rt_sched_release(&sc);

	/* a well-formed state that breaks an invariant (StepLR step_size 0) is
	 * loaded but refused at the next step instead of dividing by zero */
	struct rt_sched_config stc;
	rt_sched_config_defaults(&stc, RT_SCHED_STEP);
	stc.step_size = 3;
	groups_init(&c, 2, base3);
	ck_assert_int_eq(rt_sched_init(&sc, &stc, &c.pg, NULL, NULL), 0);
	sc.step_size = 0;
	size_t sn = rt_sched_state_size(&sc);
	uint8_t *sbuf = malloc(sn);
	ck_assert_int_eq(rt_sched_state_save(&sc, sbuf, sn), 0);
	sc.step_size = 3;
	ck_assert_int_eq(rt_sched_state_load(&sc, sbuf, sn), 0);
	ck_assert_int_eq(rt_sched_step(&sc, &c.pg, NULL), FTSRT_EINVAL);
	ck_assert_int_eq(rt_sched_step_epoch(&sc, &c.pg, 4, NULL), FTSRT_EINVAL);
	free(sbuf);
	rt_sched_release(&sc);

	free(bad);
	free(buf);
	rt_sched_release(&sa);
	rt_sched_release(&sb);
}
END_TEST

START_TEST(state_lambda_and_plateau)
{
	uint8_t code[256];
	struct rt_lambda l;
	ck_assert_int_eq(compile("0.95 ** epoch", code, sizeof(code), &l), 0);
	struct rt_sched_config cfg;
	rt_sched_config_defaults(&cfg, RT_SCHED_MULTIPLICATIVE);
	cfg.lambdas = &l;
	cfg.nlambdas = 1;
	struct groups a, b;
	struct rt_sched sa, sb;
	groups_init(&a, 3, base3);
	groups_init(&b, 3, base3);
	ck_assert_int_eq(rt_sched_init(&sa, &cfg, &a.pg, NULL, NULL), 0);
	ck_assert_int_eq(rt_sched_init(&sb, &cfg, &b.pg, NULL, NULL), 0);
	for (int i = 0; i < 4; i++)
		ck_assert_int_eq(rt_sched_step(&sa, &a.pg, NULL), 0);
	uint8_t buf[4096];
	size_t n = rt_sched_state_size(&sa);
	ck_assert_uint_le(n, sizeof(buf));
	ck_assert_int_eq(rt_sched_state_save(&sa, buf, n), 0);
	ck_assert_int_eq(rt_sched_state_load(&sb, buf, n), 0);
	memcpy(b.lr, a.lr, sizeof(a.lr));
	ck_assert_int_eq(rt_sched_step(&sa, &a.pg, NULL), 0);
	ck_assert_int_eq(rt_sched_step(&sb, &b.pg, NULL), 0);
	ck_assert(a.lr[2] == b.lr[2]);
	rt_sched_release(&sa);
	rt_sched_release(&sb);

	rt_sched_config_defaults(&cfg, RT_SCHED_PLATEAU);
	cfg.patience = 1;
	groups_init(&a, 1, base3);
	groups_init(&b, 1, base3);
	ck_assert_int_eq(rt_sched_init(&sa, &cfg, &a.pg, NULL, NULL), 0);
	ck_assert_int_eq(rt_sched_init(&sb, &cfg, &b.pg, NULL, NULL), 0);
	double m = 1.0;
	ck_assert_int_eq(rt_sched_step(&sa, &a.pg, &m), 0);
	ck_assert_int_eq(rt_sched_step(&sa, &a.pg, &m), 0);
	n = rt_sched_state_size(&sa);
	ck_assert_int_eq(rt_sched_state_save(&sa, buf, n), 0);
	ck_assert_int_eq(rt_sched_state_load(&sb, buf, n), 0);
	ck_assert(sb.best == 1.0 && sb.num_bad_epochs == 1);
	ck_assert_int_eq(rt_sched_step(&sb, &b.pg, &m), 0); /* second bad epoch: reduce */
	ck_assert(b.lr[0] == 0.1 * 0.1);
	rt_sched_release(&sa);
	rt_sched_release(&sb);
}
END_TEST

/* ---- allocation failure --------------------------------------------------------- */

struct failing {
	int left;                       /* allocations allowed */
	long live;                      /* outstanding blocks */
};

static void *failing_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
	struct failing *f = ud;
	(void)osize;
	if (nsize == 0) {
		if (ptr)
			f->live--;
		free(ptr);
		return NULL;
	}
	if (f->left-- <= 0)
		return NULL;
	void *p = realloc(ptr, nsize);
	if (p && !ptr)
		f->live++;
	return p;
}

START_TEST(oom_sweep)
{
	uint8_t code[256];
	struct rt_lambda l;
	ck_assert_int_eq(compile("0.9 ** epoch", code, sizeof(code), &l), 0);
	struct rt_sched_config ch[3], cfg;
	rt_sched_config_defaults(&ch[0], RT_SCHED_LAMBDA);
	ch[0].lambdas = &l;
	ch[0].nlambdas = 1;
	rt_sched_config_defaults(&ch[1], RT_SCHED_MULTISTEP);
	const int64_t ms[2] = {2, 4};
	ch[1].milestones = ms;
	ch[1].nmilestones = 2;
	rt_sched_config_defaults(&ch[2], RT_SCHED_EXPONENTIAL);
	ch[2].gamma = 0.5;
	rt_sched_config_defaults(&cfg, RT_SCHED_SEQUENTIAL);
	cfg.children = ch;
	cfg.nchildren = 3;
	cfg.milestones = ms;
	cfg.nmilestones = 2;
	for (int budget = 0;; budget++) {
		struct failing f = {budget, 0};
		struct groups g;
		struct rt_sched s;
		groups_init(&g, 3, base3);
		int rc = rt_sched_init(&s, &cfg, &g.pg, failing_alloc, &f);
		if (rc) {
			ck_assert_int_eq(rc, FTSRT_ENOMEM);
			ck_assert_int_eq(f.live, 0);
			rt_sched_release(&s);
			continue;
		}
		for (int i = 0; i < 6; i++)
			ck_assert_int_eq(rt_sched_step(&s, &g.pg, NULL), 0);
		rt_sched_release(&s);
		ck_assert_int_eq(f.live, 0);
		ck_assert_int_gt(budget, 3);
		break;
	}
}
END_TEST

static Suite *sched_suite(void)
{
	Suite *s = suite_create("sched");
	TCase *t = tcase_create("golden");
	tcase_add_test(t, golden_all_cases);
	tcase_add_test(t, golden_missing_file);
	suite_add_tcase(s, t);
	t = tcase_create("lambda");
	tcase_add_test(t, lambda_python_values);
	tcase_add_test(t, lambda_python_exceptions);
	tcase_add_test(t, lambda_syntax_errors);
	tcase_add_test(t, lambda_validator);
	tcase_add_test(t, lambda_mutation_fuzz);
	suite_add_tcase(s, t);
	t = tcase_create("sched");
	tcase_add_test(t, add_group_lambda_padding);
	tcase_add_test(t, add_group_chainable_and_plateau);
	tcase_add_test(t, initial_lr_precedence);
	tcase_add_test(t, argument_errors);
	tcase_add_test(t, cawr_fractional_epoch);
	tcase_add_test(t, onecycle_three_phase_linear_and_cyclic);
	suite_add_tcase(s, t);
	t = tcase_create("state");
	tcase_add_test(t, state_round_trip);
	tcase_add_test(t, state_lambda_and_plateau);
	tcase_add_test(t, oom_sweep);
	suite_add_tcase(s, t);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(sched_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
