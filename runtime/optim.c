/*
 * optim.c - the optimizer objects of libftsrt: the tensor table, the state arenas, and the step driver that
 * computes each tensor's per-step scalars exactly as torch's Python does
 * and runs the kernels in one OpenMP parallel region per step.  Each
 * kind's defaults and constructor checks are optim_hparams.c's, its name
 * and torch's state keys optim_kinds.c's.
 *
 * Layout: tensor i owns elements [off_i, off_i + numel_i) of the parameter
 * arena, the gradient arena and every per-element state slot arena.  A
 * step over [begin, end) splits that range into one contiguous chunk per
 * thread (chunk edges on 64-byte multiples) and each thread walks the
 * tensors its chunk overlaps; state of a tensor is initialised by the
 * thread that first updates it (first touch).
 */
#include "optim_int.h"
#include "err.h"
#include "mem.h"

#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#ifdef _OPENMP
#include <omp.h>
#endif /* _OPENMP */

#define MAX_NDIM 8

struct rt_tensor {
	size_t off;                     /* first element in the arenas */
	size_t numel;                   /* elements */
	int group;                      /* parameter group */
	int ndim;                       /* dimensions */
	int64_t shape[MAX_NDIM];           /* shape, row-major */
	bool has_state;                 /* a step has run (torch: state is not empty) */
	double step;                    /* torch state "step" */
	double mu_product;              /* NAdam */
	double eta;                     /* ASGD */
	double mu;                      /* ASGD */
	void *row_var;                  /* Adafactor, ndim >= 2 */
	void *col_var;                  /* Adafactor, ndim >= 2 */
	size_t row_bytes, col_bytes;    /* their allocations */
	struct rt_kscal k;              /* this step's scalars */
};

struct ftsrt_optim {
	int kind;                       /* enum ftsrt_optim_kind */
	int dtype;                      /* enum ftsrt_dtype */
	int precision;                  /* enum ftsrt_precision (bf16/fp16 only) */
	int nthreads;                   /* threads of the parallel region */
	int kernels;                    /* enum ftsrt_kernels */
	struct ftsrt_optim_hparams *groups; /* parameter groups */
	int ngroups, capgroups;
	struct rt_tensor *t;            /* parameter tensors */
	int nt, capt;
	size_t numel;                   /* total elements */
	void *slot[RT_MAX_SLOTS];       /* per-element state arenas (NULL: unused), 64-byte aligned */
	void *slot_raw[RT_MAX_SLOTS];   /* their allocations */
	size_t slot_bytes;              /* bytes of each allocation */
	float *master;                  /* PRECISION_MASTER: float32 master weights (numel) */
	size_t master_bytes;
	void *work;                     /* Adafactor's scratch, Muon's */
	size_t work_bytes;
	struct rt_adafactor_job *jobs;  /* Adafactor (fast): a step's tensors, nt */
	float *gw;                      /* master weights, Adafactor and Muon: widened gradients */
	size_t gw_n;                    /* its elements */
	size_t mbatch;                  /* and the elements of a batch, at least (rt_optim_set_mbatch) */
	bool stepped;                   /* a step has run: layout frozen */
	/* the window (rt_optim_set_window): the state arenas and the master
	 * weights hold elements [wb, we) only, a shard of the arena; without
	 * one, [0, numel) */
	bool win;
	size_t wb, we;
	ftsrt_alloc_fn alloc;           /* every allocation goes through it */
	void *ud;
	char err[200];                  /* last error message */
};

/* --- memory: the caller's allocator, for everything ------------------------- */

static void *oalloc(ftsrt_optim *o, size_t n)
{
	return o->alloc(o->ud, NULL, 0, n ? n : 1);
}

static void *ocalloc(ftsrt_optim *o, size_t n)
{
	void *p = oalloc(o, n);
	if (p)
		memset(p, 0, n ? n : 1);
	return p;
}

static void ofree(ftsrt_optim *o, void *p, size_t n)
{
	if (p)
		o->alloc(o->ud, p, n ? n : 1, 0);
}

static void *orealloc(ftsrt_optim *o, void *p, size_t osize, size_t nsize)
{
	return o->alloc(o->ud, p, p ? (osize ? osize : 1) : 0, nsize ? nsize : 1);
}

/* --- object ------------------------------------------------------------- */

/* o's message (rt_fail_buf), returning code */
#define fail(o, code, ...) rt_fail_buf((o)->err, sizeof((o)->err), (code), __VA_ARGS__)

/* Bytes of a parameter (and gradient) element. */
static size_t esize(const ftsrt_optim *o)
{
	return o->dtype == FTSRT_F64 ? sizeof(double) : o->dtype == FTSRT_F32 ? sizeof(float) : 2;
}

static bool lowp(const ftsrt_optim *o)
{
	return o->dtype == FTSRT_BF16 || o->dtype == FTSRT_F16;
}

/* Bytes of a state element: float32 beside master weights, else esize. */
static size_t ssize(const ftsrt_optim *o)
{
	return o->precision == FTSRT_PRECISION_MASTER ? sizeof(float) : esize(o);
}

/* The dtype the kernels step: float32 beside master weights. */
static int kdt(const ftsrt_optim *o)
{
	return o->precision == FTSRT_PRECISION_MASTER ? FTSRT_F32 : o->dtype;
}

/* The window's first element and its end (the whole arena without one). */
static size_t win_b(const ftsrt_optim *o)
{
	return o->win ? o->wb : 0;
}

static size_t win_e(const ftsrt_optim *o)
{
	return o->win ? o->we : o->numel;
}

/* Does tensor t have elements inside the window? */
static bool in_window(const ftsrt_optim *o, const struct rt_tensor *t)
{
	return t->numel && t->off < win_e(o) && t->off + t->numel > win_b(o);
}

static const char *const dtype_names[] = {"float32", "float64", "bfloat16", "float16"};

static const struct ftsrt_optim_options default_options = {
	.struct_size = sizeof(struct ftsrt_optim_options),
	.threads = 1,
	.kernels = FTSRT_KERNELS_FAST,
};

