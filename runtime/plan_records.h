/*
 * plan_records.h - plan_records.def as data, and the reader's check of a
 * record against it (runtime/plan_records.c; used by runtime/plan.c and
 * the tests).
 *
 * Stage: runtime (loading).  The table gives every field's bound and the
 * reserved fields; rt_rec_check_init compiles those rules for one kind of
 * record into a bit mask and a few range checks, so rt_rec_ok costs a few
 * word operations per record, and rt_rec_refuse words the refusal, naming
 * the record and the field.
 */
#ifndef RT_PLAN_RECORDS_H
#define RT_PLAN_RECORDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "plan_format.h"

/* Record rec (enum plan_record_kind) with its fields, offsets, sizes and
 * bounds; NULL past the table. */
const struct plan_record_info *rt_plan_record_info(int rec);

#define RT_REC_MAX_WORDS 16             /* records of up to 128 bytes */
#define RT_REC_MAX_RANGES 8

/* The rules of one kind of record. */
struct rt_rec_check {
	const struct plan_record_info *info;
	uint32_t nwords;                /* 0: no mask */
	uint64_t mask[RT_REC_MAX_WORDS];        /* bits that must be 0, as LE words */
	uint32_t nranges;
	struct {
		uint16_t off;
		uint8_t size;
		uint64_t max;
	} ranges[RT_REC_MAX_RANGES];    /* bounds not of the form 2^k - 1 */
};

void rt_rec_check_init(struct rt_rec_check *c, int rec);

static inline uint64_t rt_rec_field(const uint8_t *r, uint32_t off, uint32_t size)
{
	const uint8_t *p = r + off;
	return size == 1 ? p[0] : size == 2 ? rt_rd16(p) : size == 4 ? rt_rd32(p) : rt_rd64(p);
}

/* Whether the record at r keeps the rules. */
static inline bool rt_rec_ok(const struct rt_rec_check *c, const uint8_t *r)
{
	uint64_t bad = 0;
	for (uint32_t w = 0; w < c->nwords; w++)
		bad |= rt_rd64(r + 8 * w) & c->mask[w];
	for (uint32_t k = 0; k < c->nranges; k++)
		bad |= rt_rec_field(r, c->ranges[k].off, c->ranges[k].size) > c->ranges[k].max;
	return !bad;
}

/* For a record rt_rec_ok refused: the message ("<what> <i>: <record>.<field>
 * is <v>, at most <max>", or "reserved field ... is not zero") into msg. */
void rt_rec_refuse(const struct rt_rec_check *c, const uint8_t *r, const char *what, uint64_t i,
		   char *msg, size_t msglen);

#endif /* RT_PLAN_RECORDS_H */
