//! Placeholder: filled by the detect benchmark.
fn main() {}
