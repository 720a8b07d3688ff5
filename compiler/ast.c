/*
 * ast.c - helpers over the document tree (see ast.h): lookup, Python
 * truthiness, float()/int() as FTS applies them, ftsc's YAML 1.2 numeric
 * reading, short renderings for messages, and the unknown-key report the
 * lowering and the config reader share.
 */
/* REQUEST: ast.h needs a `struct fts_arena;` forward declaration; until
 * it has one, arena.h must come first. */
#include "arena.h"
#include "ast.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diag.h"
#include "util.h"

struct fts_pair *fts_node_get(const struct fts_node *map, const char *key)
{
	if (!map || map->kind != FTS_N_MAP)
		return NULL;
	size_t n = strlen(key);
	for (size_t i = 0; i < map->npairs; i++) {
		const struct fts_node *k = map->pairs[i].key;
		if (fts_node_is_str(k) && k->len == n && memcmp(k->text, key, n) == 0)
			return &map->pairs[i];
	}
	return NULL;
}

const struct fts_node *fts_node_value(const struct fts_node *map, const char *key)
{
	struct fts_pair *p = fts_node_get(map, key);
	return p ? p->value : NULL;
}

bool fts_node_is_str(const struct fts_node *n)
{
	return n && n->kind == FTS_N_SCALAR && n->py == FTS_PY_STR;
}

bool fts_node_is_map(const struct fts_node *n)
{
	return n && n->kind == FTS_N_MAP;
}

bool fts_node_falsy(const struct fts_node *n)
{
	if (!n)
		return true;
	switch (n->kind) {
	case FTS_N_SEQ:
		return n->nitems == 0;
	case FTS_N_MAP:
		return n->npairs == 0;
	case FTS_N_SCALAR:
		break;
	}
	switch (n->py) {
	case FTS_PY_NONE:
		return true;
	case FTS_PY_BOOL:
		return !n->b;
	case FTS_PY_INT:
		return !n->i_big && n->i == 0;
	case FTS_PY_FLOAT:
		return n->f == 0.0;
	case FTS_PY_STR:
		return n->len == 0;
	case FTS_PY_TIMESTAMP:
		return false;
	}
	return false;
}

const char *fts_node_kind_name(const struct fts_node *n)
{
	if (!n)
		return "null";
	switch (n->kind) {
	case FTS_N_SEQ:
		return "list";
	case FTS_N_MAP:
		return "mapping";
	case FTS_N_SCALAR:
		break;
	}
	switch (n->py) {
	case FTS_PY_NONE:
		return "null";
	case FTS_PY_BOOL:
		return "bool";
	case FTS_PY_INT:
		return "int";
	case FTS_PY_FLOAT:
		return "float";
	case FTS_PY_STR:
		return "string";
	case FTS_PY_TIMESTAMP:
		return "timestamp";
	}
	return "scalar";
}

static bool isdig(char c)
{
	return c >= '0' && c <= '9';
}

