//! Sensitive data: the type catalog, validators, the payload scanner and masking.

pub mod catalog;
