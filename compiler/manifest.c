/*
 * manifest.c - model manifest loader (see manifest.h and ftsc-manifest(5)).
 *
 * Built for manifests of millions of lines: the file is read in place (a
 * large one is mapped read only, source.c), each line becomes a 24-byte
 * record that points into the text (names are not copied, nor
 * NUL-terminated), and each distinct shape is parsed once, into a small
 * table (a manifest repeats a few hundred shapes).  A large file is split
 * in two halves at a line boundary and parsed on two threads, silently;
 * any problem and it is parsed again on one thread with messages.
 * Duplicate names and tied_to targets are found later, by
 * fts_manifest_link(), through the resolution index.
 */
#include "manifest.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "resolve.h"

#include <pthread.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif
#include <sys/mman.h>
#include <unistd.h>

/* one record a parameter: the largest array of a large manifest */
_Static_assert(sizeof(struct fts_mparam) == 20, "struct fts_mparam grew");

static const struct { const char *name; uint32_t size; } dtypes[] = {
	{"float32", 4}, {"float", 4}, {"float64", 8}, {"double", 8},
	{"float16", 2}, {"half", 2}, {"bfloat16", 2},
	{"float8_e4m3fn", 1}, {"float8_e5m2", 1},
	{"int8", 1}, {"uint8", 1}, {"int16", 2}, {"int32", 4}, {"int64", 8},
	{"bool", 1}, {"complex64", 8}, {"complex128", 16},
};

#define NDTYPES (sizeof(dtypes) / sizeof(dtypes[0]))
_Static_assert(NDTYPES < 255, "dtype codes are bytes");

/* 1 + the index of a dtype name in dtypes[], 0 if unknown. */
static uint8_t dtype_code(const char *dtype, size_t len)
{
	if (len > 6 && strncmp(dtype, "torch.", 6) == 0) {
		dtype += 6;
		len -= 6;
	}
	for (size_t i = 0; i < NDTYPES; i++)
		if (strlen(dtypes[i].name) == len && memcmp(dtypes[i].name, dtype, len) == 0)
			return (uint8_t)(i + 1);
	return 0;
}

const char *fts_dtype_name(uint8_t c)
{
	return c && c <= NDTYPES ? dtypes[c - 1].name : NULL;
}

uint32_t fts_dtype_bytes(uint8_t c)
{
	return c && c <= NDTYPES ? dtypes[c - 1].size : 0;
}

uint32_t fts_dtype_size(const char *dtype, size_t len, const char **canon)
{
	uint8_t c = dtype_code(dtype, len);
	if (c && canon)
		*canon = fts_dtype_name(c);
	return fts_dtype_bytes(c);
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

/*
 * Parse a shape field ("768x768", "scalar") into dims[0..*ndim) and *numel;
 * false with *why on a malformed one.
 */
static bool parse_shape(const struct field *f, int64_t *dims, int32_t *ndim, uint64_t *numel,
			const char **why)
{
	*ndim = 0;
	*numel = 1;
	if (f->len == 6 && memcmp(f->s, "scalar", 6) == 0)
		return true;
	size_t i = 0;
	while (i < f->len) {
		if (*ndim == FTS_MAX_DIMS) {
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
		dims[(*ndim)++] = (int64_t)v;
		if (*numel && v && *numel > UINT64_MAX / v) {
			*why = "shape has too many elements";
			return false;
		}
		*numel *= v;
		if (i < f->len) {
			if (f->s[i] != 'x' || i + 1 == f->len) {
				*why = "expected dimensions joined by 'x' (such as 768x768), or 'scalar'";
				return false;
			}
			i++;
		}
	}
	if (*ndim == 0) {
		*why = "empty shape";
		return false;
	}
	return true;
}

/* --- one chunk's distinct shapes, by their text ------------------------------ */

struct shape_slot {
	const char *s;                  /* the shape's text, in the manifest */
	uint32_t len;
	uint32_t id;                    /* index in shapes.v */
};

struct shape_tab {
	struct shape_slot *slot;        /* open addressing, cap a power of two */
	size_t cap;
	FTS_VEC(struct fts_mshape) shapes;
	FTS_VEC(struct shape_slot) text;        /* each shape's text, by id */
	FTS_VEC(int64_t) dims;
};

static uint64_t load8(const char *s)
{
	uint64_t w;
	memcpy(&w, s, 8);
	return w;
}

/* s[0..n) == t[0..n), inline for the short fields of a manifest line (no
 * byte outside either range is read). */
static inline bool text_eq(const char *s, const char *t, size_t n)
{
	if (n >= 8 && n <= 16)
		return load8(s) == load8(t) && load8(s + n - 8) == load8(t + n - 8);
	return memcmp(s, t, n) == 0;
}

static uint64_t text_hash(const char *s, size_t n)
{
	if (n >= 8 && n <= 16) {        /* a shape such as 4096x14336: two words */
		uint64_t h = (load8(s) ^ (load8(s + n - 8) * 0x9e3779b97f4a7c15ULL) ^ n) * 0xff51afd7ed558ccdULL;
		return h ^ (h >> 29);
	}
	uint64_t h = 0xcbf29ce484222325ULL;     /* FNV-1a */
	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)s[i]) * 0x100000001b3ULL;
	return h;
}

