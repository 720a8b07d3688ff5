/*
 * check_resolve.c - unit tests for compiler/pyre.c and compiler/resolve.c:
 * Python-`re` compatibility (a table of results produced by CPython 3.11.7's
 * re module on this machine, hard-coded so the test needs no Python), error
 * messages and offsets, the prefix-walk resolution against a brute-force
 * scan, exact lookup, over-match, quantified dot and suggestions.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stddef.h>
#include <sys/mman.h>

#include "arena.h"
#include "pyre.h"
#include "resolve.h"

struct pycase {
	const char *pat;
	size_t plen;
	const char *subj;
	size_t slen;
	long expect;		/* match end in bytes, -1 no match, -2 re.error */
	const char *msg;	/* Python's re.error msg */
	long off;		/* Python's re.error pos in bytes (-1: not checked) */
};

/* Generated with python3 (3.11.7): re.compile(pat).match(subj). */
static const struct pycase PYTABLE[] = {
	{ "(\?<n>a)", 7, "a", 1, -2, "unknown extension \?<n", 1 },
	{ "\134p{L}", 5, "a", 1, -2, "bad escape \134p", 0 },
	{ "\134q", 2, "q", 1, -2, "bad escape \134q", 0 },
	{ "a(\?i)b", 6, "ab", 2, -2, "global flags not at the start of the expression", 1 },
	{ "[abc", 4, "a", 1, -2, "unterminated character set", 0 },
	{ "*a", 2, "a", 1, -2, "nothing to repeat", 0 },
	{ "a**", 3, "a", 1, -2, "multiple repeat", 2 },
	{ "(\?P<1>a)", 8, "a", 1, -2, "bad character in group name \0471\047", 4 },
	{ "(\?P<a>x)(\?P<a>y)", 16, "xy", 2, -2, "redefinition of group name \047a\047 as group 2; was group 1", 12 },
	{ "(\?P=zz)", 7, "a", 1, -2, "unknown group name \047zz\047", 4 },
	{ "(a)\1342", 5, "aa", 2, -2, "invalid group reference 2", 4 },
	{ "(a", 2, "a", 1, -2, "missing ), unterminated subpattern", 0 },
	{ "a)", 2, "a", 1, -2, "unbalanced parenthesis", 1 },
	{ "(\?P", 3, "a", 1, -2, "unexpected end of pattern", 3 },
	{ "(\?Px", 4, "a", 1, -2, "unknown extension \?Px", 1 },
	{ "(\?z)", 4, "a", 1, -2, "unknown extension \?z", 1 },
	{ "(\?i", 3, "a", 1, -2, "missing -, : or )", 3 },
	{ "(\?-i)", 5, "a", 1, -2, "missing :", 4 },
	{ "a{3,2}", 6, "aaa", 3, -2, "min repeat greater than max repeat", 2 },
	{ "\134x4", 3, "a", 1, -2, "incomplete escape \134x4", 0 },
	{ "\134u12", 4, "a", 1, -2, "incomplete escape \134u12", 0 },
	{ "[\134d-z]", 6, "a", 1, -2, "bad character range \134d-z", 1 },
	{ "[z-a]", 5, "a", 1, -2, "bad character range z-a", 1 },
	{ "\1348", 2, "a", 1, -2, "invalid group reference 8", 1 },
	{ "[\1348]", 4, "a", 1, -2, "bad escape \1348", 1 },
	{ "\134777", 4, "a", 1, -2, "octal escape value \134777 outside of range 0-0o377", 0 },
	{ "(\?#abc", 6, "a", 1, -2, "missing ), unterminated comment", 0 },
	{ "(\?(2)a|b)", 9, "a", 1, -2, "invalid group reference 2", 3 },
	{ "(\?(1)a|b|c)", 11, "a", 1, -2, "conditional backref with more than two branches", 8 },
	{ "(a)(\?(1)a|b|c)", 14, "a", 1, -2, "conditional backref with more than two branches", 11 },
	{ "(\?L)a", 5, "a", 1, -2, "bad inline flags: cannot use \047L\047 flag with a str pattern", 3 },
	{ "(\?au)a", 6, "a", 1, -2, "bad inline flags: flags \047a\047, \047u\047 and \047L\047 are incompatible", 4 },
	{ "(\?P<n>a)(\?P=n", 13, "a", 1, -2, "missing ), unterminated name", 12 },
	{ "(\?", 2, "a", 1, -2, "unexpected end of pattern", 2 },
	{ "(\?P<>a)", 7, "a", 1, -2, "missing group name", 4 },
	{ "(\?P<a", 5, "a", 1, -2, "missing >, unterminated name", 4 },
	{ "a{,}", 4, "aaa", 3, 3, NULL, 0 },
	{ "(\?i:a)(\?i)", 10, "a", 1, -2, "global flags not at the start of the expression", 6 },
	{ "^*", 2, "a", 1, -2, "nothing to repeat", 1 },
	{ "\134b+", 3, "a", 1, -2, "nothing to repeat", 2 },
	{ "(\?a-u:x)", 8, "x", 1, -2, "bad inline flags: cannot turn off flags \047a\047, \047u\047 and \047L\047", 5 },
	{ "(\?-:x)", 6, "x", 1, -2, "missing flag", 3 },
	{ "(\?i-i:x)", 8, "x", 1, -2, "bad inline flags: flag turned on and off", 5 },
	{ "model.1", 7, "model.10.weight", 15, 7, NULL, 0 },
	{ "model.1.*", 9, "model.1.weight", 14, 14, NULL, 0 },
	{ "model\134.1\134.", 10, "model.10.weight", 15, -1, NULL, 0 },
	{ ".*bias", 6, "model.0.bias", 12, 12, NULL, 0 },
	{ "bias", 4, "model.0.bias", 12, -1, NULL, 0 },
	{ "layer.{0,11}.(output|attention)", 31, "layer.3.output.dense", 20, 14, NULL, 0 },
	{ "a{,3}b", 6, "aab", 3, 3, NULL, 0 },
	{ "a{,3}b", 6, "aaaab", 5, -1, NULL, 0 },
	{ "x{2}", 4, "xxx", 3, 2, NULL, 0 },
	{ "\134d", 2, "\331\243", 2, 2, NULL, 0 },
	{ "(\?a)\134d", 6, "\331\243", 2, -1, NULL, 0 },
	{ "(\?a:\134d)", 7, "\331\243", 2, -1, NULL, 0 },
	{ "\134w+", 3, "h\303\251llo_1 x", 10, 8, NULL, 0 },
	{ "(\?a)\134w+", 7, "h\303\251llo_1", 8, 1, NULL, 0 },
	{ "\134s", 2, "", 0, -1, NULL, 0 },
	{ "\134S", 2, "x", 1, 1, NULL, 0 },
	{ "a\134Z", 3, "a", 1, 1, NULL, 0 },
	{ "a\134Z", 3, "a", 1, 1, NULL, 0 },
	{ "a$", 2, "a", 1, 1, NULL, 0 },
	{ "a\134Z", 3, "ab", 2, -1, NULL, 0 },
	{ "[[:alpha:]]", 11, ":", 1, -1, NULL, 0 },
	{ "[[:alpha:]]", 11, "a]", 2, 2, NULL, 0 },
	{ "[]a]", 4, "]", 1, 1, NULL, 0 },
	{ "[^]a]", 5, "b", 1, 1, NULL, 0 },
	{ "(\?x) a b # c", 12, "ab", 2, 2, NULL, 0 },
	{ "(\?x)a {2}", 9, "aa", 2, 2, NULL, 0 },
	{ "(\?x)[ a]", 8, " ", 1, 1, NULL, 0 },
	{ "(\?i)MODEL", 9, "model.x", 7, 5, NULL, 0 },
	{ "(\?i:M)odel", 10, "model", 5, 5, NULL, 0 },
	{ "(\?s).", 5, "", 0, -1, NULL, 0 },
	{ ".", 1, "", 0, -1, NULL, 0 },
	{ "(\?m)a$", 6, "a", 1, 1, NULL, 0 },
	{ "b", 1, "", 0, -1, NULL, 0 },
	{ "a$", 2, "a", 1, 1, NULL, 0 },
	{ "b", 1, "", 0, -1, NULL, 0 },
	{ "\134x41", 4, "A", 1, 1, NULL, 0 },
	{ "\134u00e9", 6, "\303\251", 2, 2, NULL, 0 },
	{ "\134U0001F600", 10, "\360\237\230\200", 4, 4, NULL, 0 },
	{ "\1340", 2, "\000", 1, 1, NULL, 0 },
	{ "\13407", 3, "\007", 1, 1, NULL, 0 },
	{ "\134101", 4, "A", 1, 1, NULL, 0 },
	{ "(a)\1341", 5, "aa", 2, 2, NULL, 0 },
	{ "(a)\13410", 6, "aa", 2, -2, "invalid group reference 10", 4 },
	{ "(\?P<n>a)(\?P=n)", 14, "aa", 2, 2, NULL, 0 },
	{ "(\?P<n>a)(\?(n)b|c)", 17, "ab", 2, 2, NULL, 0 },
	{ "(a)\?(\?(1)b|c)", 13, "c", 1, 1, NULL, 0 },
	{ "a{2", 3, "a{2", 3, 3, NULL, 0 },
	{ "a{", 2, "a{", 2, 2, NULL, 0 },
	{ "a{}", 3, "a{}", 3, 3, NULL, 0 },
	{ "a{,}", 4, "a", 1, 1, NULL, 0 },
	{ "{1}", 3, "a", 1, -2, "nothing to repeat", 0 },
	{ "a{1,2}{3}", 9, "a", 1, -2, "multiple repeat", 6 },
	{ "a*\?", 3, "aaa", 3, 0, NULL, 0 },
	{ "a*+", 3, "aaa", 3, 3, NULL, 0 },
	{ "a++a", 4, "aaa", 3, -1, NULL, 0 },
	{ "(\?>a+)a", 7, "aaa", 3, -1, NULL, 0 },
	{ "x*\?y", 4, "xxy", 3, 3, NULL, 0 },
	{ "\134v", 2, "\013", 1, 1, NULL, 0 },
	{ "[\134v]", 4, "\013", 1, 1, NULL, 0 },
	{ "\134a", 2, "\007", 1, 1, NULL, 0 },
	{ "[\134b]", 4, "\010", 1, 1, NULL, 0 },
	{ "\134b", 2, "a", 1, 0, NULL, 0 },
	{ "a\134bb", 4, "ab", 2, -1, NULL, 0 },
	{ "(\?=a)a", 6, "a", 1, 1, NULL, 0 },
	{ "(\?!b)a", 6, "a", 1, 1, NULL, 0 },
	{ "(\?<=a)b", 7, "ab", 2, -1, NULL, 0 },
	{ "(\?<!a)b", 7, "b", 1, 1, NULL, 0 },
	{ "[a-\134x7f]", 8, "b", 1, 1, NULL, 0 },
	{ "[\134x00-\134x7f]+", 12, "abc", 3, 3, NULL, 0 },
	{ "\134", 1, "a", 1, -2, "bad escape (end of pattern)", 0 },
	{ "[", 1, "a", 1, -2, "unterminated character set", 0 },
	{ "(\?P<n\303\251>a)", 10, "a", 1, 1, NULL, 0 },
	{ "(\?P<a-b>a)", 10, "a", 1, -2, "bad character in group name \047a-b\047", 4 },
	{ "(\?(0)a)", 7, "a", 1, -2, "bad group number", 3 },
	{ "(\?(x)a)", 7, "a", 1, -2, "unknown group name \047x\047", 3 },
	{ "(\?(1a)a)", 8, "a", 1, -2, "bad character in group name \0471a\047", 3 },
	{ "a|(\?x)b", 7, "a", 1, -2, "global flags not at the start of the expression", 2 },
	{ "(\?i)(\?s)a.", 10, "A", 1, -1, NULL, 0 },
	{ "(\?ims)a", 7, "A", 1, 1, NULL, 0 },
	{ "(\?x:a b)c", 9, "abc", 3, 3, NULL, 0 },
	{ "(\?-x:a b)", 9, "a b", 3, 3, NULL, 0 },
	{ "x{65535}", 8, "x", 1, -1, NULL, 0 },
	{ "x{4294967295}", 13, "x", 1, -2, "the repetition number is too large", -1 },
	{ "[\134w.]+", 6, "a.b", 3, 3, NULL, 0 },
	{ "[^\134W\134d]", 7, "a", 1, 1, NULL, 0 },
	{ "[\134s]", 4, "\034", 1, 1, NULL, 0 },
	{ "\134S", 2, "\034", 1, -1, NULL, 0 },
	{ "\134s", 2, "\034", 1, 1, NULL, 0 },
	{ "[.]", 3, "a", 1, -1, NULL, 0 },
	{ "\134.", 2, ".", 1, 1, NULL, 0 },
	{ "\134-", 2, "-", 1, 1, NULL, 0 },
	{ "\134\303\251", 3, "\303\251", 2, 2, NULL, 0 },
	{ "[\134\303\251]", 5, "\303\251", 2, 2, NULL, 0 },
	{ "\303\251", 2, "\303\251", 2, 2, NULL, 0 },
	{ "(\?u)\303\251", 6, "\303\251", 2, 2, NULL, 0 },
	{ "(\?i)\303\251", 6, "\303\211", 2, 2, NULL, 0 },
	{ "[\134s\134S]", 6, "", 0, -1, NULL, 0 },
	{ "model.layers.(1|2)\134d.self_attn.*", 32, "model.layers.13.self_attn.q", 27, 27, NULL, 0 },
	{ "a|b|", 4, "c", 1, 0, NULL, 0 },
	{ "(|a)b", 5, "b", 1, 1, NULL, 0 },
	{ "()", 2, "x", 1, 0, NULL, 0 },
	{ "(\?:)*", 5, "x", 1, 0, NULL, 0 },
	{ "(a)|\1341", 6, "a", 1, 1, NULL, 0 },
	{ "(a\1341)", 5, "a", 1, -2, "cannot refer to an open group", 2 },
	{ "(\?P<a>(\?P=a))", 13, "a", 1, -2, "cannot refer to an open group", 10 },
	{ "[a-a]", 5, "a", 1, 1, NULL, 0 },
	{ "[--0]", 5, ".", 1, 1, NULL, 0 },
	{ "[a-]", 4, "-", 1, 1, NULL, 0 },
	{ "[-a]", 4, "-", 1, 1, NULL, 0 },
	{ "[\134-]", 4, "-", 1, 1, NULL, 0 },
	{ "[a\134]]", 5, "]", 1, 1, NULL, 0 },
	{ "[\134[]", 4, "[", 1, 1, NULL, 0 },
	{ "(\?x)a#b", 7, "", 0, -1, NULL, 0 },
	{ "c", 1, "ac", 2, -1, NULL, 0 },
	{ "(\?x)a\134 b", 8, "a b", 3, 3, NULL, 0 },
	{ "(\?x)[#]", 7, "#", 1, 1, NULL, 0 },
};

