/*
 * check_optim.c - the runtime optimizers (libftsrt optim.c, kern_*.c):
 * every torch golden trajectory through the code `ftsrun verify` uses
 * (runtime/verify.c), fast kernels against the reference kernels on random
 * data of odd sizes for every optimizer and option combination, element
 * range stepping, refused calls, NaN propagation, the state slot names
 * against the compiler's declarations in stdlib/optim.fts, and the
 * interface's conventions on the optimizer's functions (ftsrt.h, CONVENTIONS:
 * ftsrt_error, struct_size, options).  Runs from the repository root (reads
 * tests/data/golden/optim).
 */
#include <check.h>
#include <dirent.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err_check.h"
#include "ftsrt.h"
#include "optim_int.h"
#include "verify.h"
#include "verify_lrs.h"

#define GOLDEN "tests/data/golden/optim"

/* --- golden ----------------------------------------------------------------- */

static void golden_all(int kernels, int threads)
{
	DIR *d = opendir(GOLDEN);
	ck_assert_msg(d != NULL, "cannot open " GOLDEN);
	struct dirent *de;
	int n = 0;
	while ((de = readdir(d))) {
		size_t len = strlen(de->d_name);
		if (len < 6 || strcmp(de->d_name + len - 5, ".yaml") != 0)
			continue;
		char path[512];
		snprintf(path, sizeof(path), "%s/%s", GOLDEN, de->d_name);
		struct rt_verify_result r;
		int st = rt_verify_case(path, kernels, threads, &r);
		ck_assert_msg(st == RT_VERIFY_PASS, "%s: %s (f32 %g, f64 %g)", r.name, r.msg, r.err[0],
			      r.err[1]);
		n++;
	}
	closedir(d);
	ck_assert_int_ge(n, 26);
}

START_TEST(golden_fast)
{
	golden_all(FTSRT_KERNELS_FAST, 2);
}
END_TEST

START_TEST(golden_ref)
{
	golden_all(FTSRT_KERNELS_REF, 1);
}
END_TEST

START_TEST(lrs_case_is_replayed)
{
	/* `ftsrun verify` hands scheduler traces to the scheduler runtime */
	struct rt_verify_result r;
	int st = rt_verify_case("tests/data/golden/lrs/constantlr.yaml", FTSRT_KERNELS_FAST, 1, &r);
	ck_assert_int_eq(st, RT_VERIFY_PASS);
	ck_assert_int_eq(r.kind, RT_VERIFY_LRS);
	ck_assert(r.err[0] <= RT_VERIFY_LRS_RTOL);
}
END_TEST

/* --- fast vs reference ------------------------------------------------------- */

static uint64_t rng_state = 88172645463325252ull;

static double urand(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (double)(rng_state >> 11) / 9007199254740992.0;
}

/* One optimizer over n elements in one or two tensors; returns arrays. */
struct run {
	ftsrt_optim *o;
	void *p, *g;
	size_t n;
};

static void run_init(struct run *r, int kind, int dtype, const struct ftsrt_optim_hparams *h,
		     int ndim, const int64_t *shape, int kernels, int threads)
{
	memset(r, 0, sizeof(*r));
	struct ftsrt_optim_options op = FTSRT_INIT(struct ftsrt_optim_options);
	op.kernels = kernels;
	op.threads = threads;
	ck_assert_int_eq(ftsrt_optim_new(&r->o, kind, dtype, &op, NULL), FTSRT_OK);
	ck_assert_int_eq(ftsrt_optim_add_group(r->o, h, NULL, NULL), FTSRT_OK);
	ck_assert_int_eq(ftsrt_optim_add_param(r->o, 0, ndim, shape, NULL, NULL), FTSRT_OK);
	r->n = ftsrt_optim_numel(r->o);
	size_t es = dtype == FTSRT_F64 ? 8 : 4;
	r->p = malloc(r->n * es + 8);
	r->g = malloc(r->n * es + 8);
	ck_assert(r->p && r->g);
}

static void run_free(struct run *r)
{
	ftsrt_optim_free(r->o);
	free(r->p);
	free(r->g);
}

/* Bitwise-equal (NaN equal to NaN) or within tol relative. */
static double elem(const void *a, size_t i, int dtype)
{
	return dtype == FTSRT_F64 ? ((const double *)a)[i] : ((const float *)a)[i];
}

static void set_elem(void *a, size_t i, int dtype, double v)
{
	if (dtype == FTSRT_F64)
		((double *)a)[i] = v;
	else
		((float *)a)[i] = (float)v;
}

static double max_diff(const void *a, const void *b, size_t n, int dtype)
{
	double worst = 0;
	for (size_t i = 0; i < n; i++) {
		double x = dtype == FTSRT_F64 ? ((const double *)a)[i] : ((const float *)a)[i];
		double y = dtype == FTSRT_F64 ? ((const double *)b)[i] : ((const float *)b)[i];
		double e = rt_verify_relerr(x, y);
		if (!(e <= worst))
			worst = e;
	}
	return worst;
}

/* Fast vs reference within tol[dtype] (relative, per element). */
static void compare_tols(int kind, const struct ftsrt_optim_hparams *h, int ndim,
			 const int64_t *shape, const double tols[2])
{
	for (int dtype = 0; dtype < 2; dtype++) {
		const double tol = tols[dtype];
		struct run f, r;
		run_init(&f, kind, dtype, h, ndim, shape, FTSRT_KERNELS_FAST, 2);
		run_init(&r, kind, dtype, h, ndim, shape, FTSRT_KERNELS_REF, 1);
		size_t es = dtype == FTSRT_F64 ? 8 : 4;
		for (size_t i = 0; i < f.n; i++) {
			set_elem(f.p, i, dtype, urand() - 0.5);
		}
		memcpy(r.p, f.p, f.n * es);
		for (int s = 0; s < 3; s++) {
			for (size_t i = 0; i < f.n; i++) {
				double v = (urand() - 0.5) * 0.1;
				if (i % 7 == 3 && s == 1)
					v = 0;                  /* Rprop: sign 0 */
				set_elem(f.g, i, dtype, v);
			}
			memcpy(r.g, f.g, f.n * es);
			ck_assert_int_eq(ftsrt_optim_set_lr(f.o, 0, h->lr * (s == 2 ? 0.5 : 1), NULL), FTSRT_OK);
			ck_assert_int_eq(ftsrt_optim_set_lr(r.o, 0, h->lr * (s == 2 ? 0.5 : 1), NULL), FTSRT_OK);
			ck_assert_int_eq(ftsrt_optim_step(f.o, f.p, f.g, f.n, NULL), FTSRT_OK);
			ck_assert_int_eq(ftsrt_optim_step(r.o, r.p, r.g, r.n, NULL), FTSRT_OK);
		}
		double e = max_diff(f.p, r.p, f.n, dtype);
		ck_assert_msg(e <= tol, "%s n=%zu dtype=%d: fast vs ref %g", ftsrt_optim_kind_name(kind),
			      f.n, dtype, e);
		/* and every tensor state slot */
		for (int i = 0;; i++) {
			const char *name;
			int32_t shp;
			if (ftsrt_optim_kind_slot(kind, i, &name, &shp, NULL))
				break;
			void *da = NULL, *db = NULL;
			size_t na = 0, nb = 0;
			double va = 0, vb = 0;
			int sa = ftsrt_optim_state(f.o, 0, name, &da, &na, &va, NULL);
			int sb = ftsrt_optim_state(r.o, 0, name, &db, &nb, &vb, NULL);
			ck_assert_int_eq(sa, sb);
			if (sa)
				continue;
			ck_assert_uint_eq(na, nb);
			if (da)
				ck_assert_msg(max_diff(da, db, na, dtype) <= tol, "%s state %s",
					      ftsrt_optim_kind_name(kind), name);
			else
				ck_assert(va == vb);
		}
		run_free(&f);
		run_free(&r);
	}
}

static void compare(int kind, const struct ftsrt_optim_hparams *h, int ndim, const int64_t *shape,
		    double tol)
{
	const double tols[2] = {tol, tol};
	compare_tols(kind, h, ndim, shape, tols);
}

static const int64_t sizes[] = {1, 3, 17, 1000003};

