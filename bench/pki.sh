#!/usr/bin/env bash
# PKI benchmark: certificates per second over HTTP (wrk, keep-alive) for
# sign/<role> (EC P-256 CSR) and issue/<role> (EC P-256 and RSA-2048 leaf
# keys), next to the in-process rate of building and signing the same
# certificate with the CA key (EC P-256) on the token, measured in the same
# run by bench/pki_inproc.c. Markdown on stdout, progress on stderr.
#
#   bench/pki.sh
#   DUR=5 COFFER_BIN=build-pki/coffer bench/pki.sh
#
# Environment (all optional):
#   COFFER_BIN   server binary (build/coffer under the repo root); its
#                build dir must hold libcoffer_core.a (pki_inproc links it)
#   DUR          seconds per wrk run and per in-process run (10)
#   CONNS        wrk connections (16); WRK_THREADS wrk threads (2)
#   THREADS      in-process signing threads (nproc)
#   ROUNDS       HTTP/in-process pairs for the issue/ec target row (3)
#   COFFER_HSM_LIB  PKCS#11 module (/usr/lib/softhsm/libsofthsm2.so)
#
# Coffer runs as `server -dev` (fresh SoftHSM token). The script starts
# only its own processes, kills only those PIDs, and keeps its files in one
# temp dir removed on exit.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
COFFER_BIN=${COFFER_BIN:-$ROOT/build/coffer}
DUR=${DUR:-10}
CONNS=${CONNS:-16}
WRK_THREADS=${WRK_THREADS:-2}
THREADS=${THREADS:-$(nproc)}
ROUNDS=${ROUNDS:-3}
HSM_LIB=${COFFER_HSM_LIB:-/usr/lib/softhsm/libsofthsm2.so}
ROOT_TOKEN=bench-root
BENCH_PIN=1234
PY=/usr/bin/python3

TMP=$(mktemp -d "${TMPDIR:-/tmp}/coffer-pkibench.XXXXXX")
PIDS=()

# shellcheck source=bench/lib.sh
. "$HERE/lib.sh"

api() {    # METHOD PATH [JSON]: fails the script on a non-2xx answer
    local code
    code=$(curl -s -o "$TMP/api.out" -w '%{http_code}' -X "$1" \
        -H "X-Vault-Token: $ROOT_TOKEN" ${3:+--data "$3"} \
        "http://127.0.0.1:$P_C/v1/$2" || true)
    [[ $code == 2* ]] || die "$1 $2 answered $code: $(head -c 300 "$TMP/api.out")"
}

[[ -x $COFFER_BIN ]] || die "$COFFER_BIN does not exist (build it, or set COFFER_BIN)"
LIB=$(dirname "$COFFER_BIN")/libcoffer_core.a
[[ -f $LIB ]] || die "$LIB does not exist (pki_inproc links it)"
command -v wrk >/dev/null || die "wrk is not installed"

# ------------------------------------------------------ in-process ceiling
log "building pki_inproc"
# shellcheck disable=SC2046
gcc -std=c17 -D_GNU_SOURCE -O2 -Wall -Wextra -Wpedantic -Werror \
    -I"$ROOT/include" -I"$ROOT/engines" "$HERE/pki_inproc.c" "$LIB" \
    $(pkg-config --cflags --libs libmicrohttpd jansson sqlite3 libcrypto \
      p11-kit-1 libgfshare) -ldl -lpthread -o "$TMP/pki_inproc"
mkdir -p "$TMP/inproc-hsm"
INPROC_CONF=$("$ROOT/softhsm-conf/make-token.sh" "$TMP/inproc-hsm" \
    bench-pki "$BENCH_PIN" 2>"$TMP/inproc-hsm.log" | tail -n 1) \
    || { cat "$TMP/inproc-hsm.log" >&2; die "make-token.sh failed"; }
