#!/bin/sh
# seed_plan.sh DIR - write seed plans for fuzz_plan into DIR (small plans
# built from the boring model's schedules in tests/schedules).
set -eu
FTSC=${FTSC_BIN:-build/ftsc}
BS=tests/schedules
M1=tests/data/manifests/fts-boring-model.tsv
for s in boring_default boring_rlrop boring_reinit_optim_lr boring_use_curr; do
	"$FTSC" build "$BS/$s.yaml" --manifest "$M1" --plain -Wno-untested \
		'--initial-optimizer={class_path: torch.optim.Adam, init_args: {lr: 0.001}}' \
		'--initial-lr-scheduler={class_path: torch.optim.lr_scheduler.LambdaLR, init_args: {lr_lambda: "0.9 ** epoch if epoch < 5 else 0.1"}}' \
		-o "$1/$s.plan" 2>/dev/null
done
"$FTSC" build tests/plan/lambda_seq.yaml --manifest "$M1" --plain --allow-untested --strip \
	'--initial-optimizer={class_path: torch.optim.SGD, init_args: {lr: 0.001}}' '--initial-lr-scheduler={class_path: torch.optim.lr_scheduler.StepLR, init_args: {step_size: 1}}' \
	-o "$1/lambda_seq.plan" 2>/dev/null
