/*
 * parse_floor.c - the floor under `ftsc check`'s manifest stage: map an
 * ftsc-manifest v1 file and split it into names and fields, nothing more.
 *
 *   parse_floor MANIFEST.tsv
 *
 * Every line is split at its tabs with memchr(); the name (first field)
 * is recorded as an offset and a length in one array, as any resolver
 * needs it, and the other four fields are only counted.  No validation,
 * no index, no sort.  Prints the number of names and a checksum of the
 * fields' lengths (so that nothing is optimised away).
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

struct name {
	uint32_t off, len;
};

int main(int argc, char **argv)
{
	struct stat st;
	int fd = argc == 2 ? open(argv[1], O_RDONLY) : -1;

	if (fd < 0 || fstat(fd, &st) != 0 || st.st_size == 0) {
		fprintf(stderr, "usage: parse_floor MANIFEST.tsv (a non-empty file)\n");
		return 2;
	}
	size_t len = (size_t)st.st_size;
	const char *t = mmap(NULL, len, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
	if (t == MAP_FAILED) {
		perror("mmap");
		return 1;
	}
	/* at most one name per two bytes; only the pages written are touched */
	struct name *v = malloc((len / 2 + 1) * sizeof(*v));
	size_t n = 0, fields = 0;
	uint64_t sum = 0;
	const char *p = t, *end = t + len;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *e = nl ? nl : end, *f = p;
		if (*p != '#' && e > p) {
			for (int k = 0; f <= e; k++) {
				const char *tab = memchr(f, '\t', (size_t)(e - f));
				const char *fe = tab ? tab : e;
				if (k == 0)
					v[n++] = (struct name){(uint32_t)(f - t), (uint32_t)(fe - f)};
				sum += (uint64_t)(fe - f);
				fields++;
				f = fe + 1;
			}
		}
		p = e + 1;
	}
	printf("%zu names, %zu fields, checksum %llu\n", n, fields, (unsigned long long)sum);
	free(v);
	munmap((void *)t, len);
	close(fd);
	return 0;
}
