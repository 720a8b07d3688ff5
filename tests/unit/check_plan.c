/*
 * check_plan.c - the binary plan: writer (compiler/emit.c) and reader
 * (runtime/plan.c) round trip, determinism, the lr_lambda emitter against
 * the runtime's own translator, and corruption: every byte flipped, every
 * truncation and appended bytes must be refused by ftsrt_plan_open with a
 * status and no crash (run it under `make SANITIZE=address,undefined`); and
 * the interface's conventions on the plan functions (ftsrt.h, CONVENTIONS:
 * ftsrt_error, struct_size of options in and of structs out).
 *
 * The model is FTS's FinetuningSchedulerBoringModel (M1): SGD(lr 1e-3,
 * weight_decay 1e-6) with StepLR(step_size 1, gamma 0.7).
 */
#include <ctype.h>
#include <check.h>
#include <sys/stat.h>
#include <unistd.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "decl.h"
#include "diag.h"
#include "driver.h"
#include "emit.h"
#include "err_check.h"
#include "ftsrt.h"
#include "lambda.h"
#include "lambda_emit.h"
#include "plan.h"
#include "plan_format.h"
#include "plan_names.h"
#include "plan_records.h"

#define BORING "tests/data/manifests/fts-boring-model.tsv"
#define SCHED "tests/schedules/boring_"
#define M1_OPT "{class_path: torch.optim.SGD, init_args: {lr: 0.001, weight_decay: 1.0e-06}}"
#define M1_LRS "{class_path: torch.optim.lr_scheduler.StepLR, init_args: {step_size: 1, gamma: 0.7}}"

struct built {
	uint8_t *buf;
	size_t len;
};

/* Compile and emit a plan; fails the test on any problem. */
static struct built build(const char *schedule, const char *opt, bool strip)
{
	struct fts_sources src;
	struct fts_diags d;
	struct fts_compile c;
	struct fts_check_input in = {0};
	struct built b = {NULL, 0};
	char err[512];

	fts_settings_default(&in.settings);
	in.schedule = schedule;
	in.manifest = BORING;
	in.initial_optimizer = opt;
	in.initial_lr_scheduler = M1_LRS;
	fts_sources_init(&src);
	fts_diags_init(&d, &src);
	ck_assert_int_eq(fts_compile_run(&in, &d, &c), 0);
	ck_assert_uint_eq(d.errors, 0);
	int rc = fts_emit_plan(&c, &src, strip, &b.buf, &b.len, err, sizeof(err));
	ck_assert_msg(rc == 0, "emit failed: %s", err);
	fts_compile_release(&c);
	fts_diags_release(&d);
	fts_sources_release(&src);
	return b;
}

static struct built sample(void)
{
	return build(SCHED "reinit_optim_lr.yaml", M1_OPT, false);
}

START_TEST(test_round_trip)
{
	struct built b = sample();
	ftsrt_plan *p;
	ftsrt_error err;
	int rc = ftsrt_plan_open_mem(&p, b.buf, b.len, NULL, &err);
	ck_assert_msg(rc == FTSRT_OK, "open: %s", err.message);
	const struct rt_plan *v = rt_plan_view(p);
	ck_assert_uint_eq(v->nparams, 8);
	ck_assert_uint_eq(v->nphases, 4);
	ck_assert_int_eq(v->max_depth, 3);
	ck_assert_int_eq(v->initial_optimizer, 0);
	ck_assert_int_eq(v->initial_scheduler, 1);
	ck_assert_str_eq(v->classes[0].class_path, "torch.optim.SGD");
	ck_assert(!v->classes[0].scheduler);
	ck_assert(v->classes[1].scheduler);
	ck_assert_str_eq(rt_plan_param_name(v, 6), "model.3.weight");
	ck_assert_uint_eq(rt_plan_param_shape(v, 6)->numel, 64);
	ck_assert_str_eq(rt_plan_param_shape(v, 6)->dtype_name, "float32");
	ck_assert_ptr_eq(rt_plan_names(v), rt_plan_names(v));     /* decoded once */
	ck_assert(!v->stripped);
	ck_assert_ptr_nonnull(v->phases[1].src_file);
	ck_assert_uint_gt(v->phases[1].src_line, 1);
	ck_assert(v->es.present);
	ck_assert_str_eq(v->es.monitor, "val_loss");
	ck_assert_int_eq(v->es.patience, 3);
	ck_assert_str_eq(v->ckpt.monitor, "val_loss");
	ck_assert_int_eq(v->ckpt.save_top_k, 1);
	for (uint32_t i = 0; i < v->nphases; i++)
		ck_assert_int_eq(v->phases[i].index, i);
	/* the manifest hash the job computes from its model */
	uint64_t h = FTSRT_MANIFEST_HASH_INIT;
	for (uint32_t i = 0; i < v->nparams; i++)
		h = ftsrt_manifest_hash_add(h, rt_plan_param_name(v, i),
					    (int32_t)rt_plan_param_shape(v, i)->ndim,
					    rt_plan_param_shape(v, i)->dims,
					    rt_plan_param_shape(v, i)->dtype_name);
	ck_assert(h == ftsrt_plan_manifest_hash(p));
	/* and from arrays at once */
	const char *names[8], *dtypes[8];
	int32_t ndims[8];
	const int64_t *dims[8];
	for (uint32_t i = 0; i < v->nparams; i++) {
		names[i] = rt_plan_param_name(v, i);
		ndims[i] = (int32_t)rt_plan_param_shape(v, i)->ndim;
		dims[i] = rt_plan_param_shape(v, i)->dims;
		dtypes[i] = rt_plan_param_shape(v, i)->dtype_name;
	}
	ck_assert(ftsrt_manifest_hash(v->nparams, names, ndims, dims, dtypes) == h);
	ck_assert(ftsrt_manifest_hash(0, NULL, NULL, NULL, NULL) == FTSRT_MANIFEST_HASH_INIT);
	ck_assert_int_eq(ftsrt_plan_bind(p, h, NULL), FTSRT_OK);
	FAILS(FTSRT_EINVAL, ftsrt_plan_bind(p, h ^ 1, E));
	struct ftsrt_plan_phase ph = FTSRT_INIT(struct ftsrt_plan_phase);
	SUCCEEDS(ftsrt_plan_phase(p, 1, &ph, E));
	ck_assert_int_eq(ph.nparams, 2);
	FAILS(FTSRT_EINVAL, ftsrt_plan_phase(p, 4, &ph, E));
	ck_assert_int_eq(ftsrt_plan_format_major(p), PLAN_FORMAT_MAJOR);
	ck_assert_int_eq(ftsrt_plan_format_minor(p), PLAN_FORMAT_MINOR);
	ck_assert_int_eq(ftsrt_plan_nparams(p), 8);
	ck_assert_int_eq(ftsrt_plan_nphases(p), 4);
	ck_assert_int_eq(ftsrt_plan_max_depth(p), 3);
	ftsrt_plan_close(p);
	free(b.buf);
}
END_TEST

START_TEST(test_deterministic)
{
	struct built a = sample(), b = sample();
	ck_assert_uint_eq(a.len, b.len);
	ck_assert(memcmp(a.buf, b.buf, a.len) == 0);
	free(a.buf);
	free(b.buf);
	/* same meaning, different text: identical when stripped */
	char path[] = "/tmp/check_plan_XXXXXX";
	int fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	static const char twin[] =
		"# the default boring schedule, written differently\n"
		"0: {params: [model.3.bias, model.3.weight]}\n"
		"1: {params: [model.2.bias, model.2.weight]}\n"
		"2: {params: [model.1.bias, model.1.weight]}\n"
		"3: {params: [model.0.bias, model.0.weight]}\n";
	ck_assert(write(fd, twin, sizeof(twin) - 1) == (ssize_t)(sizeof(twin) - 1));
	close(fd);
	struct built x = build(SCHED "default.yaml",
			       M1_OPT, true);
	struct built y = build(path, M1_OPT, true);
	struct built z = build(path, M1_OPT, false);
	unlink(path);
	ck_assert_uint_eq(x.len, y.len);
	ck_assert(memcmp(x.buf, y.buf, x.len) == 0);
	ck_assert_uint_gt(z.len, y.len);        /* the source map */
	free(x.buf);
	free(y.buf);
	free(z.buf);
}
END_TEST

/* Every variant must be refused; returns how many were tried. */
static size_t corrupt_all(const uint8_t *buf, size_t len)
{
	uint8_t *v = malloc(len + 64);
	size_t n = 0;
	static const uint8_t masks[] = {0xFF, 0x01, 0x80, 0x10};
	ftsrt_error err;
	ftsrt_plan *p;
	for (size_t i = 0; i < len; i++)
		for (size_t m = 0; m < sizeof(masks); m++) {
			memcpy(v, buf, len);
			v[i] ^= masks[m];
			err.status = 0;
			int rc = ftsrt_plan_open_mem(&p, v, len, NULL, &err);
			ck_assert_msg(rc < 0 && p == NULL, "flip 0x%02x at byte %zu accepted", masks[m], i);
			ck_assert(err.status == rc && err.message[0]);
			n++;
		}
	for (size_t l = 0; l < len; l++) {
		err.status = 0;
		int rc = ftsrt_plan_open_mem(&p, buf, l, NULL, &err);
		ck_assert_msg(rc < 0 && p == NULL, "truncation to %zu bytes accepted", l);
		ck_assert(err.status == rc && err.message[0]);
		n++;
	}
	for (size_t extra = 1; extra <= 64; extra++) {
		memcpy(v, buf, len);
		memset(v + len, extra & 1 ? 0 : 0xA5, extra);
		err.status = 0;
		int rc = ftsrt_plan_open_mem(&p, v, len + extra, NULL, &err);
		ck_assert_msg(rc < 0 && p == NULL, "%zu appended bytes accepted", extra);
		ck_assert(err.status == rc && err.message[0]);
		n++;
	}
	free(v);
	return n;
}

