/*
 * lrsched_int.h - internals shared by the lr scheduler's files: lrsched.c
 * (names, arguments, construction, groups), lrsched_step.c (the formulas
 * and the steps) and lrsched_state.c (state save and load).
 *
 * Stage: runtime (plan execution).  Only those files include it; the rest
 * of the runtime sees the schedulers through lrsched.h.
 */
#ifndef RT_LRSCHED_INT_H
#define RT_LRSCHED_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "lrsched.h"

/* The per-group double arrays of struct rt_sched, by index (rt_sched_darray):
 * base_lrs, last_lr, min_lrs, max_lrs, base_mom, max_mom, scratch. */
#define RT_SCHED_NARRAYS 7

/* Set the scheduler's message (rt_sched_errmsg); returns status. */
#define rt_sched_fail(s, status, ...) \
	rt_fail_buf((s)->errmsg, sizeof((s)->errmsg), (status), __VA_ARGS__)

/* The address of per-group array i (0 <= i < RT_SCHED_NARRAYS). */
double **rt_sched_darray(struct rt_sched *s, int i);

/* Grow every per-group array to hold at least want entries. */
int rt_sched_reserve(struct rt_sched *s, size_t want);

/* A Python int within the scheduler's bound (RT_SCHED_INT_LIMIT). */
static inline bool rt_sched_int_ok(int64_t v)
{
	return v >= -RT_SCHED_INT_LIMIT && v <= RT_SCHED_INT_LIMIT;
}

/* SequentialLR and ChainedScheduler: schedulers of schedulers. */
static inline bool rt_sched_is_composite(enum rt_sched_kind k)
{
	return k == RT_SCHED_SEQUENTIAL || k == RT_SCHED_CHAINED;
}

/* Python's a / b into *r; ZeroDivisionError as torch raises it. */
int rt_sched_pdiv(struct rt_sched *s, double a, double b, double *r);

/* LRScheduler._initial_step: the step a constructor takes. */
int rt_sched_initial_step(struct rt_sched *s, struct rt_pg *pg);

#endif /* RT_LRSCHED_INT_H */
