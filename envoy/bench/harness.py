#!/usr/bin/env python3
"""Benchmark and memory-soak driver of meshward (python3 stdlib only).

Run through scripts/bench.sh and scripts/soak.sh, which do the set-up (wrk, Envoy,
the release module) first. The protocol is the contract's (../shared/spec/bench.md):

- one Envoy process per setup (plain, native, off, policy, full, monitor), each with
  one worker, all started once and kept up; only the one being measured is loaded;
- the Envoy under test pinned to one core (taskset), wrk and the upstream Envoy (a
  direct_response server that is also the event sink) to the other;
- `wrk -t1 -c16`, a 1 s warm-up run, then a measured run of 4-5 s, per setup and round;
  the setups are shuffled in every round;
- per setup: requests/s, p50/p99 latency, Envoy CPU seconds per 10k requests (utime +
  stime of /proc/<pid>/stat around the run), resident memory (VmRSS);
- ratios are medians of the paired per-round ratios.
"""

import argparse
import base64
import glob
import json
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
WASM = ROOT / "target/wasm32-wasip1/release/meshward.wasm"
# The calibration filter (envoy/bench/calib): `calib-noop`, `calib-body`, `calib-bodies`.
CALIB_WASM = ROOT / "target/wasm32-wasip1/release/meshward_calib.wasm"
CALIB_MODES = ("noop", "body", "bodies")
SETUPS = ["plain", "native", "off", "policy", "full", "monitor"]
MESHWARD_SETUPS = {"off", "policy", "full", "monitor"}
N_RULES = 20
N_TOKENS = 100
CLK_TCK = os.sysconf("SC_CLK_TCK")
MODULE_LIMIT = 3 * 1024 * 1024 // 2

# Targets of bench.md: (name, numerator, denominator, metric, op, bound).
TARGETS = [
    ("throughput policy/off", "policy", "off", "rps", ">=", 0.97),
    ("throughput full/off", "full", "off", "rps", ">=", 0.90),
    ("CPU per request full/off", "full", "off", "cpu", "<=", 1.20),
]
REPORTED = [
    ("throughput off/plain", "off", "plain", "rps"),
    ("throughput policy/native", "policy", "native", "rps"),
    ("throughput monitor/off", "monitor", "off", "rps"),
    ("throughput native/plain", "native", "plain", "rps"),
    ("CPU per request policy/off", "policy", "off", "cpu"),
    ("CPU per request monitor/off", "monitor", "off", "cpu"),
    # The calibration filters (envoy/bench/calib, `calib-*` setups): what any Proxy-Wasm
    # filter pays before its own work, against meshward's floor `off`.
    ("CPU per request calib-noop/off", "calib-noop", "off", "cpu"),
    ("CPU per request calib-body/off", "calib-body", "off", "cpu"),
    ("CPU per request calib-bodies/off", "calib-bodies", "off", "cpu"),
    ("throughput calib-body/off", "calib-body", "off", "rps"),
    ("throughput calib-bodies/off", "calib-bodies", "off", "rps"),
    ("CPU per request full/calib-bodies", "full", "calib-bodies", "cpu"),
]


def log(msg):
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


def envoy_bin():
    found = sorted(glob.glob(str(ROOT / ".venv/lib/python3*/site-packages/envoy/_bin/envoy")))
    if not found:
        sys.exit("[bench] Envoy not found in .venv (run scripts/setup.sh)")
    return found[0]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def render(text, values):
    for k, v in values.items():
        text = text.replace("${" + k + "}", str(v))
    return text


# ------------------------------------------------------------------ configurations

# The endpoints of the traffic (templates of the `full` setup's `apis.templates`).
ENDPOINTS = [
    ("GET", "/api/v1/users/{id}"),
    ("GET", "/api/v1/users/{id}/orders"),
    ("GET", "/api/v1/orders/{id}"),
    ("GET", "/api/v1/products/{id}/reviews"),
    ("POST", "/api/v1/orders"),
]


def deny_rules():
    """The 20 deny rules (path prefix + header) both `native` and meshward enforce."""
    return [
        {
            "name": f"deny-area-{i:02d}",
            "action": "deny",
            "when": {
                "paths": [f"/admin/area{i:02d}/*"],
                "headers": {"x-tenant": [f"blocked-{i:02d}"]},
            },
        }
        for i in range(N_RULES)
    ]


# A limit no benchmark run reaches (the bucket refills faster than any run sends).
NEVER = {"requests": 100_000_000, "per": "1s"}

DETECTION_OFF = {
    "injection": {f: "off" for f in ["sqli", "xss", "path_traversal", "command", "ssrf", "jndi"]},
    "scanners": "off",
    "behavior": {
        "not_found_burst": False,
        "auth_failure_burst": False,
        "enumeration": False,
        "off_hours": False,
    },
}
FINDINGS_OFF = {
    f: False
    for f in [
        "unauthenticated_sensitive",
        "excessive_exposure",
        "sensitive_in_url",
        "plaintext_sensitive",
        "weak_auth",
        "verbose_errors",
        "undeclared",
    ]
}


def plugin_config(setup, soak=False):
    """The pluginConfig of a meshward setup (JSON, as Istio hands it to the filter).

    `full-a-b` is `full` without the parts `a` and `b` of `ABLATIONS`."""
    setup, *ablated = setup.split("-")
    if setup == "off":
        return {"enabled": False}
    if setup == "policy":
        return {
            "mode": "enforce",
            "inspection": {"request_body": False, "response_body": False},
            "detection": DETECTION_OFF,
            "findings": FINDINGS_OFF,
            "access": {"default": "allow", "rules": deny_rules()},
            "rate_limits": [{"name": "per-source", "key": "source_ip", "limit": NEVER}],
        }
    cfg = {
        "mode": "monitor" if setup == "monitor" else "enforce",
        "service": "bench.default",
        "apis": {"templates": [f"{m} {p}" for m, p in ENDPOINTS]},
        "identity": {
            "trust_forwarded_ip": soak,
            "sources": [{"jwt": {"header": "authorization", "claim": "sub"}}],
        },
        "sensitive": {"types": "all"},
        "masking": [
            {
                "name": "mask-pii",
                "types": ["cn_resident_id", "bank_card", "cn_mobile", "email"],
                "style": "partial",
            }
        ],
        "access": {"default": "allow", "rules": deny_rules()},
        "rate_limits": [
            {"name": "per-account", "key": "account", "limit": NEVER},
            {"name": "per-api", "key": "api", "limit": NEVER},
        ],
        "detection": {
            "injection": {
                "sqli": "block",
                "xss": "block",
                "path_traversal": "block",
                "command": "block",
                "ssrf": "alert",
                "jndi": "block",
                "where": ["path", "query", "headers", "body"],
            },
            "scanners": "alert",
        },
        "events": {
            "cluster": "outbound|4318||collector.local",
            "authority": "collector.local",
            "path": "/v1/logs",
            "format": "otlp",
            "flush_interval": "1s",
            "sample": 1.0,
        },
    }
    if soak:
        # 100k distinct paths: no declared templates, every path is discovered.
        cfg["apis"] = {}
    for part in ablated:
        ABLATIONS[part](cfg)
    return cfg


