/*
 * check.c - schedule-wide rules over the lowered schedule (ir.h).
 *
 * One static function per rule: disjointness (V-D1), tied-alias deferral
 * (V-P4 note), epoch-driven mode (V-ETO), the final phase's epoch (V-FM),
 * max_transition_epoch order (V-E0) and reachability, max_depth coverage,
 * empty phases (V-T4) and the never-thawed parameter report.
 */
#include "lower.h"

#include <stdlib.h>
#include <string.h>

/* The phase slot (in ir->phases) of every manifest entry: -1 = never
 * thawed.  4 bytes an entry: phase_index() gives the phase's number. */
static int32_t *phase_of(struct fts_ir *ir)
{
	const struct fts_manifest *m = ir->manifest;
	int32_t *ph = fts_arena_alloc_raw(ir->arena, (size_t)m->n * sizeof(*ph));
	for (uint32_t i = 0; i < m->n; i++)
		ph[i] = -1;
	for (uint32_t k = 0; k < ir->nphases; k++)
		for (uint32_t j = 0; j < ir->phases[k].nparams; j++) {
			uint32_t idx = ir->phases[k].params[j].index;
			if (ph[idx] < 0)
				ph[idx] = (int32_t)k;
		}
	return ph;
}

/* The phase number of slot s (-1 for -1). */
static int64_t phase_index(const struct fts_ir *ir, int32_t s)
{
	return s < 0 ? -1 : ir->phases[s].index;
}

/* Why a pattern matches more than meant, when its text says so; NULL otherwise. */
static const char *overmatch_cause(const char *t)
{
	size_t n = strlen(t);
	if (n == 0)
		return "an empty pattern matches every parameter name (re.match(\"\", name) always succeeds)";
	if (t[0] == '|' || t[n - 1] == '|' || strstr(t, "||") || strstr(t, "(|") || strstr(t, "|)"))
		return "it has an empty alternative ('|' with nothing on one side), which matches every name";
	return NULL;
}

static const struct fts_node *params_node(const struct fts_ir_phase *ph)
{
	if (!ph->node || ph->node->kind != FTS_N_MAP)
		return NULL;
	struct fts_pair *p = fts_node_get(ph->node, "params");
	return p ? p->value : NULL;
}

/* The phase slot k whose params hold global slot s: base[k] <= s < base[k + 1]
 * (the last such k: phases without params share their base). */
static uint32_t first_phase(const uint32_t *base, uint32_t nphases, uint32_t s)
{
	uint32_t lo = 0, hi = nphases;
	while (hi - lo > 1) {
		uint32_t mid = lo + (hi - lo) / 2;
		if (base[mid] <= s)
			lo = mid;
		else
			hi = mid;
	}
	return lo;
}

/*
 * V-D1: every resolved name at most once over all phases.  One error per
 * params entry that repeats parameters (with their count), blaming what
 * makes it do so: the same name, a pattern's prefix match, an empty pattern
 * or alternative, a YAML alias of an earlier phase's list.
 */
