#!/usr/bin/env python3
"""fts_resolve.py MANIFEST SCHEDULE - time FTS's parameter resolution in Python.

Reproduces finetuning_scheduler's _parse_phase (fts_supporters.py:928-971):
for every phase, every entry is taken as an exact name if it is one,
otherwise re.compile(entry) is matched (re.match: anchored at the start
only) against every name in registration order.  Prints the seconds spent
resolving (names loaded beforehand) as the only line on stdout; the number
of resolved names and FTS's disjointness verdict go to stderr.  Parses the simple schedules written by
bench/gen_moe.py by hand (PyYAML may be missing).
"""
import re
import sys
import time


def load_names(path):
    out = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.startswith("#") or not line.strip():
                continue
            out.append(line.split("\t", 1)[0])
    return out


def load_schedule(path):
    phases = {}
    cur = None
    with open(path, encoding="utf-8") as f:
        for line in f:
            s = line.rstrip("\n")
            if not s.strip() or s.lstrip().startswith("#"):
                continue
            if not s.startswith(" ") and s.endswith(":"):
                cur = phases.setdefault(int(s[:-1]), [])
            elif s.strip().startswith("- "):
                v = s.strip()[2:]
                if v.startswith("'") and v.endswith("'"):
                    v = v[1:-1].replace("''", "'")
                elif v.startswith('"') and v.endswith('"'):
                    v = v[1:-1]
                cur.append(v)
    return phases


def main():
    names = load_names(sys.argv[1])
    sched = load_schedule(sys.argv[2])
    t0 = time.perf_counter()
    c0 = time.process_time()
    named = dict.fromkeys(names)
    total = 0
    seen = {}
    for depth, params in sched.items():
        for p in params:
            if p in named:
                res = [p]
            else:
                rx = re.compile(p)
                res = [n for n in names if rx.match(n)]
            if not res:
                sys.exit("no match for %r in phase %d" % (p, depth))
            for n in res:
                seen[n] = seen.get(n, 0) + 1
            total += len(res)
    t1 = time.perf_counter()
    c1 = time.process_time()
    dup = [n for n, c in seen.items() if c > 1]
    sys.stderr.write("python %s: %d names, %d entries, %d matches, %s\n" % (
        sys.version.split()[0], len(names), sum(len(v) for v in sched.values()), total,
        "NOT disjoint (%d names)" % len(dup) if dup else "disjoint"))
    print("%.3f %.3f" % (t1 - t0, c1 - c0))

if __name__ == "__main__":
    main()
