#!/usr/bin/env bash
# Installs the local tools the tests and the demo use, from the package registries, into
# $TOOLS_DIR (default .tools/ in the clone). Idempotent: a second run checks and returns.
set -euo pipefail
source "$(dirname "$0")/env.sh"

venv="$TOOLS_DIR/venv"
if [ ! -x "$venv/bin/moto_server" ]; then
  log "installing moto server into $venv (PyPI, about a minute)"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check 'moto[server]>=5.1,<6'
fi
