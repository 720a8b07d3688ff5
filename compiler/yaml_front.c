/*
 * yaml_front.c - libyaml event stream to the ast.h document tree, read the
 * way PyYAML 6.0's SafeLoader and FTS's UniqueKeyLoader read it (see
 * yaml_front.h for the contract and the alias representation).
 *
 * The tree is built with an explicit stack of open collections (no
 * recursion), bounded by FTS_YAML_MAX_DEPTH.  Each node's weight (size of
 * its expanded subtree) is computed bottom-up; a running total over the
 * document catches alias bombs at the alias that crosses the limit.
 *
 * Marks: libyaml counts marks in characters from the start of the input
 * (a UTF-8 BOM included, since we force UTF-8).  We convert mark.index to
 * a byte offset with a cursor that walks the UTF-8 text, which is exact
 * for every line-break convention libyaml accepts (CR, CRLF, NEL, LS, PS);
 * line and column are derived later from the byte offset.
 *
 * Scalars are typed by pyscalar.c (PyYAML's resolver and SafeConstructor);
 * this file reports what cannot be constructed.
 */
#include "yaml_front.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

enum resolved {
	RES_OK,
	RES_MERGE,                      /* implicit '<<' */
	RES_VALUE,                      /* implicit '=' */
	RES_FAIL,                       /* constructor raised; message in *why */
};

struct anchor {
	const char *name;               /* NULL: free slot */
	struct fts_node *node;
	bool open;                      /* collection still being built */
};

struct frame {
	struct fts_node *node;
	size_t cap;                     /* capacity of items/pairs */
	struct fts_node *key;           /* map: key waiting for its value */
	uint64_t weight;                /* 1 + children so far */
	size_t anchor_slot;             /* SIZE_MAX when not anchored */
};

struct keyslot {
	const struct fts_node *key;     /* NULL: free */
	size_t index;                   /* pair index */
};

struct yfront {
	struct fts_arena *a;
	struct fts_diags *d;
	const struct fts_source *src;
	uint32_t file;
	yaml_parser_t parser;
	/* mark -> byte cursor */
	size_t cur_chars, cur_bytes;
	/* open collections */
	struct frame stack[FTS_YAML_MAX_DEPTH];
	unsigned depth;
	/* anchors: open addressing */
	struct anchor *anchors;
	size_t nanchors, capanchors;
	/* scratch table for duplicate-key checks */
	struct keyslot *keys;
	size_t capkeys;
	uint64_t total;                 /* running expanded size of the document */
	bool failed;                    /* stop after this event */
	struct fts_node *root;
};

/* --- marks and spans ------------------------------------------------------ */

static uint32_t mark_offset(struct yfront *y, size_t index)
{
	const unsigned char *t = (const unsigned char *)y->src->text;
	size_t len = y->src->len;
	if (index < y->cur_chars / 2) {
		y->cur_chars = 0;
		y->cur_bytes = 0;
	}
	while (y->cur_chars > index && y->cur_bytes > 0) {
		y->cur_bytes--;
		while (y->cur_bytes > 0 && (t[y->cur_bytes] & 0xC0) == 0x80)
			y->cur_bytes--;
		y->cur_chars--;
	}
	while (y->cur_chars < index && y->cur_bytes < len) {
		y->cur_bytes++;
		while (y->cur_bytes < len && (t[y->cur_bytes] & 0xC0) == 0x80)
			y->cur_bytes++;
		y->cur_chars++;
	}
	return (uint32_t)y->cur_bytes;
}

static struct fts_span mark_span(struct yfront *y, yaml_mark_t s, yaml_mark_t e)
{
	uint32_t so = mark_offset(y, s.index);
	uint32_t eo = mark_offset(y, e.index);
	if (eo < so)
		eo = so;
	return fts_span_make(y->file, so, eo);
}