def _no_mask(cfg):
    cfg["masking"] = []


def _no_detect(cfg):
    cfg["detection"] = DETECTION_OFF


def _no_events(cfg):
    del cfg["events"]


def _no_body(cfg):
    cfg["inspection"] = {"request_body": False, "response_body": False}
    cfg["masking"] = []


def _no_identity(cfg):
    cfg["identity"] = {}
    cfg["rate_limits"] = [r for r in cfg["rate_limits"] if r["key"] != "account"]


def _no_limits(cfg):
    cfg["rate_limits"] = []


def _no_findings(cfg):
    cfg["findings"] = FINDINGS_OFF
    cfg["detection"] = dict(cfg["detection"], behavior=DETECTION_OFF["behavior"])


# Ablations of `full` for finding where its cost goes: `--setups full,full-events,...`
# runs `full` without that part (not part of the default six setups or the targets).
ABLATIONS = {
    "mask": _no_mask,
    "detect": _no_detect,
    "events": _no_events,
    "body": _no_body,
    "identity": _no_identity,
    "limits": _no_limits,
    "findings": _no_findings,
}


ROUTER = {
    "name": "envoy.filters.http.router",
    "typed_config": {"@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"},
}


def native_filters():
    """Envoy's rbac with the same 20 deny rules, and local_ratelimit with one bucket."""
    policies = {}
    for i in range(N_RULES):
        policies[f"deny-area-{i:02d}"] = {
            "permissions": [
                {
                    "and_rules": {
                        "rules": [
                            {"url_path": {"path": {"prefix": f"/admin/area{i:02d}/"}}},
                            {
                                "header": {
                                    "name": "x-tenant",
                                    "string_match": {"exact": f"blocked-{i:02d}"},
                                }
                            },
                        ]
                    }
                }
            ],
            "principals": [{"any": True}],
        }
    rbac = {
        "name": "envoy.filters.http.rbac",
        "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC",
            "rules": {"action": "DENY", "policies": policies},
        },
    }
    pct = {"default_value": {"numerator": 100, "denominator": "HUNDRED"}}
    ratelimit = {
        "name": "envoy.filters.http.local_ratelimit",
        "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit",
            "stat_prefix": "bench_rl",
            "token_bucket": {
                "max_tokens": NEVER["requests"],
                "tokens_per_fill": NEVER["requests"],
                "fill_interval": "1s",
            },
            "filter_enabled": dict(pct, runtime_key="rl_enabled"),
            "filter_enforced": dict(pct, runtime_key="rl_enforced"),
        },
    }
    return [rbac, ratelimit, ROUTER]


def meshward_filter(cfg, wasm=WASM):
    """The Wasm filter the way istiod configures a WasmPlugin (envoy/meshward.yaml)."""
    return {
        "name": "istio-system.meshward",
        "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm",
            "config": {
                "name": "istio-system.meshward",
                "root_id": "meshward",
                "configuration": {
                    "@type": "type.googleapis.com/google.protobuf.StringValue",
                    "value": json.dumps(cfg, separators=(",", ":")),
                },
                "vm_config": {
                    "runtime": "envoy.wasm.runtime.v8",
                    "vm_id": "",
                    "code": {"local": {"filename": str(wasm)}},
                    "environment_variables": {
                        "key_values": {"MESHWARD_HASH_KEY": "bench-hash-key"}
                    },
                },
                "failure_policy": "FAIL_OPEN",
            },
        },
    }


def calib_filter(mode):
    """The calibration filter (envoy/bench/calib) in `mode`, configured as meshward is."""
    f = meshward_filter({}, CALIB_WASM)
    cfg = f["typed_config"]["config"]
    cfg["name"] = cfg["root_id"] = "calib"
    cfg["configuration"]["value"] = mode
    return f


def http_filters(setup, soak=False):
    # `setup@b`: the same setup with the module at $MESHWARD_BENCH_WASM_B (A/B runs of
    # two builds in one interleaved run).
    setup, _, variant = setup.partition("@")
    if variant:
        wasm = Path(os.environ.get("MESHWARD_BENCH_WASM_B", ""))
        if not wasm.is_file():
            sys.exit(f"[bench] {setup}@{variant} needs MESHWARD_BENCH_WASM_B (a module path)")
        return [meshward_filter(plugin_config(setup, soak), wasm), ROUTER]
    if setup == "plain":
        return [ROUTER]
    if setup == "native":
        return native_filters()
    if setup.startswith("calib-"):
        mode = setup.removeprefix("calib-")
        if mode not in CALIB_MODES:
            sys.exit(f"[bench] unknown setup {setup} (calib-{{{','.join(CALIB_MODES)}}})")
        if not CALIB_WASM.is_file():
            sys.exit(f"[bench] {CALIB_WASM} missing (scripts/bench.sh builds it)")
        return [calib_filter(mode), ROUTER]
    return [meshward_filter(plugin_config(setup, soak)), ROUTER]


# ------------------------------------------------------------------ processes


