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

/* ---- little-endian access ---------------------------------------------- */

static inline uint16_t plan_rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}
static inline uint32_t plan_rd32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static inline uint64_t plan_rd64(const uint8_t *p)
{
	return (uint64_t)plan_rd32(p) | (uint64_t)plan_rd32(p + 4) << 32;
}
static inline double plan_rdf64(const uint8_t *p)
{
	uint64_t u = plan_rd64(p);
	double d;
	memcpy(&d, &u, sizeof(d));
	return d;
}
static inline void plan_wr16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}
static inline void plan_wr32(uint8_t *p, uint32_t v)
{
	for (int k = 0; k < 4; k++)
		p[k] = (uint8_t)(v >> (8 * k));
}
static inline void plan_wr64(uint8_t *p, uint64_t v)
{
	for (int k = 0; k < 8; k++)
		p[k] = (uint8_t)(v >> (8 * k));
}
static inline void plan_wrf64(uint8_t *p, double d)
{
	uint64_t u;
	memcpy(&u, &d, sizeof(u));
	plan_wr64(p, u);
}

/* ---- CRC-32C (Castagnoli, reflected 0x82F63B78, init and xorout ~0) ----- */

static const uint32_t plan_crc32c_table[256] = {
	0x00000000u, 0xf26b8303u, 0xe13b70f7u, 0x1350f3f4u, 0xc79a971fu, 0x35f1141cu,
	0x26a1e7e8u, 0xd4ca64ebu, 0x8ad958cfu, 0x78b2dbccu, 0x6be22838u, 0x9989ab3bu,
	0x4d43cfd0u, 0xbf284cd3u, 0xac78bf27u, 0x5e133c24u, 0x105ec76fu, 0xe235446cu,
	0xf165b798u, 0x030e349bu, 0xd7c45070u, 0x25afd373u, 0x36ff2087u, 0xc494a384u,
	0x9a879fa0u, 0x68ec1ca3u, 0x7bbcef57u, 0x89d76c54u, 0x5d1d08bfu, 0xaf768bbcu,
	0xbc267848u, 0x4e4dfb4bu, 0x20bd8edeu, 0xd2d60dddu, 0xc186fe29u, 0x33ed7d2au,
	0xe72719c1u, 0x154c9ac2u, 0x061c6936u, 0xf477ea35u, 0xaa64d611u, 0x580f5512u,
	0x4b5fa6e6u, 0xb93425e5u, 0x6dfe410eu, 0x9f95c20du, 0x8cc531f9u, 0x7eaeb2fau,
	0x30e349b1u, 0xc288cab2u, 0xd1d83946u, 0x23b3ba45u, 0xf779deaeu, 0x05125dadu,
	0x1642ae59u, 0xe4292d5au, 0xba3a117eu, 0x4851927du, 0x5b016189u, 0xa96ae28au,
	0x7da08661u, 0x8fcb0562u, 0x9c9bf696u, 0x6ef07595u, 0x417b1dbcu, 0xb3109ebfu,
	0xa0406d4bu, 0x522bee48u, 0x86e18aa3u, 0x748a09a0u, 0x67dafa54u, 0x95b17957u,
	0xcba24573u, 0x39c9c670u, 0x2a993584u, 0xd8f2b687u, 0x0c38d26cu, 0xfe53516fu,
	0xed03a29bu, 0x1f682198u, 0x5125dad3u, 0xa34e59d0u, 0xb01eaa24u, 0x42752927u,
	0x96bf4dccu, 0x64d4cecfu, 0x77843d3bu, 0x85efbe38u, 0xdbfc821cu, 0x2997011fu,
	0x3ac7f2ebu, 0xc8ac71e8u, 0x1c661503u, 0xee0d9600u, 0xfd5d65f4u, 0x0f36e6f7u,
	0x61c69362u, 0x93ad1061u, 0x80fde395u, 0x72966096u, 0xa65c047du, 0x5437877eu,
	0x4767748au, 0xb50cf789u, 0xeb1fcbadu, 0x197448aeu, 0x0a24bb5au, 0xf84f3859u,
	0x2c855cb2u, 0xdeeedfb1u, 0xcdbe2c45u, 0x3fd5af46u, 0x7198540du, 0x83f3d70eu,
	0x90a324fau, 0x62c8a7f9u, 0xb602c312u, 0x44694011u, 0x5739b3e5u, 0xa55230e6u,
	0xfb410cc2u, 0x092a8fc1u, 0x1a7a7c35u, 0xe811ff36u, 0x3cdb9bddu, 0xceb018deu,
	0xdde0eb2au, 0x2f8b6829u, 0x82f63b78u, 0x709db87bu, 0x63cd4b8fu, 0x91a6c88cu,
	0x456cac67u, 0xb7072f64u, 0xa457dc90u, 0x563c5f93u, 0x082f63b7u, 0xfa44e0b4u,
	0xe9141340u, 0x1b7f9043u, 0xcfb5f4a8u, 0x3dde77abu, 0x2e8e845fu, 0xdce5075cu,
	0x92a8fc17u, 0x60c37f14u, 0x73938ce0u, 0x81f80fe3u, 0x55326b08u, 0xa759e80bu,
	0xb4091bffu, 0x466298fcu, 0x1871a4d8u, 0xea1a27dbu, 0xf94ad42fu, 0x0b21572cu,
	0xdfeb33c7u, 0x2d80b0c4u, 0x3ed04330u, 0xccbbc033u, 0xa24bb5a6u, 0x502036a5u,
	0x4370c551u, 0xb11b4652u, 0x65d122b9u, 0x97baa1bau, 0x84ea524eu, 0x7681d14du,
	0x2892ed69u, 0xdaf96e6au, 0xc9a99d9eu, 0x3bc21e9du, 0xef087a76u, 0x1d63f975u,
	0x0e330a81u, 0xfc588982u, 0xb21572c9u, 0x407ef1cau, 0x532e023eu, 0xa145813du,
	0x758fe5d6u, 0x87e466d5u, 0x94b49521u, 0x66df1622u, 0x38cc2a06u, 0xcaa7a905u,
	0xd9f75af1u, 0x2b9cd9f2u, 0xff56bd19u, 0x0d3d3e1au, 0x1e6dcdeeu, 0xec064eedu,
	0xc38d26c4u, 0x31e6a5c7u, 0x22b65633u, 0xd0ddd530u, 0x0417b1dbu, 0xf67c32d8u,
	0xe52cc12cu, 0x1747422fu, 0x49547e0bu, 0xbb3ffd08u, 0xa86f0efcu, 0x5a048dffu,
	0x8ecee914u, 0x7ca56a17u, 0x6ff599e3u, 0x9d9e1ae0u, 0xd3d3e1abu, 0x21b862a8u,
	0x32e8915cu, 0xc083125fu, 0x144976b4u, 0xe622f5b7u, 0xf5720643u, 0x07198540u,
	0x590ab964u, 0xab613a67u, 0xb831c993u, 0x4a5a4a90u, 0x9e902e7bu, 0x6cfbad78u,
	0x7fab5e8cu, 0x8dc0dd8fu, 0xe330a81au, 0x115b2b19u, 0x020bd8edu, 0xf0605beeu,
	0x24aa3f05u, 0xd6c1bc06u, 0xc5914ff2u, 0x37faccf1u, 0x69e9f0d5u, 0x9b8273d6u,
	0x88d28022u, 0x7ab90321u, 0xae7367cau, 0x5c18e4c9u, 0x4f48173du, 0xbd23943eu,
	0xf36e6f75u, 0x0105ec76u, 0x12551f82u, 0xe03e9c81u, 0x34f4f86au, 0xc69f7b69u,
	0xd5cf889du, 0x27a40b9eu, 0x79b737bau, 0x8bdcb4b9u, 0x988c474du, 0x6ae7c44eu,
	0xbe2da0a5u, 0x4c4623a6u, 0x5f16d052u, 0xad7d5351u,
};

