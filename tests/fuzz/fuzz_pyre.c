/*
 * fuzz_pyre.c - libFuzzer harness for the Python-regex translator and the
 * matcher: the input up to the first newline is a pattern, the rest a
 * subject (any bytes).  Compiling and matching, under the match limits,
 * may reject but must never crash, hang or exhaust memory.  The subject's
 * lines are also names of an index: its walk (prefix branches, shared
 * prefixes) must find exactly what the regex finds on every name.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "pyre.h"
#include "resolve.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nl = memchr(data, '\n', size);
	size_t plen = nl ? (size_t)(nl - data) : size;
	const char *subj = nl ? (const char *)nl + 1 : "";
	size_t slen = nl ? size - plen - 1 : 0;
	char err[256];
	size_t off = 0;
	struct fts_pyre *re = fts_pyre_compile((const char *)data, plen, err, sizeof(err), &off);
	if (!re) {
		if (off > plen)
			__builtin_trap();       /* an error offset past the pattern */
		return 0;
	}
	size_t end = 0;
	int r = fts_pyre_match(re, subj, slen, &end);
	if (r == 1 && end > slen)
		__builtin_trap();
	(void)fts_pyre_translated(re);

	/* the index against the scan, over the subject's lines */
	const char *names[256];
	size_t lens[256];
	uint32_t n = 0;
	for (const char *q = subj, *e = subj + slen; q <= e && n < 256;) {
		const char *t = memchr(q, '\n', (size_t)(e - q));
		size_t l = t ? (size_t)(t - q) : (size_t)(e - q);
		names[n] = q;
		lens[n++] = l;
		if (!t)
			break;
		q = t + 1;
	}
	struct fts_names *ix = fts_names_new(names, lens, n);
	struct fts_matches a = {0}, b = {0};
	fts_names_match(ix, re, &a);
	fts_names_match_scan(ix, re, &b);
	if (a.limit || b.limit) {
		/* a name over the match limits: no verdict to compare */
	} else {
		if (a.n != b.n || a.nover != b.nover)
			__builtin_trap();
		for (size_t k = 0; k < a.n; k++)
			if (a.idx[k] != b.idx[k] || a.end[k] != b.end[k])
				__builtin_trap();
	}
	fts_matches_free(&a);
	fts_matches_free(&b);
	fts_names_free(ix);
	fts_pyre_free(re);
	return 0;
}
