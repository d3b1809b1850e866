#!/usr/bin/env bash
# pxe-bench-dhcp.sh OURS_BIN: perfdhcp (ISC Kea, Debian kea-admin) against our DHCP server
# (OURS_BIN = target/release/pxe_bench_server) and dnsmasq, in the same run, each started
# fresh for every measured point (empty lease table and lease file).
#   * DO: DISCOVER->OFFER only (perfdhcp -i), rates DO_RATES ascending until the first
#     point with drops (a lossy point is measured twice; it counts as lossy if both runs
#     lose): the highest rate with no drops, the capacity (most exchanges/s completed) and
#     the OFFER latency perfdhcp measures.
#   * DORA: the full 4-way exchange with durable leases: our FileStore lease log, each ACK
#     sent only once its lease is synced (fdatasync; group commit: the leases waiting while
#     one sync runs share the next) against dnsmasq with its lease file (which it rewrites and
#     fsyncs on every change); DORA_RATES ascending, same rule.
# Topology: netns pxb-dsrv (veth pxbd0 10.199.0.1/16, the server) <-> netns pxb-dcli (veth
# pxbd1 10.199.0.9/16, perfdhcp as a relay agent). Both are created here and removed on
# exit; no traffic leaves them. Lease files go to a directory on disk (not tmpfs), the same
# for both servers. Needs root.
# Env: PERF_SECS (4), DO_RATES, DORA_RATES, CLIENTS (50000 simulated clients),
#      DHCP_EXTRA=1 adds DORA without durability (ours --sync never, dnsmasq leasefile-ro).
set -euo pipefail
OURS=$(realpath "${1:?usage: pxe-bench-dhcp.sh PATH/TO/pxe_bench_server}")
SECS=${PERF_SECS:-4}
DO_RATES=${DO_RATES:-"1000 2000 4000 8000 10000 12000 16000"}
DORA_RATES=${DORA_RATES:-"125 250 500 1000 2000 4000 8000"}
CLIENTS=${CLIENTS:-50000}
SRV=pxb-dsrv
CLI=pxb-dcli
SRV_IP=10.199.0.1
RELAY_IP=10.199.0.9
# A UEFI x64 PXE client: option 60 "PXEClient:Arch:00007:UNDI:003016", option 93 = 7.
PXE_OPTS=(-o 60,505845436c69656e743a417263683a30303030373a554e44493a303033303136 -o 93,0007)

