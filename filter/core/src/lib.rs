//! meshward-core: the host-agnostic logic of the meshward API security filter.
//!
//! Nothing here talks to a proxy. The wasm adapter (`filter/wasm`) reads what Envoy
//! offers, hands it to an [`exchange::Exchange`], and applies the decision values it
//! gets back; time, metrics and shared data come through the narrow [`host::Host`]
//! trait, so everything here is tested natively, on wasm32, and with a fake clock.

pub mod abi;
pub mod api;
pub mod behavior;
pub mod clock;
pub mod config;
pub mod detect;
pub mod events;
pub mod exchange;
pub mod findings;
pub mod host;
pub mod identity;
pub mod inventory;
pub mod json;
pub mod matcher;
pub mod peer;
pub mod protect;
pub mod runtime;
pub mod sensitive;
pub mod stats;
pub mod text;

#[cfg(test)]
mod test_util;

/// Version of this module, reported in `meshward_config_info{version}`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
