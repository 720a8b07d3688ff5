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
used -- unless backend="torch" (any device, CUDA included): then a
torch.optim optimizer (rt.optimizer) steps the parameters where they are
and the runtime decides the rest (ftsrt._torch_backend).  Every C call goes
through ctypes, which releases the GIL.
"""

import ctypes
import ctypes.util
import math
import operator
import os
import json
import threading
import weakref
import shutil
import subprocess
import zlib

__all__ = ["Runtime", "FtsrtError", "library_path", "library_version", "__version__"]

# The binding follows libftsrt 1.3 (ftsrt.h's FTSRT_VERSION_MAJOR and _MINOR)
# and carries its version.  From 1.0 on the ABI is the major version: a
# library of another major is refused when it is loaded; a newer minor of
# the same major only adds to the interface (functions, and fields at the
# end of structs, which struct_size makes compatible), so it is accepted;
# an older minor may lack what this binding calls, so it is refused.
__version__ = "1.3.0"
_ABI = (1, 3)

FTSRT_OK = 0
_F32, _F64, _BF16, _F16 = 0, 1, 2, 3            # enum ftsrt_dtype
_PRECISION_PARAM, _PRECISION_MASTER = 0, 1      # enum ftsrt_precision
# When the step checks the bound tensors (a parameter replaced in the model,
# its .data or its .grad replaced): all of them, with the model's
# named_parameters(), after binding, when a watched tensor went away and once
# in _FULL_CHECK_EVERY steps; the parameters' storage and their modules'
# entries (the quick check, C-level loops) once in _QUICK_CHECK_EVERY steps.
_FULL_CHECK_EVERY = 1024
_QUICK_CHECK_EVERY = 32
_EVENTS = {1: "transition", 2: "checkpoint_saved", 3: "best_restored", 4: "finished", 5: "warning"}
_STOPS = {0: None, 1: "max_epochs", 2: "patience", 3: "nonfinite", 4: "threshold", 5: "divergence"}
_CKPTS = {0: "best", 1: "last"}                 # a checkpoint_saved event's reason


class FtsrtError(RuntimeError):
    """A call into libftsrt failed; the message is the runtime's, status its
    enum ftsrt_status (negative), or None for a failure of the binding's own."""

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


def _parse_version(text):
    """(major, minor) of a version string "M.m.p", or None."""
    try:
        major, minor = (int(x) for x in text.split(".")[:2])
    except ValueError:
        return None
    return major, minor


def _compatible(version):
    """Whether a library of version (major, minor) has the ABI this binding
    was written for: the same major, the same or a newer minor."""
    return version is not None and version[0] == _ABI[0] and version[1] >= _ABI[1]


def _check_version(lib, path):
    text = lib.ftsrt_version()
    text = text.decode(errors="replace") if text else "?"
    if not _compatible(_parse_version(text)):
        raise FtsrtError("%s is libftsrt %s; this ftsrt package (%s) needs libftsrt %d.%d or a newer "
                         "%d.x: install the ftsrt package of that ftsc, or point FTSRT_LIBRARY at a "
                         "matching library" % (path, text, __version__, _ABI[0], _ABI[1], _ABI[0]))


def library_version():
    """The version string of the libftsrt this package has loaded."""
    return _load().ftsrt_version().decode()


def _strerror(lib, status):
    text = lib.ftsrt_strerror(status)
    return text.decode(errors="replace") if text else "error %d" % status


# --- mirrors of ftsrt.h's types (field order and C types exactly as there) ---------------
class _Error(ctypes.Structure):
    """ftsrt_error: the status and message of a failed call."""
    _fields_ = [("status", ctypes.c_int), ("message", ctypes.c_char * 1024)]

    def text(self, lib, status):
        """The runtime's message, or the status's description when it left none."""
        m = self.message.decode(errors="replace")
        return m or _strerror(lib, status)


# ftsrt_alloc_fn: void *(*)(void *ud, void *ptr, size_t osize, size_t nsize)
_ALLOC_FN = ctypes.CFUNCTYPE(ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t,
                             ctypes.c_size_t)


class _Struct(ctypes.Structure):
    """A struct of the interface: it begins with size_t struct_size, which the
    caller sets to the size of its struct (the FTSRT_INIT of ftsrt.h)."""

    def __init__(self, *args, **kw):
        super().__init__(*args, **kw)
        self.struct_size = ctypes.sizeof(self)


class _PlanOptions(_Struct):
    """struct ftsrt_plan_options"""
    _fields_ = [("struct_size", ctypes.c_size_t), ("alloc", _ALLOC_FN), ("alloc_ud", ctypes.c_void_p)]


class _PlanParam(_Struct):
    """struct ftsrt_plan_param"""
    _fields_ = [("struct_size", ctypes.c_size_t), ("name", ctypes.c_char_p), ("ndim", ctypes.c_int32),
                ("dims", ctypes.POINTER(ctypes.c_int64)), ("dtype", ctypes.c_char_p),
                ("tied_to", ctypes.c_int32)]


class _RunOptions(_Struct):
    """struct ftsrt_run_options"""
    _fields_ = [("struct_size", ctypes.c_size_t), ("dtype", ctypes.c_int32),
                ("threads", ctypes.c_int32), ("kernels", ctypes.c_int32), ("save_last", ctypes.c_bool),
                ("ckpt_dir", ctypes.c_char_p), ("scale", ctypes.c_double), ("alloc", _ALLOC_FN),
                ("alloc_ud", ctypes.c_void_p), ("precision", ctypes.c_int32),
                ("reserved_1_1", ctypes.c_int32), ("external", ctypes.c_bool),
                ("reserved_1_2", ctypes.c_uint8 * 7), ("shard_rank", ctypes.c_int32),
                ("shard_world", ctypes.c_int32)]