START_TEST(test_python_table)
{
	size_t k;

	for (k = 0; k < sizeof(PYTABLE) / sizeof(PYTABLE[0]); k++) {
		const struct pycase *c = &PYTABLE[k];
		char err[200] = "";
		size_t off = 12345, end = 0;
		struct fts_pyre *re = fts_pyre_compile(c->pat, c->plen, err, sizeof(err), &off);

		if (c->expect == -2) {
			ck_assert_msg(re == NULL, "pattern %s: compiled, Python says %s", c->pat, c->msg);
			ck_assert_msg(!strcmp(err, c->msg), "pattern %s: message '%s', Python '%s'", c->pat, err, c->msg);
			if (c->off >= 0)
				ck_assert_msg(off == (size_t)c->off, "pattern %s: offset %zu, Python %ld", c->pat, off, c->off);
			continue;
		}
		ck_assert_msg(re != NULL, "pattern %s: error '%s' at %zu", c->pat, err, off);
		if (c->expect == -1) {
			ck_assert_msg(!fts_pyre_match(re, c->subj, c->slen, &end), "pattern %s matched %s", c->pat, c->subj);
		} else {
			ck_assert_msg(fts_pyre_match(re, c->subj, c->slen, &end), "pattern %s did not match %s (pcre: %s)",
				      c->pat, c->subj, fts_pyre_translated(re));
			ck_assert_msg(end == (size_t)c->expect, "pattern %s on %s: end %zu, Python %ld", c->pat, c->subj, end,
				      c->expect);
		}
		fts_pyre_free(re);
	}
}
END_TEST

