/*
 * nqm_plot.c - the SVG plot of `ftsrun run` (see nqm_plot.h): two panels
 * sharing the epoch axis, composed in memory and written atomically.
 */
#include "nqm_plot.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include "ckpt.h"
#include "ftsrt.h"

static const char *const colors[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
				     "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};

/* Geometry of the figure: a panel spans [top, top + height) vertically. */
enum { FIG_W = 900, FIG_L = 80, FIG_R = 150, PANEL_H = 300, PANEL_GAP = 70, FIG_T = 30 };

/* What one panel plots: series s at epoch e is value(ep, e, s), NaN = absent. */
struct panel {
	const char *title;
	int nseries;
	double (*value)(const struct rt_epoch_rec *ep, long e, int s);
	const char *(*label)(int s, char *buf, size_t n);
	const char *(*color)(int s);
};

static double loss_value(const struct rt_epoch_rec *ep, long e, int s)
{
	return s == 0 ? ep[e].train : ep[e].val;
}

static const char *loss_label(int s, char *buf, size_t n)
{
	(void)buf;
	(void)n;
	return s == 0 ? "training" : "validation";
}

static const char *loss_color(int s)
{
	return s == 0 ? "#1f77b4" : "#d62728";
}

static double lr_value(const struct rt_epoch_rec *ep, long e, int s)
{
	return s < ep[e].ng ? ep[e].lr[s] : NAN;
}

static const char *lr_label(int s, char *buf, size_t n)
{
	snprintf(buf, n, "group %d", s);
	return buf;
}

static const char *lr_color(int s)
{
	return colors[s % 10];
}

static void draw_panel(FILE *f, double top, const struct panel *pn, const struct rt_epoch_rec *ep, long ne)
{
	const double W = FIG_W, L = FIG_L, R = FIG_R, H = PANEL_H;
	double lo = INFINITY, hi = -INFINITY;
	bool logy = true, any = false;
	for (long e = 0; e < ne; e++)
		for (int s = 0; s < pn->nseries; s++) {
			double v = pn->value(ep, e, s);
			if (!isfinite(v))
				continue;
			any = true;
			if (!(v > 0))
				logy = false;
			lo = v < lo ? v : lo;
			hi = v > hi ? v : hi;
		}
	if (!any) {
		lo = 0;
		hi = 1;
		logy = false;
	}
	if (logy) {
		lo = floor(log10(lo));
		hi = ceil(log10(hi));
	}
	if (!(hi > lo))
		hi = lo + 1;
	double xs = (W - L - R) / (ne > 1 ? (double)(ne - 1) : 1.0);
#define X(e) (L + (double)(e) * xs)
#define Y(v) (top + H * (1.0 - (((logy ? log10(v) : (v)) - lo) / (hi - lo))))
	fprintf(f, "<text x=\"%.0f\" y=\"%.1f\" font-size=\"14\">%s%s</text>\n", L, top - 10, pn->title,
		logy ? " (log scale)" : "");
	fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"black\"/>\n", L, top + H,
		W - R, top + H);
	fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"black\"/>\n", L, top, L,
		top + H);
	for (int k = 0; k <= 5; k++) {
		double yv = lo + (hi - lo) * k / 5.0;
		double y = top + H * (1.0 - (double)k / 5.0);
		fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>\n", L, y,
			W - R, y);
		fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%.3g</text>\n", L - 5, y + 4,
			logy ? pow(10, yv) : yv);
	}
	long xstep = ne > 20 ? (ne + 9) / 10 : 1;
	for (long e = 0; e < ne; e += xstep)
		fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%ld</text>\n", X(e), top + H + 16,
			e);
	fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">epoch</text>\n", (L + W - R) / 2,
		top + H + 32);
	for (long e = 1; e < ne; e++)
		if (ep[e].phase != ep[e - 1].phase)
			fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#888\" "
				   "stroke-dasharray=\"4 3\"/><text x=\"%.1f\" y=\"%.1f\" fill=\"#555\">phase %d</text>\n",
				X(e), top, X(e), top + H, X(e) + 3, top + 12, ep[e].phase);
	/* one polyline per series over the epochs where it has a finite value */
	for (int s = 0; s < pn->nseries; s++) {
		char buf[32];
		const char *c = pn->color(s);
		fprintf(f, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"1.5\" points=\"", c);
		for (long e = 0; e < ne; e++) {
			double v = pn->value(ep, e, s);
			if (isfinite(v) && (!logy || v > 0))
				fprintf(f, "%.1f,%.1f ", X(e), Y(v));
		}
		fprintf(f, "\"/>\n");
		fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" fill=\"%s\">%s</text>\n", W - R + 10, top + 14.0 * (s + 1),
			c, pn->label(s, buf, sizeof(buf)));
	}
#undef X
#undef Y
}

int rt_nqm_write_svg(const char *path, const struct rt_epoch_rec *ep, long ne, char *err, size_t errlen)
{
	char *mem = NULL;
	size_t memlen = 0;
	FILE *f = open_memstream(&mem, &memlen);
	if (!f) {
		snprintf(err, errlen, "out of memory");
		return FTSRT_ENOMEM;
	}
	int maxg = 0;
	for (long e = 0; e < ne; e++)
		maxg = ep[e].ng > maxg ? ep[e].ng : maxg;
	const struct panel loss = {"loss over the trainable elements", 2, loss_value, loss_label, loss_color};
	const struct panel lrs = {"learning rate per parameter group", maxg, lr_value, lr_label, lr_color};
	double h = FIG_T + 2.0 * PANEL_H + PANEL_GAP + 50;
	fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%.0f\" "
		   "font-family=\"sans-serif\" font-size=\"12\">\n", FIG_W, h);
	fprintf(f, "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n");
	draw_panel(f, FIG_T, &loss, ep, ne);
	draw_panel(f, FIG_T + PANEL_H + PANEL_GAP, &lrs, ep, ne);
	fprintf(f, "</svg>\n");
	if (fclose(f) != 0) {
		free(mem);
		snprintf(err, errlen, "out of memory");
		return FTSRT_ENOMEM;
	}
	int rc = rt_ckpt_write_file(path, mem, memlen, NULL, NULL, err, errlen);
	free(mem);
	return rc;
}
