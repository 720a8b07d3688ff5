/*
 * diag.c - collects diagnostics, applies the -W policy and renders them
 * as compiler-style text, JSON or SARIF 2.1.0 (see diag.h).
 */
#include "diag.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "version.h"

struct catalogue {
	enum fts_severity sev;
	const char *flag;
	const char *code;
	const char *fmt;
	const char *doc;
};

#define ERROR FTS_SEV_ERROR
#define WARNING FTS_SEV_WARNING
#define REMARK FTS_SEV_REMARK
#define NOTE FTS_SEV_NOTE
static const struct catalogue cat[FTS_DIAG_COUNT] = {
#define DIAG(id, sev, flag, code, fmt, doc) [id] = {sev, flag, code, fmt, doc},
#include "diag.def"
#undef DIAG
};
#undef ERROR
#undef WARNING
#undef REMARK
#undef NOTE

const char *fts_diag_code(enum fts_diag_id id) { return cat[id].code; }
const char *fts_diag_flag(enum fts_diag_id id) { return cat[id].flag; }
const char *fts_diag_doc(enum fts_diag_id id) { return cat[id].doc; }
const char *fts_diag_format_str(enum fts_diag_id id) { return cat[id].fmt; }
enum fts_severity fts_diag_default_severity(enum fts_diag_id id) { return cat[id].sev; }

const char *fts_severity_name(enum fts_severity s)
{
	switch (s) {
	case FTS_SEV_ERROR: return "error";
	case FTS_SEV_WARNING: return "warning";
	case FTS_SEV_NOTE: return "note";
	case FTS_SEV_REMARK: return "remark";
	case FTS_SEV_IGNORED: break;
	}
	return "ignored";
}

int fts_diag_lookup(const char *s)
{
	for (int i = 0; i < FTS_DIAG_COUNT; i++)
		if (strcasecmp(cat[i].code, s) == 0)
			return i;
	for (int i = 0; i < FTS_DIAG_COUNT; i++)
		if (cat[i].flag && strcmp(cat[i].flag, s) == 0)
			return i;
	return -1;
}

void fts_diags_init(struct fts_diags *d, struct fts_sources *src)
{
	memset(d, 0, sizeof(*d));
	d->src = src;
	fts_arena_init(&d->arena);
}

void fts_diags_release(struct fts_diags *d)
{
	free(d->v);
	fts_arena_release(&d->arena);
	d->v = NULL;
	d->n = d->cap = 0;
}

/* Apply `sev` to every diagnostic whose flag or code is `name`. */
static int set_policy(struct fts_diags *d, const char *name, int sev, bool only_if_error)
{
	int hits = 0;
	for (int i = 0; i < FTS_DIAG_COUNT; i++) {
		bool match = (cat[i].flag && strcmp(cat[i].flag, name) == 0) ||
			     strcasecmp(cat[i].code, name) == 0;
		if (!match)
			continue;
		hits++;
		if (!cat[i].flag && sev != FTS_SEV_ERROR)
			return -1;      /* hard errors cannot be lowered */
		if (only_if_error) {
			/* -Wno-error=x: a warning whatever -Werror says */
			if (cat[i].sev == FTS_SEV_ERROR)
				d->policy[i] = FTS_SEV_WARNING;
			d->no_werror[i] = true;
			continue;
		}
		if (sev == FTS_SEV_ERROR)
			d->no_werror[i] = false;
		d->policy[i] = (unsigned char)sev;
	}
	return hits ? 0 : -1;
}

int fts_diags_option(struct fts_diags *d, const char *opt)
{
	if (strcmp(opt, "error") == 0) {
		d->werror = true;
		return 0;
	}
	if (strcmp(opt, "no-error") == 0) {
		d->werror = false;
		return 0;
	}
	if (strcmp(opt, "all") == 0 || strcmp(opt, "everything") == 0) {
		for (int i = 0; i < FTS_DIAG_COUNT; i++)
			if (d->policy[i] == 255)
				d->policy[i] = 0;
		return 0;
	}
	if (strncmp(opt, "error=", 6) == 0)
		return set_policy(d, opt + 6, FTS_SEV_ERROR, false);
	if (strncmp(opt, "no-error=", 9) == 0)
		return set_policy(d, opt + 9, 0, true);
	if (strncmp(opt, "no-", 3) == 0) {
		/* encode "ignored" as 255 since 0 means "default" */
		return set_policy(d, opt + 3, 255, false);
	}
	/* -Wflag: enable it (a remark becomes a warning) */
	int hits = 0;
	for (int i = 0; i < FTS_DIAG_COUNT; i++) {
		if (!((cat[i].flag && strcmp(cat[i].flag, opt) == 0) ||
		      strcasecmp(cat[i].code, opt) == 0))
			continue;
		hits++;
		if (cat[i].sev == FTS_SEV_REMARK)
			d->policy[i] = FTS_SEV_WARNING;
		else if (d->policy[i] == 255)
			d->policy[i] = 0;
	}
	if (hits)
		return 0;
	return -1;
}

