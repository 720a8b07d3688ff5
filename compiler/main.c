/*
 * main.c - the ftsc command line: option parsing, the pipeline driver for
 * `ftsc check`, and `ftsc explain`.
 *
 * Exit status (documented in ftsc(1), EXIT STATUS): enum ftsc_exit below.
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "diag.h"
#include "../runtime/ckpt.h"
#include "driver.h"
#include "dsl.h"
#include "dsl_emit.h"
#include "manifest.h"
#include "resolve.h"
#include "yaml_front.h"
#include "dump.h"
#include "emit.h"
#include "version.h"

/*
 * Write len bytes to path atomically: a fresh temporary next to it, synced,
 * then renamed over it (runtime/ckpt.h), so a failed write leaves the old
 * file intact.  0, or -1 after saying why.
 */
static int write_file_atomic(const char *path, const void *buf, size_t len)
{
	char err[600];
	if (rt_ckpt_write_file(path, buf, len, NULL, NULL, err, sizeof(err)) != 0) {
		fprintf(stderr, "ftsc: %s\n", err);
		return -1;
	}
	return 0;
}

enum ftsc_exit {
	EXIT_CLEAN = 0,                 /* no errors (warnings allowed) */
	EXIT_ERRORS = 1,                /* the schedule has errors */
	EXIT_USAGE = 2,                 /* usage or I/O problem */
	EXIT_INTERNAL = 3,              /* internal error (out of memory, bug) */
};

static const char *const usage_main[] = {
	"usage: ftsc <command> [<options>]",
	"",
	"commands:",
	"   check     check an FTS schedule against a model manifest",
	"   build     check a schedule and write its binary plan (ftsplan(5))",
	"   dump      print a plan as text",
	"   gen       write FTS's implicit-mode schedule of a model",
	"   convert   translate a schedule between YAML and the ftsc language",
	"   fmt       print an ftsc-language schedule in canonical form",
	"   explain   print the documentation of a diagnostic code",
	"   version   print the ftsc version",
	"",
	"'ftsc <command> --help' describes a command; see also ftsc(1).",
	NULL,
};

static const char *const usage_check[] = {
	"usage: ftsc check <schedule.yaml> --manifest <model.tsv> [<options>]",
	"   or: ftsc check --config <a.yaml> [--config <b.yaml>...] --manifest <model.tsv> [<options>]",
	"   or: ftsc check --implicit --manifest <model.tsv> [<options>]",
	"",
	"    --config <file>            a LightningCLI config; several are merged in order (repeatable)",
	"    --manifest <file>          the model's parameters (ftsc-manifest v1, or one name per line)",
	"    --implicit                 check FTS's generated schedule (implicit mode)",
	"    --initial-optimizer=<yaml> the session's optimizer: {class_path: ..., init_args: {...}}",
	"    --initial-lr-scheduler=<yaml>  the session's lr scheduler ({class_path, init_args}, or",
	"                               {lr_scheduler_init: ..., pl_lrs_cfg: ...}), or 'none'",
	"    --no-decay=<a,b>           the LightningModule's no_decay substrings (bias,LayerNorm.weight)",
	"    --phase0-groups=<n>        parameter groups configure_optimizers builds (default 1)",
	"    --explain-plan             print the phases: epochs, parameters, optimizer, scheduler, lrs",
	"    --target=<t>               fts (default): FTS on torch; ftsrt: libftsrt, as ftsc build",
	"    --declare <file>           more optimizer / lr_scheduler declarations (repeatable)",
	"    --include-dir <dir>        a folder the ftsc language's include may reach besides the",
	"                               schedule's own (repeatable)",
	"    --run-dir <dir>            where training starts: a config's relative ft_schedule path",
	"                               is opened there, as FTS does (default: the current directory)",
	"    --restore-best=<bool>      FinetuningScheduler restore_best (default true)",
	"    --max-depth=<n>            FinetuningScheduler max_depth (default -1: every phase)",
	"    --epoch-transitions-only   FinetuningScheduler epoch_transitions_only",
	"    --allow-untested           FinetuningScheduler allow_untested",
	"    --base-max-lr=<x>          FinetuningScheduler base_max_lr (default 1e-05)",
	"    --max-epochs=<n>           trainer max_epochs (default 1000, Lightning's default; -1: no limit)",
	"    --apply-lambdas-new-pgs    FinetuningScheduler apply_lambdas_new_pgs",
	"    --reinit-optim-cfg=<yaml>  FinetuningScheduler reinit_optim_cfg, as a YAML flow mapping",
	"    --reinit-lr-cfg=<yaml>     FinetuningScheduler reinit_lr_cfg, as a YAML flow mapping",
	"    -W<flag>, -Wno-<flag>      enable or disable a warning (see 'ftsc explain --list')",
	"    -Werror[=<flag>]           make warnings (or one) errors",
	"    --format=<fmt>             text (default), json or sarif",
	"    --color=<when>             auto (default), always or never; NO_COLOR disables",
	"    --plain                    no source excerpts",
	"    -v, --verbose              also show FTS's INFO-level remarks",
	NULL,
};

