/*
 * expr.h - expressions of the ftsc language and their evaluator.
 *
 * Stage: front end (shared by the declaration language, the stdlib's
 * `check`/`state ... if` conditions, default values, and later the schedule
 * DSL's lambdas such as `0.95 ** epoch`).
 *
 * Values (struct fts_value) model the Python objects FTS and torch see:
 * None, bool, int (int64; overflow is reported, Python would use a bignum),
 * float, str, tuple, list, and an opaque dict (a YAML mapping, only carried
 * through, never computed on).  The evaluator follows Python semantics:
 * bool is an int in arithmetic, int/float promotion, `/` is true division,
 * `//` and `%` floor, `**` of ints stays int for a non-negative exponent,
 * chained comparisons `0 <= x < 1` evaluate each operand once, `and`/`or`
 * return an operand, mixed-type ordering is a TypeError.  Errors are
 * reported as Python would name them (TypeError, ZeroDivisionError, ...),
 * never crash.  Builtins: min, max, abs, len, float, int, bool, and the
 * ftsc extension is_seq(x) (isinstance(x, (list, tuple))).
 *
 * Everything (nodes, values, strings) lives in a caller-supplied arena.
 * The evaluator has no global state; names are resolved through a callback.
 */
#ifndef FTS_EXPR_H
#define FTS_EXPR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arena.h"
#include "source.h"

enum fts_vkind {
	FTS_V_NONE,
	FTS_V_BOOL,
	FTS_V_INT,
	FTS_V_FLOAT,
	FTS_V_STR,
	FTS_V_TUPLE,
	FTS_V_LIST,
	FTS_V_DICT,                     /* opaque mapping (from YAML) */
};

struct fts_value {
	enum fts_vkind kind;
	bool b;                         /* FTS_V_BOOL */
	int64_t i;                      /* FTS_V_INT */
	double f;                       /* FTS_V_FLOAT */
	const char *s;                  /* FTS_V_STR: bytes, NUL-terminated */
	size_t len;                     /* FTS_V_STR: bytes in s; TUPLE/LIST: items */
	struct fts_value *items;        /* FTS_V_TUPLE/FTS_V_LIST elements */
};

static inline struct fts_value fts_value_none(void)
{
	struct fts_value v = {.kind = FTS_V_NONE};
	return v;
}
static inline struct fts_value fts_value_bool(bool b)
{
	struct fts_value v = {.kind = FTS_V_BOOL, .b = b};
	return v;
}
static inline struct fts_value fts_value_int(int64_t i)
{
	struct fts_value v = {.kind = FTS_V_INT, .i = i};
	return v;
}
static inline struct fts_value fts_value_float(double f)
{
	struct fts_value v = {.kind = FTS_V_FLOAT, .f = f};
	return v;
}
static inline struct fts_value fts_value_str(const char *s, size_t len)
{
	struct fts_value v = {.kind = FTS_V_STR, .s = s, .len = len};
	return v;
}

/* Python's type name of a value: 'NoneType', 'bool', 'int', 'float', ... */
const char *fts_value_type_name(const struct fts_value *v);
/* Python truthiness. */
bool fts_value_truthy(const struct fts_value *v);
/* Numeric view (bool, int, float); false for anything else. */
bool fts_value_number(const struct fts_value *v, double *out);
/* Python ==, with 1 == 1.0 == True and element-wise sequences. */
bool fts_value_equal(const struct fts_value *a, const struct fts_value *b);
/* Python repr() (strings quoted) and str() (strings bare), in the arena.
 * Floats use Python's shortest round-trip repr: 1e-05, 0.001, 1e+16, 2.0. */
char *fts_value_repr(struct fts_arena *a, const struct fts_value *v);
char *fts_value_tostr(struct fts_arena *a, const struct fts_value *v);
/* Python repr of a float into buf (at least 32 bytes). */
void fts_float_repr(double x, char *buf, size_t n);

enum fts_expr_kind {
	FTS_E_CONST,                    /* val */
	FTS_E_NAME,                     /* name */
	FTS_E_NEG,                      /* -args[0] */
	FTS_E_POS,                      /* +args[0] */
	FTS_E_NOT,                      /* not args[0] */
	FTS_E_BINARY,                   /* args[0] op args[1] */
	FTS_E_COMPARE,                  /* args[0] cmp[0] args[1] cmp[1] args[2] ... */
	FTS_E_AND,                      /* args[0] and args[1] */
	FTS_E_OR,                       /* args[0] or args[1] */
	FTS_E_COND,                     /* args[1] if args[0] else args[2] */
	FTS_E_INDEX,                    /* args[0][args[1]] */
	FTS_E_ATTR,                     /* args[0].name (not evaluable yet) */
	FTS_E_CALL,                     /* name(args...) */
	FTS_E_TUPLE,                    /* (args...) */
	FTS_E_LIST,                     /* [args...] */
};

enum fts_binop {
	FTS_OP_ADD, FTS_OP_SUB, FTS_OP_MUL, FTS_OP_DIV, FTS_OP_FLOORDIV,
	FTS_OP_MOD, FTS_OP_POW,
};

enum fts_cmpop {
	FTS_CMP_LT, FTS_CMP_LE, FTS_CMP_GT, FTS_CMP_GE, FTS_CMP_EQ, FTS_CMP_NE,
	FTS_CMP_IN, FTS_CMP_NOT_IN, FTS_CMP_IS, FTS_CMP_IS_NOT,
};

struct fts_expr {
	enum fts_expr_kind kind;
	struct fts_span span;           /* the whole expression */
	int op;                         /* enum fts_binop for FTS_E_BINARY */
	bool parens;                    /* written in parentheses (stops chaining) */
	bool regex;                     /* FTS_E_CONST from re"..." */
	struct fts_value val;           /* FTS_E_CONST */
	const char *name;               /* FTS_E_NAME, FTS_E_CALL, FTS_E_ATTR */
	struct fts_expr **args;         /* operands / elements / call arguments */
	size_t nargs;                   /* entries in args */
	enum fts_cmpop *cmp;            /* FTS_E_COMPARE: nargs - 1 operators */
};

/* Constructors used by the parser; all allocate from the arena. */
struct fts_expr *fts_expr_new(struct fts_arena *a, enum fts_expr_kind kind,
			      struct fts_span span);
void fts_expr_push(struct fts_arena *a, struct fts_expr *e, struct fts_expr *arg);

enum fts_eval_status {
	FTS_EVAL_OK = 0,
	FTS_EVAL_ERROR = -1,            /* a Python exception: msg says which */
	FTS_EVAL_UNBOUND = -2,          /* a name the environment does not know */
};

struct fts_eval_error {
	struct fts_span span;           /* the sub-expression that raised */
	char msg[256];                  /* "TypeError: ...", "ZeroDivisionError: ..." */
};

/* Name lookup: return true and set *out when the name is bound. */
typedef bool (*fts_env_fn)(void *ctx, const char *name, struct fts_value *out);

/*
 * Evaluate e.  Returns FTS_EVAL_OK and stores the result, or a negative
 * status and fills err (err may be NULL).  Results that need memory
 * (tuples, strings) are allocated in a.
 */
int fts_expr_eval(const struct fts_expr *e, struct fts_arena *a, fts_env_fn env,
		  void *env_ctx, struct fts_value *out, struct fts_eval_error *err);

/* Call f(name, ctx) for each free name an expression reads (duplicates possible). */
void fts_expr_names(const struct fts_expr *e,
		    void (*f)(void *ctx, const char *name, struct fts_span span),
		    void *ctx);

#endif /* FTS_EXPR_H */
