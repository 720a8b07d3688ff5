/*
 * resolve_bench.c - time FTS parameter resolution on a manifest.
 *
 *   resolve_bench MANIFEST.tsv PATTERNS.txt [--check | -v]
 *
 * Loads the names of an ftsc-manifest v1 file (registration order) and one
 * schedule entry per line, builds the name index, and resolves every entry
 * the FTS way (exact name first, else re.match against every name).  Prints
 * the index build time, the resolution time, the total and the number of
 * matches (which must equal bench/fts_resolve.py's); -v times each entry.
 * With --check, every
 * regex entry is also resolved by the brute-force scan and compared.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "arena.h"
#include "pyre.h"
#include "resolve.h"

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static char *slurp(const char *path, size_t *n)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long sz;

	if (!f) {
		perror(path);
		exit(2);
	}
	fseek(f, 0, SEEK_END);
	sz = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = fts_xmalloc((size_t)sz + 1);
	if (fread(buf, 1, (size_t)sz, f) != (size_t)sz) {
		perror(path);
		exit(2);
	}
	buf[sz] = '\0';
	fclose(f);
	*n = (size_t)sz;
	return buf;
}

int main(int argc, char **argv)
{
	FTS_VEC(const char *) nm = { 0 };
	FTS_VEC(size_t) nl = { 0 };
	FTS_VEC(char *) pats = { 0 };
	struct fts_matches m = { 0 };
	size_t sz, mansz, k, total = 0, scans = 0;
	char *man, *pt, *line, *save = NULL;
	double t0, t1, t2, tcomp = 0;
	bool check = argc > 3 && !strcmp(argv[3], "--check");
	bool verbose = argc > 3 && !strcmp(argv[3], "-v");
	struct fts_names *ix;
	int bad = 0;

	if (argc < 3) {
		fprintf(stderr, "usage: resolve_bench MANIFEST.tsv PATTERNS.txt [--check]\n");
		return 2;
	}
	man = slurp(argv[1], &mansz);
	for (line = strtok_r(man, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *tab;

		if (line[0] == '#' || !line[0])
			continue;
		tab = strchr(line, '\t');
		FTS_VEC_PUSH(nm, line);
		FTS_VEC_PUSH(nl, tab ? (size_t)(tab - line) : strlen(line));
	}
	pt = slurp(argv[2], &sz);
	for (line = strtok_r(pt, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		FTS_VEC_PUSH(pats, line);

	t0 = now();
	ix = fts_names_new(nm.v, nl.v, (uint32_t)nm.n);
	fts_names_set_text(ix, man, mansz);	/* the names lie in the manifest text, as in ftsc */
	t1 = now();
	for (k = 0; k < pats.n; k++) {
		size_t plen = strlen(pats.v[k]);
		char err[128];
		size_t off;
		struct fts_pyre *re;
		double c0;

		if (fts_names_find(ix, pats.v[k], plen) >= 0) {
			total++;
			continue;
		}
		c0 = now();
		re = fts_pyre_compile(pats.v[k], plen, err, sizeof(err), &off);
		tcomp += now() - c0;
		if (!re) {
			fprintf(stderr, "%s: error at %zu: %s\n", pats.v[k], off, err);
			return 1;
		}
		m.n = 0;
		total += fts_names_match(ix, re, &m);
		if (verbose)
			printf("%8.3f ms %7zu  %s\n", (now() - c0) * 1e3, m.n, pats.v[k]);
		{
			const struct fts_pyre_branch *br;

			scans += fts_pyre_branches(re, &br, NULL) == 0 && !fts_pyre_dotstar_literal(re, NULL);
		}
		fts_pyre_free(re);
	}
	t2 = now();
	printf("resolve_bench: %zu names, %zu entries (%zu without a usable prefix)\n", nm.n, pats.n, scans);
	printf("  index build  %8.1f ms\n", (t1 - t0) * 1e3);
	printf("  resolution   %8.1f ms (regex compile+JIT %.1f ms)\n", (t2 - t1) * 1e3, tcomp * 1e3);
	printf("  total        %8.1f ms\n", (t2 - t0) * 1e3);
	printf("  matches      %zu\n", total);

	if (check) {
		struct fts_matches b = { 0 };
		double s0 = now();

		for (k = 0; k < pats.n; k++) {
			size_t plen = strlen(pats.v[k]), off;
			char err[128];
			struct fts_pyre *re;

			if (fts_names_find(ix, pats.v[k], plen) >= 0)
				continue;
			re = fts_pyre_compile(pats.v[k], plen, err, sizeof(err), &off);
			m.n = b.n = 0;
			fts_names_match(ix, re, &m);
			fts_names_match_scan(ix, re, &b);
			if (m.n != b.n || (m.n && memcmp(m.idx, b.idx, m.n * sizeof(*m.idx))) ||
			    (m.n && memcmp(m.end, b.end, m.n * sizeof(*m.end)))) {
				fprintf(stderr, "MISMATCH %s: %zu vs scan %zu\n", pats.v[k], m.n, b.n);
				bad = 1;
			}
			fts_pyre_free(re);
		}
		printf("  check        %s (brute-force PCRE2 scan of every name: %.1f ms)\n",
		       bad ? "FAILED" : "ok", (now() - s0) * 1e3);
		fts_matches_free(&b);
	}
	fts_matches_free(&m);
	fts_names_free(ix);
	FTS_VEC_FREE(nm);
	FTS_VEC_FREE(nl);
	FTS_VEC_FREE(pats);
	free(man);
	free(pt);
	return bad;
}
