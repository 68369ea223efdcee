#!/usr/bin/env bash
# Installs the local tools, from the package registries, into $TOOLS_DIR (default .tools/ in
# the clone). Idempotent: a second run checks and returns.
#   install-tools.sh          everything the tests use (moto, the ASL and template linters, the
#                             IAM evaluation)
#   install-tools.sh moto     only moto: what the demo, the local stack and the benchmark need
set -euo pipefail
source "$(dirname "$0")/env.sh"

venv="$TOOLS_DIR/venv"
if [ ! -x "$venv/bin/moto_server" ]; then
  log "installing moto server into $venv (PyPI, about a minute)"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check 'moto[server]>=5.1,<6'
fi
[ "${1:-all}" = "moto" ] && exit 0

# Step Functions references for the conformance and lint tests (tests/integration/conformance.rs):
# a local Node 22 (npm's `node` package; aws-local-stepfunctions 3 needs Node >= 22) with
# aws-local-stepfunctions and asl-validator in $TOOLS_DIR/node, and statelint in the venv.
# The IAM test (tests/integration/iam.rs, tests/iam/evaluate.mjs) adds @cloud-copilot/iam-simulate,
# pinned exactly because it releases often. Its licence is AGPL-3.0-or-later: it is a test tool
# installed here on the developer's or CI's machine, never bundled with or shipped in what we
# deploy (the Lambda binaries link none of it).
node_dir="$TOOLS_DIR/node"
node_manifest='{
  "private": true,
  "description": "Tools for atlas-privatelink tests, installed by scripts/install-tools.sh",
  "dependencies": {
    "node": "^22",
    "aws-local-stepfunctions": "^3",
    "asl-validator": "^4",
    "@cloud-copilot/iam-simulate": "0.1.173"
  }
}'
if [ ! -x "$node_dir/node_modules/node/bin/node" ] \
  || [ ! -f "$node_dir/node_modules/aws-local-stepfunctions/package.json" ] \
  || [ ! -f "$node_dir/node_modules/asl-validator/package.json" ] \
  || [ ! -f "$node_dir/node_modules/@cloud-copilot/iam-simulate/package.json" ] \
  || [ "$(cat "$node_dir/package.json" 2>/dev/null)" != "$node_manifest" ]; then
  log "installing node@22, aws-local-stepfunctions@3, asl-validator@4, @cloud-copilot/iam-simulate into $node_dir (npm)"
  mkdir -p "$node_dir"
  printf '%s\n' "$node_manifest" >"$node_dir/package.json"
  npm install --prefix "$node_dir" --no-audit --no-fund --loglevel=error >/dev/null
fi
if [ ! -x "$venv/bin/statelint" ]; then
  log "installing statelint into $venv (PyPI)"
  [ -x "$venv/bin/pip" ] || python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check 'statelint>=3,<4'
fi

# SAM template checks (tests/integration/infra/): aws-sam-cli for `sam validate --lint`, and
# cfn-lint plus samtranslator (which both bring) to lint the template after the SAM transform.
if [ ! -x "$venv/bin/sam" ] || [ ! -x "$venv/bin/cfn-lint" ]; then
  log "installing aws-sam-cli and cfn-lint into $venv (PyPI, about a minute)"
  [ -x "$venv/bin/pip" ] || python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check 'aws-sam-cli>=1,<2' 'cfn-lint>=1,<2'
fi

# IAM policy linter for tests/integration/iam.rs. parliament 1.6.4 imports pkg_resources, which
# setuptools 81 removed (and Python 3.12 venvs no longer bring setuptools at all): pin below 81.
if [ ! -x "$venv/bin/parliament" ]; then
  log "installing parliament into $venv (PyPI)"
  [ -x "$venv/bin/pip" ] || python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check 'parliament==1.6.4' 'setuptools<81'
fi
