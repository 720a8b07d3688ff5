"""ftsrt - drive the ftsc runtime (libftsrt) from a PyTorch training loop.

    import ftsrt
    rt = ftsrt.Runtime("plan.ftsplan", model)      # binds model.named_parameters()
    for epoch in ...:
        for batch in ...:
            loss = ...; loss.backward()
            rt.step()                              # libftsrt's kernels update the params
            rt.zero_grad()
        events = rt.epoch_end(val_loss)            # transitions, restores, finished
        if rt.finished: break

The plan comes from `ftsc build`; the model must have exactly the plan's
manifest (names, shapes, dtypes), which `python3 -m ftsrt.manifest` writes.
The runtime owns the optimizer and the LR schedulers: torch.optim is not
used.  Every C call goes through ctypes, which releases the GIL.
"""

import ctypes
import ctypes.util
import math
import os
import threading
import weakref
import shutil
import subprocess

__all__ = ["Runtime", "FtsrtError", "library_path", "library_version", "__version__"]

# The binding is written for libftsrt 0.1 (ftsrt.h's FTSRT_VERSION_MAJOR and
# _MINOR; before 1.0 a minor version may change the ABI): another library
# version is refused when it is loaded.
__version__ = "0.1.0"
_ABI = (0, 1)

FTSRT_OK = 0
_F32, _F64 = 0, 1
_EVENTS = {1: "transition", 2: "checkpoint_saved", 3: "best_restored", 4: "finished", 5: "warning"}
_STOPS = {0: None, 1: "max_epochs", 2: "patience", 3: "nonfinite", 4: "threshold", 5: "divergence"}


class FtsrtError(RuntimeError):
    """A call into libftsrt failed; the message is the runtime's."""

    def __init__(self, message, status=None):
        super().__init__(message)
        self.status = status


