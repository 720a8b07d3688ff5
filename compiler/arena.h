/*
 * arena.h - bump allocator for one compilation.
 *
 * Every object the compiler builds (source copies, AST, IR, interned
 * strings) lives in one arena and is freed at once by fts_arena_release().
 * Nothing is freed individually, so error paths leak nothing by
 * construction.  Allocation failure is fatal for the compiler (it prints
 * "ftsc: out of memory" and exits with status 3); the runtime never uses
 * this allocator.
 */
#ifndef FTS_ARENA_H
#define FTS_ARENA_H

#include <stdarg.h>
#include <stddef.h>

struct fts_arena_block;

struct fts_arena {
	struct fts_arena_block *head;   /* newest block first */
	size_t used;                    /* bytes handed out, all blocks */
};

void fts_arena_init(struct fts_arena *a);
void fts_arena_release(struct fts_arena *a);

/* Zeroed memory, aligned to 16 bytes, valid until fts_arena_release(). */
void *fts_arena_alloc(struct fts_arena *a, size_t n);
/* Like fts_arena_alloc, without zeroing: for buffers filled at once. */
void *fts_arena_alloc_raw(struct fts_arena *a, size_t n);
/* Grow an array allocated from the arena: returns a copy of old[0..oldn)
 * in a block of newn bytes (the old block is simply abandoned). */
void *fts_arena_realloc(struct fts_arena *a, void *old, size_t oldn, size_t newn);
char *fts_arena_strndup(struct fts_arena *a, const char *s, size_t n);
char *fts_arena_strdup(struct fts_arena *a, const char *s);
char *fts_arena_printf(struct fts_arena *a, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
char *fts_arena_vprintf(struct fts_arena *a, const char *fmt, va_list ap);

/* Process-wide helpers for the few heap objects outside an arena. */
void *fts_xmalloc(size_t n);
/* For large buffers: like fts_xmalloc, but backed by transparent huge
 * pages when the system allows (free() as usual). */
void *fts_xmalloc_big(size_t n);
void *fts_xcalloc(size_t n, size_t size);
void *fts_xrealloc(void *p, size_t n);
char *fts_xstrdup(const char *s);
_Noreturn void fts_oom(void);

/* Dynamic array on the heap (not the arena): FTS_VEC(int) v = {0}; */
#define FTS_VEC(T) struct { T *v; size_t n, cap; }
#define FTS_VEC_PUSH(vec, x) do { \
	if ((vec).n == (vec).cap) { \
		(vec).cap = (vec).cap ? 2 * (vec).cap : 8; \
		(vec).v = fts_xrealloc((vec).v, (vec).cap * sizeof(*(vec).v)); \
	} \
	(vec).v[(vec).n++] = (x); \
} while (0)
#define FTS_VEC_FREE(vec) do { free((vec).v); (vec).v = NULL; (vec).n = (vec).cap = 0; } while (0)

#endif /* FTS_ARENA_H */
