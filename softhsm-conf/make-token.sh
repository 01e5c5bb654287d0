#!/usr/bin/env bash
# make-token.sh DIR LABEL PIN [SO_PIN]
#
# Create a SoftHSM2 token labelled LABEL in DIR/tokens, with its own
# DIR/softhsm2.conf, and print that conf's path (the only stdout line).
# The SO PIN defaults to "so-" + PIN. Refuses when DIR already holds a
# token labelled LABEL. Never touches the system token dir: every
# softhsm2-util call runs with SOFTHSM2_CONF=DIR/softhsm2.conf.
set -euo pipefail

usage() {
    echo "usage: $0 DIR LABEL PIN [SO_PIN]" >&2
    exit 2
}

[[ $# -ge 3 && $# -le 4 ]] || usage
dir=$1
label=$2
pin=$3
so_pin=${4:-so-$pin}
[[ -n $dir && -n $label && -n $pin ]] || usage
if (( ${#label} > 32 )); then
    echo "make-token: label '$label' is longer than 32 bytes" >&2
    exit 1
fi
command -v softhsm2-util >/dev/null || {
    echo "make-token: softhsm2-util not found (apt-get install softhsm2)" >&2
    exit 1
}

here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
case $dir in
    /var/lib/softhsm*) echo "make-token: refusing the system token dir" >&2
                       exit 1 ;;
esac
umask 077
mkdir -p "$dir/tokens"
conf=$dir/softhsm2.conf
# The path goes into a sed replacement: escape its special characters.
esc=$(printf '%s' "$dir/tokens" | sed 's/[\\&|]/\\&/g')
sed "s|@TOKENDIR@/|$esc/|" "$here/softhsm2.conf.in" > "$conf.tmp"
mv "$conf.tmp" "$conf"
export SOFTHSM2_CONF=$conf

# Exact label match (tools match prefixes; we never do).
if softhsm2-util --show-slots 2>/dev/null \
   | sed -n 's/^ *Label: *//p' | sed 's/ *$//' | grep -Fxq -- "$label"; then
    echo "make-token: $dir already has a token labelled '$label'" >&2
    exit 1
fi

softhsm2-util --init-token --free --label "$label" --so-pin "$so_pin" \
              --pin "$pin" >&2
echo "$conf"
