#!/usr/bin/env bash
# fleet-vehicle's latency on each of Debian's OpenBLAS builds (OpenMP, the set-up's choice, and
# pthreads), alternated in the same run: `fleet-vehicle benchmark` per model, mode and build,
# ROUNDS rounds, each build loaded from its own directory (LD_LIBRARY_PATH) whatever the
# system's alternative selects. Prints the median over rounds of p50 and p95 (ms) and the
# ratio pthreads / OpenMP.
#
#   bash bench/blas_builds.sh [--threads 2] [--rounds 3] [--repeats 60] [MODEL...]
#
# Needs the zoo (scripts/export-zoo.sh) and both libopenblas0-openmp and libopenblas0-pthread.
set -euo pipefail
cd "$(dirname "$0")/.."

threads=2 rounds=3 repeats=60
models=()
while (($#)); do
  case $1 in
    --threads) threads=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --repeats) repeats=$2; shift 2 ;;
    -h|--help) sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "blas_builds: unknown option $1" >&2; exit 2 ;;
    *) models+=("$1"); shift ;;
  esac
done
((${#models[@]})) || models=(alexnet mobilenet_v2 mobilenet_v3_large mnasnet1_0 resnet50 googlenet)
zoo=${FLEETML_ZOO_DIR:-$HOME/.cache/fleetml/zoo}
vehicle=${FLEETML_BUILD_DIR:-build}/bin/fleet-vehicle
lib=/usr/lib/$(gcc -print-multiarch)
for build in openmp pthread; do
  [[ -e $lib/openblas-$build/libopenblas.so.0 ]] || {
    echo "blas_builds: libopenblas0-$build is not installed" >&2
    exit 1
  }
done
[[ -x $vehicle ]] || { echo "blas_builds: $vehicle not built (scripts/build.sh)" >&2; exit 1; }

results=$(mktemp)
trap 'rm -f "$results"' EXIT
for model in "${models[@]}"; do
  [[ -e $zoo/$model.pt ]] || { echo "blas_builds: $zoo/$model.pt missing" >&2; exit 1; }
  for mode in opt plain; do
    flags=()
    [[ $mode == plain ]] && flags=(--no-optimize)
    for ((round = 1; round <= rounds; ++round)); do
      for build in openmp pthread; do
        echo "blas_builds: $model $mode round $round/$rounds on $build" >&2
        LD_LIBRARY_PATH=$lib/openblas-$build "$vehicle" benchmark --model "$zoo/$model.pt" \
          --threads "$threads" --repeats "$repeats" "${flags[@]}" --json 2>/dev/null |
          python3 -c 'import json, sys; d = json.load(sys.stdin); print(sys.argv[1], d["p50_ms"], d["p95_ms"])' \
            "$model,$mode,$build" >>"$results"
      done
    done
  done
done

python3 - "$results" "$threads" "$rounds" <<'EOF'
import collections, statistics, sys
rows = collections.defaultdict(lambda: collections.defaultdict(list))
for line in open(sys.argv[1]):
    key, p50, p95 = line.split()
    model, mode, build = key.split(",")
    rows[(model, mode)][build].append((float(p50), float(p95)))
print(f"{sys.argv[2]} threads, median of {sys.argv[3]} alternated rounds (ms)")
print(f"{'model':<20} {'mode':<6} {'openmp p50/p95':>16} {'pthread p50/p95':>16} {'p50 ratio':>10} {'p95 ratio':>10}")
p50_ratios, p95_ratios = [], []
for (model, mode), builds in rows.items():
    med = {b: (statistics.median(x[0] for x in v), statistics.median(x[1] for x in v)) for b, v in builds.items()}
    o, p = med["openmp"], med["pthread"]
    p50_ratios.append(p[0] / o[0]); p95_ratios.append(p[1] / o[1])
    print(f"{model:<20} {mode:<6} {o[0]:>7.1f}/{o[1]:<8.1f} {p[0]:>7.1f}/{p[1]:<8.1f} {p[0]/o[0]:>10.2f} {p[1]/o[1]:>10.2f}")
print(f"median ratio pthreads / OpenMP: p50 {statistics.median(p50_ratios):.2f}, p95 {statistics.median(p95_ratios):.2f}")
EOF
