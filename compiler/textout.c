/*
 * textout.c - text written piece by piece (see textout.h).
 *
 * Stage: back end helper of the printers and the glob translations.
 */
#include "textout.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "expr.h"

void fts_out_put(struct fts_out *o, const char *s, size_t n)
{
	if (o->n + n + 1 > o->cap) {
		o->cap = (o->n + n + 1) * 2;
		o->p = fts_xrealloc(o->p, o->cap);
	}
	memcpy(o->p + o->n, s, n);
	o->n += n;
	o->p[o->n] = '\0';
}

void fts_out_puts(struct fts_out *o, const char *s)
{
	fts_out_put(o, s, strlen(s));
}

void fts_out_putc(struct fts_out *o, char c)
{
	fts_out_put(o, &c, 1);
}

void fts_out_indent(struct fts_out *o, unsigned n, char ch)
{
	for (unsigned i = 0; i < n; i++)
		fts_out_putc(o, ch);
}

void fts_out_int(struct fts_out *o, long long v)
{
	char buf[64];
	snprintf(buf, sizeof(buf), "%lld", v);
	fts_out_puts(o, buf);
}

void fts_out_float(struct fts_out *o, double f, bool yaml)
{
	char buf[64];
	if (isnan(f)) {
		snprintf(buf, sizeof(buf), "%s", yaml ? ".nan" : "nan");
	} else if (isinf(f)) {
		snprintf(buf, sizeof(buf), "%s%s", f < 0 ? "-" : "", yaml ? ".inf" : "inf");
	} else {
		char r[64];
		fts_float_repr(f, r, sizeof(r));
		char *e = strchr(r, 'e');
		if (e && !memchr(r, '.', (size_t)(e - r)))
			snprintf(buf, sizeof(buf), "%.*s.0%s", (int)(e - r), r, e);
		else
			snprintf(buf, sizeof(buf), "%s", r);
	}
	fts_out_puts(o, buf);
}

char *fts_out_finish(struct fts_out *o, size_t *len)
{
	char *s = fts_arena_strndup(o->a, o->p ? o->p : "", o->n);
	if (len)
		*len = o->n;
	fts_out_free(o);
	return s;
}

void fts_out_free(struct fts_out *o)
{
	free(o->p);
	o->p = NULL;
	o->n = o->cap = 0;
}

void fts_out_lossy(struct fts_out *o, const struct fts_node *n, const char *what,
		   const char *syntax, const char *as)
{
	fts_diag(o->d, FTS_W_DSL_LOSSY, n ? n->span : FTS_SPAN_NONE, what, syntax, as);
}
