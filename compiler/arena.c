/*
 * arena.c - bump allocator (see arena.h for the contract).
 */
#include "arena.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define ARENA_BLOCK 65536
#define ARENA_ALIGN 16

struct fts_arena_block {
	struct fts_arena_block *next;   /* older block */
	size_t size;                    /* usable bytes in data[] */
	size_t off;                     /* first free byte */
	_Alignas(16) unsigned char data[];
};

_Noreturn void fts_oom(void)
{
	fputs("ftsc: out of memory\n", stderr);
	exit(3);
}

#define HUGE_ALIGN ((size_t)2 << 20)

void *fts_xmalloc_big(size_t n)
{
	if (n < HUGE_ALIGN)
		return fts_xmalloc(n);
	/* 500k-parameter manifests touch tens of MB at once: ask for
	 * transparent huge pages so the first touch costs 512x fewer faults */
	void *p = NULL;
	size_t sz = (n + HUGE_ALIGN - 1) & ~(HUGE_ALIGN - 1);
	if (posix_memalign(&p, HUGE_ALIGN, sz) != 0)
		fts_oom();
#ifdef MADV_HUGEPAGE
	if (!getenv("FTSC_NO_THP")) madvise(p, sz, MADV_HUGEPAGE);
#endif
	return p;
}

void *fts_xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p)
		fts_oom();
	return p;
}

void *fts_xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);
	if (!p)
		fts_oom();
	return p;
}

void *fts_xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);
	if (!q)
		fts_oom();
	return q;
}

char *fts_xstrdup(const char *s)
{
	size_t n = strlen(s) + 1;
	char *p = fts_xmalloc(n);
	memcpy(p, s, n);
	return p;
}

void fts_arena_init(struct fts_arena *a)
{
	a->head = NULL;
	a->used = 0;
}

void fts_arena_release(struct fts_arena *a)
{
	struct fts_arena_block *b = a->head;
	while (b) {
		struct fts_arena_block *next = b->next;
		free(b);
		b = next;
	}
	a->head = NULL;
	a->used = 0;
}

void *fts_arena_alloc(struct fts_arena *a, size_t n)
{
	void *p = fts_arena_alloc_raw(a, n);
	memset(p, 0, n);
	return p;
}

void *fts_arena_alloc_raw(struct fts_arena *a, size_t n)
{
	struct fts_arena_block *b = a->head;
	size_t need = (n + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
	if (need < n)
		fts_oom();
	if (!b || b->size - b->off < need) {
		size_t size = need > ARENA_BLOCK / 4 ? need : ARENA_BLOCK;
		if (size > SIZE_MAX - sizeof(*b))
			fts_oom();
		b = fts_xmalloc_big(sizeof(*b) + size);
		b->size = size;
		b->off = 0;
		if (size == need && a->head) {
			/* a large one-off block: keep the current block in front */
			b->next = a->head->next;
			a->head->next = b;
		} else {
			b->next = a->head;
			a->head = b;
		}
	}
	void *p = b->data + b->off;
	b->off += need;
	a->used += need;
	return p;
}

void *fts_arena_realloc(struct fts_arena *a, void *old, size_t oldn, size_t newn)
{
	void *p = fts_arena_alloc(a, newn);
	if (old && oldn)
		memcpy(p, old, oldn < newn ? oldn : newn);
	return p;
}

char *fts_arena_strndup(struct fts_arena *a, const char *s, size_t n)
{
	char *p = fts_arena_alloc(a, n + 1);
	if (n)
		memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

char *fts_arena_strdup(struct fts_arena *a, const char *s)
{
	return fts_arena_strndup(a, s, strlen(s));
}

char *fts_arena_vprintf(struct fts_arena *a, const char *fmt, va_list ap)
{
	va_list cp;
	va_copy(cp, ap);
	int n = vsnprintf(NULL, 0, fmt, cp);
	va_end(cp);
	if (n < 0)
		n = 0;
	char *p = fts_arena_alloc(a, (size_t)n + 1);
	vsnprintf(p, (size_t)n + 1, fmt, ap);
	return p;
}

char *fts_arena_printf(struct fts_arena *a, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *p = fts_arena_vprintf(a, fmt, ap);
	va_end(ap);
	return p;
}
