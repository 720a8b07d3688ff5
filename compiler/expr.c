/*
 * expr.c - expression nodes and a Python-semantics evaluator.
 *
 * Stage: front end helper.  See expr.h for the value model.  Every Python
 * exception the evaluator can raise is turned into FTS_EVAL_ERROR with a
 * message in Python's words ("TypeError: '<' not supported between
 * instances of 'str' and 'int'"), so a checker can quote it.
 */
#include "expr.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- values ------------------------------------------------------------ */

const char *fts_value_type_name(const struct fts_value *v)
{
	switch (v->kind) {
	case FTS_V_NONE: return "NoneType";
	case FTS_V_BOOL: return "bool";
	case FTS_V_INT: return "int";
	case FTS_V_FLOAT: return "float";
	case FTS_V_STR: return "str";
	case FTS_V_TUPLE: return "tuple";
	case FTS_V_LIST: return "list";
	case FTS_V_DICT: return "dict";
	}
	return "object";
}

bool fts_value_truthy(const struct fts_value *v)
{
	switch (v->kind) {
	case FTS_V_NONE: return false;
	case FTS_V_BOOL: return v->b;
	case FTS_V_INT: return v->i != 0;
	case FTS_V_FLOAT: return v->f != 0.0;
	case FTS_V_STR:
	case FTS_V_TUPLE:
	case FTS_V_LIST: return v->len != 0;
	case FTS_V_DICT: return true;
	}
	return true;
}

bool fts_value_number(const struct fts_value *v, double *out)
{
	switch (v->kind) {
	case FTS_V_BOOL: *out = v->b ? 1.0 : 0.0; return true;
	case FTS_V_INT: *out = (double)v->i; return true;
	case FTS_V_FLOAT: *out = v->f; return true;
	default: return false;
	}
}

static bool is_intlike(const struct fts_value *v)
{
	return v->kind == FTS_V_INT || v->kind == FTS_V_BOOL;
}

static int64_t intval(const struct fts_value *v)
{
	return v->kind == FTS_V_BOOL ? (int64_t)v->b : v->i;
}

static bool is_seq(const struct fts_value *v)
{
	return v->kind == FTS_V_TUPLE || v->kind == FTS_V_LIST;
}

bool fts_value_equal(const struct fts_value *a, const struct fts_value *b)
{
	double x, y;

	if (is_intlike(a) && is_intlike(b))
		return intval(a) == intval(b);
	if (fts_value_number(a, &x) && fts_value_number(b, &y))
		return x == y;
	if (a->kind != b->kind)
		return false;
	switch (a->kind) {
	case FTS_V_NONE: return true;
	case FTS_V_STR: return a->len == b->len && memcmp(a->s, b->s, a->len) == 0;
	case FTS_V_TUPLE:
	case FTS_V_LIST:
		if (a->len != b->len)
			return false;
		for (size_t k = 0; k < a->len; k++)
			if (!fts_value_equal(&a->items[k], &b->items[k]))
				return false;
		return true;
	default: return a == b;
	}
}

void fts_float_repr(double x, char *buf, size_t n)
{
	char tmp[40], digits[24];
	int prec, exp10, nd = 0;

	if (isnan(x)) {
		snprintf(buf, n, "nan");
		return;
	}
	if (isinf(x)) {
		snprintf(buf, n, x < 0 ? "-inf" : "inf");
		return;
	}
	/* shortest %.Ne that round-trips, like Python's repr */
	for (prec = 0; prec < 17; prec++) {
		snprintf(tmp, sizeof tmp, "%.*e", prec, x);
		if (strtod(tmp, NULL) == x)
			break;
	}
	snprintf(tmp, sizeof tmp, "%.*e", prec, x);
	const char *p = tmp;
	bool neg = false;
	if (*p == '-') {
		neg = true;
		p++;
	}
	for (; *p && *p != 'e'; p++)
		if (*p >= '0' && *p <= '9')
			digits[nd++] = *p;
	digits[nd] = '\0';
	exp10 = atoi(p + 1);
	while (nd > 1 && digits[nd - 1] == '0')
		digits[--nd] = '\0';

	char out[64];
	size_t o = 0;
	if (neg)
		out[o++] = '-';
	if (exp10 >= -4 && exp10 < 16) {
		if (exp10 < 0) {
			out[o++] = '0';
			out[o++] = '.';
			for (int k = -1; k > exp10; k--)
				out[o++] = '0';
			for (int k = 0; k < nd; k++)
				out[o++] = digits[k];
		} else {
			for (int k = 0; k <= exp10; k++)
				out[o++] = k < nd ? digits[k] : '0';
			out[o++] = '.';
			if (nd > exp10 + 1)
				for (int k = exp10 + 1; k < nd; k++)
					out[o++] = digits[k];
			else
				out[o++] = '0';
		}
		out[o] = '\0';
	} else {
		out[o++] = digits[0];
		if (nd > 1) {
			out[o++] = '.';
			for (int k = 1; k < nd; k++)
				out[o++] = digits[k];
		}
		snprintf(out + o, sizeof out - o, "e%c%02d", exp10 < 0 ? '-' : '+',
			 exp10 < 0 ? -exp10 : exp10);
	}
	snprintf(buf, n, "%s", out);
}