/* Every elementwise optimizer, every option combination, bit-exact. */
START_TEST(fast_vs_ref_elementwise)
{
	int64_t n = sizes[_i];
	struct ftsrt_optim_hparams h = FTSRT_INIT(struct ftsrt_optim_hparams);
	for (int kind = 0; kind < FTSRT_OPTIM_NKINDS; kind++) {
		if (kind == FTSRT_OPTIM_ADAFACTOR || kind == FTSRT_OPTIM_MUON)
			continue;
		for (int combo = 0; combo < 32; combo++) {
			ck_assert_int_eq(ftsrt_optim_hparams_default(kind, &h, NULL), FTSRT_OK);
			h.lr = 0.01;
			h.maximize = combo & 1;
			h.weight_decay = (combo & 2) ? 0.05 : 0;
			int o1 = !!(combo & 4), o2 = !!(combo & 8), o3 = !!(combo & 16);
			switch (kind) {
			case FTSRT_OPTIM_SGD:
				h.momentum = o1 ? 0.9 : 0;
				h.dampening = (o2 && !o3) ? 0.1 : 0;
				h.nesterov = o1 && o3;
				break;
			case FTSRT_OPTIM_ADAM:
			case FTSRT_OPTIM_ADAMW:
				h.amsgrad = o1;
				h.decoupled_weight_decay = o2;
				if (o3)
					h.beta1 = 0.6; /* lerp weight 0.4 */
				break;
			case FTSRT_OPTIM_NADAM:
			case FTSRT_OPTIM_RADAM:
				h.decoupled_weight_decay = o1;
				h.momentum_decay = o2 ? 0.01 : h.momentum_decay;
				h.beta2 = o3 ? 0.5 : h.beta2; /* RAdam: rectification on early */
				break;
			case FTSRT_OPTIM_ADAGRAD:
				h.lr_decay = o1 ? 0.01 : 0;
				h.initial_accumulator_value = o2 ? 0.1 : 0;
				break;
			case FTSRT_OPTIM_RMSPROP:
				h.centered = o1;
				h.momentum = o2 ? 0.9 : 0;
				h.alpha = o3 ? 0.3 : h.alpha;
				break;
			case FTSRT_OPTIM_RPROP:
				h.weight_decay = 0;
				if (o1) {
					h.etaminus = 0.3;
					h.etaplus = 1.5;
					h.step_size_min = 1e-4;
					h.step_size_max = 0.02;
				}
				break;
			case FTSRT_OPTIM_ASGD:
				h.t0 = o1 ? 1 : h.t0;   /* mu != 1 from step 2 */
				h.lambd = o2 ? 0.1 : h.lambd;
				break;
			default:
				if (combo >= 4)
					continue;
				break;
			}
			compare(kind, &h, 1, &n, 0);
		}
	}
}
END_TEST

/*
 * The fast Adafactor sums squares in float runs and factors the update per
 * row and column (kern_adafactor_fast_tmpl.h): the low bits differ.  The
 * tolerances are `ftsrun verify`'s.  The large shapes have several blocks
 * and run on two threads.
 */
static const double adafactor_tol[2] = {RT_VERIFY_TOL_F32, RT_VERIFY_TOL_F64};

START_TEST(fast_vs_ref_adafactor)
{
	struct ftsrt_optim_hparams h = FTSRT_INIT(struct ftsrt_optim_hparams);
	ck_assert_int_eq(ftsrt_optim_hparams_default(FTSRT_OPTIM_ADAFACTOR, &h, NULL), FTSRT_OK);
	int64_t s1[] = {17}, s2[] = {7, 13}, s3[] = {3, 5, 4}, l1[] = {70001}, l3[] = {2, 300, 130};
	int64_t wide[] = {60, 1100};            /* rows longer than a run of 512, with a tail */
	for (int combo = 0; combo < 4; combo++) {
		h.maximize = combo & 1;
		h.weight_decay = (combo & 2) ? 0.1 : 0;
		compare_tols(FTSRT_OPTIM_ADAFACTOR, &h, 1, s1, adafactor_tol);
		compare_tols(FTSRT_OPTIM_ADAFACTOR, &h, 2, s2, adafactor_tol);
		compare_tols(FTSRT_OPTIM_ADAFACTOR, &h, 3, s3, adafactor_tol);
		compare_tols(FTSRT_OPTIM_ADAFACTOR, &h, 1, l1, adafactor_tol);
		compare_tols(FTSRT_OPTIM_ADAFACTOR, &h, 3, l3, adafactor_tol);
		compare_tols(FTSRT_OPTIM_ADAFACTOR, &h, 2, wide, adafactor_tol);
	}
}
END_TEST

/*
 * Zero rows and columns of the gradient (row_var 0: torch clamps the
 * factor at 1/eps1), a huge gradient and a NaN: the factored update of the
 * fast path gives the reference's zeros, clamps and NaNs.
 */
START_TEST(adafactor_special_values)
{
	struct ftsrt_optim_hparams h = FTSRT_INIT(struct ftsrt_optim_hparams);
	ck_assert_int_eq(ftsrt_optim_hparams_default(FTSRT_OPTIM_ADAFACTOR, &h, NULL), FTSRT_OK);
	const int64_t shape[2] = {40, 30};
	for (int dtype = 0; dtype < 2; dtype++)
		for (int nan = 0; nan < 2; nan++) {
			struct run f, r;
			run_init(&f, FTSRT_OPTIM_ADAFACTOR, dtype, &h, 2, shape, FTSRT_KERNELS_FAST, 2);
			run_init(&r, FTSRT_OPTIM_ADAFACTOR, dtype, &h, 2, shape, FTSRT_KERNELS_REF, 1);
			for (size_t i = 0; i < f.n; i++) {
				size_t row = i / 30, col = i % 30;
				double pv = urand() - 0.5, gv = (urand() - 0.5) * 0.1;
				if (row == 3 || col == 5)
					gv = 0;
				if (row == 9 && col == 9)
					gv = 1e30;
				if (nan && row == 7 && col == 11)
					gv = NAN;
				set_elem(f.p, i, dtype, pv);
				set_elem(f.g, i, dtype, gv);
			}
			size_t es = dtype == FTSRT_F64 ? 8 : 4;
			memcpy(r.p, f.p, f.n * es);
			memcpy(r.g, f.g, f.n * es);
			for (int s = 0; s < 2; s++) {
				ck_assert_int_eq(ftsrt_optim_step(f.o, f.p, f.g, f.n, NULL), FTSRT_OK);
				ck_assert_int_eq(ftsrt_optim_step(r.o, r.p, r.g, r.n, NULL), FTSRT_OK);
			}
			double e = max_diff(f.p, r.p, f.n, dtype);
			ck_assert_msg(e <= adafactor_tol[dtype], "dtype %d nan %d: %g", dtype, nan, e);
			run_free(&f);
			run_free(&r);
		}
}
END_TEST

/*
 * Factors clamped at 1/eps1 with no zero statistic: with eps1 1e-3, rows
 * and columns whose gradient is 1e-4 of the rest have factors far above
 * 1000.  The fast path must see it and take the update's norm from the
 * clamped update (pass 2), as the reference does, not from its column sums
 * (which assume no clamp).  With eps1 1e-12 the same factors, which span
 * five orders of magnitude, are not clamped: the column sums give the norm.
 */
START_TEST(adafactor_clamped_factor)
{
	struct ftsrt_optim_hparams h = FTSRT_INIT(struct ftsrt_optim_hparams);
	ck_assert_int_eq(ftsrt_optim_hparams_default(FTSRT_OPTIM_ADAFACTOR, &h, NULL), FTSRT_OK);
	const int64_t shape[2] = {40, 300};
	for (int dtype = 0; dtype < 2; dtype++)
		for (int tiny = 0; tiny < 2; tiny++) {
			h.eps1 = tiny ? 1e-12 : 1e-3;
			struct run f, r;
			run_init(&f, FTSRT_OPTIM_ADAFACTOR, dtype, &h, 2, shape, FTSRT_KERNELS_FAST, 2);
			run_init(&r, FTSRT_OPTIM_ADAFACTOR, dtype, &h, 2, shape, FTSRT_KERNELS_REF, 1);
			for (size_t i = 0; i < f.n; i++) {
				size_t row = i / 300, col = i % 300;
				double pv = urand() - 0.5, gv = (urand() - 0.5) * 0.1;
				if (row < 10 || col < 75)
					gv *= 1e-4;
				set_elem(f.p, i, dtype, pv);
				set_elem(f.g, i, dtype, gv);
			}
			size_t es = dtype == FTSRT_F64 ? 8 : 4;
			memcpy(r.p, f.p, f.n * es);
			memcpy(r.g, f.g, f.n * es);
			void *p0 = malloc(f.n * es);
			ck_assert_ptr_nonnull(p0);
			memcpy(p0, f.p, f.n * es);
			for (int s = 0; s < 3; s++) {
				ck_assert_int_eq(ftsrt_optim_step(f.o, f.p, f.g, f.n, NULL), FTSRT_OK);
				ck_assert_int_eq(ftsrt_optim_step(r.o, r.p, r.g, r.n, NULL), FTSRT_OK);
			}
			/* relative to the largest move: the moves of the clamped
			 * and unclamped elements differ by 1e5, and some p pass
			 * near zero */
			double e = 0, moved = 0;
			for (size_t i = 0; i < f.n; i++) {
				double x = elem(f.p, i, dtype), y = elem(r.p, i, dtype), y0 = elem(p0, i, dtype);
				e = fabs(x - y) > e || x != x ? fabs(x - y) : e;
				moved = fabs(y - y0) > moved ? fabs(y - y0) : moved;
			}
			free(p0);
			ck_assert_msg(moved > 1e-3 && e <= adafactor_tol[dtype] * moved, "dtype %d eps1 %g: %g of %g",
				      dtype, h.eps1, e, moved);
			run_free(&f);
			run_free(&r);
		}
}
END_TEST

/* The fast Adafactor's blocks are fixed by the shape: 1 and 3 threads agree
 * bit for bit, parameters and factors. */
