// A minimal proxy-wasm host on Node.js (V8, the engine Envoy embeds): loads the module,
// configures it with a pluginConfig and runs the benchmark traffic of
// envoy/bench/harness.py through the HTTP callbacks, so the module's own cost under V8
// can be measured and profiled (`node --cpu-prof`, with the function names of a
// module built with its name section) without Envoy. Used by scripts/v8bench.sh.
//
// usage: node v8host.mjs MODULE CONFIG.json REQUESTS
// Prints one JSON line: µs per request (module and this host together) and the host
// calls per request by kind. Not a model of Envoy's cost: the host side here is
// JavaScript; compare modules or setups with it, not with Envoy's figures.
import fs from "node:fs";
import crypto from "node:crypto";
import path from "node:path";
import { fileURLToPath } from "node:url";

const [modPath, cfgPath, nArg] = process.argv.slice(2);
const N = Number(nArg || 100000);
const here = path.dirname(fileURLToPath(import.meta.url));
const respBody = fs.readFileSync(path.join(here, "response.json"));
const reqBody = fs.readFileSync(path.join(here, "request.json"));
const pluginConfig = fs.readFileSync(cfgPath);

let inst, mem, lastBuf, u8view, dview;
function fresh() {
  if (mem.buffer !== lastBuf) {
    lastBuf = mem.buffer;
    u8view = new Uint8Array(lastBuf);
    dview = new DataView(lastBuf);
  }
}
const u8 = () => (fresh(), u8view);
const dv = () => (fresh(), dview);
const enc = new TextEncoder();
const dec = new TextDecoder();
const str = (p, n) => dec.decode(u8().subarray(p, p + n));
function give(bytes, retPtr, retSize) {
  const p = bytes.length ? inst.exports.proxy_on_memory_allocate(bytes.length) : 0;
  if (bytes.length) u8().set(bytes, p);
  dv().setUint32(retPtr, p, true);
  dv().setUint32(retSize, bytes.length, true);
  return 0;
}
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
// Per-stream state.
let reqHeaders = [], respHeaders = [], reqMap, respMap, buffers = {}, connId = 1;
const shared = new Map();
let cas = 1, metrics = 0, calls = {};
const count = (k) => { calls[k] = (calls[k] || 0) + 1; };
const connIds = Array.from({ length: 64 }, (_, i) => le64(i));
const PROPS = ({
  "xds\0listener_direction": le64(1),
  "connection\0mtls": Buffer.from([0]),
  "source\0address": Buffer.from("127.0.0.1:40000"),
  "plugin_name": Buffer.from("istio-system.meshward"),
  "response\0code": le64(200),
  "request\0duration": le64(1000000),
  "request\0size": le64(0),
  "response\0size": le64(respBody.length),
});

