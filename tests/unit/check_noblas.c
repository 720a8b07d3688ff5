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
#include "muon_run.h"

/* Three Muon steps of two tensors on two threads with kernels. */
static size_t two_tensors(int kernels, float *out)
{
	static const int64_t shape[][2] = {{40, 24}, {17, 90}};
	return muon_run(2, shape, 2, kernels, 0, out);
}

START_TEST(muon_without_openblas)
{
	static float fast[40 * 24 + 17 * 90], ref[40 * 24 + 17 * 90];
	ck_assert_int_eq(rt_blas_linked(), 0);
	size_t n = two_tensors(FTSRT_KERNELS_FAST, fast);
	two_tensors(FTSRT_KERNELS_REF, ref);
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
