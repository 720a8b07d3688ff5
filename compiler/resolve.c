/*
 * resolve.c - the name index and FTS-exact parameter resolution,
 * suggestions and the over-match predicate.  See resolve.h for the
 * contracts.
 *
 * The index, built on two threads for a large model: a hash table (exact
 * lookups, duplicates) and each name's common prefix with the name before
 * it (one byte, capped at 255).  A pattern's leading fixed-width branches
 * (fts_pyre_branches()) are walked over a name in registration order; the
 * bytes the verdict depended on are known, and the following names that
 * share them (their common prefix with the name before is at least as
 * long) get the same verdict without being read: a vector scan over the
 * prefix bytes.  Names are registered module by module, so a pattern
 * costs about one walk per module it passes, and the matches come out in
 * registration order.
 *
 * The sorted permutation serves only suggestions (an error path) and is
 * built on first use.  Sorting: an in-place most-significant-byte radix sort whose keys are
 * the next 8 bytes of each name loaded big-endian into a uint64 (cached
 * next to the index, so a pass touches one contiguous array); bytes equal
 * over a group are skipped, and a group of equal keys reloads 8 bytes
 * deeper.  Names never contain NUL in practice, and a NUL byte sorts like
 * "end of name", which only affects the order of such names among
 * themselves, never the correctness of the prefix walk (the walk compares
 * real lengths).
 */
#include "resolve.h"

#include <pthread.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include <stdlib.h>
#include <string.h>

#include "arena.h"

struct fts_names {
	uint32_t n;
	const char *const *ptr;	/* the caller's names (not copied), or NULL: */
	const char *base;	/* name i is base + off, len bytes, where the */
	const unsigned char *rec;	/* records rec + i * stride begin with */
	size_t stride;		/* uint32_t off, len (fts_names_new_recs()) */
	size_t off_hi_at;	/* and hold bits 32..47 of off here, or 0 */
	uint32_t *len;		/* the lengths (pointer form only) */
	uint32_t *sorted;	/* permutation: names in byte order (suggestions only; built on first use) */
	uint8_t *lcp;		/* lcp[i]: bytes name i shares with name i - 1, at most 255 */
	uint32_t *slot;		/* hash table, two halves (table_of()) */
	uint64_t mask;		/* slots in a half - 1 (a power of two) */
	unsigned pbits;		/* log2(slots in a half) */
	unsigned ibits;		/* a slot's index bits: imask = 2^ibits - 1 */
	uint32_t imask;
	bool utf8;		/* every name is valid UTF-8 */
	bool nl;		/* some name holds a newline */
	const char *text;	/* the names lie in text[0..textlen), in index */
	size_t textlen;		/* order (fts_names_set_text()), or NULL */
	uint32_t *dups;		/* pairs (later index, first index) of equal names */
	size_t ndups, capdups;
};

/* Name i's record (records form). */
static inline const uint32_t *REC(const struct fts_names *ix, uint32_t i)
{
	return (const uint32_t *)(const void *)(ix->rec + (size_t)i * ix->stride);
}

static inline const unsigned char *NAME(const struct fts_names *ix, uint32_t i)
{
	if (ix->ptr)
		return (const unsigned char *)ix->ptr[i];
	uint64_t off = REC(ix, i)[0];
	if (ix->off_hi_at) {
		uint16_t hi;
		memcpy(&hi, ix->rec + (size_t)i * ix->stride + ix->off_hi_at, sizeof(hi));
		off |= (uint64_t)hi << 32;
	}
	return (const unsigned char *)ix->base + off;
}

static inline uint32_t LEN(const struct fts_names *ix, uint32_t i)
{
	return ix->ptr ? ix->len[i] : REC(ix, i)[1];
}

static const uint32_t *sorted(const struct fts_names *ix);

/* Byte at depth d of the k-th sorted name, or -1 past its end. */
static int sbyte(const struct fts_names *ix, uint32_t k, uint32_t d)
{
	uint32_t i = sorted(ix)[k];

	return d < LEN(ix, i) ? NAME(ix, i)[d] : -1;
}

/* ---- sorting ---- */

/* 12 bytes, not 16: the largest array while the index is built */
struct __attribute__((packed, aligned(4))) skey {
	uint64_t k;
	uint32_t idx;
};

static uint64_t load_key(const struct fts_names *ix, uint32_t i, uint32_t d)
{
	const unsigned char *s = NAME(ix, i);
	uint32_t len = LEN(ix, i);
	uint64_t k = 0;
	uint32_t j;

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	if (d + 8 <= len) {
		memcpy(&k, s + d, 8);
		return __builtin_bswap64(k);    /* big-endian: byte order = sort order */
	}
#endif
	for (j = 0; j < 8; j++)
		k = (k << 8) | (d + j < len ? s[d + j] : 0);
	return k;
}

static int cmp_from(const struct fts_names *ix, uint32_t a, uint32_t b, uint32_t d)
{
	uint32_t la = LEN(ix, a), lb = LEN(ix, b), m = la < lb ? la : lb;
	int c;

	if (d >= m)
		return la < lb ? -1 : la > lb;
	c = memcmp(NAME(ix, a) + d, NAME(ix, b) + d, m - d);
	if (c)
		return c;
	return la < lb ? -1 : la > lb;
}

static void swap(struct skey *a, struct skey *b)
{
	struct skey t = *a;

	*a = *b;
	*b = t;
}

/* Runs of equal names found by the sort: [off, off + n) of the key array. */
struct dup_runs {
	size_t *v;                      /* pairs (offset, count) */
	size_t n, cap;
};

struct sort_ctx {
	const struct fts_names *ix;
	struct skey *base;              /* the whole key array, for offsets */
	struct skey *tmp;               /* scratch as large (offsets as in base), or NULL */
	struct dup_runs runs;
	bool may_spawn;                 /* this context may hand a part to a thread */
};

static void add_run(struct sort_ctx *c, struct skey *a, size_t n)
{
	if (c->runs.n + 2 > c->runs.cap) {
		c->runs.cap = c->runs.cap ? 2 * c->runs.cap : 16;
		c->runs.v = fts_xrealloc(c->runs.v, c->runs.cap * sizeof(*c->runs.v));
	}
	c->runs.v[c->runs.n++] = (size_t)(a - c->base);
	c->runs.v[c->runs.n++] = n;
}

/* The keys of a[0..n) at depth d. */
static void reload(const struct fts_names *ix, struct skey *a, size_t n, uint32_t d, uint64_t *andv,
		   uint64_t *orv)
{
	uint64_t an = ~(uint64_t)0, o = 0;
	/* two-stage prefetch: the record (records form) 16 ahead, then the
	 * name bytes it points to 8 ahead */
	for (size_t i = 0; i < n; i++) {
		if (!ix->ptr && i + 16 < n)
			__builtin_prefetch(REC(ix, a[i + 16].idx));
		if (i + 8 < n)
			__builtin_prefetch(NAME(ix, a[i + 8].idx) + d);
		uint64_t k = load_key(ix, a[i].idx, d);
		a[i].k = k;
		an &= k;
		o |= k;
	}
	*andv = an;
	*orv = o;
}

