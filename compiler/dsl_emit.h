/*
 * dsl_emit.h - document tree -> text: the schedule language (convert --to
 * dsl, fmt) and YAML (convert --to yaml).
 *
 * Stage: back end of `ftsc convert` and `ftsc fmt`; reads only ast.h trees,
 * so either front end's output can be written in either syntax.  The
 * schedule-language writer is dsl_emit.c, the YAML writer yaml_emit.c.
 *
 * Fidelity: the text written parses back (with the other front end) to a
 * tree with the same kinds, keys in the same order, scalars of the same
 * Python type and value, and parameter entries that resolve to the same
 * parameters on every model.  Number texts are kept when the target syntax
 * reads them as the same value, else written canonically (1.0e-05).
 * Regexes become globs only when they match exactly the same names under
 * FTS's re.match on every name without a newline (fts_dsl_regex_to_glob in
 * glob.h); other entries stay re"...".  What one syntax cannot hold is
 * reported as FTS_W_DSL_LOSSY.
 *
 * Returned text is NUL-terminated and lives in the arena.
 */
#ifndef FTS_DSL_EMIT_H
#define FTS_DSL_EMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arena.h"
#include "ast.h"
#include "diag.h"

/*
 * The schedule language text of root: a bare schedule (phase mapping) or a
 * config-shaped tree (fts_dsl_parse's, or a LightningCLI config's
 * FinetuningScheduler parts).  Canonical layout: settings first, then one
 * `phase N { ... }` block per phase, tabs, one statement a line.
 */
char *fts_dsl_from_tree(struct fts_arena *a, struct fts_diags *d, const struct fts_node *root,
			size_t *len);

/*
 * Block-style YAML of any node (a schedule, a config), as PyYAML reads it
 * back: strings that would resolve to another type are quoted, floats
 * carry a '.' (1.0e-05).  Returns NULL after reporting FTS_E_DSL_REST when
 * the tree still holds a `rest` selector (expand it first).
 */
char *fts_yaml_from_tree(struct fts_arena *a, struct fts_diags *d, const struct fts_node *n,
			 size_t *len);

/*
 * DSL tree -> the files FTS and LightningCLI read.  *schedule receives the
 * FTS schedule (phase mapping) YAML.  When the tree holds more than a
 * schedule (initial optimizer/scheduler, max_epochs, FinetuningScheduler
 * settings), *config receives a LightningCLI config holding them, whose
 * ft_schedule is schedule_path (when not NULL) or the schedule inline;
 * otherwise *config is NULL.  Returns 0, or -1 after reporting errors.
 */
int fts_dsl_to_yaml(struct fts_arena *a, struct fts_diags *d, const struct fts_node *root,
		    const char *schedule_path, char **schedule, size_t *schedule_len,
		    char **config, size_t *config_len);

/* `ftsc fmt`: parse file (a DSL source in d->src) and return its canonical
 * text, or NULL after reporting syntax errors.  Idempotent. */
char *fts_dsl_format(struct fts_arena *a, struct fts_diags *d, uint32_t file, size_t *len);

#endif /* FTS_DSL_EMIT_H */
