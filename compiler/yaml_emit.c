/*
 * yaml_emit.c - ast.h trees written as block-style YAML (see dsl_emit.h
 * for the contract, shared with the schedule-language writer).
 *
 * Stage: back end of `ftsc convert --to yaml`.  What is written reads back
 * with PyYAML (FTS's loader) as the same tree: a scalar is written plain
 * only when PyYAML would resolve that text to the same type and value
 * (fts_yaml_resolve_plain, the YAML front end's own resolver), otherwise
 * quoted (strings) or in canonical form (numbers).
 */
#include "dsl_emit.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "dsl.h"
#include "textout.h"
#include "yaml_front.h"

static bool resolves_as(const struct fts_node *n, enum fts_py_type py, struct fts_node *tmp)
{
	memset(tmp, 0, sizeof(*tmp));
	tmp->kind = FTS_N_SCALAR;
	tmp->text = n->text;
	tmp->len = n->len;
	if (fts_yaml_resolve_plain(tmp) != 0 || tmp->py != py)
		return false;
	return true;
}

static bool yaml_plain_ok(const char *s, size_t n)
{
	static const char indicators[] = "-?:,[]{}#&*!|>'\"%@`";
	if (n == 0 || s[0] == ' ' || s[n - 1] == ' ' || s[n - 1] == ':')
		return false;
	/* '-' starts a plain scalar when a non-space follows it (PyYAML's check_plain) */
	if (strchr(indicators, s[0]) && !(s[0] == '-' && n > 1 && s[1] != ' '))
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x20 || c >= 0x7f)
			return false;
		if (c == ':' && i + 1 < n && s[i + 1] == ' ')
			return false;
		if (c == '#' && i > 0 && s[i - 1] == ' ')
			return false;
		if ((c == ',' || c == '[' || c == ']' || c == '{' || c == '}'))
			return false;
	}
	return true;
}

static void yaml_quoted(struct fts_out *o, const char *s, size_t n)
{
	bool ctl = false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			ctl = true;
	if (!ctl) {
		fts_out_putc(o, '\'');
		for (size_t i = 0; i < n; i++) {
			if (s[i] == '\'')
				fts_out_putc(o, '\'');
			fts_out_putc(o, s[i]);
		}
		fts_out_putc(o, '\'');
		return;
	}
	fts_out_putc(o, '"');
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		char buf[8];
		if (c == '"' || c == '\\') {
			fts_out_putc(o, '\\');
			fts_out_putc(o, (char)c);
		} else if (c == '\n') {
			fts_out_puts(o, "\\n");
		} else if (c == '\t') {
			fts_out_puts(o, "\\t");
		} else if (c < 0x20 || c == 0x7f) {
			snprintf(buf, sizeof(buf), "\\x%02x", c);
			fts_out_puts(o, buf);
		} else {
			fts_out_putc(o, (char)c);
		}
	}
	fts_out_putc(o, '"');
}

static bool yaml_scalar(struct fts_out *o, const struct fts_node *n)
{
	struct fts_node tmp;
	if (n->tag && strcmp(n->tag, FTS_DSL_REST_TAG) == 0) {
		fts_diag(o->d, FTS_E_DSL_REST, n->span,
			 "'rest' needs the model manifest to be written as YAML (give --manifest)");
		return false;
	}
	switch (n->py) {
	case FTS_PY_NONE:
		fts_out_puts(o, "null");
		break;
	case FTS_PY_BOOL:
		fts_out_puts(o, n->b ? "true" : "false");
		break;
	case FTS_PY_INT:
		if (yaml_plain_ok(n->text, n->len) && resolves_as(n, FTS_PY_INT, &tmp)
		    && tmp.i_big == n->i_big && (n->i_big || tmp.i == n->i)) {
			fts_out_put(o, n->text, n->len);
		} else {
			fts_out_int(o, n->i);
		}
		break;
	case FTS_PY_FLOAT:
		if (yaml_plain_ok(n->text, n->len) && resolves_as(n, FTS_PY_FLOAT, &tmp)
		    && (tmp.f == n->f || (isnan(tmp.f) && isnan(n->f)))) {
			fts_out_put(o, n->text, n->len);
		} else {
			fts_out_float(o, n->f, true);
		}
		break;
	case FTS_PY_TIMESTAMP:
		fts_out_put(o, n->text, n->len);
		break;
	case FTS_PY_STR:
	default:
		if (yaml_plain_ok(n->text, n->len) && resolves_as(n, FTS_PY_STR, &tmp))
			fts_out_put(o, n->text, n->len);
		else
			yaml_quoted(o, n->text, n->len);
		break;
	}
	return true;
}

