/*
 * ftsrun.c - the runtime's command-line tool: the library version, replay
 * of torch's golden cases (`verify`, see verify.c) and the optimizer
 * benchmark (`bench`) against an in-run in-place stream.  Plan inspection and
 * execution commands come with the plan format (see ftsrun(1)).
 */
#include <dirent.h>
#include <math.h>
#include <stdbool.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#ifdef _OPENMP
#include <omp.h>
#endif /* _OPENMP */

#include "blas.h"
#include "ftsrt.h"
#include "plan.h"
#include "quadratic.h"
#include "verify.h"

#ifdef FTSRUN_MPI
/*
 * ftsrun-mpi (built with mpicc when it is found): `mpirun -n W ftsrun-mpi run
 * PLAN ...` runs the synthetic job as W data-parallel ranks whose optimizer
 * state is sharded (libftsrt's sharded runs): per step MPI_Reduce_scatter
 * of the gradients (each rank receives its slice's sum, then / W), the
 * rank's slice stepped, MPI_Allgatherv of the slices; the metric averaged
 * before each epoch's end.  Rank 0 prints, logs
 * and plots; each rank says its slice and state bytes on stderr at the end.
 */
#include <limits.h>
#include <mpi.h>

struct mpi_ctx {
	int rank, world;
	int *counts, *displs;           /* every rank's slice, for MPI_Allgatherv */
};

/* Every rank's slice, exchanged once (the partition is static). */
static int mpi_slices(struct mpi_ctx *c, size_t n, size_t begin, size_t end)
{
	if (c->counts)
		return 0;
	if (n > (size_t)INT_MAX)
		return -1;
	unsigned long long mine[2] = {begin, end}, *all = malloc(2 * sizeof(*all) * (size_t)c->world);
	c->counts = malloc(sizeof(int) * (size_t)c->world);
	c->displs = malloc(sizeof(int) * (size_t)c->world);
	if (!all || !c->counts || !c->displs ||
	    MPI_Allgather(mine, 2, MPI_UNSIGNED_LONG_LONG, all, 2, MPI_UNSIGNED_LONG_LONG, MPI_COMM_WORLD) !=
		    MPI_SUCCESS) {
		free(all);
		return -1;
	}
	for (int r = 0; r < c->world; r++) {
		c->displs[r] = (int)all[2 * r];
		c->counts[r] = (int)(all[2 * r + 1] - all[2 * r]);
	}
	free(all);
	/* the slices tile [0, n) in rank order, as MPI_Reduce_scatter needs */
	for (int r = 0, at = 0; r < c->world; at += c->counts[r], r++)
		if (c->displs[r] != at || (r + 1 == c->world && (size_t)(at + c->counts[r]) != n))
			return -1;
	return 0;
}

/* A reduce-scatter: each rank receives the sum of its own slice only
 * ((W-1)/W of the gradient bytes sent and received, not an all-reduce's
 * 2(W-1)/W), then divides it by W. */
static int mpi_avg_grads(void *ud, float *g, size_t n, size_t begin, size_t end)
{
	struct mpi_ctx *c = ud;
	if (mpi_slices(c, n, begin, end))
		return -1;
	/* in place: the input is all of g, this rank's sum lands at g[0..count) */
	if (MPI_Reduce_scatter(MPI_IN_PLACE, g, c->counts, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD) != MPI_SUCCESS)
		return -1;
	size_t k = end - begin;
	memmove(g + begin, g, k * sizeof(*g));
	float w = (float)c->world;
	for (size_t j = begin; j < end; j++)
		g[j] /= w;
	return 0;
}

static int mpi_gather_params(void *ud, float *p, size_t n, size_t begin, size_t end)
{
	struct mpi_ctx *c = ud;
	if (mpi_slices(c, n, begin, end))
		return -1;
	return MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, p, c->counts, c->displs, MPI_FLOAT,
			      MPI_COMM_WORLD) == MPI_SUCCESS ? 0 : -1;
}

static int mpi_avg_metric(void *ud, double *x)
{
	struct mpi_ctx *c = ud;
	if (MPI_Allreduce(MPI_IN_PLACE, x, 1, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD) != MPI_SUCCESS)
		return -1;
	*x /= c->world;
	return 0;
}

static struct mpi_ctx mpi_ctx;          /* the process's MPI rank: main's */
#endif /* FTSRUN_MPI */

