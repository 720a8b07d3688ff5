/*
 * emit.h - the plan writer: a checked compilation (driver.h) to the bytes
 * of a plan file (man/ftsplan.5, runtime/plan_format.h).
 *
 * Stage: back end.  Each emit_x in emit.c mirrors plan_load_x in
 * runtime/plan.c.  Output is deterministic: the same inputs give the same
 * bytes (no timestamps, addresses or uninitialised padding); with strip
 * the source map is left out, so schedules with the same meaning give
 * identical plans.
 */
#ifndef FTS_EMIT_H
#define FTS_EMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "driver.h"
#include "source.h"

/*
 * Write the plan of c (which must have no errors: c->ir and c->sim set)
 * into a heap buffer *out of *len bytes that the caller frees.  src gives
 * file names and lines for the source map.  Returns 0, or -1 with a
 * lower-case reason in err when the schedule cannot be expressed as a plan
 * (no known initial optimizer, a class unknown to the stdlib, a list of
 * lr_lambdas, an untyped manifest, ...).
 */
int fts_emit_plan(const struct fts_compile *c, const struct fts_sources *src, bool strip,
		  uint8_t **out, size_t *len, char *err, size_t errlen);

/* The manifest hash of ftsplan(5) (ftsrt_manifest_hash on the runtime side). */
uint64_t fts_emit_manifest_hash(const struct fts_manifest *m);

#endif /* FTS_EMIT_H */