struct sbuf {
	struct fts_arena *a;
	char *p;
	size_t n, cap;
};

static void sb_add(struct sbuf *b, const char *s, size_t len)
{
	if (b->n + len + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 32;
		while (b->n + len + 1 > cap)
			cap *= 2;
		b->p = fts_arena_realloc(b->a, b->p, b->cap, cap);
		b->cap = cap;
	}
	memcpy(b->p + b->n, s, len);
	b->n += len;
	b->p[b->n] = '\0';
}

static void sb_puts(struct sbuf *b, const char *s)
{
	sb_add(b, s, strlen(s));
}

static void repr_into(struct sbuf *b, const struct fts_value *v, bool quote)
{
	char tmp[48];

	switch (v->kind) {
	case FTS_V_NONE: sb_puts(b, "None"); break;
	case FTS_V_BOOL: sb_puts(b, v->b ? "True" : "False"); break;
	case FTS_V_INT:
		snprintf(tmp, sizeof tmp, "%lld", (long long)v->i);
		sb_puts(b, tmp);
		break;
	case FTS_V_FLOAT:
		fts_float_repr(v->f, tmp, sizeof tmp);
		sb_puts(b, tmp);
		break;
	case FTS_V_STR:
		if (!quote) {
			sb_add(b, v->s, v->len);
			break;
		}
		sb_puts(b, memchr(v->s, '\'', v->len) && !memchr(v->s, '"', v->len) ? "\"" : "'");
		for (size_t k = 0; k < v->len; k++) {
			unsigned char c = (unsigned char)v->s[k];
			if (c == '\\')
				sb_puts(b, "\\\\");
			else if (c == '\n')
				sb_puts(b, "\\n");
			else if (c == '\t')
				sb_puts(b, "\\t");
			else if (c == '\'' && !(memchr(v->s, '\'', v->len) && !memchr(v->s, '"', v->len)))
				sb_puts(b, "\\'");
			else if (c < 0x20) {
				snprintf(tmp, sizeof tmp, "\\x%02x", c);
				sb_puts(b, tmp);
			} else
				sb_add(b, (const char *)&v->s[k], 1);
		}
		sb_puts(b, memchr(v->s, '\'', v->len) && !memchr(v->s, '"', v->len) ? "\"" : "'");
		break;
	case FTS_V_TUPLE:
	case FTS_V_LIST:
		sb_puts(b, v->kind == FTS_V_TUPLE ? "(" : "[");
		for (size_t k = 0; k < v->len; k++) {
			if (k)
				sb_puts(b, ", ");
			repr_into(b, &v->items[k], true);
		}
		if (v->kind == FTS_V_TUPLE && v->len == 1)
			sb_puts(b, ",");
		sb_puts(b, v->kind == FTS_V_TUPLE ? ")" : "]");
		break;
	case FTS_V_DICT: sb_puts(b, "{...}"); break;
	}
}

char *fts_value_repr(struct fts_arena *a, const struct fts_value *v)
{
	struct sbuf b = {a, NULL, 0, 0};
	sb_puts(&b, "");
	repr_into(&b, v, true);
	return b.p;
}

char *fts_value_tostr(struct fts_arena *a, const struct fts_value *v)
{
	struct sbuf b = {a, NULL, 0, 0};
	sb_puts(&b, "");
	repr_into(&b, v, false);
	return b.p;
}

