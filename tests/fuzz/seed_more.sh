#!/bin/sh
# seed_more.sh DIR FTSC FTSRUN - seed corpora for the fuzz harnesses that
# start from text or checkpoints: regex patterns, configs, lambdas, and the
# run-state checkpoints of a small plan (DIR/resume.plan) for fuzz_resume.
set -eu
D=$1 FTSC=$2 FTSRUN=$3
M1=tests/data/manifests/fts-boring-model.tsv
i=0
for p in 'model\.0\.' 'model.(0|1)\..*' '(?:a|b)*c' '[^.]+\.weight' '(?P<x>model)\.(?P=x)?' 'x{2,3}\Z' '\N{FULL STOP}'; do
	i=$((i + 1)); printf '%s\nmodel.0.weight' "$p" > "$D/corpus_pyre/seed$i"
done
cp tests/config/*.yaml tests/config/examples/*.yaml "$D/corpus_config/" 2>/dev/null || true
i=0
for l in '0.9 ** epoch' '1.0 / (epoch + 1)' 'max(0.1, 1 - epoch / 10)' '1 if epoch < 3 else 0.5' 'epoch // 2 * 0.1'; do
	i=$((i + 1)); printf '%s' "$l" > "$D/corpus_lambda/seed$i"
done
"$FTSC" build tests/schedules/boring_default.yaml --manifest "$M1" --plain \
	'--initial-optimizer={class_path: torch.optim.Adam, init_args: {lr: 0.001}}' \
	'--initial-lr-scheduler={class_path: torch.optim.lr_scheduler.StepLR, init_args: {step_size: 1}}' \
	-o "$D/resume.plan" 2>/dev/null
ck=$(mktemp -d)
"$FTSRUN" run "$D/resume.plan" --epochs 6 --steps-per-epoch 2 --scale 0.1 --ckpt-dir "$ck" >/dev/null
cp "$ck"/*.ftsckpt "$D/corpus_resume/" 2>/dev/null || true
rm -rf "$ck"
