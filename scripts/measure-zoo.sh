#!/usr/bin/env bash
# Measures the exported zoo on this machine into a CSV that the estimators and
# `fleetctl eval-estimators` read (columns: shared/estimation/samples.h).
#
#   bash scripts/measure-zoo.sh [--out data/measurements/NAME.csv] [--threads "1 2"]
#        [--batches "1 4"] [--modes "optimized plain"] [--only id,id,...] [--rounds N]
#
# For every runtime configuration (mode x threads) it runs `fleet-vehicle calibrate --json`,
# then `fleet-vehicle benchmark --json` for every zoo model and batch, and writes one row per
# (model, batch, threads, mode) carrying the model, the configuration, the device and its
# calibration for that configuration, p50/p95/mean/min and peak RSS.
#
# Timing is only meaningful on a quiet machine (with 2 threads on 2 cores, one busy foreign
# process makes some models 10-100x slower). Before every run the script waits until the
# other processes use less than QUIET_CORES cores (sampled over 2 s); during every run it
# measures the CPU time other processes took (system busy time minus the benchmark's own
# user+system time) and repeats a run whose foreign load exceeded QUIET_CORES on average, up
# to 3 times, keeping the quietest. Each row records the 1-minute load average before the run
# and that foreign load (`foreign_cores`).
#
# With --rounds N (default 1) the whole pass (calibrations included) runs N times, one after
# the other, each with 1/N of the timed calls (at least 10), into NAME.rounds/round-K.csv; then
# scripts/combine_rounds.py writes NAME.csv, each row the median of its rounds (calibration
# rates: the median per kernel over the configuration's rounds). A slow phase of a shared
# machine lasting minutes then moves one round of a row, not the row.
#
# Resumable: rows already in the output file are kept and skipped. A model whose batch-1
# p50 exceeds SLOW_MS in a configuration is not measured at larger batches there (said on
# stderr and counted in the summary).
#
# Environment: FLEETML_ZOO_DIR (default ~/.cache/fleetml/zoo), FLEETML_BUILD_DIR (build),
# NOMINAL_GFLOPS (the device's datasheet-style peak, DIGA's F_Sd; default cores x clock x
# float32 FLOPs per cycle from the ISA flags, see nominal_gflops below), QUIET_CORES (0.15),
# MAX_WAIT_S (1800: then measure anyway, flagged by foreign_cores), SLOW_MS (5000).
set -euo pipefail
cd "$(dirname "$0")/.."

OUT=data/measurements/$(hostname -s)-$(date +%Y%m%d).csv
THREADS="1 2"
BATCHES="1 4"
MODES="optimized plain"
ONLY=""
ROUNDS=1
PASS=()  # the options each round is run with
while (($#)); do
  case $1 in
    --out) OUT=$2; shift 2 ;;
    --threads) THREADS=$2; PASS+=("$1" "$2"); shift 2 ;;
    --batches) BATCHES=$2; PASS+=("$1" "$2"); shift 2 ;;
    --modes) MODES=$2; PASS+=("$1" "$2"); shift 2 ;;
    --only) ONLY=$2; PASS+=("$1" "$2"); shift 2 ;;
    --rounds) ROUNDS=$2; shift 2 ;;
    -h | --help) sed -n '2,36p' "$0"; exit 0 ;;
    *) echo "measure-zoo: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
[[ $ROUNDS =~ ^[1-9][0-9]*$ ]] || { echo "measure-zoo: --rounds must be >= 1" >&2; exit 2; }
if ((ROUNDS > 1)); then
  rounds_dir=${OUT%.csv}.rounds
  for ((round = 1; round <= ROUNDS; ++round)); do
    echo "measure-zoo: round $round of $ROUNDS into $rounds_dir/round-$round.csv" >&2
    CALLS_DIVISOR=$ROUNDS bash "$0" --out "$rounds_dir/round-$round.csv" "${PASS[@]}"
  done
  /usr/bin/python3 scripts/combine_rounds.py --out "$OUT" "$rounds_dir"/round-*.csv
  exit 0
fi
CALLS_DIVISOR=${CALLS_DIVISOR:-1}

ZOO_DIR=${FLEETML_ZOO_DIR:-$HOME/.cache/fleetml/zoo}
VEHICLE=${FLEETML_BUILD_DIR:-build}/bin/fleet-vehicle
QUIET_CORES=${QUIET_CORES:-0.15}
MAX_WAIT_S=${MAX_WAIT_S:-1800}
SLOW_MS=${SLOW_MS:-5000}
PY=/usr/bin/python3
[[ -x $VEHICLE ]] || { echo "measure-zoo: $VEHICLE not built" >&2; exit 1; }
[[ -d $ZOO_DIR ]] || { echo "measure-zoo: no zoo in $ZOO_DIR (scripts/export-zoo.sh)" >&2; exit 1; }
mkdir -p "$(dirname "$OUT")"
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

