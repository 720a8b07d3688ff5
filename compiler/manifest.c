/*
 * manifest.c - model manifest loader (see manifest.h and ftsc-manifest(5)).
 */
#include "manifest.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static const struct { const char *name; uint32_t size; } dtypes[] = {
	{"float32", 4}, {"float", 4}, {"float64", 8}, {"double", 8},
	{"float16", 2}, {"half", 2}, {"bfloat16", 2},
	{"float8_e4m3fn", 1}, {"float8_e5m2", 1},
	{"int8", 1}, {"uint8", 1}, {"int16", 2}, {"int32", 4}, {"int64", 8},
	{"bool", 1}, {"complex64", 8}, {"complex128", 16},
};

uint32_t fts_dtype_size(const char *dtype, size_t len)
{
	if (len > 6 && strncmp(dtype, "torch.", 6) == 0) {
		dtype += 6;
		len -= 6;
	}
	for (size_t i = 0; i < sizeof(dtypes) / sizeof(dtypes[0]); i++)
		if (strlen(dtypes[i].name) == len && memcmp(dtypes[i].name, dtype, len) == 0)
			return dtypes[i].size;
	return 0;
}

/* Open-addressing hash of names -> index, for duplicates and tied_to. */
struct name_table {
	uint32_t *slot;                 /* index + 1, 0 = empty */
	size_t mask;
};

static uint64_t hash_bytes(const char *s, size_t n)
{
	uint64_t h = 1469598103934665603ULL;
	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)s[i];
		h *= 1099511628211ULL;
	}
	return h ^ (h >> 29);
}

static long table_find_or_add(struct name_table *t, struct fts_mparam *p, uint32_t idx,
			      const char *s, size_t n, bool add)
{
	size_t i = hash_bytes(s, n) & t->mask;
	while (t->slot[i]) {
		struct fts_mparam *q = &p[t->slot[i] - 1];
		if (q->len == n && memcmp(q->name, s, n) == 0)
			return (long)t->slot[i] - 1;
		i = (i + 1) & t->mask;
	}
	if (add)
		t->slot[i] = idx + 1;
	return -1;
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

static bool parse_shape(const struct field *f, struct fts_mparam *mp, const char **why)
{
	mp->ndim = 0;
	mp->numel = 1;
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
		mp->dims[mp->ndim++] = (int64_t)v;
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

static bool valid_name(const char *s, size_t n)
{
	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c <= ' ' || c == 0x7f)
			return false;
	}
	return true;
}

