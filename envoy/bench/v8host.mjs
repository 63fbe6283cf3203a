// A minimal proxy-wasm host on Node.js (V8, the engine Envoy embeds): loads modules,
// configures each with a pluginConfig and runs the benchmark traffic of
// envoy/bench/harness.py through the HTTP callbacks, so a module's own cost under V8
// can be measured and profiled (`node --cpu-prof`, with the function names of a
// module built with its name section) without Envoy. Used by scripts/v8bench.sh.
//
// usage: node v8host.mjs CONFIG.json REQUESTS ROUNDS MODULE
// Prints one JSON line: the median over ROUNDS runs of REQUESTS requests of µs per
// request, and the host calls per request by kind. µs per request counts the module
// and this host together: the host side here is JavaScript, not Envoy; compare
// modules or setups with it, not with Envoy's figures. (One module per process: two
// instances in one process measured the second ~10 % slower with identical modules.)
//
// The clock is simulated: it advances REQUEST_NS per request (a worker at 2,000
// requests/s), and the root context gets a tick every period the module asked for
// (`proxy_set_tick_period_milliseconds`) of that time, as Envoy would call it. A POST
// to the collector is answered 200 after the next tick (one made in a tick, right
// after it), so the event queue drains and batches are built and sent as in Envoy, and
// the counts do not depend on how fast the host runs (under callgrind or not).
import fs from "node:fs";
import crypto from "node:crypto";
import path from "node:path";
import { fileURLToPath } from "node:url";

const [cfgPath, nArg, roundsArg, modPath] = process.argv.slice(2);
const N = Number(nArg || 100000);
const ROUNDS = Number(roundsArg || 1);
const here = path.dirname(fileURLToPath(import.meta.url));
const respBody = fs.readFileSync(path.join(here, "response.json"));
const reqBody = fs.readFileSync(path.join(here, "request.json"));
const pluginConfig = fs.readFileSync(cfgPath);
const dec = new TextDecoder();
const REQUEST_NS = 500000n;

function serMap(pairs) {
  let size = 4;
  for (const [k, v] of pairs) size += 8 + k.length + 1 + v.length + 1;
  const b = Buffer.alloc(size);
  b.writeUInt32LE(pairs.length, 0);
  let o = 4;
  for (const [k, v] of pairs) { b.writeUInt32LE(k.length, o); b.writeUInt32LE(v.length, o + 4); o += 8; }
  for (const [k, v] of pairs) { b.write(k, o); o += k.length + 1; b.write(v, o); o += v.length + 1; }
  return b;
}
const le64 = (v) => { const b = Buffer.alloc(8); b.writeBigInt64LE(BigInt(v)); return b; };
const connIds = Array.from({ length: 64 }, (_, i) => le64(i));
const PROPS = {
  "xds\0listener_direction": le64(1),
  "connection\0mtls": Buffer.from([0]),
  "source\0address": Buffer.from("127.0.0.1:40000"),
  "plugin_name": Buffer.from("istio-system.meshward"),
  "response\0code": le64(200),
  "request\0duration": le64(1000000),
  "request\0size": le64(0),
  "response\0size": le64(respBody.length),
};

// The traffic: 3 GETs and 1 POST of the 1 KiB body, 100 JWT accounts.
const b64url = (b) => Buffer.from(b).toString("base64url");
const tokens = [];
for (let k = 0; k < 100; k++) {
  const payload = `{"iss":"https://idp.example.com","sub":"user-${String(k).padStart(4, "0")}","aud":"bench","iat":1735689600,"exp":4102444800,"role":"customer"}`;
  tokens.push(`${b64url('{"alg":"HS256","typ":"JWT"}')}.${b64url(payload)}.${b64url(Buffer.alloc(32, 7))}`);
}
const gets = ["/api/v1/users/{id}", "/api/v1/users/{id}/orders", "/api/v1/orders/{id}", "/api/v1/products/{id}/reviews"];
const traffic = [];
for (let k = 0; k < 400; k++) {
  const post = k % 4 === 3;
  const p = post ? "/api/v1/orders" : gets[k % 4].replace("{id}", String(100000 + (k * 7919) % 100));
  const h = [[":authority", "127.0.0.1:8080"], [":path", p], [":method", post ? "POST" : "GET"], [":scheme", "http"],
    ["authorization", "Bearer " + tokens[k % 100]], ["accept", "application/json"], ["user-agent", "wrk"],
    ["x-forwarded-proto", "http"], ["x-request-id", "5f0c6a4e-6d1b-4b7e-9d8a-2b1c3d4e5f60"]];
  if (post) h.push(["content-type", "application/json"], ["content-length", String(reqBody.length)]);
  traffic.push({ h, post, map: serMap(h) });
}
const rh = [[":status", "200"], ["content-length", String(respBody.length)], ["content-type", "application/json"],
  ["date", "Sat, 29 Nov 2025 03:00:00 GMT"], ["server", "envoy"], ["x-envoy-upstream-service-time", "0"]];
