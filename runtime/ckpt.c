/*
 * ckpt.c - the checkpoint container: output and input buffers, the header
 * and CRC-32C, and crash-safe file writes (see ckpt.h for the format).
 */
#include "ckpt.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const uint8_t magic[8] = {0x89, 'F', 'T', 'K', '\r', '\n', 0x1a, '\n'};

#define CHUNK ((size_t)1 << 20)           /* bytes per write() */
#define HOOK_CHUNK ((size_t)4096)          /* with a test hook: more hook calls */


int rt_wbuf_init(struct rt_wbuf *b, ftsrt_alloc_fn alloc, void *ud)
{
	memset(b, 0, sizeof(*b));
	b->alloc = alloc;
	b->ud = ud;
	uint8_t zero[RT_CKPT_HEADER] = {0};
	rt_wbuf_put(b, zero, sizeof(zero));
	return b->err;
}

void rt_wbuf_release(struct rt_wbuf *b)
{
	if (b->p)
		b->alloc(b->ud, b->p, b->cap, 0);
	b->p = NULL;
	b->len = b->cap = 0;
}

void rt_wbuf_put(struct rt_wbuf *b, const void *data, size_t n)
{
	if (b->err || n == 0)
		return;
	if (n > SIZE_MAX / 2 - b->len) {
		b->err = FTSRT_ENOMEM;
		return;
	}
	if (b->len + n > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		while (cap < b->len + n)
			cap *= 2;
		uint8_t *p = b->alloc(b->ud, b->p, b->cap, cap);
		if (!p) {
			b->err = FTSRT_ENOMEM;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, data, n);
	b->len += n;
}

void rt_wbuf_u32(struct rt_wbuf *b, uint32_t v)
{
	uint8_t x[4];
	rt_wr_le(x, v, 4);
	rt_wbuf_put(b, x, 4);
}

void rt_wbuf_i64(struct rt_wbuf *b, int64_t v)
{
	uint8_t x[8];
	rt_wr_le(x, (uint64_t)v, 8);
	rt_wbuf_put(b, x, 8);
}

void rt_wbuf_f64(struct rt_wbuf *b, double v)
{
	uint64_t u;
	memcpy(&u, &v, 8);
	rt_wbuf_i64(b, (int64_t)u);
}

void rt_wbuf_str(struct rt_wbuf *b, const char *s)
{
	size_t n = s ? strlen(s) : 0;
	rt_wbuf_u32(b, (uint32_t)n);
	rt_wbuf_put(b, s, n);
}

int rt_ckpt_seal(struct rt_wbuf *b, uint64_t manifest_hash, uint64_t plan_identity)
{
	rt_wbuf_u32(b, 0);              /* room for the CRC */
	if (b->err)
		return b->err;
	uint8_t *h = b->p;
	memcpy(h + offsetof(struct rt_ckpt_header, magic), magic, 8);
	RT_CKPT_SET(h, format_major, RT_CKPT_MAJOR);
	RT_CKPT_SET(h, format_minor, RT_CKPT_MINOR);
	RT_CKPT_SET(h, header_size, RT_CKPT_HEADER);
	RT_CKPT_SET(h, file_size, b->len);
	RT_CKPT_SET(h, manifest_hash, manifest_hash);
	RT_CKPT_SET(h, plan_identity, plan_identity);
	rt_wr_le(b->p + b->len - 4, rt_crc32c(0, b->p, b->len - 4), 4);
	return 0;
}

int rt_ckpt_open(const uint8_t *p, size_t len, struct rt_rbuf *body, uint64_t *manifest_hash,
		 uint64_t *plan_identity)
{
	if (!p || len < RT_CKPT_HEADER_MINOR0 + 4 || memcmp(p, magic, 8) != 0)
		return FTSRT_EFORMAT;
	if (RT_CKPT_GET(p, format_major) != RT_CKPT_MAJOR)
		return FTSRT_EVERSION;
	size_t hs = RT_CKPT_GET(p, header_size);
	if (hs < RT_CKPT_HEADER_MINOR0 || hs > len - 4 || RT_CKPT_GET(p, file_size) != len)
		return FTSRT_EFORMAT;
	if ((uint32_t)rt_rd_le(p + len - 4, 4) != rt_crc32c(0, p, len - 4))
		return FTSRT_EFORMAT;
	if (manifest_hash)
		*manifest_hash = RT_CKPT_GET(p, manifest_hash);
	if (plan_identity)           /* minor 0 headers have none: 0 */
		*plan_identity = hs >= RT_CKPT_HEADER ? RT_CKPT_GET(p, plan_identity) : 0;
	body->p = p;
	body->len = len - 4;
	body->pos = hs;
	body->bad = false;
	return 0;
}

const void *rt_rbuf_get(struct rt_rbuf *r, size_t n)
{
	if (r->bad || n > r->len - r->pos) {
		r->bad = true;
		return NULL;
	}
	const void *q = r->p + r->pos;
	r->pos += n;
	return q;
}

uint32_t rt_rbuf_u32(struct rt_rbuf *r)
{
	const uint8_t *q = rt_rbuf_get(r, 4);
	return q ? (uint32_t)rt_rd_le(q, 4) : 0;
}

int64_t rt_rbuf_i64(struct rt_rbuf *r)
{
	const uint8_t *q = rt_rbuf_get(r, 8);
	return q ? (int64_t)rt_rd_le(q, 8) : 0;
}

double rt_rbuf_f64(struct rt_rbuf *r)
{
	uint64_t u = (uint64_t)rt_rbuf_i64(r);
	double v;
	memcpy(&v, &u, 8);
	return v;
}

void rt_rbuf_str(struct rt_rbuf *r, char *s, size_t cap)
{
	uint32_t n = rt_rbuf_u32(r);
	const char *q = rt_rbuf_get(r, n);
	if (cap == 0)
		return;
	size_t k = q ? (n < cap - 1 ? n : cap - 1) : 0;
	if (k)
		memcpy(s, q, k);
	s[k] = '\0';
}

static int io_fail(char *err, size_t errlen, const char *what, const char *path, int e)
{
	if (err && errlen)
		snprintf(err, errlen, "%s '%s': %s", what, path, strerror(e));
	return FTSRT_EIO;
}

int rt_ckpt_write_file(const char *path, const void *p, size_t len, rt_ckpt_hook_fn hook,
		       void *hook_ud, char *err, size_t errlen)
{
	/* a fresh, unique temporary name, created exclusively (O_EXCL never follows a
	 * symlink planted there): two writers never share one, and nothing else is
	 * written through it */
	char tmp[4096];
	if (snprintf(tmp, sizeof(tmp), "%s" RT_CKPT_TMP_INFIX "XXXXXX", path) >= (int)sizeof(tmp))
		return io_fail(err, errlen, "path too long", path, ENAMETOOLONG);
	int fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0)
		return io_fail(err, errlen, "cannot create", tmp, errno);
	(void)fchmod(fd, 0644);
	const uint8_t *q = p;
	size_t done = 0;
	while (done < len) {
		size_t chunk = hook ? HOOK_CHUNK : CHUNK;
		size_t n = len - done < chunk ? len - done : chunk;
		ssize_t w = write(fd, q + done, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			int e = w < 0 ? errno : EIO;
			close(fd);
			unlink(tmp);
			return io_fail(err, errlen, "cannot write", tmp, e);
		}
		done += (size_t)w;
		if (hook)
			hook(hook_ud, done, len);
	}
	if (fsync(fd) != 0) {
		int e = errno;
		close(fd);
		unlink(tmp);
		return io_fail(err, errlen, "cannot sync", tmp, e);
	}
	if (close(fd) != 0) {
		int e = errno;
		unlink(tmp);
		return io_fail(err, errlen, "cannot close", tmp, e);
	}
	if (rename(tmp, path) != 0) {
		int e = errno;
		unlink(tmp);
		return io_fail(err, errlen, "cannot rename onto", path, e);
	}
	/* make the rename durable: fsync the directory */
	char dir[4096];
	snprintf(dir, sizeof(dir), "%s", path);
	char *slash = strrchr(dir, '/');
	if (slash == dir)
		dir[1] = '\0';
	else if (slash)
		*slash = '\0';
	else
		snprintf(dir, sizeof(dir), ".");
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		(void)fsync(dfd);
		close(dfd);
	}
	return 0;
}