static bool flow_seq(const struct fts_node *n)
{
	if (n->kind != FTS_N_SEQ)
		return false;
	for (size_t i = 0; i < n->nitems; i++)
		if (n->items[i]->kind != FTS_N_SCALAR || n->items[i]->py == FTS_PY_STR
		    || n->items[i]->py == FTS_PY_TIMESTAMP)
			return false;
	return true;
}

static bool yaml_block(struct fts_out *o, const struct fts_node *n, unsigned ind, bool first_inline);

/* the value after "key:" or "- " */
static bool yaml_after(struct fts_out *o, const struct fts_node *v, unsigned ind, bool seq_item)
{
	if (!v) {
		fts_out_puts(o, " null\n");
		return true;
	}
	if (v->kind == FTS_N_SCALAR) {
		fts_out_putc(o, ' ');
		bool ok = yaml_scalar(o, v);
		fts_out_putc(o, '\n');
		return ok;
	}
	if (v->kind == FTS_N_MAP && v->npairs == 0) {
		fts_out_puts(o, " {}\n");
		return true;
	}
	if (v->kind == FTS_N_SEQ && v->nitems == 0) {
		fts_out_puts(o, " []\n");
		return true;
	}
	if (flow_seq(v)) {
		fts_out_puts(o, " [");
		for (size_t i = 0; i < v->nitems; i++) {
			if (i)
				fts_out_puts(o, ", ");
			yaml_scalar(o, v->items[i]);
		}
		fts_out_puts(o, "]\n");
		return true;
	}
	if (seq_item) {
		fts_out_putc(o, ' ');
		return yaml_block(o, v, ind + 2, true);
	}
	fts_out_putc(o, '\n');
	return yaml_block(o, v, v->kind == FTS_N_MAP ? ind + 2 : ind, false);
}

static bool yaml_block(struct fts_out *o, const struct fts_node *n, unsigned ind, bool first_inline)
{
	bool ok = true;
	if (n->kind == FTS_N_MAP) {
		for (size_t i = 0; i < n->npairs; i++) {
			if (i || !first_inline)
				fts_out_indent(o, ind, ' ');
			const struct fts_node *k = n->pairs[i].key;
			if (k->kind != FTS_N_SCALAR) {
				fts_out_lossy(o, k, "a non-scalar mapping key", "YAML", "'?'");
				fts_out_puts(o, "'?'");
			} else {
				ok &= yaml_scalar(o, k);
			}
			fts_out_putc(o, ':');
			ok &= yaml_after(o, n->pairs[i].value, ind, false);
		}
	} else if (n->kind == FTS_N_SEQ) {
		for (size_t i = 0; i < n->nitems; i++) {
			if (i || !first_inline)
				fts_out_indent(o, ind, ' ');
			fts_out_putc(o, '-');
			ok &= yaml_after(o, n->items[i], ind, true);
		}
	} else {
		ok &= yaml_scalar(o, n);
		fts_out_putc(o, '\n');
	}
	return ok;
}

char *fts_yaml_from_tree(struct fts_arena *a, struct fts_diags *d, const struct fts_node *n,
			 size_t *len)
{
	struct fts_out o = {0};
	o.a = a;
	o.d = d;
	fts_out_puts(&o, "");
	bool ok = true;
	if (n && (n->kind != FTS_N_MAP || n->npairs) && (n->kind != FTS_N_SEQ || n->nitems))
		ok = yaml_block(&o, n, 0, false);
	else if (n)
		fts_out_puts(&o, n->kind == FTS_N_MAP ? "{}\n" : "[]\n");
	char *s = fts_out_finish(&o, len);
	return ok ? s : NULL;
}
