#!/usr/bin/env bash
# The benchmark: prints a Markdown table of
#   1. cold start of the Lambda binary as each function (release profile, host build) vs a
#      reference that builds the AWS config and one client, peak RSS, sizes;
#   2. detection lag, Atlas calls, state transitions, GB-s and cost per provisioning run on
#      seeded simulated delays, beside the peers' published polling cadences;
#   3. provisionings at once under the simulator's rate limit, one VPC per target account
#      reached through a role (as account vending makes them): 200 (4 projects x 50 VPCs) beside
#      their goals (all succeed, <= 1.12x one run, 429s <= 5 % of <= 1,500 Atlas requests), then a
#      fleet of 1,000 (20 x 50; --fleet-projects 0 leaves it out) showing how Atlas requests,
#      429s and real time per execution grow;
#   4. what one verify (the drift check) costs: in sync, after a rotated password, after a
#      revoked ingress rule.
# Everything runs on this machine (moto, the Atlas simulator, virtual time); no network beyond
# 127.0.0.1. Options go to the bench binary, e.g.
#   ./scripts/bench.sh --skip-cold-start          # sections 2 to 4 (no release build)
#   ./scripts/bench.sh --sections lag --runs 50   # one section
#   ./scripts/bench.sh --help
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"

"$ROOT/scripts/install-tools.sh" moto

cold=1
sections="cold,lag,scale,verify"
prev=""
for arg in "$@"; do
  case "$arg" in
    --skip-cold-start) cold=0 ;;
    --sections=*) sections="${arg#--sections=}" ;;
    -h|--help) cold=0 ;;
  esac
  [ "$prev" = "--sections" ] && sections="$arg"
  prev="$arg"
done
[[ ",$sections," == *",cold,"* ]] || cold=0

if [ "$cold" = 1 ]; then
  started=$(date +%s)
  log "cargo build --release: the Lambda binary and the hello-world baseline (slow when cold: the AWS SDK in release)"
  cargo build --release -p privatelink-lambdas -p bench-hello -p bench-reference
  log "release build took $(( $(date +%s) - started )) s"
fi

export MOTO_SERVER_BIN="$TOOLS_DIR/venv/bin/moto_server"
# moto loads its catalogue of public AMIs into every account's EC2 on first use (0.14 s and
# 4 MB each); the scale section's fleet seeds 1,200 accounts and nothing here uses an AMI.
export MOTO_EC2_LOAD_DEFAULT_AMIS="${MOTO_EC2_LOAD_DEFAULT_AMIS:-false}"
log "cargo build -p atlas-privatelink-bench"
cargo build -p atlas-privatelink-bench
exec "$CARGO_TARGET_DIR/debug/atlas-privatelink-bench" "$@"
