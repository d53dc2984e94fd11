#!/usr/bin/env bash
# Configures and builds fleetml into ./build (Release, ccache when present).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${FLEETML_BUILD_DIR:-build}
JOBS=${FLEETML_JOBS:-$(nproc)}
cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$BUILD_DIR" -j "$JOBS"
