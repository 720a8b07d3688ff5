/*
 * run_impl.h - the state of a run (struct ftsrt_run) and the functions the
 * execution engine's files share: run.c (the state machine: construction,
 * transitions, early stopping, the loop), run_groups.c (parameter groups,
 * the optimizer and the lr scheduler built from the plan's class records),
 * run_ckpt.c (the checkpoint body, best/last checkpoints, save and resume)
 * and run_bind.c (the parameters' memory and its binding).
 *
 * Stage: runtime (plan execution).  Only those files include it; the
 * synthetic task and the tests see the engine through run_int.h.
 */
#ifndef RT_RUN_IMPL_H
#define RT_RUN_IMPL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ckpt.h"
#include "err.h"
#include "ftsrt.h"
#include "lrsched.h"
#include "optim_int.h"
#include "plan.h"
#include "run_int.h"
#include "sem.h"

#define RT_RUN_MAX_NDIM 8
#define RT_RUN_NEVENTS 64

enum { RT_SRC_NONE, RT_SRC_OLD, RT_SRC_CKPT };  /* where a parameter's state comes from */
enum { RT_POS_VALIDATED = 1, RT_POS_EPOCH_DONE, RT_POS_EPOCH_STARTED }; /* checkpoint positions */

struct rt_run_param {
	size_t off;                     /* first element in the arenas */
	size_t numel;                   /* elements (scaled shape) */
	int ndim;                       /* dimensions */
	int64_t shape[RT_RUN_MAX_NDIM]; /* scaled shape */
	bool tied;                      /* an alias: no storage, never grouped */
	int oidx;                       /* optimizer tensor index, -1 when tied */
	int group;                      /* its parameter group, -1 when none */
	bool thawed;                    /* requires_grad */
	int src;                        /* state source at the next rebuild */
	const uint8_t *ck;              /* RT_SRC_CKPT: its state record in r->img */
	void *bp, *bg;                  /* per-tensor binding, or NULL */
};

struct rt_run_group {
	struct ftsrt_optim_hparams hp;  /* hyper-parameters (hp.lr unused: see sg.lr) */
	int32_t *params;                /* manifest indices, owned */
	int nparams;                    /* entries in params */
};

struct rt_run_ev {
	struct ftsrt_run_event ev;      /* public part; text points at buf */
	char buf[480];                  /* the text */
};

