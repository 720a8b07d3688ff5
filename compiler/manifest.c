/*
 * manifest.c - model manifest loader (see manifest.h and ftsc-manifest(5)).
 *
 * Built for 500,000-parameter manifests: an ftsc-manifest v1 file is split
 * in place, in the loaded source text: names point into it, and once the
 * whole file parsed, the tab after each name becomes its NUL terminator
 * (the source is marked so that messages still show tabs there).  A file
 * that holds NUL bytes of its own, and a plain list (names end at newlines),
 * are copied into the arena and split in the copy instead.  Dimensions go
 * to one flat array.  Duplicate names and tied_to targets are found later,
 * by fts_manifest_link(), through the resolution index (one hash table
 * for both jobs).
 */
#include "manifest.h"

#include <stdlib.h>
#include <string.h>

#include "resolve.h"

#include <pthread.h>

/* one record a parameter: the largest array of a large manifest */
_Static_assert(sizeof(void *) != 8 || sizeof(struct fts_mparam) == 56, "struct fts_mparam grew");

static const struct { const char *name; uint32_t size; } dtypes[] = {
	{"float32", 4}, {"float", 4}, {"float64", 8}, {"double", 8},
	{"float16", 2}, {"half", 2}, {"bfloat16", 2},
	{"float8_e4m3fn", 1}, {"float8_e5m2", 1},
	{"int8", 1}, {"uint8", 1}, {"int16", 2}, {"int32", 4}, {"int64", 8},
	{"bool", 1}, {"complex64", 8}, {"complex128", 16},
};

uint32_t fts_dtype_size(const char *dtype, size_t len, const char **canon)
{
	if (len > 6 && strncmp(dtype, "torch.", 6) == 0) {
		dtype += 6;
		len -= 6;
	}
	for (size_t i = 0; i < sizeof(dtypes) / sizeof(dtypes[0]); i++)
		if (strlen(dtypes[i].name) == len && memcmp(dtypes[i].name, dtype, len) == 0) {
			if (canon)
				*canon = dtypes[i].name;
			return dtypes[i].size;
		}
	return 0;
}

struct field {
	const char *s;
	size_t len;
	size_t off;                     /* byte offset in the file */
};

static struct fts_span fspan(uint32_t file, const struct field *f)
{
	return fts_span_make(file, f->off, f->off + (f->len ? f->len : 1));
}

/* A chunk's dimensions: written straight into the manifest's array (at
 * index base), which has room for cap of them (see dims_bound()). */
struct dims_vec {
	int64_t *v;
	size_t n, cap;
	uint32_t base;
};

/* The most dimensions `lines` lines of `bytes` bytes can hold: at most
 * FTS_MAX_DIMS a line, and each takes a digit and, but the last, an 'x'. */
static size_t dims_bound(size_t lines, size_t bytes)
{
	size_t a = lines * FTS_MAX_DIMS, b = (bytes + lines) / 2 + 1;
	return a < b ? a : b;
}

static bool parse_shape(const struct field *f, struct fts_mparam *mp, struct dims_vec *dv,
			const char **why)
{
	mp->ndim = 0;
	mp->numel = 1;
	mp->dims = dv->base + (uint32_t)dv->n;
	if (f->len == 6 && memcmp(f->s, "scalar", 6) == 0)
		return true;
	size_t i = 0;
	while (i < f->len) {
		if (mp->ndim == FTS_MAX_DIMS) {
			*why = "too many dimensions";
			return false;
		}
		if (f->s[i] < '0' || f->s[i] > '9') {
			*why = "expected dimensions joined by 'x' (such as 768x768), or 'scalar'";
			return false;
		}
		uint64_t v = 0;
		while (i < f->len && f->s[i] >= '0' && f->s[i] <= '9') {
			v = v * 10 + (uint64_t)(f->s[i] - '0');
			if (v > ((uint64_t)1 << 48)) {
				*why = "dimension is too large";
				return false;
			}
			i++;
		}
		if (dv->n == dv->cap) {
			*why = "too many dimensions";    /* not reached: cap is an upper bound */
			return false;
		}
		dv->v[dv->n++] = (int64_t)v;
		mp->ndim++;
		if (mp->numel && v && mp->numel > UINT64_MAX / v) {
			*why = "shape has too many elements";
			return false;
		}
		mp->numel *= v;
		if (i < f->len) {
			if (f->s[i] != 'x' || i + 1 == f->len) {
				*why = "expected dimensions joined by 'x' (such as 768x768), or 'scalar'";
				return false;
			}
			i++;
		}
	}
	if (mp->ndim == 0) {
		*why = "empty shape";
		return false;
	}
	return true;
}

