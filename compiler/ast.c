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

/* Python's str.strip() whitespace, ASCII part. */
static bool is_pyspace(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f' ||
	       (c >= 0x1c && c <= 0x1f);
}

static bool isdig(char c)
{
	return c >= '0' && c <= '9';
}

static bool ieq(const char *s, size_t n, const char *lit)
{
	if (strlen(lit) != n)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if (c != lit[i])
			return false;
	}
	return true;
}

/* digit (_? digit)* at s[*i]; appends the digits to buf. */
static bool digitpart(const char *s, size_t n, size_t *i, char *buf, size_t *k)
{
	if (*i >= n || !isdig(s[*i]))
		return false;
	buf[(*k)++] = s[(*i)++];
	for (;;) {
		if (*i < n && isdig(s[*i])) {
			buf[(*k)++] = s[(*i)++];
		} else if (*i + 1 < n && s[*i] == '_' && isdig(s[*i + 1])) {
			(*i)++;
		} else {
			return true;
		}
	}
}

/*
 * Python's int() and float() of a str first turn every Unicode decimal
 * digit (category Nd) into its ASCII digit and every Unicode white space
 * into ' ' (_PyUnicode_TransformDecimalAndSpaceToASCII): int('\uff11') is
 * 1.  The zeros of Unicode 15's Nd blocks, each followed by nine digits.
 */
static const uint32_t nd_zeros[] = {
	0x0660, 0x06F0, 0x07C0, 0x0966, 0x09E6, 0x0A66, 0x0AE6, 0x0B66, 0x0BE6, 0x0C66, 0x0CE6,
	0x0D66, 0x0DE6, 0x0E50, 0x0ED0, 0x0F20, 0x1040, 0x1090, 0x17E0, 0x1810, 0x1946, 0x19D0,
	0x1A80, 0x1A90, 0x1B50, 0x1BB0, 0x1C40, 0x1C50, 0xA620, 0xA8D0, 0xA900, 0xA9D0, 0xA9F0,
	0xAA50, 0xABF0, 0xFF10, 0x104A0, 0x10D30, 0x11066, 0x110F0, 0x11136, 0x111D0, 0x112F0,
	0x11450, 0x114D0, 0x11650, 0x116C0, 0x11730, 0x118E0, 0x11950, 0x11C50, 0x11D50, 0x11DA0,
	0x11F50, 0x16A60, 0x16AC0, 0x16B50, 0x1D7CE, 0x1D7D8, 0x1D7E2, 0x1D7EC, 0x1D7F6, 0x1E140,
	0x1E2F0, 0x1E4F0, 0x1E950, 0x1FBF0,
};

static int uni_decimal(uint32_t c)
{
	for (size_t k = 0; k < sizeof(nd_zeros) / sizeof(nd_zeros[0]); k++)
		if (c >= nd_zeros[k] && c < nd_zeros[k] + 10)
			return (int)(c - nd_zeros[k]);
	return -1;
}

