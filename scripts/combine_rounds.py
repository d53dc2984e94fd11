#!/usr/bin/env python3
"""Combines the rounds of a measurement set (scripts/measure-zoo.sh --rounds N) into one set.

  python3 scripts/combine_rounds.py --out data/measurements/NAME.csv ROUND.csv...

Each output row is one (model, input, batch, threads, mode) measured in every round: p50, p95,
mean and min the median of its rounds', peak RSS the largest, timed calls the sum, load and
foreign cores the largest. The calibration of a runtime configuration (threads, mode) is the
median per kernel of that configuration's calibration in each round, the same on all its rows.
A row missing from some round is left out, and said on stderr.
"""
import argparse
import csv
import statistics
import sys

KEY = ("model_id", "input_shape", "batch", "threads", "optimized")
CALIBRATION = ("gemm_gflops", "conv_gflops", "pointwise_conv_gflops", "depthwise_conv_gflops",
               "linear_gflops", "memory_bandwidth_gbps", "op_overhead_us", "pool_gops",
               "conv_call_us", "linear_stream_gflops")
MEDIAN = ("p50_ms", "p95_ms", "mean_ms", "min_ms")
LARGEST = ("peak_rss_mb", "load1", "foreign_cores")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True)
    parser.add_argument("rounds", nargs="+")
    args = parser.parse_args()

    header, rounds = None, []
    for path in args.rounds:
        with open(path, newline="") as f:
            reader = csv.DictReader(f)
            if header is not None and reader.fieldnames != header:
                sys.exit(f"combine_rounds: {path} has other columns than {args.rounds[0]}")
            header = reader.fieldnames
            rounds.append({tuple(row[k] for k in KEY): row for row in reader})

    # Calibration of each configuration in each round (the same on all of the round's rows).
    calibrations = {}
    for r in rounds:
        for key, row in r.items():
            calibrations.setdefault(key[3:], {})[id(r)] = row
    median_calibration = {
        config: {c: statistics.median(float(row[c]) for row in per_round.values())
                 for c in CALIBRATION if c in header}
        for config, per_round in calibrations.items()}

    keys = list(dict.fromkeys(k for r in rounds for k in r))
    out_rows, missing = [], []
    for key in keys:
        rows = [r[key] for r in rounds if key in r]
        if len(rows) < len(rounds):
            missing.append(",".join(key))
            continue
        out = dict(rows[0])
        for c, v in median_calibration[key[3:]].items():
            out[c] = f"{v:.4g}"
        for c in MEDIAN:
            out[c] = f"{statistics.median(float(row[c]) for row in rows):.4f}"
        for c in LARGEST:
            out[c] = max((row[c] for row in rows), key=float)
        out["repeats"] = str(sum(int(row["repeats"]) for row in rows))
        out_rows.append(out)

    with open(args.out, "w", newline="") as f:
        writer = csv.DictWriter(f, header, lineterminator="\n")
        writer.writeheader()
        writer.writerows(out_rows)
    print(f"combine_rounds: {len(out_rows)} rows from {len(rounds)} rounds into {args.out}",
          file=sys.stderr)
    if missing:
        print(f"combine_rounds: {len(missing)} rows not in every round left out, e.g. "
              + "; ".join(missing[:3]), file=sys.stderr)


if __name__ == "__main__":
    main()