static const char *const usage_build[] = {
	"usage: ftsc build <schedule.yaml> --manifest <model.tsv> -o <plan> [--strip] [<check options>]",
	"   or: ftsc build --config <a.yaml> [--config <b.yaml>...] --manifest <model.tsv> -o <plan> [...]",
	"",
	"    -o <file>                  write the plan there (required)",
	"    --strip                    leave the source map out (the plan means the same; its identity is unchanged)",
	"",
	"Every option of 'ftsc check' is accepted (see 'ftsc check --help'); the check",
	"is for libftsrt (--target=ftsrt), and nothing is written when it reports",
	"errors.  The session's own optimizer and lr",
	"scheduler must be known: give --config, or --initial-optimizer and",
	"--initial-lr-scheduler (=none when the session has no scheduler).",
	NULL,
};

static const char *const usage_dump[] = {
	"usage: ftsc dump <plan>",
	"",
	"Validate a plan through libftsrt and print every section as stable text.",
	NULL,
};

static const char *const usage_convert[] = {
	"usage: ftsc convert <file> --to dsl|yaml [-o <out>] [--manifest <model.tsv>]",
	"",
	"    --to dsl|yaml        the syntax to write",
	"    -o <out>             write there (a YAML schedule whose settings need a",
	"                         LightningCLI config also writes <out>.config.yaml)",
	"    --manifest <file>    expands 'rest' selectors (needed for them only)",
	NULL,
};

static const char *const usage_fmt[] = {
	"usage: ftsc fmt <file.fts> [--check]",
	"",
	"    --check   print nothing; exit 1 when the file is not in canonical form",
	NULL,
};

static const char *const usage_gen[] = {
	"usage: ftsc gen --manifest <model.tsv> [-o <file>]",
	"",
	"    --manifest <file>   the model's parameters",
	"    -o <file>           write there instead of standard output",
	NULL,
};

static const char *const usage_explain[] = {
	"usage: ftsc explain <code>|--list",
	"",
	"    <code>    a diagnostic code (FTS-D1, FTSC017) or warning flag (unknown-key)",
	"    --list    list every diagnostic: code, severity, flag, message",
	NULL,
};

static void print_usage(FILE *out, const char *const *u)
{
	for (; *u; u++)
		fprintf(out, "%s\n", *u);
}

static int usage_error(const char *const *u, const char *what, const char *arg)
{
	fprintf(stderr, "ftsc: %s%s%s%s\n\n", what, arg ? " '" : "", arg ? arg : "", arg ? "'" : "");
	print_usage(stderr, u);
	return EXIT_USAGE;
}

static bool is_help(const char *a)
{
	return strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0;
}

/* An option rather than a file name ("-" alone is a file name). */
static bool is_option(const char *a)
{
	return a[0] == '-' && a[1];
}

/* --- option values ------------------------------------------------------------- */

static int parse_bool(const char *s, bool *out)
{
	static const char *const t[] = {"1", "true", "True", "yes", "on", NULL};
	static const char *const f[] = {"0", "false", "False", "no", "off", NULL};
	for (const char *const *p = t; *p; p++)
		if (strcmp(s, *p) == 0) {
			*out = true;
			return 0;
		}
	for (const char *const *p = f; *p; p++)
		if (strcmp(s, *p) == 0) {
			*out = false;
			return 0;
		}
	return -1;
}

static int parse_int(const char *s, int64_t *out)
{
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (!*s || *end || errno)
		return -1;
	*out = v;
	return 0;
}

static int parse_double(const char *s, double *out)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (!*s || *end || errno || !isfinite(v))
		return -1;
	*out = v;
	return 0;
}

