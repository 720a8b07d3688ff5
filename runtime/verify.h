/*
 * verify.h - replay of the torch golden cases (golden/optim, golden/lrs)
 * against libftsrt.  Used by `ftsrun verify` and by the unit tests, so both
 * apply the same loader, the same error measure and the same tolerances.
 * Not part of libftsrt: it reads YAML with libyaml, which the library does
 * not link; ftsrun and the tests link verify.o themselves.
 */
#ifndef FTSRT_VERIFY_H
#define FTSRT_VERIFY_H

/* What a golden YAML describes. */
enum rt_verify_kind {
	RT_VERIFY_OPTIM = 0,            /* golden/optim: optimizer trajectory + .bin */
	RT_VERIFY_LRS = 1,              /* golden/lrs: learning-rate trace */
	RT_VERIFY_UNKNOWN = 2,          /* neither */
};

/* Outcome of one case. */
enum rt_verify_status {
	RT_VERIFY_PASS = 0,
	RT_VERIFY_FAIL = 1,             /* ran, error above tolerance */
	RT_VERIFY_SKIP = 2,             /* not supported yet; counts neither way */
	RT_VERIFY_ERROR = 3,            /* could not run (bad file, refused) */
};

/* Result of one case; err/tol index 0 is float32, 1 float64. */
struct rt_verify_result {
	int kind;                       /* enum rt_verify_kind */
	int status;                     /* enum rt_verify_status */
	double err[2];                  /* max relative error over all steps and elements */
	double tol[2];                  /* the tolerance applied */
	char name[128];                 /* case name (file stem) */
	char msg[256];                  /* why it failed / was skipped */
};

/*
 * Relative error measure: |a - b| / max(|b|, RT_VERIFY_FLOOR), with NaN
 * matching NaN and equal infinities matching (error 0); any other
 * non-finite disagreement is an infinite error.
 */
#define RT_VERIFY_FLOOR 1e-3

/* Default tolerances (see ftsrun(1)). */
#define RT_VERIFY_TOL_F32 1e-5
#define RT_VERIFY_TOL_F64 1e-12
#define RT_VERIFY_TOL_MUON_F32 2e-3     /* bf16 Newton-Schulz: rounding flips */
#define RT_VERIFY_TOL_MUON_F64 2e-3

/* The relative error of a against reference b (definition above). */
double rt_verify_relerr(double a, double b);

/*
 * Replay the golden case yaml_path (its .f32.bin/.f64.bin beside it) with
 * kernels (enum ftsrt_kernels) on nthreads threads; fill *r.  Returns r's
 * status.
 */
int rt_verify_case(const char *yaml_path, int kernels, int nthreads, struct rt_verify_result *r);

#endif /* FTSRT_VERIFY_H */
