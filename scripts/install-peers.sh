#!/usr/bin/env bash
# Install what the test suite needs, only when it is missing: the real protocol peers (Debian
# packages) and cargo-fuzz. Needs root (or sudo) for apt-get. Idempotent; caches nothing.
set -euo pipefail

# program -> Debian package providing it
declare -A PEERS=(
  [ipmitool]=ipmitool
  [ipmi_sim]=openipmi
  [ipmipower]=freeipmi-tools
  [bmc-info]=freeipmi-tools
  [tshark]=tshark
  [qemu-img]=qemu-utils
  [gzip]=gzip
  [zstd]=zstd
  [xz]=xz-utils
  [bzip2]=bzip2
  [losetup]=mount
  [sgdisk]=gdisk
  [sfdisk]=fdisk
  [blkid]=util-linux
  [mcopy]=mtools
  [mke2fs]=e2fsprogs
  [script]=bsdutils
  [openssl]=openssl
  [bmaptool]=bmap-tools
  [curl]=curl
  [atftp]=atftp
  [tftp]=tftp-hpa
  [busybox]=busybox
  [ip]=iproute2
  [qemu-system-x86_64]=qemu-system-x86
  [dnsmasq]=dnsmasq
  [in.tftpd]=tftpd-hpa
  [perfdhcp]=kea-admin
  [dhclient]=isc-dhcp-client
)
# data files (not programs) -> Debian package providing them
declare -A PEER_FILES=(
  [/usr/lib/ipxe/qemu/pxe-e1000.rom]=ipxe-qemu
  [/usr/lib/ipxe/ipxe.efi]=ipxe
  [/usr/share/OVMF/OVMF_CODE_4M.fd]=ovmf
)

missing=()
for prog in "${!PEERS[@]}"; do
  command -v "$prog" >/dev/null 2>&1 || missing+=("${PEERS[$prog]}")
done
for f in "${!PEER_FILES[@]}"; do
  [ -e "$f" ] || missing+=("${PEER_FILES[$f]}")
done

if [ ${#missing[@]} -gt 0 ]; then
  mapfile -t pkgs < <(printf '%s\n' "${missing[@]}" | sort -u)
  echo "install-peers: installing Debian packages: ${pkgs[*]}"
  SUDO=()
  if [ "$(id -u)" != 0 ]; then
    command -v sudo >/dev/null 2>&1 || { echo "install-peers: need root or sudo to install ${pkgs[*]}" >&2; exit 1; }
    SUDO=(sudo)
  fi
  export DEBIAN_FRONTEND=noninteractive
  # tshark asks whether non-root users may capture: answer no, without a prompt.
  echo "wireshark-common wireshark-common/install-setuid boolean false" | "${SUDO[@]}" debconf-set-selections 2>/dev/null || true
  "${SUDO[@]}" apt-get -o DPkg::Lock::Timeout=300 update -qq
  # Debian's qemu-system-x86 Breaks a newer preinstalled qemu-utils (apt would remove qemu-img):
  # install both in one step, qemu-utils from the same release as qemu-system-x86.
  if printf '%s\n' "${pkgs[@]}" | grep -qx qemu-system-x86; then
    pkgs+=("qemu-utils=$(apt-cache policy qemu-system-x86 | awk '/Candidate/ { print $2 }')")
  fi
  "${SUDO[@]}" apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends --allow-downgrades "${pkgs[@]}" >/dev/null
fi

for prog in "${!PEERS[@]}"; do
  command -v "$prog" >/dev/null 2>&1 || { echo "install-peers: $prog (package ${PEERS[$prog]}) still missing" >&2; exit 1; }
done
for f in "${!PEER_FILES[@]}"; do
  [ -e "$f" ] || { echo "install-peers: $f (package ${PEER_FILES[$f]}) still missing" >&2; exit 1; }
done

if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "install-peers: installing cargo-fuzz from crates.io"
  cargo install cargo-fuzz --locked --quiet
fi
echo "install-peers: all peers present"

# --- redfish-client: sushy-emulator (pip sushy-tools) in .venv-peers/ ---------------------------
# Used by redfish-client/tests/sushy.rs and, for sushy-static (same package), by
# redfish-client/tests/sushy_static.rs. Needs python3 with venv (Debian: python3-venv) and
# openssl; the script installs nothing system-wide.
"$(dirname "$0")/peers/sushy.sh" >/dev/null
echo "install-peers: sushy-emulator and sushy-static present in .venv-peers/"
# --- end redfish-client ----------------------------------------------------------------------------

# --- pxe: scapy (pip) in .venv-peers/, the independent DHCP client of pxe/tests/dhcp_netns.rs ----
"$(dirname "$0")/peers/scapy.sh" >/dev/null
echo "install-peers: scapy present in .venv-peers/"
# --- end pxe ---------------------------------------------------------------------------------------