static enum fts_severity effective(const struct fts_diags *d, enum fts_diag_id id)
{
	enum fts_severity s = cat[id].sev;
	unsigned p = d->policy[id];
	if (p == 255)
		return FTS_SEV_IGNORED;
	if (p)
		s = (enum fts_severity)p;
	if (s == FTS_SEV_WARNING && d->werror && !d->no_werror[id])
		s = FTS_SEV_ERROR;
	if (s == FTS_SEV_REMARK && !d->show_remarks)
		return FTS_SEV_IGNORED;
	return s;
}

/* A message, at most FTS_DIAG_MAX_MSG bytes: a 200000-character name quoted
 * in a diagnostic is cut, and the cut said (on a UTF-8 boundary). */
static char *message(struct fts_arena *a, const char *fmt, va_list ap)
{
	char *m = fts_arena_vprintf(a, fmt, ap);
	size_t n = strlen(m);
	if (n <= FTS_DIAG_MAX_MSG)
		return m;
	size_t cut = FTS_DIAG_MAX_MSG;
	while (cut > 0 && ((unsigned char)m[cut] & 0xC0) == 0x80)
		cut--;
	return fts_arena_printf(a, "%.*s... (%zu more bytes)", (int)cut, m, n - cut);
}

struct fts_diag *fts_diag_impl(struct fts_diags *d, enum fts_diag_id id,
			       struct fts_span span, ...)
{
	enum fts_severity s = effective(d, id);
	if (s == FTS_SEV_IGNORED) {
		d->sink.nnotes = 0;
		return &d->sink;
	}
	struct fts_diag *dg = fts_arena_alloc(&d->arena, sizeof(*dg));
	va_list ap;
	va_start(ap, span);
	dg->msg = message(&d->arena, cat[id].fmt, ap);
	va_end(ap);
	dg->id = id;
	dg->sev = s;
	dg->span = span;
	dg->seq = d->n;
	if (d->n == d->cap) {
		d->cap = d->cap ? 2 * d->cap : 16;
		d->v = fts_xrealloc(d->v, d->cap * sizeof(*d->v));
	}
	d->v[d->n++] = dg;
	if (s == FTS_SEV_ERROR)
		d->errors++;
	else if (s == FTS_SEV_WARNING)
		d->warnings++;
	return dg;
}

void fts_diags_truncate(struct fts_diags *d, size_t n)
{
	while (d->n > n) {
		struct fts_diag *dg = d->v[--d->n];
		if (dg->sev == FTS_SEV_ERROR)
			d->errors--;
		else if (dg->sev == FTS_SEV_WARNING)
			d->warnings--;
	}
}

static void add_note(struct fts_diags *d, struct fts_diag *dg, struct fts_span span,
		     bool help, const char *fmt, va_list ap)
{
	if (dg == &d->sink)
		return;
	if (dg->nnotes == dg->capnotes) {
		size_t cap = dg->capnotes ? 2 * dg->capnotes : 4;
		dg->notes = fts_arena_realloc(&d->arena, dg->notes,
					      dg->nnotes * sizeof(*dg->notes),
					      cap * sizeof(*dg->notes));
		dg->capnotes = cap;
	}
	struct fts_diag_note *n = &dg->notes[dg->nnotes++];
	n->span = span;
	n->help = help;
	n->msg = message(&d->arena, fmt, ap);
}

void fts_diag_note(struct fts_diags *d, struct fts_diag *dg, struct fts_span span,
		   const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	add_note(d, dg, span, false, fmt, ap);
	va_end(ap);
}

void fts_diag_help(struct fts_diags *d, struct fts_diag *dg, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	add_note(d, dg, FTS_SPAN_NONE, true, fmt, ap);
	va_end(ap);
}