/*
 * Index of the first byte at or after i that is below 0x21 (tab, newline,
 * space, control characters), or len.  Eight bytes at a time: lines are
 * long runs of ordinary characters.
 */
static size_t next_special(const char *s, size_t i, size_t len)
{
	const uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
	while (i + 8 <= len) {
		uint64_t w;
		memcpy(&w, s + i, 8);
		/* bytes < 0x21 have their high bit set in (w - 0x21..21) & ~w */
		uint64_t t = (w - 0x21 * ones) & ~w & highs;
		if (t)
			return i + (size_t)(__builtin_ctzll(t) >> 3);
		i += 8;
	}
	while (i < len && (unsigned char)s[i] >= 0x21)
		i++;
	return i;
}

/* Limit a field's text in messages. */
static int shown(const struct field *f)
{
	return (int)(f->len > 64 ? 64 : f->len);
}

struct tied_vec {
	struct fts_manifest_tie *v;
	size_t n, cap;
};

/* One contiguous range of lines, parsed by one thread. */
struct chunk {
	struct fts_arena *a;            /* for messages; used only when d != NULL */
	struct fts_diags *d;            /* NULL: silent, stop at the first problem */
	uint32_t file;
	const char *src;                /* the source text (read only while parsing) */
	size_t len;                     /* whole text */
	size_t begin, end;              /* byte range of this chunk (whole lines) */
	bool typed;
	struct fts_mparam *p;           /* entries go to p[0..n) */
	uint32_t n;
	struct dims_vec dv;
	struct tied_vec tv;
	bool failed;                    /* silent mode met a problem */
	bool saw_nul;                   /* the range holds a NUL byte */
};

#define REPORT(c, ...) do { \
	if (!(c)->d) { \
		(c)->failed = true; \
		return; \
	} \
	fts_diag((c)->d, __VA_ARGS__); \
} while (0)

