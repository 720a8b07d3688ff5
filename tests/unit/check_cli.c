/*
 * check_cli.c - the ftsc command line as a user meets it: exit statuses,
 * the compiler-style text format with source excerpts, JSON and SARIF,
 * colour control, -W policy, `ftsc explain`, and hostile inputs refused
 * quickly.  Runs build/ftsc from the repository root.
 */
#include <check.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fts_examples.h"
#include "source.h"

/* the binary under test: $FTSC_BIN (make check sets it), else build/ftsc */
static const char *ftsc_bin(void)
{
	const char *b = getenv("FTSC_BIN");
	return b && *b ? b : "build/ftsc";
}
#define FTSC "@FTSC@"
#define MANIFESTS "tests/data/manifests/"
#define BORING MANIFESTS "fts-boring-model.tsv"

struct result {
	int status;                     /* exit status, or -1 when killed */
	char *out;                      /* stdout + stderr */
	double seconds;
};

/* Run a shell command line, capturing both streams. */
static struct result run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static struct result run(const char *fmt, ...)
{
	char cmd[4096];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	/* @FTSC@ stands for the binary under test */
	char full[8192];
	size_t o = 0;
	for (const char *p = cmd; *p && o < sizeof(full) - 512;) {
		if (strncmp(p, "@FTSC@", 6) == 0) {
			o += (size_t)snprintf(full + o, sizeof(full) - o, "%s", ftsc_bin());
			p += 6;
		} else {
			full[o++] = *p++;
		}
	}
	snprintf(full + o, sizeof(full) - o, " 2>&1");
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	FILE *p = popen(full, "r");
	ck_assert_ptr_nonnull(p);
	size_t cap = 4096, n = 0;
	char *buf = malloc(cap);
	size_t got;
	while ((got = fread(buf + n, 1, cap - n - 1, p)) > 0) {
		n += got;
		if (cap - n < 1024) {
			cap *= 2;
			buf = realloc(buf, cap);
		}
	}
	buf[n] = '\0';
	int st = pclose(p);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	struct result r = {WIFEXITED(st) ? WEXITSTATUS(st) : -1, buf,
			   (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9};
	return r;
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
}

START_TEST(test_clean_sample)
{
	struct result r = run(FTSC " check samples/deberta_explicit.yaml "
			      "--manifest samples/deberta-v3-base-seqcls.tsv --color=never");
	ck_assert_msg(r.status == 0, "status %d: %s", r.status, r.out);
	/* the guide's own layer.{0,11} pattern is pointed out */
	ck_assert_msg(strstr(r.out, "[FTSC024] [-Wregex-quantified-dot]"), "%s", r.out);
	free(r.out);
}
END_TEST

START_TEST(test_golden_text)
{
	struct result r = run(FTSC " check tests/cases/x_overmatch_disjoint.yaml "
			      "--manifest tests/data/twelve-linear.tsv --color=never -Wno-coverage");
	ck_assert_int_eq(r.status, 1);
	const char *want =
		"tests/cases/x_overmatch_disjoint.yaml:7:12: warning: pattern 'model.1' also matches "
		"'model.10.weight' [FTSC023] [-Wregex-overmatch]\n"
		"    7 |   params: [model.1]\n"
		"      |            ^~~~~~~\n"
		"      = note: and 3 more names beyond a segment boundary\n"
		"      = help: FTS matches patterns as prefixes; to select 'model.1' alone, write 'model\\.1\\.'\n"
		"tests/cases/x_overmatch_disjoint.yaml:7:12: error: parameter pattern 'model.1' also "
		"matches 2 parameters ('model.10.weight', ...), already thawed by other entries (the first "
		"in phase 0) [FTS-D1]\n"
		"    7 |   params: [model.1]\n"
		"      |            ^~~~~~~\n"
		"tests/cases/x_overmatch_disjoint.yaml:5:12: note: phase 0 thawed 'model.10.weight' here\n";
	ck_assert_msg(strstr(r.out, want), "got:\n%s", r.out);
	/* one error for the one entry that repeats two parameters */
	ck_assert_msg(strstr(r.out, "1 error, 1 warning generated."), "got:\n%s", r.out);
	free(r.out);
}
END_TEST

/* FTS-D1 names the entry that causes an overlap, once, with the reason */
START_TEST(test_overlap_blame)
{
	static const struct { const char *file, *cause; } c[] = {
		{"x_d1_empty_pattern", "an empty pattern matches every parameter name"},
		{"x_d1_trailing_bar", "empty alternative"},
		{"x_d1_alias", "params is the alias *p"},
	};
	for (size_t k = 0; k < sizeof(c) / sizeof(c[0]); k++) {
		struct result r = run(FTSC " check tests/cases/%s.yaml --manifest tests/data/manifests/"
				      "fts-boring-model.tsv --color=never --plain -Wno-coverage", c[k].file);
		ck_assert_int_eq(r.status, 1);
		ck_assert_msg(strstr(r.out, c[k].cause) && strstr(r.out, "1 error generated"), "%s:\n%s",
			      c[k].file, r.out);
		free(r.out);
	}
}
END_TEST

/* `ftsrun run` learns: on the demo's plan (four phases; AdamW, then SGD with
 * momentum at a 10x larger lr, then AdamW again) the loss over the trainable
 * elements is finite, bounded by its starting value, and falls within every
 * phase; the validation loss (the whole model's) never rises from one epoch
 * to the next, so the run is not cut short by early stopping against an
 * earlier phase's best; the plot has a loss panel and one lr line per group. */
START_TEST(test_demo_learns)
{
	const char *ftsrun = getenv("FTSRUN_BIN") ? getenv("FTSRUN_BIN") : "build/ftsrun";
	char dir[] = "/tmp/ftsc-demo-XXXXXX", plan[300], svg[300];
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(plan, sizeof(plan), "%s/demo.plan", dir);
	snprintf(svg, sizeof(svg), "%s/demo.svg", dir);
	struct result r = run(FTSC " build samples/deberta_demo.fts --manifest samples/deberta-v3-base-seqcls.tsv "
			      "'--initial-optimizer={class_path: torch.optim.AdamW, init_args: {lr: 1.0e-05, "
			      "weight_decay: 1.0e-05}}' '--initial-lr-scheduler={class_path: "
			      "torch.optim.lr_scheduler.LinearLR, init_args: {start_factor: 0.1, total_iters: 4}}' "
			      "--no-decay=bias,LayerNorm.weight --phase0-groups=2 --restore-best=false "
			      "--max-epochs=12 -o %s", plan);
	ck_assert_msg(r.status == 0, "%s", r.out);
	free(r.out);
	r = run("%s run %s --scale 0.05 --epochs 12 --steps-per-epoch 8 --plot %s", ftsrun, plan, svg);
	ck_assert_msg(r.status == 0, "%s", r.out);
	double first[8], last[8], vfirst[8], vlast[8], vprev = INFINITY;
	int seen[8] = {0}, nepochs = 0;
	for (const char *l = r.out; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
		long e;
		int ph;
		double tr, va;
		if (sscanf(l, "epoch %ld phase %d train %lf val %lf", &e, &ph, &tr, &va) != 4)
			continue;
		ck_assert_msg(ph >= 0 && ph < 8, "%s", l);
		ck_assert_msg(isfinite(tr) && isfinite(va) && tr > 0 && tr <= 1.0 && va <= 1.2, "%.80s", l);
		if (nepochs > 0)
			ck_assert_msg(va <= vprev, "validation rose to %g: %.80s", va, l);
		vprev = va;
		if (!seen[ph]++)
			first[ph] = tr, vfirst[ph] = va;
		last[ph] = tr;
		vlast[ph] = va;
		nepochs++;
	}
	ck_assert_int_eq(nepochs, 12);
	ck_assert_msg(strstr(r.out, "max_epochs reached"), "%s", r.out);
	for (int ph = 0; ph < 4; ph++) {
		ck_assert_msg(seen[ph] >= 2, "phase %d ran %d epochs\n%s", ph, seen[ph], r.out);
		ck_assert_msg(last[ph] < 0.8 * first[ph] && vlast[ph] < vfirst[ph],
			      "phase %d: loss %g -> %g, val %g -> %g\n%s", ph, first[ph], last[ph], vfirst[ph],
			      vlast[ph], r.out);
	}
	free(r.out);
	r = run("cat %s", svg);
	ck_assert_msg(strstr(r.out, "loss over the trainable elements") && strstr(r.out, ">validation<") &&
			      strstr(r.out, ">group 7<") && strstr(r.out, "phase 3</text>"),
		      "%.400s", r.out);
	free(r.out);
	r = run("rm -rf %s", dir);
	free(r.out);
}
END_TEST

/* An optional number in a sequence argument (Adafactor's eps = (None, 1e-3),
 * torch's default, or given as [null, 0.001]) is held as NaN in the plan,
 * read as None by the runtime: the plan builds, dumps as None and runs. */
START_TEST(test_none_in_sequence_arg)
{
	const char *ftsrun = getenv("FTSRUN_BIN") ? getenv("FTSRUN_BIN") : "build/ftsrun";
	static const char *const init[] = {"{lr: 0.01}", "{lr: 0.01, eps: [null, 0.001]}"};
	for (int k = 0; k < 2; k++) {
		char dir[] = "/tmp/ftsc-none-XXXXXX", plan[300];
		ck_assert_ptr_nonnull(mkdtemp(dir));
		snprintf(plan, sizeof(plan), "%s/ada.plan", dir);
		struct result r = run(FTSC " build tests/schedules/boring_default.yaml --manifest " BORING
				      " '--initial-optimizer={class_path: torch.optim.Adafactor, init_args: %s}' "
				      "--initial-lr-scheduler=none --max-epochs=4 -o %s", init[k], plan);
		ck_assert_msg(r.status == 0, "%s: %s", init[k], r.out);
		free(r.out);
		r = run(FTSC " dump %s", plan);
		ck_assert_msg(r.status == 0 && strstr(r.out, "arg eps: floats = [None, 0.001]"), "%s", r.out);
		free(r.out);
		r = run("%s run %s --steps-per-epoch 4", ftsrun, plan);
		ck_assert_msg(r.status == 0 && strstr(r.out, "finished:"), "%s", r.out);
		free(r.out);
		r = run("rm -rf %s", dir);
		free(r.out);
	}
}
END_TEST

/* max_epochs -1 is Lightning's "no limit": no FTSC044 (nothing is beyond it),
 * the plan holds -1 and the runtime accepts it; ftsrun run then needs
 * --epochs, and no "max_epochs reached" ends it. */
START_TEST(test_max_epochs_no_limit)
{
	const char *ftsrun = getenv("FTSRUN_BIN") ? getenv("FTSRUN_BIN") : "build/ftsrun";
	char dir[] = "/tmp/ftsc-me-XXXXXX", plan[300];
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(plan, sizeof(plan), "%s/m.plan", dir);
	struct result r = run(FTSC " build tests/schedules/boring_default.yaml --manifest " BORING
			      " '--initial-optimizer={class_path: torch.optim.SGD, init_args: {lr: 0.01}}' "
			      "--initial-lr-scheduler=none --max-epochs=-1 -o %s", plan);
	ck_assert_msg(r.status == 0 && !strstr(r.out, "FTSC044") && !strstr(r.out, "warning"), "%s", r.out);
	free(r.out);
	r = run("%s inspect %s", ftsrun, plan);
	ck_assert_msg(r.status == 0 && strstr(r.out, "max_epochs -1"), "%s", r.out);
	free(r.out);
	r = run("%s run %s --steps-per-epoch 2", ftsrun, plan);
	ck_assert_msg(r.status != 0 && strstr(r.out, "no epoch limit (max_epochs -1): give --epochs"), "%s", r.out);
	free(r.out);
	r = run("%s run %s --steps-per-epoch 2 --epochs 40", ftsrun, plan);
	ck_assert_msg(r.status == 0 && strstr(r.out, "epoch   39 ") && !strstr(r.out, "max_epochs reached"),
		      "%.900s", r.out);
	free(r.out);
	r = run(FTSC " check tests/schedules/boring_default.yaml --manifest " BORING " --max-epochs=-2");
	ck_assert_msg(r.status != 0, "%s", r.out);
	free(r.out);
	r = run("rm -rf %s", dir);
	free(r.out);
}
END_TEST

/* Output: a write that fails is an error (standard output included), and a
 * file is replaced only whole -- a failed build leaves the previous plan. */
START_TEST(test_outputs)
{
	const char *ftsrun = getenv("FTSRUN_BIN") ? getenv("FTSRUN_BIN") : "build/ftsrun";
	const char *init = "'--initial-optimizer={class_path: torch.optim.SGD, init_args: {lr: 0.001}}' "
			   "--initial-lr-scheduler=none";
	static const char *const full[] = {
		" check --format=json tests/schedules/boring_default.yaml --manifest " BORING " > /dev/full",
		" explain --list > /dev/full",
		" gen --manifest " BORING " > /dev/full",
		" convert tests/schedules/boring_default.yaml --to dsl > /dev/full",
	};
	for (size_t k = 0; k < sizeof(full) / sizeof(full[0]); k++) {
		struct result r = run(FTSC "%s", full[k]);
		ck_assert_msg(r.status != 0, "%s: exit 0", full[k]);
		free(r.out);
	}
	char dir[] = "/tmp/ftsc-out-XXXXXX", plan[300];
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(plan, sizeof(plan), "%s/p.plan", dir);
	struct result r = run(FTSC " build tests/schedules/boring_default.yaml --manifest " BORING " %s -o %s",
			      init, plan);
	ck_assert_msg(r.status == 0, "%s", r.out);
	free(r.out);
	r = run("%s run %s --epochs 2 --steps-per-epoch 2 --scale 0.1 > /dev/full", ftsrun, plan);
	ck_assert_msg(r.status != 0, "ftsrun run > /dev/full: exit 0");
	free(r.out);
	r = run("%s inspect %s > /dev/full", ftsrun, plan);
	ck_assert_msg(r.status != 0, "ftsrun inspect > /dev/full: exit 0");
	free(r.out);
	/* a build that fails leaves the previous file as it was, and no temporary */
	struct stat st0, st1;
	ck_assert_int_eq(stat(plan, &st0), 0);
	r = run(FTSC " build tests/cases/a02_non_disjoint.yaml --manifest " BORING " %s -o %s", init, plan);
	ck_assert_int_eq(r.status, 1);
	free(r.out);
	ck_assert_int_eq(stat(plan, &st1), 0);
	ck_assert(st0.st_size == st1.st_size && st0.st_ino == st1.st_ino);
	r = run("ls -A %s", dir);
	ck_assert_msg(strcmp(r.out, "p.plan\n") == 0, "left behind: %s", r.out);
	free(r.out);
	free(run("rm -rf %s", dir).out);
}
END_TEST

START_TEST(test_exit_statuses)
{
	struct result r = run(FTSC " check tests/cases/f33_coverage.yaml --manifest " BORING);
	ck_assert_msg(r.status == 0, "warnings only must exit 0: %s", r.out);
	free(r.out);
	r = run(FTSC " check tests/cases/f24_bad_regex.yaml --manifest " BORING);
	ck_assert_int_eq(r.status, 1);
	free(r.out);
	r = run(FTSC " check /nonexistent.yaml --manifest " BORING);
	ck_assert_int_eq(r.status, 2);
	ck_assert_msg(strstr(r.out, "could not find the fine-tuning schedule file"), "%s", r.out);
	free(r.out);
	r = run(FTSC " check tests/cases/f33_coverage.yaml");
	ck_assert_int_eq(r.status, 2);
	ck_assert_msg(strstr(r.out, "--manifest is required"), "%s", r.out);
	free(r.out);
	r = run(FTSC " check --bogus x.yaml --manifest " BORING);
	ck_assert_int_eq(r.status, 2);
	free(r.out);
	r = run(FTSC " check tests/cases/f33_coverage.yaml --manifest " BORING " --max-depth=abc");
	ck_assert_int_eq(r.status, 2);
	free(r.out);
	r = run(FTSC " frobnicate");
	ck_assert_int_eq(r.status, 2);
	free(r.out);
	r = run(FTSC " check --help");
	ck_assert_int_eq(r.status, 0);
	ck_assert_msg(strstr(r.out, "--restore-best"), "%s", r.out);
	free(r.out);
}
END_TEST

START_TEST(test_werror_policy)
{
	struct result r = run(FTSC " check tests/cases/f33_coverage.yaml --manifest " BORING " -Werror");
	ck_assert_int_eq(r.status, 1);
	free(r.out);
	r = run(FTSC " check tests/cases/f33_coverage.yaml --manifest " BORING " -Werror=coverage");
	ck_assert_int_eq(r.status, 1);
	ck_assert_msg(strstr(r.out, "error: 4 of 8 parameters are never thawed"), "%s", r.out);
	free(r.out);
	r = run(FTSC " check tests/cases/f33_coverage.yaml --manifest " BORING " -Wno-coverage");
	ck_assert_int_eq(r.status, 0);
	ck_assert_msg(!strstr(r.out, "never thawed"), "%s", r.out);
	free(r.out);
	/* an error with a flag can be downgraded */
	r = run(FTSC " check tests/cases/f09_unknown_key.yaml --manifest " BORING
		" -Wno-error=unknown-key -Wno-coverage");
	ck_assert_msg(r.status == 0, "%s", r.out);
	ck_assert_msg(strstr(r.out, "warning: unknown key 'max_transition_epochs' in phase 0"), "%s", r.out);
	ck_assert_msg(strstr(r.out, "help: did you mean 'max_transition_epoch'?"), "%s", r.out);
	free(r.out);
	/* hard errors cannot */
	r = run(FTSC " check tests/cases/f24_bad_regex.yaml --manifest " BORING " -Wno-FTSC022");
	ck_assert_int_eq(r.status, 2);
	ck_assert_msg(strstr(r.out, "an error cannot be disabled: '-Wno-FTSC022'"), "%s", r.out);
	free(r.out);
	/* -Werror with an exemption */
	r = run(FTSC " check tests/cases/f33_coverage.yaml --manifest " BORING " -Werror -Wno-error=coverage");
	ck_assert_msg(r.status == 0, "%s", r.out);
	ck_assert_msg(strstr(r.out, "warning: 4 of 8 parameters are never thawed"), "%s", r.out);
	free(r.out);
	r = run(FTSC " check tests/cases/f33_coverage.yaml --manifest " BORING " -Wno-such-flag");
	ck_assert_int_eq(r.status, 2);
	free(r.out);
}
END_TEST

START_TEST(test_json_sarif)
{
	struct result r = run(FTSC " check tests/cases/x_overmatch_disjoint.yaml "
			      "--manifest tests/data/twelve-linear.tsv --format=json");
	ck_assert_int_eq(r.status, 1);
	ck_assert_msg(strstr(r.out, "\"code\": \"FTS-D1\""), "%s", r.out);
	ck_assert_msg(strstr(r.out, "\"line\": 7, \"column\": 12"), "%s", r.out);
	ck_assert_msg(r.out[0] == '[', "%s", r.out);
	free(r.out);
	r = run(FTSC " check tests/cases/x_overmatch_disjoint.yaml "
		"--manifest tests/data/twelve-linear.tsv --format=sarif");
	ck_assert_int_eq(r.status, 1);
	ck_assert_msg(strstr(r.out, "\"version\": \"2.1.0\""), "%s", r.out);
	ck_assert_msg(strstr(r.out, "\"ruleId\": \"FTS-D1\""), "%s", r.out);
	ck_assert_msg(strstr(r.out, "\"relatedLocations\""), "%s", r.out);
	free(r.out);
	/* both are valid JSON when python3 is around to say so */
	if (system("python3 -c 'import json' >/dev/null 2>&1") == 0) {
		r = run(FTSC " check tests/cases/x_overmatch_disjoint.yaml --manifest "
			"tests/data/twelve-linear.tsv --format=sarif | python3 -c "
			"'import json,sys; d=json.load(sys.stdin); print(len(d[\"runs\"][0][\"results\"]))'");
		ck_assert_msg(r.status == 0 && atoi(r.out) >= 2, "%s", r.out);
		free(r.out);
		r = run(FTSC " check tests/cases/f28_negative_lr.yaml --manifest " BORING
			" --format=json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))'");
		ck_assert_msg(r.status == 0 && atoi(r.out) >= 2, "%s", r.out);
		free(r.out);
	}
}
END_TEST

START_TEST(test_color)
{
	struct result r = run("NO_COLOR=1 " FTSC " check tests/cases/f24_bad_regex.yaml --manifest " BORING);
	ck_assert_msg(!strchr(r.out, '\033'), "%s", r.out);
	free(r.out);
	r = run(FTSC " check tests/cases/f24_bad_regex.yaml --manifest " BORING " --color=always");
	ck_assert_msg(strchr(r.out, '\033'), "%s", r.out);
	free(r.out);
	r = run(FTSC " check tests/cases/f24_bad_regex.yaml --manifest " BORING " --color=auto");
	ck_assert_msg(!strchr(r.out, '\033'), "not a terminal: %s", r.out);
	free(r.out);
}
END_TEST

START_TEST(test_explain)
{
	struct result r = run(FTSC " explain FTS-D1");
	ck_assert_int_eq(r.status, 0);
	ck_assert_msg(strstr(r.out, "Phases are cumulative and must be disjoint"), "%s", r.out);
	free(r.out);
	r = run(FTSC " explain -Wunknown-key");
	ck_assert_int_eq(r.status, 0);
	ck_assert_msg(strstr(r.out, "FTSC017"), "%s", r.out);
	free(r.out);
	r = run(FTSC " explain --list");
	ck_assert_int_eq(r.status, 0);
	ck_assert_msg(strstr(r.out, "FTS-R13") && strstr(r.out, "FTSC001"), "%s", r.out);
	free(r.out);
	r = run(FTSC " explain NOPE");
	ck_assert_int_eq(r.status, 2);
	free(r.out);
	/* the restore analysis: the mechanism, and the retired scheduler hazard */
	r = run(FTSC " explain FTSC080");
	ck_assert_msg(r.status == 0 && strstr(r.out, "load_state_dict") && strstr(r.out, "KeyError") &&
		      strstr(r.out, "construction"), "%s", r.out);
	free(r.out);
	r = run(FTSC " explain FTSC095");
	ck_assert_msg(r.status == 0 && strstr(r.out, "momentum 0.9 → 0"), "%s", r.out);
	free(r.out);
	r = run(FTSC " explain FTSC081");
	ck_assert_msg(r.status == 0 && strstr(r.out, "retired") && strstr(r.out, "7.8"), "%s", r.out);
	free(r.out);
}
END_TEST

/* Hostile schedules: refused with a located error, quickly, in bounded memory. */
static void expect_refused(const char *path, const char *needle)
{
#if defined(__SANITIZE_ADDRESS__)
	/* AddressSanitizer reserves terabytes of address space: no ulimit -v */
	struct result r = run(FTSC " check %s --manifest " BORING " --color=never", path);
#else
	struct result r = run("ulimit -v 1048576; " FTSC " check %s --manifest " BORING " --color=never",
			      path);
#endif
	ck_assert_msg(r.status == 1 || r.status == 2, "%s: status %d: %.2000s", path, r.status, r.out);
	ck_assert_msg(r.seconds < 5.0, "%s took %.2f s", path, r.seconds);
	if (needle)
		ck_assert_msg(strstr(r.out, needle), "%s: %.2000s", path, r.out);
	free(r.out);
}

START_TEST(test_hostile)
{
	char dir[] = "/tmp/ftsc-hostile-XXXXXX";
	ck_assert_ptr_nonnull(mkdtemp(dir));
	char path[256];

	/* billion laughs */
	snprintf(path, sizeof(path), "%s/bomb.yaml", dir);
	FILE *f = fopen(path, "w");
	fputs("a: &a [x, x, x, x, x, x, x, x, x, x]\n", f);
	for (int i = 1; i < 10; i++) {
		fprintf(f, "%c: &%c [", 'a' + i, 'a' + i);
		for (int j = 0; j < 10; j++)
			fprintf(f, "%s*%c", j ? ", " : "", 'a' + i - 1);
		fputs("]\n", f);
	}
	fclose(f);
	expect_refused(path, "FTSC004");

	/* 100k-deep nesting */
	snprintf(path, sizeof(path), "%s/deep.yaml", dir);
	f = fopen(path, "w");
	for (int i = 0; i < 100000; i++)
		fputc('[', f);
	for (int i = 0; i < 100000; i++)
		fputc(']', f);
	fputc('\n', f);
	fclose(f);
	expect_refused(path, "FTSC003");

	/* not UTF-8 */
	snprintf(path, sizeof(path), "%s/latin1.yaml", dir);
	write_file(path, "0:\n  params: [model.\xe9\xff]\n");
	expect_refused(path, "latin1.yaml:2:");

	/* binary junk */
	snprintf(path, sizeof(path), "%s/junk.yaml", dir);
	f = fopen(path, "wb");
	srand(7);
	for (int i = 0; i < 65536; i++)
		fputc(rand() & 0xff, f);
	fclose(f);
	expect_refused(path, "junk.yaml:");

	/* a 1 GiB file (sparse): refused before it is read */
	snprintf(path, sizeof(path), "%s/huge.yaml", dir);
	int fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0644);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(ftruncate(fd, (off_t)1 << 30), 0);
	close(fd);
	expect_refused(path, "too large");