FTSRT_API int ftsrt_optim_new(ftsrt_optim **out, int32_t kind, int32_t dtype,
			      const struct ftsrt_optim_options *opt, ftsrt_error *err)
{
	if (!out)
		return rt_error(err, FTSRT_EINVAL, "ftsrt_optim_new: NULL out");
	*out = NULL;
	struct ftsrt_optim_options op;
	int rc = rt_struct_in(&op, sizeof(op), opt, &default_options, "ftsrt_optim_options", err);
	if (rc)
		return rc;
	if (kind < 0 || kind >= FTSRT_OPTIM_NKINDS)
		return rt_error(err, FTSRT_EINVAL, "no optimizer kind %" PRId32, kind);
	if (dtype < FTSRT_F32 || dtype > FTSRT_F16)
		return rt_error(err, FTSRT_EINVAL, "no dtype %" PRId32, dtype);
	if (op.precision != FTSRT_PRECISION_PARAM && op.precision != FTSRT_PRECISION_MASTER)
		return rt_error(err, FTSRT_EINVAL, "no precision %" PRId32, op.precision);
	if (op.precision == FTSRT_PRECISION_MASTER && dtype != FTSRT_BF16 && dtype != FTSRT_F16)
		return rt_error(err, FTSRT_EINVAL, "master weights are for bfloat16 and float16 "
				"parameters, not %s", dtype_names[dtype]);
	if ((dtype == FTSRT_BF16 || dtype == FTSRT_F16) && !rt_lowp_supported(kind, op.precision))
		return rt_error(err, FTSRT_EINVAL, "%s does not step %s parameters with state in their "
				"dtype (use fp32 master weights)", ftsrt_optim_kind_name(kind), dtype_names[dtype]);
	if (op.threads == 0)            /* zero: the default (FTSRT_INIT'd options) */
		op.threads = default_options.threads;
	if (op.threads < 1 || op.threads > 4096)
		return rt_error(err, FTSRT_EINVAL, "threads %" PRId32 " outside 1..4096", op.threads);
	if (op.kernels != FTSRT_KERNELS_FAST && op.kernels != FTSRT_KERNELS_REF)
		return rt_error(err, FTSRT_EINVAL, "no kernels %" PRId32, op.kernels);
	ftsrt_alloc_fn alloc = op.alloc ? op.alloc : rt_default_alloc;
	ftsrt_optim *o = alloc(op.alloc_ud, NULL, 0, sizeof(*o));
	if (!o)
		return rt_error(err, FTSRT_ENOMEM, "out of memory");
	memset(o, 0, sizeof(*o));
	o->alloc = alloc;
	o->ud = op.alloc_ud;
	o->kind = kind;
	o->dtype = dtype;
	o->precision = op.precision;
	o->nthreads = op.threads;
	o->mbatch = RT_MASTER_BATCH;
	o->kernels = op.kernels;
	*out = o;
	return FTSRT_OK;
}

FTSRT_API void ftsrt_optim_free(ftsrt_optim *o)
{
	if (!o)
		return;
	for (int i = 0; i < o->nt; i++) {
		ofree(o, o->t[i].row_var, o->t[i].row_bytes);
		ofree(o, o->t[i].col_var, o->t[i].col_bytes);
	}
	for (int s = 0; s < RT_MAX_SLOTS; s++)
		ofree(o, o->slot_raw[s], o->slot_bytes);
	ofree(o, o->work, o->work_bytes);
	ofree(o, o->jobs, (size_t)o->nt * sizeof(*o->jobs));
	ofree(o, o->gw, o->gw_n * sizeof(float));
	ofree(o, o->master, o->master_bytes);
	ofree(o, o->t, (size_t)o->capt * sizeof(*o->t));
	ofree(o, o->groups, (size_t)o->capgroups * sizeof(*o->groups));
	o->alloc(o->ud, o, sizeof(*o), 0);
}

const char *rt_optim_errmsg(const ftsrt_optim *o)
{
	return o ? o->err : "no optimizer";
}

FTSRT_API size_t ftsrt_optim_numel(const ftsrt_optim *o)
{
	return o ? o->numel : 0;
}

void rt_optim_set_mbatch(ftsrt_optim *o, size_t n)
{
	o->mbatch = n;
}

int rt_optim_set_threads(ftsrt_optim *o, int nthreads)
{
	if (!o || nthreads < 1 || nthreads > 4096)
		return FTSRT_EINVAL;
	o->nthreads = nthreads;
	return FTSRT_OK;
}

int rt_optim_add_group(ftsrt_optim *o, const struct ftsrt_optim_hparams *hp, int32_t *group)
{
	if (o->stepped)
		return fail(o, FTSRT_EINVAL, "groups must be added before the first step");
	int rc = rt_optim_check_hparams(o->kind, hp, o->err, sizeof(o->err));
	if (rc)
		return rc;
	if (o->ngroups == o->capgroups) {
		int cap = o->capgroups ? 2 * o->capgroups : 4;
		void *g = orealloc(o, o->groups, (size_t)o->capgroups * sizeof(*o->groups),
				   (size_t)cap * sizeof(*o->groups));
		if (!g)
			return fail(o, FTSRT_ENOMEM, "out of memory");
		o->groups = g;
		o->capgroups = cap;
	}
	o->groups[o->ngroups] = *hp;
	if (o->kind == FTSRT_OPTIM_ADAMW)
		o->groups[o->ngroups].decoupled_weight_decay = 1;
	if (group)
		*group = o->ngroups;
	o->ngroups++;
	return FTSRT_OK;
}

FTSRT_API int ftsrt_optim_add_group(ftsrt_optim *o, const struct ftsrt_optim_hparams *hp,
				    int32_t *group, ftsrt_error *err)
{
	if (!o || !hp)
		return rt_error(err, FTSRT_EINVAL, "ftsrt_optim_add_group: NULL argument");
	struct ftsrt_optim_hparams h, def;
	rt_optim_hparams_default(o->kind, &def);
	int rc = rt_struct_in(&h, sizeof(h), hp, &def, "ftsrt_optim_hparams", err);
	if (rc)
		return rc;
	return rt_report(err, rt_optim_add_group(o, &h, group), o->err);
}

static int add_param(ftsrt_optim *o, int32_t group, int32_t ndim, const int64_t *shape,
		     size_t *offset)
{
	if (group < 0 || group >= o->ngroups)
		return fail(o, FTSRT_EINVAL, "no parameter group %d", group);
	if (ndim < 0 || ndim > MAX_NDIM || (ndim > 0 && !shape))
		return fail(o, FTSRT_EINVAL, "bad number of dimensions %d", ndim);
	if (o->stepped)
		return fail(o, FTSRT_EINVAL, "parameters must be added before the first step");
	size_t n = 1;
	for (int d = 0; d < ndim; d++) {
		if (shape[d] < 0 || (shape[d] > 0 && n > SIZE_MAX / 16 / (size_t)shape[d]))
			return fail(o, FTSRT_EINVAL, "bad dimension %" PRId64, shape[d]);
		n *= (size_t)shape[d];
	}
	if (o->kind == FTSRT_OPTIM_MUON && ndim != 2)
		return fail(o, FTSRT_EINVAL, "Muon only supports 2D parameters");
	if (n > SIZE_MAX / 16 - o->numel)
		return fail(o, FTSRT_EINVAL, "the parameters hold too many elements in all");
	if (o->nt == o->capt) {
		int cap = o->capt ? 2 * o->capt : 8;
		void *t = orealloc(o, o->t, (size_t)o->capt * sizeof(*o->t), (size_t)cap * sizeof(*o->t));
		if (!t)
			return fail(o, FTSRT_ENOMEM, "out of memory");
		o->t = t;
		o->capt = cap;
	}
	struct rt_tensor *t = &o->t[o->nt];
	memset(t, 0, sizeof(*t));
	t->off = o->numel;
	t->numel = n;
	t->group = group;
	t->ndim = ndim;
	for (int d = 0; d < ndim; d++)
		t->shape[d] = shape[d];
	t->mu_product = 1;
	t->mu = 1;
	if (offset)
		*offset = t->off;
	o->numel += n;
	o->nt++;
	return FTSRT_OK;
}