static struct fts_pyre *compile_ok(const char *p)
{
	char err[128];
	size_t off;
	struct fts_pyre *re = fts_pyre_compile(p, strlen(p), err, sizeof(err), &off);

	ck_assert_msg(re != NULL, "%s: %s at %zu", p, err, off);
	return re;
}

START_TEST(test_translation)
{
	struct { const char *py, *pcre; } t[] = {
		{ "a\\Z", "a\\z" },
		{ "a{,3}", "a{0,3}" },
		{ "a{,}", "a{0,}" },
		{ "(?P<n>a)(?P=n)", "(a)\\g{1}" },
		{ "[[:alpha:]]", "[\\[\\:alpha\\:]\\]" },
		{ "a{x", "a\\{x" },
		{ "(?x) a b # c", "ab" },
		{ "\\v", "\\x{b}" },
		{ "model.1", "model.1" },
	};

	for (size_t k = 0; k < sizeof(t) / sizeof(t[0]); k++) {
		struct fts_pyre *re = compile_ok(t[k].py);

		ck_assert_str_eq(fts_pyre_translated(re), t[k].pcre);
		fts_pyre_free(re);
	}
}
END_TEST

START_TEST(test_errors)
{
	char err[128];
	size_t off = 99;

	/* NULL err buffer is allowed */
	ck_assert_ptr_null(fts_pyre_compile("(", 1, NULL, 0, NULL));
	ck_assert_ptr_null(fts_pyre_compile("ab[cd", 5, err, sizeof(err), &off));
	ck_assert_str_eq(err, "unterminated character set");
	ck_assert_uint_eq(off, 2);
	ck_assert_ptr_null(fts_pyre_compile("x{70000}", 8, err, sizeof(err), &off));
	/* err is truncated, not overflowed */
	ck_assert_ptr_null(fts_pyre_compile("(?<n>a)", 7, err, 8, &off));
	ck_assert_str_eq(err, "unknown");
}
END_TEST

/* Python re's \N{...} named characters (unicodedata.lookup, case-insensitive;
 * outcomes from python3 3.11.7). */
START_TEST(test_named_chars)
{
	static const struct { const char *pat, *subj; long end; } ok[] = {
		{"\\N{DIGIT ONE}", "1", 1},
		{"\\N{digit one}x", "1x", 2},
		{"[\\N{LATIN SMALL LETTER A}-\\N{LATIN SMALL LETTER C}]+", "abcd", 3},
		{"a\\N{EM DASH}b", "a\xe2\x80\x94" "b", 5},
		{"\\N{LF}", "\n", 1},
		{"\\N{CJK UNIFIED IDEOGRAPH-4E00}", "\xe4\xb8\x80", 3},
		{"\\N{HANGUL SYLLABLE GAG}", "\xea\xb0\x81", 3},     /* U+AC01 */
		{"\\N{HANGUL SYLLABLE A}", "\xec\x95\x84", 3},       /* U+C544 */
		{"\\N{GREEK SMALL LETTER ALPHA}", "\xce\xb1", 2},
		{"layer\\N{FULL STOP}0", "layer.0", 7},
		{"layer\\N{FULL STOP}0", "layerx0", -1},
	};
	for (size_t k = 0; k < sizeof(ok) / sizeof(ok[0]); k++) {
		struct fts_pyre *re = compile_ok(ok[k].pat);
		size_t end = 0;
		bool m = fts_pyre_match(re, ok[k].subj, strlen(ok[k].subj), &end);
		ck_assert_msg(ok[k].end < 0 ? !m : m && end == (size_t)ok[k].end, "%s on %s: %d %zu", ok[k].pat,
			      ok[k].subj, m, end);
		fts_pyre_free(re);
	}
	static const struct { const char *pat, *msg; size_t off; } bad[] = {
		{"\\N", "missing {", 2},
		{"\\N{", "missing character name", 3},
		{"\\N{}", "missing character name", 3},
		{"\\N{abc", "missing }, unterminated name", 3},
		{"\\N{NOT A NAME}", "undefined character name 'NOT A NAME'", 0},
		{"\\N{CJK UNIFIED IDEOGRAPH-FFFF}", "undefined character name 'CJK UNIFIED IDEOGRAPH-FFFF'", 0},
	};
	for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
		char err[256];
		size_t off = 99;
		ck_assert_ptr_null(fts_pyre_compile(bad[k].pat, strlen(bad[k].pat), err, sizeof(err), &off));
		ck_assert_msg(!strncmp(err, bad[k].msg, strlen(bad[k].msg)), "%s: %s", bad[k].pat, err);
		ck_assert_msg(off == bad[k].off, "%s: offset %zu", bad[k].pat, off);
	}
}
END_TEST

