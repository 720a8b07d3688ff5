/*
 * pyre.c - Python `re` (3.11, str patterns) on PCRE2: the compiled pattern,
 * matching, the lint predicates, and the scanners the module's files share.
 * See pyre.h for the contracts.
 *
 * Stage: a helper of name resolution (resolve.c) and of the checks and
 * front ends that read parameter patterns.  fts_pyre_compile() translates
 * the Python pattern (pyre_translate.c, with pyre_uninames.c for \N{...}),
 * compiles the translation with PCRE2's JIT, and runs the prefix analyser
 * (pyre_prefix.c) on the source; pyre_internal.h is what these files share.
 */
#define PCRE2_CODE_UNIT_WIDTH 8

#include "pyre_internal.h"

#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"

struct fts_pyre {
	pcre2_code *code;
	pcre2_match_data *md;
	pcre2_match_context *mctx;      /* match, depth and heap limits */
	bool jit;                       /* JIT-compiled (after JIT_AFTER matches) */
	bool jit_tried;
	unsigned calls;
	char *src;
	size_t srclen;
	char *pcre;
	struct pyre_prefix prefix;	/* branches, `.*LITERAL`, required literal */
};

/* ------------------------------------------------------------------------
 * Scanners shared by the translator, the prefix analyser and the lints
 */

/* Documented in pyre_internal.h. */
size_t pyre_utf8_decode(const unsigned char *s, size_t n, uint32_t *cp)
{
	uint32_t c = s[0];
	size_t k, i;

	if (c < 0x80) {
		*cp = c;
		return 1;
	} else if (c >= 0xc2 && c <= 0xdf) {
		k = 2;
		c &= 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		k = 3;
		c &= 0x0f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		k = 4;
		c &= 0x07;
	} else {
		return 0;
	}
	if (n < k)
		return 0;
	for (i = 1; i < k; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = (c << 6) | (s[i] & 0x3f);
	}
	if ((k == 3 && (c < 0x800 || (c >= 0xd800 && c <= 0xdfff))) || (k == 4 && (c < 0x10000 || c > 0x10ffff)))
		return 0;
	*cp = c;
	return k;
}

/* Documented in pyre.h. */
bool fts_utf8_valid(const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0;
	uint32_t cp;

	while (i < n) {
		size_t k;

		if (u[i] < 0x80) {
			i++;
			continue;
		}
		k = pyre_utf8_decode(u + i, n - i, &cp);
		if (!k)
			return false;
		i += k;
	}
	return true;
}

/* Documented in pyre_internal.h. */
size_t pyre_class_end(const char *p, size_t len, size_t i)
{
	i++;
	if (i < len && p[i] == '^')
		i++;
	if (i < len && p[i] == ']')
		i++;
	while (i < len && p[i] != ']')
		i += p[i] == '\\' ? 2 : 1;
	return i + 1;
}

/* Documented in pyre_internal.h. */
size_t pyre_next_element(const char *p, size_t len, size_t i)
{
	if (p[i] == '\\')
		return i + 2;
	if (p[i] == '[')
		return pyre_class_end(p, len, i);
	return i + 1;
}

/* Documented in pyre_internal.h. */
bool pyre_scan_brace(const char *p, size_t len, size_t i, uint64_t *lo, uint64_t *hi, bool *haslo,
		     size_t *endp)
{
	size_t j = i + 1, d0;
	uint64_t a = 0, b = 0;
	bool comma = false, hashi = false;

	if (j < len && p[j] == '}')
		return false;
	d0 = j;
	while (j < len && is_digit(p[j])) {
		if (a < UINT64_MAX / 16)
			a = a * 10 + (uint64_t)(p[j] - '0');
		j++;
	}
	*haslo = j > d0;
	if (j < len && p[j] == ',') {
		comma = true;
		j++;
		d0 = j;
		while (j < len && is_digit(p[j])) {
			if (b < UINT64_MAX / 16)
				b = b * 10 + (uint64_t)(p[j] - '0');
			j++;
		}
		hashi = j > d0;
	}
	if (j >= len || p[j] != '}')
		return false;
	*lo = *haslo ? a : 0;
	*hi = comma ? (hashi ? b : UINT64_MAX) : *lo;
	*endp = j + 1;
	return true;
}