class _Event(_Struct):
    """struct ftsrt_run_event"""
    _fields_ = [("struct_size", ctypes.c_size_t), ("kind", ctypes.c_int32), ("phase", ctypes.c_int32),
                ("epoch", ctypes.c_int64), ("reason", ctypes.c_int32), ("text", ctypes.c_char_p)]


class _Group(_Struct):
    """struct ftsrt_run_group"""
    _fields_ = [("struct_size", ctypes.c_size_t), ("lr", ctypes.c_double),
                ("initial_lr", ctypes.c_double), ("weight_decay", ctypes.c_double),
                ("phase", ctypes.c_int32), ("no_decay", ctypes.c_bool), ("nparams", ctypes.c_int32),
                ("params", ctypes.POINTER(ctypes.c_int32))]


class _OptimHparams(_Struct):
    """struct ftsrt_optim_hparams"""
    _fields_ = ([("struct_size", ctypes.c_size_t)]
                + [(n, ctypes.c_double) for n in (
                    "lr", "weight_decay", "momentum", "dampening", "beta1", "beta2", "eps", "eps1",
                    "lr_decay", "initial_accumulator_value", "rho", "momentum_decay", "alpha", "lambd",
                    "t0", "etaminus", "etaplus", "step_size_min", "step_size_max", "beta2_decay", "d",
                    "ns_a", "ns_b", "ns_c")]
                + [("ns_steps", ctypes.c_int32), ("adjust_lr_fn", ctypes.c_int32)]
                + [(n, ctypes.c_bool) for n in (
                    "nesterov", "maximize", "amsgrad", "decoupled_weight_decay", "centered",
                    "muon_bf16", "muon_use_addmm")])


class _RunOptimizer(_Struct):
    """struct ftsrt_run_optimizer"""
    _fields_ = [("struct_size", ctypes.c_size_t), ("kind", ctypes.c_int32), ("phase", ctypes.c_int32),
                ("generation", ctypes.c_uint64), ("class_path", ctypes.c_char_p)]


# ftsrt.h enum ftsrt_struct: the structs this binding mirrors
_MIRRORS = ((0, _Error), (1, _PlanOptions), (2, _PlanParam), (4, _OptimHparams), (6, _RunOptions),
            (7, _Event), (8, _Group), (9, _RunOptimizer))

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
    P, B, S = ctypes.c_void_p, ctypes.c_bool, ctypes.c_size_t
    I32, I64, U64 = ctypes.c_int32, ctypes.c_int64, ctypes.c_uint64
    ST, E = ctypes.c_int, ctypes.POINTER(_Error)       # a status, and its ftsrt_error
    for name in ("ftsrt_version", "ftsrt_strerror"):
        if not hasattr(lib, name):
            raise FtsrtError("%s is not libftsrt (no %s)" % (path, name))
    lib.ftsrt_version.restype = ctypes.c_char_p
    lib.ftsrt_version.argtypes = []
    _check_version(lib, path)
    sig = {
        "ftsrt_version": (ctypes.c_char_p, []),
        "ftsrt_strerror": (ctypes.c_char_p, [ctypes.c_int]),
        "ftsrt_plan_open": (ST, [ctypes.POINTER(P), ctypes.c_char_p, ctypes.POINTER(_PlanOptions), E]),
        "ftsrt_plan_close": (None, [P]),
        "ftsrt_plan_nparams": (I32, [P]),
        "ftsrt_plan_param": (ST, [P, I32, ctypes.POINTER(_PlanParam), E]),
        "ftsrt_plan_manifest_hash": (U64, [P]),
        "ftsrt_manifest_hash_add": (U64, [U64, ctypes.c_char_p, I32, ctypes.POINTER(I64),
                                          ctypes.c_char_p]),
        "ftsrt_run_options_default": (ST, [ctypes.POINTER(_RunOptions), E]),
        "ftsrt_run_new": (ST, [ctypes.POINTER(P), P, ctypes.POINTER(_RunOptions), E]),
        "ftsrt_run_free": (None, [P]),
        "ftsrt_run_nparams": (I32, [P]),
        "ftsrt_run_param_index": (ST, [P, ctypes.c_char_p, ctypes.POINTER(I32), E]),
        "ftsrt_run_param_offset": (ST, [P, I32, ctypes.POINTER(S), ctypes.POINTER(S), E]),
        "ftsrt_run_arena_numel": (S, [P]),
        "ftsrt_run_shard_range": (ST, [P, ctypes.POINTER(S), ctypes.POINTER(S), E]),
        "ftsrt_run_state_bytes": (S, [P]),
        "ftsrt_run_bind_arena": (ST, [P, P, P, S, U64, E]),
        "ftsrt_run_bind": (ST, [P, ctypes.c_char_p, I32, P, P, I32, ctypes.POINTER(I64), E]),
        "ftsrt_run_thawed": (B, [P, I32]),
        "ftsrt_run_step": (ST, [P, E]),
        "ftsrt_run_epoch_end": (ST, [P, ctypes.c_double, E]),
        "ftsrt_run_finished": (I32, [P]),
        "ftsrt_run_next_event": (B, [P, ctypes.POINTER(_Event), E]),
        "ftsrt_struct_size": (S, [I32]),
        "ftsrt_run_epoch": (I64, [P]),
        "ftsrt_run_phase": (I32, [P]),
        "ftsrt_run_global_step": (I64, [P]),
        "ftsrt_run_ngroups": (I32, [P]),
        "ftsrt_run_group": (ST, [P, I32, ctypes.POINTER(_Group), E]),
        "ftsrt_run_group_hparams": (ST, [P, I32, ctypes.POINTER(_OptimHparams), E]),
        "ftsrt_run_optimizer": (ST, [P, ctypes.POINTER(_RunOptimizer), E]),
        "ftsrt_optim_kind_name": (ctypes.c_char_p, [I32]),
        "ftsrt_run_save": (ST, [P, ctypes.c_char_p, E]),
        "ftsrt_run_resume": (ST, [P, ctypes.c_char_p, E]),
    }
    for name, (res, args) in sig.items():
        fn = getattr(lib, name, None)
        if fn is None:
            raise FtsrtError("%s (libftsrt %s) lacks %s, which libftsrt %d.%d and every newer %d.x "
                             "have" % (path, lib.ftsrt_version().decode(errors="replace"), name,
                                       _ABI[0], _ABI[1], _ABI[0]))
        fn.restype = res
        fn.argtypes = args
    # the mirrors below must be the library's structs, byte for byte in size
    # (ftsrt.h enum ftsrt_struct); a mismatch would corrupt memory silently
    for which, cls in _MIRRORS:
        want = lib.ftsrt_struct_size(which)
        if want != ctypes.sizeof(cls):
            raise FtsrtError("the binding's %s is %d bytes, libftsrt %s's is %d: this binding "
                             "does not match the library" % (cls.__name__, ctypes.sizeof(cls),
                                                             lib.ftsrt_version().decode(), want))
    _lib = lib
    return lib


