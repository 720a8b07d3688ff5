/*
 * source.h - loaded source files, their line maps, and spans.
 *
 * A span is a byte range [start, end) in one loaded file.  Line and column
 * are derived only when a diagnostic is rendered: lines are 1-based,
 * columns are 1-based and count code points, with tab stops every 8
 * columns (the GNU convention).
 */
#ifndef FTS_SOURCE_H
#define FTS_SOURCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct fts_span {
	uint32_t file;                  /* index into fts_sources, or FTS_NOFILE */
	size_t start;                   /* first byte */
	size_t end;                     /* one past the last byte */
};

#define FTS_NOFILE UINT32_MAX
#define FTS_SPAN_NONE ((struct fts_span){FTS_NOFILE, 0, 0})

struct fts_source {
	char *name;                     /* path as given by the user (owned) */
	const char *text;               /* contents, NUL-terminated (owned; read only:
					   a large file is mapped) */
	size_t len;                     /* bytes in text, without the NUL */
	size_t map_len;                 /* bytes mapped at text, or 0 (text is heap) */
	size_t *lines;                  /* byte offset of each line start, built on
					   first use (fts_source_lines()) */
	size_t nlines;                  /* entries in lines[] (0 until built) */
};

struct fts_sources {
	struct fts_source *v;           /* loaded files, by id */
	uint32_t n, cap;
};

/* Largest file ftsc reads; larger inputs are refused before reading. */
#define FTS_MAX_INPUT ((size_t)256 << 20)

/* Largest model manifest: no limit below the memory of any machine (a
 * name's offset has 48 bits, struct fts_mparam); a 5-million-parameter
 * manifest is about 300 MB. */
#define FTS_MAX_MANIFEST (((size_t)1 << 48) - 1)

void fts_sources_init(struct fts_sources *s);
void fts_sources_release(struct fts_sources *s);

/* Add an in-memory text (copied).  Returns the file id. */
uint32_t fts_source_add(struct fts_sources *s, const char *name,
			const char *text, size_t len);

/*
 * Read a file.  On success stores the file id and returns 0.  On failure
 * returns -1 and writes a message (without the file name) into err.
 */
int fts_source_load(struct fts_sources *s, const char *path, size_t max,
		    uint32_t *id, char *err, size_t errlen);

const struct fts_source *fts_source_get(const struct fts_sources *s, uint32_t id);

/*
 * Files of at least this size are mapped, not read (a manifest of millions
 * of lines: no copy, no zeroed pages).  A mapped file that shrinks while
 * ftsc reads it raises SIGBUS, which ftsc reports (main.c).
 */
#define FTS_MAP_MIN ((size_t)1 << 20)

/* f's line table (built on the first call; no source is shared between
 * threads while it is built). */
const size_t *fts_source_lines(const struct fts_source *f, size_t *nlines);

/* 1-based line and column of a byte offset. */
void fts_source_linecol(const struct fts_source *f, size_t off,
			size_t *line, size_t *col);
/* Byte offset of a 1-based line (clamped), and its length without "\n". */
size_t fts_source_line_start(const struct fts_source *f, size_t line,
			     size_t *len);
/* Byte offset from a 0-based line and a 0-based column counted in
 * characters (code points), as libyaml reports marks. */
size_t fts_source_offset_of(const struct fts_source *f, size_t line0,
			      size_t col_chars);

static inline struct fts_span fts_span_make(uint32_t file, size_t start, size_t end)
{
	struct fts_span sp = {file, start, end};
	return sp;
}

static inline bool fts_span_valid(struct fts_span sp)
{
	return sp.file != FTS_NOFILE;
}

#endif /* FTS_SOURCE_H */