class Envoy:
    """One Envoy process, pinned to `cpu`, with its admin port."""

    def __init__(self, name, config, cpu, workdir, port, wrap=()):
        self.name = name
        self.port = port
        self.admin = free_port()
        cfg_path = workdir / f"{name}.yaml"
        cfg_path.write_text(render(config, {"ADMIN_PORT": self.admin}))
        self.log_path = workdir / f"{name}.log"
        cmd = [
            envoy_bin(),
            "-c",
            str(cfg_path),
            "--concurrency",
            "1",
            "--use-dynamic-base-id",
            "-l",
            "warning",
            "--component-log-level",
            "wasm:warning",
        ]
        cmd = list(wrap) + cmd
        if cpu is not None:
            cmd = ["taskset", "-c", str(cpu)] + cmd
        with open(self.log_path, "w") as logf:
            self.proc = subprocess.Popen(
                cmd, stdout=subprocess.DEVNULL, stderr=logf, start_new_session=True
            )
        self.pid = self.proc.pid

    def wait_ready(self, timeout=60):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"envoy {self.name} exited:\n{self.log()[-3000:]}")
            if self.admin_get("/ready") == "LIVE":
                return
            time.sleep(0.1)
        raise RuntimeError(f"envoy {self.name} not ready:\n{self.log()[-3000:]}")

    def admin_get(self, path):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.admin}{path}", timeout=5) as r:
                return r.read().decode().strip()
        except (urllib.error.URLError, OSError):
            return None

    def log(self):
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def stat(self, name):
        """A counter or gauge from /stats (0 when absent)."""
        text = self.admin_get(f"/stats?filter=^{name}$") or ""
        for line in text.splitlines():
            k, _, v = line.partition(": ")
            if k == name:
                try:
                    return int(v)
                except ValueError:
                    return 0
        return 0

    def stats_text(self, filt):
        return self.admin_get(f"/stats?filter={filt}") or ""

    def cpu_ticks(self):
        """utime + stime of the process (all threads), in clock ticks."""
        with open(f"/proc/{self.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])

    def rss_kib(self):
        with open(f"/proc/{self.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def cpus():
    """(cpu of the Envoy under test, cpu of wrk and the upstream), or Nones."""
    avail = sorted(os.sched_getaffinity(0))
    if len(avail) < 2:
        log("fewer than 2 CPUs: nothing is pinned")
        return None, None
    return avail[0], avail[1]


def start_upstream(workdir, cpu):
    port = free_port()
    text = render(
        (HERE / "upstream.yaml").read_text(),
        {"LISTEN_PORT": port, "RESPONSE_FILE": HERE / "response.json"},
    )
    up = Envoy("upstream", text, cpu, workdir, port)
    up.wait_ready()
    return up


def start_subject(setup, workdir, cpu, upstream_port, soak=False, wrap=()):
    """The Envoy under test for `setup`; `wrap` is a command it runs under (valgrind)."""
    port = free_port()
    text = render(
        (HERE / "subject.yaml").read_text(),
        {
            "LISTEN_PORT": port,
            "UPSTREAM_PORT": upstream_port,
            "HTTP_FILTERS": json.dumps(http_filters(setup, soak)),
        },
    )
    return Envoy(setup, text, cpu, workdir, port, wrap=wrap)


def http(port, method, path, headers=None, body=None):
    req = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}", data=body, method=method, headers=headers or {}
    )
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


# ------------------------------------------------------------------ traffic


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def jwt(sub, seed):
    """A JWT meshward decodes without verifying (HS256 header, random signature)."""
    header = b64url(b'{"alg":"HS256","typ":"JWT"}')
    payload = b64url(
        json.dumps(
            {
                "iss": "https://idp.example.com",
                "sub": sub,
                "aud": "bench",
                "iat": 1735689600,
                "exp": 4102444800,
                "role": "customer",
            },
            separators=(",", ":"),
        ).encode()
    )
    rng = random.Random(seed)
    sig = b64url(bytes(rng.randrange(256) for _ in range(32)))
    return f"{header}.{payload}.{sig}"


def lua_str(s):
    # A JSON string literal with raw UTF-8 is a valid Lua string literal.
    return json.dumps(s, ensure_ascii=False)


LUA_DONE = r"""
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "WRKJSON {\"requests\":%d,\"duration_us\":%d,\"p50_us\":%d,\"p99_us\":%d," ..
    "\"connect\":%d,\"read\":%d,\"write\":%d,\"status\":%d,\"timeout\":%d}\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.connect, e.read, e.write, e.status, e.timeout))
end
"""


def bench_requests():
    """The benchmark traffic: 400 requests, 3 GETs then 1 POST (1 KiB JSON), over 100
    accounts' tokens and 100 ids per endpoint, as (method, path, headers, body)."""
    body = (HERE / "request.json").read_text()
    tokens = [jwt(f"user-{i:04d}", i) for i in range(N_TOKENS)]
    gets = [p for m, p in ENDPOINTS if m == "GET"]
    reqs = []
    for k in range(400):
        h = {
            "authorization": "Bearer " + tokens[k % len(tokens)],
            "accept": "application/json",
            "user-agent": "bench-client/1.0",
        }
        if k % 4 == 3:
            h["content-type"] = "application/json"
            reqs.append(("POST", "/api/v1/orders", h, body))
        else:
            path = gets[k % len(gets)].replace("{id}", str(100000 + (k * 7919) % 100))
            reqs.append(("GET", path, h, None))
    return reqs


def bench_lua(workdir):
    """The benchmark traffic of `bench_requests` as a wrk script (requests built once
    per thread, sent in turn)."""
    lines = ["local reqs = {}", "local n = 0", "function init(args)"]
    for method, path, headers, body in bench_requests():
        hs = "{" + ",".join(f"[{lua_str(k)}] = {lua_str(v)}" for k, v in headers.items()) + "}"
        b = ", " + lua_str(body) if body is not None else ""
        lines.append(f"  reqs[#reqs + 1] = wrk.format({lua_str(method)}, {lua_str(path)}, {hs}{b})")
    lines.append("end")
    lines.append(
        r"""function request()
  n = n + 1
  return reqs[(n % #reqs) + 1]
end
"""
    )
    lines.append(LUA_DONE)
    path = workdir / "bench.lua"
    path.write_text("\n".join(lines))
    return path