static void check_disjoint(struct fts_ir *ir, struct fts_diags *d)
{
	const struct fts_manifest *m = ir->manifest;
	/* the first (phase slot k, param slot j) that thawed each manifest
	 * entry, as one number base[k] + j (4 bytes an entry) */
	uint32_t *base = fts_xmalloc(((size_t)ir->nphases + 1) * sizeof(*base));
	size_t total_params = 0;
	for (uint32_t k = 0; k < ir->nphases; k++) {
		base[k] = (uint32_t)total_params;
		total_params += ir->phases[k].nparams;
		if (total_params >= UINT32_MAX)
			fts_oom();      /* 4G thawings: the IR alone holds 32 GB */
	}
	base[ir->nphases] = (uint32_t)total_params;
	uint32_t *first = fts_xmalloc((size_t)m->n * sizeof(*first));
	for (uint32_t i = 0; i < m->n; i++)
		first[i] = UINT32_MAX;
#define FIRST_PH(idx) first_phase(base, ir->nphases, first[idx])
#define FIRST_PA(idx) (first[idx] - base[FIRST_PH(idx)])
	for (uint32_t k = 0; k < ir->nphases; k++) {
		struct fts_ir_phase *ph = &ir->phases[k];
		/* per entry: how many it repeats, and the first one */
		uint32_t *cnt = fts_arena_alloc(ir->arena, (ph->nentries + 1) * sizeof(*cnt));
		uint32_t *fj = fts_arena_alloc(ir->arena, (ph->nentries + 1) * sizeof(*fj));
		uint32_t *fk = fts_arena_alloc(ir->arena, (ph->nentries + 1) * sizeof(*fk));
		uint32_t *fi = fts_arena_alloc(ir->arena, (ph->nentries + 1) * sizeof(*fi));
		memset(cnt, 0, (ph->nentries + 1) * sizeof(*cnt));
		uint32_t total = 0, first_k = UINT32_MAX;
		for (uint32_t j = 0; j < ph->nparams; j++) {
			uint32_t idx = ph->params[j].index, e = ph->params[j].entry;
			if (first[idx] == UINT32_MAX) {
				first[idx] = base[k] + j;
				continue;
			}
			if (FIRST_PH(idx) == k) {
				/* a name taken twice in this phase: when the earlier entry is a pattern
				 * that matches everything, the pattern is to blame */
				uint32_t oe = ph->params[FIRST_PA(idx)].entry;
				const struct fts_ir_entry *oen = &ph->entries[oe];
				if (!oen->exact && oen->text && overmatch_cause(oen->text)) {
					if (!cnt[oe]++) {
						fj[oe] = j;     /* the later entry that lists it */
						fk[oe] = k;
						fi[oe] = idx;
					}
					total++;
					if (first_k == UINT32_MAX)
						first_k = k;
					continue;
				}
			}
			if (!cnt[e]++) {
				fj[e] = FIRST_PA(idx);
				fk[e] = FIRST_PH(idx);
				fi[e] = idx;
			}
			if (first_k == UINT32_MAX)
				first_k = FIRST_PH(idx);
			total++;
		}
		if (!total)
			continue;
		/* params: *x -- an earlier phase's list again */
		const struct fts_node *pn = params_node(ph);
		if (pn && pn->is_alias && first_k != k) {
			struct fts_diag *dg = fts_diag(d, FTS_E_DISJOINT, pn->span, fts_arena_printf(
				ir->arena, "phase %lld's params is the alias *%s: it repeats the list of phase %lld, "
				"whose %u parameter%s %s already thawed there", (long long)ph->index,
				pn->anchor ? pn->anchor : "?", (long long)ir->phases[first_k].index, total,
				total == 1 ? "" : "s", total == 1 ? "is" : "are"));
			const struct fts_node *an = params_node(&ir->phases[first_k]);
			if (an)
				fts_diag_note(d, dg, an->span, "the list is anchored here (&%s)",
					      pn->anchor ? pn->anchor : "?");
			fts_diag_help(d, dg, "give phase %lld its own parameters", (long long)ph->index);
			continue;
		}
		for (uint32_t e = 0; e < ph->nentries; e++) {
			if (!cnt[e])
				continue;
			struct fts_ir_entry *en = &ph->entries[e];
			struct fts_ir_phase *oph = &ir->phases[fk[e]];
			struct fts_ir_entry *oen = &oph->entries[oph->params[fj[e]].entry];
			const char *name = fts_mp_cname(ir->arena, m, &m->p[fi[e]]);
			bool same = fk[e] == k;
			const char *where = cnt[e] > 1
				? fts_arena_printf(ir->arena, "thawed by other entries (the first in phase %lld)",
						   (long long)oph->index)
				: same ? fts_arena_printf(ir->arena, "listed in phase %lld", (long long)ph->index)
				: fts_arena_printf(ir->arena, "thawed in phase %lld", (long long)oph->index);
			const char *what = cnt[e] == 1 ? fts_arena_printf(ir->arena, "'%s'", name)
				: fts_arena_printf(ir->arena, "%u parameters ('%s', ...)", cnt[e], name);
			const char *msg;
			if (en->exact)
				msg = same ? fts_arena_printf(ir->arena, "parameter '%s' is listed twice in phase %lld",
							      name, (long long)ph->index)
					   : fts_arena_printf(ir->arena, "parameter '%s' is already thawed in phase %lld",
							      name, (long long)oph->index);
			else
				msg = fts_arena_printf(ir->arena, "parameter pattern '%s' also matches %s, already %s",
						       en->text, what, where);
			struct fts_diag *dg = fts_diag(d, FTS_E_DISJOINT, en->node->span, msg);
			const char *cause = en->exact ? NULL : overmatch_cause(en->text);
			if (cause)
				fts_diag_note(d, dg, en->node->span, "%s", cause);
			if (en->node->is_alias && en->node->anchor)
				fts_diag_note(d, dg, en->node->span, "it is the alias *%s of an entry written earlier",
					      en->node->anchor);
			if (oen->exact)
				fts_diag_note(d, dg, oen->node->span, "phase %lld thawed '%s' here",
					      (long long)oph->index, name);
			else
				fts_diag_note(d, dg, oen->node->span, "phase %lld thawed '%s' here, through pattern '%s'",
					      (long long)oph->index, name, oen->text);
			if (cause)
				fts_diag_help(d, dg, "remove the empty alternative (or the empty pattern)");
			else if (!en->exact)
				fts_diag_help(d, dg, "FTS applies patterns with re.match, a prefix match: "
					      "end the pattern at a segment boundary (escape dots as '\\.')");
		}
	}
#undef FIRST_PH
#undef FIRST_PA
	free(first);
	free(base);
}