struct fts_manifest *fts_manifest_parse(struct fts_arena *a, struct fts_diags *d,
					uint32_t file)
{
	const struct fts_source *src = fts_source_get(d->src, file);
	const char *text = src->text;
	size_t len = src->len;
	size_t errors0 = d->errors;
	struct fts_manifest *m = fts_arena_alloc(a, sizeof(*m));
	m->path = src->name;

	/* count lines for the allocation */
	size_t maxlines = src->nlines + 1;
	m->p = fts_xmalloc(maxlines * sizeof(*m->p));
	struct name_table t;
	size_t tsize = 16;
	while (tsize < 2 * maxlines)
		tsize *= 2;
	t.slot = fts_xcalloc(tsize, sizeof(*t.slot));
	t.mask = tsize - 1;

	m->typed = len >= 18 && memcmp(text, "# ftsc-manifest v1", 18) == 0 &&
		   (len == 18 || text[18] == '\n' || text[18] == '\r');
	if (!m->typed && len >= 15 && memcmp(text, "# ftsc-manifest", 15) == 0) {
		size_t e = 0;
		while (e < len && text[e] != '\n')
			e++;
		fts_diag(d, FTS_E_MANIFEST, fts_span_make(file, 0, e),
			 "unsupported manifest version (this ftsc reads '# ftsc-manifest v1')");
		goto out;
	}

	size_t pos = 0;
	uint32_t n = 0;
	while (pos < len) {
		size_t ls = pos, le = pos;
		while (le < len && text[le] != '\n')
			le++;
		pos = le + 1;
		size_t e = le;
		if (e > ls && text[e - 1] == '\r')
			e--;
		if (e == ls || text[ls] == '#')
			continue;
		/* split into tab-separated fields */
		struct field f[6];
		int nf = 0;
		size_t s = ls;
		for (size_t i = ls; i <= e; i++) {
			if (i == e || text[i] == '\t') {
				if (nf < 6)
					f[nf] = (struct field){text + s, i - s, s};
				nf++;
				s = i + 1;
			}
		}
		struct fts_mparam *mp = &m->p[n];
		memset(mp, 0, sizeof(*mp));
		mp->span = fts_span_make(file, ls, e);
		mp->tied_to = -1;
		mp->ndim = -1;
		mp->requires_grad = true;
		if (m->typed) {
			if (nf != 5) {
				fts_diag(d, FTS_E_MANIFEST, mp->span,
					 nf < 5 ? "expected 5 tab-separated columns (name, shape, dtype, requires_grad, tied_to), found %d"
						: "expected 5 tab-separated columns, found %d", nf);
				continue;
			}
		} else if (nf != 1) {
			fts_diag(d, FTS_E_MANIFEST, mp->span,
				 "a manifest without the '# ftsc-manifest v1' header lists one parameter name per line");
			continue;
		}
		if (!valid_name(f[0].s, f[0].len)) {
			fts_diag(d, FTS_E_MANIFEST, fspan(file, &f[0]),
				 f[0].len ? "parameter name contains whitespace or control characters"
					  : "empty parameter name");
			continue;
		}
		mp->name = fts_arena_strndup(a, f[0].s, f[0].len);
		mp->len = (uint32_t)f[0].len;
		bool ok = true;
		if (m->typed) {
			const char *why = NULL;
			if (!parse_shape(&f[1], mp, &why)) {
				fts_diag(d, FTS_E_MANIFEST, fspan(file, &f[1]), "malformed shape '%.*s': %s",
					 (int)(f[1].len > 64 ? 64 : f[1].len), f[1].s, why);
				ok = false;
			}
			mp->dtype_size = fts_dtype_size(f[2].s, f[2].len);
			if (!mp->dtype_size) {
				fts_diag(d, FTS_E_MANIFEST, fspan(file, &f[2]), "unknown dtype '%.*s'",
					 (int)(f[2].len > 64 ? 64 : f[2].len), f[2].s);
				ok = false;
			}
			mp->dtype = fts_arena_strndup(a, f[2].s, f[2].len);
			if (f[3].len == 1 && (f[3].s[0] == '0' || f[3].s[0] == '1')) {
				mp->requires_grad = f[3].s[0] == '1';
			} else {
				fts_diag(d, FTS_E_MANIFEST, fspan(file, &f[3]),
					 "requires_grad must be 0 or 1, not '%.*s'",
					 (int)(f[3].len > 64 ? 64 : f[3].len), f[3].s);
				ok = false;
			}
			if (!(f[4].len == 1 && f[4].s[0] == '-')) {
				long tgt = table_find_or_add(&t, m->p, 0, f[4].s, f[4].len, false);
				if (tgt < 0 || m->p[tgt].tied_to >= 0) {
					fts_diag(d, FTS_E_MANIFEST_TIED, fspan(file, &f[4]), "%.*s",
						 (int)(f[4].len > 200 ? 200 : f[4].len), f[4].s, mp->name);
					ok = false;
				} else {
					mp->tied_to = (int32_t)tgt;
				}
			}
		}
		long prev = table_find_or_add(&t, m->p, n, mp->name, mp->len, false);
		if (prev >= 0) {
			struct fts_diag *dg = fts_diag(d, FTS_E_MANIFEST_DUP, fspan(file, &f[0]), mp->name);
			fts_diag_note(d, dg, m->p[prev].span, "first listed here");
			continue;
		}
		if (ok) {
			table_find_or_add(&t, m->p, n, mp->name, mp->len, true);
			n++;
		}
	}
	m->n = n;
	if (n == 0 && d->errors == errors0)
		fts_diag(d, FTS_E_MANIFEST_EMPTY, fts_span_make(file, 0, 0), src->name);
out:
	free(t.slot);
	if (d->errors != errors0) {
		free(m->p);
		return NULL;
	}
	/* move the entries into the arena, build the schedulable index */
	struct fts_mparam *p = fts_arena_alloc(a, (size_t)m->n * sizeof(*p));
	memcpy(p, m->p, (size_t)m->n * sizeof(*p));
	free(m->p);
	m->p = p;
	m->sched = fts_arena_alloc(a, (size_t)m->n * sizeof(*m->sched));
	for (uint32_t i = 0; i < m->n; i++)
		if (m->p[i].tied_to < 0)
			m->sched[m->nsched++] = i;
	return m;
}
