/*
 * gen.c - FTS's default (implicit-mode) schedule, byte for byte as FTS
 * dumps it (see gen.h).
 */
#include "gen.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A string PyYAML's emitter writes plain (unquoted): no indicator at the
 * start, no ': ' or ' #', no leading/trailing space, printable ASCII, and
 * not something the YAML 1.1 resolver would read as another type. */
static bool plain_ok(const char *s, size_t n)
{
	if (n == 0)
		return false;
	if (strchr("-?:,[]{}#&*!|>'\"%@`", s[0]) && !(s[0] == '-' && n > 1 && s[1] != ' '))
		return false;
	if (s[0] == ' ' || s[n - 1] == ' ')
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x20 || c >= 0x7f)
			return false;
		if (c == ':' && (i + 1 == n || s[i + 1] == ' '))
			return false;
		if (c == '#' && i > 0 && s[i - 1] == ' ')
			return false;
		if (c == ',' || c == '[' || c == ']' || c == '{' || c == '}')
			return false;
	}
	/* would the resolver read it as a number, boolean or null? */
	static const char *const words[] = {"y", "Y", "yes", "Yes", "YES", "n", "N", "no", "No", "NO",
		"true", "True", "TRUE", "false", "False", "FALSE", "on", "On", "ON", "off", "Off", "OFF",
		"null", "Null", "NULL", "~", NULL};
	for (const char *const *w = words; *w; w++)
		if (strlen(*w) == n && memcmp(*w, s, n) == 0)
			return false;
	bool numeric = true;
	for (size_t i = 0; i < n; i++)
		if (!strchr("0123456789+-._:eE", s[i]))
			numeric = false;
	return !numeric;
}

static void put_scalar(FILE *f, const char *s, size_t n)
{
	if (plain_ok(s, n)) {
		fwrite(s, 1, n, f);
		return;
	}
	fputc('\'', f);
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '\'')
			fputc('\'', f);
		fputc(s[i], f);
	}
	fputc('\'', f);
}

char *fts_gen_schedule(struct fts_arena *a, const struct fts_manifest *m, size_t *len)
{
	char *buf = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&buf, &n);
	if (!f)
		fts_oom();
	uint32_t k = m->nsched, phase = 0;
	while (k > 0) {
		fprintf(f, "%u:\n  params:\n", phase++);
		for (int j = 0; j < 2 && k > 0; j++) {
			const struct fts_mparam *p = &m->p[fts_sched(m, --k)];
			fputs("  - ", f);
			put_scalar(f, fts_mp_name(m, p), p->len);
			fputc('\n', f);
		}
	}
	if (m->nsched == 0)
		fputs("{}\n", f);
	fclose(f);
	char *out = fts_arena_strndup(a, buf, n);
	free(buf);
	*len = n;
	return out;
}
