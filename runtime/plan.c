/*
 * plan.c - the plan reader: ftsrt_plan_open reads a plan file (ftsplan(5)),
 * validates every byte of it and decodes the view of runtime/plan.h.
 *
 * Stage: runtime (loading).  The layout is in plan_records.def: fields are
 * read by name (PLAN_GET), and what the table says of a field (its bound,
 * that it is reserved) is checked by plan_records.c; what a table cannot
 * say (references, orderings, relations between fields) is checked here.
 * Each plan_load_x mirrors emit_x in compiler/emit.c.  Order of checks:
 * header (magic first, then versions, probes, size, CRC), section table
 * (ids, flags, order, padding, CRCs), pools, then each section's records,
 * every reference checked against its table before it is followed.  Any
 * failure returns a status and a message; nothing here exits or aborts,
 * and there is no global state.  The file is read by plan_file.c; the
 * public accessors and listings are in plan_api.c, the plan's identity in plan_identity.c, the names (NAME,
 * front-coded: checked here, decoded on first use) in plan_names.c.  The
 * view points into the file wherever the bytes are the value: pools, and
 * the manifest's records (struct rt_plan_param), so opening a plan does no
 * per-parameter copying or allocation.
 */
#include "plan.h"
#include "mem.h"

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "ftsrt.h"
#include "lambda.h"
#include "plan_format.h"
#include "plan_file.h"
#include "plan_names.h"
#include "plan_records.h"
#include "err.h"

_Static_assert((int)RT_DTYPE_F32 == (int)PLAN_DTYPE_F32 && (int)RT_DTYPE_OTHER == (int)PLAN_DTYPE_OTHER,
	       "enum rt_dtype mirrors enum plan_dtype");
_Static_assert((int)RT_ARG_NONE == (int)PLAN_ARG_NONE && (int)RT_ARG_FLOATS == (int)PLAN_ARG_FLOATS,
	       "enum rt_arg_kind mirrors enum plan_arg_kind");
_Static_assert((int)RT_LR_UNKNOWN == (int)PLAN_LR_UNKNOWN, "lr kinds");
_Static_assert((int)RT_SRC_NEW_LR_SCHEDULER == (int)PLAN_SRC_NEW_LR_SCHEDULER, "src kinds");
_Static_assert((int)RT_RESTORE_FAILS == (int)PLAN_RESTORE_FAILS &&
	       (int)PLAN_RESTORE_COUNT_ == 2, "restore kinds");
/* the view's params are the file's MANI records */
_Static_assert(sizeof(struct rt_plan_param) == PLAN_SIZE(MANI) &&
	       offsetof(struct rt_plan_param, shape) == PLAN_OFF(MANI, shape) &&
	       offsetof(struct rt_plan_param, tied_to) == PLAN_OFF(MANI, tied_to) &&
	       PLAN_MANI_HEAD % 8 == 0, "struct rt_plan_param is a MANI record");

#define PLAN_MAX_BLOCKS 16              /* the loader takes 10 */

struct ftsrt_plan {
	struct rt_plan view;
	ftsrt_alloc_fn alloc;
	void *ud;
	const uint8_t *base;            /* the file's bytes */
	void *base_block;               /* the block holding them (plan_file_buffer) */
	size_t size;
	struct rt_plan_shape *shapes;
	struct rt_plan_names_cache names;
	struct rt_plan_phase *phases;
	struct rt_plan_class *classes;
	struct rt_plan_arg *args;
	bool *argforce;                 /* per argument: ARGS byte 7 (setstates) */
	const char **strv;              /* slot, reads and no_decay pointer arrays */
	size_t nstrv;
	struct rt_plan_group *groups;
	struct rt_plan_src *src;
	struct rt_plan_restore *restores;
	/* every block taken from alloc, with its size: lua_Alloc-style
	 * allocators are told the size of what they free */
	struct {
		void *q;
		size_t bytes;
	} blocks[PLAN_MAX_BLOCKS];
	int nblocks;
};

