/*
 * fuzz_lambda.c - libFuzzer harness for lr_lambda expressions: the input
 * is parsed as an expression of `epoch`, compiled to the runtime's bytecode
 * and evaluated over epochs 0..64; the same bytes are also handed to the
 * bytecode validator as a program.  Nothing may crash, hang or read out of
 * bounds; a program the compiler emits is always valid.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "../runtime/lambda.h"
#include "arena.h"
#include "decl.h"
#include "lambda_emit.h"
#include "source.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void run(const struct rt_lambda *l)
{
	for (int e = 0; e <= 64; e++) {
		double v;
		enum rt_lambda_exc exc;
		(void)rt_lambda_eval(l, (double)e, &v, &exc);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rt_lambda l;
	struct rt_lambda_diag dg;
	/* raw bytes as a program: validated, and run only when valid */
	if (rt_lambda_validate(data, size, &l, &dg) == 0)
		run(&l);
	/* text as an expression, compiled */
	struct fts_arena a;
	fts_arena_init(&a);
	struct fts_expr *e = fts_expr_parse(&a, FTS_NOFILE, 0, (const char *)data, size, NULL, NULL);
	if (e) {
		uint8_t code[4096];
		size_t len = 0;
		char why[128];
		if (fts_lambda_emit(e, code, sizeof(code), &len, why, sizeof(why)) == 0) {
			if (rt_lambda_validate(code, len, &l, &dg) != 0)
				__builtin_trap();       /* the compiler emitted an invalid program */
			run(&l);
		}
	}
	fts_arena_release(&a);
	return 0;
}
