#!/usr/bin/env bash
# Installs every Debian package pacsnode needs to build, run and test. Idempotent: installs only
# what is missing. Run as root on Debian 12 (or via sudo).
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config clang-format
  libdcmtk-dev dcmtk                       # DICOM toolkit and its command-line tools (tests use them)
  libsqlite3-dev                           # embedded index
  libpqxx-dev libpq-dev postgresql         # PostgreSQL index, and a server for the tests
  libboost1.81-dev                         # Beast/Asio/JSON/URL for the HTTP face
  libexpected-dev libtomlplusplus-dev      # tl::expected, TOML config
  libopenjp2-7-dev                         # JPEG 2000
  zlib1g-dev                               # deflated objects
  libssl-dev                               # JWT signatures and secret hashes (OpenSSL)
  libgtest-dev googletest                  # tests
  libpng-dev libjpeg-dev                   # tests decode rendered images to compare them
  dicom3tools                              # dciodvfy: an independent check of the objects we make
  libopenjp2-tools libgdcm-tools           # opj_compress/opj_decompress, gdcmconv: JPEG 2000 peers
  openjph-tools                            # ojph_compress: HTJ2K codestreams from another coder
  clang                                    # libFuzzer and the sanitizers (scripts/fuzz.sh)
  curl procps psmisc openssl
  nginx-light libnginx-mod-stream          # the balancer of the cluster recipe (scripts/cluster.sh)
  chromium nodejs                          # the web UI's browser tests (tests/browser)
)
# npm for those tests: Debian's package, unless npm is already there (NodeSource's nodejs bundles
# it and conflicts with Debian's npm package).
command -v npm >/dev/null || packages+=(npm)
# Extra groups some scripts need: `setup.sh bench` adds the peers the benchmarks compare against.
if [[ "${1:-}" == "bench" ]]; then
  packages+=(orthanc orthanc-dicomweb orthanc-gdcm python3)  # GDCM: Orthanc transcodes J2K
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  if [[ $(id -u) -ne 0 ]]; then SUDO=sudo; else SUDO=; fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  # The Debian postgresql package starts a cluster on 5432; pacsnode's tests run their own server.
  # The nginx package starts a default server on port 80 of every interface: the cluster recipe
  # runs its own nginx on loopback, so the packaged service is stopped and kept off.
  if [[ " ${missing[*]} " == *" nginx-light "* ]]; then
    if command -v systemctl >/dev/null && systemctl is-system-running >/dev/null 2>&1; then
      $SUDO systemctl disable --now nginx >/dev/null 2>&1 || true
    elif [[ -f /run/nginx.pid ]]; then
      $SUDO nginx -s stop >/dev/null 2>&1 || true
    fi
  fi
fi
echo "setup: all packages present"
