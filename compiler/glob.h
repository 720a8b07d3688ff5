/*
 * glob.h - the schedule language's glob selectors and the Python regexes
 * FTS reads, in both directions.
 *
 * Stage: front end (dsl.c lowers each glob selector to the regex FTS
 * matches with re.match) and back end (dsl_emit.c writes a regex entry as
 * a glob when one is provably the same).  Globs: name characters, '.',
 * '*' (within a dotted segment), '**' (across segments), {a,b} and
 * {N..M} (no nesting).  Results live in the caller's arena.
 */
#ifndef FTS_GLOB_H
#define FTS_GLOB_H

#include <stdbool.h>
#include <stddef.h>

#include "arena.h"

/* Most values one {N..M} range may stand for. */
#define FTS_DSL_MAX_RANGE 10000

/* True when text[0..len) contains a glob metacharacter ('*', '{', '}'). */
bool fts_dsl_is_glob(const char *text, size_t len);

/*
 * Lower one glob selector to the Python regex FTS reads.  Returns the
 * regex (arena), the text itself when it has no glob characters (an exact
 * name), or NULL with a reason in *why (static storage).
 */
const char *fts_dsl_glob_to_regex(struct fts_arena *a, const char *glob, size_t len,
				  const char **why);

/*
 * The glob equivalent of an FTS schedule entry used as a regex (re.match,
 * prefix semantics), or NULL when none is provably equivalent.  Recognised:
 * literal name characters and \. \- \_, `.*` (-> **), `[^.]*` (-> *),
 * one-character classes of name characters, (a|b) and (?:a|b) groups of
 * such sequences (-> {a,b}, consecutive integers -> {N..M}), and a final
 * \Z; without \Z the glob gets a trailing **.  A lone `.` (any character)
 * is never converted.  Assumes names hold no newline and are never
 * themselves regexes with metacharacters (torch's dotted names).
 */
const char *fts_dsl_regex_to_glob(struct fts_arena *a, const char *re, size_t len);

#endif /* FTS_GLOB_H */