static bool read_all(int fd, uint8_t *b, size_t n, int *e)
{
	size_t done = 0;
	while (done < n) {
		ssize_t r = read(fd, b + done, n - done);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			*e = r < 0 ? errno : EIO;
			return false;
		}
		done += (size_t)r;
	}
	return true;
}

int rt_ckpt_lock_dir(const char *dir, int *fd_out, char *err, size_t errlen)
{
	*fd_out = -1;
	char lk[4096];
	if (snprintf(lk, sizeof(lk), "%s/" RT_CKPT_LOCK_NAME, dir) >= (int)sizeof(lk))
		return io_fail(err, errlen, "path too long", dir, ENAMETOOLONG);
	int fd = open(lk, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0)
		return io_fail(err, errlen, "cannot open the lock file", lk, errno);
	/* an open-file-description lock: two runs conflict even in one process */
	struct flock fl = {0};
	fl.l_type = F_WRLCK;
	fl.l_whence = SEEK_SET;
	if (fcntl(fd, F_OFD_SETLK, &fl) != 0) {
		int e = errno;
		char pb[32] = {0};
		long pid = pread(fd, pb, sizeof(pb) - 1, 0) > 0 ? strtol(pb, NULL, 10) : -1;
		close(fd);
		if (e == EACCES || e == EAGAIN) {
			if (err && errlen) {
				if (pid > 0)
					snprintf(err, errlen, "checkpoint directory '%s' is in use by pid %ld", dir,
						 pid);
				else
					snprintf(err, errlen, "checkpoint directory '%s' is in use by another run",
						 dir);
			}
			return FTSRT_EBUSY;
		}
		return io_fail(err, errlen, "cannot lock", lk, e);
	}
	char buf[32];
	int n = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) != 0 || pwrite(fd, buf, (size_t)n, 0) != n) {
		/* the pid is a courtesy for the message above; the lock is what counts */
	}
	/* temporaries a killed writer left: nobody else writes here now */
	DIR *d = opendir(dir);
	if (d) {
		struct dirent *de;
		while ((de = readdir(d)))
			if (strstr(de->d_name, RT_CKPT_TMP_INFIX) && strstr(de->d_name, ".ftsckpt"))
				(void)unlinkat(dirfd(d), de->d_name, 0);
		closedir(d);
	}
	*fd_out = fd;
	return 0;
}

