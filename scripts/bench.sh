#!/usr/bin/env bash
# Benchmarks: ours and the named anchors side by side in one run, reported as ratios.
#   scripts/bench.sh            codec, 1,000-BMC fleet (ours vs ipmipower vs an ipmitool loop),
#                               then 10,000 BMCs from one process
# FLEET=N and BIG=N change the fleet sizes. Only 127.0.0.1 is used.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-peers.sh >/dev/null
cargo build --release -q -p benches --bins
cargo build --release -q --example bmc-sim
T=target/release
N=${FLEET:-1000}
BIG=${BIG:-10000}
BASE=20000
BIGBASE=40000
out=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$out"; }
trap cleanup EXIT
now() { date +%s.%N; }
calc() { awk "BEGIN { print $* }"; }

echo "== codec (suite 17 Chassis Status request+response, encode+encrypt+sign and parse+verify+decrypt)"
$T/ipmi_codec 1000000

start_farm() {  # count base
  $T/ipmi_farm --count "$1" --base-port "$2" >"$out/farm-$2.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 1 300); do grep -q ready "$out/farm-$2.log" && return 0; sleep 0.1; done
  echo "farm did not start"; cat "$out/farm-$2.log"; exit 1
}

echo
echo "== fleet: power status with session set-up and close, $N BMCs on 127.0.0.1 (ipmi-proto BMC side), suite 17"
start_farm "$N" "$BASE"
last=$((BASE + N - 1))

t0=$(now); $T/ipmi_fleet --count "$N" --base-port "$BASE" | tee "$out/ours"; t1=$(now)
ours=$(calc "$t1 - $t0")
grep -q " 0 failed" "$out/ours" || { echo "ours: failures"; exit 1; }

t0=$(now)
ipmipower -D LAN_2_0 -h "127.0.0.1:[$BASE-$last]" -u admin -p password -I 17 -l ADMIN \
  --fanout 1024 --stat >"$out/ipmipower" 2>&1 || true
t1=$(now)
ipmipower_s=$(calc "$t1 - $t0")
ipmipower_ok=$(grep -c ': off$' "$out/ipmipower" || true)
echo "ipmipower --stat --fanout 1024: $ipmipower_ok/$N ok in $(printf %.3f "$ipmipower_s") s"

M=${IPMITOOL_N:-50}
t0=$(now)
ok=0
for i in $(seq 0 $((M - 1))); do
  ipmitool -I lanplus -H 127.0.0.1 -p $((BASE + i)) -U admin -P password -C 17 chassis power status \
    >/dev/null 2>&1 && ok=$((ok + 1))
done
t1=$(now)
ipmitool_s=$(calc "$t1 - $t0")
echo "ipmitool loop (one process per BMC): $ok/$M ok in $(printf %.3f "$ipmitool_s") s"

ours_rate=$(calc "$N / $ours")
ipmipower_rate=$(calc "$ipmipower_ok / $ipmipower_s")
ipmitool_rate=$(calc "$ok / $ipmitool_s")
printf 'sessions/s: ours %.0f, ipmipower %.0f, ipmitool loop %.1f\n' "$ours_rate" "$ipmipower_rate" "$ipmitool_rate"
printf 'ratio ours/ipmipower: %.2fx (target >= 3x); ours/ipmitool loop: %.0fx\n' \
  "$(calc "$ours_rate / $ipmipower_rate")" "$(calc "$ours_rate / $ipmitool_rate")"

echo
echo "== $BIG BMCs from one client process (target < 5 s wall, < 100 MB resident)"
start_farm "$BIG" "$BIGBASE"
$T/ipmi_fleet --count "$BIG" --base-port "$BIGBASE"
# The big farm holds UDP 40000-49999; later sections bind inside that range.
kill "${pids[-1]}" 2>/dev/null || true; wait "${pids[-1]}" 2>/dev/null || true; unset 'pids[-1]'

echo
echo "== bmc-sim: start-up time and memory per virtual node (node model + IPMI, Redfish or both faces)"
for n in 1000 10000; do
  $T/bmcsim_scale $n ipmi
  $T/bmcsim_scale $n redfish