def run_wrk(port, script, duration, cpu, connections=16, timeout=None):
    cmd = [
        "wrk",
        "-t1",
        f"-c{connections}",
        f"-d{duration}s",
        "--timeout",
        "5s",
        "-s",
        str(script),
        f"http://127.0.0.1:{port}/",
    ]
    if cpu is not None:
        cmd = ["taskset", "-c", str(cpu)] + cmd
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    for line in out.stdout.splitlines():
        if line.startswith("WRKJSON "):
            return json.loads(line[len("WRKJSON ") :])
    raise RuntimeError(f"wrk failed: {out.stdout}\n{out.stderr}")


# ------------------------------------------------------------------ bench


def sanity(subjects):
    """Each setup answers the traffic 200, enforces its deny rules, and masks (full)."""
    original = (HERE / "response.json").read_bytes()
    tok = jwt("user-0001", 1)
    hdr = {"authorization": f"Bearer {tok}", "accept": "application/json"}
    notes = []
    for name, e in subjects.items():
        st, body = http(e.port, "GET", "/api/v1/users/100001", hdr)
        st2, _ = http(
            e.port,
            "POST",
            "/api/v1/orders",
            dict(hdr, **{"content-type": "application/json"}),
            (HERE / "request.json").read_bytes(),
        )
        st3, _ = http(e.port, "GET", "/admin/area07/report", {"x-tenant": "blocked-07"})
        masked = body != original
        base = name.partition("@")[0]
        want_deny = base in {"native", "policy", "full"} or base.startswith("full-")
        want_mask = base == "full" or (base.startswith("full-") and not {"mask", "body"} & set(base.split("-")))
        ok = st == 200 and st2 == 200 and (st3 == 403) == want_deny and masked == want_mask
        notes.append(f"{name}: GET {st} POST {st2} denied-rule {st3} masked {masked}")
        if not ok:
            raise RuntimeError("sanity check failed: " + notes[-1])
    log("sanity: " + "; ".join(notes))


def median(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else float("nan")


def run_bench(args):
    if not WASM.exists():
        sys.exit(f"[bench] {WASM} missing (scripts/build.sh)")
    setups = args.setups.split(",") if args.setups else SETUPS
    core_subject, core_load = cpus()
    outdir = Path(args.out or ROOT / "target/bench" / time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()))
    outdir.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="meshward-bench-"))
    log(f"work dir {workdir}, results in {outdir}")
    up = start_upstream(workdir, core_load)
    subjects = {}
    try:
        for s in setups:
            subjects[s] = start_subject(s, workdir, core_subject, up.port)
        for e in subjects.values():
            e.wait_ready()
        sanity(subjects)
        script = bench_lua(workdir)
        # V8 tiers up the module during the first requests: one warm-up run each.
        for s in setups:
            run_wrk(subjects[s].port, script, 1, core_load)
        rng = random.Random(args.seed)
        rounds = []
        t_start = time.time()
        for r in range(args.rounds):
            order = list(setups)
            rng.shuffle(order)
            this = {}
            for s in order:
                e = subjects[s]
                run_wrk(e.port, script, args.warmup, core_load)
                c0, w0 = e.cpu_ticks(), time.time()
                res = run_wrk(e.port, script, args.duration, core_load)
                c1, w1 = e.cpu_ticks(), time.time()
                cpu_s = (c1 - c0) / CLK_TCK
                n = max(res["requests"], 1)
                secs = res["duration_us"] / 1e6
                this[s] = {
                    "rps": res["requests"] / secs,
                    "p50_ms": res["p50_us"] / 1000,
                    "p99_ms": res["p99_us"] / 1000,
                    "cpu_10k": cpu_s / n * 10_000,
                    "util": cpu_s / (w1 - w0),
                    "rss_mib": e.rss_kib() / 1024,
                    "errors": res["connect"] + res["read"] + res["write"] + res["timeout"],
                    "non2xx": res["status"],
                    "requests": res["requests"],
                }
            rounds.append({"order": order, "results": this})
            line = " ".join(f"{s}={this[s]['rps']:.0f}" for s in setups)
            log(f"round {r + 1}/{args.rounds} ({time.time() - t_start:.0f} s): {line}")
        extra = {}
        for s in ("full", "monitor", "policy"):
            if s in subjects:
                e = subjects[s]
                extra[s] = {
                    k: e.stats_text(k)
                    for k in (
                        "meshward_events_sent_total",
                        "meshward_events_dropped_total",
                        "meshward_internal_errors_total",
                        "meshward_decisions_total",
                    )
                }
        logs = {s: e.log() for s, e in subjects.items()}
    finally:
        for e in subjects.values():
            e.stop()
        up.stop()
    report(args, setups, rounds, outdir, extra, logs)


def ratio_series(rounds, num, den, metric):
    out = []
    for r in rounds:
        a, b = r["results"].get(num), r["results"].get(den)
        if not a or not b:
            continue
        if metric == "rps":
            out.append(a["rps"] / b["rps"] if b["rps"] else None)
        else:
            out.append(a["cpu_10k"] / b["cpu_10k"] if b["cpu_10k"] else None)
    return out


def median_ci(xs, resamples=4000, seed=0):
    """A 95 % percentile-bootstrap interval of the median of `xs` (rounds resampled
    with replacement). How far the median could move with other rounds of the same
    noise: when it spans a target, this run cannot tell PASS from MISS. None for
    fewer than 2 rounds; with 2 or 3 it is about their min and max."""
    if len(xs) < 2:
        return None
    rng = random.Random(seed)
    meds = sorted(statistics.median(rng.choices(xs, k=len(xs))) for _ in range(resamples))
    return (meds[int(0.025 * resamples)], meds[int(0.975 * resamples) - 1])


def fmt_ci(ci):
    return "-" if ci is None else f"{ci[0]:.3f}-{ci[1]:.3f}"


def machine():
    model = "?"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = "?"
    try:
        for line in open("/proc/meminfo"):
            if line.startswith("MemTotal"):
                mem = f"{int(line.split()[1]) / 1048576:.1f} GiB"
    except OSError:
        pass
    return f"{os.cpu_count()} CPUs ({model}), {mem} RAM"


