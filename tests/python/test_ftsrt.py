"""Issue 8: PyTorch training jobs drive libftsrt.

Runs with Debian's python3-torch (make deps installs it).  Prints the plain
closing line 'N passed, M failed'.
"""
import ctypes
import inspect
import os
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "python"))

import torch  # noqa: E402
import ftsrt  # noqa: E402
from ftsrt.manifest import manifest_text, write_manifest  # noqa: E402

FTSC = os.environ.get("FTSC_BIN", os.path.join(ROOT, "build", "ftsc"))
MANIFESTS = os.path.join(ROOT, "tests", "data", "manifests")
EPOCHS, STEPS = 6, 8


class MLP(torch.nn.Module):
    def __init__(self, dtype=torch.float64):
        super().__init__()
        self.model = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.Tanh(), torch.nn.Linear(16, 16),
                                         torch.nn.Tanh(), torch.nn.Linear(16, 1)).to(dtype)

    def forward(self, x):
        if self.model[0].weight.dtype not in (torch.bfloat16, torch.float16):
            return self.model(x)
        # torch 1.13 has no bf16/fp16 CPU matmul, tanh or mse_loss: compute in
        # float32 from the parameters (their gradients come back in their dtype)
        h = x
        for layer in self.model:
            if isinstance(layer, torch.nn.Linear):
                h = torch.nn.functional.linear(h, layer.weight.float(), layer.bias.float())
            else:
                h = layer(h)
        return h


def build_plan(tmp, manifest, schedule=os.path.join(HERE, "sched3.yaml"), extra=()):
    plan = os.path.join(tmp, "plan.ftsplan")
    cmd = [FTSC, "build", schedule, "--manifest", manifest, "-o", plan,
           "--initial-optimizer={class_path: torch.optim.SGD, init_args: {lr: 0.1, momentum: 0.9}}",
           "--initial-lr-scheduler={class_path: torch.optim.lr_scheduler.StepLR, "
           "init_args: {step_size: 1, gamma: 0.5}}",
           "--epoch-transitions-only", "--max-epochs=%d" % EPOCHS, "--restore-best=false", *extra]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise AssertionError("ftsc build failed:\n" + r.stderr)
    return plan


def data(dtype):
    if dtype in (torch.bfloat16, torch.float16):
        dtype = torch.float32       # inputs of a low-precision MLP (see its forward)
    g = torch.Generator().manual_seed(3)
    x = torch.randn(STEPS, 32, 8, generator=g, dtype=dtype)
    y = torch.sin(x.sum(-1, keepdim=True))
    return x, y


def train_ftsrt(model, plan, dtype, **kw):
    x, y = data(dtype)
    rt = ftsrt.Runtime(plan, model, **kw)
    snaps, lrs = [], []
    for epoch in range(EPOCHS):
        lrs.append(rt.lrs())
        for s in range(STEPS):
            loss = torch.nn.functional.mse_loss(model(x[s]), y[s])
            loss.backward()
            rt.step()
            rt.zero_grad()
        rt.epoch_end(float(loss))
        snaps.append([p.detach().clone() for p in model.parameters()])
    rt.close()
    return snaps, lrs


class _Master:
    """Mixed precision by hand: torch.optim steps float32 master copies of a
    bfloat16/float16 model's parameters, fed its gradients widened, and the
    model gets the master rounded after each step.  A new optimizer starts
    its masters from the model, as libftsrt's does (its state starts empty)."""

    def __init__(self, model):
        self.model = model
        self.master = {p: p.detach().float().requires_grad_(p.requires_grad) for p in model.parameters()}

    def params(self, ps):
        return [self.master[p] for p in ps]

    def restart(self):
        for p, q in self.master.items():
            q.data = p.detach().float()

    def before_step(self):
        for p, q in self.master.items():
            q.grad = None if p.grad is None else p.grad.float()

    def after_step(self):
        with torch.no_grad():
            for p, q in self.master.items():
                p.copy_(q)
                p.grad = None       # opt.zero_grad() clears the masters' only


def train_torch(model, dtype, master=False):
    """The same phases by hand with torch.optim and torch.optim.lr_scheduler,
    following FTS's transition rules (docs/fts-semantics.md 7.6-7.10)."""
    x, y = data(dtype)
    mw = _Master(model) if master else None
    P = mw.params if mw else (lambda ps: ps)
    m = model.model
    for p in model.parameters():
        p.requires_grad_(False)
    for p in (m[4].weight, m[4].bias):
        p.requires_grad_(True)
    opt = torch.optim.SGD([{"params": P([m[4].weight, m[4].bias])}], lr=0.1, momentum=0.9)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    snaps, lrs = [], []
    for epoch in range(EPOCHS):
        if epoch == 2:      # phase 1: Adam (phase-0 group at its lr), new group, ExponentialLR
            for p in (m[2].weight, m[2].bias):
                p.requires_grad_(True)
            if mw:
                mw.restart()
            opt = torch.optim.Adam([{"params": P([m[4].weight, m[4].bias])}], lr=0.01)
            for g in opt.param_groups:
                g["initial_lr"] = g["lr"]
            opt.add_param_group({"params": P([m[2].weight, m[2].bias]), "lr": 0.005, "initial_lr": 0.005})
            sched = torch.optim.lr_scheduler.ExponentialLR(opt, gamma=0.9)
        if epoch == 4:      # phase 2: new group, StepLR with init_pg_lrs for the existing two
            for p in (m[0].weight, m[0].bias):
                p.requires_grad_(True)
            opt.add_param_group({"params": P([m[0].weight, m[0].bias]), "lr": 0.003, "initial_lr": 0.003})
            for k, v in enumerate([0.002, 0.001]):
                opt.param_groups[k]["lr"] = opt.param_groups[k]["initial_lr"] = v
            sched = torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
        lrs.append([g["lr"] for g in opt.param_groups])
        for s in range(STEPS):
            opt.zero_grad()
            loss = torch.nn.functional.mse_loss(model(x[s]), y[s])
            loss.backward()
            if mw:
                mw.before_step()
            opt.step()
            if mw:
                mw.after_step()
        sched.step()
        snaps.append([p.detach().clone() for p in model.parameters()])
    return snaps, lrs


