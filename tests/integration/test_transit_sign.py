"""Transit signing on the HSM: every asymmetric key type signs on the token,
and the signatures verify with hvac and with the openssl CLI against the
public_key PEM of the key read; tampered input never verifies."""
import base64
import hashlib
import os
import re
import subprocess

import hvac
import pytest

from test_transit import (assert_locked, b64, client, errors, mount_uuid,
                          objects, transit)  # noqa: F401 (fixture)

TYPES = ["ecdsa-p256", "ecdsa-p384", "ecdsa-p521", "ed25519", "rsa-2048",
         "rsa-3072", "rsa-4096"]


def raw_sig(sig, url=False):
    s = sig.split(":", 2)[2]
    if url:
        return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))
    return base64.b64decode(s)


def openssl_verify(workdir, pem, msg, sig, args):
    pub = os.path.join(workdir, "pub.pem")
    m = os.path.join(workdir, "msg.bin")
    s = os.path.join(workdir, "sig.bin")
    for path, data in ((pub, pem.encode()), (m, msg), (s, sig)):
        with open(path, "wb") as f:
            f.write(data)
    if args == "ed25519":
        cmd = ["openssl", "pkeyutl", "-verify", "-pubin", "-inkey", pub,
               "-rawin", "-in", m, "-sigfile", s]
    else:
        cmd = ["openssl", "dgst"] + args + ["-verify", pub,
                                            "-signature", s, m]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    return r.returncode == 0 and "Verif" in r.stdout + r.stderr \
        and "Failure" not in r.stdout + r.stderr


def test_every_type_signs_and_openssl_verifies(transit, workdir, token):
    srv, root, c = transit
    msg = b"the quick brown fox jumps over the lazy dog"
    for t in TYPES:
        name = "k-" + t
        c.secrets.transit.create_key(name, key_type=t)
        k = c.secrets.transit.read_key(name)["data"]
        assert k["type"] == t and k["supports_signing"]
        # RSA keys also encrypt (RSA-OAEP; test_transit_rsa.py).
        assert k["supports_encryption"] == t.startswith("rsa"), t
        assert k["supports_decryption"] == t.startswith("rsa"), t
        pem = k["keys"]["1"]["public_key"]
        assert pem.startswith("-----BEGIN PUBLIC KEY-----"), pem

        s = c.secrets.transit.sign_data(name, b64(msg))["data"]
        assert s["signature"].startswith("vault:v1:")
        assert s["key_version"] == 1
        sig = raw_sig(s["signature"])
        v = c.secrets.transit.verify_signed_data(name, b64(msg),
                                                 signature=s["signature"])
        assert v["data"]["valid"] is True, t
        v = c.secrets.transit.verify_signed_data(name, b64(msg + b"!"),
                                                 signature=s["signature"])
        assert v["data"]["valid"] is False, t

        if t == "ed25519":
            args = "ed25519"
        elif t.startswith("ecdsa"):
            args = ["-sha256"]
            assert sig[0] == 0x30           # ASN.1 DER
        else:
            args = ["-sha256", "-sigopt", "rsa_padding_mode:pss",
                    "-sigopt", "rsa_pss_saltlen:-2"]
        assert openssl_verify(workdir, pem, msg, sig, args), t
        assert not openssl_verify(workdir, pem, msg + b"!", sig, args), t
        if t.startswith("rsa"):
            s = c.secrets.transit.sign_data(
                name, b64(msg), hash_algorithm="sha2-512",
                signature_algorithm="pkcs1v15")["data"]["signature"]
            assert openssl_verify(workdir, pem, msg, raw_sig(s),
                                  ["-sha512"]), t
            assert c.secrets.transit.verify_signed_data(
                name, b64(msg), signature=s, hash_algorithm="sha2-512",
                signature_algorithm="pkcs1v15")["data"]["valid"] is True

    # Every version of every key: sensitive and never extractable, and its
    # value cannot be read even logged in.
    uuid = mount_uuid(srv, root)
    objs = objects(token)
    for t in TYPES:
        label = "coffer/transit/%s/k-%s/1" % (uuid, t)
        assert label in objs, sorted(objs)
        assert "Private Key Object" in objs[label]
        assert_locked(objs[label].split("Public Key Object")[0]
                      if objs[label].startswith("Private")
                      else objs[label][objs[label].index("Private"):])
        assert_locked(objs[label + "/hmac"])
        r = token.pkcs11_tool("--read-object", "--type", "privkey",
                              "--label", label)
        assert r.returncode != 0 or r.stdout == "", r.stdout
        r = token.pkcs11_tool("--read-object", "--type", "secrkey",
                              "--label", label + "/hmac")
        assert r.returncode != 0 and r.stdout == "", r.stdout


