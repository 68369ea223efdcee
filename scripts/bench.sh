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
#   ./scripts/bench.sh --skip-cold-start          # sections 2 to 4
#   ./scripts/bench.sh --sections lag --runs 50   # one section
#   ./scripts/bench.sh --help
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"

# moto installs (about a minute, mostly network) while cargo builds.
moto_log="$TOOLS_DIR/install-moto.log"
"$ROOT/scripts/install-tools.sh" moto >"$moto_log" 2>&1 &
moto_pid=$!

# One release build for everything the benchmark runs: the Lambda binary and the two baselines
# the cold-start section measures, and the benchmark itself. Built together they share one
# compilation of the AWS SDK (a debug build of the benchmark would compile it a second time,
# about 6 minutes here), and the benchmark's own side of the local world runs optimised, which
# leaves the CPU to moto. The set is the same with --skip-cold-start, so the cache is reused.
started=$(date +%s)
log "cargo build --release: the Lambda binary, the hello-world and reference baselines, the benchmark (slow when cold: the AWS SDK in release)"
cargo build --release -p privatelink-lambdas -p bench-hello -p bench-reference -p atlas-privatelink-bench
log "release build took $(( $(date +%s) - started )) s"

if ! wait "$moto_pid"; then
  cat "$moto_log" >&2
  exit 1
fi
cat "$moto_log" >&2
export MOTO_SERVER_BIN="$TOOLS_DIR/venv/bin/moto_server"
# moto loads its catalogue of public AMIs into every account's EC2 on first use (0.14 s and
# 4 MB each); the scale section's fleet seeds 1,200 accounts and nothing here uses an AMI.
export MOTO_EC2_LOAD_DEFAULT_AMIS="${MOTO_EC2_LOAD_DEFAULT_AMIS:-false}"
exec "$CARGO_TARGET_DIR/release/atlas-privatelink-bench" "$@"
