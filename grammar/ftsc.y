/*
 * ftsc.y - grammar of the ftsc language (declaration part).
 *
 * Stage: front end.  Generated into build/grammar/ftsc.tab.[ch]; the actions
 * call the builders in compiler/decl.c, which own the semantics.
 *
 * THE DECLARATION LANGUAGE
 *
 *   file     := class*
 *   class    := ("optimizer" | "lr_scheduler") dotted "{" member* "}"
 *   member   := "alias" dotted ";"               another import path
 *             | "id" INT ";"                     explicit stable id (else order)
 *             | "doc" STRING ";"
 *             | FLAG ";"                         fts_supported chainable closed_form
 *                                                lambdas plateau cycles_momentum
 *                                                no_reinit varkw container
 *                                                no_optimizer_arg
 *             | annot? "arg" NAME ":" type ("=" expr)? ";"   no default = required
 *             | annot? "const" NAME ":" type "=" expr ";"    group default, not an argument
 *             | annot? "check" expr ":" STRING ("raises" NAME)? ";"
 *             | "state" NAME ":" KIND ("if" expr)? ";"       KIND: scalar param factored global
 *   annot    := "@" NAME                         @groups, @step (see decl.h fts_check_when)
 *   type     := atom ("|" atom)*
 *   atom     := float | int | bool | str | none | any | lambda | scheduler_list
 *             | tuple(type, ...) | tuple(type, "...") | list(type) | optional(type)
 *             | choice(literal, ...)
 *
 * A check message may interpolate expressions: "Invalid beta: {betas[0]}"
 * ({{ and }} are literal braces).  Conditions and defaults are Python-like
 * expressions over the class's arguments:
 *
 *   expr     := or ("if" or "else" expr)?
 *   or/and/not, comparisons (chained: 0 <= x < 1; in, not in, is, is not),
 *   + - * / // % , unary + -, ** (right-assoc., binds tighter than unary
 *   minus on its left), postfix x[i], x.name, f(args), literals: ints,
 *   floats (1e-5 is a float), "str" 'str', re"regex", true/false/none
 *   (True/False/None too), tuples (a, b), lists [a, b].
 *   Comments run from # to the end of the line.
 *
 * Error recovery: a bad member is skipped up to its ";", a bad class up to
 * its "}", so one run reports several syntax errors.
 */

%require "3.8"
%define api.pure full
%define api.prefix {fts_yy}
%define api.token.prefix {TOK_}
%define api.location.type {struct fts_span}
%define parse.error verbose
%locations
%expect 0

%code requires {
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "source.h"
#include "decl.h"
#include "expr.h"

#define YYSTYPE FTS_YYSTYPE
#define YYLTYPE FTS_YYLTYPE

struct fts_type_list {
	struct fts_type **v;            /* members */
	size_t n;                       /* entries in v */
	bool variadic;                  /* ended with "..." */
};
struct fts_str {
	const char *s;                  /* decoded bytes, NUL-terminated */
	size_t len;                     /* bytes in s */
};

/* From the first to the last non-empty right-hand-side symbol; an empty
 * rule gets an empty span at the end of the previous symbol. */
#define YYLLOC_DEFAULT(Cur, Rhs, N) do {                                      \
	int first_ = 0, last_ = 0;                                            \
	for (int k_ = 1; k_ <= (N); k_++)                                     \
		if (YYRHSLOC(Rhs, k_).start != YYRHSLOC(Rhs, k_).end) {      \
			if (!first_)                                          \
				first_ = k_;                                  \
			last_ = k_;                                           \
		}                                                             \
	if (first_) {                                                         \
		(Cur).file = YYRHSLOC(Rhs, first_).file;                      \
		(Cur).start = YYRHSLOC(Rhs, first_).start;                    \
		(Cur).end = YYRHSLOC(Rhs, last_).end;                         \
	} else {                                                              \
		(Cur).file = YYRHSLOC(Rhs, (N) ? (N) : 0).file;               \
		(Cur).start = (Cur).end = YYRHSLOC(Rhs, (N) ? (N) : 0).end;   \
	}                                                                     \
} while (0)
}

