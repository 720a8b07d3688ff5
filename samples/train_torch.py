#!/usr/bin/env python3
"""samples/train_torch.py: fine-tune a small transformer with an FTS schedule
through ftsc and libftsrt.

The model is built here (no downloads): a token embedding, a learned position
embedding, a two-layer transformer encoder, a final norm and a classifier head.
The task is synthetic: a sequence of tokens is labelled 1 when at least two
of its tokens are "marked" (the first four of the vocabulary), else 0, a
count over every position.  The model is "pretrained" briefly on
an easier task (is the first token in the upper half of the vocabulary), then
fine-tuned on this one with samples/train_torch.yaml: head first, then the
encoder layers top-down, then the embeddings.

The schedule goes through the toolchain the way a job would:
  python3 -m ftsrt.manifest  ->  manifest of the model
  ftsc build                 ->  a checked plan (the session's optimizer and
                                 lr scheduler given on the command line)
  ftsrt.Runtime(plan, model) ->  thawing, groups, lrs, transitions, early
                                 stopping, restore_best, the optimizer step
                                 (libftsrt's kernels on the CPU; with
                                 backend="torch", torch.optim on the device)

Prints one line per epoch (phase, losses, accuracy, every group's lr) and
writes OUT/train_torch.csv and OUT/train_torch.svg (losses and lrs against
epochs, phases marked).

    make                        # build/ftsc and build/libftsrt.so
    python3 samples/train_torch.py [--out build] [--epochs 14] [--device cpu|cuda]
                                   [--backend native|torch]

Runs with Debian's python3-torch (make deps installs it).  On the CPU the
runtime's native kernels step the parameters (--backend torch: torch.optim
does, the runtime still decides the rest); on another device (--device cuda)
torch.optim always does (backend="torch").
"""
import argparse
import csv
import math
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "python"))

try:
    import torch  # noqa: E402
except ImportError:
    raise SystemExit("train_torch: needs PyTorch (on Debian: apt-get install python3-torch, then run it "
                     "with /usr/bin/python3)")

import ftsrt  # noqa: E402
from ftsrt.manifest import write_manifest  # noqa: E402

VOCAB, SEQ, DIM, HEADS, LAYERS = 24, 12, 32, 4, 2


class TinyTransformer(torch.nn.Module):
    """A sequence classifier: embeddings, a transformer encoder, a norm and a
    head over the mean of the positions."""

    def __init__(self):
        super().__init__()
        self.embed = torch.nn.Embedding(VOCAB, DIM)
        self.pos = torch.nn.Parameter(torch.randn(SEQ, DIM) * 0.1)
        layer = torch.nn.TransformerEncoderLayer(DIM, HEADS, dim_feedforward=2 * DIM, dropout=0.0,
                                                 batch_first=True)
        self.encoder = torch.nn.TransformerEncoder(layer, LAYERS, enable_nested_tensor=False)
        self.norm = torch.nn.LayerNorm(DIM)
        self.head = torch.nn.Linear(DIM, 2)

    def forward(self, tokens):
        h = self.encoder(self.embed(tokens) + self.pos)
        return self.head(self.norm(h[:, 0] + h.mean(1)))


