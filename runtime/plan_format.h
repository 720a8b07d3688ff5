/*
 * plan_format.h - the on-disk layout of a plan file (shared by the writer,
 * compiler/emit.c, and the reader, runtime/plan.c).  The normative
 * specification is man/ftsplan.5; this comment repeats its tables.
 *
 * Everything is little-endian.  References are offsets or indices, never
 * pointers.  Sections start on 8-byte boundaries.
 *
 * The fields of the header, the section table entries and every section's
 * records are in plan_records.def (names, types, order, bounds, reserved
 * fields); offsets and record sizes follow from it (below).  What this
 * comment adds is the arrangement and the rules a table cannot state:
 *
 * HEADER (struct plan_rec_HDR, 48 bytes) at offset 0, starting with the
 * magic 89 46 54 53 0D 0A 1A 0A ("\x89FTS\r\n\x1a\n"); then the
 * section table: section_count SECT entries (1..PLAN_MAX_SECTIONS), in
 * file order.  header_crc32c is the CRC-32C of the header bytes before
 * section_count, followed by the section table.  probe_u32 is 0x12345678
 * and probe_f64 -370.5 (byte order and float format); file_size the exact
 * length of the file; a SECT entry's crc32c covers its section's bytes.
 *
 * The first section starts at align8(48 + 32 n); each next one at align8
 * of the previous end; the last one ends at file_size.  Padding bytes are
 * zero.  So every byte of the file is covered by a CRC or checked to be 0.
 *
 * SECTIONS (ids and order from plan_ops.def) hold records of the record
 * type named like them (MANI: one MANH head first; NAME: one NAMH head).
 *
 *   STRS  Byte 0 and the last byte are NUL.  A string reference ("str")
 *         is a u32 byte offset into STRS (the string runs to the next
 *         NUL); PLAN_NOSTR (0xFFFFFFFF) is "no string" where allowed.
 *   I64P, F64P, U32P  pools, referenced as (index, count).
 *   BLOB  bytes (lr_lambda programs), referenced as (offset, length).
 *   SHAP  the distinct (dims, dtype, requires_grad) of the manifest, in
 *         first-use order; each shape's element count fits in 64 bits.
 *   MANI  one 8-byte record per manifest entry: its SHAP index and
 *         tied_to.  The untied entries hold at most 2^60 elements in all
 *         (PLAN_MAX_ELEMENTS).  On a little-endian host a record is
 *         struct rt_plan_param: the reader points into the file.
 *   NAME  the manifest entries' names, front-coded, in the same order:
 *         NAMH.lengths bytes of lengths, then the suffixes back to back.
 *         Per name: u8 shared (bytes taken from the front of the previous
 *         name: 0 for the first, at most PLAN_MAX_SHARED and at most the
 *         previous name's length), then the suffix's length as an
 *         unsigned LEB128 (minimal, below 2^32).  Names are not empty and
 *         hold no NUL.  (Prefix sharing takes the 500k-name MoE manifest's
 *         names from 42 bytes to 10; decoding stops every PLAN_MAX_SHARED
 *         bytes per name, so a reader's memory is bounded by the file.)
 *   CLSS  a child index is greater than its record's own and names a
 *         scheduler; optimizers have no scheduler fields, schedulers no
 *         state slots and no restore profile (reads, setstates: the group
 *         keys and state slots step() reads; ARGS records whose force byte
 *         says "set always, not only when missing").
 *   PHAS  at least one; index == record number; mte >= -1.
 *   SETT  exactly one record.
 *   GRPS  (optional, informational) the simulated group layout.
 *   SMAP  (optional, strippable) the source map.
 *   RSTR  (optional; absent when nothing is to be done) sorted by
 *         (target, source), each pair at most once: what restoring, at
 *         the transition to target, the best checkpoint written in phase
 *         source does (compiler/restore.h): FAILS, the step after it
 *         raises (the runtime refuses with message); REVERTS, the
 *         restored groups run with the overrides (torch group keys)
 *         instead of the configured values.
 *
 * Lists never share pool entries: the lengths of all lists referencing one
 * pool (or ARGS) add up to at most its size (bounds a reader's work).
 *
 * VERSION POLICY.  An additive change that old readers may ignore (a new
 * optional section, a new header flag) bumps format_minor and leaves
 * min_reader_minor alone.  A new required section or field a reader must
 * understand bumps format_minor and sets min_reader_minor to it.  Any
 * change of meaning or layout of an existing field or section bumps
 * format_major (readers refuse other majors).
 *
 * HISTORY.  2.0: the manifest as a shape table (SHAP), 8-byte MANI
 * records and front-coded names (NAME), 86 -> 23 bytes per parameter on
 * the 500k-parameter MoE manifest.  A 2.x reader refuses 1.x plans with
 * FTSRT_EVERSION ("rebuild it with ftsc build"): plans are build outputs,
 * cheap to rebuild, and a second decoder of the old layout would double
 * the code the corruption tests must cover.  The plan identity
 * (plan_identity.c) hashes the decoded view, not the bytes, so checkpoints
 * written under a 1.x plan resume under the 2.0 rebuild of that plan.
 *
 * CHECKLIST when a section or field changes: plan_records.def (and
 * plan_ops.def for a section), compiler/emit.c (emit_*), runtime/plan.c
 * (plan_load_*), runtime/plan.h (add fields only), the listing in plan.c
 * (`ftsc dump`, `ftsrun inspect`), man/ftsplan.5 (a test compares its
 * field lists with plan_records.def), tests/plan/ goldens, and the version
 * numbers below.
 */
