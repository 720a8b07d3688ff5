/*
 * plan_file.h - reading a plan file into memory for the plan reader.
 *
 * Stage: runtime (loading).  Only plan.c includes it.
 */
#ifndef RT_PLAN_FILE_H
#define RT_PLAN_FILE_H

#include <stddef.h>
#include <stdint.h>

#include "ftsrt.h"

/*
 * Read the plan file at path whole into a buffer of its size taken from
 * buffer(ctx, size), which the caller owns (and frees on failure too).  The
 * file must be a regular file (a FIFO or device is refused before any read)
 * whose header has the plan magic and states the file's size; it is read,
 * never mapped, so a file truncated meanwhile is an error, not SIGBUS.
 * Returns FTSRT_OK with *out and *len set, or FTSRT_EIO, FTSRT_EFORMAT or
 * FTSRT_ENOMEM with err set.
 */
int rt_plan_read_file(const char *path, uint8_t *(*buffer)(void *ctx, size_t size), void *ctx,
		      uint8_t **out, size_t *len, ftsrt_error *err);

#endif /* RT_PLAN_FILE_H */
