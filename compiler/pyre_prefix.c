/*
 * pyre_prefix.c - the prefix analyser: what a Python pattern's matches
 * must start with (the branches of the prefix program in pyre.h), the
 * literal a `.*LITERAL` pattern looks for, and a literal every match
 * contains.
 *
 * Stage: run by fts_pyre_compile() (pyre.c) on a pattern that compiled;
 * the name index (resolve.c) walks the branches with binary searches over
 * its sorted names so that the regex only runs on candidates.  The
 * analysis reads the Python source itself, not the PCRE2 translation, and
 * only has to be a superset filter: whatever it does not understand (an
 * unbounded or possessive repeat, a lookaround, a flag that changes the
 * alphabet, non-ASCII in a class) ends a branch with "run the regex", or
 * gives no prefix at all.  A bounded repeat (`?`, `{m,n}`) becomes one
 * alternative per count.
 */
#include "pyre_internal.h"

#include <stdlib.h>
#include <string.h>

#include "arena.h"

#define MAX_BRANCHES 64
#define MAX_ELEMS 256

struct pb {
	FTS_VEC(struct fts_pyre_elem) e;
	bool stopped;
	enum fts_pyre_tail tail;
};

typedef FTS_VEC(struct pb) pbvec;

struct px {
	const char *p;
	size_t len, i;
	bool dotall;
	bool bad;		/* whole pattern unusable */
};

static void pbvec_free(pbvec *v)
{
	for (size_t k = 0; k < v->n; k++)
		FTS_VEC_FREE(v->v[k].e);
	FTS_VEC_FREE(*v);
}

static void setbit(struct fts_pyre_elem *e, int c) { e->bits[c >> 3] |= (uint8_t)(1u << (c & 7)); }

static void setrange(struct fts_pyre_elem *e, int lo, int hi)
{
	for (int c = lo; c <= hi; c++)
		setbit(e, c);
}

/* ASCII part of a category; non-ASCII chars may match too (multi). */
static void setcat(struct fts_pyre_elem *e, int c)
{
	struct fts_pyre_elem x;
	int k;

	memset(&x, 0, sizeof(x));
	switch (c | 0x20) {
	case 'd':
		setrange(&x, '0', '9');
		break;
	case 'w':
		setrange(&x, '0', '9');
		setrange(&x, 'A', 'Z');
		setrange(&x, 'a', 'z');
		setbit(&x, '_');
		break;
	case 's':
		setrange(&x, 9, 13);
		setrange(&x, 0x1c, 0x20);
		break;
	}
	if (c & 0x20) {
		for (k = 0; k < 16; k++)
			e->bits[k] |= x.bits[k];
	} else {
		for (k = 0; k < 16; k++)
			e->bits[k] |= (uint8_t)~x.bits[k];
	}
	e->multi = true;
}

/* A `(?#...)` comment at x->i: skip it and return true. */
static bool px_skip_comment(struct px *x)
{
	if (x->p[x->i] != '(' || x->i + 2 >= x->len || x->p[x->i + 1] != '?' || x->p[x->i + 2] != '#')
		return false;
	while (x->i < x->len && x->p[x->i] != ')')
		x->i++;
	x->i++;
	return true;
}

/* Skip to the end of the current sequence (a top-level `|` or `)` or end). */
static void px_skip_seq(struct px *x)
{
	int depth = 0;

	while (x->i < x->len) {
		char c = x->p[x->i];

		if (px_skip_comment(x))
			continue;
		if (c == '(') {
			depth++;
		} else if (c == ')' || c == '|') {
			if (!depth)
				return;
			if (c == ')')
				depth--;
		}
		x->i = pyre_next_element(x->p, x->len, x->i);
	}
	if (x->i > x->len)
		x->i = x->len;
}