/* The slot of s[0..n) in t: the one holding it, or the empty one where it goes. */
static struct shape_slot *shape_slot(const struct shape_tab *t, const char *s, size_t n)
{
	size_t i = (size_t)text_hash(s, n) & (t->cap - 1);
	while (t->slot[i].s && !(t->slot[i].len == n && text_eq(t->slot[i].s, s, n)))
		i = (i + 1) & (t->cap - 1);
	return &t->slot[i];
}

static void shape_grow(struct shape_tab *t)
{
	struct shape_slot *old = t->slot;
	size_t oldcap = t->cap;
	t->cap = t->cap ? 2 * t->cap : 256;
	t->slot = fts_xcalloc(t->cap, sizeof(*t->slot));
	for (size_t i = 0; i < oldcap; i++)
		if (old[i].s)
			*shape_slot(t, old[i].s, old[i].len) = old[i];
	free(old);
}

/* Add a parsed shape under its text: its id. */
static uint32_t shape_add(struct shape_tab *t, const char *s, size_t n, const int64_t *dims, int32_t ndim,
			  uint64_t numel)
{
	if (2 * (t->shapes.n + 1) > t->cap)
		shape_grow(t);
	uint32_t id = (uint32_t)t->shapes.n;
	struct fts_mshape sh = {numel, (uint32_t)t->dims.n, ndim};
	for (int32_t k = 0; k < ndim; k++)
		FTS_VEC_PUSH(t->dims, dims[k]);
	FTS_VEC_PUSH(t->shapes, sh);
	struct shape_slot sl = {s, (uint32_t)n, id};
	FTS_VEC_PUSH(t->text, sl);
	*shape_slot(t, s, n) = sl;
	return id;
}

/* The id of the shape field f in t (parsed and added on its first
 * occurrence); false with *why when it is malformed. */
static bool shape_get(struct shape_tab *t, const struct field *f, uint32_t *id, const char **why)
{
	if (t->cap) {
		const struct shape_slot *sl = shape_slot(t, f->s, f->len);
		if (sl->s) {
			*id = sl->id;
			return true;
		}
	}
	int64_t dims[FTS_MAX_DIMS];
	int32_t ndim;
	uint64_t numel;
	if (!parse_shape(f, dims, &ndim, &numel, why))
		return false;
	*id = shape_add(t, f->s, f->len, dims, ndim, numel);
	return true;
}

static void shape_release(struct shape_tab *t)
{
	free(t->slot);
	t->slot = NULL;
	t->cap = 0;
	FTS_VEC_FREE(t->shapes);
	FTS_VEC_FREE(t->text);
	FTS_VEC_FREE(t->dims);
}

/*
 * Index of the first byte at or after i that is below 0x21 (tab, newline,
 * space, control characters) or DEL, or len.  Eight bytes at a time: lines are
 * long runs of ordinary characters.
 */
static size_t next_special(const char *s, size_t i, size_t len, uint64_t *seen)
{
	const uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
	while (i + 8 <= len) {
		uint64_t w;
		memcpy(&w, s + i, 8);
		*seen |= w;             /* the high bits: a byte over 0x7f was read */
		/* bytes < 0x21 have their high bit set in (w - 0x21..21) & ~w,
		 * and DEL (0x7f, forbidden in names too) in the same test of
		 * w ^ 0x7f..7f (the lowest flagged byte is always a real one) */
		uint64_t x = w ^ (0x7f * ones);
		uint64_t t = ((w - 0x21 * ones) & ~w & highs) | ((x - ones) & ~x & highs);
		if (t)
			return i + (size_t)(__builtin_ctzll(t) >> 3);
		i += 8;
	}
	while (i < len && (unsigned char)s[i] >= 0x21 && (unsigned char)s[i] != 0x7f)
		*seen |= (unsigned char)s[i++];
	return i;
}

