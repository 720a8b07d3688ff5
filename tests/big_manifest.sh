#!/bin/sh
# make check-big: a model manifest larger than 4 GiB (needs about 4.3 GB
# under ${TMPDIR:-/tmp}, the memory to map it, and a minute or two; not
# part of make check).
#
# 64 KiB comment lines push a few entries past byte 2^32: the check must
# resolve names there, report a duplicate there with its right line and
# column, link a tied alias there to a name before it, suggest a name
# there, and build a plan.  A 32-bit offset anywhere on the way gives a
# wrong name, a wrong line, or a refusal.
set -eu
B=${1:-build}
FTSC=$B/ftsc
dir=$(mktemp -d "${TMPDIR:-/tmp}/ftsc-big-XXXXXX")
trap 'rm -rf "$dir"' EXIT INT TERM

fail() {
	echo "big_manifest: $*" >&2
	exit 1
}

# big.tsv: the entries, the comment lines, more entries, then (second file
# only) a duplicate.  Prints the line numbers the checks below expect.
lines=$(python3 - "$dir" <<'PY'
import os, sys
d = sys.argv[1]
head = ["# ftsc-manifest v1\n", "model.embed.weight\t32x8\tfloat32\t1\t-\n"]
comment = "#" + "x" * 65534 + "\n"
ncomments = (1 << 32) // len(comment) + 2
tail = []
for l in range(4):
    for e in range(3):
        tail.append("model.layers.%d.mlp.experts.%d.weight\t8x8\tbfloat16\t1\t-\n" % (l, e))
tail.append("lm_head.weight\t32x8\tfloat32\t1\tmodel.embed.weight\n")
dup = "model.layers.2.mlp.experts.1.weight\t8x8\tbfloat16\t1\t-\n"
with open(os.path.join(d, "big.tsv"), "w") as f:
    f.writelines(head)
    for _ in range(ncomments):
        f.write(comment)
    f.writelines(tail)
    size = f.tell()
assert size > (1 << 32) + 65536
first_tail = len(head) + ncomments + 1
# the same file plus a duplicate of the 8th tail entry
with open(os.path.join(d, "dup.tsv"), "w") as f:
    f.writelines(head)
    for _ in range(ncomments):
        f.write(comment)
    f.writelines(tail)
    f.write(dup)
print(first_tail, first_tail + 7, first_tail + len(tail))
PY
)
set -- $lines
orig=$2 dupline=$3

cat > "$dir/s.yaml" <<'EOF'
0:
  params:
    - model.layers.3.mlp.*
1:
  params:
    - model\.layers\.[0-2]\.
    - model.embed.weight
EOF
out=$("$FTSC" check "$dir/s.yaml" --manifest "$dir/big.tsv" 2>&1) ||
	fail "check of the 4 GiB manifest failed: $out"
out=$("$FTSC" build "$dir/s.yaml" --manifest "$dir/big.tsv" -o "$dir/big.ftsplan" \
	'--initial-optimizer={class_path: torch.optim.AdamW, init_args: {lr: 1.0e-4}}' \
	--initial-lr-scheduler=none 2>&1) ||
	fail "build failed: $out"
"$FTSC" dump "$dir/big.ftsplan" 2>/dev/null | grep -q 'model.layers.3.mlp.experts.2.weight' ||
	fail "the plan lacks a name that lies past 4 GiB"

# a duplicate past 4 GiB: its line, and the first one's in the note
out=$("$FTSC" check "$dir/s.yaml" --manifest "$dir/dup.tsv" 2>&1) && fail "the duplicate was not reported"
echo "$out" | grep -q "dup.tsv:$dupline:1: error: .*model.layers.2.mlp.experts.1.weight" ||
	fail "duplicate not located at line $dupline: $out"
echo "$out" | grep -q "dup.tsv:$orig:1: note: first listed here" ||
	fail "first occurrence not located at line $orig: $out"

# a pattern that matches nothing: the suggestion is a name past 4 GiB
cat > "$dir/t.yaml" <<'EOF'
0:
  params:
    - model.layers.3.mlp.experts.7.weight
EOF
out=$("$FTSC" check "$dir/t.yaml" --manifest "$dir/big.tsv" 2>&1) && fail "an unmatched name passed"
echo "$out" | grep -q "did you mean 'model.layers.3.mlp.experts.[0-2].weight'" ||
	fail "no suggestion from past 4 GiB: $out"
echo "big_manifest: a $(($(wc -c < "$dir/big.tsv") >> 20)) MiB manifest: names, lines, ties and suggestions past 4 GiB: ok"
