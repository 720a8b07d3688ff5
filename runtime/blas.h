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

#endif /* RT_BLAS_H */
