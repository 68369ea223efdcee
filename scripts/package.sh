#!/usr/bin/env bash
# Builds the one Lambda binary (every function runs it, selected by ATLAS_PRIVATELINK_FUNCTION)
# as an arm64 zip for provided.al2023, with cargo-lambda (and its Zig cross-linker) from PyPI,
# and reports its size. Slow (a release build of the AWS SDK for aarch64 and one LTO link), so
# it is not part of the test command.
#   ./scripts/package.sh            -> $CARGO_TARGET_DIR/lambda/privatelink-function/bootstrap.zip
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"

venv="$TOOLS_DIR/venv"
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
if [ ! -x "$venv/bin/cargo-lambda" ]; then
  log "installing cargo-lambda (and Zig) from PyPI into $venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check 'cargo-lambda>=1.8,<2'
fi
export PATH="$venv/bin:$PATH"
rustup target list --installed | grep -q '^aarch64-unknown-linux-gnu$' \
  || rustup target add aarch64-unknown-linux-gnu

started=$(date +%s)
log "cargo lambda build --release --arm64 --output-format zip (the one Lambda binary)"
cargo lambda build --release --arm64 --output-format zip -p privatelink-lambdas
log "built in $(( $(date +%s) - started )) s"

printf '%-28s %10s %10s\n' function zip_bytes binary_bytes
for zip in "$CARGO_TARGET_DIR"/lambda/*/bootstrap.zip; do
  dir=$(dirname "$zip")
  printf '%-28s %10s %10s\n' "$(basename "$dir")" "$(stat -c %s "$zip")" \
    "$(python3 -c 'import sys,zipfile; print(zipfile.ZipFile(sys.argv[1]).getinfo("bootstrap").file_size)' "$zip")"
done
