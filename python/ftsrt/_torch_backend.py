"""The torch backend of ftsrt.Runtime (backend="torch"): torch.optim does the
math on the parameters' own device, libftsrt decides the rest.

The run is created external (ftsrt_run_options .external, libftsrt 1.2):
it binds no arenas and keeps no optimizer state, and says everything the
plan decides -- which parameters are thawed, the groups (their parameters
and hyper-parameters), each group's lr, scheduler steps, transitions,
early stopping, restore_best and its refusals.  This module mirrors that
onto one torch.optim.Optimizer (Runtime.optimizer):

  * its class is torch.optim.<the kind's torch name> (ftsrt_run_optimizer),
    with fused=True where torch has a fused kernel for it on the device;
  * its param_groups are the run's groups, same parameters in the same
    order, with the run's hyper-parameters (ftsrt_run_group_hparams);
  * before each step every group's lr (and momentum or betas, which a
    cycling scheduler moves) is set from the run;
  * after a transition the new groups are added (add_param_group: the
    existing parameters keep their state, as FTS does), or, when the
    optimizer's generation changed (new_optimizer, a resume), a new
    optimizer is built, its state empty;
  * FTSRT_EV_CKPT_SAVED: a snapshot of the parameters and the optimizer
    state (deep copies on their device, and in ckpt_dir/best.torch.pt when
    the run has a checkpoint directory); FTSRT_EV_BEST_RESTORED: the
    snapshot's parameters are copied back and its optimizer state goes to
    every parameter of the run's groups that had state in it (none when a
    new optimizer starts in the same transition).

save() writes one file, atomically (temporary file, fsync, os.replace): a
torch.save archive holding the run's checkpoint bytes (libftsrt's external
checkpoint: the run's state without parameters), the parameters and the
optimizer state by manifest index, and the best snapshot.
"""

import contextlib
import copy
import ctypes
import inspect
import math
import os
import tempfile

# enum ftsrt_optim_kind
(_SGD, _ADAM, _ADAMW, _ADAGRAD, _ADADELTA, _ADAMAX, _NADAM, _RADAM, _RMSPROP, _RPROP, _ASGD,
 _ADAFACTOR, _MUON) = range(13)
_MOMENTUM_KINDS = (_SGD, _RMSPROP, _MUON)       # the scheduler's momentum is hp.momentum
_BETA_KINDS = (_ADAM, _ADAMW, _ADAMAX, _NADAM, _RADAM)  # ... hp.beta1 (betas[0])
# the torch release that added a class the runtime knows (older ones: refused)
_SINCE = {"Adafactor": "2.5", "Muon": "2.9"}
FORMAT = "ftsrt-torch-checkpoint"
FORMAT_VERSION = 1
BEST_FILE = "best.torch.pt"


