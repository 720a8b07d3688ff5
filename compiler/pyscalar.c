/*
 * pyscalar.c - the text of a scalar read as PyYAML 6.0 reads it: the YAML
 * 1.1 implicit resolver (resolver.py) and SafeConstructor's scalars
 * (constructor.py), with Python's int(s, base) and float() underneath.
 * See pyscalar.h for the contract.
 *
 * Stage: front end.  The YAML front end (yaml_front.c) types every scalar
 * of a schedule or config here; the DSL front end and writer (dsl.c,
 * dsl_emit.c) ask what PyYAML would make of a text, so that both syntaxes
 * give FTS the same values.  Integers beyond int64 (Python has bignums) are
 * kept saturated with their nearest double.  Python's own float() and
 * int() of the objects FTS holds (fts_node_pyfloat, fts_node_pyint, ast.h:
 * FTS calls them on phase keys and lrs) live here too: one file for
 * Python's reading of numbers, Unicode digits and spaces included.
 */
#include "pyscalar.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"

static bool isdig(char c)
{
	return c >= '0' && c <= '9';
}

static bool ishex(char c)
{
	return isdig(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* ---- Python's float() and int() of a str ---------------------------------- */

/* Python's str.strip() whitespace, ASCII part. */
static bool is_pyspace(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f' ||
	       (c >= 0x1c && c <= 0x1f);
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

/* ---- PyYAML 1.1 ------------------------------------------------------------ */

static bool is_bool_text(const char *s, size_t n, bool *v)
{
	static const char *const yes[] = {"yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON"};
	static const char *const no[] = {"no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF"};
	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (strlen(yes[i]) == n && memcmp(yes[i], s, n) == 0) {
			*v = true;
			return true;
		}
		if (strlen(no[i]) == n && memcmp(no[i], s, n) == 0) {
			*v = false;
			return true;
		}
	}
	return false;
}

static bool is_null_text(const char *s, size_t n)
{
	return n == 0 || (n == 1 && s[0] == '~') ||
	       (n == 4 && (memcmp(s, "null", 4) == 0 || memcmp(s, "Null", 4) == 0 ||
			   memcmp(s, "NULL", 4) == 0));
}

/* [0-9_]* from i */
static size_t skip_digits_us(const char *s, size_t n, size_t i)
{
	while (i < n && (isdig(s[i]) || s[i] == '_'))
		i++;
	return i;
}

/* (:[0-5]?[0-9])+ from i; returns the index after it, or SIZE_MAX. */
static size_t match_sexa_tail(const char *s, size_t n, size_t i)
{
	size_t groups = 0;
	while (i < n && s[i] == ':') {
		if (i + 2 < n && s[i + 1] >= '0' && s[i + 1] <= '5' && isdig(s[i + 2]) &&
		    (i + 3 == n || s[i + 3] == ':' || s[i + 3] == '.'))
			i += 3;
		else if (i + 1 < n && isdig(s[i + 1]) &&
			 (i + 2 == n || s[i + 2] == ':' || s[i + 2] == '.'))
			i += 2;
		else
			return SIZE_MAX;
		groups++;
	}
	return groups ? i : SIZE_MAX;
}

/* ([eE][-+][0-9]+)? then end */
static bool match_exp_end(const char *s, size_t n, size_t i)
{
	if (i == n)
		return true;
	if (s[i] != 'e' && s[i] != 'E')
		return false;
	i++;
	if (i >= n || (s[i] != '-' && s[i] != '+'))
		return false;
	i++;
	if (i >= n || !isdig(s[i]))
		return false;
	while (i < n && isdig(s[i]))
		i++;
	return i == n;
}

static bool match_float(const char *s, size_t n)
{
	size_t i = 0;
	if (n >= 2 && s[0] == '.' && isdig(s[1]))
		return match_exp_end(s, n, skip_digits_us(s, n, 1));
	if (n == 4 && s[0] == '.' && (memcmp(s + 1, "nan", 3) == 0 || memcmp(s + 1, "NaN", 3) == 0 ||
				      memcmp(s + 1, "NAN", 3) == 0))
		return true;
	if (i < n && (s[i] == '-' || s[i] == '+'))
		i++;
	if (n - i == 4 && s[i] == '.' && (memcmp(s + i + 1, "inf", 3) == 0 ||
					  memcmp(s + i + 1, "Inf", 3) == 0 ||
					  memcmp(s + i + 1, "INF", 3) == 0))
		return true;
	if (i >= n || !isdig(s[i]))
		return false;
	size_t j = skip_digits_us(s, n, i + 1);
	if (j < n && s[j] == '.')
		return match_exp_end(s, n, skip_digits_us(s, n, j + 1));
	if (j < n && s[j] == ':') {
		size_t k = match_sexa_tail(s, n, j);
		if (k == SIZE_MAX || k >= n || s[k] != '.')
			return false;
		return skip_digits_us(s, n, k + 1) == n;
	}
	return false;
}

static bool match_int(const char *s, size_t n)
{
	size_t i = 0;
	if (i < n && (s[i] == '-' || s[i] == '+'))
		i++;
	if (i >= n || !isdig(s[i]))
		return false;
	if (s[i] == '0') {
		if (i + 1 == n)
			return true;
		char c = s[i + 1];
		size_t j = i + 2;
		if (c == 'b') {
			if (j == n)
				return false;
			for (; j < n; j++)
				if (s[j] != '0' && s[j] != '1' && s[j] != '_')
					return false;
			return true;
		}
		if (c == 'x') {
			if (j == n)
				return false;
			for (; j < n; j++)
				if (!ishex(s[j]) && s[j] != '_')
					return false;
			return true;
		}
		for (j = i + 1; j < n; j++)
			if (!(s[j] >= '0' && s[j] <= '7') && s[j] != '_')
				return false;
		return true;
	}
	size_t j = skip_digits_us(s, n, i + 1);
	if (j == n)
		return true;
	if (s[j] == ':')
		return match_sexa_tail(s, n, j) == n;
	return false;
}

/* [0-9]{lo,hi} from *i */
static bool digits_range(const char *s, size_t n, size_t *i, int lo, int hi)
{
	int k = 0;
	while (k < hi && *i < n && isdig(s[*i])) {
		(*i)++;
		k++;
	}
	return k >= lo;
}

static bool match_timestamp(const char *s, size_t n)
{
	size_t i = 0;
	if (!digits_range(s, n, &i, 4, 4) || i != 4 || i >= n || s[i++] != '-')
		return false;
	size_t m0 = i;
	if (!digits_range(s, n, &i, 1, 2) || i >= n || s[i++] != '-')
		return false;
	size_t d0 = i;
	if (!digits_range(s, n, &i, 1, 2))
		return false;
	if (i == n)
		return d0 - m0 == 3 && i - d0 == 2;
	if (s[i] == 'T' || s[i] == 't') {
		i++;
	} else if (s[i] == ' ' || s[i] == '\t') {
		while (i < n && (s[i] == ' ' || s[i] == '\t'))
			i++;
	} else {
		return false;
	}
	if (!digits_range(s, n, &i, 1, 2) || i >= n || s[i++] != ':')
		return false;
	if (!digits_range(s, n, &i, 2, 2) || i >= n || s[i++] != ':')
		return false;
	if (!digits_range(s, n, &i, 2, 2))
		return false;
	if (i < n && s[i] == '.') {
		i++;
		while (i < n && isdig(s[i]))
			i++;
	}
	if (i == n)
		return true;
	while (i < n && (s[i] == ' ' || s[i] == '\t'))
		i++;
	if (i < n && s[i] == 'Z')
		return i + 1 == n;
	if (i < n && (s[i] == '-' || s[i] == '+')) {
		i++;
		if (!digits_range(s, n, &i, 1, 2))
			return false;
		if (i < n && s[i] == ':') {
			i++;
			if (!digits_range(s, n, &i, 2, 2))
				return false;
		}
		return i == n;
	}
	return false;
}

/* Digits value of c in base, or -1. */
static int digit_val(char c, int base)
{
	int v;
	if (isdig(c))
		v = c - '0';
	else if (c >= 'a' && c <= 'z')
		v = c - 'a' + 10;
	else if (c >= 'A' && c <= 'Z')
		v = c - 'A' + 10;
	else
		return -1;
	return v < base ? v : -1;
}

/* The exact double nearest to a big magnitude written in base 2, 8, 16 or 10. */
static double big_to_double(const char *dg, size_t n, int base)
{
	char *buf;
	double v;
	if (base == 10) {
		buf = fts_xmalloc(n + 1);
		memcpy(buf, dg, n);
		buf[n] = '\0';
		v = strtod(buf, NULL);
		free(buf);
		return v;
	}
	/* regroup the bits into hex digits, from the right */
	int bits = base == 2 ? 1 : base == 8 ? 3 : 4;
	size_t nhex = (n * (size_t)bits + 3) / 4;
	buf = fts_xmalloc(nhex + 3);
	buf[0] = '0';
	buf[1] = 'x';
	buf[nhex + 2] = '\0';
	unsigned acc = 0;
	int nacc = 0;
	size_t h = nhex;
	for (size_t i = n; i-- > 0;) {
		acc |= (unsigned)digit_val(dg[i], base) << nacc;
		nacc += bits;
		while (nacc >= 4) {
			buf[2 + --h] = "0123456789abcdef"[acc & 15];
			acc >>= 4;
			nacc -= 4;
		}
	}
	while (h > 0) {
		buf[2 + --h] = "0123456789abcdef"[acc & 15];
		acc >>= 4;
	}
	v = strtod(buf, NULL);
	free(buf);
	return v;
}

/*
 * Python int(s, base) for s without underscores: surrounding whitespace,
 * an optional sign, at least one digit.  Returns false when int() raises.
 */
static bool py_int_base(const char *s, size_t n, int base, bool *neg, uint64_t *mag,
			bool *big, double *fmag)
{
	size_t i = 0;
	while (i < n && is_pyspace(s[i]))
		i++;
	while (n > i && is_pyspace(s[n - 1]))
		n--;
	*neg = false;
	if (i < n && (s[i] == '-' || s[i] == '+'))
		*neg = s[i++] == '-';
	if (i == n)
		return false;
	uint64_t m = 0;
	bool over = false;
	for (size_t j = i; j < n; j++) {
		int v = digit_val(s[j], base);
		if (v < 0)
			return false;
		if (!over) {
			if (m > (UINT64_MAX - (uint64_t)v) / (uint64_t)base)
				over = true;
			else
				m = m * (uint64_t)base + (uint64_t)v;
		}
	}
	*big = over;
	*mag = m;
	*fmag = over ? big_to_double(s + i, n - i, base) : (double)m;
	return true;
}

static void set_int(struct fts_node *n, bool neg, uint64_t mag, bool big, double fmag)
{
	n->py = FTS_PY_INT;
	if (!big && (mag <= (uint64_t)INT64_MAX || (neg && mag == (uint64_t)INT64_MAX + 1))) {
		n->i_big = false;
		n->i = neg ? (int64_t)(0 - mag) : (int64_t)mag;
		n->f = (double)n->i;
		return;
	}
	n->i_big = true;
	n->i = neg ? INT64_MIN : INT64_MAX;
	n->f = neg ? -fmag : fmag;
}

/* Copy without '_'.  Caller frees. */
static char *strip_us(const char *s, size_t n, size_t *outn)
{
	char *b = fts_xmalloc(n + 1);
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		if (s[i] != '_')
			b[k++] = s[i];
	b[k] = '\0';
	*outn = k;
	return b;
}

/*
 * The ':'-separated parts of a base-60 number, last part first: PyYAML
 * reverses them and weighs each by the next power of 60.
 */
struct sexa_parts {
	const char *s;
	size_t end;                     /* the parts not yet read are s[0..end) */
	bool done;
};

/* The next part in *part, *len; false when every part has been read. */
static bool sexa_next(struct sexa_parts *it, const char **part, size_t *len)
{
	if (it->done)
		return false;
	size_t st = it->end;
	while (st > 0 && it->s[st - 1] != ':')
		st--;
	*part = it->s + st;
	*len = it->end - st;
	if (st == 0)
		it->done = true;
	else
		it->end = st - 1;
	return true;
}

/* SafeConstructor.construct_yaml_int */
static bool construct_int(struct fts_node *node)
{
	size_t n;
	char *v = strip_us(node->text, node->len, &n);
	bool ok = false, neg = false, big = false, pneg = false;
	uint64_t mag = 0;
	double fmag = 0;
	size_t i = 0;
	if (n == 0)
		goto out;
	if (v[0] == '-')
		neg = true;
	if (v[0] == '-' || v[0] == '+')
		i = 1;
	const char *s = v + i;
	size_t m = n - i;
	if (m == 1 && s[0] == '0') {
		ok = true;
	} else if (m >= 2 && s[0] == '0' && s[1] == 'b') {
		ok = py_int_base(s + 2, m - 2, 2, &pneg, &mag, &big, &fmag);
	} else if (m >= 2 && s[0] == '0' && s[1] == 'x') {
		ok = py_int_base(s + 2, m - 2, 16, &pneg, &mag, &big, &fmag);
	} else if (m >= 1 && s[0] == '0') {
		ok = py_int_base(s, m, 8, &pneg, &mag, &big, &fmag);
	} else if (m >= 1 && memchr(s, ':', m)) {
		/* base 60: parts reversed, value += digit * base; base *= 60 */
		struct sexa_parts it = {s, m, false};
		const char *part;
		size_t plen;
		uint64_t acc = 0, mul = 1;
		double facc = 0, fmul = 1;
		bool exact = true;
		ok = true;
		while (sexa_next(&it, &part, &plen)) {
			bool pn, pb;
			uint64_t pm;
			double pf;
			if (!py_int_base(part, plen, 10, &pn, &pm, &pb, &pf)) {
				ok = false;
				break;
			}
			facc += (pn ? -pf : pf) * fmul;
			if (pm != 0 && (pn || pb || mul == 0 || pm > (UINT64_MAX - acc) / mul))
				exact = false;
			else
				acc += pm * mul;
			fmul *= 60;
			mul = mul > UINT64_MAX / 60 ? 0 : mul * 60;
		}
		if (exact) {
			mag = acc;
			fmag = (double)acc;
		} else {
			/* huge or signed parts (only with !!int): approximate */
			pneg = facc < 0;
			fmag = fabs(facc);
			big = !(fmag < 9.2e18);
			mag = big ? UINT64_MAX : (uint64_t)fmag;
		}
	} else {
		ok = py_int_base(s, m, 10, &pneg, &mag, &big, &fmag);
	}
	if (ok) {
		neg = neg != pneg;
		if (!big && mag == 0)
			neg = false;
		set_int(node, neg, mag, big, fmag);
	}
out:
	free(v);
	return ok;
}

/* Python float() of one ASCII piece (used after '_' removal and lowering). */
static bool py_float_piece(const char *s, size_t n, double *out)
{
	return fts_pyfloat_str(s, n, out);
}

/* SafeConstructor.construct_yaml_float */
static bool construct_float(struct fts_node *node)
{
	size_t n;
	char *v = strip_us(node->text, node->len, &n);
	bool ok = false;
	double sign = 1;
	size_t i = 0;
	for (size_t k = 0; k < n; k++)
		if (v[k] >= 'A' && v[k] <= 'Z')
			v[k] = (char)(v[k] - 'A' + 'a');
	if (n == 0)
		goto out;
	if (v[0] == '-')
		sign = -1;
	if (v[0] == '-' || v[0] == '+')
		i = 1;
	const char *s = v + i;
	size_t m = n - i;
	if (m == 4 && memcmp(s, ".inf", 4) == 0) {
		node->f = sign * HUGE_VAL;
		ok = true;
	} else if (m == 4 && memcmp(s, ".nan", 4) == 0) {
		node->f = NAN;
		ok = true;
	} else if (memchr(s, ':', m)) {
		struct sexa_parts it = {s, m, false};
		const char *part;
		size_t plen;
		double acc = 0, base = 1;
		ok = true;
		while (sexa_next(&it, &part, &plen)) {
			double dgt;
			if (!py_float_piece(part, plen, &dgt)) {
				ok = false;
				break;
			}
			acc += dgt * base;
			base *= 60;
		}
		node->f = sign * acc;
	} else {
		double x = 0;
		ok = py_float_piece(s, m, &x);
		if (ok)
			node->f = sign * x;
	}
	if (ok)
		node->py = FTS_PY_FLOAT;
out:
	free(v);
	return ok;
}

/* Documented in pyscalar.h. */
int fts_yaml_resolve_plain(struct fts_node *n)
{
	const char *s = n->text;
	size_t len = n->len;
	n->py = FTS_PY_STR;
	if (is_bool_text(s, len, &n->b)) {
		n->py = FTS_PY_BOOL;
		return 0;
	}
	if (match_float(s, len))
		return construct_float(n) ? 0 : -1;
	if (match_int(s, len)) {
		n->py = FTS_PY_INT;
		if (construct_int(n))
			return 0;
		n->py = FTS_PY_STR;
		return -1;
	}
	if (is_null_text(s, len)) {
		n->py = FTS_PY_NONE;
		return 0;
	}
	if (match_timestamp(s, len))
		n->py = FTS_PY_TIMESTAMP;
	return 0;
}

/* Documented in pyscalar.h. */
int fts_yaml_resolve_tagged(struct fts_node *n, const char *tag, const char **why)
{
	if (strncmp(tag, FTS_YAML_TAG_PREFIX, sizeof(FTS_YAML_TAG_PREFIX) - 1) != 0)
		return -1;
	const char *t = tag + sizeof(FTS_YAML_TAG_PREFIX) - 1;
	if (strcmp(t, "str") == 0) {
		n->py = FTS_PY_STR;
		return 0;
	}
	if (strcmp(t, "null") == 0) {
		n->py = FTS_PY_NONE;
		return 0;
	}
	if (strcmp(t, "bool") == 0) {
		/* bool_values[value.lower()] */
		static const char *const yes[] = {"yes", "true", "on"};
		static const char *const no[] = {"no", "false", "off"};
		char low[8];
		if (n->len < sizeof(low)) {
			for (size_t i = 0; i <= n->len; i++)
				low[i] = (char)((n->text[i] >= 'A' && n->text[i] <= 'Z') ?
						n->text[i] - 'A' + 'a' : n->text[i]);
			for (int i = 0; i < 3; i++) {
				if (strcmp(low, yes[i]) == 0 || strcmp(low, no[i]) == 0) {
					n->py = FTS_PY_BOOL;
					n->b = strcmp(low, yes[i]) == 0;
					return 0;
				}
			}
		}
		*why = "not a boolean";
		return -1;
	}
	if (strcmp(t, "int") == 0) {
		n->py = FTS_PY_INT;
		if (construct_int(n))
			return 0;
		n->py = FTS_PY_STR;
		*why = "invalid literal for int()";
		return -1;
	}
	if (strcmp(t, "float") == 0) {
		if (construct_float(n))
			return 0;
		n->py = FTS_PY_STR;
		*why = "could not convert string to float";
		return -1;
	}
	if (strcmp(t, "timestamp") == 0) {
		if (match_timestamp(n->text, n->len)) {
			n->py = FTS_PY_TIMESTAMP;
			return 0;
		}
		*why = "not a timestamp";
		return -1;
	}
	if (strcmp(t, "binary") == 0) {
		/* bytes in Python; kept as the base64 text (consumers see the tag) */
		n->py = FTS_PY_STR;
		return 0;
	}
	if (strcmp(t, "seq") == 0 || strcmp(t, "omap") == 0 || strcmp(t, "pairs") == 0) {
		*why = "expected a sequence node, but found scalar";
		return -1;
	}
	if (strcmp(t, "map") == 0 || strcmp(t, "set") == 0) {
		*why = "expected a mapping node, but found scalar";
		return -1;
	}
	return -1;
}
