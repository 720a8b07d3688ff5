/*
 * quadratic.c - `ftsrun run`: a plan executed by the engine (run.c) on the
 * noisy quadratic model (see quadratic.h), with a per-epoch report, a CSV
 * log, an SVG plot of every group's lr and an optional replayed metric.
 */
#include "quadratic.h"

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

struct epoch_rec {
	int phase;                      /* phase the epoch ran */
	int ng;                         /* groups */
	double *lr;                     /* lr of the epoch's first step, per group */
};

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

/* Each group's lr against epochs (log scale when every lr is positive), phases marked. */
static int write_svg(const char *path, const struct epoch_rec *ep, long ne, char *err, size_t errlen)
{
	/* composed in memory, then written atomically: a failure leaves the old file */
	char *mem = NULL;
	size_t memlen = 0;
	FILE *f = open_memstream(&mem, &memlen);
	if (!f) {
		snprintf(err, errlen, "out of memory");
		return FTSRT_ENOMEM;
	}
	static const char *const colors[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
					     "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};
	const double W = 900, H = 480, L = 80, R = 150, T = 30, B = 50;
	double lo = INFINITY, hi = -INFINITY;
	bool logy = true;
	int maxg = 0;
	for (long e = 0; e < ne; e++) {
		if (ep[e].ng > maxg)
			maxg = ep[e].ng;
		for (int g = 0; g < ep[e].ng; g++) {
			double v = ep[e].lr[g];
			if (!(v > 0))
				logy = false;
			lo = v < lo ? v : lo;
			hi = v > hi ? v : hi;
		}
	}
	if (logy) {
		lo = floor(log10(lo));
		hi = ceil(log10(hi));
	}
	if (!(hi > lo)) {
		hi = lo + 1;
	}
	double xs = (W - L - R) / (ne > 1 ? (double)(ne - 1) : 1.0);
#define X(e) (L + (double)(e) * xs)
#define Y(v) (T + (H - T - B) * (1.0 - (((logy ? log10(v) : (v)) - lo) / (hi - lo))))
	fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" "
		   "font-family=\"sans-serif\" font-size=\"12\">\n", W, H);
	fprintf(f, "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n");
	fprintf(f, "<text x=\"%.0f\" y=\"18\" font-size=\"14\">learning rate per parameter group%s</text>\n",
		L, logy ? " (log scale)" : "");
	/* axes and ticks */
	fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"black\"/>\n", L, H - B,
		W - R, H - B);
	fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"black\"/>\n", L, T, L, H - B);
	for (int k = 0; k <= 5; k++) {
		double yv = lo + (hi - lo) * k / 5.0;
		double y = T + (H - T - B) * (1.0 - (double)k / 5.0);
		fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>\n", L, y,
			W - R, y);
		fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%.3g</text>\n", L - 5, y + 4,
			logy ? pow(10, yv) : yv);
	}
	long xstep = ne > 20 ? (ne + 9) / 10 : 1;
	for (long e = 0; e < ne; e += xstep)
		fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%ld</text>\n", X(e), H - B + 16, e);
	fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">epoch</text>\n", (L + W - R) / 2,
		H - 10);
	/* phase boundaries */
	for (long e = 1; e < ne; e++)
		if (ep[e].phase != ep[e - 1].phase)
			fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#888\" "
				   "stroke-dasharray=\"4 3\"/><text x=\"%.1f\" y=\"%.1f\" fill=\"#555\">phase %d</text>\n",
				X(e), T, X(e), H - B, X(e) + 3, T + 12, ep[e].phase);
	/* one polyline per group, from the first epoch it exists */
	for (int g = 0; g < maxg; g++) {
		const char *c = colors[g % 10];
		fprintf(f, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"1.5\" points=\"", c);
		for (long e = 0; e < ne; e++)
			if (g < ep[e].ng)
				fprintf(f, "%.1f,%.1f ", X(e), Y(ep[e].lr[g]));
		fprintf(f, "\"/>\n");
		fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" fill=\"%s\">group %d</text>\n", W - R + 10,
			T + 14.0 * (g + 1), c, g);
	}
	fprintf(f, "</svg>\n");
