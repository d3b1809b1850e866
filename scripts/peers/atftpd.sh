#!/usr/bin/env bash
# Print the path of an atftpd binary (Debian package `atftpd`, the third TFTP anchor of the pxe
# benchmark). Debian's atftpd Conflicts with tftpd-hpa (both claim the tftp service), and the
# suite needs tftpd-hpa installed, so the package is fetched with `apt-get download` and
# unpacked (`dpkg -x`) into .peers/atftpd/ in the repository root instead of installed; its
# libraries are all present on a system with atftp (the client). Idempotent.
#   scripts/peers/atftpd.sh            fetch if missing
#   scripts/peers/atftpd.sh --check    exit 1 if missing, fetch nothing
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
DIR=${ATFTPD_PEER_DIR:-$ROOT/.peers/atftpd}

if command -v atftpd >/dev/null 2>&1; then command -v atftpd; exit 0; fi
BIN=$DIR/usr/sbin/atftpd
ready() { [ -x "$BIN" ] && "$BIN" --help 2>&1 | grep -q windowsize; }
if ready; then echo "$BIN"; exit 0; fi
[ "${1:-}" = --check ] && { echo "atftpd missing in $DIR: run scripts/peers/atftpd.sh" >&2; exit 1; }

command -v apt-get >/dev/null || { echo "atftpd.sh: needs apt-get (Debian) to fetch package atftpd" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "atftpd.sh: fetching Debian package atftpd into $DIR" >&2
# _apt cannot write into a root-only mktemp directory: make it readable, apt then warns less.
chmod 755 "$tmp"
(cd "$tmp" && apt-get download -q atftpd >&2) || {
  apt-get update -qq >&2
  (cd "$tmp" && apt-get download -q atftpd >&2)
}
mkdir -p "$DIR"
dpkg -x "$tmp"/atftpd_*.deb "$DIR"
ready || { echo "atftpd.sh: $BIN does not run (missing libraries? try apt-get install atftp)" >&2; exit 1; }
echo "$BIN"
