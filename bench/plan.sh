#!/bin/sh
# bench/plan.sh [BUILD] - the plan of a 500,000-parameter manifest: its size
# (target: at most 40 bytes per parameter) and the time to open, validate
# and close it (target: at most 5 ms warm; the cold figure is reported).
#
# Generates the synthetic MoE manifest and schedule (bench/gen_moe.py),
# builds its plan with `ftsc build`, compares its bytes per parameter with
# the TSV manifest's (the reference, same parameters), then times
# ftsrt_plan_open + ftsrt_plan_close with bench/plan_bench.c (warm against
# the read() floor measured in the same run, and cold).
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
np=$(grep -vc '^#' "$out/moe.tsv")
pb=$(wc -c < "$out/moe.plan")
tb=$(wc -c < "$out/moe.tsv")
echo "ftsc build (500k-parameter MoE): $(( (t1 - t0) / 1000000 )) ms"
awk -v p="$pb" -v t="$tb" -v n="$np" 'BEGIN { printf "plan %d bytes for %d parameters: %.1f B/param (target <= 40); TSV manifest %.1f B/param -> plan/TSV %.2f\n", p, n, p / n, t / n, p / t }'
${CC:-cc} -std=c11 -O2 -D_GNU_SOURCE -Iruntime -o "$out/plan_bench" bench/plan_bench.c \
	"$B/libftsrt.a" -fopenmp -lopenblas -lm
"$out/plan_bench" "$out/moe.plan" 100 10
