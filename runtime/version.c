/*
 * version.c - libftsrt's version and status vocabulary.
 */
#include "ftsrt.h"

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
