/*
 * lambda_emit.h - lowers an lr_lambda expression (expr.h) to the runtime's
 * bytecode (runtime/lambda.h, format version 1).
 *
 * Stage: back end, used by the plan emitter (emit.c).  The compiler does
 * not include runtime/lambda.h; the opcode numbers below repeat that
 * header's table and the plan tests run every emitted program through
 * the runtime's validator.
 */
#ifndef FTS_LAMBDA_EMIT_H
#define FTS_LAMBDA_EMIT_H

#include <stddef.h>
#include <stdint.h>

#include "expr.h"

#define FTS_LAMBDA_MAX_LEN 4096         /* RT_LAMBDA_MAX_LEN */

/*
 * Translate e, an expression of the single name `epoch`, into a program in
 * buf[0..cap) and store its length in *len.  Returns 0, or -1 with a
 * lower-case reason in err (errlen bytes) for what the bytecode cannot
 * express (strings, other names, tuples, len(), `in`, `is`, a program
 * over cap bytes or deeper than 64 stack slots).  Pure: no allocation.
 */
int fts_lambda_emit(const struct fts_expr *e, uint8_t *buf, size_t cap, size_t *len,
		    char *err, size_t errlen);

#endif /* FTS_LAMBDA_EMIT_H */