FTSRT_API int ftsrt_optim_add_param(ftsrt_optim *o, int32_t group, int32_t ndim,
				    const int64_t *shape, size_t *offset, ftsrt_error *err)
{
	if (!o)
		return rt_error(err, FTSRT_EINVAL, "ftsrt_optim_add_param: no optimizer");
	return rt_report(err, add_param(o, group, ndim, shape, offset), o->err);
}

static int set_lr(ftsrt_optim *o, int32_t group, double lr)
{
	if (group < 0 || group >= o->ngroups)
		return fail(o, FTSRT_EINVAL, "no parameter group %d", group);
	if (!isfinite(lr) || lr < 0)
		return fail(o, FTSRT_EINVAL, "Invalid learning rate: %g", lr);
	o->groups[group].lr = lr;
	return FTSRT_OK;
}

FTSRT_API int ftsrt_optim_set_lr(ftsrt_optim *o, int32_t group, double lr, ftsrt_error *err)
{
	if (!o)
		return rt_error(err, FTSRT_EINVAL, "ftsrt_optim_set_lr: no optimizer");
	return rt_report(err, set_lr(o, group, lr), o->err);
}

/* Does tensor t (in its group) have per-element slot s? */
static bool slot_live(const ftsrt_optim *o, const struct rt_tensor *t, int s)
{
	const struct ftsrt_optim_hparams *h = &o->groups[t->group];
	switch (o->kind) {
	case FTSRT_OPTIM_SGD:
		return h->momentum != 0;
	case FTSRT_OPTIM_ADAM:
	case FTSRT_OPTIM_ADAMW:
		return s < 2 || h->amsgrad;
	case FTSRT_OPTIM_RMSPROP:
		return s == 0 || (s == 1 && h->momentum > 0) || (s == 2 && h->centered);
	case FTSRT_OPTIM_ADAFACTOR:
		return t->ndim < 2;
	default:
		return true;
	}
}

/* Muon runs a tensor of fewer elements than this on one thread, several
 * such tensors side by side (when a step has two or more); a larger one,
 * or a lone one, on the whole team, its products split by rows
 * (kern_muon.c). */
#define MUON_SOLO_MAX ((size_t)1 << 21)

static bool muon_solo(const ftsrt_optim *o, const struct rt_tensor *t, int nthr)
{
	return o->kernels == FTSRT_KERNELS_FAST && nthr > 1 && t->numel < MUON_SOLO_MAX;
}

/* Grow the scratch to need bytes: before any tensor is touched, so that a
 * step that fails for memory changes nothing. */
static int grow_work(ftsrt_optim *o, size_t need)
{
	if (need <= o->work_bytes)
		return FTSRT_OK;
	ofree(o, o->work, o->work_bytes);
	o->work_bytes = 0;
	o->work = oalloc(o, need);
	if (!o->work)
		return fail(o, FTSRT_ENOMEM, "out of memory for %s's scratch", ftsrt_optim_kind_name(o->kind));
	o->work_bytes = need;
	return FTSRT_OK;
}

/*
 * Muon's scratch for nthr threads: the largest team tensor's, or one solo
 * tensor's per thread, whichever is more.  Grown here, at the first step
 * and when the thread count grows; not an allocation per step.
 */
static int muon_work(ftsrt_optim *o, int nthr)
{
	size_t team = 1, solo = 0, nsolo = 0;
	for (int j = 0; j < o->nt; j++) {
		const struct rt_tensor *t = &o->t[j];
		if (!in_window(o, t))
			continue;
		size_t b = rt_muon_scratch_bytes(kdt(o), (size_t)t->shape[0], (size_t)t->shape[1]);
		team = b > team ? b : team;
		if (muon_solo(o, t, nthr)) {
			solo = b > solo ? b : solo;
			nsolo++;
		}
	}
	/* side by side: at most as many slices as threads, or as such tensors */
	size_t width = nsolo < 2 ? 0 : nsolo < (size_t)nthr ? nsolo : (size_t)nthr;
	return grow_work(o, solo * width > team ? solo * width : team);
}

/* Allocate the per-element arenas the groups need (first step). */
static int alloc_state(ftsrt_optim *o)
{
	size_t wn = win_e(o) - win_b(o);
	size_t bytes = (wn * ssize(o) + 63) / 64 * 64;
	if (bytes == 0)
		bytes = 64;
	int n = rt_optim_nslots(o->kind);
	for (int i = 0; i < n; i++) {
		int a = rt_optim_slots(o->kind)[i].arena;
		if (a < 0 || o->slot[a])
			continue;
		bool need = false;
		for (int j = 0; j < o->nt && !need; j++)
			need = in_window(o, &o->t[j]) && slot_live(o, &o->t[j], a);
		if (!need)
			continue;
		o->slot_bytes = bytes + 64;
		o->slot_raw[a] = oalloc(o, o->slot_bytes);
		if (!o->slot_raw[a])
			return fail(o, FTSRT_ENOMEM, "out of memory for optimizer state");
		o->slot[a] = (void *)(((uintptr_t)o->slot_raw[a] + 63) & ~(uintptr_t)63);
	}
	/* a failed first step leaves what it allocated for the retry: each
	 * allocation below is made once */
	if (o->precision == FTSRT_PRECISION_MASTER && !o->master) {
		o->master_bytes = (wn ? wn : 1) * sizeof(float);
		o->master = ocalloc(o, o->master_bytes);
		if (!o->master)
			return fail(o, FTSRT_ENOMEM, "out of memory for the master weights");
	}
	if (o->kind == FTSRT_OPTIM_ADAFACTOR) {
		size_t need = 1;
		for (int j = 0; j < o->nt; j++) {
			struct rt_tensor *t = &o->t[j];
			if (!in_window(o, t))
				continue;
			size_t b = rt_adafactor_work_bytes(kdt(o), 0, t->ndim, t->shape, t->numel);
			need = b > need ? b : need;
			if (t->ndim >= 2) {
				size_t c = (size_t)t->shape[t->ndim - 1], r = (size_t)t->shape[t->ndim - 2];
				size_t nr = c ? t->numel / c : 0, nc = r ? t->numel / r : 0;
				t->row_bytes = (nr ? nr : 1) * ssize(o);
				t->col_bytes = (nc ? nc : 1) * ssize(o);
				if (!t->row_var)
					t->row_var = ocalloc(o, t->row_bytes);
				if (!t->col_var)
					t->col_var = ocalloc(o, t->col_bytes);
				if (!t->row_var || !t->col_var)
					return fail(o, FTSRT_ENOMEM, "out of memory for optimizer state");
			}
		}
		if (o->kernels == FTSRT_KERNELS_FAST && kdt(o) != FTSRT_BF16 && kdt(o) != FTSRT_F16) {
			/* the scratch is grown by the step (adafactor_work) */
			if (!o->jobs)
				o->jobs = oalloc(o, (size_t)o->nt * sizeof(*o->jobs));
			if (!o->jobs)
				return fail(o, FTSRT_ENOMEM, "out of memory for optimizer state");
		} else {
			int rc = grow_work(o, need);
			if (rc)
				return rc;
		}
	}
	if (o->kind == FTSRT_OPTIM_MUON)
		return muon_work(o, o->nthreads);
	return FTSRT_OK;
}