/* "--name=value" or "--name value": returns the value or NULL. */
static const char *opt_value(int argc, char **argv, int *i, const char *name)
{
	size_t n = strlen(name);
	const char *a = argv[*i];
	if (strncmp(a, name, n) != 0)
		return NULL;
	if (a[n] == '=')
		return a + n + 1;
	if (a[n] == '\0' && *i + 1 < argc) {
		(*i)++;
		return argv[*i];
	}
	return NULL;
}

/* Flag options that take an optional "=bool". */
static int opt_flag(const char *a, const char *name, bool *out)
{
	size_t n = strlen(name);
	if (strncmp(a, name, n) != 0)
		return 0;
	if (a[n] == '\0') {
		*out = true;
		return 1;
	}
	if (a[n] == '=')
		return parse_bool(a + n + 1, out) == 0 ? 1 : -1;
	return 0;
}

/* --- check ------------------------------------------------------------------------- */

struct check_opts {
	const char *configs[16];
	size_t nconfigs;
	const char *declare[16];
	size_t ndeclare;
	const char *include_dirs[16];
	size_t ninclude_dirs;
	const char *no_decay[32];
	size_t nno_decay;
	char *no_decay_buf;
	bool no_decay_given;
	bool implicit;
	bool explain_plan;
	unsigned phase0_groups;
	unsigned given;
	bool target_ftsrt;
	const char *initial_optimizer;
	const char *initial_lr_scheduler;
	const char *schedule;
	const char *manifest;
	const char *reinit_optim;
	const char *reinit_lr;
	struct fts_settings settings;
};

static bool want_color(const char *when)
{
	const char *nc = getenv("NO_COLOR");
	if (strcmp(when, "never") == 0)
		return false;
	if (strcmp(when, "always") == 0)
		return true;
	if (nc && *nc)
		return false;
	const char *term = getenv("TERM");
	return isatty(2) && !(term && strcmp(term, "dumb") == 0);
}

/* `ftsc build` only: where the plan goes. */
struct build_opts {
	const char *out;
	bool strip;
};

static int write_plan(const struct fts_compile *comp, const struct fts_sources *src,
		      const struct build_opts *b);

