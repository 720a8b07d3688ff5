/*
 * fuzz_pyre.c - libFuzzer harness for the Python-regex translator and the
 * matcher: the input up to the first newline is a pattern, the rest a
 * subject (any bytes).  Compiling and matching, under the match limits,
 * may reject but must never crash, hang or exhaust memory.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "pyre.h"

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
	fts_pyre_free(re);
	return 0;
}
