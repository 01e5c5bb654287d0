# bench/lib.sh: process handling shared by the bench scripts (sourced).
# The script sets TMP (its temp dir) and PIDS=() (what it started) first;
# cleanup stops exactly those PIDs and removes TMP on exit.

log() { printf '%s\n' "$*" >&2; }
die() { log "${0##*/}: $*"; exit 1; }

# SIGTERM, 5 s to clean up (dev mode removes its token), then SIGKILL.
# Only ever called with a PID this script started.
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

cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do stop_pid "$pid"; done
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

pick_port() {    # VAR: a free loopback port into VAR
    local _p _i
    for ((_i = 0; _i < 200; _i++)); do
        _p=$((20000 + RANDOM % 40000))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$_p") 2>/dev/null; then
            printf -v "$1" '%s' "$_p"
            return 0
        fi
    done
    die "no free loopback port"
}

wait_code() {    # URL PID LOG: until the URL answers 200 (60 s)
    local i
    for ((i = 0; i < 3000; i++)); do
        [[ $(curl -s -o /dev/null -w '%{http_code}' "$1" || true) == 200 ]] \
            && return 0
        kill -0 "$2" 2>/dev/null || { tail -n 20 "$3" >&2; die "process exited"; }
        sleep 0.02
    done
    tail -n 20 "$3" >&2
    die "$1 never answered 200"
}
