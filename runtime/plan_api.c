/*
 * plan_api.c - the public face of an open plan (ftsrt.h): accessors for
 * its manifest, phases and settings, the manifest check (ftsrt_plan_bind)
 * and the listings of `ftsc dump` and `ftsrun inspect`.
 *
 * Stage: runtime (loading).  Everything here reads the decoded view
 * (rt_plan_view); the bytes and their validation are runtime/plan.c's.
 */
#include "plan.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ftsrt.h"
#include "plan_format.h"
#include "err.h"

/* ---- accessors ------------------------------------------------------------------------ */

FTSRT_API int32_t ftsrt_plan_format_major(const ftsrt_plan *p)
{
	return p ? rt_plan_view(p)->format_major : 0;
}

FTSRT_API int32_t ftsrt_plan_format_minor(const ftsrt_plan *p)
{
	return p ? rt_plan_view(p)->format_minor : 0;
}

FTSRT_API uint64_t ftsrt_plan_manifest_hash(const ftsrt_plan *p)
{
	return p ? rt_plan_view(p)->manifest_hash : 0;
}

FTSRT_API uint64_t ftsrt_manifest_hash_add(uint64_t h, const char *name, int32_t ndim,
					   const int64_t *dims, const char *dtype)
{
	return plan_manifest_hash_add(h, name ? name : "", name ? strlen(name) : 0, ndim > 0 && dims ? (size_t)ndim : 0,
				      dims, dtype ? dtype : "");
}

FTSRT_API uint64_t ftsrt_manifest_hash(size_t n, const char *const *names, const int32_t *ndims,
				       const int64_t *const *dims, const char *const *dtypes)
{
	uint64_t h = FTSRT_MANIFEST_HASH_INIT;
	for (size_t i = 0; i < n; i++)
		h = ftsrt_manifest_hash_add(h, names[i], ndims[i], dims[i], dtypes[i]);
	return h;
}

FTSRT_API int ftsrt_plan_bind(const ftsrt_plan *p, uint64_t hash, ftsrt_error *err)
{
	if (!p)
		return rt_error(err, FTSRT_EINVAL, "no plan");
	if (rt_plan_view(p)->manifest_hash == hash)
		return FTSRT_OK;
	return rt_error(err, FTSRT_EINVAL, "the model's manifest hash %016" PRIx64 " differs from "
			"the plan's %016" PRIx64 ": the plan was checked against another model", hash,
			rt_plan_view(p)->manifest_hash);
}

FTSRT_API int32_t ftsrt_plan_nparams(const ftsrt_plan *p)
{
	return p ? (int32_t)rt_plan_view(p)->nparams : 0;
}

FTSRT_API int ftsrt_plan_param(const ftsrt_plan *p, int32_t i, struct ftsrt_plan_param *out,
			       ftsrt_error *err)
{
	if (!p || !out)
		return rt_error(err, FTSRT_EINVAL, "ftsrt_plan_param: NULL argument");
	if (i < 0 || (uint32_t)i >= rt_plan_view(p)->nparams)
		return rt_error(err, FTSRT_EINVAL, "parameter %" PRId32 " of %" PRIu32, i,
				rt_plan_view(p)->nparams);
	const struct rt_plan *pv = rt_plan_view(p);
	const char *const *names = rt_plan_names(pv);
	if (!names)
		return rt_error(err, FTSRT_ENOMEM, "out of memory (decoding the parameter names)");
	const struct rt_plan_shape *q = rt_plan_param_shape(pv, (uint32_t)i);
	struct ftsrt_plan_param v = {
		.struct_size = sizeof(v),
		.name = names[i],
		.ndim = (int32_t)q->ndim,
		.dims = q->dims,
		.dtype = q->dtype_name,
		.tied_to = pv->params[i].tied_to,
	};
	return rt_struct_out(out, &v, sizeof(v), "ftsrt_plan_param", err);
}