/* A simple class at x->i: fills e; false when unusable. */
static bool px_class(struct px *x, struct fts_pyre_elem *e)
{
	const unsigned char *u = (const unsigned char *)x->p;
	bool neg = false, first = true;
	int k;

	memset(e, 0, sizeof(*e));
	x->i++;
	if (x->i < x->len && u[x->i] == '^') {
		neg = true;
		x->i++;
	}
	for (;;) {
		int lo, hi;

		if (x->i >= x->len)
			return false;
		if (u[x->i] == ']' && !first) {
			x->i++;
			break;
		}
		first = false;
		if (u[x->i] == '\\') {
			int c = x->i + 1 < x->len ? u[x->i + 1] : 0;

			if (strchr("dDwWsS", c) && c) {
				setcat(e, c);
				x->i += 2;
				continue;
			}
			if (c == 'n')
				lo = '\n';
			else if (c == 't')
				lo = '\t';
			else if (c >= 0x20 && c < 0x7f && !is_alnum(c))
				lo = c;
			else
				return false;
			x->i += 2;
		} else if (u[x->i] >= 0x80) {
			return false;
		} else {
			lo = u[x->i++];
		}
		hi = lo;
		if (x->i + 1 < x->len && u[x->i] == '-' && u[x->i + 1] != ']') {
			int c = u[x->i + 1];

			if (c == '\\' || c >= 0x80)
				return false;
			hi = c;
			x->i += 2;
		}
		setrange(e, lo, hi);
	}
	if (neg) {
		for (k = 0; k < 16; k++)
			e->bits[k] = (uint8_t)~e->bits[k];
		e->multi = true;
	}
	if (e->multi)
		memset(e->bits + 16, 0xff, 16);
	return true;
}

static pbvec px_alts(struct px *x, bool top);

/* Concatenate atom alternatives onto cur; false if over the cap. */
static bool px_product(pbvec *cur, const pbvec *atom)
{
	pbvec out = { 0 };
	size_t a, b, live = 0;

	for (a = 0; a < cur->n; a++)
		live += !cur->v[a].stopped;
	if (cur->n - live + live * atom->n > MAX_BRANCHES)
		return false;
	for (a = 0; a < cur->n; a++) {
		struct pb *c = &cur->v[a];

		if (c->stopped) {
			FTS_VEC_PUSH(out, *c);
			c->e.v = NULL;
			continue;
		}
		for (b = 0; b < atom->n; b++) {
			const struct pb *t = &atom->v[b];
			struct pb nb = { { 0 }, t->stopped, FTS_PYRE_TAIL_REGEX };
			size_t k;

			if (c->e.n + t->e.n > MAX_ELEMS) {
				nb.stopped = true;
				for (k = 0; k < c->e.n; k++)
					FTS_VEC_PUSH(nb.e, c->e.v[k]);
			} else {
				for (k = 0; k < c->e.n; k++)
					FTS_VEC_PUSH(nb.e, c->e.v[k]);
				for (k = 0; k < t->e.n; k++)
					FTS_VEC_PUSH(nb.e, t->e.v[k]);
			}
			FTS_VEC_PUSH(out, nb);
		}
	}
	pbvec_free(cur);
	*cur = out;
	return true;
}

static void px_stop_all(pbvec *cur)
{
	for (size_t k = 0; k < cur->n; k++)
		cur->v[k].stopped = true;
}

static bool px_any_live(const pbvec *cur)
{
	for (size_t k = 0; k < cur->n; k++)
		if (!cur->v[k].stopped)
			return true;
	return false;
}

static bool px_all_empty(const pbvec *cur)
{
	for (size_t k = 0; k < cur->n; k++)
		if (cur->v[k].e.n)
			return false;
	return true;
}

static void single(pbvec *atom, const struct fts_pyre_elem *e, size_t n)
{
	struct pb b = { { 0 }, false, FTS_PYRE_TAIL_REGEX };

	for (size_t k = 0; k < n; k++)
		FTS_VEC_PUSH(b.e, e[k]);
	FTS_VEC_PUSH(*atom, b);
}

/*
 * Parse one atom at x->i into alternatives.  Returns 1 on success, 0 when
 * the atom is unusable (x->i unspecified), 2 for a zero-width no-op.
 */
