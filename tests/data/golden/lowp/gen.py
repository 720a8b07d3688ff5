"""Golden trajectories of torch.optim on bfloat16 and float16 parameters, in
both precisions of libftsrt (enum ftsrt_precision):

  param   torch.optim stepping bf16/fp16 parameters directly (its state is
          then of the same dtype), as torch.optim does on CPU;
  master  torch.optim stepping float32 parameters (the master weights, state
          float32) whose gradients are the bf16/fp16 gradients widened, the
          bf16/fp16 model copy rounded from them after every step.

    /usr/bin/python3 tests/data/golden/lowp/gen.py    (Debian's python3-torch)

writes <case>.<dtype>.<precision>.bin here, little-endian: the initial
parameters (N uint16 bit patterns, tensors of SHAPES concatenated), then per
step the gradients (N uint16) and the parameters after the step (N uint16),
and for master also the master weights after the step (N float32).  CASES
and SHAPES are repeated in tests/unit/check_lowp.c, which replays them.
"""
import os
import struct
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
SHAPES = [(4, 8), (16,), (3,)]
STEPS = 20
# Hyper-parameters are dyadic (exact in bfloat16 and float16): torch 1.13
# rounds a Python scalar to the tensor's dtype before a bf16/fp16 op, torch
# 2.x keeps it in float for mul, div, lerp, addcmul and addcdiv, and with
# these values both mean the same.  sgd_alpha's are not: its only scalars
# are add's alpha, which both versions round.
CASES = [  # name, torch.optim class, keyword arguments (foreach=False added)
    ("sgd", "SGD", dict(lr=0.125, momentum=0.875, weight_decay=2 ** -6)),
    ("sgd_nesterov", "SGD", dict(lr=0.0625, momentum=0.875, nesterov=True)),
    ("adam", "Adam", dict(lr=2 ** -7, betas=(0.875, 1 - 2 ** -7), weight_decay=0.125)),
    ("adamw", "AdamW", dict(lr=2 ** -7, betas=(0.875, 1 - 2 ** -7), weight_decay=0.125)),
    ("adam_amsgrad", "Adam", dict(lr=2 ** -7, betas=(0.875, 1 - 2 ** -7), amsgrad=True)),
    ("adagrad", "Adagrad", dict(lr=0.0625, weight_decay=2 ** -6)),
    ("rmsprop", "RMSprop", dict(lr=2 ** -7, alpha=1 - 2 ** -7, momentum=0.875, centered=True)),
    # add(other, alpha=...) rounds alpha to the dtype in torch 1.13 and 2.x alike
    ("sgd_alpha", "SGD", dict(lr=0.1, weight_decay=0.01)),
    ("adadelta", "Adadelta", dict(lr=1.0, rho=0.875, eps=2 ** -6, weight_decay=2 ** -6)),
    # Adamax: 1.13's exp_avg is mul_ then add_ (2.x: lerp_), and its -clr is
    # rounded to the dtype before addcdiv_ (2.x keeps it in float)
    ("adamax", "Adamax", dict(lr=2 ** -5, betas=(0.875, 1 - 2 ** -7), eps=2 ** -20, weight_decay=2 ** -6)),
    ("rprop", "Rprop", dict(lr=2 ** -6, etas=(0.5, 1.25), step_sizes=(2 ** -14, 2 ** -3))),
]
DTYPES = {"bf16": torch.bfloat16, "f16": torch.float16}


def bits(t):
    return t.detach().reshape(-1).view(torch.int16).numpy().astype("<i2").tobytes()


def flat(ts):
    return torch.cat([t.detach().reshape(-1) for t in ts])


def run(name, cls, kw, dt, precision):
    g = torch.Generator().manual_seed(sum(map(ord, name)))
    init = [(torch.randn(s, generator=g) * 0.5).to(dt) for s in SHAPES]
    grads = [[torch.randn(s, generator=g).to(dt) for s in SHAPES] for _ in range(STEPS)]
    if precision == "param":
        ps = [torch.nn.Parameter(t.clone()) for t in init]
    else:
        ps = [torch.nn.Parameter(t.float()) for t in init]
    opt = getattr(torch.optim, cls)(ps, foreach=False, **kw)
    out = [bits(flat(init))]
    for step in range(STEPS):
        for p, gr in zip(ps, grads[step]):
            p.grad = gr.clone() if precision == "param" else gr.float()
        opt.step()
        out.append(bits(flat(grads[step])))
        if precision == "param":
            out.append(bits(flat(ps)))
        else:
            model = flat(ps).to(dt)
            out.append(bits(model))
            out.append(flat(ps).numpy().astype("<f4").tobytes())
    path = os.path.join(HERE, "%s.%s.%s.bin" % (name, {torch.bfloat16: "bf16", torch.float16: "f16"}[dt],
                                               precision))
    with open(path, "wb") as f:
        f.write(b"".join(out))


def main():
    n = 0
    for name, cls, kw in CASES:
        for dt in DTYPES.values():
            for precision in ("param", "master"):
                try:
                    run(name, cls, kw, dt, precision)
                    n += 1
                except RuntimeError as e:   # torch 1.13 lacks some float16 CPU kernels
                    print("%s %s %s: not written: %s" % (name, dt, precision, e), file=sys.stderr)
    print("torch %s, %d cases" % (torch.__version__, n), file=sys.stderr)


if __name__ == "__main__":
    main()