/* Exit statuses (ftsrun(1) EXIT STATUS). */
enum {
	EXIT_OK = 0,                    /* success, every case passed */
	EXIT_FAILED = 1,                /* a verify case failed */
	EXIT_USAGE = 2,                 /* usage or I/O error */
};

static const char *const usage[] = {
	"usage: ftsrun <command> [<args>]",
	"",
	"commands:",
	"   version                    print the libftsrt version",
	"   inspect PLAN               validate a plan and print its phase table",
	"   run PLAN [<options>]       run PLAN on the noisy quadratic model",
	"   verify DIR...              replay the golden cases in each DIR",
	"   bench OPTIMIZER [<options>]",
	"                              time optimizer steps against memory bandwidth",
	"",
	"'ftsrun <command> --help' describes a command.",
	NULL,
};

static const char *const usage_inspect[] = {
	"usage: ftsrun inspect PLAN",
	"",
	"Open PLAN through libftsrt (validating every byte) and print its phase table.",
	"Exit status: 0, 1 when PLAN is not a valid plan, 2 when it cannot be read.",
	NULL,
};

static const char *const usage_run[] = {
	"usage: ftsrun run PLAN [<options>]",
	"",
	"Run PLAN as FTS drives a Lightning run (thawing, groups and lrs, schedulers,",
	"early stopping, transitions, restore_best) on a noisy quadratic model over",
	"the manifest's shapes.",
	"",
	"    --epochs N            epochs at most (default: the plan's max_epochs; needed when it is -1)",
	"    --steps-per-epoch K   optimizer steps per epoch (default 64)",
	"    --scale S             shrink every dimension to max(1, round(d * S)) (0 < S <= 1, default 1)",
	"    --metrics FILE        replay a validation curve, one value per line",
	"    --log FILE.csv        a per-epoch log",
	"    --plot FILE.svg       the loss and every group's lr against epochs",
	"    --ckpt-dir DIR        where restore_best checkpoints go (default: memory)",
	"    --threads T           threads of the optimizer step (default 1)",
	"    --seed N              the model's random seed (default 42)",
	NULL,
};

static const char *const usage_verify[] = {
	"usage: ftsrun verify DIR...",
	"",
	"Replay every golden case (*.yaml) of each DIR: optimizer trajectories",
	"(with their .f32.bin and .f64.bin) and lr-scheduler traces, one line per",
	"case, then 'N passed, M failed'.  Exit status 1 when a case fails.",
	NULL,
};

static const char *const usage_bench[] = {
	"usage: ftsrun bench OPTIMIZER [<options>]",
	"",
	"Time steps of OPTIMIZER (sgd, adam, adamw, ...) over float32 parameters (one",
	"flat tensor; Adafactor and Muon: 1024-column matrices), and an in-place",
	"stream b += s*c (12 bytes per element) on the same threads in the same run,",
	"over at least 4x the last-level cache; print GB/s by the optimizer's bytes",
	"per element and that as a fraction of the in-place bandwidth.",
	"",
	"    --elements N   elements of the tensor (default 16777216)",
	"    --steps S      timed steps (default 10)",
	"    --threads T    threads (default 2)",
	"    -v             say which OpenBLAS core type the step ran (Muon)",
	"",
	"Muon also times its matrix products alone (OpenBLAS sgemm at the step's",
	"shapes, on T threads) and prints the step's time over theirs.",
	NULL,
};

static int print_lines(const char *const *lines, FILE *out)
{
	for (const char *const *u = lines; *u; u++)
		fprintf(out, "%s\n", *u);
	return out == stdout ? EXIT_OK : EXIT_USAGE;
}

static int print_usage(FILE *out)
{
	return print_lines(usage, out);
}

/* Exit status for a plan that failed to open: 2 when it could not be
 * read at all, 1 when it is not a valid plan (the same for every command). */
static int open_status(int rc)
{
	return rc == FTSRT_EIO ? EXIT_USAGE : EXIT_FAILED;
}