static int px_atom(struct px *x, pbvec *atom, const pbvec *cur, bool top)
{
	const unsigned char *u = (const unsigned char *)x->p;
	struct fts_pyre_elem e[4];
	int c = u[x->i];

	memset(e, 0, sizeof(e));
	switch (c) {
	case '(':
		if (x->i + 2 < x->len && u[x->i + 1] == '?') {
			int c2 = u[x->i + 2];

			if (c2 == '#') {
				px_skip_seq(x);	/* not used: comments are skipped below */
				return 0;
			}
			if (c2 == 'P' && x->i + 3 < x->len && u[x->i + 3] == '<') {
				while (x->i < x->len && u[x->i] != '>')
					x->i++;
				x->i++;
			} else if (c2 == ':') {
				x->i += 3;
			} else if (top && px_all_empty(cur) && pyre_is_flag(c2)) {
				/* leading global flags */
				size_t j = x->i + 2;

				while (j < x->len && pyre_is_flag(u[j]))
					j++;
				if (j >= x->len || u[j] != ')')
					return 0;
				for (size_t k = x->i + 2; k < j; k++) {
					if (u[k] == 'i' || u[k] == 'x' || u[k] == 'a')
						x->bad = true;
					if (u[k] == 's')
						x->dotall = true;
				}
				x->i = j + 1;
				return 2;
			} else {
				return 0;
			}
		} else {
			x->i++;
		}
		*atom = px_alts(x, false);
		if (x->bad || x->i >= x->len || u[x->i] != ')')
			return 0;
		x->i++;
		return 1;
	case '[':
		if (!px_class(x, &e[0]))
			return 0;
		single(atom, e, 1);
		return 1;
	case '.':
		memset(e[0].bits, 0xff, sizeof(e[0].bits));
		if (!x->dotall)
			e[0].bits['\n' >> 3] &= (uint8_t)~(1u << ('\n' & 7));
		e[0].multi = true;
		x->i++;
		single(atom, e, 1);
		return 1;
	case '^':
		if (!px_all_empty(cur))
			return 0;
		x->i++;
		return 2;
	case '\\': {
		int d = x->i + 1 < x->len ? u[x->i + 1] : 0;

		x->i += 2;
		if (d == 'A' && px_all_empty(cur))
			return 2;
		if (d && strchr("dDwWsS", d)) {
			setcat(&e[0], d);
			memset(e[0].bits + 16, 0xff, 16);
		} else if (d == 'n' || d == 't' || d == 'r' || d == 'f') {
			setbit(&e[0], d == 'n' ? '\n' : d == 't' ? '\t' : d == 'r' ? '\r' : '\f');
		} else if (d >= 0x20 && d < 0x7f && !is_alnum(d)) {
			setbit(&e[0], d);
		} else {
			return 0;
		}
		single(atom, e, 1);
		return 1;
	}
	default:
		if (is_meta(c))
			return 0;
		if (c < 0x80) {
			setbit(&e[0], c);
			x->i++;
			single(atom, e, 1);
		} else {
			uint32_t cp;
			size_t k = pyre_utf8_decode(u + x->i, x->len - x->i, &cp);

			if (!k)
				return 0;
			for (size_t j = 0; j < k; j++)
				setbit(&e[j], u[x->i + j]);
			x->i += k;
			single(atom, e, k);
		}
		return 1;
	}
}

/* A `.*` or `.*?` that ends the pattern: the tail of the live branches. */
static bool px_dotstar_tail(struct px *x, pbvec *cur)
{
	size_t rest = x->len - x->i;
	enum fts_pyre_tail tail;

	if (rest == 2 && !memcmp(x->p + x->i, ".*", 2))
		tail = FTS_PYRE_TAIL_DOTSTAR;
	else if (rest == 3 && !memcmp(x->p + x->i, ".*?", 3))
		tail = FTS_PYRE_TAIL_DOTSTAR_LAZY;
	else
		return false;
	for (size_t k = 0; k < cur->n; k++)
		if (!cur->v[k].stopped)
			cur->v[k].tail = tail;
	x->i = x->len;
	return true;
}

#define REP_INF ((size_t)-1)

static bool px_digits(struct px *x, size_t *v)
{
	const unsigned char *u = (const unsigned char *)x->p;
	size_t i = x->i;

	*v = 0;
	while (i < x->len && u[i] >= '0' && u[i] <= '9') {
		if (*v < 100000)
			*v = *v * 10 + (size_t)(u[i] - '0');
		i++;
	}
	if (i == x->i)
		return false;
	x->i = i;
	return true;
}

/*
 * The quantifier at x->i (`*`, `?`, `{m}`, `{m,n}`, `{m,}`, `{,n}`, each
 * maybe lazy): [lo, hi] copies, hi REP_INF when unbounded.  False, with
 * x->i unspecified, for a possessive one (an atomic match may fail where
 * the copies match) and for a `{` that Python reads as a literal.
 */
