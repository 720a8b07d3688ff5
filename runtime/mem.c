/*
 * mem.c - the runtime's default allocator (see mem.h).
 */
#include "mem.h"

#include <stdlib.h>

void *rt_default_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
	(void)ud;
	(void)osize;
	if (nsize == 0) {
		free(ptr);
		return NULL;
	}
	return realloc(ptr, nsize);
}
