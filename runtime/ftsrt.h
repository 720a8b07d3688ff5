/*
 * ftsrt.h - the public interface of libftsrt, the ftsc runtime.
 *
 * This is the only installed header.  It is self-contained and free of
 * global state: every object is an opaque handle the caller owns.
 *
 * Status of this release: the library carries the version and error
 * vocabulary that plan loading and execution build on; ftsrun exposes
 * them.  Plan loading (ftsrt_plan_open) arrives with the binary plan
 * format, see ftsplan(5) once it exists.
 */
#ifndef FTSRT_H
#define FTSRT_H

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define FTSRT_API __attribute__((visibility("default")))
#else
#define FTSRT_API
#endif

#define FTSRT_VERSION_MAJOR 0
#define FTSRT_VERSION_MINOR 1
#define FTSRT_VERSION_PATCH 0
#define FTSRT_VERSION_STRING "0.1.0"

/* Status codes: 0 is success, failures are negative. */
enum ftsrt_status {
	FTSRT_OK = 0,
	FTSRT_EINVAL = -1,              /* a bad argument (NULL, wrong size, non-finite value) */
	FTSRT_ENOMEM = -2,              /* an allocation failed */
	FTSRT_EIO = -3,                 /* a file could not be read or written */
	FTSRT_EFORMAT = -4,             /* a file is not a valid plan or checkpoint */
	FTSRT_EVERSION = -5,            /* a plan needs a newer reader */
};

/* The library's version string ("0.1.0"); static storage. */
FTSRT_API const char *ftsrt_version(void);

/* A short English description of a status code; static storage. */
FTSRT_API const char *ftsrt_strerror(int status);

#ifdef __cplusplus
}
#endif

#endif /* FTSRT_H */
