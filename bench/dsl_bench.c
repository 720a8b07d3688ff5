/*
 * dsl_bench.c - parse time of a schedule-language file against its YAML
 * twin (bench/dsl.sh builds and runs it).  Prints the best of 5 runs of
 * each front end, in milliseconds, and exits 1 when the DSL is slower.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "dsl.h"
#include "yaml_front.h"

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static double run(const char *path, int dsl)
{
	double best = 1e30;
	for (int r = 0; r < 5; r++) {
		struct fts_sources src;
		struct fts_diags d;
		struct fts_arena a;
		char err[256];
		uint32_t id;
		fts_sources_init(&src);
		fts_diags_init(&d, &src);
		fts_arena_init(&a);
		if (fts_source_load(&src, path, FTS_MAX_INPUT, &id, err, sizeof(err))) {
			fprintf(stderr, "%s: %s\n", path, err);
			return -1;
		}
		double t0 = now();
		bool empty;
		void *root = dsl ? (void *)fts_dsl_parse(&a, &d, id) : (void *)fts_yaml_parse(&a, &d, id, &empty);
		double t = now() - t0;
		if (!root || d.errors) {
			fprintf(stderr, "%s: parse failed\n", path);
			return -1;
		}
		best = t < best ? t : best;
		fts_arena_release(&a);
		fts_diags_release(&d);
		fts_sources_release(&src);
	}
	return best;
}

int main(int argc, char **argv)
{
	if (argc != 3)
		return 2;
	double td = run(argv[1], 1), ty = run(argv[2], 0);
	if (td < 0 || ty < 0)
		return 2;
	printf("dsl  %-28s %8.2f ms\nyaml %-28s %8.2f ms\nratio yaml/dsl %.2f\n", argv[1], td, argv[2], ty, ty / td);
	return td <= ty ? 0 : 1;
}