/* --- sorting ------------------------------------------------------------------ */

static int cmp_diag(const void *a, const void *b)
{
	const struct fts_diag *x = *(const struct fts_diag *const *)a;
	const struct fts_diag *y = *(const struct fts_diag *const *)b;
	/* diagnostics without a location (run settings) come first */
	if (x->span.file != y->span.file) {
		if (x->span.file == FTS_NOFILE)
			return -1;
		if (y->span.file == FTS_NOFILE)
			return 1;
		return x->span.file < y->span.file ? -1 : 1;
	}
	if (x->span.start != y->span.start)
		return x->span.start < y->span.start ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* --- text ------------------------------------------------------------------------ */

#define C_BOLD "\033[1m"
#define C_RED "\033[1;31m"
#define C_MAGENTA "\033[1;35m"
#define C_CYAN "\033[1;36m"
#define C_GREEN "\033[1;32m"
#define C_RESET "\033[0m"

static const char *sev_color(enum fts_severity s)
{
	switch (s) {
	case FTS_SEV_ERROR: return C_RED;
	case FTS_SEV_WARNING: return C_MAGENTA;
	case FTS_SEV_NOTE: return C_CYAN;
	default: return C_GREEN;
	}
}

static void print_loc(const struct fts_diags *d, FILE *out, struct fts_span sp)
{
	const struct fts_source *f = fts_span_valid(sp) ? fts_source_get(d->src, sp.file) : NULL;
	if (!f) {
		fputs("ftsc: ", out);
		return;
	}
	size_t line, col;
	fts_source_linecol(f, sp.start, &line, &col);
	fprintf(out, "%s%s:%zu:%zu:%s ", d->color ? C_BOLD : "", f->name, line, col,
		d->color ? C_RESET : "");
}

/* Write one char of a source line, replacing control bytes so that a
 * hostile file cannot drive the terminal. */
static void put_src_byte(FILE *out, unsigned char c)
{
	if (c == '\t' || c >= 0x20 || c >= 0x80)
		fputc(c == 0x7f ? '?' : c, out);
	else
		fputc('?', out);
}

static void print_excerpt(const struct fts_diags *d, FILE *out, struct fts_span sp,
			  enum fts_severity sev)
{
	const struct fts_source *f = fts_span_valid(sp) ? fts_source_get(d->src, sp.file) : NULL;
	if (!f || d->plain || sp.start > f->len)
		return;
	size_t line, col, len;
	fts_source_linecol(f, sp.start, &line, &col);
	size_t start = fts_source_line_start(f, line, &len);
	/* cap very long lines */
	size_t shown = len > 300 ? 300 : len;
	fprintf(out, "%5zu | ", line);
	for (size_t i = 0; i < shown; i++) {
		unsigned char c = (unsigned char)f->text[start + i];
		put_src_byte(out, c);
	}
	if (shown < len)
		fputs("...", out);
	fputc('\n', out);
	fputs("      | ", out);
	/* caret line: copy tabs from the prefix so the caret lines up */
	size_t i = start;
	for (; i < sp.start && i < start + shown; i++) {
		unsigned char c = (unsigned char)f->text[i];
		if ((c & 0xC0) == 0x80)
			continue;
		fputc(c == '\t' ? '\t' : ' ', out);
	}
	if (d->color)
		fputs(sev_color(sev), out);
	fputc('^', out);
	size_t end = sp.end;
	if (end > start + shown)
		end = start + shown;
	for (size_t j = sp.start + 1; j < end; j++) {
		unsigned char c = (unsigned char)f->text[j];
		if ((c & 0xC0) == 0x80)
			continue;
		if (c == '\n')
			break;
		fputc('~', out);
	}
	if (d->color)
		fputs(C_RESET, out);
	fputc('\n', out);
}

static void render_text(struct fts_diags *d, FILE *out)
{
	for (size_t k = 0; k < d->n; k++) {
		struct fts_diag *dg = d->v[k];
		print_loc(d, out, dg->span);
		fprintf(out, "%s%s:%s %s", d->color ? sev_color(dg->sev) : "",
			fts_severity_name(dg->sev), d->color ? C_RESET : "", dg->msg);
		if (cat[dg->id].flag && dg->sev != FTS_SEV_ERROR)
			fprintf(out, " [%s] [-W%s]\n", cat[dg->id].code, cat[dg->id].flag);
		else if (cat[dg->id].flag)
			fprintf(out, " [%s] [-Werror=%s]\n", cat[dg->id].code, cat[dg->id].flag);
		else
			fprintf(out, " [%s]\n", cat[dg->id].code);
		print_excerpt(d, out, dg->span, dg->sev);
		for (size_t j = 0; j < dg->nnotes; j++) {
			struct fts_diag_note *n = &dg->notes[j];
			if (n->help || !fts_span_valid(n->span)) {
				fprintf(out, "      = %s%s:%s %s\n", d->color ? (n->help ? C_GREEN : C_CYAN) : "",
					n->help ? "help" : "note", d->color ? C_RESET : "", n->msg);
				continue;
			}
			print_loc(d, out, n->span);
			fprintf(out, "%snote:%s %s\n", d->color ? C_CYAN : "",
				d->color ? C_RESET : "", n->msg);
		}
	}
	if (d->errors || d->warnings) {
		if (d->errors)
			fprintf(out, "%zu error%s", d->errors, d->errors == 1 ? "" : "s");
		if (d->errors && d->warnings)
			fputs(", ", out);
		if (d->warnings)
			fprintf(out, "%zu warning%s", d->warnings, d->warnings == 1 ? "" : "s");
		fputs(" generated.\n", out);
	}
}

/* --- JSON and SARIF ------------------------------------------------------------ */

static void json_str(FILE *out, const char *s)
{
	fputc('"', out);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		switch (*p) {
		case '"': fputs("\\\"", out); break;
		case '\\': fputs("\\\\", out); break;
		case '\n': fputs("\\n", out); break;
		case '\r': fputs("\\r", out); break;
		case '\t': fputs("\\t", out); break;
		default:
			if (*p < 0x20)
				fprintf(out, "\\u%04x", *p);
			else
				fputc(*p, out);
		}
	}
	fputc('"', out);
}