def _deref(ref):
    return ref()


def _file_crc(path):
    """CRC-32 (zlib) of a file's bytes."""
    crc = 0
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            crc = zlib.crc32(chunk, crc)
    return crc


def _read_shard_manifest(path):
    """The JSON manifest of a sharded checkpoint at path, or None when path
    is not one (a libftsrt checkpoint starts with its binary magic)."""
    try:
        with open(path, "rb") as f:
            head = f.read(1)
            if head != b"{":
                return None
            doc = json.loads(head + f.read())
    except (OSError, ValueError):
        return None
    return doc if isinstance(doc, dict) and doc.get("ftsrt_sharded_checkpoint") else None


def _dtype_name(t):
    return str(t.dtype).replace("torch.", "")


class _Watch:
    """What the step checks, and when.  Weak-reference callbacks on the bound
    parameters and gradients set dirty when one goes away (a parameter
    replaced in the model, a .grad replaced or set to None); the step then
    checks every bound tensor, as it does on the first step after binding.
    A .data replaced, or a parameter some other code still holds, has no
    callback: the quick check (every _QUICK_CHECK_EVERY steps) finds those,
    and the full one (every _FULL_CHECK_EVERY) a gradient replaced that other
    code still holds.  It holds nothing strongly."""

    def __init__(self):
        self.dirty = True
        self.steps = 0
        self.refs = []
        self.quick = None           # (param refs, module dicts, keys, param ptrs)

    def gone(self, _ref):
        self.dirty = True


