/*
 * pyscalar.h - a scalar's text typed as PyYAML 6.0 types it (YAML 1.1
 * implicit resolver, SafeConstructor), with Python's int() underneath.
 *
 * Stage: front end.  Used by the YAML front end (yaml_front.c) for every
 * scalar it reads, and by the DSL front end and writer (dsl.c, dsl_emit.c)
 * to ask what PyYAML would make of a text.  Pure functions of the node's
 * text: nothing is allocated that outlives the call.
 */
#ifndef FTS_PYSCALAR_H
#define FTS_PYSCALAR_H

#include "ast.h"

/* The prefix of the YAML 1.1 tags ("!!int" is FTS_YAML_TAG_PREFIX "int"). */
#define FTS_YAML_TAG_PREFIX "tag:yaml.org,2002:"

/*
 * PyYAML's typing of one scalar, for the DSL front end and the tests:
 * fills n->py, b, i, i_big, f from n->text/len as the YAML 1.1 implicit
 * resolver and SafeConstructor do for a plain scalar.  Returns 0, or -1
 * when the resolver picks int or float but the constructor raises (0b_).
 */
int fts_yaml_resolve_plain(struct fts_node *n);

/*
 * A scalar with the explicit tag `tag`, built as SafeConstructor builds it:
 * fills n->py (and b, i, i_big, f) from n->text/len and returns 0.
 * Returns -1 when the constructor raises (*why: the reason, e.g. "invalid
 * literal for int()" or "expected a sequence node, but found scalar") or
 * when PyYAML has no constructor for the tag (*why untouched); n->py is
 * then not meaningful.
 */
int fts_yaml_resolve_tagged(struct fts_node *n, const char *tag, const char **why);

#endif /* FTS_PYSCALAR_H */
