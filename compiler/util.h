/*
 * util.h - small string helpers shared by the compiler passes.
 */
#ifndef FTS_UTIL_H
#define FTS_UTIL_H

#include <stdbool.h>
#include <stddef.h>

/* A broken invariant of ftsc itself (never a user error): prints where,
 * and exits with status 3. */
#define FTS_BUG(msg) fts_bug(__FILE__, __LINE__, (msg))
_Noreturn void fts_bug(const char *file, int line, const char *msg);

/* Levenshtein distance, giving up (returning limit + 1) once it exceeds limit.
 * fold: ASCII letters match either case (compared as c | 32). */
size_t fts_edit_distance(const char *a, size_t alen, const char *b, size_t blen, size_t limit,
			 bool fold);

/* The candidate closest to `s` within a distance that scales with its
 * length, or NULL.  `cands` is NULL-terminated. */
const char *fts_closest(const char *s, const char *const *cands);

#endif /* FTS_UTIL_H */