#ifndef FTS_PLAN_FORMAT_H
#define FTS_PLAN_FORMAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "bytes.h"

#define PLAN_MAGIC "\x89" "FTS\r\n\x1a\n"
#define PLAN_MAGIC_LEN 8
#define PLAN_FORMAT_MAJOR 2
#define PLAN_FORMAT_MINOR 0
#define PLAN_MIN_READER_MINOR 0
#define PLAN_NOSTR 0xFFFFFFFFu
#define PLAN_MAX_DIMS 8
#define PLAN_MAX_SHARED 255             /* NAME: prefix bytes one name shares */
#define PLAN_UNKNOWN_U32 0xFFFFFFFFu
#define PLAN_MAX_ELEMENTS ((uint64_t)1 << 60) /* all untied parameters' elements, at most */
#define PLAN_PROBE_U32 0x12345678u
#define PLAN_PROBE_F64 (-370.5)
#define PLAN_ALIGN 8
#define PLAN_MAX_SECTIONS 64

#define PLAN_SECF_OPTIONAL 1u

/* SETT flags. */
enum plan_sett_flags {
	PLAN_SETF_RESTORE_BEST = 1u << 0,
	PLAN_SETF_EPOCH_TRANSITIONS_ONLY = 1u << 1,
	PLAN_SETF_APPLY_LAMBDAS_NEW_PGS = 1u << 2,
	PLAN_SETF_ES_PRESENT = 1u << 3,
	PLAN_SETF_ES_MODE_MAX = 1u << 4,
	PLAN_SETF_ES_HAS_STOPPING = 1u << 5,
	PLAN_SETF_ES_HAS_DIVERGENCE = 1u << 6,
	PLAN_SETF_ES_CHECK_FINITE = 1u << 7,
	PLAN_SETF_CKPT_MODE_MAX = 1u << 8,
	PLAN_SETF_ALL_ = (1u << 9) - 1,
};

/* Enumerations stored in the file; runtime/plan.h mirrors them (checked
 * there with static assertions). */
enum plan_dtype { PLAN_DTYPE_F32, PLAN_DTYPE_F64, PLAN_DTYPE_F16, PLAN_DTYPE_BF16,
		  PLAN_DTYPE_OTHER, PLAN_DTYPE_COUNT_ };
enum plan_arg_kind { PLAN_ARG_NONE, PLAN_ARG_BOOL, PLAN_ARG_INT, PLAN_ARG_FLOAT, PLAN_ARG_STR,
		     PLAN_ARG_FLOATS, PLAN_ARG_COUNT_ };
