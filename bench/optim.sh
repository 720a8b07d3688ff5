#!/bin/sh
# bench/optim.sh - fp32 optimizer step throughput of libftsrt, every
# optimizer at 16M elements on 2 threads, against a STREAM triad measured
# in the same run (ftsrun bench); Muon also against its matrix products
# alone (OpenBLAS sgemm, same shapes and threads, interleaved with its
# steps).  Usage: sh bench/optim.sh [BUILD_DIR]
set -eu
B=${1:-build}
N=${FTSRT_BENCH_ELEMENTS:-16777216}
T=${FTSRT_BENCH_THREADS:-2}
printf '%-10s %12s %12s %9s %9s %9s\n' optimizer s/step Gelem/s GB/s triad fraction
for opt in SGD Adam AdamW Adagrad Adadelta Adamax NAdam RAdam RMSprop Rprop ASGD Adafactor Muon; do
	steps=10
	[ "$opt" = Muon ] && steps=2
	OMP_WAIT_POLICY=passive "$B/ftsrun" bench "$opt" --elements "$N" --steps "$steps" --threads "$T" |
	awk -v o="$opt" '
		/^seconds per step:/ { s = $4 }
		/^elements per second:/ { e = $4 }
		/^bandwidth:/ { g = $2 }
		/^stream triad:/ { t = $3 }
		/^fraction of triad:/ { f = $4 }
		/^matrix products alone:/ { pa = $4 }
		/^step over products:/ { r = $4 }
		END {
			printf "%-10s %12.6f %12.3f %9.2f %9.2f %9.2f\n", o, s, e / 1e9, g, t, f
			# Muon: the same products alone, OpenBLAS on the same threads, in the same run
			if (pa != "") printf "%-10s %12.6f  matrix products alone; step over products %.2f\n", "", pa, r
		}'
done
