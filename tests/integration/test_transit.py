"""Transit on the HSM: symmetric keys, encryption, data keys, HMAC, random
and hash through hvac and raw HTTP, with every key a token object."""
import base64
import os
import re

import hvac
import pytest

import coffer_harness as ch

# SoftHSM leaks inside Ed25519 C_SignInit; see test_transit_lsan.supp.
# The suppression matches our frame above the module, which only a full
# (slow) unwind at malloc time records. No effect without a sanitizer.
_SUPP = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                     "test_transit_lsan.supp")
if "suppressions=" not in os.environ.get("LSAN_OPTIONS", ""):
    os.environ["LSAN_OPTIONS"] = (os.environ.get("LSAN_OPTIONS", "")
                                  + ":suppressions=" + _SUPP).lstrip(":")
    os.environ["ASAN_OPTIONS"] = (os.environ.get("ASAN_OPTIONS", "")
                                  + ":fast_unwind_on_malloc=0").lstrip(":")


def b64(data):
    if isinstance(data, str):
        data = data.encode()
    return base64.b64encode(data).decode()


def unb64(s):
    return base64.b64decode(s)


def client(srv, token):
    return hvac.Client(url=srv.addr, token=token, timeout=30)


@pytest.fixture
def transit(active_server):
    """(server, root token, hvac client) with transit mounted at transit/."""
    srv, root, _ = active_server
    r = srv.post("sys/mounts/transit", {"type": "transit"}, token=root)
    assert r.status_code in (200, 204), r.text
    return srv, root, client(srv, root)


def errors(r):
    return " ".join(r.json().get("errors") or [])


def test_key_lifecycle(transit, token):
    srv, root, c = transit
    c.secrets.transit.create_key("orders")
    k = c.secrets.transit.read_key("orders")["data"]
    assert k["type"] == "aes256-gcm96"
    assert k["latest_version"] == 1
    assert k["min_decryption_version"] == 1
    assert k["min_encryption_version"] == 0
    assert k["exportable"] is False
    assert k["deletion_allowed"] is False
    assert k["supports_encryption"] and k["supports_decryption"]
    assert not k["supports_signing"]
    assert k["hsm"] is True
    assert set(k["keys"]) == {"1"} and isinstance(k["keys"]["1"], int)
    assert re.fullmatch(r"[0-9a-f]{32}", k["hsm_key_ids"]["1"])

    # Creating it again is harmless and changes nothing.
    c.secrets.transit.create_key("orders")
    assert c.secrets.transit.read_key("orders")["data"]["keys"] == k["keys"]

    # hvac 0.11 does not know aes128-gcm96: raw HTTP.
    r = srv.post("transit/keys/aes128", {"type": "aes128-gcm96"}, token=root)
    assert r.status_code == 200, r.text
    keys = c.secrets.transit.list_keys()["data"]["keys"]
    assert sorted(keys) == ["aes128", "orders"]

    c.secrets.transit.rotate_key("orders")
    k2 = c.secrets.transit.read_key("orders")["data"]
    assert k2["latest_version"] == 2
    assert set(k2["keys"]) == {"1", "2"}
    assert k2["hsm_key_ids"]["1"] == k["hsm_key_ids"]["1"]
    assert k2["hsm_key_ids"]["2"] != k["hsm_key_ids"]["1"]

    # Every version is a sensitive, never-extractable object on the token.
    labels = objects(token)
    for v in ("1", "2"):
        blk = labels["coffer/transit/%s/orders/%s" % (mount_uuid(srv, root),
                                                     v)]
        assert_locked(blk)

    # Deletion needs deletion_allowed.
    with pytest.raises(hvac.exceptions.InvalidRequest):
        c.secrets.transit.delete_key("orders")
    c.secrets.transit.update_key_configuration("orders",
                                               deletion_allowed=True)
    assert c.secrets.transit.read_key("orders")["data"]["deletion_allowed"]
    c.secrets.transit.delete_key("orders")
    assert srv.get("transit/keys/orders", token=root).status_code == 404
    left = [l for l in objects(token) if "/orders/" in l]
    assert left == [], left
    assert c.secrets.transit.list_keys()["data"]["keys"] == ["aes128"]