#ifdef __SSE2__
/* Bit k: byte s[k] is special (as for next_special()), for k < 64. */
static inline uint64_t special_mask64(const char *s, uint64_t *seen)
{
	const __m128i sp = _mm_set1_epi8(0x20), del = _mm_set1_epi8(0x7f);
	uint64_t m = 0;
	unsigned hi = 0;
	for (int k = 0; k < 4; k++) {
		__m128i v = _mm_loadu_si128((const __m128i *)(const void *)(s + 16 * k));
		/* unsigned v <= 0x20: max(v, 0x20) == 0x20 */
		__m128i t = _mm_or_si128(_mm_cmpeq_epi8(_mm_max_epu8(v, sp), sp), _mm_cmpeq_epi8(v, del));
		m |= (uint64_t)(unsigned)_mm_movemask_epi8(t) << (16 * k);
		hi |= (unsigned)_mm_movemask_epi8(v);
	}
	if (hi)
		*seen |= 0x8080808080808080ULL;         /* a byte over 0x7f was read */
	return m;
}
#endif

/* Limit a field's text in messages. */
static int shown(const struct field *f)
{
	return (int)(f->len > 64 ? 64 : f->len);
}

struct tied_vec {
	struct fts_manifest_tie *v;
	size_t n, cap;
};

/* Whether the line starting at b (before e) may be an entry: not empty,
 * not a comment. */
static inline bool may_be_entry(const char *text, size_t b, size_t e)
{
	return b < e && text[b] != '\n' && text[b] != '#' &&
	       !(text[b] == '\r' && (b + 1 == e || text[b + 1] == '\n'));
}

/* Lines of text[b, e) that may be entries (an upper bound on the entries
 * parse_chunk finds there): the newlines found eight bytes at a time,
 * the byte after each one looked at. */
static size_t count_entries(const char *text, size_t b, size_t e)
{
	const uint64_t ones = 0x0101010101010101ULL, lows = 0x7f7f7f7f7f7f7f7fULL;
	size_t n = may_be_entry(text, b, e), i = b;
	for (; i + 8 <= e; i += 8) {
		uint64_t w = load8(text + i) ^ (0x0a * ones);
		/* exactly the zero bytes (the newlines) get their high bit */
		uint64_t z = ~(((w & lows) + lows) | w | lows);
		while (z) {
			size_t at = i + (size_t)(__builtin_ctzll(z) >> 3);
			n += may_be_entry(text, at + 1, e);
			z &= z - 1;
		}
	}
	for (; i < e; i++)
		if (text[i] == '\n')
			n += may_be_entry(text, i + 1, e);
	return n;
}

/* One contiguous range of lines, parsed by one thread. */
struct chunk {
	struct fts_arena *a;            /* for messages; used only when d != NULL */
	struct fts_diags *d;            /* NULL: silent, stop at the first problem */
	uint32_t file;
	const char *src;                /* the source text */
	size_t len;                     /* whole text */
	size_t begin, end;              /* byte range of this chunk (whole lines) */
	bool typed;
	struct fts_mparam *p;           /* entries go to p[0..n), n <= cap */
	uint32_t *hash;                 /* and, when not NULL, their names' fts_names_hash() */
	uint8_t *lcp;                   /* and common prefixes with the name before */
	size_t cap;
	uint32_t n;
	struct shape_tab shapes;
	struct tied_vec tv;
	bool failed;                    /* silent mode met a problem */
	bool ascii;                     /* every byte the parse read is ASCII */
};

#define REPORT(c, ...) do { \
	if (!(c)->d) { \
		(c)->failed = true; \
		return; \
	} \
	fts_diag((c)->d, __VA_ARGS__); \
} while (0)

/* Names (and tied_to targets) are at most this long: lengths are 32-bit. */
#define NAME_MAX_LEN ((size_t)UINT32_MAX - 1)

