#!/usr/bin/env bash
# The main job, locally: moto and the Atlas simulator are started, a VPC, subnets, a cluster
# and credentials are seeded, statemachine/provision.asl.json runs with the real step code,
# the stored secret is printed (password masked), and everything is torn down again.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"

"$ROOT/scripts/install-tools.sh" moto
export MOTO_SERVER_BIN="$TOOLS_DIR/venv/bin/moto_server"
log "building the atlas-privatelink CLI"
cargo build --quiet --locked -p atlas-privatelink
exec "$CARGO_TARGET_DIR/debug/atlas-privatelink" demo