def mount_uuid(srv, root):
    r = srv.get("sys/mounts", token=root)
    return r.json()["data"]["transit/"]["uuid"]


def objects(token):
    """{label: pkcs11-tool block} of every object on the token."""
    r = token.pkcs11_tool("--list-objects")
    assert r.returncode == 0, r.stdout + r.stderr
    out = {}
    for block in re.split(r"\n(?=\S)", r.stdout):
        m = re.search(r"^\s*label:\s*(.*)$", block, re.M)
        if m:
            out.setdefault(m.group(1).strip(), "")
            out[m.group(1).strip()] += block + "\n"
    return out


def assert_locked(block):
    m = re.search(r"^\s*Access:\s*(.*)$", block, re.M)
    assert m, block
    flags = {f.strip() for f in m.group(1).split(",")}
    assert "sensitive" in flags and "never extractable" in flags, block
    assert "extractable" not in flags, block


def test_encrypt_rotate_rewrap_min_decryption(transit):
    srv, root, c = transit
    c.secrets.transit.create_key("k")
    ct1 = c.secrets.transit.encrypt_data("k", b64("hello"))["data"]
    assert ct1["ciphertext"].startswith("vault:v1:")
    assert ct1["key_version"] == 1
    pt = c.secrets.transit.decrypt_data("k", ct1["ciphertext"])
    assert unb64(pt["data"]["plaintext"]) == b"hello"
    # Fresh IV each time.
    again = c.secrets.transit.encrypt_data("k", b64("hello"))["data"]
    assert again["ciphertext"] != ct1["ciphertext"]

    c.secrets.transit.rotate_key("k")
    ct2 = c.secrets.transit.encrypt_data("k", b64("world"))["data"]
    assert ct2["ciphertext"].startswith("vault:v2:")
    # v1 still decrypts.
    pt = c.secrets.transit.decrypt_data("k", ct1["ciphertext"])["data"]
    assert unb64(pt["plaintext"]) == b"hello"
    # Rewrap moves v1 to v2 without showing the plaintext.
    rw = c.secrets.transit.rewrap_data("k", ct1["ciphertext"])["data"]
    assert rw["ciphertext"].startswith("vault:v2:")
    assert "plaintext" not in rw
    pt = c.secrets.transit.decrypt_data("k", rw["ciphertext"])["data"]
    assert unb64(pt["plaintext"]) == b"hello"
    # Encrypt with an older version on request.
    old = c.secrets.transit.encrypt_data("k", b64("x"), key_version=1)
    assert old["data"]["ciphertext"].startswith("vault:v1:")

    c.secrets.transit.update_key_configuration("k", min_decryption_version=2)
    r = srv.post("transit/decrypt/k", {"ciphertext": ct1["ciphertext"]},
                 token=root)
    assert r.status_code == 400, r.text
    assert "too old" in errors(r)
    assert c.secrets.transit.decrypt_data("k", ct2["ciphertext"])
    # min_encryption_version 2: encrypting with v1 is refused.
    c.secrets.transit.update_key_configuration("k", min_encryption_version=2)
    r = srv.post("transit/encrypt/k", {"plaintext": b64("x"),
                                       "key_version": 1}, token=root)
    assert r.status_code == 400
    # min_encryption_version below min_decryption_version is refused.
    r = srv.post("transit/keys/k/config", {"min_encryption_version": 1},
                 token=root)
    assert r.status_code == 400

    # Trim: v1 goes away, on the token too.
    ids = c.secrets.transit.read_key("k")["data"]["hsm_key_ids"]
    c.secrets.transit.trim_key("k", 2)
    k = c.secrets.transit.read_key("k")["data"]
    assert k["min_available_version"] == 2
    assert set(k["keys"]) == {"2"}
    r = srv.post("transit/keys/k/config", {"min_decryption_version": 1},
                 token=root)
    assert r.status_code == 400
    r = srv.post("transit/keys/k/trim", {"min_available_version": 1},
                 token=root)
    assert r.status_code == 400
    assert ids["2"] == k["hsm_key_ids"]["2"]


