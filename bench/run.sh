#!/bin/sh
# make bench: performance targets, measured (not asserted by unit tests).
#
# 1. Resolution: `ftsc check` of a 99-pattern schedule over a synthetic
#    500,000-parameter MoE manifest (bench/gen_moe.py), whole process,
#    against, in the same run:
#    - FTS's own algorithm (every pattern re.match-ed against every name,
#      in Python, bench/fts_resolve.py; names loaded before the clock);
#    - the parse floor: mapping the TSV and splitting it into names and
#      fields (bench/parse_floor.c), whole process;
#    - the manifest's size, for ftsc's peak resident set.
#    Times are best and median of FTSC_BENCH_RUNS runs (default 7), by
#    bench/proc_stat.c (wait4: wall, user + system CPU, peak RSS).
# 2. Scaling (FTSC_BENCH_5M=1; writes ~330 MB to BUILD/bench/5m): the same
#    check at 5 million names, and the exponent k of n^k between the two.
set -eu
B=${1:-build}
out=$B/bench
runs=${FTSC_BENCH_RUNS:-7}
mkdir -p "$out"
if ! command -v python3 >/dev/null 2>&1; then
	echo "bench: python3 is needed to generate the inputs" >&2
	exit 1
fi
python3 bench/gen_moe.py "$out" >/dev/null
${CC:-cc} -std=c11 -O2 -o "$out/proc_stat" bench/proc_stat.c
${CC:-cc} -std=c11 -O2 -o "$out/parse_floor" bench/parse_floor.c

check() {       # check DIR: exit status of ftsc check on DIR's input
	"$B/ftsc" check "$1/moe_schedule.yaml" --manifest "$1/moe.tsv" -Wno-coverage >/dev/null 2>&1 || {
		echo "bench: ftsc check failed on $1/moe_schedule.yaml" >&2
		"$B/ftsc" check "$1/moe_schedule.yaml" --manifest "$1/moe.tsv" -Wno-coverage 2>&1 | head -20
		exit 1
	}
}
check "$out"
ftsc=$("$out/proc_stat" "$runs" "$B/ftsc" check "$out/moe_schedule.yaml" --manifest "$out/moe.tsv" -Wno-coverage)
floor=$("$out/proc_stat" "$runs" "$out/parse_floor" "$out/moe.tsv")
py1=$(python3 bench/fts_resolve.py "$out/moe.tsv" "$out/moe_schedule.yaml" 2>/dev/null | tail -1)
py2=$(python3 bench/fts_resolve.py "$out/moe.tsv" "$out/moe_schedule.yaml" 2>/dev/null | tail -1)
size=$(wc -c < "$out/moe.tsv")
names=$(grep -vc '^#' "$out/moe.tsv")
python3 - "$ftsc" "$floor" "$py1" "$py2" "$size" "$names" "$runs" <<'PY'
import sys
f, fl = sys.argv[1].split(), sys.argv[2].split()
p1, p2 = [float(x) for x in sys.argv[3].split()], [float(x) for x in sys.argv[4].split()]
py, pyc = min(p1[0], p2[0]), min(p1[1], p2[1])
size, names, runs = int(sys.argv[5]), int(sys.argv[6]), sys.argv[7]
fw, fwm, fc, fcm, frss = float(f[1]), float(f[2]), float(f[4]), float(f[5]), int(f[7])
lw, lwm, lc, lcm = float(fl[1]), float(fl[2]), float(fl[4]), float(fl[5])
print("resolution: ftsc check, %d-name MoE manifest x 99 patterns, whole process: %.3f s wall "
      "(median %.3f), %.3f s CPU (median %.3f), best of %s" % (names, fw, fwm, fc, fcm, runs))
print("resolution: FTS algorithm in Python (re.match of every pattern over every name, names loaded "
      "before the clock): %.3f s wall, %.3f s CPU (best of 2)" % (py, pyc))
print("resolution: speed-up %.0fx by wall time, %.0fx by CPU time (target: at least 100x)" % (py / fw, pyc / fc))
print("resolution: parse floor (map the TSV, split it into names and fields), whole process: %.3f s wall "
      "(median %.3f), %.3f s CPU (median %.3f)" % (lw, lwm, lc, lcm))
print("resolution: ftsc / parse floor: %.1fx by wall time, %.1fx by CPU time (target: at most 3x)"
      % (fw / lw, fc / lc))
print("resolution: peak RSS %.1f MiB, manifest %.1f MiB: %.2fx (target: at most 2x)"
      % (frss / 1024, size / 1048576, frss * 1024 / size))
PY

if [ "${FTSC_BENCH_5M:-0}" = 1 ]; then
	big=$out/5m
	[ -s "$big/moe.tsv" ] || python3 bench/gen_moe.py "$big" 64 26000 >/dev/null
	check "$big"
	ftsc5=$("$out/proc_stat" 3 "$B/ftsc" check "$big/moe_schedule.yaml" --manifest "$big/moe.tsv" -Wno-coverage)
	ftsc05=$("$out/proc_stat" 3 "$B/ftsc" check "$out/moe_schedule.yaml" --manifest "$out/moe.tsv" -Wno-coverage)
	size5=$(wc -c < "$big/moe.tsv")
	names5=$(grep -vc '^#' "$big/moe.tsv")
	python3 - "$ftsc05" "$ftsc5" "$names" "$names5" "$size5" <<'PY'
import math, sys
a, b = sys.argv[1].split(), sys.argv[2].split()
n0, n1, size = int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
k = lambda x, y: math.log(y / x) / math.log(n1 / n0)
print("scaling: %d -> %d names: CPU %.3f -> %.3f s (n^%.2f), wall %.3f -> %.3f s (n^%.2f) (target: CPU linear)"
      % (n0, n1, float(a[4]), float(b[4]), k(float(a[4]), float(b[4])), float(a[1]), float(b[1]),
         k(float(a[1]), float(b[1]))))
print("scaling: at %d names peak RSS %.1f MiB, manifest %.1f MiB: %.2fx"
      % (n1, int(b[7]) / 1024, size / 1048576, int(b[7]) * 1024 / size))
PY
else
	echo "scaling: 500k -> 5M names skipped (FTSC_BENCH_5M=1 runs it; it writes ~330 MB to $out/5m)"
fi
