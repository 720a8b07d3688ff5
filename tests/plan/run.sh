#!/bin/sh
# tests/plan/run.sh [--update] - golden tests of `ftsc dump`.
#
# Builds the plan of each case below with `ftsc build`, lists it with
# `ftsc dump` and compares the listing with tests/plan/NAME.dump (--update
# rewrites the goldens).  Also checks that `ftsrun inspect` accepts each
# plan.  Run from the repository root; FTSC_BIN and FTSRUN_BIN override
# build/ftsc and build/ftsrun.
set -u
FTSC=${FTSC_BIN:-build/ftsc}
FTSRUN=${FTSRUN_BIN:-build/ftsrun}
DIR=tests/plan
BS=tests/schedules
M1=tests/data/manifests/fts-boring-model.tsv
M1_OPT='--initial-optimizer={class_path: torch.optim.SGD, init_args: {lr: 0.001, weight_decay: 1.0e-06}}'
M1_LRS='--initial-lr-scheduler={class_path: torch.optim.lr_scheduler.StepLR, init_args: {step_size: 1, gamma: 0.7}}'
DEB=tests/data/manifests/deberta-v3-base-seqcls.tsv
ADAMW='--initial-optimizer={class_path: torch.optim.AdamW, init_args: {lr: 1.0e-05, weight_decay: 1.0e-05}}'
SEQ='--initial-lr-scheduler={class_path: torch.optim.lr_scheduler.SequentialLR, init_args: {schedulers: [{class_path: torch.optim.lr_scheduler.ConstantLR, init_args: {factor: 0.5, total_iters: 2}}, {class_path: torch.optim.lr_scheduler.ExponentialLR, init_args: {gamma: 0.9}}], milestones: [2]}}'
LIN='--initial-lr-scheduler={class_path: torch.optim.lr_scheduler.LinearLR, init_args: {start_factor: 0.1, total_iters: 4}}'
ADAM='--initial-optimizer={class_path: torch.optim.Adam, init_args: {lr: 0.001, amsgrad: true}}'
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
update=0
[ "${1:-}" = --update ] && update=1
fail=0
n=0

# case NAME ARGS...: build with ARGS (the schedule and options), then dump
case_() {
	name=$1
	shift
	n=$((n + 1))
	if ! "$FTSC" build "$@" --plain --color=never -o "$TMP/$name.plan" 2>"$TMP/$name.err"; then
		echo "FAIL $name: build failed"; cat "$TMP/$name.err"; fail=1; return
	fi
	if ! "$FTSRUN" inspect "$TMP/$name.plan" >/dev/null 2>&1; then
		echo "FAIL $name: ftsrun inspect refused the plan"; fail=1; return
	fi
	"$FTSC" dump "$TMP/$name.plan" >"$TMP/$name.dump" || { echo "FAIL $name: dump"; fail=1; return; }
	if [ $update = 1 ]; then
		cp "$TMP/$name.dump" "$DIR/$name.dump"
	elif ! diff -u "$DIR/$name.dump" "$TMP/$name.dump"; then
		echo "FAIL $name: listing differs from $DIR/$name.dump"; fail=1
	fi
}

case_ boring_00_default $BS/boring_default.yaml --manifest "$M1" "$M1_OPT" "$M1_LRS"
case_ boring_01_mod_sched $BS/boring_mod.yaml --manifest "$M1" "$M1_OPT" "$M1_LRS"
case_ boring_02_epoch_only $BS/boring_epoch_only.yaml --manifest "$M1" "$M1_OPT" "$M1_LRS" --epoch-transitions-only
case_ boring_03_reinitlr $BS/boring_reinit_lr.yaml --manifest "$M1" "$M1_OPT" "$M1_LRS"
case_ boring_05_rlrop $BS/boring_rlrop.yaml --manifest "$M1" "$M1_OPT" "$M1_LRS"
case_ boring_06_reinit_optim $BS/boring_reinit_optim.yaml --manifest "$M1" "$M1_OPT" "$M1_LRS"
case_ boring_07_reinitlr_optim $BS/boring_reinit_optim_lr.yaml --manifest "$M1" "$M1_OPT" "$M1_LRS"
case_ boring_09_rlrop_optim $BS/boring_reinit_optim_rlrop.yaml --manifest "$M1" "$M1_OPT" "$M1_LRS"
case_ boring_10_use_curr $BS/boring_use_curr.yaml --manifest "$M1" "$M1_OPT" "$M1_LRS"
case_ boring_implicit --implicit --manifest "$M1" "$M1_OPT" "$M1_LRS" --max-depth=2 --no-decay=bias
case_ lambda_seq $DIR/lambda_seq.yaml --manifest "$M1" "$ADAM" "$SEQ" --allow-untested
case_ deberta_explicit samples/deberta_explicit.yaml --manifest samples/deberta-v3-base-seqcls.tsv "$ADAMW" "$LIN" --strip
case_ deberta_reinit_optim_lr $BS/deberta_reinit_optim_lr.yaml --manifest "$DEB" "$ADAMW" "$LIN" --strip
case_ config_explicit --config tests/config/examples/defaults.yaml --config tests/config/examples/explicit.yaml --manifest "$DEB" --strip

[ $fail = 0 ] && echo "plan goldens: $n cases ok"
exit $fail