/* ------------------------------------------------------------------------
 * Public API
 */

/* Documented in pyre.h. */
struct fts_pyre *fts_pyre_compile(const char *pat, size_t len, char *err, size_t errlen, size_t *erroff)
{
	struct pyre_pcre t;
	struct fts_pyre *re;
	pcre2_compile_context *cc;
	uint32_t opts;
	int ecode;
	PCRE2_SIZE eoff;

	if (!pyre_translate(pat, len, &t, err, errlen, erroff))
		return NULL;
	opts = PCRE2_UTF | PCRE2_NEVER_BACKSLASH_C | PCRE2_ANCHORED | (t.ascii ? 0 : PCRE2_UCP);
	cc = pcre2_compile_context_create(NULL);
	if (!cc)
		fts_oom();
	pcre2_set_newline(cc, PCRE2_NEWLINE_LF);
	re = fts_xcalloc(1, sizeof(*re));
	re->code = pcre2_compile((PCRE2_SPTR)t.pat, t.len, opts, &ecode, &eoff, cc);
	pcre2_compile_context_free(cc);
	if (!re->code) {
		PCRE2_UCHAR buf[160];

		if (ecode == 125 || ecode == 136)
			snprintf(err ? err : (char *)buf, err ? errlen : sizeof(buf),
				 "look-behind requires fixed-width pattern");
		else if (err && errlen) {
			pcre2_get_error_message(ecode, buf, sizeof(buf));
			snprintf(err, errlen, "ftsc: %s", (const char *)buf);
		}
		if (erroff)
			*erroff = t.len ? t.map[eoff < t.len ? eoff : t.len - 1] : 0;
		free(re);
		free(t.pat);
		free(t.map);
		return NULL;
	}
	re->md = pcre2_match_data_create(1, NULL);
	re->mctx = pcre2_match_context_create(NULL);
	if (!re->md || !re->mctx)
		fts_oom();
	/* a catastrophic pattern (nested repetition over a long name) stops at
	 * these instead of running for minutes or taking gigabytes: the caller
	 * reports it as too expensive, never as a verdict */
	pcre2_set_match_limit(re->mctx, FTS_PYRE_MATCH_LIMIT);
	pcre2_set_depth_limit(re->mctx, FTS_PYRE_DEPTH_LIMIT);
	pcre2_set_heap_limit(re->mctx, FTS_PYRE_HEAP_LIMIT_KIB);
	re->src = fts_xmalloc(len + 1);
	memcpy(re->src, pat, len);
	re->src[len] = '\0';
	re->srclen = len;
	re->pcre = t.pat;
	free(t.map);
	pyre_prefix_build(&re->prefix, re->src, re->srclen);
	return re;
}

/* Matches interpreted before the pattern is JIT-compiled: a compilation
 * costs about as much as this many interpreted matches, and most patterns
 * of a schedule reach the regex for a few names only, or none. */
#define JIT_AFTER 32

/* Documented in pyre.h. */
int fts_pyre_match_unchecked(const struct fts_pyre *cre, const char *s, size_t len, size_t *end)
{
	/* re is not shared between threads (pyre.h): the JIT state may change */
	struct fts_pyre *re = (struct fts_pyre *)(uintptr_t)cre;
	int rc;

	if (!re->jit_tried && ++re->calls > JIT_AFTER) {
		re->jit_tried = true;
		re->jit = pcre2_jit_compile(re->code, PCRE2_JIT_COMPLETE) == 0;
	}
	if (re->jit)
		rc = pcre2_jit_match(re->code, (PCRE2_SPTR)s, len, 0, 0, re->md, re->mctx);
	else
		rc = pcre2_match(re->code, (PCRE2_SPTR)s, len, 0, PCRE2_NO_UTF_CHECK, re->md, re->mctx);
	if (rc == PCRE2_ERROR_JIT_STACKLIMIT)
		/* the JIT's stack: the interpreter uses the heap, within its limit */
		rc = pcre2_match(re->code, (PCRE2_SPTR)s, len, 0, PCRE2_NO_JIT | PCRE2_NO_UTF_CHECK, re->md,
				 re->mctx);
	if (rc == PCRE2_ERROR_NOMATCH || rc == PCRE2_ERROR_PARTIAL)
		return 0;
	if (rc < 0)
		return -1;      /* a limit (or another failure): no verdict */
	if (end)
		*end = pcre2_get_ovector_pointer(re->md)[1];
	return 1;
}

