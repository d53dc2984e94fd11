#!/usr/bin/env bash
# Installs the Debian 12 packages fleetml needs, only those missing, and selects OpenBLAS's
# OpenMP build as the system BLAS (LibTorch on Debian's reference BLAS is up to 8x slower:
# ResNet50 669 vs 81 ms per image; the pthreads build keeps a second thread pool that competes
# with LibTorch's OpenMP one at 2+ threads, shared/runtime/runtime.h). The pthreads build is
# installed too, not selected: a test runs fleet-vehicle on it (what it does on a system that
# selects it). Run as root. Idempotent; prints nothing but a summary when all is there.
set -euo pipefail

PACKAGES=(
  build-essential cmake ccache pkg-config git
  libpaho-mqttpp-dev libpaho-mqtt-dev mosquitto mosquitto-clients
  libtorch-dev libopenblas0-openmp libopenblas0-pthread
  libprotobuf-dev protobuf-compiler
  libsqlitecpp-dev libsqlite3-dev
  libssl-dev libcurl4-openssl-dev nlohmann-json3-dev libxgboost-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  python3-torch python3-torchvision
  gnuplot-nox
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if ((${#missing[@]})); then
  if [[ $(id -u) -ne 0 ]]; then
    echo "install-deps: missing packages (${missing[*]}); run as root" >&2
    exit 1
  fi
  echo "install-deps: installing ${#missing[@]} package(s): ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# LibTorch links libblas.so.3 and liblapack.so.3, which link libopenblas.so.0: point all three
# alternatives at OpenBLAS's OpenMP build (the pthreads build has the higher priority, so
# automatic mode would pick it; libblas.so.3 alone would still load the pthreads libopenblas).
multiarch=$(gcc -print-multiarch)
blas_dir=/usr/lib/$multiarch/openblas-openmp
for lib in libblas.so.3 liblapack.so.3 libopenblas.so.0; do
  alt=$lib-$multiarch
  if [[ -e $blas_dir/$lib ]] && [[ $(readlink -f /etc/alternatives/$alt 2>/dev/null) != "$(readlink -f $blas_dir/$lib)" ]]; then
    if [[ $(id -u) -eq 0 ]]; then
      update-alternatives --set "$alt" "$blas_dir/$lib" >/dev/null
    else
      echo "install-deps: warning: $alt does not point at $blas_dir (run as root to fix)" >&2
    fi
  fi
done
echo "install-deps: all ${#PACKAGES[@]} packages present; BLAS: $(readlink -f "/etc/alternatives/libopenblas.so.0-$multiarch")"
