/*
 * manifest.h - the model manifest: every parameter of the model, in
 * registration order, as named_parameters() (plus tied aliases) lists it.
 *
 * Two formats are read:
 *   - ftsc-manifest v1: first line "# ftsc-manifest v1", '#' comment lines,
 *     tab-separated columns name, shape, dtype, requires_grad, tied_to
 *     (see ftsc-manifest(5));
 *   - a plain list, one parameter name per line (shapes unknown).
 * Tied aliases (tied_to != "-") are not schedulable names, as in FTS:
 * named_parameters() lists a shared tensor once, under its first name.
 */
#ifndef FTS_MANIFEST_H
#define FTS_MANIFEST_H

#include <stdbool.h>
#include <stdint.h>

#include "arena.h"
#include "diag.h"

#define FTS_MAX_DIMS 8

/*
 * One manifest line: 20 bytes (500k of them are the largest array).  The
 * name is not NUL-terminated: it is the first len bytes of the line, read
 * in place in the (mapped, read-only) manifest text.  Use the accessors
 * below.
 */
struct fts_mparam {
	uint32_t off;                   /* the line's first byte (the name's) in m->text:
					   bits 0..31 (fts_mp_off()) */
	uint32_t len;                   /* the name's length (the line's end is found when
					   a message needs it: fts_mp_span()) */
	int32_t tied_to;                /* index of the source parameter, or -1 (INT32_MAX until linked) */
	uint32_t shape;                 /* index in m->shapes; FTS_NO_SHAPE when unknown (plain format) */
	uint8_t dtype;                  /* 1 + index of the dtype (fts_dtype_name()), 0 when unknown */
	bool requires_grad;
	uint16_t off_hi;                /* bits 32..47 of the offset */
};

#define FTS_NO_SHAPE UINT32_MAX

/* A distinct shape of the manifest (shapes repeat: one entry each). */
struct fts_mshape {
	uint64_t numel;                 /* product of dims (1 for a scalar) */
	uint32_t dims;                  /* index of the first dimension in m->dims */
	int32_t ndim;                   /* 0 = scalar */
};

/* A tied alias's tied_to column, until fts_manifest_link() resolves it. */
struct fts_manifest_tie {
	uint32_t entry;                 /* the alias */
	const char *target;             /* tied_to text (not NUL-terminated) */
	uint32_t target_len;
	struct fts_span span;           /* the tied_to column */
};

/* The most elements a manifest's parameters may hold in all: 2^60, so that
 * every arena size in bytes (8-byte elements) fits a 64-bit size. */
#define FTS_MANIFEST_MAX_ELEMENTS ((uint64_t)1 << 60)

struct fts_manifest {
	const char *path;
	uint32_t file;                  /* its id in the diagnostics' sources */
	struct fts_mparam *p;           /* every entry, tied aliases included */
	uint32_t n;
	struct fts_mshape *shapes;      /* the distinct shapes */
	uint32_t nshapes;
	int64_t *dims;                  /* the shapes' dimensions, back to back */
	uint32_t *sched;                /* indices of schedulable entries, in order; NULL
					   when every entry is one (use fts_sched()) */
	uint32_t nsched;
	void *name_recs;                /* with tied aliases: (off, len) of sched[], read by
					   the index (heap; freed after the index) */
	struct fts_manifest_tie *ties;  /* tied aliases */
	size_t nties;
	const char *text;               /* the text the names lie in: the source's */
	size_t text_len;
	bool typed;                     /* ftsc-manifest v1 (shapes and dtypes known) */
	bool ascii;                     /* every name is ASCII (names hold no newline) */
	uint32_t *name_hash;            /* fts_names_hash() of each entry's name, and its */
	uint8_t *name_lcp;              /* common prefix with the one before (parsed on two
					   threads; else NULL): for fts_manifest_link(),
					   which frees them */
	uint64_t total_numel;           /* elements of the untied entries, at most
					   FTS_MANIFEST_MAX_ELEMENTS */
};

/*
 * Load and validate a manifest already added to d->src as `file`.
 * Every malformed line is reported (file:line:col); returns NULL when any
 * error was found.  Memory comes from `a`.
 */
struct fts_manifest *fts_manifest_parse(struct fts_arena *a, struct fts_diags *d,
					uint32_t file);

/*
 * Second step: build the resolution index over the schedulable names,
 * report duplicate names and resolve tied_to targets (an earlier, untied
 * entry).  Returns the index (the caller frees it with fts_names_free()
 * and then frees m->name_recs), or NULL after reporting errors.
 */
struct fts_names *fts_manifest_link(struct fts_manifest *m, struct fts_diags *d);

/* Bytes per element of a dtype name, 0 if unknown; *canon gets the
 * canonical spelling (static storage). */
uint32_t fts_dtype_size(const char *dtype, size_t len, const char **canon);

/* The canonical name and the size of dtype code c (struct fts_mparam's
 * dtype); NULL and 0 for 0. */
const char *fts_dtype_name(uint8_t c);
uint32_t fts_dtype_bytes(uint8_t c);

/* The manifest index of schedulable entry i. */
static inline uint32_t fts_sched(const struct fts_manifest *m, uint32_t i)
{
	return m->sched ? m->sched[i] : i;
}

/* --- an entry's fields ------------------------------------------------------- */

/* The name: len bytes, not NUL-terminated (print with "%.*s"). */
/* The line's (and the name's) offset in m->text. */
static inline size_t fts_mp_off(const struct fts_mparam *p)
{
	return (size_t)((uint64_t)p->off_hi << 32 | p->off);
}

static inline const char *fts_mp_name(const struct fts_manifest *m, const struct fts_mparam *p)
{
	return m->text + fts_mp_off(p);
}

/* The whole line (without its "\r\n"), and the name alone, as spans in the
 * manifest file. */
struct fts_span fts_mp_span(const struct fts_manifest *m, const struct fts_mparam *p);

static inline struct fts_span fts_mp_name_span(const struct fts_manifest *m, const struct fts_mparam *p)
{
	return fts_span_make(m->file, fts_mp_off(p), fts_mp_off(p) + p->len);
}

/* Elements (0 when unknown), dimensions (-1 when unknown) and their sizes. */
static inline uint64_t fts_mp_numel(const struct fts_manifest *m, const struct fts_mparam *p)
{
	return p->shape == FTS_NO_SHAPE ? 0 : m->shapes[p->shape].numel;
}

static inline int32_t fts_mp_ndim(const struct fts_manifest *m, const struct fts_mparam *p)
{
	return p->shape == FTS_NO_SHAPE ? -1 : m->shapes[p->shape].ndim;
}

static inline const int64_t *fts_mp_dims(const struct fts_manifest *m, const struct fts_mparam *p)
{
	return p->shape == FTS_NO_SHAPE ? m->dims : m->dims + m->shapes[p->shape].dims;
}

/* The name, NUL-terminated, in a (for messages). */
const char *fts_mp_cname(struct fts_arena *a, const struct fts_manifest *m, const struct fts_mparam *p);

/* The canonical dtype name ("float32"), NULL when unknown, and its size. */
static inline const char *fts_mp_dtype(const struct fts_mparam *p)
{
	return fts_dtype_name(p->dtype);
}

static inline uint32_t fts_mp_dtype_size(const struct fts_mparam *p)
{
	return fts_dtype_bytes(p->dtype);
}

#endif /* FTS_MANIFEST_H */
