#!/usr/bin/env python3
"""tests/man/api.py - libftsrt(3) against ftsrt.h: the man page's NAME list
and SYNOPSIS must declare exactly the functions the header exports
(FTSRT_API), each with the header's return type and parameters.

    python3 tests/man/api.py [runtime/ftsrt.h man/libftsrt.3]     check (make lint)
    python3 tests/man/api.py --synopsis                            print the header's
                                                                   declarations as mdoc
"""
import re
import sys


def header_decls(path):
    text = open(path).read()
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    decls = {}
    for m in re.finditer(r"FTSRT_API\s+([^;]*?)\b(ftsrt_\w+)\s*\(([^)]*)\)\s*;", text, flags=re.S):
        ret = " ".join(m.group(1).split())
        params = [" ".join(p.split()) for p in m.group(3).split(",")]
        params = [] if params == ["void"] else params
        decls[m.group(2)] = (ret, params)
    return decls


def man_decls(path):
    lines = open(path).read().split("\n")
    names, decls = [], {}
    sec = None
    ret = None
    cur = None
    for ln in lines:
        if ln.startswith(".Sh "):
            sec = ln[4:].strip()
            continue
        if sec == "NAME" and ln.startswith(".Nm "):
            names.append(ln[4:].split()[0])
        if sec != "SYNOPSIS":
            continue
        if ln.startswith(".Ft "):
            ret = ln[4:].strip()
        elif ln.startswith(".Fn "):
            parts = re.findall(r'"([^"]*)"|(\S+)', ln[4:])
            words = [a or b for a, b in parts]
            params = [] if words[1:] == ["void"] else words[1:]
            decls[words[0]] = (ret, params)
        elif ln.startswith(".Fo "):
            cur = ln[4:].strip()
            decls[cur] = (ret, [])
        elif ln.startswith(".Fa ") and cur:
            decls[cur][1].append(ln[4:].strip().strip('"'))
        elif ln.startswith(".Fc"):
            cur = None
    return names, decls


def synopsis(decls):
    out = []
    for name, (ret, params) in decls.items():
        out.append(".Ft " + ret)
        if len(params) <= 2:
            out.append(".Fn %s %s" % (name, " ".join('"%s"' % p for p in params) if params else "void"))
        else:
            out.append(".Fo " + name)
            out += ['.Fa "%s"' % p for p in params]
            out.append(".Fc")
    return "\n".join(out)


def main(argv):
    if argv[1:2] == ["--synopsis"]:
        print(synopsis(header_decls("runtime/ftsrt.h")))
        return 0
    hdr, man = (argv[1], argv[2]) if len(argv) == 3 else ("runtime/ftsrt.h", "man/libftsrt.3")
    h = header_decls(hdr)
    names, m = man_decls(man)
    bad = []
    for name in sorted(set(h) | set(m) | set(names)):
        if name not in h:
            bad.append("%s: in %s, not in %s" % (name, man, hdr))
        elif name not in m:
            bad.append("%s: not in the SYNOPSIS of %s" % (name, man))
        elif h[name] != m[name]:
            bad.append("%s: %s declares %s %s(%s), %s says %s %s(%s)" % (
                name, hdr, h[name][0], name, ", ".join(h[name][1]), man, m[name][0], name,
                ", ".join(m[name][1])))
        if name in h and name not in names:
            bad.append("%s: not in the NAME list of %s" % (name, man))
    for b in bad:
        print("man/api: " + b, file=sys.stderr)
    if not bad:
        print("man/api: %s declares the %d functions of %s" % (man, len(h), hdr))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
