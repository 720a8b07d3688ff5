/*
 * pyre_uninames.c - unicodedata.lookup() for Python's `\N{NAME}` escape.
 *
 * Stage: a helper of the regex translator (pyre_translate.c), which reads
 * \N{...} in patterns and classes.  Names come from the table ftsc carries
 * (uninames.h, generated) and from the algorithmic names Python computes:
 * CJK, Tangut, Khitan and Nushu ideographs by code point, Hangul syllables
 * from their jamo.
 */
#include "pyre_internal.h"

#include <string.h>

#include "uninames.h"

static int t_upper(int c)
{
	return c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c;
}

/* "CJK UNIFIED IDEOGRAPH-4E00" and its kin: the hex in one of the ranges. */
static bool name_hex(const char *q, const char *prefix, const uint32_t (*r)[2], size_t nr, uint32_t *cp)
{
	size_t pl = strlen(prefix), n = strlen(q);
	if (strncmp(q, prefix, pl) != 0 || (n - pl != 4 && n - pl != 5))
		return false;
	uint32_t v = 0;
	for (size_t k = pl; k < n; k++) {
		int h = q[k] >= '0' && q[k] <= '9' ? q[k] - '0' : q[k] >= 'A' && q[k] <= 'F' ? q[k] - 'A' + 10 : -1;
		if (h < 0)
			return false;
		v = v * 16 + (uint32_t)h;
	}
	for (size_t k = 0; k < nr; k++)
		if (v >= r[k][0] && v <= r[k][1]) {
			*cp = v;
			return true;
		}
	return false;
}

/* The longest of names[0..n) that s starts with (index, or -1); "" matches. */
static int jamo(const char *s, const char *const *names, int n, size_t *len)
{
	int best = -1;
	*len = 0;
	for (int k = 0; k < n; k++) {
		size_t l = strlen(names[k]);
		if (strncmp(s, names[k], l) == 0 && (best < 0 || l > *len)) {
			best = k;
			*len = l;
		}
	}
	return best;
}

static bool hangul(const char *q, uint32_t *cp)
{
	static const char *const L[] = {"G", "GG", "N", "D", "DD", "R", "M", "B", "BB", "S", "SS", "", "J",
					"JJ", "C", "K", "T", "P", "H"};
	static const char *const V[] = {"A", "AE", "YA", "YAE", "EO", "E", "YEO", "YE", "O", "WA", "WAE",
					"OE", "YO", "U", "WEO", "WE", "WI", "YU", "EU", "YI", "I"};
	static const char *const T[] = {"", "G", "GG", "GS", "N", "NJ", "NH", "D", "L", "LG", "LM", "LB",
					"LS", "LT", "LP", "LH", "M", "B", "BS", "S", "SS", "NG", "J", "C",
					"K", "T", "P", "H"};
	static const char prefix[] = "HANGUL SYLLABLE ";
	if (strncmp(q, prefix, sizeof(prefix) - 1) != 0)
		return false;
	const char *s = q + sizeof(prefix) - 1;
	size_t n;
	int l = jamo(s, L, 19, &n);
	s += n;
	int v = jamo(s, V, 21, &n);
	s += n;
	int tt = jamo(s, T, 28, &n);
	s += n;
	if (l < 0 || v < 0 || tt < 0 || *s)
		return false;
	*cp = 0xAC00u + (uint32_t)((l * 21 + v) * 28 + tt);
	return true;
}

/* unicodedata.lookup (case-insensitive), as Python 3.11 has it; see uninames.h
 * for the names ftsc carries.  Documented in pyre_internal.h. */
bool pyre_uni_lookup(const char *name, size_t n, uint32_t *cp)
{
	static const uint32_t cjk[][2] = {{0x3400, 0x4DBF}, {0x4E00, 0x9FFF}, {0x20000, 0x2A6DF},
					  {0x2A700, 0x2B739}, {0x2B740, 0x2B81D}, {0x2B820, 0x2CEA1},
					  {0x2CEB0, 0x2EBE0}, {0x30000, 0x3134A}};
	static const uint32_t compat[][2] = {{0xF900, 0xFA6D}, {0xFA70, 0xFAD9}, {0x2F800, 0x2FA1D}};
	static const uint32_t tangut[][2] = {{0x17000, 0x187F7}, {0x18D00, 0x18D08}};
	static const uint32_t khitan[][2] = {{0x18B00, 0x18CD5}};
	static const uint32_t nushu[][2] = {{0x1B170, 0x1B2FB}};
	char q[128];
	if (n == 0 || n >= sizeof(q))
		return false;
	for (size_t k = 0; k < n; k++)
		q[k] = (char)(t_upper((unsigned char)name[k]));
	q[n] = '\0';
	if (name_hex(q, "CJK UNIFIED IDEOGRAPH-", cjk, 8, cp) ||
	    name_hex(q, "CJK COMPATIBILITY IDEOGRAPH-", compat, 3, cp) ||
	    name_hex(q, "TANGUT IDEOGRAPH-", tangut, 2, cp) ||
	    name_hex(q, "KHITAN SMALL SCRIPT CHARACTER-", khitan, 1, cp) ||
	    name_hex(q, "NUSHU CHARACTER-", nushu, 1, cp) || hangul(q, cp))
		return true;
	size_t lo = 0, hi = sizeof(uninames) / sizeof(uninames[0]);
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = strcmp(uninames[mid].name, q);
		if (c == 0) {
			*cp = uninames[mid].cp;
			return true;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return false;
}