static int check_or_build(int argc, char **argv, struct build_opts *b)
{
	const char *const *usage = b ? usage_build : usage_check;
	struct check_opts o = {0};
	struct fts_sources src;
	struct fts_diags d;
	fts_settings_default(&o.settings);
	fts_sources_init(&src);
	fts_diags_init(&d, &src);
	const char *color = "auto";
	int rc = EXIT_USAGE;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v;
		int f;
		if (is_help(a)) {
			print_usage(stdout, usage);
			rc = EXIT_CLEAN;
			goto out;
		} else if (b && (v = opt_value(argc, argv, &i, "-o"))) {
			b->out = v;
		} else if (b && strcmp(a, "--strip") == 0) {
			b->strip = true;
		} else if ((v = opt_value(argc, argv, &i, "--manifest"))) {
			o.manifest = v;
		} else if ((v = opt_value(argc, argv, &i, "--config"))) {
			if (o.nconfigs == sizeof(o.configs) / sizeof(o.configs[0])) {
				rc = usage_error(usage, "too many --config files", NULL);
				goto out;
			}
			o.configs[o.nconfigs++] = v;
		} else if ((v = opt_value(argc, argv, &i, "--include-dir"))) {
			if (o.ninclude_dirs == sizeof(o.include_dirs) / sizeof(o.include_dirs[0])) {
				rc = usage_error(usage, "too many --include-dir folders", NULL);
				goto out;
			}
			o.include_dirs[o.ninclude_dirs++] = v;
		} else if ((v = opt_value(argc, argv, &i, "--declare"))) {
			if (o.ndeclare == sizeof(o.declare) / sizeof(o.declare[0])) {
				rc = usage_error(usage, "too many --declare files", NULL);
				goto out;
			}
			o.declare[o.ndeclare++] = v;
		} else if ((v = opt_value(argc, argv, &i, "--run-dir"))) {
			o.settings.run_dir = v;
		} else if ((v = opt_value(argc, argv, &i, "--restore-best"))) {
			if (parse_bool(v, &o.settings.restore_best))
				goto bad_value;
			o.given |= FTS_GIVEN_RESTORE_BEST;
		} else if ((v = opt_value(argc, argv, &i, "--max-depth"))) {
			if (parse_int(v, &o.settings.max_depth))
				goto bad_value;
			o.given |= FTS_GIVEN_MAX_DEPTH;
		} else if ((f = opt_flag(a, "--epoch-transitions-only", &o.settings.epoch_transitions_only))) {
			if (f < 0)
				goto bad_value;
			o.given |= FTS_GIVEN_ETO;
		} else if ((f = opt_flag(a, "--allow-untested", &o.settings.allow_untested))) {
			if (f < 0)
				goto bad_value;
			o.given |= FTS_GIVEN_ALLOW_UNTESTED;
		} else if ((f = opt_flag(a, "--apply-lambdas-new-pgs", &o.settings.apply_lambdas_new_pgs))) {
			if (f < 0)
				goto bad_value;
			o.given |= FTS_GIVEN_APPLY_LAMBDAS;
		} else if ((v = opt_value(argc, argv, &i, "--base-max-lr"))) {
			if (parse_double(v, &o.settings.base_max_lr))
				goto bad_value;
			o.given |= FTS_GIVEN_BASE_MAX_LR;
		} else if ((v = opt_value(argc, argv, &i, "--max-epochs"))) {
			if (parse_int(v, &o.settings.max_epochs) || o.settings.max_epochs < -1)
				goto bad_value;
			o.given |= FTS_GIVEN_MAX_EPOCHS;
		} else if (strcmp(a, "--implicit") == 0) {
			o.implicit = true;
		} else if (strcmp(a, "--explain-plan") == 0) {
			o.explain_plan = true;
		} else if ((v = opt_value(argc, argv, &i, "--target"))) {
			if (strcmp(v, "fts") == 0 && !b)
				o.target_ftsrt = false;
			else if (strcmp(v, "ftsrt") == 0)
				o.target_ftsrt = true;
			else
				goto bad_value;
		} else if ((v = opt_value(argc, argv, &i, "--initial-optimizer"))) {
			o.initial_optimizer = v;
		} else if ((v = opt_value(argc, argv, &i, "--initial-lr-scheduler"))) {
			o.initial_lr_scheduler = v;
		} else if ((v = opt_value(argc, argv, &i, "--phase0-groups"))) {
			int64_t g;
			if (parse_int(v, &g) || g < 1 || g > 1000)
				goto bad_value;
			o.phase0_groups = (unsigned)g;
		} else if ((v = opt_value(argc, argv, &i, "--no-decay"))) {
			free(o.no_decay_buf);
			o.no_decay_given = true;
			o.no_decay_buf = strdup(v);
			o.nno_decay = 0;
			char *save = NULL;
			for (char *t = strtok_r(o.no_decay_buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
				if (o.nno_decay == sizeof(o.no_decay) / sizeof(o.no_decay[0]))
					goto bad_value;
				o.no_decay[o.nno_decay++] = t;
			}
		} else if ((v = opt_value(argc, argv, &i, "--reinit-optim-cfg"))) {
			o.reinit_optim = v;
		} else if ((v = opt_value(argc, argv, &i, "--reinit-lr-cfg"))) {
			o.reinit_lr = v;
		} else if ((v = opt_value(argc, argv, &i, "--format"))) {
			if (strcmp(v, "text") == 0)
				d.format = FTS_FMT_TEXT;
			else if (strcmp(v, "json") == 0)
				d.format = FTS_FMT_JSON;
			else if (strcmp(v, "sarif") == 0)
				d.format = FTS_FMT_SARIF;
			else
				goto bad_value;
		} else if ((v = opt_value(argc, argv, &i, "--color"))) {
			if (strcmp(v, "auto") && strcmp(v, "always") && strcmp(v, "never"))
				goto bad_value;
			color = v;
		} else if (strcmp(a, "--plain") == 0) {
			d.plain = true;
		} else if (strcmp(a, "-v") == 0 || strcmp(a, "--verbose") == 0) {
			d.show_remarks = true;
		} else if (strncmp(a, "-W", 2) == 0) {
			if (fts_diags_option(&d, a + 2) != 0) {
				const char *name = strncmp(a + 2, "no-", 3) == 0 ? a + 5 : a + 2;
				int id = fts_diag_lookup(name);
				rc = usage_error(usage, id >= 0 && !fts_diag_flag(id)
						 ? "an error cannot be disabled:" : "unknown warning option", a);
				goto out;
			}
		} else if (is_option(a)) {
			rc = usage_error(usage, "unknown option", a);
			goto out;
		} else if (!o.schedule) {
			o.schedule = a;
		} else {
			rc = usage_error(usage, "more than one schedule given:", a);
			goto out;
		}
		continue;
bad_value:
		rc = usage_error(usage, "invalid value in", a);
		goto out;
	}
	if (!o.schedule && !o.implicit && !o.nconfigs) {
		rc = usage_error(usage, "no schedule given (or --config, or --implicit for FTS's "
				 "generated one)", NULL);
		goto out;
	}
	if (b && !b->out) {
		rc = usage_error(usage, "-o <plan> is required", NULL);
		goto out;
	}
	if (!o.manifest) {
		rc = usage_error(usage, "--manifest is required: ftsc resolves parameters against it", NULL);
		goto out;
	}
	d.color = d.format == FTS_FMT_TEXT && want_color(color);

	struct fts_check_input in = {0};
	in.schedule = o.schedule;
	in.manifest = o.manifest;
	in.reinit_optim_cfg = o.reinit_optim;
	in.reinit_lr_cfg = o.reinit_lr;
	in.declare = o.declare;
	in.ndeclare = o.ndeclare;
	in.include_dirs = o.include_dirs;
	in.ninclude_dirs = o.ninclude_dirs;
	in.settings = o.settings;
	in.given = o.given;
	in.implicit = o.implicit;
	in.initial_optimizer = o.initial_optimizer;
	in.initial_lr_scheduler = o.initial_lr_scheduler;
	in.no_decay = o.no_decay;
	in.nno_decay = o.nno_decay;
	in.no_decay_given = o.no_decay_given;
	in.phase0_groups = o.phase0_groups;
	in.configs = o.configs;
	in.nconfigs = o.nconfigs;
	in.target_ftsrt = b || o.target_ftsrt;
	struct fts_compile comp;
	int io = fts_compile_run(&in, &d, &comp);
	fts_diags_render(&d, d.format == FTS_FMT_TEXT ? stderr : stdout);
	rc = io ? EXIT_USAGE : d.errors ? EXIT_ERRORS : EXIT_CLEAN;
	if (o.explain_plan && comp.ir)
		fts_explain_plan(comp.ir, comp.sim, stdout);
	if (b && rc == EXIT_CLEAN)
		rc = write_plan(&comp, &src, b);
	else if (b)
		fprintf(stderr, "ftsc: no plan written: the check reported errors\n");
	fts_compile_release(&comp);
out:
	free(o.no_decay_buf);
	fts_diags_release(&d);
	fts_sources_release(&src);
	return rc;
}