	/* empty file */
	snprintf(path, sizeof(path), "%s/empty.yaml", dir);
	write_file(path, "");
	expect_refused(path, "FTSC010");

	/* a directory */
	expect_refused(dir, "is a directory");

	/* a catastrophic pattern over a long name: no verdict, a located error, quickly */
	snprintf(path, sizeof(path), "%s/long.tsv", dir);
	FILE *ln = fopen(path, "w");
	fputs("model.w\n", ln);
	for (int i = 0; i < 200000; i++)
		fputc('a', ln);
	fputc('\n', ln);
	fclose(ln);
	char sched[300];
	snprintf(sched, sizeof(sched), "%s/cat.yaml", dir);
	write_file(sched, "0:\n  params: [model.w, '(a*)*[bc]']\n");
	struct result rl = run(FTSC " check %s --manifest %s --color=never --plain -Wno-coverage", sched, path);
	ck_assert_msg(rl.status == 1 && strstr(rl.out, "[FTSC018]") && rl.seconds < 10, "%.2000s", rl.out);
	/* the 200000-character name is cut in the message, not printed whole */
	ck_assert_msg(strstr(rl.out, "more bytes)") && strlen(rl.out) < 8000, "%zu bytes", strlen(rl.out));
	free(rl.out);

	/* manifests: 128 parameters of 2^57 elements and one of 10 (the total wraps
	 * 64 bits), and a flood of one duplicated name */
	snprintf(path, sizeof(path), "%s/huge.tsv", dir);
	FILE *m = fopen(path, "w");
	fputs("# ftsc-manifest v1\n", m);
	for (int i = 0; i < 128; i++)
		fprintf(m, "p%d.weight\t524288x524288x524288\tfloat32\t1\t-\n", i);
	fputs("last.weight\t10\tfloat32\t1\t-\n", m);
	fclose(m);
	struct result r = run(FTSC " build --implicit --manifest %s --color=never -o %s/x.plan "
			      "--initial-optimizer='{class_path: torch.optim.SGD}' --initial-lr-scheduler=none", path,
			      dir);
	ck_assert_msg(r.status == 1 && strstr(r.out, "2^60 elements"), "%s", r.out);
	free(r.out);
	snprintf(path, sizeof(path), "%s/dups.tsv", dir);
	m = fopen(path, "w");
	fputs("# ftsc-manifest v1\n", m);
	for (int i = 0; i < 100000; i++)
		fputs("dup.weight\t4\tfloat32\t1\t-\n", m);
	fclose(m);
	r = run(FTSC " check --implicit --manifest %s --color=never --plain", path);
	ck_assert_msg(r.status == 1 && strstr(r.out, "and 99979 more duplicate parameter names") &&
		      strstr(r.out, "21 errors generated") && strlen(r.out) < 20000, "%.3000s", r.out);
	free(r.out);

