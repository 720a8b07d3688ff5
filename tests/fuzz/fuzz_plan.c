/*
 * fuzz_plan.c - libFuzzer harness for the plan loader (runtime/plan.c).
 *
 *   make fuzz FUZZ_SECONDS=60
 *
 * Every input goes through ftsrt_plan_open_mem; a refusal must fill its
 * ftsrt_error; an input that opens is read through ftsrt_plan_param and
 * ftsrt_plan_phase, listed (ftsrt_plan_dump to /dev/null) and its lr_lambda
 * programs are evaluated, so everything the view points at is read.  The
 * loader must refuse or accept without any sanitizer report (the names,
 * front-coded in the file, are decoded by the first ftsrt_plan_param).  Seeds: the plans that
 * tests/fuzz/seed_plan.sh builds (written into the corpus by `make fuzz`).
 *
 * CRCs would stop almost every mutation at the checksum, so each input is
 * also tried a second time with its CRCs recomputed ("resealed") wherever
 * its header and section table lie inside the input: that drives the
 * fuzzer into the per-section checks behind the checksums.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ftsrt.h"
#include "lambda.h"
#include "plan.h"
#include "plan_format.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Recompute every CRC whose bytes lie inside b[0..n). */
static void reseal(uint8_t *b, size_t n)
{
	if (n < PLAN_HEADER_SIZE)
		return;
	uint32_t ns = PLAN_GET(HDR, b, section_count);
	if (ns > PLAN_MAX_SECTIONS || PLAN_HEADER_SIZE + (size_t)ns * PLAN_SECTION_ENTRY > n)
		return;
	for (uint32_t i = 0; i < ns; i++) {
		uint8_t *e = b + PLAN_HEADER_SIZE + PLAN_SECTION_ENTRY * (size_t)i;
		uint64_t off = PLAN_GET(SECT, e, offset), len = PLAN_GET(SECT, e, length);
		if (off <= n && len <= n - off)
			PLAN_SET(SECT, e, crc32c, plan_crc32c(0, b + off, (size_t)len));
	}
	uint32_t crc = plan_crc32c(0, b, PLAN_HEADER_CRC_SPAN);
	PLAN_SET(HDR, b, header_crc32c,
		 plan_crc32c(crc, b + PLAN_HEADER_SIZE, PLAN_SECTION_ENTRY * (size_t)ns));
}

static void exercise(const uint8_t *data, size_t size)
{
	static FILE *null;
	ftsrt_plan *p;
	ftsrt_error err;

	if (!null)
		null = fopen("/dev/null", "w");
	int rc = ftsrt_plan_open_mem(&p, data, size, NULL, &err);
	if (rc != FTSRT_OK) {
		/* a refusal is reported, with a message */
		if (err.status != rc || !memchr(err.message, '\0', sizeof(err.message)) || !err.message[0])
			abort();
		return;
	}
	const struct rt_plan *v = rt_plan_view(p);
	for (uint32_t i = 0; i < v->nclasses; i++) {
		struct rt_lambda l;
		double out;
		if (v->classes[i].lambda &&
		    rt_lambda_validate(v->classes[i].lambda, v->classes[i].lambda_len, &l, NULL) == 0)
			rt_lambda_eval(&l, 3.0, &out, NULL);
	}
	/* the public accessors over everything the plan holds */
	for (int32_t i = 0; i < ftsrt_plan_nparams(p); i++) {
		struct ftsrt_plan_param pp = FTSRT_INIT(struct ftsrt_plan_param);
		if (ftsrt_plan_param(p, i, &pp, NULL) != FTSRT_OK || (pp.ndim > 0 && !pp.dims) ||
		    !pp.name || !pp.name[0])
			abort();
	}
	for (int32_t i = 0; i < ftsrt_plan_nphases(p); i++) {
		struct ftsrt_plan_phase ph = FTSRT_INIT(struct ftsrt_plan_phase);
		if (ftsrt_plan_phase(p, i, &ph, NULL) != FTSRT_OK || ph.nparams < 0 ||
		    (ph.nparams > 0 && !ph.params))
			abort();
		for (int32_t k = 0; k < ph.nparams; k++)
			if (ph.params[k] < 0 || ph.params[k] >= ftsrt_plan_nparams(p))
				abort();
	}
	if (null)
		ftsrt_plan_dump(p, null, FTSRT_DUMP_ALL, NULL);
	ftsrt_plan_close(p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	exercise(data, size);
	uint8_t *copy = malloc(size ? size : 1);
	if (!copy)
		return 0;
	memcpy(copy, data, size);
	reseal(copy, size);
	exercise(copy, size);
	free(copy);
	return 0;
}