START_TEST(test_corruption)
{
	struct built b = sample();
	size_t n = corrupt_all(b.buf, b.len);
	fprintf(stderr, "check_plan: %zu corrupted variants of a %zu-byte plan refused\n", n, b.len);
	free(b.buf);
	struct built s = build(SCHED "default.yaml",
			       M1_OPT, true);
	corrupt_all(s.buf, s.len);
	free(s.buf);
}
END_TEST

/* Re-checksum after an edit, so the checks behind the CRCs are reached. */
static void reseal(uint8_t *b)
{
	uint32_t n = PLAN_GET(HDR, b, section_count);
	for (uint32_t i = 0; i < n; i++) {
		uint8_t *e = b + PLAN_HEADER_SIZE + PLAN_SECTION_ENTRY * i;
		PLAN_SET(SECT, e, crc32c, plan_crc32c(0, b + PLAN_GET(SECT, e, offset),
						      PLAN_GET(SECT, e, length)));
	}
	uint32_t crc = plan_crc32c(0, b, PLAN_HEADER_CRC_SPAN);
	PLAN_SET(HDR, b, header_crc32c,
		 plan_crc32c(crc, b + PLAN_HEADER_SIZE, PLAN_SECTION_ENTRY * (size_t)n));
}

static uint8_t *section(uint8_t *b, const char *id, uint64_t *len)
{
	uint32_t n = PLAN_GET(HDR, b, section_count);
	for (uint32_t i = 0; i < n; i++) {
		uint8_t *e = b + PLAN_HEADER_SIZE + PLAN_SECTION_ENTRY * i;
		if (PLAN_GET(SECT, e, id) == PLAN_FOURCC(id)) {
			*len = PLAN_GET(SECT, e, length);
			return b + PLAN_GET(SECT, e, offset);
		}
	}
	return NULL;
}

START_TEST(test_semantic_checks)
{
	struct built b = sample();
	uint8_t *v = malloc(b.len);
	ftsrt_error err;
	ftsrt_plan *p;
	uint64_t slen;

	/* versions: checked before the CRC */
	memcpy(v, b.buf, b.len);
	PLAN_SET(HDR, v, format_major, PLAN_FORMAT_MAJOR + 1);
	ck_assert_int_eq(ftsrt_plan_open_mem(&p, v, b.len, NULL, &err), FTSRT_EVERSION);
	memcpy(v, b.buf, b.len);
	PLAN_SET(HDR, v, format_minor, PLAN_FORMAT_MINOR + 1);
	PLAN_SET(HDR, v, min_reader_minor, PLAN_FORMAT_MINOR + 1);
	ck_assert_int_eq(ftsrt_plan_open_mem(&p, v, b.len, NULL, &err), FTSRT_EVERSION);
	/* a newer minor that old readers may read opens */
	memcpy(v, b.buf, b.len);
	PLAN_SET(HDR, v, format_minor, PLAN_FORMAT_MINOR + 1);
	reseal(v);
	ck_assert_int_eq(ftsrt_plan_open_mem(&p, v, b.len, NULL, &err), FTSRT_OK);
	ftsrt_plan_close(p);

	/* a phase thawing a parameter past the manifest, behind a valid CRC */
	memcpy(v, b.buf, b.len);
	uint8_t *ph = section(v, "PHAS", &slen);
	uint8_t *u32 = section(v, "U32P", &slen);
	ck_assert_ptr_nonnull(ph);
	plan_wr32(u32 + 4 * PLAN_GET(PHAS, ph + PLAN_SIZE(PHAS), params), 8);
	reseal(v);
	ck_assert_int_eq(ftsrt_plan_open_mem(&p, v, b.len, NULL, &err), FTSRT_EFORMAT);
	ck_assert_ptr_nonnull(strstr(err.message, "thaws parameter 8"));
	/* parameters whose elements add up past 2^60 (each product fits in 64 bits) */
	memcpy(v, b.buf, b.len);
	uint8_t *shap = section(v, "SHAP", &slen);
	uint8_t *i64 = section(v, "I64P", &slen);
	uint32_t d0 = PLAN_GET(SHAP, shap, dims);
	ck_assert_uint_eq(PLAN_GET(SHAP, shap, ndim), 2);
	plan_wr64(i64 + 8 * d0, (uint64_t)1 << 31);
	plan_wr64(i64 + 8 * (d0 + 1), (uint64_t)1 << 30);
	reseal(v);
	ck_assert_int_eq(ftsrt_plan_open_mem(&p, v, b.len, NULL, &err), FTSRT_EFORMAT);
	ck_assert_msg(strstr(err.message, "2^60"), "%s", err.message);
	/* a bad enum */
	memcpy(v, b.buf, b.len);
	shap = section(v, "SHAP", &slen);
	PLAN_SET(SHAP, shap, dtype, PLAN_DTYPE_COUNT_);
	reseal(v);
	ck_assert_int_eq(ftsrt_plan_open_mem(&p, v, b.len, NULL, &err), FTSRT_EFORMAT);
	/* a string reference past the table */
	memcpy(v, b.buf, b.len);
	shap = section(v, "SHAP", &slen);
	PLAN_SET(SHAP, shap, dtype_name, 0x7FFFFFF0u);
	reseal(v);
	ck_assert_int_eq(ftsrt_plan_open_mem(&p, v, b.len, NULL, &err), FTSRT_EFORMAT);
	ck_assert_msg(strstr(err.message, "shape 0: bad string reference"), "%s", err.message);
	/* a shape index past SHAP, a tie to a later or a tied parameter */
	memcpy(v, b.buf, b.len);
	uint8_t *mani = section(v, "MANI", &slen) + PLAN_MANI_HEAD;
	PLAN_SET(MANI, mani + 3 * PLAN_SIZE(MANI), shape, 1000);
	reseal(v);
	ck_assert_int_eq(ftsrt_plan_open_mem(&p, v, b.len, NULL, &err), FTSRT_EFORMAT);
	ck_assert_msg(strstr(err.message, "parameter 3: shape 1000 of"), "%s", err.message);
	static const int32_t bad_ties[][2] = {{2, 2}, {2, 5}, {2, -2}};
	for (size_t k = 0; k < 3; k++) {
		memcpy(v, b.buf, b.len);
		mani = section(v, "MANI", &slen) + PLAN_MANI_HEAD;
		PLAN_SET(MANI, mani + (size_t)bad_ties[k][0] * PLAN_SIZE(MANI), tied_to, bad_ties[k][1]);
		reseal(v);
		ck_assert_int_eq(ftsrt_plan_open_mem(&p, v, b.len, NULL, &err), FTSRT_EFORMAT);
		ck_assert_msg(strstr(err.message, "is not an earlier untied parameter"), "%s", err.message);
	}
	memcpy(v, b.buf, b.len);
	mani = section(v, "MANI", &slen) + PLAN_MANI_HEAD;
	PLAN_SET(MANI, mani + 1 * PLAN_SIZE(MANI), tied_to, 0);
	PLAN_SET(MANI, mani + 2 * PLAN_SIZE(MANI), tied_to, 1);    /* tied to a tied one */
	reseal(v);
	ck_assert_int_eq(ftsrt_plan_open_mem(&p, v, b.len, NULL, &err), FTSRT_EFORMAT);
	ck_assert_msg(strstr(err.message, "parameter 2: tied_to 1"), "%s", err.message);
	/* an unterminated string table */
	memcpy(v, b.buf, b.len);
	uint8_t *strs = section(v, "STRS", &slen);
	strs[slen - 1] = 'x';
	reseal(v);
	ck_assert_int_eq(ftsrt_plan_open_mem(&p, v, b.len, NULL, &err), FTSRT_EFORMAT);
	/* a child cycle: class 1's max_depth setting pointing nowhere */
	memcpy(v, b.buf, b.len);
	uint8_t *st = section(v, "SETT", &slen);
	PLAN_SET(SETT, st, max_depth, 4);
	reseal(v);
	ck_assert_int_eq(ftsrt_plan_open_mem(&p, v, b.len, NULL, &err), FTSRT_EFORMAT);
	/* the restore table (phase 3 from phase 0 reverts momentum and weight_decay, from
	 * phase 1 fails): read back, then broken */
	ck_assert_int_eq(ftsrt_plan_open_mem(&p, b.buf, b.len, NULL, &err), FTSRT_OK);
	const struct rt_plan *pv = rt_plan_view(p);
	ck_assert_uint_eq(pv->nrestores, 2);
	ck_assert_uint_eq(pv->restores[0].target, 3);
	ck_assert_uint_eq(pv->restores[0].source, 0);
	ck_assert_int_eq(pv->restores[0].kind, RT_RESTORE_REVERTS);
	ck_assert_uint_eq(pv->restores[0].noverrides, 2);
	ck_assert_str_eq(pv->restores[0].overrides[0].name, "momentum");
	ck_assert(pv->restores[0].overrides[0].f == 0);
	ck_assert_str_eq(pv->restores[0].overrides[1].name, "weight_decay");
	ck_assert(pv->restores[0].overrides[1].f == 1e-6);
	ck_assert_uint_eq(pv->restores[1].source, 1);
	ck_assert_int_eq(pv->restores[1].kind, RT_RESTORE_FAILS);
	ck_assert_ptr_nonnull(strstr(pv->restores[1].message, "KeyError: 'momentum'"));
	ftsrt_plan_close(p);
	static const struct {
		size_t off;
		uint32_t v;
	} rstr_bad[] = {
		{PLAN_OFF(RSTR, source), 3},            /* source == target */
		{PLAN_OFF(RSTR, source), 0},            /* the pair again: not in order */
		{PLAN_OFF(RSTR, target), 4},            /* target past the phases */
		{PLAN_OFF(RSTR, kind), 2},              /* kind */
		{PLAN_OFF(RSTR, message), 0x7FFFFFF0u}, /* message outside STRS */
		{PLAN_OFF(RSTR, noverrides), 1},        /* overrides on a failing restore */
		{PLAN_OFF(RSTR, zero2), 1},             /* reserved */
	};
	for (size_t k = 0; k < sizeof(rstr_bad) / sizeof(rstr_bad[0]); k++) {
		memcpy(v, b.buf, b.len);
		uint8_t *rs = section(v, "RSTR", &slen);
		ck_assert_ptr_nonnull(rs);
		ck_assert_uint_eq(slen, 2 * PLAN_SIZE(RSTR));
		rs += PLAN_SIZE(RSTR);  /* the failing entry */
		if (rstr_bad[k].off == PLAN_OFF(RSTR, kind))
			rs[rstr_bad[k].off] = (uint8_t)rstr_bad[k].v;
		else
			plan_wr32(rs + rstr_bad[k].off, rstr_bad[k].v);
		reseal(v);
		ck_assert_int_eq(ftsrt_plan_open_mem(&p, v, b.len, NULL, &err), FTSRT_EFORMAT);
		ck_assert_msg(strstr(err.message, "restore entry 1"), "%zu: %s", k, err.message);
	}
	/* files: the header is checked before the file is read whole (a 1 GiB file that
	 * is no plan, a plan cut short), and only regular files are read */
	char tmpd[] = "/tmp/check_plan_fXXXXXX", fp[300];
	ck_assert_ptr_nonnull(mkdtemp(tmpd));
	snprintf(fp, sizeof(fp), "%s/big", tmpd);
	FILE *bf = fopen(fp, "w");
	ck_assert_ptr_nonnull(bf);
	ck_assert_int_eq(ftruncate(fileno(bf), (off_t)1 << 30), 0);
	fclose(bf);
	ck_assert_int_eq(ftsrt_plan_open(&p, fp, NULL, &err), FTSRT_EFORMAT);
	ck_assert_msg(strstr(err.message, "not a plan file"), "%s", err.message);
	bf = fopen(fp, "w");
	ck_assert_int_eq(fwrite(b.buf, 1, b.len - 8, bf), b.len - 8);
	fclose(bf);
	ck_assert_int_eq(ftsrt_plan_open(&p, fp, NULL, &err), FTSRT_EFORMAT);
	ck_assert_msg(strstr(err.message, "the header says"), "%s", err.message);
	unlink(fp);
	snprintf(fp, sizeof(fp), "%s/fifo", tmpd);
	ck_assert_int_eq(mkfifo(fp, 0600), 0);
	ck_assert_int_eq(ftsrt_plan_open(&p, fp, NULL, &err), FTSRT_EIO);
	unlink(fp);
	rmdir(tmpd);
	/* file I/O */
	ck_assert_int_eq(ftsrt_plan_open(&p, "/nonexistent/plan", NULL, &err), FTSRT_EIO);
	ck_assert_int_eq(ftsrt_plan_open(&p, "/", NULL, &err), FTSRT_EIO);
	ck_assert_int_eq(ftsrt_plan_open(NULL, "/", NULL, &err), FTSRT_EINVAL);
	free(v);
	free(b.buf);
}
END_TEST