	free(run("rm -rf %s", dir).out);
}
END_TEST

START_TEST(test_bad_manifests)
{
	char dir[] = "/tmp/ftsc-manifest-XXXXXX";
	ck_assert_ptr_nonnull(mkdtemp(dir));
	char path[256];
	snprintf(path, sizeof(path), "%s/m.tsv", dir);
	write_file(path, "# ftsc-manifest v1\n"
		   "a.weight\t3x4\tfloat32\t1\t-\n"
		   "b.weight\t3xx4\tfloat32\t1\t-\n"
		   "c.weight\t3\tfloat99\t1\t-\n"
		   "d.weight\t3\tfloat32\t2\t-\n"
		   "f.weight\t3\tfloat32\n"
		   "bad name\t3\tfloat32\t1\t-\n");
	/* columns count tab stops of 8, as GNU tools do */
	struct result r = run(FTSC " check tests/cases/f33_coverage.yaml --manifest %s --color=never", path);
	ck_assert_int_eq(r.status, 1);
	ck_assert_msg(strstr(r.out, "m.tsv:3:17: error: malformed shape '3xx4'"), "%s", r.out);
	ck_assert_msg(strstr(r.out, "m.tsv:4:25: error: unknown dtype 'float99'"), "%s", r.out);
	ck_assert_msg(strstr(r.out, "m.tsv:5:33: error: requires_grad must be 0 or 1"), "%s", r.out);
	ck_assert_msg(strstr(r.out, "m.tsv:6:1: error: expected 5 tab-separated columns"), "%s", r.out);
	ck_assert_msg(strstr(r.out, "m.tsv:7:1: error: parameter name contains whitespace"), "%s", r.out);
	free(r.out);
	write_file(path, "# ftsc-manifest v1\n"
		   "a.weight\t3x4\tfloat32\t1\t-\n"
		   "a.weight\t3x4\tfloat32\t1\t-\n"
		   "e.weight\t3\tfloat32\t1\tnope\n"
		   "g.weight\t3\tfloat32\t1\th.weight\n"
		   "h.weight\t3\tfloat32\t1\t-\n"
		   "i.weight\t3x4\tfloat32\t1\ta.weight\n");
	r = run(FTSC " check tests/cases/f33_coverage.yaml --manifest %s --color=never", path);
	ck_assert_int_eq(r.status, 1);
	ck_assert_msg(strstr(r.out, "m.tsv:3:1: error: duplicate parameter name 'a.weight'"), "%s", r.out);
	ck_assert_msg(strstr(r.out, "m.tsv:2:1: note: first listed here"), "%s", r.out);
	ck_assert_msg(strstr(r.out, "error: tied_to 'nope' does not name a parameter listed before 'e.weight'"), "%s", r.out);
	ck_assert_msg(strstr(r.out, "error: tied_to 'h.weight' does not name a parameter listed before 'g.weight'"), "%s", r.out);
	ck_assert_msg(!strstr(r.out, "'i.weight'"), "%s", r.out);
	free(r.out);
	write_file(path, "# ftsc-manifest v2\nx\t1\tfloat32\t1\t-\n");
	r = run(FTSC " check tests/cases/f33_coverage.yaml --manifest %s --color=never", path);
	ck_assert_int_eq(r.status, 1);
	ck_assert_msg(strstr(r.out, "unsupported manifest version"), "%s", r.out);
	free(r.out);
	write_file(path, "# ftsc-manifest v1\n# nothing\n");
	r = run(FTSC " check tests/cases/f33_coverage.yaml --manifest %s --color=never", path);
	ck_assert_int_eq(r.status, 1);
	ck_assert_msg(strstr(r.out, "lists no parameters"), "%s", r.out);
	free(r.out);
	/* a plain list of names works */
	write_file(path, "model.3.weight\nmodel.3.bias\nmodel.2.weight\nmodel.2.bias\n");
	r = run(FTSC " check tests/cases/f33_coverage.yaml --manifest %s", path);
	ck_assert_msg(r.status == 0, "%s", r.out);
	free(r.out);
	free(run("rm -rf %s", dir).out);
}
END_TEST

