/*
 * lambda.c - the lr_lambda bytecode: validator, evaluator, and a small
 * text-to-bytecode translator used only by tests and `ftsrun verify`.
 *
 * Stage: runtime.  The format is specified in lambda.h.  The validator is
 * the only gate between an untrusted plan and the evaluator: it proves
 * statically that every instruction is well formed, that the stack never
 * underflows or exceeds the declared bound, and that every path ends in RET
 * with one value.  The evaluator then runs without bounds surprises; it
 * still refuses a program whose header it does not recognise.
 */
#include "lambda.h"

#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ftsrt.h"

/* ORDER OPCODES: operand bytes, pops, pushes per opcode (jumps: fall-through path). */
struct op_info {
	uint8_t operand;                /* bytes after the opcode */
	uint8_t pops;                   /* values consumed */
	uint8_t pushes;                 /* values produced */
	const char *name;               /* for diagnostics */
};

static const struct op_info op_table[RT_LOP_COUNT_] = {
#define LAMBDA_OP(name, code, operand, pops, pushes) [RT_LOP_##name] = {operand, pops, pushes, #name},
#include "lambda_ops.def"
#undef LAMBDA_OP
};

static bool is_jump(uint8_t op)
{
	return op == RT_LOP_JUMP_IF_FALSE || op == RT_LOP_JUMP ||
	       op == RT_LOP_JUMP_IF_FALSE_OR_POP || op == RT_LOP_JUMP_IF_TRUE_OR_POP;
}

static uint16_t rd_u16(const uint8_t *p)
{
	return (uint16_t)(p[0] | (p[1] << 8));
}

static double rd_f64(const uint8_t *p)
{
	uint64_t u = 0;
	for (int i = 7; i >= 0; i--)
		u = (u << 8) | p[i];
	double d;
	memcpy(&d, &u, sizeof(d));
	return d;
}

static void wr_f64(uint8_t *p, double d)
{
	uint64_t u;
	memcpy(&u, &d, sizeof(u));
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(u >> (8 * i));
}

