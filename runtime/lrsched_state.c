/*
 * lrsched_state.c - a scheduler's state as bytes (state_dict and
 * load_state_dict): what FTS saves before a transition and restores after
 * it, and what a checkpoint carries.
 *
 * Stage: runtime (plan execution).  The format is described below; a
 * state is checked whole against the scheduler it is loaded into before
 * any field is applied, so a refused load changes nothing.
 */
#include "lrsched_int.h"

#include "bytes.h"

#include <stddef.h>
#include <string.h>

#include "ftsrt.h"

/* ---- state save / load ------------------------------------------------------------
 *
 * Buffer: header (struct state_header), then one node per scheduler
 * (depth first).
 *   node    a struct node_header, then
 *           NSCALAR x 8-byte scalars (the fields[] table, in order),
 *           RT_SCHED_NARRAYS x ngroups f64 (base_lrs, _last_lr, min_lrs,
 *           max_lrs, base_mom, max_mom, scratch), ngroups u32 lambda indices,
 *           nmilestones i64, then the children's nodes.
 * CHECKLIST when a field is added: fields[], bump STATE_VERSION, tests.
 */
#define STATE_MAGIC "FTSS"
#define STATE_VERSION 2                 /* 2: CRC-32C (1 had CRC-32/IEEE) */

/* Layouts (bytes.h: RT_GET/RT_SET). */
struct state_header {
	uint32_t magic;                 /* the 4 bytes of STATE_MAGIC */
	uint16_t version;               /* STATE_VERSION */
	uint16_t zero0;
	uint64_t length;                /* of the whole buffer */
	uint32_t crc32c;                /* of the bytes after the header */
	uint32_t zero1;
};
RT_LAYOUT_ASSERT(struct state_header, 4 + 2 + 2 + 8 + 4 + 4);
struct node_header {
	uint32_t kind;                  /* enum rt_sched_kind */
	uint32_t nchildren;
	uint64_t ngroups;
	uint64_t nmilestones;
};
RT_LAYOUT_ASSERT(struct node_header, 4 + 4 + 8 + 8);
#define STATE_HEADER sizeof(struct state_header)
#define NODE_HEADER sizeof(struct node_header)
#define SH_GET(p, N) RT_GET(struct state_header, p, N)
#define SH_SET(p, N, v) RT_SET(struct state_header, p, N, v)
#define NH_GET(p, N) RT_GET(struct node_header, p, N)
#define NH_SET(p, N, v) RT_SET(struct node_header, p, N, v)

enum ftype { F_F64, F_I64, F_INT, F_BOOL, F_SIZE };
struct field {
	size_t off;                     /* offsetof(struct rt_sched, ...) */
	enum ftype type;
	int64_t lo, hi;                 /* bounds for integer types */
};

#define FD(name) {offsetof(struct rt_sched, name), F_F64, 0, 0}
#define FI(name) {offsetof(struct rt_sched, name), F_I64, -RT_SCHED_INT_LIMIT, RT_SCHED_INT_LIMIT}
#define FE(name, hi) {offsetof(struct rt_sched, name), F_INT, 0, hi}
#define FB(name) {offsetof(struct rt_sched, name), F_BOOL, 0, 1}

static const struct field fields[] = {
	FI(last_epoch), FI(step_count), FD(gamma), FD(eta_min), FD(factor), FD(start_factor),
	FD(end_factor), FD(power), FD(threshold), FD(eps), FD(pct_start), FD(div_factor),
	FD(final_div_factor), FD(total_size), FD(step_ratio), FD(default_min_lr),
	FD(end_step[0]), FD(end_step[1]), FD(end_step[2]), FI(step_size), FI(T_max), FI(T_0),
	FI(T_mult), FI(total_iters), FI(patience), FI(cooldown), FI(total_steps), FI(nphases),
	FE(mode, 1), FE(threshold_mode, 1), FE(anneal, 1), FE(cyclic_mode, 2),
	FB(cycle_momentum), FB(three_phase), FD(T_cur), FD(T_i), FD(best), FI(num_bad_epochs),
	FI(cooldown_counter), {offsetof(struct rt_sched, nfixed), F_SIZE, 0, 1 << 24},
};
#define NSCALAR (sizeof(fields) / sizeof(fields[0]))


static uint64_t dbits(double d)
{
	uint64_t u;
	memcpy(&u, &d, sizeof(u));
	return u;
}