static int cmd_check(int argc, char **argv)
{
	return check_or_build(argc, argv, NULL);
}

/* --- build and dump ------------------------------------------------------------- */

static int write_plan(const struct fts_compile *comp, const struct fts_sources *src,
		      const struct build_opts *b)
{
	uint8_t *buf;
	size_t len;
	char err[512];
	if (fts_emit_plan(comp, src, b->strip, &buf, &len, err, sizeof(err))) {
		fprintf(stderr, "ftsc: error: %s\n", err);
		return EXIT_ERRORS;
	}
	int rc = EXIT_CLEAN;
	if (write_file_atomic(b->out, buf, len))
		rc = EXIT_USAGE;
	free(buf);
	return rc;
}

static int cmd_build(int argc, char **argv)
{
	struct build_opts b = {NULL, false};
	return check_or_build(argc, argv, &b);
}

static int cmd_dump(int argc, char **argv)
{
	if (argc == 2 && is_help(argv[1])) {
		print_usage(stdout, usage_dump);
		return EXIT_CLEAN;
	}
	if (argc != 2 || is_option(argv[1]))
		return usage_error(usage_dump, argc < 2 ? "no plan given" : "unexpected argument",
				   argc < 2 ? NULL : argv[argc > 2 ? 2 : 1]);
	char err[512];
	int rc = fts_dump_plan(argv[1], stdout, err, sizeof(err));
	if (rc) {
		fprintf(stderr, "ftsc: %s: invalid plan: %s\n", argv[1], err);
		return EXIT_ERRORS;
	}
	return EXIT_CLEAN;
}

/* --- convert, fmt and gen: one input, diagnostics on stderr ----------------------- */

/* What convert, fmt and gen work with. */
struct session {
	struct fts_sources src;
	struct fts_diags d;             /* coloured as the terminal allows */
	struct fts_arena a;
};

static void session_init(struct session *s)
{
	fts_sources_init(&s->src);
	fts_diags_init(&s->d, &s->src);
	fts_arena_init(&s->a);
	s->d.color = want_color("auto");
}