#if defined(__x86_64__) && defined(__GNUC__)
__attribute__((target("sse4.2")))
static inline uint32_t plan_crc32c_hw(uint32_t c, const uint8_t *p, size_t n)
{
	uint64_t c64 = c;
	for (; n && ((uintptr_t)p & 7); n--)
		c64 = __builtin_ia32_crc32qi((uint32_t)c64, *p++);
	for (; n >= 8; n -= 8, p += 8) {
		uint64_t w;
		memcpy(&w, p, 8);
		c64 = __builtin_ia32_crc32di(c64, w);
	}
	for (; n; n--)
		c64 = __builtin_ia32_crc32qi((uint32_t)c64, *p++);
	return (uint32_t)c64;
}
#endif

/* Update crc (start with 0) with n bytes; returns the CRC-32C so far. */
static inline uint32_t plan_crc32c(uint32_t crc, const void *buf, size_t n)
{
	const uint8_t *p = buf;
	uint32_t c = ~crc;
#if defined(__x86_64__) && defined(__GNUC__)
	if (__builtin_cpu_supports("sse4.2"))
		return ~plan_crc32c_hw(c, p, n);
#endif
	while (n--)
		c = plan_crc32c_table[(c ^ *p++) & 0xFF] ^ (c >> 8);
	return ~c;
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
