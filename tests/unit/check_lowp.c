/*
 * check_lowp.c - bfloat16 and float16 parameters (kern_lowp.c, optim.c):
 * torch's golden trajectories in both precisions (enum ftsrt_precision),
 * the fp32 -> bf16/fp16 rounding, the refusals, NaN propagation and the
 * state a low-precision optimizer shows.  Runs from the repository root
 * (reads tests/data/golden/lowp, whose gen.py wrote them with torch 1.13).
 *
 * Tolerances, PyTorch 1.13's CPU arithmetic against ours (torch 2.11's
 * single-tensor code, each op's result rounded once, add's alpha and
 * scalar rounded to the dtype, other scalars float): in units in the last
 * place of the dtype at max(|torch's value|, SCALE), after each of the 20
 * steps.  bfloat16, tensor 0 (32 elements, torch's vectorised loop):
 * BF16_VEC_ULPS, measured 0 but for Adam's and Adamax's 1 (torch 1.13's
 * exp_avg is mul_ then add_, 2.11's one lerp_; 1.13 rounds Adamax's -clr);
 * tensors 1 and 2 (16 and 3 elements, which torch's loop does one at a
 * time in c10::BFloat16 arithmetic, where a + alpha * b rounds the product
 * too): BF16_TAIL_ULPS, measured 3.  gen.py's EMULATED cases (*_2x: torch
 * 2.x's ops run on 1.13's float32 arithmetic; every optimizer but Muon,
 * bf16 and fp16) within EMULATED_ULPS, measured 0.
 * float16: F16_ULPS, measured 5 (torch 1.13 has no vectorised Half: every
 * element is that scalar loop).  Master weights: the float32 masters within
 * MASTER_REL + MASTER_ABS (measured: equal, but for Adadelta, whose lr 1
 * steps part by 5 float ulps at 2.3 and 1.2e-7 where a parameter crosses
 * zero: torch 1.13's fp32 add_ with alpha is not one fma); the model copy
 * is our master rounded, bit for bit, and torch's within MASTER_ULPS
 * (measured: equal, but for Adadelta's, where a master 1.2e-7 off rounds
 * to the next value).
 */
#include <check.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ftsrt.h"
#include "optim_int.h"

#define GOLDEN "tests/data/golden/lowp"
#define STEPS 20
#define N 51                            /* elements of SHAPES */
#define BF16_VEC_ULPS 1.0
#define BF16_TAIL_ULPS 3.0
#define F16_ULPS 5.0
#define EMULATED_ULPS 0.0               /* gen.py's EMULATED cases, bf16 and fp16 */
#define SCALE 0.25f                     /* the parameters' scale (gen.py: 0.5 * randn) */
#define MASTER_REL 1e-5
#define MASTER_ABS 5e-7
#define MASTER_ULPS 1.0                 /* the model copy against torch's (ours: the master rounded) */

static const int64_t shapes[3][2] = {{4, 8}, {16, 0}, {3, 0}};
static const int ndims[3] = {2, 1, 1};

/* gen.py's CASES, in its order. */
struct lcase {
	const char *name;
	int kind;
	double lr, momentum, weight_decay, beta1, beta2, alpha;
	bool nesterov, amsgrad, centered;
	double rho, eps;                /* 0: the default */
	double etaminus, etaplus, smin, smax;   /* Rprop; 0: the defaults */
	double lambd, t0;               /* ASGD; 0: the defaults */
	bool emulated;                  /* gen.py's EMULATED: torch 2.x's ops on 1.13 (param only) */
	double iav;                     /* Adagrad's initial_accumulator_value */
};

