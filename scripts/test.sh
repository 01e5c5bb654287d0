#!/usr/bin/env bash
# Install what is missing, build, and run the whole test suite under ctest:
# once in a normal build, once with AddressSanitizer + UBSan, then the
# libFuzzer harnesses (clang) for a bounded number of runs each.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
jobs=$(nproc)

bash "$root/scripts/deps.sh"

run_suite() {
    local dir=$1; shift
    cmake -S "$root" -B "$dir" "$@" >/dev/null
    cmake --build "$dir" -j"$jobs"
    (cd "$dir" && ctest --output-on-failure --timeout 900 -j"$jobs")
}

echo "== build + test (RelWithDebInfo)"
run_suite "$root/build-test" -DCMAKE_BUILD_TYPE=RelWithDebInfo
echo "== build + test (ASan + UBSan)"
ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
    run_suite "$root/build-asan" -DCMAKE_BUILD_TYPE=Debug -DCOFFER_SANITIZE=ON
echo "== fuzz (libFuzzer, bounded runs)"
CC=clang cmake -S "$root" -B "$root/build-fuzz" -DCMAKE_BUILD_TYPE=Debug \
    -DCOFFER_TESTS=ON -DCOFFER_FUZZ=ON -DCOFFER_FUZZ_RUNS=200000 >/dev/null
cmake --build "$root/build-fuzz" -j"$jobs" \
    --target fuzz_hcl fuzz_config fuzz_json fuzz_policy fuzz_cidr \
             fuzz_path fuzz_b64 fuzz_transit_wire
(cd "$root/build-fuzz" && ctest --output-on-failure -L fuzz -j"$jobs")
