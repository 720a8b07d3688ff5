/*
 * plan_records.c - plan_records.def as data (rt_plan_record_info) and the
 * reader's generic check of a record against it (see plan_records.h).
 *
 * Stage: runtime (loading).  What a table can say about a field -- its
 * bound, that it is reserved -- is checked here for every record of every
 * section, so runtime/plan.c checks only what a table cannot say
 * (references, orderings, relations between fields).
 */
#include "plan_records.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#define ANY PLAN_FIELD_ANY
#define PLAN_RECORD(R) static const struct plan_field_info fields_##R[] = {
#define PLAN_FIELD(R, T, N, MAX) \
	{#N, (uint16_t)PLAN_OFF(R, N), (uint8_t)sizeof(PLAN_CT_##T), PLAN_FT_##T, (uint64_t)(MAX)},
#define PLAN_END(R) };
#include "plan_records.def"
#undef PLAN_RECORD
#undef PLAN_FIELD
#undef PLAN_END
#undef ANY

static const struct plan_record_info record_info[PLAN_REC_COUNT_] = {
#define PLAN_RECORD(R) [PLAN_REC_##R] = {#R, fields_##R, sizeof(fields_##R) / sizeof(fields_##R[0]), \
					 (uint16_t)PLAN_SIZE(R)},
#define PLAN_FIELD(R, T, N, MAX)
#define PLAN_END(R)
#include "plan_records.def"
#undef PLAN_RECORD
#undef PLAN_FIELD
#undef PLAN_END
};

const struct plan_record_info *rt_plan_record_info(int rec)
{
	return rec >= 0 && rec < PLAN_REC_COUNT_ ? &record_info[rec] : NULL;
}

static bool field_bounded(const struct plan_field_info *f)
{
	switch (f->type) {
	case PLAN_FT_U8: case PLAN_FT_U16: case PLAN_FT_U32: case PLAN_FT_U64:
		return f->max != PLAN_FIELD_ANY;
	case PLAN_FT_Z8: case PLAN_FT_Z16: case PLAN_FT_Z32: case PLAN_FT_Z64:
		return true;
	default:
		return false;
	}
}

static bool field_reserved(const struct plan_field_info *f)
{
	return f->type >= PLAN_FT_Z8;
}

void rt_rec_check_init(struct rt_rec_check *c, int rec)
{
	memset(c, 0, sizeof(*c));
	c->info = &record_info[rec];
	uint8_t bytes[RT_REC_MAX_WORDS * 8] = {0};
	bool any = false;
	for (uint32_t k = 0; k < c->info->nfields; k++) {
		const struct plan_field_info *f = &c->info->fields[k];
		if (!field_bounded(f))
			continue;
		uint64_t keep = 0;      /* the bits a value may have */
		if (!field_reserved(f)) {
			while (keep < f->max)
				keep = keep << 1 | 1;
			if (keep != f->max && c->nranges < RT_REC_MAX_RANGES) {
				c->ranges[c->nranges].off = f->off;
				c->ranges[c->nranges].size = f->size;
				c->ranges[c->nranges++].max = f->max;
			}
		}
		for (uint32_t b = 0; b < f->size; b++)
			bytes[f->off + b] = (uint8_t)~(keep >> (8 * b));
		any = true;
	}
	if (!any || c->info->size % 8 || c->info->size > sizeof(bytes))
		return;                 /* byte tables and pools: no mask */
	c->nwords = c->info->size / 8;
	for (uint32_t w = 0; w < c->nwords; w++)
		c->mask[w] = rt_rd64(bytes + 8 * w);
}

void rt_rec_refuse(const struct rt_rec_check *c, const uint8_t *r, const char *what, uint64_t i,
		   char *msg, size_t msglen)
{
	if (!msg || !msglen)
		return;
	for (uint32_t k = 0; k < c->info->nfields; k++) {
		const struct plan_field_info *f = &c->info->fields[k];
		if (!field_bounded(f))
			continue;
		uint64_t v = rt_rec_field(r, f->off, f->size);
		if (field_reserved(f) && v) {
			snprintf(msg, msglen, "%s %" PRIu64 ": reserved field %s.%s is not zero", what, i,
				 c->info->name, f->name);
			return;
		}
		if (!field_reserved(f) && v > f->max) {
			snprintf(msg, msglen, "%s %" PRIu64 ": %s.%s is %" PRIu64 ", at most %" PRIu64,
				 what, i, c->info->name, f->name, v, f->max);
			return;
		}
	}
	snprintf(msg, msglen, "%s %" PRIu64 ": bad field", what, i);
}