#define B1 0.875
#define B2 (1 - 0x1p-7)
static const struct lcase cases[] = {
	{"sgd", FTSRT_OPTIM_SGD, 0.125, 0.875, 0x1p-6, 0, 0, 0, false, false, false, 0, 0, 0, 0, 0, 0, 0, 0, false, 0},
	{"sgd_nesterov", FTSRT_OPTIM_SGD, 0.0625, 0.875, 0, 0, 0, 0, true, false, false, 0, 0, 0, 0, 0, 0, 0, 0, false, 0},
	{"adam", FTSRT_OPTIM_ADAM, 0x1p-7, 0, 0.125, B1, B2, 0, false, false, false, 0, 0, 0, 0, 0, 0, 0, 0, false, 0},
	{"adamw", FTSRT_OPTIM_ADAMW, 0x1p-7, 0, 0.125, B1, B2, 0, false, false, false, 0, 0, 0, 0, 0, 0, 0, 0, false, 0},
	{"adam_amsgrad", FTSRT_OPTIM_ADAM, 0x1p-7, 0, 0, B1, B2, 0, false, true, false, 0, 0, 0, 0, 0, 0, 0, 0, false, 0},
	{"adagrad", FTSRT_OPTIM_ADAGRAD, 0.0625, 0, 0x1p-6, 0, 0, 0, false, false, false, 0, 0, 0, 0, 0, 0, 0, 0, false, 0},
	{"rmsprop", FTSRT_OPTIM_RMSPROP, 0x1p-7, 0.875, 0, 0, 0, 1 - 0x1p-7, false, false, true, 0, 0, 0, 0, 0, 0, 0, 0, false, 0},
	{"sgd_alpha", FTSRT_OPTIM_SGD, 0.1, 0, 0.01, 0, 0, 0, false, false, false, 0, 0, 0, 0, 0, 0, 0, 0, false, 0},
	{"adadelta", FTSRT_OPTIM_ADADELTA, 1.0, 0, 0x1p-6, 0, 0, 0, false, false, false, .rho = 0.875,
	 .eps = 0x1p-6},
	{"adamax", FTSRT_OPTIM_ADAMAX, 0x1p-5, 0, 0x1p-6, B1, B2, 0, false, false, false, .eps = 0x1p-20},
	{"rprop", FTSRT_OPTIM_RPROP, 0x1p-6, 0, 0, 0, 0, 0, false, false, false, .etaminus = 0.5,
	 .etaplus = 1.25, .smin = 0x1p-14, .smax = 0x1p-3},
	{"radam", FTSRT_OPTIM_RADAM, 0x1p-7, 0, 0x1p-6, B1, 1 - 0x1p-5, 0, false, false, false, .rho = 0},
	{"nadam_2x", FTSRT_OPTIM_NADAM, 0.5, 0, 0x1p-6, B1, B2, 0, false, false, false, .emulated = true},
	{"radam_2x", FTSRT_OPTIM_RADAM, 0.5, 0, 0x1p-6, B1, 1 - 0x1p-5, 0, false, false, false,
	 .emulated = true},
	{"asgd_2x", FTSRT_OPTIM_ASGD, 0.5, 0, 0x1p-6, 0, 0, 0.75, false, false, false, .lambd = 0.1, .t0 = 4,
	 .emulated = true},
	{"adafactor_2x", FTSRT_OPTIM_ADAFACTOR, 0.5, 0, 0x1p-6, 0, 0, 0, false, false, false, .emulated = true},
	{"adafactor_small_2x", FTSRT_OPTIM_ADAFACTOR, 0.5, 0, 0, 0, 0, 0, false, false, false,
	 .emulated = true},
	{"adam_2x", FTSRT_OPTIM_ADAM, 0.25, 0, 0x1p-6, B1, B2, 0, false, true, false, .emulated = true},
	{"adamw_2x", FTSRT_OPTIM_ADAMW, 0.25, 0, 0x1p-2, B1, B2, 0, false, false, false, .emulated = true},
	{"adagrad_2x", FTSRT_OPTIM_ADAGRAD, 0.5, 0, 0x1p-6, 0, 0, 0, false, false, false, .emulated = true,
	 .iav = 0.1},
	{"rmsprop_2x", FTSRT_OPTIM_RMSPROP, 0.125, 0.875, 0x1p-6, 0, 0, 1 - 0x1p-5, false, false, true,
	 .emulated = true},
	{"adadelta_2x", FTSRT_OPTIM_ADADELTA, 1.0, 0, 0x1p-6, 0, 0, 0, false, false, false, .rho = 0.875,
	 .eps = 0x1p-6, .emulated = true},
	{"adamax_2x", FTSRT_OPTIM_ADAMAX, 0.25, 0, 0x1p-6, B1, B2, 0, false, false, false, .eps = 0x1p-20,
	 .emulated = true},
	{"rprop_2x", FTSRT_OPTIM_RPROP, 0x1p-6, 0, 0, 0, 0, 0, false, false, false, .etaminus = 0.5,
	 .etaplus = 1.25, .smin = 0x1p-14, .smax = 0x1p-3, .emulated = true},
};
#define NCASES (sizeof(cases) / sizeof(cases[0]))