# Datasheet-style float32 peak of the whole CPU: cores x max clock x FLOPs per cycle per core
# (2 FMA units x vector width x 2: AVX-512 64, AVX2+FMA 32, NEON 16, else 8). Like DIGA's
# Table 1 figures it is a property of the device, not of the runtime configuration.
nominal_gflops() {
  local cores ghz per_cycle=8
  cores=$(grep -c '^processor' /proc/cpuinfo)
  ghz=$(awk -F: '/cpu MHz/ {m = $2 > m ? $2 : m} END {printf "%.3f", m / 1000}' /proc/cpuinfo)
  local f=/sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq
  [[ -r $f ]] && ghz=$(awk '{printf "%.3f", $1 / 1e6}' "$f")
  if grep -qw avx512f /proc/cpuinfo; then per_cycle=64
  elif grep -qw fma /proc/cpuinfo; then per_cycle=32
  elif grep -qw asimd /proc/cpuinfo; then per_cycle=16
  fi
  awk -v c="$cores" -v g="$ghz" -v p="$per_cycle" 'BEGIN {printf "%.1f", c * g * p}'
}
NOMINAL=${NOMINAL_GFLOPS:-$(nominal_gflops)}
NCORES=$(grep -c '^processor' /proc/cpuinfo)

# Busy and total jiffies of all CPUs.
cpu_jiffies() { awk '/^cpu / {print $2 + $3 + $4 + $7 + $8 + $9, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9}' /proc/stat; }

# Cores kept busy by everything on the machine over 2 s (this script sleeps meanwhile).
busy_cores() {
  local b0 t0 b1 t1
  read -r b0 t0 < <(cpu_jiffies)
  sleep 2
  read -r b1 t1 < <(cpu_jiffies)
  awk -v b="$((b1 - b0))" -v t="$((t1 - t0))" -v n="$NCORES" 'BEGIN {printf "%.3f", t ? b / t * n : 0}'
}

wait_quiet() {
  local waited=0 busy
  while :; do
    busy=$(busy_cores)
    awk -v b="$busy" -v q="$QUIET_CORES" 'BEGIN {exit !(b < q)}' && return 0
    if ((waited >= MAX_WAIT_S)); then
      echo "measure-zoo: still busy ($busy cores) after ${MAX_WAIT_S}s; measuring anyway" >&2
      return 0
    fi
    ((waited == 0)) && echo "measure-zoo: machine busy ($busy cores used by others); waiting" >&2
    sleep 15
    waited=$((waited + 17))
  done
}

# run_quiet OUTFILE CMD...: runs CMD (stdout to OUTFILE) on a quiet machine, up to 3 times
# while other processes took more than QUIET_CORES on average; keeps the quietest run and
# prints "<load1> <foreign cores>" of it.
run_quiet() {
  local out=$1 best="" best_load="" attempt
  shift
  for attempt in 1 2 3; do
    wait_quiet
    local load1 b0 t0 b1 t1 foreign
    load1=$(cut -d' ' -f1 /proc/loadavg)
    read -r b0 t0 < <(cpu_jiffies)
    /usr/bin/time -f '%e %U %S' -o "$TMP/time" "$@" >"$TMP/attempt" 2>"$TMP/stderr" || {
      cat "$TMP/stderr" >&2
      return 1
    }
    read -r b1 t1 < <(cpu_jiffies)
    foreign=$(awk -v b="$((b1 - b0))" -v t="$((t1 - t0))" -v n="$NCORES" -v hz="$(getconf CLK_TCK)" \
      '{wall = $1; own = $2 + $3} END {f = wall > 0 ? (b / hz - own) / wall : 0;
        printf "%.3f", f < 0 ? 0 : f}' "$TMP/time")
    if [[ -z $best ]] || awk -v a="$foreign" -v b="$best" 'BEGIN {exit !(a < b)}'; then
      best=$foreign best_load=$load1
      cp "$TMP/attempt" "$out"
    fi
    awk -v f="$best" -v q="$QUIET_CORES" 'BEGIN {exit !(f < q)}' && break
    echo "measure-zoo: other processes took $foreign cores during the run; repeating" >&2
  done
  echo "$best_load $best"
}

HEADER=model_id,input_shape,batch,threads,optimized,arch,cpu_model,cores,clock_ghz,ram_gb,nominal_gflops,gpu_name,gpu_memory_gb,gpu_cores,gpu_clock_ghz,runtime,profile,gemm_gflops,conv_gflops,pointwise_conv_gflops,depthwise_conv_gflops,linear_gflops,memory_bandwidth_gbps,op_overhead_us,p50_ms,p95_ms,mean_ms,min_ms,peak_rss_mb,repeats,load1,foreign_cores,source,l2_cache_bytes,last_level_cache_bytes,pool_gops,conv_call_us,linear_stream_gflops
[[ -s $OUT ]] || echo "$HEADER" >"$OUT"
[[ $(head -1 "$OUT") == "$HEADER" ]] || { echo "measure-zoo: $OUT has other columns" >&2; exit 1; }

# "id shape macs" of every zoo model with an artifact and a profile, in catalog order.
$PY - "$ZOO_DIR" "$ONLY" >"$TMP/models" <<'EOF'
import json, os, sys
zoo, only = sys.argv[1], [m for m in sys.argv[2].split(",") if m]
for m in json.load(open("data/zoo.json"))["models"]:
    pt, prof = f"{zoo}/{m['id']}.pt", f"{zoo}/{m['id']}.profile.json"
    if (only and m["id"] not in only) or not (os.path.exists(pt) and os.path.exists(prof)):
        continue
    print(m["id"], "x".join(map(str, m["input_shape"])), json.load(open(prof))["macs"])