void rt_ckpt_unlock_dir(int fd)
{
	if (fd >= 0)
		close(fd);      /* releases the lock */
}

int rt_ckpt_read_file(const char *path, ftsrt_alloc_fn alloc, void *ud, uint8_t **p, size_t *len,
		      char *err, size_t errlen)
{
	*p = NULL;
	*len = 0;
	/* O_NONBLOCK: a FIFO must not block the open; it is refused below */
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return io_fail(err, errlen, "cannot open", path, errno);
	struct stat st;
	if (fstat(fd, &st) != 0 || st.st_size < 0) {
		int e = errno;
		close(fd);
		return io_fail(err, errlen, "cannot stat", path, e);
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		if (err && errlen)
			snprintf(err, errlen, "'%s' is not a regular file", path);
		return FTSRT_EIO;
	}
	/* the header first: not a checkpoint, or a size other than its own, is
	 * refused before the whole file is read */
	uint8_t h[RT_CKPT_HEADER_MINOR0];
	int e = 0;
	if ((size_t)st.st_size < sizeof(h) + 4 || !read_all(fd, h, sizeof(h), &e) ||
	    memcmp(h, magic, 8) != 0 || RT_CKPT_GET(h, file_size) != (uint64_t)st.st_size) {
		close(fd);
		if (e)
			return io_fail(err, errlen, "cannot read", path, e);
		if (err && errlen)
			snprintf(err, errlen, "'%s' is not a checkpoint, or not all of one (magic or size)", path);
		return FTSRT_EFORMAT;
	}
	if (lseek(fd, 0, SEEK_SET) != 0) {
		e = errno;
		close(fd);
		return io_fail(err, errlen, "cannot read", path, e);
	}
	size_t n = (size_t)st.st_size;
	uint8_t *b = alloc(ud, NULL, 0, n ? n : 1);
	if (!b) {
		close(fd);
		return FTSRT_ENOMEM;
	}
	if (!read_all(fd, b, n, &e)) {
		close(fd);
		alloc(ud, b, n ? n : 1, 0);
		return io_fail(err, errlen, "cannot read", path, e);
	}
	close(fd);
	*p = b;
	*len = n;
	return 0;
}