/* The file of case c in dtype dt and precision pr, or NULL when gen.py
 * could not write it (torch 1.13 lacks float16 addcmul on CPU). */
static FILE *open_case(const struct lcase *c, int dt, int pr)
{
	char path[256];
	snprintf(path, sizeof(path), "%s/%s.%s.%s.bin", GOLDEN, c->name, dt == FTSRT_BF16 ? "bf16" : "f16",
		 pr == FTSRT_PRECISION_MASTER ? "master" : "param");
	return fopen(path, "rb");
}

static ftsrt_optim *new_optim(const struct lcase *c, int dt, int pr, int kernels, int threads)
{
	ftsrt_optim *o = NULL;
	ftsrt_error err;
	struct ftsrt_optim_options oo = FTSRT_INIT(struct ftsrt_optim_options);
	oo.precision = pr;
	oo.kernels = kernels;
	oo.threads = threads;
	int rc = ftsrt_optim_new(&o, c->kind, dt, &oo, &err);
	ck_assert_msg(rc == FTSRT_OK, "%s: %s", c->name, err.message);
	struct ftsrt_optim_hparams h = FTSRT_INIT(struct ftsrt_optim_hparams);
	ck_assert_int_eq(ftsrt_optim_hparams_default(c->kind, &h, &err), FTSRT_OK);
	h.lr = c->lr;
	h.momentum = c->momentum;
	h.weight_decay = c->weight_decay;
	h.nesterov = c->nesterov;
	h.amsgrad = c->amsgrad;
	h.centered = c->centered;
	if (c->beta1 != 0) {
		h.beta1 = c->beta1;
		h.beta2 = c->beta2;
	}
	if (c->alpha != 0)
		h.alpha = c->alpha;
	if (c->rho != 0)
		h.rho = c->rho;
	if (c->eps != 0)
		h.eps = c->eps;
	if (c->iav != 0)
		h.initial_accumulator_value = c->iav;
	if (c->lambd != 0) {
		h.lambd = c->lambd;
		h.t0 = c->t0;
	}
	if (c->etaplus != 0) {
		h.etaminus = c->etaminus;
		h.etaplus = c->etaplus;
		h.step_size_min = c->smin;
		h.step_size_max = c->smax;
	}
	ck_assert_msg(ftsrt_optim_add_group(o, &h, NULL, &err) == FTSRT_OK, "%s", err.message);
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(ftsrt_optim_add_param(o, 0, ndims[i], shapes[i], NULL, &err), FTSRT_OK);
	ck_assert_uint_eq(ftsrt_optim_numel(o), N);
	return o;
}

/* |a - b| in units in the last place of dtype dt at max(|b|, SCALE). */
static double ulps(int dt, float a, float b)
{
	if (isnan(a) || isnan(b))
		return isnan(a) && isnan(b) ? 0 : INFINITY;
	if (a == b)
		return 0;
	int e;
	frexpf(fmaxf(fabsf(b), SCALE), &e);
	int mant = dt == FTSRT_BF16 ? 8 : 11;           /* significand bits */
	int emin = dt == FTSRT_BF16 ? -125 : -13;       /* frexp exponent of the least normal */
	if (e < emin)
		e = emin;
	return fabs((double)a - (double)b) / ldexp(1.0, e - mant);
}

