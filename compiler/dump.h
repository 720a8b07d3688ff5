/*
 * dump.h - `ftsc dump PLAN`: a stable, human-readable listing of a plan.
 *
 * Stage: tools.  The plan is opened through libftsrt (ftsrt.h), exactly as
 * a training job would open it, so a plan that dumps is a plan the runtime
 * accepts; the listing itself is ftsrt_plan_dump(FTSRT_DUMP_ALL).
 */
#ifndef FTS_DUMP_H
#define FTS_DUMP_H

#include <stddef.h>
#include <stdio.h>

/*
 * Validate the plan at path and list it on out.  Returns 0, or a negative
 * FTSRT_E* status with a reason in err (errlen bytes) when the plan is
 * invalid or cannot be read.
 */
int fts_dump_plan(const char *path, FILE *out, char *err, size_t errlen);

#endif /* FTS_DUMP_H */
