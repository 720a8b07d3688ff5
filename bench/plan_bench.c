/*
 * plan_bench.c - time ftsrt_plan_open + ftsrt_plan_close of one plan, warm
 * and with the file evicted from the page cache.
 *
 *   plan_bench PLAN [RUNS [COLD_RUNS]]
 *
 * Warm: RUNS (default 50) open+close cycles, best and median, and as the
 * reference, in the same run, the floor of any loader that reads the file:
 * read() of its bytes into a fresh buffer.  The first cycle is also shown
 * on its own: a process that opens one plan pays it (the heap is fresh, so
 * the file's buffer is page-faulted in; later cycles reuse freed memory).
 * Cold: COLD_RUNS (default 10) cycles, each after
 * posix_fadvise(POSIX_FADV_DONTNEED) on the file (which evicts only this
 * file's pages: dropping the whole page cache would disturb everything
 * else on a shared machine); mincore() says how much of the file was
 * still resident after the eviction.  Used by bench/plan.sh.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ftsrt.h"

static double now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* Evict the file's pages; returns the fraction still resident after. */
static double evict(const char *path)
{
	int fd = open(path, O_RDONLY);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) != 0)
		return -1;
	fsync(fd);
	posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
	size_t page = (size_t)sysconf(_SC_PAGESIZE), n = ((size_t)st.st_size + page - 1) / page;
	double res = -1;
	void *m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
	unsigned char *vec = malloc(n);
	if (m != MAP_FAILED && vec && mincore(m, (size_t)st.st_size, vec) == 0) {
		size_t in = 0;
		for (size_t i = 0; i < n; i++)
			in += vec[i] & 1;
		res = (double)in / (double)n;
	}
	if (m != MAP_FAILED)
		munmap(m, (size_t)st.st_size);
	free(vec);
	close(fd);
	return res;
}

/* read() of the whole file into a fresh buffer: the floor of a reading loader */
static double read_ms(const char *path)
{
	double t0 = now_ms();
	int fd = open(path, O_RDONLY);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) != 0)
		return -1;
	char *b = malloc((size_t)st.st_size);
	size_t done = 0;
	while (b && done < (size_t)st.st_size) {
		ssize_t r = read(fd, b + done, (size_t)st.st_size - done);
		if (r <= 0)
			break;
		done += (size_t)r;
	}
	close(fd);
	free(b);
	return now_ms() - t0;
}

static int open_close(const char *path, double *ms)
{
	ftsrt_plan *p;
	ftsrt_error err;
	double t0 = now_ms();
	int rc = ftsrt_plan_open(&p, path, NULL, &err);
	ftsrt_plan_close(p);
	*ms = now_ms() - t0;
	if (rc)
		fprintf(stderr, "plan_bench: %s: %s\n", path, err.message);
	return rc;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: plan_bench PLAN [RUNS [COLD_RUNS]]\n");
		return 2;
	}
	int runs = argc > 2 ? atoi(argv[2]) : 50, cold = argc > 3 ? atoi(argv[3]) : 10;
	runs = runs < 1 ? 1 : runs;
	cold = cold < 1 ? 1 : cold;
	double *t = malloc(sizeof(double) * (size_t)runs), *r = malloc(sizeof(double) * (size_t)runs);
	double *c = malloc(sizeof(double) * (size_t)cold);
	if (!t || !r || !c)
		return 2;
	/* warm: open and read floor interleaved, so both see the same load */
	for (int i = 0; i < runs; i++) {
		if (open_close(argv[1], &t[i]))
			return 1;
		r[i] = read_ms(argv[1]);
	}
	double first = t[0], resident = 0;
	for (int i = 0; i < cold; i++) {
		double res = evict(argv[1]);
		resident = res > resident ? res : resident;
		if (open_close(argv[1], &c[i]))
			return 1;
	}
	qsort(t, (size_t)runs, sizeof(double), cmp);
	qsort(r, (size_t)runs, sizeof(double), cmp);
	qsort(c, (size_t)cold, sizeof(double), cmp);
	printf("warm open+validate+close: best %.2f ms, median %.2f ms (%d runs; target <= 5 ms)\n",
	       t[0], t[runs / 2], runs);
	printf("  reference, read() of the file into a fresh buffer: best %.2f ms, median %.2f ms "
	       "-> open is %.2fx / %.2fx the read floor\n", r[0], r[runs / 2], t[0] / r[0],
	       t[runs / 2] / r[runs / 2]);
	printf("  the first open in this process (fresh heap): %.2f ms\n", first);
	printf("cold (file evicted with posix_fadvise DONTNEED, at most %.0f%% resident after): "
	       "best %.2f ms, median %.2f ms (%d runs; no target)\n", resident * 100, c[0],
	       c[cold / 2], cold);
	free(t);
	free(r);
	free(c);
	return 0;
}