static bool uni_space(uint32_t c)
{
	return c == 0x85 || c == 0xA0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 ||
	       c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

/* One UTF-8 code point at s[*i] (advancing *i); 0xFFFFFFFF when malformed. */
static uint32_t utf8_next(const char *s, size_t n, size_t *i)
{
	const unsigned char *u = (const unsigned char *)s;
	unsigned char c = u[(*i)++];
	int extra = c >= 0xF0 ? 3 : c >= 0xE0 ? 2 : c >= 0xC0 ? 1 : 0;
	if (c >= 0x80 && extra == 0)
		return 0xFFFFFFFFu;
	uint32_t cp = extra == 3 ? c & 0x07u : extra == 2 ? c & 0x0Fu : extra == 1 ? c & 0x1Fu : c;
	for (int k = 0; k < extra; k++) {
		if (*i >= n || (u[*i] & 0xC0) != 0x80)
			return 0xFFFFFFFFu;
		cp = (cp << 6) | (u[(*i)++] & 0x3Fu);
	}
	return cp;
}

/* s as Python sees it for int()/float(): a malloc'd ASCII copy (non-ASCII that is
 * neither a digit nor a space becomes '?', which no number accepts). */
static char *py_numeric_ascii(const char *s, size_t len, size_t *outlen)
{
	char *b = malloc(len + 1);
	if (!b)
		fts_oom();
	size_t i = 0, k = 0;
	while (i < len) {
		if ((unsigned char)s[i] < 0x80) {
			b[k++] = s[i++];
			continue;
		}
		uint32_t c = utf8_next(s, len, &i);
		int d = uni_decimal(c);
		b[k++] = d >= 0 ? (char)('0' + d) : uni_space(c) ? ' ' : '?';
	}
	b[k] = '\0';
	*outlen = k;
	return b;
}

static bool pyfloat_ascii(const char *s, size_t len, double *out);

bool fts_pyfloat_str(const char *s, size_t len, double *out)
{
	size_t n;
	char *a = py_numeric_ascii(s, len, &n);
	bool ok = pyfloat_ascii(a, n, out);
	free(a);
	return ok;
}

static bool pyfloat_ascii(const char *s, size_t len, double *out)
{
	size_t i = 0, n = len;
	while (i < n && is_pyspace(s[i]))
		i++;
	while (n > i && is_pyspace(s[n - 1]))
		n--;
	if (i == n)
		return false;
	double sign = 1;
	size_t body = i;
	if (s[body] == '-' || s[body] == '+') {
		if (s[body] == '-')
			sign = -1;
		body++;
	}
	if (ieq(s + body, n - body, "inf") || ieq(s + body, n - body, "infinity")) {
		*out = sign * HUGE_VAL;
		return true;
	}
	if (ieq(s + body, n - body, "nan")) {
		*out = sign * NAN;
		return true;
	}
	char *buf = malloc(n - i + 2);
	if (!buf)
		fts_oom();
	size_t k = 0;
	if (sign < 0)
		buf[k++] = '-';
	size_t j = body;
	bool intpart = digitpart(s, n, &j, buf, &k);
	bool ok = true;
	if (j < n && s[j] == '.') {
		buf[k++] = s[j++];
		bool frac = digitpart(s, n, &j, buf, &k);
		ok = intpart || frac;
	} else {
		ok = intpart;
	}
	if (ok && j < n && (s[j] == 'e' || s[j] == 'E')) {
		buf[k++] = s[j++];
		if (j < n && (s[j] == '-' || s[j] == '+'))
			buf[k++] = s[j++];
		ok = digitpart(s, n, &j, buf, &k);
	}
	if (ok && j != n)
		ok = false;
	if (ok) {
		buf[k] = '\0';
		*out = strtod(buf, NULL);
	}
	free(buf);
	return ok;
}

bool fts_node_pyfloat(const struct fts_node *n, double *out)
{
	if (!n || n->kind != FTS_N_SCALAR)
		return false;
	switch (n->py) {
	case FTS_PY_NONE:
	case FTS_PY_TIMESTAMP:
		return false;
	case FTS_PY_BOOL:
		*out = n->b ? 1.0 : 0.0;
		return true;
	case FTS_PY_INT:
		if (n->i_big && isinf(n->f))
			return false; /* OverflowError: int too large to convert to float */
		*out = n->i_big ? n->f : (double)n->i;
		return true;
	case FTS_PY_FLOAT:
		*out = n->f;
		return true;
	case FTS_PY_STR:
		return fts_pyfloat_str(n->text, n->len, out);
	}
	return false;
}

/* Python int() of a str: whitespace, sign, digit (_? digit)*, base 10. */
static int pyint_ascii(const char *s, size_t len, int64_t *out, bool *big);

static int pyint_str(const char *s, size_t len, int64_t *out, bool *big)
{
	size_t n;
	char *a = py_numeric_ascii(s, len, &n);
	int rc = pyint_ascii(a, n, out, big);
	free(a);
	return rc;
}

static int pyint_ascii(const char *s, size_t len, int64_t *out, bool *big)
{
	size_t i = 0, n = len;
	while (i < n && is_pyspace(s[i]))
		i++;
	while (n > i && is_pyspace(s[n - 1]))
		n--;
	bool neg = false;
	if (i < n && (s[i] == '-' || s[i] == '+'))
		neg = s[i++] == '-';
	if (i >= n || !isdig(s[i]))
		return -1;
	uint64_t m = 0;
	bool over = false;
	for (; i < n; i++) {
		if (s[i] == '_') {
			if (i + 1 >= n || !isdig(s[i + 1]))
				return -1;
			continue;
		}
		if (!isdig(s[i]))
			return -1;
		unsigned d = (unsigned)(s[i] - '0');
		if (m > (UINT64_MAX - d) / 10)
			over = true;
		else
			m = m * 10 + d;
	}
	if (over || m > (uint64_t)INT64_MAX + (neg ? 1u : 0u)) {
		*big = true;
		*out = neg ? INT64_MIN : INT64_MAX;
		return 0;
	}
	*out = neg ? (int64_t)(0 - m) : (int64_t)m;
	return 0;
}

int fts_node_pyint(const struct fts_node *n, int64_t *out, bool *big)
{
	*big = false;
	if (!n || n->kind != FTS_N_SCALAR)
		return -1;
	switch (n->py) {
	case FTS_PY_NONE:
	case FTS_PY_TIMESTAMP:
		return -1;
	case FTS_PY_BOOL:
		*out = n->b;
		return 0;
	case FTS_PY_INT:
		*out = n->i;
		*big = n->i_big;
		return 0;
	case FTS_PY_FLOAT: {
		double f = n->f;
		if (isnan(f) || isinf(f))
			return -1;
		f = trunc(f);
		if (f >= 9223372036854775808.0) {
			*out = INT64_MAX;
			*big = true;
		} else if (f < -9223372036854775808.0) {
			*out = INT64_MIN;
			*big = true;
		} else {
			*out = (int64_t)f;
		}
		return 0;
	}
	case FTS_PY_STR:
		return pyint_str(n->text, n->len, out, big);
	}
	return -1;
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