static int diag_set(struct rt_lambda_diag *diag, int status, size_t off, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static int diag_set(struct rt_lambda_diag *diag, int status, size_t off, const char *fmt, ...)
{
	if (diag) {
		va_list ap;
		va_start(ap, fmt);
		diag->offset = off;
		vsnprintf(diag->msg, sizeof(diag->msg), fmt, ap);
		va_end(ap);
	}
	return status;
}

/* depth[] marks: -1 = not an instruction start, -2 = start not yet reached. */
#define D_NONE (-1)
#define D_UNSEEN (-2)

static int merge_depth(signed char *depth, size_t target, int d, struct rt_lambda_diag *diag,
		       size_t pc)
{
	if (depth[target] == D_NONE)
		return diag_set(diag, FTSRT_EFORMAT, pc, "jump to offset %zu, not an instruction start",
				target);
	if (depth[target] == D_UNSEEN)
		depth[target] = (signed char)d;
	else if (depth[target] != d)
		return diag_set(diag, FTSRT_EFORMAT, pc,
				"stack depth %d disagrees with %d at offset %zu", d, depth[target],
				target);
	return 0;
}

int rt_lambda_validate(const uint8_t *buf, size_t len, struct rt_lambda *out,
		       struct rt_lambda_diag *diag)
{
	signed char depth[RT_LAMBDA_MAX_LEN];

	if (!buf || len < RT_LAMBDA_HEADER_SIZE)
		return diag_set(diag, FTSRT_EFORMAT, 0, "program shorter than its header");
	if (len > RT_LAMBDA_MAX_LEN)
		return diag_set(diag, FTSRT_EFORMAT, 0, "program longer than %d bytes",
				RT_LAMBDA_MAX_LEN);
	if (buf[0] != RT_LAMBDA_MAGIC0 || buf[1] != RT_LAMBDA_MAGIC1)
		return diag_set(diag, FTSRT_EFORMAT, 0, "bad magic");
	if (buf[2] != RT_LAMBDA_VERSION)
		return diag_set(diag, FTSRT_EFORMAT, 2, "unsupported version %u", buf[2]);
	unsigned max_stack = buf[3];
	if (max_stack < 1 || max_stack > RT_LAMBDA_STACK_MAX)
		return diag_set(diag, FTSRT_EFORMAT, 3, "max_stack %u outside 1..%d", max_stack,
				RT_LAMBDA_STACK_MAX);
	if (len == RT_LAMBDA_HEADER_SIZE)
		return diag_set(diag, FTSRT_EFORMAT, len, "empty program");

	/* Pass 1: decode linearly, mark instruction starts, check operands fit. */
	for (size_t i = 0; i < len; i++)
		depth[i] = D_NONE;
	for (size_t pc = RT_LAMBDA_HEADER_SIZE; pc < len;) {
		uint8_t op = buf[pc];
		if (op == 0 || op >= RT_LOP_COUNT_)
			return diag_set(diag, FTSRT_EFORMAT, pc, "invalid opcode 0x%02x", op);
		if (len - pc - 1 < op_table[op].operand)
			return diag_set(diag, FTSRT_EFORMAT, pc, "truncated %s operand",
					op_table[op].name);
		depth[pc] = D_UNSEEN;
		pc += 1u + op_table[op].operand;
	}

	/* Pass 2: forward-only control flow, so one ordered sweep sees every
	 * predecessor of an instruction before the instruction itself. */
	depth[RT_LAMBDA_HEADER_SIZE] = 0;
	for (size_t pc = RT_LAMBDA_HEADER_SIZE; pc < len;) {
		uint8_t op = buf[pc];
		const struct op_info *oi = &op_table[op];
		size_t next = pc + 1u + oi->operand;
		int d = depth[pc];
		if (d == D_UNSEEN)
			return diag_set(diag, FTSRT_EFORMAT, pc, "unreachable %s", oi->name);
		if (d < oi->pops)
			return diag_set(diag, FTSRT_EFORMAT, pc, "stack underflow in %s", oi->name);
		int nd = d - oi->pops + oi->pushes;
		if (nd > (int)max_stack)
			return diag_set(diag, FTSRT_EFORMAT, pc,
					"stack overflow in %s (max_stack %u)", oi->name, max_stack);
		if (op == RT_LOP_RET) {
			if (d != 1)
				return diag_set(diag, FTSRT_EFORMAT, pc,
						"RET with %d values on the stack", d);
			pc = next;
			continue;
		}
		if (is_jump(op)) {
			size_t target = next + rd_u16(buf + pc + 1);
			if (target >= len)
				return diag_set(diag, FTSRT_EFORMAT, pc, "jump past the end");
			int jd = (op == RT_LOP_JUMP_IF_FALSE_OR_POP || op == RT_LOP_JUMP_IF_TRUE_OR_POP)
					 ? d : nd;
			int rc = merge_depth(depth, target, jd, diag, pc);
			if (rc)
				return rc;
			if (op == RT_LOP_JUMP) {
				pc = next;
				continue;
			}
		}
		if (next >= len)
			return diag_set(diag, FTSRT_EFORMAT, pc, "program runs off its end after %s",
					oi->name);
		int rc = merge_depth(depth, next, nd, diag, pc);
		if (rc)
			return rc;
		pc = next;
	}
	if (out) {
		out->code = buf;
		out->len = len;
		out->max_stack = max_stack;
	}
	return 0;
}

/* ---- evaluation: CPython float semantics ------------------------------- */

static bool is_odd_integer(double x)
{
	return fmod(fabs(x), 2.0) == 1.0;
}

/* float.__pow__ (Objects/floatobject.c float_pow), errors as exceptions. */
enum rt_lambda_exc rt_lambda_pow(double iv, double iw, double *res)
{
	if (iw == 0) {
		*res = 1.0;
		return RT_LAMBDA_EXC_NONE;
	}
	if (isnan(iv)) {
		*res = iv;
		return RT_LAMBDA_EXC_NONE;
	}
	if (isnan(iw)) {
		*res = iv == 1.0 ? 1.0 : iw;
		return RT_LAMBDA_EXC_NONE;
	}
	if (isinf(iw)) {
		double a = fabs(iv);
		if (a == 1.0)
			*res = 1.0;
		else if ((iw > 0.0) == (a > 1.0))
			*res = fabs(iw);
		else
			*res = 0.0;
		return RT_LAMBDA_EXC_NONE;
	}
	if (isinf(iv)) {
		bool odd = is_odd_integer(iw);
		if (iw > 0.0)
			*res = odd ? iv : fabs(iv);
		else
			*res = odd ? copysign(0.0, iv) : 0.0;
		return RT_LAMBDA_EXC_NONE;
	}
	if (iv == 0.0) {
		if (iw < 0.0)
			return RT_LAMBDA_EXC_ZERO_DIVISION;
		*res = is_odd_integer(iw) ? iv : 0.0;
		return RT_LAMBDA_EXC_NONE;
	}
	bool negative = false;
	if (iv < 0.0) {
		if (iw != floor(iw))
			return RT_LAMBDA_EXC_VALUE;     /* complex in Python */
		iv = -iv;
		negative = is_odd_integer(iw);
	}
	if (iv == 1.0) {
		*res = negative ? -1.0 : 1.0;
		return RT_LAMBDA_EXC_NONE;
	}
	double ix = pow(iv, iw);
	if (isinf(ix))
		return RT_LAMBDA_EXC_OVERFLOW;
	*res = negative ? -ix : ix;
	return RT_LAMBDA_EXC_NONE;
}

/* float // and % (Objects/floatobject.c _float_div_mod). */
static void py_divmod(double vx, double wx, double *floordiv, double *mod)
{
	double m = fmod(vx, wx);
	double div = (vx - m) / wx;
	if (m != 0.0) {
		if ((wx < 0) != (m < 0)) {
			m += wx;
			div -= 1.0;
		}
	} else {
		m = copysign(0.0, wx);
	}
	double fd;
	if (div != 0.0) {
		fd = floor(div);
		if (div - fd > 0.5)
			fd += 1.0;
	} else {
		fd = copysign(0.0, vx / wx);
	}
	*floordiv = fd;
	*mod = m;
}

static enum rt_lambda_exc binop(uint8_t op, double a, double b, double *r)
{
	double fd, m;
	switch (op) {
	case RT_LOP_ADD: *r = a + b; break;
	case RT_LOP_SUB: *r = a - b; break;
	case RT_LOP_MUL: *r = a * b; break;
	case RT_LOP_DIV:
		if (b == 0.0)
			return RT_LAMBDA_EXC_ZERO_DIVISION;
		*r = a / b;
		break;
	case RT_LOP_FLOORDIV:
	case RT_LOP_MOD:
		if (b == 0.0)
			return RT_LAMBDA_EXC_ZERO_DIVISION;
		py_divmod(a, b, &fd, &m);
		*r = op == RT_LOP_FLOORDIV ? fd : m;
		break;
	case RT_LOP_POW: return rt_lambda_pow(a, b, r);
	case RT_LOP_LT: *r = a < b; break;
	case RT_LOP_LE: *r = a <= b; break;
	case RT_LOP_GT: *r = a > b; break;
	case RT_LOP_GE: *r = a >= b; break;
	case RT_LOP_EQ: *r = a == b; break;
	case RT_LOP_NE: *r = a != b; break;
	case RT_LOP_MIN: *r = b < a ? b : a; break;
	case RT_LOP_MAX: *r = b > a ? b : a; break;
	default: return RT_LAMBDA_EXC_INVALID;
	}
	return RT_LAMBDA_EXC_NONE;
}

static int raise(enum rt_lambda_exc e, enum rt_lambda_exc *exc)
{
	if (exc)
		*exc = e;
	return FTSRT_EINVAL;
}

int rt_lambda_eval(const struct rt_lambda *l, double epoch, double *out,
		   enum rt_lambda_exc *exc)
{
	double st[RT_LAMBDA_STACK_MAX];
	size_t sp = 0;

	if (exc)
		*exc = RT_LAMBDA_EXC_NONE;
	if (!l || !l->code || l->len <= RT_LAMBDA_HEADER_SIZE || l->len > RT_LAMBDA_MAX_LEN ||
	    l->code[0] != RT_LAMBDA_MAGIC0 || l->code[1] != RT_LAMBDA_MAGIC1 ||
	    l->code[2] != RT_LAMBDA_VERSION || l->max_stack > RT_LAMBDA_STACK_MAX || !out)
		return raise(RT_LAMBDA_EXC_INVALID, exc);

	const uint8_t *c = l->code;
	size_t pc = RT_LAMBDA_HEADER_SIZE;
	while (pc < l->len) {
		uint8_t op = c[pc];
		if (op == 0 || op >= RT_LOP_COUNT_)
			return raise(RT_LAMBDA_EXC_INVALID, exc);
		const struct op_info *oi = &op_table[op];
		size_t next = pc + 1u + oi->operand;
		/* Defensive: a validated program never trips these. */
		if (next > l->len || sp < oi->pops || sp - oi->pops + oi->pushes > RT_LAMBDA_STACK_MAX)
			return raise(RT_LAMBDA_EXC_INVALID, exc);
		enum rt_lambda_exc e = RT_LAMBDA_EXC_NONE;
		double a, r;
		switch (op) {
		case RT_LOP_CONST: st[sp++] = rd_f64(c + pc + 1); break;
		case RT_LOP_EPOCH: st[sp++] = epoch; break;
		case RT_LOP_NEG: st[sp - 1] = -st[sp - 1]; break;
		case RT_LOP_NOT: st[sp - 1] = st[sp - 1] == 0.0 ? 1.0 : 0.0; break;
		case RT_LOP_ABS: st[sp - 1] = fabs(st[sp - 1]); break;
		case RT_LOP_FLOAT: break;
		case RT_LOP_INT:
			a = st[sp - 1];
			if (isnan(a))
				return raise(RT_LAMBDA_EXC_VALUE, exc);
			if (isinf(a))
				return raise(RT_LAMBDA_EXC_OVERFLOW, exc);
			st[sp - 1] = trunc(a) + 0.0;    /* int(-0.5) is 0, not -0.0 */
			break;
		case RT_LOP_JUMP_IF_FALSE:
			a = st[--sp];
			if (a == 0.0)
				next += rd_u16(c + pc + 1);
			break;
		case RT_LOP_JUMP: next += rd_u16(c + pc + 1); break;
		case RT_LOP_JUMP_IF_FALSE_OR_POP:
			if (st[sp - 1] == 0.0)
				next += rd_u16(c + pc + 1);
			else
				sp--;
			break;
		case RT_LOP_JUMP_IF_TRUE_OR_POP:
			if (st[sp - 1] != 0.0)
				next += rd_u16(c + pc + 1);
			else
				sp--;
			break;
		case RT_LOP_RET:
			*out = st[sp - 1];
			return 0;
		default:
			e = binop(op, st[sp - 2], st[sp - 1], &r);
			if (e != RT_LAMBDA_EXC_NONE)
				return raise(e, exc);
			st[sp - 2] = r;
			sp--;
			break;
		}
		pc = next;
	}
	return raise(RT_LAMBDA_EXC_INVALID, exc);
}

const char *rt_lambda_exc_name(enum rt_lambda_exc exc)
{
	switch (exc) {
	case RT_LAMBDA_EXC_NONE: return "no exception";
	case RT_LAMBDA_EXC_ZERO_DIVISION: return "ZeroDivisionError";
	case RT_LAMBDA_EXC_VALUE: return "ValueError";
	case RT_LAMBDA_EXC_OVERFLOW: return "OverflowError";
	case RT_LAMBDA_EXC_INVALID: return "invalid program";
	}
	return "unknown exception";
}

/* ---- text translator (tests and `ftsrun verify` only) ------------------ */

#define MAX_NEST 48                     /* parenthesis / operator nesting */

struct comp {
	const char *src;                /* the text */
	size_t pos;                     /* scan position */
	uint8_t *buf;                   /* output program */
	size_t cap;                     /* bytes in buf */
	size_t len;                     /* bytes written */
	int nest;                       /* current recursion depth */
	int err;                        /* first error status, 0 if none */
	struct rt_lambda_diag *diag;    /* where the error goes (may be NULL) */
};

static void cerr(struct comp *c, size_t off, const char *msg)
{
	if (!c->err)
		c->err = diag_set(c->diag, FTSRT_EINVAL, off, "%s", msg);
}

static void skip_ws(struct comp *c)
{
	while (c->src[c->pos] == ' ' || c->src[c->pos] == '\t' || c->src[c->pos] == '\n' ||
	       c->src[c->pos] == '\r')
		c->pos++;
}

static void emit(struct comp *c, const uint8_t *b, size_t n)
{
	if (c->err)
		return;
	if (c->cap - c->len < n || c->len + n > RT_LAMBDA_MAX_LEN) {
		cerr(c, c->pos, "expression too long for a program");
		return;
	}
	memcpy(c->buf + c->len, b, n);
	c->len += n;
}

static void emit_op(struct comp *c, uint8_t op)
{
	emit(c, &op, 1);
}

static void emit_const(struct comp *c, double v)
{
	uint8_t b[9] = {RT_LOP_CONST};
	wr_f64(b + 1, v);
	emit(c, b, sizeof(b));
}

/* Emit a forward jump with a placeholder; return the operand's offset. */
static size_t emit_jump(struct comp *c, uint8_t op)
{
	uint8_t b[3] = {op, 0, 0};
	emit(c, b, sizeof(b));
	return c->len - 2;
}

static void patch_jump(struct comp *c, size_t at)
{
	if (c->err)
		return;
	size_t off = c->len - (at + 2);
	if (off > 0xFFFF) {
		cerr(c, c->pos, "jump too long");
		return;
	}
	c->buf[at] = (uint8_t)off;
	c->buf[at + 1] = (uint8_t)(off >> 8);
}

static bool ident_char(char ch)
{
	return isalnum((unsigned char)ch) || ch == '_';
}

/* Match keyword kw at the scan position (as a whole word); consume it. */
static bool accept_kw(struct comp *c, const char *kw)
{
	skip_ws(c);
	size_t n = strlen(kw);
	if (strncmp(c->src + c->pos, kw, n) == 0 && !ident_char(c->src[c->pos + n])) {
		c->pos += n;
		return true;
	}
	return false;
}

static bool accept(struct comp *c, const char *tok)
{
	skip_ws(c);
	size_t n = strlen(tok);
	if (strncmp(c->src + c->pos, tok, n) == 0) {
		c->pos += n;
		return true;
	}
	return false;
}

static void parse_test(struct comp *c);

static bool enter(struct comp *c)
{
	if (++c->nest > MAX_NEST) {
		cerr(c, c->pos, "expression nested too deeply");
		return false;
	}
	return true;
}

static size_t scan_digits(const char *s, size_t i, char *tmp, size_t *o, size_t cap, bool *any)
{
	while (isdigit((unsigned char)s[i]) ||
	       (s[i] == '_' && i > 0 && isdigit((unsigned char)s[i - 1]) &&
		isdigit((unsigned char)s[i + 1]))) {
		if (s[i] != '_') {
			if (*o < cap)
				tmp[(*o)++] = s[i];
			*any = true;
		}
		i++;
	}
	return i;
}

/* A Python int or float literal (no sign), underscores allowed between digits. */
static void parse_number(struct comp *c)
{
	const char *s = c->src + c->pos;
	size_t start = c->pos, i = 0, o = 0;
	char tmp[128];
	const size_t tcap = sizeof(tmp) - 1;
	bool digits = false, expdigits = false;

	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X' || s[1] == 'o' || s[1] == 'O' ||
			    s[1] == 'b' || s[1] == 'B')) {
		int radix = (s[1] == 'x' || s[1] == 'X') ? 16 : (s[1] == 'o' || s[1] == 'O') ? 8 : 2;
		double v = 0;
		for (i = 2;; i++) {
			if (s[i] == '_' && isxdigit((unsigned char)s[i + 1]))
				continue;
			int dv = isdigit((unsigned char)s[i]) ? s[i] - '0'
				 : isxdigit((unsigned char)s[i]) ? tolower((unsigned char)s[i]) - 'a' + 10
				 : 99;
			if (dv >= radix)
				break;
			v = v * radix + dv;
			digits = true;
		}
		if (!digits || ident_char(s[i])) {
			cerr(c, start, "invalid number literal");
			return;
		}
		c->pos += i;
		emit_const(c, v);
		return;
	}
	i = scan_digits(s, i, tmp, &o, tcap, &digits);
	if (s[i] == '.') {
		if (o < tcap)
			tmp[o++] = '.';
		i = scan_digits(s, i + 1, tmp, &o, tcap, &digits);
	}
	if (digits && (s[i] == 'e' || s[i] == 'E')) {
		if (o < tcap)
			tmp[o++] = 'e';
		i++;
		if (s[i] == '+' || s[i] == '-') {
			if (o < tcap)
				tmp[o++] = s[i];
			i++;
		}
		i = scan_digits(s, i, tmp, &o, tcap, &expdigits);
		if (!expdigits) {
			cerr(c, start, "invalid number literal");
			return;
		}
	}
	if (o >= tcap) {
		cerr(c, start, "number literal too long");
		return;
	}
	tmp[o] = '\0';
	if (!digits || ident_char(s[i]) || s[i] == '.') {
		cerr(c, start, "invalid number literal");
		return;
	}
	c->pos += i;
	emit_const(c, strtod(tmp, NULL));
}