%union {
	int64_t ival;
	double fval;
	struct fts_str str;
	const char *name;
	struct fts_expr *expr;
	struct fts_type *type;
	struct fts_type_list tl;
	int op;
}

%param {void *scanner}
%parse-param {struct fts_parse_ctx *pc}

%code {
#include <stdlib.h>
#include <string.h>
#include "arena.h"
#include "ftsc.yy.h"

#define YYMALLOC fts_xmalloc
#define YYFREE free

static void fts_yyerror(YYLTYPE *loc, void *scanner, struct fts_parse_ctx *pc, const char *msg)
{
	(void)scanner;
	fts_parse_error(pc, *loc, "%s", msg);
}

static struct fts_expr *mk(struct fts_parse_ctx *pc, enum fts_expr_kind k, YYLTYPE loc)
{
	return fts_expr_new(pc->arena, k, loc);
}

static struct fts_expr *mk2(struct fts_parse_ctx *pc, enum fts_expr_kind k, YYLTYPE loc,
			    struct fts_expr *a, struct fts_expr *b)
{
	struct fts_expr *e = mk(pc, k, loc);
	fts_expr_push(pc->arena, e, a);
	if (b)
		fts_expr_push(pc->arena, e, b);
	return e;
}

static struct fts_expr *mkbin(struct fts_parse_ctx *pc, int op, YYLTYPE loc,
			      struct fts_expr *a, struct fts_expr *b)
{
	struct fts_expr *e = mk2(pc, FTS_E_BINARY, loc, a, b);
	e->op = op;
	return e;
}

static struct fts_expr *mkconst(struct fts_parse_ctx *pc, YYLTYPE loc, struct fts_value v)
{
	struct fts_expr *e = mk(pc, FTS_E_CONST, loc);
	e->val = v;
	return e;
}

/* a < b < c: extend an unparenthesised comparison into a chain */
static struct fts_expr *mkcmp(struct fts_parse_ctx *pc, YYLTYPE loc, struct fts_expr *a,
			      int op, struct fts_expr *b)
{
	struct fts_expr *e = a;
	if (a->kind != FTS_E_COMPARE || a->parens) {
		e = mk(pc, FTS_E_COMPARE, loc);
		fts_expr_push(pc->arena, e, a);
	}
	size_t n = e->nargs;            /* operators so far = n - 1 */
	enum fts_cmpop *cmp = fts_arena_alloc(pc->arena, n * sizeof *cmp);
	if (n > 1)
		memcpy(cmp, e->cmp, (n - 1) * sizeof *cmp);
	cmp[n - 1] = (enum fts_cmpop)op;
	e->cmp = cmp;
	fts_expr_push(pc->arena, e, b);
	e->span = loc;
	return e;
}

static void tl_push(struct fts_parse_ctx *pc, struct fts_type_list *l, struct fts_type *t)
{
	struct fts_type **v = fts_arena_alloc(pc->arena, (l->n + 1) * sizeof *v);
	if (l->n)
		memcpy(v, l->v, l->n * sizeof *v);
	v[l->n++] = t;
	l->v = v;
}

/* a literal inside choice(...): a one-value CHOICE type, merged later */
static struct fts_type *lit_type(struct fts_parse_ctx *pc, YYLTYPE loc, struct fts_value v)
{
	struct fts_type *t = fts_arena_alloc(pc->arena, sizeof *t);
	t->kind = FTS_T_CHOICE;
	t->span = loc;
	t->choices = fts_arena_alloc(pc->arena, sizeof *t->choices);
	t->choices[0] = v;
	t->nchoices = 1;
	return t;
}
}