enum plan_lr_kind { PLAN_LR_KNOWN, PLAN_LR_CONTINUES, PLAN_LR_UNKNOWN, PLAN_LR_COUNT_ };
enum plan_src_kind { PLAN_SRC_PHASE, PLAN_SRC_PARAMS_ENTRY, PLAN_SRC_NEW_OPTIMIZER,
		     PLAN_SRC_NEW_LR_SCHEDULER, PLAN_SRC_COUNT_ };

enum plan_restore_kind { PLAN_RESTORE_REVERTS, PLAN_RESTORE_FAILS, PLAN_RESTORE_COUNT_ };

/* ---- records (plan_records.def) --------------------------------------------
 * Each record becomes a struct used only for its layout (offsetof, sizeof;
 * never to access bytes, which are little-endian whatever the host).  The
 * fields are in file order at natural alignment, and an assertion below
 * proves the struct has no padding, so offsetof is the file offset. */

#define PLAN_CT_U8 uint8_t
#define PLAN_CT_U16 uint16_t
#define PLAN_CT_U32 uint32_t
#define PLAN_CT_U64 uint64_t
#define PLAN_CT_I32 int32_t
#define PLAN_CT_I64 int64_t
#define PLAN_CT_F64 double
#define PLAN_CT_Z8 uint8_t
#define PLAN_CT_Z16 uint16_t
#define PLAN_CT_Z32 uint32_t
#define PLAN_CT_Z64 uint64_t

enum plan_field_type { PLAN_FT_U8, PLAN_FT_U16, PLAN_FT_U32, PLAN_FT_U64, PLAN_FT_I32,
		       PLAN_FT_I64, PLAN_FT_F64, PLAN_FT_Z8, PLAN_FT_Z16, PLAN_FT_Z32,
		       PLAN_FT_Z64 };
#define PLAN_FIELD_ANY UINT64_MAX

#define PLAN_RECORD(R) struct plan_rec_##R {
#define PLAN_FIELD(R, T, N, MAX) PLAN_CT_##T N;
#define PLAN_END(R) };
#include "plan_records.def"
#undef PLAN_RECORD
#undef PLAN_FIELD
#undef PLAN_END

#define PLAN_RECORD(R) enum { PLAN_FIELDSUM_##R = 0
#define PLAN_FIELD(R, T, N, MAX) + sizeof(PLAN_CT_##T)
#define PLAN_END(R) }; RT_LAYOUT_ASSERT(struct plan_rec_##R, PLAN_FIELDSUM_##R);
#include "plan_records.def"
#undef PLAN_RECORD
#undef PLAN_FIELD
#undef PLAN_END

enum plan_record_kind {
#define PLAN_RECORD(R) PLAN_REC_##R,
#define PLAN_FIELD(R, T, N, MAX)
#define PLAN_END(R)
#include "plan_records.def"
#undef PLAN_RECORD
#undef PLAN_FIELD
#undef PLAN_END
	PLAN_REC_COUNT_
};

/* The size of record R, and the offset of its field N. */
#define PLAN_SIZE(R) sizeof(struct plan_rec_##R)
#define PLAN_OFF(R, N) offsetof(struct plan_rec_##R, N)

/* Typed little-endian access to field N of the record of type R at r: the
 * width, offset and C type all come from the table (bytes.h). */
#define PLAN_GET(R, r, N) RT_GET(struct plan_rec_##R, r, N)
#define PLAN_SET(R, r, N, v) RT_SET(struct plan_rec_##R, r, N, v)

/* The same table as data, for the reader's generic field check and for
 * tests: plan_record_info(PLAN_REC_x). */
struct plan_field_info {
	const char *name;
	uint16_t off;
	uint8_t size;
	uint8_t type;                   /* enum plan_field_type */
	uint64_t max;                   /* unsigned fields; PLAN_FIELD_ANY: none */
};
struct plan_record_info {
	const char *name;
	const struct plan_field_info *fields;
	uint16_t nfields;
	uint16_t size;
};

#define PLAN_HEADER_SIZE ((uint32_t)PLAN_SIZE(HDR))
#define PLAN_SECTION_ENTRY ((uint32_t)PLAN_SIZE(SECT))
#define PLAN_HEADER_CRC_SPAN PLAN_OFF(HDR, section_count)  /* header bytes covered by header_crc32c */
#define PLAN_MANI_HEAD PLAN_SIZE(MANH)
#define PLAN_NAME_HEAD PLAN_SIZE(NAMH)
_Static_assert(PLAN_SIZE(HDR) == 48 && PLAN_SIZE(SECT) == 32, "header and section entry sizes");