START_TEST(adafactor_threads_bitwise)
{
	struct ftsrt_optim_hparams h = FTSRT_INIT(struct ftsrt_optim_hparams);
	ck_assert_int_eq(ftsrt_optim_hparams_default(FTSRT_OPTIM_ADAFACTOR, &h, NULL), FTSRT_OK);
	h.weight_decay = 0.1;
	static const int64_t shapes[3][3] = {{70001}, {2, 300, 130}, {1100, 70}};
	static const int ndims[3] = {1, 3, 2};
	for (int dtype = 0; dtype < 2; dtype++)
		for (int k = 0; k < 3; k++) {
			struct run a, b;
			run_init(&a, FTSRT_OPTIM_ADAFACTOR, dtype, &h, ndims[k], shapes[k], FTSRT_KERNELS_FAST, 1);
			run_init(&b, FTSRT_OPTIM_ADAFACTOR, dtype, &h, ndims[k], shapes[k], FTSRT_KERNELS_FAST, 3);
			size_t es = dtype == FTSRT_F64 ? 8 : 4;
			for (size_t i = 0; i < a.n; i++) {
				double pv = urand() - 0.5, gv = (urand() - 0.5) * 0.1;
				set_elem(a.p, i, dtype, pv);
				set_elem(a.g, i, dtype, gv);
			}
			memcpy(b.p, a.p, a.n * es);
			memcpy(b.g, a.g, a.n * es);
			for (int s = 0; s < 3; s++) {
				ck_assert_int_eq(ftsrt_optim_step(a.o, a.p, a.g, a.n, NULL), FTSRT_OK);
				ck_assert_int_eq(ftsrt_optim_step(b.o, b.p, b.g, b.n, NULL), FTSRT_OK);
			}
			ck_assert_msg(memcmp(a.p, b.p, a.n * es) == 0, "shape %d dtype %d", k, dtype);
			const char *names[] = {"variance", "row_var", "col_var"};
			for (int j = 0; j < 3; j++) {
				void *da = NULL, *db = NULL;
				size_t na = 0, nb = 0;
				if (ftsrt_optim_state(a.o, 0, names[j], &da, &na, NULL, NULL))
					continue;
				ck_assert_int_eq(ftsrt_optim_state(b.o, 0, names[j], &db, &nb, NULL, NULL), 0);
				ck_assert(na == nb && memcmp(da, db, na * es) == 0);
			}
			run_free(&a);
			run_free(&b);
		}
}
END_TEST

/*
 * Many tensors in one step (rt_adafactor_fast_many): on three threads the
 * largest is stepped by the team and the others side by side, largest
 * first; on one thread all in order.  Parameters and every factor agree
 * bit for bit, and both stay within tolerance of the reference.
 */
START_TEST(adafactor_many_tensors)
{
	static const int64_t shapes[][3] = {
		{600, 300}, {300, 256}, {300, 256}, {2, 200, 200}, {70001}, {40, 30}, {17},
		{300, 256}, {100, 700}, {5, 5}, {300, 256}, {300, 256}, {300, 256}, {300, 256},
		{300, 256}, {0},
	};
	static const int ndims[] = {2, 2, 2, 3, 1, 2, 1, 2, 2, 2, 2, 2, 2, 2, 2, 1};
	const int nt = (int)(sizeof(ndims) / sizeof(ndims[0]));
	struct ftsrt_optim_hparams h = FTSRT_INIT(struct ftsrt_optim_hparams);
	ck_assert_int_eq(ftsrt_optim_hparams_default(FTSRT_OPTIM_ADAFACTOR, &h, NULL), FTSRT_OK);
	h.weight_decay = 0.1;
	for (int dtype = 0; dtype < 2; dtype++) {
		ftsrt_optim *o[3];
		static const int kernels[3] = {FTSRT_KERNELS_FAST, FTSRT_KERNELS_FAST, FTSRT_KERNELS_REF};
		static const int threads[3] = {1, 3, 1};
		for (int k = 0; k < 3; k++) {
			struct ftsrt_optim_options op = FTSRT_INIT(struct ftsrt_optim_options);
			op.kernels = kernels[k];
			op.threads = threads[k];
			ck_assert_int_eq(ftsrt_optim_new(&o[k], FTSRT_OPTIM_ADAFACTOR, dtype, &op, NULL), FTSRT_OK);
			ck_assert_int_eq(ftsrt_optim_add_group(o[k], &h, NULL, NULL), FTSRT_OK);
			for (int i = 0; i < nt; i++)
				ck_assert_int_eq(ftsrt_optim_add_param(o[k], 0, ndims[i], shapes[i], NULL, NULL),
						 FTSRT_OK);
		}
		const size_t n = ftsrt_optim_numel(o[0]), es = dtype == FTSRT_F64 ? 8 : 4;
		void *p[3], *g = malloc(n * es);
		ck_assert_ptr_nonnull(g);
		for (int k = 0; k < 3; k++) {
			p[k] = malloc(n * es);
			ck_assert_ptr_nonnull(p[k]);
		}
		for (size_t i = 0; i < n; i++) {
			double pv = urand() - 0.5, gv = (urand() - 0.5) * 0.1;
			set_elem(p[0], i, dtype, pv);
			set_elem(g, i, dtype, gv);
		}
		memcpy(p[1], p[0], n * es);
		memcpy(p[2], p[0], n * es);
		for (int s = 0; s < 3; s++)
			for (int k = 0; k < 3; k++)
				ck_assert_int_eq(ftsrt_optim_step(o[k], p[k], g, n, NULL), FTSRT_OK);
		ck_assert_msg(memcmp(p[0], p[1], n * es) == 0, "dtype %d: 1 and 3 threads", dtype);
		double e = max_diff(p[1], p[2], n, dtype);
		ck_assert_msg(e <= adafactor_tol[dtype], "dtype %d: fast vs ref %g", dtype, e);
		const char *names[] = {"variance", "row_var", "col_var"};
		int compared = 0;
		for (int i = 0; i < nt; i++)
			for (int j = 0; j < 3; j++) {
				void *da = NULL, *db = NULL;
				size_t na = 0, nb = 0;
				if (ftsrt_optim_state(o[0], i, names[j], &da, &na, NULL, NULL))
					continue;
				ck_assert_int_eq(ftsrt_optim_state(o[1], i, names[j], &db, &nb, NULL, NULL), 0);
				ck_assert_msg(na == nb && memcmp(da, db, na * es) == 0, "tensor %d %s", i, names[j]);
				compared++;
			}
		ck_assert_int_ge(compared, 2 * (nt - 4) + 3);
		for (int k = 0; k < 3; k++) {
			ftsrt_optim_free(o[k]);
			free(p[k]);
		}
		free(g);
	}
}
END_TEST

/*
 * A first step that fails for memory, at each of its allocations in turn,
 * changes nothing: the retry steps as a clean first step does (step 1, the
 * same parameters), and nothing leaks.  Adafactor (fast and reference,
 * float32, bf16 beside master weights and with state in bf16) and Muon
 * (float32, bf16 beside master weights).
 */
struct oom_alloc {
	int count, fail_at;
	long long live;
};

static void *oom_fn(void *ud, void *p, size_t os, size_t ns)
{
	struct oom_alloc *a = ud;
	if (ns == 0) {
		if (p)
			a->live -= (long long)os;
		free(p);
		return NULL;
	}
	if (++a->count == a->fail_at)
		return NULL;
	void *q = realloc(p, ns);
	if (q)
		a->live += (long long)ns - (p ? (long long)os : 0);
	return q;
}

static ftsrt_optim *oom_new(int kind, int dt, int pr, int kernels, struct oom_alloc *a)
{
	ftsrt_optim *o = NULL;
	struct ftsrt_optim_options op = FTSRT_INIT(struct ftsrt_optim_options);
	op.precision = pr;
	op.kernels = kernels;
	op.threads = 2;
	op.alloc = oom_fn;
	op.alloc_ud = a;
	ck_assert_int_eq(ftsrt_optim_new(&o, kind, dt, &op, NULL), FTSRT_OK);
	struct ftsrt_optim_hparams h = FTSRT_INIT(struct ftsrt_optim_hparams);
	ck_assert_int_eq(ftsrt_optim_hparams_default(kind, &h, NULL), FTSRT_OK);
	ck_assert_int_eq(ftsrt_optim_add_group(o, &h, NULL, NULL), FTSRT_OK);
	const int64_t s2[2] = {40, 30}, s3[2] = {300, 250}, s1 = 17;
	ck_assert_int_eq(ftsrt_optim_add_param(o, 0, 2, s2, NULL, NULL), FTSRT_OK);
	ck_assert_int_eq(ftsrt_optim_add_param(o, 0, 2, s3, NULL, NULL), FTSRT_OK);
	if (kind == FTSRT_OPTIM_ADAFACTOR)
		ck_assert_int_eq(ftsrt_optim_add_param(o, 0, 1, &s1, NULL, NULL), FTSRT_OK);
	return o;
}

