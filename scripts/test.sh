#!/usr/bin/env bash
# The whole test suite, on a fresh machine: installs the peers it needs, then checks format
# and lints, builds each protocol crate as a bare sans-IO core and with every feature, runs every
# test (unit, property, doc and the interop tests against real peers), and runs each fuzz
# target for a few seconds. A missing peer fails the run; nothing is skipped.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { echo; echo "==> $*"; }

step "installing test peers"
scripts/install-peers.sh

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy (all targets, all features)"
cargo clippy --workspace --all-targets --all-features -- -D warnings

step "protocol crates: sans-IO core alone, and with every feature"
for crate in ipmi-proto pxe; do
  cargo build -p "$crate" --no-default-features
  cargo build -p "$crate" --all-features
done

step "cargo test (unit, property, doc, interop)"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
cargo test --workspace --all-features 2>&1 | tee "$log"
# Sum the per-binary results into one closing line.
awk '/^test result:/ { p += $4; f += $6 } END { printf "tests: %d passed, %d failed\n", p, f }' "$log"

step "fuzz smoke run"
scripts/fuzz-smoke.sh