static void parse_chunk(struct chunk *c)
{
	const uint32_t file = c->file;
	const size_t len = c->len;
	const char *text = c->src;
	struct fts_arena *a = c->a;

	const char *last_dtype = NULL;
	size_t last_dtype_len = 0;
	uint32_t last_dtype_size = 0;
	const char *last_dtype_canon = NULL;
	size_t pos = c->begin;
	uint32_t n = 0;
	while (pos < c->end) {
		/* one pass over the line: field boundaries, and whether the
		 * first field holds a byte <= ' ' (forbidden in names) */
		size_t ls = pos, i = pos;
		struct field f[6];
		int nf = 0;
		size_t fs = ls;
		bool bad_name = false;
		for (;;) {
			i = next_special(text, i, len);
			unsigned char ch = i < len ? (unsigned char)text[i] : '\n';
			if (ch == 0)
				c->saw_nul = true;
			if (ch == '\n' || ch == '\t') {
				size_t fe = i;
				if (ch == '\n' && fe > fs && text[fe - 1] == '\r')
					fe--;
				if (nf < 6)
					f[nf] = (struct field){text + fs, fe - fs, fs};
				nf++;
				if (ch == '\n')
					break;
				fs = i + 1;
			} else if (nf == 0 && !(ch == '\r' && i + 1 < len && text[i + 1] == '\n')) {
				bad_name = true;        /* space or control byte in the name */
			}
			i++;
		}
		pos = i + 1;
		size_t e = f[nf < 6 ? nf - 1 : 5].off + f[nf < 6 ? nf - 1 : 5].len;
		if (nf > 6)
			e = i > ls && text[i - 1] == '\r' ? i - 1 : i;
		if (e == ls || text[ls] == '#')
			continue;
		struct fts_mparam *mp = &c->p[n];
		memset(mp, 0, sizeof(*mp));
		mp->span = fts_span_make(file, ls, e);
		mp->tied_to = -1;
		mp->ndim = -1;
		mp->requires_grad = true;
		if (c->typed) {
			if (nf != 5) {
				REPORT(c, FTS_E_MANIFEST, mp->span,
				       fts_arena_printf(a, "expected 5 tab-separated columns (name, shape, dtype, "
							"requires_grad, tied_to), found %d", nf));
				continue;
			}
		} else if (nf != 1) {
			REPORT(c, FTS_E_MANIFEST, mp->span,
			       "a manifest without the '# ftsc-manifest v1' header lists one parameter name per line");
			continue;
		}
		if (f[0].len == 0 || bad_name || memchr(f[0].s, 0x7f, f[0].len)) {
			REPORT(c, FTS_E_MANIFEST, fspan(file, &f[0]),
			       f[0].len ? "parameter name contains whitespace or control characters"
					: "empty parameter name");
			continue;
		}
		bool ok = true;
		if (c->typed) {
			const char *why = NULL;
			if (!parse_shape(&f[1], mp, &c->dv, &why)) {
				REPORT(c, FTS_E_MANIFEST, fspan(file, &f[1]),
				       fts_arena_printf(a, "malformed shape '%.*s': %s", shown(&f[1]), f[1].s, why));
				ok = false;
			}
			if (last_dtype && f[2].len == last_dtype_len &&
			    memcmp(f[2].s, last_dtype, last_dtype_len) == 0) {
				mp->dtype_size = (uint8_t)last_dtype_size;
				mp->dtype = last_dtype_canon;
			} else {
				mp->dtype_size = (uint8_t)fts_dtype_size(f[2].s, f[2].len, &mp->dtype);
				if (mp->dtype_size) {
					last_dtype = f[2].s;
					last_dtype_len = f[2].len;
					last_dtype_size = mp->dtype_size;
					last_dtype_canon = mp->dtype;
				}
			}
			if (!mp->dtype_size) {
				REPORT(c, FTS_E_MANIFEST, fspan(file, &f[2]),
				       fts_arena_printf(a, "unknown dtype '%.*s'", shown(&f[2]), f[2].s));
				ok = false;
			}
			if (f[3].len == 1 && (f[3].s[0] == '0' || f[3].s[0] == '1')) {
				mp->requires_grad = f[3].s[0] == '1';
			} else {
				REPORT(c, FTS_E_MANIFEST, fspan(file, &f[3]),
				       fts_arena_printf(a, "requires_grad must be 0 or 1, not '%.*s'",
							shown(&f[3]), f[3].s));
				ok = false;
			}
			if (!(f[4].len == 1 && f[4].s[0] == '-')) {
				/* resolved by fts_manifest_link() */
				struct fts_manifest_tie tie = {n, f[4].s, (uint32_t)f[4].len, fspan(file, &f[4])};
				FTS_VEC_PUSH(c->tv, tie);
				mp->tied_to = INT32_MAX;
			}
		}
		/* NUL-terminated once the whole file parsed */
		mp->name = text + f[0].off;
		mp->len = (uint32_t)f[0].len;
		if (ok)
			n++;
		else if (c->tv.n && c->tv.v[c->tv.n - 1].entry == n)
			c->tv.n--;
	}
	c->n = n;
}

static void *chunk_thread(void *arg)
{
	parse_chunk(arg);
	return NULL;
}

static void chunk_release(struct chunk *c)
{
	FTS_VEC_FREE(c->tv);
}

