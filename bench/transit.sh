#!/usr/bin/env bash
# Transit benchmark: one run on loopback, markdown on stdout, progress on
# stderr. For each transit operation it measures, back to back:
#   coffer      wrk against `coffer server -dev` POST /v1/transit/<op>/<key>
#   ceiling     wrk against coffer-transit-ceiling (bench/transit_ceiling.c):
#               libmicrohttpd + JSON + the same single HSM op through
#               Coffer's hsm/ layer, nothing else
#   raw         the same op in a loop in-process (THREADS threads), ops/s
# and prints coffer/ceiling and coffer/raw.
#
#   bench/transit.sh                 # DUR=10 s per wrk run
#   DUR=5 bench/transit.sh
#
# Environment: DUR (10), RAW (3, seconds per raw loop), CONNS (16),
# WRK_THREADS (2), THREADS (ceiling pool and raw threads, 2), COFFER_BUILD
# (build dir with coffer and libcoffer_core.a; build/), COFFER_HSM_LIB,
# ONLY (space-separated row names to run, default all).
#
# It starts only its own processes, kills only those PIDs, and keeps every
# file in one temp dir removed on exit.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
DUR=${DUR:-10}
RAW=${RAW:-3}
CONNS=${CONNS:-16}
WRK_THREADS=${WRK_THREADS:-2}
THREADS=${THREADS:-2}
BUILD=${COFFER_BUILD:-$ROOT/build}
HSM_LIB=${COFFER_HSM_LIB:-/usr/lib/softhsm/libsofthsm2.so}
ROOT_TOKEN=bench-root
PIN=1234

TMP=$(mktemp -d "${TMPDIR:-/tmp}/coffer-transit-bench.XXXXXX")
PIDS=()

# shellcheck source=bench/lib.sh
. "$HERE/lib.sh"

wait_line() {    # FILE PID WORD
    local i
    for ((i = 0; i < 3000; i++)); do
        grep -q "$3" "$1" 2>/dev/null && return 0
        kill -0 "$2" 2>/dev/null || break
        sleep 0.01
    done
    cat "$1" >&2 || true
    die "process $2 did not print '$3'"
}

[[ -x $BUILD/coffer && -f $BUILD/libcoffer_core.a ]] \
    || die "build first: $BUILD/coffer and $BUILD/libcoffer_core.a (set COFFER_BUILD)"
command -v wrk >/dev/null || die "wrk is not installed"

# ---------------------------------------------------------------- ceiling
CEIL=$TMP/coffer-transit-ceiling
log "building coffer-transit-ceiling"
# shellcheck disable=SC2046 # pkg-config output is word-split on purpose
gcc -O2 -std=c17 -D_GNU_SOURCE -I"$ROOT/include" "$HERE/transit_ceiling.c" \
    "$BUILD/libcoffer_core.a" \
    $(pkg-config --cflags --libs libmicrohttpd jansson libcrypto p11-kit-1 \
      sqlite3 libgfshare) -lpthread -ldl -o "$CEIL" \
    || die "cannot build the ceiling"
mkdir -p "$TMP/ceil-tok"
CEIL_CONF=$("$ROOT/softhsm-conf/make-token.sh" "$TMP/ceil-tok" bench-tc "$PIN" \
            2>"$TMP/ceil-tok.log" | tail -n 1) || die "make-token.sh failed"

# ----------------------------------------------------------------- coffer
pick_port P_C
TMPDIR=$TMP "$BUILD/coffer" server -dev -dev-listen-address="127.0.0.1:$P_C" \
    -dev-root-token-id="$ROOT_TOKEN" >"$TMP/coffer.log" 2>&1 &
COFFER_PID=$!
PIDS+=("$COFFER_PID")
BASE=http://127.0.0.1:$P_C/v1
for ((i = 0; i < 3000; i++)); do
    [[ $(curl -s -o /dev/null -w '%{http_code}' "$BASE/sys/health" || true) == 200 ]] && break
    kill -0 "$COFFER_PID" 2>/dev/null || { cat "$TMP/coffer.log" >&2; die "coffer exited"; }
    sleep 0.01