done
$T/bmcsim_scale 1000 both
# Both faces take two descriptors per node: 10,000 nodes need more than a 20,000-descriptor limit.
both=$(( $(ulimit -n) / 2 - 20 )); [ $both -gt 10000 ] && both=10000
$T/bmcsim_scale $both both
# The anchor: one ipmi_sim process per BMC.
ipmisim_dir="$out/ipmi_sim"
t0=$(now)
sim_pid=$(scripts/peers/ipmi-sim.sh 39623 "$ipmisim_dir")
t1=$(now)
pids+=("$sim_pid")
sim_rss=$(awk '/^VmRSS:/ { print $2 }' "/proc/$sim_pid/status")
printf 'ipmi_sim: one BMC ready in %.3f s, resident %s KiB (one process per BMC)\n' "$(calc "$t1 - $t0")" "$sim_rss"

echo
echo "== IPMI face sessions/s (set-up + Get Device ID + close, suite 3, 8 at a time; same client)"
$T/examples/bmc-sim --ipmi 127.0.0.1:39700 --count 1 >"$out/bmcsim.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do grep -q "node-00000" "$out/bmcsim.log" && break; sleep 0.1; done
$T/ipmi_sessions --addr 127.0.0.1:39700 --count 4000 --label bmc-sim | tee "$out/s_bmcsim"
$T/ipmi_sessions --addr 127.0.0.1:39623 --count 1000 --label ipmi_sim | tee "$out/s_ipmisim"
a=$(awk '{ print $(NF-1) }' "$out/s_bmcsim"); b=$(awk '{ print $(NF-1) }' "$out/s_ipmisim")
printf 'ratio bmc-sim/ipmi_sim sessions/s: %.2fx\n' "$(calc "$a / $b")"

echo
echo "== Redfish: client cost per GET of a ComputerSystem, and fleet power state, on bmc-sim's Redfish face"
cargo build --release -q -p benches --bin redfish_bench
scripts/peers/sushy.sh >/dev/null
PY=.venv-peers/bin/python
$T/examples/bmc-sim --ipmi 127.0.0.1:41000 --redfish 127.0.0.1:42000 --count 1000 >"$out/rf.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 300); do grep -q "node-00999" "$out/rf.log" && break; sleep 0.1; done
grep -q "node-00999" "$out/rf.log" || { echo "bmc-sim did not start:"; cat "$out/rf.log"; exit 1; }
RF=http://127.0.0.1:42000
SYSP=/redfish/v1/Systems/1
$T/redfish_bench client $RF $SYSP 3000 | tee "$out/rf_ours"
$T/redfish_bench client $RF $SYSP 20000 16 | tee "$out/rf_ours16"
$PY benches/peers/sushy_bench.py get $RF $SYSP 500 | tee "$out/rf_sushy"
t0=$(now); for i in $(seq 1 200); do curl -s -u admin:password "$RF$SYSP" >/dev/null; done; t1=$(now)
printf 'curl (a process per GET): 200 GETs in %.3f s: %.0f req/s\n' "$(calc "$t1 - $t0")" "$(calc "200 / ($t1 - $t0)")"
$T/redfish_bench ceiling $RF $SYSP 20000 16 | tee "$out/rf_ceiling"
# "...: R req/s, C req per CPU-second"
ours_cpu=$(awk '{ print $(NF-3) }' "$out/rf_ours"); sushy_cpu=$(awk '{ print $(NF-3) }' "$out/rf_sushy")
ours_rps=$(awk '{ print $(NF-5) }' "$out/rf_ours16"); ceiling=$(awk '{ print $(NF-1) }' "$out/rf_ceiling")
printf 'ratio redfish-client/sushy, requests per CPU-second: %.1fx (target >= 10x)\n' "$(calc "$ours_cpu / $sushy_cpu")"
printf 'ratio service ceiling (bare HTTP client)/redfish-client, 16 at a time: %.2fx (target <= 1.5x)\n' "$(calc "$ceiling / $ours_rps")"
$T/redfish_bench fleet 42000 1000 | tee "$out/rf_fleet_ours"
$PY benches/peers/sushy_bench.py fleet 42000 1000 32 | tee "$out/rf_fleet_sushy"
t0=$(now); seq 42000 42999 | xargs -P 32 -I{} curl -s -o /dev/null -u admin:password "http://127.0.0.1:{}$SYSP"; t1=$(now)
printf 'curl fleet (xargs -P 32): 1000 GETs in %.3f s: %.0f BMCs/s\n' "$(calc "$t1 - $t0")" "$(calc "1000 / ($t1 - $t0)")"
a=$(awk '{ print $(NF-1) }' "$out/rf_fleet_ours"); b=$(awk '{ print $(NF-1) }' "$out/rf_fleet_sushy")
printf 'ratio redfish-client/sushy fleet throughput: %.1fx\n' "$(calc "$a / $b")"