struct fts_manifest *fts_manifest_parse(struct fts_arena *a, struct fts_diags *d,
					uint32_t file)
{
	const struct fts_source *src = fts_source_get(d->src, file);
	size_t len = src->len;
	size_t errors0 = d->errors;
	struct fts_manifest *m = fts_arena_alloc(a, sizeof(*m));
	m->path = src->name;

	m->typed = len >= 18 && memcmp(src->text, "# ftsc-manifest v1", 18) == 0 &&
		   (len == 18 || src->text[18] == '\n' || src->text[18] == '\r');
	if (!m->typed && len >= 15 && memcmp(src->text, "# ftsc-manifest", 15) == 0) {
		size_t e = 0;
		while (e < len && src->text[e] != '\n')
			e++;
		fts_diag(d, FTS_E_MANIFEST, fts_span_make(file, 0, e),
			 "unsupported manifest version (this ftsc reads '# ftsc-manifest v1')");
		return NULL;
	}

	size_t maxlines = (size_t)src->nlines + 1;
	struct fts_mparam *p = fts_arena_alloc_raw(a, maxlines * sizeof(*p));
	/* dimensions go straight to their final array, sized by a bound (only
	 * the pages written are ever touched); the second half's at an offset */
	uint32_t mid = src->nlines / 2;
	size_t cap0 = dims_bound(mid, src->lines[mid]);
	size_t cap1 = dims_bound(src->nlines - mid, len - src->lines[mid]);
	size_t capall = dims_bound(src->nlines, len);
	if (capall < cap0 + cap1)
		capall = cap0 + cap1;
	int64_t *dims = fts_arena_alloc_raw(a, (capall + 1) * sizeof(*dims));
	const struct dims_vec dv_all = {dims, 0, capall, 0};
	struct chunk c[2];
	for (int k = 0; k < 2; k++)
		c[k] = (struct chunk){a, NULL, file, src->text, len, 0, len, m->typed,
				      p, 0, dv_all, {0}, false, false};

	/* large manifests: two halves on two threads, silently; any problem
	 * and the whole file is parsed again, on one thread, with messages */
	bool done = false;
	if (src->nlines >= 100000) {
		c[0].end = c[1].begin = src->lines[mid];
		c[1].p = p + mid;
		c[0].dv.cap = cap0;
		c[1].dv = (struct dims_vec){dims + cap0, 0, cap1, (uint32_t)cap0};
		pthread_t th;
		if (pthread_create(&th, NULL, chunk_thread, &c[1]) == 0) {
			parse_chunk(&c[0]);
			pthread_join(th, NULL);
			done = !c[0].failed && !c[1].failed;
			if (done) {
				/* append the second half's entries and ties (its
				 * dims stay where they are) */
				memmove(p + c[0].n, c[1].p, (size_t)c[1].n * sizeof(*p));
				for (size_t i = 0; i < c[1].tv.n; i++) {
					struct fts_manifest_tie t = c[1].tv.v[i];
					t.entry += c[0].n;
					FTS_VEC_PUSH(c[0].tv, t);
				}
				c[0].n += c[1].n;
				c[0].saw_nul |= c[1].saw_nul;
			}
			chunk_release(&c[1]);
			if (!done) {
				chunk_release(&c[0]);
				c[0] = (struct chunk){a, NULL, file, src->text, len, 0, len,
						      m->typed, p, 0, dv_all, {0}, false, false};
			}
		}
	}
	if (!done) {
		c[0].d = d;
		parse_chunk(&c[0]);
	}
	m->n = c[0].n;
	if (m->n == 0 && d->errors == errors0)
		fts_diag(d, FTS_E_MANIFEST_EMPTY, fts_span_make(file, 0, 0), src->name);
	if (d->errors != errors0) {
		chunk_release(&c[0]);
		return NULL;
	}
	m->ties = fts_arena_alloc(a, (c[0].tv.n + 1) * sizeof(*m->ties));
	if (c[0].tv.n)
		memcpy(m->ties, c[0].tv.v, c[0].tv.n * sizeof(*m->ties));
	m->nties = c[0].tv.n;
	m->p = p;
	/* the names' text: the source itself (NUL bytes in it then stand for
	 * the tabs after the names), or a private copy */
	char *text = src->text;
	if (!m->typed || c[0].saw_nul) {
		text = fts_arena_alloc_raw(a, len + 1);
		memcpy(text, src->text, len + 1);
		for (uint32_t i = 0; i < m->n; i++)
			p[i].name = text + (p[i].name - src->text);
	} else {
		d->src->v[file].nul_tabs = true;
	}
	for (uint32_t i = 0; i < m->n; i++)
		text[p[i].name - text + p[i].len] = '\0';
	m->text = text;
	m->text_len = len;
	m->dims = dims;
	chunk_release(&c[0]);
	m->sched = fts_arena_alloc(a, ((size_t)m->n + 1) * sizeof(*m->sched));
	for (uint32_t i = 0; i < m->n; i++)
		if (p[i].tied_to < 0)
			m->sched[m->nsched++] = i;
	/* the elements the runtime's arenas hold (tied entries share storage): every
	 * sum and its bytes must fit, with room for 8-byte elements */
	uint64_t total = 0;
	for (uint32_t i = 0; i < m->n; i++) {
		if (p[i].tied_to >= 0)
			continue;
		if (__builtin_add_overflow(total, p[i].numel, &total) || total > FTS_MANIFEST_MAX_ELEMENTS) {
			struct fts_span sp = p[i].span;
			sp.end = sp.start + p[i].len;
			fts_diag(d, FTS_E_MANIFEST, sp, fts_arena_printf(a, "the parameters up to '%s' hold more "
				 "than 2^60 elements in all, more than a plan or a run can address", p[i].name));
			return NULL;
		}
	}
	m->total_numel = total;
	return m;
}