def report(args, setups, rounds, outdir, extra, logs):
    lines = []
    p = lines.append
    p(f"meshward benchmark, {time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime())}")
    p(f"machine: {machine()}; load average at the end: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f}")
    p(
        f"{len(rounds)} rounds x {args.duration} s per setup (after a {args.warmup} s warm-up run), "
        f"wrk -t1 -c16, setups shuffled per round; medians over rounds"
    )
    p("")
    w = max([8] + [len(s) for s in setups])
    hdr = f"{'setup':<{w}} {'req/s':>8} {'p50 ms':>7} {'p99 ms':>7} {'CPU s/10k':>10} {'CPU util':>8} {'RSS MiB':>8} {'non-2xx':>8} {'errors':>7}"
    p(hdr)
    p("-" * len(hdr))
    for s in setups:
        col = lambda k: median([r["results"][s][k] for r in rounds if s in r["results"]])
        tot = lambda k: sum(r["results"][s][k] for r in rounds if s in r["results"])
        p(
            f"{s:<{w}} {col('rps'):>8.0f} {col('p50_ms'):>7.2f} {col('p99_ms'):>7.2f} "
            f"{col('cpu_10k'):>10.3f} {col('util'):>8.2f} {col('rss_mib'):>8.1f} "
            f"{tot('non2xx'):>8} {tot('errors'):>7}"
        )
    p("")
    p(
        f"{'ratio (median of paired per-round ratios)':<44} {'median':>7} {'min':>6} {'max':>6} "
        f"{'95% CI':>13}  target"
    )
    results = []
    undecided = []
    for name, num, den, metric, op, bound in TARGETS:
        xs = [x for x in ratio_series(rounds, num, den, metric) if x is not None]
        if not xs:
            continue
        m = statistics.median(xs)
        ci = median_ci(xs)
        ok = m >= bound if op == ">=" else m <= bound
        results.append(ok)
        if ci is None or ci[0] <= bound <= ci[1]:
            undecided.append(name)
        p(
            f"{name:<44} {m:>7.3f} {min(xs):>6.3f} {max(xs):>6.3f} {fmt_ci(ci):>13}  "
            f"{op} {bound:.2f}  {'PASS' if ok else 'MISS'}"
        )
    for name, num, den, metric in REPORTED:
        xs = [x for x in ratio_series(rounds, num, den, metric) if x is not None]
        if xs:
            p(
                f"{name:<44} {statistics.median(xs):>7.3f} {min(xs):>6.3f} {max(xs):>6.3f} "
                f"{fmt_ci(median_ci(xs)):>13}  reported"
            )
    for s in setups:
        if s.startswith("full-") and "full" in setups:
            xs = [x for x in ratio_series(rounds, s, "full", "cpu") if x is not None]
            saved = [
                (r["results"]["full"]["cpu_10k"] - r["results"][s]["cpu_10k"]) * 100
                for r in rounds
                if s in r["results"] and "full" in r["results"]
            ]
            if xs:
                p(
                    f"{'CPU per request ' + s + '/full':<44} {statistics.median(xs):>7.3f} {min(xs):>6.3f} {max(xs):>6.3f}"
                    f" {fmt_ci(median_ci(xs)):>13}  ablation: {statistics.median(saved):.0f} us/request less"
                )
    size = WASM.stat().st_size
    ok = size <= MODULE_LIMIT
    results.append(ok)
    p(
        f"{'release meshward.wasm size':<44} {size / 1048576:>6.2f}M {'':>6} {'':>6} {'':>13}  <= 1.50 MiB  {'PASS' if ok else 'MISS'}"
    )
    p("")
    p(f"targets: {sum(results)}/{len(results)} PASS")
    if undecided:
        p(
            "within this run's noise (the 95% interval of the median spans the target; "
            "more --rounds narrow it): " + ", ".join(undecided)
        )
    text = "\n".join(lines)
    print(text)
    (outdir / "summary.txt").write_text(text + "\n")
    (outdir / "rounds.json").write_text(json.dumps(rounds, indent=1))
    (outdir / "stats.json").write_text(json.dumps(extra, indent=1))
    for s, l in logs.items():
        (outdir / f"envoy-{s}.log").write_text(l)
    bad = [s for s, l in logs.items() if any(w in l.lower() for w in ("panicked", "wasm vm failed", "unreachable"))]
    if bad:
        print(f"WARNING: Wasm VM failures in the logs of {bad} (see {outdir})")
    log(f"raw rounds, stats and logs in {outdir}")


# ------------------------------------------------------------------ soak


def soak_lua(workdir):
    """1M requests over 100k accounts (JWT sub), 100k paths (random words) and 100k
    source IPs (x-forwarded-for, trusted in the soak config), chosen at random."""
    header = b64url(b'{"alg":"HS256","typ":"JWT"}')
    # The payload is '{"sub":"acct-' + 6 digits + '","iss":"https://idp.example.com","exp":4102444800}':
    # the prefix is 12 bytes and the digits 6 bytes, so each part encodes on its own
    # (3-byte groups) and the token is built from a table of 3-digit groups.
    prefix = b'{"sub":"acct'  # 12 bytes
    assert len(prefix) % 3 == 0
    suffix = b'","iss":"https://idp.example.com","exp":4102444800}'
    groups = [b64url(f"{i:03d}".encode()) for i in range(1000)]
    words = (
        "alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima mike "
        "november oscar papa quebec romeo sierra tango uniform victor whiskey xray yankee "
        "zulu apple banana cherry grape lemon mango orange peach pear plum berry melon "
        "kiwi olive"
    ).split()
    body = (HERE / "request.json").read_text()
    lua = f"""
local header = {lua_str(header)}
local p1 = {lua_str(b64url(prefix))}
local suffix = {lua_str(b64url(suffix))}
local groups = {{{",".join(lua_str(g) for g in groups)}}}
local words = {{{",".join(lua_str(w) for w in words)}}}
local body = {lua_str(body)}
local sig = "c2lnbmF0dXJlLW5vdC12ZXJpZmllZC1ieS1tZXNod2FyZA"
local nw = #words
local function token(k)
  return header .. "." .. p1 .. groups[math.floor(k / 1000) + 1] .. groups[(k % 1000) + 1] .. suffix .. "." .. sig
end
local function path(k)
  -- 100k distinct paths of dictionary words (templated literally, one endpoint each)
  local a = words[(k % nw) + 1]
  local b = words[(math.floor(k / nw) % nw) + 1]
  local c = words[(math.floor(k / (nw * nw)) % nw) + 1]
  return "/api/" .. a .. "/" .. b .. "/" .. c .. "/" .. words[(math.floor(k / (nw * nw * nw)) % nw) + 1]
end
local n = 0
function init(args)
  math.randomseed(12345 + (args[1] and tonumber(args[1]) or 0))
end
function request()
  n = n + 1
  local acct = math.random(0, 99999)
  local pk = math.random(0, 99999)
  local ip = math.random(0, 99999)
  local h = {{["authorization"] = "Bearer " .. token(acct),
             ["x-forwarded-for"] = "10." .. math.floor(ip / 65536) .. "." .. (math.floor(ip / 256) % 256) .. "." .. (ip % 256),
             ["accept"] = "application/json", ["user-agent"] = "soak-client/1.0"}}
  if n % 4 == 0 then
    h["content-type"] = "application/json"
    return wrk.format("POST", path(pk), h, body)
  end
  return wrk.format("GET", path(pk), h)
end
{LUA_DONE}
"""
    path = workdir / "soak.lua"
    path.write_text(lua)
    return path