/* Catastrophic backtracking stops at the limits: no verdict, quickly, in bounded memory. */
START_TEST(test_match_limits)
{
	size_t n = 1 << 20;
	char *s = malloc(n);
	memset(s, 'a', n);
	static const char *const bad[] = {"(a*)*b", "(a+)+b", "(a|aa)*c", "(?:a*)*(?:a*)*b"};
	for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
		struct fts_pyre *re = compile_ok(bad[k]);
		size_t end = 0;
		ck_assert_msg(fts_pyre_match(re, s, n, &end) == -1, "%s did not hit a limit", bad[k]);
		ck_assert_msg(fts_pyre_match(re, s, 30, &end) == -1 || fts_pyre_match(re, s, 30, &end) == 0,
			      "%s", bad[k]);
		fts_pyre_free(re);
	}
	/* ordinary patterns over the same long name decide */
	struct fts_pyre *re = compile_ok("a+");
	size_t end = 0;
	ck_assert_int_eq(fts_pyre_match(re, s, n, &end), 1);
	ck_assert_uint_eq(end, n);
	fts_pyre_free(re);
	free(s);
}
END_TEST

START_TEST(test_lint)
{
	size_t q = 0;
	char buf[64];

	ck_assert_int_eq(fts_pyre_find_quantified_dot("model.deberta.encoder.layer.{0,11}.(output|attention)", 53, &q), 27);
	ck_assert_uint_eq(q, 7);
	ck_assert_int_eq(fts_pyre_find_quantified_dot("a.{3}", 5, &q), 1);
	ck_assert_uint_eq(q, 4);
	ck_assert_int_eq(fts_pyre_find_quantified_dot("a\\.{3}", 6, &q), -1);
	ck_assert_int_eq(fts_pyre_find_quantified_dot("[.]{3}", 6, &q), -1);
	ck_assert_int_eq(fts_pyre_find_quantified_dot("a.{x}", 5, &q), -1);
	ck_assert_int_eq(fts_pyre_find_quantified_dot("a.*", 3, &q), -1);
	ck_assert(fts_pyre_is_plain("model_0-weight", 14));
	ck_assert(!fts_pyre_is_plain("model.0", 7));
	ck_assert_int_eq(fts_pyre_literal("model\\.0\\.weight", 16, buf, sizeof(buf)), 14);
	ck_assert_str_eq(buf, "model.0.weight");
	ck_assert_int_eq(fts_pyre_literal("model.0", 7, buf, sizeof(buf)), -1);
	ck_assert_int_eq(fts_pyre_literal("a\\d", 3, NULL, 0), -1);
	ck_assert(fts_pyre_has_wildcard_dot("model.1.weight", 14));
	ck_assert(!fts_pyre_has_wildcard_dot("model\\.1\\.weight", 16));
	ck_assert(!fts_pyre_has_wildcard_dot(".*bias", 6));
}
END_TEST

START_TEST(test_overmatch)
{
	const char *n = "model.10.weight";

	ck_assert(fts_overmatch(n, 15, 7));	/* `model.1` */
	ck_assert(!fts_overmatch(n, 15, 8));	/* `model.10` ends before '.' */
	ck_assert(!fts_overmatch(n, 15, 9));	/* `model.10.` */
	ck_assert(!fts_overmatch(n, 15, 15));	/* whole name */
	ck_assert(!fts_overmatch(n, 15, 0));
	ck_assert(fts_overmatch(n, 15, 12));	/* `model.10.wei` */
}
END_TEST

/* ---- resolution over a generated model ---- */

static uint64_t rng_state;

static uint32_t rnd(uint32_t n)
{
	rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
	return (uint32_t)(rng_state >> 33) % n;
}

struct model {
	FTS_VEC(char *) names;
	FTS_VEC(size_t) lens;
	struct fts_names *ix;
};

static void add(struct model *m, const char *s)
{
	char *d = fts_xstrdup(s);

	FTS_VEC_PUSH(m->names, d);
	FTS_VEC_PUSH(m->lens, strlen(d));
}

static void build_model(struct model *m, int layers, int experts)
{
	char buf[128];

	memset(m, 0, sizeof(*m));
	add(m, "model.embed_tokens.weight");
	for (int l = 0; l < layers; l++) {
		snprintf(buf, sizeof(buf), "model.layers.%d.self_attn.q_proj.weight", l);
		add(m, buf);
		snprintf(buf, sizeof(buf), "model.layers.%d.self_attn.q_proj.bias", l);
		add(m, buf);
		snprintf(buf, sizeof(buf), "model.layers.%d.norm.weight", l);
		add(m, buf);
		for (int e = 0; e < experts; e++) {
			snprintf(buf, sizeof(buf), "model.layers.%d.mlp.experts.%d.w%d.weight", l, e, 1 + e % 3);
			add(m, buf);
		}
	}
	add(m, "model.layers.1x.odd");
	add(m, "model.layers.\xd9\xa3.unicode_digit");	/* U+0663: \d matches it */
	add(m, "model.layers.\xc3\xa9t\xc3\xa9.w");
	add(m, "model.layers.1\n.newline");
	add(m, "model.layers");
	add(m, "model.layers.");
	add(m, "lm_head.weight");
	add(m, "lm_head.bias");
	m->ix = fts_names_new((const char *const *)m->names.v, m->lens.v, (uint32_t)m->names.n);
}

static void free_model(struct model *m)
{
	fts_names_free(m->ix);
	for (size_t k = 0; k < m->names.n; k++)
		free(m->names.v[k]);
	FTS_VEC_FREE(m->names);
	FTS_VEC_FREE(m->lens);
}

static void check_same(struct model *m, const char *pat)
{
	struct fts_matches a = { 0 }, b = { 0 };
	char err[128];
	size_t off;
	struct fts_pyre *re = fts_pyre_compile(pat, strlen(pat), err, sizeof(err), &off);

	if (!re)
		return;		/* random patterns may be invalid */
	fts_names_match(m->ix, re, &a);
	fts_names_match_scan(m->ix, re, &b);
	ck_assert_msg(a.n == b.n, "%s: %zu matches, scan %zu", pat, a.n, b.n);
	size_t over = 0;
	uint32_t first_over = 0;
	for (size_t k = 0; k < a.n; k++) {
		ck_assert_msg(a.idx[k] == b.idx[k], "%s: match %zu differs", pat, k);
		ck_assert_msg(a.end[k] == b.end[k], "%s: end of %s %u vs %u", pat, m->names.v[a.idx[k]], a.end[k], b.end[k]);
		if (fts_overmatch(m->names.v[a.idx[k]], m->lens.v[a.idx[k]], a.end[k]) && !over++)
			first_over = a.idx[k];
	}
	/* the over-matches the resolver counted */
	ck_assert_msg(a.nover == over && b.nover == over, "%s: %zu over-matches, counted %zu and %zu", pat, over,
		      a.nover, b.nover);
	ck_assert(!over || (a.first_over == first_over && b.first_over == first_over));
	/* without the ends: the same names and over-matches */
	struct fts_matches c = { 0 };
	c.no_end = true;
	fts_names_match(m->ix, re, &c);
	ck_assert(c.n == a.n && c.end == NULL && c.nover == over);
	ck_assert(!c.n || !memcmp(c.idx, a.idx, c.n * sizeof(*c.idx)));
	fts_matches_shrink(&c);
	fts_matches_free(&c);
	fts_matches_free(&a);
	fts_matches_free(&b);
	fts_pyre_free(re);
}

