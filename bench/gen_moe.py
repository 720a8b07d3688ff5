#!/usr/bin/env python3
"""gen_moe.py OUTDIR [LAYERS EXPERTS] - synthetic MoE manifest and FTS schedule.

Writes OUTDIR/moe.tsv (ftsc-manifest v1, parameters in registration order:
embeddings, then per layer attention, norms, router, experts, shared expert,
then the final norm and lm_head; 64 layers x 2600 experts x 3 = 499,200
expert weights, 499,909 parameters in all) and OUTDIR/moe_schedule.yaml, an
explicit FTS schedule of 99 entries over 21 disjoint phases in which every
entry matches something.  Also writes OUTDIR/moe_patterns.txt: the entries
one per line, in schedule order (for bench/resolve_bench).
"""
import os
import sys


def names(layers, experts):
    out = ["model.embed_tokens.weight"]
    for l in range(layers):
        p = "model.layers.%d." % l
        for proj in ("q_proj", "k_proj", "v_proj", "o_proj"):
            out.append(p + "self_attn.%s.weight" % proj)
        out.append(p + "input_layernorm.weight")
        out.append(p + "mlp.gate.weight")
        for e in range(experts):
            for w in ("w1", "w2", "w3"):
                out.append(p + "mlp.experts.%d.%s.weight" % (e, w))
        out.append(p + "mlp.shared_expert.gate_proj.weight")
        out.append(p + "mlp.shared_expert.up_proj.weight")
        out.append(p + "mlp.shared_expert.down_proj.weight")
        out.append(p + "post_attention_layernorm.weight")
        out.append(p + "post_attention_layernorm.bias")
    out += ["model.norm.weight", "model.norm.bias", "lm_head.weight", "score.bias"]
    return out


def phases(layers):
    """Disjoint phases, deepest layers first (FTS thaws from the head down)."""
    L = layers
    ph = [["lm_head.weight", ".*score.bias", "model.norm.weight", "model\\.norm\\.bias"]]
    # the top 4 layers one by one, several pattern styles
    for l in range(L - 1, L - 5, -1):
        ph.append(["model.layers.%d.mlp.experts.*" % l,
                   "model\\.layers\\.%d\\.mlp\\.(gate|shared_expert\\.\\w+)\\.weight" % l,
                   "model.layers.%d.self_attn.[qkvo]_proj.weight" % l,
                   "model.layers.%d.input_layernorm.weight" % l,
                   "model.layers.%d.post_attention_layernorm.*" % l])
    # then groups of 4 layers, expert ranges split in two
    l = L - 5
    while l >= 7:
        lo = l - 3
        group = list(range(lo, l + 1))
        if lo // 10 == l // 10:
            rng = "%d[%d-%d]" % (lo // 10, lo % 10, l % 10) if lo >= 10 else "[%d-%d]" % (lo, l)
            ph.append(["model.layers.%s.mlp.experts.[0-9]{1,3}\\." % rng,
                       "model.layers.%s.mlp.experts.\\d{4}\\." % rng,
                       "model.layers.%s.self_attn.*" % rng,
                       "model\\.layers\\.%s\\.(input|post_attention)_layernorm\\." % rng,
                       "model.layers.%s.mlp.(gate|shared_expert).*" % rng])
        else:
            alts = "|".join(str(x) for x in group)
            ph.append(["model.layers.(%s).mlp.experts.*" % alts,
                       "model.layers.(%s).self_attn.*" % alts,
                       "model.layers.(%s).(input|post_attention)_layernorm.*" % alts,
                       "model.layers.(?:%s).mlp.(gate|shared_expert).*" % alts])
        l -= 4
    # layers 0 .. l: regex over all remaining layers, suffix-style patterns
    rest = list(range(0, l + 1))
    alts = "|".join(str(x) for x in rest)
    ph.append(["model.layers.(%s)\\.mlp\\.experts\\.\\d+\\.w1\\." % alts,
               "model.layers.(%s)\\.mlp\\.experts\\.\\d+\\.w[23]\\." % alts,
               "model.layers.(%s)\\.self_attn\\." % alts,
               "model.layers.(%s)\\.mlp\\.(gate|shared_expert)" % alts,
               "model.layers.(%s)\\.input_layernorm\\.weight" % alts,
               "model.layers.(%s)\\.post_attention_layernorm.weight" % alts,
               "model.layers.(%s)\\.post_attention_layernorm.bias" % alts])
    ph.append(["model.embed_tokens.weight"])
    return ph


def main():
    if len(sys.argv) < 2:
        sys.exit("usage: gen_moe.py OUTDIR [LAYERS EXPERTS]")
    outdir = sys.argv[1]
    layers = int(sys.argv[2]) if len(sys.argv) > 2 else 64
    experts = int(sys.argv[3]) if len(sys.argv) > 3 else 2600
    os.makedirs(outdir, exist_ok=True)
    ns = names(layers, experts)
    with open(os.path.join(outdir, "moe.tsv"), "w") as f:
        f.write("# ftsc-manifest v1\n")
        f.write("# source: bench/gen_moe.py %d layers x %d experts (synthetic)\n" % (layers, experts))
        f.write("# name\tshape\tdtype\trequires_grad\ttied_to\n")
        for n in ns:
            shape = "4096" if n.endswith("norm.weight") or n.endswith(".bias") else "1024x4096"
            f.write("%s\t%s\tbfloat16\t1\t-\n" % (n, shape))
    ph = phases(layers)
    with open(os.path.join(outdir, "moe_schedule.yaml"), "w") as f, \
         open(os.path.join(outdir, "moe_patterns.txt"), "w") as g:
        for i, ps in enumerate(ph):
            f.write("%d:\n  params:\n" % i)
            for p in ps:
                f.write("  - '%s'\n" % p.replace("'", "''"))
                g.write(p + "\n")
    print("%s: %d names, %d phases, %d entries" % (outdir, len(ns), len(ph), sum(len(p) for p in ph)))


if __name__ == "__main__":
    main()