/* ---- the interface's conventions (ftsrt.h, CONVENTIONS) ------------------------------ */

/* Every refused call on plans fills err (status and a message) and refuses
 * the same way with a NULL err; calls that succeed leave err alone. */
START_TEST(test_err_convention)
{
	struct built b = sample();
	ftsrt_error err;
	ftsrt_plan *p = NULL;
	/* ftsrt_plan_open */
	FAILS(FTSRT_EINVAL, ftsrt_plan_open(NULL, BORING, NULL, E));
	FAILS(FTSRT_EINVAL, ftsrt_plan_open(&p, NULL, NULL, E));
	ck_assert_ptr_null(p);
	FAILS(FTSRT_EIO, ftsrt_plan_open(&p, "/nonexistent/plan", NULL, E));
	ck_assert_ptr_nonnull(strstr(err.message, "/nonexistent/plan"));
	FAILS(FTSRT_EIO, ftsrt_plan_open(&p, "tests", NULL, E));
	ck_assert_ptr_nonnull(strstr(err.message, "not a regular file"));
	FAILS(FTSRT_EFORMAT, ftsrt_plan_open(&p, BORING, NULL, E));   /* a manifest, no plan */
	ck_assert_ptr_nonnull(strstr(err.message, "not a plan file"));
	ck_assert_ptr_null(p);
	/* ftsrt_plan_open_mem */
	FAILS(FTSRT_EINVAL, ftsrt_plan_open_mem(NULL, b.buf, b.len, NULL, E));
	FAILS(FTSRT_EINVAL, ftsrt_plan_open_mem(&p, NULL, b.len, NULL, E));
	FAILS(FTSRT_EFORMAT, ftsrt_plan_open_mem(&p, NULL, 0, NULL, E));
	FAILS(FTSRT_EFORMAT, ftsrt_plan_open_mem(&p, b.buf, b.len - 1, NULL, E));
	FAILS(FTSRT_EFORMAT, ftsrt_plan_open_mem(&p, "not a plan", 10, NULL, E));
	uint8_t *v = malloc(b.len);
	memcpy(v, b.buf, b.len);
	PLAN_SET(HDR, v, format_major, PLAN_FORMAT_MAJOR + 1);
	FAILS(FTSRT_EVERSION, ftsrt_plan_open_mem(&p, v, b.len, NULL, E));
	ck_assert_ptr_null(p);
	free(v);
	SUCCEEDS(ftsrt_plan_open_mem(&p, b.buf, b.len, NULL, E));
	ck_assert_ptr_nonnull(p);
	/* ftsrt_plan_bind: the message names both hashes */
	uint64_t h = ftsrt_plan_manifest_hash(p);
	SUCCEEDS(ftsrt_plan_bind(p, h, E));
	FAILS(FTSRT_EINVAL, ftsrt_plan_bind(p, h ^ 0xF0, E));
	char hx[2][17];
	snprintf(hx[0], sizeof(hx[0]), "%016llx", (unsigned long long)h);
	snprintf(hx[1], sizeof(hx[1]), "%016llx", (unsigned long long)(h ^ 0xF0));
	ck_assert_msg(strstr(err.message, hx[0]) && strstr(err.message, hx[1]), "%s", err.message);
	FAILS(FTSRT_EINVAL, ftsrt_plan_bind(NULL, h, E));
	/* ftsrt_plan_param, ftsrt_plan_phase */
	struct ftsrt_plan_param pp = FTSRT_INIT(struct ftsrt_plan_param);
	struct ftsrt_plan_phase ph = FTSRT_INIT(struct ftsrt_plan_phase);
	static const int32_t bad_params[] = {-1, 8, INT32_MAX, INT32_MIN};
	for (size_t i = 0; i < sizeof(bad_params) / sizeof(bad_params[0]); i++)
		FAILS(FTSRT_EINVAL, ftsrt_plan_param(p, bad_params[i], &pp, E));
	FAILS(FTSRT_EINVAL, ftsrt_plan_param(p, 0, NULL, E));
	FAILS(FTSRT_EINVAL, ftsrt_plan_param(NULL, 0, &pp, E));
	static const int32_t bad_phases[] = {-1, 4, INT32_MAX, INT32_MIN};
	for (size_t i = 0; i < sizeof(bad_phases) / sizeof(bad_phases[0]); i++)
		FAILS(FTSRT_EINVAL, ftsrt_plan_phase(p, bad_phases[i], &ph, E));
	ck_assert_str_eq(err.message, "phase -2147483648 of 4");
	FAILS(FTSRT_EINVAL, ftsrt_plan_phase(p, 0, NULL, E));
	FAILS(FTSRT_EINVAL, ftsrt_plan_phase(NULL, 0, &ph, E));
	/* ftsrt_plan_dump: bad arguments, and a write that fails */
	FILE *null = fopen("/dev/null", "w");
	ck_assert_ptr_nonnull(null);
	SUCCEEDS(ftsrt_plan_dump(p, null, FTSRT_DUMP_ALL, E));
	SUCCEEDS(ftsrt_plan_dump(p, null, FTSRT_DUMP_PHASES, E));
	FAILS(FTSRT_EINVAL, ftsrt_plan_dump(p, null, 2, E));
	FAILS(FTSRT_EINVAL, ftsrt_plan_dump(p, null, -1, E));
	FAILS(FTSRT_EINVAL, ftsrt_plan_dump(p, NULL, FTSRT_DUMP_ALL, E));
	FAILS(FTSRT_EINVAL, ftsrt_plan_dump(NULL, null, FTSRT_DUMP_ALL, E));
	fclose(null);
	FILE *full = fopen("/dev/full", "w");
	if (full) {
		setvbuf(full, NULL, _IONBF, 0);
		FAILS(FTSRT_EIO, ftsrt_plan_dump(p, full, FTSRT_DUMP_PHASES, E));
		FAILS(FTSRT_EIO, ftsrt_plan_dump(p, full, FTSRT_DUMP_ALL, E));
		fclose(full);
	}
	/* the functions that cannot fail: neutral values for no plan */
	ck_assert_int_eq(ftsrt_plan_nparams(NULL), 0);
	ck_assert_int_eq(ftsrt_plan_nphases(NULL), 0);
	ck_assert_int_eq(ftsrt_plan_format_major(NULL), 0);
	ck_assert(ftsrt_plan_manifest_hash(NULL) == 0);
	ftsrt_plan_close(p);
	ftsrt_plan_close(NULL);
	free(b.buf);
}
END_TEST