/* ---- nodes ------------------------------------------------------------- */

struct fts_expr *fts_expr_new(struct fts_arena *a, enum fts_expr_kind kind,
			      struct fts_span span)
{
	struct fts_expr *e = fts_arena_alloc(a, sizeof *e);
	e->kind = kind;
	e->span = span;
	return e;
}

void fts_expr_push(struct fts_arena *a, struct fts_expr *e, struct fts_expr *arg)
{
	/* grow in powers of two; the abandoned blocks stay in the arena */
	size_t n = e->nargs;
	if ((n & (n - 1)) == 0) {
		size_t cap = n ? 2 * n : 1;
		e->args = fts_arena_realloc(a, e->args, n * sizeof *e->args,
					    cap * sizeof *e->args);
	}
	e->args[e->nargs++] = arg;
}

void fts_expr_names(const struct fts_expr *e,
		    void (*f)(void *ctx, const char *name, struct fts_span span),
		    void *ctx)
{
	if (!e)
		return;
	if (e->kind == FTS_E_NAME)
		f(ctx, e->name, e->span);
	for (size_t k = 0; k < e->nargs; k++)
		fts_expr_names(e->args[k], f, ctx);
}

/* ---- evaluation -------------------------------------------------------- */

struct ev {
	struct fts_arena *a;
	fts_env_fn env;
	void *env_ctx;
	struct fts_eval_error *err;
};

__attribute__((format(printf, 3, 4)))
static int raise(struct ev *ev, const struct fts_expr *at, const char *fmt, ...)
{
	if (ev->err) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(ev->err->msg, sizeof ev->err->msg, fmt, ap);
		va_end(ap);
		ev->err->span = at->span;
	}
	return FTS_EVAL_ERROR;
}

static int eval(struct ev *ev, const struct fts_expr *e, struct fts_value *out);

static const char *binop_sym(int op)
{
	static const char *const s[] = {"+", "-", "*", "/", "//", "%", "**"};
	return s[op];
}

static double py_fmod(double x, double y)
{
	double m = fmod(x, y);
	if (m != 0.0 && ((y < 0) != (m < 0)))
		m += y;
	else if (m == 0.0)
		m = copysign(0.0, y);
	return m;
}

static struct fts_value seq_concat(struct fts_arena *a, const struct fts_value *x,
				   const struct fts_value *y)
{
	struct fts_value r = *x;
	r.len = x->len + y->len;
	r.items = fts_arena_alloc(a, (r.len ? r.len : 1) * sizeof *r.items);
	for (size_t k = 0; k < x->len; k++)
		r.items[k] = x->items[k];
	for (size_t k = 0; k < y->len; k++)
		r.items[x->len + k] = y->items[k];
	return r;
}