EOF

echo "measure-zoo: $(wc -l <"$TMP/models") models, modes [$MODES], threads [$THREADS]," \
  "batches [$BATCHES], nominal $NOMINAL GFLOPS, into $OUT; load now: $(cat /proc/loadavg)" >&2
measured=0 skipped=0 slow_skipped=0 start=$(date +%s)
for mode in $MODES; do
  mode_flag=() optimized=true
  [[ $mode == plain ]] && mode_flag=(--no-optimize) optimized=false
  for threads in $THREADS; do
    cal=$TMP/cal-$mode-$threads.json
    read -r cal_load cal_foreign < <(run_quiet "$cal" "$VEHICLE" calibrate --json \
      --threads "$threads" "${mode_flag[@]}")
    echo "measure-zoo: calibrated $mode, $threads thread(s) (load $cal_load, others $cal_foreign cores)" >&2
    while read -r id shape macs; do
      for batch in $BATCHES; do
        key="$id,$shape,$batch,$threads,$optimized,"
        if grep -q "^$key" "$OUT"; then skipped=$((skipped + 1)); continue; fi
        if ((batch > 1)) && grep -qx "$id $threads $mode" "$TMP/slow" 2>/dev/null; then
          slow_skipped=$((slow_skipped + 1))
          continue
        fi
        # About 10 s of timed calls, at least 20 and at most 200 (guessing 100 GFLOPS a thread),
        # shared between the rounds (at least 10 a round).
        repeats=$(awk -v m="$macs" -v b="$batch" -v t="$threads" -v d="$CALLS_DIVISOR" 'BEGIN {
          ms = 2 * m * b / (100e9 * t) * 1e3 + 0.05; r = int(10000 / ms);
          r = int((r < 20 ? 20 : (r > 200 ? 200 : r)) / d); print r < 10 ? 10 : r}')
        bench=$TMP/bench.json
        read -r load1 foreign < <(run_quiet "$bench" "$VEHICLE" benchmark --model "$ZOO_DIR/$id.pt" \
          --input "$shape" --batch "$batch" --threads "$threads" "${mode_flag[@]}" \
          --warmup 5 --repeats "$repeats" --json)
        $PY - "$cal" "$bench" "$id" "$shape" "$NOMINAL" "$load1" "$foreign" >>"$OUT" <<'EOF'
import csv, json, sys
cal_file, bench_file, model_id, shape, nominal, load1, foreign = sys.argv[1:]
cap, b = json.load(open(cal_file)), json.load(open(bench_file))
d, c = cap["device"], cap["calibration"]
gpu = d["gpus"][0] if d["gpus"] else {}
csv.writer(sys.stdout, lineterminator="\n").writerow([
    model_id, shape, b["batch"], b["threads"], str(b["optimized"]).lower(),
    d["arch"], d["cpu_model"], d["cores"], f'{d["clock_ghz"]:.3f}', f'{d["ram_gb"]:.2f}',
    d["nominal_gflops"] or nominal, gpu.get("name", ""), gpu.get("memory_gb", 0),
    gpu.get("cores", 0), gpu.get("clock_ghz", 0), d["runtime"], d["profile"],
    *(f'{c[k]:.4g}' for k in ("gemm_gflops", "conv_gflops", "pointwise_conv_gflops",
                               "depthwise_conv_gflops", "linear_gflops",
                               "memory_bandwidth_gbps", "op_overhead_us")),
    *(f'{b[k]:.4f}' for k in ("p50_ms", "p95_ms", "mean_ms", "min_ms")),
    f'{b["peak_rss_mb"]:.1f}', b["repeats"], load1, foreign, c["source"],
    d.get("l2_cache_bytes", 0), d.get("last_level_cache_bytes", 0), f'{c.get("pool_gops", 0):.4g}',
    f'{c.get("conv_call_us", 0):.4g}', f'{c.get("linear_stream_gflops", 0):.4g}'])
EOF
        measured=$((measured + 1))
        p50=$(tail -1 "$OUT" | cut -d, -f25)
        echo "measure-zoo: $id batch $batch, $threads thread(s), $mode: p50 $p50 ms" \
          "($repeats calls, load $load1, others $foreign cores)" >&2
        if ((batch == 1)) && awk -v p="$p50" -v s="$SLOW_MS" 'BEGIN {exit !(p > s)}'; then
          echo "measure-zoo: $id takes over $SLOW_MS ms at batch 1 ($threads thread(s), $mode):" \
            "larger batches skipped" >&2
          echo "$id $threads $mode" >>"$TMP/slow"
        fi
      done
    done <"$TMP/models"
  done
done
echo "measure-zoo: $measured rows measured, $skipped already present, $slow_skipped skipped as" \
  "too slow, in $(($(date +%s) - start)) s; load now: $(cat /proc/loadavg)" >&2
