//! Event records and their export: record types, wire encoding, and the bounded
//! per-worker queue that batches them for the collector.

mod call_json;
pub mod encode;
pub mod queue;
pub mod record;

pub use encode::{entry, entry_into, Frame};
pub use queue::{Batch, Completion, EventQueue, QueueConfig, SendResult};
pub use record::*;