/* V-P4 note: in which phase a pruned tied alias is really thawed. */
static void note_tied(struct fts_ir *ir, struct fts_diags *d, const int32_t *phase)
{
	const struct fts_manifest *m = ir->manifest;
	for (uint32_t k = 0; k < ir->nphases; k++) {
		struct fts_ir_phase *ph = &ir->phases[k];
		for (uint32_t e = 0; e < ph->nentries; e++) {
			struct fts_ir_entry *en = &ph->entries[e];
			if (!en->exact || en->nmatched || !en->text)
				continue;
			for (uint32_t i = 0; i < m->n; i++) {
				if (m->p[i].tied_to < 0 || m->p[i].len != strlen(en->text) ||
				    memcmp(fts_mp_name(m, &m->p[i]), en->text, m->p[i].len) != 0)
					continue;
				uint32_t src = (uint32_t)m->p[i].tied_to;
				/* find the warning already reported for this entry and add the note */
				for (size_t q = 0; q < d->n; q++) {
					struct fts_diag *dg = d->v[q];
					if (dg->id != FTS_W_PARAM_TIED || dg->span.start != en->node->span.start ||
					    dg->span.file != en->node->span.file)
						continue;
					if (phase_index(ir, phase[src]) < 0)
						fts_diag_note(d, dg, FTS_SPAN_NONE,
							      "'%.*s' is in no phase, so the tied tensor is never thawed",
							      (int)m->p[src].len, fts_mp_name(m, &m->p[src]));
					else if (phase_index(ir, phase[src]) != ph->index)
						fts_diag_note(d, dg, FTS_SPAN_NONE,
							      "the tied tensor is thawed in phase %lld, with '%.*s', not in phase %lld",
							      (long long)phase_index(ir, phase[src]), (int)m->p[src].len, fts_mp_name(m, &m->p[src]),
							      (long long)ph->index);
				}
			}
		}
	}
}

static struct fts_span phase_span(const struct fts_ir_phase *ph)
{
	return ph->key ? ph->key->span : FTS_SPAN_NONE;
}

static struct fts_span mte_span(const struct fts_ir_phase *ph)
{
	return ph->mte_node ? ph->mte_node->span : phase_span(ph);
}

/* V-ETO, V-FM, V-E0, reachability and phase 0's zero-epoch transition. */
static void check_epochs(struct fts_ir *ir, struct fts_diags *d)
{
	const struct fts_settings *s = &ir->settings;
	if (ir->nphases == 0)
		return;
	if (s->epoch_transitions_only)
		for (uint32_t k = 0; k < ir->nphases; k++)
			if (ir->phases[k].mte < 0 && ir->phases[k].node)
				fts_diag(d, FTS_E_ETO_MISSING, phase_span(&ir->phases[k]),
					 (long long)ir->phases[k].index);
	/* V-FM: the last schedule phase (not max_depth's) */
	int64_t max_epochs = s->max_epochs;
	struct fts_ir_phase *lastp = &ir->phases[ir->nphases - 1];
	if (lastp->mte >= 0) {
		int64_t z = -1;
		for (uint32_t k = 1; k < ir->nphases; k++)
			if (ir->phases[k].mte > z)
				z = ir->phases[k].mte;
		if (z > max_epochs)
			max_epochs = z;
		fts_diag(d, FTS_W_FINAL_MTE, mte_span(lastp), (long long)lastp->mte,
			 (long long)max_epochs);
	}
	/* V-E0: watermark over phases 1..d-1 */
	int64_t mark = -1;
	uint32_t mark_phase = 0;
	/* epoch-transitions-only: phase k starts at epoch start (the check runs at each
	 * epoch's start: a phase ends before the first epoch E >= its mte, and trains at
	 * least one), so an mte at or before its start is a one-epoch phase */
	int64_t start = ir->phases[0].mte >= 0 ? ir->phases[0].mte : -1;
	for (uint32_t k = 1; k < ir->nphases; k++) {
		struct fts_ir_phase *ph = &ir->phases[k];
		bool e0 = ph->mte >= 0 && mark >= 0 && ph->mte <= mark;
		if (e0)
			fts_diag(d, FTS_W_MTE_ORDER, mte_span(ph), (long long)ph->mte,
				 (long long)ph->index, (long long)mark, (long long)mark_phase);
		if (ph->mte > mark) {
			mark = ph->mte;
			mark_phase = (uint32_t)ph->index;
		}
		if (!s->epoch_transitions_only || start < 0 || ph->mte < 0 || (int64_t)k >= ir->max_depth)
			continue;
		if (ph->mte <= start && !e0)
			fts_diag(d, FTS_W_MTE_BEFORE_START, mte_span(ph), (long long)ph->mte,
				 (long long)ph->index, (long long)start, (long long)start, (long long)start + 1);
		start = ph->mte > start + 1 ? ph->mte : start + 1;
	}
	/* transitions that cannot happen before max_epochs */
	int64_t depth = ir->max_depth;
	for (uint32_t k = 0; k < ir->nphases && (int64_t)k < depth; k++) {
		struct fts_ir_phase *ph = &ir->phases[k];
		if (max_epochs >= 0 && ph->mte >= max_epochs)   /* -1: Lightning's no limit */
			fts_diag(d, FTS_W_MTE_UNREACHABLE, mte_span(ph), (long long)ph->mte,
				 (long long)ph->index, (long long)max_epochs);
	}
	if (ir->phases[0].mte == 0 && depth > 0) {
		if (s->restore_best)
			fts_diag(d, FTS_E_NO_CHECKPOINT_YET, mte_span(&ir->phases[0]));
		else
			fts_diag(d, FTS_W_PHASE0_MTE0, mte_span(&ir->phases[0]));
	}
}

