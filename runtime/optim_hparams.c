/*
 * optim_hparams.c - the hyper-parameters of each optimizer kind as torch
 * defines them: the constructor defaults (ftsrt_optim_hparams_default) and
 * the constructor checks, refused with torch's messages.
 *
 * Stage: runtime (optimizers).  optim.c checks every group it is given
 * here; the defaults are public (ftsrt.h) for the plan reader (sem.c) and
 * for callers that build an optimizer themselves.
 */
#include "optim_int.h"
#include "err.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

void rt_optim_hparams_default(int kind, struct ftsrt_optim_hparams *hp)
{
	memset(hp, 0, sizeof(*hp));
	hp->struct_size = sizeof(*hp);
	hp->lr = 1e-3;
	hp->beta1 = 0.9;
	hp->beta2 = 0.999;
	hp->eps = 1e-8;
	hp->eps1 = NAN;
	hp->rho = 0.9;
	hp->momentum_decay = 4e-3;
	hp->alpha = 0.99;
	hp->lambd = 1e-4;
	hp->t0 = 1e6;
	hp->etaminus = 0.5;
	hp->etaplus = 1.2;
	hp->step_size_min = 1e-6;
	hp->step_size_max = 50;
	hp->beta2_decay = -0.8;
	hp->d = 1.0;
	hp->ns_a = 3.4445;
	hp->ns_b = -4.775;
	hp->ns_c = 2.0315;
	hp->ns_steps = 5;
	hp->muon_bf16 = 1;
	hp->muon_use_addmm = 1;
	switch (kind) {
	case FTSRT_OPTIM_ADAMW:
		hp->weight_decay = 0.01;
		hp->decoupled_weight_decay = 1;
		break;
	case FTSRT_OPTIM_ADAGRAD:
		hp->lr = 0.01;
		hp->eps = 1e-10;
		break;
	case FTSRT_OPTIM_ADADELTA:
		hp->lr = 1.0;
		hp->eps = 1e-6;
		break;
	case FTSRT_OPTIM_ADAMAX:
	case FTSRT_OPTIM_NADAM:
		hp->lr = 2e-3;
		break;
	case FTSRT_OPTIM_RMSPROP:
		hp->lr = 0.01;
		break;
	case FTSRT_OPTIM_RPROP:
	case FTSRT_OPTIM_ASGD:
		hp->lr = 0.01;
		hp->alpha = (kind == FTSRT_OPTIM_ASGD) ? 0.75 : hp->alpha;
		break;
	case FTSRT_OPTIM_ADAFACTOR:
		hp->lr = 0.01;
		hp->eps = 1e-3;
		break;
	case FTSRT_OPTIM_MUON:
		hp->weight_decay = 0.1;
		hp->momentum = 0.95;
		hp->nesterov = true;
		hp->eps = 1e-7;
		break;
	default:
		break;
	}
}

FTSRT_API int ftsrt_optim_hparams_default(int32_t kind, struct ftsrt_optim_hparams *hp,
					  ftsrt_error *err)
{
	if (!hp)
		return rt_error(err, FTSRT_EINVAL, "ftsrt_optim_hparams_default: NULL hp");
	if (kind < 0 || kind >= FTSRT_OPTIM_NKINDS)
		return rt_error(err, FTSRT_EINVAL, "no optimizer kind %" PRId32, kind);
	struct ftsrt_optim_hparams h;
	rt_optim_hparams_default(kind, &h);
	return rt_struct_out(hp, &h, sizeof(h), "ftsrt_optim_hparams", err);
}

/* A refused value: torch's message into err, FTSRT_EINVAL. */
#define REFUSE(...) (snprintf(err, errlen, __VA_ARGS__), FTSRT_EINVAL)

