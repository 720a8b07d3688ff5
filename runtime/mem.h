/*
 * mem.h - the runtime's default allocator, the one every libftsrt object
 * uses when its caller gives none (ftsrt_alloc_fn, lua_Alloc style).
 */
#ifndef RT_MEM_H
#define RT_MEM_H

#include <stddef.h>

/* realloc/free behind the ftsrt_alloc_fn contract: nsize 0 frees. */
void *rt_default_alloc(void *ud, void *ptr, size_t osize, size_t nsize);

#endif /* RT_MEM_H */