def _pkg_config_libdir():
    if not shutil.which("pkg-config"):
        return None
    try:
        r = subprocess.run(["pkg-config", "--variable=libdir", "ftsrt"], capture_output=True,
                           text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return r.stdout.strip() or None if r.returncode == 0 else None


def library_path():
    """Where libftsrt.so is, first found of: $FTSRT_LIBRARY; the lib/ of the
    prefix this package was installed in by `make install`
    ($prefix/lib/ftsc/python/ftsrt); the build tree of a source checkout;
    the libdir of `pkg-config ftsrt` (PKG_CONFIG_PATH names a prefix that
    `make install` wrote, e.g. for a `pip install ./python`); the dynamic
    linker's search path."""
    env = os.environ.get("FTSRT_LIBRARY")
    if env:
        return env
    here = os.path.dirname(os.path.abspath(__file__))
    for rel in ("../../..", "../../build"):
        cand = os.path.normpath(os.path.join(here, rel, "libftsrt.so"))
        if os.path.exists(cand):
            return cand
    libdir = _pkg_config_libdir()
    if libdir and os.path.exists(os.path.join(libdir, "libftsrt.so")):
        return os.path.join(libdir, "libftsrt.so")
    found = ctypes.util.find_library("ftsrt")
    if found:
        return found
    raise FtsrtError("libftsrt.so not found: install ftsc (make install) and set PKG_CONFIG_PATH "
                     "to its lib/pkgconfig, or set FTSRT_LIBRARY to the library's path")


def _check_version(lib, path):
    text = lib.ftsrt_version()
    text = text.decode(errors="replace") if text else "?"
    try:
        major, minor = (int(x) for x in text.split(".")[:2])
    except ValueError:
        major = minor = None
    if (major, minor) != _ABI:
        raise FtsrtError("%s is libftsrt %s; this ftsrt package (%s) needs libftsrt %d.%d.x: "
                         "install the ftsrt package of that ftsc, or point FTSRT_LIBRARY at a "
                         "matching library" % (path, text, __version__, _ABI[0], _ABI[1]))


def library_version():
    """The version string of the libftsrt this package has loaded."""
    return _load().ftsrt_version().decode()


def _strerror(lib, status):
    text = lib.ftsrt_strerror(status)
    return text.decode(errors="replace") if text else "error %d" % status


class _RunOptions(ctypes.Structure):
    _fields_ = [("dtype", ctypes.c_int), ("threads", ctypes.c_int), ("kernels", ctypes.c_int),
                ("ckpt_dir", ctypes.c_char_p), ("save_last", ctypes.c_int),
                ("scale", ctypes.c_double), ("alloc", ctypes.c_void_p),
                ("alloc_ud", ctypes.c_void_p)]


class _Event(ctypes.Structure):
    _fields_ = [("kind", ctypes.c_int), ("epoch", ctypes.c_long), ("phase", ctypes.c_int),
                ("reason", ctypes.c_int), ("text", ctypes.c_char_p)]


class _Group(ctypes.Structure):
    _fields_ = [("lr", ctypes.c_double), ("initial_lr", ctypes.c_double),
                ("weight_decay", ctypes.c_double), ("phase", ctypes.c_int),
                ("no_decay", ctypes.c_int), ("nparams", ctypes.c_int),
                ("params", ctypes.POINTER(ctypes.c_int))]


_lib = None


def _load():
    global _lib
    if _lib is not None:
        return _lib
    path = library_path()
    try:
        lib = ctypes.CDLL(path)
    except OSError as e:
        raise FtsrtError("cannot load libftsrt from %s: %s" % (path, e)) from None
    P, I, S = ctypes.c_void_p, ctypes.c_int, ctypes.c_size_t
    for name in ("ftsrt_version", "ftsrt_strerror"):
        if not hasattr(lib, name):
            raise FtsrtError("%s is not libftsrt (no %s)" % (path, name))
    lib.ftsrt_version.restype = ctypes.c_char_p
    lib.ftsrt_version.argtypes = []
    _check_version(lib, path)
    sig = {
        "ftsrt_version": (ctypes.c_char_p, []),
        "ftsrt_strerror": (ctypes.c_char_p, [I]),
        "ftsrt_plan_open": (I, [ctypes.POINTER(P), ctypes.c_char_p, ctypes.c_char_p, S]),
        "ftsrt_plan_close": (None, [P]),
        "ftsrt_plan_nparams": (S, [P]),
        "ftsrt_plan_manifest_hash": (ctypes.c_uint64, [P]),
        "ftsrt_manifest_hash_add": (ctypes.c_uint64, [ctypes.c_uint64, ctypes.c_char_p, I,
                                                      ctypes.POINTER(ctypes.c_int64), ctypes.c_char_p]),
        "ftsrt_run_options_default": (I, [ctypes.POINTER(_RunOptions)]),
        "ftsrt_run_new_ex": (I, [ctypes.POINTER(P), P, ctypes.POINTER(_RunOptions),
                                 ctypes.c_char_p, S]),
        "ftsrt_run_free": (None, [P]),
        "ftsrt_run_errmsg": (ctypes.c_char_p, [P]),
        "ftsrt_run_nparams": (I, [P]),
        "ftsrt_run_param_index": (I, [P, ctypes.c_char_p]),
        "ftsrt_run_param_offset": (I, [P, I, ctypes.POINTER(S), ctypes.POINTER(S)]),
        "ftsrt_run_arena_numel": (S, [P]),
        "ftsrt_run_bind_arena": (I, [P, P, P, S, ctypes.c_ulonglong]),
        "ftsrt_run_bind": (I, [P, ctypes.c_char_p, I, P, P, I, ctypes.POINTER(ctypes.c_longlong)]),
        "ftsrt_run_thawed": (I, [P, I]),
        "ftsrt_run_step": (I, [P]),
        "ftsrt_run_epoch_end": (I, [P, ctypes.c_double]),
        "ftsrt_run_finished": (I, [P]),
        "ftsrt_run_next_event": (I, [P, ctypes.POINTER(_Event)]),
        "ftsrt_run_epoch": (ctypes.c_long, [P]),
        "ftsrt_run_phase": (I, [P]),
        "ftsrt_run_ngroups": (I, [P]),
        "ftsrt_run_group": (I, [P, I, ctypes.POINTER(_Group)]),
        "ftsrt_run_save": (I, [P, ctypes.c_char_p]),
        "ftsrt_run_resume": (I, [P, ctypes.c_char_p]),
    }
    for name, (res, args) in sig.items():
        fn = getattr(lib, name)
        fn.restype = res
        fn.argtypes = args
    _lib = lib
    return lib


def _dtype_name(t):
    return str(t.dtype).replace("torch.", "")


class Runtime:
    """One training job driven by a plan (see the module docstring).

    plan_path: a plan written by `ftsc build`.  model: a torch.nn.Module
    whose named_parameters() match the plan's manifest.  threads: threads of
    the optimizer step.  ckpt_dir: where restore_best checkpoints go (None:
    kept in memory).
    """

    def __init__(self, plan_path, model, threads=1, ckpt_dir=None):
        import torch  # the binding's only dependency, needed from here on
        self._torch = torch
        # one call at a time into the run: ctypes releases the GIL around C
        # calls, so two threads could otherwise step one run at once; close()
        # waits for a call in flight
        self._lock = threading.RLock()
        self._model = None
        self._lib = _load()
        self._plan = ctypes.c_void_p()
        self._run = ctypes.c_void_p()
        msg = ctypes.create_string_buffer(512)
        st = self._lib.ftsrt_plan_open(ctypes.byref(self._plan), os.fsencode(plan_path), msg, 512)
        if st != FTSRT_OK:
            raise FtsrtError("cannot open plan '%s': %s" % (plan_path, msg.value.decode(errors="replace")), st)
        self._params = []
        self._events = []
        self._dtype = torch.float32
        if model is not None:
            params = list(model.named_parameters())
            if not params:
                raise FtsrtError("the model has no parameters")
            dtypes = {p.dtype for _, p in params}
            if len(dtypes) != 1 or next(iter(dtypes)) not in (torch.float32, torch.float64):
                raise FtsrtError("ftsrt binds float32 or float64 models with one dtype, not %s"
                                 % sorted(str(d) for d in dtypes))
            self._dtype = next(iter(dtypes))
        opts = _RunOptions()
        self._lib.ftsrt_run_options_default(ctypes.byref(opts))
        opts.dtype = _F64 if self._dtype == torch.float64 else _F32
        opts.threads = int(threads)
        self._ckpt_dir = os.fsencode(ckpt_dir) if ckpt_dir else None
        opts.ckpt_dir = self._ckpt_dir
        err = ctypes.create_string_buffer(512)
        st = self._lib.ftsrt_run_new_ex(ctypes.byref(self._run), self._plan, ctypes.byref(opts), err, 512)
        if st != FTSRT_OK:
            self._lib.ftsrt_plan_close(self._plan)
            self._plan = None
            raise FtsrtError(err.value.decode(errors="replace") or _strerror(self._lib, st), st)
        if model is not None:
            self.bind(model)

    def bind(self, model):
        """Bind every parameter of model (named_parameters()) to the plan's
        manifest: names, shapes and dtypes must match."""
        with self._lock:
            self._open()
            self._bind(model, list(model.named_parameters()))
            self._model = weakref.ref(model)
            self.apply_requires_grad()

    def _open(self):
        if not getattr(self, "_run", None):
            raise FtsrtError("the runtime is closed")

    # --- binding -------------------------------------------------------------------
    def _check(self, st, what):
        if st != FTSRT_OK:
            m = self._lib.ftsrt_run_errmsg(self._run) if self._run else None
            text = m.decode(errors="replace") if m else _strerror(self._lib, st)
            raise FtsrtError("%s: %s" % (what, text), st)

    def _bind(self, model, params):
        """Move every parameter (and its gradient) into two flat arenas laid
        out as the runtime's (ftsrt_run_param_offset) and bind them: the
        kernels then update the model's tensors in place, zero copy."""
        torch = self._torch
        n = self._lib.ftsrt_run_nparams(self._run)
        index = {}
        for name, p in params:
            idx = self._lib.ftsrt_run_param_index(self._run, name.encode())
            if idx < 0:
                raise FtsrtError("the model's parameter '%s' is not in the plan's manifest" % name)
            if p.device.type != "cpu":
                raise FtsrtError("parameter '%s' must be a CPU tensor" % name)
            index[idx] = (name, p)
        total = self._lib.ftsrt_run_arena_numel(self._run)
        off, numel = ctypes.c_size_t(), ctypes.c_size_t()
        layout = []
        for i in range(n):
            if self._lib.ftsrt_run_param_offset(self._run, i, ctypes.byref(off),
                                                ctypes.byref(numel)) != FTSRT_OK:
                continue            # a tied alias: no storage of its own
            if i not in index:
                raise FtsrtError("the model lacks the plan's parameter %d (see the manifest)" % i)
            name, p = index[i]
            if p.numel() != numel.value:
                raise FtsrtError("parameter '%s' %s %s has %d elements, the plan's manifest %d"
                                 % (name, tuple(p.shape), _dtype_name(p), p.numel(), numel.value))
            layout.append((i, name, p, off.value, numel.value))
        if len(layout) != len(params):
            raise FtsrtError("the model has parameters the plan does not bind")
        self._arena = torch.empty(total, dtype=self._dtype)
        self._grads = torch.zeros(total, dtype=self._dtype)
        esize = self._arena.element_size()
        with torch.no_grad():
            for i, name, p, o, k in layout:
                self._arena[o:o + k].copy_(p.detach().reshape(-1))
                p.data = self._arena[o:o + k].view(p.shape)
                p.grad = self._grads[o:o + k].view(p.shape)
                # where the runtime steps them: a tensor moved elsewhere is detected
                self._params.append((i, name, p, self._arena.data_ptr() + o * esize,
                                     self._grads.data_ptr() + o * esize))
        shapes_ok = self._check_shapes(layout)
        if not shapes_ok:
            return
        st = self._lib.ftsrt_run_bind_arena(self._run, ctypes.c_void_p(self._arena.data_ptr()),
                                            ctypes.c_void_p(self._grads.data_ptr()), total,
                                            self._model_hash(model))
        self._check(st, "bind")

    def _model_hash(self, model):
        """The manifest hash of the model itself (ftsplan(5)): every parameter
        name, tied aliases included, with its shape and dtype, in
        registration order; the runtime compares it with the plan's."""
        from .manifest import _entries
        h = 0xcbf29ce484222325
        for name, p, _ in _entries(model):
            dims = (ctypes.c_int64 * max(1, p.dim()))(*p.shape)
            h = self._lib.ftsrt_manifest_hash_add(h, name.encode(), p.dim(), dims,
                                                  _dtype_name(p).encode())
        return h

    def _check_shapes(self, layout):
        """Shapes are checked by binding each tensor (the runtime compares them
        with the manifest) before the zero-copy arena binding replaces it."""
        for i, name, p, _, _ in layout:
            shape = (ctypes.c_longlong * max(1, p.dim()))(*p.shape)
            st = self._lib.ftsrt_run_bind(self._run, name.encode(), -1, ctypes.c_void_p(p.data_ptr()),
                                          ctypes.c_void_p(p.grad.data_ptr()), p.dim(), shape)
            if st != FTSRT_OK:
                m = self._lib.ftsrt_run_errmsg(self._run)
                raise FtsrtError("cannot bind '%s' %s %s: %s" % (
                    name, tuple(p.shape), _dtype_name(p), m.decode(errors="replace") if m else st), st)
        return True

    # --- the training loop -----------------------------------------------------------
    def apply_requires_grad(self):
        """Set requires_grad to the current phase's thaw set."""
        with self._lock:
            self._open()
            for idx, _, p, _, _ in self._params:
                p.requires_grad_(bool(self._lib.ftsrt_run_thawed(self._run, idx)))

    def zero_grad(self):
        """Zero the gradient arena in place (it is bound to the runtime)."""
        if getattr(self, "_grads", None) is not None:
            self._grads.zero_()

    def _check_bound(self):
        """The runtime steps the tensors bound to it: a parameter replaced in
        the model (module.weight = nn.Parameter(...)), its .data replaced, or
        a gradient replaced or dropped would silently never be trained."""
        model = self._model() if self._model else None
        current = dict(model.named_parameters()) if model is not None else None
        for _, name, p, pptr, gptr in self._params:
            if current is not None and current.get(name) is not p:
                raise FtsrtError("parameter '%s' was replaced in the model after binding: the runtime "
                                 "trains the bound one; bind the model again" % name)
            if p.data_ptr() != pptr:
                raise FtsrtError("parameter '%s' no longer uses its bound storage (.data replaced?): "
                                 "bind the model again" % name)
            if p.grad is None or p.grad.data_ptr() != gptr:
                raise FtsrtError("parameter '%s' lost its bound gradient buffer (zero_grad(set_to_none), "
                                 "or .grad replaced?): use Runtime.zero_grad()" % name)

    def step(self):
        """One optimizer step with the runtime's kernels, after loss.backward()."""
        with self._lock:
            self._open()
            self._check_bound()
            self._check(self._lib.ftsrt_run_step(self._run), "step")

    def epoch_end(self, val_metric):
        """End the epoch with its validation metric; returns the events
        (dicts with kind, epoch, phase, reason, text) and re-applies
        requires_grad for the phase that starts."""
        with self._lock:
            self._open()
            self._check(self._lib.ftsrt_run_epoch_end(self._run, float(val_metric)), "epoch_end")
            events = []
            ev = _Event()
            while self._lib.ftsrt_run_next_event(self._run, ctypes.byref(ev)):
                events.append({"kind": _EVENTS.get(ev.kind, ev.kind), "epoch": ev.epoch,
                               "phase": ev.phase, "reason": _STOPS.get(ev.reason),
                               "text": ev.text.decode(errors="replace") if ev.text else ""})
            self.apply_requires_grad()
            return events

    @property
    def finished(self):
        """Why training finished ('max_epochs', 'patience', ...), or None."""
        with self._lock:
            self._open()
            return _STOPS.get(self._lib.ftsrt_run_finished(self._run))

    @property
    def epoch(self):
        with self._lock:
            self._open()
            return self._lib.ftsrt_run_epoch(self._run)

    @property
    def phase(self):
        with self._lock:
            self._open()
            return self._lib.ftsrt_run_phase(self._run)

    def groups(self):
        """The optimizer's parameter groups now: dicts with lr, initial_lr,
        weight_decay, phase, no_decay and params (manifest indices)."""
        with self._lock:
            self._open()
            return self._groups()

    def _groups(self):
        out = []
        g = _Group()
        for i in range(self._lib.ftsrt_run_ngroups(self._run)):
            self._check(self._lib.ftsrt_run_group(self._run, i, ctypes.byref(g)), "group")
            out.append({"lr": g.lr, "initial_lr": None if math.isnan(g.initial_lr) else g.initial_lr,
                        "weight_decay": g.weight_decay, "phase": g.phase,
                        "no_decay": bool(g.no_decay),
                        "params": [g.params[k] for k in range(g.nparams)]})
        return out

    def lrs(self):
        """Each group's lr now."""
        return [g["lr"] for g in self.groups()]

    def save(self, path):
        """Write the run's whole state (checkpoint) atomically."""
        with self._lock:
            self._open()
            self._check(self._lib.ftsrt_run_save(self._run, os.fsencode(path)), "save")

    def resume(self, path):
        """Resume from a checkpoint written by a run of the same plan; a
        refused resume leaves the run as it was."""
        with self._lock:
            self._open()
            self._check(self._lib.ftsrt_run_resume(self._run, os.fsencode(path)), "resume")
            self.apply_requires_grad()

    def close(self):
        """Release the run and the plan (also done when the object goes away);
        waits for a call in flight in another thread.  Later calls raise."""
        lock = getattr(self, "_lock", None)
        if lock is None:
            return
        with lock:
            if getattr(self, "_run", None):
                self._lib.ftsrt_run_free(self._run)
                self._run = None
            if getattr(self, "_plan", None):
                self._lib.ftsrt_plan_close(self._plan)
                self._plan = None

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