static bool px_repeat(struct px *x, size_t *lo, size_t *hi)
{
	const unsigned char *u = (const unsigned char *)x->p;

	if (u[x->i] == '*' || u[x->i] == '?') {
		*lo = 0;
		*hi = u[x->i] == '*' ? REP_INF : 1;
		x->i++;
	} else {
		bool m, n = false;

		x->i++;                 /* '{' */
		m = px_digits(x, lo);
		if (!m)
			*lo = 0;
		if (x->i < x->len && u[x->i] == ',') {
			x->i++;
			n = px_digits(x, hi);
			if (!n)
				*hi = REP_INF;
		} else {
			if (!m)
				return false;
			*hi = *lo;
		}
		if (x->i >= x->len || u[x->i] != '}' || (!m && !n && *hi != REP_INF) || *lo > *hi)
			return false;
		x->i++;
	}
	if (x->i < x->len && u[x->i] == '+')
		return false;           /* possessive */
	if (x->i < x->len && u[x->i] == '?')
		x->i++;                 /* lazy: the same strings */
	return true;
}

static pbvec pbvec_copy(const pbvec *v)
{
	pbvec out = { 0 };

	for (size_t k = 0; k < v->n; k++) {
		struct pb b = { { 0 }, v->v[k].stopped, v->v[k].tail };

		for (size_t j = 0; j < v->v[k].e.n; j++)
			FTS_VEC_PUSH(b.e, v->v[k].e.v[j]);
		FTS_VEC_PUSH(out, b);
	}
	return out;
}

/*
 * cur followed by lo to hi copies of atom: one alternative per count (a
 * count past lo + 8, or past the caps, is left to the regex: hi is then
 * REP_INF and the caller stops the branches after the lo copies).  False
 * when even that is over the caps.
 */
static bool px_expand(pbvec *cur, const pbvec *atom, size_t lo, size_t *hip)
{
	size_t hi = *hip;
	pbvec pow = { 0 }, acc = { 0 };
	struct pb empty = { { 0 }, false, FTS_PYRE_TAIL_REGEX };
	bool ok = lo <= MAX_ELEMS;

	if (hi != REP_INF && hi > lo + 8)
		hi = *hip = REP_INF;
	FTS_VEC_PUSH(pow, empty);
	for (size_t k = 0; ok; k++) {
		if (k >= lo && hi != REP_INF) {
			pbvec c = pbvec_copy(&pow);

			ok = acc.n + c.n <= MAX_BRANCHES;
			for (size_t j = 0; j < c.n && ok; j++) {
				FTS_VEC_PUSH(acc, c.v[j]);
				c.v[j].e.v = NULL;
			}
			pbvec_free(&c);
		}
		if (k == (hi == REP_INF ? lo : hi) || !ok)
			break;
		ok = px_product(&pow, atom);
	}
	if (ok && hi == REP_INF) {
		acc = pow;
		pow = (pbvec){ 0 };
	}
	ok = ok && px_product(cur, &acc);
	pbvec_free(&pow);
	pbvec_free(&acc);
	return ok;
}

/* One sequence (up to `|`, `)` or the end), extending cur.  Only the
 * top level (top) may end with a `.*` tail. */
static void px_seq(struct px *x, pbvec *cur, bool top)
{
	const unsigned char *u = (const unsigned char *)x->p;

	while (x->i < x->len && u[x->i] != '|' && u[x->i] != ')') {
		pbvec atom = { 0 };
		size_t save = x->i;
		int r;

		if (!px_any_live(cur) || x->bad) {
			px_skip_seq(x);
			return;
		}
		if (px_skip_comment(x))
			continue;
		if (top && px_dotstar_tail(x, cur))
			return;
		r = px_atom(x, &atom, cur, top);
		if (r == 2) {
			pbvec_free(&atom);
			continue;
		}
		if (r == 0) {
			pbvec_free(&atom);
			px_stop_all(cur);
			x->i = save;
			px_skip_seq(x);
			return;
		}
		/* a quantifier after comments still applies to the atom
		 * (`M(?#x)?` is `M?` in Python) */
		while (x->i < x->len && px_skip_comment(x))
			;
		if (x->i < x->len && (u[x->i] == '*' || u[x->i] == '?' || u[x->i] == '{')) {
			size_t lo, hi;
			bool ok = px_repeat(x, &lo, &hi) && px_expand(cur, &atom, lo, &hi);

			pbvec_free(&atom);
			if (!ok || hi == REP_INF) {
				/* beyond the copies it must have: unknown */
				px_stop_all(cur);
				px_skip_seq(x);
				return;
			}
			continue;
		}
		if (!px_product(cur, &atom)) {
			pbvec_free(&atom);
			px_stop_all(cur);
			px_skip_seq(x);
			return;
		}
		pbvec_free(&atom);
		if (x->i < x->len && u[x->i] == '+') {
			px_stop_all(cur);
			px_skip_seq(x);
			return;
		}
	}
}