/* Replay case c; the worst difference of the parameters in ulps goes to
 * worst[0] for tensor 0 (32 elements: torch's vectorised loop), worst[1]
 * for tensors 1 and 2 (16 and 3: torch's scalar loop, see the tolerances above). */
static void replay(const struct lcase *c, int dt, int pr, int kernels, int threads, bool *found,
		   double worst[2])
{
	FILE *f = open_case(c, dt, pr);
	*found = f != NULL;
	worst[0] = worst[1] = 0;
	if (!f)
		return;
	uint16_t p[N], g[N], want[N];
	float master[N];
	ck_assert_uint_eq(fread(p, 2, N, f), N);
	ftsrt_optim *o = new_optim(c, dt, pr, kernels, threads);
	ftsrt_error err;
	for (int step = 0; step < STEPS; step++) {
		ck_assert_uint_eq(fread(g, 2, N, f), N);
		ck_assert_uint_eq(fread(want, 2, N, f), N);
		if (pr == FTSRT_PRECISION_MASTER)
			ck_assert_uint_eq(fread(master, 4, N, f), N);
		ck_assert_msg(ftsrt_optim_step(o, p, g, N, &err) == FTSRT_OK, "%s", err.message);
		for (int i = 0; i < N; i++) {
			double d = ulps(dt, rt_lowp_to_float(dt, p[i]), rt_lowp_to_float(dt, want[i]));
			double *w = &worst[i >= 32];
			*w = d > *w ? d : *w;
		}
		if (pr != FTSRT_PRECISION_MASTER)
			continue;
		size_t off = 0;
		for (int t = 0; t < 3; t++) {
			void *d = NULL;
			size_t n = 0;
			ck_assert_int_eq(ftsrt_optim_state(o, t, "master_param", &d, &n, NULL, &err), FTSRT_OK);
			const float *m = d;
			for (size_t i = 0; i < n; i++) {
				double tol = MASTER_REL * fabs((double)master[off + i]) + MASTER_ABS;
				ck_assert_msg(fabs((double)m[i] - master[off + i]) <= tol,
					      "%s master step %d element %zu: %.9g, torch %.9g", c->name, step + 1,
					      off + i, (double)m[i], (double)master[off + i]);
				/* the model copy is the master rounded */
				ck_assert_uint_eq(p[off + i], rt_lowp_from_float(dt, m[i]));
			}
			off += n;
		}
	}
	fclose(f);
	ftsrt_optim_free(o);
}

static void golden(int dt, int pr, int kernels, int threads, int expect)
{
	int seen = 0;
	for (size_t i = 0; i < NCASES; i++) {
		bool found;
		double w[2];
		replay(&cases[i], dt, pr, kernels, threads, &found, w);
		if (!found)
			continue;
		seen++;
		for (int k = 0; k < 2; k++) {
			double tol = pr == FTSRT_PRECISION_MASTER ? MASTER_ULPS
				     : cases[i].emulated        ? EMULATED_ULPS
				     : dt == FTSRT_F16          ? F16_ULPS
				     : k                        ? BF16_TAIL_ULPS
								: BF16_VEC_ULPS;
			ck_assert_msg(w[k] <= tol, "%s %s %s, tensor%s: parameters %.2f ulps from torch's",
				      cases[i].name, dt == FTSRT_BF16 ? "bf16" : "f16", pr ? "master" : "param",
				      k ? "s 1-2" : " 0", w[k]);
		}
	}
	ck_assert_int_eq(seen, expect);         /* every file gen.py wrote was read */
}

START_TEST(golden_bf16_param)
{
	golden(FTSRT_BF16, FTSRT_PRECISION_PARAM, FTSRT_KERNELS_FAST, 2, 24);
	golden(FTSRT_BF16, FTSRT_PRECISION_PARAM, FTSRT_KERNELS_REF, 1, 24);
}
END_TEST

