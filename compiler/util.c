/*
 * util.c - small string helpers (see util.h).
 */
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"

size_t fts_edit_distance(const char *a, size_t alen, const char *b, size_t blen, size_t limit,
			 bool fold)
{
	if ((alen > blen ? alen - blen : blen - alen) > limit)
		return limit + 1;
	size_t *row = fts_xmalloc((blen + 1) * sizeof(*row));
	for (size_t j = 0; j <= blen; j++)
		row[j] = j;
	for (size_t i = 1; i <= alen; i++) {
		size_t prev = row[0], best;
		row[0] = i;
		best = row[0];
		for (size_t j = 1; j <= blen; j++) {
			size_t cur = row[j];
			char x = a[i - 1], y = b[j - 1];
			size_t cost = x == y || (fold && (x | 32) == (y | 32)) ? 0 : 1;
			size_t v = prev + cost;
			if (row[j] + 1 < v)
				v = row[j] + 1;
			if (row[j - 1] + 1 < v)
				v = row[j - 1] + 1;
			row[j] = v;
			prev = cur;
			if (v < best)
				best = v;
		}
		if (best > limit) {
			free(row);
			return limit + 1;
		}
	}
	size_t r = row[blen];
	free(row);
	return r;
}

const char *fts_closest(const char *s, const char *const *cands)
{
	size_t n = strlen(s);
	size_t limit = n < 4 ? 1 : n < 9 ? 2 : 3;
	const char *best = NULL;
	size_t bestd = limit + 1;
	for (; *cands; cands++) {
		size_t d = fts_edit_distance(s, n, *cands, strlen(*cands), limit, false);
		if (d < bestd) {
			bestd = d;
			best = *cands;
		}
	}
	return best;
}

_Noreturn void fts_bug(const char *file, int line, const char *msg)
{
	fprintf(stderr, "ftsc: internal error at %s:%d: %s\n", file, line, msg);
	exit(3);
}