def run_soak(args):
    if not WASM.exists():
        sys.exit(f"[soak] {WASM} missing (scripts/build.sh)")
    core_subject, core_load = cpus()
    workdir = Path(tempfile.mkdtemp(prefix="meshward-soak-"))
    log(f"work dir {workdir}")
    up = start_upstream(workdir, core_load)
    script = soak_lua(workdir)
    marks = [args.requests // 5, args.requests]
    results = {}
    try:
        for setup in ("plain", "full"):
            e = start_subject(setup, workdir, core_subject, up.port, soak=True)
            try:
                e.wait_ready()
                rss0 = e.rss_kib()
                stat = "http.inbound_0.0.0.0_8080.downstream_rq_completed"
                readings = {}
                curve = []
                stop = threading.Event()

                def watch():
                    i = 0
                    while not stop.is_set():
                        n = e.stat(stat)
                        rss = e.rss_kib()
                        if i % 10 == 0:
                            curve.append((n, rss))
                        i += 1
                        for m in marks:
                            if n >= m and m not in readings:
                                readings[m] = (n, rss)
                        if n >= marks[-1]:
                            return
                        time.sleep(0.2)

                t = threading.Thread(target=watch, daemon=True)
                t.start()
                t0 = time.time()
                cmd = ["wrk", "-t1", "-c16", "-d3600s", "--timeout", "5s", "-s", str(script), f"http://127.0.0.1:{e.port}/"]
                if core_load is not None:
                    cmd = ["taskset", "-c", str(core_load)] + cmd
                wrk = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                t.join()
                wrk.terminate()
                out, _ = wrk.communicate(timeout=30)
                stop.set()
                secs = time.time() - t0
                non2xx = 0
                for line in out.splitlines():
                    if line.startswith("WRKJSON "):
                        non2xx = json.loads(line[8:])["status"]
                stats = ""
                if setup == "full":
                    stats = e.stats_text("meshward_(endpoint|events_dropped|internal_errors|alerts)")
                results[setup] = {
                    "rss_start_kib": rss0,
                    "readings": readings,
                    "curve": curve,
                    "seconds": secs,
                    "non2xx": non2xx,
                    "stats": stats,
                }
                log(
                    f"{setup}: {marks[-1]} requests in {secs:.0f} s; RSS "
                    + ", ".join(f"{m // 1000}k: {readings[m][1] / 1024:.1f} MiB" for m in marks if m in readings)
                )
            finally:
                e.stop()
    finally:
        up.stop()
    report_soak(args, marks, results)


def report_soak(args, marks, results):
    p_lines = []
    p = p_lines.append
    p(f"meshward memory soak, {time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime())}")
    p(f"machine: {machine()}")
    p(f"{args.requests} requests per setup, 100k distinct accounts (JWT sub), paths (random words) and IPs (x-forwarded-for), 1 POST in 4")
    p("")
    p(f"{'setup':<6} {'RSS start':>10} " + " ".join(f"{'RSS @' + str(m // 1000) + 'k':>11}" for m in marks) + f" {'req/s':>7} {'non-2xx':>8}")
    for s, r in results.items():
        cols = " ".join(
            f"{r['readings'][m][1] / 1024:>7.1f} MiB" if m in r["readings"] else f"{'?':>11}" for m in marks
        )
        p(f"{s:<6} {r['rss_start_kib'] / 1024:>6.1f} MiB {cols} {marks[-1] / r['seconds']:>7.0f} {r['non2xx']:>8}")
    p("")
    ok_all = True
    try:
        plain = results["plain"]["readings"][marks[-1]][1] / 1024
        full_mid = results["full"]["readings"][marks[0]][1] / 1024
        full_end = results["full"]["readings"][marks[-1]][1] / 1024
        over = full_end - plain
        ok1 = over <= 64
        growth = (full_end - full_mid) / full_mid
        ok2 = growth <= 0.05
        ok_all = ok1 and ok2
        p(f"full - plain at {marks[-1] // 1000}k: {over:+.1f} MiB   target <= +64 MiB   {'PASS' if ok1 else 'MISS'}")
        p(f"full growth {marks[0] // 1000}k -> {marks[-1] // 1000}k: {growth * 100:+.2f} %   target <= 5 %   {'PASS' if ok2 else 'MISS'}")
    except (KeyError, ZeroDivisionError):
        ok_all = False
        p("soak incomplete: a reading is missing")
    if results.get("full", {}).get("stats"):
        p("")
        p("full, meshward stats at the end:")
        for line in results["full"]["stats"].splitlines():
            if not line.endswith(": 0"):
                p("  " + line)
    text = "\n".join(p_lines)
    print(text)
    outdir = Path(args.out or ROOT / "target/bench" / ("soak-" + time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())))
    outdir.mkdir(parents=True, exist_ok=True)
    (outdir / "summary.txt").write_text(text + "\n")
    (outdir / "soak.json").write_text(json.dumps(results, indent=1))
    return ok_all


# ------------------------------------------------------------------ count


