//! Benchmarks; see the README.