/* ftsrun inspect PLAN: load through libftsrt, print the phase table. */
static int cmd_inspect(int argc, char **argv)
{
	if (argc != 1)
		return print_lines(usage_inspect, stderr);
	ftsrt_error err;
	ftsrt_plan *p;
	int rc = ftsrt_plan_open(&p, argv[0], NULL, &err);
	if (rc) {
		fprintf(stderr, "ftsrun: %s: %s: %s\n", argv[0], ftsrt_strerror(rc), err.message);
		return open_status(rc);
	}
	rc = ftsrt_plan_dump(p, stdout, FTSRT_DUMP_PHASES, NULL);
	ftsrt_plan_close(p);
	return rc ? EXIT_USAGE : EXIT_OK;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* ftsrun verify DIR...: one line per case, then "N passed, M failed". */
static int cmd_verify(int argc, char **argv)
{
	if (argc < 1)
		return print_lines(usage_verify, stderr);
	int passed = 0, failed = 0, skipped = 0;
	for (int a = 0; a < argc; a++) {
		DIR *d = opendir(argv[a]);
		if (!d) {
			fprintf(stderr, "ftsrun: cannot open directory '%s'\n", argv[a]);
			return EXIT_USAGE;
		}
		char **names = NULL;
		size_t n = 0, cap = 0;
		struct dirent *de;
		while ((de = readdir(d))) {
			size_t len = strlen(de->d_name);
			if (len < 6 || strcmp(de->d_name + len - 5, ".yaml") != 0)
				continue;
			if (n == cap) {
				cap = cap ? 2 * cap : 64;
				char **nn = realloc(names, cap * sizeof(*names));
				if (!nn) {
					fprintf(stderr, "ftsrun: out of memory\n");
					return EXIT_USAGE;
				}
				names = nn;
			}
			size_t plen = strlen(argv[a]) + len + 2;
			names[n] = malloc(plen);
			if (!names[n]) {
				fprintf(stderr, "ftsrun: out of memory\n");
				return EXIT_USAGE;
			}
			snprintf(names[n], plen, "%s/%s", argv[a], de->d_name);
			n++;
		}
		closedir(d);
		qsort(names, n, sizeof(*names), cmp_str);
		for (size_t i = 0; i < n; i++) {
			struct rt_verify_result r;
			rt_verify_case(names[i], FTSRT_KERNELS_FAST, 1, &r);
			switch (r.status) {
			case RT_VERIFY_PASS:
			case RT_VERIFY_FAIL:
				if (r.kind == RT_VERIFY_LRS) {
					printf("%-4s %-28s lr max rel err %.3g (tol %g)%s%s\n",
					       r.status == RT_VERIFY_PASS ? "ok" : "FAIL", r.name, r.err[0],
					       r.tol[0], r.status == RT_VERIFY_PASS ? "" : "  ",
					       r.status == RT_VERIFY_PASS ? "" : r.msg);
					if (r.status == RT_VERIFY_PASS)
						passed++;
					else
						failed++;
					break;
				}
				printf("%-4s %-28s f32 max rel err %.3g (tol %g)  f64 max rel err %.3g (tol %g)\n",
				       r.status == RT_VERIFY_PASS ? "ok" : "FAIL", r.name, r.err[0], r.tol[0],
				       r.err[1], r.tol[1]);
				if (r.status == RT_VERIFY_PASS)
					passed++;
				else
					failed++;
				break;
			case RT_VERIFY_SKIP:
				printf("skip %-28s %s\n", r.name, r.msg);
				skipped++;
				break;
			default:
				printf("FAIL %-28s %s\n", r.name, r.msg);
				failed++;
				break;
			}
			free(names[i]);
		}
		free(names);
	}
	(void)skipped;
	printf("%d passed, %d failed\n", passed, failed);
	return failed ? EXIT_FAILED : EXIT_OK;
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/*
 * Bytes moved per element per step by the fused kernel (performance.md
 * A.2): reads and writes of the arrays each element has, in place, so no
 * write-allocate; *what names them.
 */
static double bytes_per_elem(int kind, const struct ftsrt_optim_hparams *h, const char **what)
{
	switch (kind) {
	case FTSRT_OPTIM_SGD:
		*what = h->momentum != 0 ? "p, g, buf read; p, buf written" : "p, g read; p written";
		return h->momentum != 0 ? 20 : 12;
	case FTSRT_OPTIM_ADAM:
	case FTSRT_OPTIM_ADAMW:
		*what = h->amsgrad ? "p, g, m, v, vmax read; p, m, v, vmax written"
				   : "p, g, m, v read; p, m, v written";
		return h->amsgrad ? 36 : 28;
	case FTSRT_OPTIM_ADAGRAD:
	case FTSRT_OPTIM_ASGD:
		*what = "p, g, one state read; p, state written";
		return 20;
	case FTSRT_OPTIM_RMSPROP:
		*what = "p, g and each state read; p and each state written";
		return 20 + (h->momentum > 0 ? 8 : 0) + (h->centered ? 8 : 0);
	case FTSRT_OPTIM_ADAFACTOR:
		/* matrices: the factored state is per row and column; a 1-D
		 * tensor's full variance would add 8 */
		*what = "p, g read; p written; factors per row and column";
		return 12;
	case FTSRT_OPTIM_MUON:
		*what = "p, g, buf read; p, buf written; not the gemm work";
		return 20;
	default:
		*what = "p, g, two states read; p, two states written";
		return 28;
	}
}

/* The last-level cache in bytes (sysfs), or 32 MiB when it cannot be read. */
static size_t llc_bytes(void)
{
	const char *paths[] = {"/sys/devices/system/cpu/cpu0/cache/index3/size",
			       "/sys/devices/system/cpu/cpu0/cache/index2/size"};
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		FILE *f = fopen(paths[i], "r");
		if (!f)
			continue;
		char buf[32] = "";
		char *ok = fgets(buf, sizeof(buf), f);
		fclose(f);
		char *end = NULL;
		unsigned long long v = ok ? strtoull(buf, &end, 10) : 0;
		if (!v || !end)
			continue;
		if (*end == 'K')
			v <<= 10;
		else if (*end == 'M')
			v <<= 20;
		else if (*end == 'G')
			v <<= 30;
		return (size_t)v;
	}
	return (size_t)32 << 20;
}

/*
 * The in-place stream b += s*c over n floats: 12 bytes per element really
 * moved (b and c read, b written; the lines of b are read before they are
 * written, so nothing is write-allocated).
 */
struct stream {
	float *b, *c;
	size_t n;
};

static int stream_init(struct stream *st, size_t n, int threads)
{
	st->n = n;
	st->b = aligned_alloc(64, (n * sizeof(float) + 63) / 64 * 64);
	st->c = aligned_alloc(64, (n * sizeof(float) + 63) / 64 * 64);
	if (!st->b || !st->c)
		return -1;
	float *b = st->b, *c = st->c;
	const long nn = (long)n;
#pragma omp parallel for num_threads(threads) schedule(static)
	for (long i = 0; i < nn; i++) {
		b[i] = 1;
		c[i] = 2;
	}
	return 0;
}

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(FTSRT_NO_CLONES)
#define TC __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define TC
#endif /* x86-64 gcc */

#define STREAM_WAYS 4                   /* segments walked in step: 8 reads, 4 writes */

/*
 * The stream over [lo, hi), cloned per ISA as the optimizer kernels are, so
 * that a CPU-starved run does not favour the kernels.  The range is walked
 * as STREAM_WAYS segments at once: as many memory streams in flight as an
 * optimizer with three states has (one stream per core does not reach the
 * memory's bandwidth).
 */
static TC void stream_part(float *restrict b, const float *restrict c, float s, size_t lo, size_t hi)
{
	const size_t seg = (hi - lo) / STREAM_WAYS / 16 * 16;
	float *restrict b0 = b + lo, *restrict b1 = b0 + seg, *restrict b2 = b1 + seg,
	      *restrict b3 = b2 + seg;
	const float *restrict c0 = c + lo, *restrict c1 = c0 + seg, *restrict c2 = c1 + seg,
		    *restrict c3 = c2 + seg;
#pragma omp simd
	for (size_t i = 0; i < seg; i++) {
		b0[i] += s * c0[i];
		b1[i] += s * c1[i];
		b2[i] += s * c2[i];
		b3[i] += s * c3[i];
	}
	for (size_t i = lo + STREAM_WAYS * seg; i < hi; i++)
		b[i] += s * c[i];
}

/* One pass of the stream; returns its seconds. */
static double stream_rep(struct stream *st, int threads)
{
	const size_t n = st->n;
	double t0 = now();
	(void)threads;
#pragma omp parallel num_threads(threads)
	{
		size_t tid = 0, nt = 1;
#ifdef _OPENMP
		tid = (size_t)omp_get_thread_num();
		nt = (size_t)omp_get_num_threads();
#endif /* _OPENMP */
		size_t lo = n * tid / nt / 16 * 16, hi = tid + 1 == nt ? n : n * (tid + 1) / nt / 16 * 16;
		stream_part(st->b, st->c, 1e-3f, lo, hi);
	}
	return now() - t0;
}

static void stream_free(struct stream *st)
{
	if (st->b && st->n) {
		volatile float sink = st->b[st->n / 2];
		(void)sink;
	}
	free(st->b);
	free(st->c);
}

/* OpenBLAS, for Muon's products-alone reference (the tool sets its
 * thread count; the library never leaves it changed). */
void cblas_sgemm(int order, int ta, int tb, int m, int n, int k, float alpha, const float *a,
		 int lda, const float *b, int ldb, float beta, float *c, int ldc);
void openblas_set_num_threads(int n);
int openblas_get_num_threads(void);

/*
 * Seconds of the matrix products of one Muon step alone: for each
 * rows x cols tensor of shape[nt][2], ns_steps times X @ X.T, G @ G (into
 * H, beta b) and H @ X (into Y, beta a), m = min(rows, cols), n = max;
 * OpenBLAS on threads threads.  work: 2 n m + 2 m m floats of the largest.
 */
static double muon_products(const int64_t (*shape)[2], int nt, int ns_steps, int threads,
			    float *work)
{
	int saved = openblas_get_num_threads();
	openblas_set_num_threads(threads);
	double t0 = now();
	for (int i = 0; i < nt; i++) {
		int m = (int)(shape[i][0] < shape[i][1] ? shape[i][0] : shape[i][1]);
		int n = (int)(shape[i][0] < shape[i][1] ? shape[i][1] : shape[i][0]);
		float *x = work, *y = x + (size_t)m * n, *g = y + (size_t)m * n, *h = g + (size_t)m * m;
		for (int it = 0; it < ns_steps; it++) {
			cblas_sgemm(101, 111, 112, m, m, n, 1.0f, x, n, x, n, 0.0f, g, m);
			cblas_sgemm(101, 111, 111, m, m, m, 2.0315f, g, m, g, m, -4.775f, h, m);
			cblas_sgemm(101, 111, 111, m, n, m, 1.0f, h, m, x, n, 3.4445f, y, n);
		}
	}
	double t = now() - t0;
	openblas_set_num_threads(saved);
	return t;
}

/* CPU seconds the process spends over a 200 ms sleep: its idle threads'. */
static double idle_cpu(void)
{
	struct timespec a, b, d = {0, 200000000};
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &a);
	nanosleep(&d, NULL);
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &b);
	return (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) * 1e-9;
}