static int binary(struct ev *ev, const struct fts_expr *e, const struct fts_value *x,
		  const struct fts_value *y, struct fts_value *out)
{
	int op = e->op;
	double fx, fy;

	if (op == FTS_OP_ADD && x->kind == FTS_V_STR && y->kind == FTS_V_STR) {
		char *s = fts_arena_alloc(ev->a, x->len + y->len + 1);
		memcpy(s, x->s, x->len);
		memcpy(s + x->len, y->s, y->len);
		*out = fts_value_str(s, x->len + y->len);
		return 0;
	}
	if (op == FTS_OP_ADD && is_seq(x) && x->kind == y->kind) {
		*out = seq_concat(ev->a, x, y);
		return 0;
	}
	if (is_intlike(x) && is_intlike(y)) {
		int64_t a = intval(x), b = intval(y), r;
		switch (op) {
		case FTS_OP_ADD:
			if (__builtin_add_overflow(a, b, &r))
				goto overflow;
			*out = fts_value_int(r);
			return 0;
		case FTS_OP_SUB:
			if (__builtin_sub_overflow(a, b, &r))
				goto overflow;
			*out = fts_value_int(r);
			return 0;
		case FTS_OP_MUL:
			if (__builtin_mul_overflow(a, b, &r))
				goto overflow;
			*out = fts_value_int(r);
			return 0;
		case FTS_OP_DIV:
			if (b == 0)
				return raise(ev, e, "ZeroDivisionError: division by zero");
			*out = fts_value_float((double)a / (double)b);
			return 0;
		case FTS_OP_FLOORDIV:
		case FTS_OP_MOD:
			if (b == 0)
				return raise(ev, e, "ZeroDivisionError: integer %s by zero",
					     op == FTS_OP_MOD ? "modulo" : "division");
			if (a == INT64_MIN && b == -1)
				goto overflow;
			r = a / b;
			if ((a % b != 0) && ((a < 0) != (b < 0)))
				r--;
			*out = fts_value_int(op == FTS_OP_FLOORDIV ? r : a - r * b);
			return 0;
		case FTS_OP_POW:
			if (b < 0) {
				if (a == 0)
					return raise(ev, e, "ZeroDivisionError: 0.0 cannot be raised to a negative power");
				*out = fts_value_float(pow((double)a, (double)b));
				return 0;
			}
			r = 1;
			for (int64_t k = 0; k < b; k++) {
				if (__builtin_mul_overflow(r, a, &r))
					goto overflow;
				if (r == 0 || r == 1)
					break;
			}
			if (r == -1 && a == -1)
				r = (b % 2) ? -1 : 1;
			*out = fts_value_int(r);
			return 0;
		}
	}
	if (fts_value_number(x, &fx) && fts_value_number(y, &fy)) {
		switch (op) {
		case FTS_OP_ADD: *out = fts_value_float(fx + fy); return 0;
		case FTS_OP_SUB: *out = fts_value_float(fx - fy); return 0;
		case FTS_OP_MUL: *out = fts_value_float(fx * fy); return 0;
		case FTS_OP_DIV:
			if (fy == 0.0)
				return raise(ev, e, "ZeroDivisionError: float division by zero");
			*out = fts_value_float(fx / fy);
			return 0;
		case FTS_OP_FLOORDIV:
			if (fy == 0.0)
				return raise(ev, e, "ZeroDivisionError: float floor division by zero");
			*out = fts_value_float(floor(fx / fy));
			return 0;
		case FTS_OP_MOD:
			if (fy == 0.0)
				return raise(ev, e, "ZeroDivisionError: float modulo");
			*out = fts_value_float(py_fmod(fx, fy));
			return 0;
		case FTS_OP_POW:
			if (fx == 0.0 && fy < 0)
				return raise(ev, e, "ZeroDivisionError: 0.0 cannot be raised to a negative power");
			if (fx < 0 && fy != floor(fy))
				return raise(ev, e, "ValueError: negative number raised to a fractional power (complex result)");
			*out = fts_value_float(pow(fx, fy));
			if (isinf(out->f) && !isinf(fx) && !isinf(fy))
				return raise(ev, e, "OverflowError: (34, 'Numerical result out of range')");
			return 0;
		}
	}
	return raise(ev, e, "TypeError: unsupported operand type(s) for %s: '%s' and '%s'",
		     binop_sym(op), fts_value_type_name(x), fts_value_type_name(y));
overflow:
	return raise(ev, e, "OverflowError: integer result does not fit in 64 bits");
}

static const char *cmp_sym(enum fts_cmpop op)
{
	static const char *const s[] = {"<", "<=", ">", ">=", "==", "!=", "in",
					"not in", "is", "is not"};
	return s[op];
}

/* Three-way ordering for <, <=, >, >=; returns -2 on TypeError. */
static int order(const struct fts_value *x, const struct fts_value *y, bool *unordered)
{
	double fx, fy;
	*unordered = false;
	if (is_intlike(x) && is_intlike(y))
		return (intval(x) > intval(y)) - (intval(x) < intval(y));
	if (fts_value_number(x, &fx) && fts_value_number(y, &fy)) {
		if (isnan(fx) || isnan(fy)) {
			*unordered = true;
			return 0;
		}
		return (fx > fy) - (fx < fy);
	}
	if (x->kind == FTS_V_STR && y->kind == FTS_V_STR) {
		size_t n = x->len < y->len ? x->len : y->len;
		int c = memcmp(x->s, y->s, n);
		if (c)
			return c < 0 ? -1 : 1;
		return (x->len > y->len) - (x->len < y->len);
	}
	if (is_seq(x) && x->kind == y->kind) {
		size_t n = x->len < y->len ? x->len : y->len;
		for (size_t k = 0; k < n; k++) {
			if (fts_value_equal(&x->items[k], &y->items[k]))
				continue;
			return order(&x->items[k], &y->items[k], unordered);
		}
		return (x->len > y->len) - (x->len < y->len);
	}
	return -2;
}