static void parse_chunk(struct chunk *c)
{
	const uint32_t file = c->file;
	const size_t len = c->len;
	const char *text = c->src;
	struct fts_arena *a = c->a;

	const char *last_dtype = NULL;
	size_t last_dtype_len = 0;
	uint8_t last_dtype_code = 0;
	size_t pos = c->begin;
	uint32_t n = 0;
	uint64_t seen = 0;              /* every word next_special read, OR-ed */
	const char *prev = NULL;        /* the last entry's name */
	size_t prevlen = 0;
	while (pos < c->end) {
		/* one pass over the line: field boundaries, and whether the
		 * first field holds a byte <= ' ' (forbidden in names) */
		size_t ls = pos, i = pos;
		struct field f[6];
		int nf = 0;
		size_t fs = ls;
		bool bad_name = false;
		size_t nl_at;
/* the special byte at i: a field ends at a tab, the line at a newline */
#define SPECIAL(i) do { \
	unsigned char ch_ = (i) < len ? (unsigned char)text[i] : '\n'; \
	if (ch_ == '\n' || ch_ == '\t') { \
		size_t fe_ = (i); \
		if (ch_ == '\n' && fe_ > fs && text[fe_ - 1] == '\r') \
			fe_--; \
		if (nf < 6) \
			f[nf] = (struct field){text + fs, fe_ - fs, fs}; \
		nf++; \
		if (ch_ == '\n') { \
			nl_at = (i); \
			goto line_end; \
		} \
		fs = (i) + 1; \
	} else if (nf == 0 && !(ch_ == '\r' && (i) + 1 < len && text[(i) + 1] == '\n')) { \
		bad_name = true;        /* space or control byte in the name */ \
	} \
} while (0)
		for (;;) {
#ifdef __SSE2__
			/* a line's tabs and newline from one mask of 64 bytes: no
			 * branch on where a field ends */
			while (i + 64 <= len) {
				uint64_t msk = special_mask64(text + i, &seen);
				for (; msk; msk &= msk - 1) {
					size_t at = i + (size_t)__builtin_ctzll(msk);
					SPECIAL(at);
				}
				i += 64;
			}
#endif
			i = next_special(text, i, len, &seen);
			SPECIAL(i);
			i++;
		}
line_end:
#undef SPECIAL
		i = nl_at;              /* the newline (or len) */
		pos = i + 1;
		size_t e = f[nf < 6 ? nf - 1 : 5].off + f[nf < 6 ? nf - 1 : 5].len;
		if (nf > 6)
			e = i > ls && text[i - 1] == '\r' ? i - 1 : i;
		if (e == ls || text[ls] == '#')
			continue;
		if (n == c->cap) {              /* not reached: cap counts the lines */
			c->failed = true;
			return;
		}
		struct fts_mparam *mp = &c->p[n];
		*mp = (struct fts_mparam){(uint32_t)ls, (uint32_t)f[0].len, -1, FTS_NO_SHAPE, 0, true,
					  (uint16_t)((uint64_t)ls >> 32)};
		struct fts_span line = fts_span_make(file, ls, e);
		if (c->typed) {
			if (nf != 5) {
				REPORT(c, FTS_E_MANIFEST, line,
				       fts_arena_printf(a, "expected 5 tab-separated columns (name, shape, dtype, "
							"requires_grad, tied_to), found %d", nf));
				continue;
			}
		} else if (nf != 1) {
			REPORT(c, FTS_E_MANIFEST, line,
			       "a manifest without the '# ftsc-manifest v1' header lists one parameter name per line");
			continue;
		}
		if (f[0].len == 0 || bad_name) {        /* bad_name: a DEL too (next_special) */
			REPORT(c, FTS_E_MANIFEST, fspan(file, &f[0]),
			       f[0].len ? "parameter name contains whitespace or control characters"
					: "empty parameter name");
			continue;
		}
		if (f[0].len > NAME_MAX_LEN || (c->typed && f[4].len > NAME_MAX_LEN)) {
			struct field *bad = f[0].len > NAME_MAX_LEN ? &f[0] : &f[4];
			struct fts_span sp = fts_span_make(file, bad->off, bad->off + 1);
			REPORT(c, FTS_E_MANIFEST, sp, "a parameter name of 4 GiB or more");
			continue;
		}
		bool ok = true;
		if (c->typed) {
			const char *why = NULL;
			if (!shape_get(&c->shapes, &f[1], &mp->shape, &why)) {
				REPORT(c, FTS_E_MANIFEST, fspan(file, &f[1]),
				       fts_arena_printf(a, "malformed shape '%.*s': %s", shown(&f[1]), f[1].s, why));
				ok = false;
			}
			if (last_dtype && f[2].len == last_dtype_len && text_eq(f[2].s, last_dtype, last_dtype_len)) {
				mp->dtype = last_dtype_code;
			} else {
				mp->dtype = dtype_code(f[2].s, f[2].len);
				if (mp->dtype) {
					last_dtype = f[2].s;
					last_dtype_len = f[2].len;
					last_dtype_code = mp->dtype;
				}
			}
			if (!mp->dtype) {
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
		if (ok) {
			if (c->hash) {
				/* for the name index, while the name is in the cache */
				c->hash[n] = fts_names_hash(f[0].s, f[0].len);
				c->lcp[n] = prev ? fts_names_common_prefix(prev, prevlen, f[0].s, f[0].len) : 0;
				prev = f[0].s;
				prevlen = f[0].len;
			}
			n++;
		} else if (c->tv.n && c->tv.v[c->tv.n - 1].entry == n) {
			c->tv.n--;
		}
	}
	c->n = n;
	/* names hold no byte below 0x21 (checked above); none over 0x7f either? */
	c->ascii = !(seen & 0x8080808080808080ULL);
}

static void *chunk_thread(void *arg)
{
	struct chunk *c = arg;
	if (!c->p) {                    /* first call: count */
		c->cap = count_entries(c->src, c->begin, c->end);
		return NULL;
	}
	parse_chunk(c);
	return NULL;
}

static void chunk_release(struct chunk *c)
{
	FTS_VEC_FREE(c->tv);
	shape_release(&c->shapes);
}

/* A chunk over text[begin, end) (entries into p[0..cap)). */
static struct chunk chunk_make(struct fts_arena *a, const struct fts_source *src, uint32_t file, bool typed,
			       size_t begin, size_t end)
{
	struct chunk c;
	memset(&c, 0, sizeof(c));
	c.a = a;
	c.file = file;
	c.src = src->text;
	c.len = src->len;
	c.begin = begin;
	c.end = end;
	c.typed = typed;
	return c;
}

/*
 * Append chunk b's entries, ties and shapes to chunk a's (b's entries lie
 * at a.p + a.cap): b's shapes are looked up in a's table by their text,
 * the new ones added, and b's entries renumbered.
 */
static bool merge(struct chunk *a, struct chunk *b)
{
	uint32_t *map = fts_xmalloc((b->shapes.shapes.n + 1) * sizeof(*map));
	for (size_t k = 0; k < b->shapes.shapes.n; k++) {
		const struct shape_slot *t = &b->shapes.text.v[k];
		const struct fts_mshape *sh = &b->shapes.shapes.v[k];
		const struct shape_slot *sl = a->shapes.cap ? shape_slot(&a->shapes, t->s, t->len) : NULL;
		map[k] = sl && sl->s ? sl->id : shape_add(&a->shapes, t->s, t->len, b->shapes.dims.v + sh->dims,
							  sh->ndim, sh->numel);
	}
	struct fts_mparam *dst = a->p + a->n;
	if (dst != b->p)
		memmove(dst, b->p, (size_t)b->n * sizeof(*dst));
	if (a->hash && b->n) {
		memmove(a->hash + a->n, b->hash, (size_t)b->n * sizeof(*b->hash));
		memmove(a->lcp + a->n, b->lcp, b->n);
		if (a->n) {
			const struct fts_mparam *x = &a->p[a->n - 1], *y = &a->p[a->n];
			a->lcp[a->n] = fts_names_common_prefix(a->src + fts_mp_off(x), x->len, a->src + fts_mp_off(y),
							       y->len);
		}
	}
	for (uint32_t i = 0; i < b->n; i++)
		if (dst[i].shape != FTS_NO_SHAPE)
			dst[i].shape = map[dst[i].shape];
	free(map);
	for (size_t i = 0; i < b->tv.n; i++) {
		struct fts_manifest_tie t = b->tv.v[i];
		t.entry += a->n;
		FTS_VEC_PUSH(a->tv, t);
	}
	a->n += b->n;
	a->ascii = a->ascii && b->ascii;
	return true;
}

/* The shortest line of an entry: name, shape, dtype ("bool", "half",
 * "int8"), requires_grad and tied_to, four tabs between them. */
#define MIN_ENTRY 12
#define BOUND_MAX ((size_t)512 << 20)  /* files up to this size are not counted */

/* The whole pages of [b, e) back to the system (the second half's entries
 * were written beyond the first's and moved down). */
static void give_back(void *b, void *e)
{
	uintptr_t pg = (uintptr_t)sysconf(_SC_PAGESIZE);
	uintptr_t lo = ((uintptr_t)b + pg - 1) & ~(pg - 1), hi = (uintptr_t)e & ~(pg - 1);
	if (hi > lo)
		madvise((void *)lo, hi - lo, MADV_DONTNEED);
}

/* Manifests at least this large are parsed on two threads. */
#define PARALLEL_MIN ((size_t)4 << 20)

struct fts_manifest *fts_manifest_parse(struct fts_arena *a, struct fts_diags *d,
					uint32_t file)
{
	const struct fts_source *src = fts_source_get(d->src, file);
	size_t len = src->len;
	size_t errors0 = d->errors;
	struct fts_manifest *m = fts_arena_alloc(a, sizeof(*m));
	m->path = src->name;
	m->file = file;

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

	/* large manifests: two halves (at a line boundary) on two threads,
	 * silently, each first counting its entries; any problem and the
	 * whole file is parsed again, on one thread, with messages */
	struct chunk c[2];
	struct fts_mparam *p = NULL;
	bool done = false;
	if (len >= PARALLEL_MIN) {
		const char *nl = memchr(src->text + len / 2, '\n', len - len / 2);
		size_t mid = nl ? (size_t)(nl - src->text) + 1 : len;
		c[0] = chunk_make(a, src, file, m->typed, 0, mid);
		c[1] = chunk_make(a, src, file, m->typed, mid, len);
		pthread_t th;
		bool counted = true;
		if (m->typed && len <= BOUND_MAX) {
			/* an entry takes at least MIN_ENTRY bytes: room for every one
			 * without counting them (only the pages written are touched;
			 * larger files are counted, so that the address space asked
			 * for stays well under the memory of a machine that reads
			 * them) */
			c[0].cap = mid / MIN_ENTRY + 1;
			c[1].cap = (len - mid) / MIN_ENTRY + 1;
		} else if (pthread_create(&th, NULL, chunk_thread, &c[1]) == 0) {
			chunk_thread(&c[0]);
			pthread_join(th, NULL);
		} else {
			counted = false;
		}
		if (counted && c[0].cap + c[1].cap >= UINT32_MAX)
			counted = false;        /* too many: the one-thread parse says so */
		if (counted) {
			p = fts_arena_alloc_raw(a, (c[0].cap + c[1].cap + 1) * sizeof(*p));
			c[0].p = p;
			c[1].p = p + c[0].cap;
			c[0].hash = fts_xmalloc_big((c[0].cap + c[1].cap + 1) * sizeof(*c[0].hash));
			c[1].hash = c[0].hash + c[0].cap;
			c[0].lcp = fts_xmalloc_big(c[0].cap + c[1].cap + 1);
			c[1].lcp = c[0].lcp + c[0].cap;
			if (pthread_create(&th, NULL, chunk_thread, &c[1]) == 0) {
				parse_chunk(&c[0]);
				pthread_join(th, NULL);
				done = !c[0].failed && !c[1].failed;
			}
			if (done)
				done = merge(&c[0], &c[1]);
			if (done) {
				give_back(p + c[0].n, c[1].p + c[1].n);
				give_back(c[0].hash + c[0].n, c[1].hash + c[1].n);
				give_back(c[0].lcp + c[0].n, c[1].lcp + c[1].n);
			}
			chunk_release(&c[1]);
			if (!done) {
				chunk_release(&c[0]);
				free(c[0].hash);
				free(c[0].lcp);
				p = NULL;       /* abandoned in the arena */
			}
		}
	}
	if (!done) {
		c[0] = chunk_make(a, src, file, m->typed, 0, len);
		c[0].d = d;
		c[0].cap = count_entries(src->text, 0, len);
		if (c[0].cap >= UINT32_MAX) {
			/* entries are numbered in 32 bits (and would take over
			 * 80 GB of records) */
			fts_diag(d, FTS_E_MANIFEST, fts_span_make(file, 0, 0), fts_arena_printf(a,
				 "%zu lines that may be entries: more than %u parameters", c[0].cap,
				 (unsigned)UINT32_MAX - 1));
			return NULL;
		}
		p = c[0].p = fts_arena_alloc_raw(a, (c[0].cap + 1) * sizeof(*p));
		parse_chunk(&c[0]);
	}
	m->n = c[0].n;
	if (m->n == 0 && d->errors == errors0)
		fts_diag(d, FTS_E_MANIFEST_EMPTY, fts_span_make(file, 0, 0), src->name);
	if (d->errors != errors0) {
		chunk_release(&c[0]);
		free(c[0].hash);
		free(c[0].lcp);
		return NULL;
	}
	m->p = p;
	m->ties = fts_arena_alloc(a, (c[0].tv.n + 1) * sizeof(*m->ties));
	if (c[0].tv.n)
		memcpy(m->ties, c[0].tv.v, c[0].tv.n * sizeof(*m->ties));
	m->nties = c[0].tv.n;
	m->nshapes = (uint32_t)c[0].shapes.shapes.n;
	m->shapes = fts_arena_alloc(a, (m->nshapes + 1) * sizeof(*m->shapes));
	if (m->nshapes)
		memcpy(m->shapes, c[0].shapes.shapes.v, m->nshapes * sizeof(*m->shapes));
	m->dims = fts_arena_alloc(a, (c[0].shapes.dims.n + 1) * sizeof(*m->dims));
	if (c[0].shapes.dims.n)
		memcpy(m->dims, c[0].shapes.dims.v, c[0].shapes.dims.n * sizeof(*m->dims));
	m->text = src->text;
	m->text_len = len;
	m->ascii = c[0].ascii;
	uint32_t *name_hash = c[0].hash;
	uint8_t *name_lcp = c[0].lcp;
	chunk_release(&c[0]);
	if (m->nties) {
		m->sched = fts_arena_alloc_raw(a, ((size_t)m->n + 1) * sizeof(*m->sched));
		for (uint32_t i = 0; i < m->n; i++)
			if (p[i].tied_to < 0)
				m->sched[m->nsched++] = i;
	} else {
		m->nsched = m->n;       /* every entry: no index array (fts_sched()) */
	}
	/* the elements the runtime's arenas hold (tied entries share storage): every
	 * sum and its bytes must fit, with room for 8-byte elements */
	uint64_t total = 0;
	for (uint32_t i = 0; i < m->n; i++) {
		if (p[i].tied_to >= 0)
			continue;
		if (__builtin_add_overflow(total, fts_mp_numel(m, &p[i]), &total) ||
		    total > FTS_MANIFEST_MAX_ELEMENTS) {
			fts_diag(d, FTS_E_MANIFEST, fts_mp_name_span(m, &p[i]), fts_arena_printf(a,
				 "the parameters up to '%.*s' hold more than 2^60 elements in all, more "
				 "than a plan or a run can address", (int)p[i].len, fts_mp_name(m, &p[i])));
			free(name_hash);
			free(name_lcp);
			return NULL;
		}
	}
	m->total_numel = total;
	m->name_hash = name_hash;
	m->name_lcp = name_lcp;
	return m;
}

struct fts_span fts_mp_span(const struct fts_manifest *m, const struct fts_mparam *p)
{
	const char *s = m->text + fts_mp_off(p), *end = m->text + m->text_len;
	const char *nl = memchr(s, '\n', (size_t)(end - s));
	size_t e = nl ? (size_t)(nl - m->text) : m->text_len;
	if (e > fts_mp_off(p) && m->text[e - 1] == '\r')
		e--;
	return fts_span_make(m->file, fts_mp_off(p), e);
}

const char *fts_mp_cname(struct fts_arena *a, const struct fts_manifest *m, const struct fts_mparam *p)
{
	return fts_arena_strndup(a, fts_mp_name(m, p), p->len);
}

/* A name as the index reads it, when not all entries are schedulable. */
struct name_rec {
	uint32_t off, len;
	uint16_t off_hi, pad;
};

struct fts_names *fts_manifest_link(struct fts_manifest *m, struct fts_diags *d)
{
	size_t errors0 = d->errors;
	struct fts_arena *da = &d->arena;
	struct fts_names *ix;
	struct fts_names_hints hints = {m->ascii, true, NULL, NULL, 0};
	if (m->nsched == m->n) {
		/* no tied alias: the index reads the records themselves, and
		 * takes the hashes and prefixes the parse found */
		hints.hash = m->name_hash;
		hints.lcp = m->name_lcp;
		hints.off_hi_at = offsetof(struct fts_mparam, off_hi);
		m->name_lcp = NULL;
		ix = fts_names_new_recs(m->text, m->text_len, m->p, sizeof(*m->p), m->n, &hints);
	} else {
		struct name_rec *r = fts_xmalloc_big(((size_t)m->nsched + 1) * sizeof(*r));
		for (uint32_t i = 0; i < m->nsched; i++) {
			const struct fts_mparam *q = &m->p[fts_sched(m, i)];
			r[i] = (struct name_rec){q->off, q->len, q->off_hi, 0};
		}
		hints.off_hi_at = offsetof(struct name_rec, off_hi);
		m->name_recs = r;       /* borrowed by the index until fts_names_free() */
		ix = fts_names_new_recs(m->text, m->text_len, r, sizeof(*r), m->nsched, &hints);
	}
	free(m->name_hash);
	free(m->name_lcp);
	m->name_hash = NULL;
	m->name_lcp = NULL;

	const uint32_t *dup;
	size_t ndup = fts_names_duplicates(ix, &dup);
	/* a flood of duplicates: the first ones, then a count */
	enum { MAX_DUP_REPORTS = 20 };
	if (ndup > MAX_DUP_REPORTS) {
		const struct fts_mparam *more = &m->p[fts_sched(m, dup[2 * MAX_DUP_REPORTS])];
		char msg[160];
		snprintf(msg, sizeof(msg), "and %zu more duplicate parameter names from here on (the first %d "
			 "are shown)", ndup - MAX_DUP_REPORTS, (int)MAX_DUP_REPORTS);
		fts_diag(d, FTS_E_MANIFEST_DUP_MORE, fts_mp_name_span(m, more), msg);
	}
	for (size_t k = 0; k < ndup && k < MAX_DUP_REPORTS; k++) {
		const struct fts_mparam *later = &m->p[fts_sched(m, dup[2 * k])];
		const struct fts_mparam *first = &m->p[fts_sched(m, dup[2 * k + 1])];
		struct fts_diag *dg = fts_diag(d, FTS_E_MANIFEST_DUP, fts_mp_name_span(m, later),
					       fts_mp_cname(da, m, later));
		fts_diag_note(d, dg, fts_mp_span(m, first), "first listed here");
	}
	/* tied aliases: the target is an earlier untied entry; an alias name
	 * may not repeat a parameter name or another alias */
	for (size_t k = 0; k < m->nties; k++) {
		struct fts_manifest_tie *t = &m->ties[k];
		struct fts_mparam *mp = &m->p[t->entry];
		long tgt = fts_names_find(ix, t->target, t->target_len);
		if (tgt < 0 || fts_sched(m, tgt) > t->entry) {
			char buf[208];
			snprintf(buf, sizeof(buf), "%.*s", (int)(t->target_len > 200 ? 200 : t->target_len),
				 t->target);
			fts_diag(d, FTS_E_MANIFEST_TIED, t->span, buf, fts_mp_cname(da, m, mp));
			continue;
		}
		mp->tied_to = (int32_t)fts_sched(m, tgt);
		const struct fts_mparam *first = NULL;
		long same = fts_names_find(ix, fts_mp_name(m, mp), mp->len);
		if (same >= 0)
			first = &m->p[fts_sched(m, same)];
		for (size_t j = 0; !first && j < k; j++) {
			const struct fts_mparam *q = &m->p[m->ties[j].entry];
			if (q->len == mp->len && memcmp(fts_mp_name(m, q), fts_mp_name(m, mp), mp->len) == 0)
				first = q;
		}
		if (first) {
			struct fts_diag *dg = fts_diag(d, FTS_E_MANIFEST_DUP, fts_mp_name_span(m, mp),
						       fts_mp_cname(da, m, mp));
			fts_diag_note(d, dg, fts_mp_span(m, first), "first listed here");
		}
	}
	if (d->errors != errors0) {
		fts_names_free(ix);
		return NULL;
	}
	return ix;
}
