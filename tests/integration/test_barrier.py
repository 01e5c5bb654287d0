"""The storage barrier: nothing readable reaches the SQLite file, entries are
bound to their path, tampering gives an integrity error (never data), and
rotation keeps old entries readable."""
import re
import struct

import pytest

import coffer_harness as ch

HEADER = 1 + 4 + 12           # version | term | IV
TAG = 16


def entry_fields(value):
    assert len(value) >= HEADER + TAG, len(value)
    version = value[0]
    (term,) = struct.unpack(">I", value[1:5])
    return version, term, value[5:17]


def token_entries(entries):
    return sorted(p for p in entries if p.startswith("sys/token/id/"))


def assert_not_stored(srv, secrets):
    """Grep the SQLite file (WAL included) for every encoding of secrets,
    while the server runs and after a clean stop."""
    for phase in ("running", "stopped"):
        if phase == "stopped":
            srv.stop()
        blob = ch.storage_bytes(srv.db_path)
        # Positive control: paths are stored in clear, so the grep sees them.
        assert b"core/seal-config" in blob
        for s in secrets:
            for enc in ch.encodings(s):
                assert enc not in blob, "%r found in storage (%s)" % (enc,
                                                                      phase)


def test_no_plaintext_in_storage(active_server):
    srv, root, init = active_server
    # Give the token a few more things to write.
    assert srv.put("sys/rotate", token=root).status_code == 204
    assert srv.lookup_self(root).status_code == 200
    assert_not_stored(srv, [root, bytes.fromhex(init["recovery_keys"][0])])

    entries = ch.db_entries(srv.db_path)
    assert "core/seal-config" in entries
    assert token_entries(entries), sorted(entries)
    ivs = set()
    for path, value in entries.items():
        if path == "core/seal-config":
            continue
        version, term, iv = entry_fields(bytes(value))
        assert version == 1, path
        assert term in (1, 2), (path, term)
        assert iv not in ivs, "IV reused at %s" % path
        ivs.add(iv)


def test_kv_value_not_in_storage(active_server):
    srv, root, _ = active_server
    if not ch.try_enable_kv(srv, root):
        pytest.skip("no KV engine mountable at secret/")
    marker = "KV-PLAINTEXT-MARKER-5f3c9a1e"
    r = srv.post("secret/data/x", {"data": {"v": marker}}, token=root)
    assert r.status_code == 200, r.text
    r = srv.get("secret/data/x", token=root)
    assert r.json()["data"]["data"]["v"] == marker
    assert_not_stored(srv, [marker, root])


def test_token_path_format(active_server):
    srv, root, _ = active_server
    srv.stop()
    entries = ch.db_entries(srv.db_path)
    toks = token_entries(entries)
    assert toks
    for p in toks:
        assert re.fullmatch(r"sys/token/id/[0-9a-f]{64}", p), p


def test_swapped_core_entries_do_not_unseal(active_server):
    srv, root, _ = active_server
    srv.stop()
    entries = ch.db_entries(srv.db_path)
    assert "core/mounts" in entries, sorted(entries)
    other = next((p for p in ("core/cluster", "core/token-hmac",
                              "core/recovery-key") if p in entries), None)
    assert other, sorted(entries)
    ch.db_update(srv.db_path, {"core/mounts": entries[other],
                               other: entries["core/mounts"]})

    srv.spawn()
    # Either it refuses to start, or it stays sealed: never serves data.
    try:
        srv.wait_ready()
        up = True
    except ch.ServerError:
        up = False
    if up:
        h = srv.health()
        assert h.status_code == 503, (h.status_code, h.text)
        r = srv.get("sys/mounts", token=root)
        assert r.status_code in (500, 503), (r.status_code, r.text)
        srv.stop()
    else:
        assert srv.proc.returncode != 0
    assert "integrity" in srv.all_logs().lower(), srv.logs()


def _restart_and_lookup(srv, root):
    srv.start()
    assert srv.health().status_code == 200
    r = srv.lookup_self(root)
    assert r.status_code == 500, (r.status_code, r.text)
    body = r.json()
    assert body.get("errors"), body
    assert "data" not in body or not body["data"]
    assert root not in r.text


def test_corrupted_token_entry_is_an_integrity_error(active_server):
    srv, root, _ = active_server
    srv.stop()
    entries = ch.db_entries(srv.db_path)
    toks = token_entries(entries)
    assert toks
    changes = {}
    for p in toks:                    # the root token's entry is among them
        v = bytearray(entries[p])
        v[-1] ^= 0x01                 # one bit of the GCM tag
        changes[p] = bytes(v)
    ch.db_update(srv.db_path, changes)
    _restart_and_lookup(srv, root)
    assert "integrity" in srv.all_logs().lower()


def test_entry_moved_to_another_path_is_rejected(active_server):
    srv, root, _ = active_server
    srv.stop()
    entries = ch.db_entries(srv.db_path)
    toks = token_entries(entries)
    accessors = sorted(p for p in entries
                       if p.startswith("sys/token/accessor/"))
    donor = accessors[0] if accessors else "core/mounts"
    # A valid ciphertext, just written for another path (AAD = path).
    ch.db_update(srv.db_path, {p: entries[donor] for p in toks})
    _restart_and_lookup(srv, root)


def test_rotate_then_restart(active_server):
    srv, root, _ = active_server
    r = srv.get("sys/key-status", token=root)
    assert r.status_code == 200, r.text
    assert r.json()["data"]["term"] == 1
    r = srv.put("sys/rotate", token=root)
    assert r.status_code == 204, r.text
    assert r.content == b""
    r = srv.get("sys/key-status", token=root)
    d = r.json()["data"]
    assert d["term"] == 2
    assert r.json()["term"] == 2          # legacy top-level copy
    assert d["install_time"]
    assert isinstance(d["encryptions"], int)

    srv.restart()
    assert srv.health().status_code == 200
    # The root token entry was written under term 1 and still reads.
    assert srv.lookup_self(root).status_code == 200
    assert srv.get("sys/key-status", token=root).json()["data"]["term"] == 2
    assert srv.get("sys/mounts", token=root).status_code == 200
    srv.stop()
    terms = {entry_fields(bytes(v))[1]
             for p, v in ch.db_entries(srv.db_path).items()
             if p != "core/seal-config"}
    assert terms == {1, 2}, terms