START_TEST(test_prefix_walk_fixed)
{
	struct model m;
	static const char *pats[] = {
		"model.layers.1", "model.layers.1.*", "model.layers.1.*?", "model\\.layers\\.1\\.",
		"model.layers.[0-1].*", "model.layers.6[0-3].*", "model.layers.(1|2)\\d.self_attn.*",
		"model.layers.(?:1|2)\\d.self_attn", "model.layers.\\d", "model.layers.\\d\\.",
		"model.layers.\\w+", "model.layers.\\D", "model.layers.[^0-9]", "model.layers..",
		"model.layers.1.", "(?s)model.layers.1.", "model.layers.1.$", ".*bias", ".*bias$",
		".*q_proj.bias", "bias", "^model.layers.2", "\\Amodel.layers.2", "model.layers.2|lm_head",
		"lm_head|model.layers.3.norm", "(model|lm_head).*", "(model.layers.1|model.layers.12).*",
		"(model.layers.1|model.layers.12)", "model.layers.1+", "model.layers.1?", "model.layers.1*",
		"model.layers.1{2}", "model.layers.é", "model.layers.[éa]", "model.layers.\\s",
		"model.layers", "model.layers.", "model.layers.$", "", ".*", ".*?", "(?i)MODEL.layers.1",
		"(?a)model.layers.\\d", "model.(?P<x>layers).1", "model.layers.1(?#c).norm",
		"model.layers.1[.]norm", "model.layers.1\\.norm", "model.layers.[\\d]",
		"model.layers.[a-z0-9_.]+", "model.layers.(1|)2", "model.layers.(?=1)1",
	};

	build_model(&m, 25, 40);
	for (size_t k = 0; k < sizeof(pats) / sizeof(pats[0]); k++)
		check_same(&m, pats[k]);
	free_model(&m);
}
END_TEST

START_TEST(test_prefix_walk_random)
{
	struct model m;
	static const char *atoms[] = {
		"model", ".", "\\.", "layers", "1", "2", "12", "\\d", "[0-3]", "[^.]", "\\w", "mlp", "experts",
		"(1|2)", "(?:w1|w2)", "*", "+", "?", "{1,2}", ".*", "norm", "self_attn", "q_proj", "|", "[.]",
		"$", "weight", "bias", "é", "\\s", "(3)", "\\D", "{2}", "{,2}", "{1,}", "{}", "{1,2}?", "{2}+",
		"??", "?+", "{0}", "{0,3}", "{,}",
	};
	char pat[256];

	rng_state = 42;
	build_model(&m, 30, 50);
	for (int it = 0; it < 3000; it++) {
		size_t n = 0;
		int na = 1 + (int)rnd(10);

		/* mostly FTS-like: a real-name prefix, then random atoms */
		if (rnd(4)) {
			const char *base = m.names.v[rnd((uint32_t)m.names.n)];
			size_t cut = rnd((uint32_t)strlen(base) + 1);

			for (size_t j = 0; j < cut && n < 120; j++) {
				unsigned char c = (unsigned char)base[j];

				if (c == '\n' || c >= 0x80)
					break;
				if (c == '.' && rnd(2))
					pat[n++] = '\\';
				pat[n++] = (char)c;
			}
		}
		for (int a = 0; a < na && n < 200; a++) {
			const char *s = atoms[rnd(sizeof(atoms) / sizeof(atoms[0]))];
			size_t l = strlen(s);

			memcpy(pat + n, s, l);
			n += l;
		}
		pat[n] = '\0';
		check_same(&m, pat);
	}
	free_model(&m);
}
END_TEST

START_TEST(test_exact_and_suggest)
{
	struct model m;
	uint32_t out[5];
	size_t n;

	build_model(&m, 12, 20);
	for (size_t k = 0; k < m.names.n; k++)
		ck_assert_int_eq(fts_names_find(m.ix, m.names.v[k], m.lens.v[k]), (long)k);
	ck_assert_int_eq(fts_names_find(m.ix, "model.layers.1", 14), -1);
	ck_assert_int_eq(fts_names_find(m.ix, "", 0), -1);
	ck_assert_uint_eq(fts_names_count(m.ix), m.names.n);

	/* a missing 's' */
	n = fts_names_suggest(m.ix, "model.layer.3.norm.weight", 25, out, 5);
	ck_assert_uint_ge(n, 1);
	ck_assert_str_eq(fts_names_get(m.ix, out[0], NULL), "model.layers.3.norm.weight");
	/* a typo in the middle, escaped dots, trailing .* */
	n = fts_names_suggest(m.ix, "model\\.layers\\.3\\.nrom.*", 23, out, 5);
	ck_assert_uint_ge(n, 1);
	ck_assert_str_eq(fts_names_get(m.ix, out[0], NULL), "model.layers.3.norm.weight");
	/* a transposition in the head name */
	n = fts_names_suggest(m.ix, "lm_haed.weight", 14, out, 5);
	ck_assert_uint_ge(n, 1);
	ck_assert_str_eq(fts_names_get(m.ix, out[0], NULL), "lm_head.weight");
	/* nothing close */
	n = fts_names_suggest(m.ix, "zzzzzzzzzzzzzzzzzz", 18, out, 5);
	ck_assert_uint_eq(n, 0);
	free_model(&m);
}
END_TEST

START_TEST(test_duplicates_and_empty)
{
	const char *names[] = { "a.b", "a.b", "a.c" };
	size_t lens[] = { 3, 3, 3 };
	struct fts_names *ix = fts_names_new(names, lens, 3);
	struct fts_names *e = fts_names_new(NULL, NULL, 0);
	struct fts_matches m = { 0 };
	struct fts_pyre *re = compile_ok("a.");
	uint32_t out[2];

	ck_assert_int_eq(fts_names_find(ix, "a.b", 3), 0);
	ck_assert_uint_eq(fts_names_match(ix, re, &m), 3);
	ck_assert_uint_eq(m.idx[0], 0);
	ck_assert_uint_eq(m.idx[1], 1);
	ck_assert_uint_eq(m.idx[2], 2);
	ck_assert_uint_eq(fts_names_match(e, re, &m), 0);
	ck_assert_uint_eq(m.n, 3);	/* appended, not reset */
	ck_assert_int_eq(fts_names_find(e, "a", 1), -1);
	ck_assert_uint_eq(fts_names_suggest(e, "a", 1, out, 2), 0);
	fts_matches_free(&m);
	fts_pyre_free(re);
	fts_names_free(ix);
	fts_names_free(e);
	fts_names_free(NULL);
	fts_pyre_free(NULL);
}
END_TEST

static const char **sort_by_name;

static int cmp_name_then_index(const void *x, const void *y)
{
	uint32_t a = *(const uint32_t *)x, b = *(const uint32_t *)y;
	int c = strcmp(sort_by_name[a], sort_by_name[b]);
	return c ? c : (a < b ? -1 : a > b);
}

