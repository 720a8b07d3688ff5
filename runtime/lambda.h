/*
 * lambda.h - the runtime's lr_lambda bytecode: format, validator, evaluator.
 *
 * Stage: runtime (plan execution).  LambdaLR and MultiplicativeLR carry a
 * Python expression of `epoch` (`0.95 ** epoch`, `min(1.0, (epoch + 1) / 5)`).
 * The compiler lowers it to the small stack-machine program defined here and
 * stores it in the plan; the runtime validates the program once (it comes
 * from an untrusted file) and then evaluates it at every scheduler step.
 * Nothing here depends on the compiler: compiler/expr.h is never included.
 *
 * PROGRAM FORMAT (version 1; all multi-byte fields little-endian)
 *
 *   off  size  field
 *   0    2     magic 'L' 'B' (0x4C 0x42)
 *   2    1     version, 1
 *   3    1     max_stack: an upper bound of the operand stack depth,
 *              1 <= max_stack <= RT_LAMBDA_STACK_MAX
 *   4    n     instructions, up to the end of the program; the program's
 *              length comes from its container (the plan section) and is
 *              at most RT_LAMBDA_MAX_LEN bytes.
 *
 * An instruction is one opcode byte, followed by its operand if it has one:
 *
 *   op    name            operand   stack effect          meaning
 *   0x01  CONST           f64 (8)   -> c                  push a constant
 *   0x02  EPOCH           -         -> epoch              push the argument
 *   0x03  ADD             -         a b -> a+b
 *   0x04  SUB             -         a b -> a-b
 *   0x05  MUL             -         a b -> a*b
 *   0x06  DIV             -         a b -> a/b            Python `/`
 *   0x07  FLOORDIV        -         a b -> a//b           Python `//` (floor)
 *   0x08  MOD             -         a b -> a%b            Python `%` (sign of b)
 *   0x09  POW             -         a b -> a**b           Python float `**`
 *   0x0A  NEG             -         a -> -a
 *   0x0B  NOT             -         a -> not a            1.0 or 0.0
 *   0x0C  LT              -         a b -> a<b            1.0 or 0.0
 *   0x0D  LE              -         a b -> a<=b
 *   0x0E  GT              -         a b -> a>b
 *   0x0F  GE              -         a b -> a>=b
 *   0x10  EQ              -         a b -> a==b
 *   0x11  NE              -         a b -> a!=b
 *   0x12  MIN             -         a b -> min(a, b)      b if b < a else a
 *   0x13  MAX             -         a b -> max(a, b)      b if b > a else a
 *   0x14  ABS             -         a -> abs(a)
 *   0x15  INT             -         a -> int(a)           truncation
 *   0x16  FLOAT           -         a -> float(a)         identity
 *   0x17  JUMP_IF_FALSE   u16       c ->                  pop; jump if c == 0
 *   0x18  JUMP            u16       -                     jump
 *   0x19  JUMP_IF_FALSE_OR_POP u16  a -> a | -            `and`: keep a and
 *                                                         jump if a == 0, else pop
 *   0x1A  JUMP_IF_TRUE_OR_POP  u16  a -> a | -            `or`: keep a and jump
 *                                                         if a != 0, else pop
 *   0x1B  RET             -         a ->                  the result
 *
 * Opcode 0x00 and 0x1C..0xFF are invalid.  Jump operands are unsigned
 * forward offsets counted from the first byte after the operand, so every
 * program terminates after at most len/1 instructions.
 *
 * VALIDITY (checked by rt_lambda_validate before any evaluation):
 *   - magic, version, 1 <= max_stack <= RT_LAMBDA_STACK_MAX, length bounds;
 *   - every opcode is known and every operand lies inside the program;
 *   - every jump lands on the start of an instruction (not on an operand,
 *     not at or past the end);
 *   - every instruction is reachable, and all paths reaching it agree on
 *     the stack depth there;
 *   - no instruction pops more than the stack holds, no push exceeds
 *     max_stack;
 *   - execution never runs off the end: the last instruction of every path
 *     is RET, executed with exactly one value on the stack.
 *
 * VALUES AND ERRORS.  Every value is an IEEE double; Python's int and bool
 * are represented by their float value (exact up to 2**53; larger Python
 * ints, which Python keeps exact, are rounded), True is 1.0, truthiness is
 * `v != 0` (NaN is true).  The arithmetic follows CPython's float rules:
 * `/`, `//`, `%` by zero raise ZeroDivisionError; `0.0 ** negative` raises
 * ZeroDivisionError; a negative base with a non-integral exponent
 * (complex in Python, unusable as a learning rate) raises ValueError;
 * `**` whose result overflows raises OverflowError (so do Python int
 * powers too large for a float, at the multiplication by the base lr);
 * int() of NaN raises ValueError and of an infinity OverflowError; `*`,
 * `+` and `-` overflow to infinity silently, as in Python.  A raised
 * exception makes rt_lambda_eval return FTSRT_EINVAL and name it.
 */
