//! Test kit shared by the end-to-end tests and the demo: real Envoy processes running
//! meshward.wasm, a scriptable upstream, a collector sink, and an HTTP client.

pub mod client;
pub mod curl;
pub mod envoy;
pub mod otlp;
pub mod paths;
pub mod raw;
pub mod schema;
pub mod serve;
pub mod sink;
pub mod upstream;
