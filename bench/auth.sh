#!/usr/bin/env bash
# Auth benchmark: logins and token creation per second, and the cost of
# ACL checks (a KV read with a non-root token carrying 3 policies next to
# the same read with the root token), beside the ceiling-hsm server
# measured in the same run. Markdown on stdout, progress on stderr.
#
#   bench/auth.sh                 # DUR=10 s per wrk run
#   DUR=5 COFFER_BIN=build-rel/coffer bench/auth.sh
#
# Environment: COFFER_BIN (build/coffer), DUR (10), CONNS (16),
# WRK_THREADS (2), THREADS (ceiling pool threads, 2), COFFER_HSM_LIB.
# Starts only its own processes, kills only those PIDs, keeps every file
# in one temp dir removed on exit.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
COFFER_BIN=${COFFER_BIN:-$ROOT/build/coffer}
DUR=${DUR:-10}
CONNS=${CONNS:-16}
WRK_THREADS=${WRK_THREADS:-2}
THREADS=${THREADS:-2}
HSM_LIB=${COFFER_HSM_LIB:-/usr/lib/softhsm/libsofthsm2.so}
RT=bench-root
PIN=1234

TMP=$(mktemp -d "${TMPDIR:-/tmp}/coffer-authbench.XXXXXX")
PIDS=()
# shellcheck source=bench/lib.sh
. "$HERE/lib.sh"

[[ -x $COFFER_BIN ]] || die "$COFFER_BIN does not exist (build it, or set COFFER_BIN)"
command -v wrk >/dev/null || die "wrk is not installed"

# ------------------------------------------------------------- servers
log "building coffer-ceiling"
# shellcheck disable=SC2046
gcc -std=c17 -D_GNU_SOURCE -O2 -Wall -Wextra -Werror "$HERE/ceiling.c" \
    -o "$TMP/coffer-ceiling" $(pkg-config --cflags --libs libmicrohttpd \
    jansson libcrypto p11-kit-1) -ldl -lpthread
CONF=$("$ROOT/softhsm-conf/make-token.sh" "$TMP/ceil-hsm" ceiling "$PIN" \
       2>/dev/null | tail -n 1)
pick_port CPORT
SOFTHSM2_CONF=$CONF COFFER_HSM_LIB=$HSM_LIB "$TMP/coffer-ceiling" -m hsm -p "$CPORT" \
    -t "$THREADS" -L ceiling -P "$PIN" \
    > "$TMP/ceiling.log" 2>&1 &
PIDS+=($!)

pick_port PORT
A=http://127.0.0.1:$PORT/v1
"$COFFER_BIN" server -dev -dev-listen-address="127.0.0.1:$PORT" \
    -dev-root-token-id="$RT" > "$TMP/coffer.log" 2>&1 &
PIDS+=($!)
for ((i = 0; i < 3000; i++)); do
    [[ $(curl -s -o /dev/null -w '%{http_code}' "$A/sys/health" || true) \
       == 200 ]] && break
    sleep 0.02
done
for ((i = 0; i < 500; i++)); do
    grep -qx ready "$TMP/ceiling.log" 2>/dev/null && break
    sleep 0.01
done
grep -qx ready "$TMP/ceiling.log" || { cat "$TMP/ceiling.log" >&2; die "ceiling not ready"; }

api() {    # METHOD PATH BODY [TOKEN]
    curl -sf -X "$1" -H "X-Vault-Token: ${4:-$RT}" \
         -H 'Content-Type: application/json' -d "$3" "$A/$2"
}
json() { /usr/bin/python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }

log "setting up userpass, approle, policies"
api POST sys/auth/userpass '{"type":"userpass"}' >/dev/null
api POST auth/userpass/users/bench '{"password":"bench-password","token_policies":["p1"]}' >/dev/null
api POST sys/auth/approle '{"type":"approle"}' >/dev/null
api POST auth/approle/role/bench '{"token_policies":["p1"]}' >/dev/null
ROLE_ID=$(api GET auth/approle/role/bench/role-id '' | json '["data"]["role_id"]')
SECRET_ID=$(api POST auth/approle/role/bench/secret-id '{}' | json '["data"]["secret_id"]')
for p in p1 p2 p3; do
    api PUT "sys/policies/acl/$p" "{\"policy\":\"path \\\"secret/data/$p/*\\\" { capabilities = [\\\"read\\\"] }\\npath \\\"secret/data/bench/*\\\" { capabilities = [\\\"read\\\"] }\"}" >/dev/null