static const struct {
	const char *fourcc;
	uint32_t flags;
	uint32_t record;
	uint32_t head;
	int rec;                        /* enum plan_record_kind of its records */
	const char *what;
} sec_info[PLAN_SEC_COUNT_] = {
#define PLAN_SECTION(name, fourcc, flags, head, what) \
	[PLAN_SEC_##name] = {fourcc, flags, PLAN_SIZE(name), head, PLAN_REC_##name, what},
#include "plan_ops.def"
#undef PLAN_SECTION
};

/* The names of one record of each section, in messages ("class 3: ..."). */
static const char *const rec_noun[PLAN_SEC_COUNT_] = {
	[PLAN_SEC_STRS] = "string table byte", [PLAN_SEC_I64P] = "int64 pool entry",
	[PLAN_SEC_F64P] = "float64 pool entry", [PLAN_SEC_U32P] = "uint32 pool entry",
	[PLAN_SEC_BLOB] = "byte pool byte", [PLAN_SEC_SHAP] = "shape",
	[PLAN_SEC_MANI] = "parameter", [PLAN_SEC_NAME] = "name byte",
	[PLAN_SEC_CLSS] = "class", [PLAN_SEC_ARGS] = "argument", [PLAN_SEC_PHAS] = "phase",
	[PLAN_SEC_SETT] = "settings record", [PLAN_SEC_GRPS] = "group",
	[PLAN_SEC_SMAP] = "source map entry", [PLAN_SEC_RSTR] = "restore entry",
};

struct sec {
	const uint8_t *p;
	uint64_t len;
	uint64_t n;                     /* records (after the head) */
	bool present;
};

/* Loading state (on the stack of ftsrt_plan_open). */
struct ld {
	struct ftsrt_plan *p;
	const uint8_t *b;
	uint64_t size;
	struct sec s[PLAN_SEC_COUNT_];
	uint64_t budget[PLAN_SEC_COUNT_];       /* pool entries not yet referenced */
	ftsrt_error *err;               /* the caller's, or NULL */
};

/* the caller's err (rt_error), returning status */
#define fail(ld, status, ...) rt_error((ld)->err, (status), __VA_ARGS__)

/* n * size bytes from the plan's allocator (at least 1), or NULL; zeroed
 * unless the caller fills every byte itself (zero false). */
static void *plan_alloc_raw(struct ftsrt_plan *p, size_t n, size_t size, bool zero)
{
	size_t bytes;
	if (__builtin_mul_overflow(n, size, &bytes) || p->nblocks == PLAN_MAX_BLOCKS)
		return NULL;
	bytes = bytes ? bytes : 1;
	void *q = p->alloc(p->ud, NULL, 0, bytes);
	if (!q)
		return NULL;
	if (zero)
		memset(q, 0, bytes);
	p->blocks[p->nblocks].q = q;
	p->blocks[p->nblocks++].bytes = bytes;
	return q;
}

/*
 * The file's bytes, in p->base_block.  With the default allocator a large
 * buffer starts on a 2 MiB boundary inside a block 2 MiB longer, advised
 * for transparent huge pages: a process that opens one plan would
 * otherwise pay a page fault for every 4 KiB of it, most of the first open
 * at 500k parameters (2,800 faults).  A plain malloc'd block (not
 * posix_memalign) is what glibc reuses when plans are opened again.
 */
#define PLAN_HUGE ((size_t)2 << 20)

static uint8_t *plan_file_buffer(struct ftsrt_plan *p, size_t n)
{
#ifdef MADV_HUGEPAGE
	if (p->alloc == rt_default_alloc && n >= 4 * PLAN_HUGE) {
		uint8_t *q = plan_alloc_raw(p, n + PLAN_HUGE, 1, false);
		if (!q)
			return NULL;
		p->base_block = q;
		q += (PLAN_HUGE - (uintptr_t)q % PLAN_HUGE) % PLAN_HUGE;
		madvise(q, n & ~(PLAN_HUGE - 1), MADV_HUGEPAGE);
		return q;
	}
#endif
	return p->base_block = plan_alloc_raw(p, n, 1, false);
}

static uint8_t *file_buffer_cb(void *ctx, size_t n)
{
	return plan_file_buffer(ctx, n);
}

static void *plan_alloc(struct ftsrt_plan *p, size_t n, size_t size)
{
	return plan_alloc_raw(p, n, size, true);
}

static void plan_free(struct ftsrt_plan *p, void *q)
{
	for (int k = 0; q && k < p->nblocks; k++)
		if (p->blocks[k].q == q) {
			p->alloc(p->ud, q, p->blocks[k].bytes, 0);
			p->blocks[k] = p->blocks[--p->nblocks];
			return;
		}
}

/* ---- records: the table's rules (plan_records.c) ------------------------------------- */

/* The record at r keeps the table's rules, or the refusal naming it. */
static inline int rec_check(struct ld *ld, const struct rt_rec_check *c, const uint8_t *r,
			    const char *what, uint64_t i)
{
	if (rt_rec_ok(c, r))
		return FTSRT_OK;
	if (ld->err) {
		ld->err->status = FTSRT_EFORMAT;
		rt_rec_refuse(c, r, what, i, ld->err->message, sizeof(ld->err->message));
	}
	return FTSRT_EFORMAT;
}

/* ---- references ------------------------------------------------------------ */

/* A string reference: *out gets the string, or NULL for NOSTR when allowed. */
static bool get_str(struct ld *ld, uint32_t off, bool nullable, const char **out)
{
	if (off == PLAN_NOSTR && nullable) {
		*out = NULL;
		return true;
	}
	if (off >= ld->s[PLAN_SEC_STRS].len)
		return false;
	*out = (const char *)ld->s[PLAN_SEC_STRS].p + off;
	return true;
}

/* [idx, idx + n) inside a pool of `count` entries. */
static bool in_pool(const struct ld *ld, int sec, uint32_t idx, uint32_t n)
{
	uint64_t count = ld->s[sec].n;
	return idx <= count && n <= count - idx;
}

/*
 * in_pool, and charge the range to the pool: a writer gives every list its
 * own entries, so the lists that reference a pool add up to at most its
 * size.  This bounds the loader's work and memory by the file's size
 * (overlapping lists could otherwise make a small file cost quadratic time).
 */
static bool take(struct ld *ld, int sec, uint32_t idx, uint32_t n)
{
	if (!in_pool(ld, sec, idx, n) || n > ld->budget[sec])
		return false;
	ld->budget[sec] -= n;
	return true;
}

/* ---- header and section table ------------------------------------------------- */

static int plan_check_header(struct ld *ld, uint32_t *nsec)
{
	const uint8_t *b = ld->b;
	if (ld->size < PLAN_MAGIC_LEN || memcmp(b + PLAN_OFF(HDR, magic), PLAN_MAGIC, PLAN_MAGIC_LEN) != 0)
		return fail(ld, FTSRT_EFORMAT, "not a plan file (bad magic)");
	if (ld->size < PLAN_HEADER_SIZE)
		return fail(ld, FTSRT_EFORMAT, "truncated header (%" PRIu64 " bytes)", ld->size);
	uint16_t major = PLAN_GET(HDR, b, format_major), minor = PLAN_GET(HDR, b, format_minor);
	uint16_t min_reader = PLAN_GET(HDR, b, min_reader_minor);
	uint16_t hsize = PLAN_GET(HDR, b, header_size);
	/* versions before the CRC: a newer plan may checksum differently */
	if (major < PLAN_FORMAT_MAJOR)
		return fail(ld, FTSRT_EVERSION, "plan format %u.%u is older than this reader's %d.x: "
			    "rebuild the plan with ftsc build", major, minor, PLAN_FORMAT_MAJOR);
	if (major != PLAN_FORMAT_MAJOR)
		return fail(ld, FTSRT_EVERSION, "plan format %u.%u; this reader reads %d.x", major,
			    minor, PLAN_FORMAT_MAJOR);
	if (min_reader > PLAN_FORMAT_MINOR)
		return fail(ld, FTSRT_EVERSION, "plan format %u.%u needs a reader of %u.%u or newer "
			    "(this one reads %d.%d)", major, minor, major, min_reader,
			    PLAN_FORMAT_MAJOR, PLAN_FORMAT_MINOR);
	if (min_reader > minor)
		return fail(ld, FTSRT_EFORMAT, "min_reader_minor %u above format_minor %u",
			    min_reader, minor);
	if (hsize != PLAN_HEADER_SIZE)
		return fail(ld, FTSRT_EFORMAT, "header_size %u, expected %d", hsize, PLAN_HEADER_SIZE);
	if (PLAN_GET(HDR, b, probe_u32) != PLAN_PROBE_U32 ||
	    PLAN_GET(HDR, b, probe_f64) != PLAN_PROBE_F64)
		return fail(ld, FTSRT_EFORMAT, "integer or float probe mismatch (byte order or "
			    "float format)");
	uint64_t fsize = PLAN_GET(HDR, b, file_size);
	if (fsize != ld->size)
		return fail(ld, FTSRT_EFORMAT, "file is %" PRIu64 " bytes, header says %" PRIu64
			    " (truncated or extended)", ld->size, fsize);
	uint32_t n = PLAN_GET(HDR, b, section_count);
	if (n == 0 || n > PLAN_MAX_SECTIONS)
		return fail(ld, FTSRT_EFORMAT, "section_count %" PRIu32 " outside 1..%d", n,
			    PLAN_MAX_SECTIONS);
	uint64_t tend = PLAN_HEADER_SIZE + (uint64_t)n * PLAN_SECTION_ENTRY;
	if (tend > ld->size)
		return fail(ld, FTSRT_EFORMAT, "section table runs past the end of the file");
	uint32_t crc = plan_crc32c(0, b, PLAN_HEADER_CRC_SPAN);
	crc = plan_crc32c(crc, b + PLAN_HEADER_SIZE, tend - PLAN_HEADER_SIZE);
	if (crc != PLAN_GET(HDR, b, header_crc32c))
		return fail(ld, FTSRT_EFORMAT, "header CRC-32C mismatch");
	ld->p->view.format_major = major;
	ld->p->view.format_minor = minor;
	*nsec = n;
	return FTSRT_OK;
}

static int find_kind(uint32_t id)
{
	for (int k = 0; k < PLAN_SEC_COUNT_; k++)
		if (PLAN_FOURCC(sec_info[k].fourcc) == id)
			return k;
	return -1;
}

static void fourcc_str(uint32_t id, char out[5])
{
	for (int k = 0; k < 4; k++) {
		char c = (char)(id >> (8 * k));
		out[k] = c >= 0x20 && c < 0x7f ? c : '?';
	}
	out[4] = '\0';
}

static int plan_load_sections(struct ld *ld, uint32_t n)
{
	const uint8_t *b = ld->b;
	uint64_t pos = plan_align8(PLAN_HEADER_SIZE + (uint64_t)n * PLAN_SECTION_ENTRY);
	uint64_t tend = PLAN_HEADER_SIZE + (uint64_t)n * PLAN_SECTION_ENTRY;
	for (uint64_t k = tend; k < pos && k < ld->size; k++)
		if (b[k])
			return fail(ld, FTSRT_EFORMAT, "non-zero padding after the section table");
	struct rt_rec_check sect;
	rt_rec_check_init(&sect, PLAN_REC_SECT);
	for (uint32_t i = 0; i < n; i++) {
		const uint8_t *e = b + PLAN_HEADER_SIZE + (size_t)i * PLAN_SECTION_ENTRY;
		uint32_t id = PLAN_GET(SECT, e, id), flags = PLAN_GET(SECT, e, flags);
		uint64_t off = PLAN_GET(SECT, e, offset), len = PLAN_GET(SECT, e, length);
		int rc = rec_check(ld, &sect, e, "section table entry", i);
		if (rc)
			return rc;
		char name[5];
		fourcc_str(id, name);
		if (off != pos)
			return fail(ld, FTSRT_EFORMAT, "section %s at offset %" PRIu64 ", expected %" PRIu64,
				    name, off, pos);
		if (off > ld->size || len > ld->size - off)
			return fail(ld, FTSRT_EFORMAT, "section %s runs past the end of the file", name);
		if (plan_crc32c(0, b + off, len) != PLAN_GET(SECT, e, crc32c))
			return fail(ld, FTSRT_EFORMAT, "section %s: CRC-32C mismatch", name);
		uint64_t end = off + len;
		pos = i + 1 < n ? plan_align8(end) : end;
		if (pos > ld->size)
			return fail(ld, FTSRT_EFORMAT, "section %s: padding runs past the end of the file",
				    name);
		for (uint64_t k = end; k < pos; k++)
			if (b[k])
				return fail(ld, FTSRT_EFORMAT, "section %s: non-zero padding", name);
		int kind = find_kind(id);
		if (kind < 0) {
			if (flags & PLAN_SECF_OPTIONAL)
				continue;       /* a newer minor's optional section */
			return fail(ld, FTSRT_EFORMAT, "unknown required section %s", name);
		}
		if (flags != sec_info[kind].flags)
			return fail(ld, FTSRT_EFORMAT, "section %s: wrong flags %" PRIu32, name, flags);
		struct sec *s = &ld->s[kind];
		if (s->present)
			return fail(ld, FTSRT_EFORMAT, "section %s appears twice", name);
		if (len < sec_info[kind].head || (len - sec_info[kind].head) % sec_info[kind].record)
			return fail(ld, FTSRT_EFORMAT, "section %s: length %" PRIu64
				    " is not a whole number of %" PRIu32 "-byte records", name, len,
				    sec_info[kind].record);
		s->p = b + off;
		s->len = len;
		s->n = (len - sec_info[kind].head) / sec_info[kind].record;
		s->present = true;
	}
	if (pos != ld->size)
		return fail(ld, FTSRT_EFORMAT, "%" PRIu64 " bytes after the last section",
			    ld->size - pos);
	for (int k = 0; k < PLAN_SEC_COUNT_; k++)
		ld->budget[k] = ld->s[k].n;
	for (int k = 0; k < PLAN_SEC_COUNT_; k++)
		if (!ld->s[k].present && !(sec_info[k].flags & PLAN_SECF_OPTIONAL))
			return fail(ld, FTSRT_EFORMAT, "required section %s (%s) is missing",
				    sec_info[k].fourcc, sec_info[k].what);
	/* every reference is a u32, every public index an int32_t */
	for (int k = 0; k < PLAN_SEC_COUNT_; k++)
		if (ld->s[k].n > INT32_MAX)
			return fail(ld, FTSRT_EFORMAT, "section %s has too many records",
				    sec_info[k].fourcc);
	/* what the table says of every record's fields (not the heads, which
	 * their loaders check; the table bounds no field of MANI, the largest
	 * section, so it is not walked here) */
	for (int k = 0; k < PLAN_SEC_COUNT_; k++) {
		const struct sec *s = &ld->s[k];
		if (!s->present)
			continue;
		struct rt_rec_check chk;
		rt_rec_check_init(&chk, sec_info[k].rec);
		if (!chk.nwords && !chk.nranges)
			continue;
		for (uint64_t i = 0; i < s->n; i++) {
			int rc = rec_check(ld, &chk, s->p + sec_info[k].head + i * sec_info[k].record,
					   rec_noun[k], i);
			if (rc)
				return rc;
		}
	}
	return FTSRT_OK;
}

static int plan_load_strings(struct ld *ld)
{
	const struct sec *s = &ld->s[PLAN_SEC_STRS];
	if (s->len == 0 || s->p[0] != 0 || s->p[s->len - 1] != 0)
		return fail(ld, FTSRT_EFORMAT, "section STRS: must start and end with a NUL byte");
	return FTSRT_OK;
}

/* ---- manifest ------------------------------------------------------------------- */

static int plan_load_shapes(struct ld *ld)
{
	struct ftsrt_plan *p = ld->p;
	const struct sec *s = &ld->s[PLAN_SEC_SHAP];
	const int64_t *dims = (const int64_t *)(const void *)ld->s[PLAN_SEC_I64P].p;
	p->shapes = plan_alloc(p, s->n, sizeof(*p->shapes));
	if (!p->shapes)
		return fail(ld, FTSRT_ENOMEM, "out of memory (%" PRIu64 " shapes)", s->n);
	for (uint64_t i = 0; i < s->n; i++) {
		const uint8_t *r = s->p + i * PLAN_SIZE(SHAP);
		struct rt_plan_shape *q = &p->shapes[i];
		uint32_t d0 = PLAN_GET(SHAP, r, dims);
		uint8_t ndim = PLAN_GET(SHAP, r, ndim);   /* bounds: plan_records.def */
		if (!get_str(ld, PLAN_GET(SHAP, r, dtype_name), false, &q->dtype_name))
			return fail(ld, FTSRT_EFORMAT, "shape %" PRIu64 ": bad string reference", i);
		if (!take(ld, PLAN_SEC_I64P, d0, ndim))
			return fail(ld, FTSRT_EFORMAT, "shape %" PRIu64 ": bad dimensions", i);
		uint64_t numel = 1;
		for (uint32_t k = 0; k < ndim; k++) {
			int64_t d = dims[d0 + k];
			if (d < 0 || __builtin_mul_overflow(numel, (uint64_t)d, &numel))
				return fail(ld, FTSRT_EFORMAT, "shape %" PRIu64 ": bad dimension %" PRId64,
					    i, d);
		}
		q->ndim = ndim;
		q->dims = dims + d0;
		q->numel = numel;
		q->dtype = PLAN_GET(SHAP, r, dtype);
		q->requires_grad = PLAN_GET(SHAP, r, requires_grad);
	}
	p->view.shapes = p->shapes;
	p->view.nshapes = (uint32_t)s->n;
	return FTSRT_OK;
}

/* The records are the view's params as they lie in the file; each is checked
 * here (the table bounds none of their fields). */
static int plan_load_manifest(struct ld *ld)
{
	struct ftsrt_plan *p = ld->p;
	const struct sec *s = &ld->s[PLAN_SEC_MANI];
	const uint8_t *h = s->p;
	struct rt_rec_check rc_head;
	rt_rec_check_init(&rc_head, PLAN_REC_MANH);
	int st = rec_check(ld, &rc_head, h, "manifest head", 0);
	if (st)
		return st;
	uint32_t n = PLAN_GET(MANH, h, nparams);
	if (n != s->n)
		return fail(ld, FTSRT_EFORMAT, "section MANI: nparams %" PRIu32 " does not match its "
			    "length (%" PRIu64 " records)", n, s->n);
	p->view.manifest_hash = PLAN_GET(MANH, h, manifest_hash);
	const struct rt_plan_param *q = (const struct rt_plan_param *)(const void *)(h + PLAN_MANI_HEAD);
	const struct rt_plan_shape *shapes = p->shapes;
	uint32_t nshapes = p->view.nshapes;
	uint64_t total = 0;
	for (uint32_t i = 0; i < n; i++) {
		uint32_t sh = q[i].shape;
		int32_t tied = q[i].tied_to;
		if (sh >= nshapes)
			return fail(ld, FTSRT_EFORMAT, "parameter %" PRIu32 ": shape %" PRIu32 " of %"
				    PRIu32, i, sh, nshapes);
		if (tied != -1) {
			if (tied < 0 || (uint32_t)tied >= i || q[tied].tied_to != -1)
				return fail(ld, FTSRT_EFORMAT, "parameter %" PRIu32 ": tied_to %" PRId32
					    " is not an earlier untied parameter", i, tied);
			continue;
		}
		/* every arena a run sizes from these must fit, in bytes of 8-byte elements */
		if (__builtin_add_overflow(total, shapes[sh].numel, &total) || total > PLAN_MAX_ELEMENTS)
			return fail(ld, FTSRT_EFORMAT, "parameter %" PRIu32 ": the parameters hold more than "
				    "2^60 elements in all", i);
	}
	p->view.params = q;
	p->view.nparams = n;
	return FTSRT_OK;
}

/* NAME: checked now, decoded by the first rt_plan_names (plan_names.c). */
static int plan_load_names(struct ld *ld)
{
	struct ftsrt_plan *p = ld->p;
	const struct sec *s = &ld->s[PLAN_SEC_NAME];
	char msg[200];
	int st = rt_names_cache_init(&p->names, s->p, s->len, p->view.nparams, p->alloc, p->ud, msg,
				     sizeof(msg));
	if (st)
		return fail(ld, st, "%s", msg);
	p->view.names_cache = &p->names;
	return FTSRT_OK;
}

/* ---- classes and arguments ---------------------------------------------------------- */

static int plan_load_args(struct ld *ld)
{
	struct ftsrt_plan *p = ld->p;
	const struct sec *s = &ld->s[PLAN_SEC_ARGS];
	const double *f64 = (const double *)(const void *)ld->s[PLAN_SEC_F64P].p;
	p->args = plan_alloc(p, s->n, sizeof(*p->args));
	p->argforce = plan_alloc(p, s->n, sizeof(*p->argforce));
	if (!p->args || !p->argforce)
		return fail(ld, FTSRT_ENOMEM, "out of memory (arguments)");
	for (uint64_t i = 0; i < s->n; i++) {
		const uint8_t *r = s->p + i * PLAN_SIZE(ARGS);
		struct rt_plan_arg *a = &p->args[i];
		uint8_t kind = PLAN_GET(ARGS, r, kind);
		uint32_t v = PLAN_GET(ARGS, r, v), n = PLAN_GET(ARGS, r, n);
		if (!get_str(ld, PLAN_GET(ARGS, r, name), false, &a->name) ||
		    !get_str(ld, PLAN_GET(ARGS, r, s), kind != PLAN_ARG_STR, &a->s))
			return fail(ld, FTSRT_EFORMAT, "argument %" PRIu64 ": bad string reference", i);
		if (kind != PLAN_ARG_STR && a->s)
			return fail(ld, FTSRT_EFORMAT, "argument %" PRIu64 ": string on a non-string", i);
		if (kind == PLAN_ARG_FLOATS ? !take(ld, PLAN_SEC_F64P, v, n) : (v || n))
			return fail(ld, FTSRT_EFORMAT, "argument %" PRIu64 " ('%s'): bad value list", i,
				    a->name);
		a->kind = kind;
		a->given = PLAN_GET(ARGS, r, given);
		a->b = PLAN_GET(ARGS, r, b);
		p->argforce[i] = PLAN_GET(ARGS, r, force);
		a->i = PLAN_GET(ARGS, r, i);
		a->f = PLAN_GET(ARGS, r, f);
		a->v = kind == PLAN_ARG_FLOATS ? f64 + v : NULL;
		a->n = n;
	}
	return FTSRT_OK;
}

/* Pointers to the strings whose references are pool[idx..idx+n). */
static const char **str_list(struct ld *ld, uint32_t idx, uint32_t n, size_t *used)
{
	const uint8_t *u32 = ld->s[PLAN_SEC_U32P].p;
	const char **out = ld->p->strv + *used;
	for (uint32_t k = 0; k < n; k++)
		if (!get_str(ld, PLAN_GET(U32P, u32 + PLAN_SIZE(U32P) * ((size_t)idx + k), value), false,
			     &out[k]))
			return NULL;
	*used += n;
	return out;
}

static int plan_load_classes(struct ld *ld)
{
	struct ftsrt_plan *p = ld->p;
	const struct sec *s = &ld->s[PLAN_SEC_CLSS];
	const uint8_t *u32 = ld->s[PLAN_SEC_U32P].p;
	const struct sec *blob = &ld->s[PLAN_SEC_BLOB];
	size_t nstr = 0, used = 0;
	int rc;

	if ((rc = plan_load_args(ld)))
		return rc;
	for (uint64_t i = 0; i < s->n; i++) {
		const uint8_t *r = s->p + i * PLAN_SIZE(CLSS);
		uint32_t ix = PLAN_GET(CLSS, r, slots), nslots = PLAN_GET(CLSS, r, nslots);
		uint32_t rx = PLAN_GET(CLSS, r, reads), nreads = PLAN_GET(CLSS, r, nreads);
		if (!take(ld, PLAN_SEC_U32P, ix, nslots))
			return fail(ld, FTSRT_EFORMAT, "class %" PRIu64 ": bad state slot list", i);
		if (!take(ld, PLAN_SEC_U32P, rx, nreads))
			return fail(ld, FTSRT_EFORMAT, "class %" PRIu64 ": bad reads list", i);
		nstr += (size_t)nslots + nreads;
	}
	const struct sec *sett = &ld->s[PLAN_SEC_SETT];
	if (sett->n == 1) {
		uint32_t ix = PLAN_GET(SETT, sett->p, no_decay), n = PLAN_GET(SETT, sett->p, nno_decay);
		if (!take(ld, PLAN_SEC_U32P, ix, n))
			return fail(ld, FTSRT_EFORMAT, "settings: bad no_decay list");
		nstr += n;
	}
	p->strv = plan_alloc(p, nstr, sizeof(*p->strv));
	p->nstrv = nstr;
	p->classes = plan_alloc(p, s->n, sizeof(*p->classes));
	if (!p->strv || !p->classes)
		return fail(ld, FTSRT_ENOMEM, "out of memory (classes)");
	for (uint64_t i = 0; i < s->n; i++) {
		const uint8_t *r = s->p + i * PLAN_SIZE(CLSS);
		struct rt_plan_class *c = &p->classes[i];
		uint32_t args = PLAN_GET(CLSS, r, args), nargs = PLAN_GET(CLSS, r, nargs);
		uint32_t slots = PLAN_GET(CLSS, r, slots), nslots = PLAN_GET(CLSS, r, nslots);
		uint32_t ipl = PLAN_GET(CLSS, r, init_pg_lrs);
		int32_t nipl = PLAN_GET(CLSS, r, ninit_pg_lrs);
		uint32_t lam = PLAN_GET(CLSS, r, lambda), lamlen = PLAN_GET(CLSS, r, lambda_len);
		uint32_t ch = PLAN_GET(CLSS, r, children), nch = PLAN_GET(CLSS, r, nchildren);
		uint32_t ms = PLAN_GET(CLSS, r, milestones), nms = PLAN_GET(CLSS, r, nmilestones);
		uint32_t rx = PLAN_GET(CLSS, r, reads), nreads = PLAN_GET(CLSS, r, nreads);
		uint32_t sx = PLAN_GET(CLSS, r, setstates), nsets = PLAN_GET(CLSS, r, nsetstates);
		c->scheduler = PLAN_GET(CLSS, r, scheduler);
		c->state_at_construction = PLAN_GET(CLSS, r, state_at_construction);
		if (c->scheduler && (c->state_at_construction || nreads || nsets || rx || sx))
			return fail(ld, FTSRT_EFORMAT, "class %" PRIu64 ": restore profile on a scheduler", i);
		c->reads = str_list(ld, rx, nreads, &used);
		if (!c->reads)
			return fail(ld, FTSRT_EFORMAT, "class %" PRIu64 ": bad reads name", i);
		c->nreads = nreads;
		if (!take(ld, PLAN_SEC_ARGS, sx, nsets))
			return fail(ld, FTSRT_EFORMAT, "class %" PRIu64 ": bad setstate range", i);
		c->setstates = p->args + sx;
		c->setstate_force = p->argforce + sx;
		c->nsetstates = nsets;
		c->epoch_interval = PLAN_GET(CLSS, r, epoch_interval);
		c->use_current = PLAN_GET(CLSS, r, use_current);
		c->stdlib_id = PLAN_GET(CLSS, r, stdlib_id);
		if (!get_str(ld, PLAN_GET(CLSS, r, class_path), false, &c->class_path) ||
		    !get_str(ld, PLAN_GET(CLSS, r, monitor), true, &c->monitor))
			return fail(ld, FTSRT_EFORMAT, "class %" PRIu64 ": bad string reference", i);
		if (!take(ld, PLAN_SEC_ARGS, args, nargs))
			return fail(ld, FTSRT_EFORMAT, "class %" PRIu64 ": bad argument range", i);
		c->args = p->args + args;
		c->nargs = nargs;
		c->state_slots = str_list(ld, slots, nslots, &used);
		if (!c->state_slots)
			return fail(ld, FTSRT_EFORMAT, "class %" PRIu64 ": bad state slot name", i);
		c->nslots = nslots;
		c->frequency = PLAN_GET(CLSS, r, frequency);
		if (c->frequency < 1)
			return fail(ld, FTSRT_EFORMAT, "class %" PRIu64 ": frequency 0", i);
		if (nipl < -1 || (nipl >= 0 && !take(ld, PLAN_SEC_F64P, ipl, (uint32_t)nipl)) ||
		    (nipl == -1 && ipl))
			return fail(ld, FTSRT_EFORMAT, "class %" PRIu64 ": bad init_pg_lrs", i);
		c->ninit_pg_lrs = nipl;
		c->init_pg_lrs = nipl >= 0 ? (const double *)(const void *)ld->s[PLAN_SEC_F64P].p + ipl
			: NULL;
		if (lamlen) {
			struct rt_lambda l;
			struct rt_lambda_diag dg;
			if (lam > blob->len || lamlen > blob->len - lam)
				return fail(ld, FTSRT_EFORMAT, "class %" PRIu64 ": lr_lambda outside BLOB", i);
			if (rt_lambda_validate(blob->p + lam, lamlen, &l, &dg))
				return fail(ld, FTSRT_EFORMAT, "class %" PRIu64 ": lr_lambda at byte %zu: %s",
					    i, dg.offset, dg.msg);
			c->lambda = blob->p + lam;
			c->lambda_len = lamlen;
		} else if (lam) {
			return fail(ld, FTSRT_EFORMAT, "class %" PRIu64 ": lr_lambda offset without length",
				    i);
		}
		if (!take(ld, PLAN_SEC_U32P, ch, nch) || !take(ld, PLAN_SEC_I64P, ms, nms))
			return fail(ld, FTSRT_EFORMAT, "class %" PRIu64 ": bad children or milestones", i);
		for (uint32_t k = 0; k < nch; k++) {
			uint32_t x = PLAN_GET(U32P, u32 + PLAN_SIZE(U32P) * ((size_t)ch + k), value);
			/* children come after their parent: no cycles */
			if (x <= i || x >= s->n || PLAN_GET(CLSS, s->p + (size_t)x * PLAN_SIZE(CLSS),
							     scheduler) != 1)
				return fail(ld, FTSRT_EFORMAT, "class %" PRIu64 ": child %" PRIu32
					    " is not a later scheduler record", i, x);
		}
		c->children = (const int32_t *)(const void *)(u32 + PLAN_SIZE(U32P) * (size_t)ch);
		c->nchildren = nch;
		c->milestones = (const int64_t *)(const void *)ld->s[PLAN_SEC_I64P].p + ms;
		c->nmilestones = nms;
		if (!c->scheduler && (nch || nms || lamlen || nipl != -1 || c->monitor || c->use_current))
			return fail(ld, FTSRT_EFORMAT, "class %" PRIu64 ": scheduler fields on an "
				    "optimizer", i);
		if (c->scheduler && nslots)
			return fail(ld, FTSRT_EFORMAT, "class %" PRIu64 ": state slots on a scheduler", i);
	}
	p->view.classes = p->classes;
	p->view.nclasses = (uint32_t)s->n;
	return FTSRT_OK;
}

/* ---- phases ---------------------------------------------------------------------- */

static bool class_ref(const struct ld *ld, int32_t x, bool scheduler)
{
	return x == -1 || (x >= 0 && (uint64_t)x < ld->s[PLAN_SEC_CLSS].n &&
			   ld->p->classes[x].scheduler == scheduler);
}

static int plan_load_phases(struct ld *ld)
{
	struct ftsrt_plan *p = ld->p;
	const struct sec *s = &ld->s[PLAN_SEC_PHAS];
	const uint8_t *u32 = ld->s[PLAN_SEC_U32P].p;
	if (s->n == 0)
		return fail(ld, FTSRT_EFORMAT, "section PHAS: no phases");
	p->phases = plan_alloc(p, s->n, sizeof(*p->phases));
	if (!p->phases)
		return fail(ld, FTSRT_ENOMEM, "out of memory (phases)");
	for (uint64_t i = 0; i < s->n; i++) {
		const uint8_t *r = s->p + i * PLAN_SIZE(PHAS);
		struct rt_plan_phase *ph = &p->phases[i];
		uint32_t ix = PLAN_GET(PHAS, r, params), n = PLAN_GET(PHAS, r, nparams);
		ph->index = PLAN_GET(PHAS, r, index);
		ph->mte = PLAN_GET(PHAS, r, mte);
		ph->lr = PLAN_GET(PHAS, r, lr);
		ph->new_optimizer = PLAN_GET(PHAS, r, new_optimizer);
		ph->new_lr_scheduler = PLAN_GET(PHAS, r, new_lr_scheduler);
		if (ph->index != (int64_t)i || ph->mte < -1)
			return fail(ld, FTSRT_EFORMAT, "phase %" PRIu64 ": bad index or "
				    "max_transition_epoch", i);
		if (!take(ld, PLAN_SEC_U32P, ix, n))
			return fail(ld, FTSRT_EFORMAT, "phase %" PRIu64 ": bad parameter list", i);
		for (uint32_t k = 0; k < n; k++) {
			uint32_t x = PLAN_GET(U32P, u32 + PLAN_SIZE(U32P) * ((size_t)ix + k), value);
			if (x >= p->view.nparams)
				return fail(ld, FTSRT_EFORMAT, "phase %" PRIu64 " thaws parameter %" PRIu32
					    " of %" PRIu32, i, x, p->view.nparams);
		}
		if (!class_ref(ld, ph->new_optimizer, false) || !class_ref(ld, ph->new_lr_scheduler, true))
			return fail(ld, FTSRT_EFORMAT, "phase %" PRIu64 ": bad optimizer or scheduler "
				    "record", i);
		ph->params = (const uint32_t *)(const void *)(u32 + PLAN_SIZE(U32P) * (size_t)ix);
		ph->nparams = n;
	}
	p->view.phases = p->phases;
	p->view.nphases = (uint32_t)s->n;
	return FTSRT_OK;
}

/* ---- settings ---------------------------------------------------------------------- */

static int plan_load_settings(struct ld *ld, size_t *used)
{
	struct ftsrt_plan *p = ld->p;
	struct rt_plan *v = &p->view;
	const struct sec *s = &ld->s[PLAN_SEC_SETT];
	if (s->n != 1)
		return fail(ld, FTSRT_EFORMAT, "section SETT: %" PRIu64 " records, expected 1", s->n);
	const uint8_t *r = s->p;
	uint32_t flags = PLAN_GET(SETT, r, flags);       /* bounded by PLAN_SETF_ALL_ */
	v->max_depth = PLAN_GET(SETT, r, max_depth);
	v->max_epochs = PLAN_GET(SETT, r, max_epochs);
	v->base_max_lr = PLAN_GET(SETT, r, base_max_lr);
	v->phase0_groups = PLAN_GET(SETT, r, phase0_groups);
	v->initial_optimizer = PLAN_GET(SETT, r, initial_optimizer);
	v->initial_scheduler = PLAN_GET(SETT, r, initial_scheduler);
	v->reinit_optimizer = PLAN_GET(SETT, r, reinit_optimizer);
	v->reinit_scheduler = PLAN_GET(SETT, r, reinit_scheduler);
	if (v->max_depth < 0 || (uint64_t)v->max_depth >= v->nphases)
		return fail(ld, FTSRT_EFORMAT, "settings: max_depth %" PRId64 " outside the phases",
			    v->max_depth);
	if (v->max_epochs < -1 || v->phase0_groups < 1)       /* -1: no limit, as Lightning's */
		return fail(ld, FTSRT_EFORMAT, "settings: bad max_epochs or phase0_groups");
	if (v->initial_optimizer < 0 || !class_ref(ld, v->initial_optimizer, false) ||
	    !class_ref(ld, v->initial_scheduler, true) || !class_ref(ld, v->reinit_optimizer, false) ||
	    !class_ref(ld, v->reinit_scheduler, true))
		return fail(ld, FTSRT_EFORMAT, "settings: bad optimizer or scheduler record");
	uint32_t nd = PLAN_GET(SETT, r, nno_decay);
	v->no_decay = str_list(ld, PLAN_GET(SETT, r, no_decay), nd, used);
	if (!v->no_decay)
		return fail(ld, FTSRT_EFORMAT, "settings: bad no_decay string");
	v->nno_decay = nd;
	v->restore_best = flags & PLAN_SETF_RESTORE_BEST;
	v->epoch_transitions_only = flags & PLAN_SETF_EPOCH_TRANSITIONS_ONLY;
	v->apply_lambdas_new_pgs = flags & PLAN_SETF_APPLY_LAMBDAS_NEW_PGS;
	struct rt_plan_es *es = &v->es;
	es->present = flags & PLAN_SETF_ES_PRESENT;
	es->mode_max = flags & PLAN_SETF_ES_MODE_MAX;
	es->has_stopping_threshold = flags & PLAN_SETF_ES_HAS_STOPPING;
	es->has_divergence_threshold = flags & PLAN_SETF_ES_HAS_DIVERGENCE;
	es->check_finite = flags & PLAN_SETF_ES_CHECK_FINITE;
	v->ckpt.mode_max = flags & PLAN_SETF_CKPT_MODE_MAX;
	if (!get_str(ld, PLAN_GET(SETT, r, es_monitor), !es->present, &es->monitor) ||
	    !get_str(ld, PLAN_GET(SETT, r, ckpt_monitor), true, &v->ckpt.monitor))
		return fail(ld, FTSRT_EFORMAT, "settings: bad monitor string");
	es->patience = PLAN_GET(SETT, r, es_patience);
	es->min_delta = PLAN_GET(SETT, r, es_min_delta);
	es->stopping_threshold = PLAN_GET(SETT, r, es_stopping_threshold);
	es->divergence_threshold = PLAN_GET(SETT, r, es_divergence_threshold);
	v->ckpt.save_top_k = PLAN_GET(SETT, r, ckpt_save_top_k);
	if (es->patience < 0 || !(es->min_delta >= 0) || v->ckpt.save_top_k < -1)
		return fail(ld, FTSRT_EFORMAT, "settings: bad early-stopping or checkpoint values");
	return FTSRT_OK;
}

/* ---- optional sections -------------------------------------------------------------- */

static int plan_load_groups(struct ld *ld)
{
	struct ftsrt_plan *p = ld->p;
	const struct sec *s = &ld->s[PLAN_SEC_GRPS];
	if (!s->present)
		return FTSRT_OK;
	p->groups = plan_alloc(p, s->n, sizeof(*p->groups));
	if (!p->groups)
		return fail(ld, FTSRT_ENOMEM, "out of memory (groups)");
	uint32_t prev = 0;
	for (uint64_t i = 0; i < s->n; i++) {
		const uint8_t *r = s->p + i * PLAN_SIZE(GRPS);
		struct rt_plan_group *g = &p->groups[i];
		g->phase = PLAN_GET(GRPS, r, phase);
		if (g->phase >= p->view.nphases || g->phase < prev)
			return fail(ld, FTSRT_EFORMAT, "group %" PRIu64 ": bad phase", i);
		prev = g->phase;
		g->no_decay = PLAN_GET(GRPS, r, no_decay);
		g->user = PLAN_GET(GRPS, r, user);
		g->lr_kind = PLAN_GET(GRPS, r, lr_kind);
		g->initial_lr_kind = PLAN_GET(GRPS, r, initial_lr_kind);
		g->holds = PLAN_GET(GRPS, r, holds);
		g->lr = PLAN_GET(GRPS, r, lr);
		g->initial_lr = PLAN_GET(GRPS, r, initial_lr);
		g->nparams = PLAN_GET(GRPS, r, nparams);
		g->numel = PLAN_GET(GRPS, r, numel);
	}
	p->view.groups = p->groups;
	p->view.ngroups = (uint32_t)s->n;
	return FTSRT_OK;
}

static int plan_load_srcmap(struct ld *ld)
{
	struct ftsrt_plan *p = ld->p;
	const struct sec *s = &ld->s[PLAN_SEC_SMAP];
	p->view.stripped = !s->present;
	if (!s->present)
		return FTSRT_OK;
	p->src = plan_alloc(p, s->n, sizeof(*p->src));
	if (!p->src)
		return fail(ld, FTSRT_ENOMEM, "out of memory (source map)");
	for (uint64_t i = 0; i < s->n; i++) {
		const uint8_t *r = s->p + i * PLAN_SIZE(SMAP);
		struct rt_plan_src *e = &p->src[i];
		e->kind = PLAN_GET(SMAP, r, kind);
		e->phase = PLAN_GET(SMAP, r, phase);
		e->item = PLAN_GET(SMAP, r, item);
		e->line = PLAN_GET(SMAP, r, line);
		e->col = PLAN_GET(SMAP, r, column);
		if (e->phase >= p->view.nphases ||
		    !get_str(ld, PLAN_GET(SMAP, r, file), false, &e->file) || e->line < 1 || e->col < 1 ||
		    (e->kind != PLAN_SRC_PARAMS_ENTRY && e->item))
			return fail(ld, FTSRT_EFORMAT, "source map entry %" PRIu64 " is malformed", i);
		if (e->kind == PLAN_SRC_PHASE && !p->phases[e->phase].src_file) {
			p->phases[e->phase].src_file = e->file;
			p->phases[e->phase].src_line = e->line;
		}
	}
	p->view.src = p->src;
	p->view.nsrc = (uint32_t)s->n;
	return FTSRT_OK;
}

static int plan_load_restores(struct ld *ld)
{
	struct ftsrt_plan *p = ld->p;
	const struct sec *s = &ld->s[PLAN_SEC_RSTR];
	if (!s->present)
		return FTSRT_OK;
	p->restores = plan_alloc(p, s->n, sizeof(*p->restores));
	if (!p->restores)
		return fail(ld, FTSRT_ENOMEM, "out of memory (restores)");
	uint64_t prev = 0;
	for (uint64_t i = 0; i < s->n; i++) {
		const uint8_t *r = s->p + i * PLAN_SIZE(RSTR);
		struct rt_plan_restore *e = &p->restores[i];
		e->target = PLAN_GET(RSTR, r, target);
		e->source = PLAN_GET(RSTR, r, source);
		e->kind = PLAN_GET(RSTR, r, kind);
		uint32_t ox = PLAN_GET(RSTR, r, overrides), no = PLAN_GET(RSTR, r, noverrides);
		uint64_t key = ((uint64_t)e->target << 32) | e->source;
		if (e->target >= p->view.nphases || e->source >= e->target || (i && key <= prev) ||
		    (e->kind == RT_RESTORE_FAILS && (no || ox)) ||
		    !get_str(ld, PLAN_GET(RSTR, r, message), false, &e->message) ||
		    !take(ld, PLAN_SEC_ARGS, ox, no))
			return fail(ld, FTSRT_EFORMAT, "restore entry %" PRIu64 " is malformed", i);
		for (uint32_t k = 0; k < no; k++)
			if (p->argforce[ox + k] || p->args[ox + k].kind > RT_ARG_FLOATS)
				return fail(ld, FTSRT_EFORMAT, "restore entry %" PRIu64 " is malformed", i);
		prev = key;
		e->overrides = p->args + ox;
		e->noverrides = no;
	}
	p->view.restores = p->restores;
	p->view.nrestores = (uint32_t)s->n;
	return FTSRT_OK;
}

/* ---- open / close ------------------------------------------------------------------- */

static int plan_load(struct ld *ld)
{
	uint32_t nsec = 0;
	size_t used;
	int rc;
	uint32_t one = 1;
	uint8_t first;
	memcpy(&first, &one, 1);
	if (first != 1)
		return fail(ld, FTSRT_EFORMAT, "plans are read on little-endian hosts only");
	if ((rc = plan_check_header(ld, &nsec)) || (rc = plan_load_sections(ld, nsec)) ||
	    (rc = plan_load_strings(ld)) || (rc = plan_load_shapes(ld)) ||
	    (rc = plan_load_manifest(ld)) || (rc = plan_load_names(ld)) ||
	    (rc = plan_load_classes(ld)))
		return rc;
	used = 0;
	for (uint32_t i = 0; i < ld->p->view.nclasses; i++)
		used += (size_t)ld->p->classes[i].nslots + ld->p->classes[i].nreads;
	if ((rc = plan_load_phases(ld)) || (rc = plan_load_settings(ld, &used)) ||
	    (rc = plan_load_groups(ld)) || (rc = plan_load_srcmap(ld)) || (rc = plan_load_restores(ld)))
		return rc;
	return FTSRT_OK;
}

static void plan_release(struct ftsrt_plan *p)
{
	rt_names_cache_release(&p->names);
	plan_free(p, p->shapes);
	plan_free(p, p->phases);
	plan_free(p, p->classes);
	plan_free(p, p->args);
	plan_free(p, p->argforce);
	plan_free(p, (void *)p->strv);
	plan_free(p, p->groups);
	plan_free(p, p->src);
	plan_free(p, p->restores);
	if (p->base_block)
		plan_free(p, p->base_block);
}

static int open_common(ftsrt_plan **out, const char *path, const void *data, size_t len,
		       ftsrt_alloc_fn alloc, void *ud, ftsrt_error *err)
{
	struct ld ld;
	struct ftsrt_plan *p;
	int rc;

	memset(&ld, 0, sizeof(ld));
	ld.err = err;
	if (!out)
		return fail(&ld, FTSRT_EINVAL, "no output handle");
	*out = NULL;
	if (!path && !data && len)
		return fail(&ld, FTSRT_EINVAL, "no plan given");
	if (!alloc)
		alloc = rt_default_alloc;
	p = alloc(ud, NULL, 0, sizeof(*p));
	if (!p)
		return fail(&ld, FTSRT_ENOMEM, "out of memory");
	memset(p, 0, sizeof(*p));
	p->alloc = alloc;
	p->ud = ud;
	ld.p = p;

	if (path) {
		uint8_t *buf = NULL;
		size_t n = 0;
		rc = rt_plan_read_file(path, file_buffer_cb, p, &buf, &n, err);
		if (rc) {
			if (p->base_block)
				plan_free(p, p->base_block);
			goto out_free;
		}
		p->base = buf;
		p->size = n;
	} else {
		uint8_t *copy = plan_alloc_raw(p, len ? len : 1, 1, false);
		if (!copy) {
			rc = fail(&ld, FTSRT_ENOMEM, "out of memory (%zu bytes)", len);
			goto out_free;
		}
		if (len)
			memcpy(copy, data, len);
		p->base = copy;
		p->base_block = copy;
		p->size = len;
	}
	ld.b = p->base;
	ld.size = p->size;
	rc = plan_load(&ld);
	if (rc)
		goto out_release;
	*out = p;
	return FTSRT_OK;

out_release:
	plan_release(p);
out_free:
	alloc(ud, p, sizeof(*p), 0);
	return rc;
}

static const struct ftsrt_plan_options default_options = {sizeof(struct ftsrt_plan_options), NULL,
							      NULL};

/* What both entry points do first: *out cleared, the caller's options read. */
static int options_in(ftsrt_plan **out, const struct ftsrt_plan_options *opt, struct ftsrt_plan_options *o,
		      ftsrt_error *err)
{
	if (out)
		*out = NULL;
	return rt_struct_in(o, sizeof(*o), opt, &default_options, "ftsrt_plan_options", err);
}

FTSRT_API int ftsrt_plan_open(ftsrt_plan **out, const char *path,
			      const struct ftsrt_plan_options *opt, ftsrt_error *err)
{
	struct ftsrt_plan_options o;
	int rc = options_in(out, opt, &o, err);
	if (rc)
		return rc;
	if (!path)
		return rt_error(err, FTSRT_EINVAL, "no path given");
	return open_common(out, path, NULL, 0, o.alloc, o.alloc_ud, err);
}

FTSRT_API int ftsrt_plan_open_mem(ftsrt_plan **out, const void *data, size_t len,
				  const struct ftsrt_plan_options *opt, ftsrt_error *err)
{
	struct ftsrt_plan_options o;
	int rc = options_in(out, opt, &o, err);
	if (rc)
		return rc;
	if (!data && len)
		return rt_error(err, FTSRT_EINVAL, "no data given");
	return open_common(out, NULL, data ? data : "", len, o.alloc, o.alloc_ud, err);
}

FTSRT_API void ftsrt_plan_close(ftsrt_plan *p)
{
	if (!p)
		return;
	ftsrt_alloc_fn alloc = p->alloc;
	void *ud = p->ud;
	plan_release(p);
	alloc(ud, p, sizeof(*p), 0);
}

const struct rt_plan *rt_plan_view(const ftsrt_plan *p)
{
	return &p->view;
}