static void parse_call(struct comp *c, const char *name, size_t at)
{
	int nargs = 0;
	if (!accept(c, ")")) {
		do {
			parse_test(c);
			if (c->err)
				return;
			nargs++;
			if ((!strcmp(name, "min") || !strcmp(name, "max")) && nargs >= 2)
				emit_op(c, !strcmp(name, "min") ? RT_LOP_MIN : RT_LOP_MAX);
		} while (accept(c, ",") && (skip_ws(c), c->src[c->pos] != ')'));
		if (!accept(c, ")")) {
			cerr(c, c->pos, "expected ')'");
			return;
		}
	}
	if (!strcmp(name, "min") || !strcmp(name, "max")) {
		if (nargs < 2)
			cerr(c, at, nargs ? "min()/max() of one number: an iterable is needed"
				       : "min()/max() expects arguments");
		return;
	}
	if (nargs != 1) {
		cerr(c, at, "abs(), int() and float() take exactly one argument");
		return;
	}
	emit_op(c, !strcmp(name, "abs") ? RT_LOP_ABS : !strcmp(name, "int") ? RT_LOP_INT
										 : RT_LOP_FLOAT);
}

static void parse_atom(struct comp *c)
{
	skip_ws(c);
	const char *s = c->src + c->pos;
	size_t at = c->pos;
	if (isdigit((unsigned char)s[0]) || (s[0] == '.' && isdigit((unsigned char)s[1]))) {
		parse_number(c);
		return;
	}
	if (accept(c, "(")) {
		if (!enter(c))
			return;
		parse_test(c);
		c->nest--;
		if (!c->err && !accept(c, ")"))
			cerr(c, c->pos, "expected ')'");
		return;
	}
	if (isalpha((unsigned char)s[0]) || s[0] == '_') {
		size_t n = 0;
		while (ident_char(s[n]))
			n++;
		char name[16];
		if (n >= sizeof(name)) {
			cerr(c, at, "unknown name (a lambda may use only 'epoch')");
			return;
		}
		memcpy(name, s, n);
		name[n] = '\0';
		c->pos += n;
		if (!strcmp(name, "epoch")) {
			emit_op(c, RT_LOP_EPOCH);
			return;
		}
		if (!strcmp(name, "True") || !strcmp(name, "False")) {
			emit_const(c, name[0] == 'T' ? 1.0 : 0.0);
			return;
		}
		if (!strcmp(name, "min") || !strcmp(name, "max") || !strcmp(name, "abs") ||
		    !strcmp(name, "int") || !strcmp(name, "float")) {
			if (!accept(c, "(")) {
				cerr(c, c->pos, "expected '(' after a function name");
				return;
			}
			if (!enter(c))
				return;
			parse_call(c, name, at);
			c->nest--;
			return;
		}
		cerr(c, at, "unknown name (a lambda may use only 'epoch')");
		return;
	}
	cerr(c, at, s[0] ? "expected an expression" : "unexpected end of expression");
}

