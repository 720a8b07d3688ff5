/*
 * fuzz_resume.c - libFuzzer harness for checkpoint resume: the input is a
 * run-state checkpoint (seeds: real ones), resumed into a fresh run of the
 * plan FUZZ_PLAN names; whether the resume is taken or refused, the run
 * then trains on for a few epochs.  A refused resume must leave a usable
 * run (the use-after-free this harness exists for); nothing may crash,
 * leak or read out of bounds.  One input in two resumes into an external
 * run (libftsrt 1.2: nothing bound, checkpoints without parameters).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ckpt.h"
#include "ftsrt.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static ftsrt_plan *plan;
static char path[64];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	const char *pp = getenv("FUZZ_PLAN");
	ftsrt_error err;
	if (!pp || ftsrt_plan_open(&plan, pp, NULL, &err) != FTSRT_OK) {
		fprintf(stderr, "fuzz_resume: set FUZZ_PLAN to a plan (%s)\n", pp ? err.message : "unset");
		exit(2);
	}
	snprintf(path, sizeof(path), "/tmp/fuzz_resume.%ld.ftsckpt", (long)getpid());
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* most mutations would only meet the CRC: seal the header's size and the
	 * CRC again (half the time) so that the body's reader is what is fuzzed */
	uint8_t *img = malloc(size ? size : 1);
	if (!img)
		abort();
	memcpy(img, data, size);
	if (size >= RT_CKPT_HEADER + 4 && (data[size - 1] & 1)) {
		for (int k = 0; k < 8; k++)
			img[16 + k] = (uint8_t)((uint64_t)size >> (8 * k));
		uint32_t crc = rt_crc32c(0, img, size - 4);
		for (int k = 0; k < 4; k++)
			img[size - 4 + k] = (uint8_t)(crc >> (8 * k));
	}
	FILE *f = fopen(path, "wb");
	if (!f || fwrite(img, 1, size, f) != size || fclose(f) != 0)
		abort();
	free(img);
	struct ftsrt_run_options o = FTSRT_INIT(struct ftsrt_run_options);
	if (ftsrt_run_options_default(&o, NULL) != FTSRT_OK)
		abort();
	o.scale = 0.1;
	o.external = size > 1 && (data[size - 1] & 2);
	ftsrt_run *r = NULL;
	if (ftsrt_run_new(&r, plan, &o, NULL) != FTSRT_OK)
		abort();
	size_t n = ftsrt_run_arena_numel(r);
	float *p = calloc(n ? n : 1, sizeof(float)), *g = calloc(n ? n : 1, sizeof(float));
	for (size_t i = 0; i < n; i++)
		p[i] = 0.01f * (float)(i % 17);
	if ((ftsrt_run_bind_arena(r, p, g, n, 0, NULL) != FTSRT_OK) != o.external)
		abort();                /* an external run binds nothing */
	/* a refusal must say why, in err, with the status it returns */
	ftsrt_error err;
	int rc = ftsrt_run_resume(r, path, &err);
	if (rc != FTSRT_OK && (err.status != rc || !memchr(err.message, 0, sizeof(err.message)) ||
			       !err.message[0]))
		abort();
	/* trains on either way */
	for (int e = 0; e < 3 && !ftsrt_run_finished(r); e++) {
		for (int s = 0; s < 2; s++) {
			for (size_t i = 0; i < n; i++)
				g[i] = p[i] * 0.5f;
			if (ftsrt_run_step(r, NULL) != FTSRT_OK)
				break;
		}
		struct ftsrt_run_event ev = FTSRT_INIT(struct ftsrt_run_event);
		(void)ftsrt_run_epoch_end(r, 1.0 / (e + 1), NULL);
		while (ftsrt_run_next_event(r, &ev, NULL))
			;
	}
	ftsrt_run_free(r);
	free(p);
	free(g);
	unlink(path);
	return 0;
}