const env = {
  proxy_log: (lvl, p, n) => { if (lvl >= 3) console.error("wasm log", lvl, str(p, n)); return 0; },
  proxy_set_tick_period_milliseconds: () => 0,
  proxy_get_buffer_bytes: (t, start, max, rp, rs) => {
    count("get_buffer");
    const b = t === 7 ? pluginConfig : t === 6 ? Buffer.alloc(0) : buffers[t];
    if (!b) return 1;
    return give(b.subarray(start >>> 0, (start >>> 0) + (max >>> 0)), rp, rs);
  },
  proxy_set_buffer_bytes: (t, start, size, p, n) => { count("set_buffer"); buffers[t] = Buffer.from(u8().subarray(p, p + n)); return 0; },
  proxy_set_property: () => 0,
  proxy_get_property: (p, n, rp, rs) => {
    count("property");
    const k = str(p, n);
    const v = k === "connection\0id" ? connIds[connId] : PROPS[k];
    if (!v) return 1;
    return give(v, rp, rs);
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
  proxy_get_current_time_nanoseconds: (rp) => { count("clock"); dv().setBigUint64(rp, BigInt(Date.now()) * 1000000n, true); return 0; },
  proxy_get_header_map_pairs: (t, rp, rs) => {
    count("header_map");
    return give(t === 0 ? reqMap : respMap, rp, rs);
  },
  proxy_get_header_map_value: (t, kp, kn, rp, rs) => {
    count("header_value");
    const k = str(kp, kn);
    const e = (t === 0 ? reqHeaders : respHeaders).find(([n]) => n === k);
    if (!e) return 1;
    return give(Buffer.from(e[1]), rp, rs);
  },
  proxy_set_header_map_pairs: () => 0,
  proxy_add_header_map_value: () => 0,
  proxy_replace_header_map_value: () => { count("header_set"); return 0; },
  proxy_remove_header_map_value: () => { count("header_set"); return 0; },
  proxy_define_metric: (t, p, n, rid) => { dv().setUint32(rid, ++metrics, true); return 0; },
  proxy_increment_metric: () => { count("metric"); return 0; },
  proxy_record_metric: () => { count("metric"); return 0; },
  proxy_get_metric: () => 0,
  proxy_http_call: (a, b, c, d, e, f, g, h, i, rt) => { count("http_call"); dv().setUint32(rt, 1, true); return 0; },
  proxy_send_local_response: () => { count("local_response"); return 0; },
  proxy_continue_stream: () => 0, proxy_close_stream: () => 0, proxy_get_status: () => 0,
  proxy_done: () => 0, proxy_set_effective_context: () => 0, proxy_call_foreign_function: () => 1,
  proxy_grpc_cancel: () => 0, proxy_grpc_close: () => 0, proxy_grpc_send: () => 0, proxy_grpc_stream: () => 1, proxy_grpc_call: () => 1,
  proxy_dequeue_shared_queue: () => 1, proxy_enqueue_shared_queue: () => 1, proxy_resolve_shared_queue: () => 1, proxy_register_shared_queue: () => 1,
};
const wasi = {
  random_get: (p, n) => { u8().set(crypto.randomBytes(n), p); return 0; },
  environ_get: () => 0,
  environ_sizes_get: (pc, ps) => { dv().setUint32(pc, 0, true); dv().setUint32(ps, 0, true); return 0; },
  fd_write: () => 0, proc_exit: () => { throw new Error("proc_exit"); },
};

const module = new WebAssembly.Module(fs.readFileSync(modPath));
inst = new WebAssembly.Instance(module, { env, wasi_snapshot_preview1: wasi });
mem = inst.exports.memory;
const x = inst.exports;
x._initialize?.();
x.proxy_on_context_create(1, 0);
if (!x.proxy_on_vm_start(1, 0)) throw new Error("vm_start");
if (!x.proxy_on_configure(1, pluginConfig.length)) throw new Error("configure refused");

function b64url(b) { return Buffer.from(b).toString("base64url"); }
const tokens = [];
for (let k = 0; k < 100; k++) {
  const payload = `{"iss":"https://idp.example.com","sub":"user-${String(k).padStart(4, "0")}","aud":"bench","iat":1735689600,"exp":4102444800,"role":"customer"}`;
  tokens.push(`${b64url('{"alg":"HS256","typ":"JWT"}')}.${b64url(payload)}.${b64url(Buffer.alloc(32, 7))}`);
}
const gets = ["/api/v1/users/{id}", "/api/v1/users/{id}/orders", "/api/v1/orders/{id}", "/api/v1/products/{id}/reviews"];
const traffic = [];
for (let k = 0; k < 400; k++) {
  const post = k % 4 === 3;
  const path = post ? "/api/v1/orders" : gets[k % 4].replace("{id}", String(100000 + (k * 7919) % 100));
  const h = [[":authority", "127.0.0.1:8080"], [":path", path], [":method", post ? "POST" : "GET"], [":scheme", "http"],
    ["authorization", "Bearer " + tokens[k % 100]], ["accept", "application/json"], ["user-agent", "wrk"],
    ["x-forwarded-proto", "http"], ["x-request-id", "5f0c6a4e-6d1b-4b7e-9d8a-2b1c3d4e5f60"]];
  if (post) h.push(["content-type", "application/json"], ["content-length", String(reqBody.length)]);
  traffic.push({ h, post, map: serMap(h) });
}
const rh = [[":status", "200"], ["content-length", String(respBody.length)], ["content-type", "application/json"],
  ["date", "Sat, 29 Nov 2025 03:00:00 GMT"], ["server", "envoy"], ["x-envoy-upstream-service-time", "0"]];
const rhMap = serMap(rh);

function one(id, r) {
  reqHeaders = r.h; respHeaders = rh; reqMap = r.map; respMap = rhMap; buffers = { 0: r.post ? reqBody : undefined, 1: respBody };
  connId = 1 + (id % 16);
  x.proxy_on_context_create(id, 1);
  x.proxy_on_request_headers(id, r.h.length, r.post ? 0 : 1);
  if (r.post) x.proxy_on_request_body(id, reqBody.length, 1);
  x.proxy_on_response_headers(id, rh.length, 0);
  x.proxy_on_response_body(id, respBody.length, 1);
  x.proxy_on_log(id);
  x.proxy_on_done(id);
  x.proxy_on_delete(id);
}
let id = 2;
for (let i = 0; i < 20000; i++) one(id++, traffic[i % 400]);
calls = {};
const t0 = process.hrtime.bigint();
for (let i = 0; i < N; i++) one(id++, traffic[i % 400]);
const ns = Number(process.hrtime.bigint() - t0) / N;
const per = Object.fromEntries(Object.entries(calls).map(([k, v]) => [k, +(v / N).toFixed(2)]));
console.log(JSON.stringify({ us_per_request: +(ns / 1000).toFixed(2), host_calls: per }));