static void parse_unary(struct comp *c);

/* power: atom ['**' unary] -- right-associative, binds tighter than a left unary minus */
static void parse_power(struct comp *c)
{
	parse_atom(c);
	if (!c->err && accept(c, "**")) {
		if (!enter(c))
			return;
		parse_unary(c);
		c->nest--;
		emit_op(c, RT_LOP_POW);
	}
}

static void parse_unary(struct comp *c)
{
	skip_ws(c);
	char ch = c->src[c->pos];
	if (ch == '-' || ch == '+') {
		c->pos++;
		if (!enter(c))
			return;
		parse_unary(c);
		c->nest--;
		if (ch == '-')
			emit_op(c, RT_LOP_NEG);
		return;
	}
	parse_power(c);
}

static void parse_term(struct comp *c)
{
	parse_unary(c);
	while (!c->err) {
		uint8_t op;
		if (accept(c, "//"))
			op = RT_LOP_FLOORDIV;
		else if (accept(c, "/"))
			op = RT_LOP_DIV;
		else if (accept(c, "%"))
			op = RT_LOP_MOD;
		else if ((skip_ws(c), c->src[c->pos] == '*' && c->src[c->pos + 1] != '*')) {
			c->pos++;
			op = RT_LOP_MUL;
		} else
			return;
		parse_unary(c);
		emit_op(c, op);
	}
}

