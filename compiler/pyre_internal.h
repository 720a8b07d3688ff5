/*
 * pyre_internal.h - what the files of the Python-regex module share; the
 * rest of the compiler uses pyre.h only.
 *
 * Used by pyre.c (the compiled object, matching, lint predicates),
 * pyre_translate.c (Python syntax -> PCRE2 syntax), pyre_uninames.c
 * (\N{NAME} lookup) and pyre_prefix.c (the prefix analyser).  Each piece
 * reads the Python source text on its own; the scanners below are the
 * pieces of Python's syntax that more than one of them needs, written once.
 */
#ifndef FTS_PYRE_INTERNAL_H
#define FTS_PYRE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "pyre.h"

/* ---- ASCII character classes of Python's regex syntax ---- */

static inline bool is_digit(int c) { return c >= '0' && c <= '9'; }
static inline bool is_alpha(int c) { return (c | 0x20) >= 'a' && (c | 0x20) <= 'z'; }
static inline bool is_alnum(int c) { return is_alpha(c) || is_digit(c); }
static inline bool is_word(int c) { return is_alnum(c) || c == '_'; }

/* Python's regex metacharacters `. ^ $ * + ? { } [ ] \ | ( )`. */
static inline bool is_meta(int c)
{
	return c && strchr(".^$*+?{}[]\\|()", c) != NULL;
}

/* ---- scanners (pyre.c) ---- */

/* Decode one UTF-8 sequence at s[0..n); returns its length, 0 if invalid. */
size_t pyre_utf8_decode(const unsigned char *s, size_t n, uint32_t *cp);

/*
 * The offset just after the character class that opens at p[i] (`[`),
 * skipping escapes and a leading `]` as Python does.  An unterminated class
 * gives an offset at or past len.
 */
size_t pyre_class_end(const char *p, size_t len, size_t i);

/*
 * The offset after the element that starts at p[i]: an escape (a backslash
 * and the byte after it), a character class, or one byte.  The elements
 * outside classes are visited with
 * `for (i = 0; i < len; i = pyre_next_element(p, len, i))`.
 */
size_t pyre_next_element(const char *p, size_t len, size_t i);

/*
 * Is there a valid `{m,n}` quantifier at p[i] (Python rules)?  On success
 * fills lo/hi (hi = UINT64_MAX for unbounded) and *endp.
 */
bool pyre_scan_brace(const char *p, size_t len, size_t i, uint64_t *lo, uint64_t *hi, bool *haslo,
		     size_t *endp);

/* ---- translator (pyre_translate.c) ---- */

/* One of Python's inline flag letters `aiLmsux`. */
bool pyre_is_flag(int c);

/* A pattern translated to PCRE2 syntax. */
struct pyre_pcre {
	char *pat;		/* NUL-terminated PCRE2 pattern (malloc) */
	size_t len;		/* its length, the NUL not counted */
	size_t *map;		/* map[k]: offset in the Python source of pat[k] (malloc) */
	bool ascii;		/* a global (?a): compile without PCRE2_UCP */
};

/*
 * Translate the Python pattern pat[0..len) (the rules of fts_pyre_compile).
 * True with *out filled (the caller frees out->pat and out->map); false
 * with Python's message in err[0..errlen) and its offset in *erroff (if
 * erroff != NULL).
 */
bool pyre_translate(const char *pat, size_t len, struct pyre_pcre *out, char *err, size_t errlen,
		    size_t *erroff);

/* ---- \N{NAME} (pyre_uninames.c) ---- */

/* unicodedata.lookup(name[0..n)), case-insensitive; false when unknown. */
bool pyre_uni_lookup(const char *name, size_t n, uint32_t *cp);

/* ---- prefix analyser (pyre_prefix.c) ---- */

/* What the prefix analyser knows of a pattern (see the prefix program in pyre.h). */
struct pyre_prefix {
	struct fts_pyre_branch *br;
	size_t nbr;
	bool dotall;
	struct fts_pyre_elem *pool;	/* storage of all br[].elem */
	char *dlit;		/* `.*LITERAL`: the literal */
	char *req;		/* a literal every match contains, or NULL */
	size_t reqlen;
	size_t dlitlen;
};

/* Analyse src[0..len), a pattern that compiled, into *px (zeroed by the caller). */
void pyre_prefix_build(struct pyre_prefix *px, const char *src, size_t len);

/* Free what pyre_prefix_build() stored in *px. */
void pyre_prefix_free(struct pyre_prefix *px);

#endif /* FTS_PYRE_INTERNAL_H */