W=$(mktemp -d -p /var/tmp pxe-bench-dhcp.XXXXXX)
SRVPID=
cleanup() {
  if [ -n "$SRVPID" ]; then kill "$SRVPID" 2>/dev/null || true; wait "$SRVPID" 2>/dev/null || true; fi
  ip netns del "$SRV" 2>/dev/null || true
  ip netns del "$CLI" 2>/dev/null || true
  rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ip netns del "$SRV" 2>/dev/null || true   # leftovers of an aborted run
ip netns del "$CLI" 2>/dev/null || true
ip netns add "$SRV"
ip netns add "$CLI"
ip -n "$SRV" link set lo up
ip -n "$CLI" link set lo up
ip link add pxbd0 netns "$SRV" type veth peer name pxbd1 netns "$CLI"
ip -n "$SRV" addr add "$SRV_IP/16" dev pxbd0
ip -n "$CLI" addr add "$RELAY_IP/16" dev pxbd1
ip -n "$SRV" link set pxbd0 up
ip -n "$CLI" link set pxbd1 up

cat >"$W/dnsmasq.conf" <<EOF
port=0
interface=pxbd0
bind-interfaces
except-interface=lo
dhcp-range=10.199.1.1,10.199.254.254,255.255.0.0,1h
dhcp-lease-max=100000
dhcp-leasefile=$W/leases-dnsmasq
dhcp-authoritative
no-ping
quiet-dhcp
log-facility=$W/dnsmasq.log
dhcp-match=set:efi-x64,option:client-arch,7
dhcp-boot=tag:!efi-x64,undionly.kpxe,,$SRV_IP
dhcp-boot=tag:efi-x64,ipxe.efi,,$SRV_IP
EOF
grep -v '^dhcp-leasefile' "$W/dnsmasq.conf" >"$W/dnsmasq-ro.conf"
echo leasefile-ro >>"$W/dnsmasq-ro.conf"

# start SERVER VARIANT: ours|ours-nosync|ours-mem|dnsmasq|dnsmasq-ro, fresh state
start() {
  rm -f "$W"/leases-*
  case "$1" in
    ours*)
      local store=(--leases "$W/leases-ours")
      [ "$1" = ours-nosync ] && store+=(--sync never)
      ip netns exec "$SRV" "$OURS" --dhcp 0.0.0.0:67 --interface pxbd0 --server-ip "$SRV_IP" \
        --pool 10.199.1.1-10.199.254.254 --netmask 255.255.0.0 "${store[@]}" >"$W/srv.log" 2>&1 &
      ;;
    dnsmasq)
      ip netns exec "$SRV" dnsmasq --keep-in-foreground --conf-file="$W/dnsmasq.conf" --pid-file= \
        --user=root >"$W/srv.log" 2>&1 &
      ;;
    dnsmasq-ro)
      ip netns exec "$SRV" dnsmasq --keep-in-foreground --conf-file="$W/dnsmasq-ro.conf" --pid-file= \
        --user=root >"$W/srv.log" 2>&1 &
      ;;
  esac
  SRVPID=$!
  for _ in $(seq 1 100); do
    [ -n "$(ip netns exec "$SRV" ss -Hulnp 'sport = :67' 2>/dev/null)" ] && return 0
    kill -0 "$SRVPID" 2>/dev/null || break
    sleep 0.05
  done
  echo "$1 did not start:"; cat "$W/srv.log"; exit 1
}
stop() { kill "$SRVPID" 2>/dev/null || true; wait "$SRVPID" 2>/dev/null || true; SRVPID=; }

# point MODE RATE -> sets: rate (exchanges completed per second of the run: OFFERs for DO,
#   ACKs for DORA), drops (total, both halves), dpct (drops % of exchanges started),
#   dly (avg DISCOVER-OFFER delay, ms), mindly, maxdly
point() {
  local extra=()
  [ "$1" = DO ] && extra=(-i)
  timeout $((SECS + 20)) ip netns exec "$CLI" perfdhcp -4 -l pxbd1 -r "$2" -R "$CLIENTS" -p "$SECS" \
    -W 200000 "${extra[@]}" "${PXE_OPTS[@]}" >"$W/perf.out" 2>&1 || true
  read -r rate drops dpct dly mindly maxdly < <(awk -v secs="$SECS" '
    /^\*\*\*Statistics for: / { blk = $3; gsub(/\*/, "", blk) }
    /^sent packets:/ { if (blk == "DISCOVER-OFFER") sent = $3 }
    /^received packets:/ { recv = $3 }   # the last block: OFFERs (DO) or ACKs (DORA)
    /^drops:/ { d += $2 }
    /^min delay:/ && blk == "DISCOVER-OFFER" { mn = $3 }
    /^avg delay:/ && blk == "DISCOVER-OFFER" { av = $3 }
    /^max delay:/ && blk == "DISCOVER-OFFER" { mx = $3 }
    END { printf "%.0f %d %.2f %s %s %s\n", recv / secs, d, (sent ? 100 * d / sent : 100),
                 av == "" ? "-" : av, mn == "" ? "-" : mn, mx == "" ? "-" : mx }' "$W/perf.out")
}

# ramp MODE "SERVERS" "RATES": interleaved per rate; a server stops after its first lossy point.
declare -A BEST CAP LAT LAT0 DONE
ramp() {
  local mode=$1 servers=$2 rates=$3 r s
  for s in $servers; do BEST[$mode/$s]=0; CAP[$mode/$s]=0; LAT[$mode/$s]=-; LAT0[$mode/$s]=-; DONE[$mode/$s]=; done
  for r in $rates; do
    for s in $servers; do
      [ -n "${DONE[$mode/$s]}" ] && continue
      # A lossy point is measured once more (the host is shared: one stall of another
      # process drops packets); the server stops climbing only if it loses again.
      for try in 1 2; do
        start "$s"
        point "$mode" "$r"
        stop
        local leases=-   # what the lease file holds once the server is gone
        if [ "$mode" != DO ]; then
          case "$s" in
            ours | ours-nosync) leases=$(grep -c '^B ' "$W/leases-ours" || true) ;;
            dnsmasq) leases=$(wc -l <"$W/leases-dnsmasq") ;;
          esac
        fi
        printf '  %-4s %-11s target %5s/s: %6s/s, drops %6s (%5s%%), OFFER delay avg %s ms (min %s, max %s)%s%s\n' \
          "$mode" "$s" "$r" "$rate" "$drops" "$dpct" "$dly" "$mindly" "$maxdly" \
          "$([ "$leases" = - ] || echo ", leases on disk $leases")" "$([ "$try" = 1 ] || echo ' (repeated)')"
        [ "${LAT0[$mode/$s]}" = - ] && LAT0[$mode/$s]=$dly
        [ "$rate" -gt "${CAP[$mode/$s]}" ] && CAP[$mode/$s]=$rate
        [ "$drops" = 0 ] && break
      done
      if [ "$drops" = 0 ]; then
        BEST[$mode/$s]=$rate
        LAT[$mode/$s]=$dly
      else
        DONE[$mode/$s]=1
      fi
    done
  done
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2fx", a / b; else print "n/a" }'; }