START_TEST(golden_f16_param)
{
	golden(FTSRT_F16, FTSRT_PRECISION_PARAM, FTSRT_KERNELS_FAST, 2, 15);
}
END_TEST

START_TEST(golden_master)
{
	golden(FTSRT_BF16, FTSRT_PRECISION_MASTER, FTSRT_KERNELS_FAST, 2, 12);
	golden(FTSRT_F16, FTSRT_PRECISION_MASTER, FTSRT_KERNELS_FAST, 2, 12);
	golden(FTSRT_BF16, FTSRT_PRECISION_MASTER, FTSRT_KERNELS_REF, 1, 12);
}
END_TEST

/* --- rounding ---------------------------------------------------------------- */

static float fbits(uint32_t u)
{
	float x;
	memcpy(&x, &u, sizeof(x));
	return x;
}

START_TEST(bf16_rounding)
{
	ck_assert_uint_eq(rt_lowp_from_float(FTSRT_BF16, 1.0f), 0x3f80);
	ck_assert_uint_eq(rt_lowp_from_float(FTSRT_BF16, fbits(0x3f808000)), 0x3f80); /* tie: even */
	ck_assert_uint_eq(rt_lowp_from_float(FTSRT_BF16, fbits(0x3f818000)), 0x3f82); /* tie: even */
	ck_assert_uint_eq(rt_lowp_from_float(FTSRT_BF16, fbits(0x3f808001)), 0x3f81);
	ck_assert_uint_eq(rt_lowp_from_float(FTSRT_BF16, -2.5f), 0xc020);
	ck_assert_uint_eq(rt_lowp_from_float(FTSRT_BF16, fbits(0x7f7fffff)), 0x7f80); /* to Inf */
	ck_assert_uint_eq(rt_lowp_from_float(FTSRT_BF16, fbits(0x00018000)), 0x0002); /* subnormal */
	ck_assert(isnan(rt_lowp_to_float(FTSRT_BF16, rt_lowp_from_float(FTSRT_BF16, NAN))));
	ck_assert(isnan(rt_lowp_to_float(FTSRT_BF16, rt_lowp_from_float(FTSRT_BF16, fbits(0x7f800001)))));
	ck_assert(isinf(rt_lowp_to_float(FTSRT_BF16, rt_lowp_from_float(FTSRT_BF16, -INFINITY))));
	for (uint32_t h = 0; h < 0x10000; h++) {                /* every value round-trips */
		float x = rt_lowp_to_float(FTSRT_BF16, (uint16_t)h);
		if (!isnan(x))
			ck_assert_uint_eq(rt_lowp_from_float(FTSRT_BF16, x), h);
	}
}
END_TEST