/* Alternatives up to `)` or the end. */
static pbvec px_alts(struct px *x, bool top)
{
	pbvec all = { 0 };

	for (;;) {
		pbvec cur = { 0 };
		struct pb empty = { { 0 }, false, FTS_PYRE_TAIL_REGEX };

		FTS_VEC_PUSH(cur, empty);
		px_seq(x, &cur, top);
		if (all.n + cur.n > MAX_BRANCHES)
			x->bad = true;
		for (size_t k = 0; k < cur.n && !x->bad; k++) {
			FTS_VEC_PUSH(all, cur.v[k]);
			cur.v[k].e.v = NULL;
		}
		pbvec_free(&cur);
		if (x->bad || x->i >= x->len || x->p[x->i] != '|')
			break;
		x->i++;
	}
	return all;
}

static void build_branches(struct pyre_prefix *pf, const char *src, size_t len)
{
	struct px x = { src, len, 0, false, false };
	pbvec all = px_alts(&x, true);
	size_t k, ne = 0;
	struct fts_pyre_elem *pool;

	if (x.bad || x.i != x.len) {
		pbvec_free(&all);
		return;
	}
	for (k = 0; k < all.n; k++) {
		if (!all.v[k].stopped && all.v[k].tail == FTS_PYRE_TAIL_REGEX)
			all.v[k].tail = FTS_PYRE_TAIL_EMPTY;
		if (all.v[k].stopped)
			all.v[k].tail = FTS_PYRE_TAIL_REGEX;
		ne += all.v[k].e.n;
	}
	pf->br = fts_xcalloc(all.n ? all.n : 1, sizeof(*pf->br));
	pool = pf->pool = fts_xcalloc(ne ? ne : 1, sizeof(*pool));
	pf->nbr = all.n;
	pf->dotall = x.dotall;
	for (k = 0; k < all.n; k++) {
		if (all.v[k].e.n)
			memcpy(pool, all.v[k].e.v, all.v[k].e.n * sizeof(*pool));
		pf->br[k].elem = pool;
		pf->br[k].n = (uint32_t)all.v[k].e.n;
		pf->br[k].tail = all.v[k].tail;
		pool += all.v[k].e.n;
	}
	pbvec_free(&all);
}

/*
 * `.*` (or `.*?`) followed by literal text, no top-level alternation: every
 * match contains that text.
 */
static void build_required(struct pyre_prefix *pf, const char *p, size_t len)
{
	size_t i = 2, n = 0;
	struct px x = { p, len, 0, false, false };
	char buf[256];

	if (len < 4 || p[0] != '.' || p[1] != '*')
		return;
	px_skip_seq(&x);
	if (x.i < len)
		return;		/* a top-level `|` */
	if (i < len && p[i] == '?')
		i++;
	while (i < len && n < sizeof(buf)) {
		unsigned char c = (unsigned char)p[i];

		if (c == '\\' && i + 1 < len && (unsigned char)p[i + 1] < 0x80 && !is_alnum(p[i + 1]) &&
		    p[i + 1] >= 0x20) {
			buf[n++] = p[i + 1];
			i += 2;
		} else if (!is_meta(c) && c >= 0x20 && c < 0x80) {
			buf[n++] = (char)c;
			i++;
		} else {
			break;
		}
	}
	if (n && i < len && (p[i] == '?' || p[i] == '*' || p[i] == '{'))
		n--;
	if (n < 2)
		return;
	pf->req = fts_xmalloc(n + 1);
	memcpy(pf->req, buf, n);
	pf->req[n] = '\0';
	pf->reqlen = n;
}

/* Documented in pyre_internal.h. */
void pyre_prefix_build(struct pyre_prefix *pf, const char *src, size_t len)
{
	build_branches(pf, src, len);
	if (len > 2 && src[0] == '.' && src[1] == '*' && !memchr(src, '\n', len)) {
		long n = fts_pyre_literal(src + 2, len - 2, NULL, 0);

		if (n > 0) {
			pf->dlit = fts_xmalloc((size_t)n + 1);
			fts_pyre_literal(src + 2, len - 2, pf->dlit, (size_t)n + 1);
			pf->dlitlen = (size_t)n;
		}
	}
	build_required(pf, src, len);
}

/* Documented in pyre_internal.h. */
void pyre_prefix_free(struct pyre_prefix *pf)
{
	free(pf->pool);
	free(pf->br);
	free(pf->dlit);
	free(pf->req);
}
