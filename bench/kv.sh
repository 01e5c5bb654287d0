#!/usr/bin/env bash
# KV v2 benchmark: read and write over HTTP with wrk, at several numbers of
# stored secrets, next to the ceiling-hsm server measured in the same run.
# Markdown on stdout, progress on stderr. See bench/README.md for the
# ceiling and for how to read the numbers.
#
#   bench/kv.sh                          # 1k then 100k secrets, 10 s runs
#   SIZES="1000 10000" DUR=5 bench/kv.sh
#   COFFER_BIN=build-kv-rel/coffer bench/kv.sh
#
# Environment (all optional):
#   COFFER_BIN   server binary (build/coffer under the repo root)
#   SIZES        stored-secret counts, ascending ("1000 100000")
#   DUR          seconds per wrk run (10)
#   CONNS        wrk connections (16); WRK_THREADS wrk threads (2)
#   THREADS      ceiling server pool threads (2)
#   FILL_CONNS   parallel writers that store the secrets (16)
#   CEILING_BIN  prebuilt coffer-ceiling (else built here with gcc)
#   AUDIT        1 (default): also read and write at the largest N with a
#                file audit device enabled; 0 skips those rows
#   COFFER_HSM_LIB  PKCS#11 module (/usr/lib/softhsm/libsofthsm2.so)
#
# Coffer runs as `server -dev` (fresh SoftHSM token, KV v2 at secret/).
# Secrets are "secret/data/bench/k<i>", i < N, each {"user","password"};
# the read target GETs a random one of them, the write target POSTs a new
# version of a random one. The script starts only its own processes, kills
# only those PIDs, and keeps its files in one temp dir removed on exit.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
COFFER_BIN=${COFFER_BIN:-$ROOT/build/coffer}
SIZES=${SIZES:-"1000 100000"}
DUR=${DUR:-10}
CONNS=${CONNS:-16}
WRK_THREADS=${WRK_THREADS:-2}
THREADS=${THREADS:-2}
FILL_CONNS=${FILL_CONNS:-16}
HSM_LIB=${COFFER_HSM_LIB:-/usr/lib/softhsm/libsofthsm2.so}
ROOT_TOKEN=bench-root
BENCH_PIN=1234
PY=/usr/bin/python3

TMP=$(mktemp -d "${TMPDIR:-/tmp}/coffer-kvbench.XXXXXX")
PIDS=()

# shellcheck source=bench/lib.sh
. "$HERE/lib.sh"

wait_ready() {    # FILE PID: the ceiling prints "ready" when it listens
    local i
    for ((i = 0; i < 1000; i++)); do
        grep -qx ready "$1" 2>/dev/null && return 0
        kill -0 "$2" 2>/dev/null || break
        sleep 0.01
    done
    cat "$1" >&2 || true
    die "coffer-ceiling did not get ready"
}

make_token() {    # DIR VAR LABEL: a private SoftHSM token, conf path in VAR
    local _dir=$1 _label=$3 _conf
    mkdir -p "$_dir"
    if [[ -x $ROOT/softhsm-conf/make-token.sh ]]; then
        _conf=$("$ROOT/softhsm-conf/make-token.sh" "$_dir" "$_label" \
                "$BENCH_PIN" 2>"$_dir.log" | tail -n 1) \
            || { cat "$_dir.log" >&2; die "make-token.sh failed"; }
    else
        mkdir -p "$_dir/tokens"
        _conf=$_dir/softhsm2.conf
        printf 'directories.tokendir = %s/tokens\nobjectstore.backend = file\nlog.level = ERROR\n' \
            "$_dir" > "$_conf"
        SOFTHSM2_CONF=$_conf softhsm2-util --init-token --free \
            --label "$_label" --pin "$BENCH_PIN" --so-pin 87654321 \
            >/dev/null
    fi
    printf -v "$2" '%s' "$_conf"
}

median() {
    printf '%s\n' "$@" | sort -g | awk '{ a[NR] = $1 }
        END { if (NR % 2) print a[(NR + 1) / 2];
              else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}

human_us() {
    awk -v v="$1" 'BEGIN { if (v >= 1000) printf "%.2f ms", v / 1000;
                           else printf "%d µs", v }'
}

[[ -x $COFFER_BIN ]] || die "$COFFER_BIN does not exist (build it, or set COFFER_BIN)"
command -v wrk >/dev/null || die "wrk is not installed"

# ------------------------------------------------------------ wrk scripts
cat >"$TMP/read.lua" <<'EOF'
-- GET a random one of the KV_N stored secrets.
local n = tonumber(os.getenv("KV_N"))
math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16) % 65536)
request = function()
    return wrk.format("GET", "/v1/secret/data/bench/k" .. math.random(0, n - 1))
