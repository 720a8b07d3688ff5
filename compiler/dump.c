/*
 * dump.c - `ftsc dump` (see dump.h).
 */
#include "dump.h"

#include <stdio.h>
#include <string.h>

#include "../runtime/ftsrt.h"

int fts_dump_plan(const char *path, FILE *out, char *err, size_t errlen)
{
	ftsrt_plan *p;
	ftsrt_error e;
	int rc = ftsrt_plan_open(&p, path, NULL, &e);
	if (rc) {
		if (errlen)
			snprintf(err, errlen, "%s", e.message);
		return rc;
	}
	rc = ftsrt_plan_dump(p, out, FTSRT_DUMP_ALL, &e);
	if (rc && errlen)
		snprintf(err, errlen, "cannot write the listing: %s", e.message);
	ftsrt_plan_close(p);
	return rc;
}
