# Shared settings for the project's scripts; sourced, not run.
# The Cargo target directory lives outside the clone, so a fresh clone on a machine that has
# built the project before compiles in seconds instead of minutes (the AWS SDK is the cost).
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/atlas-privatelink/target}"
# Local tools (moto in a Python venv, Node packages) are installed under the clone, ignored by git.
export TOOLS_DIR="${TOOLS_DIR:-$ROOT/.tools}"
mkdir -p "$CARGO_TARGET_DIR" "$TOOLS_DIR"

log() { printf '==> %s\n' "$*" >&2; }
