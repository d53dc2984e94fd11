#!/usr/bin/env bash
# The test command: installs what is missing, builds, exports the model zoo (cached) and runs
# every test (unit and integration; integration tests start their own mosquitto on loopback).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh
bash scripts/export-zoo.sh
cd "${FLEETML_BUILD_DIR:-build}"
ctest --output-on-failure -j "${FLEETML_JOBS:-$(nproc)}" "$@"