struct fts_names *fts_manifest_link(struct fts_manifest *m, struct fts_diags *d)
{
	size_t errors0 = d->errors;
	const char **nm = fts_xmalloc_big(((size_t)m->nsched + 1) * sizeof(*nm));
	size_t *nl = fts_xmalloc_big(((size_t)m->nsched + 1) * sizeof(*nl));
	for (uint32_t i = 0; i < m->nsched; i++) {
		nm[i] = m->p[m->sched[i]].name;
		nl[i] = m->p[m->sched[i]].len;
	}
	/* the index borrows nm[] until fts_names_free(): keep it in m */
	m->sched_names = nm;
	struct fts_names *ix = fts_names_new(nm, nl, m->nsched);
	free(nl);
	fts_names_set_text(ix, m->text, m->text_len);

	const uint32_t *dup;
	size_t ndup = fts_names_duplicates(ix, &dup);
	/* a flood of duplicates: the first ones, then a count */
	enum { MAX_DUP_REPORTS = 20 };
	if (ndup > MAX_DUP_REPORTS) {
		const struct fts_mparam *more = &m->p[m->sched[dup[2 * MAX_DUP_REPORTS]]];
		struct fts_span sp = more->span;
		sp.end = sp.start + more->len;
		char msg[160];
		snprintf(msg, sizeof(msg), "and %zu more duplicate parameter names from here on (the first %d "
			 "are shown)", ndup - MAX_DUP_REPORTS, (int)MAX_DUP_REPORTS);
		fts_diag(d, FTS_E_MANIFEST_DUP_MORE, sp, msg);
	}
	for (size_t k = 0; k < ndup && k < MAX_DUP_REPORTS; k++) {
		const struct fts_mparam *later = &m->p[m->sched[dup[2 * k]]];
		const struct fts_mparam *first = &m->p[m->sched[dup[2 * k + 1]]];
		struct fts_span sp = later->span;
		sp.end = sp.start + later->len;
		struct fts_diag *dg = fts_diag(d, FTS_E_MANIFEST_DUP, sp, later->name);
		fts_diag_note(d, dg, first->span, "first listed here");
	}
	/* tied aliases: the target is an earlier untied entry; an alias name
	 * may not repeat a parameter name or another alias */
	for (size_t k = 0; k < m->nties; k++) {
		struct fts_manifest_tie *t = &m->ties[k];
		struct fts_mparam *mp = &m->p[t->entry];
		long tgt = fts_names_find(ix, t->target, t->target_len);
		if (tgt < 0 || m->sched[tgt] > t->entry) {
			char buf[208];
			snprintf(buf, sizeof(buf), "%.*s", (int)(t->target_len > 200 ? 200 : t->target_len),
				 t->target);
			fts_diag(d, FTS_E_MANIFEST_TIED, t->span, buf, mp->name);
			continue;
		}
		mp->tied_to = (int32_t)m->sched[tgt];
		const struct fts_mparam *first = NULL;
		long same = fts_names_find(ix, mp->name, mp->len);
		if (same >= 0)
			first = &m->p[m->sched[same]];
		for (size_t j = 0; !first && j < k; j++) {
			const struct fts_mparam *q = &m->p[m->ties[j].entry];
			if (q->len == mp->len && memcmp(q->name, mp->name, mp->len) == 0)
				first = q;
		}
		if (first) {
			struct fts_span sp = mp->span;
			sp.end = sp.start + mp->len;
			struct fts_diag *dg = fts_diag(d, FTS_E_MANIFEST_DUP, sp, mp->name);
			fts_diag_note(d, dg, first->span, "first listed here");
		}
	}
	if (d->errors != errors0) {
		fts_names_free(ix);
		return NULL;
	}
	return ix;
}
