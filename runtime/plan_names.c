/*
 * plan_names.c - the NAME section: checking it when a plan is opened, and
 * decoding it (see plan_names.h and ftsplan(5)).
 *
 * Also rt_plan_names (plan.h): a loaded plan's names, decoded on first use.
 *
 * Stage: runtime (loading).  A name is the first `shared` bytes of the name
 * before it followed by its own suffix.  The lengths come first, two bytes
 * a name in practice, then every suffix back to back: the check is one
 * pass over the lengths and one memchr for NUL over the suffixes, no
 * per-name copying; decoding waits until a name is wanted.
 */
#include "plan_names.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "plan.h"
#include "plan_format.h"

/* An unsigned LEB128 below 2^32 in minimal form at *p (before end); NULL
 * when it is not one. */
static const uint8_t *leb128(const uint8_t *p, const uint8_t *end, uint32_t *v)
{
	uint64_t x = 0;
	for (int k = 0; k < 5 && p < end; k++) {
		uint8_t b = *p++;
		x |= (uint64_t)(b & 0x7F) << (7 * k);
		if (!(b & 0x80)) {
			if ((k && !b) || x > UINT32_MAX)
				return NULL;    /* not minimal, or too large */
			*v = (uint32_t)x;
			return p;
		}
	}
	return NULL;
}

/* The suffix length at *p: one byte in the common case. */
static inline const uint8_t *suffix_len(const uint8_t *p, const uint8_t *end, uint32_t *v)
{
	if (p < end && *p < 0x80) {
		*v = *p;
		return p + 1;
	}
	return leb128(p, end, v);
}

/*
 * The common case, every suffix shorter than 128 bytes: the length list is
 * pairs (shared, suffix length), and each rule is a comparison of
 * neighbours, with no branch and no carried state but the sums.  False
 * when any rule fails: the general loop then finds and words it.
 */
static bool pairs_ok(const uint8_t *l, uint32_t n, uint64_t *suffixes, uint64_t *total)
{
	uint32_t bad = 0, prev = 0;     /* the first name shares nothing */
	uint64_t suf = 0, all = 0;
	for (uint32_t i = 0; i < n; i++) {
		uint32_t sh = l[2 * (size_t)i], sl = l[2 * (size_t)i + 1];
		bad |= (uint32_t)(sh > prev) | (sl >> 7);
		prev = sh + sl;
		bad |= (uint32_t)(prev == 0);
		suf += sl;
		all += prev + 1;
	}
	*suffixes = suf;
	*total = all;
	return !bad;
}

int rt_names_check(const uint8_t *body, uint64_t len, uint32_t n, uint32_t lengths,
		   uint64_t *decoded, char *msg, size_t msglen)
{
	if (lengths > len) {
		snprintf(msg, msglen, "section NAME: %" PRIu32 " bytes of lengths in a %" PRIu64
			 "-byte section", lengths, len);
		return -1;
	}
	const uint8_t *p = body, *end = body + lengths;
	uint64_t prev = 0, suffixes = 0, total = 0;
	if (lengths == 2 * (uint64_t)n && pairs_ok(body, n, &suffixes, &total)) {
		p = end;                /* the common case, checked without branches */
		n = 0;
	}
	for (uint32_t i = 0; i < n; i++) {
		uint32_t shared, slen;
		if (p == end) {
			snprintf(msg, msglen, "name %" PRIu32 ": the length list ends early", i);
			return -1;
		}
		shared = *p++;
		if (!(p = suffix_len(p, end, &slen))) {
			snprintf(msg, msglen, "name %" PRIu32 ": bad suffix length", i);
			return -1;
		}
		if (shared > prev) {
			snprintf(msg, msglen, "name %" PRIu32 ": shares %" PRIu32 " bytes with a name of %"
				 PRIu64, i, shared, prev);
			return -1;
		}
		prev = (uint64_t)shared + slen;
		if (!prev) {
			snprintf(msg, msglen, "name %" PRIu32 " is empty", i);
			return -1;
		}
		suffixes += slen;
		total += prev + 1;
	}
	if (p != end) {
		snprintf(msg, msglen, "section NAME: %td bytes after the last name's lengths", end - p);
		return -1;
	}
	if (suffixes != len - lengths) {
		snprintf(msg, msglen, "section NAME: the names' suffixes take %" PRIu64 " bytes, the "
			 "section has %" PRIu64, suffixes, len - lengths);
		return -1;
	}
	const uint8_t *nul = memchr(end, 0, (size_t)suffixes);
	if (nul) {
		snprintf(msg, msglen, "section NAME: a NUL byte in a name (suffix byte %td)", nul - end);
		return -1;
	}
	*decoded = total;
	return 0;
}

void rt_names_decode(const uint8_t *body, uint32_t lengths, uint32_t n, const char **out, char *buf)
{
	const uint8_t *p = body, *end = body + lengths, *s = end;
	const char *prev = buf;
	char *w = buf;
	for (uint32_t i = 0; i < n; i++) {
		uint32_t shared = *p++, slen = 0;
		p = suffix_len(p, end, &slen);
		if (shared)
			memcpy(w, prev, shared);
		memcpy(w + shared, s, slen);
		s += slen;
		w[shared + slen] = '\0';
		out[i] = prev = w;
		w += (size_t)shared + slen + 1;
	}
}

