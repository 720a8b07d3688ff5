/*
 * check_blas.c - libftsrt and OpenBLAS (runtime/blas.c) and Muon's teams
 * (kern_muon.c, optim.c): the core-type decision on every kind of CPU, the
 * correction itself in a child ftsrun with a forced misdetection
 * (OPENBLAS_CORETYPE=Prescott), OpenBLAS's thread count given back after
 * a step, and Muon's results on 1, 2 and 3 threads (tensors side by side,
 * a lone tensor split by rows) against one thread and the reference
 * kernels.  Runs from the repository root; FTSRUN_BIN names ftsrun.
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blas.h"
#include "ftsrt.h"
#include "muon_run.h"

int openblas_get_num_threads(void);
void openblas_set_num_threads(int n);

/* --- the decision ------------------------------------------------------------ */

static void fix_is(const char *detected, const struct rt_cpu_isa *isa, int coop, const char *want)
{
	const char *got = rt_blas_core_fix(detected, isa, coop);
	if (!want)
		ck_assert_msg(got == NULL, "%s: corrected to %s, want left alone",
			      detected ? detected : "(null)", got ? got : "");
	else
		ck_assert_msg(got && strcmp(got, want) == 0, "%s: got %s, want %s",
			      detected ? detected : "(null)",
			      got ? got : "(left alone)", want);
}

START_TEST(core_fix_decides)
{
	const struct rt_cpu_isa x512 = {.avx2_fma = 1, .avx512 = 1};
	const struct rt_cpu_isa x512bf = {.avx2_fma = 1, .avx512 = 1, .avx512_bf16 = 1};
	const struct rt_cpu_isa intel2 = {.avx2_fma = 1}, amd2 = {.amd = 1, .avx2_fma = 1};
	const struct rt_cpu_isa amd512 = {.amd = 1, .avx2_fma = 1, .avx512 = 1};
	const struct rt_cpu_isa old = {0};
	/* the case of the issue: an AVX-512 Xeon OpenBLAS 0.3.21 does not know */
	fix_is("Prescott", &x512, 1, "SkylakeX");
	fix_is("prescott", &x512, 1, "SkylakeX");       /* names compare without case */
	fix_is("Haswell", &x512, 1, "SkylakeX");
	fix_is("Prescott", &x512bf, 1, "Cooperlake");
	fix_is("Prescott", &x512bf, 0, "SkylakeX");     /* no Cooperlake table */
	fix_is("SkylakeX", &x512, 1, NULL);
	fix_is("Cooperlake", &x512, 1, NULL);           /* never downgrade */
	fix_is("SapphireRapids", &x512bf, 1, NULL);
	fix_is("Zen", &amd512, 1, "SkylakeX");          /* Zen 4 */
	fix_is("Prescott", &intel2, 1, "Haswell");
	fix_is("Sandybridge", &intel2, 1, "Haswell");
	fix_is("Nehalem", &intel2, 1, "Haswell");
	fix_is("Haswell", &intel2, 1, NULL);
	fix_is("SkylakeX", &intel2, 1, NULL);
	fix_is("Prescott", &amd2, 1, "Zen");
	fix_is("Piledriver", &amd2, 1, "Zen");
	fix_is("Excavator", &amd2, 1, NULL);            /* an AVX2 core already */
	fix_is("Zen", &amd2, 1, NULL);
	fix_is("Prescott", &old, 1, NULL);              /* nothing better to run */
	fix_is("Sandybridge", &old, 1, NULL);
	fix_is("NeoverseN1", &x512, 1, NULL);           /* a core it does not know */
	fix_is("", &x512, 1, NULL);
	fix_is(NULL, &x512, 1, NULL);
}
END_TEST

/* --- the correction, in a child ftsrun -------------------------------------- */

/* ftsrun bench Muon -v's report line under env; into out. */
static void report_under(const char *env, char *out, size_t len)
{
	const char *ftsrun = getenv("FTSRUN_BIN") ? getenv("FTSRUN_BIN") : "build/ftsrun";
	char cmd[1024];
	snprintf(cmd, sizeof(cmd), "env -u OPENBLAS_CORETYPE -u FTSRT_OPENBLAS_CORETYPE %s %s bench "
		 "Muon --elements 4096 --steps 1 --threads 1 -v 2>&1 >/dev/null", env, ftsrun);
	FILE *p = popen(cmd, "r");
	ck_assert_ptr_nonnull(p);
	out[0] = '\0';
	char line[512];
	while (fgets(line, sizeof(line), p))
		if (strstr(line, "OpenBLAS core type"))
			snprintf(out, len, "%s", line);
	ck_assert_int_eq(pclose(p), 0);
	ck_assert_msg(out[0], "%s: no core type line", cmd);
}