static int compare(struct ev *ev, const struct fts_expr *e, enum fts_cmpop op,
		   const struct fts_value *x, const struct fts_value *y, bool *res)
{
	bool un;
	int c;

	switch (op) {
	case FTS_CMP_EQ: *res = fts_value_equal(x, y); return 0;
	case FTS_CMP_NE: *res = !fts_value_equal(x, y); return 0;
	case FTS_CMP_IS:
	case FTS_CMP_IS_NOT:
		/* identity is meaningful here only for None, True and False */
		*res = x->kind == y->kind &&
		       (x->kind == FTS_V_NONE || (x->kind == FTS_V_BOOL && x->b == y->b));
		if (op == FTS_CMP_IS_NOT)
			*res = !*res;
		return 0;
	case FTS_CMP_IN:
	case FTS_CMP_NOT_IN:
		if (is_seq(y)) {
			*res = false;
			for (size_t k = 0; k < y->len; k++)
				if (fts_value_equal(x, &y->items[k]))
					*res = true;
		} else if (y->kind == FTS_V_STR) {
			if (x->kind != FTS_V_STR)
				return raise(ev, e, "TypeError: 'in <string>' requires string as left operand, not %s",
					     fts_value_type_name(x));
			*res = x->len == 0 ||
			       (x->len <= y->len && memmem(y->s, y->len, x->s, x->len) != NULL);
		} else {
			return raise(ev, e, "TypeError: argument of type '%s' is not iterable",
				     fts_value_type_name(y));
		}
		if (op == FTS_CMP_NOT_IN)
			*res = !*res;
		return 0;
	default:
		break;
	}
	c = order(x, y, &un);
	if (c == -2)
		return raise(ev, e, "TypeError: '%s' not supported between instances of '%s' and '%s'",
			     cmp_sym(op), fts_value_type_name(x), fts_value_type_name(y));
	if (un) {
		*res = false;
		return 0;
	}
	switch (op) {
	case FTS_CMP_LT: *res = c < 0; break;
	case FTS_CMP_LE: *res = c <= 0; break;
	case FTS_CMP_GT: *res = c > 0; break;
	default: *res = c >= 0; break;
	}
	return 0;
}