declare -A INPROC
inproc() {    # MODE [KEY]: the rate goes to INPROC[KEY], KEY defaults to MODE
    log "in-process $1 (${DUR}s, $THREADS threads)"
    INPROC[${2:-$1}]=$(SOFTHSM2_CONF=$INPROC_CONF "$TMP/pki_inproc" \
        "$HSM_LIB" bench-pki "$BENCH_PIN" "$1" "$DUR" "$THREADS") \
        || die "pki_inproc $1 failed"
}

# ------------------------------------------------------------------ server
pick_port P_C
TMPDIR=$TMP "$COFFER_BIN" server -dev -dev-listen-address="127.0.0.1:$P_C" \
    -dev-root-token-id="$ROOT_TOKEN" >"$TMP/coffer.log" 2>&1 &
COFFER_PID=$!
PIDS+=("$COFFER_PID")
wait_code "http://127.0.0.1:$P_C/v1/sys/health" "$COFFER_PID" "$TMP/coffer.log"
api POST sys/mounts/pki '{"type":"pki"}'
api POST pki/root/generate/internal \
    '{"common_name":"bench root","key_type":"ec","key_bits":256,"ttl":"87600h"}'
# basic_constraints_valid_for_non_ca: the leaf gets basicConstraints
# CA:FALSE like the in-process certificate, so both build the same thing.
api POST pki/roles/ec \
    '{"allowed_domains":"example.com","allow_subdomains":true,"key_type":"ec","key_bits":256,"ttl":"1h","basic_constraints_valid_for_non_ca":true}'
api POST pki/roles/ec-nostore \
    '{"allowed_domains":"example.com","allow_subdomains":true,"key_type":"ec","key_bits":256,"ttl":"1h","no_store":true,"basic_constraints_valid_for_non_ca":true}'
api POST pki/roles/rsa \
    '{"allowed_domains":"example.com","allow_subdomains":true,"key_type":"rsa","key_bits":2048,"ttl":"1h","basic_constraints_valid_for_non_ca":true}'
openssl req -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:P-256 \
    -keyout "$TMP/csr.key" -out "$TMP/csr.pem" -subj /CN=www.example.com \
    2>/dev/null || die "openssl req failed"
CSR_BODY=$("$PY" -c 'import json,sys; print(json.dumps({"csr": open(sys.argv[1]).read(), "common_name": "www.example.com"}))' "$TMP/csr.pem")
ISSUE_BODY='{"common_name":"www.example.com"}'
api POST pki/sign/ec "$CSR_BODY"
api POST pki/issue/ec "$ISSUE_BODY"

mklua() {    # FILE BODY
    "$PY" - "$1" "$2" <<'EOF'
import sys
body = sys.argv[2].replace("\\", "\\\\").replace("'", "\\'").replace("\n", "\\n")
open(sys.argv[1], "w").write(
    "wrk.method = \"POST\"\n"
    "wrk.body = '%s'\n"
    "wrk.headers[\"Content-Type\"] = \"application/json\"\n" % body)
EOF
}
mklua "$TMP/sign.lua" "$CSR_BODY"
mklua "$TMP/issue.lua" "$ISSUE_BODY"

# shellcheck disable=SC2016 # awk program, not shell
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

declare -A HTTP
run_wrk() {    # NAME PATH LUA
    local out=$TMP/wrk-$1.txt
    log "wrk $1 (${DUR}s, $CONNS connections)"
    wrk -t"$WRK_THREADS" -c"$CONNS" -d"${DUR}s" --latency --timeout 10s \
        -s "$3" \
        -H "X-Vault-Token: $ROOT_TOKEN" \
        "http://127.0.0.1:$P_C/v1/$2" >"$out" 2>&1 \
        || { cat "$out" >&2; die "wrk failed"; }
    HTTP[$1]=$(awk "$WRK_AWK" "$out")
}

