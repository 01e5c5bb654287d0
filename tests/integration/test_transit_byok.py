"""BYOK: a key wrapped for the transit wrapping key (RSA-OAEP of an
ephemeral AES key, then AES-KWP of the key) is unwrapped on the token into
a sensitive, non-extractable object; its bytes never reach storage. Every
OAEP hash Vault allows works (SHA256 by default), though SoftHSM's own
RSA-OAEP mechanism is SHA-1 only."""
import base64
import hashlib
import hmac
import os
import subprocess

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.keywrap import aes_key_wrap_with_padding

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
    # A SHA-256 payload declared as SHA1 does not unwrap; declared as
    # SHA256 (what Vault assumes when hash_function is left out) it does,
    # though SoftHSM's own RSA-OAEP is SHA-1 only.
    ct256 = wrap_for_import(workdir, pem, key, "sha256")
    r = srv.post("transit/keys/other/import",
                 {"ciphertext": ct256, "hash_function": "SHA1"}, token=root)
    assert r.status_code == 400 and "could not unwrap" in errors(r)
    assert srv.get("transit/keys/other", token=root).status_code == 404
    r = srv.post("transit/keys/cli256/import", {"ciphertext": ct256},
                 token=root)
    assert r.status_code == 200, r.text
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


HASHES = {"SHA1": hashes.SHA1, "SHA224": hashes.SHA224,
          "SHA256": hashes.SHA256, "SHA384": hashes.SHA384,
          "SHA512": hashes.SHA512}


def vault_byok(pem, target, hash_name="SHA256", eph_len=32):
    """Vault's BYOK ciphertext, step by step as its transit docs give it:
    an ephemeral AES-256 key wraps the target key with AES-KWP (RFC 5649);
    the wrapping key wraps the ephemeral key with RSA-OAEP, MGF1 and OAEP
    with the same hash; wrapped AES key first, then the wrapped target;
    base64 of it all."""
    pub = serialization.load_pem_public_key(pem.encode())
    eph = os.urandom(eph_len)
    wrapped_target = aes_key_wrap_with_padding(eph, target)
    h = HASHES[hash_name.replace("-", "")]
    wrapped_eph = pub.encrypt(eph, padding.OAEP(
        mgf=padding.MGF1(algorithm=h()), algorithm=h(), label=None))
    return base64.b64encode(wrapped_eph + wrapped_target).decode()


def wrapping_pem(srv, root):
    r = srv.get("transit/wrapping_key", token=root)
    assert r.status_code == 200, r.text
    return r.json()["data"]["public_key"]


def gcm_open(key, ciphertext):
    """Decrypt a transit AES-GCM ciphertext (vault:vN:iv||ct||tag) with the
    known key, in Python."""
    raw = unb64(ciphertext.split(":", 2)[2])
    return AESGCM(key).decrypt(raw[:12], raw[12:], None)