static int call(struct ev *ev, const struct fts_expr *e, struct fts_value *out)
{
	struct fts_value argv[8];
	size_t n = e->nargs;
	const char *fn = e->name;
	double f;

	if (n > 8)
		return raise(ev, e, "TypeError: too many arguments to %s()", fn);
	for (size_t k = 0; k < n; k++) {
		int rc = eval(ev, e->args[k], &argv[k]);
		if (rc)
			return rc;
	}
	if (!strcmp(fn, "len")) {
		if (n != 1)
			return raise(ev, e, "TypeError: len() takes exactly one argument (%zu given)", n);
		if (!is_seq(&argv[0]) && argv[0].kind != FTS_V_STR)
			return raise(ev, e, "TypeError: object of type '%s' has no len()",
				     fts_value_type_name(&argv[0]));
		*out = fts_value_int((int64_t)argv[0].len);
		return 0;
	}
	if (!strcmp(fn, "is_seq")) {
		/* ftsc extension: isinstance(x, (list, tuple)) */
		if (n != 1)
			return raise(ev, e, "TypeError: is_seq() takes exactly one argument (%zu given)", n);
		*out = fts_value_bool(is_seq(&argv[0]));
		return 0;
	}
	if (!strcmp(fn, "abs")) {
		if (n != 1)
			return raise(ev, e, "TypeError: abs() takes exactly one argument (%zu given)", n);
		if (is_intlike(&argv[0])) {
			int64_t v = intval(&argv[0]);
			if (v == INT64_MIN)
				return raise(ev, e, "OverflowError: integer result does not fit in 64 bits");
			*out = fts_value_int(v < 0 ? -v : v);
			return 0;
		}
		if (argv[0].kind == FTS_V_FLOAT) {
			*out = fts_value_float(fabs(argv[0].f));
			return 0;
		}
		return raise(ev, e, "TypeError: bad operand type for abs(): '%s'",
			     fts_value_type_name(&argv[0]));
	}
	if (!strcmp(fn, "min") || !strcmp(fn, "max")) {
		bool is_max = fn[1] == 'a';
		const struct fts_value *items = argv;
		size_t cnt = n;
		if (n == 1) {
			if (!is_seq(&argv[0]))
				return raise(ev, e, "TypeError: '%s' object is not iterable",
					     fts_value_type_name(&argv[0]));
			items = argv[0].items;
			cnt = argv[0].len;
		}
		if (cnt == 0)
			return raise(ev, e, "ValueError: %s() arg is an empty sequence", fn);
		const struct fts_value *best = &items[0];
		for (size_t k = 1; k < cnt; k++) {
			bool un;
			int c = order(&items[k], best, &un);
			if (c == -2)
				return raise(ev, e, "TypeError: '%s' not supported between instances of '%s' and '%s'",
					     is_max ? ">" : "<", fts_value_type_name(&items[k]),
					     fts_value_type_name(best));
			if (!un && (is_max ? c > 0 : c < 0))
				best = &items[k];
		}
		*out = *best;
		return 0;
	}
	if (!strcmp(fn, "float") || !strcmp(fn, "int") || !strcmp(fn, "bool")) {
		if (n == 0) {
			*out = fn[0] == 'f' ? fts_value_float(0.0) :
			       fn[0] == 'i' ? fts_value_int(0) : fts_value_bool(false);
			return 0;
		}
		if (n != 1)
			return raise(ev, e, "TypeError: %s() takes at most 1 argument (%zu given)", fn, n);
		if (fn[0] == 'b') {
			*out = fts_value_bool(fts_value_truthy(&argv[0]));
			return 0;
		}
		if (argv[0].kind == FTS_V_STR) {
			char *end;
			char *s = fts_arena_strndup(ev->a, argv[0].s, argv[0].len);
			if (fn[0] == 'f') {
				f = strtod(s, &end);
				while (*end == ' ' || *end == '\t' || *end == '\n')
					end++;
				if (end == s || *end)
					return raise(ev, e, "ValueError: could not convert string to float: %s",
						     fts_value_repr(ev->a, &argv[0]));
				*out = fts_value_float(f);
			} else {
				long long v = strtoll(s, &end, 10);
				while (*end == ' ' || *end == '\t' || *end == '\n')
					end++;
				if (end == s || *end)
					return raise(ev, e, "ValueError: invalid literal for int() with base 10: %s",
						     fts_value_repr(ev->a, &argv[0]));
				*out = fts_value_int(v);
			}
			return 0;
		}
		if (!fts_value_number(&argv[0], &f))
			return raise(ev, e, "TypeError: %s() argument must be a string or a real number, not '%s'",
				     fn, fts_value_type_name(&argv[0]));
		if (fn[0] == 'f') {
			*out = fts_value_float(f);
		} else if (is_intlike(&argv[0])) {
			*out = fts_value_int(intval(&argv[0]));
		} else {
			if (isnan(f))
				return raise(ev, e, "ValueError: cannot convert float NaN to integer");
			if (isinf(f))
				return raise(ev, e, "OverflowError: cannot convert float infinity to integer");
			if (f >= 9.2233720368547758e18 || f < -9.2233720368547758e18)
				return raise(ev, e, "OverflowError: integer result does not fit in 64 bits");
			*out = fts_value_int((int64_t)f);
		}
		return 0;
	}
	return raise(ev, e, "NameError: name '%s' is not defined", fn);
}