#define PLAN_FOURCC(s) ((uint32_t)(uint8_t)(s)[0] | (uint32_t)(uint8_t)(s)[1] << 8 | \
			(uint32_t)(uint8_t)(s)[2] << 16 | (uint32_t)(uint8_t)(s)[3] << 24)

enum plan_section_kind {
#define PLAN_SECTION(name, fourcc, flags, record, what) PLAN_SEC_##name,
#include "plan_ops.def"
#undef PLAN_SECTION
	PLAN_SEC_COUNT_
};

static inline uint64_t plan_align8(uint64_t x)
{
	return (x + (PLAN_ALIGN - 1)) & ~(uint64_t)(PLAN_ALIGN - 1);
}

/* ---- little-endian access and CRC-32C: runtime/bytes.h, under the plan's names */

#define plan_rd16 rt_rd16
#define plan_rd32 rt_rd32
#define plan_rd64 rt_rd64
#define plan_rdf64 rt_rdf64
#define plan_wr16 rt_wr16
#define plan_wr32 rt_wr32
#define plan_wr64 rt_wr64
#define plan_wrf64 rt_wrf64
#define plan_crc32c rt_crc32c

/* ---- NAME: the writer's half (the reader's is runtime/plan_names.c) ---- */

/* Bytes name (len) takes from the front of prev (prevlen): the longest
 * common prefix, at most PLAN_MAX_SHARED. */
static inline size_t plan_name_shared(const char *prev, size_t prevlen, const char *name,
				      size_t len)
{
	size_t n = prevlen < len ? prevlen : len, k = 0;
	if (n > PLAN_MAX_SHARED)
		n = PLAN_MAX_SHARED;
	while (k < n && prev[k] == name[k])
		k++;
	return k;
}

/* v as an unsigned LEB128 at p (at most 5 bytes); returns its length. */
static inline size_t plan_leb128_put(uint8_t *p, uint32_t v)
{
	size_t n = 0;
	while (v >= 0x80) {
		p[n++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	p[n++] = (uint8_t)v;
	return n;
}

/* ---- manifest hash (ftsplan(5), MANIFEST HASH) --------------------------
 * FNV-1a 64 over, for every manifest entry in order (tied aliases
 * included): the name, a tab, the shape ("AxBxC" in decimal, "scalar" for
 * ndim 0), a tab, the dtype name, a newline. */

#define PLAN_FNV_OFFSET 0xcbf29ce484222325ull
#define PLAN_FNV_PRIME 0x100000001b3ull

static inline uint64_t plan_fnv(uint64_t h, const void *buf, size_t n)
{
	const uint8_t *p = buf;
	while (n--) {
		h ^= *p++;
		h *= PLAN_FNV_PRIME;
	}
	return h;
}

static inline uint64_t plan_manifest_hash_add(uint64_t h, const char *name, size_t namelen, size_t ndim,
					      const int64_t *dims, const char *dtype)
{
	char buf[24];
	h = plan_fnv(h, name, namelen);
	h = plan_fnv(h, "\t", 1);
	if (ndim == 0)
		h = plan_fnv(h, "scalar", 6);
	for (size_t k = 0; k < ndim; k++) {
		uint64_t v = dims[k] < 0 ? 0 : (uint64_t)dims[k];
		size_t len = 0;
		char tmp[24];
		do {
			tmp[len++] = (char)('0' + v % 10);
			v /= 10;
		} while (v);
		for (size_t j = 0; j < len; j++)
			buf[j] = tmp[len - 1 - j];
		if (k)
			h = plan_fnv(h, "x", 1);
		h = plan_fnv(h, buf, len);
	}
	h = plan_fnv(h, "\t", 1);
	h = plan_fnv(h, dtype, strlen(dtype));
	return plan_fnv(h, "\n", 1);
}

#endif /* FTS_PLAN_FORMAT_H */
