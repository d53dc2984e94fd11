#!/usr/bin/env bash
# Exports the model zoo (data/zoo.json) as TorchScript into a cache outside git, then writes
# each model's characterization <id>.profile.json beside it when build/bin/fleetctl exists
# (again whenever fleetctl is newer than the profile). Exported models are kept; delete one
# to re-export it. Arguments go to export_zoo.py
# (e.g. --only resnet18,mobilenet_v2).
set -euo pipefail
cd "$(dirname "$0")/.."
ZOO_DIR=${FLEETML_ZOO_DIR:-$HOME/.cache/fleetml/zoo}
FLEETCTL=${FLEETML_BUILD_DIR:-build}/bin/fleetctl

echo "export-zoo: exporting into $ZOO_DIR"
/usr/bin/python3 scripts/export_zoo.py --out "$ZOO_DIR" "$@"

if [[ ! -x $FLEETCTL ]]; then
  echo "export-zoo: $FLEETCTL not built; skipping characterization"
  exit 0
fi
# id and input shape of every model, as "id 1x3x224x224" lines.
/usr/bin/python3 -c '
import json, sys
for m in json.load(open("data/zoo.json"))["models"]:
    print(m["id"], "x".join(map(str, m["input_shape"])))' |
  while read -r id shape; do
    pt=$ZOO_DIR/$id.pt profile=$ZOO_DIR/$id.profile.json
    [[ -e $pt ]] || continue
    [[ -e $profile && $profile -nt $FLEETCTL ]] && continue
    echo "export-zoo: characterizing $id"
    "$FLEETCTL" characterize "$pt" --input "$shape" --json >"$profile.tmp"
    mv "$profile.tmp" "$profile"
  done
echo "export-zoo: done"