FTSRT_API int32_t ftsrt_plan_nphases(const ftsrt_plan *p)
{
	return p ? (int32_t)rt_plan_view(p)->nphases : 0;
}

FTSRT_API int ftsrt_plan_phase(const ftsrt_plan *p, int32_t i, struct ftsrt_plan_phase *out,
			       ftsrt_error *err)
{
	if (!p || !out)
		return rt_error(err, FTSRT_EINVAL, "ftsrt_plan_phase: NULL argument");
	const struct rt_plan *v = rt_plan_view(p);
	if (i < 0 || (uint32_t)i >= v->nphases)
		return rt_error(err, FTSRT_EINVAL, "phase %" PRId32 " of %" PRIu32, i, v->nphases);
	const struct rt_plan_phase *ph = &v->phases[i];
	/* the plan holds the indices as u32 below 2^31 (plan.c): the same bytes as int32_t */
	struct ftsrt_plan_phase o = {
		.struct_size = sizeof(o),
		.index = ph->index,
		.max_transition_epoch = ph->mte,
		.lr = ph->lr,
		.params = (const int32_t *)(const void *)ph->params,
		.nparams = (int32_t)ph->nparams,
		.new_optimizer = ph->new_optimizer >= 0,
		.new_lr_scheduler = ph->new_lr_scheduler >= 0,
		.optimizer = ph->new_optimizer >= 0 ? v->classes[ph->new_optimizer].class_path : NULL,
		.lr_scheduler = ph->new_lr_scheduler >= 0 ? v->classes[ph->new_lr_scheduler].class_path
			: NULL,
		.src_file = ph->src_file,
		.src_line = (int32_t)ph->src_line,
	};
	return rt_struct_out(out, &o, sizeof(o), "ftsrt_plan_phase", err);
}

FTSRT_API int64_t ftsrt_plan_max_depth(const ftsrt_plan *p)
{
	return p ? rt_plan_view(p)->max_depth : -1;
}

FTSRT_API int64_t ftsrt_plan_max_epochs(const ftsrt_plan *p)
{
	return p ? rt_plan_view(p)->max_epochs : -1;
}

/* ---- listings ------------------------------------------------------------------------ */

/* Shortest %g spelling that reads back as the same double. */
static const char *num(char *buf, size_t n, double x)
{
	for (int prec = 1; prec <= 17; prec++) {
		snprintf(buf, n, "%.*g", prec, x);
		if (strtod(buf, NULL) == x || x != x)
			break;
	}
	return buf;
}

static const char *const dtype_names[] = {"f32", "f64", "f16", "bf16", "other"};
static const char *const arg_kinds[] = {"none", "bool", "int", "float", "str", "floats"};
static const char *const lr_kinds[] = {"known", "continues", "unknown"};
static const char *const src_kinds[] = {"phase", "params", "new_optimizer", "new_lr_scheduler"};

static void dump_shape(FILE *out, const struct rt_plan_shape *q)
{
	if (q->ndim == 0)
		fputs("scalar", out);
	for (uint32_t k = 0; k < q->ndim; k++)
		fprintf(out, "%s%" PRId64, k ? "x" : "", q->dims[k]);
}

static void dump_value(FILE *out, const struct rt_plan_arg *a)
{
	char b1[40];
	switch (a->kind) {
	case RT_ARG_BOOL: fputs(a->b ? "True" : "False", out); break;
	case RT_ARG_INT: fprintf(out, "%" PRId64, a->i); break;
	case RT_ARG_FLOAT: fputs(num(b1, sizeof(b1), a->f), out); break;
	case RT_ARG_STR: fprintf(out, "'%s'", a->s); break;
	case RT_ARG_FLOATS:
		fputc('[', out);
		for (uint32_t j = 0; j < a->n; j++)
			fprintf(out, "%s%s", j ? ", " : "", a->v[j] != a->v[j] ? "None" : num(b1, sizeof(b1), a->v[j]));
		fputc(']', out);
		break;
	default: fputs("None", out); break;
	}
}