int rt_names_cache_init(struct rt_plan_names_cache *c, const uint8_t *sec, uint64_t len,
			uint32_t nparams, ftsrt_alloc_fn alloc, void *ud, char *msg, size_t msglen)
{
	uint32_t n = PLAN_GET(NAMH, sec, nnames), lengths = PLAN_GET(NAMH, sec, lengths);
	uint64_t decoded = 0;
	size_t bytes;
	if (n != nparams) {
		snprintf(msg, msglen, "section NAME: %" PRIu32 " names for %" PRIu32 " parameters", n,
			 nparams);
		return FTSRT_EFORMAT;
	}
	if (rt_names_check(sec + PLAN_NAME_HEAD, len - PLAN_NAME_HEAD, n, lengths, &decoded, msg,
			   msglen))
		return FTSRT_EFORMAT;
	if (decoded > SIZE_MAX || __builtin_mul_overflow((size_t)n, sizeof(char *), &bytes) ||
	    __builtin_add_overflow(bytes, (size_t)decoded, &bytes)) {
		snprintf(msg, msglen, "section NAME: %" PRIu64 " bytes of names", decoded);
		return FTSRT_ENOMEM;
	}
	c->body = sec + PLAN_NAME_HEAD;
	c->lengths = lengths;
	c->n = n;
	c->bytes = bytes ? bytes : 1;
	c->alloc = alloc;
	c->ud = ud;
	atomic_init(&c->block, NULL);
	/* the name table: a power of two at least twice the names, u32 entries */
	size_t cap = 16;
	while (cap < 2 * (size_t)n)
		cap *= 2;
	c->table_bytes = cap * sizeof(uint32_t);
	atomic_init(&c->table, NULL);
	return FTSRT_OK;
}

void rt_names_cache_release(struct rt_plan_names_cache *c)
{
	void *blk = atomic_load_explicit(&c->block, memory_order_acquire);
	if (blk)
		c->alloc(c->ud, blk, c->bytes, 0);
	atomic_store_explicit(&c->block, NULL, memory_order_relaxed);
	void *t = atomic_load_explicit(&c->table, memory_order_acquire);
	if (t)
		c->alloc(c->ud, t, c->table_bytes, 0);
	atomic_store_explicit(&c->table, NULL, memory_order_relaxed);
}

const char *const *rt_plan_names(const struct rt_plan *v)
{
	/* a loaded plan's one lazily filled field, set once with a
	 * compare-and-swap */
	struct rt_plan_names_cache *c = v->names_cache;
	if (v->names || !c)
		return v->names;
	void *blk = atomic_load_explicit(&c->block, memory_order_acquire);
	if (blk)
		return blk;
	blk = c->alloc(c->ud, NULL, 0, c->bytes);
	if (!blk)
		return NULL;
	rt_names_decode(c->body, c->lengths, c->n, blk, (char *)blk + (size_t)c->n * sizeof(char *));
	void *none = NULL;
	if (!atomic_compare_exchange_strong_explicit(&c->block, &none, blk, memory_order_acq_rel,
						     memory_order_acquire)) {
		c->alloc(c->ud, blk, c->bytes, 0);
		blk = none;             /* another thread's, complete */
	}
	return blk;
}

/* A hash of a name 8 bytes at a step (the table's only; not stored). */
static uint64_t name_hash(const char *s)
{
	size_t n = strlen(s);
	uint64_t h = 0x9E3779B97F4A7C15ull ^ n, w;
	for (; n >= 8; s += 8, n -= 8) {
		memcpy(&w, s, 8);
		h = (h ^ w) * 0xFF51AFD7ED558CCDull;
		h ^= h >> 32;
	}
	w = 0;
	memcpy(&w, s, n);
	h = (h ^ w) * 0xC4CEB9FE1A85EC53ull;
	return h ^ (h >> 29);
}

/* The open-addressing table of a loaded plan's names (slot: index + 1, 0
 * empty; inserted in index order, so a lookup finds the first of equal
 * names), built once like the names; NULL when out of memory. */
static const uint32_t *name_table(struct rt_plan_names_cache *c, const char *const *names)
{
	uint32_t *t = atomic_load_explicit(&c->table, memory_order_acquire);
	if (t)
		return t;
	if (!(t = c->alloc(c->ud, NULL, 0, c->table_bytes)))
		return NULL;
	size_t mask = c->table_bytes / sizeof(uint32_t) - 1;
	memset(t, 0, c->table_bytes);
	for (uint32_t i = 0; i < c->n; i++) {
		size_t h = (size_t)name_hash(names[i]);
		while (t[h & mask])
			h++;
		t[h & mask] = i + 1;
	}
	void *none = NULL;
	if (!atomic_compare_exchange_strong_explicit(&c->table, &none, t, memory_order_acq_rel,
						     memory_order_acquire)) {
		c->alloc(c->ud, t, c->table_bytes, 0);
		t = none;
	}
	return t;
}

int32_t rt_plan_name_index(const struct rt_plan *v, const char *name)
{
	const char *const *names = rt_plan_names(v);
	if (!names)
		return -1;
	const uint32_t *t = v->names ? NULL : name_table(v->names_cache, names);
	if (!t) {                       /* a view built by hand, or out of memory */
		for (uint32_t i = 0; i < v->nparams; i++)
			if (!strcmp(names[i], name))
				return (int32_t)i;
		return -1;
	}
	size_t mask = v->names_cache->table_bytes / sizeof(uint32_t) - 1;
	for (size_t h = (size_t)name_hash(name);; h++) {
		uint32_t e = t[h & mask];
		if (!e)
			return -1;
		if (!strcmp(names[e - 1], name))
			return (int32_t)(e - 1);
	}
}
