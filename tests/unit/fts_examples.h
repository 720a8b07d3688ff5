/*
 * fts_examples.h - where `make check-fts FTS_DIR=...` finds FTS's own
 * example schedules and configs.  `make check` never sets FTS_DIR: the
 * tests that read FTS's files are registered only when it is set.
 *
 * FTS_DIR may be a finetuning-scheduler checkout (its examples are under
 * src/fts_examples; its test fixtures are Python, so only the examples are
 * checked) or a folder of FTS's data files laid out as the examples plus
 * tests/{boring_ft_schedule,fsdp_ft_schedules,invalid_schedules,...}
 * (the fixtures written out as YAML).
 */
#ifndef FTS_EXAMPLES_H
#define FTS_EXAMPLES_H

#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

static inline int fts_ex_isdir(const char *p)
{
	struct stat st;
	return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

/* The examples folder (holding config/ and model_parallel/), or NULL
 * when FTS_DIR is not set.  Aborts the program when FTS_DIR is set but
 * holds no examples. */
static inline const char *fts_examples_dir(void)
{
	static char buf[4096];
	const char *d = getenv("FTS_DIR");
	if (!d || !*d)
		return NULL;
	if (buf[0])
		return buf;
	char probe[4096];
	snprintf(probe, sizeof(probe), "%s/src/fts_examples/config", d);
	if (fts_ex_isdir(probe)) {
		snprintf(buf, sizeof(buf), "%s/src/fts_examples", d);
		return buf;
	}
	snprintf(probe, sizeof(probe), "%s/config", d);
	if (fts_ex_isdir(probe)) {
		snprintf(buf, sizeof(buf), "%s", d);
		return buf;
	}
	fprintf(stderr, "FTS_DIR=%s holds neither src/fts_examples/config nor config/\n", d);
	exit(2);
}

/* The folder of FTS's test fixtures written out as YAML, or NULL (a
 * checkout keeps them in Python). */
static inline const char *fts_fixtures_dir(void)
{
	static char buf[4096];
	const char *d = getenv("FTS_DIR");
	if (!d || !*d || !fts_examples_dir())
		return NULL;
	snprintf(buf, sizeof(buf), "%s/tests/invalid_schedules", d);
	if (!fts_ex_isdir(buf))
		return NULL;
	snprintf(buf, sizeof(buf), "%s/tests", d);
	return buf;
}

#endif /* FTS_EXAMPLES_H */