START_TEST(oom_first_step_retry)
{
	static const int cfg[6][4] = {  /* kind, dtype, precision, kernels */
		{FTSRT_OPTIM_ADAFACTOR, FTSRT_F32, FTSRT_PRECISION_PARAM, FTSRT_KERNELS_FAST},
		{FTSRT_OPTIM_ADAFACTOR, FTSRT_F32, FTSRT_PRECISION_PARAM, FTSRT_KERNELS_REF},
		{FTSRT_OPTIM_ADAFACTOR, FTSRT_BF16, FTSRT_PRECISION_MASTER, FTSRT_KERNELS_FAST},
		{FTSRT_OPTIM_ADAFACTOR, FTSRT_BF16, FTSRT_PRECISION_PARAM, FTSRT_KERNELS_FAST},
		{FTSRT_OPTIM_MUON, FTSRT_F32, FTSRT_PRECISION_PARAM, FTSRT_KERNELS_FAST},
		{FTSRT_OPTIM_MUON, FTSRT_BF16, FTSRT_PRECISION_MASTER, FTSRT_KERNELS_FAST},
	};
	const int *c = cfg[_i];
	const size_t es = c[1] == FTSRT_BF16 ? 2 : 4;
	/* a clean first step: its allocations and its result */
	struct oom_alloc a0 = {0, -1, 0};
	ftsrt_optim *o = oom_new(c[0], c[1], c[2], c[3], &a0);
	const size_t n = ftsrt_optim_numel(o);
	unsigned char *p0 = malloc(n * es), *want = malloc(n * es), *p = malloc(n * es), *g = malloc(n * es);
	ck_assert(p0 && want && p && g);
	for (size_t i = 0; i < n; i++) {
		float pv = (float)(0.5 * sin(0.3 * (double)i)), gv = (float)(0.1 * cos(0.7 * (double)i));
		if (es == 2) {
			uint16_t hp = rt_lowp_from_float(FTSRT_BF16, pv), hg = rt_lowp_from_float(FTSRT_BF16, gv);
			memcpy(p0 + 2 * i, &hp, 2);
			memcpy(g + 2 * i, &hg, 2);
		} else {
			memcpy(p0 + 4 * i, &pv, 4);
			memcpy(g + 4 * i, &gv, 4);
		}
	}
	memcpy(want, p0, n * es);
	const int before = a0.count;
	ck_assert_int_eq(ftsrt_optim_step(o, want, g, n, NULL), FTSRT_OK);
	const int allocs = a0.count - before;
	ck_assert_int_ge(allocs, 2);
	ftsrt_optim_free(o);
	ck_assert_int_eq(a0.live, 0);
	for (int k = 1; k <= allocs; k++) {
		struct oom_alloc a = {0, -1, 0};
		o = oom_new(c[0], c[1], c[2], c[3], &a);
		memcpy(p, p0, n * es);
		a.fail_at = a.count + k;
		ftsrt_error err;
		ck_assert_int_eq(ftsrt_optim_step(o, p, g, n, &err), FTSRT_ENOMEM);
		ck_assert_msg(memcmp(p, p0, n * es) == 0, "config %d, allocation %d: parameters changed", _i, k);
		a.fail_at = -1;
		ck_assert_int_eq(ftsrt_optim_step(o, p, g, n, &err), FTSRT_OK);
		if (c[0] == FTSRT_OPTIM_ADAFACTOR) {    /* Muon keeps no step */
			double step = 0;
			ck_assert_int_eq(ftsrt_optim_state(o, 0, "step", NULL, NULL, &step, NULL), FTSRT_OK);
			ck_assert_msg(step == 1, "config %d, allocation %d: step %g after the retry", _i, k,
				      step);
		}
		ck_assert_msg(memcmp(p, want, n * es) == 0, "config %d, allocation %d: retry differs", _i, k);
		ftsrt_optim_free(o);
		ck_assert_msg(a.live == 0, "config %d, allocation %d: %lld bytes leaked", _i, k, a.live);
	}
	free(p0);
	free(want);
	free(p);
	free(g);
}
END_TEST

START_TEST(fast_vs_ref_muon)
{
	struct ftsrt_optim_hparams h = FTSRT_INIT(struct ftsrt_optim_hparams);
	int64_t tall[] = {37, 11}, wide[] = {9, 40}, sq[] = {16, 16};
	for (int combo = 0; combo < 16; combo++) {
		ck_assert_int_eq(ftsrt_optim_hparams_default(FTSRT_OPTIM_MUON, &h, NULL), FTSRT_OK);
		h.lr = 0.02;
		h.muon_bf16 = combo & 1;
		h.muon_use_addmm = !!(combo & 2);
		h.nesterov = !!(combo & 4);
		h.adjust_lr_fn = (combo & 8) ? FTSRT_MUON_ADJUST_MATCH_RMS_ADAMW : 0;
		/* gemm summation order differs: bf16 rounding may flip */
		double tol = h.muon_bf16 ? 1e-3 : 1e-4;
		compare(FTSRT_OPTIM_MUON, &h, 2, tall, tol);
		compare(FTSRT_OPTIM_MUON, &h, 2, wide, tol);
		compare(FTSRT_OPTIM_MUON, &h, 2, sq, tol);
	}
}
END_TEST

/* Two shards (one object each, as two ranks) equal one whole step. */
START_TEST(range_step_matches_whole)
{
	struct ftsrt_optim_hparams h = FTSRT_INIT(struct ftsrt_optim_hparams);
	ck_assert_int_eq(ftsrt_optim_hparams_default(FTSRT_OPTIM_ADAMW, &h, NULL), 0);
	int64_t s0[] = {100}, s1[] = {37};
	ftsrt_optim *o[3];
	for (int i = 0; i < 3; i++) {
		ck_assert_int_eq(ftsrt_optim_new(&o[i], FTSRT_OPTIM_ADAMW, FTSRT_F32, NULL, NULL), 0);
		ck_assert_int_eq(ftsrt_optim_add_group(o[i], &h, NULL, NULL), 0);
		ck_assert_int_eq(ftsrt_optim_add_param(o[i], 0, 1, s0, NULL, NULL), 0);
		ck_assert_int_eq(ftsrt_optim_add_param(o[i], 0, 1, s1, NULL, NULL), 0);
	}
	float pa[137], pb[137], g[137];
	for (int i = 0; i < 137; i++) {
		pa[i] = pb[i] = (float)urand();
		g[i] = (float)(urand() - 0.5);
	}
	for (int s = 0; s < 3; s++) {
		ck_assert_int_eq(ftsrt_optim_step(o[0], pa, g, 137, NULL), 0);
		ck_assert_int_eq(ftsrt_optim_step_range(o[1], pb, g, 137, 0, 64, NULL), 0);
		ck_assert_int_eq(ftsrt_optim_step_range(o[2], pb, g, 137, 64, 137, NULL), 0);
	}
	ck_assert(memcmp(pa, pb, sizeof(pa)) == 0);
	for (int i = 0; i < 3; i++)
		ftsrt_optim_free(o[i]);
}
END_TEST

/* --- bad calls -------------------------------------------------------------- */

/* Every refused call returns its status, fills err with it and a message, and
 * refuses the same way with a NULL err (err_check.h). */
