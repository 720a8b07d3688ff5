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

/* One manifest line: 56 bytes (500k of them are the largest array). */
struct fts_mparam {
	const char *name;               /* NUL-terminated, in the manifest's text */
	const char *dtype;              /* canonical dtype name ("float32"), or NULL when unknown */
	uint64_t numel;                 /* product of dims (1 for a scalar, 0 if unknown) */
	uint32_t len;                   /* strlen(name) */
	int32_t tied_to;                /* index of the source parameter, or -1 (INT32_MAX until linked) */
	int32_t ndim;                   /* -1 when unknown (plain format); 0 = scalar */
	uint32_t dims;                  /* index of the first dimension in fts_manifest.dims */
	struct fts_span span;           /* the line in the manifest file */
	uint8_t dtype_size;             /* bytes per element (at most 16), 0 when unknown */
	bool requires_grad;
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
	struct fts_mparam *p;           /* every entry, tied aliases included */
	uint32_t n;
	int64_t *dims;                  /* every entry's dimensions, back to back */
	uint32_t *sched;                /* indices of schedulable entries, in order */
	uint32_t nsched;
	const char **sched_names;       /* names of sched[], borrowed by the index (heap) */
	struct fts_manifest_tie *ties;  /* tied aliases */
	size_t nties;
	const char *text;               /* the text the names lie in (in the arena) */
	size_t text_len;
	bool typed;                     /* ftsc-manifest v1 (shapes and dtypes known) */
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
 * and then frees m->sched_names), or NULL after reporting errors.
 */
struct fts_names *fts_manifest_link(struct fts_manifest *m, struct fts_diags *d);

/* Bytes per element of a dtype name, 0 if unknown; *canon gets the
 * canonical spelling (static storage). */
uint32_t fts_dtype_size(const char *dtype, size_t len, const char **canon);

#endif /* FTS_MANIFEST_H */