/* An allocator that counts calls, live blocks and live bytes as the library
 * declares them (osize when it frees: a lua_Alloc-style allocator relies on
 * it; ud NULL: the global one); call fail_at fails (every call when
 * fail_at < 0). */
struct counting {
	long calls, live, fail_at;
	long long bytes;
};
static struct counting global_count;

static void *counting_alloc(void *ud, void *q, size_t osize, size_t nsize)
{
	struct counting *c = ud ? ud : &global_count;
	if (nsize == 0) {
		if (q) {
			c->live--;
			c->bytes -= (long long)osize;
		}
		free(q);
		return NULL;
	}
	if (++c->calls == c->fail_at || c->fail_at < 0)
		return NULL;
	void *r = realloc(q, nsize);
	if (r && !q)
		c->live++;
	if (r)
		c->bytes += (long long)nsize - (q ? (long long)osize : 0);
	return r;
}

struct big_plan_options {
	struct ftsrt_plan_options o;
	unsigned char tail[16];
};
_Static_assert(offsetof(struct big_plan_options, tail) == sizeof(struct ftsrt_plan_options), "tail");

/* Open the sample plan from memory or from file (path non-NULL) with opt. */
static int open_with(ftsrt_plan **p, const struct built *b, const char *path,
		     const struct ftsrt_plan_options *opt, ftsrt_error *err)
{
	return path ? ftsrt_plan_open(p, path, opt, err) : ftsrt_plan_open_mem(p, b->buf, b->len, opt, err);
}

/* struct ftsrt_plan_options: NULL is the defaults; the allocator takes every
 * allocation; struct_size 0 (or absurd) is refused naming the struct; a
 * smaller struct is read only that far; a larger one needs a zero tail. */
START_TEST(test_plan_options)
{
	struct built b = sample();
	ftsrt_error err;
	char path[] = "/tmp/check_plan_XXXXXX";
	int fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	ck_assert(write(fd, b.buf, b.len) == (ssize_t)b.len);
	close(fd);
	for (int from_file = 0; from_file < 2; from_file++) {
		const char *fp = from_file ? path : NULL;
		ftsrt_plan *p = NULL;
		SUCCEEDS(open_with(&p, &b, fp, NULL, E));
		ck_assert_int_eq(ftsrt_plan_nparams(p), 8);
		ftsrt_plan_close(p);
		struct ftsrt_plan_options op = FTSRT_INIT(struct ftsrt_plan_options);
		SUCCEEDS(open_with(&p, &b, fp, &op, E));
		ftsrt_plan_close(p);
		/* the allocator and its ud */
		struct counting c = {0, 0, 0, 0};
		op.alloc = counting_alloc;
		op.alloc_ud = &c;
		SUCCEEDS(open_with(&p, &b, fp, &op, E));
		ck_assert_int_gt(c.calls, 0);
		ck_assert_int_gt(c.live, 0);
		ftsrt_plan_close(p);
		ck_assert_int_eq(c.live, 0);
		ck_assert_int_eq(c.bytes, 0);   /* every free told the block's size */
		long total = c.calls;
		for (long f = 1; f <= total; f++) {
			struct counting d = {0, 0, f, 0};
			op.alloc_ud = &d;
			p = (ftsrt_plan *)&op;
			memset(&err, 0, sizeof(err));
			int rc = open_with(&p, &b, fp, &op, &err);
			ck_assert_msg(rc == FTSRT_ENOMEM, "allocation %ld of %ld: %d %s", f, total, rc,
				      err.message);
			ck_assert_int_eq(err.status, FTSRT_ENOMEM);
			ck_assert_ptr_nonnull(strstr(err.message, "out of memory"));
			ck_assert_ptr_null(p);
			ck_assert_int_eq(d.live, 0);
			ck_assert_int_eq(d.bytes, 0);
		}
		/* struct_size out of bounds */
		static const size_t bad_sizes[] = {0, 1, sizeof(size_t) - 1, (size_t)1 << 20, SIZE_MAX};
		op = FTSRT_INIT(struct ftsrt_plan_options);
		for (size_t i = 0; i < sizeof(bad_sizes) / sizeof(bad_sizes[0]); i++) {
			op.struct_size = bad_sizes[i];
			p = (ftsrt_plan *)&op;
			FAILS(FTSRT_EINVAL, open_with(&p, &b, fp, &op, E));
			ck_assert_ptr_null(p);
			ck_assert_msg(strstr(err.message, "ftsrt_plan_options") && strstr(err.message, "struct_size"),
				      "%s", err.message);
		}
		/* smaller: what lies past struct_size is not read */
		struct counting unused = {0, 0, -1, 0};
		op = FTSRT_INIT(struct ftsrt_plan_options);
		op.struct_size = sizeof(size_t);
		op.alloc = counting_alloc;      /* would fail every allocation */
		op.alloc_ud = &unused;
		SUCCEEDS(open_with(&p, &b, fp, &op, E));
		ftsrt_plan_close(p);
		ck_assert_int_eq(unused.calls, 0);
		op.struct_size = offsetof(struct ftsrt_plan_options, alloc_ud);
		global_count = (struct counting){0, 0, 0, 0};
		SUCCEEDS(open_with(&p, &b, fp, &op, E)); /* alloc read, alloc_ud NULL */
		ftsrt_plan_close(p);
		ck_assert_int_eq(unused.calls, 0);
		ck_assert_int_gt(global_count.calls, 0);
		ck_assert_int_eq(global_count.live, 0);
		ck_assert_int_eq(global_count.bytes, 0);
		/* larger */
		struct big_plan_options bo;
		memset(&bo, 0, sizeof(bo));
		bo.o.struct_size = sizeof(bo);
		SUCCEEDS(open_with(&p, &b, fp, &bo.o, E));
		ftsrt_plan_close(p);
		for (size_t k = 0; k < sizeof(bo.tail); k += 5) {
			bo.tail[k] = 0x01;
			FAILS(FTSRT_EINVAL, open_with(&p, &b, fp, &bo.o, E));
			ck_assert_ptr_null(p);
			ck_assert_msg(strstr(err.message, "ftsrt_plan_options"), "%s", err.message);
			bo.tail[k] = 0;
		}
	}
	unlink(path);
	free(b.buf);
}
END_TEST

/* The output structs: every field as the plan has it; struct_size 0 refused
 * naming the struct, nothing written; a smaller struct_size written only that
 * far (the canary after it untouched); a larger one's extra bytes zeroed. */
