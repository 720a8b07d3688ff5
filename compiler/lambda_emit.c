/*
 * lambda_emit.c - expression tree to lr_lambda bytecode (see lambda_emit.h
 * and the format in runtime/lambda.h).
 *
 * A straightforward post-order walk.  Values are doubles at run time, so
 * Python's int and bool constants become their float values.  Chained
 * comparisons `a < b < c` re-evaluate b (the bytecode has no DUP; the
 * expression language has no side effects, so the result is the same).
 * `and`/`or` use the keep-or-pop jumps, `x if c else y` a conditional and
 * an unconditional jump; jumps are forward and patched once their target
 * is known.  The maximum stack depth is tracked and stored in the header.
 */
#include "lambda_emit.h"

#include "../runtime/lambda.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

/* runtime/lambda.h, ORDER OPCODES */
/* the opcodes, magic, version and limits are the runtime's (lambda_ops.def) */
#define HEADER RT_LAMBDA_HEADER_SIZE
#define STACK_MAX RT_LAMBDA_STACK_MAX

struct em {
	uint8_t *buf;
	size_t cap, len;
	int depth, max;
	char *err;
	size_t errlen;
	bool failed;
};

static void fail(struct em *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail(struct em *m, const char *fmt, ...)
{
	if (m->failed)
		return;
	m->failed = true;
	if (m->err && m->errlen) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(m->err, m->errlen, fmt, ap);
		va_end(ap);
	}
}

static void byte(struct em *m, uint8_t b)
{
	if (m->len >= m->cap) {
		fail(m, "lr_lambda program longer than %zu bytes", m->cap);
		return;
	}
	m->buf[m->len++] = b;
}

/* Emit op, which pops `pops` values and pushes `pushes`. */
static void op(struct em *m, uint8_t o, int pops, int pushes)
{
	byte(m, o);
	m->depth += pushes - pops;
	if (m->depth > m->max)
		m->max = m->depth;
	if (m->max > STACK_MAX)
		fail(m, "lr_lambda expression nests too deeply (over %d stack slots)", STACK_MAX);
}

static void constant(struct em *m, double v)
{
	uint64_t u;
	memcpy(&u, &v, sizeof(u));
	op(m, RT_LOP_CONST, 0, 1);
	for (int k = 0; k < 8; k++)
		byte(m, (uint8_t)(u >> (8 * k)));
}

/* A jump with a 2-byte placeholder; returns where its operand is. */
static size_t jump(struct em *m, uint8_t o, int pops)
{
	op(m, o, pops, 0);
	size_t at = m->len;
	byte(m, 0);
	byte(m, 0);
	return at;
}

static void patch(struct em *m, size_t at)
{
	if (m->failed)
		return;
	size_t d = m->len - (at + 2);
	if (d > 0xFFFF) {
		fail(m, "lr_lambda jump too long");
		return;
	}
	m->buf[at] = (uint8_t)d;
	m->buf[at + 1] = (uint8_t)(d >> 8);
}

static void expr(struct em *m, const struct fts_expr *e);

static void compare(struct em *m, int cmp)
{
	static const uint8_t ops[] = {RT_LOP_LT, RT_LOP_LE, RT_LOP_GT, RT_LOP_GE, RT_LOP_EQ, RT_LOP_NE};
	if (cmp < 0 || cmp > FTS_CMP_NE) {
		fail(m, "lr_lambda: 'in' and 'is' are not supported");
		return;
	}
	op(m, ops[cmp], 2, 1);
}

static void call(struct em *m, const struct fts_expr *e)
{
	const char *f = e->name ? e->name : "?";
	if (!strcmp(f, "min") || !strcmp(f, "max")) {
		if (e->nargs < 2) {
			fail(m, "lr_lambda: %s() needs at least two numbers here", f);
			return;
		}
		expr(m, e->args[0]);
		for (size_t k = 1; k < e->nargs; k++) {
			expr(m, e->args[k]);
			op(m, f[1] == 'i' ? RT_LOP_MIN : RT_LOP_MAX, 2, 1);
		}
		return;
	}
	if (e->nargs != 1) {
		fail(m, "lr_lambda: %s() with %zu arguments is not supported", f, e->nargs);
		return;
	}
	expr(m, e->args[0]);
	if (!strcmp(f, "abs"))
		op(m, RT_LOP_ABS, 1, 1);
	else if (!strcmp(f, "int"))
		op(m, RT_LOP_INT, 1, 1);
	else if (!strcmp(f, "float"))
		op(m, RT_LOP_FLOAT, 1, 1);
	else if (!strcmp(f, "bool")) {
		op(m, RT_LOP_NOT, 1, 1);
		op(m, RT_LOP_NOT, 1, 1);
	} else
		fail(m, "lr_lambda: function '%s' is not supported", f);
}

