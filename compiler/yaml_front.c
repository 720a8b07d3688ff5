/*
 * yaml_front.c - libyaml event stream to the ast.h document tree, read the
 * way PyYAML 6.0's SafeLoader and FTS's UniqueKeyLoader read it (see
 * yaml_front.h for the contract and the alias representation).
 *
 * The tree is built with an explicit stack of open collections (no
 * recursion), bounded by FTS_YAML_MAX_DEPTH.  Each node's weight (size of
 * its expanded subtree) is computed bottom-up; a running total over the
 * document catches alias bombs at the alias that crosses the limit.
 *
 * Marks: libyaml counts marks in characters from the start of the input
 * (a UTF-8 BOM included, since we force UTF-8).  We convert mark.index to
 * a byte offset with a cursor that walks the UTF-8 text, which is exact
 * for every line-break convention libyaml accepts (CR, CRLF, NEL, LS, PS);
 * line and column are derived later from the byte offset.
 */
#include "yaml_front.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#define TAG_PREFIX "tag:yaml.org,2002:"

enum resolved {
	RES_OK,
	RES_MERGE,                      /* implicit '<<' */
	RES_VALUE,                      /* implicit '=' */
	RES_FAIL,                       /* constructor raised; message in *why */
};

struct anchor {
	const char *name;               /* NULL: free slot */
	struct fts_node *node;
	bool open;                      /* collection still being built */
};

struct frame {
	struct fts_node *node;
	size_t cap;                     /* capacity of items/pairs */
	struct fts_node *key;           /* map: key waiting for its value */
	uint64_t weight;                /* 1 + children so far */
	size_t anchor_slot;             /* SIZE_MAX when not anchored */
};

struct keyslot {
	const struct fts_node *key;     /* NULL: free */
	size_t index;                   /* pair index */
};

struct yfront {
	struct fts_arena *a;
	struct fts_diags *d;
	const struct fts_source *src;
	uint32_t file;
	yaml_parser_t parser;
	/* mark -> byte cursor */
	size_t cur_chars, cur_bytes;
	/* open collections */
	struct frame stack[FTS_YAML_MAX_DEPTH];
	unsigned depth;
	/* anchors: open addressing */
	struct anchor *anchors;
	size_t nanchors, capanchors;
	/* scratch table for duplicate-key checks */
	struct keyslot *keys;
	size_t capkeys;
	uint64_t total;                 /* running expanded size of the document */
	bool failed;                    /* stop after this event */
	struct fts_node *root;
};

/* --- marks and spans ------------------------------------------------------ */

static uint32_t mark_offset(struct yfront *y, size_t index)
{
	const unsigned char *t = (const unsigned char *)y->src->text;
	size_t len = y->src->len;
	if (index < y->cur_chars / 2) {
		y->cur_chars = 0;
		y->cur_bytes = 0;
	}
	while (y->cur_chars > index && y->cur_bytes > 0) {
		y->cur_bytes--;
		while (y->cur_bytes > 0 && (t[y->cur_bytes] & 0xC0) == 0x80)
			y->cur_bytes--;
		y->cur_chars--;
	}
	while (y->cur_chars < index && y->cur_bytes < len) {
		y->cur_bytes++;
		while (y->cur_bytes < len && (t[y->cur_bytes] & 0xC0) == 0x80)
			y->cur_bytes++;
		y->cur_chars++;
	}
	return (uint32_t)y->cur_bytes;
}

static struct fts_span mark_span(struct yfront *y, yaml_mark_t s, yaml_mark_t e)
{
	uint32_t so = mark_offset(y, s.index);
	uint32_t eo = mark_offset(y, e.index);
	if (eo < so)
		eo = so;
	return fts_span_make(y->file, so, eo);
}

static struct fts_span point_span(struct yfront *y, yaml_mark_t m)
{
	uint32_t o = mark_offset(y, m.index);
	uint32_t e = o;
	const unsigned char *t = (const unsigned char *)y->src->text;
	if (e < y->src->len) {
		e++;
		while (e < y->src->len && (t[e] & 0xC0) == 0x80)
			e++;
	}
	return fts_span_make(y->file, o, e);
}

/* Block collections end where the next token starts: drop trailing blanks. */
static uint32_t trim_end(struct yfront *y, uint32_t start, uint32_t end)
{
	const char *t = y->src->text;
	while (end > start && (t[end - 1] == ' ' || t[end - 1] == '\t' ||
			       t[end - 1] == '\n' || t[end - 1] == '\r'))
		end--;
	return end;
}