START_TEST(core_fix_live)
{
	struct rt_cpu_isa isa;
	rt_cpu_isa_detect(&isa);
	const char *fix = rt_blas_core_fix("Prescott", &isa, 1);
	char got[512], want[256];
	/* a forced misdetection, corrected when the switch says so */
	report_under("OPENBLAS_CORETYPE=Prescott FTSRT_OPENBLAS_CORETYPE=force", got, sizeof(got));
	if (fix) {
		const char *alt = strcmp(fix, "Cooperlake") == 0 ? "SkylakeX" : fix;
		snprintf(want, sizeof(want), "OpenBLAS core type Prescott corrected to ");
		ck_assert_msg(strstr(got, want) && (strstr(got, fix) || strstr(got, alt)), "%s", got);
	} else {
		ck_assert_msg(strstr(got, "OpenBLAS core type Prescott") && !strstr(got, "corrected"),
			      "%s", got);
	}
	/* a user's OPENBLAS_CORETYPE is respected */
	report_under("OPENBLAS_CORETYPE=Prescott", got, sizeof(got));
	ck_assert_msg(strstr(got, "Prescott") && !strstr(got, "corrected"), "%s", got);
	if (fix)
		ck_assert_msg(strstr(got, "set by OPENBLAS_CORETYPE=Prescott"), "%s", got);
	/* and the opt-out */
	report_under("OPENBLAS_CORETYPE=Prescott FTSRT_OPENBLAS_CORETYPE=off", got, sizeof(got));
	ck_assert_msg(strstr(got, "left alone (FTSRT_OPENBLAS_CORETYPE=off)"), "%s", got);
	/* OpenBLAS's own choice on this machine is never downgraded */
	report_under("", got, sizeof(got));
	ck_assert_msg(!strstr(got, "corrected to") || isa.avx2_fma, "%s", got);
}
END_TEST

/* --- Muon's teams -------------------------------------------------------------- */

/* max |a - b| / max(|b|, 1e-2) over n (the parameters lie in [-0.5, 0.5]) */
static double max_rel(const float *a, const float *b, size_t n)
{
	double m = 0;
	for (size_t i = 0; i < n; i++) {
		double d = fabs((double)a[i] - (double)b[i]) / fmax(fabs((double)b[i]), 1e-2);
		m = d > m ? d : m;
	}
	return m;
}

#define MAXN (200 * 160)

/* Several small tensors run side by side, one thread each: one thread's bits. */
START_TEST(muon_side_by_side)
{
	static const int64_t shape[][2] = {{40, 24}, {17, 90}, {64, 64}, {5, 7}, {90, 33}};
	static float one[MAXN], many[MAXN], ref[MAXN];
	for (int bf = 0; bf < 2; bf++) {
		size_t n = muon_run(5, shape, 1, FTSRT_KERNELS_FAST, bf, one);
		muon_run(5, shape, 1, FTSRT_KERNELS_REF, bf, ref);
		ck_assert_msg(max_rel(one, ref, n) < (bf ? 1e-3 : 1e-4), "bf16 %d: fast vs ref %g", bf,
			      max_rel(one, ref, n));
		for (int t = 2; t <= 3; t++) {
			muon_run(5, shape, t, FTSRT_KERNELS_FAST, bf, many);
			ck_assert_msg(memcmp(one, many, n * sizeof(float)) == 0,
				      "bf16 %d: %d threads differ from one (max rel %g)", bf, t,
				      max_rel(many, one, n));
		}
	}
}
END_TEST

/* A lone tensor, tall and wide, on a team: its products split by rows. */
START_TEST(muon_team_rows)
{
	static const int64_t tall[][2] = {{200, 130}}, wide[][2] = {{120, 160}};
	static float one[MAXN], many[MAXN], ref[MAXN];
	for (int bf = 0; bf < 2; bf++)
		for (int s = 0; s < 2; s++) {
			const int64_t (*shape)[2] = s ? wide : tall;
			size_t n = muon_run(1, shape, 1, FTSRT_KERNELS_FAST, bf, one);
			muon_run(1, shape, 1, FTSRT_KERNELS_REF, bf, ref);
			/* bf16: a product's last bit may round an element of the iteration
			 * to the neighbouring bfloat16 (2^-8 relative), as between the fast
			 * and the reference kernels */
			double tol = bf ? 5e-3 : 1e-4;
			ck_assert_msg(max_rel(one, ref, n) < tol, "bf16 %d: fast vs ref %g", bf,
				      max_rel(one, ref, n));
			for (int t = 2; t <= 3; t++) {
				muon_run(1, shape, t, FTSRT_KERNELS_FAST, bf, many);
				ck_assert_msg(max_rel(many, one, n) < tol, "bf16 %d %s, %d threads: %g",
					      bf, s ? "wide" : "tall", t, max_rel(many, one, n));
				ck_assert_msg(max_rel(many, ref, n) < tol, "bf16 %d %s, %d threads vs "
					      "ref: %g", bf, s ? "wide" : "tall", t, max_rel(many, ref, n));
			}
		}
}
END_TEST

/* A step runs OpenBLAS on one thread and gives its count back. */
START_TEST(blas_threads_given_back)
{
	static const int64_t shape[][2] = {{200, 130}};
	static float p[MAXN];
	/* linked with OpenBLAS (its references are weak: a linker dropping it
	 * would leave Muon on its reference path) */
	ck_assert_int_eq(rt_blas_linked(), 1);
	openblas_set_num_threads(3);
	muon_run(1, shape, 2, FTSRT_KERNELS_FAST, 1, p);
	ck_assert_int_eq(openblas_get_num_threads(), 3);
	rt_blas_single_begin();
	rt_blas_single_begin();                         /* nested: one saved count */
	ck_assert_int_eq(openblas_get_num_threads(), 1);
	rt_blas_single_end();
	ck_assert_int_eq(openblas_get_num_threads(), 1);
	rt_blas_single_end();
	ck_assert_int_eq(openblas_get_num_threads(), 3);
}
END_TEST

static Suite *blas_suite(void)
{
	Suite *s = suite_create("blas");
	TCase *tc = tcase_create("core type");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, core_fix_decides);
	tcase_add_test(tc, core_fix_live);
	suite_add_tcase(s, tc);
	tc = tcase_create("muon teams");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, muon_side_by_side);
	tcase_add_test(tc, muon_team_rows);
	tcase_add_test(tc, blas_threads_given_back);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(blas_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