/*
 * torch keeps step, mu_product, eta and mu in tensors of
 * torch.get_default_dtype()'s scalar type: float32 for a float32 job; the
 * golden float64 runs used float64 ones.
 */
static double sround(const ftsrt_optim *o, double x)
{
	(void)o;
	return (double)(float)x;
}

/* Compute tensor t's scalars for this step (torch's Python, in double). */
static void prepare(ftsrt_optim *o, struct rt_tensor *t)
{
	const struct ftsrt_optim_hparams *h = &o->groups[t->group];
	struct rt_kscal *k = &t->k;
	double *c = k->c;
	unsigned f = 0;
	memset(k, 0, sizeof(*k));
	if (h->maximize)
		f |= RT_K_MAXIMIZE;
	if (h->weight_decay != 0)
		f |= RT_K_WD;
	if (h->decoupled_weight_decay)
		f |= RT_K_DECOUPLED;
	if (!t->has_state && o->kind == FTSRT_OPTIM_ASGD) {
		t->eta = sround(o, h->lr);
		t->mu = 1;
	}
	t->step = sround(o, t->step + 1);
	double step = t->step, lr = h->lr, wd = h->weight_decay;
	double b1 = h->beta1, b2 = h->beta2;
	switch (o->kind) {
	case FTSRT_OPTIM_SGD:
		c[0] = lr;
		c[1] = wd;
		c[2] = h->momentum;
		c[3] = 1 - h->dampening;
		if (h->momentum != 0)
			f |= RT_K_MOMENTUM;
		if (!t->has_state && h->momentum != 0)
			f |= RT_K_FIRST;
		if (h->nesterov)
			f |= RT_K_NESTEROV;
		f &= ~(unsigned)RT_K_DECOUPLED;
		break;
	case FTSRT_OPTIM_ADAM:
	case FTSRT_OPTIM_ADAMW: {
		double bc1 = 1 - pow(b1, step), bc2 = 1 - pow(b2, step);
		double step_size = lr / bc1;
		c[0] = wd;
		c[1] = 1 - lr * wd;
		c[2] = 1 - b1;
		c[3] = b2;
		c[4] = 1 - b2;
		c[5] = sqrt(bc2);
		c[6] = h->eps;
		c[7] = -step_size;
		if (h->amsgrad)
			f |= RT_K_AMSGRAD;
		if (wd == 0)
			f &= ~(unsigned)RT_K_DECOUPLED;
		break;
	}
	case FTSRT_OPTIM_ADAGRAD:
		c[0] = wd;
		c[1] = -(lr / (1 + (step - 1) * h->lr_decay));
		c[2] = h->eps;
		break;
	case FTSRT_OPTIM_ADADELTA:
		c[0] = wd;
		c[1] = h->rho;
		c[2] = 1 - h->rho;
		c[3] = h->eps;
		c[4] = -lr;
		break;
	case FTSRT_OPTIM_ADAMAX:
		c[0] = wd;
		c[1] = 1 - b1;
		c[2] = b2;
		c[3] = h->eps;
		c[4] = -(lr / (1 - pow(b1, step)));
		break;
	case FTSRT_OPTIM_NADAM: {
		double bc2 = 1 - pow(b2, step);
		double mu = b1 * (1.0 - 0.5 * pow(0.96, step * h->momentum_decay));
		double mu_next = b1 * (1.0 - 0.5 * pow(0.96, (step + 1) * h->momentum_decay));
		/* mu_product *= mu: a scalar tensor times a Python float */
		t->mu_product = (double)((float)t->mu_product * (float)mu);
		double mp = t->mu_product, mp_next = mp * mu_next;
		c[0] = wd;
		c[1] = 1 - lr * wd;
		c[2] = 1 - b1;
		c[3] = b2;
		c[4] = 1 - b2;
		c[5] = bc2;
		c[6] = h->eps;
		c[7] = -lr * (1.0 - mu) / (1.0 - mp);
		c[8] = (-lr * mu_next) / (1.0 - mp_next);
		if (wd == 0)
			f &= ~(unsigned)RT_K_DECOUPLED;
		break;
	}
	case FTSRT_OPTIM_RADAM: {
		double bc1 = 1 - pow(b1, step), bc2 = 1 - pow(b2, step);
		double rho_inf = 2 / (1 - b2) - 1;
		double rho_t = rho_inf - 2 * step * pow(b2, step) / bc2;
		c[0] = wd;
		c[1] = 1 - lr * wd;
		c[2] = 1 - b1;
		c[3] = b2;
		c[4] = 1 - b2;
		c[5] = bc1;
		c[6] = lr;
		c[7] = sqrt(bc2);
		c[8] = h->eps;
		if (rho_t > 5.0) {
			f |= RT_K_RECT;
			c[9] = sqrt((rho_t - 4) * (rho_t - 2) * rho_inf /
				    ((rho_inf - 4) * (rho_inf - 2) * rho_t));
		}
		if (wd == 0)
			f &= ~(unsigned)RT_K_DECOUPLED;
		break;
	}
	case FTSRT_OPTIM_RMSPROP:
		c[0] = wd;
		c[1] = h->alpha;
		c[2] = 1 - h->alpha;
		c[3] = h->eps;
		c[4] = h->momentum;
		c[5] = -lr;
		if (h->centered)
			f |= RT_K_CENTERED;
		if (h->momentum > 0)
			f |= RT_K_MOMENTUM;
		break;
	case FTSRT_OPTIM_RPROP:
		c[0] = h->etaminus;
		c[1] = h->etaplus;
		c[2] = h->step_size_min;
		c[3] = h->step_size_max;
		f &= ~(unsigned)(RT_K_WD | RT_K_DECOUPLED);
		break;
	case FTSRT_OPTIM_ASGD:
		c[0] = wd;
		c[1] = 1 - h->lambd * t->eta;
		c[2] = -t->eta;
		c[3] = t->mu;
		if (t->mu == 1)
			f |= RT_K_MU_ONE;
		break;
	default:
		break;
	}
	if (o->kind != FTSRT_OPTIM_ADAM && o->kind != FTSRT_OPTIM_ADAMW &&
	    o->kind != FTSRT_OPTIM_NADAM && o->kind != FTSRT_OPTIM_RADAM)
		f &= ~(unsigned)RT_K_DECOUPLED;
	k->flags = f;
}