/* --- libyaml errors --------------------------------------------------------- */

static void report_parser_error(struct yfront *y)
{
	yaml_parser_t *p = &y->parser;
	const char *problem = p->problem ? p->problem : "malformed YAML";
	struct fts_diag *dg;
	if (p->error == YAML_READER_ERROR) {
		size_t off = p->problem_offset;
		if (off > y->src->len)
			off = y->src->len;
		struct fts_span sp = fts_span_make(y->file, off,
						   off < y->src->len ? off + 1 : off);
		if (p->problem_value != -1)
			dg = fts_diag(y->d, FTS_E_YAML_SYNTAX, sp,
				      fts_arena_printf(y->a, "%s: #x%X (the file must be UTF-8 text)",
						       problem, (unsigned)p->problem_value));
		else
			dg = fts_diag(y->d, FTS_E_YAML_SYNTAX, sp,
				      fts_arena_printf(y->a, "%s (the file must be UTF-8 text)", problem));
		(void)dg;
		return;
	}
	if (p->error == YAML_MEMORY_ERROR) {
		fts_oom();
	}
	dg = fts_diag(y->d, FTS_E_YAML_SYNTAX, point_span(y, p->problem_mark), problem);
	if (p->context)
		fts_diag_note(y->d, dg, point_span(y, p->context_mark), "%s", p->context);
}

/* --- anchors ------------------------------------------------------------------ */

static uint64_t hash_bytes(const void *p, size_t n)
{
	const unsigned char *s = p;
	uint64_t h = 1469598103934665603ull;
	for (size_t i = 0; i < n; i++) {
		h ^= s[i];
		h *= 1099511628211ull;
	}
	return h;
}

static size_t anchor_find(const struct yfront *y, const char *name)
{
	if (!y->capanchors)
		return SIZE_MAX;
	size_t mask = y->capanchors - 1;
	for (size_t i = hash_bytes(name, strlen(name)) & mask;; i = (i + 1) & mask) {
		if (!y->anchors[i].name)
			return SIZE_MAX;
		if (strcmp(y->anchors[i].name, name) == 0)
			return i;
	}
}

static size_t anchor_insert(struct yfront *y, const char *name, struct fts_node *n)
{
	if (2 * (y->nanchors + 1) > y->capanchors) {
		size_t ncap = y->capanchors ? 2 * y->capanchors : 16;
		struct anchor *old = y->anchors;
		size_t ocap = y->capanchors;
		y->anchors = fts_xcalloc(ncap, sizeof(*y->anchors));
		y->capanchors = ncap;
		for (size_t i = 0; i < ocap; i++) {
			if (!old[i].name)
				continue;
			size_t j = hash_bytes(old[i].name, strlen(old[i].name)) & (ncap - 1);
			while (y->anchors[j].name)
				j = (j + 1) & (ncap - 1);
			y->anchors[j] = old[i];
		}
		/* frames remember slots: remap them */
		for (unsigned k = 0; k < y->depth; k++) {
			size_t s = y->stack[k].anchor_slot;
			if (s == SIZE_MAX)
				continue;
			y->stack[k].anchor_slot = anchor_find(y, old[s].name);
		}
		free(old);
	}
	size_t mask = y->capanchors - 1;
	size_t i = hash_bytes(name, strlen(name)) & mask;
	while (y->anchors[i].name)
		i = (i + 1) & mask;
	y->anchors[i].name = name;
	y->anchors[i].node = n;
	y->anchors[i].open = n->kind != FTS_N_SCALAR;
	y->nanchors++;
	return i;
}

/* Register the anchor of a new node.  PyYAML refuses a repeated anchor. */
static size_t define_anchor(struct yfront *y, const char *name, struct fts_node *n)
{
	size_t old = anchor_find(y, name);
	if (old != SIZE_MAX) {
		struct fts_diag *dg = fts_diag(y->d, FTS_E_YAML_SYNTAX, n->span,
					       fts_arena_printf(y->a, "found duplicate anchor '%s'", name));
		fts_diag_note(y->d, dg, y->anchors[old].node->span, "first occurrence");
		y->failed = true;
		return SIZE_MAX;
	}
	return anchor_insert(y, name, n);
}

/* --- scalar typing: PyYAML 6.0 resolver.py and constructor.py ---------------- */