def test_associated_data_and_aes128(transit):
    srv, root, c = transit
    assert srv.post("transit/keys/small", {"type": "aes128-gcm96"},
                    token=root).status_code == 200
    r = srv.post("transit/encrypt/small", {"plaintext": b64("p"),
                                           "associated_data": b64("ad")},
                 token=root)
    assert r.status_code == 200, r.text
    ct = r.json()["data"]["ciphertext"]
    ok = srv.post("transit/decrypt/small", {"ciphertext": ct,
                                            "associated_data": b64("ad")},
                  token=root)
    assert ok.status_code == 200 and \
        unb64(ok.json()["data"]["plaintext"]) == b"p"
    bad = srv.post("transit/decrypt/small", {"ciphertext": ct,
                                             "associated_data": b64("xx")},
                   token=root)
    assert bad.status_code == 400
    assert "message authentication failed" in errors(bad)
    # Empty plaintext is fine.
    r = srv.post("transit/encrypt/small", {"plaintext": ""}, token=root)
    assert r.status_code == 200, r.text
    d = srv.post("transit/decrypt/small",
                 {"ciphertext": r.json()["data"]["ciphertext"]}, token=root)
    assert d.json()["data"]["plaintext"] == ""


def test_forged_ciphertexts_never_decrypt(transit):
    srv, root, c = transit
    c.secrets.transit.create_key("k")
    ct = c.secrets.transit.encrypt_data("k", b64("secret!"))["data"]
    ct = ct["ciphertext"]
    raw = bytearray(unb64(ct.split(":", 2)[2]))
    cases = []
    for i in (0, 12, len(raw) - 1):           # IV, body, tag
        f = bytearray(raw)
        f[i] ^= 0x01
        cases.append("vault:v1:" + b64(bytes(f)))
    cases += ["vault:v1:" + b64(bytes(raw[:-1])),  # short tag
              "vault:v1:" + b64(bytes(raw[:20])),
              "vault:v9:" + b64(bytes(raw)),       # version from the future
              "vault:v0:" + b64(bytes(raw)),
              "vault:vx:" + b64(bytes(raw)),
              "vault:" + b64(bytes(raw)),
              "nope:v1:" + b64(bytes(raw)),
              "vault:v1:***notbase64***",
              b64(bytes(raw))]
    for f in cases:
        r = srv.post("transit/decrypt/k", {"ciphertext": f}, token=root)
        assert r.status_code == 400, (f, r.status_code, r.text)
        assert "plaintext" not in r.text
    # The server is fine afterwards.
    d = c.secrets.transit.decrypt_data("k", ct)["data"]
    assert unb64(d["plaintext"]) == b"secret!"


def test_batch(transit):
    srv, root, c = transit
    c.secrets.transit.create_key("b")
    items = [{"plaintext": b64("item %d" % i), "reference": "r%d" % i}
             for i in range(20)]
    r = c.secrets.transit.encrypt_data("b", None, batch_input=items)
    res = r["data"]["batch_results"]
    assert len(res) == 20
    assert [x["reference"] for x in res] == ["r%d" % i for i in range(20)]
    cts = [{"ciphertext": x["ciphertext"], "reference": x["reference"]}
           for x in res]
    d = c.secrets.transit.decrypt_data("b", None, batch_input=cts)
    got = [unb64(x["plaintext"]) for x in d["data"]["batch_results"]]
    assert got == [b"item %d" % i for i in range(20)]
    rw = c.secrets.transit.rewrap_data("b", None, batch_input=cts)
    assert len(rw["data"]["batch_results"]) == 20

    # One bad item: 400, the others still done, errors per item.
    mixed = [{"plaintext": b64("ok")}, {"plaintext": "%%%"},
             {"plaintext": b64("ok2"), "reference": "third"}]
    r = srv.post("transit/encrypt/b", {"batch_input": mixed}, token=root)
    assert r.status_code == 400, r.text
    res = r.json()["data"]["batch_results"]
    assert "ciphertext" in res[0] and "error" not in res[0]
    assert "base64" in res[1]["error"]
    assert res[2]["reference"] == "third" and "ciphertext" in res[2]
    r = srv.post("transit/encrypt/b", {"batch_input": mixed,
                                       "partial_failure_response_code": 207},
                 token=root)
    assert r.status_code == 207
    r = srv.post("transit/decrypt/b",
                 {"batch_input": [{"ciphertext": "vault:v1:AAAA"}],
                  "partial_failure_response_code": 207}, token=root)
    assert r.status_code == 400         # all failed

    # Oversize and malformed batches.
    r = srv.post("transit/encrypt/b",
                 {"batch_input": [{"plaintext": ""}] * 5000}, token=root)
    assert r.status_code == 400 and "at most" in errors(r)
    r = srv.post("transit/encrypt/b", {"batch_input": "x"}, token=root)
    assert r.status_code == 400
    r = srv.post("transit/encrypt/b", {"batch_input": []}, token=root)
    assert r.status_code == 400


