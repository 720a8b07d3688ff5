#!/bin/sh
# make bench: performance targets, measured (not asserted by unit tests).
#
# 1. Resolution: `ftsc check` of a 100-pattern schedule over a synthetic
#    500,000-parameter MoE manifest, against FTS's own algorithm (every
#    pattern re.match-ed against every name, in Python) on the same input.
set -eu
B=${1:-build}
out=$B/bench
mkdir -p "$out"
if ! command -v python3 >/dev/null 2>&1; then
	echo "bench: python3 is needed to generate the inputs" >&2
	exit 1
fi
python3 bench/gen_moe.py "$out" >/dev/null

best=""
for i in 1 2 3 4 5; do
	t0=$(date +%s.%N)
	"$B/ftsc" check "$out/moe_schedule.yaml" --manifest "$out/moe.tsv" -Wno-coverage >/dev/null 2>&1 || {
		echo "bench: ftsc check failed on the MoE schedule" >&2
		"$B/ftsc" check "$out/moe_schedule.yaml" --manifest "$out/moe.tsv" 2>&1 | head -20
		exit 1
	}
	t1=$(date +%s.%N)
	t=$(echo "$t1 - $t0" | bc -l 2>/dev/null || python3 -c "print($t1 - $t0)")
	if [ -z "$best" ] || [ "$(python3 -c "print(1 if $t < $best else 0)")" = 1 ]; then
		best=$t
	fi
done
printf 'resolution: ftsc check, 500k-parameter MoE manifest, 100 patterns: %.3f s (best of 5, whole process)\n' "$best"
py=$(python3 bench/fts_resolve.py "$out/moe.tsv" "$out/moe_schedule.yaml" | tail -1)
printf 'resolution: FTS algorithm in Python (re.match of every pattern over every name): %s\n' "$py"
python3 -c "
import re
py = float(re.findall(r'[0-9.]+', '''$py''')[0])
print('resolution: speed-up %.0fx (target: at least 50x, and ftsc well under 0.2 s)' % (py / $best))
"