def torch_kwargs(kind, hp):
    """torch.optim's constructor arguments for kind from the run's hyper-parameters
    (struct ftsrt_optim_hparams): [(name, value, neutral)], neutral the value
    that means "off" (an older torch without that argument then does the same),
    or None where every torch that has the class has the argument."""
    lr, wd = hp.lr, hp.weight_decay
    mx = ("maximize", bool(hp.maximize), False)
    betas = ("betas", (hp.beta1, hp.beta2), None)
    if kind == _SGD:
        return [("lr", lr, None), ("momentum", hp.momentum, None), ("dampening", hp.dampening, None),
                ("weight_decay", wd, None), ("nesterov", bool(hp.nesterov), False), mx]
    if kind in (_ADAM, _ADAMW):
        out = [("lr", lr, None), betas, ("eps", hp.eps, None), ("weight_decay", wd, None),
               ("amsgrad", bool(hp.amsgrad), False), mx]
        if kind == _ADAM:
            out.append(("decoupled_weight_decay", bool(hp.decoupled_weight_decay), False))
        return out
    if kind == _ADAGRAD:
        return [("lr", lr, None), ("lr_decay", hp.lr_decay, None), ("weight_decay", wd, None),
                ("initial_accumulator_value", hp.initial_accumulator_value, None),
                ("eps", hp.eps, None), mx]
    if kind == _ADADELTA:
        return [("lr", lr, None), ("rho", hp.rho, None), ("eps", hp.eps, None),
                ("weight_decay", wd, None), mx]
    if kind == _ADAMAX:
        return [("lr", lr, None), betas, ("eps", hp.eps, None), ("weight_decay", wd, None), mx]
    if kind == _NADAM:
        return [("lr", lr, None), betas, ("eps", hp.eps, None), ("weight_decay", wd, None),
                ("momentum_decay", hp.momentum_decay, None),
                ("decoupled_weight_decay", bool(hp.decoupled_weight_decay), False), mx]
    if kind == _RADAM:
        return [("lr", lr, None), betas, ("eps", hp.eps, None), ("weight_decay", wd, None),
                ("decoupled_weight_decay", bool(hp.decoupled_weight_decay), False), mx]
    if kind == _RMSPROP:
        return [("lr", lr, None), ("alpha", hp.alpha, None), ("eps", hp.eps, None),
                ("weight_decay", wd, None), ("momentum", hp.momentum, None),
                ("centered", bool(hp.centered), False), mx]
    if kind == _RPROP:
        return [("lr", lr, None), ("etas", (hp.etaminus, hp.etaplus), None),
                ("step_sizes", (hp.step_size_min, hp.step_size_max), None), mx]
    if kind == _ASGD:
        return [("lr", lr, None), ("lambd", hp.lambd, None), ("alpha", hp.alpha, None),
                ("t0", hp.t0, None), ("weight_decay", wd, None), mx]
    if kind == _ADAFACTOR:
        eps1 = None if math.isnan(hp.eps1) else hp.eps1
        return [("lr", lr, None), ("beta2_decay", hp.beta2_decay, None), ("eps", (eps1, hp.eps), None),
                ("d", hp.d, None), ("weight_decay", wd, None), mx]
    if kind == _MUON:
        return [("lr", lr, None), ("weight_decay", wd, None), ("momentum", hp.momentum, None),
                ("nesterov", bool(hp.nesterov), None),
                ("ns_coefficients", (hp.ns_a, hp.ns_b, hp.ns_c), None), ("eps", hp.eps, None),
                ("ns_steps", int(hp.ns_steps), None),
                ("adjust_lr_fn", "match_rms_adamw" if hp.adjust_lr_fn == 1 else None, None)]
    raise ValueError("no optimizer kind %d" % kind)


def _version_tuple(text):
    out = []
    for part in text.split("+")[0].split(".")[:2]:
        digits = "".join(ch for ch in part if ch.isdigit())
        out.append(int(digits) if digits else 0)
    return tuple(out)


def atomic_torch_save(torch, obj, path):
    """torch.save obj to path atomically: a temporary file beside it, fsync,
    os.replace, then the directory fsynced."""
    d = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=d, prefix="." + os.path.basename(path) + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(obj, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    try:
        dfd = os.open(d, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dfd)
    except OSError:
        pass
    finally:
        os.close(dfd)


def torch_load(torch, path):
    """torch.load to CPU, weights only where this torch can (1.13 and later)."""
    kw = {"map_location": "cpu"}
    if "weights_only" in inspect.signature(torch.load).parameters:
        kw["weights_only"] = True
    return torch.load(path, **kw)


def _clone_state(torch, st):
    """A deep copy of one parameter's optimizer state, tensors on their device."""
    return {k: v.detach().clone() if torch.is_tensor(v) else copy.deepcopy(v) for k, v in st.items()}


@contextlib.contextmanager
def _scratch_beside(path):
    """A temporary file in path's folder (the run's own checkpoint passes
    through it), removed afterwards whatever happens."""
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(os.path.abspath(path)), prefix=".ftsrt-run-",
                               suffix=".ftsckpt")
    os.close(fd)
    try:
        yield tmp
    finally:
        try:
            os.unlink(tmp)
        except OSError:
            pass