/* YAML 1.2 core schema number; returns false when the text is not one. */
static bool yaml12_number(const char *s, size_t n, double *out)
{
	if (n == 0)
		return false;
	/* .nan / .inf */
	if (n == 4 && s[0] == '.' && (memcmp(s + 1, "nan", 3) == 0 || memcmp(s + 1, "NaN", 3) == 0 ||
				      memcmp(s + 1, "NAN", 3) == 0)) {
		*out = NAN;
		return true;
	}
	size_t i = 0;
	double sign = 1;
	if (s[0] == '-' || s[0] == '+') {
		sign = s[0] == '-' ? -1 : 1;
		i = 1;
	}
	if (n - i == 4 && s[i] == '.' && (memcmp(s + i + 1, "inf", 3) == 0 ||
					  memcmp(s + i + 1, "Inf", 3) == 0 ||
					  memcmp(s + i + 1, "INF", 3) == 0)) {
		*out = sign * HUGE_VAL;
		return true;
	}
	/* 0o17, 0x1F: no sign in the core schema */
	if (i == 0 && n > 2 && s[0] == '0' && (s[1] == 'o' || s[1] == 'x')) {
		int base = s[1] == 'o' ? 8 : 16;
		double v = 0;
		for (size_t j = 2; j < n; j++) {
			int d;
			char c = s[j];
			if (isdig(c))
				d = c - '0';
			else if (c >= 'a' && c <= 'f')
				d = c - 'a' + 10;
			else if (c >= 'A' && c <= 'F')
				d = c - 'A' + 10;
			else
				return false;
			if (d >= base)
				return false;
			v = v * base + d;
		}
		*out = v;
		return true;
	}
	/* [-+]? ( \. [0-9]+ | [0-9]+ ( \. [0-9]* )? ) ( [eE] [-+]? [0-9]+ )? */
	size_t j = i, digits = 0;
	while (j < n && isdig(s[j])) {
		j++;
		digits++;
	}
	if (j < n && s[j] == '.') {
		j++;
		size_t frac = 0;
		while (j < n && isdig(s[j])) {
			j++;
			frac++;
		}
		if (!digits && !frac)
			return false;
	} else if (!digits) {
		return false;
	}
	if (j < n && (s[j] == 'e' || s[j] == 'E')) {
		j++;
		if (j < n && (s[j] == '-' || s[j] == '+'))
			j++;
		if (j >= n || !isdig(s[j]))
			return false;
		while (j < n && isdig(s[j]))
			j++;
	}
	if (j != n)
		return false;
	char *buf = malloc(n + 1);
	if (!buf)
		fts_oom();
	memcpy(buf, s, n);
	buf[n] = '\0';
	*out = strtod(buf, NULL);
	free(buf);
	return true;
}

bool fts_node_number(const struct fts_node *n, double *out, bool *fts_string)
{
	*fts_string = false;
	if (!n || n->kind != FTS_N_SCALAR)
		return false;
	switch (n->py) {
	case FTS_PY_INT:
		*out = n->i_big ? n->f : (double)n->i;
		return true;
	case FTS_PY_FLOAT:
		*out = n->f;
		return true;
	case FTS_PY_STR:
		if (n->quoted || n->tag)
			return false;
		if (yaml12_number(n->text, n->len, out)) {
			*fts_string = true;
			return true;
		}
		return false;
	default:
		return false;
	}
}

/* Python repr() of a float: shortest round-trip digits, 'r' formatting. */
static void repr_double(double v, char *out, size_t cap)
{
	if (isnan(v)) {
		snprintf(out, cap, "nan");
		return;
	}
	if (isinf(v)) {
		snprintf(out, cap, v < 0 ? "-inf" : "inf");
		return;
	}
	char e[40];
	int prec;
	for (prec = 0; prec < 17; prec++) {
		snprintf(e, sizeof(e), "%.*e", prec, v);
		if (strtod(e, NULL) == v)
			break;
	}
	/* e = [-]d[.ddd]e[+-]XX */
	char digs[32];
	size_t nd = 0;
	const char *p = e;
	bool neg = false;
	if (*p == '-') {
		neg = true;
		p++;
	}
	while (*p && *p != 'e') {
		if (isdig(*p))
			digs[nd++] = *p;
		p++;
	}
	int exp = atoi(p + 1);
	while (nd > 1 && digs[nd - 1] == '0')
		nd--;
	digs[nd] = '\0';
	char body[64];
	if (exp >= -5 + 1 && exp < 16) {
		size_t k = 0;
		if (exp < 0) {
			body[k++] = '0';
			body[k++] = '.';
			for (int z = 0; z < -exp - 1; z++)
				body[k++] = '0';
			for (size_t z = 0; z < nd; z++)
				body[k++] = digs[z];
		} else {
			for (int z = 0; z <= exp; z++)
				body[k++] = (size_t)z < nd ? digs[z] : '0';
			body[k++] = '.';
			if ((size_t)exp + 1 < nd) {
				for (size_t z = (size_t)exp + 1; z < nd; z++)
					body[k++] = digs[z];
			} else {
				body[k++] = '0';
			}
		}
		body[k] = '\0';
	} else {
		if (nd > 1)
			snprintf(body, sizeof(body), "%c.%se%c%02d", digs[0], digs + 1,
				 exp < 0 ? '-' : '+', exp < 0 ? -exp : exp);
		else
			snprintf(body, sizeof(body), "%ce%c%02d", digs[0],
				 exp < 0 ? '-' : '+', exp < 0 ? -exp : exp);
	}
	snprintf(out, cap, "%s%s", neg ? "-" : "", body);
}

