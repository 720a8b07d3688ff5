/*
 * fuzz_yaml.c - libFuzzer harness for the YAML front end and lowering:
 * arbitrary bytes as a schedule, checked against the FTS boring model's
 * parameter names.  Nothing may crash, hang, leak or read out of bounds.
 *
 *   make fuzz      (builds every tests/fuzz/*.c with -fsanitize=fuzzer)
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "diag.h"
#include "fts_stdlib.h"
#include "lower.h"
#include "manifest.h"
#include "resolve.h"
#include "yaml_front.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char manifest[] =
	"# ftsc-manifest v1\n"
	"model.0.weight\t32x32\tfloat32\t1\t-\nmodel.0.bias\t32\tfloat32\t1\t-\n"
	"model.1.weight\t32x32\tfloat32\t1\t-\nmodel.1.bias\t32\tfloat32\t1\t-\n"
	"model.2.weight\t32x32\tfloat32\t1\t-\nmodel.2.bias\t32\tfloat32\t1\t-\n"
	"model.3.weight\t2x32\tfloat32\t1\t-\nmodel.3.bias\t2\tfloat32\t1\t-\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fts_sources src;
	struct fts_diags d;
	struct fts_arena a;
	fts_sources_init(&src);
	fts_diags_init(&d, &src);
	fts_arena_init(&a);
	uint32_t mf = fts_source_add(&src, "m.tsv", manifest, sizeof(manifest) - 1);
	uint32_t sf = fts_source_add(&src, "fuzz.yaml", (const char *)data, size);
	struct fts_manifest *m = fts_manifest_parse(&a, &d, mf);
	struct fts_names *names = m ? fts_manifest_link(m, &d) : NULL;
	bool empty = false;
	struct fts_node *root = fts_yaml_parse(&a, &d, sf, &empty);
	if (names && d.errors == 0) {
		static struct fts_stdlib *lib;  /* loaded once: the harness is one process */
		if (!lib)
			lib = fts_stdlib_load();
		struct fts_settings s;
		fts_settings_default(&s);
		struct fts_ir *ir = fts_lower_schedule(&a, &d, root, m, names, lib,
						       &s, fts_span_make(sf, 0, 0));
		fts_check_schedule(ir, &d);
	}
	if (names)
		fts_names_free(names);
	if (m)
		free(m->name_recs);     /* the index borrowed them */
	fts_arena_release(&a);
	fts_diags_release(&d);
	fts_sources_release(&src);
	return 0;
}