/* ftsrun bench OPTIMIZER [--elements N] [--steps S] [--threads T] [-v] */
static int cmd_bench(int argc, char **argv)
{
	if (argc < 1)
		return print_lines(usage_bench, stderr);
	int32_t kind;
	ftsrt_error err;
	if (ftsrt_optim_kind_from_name(argv[0], &kind, &err)) {
		fprintf(stderr, "ftsrun: %s\n", err.message);
		return EXIT_USAGE;
	}
	size_t n = 16u << 20;
	int steps = 10, threads = 2;
	bool verbose = false;
	for (int i = 1; i < argc; i++) {
		char *end = NULL;
		if (strcmp(argv[i], "-v") == 0) {
			verbose = true;
			continue;
		}
		if (i + 1 >= argc) {
			fprintf(stderr, "ftsrun: '%s' needs a value\n", argv[i]);
			return EXIT_USAGE;
		}
		double v = strtod(argv[i + 1], &end);
		if (!end || *end || v < 1 || v > 1e12) {
			fprintf(stderr, "ftsrun: bad value '%s' for %s\n", argv[i + 1], argv[i]);
			return EXIT_USAGE;
		}
		if (strcmp(argv[i], "--elements") == 0)
			n = (size_t)v;
		else if (strcmp(argv[i], "--steps") == 0)
			steps = (int)v;
		else if (strcmp(argv[i], "--threads") == 0)
			threads = (int)v;
		else {
			fprintf(stderr, "ftsrun: unknown option '%s'\n", argv[i]);
			return EXIT_USAGE;
		}
		i++;
	}
	struct ftsrt_optim_hparams h = FTSRT_INIT(struct ftsrt_optim_hparams);
	ftsrt_optim_hparams_default(kind, &h, NULL);
	if (kind == FTSRT_OPTIM_SGD)
		h.momentum = 0.9;
	ftsrt_optim *o = NULL;
	struct ftsrt_optim_options oo = FTSRT_INIT(struct ftsrt_optim_options);
	oo.threads = threads;
	if (ftsrt_optim_new(&o, kind, FTSRT_F32, &oo, &err) ||
	    ftsrt_optim_add_group(o, &h, NULL, &err)) {
		fprintf(stderr, "ftsrun: cannot create the optimizer: %s\n", err.message);
		ftsrt_optim_free(o);
		return EXIT_USAGE;
	}
	/* layout: one flat tensor; 2-D optimizers get 1024-column matrices */
	int st = 0, nmat = 0;
	int64_t (*mats)[2] = NULL;
	if (kind == FTSRT_OPTIM_MUON || kind == FTSRT_OPTIM_ADAFACTOR) {
		int64_t cols = 1024, rows_total = (int64_t)((n + 1023) / 1024);
		mats = calloc((size_t)(rows_total + 1023) / 1024 + 1, sizeof(*mats));
		st = mats ? 0 : FTSRT_ENOMEM;
		for (int64_t r0 = 0; r0 < rows_total && !st; r0 += 1024) {
			int64_t shape[2] = {rows_total - r0 < 1024 ? rows_total - r0 : 1024, cols};
			st = ftsrt_optim_add_param(o, 0, 2, shape, NULL, &err);
			mats[nmat][0] = shape[0];
			mats[nmat++][1] = shape[1];
		}
	} else {
		int64_t shape[1] = {(int64_t)n};
		st = ftsrt_optim_add_param(o, 0, 1, shape, NULL, &err);
	}
	n = ftsrt_optim_numel(o);
	float *p = aligned_alloc(64, (n * sizeof(float) + 63) / 64 * 64);
	float *g = aligned_alloc(64, (n * sizeof(float) + 63) / 64 * 64);
	/* Muon's products alone: 2 n m + 2 m m floats, m, n <= 1024 */
	float *mw = kind == FTSRT_OPTIM_MUON ? calloc((size_t)4 << 20, sizeof(float)) : NULL;
	/* the stream's two arrays span at least 4x the last-level cache; its
	 * passes alternate with the steps (and Muon's products alone), so all
	 * see the same machine (a shared one is noisy) */
	size_t llc = llc_bytes(), sn = 4 * llc / (2 * sizeof(float));
	sn = sn > n ? sn : n;
	struct stream sm = {NULL, NULL, 0};
	int snomem = stream_init(&sm, sn, threads);
	if (st || !p || !g || (kind == FTSRT_OPTIM_MUON && !mw) || snomem) {
		fprintf(stderr, "ftsrun: out of memory\n");
		stream_free(&sm);
		free(p);
		free(g);
		free(mw);
		free(mats);
		ftsrt_optim_free(o);
		return EXIT_USAGE;
	}
	const long nn = (long)n;
#pragma omp parallel for num_threads(threads) schedule(static)
	for (long i = 0; i < nn; i++) {
		unsigned x = (unsigned)i * 2654435761u;
		p[i] = (float)((x >> 8) & 0xffff) / 65536.0f - 0.5f;
		g[i] = (float)((x >> 4) & 0xffff) / 65536.0f * 1e-2f - 5e-3f;
	}
	const int reps = steps > 10 ? steps : 10;
	double best = INFINITY, total = 0, sbest = INFINITY, pbest = INFINITY, ptotal = 0;
	st = ftsrt_optim_step(o, p, g, n, &err);           /* warm-up: allocates state */
	stream_rep(&sm, threads);
	for (int s = 0; s < reps && !st; s++) {
		if (s < steps) {
			double t0 = now();
			st = ftsrt_optim_step(o, p, g, n, &err);
			double t = now() - t0;
			total += t;
			if (t < best)
				best = t;
			if (mw) {                          /* interleaved: the same load */
				t = muon_products((const int64_t(*)[2])mats, nmat, h.ns_steps, threads, mw);
				ptotal += t;
				if (t < pbest)
					pbest = t;
			}
		}
		double t = stream_rep(&sm, threads);
		if (t < sbest)
			sbest = t;
	}
	stream_free(&sm);
	if (!st)                                           /* not after the products' threads */
		st = ftsrt_optim_step(o, p, g, n, &err);
	double idle = st ? 0 : idle_cpu();
	free(mw);
	free(mats);
	if (st) {
		fprintf(stderr, "ftsrun: step failed: %s\n", err.message);
		free(p);
		free(g);
		ftsrt_optim_free(o);
		return EXIT_USAGE;
	}
	const char *what = "";
	double bpe = bytes_per_elem(kind, &h, &what);
	double ip = 12.0 * (double)sn / sbest / 1e9;
	double gbs = bpe * (double)n / best / 1e9;
	printf("optimizer: %s, fp32, %zu elements, %d threads, %d steps\n", ftsrt_optim_kind_name(kind),
	       n, threads, steps);
	printf("seconds per step: %.6f (best; mean %.6f)\n", best, total / steps);
	printf("elements per second: %.4g\n", (double)n / best);
	printf("bandwidth: %.2f GB/s at %.0f bytes/element (%s)\n", gbs, bpe, what);
	printf("in-place stream: %.2f GB/s (b += s*c, 12 bytes/element, %zu elements, "
	       "last-level cache %zu KiB, %d threads)\n", ip, sn, llc >> 10, threads);
	printf("fraction of in-place bandwidth: %.2f\n", ip > 0 ? gbs / ip : 0);
	if (kind == FTSRT_OPTIM_MUON) {
		printf("matrix products alone: %.6f s (best; mean %.6f; OpenBLAS sgemm, %d threads)\n",
		       pbest, ptotal / steps, threads);
		printf("step over products: %.2f\n", best / pbest);
	}
	printf("idle CPU after a step: %.1f ms in 200 ms\n", idle * 1e3);
	if (verbose && kind == FTSRT_OPTIM_MUON)
		fprintf(stderr, "ftsrun: %s\n", rt_blas_report());
	free(p);
	free(g);
	ftsrt_optim_free(o);
	return EXIT_OK;
}