/* After the kernels: scalars torch updates at the end of a step. */
static void finish(ftsrt_optim *o, struct rt_tensor *t)
{
	const struct ftsrt_optim_hparams *h = &o->groups[t->group];
	if (o->kind == FTSRT_OPTIM_ASGD) {
		double step = t->step, lr = h->lr;
		t->eta = sround(o, lr / pow(1 + h->lambd * lr * step, h->alpha));
		double den = step - h->t0 > 1 ? step - h->t0 : 1;
		t->mu = sround(o, 1 / den);
	}
	t->has_state = true;
}

/* Fill tensor t's live state slots over [b, e) with their initial values. */
static void init_state(const ftsrt_optim *o, const struct rt_tensor *t, size_t b, size_t e)
{
	const struct ftsrt_optim_hparams *h = &o->groups[t->group];
	for (int s = 0; s < RT_MAX_SLOTS; s++) {
		if (!o->slot[s] || !slot_live(o, t, s))
			continue;
		double v = 0;
		size_t wb = win_b(o), lb = b - wb, le = e - wb;
		if (o->kind == FTSRT_OPTIM_ADAGRAD)
			v = h->initial_accumulator_value;
		else if (o->kind == FTSRT_OPTIM_RPROP && s == 1)
			v = h->lr;
		if (o->dtype == FTSRT_F64) {
			double *x = o->slot[s];
			for (size_t i = lb; i < le; i++)
				x[i] = v;
		} else if (lowp(o) && o->precision == FTSRT_PRECISION_PARAM) {
			rt_lowp_fill(o->dtype, o->slot[s], lb, le, v);
		} else {
			float *x = o->slot[s], fv = (float)v;
			for (size_t i = lb; i < le; i++)
				x[i] = fv;
		}
	}
}

/* Run the elementwise kernel over [begin, end) on the tensors in [t0, t1). */
static void run_elementwise(ftsrt_optim *o, void *params, const void *grads, size_t begin,
			    size_t end, int t0, int t1)
{
	const rt_kern_fn fn = (o->kernels == FTSRT_KERNELS_REF ? rt_kern_ref : rt_kern_fast)
				      [o->kind][o->dtype == FTSRT_F64];
	const bool lp = lowp(o), master = o->precision == FTSRT_PRECISION_MASTER;
	/* the kernels index every arena alike: the parameters and gradients are
	 * passed from the window's first element, as the state arenas hold them */
	const size_t wb = win_b(o);
	params = (char *)params + wb * esize(o);
	grads = (const char *)grads + wb * esize(o);
	const struct rt_lowp l = {o->kind, o->dtype, master, fn, params};
	const size_t align = 64 / (lp ? 2 : esize(o));   /* chunk edges: 64-byte multiples */
	const int nthr_req = o->nthreads;
	(void)nthr_req;
#pragma omp parallel num_threads(nthr_req)
	{
		int tid = 0, nthr = 1;
#ifdef _OPENMP
		tid = omp_get_thread_num();
		nthr = omp_get_num_threads();
#endif /* _OPENMP */
		size_t len = end - begin;
		size_t cb = begin + (size_t)((double)len * tid / nthr);
		size_t ce = begin + (size_t)((double)len * (tid + 1) / nthr);
		if (tid > 0)
			cb = cb / align * align;
		if (tid + 1 < nthr)
			ce = ce / align * align;
		else
			ce = end;
		if (cb < begin)
			cb = begin;
		if (ce > end)
			ce = end;
		for (int i = t0; i < t1 && cb < ce; i++) {
			const struct rt_tensor *t = &o->t[i];
			size_t tb = t->off > cb ? t->off : cb;
			size_t te = t->off + t->numel < ce ? t->off + t->numel : ce;
			if (tb >= te)
				continue;
			if (!t->has_state) {
				init_state(o, t, tb, te);
				if (master)             /* the master starts as the parameters */
					rt_lowp_widen(o->dtype, o->master, params, tb - wb, te - wb);
			}
			struct rt_kargs a = {master ? (void *)o->master : params, grads,
					     {NULL, NULL, NULL, NULL}, &t->k};
			for (int s = 0; s < RT_MAX_SLOTS; s++)
				a.s[s] = slot_live(o, t, s) ? o->slot[s] : NULL;
			if (lp)
				rt_lowp_step(&l, &a, tb - wb, te - wb);
			else
				fn(&a, tb - wb, te - wb);
		}
	}
}

/*
 * Where the tensorwise optimizers find a tensor's parameters and gradients:
 * element off of the model is p + (off - pbase) * pes, g + (off - gbase) *
 * ges.  Without master weights these are the caller's arenas; with them,
 * the float32 masters and a float32 copy of a batch's gradients.
 */
struct tw_io {
	char *p;
	const char *g;
	size_t pbase, gbase, pes, ges;
};

static void *tw_p(const struct tw_io *io, const struct rt_tensor *t)
{
	return io->p + (t->off - io->pbase) * io->pes;
}

static const void *tw_g(const struct tw_io *io, const struct rt_tensor *t)
{
	return io->g + (t->off - io->gbase) * io->ges;
}

/* One Muon step of tensor t (p, g: its elements) in scratch work, on a team
 * of threads. */
static void muon_tensor(const ftsrt_optim *o, const struct rt_tensor *t, void *p, const void *g,
			void *work, int threads)
{
	const struct ftsrt_optim_hparams *h = &o->groups[t->group];
	struct rt_muon m = {
		.rows = t->shape[0], .cols = t->shape[1], .lr = h->lr,
		.wd = h->weight_decay, .momentum = h->momentum, .a = h->ns_a,
		.b = h->ns_b, .c = h->ns_c, .eps = h->eps, .ns_steps = h->ns_steps,
		.nesterov = h->nesterov, .adjust = h->adjust_lr_fn, .bf16 = h->muon_bf16,
		.use_addmm = h->muon_use_addmm, .threads = threads,
		.buf = (char *)o->slot[0] + (t->off - win_b(o)) * ssize(o),
		.scratch = work,
	};
	rt_muon_step(kdt(o), o->kernels == FTSRT_KERNELS_FAST, p, g, &m);
}