START_TEST(f16_rounding)
{
	ck_assert_uint_eq(rt_lowp_from_float(FTSRT_F16, 1.0f), 0x3c00);
	ck_assert_uint_eq(rt_lowp_from_float(FTSRT_F16, 1.0f + 0x1p-11f), 0x3c00);           /* tie: even */
	ck_assert_uint_eq(rt_lowp_from_float(FTSRT_F16, 1.0f + 3 * 0x1p-11f), 0x3c02);       /* tie: even */
	ck_assert_uint_eq(rt_lowp_from_float(FTSRT_F16, 65504.0f), 0x7bff);
	ck_assert_uint_eq(rt_lowp_from_float(FTSRT_F16, 65519.0f), 0x7bff);
	ck_assert_uint_eq(rt_lowp_from_float(FTSRT_F16, 65520.0f), 0x7c00);                  /* to Inf */
	ck_assert_uint_eq(rt_lowp_from_float(FTSRT_F16, -1e10f), 0xfc00);
	ck_assert_uint_eq(rt_lowp_from_float(FTSRT_F16, 0x1p-24f), 0x0001);                  /* least subnormal */
	ck_assert_uint_eq(rt_lowp_from_float(FTSRT_F16, 0x1p-25f), 0x0000);                  /* tie: even */
	ck_assert_uint_eq(rt_lowp_from_float(FTSRT_F16, 3 * 0x1p-25f), 0x0002);              /* tie: even */
	ck_assert_uint_eq(rt_lowp_from_float(FTSRT_F16, 0x1.8p-25f), 0x0001);
	ck_assert_uint_eq(rt_lowp_from_float(FTSRT_F16, 0x1p-14f - 0x1p-25f), 0x0400);       /* to normal */
	ck_assert_uint_eq(rt_lowp_from_float(FTSRT_F16, -0.0f), 0x8000);
	ck_assert(isnan(rt_lowp_to_float(FTSRT_F16, rt_lowp_from_float(FTSRT_F16, NAN))));
	ck_assert(isnan(rt_lowp_to_float(FTSRT_F16, rt_lowp_from_float(FTSRT_F16, fbits(0x7f800001)))));
	for (uint32_t h = 0; h < 0x10000; h++) {
		float x = rt_lowp_to_float(FTSRT_F16, (uint16_t)h);
		if (!isnan(x))
			ck_assert_uint_eq(rt_lowp_from_float(FTSRT_F16, x), h);
	}
	ck_assert_float_eq(rt_lowp_to_float(FTSRT_F16, 0x0001), 0x1p-24f);
	ck_assert_float_eq(rt_lowp_to_float(FTSRT_F16, 0x3555), 0x1.554p-2f);
}
END_TEST

/* --- refusals and state ----------------------------------------------------------- */

static int try_new(int kind, int dt, int pr, ftsrt_error *err)
{
	ftsrt_optim *o = NULL;
	struct ftsrt_optim_options oo = FTSRT_INIT(struct ftsrt_optim_options);
	oo.precision = pr;
	int rc = ftsrt_optim_new(&o, kind, dt, &oo, err);
	ftsrt_optim_free(o);
	return rc;
}

START_TEST(refusals)
{
	ftsrt_error err;
	ck_assert_int_eq(try_new(FTSRT_OPTIM_MUON, FTSRT_F16, FTSRT_PRECISION_PARAM, &err), FTSRT_EINVAL);
	ck_assert_str_eq(err.message, "Muon does not step float16 parameters with state in their "
			 "dtype (use fp32 master weights)");

	ck_assert_int_eq(try_new(FTSRT_OPTIM_ADAM, FTSRT_F32, FTSRT_PRECISION_MASTER, &err), FTSRT_EINVAL);
	ck_assert_str_eq(err.message, "master weights are for bfloat16 and float16 parameters, not float32");
	ck_assert_int_eq(try_new(FTSRT_OPTIM_ADAM, FTSRT_BF16, 2, &err), FTSRT_EINVAL);
	ck_assert_str_eq(err.message, "no precision 2");
	ck_assert_int_eq(try_new(FTSRT_OPTIM_ADAM, 4, FTSRT_PRECISION_PARAM, &err), FTSRT_EINVAL);
	for (int k = 0; k < FTSRT_OPTIM_NKINDS; k++) {
		ck_assert_int_eq(try_new(k, FTSRT_BF16, FTSRT_PRECISION_MASTER, &err), FTSRT_OK);
		ck_assert_int_eq(try_new(k, FTSRT_F16, FTSRT_PRECISION_MASTER, &err), FTSRT_OK);
		ck_assert_int_eq(try_new(k, FTSRT_BF16, FTSRT_PRECISION_PARAM, &err),
				 k == FTSRT_OPTIM_MUON ? FTSRT_EINVAL : FTSRT_OK);
	}
}
END_TEST