int rt_optim_check_hparams(int kind, const struct ftsrt_optim_hparams *h, char *err, size_t errlen)
{
	const double all[] = {h->lr, h->weight_decay, h->momentum, h->dampening, h->beta1, h->beta2,
			      h->eps, h->lr_decay, h->initial_accumulator_value, h->rho,
			      h->momentum_decay, h->alpha, h->lambd, h->t0, h->etaminus, h->etaplus,
			      h->step_size_min, h->step_size_max, h->beta2_decay, h->d, h->ns_a,
			      h->ns_b, h->ns_c};
	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
		if (!isfinite(all[i]))
			return REFUSE("non-finite hyper-parameter");
	if (!isnan(h->eps1) && !isfinite(h->eps1))
		return REFUSE("non-finite hyper-parameter");
	if (!(h->lr >= 0))
		return REFUSE("Invalid learning rate: %g", h->lr);
	if (!(h->weight_decay >= 0))
		return REFUSE("Invalid weight_decay value: %g", h->weight_decay);
	if (!(h->eps >= 0))
		return REFUSE("Invalid epsilon value: %g", h->eps);
	switch (kind) {
	case FTSRT_OPTIM_SGD:
		if (!(h->momentum >= 0))
			return REFUSE("Invalid momentum value: %g", h->momentum);
		if (h->nesterov && (h->momentum <= 0 || h->dampening != 0))
			return REFUSE("Nesterov momentum requires a momentum and zero dampening");
		break;
	case FTSRT_OPTIM_ADAM:
	case FTSRT_OPTIM_ADAMW:
	case FTSRT_OPTIM_ADAMAX:
	case FTSRT_OPTIM_NADAM:
	case FTSRT_OPTIM_RADAM:
		if (!(h->beta1 >= 0 && h->beta1 < 1))
			return REFUSE("Invalid beta parameter at index 0: %g", h->beta1);
		if (!(h->beta2 >= 0 && h->beta2 < 1))
			return REFUSE("Invalid beta parameter at index 1: %g", h->beta2);
		if (kind == FTSRT_OPTIM_NADAM && !(h->momentum_decay >= 0))
			return REFUSE("Invalid momentum_decay value: %g", h->momentum_decay);
		break;
	case FTSRT_OPTIM_ADAGRAD:
		if (!(h->lr_decay >= 0))
			return REFUSE("Invalid lr_decay value: %g", h->lr_decay);
		if (!(h->initial_accumulator_value >= 0))
			return REFUSE("Invalid initial_accumulator_value value: %g",
				      h->initial_accumulator_value);
		break;
	case FTSRT_OPTIM_ADADELTA:
		if (!(h->rho >= 0 && h->rho <= 1))
			return REFUSE("Invalid rho value: %g", h->rho);
		break;
	case FTSRT_OPTIM_RMSPROP:
		if (!(h->momentum >= 0))
			return REFUSE("Invalid momentum value: %g", h->momentum);
		if (!(h->alpha >= 0))
			return REFUSE("Invalid alpha value: %g", h->alpha);
		break;
	case FTSRT_OPTIM_RPROP:
		if (!(0 < h->etaminus && h->etaminus < 1 && 1 < h->etaplus))
			return REFUSE("Invalid eta values: %g, %g", h->etaminus, h->etaplus);
		if (!(h->step_size_min <= h->step_size_max))
			return REFUSE("step_sizes must be ordered");
		break;
	case FTSRT_OPTIM_ADAFACTOR:
		if (!(h->beta2_decay <= 0))
			return REFUSE("beta2_decay should be <= 0 but is: %g", h->beta2_decay);
		if (!isnan(h->eps1) && !(h->eps1 >= 0))
			return REFUSE("epsilon1 should be >= 0 but is: %g", h->eps1);
		if (!(h->d >= 1))
			return REFUSE("Clipping threshold d should be >= 1 but is: %g", h->d);
		break;
	case FTSRT_OPTIM_MUON:
		if (!(h->momentum >= 0))
			return REFUSE("momentum should be >= 0 but is: %g", h->momentum);
		if (h->ns_steps < 0 || h->ns_steps >= 100)
			return REFUSE("Number of steps must be less than 100 for computational efficiency");
		if (h->adjust_lr_fn != FTSRT_MUON_ADJUST_ORIGINAL &&
		    h->adjust_lr_fn != FTSRT_MUON_ADJUST_MATCH_RMS_ADAMW)
			return REFUSE("Adjust learning rate function %d is not supported", h->adjust_lr_fn);
		break;
	default:
		break;
	}
	return FTSRT_OK;
}
