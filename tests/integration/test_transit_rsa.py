"""RSA keys encrypt and decrypt like Vault's: RSA-OAEP with SHA-256 (OAEP
and MGF1), no label, ciphertext vault:v<N>:<base64>. Encryption is a
public-key operation; decryption runs the private operation on the token
(raw RSA, the OAEP check in software: SoftHSM's own OAEP is SHA-1 only).
Ciphertexts made in Python from the key's public_key PEM decrypt, which
proves the format is real OAEP-SHA256."""
import os

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding

import coffer_harness as ch
from test_transit import (b64, client, errors, mount_uuid,  # noqa
                          objects, transit, unb64)

TYPES = {"rsa-2048": 256, "rsa-3072": 384, "rsa-4096": 512}
UNABLE = "invalid ciphertext: unable to decrypt"


def oaep(h=hashes.SHA256):
    return padding.OAEP(mgf=padding.MGF1(algorithm=h()), algorithm=h(),
                        label=None)


def python_encrypt(pem, data, h=hashes.SHA256):
    """What any client can do with the key read's public_key."""
    pub = serialization.load_pem_public_key(pem.encode())
    return pub.encrypt(data, oaep(h))


def public_pem(c, name, version="1"):
    return c.secrets.transit.read_key(name)["data"]["keys"][version][
        "public_key"]


def test_rsa_types_encrypt_and_decrypt(transit, token):
    srv, root, c = transit
    for t, size in TYPES.items():
        name = "k-" + t
        c.secrets.transit.create_key(name, key_type=t)
        k = c.secrets.transit.read_key(name)["data"]
        assert k["supports_encryption"] is True, t
        assert k["supports_decryption"] is True, t
        assert k["supports_signing"] is True, t
        assert k["supports_derivation"] is False, t

        ct = c.secrets.transit.encrypt_data(name, b64("hello " + t))["data"]
        assert ct["key_version"] == 1
        assert ct["ciphertext"].startswith("vault:v1:")
        raw = unb64(ct["ciphertext"][len("vault:v1:"):])
        assert len(raw) == size, t
        # Randomised padding: the same plaintext encrypts differently.
        again = c.secrets.transit.encrypt_data(name, b64("hello " + t))
        assert again["data"]["ciphertext"] != ct["ciphertext"]
        pt = c.secrets.transit.decrypt_data(name, ct["ciphertext"])["data"]
        assert unb64(pt["plaintext"]) == ("hello " + t).encode()

        # Made in Python with OAEP-SHA256 from the public key: decrypts.
        mine = python_encrypt(public_pem(c, name), b"made by python")
        r = srv.post("transit/decrypt/" + name,
                     {"ciphertext": "vault:v1:" + b64(mine)}, token=root)
        assert r.status_code == 200, r.text
        assert unb64(r.json()["data"]["plaintext"]) == b"made by python"

        # The longest plaintext OAEP-SHA256 allows, and one byte more.
        top = os.urandom(size - 2 * 32 - 2)
        ct = c.secrets.transit.encrypt_data(name, b64(top))["data"]
        assert unb64(c.secrets.transit.decrypt_data(
            name, ct["ciphertext"])["data"]["plaintext"]) == top
        r = srv.post("transit/encrypt/" + name,
                     {"plaintext": b64(top + b"!")}, token=root)
        assert r.status_code == 400 and "too long" in errors(r), r.text
        # Empty plaintext is valid OAEP.
        ct = c.secrets.transit.encrypt_data(name, "")["data"]
        assert c.secrets.transit.decrypt_data(
            name, ct["ciphertext"])["data"]["plaintext"] == ""

        # The same key still signs.
        s = c.secrets.transit.sign_data(name, b64("m"))["data"]["signature"]
        assert c.secrets.transit.verify_signed_data(
            name, b64("m"), signature=s)["data"]["valid"] is True

    # The private halves are still locked on the token.
    uuid = mount_uuid(srv, root)
    objs = objects(token)
    for t in TYPES:
        label = "coffer/transit/%s/k-%s/1" % (uuid, t)
        blk = objs[label]
        prv = blk[blk.index("Private Key Object"):]
        assert "never extractable" in prv and "sensitive" in prv, prv
        r = token.pkcs11_tool("--read-object", "--type", "privkey",
                              "--label", label)
        assert r.returncode != 0 or r.stdout == "", r.stdout


