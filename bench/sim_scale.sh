#!/usr/bin/env bash
# Scale bench of fleet-sim run: N simulated vehicles at SPEED x against a private mosquitto and
# a real fleet-coordinator on this machine. Prints each process's CPU seconds, fleet-sim's
# report line (simulated vs real time, peak RSS, start-up lag) and its keep-up verdict:
#   keeps up: yes|no (lag mean < 50 ms, max < 1000 ms after the start, every vehicle assigned,
#   every assigned download ended; download slowdown = actual / trace-replay time, reported)
# (docs/simulation.md "Scale" has the measured table.)
#   bench/sim_scale.sh [N=1000] [SPEED=10] [DURATION_S=300] [MODELS="mobilenet_v3_small"]
# Env: APP (fleet-sim --app, must match the models' task and input), WINDOW (--window),
# RAMP (--ramp: vehicles power on over the first RAMP simulated seconds, default 0: all at
# once), BROKER_CONF (extra mosquitto.conf lines), LOG_LEVEL (fleet-sim's, default warn).
# Needs the build in build/ (fleet-sim, fleet-coordinator, fleetctl), mosquitto and the zoo.
set -euo pipefail
n=${1:-1000} speed=${2:-10} duration=${3:-300} models=${4:-mobilenet_v3_small}
# Every vehicle's application (fleet-sim --app) must match the models' task and input shape.
app=${APP:-front-camera:200:5:1} window=${WINDOW:-4} ramp=${RAMP:-0}
bin=${BIN:-build/bin}
work=$(mktemp -d /tmp/fleet-sim-bench-XXXXXX)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
printf 'listener %s 127.0.0.1\nallow_anonymous true\nmax_queued_messages 100000\n%s\n' "$port" \
  "${BROKER_CONF:-}" >"$work/mosquitto.conf"  # BROKER_CONF: extra mosquitto.conf lines
mosquitto -c "$work/mosquitto.conf" >"$work/mosquitto.log" 2>&1 & broker=$!
trap 'kill $coord $broker 2>/dev/null || true' EXIT
sleep 0.5
"$bin/fleetctl" keys init "$work/keys" >/dev/null
mkdir -p "$work/trust" && cp "$work/keys/"*.pub "$work/trust/"
origin=$(date +%s%3N)
"$bin/fleet-coordinator" --broker "mqtt://127.0.0.1:$port" --data-dir "$work/data" \
  --keys "$work/keys" --speed "$speed" --time-origin-ms "$origin" >"$work/coordinator.log" 2>&1 & coord=$!
sleep 1
zoo=${FLEETML_ZOO_DIR:-$HOME/.cache/fleetml/zoo}
# Each model with its task, top-1 and input shape from data/zoo.json.
/usr/bin/python3 -c '
import json, sys
models = {m["id"]: m for m in json.load(open("data/zoo.json"))["models"]}
for id in sys.argv[1:]:
    m = models[id]
    print(id, m["task"], m["top1"], "x".join(map(str, m["input_shape"])))' $models |
  while read -r id task top1 shape; do
    "$bin/fleetctl" models add "$zoo/$id.pt" --id "$id" --task "$task" --top1 "$top1" \
      --input "$shape" --broker "mqtt://127.0.0.1:$port" >/dev/null 2>&1
  done
/usr/bin/time -v "$bin/fleet-sim" run --vehicles "$n" --speed "$speed" --duration "$duration" \
  --app "$app" --window "$window" --ramp "$ramp" \
  --time-origin-ms "$origin" --trust "$work/trust" --report "$work/report" --zoo "$zoo" \
  --broker "mqtt://127.0.0.1:$port" --log-level "${LOG_LEVEL:-warn}" >"$work/sim.out" 2>"$work/sim.err"
# CPU seconds (user + system) each process used: which of the three is the bottleneck.
cpu_s() { awk -v hz="$(getconf CLK_TCK)" '{printf "%.1f", ($14 + $15) / hz}' "/proc/$1/stat"; }
echo "cpu_s: mosquitto $(cpu_s $broker) coordinator $(cpu_s $coord) fleet-sim $(awk '/User time|System time/ {s += $NF} END {printf "%.1f", s}' "$work/sim.err")"
tail -n 8 "$work/sim.out"
grep -E "Maximum resident|Elapsed" "$work/sim.err"
echo "work dir: $work"
