/*
 * plan_bench.c - time ftsrt_plan_open + ftsrt_plan_close of one plan.
 *
 *   plan_bench PLAN [RUNS]
 *
 * Prints the best and the median time of RUNS (default 50) open+close
 * cycles; the first (cold) run is reported separately.  Used by
 * bench/plan.sh.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

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

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: plan_bench PLAN [RUNS]\n");
		return 2;
	}
	int runs = argc > 2 ? atoi(argv[2]) : 50;
	if (runs < 1)
		runs = 1;
	double *t = malloc(sizeof(double) * (size_t)runs);
	ftsrt_error err;
	if (!t)
		return 2;
	for (int i = 0; i < runs; i++) {
		ftsrt_plan *p;
		double t0 = now_ms();
		int rc = ftsrt_plan_open(&p, argv[1], NULL, &err);
		ftsrt_plan_close(p);
		t[i] = now_ms() - t0;
		if (rc) {
			fprintf(stderr, "plan_bench: %s: %s\n", argv[1], err.message);
			return 1;
		}
	}
	double first = t[0];
	qsort(t, (size_t)runs, sizeof(double), cmp);
	printf("open+validate+close: best %.2f ms, median %.2f ms, first %.2f ms (%d runs)\n", t[0],
	       t[runs / 2], first, runs);
	free(t);
	return 0;
}