/* ftsc-manifest v1 files are split in place: the tab after each name holds
 * its NUL terminator, and messages must still show (and count) a tab there. */
START_TEST(test_manifest_split_in_place)
{
	char dir[] = "/tmp/ftsc-manifest-XXXXXX";
	ck_assert_ptr_nonnull(mkdtemp(dir));
	char path[256];
	snprintf(path, sizeof(path), "%s/m.tsv", dir);
	write_file(path, "# ftsc-manifest v1\n"
		   "a.w\t2x2\tfloat32\t1\t-\n"
		   "b.w\t2x2\tfloat32\t1\tzz.w\n");
	struct result r = run(FTSC " check tests/cases/f33_coverage.yaml --manifest %s --color=never", path);
	ck_assert_int_eq(r.status, 1);
	ck_assert_msg(strstr(r.out, "m.tsv:3:33: error: tied_to 'zz.w' does not name a parameter listed before "
			     "'b.w'"), "%s", r.out);
	ck_assert_msg(strstr(r.out, "    3 | b.w\t2x2\tfloat32\t1\tzz.w\n"
			     "      |    \t   \t       \t \t^~~~\n"), "%s", r.out);
	free(r.out);
	/* a NUL byte of the file's own (in a tied_to column): the NUL shows
	 * as '?' */
	FILE *f = fopen(path, "wb");
	ck_assert_ptr_nonnull(f);
	static const char nul[] = "# ftsc-manifest v1\na.w\t2x2\tfloat32\t1\t-\nb.w\t2x2\tfloat32\t1\tz\0z\n";
	ck_assert_uint_eq(fwrite(nul, 1, sizeof(nul) - 1, f), sizeof(nul) - 1);
	fclose(f);
	r = run(FTSC " check tests/cases/f33_coverage.yaml --manifest %s --color=never", path);
	ck_assert_int_eq(r.status, 1);
	ck_assert_msg(strstr(r.out, "m.tsv:3:33: error: tied_to 'z'"), "%s", r.out);
	ck_assert_msg(strstr(r.out, "    3 | b.w\t2x2\tfloat32\t1\tz?z\n"), "%s", r.out);
	free(r.out);
	free(run("rm -rf %s", dir).out);
}
END_TEST