end
EOF
cat >"$TMP/write.lua" <<'EOF'
-- POST a new version of a random one of the KV_N stored secrets.
local n = tonumber(os.getenv("KV_N"))
math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16) % 65536)
local body = '{"data":{"user":"bench","password":"0123456789abcdef0123456789abcdef"}}'
-- wrk.format(m, p, nil, b) keeps wrk.headers, where -H put the token
wrk.headers["Content-Type"] = "application/json"
request = function()
    return wrk.format("POST", "/v1/secret/data/bench/k" .. math.random(0, n - 1),
                      nil, body)
end
EOF
cat >"$TMP/post.lua" <<'EOF'
wrk.method = "POST"
wrk.body = '{"plaintext":"aGVsbG8gY29mZmVy","context":"YmVuY2g="}'
wrk.headers["Content-Type"] = "application/json"
EOF
# Stores secrets [lo, hi) with FILL_CONNS keep-alive connections.
cat >"$TMP/fill.py" <<'EOF'
import http.client, json, sys, threading, time
port, token, lo, hi, conns = (int(sys.argv[1]), sys.argv[2],
                              int(sys.argv[3]), int(sys.argv[4]),
                              int(sys.argv[5]))
bad = []
def work(t):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    h = {"X-Vault-Token": token, "Content-Type": "application/json"}
    for i in range(lo + t, hi, conns):
        body = json.dumps({"data": {"user": "bench",
                                    "password": "p%031d" % i}})
        c.request("POST", "/v1/secret/data/bench/k%d" % i, body, h)
        r = c.getresponse()
        r.read()
        if r.status != 200:
            bad.append(r.status)
t0 = time.monotonic()
ts = [threading.Thread(target=work, args=(t,)) for t in range(conns)]
for t in ts: t.start()
for t in ts: t.join()
dt = time.monotonic() - t0
print("%d %.1f %d" % (hi - lo, dt, len(bad)))
sys.exit(1 if bad else 0)
EOF

# ------------------------------------------------------------- servers
CEIL=${CEILING_BIN:-}
if [[ -z $CEIL ]]; then
    CEIL=$TMP/coffer-ceiling
    log "building coffer-ceiling"
    # shellcheck disable=SC2046
    gcc -std=c17 -D_GNU_SOURCE -O2 -Wall -Wextra -Wpedantic -Werror \
        "$HERE/ceiling.c" -o "$CEIL" \
        $(pkg-config --cflags --libs libmicrohttpd jansson libcrypto \
          p11-kit-1) -ldl -lpthread
fi
make_token "$TMP/ceiling-hsm" CEIL_CONF bench-ceiling
pick_port P_HSM
SOFTHSM2_CONF=$CEIL_CONF COFFER_HSM_LIB=$HSM_LIB \
    "$CEIL" -m hsm -p "$P_HSM" -t "$THREADS" -L bench-ceiling \
    -P "$BENCH_PIN" >"$TMP/ceil-hsm.log" 2>&1 &
PIDS+=("$!")
wait_ready "$TMP/ceil-hsm.log" "$!"

pick_port P_C
TMPDIR=$TMP "$COFFER_BIN" server -dev -dev-listen-address="127.0.0.1:$P_C" \
    -dev-root-token-id="$ROOT_TOKEN" >"$TMP/coffer.log" 2>&1 &
COFFER_PID=$!
PIDS+=("$COFFER_PID")
wait_code "http://127.0.0.1:$P_C/v1/sys/health" "$COFFER_PID" "$TMP/coffer.log"
code=$(curl -s -o "$TMP/probe" -w '%{http_code}' \
    -H "X-Vault-Token: $ROOT_TOKEN" -X POST \
    --data '{"data":{"probe":"1"}}' \
    "http://127.0.0.1:$P_C/v1/secret/data/probe" || true)
[[ $code == 200 ]] || die "KV v2 write to secret/ answered $code: $(head -c 300 "$TMP/probe")"

# ------------------------------------------------------------------ load
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

ROWS=()
run_wrk() {    # NAME N URL wrk-args...: appends a row "NAME N rps p50 p99 err"
    local name=$1 n=$2 url=$3 out
    shift 3
    out=$TMP/wrk-$name-$n.txt
    log "wrk $name (N=$n, ${DUR}s)"
    KV_N=$n wrk -t"$WRK_THREADS" -c"$CONNS" -d"${DUR}s" --latency "$@" \
        "$url" >"$out" 2>&1 || { cat "$out" >&2; die "wrk failed"; }
    ROWS+=("$name $n $(awk "$WRK_AWK" "$out")")
}