struct reload_job {
	const struct fts_names *ix;
	struct skey *a;
	size_t n;
	uint32_t d;
	uint64_t andv, orv;
};

static void *reload_thread(void *arg)
{
	struct reload_job *j = arg;
	reload(j->ix, j->a, j->n, j->d, &j->andv, &j->orv);
	return NULL;
}

/* reload() of a large group on two threads (a top-level group's keys are
 * the random reads of the whole sort), with the AND and OR of the keys. */
static void reload2(const struct sort_ctx *c, struct skey *a, size_t n, uint32_t d, uint64_t *andv,
		    uint64_t *orv)
{
	struct reload_job j = {c->ix, a, n / 2, d, 0, 0};
	pthread_t th;
	if (c->may_spawn && n >= 131072 && pthread_create(&th, NULL, reload_thread, &j) == 0) {
		reload(c->ix, a + n / 2, n - n / 2, d, andv, orv);
		pthread_join(th, NULL);
		*andv &= j.andv;
		*orv |= j.orv;
		return;
	}
	reload(c->ix, a, n, d, andv, orv);
}

/* Insertion sort of a few keys at depth d, and their runs of equal names. */
static void small_sort(struct sort_ctx *c, struct skey *a, size_t n, uint32_t d)
{
	const struct fts_names *ix = c->ix;
	size_t i, j;
	for (i = 1; i < n; i++)
		for (j = i; j > 0 && (a[j - 1].k > a[j].k ||
			(a[j - 1].k == a[j].k && cmp_from(ix, a[j - 1].idx, a[j].idx, d) > 0)); j--)
			swap(&a[j - 1], &a[j]);
	for (i = 0; i + 1 < n; i = j) {
		for (j = i + 1; j < n && a[j].k == a[i].k && cmp_from(ix, a[i].idx, a[j].idx, d) == 0; j++)
			;
		if (j - i > 1)
			add_run(c, a + i, j - i);
	}
}

static void rsort(struct sort_ctx *c, struct skey *a, size_t n, uint32_t d);

/* Buckets [from, to) of a split: start[b], cnt[b]. */
struct bucket_job {
	struct sort_ctx ctx;
	struct skey *a;
	const size_t *start, *cnt;
	unsigned from, to;
	uint32_t d;
};

static void sort_buckets(struct bucket_job *j)
{
	for (unsigned b = j->from; b < j->to; b++)
		if (j->cnt[b] > 1)
			rsort(&j->ctx, j->a + j->start[b], j->cnt[b], j->d);
}

static void *bucket_thread(void *arg)
{
	sort_buckets(arg);
	return NULL;
}

/*
 * Most-significant-byte radix sort (American flag: in place) on the cached
 * 8-byte big-endian keys: bytes that are equal over the whole group are
 * skipped (the names share long prefixes), the group is split on its first
 * differing byte, and a group whose keys are all equal reloads its next 8
 * bytes.  Equal names end up in one run, recorded for the duplicate
 * report.  Recursion goes into all buckets but the largest, which the loop
 * continues with: the stack stays O(log n) deep whatever the names.  The
 * first split of a large group hands half its buckets to a second thread
 * (the machines we target have two cores).
 */
static void rsort(struct sort_ctx *c, struct skey *a, size_t n, uint32_t d)
{
	const struct fts_names *ix = c->ix;
	uint64_t andv = 0, orv = 0;
	bool have = false;              /* andv, orv are those of a[0..n) (after a reload) */
	while (n > 1) {
		if (n < 32) {
			small_sort(c, a, n, d);
			return;
		}
		if (!have) {
			andv = ~(uint64_t)0;
			orv = 0;
			for (size_t i = 0; i < n; i++) {
				andv &= a[i].k;
				orv |= a[i].k;
			}
		}
		have = false;
		uint64_t diff = andv ^ orv;
		if (!diff) {
			if (!(andv & 0xff)) {
				/* all equal and ended within this word */
				add_run(c, a, n);
				return;
			}
			d += 8;
			reload2(c, a, n, d, &andv, &orv);
			have = true;
			continue;
		}
		/* the first differing byte; every key's lies in [lo, hi] */
		const unsigned shift = (unsigned)(63 - __builtin_clzll(diff)) & ~7u;
		const unsigned lo = (unsigned)(andv >> shift) & 0xff, hi = (unsigned)(orv >> shift) & 0xff;
		size_t cnt[256], start[256] = {0}, next[256];
		memset(cnt + lo, 0, (hi - lo + 1) * sizeof(*cnt));
		const bool large = c->tmp && n >= 2048;
		if (large) {
			/* four counters a bucket: runs of equal bytes do not wait
			 * on one counter's store */
			size_t c4[3][256];
			for (int k = 0; k < 3; k++)
				memset(c4[k] + lo, 0, (hi - lo + 1) * sizeof(**c4));
			size_t i = 0;
			for (; i + 4 <= n; i += 4) {
				cnt[(a[i].k >> shift) & 0xff]++;
				c4[0][(a[i + 1].k >> shift) & 0xff]++;
				c4[1][(a[i + 2].k >> shift) & 0xff]++;
				c4[2][(a[i + 3].k >> shift) & 0xff]++;
			}
			for (; i < n; i++)
				cnt[(a[i].k >> shift) & 0xff]++;
			for (unsigned b = lo; b <= hi; b++)
				cnt[b] += c4[0][b] + c4[1][b] + c4[2][b];
		} else {
			for (size_t i = 0; i < n; i++)
				cnt[(a[i].k >> shift) & 0xff]++;
		}
		size_t sum = 0;
		unsigned big = lo;
		for (unsigned b = lo; b <= hi; b++) {
			start[b] = next[b] = sum;
			sum += cnt[b];
			if (cnt[b] > cnt[big])
				big = b;
		}
		if (large) {
			/* out of place: one sequential read, a stream a bucket */
			struct skey *t = c->tmp + (a - c->base);
			for (size_t i = 0; i < n; i++)
				t[next[(a[i].k >> shift) & 0xff]++] = a[i];
			memcpy(a, t, n * sizeof(*a));
		} else {
			for (unsigned b = lo; b <= hi; b++) {
				size_t end = start[b] + cnt[b];
				while (next[b] < end) {
					struct skey v = a[next[b]];
					unsigned vb = (unsigned)(v.k >> shift) & 0xff;
					while (vb != b) {
						struct skey t = a[next[vb]];
						a[next[vb]++] = v;
						v = t;
						vb = (unsigned)(v.k >> shift) & 0xff;
					}
					a[next[b]++] = v;
				}
			}
		}
		/* a second thread takes the buckets below the middle element's */
		unsigned from = lo;
		pthread_t th;
		struct bucket_job *job = NULL;
		if (c->may_spawn && n >= 65536) {
			unsigned mid = lo;
			while (mid < hi && start[mid] + cnt[mid] <= n / 2)
				mid++;
			if (start[mid] >= n / 4) {
				job = fts_xmalloc(sizeof(*job));
				*job = (struct bucket_job){{ix, c->base, c->tmp, {NULL, 0, 0}, false}, a, start, cnt, lo,
							   mid, d};
				c->may_spawn = false;
				if (pthread_create(&th, NULL, bucket_thread, job) != 0) {
					free(job);
					job = NULL;
				} else {
					from = mid;
				}
			}
		}
		/* every other bucket here, recursively; the largest by the loop */
		for (unsigned b = from; b <= hi; b++)
			if (cnt[b] > 1 && !(b == big && !job))
				rsort(c, a + start[b], cnt[b], d);
		if (job) {
			pthread_join(th, NULL);
			for (size_t r = 0; r < job->ctx.runs.n; r += 2)
				add_run(c, c->base + job->ctx.runs.v[r], job->ctx.runs.v[r + 1]);
			free(job->ctx.runs.v);
			free(job);
			return;
		}
		a += start[big];
		n = cnt[big];
	}
}