START_TEST(bad_calls)
{
	ftsrt_error err;
	ftsrt_optim *o = NULL;
	struct ftsrt_optim_hparams h = FTSRT_INIT(struct ftsrt_optim_hparams);
	int64_t s[] = {4}, s2[] = {2, 2}, neg[] = {-1};
	int32_t kind = -1;
	float p[4] = {0}, g[4] = {0};
	FAILS(FTSRT_EINVAL, ftsrt_optim_new(NULL, 0, 0, NULL, E));
	FAILS(FTSRT_EINVAL, ftsrt_optim_new(&o, 99, 0, NULL, E));
	ck_assert_ptr_null(o);
	ck_assert_str_eq(err.message, "no optimizer kind 99");
	FAILS(FTSRT_EINVAL, ftsrt_optim_new(&o, 0, 7, NULL, E));
	ck_assert_str_eq(err.message, "no dtype 7");
	FAILS(FTSRT_EINVAL, ftsrt_optim_hparams_default(-1, &h, E));
	FAILS(FTSRT_EINVAL, ftsrt_optim_hparams_default(FTSRT_OPTIM_NKINDS, &h, E));
	FAILS(FTSRT_EINVAL, ftsrt_optim_hparams_default(0, NULL, E));
	SUCCEEDS(ftsrt_optim_kind_from_name("torch.optim.AdamW", &kind, E));
	ck_assert_int_eq(kind, FTSRT_OPTIM_ADAMW);
	kind = -1;
	SUCCEEDS(ftsrt_optim_kind_from_name("adamw", &kind, E));
	ck_assert_int_eq(kind, FTSRT_OPTIM_ADAMW);
	kind = -7;
	FAILS(FTSRT_EINVAL, ftsrt_optim_kind_from_name("Lion", &kind, E));
	ck_assert_int_eq(kind, -7);     /* untouched on failure */
	ck_assert_ptr_nonnull(strstr(err.message, "'Lion'"));
	FAILS(FTSRT_EINVAL, ftsrt_optim_kind_from_name("torch.optim.", &kind, E));
	FAILS(FTSRT_EINVAL, ftsrt_optim_kind_from_name(NULL, &kind, E));
	FAILS(FTSRT_EINVAL, ftsrt_optim_kind_from_name("SGD", NULL, E));
	FAILS(FTSRT_EINVAL, ftsrt_optim_kind_slot(FTSRT_OPTIM_NKINDS, 0, NULL, NULL, E));
	FAILS(FTSRT_EINVAL, ftsrt_optim_kind_slot(FTSRT_OPTIM_SGD, 1, NULL, NULL, E));
	ck_assert_str_eq(err.message, "SGD has no state slot 1");
	FAILS(FTSRT_EINVAL, ftsrt_optim_kind_slot(FTSRT_OPTIM_SGD, -1, NULL, NULL, E));
	SUCCEEDS(ftsrt_optim_new(&o, FTSRT_OPTIM_ADAM, FTSRT_F32, NULL, E));
	FAILS(FTSRT_EINVAL, ftsrt_optim_add_group(o, NULL, NULL, E));
	FAILS(FTSRT_EINVAL, ftsrt_optim_add_group(NULL, &h, NULL, E));
	SUCCEEDS(ftsrt_optim_hparams_default(FTSRT_OPTIM_ADAM, &h, E));
	h.lr = NAN;
	FAILS(FTSRT_EINVAL, ftsrt_optim_add_group(o, &h, NULL, E));
	ck_assert_str_eq(err.message, "non-finite hyper-parameter");
	h.lr = INFINITY;
	FAILS(FTSRT_EINVAL, ftsrt_optim_add_group(o, &h, NULL, E));
	h.lr = -1;
	FAILS(FTSRT_EINVAL, ftsrt_optim_add_group(o, &h, NULL, E));
	ck_assert_str_eq(err.message, "Invalid learning rate: -1");
	h.lr = 1e-3;
	h.beta1 = 1.0;
	FAILS(FTSRT_EINVAL, ftsrt_optim_add_group(o, &h, NULL, E));
	ck_assert_str_eq(err.message, "Invalid beta parameter at index 0: 1");
	h.beta1 = 0.9;
	FAILS(FTSRT_EINVAL, ftsrt_optim_add_param(o, 0, 1, s, NULL, E)); /* no group */
	ck_assert_str_eq(err.message, "no parameter group 0");
	int32_t group = -1;
	SUCCEEDS(ftsrt_optim_add_group(o, &h, &group, E));
	ck_assert_int_eq(group, 0);
	FAILS(FTSRT_EINVAL, ftsrt_optim_add_param(o, 0, 1, NULL, NULL, E));
	FAILS(FTSRT_EINVAL, ftsrt_optim_add_param(o, 0, -1, s, NULL, E));
	FAILS(FTSRT_EINVAL, ftsrt_optim_add_param(o, 0, 9, s, NULL, E));
	FAILS(FTSRT_EINVAL, ftsrt_optim_add_param(o, 0, 1, neg, NULL, E));
	ck_assert_str_eq(err.message, "bad dimension -1");
	FAILS(FTSRT_EINVAL, ftsrt_optim_add_param(NULL, 0, 1, s, NULL, E));
	size_t off = 99;
	SUCCEEDS(ftsrt_optim_add_param(o, 0, 1, s, &off, E));
	ck_assert_uint_eq(off, 0);
	ck_assert_uint_eq(ftsrt_optim_numel(o), 4);
	FAILS(FTSRT_EINVAL, ftsrt_optim_step(o, p, g, 3, E));            /* wrong size */
	ck_assert_str_eq(err.message, "arena has 3 elements, the optimizer 4");
	FAILS(FTSRT_EINVAL, ftsrt_optim_step(o, NULL, g, 4, E));
	FAILS(FTSRT_EINVAL, ftsrt_optim_step(o, p, NULL, 4, E));
	FAILS(FTSRT_EINVAL, ftsrt_optim_step(NULL, p, g, 4, E));
	FAILS(FTSRT_EINVAL, ftsrt_optim_step_range(o, p, g, 4, 3, 2, E));
	ck_assert_str_eq(err.message, "bad element range [3, 2)");
	FAILS(FTSRT_EINVAL, ftsrt_optim_step_range(o, p, g, 4, 0, 5, E));
	FAILS(FTSRT_EINVAL, ftsrt_optim_step_range(NULL, p, g, 4, 0, 4, E));
	FAILS(FTSRT_EINVAL, ftsrt_optim_set_lr(o, 0, NAN, E));
	FAILS(FTSRT_EINVAL, ftsrt_optim_set_lr(o, 0, -0.5, E));
	ck_assert_str_eq(err.message, "Invalid learning rate: -0.5");
	FAILS(FTSRT_EINVAL, ftsrt_optim_set_lr(o, 1, 0.1, E));
	ck_assert_str_eq(err.message, "no parameter group 1");
	FAILS(FTSRT_EINVAL, ftsrt_optim_set_lr(NULL, 0, 0.1, E));
	SUCCEEDS(ftsrt_optim_set_lr(o, 0, 1e-3, E));
	FAILS(FTSRT_EINVAL, ftsrt_optim_state(o, 0, "exp_avg", NULL, NULL, NULL, E)); /* no step yet */
	ck_assert_ptr_nonnull(strstr(err.message, "no state yet"));
	SUCCEEDS(ftsrt_optim_step(o, p, g, 4, E));
	SUCCEEDS(ftsrt_optim_step_range(o, p, g, 4, 0, 4, E));
	void *data = NULL;
	size_t n = 0;
	double value = -1;
	SUCCEEDS(ftsrt_optim_state(o, 0, "exp_avg", &data, &n, &value, E));
	ck_assert_ptr_nonnull(data);
	ck_assert_uint_eq(n, 4);
	SUCCEEDS(ftsrt_optim_state(o, 0, "step", &data, &n, &value, E));
	ck_assert_ptr_null(data);
	ck_assert(value == 2);
	FAILS(FTSRT_EINVAL, ftsrt_optim_state(o, 0, "max_exp_avg_sq", NULL, NULL, NULL, E));
	FAILS(FTSRT_EINVAL, ftsrt_optim_state(o, 0, "nope", NULL, NULL, NULL, E));
	ck_assert_str_eq(err.message, "Adam keeps no state slot 'nope'");
	FAILS(FTSRT_EINVAL, ftsrt_optim_state(o, 1, "exp_avg", NULL, NULL, NULL, E));
	FAILS(FTSRT_EINVAL, ftsrt_optim_state(o, 0, NULL, NULL, NULL, NULL, E));
	FAILS(FTSRT_EINVAL, ftsrt_optim_state(NULL, 0, "exp_avg", NULL, NULL, NULL, E));
	FAILS(FTSRT_EINVAL, ftsrt_optim_add_param(o, 0, 1, s, NULL, E)); /* after a step */
	ck_assert_str_eq(err.message, "parameters must be added before the first step");
	FAILS(FTSRT_EINVAL, ftsrt_optim_add_group(o, &h, NULL, E));      /* after a step */
	ck_assert_str_eq(err.message, "groups must be added before the first step");
	ftsrt_optim_free(o);
	ftsrt_optim_free(NULL);

	/* no group: nothing to step */
	SUCCEEDS(ftsrt_optim_new(&o, FTSRT_OPTIM_SGD, FTSRT_F32, NULL, E));
	FAILS(FTSRT_EINVAL, ftsrt_optim_step(o, p, g, 0, E));
	ck_assert_str_eq(err.message, "no parameter group");
	ftsrt_optim_free(o);

	/* Muon: 2-D only, whole tensors only */
	SUCCEEDS(ftsrt_optim_new(&o, FTSRT_OPTIM_MUON, FTSRT_F32, NULL, E));
	SUCCEEDS(ftsrt_optim_hparams_default(FTSRT_OPTIM_MUON, &h, E));
	SUCCEEDS(ftsrt_optim_add_group(o, &h, NULL, E));
	FAILS(FTSRT_EINVAL, ftsrt_optim_add_param(o, 0, 1, s, NULL, E));
	ck_assert_str_eq(err.message, "Muon only supports 2D parameters");
	SUCCEEDS(ftsrt_optim_add_param(o, 0, 2, s2, NULL, E));
	FAILS(FTSRT_EINVAL, ftsrt_optim_step_range(o, p, g, 4, 0, 2, E));
	ck_assert_ptr_nonnull(strstr(err.message, "Muon steps whole tensors"));
	ftsrt_optim_free(o);
	SUCCEEDS(ftsrt_optim_new(&o, FTSRT_OPTIM_MUON, FTSRT_F32, NULL, E));
	h.ns_steps = 100;
	FAILS(FTSRT_EINVAL, ftsrt_optim_add_group(o, &h, NULL, E));
	h.ns_steps = 5;
	h.adjust_lr_fn = 2;
	FAILS(FTSRT_EINVAL, ftsrt_optim_add_group(o, &h, NULL, E));
	ck_assert_str_eq(err.message, "Adjust learning rate function 2 is not supported");
	ftsrt_optim_free(o);

	/* SGD: Nesterov needs momentum */
	SUCCEEDS(ftsrt_optim_new(&o, FTSRT_OPTIM_SGD, FTSRT_F64, NULL, E));
	SUCCEEDS(ftsrt_optim_hparams_default(FTSRT_OPTIM_SGD, &h, E));
	h.nesterov = true;
	FAILS(FTSRT_EINVAL, ftsrt_optim_add_group(o, &h, NULL, E));
	ck_assert_str_eq(err.message, "Nesterov momentum requires a momentum and zero dampening");
	ftsrt_optim_free(o);

	/* a refused step changes nothing: a range splitting an Adafactor tensor
	 * neither allocates state nor closes the layout */
	SUCCEEDS(ftsrt_optim_new(&o, FTSRT_OPTIM_ADAFACTOR, FTSRT_F32, NULL, E));
	SUCCEEDS(ftsrt_optim_hparams_default(FTSRT_OPTIM_ADAFACTOR, &h, E));
	SUCCEEDS(ftsrt_optim_add_group(o, &h, NULL, E));
	SUCCEEDS(ftsrt_optim_add_param(o, 0, 2, s2, NULL, E));
	FAILS(FTSRT_EINVAL, ftsrt_optim_step_range(o, p, g, 4, 0, 3, E));
	ck_assert_ptr_nonnull(strstr(err.message, "splits one"));
	FAILS(FTSRT_EINVAL, ftsrt_optim_state(o, 0, "variance", NULL, NULL, NULL, E));
	SUCCEEDS(ftsrt_optim_add_param(o, 0, 1, s, NULL, E));  /* still before the first step */
	ftsrt_optim_free(o);
}
END_TEST

