#!/usr/bin/env bash
# Make sure the Python virtualenv .venv-peers/ in the repository root has scapy (pip
# `scapy`), the packet library pxe's DHCP tests use as an independent client: it sends the
# exact DISCOVERs of real firmware on a veth in a test namespace and dissects the replies
# (scripts/peers/pxe-scapy-send.py). Idempotent; prints the venv's python path.
#   scripts/peers/scapy.sh            install if missing
#   scripts/peers/scapy.sh --check    exit 1 if missing, install nothing
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
VENV=${PXE_PEER_VENV:-$ROOT/.venv-peers}
SCAPY_VERSION=${SCAPY_VERSION:-2.6.1}

ready() { "$VENV/bin/python" -c 'import scapy.all' >/dev/null 2>&1; }

if ready; then echo "$VENV/bin/python"; exit 0; fi
[ "${1:-}" = --check ] && { echo "scapy missing in $VENV: run scripts/peers/scapy.sh" >&2; exit 1; }

command -v python3 >/dev/null || { echo "scapy.sh: python3 is needed (Debian: apt-get install python3 python3-venv)" >&2; exit 1; }
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
echo "scapy.sh: installing scapy==$SCAPY_VERSION into $VENV" >&2
"$VENV/bin/pip" install -q --disable-pip-version-check "scapy==$SCAPY_VERSION" >&2
ready || { echo "scapy.sh: scapy did not install into $VENV" >&2; exit 1; }
echo "$VENV/bin/python"
