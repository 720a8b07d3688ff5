/*
 * verify_lrs.h - replay one torch golden/lrs case through the runtime's
 * schedulers (`ftsrun verify`).
 *
 * Stage: runtime tooling.  verify_lrs.c reads YAML with libyaml, so it
 * belongs to the ftsrun tool and the tests, not to libftsrt proper: the
 * library never links libyaml.
 */
#ifndef RT_VERIFY_LRS_H
#define RT_VERIFY_LRS_H

#include <stddef.h>

/* Relative tolerance of every compared lr and momentum/beta1. */
#define RT_VERIFY_LRS_RTOL 1e-12

/*
 * Replay the golden case at yaml_path (format: shared/README.md, "golden/lrs"):
 * build the scheduler its lr_scheduler_init names (children, lambda_expr,
 * metrics included) over len(base_lrs) groups of an optimizer whose
 * momentum (or beta1) comes from the `optimizer` line, then compare lrs[0]
 * after construction and lrs[i] after the i-th step, and momentum_or_beta1
 * likewise.  A value passes when |got - want| <= RT_VERIFY_LRS_RTOL * |want|
 * (or <= RT_VERIFY_LRS_RTOL when want is 0).
 *
 * Returns 0 when everything passes, 1 when a value is off (msg names the
 * first one), or a negative FTSRT_* status: FTSRT_EIO (unreadable file),
 * FTSRT_EFORMAT (not a golden case), FTSRT_EINVAL (the scheduler refused
 * it), FTSRT_ENOMEM.  *max_rel_err (may be NULL) receives the largest
 * relative error seen; msg (may be NULL) a one-line summary or the reason.
 */
int rt_verify_lrs_case(const char *yaml_path, double *max_rel_err, char *msg, size_t msglen);

#endif /* RT_VERIFY_LRS_H */
