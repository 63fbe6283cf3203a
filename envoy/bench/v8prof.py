#!/usr/bin/env python3
"""Summarises a V8 CPU profile (`node --cpu-prof`) of envoy/bench/v8host.mjs.

Prints the share of samples in the module's code by proxy-wasm callback (Wasm code
versus the JavaScript host), then the functions with the most samples of their own
and with the most samples including their callees. Wasm function names come from the
module's name section (scripts/v8bench.sh builds the module with it) and are
demangled here.

usage: envoy/bench/v8prof.py PROFILE.cpuprofile [--top N] [--under NAME]
"""
import argparse
import collections
import json
import re

ESCAPES = {
    "$LT$": "<", "$GT$": ">", "$u20$": " ", "$u7b$": "{", "$u7d$": "}", "$C$": ",",
    "$RF$": "&", "$BP$": "*", "$u27$": "'", "$u5b$": "[", "$u5d$": "]", "$u3b$": ";",
}


def demangle(sym):
    """Legacy Rust symbols (`_ZN...E`) to paths without the hash; others unchanged."""
    if not sym.startswith("_ZN"):
        return sym
    i, parts = 3, []
    while i < len(sym) and sym[i].isdigit():
        j = i
        while sym[j].isdigit():
            j += 1
        n = int(sym[i:j])
        parts.append(sym[j:j + n])
        i = j + n
    if parts and re.fullmatch(r"h[0-9a-f]{16}", parts[-1]):
        parts.pop()
    out = "::".join(parts)
    for k, v in ESCAPES.items():
        out = out.replace(k, v)
    return out.replace("..", "::")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("profile")
    ap.add_argument("--top", type=int, default=25)
    ap.add_argument("--under", help="also list the self samples below this function")
    a = ap.parse_args()
    prof = json.load(open(a.profile))
    nodes = {n["id"]: n for n in prof["nodes"]}
    parent = {c: n["id"] for n in prof["nodes"] for c in n.get("children", [])}
    samples = collections.Counter(prof["samples"])
    total = sum(samples.values()) or 1

    def name(nid):
        return demangle(nodes[nid]["callFrame"]["functionName"] or "(anonymous)")

    def wasm(nid):
        f = nodes[nid]["callFrame"]
        return f.get("url", "").startswith("wasm") or f["functionName"].startswith(
            ("_ZN", "_RN", "dl", "mem", "__", "wasm-to-js")
        )

    own, incl, split, under = (collections.Counter() for _ in range(4))
    for nid, c in samples.items():
        chain, x = [], nid
        while x is not None:
            chain.append(name(x))
            x = parent.get(x)
        own[chain[0]] += c
        for nm in set(chain):
            incl[nm] += c
        cb = next((nm for nm in chain if nm.startswith("proxy_on_")), "(other)")
        split[(cb, "wasm" if wasm(nid) else "host")] += c
        if a.under and any(a.under in nm for nm in chain):
            under[chain[0]] += c

    pct = lambda c: f"{100 * c / total:6.2f}%"
    print(f"{total} samples")
    print("\nby callback (wasm: the module's code; host: this JavaScript host)")
    for (cb, side), c in split.most_common():
        if c / total >= 0.002:
            print(f"{pct(c)}  {cb:<28} {side}")
    print("\nself")
    for nm, c in own.most_common(a.top):
        print(f"{pct(c)}  {nm[:150]}")
    print("\nincluding callees")
    for nm, c in incl.most_common(a.top + 8):
        print(f"{pct(c)}  {nm[:150]}")
    if a.under:
        print(f"\nself, below {a.under} ({pct(sum(under.values()))} in all)")
        for nm, c in under.most_common(a.top):
            print(f"{pct(c)}  {nm[:150]}")


if __name__ == "__main__":
    main()
