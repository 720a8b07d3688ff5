"""ftsrt.manifest - write the ftsc-manifest v1 file of a live PyTorch model.

    python3 -m ftsrt.manifest MODULE:FACTORY -o model.tsv [--source TEXT]

MODULE:FACTORY names a callable (a class or a function) that returns the
model; its parameters are listed in registration order, as
named_parameters() walks them, with tied aliases (a parameter registered
under several names) listed where they are registered, pointing at the
first name (the one named_parameters() keeps).  See ftsc-manifest(5).
"""

import argparse
import importlib
import sys

HEADER = "# ftsc-manifest v1\n"
COLUMNS = "# name\tshape\tdtype\trequires_grad\ttied_to\n"


def _entries(model):
    """(name, parameter, first name of the same tensor or None) in registration order.

    A module's own parameters come before its children's (a pre-order walk,
    as named_parameters() does); a module or parameter registered under
    several names appears under each of them, and every later name is a
    tied alias of the first.
    """
    seen = {}
    out = []
    for mod_name, mod in model.named_modules(remove_duplicate=False):
        for p_name, p in mod._parameters.items():
            if p is None:
                continue
            name = mod_name + "." + p_name if mod_name else p_name
            first = seen.setdefault(id(p), name)
            out.append((name, p, None if first == name else first))
    return out


def _shape(p):
    return "x".join(str(d) for d in p.shape) if p.dim() else "scalar"


def _dtype(p):
    return str(p.dtype).replace("torch.", "")


def manifest_text(model, source=None):
    """The manifest of `model` as a string."""
    lines = [HEADER]
    if source is None:
        cls = type(model)
        source = "%s.%s" % (cls.__module__, cls.__qualname__)
    lines.append("# source: %s\n" % source)
    lines.append(COLUMNS)
    for name, p, first in _entries(model):
        lines.append("%s\t%s\t%s\t%d\t%s\n" % (name, _shape(p), _dtype(p),
                                              1 if p.requires_grad else 0, first or "-"))
    return "".join(lines)


def write_manifest(model, path, source=None):
    """Write the manifest of `model` to `path` (see manifest_text)."""
    text = manifest_text(model, source)
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        f.write(text)


def _load(spec):
    if ":" not in spec:
        raise SystemExit("ftsrt.manifest: expected MODULE:FACTORY, got %r" % spec)
    mod_name, attr = spec.split(":", 1)
    obj = importlib.import_module(mod_name)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj()


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python3 -m ftsrt.manifest",
                                 description="write the ftsc-manifest v1 file of a PyTorch model")
    ap.add_argument("factory", metavar="MODULE:FACTORY", help="callable returning the model")
    ap.add_argument("-o", "--output", required=True, help="manifest file to write")
    ap.add_argument("--source", help="text of the '# source:' comment line")
    args = ap.parse_args(argv)
    write_manifest(_load(args.factory), args.output, args.source)
    return 0


if __name__ == "__main__":
    sys.exit(main())