static struct fts_span point_span(struct yfront *y, yaml_mark_t m)
{
	uint32_t o = mark_offset(y, m.index);
	uint32_t e = o;
	const unsigned char *t = (const unsigned char *)y->src->text;
	if (e < y->src->len) {
		e++;
		while (e < y->src->len && (t[e] & 0xC0) == 0x80)
			e++;
	}
	return fts_span_make(y->file, o, e);
}

/* Block collections end where the next token starts: drop trailing blanks. */
static uint32_t trim_end(struct yfront *y, uint32_t start, uint32_t end)
{
	const char *t = y->src->text;
	while (end > start && (t[end - 1] == ' ' || t[end - 1] == '\t' ||
			       t[end - 1] == '\n' || t[end - 1] == '\r'))
		end--;
	return end;
}

/* --- libyaml errors --------------------------------------------------------- */

static void report_parser_error(struct yfront *y)
{
	yaml_parser_t *p = &y->parser;
	const char *problem = p->problem ? p->problem : "malformed YAML";
	struct fts_diag *dg;
	if (p->error == YAML_READER_ERROR) {
		size_t off = p->problem_offset;
		if (off > y->src->len)
			off = y->src->len;
		struct fts_span sp = fts_span_make(y->file, off,
						   off < y->src->len ? off + 1 : off);
		if (p->problem_value != -1)
			dg = fts_diag(y->d, FTS_E_YAML_SYNTAX, sp,
				      fts_arena_printf(y->a, "%s: #x%X (the file must be UTF-8 text)",
						       problem, (unsigned)p->problem_value));
		else
			dg = fts_diag(y->d, FTS_E_YAML_SYNTAX, sp,
				      fts_arena_printf(y->a, "%s (the file must be UTF-8 text)", problem));
		(void)dg;
		return;
	}
	if (p->error == YAML_MEMORY_ERROR) {
		fts_oom();
	}
	dg = fts_diag(y->d, FTS_E_YAML_SYNTAX, point_span(y, p->problem_mark), problem);
	if (p->context)
		fts_diag_note(y->d, dg, point_span(y, p->context_mark), "%s", p->context);
}

/* --- anchors ------------------------------------------------------------------ */

static uint64_t hash_bytes(const void *p, size_t n)
{
	const unsigned char *s = p;
	uint64_t h = 1469598103934665603ull;
	for (size_t i = 0; i < n; i++) {
		h ^= s[i];
		h *= 1099511628211ull;
	}
	return h;
}

static size_t anchor_find(const struct yfront *y, const char *name)
{
	if (!y->capanchors)
		return SIZE_MAX;
	size_t mask = y->capanchors - 1;
	for (size_t i = hash_bytes(name, strlen(name)) & mask;; i = (i + 1) & mask) {
		if (!y->anchors[i].name)
			return SIZE_MAX;
		if (strcmp(y->anchors[i].name, name) == 0)
			return i;
	}
}

static size_t anchor_insert(struct yfront *y, const char *name, struct fts_node *n)
{
	if (2 * (y->nanchors + 1) > y->capanchors) {
		size_t ncap = y->capanchors ? 2 * y->capanchors : 16;
		struct anchor *old = y->anchors;
		size_t ocap = y->capanchors;
		y->anchors = fts_xcalloc(ncap, sizeof(*y->anchors));
		y->capanchors = ncap;
		for (size_t i = 0; i < ocap; i++) {
			if (!old[i].name)
				continue;
			size_t j = hash_bytes(old[i].name, strlen(old[i].name)) & (ncap - 1);
			while (y->anchors[j].name)
				j = (j + 1) & (ncap - 1);
			y->anchors[j] = old[i];
		}
		/* frames remember slots: remap them */
		for (unsigned k = 0; k < y->depth; k++) {
			size_t s = y->stack[k].anchor_slot;
			if (s == SIZE_MAX)
				continue;
			y->stack[k].anchor_slot = anchor_find(y, old[s].name);
		}
		free(old);
	}
	size_t mask = y->capanchors - 1;
	size_t i = hash_bytes(name, strlen(name)) & mask;
	while (y->anchors[i].name)
		i = (i + 1) & mask;
	y->anchors[i].name = name;
	y->anchors[i].node = n;
	y->anchors[i].open = n->kind != FTS_N_SCALAR;
	y->nanchors++;
	return i;
}