/* Load path as a source file: 0, or -1 after reporting why (FTS_E_IO). */
static int session_load(struct session *s, const char *path, size_t max, uint32_t *file)
{
	char err[256];
	if (fts_source_load(&s->src, path, max, file, err, sizeof(err))) {
		fts_diag(&s->d, FTS_E_IO, FTS_SPAN_NONE, path, err);
		return -1;
	}
	return 0;
}

/* Free what the session holds (its diagnostics already rendered). */
static void session_release(struct session *s)
{
	fts_arena_release(&s->a);
	fts_diags_release(&s->d);
	fts_sources_release(&s->src);
}

static bool has_suffix(const char *s, const char *suf)
{
	size_t n = strlen(s), m = strlen(suf);
	return n > m && strcmp(s + n - m, suf) == 0;
}

/* Write len bytes to path (NULL: standard output); 0 or -1 (reported). */
static int write_out(const char *path, const char *text, size_t len)
{
	if (!path)
		return fwrite(text, 1, len, stdout) == len ? 0 : -1;
	return write_file_atomic(path, text, len);
}

static int cmd_convert(int argc, char **argv)
{
	const char *in = NULL, *out = NULL, *to = NULL, *manifest = NULL;
	for (int i = 1; i < argc; i++) {
		const char *v;
		if (is_help(argv[i])) {
			print_usage(stdout, usage_convert);
			return EXIT_CLEAN;
		} else if ((v = opt_value(argc, argv, &i, "--to"))) {
			to = v;
		} else if ((v = opt_value(argc, argv, &i, "-o"))) {
			out = v;
		} else if ((v = opt_value(argc, argv, &i, "--manifest"))) {
			manifest = v;
		} else if (is_option(argv[i])) {
			return usage_error(usage_convert, "unknown option", argv[i]);
		} else if (!in) {
			in = argv[i];
		} else {
			return usage_error(usage_convert, "more than one input:", argv[i]);
		}
	}
	if (!in || !to || (strcmp(to, "dsl") && strcmp(to, "yaml")))
		return usage_error(usage_convert, "give an input and --to dsl or --to yaml", NULL);
	struct session s;
	session_init(&s);
	int rc = EXIT_CLEAN;
	uint32_t file;
	struct fts_manifest *m = NULL;
	struct fts_names *names = NULL;
	if (session_load(&s, in, FTS_MAX_INPUT, &file)) {
		rc = EXIT_USAGE;
		goto done;
	}
	bool from_dsl = has_suffix(in, ".fts");
	struct fts_node *root;
	if (from_dsl) {
		root = fts_dsl_parse(&s.a, &s.d, file);
	} else {
		bool empty = false;
		root = fts_yaml_parse(&s.a, &s.d, file, &empty);
	}
	if (!root || s.d.errors)
		goto done;
	if (from_dsl && fts_dsl_has_rest(root)) {
		uint32_t mf;
		if (!manifest) {
			fprintf(stderr, "ftsc: '%s' selects 'rest': give --manifest to expand it\n", in);
			rc = EXIT_USAGE;
			goto done;
		}
		if (session_load(&s, manifest, FTS_MAX_MANIFEST, &mf)) {
			rc = EXIT_USAGE;
			goto done;
		}
		m = fts_manifest_parse(&s.a, &s.d, mf);
		names = m ? fts_manifest_link(m, &s.d) : NULL;
		if (!names)
			goto done;
		fts_dsl_expand_rest(&s.a, &s.d, root, names);
		if (s.d.errors)
			goto done;
	}
	if (strcmp(to, "dsl") == 0) {
		size_t len = 0;
		char *text = fts_dsl_from_tree(&s.a, &s.d, root, &len);
		if (text && !s.d.errors && write_out(out, text, len))
			rc = EXIT_USAGE;
	} else {
		char *sched = NULL, *config = NULL;
		size_t slen = 0, clen = 0;
		if (fts_dsl_to_yaml(&s.a, &s.d, root, out, &sched, &slen, &config, &clen) == 0 && !s.d.errors) {
			if (!out) {
				if (write_out(NULL, config ? config : sched, config ? clen : slen))
					rc = EXIT_USAGE;
			} else {
				char *cpath = fts_arena_printf(&s.a, "%s.config.yaml", out);
				if (write_out(out, sched, slen) || (config && write_out(cpath, config, clen)))
					rc = EXIT_USAGE;
				else if (config)
					fprintf(stderr, "ftsc: the settings went to '%s' (a LightningCLI config)\n",
						cpath);
			}
		}
	}
done:
	fts_diags_render(&s.d, stderr);
	if (rc == EXIT_CLEAN && s.d.errors)
		rc = EXIT_ERRORS;
	if (names)
		fts_names_free(names);
	if (m)
		free(m->name_recs);
	session_release(&s);
	return rc;
}