/* Name indices, ascending. */
static int cmp_u32(const void *x, const void *y)
{
	const uint32_t *a = x, *b = y;
	return a[0] < b[0] ? -1 : a[0] > b[0];
}

static int cmp_skey_idx(const void *x, const void *y)
{
	const struct skey *a = x, *b = y;
	return a->idx < b->idx ? -1 : a->idx > b->idx;
}

/* ---- public: construction ---- */

/* Is s[0..n) ASCII?  *nl is set when it holds a newline. */
static bool all_ascii(const char *s, size_t n, bool *nl)
{
	const uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
	uint64_t acc = 0, lf = 0, w;
	size_t i = 0;

	for (; i + 8 <= n; i += 8) {
		memcpy(&w, s + i, 8);
		acc |= w;
		w ^= 0x0a * ones;
		lf |= (w - ones) & ~w & highs;  /* a zero byte: a '\n' in s */
	}
	for (; i < n; i++) {
		acc |= (unsigned char)s[i];
		lf |= s[i] == '\n';
	}
	if (lf)
		*nl = true;
	return !(acc & highs);
}

/* ---- the sorted permutation (suggestions) ---- */

struct keys_job {
	const struct fts_names *ix;
	struct skey *keys;
	uint32_t b, e;
};

static void *keys_thread(void *arg)
{
	struct keys_job *j = arg;
	for (uint32_t i = j->b; i < j->e; i++) {
		j->keys[i].idx = i;
		j->keys[i].k = load_key(j->ix, i, 0);
	}
	return NULL;
}

/* The sorted permutation, made on first use (only suggestions need it;
 * the index is otherwise read-only, so this is not for concurrent use). */
static const uint32_t *sorted(const struct fts_names *cix)
{
	struct fts_names *ix = (struct fts_names *)(uintptr_t)cix;
	uint32_t i, n = ix->n;

	if (ix->sorted)
		return ix->sorted;
	/* the first keys, in two halves on two threads for a large index */
	struct skey *keys = fts_xmalloc_big((n ? n : 1) * sizeof(*keys));
	struct keys_job lo = {ix, keys, 0, n / 2}, hi = {ix, keys, n / 2, n};
	pthread_t th;
	if (n >= 131072 && pthread_create(&th, NULL, keys_thread, &lo) == 0) {
		keys_thread(&hi);
		pthread_join(th, NULL);
	} else {
		lo.e = n;
		keys_thread(&lo);
	}
	/* scratch for the large groups' out-of-place passes */
	struct skey *tmp = n >= 65536 ? fts_xmalloc_big(n * sizeof(*tmp)) : NULL;
	struct sort_ctx ctx = {ix, keys, tmp, {NULL, 0, 0}, n >= 65536};
	rsort(&ctx, keys, n, 0);
	free(tmp);
	/* within a run of equal names, registration order */
	for (size_t r = 0; r < ctx.runs.n; r += 2)
		qsort(keys + ctx.runs.v[r], ctx.runs.v[r + 1], sizeof(*keys), cmp_skey_idx);
	free(ctx.runs.v);
	/* the permutation in place of the keys (entry i's 4 bytes lie at or
	 * before key i's), the rest given back */
	uint32_t *perm = (uint32_t *)(void *)keys;
	for (i = 0; i < n; i++) {
		uint32_t idx = keys[i].idx;
		perm[i] = idx;
	}
	ix->sorted = fts_xrealloc(keys, (n ? n : 1) * sizeof(*ix->sorted));
	return ix->sorted;
}

/* ---- the index: hash table and common prefixes ---- */

/* 64 bits of a name: two independent multiply chains over 16-byte steps
 * (the last step overlaps the one before rather than reading past the
 * name), then murmur3's finalizer, so that every byte reaches every bit. */
static uint64_t name_hash(const unsigned char *s, size_t n)
{
	const uint64_t k = 0xff51afd7ed558ccdull;
	uint64_t a = 0x9e3779b97f4a7c15ull ^ (uint64_t)n, b = 0xc4ceb9fe1a85ec53ull, w, v;

	if (n >= 16) {
		size_t i = 0;
		for (; i + 16 < n; i += 16) {
			memcpy(&w, s + i, 8);
			memcpy(&v, s + i + 8, 8);
			a = (a ^ w) * k;
			b = (b ^ v) * k;
			a ^= a >> 32;
			b ^= b >> 29;
		}
		memcpy(&w, s + n - 16, 8);
		memcpy(&v, s + n - 8, 8);
	} else if (n >= 8) {
		memcpy(&w, s, 8);
		memcpy(&v, s + n - 8, 8);
	} else {
		w = v = 0;
		for (size_t i = 0; i < n; i++)
			w |= (uint64_t)s[i] << (8 * i);
	}
	a = (a ^ w) * k;
	b = (b ^ v) * k;
	a ^= a >> 32;
	a ^= b * 0x9e3779b97f4a7c15ull;
	a ^= a >> 33;
	a *= k;
	a ^= a >> 33;
	a *= 0xc4ceb9fe1a85ec53ull;
	a ^= a >> 33;
	return a;
}

/* Bytes a[0..la) and b[0..lb) share at the start, at most 255. */
static uint8_t common_prefix(const unsigned char *a, uint32_t la, const unsigned char *b, uint32_t lb)
{
	uint32_t m = la < lb ? la : lb, k = 0;

	if (m > 255)
		m = 255;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	for (; k + 8 <= m; k += 8) {
		uint64_t x, y;
		memcpy(&x, a + k, 8);
		memcpy(&y, b + k, 8);
		if (x != y)
			return (uint8_t)(k + (unsigned)__builtin_ctzll(x ^ y) / 8);
	}
#endif
	for (; k < m && a[k] == b[k]; k++)
		;
	return (uint8_t)k;
}

