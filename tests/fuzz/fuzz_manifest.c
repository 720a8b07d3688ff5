/*
 * fuzz_manifest.c - libFuzzer harness for the model manifest reader and the
 * name index: arbitrary bytes as a manifest (typed or plain), parsed and
 * linked (duplicates, ties, the element-count limit).  Nothing may crash,
 * hang, leak or read out of bounds.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "diag.h"
#include "manifest.h"
#include "resolve.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fts_sources src;
	struct fts_diags d;
	struct fts_arena a;
	fts_sources_init(&src);
	fts_diags_init(&d, &src);
	fts_arena_init(&a);
	uint32_t mf = fts_source_add(&src, "fuzz.tsv", (const char *)data, size);
	struct fts_manifest *m = fts_manifest_parse(&a, &d, mf);
	struct fts_names *names = m ? fts_manifest_link(m, &d) : NULL;
	if (names) {
		/* every name finds the first entry of that name */
		for (uint32_t i = 0; i < m->nsched && i < 64; i++) {
			const struct fts_mparam *p = &m->p[fts_sched(m, i)];
			long k = fts_names_find(names, fts_mp_name(m, p), p->len);
			if (k < 0 || k > (long)i)
				abort();
		}
		fts_names_free(names);
	}
	if (m)
		free(m->name_recs);     /* the index borrowed them */
	fts_arena_release(&a);
	fts_diags_release(&d);
	fts_sources_release(&src);
	return 0;
}
