#!/usr/bin/env bash
# Coffer benchmark: one run on loopback, markdown on stdout, progress on
# stderr. See bench/README.md for what each number means.
#
#   bench/run.sh                 # DUR=10 s per wrk run, REPS=1
#   DUR=5 REPS=3 bench/run.sh    # medians over 3 interleaved reps
#
# Environment (all optional):
#   DUR          seconds per wrk run (10)
#   REPS         rounds over all targets; medians are reported (1)
#   CONNS        wrk connections (16); WRK_THREADS wrk threads (2)
#   THREADS      ceiling server pool threads (2)
#   BOOTS        Coffer boots timed (3)
#   COFFER_BIN   server binary (build/coffer under the repo root)
#   COFFER_HSM_LIB  PKCS#11 module (/usr/lib/softhsm/libsofthsm2.so)
#   CEILING_BIN  prebuilt coffer-ceiling (else built here with gcc)
#   CONFIG_BOOT  0 skips the config-mode (sqlite + pkcs11 seal) restarts
#
# It starts only its own processes, kills only those PIDs, and keeps every
# file (tokens, database, logs) in one temp dir removed on exit.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
DUR=${DUR:-10}
REPS=${REPS:-1}
CONNS=${CONNS:-16}
WRK_THREADS=${WRK_THREADS:-2}
THREADS=${THREADS:-2}
BOOTS=${BOOTS:-3}
CONFIG_BOOT=${CONFIG_BOOT:-1}
COFFER_BIN=${COFFER_BIN:-$ROOT/build/coffer}
HSM_LIB=${COFFER_HSM_LIB:-/usr/lib/softhsm/libsofthsm2.so}
ROOT_TOKEN=bench-root
BENCH_PIN=1234
POST_BODY='{"plaintext":"aGVsbG8gY29mZmVy","context":"YmVuY2g="}'

TMP=$(mktemp -d "${TMPDIR:-/tmp}/coffer-bench.XXXXXX")
PIDS=()
USED_PORTS=" "

log() { printf '%s\n' "$*" >&2; }
die() { log "run.sh: $*"; exit 1; }