static bool name_eq(const struct fts_names *ix, uint32_t i, const unsigned char *s, size_t len)
{
	return LEN(ix, i) == len && memcmp(NAME(ix, i), s, len) == 0;
}

/*
 * The table is split in two by the top bit of a name's 32-bit hash, one
 * half per thread.  A slot's position is the hash's low bits; the slot
 * holds the name's index + 1 (0: empty) in its low bits and, in the bits
 * an index does not need (13 at 500k names), the hash bits above the
 * position's, so that probes rarely read a name that differs.
 */
static inline uint32_t hash32(const unsigned char *s, size_t n)
{
	return (uint32_t)(name_hash(s, n) >> 32);
}

/* Documented in resolve.h. */
uint32_t fts_names_hash(const char *s, size_t n)
{
	return hash32((const unsigned char *)s, n);
}

/* Documented in resolve.h. */
uint8_t fts_names_common_prefix(const char *a, size_t la, const char *b, size_t lb)
{
	return common_prefix((const unsigned char *)a, la > 255 ? 255 : (uint32_t)la, (const unsigned char *)b,
			     lb > 255 ? 255 : (uint32_t)lb);
}

static inline uint32_t slot_make(const struct fts_names *ix, uint32_t h, uint32_t i)
{
	return (uint32_t)(((uint64_t)(h >> ix->pbits) << ix->ibits) | ((uint64_t)i + 1));
}

static inline uint32_t *table_of(const struct fts_names *ix, uint32_t h)
{
	return ix->slot + (h >> 31) * (ix->mask + 1);
}

static inline uint64_t slot_pos(const struct fts_names *ix, uint32_t h)
{
	return h & ix->mask;
}

/* Slots a probe reads at once: a bucket of 32 bytes.  Probing goes bucket
 * by bucket from the hash's; an entry is in the first bucket that had room
 * when it was added (nothing is ever removed), so a lookup may stop at the
 * first bucket with an empty slot.  Comparing a bucket's eight tags and
 * finding its empty slots without a branch per slot keeps the probes free
 * of mispredictions (at half load a slot-by-slot probe mispredicts on
 * every other insert). */
#define BUCKET 8

/* Name s[0..len), hash h, in table t: the slot that holds it (true), or
 * the empty slot it would take (false). */
static inline bool probe(const struct fts_names *ix, const uint32_t *t, uint32_t h, const unsigned char *s,
			 size_t len, uint64_t *slot)
{
	const uint32_t imask = ix->imask, tag = slot_make(ix, h, 0) & ~imask;

	for (uint64_t p = slot_pos(ix, h) & ~(uint64_t)(BUCKET - 1);; p = (p + BUCKET) & ix->mask) {
		unsigned same, empty;
#ifdef __SSE2__
		const __m128i z = _mm_setzero_si128(), tm = _mm_set1_epi32((int)~imask), tv = _mm_set1_epi32((int)tag);
		__m128i a = _mm_load_si128((const __m128i *)(const void *)(t + p));
		__m128i b = _mm_load_si128((const __m128i *)(const void *)(t + p + 4));
		empty = (unsigned)_mm_movemask_ps(_mm_castsi128_ps(_mm_cmpeq_epi32(a, z))) |
			(unsigned)_mm_movemask_ps(_mm_castsi128_ps(_mm_cmpeq_epi32(b, z))) << 4;
		same = (unsigned)_mm_movemask_ps(_mm_castsi128_ps(_mm_cmpeq_epi32(_mm_and_si128(a, tm), tv))) |
		       (unsigned)_mm_movemask_ps(_mm_castsi128_ps(_mm_cmpeq_epi32(_mm_and_si128(b, tm), tv))) << 4;
#else
		same = empty = 0;
		for (unsigned k = 0; k < BUCKET; k++) {
			empty |= (unsigned)(t[p + k] == 0) << k;
			same |= (unsigned)((t[p + k] & ~imask) == tag) << k;
		}
#endif
		for (same &= ~empty; same; same &= same - 1) {
			unsigned k = (unsigned)__builtin_ctz(same);
			if (name_eq(ix, (t[p + k] & imask) - 1, s, len)) {
				*slot = p + k;
				return true;
			}
		}
		if (empty) {
			*slot = p + (unsigned)__builtin_ctz(empty);
			return false;
		}
	}
}

struct index_job {
	struct fts_names *ix;
	uint32_t *hash;                 /* every name's hash32() */
	uint32_t b, e;                  /* phase 1: names [b, e) */
	unsigned part;                  /* phase 2: the half of the table */
	FTS_VEC(uint32_t) later;        /* names equal to one with a lower index */
};

/* Phase 1: the hashes and common prefixes of names [b, e). */
static void *hash_thread(void *arg)
{
	struct index_job *j = arg;
	const struct fts_names *ix = j->ix;
	const unsigned char *prev = j->b ? NAME(ix, j->b - 1) : NULL;
	uint32_t plen = j->b ? LEN(ix, j->b - 1) : 0;

	for (uint32_t i = j->b; i < j->e; i++) {
		const unsigned char *s = NAME(ix, i);
		uint32_t len = LEN(ix, i);

		if (!ix->ptr && i + 16 < j->e)
			__builtin_prefetch(REC(ix, i + 16));
		j->hash[i] = hash32(s, len);
		ix->lcp[i] = prev ? common_prefix(prev, plen, s, len) : 0;
		prev = s;
		plen = len;
	}
	return NULL;
}

/*
 * Phase 2: every name whose hash falls in half j->part, in index order, so
 * that of equal names the first holds the slot and the others are
 * recorded as later occurrences.  The names are picked a chunk at a time
 * without branches, and their slots prefetched a few names ahead: the
 * table is larger than the caches.
 */
static void *insert_thread(void *arg)
{
	enum { CHUNK = 2048, AHEAD = 16 };
	struct index_job *j = arg;
	struct fts_names *ix = j->ix;
	const uint32_t *hash = j->hash;
	const uint32_t n = ix->n;
	uint32_t sel[CHUNK];            /* this half's names of a chunk */

	for (uint32_t b = 0; b < n; b += CHUNK) {
		const uint32_t e = n - b < CHUNK ? n : b + CHUNK;
		uint32_t m = 0;
		/* without a branch: which half a name falls in is a coin toss */
		for (uint32_t i = b; i < e; i++) {
			sel[m] = i;
			m += hash[i] >> 31 == j->part;
		}
		for (uint32_t k = 0; k < m; k++) {
			if (k + AHEAD < m) {
				uint32_t hp = hash[sel[k + AHEAD]];
				__builtin_prefetch(table_of(ix, hp) + (slot_pos(ix, hp) & ~(uint64_t)(BUCKET - 1)), 1);
			}
			uint32_t i = sel[k], h = hash[i], *t = table_of(ix, h);
			uint64_t slot;
			if (probe(ix, t, h, NAME(ix, i), LEN(ix, i), &slot))
				FTS_VEC_PUSH(j->later, i);
			else
				t[slot] = slot_make(ix, h, i);
		}
	}
	return NULL;
}