%token <name> NAME "identifier"
%token <ival> INT "integer"
%token <fval> FLOAT "number"
%token <str> STRING "string" RSTRING "regex string"
%token OPTIMIZER "optimizer" LR_SCHEDULER "lr_scheduler" ALIAS "alias" ARG "arg"
%token CONST "const" CHECK "check" STATE "state" ID "id" DOC "doc" RAISES "raises"
%token IF "if" ELSE "else" AND "and" OR "or" NOT "not" IN "in" IS "is"
%token TRUE "true" FALSE "false" NONE "none"
%token POW "**" FLOORDIV "//" EQ "==" NE "!=" LE "<=" GE ">=" ELLIPSIS "..."
%token START_FILE START_EXPR

%type <name> dotted dotted_part argname annot_opt raises_opt
%type <expr> expr or_test and_test not_test comparison arith term factor power postfix atom
%type <expr> default_opt if_opt expr_list call_args
%type <type> type type_atom type_arg
%type <tl> type_args
%type <op> comp_op class_kw
%type <str> string
%type <fval> signed_num

%%

start:
	START_FILE decls
	| START_EXPR expr	{ pc->expr = $2; }
	;

decls:
	%empty
	| decls decl
	;

decl:
	class_kw dotted '{' { fts_parse_class_begin(pc); } members '}'
		{ fts_parse_class_end(pc, (enum fts_decl_kind)$1, $2, @2, @$); }
	| error '}'
	;

class_kw:
	OPTIMIZER		{ $$ = FTS_DECL_OPTIMIZER; }
	| LR_SCHEDULER		{ $$ = FTS_DECL_LR_SCHEDULER; }
	;

dotted:
	dotted_part
	| dotted '.' dotted_part	{ $$ = fts_arena_printf(pc->arena, "%s.%s", $1, $3); }
	;

dotted_part:
	NAME
	| OPTIMIZER		{ $$ = "optimizer"; }
	| LR_SCHEDULER		{ $$ = "lr_scheduler"; }
	;

members:
	%empty
	| members member
	;

member:
	ALIAS dotted ';'
		{ FTS_VEC_PUSH(pc->aliases, $2); }
	| ID INT ';'
		{
			if ($2 < 0 || $2 > 65535)
				fts_parse_error(pc, @2, "class id %lld is out of range 0..65535", (long long)$2);
			pc->has_id = true;
			pc->id = (unsigned)$2;
		}
	| DOC string ';'
		{ pc->doc = $2.s; }
	| NAME ';'
		{ fts_parse_member_flag(pc, $1, @1); }
	| annot_opt ARG argname ':' type default_opt ';'
		{ fts_parse_arg(pc, $1, false, $3, $5, $6, @$); }
	| annot_opt CONST argname ':' type '=' expr ';'
		{ fts_parse_arg(pc, $1, true, $3, $5, $7, @$); }
	| annot_opt CHECK expr ':' string raises_opt ';'
		{ fts_parse_check(pc, $1, @1, $3, $5.s, $6, @$, @5); }
	| annot_opt STATE NAME ':' NAME if_opt ';'
		{ fts_parse_state(pc, $1, $3, $5, @5, $6, @$); }
	| error ';'
	;

annot_opt:
	%empty			{ $$ = NULL; }
	| '@' NAME		{ $$ = $2; }
	;

argname:
	NAME
	| OPTIMIZER		{ $$ = "optimizer"; }
	| LR_SCHEDULER		{ $$ = "lr_scheduler"; }
	| STATE			{ $$ = "state"; }
	| ID			{ $$ = "id"; }
	| DOC			{ $$ = "doc"; }
	;

default_opt:
	%empty			{ $$ = NULL; }
	| '=' expr		{ $$ = $2; }
	;

raises_opt:
	%empty			{ $$ = NULL; }
	| RAISES NAME		{ $$ = $2; }
	;

if_opt:
	%empty			{ $$ = NULL; }
	| IF expr		{ $$ = $2; }
	;