/* The truth: re.match of the pattern on every name, one by one. */
static void ref_match(char **names, const size_t *lens, size_t n, const struct fts_pyre *re,
		      struct fts_matches *m)
{
	for (size_t i = 0; i < n; i++) {
		size_t end;

		if (fts_pyre_match(re, names[i], lens[i], &end) > 0) {
			if (m->n == m->cap) {
				m->cap = m->cap ? 2 * m->cap : 16;
				m->idx = fts_xrealloc(m->idx, m->cap * sizeof(*m->idx));
				m->end = fts_xrealloc(m->end, m->cap * sizeof(*m->end));
			}
			m->idx[m->n] = (uint32_t)i;
			m->end[m->n++] = (uint32_t)end;
		}
	}
}

/* Names split from one manifest text (fts_names_set_text()): literal
 * patterns search the whole text once; hits in other columns, in tied
 * aliases (not in the index), across a name's end or twice in a name must
 * come out as the name-by-name truth. */
START_TEST(test_names_in_text)
{
	static const char *lines[][2] = {
		{"a.score.bias", "4\tbfloat16\t1\t-"},
		{"b.weight", "4\tscore.bias\t1\t-"},      /* the literal in another column */
		{"alias.score.bias", "-"},                  /* a tied alias: not indexed */
		{"c.score.bias.score.bias", "4\tfloat32\t1\t-"},
		{"d.score.bia", "s\tfloat32\t1\t-"},      /* across the name's end */
		{"score.bias", "2x2\tfloat32\t1\t-"},
		{"e.score\xc3\xa9.bias", "1\tfloat32\t1\t-"},
		{"f.scorexbias", "1\tfloat32\t1\t-"},
	};
	static const char *pats[] = {
		".*score.bias", ".*score\\.bias", ".*bias", ".*score", ".*s", ".*t\tf", ".*\\.",
		".*score.bias$", ".*(score).bias", "(?s).*score.bias", ".*a.s",
	};
	enum { N = sizeof(lines) / sizeof(lines[0]) };
	char text[1024], *names[N];
	size_t lens[N], n = 0, at = 0;

	for (size_t k = 0; k < N; k++) {
		int w = snprintf(text + at, sizeof(text) - at, "%s\t%s\n", lines[k][0], lines[k][1]);

		if (strncmp(lines[k][0], "alias", 5) != 0) {
			names[n] = text + at;
			lens[n++] = strlen(lines[k][0]);
		}
		at += (size_t)w;
	}
	struct fts_names *ix = fts_names_new((const char *const *)names, lens, (uint32_t)n);

	ck_assert(fts_names_set_text(ix, text, at));
	for (size_t k = 0; k < sizeof(pats) / sizeof(pats[0]); k++) {
		struct fts_pyre *re = compile_ok(pats[k]);
		struct fts_matches a = { 0 }, b = { 0 }, t = { 0 };

		fts_names_match(ix, re, &a);
		fts_names_match_scan(ix, re, &b);
		ref_match(names, lens, n, re, &t);
		ck_assert_msg(a.n == t.n && b.n == t.n, "%s: %zu and %zu matches, truth %zu", pats[k], a.n, b.n, t.n);
		for (size_t j = 0; j < t.n; j++) {
			ck_assert_msg(a.idx[j] == t.idx[j] && a.end[j] == t.end[j], "%s: match %zu", pats[k], j);
			ck_assert_msg(b.idx[j] == t.idx[j] && b.end[j] == t.end[j], "%s: scan %zu", pats[k], j);
		}
		fts_matches_free(&a);
		fts_matches_free(&b);
		fts_matches_free(&t);
		fts_pyre_free(re);
	}
	/* `.*score\\.bias`: a, c (to its last occurrence) and score.bias */
	{
		struct fts_pyre *re = compile_ok(".*score\\.bias");
		struct fts_matches a = { 0 };

		ck_assert_uint_eq(fts_names_match(ix, re, &a), 3);
		ck_assert_uint_eq(a.idx[0], 0);
		ck_assert_uint_eq(a.idx[1], 2);
		ck_assert_uint_eq(a.end[1], (uint32_t)strlen("c.score.bias.score.bias"));
		ck_assert_uint_eq(a.idx[2], 4);
		fts_matches_free(&a);
		fts_pyre_free(re);
	}
	/* names that do not lie so are refused, and the index still works */
	ck_assert(!fts_names_set_text(ix, text + 1, at - 1));
	ck_assert(!fts_names_set_text(ix, text, lens[0]));
	names[1] = names[0];
	{
		struct fts_names *bad = fts_names_new((const char *const *)names, lens, (uint32_t)n);

		ck_assert(!fts_names_set_text(bad, text, at));
		fts_names_free(bad);
	}
	fts_names_free(ix);
}
END_TEST

/* A name with a newline: `.*LIT` looks at its first line only, so the
 * whole-text search must not be used. */
START_TEST(test_names_in_text_newline)
{
	char text[] = "ab\ncd.bias\t1\nx.bias\t1\n";
	char *names[2] = { text, text + 13 };
	size_t lens[2] = { 10, 6 };
	struct fts_names *ix = fts_names_new((const char *const *)names, lens, 2);
	struct fts_pyre *re = compile_ok(".*bias");
	struct fts_matches m = { 0 };

	ck_assert(fts_names_set_text(ix, text, sizeof(text) - 1));
	ck_assert_uint_eq(fts_names_match(ix, re, &m), 1);
	ck_assert_uint_eq(m.idx[0], 1);
	fts_matches_free(&m);
	fts_pyre_free(re);
	fts_names_free(ix);
}
END_TEST

/* Bounded repeats become one branch per count; unbounded, possessive and
 * literal braces end the branch (the regex decides). */
START_TEST(test_repeat_branches)
{
	static const struct { const char *pat; size_t nbr; uint32_t n0; int tail0; } cases[] = {
		{ "a{3}", 1, 3, FTS_PYRE_TAIL_EMPTY },
		{ "ab?c", 2, 2, FTS_PYRE_TAIL_EMPTY },
		{ "a{1,3}", 3, 1, FTS_PYRE_TAIL_EMPTY },
		{ "a{1,3}?b", 3, 2, FTS_PYRE_TAIL_EMPTY },
		{ "a{,2}b", 3, 1, FTS_PYRE_TAIL_EMPTY },
		{ "xa{2,}b", 1, 3, FTS_PYRE_TAIL_REGEX },
		{ "xa{,}b", 1, 1, FTS_PYRE_TAIL_REGEX },
		{ "xa*b", 1, 1, FTS_PYRE_TAIL_REGEX },
		{ "xa{2}+b", 1, 1, FTS_PYRE_TAIL_REGEX },      /* possessive */
		{ "xa?+b", 1, 1, FTS_PYRE_TAIL_REGEX },
		{ "xa{}b", 1, 1, FTS_PYRE_TAIL_REGEX },        /* a literal '{' */
		{ "xa{2,x}", 1, 1, FTS_PYRE_TAIL_REGEX },
		{ "x(ab|c){2}.*", 4, 5, FTS_PYRE_TAIL_DOTSTAR },
		{ "x\\d{4}\\.", 1, 6, FTS_PYRE_TAIL_EMPTY },
		{ "xa{1,20}", 1, 2, FTS_PYRE_TAIL_REGEX },     /* too many counts: the first only */
		{ "xa{0}b", 1, 2, FTS_PYRE_TAIL_EMPTY },
	};

	for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		struct fts_pyre *re = compile_ok(cases[k].pat);
		const struct fts_pyre_branch *br;
		bool dotall;
		size_t nbr = fts_pyre_branches(re, &br, &dotall);

		ck_assert_msg(nbr == cases[k].nbr, "%s: %zu branches", cases[k].pat, nbr);
		ck_assert_msg(br[0].n == cases[k].n0 && (int)br[0].tail == cases[k].tail0, "%s: n %u tail %d",
			      cases[k].pat, br[0].n, (int)br[0].tail);
		fts_pyre_free(re);
	}
	/* and the walk over them agrees with the regex */
	struct model m;
	static const char *pats[] = {
		"model.layers.\\d{2}\\.", "model.layers.\\d{1,2}\\.norm", "model.layers.1\\d?\\.mlp",
		"model.layers.\\d{1,2}?\\.", "model.layers.(1|2){2}.*", "model.layers.\\d{2}+\\.",
		"model.layers.\\d{,3}\\.", "model.layers.2\\d{0}\\.", "model.layers.\\d{1,}\\.norm",
		"model.layers.1(\\d|x){1,2}.mlp.experts.\\d{1,2}\\.w[12]",
	};

	build_model(&m, 25, 40);
	for (size_t k = 0; k < sizeof(pats) / sizeof(pats[0]); k++)
		check_same(&m, pats[k]);
	free_model(&m);
}
END_TEST

