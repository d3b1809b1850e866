#!/usr/bin/env bash
# Start OpenIPMI's ipmi_sim on 127.0.0.1:PORT with user admin/password (ADMINISTRATOR) and no
# chassis-control program, in DIR; print its PID once it answers ipmitool.
#   scripts/peers/ipmi-sim.sh PORT DIR
set -euo pipefail
port=${1:?PORT}
dir=${2:?DIR}
mkdir -p "$dir/state"
cat >"$dir/lan.conf" <<CONF
name "bench$port"
set_working_mc 0x20
  startlan 1
    addr 127.0.0.1 $port
    priv_limit admin
    allowed_auths_callback md2 md5 straight
    allowed_auths_user md2 md5 straight
    allowed_auths_operator md2 md5 straight
    allowed_auths_admin md2 md5 straight
    guid a1b2c3d4e5f60708a1b2c3d4e5f60708
  endlan
  user 2 true "admin" "password" admin 10 md2 md5 straight
CONF
cat >"$dir/sim.emu" <<EMU
mc_setbmc 0x20
mc_add 0x20 0 no-device-sdrs 0x23 9 8 0x9f 0x1291 0xf02 persist_sdr
mc_enable 0x20
EMU
setsid ipmi_sim -c "$dir/lan.conf" -f "$dir/sim.emu" -s "$dir/state" -n </dev/null >"$dir/ipmi_sim.log" 2>&1 &
pid=$!
for _ in $(seq 1 100); do
  ipmitool -I lanplus -H 127.0.0.1 -p "$port" -U admin -P password -C 3 -N 1 -R 1 mc info >/dev/null 2>&1 && { echo "$pid"; exit 0; }
  sleep 0.1
done
echo "ipmi_sim did not start; log:" >&2; cat "$dir/ipmi_sim.log" >&2; kill "$pid" 2>/dev/null; exit 1