# SIGTERM, give it 5 s to clean up (Coffer removes its dev token), then
# SIGKILL. Only ever called with a PID this script started.
stop_pid() {
    local pid=$1 i
    kill -TERM "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
    for ((i = 0; i < 50; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

forget_pid() {
    local keep=() p
    for p in "${PIDS[@]}"; do [[ $p == "$1" ]] || keep+=("$p"); done
    PIDS=("${keep[@]}")
}

cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do stop_pid "$pid"; done
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A port nobody listens on: the connect must fail.
pick_port() {
    local _p _i
    for ((_i = 0; _i < 200; _i++)); do
        _p=$((20000 + RANDOM % 40000))
        [[ $USED_PORTS == *" $_p "* ]] && continue
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$_p") 2>/dev/null; then
            USED_PORTS+="$_p "
            printf -v "$1" '%s' "$_p"
            return 0
        fi
    done
    die "no free loopback port"
}

now_us() { printf -v "$1" '%s' "${EPOCHREALTIME//[.,]/}"; }

rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null || true; }

# HTTP status of GET /v1/sys/health, or nothing if nobody answers. Plain
# bash so that polling costs no process start per probe.
health_code() {
    ( exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
      printf 'GET /v1/sys/health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n' >&3
      read -r -t 5 _ code _ <&3 && printf '%s' "$code" ) 2>/dev/null || true
}

# wait_health PORT PID LOG WANT: poll until sys/health answers WANT
# (a regex); fail if the process dies or 60 s pass.
wait_health() {
    local port=$1 pid=$2 logf=$3 want=$4 code t0 t
    now_us t0
    while :; do
        code=$(health_code "$port")
        [[ -n $code && $code =~ ^($want)$ ]] && return 0
        if ! kill -0 "$pid" 2>/dev/null; then
            log "process $pid exited before sys/health said $want; log:"
            tail -n 20 "$logf" >&2 || true
            return 1
        fi
        now_us t
        if ((t - t0 > 60000000)); then
            log "sys/health still '${code:-no answer}' after 60 s; log:"
            tail -n 20 "$logf" >&2 || true
            return 1
        fi
        sleep 0.002
    done
}

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

# A private SoftHSM token: softhsm-conf/make-token.sh if it exists (it
# prints the softhsm2.conf path), else the same by hand. Sets $2 to the
# conf path.
make_token() {
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
    [[ -f $_conf ]] || die "make-token gave no softhsm2.conf ($_conf)"
    printf -v "$2" '%s' "$_conf"
}

pkgver() {
    dpkg-query -W -f='${Version}' "$1" 2>/dev/null || printf 'n/a'
}

median() {
    printf '%s\n' "$@" | sort -g | awk '{ a[NR] = $1 }
        END { if (NR == 0) print "";
              else if (NR % 2) print a[(NR + 1) / 2];
              else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}

# ---------------------------------------------------------------- header
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
cat <<EOF
## Coffer benchmark

| | |
|---|---|
| date | $(date -u '+%Y-%m-%d %H:%M UTC') |
| host | $(nproc) CPUs, $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo) |
| kernel | $(uname -r) |
| os | $(. /etc/os-release 2>/dev/null && printf '%s' "${PRETTY_NAME:-?}") |
| softhsm2 | $(pkgver softhsm2) |
| openssl | $(pkgver libssl3) |
| libmicrohttpd | $(pkgver libmicrohttpd12) |
| jansson | $(pkgver libjansson4) |
| wrk | $(pkgver wrk) |
| load | -t$WRK_THREADS -c$CONNS -d${DUR}s --latency, REPS=$REPS, keep-alive, 127.0.0.1 |
| ceiling | libmicrohttpd epoll, pool of $THREADS threads |
| loadavg at start | $LOAD_START |

EOF

# ------------------------------------------------------------- ceiling
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

pick_port P_PLAIN
"$CEIL" -m plain -p "$P_PLAIN" -t "$THREADS" >"$TMP/ceil-plain.log" 2>&1 &
PID_PLAIN=$!
PIDS+=("$PID_PLAIN")
wait_ready "$TMP/ceil-plain.log" "$PID_PLAIN"

pick_port P_HSM
SOFTHSM2_CONF=$CEIL_CONF COFFER_HSM_LIB=$HSM_LIB \
    "$CEIL" -m hsm -p "$P_HSM" -t "$THREADS" -L bench-ceiling \
    -P "$BENCH_PIN" >"$TMP/ceil-hsm.log" 2>&1 &
PID_HSM=$!
PIDS+=("$PID_HSM")
wait_ready "$TMP/ceil-hsm.log" "$PID_HSM"
CEIL_RSS_KB=$(rss_kb "$PID_HSM")

# Own token, so its object files are not shared with the session-copy run.
make_token "$TMP/ceiling-tok" CEIL_TOK_CONF bench-ceiling
pick_port P_TOK
SOFTHSM2_CONF=$CEIL_TOK_CONF COFFER_HSM_LIB=$HSM_LIB \
    "$CEIL" -m hsm-token -p "$P_TOK" -t "$THREADS" -L bench-ceiling \
    -P "$BENCH_PIN" >"$TMP/ceil-tok.log" 2>&1 &
PID_TOK=$!
PIDS+=("$PID_TOK")
wait_ready "$TMP/ceil-tok.log" "$PID_TOK"

# --------------------------------------------------------------- coffer
HAVE_COFFER=0
BOOT_DEV=()
RSS_DEV=()
BOOT_CFG=()
RSS_CFG=()
COFFER_NOTE=""

coffer_dev_start() {    # PORT LOG: sets COFFER_PID
    TMPDIR=$TMP "$COFFER_BIN" server -dev \
        -dev-listen-address="127.0.0.1:$1" \
        -dev-root-token-id="$ROOT_TOKEN" >"$2" 2>&1 &
    COFFER_PID=$!
    PIDS+=("$COFFER_PID")
}

# Time BOOTS dev-mode starts: exec to the first 200 from sys/health, then
# idle RSS one second later. The last instance stays up for the load runs.
coffer_dev_boots() {
    local i t0 t1
    for ((i = 1; i <= BOOTS; i++)); do
        pick_port P_COFFER
        now_us t0
        coffer_dev_start "$P_COFFER" "$TMP/coffer-dev-$i.log"
        wait_health "$P_COFFER" "$COFFER_PID" "$TMP/coffer-dev-$i.log" 200 \
            || return 1
        now_us t1
        BOOT_DEV+=($(((t1 - t0) / 1000)))
        sleep 1
        RSS_DEV+=("$(rss_kb "$COFFER_PID")")
        log "coffer -dev boot $i: ${BOOT_DEV[-1]} ms, RSS ${RSS_DEV[-1]} kB"
        if ((i < BOOTS)); then
            stop_pid "$COFFER_PID"
            forget_pid "$COFFER_PID"
        fi
    done
}

# Config mode: persisted SQLite store + pkcs11 seal on a private token.
# First start is initialised with sys/init; then BOOTS restarts are timed
# from exec to auto-unsealed (200).
coffer_config_boots() {
    local conf hcl port pid logf i t0 t1 code
    make_token "$TMP/coffer-hsm" conf coffer-bench || return 1
    pick_port port
    hcl=$TMP/coffer.hcl
    cat >"$hcl" <<EOF
storage "sqlite" {
  path = "$TMP/coffer.db"
}
listener "tcp" {
  address     = "127.0.0.1:$port"
  tls_disable = true
}
seal "pkcs11" {
  lib          = "$HSM_LIB"
  token_label  = "coffer-bench"
  pin          = "$BENCH_PIN"
  key_label    = "coffer-barrier"
  generate_key = "true"
}
EOF
    logf=$TMP/coffer-cfg-0.log
    SOFTHSM2_CONF=$conf TMPDIR=$TMP "$COFFER_BIN" server -config="$hcl" \
        >"$logf" 2>&1 &
    pid=$!
    PIDS+=("$pid")
    wait_health "$port" "$pid" "$logf" '[0-9]+' || return 1
    code=$(curl -s -o "$TMP/init.json" -w '%{http_code}' -X PUT \
        --data '{"recovery_shares":1,"recovery_threshold":1}' \
        "http://127.0.0.1:$port/v1/sys/init" || true)
    if [[ $code != 200 ]]; then
        log "config mode: sys/init answered $code: $(head -c 300 "$TMP/init.json" 2>/dev/null)"
        stop_pid "$pid"; forget_pid "$pid"
        return 1
    fi
    wait_health "$port" "$pid" "$logf" 200 || return 1
    stop_pid "$pid"; forget_pid "$pid"
    for ((i = 1; i <= BOOTS; i++)); do
        logf=$TMP/coffer-cfg-$i.log
        now_us t0
        SOFTHSM2_CONF=$conf TMPDIR=$TMP "$COFFER_BIN" server \
            -config="$hcl" >"$logf" 2>&1 &
        pid=$!
        PIDS+=("$pid")
        wait_health "$port" "$pid" "$logf" 200 || return 1
        now_us t1
        BOOT_CFG+=($(((t1 - t0) / 1000)))
        sleep 1
        RSS_CFG+=("$(rss_kb "$pid")")
        log "coffer -config restart $i: ${BOOT_CFG[-1]} ms, RSS ${RSS_CFG[-1]} kB"
        stop_pid "$pid"; forget_pid "$pid"
    done
}

# curl one request; prints the status code (000 if nothing answered)
probe() {    # METHOD URL [curl args...]
    local m=$1 u=$2
    shift 2
    curl -s -o "$TMP/probe.out" -w '%{http_code}' -X "$m" "$@" "$u" || true
}

if [[ ! -x $COFFER_BIN ]]; then
    COFFER_NOTE="Coffer rows skipped: $COFFER_BIN does not exist (build it, or set COFFER_BIN)."
    log "$COFFER_NOTE"
else
    if [[ $CONFIG_BOOT != 0 ]]; then
        log "timing config-mode restarts (sqlite + pkcs11 seal)"
        if ! coffer_config_boots; then
            log "config-mode boot measurement failed (see above); continuing"
            BOOT_CFG=()
            RSS_CFG=()
        fi
    fi
    log "timing $BOOTS dev-mode boots"
    if coffer_dev_boots; then
        HAVE_COFFER=1
    else
        COFFER_NOTE="Coffer rows skipped: '$COFFER_BIN server -dev' did not reach sys/health 200 (see stderr)."
        log "$COFFER_NOTE"
    fi
fi

# --------------------------------------------------------------- targets
# name TAB method TAB url TAB wrk extra args joined by '|' (wrk wants
# headers as "Name: value", with the space)
TARGETS=()
add_target() { TARGETS+=("$1"$'\t'"$2"$'\t'"$3"$'\t'"${4:-}"); }

BASE_P=http://127.0.0.1:$P_PLAIN
BASE_H=http://127.0.0.1:$P_HSM
add_target ceiling-plain GET "$BASE_P/v1/sys/health"
add_target ceiling-plain-post POST "$BASE_P/v1/transit/encrypt/bench" \
    "-s|$HERE/post.lua"
add_target ceiling-hsm POST "$BASE_H/v1/transit/encrypt/bench" \
    "-s|$HERE/post.lua"
add_target ceiling-hsm-token POST \
    "http://127.0.0.1:$P_TOK/v1/transit/encrypt/bench" "-s|$HERE/post.lua"

if ((HAVE_COFFER)); then
    BASE_C=http://127.0.0.1:$P_COFFER
    code=$(probe GET "$BASE_C/v1/sys/health")
    if [[ $code == 200 ]]; then
        add_target coffer-health GET "$BASE_C/v1/sys/health"
    else
        log "coffer sys/health answered $code; row skipped"
    fi
    code=$(probe GET "$BASE_C/v1/sys/tools/random/32" \
        -H "X-Vault-Token: $ROOT_TOKEN")
    if [[ $code == 200 ]]; then
        add_target coffer-random GET "$BASE_C/v1/sys/tools/random/32" \
            "-H|X-Vault-Token: $ROOT_TOKEN"
    else
        log "coffer sys/tools/random/32 answered $code: $(head -c 200 "$TMP/probe.out"); row skipped"
    fi
    # Transit encrypt is the request the hsm ceiling imitates; measured
    # if the engine is there, skipped otherwise.
    probe POST "$BASE_C/v1/sys/mounts/transit" -H "X-Vault-Token: $ROOT_TOKEN" \
        --data '{"type":"transit"}' >/dev/null
    probe POST "$BASE_C/v1/transit/keys/bench" -H "X-Vault-Token: $ROOT_TOKEN" \
        --data '{}' >/dev/null
    code=$(probe POST "$BASE_C/v1/transit/encrypt/bench" \
        -H "X-Vault-Token: $ROOT_TOKEN" --data "$POST_BODY")
    if [[ $code == 200 ]]; then
        add_target coffer-transit POST "$BASE_C/v1/transit/encrypt/bench" \
            "-s|$HERE/post.lua|-H|X-Vault-Token: $ROOT_TOKEN"
    else
        log "coffer transit/encrypt answered $code; row skipped"
    fi
fi

# ------------------------------------------------------------------ load
declare -A RPS P50 P99 ERRS
# wrk prints 271.00us / 4.24ms / 1.02s: normalise to microseconds
# shellcheck disable=SC2016 # awk program, not shell
WRK_AWK='
function us(v) {
    if (v ~ /us$/) return v + 0;
    if (v ~ /ms$/) return (v + 0) * 1000;
    if (v ~ /m$/)  return (v + 0) * 60e6;
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

for ((rep = 1; rep <= REPS; rep++)); do
    for t in "${TARGETS[@]}"; do
        IFS=$'\t' read -r name method url extra <<<"$t"
        log "rep $rep/$REPS: $name ($method ${url#http://127.0.0.1:*/}, ${DUR}s)"
        out=$TMP/wrk-$name-$rep.txt
        xargs_=()
        [[ -n $extra ]] && IFS='|' read -r -a xargs_ <<<"$extra"
        wrk -t"$WRK_THREADS" -c"$CONNS" -d"${DUR}s" --latency \
            "${xargs_[@]}" "$url" >"$out" 2>&1 \
            || { cat "$out" >&2; die "wrk failed"; }
        read -r r p5 p9 e < <(awk "$WRK_AWK" "$out")
        RPS[$name]+="$r "
        P50[$name]+="$p5 "
        P99[$name]+="$p9 "
        ERRS[$name]=$(( ${ERRS[$name]:-0} + e ))
    done
done
if ((HAVE_COFFER)); then
    RSS_LOADED=$(rss_kb "$COFFER_PID")
fi
LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)

# Per-rep ratio of a target's req/s to a reference's, median over reps.
ratio() {    # TARGET REF
    local -a a b
    local i r=()
    read -r -a a <<<"${RPS[$1]}"
    read -r -a b <<<"${RPS[$2]:-}"
    ((${#b[@]} == ${#a[@]})) || { printf -- '-'; return; }
    for ((i = 0; i < ${#a[@]}; i++)); do
        r+=("$(awk -v x="${a[$i]}" -v y="${b[$i]}" \
               'BEGIN { if (y > 0) printf "%.3f", x / y; else print 0 }')")
    done
    printf '%.2f' "$(median "${r[@]}")"
}

human_us() {    # 1520 -> 1.52 ms, 528 -> 528 µs
    awk -v v="$1" 'BEGIN { if (v >= 1000) printf "%.2f ms", v / 1000;
                           else printf "%d µs", v }'
}

cat <<EOF
### Throughput and latency

req/s, p50, p99: medians over $REPS rep(s) of wrk's own numbers. Ratios are
per-rep req/s divided by the ceiling's req/s in the same rep (median).
errors = non-2xx replies + socket errors over all reps (should be 0).

| target | request | req/s | p50 | p99 | vs ceiling-hsm | vs ceiling-plain | errors |
|---|---|---|---|---|---|---|---|
EOF
for t in "${TARGETS[@]}"; do
    IFS=$'\t' read -r name method url extra <<<"$t"
    read -r -a rr <<<"${RPS[$name]}"
    read -r -a a5 <<<"${P50[$name]}"
    read -r -a a9 <<<"${P99[$name]}"
    path=/${url#http://127.0.0.1:*/}
    printf '| %s | %s %s | %.0f | %s | %s | %s | %s | %s |\n' \
        "$name" "$method" "$path" "$(median "${rr[@]}")" \
        "$(human_us "$(median "${a5[@]}")")" \
        "$(human_us "$(median "${a9[@]}")")" \
        "$(ratio "$name" ceiling-hsm)" "$(ratio "$name" ceiling-plain)" \
        "${ERRS[$name]}"
done
[[ -n $COFFER_NOTE ]] && printf '\n%s\n' "$COFFER_NOTE"

kb_mb() { awk -v k="$1" 'BEGIN { printf "%.1f MB", k / 1024 }'; }

cat <<EOF

### Boot and memory

| measure | value |
|---|---|
EOF
if ((${#BOOT_DEV[@]})); then
    printf '| boot to unsealed, server -dev (median of %d: %s ms) | %s ms |\n' \
        "${#BOOT_DEV[@]}" "${BOOT_DEV[*]}" "$(median "${BOOT_DEV[@]}")"
    printf '| idle RSS after dev boot (median) | %s |\n' \
        "$(kb_mb "$(median "${RSS_DEV[@]}")")"
fi
if ((${#BOOT_CFG[@]})); then
    printf '| restart to unsealed, server -config sqlite + pkcs11 seal (median of %d: %s ms) | %s ms |\n' \
        "${#BOOT_CFG[@]}" "${BOOT_CFG[*]}" "$(median "${BOOT_CFG[@]}")"
    printf '| idle RSS after config restart (median) | %s |\n' \
        "$(kb_mb "$(median "${RSS_CFG[@]}")")"
fi
if ((HAVE_COFFER)) && [[ -n ${RSS_LOADED:-} ]]; then
    printf '| Coffer RSS after the load runs | %s |\n' "$(kb_mb "$RSS_LOADED")"
fi
printf '| coffer-ceiling hsm idle RSS (for scale) | %s |\n' \
    "$(kb_mb "${CEIL_RSS_KB:-0}")"
printf '| loadavg at end | %s |\n' "$LOAD_END"