done
api() {    # METHOD PATH [JSON]: prints the body, fails on >= 300
    local code
    code=$(curl -s -o "$TMP/api.out" -w '%{http_code}' -X "$1" \
        -H "X-Vault-Token: $ROOT_TOKEN" ${3:+--data "$3"} "$BASE/$2")
    [[ $code -lt 300 ]] || { cat "$TMP/api.out" >&2; die "$1 $2 answered $code"; }
    cat "$TMP/api.out"
}
api POST sys/mounts/transit '{"type":"transit"}' >/dev/null
api POST transit/keys/aes '{"type":"aes256-gcm96"}' >/dev/null
api POST transit/keys/ec '{"type":"ecdsa-p256"}' >/dev/null
api POST transit/keys/ed '{"type":"ed25519"}' >/dev/null
api POST transit/keys/rsa '{"type":"rsa-2048"}' >/dev/null

b64rand() { head -c "$1" /dev/urandom | base64 -w0; }
jfield() { python3 -c 'import json,sys; print(json.load(sys.stdin)["data"][sys.argv[1]])' "$1"; }
P64=$(b64rand 64)
P4K=$(b64rand 4096)

# name | coffer path | ceiling op | payload bytes | body
ROWS=()
row() { ROWS+=("$1|$2|$3|$4|$5"); }
CT64=$(api POST transit/encrypt/aes "{\"plaintext\":\"$P64\"}" | jfield ciphertext)
CT4K=$(api POST transit/encrypt/aes "{\"plaintext\":\"$P4K\"}" | jfield ciphertext)
row encrypt-64B transit/encrypt/aes enc 64 "{\"plaintext\":\"$P64\"}"
row encrypt-4KiB transit/encrypt/aes enc 4096 "{\"plaintext\":\"$P4K\"}"
row decrypt-64B transit/decrypt/aes dec 64 "{\"ciphertext\":\"$CT64\"}"
row decrypt-4KiB transit/decrypt/aes dec 4096 "{\"ciphertext\":\"$CT4K\"}"
for k in ec ed rsa; do
    case $k in ec) t=ecdsa-p256;; ed) t=ed25519;; rsa) t=rsa-2048;; esac
    S=$(api POST "transit/sign/$k" "{\"input\":\"$P64\"}" | jfield signature)
    row "sign-$t" "transit/sign/$k" "sign-$k" 64 "{\"input\":\"$P64\"}"
    row "verify-$t" "transit/verify/$k" "verify-$k" 64 \
        "{\"input\":\"$P64\",\"signature\":\"$S\"}"
done
row hmac-sha256-64B transit/hmac/aes hmac 64 "{\"input\":\"$P64\"}"

# wrk: prints "req/s p50_us p99_us errors"
# shellcheck disable=SC2016 # awk program
WRK_AWK='
function us(v) {
    if (v ~ /us$/) return v + 0;
    if (v ~ /ms$/) return (v + 0) * 1000;
    if (v ~ /s$/)  return (v + 0) * 1e6;
    return v + 0;
}
/Latency Distribution/ { dist = 1; next }
dist && $1 == "50%" { p50 = us($2) }
dist && $1 == "99%" { p99 = us($2); dist = 0 }
/^Requests\/sec:/ { rps = $2 }
/Non-2xx or 3xx responses:/ { err += $NF }
/Socket errors:/ { gsub(/,/, ""); err += $4 + $6 + $8 + $10 }
END { printf "%.0f %.0f %.0f %d\n", rps, p50, p99, err }'

run_wrk() {    # URL BODYFILE [TOKEN]
    local lua=$TMP/post.lua
    {
        printf 'wrk.method = "POST"\n'
        printf 'local f = io.open("%s", "rb")\nwrk.body = f:read("*a")\nf:close()\n' "$2"
        printf 'wrk.headers["Content-Type"] = "application/json"\n'
        [[ -n ${3:-} ]] && printf 'wrk.headers["X-Vault-Token"] = "%s"\n' "$3"
    } >"$lua"
    wrk -t"$WRK_THREADS" -c"$CONNS" -d"${DUR}s" --latency -s "$lua" "$1" \
        >"$TMP/wrk.txt" 2>&1 || { cat "$TMP/wrk.txt" >&2; die "wrk failed"; }
    awk "$WRK_AWK" "$TMP/wrk.txt"
}