/*
 * Write a manifest of n layers (four lines each) whose size is a multiple of
 * the page size when page_exact (ending on a page boundary: the byte after
 * it is read from a page of its own).  Layer n-1 has a shape of its own
 * (only in the second half, which another thread parses), and the last
 * line ties an alias to layer 0.  Returns the size.
 */
static long write_big_manifest(const char *path, int n, bool page_exact, const char *extra)
{
	FILE *f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs("# ftsc-manifest v1\n", f);
	for (int i = 0; i < n; i++) {
		fprintf(f, "model.layers.%d.attn.weight\t%s\tfloat32\t1\t-\n", i, i == n - 1 ? "7x9" : "64x64");
		fprintf(f, "model.layers.%d.attn.bias\t64\tfloat32\t1\t-\n", i);
		fprintf(f, "model.layers.%d.mlp.weight\t256x64\tbfloat16\t1\t-\n", i);
		fprintf(f, "model.layers.%d.norm.weight\t64\tfloat32\t%d\t-\n", i, i % 2);
	}
	fputs("lm_head.weight\t64x64\tfloat32\t1\tmodel.layers.0.attn.weight\n", f);
	if (extra)
		fputs(extra, f);
	long size = ftell(f);
	if (page_exact) {
		long pg = sysconf(_SC_PAGESIZE), pad = (pg - (size + 3) % pg) % pg;
		fputs("# ", f);
		for (long k = 0; k < pad; k++)
			fputc('x', f);
		fputc('\n', f);
		size = ftell(f);
		ck_assert_int_eq(size % pg, 0);
	}
	fclose(f);
	return size;
}

/* A manifest of over FTS_MAP_MIN bytes is mapped, and one of over 4 MiB is
 * parsed in two halves: the same verdicts, messages and plans as a small
 * one, its names read in place. */
START_TEST(test_manifest_mapped)
{
	char dir[] = "/tmp/ftsc-manifest-XXXXXX";
	ck_assert_ptr_nonnull(mkdtemp(dir));
	char path[256], sched[256];
	snprintf(path, sizeof(path), "%s/big.tsv", dir);
	snprintf(sched, sizeof(sched), "%s/s.yaml", dir);
	const int n = 40000;
	write_file(sched, "0:\n  params:\n  - model.layers.39999.attn.weight\n  - lm_head.weight\n"
		   "1:\n  params:\n  - model.layers.1[0-9]+\\.\n"
		   "2:\n  params:\n  - model.layers.2\\d*\\.attn\n  - model.layers.3\\d*9\\.norm.weight\n");
	for (int pe = 0; pe < 2; pe++) {
		long size = write_big_manifest(path, n, pe, NULL);
		ck_assert_int_gt(size, (long)(4 << 20));
		struct result r = run(FTSC " check %s --manifest %s --color=never -Wno-coverage -Werror", sched,
				      path);
		ck_assert_msg(r.status == 1 && strstr(r.out, "s.yaml:4:5: error: 'lm_head.weight' is a "
				"tied alias of 'model.layers.0.attn.weight'"), "status %d: %s", r.status, r.out);
		free(r.out);
		r = run(FTSC " build %s --manifest %s -o %s/p.ftsplan -Wno-coverage '--initial-optimizer={class_path: "
			"torch.optim.SGD, init_args: {lr: 0.01}}' --initial-lr-scheduler=none && " FTSC " dump %s/p.ftsplan",
			sched, path, dir, dir);
		ck_assert_msg(r.status == 0 && strstr(r.out, "model.layers.39999.attn.weight"), "status %d: %.2000s",
			      r.status, r.out);
		free(r.out);
	}
	/* errors in the second half: reported once, at their line and column */
	write_big_manifest(path, n, false, "extra.w\t3xx4\tfloat32\t1\t-\nextra.b\t3\tfloat99\t2\t-\n"
			   "model.layers.7.attn.bias\t64\tfloat32\t1\t-\nextra.d\177el.long.enough\t3\tfloat32\t1\t-\n");
	struct result r = run(FTSC " check %s --manifest %s --color=never -Wno-coverage", sched, path);
	ck_assert_int_eq(r.status, 1);
	char want[160];
	snprintf(want, sizeof(want), "big.tsv:%d:9: error: malformed shape '3xx4'", 4 * n + 3);
	ck_assert_msg(strstr(r.out, want), "want %s in %s", want, r.out);
	snprintf(want, sizeof(want), "big.tsv:%d:17: error: unknown dtype 'float99'", 4 * n + 4);
	ck_assert_msg(strstr(r.out, want), "want %s in %s", want, r.out);
	snprintf(want, sizeof(want), "big.tsv:%d:25: error: requires_grad must be 0 or 1, not '2'", 4 * n + 4);
	ck_assert_msg(strstr(r.out, want), "want %s in %s", want, r.out);
	snprintf(want, sizeof(want), "big.tsv:%d:1: error: parameter name contains whitespace or control "
		 "characters", 4 * n + 6);                      /* a DEL, found by the eight-byte scan */
	ck_assert_msg(strstr(r.out, want), "want %s in %s", want, r.out);
	ck_assert_msg(!strstr(r.out, "duplicate"), "%s", r.out);        /* bad lines are not entries */
	free(r.out);
	/* a duplicate far from its first occurrence */
	write_big_manifest(path, n, false, "model.layers.7.attn.bias\t64\tfloat32\t1\t-\n");
	r = run(FTSC " check %s --manifest %s --color=never -Wno-coverage", sched, path);
	snprintf(want, sizeof(want), "big.tsv:%d:1: error: duplicate parameter name 'model.layers.7.attn.bias'",
		 4 * n + 3);
	ck_assert_msg(r.status == 1 && strstr(r.out, want) && strstr(r.out, "big.tsv:31:1: note: first listed "
		      "here"), "status %d: %s", r.status, r.out);
	free(r.out);
	free(run("rm -rf %s", dir).out);
}
END_TEST

/* Non-ASCII names: '.' matches one code point (as Python's re on str
 * names), in a small manifest and in a large one parsed in two halves
 * (where the parse tells the index whether every name is ASCII). */
