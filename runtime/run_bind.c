/*
 * run_bind.c - the parameters' memory of a run: where each parameter
 * lies in the arenas, and the two bindings (the job's parameter and
 * gradient arenas, zero copy, or one buffer pair per tensor, copied to and
 * from the run's own arenas around each step).
 *
 * Stage: runtime (plan execution).  The run borrows what is bound; in
 * per-tensor mode the arenas are its own.
 */
#include "run_impl.h"
#include "err.h"

#include <inttypes.h>

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

/* --- parameters' memory --------------------------------------------------------- */

void *rt_run_param_data(ftsrt_run *r, int i)
{
	struct rt_run_param *p = &r->p[i];
	if (r->opt.external)
		return NULL;
	if (r->tensor_mode)
		return p->bp;
	return r->ap ? (char *)r->ap + p->off * r->es : NULL;
}

bool rt_run_bound(const ftsrt_run *r)
{
	if (r->opt.external)
		return true;            /* nothing to bind: the job's optimizer steps */
	if (!r->ap)
		return false;
	if (!r->tensor_mode)
		return true;
	for (int i = 0; i < r->np; i++)
		if (!r->p[i].tied && (!r->p[i].bp || !r->p[i].bg))
			return false;
	return true;
}

/* --- binding --------------------------------------------------------------------- */

FTSRT_API int32_t ftsrt_run_nparams(const ftsrt_run *r)
{
	return r ? r->np : 0;
}

static int param_index(const ftsrt_run *r, const char *name)
{
	return rt_plan_name_index(r->plan, name);
}

FTSRT_API int ftsrt_run_param_index(const ftsrt_run *r, const char *name, int32_t *index,
				    ftsrt_error *err)
{
	if (!r || !name || !index)
		return rt_error(err, FTSRT_EINVAL, "ftsrt_run_param_index: NULL argument");
	int i = param_index(r, name);
	if (i < 0)
		return rt_error(err, FTSRT_EINVAL, "the plan has no parameter '%s'", name);
	*index = i;
	return FTSRT_OK;
}

FTSRT_API int ftsrt_run_param_offset(const ftsrt_run *r, int32_t index, size_t *offset,
				     size_t *numel, ftsrt_error *err)
{
	if (!r)
		return rt_error(err, FTSRT_EINVAL, "ftsrt_run_param_offset: no run");
	if (index < 0 || index >= r->np)
		return rt_error(err, FTSRT_EINVAL, "no parameter %" PRId32 " (the plan has %d)", index,
				r->np);
	if (r->p[index].tied)
		return rt_error(err, FTSRT_EINVAL, "'%s' is tied to another parameter: it has no "
				"range of its own", rt_plan_param_name(r->plan, (uint32_t)index));
	if (offset)
		*offset = r->p[index].off;
	if (numel)
		*numel = r->p[index].numel;
	return FTSRT_OK;
}

FTSRT_API size_t ftsrt_run_arena_numel(const ftsrt_run *r)
{
	return r ? r->numel : 0;
}

static int bind_arena(ftsrt_run *r, void *params, void *grads, size_t numel, uint64_t manifest_hash)
{
	if (r->opt.external)
		return rt_run_fail(r, FTSRT_EINVAL, "an external run binds no arenas: the job's "
				   "optimizer steps the parameters");
	if (!params || !grads)
		return rt_run_fail(r, FTSRT_EINVAL, "NULL parameter or gradient arena");
	if (numel != r->numel)
		return rt_run_fail(r, FTSRT_EINVAL, "the arena has %zu elements, the plan's parameters %zu",
				   numel, r->numel);
	if (manifest_hash && manifest_hash != r->plan->manifest_hash)
		return rt_run_fail(r, FTSRT_EINVAL, "manifest hash %016" PRIx64 " is not the plan's %016"
				   PRIx64, manifest_hash, r->plan->manifest_hash);
	if (r->tensor_mode) {
		rt_run_dealloc(r, r->ap, r->numel * r->es);
		rt_run_dealloc(r, r->ag, r->numel * r->es);
		r->tensor_mode = false;
	}
	r->ap = params;
	r->ag = grads;
	return FTSRT_OK;
}

FTSRT_API int ftsrt_run_bind_arena(ftsrt_run *r, void *params, void *grads, size_t numel,
				   uint64_t manifest_hash, ftsrt_error *err)
{
	if (!r)
		return rt_error(err, FTSRT_EINVAL, "ftsrt_run_bind_arena: no run");
	return rt_report(err, bind_arena(r, params, grads, numel, manifest_hash), r->err);
}

static int bind_param(ftsrt_run *r, const char *name, int32_t index, void *param, void *grad,
		int32_t ndim, const int64_t *shape)
{
	if (r->opt.external)
		return rt_run_fail(r, FTSRT_EINVAL, "an external run binds no tensors: the job's "
				   "optimizer steps the parameters");
	int i = name ? param_index(r, name) : index;
	if (i < 0 || i >= r->np) {
		if (name)
			return rt_run_fail(r, FTSRT_EINVAL, "the plan has no parameter '%s'", name);
		return rt_run_fail(r, FTSRT_EINVAL, "no parameter %" PRId32 " (the plan has %d)", index,
				   r->np);
	}
	struct rt_run_param *p = &r->p[i];
	if (p->tied)
		return rt_run_fail(r, FTSRT_EINVAL, "'%s' is tied to another parameter: bind that one",
				   rt_plan_param_name(r->plan, (uint32_t)i));
	if (!param || !grad || ndim != p->ndim || (ndim && !shape))
		return rt_run_fail(r, FTSRT_EINVAL, "'%s': bad buffers or number of dimensions",
				   rt_plan_param_name(r->plan, (uint32_t)i));
	for (int k = 0; k < ndim; k++)
		if (shape[k] != p->shape[k])
			return rt_run_fail(r, FTSRT_EINVAL, "'%s': dimension %d is %" PRId64 ", the manifest "
					   "says %" PRId64, rt_plan_param_name(r->plan, (uint32_t)i), k,
					   shape[k], p->shape[k]);
	if (!r->tensor_mode) {
		void *a = rt_run_alloc(r, r->numel * r->es), *g = rt_run_alloc(r, r->numel * r->es);
		if (!a || !g) {
			rt_run_dealloc(r, a, r->numel * r->es);
			rt_run_dealloc(r, g, r->numel * r->es);
			return rt_run_fail(r, FTSRT_ENOMEM, "out of memory");
		}
		r->ap = a;
		r->ag = g;
		r->tensor_mode = true;
	}
	p->bp = param;
	p->bg = grad;
	return FTSRT_OK;
}

FTSRT_API int ftsrt_run_bind(ftsrt_run *r, const char *name, int32_t index, void *param,
			     void *grad, int32_t ndim, const int64_t *shape, ftsrt_error *err)
{
	if (!r)
		return rt_error(err, FTSRT_EINVAL, "ftsrt_run_bind: no run");
	return rt_report(err, bind_param(r, name, index, param, grad, ndim, shape), r->err);
}