static int cmd_fmt(int argc, char **argv)
{
	const char *in = NULL;
	bool check = false;
	for (int i = 1; i < argc; i++) {
		if (is_help(argv[i])) {
			print_usage(stdout, usage_fmt);
			return EXIT_CLEAN;
		} else if (strcmp(argv[i], "--check") == 0) {
			check = true;
		} else if (is_option(argv[i])) {
			return usage_error(usage_fmt, "unknown option", argv[i]);
		} else if (!in) {
			in = argv[i];
		} else {
			return usage_error(usage_fmt, "more than one input:", argv[i]);
		}
	}
	if (!in)
		return usage_error(usage_fmt, "no input", NULL);
	struct session s;
	session_init(&s);
	int rc = EXIT_CLEAN;
	uint32_t file;
	if (session_load(&s, in, FTS_MAX_INPUT, &file)) {
		rc = EXIT_USAGE;
	} else {
		size_t len = 0;
		char *text = fts_dsl_format(&s.a, &s.d, file, &len);
		if (!text || s.d.errors) {
			rc = EXIT_ERRORS;
		} else if (check) {
			const struct fts_source *f = fts_source_get(&s.src, file);
			rc = f->len == len && memcmp(f->text, text, len) == 0 ? EXIT_CLEAN : EXIT_ERRORS;
			if (rc)
				fprintf(stderr, "ftsc: '%s' is not in canonical form\n", in);
		} else if (write_out(NULL, text, len)) {
			rc = EXIT_USAGE;
		}
	}
	fts_diags_render(&s.d, stderr);
	session_release(&s);
	return rc;
}

/* --- gen ------------------------------------------------------------------------ */

static int cmd_gen(int argc, char **argv)
{
	const char *manifest = NULL, *out_path = NULL;
	for (int i = 1; i < argc; i++) {
		const char *v;
		if (is_help(argv[i])) {
			print_usage(stdout, usage_gen);
			return EXIT_CLEAN;
		} else if ((v = opt_value(argc, argv, &i, "--manifest"))) {
			manifest = v;
		} else if ((v = opt_value(argc, argv, &i, "-o"))) {
			out_path = v;
		} else {
			return usage_error(usage_gen, "unknown argument", argv[i]);
		}
	}
	if (!manifest)
		return usage_error(usage_gen, "--manifest is required", NULL);
	struct session s;
	session_init(&s);
	FILE *out = stdout;
	char *buf = NULL;
	size_t len = 0;
	if (out_path)
		out = open_memstream(&buf, &len);       /* written only when complete */
	int rc = fts_gen_run(manifest, &s.d, out);
	if (out_path)
		fclose(out);
	fts_diags_render(&s.d, stderr);
	int status = rc < 0 ? EXIT_USAGE : rc > 0 || s.d.errors ? EXIT_ERRORS : EXIT_CLEAN;
	if (rc == 0 && !s.d.errors && out_path) {
		if (write_file_atomic(out_path, buf, len))
			status = EXIT_USAGE;
	}
	free(buf);
	session_release(&s);
	return status;
}

/* --- explain ---------------------------------------------------------------------- */

/* Codes no longer reported, and why (so that an old log still explains). */
static const struct {
	const char *code, *why;
} retired_codes[] = {
	{"FTSC081", "retired: 'phase N may restore scheduler state of A into B'. FTS rolls the previous "
	 "phase's lr scheduler state forward at the target phase (fts-semantics.md 7.8), and a KeyError "
	 "while loading a scheduler of another class is tolerated whenever the schedule reinitializes "
	 "schedulers (V-T5), so such a restore neither crashes nor changes the run. What a restore does "
	 "to the optimizer is FTSC080 (the step fails) and FTSC095 (hyper-parameters revert)."},
	{"FTSC084", "retired: the ReduceLROnPlateau min_lr count check. FTSC088 now reports every "
	 "optimizer and scheduler construction that fails over the groups of its phase, min_lr included."},
};