/* A failing call reports through err; one that succeeds afterwards does not
 * write err (its old report stays), and the next failure replaces the
 * message whole (no stale text after it). */
START_TEST(err_only_on_failure)
{
	ftsrt_error err;
	ftsrt_optim *o = NULL;
	struct ftsrt_optim_hparams h = FTSRT_INIT(struct ftsrt_optim_hparams);
	int64_t s[] = {4};
	float p[4] = {0}, g[4] = {0};
	ck_assert_int_eq(ftsrt_optim_new(&o, FTSRT_OPTIM_SGD, FTSRT_F32, NULL, NULL), 0);
	ck_assert_int_eq(ftsrt_optim_hparams_default(FTSRT_OPTIM_SGD, &h, NULL), 0);
	ck_assert_int_eq(ftsrt_optim_add_group(o, &h, NULL, NULL), 0);
	FAILS(FTSRT_EINVAL, ftsrt_optim_add_param(o, 0, 1, NULL, NULL, E));
	ftsrt_error first = err;
	ck_assert_int_eq(ftsrt_optim_add_param(o, 0, 1, s, NULL, &err), FTSRT_OK);
	ck_assert_int_eq(ftsrt_optim_step(o, p, g, 4, &err), FTSRT_OK);
	ck_assert_int_eq(ftsrt_optim_set_lr(o, 0, 0.5, &err), FTSRT_OK);
	ck_assert(memcmp(&first, &err, sizeof(err)) == 0);
	/* a long message, then a short one */
	ck_assert_int_eq(ftsrt_optim_kind_from_name("a-rather-long-name-that-is-no-optimizer", NULL,
						    &err), FTSRT_EINVAL);
	ck_assert_int_eq(ftsrt_optim_set_lr(o, 3, 0.5, &err), FTSRT_EINVAL);
	ck_assert_str_eq(err.message, "no parameter group 3");
	ck_assert_int_eq(err.status, FTSRT_EINVAL);
	/* a message that does not fit is cut, NUL-terminated */
	char longname[2048];
	memset(longname, 'x', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	int32_t kind;
	FAILS(FTSRT_EINVAL, ftsrt_optim_kind_from_name(longname, &kind, E));
	ck_assert_uint_eq(strlen(err.message), sizeof(err.message) - 1);
	ftsrt_optim_free(o);
	/* ftsrt_strerror names every status */
	static const int st[] = {FTSRT_OK, FTSRT_EINVAL, FTSRT_ENOMEM, FTSRT_EIO, FTSRT_EFORMAT,
				 FTSRT_EVERSION, FTSRT_EBUSY};
	for (size_t i = 0; i < sizeof(st) / sizeof(st[0]); i++) {
		ck_assert_ptr_nonnull(ftsrt_strerror(st[i]));
		ck_assert(ftsrt_strerror(st[i])[0]);
		for (size_t j = 0; j < i; j++)
			ck_assert_str_ne(ftsrt_strerror(st[i]), ftsrt_strerror(st[j]));
	}
	ck_assert_str_eq(ftsrt_version(), FTSRT_VERSION_STRING);
}
END_TEST

/* --- options and struct_size --------------------------------------------------------- */

/* An allocator that counts calls and live blocks; call fail_at (every call
 * when fail_at < 0) fails. */
struct counting {
	long calls, live, fail_at;
};

static void *counting_alloc(void *ud, void *p, size_t osize, size_t nsize)
{
	struct counting *c = ud;
	(void)osize;
	if (nsize == 0) {
		if (p)
			c->live--;
		free(p);
		return NULL;
	}
	if (++c->calls == c->fail_at || c->fail_at < 0)
		return NULL;
	void *q = realloc(p, nsize);
	if (q && !p)
		c->live++;
	return q;
}

/* Three Muon steps of a 24x16 tensor with hparams h (NULL: the defaults but
 * muon_bf16 off) and options opt; parameters into out[384].  Without the
 * bfloat16 rounding, Muon's fast kernels (gemm) and reference kernels (loops)
 * round differently, so the result tells which ran. */
static int muon_steps(const struct ftsrt_optim_options *opt, const struct ftsrt_optim_hparams *h,
		      float *out, ftsrt_error *err)
{
	static const int64_t shape[] = {24, 16};
	struct ftsrt_optim_hparams d = FTSRT_INIT(struct ftsrt_optim_hparams);
	ck_assert_int_eq(ftsrt_optim_hparams_default(FTSRT_OPTIM_MUON, &d, NULL), 0);
	d.muon_bf16 = false;
	ftsrt_optim *o = NULL;
	int rc = ftsrt_optim_new(&o, FTSRT_OPTIM_MUON, FTSRT_F32, opt, err);
	if (rc) {
		ck_assert_ptr_null(o);
		return rc;
	}
	rc = ftsrt_optim_add_group(o, h ? h : &d, NULL, err);
	if (!rc)
		rc = ftsrt_optim_add_param(o, 0, 2, shape, NULL, err);
	float g[24 * 16];
	for (int i = 0; i < 24 * 16; i++) {
		out[i] = 0.01f * (float)((i * 37) % 101) - 0.5f;
		g[i] = 0.001f * (float)((i * 53) % 89) - 0.04f;
	}
	for (int k = 0; k < 3 && !rc; k++)
		rc = ftsrt_optim_step(o, out, g, 24 * 16, err);
	ftsrt_optim_free(o);
	return rc;
}

/* NULL options are the defaults; threads and kernels out of range are refused. */
START_TEST(optim_options)
{
	ftsrt_error err;
	ftsrt_optim *o = NULL;
	struct ftsrt_optim_options op = FTSRT_INIT(struct ftsrt_optim_options);
	float a[384], b[384], c[384];
	SUCCEEDS(muon_steps(NULL, NULL, a, E));
	op.kernels = FTSRT_KERNELS_FAST;
	op.threads = 1;
	SUCCEEDS(muon_steps(&op, NULL, b, E));
	ck_assert(memcmp(a, b, sizeof(a)) == 0);
	op.kernels = FTSRT_KERNELS_REF;
	SUCCEEDS(muon_steps(&op, NULL, c, E));
	ck_assert_msg(memcmp(a, c, sizeof(a)) != 0, "reference kernels give the fast ones' bits");
	static const int32_t bad_threads[] = {-1, 4097, INT32_MAX, INT32_MIN};
	op = FTSRT_INIT(struct ftsrt_optim_options);
	op.threads = 1;
	for (size_t i = 0; i < sizeof(bad_threads) / sizeof(bad_threads[0]); i++) {
		op.threads = bad_threads[i];
		o = (ftsrt_optim *)&op;         /* must become NULL */
		FAILS(FTSRT_EINVAL, ftsrt_optim_new(&o, FTSRT_OPTIM_ADAM, FTSRT_F32, &op, E));
		ck_assert_ptr_null(o);
		ck_assert_ptr_nonnull(strstr(err.message, "threads"));
	}
	op.threads = 4096;
	SUCCEEDS(ftsrt_optim_new(&o, FTSRT_OPTIM_ADAM, FTSRT_F32, &op, E));
	ftsrt_optim_free(o);
	/* threads 0 is not asserted either way: the library refuses it today, so
	 * FTSRT_INIT alone is not a valid ftsrt_optim_options (it is for the
	 * struct_size-cut struct below, whose threads take the default 1) */
	op.threads = 1;
	static const int32_t bad_kernels[] = {-1, 2, 9, INT32_MAX};
	for (size_t i = 0; i < sizeof(bad_kernels) / sizeof(bad_kernels[0]); i++) {
		op.kernels = bad_kernels[i];
		FAILS(FTSRT_EINVAL, ftsrt_optim_new(&o, FTSRT_OPTIM_ADAM, FTSRT_F32, &op, E));
		ck_assert_ptr_nonnull(strstr(err.message, "kernels"));
	}
	/* the allocator option: every allocation goes through it, with its ud */
	struct counting cnt = {0, 0, 0};
	op = FTSRT_INIT(struct ftsrt_optim_options);
	op.threads = 1;
	op.alloc = counting_alloc;
	op.alloc_ud = &cnt;
	SUCCEEDS(muon_steps(&op, NULL, b, E));
	ck_assert(memcmp(a, b, sizeof(a)) == 0);
	ck_assert_int_gt(cnt.calls, 0);
	ck_assert_int_eq(cnt.live, 0);
	/* and its failure is reported */
	cnt = (struct counting){0, 0, -1};
	FAILS(FTSRT_ENOMEM, ftsrt_optim_new(&o, FTSRT_OPTIM_ADAM, FTSRT_F32, &op, E));
	ck_assert_ptr_null(o);
	ck_assert_int_eq(cnt.calls, 2);
	ck_assert_int_eq(cnt.live, 0);
}
END_TEST

/* A caller struct with room past the library's: a newer header's. */
#define TAIL 24
struct big_options {
	struct ftsrt_optim_options o;
	unsigned char tail[TAIL];
};
struct big_hparams {
	struct ftsrt_optim_hparams h;
	unsigned char tail[TAIL];
};
_Static_assert(offsetof(struct big_options, tail) == sizeof(struct ftsrt_optim_options), "tail");
_Static_assert(offsetof(struct big_hparams, tail) == sizeof(struct ftsrt_optim_hparams), "tail");

/* struct_size (ftsrt.h, CONVENTIONS) on the optimizer's structs: 0 (or less
 * than a size_t, or absurd) is refused naming the struct; a smaller struct
 * (an older caller's) is read only that far, the rest taking the defaults; a
 * larger one is accepted when its extra bytes are zero and refused otherwise;
 * an output struct is written only as far as its struct_size, and the extra
 * bytes of a larger one are zeroed. */
START_TEST(struct_size_rules)
{
	ftsrt_error err;
	ftsrt_optim *o = NULL;
	float want[384], got[384];
	SUCCEEDS(muon_steps(NULL, NULL, want, E));

	/* options in */
	struct ftsrt_optim_options op = FTSRT_INIT(struct ftsrt_optim_options);
	op.threads = 1;
	static const size_t bad_sizes[] = {0, 1, sizeof(size_t) - 1, (size_t)1 << 20, SIZE_MAX};
	for (size_t i = 0; i < sizeof(bad_sizes) / sizeof(bad_sizes[0]); i++) {
		op.struct_size = bad_sizes[i];
		FAILS(FTSRT_EINVAL, ftsrt_optim_new(&o, FTSRT_OPTIM_ADAM, FTSRT_F32, &op, E));
		ck_assert_ptr_null(o);
		ck_assert_msg(strstr(err.message, "ftsrt_optim_options") && strstr(err.message, "struct_size"),
			      "%s", err.message);
	}
	/* smaller: fields past struct_size are not read (here they would be refused) */
	struct counting cnt = {0, 0, 0};
	op = FTSRT_INIT(struct ftsrt_optim_options);
	op.struct_size = offsetof(struct ftsrt_optim_options, threads);
	op.alloc = counting_alloc;
	op.alloc_ud = &cnt;
	op.threads = 0;
	op.kernels = 99;
	SUCCEEDS(muon_steps(&op, NULL, got, E));
	ck_assert(memcmp(want, got, sizeof(want)) == 0);  /* default kernels: the fast ones */
	ck_assert_int_gt(cnt.calls, 0);                   /* alloc and alloc_ud were read */
	ck_assert_int_eq(cnt.live, 0);
	op.kernels = FTSRT_KERNELS_REF;
	op.threads = 1;
	SUCCEEDS(muon_steps(&op, NULL, got, E));
	ck_assert(memcmp(want, got, sizeof(want)) == 0);  /* kernels still unread */
	cnt = (struct counting){0, 0, 0};
	op.struct_size = sizeof(size_t);                  /* nothing but struct_size */
	SUCCEEDS(muon_steps(&op, NULL, got, E));
	ck_assert(memcmp(want, got, sizeof(want)) == 0);
	ck_assert_int_eq(cnt.calls, 0);                   /* the default allocator */
	/* larger: a zero tail is accepted, a set byte anywhere in it refused */
	struct big_options bo;
	memset(&bo, 0, sizeof(bo));
	bo.o.struct_size = sizeof(bo.o) + TAIL;
	bo.o.threads = 1;
	SUCCEEDS(muon_steps(&bo.o, NULL, got, E));
	ck_assert(memcmp(want, got, sizeof(want)) == 0);
	for (size_t k = 0; k < TAIL; k += TAIL - 1) {
		bo.tail[k] = 1;
		FAILS(FTSRT_EINVAL, ftsrt_optim_new(&o, FTSRT_OPTIM_ADAM, FTSRT_F32, &bo.o, E));
		ck_assert_ptr_null(o);
		ck_assert_msg(strstr(err.message, "ftsrt_optim_options"), "%s", err.message);
		bo.tail[k] = 0;
	}
	bo.tail[TAIL - 1] = 1;                            /* past struct_size: not read */
	bo.o.struct_size = sizeof(bo.o) + TAIL - 1;
	SUCCEEDS(muon_steps(&bo.o, NULL, got, E));

	/* hyper-parameters in (ftsrt_optim_add_group) */
	struct ftsrt_optim_hparams d = FTSRT_INIT(struct ftsrt_optim_hparams);
	SUCCEEDS(ftsrt_optim_hparams_default(FTSRT_OPTIM_MUON, &d, E));
	SUCCEEDS(ftsrt_optim_new(&o, FTSRT_OPTIM_MUON, FTSRT_F32, NULL, E));
	struct ftsrt_optim_hparams h = d;
	for (size_t i = 0; i < sizeof(bad_sizes) / sizeof(bad_sizes[0]); i++) {
		h.struct_size = bad_sizes[i];
		FAILS(FTSRT_EINVAL, ftsrt_optim_add_group(o, &h, NULL, E));
		ck_assert_msg(strstr(err.message, "ftsrt_optim_hparams"), "%s", err.message);
	}
	ck_assert_int_eq(ftsrt_optim_add_param(o, 0, 2, (int64_t[]){2, 2}, NULL, NULL), FTSRT_EINVAL);
	ftsrt_optim_free(o);                              /* no group was added */
	/* smaller: lr and weight_decay given, the rest Muon's defaults (the
	 * garbage past struct_size would be refused) */
	struct ftsrt_optim_hparams full = d;
	full.lr = 0.05;
	full.weight_decay = 0.01;
	SUCCEEDS(muon_steps(NULL, &full, want, E));
	h = full;
	h.struct_size = offsetof(struct ftsrt_optim_hparams, momentum);
	h.momentum = -1;                                  /* refused, if it were read */
	h.ns_steps = 1000;
	h.adjust_lr_fn = 7;
	h.nesterov = true;
	SUCCEEDS(muon_steps(NULL, &h, got, E));
	ck_assert(memcmp(want, got, sizeof(want)) == 0);
	h.struct_size = sizeof(h);                        /* now read: refused */
	ck_assert_int_eq(muon_steps(NULL, &h, got, &err), FTSRT_EINVAL);
	ck_assert_str_eq(err.message, "momentum should be >= 0 but is: -1");
	/* larger */
	struct big_hparams bh;
	memset(&bh, 0, sizeof(bh));
	bh.h = full;
	bh.h.struct_size = sizeof(bh.h) + TAIL;
	SUCCEEDS(muon_steps(NULL, &bh.h, got, E));
	ck_assert(memcmp(want, got, sizeof(want)) == 0);
	bh.tail[3] = 0x80;
	SUCCEEDS(ftsrt_optim_new(&o, FTSRT_OPTIM_MUON, FTSRT_F32, NULL, E));
	FAILS(FTSRT_EINVAL, ftsrt_optim_add_group(o, &bh.h, NULL, E));
	ck_assert_msg(strstr(err.message, "ftsrt_optim_hparams"), "%s", err.message);
	ftsrt_optim_free(o);

	/* hyper-parameters out (ftsrt_optim_hparams_default) */
	for (size_t i = 0; i < sizeof(bad_sizes) / sizeof(bad_sizes[0]); i++) {
		memset(&h, 0xA5, sizeof(h));
		h.struct_size = bad_sizes[i];
		FAILS(FTSRT_EINVAL, ftsrt_optim_hparams_default(FTSRT_OPTIM_ADAM, &h, E));
		ck_assert_msg(strstr(err.message, "ftsrt_optim_hparams"), "%s", err.message);
		const unsigned char *b = (const unsigned char *)&h;
		for (size_t k = sizeof(size_t); k < sizeof(h); k++)
			ck_assert_uint_eq(b[k], 0xA5);    /* nothing written */
	}
	/* smaller: written up to struct_size, not a byte further */
	struct ftsrt_optim_hparams adam = FTSRT_INIT(struct ftsrt_optim_hparams);
	SUCCEEDS(ftsrt_optim_hparams_default(FTSRT_OPTIM_ADAM, &adam, E));
	ck_assert(adam.lr == 1e-3 && adam.beta1 == 0.9 && adam.beta2 == 0.999 && adam.eps == 1e-8);
	static const size_t cuts[] = {sizeof(size_t), offsetof(struct ftsrt_optim_hparams, momentum),
				      offsetof(struct ftsrt_optim_hparams, ns_steps),
				      offsetof(struct ftsrt_optim_hparams, amsgrad)};
	for (size_t i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
		memset(&h, 0xA5, sizeof(h));
		h.struct_size = cuts[i];
		SUCCEEDS(ftsrt_optim_hparams_default(FTSRT_OPTIM_ADAM, &h, E));
		ck_assert_uint_eq(h.struct_size, cuts[i]);
		ck_assert(memcmp((const char *)&h + sizeof(size_t), (const char *)&adam + sizeof(size_t),
				 cuts[i] - sizeof(size_t)) == 0);
		const unsigned char *b = (const unsigned char *)&h;
		for (size_t k = cuts[i]; k < sizeof(h); k++)
			ck_assert_msg(b[k] == 0xA5, "cut %zu: byte %zu written", cuts[i], k);
	}
	/* larger: the library's fields, then zeros up to struct_size, then untouched */
	memset(&bh, 0xA5, sizeof(bh));
	bh.h.struct_size = sizeof(bh.h) + TAIL - 8;
	SUCCEEDS(ftsrt_optim_hparams_default(FTSRT_OPTIM_ADAM, &bh.h, E));
	ck_assert_uint_eq(bh.h.struct_size, sizeof(bh.h) + TAIL - 8);
	ck_assert(bh.h.lr == adam.lr && bh.h.beta2 == adam.beta2 && bh.h.eps == adam.eps);
	ck_assert(!bh.h.amsgrad && !bh.h.maximize && bh.h.muon_bf16 && bh.h.muon_use_addmm);
	for (size_t k = 0; k < TAIL; k++)
		ck_assert_uint_eq(bh.tail[k], k < TAIL - 8 ? 0 : 0xA5);
}
END_TEST

/* --- NaN propagation as in torch ------------------------------------------- */

START_TEST(nan_grad_propagates)
{
	for (int kernels = 0; kernels < 2; kernels++) {
		ftsrt_optim *o;
		struct ftsrt_optim_hparams h = FTSRT_INIT(struct ftsrt_optim_hparams);
		struct ftsrt_optim_options op = FTSRT_INIT(struct ftsrt_optim_options);
		op.threads = 1;
		op.kernels = kernels;
		int64_t s[] = {40};
		float p[40], g[40];
		for (int i = 0; i < 40; i++) {
			p[i] = 1;
			g[i] = 0.5f;
		}
		g[5] = NAN;
		g[33] = INFINITY;
		ck_assert_int_eq(ftsrt_optim_new(&o, FTSRT_OPTIM_ADAM, FTSRT_F32, &op, NULL), 0);
		ck_assert_int_eq(ftsrt_optim_hparams_default(FTSRT_OPTIM_ADAM, &h, NULL), 0);
		ck_assert_int_eq(ftsrt_optim_add_group(o, &h, NULL, NULL), 0);
		ck_assert_int_eq(ftsrt_optim_add_param(o, 0, 1, s, NULL, NULL), 0);
		ck_assert_int_eq(ftsrt_optim_step(o, p, g, 40, NULL), 0);
		ck_assert(isnan(p[5]));          /* torch: NaN grad -> NaN param */
		ck_assert(isnan(p[33]));         /* inf/inf in addcdiv -> NaN */
		ck_assert(isfinite(p[4]) && isfinite(p[6]));
		ftsrt_optim_free(o);

		/* SGD: NaN and Inf grads reach the param */
		ck_assert_int_eq(ftsrt_optim_new(&o, FTSRT_OPTIM_SGD, FTSRT_F32, &op, NULL), 0);
		ck_assert_int_eq(ftsrt_optim_hparams_default(FTSRT_OPTIM_SGD, &h, NULL), 0);
		ck_assert_int_eq(ftsrt_optim_add_group(o, &h, NULL, NULL), 0);
		ck_assert_int_eq(ftsrt_optim_add_param(o, 0, 1, s, NULL, NULL), 0);
		for (int i = 0; i < 40; i++)
			p[i] = 1;
		ck_assert_int_eq(ftsrt_optim_step(o, p, g, 40, NULL), 0);
		ck_assert(isnan(p[5]));
		ck_assert(isinf(p[33]) && p[33] < 0);
		ftsrt_optim_free(o);
	}
}
END_TEST

/* --- the caller's allocator ------------------------------------------------------- */

/* Every allocation an optimizer makes goes through the caller's allocator
 * (state arenas, Adafactor's factors, Muon's scratch -- once, not per step),
 * and any one failing is a clean FTSRT_ENOMEM, reported in err. */
START_TEST(allocator_covers_everything)
{
	static const int kinds[] = {FTSRT_OPTIM_ADAM, FTSRT_OPTIM_ADAFACTOR, FTSRT_OPTIM_MUON};
	int64_t shape[] = {24, 16};
	size_t n = 24 * 16;
	float *p = calloc(n, sizeof(float)), *g = calloc(n, sizeof(float));
	for (size_t i = 0; i < n; i++)
		g[i] = 0.01f * (float)(i % 7);
	for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
		/* how many allocations a run of 3 steps makes, all of them through the hook */
		struct counting c = {0, 0, 0};
		struct ftsrt_optim_hparams h = FTSRT_INIT(struct ftsrt_optim_hparams);
		ck_assert_int_eq(ftsrt_optim_hparams_default(kinds[k], &h, NULL), 0);
		struct ftsrt_optim_options op = FTSRT_INIT(struct ftsrt_optim_options);
		op.threads = 1;
		op.alloc = counting_alloc;
		op.alloc_ud = &c;
		ftsrt_optim *o = NULL;
		ck_assert_int_eq(ftsrt_optim_new(&o, kinds[k], FTSRT_F32, &op, NULL), 0);
		ck_assert_int_eq(ftsrt_optim_add_group(o, &h, NULL, NULL), 0);
		ck_assert_int_eq(ftsrt_optim_add_param(o, 0, 2, shape, NULL, NULL), 0);
		ck_assert_int_eq(ftsrt_optim_step(o, p, g, n, NULL), 0);
		long after_first = c.calls;
		ck_assert_int_eq(ftsrt_optim_step(o, p, g, n, NULL), 0);
		ck_assert_int_eq(ftsrt_optim_step(o, p, g, n, NULL), 0);
		ck_assert_msg(c.calls == after_first, "kind %d allocates per step", kinds[k]);
		ftsrt_optim_free(o);
		ck_assert_int_eq(c.live, 0);
		long total = after_first;
		/* each one failing in turn */
		for (long f = 1; f <= total; f++) {
			struct counting d = {0, 0, f};
			ftsrt_error err;
			memset(&err, 0, sizeof(err));
			op.alloc_ud = &d;
			int rc = ftsrt_optim_new(&o, kinds[k], FTSRT_F32, &op, &err);
			if (!rc)
				rc = ftsrt_optim_add_group(o, &h, NULL, &err);
			if (!rc)
				rc = ftsrt_optim_add_param(o, 0, 2, shape, NULL, &err);
			if (!rc)
				rc = ftsrt_optim_step(o, p, g, n, &err);
			ck_assert_msg(rc == FTSRT_ENOMEM, "kind %d, allocation %ld: rc %d", kinds[k], f, rc);
			ck_assert_int_eq(err.status, FTSRT_ENOMEM);
			ck_assert_msg(strstr(err.message, "out of memory"), "kind %d, allocation %ld: %s",
				      kinds[k], f, err.message);
			ftsrt_optim_free(o);
			o = NULL;
			ck_assert_int_eq(d.live, 0);
		}
	}
	free(p);
	free(g);
}
END_TEST

