/*
 * plan_format.h - the on-disk layout of a plan file (shared by the writer,
 * compiler/emit.c, and the reader, runtime/plan.c).  The normative
 * specification is man/ftsplan.5; this comment repeats its tables.
 *
 * Everything is little-endian.  References are offsets or indices, never
 * pointers.  Sections start on 8-byte boundaries.
 *
 * HEADER (PLAN_HEADER_SIZE = 48 bytes)
 *
 *   off  size  field
 *   0    8     magic 89 46 54 53 0D 0A 1A 0A ("\x89FTS\r\n\x1a\n")
 *   8    2     format_major (PLAN_FORMAT_MAJOR)
 *   10   2     format_minor (PLAN_FORMAT_MINOR)
 *   12   2     min_reader_minor: the oldest reader minor that may read it
 *   14   2     header_size (48)
 *   16   4     probe u32 0x12345678
 *   20   4     flags (none defined: written 0, ignored by readers)
 *   24   8     probe f64 -370.5
 *   32   8     file_size: the exact length of the file
 *   40   4     section_count (1..PLAN_MAX_SECTIONS)
 *   44   4     header_crc32c: CRC-32C of bytes 0..39 followed by the
 *              section table
 *   48   n*32  section table, one entry per section, in file order:
 *              0 u32 id (four-character code), 4 u32 flags (bit 0:
 *              optional), 8 u64 offset, 16 u64 length, 24 u32 crc32c of
 *              the section's bytes, 28 u32 reserved (0)
 *
 * The first section starts at align8(48 + 32 n); each next one at align8
 * of the previous end; the last one ends at file_size.  Padding bytes are
 * zero.  So every byte of the file is covered by a CRC or checked to be 0.
 *
 * SECTIONS (ids from plan_ops.def).  Records, offsets within the record:
 *
 *   STRS  bytes.  Byte 0 and the last byte are NUL.  A string reference is
 *         a u32 byte offset into STRS (the string runs to the next NUL);
 *         PLAN_NOSTR (0xFFFFFFFF) is "no string" where allowed.
 *   I64P, F64P, U32P  arrays of i64, f64, u32; referenced as (index, count).
 *   BLOB  bytes; referenced as (offset, length).
 *   MANI  head 16: 0 u64 manifest_hash, 8 u32 nparams, 12 u32 reserved;
 *         then nparams records of 24: 0 u32 name (str), 4 u32 dtype name
 *         (str), 8 u32 dims (I64P index), 12 i32 tied_to (-1 or an earlier,
 *         untied entry), 16 u8 ndim (<= 8), 17 u8 dtype (enum rt_dtype),
 *         18 u8 flags (bit 0 requires_grad), 19 u8 0, 20 u32 0.  The untied
 *         entries hold at most 2^60 elements in all (PLAN_MAX_ELEMENTS).
 *   CLSS  records of 80: 0 u8 scheduler, 1 u8 epoch_interval, 2 u8
 *         use_current, 3 u8 flags (bit 0 state_at_construction; optimizers
 *         only), 4 u16 stdlib_id, 6 u16 0, 8 u32 class_path
 *         (str), 12 u32 args (ARGS index), 16 u32 nargs, 20 u32 slots (U32P
 *         index of str refs), 24 u32 nslots, 28 u32 frequency (>= 1), 32 u32
 *         monitor (str or NOSTR), 36 u32 init_pg_lrs (F64P index), 40 i32
 *         ninit_pg_lrs (-1 = absent), 44 u32 lambda (BLOB offset), 48 u32
 *         lambda_len (0 = none), 52 u32 children (U32P index of CLSS
 *         indices, each greater than the record's own), 56 u32 nchildren,
 *         60 u32 milestones (I64P index), 64 u32 nmilestones, 68 u32 reads
 *         (U32P index of str refs: the group keys and state slots step()
 *         reads, in order), 72 u32 setstates (ARGS index), 76 u16 nreads,
 *         78 u16 nsetstates (optimizers only: the restore profile).
 *   ARGS  records of 40: 0 u32 name (str), 4 u8 kind (enum rt_arg_kind),
 *         5 u8 given, 6 u8 b, 7 u8 force (setstates only: set always, not
 *         only when missing), 8 u32 s (str or NOSTR), 12 u32 v
 *         (F64P index), 16 u32 n, 20 u32 0, 24 i64 i, 32 f64 f.
 *   PHAS  records of 48: 0 i64 index (== record number), 8 i64 mte (>= -1),
 *         16 f64 lr, 24 u32 params (U32P index of manifest indices), 28 u32
 *         nparams, 32 i32 new_optimizer, 36 i32 new_lr_scheduler (CLSS
 *         index or -1), 40 u64 0.
 *   SETT  one record of 104: 0 i64 max_depth, 8 i64 max_epochs, 16 f64
 *         base_max_lr, 24 u32 no_decay (U32P index of str refs), 28 u32
 *         nno_decay, 32 u32 phase0_groups, 36 i32 initial_optimizer, 40 i32
 *         initial_scheduler, 44 i32 reinit_optimizer, 48 i32
 *         reinit_scheduler, 52 u32 flags (PLAN_SETF_*), 56 u32 es_monitor,
 *         60 u32 ckpt_monitor (str or NOSTR), 64 i64 es_patience, 72 f64
 *         es_min_delta, 80 f64 es_stopping_threshold, 88 f64
 *         es_divergence_threshold, 96 i64 ckpt_save_top_k.
 *   GRPS  (optional, informational) records of 48: 0 u32 phase (PHAS
 *         index whose layout it belongs to; non-decreasing), 4 u8 no_decay,
 *         5 u8 user, 6 u8 lr_kind, 7 u8 initial_lr_kind (enum
 *         rt_plan_lr_kind), 8 i64 holds (phase whose parameters it holds),
 *         16 f64 lr, 24 f64 initial_lr, 32 u32 nparams (0xFFFFFFFF
 *         unknown), 36 u32 0, 40 u64 numel.
 *   SMAP  (optional, strippable) records of 24: 0 u8 kind (enum
 *         rt_plan_src_kind), 1..3 0, 4 u32 phase (PHAS index), 8 u32 item
 *         (params entry number; 0 otherwise), 12 u32 file (str), 16 u32
 *         line, 20 u32 column (1-based).
 *   RSTR  (optional; absent when nothing is to be done) records of 32,
 *         sorted by (target, source), each pair at most once: 0 u32
 *         target, 4 u32 source (PHAS indices, source < target), 8 u8 kind
 *         (enum rt_plan_restore_kind), 9..11 0, 12 u32 message (str), 16
 *         u32 overrides (ARGS index), 20 u32 noverrides (0 for FAILS), 24
 *         u64 0.  What restoring, at the transition to target, the best
 *         checkpoint written in phase source does (compiler/restore.h):
 *         FAILS, the step after it raises (the runtime refuses with
 *         message); REVERTS, the restored groups run with the overrides
 *         (torch group keys) instead of the configured values.
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
 * CHECKLIST when a section or field changes: plan_ops.def, this comment,
 * compiler/emit.c (emit_*), runtime/plan.c (plan_load_*), runtime/plan.h
 * (add fields only), the listing in plan.c (`ftsc dump`, `ftsrun
 * inspect`), man/ftsplan.5, tests/plan/ goldens, tests/unit/check_plan.c,
 * and the version numbers below.
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
#define PLAN_FORMAT_MAJOR 1
#define PLAN_FORMAT_MINOR 1
#define PLAN_MIN_READER_MINOR 1
#define PLAN_HEADER_SIZE 48
#define PLAN_HEADER_CRC_SPAN 40         /* header bytes covered by header_crc32c */
#define PLAN_SECTION_ENTRY 32
#define PLAN_MAX_SECTIONS 64
#define PLAN_PROBE_U32 0x12345678u
#define PLAN_PROBE_F64 (-370.5)
#define PLAN_ALIGN 8
#define PLAN_NOSTR 0xFFFFFFFFu
#define PLAN_MAX_DIMS 8
#define PLAN_UNKNOWN_U32 0xFFFFFFFFu
#define PLAN_MAX_ELEMENTS ((uint64_t)1 << 60) /* all untied parameters' elements, at most */

#define PLAN_SECF_OPTIONAL 1u

#define PLAN_MANI_HEAD 16
#define PLAN_STRS_HEAD 0
#define PLAN_I64P_HEAD 0
#define PLAN_F64P_HEAD 0
#define PLAN_U32P_HEAD 0
#define PLAN_BLOB_HEAD 0
#define PLAN_CLSS_HEAD 0
#define PLAN_ARGS_HEAD 0
#define PLAN_PHAS_HEAD 0
#define PLAN_SETT_HEAD 0
#define PLAN_GRPS_HEAD 0
#define PLAN_SMAP_HEAD 0
#define PLAN_RSTR_HEAD 0

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

static inline uint64_t plan_manifest_hash_add(uint64_t h, const char *name, size_t ndim,
					      const int64_t *dims, const char *dtype)
{
	char buf[24];
	h = plan_fnv(h, name, strlen(name));
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
