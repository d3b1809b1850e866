#!/usr/bin/env bash
# Create (or reuse) the Python virtualenv .venv-peers/ in the repository root with the Redfish
# peers: OpenStack's sushy-emulator (pip `sushy-tools`, the server redfish-client is tested
# against), OpenStack's sushy client (pip `sushy`, the client bmc-sim is tested with) and
# `bcrypt` (the tests write an htpasswd file with a low bcrypt cost). Idempotent; prints the
# venv's python path.
#   scripts/peers/sushy.sh            install if missing
#   scripts/peers/sushy.sh --check    exit 1 if missing, install nothing
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
VENV=${REDFISH_PEER_VENV:-$ROOT/.venv-peers}
SUSHY_TOOLS_VERSION=${SUSHY_TOOLS_VERSION:-2.2.0}

SUSHY_VERSION=${SUSHY_VERSION:-5.14.0}

ready() { "$VENV/bin/python" -c 'import sushy_tools.emulator.main, bcrypt, sushy' >/dev/null 2>&1; }

if ready; then echo "$VENV/bin/python"; exit 0; fi
[ "${1:-}" = --check ] && { echo "sushy-tools missing in $VENV: run scripts/peers/sushy.sh" >&2; exit 1; }

command -v python3 >/dev/null || { echo "sushy.sh: python3 is needed (Debian: apt-get install python3 python3-venv)" >&2; exit 1; }
command -v openssl >/dev/null || { echo "sushy.sh: openssl is needed (Debian: apt-get install openssl)" >&2; exit 1; }
echo "sushy.sh: creating $VENV with sushy-tools==$SUSHY_TOOLS_VERSION" >&2
python3 -m venv "$VENV"
"$VENV/bin/pip" install -q --disable-pip-version-check "sushy-tools==$SUSHY_TOOLS_VERSION" \
  "sushy==$SUSHY_VERSION" bcrypt >&2
ready || { echo "sushy.sh: sushy-tools did not install into $VENV" >&2; exit 1; }
echo "$VENV/bin/python"