/*
 * Adafactor and Muon beside master weights: the float32 optimizer stepping
 * float32 parameters with the widened gradients gives the masters bit for
 * bit, the model copy is their rounding and the factored state is the
 * float32 run's.  With a batch of 1000 elements the tensors are widened
 * and stepped in several batches (a tensor larger than a batch alone);
 * with the default, in one.  Batches change no bits: Adafactor's result
 * does not depend on how its tensors are shared out, and a small Muon
 * tensor alone in a batch still runs on one thread, as beside the others.
 */
static const int64_t tw_shapes[][3] = {{40, 30}, {17}, {2, 20, 30}, {12, 9}, {600}, {30, 40}};
static const int tw_ndims[] = {2, 1, 3, 2, 1, 2};

static ftsrt_optim *tw_new(int kind, int dt, int pr, int kernels, int threads)
{
	ftsrt_optim *o = NULL;
	struct ftsrt_optim_options oo = FTSRT_INIT(struct ftsrt_optim_options);
	oo.precision = pr;
	oo.kernels = kernels;
	oo.threads = threads;
	ck_assert_int_eq(ftsrt_optim_new(&o, kind, dt, &oo, NULL), FTSRT_OK);
	struct ftsrt_optim_hparams h = FTSRT_INIT(struct ftsrt_optim_hparams);
	ck_assert_int_eq(ftsrt_optim_hparams_default(kind, &h, NULL), FTSRT_OK);
	h.weight_decay = 0.05;
	if (kind == FTSRT_OPTIM_MUON)
		h.lr = 0.02;
	ck_assert_int_eq(ftsrt_optim_add_group(o, &h, NULL, NULL), FTSRT_OK);
	for (int i = 0; i < (int)(sizeof(tw_ndims) / sizeof(tw_ndims[0])); i++)
		if (kind != FTSRT_OPTIM_MUON || tw_ndims[i] == 2)
			ck_assert_int_eq(ftsrt_optim_add_param(o, 0, tw_ndims[i], tw_shapes[i], NULL, NULL),
					 FTSRT_OK);
	return o;
}

START_TEST(master_tensorwise)
{
	static const int kinds[2] = {FTSRT_OPTIM_ADAFACTOR, FTSRT_OPTIM_MUON};
	const int kind = kinds[_i / 8], dt = (_i & 1) ? FTSRT_F16 : FTSRT_BF16;
	const int kernels = (_i & 2) ? FTSRT_KERNELS_REF : FTSRT_KERNELS_FAST, small = !!(_i & 4);
	ftsrt_optim *lo = tw_new(kind, dt, FTSRT_PRECISION_MASTER, kernels, 2);
	ftsrt_optim *hi = tw_new(kind, FTSRT_F32, FTSRT_PRECISION_PARAM, kernels, 2);
	if (small)
		rt_optim_set_mbatch(lo, 1000);
	const size_t n = ftsrt_optim_numel(lo);
	ck_assert_uint_eq(n, ftsrt_optim_numel(hi));
	uint16_t *p = malloc(n * 2), *g = malloc(n * 2);
	float *pf = malloc(n * 4), *gf = malloc(n * 4);
	ck_assert(p && g && pf && gf);
	for (size_t i = 0; i < n; i++) {
		p[i] = rt_lowp_from_float(dt, (float)(0.5 * sin(0.37 * (double)i)));
		pf[i] = rt_lowp_to_float(dt, p[i]);
	}
	for (int s = 0; s < 3; s++) {
		for (size_t i = 0; i < n; i++) {
			g[i] = rt_lowp_from_float(dt, (float)(0.1 * cos(0.11 * (double)i * (s + 1))));
			gf[i] = rt_lowp_to_float(dt, g[i]);
		}
		ftsrt_error err;
		ck_assert_int_eq(ftsrt_optim_step(lo, p, g, n, &err), FTSRT_OK);
		ck_assert_int_eq(ftsrt_optim_step(hi, pf, gf, n, &err), FTSRT_OK);
		int np = kind == FTSRT_OPTIM_MUON ? 3 : 6;
		for (int t = 0; t < np; t++) {
			void *d = NULL, *e = NULL;
			size_t nd = 0, ne = 0, off = 0;
			ck_assert_int_eq(ftsrt_optim_state(lo, t, "master_param", &d, &nd, NULL, &err), FTSRT_OK);
			for (int u = 0; u < t; u++) {
				size_t m = 0;
				ck_assert_int_eq(ftsrt_optim_state(lo, u, "master_param", &e, &m, NULL, &err), FTSRT_OK);
				off += m;
			}
			ck_assert_msg(memcmp(d, pf + off, nd * 4) == 0, "step %d tensor %d: masters", s, t);
			for (size_t i = 0; i < nd; i++)
				ck_assert_uint_eq(p[off + i], rt_lowp_from_float(dt, pf[off + i]));
			const char *names[] = {"row_var", "col_var", "variance", "momentum_buffer"};
			int states = 0;
			for (int j = 0; j < 4; j++) {
				if (ftsrt_optim_state(hi, t, names[j], &e, &ne, NULL, NULL))
					continue;
				ck_assert_int_eq(ftsrt_optim_state(lo, t, names[j], &d, &nd, NULL, &err), FTSRT_OK);
				ck_assert_msg(nd == ne && memcmp(d, e, ne * 4) == 0, "step %d tensor %d: %s", s, t,
					      names[j]);
				states++;
			}
			ck_assert_int_ge(states, 1);
		}
	}
	free(p);
	free(g);
	free(pf);
	free(gf);
	ftsrt_optim_free(lo);
	ftsrt_optim_free(hi);
}
END_TEST

