/*
 * diag.h - the diagnostics engine.
 *
 * Every message ftsc prints about a user's input is an entry of the
 * catalogue in diag.def: a stable id, a default severity, a warning flag
 * (-W<flag>), a stable code shown as [CODE] (FTS-<rule> for rules FTS
 * itself enforces, FTSC<nnn> for ftsc's own), a printf format and the
 * documentation `ftsc explain CODE` prints.  Passes report through
 * fts_diag() with a span; the engine collects, applies -W/-Werror policy,
 * and renders text, JSON or SARIF at the end.  No other file writes
 * diagnostics to stderr.
 */
#ifndef FTS_DIAG_H
#define FTS_DIAG_H

/* The most bytes of a diagnostic message or note; the rest is cut, and the
 * cut said ("... (N more bytes)"). */
#define FTS_DIAG_MAX_MSG 1024

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>

#include "arena.h"
#include "source.h"

enum fts_severity {
	FTS_SEV_IGNORED,                /* disabled by -Wno-<flag> */
	FTS_SEV_REMARK,                 /* FTS INFO messages; shown with -v */
	FTS_SEV_NOTE,                   /* only as a child of another diagnostic */
	FTS_SEV_WARNING,
	FTS_SEV_ERROR,
};

enum fts_diag_id {
#define DIAG(id, sev, flag, code, fmt, doc) id,
#include "diag.def"
#undef DIAG
	FTS_DIAG_COUNT
};

enum fts_diag_format {
	FTS_FMT_TEXT,
	FTS_FMT_JSON,
	FTS_FMT_SARIF,
};

struct fts_diag_note {
	struct fts_span span;           /* may be FTS_SPAN_NONE */
	char *msg;
	bool help;                      /* printed as "help:" (a suggested fix) */
};

struct fts_diag {
	enum fts_diag_id id;
	enum fts_severity sev;          /* after -W policy */
	struct fts_span span;
	char *msg;
	struct fts_diag_note *notes;
	size_t nnotes, capnotes;
	size_t seq;                     /* emission order, for stable sorting */
};

struct fts_diags {
	struct fts_sources *src;        /* borrowed */
	struct fts_arena arena;         /* messages and notes */
	struct fts_diag **v;            /* reported diagnostics */
	size_t n, cap;
	struct fts_diag sink;           /* absorbs notes of ignored diagnostics */
	unsigned char policy[FTS_DIAG_COUNT];   /* enum fts_severity override, 0 = default */
	bool no_werror[FTS_DIAG_COUNT];         /* -Wno-error=<flag>: exempt from -Werror */
	bool werror;                    /* -Werror: every warning is an error */
	bool show_remarks;              /* -v */
	bool color;                     /* ANSI colours in text output */
	bool plain;                     /* no source excerpts */
	enum fts_diag_format format;
	size_t errors, warnings;        /* counted after policy */
	size_t max_errors;              /* 0 = unlimited */
};

void fts_diags_init(struct fts_diags *d, struct fts_sources *src);
void fts_diags_release(struct fts_diags *d);

/*
 * Apply one -W option (the text after "-W"): "error", "no-error",
 * "<flag>", "no-<flag>", "error=<flag>", "no-error=<flag>"; a code such as
 * FTSC104 may stand for a flag.  Returns 0, or -1 for an unknown flag.
 */
int fts_diags_option(struct fts_diags *d, const char *opt);

/*
 * Report a diagnostic from the catalogue; the variadic arguments fill its
 * format.  Returns the diagnostic so that notes can be attached (for an
 * ignored diagnostic, a sink that discards them).
 */
struct fts_diag *fts_diag_impl(struct fts_diags *d, enum fts_diag_id id,
			       struct fts_span span, ...);

/*
 * fts_diag(d, ID, span, args...): `ID` must be a catalogue name written
 * out, so that the compiler checks `args` against the entry's format
 * (build/diag_fmt.h, generated from diag.def, defines ID_FMT).
 */
#include "diag_fmt.h"
static inline __attribute__((format(printf, 1, 2))) void fts_diag_fmtcheck(const char *fmt, ...)
{
	(void)fmt;
}
#define fts_diag(d, id, span, ...) \
	(fts_diag_fmtcheck(id##_FMT, ##__VA_ARGS__), fts_diag_impl((d), id, (span), ##__VA_ARGS__))
/* Attach a located note ("note: ...") or a fix suggestion ("help: ..."). */
/* Forget the diagnostics after the first n (their memory stays in the arena). */
void fts_diags_truncate(struct fts_diags *d, size_t n);

void fts_diag_note(struct fts_diags *d, struct fts_diag *dg, struct fts_span span,
		   const char *fmt, ...) __attribute__((format(printf, 4, 5)));
void fts_diag_help(struct fts_diags *d, struct fts_diag *dg,
		   const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Render everything reported so far, sorted by file and position. */
void fts_diags_render(struct fts_diags *d, FILE *out);

/* Catalogue access, for `ftsc explain` and SARIF rules. */
const char *fts_diag_code(enum fts_diag_id id);
const char *fts_diag_flag(enum fts_diag_id id);
const char *fts_diag_doc(enum fts_diag_id id);
const char *fts_diag_format_str(enum fts_diag_id id);
enum fts_severity fts_diag_default_severity(enum fts_diag_id id);
/* Look up by code (FTS-D1, FTSC104) or flag name; -1 if none. */
int fts_diag_lookup(const char *code_or_flag);
const char *fts_severity_name(enum fts_severity s);

#endif /* FTS_DIAG_H */