START_TEST(test_struct_out)
{
	struct built b = sample();
	ftsrt_error err;
	ftsrt_plan *p = NULL;
	ck_assert_int_eq(ftsrt_plan_open_mem(&p, b.buf, b.len, NULL, NULL), FTSRT_OK);
	const struct rt_plan *v = rt_plan_view(p);

	/* the phases, whole */
	for (int32_t i = 0; i < ftsrt_plan_nphases(p); i++) {
		struct ftsrt_plan_phase ph = FTSRT_INIT(struct ftsrt_plan_phase);
		const struct rt_plan_phase *q = &v->phases[i];
		SUCCEEDS(ftsrt_plan_phase(p, i, &ph, E));
		ck_assert_uint_eq(ph.struct_size, sizeof(ph));
		ck_assert_int_eq(ph.index, i);
		ck_assert_int_eq(ph.max_transition_epoch, q->mte);
		ck_assert(ph.lr == q->lr);
		ck_assert_int_eq(ph.nparams, (int32_t)q->nparams);
		for (int32_t k = 0; k < ph.nparams; k++)
			ck_assert_int_eq(ph.params[k], (int32_t)q->params[k]);
		ck_assert_int_eq(ph.new_optimizer, q->new_optimizer >= 0);
		ck_assert_int_eq(ph.new_lr_scheduler, q->new_lr_scheduler >= 0);
		if (ph.new_optimizer)
			ck_assert_str_eq(ph.optimizer, v->classes[q->new_optimizer].class_path);
		else
			ck_assert_ptr_null(ph.optimizer);
		if (ph.new_lr_scheduler)
			ck_assert_str_eq(ph.lr_scheduler, v->classes[q->new_lr_scheduler].class_path);
		else
			ck_assert_ptr_null(ph.lr_scheduler);
		ck_assert_ptr_nonnull(ph.src_file);
		ck_assert_ptr_nonnull(strstr(ph.src_file, "boring_reinit_optim_lr.yaml"));
		ck_assert_int_eq(ph.src_line, (int32_t)q->src_line);
		ck_assert_int_gt(ph.src_line, 0);
	}
	/* the manifest, whole */
	for (int32_t i = 0; i < ftsrt_plan_nparams(p); i++) {
		struct ftsrt_plan_param pp = FTSRT_INIT(struct ftsrt_plan_param);
		SUCCEEDS(ftsrt_plan_param(p, i, &pp, E));
		const struct rt_plan_shape *sh = rt_plan_param_shape(v, (uint32_t)i);
		ck_assert_str_eq(pp.name, rt_plan_param_name(v, (uint32_t)i));
		ck_assert_int_eq(pp.ndim, (int32_t)sh->ndim);
		for (int32_t k = 0; k < pp.ndim; k++)
			ck_assert_int_eq(pp.dims[k], sh->dims[k]);
		ck_assert_str_eq(pp.dtype, "float32");
		ck_assert_int_eq(pp.tied_to, -1);
	}

	/* a phase with everything set, for the cuts below */
	struct ftsrt_plan_phase full = FTSRT_INIT(struct ftsrt_plan_phase);
	SUCCEEDS(ftsrt_plan_phase(p, 1, &full, E));
	ck_assert(full.index == 1 && full.lr > 0 && full.nparams == 2);

	/* struct_size out of bounds: refused, nothing written */
	static const size_t bad_sizes[] = {0, 1, sizeof(size_t) - 1, (size_t)1 << 20, SIZE_MAX};
	for (size_t i = 0; i < sizeof(bad_sizes) / sizeof(bad_sizes[0]); i++) {
		struct ftsrt_plan_phase ph;
		memset(&ph, 0xA5, sizeof(ph));
		ph.struct_size = bad_sizes[i];
		FAILS(FTSRT_EINVAL, ftsrt_plan_phase(p, 1, &ph, E));
		ck_assert_msg(strstr(err.message, "ftsrt_plan_phase") && strstr(err.message, "struct_size"),
			      "%s", err.message);
		const unsigned char *c = (const unsigned char *)&ph;
		for (size_t k = sizeof(size_t); k < sizeof(ph); k++)
			ck_assert_uint_eq(c[k], 0xA5);
		struct ftsrt_plan_param pp;
		memset(&pp, 0xA5, sizeof(pp));
		pp.struct_size = bad_sizes[i];
		FAILS(FTSRT_EINVAL, ftsrt_plan_param(p, 0, &pp, E));
		ck_assert_msg(strstr(err.message, "ftsrt_plan_param"), "%s", err.message);
		c = (const unsigned char *)&pp;
		for (size_t k = sizeof(size_t); k < sizeof(pp); k++)
			ck_assert_uint_eq(c[k], 0xA5);
	}

	/* smaller: an older caller's struct, with a canary right after it */
	static const size_t cuts[] = {
		sizeof(size_t),
		offsetof(struct ftsrt_plan_phase, lr),
		offsetof(struct ftsrt_plan_phase, params),
		offsetof(struct ftsrt_plan_phase, new_optimizer),
		offsetof(struct ftsrt_plan_phase, src_line),
	};
	for (size_t i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
		_Alignas(struct ftsrt_plan_phase) unsigned char area[sizeof(struct ftsrt_plan_phase) + 16];
		memset(area, 0xA5, sizeof(area));
		size_t cut = cuts[i];
		memcpy(area, &cut, sizeof(cut));
		SUCCEEDS(ftsrt_plan_phase(p, 1, (struct ftsrt_plan_phase *)(void *)area, E));
		ck_assert(memcmp(area, &cut, sizeof(cut)) == 0);       /* struct_size kept */
		ck_assert_msg(memcmp(area + sizeof(size_t), (const unsigned char *)&full + sizeof(size_t),
				     cut - sizeof(size_t)) == 0, "cut %zu: fields before it differ", cut);
		for (size_t k = cut; k < sizeof(area); k++)
			ck_assert_msg(area[k] == 0xA5, "cut %zu: byte %zu written", cut, k);
	}
	struct ftsrt_plan_param pfull = FTSRT_INIT(struct ftsrt_plan_param);
	SUCCEEDS(ftsrt_plan_param(p, 6, &pfull, E));
	{
		_Alignas(struct ftsrt_plan_param) unsigned char area[sizeof(struct ftsrt_plan_param) + 16];
		memset(area, 0xA5, sizeof(area));
		size_t cut = offsetof(struct ftsrt_plan_param, ndim);
		memcpy(area, &cut, sizeof(cut));
		SUCCEEDS(ftsrt_plan_param(p, 6, (struct ftsrt_plan_param *)(void *)area, E));
		const char *name;
		memcpy(&name, area + offsetof(struct ftsrt_plan_param, name), sizeof(name));
		ck_assert_str_eq(name, "model.3.weight");
		for (size_t k = cut; k < sizeof(area); k++)
			ck_assert_msg(area[k] == 0xA5, "ftsrt_plan_param cut: byte %zu written", k);
	}

	/* larger: a newer caller's struct gets zeros past the library's fields, up
	 * to its struct_size and no further */
	{
		_Alignas(struct ftsrt_plan_phase) unsigned char area[sizeof(struct ftsrt_plan_phase) + 32];
		memset(area, 0xA5, sizeof(area));
		size_t big = sizeof(struct ftsrt_plan_phase) + 16;
		memcpy(area, &big, sizeof(big));
		SUCCEEDS(ftsrt_plan_phase(p, 1, (struct ftsrt_plan_phase *)(void *)area, E));
		ck_assert(memcmp(area, &big, sizeof(big)) == 0);
		ck_assert(memcmp(area + sizeof(size_t), (const unsigned char *)&full + sizeof(size_t),
				 offsetof(struct ftsrt_plan_phase, src_line) + sizeof(int32_t) -
				 sizeof(size_t)) == 0);
		for (size_t k = sizeof(struct ftsrt_plan_phase); k < big; k++)
			ck_assert_msg(area[k] == 0, "byte %zu of the larger struct not zeroed", k);
		for (size_t k = big; k < sizeof(area); k++)
			ck_assert_msg(area[k] == 0xA5, "byte %zu past struct_size written", k);
	}
	ftsrt_plan_close(p);
	free(b.buf);
}
END_TEST

/* ---- the record table (plan_records.def) ------------------------------------------ */

static const char *const ft_names[] = {"u8", "u16", "u32", "u64", "i32", "i64", "f64",
				       "u8", "u16", "u32", "u64"};

/* The text of man/ftsplan.5 from the line starting with `from` to the next
 * line starting with ".It Li" or ".El" or ".Pp" (after the first line), with
 * parenthesized text and roff escapes removed and lines joined. */
static char *man_paragraph(const char *man, const char *from)
{
	const char *p = strstr(man, from);
	ck_assert_msg(p != NULL, "man/ftsplan.5 has no \"%s\"", from);
	const char *e = p + strlen(from);
	while (*e) {
		const char *nl = strchr(e, '\n');
		if (!nl)
			break;
		if (!strncmp(nl + 1, ".It Li", 6) || !strncmp(nl + 1, ".El", 3) ||
		    !strncmp(nl + 1, ".Pp", 3)) {
			e = nl;
			break;
		}
		e = nl + 1;
	}
	char *out = malloc((size_t)(e - p) + 1);
	size_t n = 0;
	int depth = 0;
	for (const char *q = p; q < e; q++) {
		if (*q == '(')
			depth++;
		else if (*q == ')' && depth)
			depth--;
		else if (!depth && *q == '\\' && q + 1 < e)
			q++;            /* \- and the like */
		else if (!depth)
			out[n++] = *q == '\n' ? ' ' : *q;
	}
	out[n] = '\0';
	return out;
}

/* Appends "type name" for every field of rec to buf (reserved fields: "type 0"). */
static void expect_fields(char *buf, size_t cap, int rec)
{
	const struct plan_record_info *ri = rt_plan_record_info(rec);
	for (uint32_t k = 0; k < ri->nfields; k++) {
		const struct plan_field_info *f = &ri->fields[k];
		size_t n = strlen(buf);
		snprintf(buf + n, cap - n, "%s%s %s", n ? " " : "", ft_names[f->type],
			 f->type >= PLAN_FT_Z8 ? "0" : f->name);
	}
}

/* "type name" pairs in the order the paragraph gives them. */
static void found_fields(char *buf, size_t cap, const char *text)
{
	buf[0] = '\0';
	for (const char *q = text; *q; q++) {
		if (q != text && (isalnum((unsigned char)q[-1]) || q[-1] == '_'))
			continue;
		for (size_t t = 0; t < 7; t++) {
			size_t tl = strlen(ft_names[t]);
			if (strncmp(q, ft_names[t], tl) || q[tl] != ' ')
				continue;
			const char *w = q + tl + 1;
			size_t wl = strspn(w, "abcdefghijklmnopqrstuvwxyz0123456789_");
			if (!wl)
				continue;
			size_t n = strlen(buf);
			snprintf(buf + n, cap - n, "%s%s %.*s", n ? " " : "", ft_names[t], (int)wl, w);
		}
	}
}