def send_requests(port, n):
    """`n` requests of `bench_requests` in turn on one keep-alive connection; returns the
    statuses seen (status -> count)."""
    import http.client

    reqs = bench_requests()
    seen = {}
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
    try:
        for i in range(n):
            method, path, headers, body = reqs[i % len(reqs)]
            conn.putrequest(method, path, skip_accept_encoding=True)
            for k, v in headers.items():
                conn.putheader(k, v)
            data = body.encode() if body is not None else None
            if data is not None:
                conn.putheader("content-length", str(len(data)))
            conn.endheaders(data)
            r = conn.getresponse()
            r.read()
            seen[r.status] = seen.get(r.status, 0) + 1
    finally:
        conn.close()
    return seen


def callgrind_costs(path):
    """Exclusive costs of a callgrind dump, by object: {object: [cost per event]}, the
    events in the dump's order (`Ir` alone, or with `--cache-sim=yes` also `Dr Dw I1mr
    D1mr D1mw ILmr DLmr DLmw`), returned as (events, costs). Code without a file is
    split by address: "jit" (V8's compiled Wasm and stubs, high addresses) and
    "anon-low" (below 4 GiB: inside the envoy executable's mapping, in practice its
    tcmalloc, which valgrind does not attribute to the file)."""
    names = {"ob": {}, "fn": {}}
    cur = {"ob": "???", "fn": ""}
    events = ["Ir"]
    costs, after_call = {}, False
    with open(path) as f:
        for line in f:
            if line.startswith("events:"):
                events = line.split()[1:]
                continue
            head, eq, ref = line.partition("=")
            if eq and head in ("ob", "fn", "cob", "cfn"):
                # Names are compressed to "(id)" after their first use, by either
                # the object or function line or its call-target (c-) form.
                kind = head[-2:]
                ref = ref.strip()
                if ref.startswith("("):
                    idx, _, name = ref.partition(")")
                    name = name.strip()
                    if name:
                        names[kind][idx] = name
                    ref = names[kind].get(idx, "")
                if head == kind:
                    cur[kind] = ref
                continue
            if line.startswith("calls="):
                after_call = True  # the next cost line is the call's inclusive cost
                continue
            if line[:1].isdigit() or line[:1] in "+-*":
                parts = line.split()
                if len(parts) >= 2 and parts[1].isdigit():
                    if after_call:
                        after_call = False
                        continue
                    obj = cur["ob"]
                    if obj == "???":
                        try:
                            low = int(cur["fn"], 16) < 1 << 32
                        except ValueError:
                            low = False
                        obj = "anon-low" if low else "jit"
                    acc = costs.setdefault(obj, [0] * len(events))
                    # Trailing zero costs are left out of a line.
                    for k, v in enumerate(parts[1 : 1 + len(events)]):
                        acc[k] += int(v)
    return events, costs


def run_count(args):
    """Instructions per request of the whole Envoy process (Envoy, V8, the module, libc)
    under valgrind's callgrind: warm-up requests, counters zeroed, `--requests` more,
    counters dumped. Deterministic enough to compare setups and builds (`setup@b`) by a
    per cent where a timed run on a shared VM cannot."""
    if not WASM.exists():
        sys.exit(f"[bench] {WASM} missing (scripts/build.sh)")
    for tool in ("valgrind", "callgrind_control"):
        if not shutil.which(tool):
            sys.exit(f"[bench] {tool} missing (apt-get install valgrind)")
    setups = args.setups.split(",") if args.setups else ["plain", "off", "policy"]
    workdir = Path(tempfile.mkdtemp(prefix="meshward-count-"))
    log(f"work dir {workdir}")
    up = start_upstream(workdir, None)
    subjects = {}
    try:
        for s in setups:
            wrap = [
                "valgrind",
                "--tool=callgrind",
                "--smc-check=all-non-file",  # V8 writes and rewrites code
                f"--callgrind-out-file={workdir / (s + '.callgrind')}",
            ] + (["--cache-sim=yes", "--branch-sim=yes"] if args.cache_sim else [])
            subjects[s] = start_subject(s, workdir, None, up.port, wrap=wrap)
        # Under valgrind, Envoy takes minutes to start (V8 compiles the module).
        for e in subjects.values():
            e.wait_ready(timeout=1800)
        log(f"{len(subjects)} Envoys ready under callgrind")
        results = {}

        def measure(s, e):
            send_requests(e.port, args.warmup)
            # Nothing but the requests between zeroing and dumping (no admin calls).
            subprocess.run(["callgrind_control", "--zero", str(e.pid)], check=True, capture_output=True)
            seen = send_requests(e.port, args.requests)
            subprocess.run(["callgrind_control", "--dump", str(e.pid)], check=True, capture_output=True)
            done = sum(seen.values())
            dumps = sorted(workdir.glob(f"{s}.callgrind.*"), key=lambda p: p.stat().st_mtime)
            events, costs = callgrind_costs(dumps[-1])
            results[s] = {"requests": done, "statuses": seen, "events": events, "costs": costs}

        threads = [threading.Thread(target=measure, args=(s, e)) for s, e in subjects.items()]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        for e in subjects.values():
            e.stop()
        up.stop()
    report_count(args, setups, results)