START_TEST(test_manifest_utf8_names)
{
	char dir[] = "/tmp/ftsc-manifest-XXXXXX";
	ck_assert_ptr_nonnull(mkdtemp(dir));
	char path[256], sched[256];
	snprintf(path, sizeof(path), "%s/u.tsv", dir);
	snprintf(sched, sizeof(sched), "%s/s.yaml", dir);
	write_file(sched, "0:\n  params:\n  - x\\.a.b\\.\n1:\n  params:\n  - x\\.a..b\\.\n");
	for (int big = 0; big < 2; big++) {
		FILE *f = fopen(path, "w");
		ck_assert_ptr_nonnull(f);
		fputs("# ftsc-manifest v1\n", f);
		for (int i = 0; big && i < 80000; i++)
			fprintf(f, "pad.%d.weight\t64\tfloat32\t1\t-\n", i);
		fputs("x.a\xc3\xa9" "b.weight\t4\tfloat32\t1\t-\nx.acdb.weight\t4\tfloat32\t1\t-\n", f);
		fclose(f);
		struct result r = run(FTSC " check %s --manifest %s --color=never -Wno-coverage -v", sched, path);
		ck_assert_msg(r.status == 0, "big %d: status %d: %s", big, r.status, r.out);
		free(r.out);
		/* one pattern alone: 'x\.a..b\.' takes the ASCII name only */
		write_file(sched, "0:\n  params:\n  - x\\.a..b\\.\n1:\n  params:\n  - x\\.a\\wb\\.\n");
		r = run(FTSC " check %s --manifest %s --color=never -Wno-coverage", sched, path);
		ck_assert_msg(r.status == 0, "big %d: status %d: %s", big, r.status, r.out);
		free(r.out);
		write_file(sched, "0:\n  params:\n  - x\\.a.b\\.\n1:\n  params:\n  - x\\.a..b\\.\n");
	}
	/* a name that is not UTF-8 (no str of Python's): '.' never matches
	 * across its bad byte, small or large (the index checks, not trusts) */
	for (int big = 0; big < 2; big++) {
		FILE *f = fopen(path, "w");
		ck_assert_ptr_nonnull(f);
		fputs("# ftsc-manifest v1\n", f);
		for (int i = 0; big && i < 80000; i++)
			fprintf(f, "pad.%d.weight\t64\tfloat32\t1\t-\n", i);
		fputs("x.a\xff" "b.weight\t4\tfloat32\t1\t-\nx.acdb.weight\t4\tfloat32\t1\t-\n", f);
		fclose(f);
		struct result r = run(FTSC " check %s --manifest %s --color=never -Wno-coverage", sched, path);
		ck_assert_msg(r.status == 1 && strstr(r.out, "s.yaml:3:5: error: the parameter or regex 'x\\.a.b\\.' "
			      "specified in phase 0 did not match any named parameter"), "big %d: status %d: %s", big,
			      r.status, r.out);
		free(r.out);
	}
	free(run("rm -rf %s", dir).out);
}
END_TEST

/* A manifest over the 256 MiB limit of other inputs is read, not refused:
 * with too little memory to read it, ftsc says so. */
START_TEST(test_manifest_no_size_limit)
{
#if defined(__SANITIZE_ADDRESS__)
	/* AddressSanitizer reserves terabytes of address space: no ulimit -v */
	return;
#else
	char dir[] = "/tmp/ftsc-manifest-XXXXXX";
	ck_assert_ptr_nonnull(mkdtemp(dir));
	char path[256];
	snprintf(path, sizeof(path), "%s/big.tsv", dir);
	write_file(path, "# ftsc-manifest v1\na\t1\tfloat32\t1\t-\n# ");
	ck_assert_int_eq(truncate(path, (off_t)FTS_MAX_INPUT + 1), 0);	/* sparse */
	/* one OpenBLAS thread: with its worker threads, an exit under this
	 * address-space limit now and then hangs (seen 1 time in 5) */
	struct result r = run("ulimit -v 204800; OPENBLAS_NUM_THREADS=1 " FTSC " check "
			      "tests/cases/f33_coverage.yaml --manifest %s --color=never", path);
	ck_assert_msg(r.status == 3 && strstr(r.out, "out of memory") && !strstr(r.out, "too large"),
		      "status %d: %s", r.status, r.out);
	free(r.out);
	/* a schedule that large is still refused before it is read */
	r = run(FTSC " check %s --manifest " BORING " --color=never", path);
	ck_assert_msg(r.status == 2 && strstr(r.out, "too large"), "status %d: %s", r.status, r.out);
	free(r.out);
	free(run("rm -rf %s", dir).out);
#endif
}
END_TEST

START_TEST(test_declare)
{
	/* without a declaration the user's scheduler is only warned about */
	struct result r = run(FTSC " check tests/schedules/boring_lambdalr.yaml "
			      "--manifest " BORING " --color=never");
	ck_assert_msg(r.status == 0, "%s", r.out);
	ck_assert_msg(strstr(r.out, "[FTSC030]"), "%s", r.out);
	free(r.out);
	r = run(FTSC " check tests/schedules/boring_lambdalr.yaml "
		"--manifest " BORING " --declare tests/data/boring_models.fts --color=never");
	ck_assert_msg(r.status == 0, "%s", r.out);
	ck_assert_msg(!strstr(r.out, "[FTSC030]"), "%s", r.out);
	free(r.out);
	/* declared: its arguments are checked */
	char path[] = "/tmp/ftsc-declare-XXXXXX.yaml";
	int fd = mkstemps(path, 5);
	ck_assert_int_ge(fd, 0);
	close(fd);
	write_file(path, "0:\n  params: [model.3.bias, model.3.weight]\n"
		   "1:\n  params: [model.2.bias, model.2.weight]\n  new_lr_scheduler:\n"
		   "    lr_scheduler_init:\n      class_path: tests.helpers.boring_models.LinearWarmupLR\n"
		   "      init_args: {num_warmup_steps: -1, num_trainig_steps: 10}\n");
	r = run(FTSC " check %s --manifest " BORING " --declare tests/data/boring_models.fts -Wno-coverage", path);
	ck_assert_int_eq(r.status, 1);
	ck_assert_msg(strstr(r.out, "num_warmup_steps must be >= 0"), "%s", r.out);
	ck_assert_msg(strstr(r.out, "num_trainig_steps"), "%s", r.out);
	free(r.out);
	unlink(path);
	/* a broken declaration file is reported with its location */
	char dpath[] = "/tmp/ftsc-declare-XXXXXX.fts";
	fd = mkstemps(dpath, 4);
	close(fd);
	write_file(dpath, "lr_scheduler a.B {\n\targ x int;\n}\n");
	r = run(FTSC " check tests/cases/f33_coverage.yaml --manifest " BORING " --declare %s", dpath);
	ck_assert_int_eq(r.status, 1);
	ck_assert_msg(strstr(r.out, ":2:") && strstr(r.out, "[FTSC060]"), "%s", r.out);
	free(r.out);
	unlink(dpath);
}
END_TEST

/* Every experiment config of tests/config/examples checks without errors. */
START_TEST(test_config_pairs)
{
	static const char *const pairs[] = {
		"explicit", "implicit", "reinit_lr_explicit", "reinit_lr_implicit",
		"reinit_optim_lr_explicit", "reinit_optim_lr_implicit", "reinit_optim_lr_implicit_curr",
		"fsdp", "ddp",
	};
	for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
		struct result r = run(FTSC " check --config tests/config/examples/defaults.yaml "
				      "--config tests/config/examples/%s.yaml --manifest " MANIFESTS
				      "deberta-v3-base-seqcls.tsv --no-decay=bias,LayerNorm.weight --color=never",
				      pairs[i]);
		ck_assert_msg(r.status == 0, "%s: %s", pairs[i], r.out);
		free(r.out);
	}
	struct result r = run(FTSC " check --config tests/config/examples/mp_defaults.yaml "
			      "--config tests/config/examples/mp_plan.yaml --manifest " MANIFESTS "fts-mp-llama.tsv");
	ck_assert_msg(r.status == 0, "%s", r.out);
	ck_assert_msg(!strstr(r.out, "warning"), "%s", r.out);
	free(r.out);
	/* the simulated phases of an optimizer + scheduler reinitialization */
	r = run(FTSC " check --config tests/config/examples/defaults.yaml --config "
		"tests/config/examples/reinit_optim_lr_explicit.yaml --manifest " MANIFESTS
		"deberta-v3-base-seqcls.tsv --no-decay=bias,LayerNorm.weight --explain-plan 2>/dev/null");
	ck_assert_int_eq(r.status, 0);
	ck_assert_msg(strstr(r.out, "3 phases of 4 (max_depth 2); restore_best off"), "%s", r.out);
	ck_assert_msg(strstr(r.out, "optimizer torch.optim.AdamW [state: step, exp_avg, exp_avg_sq]"), "%s", r.out);
	ck_assert_msg(strstr(r.out, "scheduler torch.optim.lr_scheduler.StepLR (new in phase 1)"), "%s", r.out);
	ck_assert_msg(strstr(r.out, "optimizer torch.optim.SGD [state: momentum_buffer] (new in phase 1)"), "%s", r.out);
	/* phase 1: the two rebuilt phase-0 groups take init_pg_lrs, the new pair the phase lr */
	ck_assert_msg(strstr(r.out, "     0  phase 0  lr 2e-06"), "%s", r.out);
	ck_assert_msg(strstr(r.out, "     3  phase 1 no_decay (weight_decay 0)  lr 1e-05"), "%s", r.out);
	ck_assert_msg(strstr(r.out, "     5  phase 2 no_decay (weight_decay 0)  lr 1e-05  122 params"), "%s", r.out);
	free(r.out);
	/* a config without FTS */
	r = run(FTSC " check --config tests/config/examples/defaults.yaml --config tests/config/examples/baseline.yaml "
		"--manifest " MANIFESTS "deberta-v3-base-seqcls.tsv");
	ck_assert_int_eq(r.status, 1);
	ck_assert_msg(strstr(r.out, "no finetuning_scheduler.FinetuningScheduler callback"), "%s", r.out);
	free(r.out);
	/* ft_schedule is opened where training starts: here it is not found -- one error,
	 * no implicit schedule checked in its place -- and with --run-dir it is */
	r = run(FTSC " check --config tests/config/with_sched.yaml --manifest " MANIFESTS
		"deberta-v3-base-seqcls.tsv --color=never");
	ck_assert_int_eq(r.status, 1);
	ck_assert_msg(strstr(r.out, "[FTS-L2]") && strstr(r.out, "1 error generated") && !strstr(r.out, "warning"),
		      "%s", r.out);
	free(r.out);
	r = run(FTSC " check --config tests/config/with_sched.yaml --run-dir tests/config --manifest " MANIFESTS
		"deberta-v3-base-seqcls.tsv --color=never");
	ck_assert_msg(!strstr(r.out, "FTS-L2"), "%s", r.out);
	free(r.out);
}
END_TEST

