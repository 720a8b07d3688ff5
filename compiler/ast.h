/*
 * ast.h - the schedule document tree both front ends produce.
 *
 * A schedule (or a LightningCLI config) is a tree of mappings, sequences
 * and scalars.  The YAML front end (yaml_front.c) builds it from libyaml
 * events; the DSL front end builds the same tree from the ftsc language.
 * Everything after the front ends (lowering, checks, emission) reads only
 * this tree, so both syntaxes share every rule and every diagnostic.
 *
 * Scalars keep their text and the type PyYAML's YAML 1.1 resolver (and so
 * FTS) gives them: `1e-5` is a string to FTS, `1.0e-5` a float, `yes` a
 * boolean.  fts_node_number() gives ftsc's own numeric reading (YAML 1.2
 * core rules), and says when it differs from FTS's.
 *
 * All nodes live in the compilation's arena.  An alias shares the node of
 * its anchor (no copy), so the tree is a DAG; fts_node.weight bounds the
 * size of the expanded tree.
 */
#ifndef FTS_AST_H
#define FTS_AST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "source.h"

struct fts_arena;
struct fts_diags;

enum fts_node_kind {
	FTS_N_SCALAR,
	FTS_N_SEQ,
	FTS_N_MAP,
};

/* What Python object PyYAML's SafeLoader constructs for a scalar. */
enum fts_py_type {
	FTS_PY_NONE,                    /* ~, null, empty */
	FTS_PY_BOOL,                    /* yes/no/on/off/true/false */
	FTS_PY_INT,                     /* 010 is octal, 1:30 is 90, 1_000 */
	FTS_PY_FLOAT,                   /* 1.0e-5 (1e-5 is a string) */
	FTS_PY_STR,
	FTS_PY_TIMESTAMP,               /* 2001-12-14: a datetime object */
};

struct fts_node;

struct fts_pair {
	struct fts_node *key;
	struct fts_node *value;
};

struct fts_node {
	enum fts_node_kind kind;
	struct fts_span span;           /* the whole node in its source */
	const char *tag;                /* explicit tag as written, or NULL */
	const char *anchor;             /* anchor name (&x), or NULL */
	bool is_alias;                  /* reached through *x (span = alias) */
	uint64_t weight;                /* nodes in the expanded subtree, saturating */

	/* FTS_N_SCALAR */
	const char *text;               /* scalar value after unescaping, NUL-terminated */
	size_t len;                     /* bytes in text (may contain NUL) */
	bool quoted;                    /* quoted or block scalar: never resolved */
	enum fts_py_type py;            /* PyYAML's type */
	bool b;                         /* FTS_PY_BOOL value */
	int64_t i;                      /* FTS_PY_INT value when !i_big */
	bool i_big;                     /* FTS_PY_INT beyond int64 (Python has bignums) */
	double f;                       /* FTS_PY_FLOAT value; for FTS_PY_INT, (double)value */

	/* FTS_N_SEQ */
	struct fts_node **items;
	size_t nitems;

	/* FTS_N_MAP, in document order */
	struct fts_pair *pairs;
	size_t npairs;
};

/* Map lookup by a string key (keys that PyYAML reads as str only). */
struct fts_pair *fts_node_get(const struct fts_node *map, const char *key);
/* The value under that key, or NULL (no such key, or map is not a mapping). */
const struct fts_node *fts_node_value(const struct fts_node *map, const char *key);
bool fts_node_is_str(const struct fts_node *n);
bool fts_node_is_map(const struct fts_node *n);
/* True for a mapping/sequence/scalar Python would call falsy:
 * None, False, 0, 0.0, "", [], {}. */
bool fts_node_falsy(const struct fts_node *n);
const char *fts_node_kind_name(const struct fts_node *n);

/*
 * (Implemented with PyYAML's scalar rules in pyscalar.c.)
 * Python float(x) of the object FTS holds for this node.  Returns true and
 * stores the value when float() succeeds (str: Python's float syntax,
 * whitespace, underscores, inf/nan; bool: 0/1; int; float), false when it
 * raises (None, lists, dicts, non-numeric strings).
 */
bool fts_node_pyfloat(const struct fts_node *n, double *out);
/* Python float() of a string. */
bool fts_pyfloat_str(const char *s, size_t len, double *out);
/*
 * Python int(x) of the object FTS holds (used for phase keys).  Returns
 * 0 on success, -1 when int() raises.  *big is set when the value does not
 * fit in int64 (stored saturated).
 */
int fts_node_pyint(const struct fts_node *n, int64_t *out, bool *big);

/*
 * ftsc's numeric reading of a scalar: YAML 1.2 core rules, so `1e-5` is a
 * number.  Returns true for a number and sets *out.  *fts_string is set
 * when FTS (PyYAML 1.1) reads the same text as a string.
 */
bool fts_node_number(const struct fts_node *n, double *out, bool *fts_string);

/* A short human description of a value, for messages: 'abc', 1e-05, a mapping. */
const char *fts_node_describe(struct fts_arena *a, const struct fts_node *n);

/*
 * Report FTS_E_UNKNOWN_KEY for each key of the mapping `map` that is not a
 * string in `known` (NULL-terminated); `where` names the mapping in the
 * message.  A near miss gets a "did you mean" help, anything else the list
 * of known keys.  Shared by the schedule lowering and the config reader.
 */
void fts_node_check_keys(struct fts_arena *a, struct fts_diags *d, const struct fts_node *map,
			 const char *const *known, const char *where);

#endif /* FTS_AST_H */