def report_count(args, setups, results):
    lines = [
        f"instructions per request, whole Envoy under callgrind ({args.requests} requests "
        f"after {args.warmup} warm-up; {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())})",
        "",
        f"{'setup':<12}{'total':>10}{'Envoy':>10}{'malloc':>10}{'JIT/V8':>10}{'libc':>10}  statuses",
    ]
    per, misses = {}, {}
    for s in setups:
        r = results.get(s)
        if not r or r["requests"] <= 0:
            lines.append(f"{s:<12}  no result")
            continue
        n = r["requests"]
        ev = r["events"]
        c, m = {}, {}
        for obj, v in r["costs"].items():
            key = (
                obj
                if obj in ("jit", "anon-low")
                else "envoy" if obj.endswith("/envoy") else "libc" if "libc" in obj else "other"
            )
            c[key] = c.get(key, 0) + v[0]
            # With the cache simulation: first-level and last-level misses per object.
            for e, x in zip(ev, v):
                level = (
                    "L1"
                    if e in ("I1mr", "D1mr", "D1mw")
                    else "LL" if e in ("ILmr", "DLmr", "DLmw") else "Bm" if e in ("Bcm", "Bim") else None
                )
                if level:
                    m.setdefault(key, {}).setdefault(level, 0)
                    m[key][level] += x
        total = sum(c.values())
        per[s] = total / n
        if m:
            misses[s] = {k: {lv: x / n for lv, x in d.items()} for k, d in m.items()}
        statuses = " ".join(f"{k}x{v}" for k, v in sorted(r["statuses"].items()))
        lines.append(
            f"{s:<12}{total / n:>10,.0f}{c.get('envoy', 0) / n:>10,.0f}{c.get('anon-low', 0) / n:>10,.0f}"
            f"{c.get('jit', 0) / n:>10,.0f}{c.get('libc', 0) / n:>10,.0f}  {statuses}"
        )
    lines.append("")
    base = next((b for b in ("off", "plain") if b in per), None)
    for s in setups:
        if s in per and base and s != base:
            lines.append(f"{s}/{base}: {per[s] / per[base]:.3f} ({per[s] - per[base]:+,.0f} per request)")
    lines.append(
        "(Envoy: the envoy binary; malloc: its tcmalloc (code without a file inside the "
        "executable's mapping); JIT/V8: code without a file elsewhere, V8's compiled Wasm "
        "and stubs)"
    )
    if misses:
        # KCachegrind's cycle estimate: Ir + 10 per mispredicted branch + 10 per
        # first-level miss + 100 per last-level miss. A model, not a measurement of time:
        # valgrind takes the first-level caches from CPUID, models no L2, and falls back
        # to a 256 MiB direct-mapped last level where CPUID does not describe it (this
        # VM), so last-level misses there mean little.
        lines += [
            "",
            "simulated per request (--cache-sim): cache misses, first level (I1+D1) and last",
            "level, mispredicted branches (conditional + indirect), cycle estimate",
            f"{'setup':<12}{'L1 all':>9}{'LL all':>9}{'L1 Envoy':>10}{'L1 malloc':>10}{'L1 JIT':>9}"
            f"{'Bm all':>9}{'Bm JIT':>9}{'est. cycles':>13}",
        ]
        est = {}
        for s in setups:
            if s not in misses:
                continue
            m = misses[s]
            l1 = sum(d.get("L1", 0) for d in m.values())
            ll = sum(d.get("LL", 0) for d in m.values())
            bm = sum(d.get("Bm", 0) for d in m.values())
            est[s] = per[s] + 10 * bm + 10 * l1 + 100 * ll
            lines.append(
                f"{s:<12}{l1:>9,.0f}{ll:>9,.0f}{m.get('envoy', {}).get('L1', 0):>10,.0f}"
                f"{m.get('anon-low', {}).get('L1', 0):>10,.0f}{m.get('jit', {}).get('L1', 0):>9,.0f}"
                f"{bm:>9,.0f}{m.get('jit', {}).get('Bm', 0):>9,.0f}{est[s]:>13,.0f}"
            )
        lines.append("")
        for s in setups:
            if s in est and base in est and s != base:
                lines.append(f"{s}/{base} in estimated cycles: {est[s] / est[base]:.3f}")
    text = "\n".join(lines)
    print(text)
    outdir = Path(args.out or ROOT / "target/bench" / ("count-" + time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())))
    outdir.mkdir(parents=True, exist_ok=True)
    (outdir / "summary.txt").write_text(text + "\n")
    (outdir / "count.json").write_text(json.dumps(results, indent=1))


def run_serve(args):
    """Starts the setups and keeps them up (for profiling by hand): prints ports and pids.
    Stop it with SIGINT or SIGTERM (its Envoys are stopped too)."""

    def stop(_sig, _frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    setups = args.setups.split(",") if args.setups else SETUPS
    core_subject, core_load = cpus()
    workdir = Path(tempfile.mkdtemp(prefix="meshward-serve-"))
    up = start_upstream(workdir, core_load)
    subjects = {s: start_subject(s, workdir, core_subject, up.port) for s in setups}
    try:
        for e in subjects.values():
            e.wait_ready()
        script = bench_lua(workdir)
        print(f"upstream port {up.port} pid {up.pid}; wrk script {script}", flush=True)
        for s, e in subjects.items():
            print(f"{s} port {e.port} admin {e.admin} pid {e.pid}", flush=True)
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        for e in subjects.values():
            e.stop()
        up.stop()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("bench", help="the interleaved benchmark of the six setups")
    b.add_argument("--rounds", type=int, default=13)
    b.add_argument("--duration", type=int, default=4, help="seconds per measured run (4-5)")
    b.add_argument("--warmup", type=int, default=1, help="seconds of the warm-up run before each measured run")
    b.add_argument(
        "--setups",
        default="",
        help="comma-separated subset (default: all six); also full-<parts> (ablations), "
        "setup@b (the module at $MESHWARD_BENCH_WASM_B) and calib-noop, calib-body, "
        "calib-bodies (the calibration filter, envoy/bench/calib)",
    )
    b.add_argument("--seed", type=int, default=None, help="seed of the round orders")
    b.add_argument("--out", default="", help="results directory (default target/bench/<time>)")
    s = sub.add_parser("soak", help="the memory soak (plain vs full)")
    s.add_argument("--requests", type=int, default=1_000_000)
    s.add_argument("--out", default="")
    c = sub.add_parser("count", help="instructions per request of whole Envoys under callgrind")
    c.add_argument("--setups", default="", help="comma-separated (default: plain,off,policy)")
    c.add_argument("--requests", type=int, default=1000)
    c.add_argument("--warmup", type=int, default=300, help="requests before counting")
    c.add_argument("--out", default="", help="results directory (default target/bench/count-<time>)")
    c.add_argument(
        "--cache-sim",
        action="store_true",
        help="also simulate caches and branch prediction (valgrind --cache-sim=yes --branch-sim=yes): "
        "misses per request and an estimate in cycles",
    )
    v = sub.add_parser("serve", help="start the setups and keep them up (profiling by hand)")
    v.add_argument("--setups", default="")
    args = ap.parse_args()
    if args.cmd == "serve":
        run_serve(args)
    elif args.cmd == "count":
        run_count(args)
    elif args.cmd == "bench":
        if args.rounds < 1 or args.duration <= 0:
            sys.exit("[bench] --rounds >= 1 and --duration > 0")
        run_bench(args)
    else:
        sys.exit(0 if run_soak(args) else 1)


if __name__ == "__main__":
    main()