/* make check-fts: FTS's example config pairs exit 0, run where FTS runs them. */
START_TEST(test_fts_config_pairs)
{
	static const char *const pairs[] = {
		"config/fts_explicit.yaml", "config/fts_implicit.yaml",
		"config/advanced/reinit_lr/fts_explicit_reinit_lr.yaml",
		"config/advanced/reinit_lr/fts_implicit_reinit_lr.yaml",
		"config/advanced/reinit_optim_lr/fts_explicit_reinit_optim_lr.yaml",
		"config/advanced/reinit_optim_lr/fts_implicit_reinit_optim_lr.yaml",
		"config/advanced/reinit_optim_lr/fts_implicit_reinit_optim_lr_use_curr.yaml",
		"config/advanced/fsdp/fts_ddp_fsdp_baseline_profile.yaml",
		"config/advanced/fsdp/fts_fsdp_awp_overrides_offload_profile.yaml",
		"config/advanced/fsdp/fts_fsdp_awp_overrides_profile.yaml",
		"config/advanced/fsdp/fts_fsdp_basic_profile.yaml",
	};
	char ftsc[4096], manifests[4096];
	ck_assert_ptr_nonnull(realpath(ftsc_bin(), ftsc));
	ck_assert_ptr_nonnull(realpath(MANIFESTS, manifests));
	const char *ex = fts_examples_dir();
	for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
		/* fts_explicit.yaml's ft_schedule path is relative to the checkout's root */
		bool root = strcmp(pairs[i], "config/fts_explicit.yaml") == 0;
		struct result r = run("cd '%s' && %s check --config config/fts_defaults.yaml --config %s "
				      "--manifest %s/deberta-v3-base-seqcls.tsv %s%s%s"
				      "--no-decay=bias,LayerNorm.weight --color=never", ex, ftsc, pairs[i], manifests,
				      root ? "--run-dir '" : "", root ? fts_repo_root() : "", root ? "' " : "");
		ck_assert_msg(r.status == 0, "%s: %s", pairs[i], r.out);
		free(r.out);
	}
	/* the explain-plan of the guide's example */
	struct result r = run("cd '%s' && %s check --config config/fts_defaults.yaml --config "
			      "config/advanced/reinit_optim_lr/fts_explicit_reinit_optim_lr.yaml "
			      "--manifest %s/deberta-v3-base-seqcls.tsv --no-decay=bias,LayerNorm.weight "
			      "--explain-plan 2>/dev/null", ex, ftsc, manifests);
	ck_assert_int_eq(r.status, 0);
	ck_assert_msg(strstr(r.out, "3 phases of 4 (max_depth 2); restore_best off"), "%s", r.out);
	ck_assert_msg(strstr(r.out, "optimizer torch.optim.SGD [state: momentum_buffer] (new in phase 1)"), "%s", r.out);
	ck_assert_msg(strstr(r.out, "     0  phase 0  lr 2e-06"), "%s", r.out);
	ck_assert_msg(strstr(r.out, "     3  phase 1 no_decay (weight_decay 0)  lr 1e-05"), "%s", r.out);
	free(r.out);
	/* the model-parallel examples, over the torchtitan Llama they train */
	static const char *const mp[] = {
		"model_parallel/config/fts_tp_plan.yaml", "model_parallel/config/fts_fsdp_auto_plan.yaml",
		"model_parallel/config/fts_fsdp_profiling.yaml",
	};
	for (size_t i = 0; i < sizeof(mp) / sizeof(mp[0]); i++) {
		r = run("cd '%s/model_parallel' && %s check --config config/defaults/fts_mp_example_defaults.yaml "
			"--config %s --manifest %s/fts-mp-llama.tsv --color=never", ex, ftsc, mp[i] + 15, manifests);
		ck_assert_msg(r.status == 0, "%s: %s", mp[i], r.out);
		free(r.out);
	}
}
END_TEST

/* Issue 3: `ftsc gen` equals FTS's algorithm on every manifest, byte for byte. */
START_TEST(test_gen)
{
	static const char *const m[] = {
		"bert-base-uncased-seqcls", "deberta-v3-base-seqcls", "fts-bn-boring-model", "fts-boring-model",
		"fts-shared-param-model", "gpt2-lmhead", "llama3-8b-causal", "mixtral-8x7b-causal",
		"roberta-base-seqcls", "t5-small",
	};
	for (size_t i = 0; i < sizeof(m) / sizeof(m[0]); i++) {
		struct result r = run(FTSC " gen --manifest " MANIFESTS "%s.tsv | cmp - tests/data/golden/gen/%s.yaml",
				      m[i], m[i]);
		ck_assert_msg(r.status == 0, "%s: %s", m[i], r.out);
		free(r.out);
	}
	struct result r = run(FTSC " gen --manifest /nonexistent.tsv");
	ck_assert_int_eq(r.status, 2);
	free(r.out);
	char path[] = "/tmp/ftsc-gen-XXXXXX";
	int fd = mkstemp(path);
	close(fd);
	r = run(FTSC " gen --manifest " BORING " -o %s && cmp %s tests/data/golden/gen/fts-boring-model.yaml",
		path, path);
	ck_assert_msg(r.status == 0, "%s", r.out);
	free(r.out);
	unlink(path);
}
END_TEST

/* YAML -> DSL -> `build --strip` gives the plan of the YAML, byte for byte. */
static void assert_twin_plans(const char *yaml, const char *manifest)
{
	char dir[] = "/tmp/ftsc-twin-XXXXXX";
	ck_assert_ptr_nonnull(mkdtemp(dir));
	const char *init = "'--initial-optimizer={class_path: torch.optim.SGD, init_args: {lr: 0.001}}' "
			   "'--initial-lr-scheduler={class_path: torch.optim.lr_scheduler.StepLR, "
			   "init_args: {step_size: 1, gamma: 0.7}}'";
	struct result r = run(FTSC " convert %s --to dsl -o %s/t.fts 2>&1 && "
			      FTSC " build %s --manifest %s %s --strip -o %s/y.plan 2>&1 && "
			      FTSC " build %s/t.fts --manifest %s %s --strip -o %s/d.plan 2>&1 && "
			      "cmp %s/y.plan %s/d.plan",
			      yaml, dir, yaml, manifest, init, dir, dir, manifest, init, dir, dir, dir);
	ck_assert_msg(r.status == 0, "%s: %.3000s", yaml, r.out);
	free(r.out);
	free(run("rm -rf %s", dir).out);
}