/* --- slot names against stdlib/optim.fts ------------------------------------ */

START_TEST(slots_match_stdlib)
{
	FILE *f = fopen("stdlib/optim.fts", "r");
	ck_assert_msg(f != NULL, "cannot open stdlib/optim.fts");
	char line[512], cls[128] = "";
	char names[8][64];
	int n = 0, checked = 0;
	while (1) {
		char *got = fgets(line, sizeof(line), f);
		char *q = got ? line : NULL;
		while (q && (*q == ' ' || *q == '\t'))
			q++;
		bool block_end = !got || (q && q[0] == '}');
		if (block_end && cls[0]) {
			int32_t kind;
			if (ftsrt_optim_kind_from_name(cls, &kind, NULL) == FTSRT_OK) {
				int i = 0;
				const char *name;
				for (; ftsrt_optim_kind_slot(kind, i, &name, NULL, NULL) == 0; i++) {
					ck_assert_msg(i < n, "%s: runtime slot %s not in optim.fts", cls, name);
					ck_assert_msg(strcmp(name, names[i]) == 0, "%s slot %d: runtime %s, optim.fts %s",
						      cls, i, name, names[i]);
				}
				ck_assert_msg(i == n, "%s: optim.fts has %d slots, runtime %d", cls, n, i);
				checked++;
			}
			cls[0] = '\0';
		}
		if (!got)
			break;
		if (sscanf(q, "optimizer %127s {", cls) == 1) {
			n = 0;
			continue;
		}
		char nm[64], colon = 0;
		if (cls[0] && strncmp(q, "state ", 6) == 0 && sscanf(q + 6, "%63[A-Za-z0-9_]%c", nm, &colon) == 2 &&
		    colon == ':' && n < 8)
			snprintf(names[n++], sizeof(names[0]), "%s", nm);
	}
	fclose(f);
	ck_assert_int_eq(checked, FTSRT_OPTIM_NKINDS);
}
END_TEST