def test_datakey(transit):
    srv, root, c = transit
    c.secrets.transit.create_key("dk")
    r = c.secrets.transit.generate_data_key("dk", key_type="plaintext")
    d = r["data"]
    assert len(unb64(d["plaintext"])) == 32
    assert d["ciphertext"].startswith("vault:v1:")
    back = c.secrets.transit.decrypt_data("dk", d["ciphertext"])["data"]
    assert back["plaintext"] == d["plaintext"]
    w = c.secrets.transit.generate_data_key("dk", key_type="wrapped",
                                            bits=512)["data"]
    assert "plaintext" not in w
    back = c.secrets.transit.decrypt_data("dk", w["ciphertext"])["data"]
    assert len(unb64(back["plaintext"])) == 64
    r = srv.post("transit/datakey/plaintext/dk", {"bits": 100}, token=root)
    assert r.status_code == 400
    r = srv.post("transit/datakey/other/dk", {}, token=root)
    assert r.status_code == 400


def test_hmac_random_hash(transit):
    srv, root, c = transit
    c.secrets.transit.create_key("m")
    h = c.secrets.transit.generate_hmac("m", b64("data"))["data"]["hmac"]
    assert h.startswith("vault:v1:") and len(unb64(h.split(":")[2])) == 32
    v = c.secrets.transit.verify_signed_data("m", b64("data"), hmac=h)
    assert v["data"]["valid"] is True
    v = c.secrets.transit.verify_signed_data("m", b64("datA"), hmac=h)
    assert v["data"]["valid"] is False
    h512 = c.secrets.transit.generate_hmac("m", b64("data"),
                                           algorithm="sha2-512")
    mac = h512["data"]["hmac"]
    assert len(unb64(mac.split(":")[2])) == 64
    r = srv.post("transit/verify/m/sha2-512", {"input": b64("data"),
                                               "hmac": mac}, token=root)
    assert r.json()["data"]["valid"] is True
    r = srv.post("transit/hmac/m/sha2-384", {"input": b64("data")},
                 token=root)
    assert len(unb64(r.json()["data"]["hmac"].split(":")[2])) == 48
    r = srv.post("transit/hmac/m", {"batch_input": [{"input": b64("a")},
                                                    {}, {"input": ""}]},
                 token=root)
    res = r.json()["data"]["batch_results"]
    assert "hmac" in res[0] and "missing input" in res[1]["error"]
    assert "hmac" in res[2]
    # After rotation the old HMAC still verifies until min_decryption.
    c.secrets.transit.rotate_key("m")
    assert c.secrets.transit.verify_signed_data(
        "m", b64("data"), hmac=h)["data"]["valid"] is True
    c.secrets.transit.update_key_configuration("m", min_decryption_version=2)
    r = srv.post("transit/verify/m", {"input": b64("data"), "hmac": h},
                 token=root)
    assert r.status_code == 400

    # hmac key type, with a key size.
    r = srv.post("transit/keys/hk", {"type": "hmac", "key_size": 64},
                 token=root)
    assert r.status_code == 200, r.text
    assert r.json()["data"]["key_size"] == 64
    h = c.secrets.transit.generate_hmac("hk", b64("x"))["data"]["hmac"]
    assert c.secrets.transit.verify_signed_data(
        "hk", b64("x"), hmac=h)["data"]["valid"] is True
    r = srv.post("transit/encrypt/hk", {"plaintext": b64("x")}, token=root)
    assert r.status_code == 400

    rb = c.secrets.transit.generate_random_bytes(n_bytes=16)
    assert len(unb64(rb["data"]["random_bytes"])) == 16
    r = srv.post("transit/random/seal/24", {"format": "hex"}, token=root)
    assert r.status_code == 200 and len(r.json()["data"]["random_bytes"]) \
        == 48
    r = srv.post("transit/random/99999999", {}, token=root)
    assert r.status_code == 400

    s = c.secrets.transit.hash_data(b64("abc"), algorithm="sha2-256")
    assert s["data"]["sum"] == \
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    r = srv.post("transit/hash/sha3-256", {"input": b64("abc")}, token=root)
    assert r.json()["data"]["sum"].startswith("3a985da74fe225b2")
    r = srv.post("transit/hash/md5", {"input": b64("abc")}, token=root)
    assert r.status_code == 400