static int cmd_explain(int argc, char **argv)
{
	if (argc < 2 || is_help(argv[1])) {
		print_usage(argc < 2 ? stderr : stdout, usage_explain);
		return argc < 2 ? EXIT_USAGE : EXIT_CLEAN;
	}
	if (strcmp(argv[1], "--list") == 0) {
		const char *prev = "";
		for (int i = 0; i < FTS_DIAG_COUNT; i++) {
			if (strcmp(prev, fts_diag_code(i)) == 0)
				continue;
			prev = fts_diag_code(i);
			printf("%-8s %-8s %-24s %s\n", fts_diag_code(i),
			       fts_severity_name(fts_diag_default_severity(i)),
			       fts_diag_flag(i) ? fts_diag_flag(i) : "-", fts_diag_format_str(i));
		}
		return EXIT_CLEAN;
	}
	const char *q = argv[1];
	if (strncmp(q, "-W", 2) == 0)
		q += 2;
	int id = fts_diag_lookup(q);
	for (size_t k = 0; id < 0 && k < sizeof(retired_codes) / sizeof(retired_codes[0]); k++)
		if (strcmp(q, retired_codes[k].code) == 0) {
			printf("%s: %s\n", retired_codes[k].code, retired_codes[k].why);
			return EXIT_CLEAN;
		}
	if (id < 0) {
		fprintf(stderr, "ftsc: unknown diagnostic code or flag '%s' (see 'ftsc explain --list')\n",
			argv[1]);
		return EXIT_USAGE;
	}
	const char *code = fts_diag_code(id);
	printf("%s: %s\n", code, fts_diag_format_str(id));
	printf("severity: %s", fts_severity_name(fts_diag_default_severity(id)));
	if (fts_diag_flag(id))
		printf(" (flag -W%s)", fts_diag_flag(id));
	printf("\n\n%s\n", fts_diag_doc(id));
	for (int i = id + 1; i < FTS_DIAG_COUNT; i++)
		if (strcmp(fts_diag_code(i), code) == 0)
			printf("\nalso: %s\n", fts_diag_format_str(i));
	return EXIT_CLEAN;
}

static int run_command(int argc, char **argv);

/* Output that did not reach its destination (a full disk, /dev/full, a
 * closed pipe) is a failure, whatever the command decided. */
/*
 * Large inputs are mapped (source.c): a file that shrinks while ftsc reads
 * it raises SIGBUS at the missing pages.  Say so, plainly, and exit with
 * the status of unreadable input (async-signal-safe: write and _exit).
 */
static void on_sigbus(int sig)
{
	static const char msg[] = "ftsc: error: an input file shrank while ftsc was reading it "
				  "(SIGBUS on its mapping); check it again once nothing is writing it\n";
	(void)sig;
	ssize_t w = write(STDERR_FILENO, msg, sizeof(msg) - 1);
	(void)w;
	_exit(EXIT_USAGE);
}

int main(int argc, char **argv)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_sigbus;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGBUS, &sa, NULL);
	int rc = run_command(argc, argv);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "ftsc: error writing the standard output: %s\n", strerror(errno ? errno : EIO));
		rc = rc ? rc : EXIT_USAGE;
	}
	if (fflush(stderr) != 0 || ferror(stderr))
		rc = rc ? rc : EXIT_USAGE;
	return rc;
}

static int run_command(int argc, char **argv)
{
	if (argc < 2) {
		print_usage(stderr, usage_main);
		return EXIT_USAGE;
	}
	const char *cmd = argv[1];
	if (strcmp(cmd, "check") == 0)
		return cmd_check(argc - 1, argv + 1);
	if (strcmp(cmd, "build") == 0)
		return cmd_build(argc - 1, argv + 1);
	if (strcmp(cmd, "dump") == 0)
		return cmd_dump(argc - 1, argv + 1);
	if (strcmp(cmd, "explain") == 0)
		return cmd_explain(argc - 1, argv + 1);
	if (strcmp(cmd, "gen") == 0)
		return cmd_gen(argc - 1, argv + 1);
	if (strcmp(cmd, "convert") == 0)
		return cmd_convert(argc - 1, argv + 1);
	if (strcmp(cmd, "fmt") == 0)
		return cmd_fmt(argc - 1, argv + 1);
	if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
		printf("ftsc %s\n", FTSC_VERSION);
		return EXIT_CLEAN;
	}
	if (strcmp(cmd, "help") == 0 || is_help(cmd)) {
		print_usage(stdout, usage_main);
		return EXIT_CLEAN;
	}
	fprintf(stderr, "ftsc: '%s' is not an ftsc command\n\n", cmd);
	print_usage(stderr, usage_main);
	return EXIT_USAGE;
}