FILLS=()
have=0
H="X-Vault-Token: $ROOT_TOKEN"
for n in $SIZES; do
    if ((n > have)); then
        log "storing secrets $have..$((n - 1)) ($FILL_CONNS writers)"
        read -r cnt secs errs < <("$PY" "$TMP/fill.py" "$P_C" "$ROOT_TOKEN" \
            "$have" "$n" "$FILL_CONNS") || die "storing secrets failed"
        FILLS+=("$cnt $secs")
        have=$n
    fi
    run_wrk ceiling-hsm "$n" "http://127.0.0.1:$P_HSM/v1/transit/encrypt/bench" \
        -s "$TMP/post.lua"
    run_wrk kv-read "$n" "http://127.0.0.1:$P_C/v1/secret/data/bench/k0" \
        -s "$TMP/read.lua" -H "$H"
    run_wrk kv-write "$n" "http://127.0.0.1:$P_C/v1/secret/data/bench/k0" \
        -s "$TMP/write.lua" -H "$H"
done
# What an audit device costs: the same read and write at the largest N
# with a file device (every string of request and response HMAC'd on
# the token, one line written per entry).
if [[ ${AUDIT:-1} == 1 ]]; then
    log "enabling a file audit device"
    code=$(curl -s -o /dev/null -w '%{http_code}' -X PUT -H "$H" \
        --data "{\"type\":\"file\",\"options\":{\"file_path\":\"$TMP/audit.log\"}}" \
        "http://127.0.0.1:$P_C/v1/sys/audit/file" || true)
    [[ $code == 204 ]] || die "enabling the audit device answered $code"
    run_wrk kv-read-audited "$n" "http://127.0.0.1:$P_C/v1/secret/data/bench/k0" \
        -s "$TMP/read.lua" -H "$H"
    run_wrk kv-write-audited "$n" "http://127.0.0.1:$P_C/v1/secret/data/bench/k0" \
        -s "$TMP/write.lua" -H "$H"
fi
RSS=$(awk '/^VmRSS:/ { print $2 }' "/proc/$COFFER_PID/status" 2>/dev/null || echo 0)

# ---------------------------------------------------------------- report
cat <<EOF
## Coffer KV v2 benchmark

| | |
|---|---|
| date | $(date -u '+%Y-%m-%d %H:%M UTC') |
| host | $(nproc) CPUs, $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo) |
| coffer | $COFFER_BIN (server -dev, SQLite, SoftHSM) |
| load | wrk -t$WRK_THREADS -c$CONNS -d${DUR}s --latency, keep-alive, root token |
| ceiling | coffer-ceiling -m hsm, pool of $THREADS threads (one AES-GCM on a session key per request) |

| stored secrets | target | request | req/s | p50 | p99 | vs ceiling-hsm | errors |
|---|---|---|---|---|---|---|---|
EOF
declare -A CEIL_RPS
for r in "${ROWS[@]}"; do
    read -r name n rps p50 p99 err <<<"$r"
    [[ $name == ceiling-hsm ]] && CEIL_RPS[$n]=$rps
done
for r in "${ROWS[@]}"; do
    read -r name n rps p50 p99 err <<<"$r"
    case $name in
        ceiling-hsm) req="POST /v1/transit/encrypt/bench" ;;
        kv-read)     req="GET /v1/secret/data/bench/k<random>" ;;
        kv-write)    req="POST /v1/secret/data/bench/k<random>" ;;
        kv-read-audited)  req="GET, with a file audit device" ;;
        kv-write-audited) req="POST, with a file audit device" ;;
    esac
    ratio=$(awk -v x="$rps" -v y="${CEIL_RPS[$n]:-0}" \
        'BEGIN { if (y > 0) printf "%.2f", x / y; else print "-" }')
    printf '| %s | %s | %s | %s | %s | %s | %s | %s |\n' "$n" "$name" \
        "$req" "$rps" "$(human_us "$p50")" "$(human_us "$p99")" "$ratio" \
        "$err"
done
echo
echo "| storing the secrets | writes | seconds | writes/s |"
echo "|---|---|---|---|"
for f in "${FILLS[@]}"; do
    read -r cnt secs <<<"$f"
    printf '| %s parallel writers | %s | %s | %s |\n' "$FILL_CONNS" "$cnt" \
        "$secs" "$(awk -v c="$cnt" -v s="$secs" 'BEGIN { printf "%.0f", c / s }')"
done
printf '\nCoffer RSS after the runs: %s MB\n' \
    "$(awk -v k="$RSS" 'BEGIN { printf "%.1f", k / 1024 }')"