/*
 * Muon over tensors [t0, t1): the small ones (muon_solo) side by side, one
 * thread and one slice of the scratch each, then the others one by one on
 * the whole team.  Tensors are independent, so the order changes nothing.
 */
static int step_muon(ftsrt_optim *o, const struct tw_io *io, int t0, int t1, int side_hint)
{
	const int nthr = o->nthreads;
	int rc = muon_work(o, nthr);
	if (rc)
		return rc;
	size_t slice = 0;
	int nsolo = 0;
	for (int i = t0; i < t1; i++)
		if (muon_solo(o, &o->t[i], nthr)) {
			size_t b = rt_muon_scratch_bytes(kdt(o), (size_t)o->t[i].shape[0],
							 (size_t)o->t[i].shape[1]);
			slice = b > slice ? b : slice;
			nsolo++;
		}
	/* side_hint >= 0: the caller's batch is part of a step whose small
	 * tensors run side by side (1) or not (0), and one alone in this batch
	 * must run as it would there: on one thread, for the same bits */
	const bool side = side_hint >= 0 ? side_hint && nsolo >= 1 : nsolo >= 2;
	const int width = !side ? 1 : nsolo < nthr ? nsolo : nthr;
	(void)width;
#pragma omp parallel for num_threads(width) schedule(dynamic, 1) if (side)
	for (int i = t0; i < t1; i++) {
		struct rt_tensor *t = &o->t[i];
		if (!side || !muon_solo(o, t, nthr))
			continue;
		int tid = 0;
#ifdef _OPENMP
		tid = omp_get_thread_num();
#endif /* _OPENMP */
		if (!t->has_state)
			init_state(o, t, t->off, t->off + t->numel);
		muon_tensor(o, t, tw_p(io, t), tw_g(io, t), (char *)o->work + (size_t)tid * slice, 1);
		t->has_state = true;
	}
	for (int i = t0; i < t1; i++) {
		struct rt_tensor *t = &o->t[i];
		if (side && muon_solo(o, t, nthr))
			continue;
		if (!t->has_state)
			init_state(o, t, t->off, t->off + t->numel);
		muon_tensor(o, t, tw_p(io, t), tw_g(io, t), o->work, nthr);
		t->has_state = true;
	}
	return FTSRT_OK;
}

/* Adafactor's arguments for tensor t (its step already counted). */
static struct rt_adafactor adafactor_args(const ftsrt_optim *o, const struct rt_tensor *t)
{
	const struct ftsrt_optim_hparams *h = &o->groups[t->group];
	return (struct rt_adafactor){
		.ndim = t->ndim, .shape = t->shape, .numel = t->numel, .step = t->step,
		.lr = h->lr, .wd = h->weight_decay, .beta2_decay = h->beta2_decay,
		/* None: torch.finfo(param.dtype).eps (bf16 2^-7, fp16 2^-10) */
		.eps1 = !isnan(h->eps1)		 ? h->eps1
			: kdt(o) == FTSRT_F64	 ? DBL_EPSILON
			: kdt(o) == FTSRT_BF16 ? 0x1p-7
			: kdt(o) == FTSRT_F16	 ? 0x1p-10
						 : FLT_EPSILON,
		.eps2 = h->eps, .d = h->d, .maximize = h->maximize,
		.variance = o->slot[0] ? (char *)o->slot[0] + (t->off - win_b(o)) * ssize(o) : NULL,
		.row_var = t->row_var, .col_var = t->col_var, .work = o->work,
	};
}

/*
 * Adafactor over tensors [t0, t1): the reference one tensor at a time;
 * the fast kernels all of them in one parallel region
 * (rt_adafactor_fast_many), in a scratch grown here at the first step and
 * when the thread count grows, not an allocation per step.
 */
/* Does Adafactor step with the fast kernels (bf16/fp16 with state in their
 * dtype: the reference's rounding, one tensor at a time)? */
static bool adafactor_fast(const ftsrt_optim *o)
{
	return o->kind == FTSRT_OPTIM_ADAFACTOR && o->kernels == FTSRT_KERNELS_FAST &&
	       kdt(o) != FTSRT_BF16 && kdt(o) != FTSRT_F16;
}

/* The fast scratch tensors [t0, t1) need (o->jobs filled with their shapes). */
static size_t adafactor_need(ftsrt_optim *o, int t0, int t1)
{
	for (int i = t0; i < t1; i++) {
		const struct rt_tensor *t = &o->t[i];
		o->jobs[i - t0] = (struct rt_adafactor_job){
			.a = {.ndim = t->ndim, .shape = t->shape, .numel = t->numel},
		};
	}
	return rt_adafactor_many_bytes(kdt(o), o->jobs, t1 - t0, o->nthreads);
}


static int step_adafactor(ftsrt_optim *o, const struct tw_io *io, int t0, int t1)
{
	const bool fast = adafactor_fast(o);
	if (fast) {
		int rc = grow_work(o, adafactor_need(o, t0, t1));
		if (rc)
			return rc;
	}
	for (int i = t0; i < t1; i++) {
		struct rt_tensor *t = &o->t[i];
		if (!t->has_state)
			init_state(o, t, t->off, t->off + t->numel);
		t->step = sround(o, t->step + 1);
		if (fast) {
			o->jobs[i - t0] = (struct rt_adafactor_job){tw_p(io, t), tw_g(io, t), adafactor_args(o, t)};
		} else {
			struct rt_adafactor a = adafactor_args(o, t);
			rt_adafactor_step(kdt(o), tw_p(io, t), tw_g(io, t), &a);
		}
		t->has_state = true;
	}
	if (fast)
		rt_adafactor_fast_many(kdt(o), o->jobs, t1 - t0, o->nthreads, o->work);
	return FTSRT_OK;
}

static int step_tw(ftsrt_optim *o, const struct tw_io *io, int t0, int t1, int side_hint)
{
	if (o->kind == FTSRT_OPTIM_MUON)
		return step_muon(o, io, t0, t1, side_hint);
	return step_adafactor(o, io, t0, t1);
}

/* The end of the master-weights batch from tensor b0 (before t1), and its
 * elements in *n: tensors while they fit in o->mbatch, at least one. */