/* A run: everything the engine knows between calls. */
struct ftsrt_run {
	const struct rt_plan *plan;     /* borrowed */
	ftsrt_alloc_fn alloc;           /* never NULL */
	void *ud;                       /* allocator context */
	struct ftsrt_run_options opt;   /* copy (ckpt_dir points at ckdir) */
	char *ckdir;                    /* owned copy of opt.ckpt_dir */
	int ck_lock;                    /* the checkpoint directory's lock (fd), or -1 */
	char err[768];                  /* last error */
	size_t es;                      /* element size of the dtype */
	size_t ses;                     /* element size of the optimizer state (float32 beside
					 * master weights, else es) */
	/* manifest */
	struct rt_run_param *p;         /* plan->nparams entries */
	int np;                         /* parameters */
	size_t numel;                   /* elements of an arena */
	/* shard (SHARDED RUNS in ftsrt.h): the slice [sb, se) whose state this rank keeps */
	int shard_rank, shard_world;    /* 0 and 1 when not sharded */
	size_t sb, se;                  /* [0, numel) when not sharded */
	/* binding */
	void *ap, *ag;                  /* the arenas (job's or own) */
	bool tensor_mode;               /* per-tensor binding: ap/ag are ours */
	/* position */
	int depth;                      /* curr_depth */
	int max_depth;                  /* the last phase that runs */
	long epoch;                     /* current epoch */
	long batch;                     /* steps taken in this epoch */
	long global_step;               /* steps taken in the run */
	int stop;                       /* enum ftsrt_run_stop */
	/* optimizer */
	int opt_rec;                    /* class record of the current optimizer */
	int opt_kind;                   /* its enum ftsrt_optim_kind */
	int opt_phase;                  /* phase whose new_optimizer made it; 0 initial, -1 reinit_optim_cfg */
	struct ftsrt_optim_hparams def; /* its defaults */
	ftsrt_optim *o;                 /* the optimizer object, or NULL before the first rebuild;
					 * in an external run it holds the groups only (no state) */
	uint64_t opt_gen;               /* optimizers replaced so far (ftsrt_run_optimizer) */
	bool dirty;                     /* groups changed: rebuild before the next step */
	/* groups: identity, lr and initial_lr (NaN absent) in sg, as sem.c keeps
	 * them (the scheduler's rt_pg views sg.lr and sg.init); parameters and
	 * hyper-parameters in g, momentum/beta1 in mom */
	struct sem_groups sg;
	struct rt_run_group *g;         /* ng groups */
	double *mom;
	int ng, gcap;                   /* groups (== sg.n), capacity of g and mom */
	/* scheduler */
	bool has_sched;                 /* a scheduler is configured */
	struct rt_sched s;              /* it */
	int sched_rec;                  /* its class record */
	bool sched_epoch;               /* interval epoch (else step) */
	bool have_metric;               /* a validation metric has been reported */
	double last_metric;             /* the latest one (Lightning's callback_metrics) */
	uint32_t sched_freq;            /* frequency */
	/* early stopping (2) */
	bool eto;                       /* epoch_transitions_only: no early stopping */
	struct rt_plan_es esc;          /* its configuration */
	double es_best;                 /* best_score, kept across phases */
	long wait;                      /* wait_count */
	bool phase_complete;            /* es_phase_complete */
	bool final_phase;               /* es.final_phase */
	/* checkpoints (7.11) */
	bool ckpt_on;                   /* best checkpoints are written */
	bool have_best;                 /* a best checkpoint exists */
	double ck_best;                 /* its monitor value */
	int best_depth;                 /* best_ckpt_depth */
	long best_epoch;                /* the epoch it was taken */
	uint8_t *best_mem;              /* memory mode: its image */
	size_t best_len;                /* bytes in best_mem */
	uint64_t plan_id;               /* rt_plan_identity of the plan: in every checkpoint */
	char plan_src[160];             /* where the plan came from (its first source file) */
	uint8_t *img;                   /* a checkpoint being restored */
	bool img_borrowed;              /* img is not the run's to free (a resume's snapshot) */
	bool broken;                    /* a failed resume could not be undone: refuse all */
	size_t img_len;                 /* bytes in img */
	rt_ckpt_hook_fn hook;           /* test hook */
	void *hook_ud;                  /* its context */
	/* events */
	struct rt_run_ev ev[RT_RUN_NEVENTS]; /* ring */
	int ev_head, ev_n;              /* oldest, count */
	struct rt_run_ev ev_out;        /* the one last handed out */
};

/* A parsed checkpoint (pointers into r->img); see CHECKPOINT BODY in run_ckpt.c. */
struct rt_ckview {
	int64_t position, epoch, batch, global_step, depth;
	double metric, es_best, ck_best;
	int64_t wait, best_depth, best_epoch;
	bool phase_complete, final_phase, have_best;
	int stop;
	int kind, rec, phase;
	char class_path[160], tag[256];
	struct ftsrt_optim_hparams def;
	size_t groups_pos;              /* offset of the group table */
	int ng;
	bool has_sched;
	int sched_rec, sched_kind;
	const uint8_t *sched;
	size_t sched_len;
	const uint8_t *arena;           /* numel * es bytes */
	const uint8_t **st;             /* per parameter: its state record or NULL (owned) */
};

/* --- memory; messages (run.c) --------------------------------------------- */

/* Every allocation goes through the run's allocator. */
static inline void *rt_run_alloc(ftsrt_run *r, size_t n)
{
	return r->alloc(r->ud, NULL, 0, n ? n : 1);
}

static inline void rt_run_dealloc(ftsrt_run *r, void *p, size_t n)
{
	if (p)
		r->alloc(r->ud, p, n ? n : 1, 0);
}

/* Set the run's message (ftsrt_run_errmsg); returns code. */
#define rt_run_fail(r, code, ...) rt_fail_buf((r)->err, sizeof((r)->err), (code), __VA_ARGS__)