def test_rsa_bad_ciphertexts_fail_alike(transit):
    """Wrong key, tampered, truncated, garbage, OAEP with another hash:
    400 with one message."""
    srv, root, c = transit
    c.secrets.transit.create_key("a", key_type="rsa-2048")
    c.secrets.transit.create_key("b", key_type="rsa-2048")
    ct = c.secrets.transit.encrypt_data("a", b64("for a"))["data"][
        "ciphertext"]
    raw = unb64(ct[len("vault:v1:"):])
    tampered = bytearray(raw)
    tampered[100] ^= 1
    sha1 = python_encrypt(public_pem(c, "a"), b"x", hashes.SHA1)
    bad = [("b", ct),
           ("a", "vault:v1:" + b64(bytes(tampered))),
           ("a", "vault:v1:" + b64(raw[:-1])),
           ("a", "vault:v1:" + b64(raw + b"\0")),
           ("a", "vault:v1:" + b64(b"\xff" * 256)),
           ("a", "vault:v1:" + b64(os.urandom(256))),
           ("a", "vault:v1:" + b64(b"")),
           ("a", "vault:v1:" + b64(sha1))]
    for name, text in bad:
        r = srv.post("transit/decrypt/" + name, {"ciphertext": text},
                     token=root)
        assert r.status_code == 400, (name, text, r.text)
        assert errors(r) == UNABLE, (name, text, r.text)
    # Not base64 / no prefix / a version the key does not have: the usual
    # format errors, still 400.
    for text in ("vault:v1:%%%", "garbage", "vault:v9:" + b64(raw)):
        r = srv.post("transit/decrypt/a", {"ciphertext": text}, token=root)
        assert r.status_code == 400, (text, r.text)
    # And the good one still decrypts.
    assert unb64(c.secrets.transit.decrypt_data("a", ct)["data"][
        "plaintext"]) == b"for a"


def test_rsa_rotate_rewrap_batch_datakey(transit):
    srv, root, c = transit
    c.secrets.transit.create_key("r", key_type="rsa-2048")
    v1 = c.secrets.transit.encrypt_data("r", b64("one"))["data"][
        "ciphertext"]
    c.secrets.transit.rotate_key("r")
    k = c.secrets.transit.read_key("r")["data"]
    assert k["latest_version"] == 2
    assert k["keys"]["1"]["public_key"] != k["keys"]["2"]["public_key"]
    v2 = c.secrets.transit.encrypt_data("r", b64("two"))["data"]
    assert v2["key_version"] == 2 and v2["ciphertext"].startswith("vault:v2:")
    # A Python ciphertext for version 2 from version 2's public key.
    mine = python_encrypt(public_pem(c, "r", "2"), b"py2")
    r = srv.post("transit/decrypt/r", {"ciphertext": "vault:v2:" + b64(mine)},
                 token=root)
    assert unb64(r.json()["data"]["plaintext"]) == b"py2"
    # ... which version 1's key cannot open.
    r = srv.post("transit/decrypt/r", {"ciphertext": "vault:v1:" + b64(mine)},
                 token=root)
    assert r.status_code == 400 and errors(r) == UNABLE

    # rewrap moves v1 to v2 without showing the plaintext.
    rw = c.secrets.transit.rewrap_data("r", v1)["data"]
    assert rw["ciphertext"].startswith("vault:v2:") and "plaintext" not in rw
    assert unb64(c.secrets.transit.decrypt_data(
        "r", rw["ciphertext"])["data"]["plaintext"]) == b"one"
    r = srv.post("transit/rewrap/r",
                 {"ciphertext": v1, "decrypt_padding_scheme": "oaep",
                  "encrypt_padding_scheme": "oaep"}, token=root)
    assert r.status_code == 200, r.text

    # min_decryption_version 2 retires v1 ciphertexts.
    c.secrets.transit.update_key_configuration("r", min_decryption_version=2)
    r = srv.post("transit/decrypt/r", {"ciphertext": v1}, token=root)
    assert r.status_code == 400 and "disallowed" in errors(r)

    # Batches: items succeed and fail on their own.
    items = [{"plaintext": b64("b%d" % i), "reference": str(i)}
             for i in range(3)]
    res = c.secrets.transit.encrypt_data("r", None, batch_input=items)[
        "data"]["batch_results"]
    assert [x["reference"] for x in res] == ["0", "1", "2"]
    dec = [{"ciphertext": x["ciphertext"]} for x in res]
    dec.append({"ciphertext": "vault:v2:" + b64(os.urandom(256))})
    r = srv.post("transit/decrypt/r", {"batch_input": dec}, token=root)
    assert r.status_code == 400
    out = r.json()["data"]["batch_results"]
    assert [unb64(x["plaintext"]) for x in out[:3]] == [b"b0", b"b1", b"b2"]
    assert out[3]["error"] == UNABLE
    r = srv.post("transit/decrypt/r", {"batch_input": dec,
                                       "partial_failure_response_code": 207},
                 token=root)
    assert r.status_code == 207

    # A data key wrapped with the RSA key.
    for kind in ("plaintext", "wrapped"):
        r = srv.post("transit/datakey/%s/r" % kind, {"bits": 512},
                     token=root)
        assert r.status_code == 200, r.text
        d = r.json()["data"]
        got = unb64(c.secrets.transit.decrypt_data(
            "r", d["ciphertext"])["data"]["plaintext"])
        assert len(got) == 64
        if kind == "plaintext":
            assert got == unb64(d["plaintext"])
        else:
            assert "plaintext" not in d