def task(n, gen, pretrain=False, device="cpu"):
    """n sequences and their labels (see the module docstring), drawn on the
    CPU (the same data on every device) and moved to device."""
    x = torch.randint(0, VOCAB, (n, SEQ), generator=gen)
    if pretrain:
        y = (x[:, 0] >= VOCAB // 2).long()
    else:
        y = ((x < 4).sum(1) >= 2).long()
    return x.to(device), y.to(device)


def pretrain(model, gen, steps, device):
    """A short pass on the easy task, so that fine-tuning starts from
    features, as it does from a real checkpoint."""
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    for _ in range(steps):
        x, y = task(64, gen, pretrain=True, device=device)
        loss = torch.nn.functional.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()


def find_ftsc(given):
    for c in (given, os.environ.get("FTSC_BIN"), os.path.join(ROOT, "build", "ftsc")):
        if c and os.path.exists(c):
            return c
    return "ftsc"


def build_plan(ftsc, manifest, plan, epochs):
    cmd = [ftsc, "build", os.path.join(HERE, "train_torch.yaml"), "--manifest", manifest, "-o", plan,
           "--initial-optimizer={class_path: torch.optim.AdamW, init_args: {lr: 2.0e-3, weight_decay: 0.01}}",
           "--initial-lr-scheduler={class_path: torch.optim.lr_scheduler.StepLR, "
           "init_args: {step_size: 1, gamma: 0.85}}",
           "--max-epochs=%d" % epochs, "--restore-best=true", "--no-decay="]
    r = subprocess.run(cmd, capture_output=True, text=True)
    sys.stderr.write(r.stderr)
    if r.returncode != 0:
        raise SystemExit("train_torch: ftsc build failed")


def evaluate(model, data):
    model.eval()
    with torch.no_grad():
        x, y = data
        logits = model(x)
        loss = float(torch.nn.functional.cross_entropy(logits, y))
        acc = float((logits.argmax(1) == y).float().mean())
    model.train()
    return loss, acc


def write_svg(path, rows):
    """Losses (top) and every group's lr (bottom) against epochs, log scale,
    dashed lines where a phase starts."""
    W, L, R, PH, GAP, T = 900, 80, 150, 280, 70, 30
    colors = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"]
    ne = len(rows)
    xs = (W - L - R) / max(ne - 1, 1)
    out = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" '
           'font-size="12">' % (W, T + 2 * PH + GAP + 50), '<rect width="100%" height="100%" fill="white"/>']

    def panel(top, title, series):
        vals = [v for _, _, ys in series for v in ys if v is not None and v > 0]
        lo, hi = (math.floor(math.log10(min(vals))), math.ceil(math.log10(max(vals)))) if vals else (0, 1)
        hi = hi if hi > lo else lo + 1

        def y(v):
            return top + PH * (1 - (math.log10(v) - lo) / (hi - lo))
        out.append('<text x="%d" y="%.1f" font-size="14">%s (log scale)</text>' % (L, top - 10, title))
        out.append('<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="black"/>' % (L, top + PH, W - R, top + PH))
        out.append('<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="black"/>' % (L, top, L, top + PH))
        for k in range(hi - lo + 1):
            yy = top + PH * (1 - k / (hi - lo))
            out.append('<text x="%d" y="%.1f" text-anchor="end">1e%d</text>' % (L - 5, yy + 4, lo + k))
        for e, r in enumerate(rows):
            out.append('<text x="%.1f" y="%.1f" text-anchor="middle">%d</text>' % (L + e * xs, top + PH + 16,
                                                                                   r["epoch"]))
            if e and r["phase"] != rows[e - 1]["phase"]:
                out.append('<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#888" stroke-dasharray="4 3"/>'
                           '<text x="%.1f" y="%.1f" fill="#555">phase %d</text>'
                           % (L + e * xs, top, L + e * xs, top + PH, L + e * xs + 3, top + 12, r["phase"]))
        for k, (label, color, ys) in enumerate(series):
            pts = " ".join("%.1f,%.1f" % (L + e * xs, y(v)) for e, v in enumerate(ys) if v is not None and v > 0)
            out.append('<polyline fill="none" stroke="%s" stroke-width="1.5" points="%s"/>' % (color, pts))
            out.append('<text x="%d" y="%.1f" fill="%s">%s</text>' % (W - R + 10, top + 14 * (k + 1), color, label))

    panel(T, "loss", [("training", "#1f77b4", [r["train_loss"] for r in rows]),
                      ("validation", "#d62728", [r["val_loss"] for r in rows])])
    ng = max(len(r["lrs"]) for r in rows)
    panel(T + PH + GAP, "learning rate per parameter group",
          [("group %d" % g, colors[g % len(colors)], [r["lrs"][g] if g < len(r["lrs"]) else None for r in rows])
           for g in range(ng)])
    out.append("</svg>")
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write("\n".join(out) + "\n")
    os.replace(tmp, path)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=os.path.join(ROOT, "build"), help="folder of the plan, log and plot")
    ap.add_argument("--epochs", type=int, default=14)
    ap.add_argument("--steps-per-epoch", type=int, default=40)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--device", default="cpu",
                    help="where the model lives: cpu (default), cuda, cuda:1, ...; off the CPU, "
                         "torch.optim steps it (--backend torch)")
    ap.add_argument("--backend", choices=("native", "torch"),
                    help="who steps the parameters: native (libftsrt's kernels, CPU only; the "
                         "default on the CPU) or torch (torch.optim; the default elsewhere)")
    ap.add_argument("--ftsc", help="the ftsc binary (default: build/ftsc, then PATH)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args(argv)
    try:
        device = torch.device(a.device)
    except RuntimeError as e:
        raise SystemExit("train_torch: --device %s: %s" % (a.device, e))
    if device.type == "cuda" and not torch.cuda.is_available():
        raise SystemExit("train_torch: --device %s: this torch (%s) sees no CUDA device"
                         % (a.device, torch.__version__))
    backend = a.backend or ("native" if device.type == "cpu" else "torch")
    if backend == "native" and device.type != "cpu":
        raise SystemExit("train_torch: --backend native steps CPU tensors with libftsrt's kernels; "
                         "on %s use --backend torch (the default there)" % a.device)
    if a.epochs < 1 or a.steps_per_epoch < 1 or a.batch < 1:
        ap.error("--epochs, --steps-per-epoch and --batch must be at least 1")
    torch.manual_seed(a.seed)
    gen = torch.Generator().manual_seed(a.seed)
    os.makedirs(a.out, exist_ok=True)
    model = TinyTransformer().to(device)
    pretrain(model, gen, 150, device)
    val = task(1024, torch.Generator().manual_seed(a.seed + 1), device=device)

    with tempfile.TemporaryDirectory() as tmp:
        manifest = os.path.join(tmp, "tiny_transformer.tsv")
        write_manifest(model, manifest, source="samples/train_torch.py TinyTransformer")
        plan = os.path.join(a.out, "train_torch.ftsplan")
        build_plan(find_ftsc(a.ftsc), manifest, plan, a.epochs)

        rows = []
        print("backend %s on %s" % (backend, device), flush=True)
        with ftsrt.Runtime(plan, model, threads=a.threads, ckpt_dir=tmp, backend=backend) as rt:
            while not rt.finished and rt.epoch < a.epochs:
                epoch, phase, lrs = rt.epoch, rt.phase, rt.lrs()
                total = 0.0
                for _ in range(a.steps_per_epoch):
                    x, y = task(a.batch, gen, device=device)
                    loss = torch.nn.functional.cross_entropy(model(x), y)
                    loss.backward()
                    rt.step()
                    rt.zero_grad()
                    total += float(loss)
                vloss, vacc = evaluate(model, val)
                rows.append({"epoch": epoch, "phase": phase, "train_loss": total / a.steps_per_epoch,
                             "val_loss": vloss, "val_acc": vacc, "lrs": lrs})
                print("epoch %2d  phase %d  train %.4f  val %.4f  acc %.3f  lr %s"
                      % (epoch, phase, rows[-1]["train_loss"], vloss, vacc, " ".join("%.3g" % v for v in lrs)),
                      flush=True)
                for ev in rt.epoch_end(vloss):
                    if ev["kind"] == "checkpoint_saved":
                        print("  new best validation loss: checkpoint saved", flush=True)
                    else:
                        print("  " + ev["text"], flush=True)

    with open(os.path.join(a.out, "train_torch.csv.tmp"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["epoch", "phase", "group", "lr", "train_loss", "val_loss", "val_acc"])
        for r in rows:
            for g, lr in enumerate(r["lrs"]):
                w.writerow([r["epoch"], r["phase"], g, repr(lr), repr(r["train_loss"]), repr(r["val_loss"]),
                            repr(r["val_acc"])])
    os.replace(os.path.join(a.out, "train_torch.csv.tmp"), os.path.join(a.out, "train_torch.csv"))
    write_svg(os.path.join(a.out, "train_torch.svg"), rows)
    print("ok: %d epochs, final validation loss %.4f, accuracy %.3f; log %s, plot %s"
          % (len(rows), rows[-1]["val_loss"], rows[-1]["val_acc"], os.path.join(a.out, "train_torch.csv"),
             os.path.join(a.out, "train_torch.svg")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