static bool isdig(char c)
{
	return c >= '0' && c <= '9';
}

static bool ishex(char c)
{
	return isdig(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

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

static bool is_pyspace(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f' ||
	       (c >= 0x1c && c <= 0x1f);
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
		uint64_t acc = 0, mul = 1;
		double facc = 0, fmul = 1;
		bool exact = true;
		size_t end = m;
		ok = true;
		for (;;) {
			size_t st = end;
			while (st > 0 && s[st - 1] != ':')
				st--;
			bool pn, pb;
			uint64_t pm;
			double pf;
			if (!py_int_base(s + st, end - st, 10, &pn, &pm, &pb, &pf)) {
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
			if (st == 0)
				break;
			end = st - 1;
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
		double acc = 0, base = 1;
		size_t end = m;
		ok = true;
		for (;;) {
			size_t st = end;
			while (st > 0 && s[st - 1] != ':')
				st--;
			double dgt;
			if (!py_float_piece(s + st, end - st, &dgt)) {
				ok = false;
				break;
			}
			acc += dgt * base;
			base *= 60;
			if (st == 0)
				break;
			end = st - 1;
		}
		node->f = sign * acc;
	} else {
		double x;
		ok = py_float_piece(s, m, &x);
		node->f = sign * x;
	}
	if (ok)
		node->py = FTS_PY_FLOAT;
out:
	free(v);
	return ok;
}

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

static enum resolved resolve_implicit(struct fts_node *n, const char **why)
{
	if (n->len == 2 && memcmp(n->text, "<<", 2) == 0) {
		n->py = FTS_PY_STR;
		return RES_MERGE;
	}
	if (n->len == 1 && n->text[0] == '=') {
		n->py = FTS_PY_STR;
		return RES_VALUE;
	}
	if (fts_yaml_resolve_plain(n) != 0) {
		*why = "invalid literal for int()";
		return RES_FAIL;
	}
	return RES_OK;
}

/* An explicit tag on a scalar, as SafeConstructor builds it. */
static enum resolved resolve_tagged(struct yfront *y, struct fts_node *n, const char *tag,
				    const char **why)
{
	(void)y;
	if (strncmp(tag, TAG_PREFIX, sizeof(TAG_PREFIX) - 1) != 0)
		return RES_FAIL;
	const char *t = tag + sizeof(TAG_PREFIX) - 1;
	if (strcmp(t, "str") == 0) {
		n->py = FTS_PY_STR;
		return RES_OK;
	}
	if (strcmp(t, "null") == 0) {
		n->py = FTS_PY_NONE;
		return RES_OK;
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
					return RES_OK;
				}
			}
		}
		*why = "not a boolean";
		return RES_FAIL;
	}
	if (strcmp(t, "int") == 0) {
		n->py = FTS_PY_INT;
		if (construct_int(n))
			return RES_OK;
		n->py = FTS_PY_STR;
		*why = "invalid literal for int()";
		return RES_FAIL;
	}
	if (strcmp(t, "float") == 0) {
		if (construct_float(n))
			return RES_OK;
		n->py = FTS_PY_STR;
		*why = "could not convert string to float";
		return RES_FAIL;
	}
	if (strcmp(t, "timestamp") == 0) {
		if (match_timestamp(n->text, n->len)) {
			n->py = FTS_PY_TIMESTAMP;
			return RES_OK;
		}
		*why = "not a timestamp";
		return RES_FAIL;
	}
	if (strcmp(t, "binary") == 0) {
		/* bytes in Python; kept as the base64 text (consumers see the tag) */
		n->py = FTS_PY_STR;
		return RES_OK;
	}
	if (strcmp(t, "seq") == 0 || strcmp(t, "omap") == 0 || strcmp(t, "pairs") == 0) {
		*why = "expected a sequence node, but found scalar";
		return RES_FAIL;
	}
	if (strcmp(t, "map") == 0 || strcmp(t, "set") == 0) {
		*why = "expected a mapping node, but found scalar";
		return RES_FAIL;
	}
	return RES_FAIL;
}

/* --- tree building ------------------------------------------------------------ */