#ifndef RT_LAMBDA_H
#define RT_LAMBDA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RT_LAMBDA_MAGIC0 0x4C           /* 'L' */
#define RT_LAMBDA_MAGIC1 0x42           /* 'B' */
#define RT_LAMBDA_VERSION 1
#define RT_LAMBDA_HEADER_SIZE 4
#define RT_LAMBDA_STACK_MAX 64          /* operand stack slots */
#define RT_LAMBDA_MAX_LEN 4096          /* bytes, header included */

/* ORDER OPCODES: keep in sync with the table in lambda.c and the format above. */
enum rt_lambda_op {
#define LAMBDA_OP(name, code, operand, pops, pushes) RT_LOP_##name = code,
#include "lambda_ops.def"
#undef LAMBDA_OP
	RT_LOP_COUNT_,                  /* first invalid opcode */
};

/* The Python exception an evaluation raised. */
enum rt_lambda_exc {
	RT_LAMBDA_EXC_NONE = 0,
	RT_LAMBDA_EXC_ZERO_DIVISION,    /* ZeroDivisionError */
	RT_LAMBDA_EXC_VALUE,            /* ValueError (complex result, int(nan)) */
	RT_LAMBDA_EXC_OVERFLOW,         /* OverflowError */
	RT_LAMBDA_EXC_INVALID,          /* the program was not validated */
};

/* A validated program.  code points at the caller's bytes (borrowed). */
struct rt_lambda {
	const uint8_t *code;            /* the whole program, header included */
	size_t len;                     /* bytes in code */
	unsigned max_stack;             /* from the header, validated */
};

/* Where and why a program or a text was rejected. */
struct rt_lambda_diag {
	size_t offset;                  /* byte offset into the program or the text */
	char msg[96];                   /* "stack underflow", "expected ')'", ... */
};

/*
 * Check that buf[0..len) is a valid program (see VALIDITY above) and, on
 * success, fill *out to borrow buf (which must outlive *out).  Returns 0, or
 * FTSRT_EFORMAT with diag (may be NULL) saying where and why.  Never reads
 * outside buf; runs in O(len) time and allocates nothing (a fixed
 * RT_LAMBDA_MAX_LEN-byte depth map lives on the stack).
 */
int rt_lambda_validate(const uint8_t *buf, size_t len, struct rt_lambda *out,
		       struct rt_lambda_diag *diag);

/*
 * Evaluate a validated program at `epoch` and store the result in *out.
 * Returns 0, or FTSRT_EINVAL when the expression raises (a Python
 * exception, named in *exc when exc is not NULL; *out is then untouched).
 */
int rt_lambda_eval(const struct rt_lambda *l, double epoch, double *out,
		   enum rt_lambda_exc *exc);

/*
 * Python's float `a ** b` (CPython float_pow): stores the result and returns
 * RT_LAMBDA_EXC_NONE, or returns the exception Python raises.  Shared with
 * the schedulers, whose `gamma ** n` and `x ** power` must raise alike.
 */
enum rt_lambda_exc rt_lambda_pow(double a, double b, double *res);

/* Python's name of an exception ("ZeroDivisionError"); static storage. */
const char *rt_lambda_exc_name(enum rt_lambda_exc exc);

/*
 * Test and verification helper, NOT the compiler's path: translate the
 * Python expression `src` (a lambda body over the single name `epoch`) into
 * a program in buf[0..cap), storing its length in *len.  Accepts numbers
 * (Python int/float literals, `_` separators, True, False), `epoch`,
 * + - * / // % ** (right-associative, binding tighter than unary minus on
 * its left), unary + - not, comparisons (chained ones included), and, or,
 * `a if c else b`, parentheses and the calls min(a, b, ...), max(...),
 * abs(x), int(x), float(x).  Returns 0, or FTSRT_EINVAL with diag (may be
 * NULL) on a syntax error or when the program would not fit in cap bytes.
 * The result is validated before it is returned.
 */
int rt_lambda_compile_text(const char *src, uint8_t *buf, size_t cap, size_t *len,
			   struct rt_lambda_diag *diag);

#endif /* RT_LAMBDA_H */
