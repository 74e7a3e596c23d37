//! Placeholder until the bridge benchmark lands.
fn main() {}