static void expr(struct em *m, const struct fts_expr *e)
{
	static const uint8_t binops[] = {
		[FTS_OP_ADD] = RT_LOP_ADD, [FTS_OP_SUB] = RT_LOP_SUB, [FTS_OP_MUL] = RT_LOP_MUL,
		[FTS_OP_DIV] = RT_LOP_DIV, [FTS_OP_FLOORDIV] = RT_LOP_FLOORDIV, [FTS_OP_MOD] = RT_LOP_MOD,
		[FTS_OP_POW] = RT_LOP_POW,
	};
	size_t j1, j2;

	if (m->failed)
		return;
	switch (e->kind) {
	case FTS_E_CONST:
		switch (e->val.kind) {
		case FTS_V_BOOL: constant(m, e->val.b ? 1.0 : 0.0); return;
		case FTS_V_INT: constant(m, (double)e->val.i); return;
		case FTS_V_FLOAT: constant(m, e->val.f); return;
		default:
			fail(m, "lr_lambda: only numbers can be constants");
			return;
		}
	case FTS_E_NAME:
		if (e->name && !strcmp(e->name, "epoch"))
			op(m, RT_LOP_EPOCH, 0, 1);
		else
			fail(m, "lr_lambda: unknown name '%s' (only 'epoch' is bound)",
			     e->name ? e->name : "?");
		return;
	case FTS_E_NEG:
		expr(m, e->args[0]);
		op(m, RT_LOP_NEG, 1, 1);
		return;
	case FTS_E_POS:
		expr(m, e->args[0]);
		return;
	case FTS_E_NOT:
		expr(m, e->args[0]);
		op(m, RT_LOP_NOT, 1, 1);
		return;
	case FTS_E_BINARY:
		if (e->op < 0 || e->op > FTS_OP_POW) {
			fail(m, "lr_lambda: unknown operator");
			return;
		}
		expr(m, e->args[0]);
		expr(m, e->args[1]);
		op(m, binops[e->op], 2, 1);
		return;
	case FTS_E_COMPARE: {
		size_t jumps[64], nj = 0;
		if (e->nargs < 2 || e->nargs - 1 > 64) {
			fail(m, "lr_lambda: comparison chain too long");
			return;
		}
		for (size_t k = 0; k + 1 < e->nargs; k++) {
			expr(m, e->args[k]);
			expr(m, e->args[k + 1]);
			compare(m, (int)e->cmp[k]);
			if (k + 2 < e->nargs) {
				jumps[nj++] = jump(m, RT_LOP_JUMP_IF_FALSE_OR_POP, 0);
				m->depth--;     /* fall-through pops */
			}
		}
		for (size_t k = 0; k < nj; k++)
			patch(m, jumps[k]);
		return;
	}
	case FTS_E_AND:
	case FTS_E_OR:
		expr(m, e->args[0]);
		j1 = jump(m, e->kind == FTS_E_AND ? RT_LOP_JUMP_IF_FALSE_OR_POP : RT_LOP_JUMP_IF_TRUE_OR_POP, 0);
		m->depth--;             /* the fall-through path popped a */
		expr(m, e->args[1]);
		patch(m, j1);
		return;
	case FTS_E_COND:
		expr(m, e->args[0]);
		j1 = jump(m, RT_LOP_JUMP_IF_FALSE, 1);
		expr(m, e->args[1]);
		j2 = jump(m, RT_LOP_JUMP, 0);
		m->depth--;             /* the else branch starts without the then value */
		patch(m, j1);
		expr(m, e->args[2]);
		patch(m, j2);
		return;
	case FTS_E_CALL:
		call(m, e);
		return;
	case FTS_E_INDEX:
	case FTS_E_ATTR:
	case FTS_E_TUPLE:
	case FTS_E_LIST:
		fail(m, "lr_lambda: indexing, attributes, tuples and lists are not supported");
		return;
	}
	fail(m, "lr_lambda: unsupported expression");
}

int fts_lambda_emit(const struct fts_expr *e, uint8_t *buf, size_t cap, size_t *len,
		    char *err, size_t errlen)
{
	struct em m = {buf, cap, 0, 0, 0, err, errlen, false};
	if (!e || cap < HEADER + 2) {
		fail(&m, "lr_lambda: nothing to compile");
		return -1;
	}
	byte(&m, RT_LAMBDA_MAGIC0);
	byte(&m, RT_LAMBDA_MAGIC1);
	byte(&m, RT_LAMBDA_VERSION);
	byte(&m, 0);            /* max_stack, below */
	expr(&m, e);
	op(&m, RT_LOP_RET, 1, 0);
	if (m.failed)
		return -1;
	buf[3] = (uint8_t)(m.max < 1 ? 1 : m.max);
	*len = m.len;
	return 0;
}
