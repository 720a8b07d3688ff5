#!/bin/sh
# bench/optim.sh - fp32 optimizer step throughput of libftsrt, every
# optimizer at 16M elements on 2 threads, against an in-place stream
# b += s*c (12 bytes per element, no write-allocate, over at least 4x the
# last-level cache) whose passes alternate with the steps in the same run
# (ftsrun bench).  GB/s counts each optimizer's bytes per element (B/elem:
# the arrays it reads and writes in place); fraction is GB/s over the
# stream's.  Muon also against its matrix products alone (OpenBLAS sgemm,
# same shapes and threads, interleaved with its steps).
# Usage: sh bench/optim.sh [BUILD_DIR]
set -eu
B=${1:-build}
N=${FTSRT_BENCH_ELEMENTS:-16777216}
T=${FTSRT_BENCH_THREADS:-2}
printf '%-10s %12s %9s %9s %7s %9s %9s\n' optimizer s/step Gelem/s GB/s B/elem in-place fraction
for opt in SGD Adam AdamW Adagrad Adadelta Adamax NAdam RAdam RMSprop Rprop ASGD Adafactor Muon; do
	steps=10
	[ "$opt" = Muon ] && steps=2
	OMP_WAIT_POLICY=passive "$B/ftsrun" bench "$opt" --elements "$N" --steps "$steps" --threads "$T" |
	awk -v o="$opt" '
		/^seconds per step:/ { s = $4 }
		/^elements per second:/ { e = $4 }
		/^bandwidth:/ { g = $2; b = $5 }
		/^in-place stream:/ { t = $3 }
		/^fraction of in-place bandwidth:/ { f = $5 }
		/^matrix products alone:/ { pa = $4 }
		/^step over products:/ { r = $4 }
		END {
			printf "%-10s %12.6f %9.3f %9.2f %7s %9.2f %9.2f\n", o, s, e / 1e9, g, b, t, f
			# Muon: the same products alone, OpenBLAS on the same threads, in the same run
			if (pa != "") printf "%-10s %12.6f  matrix products alone; step over products %.2f\n", "", pa, r
		}'
done
