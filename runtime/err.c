/*
 * err.c - ftsrt_error and struct_size handling (see err.h), and the
 * library's version and status vocabulary.
 *
 * Stage: runtime (all of it).
 */
#include "err.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define STRUCT_SIZE_MAX ((size_t)1 << 16)  /* no interface struct comes near */

FTSRT_API const char *ftsrt_version(void)
{
	return FTSRT_VERSION_STRING;
}

FTSRT_API const char *ftsrt_strerror(int status)
{
	switch (status) {
	case FTSRT_OK: return "success";
	case FTSRT_EINVAL: return "invalid argument";
	case FTSRT_ENOMEM: return "out of memory";
	case FTSRT_EIO: return "input/output error";
	case FTSRT_EFORMAT: return "malformed plan or checkpoint";
	case FTSRT_EVERSION: return "unsupported format version";
	case FTSRT_EBUSY: return "in use by another run";
	}
	return "unknown status";
}

FTSRT_API size_t ftsrt_struct_size(int32_t which)
{
	static const size_t size[FTSRT_STRUCT_COUNT_] = {
		[FTSRT_STRUCT_ERROR] = sizeof(ftsrt_error),
		[FTSRT_STRUCT_PLAN_OPTIONS] = sizeof(struct ftsrt_plan_options),
		[FTSRT_STRUCT_PLAN_PARAM] = sizeof(struct ftsrt_plan_param),
		[FTSRT_STRUCT_PLAN_PHASE] = sizeof(struct ftsrt_plan_phase),
		[FTSRT_STRUCT_OPTIM_HPARAMS] = sizeof(struct ftsrt_optim_hparams),
		[FTSRT_STRUCT_OPTIM_OPTIONS] = sizeof(struct ftsrt_optim_options),
		[FTSRT_STRUCT_RUN_OPTIONS] = sizeof(struct ftsrt_run_options),
		[FTSRT_STRUCT_RUN_EVENT] = sizeof(struct ftsrt_run_event),
		[FTSRT_STRUCT_RUN_GROUP] = sizeof(struct ftsrt_run_group),
		[FTSRT_STRUCT_RUN_OPTIMIZER] = sizeof(struct ftsrt_run_optimizer),
	};
	return which >= 0 && which < FTSRT_STRUCT_COUNT_ ? size[which] : 0;
}

int rt_fail_buf(char *buf, size_t n, int status, const char *fmt, ...)
{
	if (buf && n) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(buf, n, fmt, ap);
		va_end(ap);
	}
	return status;
}

int rt_error(ftsrt_error *err, int status, const char *fmt, ...)
{
	if (err) {
		va_list ap;
		va_start(ap, fmt);
		err->status = status;
		vsnprintf(err->message, sizeof(err->message), fmt, ap);
		va_end(ap);
	}
	return status;
}

int rt_report(ftsrt_error *err, int rc, const char *msg)
{
	if (rc < 0 && err) {
		err->status = rc;
		snprintf(err->message, sizeof(err->message), "%s",
			 msg && *msg ? msg : ftsrt_strerror(rc));
	}
	return rc;
}

static int check_size(const void *p, size_t *size, const char *what, ftsrt_error *err)
{
	memcpy(size, p, sizeof(*size));
	if (*size < sizeof(size_t) || *size > STRUCT_SIZE_MAX)
		return rt_error(err, FTSRT_EINVAL, "%s: struct_size %zu (set it to sizeof the "
				"struct; FTSRT_INIT does)", what, *size);
	return FTSRT_OK;
}

int rt_struct_in(void *dst, size_t dst_size, const void *src, const void *defaults,
		 const char *what, ftsrt_error *err)
{
	memcpy(dst, defaults, dst_size);
	if (src) {
		size_t n;
		int rc = check_size(src, &n, what, err);
		if (rc)
			return rc;
		const unsigned char *s = src;
		for (size_t k = dst_size; k < n; k++)
			if (s[k])
				return rt_error(err, FTSRT_EINVAL, "%s: a field past byte %zu is set, which "
						"this libftsrt %s does not know", what, dst_size,
						FTSRT_VERSION_STRING);
		memcpy(dst, src, n < dst_size ? n : dst_size);
	}
	memcpy(dst, &dst_size, sizeof(dst_size));
	return FTSRT_OK;
}

int rt_struct_out(void *dst, const void *src, size_t src_size, const char *what, ftsrt_error *err)
{
	size_t n;
	int rc = check_size(dst, &n, what, err);
	if (rc)
		return rc;
	unsigned char *d = dst;
	size_t head = sizeof(size_t);
	if (src_size > head)
		memcpy(d + head, (const unsigned char *)src + head,
		       (n < src_size ? n : src_size) - head);
	if (n > src_size)
		memset(d + src_size, 0, n - src_size);
	return FTSRT_OK;
}