/* 'text' with Python-like escapes, shortened past 40 bytes. */
static const char *quote_str(struct fts_arena *a, const char *s, size_t n)
{
	size_t lim = n > 40 ? 40 : n;
	char *buf = fts_arena_alloc(a, lim * 4 + 8);
	size_t k = 0;
	buf[k++] = '\'';
	for (size_t i = 0; i < lim; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '\'' || c == '\\') {
			buf[k++] = '\\';
			buf[k++] = (char)c;
		} else if (c == '\n') {
			buf[k++] = '\\';
			buf[k++] = 'n';
		} else if (c == '\t') {
			buf[k++] = '\\';
			buf[k++] = 't';
		} else if (c < 0x20 || c == 0x7f) {
			k += (size_t)sprintf(buf + k, "\\x%02x", c);
		} else {
			buf[k++] = (char)c;
		}
	}
	if (lim < n) {
		/* do not cut a UTF-8 sequence in half */
		while (k > 1 && ((unsigned char)buf[k - 1] & 0xC0) == 0x80)
			k--;
		if (k > 1 && ((unsigned char)buf[k - 1] & 0xC0) == 0xC0)
			k--;
		memcpy(buf + k, "...", 3);
		k += 3;
	}
	buf[k++] = '\'';
	buf[k] = '\0';
	return buf;
}

const char *fts_node_describe(struct fts_arena *a, const struct fts_node *n)
{
	if (!n)
		return "null";
	if (n->kind == FTS_N_SEQ)
		return "a list";
	if (n->kind == FTS_N_MAP)
		return "a mapping";
	char buf[80];
	switch (n->py) {
	case FTS_PY_NONE:
		return "null";
	case FTS_PY_BOOL:
		return n->b ? "true" : "false";
	case FTS_PY_INT:
		if (n->i_big)
			return fts_arena_printf(a, "%.*s%s", n->len > 40 ? 40 : (int)n->len, n->text,
						 n->len > 40 ? "..." : "");
		return fts_arena_printf(a, "%lld", (long long)n->i);
	case FTS_PY_FLOAT:
		repr_double(n->f, buf, sizeof(buf));
		return fts_arena_strdup(a, buf);
	case FTS_PY_TIMESTAMP:
		return fts_arena_printf(a, "%.*s", n->len > 40 ? 40 : (int)n->len, n->text);
	case FTS_PY_STR:
		return quote_str(a, n->text, n->len);
	}
	return "?";
}

void fts_node_check_keys(struct fts_arena *a, struct fts_diags *d, const struct fts_node *map,
			 const char *const *known, const char *where)
{
	for (size_t i = 0; i < map->npairs; i++) {
		const struct fts_node *k = map->pairs[i].key;
		bool ok = false;
		if (fts_node_is_str(k))
			for (const char *const *p = known; *p; p++)
				if (strcmp(k->text, *p) == 0)
					ok = true;
		if (ok)
			continue;
		const char *kd = fts_node_is_str(k) ? k->text : fts_node_describe(a, k);
		struct fts_diag *dg = fts_diag(d, FTS_E_UNKNOWN_KEY, k->span, kd, where);
		const char *near = fts_node_is_str(k) ? fts_closest(k->text, known) : NULL;
		if (near) {
			fts_diag_help(d, dg, "did you mean '%s'?", near);
		} else {
			/* list the known keys */
			char buf[512];
			size_t off = 0;
			for (const char *const *p = known; *p && off < sizeof(buf) - 40; p++)
				off += (size_t)snprintf(buf + off, sizeof(buf) - off, "%s%s",
							p == known ? "" : ", ", *p);
			fts_diag_help(d, dg, "known keys: %s", buf);
		}
	}
}
