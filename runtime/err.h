/*
 * err.h - the one error convention of libftsrt's interface (ftsrt.h,
 * CONVENTIONS): a status return and an optional ftsrt_error out-parameter;
 * and the struct_size rule of every struct that crosses the interface.
 *
 * Stage: runtime (all of it).  Internally each object words its failures
 * into its own buffer; the public functions hand that message out here.
 */
#ifndef RT_ERR_H
#define RT_ERR_H

#include <stddef.h>

#include "ftsrt.h"

/* *err = {status, printf-formatted message} when err is not NULL; returns status. */
int rt_error(ftsrt_error *err, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* The one formatter of failure messages: status, after writing the
 * message into buf[0..n) (nothing when buf is NULL or n is 0).  Each object
 * of the runtime keeps its own buffer; their fail helpers are this. */
int rt_fail_buf(char *buf, size_t n, int status, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* For rc < 0: *err = {rc, msg} (msg "" or NULL: ftsrt_strerror(rc)).  Returns rc. */
int rt_report(ftsrt_error *err, int rc, const char *msg);

/*
 * A struct the caller passes in (struct_size first): dst (the library's
 * struct of dst_size bytes) gets defaults, then the first struct_size bytes
 * of src; dst's struct_size becomes dst_size.  src NULL: just the defaults.
 * FTSRT_EINVAL (named `what` in err) when struct_size is smaller than a
 * size_t, unreasonably large, or covers fields this library lacks that are
 * not zero.
 */
int rt_struct_in(void *dst, size_t dst_size, const void *src, const void *defaults,
		 const char *what, ftsrt_error *err);

/*
 * A struct the library fills for the caller: the caller's struct_size says
 * how much of it exists; the first min(struct_size, src_size) bytes of src
 * are copied (the caller's struct_size kept) and any caller fields past
 * src_size are zeroed.  FTSRT_EINVAL when struct_size is smaller than a
 * size_t or unreasonably large.
 */
int rt_struct_out(void *dst, const void *src, size_t src_size, const char *what, ftsrt_error *err);

#endif /* RT_ERR_H */