/* Register the anchor of a new node.  PyYAML refuses a repeated anchor. */
static size_t define_anchor(struct yfront *y, const char *name, struct fts_node *n)
{
	size_t old = anchor_find(y, name);
	if (old != SIZE_MAX) {
		struct fts_diag *dg = fts_diag(y->d, FTS_E_YAML_SYNTAX, n->span,
					       fts_arena_printf(y->a, "found duplicate anchor '%s'", name));
		fts_diag_note(y->d, dg, y->anchors[old].node->span, "first occurrence");
		y->failed = true;
		return SIZE_MAX;
	}
	return anchor_insert(y, name, n);
}

/* --- scalar typing (pyscalar.c) ------------------------------------------------- */

/* A plain (or '!') scalar: the resolver's two tags a schedule may not use
 * (merge '<<', value '='), else PyYAML's implicit typing. */
static enum resolved resolve_implicit(struct fts_node *n, const char **why)
{
	if (n->len == 2 && memcmp(n->text, "<<", 2) == 0) {
		n->py = FTS_PY_STR;
		return RES_MERGE;
	}
	if (n->len == 1 && n->text[0] == '=') {
		n->py = FTS_PY_STR;
		return RES_VALUE;
	}
	if (fts_yaml_resolve_plain(n) != 0) {
		*why = "invalid literal for int()";
		return RES_FAIL;
	}
	return RES_OK;
}

/* --- tree building ------------------------------------------------------------ */

