/*
 * gen.h - FTS's implicit-mode schedule: what FinetuningScheduler
 * generates when no ft_schedule is given (docs/fts-semantics.md section 5).
 */
#ifndef FTS_GEN_H
#define FTS_GEN_H

#include <stddef.h>

#include "arena.h"
#include "manifest.h"

/*
 * The default schedule of a model, as the YAML text FTS writes with
 * yaml.dump (PyYAML 6.0 defaults, keys sorted): schedulable parameters in
 * reverse registration order, two per phase, an odd one alone in the last
 * phase.  Returns a NUL-terminated string in the arena; *len its length.
 */
char *fts_gen_schedule(struct fts_arena *a, const struct fts_manifest *m, size_t *len);

#endif /* FTS_GEN_H */
