/*
 * plan_file.c - reading a plan file (see plan_file.h): the checks that need
 * the file (its type, its header's magic and size) come before the read.
 */
#include "plan_file.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "err.h"
#include "plan_format.h"
#include "plan_records.h"

/* read up to n bytes, retrying interrupted reads; the count read, or -1 */
static ssize_t read_full(int fd, uint8_t *buf, size_t n)
{
	size_t done = 0;
	while (done < n) {
		ssize_t r = read(fd, buf + done, n - done);
		if (r < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (r < 0)
			return -1;
		if (r == 0)
			break;
		done += (size_t)r;
	}
	return (ssize_t)done;
}

int rt_plan_read_file(const char *path, uint8_t *(*buffer)(void *ctx, size_t size), void *ctx,
		      uint8_t **out, size_t *len, ftsrt_error *err)
{
	struct stat st;
	int rc = FTSRT_OK;
	/* O_NONBLOCK: a FIFO must not block the open; it is refused below */
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return rt_error(err, FTSRT_EIO, "cannot open '%s': %s", path, strerror(errno));
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		rc = rt_error(err, FTSRT_EIO, "'%s' is not a regular file", path);
		goto out;
	}
	if (st.st_size < PLAN_HEADER_SIZE) {
		rc = rt_error(err, FTSRT_EFORMAT, "'%s' is too short to be a plan (%lld bytes)", path,
			      (long long)st.st_size);
		goto out;
	}
	/* the header first: a file that is not a plan, or not all of one, is
	 * refused before it is read whole */
	uint8_t h[PLAN_HEADER_SIZE];
	ssize_t hd = read_full(fd, h, sizeof(h));
	if (hd < (ssize_t)sizeof(h) || memcmp(h + PLAN_OFF(HDR, magic), PLAN_MAGIC, PLAN_MAGIC_LEN) != 0) {
		rc = rt_error(err, FTSRT_EFORMAT, "'%s' is not a plan file (bad magic)", path);
		goto out;
	}
	if (PLAN_GET(HDR, h, file_size) != (uint64_t)st.st_size) {
		rc = rt_error(err, FTSRT_EFORMAT, "'%s': the header says %llu bytes, the file has %lld", path,
			      (unsigned long long)PLAN_GET(HDR, h, file_size), (long long)st.st_size);
		goto out;
	}
	if (lseek(fd, 0, SEEK_SET) != 0) {
		rc = rt_error(err, FTSRT_EIO, "cannot read '%s': %s", path, strerror(errno));
		goto out;
	}
	/* read, not mapped: a file truncated under a mapping would kill the
	 * process with SIGBUS at the next access */
	size_t n = (size_t)st.st_size;
	uint8_t *buf = buffer(ctx, n);
	if (!buf) {
		rc = rt_error(err, FTSRT_ENOMEM, "out of memory (%zu bytes)", n);
		goto out;
	}
	ssize_t r = read_full(fd, buf, n);
	if (r != (ssize_t)n) {
		rc = rt_error(err, FTSRT_EIO, "cannot read '%s': %s", path,
			      r < 0 ? strerror(errno) : "the file shrank while being read");
		goto out;
	}
	*out = buf;
	*len = n;
out:
	close(fd);
	return rc;
}