START_TEST(test_dsl_plan_identity)
{
	static const struct { const char *yaml, *manifest; } cases[] = {
		{"tests/schedules/boring_default.yaml", "fts-boring-model"},
		{"tests/schedules/boring_mod.yaml", "fts-boring-model"},
		{"tests/schedules/boring_epoch_only.yaml", "fts-boring-model"},
		{"tests/schedules/boring_reinit_lr.yaml", "fts-boring-model"},
		{"tests/schedules/boring_rlrop.yaml", "fts-boring-model"},
		{"tests/schedules/boring_reinit_optim.yaml", "fts-boring-model"},
		{"tests/schedules/boring_reinit_optim_lr.yaml", "fts-boring-model"},
		{"tests/schedules/boring_reinit_optim_rlrop.yaml", "fts-boring-model"},
		{"tests/schedules/boring_use_curr.yaml", "fts-boring-model"},
		{"tests/schedules/bn_three_phase.yaml", "fts-bn-boring-model"},
		{"tests/schedules/shared_gen.yaml", "fts-shared-param-model"},
		{"tests/schedules/shared_tied.yaml", "fts-shared-param-model"},
		{"tests/schedules/shared_reinit_optim_lr.yaml", "fts-shared-param-model"},
		{"tests/schedules/deberta_three_phase.yaml", "deberta-v3-base-seqcls"},
		{"tests/schedules/deberta_reinit_lr.yaml", "deberta-v3-base-seqcls"},
		{"tests/schedules/deberta_reinit_optim_lr.yaml", "deberta-v3-base-seqcls"},
		{"tests/schedules/llama_toy.yaml", "fts-mp-llama"},
		{"samples/deberta_explicit.yaml", "deberta-v3-base-seqcls"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char manifest[256];
		snprintf(manifest, sizeof(manifest), MANIFESTS "%s.tsv", cases[i].manifest);
		assert_twin_plans(cases[i].yaml, manifest);
	}
	/* the hand-written twins of samples/ build to the same plan too (a
	 * config twin through --config); the flags give what the seed omits */
	char dir[] = "/tmp/ftsc-twin-XXXXXX";
	ck_assert_ptr_nonnull(mkdtemp(dir));
	const char *init = "'--initial-optimizer={class_path: torch.optim.SGD, init_args: {lr: 0.001}}' "
			   "'--initial-lr-scheduler={class_path: torch.optim.lr_scheduler.StepLR, "
			   "init_args: {step_size: 1, gamma: 0.7}}'";
	static const struct { const char *name; bool config; } twins[] = {
		{"seed_explicit_reinit_optim", false}, {"seed_explicit_sgd", false},
		{"seed_sgd_steplr", false}, {"seed_explicit_reinit_optim_lr", true},
		{"seed_implicit_reinit", true}, {"seed_implicit_use_curr", true},
		{"deberta_demo", false},
	};
	for (size_t i = 0; i < sizeof(twins) / sizeof(twins[0]); i++) {
		struct result r = run("rm -f %s/y.plan %s/d.plan && " FTSC " build %s samples/%s.yaml "
				      "--manifest samples/deberta-v3-base-seqcls.tsv %s --strip -o %s/y.plan 2>&1 && "
				      FTSC " build samples/%s.fts --manifest samples/deberta-v3-base-seqcls.tsv %s "
				      "--strip -o %s/d.plan 2>&1 && cmp %s/y.plan %s/d.plan",
				      dir, dir, twins[i].config ? "--config" : "", twins[i].name,
				      init, dir, twins[i].name, init, dir, dir, dir);
		ck_assert_msg(r.status == 0, "%s: %.3000s", twins[i].name, r.out);
		free(r.out);
	}
	free(run("rm -rf %s", dir).out);
}
END_TEST

/* make check-fts: FTS's schedules convert to the ftsc language and build to the same plan. */
START_TEST(test_fts_dsl_plan_identity)
{
	static const struct { const char *file, *manifest; } cases[] = {
		{"tests/boring_ft_schedule/00_unmod_default_FinetuningSchedulerBoringModel_ft_schedule.yaml", "fts-boring-model"},
		{"tests/boring_ft_schedule/01_mod_sched_dict.yaml", "fts-boring-model"},
		{"tests/boring_ft_schedule/02_epoch_only_sched.yaml", "fts-boring-model"},
		{"tests/boring_ft_schedule/03_reinitlr_sched_dict.yaml", "fts-boring-model"},
		{"tests/boring_ft_schedule/05_rlrop_sched_dict.yaml", "fts-boring-model"},
		{"tests/boring_ft_schedule/06_reinit_optim_sched_dict.yaml", "fts-boring-model"},
		{"tests/boring_ft_schedule/07_reinitlr_optim_sched_dict.yaml", "fts-boring-model"},
		{"tests/boring_ft_schedule/09_reinitlr_optim_rlrop_sched.yaml", "fts-boring-model"},
		{"tests/boring_ft_schedule/10_reinitlr_optim_use_curr_sched_dict.yaml", "fts-boring-model"},
		{"tests/boring_ft_schedule/11_bn_sched_dict.yaml", "fts-bn-boring-model"},
		{"tests/fsdp_ft_schedules/00_fsdp_gen_sched_dict.yaml", "fts-shared-param-model"},
		{"tests/fsdp_ft_schedules/03_fsdp_shared_param_sched_dict.yaml", "fts-shared-param-model"},
		{"tests/fsdp_ft_schedules/08_fsdp_reinitlr_optim_sched_dict.yaml", "fts-shared-param-model"},
		{"tests/model_parallel_schedules/01_mp_tp_sched_dict.yaml", "fts-toy-transformer"},
		{"config/RteBoolqModule_ft_schedule_deberta_base.yaml", "deberta-v3-base-seqcls"},
		{"config/RteBoolqModule_ft_schedule_deberta_base_fsdp.yaml", "deberta-v3-base-seqcls"},
		{"config/advanced/reinit_lr/explicit_reinit_lr.yaml", "deberta-v3-base-seqcls"},
		{"config/advanced/reinit_optim_lr/explicit_reinit_optim_lr.yaml", "deberta-v3-base-seqcls"},
		{"model_parallel/config/defaults/llama_ft_schedule.yaml", "fts-mp-llama"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char path[4096], manifest[256];
		const char *root = strncmp(cases[i].file, "tests/", 6) == 0 ? fts_fixtures_dir() : fts_examples_dir();
		if (!root)
			continue;       /* a checkout: its fixtures are Python */
		int n = snprintf(path, sizeof(path), "%s/%s", root,
				 cases[i].file + (strncmp(cases[i].file, "tests/", 6) == 0 ? 6 : 0));
		ck_assert(n > 0 && (size_t)n < sizeof(path));
		snprintf(manifest, sizeof(manifest), MANIFESTS "%s.tsv", cases[i].manifest);
		assert_twin_plans(path, manifest);
	}
}
END_TEST

static Suite *cli_suite(void)
{
	Suite *s = suite_create("cli");
	TCase *tc = tcase_create("ftsc");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_clean_sample);
	tcase_add_test(tc, test_golden_text);
	tcase_add_test(tc, test_exit_statuses);
	tcase_add_test(tc, test_werror_policy);
	tcase_add_test(tc, test_json_sarif);
	tcase_add_test(tc, test_color);
	tcase_add_test(tc, test_explain);
	tcase_add_test(tc, test_overlap_blame);
	tcase_add_test(tc, test_outputs);
	tcase_add_test(tc, test_demo_learns);
	tcase_add_test(tc, test_none_in_sequence_arg);
	tcase_add_test(tc, test_max_epochs_no_limit);
	tcase_add_test(tc, test_hostile);
	tcase_add_test(tc, test_bad_manifests);
	tcase_add_test(tc, test_manifest_split_in_place);
	tcase_add_test(tc, test_manifest_no_size_limit);
	tcase_add_test(tc, test_manifest_mapped);
	tcase_add_test(tc, test_manifest_utf8_names);
	tcase_add_test(tc, test_declare);
	tcase_add_test(tc, test_config_pairs);
	tcase_add_test(tc, test_gen);
	tcase_add_test(tc, test_dsl_plan_identity);
	suite_add_tcase(s, tc);
	if (fts_examples_dir()) {
		tc = tcase_create("fts-examples");
		tcase_set_timeout(tc, 300);
		tcase_add_test(tc, test_fts_config_pairs);
		tcase_add_test(tc, test_fts_dsl_plan_identity);
		suite_add_tcase(s, tc);
	}
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(cli_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
