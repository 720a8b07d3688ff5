/*
 * check_noblas.c - libftsrt in a program linked without OpenBLAS (as ftsc
 * is: runtime/blas.h declares OpenBLAS's entry points weak): it says it has
 * none, and Muon's fast kernels run the reference path, bit for bit.  The
 * Makefile links this suite with FTSC_LIBS, not RT_LIBS.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "blas.h"
#include "ftsrt.h"

/* Three Muon steps of two tensors with kernels; the parameters into out. */
static size_t muon_run(int kernels, float *out)
{
	static const int64_t shape[][2] = {{40, 24}, {17, 90}};
	ftsrt_error err;
	struct ftsrt_optim_hparams h = FTSRT_INIT(struct ftsrt_optim_hparams);
	ck_assert_int_eq(ftsrt_optim_hparams_default(FTSRT_OPTIM_MUON, &h, &err), FTSRT_OK);
	h.lr = 0.02;
	struct ftsrt_optim_options op = FTSRT_INIT(struct ftsrt_optim_options);
	op.threads = 2;
	op.kernels = kernels;
	ftsrt_optim *o = NULL;
	ck_assert_int_eq(ftsrt_optim_new(&o, FTSRT_OPTIM_MUON, FTSRT_F32, &op, &err), FTSRT_OK);
	ck_assert_int_eq(ftsrt_optim_add_group(o, &h, NULL, &err), FTSRT_OK);
	for (int i = 0; i < 2; i++)
		ck_assert_int_eq(ftsrt_optim_add_param(o, 0, 2, shape[i], NULL, &err), FTSRT_OK);
	size_t n = ftsrt_optim_numel(o);
	float *g = malloc(n * sizeof(float));
	ck_assert_ptr_nonnull(g);
	for (size_t i = 0; i < n; i++) {
		unsigned x = (unsigned)i * 2654435761u;
		out[i] = (float)((x >> 8) & 0xffff) / 65536.0f - 0.5f;
		g[i] = (float)((x >> 4) & 0xffff) / 65536.0f * 1e-2f - 5e-3f;
	}
	for (int s = 0; s < 3; s++)
		ck_assert_int_eq(ftsrt_optim_step(o, out, g, n, &err), FTSRT_OK);
	free(g);
	ftsrt_optim_free(o);
	return n;
}

START_TEST(muon_without_openblas)
{
	static float fast[40 * 24 + 17 * 90], ref[40 * 24 + 17 * 90];
	ck_assert_int_eq(rt_blas_linked(), 0);
	size_t n = muon_run(FTSRT_KERNELS_FAST, fast);
	muon_run(FTSRT_KERNELS_REF, ref);
	ck_assert_msg(memcmp(fast, ref, n * sizeof(float)) == 0, "fast kernels without OpenBLAS differ from ref");
	rt_blas_setup();
	ck_assert_msg(strstr(rt_blas_report(), "no OpenBLAS"), "%s", rt_blas_report());
	rt_blas_single_begin();                 /* no-ops */
	rt_blas_single_end();
}
END_TEST

int main(void)
{
	Suite *s = suite_create("noblas");
	TCase *tc = tcase_create("muon");
	tcase_add_test(tc, muon_without_openblas);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