class TestFtsrt(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.manifest = os.path.join(self.tmp.name, "mlp.tsv")
        write_manifest(MLP(), self.manifest, source="tests/python MLP")

    def tearDown(self):
        self.tmp.cleanup()

    def check_parity(self, dtype, tol, master=False):
        man = os.path.join(self.tmp.name, "mlp-%s.tsv" % str(dtype).split(".")[-1])
        write_manifest(MLP(dtype), man, source="tests/python MLP")
        plan = build_plan(self.tmp.name, man)
        torch.manual_seed(0)
        a = MLP(dtype)
        b = MLP(dtype)
        b.load_state_dict(a.state_dict())
        sa, la = train_ftsrt(a, plan, dtype, master_weights=master)
        sb, lb = train_torch(b, dtype, master=master)
        for epoch in range(EPOCHS):
            self.assertEqual(len(la[epoch]), len(lb[epoch]), "groups at epoch %d" % epoch)
            for u, v in zip(la[epoch], lb[epoch]):
                self.assertAlmostEqual(u, v, delta=1e-12 * max(1.0, abs(v)), msg="lr at epoch %d" % epoch)
            for i, (p, q) in enumerate(zip(sa[epoch], sb[epoch])):
                err = (p - q).abs().max().item() / max(1.0, q.abs().max().item())
                self.assertLess(err, tol, "parameter %d after epoch %d: %g" % (i, epoch, err))


    def test_parity_float64(self):
        self.check_parity(torch.float64, 1e-10)

    def test_parity_float32(self):
        self.check_parity(torch.float32, 1e-4)

    # --- bfloat16 and float16 models ----------------------------------------------------
    def test_parity_bfloat16(self):
        """torch.optim on bf16 parameters (state in bf16).  torch 1.13 rounds
        Python scalars (lr 0.1, momentum 0.9, betas) to bf16 before an op and
        torch 2.x and libftsrt keep them in float, so the trajectories part by
        a few bf16 steps: a loose bound, which a missing rounding (state kept
        in float) or a wrong step exceeds."""
        self.check_parity(torch.bfloat16, 0.06)

    def test_parity_master_weights(self):
        """float32 master weights, bf16 and fp16 models: torch's float32 Adam
        and SGD on the masters, rounded into the model after each step
        (measured: bf16 equal, fp16 1.2e-7)."""
        self.check_parity(torch.bfloat16, 1e-6, master=True)
        self.check_parity(torch.float16, 1e-6, master=True)

    def test_master_weights_survive_save_and_resume(self):
        """A checkpoint of a master-weights run holds the float32 masters: the
        resumed run continues bit for bit as the saved one does."""
        self.check_master_resume()

    def test_master_weights_adafactor(self):
        """Adafactor beside master weights (float32 masters and factored
        state): saved in its phase and resumed, the run continues bit for
        bit, through the transition to Adam."""
        self.check_master_resume(saved_after=1, extra=[
            "--initial-optimizer={class_path: torch.optim.Adafactor, init_args: {lr: 0.01}}"])

    def check_master_resume(self, saved_after=3, extra=()):
        man = os.path.join(self.tmp.name, "mlp-bf16.tsv")
        write_manifest(MLP(torch.bfloat16), man, source="tests/python MLP")
        plan = build_plan(self.tmp.name, man, extra=extra)
        x, y = data(torch.bfloat16)
        torch.manual_seed(1)
        a = MLP(torch.bfloat16)
        b = MLP(torch.bfloat16)
        b.load_state_dict(a.state_dict())
        ckpt = os.path.join(self.tmp.name, "mid.ftsckpt")

        def steps(model, rt, n):
            for s in range(n):
                loss = torch.nn.functional.mse_loss(model(x[s]), y[s])
                loss.backward()
                rt.step()
                rt.zero_grad()
            return float(loss)
        ra = ftsrt.Runtime(plan, a, master_weights=True)
        for epoch in range(saved_after):  # 3: through the transition to Adam (epoch 2)
            metric = steps(a, ra, STEPS)
            ra.epoch_end(metric)
        ra.save(ckpt)
        rb = ftsrt.Runtime(plan, b, master_weights=True)
        rb.resume(ckpt)
        for epoch in range(saved_after, EPOCHS):
            ma = steps(a, ra, STEPS)
            mb = steps(b, rb, STEPS)
            self.assertEqual(ma, mb)
            ra.epoch_end(ma)
            rb.epoch_end(mb)
            for p, q in zip(a.parameters(), b.parameters()):
                self.assertTrue(torch.equal(p.detach(), q.detach()), "epoch %d" % epoch)
        ra.close()
        rb.close()
        # a bf16 run without master weights refuses that checkpoint
        c = MLP(torch.bfloat16)
        with ftsrt.Runtime(plan, c) as rc, self.assertRaises(ftsrt.FtsrtError) as cm:
            rc.resume(ckpt)
        self.assertIn("another dtype", str(cm.exception))

    def test_low_precision_refusals(self):
        """Master weights of a float32 model are refused with the runtime's
        reason; a bf16 model with Adafactor runs in either precision."""
        with self.assertRaises(ftsrt.FtsrtError) as cm:
            ftsrt.Runtime(build_plan(self.tmp.name, self.manifest), MLP(), master_weights=True)
        self.assertIn("bfloat16 and float16", str(cm.exception))
        man = os.path.join(self.tmp.name, "mlp-bf16.tsv")
        write_manifest(MLP(torch.bfloat16), man, source="tests/python MLP")
        plan = build_plan(self.tmp.name, man, extra=[
            "--initial-optimizer={class_path: torch.optim.Adafactor, init_args: {lr: 0.01}}"])
        ftsrt.Runtime(plan, MLP(torch.bfloat16)).close()
        ftsrt.Runtime(plan, MLP(torch.bfloat16), master_weights=True).close()

    def test_manifest_exporter_reproduces_fts_boring_model(self):
        class FinetuningSchedulerBoringModel(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.model = torch.nn.Sequential(torch.nn.Linear(32, 32), torch.nn.Linear(32, 32),
                                                 torch.nn.Linear(32, 32), torch.nn.Linear(32, 2))
        src = ("FinetuningSchedulerBoringModel of the FTS test suite (nn.Sequential of Linear(32,32) x3 "
               "and Linear(32,2), wrapped as self.model)")
        with open(os.path.join(MANIFESTS, "fts-boring-model.tsv")) as f:
            self.assertEqual(manifest_text(FinetuningSchedulerBoringModel(), src), f.read())

    def test_manifest_exporter_cli_and_tied(self):
        out = os.path.join(self.tmp.name, "shared.tsv")
        env = dict(os.environ, PYTHONPATH=os.path.join(ROOT, "python") + os.pathsep + HERE)
        r = subprocess.run([sys.executable, "-m", "ftsrt.manifest", "models:SharedParam", "-o", out,
                            "--source", "FTSSharedParamFSDPModel of the FTS test suite "
                            "(model.3 ties model.1, model.5 ties model.4)"],
                           capture_output=True, text=True, env=env)
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(out) as f, open(os.path.join(MANIFESTS, "fts-shared-param-model.tsv")) as g:
            self.assertEqual(f.read(), g.read())

    def test_wrong_model_is_refused(self):
        plan = build_plan(self.tmp.name, self.manifest)

        class Other(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.model = torch.nn.Sequential(torch.nn.Linear(8, 4))
        with self.assertRaises(ftsrt.FtsrtError) as cm:
            ftsrt.Runtime(plan, Other().double())
        self.assertIn("model.0.weight", str(cm.exception))

    def test_plan_of_another_manifest_is_refused(self):
        plan = build_plan(self.tmp.name, self.manifest)
        wide = MLP()
        wide.model[0] = torch.nn.Linear(8, 17).double()    # same names, other shapes
        with self.assertRaises(ftsrt.FtsrtError) as cm:
            ftsrt.Runtime(plan, wide)
        self.assertIn("model.0.weight", str(cm.exception))

    def test_plan_for_another_dtype_is_refused(self):
        plan = build_plan(self.tmp.name, self.manifest)          # a float64 manifest
        with self.assertRaises(ftsrt.FtsrtError) as cm:
            ftsrt.Runtime(plan, MLP(torch.float32))
        # the parameter is named with both dtypes (the manifest hash would also differ)
        self.assertIn("parameter 'model.0.weight' is float32, the plan's manifest says float64",
                      str(cm.exception))

    def test_bad_plan_file(self):
        bad = os.path.join(self.tmp.name, "bad.ftsplan")
        with open(bad, "wb") as f:
            f.write(b"\x89FTS\r\n\x1a\nnot a plan")
        with self.assertRaises(ftsrt.FtsrtError):
            ftsrt.Runtime(bad, MLP())

    def test_step_before_binding(self):
        plan = build_plan(self.tmp.name, self.manifest)
        rt = ftsrt.Runtime(plan, None)
        with self.assertRaises(ftsrt.FtsrtError) as cm:
            rt.step()
        self.assertTrue(str(cm.exception))
        rt.close()

    # --- the interface: versions, struct mirrors, statuses -------------------------------
    def test_versions(self):
        """The package version is the library's, the header's and pyproject's;
        the ABI check accepts the same major with the same or a newer minor."""
        import re
        with open(os.path.join(ROOT, "runtime", "ftsrt.h")) as f:
            header = re.search(r'#define FTSRT_VERSION_STRING "([^"]*)"', f.read()).group(1)
        with open(os.path.join(ROOT, "python", "pyproject.toml")) as f:
            project = re.search(r'^version = "([^"]*)"', f.read(), re.M).group(1)
        self.assertEqual(ftsrt.__version__, header)
        self.assertEqual(project, header)
        self.assertEqual(ftsrt.library_version(), header)
        self.assertEqual(ftsrt._ABI, tuple(int(x) for x in header.split(".")[:2]))
        major, minor = ftsrt._ABI
        for v, ok in (("%d.%d.0" % (major, minor), True), ("%d.%d.7" % (major, minor), True),
                      ("%d.%d.0" % (major, minor + 1), True), ("%d.%d.0" % (major, minor + 12), True),
                      ("%d.0.0" % (major + 1), False), ("%d.%d.0" % (major - 1, minor + 1), False),
                      ("0.1.0", False), ("garbage", False), ("1", False), ("?", False)):
            self.assertEqual(ftsrt._compatible(ftsrt._parse_version(v)), ok, v)
        if minor > 0:
            self.assertFalse(ftsrt._compatible((major, minor - 1)))

    def test_struct_mirrors_match_the_library(self):
        """Each ctypes Structure is the size the library's struct is, so that a
        field added, dropped or retyped in ftsrt.h without the binding is caught.
        The run options go in: a struct_size past the library's struct with a
        byte set there is refused, naming the library's size."""
        import ctypes
        import re
        plan = build_plan(self.tmp.name, self.manifest)
        pad = 64

        class Longer(ftsrt._RunOptions):
            _fields_ = [("pad", ctypes.c_ubyte * pad)]

        class LongerOptions(ftsrt.Runtime):
            def _options(self, threads):
                o = super()._options(threads)
                longer = Longer()
                ctypes.memmove(ctypes.byref(longer), ctypes.byref(o), ctypes.sizeof(o))
                longer.struct_size = ctypes.sizeof(longer)
                longer.pad[pad - 1] = 1
                return longer
        with self.assertRaises(ftsrt.FtsrtError) as cm:
            LongerOptions(plan, MLP())
        m = re.search(r"ftsrt_run_options: a field past byte (\d+) is set", str(cm.exception))
        self.assertTrue(m, str(cm.exception))
        self.assertEqual(int(m.group(1)), ctypes.sizeof(ftsrt._RunOptions))
        self.assertEqual(cm.exception.status, -1)       # FTSRT_EINVAL
        # the same options, longer but with the extra bytes zero, are accepted
        class ZeroPad(LongerOptions):
            def _options(self, threads):
                longer = super()._options(threads)
                longer.pad[pad - 1] = 0
                return longer
        ZeroPad(plan, MLP()).close()
        # the defaults read through the mirror, field by field
        lib = ftsrt._load()
        o, err = ftsrt._RunOptions(), ftsrt._Error()
        self.assertEqual(lib.ftsrt_run_options_default(ctypes.byref(o), ctypes.byref(err)), 0)
        self.assertEqual((o.struct_size, o.dtype, o.threads, o.kernels, o.save_last, o.ckpt_dir,
                          o.scale, bool(o.alloc), o.alloc_ud),
                         (ctypes.sizeof(o), 0, 1, 0, False, None, 1.0, False, None))
        # out-structs: the library zeroes what lies past its struct and fills the rest
        longer = Longer()
        ctypes.memset(ctypes.byref(longer), 0xA5, ctypes.sizeof(longer))
        longer.struct_size = ctypes.sizeof(longer)
        self.assertEqual(lib.ftsrt_run_options_default(ctypes.byref(longer), ctypes.byref(err)), 0)
        self.assertEqual(bytes(longer.pad), bytes(pad))
        self.assertEqual((longer.threads, longer.scale), (1, 1.0))

    def test_struct_size_zero_is_refused(self):
        """The runtime checks struct_size: 0 (a mirror that forgot to set it)
        is refused with a message that names the struct."""
        plan = build_plan(self.tmp.name, self.manifest)

        class Unsized(ftsrt.Runtime):
            def _options(self, threads):
                o = super()._options(threads)
                o.struct_size = 0
                return o
        with self.assertRaises(ftsrt.FtsrtError) as cm:
            Unsized(plan, MLP())
        self.assertIn("ftsrt_run_options", str(cm.exception))
        self.assertIn("struct_size 0", str(cm.exception))
        self.assertEqual(cm.exception.status, -1)       # FTSRT_EINVAL

    def test_mirrors_have_the_library_sizes(self):
        """ftsrt_struct_size: every struct the binding mirrors has the
        library's size (the binding checks this when it loads; a mismatch is
        refused there), and an unknown struct is 0."""
        import ctypes
        lib = ftsrt._load()
        for which, cls in ftsrt._MIRRORS:
            self.assertEqual(lib.ftsrt_struct_size(which), ctypes.sizeof(cls), cls.__name__)
        self.assertEqual(lib.ftsrt_struct_size(99), 0)
        self.assertEqual(lib.ftsrt_struct_size(-1), 0)

    def test_groups_and_events_read_through_the_mirrors(self):
        """Every field of struct ftsrt_run_group and ftsrt_run_event as the
        schedule makes them (sched3.yaml: phases at epochs 0, 2 and 4)."""
        plan = build_plan(self.tmp.name, self.manifest)
        model = MLP()
        x, y = data(torch.float64)
        with ftsrt.Runtime(plan, model) as rt:
            self.assertEqual((rt.epoch, rt.phase, rt.global_step, rt.finished), (0, 0, 0, None))
            g = rt.groups()
            self.assertEqual(len(g), 1)
            self.assertEqual((g[0]["lr"], g[0]["phase"], g[0]["no_decay"], g[0]["params"]),
                             (0.1, 0, False, [4, 5]))
            self.assertEqual(g[0]["weight_decay"], 0.0)
            self.assertEqual([p.requires_grad for p in model.parameters()], [False] * 4 + [True] * 2)
            kinds = []
            for epoch in range(EPOCHS):
                loss = torch.nn.functional.mse_loss(model(x[0]), y[0])
                loss.backward()
                rt.step()
                rt.zero_grad()
                events = rt.epoch_end(float(loss))
                kinds += [(e["kind"], e["epoch"], e["phase"], e["reason"]) for e in events]
                for e in events:
                    self.assertIsInstance(e["text"], str)
                    self.assertTrue(e["text"])
            self.assertIn(("transition", 2, 1, None), kinds)
            self.assertIn(("transition", 4, 2, None), kinds)
            self.assertEqual([k for k in kinds if k[0] == "finished"], [("finished", 5, 2, "max_epochs")])
            self.assertEqual((rt.global_step, rt.phase, rt.finished), (EPOCHS, 2, "max_epochs"))
            g = rt.groups()
            self.assertEqual([(h["phase"], h["params"]) for h in g], [(0, [4, 5]), (1, [2, 3]), (2, [0, 1])])
            self.assertEqual([h["initial_lr"] for h in g], [0.002, 0.001, 0.003])
            with self.assertRaises(ftsrt.FtsrtError) as cm:      # finished: the runtime's status
                rt.step()
            self.assertTrue(str(cm.exception).startswith("step: "), str(cm.exception))
            self.assertEqual(cm.exception.status, -1)

    def test_tied_parameters(self):
        """A model with tied aliases (FTS's shared-parameter model): the aliases
        have no storage of their own (ftsrt_plan_param's tied_to) and stay tied."""
        if HERE not in sys.path:
            sys.path.insert(0, HERE)
        from models import SharedParam
        man = os.path.join(self.tmp.name, "shared.tsv")
        model = SharedParam().double()
        write_manifest(model, man)
        plan = build_plan(self.tmp.name, man)
        before = model.model[4].weight.detach().clone()
        with ftsrt.Runtime(plan, model) as rt:
            x = torch.randn(4, 32, dtype=torch.float64)
            model.model(x).square().mean().backward()
            rt.step()
            self.assertIs(model.model[5].weight, model.model[4].weight)
            self.assertFalse(torch.equal(model.model[4].weight.detach(), before))
            self.assertEqual(rt.groups()[0]["params"], [8, 9])

    def test_bad_plan_status(self):
        with self.assertRaises(ftsrt.FtsrtError) as cm:
            ftsrt.Runtime(os.path.join(self.tmp.name, "missing.ftsplan"), MLP())
        self.assertIn("cannot open plan", str(cm.exception))
        self.assertEqual(cm.exception.status, -3)       # FTSRT_EIO

    # --- misuse: threads, close, replaced tensors --------------------------------------
    def _runtime(self):
        plan = build_plan(self.tmp.name, self.manifest)
        model = MLP()
        return model, ftsrt.Runtime(plan, model)

    def test_threads_are_serialized_and_close_waits(self):
        import threading
        model, rt = self._runtime()
        x, y = data(torch.float64)
        errors = []

        def worker():
            try:
                for _ in range(50):
                    rt.step()
            except ftsrt.FtsrtError as e:     # closed under it: a clean error, never a crash
                errors.append(str(e))
        loss = torch.nn.functional.mse_loss(model(x[0]), y[0])
        loss.backward()
        ts = [threading.Thread(target=worker) for _ in range(4)]
        for t in ts:
            t.start()
        rt.close()
        for t in ts:
            t.join()
        for e in errors:
            self.assertIn("closed", e)
        with self.assertRaises(ftsrt.FtsrtError):
            rt.finished
        with self.assertRaises(ftsrt.FtsrtError):
            rt.step()
        rt.close()      # twice is fine

    def test_threads_give_the_same_parameters(self):
        import threading
        ref, rt1 = self._runtime()
        other, rt2 = self._runtime()
        other.load_state_dict(ref.state_dict())
        rt2.close()
        rt2 = ftsrt.Runtime(build_plan(self.tmp.name, self.manifest), other)
        x, y = data(torch.float64)
        for model, rt in ((ref, rt1), (other, rt2)):
            loss = torch.nn.functional.mse_loss(model(x[0]), y[0])
            loss.backward()
        for _ in range(8):
            rt1.step()
        ts = [threading.Thread(target=lambda: [rt2.step() for _ in range(2)]) for _ in range(4)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        for p, q in zip(ref.parameters(), other.parameters()):
            self.assertTrue(torch.equal(p.detach(), q.detach()))
        rt1.close()
        rt2.close()

    def test_replaced_tensors_are_refused(self):
        x, y = data(torch.float64)
        # a parameter replaced in the model
        model, rt = self._runtime()
        model.model[4].weight = torch.nn.Parameter(torch.zeros(1, 16, dtype=torch.float64))
        with self.assertRaises(ftsrt.FtsrtError) as cm:
            rt.step()
        self.assertIn("replaced in the model", str(cm.exception))
        rt.close()
        # its .data replaced
        model, rt = self._runtime()
        model.model[4].weight.data = torch.zeros(1, 16, dtype=torch.float64)
        with self.assertRaises(ftsrt.FtsrtError) as cm:
            rt.step()
        self.assertIn("bound storage", str(cm.exception))
        rt.close()
        # a gradient replaced, at any address
        model, rt = self._runtime()
        for p in model.parameters():
            p.grad = torch.zeros_like(p) + 1.0
        with self.assertRaises(ftsrt.FtsrtError) as cm:
            rt.step()
        self.assertIn("gradient buffer", str(cm.exception))
        rt.close()
        # set_to_none
        model, rt = self._runtime()
        for p in model.parameters():
            p.grad = None
        with self.assertRaises(ftsrt.FtsrtError):
            rt.step()
        rt.close()

    def test_replaced_tensors_are_refused_after_steps(self):
        """The step checks the bound tensors when one went away (weak
        references), quickly every ftsrt._QUICK_CHECK_EVERY steps and fully
        every _FULL_CHECK_EVERY: a gradient or parameter replaced
        mid-training is refused at the next step, a .data replaced (or a
        parameter replaced that other code still holds) within
        _QUICK_CHECK_EVERY steps, a gradient that other code still holds
        within _FULL_CHECK_EVERY."""
        x, y = data(torch.float64)

        def train(model, rt, n):
            for s in range(n):
                loss = torch.nn.functional.mse_loss(model(x[s % STEPS]), y[s % STEPS])
                loss.backward()
                rt.step()
                rt.zero_grad()
        # the full check runs on the first step and then every _FULL_CHECK_EVERY steps,
        # the quick one every _QUICK_CHECK_EVERY
        model, rt = self._runtime()
        calls = []
        check = rt._check_bound
        quick = rt._quick_check
        quicks = []
        rt._check_bound = lambda: (calls.append(rt.global_step), check())
        rt._quick_check = lambda: (quicks.append(rt.global_step), quick())[1]
        train(model, rt, 2 * ftsrt._FULL_CHECK_EVERY + 1)
        self.assertEqual(calls, [0, ftsrt._FULL_CHECK_EVERY, 2 * ftsrt._FULL_CHECK_EVERY])
        self.assertEqual(len(quicks), 2 * (ftsrt._FULL_CHECK_EVERY // ftsrt._QUICK_CHECK_EVERY - 1))
        rt.close()
        # a gradient replaced, or dropped, after some steps: refused at the next
        for how in ("replace", "none"):
            model, rt = self._runtime()
            train(model, rt, 3)
            w = model.model[4].weight
            w.grad = torch.zeros_like(w) if how == "replace" else None
            with self.assertRaises(ftsrt.FtsrtError) as cm:
                rt.step()
            self.assertIn("gradient buffer", str(cm.exception))
            with self.assertRaises(ftsrt.FtsrtError):       # and at every step after it
                rt.step()
            rt.close()
        # a parameter replaced in the model after some steps
        model, rt = self._runtime()
        train(model, rt, 3)
        model.model[4].weight = torch.nn.Parameter(torch.zeros(1, 16, dtype=torch.float64))
        with self.assertRaises(ftsrt.FtsrtError) as cm:
            rt.step()
        self.assertIn("replaced in the model", str(cm.exception))
        rt.close()
        # no callback: .data replaced, or a parameter replaced that other code
        # still holds (the quick check finds them), or a gradient (the full one)
        for how, msg in (("data", "bound storage"), ("param", "replaced in the model"),
                         ("grad", "gradient buffer")):
            model, rt = self._runtime()
            train(model, rt, 3)
            held = model.model[4].weight
            if how == "data":
                held.data = torch.zeros(1, 16, dtype=torch.float64)
            elif how == "param":
                model.model[4].weight = torch.nn.Parameter(torch.zeros(1, 16, dtype=torch.float64))
            else:
                held_grad = held.grad
                held.grad = torch.zeros_like(held)
            with self.assertRaises(ftsrt.FtsrtError) as cm:
                train(model, rt, ftsrt._FULL_CHECK_EVERY if how == "grad" else ftsrt._QUICK_CHECK_EVERY)
            self.assertIn(msg, str(cm.exception))
            rt.close()
        del held_grad


# --- issue 16: backend="torch" ----------------------------------------------------------
# sched4.yaml's metric per epoch: the best checkpoint moves to epochs 0, 1, 2, 4 and 6, so
# the transitions restore phase 0's (then a new AdamW), phase 1's (AdamW state restored
# into AdamW) and phase 2's (then a new SGD)
METRICS4 = [1.0, 0.9, 0.8, 0.85, 0.7, 0.75, 0.6, 0.65]
# the best stays phase 0's (SGD) until phase 2, which restores it into AdamW: FTSC080
HAZARD4 = [0.5, 0.9, 0.8, 0.85, 0.7, 0.75, 0.6, 0.65]


def build_plan4(tmp, manifest, name="plan4.ftsplan"):
    plan = os.path.join(tmp, name)
    r = subprocess.run([FTSC, "build", os.path.join(HERE, "sched4.yaml"), "--manifest", manifest, "-o", plan,
                        "--initial-optimizer={class_path: torch.optim.SGD, init_args: {lr: 0.1, momentum: 0.9}}",
                        "--initial-lr-scheduler={class_path: torch.optim.lr_scheduler.StepLR, "
                        "init_args: {step_size: 1, gamma: 0.5}}",
                        "--epoch-transitions-only", "--max-epochs=8", "--restore-best=true"],
                       capture_output=True, text=True)
    if r.returncode != 0:
        raise AssertionError("ftsc build failed:\n" + r.stderr)
    return plan


def run4(model, rt, metrics, epochs=range(8), trace=None):
    """Epochs of sched4.yaml with the same gradients in every backend: per
    epoch (phase, lrs, events, parameters after it, optimizer class)."""
    device = next(model.parameters()).device
    x, y = (t.to(device) for t in data(torch.float32))
    trace = [] if trace is None else trace
    for epoch in epochs:
        phase, lrs = rt.phase, rt.lrs()
        cls = type(rt.optimizer).__name__ if rt.optimizer is not None else None
        for s in range(STEPS):
            loss = torch.nn.functional.mse_loss(model(x[s]), y[s])
            loss.backward()
            rt.step()
            rt.zero_grad()
        events = [(e["kind"], e["phase"]) for e in rt.epoch_end(metrics[epoch])]
        trace.append((phase, lrs, events, [p.detach().cpu().clone() for p in model.parameters()], cls))
    return trace


class TorchBackendTest(unittest.TestCase):
    """Runtime(plan, model, backend="torch"): torch.optim steps, libftsrt decides."""

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.manifest = os.path.join(self.tmp.name, "mlp32.tsv")
        write_manifest(MLP(torch.float32), self.manifest, source="tests/python MLP")
        self.plan = build_plan4(self.tmp.name, self.manifest)

    def tearDown(self):
        self.tmp.cleanup()

    def pair(self, seed=0):
        torch.manual_seed(seed)
        a = MLP(torch.float32)
        b = MLP(torch.float32)
        b.load_state_dict(a.state_dict())
        return a, b

    def assert_same_run(self, native, torch_, tol):
        self.assertEqual(len(native), len(torch_))
        for epoch, (n, t) in enumerate(zip(native, torch_)):
            self.assertEqual(n[0], t[0], "phase of epoch %d" % epoch)
            self.assertEqual(n[1], t[1], "lrs of epoch %d" % epoch)
            self.assertEqual(n[2], t[2], "events of epoch %d" % epoch)
            for i, (p, q) in enumerate(zip(n[3], t[3])):
                err = ((p - q).abs() / q.abs().clamp(min=1.0)).max().item()
                self.assertLess(err, tol, "parameter %d after epoch %d: %g" % (i, epoch, err))

    def test_parity_four_phases_with_restore_best(self):
        """Same plan, init, gradients and metrics: the native and the torch
        backends give the same phases, events and group lrs at every epoch,
        and parameters within float32 rounding (measured: 3e-8 relative;
        bound 1e-5), through SGD, AdamW (restored with its state) and a new
        SGD.  torch.optim's class follows the plan, its param_groups the
        run's groups."""
        a, b = self.pair()
        with ftsrt.Runtime(self.plan, a) as ra:
            self.assertEqual(ra.backend, "native")
            self.assertIsNone(ra.optimizer)
            native = run4(a, ra, METRICS4)
        with ftsrt.Runtime(self.plan, b, backend="torch") as rb:
            self.assertEqual(rb.backend, "torch")
            mirrored = []

            def check_groups(epoch):
                params = dict(enumerate(b.parameters()))
                groups = rb.groups()
                self.assertEqual(len(rb.optimizer.param_groups), len(groups))
                for g, pg in zip(groups, rb.optimizer.param_groups):
                    self.assertEqual([id(params[i]) for i in g["params"]], [id(p) for p in pg["params"]])
                    self.assertEqual(pg["lr"], g["lr"])
                    self.assertEqual(pg["weight_decay"], g["weight_decay"])
                mirrored.append(epoch)
            trace = []
            for epoch in range(8):
                check_groups(epoch)
                run4(b, rb, METRICS4, [epoch], trace)
            self.assertEqual(mirrored, list(range(8)))
        self.assertEqual([t[4] for t in trace], ["SGD", "SGD", "AdamW", "AdamW", "AdamW", "AdamW", "SGD", "SGD"])
        self.assertEqual([k for t in native for k in t[2] if k[0] == "best_restored"],
                         [("best_restored", 0), ("best_restored", 1), ("best_restored", 2)])
        self.assertEqual([t[0] for t in native], [0, 0, 1, 1, 2, 2, 3, 3])
        self.assert_same_run(native, trace, 1e-5)

    @unittest.skipUnless(torch.cuda.is_available(), "no CUDA device")
    def test_cuda_against_native_cpu(self):
        """On a GPU: the torch backend steps the CUDA model (fused where torch
        has it) with the native CPU run's phases, events and lrs; parameters
        within 1e-4 (CUDA's float32 kernels round differently)."""
        a, b = self.pair()
        b = b.cuda()
        with ftsrt.Runtime(self.plan, a) as ra:
            native = run4(a, ra, METRICS4)
        with self.assertRaises(ftsrt.FtsrtError) as cm:   # "native", the default, refuses it
            ftsrt.Runtime(self.plan, b)
        self.assertIn('backend="torch"', str(cm.exception))
        with ftsrt.Runtime(self.plan, b, backend="auto") as rb:
            self.assertEqual(rb.backend, "torch")
            trace = []
            for epoch in range(8):
                opt = rb.optimizer
                if "fused" in inspect.signature(type(opt).__init__).parameters:
                    self.assertTrue(opt.defaults.get("fused"), type(opt).__name__)
                run4(b, rb, METRICS4, [epoch], trace)
            self.assertEqual(b.model[0].weight.device.type, "cuda")
        self.assert_same_run(native, trace, 1e-4)

    def test_restore_best_puts_back_parameters_and_state(self):
        """The restore matters: a torch run that ignored it would part from
        the native run at phase 2 (AdamW's state and the weights of epoch 2)."""
        a, b = self.pair()
        with ftsrt.Runtime(self.plan, a) as ra:
            native = run4(a, ra, METRICS4)
        with ftsrt.Runtime(self.plan, b, backend="torch") as rb:
            rb._tb.restore_params = lambda: None       # the restore's parameters ignored
            broken = run4(b, rb, METRICS4)
        with self.assertRaises(AssertionError):
            self.assert_same_run(native, broken, 1e-5)

    def test_save_and_resume(self):
        """One file (the run's checkpoint + the parameters, optimizer state
        and best snapshot): a run resumed from it after epoch 3 (AdamW with
        state) goes on as the uninterrupted run does, bit for bit."""
        ref, a = self.pair(1)
        b = MLP(torch.float32)
        d1, d2 = (os.path.join(self.tmp.name, n) for n in ("ref", "job"))
        os.mkdir(d1)
        os.mkdir(d2)
        with ftsrt.Runtime(self.plan, ref, backend="torch", ckpt_dir=d1) as rr:
            want = run4(ref, rr, METRICS4)
        path = os.path.join(self.tmp.name, "mid.ckpt")
        with ftsrt.Runtime(self.plan, a, backend="torch", ckpt_dir=d2) as ra:
            run4(a, ra, METRICS4, range(3))
            ra.save(path)
            self.assertEqual(sorted(f for f in os.listdir(self.tmp.name) if f.startswith(".")), [])
        with ftsrt.Runtime(self.plan, b, backend="torch", ckpt_dir=d2) as rb:
            rb.resume(path)
            self.assertEqual((rb.epoch, rb.phase, rb.global_step), (3, 1, 3 * STEPS))
            self.assertEqual(type(rb.optimizer).__name__, "AdamW")
            self.assertEqual(len(rb.optimizer.state), 4)
            got = run4(b, rb, METRICS4, range(3, 8))
        for epoch, (w, g) in enumerate(zip(want[3:], got), 3):
            self.assertEqual(w[:3], g[:3], "epoch %d" % epoch)
            for p, q in zip(w[3], g[3]):
                self.assertTrue(torch.equal(p, q), "epoch %d" % epoch)
        # a refused resume (a checkpoint of another plan) leaves the run and the model as they were
        other = MLP(torch.float32)
        before = [p.detach().clone() for p in other.parameters()]
        with ftsrt.Runtime(build_plan(self.tmp.name, self.manifest), other, backend="torch") as ro:
            opt = ro.optimizer
            with self.assertRaises(ftsrt.FtsrtError) as cm:
                ro.resume(path)
            self.assertIn("checkpoint of another plan", str(cm.exception))
            self.assertIs(ro.optimizer, opt)
            self.assertEqual((ro.epoch, ro.global_step), (0, 0))
            for p, q in zip(before, other.parameters()):
                self.assertTrue(torch.equal(p, q.detach()))
            run4(other, ro, METRICS4, range(1))
        # the two kinds of checkpoint do not mix, and say so
        with ftsrt.Runtime(self.plan, MLP(torch.float32)) as rn, self.assertRaises(ftsrt.FtsrtError) as cm:
            rn.resume(path)
        self.assertIn('backend="torch"', str(cm.exception))
        native = os.path.join(self.tmp.name, "native.ftsckpt")
        with ftsrt.Runtime(self.plan, MLP(torch.float32)) as rn:
            rn.save(native)
        with ftsrt.Runtime(self.plan, MLP(torch.float32), backend="torch") as rt, \
                self.assertRaises(ftsrt.FtsrtError) as cm:
            rt.resume(native)
        self.assertIn('backend="native"', str(cm.exception))

    def test_incompatible_restore_fails_the_same(self):
        """SGD's checkpoint restored into AdamW (FTSC080): both backends refuse
        the transition with the same status and message."""
        errors = []
        for backend, model in zip(("native", "torch"), self.pair()):
            with ftsrt.Runtime(self.plan, model, backend=backend) as rt:
                with self.assertRaises(ftsrt.FtsrtError) as cm:
                    run4(model, rt, HAZARD4)
                errors.append((cm.exception.status, str(cm.exception), rt.epoch))
        self.assertEqual(errors[0], errors[1])
        self.assertEqual(errors[0][0], -4)          # FTSRT_EFORMAT
        self.assertIn("AdamW.step raises KeyError: 'betas' (ftsc check FTSC080)", errors[0][1])

    def test_other_devices(self):
        """A parameter off the CPU (the meta device here) is refused by the
        native backend with a message that names backend="torch"; "auto"
        and "torch" build torch.optim over it where it is."""
        model = MLP(torch.float32).to("meta")
        with self.assertRaises(ftsrt.FtsrtError) as cm:
            ftsrt.Runtime(self.plan, model)
        self.assertIn("parameter 'model.0.weight' is on meta", str(cm.exception))
        self.assertIn('backend="torch"', str(cm.exception))
        for backend in ("auto", "torch"):
            with ftsrt.Runtime(self.plan, model, backend=backend) as rt:
                self.assertEqual(rt.backend, "torch")
                self.assertIsInstance(rt.optimizer, torch.optim.SGD)
                self.assertEqual(rt.optimizer.param_groups[0]["params"][0].device.type, "meta")
        with ftsrt.Runtime(self.plan, MLP(torch.float32), backend="auto") as rt:
            self.assertEqual(rt.backend, "native")
        with self.assertRaises(ftsrt.FtsrtError):
            ftsrt.Runtime(self.plan, MLP(torch.float32), backend="cuda")
        with self.assertRaises(ftsrt.FtsrtError) as cm:
            ftsrt.Runtime(self.plan, MLP(torch.float32), backend="torch", master_weights=True)
        self.assertIn("torch.autocast", str(cm.exception))

    # every optimizer torch 1.13 has, its arguments off their defaults
    KINDS = (
        ("SGD", "{lr: 0.05, momentum: 0.9, dampening: 0.1, weight_decay: 0.01}"),
        ("SGD", "{lr: 0.05, momentum: 0.9, weight_decay: 0.01, nesterov: true}"),
        ("Adam", "{lr: 0.01, betas: [0.8, 0.99], eps: 1.0e-6, weight_decay: 0.02, amsgrad: true}"),
        ("AdamW", "{lr: 0.01, betas: [0.85, 0.995], weight_decay: 0.1}"),
        ("Adagrad", "{lr: 0.05, lr_decay: 0.01, weight_decay: 0.01, initial_accumulator_value: 0.1}"),
        ("Adadelta", "{lr: 0.5, rho: 0.8, weight_decay: 0.01}"),
        ("Adamax", "{lr: 0.01, betas: [0.8, 0.99], weight_decay: 0.01}"),
        ("NAdam", "{lr: 0.01, momentum_decay: 0.005, weight_decay: 0.01}"),
        ("RAdam", "{lr: 0.01, weight_decay: 0.01}"),
        ("RMSprop", "{lr: 0.005, alpha: 0.9, momentum: 0.5, centered: true, weight_decay: 0.01}"),
        ("Rprop", "{lr: 0.005, etas: [0.4, 1.3], step_sizes: [1.0e-5, 10]}"),
        ("ASGD", "{lr: 0.02, lambd: 0.001, alpha: 0.7, t0: 3, weight_decay: 0.01}"),
    )

    def test_every_optimizer_matches_native(self):
        """Each optimizer, float64, a no_decay split and a step-interval
        scheduler (every 3 steps): both backends give the same lrs, and
        parameters within 1e-12 (measured: 6e-17), the groups' weight decay
        included.  NAdam is compared only from torch 2.0: torch 1.13's
        NAdam multiplies mu twice into mu_product_next (fixed in 2.0), which
        libftsrt, like torch 2.x, does not (measured: 1.5e-4 apart)."""
        man = os.path.join(self.tmp.name, "mlp64.tsv")
        write_manifest(MLP(torch.float64), man, source="tests/python MLP")
        x, y = data(torch.float64)
        compared = []
        for k, (name, args) in enumerate(self.KINDS):
            if name == "NAdam" and torch.__version__.startswith("1."):
                continue
            plan = os.path.join(self.tmp.name, "kind%d.ftsplan" % k)
            r = subprocess.run([FTSC, "build", os.path.join(HERE, "sched2nd.yaml"), "--manifest", man, "-o", plan,
                                "--initial-optimizer={class_path: torch.optim.%s, init_args: %s}" % (name, args),
                                "--initial-lr-scheduler={lr_scheduler_init: {class_path: "
                                "torch.optim.lr_scheduler.CosineAnnealingLR, init_args: {T_max: 20}}, "
                                "pl_lrs_cfg: {interval: step, frequency: 3}}",
                                "--no-decay=bias", "--epoch-transitions-only", "--max-epochs=4",
                                "--restore-best=false"], capture_output=True, text=True)
            self.assertEqual(r.returncode, 0, r.stderr)
            torch.manual_seed(k)
            models = [MLP(torch.float64)]
            models.append(MLP(torch.float64))
            models[1].load_state_dict(models[0].state_dict())
            lrs = []
            for model, backend in zip(models, ("native", "torch")):
                with ftsrt.Runtime(plan, model, backend=backend) as rt:
                    seen = []
                    for epoch in range(4):
                        for s in range(STEPS):
                            seen.append(rt.lrs())
                            torch.nn.functional.mse_loss(model(x[s]), y[s]).backward()
                            rt.step()
                            rt.zero_grad()
                        rt.epoch_end(1.0)
                    lrs.append(seen)
                    if backend == "torch":
                        self.assertIsInstance(rt.optimizer, getattr(torch.optim, name))
                        wd = [g["weight_decay"] for g in rt.groups()]
                        if name != "Rprop":
                            self.assertEqual([g["weight_decay"] for g in rt.optimizer.param_groups], wd)
            self.assertEqual(lrs[0], lrs[1], name)
            self.assertEqual(len(set(map(tuple, lrs[0]))) > 4, True, name)
            for i, (p, q) in enumerate(zip(*(m.parameters() for m in models))):
                err = ((p - q).abs() / q.abs().clamp(min=1.0)).max().item()
                self.assertLess(err, 1e-12, "%s %s parameter %d: %g" % (name, args, i, err))
            compared.append(name)
        self.assertGreaterEqual(len(compared), 11)

    def test_optimizer_classes_and_arguments(self):
        """Each kind maps to torch.optim's class with the plan's arguments; a
        class this torch lacks (Muon before 2.9, Adafactor before 2.5) is
        refused naming the torch that has it; fused only where torch has a
        fused kernel for the device (not on CPU in torch 1.13)."""
        from ftsrt import _torch_backend as tb
        with ftsrt.Runtime(self.plan, MLP(torch.float32), backend="torch") as rt:
            back = rt._tb
            lib = ftsrt._load()
            for kind in range(13):
                name = lib.ftsrt_optim_kind_name(kind).decode()
                hp = ftsrt._OptimHparams()
                self.assertEqual(lib.ftsrt_optim_hparams_default(kind, ctypes.byref(hp), None), 0)
                kw = {k: v for k, v, _ in tb.torch_kwargs(kind, hp)}
                if not hasattr(torch.optim, name):
                    with self.assertRaises(ftsrt.FtsrtError) as cm:
                        back.optimizer_class(kind, "torch.optim." + name)
                    self.assertIn("torch.optim.%s, which torch %s lacks (torch %s and later" %
                                  (name, torch.__version__, tb._SINCE[name]), str(cm.exception))
                    continue
                cls, _ = back.optimizer_class(kind, "torch.optim." + name)
                self.assertIs(cls, getattr(torch.optim, name))
                try:
                    made = back._kwargs(cls, name, kind, hp)
                except ftsrt.FtsrtError as e:
                    # an argument this torch lacks, set to a value other than "off"
                    self.assertIn("has no argument", str(e))
                    continue
                opt = cls([torch.nn.Parameter(torch.zeros(2, 2))], **made)
                for k in made:
                    self.assertEqual(opt.param_groups[0][k], kw[k], "%s %s" % (name, k))
            self.assertFalse(back._fused_ok(torch.optim.Adam, [torch.zeros(2, requires_grad=True)])
                             and torch.__version__.startswith("1."))


class SampleTest(unittest.TestCase):
    """Issue 16: samples/train_torch.py fine-tunes its transformer through
    ftsc build and ftsrt.Runtime, and its loss falls."""

    def test_train_torch_sample_learns(self):
        import csv
        with tempfile.TemporaryDirectory() as tmp:
            r = subprocess.run([sys.executable, os.path.join(ROOT, "samples", "train_torch.py"), "--out", tmp,
                                "--epochs", "10", "--steps-per-epoch", "12", "--ftsc", FTSC],
                               capture_output=True, text=True)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            self.assertNotIn("warning", r.stderr)          # the sample's schedule checks clean
            with open(os.path.join(tmp, "train_torch.csv")) as f:
                rows = list(csv.DictReader(f))
            epochs = {}
            for row in rows:
                epochs.setdefault(int(row["epoch"]), row)
            self.assertEqual(sorted(epochs), list(range(10)))
            phases = [int(epochs[e]["phase"]) for e in range(10)]
            self.assertEqual(phases, sorted(phases))
            self.assertEqual(set(phases), {0, 1, 2, 3}, r.stdout)
            val = [float(epochs[e]["val_loss"]) for e in range(10)]
            self.assertLess(val[-1], 0.6 * val[1], r.stdout)
            self.assertGreater(float(epochs[9]["val_acc"]), 0.8, r.stdout)
            with open(os.path.join(tmp, "train_torch.svg")) as f:
                svg = f.read()
            self.assertIn(">validation<", svg)
            self.assertIn("phase 3</text>", svg)
            self.assertIn(">group 3<", svg)

    def test_train_torch_sample_torch_backend(self):
        """--backend torch on the CPU: torch.optim steps the sample's
        transformer, the runtime decides the rest: the same phases and lrs as
        the native backend's run, losses within 1e-3 (measured: 1e-4); a
        non-CPU device with --backend native is refused naming --backend torch."""
        import csv
        rows = {}
        with tempfile.TemporaryDirectory() as tmp:
            for backend in ("native", "torch"):
                out = os.path.join(tmp, backend)
                r = subprocess.run([sys.executable, os.path.join(ROOT, "samples", "train_torch.py"), "--out", out,
                                    "--epochs", "10", "--steps-per-epoch", "12", "--ftsc", FTSC,
                                    "--backend", backend], capture_output=True, text=True)
                self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
                self.assertIn("backend %s on cpu" % backend, r.stdout)
                with open(os.path.join(out, "train_torch.csv")) as f:
                    rows[backend] = list(csv.DictReader(f))
            r = subprocess.run([sys.executable, os.path.join(ROOT, "samples", "train_torch.py"), "--out", tmp,
                                "--device", "meta", "--backend", "native", "--ftsc", FTSC],
                               capture_output=True, text=True)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("use --backend torch", r.stderr)
        self.assertEqual(len(rows["native"]), len(rows["torch"]))
        self.assertEqual({r["phase"] for r in rows["native"]}, {"0", "1", "2", "3"})
        for n, t in zip(rows["native"], rows["torch"]):
            self.assertEqual((n["epoch"], n["phase"], n["group"], n["lr"]), (t["epoch"], t["phase"], t["group"], t["lr"]))
            for k in ("train_loss", "val_loss"):
                self.assertAlmostEqual(float(n[k]), float(t[k]), delta=1e-3 * abs(float(n[k])), msg=k)


# --- issue 17: the optimizer state sharded across ranks (ZeRO-1) ------------------------
def _gloo_missing():
    """Why a 2-rank gloo job cannot run here, or None."""
    try:
        import torch.distributed as dist
    except ImportError as e:
        return "no torch.distributed (%s)" % e
    if not dist.is_available():
        return "torch.distributed is not available in this torch build"
    if not dist.is_gloo_available():
        return "torch.distributed has no gloo backend"
    return None


def _free_port():
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ranks on halves of each batch against one process on the whole batch: relative
# parameter difference (|a - b| / (|b| + 1e-3)) over 8 epochs
SPLIT_TOLERANCE = 1e-4


class ShardedTest(unittest.TestCase):
    """Runtime(plan, model, process_group=pg): 2 ranks on localhost (gloo,
    env:// rendezvous, one process each) train sched4.yaml's four phases
    (optimizer and scheduler swaps, restore_best at every transition) with
    the optimizer state sharded; against one unsharded process fed the same
    batches: the same phases and lrs, bit-identical parameters (each rank
    sees the same batch, so the average (g + g) / 2 is g exactly), about
    half the state bytes a rank; a save and a resume per rank continue
    bit-identically; a checkpoint of 2 ranks is refused by 1; a rank that
    raises does not hang the other."""

    WORLD = 2

    @classmethod
    def setUpClass(cls):
        why = _gloo_missing()
        if why:
            print("ShardedTest skipped: %s" % why, file=sys.stderr)
            raise unittest.SkipTest(why)

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        sys.path.insert(0, HERE)
        import zero1_worker
        self.w = zero1_worker
        self.manifest = os.path.join(self.tmp.name, "mlp32.tsv")
        write_manifest(zero1_worker.MLP(), self.manifest, source="tests/python MLP")
        self.plan = build_plan4(self.tmp.name, self.manifest)
        self.ckdir = os.path.join(self.tmp.name, "ck")
        os.mkdir(self.ckdir)

    def tearDown(self):
        self.tmp.cleanup()

    def ranks(self, mode, deadline=120):
        """Run WORLD workers in mode; returns (exit codes, their records, stderr)."""
        port = str(_free_port())
        procs, outs = [], []
        for r in range(self.WORLD):
            out = os.path.join(self.tmp.name, "%s.rank%d.pt" % (mode, r))
            outs.append(out)
            env = dict(os.environ, OMP_NUM_THREADS="1")
            procs.append(subprocess.Popen([sys.executable, os.path.join(HERE, "zero1_worker.py"), mode, self.plan,
                                           out, str(r), str(self.WORLD), port, self.ckdir],
                                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env))
        codes, errs = [], []
        t0 = __import__("time").monotonic()
        for p in procs:
            left = max(1.0, deadline - (__import__("time").monotonic() - t0))
            try:
                _, err = p.communicate(timeout=left)
            except subprocess.TimeoutExpired:
                for q in procs:
                    q.kill()
                self.fail("%s: a rank did not finish within %d s (hung?)" % (mode, deadline))
            codes.append(p.returncode)
            errs.append(err)
        recs = [torch.load(o) if os.path.exists(o) else None for o in outs]
        return codes, recs, errs

    def reference(self):
        model = self.w.MLP()
        rt = ftsrt.Runtime(self.plan, model, ckpt_dir=os.path.join(self.tmp.name, "one"))
        recs = self.w.train(rt, model, range(8))
        self.assertEqual(rt.shard_range, (0, sum(p.numel() for p in model.parameters())))
        rt.close()
        return recs

    def assert_same(self, got, want, what):
        self.assertEqual(len(got), len(want), what)
        for g, w in zip(got, want):
            self.assertEqual(g["epoch"], w["epoch"])
            self.assertEqual((g["phase"], g["lrs"], g["events"]), (w["phase"], w["lrs"], w["events"]),
                             "%s epoch %d" % (what, g["epoch"]))
            for a, b in zip(g["params"], w["params"]):
                self.assertTrue(torch.equal(a, b), "%s epoch %d: parameters differ by %g"
                                % (what, g["epoch"], (a - b).abs().max()))

    def test_sharded_two_ranks(self):
        os.makedirs(os.path.join(self.tmp.name, "one"))
        ref = self.reference()
        self.assertEqual([e["phase"] for e in ref], [0, 0, 1, 1, 2, 2, 3, 3])
        codes, recs, errs = self.ranks("train")
        self.assertEqual(codes, [0] * self.WORLD, "".join(errs))
        numel = sum(p.numel() for p in self.w.MLP().parameters())
        ranges = recs[0]["ranges"]
        self.assertEqual(ranges[0][0], 0)
        self.assertEqual(ranges[-1][1], numel)
        for r, rec in enumerate(recs):
            self.assertEqual(tuple(rec["shard_range"]), tuple(ranges[r]))
            self.assertEqual(rec["ranges"], ranges)
            self.assert_same(rec["epochs"], ref, "rank %d" % r)
            self.assertEqual(rec["finished"], "max_epochs")
            # each rank: at most half the state of the single process (+ one 64-byte
            # block of padding per slot), and the whole job about as much as it
            for e, (got, want) in enumerate(zip(rec["epochs"], ref)):
                self.assertLessEqual(got["state_bytes"], want["state_bytes"] / self.WORLD + 3 * 128,
                                     "rank %d epoch %d" % (r, e))
        for e in range(8):
            total = sum(rec["epochs"][e]["state_bytes"] for rec in recs)
            if ref[e]["phase"] == 3:        # everything thawed: both ranks keep state
                self.assertTrue(all(rec["epochs"][e]["state_bytes"] > 0 for rec in recs))
            self.assertLessEqual(total, ref[e]["state_bytes"] + 3 * 128 * self.WORLD)
        self.assertGreater(ref[7]["state_bytes"], 0)
        # the save: a manifest naming each rank's shard file, with its CRC
        import json
        mid = os.path.join(self.tmp.name, "mid.ckpt")
        with open(mid) as f:
            man = json.load(f)
        self.assertEqual(man["world"], self.WORLD)
        self.assertEqual([s["file"] for s in man["shards"]],
                         ["mid.ckpt.shard-%d-of-%d" % (r, self.WORLD) for r in range(self.WORLD)])
        self.assertTrue(os.path.isdir(os.path.join(self.ckdir, "shard-1-of-2")))
        # resume on every rank: the same epochs as the uninterrupted run
        codes, res, errs = self.ranks("resume")
        self.assertEqual(codes, [0] * self.WORLD, "".join(errs))
        for r, rec in enumerate(res):
            self.assertEqual(rec["resumed_epoch"], self.w.SAVE_AT + 1)
            self.assert_same(rec["epochs"], ref[self.w.SAVE_AT + 1:], "resumed rank %d" % r)
        # another world size is refused: the manifest by the binding, a shard by libftsrt
        rt = ftsrt.Runtime(self.plan, self.w.MLP())
        with self.assertRaises(ftsrt.FtsrtError) as cm:
            rt.resume(mid)
        self.assertIn("a job of 2 ranks, this one has 1", str(cm.exception))
        self.assertIn("resume it with 2 ranks", str(cm.exception))
        with self.assertRaises(ftsrt.FtsrtError) as cm:
            rt.resume(mid + ".shard-1-of-2")
        self.assertIn("rank 1 of a run sharded over 2 ranks", str(cm.exception))
        self.assertIn("world size", str(cm.exception))
        rt.close()
        # a damaged shard is refused by its CRC
        with open(mid + ".shard-0-of-2", "r+b") as f:
            f.seek(200)
            b = f.read(1)
            f.seek(200)
            f.write(bytes([b[0] ^ 0x5a]))
        codes, _, errs = self.ranks("resume")
        for r in range(self.WORLD):         # both refuse, naming rank 0's shard
            self.assertNotEqual(codes[r], 0)
            self.assertIn("rank 0's shard", errs[r])
            self.assertIn("CRC-32 differ", errs[r])

    def test_split_batches(self):
        """True data parallelism: each rank trains on its half of every batch.
        The average of the halves' mean gradients is the whole batch's up to
        rounding, so the parameters follow the single process within a
        tolerance (measured 2.3e-6 relative, bound 1e-4), the phases, lrs and events
        exactly."""
        os.makedirs(os.path.join(self.tmp.name, "one"))
        ref = self.reference()
        codes, recs, errs = self.ranks("split")
        self.assertEqual(codes, [0] * self.WORLD, "".join(errs))
        worst = 0.0
        for r, rec in enumerate(recs):
            self.assertEqual(len(rec["epochs"]), len(ref))
            for g, w in zip(rec["epochs"], ref):
                self.assertEqual((g["phase"], g["lrs"], g["events"]), (w["phase"], w["lrs"], w["events"]))
                for a, b in zip(g["params"], w["params"]):
                    worst = max(worst, float(((a - b).abs() / (b.abs() + 1e-3)).max()))
            for a, b in zip(rec["epochs"][-1]["params"], recs[0]["epochs"][-1]["params"]):
                self.assertTrue(torch.equal(a, b), "the ranks' parameters differ")
        self.assertLess(worst, SPLIT_TOLERANCE, "relative difference from one process")

    def test_rank_failure_does_not_hang(self):
        """Rank 1 raises in the middle of an epoch: rank 0's next collective
        fails (the peer's connection closes, or the group's 20 s timeout)
        instead of waiting for ever."""
        codes, recs, errs = self.ranks("crash", deadline=90)
        self.assertNotEqual(codes[1], 0)
        self.assertIn("fails on purpose", errs[1])
        if codes[0] == -6 and recs[0] is None:
            # torch 1.13's gloo may abort rank 0 from one of its own
            # threads when the peer's connection closes (seen once under
            # load): it did not hang, which is what is asked here
            self.assertIn("terminate called", errs[0])
            return
        self.assertEqual(codes[0], 3, errs[0])
        self.assertIn("RuntimeError", recs[0]["error"])
        self.assertLess(recs[0]["after_s"], 60)

if __name__ == "__main__":
    result = unittest.main(exit=False, verbosity=1).result
    failed = len(result.failures) + len(result.errors)
    print("%d passed, %d failed" % (result.testsRun - failed, failed))
    sys.exit(1 if failed else 0)