struct lc {
	const char *file;
	size_t line, col, eline, ecol;
};

static bool span_lc(const struct fts_diags *d, struct fts_span sp, struct lc *lc)
{
	const struct fts_source *f = fts_span_valid(sp) ? fts_source_get(d->src, sp.file) : NULL;
	if (!f)
		return false;
	lc->file = f->name;
	fts_source_linecol(f, sp.start, &lc->line, &lc->col);
	fts_source_linecol(f, sp.end, &lc->eline, &lc->ecol);
	return true;
}

static void json_loc(const struct fts_diags *d, FILE *out, struct fts_span sp)
{
	struct lc lc;
	if (!span_lc(d, sp, &lc)) {
		fputs("null", out);
		return;
	}
	fputs("{\"file\": ", out);
	json_str(out, lc.file);
	fprintf(out, ", \"line\": %zu, \"column\": %zu, \"end_line\": %zu, \"end_column\": %zu}",
		lc.line, lc.col, lc.eline, lc.ecol);
}

static void render_json(struct fts_diags *d, FILE *out)
{
	fputs("[", out);
	for (size_t k = 0; k < d->n; k++) {
		struct fts_diag *dg = d->v[k];
		fputs(k ? ",\n {" : "\n {", out);
		fputs("\"severity\": ", out);
		json_str(out, fts_severity_name(dg->sev));
		fputs(", \"code\": ", out);
		json_str(out, cat[dg->id].code);
		fputs(", \"flag\": ", out);
		if (cat[dg->id].flag)
			json_str(out, cat[dg->id].flag);
		else
			fputs("null", out);
		fputs(", \"message\": ", out);
		json_str(out, dg->msg);
		fputs(", \"location\": ", out);
		json_loc(d, out, dg->span);
		fputs(", \"notes\": [", out);
		for (size_t j = 0; j < dg->nnotes; j++) {
			fputs(j ? ", {" : "{", out);
			fputs("\"kind\": ", out);
			json_str(out, dg->notes[j].help ? "help" : "note");
			fputs(", \"message\": ", out);
			json_str(out, dg->notes[j].msg);
			fputs(", \"location\": ", out);
			json_loc(d, out, dg->notes[j].span);
			fputs("}", out);
		}
		fputs("]}", out);
	}
	fputs(d->n ? "\n]\n" : "]\n", out);
}

static const char *sarif_level(enum fts_severity s)
{
	return s == FTS_SEV_ERROR ? "error" : s == FTS_SEV_WARNING ? "warning" : "note";
}