static int next_batch(const ftsrt_optim *o, int b0, int t1, size_t *n)
{
	int b1 = b0 + 1;
	*n = o->t[b0].numel;
	for (; b1 < t1 && *n + o->t[b1].numel <= o->mbatch; b1++)
		*n += o->t[b1].numel;
	return b1;
}

/*
 * Convert n elements between the bf16/fp16 array x and the float32 array f
 * (widen: x to f; else f to x, rounded), on the optimizer's threads.
 */
static void lowp_copy(const ftsrt_optim *o, float *f, const void *x, size_t n, bool widen)
{
	const long long nn = (long long)n, chunk = 1 << 16;
	const int nthr = o->nthreads;
	(void)nthr;
#pragma omp parallel for num_threads(nthr) schedule(static) if (nn > chunk && nthr > 1)
	for (long long c = 0; c < nn; c += chunk) {
		size_t cb = (size_t)c, ce = c + chunk < nn ? cb + (size_t)chunk : n;
		if (widen)
			rt_lowp_widen(o->dtype, f, x, cb, ce);
		else
			rt_lowp_narrow(o->dtype, (void *)x, f, cb, ce);
	}
}

/*
 * Adafactor and Muon over tensors [t0, t1).  Beside master weights
 * (FTSRT_PRECISION_MASTER) the float32 kernels step the masters: the
 * tensors go in batches of up to o->mbatch elements (or one larger
 * tensor), whose gradients are widened into the float32 scratch gw, and
 * whose parameters are then rounded from their masters.  A tensor's master
 * starts as its parameters at its first step, as the elementwise
 * optimizers' do.
 */
static int step_tensorwise(ftsrt_optim *o, void *params, const void *grads, int t0, int t1)
{
	if (o->precision != FTSRT_PRECISION_MASTER) {
		const struct tw_io io = {params, grads, 0, 0, esize(o), esize(o)};
		return step_tw(o, &io, t0, t1, -1);
	}
	/* every allocation first, so that a step that fails for memory has
	 * changed nothing; and the small Muon tensors side by side, as one
	 * call over [t0, t1) would run them */
	size_t gw = 1, work = 0;
	int nsolo = 0;
	for (int b0 = t0, b1; b0 < t1; b0 = b1) {
		size_t n;
		b1 = next_batch(o, b0, t1, &n);
		gw = n > gw ? n : gw;
		if (adafactor_fast(o)) {
			size_t w = adafactor_need(o, b0, b1);
			work = w > work ? w : work;
		}
	}
	for (int i = t0; i < t1; i++)
		nsolo += o->kind == FTSRT_OPTIM_MUON && muon_solo(o, &o->t[i], o->nthreads);
	if (gw > o->gw_n) {
		ofree(o, o->gw, o->gw_n * sizeof(float));
		o->gw_n = 0;
		o->gw = oalloc(o, gw * sizeof(float));
		if (!o->gw)
			return fail(o, FTSRT_ENOMEM, "out of memory for the widened gradients");
		o->gw_n = gw;
	}
	int rc = o->kind == FTSRT_OPTIM_MUON ? muon_work(o, o->nthreads) : grow_work(o, work);
	if (rc)
		return rc;
	const size_t wb = win_b(o), es = esize(o);
	for (int b0 = t0, b1; b0 < t1; b0 = b1) {
		size_t n;
		b1 = next_batch(o, b0, t1, &n);
		const size_t lo = o->t[b0].off;
		for (int i = b0; i < b1; i++)
			if (!o->t[i].has_state)
				lowp_copy(o, o->master + (o->t[i].off - wb),
					  (const char *)params + o->t[i].off * es, o->t[i].numel, true);
		lowp_copy(o, o->gw, (const char *)grads + lo * es, n, true);
		const struct tw_io io = {(char *)o->master, (const char *)o->gw, wb, lo, sizeof(float),
					 sizeof(float)};
		rc = step_tw(o, &io, b0, b1, nsolo >= 2);
		if (rc)
			return rc;
		lowp_copy(o, o->master + (lo - wb), (char *)params + lo * es, n, false);
	}
	return FTSRT_OK;
}

/* Does tensor t take part in a step over [begin, end) of an arena of numel? */
static bool intersects(const struct rt_tensor *t, size_t begin, size_t end, size_t numel)
{
	if (t->numel == 0)
		return (t->off >= begin && t->off < end) || (t->off == end && end == numel);
	return t->off < end && t->off + t->numel > begin;
}

static int step_range(ftsrt_optim *o, void *params, const void *grads, size_t numel, size_t begin,
		      size_t end)
{
	if (!params || !grads)
		return fail(o, FTSRT_EINVAL, "NULL parameter or gradient arena");
	if (numel != o->numel)
		return fail(o, FTSRT_EINVAL, "arena has %zu elements, the optimizer %zu", numel, o->numel);
	if (begin > end || end > numel)
		return fail(o, FTSRT_EINVAL, "bad element range [%zu, %zu)", begin, end);
	if (o->ngroups == 0)
		return fail(o, FTSRT_EINVAL, "no parameter group");
	if (o->win && end > begin && (begin < o->wb || end > o->we))
		return fail(o, FTSRT_EINVAL, "element range [%zu, %zu) outside the optimizer's shard "
			    "[%zu, %zu)", begin, end, o->wb, o->we);
	/* tensors intersecting [begin, end): a contiguous index range */
	int t0 = 0, t1;
	while (t0 < o->nt && !intersects(&o->t[t0], begin, end, numel))
		t0++;
	t1 = t0;
	while (t1 < o->nt && intersects(&o->t[t1], begin, end, numel))
		t1++;
	bool tensorwise = o->kind == FTSRT_OPTIM_ADAFACTOR || o->kind == FTSRT_OPTIM_MUON;
	if (tensorwise && ((t0 < o->nt && o->t[t0].off < begin) ||
			   (t1 > t0 && o->t[t1 - 1].off + o->t[t1 - 1].numel > end)))
		return fail(o, FTSRT_EINVAL, "%s steps whole tensors: range [%zu, %zu) splits one",
			    ftsrt_optim_kind_name(o->kind), begin, end);
	/* every refusal above leaves the optimizer as it was: no state yet */
	if (!o->stepped) {
		int rc = alloc_state(o);
		if (rc)
			return rc;
		o->stepped = true;
	}
	if (tensorwise)
		return step_tensorwise(o, params, grads, t0, t1);
	for (int i = t0; i < t1; i++)
		prepare(o, &o->t[i]);
	if (end > begin)
		run_elementwise(o, params, grads, begin, end, t0, t1);
	for (int i = t0; i < t1; i++)
		finish(o, &o->t[i]);
	return FTSRT_OK;
}