START_TEST(test_record_table)
{
	/* the table tiles each record: every field right after the one before */
	for (int rec = 0; rec < PLAN_REC_COUNT_; rec++) {
		const struct plan_record_info *ri = rt_plan_record_info(rec);
		ck_assert_ptr_nonnull(ri);
		uint32_t off = 0;
		for (uint32_t k = 0; k < ri->nfields; k++) {
			ck_assert_msg(ri->fields[k].off == off, "%s.%s at %u, expected %u", ri->name,
				      ri->fields[k].name, ri->fields[k].off, off);
			ck_assert_uint_eq(ri->fields[k].off % ri->fields[k].size, 0);
			off += ri->fields[k].size;
		}
		ck_assert_uint_eq(off, ri->size);
	}
	ck_assert_ptr_null(rt_plan_record_info(PLAN_REC_COUNT_));
	ck_assert_uint_eq(PLAN_HEADER_CRC_SPAN, 40);

	/* man/ftsplan.5 says the same: the header table row by row, and every other
	 * record's fields, as "type name", in order, with the record's size */
	FILE *f = fopen("man/ftsplan.5", "r");
	ck_assert_ptr_nonnull(f);
	static char man[65536];
	size_t mn = fread(man, 1, sizeof(man) - 1, f);
	fclose(f);
	man[mn] = '\0';
	const struct plan_record_info *hdr = rt_plan_record_info(PLAN_REC_HDR);
	for (uint32_t k = 0; k < hdr->nfields; k++) {
		char row[128];
		snprintf(row, sizeof(row), "\n.It %u Ta %u Ta %s", hdr->fields[k].off,
			 hdr->fields[k].size, hdr->fields[k].name);
		ck_assert_msg(strstr(man, row) != NULL, "man/ftsplan.5 lacks the header row%s", row);
	}
	static const struct {
		const char *from;
		int recs[2];
	} paras[] = {
		{"The section table follows", {PLAN_REC_SECT, -1}},
		{".It Li SHAP", {PLAN_REC_SHAP, -1}},
		{".It Li MANI", {PLAN_REC_MANH, PLAN_REC_MANI}},
		{".It Li NAME", {PLAN_REC_NAMH, -1}},
		{".It Li CLSS", {PLAN_REC_CLSS, -1}},
		{".It Li ARGS", {PLAN_REC_ARGS, -1}},
		{".It Li PHAS", {PLAN_REC_PHAS, -1}},
		{".It Li SETT", {PLAN_REC_SETT, -1}},
		{".It Li GRPS", {PLAN_REC_GRPS, -1}},
		{".It Li SMAP", {PLAN_REC_SMAP, -1}},
		{".It Li RSTR", {PLAN_REC_RSTR, -1}},
	};
	int covered[PLAN_REC_COUNT_] = {0};
	for (size_t i = 0; i < sizeof(paras) / sizeof(paras[0]); i++) {
		char want[2048] = "", got[2048];
		char *text = man_paragraph(man, paras[i].from);
		for (int j = 0; j < 2 && paras[i].recs[j] >= 0; j++) {
			int rec = paras[i].recs[j];
			expect_fields(want, sizeof(want), rec);
			covered[rec] = 1;
			char size[32], size2[32];
			snprintf(size, sizeof(size), "%u-byte", rt_plan_record_info(rec)->size);
			snprintf(size2, sizeof(size2), "%u bytes", rt_plan_record_info(rec)->size);
			ck_assert_msg(strstr(text, size) || strstr(text, size2),
				      "%s: man/ftsplan.5 does not give its size %u", paras[i].from,
				      rt_plan_record_info(rec)->size);
		}
		found_fields(got, sizeof(got), text);
		ck_assert_msg(!strcmp(want, got), "%s:\n  plan_records.def: %s\n  man/ftsplan.5:     %s",
			      paras[i].from, want, got);
		free(text);
	}
	/* the pools and byte tables are one value per record */
	covered[PLAN_REC_HDR] = covered[PLAN_REC_STRS] = covered[PLAN_REC_BLOB] = 1;
	covered[PLAN_REC_NAME] = 1;
	covered[PLAN_REC_I64P] = covered[PLAN_REC_F64P] = covered[PLAN_REC_U32P] = 1;
	for (int rec = 0; rec < PLAN_REC_COUNT_; rec++)
		ck_assert_msg(covered[rec], "record %s is not compared with the man page",
			      rt_plan_record_info(rec)->name);
}
END_TEST

/* Every bound and reserved field the table states is enforced: one record at
 * a time, the field is set one past its bound (reserved: to 1), the plan
 * resealed, and the reader must refuse it naming the field. */
START_TEST(test_record_bounds)
{
	struct built b = sample();
	uint8_t *v = malloc(b.len);
	ftsrt_error err;
	ftsrt_plan *p;
	static const struct {
		const char *id;
		int rec;
		size_t head;
	} secs[] = {
		{"SHAP", PLAN_REC_SHAP, 0}, {"MANI", PLAN_REC_MANH, 0},
		{"CLSS", PLAN_REC_CLSS, 0}, {"ARGS", PLAN_REC_ARGS, 0},
		{"PHAS", PLAN_REC_PHAS, 0}, {"SETT", PLAN_REC_SETT, 0},
		{"GRPS", PLAN_REC_GRPS, 0}, {"SMAP", PLAN_REC_SMAP, 0},
		{"RSTR", PLAN_REC_RSTR, 0},
	};
	size_t tried = 0;
	for (size_t i = 0; i < sizeof(secs) / sizeof(secs[0]); i++) {
		const struct plan_record_info *ri = rt_plan_record_info(secs[i].rec);
		for (uint32_t k = 0; k < ri->nfields; k++) {
			const struct plan_field_info *fd = &ri->fields[k];
			bool reserved = fd->type >= PLAN_FT_Z8;
			if (!reserved && (fd->type > PLAN_FT_U64 || fd->max == PLAN_FIELD_ANY))
				continue;
			memcpy(v, b.buf, b.len);
			uint64_t slen;
			uint8_t *r = section(v, secs[i].id, &slen);
			ck_assert_ptr_nonnull(r);
			r += secs[i].head;
			uint64_t bad = reserved ? 1 : fd->max + 1;
			for (uint32_t j = 0; j < fd->size; j++)
				r[fd->off + j] = (uint8_t)(bad >> (8 * j));
			reseal(v);
			ck_assert_int_eq(ftsrt_plan_open_mem(&p, v, b.len, NULL, &err), FTSRT_EFORMAT);
			char want[96];
			snprintf(want, sizeof(want), "%s.%s", ri->name, fd->name);
			ck_assert_msg(strstr(err.message, want), "%s: %s", want, err.message);
			tried++;
		}
	}
	/* and the section table's */
	memcpy(v, b.buf, b.len);
	PLAN_SET(SECT, v + PLAN_HEADER_SIZE, zero0, 1);
	reseal(v);
	ck_assert_int_eq(ftsrt_plan_open_mem(&p, v, b.len, NULL, &err), FTSRT_EFORMAT);
	ck_assert_msg(strstr(err.message, "section table entry 0: reserved field SECT.zero0"), "%s", err.message);
	ck_assert_uint_ge(tried, 30);
	free(v);
	free(b.buf);
}
END_TEST

START_TEST(test_cli_inspect)
{
	const char *ftsrun = getenv("FTSRUN_BIN");
	if (!ftsrun)
		ftsrun = "build/ftsrun";
	struct built b = sample();
	char path[] = "/tmp/check_plan_XXXXXX", cmd[512];
	int fd = mkstemp(path);
	ck_assert(write(fd, b.buf, b.len) == (ssize_t)b.len);
	close(fd);
	snprintf(cmd, sizeof(cmd), "%s inspect %s >/dev/null 2>&1", ftsrun, path);
	ck_assert_int_eq(system(cmd), 0);
	/* a sample of corruptions through the CLI: every 97th byte flipped */
	for (size_t i = 0; i < b.len; i += 97) {
		b.buf[i] ^= 0xFF;
		FILE *f = fopen(path, "wb");
		ck_assert(fwrite(b.buf, 1, b.len, f) == b.len);
		fclose(f);
		b.buf[i] ^= 0xFF;
		int st = system(cmd);
		ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) != 0, "flip at %zu: status %d", i, st);
	}
	/* an invalid plan is status 1 and an unreadable one status 2, for
	 * inspect and run alike (ftsrun(1) EXIT STATUS) */
	FILE *f = fopen(path, "wb");
	ck_assert(fwrite("not a plan, just text\n", 1, 22, f) == 22);
	fclose(f);
	static const char *const verbs[] = { "inspect", "run" };
	for (int v = 0; v < 2; v++) {
		snprintf(cmd, sizeof(cmd), "%s %s %s >/dev/null 2>&1", ftsrun, verbs[v], path);
		int st = system(cmd);
		ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 1, "%s invalid: status %d", verbs[v], st);
		snprintf(cmd, sizeof(cmd), "%s %s %s.missing >/dev/null 2>&1", ftsrun, verbs[v], path);
		st = system(cmd);
		ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 2, "%s missing: status %d", verbs[v], st);
	}
	unlink(path);
	free(b.buf);
}
END_TEST

/* Every ftsrun command answers --help (and `ftsrun help CMD`) with its usage
 * on stdout and status 0; a command without its arguments prints that usage
 * on stderr with status 2. */
START_TEST(test_cli_help)
{
	const char *ftsrun = getenv("FTSRUN_BIN");
	if (!ftsrun)
		ftsrun = "build/ftsrun";
	static const char *const cmds[] = {"inspect", "run", "verify", "bench"};
	char cmd[512], out[4096];
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		for (size_t f = 0; f < 3; f++) {
			char base[256];
			if (f < 2)
				snprintf(base, sizeof(base), "%s %s %s", ftsrun, cmds[i], f ? "-h" : "--help");
			else
				snprintf(base, sizeof(base), "%s help %s", ftsrun, cmds[i]);
			snprintf(cmd, sizeof(cmd), "%s 2>/dev/null", base);
			FILE *p = popen(cmd, "r");
			ck_assert_ptr_nonnull(p);
			size_t n = fread(out, 1, sizeof(out) - 1, p);
			out[n] = '\0';
			int st = pclose(p);
			char want[64];
			snprintf(want, sizeof(want), "usage: ftsrun %s", cmds[i]);
			ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s: status %d", base, st);
			ck_assert_msg(strncmp(out, want, strlen(want)) == 0, "%s printed:\n%s", base, out);
		}
		snprintf(cmd, sizeof(cmd), "%s %s 2>&1 >/dev/null | grep -q '^usage: ftsrun %s'; "
			 "test $(%s %s >/dev/null 2>&1; echo $?) = 2", ftsrun, cmds[i], cmds[i], ftsrun, cmds[i]);
		ck_assert_msg(system(cmd) == 0, "%s without arguments", cmds[i]);
	}
	/* options after the command's arguments too */
	snprintf(cmd, sizeof(cmd), "%s bench adamw --elements 1000 --help | grep -q -- --threads", ftsrun);
	ck_assert_int_eq(system(cmd), 0);
}
END_TEST

