/*
 * quadratic.c - `ftsrun run`: a plan executed by the engine (run.c) on the
 * noisy quadratic model (see quadratic.h), with a per-epoch report, a CSV
 * log, an SVG plot of every group's lr and an optional replayed metric.
 */
#include "quadratic.h"

#include "nqm_plot.h"

#include "ckpt.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ftsrt.h"
#include "run_int.h"

/* The problem's elements: parameters, curvatures, starting distance. */
struct nqm {
	float *p;                       /* the run's parameter arena */
	float *h;                       /* curvature of each element */
	double amp;                     /* starting distance A of every element */
};

void rt_nqm_defaults(struct rt_nqm_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->steps = 64;
	o->scale = 1.0;
	o->noise = 0.5;
	o->seed = 42;
	o->threads = 1;
}

static uint64_t splitmix(uint64_t *s)
{
	uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

static double unif(uint64_t *s)
{
	return (double)(splitmix(s) >> 11) * 0x1.0p-53;
}

/* an approximately standard normal deviate (Irwin-Hall of 4) */
static double gauss(uint64_t *s)
{
	uint64_t z = splitmix(s);
	double a = (double)(z & 0xffff) + (double)((z >> 16) & 0xffff) + (double)((z >> 32) & 0xffff) +
		   (double)(z >> 48);
	return (a / 65536.0 - 2.0) * 1.7320508075688772;
}

static int read_metrics(const char *path, double **out, long *n, char *err, size_t errlen)
{
	/* a regular file only (a FIFO must not block the open) */
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		if (fd >= 0)
			snprintf(err, errlen, "'%s' is not a regular file", path);
		else
			snprintf(err, errlen, "cannot open '%s': %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return FTSRT_EIO;
	}
	(void)fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
	FILE *f = fdopen(fd, "r");
	if (!f) {
		close(fd);
		snprintf(err, errlen, "cannot open '%s': %s", path, strerror(errno));
		return FTSRT_EIO;
	}
	char *line = NULL;
	size_t linecap = 0;
	long cap = 0, k = 0, lineno = 0;
	double *v = NULL;
	/* a line of any length is one value */
	while (getline(&line, &linecap, f) >= 0) {
		lineno++;
		char *s = line, *end;
		while (*s == ' ' || *s == '\t')
			s++;
		if (*s == '\n' || *s == '\0' || *s == '#')
			continue;
		double x = strtod(s, &end);
		while (*end == ' ' || *end == '\t' || *end == '\r' || *end == '\n')
			end++;
		if (end == s || *end) {
			snprintf(err, errlen, "%s:%ld: not a number", path, lineno);
			free(v);
			free(line);
			fclose(f);
			return FTSRT_EINVAL;
		}
		if (k == cap) {
			cap = cap ? 2 * cap : 64;
			double *nv = realloc(v, (size_t)cap * sizeof(double));
			if (!nv) {
				free(v);
				free(line);
				fclose(f);
				return FTSRT_ENOMEM;
			}
			v = nv;
		}
		v[k++] = x;
	}
	free(line);
	fclose(f);
	*out = v;
	*n = k;
	return FTSRT_OK;
}

static void csv_event(char *buf, size_t n, const struct ftsrt_run_event *ev)
{
	static const char *const why[] = {"", "max_epochs", "patience", "nonfinite", "threshold",
					  "divergence"};
	size_t k = strlen(buf);
	const char *sep = k ? ";" : "";
	switch (ev->kind) {
	case FTSRT_EV_TRANSITION:
		snprintf(buf + k, n - k, "%stransition:%d", sep, ev->phase);
		break;
	case FTSRT_EV_CKPT_SAVED:
		snprintf(buf + k, n - k, "%scheckpoint", sep);
		break;
	case FTSRT_EV_BEST_RESTORED:
		snprintf(buf + k, n - k, "%srestored:%d", sep, ev->phase);
		break;
	case FTSRT_EV_FINISHED:
		snprintf(buf + k, n - k, "%sfinished:%s", sep,
			 ev->reason >= 0 && ev->reason <= 5 ? why[ev->reason] : "?");
		break;
	default:
		snprintf(buf + k, n - k, "%swarning", sep);
		break;
	}
}

/*
 * The largest lr any group reaches, found by the engine itself: the plan run
 * dry, one element per parameter and zero gradients, reading every group's
 * lr before every step: peak[0] the largest lr, peak[1] the largest
 * effective one, lr / (1 - momentum), which sets heavy-ball SGD's noise and
 * speed.  The replayed metrics when given; else twice, with a
 * metric that improves every epoch (phases last to their epoch limits) and
 * with one that never does (early stopping as soon as patience allows).
 */
static int peak_lr(const struct rt_plan *plan, const struct rt_nqm_opts *o, const double *metrics,
		   long nmetrics, long epochs, double peak[2], char *err, size_t errlen)
{
	peak[0] = peak[1] = 0;
	for (int pass = 0; pass < (metrics ? 1 : 2); pass++) {
		struct ftsrt_run_options ro = FTSRT_INIT(struct ftsrt_run_options);
		ftsrt_run_options_default(&ro, NULL);
		ftsrt_error fe;
		ro.scale = 1e-300;      /* every dimension 1 */
		ro.threads = 1;
		ftsrt_run *r = NULL;
		int rc = rt_run_new(&r, plan, &ro, &fe);
		size_t n = rc ? 0 : ftsrt_run_arena_numel(r);
		float *mem = rc ? NULL : calloc(2 * n + 1, sizeof(float));
		if (!rc && !mem)
			rc = FTSRT_ENOMEM, snprintf(fe.message, sizeof(fe.message), "out of memory");
		if (!rc)
			rc = ftsrt_run_bind_arena(r, mem, mem + n, n, 0, &fe);
		struct ftsrt_run_event ev = FTSRT_INIT(struct ftsrt_run_event);
		while (!rc && ftsrt_run_next_event(r, &ev, NULL))
			;
		while (!rc && !ftsrt_run_finished(r) && ftsrt_run_epoch(r) < epochs) {
			long e = (long)ftsrt_run_epoch(r);
			if (metrics && e >= nmetrics)
				break;
			for (long st = 0; !rc && st < o->steps; st++) {
				for (int k = 0; k < ftsrt_run_ngroups(r); k++) {
					struct ftsrt_optim_hparams hp = FTSRT_INIT(struct ftsrt_optim_hparams);
					if (ftsrt_run_group_hparams(r, k, &hp, NULL) || !isfinite(hp.lr))
						continue;
					double mu = hp.momentum > 0 && hp.momentum < 1 ? hp.momentum : 0;
					peak[0] = hp.lr > peak[0] ? hp.lr : peak[0];
					peak[1] = hp.lr / (1 - mu) > peak[1] ? hp.lr / (1 - mu) : peak[1];
				}
				rc = ftsrt_run_step(r, &fe);
			}
			if (!rc)
				rc = ftsrt_run_epoch_end(r, metrics ? metrics[e] : pass ? 1.0 : 1.0 / (double)(e + 1), &fe);
			while (!rc && ftsrt_run_next_event(r, &ev, NULL))
				;
		}
		if (rc)
			snprintf(err, errlen, "%s", fe.message);
		ftsrt_run_free(r);
		free(mem);
		if (rc)
			return rc;
	}
	return FTSRT_OK;
}

/*
 * A loss relative to the same elements at their starting distance:
 * 0.5 * sum h (theta - c)^2 / (0.5 * sum h A^2), where c is 0 (training) or
 * the validation optimum d, over the trainable elements (training: what the
 * phase learns) or over all of them (validation: the model's, comparable
 * across phases, as early stopping's best score is kept across them).
 */
static double rel_loss(ftsrt_run *r, const struct nqm *m, const float *c, bool trainable)
{
	double num = 0, den = 0;
	int np = ftsrt_run_nparams(r);
	for (int i = 0; i < np; i++) {
		size_t off, k;
		if (ftsrt_run_param_offset(r, i, &off, &k, NULL) || (trainable && !ftsrt_run_thawed(r, i)))
			continue;
		for (size_t j = off; j < off + k; j++) {
			double t = (double)m->p[j] - (c ? (double)c[j] : 0.0);
			num += (double)m->h[j] * t * t;
			den += (double)m->h[j];
		}
	}
	return den > 0 ? num / (den * m->amp * m->amp) : 0.0;
}

int rt_nqm_run(const struct rt_plan *plan, const struct rt_nqm_opts *o, FILE *out, char *err,
	       size_t errlen)
{
	struct ftsrt_run_options ro = FTSRT_INIT(struct ftsrt_run_options);
	ftsrt_run_options_default(&ro, NULL);
	ftsrt_error fe;
	ro.scale = o->scale;
	ro.threads = o->threads;
	ro.ckpt_dir = o->ckpt_dir;
	const struct rt_nqm_comm *cm = o->comm && o->comm->world > 1 ? o->comm : NULL;
	if (cm) {               /* a sharded run: this rank keeps its slice's state */
		ro.shard_rank = cm->rank;
		ro.shard_world = cm->world;
	}
	double *metrics = NULL;
	long nmetrics = 0;
	int rc;
	if (o->metrics && (rc = read_metrics(o->metrics, &metrics, &nmetrics, err, errlen)))
		return rc;
	ftsrt_run *r = NULL;
	FILE *csv = NULL;
	char *csvmem = NULL;
	size_t csvlen = 0;
	struct nqm m = {0};
	float *g = NULL, *d = NULL;
	struct rt_epoch_rec *ep = NULL;
	long ne = 0;
	long epochs = o->epochs > 0 ? o->epochs : (long)plan->max_epochs;
	if (epochs < 0) {
		snprintf(err, errlen, "the plan has no epoch limit (max_epochs -1): give --epochs");
		free(metrics);
		return FTSRT_EINVAL;
	}
	double peak[2];
	if ((rc = peak_lr(plan, o, metrics, nmetrics, epochs, peak, err, errlen)))
		goto out;
	if ((rc = rt_run_new(&r, plan, &ro, &fe))) {
		snprintf(err, errlen, "%s", fe.message);
		goto out;
	}
	size_t n = ftsrt_run_arena_numel(r);
	m.p = malloc(n * sizeof(float) + 1);
	m.h = malloc(n * sizeof(float) + 1);
	g = malloc(n * sizeof(float) + 1);
	d = malloc(n * sizeof(float) + 1);
	ep = calloc((size_t)epochs, sizeof(*ep));
	if (!m.p || !m.h || !g || !d || !ep) {
		snprintf(err, errlen, "out of memory for %zu parameters (try --scale)", n);
		rc = FTSRT_ENOMEM;
		goto out;
	}
	/*
	 * The problem: SGD at the largest effective lr the plan reaches contracts
	 * the stiffest element by 1 - lr_eff * hmax = 0 per step (heavy ball is
	 * stable up to lr * h < 2 (1 + momentum)), the softest by 1% a step; the
	 * starting distance A is a quarter of what a sign-like optimizer (Adam)
	 * moves at the largest lr over the run; the noise keeps SGD within about
	 * sigma * A / sqrt(2) of the optimum.
	 */
	double lrmax = peak[0] > 0 ? peak[0] : 1e-3;
	double hmax = 1.0 / (peak[1] > 0 ? peak[1] : lrmax);
	m.amp = lrmax * (double)epochs * (double)o->steps / 4.0;
	if (!(m.amp > 0))
		m.amp = 1.0;
	uint64_t s = o->seed;
	for (size_t j = 0; j < n; j++) {
		m.h[j] = (float)(hmax * pow(10.0, -2.0 * unif(&s)));
		m.p[j] = (float)(unif(&s) < 0.5 ? -m.amp : m.amp);
		d[j] = (float)(0.1 * m.amp * (unif(&s) - 0.5));
		g[j] = 0;
	}
	if ((rc = ftsrt_run_bind_arena(r, m.p, g, n, 0, &fe))) {
		snprintf(err, errlen, "%s", fe.message);
		goto out;
	}
	if (o->csv) {
		/* in memory until the run ends, then written atomically */
		csv = open_memstream(&csvmem, &csvlen);
		if (!csv) {
			snprintf(err, errlen, "out of memory");
			rc = FTSRT_ENOMEM;
			goto out;
		}
		fprintf(csv, "epoch,phase,group,lr,train_loss,val_loss,event\n");
	}
	int np = ftsrt_run_nparams(r);
	char evbuf[512] = "";
	struct ftsrt_run_event ev = FTSRT_INIT(struct ftsrt_run_event);
	while (ftsrt_run_next_event(r, &ev, NULL)) {       /* transitions at epoch 0 */
		csv_event(evbuf, sizeof(evbuf), &ev);
		fprintf(out, "  %s\n", ev.text);
	}
	while (!ftsrt_run_finished(r) && ftsrt_run_epoch(r) < epochs) {
		long e = (long)ftsrt_run_epoch(r);
		if (metrics && e >= nmetrics) {
			fprintf(out, "the metrics file has %ld values: the replay ends before epoch %ld\n",
				nmetrics, e);
			break;
		}
		struct rt_epoch_rec *er = &ep[ne++];
		er->phase = ftsrt_run_phase(r);
		er->ng = ftsrt_run_ngroups(r);
		er->lr = calloc((size_t)er->ng + 1, sizeof(double));
		if (!er->lr) {
			rc = FTSRT_ENOMEM;
			snprintf(err, errlen, "out of memory");
			goto out;
		}
		for (int k = 0; k < er->ng; k++) {
			struct ftsrt_run_group gi = FTSRT_INIT(struct ftsrt_run_group);
			ftsrt_run_group(r, k, &gi, NULL);
			er->lr[k] = gi.lr;
		}
		double train = 0;
		for (long st = 0; st < o->steps; st++) {
			train += rel_loss(r, &m, NULL, true);
			for (int i = 0; i < np; i++) {
				size_t off, k;
				if (ftsrt_run_param_offset(r, i, &off, &k, NULL) || !ftsrt_run_thawed(r, i))
					continue;
				for (size_t j = off; j < off + k; j++)
					g[j] = (float)((double)m.h[j] * (double)m.p[j] +
						       o->noise * m.amp * sqrt((double)m.h[j] * hmax) * gauss(&s));
			}
			size_t gb = 0, ge = n;
			if (cm)
				ftsrt_run_shard_range(r, &gb, &ge, NULL);
			if (cm && cm->avg_grads(cm->ud, g, n, gb, ge)) {
				snprintf(err, errlen, "epoch %ld step %ld: averaging the gradients failed", e, st);
				rc = FTSRT_EIO;
				goto out;
			}
			if ((rc = ftsrt_run_step(r, &fe))) {
				snprintf(err, errlen, "epoch %ld step %ld: %s", e, st, fe.message);
				goto out;
			}
			if (cm) {
				size_t sb, se;
				ftsrt_run_shard_range(r, &sb, &se, NULL);
				if (cm->gather_params(cm->ud, m.p, n, sb, se)) {
					snprintf(err, errlen, "epoch %ld step %ld: gathering the parameters failed", e, st);
					rc = FTSRT_EIO;
					goto out;
				}
			}
			if (o->progress && (st % 4 == 0 || st + 1 == o->steps)) {
				int w = 30, fill = (int)((st + 1) * w / o->steps);
				fprintf(stderr, "\r[%.*s%*s] epoch %ld step %ld/%ld", fill,
					"##############################", w - fill, "", e, st + 1, o->steps);
				fflush(stderr);
			}
		}
		train = o->steps ? train / (double)o->steps : rel_loss(r, &m, NULL, true);
		double metric = metrics ? metrics[e] : rel_loss(r, &m, d, false);
		if (cm && cm->avg_metric(cm->ud, &metric)) {
			snprintf(err, errlen, "epoch %ld: averaging the metric failed", e);
			rc = FTSRT_EIO;
			goto out;
		}
		er->train = train;
		er->val = metric;
		if (o->progress)
			fprintf(stderr, "\r%*s\r", 60, "");
		rc = ftsrt_run_epoch_end(r, metric, &fe);
		fprintf(out, "epoch %4ld  phase %d  train %-11.6g val %-11.6g lr", e, er->phase, train, metric);
		for (int k = 0; k < er->ng; k++)
			fprintf(out, " %.6g", er->lr[k]);
		fprintf(out, "\n");
		char next[512] = "";
		while (ftsrt_run_next_event(r, &ev, NULL)) {
			bool later = ev.epoch > e;
			csv_event(later ? next : evbuf, sizeof(evbuf), &ev);
			fprintf(out, "  %s\n", ev.text);
		}
		if (csv)
			for (int k = 0; k < er->ng; k++)
				fprintf(csv, "%ld,%d,%d,%.17g,%.17g,%.17g,%s\n", e, er->phase, k, er->lr[k], train,
					metric, evbuf);
		memcpy(evbuf, next, sizeof(next));
		if (rc) {
			snprintf(err, errlen, "epoch %ld: %s", e, fe.message);
			goto out;
		}
	}
	fprintf(out, "finished: phase %d of %lld, %ld epochs, %lld optimizer steps\n", ftsrt_run_phase(r),
		(long long)plan->max_depth, ne, (long long)ftsrt_run_global_step(r));
	if (cm) {
		size_t sb, se;
		ftsrt_run_shard_range(r, &sb, &se, NULL);
		fprintf(stderr, "rank %d of %d: elements [%zu, %zu) of %zu, optimizer state %zu bytes\n", cm->rank,
			cm->world, sb, se, n, ftsrt_run_state_bytes(r));
	}
	if (o->svg && ne > 0)
		rc = rt_nqm_write_svg(o->svg, ep, ne, err, errlen);
out:
	if (csv && fclose(csv) != 0 && !rc) {
		snprintf(err, errlen, "out of memory");
		rc = FTSRT_ENOMEM;
	}
	if (csv && !rc)
		rc = rt_ckpt_write_file(o->csv, csvmem, csvlen, NULL, NULL, err, errlen);
	free(csvmem);
	for (long e = 0; e < ne; e++)
		free(ep[e].lr);
	free(ep);
	free(m.p);
	free(m.h);
	free(g);
	free(d);
	free(metrics);
	ftsrt_run_free(r);
	return rc;
}