string:
	STRING
	| string STRING
		{
			char *s = fts_arena_alloc(pc->arena, $1.len + $2.len + 1);
			memcpy(s, $1.s, $1.len);
			memcpy(s + $1.len, $2.s, $2.len);
			$$.s = s;
			$$.len = $1.len + $2.len;
		}
	;

/* ---- types ---- */

type:
	type_atom
	| type '|' type_atom
		{
			if ($1->kind == FTS_T_UNION && !$1->variadic) {
				$$ = $1;
			} else {
				$$ = fts_parse_type(pc, "|", @$, NULL, 0, true, false);
				struct fts_type_list l = {0};
				tl_push(pc, &l, $1);
				$$->elems = l.v;
				$$->nelems = l.n;
			}
			struct fts_type_list l2 = {$$->elems, $$->nelems, false};
			tl_push(pc, &l2, $3);
			$$->elems = l2.v;
			$$->nelems = l2.n;
			$$->span = @$;
		}
	;

type_atom:
	NAME			{ $$ = fts_parse_type(pc, $1, @$, NULL, 0, false, false); }
	| NONE			{ $$ = fts_parse_type(pc, "none", @$, NULL, 0, false, false); }
	| NAME '(' type_args ')'
		{ $$ = fts_parse_type(pc, $1, @$, $3.v, $3.n, true, $3.variadic); }
	| '(' type ')'		{ $$ = $2; }
	;

type_args:
	type_arg		{ $$ = (struct fts_type_list){0}; tl_push(pc, &$$, $1); }
	| type_args ',' type_arg	{ $$ = $1; tl_push(pc, &$$, $3); }
	| type_args ',' ELLIPSIS	{ $$ = $1; $$.variadic = true; }
	;

type_arg:
	type
	| string		{ $$ = lit_type(pc, @$, fts_value_str($1.s, $1.len)); }
	| INT			{ $$ = lit_type(pc, @$, fts_value_int($1)); }
	| '-' INT		{ $$ = lit_type(pc, @$, fts_value_int(-$2)); }
	| signed_num		{ $$ = lit_type(pc, @$, fts_value_float($1)); }
	| TRUE			{ $$ = lit_type(pc, @$, fts_value_bool(true)); }
	| FALSE			{ $$ = lit_type(pc, @$, fts_value_bool(false)); }
	;

signed_num:
	FLOAT
	| '-' FLOAT		{ $$ = -$2; }
	;

/* ---- expressions (Python precedence) ---- */

expr:
	or_test
	| or_test IF or_test ELSE expr
		{
			$$ = mk(pc, FTS_E_COND, @$);
			fts_expr_push(pc->arena, $$, $3);
			fts_expr_push(pc->arena, $$, $1);
			fts_expr_push(pc->arena, $$, $5);
		}
	;

or_test:
	and_test
	| or_test OR and_test	{ $$ = mk2(pc, FTS_E_OR, @$, $1, $3); }
	;

and_test:
	not_test
	| and_test AND not_test	{ $$ = mk2(pc, FTS_E_AND, @$, $1, $3); }
	;

not_test:
	comparison
	| NOT not_test		{ $$ = mk2(pc, FTS_E_NOT, @$, $2, NULL); }
	;

comparison:
	arith
	| comparison comp_op arith	{ $$ = mkcmp(pc, @$, $1, $2, $3); }
	;

comp_op:
	'<'			{ $$ = FTS_CMP_LT; }
	| LE			{ $$ = FTS_CMP_LE; }
	| '>'			{ $$ = FTS_CMP_GT; }
	| GE			{ $$ = FTS_CMP_GE; }
	| EQ			{ $$ = FTS_CMP_EQ; }
	| NE			{ $$ = FTS_CMP_NE; }
	| IN			{ $$ = FTS_CMP_IN; }
	| NOT IN		{ $$ = FTS_CMP_NOT_IN; }
	| IS			{ $$ = FTS_CMP_IS; }
	| IS NOT		{ $$ = FTS_CMP_IS_NOT; }
	;

