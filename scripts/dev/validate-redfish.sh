#!/usr/bin/env bash
# Development check (not part of scripts/test.sh): DMTF's redfish-service-validator against
# bmc-sim's Redfish face, once per vendor profile, offline.
#
# The validator needs the DMTF CSDL schema files; they are not in this repository. Pass their
# folder as the first argument or in RF_CSDL:
#   scripts/dev/validate-redfish.sh /path/to/csdl [generic openbmc dell hpe supermicro lenovo]
# It installs redfish-service-validator into .venv-peers/ (pip), builds and starts the bmc-sim
# example on 127.0.0.1 for each profile, runs the validator with --schema_directory and
# --skipschema (nothing is downloaded) and prints its PASS/WARN/FAIL summary per profile.
# Reports: target/validate-redfish/<profile>/. Exit status 1 when any profile has a failure.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
CSDL=${1:-${RF_CSDL:-}}
[ $# -gt 0 ] && shift
if [ -z "$CSDL" ] || [ ! -d "$CSDL" ] || ! ls "$CSDL"/*.xml >/dev/null 2>&1; then
  echo "validate-redfish: the DMTF CSDL schema folder is missing (got '${CSDL:-nothing}')." >&2
  echo "  Pass it as the first argument or RF_CSDL=DIR: a folder of DMTF CSDL files (ServiceRoot_v1.xml, ...)," >&2
  echo "  e.g. unpacked from DMTF's DSP8010 schema bundle (its csdl/ folder)." >&2
  exit 2
fi
CSDL=$(cd "$CSDL" && pwd)
PROFILES=("$@")
[ ${#PROFILES[@]} -eq 0 ] && PROFILES=(generic openbmc dell hpe supermicro lenovo)
VENV=${REDFISH_PEER_VENV:-$ROOT/.venv-peers}
VALIDATOR_VERSION=${VALIDATOR_VERSION:-3.1.8}
if [ ! -x "$VENV/bin/rf_service_validator" ]; then
  command -v python3 >/dev/null || { echo "validate-redfish: python3 is needed (Debian: python3 python3-venv)" >&2; exit 1; }
  [ -x "$VENV/bin/pip" ] || python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check "redfish-service-validator==$VALIDATOR_VERSION" >&2 \
    || { echo "validate-redfish: pip could not install redfish-service-validator" >&2; exit 1; }
fi
(cd "$ROOT" && cargo build -q --release --example bmc-sim) || { echo "validate-redfish: build failed" >&2; exit 1; }
SIM="$ROOT/target/release/examples/bmc-sim"
OUT_ROOT="$ROOT/target/validate-redfish"
# requests lets these override the validator's own verification settings.
unset REQUESTS_CA_BUNDLE CURL_CA_BUNDLE
status=0
port=$((20000 + RANDOM % 20000))
for profile in "${PROFILES[@]}"; do
  port=$((port + 1))
  out="$OUT_ROOT/$profile"; rm -rf "$out"; mkdir -p "$out"
  # A node with a (blank) disk, so Storage has a drive to show.
  mkdir -p "$out/disks"; truncate -s 64M "$out/disks/node-00000.img"
  "$SIM" --ipmi 127.0.0.1:0 --redfish "127.0.0.1:$port" --vendor "$profile" \
    --user admin --password password --disks "$out/disks" > "$out/bmc-sim.txt" 2>&1 &
  pid=$!
  for _ in $(seq 100); do
    curl -fs -o /dev/null "http://127.0.0.1:$port/redfish/v1/" && break
    sleep 0.1
  done
  # Something in every collection: a task, an event subscription, a boot (with its outcome).
  rf() { curl -fs -o /dev/null -u admin:password -H 'Content-Type: application/json' "$@"; }
  rf -X POST -d '{"ImageURI":"http://127.0.0.1/fw/bmc-2.0.bin"}' \
    "http://127.0.0.1:$port/redfish/v1/UpdateService/Actions/UpdateService.SimpleUpdate"
  rf -X POST -d '{"Destination":"http://127.0.0.1:9/events","Context":"validator","RegistryPrefixes":["TaskEvent"]}' \
    "http://127.0.0.1:$port/redfish/v1/EventService/Subscriptions"
  sys=$(curl -fs -u admin:password "http://127.0.0.1:$port/redfish/v1/Systems" | python3 -c 'import json,sys; print(json.load(sys.stdin)["Members"][0]["@odata.id"])')
  rf -X POST -d '{"ResetType":"On"}' "http://127.0.0.1:$port$sys/Actions/ComputerSystem.Reset"
  "$VENV/bin/rf_service_validator" -r "http://127.0.0.1:$port" -u admin -p password \
    --authtype Session --schema_directory "$CSDL" --skipschema --logdir "$out" \
    > "$out/console.txt" 2>&1
  rc=$?
  kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
  summary=$(grep -A3 "PASS.*WARN.*FAIL" "$out/console.txt" | tail -2 | tr -s ' \n' ' ')
  [ -z "$summary" ] && summary=$(grep -iE "^(Elapsed|.*pass.*fail)" "$out/console.txt" | tail -3 | tr '\n' ' ')
  echo "$profile: rc=$rc $summary (reports: $out)"
  [ $rc -ne 0 ] && status=1
done
exit $status
