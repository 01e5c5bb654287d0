#!/usr/bin/env bash
# Quick start: install what is missing, build, prepare a SoftHSM token under
# .state/, and start Coffer auto-unsealed through it (initialising it on the
# first run). The root token is printed and kept in .state/root-token.
# Ctrl-C stops the server; the next run unseals itself from the same state.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
state="$root/.state"
addr="${COFFER_ADDR:-127.0.0.1:8200}"
label=coffer

bash "$root/scripts/deps.sh"
cmake -S "$root" -B "$root/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
      -DCOFFER_TESTS=OFF >/dev/null
cmake --build "$root/build" -j"$(nproc)" >/dev/null

mkdir -p "$state"
chmod 700 "$state"
if [ ! -f "$state/pin" ]; then
    (umask 077; od -An -N16 -tx1 /dev/urandom | tr -d ' \n' > "$state/pin")
fi
if [ ! -f "$state/hsm/softhsm2.conf" ]; then
    bash "$root/softhsm-conf/make-token.sh" "$state/hsm" "$label" \
         "$(cat "$state/pin")" >/dev/null
fi
export SOFTHSM2_CONF="$state/hsm/softhsm2.conf"
export COFFER_HSM_PIN
COFFER_HSM_PIN=$(cat "$state/pin")
cat > "$state/coffer.hcl" <<HCL
storage "sqlite" { path = "$state/coffer.db" }
listener "tcp" {
  address     = "$addr"
  tls_disable = true
}
seal "pkcs11" {
  lib          = "/usr/lib/softhsm/libsofthsm2.so"
  token_label  = "$label"
  key_label    = "coffer-barrier"
  generate_key = "true"
}
api_addr = "http://$addr"
HCL

"$root/build/coffer" server -config="$state/coffer.hcl" &
pid=$!
trap 'kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null' INT TERM EXIT
for _ in $(seq 1 100); do
    code=$(curl -s -o /dev/null -w '%{http_code}' \
           "http://$addr/v1/sys/health" || true)
    case "$code" in 200|501) break ;; esac
    kill -0 "$pid" 2>/dev/null || { echo "coffer exited" >&2; exit 1; }
    sleep 0.1
done
if [ "$code" = 501 ]; then
    curl -s -X PUT "http://$addr/v1/sys/init" \
         -d '{"recovery_shares":1,"recovery_threshold":1}' \
         > "$state/init.json"
    chmod 600 "$state/init.json"
    python3 -c 'import json,sys; print(json.load(sys.stdin)["root_token"])' \
        < "$state/init.json" > "$state/root-token"
fi
cat <<MSG

Coffer is running at http://$addr, unsealed through the SoftHSM token in
$state/hsm.

    export VAULT_ADDR='http://$addr'
    export VAULT_TOKEN='$(cat "$state/root-token")'

Root Token: $(cat "$state/root-token")
(recovery key and root token from init are in $state/init.json)
MSG
wait "$pid"
