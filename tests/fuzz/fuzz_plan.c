/*
 * fuzz_plan.c - libFuzzer harness for the plan loader (runtime/plan.c).
 *
 *   make fuzz FUZZ_SECONDS=60
 *
 * Every input goes through ftsrt_plan_open_mem; an input that opens is
 * listed (ftsrt_plan_dump to /dev/null) and its lr_lambda programs are
 * evaluated, so everything the view points at is read.  The loader must
 * refuse or accept without any sanitizer report.  Seeds: the plans that
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
	char msg[256];

	if (!null)
		null = fopen("/dev/null", "w");
	if (ftsrt_plan_open_mem(&p, data, size, msg, sizeof(msg)) != FTSRT_OK)
		return;
	const struct rt_plan *v = rt_plan_view(p);
	for (uint32_t i = 0; i < v->nclasses; i++) {
		struct rt_lambda l;
		double out;
		if (v->classes[i].lambda &&
		    rt_lambda_validate(v->classes[i].lambda, v->classes[i].lambda_len, &l, NULL) == 0)
			rt_lambda_eval(&l, 3.0, &out, NULL);
	}
	if (null)
		ftsrt_plan_dump(p, null, FTSRT_DUMP_ALL);
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
