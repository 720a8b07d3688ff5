/*
 * source.c - file loading and line maps (see source.h).
 */
#include "source.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "arena.h"

void fts_sources_init(struct fts_sources *s)
{
	s->v = NULL;
	s->n = s->cap = 0;
}

void fts_sources_release(struct fts_sources *s)
{
	for (uint32_t i = 0; i < s->n; i++) {
		free(s->v[i].name);
		if (s->v[i].map_len)
			munmap((void *)s->v[i].text, s->v[i].map_len);
		else
			free((void *)s->v[i].text);
		free(s->v[i].lines);
	}
	free(s->v);
	fts_sources_init(s);
}

static void build_lines(struct fts_source *f)
{
	if (f->nlines)
		return;
	size_t cap = 64, n = 0;
	size_t *lines = fts_xmalloc(cap * sizeof(*lines));
	lines[n++] = 0;
	const char *p = f->text, *end = f->text + f->len;
	while ((p = memchr(p, '\n', (size_t)(end - p))) != NULL) {
		if (n == cap) {
			cap *= 2;
			lines = fts_xrealloc(lines, cap * sizeof(*lines));
		}
		p++;
		lines[n++] = (size_t)(p - f->text);
	}
	f->lines = lines;
	f->nlines = n;
}

const size_t *fts_source_lines(const struct fts_source *f, size_t *nlines)
{
	build_lines((struct fts_source *)f);    /* a cache: logically const */
	if (nlines)
		*nlines = f->nlines;
	return f->lines;
}

static uint32_t add_owned(struct fts_sources *s, const char *name, const char *text, size_t len,
			  size_t map_len)
{
	if (s->n == s->cap) {
		s->cap = s->cap ? 2 * s->cap : 4;
		s->v = fts_xrealloc(s->v, s->cap * sizeof(*s->v));
	}
	struct fts_source *f = &s->v[s->n];
	f->name = fts_xstrdup(name);
	f->text = text;
	f->len = len;
	f->map_len = map_len;
	f->lines = NULL;
	f->nlines = 0;
	return s->n++;
}

uint32_t fts_source_add(struct fts_sources *s, const char *name,
			const char *text, size_t len)
{
	char *copy = fts_xmalloc(len + 1);
	memcpy(copy, text, len);
	copy[len] = '\0';
	return add_owned(s, name, copy, len, 0);
}

