"""Time per optimizer step on a 10M-parameter model: ftsrt.Runtime (libftsrt's
fused AdamW) against torch.optim.AdamW(foreach=True), same model, same gradients.
Then the binding's own cost per tensor: Runtime.step() on 1000 tensors of 16
elements, minus the C step it calls (ftsrt_run_step), per tensor, against the
same with the check step() made of every bound tensor at every step before it
watched them instead (old_check, that loop as it was).

    python3 bench/python_step.py [build-dir]     (Debian's python3-torch)
"""
import ctypes
import os
import statistics
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


class Small(torch.nn.Module):
    def __init__(self, n=1000, k=16):
        super().__init__()
        self.ps = torch.nn.ParameterList([torch.nn.Parameter(torch.randn(k)) for _ in range(n)])


def build(tmp, model, name, optimizer):
    man = os.path.join(tmp, name + ".tsv")
    write_manifest(model, man)
    sched = os.path.join(tmp, name + ".yaml")
    with open(sched, "w") as f:
        f.write("0:\n  params:\n  - %s\n" % ("ps.*" if name == "small" else "model.*"))
    plan = os.path.join(tmp, name + ".ftsplan")
    subprocess.run([os.path.join(B, "ftsc"), "build", sched, "--manifest", man, "-o", plan,
                    "--initial-optimizer=" + optimizer, "--initial-lr-scheduler=none", "-Wno-coverage"],
                   check=True)
    return plan


def overhead(tmp, reps=7, n=300):
    """The binding's ns per tensor around ftsrt_run_step: Runtime.step() with
    the C call taken out (what the binding adds), against old_check (the
    check step() made of every tensor at every step before it watched them);
    best and median of reps interleaved runs of n steps.  The C step and the
    whole Runtime.step() are printed beside them."""
    model = Small()
    plan = build(tmp, model, "small", "{class_path: torch.optim.SGD, init_args: {lr: 0.001}}")
    for p in model.parameters():
        p.grad = torch.zeros_like(p)
    rt = ftsrt.Runtime(plan, model, threads=1)
    ntensor = len(list(model.parameters()))
    err = ftsrt._Error()
    lib, run = rt._lib, rt._run
    bound = [(name, p, p.data_ptr(), p.grad.data_ptr()) for name, p in model.named_parameters()]

    def old_check():
        """Runtime._check_bound before the watch, run at every step."""
        current = dict(model.named_parameters())
        for name, p, pptr, gptr in bound:
            if current.get(name) is not p:
                raise RuntimeError(name)
            if p.data_ptr() != pptr:
                raise RuntimeError(name)
            if p.grad is None or p.grad.data_ptr() != gptr:
                raise RuntimeError(name)

    def c_step():
        lib.ftsrt_run_step(run, ctypes.byref(err))

    real_call = rt._call

    def py_step():          # Runtime.step() without its C call
        rt._call = lambda *a: None
        try:
            rt.step()
        finally:
            rt._call = real_call

    def per_call(fn):
        fn()
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        return (time.perf_counter() - t0) / n
    res = {"c": [], "step": [], "py": [], "old": []}
    for _ in range(reps):   # interleaved, so that the machine's noise hits all alike
        res["c"].append(per_call(c_step))
        res["step"].append(per_call(rt.step))
        res["py"].append(per_call(py_step))
        res["old"].append(per_call(old_check))
    rt.close()
    for name, f in (("best", min), ("median", statistics.median)):
        c, st, py, old = (f(res[k]) * 1e9 for k in ("c", "step", "py", "old"))
        print("%-6s Python per tensor: Runtime.step %.1f ns, the old check %.1f ns (%.1fx); "
              "C step %.1f us, Runtime.step %.1f us" % (name, py / ntensor, old / ntensor, old / py,
                                                         c / 1e3, st / 1e3))
    return ntensor


def lowp(tmp, t_f32):
    """The same AdamW step on the model in bfloat16, state in bf16 (torch.optim's
    semantics) and with float32 master weights, against the float32 step
    above and torch.optim.AdamW(foreach=True) on the bf16 model, same run."""
    t_torch = None
    for name, master in (("bfloat16", False), ("bfloat16 + fp32 master", True)):
        model = Big().to(torch.bfloat16)
        plan = build(tmp, model, "big", "{class_path: torch.optim.AdamW, init_args: {lr: 0.001}}")
        for p in model.parameters():
            p.grad = torch.randn_like(p)
        rt = ftsrt.Runtime(plan, model, threads=THREADS, master_weights=master)
        t = timeit(rt.step, n=10)
        rt.close()
        if t_torch is None:
            opt = torch.optim.AdamW(model.parameters(), lr=0.001, foreach=True)
            t_torch = timeit(opt.step, n=10)
            print("torch.optim.AdamW(foreach=True), bfloat16: %.2f ms" % (t_torch * 1e3))
        print("ftsrt.Runtime.step, %-24s %.2f ms (%.2fx the float32 step, %.1fx faster than torch's "
              "bf16)" % (name + ":", t * 1e3, t / t_f32, t_torch / t))


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
    lowp(tmp, t_rt)
    ntensor = overhead(tmp)
    print("(%d tensors of 16 elements, SGD, 1 thread; target <= 50 ns per tensor)" % ntensor)


if __name__ == "__main__":
    main()