/*
 * An index large enough to be built on two threads: duplicates spread
 * over both halves (the first occurrence wins, every later one is reported
 * once), exact lookups, and names that share more than the 255 bytes of
 * prefix the index records.
 */
START_TEST(test_index_large)
{
	enum { N = 70000 };
	static char buf[N][320];
	const char **names = malloc(N * sizeof(*names));
	size_t *lens = malloc(N * sizeof(*lens));
	char longp[301];

	memset(longp, 'a', 300);
	longp[300] = '\0';
	for (uint32_t i = 0; i < N; i++) {
		if (i % 5000 == 4999)           /* a copy of a name 30000 before (or after: none) */
			snprintf(buf[i], sizeof(buf[i]), "%s", buf[i >= 30000 ? i - 30000 : i - 1]);
		else if (i % 7 == 3 || (i % 700 >= 300 && i % 700 < 400))  /* runs of them too */
			snprintf(buf[i], sizeof(buf[i]), "%.255s%c%s.%u.w", longp, i % 3 ? 'c' : 'b', longp + 256,
				 i % 100);
		else
			snprintf(buf[i], sizeof(buf[i]), "model.layers.%u.mlp.experts.%u.w%u.weight", i / 3000,
				 i % 3000 / 3, i % 3);
		names[i] = buf[i];
		lens[i] = strlen(buf[i]);
	}
	struct fts_names *ix = fts_names_new(names, lens, N);

	/* the truth, by brute force over a sorted copy */
	uint32_t *ord = malloc(N * sizeof(*ord));
	size_t ntrue = 0;
	for (uint32_t i = 0; i < N; i++)
		ord[i] = i;
	sort_by_name = names;
	qsort(ord, N, sizeof(*ord), cmp_name_then_index);
	for (uint32_t k = 1; k < N; k++)
		if (!strcmp(names[ord[k]], names[ord[k - 1]]))
			ntrue++;
	const uint32_t *pairs;
	size_t nd = fts_names_duplicates(ix, &pairs);
	ck_assert_uint_eq(nd, ntrue);
	ck_assert_uint_gt(nd, 100);
	for (size_t k = 0; k < nd; k++) {
		ck_assert(k == 0 || pairs[2 * k] > pairs[2 * k - 2]);
		ck_assert_uint_lt(pairs[2 * k + 1], pairs[2 * k]);
		ck_assert_str_eq(names[pairs[2 * k]], names[pairs[2 * k + 1]]);
		/* the first occurrence: no equal name before it */
		ck_assert_int_eq(fts_names_find(ix, names[pairs[2 * k]], lens[pairs[2 * k]]),
				 (long)pairs[2 * k + 1]);
	}
	for (uint32_t i = 0; i < N; i += 97) {
		long f = fts_names_find(ix, names[i], lens[i]);
		ck_assert(f >= 0 && f <= (long)i && !strcmp(names[f], names[i]));
	}
	ck_assert_int_eq(fts_names_find(ix, "model.layers.0", 14), -1);

	/* patterns over the long shared prefix (more than 255 bytes; the
	 * verdict on some names is decided at byte 255, or later) */
	const char *pats[] = {
		"a{255}b", "a{255}c", "a{255}b.*", "a{254}(ab|ac)", "a{255}[bc]a{44}\\.1\\d\\.w",
		"a{255}ba{44}\\.5.*", "a{255}ca{44}\\.\\d{2}\\.", "a{255}.a{44}\\.(3|40)\\.w",
	};
	for (size_t t = 0; t < sizeof(pats) / sizeof(pats[0]); t++) {
		struct fts_pyre *re = compile_ok(pats[t]);
		struct fts_matches a = { 0 }, r = { 0 };
		fts_names_match(ix, re, &a);
		ref_match((char **)names, lens, N, re, &r);
		ck_assert_msg(r.n > 100, "%s: %zu", pats[t], r.n);
		ck_assert_msg(a.n == r.n, "%s: %zu matches, the regex %zu", pats[t], a.n, r.n);
		for (size_t j = 0; j < r.n; j++)
			ck_assert(a.idx[j] == r.idx[j] && a.end[j] == r.end[j]);
		fts_matches_free(&a);
		fts_matches_free(&r);
		fts_pyre_free(re);
	}
	free(ord);
	fts_names_free(ix);
	free(names);
	free(lens);
}
END_TEST

/*
 * Random name lists over a small alphabet, registered in runs that share
 * prefixes of every length (some over 255 bytes), and random patterns over
 * the same alphabet: the walk that skips names sharing the bytes a verdict
 * depended on must find exactly what the regex finds on every name.
 */
START_TEST(test_walk_random_names)
{
	static const char alpha[] = "ab.1";
	static const char *atoms[] = {
		"a", "b", ".", "\\.", "1", "[ab]", "[^a]", "\\d", "\\w", "(a|b)", "(a|ab)", "(?:1|11)", "a?",
		"b{2}", "1{1,3}", "a*", ".*", "b+", "$", "(a.|b1)", "[.1]{2}",
	};
	rng_state = 7;
	for (int round = 0; round < 40; round++) {
		struct model m;
		char buf[400];
		size_t blen = 0;

		memset(&m, 0, sizeof(m));
		uint32_t n = 50 + rnd(400);
		for (uint32_t i = 0; i < n; i++) {
			/* keep a random prefix of the name before, then grow it */
			blen = blen ? rnd((uint32_t)blen + 1) : 0;
			if (!rnd(30))
				while (blen < 300)      /* a long shared run */
					buf[blen++] = 'a';
			uint32_t grow = 1 + rnd(6);
			for (uint32_t k = 0; k < grow && blen < sizeof(buf) - 1; k++)
				buf[blen++] = alpha[rnd(4)];
			buf[blen] = '\0';
			add(&m, buf);
		}
		m.ix = fts_names_new((const char *const *)m.names.v, m.lens.v, (uint32_t)m.names.n);
		for (int it = 0; it < 60; it++) {
			char pat[600];
			size_t pn = 0;
			if (rnd(3)) {           /* a prefix of a real name, then atoms */
				const char *base = m.names.v[rnd((uint32_t)m.names.n)];
				size_t cut = rnd((uint32_t)strlen(base) + 1);
				for (size_t j = 0; j < cut && pn < 400; j++) {
					if (base[j] == '.' && rnd(2))
						pat[pn++] = '\\';
					pat[pn++] = base[j];
				}
			}
			for (int a = 0, na = (int)rnd(5); a < na && pn < 560; a++) {
				const char *t = atoms[rnd(sizeof(atoms) / sizeof(atoms[0]))];
				memcpy(pat + pn, t, strlen(t));
				pn += strlen(t);
			}
			pat[pn] = '\0';
			check_same(&m, pat);
		}
		free_model(&m);
	}
}
END_TEST