static void parse_arith(struct comp *c)
{
	parse_term(c);
	while (!c->err) {
		uint8_t op;
		if (accept(c, "+"))
			op = RT_LOP_ADD;
		else if (accept(c, "-"))
			op = RT_LOP_SUB;
		else
			return;
		parse_term(c);
		emit_op(c, op);
	}
}

static int scan_cmp(struct comp *c)
{
	static const struct {
		const char *tok;
		uint8_t op;
	} cmps[] = {
		{"<=", RT_LOP_LE}, {">=", RT_LOP_GE}, {"==", RT_LOP_EQ}, {"!=", RT_LOP_NE},
		{"<", RT_LOP_LT},  {">", RT_LOP_GT},
	};
	for (size_t i = 0; i < sizeof(cmps) / sizeof(cmps[0]); i++)
		if (accept(c, cmps[i].tok))
			return cmps[i].op;
	return 0;
}

/* Append a copy of the already emitted code buf[from..to). */
static void emit_copy(struct comp *c, size_t from, size_t to)
{
	if (c->err)
		return;
	if (c->cap - c->len < to - from || c->len + (to - from) > RT_LAMBDA_MAX_LEN) {
		cerr(c, c->pos, "expression too long for a program");
		return;
	}
	memmove(c->buf + c->len, c->buf + from, to - from);
	c->len += to - from;
}