/* The emitter agrees with the runtime's reference translator. */
START_TEST(test_lambda_emit)
{
	static const char *const exprs[] = {
		"0.95 ** epoch",
		"min(1.0, (epoch + 1) / 5)",
		"1.0 if epoch < 3 else 0.1",
		"epoch // 3 * 0.5 + epoch % 3",
		"0 < epoch <= 5 and 2.0 or 0.5",
		"not epoch or max(abs(-epoch), 2, int(1.7))",
		"-epoch + +float(3) - (epoch >= 2 != True)",
		"1 if epoch == 1 else (2 if epoch != 4 else 3)",
	};
	struct fts_arena a;
	fts_arena_init(&a);
	for (size_t k = 0; k < sizeof(exprs) / sizeof(exprs[0]); k++) {
		uint8_t code[4096], ref[4096];
		size_t len, rlen;
		char err[160];
		struct fts_expr *e = fts_expr_parse(&a, FTS_NOFILE, 0, exprs[k], strlen(exprs[k]),
						    NULL, NULL);
		ck_assert_msg(e != NULL, "parse %s", exprs[k]);
		ck_assert_msg(fts_lambda_emit(e, code, sizeof(code), &len, err, sizeof(err)) == 0,
			      "%s: %s", exprs[k], err);
		struct rt_lambda l, r;
		struct rt_lambda_diag dg;
		ck_assert_msg(rt_lambda_validate(code, len, &l, &dg) == 0, "%s: invalid at %zu: %s",
			      exprs[k], dg.offset, dg.msg);
		ck_assert_int_eq(rt_lambda_compile_text(exprs[k], ref, sizeof(ref), &rlen, &dg), 0);
		ck_assert_int_eq(rt_lambda_validate(ref, rlen, &r, NULL), 0);
		for (int ep = 0; ep < 12; ep++) {
			double x, y;
			ck_assert_int_eq(rt_lambda_eval(&l, ep, &x, NULL), 0);
			ck_assert_int_eq(rt_lambda_eval(&r, ep, &y, NULL), 0);
			ck_assert_msg(x == y, "%s at %d: %g vs %g", exprs[k], ep, x, y);
		}
	}
	static const char *const bad[] = {"epoch.x", "lr", "'a'", "[epoch]", "len(epoch)"};
	for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
		uint8_t code[256];
		size_t len;
		char err[160];
		struct fts_expr *e = fts_expr_parse(&a, FTS_NOFILE, 0, bad[k], strlen(bad[k]), NULL, NULL);
		if (e)
			ck_assert_int_eq(fts_lambda_emit(e, code, sizeof(code), &len, err, sizeof(err)), -1);
	}
	fts_arena_release(&a);
}
END_TEST

START_TEST(test_build_refusals)
{
	struct fts_sources src;
	struct fts_diags d;
	struct fts_compile c;
	struct fts_check_input in = {0};
	uint8_t *buf;
	size_t len;
	char err[512];

	fts_settings_default(&in.settings);
	in.schedule = SCHED "default.yaml";
	in.manifest = BORING;
	fts_sources_init(&src);
	fts_diags_init(&d, &src);
	ck_assert_int_eq(fts_compile_run(&in, &d, &c), 0);
	ck_assert_int_eq(fts_emit_plan(&c, &src, false, &buf, &len, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "--initial-optimizer"));
	fts_compile_release(&c);
	fts_diags_release(&d);
	fts_sources_release(&src);
}
END_TEST

/* tests/plan/run.sh: `ftsc build` + `ftsc dump` against the goldens. */
/* The one CRC-32C (runtime/bytes.h) against a bit-at-a-time reference: the
 * check value, every alignment, lengths around the three-stream threshold
 * and its thirds, and a CRC continued over pieces. */
static uint32_t crc32c_bitwise(uint32_t crc, const uint8_t *p, size_t n)
{
	crc = ~crc;
	while (n--) {
		crc ^= *p++;
		for (int k = 0; k < 8; k++)
			crc = crc & 1 ? (crc >> 1) ^ 0x82F63B78u : crc >> 1;
	}
	return ~crc;
}

START_TEST(test_crc32c)
{
	ck_assert_uint_eq(rt_crc32c(0, "123456789", 9), 0xE3069283u);
	size_t cap = 3 * RT_CRC32C_3WAY_MIN + 64;
	uint8_t *b = malloc(cap);
	uint64_t x = 0x9E3779B97F4A7C15ull;
	for (size_t i = 0; i < cap; i++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		b[i] = (uint8_t)x;
	}
	static const size_t lens[] = {0, 1, 7, 8, 9, 100, RT_CRC32C_3WAY_MIN - 1, RT_CRC32C_3WAY_MIN,
				      RT_CRC32C_3WAY_MIN + 1, RT_CRC32C_3WAY_MIN + 23,
				      2 * RT_CRC32C_3WAY_MIN + 5, 3 * RT_CRC32C_3WAY_MIN + 50};
	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++)
		for (size_t off = 0; off < 8; off++) {
			uint32_t want = crc32c_bitwise(0, b + off, lens[i]);
			ck_assert_msg(rt_crc32c(0, b + off, lens[i]) == want, "length %zu at +%zu",
				      lens[i], off);
			size_t h = lens[i] / 3;
			ck_assert_uint_eq(rt_crc32c(rt_crc32c(0, b + off, h), b + off + h, lens[i] - h),
					  want);
		}
	/* the combining step on its own: appending n zero bytes */
	memset(b, 0, 1000);
	uint32_t r = 0x12345678u;
	ck_assert_uint_eq(rt_crc32c_mulmod(rt_crc32c_x8n(1000), r),
			  ~crc32c_bitwise(~r, b, 1000));
	free(b);
}
END_TEST

/* Front-code names with the writer's helpers (plan_format.h) as emit.c does:
 * the lengths, then the suffixes, into body; returns the body's size. */
static size_t front_code(const char *const *names, uint32_t n, uint8_t *body, uint32_t *lengths)
{
	size_t ln = 0, sn = 0, prevlen = 0;
	const char *prev = "";
	char suf[4096];
	for (uint32_t i = 0; i < n; i++) {
		size_t len = strlen(names[i]), sh = plan_name_shared(prev, prevlen, names[i], len);
		body[ln++] = (uint8_t)sh;
		ln += plan_leb128_put(body + ln, (uint32_t)(len - sh));
		memcpy(suf + sn, names[i] + sh, len - sh);
		sn += len - sh;
		prev = names[i];
		prevlen = len;
	}
	memcpy(body + ln, suf, sn);
	*lengths = (uint32_t)ln;
	return ln + sn;
}

/* NAME (runtime/plan_names.c): names longer than one shared byte can say
 * and suffixes needing multi-byte lengths round-trip; every malformed
 * length list is refused, naming the name. */
START_TEST(test_names)
{
	char a[400], b[400], c[200];
	memset(a, 'x', 300);
	a[300] = '\0';                  /* 300 bytes: shares at most 255 */
	memcpy(b, a, 300);
	memcpy(b + 300, ".tail", 6);
	memset(c, 'y', 150);            /* a 150-byte suffix: a 2-byte LEB128 */
	c[150] = '\0';
	const char *names[] = {"model.a.weight", "model.a.bias", "model.b", a, b, c, "c"};
	uint32_t n = 7, lengths;
	uint8_t body[2048];
	size_t len = front_code(names, n, body, &lengths);
	ck_assert_uint_eq(body[0], 0);
	ck_assert_uint_eq(body[lengths - 2], 0);        /* "c" shares nothing with c */
	uint64_t dec = 0;
	char msg[200];
	ck_assert_int_eq(rt_names_check(body, len, n, lengths, &dec, msg, sizeof(msg)), 0);
	size_t want = 0;
	for (uint32_t i = 0; i < n; i++)
		want += strlen(names[i]) + 1;
	ck_assert_uint_eq(dec, want);
	const char *out[7];
	char *buf = malloc(dec);
	rt_names_decode(body, lengths, n, out, buf);
	for (uint32_t i = 0; i < n; i++)
		ck_assert_str_eq(out[i], names[i]);
	free(buf);

	static const struct {
		uint8_t body[16];
		size_t len;
		uint32_t n, lengths;
		const char *why;
	} bad[] = {
		{{1, 1, 'a'}, 3, 1, 2, "name 0: shares 1 bytes with a name of 0"},
		{{0, 1, 2, 1, 'a', 'b'}, 6, 2, 4, "name 1: shares 2 bytes with a name of 1"},
		{{0, 0}, 2, 1, 2, "name 0 is empty"},
		{{0, 0x81, 0x00, 'a'}, 4, 1, 3, "name 0: bad suffix length"},        /* not minimal */
		{{0, 0xFF, 0xFF, 0xFF, 0xFF, 0x1F}, 6, 1, 6, "name 0: bad suffix length"}, /* 2^32+ */
		{{0, 0x81}, 2, 1, 2, "name 0: bad suffix length"},                 /* runs off */
		{{0, 1, 'a'}, 3, 2, 2, "name 1: the length list ends early"},
		{{0, 1, 0, 'a'}, 4, 1, 3, "1 bytes after the last name's lengths"},
		{{0, 2, 'a'}, 3, 1, 2, "suffixes take 2 bytes, the section has 1"},
		{{0, 1, 'a', 'b'}, 4, 1, 2, "suffixes take 1 bytes, the section has 2"},
		{{0, 2, 'a', 0}, 4, 1, 2, "a NUL byte in a name (suffix byte 1)"},
		{{0, 1, 'a'}, 3, 1, 9, "9 bytes of lengths in a 3-byte section"},
	};
	for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
		msg[0] = '\0';
		ck_assert_int_eq(rt_names_check(bad[k].body, bad[k].len, bad[k].n, bad[k].lengths, &dec,
						 msg, sizeof(msg)), -1);
		ck_assert_msg(strstr(msg, bad[k].why), "case %zu: \"%s\", expected \"%s\"", k, msg,
			      bad[k].why);
	}
}
END_TEST