/*
 * ftsrun run PLAN [--epochs N] [--steps-per-epoch K] [--scale S] [--metrics FILE]
 * [--log FILE.csv] [--plot FILE.svg] [--ckpt-dir DIR] [--threads T] [--seed N]:
 * the plan on the noisy quadratic model (quadratic.c).
 */
static int cmd_run(int argc, char **argv)
{
	if (argc < 1)
		return print_lines(usage_run, stderr);
	struct rt_nqm_opts o;
	rt_nqm_defaults(&o);
	o.progress = isatty(2);
	for (int i = 1; i < argc; i += 2) {
		const char *k = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		char *end = NULL;
		double x = v ? strtod(v, &end) : 0;
		bool isnum = v && end && end != v && !*end;
		if (!v) {
			fprintf(stderr, "ftsrun: '%s' needs a value\n", k);
			return EXIT_USAGE;
		} else if (!strcmp(k, "--log")) {
			o.csv = v;
		} else if (!strcmp(k, "--plot")) {
			o.svg = v;
		} else if (!strcmp(k, "--metrics")) {
			o.metrics = v;
		} else if (!strcmp(k, "--ckpt-dir")) {
			o.ckpt_dir = v;
		} else if (isnum && !strcmp(k, "--epochs") && x >= 1 && x <= 1e9) {
			o.epochs = (long)x;
		} else if (isnum && !strcmp(k, "--steps-per-epoch") && x >= 1 && x <= 1e9) {
			o.steps = (long)x;
		} else if (isnum && !strcmp(k, "--scale") && x > 0 && x <= 1) {
			o.scale = x;
		} else if (isnum && !strcmp(k, "--threads") && x >= 1 && x <= 4096) {
			o.threads = (int)x;
		} else if (isnum && !strcmp(k, "--seed") && x >= 0) {
			o.seed = (unsigned long long)x;
		} else {
			fprintf(stderr, "ftsrun: bad option or value: %s %s\n", k, v);
			return EXIT_USAGE;
		}
	}
	char msg[1024];
	ftsrt_plan *p;
	ftsrt_error err;
	int rc = ftsrt_plan_open(&p, argv[0], NULL, &err);
	if (rc) {
		fprintf(stderr, "ftsrun: %s: %s: %s\n", argv[0], ftsrt_strerror(rc), err.message);
		return open_status(rc);
	}
	FILE *out = stdout;
#ifdef FTSRUN_MPI
	struct rt_nqm_comm comm = {mpi_ctx.rank, mpi_ctx.world, &mpi_ctx, mpi_avg_grads, mpi_gather_params,
				   mpi_avg_metric};
	if (mpi_ctx.world > 1) {
		o.comm = &comm;
		if (mpi_ctx.rank != 0) {        /* rank 0 reports */
			o.csv = o.svg = NULL;
			o.progress = 0;
			out = fopen("/dev/null", "w");
			if (!out) {
				ftsrt_plan_close(p);
				fprintf(stderr, "ftsrun: cannot open /dev/null\n");
				return EXIT_USAGE;
			}
		}
	}
#endif /* FTSRUN_MPI */
	rc = rt_nqm_run(rt_plan_view(p), &o, out, msg, sizeof(msg));
	if (out != stdout)
		fclose(out);
	ftsrt_plan_close(p);
	if (rc) {
		fprintf(stderr, "ftsrun: %s: %s\n", ftsrt_strerror(rc), msg);
		return EXIT_FAILED;
	}
	return EXIT_OK;
}