static void dump_class(FILE *out, const struct rt_plan *v, uint32_t i)
{
	const struct rt_plan_class *c = &v->classes[i];
	char b1[40];
	fprintf(out, "class %" PRIu32 ": %s %s (stdlib id %u)\n", i,
		c->scheduler ? "lr_scheduler" : "optimizer", c->class_path, c->stdlib_id);
	for (uint32_t k = 0; k < c->nargs; k++) {
		const struct rt_plan_arg *a = &c->args[k];
		fprintf(out, "  arg %s: %s = ", a->name, arg_kinds[a->kind]);
		dump_value(out, a);
		fprintf(out, "%s\n", a->given ? " (given)" : "");
	}
	if (!c->scheduler) {
		fprintf(out, "  state:");
		for (uint32_t k = 0; k < c->nslots; k++)
			fprintf(out, " %s", c->state_slots[k]);
		fprintf(out, "%s\n", c->nslots ? "" : " (none)");
		if (c->state_at_construction)
			fprintf(out, "  state at construction\n");
		if (c->nreads) {
			fprintf(out, "  reads:");
			for (uint32_t k = 0; k < c->nreads; k++)
				fprintf(out, " %s", c->reads[k]);
			fputc('\n', out);
		}
		for (uint32_t k = 0; k < c->nsetstates; k++) {
			const struct rt_plan_arg *a = &c->setstates[k];
			fprintf(out, "  %s %s = ", c->setstate_force[k] ? "setforce" : "setdefault", a->name);
			dump_value(out, a);
			fputc('\n', out);
		}
		return;
	}
	fprintf(out, "  interval %s, frequency %" PRIu32 ", monitor %s\n",
		c->epoch_interval ? "epoch" : "step", c->frequency, c->monitor ? c->monitor : "-");
	if (c->ninit_pg_lrs >= 0) {
		fprintf(out, "  init_pg_lrs [");
		for (int32_t k = 0; k < c->ninit_pg_lrs; k++)
			fprintf(out, "%s%s", k ? ", " : "", num(b1, sizeof(b1), c->init_pg_lrs[k]));
		fprintf(out, "]\n");
	}
	if (c->use_current)
		fprintf(out, "  use_current_optimizer_pg_lrs\n");
	if (c->lambda) {
		fprintf(out, "  lr_lambda %" PRIu32 " bytes:", c->lambda_len);
		for (uint32_t k = 0; k < c->lambda_len; k++)
			fprintf(out, "%s%02x", k % 16 ? "" : "\n    ", c->lambda[k]);
		fputc('\n', out);
	}
	if (c->nchildren) {
		fprintf(out, "  children:");
		for (uint32_t k = 0; k < c->nchildren; k++)
			fprintf(out, " %" PRId32, c->children[k]);
		fputc('\n', out);
	}
	if (c->nmilestones) {
		fprintf(out, "  milestones:");
		for (uint32_t k = 0; k < c->nmilestones; k++)
			fprintf(out, " %" PRId64, c->milestones[k]);
		fputc('\n', out);
	}
}

static void dump_ref(FILE *out, const char *what, int32_t x)
{
	if (x < 0)
		fprintf(out, "%s -\n", what);
	else
		fprintf(out, "%s class %" PRId32 "\n", what, x);
}