static int eval(struct ev *ev, const struct fts_expr *e, struct fts_value *out)
{
	struct fts_value x, y;
	int rc;

	switch (e->kind) {
	case FTS_E_CONST:
		*out = e->val;
		return 0;
	case FTS_E_NAME:
		if (ev->env && ev->env(ev->env_ctx, e->name, out))
			return 0;
		if (ev->err) {
			snprintf(ev->err->msg, sizeof ev->err->msg,
				 "NameError: name '%s' is not defined", e->name);
			ev->err->span = e->span;
		}
		return FTS_EVAL_UNBOUND;
	case FTS_E_NEG:
	case FTS_E_POS:
		if ((rc = eval(ev, e->args[0], &x)))
			return rc;
		if (is_intlike(&x)) {
			int64_t v = intval(&x);
			if (e->kind == FTS_E_NEG && v == INT64_MIN)
				return raise(ev, e, "OverflowError: integer result does not fit in 64 bits");
			*out = fts_value_int(e->kind == FTS_E_NEG ? -v : v);
			return 0;
		}
		if (x.kind == FTS_V_FLOAT) {
			*out = fts_value_float(e->kind == FTS_E_NEG ? -x.f : x.f);
			return 0;
		}
		return raise(ev, e, "TypeError: bad operand type for unary %c: '%s'",
			     e->kind == FTS_E_NEG ? '-' : '+', fts_value_type_name(&x));
	case FTS_E_NOT:
		if ((rc = eval(ev, e->args[0], &x)))
			return rc;
		*out = fts_value_bool(!fts_value_truthy(&x));
		return 0;
	case FTS_E_AND:
	case FTS_E_OR:
		if ((rc = eval(ev, e->args[0], &x)))
			return rc;
		if (fts_value_truthy(&x) == (e->kind == FTS_E_OR)) {
			*out = x;
			return 0;
		}
		return eval(ev, e->args[1], out);
	case FTS_E_COND:
		if ((rc = eval(ev, e->args[0], &x)))
			return rc;
		return eval(ev, e->args[fts_value_truthy(&x) ? 1 : 2], out);
	case FTS_E_BINARY:
		if ((rc = eval(ev, e->args[0], &x)) || (rc = eval(ev, e->args[1], &y)))
			return rc;
		return binary(ev, e, &x, &y, out);
	case FTS_E_COMPARE: {
		bool res = true;
		if ((rc = eval(ev, e->args[0], &x)))
			return rc;
		for (size_t k = 1; k < e->nargs && res; k++) {
			if ((rc = eval(ev, e->args[k], &y)))
				return rc;
			if ((rc = compare(ev, e, e->cmp[k - 1], &x, &y, &res)))
				return rc;
			x = y;
		}
		*out = fts_value_bool(res);
		return 0;
	}
	case FTS_E_INDEX: {
		if ((rc = eval(ev, e->args[0], &x)) || (rc = eval(ev, e->args[1], &y)))
			return rc;
		if (!is_seq(&x) && x.kind != FTS_V_STR)
			return raise(ev, e, "TypeError: '%s' object is not subscriptable",
				     fts_value_type_name(&x));
		if (!is_intlike(&y))
			return raise(ev, e, "TypeError: %s indices must be integers, not %s",
				     fts_value_type_name(&x), fts_value_type_name(&y));
		int64_t k = intval(&y);
		if (k < 0)
			k += (int64_t)x.len;
		if (k < 0 || (uint64_t)k >= x.len)
			return raise(ev, e, "IndexError: %s index out of range",
				     x.kind == FTS_V_STR ? "string" : fts_value_type_name(&x));
		if (x.kind == FTS_V_STR)
			*out = fts_value_str(fts_arena_strndup(ev->a, x.s + k, 1), 1);
		else
			*out = x.items[k];
		return 0;
	}
	case FTS_E_ATTR:
		return raise(ev, e, "AttributeError: attribute '%s' cannot be evaluated here", e->name);
	case FTS_E_CALL:
		return call(ev, e, out);
	case FTS_E_TUPLE:
	case FTS_E_LIST: {
		struct fts_value r = {.kind = e->kind == FTS_E_TUPLE ? FTS_V_TUPLE : FTS_V_LIST};
		r.len = e->nargs;
		r.items = fts_arena_alloc(ev->a, (e->nargs ? e->nargs : 1) * sizeof *r.items);
		for (size_t k = 0; k < e->nargs; k++)
			if ((rc = eval(ev, e->args[k], &r.items[k])))
				return rc;
		*out = r;
		return 0;
	}
	}
	return raise(ev, e, "SystemError: bad expression node");
}

int fts_expr_eval(const struct fts_expr *e, struct fts_arena *a, fts_env_fn env,
		  void *env_ctx, struct fts_value *out, struct fts_eval_error *err)
{
	struct ev ev = {a, env, env_ctx, err};
	if (err) {
		err->msg[0] = '\0';
		err->span = e->span;
	}
	return eval(&ev, e, out);
}