/* Queue an event (the oldest is dropped when the queue is full). */
void rt_run_event(ftsrt_run *r, int kind, int phase, int reason, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

/* FTSRT_OK, or the refusal of a run a failed resume left unusable. */
int rt_run_check_usable(ftsrt_run *r);

/* --- the epoch's end (run.c) ---------------------------------------------- */

/* The epoch-interval scheduler step and what follows it (the last checkpoint). */
int rt_run_epoch_after_validation(ftsrt_run *r, double metric);

/* The next epoch: finished at max_epochs, else its start (a transition perhaps). */
int rt_run_next_epoch(ftsrt_run *r);

/* --- groups, optimizer, scheduler (run_groups.c) -------------------------- */

/* The optimizer's kind and defaults from class record rec (sem.c). */
int rt_run_optim_defaults(ftsrt_run *r, int rec, int *kind, struct ftsrt_optim_hparams *h);

/* Drop every group (the parameters become ungrouped). */
void rt_run_clear_groups(ftsrt_run *r);

/* Append a group of the n parameters idx (copied).  lr and initial_lr as given. */
int rt_run_add_group(ftsrt_run *r, const int *idx, int n, double lr, double init, int phase,
		     bool no_decay, const struct ftsrt_optim_hparams *hp);

/* Thaw phase i's parameters (requires_grad). */
void rt_run_thaw(ftsrt_run *r, int i);

/* Phase 0 (7.1, 7.2): the user's optimizer over phase 0, then the initial scheduler. */
int rt_run_phase0(ftsrt_run *r);

/* reinit_optimizer (7.9) at the transition to depth d, with class record rec. */
int rt_run_reinit_optimizer(ftsrt_run *r, int rec, int d);

/* add_optimizer_groups (7.7) for phase i. */
int rt_run_add_phase_groups(ftsrt_run *r, int i);

/* Make the scheduler's group count agree with the optimizer's (see run.c). */
int rt_run_sched_reconcile(ftsrt_run *r);

/* One scheduler step (metric: ReduceLROnPlateau's, else NULL). */
int rt_run_sched_step(ftsrt_run *r, const double *metric);

/* Construct scheduler rec over the groups (replacing the current one). */
int rt_run_sched_new(ftsrt_run *r, int rec);

/* reinit_lr_scheduler (7.10). */
int rt_run_sched_reinit(ftsrt_run *r, int rec);

/* Copy n elements of slot name into tensor oidx of o (a slot o does not keep: nothing). */
int rt_run_slot_copy_in(ftsrt_run *r, ftsrt_optim *o, int oidx, const char *name, const void *src,
			size_t n);

/* Build a new ftsrt_optim from the groups, carrying state as each param's src says. */
int rt_run_rebuild(ftsrt_run *r);

/* --- checkpoints (run_ckpt.c) --------------------------------------------- */

/* Parse r->img against the run (manifest, plan, layout); rt_run_ckpt_done releases v. */
int rt_run_ckpt_parse(ftsrt_run *r, struct rt_ckview *v);
void rt_run_ckpt_done(ftsrt_run *r, struct rt_ckview *v);

/* The checkpoint's groups; their hyper-parameters are the checkpoint's
 * (hp NULL) or hp (weight_decay 0 in no_decay groups). */
int rt_run_ckpt_apply_groups(ftsrt_run *r, const struct rt_ckview *v, const struct ftsrt_optim_hparams *hp);

/* The checkpoint's weights into the parameters. */
void rt_run_ckpt_apply_weights(ftsrt_run *r, const struct rt_ckview *v);

/* Tensor oidx of o from the checkpoint state record rec (in r->img). */
int rt_run_import_state(ftsrt_run *r, ftsrt_optim *o, int oidx, const uint8_t *rec);

/* Write a checkpoint: best (memory or best.ftsckpt) or last (last.ftsckpt). */
int rt_run_ckpt_write(ftsrt_run *r, bool best, int position, double metric);

/* Load the best checkpoint's image into r->img. */
int rt_run_load_best(ftsrt_run *r);

/* Release r->img (unless it is the memory best checkpoint or borrowed). */
void rt_run_drop_image(ftsrt_run *r);

/* --- the parameters' memory (run_bind.c) ---------------------------------- */

/* Parameter i's elements (the arena's or its own buffer), NULL while unbound. */
void *rt_run_param_data(ftsrt_run *r, int i);

/* Are the parameters (all) bound? */
bool rt_run_bound(const ftsrt_run *r);

#endif /* RT_RUN_IMPL_H */
