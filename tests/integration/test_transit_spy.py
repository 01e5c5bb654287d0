"""Every PKCS#11 call Coffer makes for transit, logged by OpenSC's
pkcs11-spy in front of SoftHSM: no C_GetAttributeValue of CKA_VALUE and no
C_WrapKey, whatever the key type or operation (RSA decryption and BYOK
import included)."""
import os
import re

import pytest

import coffer_harness as ch
from test_transit import b64, client
from test_transit_byok import vault_byok

SPY = "/usr/lib/x86_64-linux-gnu/pkcs11-spy.so"


@pytest.mark.skipif(not os.path.exists(SPY), reason="no pkcs11-spy.so")
def test_no_key_value_ever_leaves_the_token(workdir, token):
    log = os.path.join(workdir, "spy.log")
    srv = ch.Coffer(workdir, token, lib=SPY,
                    env={"PKCS11SPY": ch.SOFTHSM_LIB,
                         "PKCS11SPY_OUTPUT": log}).start()
    init = srv.init_pkcs11()
    root = init["root_token"]
    assert srv.post("sys/mounts/transit", {"type": "transit"},
                    token=root).status_code in (200, 204)
    c = client(srv, root)
    for t in ("aes256-gcm96", "ecdsa-p256", "ed25519", "rsa-2048"):
        c.secrets.transit.create_key("k-" + t, key_type=t)
        c.secrets.transit.rotate_key("k-" + t)
        c.secrets.transit.read_key("k-" + t)
        c.secrets.transit.generate_hmac("k-" + t, b64("m"))
        if t.startswith("aes"):
            ct = c.secrets.transit.encrypt_data("k-" + t, b64("p"))
            c.secrets.transit.decrypt_data(
                "k-" + t, ct["data"]["ciphertext"])
            c.secrets.transit.generate_data_key("k-" + t, "plaintext")
        else:
            if t.startswith("rsa"):
                ct = c.secrets.transit.encrypt_data("k-" + t, b64("p"))
                c.secrets.transit.decrypt_data(
                    "k-" + t, ct["data"]["ciphertext"])
            s = c.secrets.transit.sign_data("k-" + t, b64("m"))
            c.secrets.transit.verify_signed_data(
                "k-" + t, b64("m"), signature=s["data"]["signature"])
    c.secrets.transit.create_key("d", derived=True)
    c.secrets.transit.encrypt_data("d", b64("p"), context=b64("c"))
    pem = srv.get("transit/wrapping_key", token=root).json()["data"][
        "public_key"]
    r = srv.post("transit/keys/byok/import",
                 {"ciphertext": vault_byok(pem, os.urandom(32))}, token=root)
    assert r.status_code == 200, r.text
    srv.stop()

    with open(log, errors="replace") as f:
        text = f.read()
    calls = re.findall(r"^\d+: (C_\w+)", text, re.M)
    assert "C_Sign" in calls and "C_Encrypt" in calls, calls[:50]
    assert "C_GenerateKeyPair" in calls
    assert "C_Decrypt" in calls and "C_UnwrapKey" in calls  # RSA, BYOK
    assert "C_WrapKey" not in calls
    # Each C_GetAttributeValue block lists the attributes asked for.
    for block in re.split(r"\n(?=\d+: C_)", text):
        if block.split("\n", 1)[0].endswith("C_GetAttributeValue"):
            assert "CKA_VALUE " not in block and "CKA_VALUE\n" not in \
                block, block[:2000]
