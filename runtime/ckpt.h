/*
 * ckpt.h - the checkpoint container of libftsrt: byte buffers, the file
 * header and CRC, and atomic file writes.
 *
 * Stage: runtime (plan execution).  run_ckpt.c decides what a checkpoint holds
 * (see "CHECKPOINT BODY" in run_ckpt.c); this file owns how it is framed and
 * how it reaches the disk so that a crash never damages the last good one.
 *
 * FILE FORMAT (major 1; little-endian): the header (struct
 * rt_ckpt_header below, 40 bytes), the body (run_ckpt.c), then the CRC-32C of
 * every byte before it (u32).  magic is 89 46 54 4B 0D 0A 1A 0A
 * ("\x89FTK\r\n\x1a\n"); a reader refuses another major, and reads
 * header_size bytes of header (32 in minor 0, which had no plan identity),
 * ignoring fields a later minor adds.
 *
 * Atomicity: rt_ckpt_write_file writes a fresh "<path>.tmp.XXXXXX"
 * (created exclusively: never through a planted symlink, never shared by
 * two writers), fsyncs it, renames it over path and fsyncs the directory.
 * A process killed at any point leaves either the old file or the new one
 * at path, never a torn one.  A run holds an advisory lock on its
 * checkpoint directory (rt_ckpt_lock_dir: a second run is refused, naming
 * the first one's pid), and removes the temporaries a killed writer left.
 *
 * Ownership: buffers allocate through the caller's allocator (lua_Alloc
 * style); the reader borrows its bytes.  No global state.
 */
#ifndef RT_CKPT_H
#define RT_CKPT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bytes.h"
#include "ftsrt.h"

#define RT_CKPT_TMP_INFIX ".tmp."
#define RT_CKPT_LOCK_NAME ".ftsrun.lock"
#define RT_CKPT_MAJOR 1
#define RT_CKPT_MINOR 1

/* The checkpoint header, as a layout (bytes.h: RT_GET/RT_SET). */
struct rt_ckpt_header {
	uint64_t magic;                 /* the 8 bytes of the magic */
	uint16_t format_major;          /* RT_CKPT_MAJOR: a reader refuses any other */
	uint16_t format_minor;          /* RT_CKPT_MINOR: additions readers may ignore */
	uint32_t header_size;           /* sizeof(struct rt_ckpt_header) when written */
	uint64_t file_size;             /* bytes in the file, CRC included */
	uint64_t manifest_hash;         /* of the plan the run executed */
	uint64_t plan_identity;         /* rt_plan_identity of that plan (minor 1) */
};
RT_LAYOUT_ASSERT(struct rt_ckpt_header, 8 + 2 + 2 + 4 + 8 + 8 + 8);
#define RT_CKPT_HEADER sizeof(struct rt_ckpt_header)
#define RT_CKPT_HEADER_MINOR0 offsetof(struct rt_ckpt_header, plan_identity)
#define RT_CKPT_GET(h, N) RT_GET(struct rt_ckpt_header, h, N)
#define RT_CKPT_SET(h, N, v) RT_SET(struct rt_ckpt_header, h, N, v)

/* A growable output buffer.  err latches the first failure (FTSRT_ENOMEM). */
struct rt_wbuf {
	uint8_t *p;                     /* bytes, owned */
	size_t len;                     /* bytes written */
	size_t cap;                     /* bytes allocated */
	int err;                        /* 0 or the first FTSRT_E* code */
	ftsrt_alloc_fn alloc;           /* never NULL */
	void *ud;                       /* allocator context */
};

/* A bounds-checked reader over borrowed bytes.  bad latches any overrun. */
struct rt_rbuf {
	const uint8_t *p;               /* bytes, borrowed */
	size_t len;                     /* bytes available */
	size_t pos;                     /* next byte to read */
	bool bad;                       /* a read ran past len */
};

/* Start a checkpoint buffer (header reserved).  Returns 0 or FTSRT_ENOMEM. */
int rt_wbuf_init(struct rt_wbuf *b, ftsrt_alloc_fn alloc, void *ud);
void rt_wbuf_release(struct rt_wbuf *b);
void rt_wbuf_put(struct rt_wbuf *b, const void *data, size_t n);
void rt_wbuf_u32(struct rt_wbuf *b, uint32_t v);
void rt_wbuf_i64(struct rt_wbuf *b, int64_t v);
void rt_wbuf_f64(struct rt_wbuf *b, double v);
void rt_wbuf_str(struct rt_wbuf *b, const char *s);   /* u32 length + bytes; NULL as "" */

/*
 * Lock checkpoint directory dir for this process (an fcntl lock on
 * dir/.ftsrun.lock, released when the descriptor is closed) and remove
 * stale temporaries.  Returns 0 and *fd, FTSRT_EBUSY when another process
 * holds it ("in use by pid N" in err), or FTSRT_EIO.
 */
int rt_ckpt_lock_dir(const char *dir, int *fd, char *err, size_t errlen);
void rt_ckpt_unlock_dir(int fd);

/* Fill in the header and append the CRC.  Returns 0 or b->err. */
int rt_ckpt_seal(struct rt_wbuf *b, uint64_t manifest_hash, uint64_t plan_identity);

/*
 * Check a whole checkpoint image p[0..len) (magic, version, size, CRC) and
 * set *body to read its body.  Returns 0, FTSRT_EFORMAT (not a checkpoint,
 * truncated or corrupted) or FTSRT_EVERSION (a newer major format).
 */
int rt_ckpt_open(const uint8_t *p, size_t len, struct rt_rbuf *body, uint64_t *manifest_hash,
		 uint64_t *plan_identity);

uint32_t rt_rbuf_u32(struct rt_rbuf *r);
int64_t rt_rbuf_i64(struct rt_rbuf *r);
double rt_rbuf_f64(struct rt_rbuf *r);
const void *rt_rbuf_get(struct rt_rbuf *r, size_t n);   /* NULL on overrun */
/* A string: copies at most cap-1 bytes and a NUL into s; overrun sets bad. */
void rt_rbuf_str(struct rt_rbuf *r, char *s, size_t cap);

/* CRC-32C (Castagnoli) of p[0..n), continuing from crc (0 to start). */

/*
 * Test hook: called after each chunk of a checkpoint file is written,
 * with the bytes written so far and the total (fault-injection tests kill
 * the process there).
 */
typedef void (*rt_ckpt_hook_fn)(void *ud, size_t written, size_t total);

/*
 * Write p[0..len) to path atomically (see above).  On failure returns
 * FTSRT_EIO with the reason in err[0..errlen), and path is untouched.
 */
int rt_ckpt_write_file(const char *path, const void *p, size_t len, rt_ckpt_hook_fn hook,
		       void *hook_ud, char *err, size_t errlen);

/*
 * Read the whole file at path into a block from alloc (the caller frees
 * it with alloc(ud, *p, *len, 0)).  Returns 0, FTSRT_EIO or FTSRT_ENOMEM.
 */
int rt_ckpt_read_file(const char *path, ftsrt_alloc_fn alloc, void *ud, uint8_t **p, size_t *len,
		      char *err, size_t errlen);

#endif /* RT_CKPT_H */