#undef X
#undef Y
	if (fclose(f) != 0) {
		free(mem);
		snprintf(err, errlen, "out of memory");
		return FTSRT_ENOMEM;
	}
	int rc = rt_ckpt_write_file(path, mem, memlen, NULL, NULL, err, errlen);
	free(mem);
	return rc;
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
	double *metrics = NULL;
	long nmetrics = 0;
	int rc;
	if (o->metrics && (rc = read_metrics(o->metrics, &metrics, &nmetrics, err, errlen)))
		return rc;
	ftsrt_run *r = NULL;
	FILE *csv = NULL;
	char *csvmem = NULL;
	size_t csvlen = 0;
	float *p = NULL, *g = NULL, *h = NULL, *d = NULL;
	struct epoch_rec *ep = NULL;
	long ne = 0;
	if ((rc = rt_run_new(&r, plan, &ro, &fe))) {
		snprintf(err, errlen, "%s", fe.message);
		goto out;
	}
	size_t n = ftsrt_run_arena_numel(r);
	p = malloc(n * sizeof(float));
	g = malloc(n * sizeof(float));
	h = malloc(n * sizeof(float));
	d = malloc(n * sizeof(float));
	long epochs = o->epochs > 0 ? o->epochs : (long)plan->max_epochs;
	ep = calloc((size_t)epochs, sizeof(*ep));
	if (!p || !g || !h || !d || !ep) {
		snprintf(err, errlen, "out of memory for %zu parameters (try --scale)", n);
		rc = FTSRT_ENOMEM;
		goto out;
	}
	/* the problem: curvatures scaled so the initial lr is stable */
	struct ftsrt_run_group g0 = FTSRT_INIT(struct ftsrt_run_group);
	double lr0 = ftsrt_run_group(r, 0, &g0, NULL) == 0 && g0.lr > 0 ? g0.lr : 1e-3;
	double hmax = 0.5 / lr0;
	uint64_t s = o->seed;
	for (size_t j = 0; j < n; j++) {
		h[j] = (float)(hmax * pow(10.0, -2.0 * unif(&s)));
		p[j] = (float)(unif(&s) < 0.5 ? -1.0 : 1.0);
		d[j] = (float)(0.1 * (unif(&s) - 0.5));
		g[j] = 0;
	}
	if ((rc = ftsrt_run_bind_arena(r, p, g, n, 0, &fe))) {
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
		struct epoch_rec *er = &ep[ne++];
		er->phase = ftsrt_run_phase(r);
		er->ng = ftsrt_run_ngroups(r);
		er->lr = calloc((size_t)er->ng, sizeof(double));
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
			double loss = 0;
			for (size_t j = 0; j < n; j++)
				loss += 0.5 * (double)h[j] * (double)p[j] * (double)p[j];
			train += loss / (double)n;
			for (int i = 0; i < np; i++) {
				size_t off, k;
				if (ftsrt_run_param_offset(r, i, &off, &k, NULL) || !ftsrt_run_thawed(r, i))
					continue;
				for (size_t j = off; j < off + k; j++)
					g[j] = (float)((double)h[j] * (double)p[j] +
						       o->noise * sqrt((double)h[j]) * gauss(&s));
			}
			if ((rc = ftsrt_run_step(r, &fe))) {
				snprintf(err, errlen, "epoch %ld step %ld: %s", e, st, fe.message);
				goto out;
			}
			if (o->progress && (st % 4 == 0 || st + 1 == o->steps)) {
				int w = 30, fill = (int)((st + 1) * w / o->steps);
				fprintf(stderr, "\r[%.*s%*s] epoch %ld step %ld/%ld", fill,
					"##############################", w - fill, "", e, st + 1, o->steps);
				fflush(stderr);
			}
		}
		train = o->steps ? train / (double)o->steps : 0;
		double val = 0;
		for (size_t j = 0; j < n; j++) {
			double t = (double)p[j] - (double)d[j];
			val += 0.5 * (double)h[j] * t * t;
		}
		val = val / (double)n * (1.0 + 0.01 * gauss(&s));
		double metric = metrics ? metrics[e] : val;
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
	if (o->svg && ne > 0)
		rc = write_svg(o->svg, ep, ne, err, errlen);
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
	free(p);
	free(g);
	free(h);
	free(d);
	free(metrics);
	ftsrt_run_free(r);
	return rc;
}
