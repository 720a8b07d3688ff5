/*
 * blas.h - libftsrt's dealings with OpenBLAS's process-wide state: the
 * core type (kernel table) it runs and its thread count (blas.c).
 *
 * OpenBLAS keeps both per process, not per caller: whatever libftsrt sets
 * there is seen by every other user of the same libopenblas in the
 * process (torch, numpy), so libftsrt touches them only as described
 * here and in libftsrt(3).
 *
 * Stage: runtime (Muon's matrix products).
 */
#ifndef RT_BLAS_H
#define RT_BLAS_H

#include <stddef.h>

/* The instruction sets of the CPU that decide an OpenBLAS core type. */
struct rt_cpu_isa {
	int amd;                        /* AuthenticAMD or HygonGenuine */
	int avx2_fma;                   /* AVX2 and FMA, with the OS saving ymm state */
	int avx512;                     /* AVX-512 F, BW, VL and DQ, the OS saving zmm state */
	int avx512_bf16;                /* and AVX512_BF16 */
};

/* The running CPU's (all zero off x86-64). */
void rt_cpu_isa_detect(struct rt_cpu_isa *isa);

/*
 * The core type OpenBLAS should run on a CPU with isa, when the one it
 * detected (openblas_get_corename()) is a generic or older core than the
 * CPU supports: "SkylakeX" (or "Cooperlake" with AVX512_BF16) for
 * AVX-512, "Haswell" (or "Zen" on AMD) for AVX2 with FMA.  NULL when
 * detected is as good, or a core this function does not know (never
 * downgrade, never guess).  have_cooperlake: the library has that table
 * (OpenBLAS 0.3.11 and later).  Pure: no OpenBLAS call.
 */
const char *rt_blas_core_fix(const char *detected, const struct rt_cpu_isa *isa,
			     int have_cooperlake);

/*
 * Once per process, before libftsrt's first BLAS call: correct a
 * misdetected OpenBLAS core type (rt_blas_core_fix) by re-running
 * OpenBLAS's DYNAMIC_ARCH initialisation with OPENBLAS_CORETYPE set to
 * the right core.  Left alone when the environment sets
 * OPENBLAS_CORETYPE (unless FTSRT_OPENBLAS_CORETYPE=force), when
 * FTSRT_OPENBLAS_CORETYPE=off, or when OpenBLAS lacks the DYNAMIC_ARCH
 * entry points.  Thread-safe (pthread_once); cheap after the first call.
 */
void rt_blas_setup(void);

/* What rt_blas_setup found and did, one line without a newline ("" before
 * it ran). */
const char *rt_blas_report(void);

/*
 * Around libftsrt's BLAS calls: OpenBLAS on one thread (the callers'
 * OpenMP teams split the products), its thread count restored by the
 * last rt_blas_single_end.  Process-wide (openblas_set_num_threads): a
 * BLAS call of another library in the process meanwhile runs on one
 * thread too.
 */
void rt_blas_single_begin(void);
void rt_blas_single_end(void);

/*
 * OpenBLAS's entry points that libftsrt calls (LP64 build: int indices),
 * declared weak: a program that links libftsrt without -lopenblas (ftsc,
 * which validates optimizers but never steps them) does not load
 * OpenBLAS, whose load-time constructor starts a thread per core that
 * spins in sched_yield for its first ~0.1 s.  Declared here rather than
 * through <cblas.h>: that header includes <sched.h>, which on the
 * runtime's include path (-Iruntime) resolves to runtime/sched.h, the LR
 * schedulers, and not the system header.
 */
enum { RT_CBLAS_ROW_MAJOR = 101, RT_CBLAS_NO_TRANS = 111, RT_CBLAS_TRANS = 112 };
__attribute__((weak)) void cblas_sgemm(int order, int ta, int tb, int m, int n, int k, float alpha,
				       const float *a, int lda, const float *b, int ldb, float beta,
				       float *c, int ldc);
__attribute__((weak)) void cblas_dgemm(int order, int ta, int tb, int m, int n, int k, double alpha,
				       const double *a, int lda, const double *b, int ldb, double beta,
				       double *c, int ldc);
__attribute__((weak)) void openblas_set_num_threads(int n);
__attribute__((weak)) int openblas_get_num_threads(void);

/* Whether the process has OpenBLAS (else Muon runs its reference path:
 * plain loops, one thread). */
int rt_blas_linked(void);

#endif /* RT_BLAS_H */
