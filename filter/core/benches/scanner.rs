//! Placeholder: filled by the scanner benchmark.
fn main() {}