done
USER_TOKEN=$(api POST auth/token/create '{"policies":["p1","p2","p3"]}' | json '["auth"]["client_token"]')
api POST secret/data/bench/k '{"data":{"user":"bench","password":"0123456789abcdef"}}' >/dev/null

cat > "$TMP/post.lua" <<'EOF'
wrk.method = "POST"
wrk.body = os.getenv("BODY")
wrk.headers["Content-Type"] = "application/json"
EOF

# run NAME URL TOKEN BODY (BODY empty = GET): "reqs p50 p99 errors"
run() {
    local out args=(-t"$WRK_THREADS" -c"$CONNS" -d"${DUR}s" --latency)
    [[ -n $3 ]] && args+=(-H "X-Vault-Token: $3")
    if [[ -n $4 ]]; then
        out=$(BODY=$4 wrk "${args[@]}" -s "$TMP/post.lua" "$2")
    else
        out=$(wrk "${args[@]}" "$2")
    fi
    /usr/bin/python3 - "$out" <<'EOF'
import re, sys
t = sys.argv[1]
def us(s):
    v, u = float(s[:-2] if s[-2:] in ("us", "ms") else s[:-1]), s[-2:]
    return v * (1000 if u == "ms" else 1 if u == "us" else 1e6)
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", t).group(1))
p50 = us(re.search(r"^\s+50%\s+(\S+)", t, re.M).group(1))
p99 = us(re.search(r"^\s+99%\s+(\S+)", t, re.M).group(1))
m = re.search(r"Non-2xx or 3xx responses: (\d+)", t)
e = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", t)
err = (int(m.group(1)) if m else 0) + (sum(map(int, e.groups())) if e else 0)
print("%.0f %.0f %.0f %d" % (rps, p50, p99, err))
EOF
}

CEIL_BODY='{"plaintext":"aGVsbG8gY29mZmVy","context":"YmVuY2g="}'
declare -A R
log "wrk ceiling-hsm"; R[ceiling]=$(run ceiling "http://127.0.0.1:$CPORT/" "" "$CEIL_BODY")
log "wrk kv-read root"; R[kvroot]=$(run kv "$A/secret/data/bench/k" "$RT" "")
log "wrk kv-read 3 policies"; R[kvacl]=$(run kv "$A/secret/data/bench/k" "$USER_TOKEN" "")
log "wrk token create"; R[create]=$(run create "$A/auth/token/create" "$RT" '{"policies":["p1"],"ttl":"5m"}')
log "wrk approle login"; R[approle]=$(run approle "$A/auth/approle/login" "" "{\"role_id\":\"$ROLE_ID\",\"secret_id\":\"$SECRET_ID\"}")
log "wrk userpass login"; R[userpass]=$(run userpass "$A/auth/userpass/login/bench" "" '{"password":"bench-password"}')

ceil=$(cut -d' ' -f1 <<< "${R[ceiling]}")
cat <<EOF
## Coffer auth benchmark

| | |
|---|---|
| date | $(date -u '+%Y-%m-%d %H:%M UTC') |
| host | $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs) |
| load | wrk -t$WRK_THREADS -c$CONNS -d${DUR}s --latency, keep-alive, 127.0.0.1 |
| loadavg at start | $(cut -d' ' -f1-3 /proc/loadavg) |

| target | req/s | p50 µs | p99 µs | vs ceiling-hsm | errors |
|---|---|---|---|---|---|
EOF
for k in ceiling kvroot kvacl create approle userpass; do
    read -r rps p50 p99 err <<< "${R[$k]}"
    name=$k
    case $k in
        ceiling) name="ceiling-hsm (1 AES-GCM op)" ;;
        kvroot) name="KV v2 read, root token" ;;
        kvacl) name="KV v2 read, token with 3 policies" ;;
        create) name="auth/token/create" ;;
        approle) name="approle login" ;;
        userpass) name="userpass login (scrypt N=2^15)" ;;
    esac
    printf '| %s | %s | %s | %s | %.2f | %s |\n' "$name" "$rps" "$p50" \
        "$p99" "$(awk -v a="$rps" -v b="$ceil" 'BEGIN { print a / b }')" "$err"
done