human_us() {
    awk -v v="$1" 'BEGIN { if (v >= 1000) printf "%.2f ms", v / 1000;
                           else printf "%d µs", v }'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'; }

cat <<EOF
## Coffer transit benchmark

| | |
|---|---|
| date | $(date -u '+%Y-%m-%d %H:%M UTC') |
| host | $(nproc) CPUs, $(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo) |
| load | wrk -t$WRK_THREADS -c$CONNS -d${DUR}s --latency, keep-alive, 127.0.0.1 |
| ceiling | coffer-transit-ceiling: libmicrohttpd epoll pool of $THREADS + JSON + the one op through hsm/ |
| raw | the op in a loop, $THREADS threads, ${RAW}s, in-process through hsm/ |
| loadavg at start | $(cut -d' ' -f1-3 /proc/loadavg) |

| operation | Coffer req/s | p50 | p99 | ceiling server req/s | p50 | raw op/s | Coffer / ceiling | Coffer / raw | errors |
|---|---|---|---|---|---|---|---|---|---|
EOF

for r in "${ROWS[@]}"; do
    IFS='|' read -r name path op bytes body <<<"$r"
    if [[ -n ${ONLY:-} && " $ONLY " != *" $name "* ]]; then continue; fi
    log "$name: coffer"
    printf '%s' "$body" >"$TMP/body.json"
    read -r c_rps c_p50 c_p99 c_err < <(run_wrk "$BASE/$path" "$TMP/body.json" "$ROOT_TOKEN")

    log "$name: ceiling server"
    pick_port P_T
    SOFTHSM2_CONF=$CEIL_CONF COFFER_HSM_LIB=$HSM_LIB "$CEIL" -o "$op" \
        -p "$P_T" -t "$THREADS" -n "$bytes" -L bench-tc -P "$PIN" \
        >"$TMP/ceil.log" 2>&1 &
    CP=$!
    PIDS+=("$CP")
    wait_line "$TMP/ceil.log" "$CP" ready
    cbody=$body
    if [[ $op == dec ]]; then
        # a ciphertext of the ceiling's own key
        pt=$([[ $bytes == 64 ]] && echo "$P64" || echo "$P4K")
        cct=$(curl -s --data "{\"plaintext\":\"$pt\"}" "http://127.0.0.1:$P_T/" | jfield ciphertext)
        cbody="{\"ciphertext\":\"$cct\"}"
    elif [[ $op == verify-* ]]; then
        cs=$(curl -s --data "{\"input\":\"$P64\"}" "http://127.0.0.1:$P_T/" | jfield signature)
        cbody="{\"input\":\"$P64\",\"signature\":\"$cs\"}"
    fi
    printf '%s' "$cbody" >"$TMP/cbody.json"
    read -r t_rps t_p50 _ t_err < <(run_wrk "http://127.0.0.1:$P_T/v1/$path" "$TMP/cbody.json")
    stop_pid "$CP"

    log "$name: raw"
    raw=$(SOFTHSM2_CONF=$CEIL_CONF COFFER_HSM_LIB=$HSM_LIB "$CEIL" -o "$op" \
          -r "$RAW" -t "$THREADS" -n "$bytes" -L bench-tc -P "$PIN" 2>"$TMP/raw.log" \
          | tail -n 1) || { cat "$TMP/raw.log" >&2; raw=0; }
    printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' \
        "$name" "$c_rps" "$(human_us "$c_p50")" "$(human_us "$c_p99")" \
        "$t_rps" "$(human_us "$t_p50")" "$raw" \
        "$(ratio "$c_rps" "$t_rps")" "$(ratio "$c_rps" "$raw")" \
        "$((c_err + t_err))"
done
printf '\nloadavg at end: %s\n' "$(cut -d' ' -f1-3 /proc/loadavg)"