START_TEST(nan_and_state)
{
	for (int pr = 0; pr < 2; pr++) {
		ftsrt_optim *o = new_optim(&cases[2], FTSRT_BF16, pr, FTSRT_KERNELS_FAST, 1);
		uint16_t p[N], g[N];
		for (int i = 0; i < N; i++) {
			p[i] = rt_lowp_from_float(FTSRT_BF16, 0.25f * (float)(i % 7) - 0.5f);
			g[i] = rt_lowp_from_float(FTSRT_BF16, i == 5 ? NAN : 0.125f);
		}
		ftsrt_error err;
		ck_assert_int_eq(ftsrt_optim_step(o, p, g, N, &err), FTSRT_OK);
		for (int i = 0; i < N; i++)
			ck_assert(isnan(rt_lowp_to_float(FTSRT_BF16, p[i])) == (i == 5));
		void *d = NULL;
		size_t n = 0;
		ck_assert_int_eq(ftsrt_optim_state(o, 0, "exp_avg", &d, &n, NULL, &err), FTSRT_OK);
		ck_assert_uint_eq(n, 32);
		/* element 2 (parameter 0, decay 0.125 * 0): exp_avg = lerp(0, 0.125, 0.125), in
		 * the state's dtype (exact in both) */
		if (pr == FTSRT_PRECISION_MASTER)
			ck_assert_float_eq(((float *)d)[2], 0.015625f);
		else
			ck_assert_uint_eq(((uint16_t *)d)[2], rt_lowp_from_float(FTSRT_BF16, 0.015625f));
		ck_assert_int_eq(ftsrt_optim_state(o, 0, "master_param", &d, &n, NULL, &err),
				 pr == FTSRT_PRECISION_MASTER ? FTSRT_OK : FTSRT_EINVAL);
		ftsrt_optim_free(o);
	}
}
END_TEST

static Suite *lowp_suite(void)
{
	Suite *s = suite_create("lowp");
	TCase *tc = tcase_create("golden");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, golden_bf16_param);
	tcase_add_test(tc, golden_f16_param);
	tcase_add_test(tc, golden_master);
	suite_add_tcase(s, tc);
	tc = tcase_create("api");
	tcase_add_test(tc, bf16_rounding);
	tcase_add_test(tc, f16_rounding);
	tcase_add_test(tc, refusals);
	tcase_add_test(tc, nan_and_state);
	tcase_add_loop_test(tc, master_tensorwise, 0, 16);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(lowp_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
