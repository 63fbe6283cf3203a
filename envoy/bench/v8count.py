#!/usr/bin/env python3
"""Instructions per request by Wasm function, counted, not sampled.

Joins two callgrind profiles (`--dump-instr=yes`) of envoy/bench/v8host.mjs with V8's
code log of the same processes (`node --log-code`): each instruction address of JIT
code is credited to the function V8 compiled there (Wasm function names from the
module's name section), and the difference between a short and a long run, divided by
the extra requests, leaves the cost per request with start-up and compilation taken
out. Self cost only (a function's callees are counted apart). Deterministic to a few
instructions, unlike a sampling profile, so changes of 1 % of a setup show. V8's
code-move and code-delete events are not followed: the module's functions are compiled
once and stay, but rows of the JavaScript host (`--all`) may be misattributed.

usage: envoy/bench/v8count.py SHORT.callgrind SHORT.log LONG.callgrind LONG.log EXTRA
       [--b SHORT.callgrind SHORT.log LONG.callgrind LONG.log] [--top N] [--all]

With --b, the same for a second module (B) side by side, and B - A. `A calls`: how
often each function of A ran per request (inlined code is not called).
"""
import argparse
import bisect
import collections
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from v8prof import demangle  # noqa: E402


def instruction_costs(path, event="Ir"):
    """Self cost by instruction address of a callgrind profile written with
    `--dump-instr=yes` (positions `instr` or `instr line`, compressed or not): of
    `event`, one of the profile's events (`Ir`; with `--cache-sim=yes` also `I1mr`,
    `D1mr`, ...; a profile without it is an error)."""
    costs = collections.Counter()
    npos, addr, after_calls, col = 1, 0, False, 0
    with open(path) as f:
        for line in f:
            c = line[:1]
            if line.startswith("events:"):
                names = line.split()[1:]
                if event not in names:
                    sys.exit(f"{path}: no event {event} in the profile (events: "
                             f"{' '.join(names)}; cache events need --cache-sim=yes)")
                col = names.index(event)
            elif line.startswith("positions:"):
                npos = len(line.split()) - 1
            elif line.startswith("calls="):
                # The next cost line is the call's inclusive cost: not self cost.
                after_calls = True
            elif c.isdigit() or c in "+-*":
                parts = line.split()
                a = parts[0]
                if a == "*":
                    pass
                elif a[0] in "+-":
                    step = int(a[1:], 0)
                    addr += step if a[0] == "+" else -step
                else:
                    addr = int(a, 0)
                if after_calls:
                    after_calls = False
                elif len(parts) > npos + col:
                    # Trailing zero costs are left out of a line.
                    costs[addr] += int(parts[npos + col])
    return costs


def code_ranges(path):
    """(start, size, name) of each code object in a V8 log, by start address; names of
    code that is not the module's own start with `host:`."""
    ranges = []
    with open(path, errors="replace") as f:
        for line in f:
            if not line.startswith("code-creation,"):
                continue
            p = line.rstrip("\n").split(",")
            try:
                # V8's code kind 4 is Wasm code: the module's functions and the
                # wrappers between Wasm and JavaScript (`wasm-to-js:...`).
                wasm = p[2] == "4" and not p[6].startswith(("wasm-to-js", "js-to-wasm"))
                ranges.append((int(p[4], 16), int(p[5]), ("" if wasm else "host:") + p[6]))
            except (IndexError, ValueError):
                continue
    ranges.sort()
    if not any(not name.startswith("host:") for _, _, name in ranges):
        sys.exit(f"{path}: no Wasm code in V8's log (did the module run? V8's code kinds "
                 "may have changed: Wasm functions are kind 4 in Node.js 18-22)")
    return ranges


def by_function(profile, log, event="Ir"):
    """Self cost by function name, and how often each function's first instruction ran:
    its calls (callgrind sees no calls inside JIT code; a jump back to a function's
    first instruction would count too, which V8's prologues make rare). With an event
    other than `Ir`, "calls" are that event at the first instruction."""
    costs, ranges = instruction_costs(profile, event), code_ranges(log)
    starts = [r[0] for r in ranges]
    out, calls = collections.Counter(), collections.Counter()
    for addr, cost in costs.items():
        i = bisect.bisect_right(starts, addr) - 1
        if i >= 0 and addr < ranges[i][0] + ranges[i][1]:
            out[ranges[i][2]] += cost
            if addr == ranges[i][0]:
                calls[ranges[i][2]] += cost
        else:
            out["host:(not JIT code: V8, Node.js, libc)"] += cost
    return out, calls


def per_request(short_profile, short_log, long_profile, long_log, extra, event="Ir"):
    """Instructions (or `event`) and calls per request by demangled name (without the
    hash, so that two builds line up; functions of one name are summed)."""
    a, ca = by_function(short_profile, short_log, event)
    b, cb = by_function(long_profile, long_log, event)
    out, calls = collections.Counter(), collections.Counter()
    for k in set(a) | set(b):
        out[demangle(k)] += (b[k] - a[k]) / extra
        calls[demangle(k)] += (cb[k] - ca[k]) / extra
    return out, calls


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("short_profile")
    ap.add_argument("short_log")
    ap.add_argument("long_profile")
    ap.add_argument("long_log")
    ap.add_argument("extra", type=int, help="requests the long run made more")
    ap.add_argument("--b", nargs=4, metavar="FILE", help="the same four files for module B")
    ap.add_argument("--top", type=int, default=40)
    ap.add_argument("--all", action="store_true", help="also host functions and V8")
    ap.add_argument("--event", default="Ir",
                    help="callgrind event to count (Ir; with --cache-sim=yes profiles also "
                    "I1mr: first-level instruction cache misses, D1mr, D1mw)")
    args = ap.parse_args()
    first, calls = per_request(args.short_profile, args.short_log, args.long_profile,
                               args.long_log, args.extra)
    runs = [first]
    if args.b:
        runs.append(per_request(*args.b, args.extra)[0])
    what = "instructions"
    if args.event != "Ir":
        # The same table in another event; calls stay the executions counted in Ir.
        what = args.event
        runs = [per_request(args.short_profile, args.short_log, args.long_profile,
                            args.long_log, args.extra, args.event)[0]]
        if args.b:
            runs.append(per_request(*args.b, args.extra, args.event)[0])
    for label, per in zip("AB", runs):
        module = sum(v for k, v in per.items() if not k.startswith("host:"))
        print(f"{label if args.b else ''}{': ' if args.b else ''}{what} per request: "
              f"{sum(per.values()):,.0f} in all, {module:,.0f} in the module's code")
    keys = set().union(*runs)
    if not args.all:
        keys = {k for k in keys if not k.startswith("host:")}
    order = sorted(keys, key=lambda k: -max(abs(r.get(k, 0)) for r in runs))
    print(f"{'A':>10}" + (f"{'B':>10}{'B - A':>10}" if args.b else "")
          + f"{'A calls':>9}  function")
    fmt = ",.0f" if args.event == "Ir" else ",.1f"
    for k in order[: args.top]:
        vals = [r.get(k, 0.0) for r in runs]
        cols = f"{vals[0]:10{fmt}}"
        if args.b:
            cols += f"{vals[1]:10{fmt}}{vals[1] - vals[0]:+10{fmt}}"
        print(f"{cols}{calls.get(k, 0.0):9.1f}  {k}")


if __name__ == "__main__":
    main()
