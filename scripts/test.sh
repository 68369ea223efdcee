#!/usr/bin/env bash
# The whole test suite: formatting, lints, unit, integration and end-to-end tests.
# Installs what the tests need (moto from PyPI into a local venv) on first use.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"

"$ROOT/scripts/install-tools.sh"
export MOTO_SERVER_BIN="$TOOLS_DIR/venv/bin/moto_server"

log "cargo fmt --check"
cargo fmt --all -- --check
log "cargo clippy --all-targets -- -D warnings"
cargo clippy --workspace --all-targets --locked -- -D warnings
log "cargo test --workspace"
cargo test --workspace --locked