int fts_source_load(struct fts_sources *s, const char *path, size_t max,
		    uint32_t *id, char *err, size_t errlen)
{
	/* O_NONBLOCK: opening a FIFO must not wait for a writer; it is refused below,
	 * as is anything else that is not a regular file, before any read */
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0) {
		snprintf(err, errlen, "%s", strerror(errno));
		return -1;
	}
	struct stat st;
	if (fstat(fd, &st) != 0) {
		snprintf(err, errlen, "%s", strerror(errno));
		close(fd);
		return -1;
	}
	if (S_ISDIR(st.st_mode)) {
		close(fd);
		snprintf(err, errlen, "is a directory");
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		snprintf(err, errlen, "is not a regular file (%s)", S_ISFIFO(st.st_mode) ? "a FIFO"
			 : S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode) ? "a device" : S_ISSOCK(st.st_mode)
			 ? "a socket" : "not a file");
		return -1;
	}
	if ((unsigned long long)st.st_size > max) {
		close(fd);
		snprintf(err, errlen, "file is too large (%lld bytes; the limit is %zu)", (long long)st.st_size,
			 max);
		return -1;
	}
	(void)fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
	if ((size_t)st.st_size >= FTS_MAP_MIN) {
		/* mapped read only, with a zero byte after the last: the bytes of
		 * the last page past the end are zero, and when the file ends on a
		 * page boundary the page after it is an anonymous (zero) one */
		size_t len = (size_t)st.st_size, pg = (size_t)sysconf(_SC_PAGESIZE);
		size_t map_len = (len / pg + 1) * pg;
		void *area = mmap(NULL, map_len, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (area != MAP_FAILED) {
			void *t = mmap(area, len, PROT_READ, MAP_PRIVATE | MAP_FIXED | MAP_POPULATE, fd, 0);
			if (t != MAP_FAILED) {
				close(fd);
				*id = add_owned(s, path, t, len, map_len);
				return 0;
			}
			munmap(area, map_len);
		}
		/* no mapping: read it */
	}
	FILE *fp = fdopen(fd, "rb");
	if (!fp) {
		snprintf(err, errlen, "%s", strerror(errno));
		close(fd);
		return -1;
	}
	/* read, never mapped: a file truncated under a mapping would kill ftsc with
	 * SIGBUS */
	size_t cap = 65536, len = 0;
	if (st.st_size > 0)
		cap = (size_t)st.st_size + 1;   /* one read; the +1 detects growth */
	/* large inputs (manifests) on transparent huge pages: first touch of
	 * 2 MB pages costs far fewer faults than of 4 KB ones */
	char *buf = fts_xmalloc_big(cap + 1);
	for (;;) {
		if (len == cap) {
			if (cap >= max + 1) {
				free(buf);
				fclose(fp);
				snprintf(err, errlen, "input is too large (the limit is %zu bytes)", max);
				return -1;
			}
			cap = cap * 2 > max + 1 ? max + 1 : cap * 2;
			buf = fts_xrealloc(buf, cap + 1);
		}
		size_t got = fread(buf + len, 1, cap - len, fp);
		len += got;
		if (got == 0)
			break;
	}
	if (ferror(fp)) {
		free(buf);
		fclose(fp);
		snprintf(err, errlen, "read error");
		return -1;
	}
	fclose(fp);
	if (len > max) {
		free(buf);
		snprintf(err, errlen, "input is too large (the limit is %zu bytes)", max);
		return -1;
	}
	buf[len] = '\0';
	*id = add_owned(s, path, buf, len, 0);
	return 0;
}

const struct fts_source *fts_source_get(const struct fts_sources *s, uint32_t id)
{
	return id < s->n ? &s->v[id] : NULL;
}

static size_t line_index(const struct fts_source *f, size_t off)
{
	fts_source_lines(f, NULL);
	size_t lo = 0, hi = f->nlines;
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;
		if (f->lines[mid] <= off)
			lo = mid;
		else
			hi = mid;
	}
	return lo;
}

void fts_source_linecol(const struct fts_source *f, size_t off,
			size_t *line, size_t *col)
{
	if (off > f->len)
		off = f->len;
	size_t li = line_index(f, off);
	size_t c = 0, i = f->lines[li];
	if (i == 0 && f->len >= 3 && memcmp(f->text, "\xef\xbb\xbf", 3) == 0 && off >= 3)
		i = 3;                  /* a byte order mark is no column */
	for (; i < off; i++) {
		unsigned char ch = (unsigned char)f->text[i];
		if (ch == '\t')
			c = (c / 8 + 1) * 8;
		else if ((ch & 0xC0) != 0x80)
			c++;
	}
	*line = li + 1;
	*col = c + 1;
}

size_t fts_source_line_start(const struct fts_source *f, size_t line,
			     size_t *len)
{
	fts_source_lines(f, NULL);
	if (line < 1)
		line = 1;
	if (line > f->nlines)
		line = f->nlines;
	size_t start = f->lines[line - 1];
	if (start == 0 && f->len >= 3 && memcmp(f->text, "\xef\xbb\xbf", 3) == 0)
		start = 3;              /* the byte order mark is not shown */
	size_t end = start;
	while (end < f->len && f->text[end] != '\n')
		end++;
	if (end > start && f->text[end - 1] == '\r')
		end--;
	if (len)
		*len = end - start;
	return start;
}

size_t fts_source_offset_of(const struct fts_source *f, size_t line0,
			    size_t col_chars)
{
	fts_source_lines(f, NULL);
	if (line0 >= f->nlines)
		return f->len;
	size_t off = f->lines[line0];
	while (col_chars > 0 && off < f->len && f->text[off] != '\n') {
		off++;
		while (off < f->len && ((unsigned char)f->text[off] & 0xC0) == 0x80)
			off++;
		col_chars--;
	}
	return off;
}