class TorchBackend:
    """The torch side of a Runtime with backend="torch" (see the module docstring)."""

    def __init__(self, rt, fused):
        self.rt = rt
        self.torch = rt._torch
        self.fused = fused          # None: where torch has it; True: required; False: never
        self.params = {}            # manifest index -> parameter
        self.names = {}             # manifest index -> name
        self.opt = None             # the torch.optim.Optimizer
        self.gen = None             # the run's optimizer generation it mirrors
        self.layout = None          # its groups' manifest indices
        self.kind = None
        self.best = None            # {"params": {idx: tensor}, "state": {idx: state}}
        self.eager = False          # its constructor makes the state (Adagrad)
        self.hp = None

    def release(self):
        """Drop the optimizer, its state, the snapshot and the parameters (close)."""
        self.opt = None
        self.best = None
        self.params = {}
        self.layout = None

    # --- the model -------------------------------------------------------------------
    def bind(self, model, params):
        """Check model against the plan's manifest (names, shapes, dtypes, the
        manifest hash) and mirror the run's groups onto a torch optimizer."""
        rt, lib = self.rt, self.rt._lib
        from . import FtsrtError, FTSRT_OK, _Error, _dtype_name
        index = {}
        idx = ctypes.c_int32()
        for name, p in params:
            err = _Error()
            st = lib.ftsrt_run_param_index(rt._run, name.encode(), ctypes.byref(idx), ctypes.byref(err))
            if st != FTSRT_OK:
                raise FtsrtError("the model's parameter '%s' is not in the plan's manifest" % name, st)
            if not p.is_floating_point():
                raise FtsrtError("parameter '%s' is %s: the runtime trains floating-point parameters"
                                 % (name, _dtype_name(p)))
            index[idx.value] = (name, p)
        bound, names = {}, {}
        for i in range(lib.ftsrt_run_nparams(rt._run)):
            pp = rt._plan_param(i)
            if pp.tied_to >= 0:
                continue
            name, p = rt._model_param(pp, i, index)
            dims = tuple(pp.dims[k] for k in range(pp.ndim))
            if tuple(p.shape) != dims:
                raise FtsrtError("cannot bind '%s' %s %s: the plan's manifest says %s"
                                 % (name, tuple(p.shape), _dtype_name(p), dims))
            bound[i], names[i] = p, name
        if len(bound) != len(params):
            raise FtsrtError("the model has parameters the plan does not bind")
        h, want = rt._model_hash(model), lib.ftsrt_plan_manifest_hash(rt._plan)
        if h != want:
            raise FtsrtError("bind: manifest hash %016x is not the plan's %016x" % (h, want))
        self.params, self.names = bound, names
        self.opt = None
        self.sync()

    def apply_requires_grad(self):
        lib, run = self.rt._lib, self.rt._run
        for i, p in self.params.items():
            p.requires_grad_(lib.ftsrt_run_thawed(run, i))

    def zero_grad(self):
        """Zero the gradients in place, as the native backend zeroes its
        gradient arena: a grouped parameter the loss did not reach is still
        stepped (weight decay, momentum) with a zero gradient."""
        for p in self.params.values():
            g = p.grad
            if g is not None:
                if g.grad_fn is not None:
                    g.detach_()
                else:
                    g.requires_grad_(False)
                g.zero_()

    # --- the optimizer -----------------------------------------------------------------
    def _info(self):
        from . import _RunOptimizer
        info = _RunOptimizer()
        self.rt._call("optimizer", self.rt._lib.ftsrt_run_optimizer, self.rt._run, ctypes.byref(info))
        return info

    def _hparams(self, g, out=None):
        from . import _OptimHparams
        hp = out if out is not None else _OptimHparams()
        self.rt._call("group %d" % g, self.rt._lib.ftsrt_run_group_hparams, self.rt._run, g,
                      ctypes.byref(hp))
        return hp

    def optimizer_class(self, kind, class_path):
        """torch.optim's class for kind, or a clear refusal where this torch lacks it."""
        from . import FtsrtError
        name = self.rt._lib.ftsrt_optim_kind_name(kind)
        name = name.decode() if name else "kind %d" % kind
        cls = getattr(self.torch.optim, name, None)
        if cls is None:
            since = _SINCE.get(name)
            raise FtsrtError("the plan's optimizer %s needs torch.optim.%s, which torch %s lacks%s: "
                             "install a newer torch, or use the native backend (CPU)"
                             % (class_path, name, self.torch.__version__,
                                " (torch %s and later have it)" % since if since else ""))
        return cls, name

    def _kwargs(self, cls, name, kind, hp):
        from . import FtsrtError
        sig = inspect.signature(cls.__init__).parameters
        out = {}
        for k, v, neutral in torch_kwargs(kind, hp):
            if k in sig:
                out[k] = v
            elif neutral is None or v != neutral:
                raise FtsrtError("torch.optim.%s of torch %s has no argument '%s', which the plan sets "
                                 "(%r): install a newer torch, or use the native backend (CPU)"
                                 % (name, self.torch.__version__, k, v))
        return out

    def _fused_ok(self, cls, params):
        """Whether to ask cls for fused=True: it takes the argument and torch
        has fused kernels on the parameters' device (CUDA in torch 1.13)."""
        if self.fused is False or not params or "fused" not in inspect.signature(cls.__init__).parameters:
            return False
        devices = {p.device.type for p in params}
        if len(devices) != 1 or not all(p.is_floating_point() for p in params):
            return False
        try:
            from torch.utils._foreach_utils import _get_fused_kernels_supported_devices
            supported = _get_fused_kernels_supported_devices()
        except (ImportError, AttributeError):
            supported = ["cuda"]
        return next(iter(devices)) in supported

    def _build(self, cls, name, kind, groups):
        """A new optimizer of class cls over the run's groups (hparams and params)."""
        from . import FtsrtError
        pgs = []
        for g, hp in groups:
            pg = {"params": [self.params[i] for i in g["params"] if i in self.params]}
            pg.update(self._kwargs(cls, name, kind, hp))
            if g["initial_lr"] is not None:
                pg["initial_lr"] = g["initial_lr"]
            pgs.append(pg)
        defaults = {k: v for k, v in pgs[0].items() if k not in ("params", "initial_lr")} if pgs else {}
        if not pgs:
            pgs = [{"params": []}]
            defaults = {"lr": 0.0}
        allp = [p for pg in pgs for p in pg["params"]]
        fused = self._fused_ok(cls, allp)
        if self.fused and not fused:
            raise FtsrtError("fused=True: torch %s has no fused torch.optim.%s for these parameters"
                             % (self.torch.__version__, name))
        try:
            return cls(pgs, **defaults, **({"fused": True} if fused else {}))
        except (RuntimeError, ValueError) as e:
            if not fused or self.fused:
                raise FtsrtError("cannot build torch.optim.%s: %s" % (name, e)) from None
            return cls(pgs, **defaults)     # no fused kernel after all: torch's default

    def _load_state(self, state):
        """Give the parameters of self.opt the optimizer state `state` (manifest
        index -> state, deep copies), through load_state_dict so that torch
        places and casts each value as it does for its own checkpoints."""
        if not state:
            return
        sd = self.opt.state_dict()
        pos, k = {}, 0
        for pg in self.opt.param_groups:
            for p in pg["params"]:
                pos[id(p)] = k
                k += 1
        # what the constructor gave (Adagrad's sum), where state does not say
        kept = dict(sd["state"])
        sd["state"] = {}
        for i, st in state.items():
            p = self.params.get(i)
            if p is not None and id(p) in pos and st:
                sd["state"][pos[id(p)]] = _clone_state(self.torch, st)
        for k, st in kept.items():
            sd["state"].setdefault(k, _clone_state(self.torch, st))
        self.opt.load_state_dict(sd)

    def live_state(self):
        """The optimizer state now, by manifest index (references, not copies)."""
        if self.opt is None:
            return {}
        return {i: self.opt.state[p] for i, p in self.params.items() if p in self.opt.state
                and self.opt.state[p]}

    def sync(self, restored=False, state=None):
        """Make self.opt mirror the run's optimizer and groups.  restored: a
        restore_best just happened (the state comes from the best snapshot);
        state: the state to load into a new optimizer (a resume)."""
        info = self._info()
        cls, name = self.optimizer_class(info.kind, info.class_path.decode(errors="replace")
                                         if info.class_path else "?")
        groups = [(g, self._hparams(k)) for k, g in enumerate(self.rt._groups())]
        layout = [tuple(g["params"]) for g, _ in groups]
        fresh = self.opt is None or info.generation != self.gen
        # an optimizer whose constructor makes the state (Adagrad) has none for
        # what add_param_group adds: it is rebuilt, the state carried over
        if (not fresh and not restored and state is None and self.layout is not None
                and layout[:len(self.layout)] == self.layout and not self.eager):
            for pg, (g, hp) in zip(self.opt.param_groups, groups):
                pg.update(self._kwargs(cls, name, info.kind, hp))
                if g["initial_lr"] is not None:
                    pg["initial_lr"] = g["initial_lr"]
            for g, hp in groups[len(self.layout):]:
                pg = {"params": [self.params[i] for i in g["params"] if i in self.params]}
                pg.update(self._kwargs(cls, name, info.kind, hp))
                if g["initial_lr"] is not None:
                    pg["initial_lr"] = g["initial_lr"]
                self.opt.add_param_group(pg)
        else:
            if state is not None:
                src = state
            elif fresh:
                src = {}
            elif restored:
                src = self.best["state"] if self.best else {}
            else:
                src = {i: _clone_state(self.torch, st) for i, st in self.live_state().items()}
            self.opt = self._build(cls, name, info.kind, groups)
            self.eager = bool(self.opt.state)
            self._load_state(src)
        self.gen, self.layout, self.kind = info.generation, layout, info.kind

    def set_lrs(self):
        """Every group's lr (and momentum or betas) from the run, before a step."""
        from . import _OptimHparams
        if self.hp is None:
            self.hp = _OptimHparams()
        hp, kind = self.hp, self.kind
        for k, pg in enumerate(self.opt.param_groups[:len(self.layout)]):
            self._hparams(k, hp)
            pg["lr"] = hp.lr
            if kind in _MOMENTUM_KINDS and "momentum" in pg:
                pg["momentum"] = hp.momentum
            elif kind in _BETA_KINDS and "betas" in pg:
                pg["betas"] = (hp.beta1, hp.beta2)

    # --- best snapshot -----------------------------------------------------------------
    def _best_path(self):
        d = self.rt._ckpt_dir
        return os.path.join(os.fsdecode(d), BEST_FILE) if d else None

    def snapshot(self):
        """FTSRT_EV_CKPT_SAVED: copies of the parameters and the optimizer state."""
        torch = self.torch
        with torch.no_grad():
            self.best = {"params": {i: p.detach().clone() for i, p in self.params.items()},
                         "state": {i: _clone_state(torch, st) for i, st in self.live_state().items()}}
        path = self._best_path()
        if path:
            atomic_torch_save(torch, self.best, path)

    def restore_params(self):
        """FTSRT_EV_BEST_RESTORED: the snapshot's parameters back (its optimizer
        state follows in sync(restored=True))."""
        from . import FtsrtError
        if self.best is None and self._best_path() and os.path.exists(self._best_path()):
            self.best = torch_load(self.torch, self._best_path())
        if self.best is None:
            raise FtsrtError("restore_best: the runtime restored its best checkpoint but the torch "
                             "snapshot of it is not available (a memory snapshot does not survive a "
                             "resume: set ckpt_dir)")
        with self.torch.no_grad():
            for i, t in self.best["params"].items():
                if i in self.params:
                    self.params[i].copy_(t)

    # --- save and resume ---------------------------------------------------------------
    def save(self, path):
        rt, torch = self.rt, self.torch
        with _scratch_beside(path) as tmp:
            rt._call("save", rt._lib.ftsrt_run_save, rt._run, os.fsencode(tmp))
            with open(tmp, "rb") as f:
                run = f.read()
        with torch.no_grad():
            payload = {
                "format": FORMAT, "version": FORMAT_VERSION,
                "run": torch.frombuffer(bytearray(run), dtype=torch.uint8),
                "params": {i: p.detach() for i, p in self.params.items()},
                "optimizer": self.live_state(),
                "best": self.best,
            }
            atomic_torch_save(torch, payload, path)

    def resume(self, path):
        rt, torch = self.rt, self.torch
        from . import FtsrtError
        with open(path, "rb") as f:
            magic = f.read(4)
        if magic[:2] != b"PK":
            raise FtsrtError("resume: '%s' is not a checkpoint of the torch backend (a native "
                             "libftsrt checkpoint? resume it with backend=\"native\")" % path)
        try:
            payload = torch_load(torch, path)
        except Exception as e:          # a damaged archive: torch's own error types vary
            raise FtsrtError("resume: cannot read '%s': %s" % (path, e)) from None
        if not isinstance(payload, dict) or payload.get("format") != FORMAT:
            raise FtsrtError("resume: '%s' is not a checkpoint of the torch backend" % path)
        if payload.get("version") != FORMAT_VERSION:
            raise FtsrtError("resume: '%s' is version %r of the torch backend's checkpoint, this "
                             "ftsrt reads %d" % (path, payload.get("version"), FORMAT_VERSION))
        params = payload["params"]
        missing = sorted(set(self.params) - set(params))
        if missing:
            raise FtsrtError("resume: '%s' lacks parameter '%s'" % (path, self.names[missing[0]]))
        for i, t in params.items():
            p = self.params.get(i)
            if p is None or tuple(t.shape) != tuple(p.shape):
                raise FtsrtError("resume: '%s' holds a parameter %d this model does not have" % (path, i))
        with _scratch_beside(path) as tmp:
            with open(tmp, "wb") as f:
                f.write(payload["run"].numpy().tobytes())
            rt._call("resume", rt._lib.ftsrt_run_resume, rt._run, os.fsencode(tmp))
        with torch.no_grad():
            for i, t in params.items():
                self.params[i].copy_(t)
        self.best = payload.get("best")
        self.apply_requires_grad()
        self.opt = None
        self.sync(state=payload.get("optimizer") or {})