FTSRT_API int ftsrt_optim_step_range(ftsrt_optim *o, void *params, const void *grads,
				     size_t numel, size_t begin, size_t end, ftsrt_error *err)
{
	if (!o)
		return rt_error(err, FTSRT_EINVAL, "ftsrt_optim_step_range: no optimizer");
	return rt_report(err, step_range(o, params, grads, numel, begin, end), o->err);
}

FTSRT_API int ftsrt_optim_step(ftsrt_optim *o, void *params, const void *grads, size_t numel,
			       ftsrt_error *err)
{
	if (!o)
		return rt_error(err, FTSRT_EINVAL, "ftsrt_optim_step: no optimizer");
	return rt_report(err, step_range(o, params, grads, numel, 0, o->numel), o->err);
}

FTSRT_API int ftsrt_optim_state(const ftsrt_optim *o, int32_t param, const char *name, void **data,
				size_t *n, double *value, ftsrt_error *err)
{
	if (data)
		*data = NULL;
	if (!o || !name)
		return rt_error(err, FTSRT_EINVAL, "ftsrt_optim_state: NULL argument");
	if (param < 0 || param >= o->nt)
		return rt_error(err, FTSRT_EINVAL, "no parameter %" PRId32 " (the optimizer has %d)",
				param, o->nt);
	const struct rt_tensor *t = &o->t[param];
	if (!t->has_state)
		return rt_error(err, FTSRT_EINVAL, "parameter %" PRId32 " has no state yet (state is "
				"created by the first step)", param);
	const size_t es = ssize(o);
	/* a windowed optimizer keeps the tensor's elements inside its window */
	size_t ib = t->off > win_b(o) ? t->off : win_b(o);
	size_t ie = t->off + t->numel < win_e(o) ? t->off + t->numel : win_e(o);
	if (ie < ib)
		ie = ib;
	if (o->master && strcmp(name, RT_MASTER_SLOT) == 0) {
		if (data)
			*data = o->master + (ib - win_b(o));
		if (n)
			*n = ie - ib;
		return FTSRT_OK;
	}
	for (int i = 0; i < rt_optim_nslots(o->kind); i++) {
		const struct rt_slot_desc *d = &rt_optim_slots(o->kind)[i];
		if (strcmp(d->name, name) != 0)
			continue;
		if (d->shape == RT_SLOT_SCALAR) {
			double v = t->step;
			if (strcmp(name, "mu_product") == 0)
				v = t->mu_product;
			else if (strcmp(name, "eta") == 0)
				v = t->eta;
			else if (strcmp(name, "mu") == 0)
				v = t->mu;
			if (value)
				*value = v;
			if (n)
				*n = 1;
			return FTSRT_OK;
		}
		if (d->shape == RT_SLOT_FACTORED) {
			if (t->ndim < 2)
				return rt_error(err, FTSRT_EINVAL, "parameter %" PRId32 " has no %s (it is "
						"not factored)", param, name);
			size_t c = (size_t)t->shape[t->ndim - 1], r = (size_t)t->shape[t->ndim - 2];
			bool row = strcmp(name, "row_var") == 0;
			if (data)
				*data = row ? t->row_var : t->col_var;
			if (n)
				*n = row ? (c ? t->numel / c : 0) : (r ? t->numel / r : 0);
			return FTSRT_OK;
		}
		if (!o->slot[d->arena] || !slot_live(o, t, d->arena))
			return rt_error(err, FTSRT_EINVAL, "parameter %" PRId32 " has no %s (not kept "
					"with these hyper-parameters)", param, name);
		if (data)
			*data = (char *)o->slot[d->arena] + (ib - win_b(o)) * es;
		if (n)
			*n = ie - ib;
		return FTSRT_OK;
	}
	return rt_error(err, FTSRT_EINVAL, "%s keeps no state slot '%s'", ftsrt_optim_kind_name(o->kind), name);
}

/* --- state import (the engine: optimizer rebuilds and checkpoint restores) */

int rt_optim_alloc_state(ftsrt_optim *o)
{
	if (!o)
		return FTSRT_EINVAL;
	if (o->stepped)
		return FTSRT_OK;
	if (o->ngroups == 0)
		return fail(o, FTSRT_EINVAL, "no parameter group");
	int rc = alloc_state(o);
	if (rc)
		return rc;
	o->stepped = true;
	return FTSRT_OK;
}

int rt_optim_set_scalars(ftsrt_optim *o, int param, const double v[4])
{
	if (!o || !v || param < 0 || param >= o->nt)
		return FTSRT_EINVAL;
	if (!o->stepped)
		return fail(o, FTSRT_EINVAL, "state arenas are not allocated");
	struct rt_tensor *t = &o->t[param];
	t->step = v[0];
	t->mu_product = v[1];
	t->eta = v[2];
	t->mu = v[3];
	t->has_state = true;
	return FTSRT_OK;
}

int rt_optim_clear_state(ftsrt_optim *o, int param)
{
	if (!o || param < 0 || param >= o->nt)
		return FTSRT_EINVAL;
	struct rt_tensor *t = &o->t[param];
	t->has_state = false;
	t->step = 0;
	t->mu_product = 1;
	t->eta = 0;
	t->mu = 1;
	return FTSRT_OK;
}

bool rt_optim_has_state(const ftsrt_optim *o, int param)
{
	return o && param >= 0 && param < o->nt && o->t[param].has_state;
}

int rt_optim_get_scalars(const ftsrt_optim *o, int param, double v[4])
{
	if (!o || !v || param < 0 || param >= o->nt)
		return FTSRT_EINVAL;
	const struct rt_tensor *t = &o->t[param];
	v[0] = t->step;
	v[1] = t->mu_product;
	v[2] = t->eta;
	v[3] = t->mu;
	return FTSRT_OK;
}

int rt_optim_set_window(ftsrt_optim *o, size_t begin, size_t end)
{
	if (!o)
		return FTSRT_EINVAL;
	if (o->stepped)
		return fail(o, FTSRT_EINVAL, "the window is set before the state is allocated");
	if (begin > end || end > o->numel)
		return fail(o, FTSRT_EINVAL, "window [%zu, %zu) outside the arena of %zu elements", begin,
			    end, o->numel);
	o->win = true;
	o->wb = begin;
	o->we = end;
	return FTSRT_OK;
}

size_t rt_optim_state_bytes(const ftsrt_optim *o)
{
	if (!o || !o->stepped)
		return 0;
	size_t n = 0;
	for (int s = 0; s < RT_MAX_SLOTS; s++)
		if (o->slot_raw[s])
			n += o->slot_bytes;
	if (o->master)
		n += o->master_bytes;
	for (int i = 0; i < o->nt; i++)
		n += (o->t[i].row_var ? o->t[i].row_bytes : 0) + (o->t[i].col_var ? o->t[i].col_bytes : 0);
	return n;
}