/*
 * comparison: arith (cmp arith)*.  `a < b < c` runs as `a < b and b < c`
 * with b's code copied (jump offsets are relative, so a block of code can
 * be copied as is): the expression is pure, so evaluating b twice gives the
 * same value, or raises the same exception before the second copy runs.
 */
static void parse_comparison(struct comp *c)
{
	parse_arith(c);
	int op = scan_cmp(c);
	if (!op || c->err)
		return;
	size_t patches[MAX_NEST];
	int np = 0;
	for (;;) {
		size_t b0 = c->len;
		parse_arith(c);
		size_t b1 = c->len;
		if (c->err)
			return;
		int op2 = scan_cmp(c);
		if (!op2) {
			emit_op(c, (uint8_t)op);
			break;
		}
		if (np >= MAX_NEST) {
			cerr(c, c->pos, "comparison chain too long");
			return;
		}
		/* [.. a][b] -> [.. a][b][op][JFOP][b] */
		emit_op(c, (uint8_t)op);
		patches[np++] = emit_jump(c, RT_LOP_JUMP_IF_FALSE_OR_POP);
		emit_copy(c, b0, b1);
		op = op2;
	}
	for (int i = 0; i < np; i++)
		patch_jump(c, patches[i]);
}

static void parse_not(struct comp *c)
{
	if (accept_kw(c, "not")) {
		if (!enter(c))
			return;
		parse_not(c);
		c->nest--;
		emit_op(c, RT_LOP_NOT);
		return;
	}
	parse_comparison(c);
}