echo
echo "== imaging: image writer vs qemu-img convert, dd, zstd -d | dd, bmaptool (sha256 on where the anchor allows)"
# Fixtures (raw with 25% data blocks, qcow2, zstd, bmap) are made in IMAGING_BENCH_DIR
# (default /var/tmp/imaging-bench; about 6 GB, removed afterwards unless IMAGING_BENCH_KEEP=1);
# IMAGING_BENCH_SIZE in bytes (default 4 GiB, the issue's figure); IMAGING_BENCH_RUNS=N keeps
# the fastest of N runs of every row. Rows: qcow2->raw (ours: sha256 of the qcow2) vs qemu-img
# convert; raw (ours: sha256 of the whole image) vs dd, cat and cat|tee sha256sum; raw + bmap
# (ours: per-range sha256) vs bmaptool copy; zstd (ours: sha256 of the .zst) vs zstd -dc | dd.
$T/imaging_write

echo
echo "== Redfish service: GETs of a ComputerSystem per second, bmc-sim's face against sushy-emulator (fake driver), same client"
cat >"$out/sushy.conf" <<CONF
SUSHY_EMULATOR_LISTEN_IP = '127.0.0.1'
SUSHY_EMULATOR_LISTEN_PORT = 43000
SUSHY_EMULATOR_STATE_DIR = '$out/sushy-state'
SUSHY_EMULATOR_FAKE_DRIVER = True
SUSHY_EMULATOR_FAKE_SYSTEMS = [{'uuid': '27946b59-9e44-4fa7-8e91-f3527a1e0001', 'name': 'node-1', 'power_state': 'Off', 'nics': [{'mac': '52:54:00:aa:00:01', 'ip': '127.0.0.11'}]}]
CONF
.venv-peers/bin/sushy-emulator --config "$out/sushy.conf" >"$out/sushy.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do curl -s -o /dev/null http://127.0.0.1:43000/redfish/v1/ && break; sleep 0.1; done
$T/redfish_bench ceiling http://127.0.0.1:43000 /redfish/v1/Systems/27946b59-9e44-4fa7-8e91-f3527a1e0001 2000 8 | tee "$out/rf_sushy_emu"
$T/redfish_bench ceiling $RF $SYSP 2000 8 | tee "$out/rf_bmcsim"
a=$(awk '{ print $(NF-1) }' "$out/rf_bmcsim"); b=$(awk '{ print $(NF-1) }' "$out/rf_sushy_emu")
printf 'ratio bmc-sim/sushy-emulator requests/s: %.1fx\n' "$(calc "$a / $b")"
emu_rss=$(awk '/^VmRSS:/ { print $2 }' "/proc/${pids[-1]}/status" 2>/dev/null)
echo "sushy-emulator: resident ${emu_rss:-?} KiB for its service (compare bmc-sim's KiB/node with the Redfish face above)"

echo
echo "== pxe: TFTP (ours vs tftpd-hpa, dnsmasq and atftpd, same clients) and DHCP (ours vs dnsmasq under perfdhcp)"
# As root only: the peers run in network namespaces and veth pairs that the two scripts create
# and remove on exit (servers on 127.0.0.1 inside them); nothing reaches the host's network.
# Env knobs (TFTP_RUNS, TFTP_MIB, STORM_N, STORM_MIB, PERF_SECS, DO_RATES, DORA_RATES, CLIENTS,
# DHCP_EXTRA=1) are described in scripts/peers/pxe-bench-{tftp,dhcp}.sh. About 3 minutes.
if [ "$(id -u)" != 0 ]; then
  echo "skipped: needs root (network namespaces)"
else
  cargo build --release -q -p benches --bin pxe_bench_server --bin pxe_pool
  echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
  scripts/peers/pxe-bench-tftp.sh $T/pxe_bench_server
  echo
  scripts/peers/pxe-bench-dhcp.sh $T/pxe_bench_server
  # Sans-IO: cost of one address-pool OFFER as outstanding offers and reservations grow.
  $T/pxe_pool
  echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
fi
