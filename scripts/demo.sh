#!/usr/bin/env bash
# The demo command: installs what is missing, builds, exports the model zoo (cached), then runs
# a private fleet on loopback — mosquitto on a free port, fleet-coordinator with the zoo
# registered through fleetctl, and one fleet-vehicle per DIGA device profile running a camera
# application with a 100 ms deadline — prints the assignment table and the explanation of
# one choice; then runs a simulated fleet (fleet-sim run: 40 vehicles over every DIGA profile,
# links replaying the real traces of data/traces) against the same coordinator, prints its
# report summary, and stops everything. The whole deployment runs on simulated time,
# $FLEETML_DEMO_SPEED (default 10) times faster than real time. Work files go to
# $FLEETML_DEMO_DIR (default a temporary directory, removed at the end unless
# FLEETML_KEEP_DEMO=1). Other knobs: FLEETML_DEMO_SIM_VEHICLES (40), FLEETML_DEMO_SIM_S
# (simulated seconds at most, 1200), FLEETML_DEMO_SETTLE_S (real seconds the profile vehicles
# get to install, 20).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
if [[ ${FLEETML_SKIP_SETUP:-0} != 1 ]]; then
  bash scripts/install-deps.sh
  bash scripts/build.sh
  bash scripts/export-zoo.sh
fi
BIN=$ROOT/${FLEETML_BUILD_DIR:-build}/bin
ZOO_DIR=${FLEETML_ZOO_DIR:-$HOME/.cache/fleetml/zoo}
DIR=${FLEETML_DEMO_DIR:-$(mktemp -d /tmp/fleetml-demo.XXXXXX)}
mkdir -p "$DIR"
PORT=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
BROKER=mqtt://127.0.0.1:$PORT
PIDS=()
# Every process of the deployment shares one simulated clock: origin + (real - origin) x speed.
SPEED=${FLEETML_DEMO_SPEED:-10}
ORIGIN=$(date +%s%3N)
TIME=(--speed "$SPEED" --time-origin-ms "$ORIGIN")

say() { printf '\n== %s\n' "$*"; }
cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  if [[ ${FLEETML_KEEP_DEMO:-0} == 1 ]]; then echo "demo files kept in $DIR"; else rm -rf "$DIR"; fi
}
trap cleanup EXIT

say "broker: mosquitto on $BROKER (loopback only)"
cat >"$DIR/mosquitto.conf" <<CONF
listener $PORT 127.0.0.1
allow_anonymous true
persistence false
CONF
mosquitto -c "$DIR/mosquitto.conf" >"$DIR/mosquitto.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 50); do
  (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break
  sleep 0.1
done

say "keys: release key signs manifests, coordinator key signs assignments"
"$BIN/fleetctl" keys init "$DIR/keys"
mkdir -p "$DIR/trust" && cp "$DIR/keys/release.pub" "$DIR/keys/coordinator.pub" "$DIR/trust/"

say "coordinator with --trials, simulated time at ${SPEED}x (log: $DIR/coordinator.log)"
# --trials: a device kind that has measured nothing gets, where no bound meets a deadline, a
# never-measured model whose point estimate does, to measure it (docs/assignment.md, "Trials").
"$BIN/fleet-coordinator" --broker "$BROKER" --data-dir "$DIR/coordinator" --keys "$DIR/keys" \
  --trials "${TIME[@]}" >"$DIR/coordinator.log" 2>&1 &
PIDS+=($!)

for _ in $(seq 50); do
  "$BIN/fleetctl" models list --broker "$BROKER" >/dev/null 2>&1 && break
  sleep 0.2
done

# Artifacts over 150 MB (AlexNet, RegNetX16gf, ResNet152, VGG19BN) are left out to keep the
# demo short; `fleetctl models add` takes them all the same.
say "catalog: registering the image-classification zoo (artifacts up to 150 MB)"
/usr/bin/python3 -c '
import json, os, sys
for m in json.load(open("data/zoo.json"))["models"]:
    path = os.path.join(sys.argv[1], m["id"] + ".pt")
    if m["task"] == "image-classification" and os.path.getsize(path) <= 150e6:
        print(m["id"], m["task"], m["top1"], "x".join(map(str, m["input_shape"])))' "$ZOO_DIR" |
  while read -r id task top1 shape; do
    "$BIN/fleetctl" models add "$ZOO_DIR/$id.pt" --id "$id" --task "$task" --top1 "$top1" \
      --input "$shape" --broker "$BROKER" 2>"$DIR/models-add.log" ||
      { cat "$DIR/models-add.log"; exit 1; }
  done
"$BIN/fleetctl" models list --broker "$BROKER"

say "vehicles: one per DIGA device profile, application cam (100 ms deadline, 5 Hz)"
VEHICLES=()
for profile in pc-i9 rpi4 rpi5 jetson-nano-cpu; do
  vid=demo-$profile
  VEHICLES+=("$vid")
  "$BIN/fleet-vehicle" run --id "$vid" --broker "$BROKER" --trust "$DIR/trust" \
    --data-dir "$DIR/vehicles/$vid" --profile "simulation/profiles/$profile.json" \
    --app cam:100:5:1 "${TIME[@]}" >"$DIR/$vid.log" 2>&1 &
  PIDS+=($!)
done

say "waiting for every vehicle's assignment"
for vid in "${VEHICLES[@]}"; do
  for _ in $(seq 120); do
    "$BIN/fleetctl" explain "$vid" --broker "$BROKER" --timeout 1 >/dev/null 2>&1 && break
    sleep 1
  done
done
sleep "${FLEETML_DEMO_SETTLE_S:-20}"  # let vehicles download, verify, install and report

say "assignment table (fleetctl watch --once)"
"$BIN/fleetctl" watch --once --broker "$BROKER"
say "what the Raspberry Pi 4 got, and why (fleetctl explain demo-rpi4)"
"$BIN/fleetctl" explain demo-rpi4 --broker "$BROKER"
SIM_VEHICLES=${FLEETML_DEMO_SIM_VEHICLES:-40}
say "simulated fleet: $SIM_VEHICLES vehicles over every DIGA profile, real 4G/5G traces, ${SPEED}x (log: $DIR/fleet-sim.log)"
"$BIN/fleet-sim" run --vehicles "$SIM_VEHICLES" --app cam:100:5:1 \
  --mix pc-i9:1,rpi4:1,rpi5:1,jetson-nano-cpu:1,jetson-nano-gpu:1 --traces data/traces \
  --profiles simulation/profiles --zoo "$ZOO_DIR" "${TIME[@]}" \
  --duration "${FLEETML_DEMO_SIM_S:-1200}" --until-settled --seed 1 --trust "$DIR/trust" \
  --report "$DIR/sim-report" --broker "$BROKER" --log-level warn >"$DIR/fleet-sim.log" 2>&1 ||
  { tail -n 20 "$DIR/fleet-sim.log"; exit 1; }
say "simulated fleet report (summary.txt; report.json and plots in $DIR/sim-report)"
cat "$DIR/sim-report/summary.txt"
grep -E '^(report|keeps up):' "$DIR/fleet-sim.log"
say "done; stopping the fleet"
