/*
 * check_optim.c - the runtime optimizers (libftsrt optim.c, kern_*.c):
 * every torch golden trajectory through the code `ftsrun verify` uses
 * (runtime/verify.c), fast kernels against the reference kernels on random
 * data of odd sizes for every optimizer and option combination, element
 * range stepping, refused calls, NaN propagation, and the state slot names
 * against the compiler's declarations in stdlib/optim.fts.  Runs from the
 * repository root (reads tests/data/golden/optim).
 */
#include <check.h>
#include <dirent.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ftsrt.h"
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
		     int ndim, const long *shape, int kernels, int threads)
{
	memset(r, 0, sizeof(*r));
	ck_assert_int_eq(ftsrt_optim_new(&r->o, kind, dtype), FTSRT_OK);
	ck_assert_int_eq(ftsrt_optim_add_group(r->o, h, NULL), FTSRT_OK);
	ck_assert_int_eq(ftsrt_optim_add_param(r->o, 0, ndim, shape, NULL), FTSRT_OK);
	ck_assert_int_eq(ftsrt_optim_set_kernels(r->o, kernels), FTSRT_OK);
	ck_assert_int_eq(ftsrt_optim_set_threads(r->o, threads), FTSRT_OK);
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

static void compare(int kind, const struct ftsrt_optim_hparams *h, int ndim, const long *shape,
		    double tol)
{
	for (int dtype = 0; dtype < 2; dtype++) {
		struct run f, r;
		run_init(&f, kind, dtype, h, ndim, shape, FTSRT_KERNELS_FAST, 2);
		run_init(&r, kind, dtype, h, ndim, shape, FTSRT_KERNELS_REF, 1);
		size_t es = dtype == FTSRT_F64 ? 8 : 4;
		for (size_t i = 0; i < f.n; i++) {
			double v = urand() - 0.5;
			if (dtype == FTSRT_F64)
				((double *)f.p)[i] = v;
			else
				((float *)f.p)[i] = (float)v;
		}
		memcpy(r.p, f.p, f.n * es);
		for (int s = 0; s < 3; s++) {
			for (size_t i = 0; i < f.n; i++) {
				double v = (urand() - 0.5) * 0.1;
				if (i % 7 == 3 && s == 1)
					v = 0;                  /* Rprop: sign 0 */
				if (dtype == FTSRT_F64)
					((double *)f.g)[i] = v;
				else
					((float *)f.g)[i] = (float)v;
			}
			memcpy(r.g, f.g, f.n * es);
			ftsrt_optim_set_lr(f.o, 0, h->lr * (s == 2 ? 0.5 : 1));
			ftsrt_optim_set_lr(r.o, 0, h->lr * (s == 2 ? 0.5 : 1));
			ck_assert_int_eq(ftsrt_optim_step(f.o, f.p, f.g, f.n), FTSRT_OK);
			ck_assert_int_eq(ftsrt_optim_step(r.o, r.p, r.g, r.n), FTSRT_OK);
		}
		double e = max_diff(f.p, r.p, f.n, dtype);
		ck_assert_msg(e <= tol, "%s n=%zu dtype=%d: fast vs ref %g", ftsrt_optim_kind_name(kind),
			      f.n, dtype, e);
		/* and every tensor state slot */
		for (int i = 0;; i++) {
			const char *name;
			int shp;
			if (ftsrt_optim_kind_slot(kind, i, &name, &shp))
				break;
			void *da = NULL, *db = NULL;
			size_t na = 0, nb = 0;
			double va = 0, vb = 0;
			int sa = ftsrt_optim_state(f.o, 0, name, &da, &na, &va);
			int sb = ftsrt_optim_state(r.o, 0, name, &db, &nb, &vb);
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

static const long sizes[] = {1, 3, 17, 1000003};

/* Every elementwise optimizer, every option combination, bit-exact. */
START_TEST(fast_vs_ref_elementwise)
{
	long n = sizes[_i];
	struct ftsrt_optim_hparams h;
	for (int kind = 0; kind < FTSRT_OPTIM_NKINDS; kind++) {
		if (kind == FTSRT_OPTIM_ADAFACTOR || kind == FTSRT_OPTIM_MUON)
			continue;
		for (int combo = 0; combo < 32; combo++) {
			ftsrt_optim_hparams_default(kind, &h);
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

START_TEST(fast_vs_ref_adafactor)
{
	struct ftsrt_optim_hparams h;
	ftsrt_optim_hparams_default(FTSRT_OPTIM_ADAFACTOR, &h);
	long s1[] = {17}, s2[] = {7, 13}, s3[] = {3, 5, 4};
	for (int combo = 0; combo < 4; combo++) {
		h.maximize = combo & 1;
		h.weight_decay = (combo & 2) ? 0.1 : 0;
		compare(FTSRT_OPTIM_ADAFACTOR, &h, 1, s1, 0);
		compare(FTSRT_OPTIM_ADAFACTOR, &h, 2, s2, 0);
		compare(FTSRT_OPTIM_ADAFACTOR, &h, 3, s3, 0);
	}
}
END_TEST

START_TEST(fast_vs_ref_muon)
{
	struct ftsrt_optim_hparams h;
	long tall[] = {37, 11}, wide[] = {9, 40}, sq[] = {16, 16};
	for (int combo = 0; combo < 16; combo++) {
		ftsrt_optim_hparams_default(FTSRT_OPTIM_MUON, &h);
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
	struct ftsrt_optim_hparams h;
	ftsrt_optim_hparams_default(FTSRT_OPTIM_ADAMW, &h);
	long s0[] = {100}, s1[] = {37};
	ftsrt_optim *o[3];
	for (int i = 0; i < 3; i++) {
		ck_assert_int_eq(ftsrt_optim_new(&o[i], FTSRT_OPTIM_ADAMW, FTSRT_F32), 0);
		ck_assert_int_eq(ftsrt_optim_add_group(o[i], &h, NULL), 0);
		ck_assert_int_eq(ftsrt_optim_add_param(o[i], 0, 1, s0, NULL), 0);
		ck_assert_int_eq(ftsrt_optim_add_param(o[i], 0, 1, s1, NULL), 0);
	}
	float pa[137], pb[137], g[137];
	for (int i = 0; i < 137; i++) {
		pa[i] = pb[i] = (float)urand();
		g[i] = (float)(urand() - 0.5);
	}
	for (int s = 0; s < 3; s++) {
		ck_assert_int_eq(ftsrt_optim_step(o[0], pa, g, 137), 0);
		ck_assert_int_eq(ftsrt_optim_step_range(o[1], pb, g, 137, 0, 64), 0);
		ck_assert_int_eq(ftsrt_optim_step_range(o[2], pb, g, 137, 64, 137), 0);
	}
	ck_assert(memcmp(pa, pb, sizeof(pa)) == 0);
	for (int i = 0; i < 3; i++)
		ftsrt_optim_free(o[i]);
}
END_TEST

/* --- bad calls -------------------------------------------------------------- */

START_TEST(bad_calls)
{
	ftsrt_optim *o = NULL;
	struct ftsrt_optim_hparams h;
	long s[] = {4}, s2[] = {2, 2};
	float p[4] = {0}, g[4] = {0};
	ck_assert_int_eq(ftsrt_optim_new(NULL, 0, 0), FTSRT_EINVAL);
	ck_assert_int_eq(ftsrt_optim_new(&o, 99, 0), FTSRT_EINVAL);
	ck_assert_int_eq(ftsrt_optim_new(&o, 0, 7), FTSRT_EINVAL);
	ck_assert_int_eq(ftsrt_optim_hparams_default(-1, &h), FTSRT_EINVAL);
	ck_assert_int_eq(ftsrt_optim_hparams_default(0, NULL), FTSRT_EINVAL);
	ck_assert_int_eq(ftsrt_optim_kind_from_name("torch.optim.AdamW"), FTSRT_OPTIM_ADAMW);
	ck_assert_int_eq(ftsrt_optim_kind_from_name("adamw"), FTSRT_OPTIM_ADAMW);
	ck_assert_int_eq(ftsrt_optim_kind_from_name("Lion"), FTSRT_EINVAL);
	ck_assert_int_eq(ftsrt_optim_kind_from_name(NULL), FTSRT_EINVAL);
	ck_assert_int_eq(ftsrt_optim_new(&o, FTSRT_OPTIM_ADAM, FTSRT_F32), FTSRT_OK);
	ck_assert_int_eq(ftsrt_optim_add_group(o, NULL, NULL), FTSRT_EINVAL);
	ck_assert_int_eq(ftsrt_optim_add_group(NULL, &h, NULL), FTSRT_EINVAL);
	ftsrt_optim_hparams_default(FTSRT_OPTIM_ADAM, &h);
	h.lr = NAN;
	ck_assert_int_eq(ftsrt_optim_add_group(o, &h, NULL), FTSRT_EINVAL);
	h.lr = INFINITY;
	ck_assert_int_eq(ftsrt_optim_add_group(o, &h, NULL), FTSRT_EINVAL);
	h.lr = -1;
	ck_assert_int_eq(ftsrt_optim_add_group(o, &h, NULL), FTSRT_EINVAL);
	ck_assert_str_eq(ftsrt_optim_errmsg(o), "Invalid learning rate: -1");
	h.lr = 1e-3;
	h.beta1 = 1.0;
	ck_assert_int_eq(ftsrt_optim_add_group(o, &h, NULL), FTSRT_EINVAL);
	h.beta1 = 0.9;
	ck_assert_int_eq(ftsrt_optim_add_param(o, 0, 1, s, NULL), FTSRT_EINVAL); /* no group */
	ck_assert_int_eq(ftsrt_optim_add_group(o, &h, NULL), FTSRT_OK);
	ck_assert_int_eq(ftsrt_optim_add_param(o, 0, 1, NULL, NULL), FTSRT_EINVAL);
	ck_assert_int_eq(ftsrt_optim_add_param(o, 0, 1, s, NULL), FTSRT_OK);
	ck_assert_int_eq(ftsrt_optim_step(o, p, g, 3), FTSRT_EINVAL);            /* wrong size */
	ck_assert_int_eq(ftsrt_optim_step(o, NULL, g, 4), FTSRT_EINVAL);
	ck_assert_int_eq(ftsrt_optim_step(o, p, NULL, 4), FTSRT_EINVAL);
	ck_assert_int_eq(ftsrt_optim_step_range(o, p, g, 4, 3, 2), FTSRT_EINVAL);
	ck_assert_int_eq(ftsrt_optim_step_range(o, p, g, 4, 0, 5), FTSRT_EINVAL);
	ck_assert_int_eq(ftsrt_optim_set_lr(o, 0, NAN), FTSRT_EINVAL);
	ck_assert_int_eq(ftsrt_optim_set_lr(o, 1, 0.1), FTSRT_EINVAL);
	ck_assert_int_eq(ftsrt_optim_set_threads(o, 0), FTSRT_EINVAL);
	ck_assert_int_eq(ftsrt_optim_set_kernels(o, 9), FTSRT_EINVAL);
	ck_assert_int_eq(ftsrt_optim_state(o, 0, "exp_avg", NULL, NULL, NULL), FTSRT_EINVAL); /* no step yet */
	ck_assert_int_eq(ftsrt_optim_step(o, p, g, 4), FTSRT_OK);
	ck_assert_int_eq(ftsrt_optim_state(o, 0, "exp_avg", NULL, NULL, NULL), FTSRT_OK);
	ck_assert_int_eq(ftsrt_optim_state(o, 0, "max_exp_avg_sq", NULL, NULL, NULL), FTSRT_EINVAL);
	ck_assert_int_eq(ftsrt_optim_state(o, 0, "nope", NULL, NULL, NULL), FTSRT_EINVAL);
	ck_assert_int_eq(ftsrt_optim_add_param(o, 0, 1, s, NULL), FTSRT_EINVAL); /* after a step */
	ftsrt_optim_free(o);
	ftsrt_optim_free(NULL);

	/* Muon: 2-D only, whole tensors only */
	ck_assert_int_eq(ftsrt_optim_new(&o, FTSRT_OPTIM_MUON, FTSRT_F32), FTSRT_OK);
	ftsrt_optim_hparams_default(FTSRT_OPTIM_MUON, &h);
	ck_assert_int_eq(ftsrt_optim_add_group(o, &h, NULL), FTSRT_OK);
	ck_assert_int_eq(ftsrt_optim_add_param(o, 0, 1, s, NULL), FTSRT_EINVAL);
	ck_assert_int_eq(ftsrt_optim_add_param(o, 0, 2, s2, NULL), FTSRT_OK);
	ck_assert_int_eq(ftsrt_optim_step_range(o, p, g, 4, 0, 2), FTSRT_EINVAL);
	ftsrt_optim_free(o);

	/* SGD: Nesterov needs momentum */
	ck_assert_int_eq(ftsrt_optim_new(&o, FTSRT_OPTIM_SGD, FTSRT_F64), FTSRT_OK);
	ftsrt_optim_hparams_default(FTSRT_OPTIM_SGD, &h);
	h.nesterov = 1;
	ck_assert_int_eq(ftsrt_optim_add_group(o, &h, NULL), FTSRT_EINVAL);
	ftsrt_optim_free(o);
}
END_TEST

/* --- NaN propagation as in torch ------------------------------------------- */

START_TEST(nan_grad_propagates)
{
	for (int kernels = 0; kernels < 2; kernels++) {
		ftsrt_optim *o;
		struct ftsrt_optim_hparams h;
		long s[] = {40};
		float p[40], g[40];
		for (int i = 0; i < 40; i++) {
			p[i] = 1;
			g[i] = 0.5f;
		}
		g[5] = NAN;
		g[33] = INFINITY;
		ck_assert_int_eq(ftsrt_optim_new(&o, FTSRT_OPTIM_ADAM, FTSRT_F32), 0);
		ftsrt_optim_hparams_default(FTSRT_OPTIM_ADAM, &h);
		ck_assert_int_eq(ftsrt_optim_add_group(o, &h, NULL), 0);
		ck_assert_int_eq(ftsrt_optim_add_param(o, 0, 1, s, NULL), 0);
		ftsrt_optim_set_kernels(o, kernels);
		ck_assert_int_eq(ftsrt_optim_step(o, p, g, 40), 0);
		ck_assert(isnan(p[5]));          /* torch: NaN grad -> NaN param */
		ck_assert(isnan(p[33]));         /* inf/inf in addcdiv -> NaN */
		ck_assert(isfinite(p[4]) && isfinite(p[6]));
		ftsrt_optim_free(o);

		/* SGD: NaN and Inf grads reach the param */
		ck_assert_int_eq(ftsrt_optim_new(&o, FTSRT_OPTIM_SGD, FTSRT_F32), 0);
		ftsrt_optim_hparams_default(FTSRT_OPTIM_SGD, &h);
		ck_assert_int_eq(ftsrt_optim_add_group(o, &h, NULL), 0);
		ck_assert_int_eq(ftsrt_optim_add_param(o, 0, 1, s, NULL), 0);
		ftsrt_optim_set_kernels(o, kernels);
		for (int i = 0; i < 40; i++)
			p[i] = 1;
		ck_assert_int_eq(ftsrt_optim_step(o, p, g, 40), 0);
		ck_assert(isnan(p[5]));
		ck_assert(isinf(p[33]) && p[33] < 0);
		ftsrt_optim_free(o);
	}
}
END_TEST

/* --- slot names against stdlib/optim.fts ------------------------------------ */

/* Every allocation an optimizer makes goes through the caller's allocator
 * (state arenas, Adafactor's factors, Muon's scratch -- once, not per step),
 * and any one failing is a clean FTSRT_ENOMEM. */
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
	if (++c->calls == c->fail_at)
		return NULL;
	void *q = realloc(p, nsize);
	if (q && !p)
		c->live++;
	return q;
}

START_TEST(allocator_covers_everything)
{
	static const int kinds[] = {FTSRT_OPTIM_ADAM, FTSRT_OPTIM_ADAFACTOR, FTSRT_OPTIM_MUON};
	long shape[] = {24, 16};
	size_t n = 24 * 16;
	float *p = calloc(n, sizeof(float)), *g = calloc(n, sizeof(float));
	for (size_t i = 0; i < n; i++)
		g[i] = 0.01f * (float)(i % 7);
	for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
		/* how many allocations a run of 3 steps makes, all of them through the hook */
		struct counting c = {0, 0, 0};
		struct ftsrt_optim_hparams h;
		ftsrt_optim_hparams_default(kinds[k], &h);
		ftsrt_optim *o = NULL;
		ck_assert_int_eq(ftsrt_optim_new_ex(&o, kinds[k], FTSRT_F32, counting_alloc, &c), 0);
		ck_assert_int_eq(ftsrt_optim_add_group(o, &h, NULL), 0);
		ck_assert_int_eq(ftsrt_optim_add_param(o, 0, 2, shape, NULL), 0);
		ck_assert_int_eq(ftsrt_optim_step(o, p, g, n), 0);
		long after_first = c.calls;
		ck_assert_int_eq(ftsrt_optim_step(o, p, g, n), 0);
		ck_assert_int_eq(ftsrt_optim_step(o, p, g, n), 0);
		ck_assert_msg(c.calls == after_first, "kind %d allocates per step", kinds[k]);
		ftsrt_optim_free(o);
		ck_assert_int_eq(c.live, 0);
		long total = after_first;
		/* each one failing in turn */
		for (long f = 1; f <= total; f++) {
			struct counting d = {0, 0, f};
			int rc = ftsrt_optim_new_ex(&o, kinds[k], FTSRT_F32, counting_alloc, &d);
			if (rc) {
				ck_assert_int_eq(rc, FTSRT_ENOMEM);
				continue;
			}
			rc = ftsrt_optim_add_group(o, &h, NULL);
			if (!rc)
				rc = ftsrt_optim_add_param(o, 0, 2, shape, NULL);
			if (!rc)
				rc = ftsrt_optim_step(o, p, g, n);
			ck_assert_msg(rc == FTSRT_ENOMEM, "kind %d, allocation %ld: rc %d", kinds[k], f, rc);
			ftsrt_optim_free(o);
			ck_assert_int_eq(d.live, 0);
		}
	}
	free(p);
	free(g);
}
END_TEST

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
			int kind = ftsrt_optim_kind_from_name(cls);
			if (kind >= 0) {
				int i = 0;
				const char *name;
				for (; ftsrt_optim_kind_slot(kind, i, &name, NULL) == 0; i++) {
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
	tcase_add_test(tc, fast_vs_ref_muon);
	tcase_add_test(tc, range_step_matches_whole);
	suite_add_tcase(s, tc);
	tc = tcase_create("api");
	tcase_add_test(tc, bad_calls);
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