/* Run fn on a and b, on two threads when threaded. */
static void both(void *(*fn)(void *), struct index_job *a, struct index_job *b, bool threaded)
{
	pthread_t th;

	if (threaded && pthread_create(&th, NULL, fn, b) == 0) {
		fn(a);
		pthread_join(th, NULL);
	} else {
		fn(a);
		fn(b);
	}
}

/* The rest of the index over ix's names (hints: see resolve.h). */
static struct fts_names *build(struct fts_names *ix, const struct fts_names_hints *hints)
{
	uint32_t i, n = ix->n;
	uint64_t half = 8;
	bool threaded = n >= 65536;

	ix->utf8 = true;
	for (i = 0; !hints->ascii && i < n; i++) {
		const char *s = (const char *)NAME(ix, i);
		if (!all_ascii(s, LEN(ix, i), &ix->nl) && ix->utf8 && !fts_utf8_valid(s, LEN(ix, i)))
			ix->utf8 = false;
	}
	/* two halves, each at most two thirds full on average */
	while (2 * half < (uint64_t)n + n / 2 + 1)
		half *= 2;
	ix->mask = half - 1;
	ix->pbits = (unsigned)__builtin_ctzll(half);
	ix->ibits = n ? 32 - (unsigned)__builtin_clz(n) : 1;
	ix->imask = (uint32_t)(((uint64_t)1 << ix->ibits) - 1);
	/* huge pages where the table is large: random probes, few TLB misses */
	ix->slot = fts_xmalloc_big(2 * half * sizeof(*ix->slot));
	memset(ix->slot, 0, 2 * half * sizeof(*ix->slot));

	uint32_t *hash = NULL;
	if (hints->hash && hints->lcp) {
		ix->lcp = hints->lcp;
	} else {
		free(hints->lcp);
		ix->lcp = fts_xmalloc_big(n ? n : 1);
		hash = fts_xmalloc_big((n ? n : 1) * sizeof(*hash));
	}
	struct index_job lo = {ix, hash ? hash : (uint32_t *)(uintptr_t)hints->hash, 0, n / 2, 0, {0}};
	struct index_job hi = lo;
	hi.b = n / 2;
	hi.e = n;
	hi.part = 1;
	if (hash)
		both(hash_thread, &lo, &hi, threaded);
	both(insert_thread, &lo, &hi, threaded);
	free(hash);

	/* the duplicates: (later, first) pairs in order of the later index */
	for (size_t k = 0; k < hi.later.n; k++)
		FTS_VEC_PUSH(lo.later, hi.later.v[k]);
	FTS_VEC_FREE(hi.later);
	if (lo.later.n) {
		qsort(lo.later.v, lo.later.n, sizeof(*lo.later.v), cmp_u32);
		ix->ndups = ix->capdups = lo.later.n;
		ix->dups = fts_xmalloc(2 * ix->ndups * sizeof(*ix->dups));
		for (size_t k = 0; k < lo.later.n; k++) {
			uint32_t later = lo.later.v[k];
			ix->dups[2 * k] = later;
			ix->dups[2 * k + 1] = (uint32_t)fts_names_find(ix, (const char *)NAME(ix, later), LEN(ix, later));
		}
	}
	FTS_VEC_FREE(lo.later);
	return ix;
}

/* Documented in resolve.h. */
struct fts_names *fts_names_new(const char *const *names, const size_t *lens, uint32_t n)
{
	struct fts_names *ix = fts_xcalloc(1, sizeof(*ix));

	ix->n = n;
	ix->ptr = names;
	ix->len = fts_xmalloc_big((n ? n : 1) * sizeof(*ix->len));
	for (uint32_t i = 0; i < n; i++)
		ix->len[i] = (uint32_t)lens[i];
	return build(ix, &(struct fts_names_hints){false, false, NULL, NULL, 0});
}

/* Documented in resolve.h. */
struct fts_names *fts_names_new_recs(const char *text, size_t textlen, const void *recs, size_t stride,
				     uint32_t n, const struct fts_names_hints *hints)
{
	static const struct fts_names_hints none;
	struct fts_names *ix = fts_xcalloc(1, sizeof(*ix));

	ix->n = n;
	ix->base = text;
	ix->rec = recs;
	ix->stride = stride;
	ix->off_hi_at = hints ? hints->off_hi_at : 0;
	build(ix, hints ? hints : &none);
	if (hints && hints->in_order) {
		ix->text = text;
		ix->textlen = textlen;
	} else {
		fts_names_set_text(ix, text, textlen);
	}
	return ix;
}

/* Documented in resolve.h. */
bool fts_names_set_text(struct fts_names *ix, const char *text, size_t len)
{
	uintptr_t lo = (uintptr_t)text, hi = lo + len, at = lo;

	for (uint32_t i = 0; i < ix->n; i++) {
		uintptr_t s = (uintptr_t)((const char *)NAME(ix, i));

		if (s < at || s > hi || LEN(ix, i) > hi - s)
			return false;
		at = s + LEN(ix, i) + 1;        /* disjoint, apart, ascending */
	}
	ix->text = text;
	ix->textlen = len;
	return true;
}

/* Documented in resolve.h. */
void fts_names_free(struct fts_names *ix)
{
	if (!ix)
		return;
	free(ix->len);
	free(ix->sorted);
	free(ix->lcp);
	free(ix->slot);
	free(ix->dups);
	free(ix);
}

/* Documented in resolve.h. */
size_t fts_names_duplicates(const struct fts_names *ix, const uint32_t **pairs)
{
	*pairs = ix->dups;
	return ix->ndups;
}

/* Documented in resolve.h. */
uint32_t fts_names_count(const struct fts_names *ix)
{
	return ix->n;
}

/* Documented in resolve.h. */
const char *fts_names_get(const struct fts_names *ix, uint32_t i, size_t *len)
{
	if (len)
		*len = LEN(ix, i);
	return (const char *)NAME(ix, i);
}