/*
 * Names past byte 2^32 of their text (a manifest over 4 GiB): records hold
 * bits 32..47 of the offset (off_hi_at).  The text is a sparse anonymous
 * mapping, so only the pages written take memory.
 */
START_TEST(test_index_offsets_over_4gib)
{
	const size_t len = ((size_t)1 << 32) + 8192;
	char *text = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (text == MAP_FAILED)
		return;                 /* no room for the address range: nothing to test */
	struct rec { uint32_t off, len; uint16_t off_hi, pad; } r[3];
	const size_t at[3] = {100, ((size_t)1 << 32) + 10, ((size_t)1 << 32) + 100};
	const char *nm[3] = {"a.x", "b.y", "a.x"};
	for (int k = 0; k < 3; k++) {
		memcpy(text + at[k], nm[k], 3);
		r[k] = (struct rec){(uint32_t)at[k], 3, (uint16_t)(at[k] >> 32), 0};
	}
	struct fts_names_hints h = {true, false, NULL, NULL, offsetof(struct rec, off_hi)};
	struct fts_names *ix = fts_names_new_recs(text, len, r, sizeof(r[0]), 3, &h);
	size_t n;
	ck_assert_ptr_eq(fts_names_get(ix, 1, &n), text + at[1]);
	ck_assert_int_eq(fts_names_find(ix, "b.y", 3), 1);
	ck_assert_int_eq(fts_names_find(ix, "a.x", 3), 0);
	const uint32_t *pairs;
	ck_assert_uint_eq(fts_names_duplicates(ix, &pairs), 1);
	ck_assert(pairs[0] == 2 && pairs[1] == 0);
	struct fts_pyre *re = compile_ok("b\\.");
	struct fts_matches m = { 0 };
	ck_assert_uint_eq(fts_names_match(ix, re, &m), 1);
	ck_assert_uint_eq(m.idx[0], 1);
	fts_matches_free(&m);
	fts_pyre_free(re);
	/* without the high bits the second name would be read at byte 10 */
	struct fts_names_hints lo = {true, false, NULL, NULL, 0};
	struct fts_names *bad = fts_names_new_recs(text, len, r, sizeof(r[0]), 3, &lo);
	ck_assert_ptr_eq(fts_names_get(bad, 1, &n), text + 10);
	fts_names_free(bad);
	fts_names_free(ix);
	munmap(text, len);
}
END_TEST

/*
 * What the fuzzer found (tests/fuzz/fuzz_pyre.c compares the walk with the
 * regex): a name that is not UTF-8 matches no pattern, not even one the
 * branches alone decide; a quantifier after a comment applies to the atom
 * before it.
 */
START_TEST(test_walk_fuzz_findings)
{
	struct model m;
	static const char *pats[] = {
		"", "x", "x\\.a", "x.a.*", "M(?#)?", "M(?#x)(?#y)?", "M(?#)*x", "x(?#c){2}", "x.a(?#)+",
		"(?#)?x",
	};

	memset(&m, 0, sizeof(m));
	add(&m, "x.a\xff" "b.weight");
	add(&m, "x.acdb.weight");
	add(&m, "\x90");
	add(&m, "");
	add(&m, "xx.M");
	m.ix = fts_names_new((const char *const *)m.names.v, m.lens.v, (uint32_t)m.names.n);
	for (size_t k = 0; k < sizeof(pats) / sizeof(pats[0]); k++)
		check_same(&m, pats[k]);
	free_model(&m);
	/* and over valid names, where the walk decides alone */
	memset(&m, 0, sizeof(m));
	add(&m, "");
	add(&m, "M");
	add(&m, "MMx");
	add(&m, "xx.M");
	m.ix = fts_names_new((const char *const *)m.names.v, m.lens.v, (uint32_t)m.names.n);
	for (size_t k = 0; k < sizeof(pats) / sizeof(pats[0]); k++)
		check_same(&m, pats[k]);
	free_model(&m);
}
END_TEST

/* More than 2^11 names: the matches come out in registration order. */
START_TEST(test_order_many_names)
{
	struct model m;
	static const char *pats[] = {
		"model.layers.1.*", "model.layers.[1-3]\\d?\\.mlp.experts.1", "model.layers.(2|11).mlp.*",
		"model.layers.\\d+.mlp.experts.1\\d\\.w2",
	};

	build_model(&m, 40, 160);
	ck_assert_uint_gt(m.names.n, 4096);
	for (size_t k = 0; k < sizeof(pats) / sizeof(pats[0]); k++) {
		struct fts_pyre *re = compile_ok(pats[k]);
		struct fts_matches a = { 0 }, t = { 0 };

		fts_names_match(m.ix, re, &a);
		ref_match(m.names.v, m.lens.v, m.names.n, re, &t);
		ck_assert_uint_gt(t.n, 32);
		ck_assert_uint_eq(a.n, t.n);
		for (size_t j = 0; j < t.n; j++)
			ck_assert_msg(a.idx[j] == t.idx[j] && a.end[j] == t.end[j], "%s: match %zu", pats[k], j);
		fts_matches_free(&a);
		fts_matches_free(&t);
		fts_pyre_free(re);
	}
	free_model(&m);
}
END_TEST

static Suite *resolve_suite(void)
{
	Suite *s = suite_create("resolve");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_python_table);
	tcase_add_test(tc, test_translation);
	tcase_add_test(tc, test_errors);
	tcase_add_test(tc, test_named_chars);
	tcase_add_test(tc, test_match_limits);
	tcase_add_test(tc, test_lint);
	tcase_add_test(tc, test_overmatch);
	tcase_add_test(tc, test_prefix_walk_fixed);
	tcase_add_test(tc, test_prefix_walk_random);
	tcase_add_test(tc, test_exact_and_suggest);
	tcase_add_test(tc, test_duplicates_and_empty);
	tcase_add_test(tc, test_names_in_text);
	tcase_add_test(tc, test_names_in_text_newline);
	tcase_add_test(tc, test_order_many_names);
	tcase_add_test(tc, test_repeat_branches);
	tcase_add_test(tc, test_index_large);
	tcase_add_test(tc, test_walk_random_names);
	tcase_add_test(tc, test_index_offsets_over_4gib);
	tcase_add_test(tc, test_walk_fuzz_findings);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(resolve_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
