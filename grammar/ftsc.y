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
 *                                                no_optimizer_arg state_at_construction
 *             | annot? "arg" NAME ":" type ("=" expr)? ";"   no default = required
 *             | annot? "const" NAME ":" type "=" expr ";"    group default, not an argument
 *             | annot? "check" expr ":" STRING ("raises" NAME)? ";"
 *             | "state" NAME ":" KIND ("if" expr)? ";"       KIND: scalar param factored global
 *             | "reads" NAME ("," NAME)* ";"     what step() reads, in order: group
 *                                                keys and state slots (restore analysis)
 *             | ("setdefault" | "setforce") NAME "=" expr ";"   what the optimizer's
 *                                                __setstate__ does to a loaded group
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
 *
 * THE SCHEDULE LANGUAGE (start token START_SCHEDULE; builders in dsl.c;
 * ftsc-lang(5) is the user documentation)
 *
 *   schedule := stmt*
 *   stmt     := "include" STRING ";"                      another schedule file
 *             | "optimizer" classref ";"                  the initial optimizer
 *             | "lr_scheduler" classref lrs* ";"          the initial lr scheduler
 *             | "set" NAME "=" value ";"                  a FinetuningScheduler
 *                                                         argument; max_epochs: trainer
 *             | "phase" key? "{" item* "}"                key: INT (default: next),
 *                                                         or a number / string
 *   item     := "thaw" selector ("," selector)* ";"       params (statements add up)
 *             | "until" "epoch" value ";"                 max_transition_epoch
 *             | "optimizer" classref ";"                  new_optimizer
 *             | "lr_scheduler" classref lrs* ";"          new_lr_scheduler
 *             | key ":" value ";"                         any other phase key (lr: 1e-5)
 *   lrs      := "with" value                              pl_lrs_cfg
 *             | "group_lrs" value                         init_pg_lrs
 *             | "use_current_lrs" ("=" value)?            use_current_optimizer_pg_lrs
 *   classref := dotted ( "(" (key ":" value ("," key ":" value)* ","?)? ")" )?
 *   selector := WORD | STRING | re"regex" | "rest"        WORD: name chars, *, **,
 *                                                         {a,b}, {N..M}
 *   value    := expr                                      numbers, strings, bare words
 *                                                         (strings), true/false/none,
 *                                                         [lists], {key: value} mappings;
 *                                                         other expressions (0.95 ** epoch)
 *                                                         become their source text
 *
 * Schedule statements recover at ";" and "}" too.
 */

%require "3.8"
%define api.pure full
%define api.prefix {fts_yy}
%define api.token.prefix {TOK_}
%define api.location.type {struct fts_span}
%define parse.error custom
%locations
%expect 0

%code requires {
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "source.h"
#include "decl.h"
#include "expr.h"

struct fts_node;

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
	struct fts_node *node;
}

%param {void *scanner}
%parse-param {struct fts_parse_ctx *pc}