def test_rsa_refused_options_and_upsert(transit):
    srv, root, c = transit
    c.secrets.transit.create_key("r", key_type="rsa-3072")
    c.secrets.transit.create_key("aes")
    cases = [
        ("transit/encrypt/r", {"plaintext": b64("x"),
                               "associated_data": b64("aad")},
         "non-AEAD"),
        ("transit/encrypt/r", {"plaintext": b64("x"),
                               "padding_scheme": "pkcs1v15"}, "pkcs1v15"),
        ("transit/encrypt/r", {"plaintext": b64("x"),
                               "padding_scheme": "rot13"}, "padding scheme"),
        ("transit/encrypt/r", {"plaintext": b64("x"), "nonce": b64("n" * 12)},
         "nonce"),
        ("transit/encrypt/aes", {"plaintext": b64("x"),
                                 "padding_scheme": "oaep"},
         "unsupported key type"),
        ("transit/keys/d", {"type": "rsa-2048", "derived": True},
         "derivation"),
        ("transit/encrypt/new-d", {"plaintext": b64("x"), "type": "rsa-2048",
                                   "context": b64("ctx")}, "derivation"),
    ]
    for path, body, want in cases:
        r = srv.post(path, body, token=root)
        assert r.status_code == 400, (path, body, r.text)
        assert want in errors(r), (path, body, r.text)
    ct = srv.post("transit/encrypt/r", {"plaintext": b64("x"),
                                        "padding_scheme": "oaep"},
                  token=root).json()["data"]["ciphertext"]
    r = srv.post("transit/decrypt/r", {"ciphertext": ct,
                                       "associated_data": b64("aad")},
                 token=root)
    assert r.status_code == 400 and "non-AEAD" in errors(r)
    r = srv.post("transit/decrypt/r", {"ciphertext": ct,
                                       "padding_scheme": "pkcs1v15"},
                 token=root)
    assert r.status_code == 400 and "pkcs1v15" in errors(r)
    # A context on a key that is not derived is ignored, as in Vault.
    r = srv.post("transit/decrypt/r", {"ciphertext": ct,
                                       "context": b64("ctx")}, token=root)
    assert r.status_code == 200 and unb64(
        r.json()["data"]["plaintext"]) == b"x"

    # Encrypt on a missing key with type rsa-* creates it (Vault's upsert).
    r = srv.post("transit/encrypt/up", {"plaintext": b64("u"),
                                        "type": "rsa-2048"}, token=root)
    assert r.status_code == 200, r.text
    assert c.secrets.transit.read_key("up")["data"]["type"] == "rsa-2048"
    assert unb64(c.secrets.transit.decrypt_data(
        "up", r.json()["data"]["ciphertext"])["data"]["plaintext"]) == b"u"
    assert srv.post("transit/encrypt/up2", {"plaintext": b64("u"),
                                            "type": "ecdsa-p256"},
                    token=root).status_code == 400


def test_rsa_survives_restart(transit):
    """Keys and their decrypt permission persist on the token; sealed, the
    key is out of reach."""
    srv, root, c = transit
    c.secrets.transit.create_key("p", key_type="rsa-2048")
    ct = c.secrets.transit.encrypt_data("p", b64("persist"))["data"][
        "ciphertext"]
    srv.restart()
    c = client(srv, root)
    assert unb64(c.secrets.transit.decrypt_data("p", ct)["data"][
        "plaintext"]) == b"persist"
    assert srv.put("sys/seal", token=root).status_code == 204
    r = srv.post("transit/decrypt/p", {"ciphertext": ct}, token=root)
    assert r.status_code == 503
    data = ch.storage_bytes(srv.db_path)
    for enc in ch.encodings("persist"):
        assert enc not in data