static const struct command {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *const *usage;
} commands[] = {
	{"inspect", cmd_inspect, usage_inspect},
	{"run", cmd_run, usage_run},
	{"verify", cmd_verify, usage_verify},
	{"bench", cmd_bench, usage_bench},
};

static bool is_help(const char *a)
{
	return strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0;
}

static int run_command(int argc, char **argv);

/* Output that did not reach its destination (a full disk, /dev/full) is a
 * failure, whatever the command decided. */
int main(int argc, char **argv)
{
#ifdef FTSRUN_MPI
	MPI_Init(&argc, &argv);
	MPI_Comm_rank(MPI_COMM_WORLD, &mpi_ctx.rank);
	MPI_Comm_size(MPI_COMM_WORLD, &mpi_ctx.world);
#endif /* FTSRUN_MPI */
	int rc = run_command(argc, argv);
#ifdef FTSRUN_MPI
	if (rc && mpi_ctx.world > 1)    /* the other ranks would wait in a collective for ever */
		MPI_Abort(MPI_COMM_WORLD, rc);
	free(mpi_ctx.counts);
	free(mpi_ctx.displs);
	MPI_Finalize();
#endif /* FTSRUN_MPI */
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "ftsrun: error writing the standard output: %s\n", strerror(errno ? errno : EIO));
		rc = rc ? rc : EXIT_USAGE;
	}
	if (fflush(stderr) != 0 || ferror(stderr))
		rc = rc ? rc : EXIT_USAGE;
	return rc;
}

