#!/bin/sh
# tests/mpi_test.sh FTSC FTSRUN FTSRUN_MPI - ftsrun-mpi's sharded data-parallel run
# (issue 17): `mpirun -n 2 ftsrun-mpi run` of the DeBERTa demo plan (scaled) writes
# the same per-epoch log, byte for byte, as one `ftsrun run` process (every rank
# computes the same gradients, and (g + g) / 2 is g exactly), and each rank keeps
# the optimizer state of its slice only; a rank that fails mid-run ends the
# whole job with an error, not a hang.  Skipped, with a notice, where ftsrun-mpi
# was not built (no mpicc) or mpirun is missing.
set -eu
ftsc=$1 ftsrun=$2 mpi=${3:-}
if [ -z "$mpi" ] || [ ! -x "$mpi" ] || ! command -v mpirun >/dev/null 2>&1; then
	echo "mpi_test: skipped: ftsrun-mpi was not built (no mpicc) or mpirun is missing (make deps installs openmpi)"
	exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "mpi_test: FAIL: $*" >&2; exit 1; }
"$ftsc" build samples/deberta_demo.fts --manifest samples/deberta-v3-base-seqcls.tsv \
	'--initial-optimizer={class_path: torch.optim.AdamW, init_args: {lr: 1.0e-05, weight_decay: 1.0e-05}}' \
	'--initial-lr-scheduler={class_path: torch.optim.lr_scheduler.LinearLR, init_args: {start_factor: 0.1, total_iters: 4}}' \
	--no-decay=bias,LayerNorm.weight --phase0-groups=2 --restore-best=false --max-epochs=12 \
	-o "$tmp/p.ftsplan" 2>/dev/null || fail "ftsc build"
args="--scale 0.05 --epochs 5 --steps-per-epoch 4"
"$ftsrun" run "$tmp/p.ftsplan" $args --log "$tmp/one.csv" >"$tmp/one.out" || fail "ftsrun run"
root=""
[ "$(id -u)" = 0 ] && root=--allow-run-as-root
# a sanitized build (make SANITIZE=address check): Open MPI's own allocations
# outlive MPI_Finalize, which LeakSanitizer would report as leaks of the job
ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0
export ASAN_OPTIONS
# shellcheck disable=SC2086
timeout 300 mpirun $root --oversubscribe -x ASAN_OPTIONS -n 2 "$mpi" run "$tmp/p.ftsplan" $args --log "$tmp/two.csv" \
	>"$tmp/two.out" 2>"$tmp/two.err" || { cat "$tmp/two.err" >&2; fail "mpirun -n 2 ftsrun-mpi run"; }
cmp "$tmp/one.csv" "$tmp/two.csv" || fail "the 2-rank log differs from the one-process log"
cmp "$tmp/one.out" "$tmp/two.out" || fail "the 2-rank output differs from the one-process output"
n0=$(sed -n 's/^rank 0 of 2: elements \[0, \([0-9]*\)) of \([0-9]*\), .*/\1 \2/p' "$tmp/two.err")
n1=$(sed -n 's/^rank 1 of 2: elements \[\([0-9]*\), \([0-9]*\)) of .*optimizer state \([0-9]*\) bytes/\1 \2 \3/p' "$tmp/two.err")
[ -n "$n0" ] && [ -n "$n1" ] || { cat "$tmp/two.err" >&2; fail "the ranks did not report their slices"; }
set -- $n0 $n1
cut=$1 total=$2 b1=$3 e1=$4 st1=$5
[ "$cut" = "$b1" ] && [ "$e1" = "$total" ] || fail "the slices [0, $cut) and [$b1, $e1) do not tile $total"
# AdamW's two slots over rank 1's half: at most half the arena's state, plus padding
[ "$st1" -gt 0 ] && [ "$st1" -le $(( (total / 2 + 64) * 8 + 256 )) ] ||
	fail "rank 1 keeps $st1 bytes of state for $((e1 - b1)) of $total elements"
echo "mpi_test: mpirun -n 2 ftsrun-mpi run: same log as one process; rank 1 keeps $st1 state bytes for [$b1, $e1) of $total: ok"
# a rank that fails mid-run (rank 1 cannot write its first best checkpoint:
# a directory is in the way, after the epoch's steps) ends the whole job
# with an error, not a hang: MPI_Abort
mkdir -p "$tmp/ck/shard-1-of-2/best.ftsckpt/in-the-way"
st=0
# shellcheck disable=SC2086
timeout 120 mpirun $root --oversubscribe -x ASAN_OPTIONS -n 2 "$mpi" run "$tmp/p.ftsplan" $args \
	--ckpt-dir "$tmp/ck" >"$tmp/fail.out" 2>"$tmp/fail.err" || st=$?
[ "$st" != 0 ] || fail "a job whose rank 1 fails exited 0"
[ "$st" != 124 ] || fail "a job whose rank 1 fails hung (killed by timeout)"
grep -q "epoch 0: cannot rename onto .*shard-1-of-2/best.ftsckpt" "$tmp/fail.err" ||
	{ cat "$tmp/fail.err" >&2; fail "rank 1's error is not reported"; }
# (Open MPI's own notice of the abort is not checked: its wording, and
# whether it prints at all, depend on the installation)
echo "mpi_test: rank 1 failing at epoch 0 ends the 2-rank job with status $st, no hang: ok"
