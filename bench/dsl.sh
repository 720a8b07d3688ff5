#!/bin/sh
# dsl.sh - a 100,000-line schedule-language file must parse at least as
# fast as the same schedule written as YAML.  Usage: sh bench/dsl.sh [build]
set -eu
B=${1:-build}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
# 1000 phases of 97 thaw lines + 3 structure lines = 100,000 DSL lines
awk -v dsl="$T/s.fts" -v yml="$T/s.yaml" 'BEGIN {
	for (p = 0; p < 1000; p++) {
		printf "phase %d {\n", p > dsl
		printf "%d:\n  params:\n", p > yml
		for (i = 0; i < 97; i++) {
			printf "\tthaw model.layers.%d.block%d.weight;\n", p, i > dsl
			printf "  - model.layers.%d.block%d.weight\n", p, i > yml
		}
		printf "\tuntil epoch %d;\n}\n", p + 1 > dsl
		printf "  max_transition_epoch: %d\n", p + 1 > yml
	}
}'
wc -l "$T/s.fts" "$T/s.yaml"
${CC:-cc} -std=c11 -O2 -D_GNU_SOURCE -Icompiler -I"$B" -I"$B/grammar" -o "$T/dsl_bench" \
	bench/dsl_bench.c "$B/libftsc.a" -lyaml -lpcre2-8 -lm -pthread
"$T/dsl_bench" "$T/s.fts" "$T/s.yaml"