static double bitsd(uint64_t u)
{
	double d;
	memcpy(&d, &u, sizeof(d));
	return d;
}

static size_t node_size(const struct rt_sched *s)
{
	size_t n = NODE_HEADER + NSCALAR * 8 + RT_SCHED_NARRAYS * 8 * s->ngroups + 4 * s->ngroups +
		   8 * s->nmilestones;
	for (size_t i = 0; i < s->nchildren; i++)
		n += node_size(&s->children[i]);
	return n;
}

size_t rt_sched_state_size(const struct rt_sched *s)
{
	return s ? STATE_HEADER + node_size(s) : 0;
}

static uint8_t *save_node(const struct rt_sched *s, uint8_t *p)
{
	NH_SET(p, kind, (uint32_t)s->kind);
	NH_SET(p, nchildren, (uint32_t)s->nchildren);
	NH_SET(p, ngroups, s->ngroups);
	NH_SET(p, nmilestones, s->nmilestones);
	p += NODE_HEADER;
	const uint8_t *base = (const uint8_t *)s;
	for (size_t i = 0; i < NSCALAR; i++, p += 8) {
		const void *fp = base + fields[i].off;
		uint64_t v;
		switch (fields[i].type) {
		case F_F64: v = dbits(*(const double *)fp); break;
		case F_I64: v = (uint64_t)*(const int64_t *)fp; break;
		case F_INT: v = (uint64_t)(int64_t)*(const int *)fp; break;
		case F_BOOL: v = *(const bool *)fp; break;
		default: v = *(const size_t *)fp; break;
		}
		rt_wr_le(p, v, 8);
	}
	for (int a = 0; a < RT_SCHED_NARRAYS; a++) {
		const double *arr = *rt_sched_darray((struct rt_sched *)s, a);
		for (size_t g = 0; g < s->ngroups; g++, p += 8)
			rt_wr_le(p, dbits(arr[g]), 8);
	}
	for (size_t g = 0; g < s->ngroups; g++, p += 4)
		rt_wr_le(p, s->lambda_idx[g], 4);
	for (size_t i = 0; i < s->nmilestones; i++, p += 8)
		rt_wr_le(p, (uint64_t)s->milestones[i], 8);
	for (size_t i = 0; i < s->nchildren; i++)
		p = save_node(&s->children[i], p);
	return p;
}

int rt_sched_state_save(const struct rt_sched *s, void *buf, size_t len)
{
	if (!s || !buf || !s->alloc)
		return FTSRT_EINVAL;
	size_t need = rt_sched_state_size(s);
	if (len < need)
		return FTSRT_EINVAL;
	uint8_t *p = buf;
	memset(p, 0, STATE_HEADER);
	memcpy(p + offsetof(struct state_header, magic), STATE_MAGIC, 4);
	SH_SET(p, version, STATE_VERSION);
	SH_SET(p, length, need);
	save_node(s, p + STATE_HEADER);
	SH_SET(p, crc32c, rt_crc32c(0, p + STATE_HEADER, need - STATE_HEADER));
	return 0;
}

/*
 * Walk one node: with apply false only check it against s (kind, children,
 * lengths, ranges); with apply true (after a successful check) copy it in.
 */