static uint64_t sat_add(uint64_t a, uint64_t b)
{
	return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

static void tag_error(struct yfront *y, const struct fts_node *n, const char *tag)
{
	fts_diag(y->d, FTS_E_YAML_TAG, n->span, tag);
}

static void construct_error(struct yfront *y, const struct fts_node *n, const char *tag,
			    const char *why)
{
	fts_diag(y->d, FTS_E_YAML_SYNTAX, n->span,
		 fts_arena_printf(y->a, "cannot construct %s from '%.*s': %s",
				  tag ? tag : "a number", n->len > 60 ? 60 : (int)n->len,
				  n->text, why));
}

static bool is_unknown_tag(const char *tag, bool scalar)
{
	if (strncmp(tag, FTS_YAML_TAG_PREFIX, sizeof(FTS_YAML_TAG_PREFIX) - 1) != 0)
		return true;
	const char *t = tag + sizeof(FTS_YAML_TAG_PREFIX) - 1;
	static const char *const known[] = {"str", "int", "float", "bool", "null",
					    "timestamp", "binary", "seq", "map", "set",
					    "omap", "pairs"};
	(void)scalar;
	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (strcmp(t, known[i]) == 0)
			return false;
	return true;
}

/* Add a finished node (or alias wrapper) to the innermost open collection. */
static void attach(struct yfront *y, struct fts_node *n, uint64_t w)
{
	if (y->depth == 0) {
		y->root = n;
		return;
	}
	struct frame *f = &y->stack[y->depth - 1];
	struct fts_node *c = f->node;
	f->weight = sat_add(f->weight, w);
	if (c->kind == FTS_N_SEQ) {
		if (c->nitems == f->cap) {
			size_t ncap = f->cap ? 2 * f->cap : 4;
			c->items = fts_arena_realloc(y->a, c->items, f->cap * sizeof(*c->items),
						     ncap * sizeof(*c->items));
			f->cap = ncap;
		}
		c->items[c->nitems++] = n;
		return;
	}
	if (!f->key) {
		f->key = n;
		return;
	}
	if (c->npairs == f->cap) {
		size_t ncap = f->cap ? 2 * f->cap : 4;
		c->pairs = fts_arena_realloc(y->a, c->pairs, f->cap * sizeof(*c->pairs),
					     ncap * sizeof(*c->pairs));
		f->cap = ncap;
	}
	c->pairs[c->npairs].key = f->key;
	c->pairs[c->npairs].value = n;
	c->npairs++;
	f->key = NULL;
}

static bool in_key_position(const struct yfront *y)
{
	if (y->depth == 0)
		return false;
	const struct frame *f = &y->stack[y->depth - 1];
	return f->node->kind == FTS_N_MAP && !f->key;
}

static struct fts_node *new_node(struct yfront *y, enum fts_node_kind k,
				 const yaml_event_t *ev, const yaml_char_t *tag,
				 const yaml_char_t *anchor)
{
	struct fts_node *n = fts_arena_alloc(y->a, sizeof(*n));
	n->kind = k;
	n->span = mark_span(y, ev->start_mark, ev->end_mark);
	if (tag)
		n->tag = fts_arena_strdup(y->a, (const char *)tag);
	if (anchor)
		n->anchor = fts_arena_strdup(y->a, (const char *)anchor);
	return n;
}

static void on_scalar(struct yfront *y, const yaml_event_t *ev)
{
	const char *tag = (const char *)ev->data.scalar.tag;
	struct fts_node *n = new_node(y, FTS_N_SCALAR, ev, ev->data.scalar.tag,
				      ev->data.scalar.anchor);
	n->text = fts_arena_strndup(y->a, (const char *)ev->data.scalar.value,
				    ev->data.scalar.length);
	n->len = ev->data.scalar.length;
	n->quoted = ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE;
	n->weight = 1;
	bool key = in_key_position(y);
	const char *why = NULL;
	enum resolved r;
	if (!tag) {
		if (n->quoted) {
			n->py = FTS_PY_STR;
			r = RES_OK;
		} else {
			r = resolve_implicit(n, &why);
		}
	} else if (strcmp(tag, "!") == 0) {
		/* PyYAML's parser gives '!' scalars implicit=(True, False): resolved
		 * like plain scalars, even when quoted (`! '1'` is the int 1). */
		r = resolve_implicit(n, &why);
	} else {
		r = fts_yaml_resolve_tagged(n, tag, &why) == 0 ? RES_OK : RES_FAIL;
	}
	switch (r) {
	case RES_OK:
		break;
	case RES_MERGE:
		if (key)
			fts_diag(y->d, FTS_E_YAML_MERGE, n->span);
		else
			tag_error(y, n, FTS_YAML_TAG_PREFIX "merge");
		break;
	case RES_VALUE:
		tag_error(y, n, FTS_YAML_TAG_PREFIX "value");
		break;
	case RES_FAIL:
		if (why)
			construct_error(y, n, tag, why);
		else
			tag_error(y, n, tag);
		n->py = FTS_PY_STR;
		break;
	}
	if (ev->data.scalar.anchor && define_anchor(y, n->anchor, n) == SIZE_MAX)
		return;
	y->total = sat_add(y->total, 1);
	attach(y, n, 1);
}

static void on_alias(struct yfront *y, const yaml_event_t *ev)
{
	const char *name = (const char *)ev->data.alias.anchor;
	struct fts_span sp = mark_span(y, ev->start_mark, ev->end_mark);
	size_t slot = anchor_find(y, name);
	if (slot == SIZE_MAX) {
		fts_diag(y->d, FTS_E_YAML_ALIAS, sp, name);
		y->failed = true;
		return;
	}
	struct anchor *an = &y->anchors[slot];
	if (an->open) {
		struct fts_diag *dg = fts_diag(y->d, FTS_E_YAML_BOMB, sp,
					       (unsigned long long)FTS_YAML_MAX_WEIGHT);
		fts_diag_note(y->d, dg, an->node->span,
			      "the alias '%s' refers to a node that contains it, so it expands forever",
			      name);
		y->failed = true;
		return;
	}
	struct fts_node *t = an->node;
	struct fts_node *w = fts_arena_alloc(y->a, sizeof(*w));
	*w = *t;
	w->span = sp;
	w->is_alias = true;
	w->anchor = an->name;
	y->total = sat_add(y->total, t->weight);
	if (y->total > FTS_YAML_MAX_WEIGHT) {
		struct fts_diag *dg = fts_diag(y->d, FTS_E_YAML_BOMB, sp,
					       (unsigned long long)FTS_YAML_MAX_WEIGHT);
		fts_diag_note(y->d, dg, t->span, "'%s' alone expands to %llu nodes", name,
			      (unsigned long long)t->weight);
		y->failed = true;
		return;
	}
	attach(y, w, t->weight);
}

static void on_start(struct yfront *y, const yaml_event_t *ev, enum fts_node_kind k)
{
	const yaml_char_t *tag = k == FTS_N_SEQ ? ev->data.sequence_start.tag :
		ev->data.mapping_start.tag;
	const yaml_char_t *anchor = k == FTS_N_SEQ ? ev->data.sequence_start.anchor :
		ev->data.mapping_start.anchor;
	if (y->depth >= FTS_YAML_MAX_DEPTH) {
		fts_diag(y->d, FTS_E_YAML_DEPTH, point_span(y, ev->start_mark),
			 FTS_YAML_MAX_DEPTH);
		y->failed = true;
		return;
	}
	struct fts_node *n = new_node(y, k, ev, tag, anchor);
	if (n->tag && strcmp(n->tag, "!") != 0) {
		/* SafeConstructor: !!set is a mapping (a Python set of its keys);
		 * !!omap and !!pairs are sequences of one-pair mappings (not
		 * checked further).  All keep their tag for consumers. */
		const char *t = n->tag + sizeof(FTS_YAML_TAG_PREFIX) - 1;
		bool seqtag = !is_unknown_tag(n->tag, false) && (strcmp(t, "seq") == 0 ||
			strcmp(t, "omap") == 0 || strcmp(t, "pairs") == 0);
		bool maptag = !is_unknown_tag(n->tag, false) && (strcmp(t, "map") == 0 ||
			strcmp(t, "set") == 0);
		if (is_unknown_tag(n->tag, false))
			tag_error(y, n, n->tag);
		else if (k == FTS_N_SEQ ? !seqtag : !maptag)
			fts_diag(y->d, FTS_E_YAML_SYNTAX, n->span,
				 fts_arena_printf(y->a, "expected a %s node, but found %s",
						  seqtag ? "sequence" : maptag ? "mapping" : "scalar",
						  k == FTS_N_SEQ ? "sequence" : "mapping"));
	}
	struct frame *f = &y->stack[y->depth];
	memset(f, 0, sizeof(*f));
	f->node = n;
	f->weight = 1;
	f->anchor_slot = SIZE_MAX;
	y->depth++;
	y->total = sat_add(y->total, 1);
	if (anchor) {
		size_t s = define_anchor(y, n->anchor, n);
		/* define_anchor may have rehashed: it remaps every frame's slot */
		y->stack[y->depth - 1].anchor_slot = s;
	}
}

/* --- duplicate keys (UniqueKeyLoader: `key in set()` on constructed keys) --- */

enum keyclass { KC_NONE, KC_NUM, KC_NAN, KC_STR, KC_TIME, KC_UNHASHABLE, KC_OTHER };

static enum keyclass key_class(const struct fts_node *k)
{
	if (k->kind != FTS_N_SCALAR)
		return KC_UNHASHABLE;
	switch (k->py) {
	case FTS_PY_NONE:
		return KC_NONE;
	case FTS_PY_BOOL:
	case FTS_PY_INT:
		return KC_NUM;
	case FTS_PY_FLOAT:
		return isnan(k->f) ? KC_NAN : KC_NUM;
	case FTS_PY_STR:
		return KC_STR;
	case FTS_PY_TIMESTAMP:
		return KC_TIME;
	}
	return KC_OTHER;
}

static double key_num(const struct fts_node *k)
{
	if (k->py == FTS_PY_BOOL)
		return k->b ? 1.0 : 0.0;
	return k->f;
}

static bool num_equal(const struct fts_node *a, const struct fts_node *b)
{
	bool ai = a->py != FTS_PY_FLOAT, bi = b->py != FTS_PY_FLOAT;
	if (ai && bi) {
		int64_t x = a->py == FTS_PY_BOOL ? a->b : a->i;
		int64_t z = b->py == FTS_PY_BOOL ? b->b : b->i;
		bool xb = a->py == FTS_PY_INT && a->i_big, zb = b->py == FTS_PY_INT && b->i_big;
		if (xb || zb)
			return xb && zb && a->f == b->f && (a->f < 0) == (b->f < 0) &&
			       (isinf(a->f) ? a->len == b->len && memcmp(a->text, b->text, a->len) == 0 : true);
		return x == z;
	}
	if (!ai && !bi)
		return a->f == b->f;
	/* int vs float: Python compares exactly */
	const struct fts_node *in = ai ? a : b, *fl = ai ? b : a;
	double f = fl->f;
	if (in->py == FTS_PY_INT && in->i_big)
		return in->f == f;
	if (f != floor(f) || f < -9223372036854775808.0 || f >= 9223372036854775808.0)
		return false;
	int64_t iv = in->py == FTS_PY_BOOL ? in->b : in->i;
	return (int64_t)f == iv;
}

static bool keys_equal(const struct fts_node *a, const struct fts_node *b)
{
	enum keyclass ca = key_class(a), cb = key_class(b);
	if (ca == KC_NAN || cb == KC_NAN)
		return ca == cb && a->text == b->text; /* the same object via an alias */
	if (ca != cb)
		return false;
	switch (ca) {
	case KC_NONE:
		return true;
	case KC_NUM:
		return num_equal(a, b);
	case KC_STR:
	case KC_TIME:
		return a->len == b->len && memcmp(a->text, b->text, a->len) == 0;
	default:
		return false;
	}
}

static uint64_t key_hash(const struct fts_node *k)
{
	switch (key_class(k)) {
	case KC_NONE:
		return 1;
	case KC_NUM: {
		double v = key_num(k);
		if (v == 0)
			v = 0; /* -0.0 */
		uint64_t h = hash_bytes(&v, sizeof(v));
		return h;
	}
	case KC_NAN:
		return hash_bytes(&k->text, sizeof(k->text));
	case KC_STR:
		return hash_bytes(k->text, k->len) ^ 2;
	case KC_TIME:
		return hash_bytes(k->text, k->len) ^ 3;
	default:
		return 0;
	}
}

static void check_keys(struct yfront *y, const struct fts_node *map)
{
	size_t need = 4;
	while (need < 2 * map->npairs)
		need *= 2;
	if (need > y->capkeys) {
		free(y->keys);
		y->keys = fts_xcalloc(need, sizeof(*y->keys));
		y->capkeys = need;
	} else {
		memset(y->keys, 0, need * sizeof(*y->keys));
	}
	size_t mask = need - 1;
	for (size_t i = 0; i < map->npairs; i++) {
		const struct fts_node *k = map->pairs[i].key;
		if (k->kind != FTS_N_SCALAR) {
			fts_diag(y->d, FTS_E_YAML_UNHASHABLE, k->span,
				 k->kind == FTS_N_SEQ ? "list" : "mapping");
			continue;
		}
		size_t j = key_hash(k) & mask;
		bool dup = false;
		while (y->keys[j].key) {
			if (keys_equal(y->keys[j].key, k)) {
				const struct fts_node *first = y->keys[j].key;
				struct fts_diag *dg = fts_diag(y->d, FTS_E_DUP_KEY, k->span,
							       fts_node_describe(y->a, k));
				fts_diag_note(y->d, dg, first->span, "first defined here");
				dup = true;
				break;
			}
			j = (j + 1) & mask;
		}
		if (!dup) {
			y->keys[j].key = k;
			y->keys[j].index = i;
		}
	}
}

static void on_end(struct yfront *y, const yaml_event_t *ev)
{
	struct frame *f = &y->stack[y->depth - 1];
	struct fts_node *n = f->node;
	uint32_t end = mark_offset(y, ev->end_mark.index);
	end = trim_end(y, n->span.start, end);
	if (end > n->span.end)
		n->span.end = end;
	n->weight = f->weight;
	if (f->anchor_slot != SIZE_MAX)
		y->anchors[f->anchor_slot].open = false;
	if (n->kind == FTS_N_MAP)
		check_keys(y, n);
	y->depth--;
	attach(y, n, n->weight);
}

/* --- driver --------------------------------------------------------------------- */

static struct fts_node *parse_file(struct fts_arena *a, struct fts_diags *d, uint32_t file,
				   bool *empty)
{
	struct yfront *y = fts_xcalloc(1, sizeof(*y));
	y->a = a;
	y->d = d;
	y->file = file;
	y->src = fts_source_get(d->src, file);
	*empty = false;
	if (!y->src) {
		free(y);
		return NULL;
	}
	if (!yaml_parser_initialize(&y->parser))
		fts_oom();
	yaml_parser_set_input_string(&y->parser, (const unsigned char *)y->src->text, y->src->len);
	yaml_parser_set_encoding(&y->parser, YAML_UTF8_ENCODING);

	size_t errors0 = d->errors;
	size_t ndocs = 0;
	struct fts_span doc1 = FTS_SPAN_NONE;
	bool done = false;
	while (!done && !y->failed) {
		yaml_event_t ev;
		if (!yaml_parser_parse(&y->parser, &ev)) {
			report_parser_error(y);
			y->failed = true;
			break;
		}
		switch (ev.type) {
		case YAML_STREAM_END_EVENT:
			done = true;
			break;
		case YAML_DOCUMENT_START_EVENT:
			if (ndocs++ > 0) {
				struct fts_diag *dg = fts_diag(d, FTS_E_YAML_MULTIDOC,
							       point_span(y, ev.start_mark));
				fts_diag_note(d, dg, doc1, "the first document starts here");
				y->failed = true;
			} else {
				doc1 = point_span(y, ev.start_mark);
			}
			break;
		case YAML_SCALAR_EVENT:
			on_scalar(y, &ev);
			break;
		case YAML_ALIAS_EVENT:
			on_alias(y, &ev);
			break;
		case YAML_SEQUENCE_START_EVENT:
			on_start(y, &ev, FTS_N_SEQ);
			break;
		case YAML_MAPPING_START_EVENT:
			on_start(y, &ev, FTS_N_MAP);
			break;
		case YAML_SEQUENCE_END_EVENT:
		case YAML_MAPPING_END_EVENT:
			on_end(y, &ev);
			break;
		default:
			break;
		}
		yaml_event_delete(&ev);
	}
	yaml_parser_delete(&y->parser);
	struct fts_node *root = y->root;
	bool failed = y->failed || d->errors != errors0;
	free(y->anchors);
	free(y->keys);
	free(y);
	if (failed)
		return NULL;
	if (!root || (root->kind == FTS_N_SCALAR && root->py == FTS_PY_NONE)) {
		*empty = true;
		return NULL;
	}
	return root;
}

struct fts_node *fts_yaml_parse(struct fts_arena *a, struct fts_diags *d,
				uint32_t file, bool *empty)
{
	bool e;
	return parse_file(a, d, file, empty ? empty : &e);
}

struct fts_node *fts_yaml_parse_text(struct fts_arena *a, struct fts_diags *d,
				     const char *name, const char *text, size_t len)
{
	uint32_t id = fts_source_add(d->src, name, text, len);
	bool e;
	return parse_file(a, d, id, &e);
}