def test_import_sha2_aes_keys(transit):
    """aes256-gcm96 and aes128-gcm96 keys imported with SHA-256 (the
    default), SHA-384 and SHA-512 OAEP are the very keys we wrapped:
    ciphertexts cross between transit and Python both ways."""
    srv, root, c = transit
    pem = wrapping_pem(srv, root)
    secrets = []
    for name, typ, size, hf in (("a-default", None, 32, None),
                                ("a-384", "aes256-gcm96", 32, "SHA-384"),
                                ("a-512", "aes256-gcm96", 32, "SHA512"),
                                ("a128", "aes128-gcm96", 16, None)):
        key = os.urandom(size)
        secrets.append(key)
        body = {"ciphertext": vault_byok(pem, key, hf or "SHA256")}
        if hf:
            body["hash_function"] = hf
        if typ:
            body["type"] = typ
        r = srv.post("transit/keys/%s/import" % name, body, token=root)
        assert r.status_code == 200, (name, r.text)
        k = r.json()["data"]
        assert k["imported_key"] is True and k["latest_version"] == 1
        assert k["type"] == (typ or "aes256-gcm96")

        # Made in Python, opened by transit.
        iv = os.urandom(12)
        blob = AESGCM(key).encrypt(iv, b"from python " + name.encode(),
                                   None)
        r = srv.post("transit/decrypt/" + name,
                     {"ciphertext": "vault:v1:" + b64(iv + blob)},
                     token=root)
        assert r.status_code == 200, (name, r.text)
        assert unb64(r.json()["data"]["plaintext"]) == \
            b"from python " + name.encode()
        # Made by transit, opened in Python.
        ct = c.secrets.transit.encrypt_data(name, b64("from transit"))
        assert gcm_open(key, ct["data"]["ciphertext"]) == b"from transit"

    # import_version with SHA-512: version 2 is the second key.
    key2 = os.urandom(32)
    secrets.append(key2)
    r = srv.post("transit/keys/a-default/import_version",
                 {"ciphertext": vault_byok(pem, key2, "SHA512"),
                  "hash_function": "SHA512"}, token=root)
    assert r.status_code == 200, r.text
    assert r.json()["data"]["latest_version"] == 2
    ct = c.secrets.transit.encrypt_data("a-default", b64("v2"))["data"]
    assert ct["ciphertext"].startswith("vault:v2:")
    assert gcm_open(key2, ct["ciphertext"]) == b"v2"

    srv.stop()
    data = ch.storage_bytes(srv.db_path)
    for secret in secrets:
        for enc in ch.encodings(secret):
            assert enc not in data


def test_import_sha2_hmac_keys(transit):
    """hmac keys imported with SHA-256 (default) and SHA-512 OAEP give the
    HMACs Python computes with the known key."""
    srv, root, c = transit
    pem = wrapping_pem(srv, root)
    msg = b"the quick brown fox"
    secrets = []
    for name, size, hf, alg, fn in (("h32", 32, None, "sha2-256",
                                     hashlib.sha256),
                                    ("h64", 64, "SHA512", "sha2-512",
                                     hashlib.sha512)):
        key = os.urandom(size)
        secrets.append(key)
        body = {"ciphertext": vault_byok(pem, key, hf or "SHA256"),
                "type": "hmac"}
        if hf:
            body["hash_function"] = hf
        r = srv.post("transit/keys/%s/import" % name, body, token=root)
        assert r.status_code == 200, (name, r.text)
        assert r.json()["data"]["key_size"] == size
        want = "vault:v1:" + b64(hmac.new(key, msg, fn).digest())
        r = srv.post("transit/hmac/%s/%s" % (name, alg), {"input": b64(msg)},
                     token=root)
        assert r.status_code == 200, r.text
        assert r.json()["data"]["hmac"] == want, name
        r = srv.post("transit/verify/%s/%s" % (name, alg),
                     {"input": b64(msg), "hmac": want}, token=root)
        assert r.status_code == 200 and r.json()["data"]["valid"] is True

    srv.stop()
    data = ch.storage_bytes(srv.db_path)
    for secret in secrets:
        for enc in ch.encodings(secret):
            assert enc not in data