def test_bad_input(transit):
    srv, root, c = transit
    c.secrets.transit.create_key("k")
    cases = [
        ("transit/keys/c", {"type": "chacha20-poly1305"}, "ChaCha20"),
        ("transit/keys/c", {"type": "des"}, "unknown key type"),
        ("transit/keys/c", {"exportable": True}, "non-extractable"),
        ("transit/keys/c", {"allow_plaintext_backup": True}, "backup"),
        ("transit/keys/c", {"auto_rotate_period": "10m"}, "hour"),
        ("transit/keys/c", {"convergent_encryption": True}, "derivation"),
        ("transit/keys/k/config", {"exportable": True}, "non-extractable"),
        ("transit/keys/k/config", {"min_decryption_version": 5}, "higher"),
        ("transit/encrypt/k", {"plaintext": "not base64!"}, "base64"),
        ("transit/encrypt/k", {}, "missing plaintext"),
        ("transit/encrypt/k", {"plaintext": b64("x"), "key_version": 3},
         "higher"),
        ("transit/encrypt/k", {"plaintext": b64("x"), "nonce": b64("n")},
         "nonce"),
        ("transit/decrypt/k", {}, "missing ciphertext"),
        ("transit/decrypt/none", {"ciphertext": "vault:v1:AAAA"},
         "not found"),
        ("transit/rewrap/k", {"ciphertext": "vault:v1:AAAA"}, "short"),
    ]
    for path, body, want in cases:
        r = srv.post(path, body, token=root)
        assert r.status_code == 400, (path, body, r.status_code, r.text)
        assert want in errors(r), (path, body, r.text)
    for path in ("transit/export/encryption-key/k",
                 "transit/export/encryption-key/k/1", "transit/backup/k"):
        r = srv.get(path, token=root)
        assert r.status_code == 400, (path, r.text)
        assert "HSM" in errors(r)
    r = srv.post("transit/restore", {"backup": "x"}, token=root)
    assert r.status_code == 400
    assert srv.get("transit/keys/none", token=root).status_code == 404
    assert srv.get("transit/keys/k/rotate", token=root).status_code == 405
    # Not logged in: no transit at all.
    assert srv.post("transit/encrypt/k", {"plaintext": ""}).status_code \
        == 403


def test_upsert_and_disable_upsert(transit):
    srv, root, c = transit
    r = srv.post("transit/encrypt/new", {"plaintext": b64("x")}, token=root)
    assert r.status_code == 200, r.text
    k = c.secrets.transit.read_key("new")["data"]
    assert k["type"] == "aes256-gcm96" and k["derived"] is False
    r = srv.post("transit/encrypt/newd", {"plaintext": b64("x"),
                                          "context": b64("ctx")},
                 token=root)
    assert r.status_code == 200, r.text
    assert c.secrets.transit.read_key("newd")["data"]["derived"] is True
    r = srv.post("transit/encrypt/new128", {"plaintext": b64("x"),
                                            "type": "aes128-gcm96"},
                 token=root)
    assert c.secrets.transit.read_key("new128")["data"]["type"] == \
        "aes128-gcm96"
    r = srv.post("transit/config/keys", {"disable_upsert": True},
                 token=root)
    assert r.status_code == 200
    r = srv.post("transit/encrypt/other", {"plaintext": b64("x")},
                 token=root)
    assert r.status_code == 400 and "upsert" in errors(r)
    assert srv.get("transit/config/keys", token=root).json()["data"] == \
        {"disable_upsert": True}


