#!/usr/bin/env bash
# Installs the Debian 12 packages fleetml needs, only those missing, and selects OpenBLAS as
# the system BLAS (LibTorch on Debian's reference BLAS is up to 8x slower: ResNet50 669 vs
# 81 ms per image). Run as root. Idempotent; prints nothing but a summary when all is there.
set -euo pipefail

PACKAGES=(
  build-essential cmake ccache pkg-config git
  libpaho-mqttpp-dev libpaho-mqtt-dev mosquitto mosquitto-clients
  libtorch-dev libopenblas0-pthread
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

# LibTorch links libblas.so.3; point the alternative at OpenBLAS.
alt=libblas.so.3-x86_64-linux-gnu
openblas=/usr/lib/x86_64-linux-gnu/openblas-pthread/libblas.so.3
if [[ -e $openblas ]] && [[ $(readlink -f /etc/alternatives/$alt 2>/dev/null) != "$openblas" ]]; then
  if [[ $(id -u) -eq 0 ]]; then
    update-alternatives --set "$alt" "$openblas" >/dev/null
  else
    echo "install-deps: warning: $alt does not point at OpenBLAS (run as root to fix)" >&2
  fi
fi
echo "install-deps: all ${#PACKAGES[@]} packages present; BLAS: $(readlink -f /etc/alternatives/$alt)"