%code {
#include <stdlib.h>
#include <string.h>
#include "arena.h"
#include "dsl.h"
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

/* {key: value, ...}: a call of the pseudo-function "{}" whose arguments
 * are (key, value) tuples; only the schedule language reads it */
static struct fts_expr *mkdict(struct fts_parse_ctx *pc, YYLTYPE loc)
{
	struct fts_expr *e = mk(pc, FTS_E_CALL, loc);
	e->name = "{}";
	return e;
}

static struct fts_expr *mkname(struct fts_parse_ctx *pc, YYLTYPE loc, const char *name)
{
	struct fts_expr *e = mk(pc, FTS_E_NAME, loc);
	e->name = name;
	return e;
}

/* lr_scheduler clauses collect in a mapping keyed by FTS's names */
static struct fts_node *clause(struct fts_parse_ctx *pc, struct fts_node *map, const char *key,
			       YYLTYPE kloc, struct fts_node *value)
{
	if (!map)
		map = fts_dsl_map(pc, kloc);
	fts_dsl_map_add(pc, map, fts_dsl_str(pc, key, kloc), value, "lr_scheduler clause");
	return map;
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
%token START_FILE START_EXPR START_SCHEDULE
%token PHASE "phase" THAW "thaw" UNTIL "until" EPOCH "epoch" INCLUDE "include" SET "set"
%token WITH "with" GROUP_LRS "group_lrs" USE_CURRENT_LRS "use_current_lrs" REST "rest"
%token <str> SELECTOR "parameter selector"

%type <name> dotted dotted_part argname annot_opt raises_opt read_name
%type <expr> expr or_test and_test not_test comparison arith term factor power postfix atom
%type <expr> default_opt if_opt expr_list call_args
%type <type> type type_atom type_arg
%type <tl> type_args
%type <op> comp_op class_kw
%type <str> string
%type <fval> signed_num
%type <expr> dict_items
%type <node> value key phase_key kwargs classref lrs_clauses sel_list selector

%%

start:
	START_FILE decls
	| START_EXPR expr	{ pc->expr = $2; }
	| START_SCHEDULE stmts
	;

/* ---- the schedule language ---- */

stmts:
	%empty
	| stmts stmt
	;

stmt:
	INCLUDE string ';'	{ fts_dsl_include(pc, $2.s, @$); }
	| OPTIMIZER classref ';'
		{ fts_dsl_optimizer(pc, @1, $2, @$); }
	| LR_SCHEDULER classref lrs_clauses ';'
		{ fts_dsl_lr_scheduler(pc, @1, $2, $3, @$); }
	| SET NAME '=' value ';'
		{ fts_dsl_set(pc, $2, @2, $4, @$); }
	| phase_head '{' phase_items '}'
		{ fts_dsl_phase_end(pc, @$); }
	| error ';'
	| error '}'
	;

phase_head:
	PHASE phase_key		{ fts_dsl_phase_begin(pc, $2, @1); }
	;

phase_key:
	%empty			{ $$ = NULL; }
	| INT			{ $$ = fts_dsl_value(pc, mkconst(pc, @1, fts_value_int($1))); }
	| FLOAT			{ $$ = fts_dsl_value(pc, mkconst(pc, @1, fts_value_float($1))); }
	| '-' INT
		{ $$ = fts_dsl_value(pc, mk2(pc, FTS_E_NEG, @$, mkconst(pc, @2, fts_value_int($2)), NULL)); }
	| string		{ $$ = fts_dsl_value(pc, mkconst(pc, @1, fts_value_str($1.s, $1.len))); }
	;

phase_items:
	%empty
	| phase_items phase_item
	;

phase_item:
	THAW sel_list ';'	{ fts_dsl_thaw(pc, @1, $2); }
	| UNTIL EPOCH value ';'
		{ YYLTYPE kw = @1; kw.end = @2.end; fts_dsl_until(pc, kw, $3); }
	| OPTIMIZER classref ';'
		{ fts_dsl_optimizer(pc, @1, $2, @$); }
	| LR_SCHEDULER classref lrs_clauses ';'
		{ fts_dsl_lr_scheduler(pc, @1, $2, $3, @$); }
	| key ':' value ';'	{ fts_dsl_phase_item(pc, $1, $3); }
	| error ';'
	;

key:
	NAME			{ $$ = fts_dsl_str(pc, $1, @1); }
	| string		{ $$ = fts_dsl_value(pc, mkconst(pc, @1, fts_value_str($1.s, $1.len))); }
	;

sel_list:
	selector		{ $$ = fts_dsl_seq(pc, @1); fts_dsl_seq_add(pc, $$, $1); }
	| sel_list ',' selector	{ $$ = $1; fts_dsl_seq_add(pc, $$, $3); $$->span.end = @3.end; }
	;

selector:
	SELECTOR		{ $$ = fts_dsl_selector(pc, FTS_DSL_SEL_WORD, $1.s, $1.len, @1); }
	| STRING		{ $$ = fts_dsl_selector(pc, FTS_DSL_SEL_STRING, $1.s, $1.len, @1); }
	| RSTRING		{ $$ = fts_dsl_selector(pc, FTS_DSL_SEL_REGEX, $1.s, $1.len, @1); }
	| REST			{ $$ = fts_dsl_selector(pc, FTS_DSL_SEL_REST, "rest", 4, @1); }
	;

classref:
	dotted			{ $$ = fts_dsl_classref(pc, $1, @1, NULL, @$); }
	| dotted '(' ')'	{ $$ = fts_dsl_classref(pc, $1, @1, fts_dsl_map(pc, @2), @$); }
	| dotted '(' kwargs comma_opt ')'
		{ $3->span = @2; $3->span.end = @5.end; $$ = fts_dsl_classref(pc, $1, @1, $3, @$); }
	;

kwargs:
	key ':' value
		{ $$ = fts_dsl_map(pc, @$); fts_dsl_map_add(pc, $$, $1, $3, "argument"); }
	| kwargs ',' key ':' value
		{ $$ = $1; fts_dsl_map_add(pc, $$, $3, $5, "argument"); }
	;

lrs_clauses:
	%empty			{ $$ = NULL; }
	| lrs_clauses WITH value
		{ $$ = clause(pc, $1, "pl_lrs_cfg", @2, $3); }
	| lrs_clauses GROUP_LRS value
		{ $$ = clause(pc, $1, "init_pg_lrs", @2, $3); }
	| lrs_clauses USE_CURRENT_LRS
		{ $$ = clause(pc, $1, "use_current_optimizer_pg_lrs", @2,
			      fts_dsl_value(pc, mkconst(pc, @2, fts_value_bool(true)))); }
	| lrs_clauses USE_CURRENT_LRS '=' value
		{ $$ = clause(pc, $1, "use_current_optimizer_pg_lrs", @2, $4); }
	;

value:
	expr			{ $$ = fts_dsl_value(pc, $1); }
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
	| NAME read_names ';'
		{ fts_parse_reads(pc, $1, @1); }
	| NAME argname '=' expr ';'
		{ fts_parse_setstate(pc, $1, @1, $2, $4, @$); }
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

read_names:
	read_name		{ FTS_VEC_PUSH(pc->reads, $1); }
	| read_names ',' read_name	{ FTS_VEC_PUSH(pc->reads, $3); }
	;

read_name:
	NAME
	| STATE			{ $$ = "state"; }
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
	| postfix '.' LR_SCHEDULER
		{ $$ = mk2(pc, FTS_E_ATTR, @$, $1, NULL); $$->name = "lr_scheduler"; }
	| postfix '.' OPTIMIZER
		{ $$ = mk2(pc, FTS_E_ATTR, @$, $1, NULL); $$->name = "optimizer"; }
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
	| EPOCH			{ $$ = mkname(pc, @$, "epoch"); }
	| '{' '}'		{ $$ = mkdict(pc, @$); }
	| '{' dict_items comma_opt '}'
		{ $$ = $2; $$->span = @$; }
	| '[' ']'		{ $$ = mk(pc, FTS_E_LIST, @$); }
	| '[' expr_list comma_opt ']'
		{ $$ = $2; $$->kind = FTS_E_LIST; $$->span = @$; }
	;

dict_items:
	expr ':' expr
		{ $$ = mkdict(pc, @$); fts_expr_push(pc->arena, $$, mk2(pc, FTS_E_TUPLE, @$, $1, $3)); }
	| dict_items ',' expr ':' expr
		{ $$ = $1; fts_expr_push(pc->arena, $$, mk2(pc, FTS_E_TUPLE, @3, $3, $5)); }
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

/* A token's name for messages: "identifier" loses its quotes, ';' keeps them. */
static void token_name(char *buf, size_t n, yysymbol_kind_t sym)
{
	const char *s = yysymbol_name(sym);
	size_t len = strlen(s);
	if (len >= 2 && s[0] == '"' && s[len - 1] == '"')
		snprintf(buf, n, "%.*s", (int)(len - 2), s + 1);
	else
		snprintf(buf, n, "%s", s);
}

/*
 * "syntax error, unexpected X, expecting A or B": like bison's verbose
 * message, but long lists are not dropped: up to six expected tokens are
 * named, then how many more there are.
 */
static int yyreport_syntax_error(const yypcontext_t *ctx, void *scanner, struct fts_parse_ctx *pc)
{
	enum { MAX_EXPECTED = 64, SHOWN = 6 };
	yysymbol_kind_t exp[MAX_EXPECTED];
	char msg[512], name[64];
	size_t o = 0;
	(void)scanner;
	int n = yypcontext_expected_tokens(ctx, exp, MAX_EXPECTED);
	yysymbol_kind_t la = yypcontext_token(ctx);
	o += (size_t)snprintf(msg + o, sizeof msg - o, "syntax error");
	if (la != YYSYMBOL_YYEMPTY) {
		token_name(name, sizeof name, la);
		o += (size_t)snprintf(msg + o, sizeof msg - o, ", unexpected %s", name);
	}
	for (int k = 0; k < n && k < SHOWN && o < sizeof msg; k++) {
		token_name(name, sizeof name, exp[k]);
		o += (size_t)snprintf(msg + o, sizeof msg - o, "%s%s",
				      k == 0 ? ", expecting " : (k == n - 1 || k == SHOWN - 1) && n <= SHOWN
				      ? " or " : ", ", name);
	}
	if (n > SHOWN && o < sizeof msg)
		snprintf(msg + o, sizeof msg - o, " or %d more", n - SHOWN);
	fts_parse_error(pc, *yypcontext_location(ctx), "%s", msg);
	return 0;
}
