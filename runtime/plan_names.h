/*
 * plan_names.h - the NAME section of a plan (ftsplan(5)): the manifest's
 * names, front-coded.  The check runs when a plan is opened; the decoding
 * when the names are first asked for (rt_plan_names, plan.c).
 *
 * Stage: runtime (loading).  The writer's half (plan_name_shared,
 * plan_leb128_put) is in plan_format.h, beside the layout.
 */
#ifndef RT_PLAN_NAMES_H
#define RT_PLAN_NAMES_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "ftsrt.h"

/*
 * Check the body of a NAME section (the bytes after its NAMH head, len of
 * them): n names whose lengths take the first `lengths` bytes.  Returns 0
 * and sets *decoded to the bytes the names take decoded, with a NUL each;
 * or -1 with the reason in msg.
 */
int rt_names_check(const uint8_t *body, uint64_t len, uint32_t n, uint32_t lengths,
		   uint64_t *decoded, char *msg, size_t msglen);

/* Decode a body rt_names_check accepted: out[i] points at name i in buf
 * (*decoded bytes). */
void rt_names_decode(const uint8_t *body, uint32_t lengths, uint32_t n, const char **out,
		     char *buf);

/*
 * A loaded plan's names (struct rt_plan.names_cache; rt_plan_names in
 * plan.h): the checked NAME section, and the block the first rt_plan_names
 * decodes it into (nparams pointers, then the names), freed by
 * rt_names_cache_release.
 */
struct rt_plan_names_cache {
	const uint8_t *body;            /* after the NAMH head */
	uint32_t lengths;
	uint32_t n;
	size_t bytes;                   /* the block's size */
	ftsrt_alloc_fn alloc;
	void *ud;
	_Atomic(void *) block;          /* NULL before the first rt_plan_names */
	size_t table_bytes;
	_Atomic(void *) table;          /* rt_plan_name_index's, NULL before its first call */
};

/* Check the NAME section sec (len bytes, head included) for nparams names and
 * set c up to decode it with alloc; FTSRT_OK, or FTSRT_EFORMAT or
 * FTSRT_ENOMEM with the reason in msg. */
int rt_names_cache_init(struct rt_plan_names_cache *c, const uint8_t *sec, uint64_t len,
			uint32_t nparams, ftsrt_alloc_fn alloc, void *ud, char *msg, size_t msglen);
void rt_names_cache_release(struct rt_plan_names_cache *c);

#endif /* RT_PLAN_NAMES_H */