echo "perfdhcp $(perfdhcp -v 2>&1 | awk '{ print $2 }'), $CLIENTS simulated clients (relay mode), ${SECS}s per point, PXE UEFI x64 DISCOVERs"
echo "-- DO: DISCOVER->OFFER (perfdhcp -i)"
ramp DO "ours dnsmasq" "$DO_RATES"
echo "-- DORA: full exchange, durable leases (ours: FileStore, ACK after its group commit's fdatasync; dnsmasq: lease file)"
ramp DORA "ours dnsmasq" "$DORA_RATES"
if [ -n "${DHCP_EXTRA:-}" ]; then
  echo "-- DORA without durable leases (ours: FileStore --sync never; dnsmasq: leasefile-ro)"
  ramp DORA-mem "ours-nosync dnsmasq-ro" "$DORA_RATES"
fi

echo "-- DHCP summary (no-drop = highest achieved rate of a point with 0 drops; capacity = most exchanges/s completed)"
for m in DO DORA; do
  printf '%-4s no-drop: ours %s/s, dnsmasq %s/s, ratio ours/dnsmasq %s; capacity: ours %s/s, dnsmasq %s/s, ratio %s\n' \
    "$m" "${BEST[$m/ours]}" "${BEST[$m/dnsmasq]}" "$(ratio "${BEST[$m/ours]}" "${BEST[$m/dnsmasq]}")" \
    "${CAP[$m/ours]}" "${CAP[$m/dnsmasq]}" "$(ratio "${CAP[$m/ours]}" "${CAP[$m/dnsmasq]}")"
done
if [ -n "${DHCP_EXTRA:-}" ]; then
  printf 'DORA without durability capacity: ours (sync never) %s/s, dnsmasq (leasefile-ro) %s/s\n' \
    "${CAP[DORA-mem/ours-nosync]}" "${CAP[DORA-mem/dnsmasq-ro]}"
fi
printf 'OFFER latency (perfdhcp avg DISCOVER->OFFER): ours %s ms at the first point, %s ms at its highest no-drop point; dnsmasq %s ms, %s ms (target < 1 ms)\n' \
  "${LAT0[DO/ours]}" "${LAT[DO/ours]}" "${LAT0[DO/dnsmasq]}" "${LAT[DO/dnsmasq]}"
