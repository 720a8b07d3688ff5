/*
 * muon_run.h - the Muon driver of check_blas.c and check_noblas.c (one
 * definition for the two suites, which link differently).
 */
#ifndef TEST_MUON_RUN_H
#define TEST_MUON_RUN_H

#include <check.h>
#include <stdlib.h>

#include "ftsrt.h"

/* Three Muon steps over the tensors shape[nt] with threads and
 * kernels; the parameters into out (numel). */
static size_t muon_run(int nt, const int64_t (*shape)[2], int threads, int kernels, int bf16,
		       float *out)
{
	ftsrt_error err;
	struct ftsrt_optim_hparams h = FTSRT_INIT(struct ftsrt_optim_hparams);
	ck_assert_int_eq(ftsrt_optim_hparams_default(FTSRT_OPTIM_MUON, &h, &err), FTSRT_OK);
	h.lr = 0.02;
	h.weight_decay = 0.01;
	h.muon_bf16 = bf16;
	struct ftsrt_optim_options op = FTSRT_INIT(struct ftsrt_optim_options);
	op.threads = threads;
	op.kernels = kernels;
	ftsrt_optim *o = NULL;
	ck_assert_int_eq(ftsrt_optim_new(&o, FTSRT_OPTIM_MUON, FTSRT_F32, &op, &err), FTSRT_OK);
	ck_assert_int_eq(ftsrt_optim_add_group(o, &h, NULL, &err), FTSRT_OK);
	for (int i = 0; i < nt; i++)
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

#endif /* TEST_MUON_RUN_H */