static int load_node(struct rt_sched *s, const uint8_t **pp, const uint8_t *end, bool apply,
		     uint64_t expect_groups)
{
	const uint8_t *p = *pp;
	if ((size_t)(end - p) < NODE_HEADER)
		return FTSRT_EFORMAT;
	uint64_t kind = NH_GET(p, kind), nchildren = NH_GET(p, nchildren);
	uint64_t ngroups = NH_GET(p, ngroups), nms = NH_GET(p, nmilestones);
	p += NODE_HEADER;
	if (kind != (uint64_t)s->kind || nchildren != s->nchildren || ngroups == 0 ||
	    ngroups > ((uint64_t)1 << 24) || nms != s->nmilestones ||
	    (expect_groups && ngroups != expect_groups))
		return FTSRT_EFORMAT;
	uint64_t body = NSCALAR * 8 + (RT_SCHED_NARRAYS * 8 + 4) * ngroups + 8 * nms;
	if ((uint64_t)(end - p) < body)
		return FTSRT_EFORMAT;
	/* check scalars */
	for (size_t i = 0; i < NSCALAR; i++) {
		int64_t v = (int64_t)rt_rd_le(p + 8 * i, 8);
		if (fields[i].type != F_F64 && (v < fields[i].lo || v > fields[i].hi))
			return FTSRT_EFORMAT;
	}
	const uint8_t *li = p + NSCALAR * 8 + RT_SCHED_NARRAYS * 8 * ngroups;
	for (uint64_t g = 0; g < ngroups; g++) {
		uint64_t idx = rt_rd_le(li + 4 * g, 4);
		if (s->nlambdas ? idx >= s->nlambdas : idx != 0)
			return FTSRT_EFORMAT;
	}
	if (apply) {
		uint8_t *base = (uint8_t *)s;
		for (size_t i = 0; i < NSCALAR; i++) {
			void *fp = base + fields[i].off;
			uint64_t v = rt_rd_le(p + 8 * i, 8);
			switch (fields[i].type) {
			case F_F64: *(double *)fp = bitsd(v); break;
			case F_I64: *(int64_t *)fp = (int64_t)v; break;
			case F_INT: *(int *)fp = (int)(int64_t)v; break;
			case F_BOOL: *(bool *)fp = v != 0; break;
			default: *(size_t *)fp = (size_t)v; break;
			}
		}
		const uint8_t *q = p + NSCALAR * 8;
		for (int a = 0; a < RT_SCHED_NARRAYS; a++) {
			double *arr = *rt_sched_darray(s, a);
			for (uint64_t g = 0; g < ngroups; g++, q += 8)
				arr[g] = bitsd(rt_rd_le(q, 8));
		}
		for (uint64_t g = 0; g < ngroups; g++, q += 4)
			s->lambda_idx[g] = (uint32_t)rt_rd_le(q, 4);
		for (uint64_t i = 0; i < nms; i++, q += 8)
			s->milestones[i] = (int64_t)rt_rd_le(q, 8);
		s->ngroups = (size_t)ngroups;
	} else {
		const uint8_t *q = p + NSCALAR * 8 + (RT_SCHED_NARRAYS * 8 + 4) * ngroups;
		for (uint64_t i = 0; i < nms; i++, q += 8)
			if (!rt_sched_int_ok((int64_t)rt_rd_le(q, 8)))
				return FTSRT_EFORMAT;
		/* grow now, so that applying cannot fail half-way */
		if (rt_sched_reserve(s, (size_t)ngroups))
			return FTSRT_ENOMEM;
	}
	p += body;
	for (size_t i = 0; i < s->nchildren; i++) {
		int rc = load_node(&s->children[i], &p, end, apply, ngroups);
		if (rc)
			return rc;
	}
	*pp = p;
	return 0;
}

int rt_sched_state_load(struct rt_sched *s, const void *buf, size_t len)
{
	if (!s || !buf || !s->alloc)
		return FTSRT_EINVAL;
	const uint8_t *p = buf;
	if (len < STATE_HEADER || memcmp(p + offsetof(struct state_header, magic), STATE_MAGIC, 4) != 0)
		return rt_sched_fail(s, FTSRT_EFORMAT, "not a scheduler state");
	unsigned version = SH_GET(p, version);
	if (version != STATE_VERSION)
		return rt_sched_fail(s, version > STATE_VERSION ? FTSRT_EVERSION : FTSRT_EFORMAT,
				     "scheduler state version %u", version);
	if (SH_GET(p, zero0) != 0 || SH_GET(p, zero1) != 0)
		return rt_sched_fail(s, FTSRT_EFORMAT, "scheduler state has non-zero reserved fields");
	if (SH_GET(p, length) != len)
		return rt_sched_fail(s, FTSRT_EFORMAT, "scheduler state length mismatch");
	if (SH_GET(p, crc32c) != rt_crc32c(0, p + STATE_HEADER, len - STATE_HEADER))
		return rt_sched_fail(s, FTSRT_EFORMAT, "scheduler state checksum mismatch");
	const uint8_t *q = p + STATE_HEADER, *end = p + len;
	int rc = load_node(s, &q, end, false, 0);
	if (!rc && q != end)
		rc = FTSRT_EFORMAT;
	if (rc)
		return rt_sched_fail(s, rc, "scheduler state does not match this %s",
				     rt_sched_kind_name(s->kind));
	q = p + STATE_HEADER;
	rc = load_node(s, &q, end, true, 0);
	return rc ? rt_sched_fail(s, rc, "scheduler state could not be applied") : 0;
}
