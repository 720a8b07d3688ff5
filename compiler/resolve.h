/*
 * resolve.h - FTS parameter-name resolution over a name index.
 *
 * FTS resolves a schedule entry p against the model's parameter names
 * (registration order): p itself if it is exactly a name, otherwise every
 * name n with re.match(p, n) (anchored at the start only).  The index built
 * here makes both fast at MoE scale (500k+ names): a hash table for exact
 * lookups and duplicates, and each name's common prefix with the one
 * before it.  A pattern's leading fixed-width part (see
 * fts_pyre_branches()) is walked over the names in registration order,
 * and the names that share the bytes a verdict depended on get it without
 * being read, so that the regex only runs where the prefix cannot decide.
 * The result is always exactly Python's `[n for n in names if
 * re.match(p, n)]`, in registration order.
 */
#ifndef FTS_RESOLVE_H
#define FTS_RESOLVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pyre.h"

struct fts_names;

/* Matches appended by fts_names_match(); free with fts_matches_free(). */
struct fts_matches {
	uint32_t *idx;	/* name indices (registration order within one call) */
	uint32_t *end;	/* byte offset where the match ended in that name (NULL with no_end) */
	bool no_end;	/* set by the caller before the first match: keep no ends */
	size_t n, cap;
	bool limit;	/* some name hit a match limit: no verdict there */
	uint32_t limit_idx;	/* the first such name */
	size_t nlimit;	/* how many */
	size_t nover;	/* matches that stop inside a dotted segment (fts_overmatch()) */
	uint32_t first_over;	/* the first such name */
};

/*
 * Build the index over names[0..n) (lens[i] bytes each, need not be
 * NUL-terminated).  The name bytes and the names[] array are NOT copied:
 * both must stay valid and unchanged until fts_names_free() (the manifest's
 * arena normally outlives the index); lens[] may be freed after the call.
 * Duplicate names are allowed (exact lookup then finds the first).  Never
 * returns NULL (out of memory is fatal).
 */
struct fts_names *fts_names_new(const char *const *names, const size_t *lens, uint32_t n);

/*
 * The same over names that lie in text[0..textlen), described by n records
 * of stride bytes, each beginning with two uint32_t: the name's offset in
 * text (its low 32 bits: see off_hi_at) and its length (a manifest's own records, read in place).  text
 * and recs are borrowed until fts_names_free().  When the names lie in
 * text in order and apart, fts_names_set_text() is implied.  hints, when
 * not NULL, are facts the caller computed while reading the names (see
 * struct fts_names_hints).
 */
struct fts_names_hints {
	bool ascii;             /* every name is ASCII without a newline */
	bool in_order;          /* the names lie in text in order and apart */
	const uint32_t *hash;   /* fts_names_hash() of each name, or NULL (read during the call) */
	uint8_t *lcp;           /* fts_names_common_prefix() of each name and the one before
				   (lcp[0] = 0), from fts_xmalloc_big(), or NULL; the index
				   takes it over */
	size_t off_hi_at;       /* where each record holds a uint16_t with bits 32..47 of
				   the name's offset (text over 4 GiB), or 0: none */
};

struct fts_names *fts_names_new_recs(const char *text, size_t textlen, const void *recs, size_t stride,
				     uint32_t n, const struct fts_names_hints *hints);

/* The index's hash of a name. */
uint32_t fts_names_hash(const char *s, size_t n);

/* Bytes a[0..la) and b[0..lb) share at the start, at most 255. */
uint8_t fts_names_common_prefix(const char *a, size_t la, const char *b, size_t lb);

/*
 * Tell the index that its names lie, in index order and apart (at least
 * one byte between two names), inside text[0..len): one object that stays
 * valid until fts_names_free(), such as the manifest they were split from.
 * Patterns that need a literal (`.*bias`) then find it with one memmem()
 * over the whole text rather than one per name.  Returns false, and
 * changes nothing, when the names do not lie so.
 */
bool fts_names_set_text(struct fts_names *ix, const char *text, size_t len);

/* Free an index; NULL is a no-op. */
void fts_names_free(struct fts_names *ix);

/*
 * Names that occur more than once: *pairs receives ndups pairs
 * (later index, index of its first occurrence), in index order of the
 * later one; valid until fts_names_free().  Returns ndups.
 */
size_t fts_names_duplicates(const struct fts_names *ix, const uint32_t **pairs);

/* Number of names in the index. */
uint32_t fts_names_count(const struct fts_names *ix);

/* Name i (the caller's bytes, not necessarily NUL-terminated); *len gets its length. */
const char *fts_names_get(const struct fts_names *ix, uint32_t i, size_t *len);

/* Exact lookup: index of the first name equal to s[0..len), or -1. */
long fts_names_find(const struct fts_names *ix, const char *s, size_t len);

/*
 * Append to *m every name index i with re.match(re, name_i), ascending, and
 * the end offset of each match.  Returns the number appended.  re must not
 * be used concurrently by another thread (it owns a match block).
 */
size_t fts_names_match(const struct fts_names *ix, const struct fts_pyre *re, struct fts_matches *m);

/*
 * Reference implementation of fts_names_match(): the regex on every name.
 * Same contract; used by tests and the benchmark.
 */
size_t fts_names_match_scan(const struct fts_names *ix, const struct fts_pyre *re, struct fts_matches *m);

/* Release the arrays of m and zero it. */
/* Give back the room *m holds beyond its matches (results kept a while). */
void fts_matches_shrink(struct fts_matches *m);
void fts_matches_free(struct fts_matches *m);

/*
 * Did-you-mean for an entry pat[0..len) that matched nothing: up to max
 * name indices, best first, ranked by the edit distance between the
 * pattern (backslash escapes removed, a trailing `.*` dropped) and the best
 * matching prefix of the name; ties by registration order.  Only names
 * within distance max(2, len/4) are offered.  Candidates come from the
 * names in byte order (sorted on the first call: an error path) around
 * the pattern's longest matched prefix and its one-edit variants, so a
 * call stays well under a millisecond on 500k names.  Not for concurrent
 * use on one index (the first call sorts).
 */
size_t fts_names_suggest(const struct fts_names *ix, const char *pat, size_t len, uint32_t *out, size_t max);

/*
 * True when a match of a pattern that ended at byte match_end of name
 * stopped inside a dotted segment, i.e. name[match_end-1] and
 * name[match_end] are both non-'.' characters and the match did not end at
 * the end of the name (e.g. `model.1` over `model.10.weight` ends before
 * '0'): FTS's prefix-match over-match trap.
 */
bool fts_overmatch(const char *name, size_t namelen, size_t match_end);

#endif /* FTS_RESOLVE_H */