/* Documented in pyre.h. */
int fts_pyre_match(const struct fts_pyre *re, const char *s, size_t len, size_t *end)
{
	if (!fts_utf8_valid(s, len))
		return 0;
	return fts_pyre_match_unchecked(re, s, len, end);
}

/* Documented in pyre.h. */
void fts_pyre_free(struct fts_pyre *re)
{
	if (!re)
		return;
	pcre2_match_data_free(re->md);
	pcre2_match_context_free(re->mctx);
	pcre2_code_free(re->code);
	pyre_prefix_free(&re->prefix);
	free(re->src);
	free(re->pcre);
	free(re);
}

/* Documented in pyre.h. */
const char *fts_pyre_source(const struct fts_pyre *re, size_t *len)
{
	if (len)
		*len = re->srclen;
	return re->src;
}

/* Documented in pyre.h. */
const char *fts_pyre_translated(const struct fts_pyre *re)
{
	return re->pcre;
}

/* Documented in pyre.h. */
size_t fts_pyre_branches(const struct fts_pyre *re, const struct fts_pyre_branch **out, bool *dotall)
{
	*out = re->prefix.br;
	if (dotall)
		*dotall = re->prefix.dotall;
	return re->prefix.nbr;
}

/* Documented in pyre.h. */
const char *fts_pyre_required(const struct fts_pyre *re, size_t *len)
{
	if (len)
		*len = re->prefix.reqlen;
	return re->prefix.req;
}

/* Documented in pyre.h. */
const char *fts_pyre_dotstar_literal(const struct fts_pyre *re, size_t *len)
{
	if (len)
		*len = re->prefix.dlitlen;
	return re->prefix.dlit;
}

/* ------------------------------------------------------------------------
 * Lint helpers
 */

/* Documented in pyre.h. */
long fts_pyre_find_quantified_dot(const char *pat, size_t len, size_t *qlen)
{
	for (size_t i = 0; i < len; i = pyre_next_element(pat, len, i)) {
		uint64_t lo, hi;
		bool haslo;
		size_t end;

		if (pat[i] == '.' && i + 1 < len && pat[i + 1] == '{' &&
		    pyre_scan_brace(pat, len, i + 1, &lo, &hi, &haslo, &end)) {
			if (qlen)
				*qlen = end - i;
			return (long)i;
		}
	}
	return -1;
}

/* Documented in pyre.h. */
bool fts_pyre_is_plain(const char *pat, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (is_meta((unsigned char)pat[i]))
			return false;
	return true;
}

/* Documented in pyre.h. */
long fts_pyre_literal(const char *pat, size_t len, char *out, size_t outlen)
{
	size_t i, n = 0;

	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)pat[i];

		if (c == '\\') {
			if (i + 1 >= len)
				return -1;
			c = (unsigned char)pat[++i];
			if (c >= 0x80 || is_alnum(c) || c < 0x20)
				return -1;
		} else if (is_meta(c)) {
			return -1;
		}
		if (out && n + 1 < outlen)
			out[n] = (char)c;
		n++;
	}
	if (out && outlen)
		out[n < outlen ? n : outlen - 1] = '\0';
	return (long)n;
}

/* Documented in pyre.h. */
bool fts_pyre_has_wildcard_dot(const char *pat, size_t len)
{
	for (size_t i = 0; i < len; i = pyre_next_element(pat, len, i))
		if (pat[i] == '.' && i > 0 && i + 1 < len && is_word((unsigned char)pat[i - 1]) &&
		    is_word((unsigned char)pat[i + 1]))
			return true;
	return false;
}