# Interleave: each HTTP run next to its in-process run.
run_wrk sign pki/sign/ec "$TMP/sign.lua"
inproc sign
# The target row: ROUNDS alternating pairs, the round with the median
# ratio reported, since this shared VM drifts by tens of percent within a
# minute and a single pair can land on either side of it.
RATIOS=()
for ((r = 1; r <= ROUNDS; r++)); do
    run_wrk "ec-$r" pki/issue/ec "$TMP/issue.lua"
    inproc ec "ec-$r"
    read -r rps _ <<<"${HTTP[ec-$r]}"
    RATIOS+=("$(awk -v x="$rps" -v y="${INPROC[ec-$r]}" \
        'BEGIN { printf "%.2f", (y > 0) ? x / y : 0 }') $r")
done
MEDIAN=$(printf '%s\n' "${RATIOS[@]}" | sort -n \
    | awk '{ a[NR] = $2 } END { print a[int((NR + 1) / 2)] }')
HTTP[ec]=${HTTP[ec-$MEDIAN]}
INPROC[ec]=${INPROC[ec-$MEDIAN]}
run_wrk ec-nostore pki/issue/ec-nostore "$TMP/issue.lua"
INPROC[ec-nostore]=${INPROC[ec]}
run_wrk rsa pki/issue/rsa "$TMP/issue.lua"
inproc rsa
RSS=$(awk '/^VmRSS:/ { print $2 }' "/proc/$COFFER_PID/status" 2>/dev/null || echo 0)

# ---------------------------------------------------------------- report
human_us() {
    awk -v v="$1" 'BEGIN { if (v >= 1000) printf "%.2f ms", v / 1000;
                           else printf "%d µs", v }'
}
cat <<EOF
## Coffer PKI benchmark

| | |
|---|---|
| date | $(date -u '+%Y-%m-%d %H:%M UTC') |
| host | $(nproc) CPUs, $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo) |
| coffer | $COFFER_BIN (server -dev, SQLite, SoftHSM), CA key EC P-256 on the token |
| load | wrk -t$WRK_THREADS -c$CONNS -d${DUR}s --latency --timeout 10s (RSA key generation takes ~1 s a request), keep-alive, root token; certificates stored (role default; each store is a durable SQLite write) except the no_store row |
| in-process | bench/pki_inproc.c, $THREADS threads, same certificate built with OpenSSL and signed on the token through engines/pki_sign.c, nothing stored |

| target | request | certs/s | p50 | p99 | errors | in-process certs/s | ratio |
|---|---|---|---|---|---|---|---|
EOF
for t in sign ec ec-nostore rsa; do
    read -r rps p50 p99 err <<<"${HTTP[$t]}"
    case $t in
        sign) req="POST /v1/pki/sign/ec (EC P-256 CSR)" ;;
        ec)   req="POST /v1/pki/issue/ec (EC P-256 leaf key)" ;;
        ec-nostore) req="POST /v1/pki/issue/ec-nostore (EC P-256, role no_store)" ;;
        rsa)  req="POST /v1/pki/issue/rsa (RSA-2048 leaf key)" ;;
    esac
    ratio=$(awk -v x="$rps" -v y="${INPROC[$t]:-0}" \
        'BEGIN { if (y > 0) printf "%.2f", x / y; else print "-" }')
    printf '| %s | %s | %s | %s | %s | %s | %s | %s |\n' "$t" "$req" "$rps" \
        "$(human_us "$p50")" "$(human_us "$p99")" "$err" "${INPROC[$t]}" \
        "$ratio"
done
printf '\nissue/ec ratio in each of %d rounds: %s (the ec row is the median round)\n' \
    "$ROUNDS" "$(printf '%s\n' "${RATIOS[@]}" | sort -k2n \
                 | awk '{ printf "%s%s", (NR > 1) ? ", " : "", $1 }')"
printf '\nCoffer RSS after the runs: %s MB\n' \
    "$(awk -v k="$RSS" 'BEGIN { printf "%.1f", k / 1024 }')"
