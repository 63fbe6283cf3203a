//! Sensitive data: the type catalog, validators, the payload scanner and masking.

pub mod catalog;
pub mod keys;
pub mod mask;
pub mod scan;
mod shapes;
pub mod validate;

pub use mask::{value_hash, MaskStats};
pub use scan::{Classifier, Found, Hits};
pub use validate::Date;
