/*
 * yaml_front.h - the YAML front end: libyaml events to the ast.h tree.
 *
 * Reads a schedule exactly as FTS does (PyYAML 6.0 SafeLoader with FTS's
 * UniqueKeyLoader): YAML 1.1 implicit typing, the SafeLoader tags, a
 * duplicate-key check on the constructed Python keys in every mapping,
 * merge keys refused, a single document.  Hostile input is bounded:
 * nesting deeper than FTS_YAML_MAX_DEPTH and documents that expand through
 * aliases to more than FTS_YAML_MAX_WEIGHT nodes are refused.
 *
 * Aliases: an alias (*x) becomes a wrapper node, a shallow copy of the
 * anchored node's struct fts_node with the alias's span and is_alias set.
 * It shares the anchored node's text, items and pairs arrays, so the tree
 * is a DAG whose expanded size is the root's weight.  A wrapper's anchor
 * field holds the name it refers to.
 *
 * libyaml's conventions (1 = success, 0-based character marks) do not
 * escape yaml_front.c; every problem is reported through diag.h.
 */
#ifndef FTS_YAML_FRONT_H
#define FTS_YAML_FRONT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arena.h"
#include "ast.h"
#include "diag.h"
/* fts_yaml_resolve_plain(), which the DSL front end reaches through here */
#include "pyscalar.h"

#define FTS_YAML_MAX_DEPTH 256u
#define FTS_YAML_MAX_WEIGHT 10000000ull

/*
 * Parse source file `file` (already loaded into d->src) as exactly one
 * YAML document.  Returns the root node (arena-allocated), or NULL when
 * the stream is empty or its document is null (*empty = true), or on error
 * (diagnostics reported; the caller checks d->errors).
 */
struct fts_node *fts_yaml_parse(struct fts_arena *a, struct fts_diags *d,
				uint32_t file, bool *empty);

/*
 * Parse a YAML text given on the command line (e.g. --initial-optimizer
 * '{class_path: torch.optim.SGD}'): adds it to d->src under `name` and
 * parses it.  An empty or null text gives NULL without a diagnostic.
 */
struct fts_node *fts_yaml_parse_text(struct fts_arena *a, struct fts_diags *d,
				     const char *name, const char *text, size_t len);

#endif /* FTS_YAML_FRONT_H */
