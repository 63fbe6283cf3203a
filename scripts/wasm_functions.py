#!/usr/bin/env python3
"""Checks the size of the largest function body of a Wasm module.

Envoy runs V8 without its baseline compiler, so every function of the module is
compiled by TurboFan at load, and the scratch memory tcmalloc keeps afterwards follows
the largest functions (docs/performance.md, "Memory soak"): one function of ~35 KB cost
~11 MiB of resident memory per Envoy. This guard keeps inlining from building one again.

usage: scripts/wasm_functions.py MODULE [--limit BYTES]
Prints the number of functions and the largest body; exits 1 above the limit.
"""
import sys


def leb(data, i):
    """Reads an unsigned LEB128 at `i`; returns (value, next index)."""
    value, shift = 0, 0
    while True:
        b = data[i]
        i += 1
        value |= (b & 0x7F) << shift
        shift += 7
        if b < 0x80:
            return value, i


def bodies(data):
    """Sizes of the function bodies of the code section (id 10)."""
    if data[:4] != b"\0asm":
        raise ValueError("not a Wasm module")
    i = 8
    while i < len(data):
        section, i = data[i], i + 1
        size, i = leb(data, i)
        end = i + size
        if section == 10:
            count, j = leb(data, i)
            out = []
            for _ in range(count):
                body, j = leb(data, j)
                out.append(body)
                j += body
            return out
        i = end
    return []


def main():
    args = sys.argv[1:]
    limit = 20 * 1024
    if "--limit" in args:
        k = args.index("--limit")
        limit = int(args[k + 1])
        del args[k : k + 2]
    if len(args) != 1:
        sys.exit(__doc__)
    sizes = bodies(open(args[0], "rb").read())
    largest = max(sizes, default=0)
    print(f"[build] {len(sizes)} functions, largest body {largest} bytes (limit {limit})")
    if largest > limit:
        print(
            "[build] a function is too large: V8 keeps the scratch memory of compiling it "
            "(docs/performance.md, \"Memory soak\"); split it or stop inlining into it",
            file=sys.stderr,
        )
        sys.exit(1)


if __name__ == "__main__":
    main()
