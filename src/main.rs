//! The `parley` daemon and tools.

fn main() {}
