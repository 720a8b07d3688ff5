/*
 * fuzz_dsl.c - libFuzzer harness for the schedule language front end.
 *
 * Parses the input as a DSL file (includes disabled), and when it parses,
 * writes it back as DSL and as YAML and re-parses the DSL output, which
 * must parse again.  Build (from the repository root, after `make`):
 *   clang -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE -Icompiler -Ibuild \
 *     -Ibuild/grammar -o build/fuzz_dsl tests/fuzz/fuzz_dsl.c compiler/*.c \
 *     build/grammar/ftsc.tab.c build/grammar/ftsc.yy.c build/stdlib_embed.c \
 *     -lyaml -lpcre2-8 -lm -pthread
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "arena.h"
#include "diag.h"
#include "dsl.h"
#include "dsl_emit.h"
#include "source.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fts_sources src;
	struct fts_diags d;
	struct fts_arena a;

	if (size > (1u << 20))
		return 0;
	fts_sources_init(&src);
	fts_diags_init(&d, &src);
	fts_arena_init(&a);
	uint32_t id = fts_source_add(&src, "fuzz.fts", (const char *)data, size);
	struct fts_node *root = fts_dsl_parse_ex(&a, &d, id, FTS_DSL_NO_INCLUDE);
	if (root) {
		size_t len, ylen, clen;
		char *text = fts_dsl_from_tree(&a, &d, root, &len);
		char *y, *c;
		fts_dsl_to_yaml(&a, &d, root, "s.yaml", &y, &ylen, &c, &clen);
		uint32_t id2 = fts_source_add(&src, "fuzz2.fts", text, len);
		size_t errors = d.errors;
		if (!fts_dsl_parse_ex(&a, &d, id2, FTS_DSL_NO_INCLUDE) && d.errors != errors)
			abort();                /* the writer wrote what the reader refuses */
	}
	fts_arena_release(&a);
	fts_diags_release(&d);
	fts_sources_release(&src);
	return 0;
}
