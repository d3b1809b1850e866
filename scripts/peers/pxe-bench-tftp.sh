#!/usr/bin/env bash
# pxe-bench-tftp.sh OURS_BIN: TFTP throughput of our server (OURS_BIN =
# target/release/pxe_bench_server) against tftpd-hpa, dnsmasq and atftpd, same clients, same
# run.
#   * a 64 MiB random file fetched with curl --tftp-blksize 512, 1468, 8192, 65464 and with
#     atftp at blksize 1468 + windowsize 16 (RFC 7440; atftpd and ours grant the window,
#     tftpd-hpa and dnsmasq ignore it and run lock-step); median of TFTP_RUNS (5) fetches per
#     cell (the host is shared: a median of 5 damps other load), the servers' order rotated
#     each run; every download compared with the source (cmp); MiB/s per cell and ours / best
#     anchor per row.
#   * a boot storm: STORM_N (50) curl clients at blksize 1468 fetch an 8 MiB file at once;
#     all verified; aggregate MiB/s, median of STORM_RUNS (3) storms per server.
# Servers, all on 127.0.0.1 (MTU 65536) inside private network namespaces created here:
#   netns pxb-tftp: ours :6970, tftpd-hpa :6969 (it refuses to start without a non-loopback
#     address: a veth pair with both ends inside the namespace provides one), dnsmasq-big :69
#     (dnsmasq with --edns-packet-max=65535, which lifts its 2263-byte block size cap),
#     atftpd :7070 (Debian package atftpd, unpacked by scripts/peers/atftpd.sh because it
#     conflicts with tftpd-hpa);
#   netns pxb-tftp2: dnsmasq as shipped :69 (dnsmasq cannot move TFTP off port 69).
# Files live on tmpfs (/dev/shm) so the disk stays out of it. Everything is removed on exit.
# Needs root. Env: TFTP_RUNS (5), TFTP_MIB (64), STORM_N (50; 0 skips the storm), STORM_MIB (8),
# STORM_RUNS (3),
# TFTP_ROWS (rows to run, e.g. "curl 65464 -;atftp 1468 16"; default all).
ATFTPD=$("$(dirname "$0")/atftpd.sh")
set -euo pipefail
OURS=$(realpath "${1:?usage: pxe-bench-tftp.sh PATH/TO/pxe_bench_server}")
RUNS=${TFTP_RUNS:-5}
MIB=${TFTP_MIB:-64}
STORM_N=${STORM_N:-50}
STORM_MIB=${STORM_MIB:-8}
STORM_RUNS=${STORM_RUNS:-3}
NS=pxb-tftp
NS2=pxb-tftp2