class Runtime:
    """One training job driven by a plan (see the module docstring).

    plan_path: a plan written by `ftsc build`.  model: a torch.nn.Module
    whose named_parameters() match the plan's manifest.  threads: threads of
    the optimizer step.  ckpt_dir: where restore_best checkpoints go (None:
    kept in memory).  master_weights: for a bfloat16 or float16 model, keep
    float32 master weights and optimizer state in the runtime, the model's
    parameters their rounded copy (mixed precision); False (default): the
    state is in the model's dtype, as torch.optim keeps it.

    backend: "native" (default): libftsrt's kernels step the parameters,
    moved into its arenas (CPU tensors only); "torch": a torch.optim
    optimizer (Runtime.optimizer) steps them where they are, any device,
    and libftsrt decides everything else (see ftsrt._torch_backend);
    "auto": "torch" when a parameter is not on the CPU, else "native".
    fused (torch backend): None asks torch.optim for fused=True where it
    has a fused kernel for the optimizer and device, True requires it,
    False never asks.

    process_group (native backend): a torch.distributed process group
    (gloo, CPU) of a data-parallel job whose ranks shard the optimizer
    state (ZeRO-1, libftsrt's sharded runs): each rank keeps and steps the
    state of its slice of the parameter arena (shard_range); step()
    averages the grouped parameters' gradients over the ranks (all_reduce),
    steps the slice, then broadcasts each slice's grouped parameters from
    its rank; epoch_end() averages
    the metric over the ranks first, so every rank decides the same.  Every
    rank must make the same calls.  A collective that fails (a rank died)
    or outlasts the group's timeout (init_process_group(timeout=...))
    raises RuntimeError on the others; the runtime is then out of step with
    its peers: end the job.  With ckpt_dir, rank R keeps its best and last
    checkpoints in ckpt_dir/shard-R-of-W.
    """

    def __init__(self, plan_path, model, threads=1, ckpt_dir=None, master_weights=False,
                 backend="native", fused=None, process_group=None):
        import torch  # the binding's only dependency, needed from here on
        self._torch = torch
        self._pg = None
        self._rank, self._world = 0, 1
        if process_group is not None:
            import torch.distributed as dist
            if backend != "native":
                raise FtsrtError("process_group shards libftsrt's optimizer state: it needs "
                                 "backend=\"native\" (with backend=\"torch\", shard torch's optimizer "
                                 "with torch's own tools)")
            self._dist = dist
            self._pg = process_group
            self._rank = dist.get_rank(process_group)
            self._world = dist.get_world_size(process_group)
        # one call at a time into the run: ctypes releases the GIL around C
        # calls, so two threads could otherwise step one run at once; close()
        # waits for a call in flight
        self._lock = threading.RLock()
        self._model = None
        self._tb = None
        if backend not in ("native", "torch", "auto"):
            raise FtsrtError("backend %r: 'native', 'torch' or 'auto'" % (backend,))
        if model is not None and backend != "torch":
            off = [(n, p.device) for n, p in model.named_parameters() if p.device.type != "cpu"]
            if off and backend == "native":
                raise FtsrtError("parameter '%s' is on %s: the native backend steps CPU tensors with "
                                 "libftsrt's kernels; use ftsrt.Runtime(plan, model, backend=\"torch\") "
                                 "to step it with torch.optim where it is" % off[0])
            backend = "torch" if off else "native"
        elif backend == "auto":
            backend = "native"
        if backend == "torch" and master_weights:
            raise FtsrtError("master_weights is the native backend's: with backend=\"torch\" keep "
                             "float32 parameters and use torch.autocast for mixed precision")
        self.backend = backend
        self._lib = _load()
        self._plan = ctypes.c_void_p()
        self._run = ctypes.c_void_p()
        err = _Error()
        st = self._lib.ftsrt_plan_open(ctypes.byref(self._plan), os.fsencode(plan_path), None,
                                       ctypes.byref(err))
        if st != FTSRT_OK:
            self._plan = None
            raise FtsrtError("cannot open plan '%s': %s" % (plan_path, err.text(self._lib, st)), st)
        self._params = []
        self._watch = _Watch()
        self._events = []
        self._dtype = torch.float32
        self._master = bool(master_weights)
        dtypes_ok = {torch.float32: _F32, torch.float64: _F64, torch.bfloat16: _BF16,
                     torch.float16: _F16}
        if model is not None:
            params = list(model.named_parameters())
            if not params:
                self.close()
                raise FtsrtError("the model has no parameters")
            dtypes = {p.dtype for _, p in params}
            if backend == "torch":      # torch.optim steps any mix; the run records the first
                dtypes = {params[0][1].dtype} if params[0][1].dtype in dtypes_ok else {torch.float32}
            if len(dtypes) != 1 or next(iter(dtypes)) not in dtypes_ok:
                self.close()
                raise FtsrtError("ftsrt binds float32, float64, bfloat16 or float16 models with one "
                                 "dtype, not %s" % sorted(str(d) for d in dtypes))
            self._dtype = next(iter(dtypes))
        self._dtype_code = dtypes_ok[self._dtype]
        self._ckpt_dir = os.fsencode(ckpt_dir) if ckpt_dir else None
        try:
            opts = self._options(threads)
        except FtsrtError:
            self.close()
            raise
        st = self._lib.ftsrt_run_new(ctypes.byref(self._run), self._plan, ctypes.byref(opts),
                                     ctypes.byref(err))
        if st != FTSRT_OK:
            self._run = None
            self.close()
            raise FtsrtError(err.text(self._lib, st), st)
        if backend == "torch":
            from ._torch_backend import TorchBackend
            self._tb = TorchBackend(self, fused)
        if model is not None:
            try:
                self.bind(model)
            except BaseException:
                self.close()
                raise
        self._ranges = None
        self._active_runs = None
        if self._pg is not None:
            self._ranges = self._gather_ranges()

    # --- sharding (process_group) ---------------------------------------------------
    @property
    def shard_range(self):
        """(begin, end): the elements of the arena whose optimizer state this
        rank keeps and steps (the whole arena without a process group)."""
        with self._lock:
            self._open()
            b, e = ctypes.c_size_t(), ctypes.c_size_t()
            self._call("shard_range", self._lib.ftsrt_run_shard_range, self._run, ctypes.byref(b),
                       ctypes.byref(e))
            return b.value, e.value

    @property
    def state_bytes(self):
        """Bytes of optimizer state this runtime holds (its slice's with a
        process group); 0 before the first step and with backend="torch"."""
        with self._lock:
            self._open()
            return self._lib.ftsrt_run_state_bytes(self._run)

    def _src(self, r):
        """The global rank of group rank r (torch.distributed's src)."""
        dist = self._dist
        for name in ("get_global_rank", "_get_global_rank"):
            fn = getattr(dist, name, None) or getattr(dist.distributed_c10d, name, None)
            if fn is not None:
                try:
                    return fn(self._pg, r)
                except (RuntimeError, ValueError):
                    return r        # the default group: its ranks are the global ones
        return r

    def _gather_ranges(self):
        """Every rank's slice, and a check that the ranks run the same plan
        over the same arena (the partition is computed, not exchanged)."""
        torch, dist = self._torch, self._dist
        b, e = self.shard_range
        total = self._lib.ftsrt_run_arena_numel(self._run)
        mine = torch.tensor([b, e, total, self._lib.ftsrt_plan_manifest_hash(self._plan) & 0x7fffffffffffffff],
                            dtype=torch.int64)
        got = [torch.zeros(4, dtype=torch.int64) for _ in range(self._world)]
        dist.all_gather(got, mine, group=self._pg)
        ranges = []
        for r, t in enumerate(got):
            rb, re_, rt, rh = (int(x) for x in t)
            if (rt, rh) != (total, int(mine[3])):
                raise FtsrtError("rank %d runs another plan or model (arena of %d elements, manifest "
                                 "hash %x; this rank's %d, %x)" % (r, rt, rh, total, int(mine[3])))
            ranges.append((rb, re_))
        prev = 0
        for r, (rb, re_) in enumerate(ranges):
            if rb != prev:
                raise FtsrtError("the ranks' slices do not tile the arena (rank %d starts at %d)" % (r, rb))
            prev = re_
        return ranges

    def _active(self):
        """The element ranges of the grouped parameters, merged: the only
        gradients the step reads and the only parameters it changes (every
        rank has the same groups); recomputed after a transition or resume."""
        if self._active_runs is None:
            spans = []
            off, numel = ctypes.c_size_t(), ctypes.c_size_t()
            for g in self._groups():
                for i in g["params"]:
                    self._call("parameter %d" % i, self._lib.ftsrt_run_param_offset, self._run, i,
                               ctypes.byref(off), ctypes.byref(numel))
                    if numel.value:
                        spans.append((off.value, off.value + numel.value))
            runs = []
            for b, e in sorted(spans):
                if runs and b <= runs[-1][1]:
                    runs[-1][1] = max(runs[-1][1], e)
                else:
                    runs.append([b, e])
            self._active_runs = [tuple(x) for x in runs]
        return self._active_runs

    def _sync_grads(self):
        """Average the grouped parameters' gradients over the ranks (all_reduce:
        every rank gets the whole average; it reads its slice)."""
        dist = self._dist
        for b, e in self._active():
            dist.all_reduce(self._grads[b:e], op=dist.ReduceOp.SUM, group=self._pg)
            self._grads[b:e].div_(self._world)

    def _gather_params(self):
        """Each slice's grouped parameters from the rank that stepped them."""
        runs = self._active()
        for r, (sb, se) in enumerate(self._ranges):
            for b, e in runs:
                lo, hi = max(b, sb), min(e, se)
                if lo < hi:
                    self._dist.broadcast(self._arena[lo:hi], src=self._src(r), group=self._pg)

    def _options(self, threads):
        """The run's options: the library's defaults with the dtype, threads and
        checkpoint directory of this job (self._ckpt_dir is kept alive by self)."""
        opts = _RunOptions()
        err = _Error()
        st = self._lib.ftsrt_run_options_default(ctypes.byref(opts), ctypes.byref(err))
        if st != FTSRT_OK:
            raise FtsrtError("run options: %s" % err.text(self._lib, st), st)
        opts.dtype = self._dtype_code
        opts.precision = _PRECISION_MASTER if self._master else _PRECISION_PARAM
        opts.threads = int(threads)
        opts.ckpt_dir = self._ckpt_dir
        opts.external = self.backend == "torch"
        if self._world > 1:
            opts.shard_rank = self._rank
            opts.shard_world = self._world
        return opts

    def bind(self, model):
        """Bind every parameter of model (named_parameters()) to the plan's
        manifest: names, shapes and dtypes must match."""
        with self._lock:
            self._open()
            if self._tb is not None:
                self._tb.bind(model, list(model.named_parameters()))
                self._model = weakref.ref(model)
                self.apply_requires_grad()
                return
            self._bind(model, list(model.named_parameters()))
            self._model = weakref.ref(model)
            self.apply_requires_grad()

    def _open(self):
        if not getattr(self, "_run", None):
            raise FtsrtError("the runtime is closed")

    # --- binding -------------------------------------------------------------------
    def _call(self, what, fn, *args):
        """fn(*args, err): raise FtsrtError("what: the runtime's message") when
        it fails (what None: the message alone)."""
        err = _Error()
        st = fn(*args, ctypes.byref(err))
        if st != FTSRT_OK:
            text = err.text(self._lib, st)
            raise FtsrtError("%s: %s" % (what, text) if what else text, st)

    def _plan_param(self, i):
        """Manifest entry i of the plan (name, shape, dtype, tied_to)."""
        pp = _PlanParam()
        self._call("manifest entry %d" % i, self._lib.ftsrt_plan_param, self._plan, i, ctypes.byref(pp))
        return pp

    def _tied(self, i):
        """Whether manifest entry i is a tied alias (no storage of its own)."""
        return self._plan_param(i).tied_to >= 0

    def _model_param(self, pp, i, index):
        """The model's (name, tensor) for manifest entry i (pp, untied), from
        index {entry: (name, tensor)}: FtsrtError when the model lacks it or
        its dtype is not the plan's."""
        if i not in index:
            pname = pp.name.decode(errors="replace") if pp.name else "#%d" % i
            raise FtsrtError("the model lacks the plan's parameter '%s' (manifest entry %d)" % (pname, i))
        name, p = index[i]
        pdtype = pp.dtype.decode(errors="replace") if pp.dtype else None
        if pdtype and pdtype != _dtype_name(p):
            raise FtsrtError("parameter '%s' is %s, the plan's manifest says %s: build the plan from "
                             "this model's manifest (python3 -m ftsrt.manifest)"
                             % (name, _dtype_name(p), pdtype))
        return name, p

    def _bind(self, model, params):
        """Move every parameter (and its gradient) into two flat arenas laid
        out as the runtime's (ftsrt_run_param_offset) and bind them: the
        kernels then update the model's tensors in place, zero copy."""
        torch = self._torch
        n = self._lib.ftsrt_run_nparams(self._run)
        index = {}
        idx = ctypes.c_int32()
        for name, p in params:
            err = _Error()
            st = self._lib.ftsrt_run_param_index(self._run, name.encode(), ctypes.byref(idx),
                                                 ctypes.byref(err))
            if st != FTSRT_OK:
                raise FtsrtError("the model's parameter '%s' is not in the plan's manifest" % name, st)
            if p.device.type != "cpu":
                raise FtsrtError("parameter '%s' is on %s: the native backend steps CPU tensors with "
                                 "libftsrt's kernels; use ftsrt.Runtime(plan, model, backend=\"torch\") "
                                 "to step it with torch.optim where it is" % (name, p.device))
            index[idx.value] = (name, p)
        total = self._lib.ftsrt_run_arena_numel(self._run)
        off, numel = ctypes.c_size_t(), ctypes.c_size_t()
        layout = []
        for i in range(n):
            pp = self._plan_param(i)
            if pp.tied_to >= 0:
                continue            # a tied alias: no storage of its own
            self._call("parameter %d" % i, self._lib.ftsrt_run_param_offset, self._run, i,
                       ctypes.byref(off), ctypes.byref(numel))
            name, p = self._model_param(pp, i, index)
            if p.numel() != numel.value:
                raise FtsrtError("parameter '%s' %s %s has %d elements, the plan's manifest %d"
                                 % (name, tuple(p.shape), _dtype_name(p), p.numel(), numel.value))
            layout.append((i, name, p, off.value, numel.value))
        if len(layout) != len(params):
            raise FtsrtError("the model has parameters the plan does not bind")
        self._arena = torch.empty(total, dtype=self._dtype)
        self._grads = torch.zeros(total, dtype=self._dtype)
        esize = self._arena.element_size()
        self._params = []
        with torch.no_grad():
            for i, name, p, o, k in layout:
                self._arena[o:o + k].copy_(p.detach().reshape(-1))
                p.data = self._arena[o:o + k].view(p.shape)
                p.grad = self._grads[o:o + k].view(p.shape)
                # where the runtime steps them: a tensor moved elsewhere is detected
                # (the parameter is held weakly: replaced in the model, it goes away)
                self._params.append((i, name, weakref.ref(p, self._watch.gone),
                                     self._arena.data_ptr() + o * esize,
                                     self._grads.data_ptr() + o * esize))
        # the quick check's columns: each parameter's entry in its module
        dicts, keys = [], []
        for _, name, _, _, _ in self._params:
            prefix, _, key = name.rpartition(".")
            dicts.append(model.get_submodule(prefix)._parameters if prefix else model._parameters)
            keys.append(key)
        self._watch.quick = ([e[2] for e in self._params], dicts, keys, [e[3] for e in self._params])
        self._watch.dirty = True
        self._check_shapes(layout)
        self._call("bind", self._lib.ftsrt_run_bind_arena, self._run,
                   ctypes.c_void_p(self._arena.data_ptr()), ctypes.c_void_p(self._grads.data_ptr()),
                   total, self._model_hash(model))

    def _model_hash(self, model):
        """The manifest hash of the model itself (ftsplan(5)): every parameter
        name, tied aliases included, with its shape and dtype, in
        registration order; the runtime compares it with the plan's."""
        from .manifest import _entries
        h = 0xcbf29ce484222325      # FTSRT_MANIFEST_HASH_INIT
        for name, p, _ in _entries(model):
            dims = (ctypes.c_int64 * max(1, p.dim()))(*p.shape)
            h = self._lib.ftsrt_manifest_hash_add(h, name.encode(), p.dim(), dims,
                                                  _dtype_name(p).encode())
        return h

    def _check_shapes(self, layout):
        """Shapes are checked by binding each tensor (the runtime compares them
        with the manifest) before the zero-copy arena binding replaces it."""
        for i, name, p, _, _ in layout:
            shape = (ctypes.c_int64 * max(1, p.dim()))(*p.shape)
            self._call("cannot bind '%s' %s %s" % (name, tuple(p.shape), _dtype_name(p)),
                       self._lib.ftsrt_run_bind, self._run, name.encode(), -1,
                       ctypes.c_void_p(p.data_ptr()), ctypes.c_void_p(p.grad.data_ptr()), p.dim(), shape)

    # --- the training loop -----------------------------------------------------------
    def apply_requires_grad(self):
        """Set requires_grad to the current phase's thaw set."""
        with self._lock:
            self._open()
            if self._tb is not None:
                self._tb.apply_requires_grad()
                return
            for idx, _, pref, _, _ in self._params:
                p = pref()
                if p is not None:
                    p.requires_grad_(self._lib.ftsrt_run_thawed(self._run, idx))

    def zero_grad(self):
        """Zero the gradient arena in place (it is bound to the runtime); with
        backend="torch", every parameter's .grad in place."""
        if self._tb is not None:
            self._tb.zero_grad()
        elif getattr(self, "_grads", None) is not None:
            self._grads.zero_()

    def _check_bound(self):
        """The runtime steps the tensors bound to it: a parameter replaced in
        the model (module.weight = nn.Parameter(...)), its .data replaced, or
        a gradient replaced or dropped would silently never be trained."""
        model = self._model() if self._model else None
        current = dict(model.named_parameters()) if model is not None else None
        refs = []
        for _, name, pref, pptr, gptr in self._params:
            p = pref()
            if p is None or (current is not None and current.get(name) is not p):
                raise FtsrtError("parameter '%s' was replaced in the model after binding: the runtime "
                                 "trains the bound one; bind the model again" % name)
            if p.data_ptr() != pptr:
                raise FtsrtError("parameter '%s' no longer uses its bound storage (.data replaced?): "
                                 "bind the model again" % name)
            if p.grad is None or p.grad.data_ptr() != gptr:
                raise FtsrtError("parameter '%s' lost its bound gradient buffer (zero_grad(set_to_none), "
                                 "or .grad replaced?): use Runtime.zero_grad()" % name)
            refs.append(weakref.ref(p.grad, self._watch.gone))
        self._watch.refs = refs     # watch the gradients as they are now

    def _quick_check(self):
        """Whether every bound parameter is still its module's entry and on
        its bound storage: loops in C (map), about 0.14 us a tensor against
        the full check's 1.3 (torch 1.13, 2 vCPUs).  Gradients have their
        weak references."""
        refs, dicts, keys, pptrs = self._watch.quick
        try:
            ps = list(map(operator.call if hasattr(operator, "call") else _deref, refs))
            return (all(map(operator.is_, map(dict.get, dicts, keys), ps))
                    and list(map(self._torch.Tensor.data_ptr, ps)) == pptrs)
        except TypeError:           # a parameter gone
            return False

    def step(self):
        """One optimizer step with the runtime's kernels, after loss.backward().
        The bound tensors are checked (_check_bound) on the first step after
        binding, when one of them went away (see _Watch), when the quick check
        (every _QUICK_CHECK_EVERY steps) fails and every _FULL_CHECK_EVERY
        steps; the other steps cost one C call."""
        with self._lock:
            self._open()
            if self._tb is not None:
                # the lrs the run gives this step, then the run's bookkeeping
                # (it refuses a finished run before torch steps), then torch
                if self._tb.opt is None:
                    raise FtsrtError("step: no model is bound", -1)
                self._tb.set_lrs()
                self._call("step", self._lib.ftsrt_run_step, self._run)
                self._tb.opt.step()
                return
            w = self._watch
            w.steps += 1
            if (w.dirty or w.steps >= _FULL_CHECK_EVERY
                    or (w.steps % _QUICK_CHECK_EVERY == 0 and not self._quick_check())):
                w.dirty = True      # until a check passes: a refused step refuses again
                self._check_bound()
                w.dirty = False
                w.steps = 0
            if self._pg is not None and self._world > 1:
                self._sync_grads()
                self._call("step", self._lib.ftsrt_run_step, self._run)
                self._gather_params()
                return
            self._call("step", self._lib.ftsrt_run_step, self._run)

    def epoch_end(self, val_metric):
        """End the epoch with its validation metric; returns the events
        (dicts with kind, epoch, phase, reason, text; reason: why a
        "finished" event finished, "best" or "last" for "checkpoint_saved",
        else None) and re-applies requires_grad for the phase that starts."""
        with self._lock:
            self._open()
            failure = None
            if self._pg is not None and self._world > 1:
                # every rank decides on the same metric: the ranks' average
                t = self._torch.tensor([float(val_metric)], dtype=self._torch.float64)
                self._dist.all_reduce(t, op=self._dist.ReduceOp.SUM, group=self._pg)
                val_metric = t.item() / self._world
            self._active_runs = None     # a transition may change the groups
            try:
                self._call("epoch_end", self._lib.ftsrt_run_epoch_end, self._run, float(val_metric))
            except FtsrtError as e:
                if self._tb is None:
                    raise
                failure = e         # the events before it still concern the torch side
            events = []
            ev = _Event()
            err = _Error()
            err.status = FTSRT_OK
            while self._lib.ftsrt_run_next_event(self._run, ctypes.byref(ev), ctypes.byref(err)):
                events.append({"kind": _EVENTS.get(ev.kind, ev.kind), "epoch": ev.epoch,
                               "phase": ev.phase,
                               "reason": _STOPS.get(ev.reason) if ev.kind == 4 else
                               _CKPTS.get(ev.reason) if ev.kind == 2 else None,
                               "text": ev.text.decode(errors="replace") if ev.text else ""})
            if err.status != FTSRT_OK:
                raise FtsrtError("events: %s" % err.text(self._lib, err.status), err.status)
            if self._tb is not None:
                restored = False
                for e in events:        # in order: a snapshot before the restore it feeds
                    if e["kind"] == "checkpoint_saved" and e["reason"] == "best":
                        self._tb.snapshot()
                    elif e["kind"] == "best_restored":
                        self._tb.restore_params()
                        restored = True
                if failure is not None:
                    raise failure
                self.apply_requires_grad()
                self._tb.sync(restored=restored)
                return events
            self.apply_requires_grad()
            return events

    @property
    def optimizer(self):
        """backend="torch": the torch.optim.Optimizer that steps the model,
        its param_groups the run's groups; None with the native backend.  It
        is replaced when the plan swaps the optimizer, after a restore_best,
        a resume, or a transition of an optimizer whose constructor makes
        the state (Adagrad): read it from the runtime, do not keep it."""
        return self._tb.opt if self._tb is not None else None

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

    @property
    def global_step(self):
        """Optimizer steps taken so far."""
        with self._lock:
            self._open()
            return self._lib.ftsrt_run_global_step(self._run)

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
            self._call("group", self._lib.ftsrt_run_group, self._run, i, ctypes.byref(g))
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
            if self._tb is not None:
                self._tb.save(path)
                return
            if self._pg is not None and self._world > 1:
                self._save_sharded(path)
                return
            self._call("save", self._lib.ftsrt_run_save, self._run, os.fsencode(path))

    def resume(self, path):
        """Resume from a checkpoint written by a run of the same plan; a
        refused resume leaves the run as it was."""
        with self._lock:
            self._open()
            if self._tb is not None:
                self._tb.resume(path)
                return
            try:
                with open(path, "rb") as f:
                    torch_file = f.read(2) == b"PK"
            except OSError:
                torch_file = False
            if torch_file:
                raise FtsrtError("resume: '%s' is a checkpoint of the torch backend: resume it with "
                                 "backend=\"torch\"" % path)
            manifest = _read_shard_manifest(path)
            if manifest is not None or (self._pg is not None and self._world > 1):
                self._resume_sharded(path, manifest)
                return
            self._call("resume", self._lib.ftsrt_run_resume, self._run, os.fsencode(path))
            self.apply_requires_grad()

    def _save_sharded(self, path):
        """Each rank writes its shard file (atomically, libftsrt), path.shard-R-of-W;
        rank 0 then writes path, a JSON manifest naming every shard with its
        size and CRC-32, atomically, once every rank has written."""
        name = "%s.shard-%d-of-%d" % (os.path.basename(path), self._rank, self._world)
        shard = os.path.join(os.path.dirname(path), name)
        failure = None
        try:
            self._call("save", self._lib.ftsrt_run_save, self._run, os.fsencode(shard))
            entry = {"rank": self._rank, "file": name, "bytes": os.path.getsize(shard),
                     "crc32": _file_crc(shard)}
        except (FtsrtError, OSError) as e:
            failure, entry = e, {"rank": self._rank, "error": str(e)}
        entries = [None] * self._world
        self._dist.all_gather_object(entries, entry, group=self._pg)
        bad = [e for e in entries if "error" in e]
        if failure is not None:
            raise failure
        if bad:
            raise FtsrtError("save: rank %d could not write its shard: %s" % (bad[0]["rank"], bad[0]["error"]))
        if self._rank == 0:
            doc = {"ftsrt_sharded_checkpoint": 1, "world": self._world, "epoch": self.epoch,
                   "global_step": self.global_step, "shards": entries}
            tmp = "%s.tmp.%d" % (path, os.getpid())
            with open(tmp, "w") as f:
                json.dump(doc, f, indent=1)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        self._dist.barrier(group=self._pg)

    def _resume_sharded(self, path, manifest):
        """Resume this rank from its shard of the manifest at path: the world
        size must be the manifest's, the shard's size and CRC must match; then
        the ranks check that they resumed the same position and parameters."""
        if manifest is None:
            raise FtsrtError("resume: '%s' is not a sharded checkpoint's manifest (Runtime.save of a job "
                             "with a process group writes one)" % path)
        world = manifest.get("world")
        if world != self._world:
            raise FtsrtError("resume: '%s' is a checkpoint of a job of %s ranks, this one has %d: the "
                             "optimizer state is split by the world size, so resume it with %s ranks "
                             "(changing the world size is not supported)" % (path, world, self._world, world))
        shards = {e.get("rank"): e for e in manifest.get("shards", [])}
        e = shards.get(self._rank)
        shard, problem = None, None
        if e is None or "file" not in e:
            problem = "resume: '%s' names no shard of rank %d" % (path, self._rank)
        else:
            shard = os.path.join(os.path.dirname(path), e["file"])
            try:
                if os.path.getsize(shard) != e["bytes"] or _file_crc(shard) != e["crc32"]:
                    problem = ("resume: rank %d's shard %s is not the one the manifest names (size or "
                               "CRC-32 differ)" % (self._rank, shard))
            except OSError as x:
                problem = "resume: rank %d's shard %s: %s" % (self._rank, shard, x)
        # every rank learns every rank's verdict before any resumes: all refuse together
        problems = [None] * self._world
        self._dist.all_gather_object(problems, problem, group=self._pg)
        bad = [q for q in problems if q]
        if bad:
            raise FtsrtError(bad[0] if problem is None or bad[0] == problem else problem)
        self._call("resume", self._lib.ftsrt_run_resume, self._run, os.fsencode(shard))
        self._active_runs = None
        self.apply_requires_grad()
        torch = self._torch
        mine = torch.tensor([self.epoch, self.global_step,
                             zlib.crc32(self._arena.view(torch.uint8).numpy().tobytes())], dtype=torch.int64)
        got = [torch.zeros(3, dtype=torch.int64) for _ in range(self._world)]
        self._dist.all_gather(got, mine, group=self._pg)
        if any(not torch.equal(g, got[0]) for g in got):
            raise FtsrtError("resume: the ranks resumed different positions or parameters (epoch, step, "
                             "CRC-32 per rank: %s)" % [tuple(int(x) for x in g) for g in got])

    def close(self):
        """Release the run and the plan (also done when the object goes away);
        waits for a call in flight in another thread.  Later calls raise."""
        lock = getattr(self, "_lock", None)
        if lock is None:
            return
        with lock:
            if getattr(self, "_tb", None) is not None:
                self._tb.release()      # the optimizer, its state, the snapshot
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
