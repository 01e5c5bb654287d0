#!/usr/bin/env bash
# Install the Debian 12 packages Coffer builds, runs and tests with.
# Installs only what is missing; apt-get update runs first when it must.
set -euo pipefail

pkgs=(
    build-essential cmake pkg-config git curl ca-certificates
    libssl-dev libp11-dev libp11-kit-dev libmicrohttpd-dev libjansson-dev
    libsqlite3-dev libgfshare-dev sqlite3
    libcurl4-openssl-dev
    softhsm2 opensc
    libcmocka-dev python3 python3-pytest python3-requests python3-hvac
    clang libclang-rt-14-dev
    python3-jwt python3-cryptography faketime
    wrk
)

missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" \
        || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "deps: missing packages: ${missing[*]}; run as root" >&2
        exit 1
    fi
    echo "deps: installing ${missing[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