static void parse_and(struct comp *c)
{
	parse_not(c);
	while (!c->err && accept_kw(c, "and")) {
		size_t j = emit_jump(c, RT_LOP_JUMP_IF_FALSE_OR_POP);
		parse_not(c);
		patch_jump(c, j);
	}
}

static void parse_or(struct comp *c)
{
	parse_and(c);
	while (!c->err && accept_kw(c, "or")) {
		size_t j = emit_jump(c, RT_LOP_JUMP_IF_TRUE_OR_POP);
		parse_and(c);
		patch_jump(c, j);
	}
}

static void reverse(uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n / 2; i++) {
		uint8_t t = p[i];
		p[i] = p[n - 1 - i];
		p[n - 1 - i] = t;
	}
}

/*
 * test: or_test ['if' or_test 'else' test].  The body comes first in the
 * text but runs after the condition: translate both in text order, then
 * rotate the two blocks (their jumps are relative, so blocks move intact)
 * and open a 3-byte gap for the conditional jump between them.
 */
static void parse_test(struct comp *c)
{
	size_t b0 = c->len;
	parse_or(c);
	if (c->err || !accept_kw(c, "if"))
		return;
	if (!enter(c))
		return;
	size_t b1 = c->len;
	parse_or(c);                    /* condition */
	if (!c->err && !accept_kw(c, "else"))
		cerr(c, c->pos, "expected 'else'");
	size_t b2 = c->len;
	emit_jump(c, RT_LOP_JUMP_IF_FALSE); /* reserves 3 bytes at the end */
	if (c->err)
		return;
	/* [body][cond][JF..] -> [cond][body][JF..] by three reversals */
	reverse(c->buf + b0, b1 - b0);
	reverse(c->buf + b1, b2 - b1);
	reverse(c->buf + b0, b2 - b0);
	size_t cond_end = b0 + (b2 - b1);
	/* -> [cond][JF..][body] */
	memmove(c->buf + cond_end + 3, c->buf + cond_end, b1 - b0);
	c->buf[cond_end] = RT_LOP_JUMP_IF_FALSE;
	size_t jf = cond_end + 1;
	size_t jend = emit_jump(c, RT_LOP_JUMP);
	patch_jump(c, jf);
	parse_test(c);                  /* orelse */
	patch_jump(c, jend);
	c->nest--;
}

