/*
 * textout.h - text written piece by piece: the output of the document
 * printers (dsl_emit.c: the schedule language; yaml_emit.c: YAML) and of
 * the glob <-> regex translations (glob.c).
 *
 * Stage: back end helper.  The text grows on the heap, NUL-terminated
 * after every write, so a writer may look at what it has written so far
 * (glob.c merges adjacent stars that way); fts_out_finish() copies it into
 * the arena and frees the heap copy.  Nothing here is global.
 */
#ifndef FTS_TEXTOUT_H
#define FTS_TEXTOUT_H

#include <stdbool.h>
#include <stddef.h>

#include "arena.h"
#include "ast.h"
#include "diag.h"

struct fts_out {
	char *p;                        /* heap text, NUL-terminated (NULL before the first write) */
	size_t n, cap;                  /* bytes written, bytes allocated */
	struct fts_arena *a;            /* where fts_out_finish puts the text */
	struct fts_diags *d;            /* where fts_out_lossy reports (printers only) */
};

void fts_out_put(struct fts_out *o, const char *s, size_t n);
void fts_out_puts(struct fts_out *o, const char *s);
void fts_out_putc(struct fts_out *o, char c);
/* n copies of ch (an indentation). */
void fts_out_indent(struct fts_out *o, unsigned n, char ch);
/* An integer in decimal. */
void fts_out_int(struct fts_out *o, long long v);
/* A float as Python's repr with a '.' in the mantissa (1.0e-05: YAML 1.1
 * needs it); nan and inf are spelled .nan/.inf when yaml, else nan/inf. */
void fts_out_float(struct fts_out *o, double f, bool yaml);

/* The text, copied into o->a (its length in *len when len is not NULL);
 * the heap copy is freed. */
char *fts_out_finish(struct fts_out *o, size_t *len);
/* Drop the text without keeping it. */
void fts_out_free(struct fts_out *o);

/* FTS_W_DSL_LOSSY: `what` (at n, or nowhere when n is NULL) cannot be
 * written in `syntax`, and is written `as` instead. */
void fts_out_lossy(struct fts_out *o, const struct fts_node *n, const char *what,
		   const char *syntax, const char *as);

#endif /* FTS_TEXTOUT_H */