W=$(mktemp -d -p /dev/shm pxe-bench-tftp.XXXXXX 2>/dev/null || mktemp -d)
pids=()
cleanup() {
  local p
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  ip netns del "$NS" 2>/dev/null || true
  ip netns del "$NS2" 2>/dev/null || true
  rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ip netns del "$NS" 2>/dev/null || true   # leftovers of an aborted run
ip netns del "$NS2" 2>/dev/null || true
ip netns add "$NS"
ip netns add "$NS2"
ip -n "$NS" link set lo up
ip -n "$NS2" link set lo up
ip -n "$NS" link add pxbt0 type veth peer name pxbt1
ip -n "$NS" addr add 10.254.0.1/30 dev pxbt0
ip -n "$NS" link set pxbt0 up
ip -n "$NS" link set pxbt1 up

# tftpd-hpa chroots into the root and drops to nobody: the tree must be world-readable.
chmod 755 "$W"
mkdir -p "$W/root" "$W/out"
head -c $((MIB << 20)) /dev/urandom >"$W/root/big.bin"
head -c $((STORM_MIB << 20)) /dev/urandom >"$W/root/storm.bin"
head -c 1000 /dev/urandom >"$W/root/probe.bin"
chmod 755 "$W/root"
chmod 644 "$W/root"/*

ip netns exec "$NS" "$OURS" --tftp 127.0.0.1:6970 --root "$W/root" --max-per-client 256 >"$W/ours.log" 2>&1 &
pids+=($!)
ip netns exec "$NS" in.tftpd -L -4 -a 127.0.0.1:6969 -s "$W/root" >"$W/tftpd-hpa.log" 2>&1 &
pids+=($!)
DNSMASQ=(dnsmasq --keep-in-foreground --conf-file=/dev/null --port=0 --user=root --pid-file=
  --listen-address=127.0.0.1 --bind-interfaces --enable-tftp --tftp-root="$W/root" --tftp-max=1000)
ip netns exec "$NS" "${DNSMASQ[@]}" --edns-packet-max=65535 --log-facility="$W/dnsmasq-big.log" &
pids+=($!)
ip netns exec "$NS2" "${DNSMASQ[@]}" --log-facility="$W/dnsmasq.log" &
pids+=($!)
# atftpd drops to nobody like tftpd-hpa; --maxthread as dnsmasq's --tftp-max.
ip netns exec "$NS" "$ATFTPD" --daemon --no-fork --port 7070 --bind-address 127.0.0.1 --maxthread 1000 \
  --logfile "$W/atftpd.log" --user nobody --group nogroup "$W/root" >"$W/atftpd.out" 2>&1 &
pids+=($!)

SERVERS=(ours tftpd-hpa dnsmasq dnsmasq-big atftpd)
declare -A NSOF=([ours]=$NS [tftpd-hpa]=$NS [dnsmasq]=$NS2 [dnsmasq-big]=$NS [atftpd]=$NS)
declare -A PORT=([ours]=6970 [tftpd-hpa]=6969 [dnsmasq]=69 [dnsmasq-big]=69 [atftpd]=7070)

# fetch SERVER CLIENT BLKSIZE WS OUT: seconds the client took (timed inside the namespace),
# or FAIL; the download is compared with the source file and removed.
fetch() {
  local s=$1 client=$2 b=$3 ws=$4 out=$5 file=${6:-big.bin} t
  local cmd=(timeout 30 curl -sS -o "$out" --tftp-blksize "$b" "tftp://127.0.0.1:${PORT[$s]}/$file")
  if [ "$client" = atftp ]; then
    cmd=(timeout 30 atftp --option "blksize $b" --option "windowsize $ws" -g -r "$file" -l "$out"
      127.0.0.1 "${PORT[$s]}")
  fi
  rm -f "$out"
  t=$(ip netns exec "${NSOF[$s]}" bash -c \
    's=$EPOCHREALTIME; "$@" >/dev/null 2>&1 || exit 1; e=$EPOCHREALTIME; echo "$s $e"' _ "${cmd[@]}" |
    awk '{ printf "%.6f", $2 - $1 }') || t=
  if [ -n "$t" ] && cmp -s "$out" "$W/root/$file"; then echo "$t"; else echo FAIL; fi
  rm -f "$out"
}

for s in "${SERVERS[@]}"; do   # ready when a small file comes back intact
  ok=
  for _ in $(seq 1 50); do
    if [ "$(fetch "$s" curl 512 - "$W/out/probe" probe.bin)" != FAIL ]; then ok=1; break; fi
    sleep 0.1
  done
  [ -n "$ok" ] || { echo "TFTP server $s did not start"; cat "$W"/*.log 2>/dev/null; exit 1; }
done

# dnsmasq as shipped differs from dnsmasq-big only above its 2263-byte block cap: below it,
# its cells are not measured again (shown as "=big").
skip() { [ "$1" = dnsmasq ] && [ "$2" -le 2263 ]; }

median() { sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print "FAIL"; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

echo "TFTP: ${MIB} MiB file, MiB/s (median of $RUNS, every download cmp-verified); 127.0.0.1 in a netns"
echo "  dnsmasq = as shipped (caps blksize at 2263), dnsmasq-big = --edns-packet-max=65535; tftpd-hpa and dnsmasq ignore windowsize"
printf '  %-6s %7s %3s | %8s %10s %8s %12s %8s | %12s %10s\n' client blksize ws ours tftpd-hpa dnsmasq dnsmasq-big \
  atftpd "best anchor" ours/best
ROWS=("curl 512 -" "curl 1468 -" "curl 8192 -" "curl 65464 -" "atftp 1468 16")
if [ -n "${TFTP_ROWS:-}" ]; then IFS=';' read -r -a ROWS <<<"$TFTP_ROWS"; fi
min_ratio=
for row in "${ROWS[@]}"; do
  read -r client b ws <<<"$row"
  declare -A secs=() fails=()
  for s in "${SERVERS[@]}"; do secs[$s]=; fails[$s]=0; done
  for run in $(seq 1 "$RUNS"); do
    n=${#SERVERS[@]}
    for i in $(seq 0 $((n - 1))); do
      s=${SERVERS[$(((i + run - 1) % n))]}
      skip "$s" "$b" && continue
      t=$(fetch "$s" "$client" "$b" "$ws" "$W/out/big")
      if [ "$t" = FAIL ]; then fails[$s]=$((fails[$s] + 1)); else secs[$s]+="$t "; fi
    done
  done
  declare -A mibs=()
  best=0 best_name=-
  for s in "${SERVERS[@]}"; do
    if skip "$s" "$b"; then mibs[$s]="=big"; continue; fi
    m=$(printf '%s\n' ${secs[$s]} | awk -v mib="$MIB" 'NF { print mib / $1 }' | median)
    mibs[$s]=$m
    if [ "$m" != FAIL ] && [ "${fails[$s]}" = 0 ]; then mibs[$s]=$(printf '%.1f' "$m"); fi
    if [ "$m" != FAIL ] && [ "${fails[$s]}" != 0 ]; then mibs[$s]="$(printf '%.1f' "$m")*${fails[$s]}F"; fi
    if [ "$s" != ours ] && [ "$m" != FAIL ] && awk -v a="$m" -v b="$best" 'BEGIN { exit !(a > b) }'; then
      best=$m best_name=$s
    fi
  done
  r=n/a
  ours_m=$(printf '%s\n' ${secs[ours]} | awk -v mib="$MIB" 'NF { print mib / $1 }' | median)
  if [ "$ours_m" != FAIL ] && [ "$best_name" != - ]; then
    r=$(awk -v a="$ours_m" -v b="$best" 'BEGIN { printf "%.2fx", a / b }')
    min_ratio=$(awk -v r="${r%x}" -v m="${min_ratio:-1e9}" 'BEGIN { print (r < m ? r : m) }')
  fi
  printf '  %-6s %7s %3s | %8s %10s %8s %12s %8s | %12s %10s\n' "$client" "$b" "$ws" "${mibs[ours]}" "${mibs[tftpd-hpa]}" \
    "${mibs[dnsmasq]}" "${mibs[dnsmasq-big]}" "${mibs[atftpd]}" "$best_name" "$r"
  unset secs fails mibs
done
echo "  (N*F after a figure: N of the $RUNS fetches failed or did not match; FAIL: all did; =big: same as dnsmasq-big below 2263)"
echo "TFTP lowest ours/best-anchor ratio over the rows: ${min_ratio:-n/a}x (target >= 1)"

[ "$STORM_N" -gt 0 ] || exit 0
echo
echo "TFTP boot storm: $STORM_N curl clients at once, blksize 1468, ${STORM_MIB} MiB each, all cmp-verified;"
echo "  median aggregate of $STORM_RUNS storms per server, the servers' order rotated each round"
declare -A storm=() storm_runs=() storm_bad=()
STORM_SERVERS=()
for s in "${SERVERS[@]}"; do skip "$s" 1468 || STORM_SERVERS+=("$s"); done
for run in $(seq 1 "$STORM_RUNS"); do
  n=${#STORM_SERVERS[@]}
  for i in $(seq 0 $((n - 1))); do
    s=${STORM_SERVERS[$(((i + run - 1) % n))]}
    rm -rf "$W/out/storm"
    mkdir -p "$W/out/storm"
    t=$(ip netns exec "${NSOF[$s]}" bash -c '
      port=$1 n=$2 dir=$3
      s=$EPOCHREALTIME
      for i in $(seq 1 "$n"); do
        timeout 120 curl -sS -o "$dir/$i" --tftp-blksize 1468 "tftp://127.0.0.1:$port/storm.bin" 2>/dev/null &
      done
      wait
      e=$EPOCHREALTIME
      echo "$s $e"' _ "${PORT[$s]}" "$STORM_N" "$W/out/storm" | awk '{ printf "%.3f", $2 - $1 }')
    ok=0
    for i in $(seq 1 "$STORM_N"); do cmp -s "$W/out/storm/$i" "$W/root/storm.bin" && ok=$((ok + 1)); done
    [ "$ok" = "$STORM_N" ] || storm_bad[$s]=$(( ${storm_bad[$s]:-0} + STORM_N - ok ))
    storm_runs[$s]+="$(awk -v n="$ok" -v m="$STORM_MIB" -v t="$t" 'BEGIN { printf "%.1f", n * m / t }') "
  done
done
for s in "${STORM_SERVERS[@]}"; do
  storm[$s]=$(printf '%.1f' "$(printf '%s\n' ${storm_runs[$s]} | median)")
  printf '  %-12s %7s MiB/s aggregate (runs: %s) %s\n' "$s" "${storm[$s]}" "${storm_runs[$s]% }" \
    "$([ -n "${storm_bad[$s]:-}" ] && echo "${storm_bad[$s]} downloads FAILED or differed" || echo "all $STORM_N x $STORM_RUNS verified")"
done
rm -rf "$W/out/storm"
best=0 best_name=-
for s in tftpd-hpa dnsmasq-big atftpd; do
  if awk -v a="${storm[$s]}" -v b="$best" 'BEGIN { exit !(a > b) }'; then best=${storm[$s]} best_name=$s; fi
done
printf 'TFTP storm: ours %s MiB/s, best anchor %s %s MiB/s, ratio ours/best %s\n' "${storm[ours]}" "$best_name" "$best" \
  "$(awk -v a="${storm[ours]}" -v b="$best" 'BEGIN { if (b > 0) printf "%.2fx", a / b; else print "n/a" }')"