def test_ecdsa_options(transit, workdir):
    srv, root, c = transit
    c.secrets.transit.create_key("ec", key_type="ecdsa-p256")
    pem = c.secrets.transit.read_key("ec")["data"]["keys"]["1"]["public_key"]
    msg = b"ecdsa options"
    for h, flag in (("sha2-384", "-sha384"), ("sha2-512", "-sha512"),
                    ("sha2-224", "-sha224"), ("sha1", "-sha1"),
                    ("sha3-256", "-sha3-256")):
        r = srv.post("transit/sign/ec/" + h, {"input": b64(msg)},
                     token=root)
        assert r.status_code == 200, (h, r.text)
        sig = r.json()["data"]["signature"]
        assert openssl_verify(workdir, pem, msg, raw_sig(sig), [flag]), h
        r = srv.post("transit/verify/ec/" + h, {"input": b64(msg),
                                                "signature": sig},
                     token=root)
        assert r.json()["data"]["valid"] is True, h
        # The wrong hash does not verify.
        r = srv.post("transit/verify/ec/sha2-256", {"input": b64(msg),
                                                    "signature": sig},
                     token=root)
        assert r.json()["data"]["valid"] is False, h

    # Prehashed input.
    dig = hashlib.sha256(msg).digest()
    r = srv.post("transit/sign/ec", {"input": b64(dig), "prehashed": True},
                 token=root)
    sig = r.json()["data"]["signature"]
    assert openssl_verify(workdir, pem, msg, raw_sig(sig), ["-sha256"])
    r = srv.post("transit/verify/ec", {"input": b64(msg), "signature": sig},
                 token=root)
    assert r.json()["data"]["valid"] is True
    r = srv.post("transit/sign/ec", {"input": b64(b"short"),
                                     "prehashed": True}, token=root)
    assert r.status_code == 400

    # JWS: raw r||s, base64url without padding.
    s = c.secrets.transit.sign_data("ec", b64(msg),
                                    marshaling_algorithm="jws")
    sig = s["data"]["signature"]
    body = sig.split(":", 2)[2]
    assert "+" not in body and "/" not in body and "=" not in body
    assert len(raw_sig(sig, url=True)) == 64
    v = c.secrets.transit.verify_signed_data("ec", b64(msg), signature=sig,
                                             marshaling_algorithm="jws")
    assert v["data"]["valid"] is True
    v = c.secrets.transit.verify_signed_data("ec", b64(b"x"), signature=sig,
                                             marshaling_algorithm="jws")
    assert v["data"]["valid"] is False

    # Batch signing keeps order.
    items = [{"input": b64(b"m%d" % i), "reference": str(i)}
             for i in range(5)]
    r = srv.post("transit/sign/ec", {"batch_input": items}, token=root)
    res = r.json()["data"]["batch_results"]
    assert [x["reference"] for x in res] == [str(i) for i in range(5)]
    ver = [{"input": b64(b"m%d" % i), "signature": x["signature"]}
           for i, x in enumerate(res)]
    ver[3]["input"] = b64(b"wrong")
    r = srv.post("transit/verify/ec", {"batch_input": ver}, token=root)
    assert [x["valid"] for x in r.json()["data"]["batch_results"]] == \
        [True, True, True, False, True]