arith:
	term
	| arith '+' term	{ $$ = mkbin(pc, FTS_OP_ADD, @$, $1, $3); }
	| arith '-' term	{ $$ = mkbin(pc, FTS_OP_SUB, @$, $1, $3); }
	;

term:
	factor
	| term '*' factor	{ $$ = mkbin(pc, FTS_OP_MUL, @$, $1, $3); }
	| term '/' factor	{ $$ = mkbin(pc, FTS_OP_DIV, @$, $1, $3); }
	| term FLOORDIV factor	{ $$ = mkbin(pc, FTS_OP_FLOORDIV, @$, $1, $3); }
	| term '%' factor	{ $$ = mkbin(pc, FTS_OP_MOD, @$, $1, $3); }
	;

factor:
	power
	| '-' factor		{ $$ = mk2(pc, FTS_E_NEG, @$, $2, NULL); }
	| '+' factor		{ $$ = mk2(pc, FTS_E_POS, @$, $2, NULL); }
	;

power:
	postfix
	| postfix POW factor	{ $$ = mkbin(pc, FTS_OP_POW, @$, $1, $3); }
	;

postfix:
	atom
	| postfix '[' expr ']'	{ $$ = mk2(pc, FTS_E_INDEX, @$, $1, $3); }
	| postfix '.' NAME
		{ $$ = mk2(pc, FTS_E_ATTR, @$, $1, NULL); $$->name = $3; }
	;

atom:
	NAME
		{ $$ = mk(pc, FTS_E_NAME, @$); $$->name = $1; }
	| NAME '(' ')'
		{ $$ = mk(pc, FTS_E_CALL, @$); $$->name = $1; }
	| NAME '(' call_args ')'
		{ $$ = $3; $$->name = $1; $$->span = @$; }
	| INT			{ $$ = mkconst(pc, @$, fts_value_int($1)); }
	| FLOAT			{ $$ = mkconst(pc, @$, fts_value_float($1)); }
	| string		{ $$ = mkconst(pc, @$, fts_value_str($1.s, $1.len)); }
	| RSTRING
		{ $$ = mkconst(pc, @$, fts_value_str($1.s, $1.len)); $$->regex = true; }
	| TRUE			{ $$ = mkconst(pc, @$, fts_value_bool(true)); }
	| FALSE			{ $$ = mkconst(pc, @$, fts_value_bool(false)); }
	| NONE			{ $$ = mkconst(pc, @$, fts_value_none()); }
	| '(' ')'		{ $$ = mk(pc, FTS_E_TUPLE, @$); }
	| '(' expr ')'		{ $$ = $2; $$->parens = true; }
	| '(' expr ',' ')'	{ $$ = mk2(pc, FTS_E_TUPLE, @$, $2, NULL); }
	| '(' expr ',' expr_list comma_opt ')'
		{
			$$ = mk2(pc, FTS_E_TUPLE, @$, $2, NULL);
			for (size_t k = 0; k < $4->nargs; k++)
				fts_expr_push(pc->arena, $$, $4->args[k]);
		}
	| '[' ']'		{ $$ = mk(pc, FTS_E_LIST, @$); }
	| '[' expr_list comma_opt ']'
		{ $$ = $2; $$->kind = FTS_E_LIST; $$->span = @$; }
	;

call_args:
	expr_list comma_opt	{ $$ = $1; $$->kind = FTS_E_CALL; }
	;

expr_list:
	expr			{ $$ = mk2(pc, FTS_E_TUPLE, @$, $1, NULL); }
	| expr_list ',' expr	{ $$ = $1; fts_expr_push(pc->arena, $$, $3); }
	;

comma_opt:
	%empty
	| ','
	;

%%