static uint64_t sat_add(uint64_t a, uint64_t b)
{
	return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

static void tag_error(struct yfront *y, const struct fts_node *n, const char *tag)
{
	fts_diag(y->d, FTS_E_YAML_TAG, n->span, tag);
}

static void construct_error(struct yfront *y, const struct fts_node *n, const char *tag,
			    const char *why)
{
	fts_diag(y->d, FTS_E_YAML_SYNTAX, n->span,
		 fts_arena_printf(y->a, "cannot construct %s from '%.*s': %s",
				  tag ? tag : "a number", n->len > 60 ? 60 : (int)n->len,
				  n->text, why));
}

static bool is_unknown_tag(const char *tag, bool scalar)
{
	if (strncmp(tag, TAG_PREFIX, sizeof(TAG_PREFIX) - 1) != 0)
		return true;
	const char *t = tag + sizeof(TAG_PREFIX) - 1;
	static const char *const known[] = {"str", "int", "float", "bool", "null",
					    "timestamp", "binary", "seq", "map", "set",
					    "omap", "pairs"};
	(void)scalar;
	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (strcmp(t, known[i]) == 0)
			return false;
	return true;
}

/* Add a finished node (or alias wrapper) to the innermost open collection. */
static void attach(struct yfront *y, struct fts_node *n, uint64_t w)
{
	if (y->depth == 0) {
		y->root = n;
		return;
	}
	struct frame *f = &y->stack[y->depth - 1];
	struct fts_node *c = f->node;
	f->weight = sat_add(f->weight, w);
	if (c->kind == FTS_N_SEQ) {
		if (c->nitems == f->cap) {
			size_t ncap = f->cap ? 2 * f->cap : 4;
			c->items = fts_arena_realloc(y->a, c->items, f->cap * sizeof(*c->items),
						     ncap * sizeof(*c->items));
			f->cap = ncap;
		}
		c->items[c->nitems++] = n;
		return;
	}
	if (!f->key) {
		f->key = n;
		return;
	}
	if (c->npairs == f->cap) {
		size_t ncap = f->cap ? 2 * f->cap : 4;
		c->pairs = fts_arena_realloc(y->a, c->pairs, f->cap * sizeof(*c->pairs),
					     ncap * sizeof(*c->pairs));
		f->cap = ncap;
	}
	c->pairs[c->npairs].key = f->key;
	c->pairs[c->npairs].value = n;
	c->npairs++;
	f->key = NULL;
}

static bool in_key_position(const struct yfront *y)
{
	if (y->depth == 0)
		return false;
	const struct frame *f = &y->stack[y->depth - 1];
	return f->node->kind == FTS_N_MAP && !f->key;
}

static struct fts_node *new_node(struct yfront *y, enum fts_node_kind k,
				 const yaml_event_t *ev, const yaml_char_t *tag,
				 const yaml_char_t *anchor)
{
	struct fts_node *n = fts_arena_alloc(y->a, sizeof(*n));
	n->kind = k;
	n->span = mark_span(y, ev->start_mark, ev->end_mark);
	if (tag)
		n->tag = fts_arena_strdup(y->a, (const char *)tag);
	if (anchor)
		n->anchor = fts_arena_strdup(y->a, (const char *)anchor);
	return n;
}

static void on_scalar(struct yfront *y, const yaml_event_t *ev)
{
	const char *tag = (const char *)ev->data.scalar.tag;
	struct fts_node *n = new_node(y, FTS_N_SCALAR, ev, ev->data.scalar.tag,
				      ev->data.scalar.anchor);
	n->text = fts_arena_strndup(y->a, (const char *)ev->data.scalar.value,
				    ev->data.scalar.length);
	n->len = ev->data.scalar.length;
	n->quoted = ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE;
	n->weight = 1;
	bool key = in_key_position(y);
	const char *why = NULL;
	enum resolved r;
	if (!tag) {
		if (n->quoted) {
			n->py = FTS_PY_STR;
			r = RES_OK;
		} else {
			r = resolve_implicit(n, &why);
		}
	} else if (strcmp(tag, "!") == 0) {
		/* PyYAML's parser gives '!' scalars implicit=(True, False): resolved
		 * like plain scalars, even when quoted (`! '1'` is the int 1). */
		r = resolve_implicit(n, &why);
	} else {
		r = resolve_tagged(y, n, tag, &why);
	}
	switch (r) {
	case RES_OK:
		break;
	case RES_MERGE:
		if (key)
			fts_diag(y->d, FTS_E_YAML_MERGE, n->span);
		else
			tag_error(y, n, TAG_PREFIX "merge");
		break;
	case RES_VALUE:
		tag_error(y, n, TAG_PREFIX "value");
		break;
	case RES_FAIL:
		if (why)
			construct_error(y, n, tag, why);
		else
			tag_error(y, n, tag);
		n->py = FTS_PY_STR;
		break;
	}
	if (ev->data.scalar.anchor && define_anchor(y, n->anchor, n) == SIZE_MAX)
		return;
	y->total = sat_add(y->total, 1);
	attach(y, n, 1);
}

static void on_alias(struct yfront *y, const yaml_event_t *ev)
{
	const char *name = (const char *)ev->data.alias.anchor;
	struct fts_span sp = mark_span(y, ev->start_mark, ev->end_mark);
	size_t slot = anchor_find(y, name);
	if (slot == SIZE_MAX) {
		fts_diag(y->d, FTS_E_YAML_ALIAS, sp, name);
		y->failed = true;
		return;
	}
	struct anchor *an = &y->anchors[slot];
	if (an->open) {
		struct fts_diag *dg = fts_diag(y->d, FTS_E_YAML_BOMB, sp,
					       (unsigned long long)FTS_YAML_MAX_WEIGHT);
		fts_diag_note(y->d, dg, an->node->span,
			      "the alias '%s' refers to a node that contains it, so it expands forever",
			      name);
		y->failed = true;
		return;
	}
	struct fts_node *t = an->node;
	struct fts_node *w = fts_arena_alloc(y->a, sizeof(*w));
	*w = *t;
	w->span = sp;
	w->is_alias = true;
	w->anchor = an->name;
	y->total = sat_add(y->total, t->weight);
	if (y->total > FTS_YAML_MAX_WEIGHT) {
		struct fts_diag *dg = fts_diag(y->d, FTS_E_YAML_BOMB, sp,
					       (unsigned long long)FTS_YAML_MAX_WEIGHT);
		fts_diag_note(y->d, dg, t->span, "'%s' alone expands to %llu nodes", name,
			      (unsigned long long)t->weight);
		y->failed = true;
		return;
	}
	attach(y, w, t->weight);
}

static void on_start(struct yfront *y, const yaml_event_t *ev, enum fts_node_kind k)
{
	const yaml_char_t *tag = k == FTS_N_SEQ ? ev->data.sequence_start.tag :
		ev->data.mapping_start.tag;
	const yaml_char_t *anchor = k == FTS_N_SEQ ? ev->data.sequence_start.anchor :
		ev->data.mapping_start.anchor;
	if (y->depth >= FTS_YAML_MAX_DEPTH) {
		fts_diag(y->d, FTS_E_YAML_DEPTH, point_span(y, ev->start_mark),
			 FTS_YAML_MAX_DEPTH);
		y->failed = true;
		return;
	}
	struct fts_node *n = new_node(y, k, ev, tag, anchor);
	if (n->tag && strcmp(n->tag, "!") != 0) {
		/* SafeConstructor: !!set is a mapping (a Python set of its keys);
		 * !!omap and !!pairs are sequences of one-pair mappings (not
		 * checked further).  All keep their tag for consumers. */
		const char *t = n->tag + sizeof(TAG_PREFIX) - 1;
		bool seqtag = !is_unknown_tag(n->tag, false) && (strcmp(t, "seq") == 0 ||
			strcmp(t, "omap") == 0 || strcmp(t, "pairs") == 0);
		bool maptag = !is_unknown_tag(n->tag, false) && (strcmp(t, "map") == 0 ||
			strcmp(t, "set") == 0);
		if (is_unknown_tag(n->tag, false))
			tag_error(y, n, n->tag);
		else if (k == FTS_N_SEQ ? !seqtag : !maptag)
			fts_diag(y->d, FTS_E_YAML_SYNTAX, n->span,
				 fts_arena_printf(y->a, "expected a %s node, but found %s",
						  seqtag ? "sequence" : maptag ? "mapping" : "scalar",
						  k == FTS_N_SEQ ? "sequence" : "mapping"));
	}
	struct frame *f = &y->stack[y->depth];
	memset(f, 0, sizeof(*f));
	f->node = n;
	f->weight = 1;
	f->anchor_slot = SIZE_MAX;
	y->depth++;
	y->total = sat_add(y->total, 1);
	if (anchor) {
		size_t s = define_anchor(y, n->anchor, n);
		/* define_anchor may have rehashed: it remaps every frame's slot */
		y->stack[y->depth - 1].anchor_slot = s;
	}
}

/* --- duplicate keys (UniqueKeyLoader: `key in set()` on constructed keys) --- */

enum keyclass { KC_NONE, KC_NUM, KC_NAN, KC_STR, KC_TIME, KC_UNHASHABLE, KC_OTHER };

static enum keyclass key_class(const struct fts_node *k)
{
	if (k->kind != FTS_N_SCALAR)
		return KC_UNHASHABLE;
	switch (k->py) {
	case FTS_PY_NONE:
		return KC_NONE;
	case FTS_PY_BOOL:
	case FTS_PY_INT:
		return KC_NUM;
	case FTS_PY_FLOAT:
		return isnan(k->f) ? KC_NAN : KC_NUM;
	case FTS_PY_STR:
		return KC_STR;
	case FTS_PY_TIMESTAMP:
		return KC_TIME;
	}
	return KC_OTHER;
}

static double key_num(const struct fts_node *k)
{
	if (k->py == FTS_PY_BOOL)
		return k->b ? 1.0 : 0.0;
	return k->f;
}

static bool num_equal(const struct fts_node *a, const struct fts_node *b)
{
	bool ai = a->py != FTS_PY_FLOAT, bi = b->py != FTS_PY_FLOAT;
	if (ai && bi) {
		int64_t x = a->py == FTS_PY_BOOL ? a->b : a->i;
		int64_t z = b->py == FTS_PY_BOOL ? b->b : b->i;
		bool xb = a->py == FTS_PY_INT && a->i_big, zb = b->py == FTS_PY_INT && b->i_big;
		if (xb || zb)
			return xb && zb && a->f == b->f && (a->f < 0) == (b->f < 0) &&
			       (isinf(a->f) ? a->len == b->len && memcmp(a->text, b->text, a->len) == 0 : true);
		return x == z;
	}
	if (!ai && !bi)
		return a->f == b->f;
	/* int vs float: Python compares exactly */
	const struct fts_node *in = ai ? a : b, *fl = ai ? b : a;
	double f = fl->f;
	if (in->py == FTS_PY_INT && in->i_big)
		return in->f == f;
	if (f != floor(f) || f < -9223372036854775808.0 || f >= 9223372036854775808.0)
		return false;
	int64_t iv = in->py == FTS_PY_BOOL ? in->b : in->i;
	return (int64_t)f == iv;
}

static bool keys_equal(const struct fts_node *a, const struct fts_node *b)
{
	enum keyclass ca = key_class(a), cb = key_class(b);
	if (ca == KC_NAN || cb == KC_NAN)
		return ca == cb && a->text == b->text; /* the same object via an alias */
	if (ca != cb)
		return false;
	switch (ca) {
	case KC_NONE:
		return true;
	case KC_NUM:
		return num_equal(a, b);
	case KC_STR:
	case KC_TIME:
		return a->len == b->len && memcmp(a->text, b->text, a->len) == 0;
	default:
		return false;
	}
}

static uint64_t key_hash(const struct fts_node *k)
{
	switch (key_class(k)) {
	case KC_NONE:
		return 1;
	case KC_NUM: {
		double v = key_num(k);
		if (v == 0)
			v = 0; /* -0.0 */
		uint64_t h = hash_bytes(&v, sizeof(v));
		return h;
	}
	case KC_NAN:
		return hash_bytes(&k->text, sizeof(k->text));
	case KC_STR:
		return hash_bytes(k->text, k->len) ^ 2;
	case KC_TIME:
		return hash_bytes(k->text, k->len) ^ 3;
	default:
		return 0;
	}
}

static void check_keys(struct yfront *y, const struct fts_node *map)
{
	size_t need = 4;
	while (need < 2 * map->npairs)
		need *= 2;
	if (need > y->capkeys) {
		free(y->keys);
		y->keys = fts_xcalloc(need, sizeof(*y->keys));
		y->capkeys = need;
	} else {
		memset(y->keys, 0, need * sizeof(*y->keys));
	}
	size_t mask = need - 1;
	for (size_t i = 0; i < map->npairs; i++) {
		const struct fts_node *k = map->pairs[i].key;
		if (k->kind != FTS_N_SCALAR) {
			fts_diag(y->d, FTS_E_YAML_UNHASHABLE, k->span,
				 k->kind == FTS_N_SEQ ? "list" : "mapping");
			continue;
		}
		size_t j = key_hash(k) & mask;
		bool dup = false;
		while (y->keys[j].key) {
			if (keys_equal(y->keys[j].key, k)) {
				const struct fts_node *first = y->keys[j].key;
				struct fts_diag *dg = fts_diag(y->d, FTS_E_DUP_KEY, k->span,
							       fts_node_describe(y->a, k));
				fts_diag_note(y->d, dg, first->span, "first defined here");
				dup = true;
				break;
			}
			j = (j + 1) & mask;
		}
		if (!dup) {
			y->keys[j].key = k;
			y->keys[j].index = i;
		}
	}
}

static void on_end(struct yfront *y, const yaml_event_t *ev)
{
	struct frame *f = &y->stack[y->depth - 1];
	struct fts_node *n = f->node;
	uint32_t end = mark_offset(y, ev->end_mark.index);
	end = trim_end(y, n->span.start, end);
	if (end > n->span.end)
		n->span.end = end;
	n->weight = f->weight;
	if (f->anchor_slot != SIZE_MAX)
		y->anchors[f->anchor_slot].open = false;
	if (n->kind == FTS_N_MAP)
		check_keys(y, n);
	y->depth--;
	attach(y, n, n->weight);
}

/* --- driver --------------------------------------------------------------------- */

static struct fts_node *parse_file(struct fts_arena *a, struct fts_diags *d, uint32_t file,
				   bool *empty)
{
	struct yfront *y = fts_xcalloc(1, sizeof(*y));
	y->a = a;
	y->d = d;
	y->file = file;
	y->src = fts_source_get(d->src, file);
	*empty = false;
	if (!y->src) {
		free(y);
		return NULL;
	}
	if (!yaml_parser_initialize(&y->parser))
		fts_oom();
	yaml_parser_set_input_string(&y->parser, (const unsigned char *)y->src->text, y->src->len);
	yaml_parser_set_encoding(&y->parser, YAML_UTF8_ENCODING);

	size_t errors0 = d->errors;
	size_t ndocs = 0;
	struct fts_span doc1 = FTS_SPAN_NONE;
	bool done = false;
	while (!done && !y->failed) {
		yaml_event_t ev;
		if (!yaml_parser_parse(&y->parser, &ev)) {
			report_parser_error(y);
			y->failed = true;
			break;
		}
		switch (ev.type) {
		case YAML_STREAM_END_EVENT:
			done = true;
			break;
		case YAML_DOCUMENT_START_EVENT:
			if (ndocs++ > 0) {
				struct fts_diag *dg = fts_diag(d, FTS_E_YAML_MULTIDOC,
							       point_span(y, ev.start_mark));
				fts_diag_note(d, dg, doc1, "the first document starts here");
				y->failed = true;
			} else {
				doc1 = point_span(y, ev.start_mark);
			}
			break;
		case YAML_SCALAR_EVENT:
			on_scalar(y, &ev);
			break;
		case YAML_ALIAS_EVENT:
			on_alias(y, &ev);
			break;
		case YAML_SEQUENCE_START_EVENT:
			on_start(y, &ev, FTS_N_SEQ);
			break;
		case YAML_MAPPING_START_EVENT:
			on_start(y, &ev, FTS_N_MAP);
			break;
		case YAML_SEQUENCE_END_EVENT:
		case YAML_MAPPING_END_EVENT:
			on_end(y, &ev);
			break;
		default:
			break;
		}
		yaml_event_delete(&ev);
	}
	yaml_parser_delete(&y->parser);
	struct fts_node *root = y->root;
	bool failed = y->failed || d->errors != errors0;
	free(y->anchors);
	free(y->keys);
	free(y);
	if (failed)
		return NULL;
	if (!root || (root->kind == FTS_N_SCALAR && root->py == FTS_PY_NONE)) {
		*empty = true;
		return NULL;
	}
	return root;
}

struct fts_node *fts_yaml_parse(struct fts_arena *a, struct fts_diags *d,
				uint32_t file, bool *empty)
{
	bool e;
	return parse_file(a, d, file, empty ? empty : &e);
}

struct fts_node *fts_yaml_parse_text(struct fts_arena *a, struct fts_diags *d,
				     const char *name, const char *text, size_t len)
{
	uint32_t id = fts_source_add(d->src, name, text, len);
	bool e;
	return parse_file(a, d, id, &e);
}
