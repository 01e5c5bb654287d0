"""BYOK: a key wrapped for the transit wrapping key (RSA-OAEP of an
ephemeral AES key, then AES-KWP of the key) is unwrapped on the token into
a sensitive, non-extractable object; its bytes never reach storage."""
import base64
import os
import subprocess

import pytest

import coffer_harness as ch
from test_transit import (b64, errors, mount_uuid, objects,  # noqa
                          transit, unb64)


def wrap_for_import(workdir, pem, key, oaep_hash="sha1"):
    """Vault's import ciphertext built with the openssl CLI."""
    pub = os.path.join(workdir, "wrap.pem")
    with open(pub, "w") as f:
        f.write(pem)
    eph = os.urandom(32)
    ephf = os.path.join(workdir, "eph.bin")
    with open(ephf, "wb") as f:
        f.write(eph)
    r = subprocess.run(["openssl", "pkeyutl", "-encrypt", "-pubin",
                        "-inkey", pub, "-in", ephf,
                        "-pkeyopt", "rsa_padding_mode:oaep",
                        "-pkeyopt", "rsa_oaep_md:" + oaep_hash,
                        "-pkeyopt", "rsa_mgf1_md:" + oaep_hash],
                       capture_output=True, timeout=60)
    assert r.returncode == 0, r.stderr
    wrapped_eph = r.stdout
    keyf = os.path.join(workdir, "key.bin")
    with open(keyf, "wb") as f:
        f.write(key)
    r = subprocess.run(["openssl", "enc", "-id-aes256-wrap-pad", "-K",
                        eph.hex(), "-iv", "A65959A6", "-in", keyf],
                       capture_output=True, timeout=60)
    assert r.returncode == 0, r.stderr
    os.unlink(ephf)
    os.unlink(keyf)
    return base64.b64encode(wrapped_eph + r.stdout).decode()


def gcm_encrypt(key, iv, pt):
    """AES-256-GCM with a known key, through Python's OpenSSL binding if it
    has one, else the cryptography package."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    return AESGCM(key).encrypt(iv, pt, None)


def test_import_and_import_version(transit, workdir, token):
    srv, root, c = transit
    r = srv.get("transit/wrapping_key", token=root)
    assert r.status_code == 200, r.text
    pem = r.json()["data"]["public_key"]
    assert pem.startswith("-----BEGIN PUBLIC KEY-----")
    # The same key on the next read.
    assert srv.get("transit/wrapping_key",
                   token=root).json()["data"]["public_key"] == pem

    key = os.urandom(32)
    ct = wrap_for_import(workdir, pem, key)
    r = srv.post("transit/keys/byok/import",
                 {"ciphertext": ct, "hash_function": "SHA1"}, token=root)
    assert r.status_code == 200, r.text
    k = r.json()["data"]
    assert k["imported_key"] is True and k["type"] == "aes256-gcm96"

    # It is the key we wrapped: our own GCM ciphertext decrypts with it.
    iv = os.urandom(12)
    try:
        blob = gcm_encrypt(key, iv, b"made outside")
    except ImportError:
        blob = None
    if blob is not None:
        r = srv.post("transit/decrypt/byok",
                     {"ciphertext": "vault:v1:" + b64(iv + blob)},
                     token=root)
        assert r.status_code == 200, r.text
        assert unb64(r.json()["data"]["plaintext"]) == b"made outside"
    enc = c.secrets.transit.encrypt_data("byok", b64("inside"))["data"]
    assert unb64(c.secrets.transit.decrypt_data(
        "byok", enc["ciphertext"])["data"]["plaintext"]) == b"inside"

    # A second version from outside.
    key2 = os.urandom(32)
    r = srv.post("transit/keys/byok/import_version",
                 {"ciphertext": wrap_for_import(workdir, pem, key2),
                  "hash_function": "SHA1"}, token=root)
    assert r.status_code == 200, r.text
    assert r.json()["data"]["latest_version"] == 2

    # Rotation needs allow_rotation.
    r = srv.post("transit/keys/byok/rotate", {}, token=root)
    assert r.status_code == 400
    r = srv.post("transit/keys/rot/import",
                 {"ciphertext": wrap_for_import(workdir, pem,
                                                os.urandom(16)),
                  "hash_function": "SHA1", "type": "aes128-gcm96",
                  "allow_rotation": True}, token=root)
    assert r.status_code == 200, r.text
    assert srv.post("transit/keys/rot/rotate", {}, token=root).status_code \
        == 200
    r = srv.post("transit/keys/rot/import_version",
                 {"ciphertext": wrap_for_import(workdir, pem,
                                                os.urandom(16)),
                  "hash_function": "SHA1"}, token=root)
    assert r.status_code == 400 and "rotated" in errors(r)

    # The imported keys are sensitive, non-extractable objects on the
    # token ("never extractable" and "local" are false by definition for
    # a key that came from outside).
    uuid = mount_uuid(srv, root)
    objs = objects(token)
    for v in ("1", "2"):
        blk = objs["coffer/transit/%s/byok/%s" % (uuid, v)]
        flags = {f.strip() for f in
                 blk.split("Access:")[1].splitlines()[0].split(",")}
        assert "sensitive" in flags and "extractable" not in flags, blk
        r = token.pkcs11_tool("--read-object", "--type", "secrkey",
                              "--label", "coffer/transit/%s/byok/%s"
                              % (uuid, v))
        assert r.returncode != 0 and r.stdout == "", r.stdout
    wk = objs["coffer/transit/%s/wrapping-key" % uuid]
    assert "Private Key Object" in wk

    # Bad payloads: 400, nothing created.
    bad = [({"ciphertext": ct, "hash_function": "SHA1"}, "exists"),
           ({"ciphertext": "%%%", "hash_function": "SHA1"}, "base64"),
           ({"hash_function": "SHA1"}, "missing ciphertext"),
           ({"ciphertext": ct, "hash_function": "MD5"}, "hash_function"),
           ({"ciphertext": ct, "type": "ed25519"}, "not supported"),
           ({"ciphertext": ct, "type": "chacha20-poly1305"}, "ChaCha20")]
    for body, want in bad:
        r = srv.post("transit/keys/byok/import", body, token=root)
        assert r.status_code == 400, (body, r.text)
        assert want in errors(r), (body, r.text)
    raw = bytearray(base64.b64decode(ct))
    raw[-1] ^= 1
    r = srv.post("transit/keys/other/import",
                 {"ciphertext": base64.b64encode(bytes(raw)).decode(),
                  "hash_function": "SHA1"}, token=root)
    assert r.status_code == 400, r.text
    # SHA-256 OAEP: SoftHSM 2.6 cannot unwrap it; a clear 400.
    r = srv.post("transit/keys/other/import",
                 {"ciphertext": wrap_for_import(workdir, pem, key,
                                                "sha256"),
                  "hash_function": "SHA256"}, token=root)
    assert r.status_code == 400 and "SHA1" in errors(r)
    assert srv.get("transit/keys/other", token=root).status_code == 404
    r = srv.post("transit/keys/gen", {}, token=root)
    r = srv.post("transit/keys/gen/import_version",
                 {"ciphertext": ct, "hash_function": "SHA1"}, token=root)
    assert r.status_code == 400 and "imported" in errors(r)

    # The imported key's bytes are nowhere in storage.
    srv.stop()
    data = ch.storage_bytes(srv.db_path)
    for secret in (key, key2):
        for enc in ch.encodings(secret):
            assert enc not in data