static int run_command(int argc, char **argv)
{
	if (argc >= 2 && (strcmp(argv[1], "version") == 0 || strcmp(argv[1], "--version") == 0)) {
#ifdef FTSRUN_MPI
		printf("ftsrun (libftsrt %s, MPI: run shards the optimizer state over the ranks)\n", ftsrt_version());
#else
		printf("ftsrun (libftsrt %s)\n", ftsrt_version());
#endif /* FTSRUN_MPI */
		return EXIT_OK;
	}
	/* ftsrun help [COMMAND] */
	bool help_cmd = argc >= 2 && strcmp(argv[1], "help") == 0;
	if (help_cmd && argc == 2)
		return print_usage(stdout);
	for (size_t c = 0; argc >= 2 && c < sizeof(commands) / sizeof(commands[0]); c++) {
		if (strcmp(argv[help_cmd ? 2 : 1], commands[c].name) != 0)
			continue;
		if (help_cmd)
			return print_lines(commands[c].usage, stdout);
		for (int i = 2; i < argc; i++)
			if (is_help(argv[i]))
				return print_lines(commands[c].usage, stdout);
		return commands[c].fn(argc - 2, argv + 2);
	}
	bool help = argc >= 2 && is_help(argv[1]);
	if (argc >= 2 && !help)
		fprintf(stderr, "ftsrun: '%s' is not an ftsrun command\n\n", argv[help_cmd ? 2 : 1]);
	return print_usage(help ? stdout : stderr);
}