static void sarif_region(const struct fts_diags *d, FILE *out, struct fts_span sp)
{
	struct lc lc;
	if (!span_lc(d, sp, &lc))
		return;
	fputs("{\"physicalLocation\": {\"artifactLocation\": {\"uri\": ", out);
	json_str(out, lc.file);
	fprintf(out, "}, \"region\": {\"startLine\": %zu, \"startColumn\": %zu, "
		"\"endLine\": %zu, \"endColumn\": %zu}}", lc.line, lc.col, lc.eline, lc.ecol);
}

static void render_sarif(struct fts_diags *d, FILE *out)
{
	/* rules: one per distinct code, in catalogue order */
	int rule_index[FTS_DIAG_COUNT];
	int nrules = 0;
	fputs("{\n  \"$schema\": \"https://json.schemastore.org/sarif-2.1.0.json\",\n"
	      "  \"version\": \"2.1.0\",\n  \"runs\": [{\n    \"tool\": {\"driver\": {\n"
	      "      \"name\": \"ftsc\",\n      \"version\": \"" FTSC_VERSION "\",\n"
	      "      \"rules\": [", out);
	for (int i = 0; i < FTS_DIAG_COUNT; i++) {
		int first = -1;
		for (int j = 0; j < i; j++)
			if (strcmp(cat[j].code, cat[i].code) == 0) {
				first = j;
				break;
			}
		if (first >= 0) {
			rule_index[i] = rule_index[first];
			continue;
		}
		rule_index[i] = nrules;
		fputs(nrules ? ",\n        {" : "\n        {", out);
		fputs("\"id\": ", out);
		json_str(out, cat[i].code);
		fputs(", \"name\": ", out);
		json_str(out, cat[i].flag ? cat[i].flag : cat[i].code);
		fputs(", \"shortDescription\": {\"text\": ", out);
		json_str(out, cat[i].fmt);
		fputs("}, \"fullDescription\": {\"text\": ", out);
		json_str(out, cat[i].doc);
		fputs("}, \"defaultConfiguration\": {\"level\": ", out);
		json_str(out, sarif_level(cat[i].sev));
		fputs("}}", out);
		nrules++;
	}
	fputs("]\n    }},\n    \"results\": [", out);
	for (size_t k = 0; k < d->n; k++) {
		struct fts_diag *dg = d->v[k];
		fputs(k ? ",\n      {" : "\n      {", out);
		fputs("\"ruleId\": ", out);
		json_str(out, cat[dg->id].code);
		fprintf(out, ", \"ruleIndex\": %d, \"level\": \"%s\", \"message\": {\"text\": ",
			rule_index[dg->id], sarif_level(dg->sev));
		json_str(out, dg->msg);
		fputs("}, \"locations\": [", out);
		sarif_region(d, out, dg->span);
		if (fts_span_valid(dg->span))
			fputs("}", out);
		fputs("]", out);
		bool any = false;
		for (size_t j = 0; j < dg->nnotes; j++) {
			struct fts_diag_note *n = &dg->notes[j];
			if (n->help || !fts_span_valid(n->span))
				continue;
			fputs(any ? ", " : ", \"relatedLocations\": [", out);
			sarif_region(d, out, n->span);
			fputs(", \"message\": {\"text\": ", out);
			json_str(out, n->msg);
			fputs("}}", out);
			any = true;
		}
		if (any)
			fputs("]", out);
		for (size_t j = 0; j < dg->nnotes; j++)
			if (dg->notes[j].help) {
				fputs(", \"fixes\": [{\"description\": {\"text\": ", out);
				json_str(out, dg->notes[j].msg);
				fputs("}, \"artifactChanges\": []}]", out);
				break;
			}
		fputs("}", out);
	}
	fputs(d->n ? "\n    ]\n  }]\n}\n" : "]\n  }]\n}\n", out);
}

void fts_diags_render(struct fts_diags *d, FILE *out)
{
	if (d->n > 1)
		qsort(d->v, d->n, sizeof(*d->v), cmp_diag);
	switch (d->format) {
	case FTS_FMT_TEXT: render_text(d, out); break;
	case FTS_FMT_JSON: render_json(d, out); break;
	case FTS_FMT_SARIF: render_sarif(d, out); break;
	}
	fflush(out);
}