def test_import_bad_payloads_fail_alike(transit):
    """Whatever is wrong with the payload (RSA-OAEP part, KWP part, hash,
    length, the wrapping key it was made for, the transport key's size),
    the answer is the same 400: no padding oracle. Nothing is created."""
    srv, root, c = transit
    pem = wrapping_pem(srv, root)
    key = os.urandom(32)
    good = vault_byok(pem, key)
    raw = base64.b64decode(good)

    def flip(i):
        b = bytearray(raw)
        b[i] ^= 0x01
        return base64.b64encode(bytes(b)).decode()

    other = rsa.generate_private_key(public_exponent=65537, key_size=4096)
    other_pem = other.public_key().public_bytes(
        serialization.Encoding.PEM,
        serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    bad = [
        ("rsa part", {"ciphertext": flip(7)}),
        ("rsa part end", {"ciphertext": flip(511)}),
        ("kwp part", {"ciphertext": flip(len(raw) - 1)}),
        ("kwp first", {"ciphertext": flip(512)}),
        ("hash", {"ciphertext": good, "hash_function": "SHA512"}),
        ("sha1 payload", {"ciphertext": vault_byok(pem, key, "SHA1")}),
        ("short", {"ciphertext": base64.b64encode(raw[:-8]).decode()}),
        ("other key", {"ciphertext": vault_byok(other_pem, key)}),
        ("aes-128 transport", {"ciphertext": vault_byok(pem, key,
                                                        eph_len=16)}),
        ("key size", {"ciphertext": good, "type": "aes128-gcm96"}),
    ]
    msgs = set()
    for what, body in bad:
        r = srv.post("transit/keys/bad/import", body, token=root)
        assert r.status_code == 400, (what, r.text)
        msgs.add(errors(r).replace("aes128-gcm96", "aes256-gcm96"))
    assert len(msgs) == 1, msgs
    assert "could not unwrap" in msgs.pop()
    assert srv.get("transit/keys/bad", token=root).status_code == 404

    # The untouched payload still imports.
    r = srv.post("transit/keys/bad/import", {"ciphertext": good},
                 token=root)
    assert r.status_code == 200, r.text
    ct = c.secrets.transit.encrypt_data("bad", b64("ok"))["data"]
    assert gcm_open(key, ct["ciphertext"]) == b"ok"


def pkcs8(key):
    return key.private_bytes(serialization.Encoding.DER,
                             serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def spki(pub):
    return pub.public_bytes(serialization.Encoding.PEM,
                            serialization.PublicFormat.SubjectPublicKeyInfo)


def test_import_rsa(transit):
    """An RSA-2048 key imported as Vault's docs describe (PKCS#8 DER, KWP
    under the ephemeral key) is the known key: same public key, transit
    signatures verify with it, Python's OAEP ciphertexts decrypt through
    transit; import_version and rotation work; its PKCS#8 never reaches
    storage. A key of another size, or an EC key, is refused."""
    srv, root, c = transit
    pem = wrapping_pem(srv, root)
    known = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    der = pkcs8(known)
    r = srv.post("transit/keys/imp/import",
                 {"ciphertext": vault_byok(pem, der), "type": "rsa-2048"},
                 token=root)
    assert r.status_code == 200, r.text
    k = r.json()["data"]
    assert k["imported_key"] is True and k["type"] == "rsa-2048"
    assert k["supports_signing"] and k["supports_decryption"]

    got = c.secrets.transit.read_key("imp")["data"]["keys"]["1"]
    assert serialization.load_pem_public_key(
        got["public_key"].encode()).public_numbers() == \
        known.public_key().public_numbers()
    assert spki(known.public_key()).decode() == got["public_key"]

    # Signed by transit, verified in Python with the known key.
    msg = b"signed by an imported key"
    for algo, pad in (("pss", padding.PSS(mgf=padding.MGF1(hashes.SHA256()),
                                          salt_length=padding.PSS.AUTO)),
                      ("pkcs1v15", padding.PKCS1v15())):
        r = srv.post("transit/sign/imp", {"input": b64(msg),
                                          "signature_algorithm": algo},
                     token=root)
        assert r.status_code == 200, r.text
        sig = r.json()["data"]["signature"]
        assert sig.startswith("vault:v1:")
        known.public_key().verify(unb64(sig.split(":", 2)[2]), msg, pad,
                                  hashes.SHA256())
        r = srv.post("transit/verify/imp", {"input": b64(msg),
                                            "signature": sig,
                                            "signature_algorithm": algo},
                     token=root)
        assert r.status_code == 200 and r.json()["data"]["valid"] is True

    # Encrypted in Python (OAEP SHA-256), decrypted by transit; and the
    # other way round.
    ct = known.public_key().encrypt(b"from python", padding.OAEP(
        mgf=padding.MGF1(algorithm=hashes.SHA256()),
        algorithm=hashes.SHA256(), label=None))
    r = srv.post("transit/decrypt/imp", {"ciphertext": "vault:v1:" + b64(ct)},
                 token=root)
    assert r.status_code == 200, r.text
    assert unb64(r.json()["data"]["plaintext"]) == b"from python"
    enc = c.secrets.transit.encrypt_data("imp", b64("from transit"))["data"]
    assert known.decrypt(unb64(enc["ciphertext"].split(":", 2)[2]),
                         padding.OAEP(mgf=padding.MGF1(hashes.SHA256()),
                                      algorithm=hashes.SHA256(),
                                      label=None)) == b"from transit"

    # import_version: v2 is the second known key.
    known2 = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    der2 = pkcs8(known2)
    r = srv.post("transit/keys/imp/import_version",
                 {"ciphertext": vault_byok(pem, der2, "SHA512"),
                  "hash_function": "SHA512"}, token=root)
    assert r.status_code == 200, r.text
    assert r.json()["data"]["latest_version"] == 2
    got = c.secrets.transit.read_key("imp")["data"]["keys"]
    assert got["2"]["public_key"] == spki(known2.public_key()).decode()
    sig = srv.post("transit/sign/imp", {"input": b64(msg)},
                   token=root).json()["data"]["signature"]
    assert sig.startswith("vault:v2:")
    known2.public_key().verify(
        unb64(sig.split(":", 2)[2]), msg,
        padding.PSS(mgf=padding.MGF1(hashes.SHA256()),
                    salt_length=padding.PSS.AUTO), hashes.SHA256())
    # No rotation without allow_rotation; with it, v2 is made on the HSM.
    assert srv.post("transit/keys/imp/rotate", {},
                    token=root).status_code == 400
    r = srv.post("transit/keys/imp-rot/import",
                 {"ciphertext": vault_byok(pem, der), "type": "rsa-2048",
                  "allow_rotation": True}, token=root)
    assert r.status_code == 200, r.text
    r = srv.post("transit/keys/imp-rot/rotate", {}, token=root)
    assert r.status_code == 200, r.text
    got = c.secrets.transit.read_key("imp-rot")["data"]["keys"]
    assert got["1"]["public_key"] == spki(known.public_key()).decode()
    assert got["2"]["public_key"].startswith("-----BEGIN PUBLIC KEY-----")
    assert got["2"]["public_key"] != got["1"]["public_key"]
    enc = c.secrets.transit.encrypt_data("imp-rot", b64("v2"))["data"]
    assert enc["ciphertext"].startswith("vault:v2:")
    assert unb64(c.secrets.transit.decrypt_data(
        "imp-rot", enc["ciphertext"])["data"]["plaintext"]) == b"v2"

    # An RSA-3072 key declared rsa-2048: 400 naming the size, nothing
    # made. An EC key: 400 saying why.
    big = rsa.generate_private_key(public_exponent=65537, key_size=3072)
    r = srv.post("transit/keys/mismatch/import",
                 {"ciphertext": vault_byok(pem, pkcs8(big)),
                  "type": "rsa-2048"}, token=root)
    assert r.status_code == 400, r.text
    assert "RSA-3072, not rsa-2048" in errors(r)
    assert srv.get("transit/keys/mismatch", token=root).status_code == 404
    eck = ec.generate_private_key(ec.SECP256R1())
    r = srv.post("transit/keys/ec/import",
                 {"ciphertext": vault_byok(pem, pkcs8(eck)),
                  "type": "ecdsa-p256"}, token=root)
    assert r.status_code == 400, r.text
    assert "not supported" in errors(r) and "public point" in errors(r)
    assert srv.get("transit/keys/ec", token=root).status_code == 404
    # An EC key sent as rsa-2048 is just a payload that does not unwrap.
    r = srv.post("transit/keys/ec/import",
                 {"ciphertext": vault_byok(pem, pkcs8(eck)),
                  "type": "rsa-2048"}, token=root)
    assert r.status_code == 400 and "could not unwrap" in errors(r)

    srv.stop()
    data = ch.storage_bytes(srv.db_path)
    for secret in (der, der2):
        for enc in ch.encodings(secret):
            assert enc not in data
