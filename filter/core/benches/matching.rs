//! Placeholder: filled by the matching benchmark.
fn main() {}