def test_survives_seal_and_restart(transit):
    srv, root, c = transit
    c.secrets.transit.create_key("k")
    ct = c.secrets.transit.encrypt_data("k", b64("persist"))["data"]
    ct = ct["ciphertext"]
    srv.restart()
    c = client(srv, root)
    assert unb64(c.secrets.transit.decrypt_data("k", ct)["data"]
                 ["plaintext"]) == b"persist"
    assert srv.put("sys/seal", token=root).status_code == 204
    r = srv.post("transit/decrypt/k", {"ciphertext": ct}, token=root)
    assert r.status_code == 503
    # No plaintext or key material in the SQLite file.
    data = ch.storage_bytes(srv.db_path)
    for enc in ch.encodings("persist"):
        assert enc not in data


def test_derived_and_convergent(transit):
    srv, root, c = transit
    c.secrets.transit.create_key("d", derived=True)
    k = c.secrets.transit.read_key("d")["data"]
    assert k["derived"] is True and k["kdf"] == "hmac-sha256-counter"
    ctx_a, ctx_b = b64("tenant-a"), b64("tenant-b")
    r = srv.post("transit/encrypt/d", {"plaintext": b64("x")}, token=root)
    assert r.status_code == 400 and "context" in errors(r)
    ct = c.secrets.transit.encrypt_data("d", b64("per tenant"),
                                        context=ctx_a)["data"]["ciphertext"]
    pt = c.secrets.transit.decrypt_data("d", ct, context=ctx_a)["data"]
    assert unb64(pt["plaintext"]) == b"per tenant"
    r = srv.post("transit/decrypt/d", {"ciphertext": ct, "context": ctx_b},
                 token=root)
    assert r.status_code == 400          # another context, another key
    again = c.secrets.transit.encrypt_data("d", b64("per tenant"),
                                           context=ctx_a)["data"]
    assert again["ciphertext"] != ct     # not convergent: random nonce
    # Rewrap keeps the context.
    c.secrets.transit.rotate_key("d")
    rw = c.secrets.transit.rewrap_data("d", ct, context=ctx_a)["data"]
    assert rw["ciphertext"].startswith("vault:v2:")
    pt = c.secrets.transit.decrypt_data("d", rw["ciphertext"],
                                        context=ctx_a)["data"]
    assert unb64(pt["plaintext"]) == b"per tenant"

    c.secrets.transit.create_key("conv", derived=True,
                                 convergent_encryption=True)
    k = c.secrets.transit.read_key("conv")["data"]
    assert k["convergent_encryption"] is True
    one = c.secrets.transit.encrypt_data("conv", b64("same"),
                                         context=ctx_a)["data"]["ciphertext"]
    two = c.secrets.transit.encrypt_data("conv", b64("same"),
                                         context=ctx_a)["data"]["ciphertext"]
    other = c.secrets.transit.encrypt_data("conv", b64("same"),
                                           context=ctx_b)["data"]
    diff = c.secrets.transit.encrypt_data("conv", b64("diff"),
                                          context=ctx_a)["data"]
    assert one == two
    assert other["ciphertext"] != one and diff["ciphertext"] != one
    assert unb64(c.secrets.transit.decrypt_data(
        "conv", one, context=ctx_a)["data"]["plaintext"]) == b"same"
    # Data keys with derived keys need the context too.
    r = srv.post("transit/datakey/plaintext/d", {"context": ctx_a},
                 token=root)
    assert r.status_code == 200, r.text
    d = r.json()["data"]
    back = c.secrets.transit.decrypt_data("d", d["ciphertext"],
                                          context=ctx_a)["data"]
    assert back["plaintext"] == d["plaintext"]