/* First sorted position whose name is >= s[0..n). */
static uint32_t lower_str(const struct fts_names *ix, const char *s, size_t n)
{
	uint32_t lo = 0, hi = ix->n;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2, i = sorted(ix)[mid];
		size_t l = LEN(ix, i), mn = l < n ? l : n;
		int c = memcmp(NAME(ix, i), s, mn);

		if (c < 0 || (c == 0 && l < n))
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Documented in resolve.h. */
long fts_names_find(const struct fts_names *ix, const char *s, size_t len)
{
	uint32_t h = hash32((const unsigned char *)s, len);
	const uint32_t *t = table_of(ix, h);
	uint64_t slot;

	/* the slot holds the first of equal names */
	if (!probe(ix, t, h, (const unsigned char *)s, len, &slot))
		return -1;
	return (long)((t[slot] & ix->imask) - 1);
}

/* ---- matching ---- */

/* Append name i, its match ending at end; over: the match stops inside a
 * dotted segment (fts_overmatch()), counted for the caller's warning. */
static void push_over(struct fts_matches *m, uint32_t i, uint32_t end, bool over)
{
	if (over && !m->nover++)
		m->first_over = i;
	if (m->n == m->cap) {
		m->cap = m->cap ? 2 * m->cap : 64;
		m->idx = fts_xrealloc(m->idx, m->cap * sizeof(*m->idx));
		if (!m->no_end)
			m->end = fts_xrealloc(m->end, m->cap * sizeof(*m->end));
	}
	m->idx[m->n] = i;
	if (!m->no_end)
		m->end[m->n] = end;
	m->n++;
}

/* The same, reading name i for the over-match test. */
static void push_match(const struct fts_names *ix, struct fts_matches *m, uint32_t i, uint32_t end)
{
	push_over(m, i, end, fts_overmatch((const char *)NAME(ix, i), LEN(ix, i), end));
}

/* Documented in resolve.h. */
void fts_matches_shrink(struct fts_matches *m)
{
	if (m->cap > m->n && m->n) {
		m->idx = fts_xrealloc(m->idx, m->n * sizeof(*m->idx));
		if (!m->no_end)
			m->end = fts_xrealloc(m->end, m->n * sizeof(*m->end));
		m->cap = m->n;
	}
}

/* Documented in resolve.h. */
void fts_matches_free(struct fts_matches *m)
{
	free(m->idx);
	free(m->end);
	m->idx = NULL;
	m->end = NULL;
	m->n = m->cap = 0;
	m->limit = false;
	m->nlimit = 0;
	m->nover = 0;
}

/* Does re match name i?  A limit hit is recorded in m and is no match. */
static bool match1(const struct fts_names *ix, const struct fts_pyre *re, uint32_t i, size_t *end,
		   struct fts_matches *m)
{
	const char *s = (const char *)NAME(ix, i);
	int r = ix->utf8 ? fts_pyre_match_unchecked(re, s, LEN(ix, i), end)
		: fts_pyre_match(re, s, LEN(ix, i), end);
	if (r < 0) {
		if (!m->limit)
			m->limit_idx = i;
		m->limit = true;
		m->nlimit++;
	}
	return r > 0;
}

/* `.*LIT`: LIT in the first line, the match ending after its last occurrence there. */
static bool match_dotstar_lit(const struct fts_names *ix, uint32_t i, const char *lit, size_t ll, size_t *end)
{
	const char *s = (const char *)NAME(ix, i), *nl, *p, *last = NULL;
	size_t n = LEN(ix, i);

	nl = memchr(s, '\n', n);
	if (nl)
		n = (size_t)(nl - s);
	for (p = s; (p = memmem(p, n - (size_t)(p - s), lit, ll)); p++)
		last = p;
	if (!last)
		return false;
	*end = (size_t)(last - s) + ll;
	return true;
}

/*
 * memmem() for a long haystack: 64 positions at a time, those where the
 * needle's first and last bytes both are (rare in parameter names) are
 * compared in full.  About 1.6x glibc's memmem over a manifest's text.
 */
static const char *find_lit(const char *h, size_t hl, const char *lit, size_t ll)
{
#if defined(__GNUC__) && defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	typedef uint8_t v16 __attribute__((vector_size(16)));
	if (ll >= 2 && hl >= ll + 64) {
		const v16 f = (v16){0} + (uint8_t)lit[0], l = (v16){0} + (uint8_t)lit[ll - 1];
		size_t i = 0;

		for (; i + ll - 1 + 64 <= hl; i += 64) {
			v16 m[4], any;
			uint64_t w[2];

			for (int k = 0; k < 4; k++) {
				v16 a, b;
				memcpy(&a, h + i + 16 * k, 16);
				memcpy(&b, h + i + 16 * k + ll - 1, 16);
				m[k] = (v16)(a == f) & (v16)(b == l);
			}
			any = m[0] | m[1] | m[2] | m[3];
			memcpy(w, &any, 16);
			if (!(w[0] | w[1]))
				continue;
			for (int k = 0; k < 4; k++) {
				memcpy(w, &m[k], 16);
				for (int half = 0; half < 2; half++) {
					while (w[half]) {
						unsigned bit = (unsigned)__builtin_ctzll(w[half]) & ~7u;
						size_t at = i + 16 * (size_t)k + 8 * (size_t)half + bit / 8;

						if (!memcmp(h + at + 1, lit + 1, ll - 2))
							return h + at;
						w[half] &= ~(0xffull << bit);
					}
				}
			}
		}
		return memmem(h + i, hl - i, lit, ll);
	}
#endif
	return memmem(h, hl, lit, ll);
}

/* Last name index in [i, n) whose name starts at or before p (names[i] does). */
static uint32_t name_at(const struct fts_names *ix, uint32_t i, const char *p)
{
	uint32_t step = 1, lo = i, hi;

	/* gallop from i, then bisect: hits come in ascending order */
	while (lo + step < ix->n && (uintptr_t)((const char *)NAME(ix, lo + step)) <= (uintptr_t)p) {
		lo += step;
		step *= 2;
	}
	hi = lo + step < ix->n ? lo + step : ix->n;
	while (hi - lo > 1) {
		uint32_t mid = lo + (hi - lo) / 2;

		if ((uintptr_t)((const char *)NAME(ix, mid)) <= (uintptr_t)p)
			lo = mid;
		else
			hi = mid;
	}
	return lo;
}

/*
 * Names that lie in one text (ix->text): the next occurrence of lit at or
 * after *p that lies inside a name, found by one memmem() over the text
 * rather than one per name.  Hits outside every name (another column, a
 * tied alias) are skipped.  *i (a name index at or before the hit) gets
 * the name; false at the end of the text.
 */
static bool text_next(const struct fts_names *ix, const char **p, uint32_t *i, const char *lit, size_t ll)
{
	const char *q = *p, *end = ix->text + ix->textlen;

	while (q < end && (q = find_lit(q, (size_t)(end - q), lit, ll)) != NULL) {
		uint32_t k = name_at(ix, *i, q);
		const char *s = ((const char *)NAME(ix, k));

		*i = k;
		if ((uintptr_t)q >= (uintptr_t)s && q + ll <= s + LEN(ix, k)) {
			*p = q;
			return true;
		}
		q++;
	}
	return false;
}

/* `.*LIT` over the text of names without newlines: the match ends after
 * the last occurrence of LIT in the name.  Appends in index order. */
static void match_dotstar_text(const struct fts_names *ix, const char *lit, size_t ll, struct fts_matches *m)
{
	const char *p = ix->text;
	uint32_t i = 0;

	while (text_next(ix, &p, &i, lit, ll)) {
		const char *s = ((const char *)NAME(ix, i)), *e = s + LEN(ix, i), *last = p, *q;

		for (q = p + 1; q + ll <= e && (q = memmem(q, (size_t)(e - q), lit, ll)) != NULL; q++)
			last = q;
		push_match(ix, m, i, (uint32_t)(last - s + ll));
		p = e;
	}
}

/* Documented in resolve.h. */
size_t fts_names_match_scan(const struct fts_names *ix, const struct fts_pyre *re, struct fts_matches *m)
{
	size_t n0 = m->n, end, rl;
	const char *req = fts_pyre_required(re, &rl);
	uint32_t i;

	if (req && ix->text) {
		/* only the names that hold the literal */
		const char *p = ix->text;

		for (i = 0; text_next(ix, &p, &i, req, rl); p = ((const char *)NAME(ix, i)) + LEN(ix, i))
			if (match1(ix, re, i, &end, m))
				push_match(ix, m, i, (uint32_t)end);
		return m->n - n0;
	}
	for (i = 0; i < ix->n; i++) {
		if (req && !memmem(NAME(ix, i), LEN(ix, i), req, rl))
			continue;
		if (match1(ix, re, i, &end, m))
			push_match(ix, m, i, (uint32_t)end);
	}
	return m->n - n0;
}

/* First sorted position in [lo, hi) whose byte at d is >= c (names in the range share d bytes). */
static uint32_t lower(const struct fts_names *ix, uint32_t lo, uint32_t hi, uint32_t d, int c)
{
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (sbyte(ix, mid, d) < c)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static bool inset(const struct fts_pyre_elem *e, int c)
{
	return e->bits[c >> 3] >> (c & 7) & 1;
}

/* A pattern's branches over one name: no match, a match ending at depth
 * (the branch is the whole pattern, or `.*?` follows), a match to the end
 * of the first line (`.*` follows), or the regex decides. */
enum verdict { V_NONE, V_AT, V_GREEDY, V_REGEX };

struct outcome {
	enum verdict v;
	uint32_t depth;         /* V_AT, V_GREEDY: bytes the branch matched */
	uint32_t need;          /* the verdict depends on the first need bytes only */
	bool last_dot;          /* V_AT: the match ends after a '.' (or is empty) */
};

/* Longest walk fts_names_match() takes per name (sum of the branches'
 * lengths); beyond it, the regex runs on every name. */
#define MAX_WALK 1024

/*
 * The verdict on name i.  reach[k] holds how far branch k got over the
 * name judged before, which shares shared bytes with this one: a branch
 * that stopped inside them stops at the same place, and one that got
 * further resumes there.
 */
static struct outcome judge(const struct fts_names *ix, const struct fts_pyre_branch *br, size_t nbr,
			    uint32_t *reach, uint32_t shared, uint32_t i)
{
	const unsigned char *s = NAME(ix, i);
	uint32_t len = LEN(ix, i), need = 0, nhit = 0;
	const struct fts_pyre_branch *hit = NULL;
	bool regex = false;

	for (size_t k = 0; k < nbr; k++) {
		const struct fts_pyre_branch *b = &br[k];
		uint32_t d = reach[k];

		if (d >= shared) {
			for (d = shared; d < b->n && d < len; d++) {
				int c = s[d];
				if (c >= 0x80 && b->elem[d].multi)
					break;
				if (!inset(&b->elem[d], c))
					break;
			}
			reach[k] = d;
		}
		if (d == b->n) {
			nhit++;
			hit = b;
			if (d > need)
				need = d;
			continue;
		}
		if (d < len && s[d] >= 0x80 && b->elem[d].multi)
			regex = true;   /* a multi-byte char: let the regex decide */
		if (d + 1 > need)
			need = d + 1;   /* bytes 0..d decided it (past the end: never shared) */
	}
	if (regex || nhit > 1 || (nhit && hit->tail == FTS_PYRE_TAIL_REGEX))
		return (struct outcome){V_REGEX, 0, need, false};
	if (!nhit)
		return (struct outcome){V_NONE, 0, need, false};
	return (struct outcome){hit->tail == FTS_PYRE_TAIL_DOTSTAR ? V_GREEDY : V_AT, hit->n, need,
				!hit->n || s[hit->n - 1] == '.'};
}

static void apply(const struct fts_names *ix, const struct fts_pyre *re, struct outcome o, bool dotall,
		  uint32_t i, struct fts_matches *m)
{
	size_t end;

	switch (o.v) {
	case V_NONE:
		return;
	case V_AT:
		/* the byte before the end is the same in the whole run */
		if (o.last_dot)
			push_over(m, i, o.depth, false);
		else
			push_match(ix, m, i, o.depth);
		return;
	case V_GREEDY: {
		const char *s = (const char *)NAME(ix, i);
		uint32_t len = LEN(ix, i);
		const char *nl = dotall || !ix->nl ? NULL : memchr(s + o.depth, '\n', len - o.depth);

		if (nl)
			push_match(ix, m, i, (uint32_t)(nl - s));
		else
			push_over(m, i, len, false);
		return;
	}
	case V_REGEX:
		if (match1(ix, re, i, &end, m))
			push_match(ix, m, i, (uint32_t)end);
		return;
	}
}

/* The first index in [j, n) whose common prefix with the name before is
 * shorter than need (at most 255), or n. */
static uint32_t next_short(const uint8_t *lcp, uint32_t j, uint32_t n, uint32_t need)
{
#if defined(__GNUC__) && defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	typedef uint8_t v16 __attribute__((vector_size(16)));
	const v16 k = (v16){0} + (uint8_t)need;

	for (; j + 16 <= n; j += 16) {
		v16 v, lt;
		uint64_t w[2];

		memcpy(&v, lcp + j, 16);
		lt = (v16)(v < k);
		memcpy(w, &lt, 16);
		if (w[0])
			return j + (uint32_t)__builtin_ctzll(w[0]) / 8;
		if (w[1])
			return j + 8 + (uint32_t)__builtin_ctzll(w[1]) / 8;
	}
#endif
	for (; j < n && lcp[j] >= need; j++)
		;
	return j;
}

/* Documented in resolve.h. */
size_t fts_names_match(const struct fts_names *ix, const struct fts_pyre *re, struct fts_matches *m)
{
	const struct fts_pyre_branch *br;
	bool dotall;
	size_t nbr = fts_pyre_branches(re, &br, &dotall), dll, n0 = m->n, end, walk = 0;
	const char *dlit = fts_pyre_dotstar_literal(re, &dll);
	const uint32_t n = ix->n;

	if (dlit && ix->utf8 && ix->text && !ix->nl && dll) {
		match_dotstar_text(ix, dlit, dll, m);
		return m->n - n0;
	}
	if (dlit && ix->utf8) {
		for (uint32_t i = 0; i < n; i++)
			if (match_dotstar_lit(ix, i, dlit, dll, &end))
				push_match(ix, m, i, (uint32_t)end);
		return m->n - n0;
	}
	/* a name that is not UTF-8 is no str of Python's and matches no
	 * pattern (fts_pyre_match()); the walk would not know: a manifest
	 * that holds one is resolved by the regex alone */
	if (!ix->utf8)
		return fts_names_match_scan(ix, re, m);
	/* a branch without a prefix: every name would go to the regex; the
	 * scan at least filters by a required literal */
	for (size_t k = 0; k < nbr; k++) {
		walk += br[k].n + 1;
		if (!br[k].n && br[k].tail == FTS_PYRE_TAIL_REGEX)
			walk = MAX_WALK + 1;
	}
	if (!nbr || walk > MAX_WALK)
		return fts_names_match_scan(ix, re, m);
	uint32_t *reach = fts_xcalloc(nbr, sizeof(*reach));
	for (uint32_t i = 0; i < n;) {
		/* the name judged last shares lcp[i] bytes with this one: those
		 * in between shared more with it */
		struct outcome o = judge(ix, br, nbr, reach, i ? ix->lcp[i] : 0, i);
		uint32_t j = i + 1;

		apply(ix, re, o, dotall, i, m);
		if (o.need > 255)
			;               /* longer than the prefixes recorded */
		else if (o.v == V_NONE)
			j = next_short(ix->lcp, j, n, o.need);
		else
			for (; j < n && ix->lcp[j] >= o.need; j++)
				apply(ix, re, o, dotall, j, m);
		i = j;
	}
	free(reach);
	return m->n - n0;
}

/* ---- suggestions ---- */

/* min over j of edit_distance(a, b[0..j)), capped at cap + 1 */
static unsigned prefix_distance(const char *a, size_t na, const char *b, size_t nb, unsigned cap)
{
	unsigned row[257], k;
	size_t i, j;

	if (na > 256)
		na = 256;
	for (i = 0; i <= na; i++)
		row[i] = (unsigned)i;
	k = row[na];
	for (j = 1; j <= nb; j++) {
		unsigned diag = row[0], rmin;

		row[0] = (unsigned)j;
		rmin = row[0];
		for (i = 1; i <= na; i++) {
			unsigned up = row[i], v = diag + (a[i - 1] != b[j - 1]);

			if (up + 1 < v)
				v = up + 1;
			if (row[i - 1] + 1 < v)
				v = row[i - 1] + 1;
			diag = up;
			row[i] = v;
			if (v < rmin)
				rmin = v;
		}
		if (row[na] < k)
			k = row[na];
		if (rmin > cap)
			break;	/* no later column can get back under the cap */
	}
	return k > cap ? cap + 1 : k;
}

static size_t lcp(const struct fts_names *ix, uint32_t pos, const char *s, size_t n)
{
	uint32_t i;
	size_t k = 0, l;

	if (pos >= ix->n)
		return 0;
	i = sorted(ix)[pos];
	l = LEN(ix, i);
	while (k < l && k < n && NAME(ix, i)[k] == (unsigned char)s[k])
		k++;
	return k;
}

struct cand {
	unsigned dist;
	uint32_t idx;
};

static int cmp_cand(const void *a, const void *b)
{
	const struct cand *x = a, *y = b;

	if (x->dist != y->dist)
		return x->dist < y->dist ? -1 : 1;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/* Documented in resolve.h. */
size_t fts_names_suggest(const struct fts_names *ix, const char *pat, size_t len, uint32_t *out, size_t max)
{
	char key[256], var[258];
	size_t kn = 0, i, nc = 0, nout = 0, l;
	unsigned cap;
	FTS_VEC(uint32_t) pos = { 0 };
	struct cand *c;

	if (!ix->n || !max)
		return 0;
	/* the pattern as the text its author probably meant */
	for (i = 0; i < len && kn < sizeof(key); i++) {
		if (pat[i] == '\\' && i + 1 < len)
			i++;
		key[kn++] = pat[i];
	}
	while (kn >= 2 && key[kn - 1] == '*' && key[kn - 2] == '.')
		kn -= 2;
	while (kn && (key[kn - 1] == '*' || key[kn - 1] == '$' || key[kn - 1] == '+'))
		kn--;
	cap = kn / 4 > 2 ? (unsigned)(kn / 4) : 2;

	/* windows around the key and around one-edit variants at the break point */
	{
		uint32_t p = lower_str(ix, key, kn);
		size_t a = lcp(ix, p, key, kn), b = p ? lcp(ix, p - 1, key, kn) : 0;
		size_t br = a > b ? a : b;

		FTS_VEC_PUSH(pos, p);
		if (br < kn) {
			/* deletion of key[br] */
			memcpy(var, key, br);
			memcpy(var + br, key + br + 1, kn - br - 1);
			FTS_VEC_PUSH(pos, lower_str(ix, var, kn - 1));
			/* substitution / insertion with every byte present at depth br */
			uint32_t lo = lower_str(ix, key, br), hi;

			memcpy(var, key, br);
			var[br] = (char)0xff;
			hi = lower_str(ix, var, br + 1);
			for (int cnt = 0; lo < hi && cnt < 64; cnt++) {
				int ch = sbyte(ix, lo, (uint32_t)br);

				if (ch < 0) {
					lo++;
					continue;
				}
				var[br] = (char)ch;
				memcpy(var + br + 1, key + br + 1, kn - br - 1);
				FTS_VEC_PUSH(pos, lower_str(ix, var, kn));
				memcpy(var + br + 1, key + br, kn - br);
				FTS_VEC_PUSH(pos, lower_str(ix, var, kn + 1));
				lo = lower(ix, lo, hi, (uint32_t)br, ch + 1);
			}
		}
	}
	c = fts_xmalloc(pos.n * 64 * sizeof(*c));
	for (i = 0; i < pos.n; i++) {
		uint32_t p = pos.v[i], lo = p > 32 ? p - 32 : 0, hi = p + 32 < ix->n ? p + 32 : ix->n;

		for (; lo < hi; lo++) {
			uint32_t idx = sorted(ix)[lo];
			unsigned d = prefix_distance(key, kn, (const char *)NAME(ix, idx), LEN(ix, idx), cap);

			if (d <= cap) {
				c[nc].dist = d;
				c[nc++].idx = idx;
			}
		}
	}
	FTS_VEC_FREE(pos);
	qsort(c, nc, sizeof(*c), cmp_cand);
	for (i = 0; i < nc && nout < max; i++) {
		if (nout && out[nout - 1] == c[i].idx)
			continue;
		for (l = 0; l < nout && out[l] != c[i].idx; l++)
			;
		if (l == nout)
			out[nout++] = c[i].idx;
	}
	free(c);
	return nout;
}

/* Documented in resolve.h. */
bool fts_overmatch(const char *name, size_t namelen, size_t match_end)
{
	if (match_end == 0 || match_end >= namelen)
		return false;
	return name[match_end - 1] != '.' && name[match_end] != '.';
}
