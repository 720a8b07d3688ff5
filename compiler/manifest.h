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

struct fts_mparam {
	const char *name;               /* NUL-terminated, in the arena */
	uint32_t len;                   /* strlen(name) */
	int32_t tied_to;                /* index of the source parameter, or -1 */
	int32_t ndim;                   /* -1 when unknown (plain format); 0 = scalar */
	int64_t dims[FTS_MAX_DIMS];
	uint64_t numel;                 /* product of dims (1 for a scalar, 0 if unknown) */
	const char *dtype;              /* "float32", ... or NULL when unknown */
	uint32_t dtype_size;            /* bytes per element, 0 when unknown */
	bool requires_grad;
	struct fts_span span;           /* the line in the manifest file */
};

struct fts_manifest {
	const char *path;
	struct fts_mparam *p;           /* every entry, tied aliases included */
	uint32_t n;
	uint32_t *sched;                /* indices of schedulable entries, in order */
	uint32_t nsched;
	bool typed;                     /* ftsc-manifest v1 (shapes and dtypes known) */
};

/*
 * Load and validate a manifest already added to d->src as `file`.
 * Every malformed line is reported (file:line:col); returns NULL when any
 * error was found.  Memory comes from `a`.
 */
struct fts_manifest *fts_manifest_parse(struct fts_arena *a, struct fts_diags *d,
					uint32_t file);

/* Bytes per element of a dtype name, 0 if unknown. */
uint32_t fts_dtype_size(const char *dtype, size_t len);

#endif /* FTS_MANIFEST_H */