const rhMap = serMap(rh);
// The collector's answer to every POST.
const callAnswer = [[":status", "200"]];
const callAnswerMap = serMap(callAnswer);

/** One module instance with its own host state; returns `run(n)` (ns per request). */
function load(modPath) {
  let inst, mem, lastBuf, u8view, dview;
  const fresh = () => {
    if (mem.buffer !== lastBuf) {
      lastBuf = mem.buffer;
      u8view = new Uint8Array(lastBuf);
      dview = new DataView(lastBuf);
    }
  };
  const u8 = () => (fresh(), u8view);
  const dv = () => (fresh(), dview);
  const str = (p, n) => dec.decode(u8().subarray(p, p + n));
  const give = (bytes, retPtr, retSize) => {
    const p = bytes.length ? inst.exports.proxy_on_memory_allocate(bytes.length) : 0;
    if (bytes.length) u8().set(bytes, p);
    dv().setUint32(retPtr, p, true);
    dv().setUint32(retSize, bytes.length, true);
    return 0;
  };
  // Per-stream state.
  let req = traffic[0], buffers = {}, connId = 1, cas = 1, metrics = 0;
  // Simulated time (ns), the next tick's time, and the POST waiting for its answer.
  let clock = 1764385200000000000n, tickNs = 0n, nextTick = clock, callToken = 0, pendingCall = 0;
  const shared = new Map();
  const calls = {};
  const count = (k) => { calls[k] = (calls[k] || 0) + 1; };
  const env = {
    proxy_log: (lvl, p, n) => { if (lvl >= 3) console.error("wasm log", lvl, str(p, n)); return 0; },
    proxy_set_tick_period_milliseconds: (ms) => { tickNs = BigInt(ms) * 1000000n; nextTick = clock + tickNs; return 0; },
    proxy_get_buffer_bytes: (t, start, max, rp, rs) => {
      count("get_buffer");
      const b = t === 7 ? pluginConfig : buffers[t];
      if (!b) return 1;
      return give(b.subarray(start >>> 0, (start >>> 0) + (max >>> 0)), rp, rs);
    },
    proxy_set_buffer_bytes: (t, start, size, p, n) => {
      count("set_buffer");
      buffers[t] = Buffer.from(u8().subarray(p, p + n));
      return 0;
    },
    proxy_set_property: () => 0,
    proxy_get_property: (p, n, rp, rs) => {
      count("property");
      const k = str(p, n);
      const v = k === "connection\0id" ? connIds[connId] : PROPS[k];
      return v ? give(v, rp, rs) : 1;
    },
    proxy_get_shared_data: (kp, kn, rp, rs, rc) => {
      count("shared_get");
      const e = shared.get(str(kp, kn));
      if (!e) return 1;
      give(e[0], rp, rs);
      dv().setUint32(rc, e[1], true);
      return 0;
    },
    proxy_set_shared_data: (kp, kn, vp, vn, c) => {
      count("shared_set");
      const k = str(kp, kn), e = shared.get(k);
      if (c && e && e[1] !== c) return 8;
      shared.set(k, [Buffer.from(u8().subarray(vp, vp + vn)), ++cas]);
      return 0;
    },
    proxy_get_current_time_nanoseconds: (rp) => {
      count("clock");
      dv().setBigUint64(rp, clock, true);
      return 0;
    },
    proxy_get_header_map_pairs: (t, rp, rs) => {
      count("header_map");
      return give(t === 0 ? req.map : t === 6 ? callAnswerMap : rhMap, rp, rs);
    },
    proxy_get_header_map_value: (t, kp, kn, rp, rs) => {
      count("header_value");
      const k = str(kp, kn);
      const e = (t === 0 ? req.h : t === 6 ? callAnswer : rh).find(([name]) => name === k);
      return e ? give(Buffer.from(e[1]), rp, rs) : 1;
    },
    proxy_set_header_map_pairs: () => 0,
    proxy_add_header_map_value: () => 0,
    proxy_replace_header_map_value: () => { count("header_set"); return 0; },
    proxy_remove_header_map_value: () => { count("header_set"); return 0; },
    proxy_define_metric: (t, p, n, rid) => { dv().setUint32(rid, ++metrics, true); return 0; },
    proxy_increment_metric: () => { count("metric"); return 0; },
    proxy_record_metric: () => { count("metric"); return 0; },
    proxy_get_metric: () => 0,
    proxy_http_call: (a, b, c, d, e, f, g, h, i, rt) => {
      count("http_call");
      pendingCall = ++callToken;
      dv().setUint32(rt, pendingCall, true);
      return 0;
    },
    proxy_send_local_response: () => { count("local_response"); return 0; },
    proxy_continue_stream: () => 0, proxy_close_stream: () => 0, proxy_get_status: () => 0,
    proxy_done: () => 0, proxy_set_effective_context: () => 0, proxy_call_foreign_function: () => 1,
    proxy_grpc_cancel: () => 0, proxy_grpc_close: () => 0, proxy_grpc_send: () => 0,
    proxy_grpc_stream: () => 1, proxy_grpc_call: () => 1,
    proxy_dequeue_shared_queue: () => 1, proxy_enqueue_shared_queue: () => 1,
    proxy_resolve_shared_queue: () => 1, proxy_register_shared_queue: () => 1,
  };
  const wasi = {
    random_get: (p, n) => { u8().set(crypto.randomBytes(n), p); return 0; },
    environ_get: () => 0,
    environ_sizes_get: (pc, ps) => { dv().setUint32(pc, 0, true); dv().setUint32(ps, 0, true); return 0; },
    fd_write: () => 0,
    proc_exit: () => { throw new Error("proc_exit"); },
  };
  inst = new WebAssembly.Instance(new WebAssembly.Module(fs.readFileSync(modPath)), { env, wasi_snapshot_preview1: wasi });
  mem = inst.exports.memory;
  const x = inst.exports;
  x._initialize?.();
  x.proxy_on_context_create(1, 0);
  if (!x.proxy_on_vm_start(1, 0)) throw new Error(`${modPath}: proxy_on_vm_start failed`);
  if (!x.proxy_on_configure(1, pluginConfig.length)) throw new Error(`${modPath}: pluginConfig refused`);
  let id = 2;
  const one = (r) => {
    req = r;
    buffers = { 0: r.post ? reqBody : undefined, 1: respBody };
    connId = 1 + (id % 16);
    x.proxy_on_context_create(id, 1);
    x.proxy_on_request_headers(id, r.h.length, r.post ? 0 : 1);
    if (r.post) x.proxy_on_request_body(id, reqBody.length, 1);
    x.proxy_on_response_headers(id, rh.length, 0);
    x.proxy_on_response_body(id, respBody.length, 1);
    x.proxy_on_log(id);
    x.proxy_on_done(id);
    x.proxy_on_delete(id);
    id++;
    clock += REQUEST_NS;
    if (tickNs && clock >= nextTick) {
      nextTick = clock + tickNs;
      // The POST made before this tick (in the answer to the one before) is answered
      // first, then one the tick makes.
      for (let k = 0; k < 2; k++) {
        if (k) x.proxy_on_tick(1);
        if (pendingCall) {
          const token = pendingCall;
          pendingCall = 0;
          x.proxy_on_http_call_response(1, token, callAnswer.length, 0, 0);
        }
      }
    }
  };
  let served = 0;
  const run = (n) => {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < n; i++) one(traffic[(served + i) % traffic.length]);
    served += n;
    return Number(process.hrtime.bigint() - t0) / n;
  };
  const perRequest = () => Object.fromEntries(Object.entries(calls).map(([k, v]) => [k, +(v / served).toFixed(4)]));
  return { run, perRequest, reset: () => { for (const k in calls) delete calls[k]; served = 0; } };
}

const mod = load(modPath);
mod.run(20000); // warm-up: V8 tiers up, caches fill
mod.reset();
const times = [];
for (let r = 0; r < ROUNDS; r++) times.push(mod.run(N) / 1000);
times.sort((a, b) => a - b);
console.log(JSON.stringify({
  us_per_request: +times[Math.floor(times.length / 2)].toFixed(2),
  host_calls: mod.perRequest(),
}));
