/*
 * optim_kinds.c - the optimizer kinds of libftsrt: their names and torch's
 * state keys (slot names, shapes and per-element arenas), in torch's order.
 *
 * Stage: runtime (optimizers).  optim.c lays out and steps the state these
 * tables describe; stdlib/optim.fts declares the same keys for the compiler.
 */
#include "optim_int.h"
#include "err.h"

#include <inttypes.h>
#include <string.h>
#include <strings.h>

/* ORDER: enum ftsrt_optim_kind. */
static const char *const kind_names[FTSRT_OPTIM_NKINDS] = {
	"SGD", "Adam", "AdamW", "Adagrad", "Adadelta", "Adamax", "NAdam", "RAdam",
	"RMSprop", "Rprop", "ASGD", "Adafactor", "Muon",
};

/*
 * torch's state keys per optimizer, in torch's order.  CHECKLIST: must
 * match the `state` lines of stdlib/optim.fts (tests/unit/check_optim.c
 * compares them) and the slot indices the kernels use (kern_ref_tmpl.h).
 */
static const struct rt_slot_desc slots[FTSRT_OPTIM_NKINDS][5] = {
	[FTSRT_OPTIM_SGD] = {{"momentum_buffer", RT_SLOT_PARAM, 0}},
	[FTSRT_OPTIM_ADAM] = {{"step", RT_SLOT_SCALAR, -1}, {"exp_avg", RT_SLOT_PARAM, 0},
			      {"exp_avg_sq", RT_SLOT_PARAM, 1}, {"max_exp_avg_sq", RT_SLOT_PARAM, 2}},
	[FTSRT_OPTIM_ADAMW] = {{"step", RT_SLOT_SCALAR, -1}, {"exp_avg", RT_SLOT_PARAM, 0},
			       {"exp_avg_sq", RT_SLOT_PARAM, 1}, {"max_exp_avg_sq", RT_SLOT_PARAM, 2}},
	[FTSRT_OPTIM_ADAGRAD] = {{"step", RT_SLOT_SCALAR, -1}, {"sum", RT_SLOT_PARAM, 0}},
	[FTSRT_OPTIM_ADADELTA] = {{"step", RT_SLOT_SCALAR, -1}, {"square_avg", RT_SLOT_PARAM, 0},
				  {"acc_delta", RT_SLOT_PARAM, 1}},
	[FTSRT_OPTIM_ADAMAX] = {{"step", RT_SLOT_SCALAR, -1}, {"exp_avg", RT_SLOT_PARAM, 0},
				{"exp_inf", RT_SLOT_PARAM, 1}},
	[FTSRT_OPTIM_NADAM] = {{"step", RT_SLOT_SCALAR, -1}, {"mu_product", RT_SLOT_SCALAR, -1},
			       {"exp_avg", RT_SLOT_PARAM, 0}, {"exp_avg_sq", RT_SLOT_PARAM, 1}},
	[FTSRT_OPTIM_RADAM] = {{"step", RT_SLOT_SCALAR, -1}, {"exp_avg", RT_SLOT_PARAM, 0},
			       {"exp_avg_sq", RT_SLOT_PARAM, 1}},
	[FTSRT_OPTIM_RMSPROP] = {{"step", RT_SLOT_SCALAR, -1}, {"square_avg", RT_SLOT_PARAM, 0},
				 {"momentum_buffer", RT_SLOT_PARAM, 1}, {"grad_avg", RT_SLOT_PARAM, 2}},
	[FTSRT_OPTIM_RPROP] = {{"step", RT_SLOT_SCALAR, -1}, {"prev", RT_SLOT_PARAM, 0},
			       {"step_size", RT_SLOT_PARAM, 1}},
	[FTSRT_OPTIM_ASGD] = {{"step", RT_SLOT_SCALAR, -1}, {"eta", RT_SLOT_SCALAR, -1},
			      {"mu", RT_SLOT_SCALAR, -1}, {"ax", RT_SLOT_PARAM, 0}},
	[FTSRT_OPTIM_ADAFACTOR] = {{"step", RT_SLOT_SCALAR, -1}, {"variance", RT_SLOT_PARAM, 0},
				   {"row_var", RT_SLOT_FACTORED, -1},
				   {"col_var", RT_SLOT_FACTORED, -1}},
	[FTSRT_OPTIM_MUON] = {{"momentum_buffer", RT_SLOT_PARAM, 0}},
};

const struct rt_slot_desc *rt_optim_slots(int kind)
{
	return slots[kind];
}

int rt_optim_nslots(int kind)
{
	int n = 0;
	while (n < 5 && slots[kind][n].name)
		n++;
	return n;
}

FTSRT_API int ftsrt_optim_kind_slot(int32_t kind, int32_t i, const char **name, int32_t *shape,
				    ftsrt_error *err)
{
	if (kind < 0 || kind >= FTSRT_OPTIM_NKINDS)
		return rt_error(err, FTSRT_EINVAL, "no optimizer kind %" PRId32, kind);
	if (i < 0 || i >= rt_optim_nslots(kind))
		return rt_error(err, FTSRT_EINVAL, "%s has no state slot %" PRId32, kind_names[kind], i);
	if (name)
		*name = slots[kind][i].name;
	if (shape)
		*shape = slots[kind][i].shape;
	return FTSRT_OK;
}

FTSRT_API const char *ftsrt_optim_kind_name(int32_t kind)
{
	if (kind < 0 || kind >= FTSRT_OPTIM_NKINDS)
		return NULL;
	return kind_names[kind];
}

FTSRT_API int ftsrt_optim_kind_from_name(const char *name, int32_t *kind, ftsrt_error *err)
{
	if (!name || !kind)
		return rt_error(err, FTSRT_EINVAL, "ftsrt_optim_kind_from_name: NULL argument");
	const char *full = name;
	if (strncmp(name, "torch.optim.", 12) == 0)
		name += 12;
	for (int k = 0; k < FTSRT_OPTIM_NKINDS; k++)
		if (strcasecmp(name, kind_names[k]) == 0) {
			*kind = k;
			return FTSRT_OK;
		}
	return rt_error(err, FTSRT_EINVAL, "'%s' is not an optimizer libftsrt implements", full);
}
