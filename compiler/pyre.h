/*
 * pyre.h - Python `re` compatible patterns on top of PCRE2.
 *
 * FTS compiles every schedule entry that is not an exact parameter name with
 * Python's re.compile() (str pattern) and keeps the names for which
 * pattern.match(name) succeeds.  This module owns the translation of Python
 * regex syntax into PCRE2 syntax (rejecting what Python 3.11 rejects, with
 * Python's messages and offsets), the JIT-compiled matcher, a "prefix
 * program" that resolve.c uses to avoid running the regex on every name, and
 * a few syntactic lint predicates used by diagnostics.
 *
 * Thread-compatibility: there is no global state.  A compiled pattern owns a
 * PCRE2 match block, so one struct fts_pyre must not be matched from two
 * threads at the same time (compile one per thread instead).
 */
#ifndef FTS_PYRE_H
#define FTS_PYRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct fts_pyre;

/*
 * Translate the Python pattern pat[0..len) (UTF-8, str-pattern semantics) to
 * PCRE2 and compile it with JIT.  Returns NULL on error: err (errlen bytes,
 * may be NULL when errlen is 0) receives a Python-like message such as
 * "unterminated character set" or "nothing to repeat", and *erroff (if
 * erroff != NULL) the byte offset in pat where it was detected (Python's
 * re.error.pos, converted to bytes).  Python 3.11 rejections are reproduced
 * even where PCRE2 would accept the pattern (e.g. "(?<name>x)", "\p{L}",
 * "\q", global flags not at the start).  Known gaps, reported as errors with
 * an "ftsc:" message: "\N{...}" names outside the table ftsc carries
 * (uninames.h) and repeat counts above 65535.  The returned
 * object is freed with fts_pyre_free().
 */
struct fts_pyre *fts_pyre_compile(const char *pat, size_t len, char *err, size_t errlen,
				  size_t *erroff);

/* The limits every match runs under (PCRE2's match, depth and heap limits). */
#define FTS_PYRE_MATCH_LIMIT 10000000u
#define FTS_PYRE_DEPTH_LIMIT 100000u
#define FTS_PYRE_HEAP_LIMIT_KIB 65536u

/*
 * re.match semantics: anchored at the start of s[0..len), not at the end.
 * Returns 1 on a match and stores in *end (if end != NULL) the byte offset
 * where the match ended, 0 when there is none (or s is not valid UTF-8),
 * and -1 when the match hit a limit (FTS_PYRE_*_LIMIT): the pattern is too
 * expensive to evaluate on s, and there is no verdict.  One pattern must
 * not be matched on two threads at once: it holds its match block, and is
 * JIT-compiled once it has been used a few times.
 */
int fts_pyre_match(const struct fts_pyre *re, const char *s, size_t len, size_t *end);

/*
 * fts_pyre_match() without the UTF-8 validation of s: s MUST be valid UTF-8
 * (PCRE2's JIT has undefined behaviour otherwise).  For callers that have
 * validated their subjects once, e.g. the name index.
 */
int fts_pyre_match_unchecked(const struct fts_pyre *re, const char *s, size_t len, size_t *end);

/* True when s[0..n) is well-formed UTF-8 (no overlongs, surrogates or > U+10FFFF). */
bool fts_utf8_valid(const char *s, size_t n);

/* Free a pattern from fts_pyre_compile(); NULL is a no-op. */
void fts_pyre_free(struct fts_pyre *re);

/* The Python source text of a compiled pattern (NUL-terminated copy). */
const char *fts_pyre_source(const struct fts_pyre *re, size_t *len);

/* The PCRE2 pattern the source was translated to (for debugging/tests). */
const char *fts_pyre_translated(const struct fts_pyre *re);

/* ---- lint helpers (pure syntax, pattern need not compile) ---- */

/*
 * Offset of the first unescaped `.` (outside a character class) that is
 * immediately followed by a counted quantifier `{m,n}`, `{n}`, `{,n}` or
 * `{m,}` (the DeBERTa example's `layer.{0,11}.` trap: the count applies to
 * the wildcard, not to a layer number).  *qlen (if non-NULL) receives the
 * length of `.{...}`.  Returns -1 when there is none.
 */
long fts_pyre_find_quantified_dot(const char *pat, size_t len, size_t *qlen);

/*
 * True when pat contains none of Python's regex metacharacters
 * `. ^ $ * + ? { } [ ] \ | ( )`: it can only ever match names that start
 * with exactly this text.
 */
bool fts_pyre_is_plain(const char *pat, size_t len);

/*
 * If pat denotes one fixed string (plain characters and backslash-escaped
 * punctuation only, e.g. `model\.0\.weight`), write that string to
 * out[0..outlen) (NUL-terminated when it fits) and return its length;
 * otherwise return -1.  out may be NULL to only test.
 */
long fts_pyre_literal(const char *pat, size_t len, char *out, size_t outlen);

/*
 * True when an unescaped `.` outside a character class appears between two
 * word characters or digits (e.g. `model.1.weight`): the author most likely
 * meant a literal dot.  Used for a "did you mean `\.`" note.
 */
bool fts_pyre_has_wildcard_dot(const char *pat, size_t len);

/* ---- prefix program (used by resolve.c) ---- */

/* One character position of a pattern's leading, fixed-width part. */
struct fts_pyre_elem {
	uint8_t bits[32];	/* bytes that may appear at this position */
	bool multi;		/* may also match one multi-byte UTF-8 char */
};

enum fts_pyre_tail {
	FTS_PYRE_TAIL_REGEX,	/* more pattern follows: run the regex */
	FTS_PYRE_TAIL_EMPTY,	/* branch is the whole pattern: match ends here */
	FTS_PYRE_TAIL_DOTSTAR,	/* `.*` follows: always matches, greedy */
	FTS_PYRE_TAIL_DOTSTAR_LAZY, /* `.*?` follows: always matches, ends here */
};

/* A set of alternatives any match must start with (a superset filter). */
struct fts_pyre_branch {
	const struct fts_pyre_elem *elem;
	uint32_t n;
	enum fts_pyre_tail tail;
};

/*
 * The branches of re: every string matched by re starts with a string
 * matched by the elements of some branch (each element one character).
 * Returns the number of branches (0: no usable prefix, scan everything) and
 * stores the array in *out (owned by re).  *dotall is set when `.*` tails
 * also cross newlines.
 */
size_t fts_pyre_branches(const struct fts_pyre *re, const struct fts_pyre_branch **out,
			 bool *dotall);

/*
 * For patterns of the form `.*LITERAL` (no flags): the literal, else NULL.
 * Such a pattern matches iff LITERAL occurs in the name's first line; the
 * match ends after the last occurrence there (or the whole name with DOTALL).
 */
const char *fts_pyre_dotstar_literal(const struct fts_pyre *re, size_t *len);

/*
 * A literal (ASCII, at least 2 bytes) that every string matched by re
 * contains, currently found for patterns starting with `.*` and without a
 * top-level `|`; NULL when none is known.  A cheap memmem() prefilter.
 */
const char *fts_pyre_required(const struct fts_pyre *re, size_t *len);

#endif /* FTS_PYRE_H */
