"""Time per optimizer step on a 10M-parameter model: ftsrt.Runtime (libftsrt's
fused AdamW) against torch.optim.AdamW(foreach=True), same model, same gradients.

    python3 bench/python_step.py [build-dir]     (Debian's python3-torch)
"""
import os
import subprocess
import sys
import tempfile
import time

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
sys.path.insert(0, os.path.join(ROOT, "python"))
B = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "build")
os.environ.setdefault("FTSRT_LIBRARY", os.path.join(B, "libftsrt.so"))

import torch  # noqa: E402
import ftsrt  # noqa: E402
from ftsrt.manifest import write_manifest  # noqa: E402

THREADS = int(os.environ.get("THREADS", "2"))
torch.set_num_threads(THREADS)


class Big(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.model = torch.nn.Sequential(torch.nn.Linear(2236, 2236), torch.nn.Linear(2236, 2236))


def timeit(fn, n=20):
    fn()
    best = float("inf")
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def main():
    tmp = tempfile.mkdtemp()
    model = Big()
    nparam = sum(p.numel() for p in model.parameters())
    man = os.path.join(tmp, "big.tsv")
    write_manifest(model, man)
    sched = os.path.join(tmp, "big.yaml")
    with open(sched, "w") as f:
        f.write("0:\n  params:\n  - model.*\n")
    plan = os.path.join(tmp, "big.ftsplan")
    subprocess.run([os.path.join(B, "ftsc"), "build", sched, "--manifest", man, "-o", plan,
                    "--initial-optimizer={class_path: torch.optim.AdamW, init_args: {lr: 0.001}}",
                    "--initial-lr-scheduler=none", "-Wno-coverage"], check=True)
    for p in model.parameters():
        p.grad = torch.randn_like(p)
    rt = ftsrt.Runtime(plan, model, threads=THREADS)
    t_rt = timeit(rt.step)
    rt.close()
    opt = torch.optim.AdamW(model.parameters(), lr=0.001, foreach=True)
    t_torch = timeit(opt.step)
    print("model: %.1fM parameters, %d threads, torch %s" % (nparam / 1e6, THREADS, torch.__version__))
    print("ftsrt.Runtime.step:                 %.2f ms" % (t_rt * 1e3))
    print("torch.optim.AdamW(foreach=True):    %.2f ms" % (t_torch * 1e3))
    print("speed-up: %.1fx" % (t_torch / t_rt))


if __name__ == "__main__":
    main()
