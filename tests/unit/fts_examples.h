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
#include <unistd.h>

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

/*
 * The finetuning-scheduler checkout's root, where some example configs
 * are run from (their ft_schedule paths start with ./src/fts_examples):
 * FTS_DIR for a checkout; for a folder of examples, a temporary directory
 * whose src/fts_examples links to it.  NULL when FTS_DIR is not set.
 */
static char fts_root_tmp[4096];

static inline void fts_repo_root_cleanup(void)
{
	char p[4200];
	snprintf(p, sizeof(p), "%s/src/fts_examples", fts_root_tmp);
	unlink(p);
	snprintf(p, sizeof(p), "%s/src", fts_root_tmp);
	rmdir(p);
	rmdir(fts_root_tmp);
}

static inline const char *fts_repo_root(void)
{
	static char buf[4096];
	const char *ex = fts_examples_dir();
	if (!ex)
		return NULL;
	if (buf[0])
		return buf;
	const char *d = getenv("FTS_DIR");
	char probe[4096];
	snprintf(probe, sizeof(probe), "%s/src/fts_examples/config", d);
	if (fts_ex_isdir(probe)) {
		snprintf(buf, sizeof(buf), "%s", d);
		return buf;
	}
	char abs_ex[4096], tmpl[] = "/tmp/ftsc-ftsroot-XXXXXX", link[4200], src[4200];
	if (!realpath(ex, abs_ex) || !mkdtemp(tmpl))
		return NULL;
	snprintf(src, sizeof(src), "%s/src", tmpl);
	snprintf(link, sizeof(link), "%s/src/fts_examples", tmpl);
	if (mkdir(src, 0700) != 0 || symlink(abs_ex, link) != 0)
		return NULL;
	snprintf(buf, sizeof(buf), "%s", tmpl);
	snprintf(fts_root_tmp, sizeof(fts_root_tmp), "%s", tmpl);
	atexit(fts_repo_root_cleanup);
	return buf;
}

#endif /* FTS_EXAMPLES_H */