/* Phases after max_depth, and parameters that are never thawed. */
static void check_depth_and_coverage(struct fts_ir *ir, struct fts_diags *d, const int32_t *phase)
{
	const struct fts_manifest *m = ir->manifest;
	for (uint32_t k = 0; k < ir->nphases; k++) {
		struct fts_ir_phase *ph = &ir->phases[k];
		if (ph->node && ph->nparams == 0 && ph->index <= ir->max_depth) {
			bool any_pruned = false;
			for (uint32_t e = 0; e < ph->nentries; e++)
				if (ph->entries[e].exact && !ph->entries[e].nmatched)
					any_pruned = true;
			if (k == 0)
				fts_diag(d, FTS_E_PHASE0_EMPTY, phase_span(ph));
			else if (!any_pruned || ph->nentries)
				fts_diag(d, FTS_W_EMPTY_PHASE, phase_span(ph), (long long)ph->index);
		}
	}
	/* one warning for all the phases max_depth cuts off, at the first */
	uint32_t first_beyond = ir->nphases, nbeyond = 0;
	/* only a max_depth given cuts phases off: without one, a phase past the
	 * last contiguous key is the key error's doing (FTS-K3), not a second problem */
	if (ir->settings.max_depth >= 0)
		for (uint32_t k = 0; k < ir->nphases; k++)
			if (ir->phases[k].index > ir->max_depth) {
				if (first_beyond == ir->nphases)
					first_beyond = k;
				nbeyond++;
			}
	if (nbeyond) {
		const struct fts_ir_phase *f = &ir->phases[first_beyond], *l = &ir->phases[ir->nphases - 1];
		const char *what = nbeyond == 1
			? fts_arena_printf(ir->arena, "phase %lld is", (long long)f->index)
			: fts_arena_printf(ir->arena, "phases %lld to %lld are", (long long)f->index,
					   (long long)l->index);
		struct fts_diag *dg = fts_diag(d, FTS_W_BEYOND_MAX_DEPTH, phase_span(f), what,
					       (long long)ir->max_depth, nbeyond == 1 ? "s"
					       : fts_arena_printf(ir->arena, " (%u phases)", nbeyond));
		size_t cut = 0;
		for (uint32_t i = 0; i < m->nsched; i++)
			if (phase_index(ir, phase[fts_sched(m, i)]) > ir->max_depth)
				cut++;
		if (cut)
			fts_diag_note(d, dg, FTS_SPAN_NONE, "so %zu parameter%s listed there %s never thawed",
				      cut, cut == 1 ? "" : "s", cut == 1 ? "is" : "are");
	}
	/* parameters no phase thaws (those of the phases cut off are counted above) */
	size_t never = 0, first = 0;
	for (uint32_t i = 0; i < m->nsched; i++) {
		uint32_t idx = fts_sched(m, i);
		if (phase[idx] < 0) {
			if (!never)
				first = idx;
			never++;
		}
	}
	if (never && ir->nphases) {
		struct fts_diag *dg = fts_diag(d, FTS_W_UNSCHEDULED, phase_span(&ir->phases[0]),
					       never, (size_t)m->nsched);
		fts_diag_note(d, dg, fts_mp_span(m, &m->p[first]), "'%.*s' is one of them", (int)m->p[first].len,
			      fts_mp_name(m, &m->p[first]));
	}
}

void fts_check_schedule(struct fts_ir *ir, struct fts_diags *d)
{
	if (!ir->manifest || ir->nphases == 0)
		return;
	int32_t *phase = phase_of(ir);
	check_disjoint(ir, d);
	note_tied(ir, d, phase);
	check_epochs(ir, d);
	check_depth_and_coverage(ir, d, phase);
}