def test_rsa_options(transit, workdir):
    srv, root, c = transit
    c.secrets.transit.create_key("rsa", key_type="rsa-2048")
    pem = c.secrets.transit.read_key("rsa")["data"]["keys"]["1"]["public_key"]
    msg = b"rsa options"
    pss = ["-sigopt", "rsa_padding_mode:pss"]
    r = srv.post("transit/sign/rsa", {"input": b64(msg),
                                      "salt_length": "hash"}, token=root)
    sig = r.json()["data"]["signature"]
    assert openssl_verify(workdir, pem, msg, raw_sig(sig),
                          ["-sha256"] + pss + ["-sigopt",
                                               "rsa_pss_saltlen:32"])
    r = srv.post("transit/verify/rsa", {"input": b64(msg), "signature": sig,
                                        "salt_length": "hash"}, token=root)
    assert r.json()["data"]["valid"] is True
    r = srv.post("transit/sign/rsa", {"input": b64(msg), "salt_length": 10},
                 token=root)
    sig = r.json()["data"]["signature"]
    assert openssl_verify(workdir, pem, msg, raw_sig(sig),
                          ["-sha256"] + pss + ["-sigopt",
                                               "rsa_pss_saltlen:10"])
    r = srv.post("transit/verify/rsa", {"input": b64(msg), "signature": sig},
                 token=root)          # salt auto detects it
    assert r.json()["data"]["valid"] is True

    # Prehashed PKCS#1 v1.5 with sha2-384, and hash none (raw input).
    dig = hashlib.sha384(msg).digest()
    r = srv.post("transit/sign/rsa/sha2-384", {"input": b64(dig),
                                               "prehashed": True,
                                               "signature_algorithm":
                                               "pkcs1v15"}, token=root)
    sig = r.json()["data"]["signature"]
    assert openssl_verify(workdir, pem, msg, raw_sig(sig), ["-sha384"])
    r = srv.post("transit/sign/rsa/none", {"input": b64(b"raw data"),
                                           "signature_algorithm":
                                           "pkcs1v15"}, token=root)
    assert r.status_code == 200, r.text
    sig = r.json()["data"]["signature"]
    r = srv.post("transit/verify/rsa/none", {"input": b64(b"raw data"),
                                             "signature": sig,
                                             "signature_algorithm":
                                             "pkcs1v15"}, token=root)
    assert r.json()["data"]["valid"] is True
    r = srv.post("transit/sign/rsa/none", {"input": b64(b"raw")},
                 token=root)
    assert r.status_code == 400            # none needs pkcs1v15


def test_rotation_and_min_decryption_for_signatures(transit):
    srv, root, c = transit
    c.secrets.transit.create_key("ed", key_type="ed25519")
    s1 = c.secrets.transit.sign_data("ed", b64("m"))["data"]["signature"]
    c.secrets.transit.rotate_key("ed")
    k = c.secrets.transit.read_key("ed")["data"]
    assert k["keys"]["1"]["public_key"] != k["keys"]["2"]["public_key"]
    s2 = c.secrets.transit.sign_data("ed", b64("m"))["data"]["signature"]
    assert s2.startswith("vault:v2:")
    for s in (s1, s2):
        assert c.secrets.transit.verify_signed_data(
            "ed", b64("m"), signature=s)["data"]["valid"] is True
    c.secrets.transit.update_key_configuration("ed", min_decryption_version=2)
    r = srv.post("transit/verify/ed", {"input": b64("m"), "signature": s1},
                 token=root)
    assert r.status_code == 400 and "too old" in errors(r)
    s = srv.post("transit/sign/ed", {"input": b64("m"), "key_version": 1},
                 token=root)
    assert s.status_code == 200        # min_encryption_version is 0


def test_sign_bad_input(transit):
    srv, root, c = transit
    c.secrets.transit.create_key("aes")
    c.secrets.transit.create_key("ed", key_type="ed25519")
    c.secrets.transit.create_key("ec", key_type="ecdsa-p256")
    cases = [
        ("transit/sign/aes", {"input": b64("x")}, "does not support signing"),
        ("transit/sign/ed", {"input": "%%"}, "base64"),
        ("transit/sign/ed", {}, "missing input"),
        ("transit/sign/ed", {"input": b64("x"), "prehashed": True},
         "prehashed"),
        ("transit/sign/ec/md5", {"input": b64("x")}, "unsupported hash"),
        ("transit/sign/ec", {"input": b64("x"),
                             "marshaling_algorithm": "der"}, "marshaling"),
        ("transit/sign/ec", {"input": b64("x"),
                             "signature_algorithm": "x"}, "signature"),
        ("transit/sign/none", {"input": b64("x")}, "not found"),
        ("transit/verify/ec", {"input": b64("x")}, "missing signature"),
        ("transit/verify/ec", {"input": b64("x"), "signature": "abc"},
         "prefix"),
        ("transit/encrypt/ec", {"plaintext": b64("x")}, "encryption"),
    ]
    for path, body, want in cases:
        r = srv.post(path, body, token=root)
        assert r.status_code == 400, (path, body, r.status_code, r.text)
        assert want in errors(r), (path, body, r.text)
    # A forged signature is just invalid.
    s = c.secrets.transit.sign_data("ec", b64("x"))["data"]["signature"]
    raw = bytearray(raw_sig(s))
    raw[-3] ^= 1
    v = srv.post("transit/verify/ec", {"input": b64("x"),
                                       "signature": "vault:v1:" +
                                       base64.b64encode(raw).decode()},
                 token=root)
    assert v.status_code == 200 and v.json()["data"]["valid"] is False
    with pytest.raises(hvac.exceptions.InvalidRequest):
        c.secrets.transit.create_key("d", key_type="ed25519", derived=True)
    assert re.match(r"vault:v1:", s)