/* The reader runs those checks behind a valid CRC, and counts the names. */
START_TEST(test_names_in_plan)
{
	struct built b = sample();
	uint8_t *v = malloc(b.len);
	ftsrt_error err;
	ftsrt_plan *p;
	uint64_t slen;
	static const struct {
		int what;
		const char *why;
	} cases[] = {
		{0, "section NAME: 9 names for 8 parameters"},
		{1, "name 0: shares 1 bytes with a name of 0"},
		{2, "a NUL byte in a name"},
		{3, "section NAME: 1 bytes after the last name's lengths"},
	};
	for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		memcpy(v, b.buf, b.len);
		uint8_t *nm = section(v, "NAME", &slen);
		ck_assert_ptr_nonnull(nm);
		uint32_t lengths = PLAN_GET(NAMH, nm, lengths);
		if (cases[k].what == 0)
			PLAN_SET(NAMH, nm, nnames, 9);
		else if (cases[k].what == 1)
			nm[PLAN_NAME_HEAD] = 1;
		else if (cases[k].what == 2)
			nm[PLAN_NAME_HEAD + lengths + 3] = 0;
		else
			PLAN_SET(NAMH, nm, lengths, lengths + 1);
		reseal(v);
		ck_assert_int_eq(ftsrt_plan_open_mem(&p, v, b.len, NULL, &err), FTSRT_EFORMAT);
		ck_assert_msg(strstr(err.message, cases[k].why), "%s", err.message);
	}
	/* a 1.x plan: refused before its checksums, with what to do */
	memcpy(v, b.buf, b.len);
	PLAN_SET(HDR, v, format_major, 1);
	ck_assert_int_eq(ftsrt_plan_open_mem(&p, v, b.len, NULL, &err), FTSRT_EVERSION);
	ck_assert_msg(strstr(err.message, "rebuild the plan with ftsc build"), "%s", err.message);
	free(v);
	free(b.buf);
}
END_TEST

/* Several threads asking for the names at once get the one decoding. */
struct names_race {
	const struct rt_plan *v;
	const char *const *got;
};

static void *names_thread(void *arg)
{
	struct names_race *r = arg;
	r->got = rt_plan_names(r->v);
	return NULL;
}

START_TEST(test_names_threads)
{
	struct built b = sample();
	for (int round = 0; round < 20; round++) {
		ftsrt_plan *p;
		ck_assert_int_eq(ftsrt_plan_open_mem(&p, b.buf, b.len, NULL, NULL), FTSRT_OK);
		pthread_t th[4];
		struct names_race r[4];
		for (int k = 0; k < 4; k++) {
			r[k].v = rt_plan_view(p);
			ck_assert_int_eq(pthread_create(&th[k], NULL, names_thread, &r[k]), 0);
		}
		for (int k = 0; k < 4; k++) {
			pthread_join(th[k], NULL);
			ck_assert_ptr_nonnull(r[k].got);
			ck_assert_ptr_eq(r[k].got, r[0].got);
		}
		ck_assert_str_eq(r[0].got[6], "model.3.weight");
		ftsrt_plan_close(p);
	}
	free(b.buf);
}
END_TEST

/* rt_plan_name_index: every name of a loaded plan (DeBERTa's 202) maps to its
 * index through the table; near misses and views built by hand too. */
START_TEST(test_name_index)
{
	char path[] = "/tmp/check_plan_idx_XXXXXX", cmd[1024];
	int fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	close(fd);
	const char *ftsc = getenv("FTSC_BIN");
	snprintf(cmd, sizeof(cmd), "%s build tests/schedules/deberta_three_phase.yaml --manifest "
		 "tests/data/manifests/deberta-v3-base-seqcls.tsv --plain --allow-untested "
		 "'--initial-optimizer={class_path: torch.optim.AdamW, init_args: {lr: 1.0e-05}}' "
		 "--initial-lr-scheduler=none -o %s 2>/dev/null", ftsc ? ftsc : "build/ftsc", path);
	ck_assert_int_eq(system(cmd), 0);
	ftsrt_plan *p;
	ftsrt_error err;
	ck_assert_msg(ftsrt_plan_open(&p, path, NULL, &err) == FTSRT_OK, "%s", err.message);
	unlink(path);
	const struct rt_plan *v = rt_plan_view(p);
	const char *const *names = rt_plan_names(v);
	ck_assert_uint_eq(v->nparams, 202);
	for (uint32_t i = 0; i < v->nparams; i++) {
		ck_assert_int_eq(rt_plan_name_index(v, names[i]), (int32_t)i);
		char near[512];
		snprintf(near, sizeof(near), "%s.", names[i]);
		ck_assert_int_eq(rt_plan_name_index(v, near), -1);
		size_t len = strlen(names[i]);
		snprintf(near, sizeof(near), "%.*s", (int)(len - 1), names[i]);
		int32_t k = rt_plan_name_index(v, near);
		ck_assert(k == -1 || !strcmp(names[k], near));
	}
	ck_assert_int_eq(rt_plan_name_index(v, ""), -1);
	ck_assert_int_eq(rt_plan_name_index(v, "no.such.parameter"), -1);
	/* a view built by hand: its own names, searched linearly */
	struct rt_plan h = *v;
	static const char *const hn[3] = {"a", "b", "a"};
	h.names = hn;
	h.names_cache = NULL;
	h.nparams = 3;
	ck_assert_int_eq(rt_plan_name_index(&h, "b"), 1);
	ck_assert_int_eq(rt_plan_name_index(&h, "a"), 0);
	ck_assert_int_eq(rt_plan_name_index(&h, "c"), -1);
	ftsrt_plan_close(p);
}
END_TEST

/* A plan of 9 MiB and more opened from a file: the buffer the default
 * allocator gives it is the huge-page one (plan.c, plan_file_buffer).  The
 * sample plan grows by an unknown optional section of 9 MiB, which readers
 * skip: the table gains an entry, every section moves by 32 bytes. */
START_TEST(test_large_file)
{
	struct built b = sample();
	uint32_t n = PLAN_GET(HDR, b.buf, section_count);
	size_t extra = (size_t)9 << 20, old_start = PLAN_HEADER_SIZE + (size_t)n * PLAN_SECTION_ENTRY;
	size_t body = b.len - plan_align8(old_start), len = plan_align8(old_start + PLAN_SECTION_ENTRY) +
		plan_align8(body) + extra;
	uint8_t *v = calloc(1, len);
	memcpy(v, b.buf, PLAN_HEADER_SIZE);
	uint64_t shift = plan_align8(old_start + PLAN_SECTION_ENTRY) - plan_align8(old_start);
	for (uint32_t i = 0; i < n; i++) {
		uint8_t *e = v + PLAN_HEADER_SIZE + (size_t)i * PLAN_SECTION_ENTRY;
		memcpy(e, b.buf + PLAN_HEADER_SIZE + (size_t)i * PLAN_SECTION_ENTRY, PLAN_SECTION_ENTRY);
		PLAN_SET(SECT, e, offset, PLAN_GET(SECT, e, offset) + shift);
	}
	memcpy(v + plan_align8(old_start) + shift, b.buf + plan_align8(old_start), body);
	uint8_t *e = v + PLAN_HEADER_SIZE + (size_t)n * PLAN_SECTION_ENTRY;
	PLAN_SET(SECT, e, id, PLAN_FOURCC("XTRA"));
	PLAN_SET(SECT, e, flags, PLAN_SECF_OPTIONAL);
	PLAN_SET(SECT, e, offset, len - extra);
	PLAN_SET(SECT, e, length, extra);
	memset(v + len - extra, 0x5A, extra);
	PLAN_SET(HDR, v, section_count, n + 1);
	PLAN_SET(HDR, v, file_size, len);
	reseal(v);
	char path[] = "/tmp/check_plan_big_XXXXXX";
	int fd = mkstemp(path);
	ck_assert(write(fd, v, len) == (ssize_t)len);
	close(fd);
	ftsrt_plan *p;
	ftsrt_error err;
	ck_assert_msg(ftsrt_plan_open(&p, path, NULL, &err) == FTSRT_OK, "%s", err.message);
	unlink(path);
	const struct rt_plan *pv = rt_plan_view(p);
	ck_assert_uint_eq(pv->nparams, 8);
	ck_assert_str_eq(rt_plan_param_name(pv, 6), "model.3.weight");
	ck_assert_uint_eq(rt_plan_param_shape(pv, 6)->numel, 64);
	ftsrt_plan_close(p);
	free(v);
	free(b.buf);
}
END_TEST

START_TEST(test_goldens)
{
	ck_assert_int_eq(system("sh tests/plan/run.sh"), 0);
}
END_TEST

static Suite *plan_suite(void)
{
	Suite *s = suite_create("plan");
	TCase *tc = tcase_create("plan");
	tcase_set_timeout(tc, 600);
	tcase_add_test(tc, test_round_trip);
	tcase_add_test(tc, test_deterministic);
	tcase_add_test(tc, test_corruption);
	tcase_add_test(tc, test_semantic_checks);
	tcase_add_test(tc, test_err_convention);
	tcase_add_test(tc, test_plan_options);
	tcase_add_test(tc, test_struct_out);
	tcase_add_test(tc, test_record_table);
	tcase_add_test(tc, test_record_bounds);
	tcase_add_test(tc, test_cli_inspect);
	tcase_add_test(tc, test_cli_help);
	tcase_add_test(tc, test_lambda_emit);
	tcase_add_test(tc, test_build_refusals);
	tcase_add_test(tc, test_crc32c);
	tcase_add_test(tc, test_names);
	tcase_add_test(tc, test_names_in_plan);
	tcase_add_test(tc, test_names_threads);
	tcase_add_test(tc, test_name_index);
	tcase_add_test(tc, test_large_file);
	tcase_add_test(tc, test_goldens);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(plan_suite());
	srunner_set_tap(sr, "-");
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