static Suite *optim_suite(void)
{
	Suite *s = suite_create("optim");
	TCase *tc = tcase_create("golden");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, golden_fast);
	tcase_add_test(tc, golden_ref);
	tcase_add_test(tc, lrs_case_is_replayed);
	suite_add_tcase(s, tc);
	tc = tcase_create("kernels");
	tcase_set_timeout(tc, 300);
	tcase_add_loop_test(tc, fast_vs_ref_elementwise, 0, 4);
	tcase_add_test(tc, fast_vs_ref_adafactor);
	tcase_add_test(tc, adafactor_threads_bitwise);
	tcase_add_test(tc, adafactor_special_values);
	tcase_add_test(tc, adafactor_clamped_factor);
	tcase_add_test(tc, adafactor_many_tensors);
	tcase_add_loop_test(tc, oom_first_step_retry, 0, 6);
	tcase_add_test(tc, fast_vs_ref_muon);
	tcase_add_test(tc, range_step_matches_whole);
	suite_add_tcase(s, tc);
	tc = tcase_create("api");
	tcase_add_test(tc, bad_calls);
	tcase_add_test(tc, err_only_on_failure);
	tcase_add_test(tc, optim_options);
	tcase_add_test(tc, struct_size_rules);
	tcase_add_test(tc, nan_grad_propagates);
	tcase_add_test(tc, slots_match_stdlib);
	tcase_add_test(tc, allocator_covers_everything);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(optim_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
