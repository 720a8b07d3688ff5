#!/bin/sh
# bench/plan.sh [BUILD] - time opening and validating the plan of a
# 500,000-parameter manifest (target: under 20 ms).
#
# Generates the synthetic MoE manifest and schedule (bench/gen_moe.py),
# builds its plan with `ftsc build`, then times ftsrt_plan_open +
# ftsrt_plan_close over many runs with bench/plan_bench.c.
set -eu
B=${1:-build}
out=$B/bench
mkdir -p "$out"
python3 bench/gen_moe.py "$out" >/dev/null
t0=$(date +%s%N)
"$B/ftsc" build "$out/moe_schedule.yaml" --manifest "$out/moe.tsv" -Wno-coverage --plain \
	'--initial-optimizer={class_path: torch.optim.AdamW, init_args: {lr: 1.0e-4}}' --initial-lr-scheduler=none \
	--strip -o "$out/moe.plan" 2>"$out/moe_build.err" || { cat "$out/moe_build.err"; exit 1; }
t1=$(date +%s%N)
echo "ftsc build (500k-parameter MoE): $(( (t1 - t0) / 1000000 )) ms, plan $(wc -c < "$out/moe.plan") bytes"
${CC:-cc} -std=c11 -O2 -D_GNU_SOURCE -Iruntime -o "$out/plan_bench" bench/plan_bench.c \
	"$B/libftsrt.a" -fopenmp -lopenblas -lm
"$out/plan_bench" "$out/moe.plan" 100