int rt_lambda_compile_text(const char *src, uint8_t *buf, size_t cap, size_t *len,
			   struct rt_lambda_diag *diag)
{
	if (!src || !buf || !len)
		return diag_set(diag, FTSRT_EINVAL, 0, "null argument");
	struct comp c = {.src = src, .buf = buf, .cap = cap, .diag = diag};
	uint8_t hdr[RT_LAMBDA_HEADER_SIZE] = {RT_LAMBDA_MAGIC0, RT_LAMBDA_MAGIC1,
					      RT_LAMBDA_VERSION, RT_LAMBDA_STACK_MAX};
	emit(&c, hdr, sizeof(hdr));
	parse_test(&c);
	skip_ws(&c);
	if (!c.err && c.src[c.pos] != '\0')
		cerr(&c, c.pos, "unexpected text after the expression");
	emit_op(&c, RT_LOP_RET);
	if (c.err)
		return c.err;
	/* Compute the real max_stack: validate with the loosest bound, then
	 * shrink it to the deepest point reached. */
	struct rt_lambda_diag d2;
	int rc = rt_lambda_validate(buf, c.len, NULL, &d2);
	if (rc)
		return diag_set(diag, FTSRT_EINVAL, c.pos, "expression needs too deep a stack (%s)",
				d2.msg);
	unsigned lo = 1;
	while (lo < RT_LAMBDA_STACK_MAX) {
		buf[3] = (uint8_t)lo;
		if (rt_lambda_validate(buf, c.len, NULL, NULL) == 0)
			break;
		lo++;
	}
	buf[3] = (uint8_t)lo;
	*len = c.len;
	return 0;
}
