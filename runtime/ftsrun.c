/*
 * ftsrun.c - the runtime's command-line tool.  This release knows the
 * version; plan inspection and execution commands come with the plan
 * format and the runtime (see ftsrun(1)).
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "ftsrt.h"

static const char *const usage[] = {
	"usage: ftsrun <command>",
	"",
	"commands:",
	"   version   print the libftsrt version",
	NULL,
};

int main(int argc, char **argv)
{
	if (argc >= 2 && (strcmp(argv[1], "version") == 0 || strcmp(argv[1], "--version") == 0)) {
		printf("ftsrun (libftsrt %s)\n", ftsrt_version());
		return 0;
	}
	bool help = argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0);
	if (argc >= 2 && !help)
		fprintf(stderr, "ftsrun: '%s' is not an ftsrun command\n\n", argv[1]);
	for (const char *const *u = usage; *u; u++)
		fprintf(help ? stdout : stderr, "%s\n", *u);
	return help ? 0 : 2;
}