static void dump_phases(FILE *out, const struct rt_plan *v)
{
	char b1[40];
	fprintf(out, "%-5s %-5s %-10s %-7s %-10s %-12s %s\n", "phase", "mte", "lr", "params",
		"optimizer", "lr_scheduler", "source");
	for (uint32_t i = 0; i < v->nphases; i++) {
		const struct rt_plan_phase *ph = &v->phases[i];
		char o[24] = "-", s[24] = "-";
		if (ph->new_optimizer >= 0)
			snprintf(o, sizeof(o), "class %" PRId32, ph->new_optimizer);
		if (ph->new_lr_scheduler >= 0)
			snprintf(s, sizeof(s), "class %" PRId32, ph->new_lr_scheduler);
		fprintf(out, "%-5" PRId64 " %-5" PRId64 " %-10s %-7" PRIu32 " %-10s %-12s ",
			ph->index, ph->mte, num(b1, sizeof(b1), ph->lr), ph->nparams, o, s);
		if (ph->src_file)
			fprintf(out, "%s:%" PRIu32, ph->src_file, ph->src_line);
		else
			fputc('-', out);
		fprintf(out, "%s\n", (int64_t)i > v->max_depth ? "  (beyond max_depth)" : "");
	}
}

FTSRT_API int ftsrt_plan_dump(const ftsrt_plan *p, FILE *out, int32_t what, ftsrt_error *err)
{
	char b1[40], b2[40];
	if (!p || !out || (what != FTSRT_DUMP_PHASES && what != FTSRT_DUMP_ALL))
		return rt_error(err, FTSRT_EINVAL, "ftsrt_plan_dump: bad argument");
	const struct rt_plan *v = rt_plan_view(p);
	fprintf(out, "plan format %u.%u, manifest hash %016" PRIx64 ", %" PRIu32 " parameters, %"
		PRIu32 " phases, max_depth %" PRId64 ", max_epochs %" PRId64 "%s\n", v->format_major,
		v->format_minor, v->manifest_hash, v->nparams, v->nphases, v->max_depth, v->max_epochs,
		v->stripped ? ", stripped" : "");
	if (what == FTSRT_DUMP_PHASES) {
		dump_phases(out, v);
		return ferror(out) ? rt_error(err, FTSRT_EIO, "writing the listing failed") : FTSRT_OK;
	}
	const char *const *names = rt_plan_names(v);
	if (!names)
		return rt_error(err, FTSRT_ENOMEM, "out of memory (decoding the parameter names)");
	fprintf(out, "\n[settings]\n");
	fprintf(out, "restore_best %s\nepoch_transitions_only %s\napply_lambdas_new_pgs %s\n",
		v->restore_best ? "true" : "false", v->epoch_transitions_only ? "true" : "false",
		v->apply_lambdas_new_pgs ? "true" : "false");
	fprintf(out, "base_max_lr %s\nphase0_groups %" PRIu32 "\nno_decay", num(b1, sizeof(b1),
		v->base_max_lr), v->phase0_groups);
	for (uint32_t k = 0; k < v->nno_decay; k++)
		fprintf(out, " '%s'", v->no_decay[k]);
	fputc('\n', out);
	dump_ref(out, "initial_optimizer", v->initial_optimizer);
	dump_ref(out, "initial_lr_scheduler", v->initial_scheduler);
	dump_ref(out, "reinit_optim_cfg", v->reinit_optimizer);
	dump_ref(out, "reinit_lr_cfg", v->reinit_scheduler);
	if (v->es.present) {
		fprintf(out, "early_stopping monitor '%s' patience %" PRId64 " min_delta %s mode %s "
			"check_finite %s", v->es.monitor, v->es.patience,
			num(b1, sizeof(b1), v->es.min_delta), v->es.mode_max ? "max" : "min",
			v->es.check_finite ? "true" : "false");
		if (v->es.has_stopping_threshold)
			fprintf(out, " stopping_threshold %s", num(b1, sizeof(b1), v->es.stopping_threshold));
		if (v->es.has_divergence_threshold)
			fprintf(out, " divergence_threshold %s",
				num(b2, sizeof(b2), v->es.divergence_threshold));
		fputc('\n', out);
	} else {
		fprintf(out, "early_stopping none\n");
	}
	fprintf(out, "checkpoint monitor %s%s%s save_top_k %" PRId64 " mode %s\n",
		v->ckpt.monitor ? "'" : "", v->ckpt.monitor ? v->ckpt.monitor : "-",
		v->ckpt.monitor ? "'" : "", v->ckpt.save_top_k, v->ckpt.mode_max ? "max" : "min");

	fprintf(out, "\n[classes]\n");
	for (uint32_t i = 0; i < v->nclasses; i++)
		dump_class(out, v, i);

	fprintf(out, "\n[phases]\n");
	dump_phases(out, v);
	for (uint32_t i = 0; i < v->nphases; i++) {
		const struct rt_plan_phase *ph = &v->phases[i];
		fprintf(out, "phase %" PRId64 ":\n", ph->index);
		for (uint32_t k = 0; k < ph->nparams; k++)
			fprintf(out, "  %" PRIu32 " %s\n", ph->params[k], names[ph->params[k]]);
	}

	if (v->ngroups) {
		fprintf(out, "\n[groups]\n");
		for (uint32_t i = 0; i < v->ngroups; i++) {
			const struct rt_plan_group *g = &v->groups[i];
			char np[16] = "?";
			if (g->nparams != UINT32_MAX)
				snprintf(np, sizeof(np), "%" PRIu32, g->nparams);
			fprintf(out, "phase %" PRId64 ": holds phase %" PRId64 "%s%s, %s params, %"
				PRIu64 " elements, lr %s %s, initial_lr %s %s\n",
				v->phases[g->phase].index, g->holds, g->no_decay ? " no_decay" : "",
				g->user ? " user" : "", np, g->numel, lr_kinds[g->lr_kind],
				g->lr_kind == RT_LR_KNOWN ? num(b1, sizeof(b1), g->lr) : "-",
				lr_kinds[g->initial_lr_kind],
				g->initial_lr_kind == RT_LR_KNOWN ? num(b2, sizeof(b2), g->initial_lr) : "-");
		}
	}

	if (v->nrestores) {
		fprintf(out, "\n[restores]\n");
		for (uint32_t i = 0; i < v->nrestores; i++) {
			const struct rt_plan_restore *e = &v->restores[i];
			fprintf(out, "phase %" PRId64 " from phase %" PRId64 ": %s",
				v->phases[e->target].index, v->phases[e->source].index,
				e->kind == RT_RESTORE_FAILS ? "fails" : "reverts");
			for (uint32_t k = 0; k < e->noverrides; k++) {
				fprintf(out, "%s%s = ", k ? ", " : " ", e->overrides[k].name);
				dump_value(out, &e->overrides[k]);
			}
			fprintf(out, "\n  %s\n", e->message);
		}
	}

	fprintf(out, "\n[manifest]\n");
	for (uint32_t i = 0; i < v->nparams; i++) {
		const struct rt_plan_shape *q = rt_plan_param_shape(v, i);
		fprintf(out, "%" PRIu32 " %s ", i, names[i]);
		dump_shape(out, q);
		fprintf(out, " %s (%s)%s", q->dtype_name, dtype_names[q->dtype],
			q->requires_grad ? "" : " frozen");
		if (v->params[i].tied_to >= 0)
			fprintf(out, " tied_to %" PRId32, v->params[i].tied_to);
		fputc('\n', out);
	}

	if (v->nsrc) {
		fprintf(out, "\n[source map]\n");
		for (uint32_t i = 0; i < v->nsrc; i++) {
			const struct rt_plan_src *e = &v->src[i];
			fprintf(out, "phase %" PRId64 " %s", v->phases[e->phase].index, src_kinds[e->kind]);
			if (e->kind == RT_SRC_PARAMS_ENTRY)
				fprintf(out, " %" PRIu32, e->item);
			fprintf(out, " %s:%" PRIu32 ":%" PRIu32 "\n", e->file, e->line, e->col);
		}
	}
	return ferror(out) ? rt_error(err, FTSRT_EIO, "writing the listing failed") : FTSRT_OK;
}
