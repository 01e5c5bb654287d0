"""pkcs11 auto seal: init, auto-unseal on restart, seal/unseal with the
recovery share, sys/health status codes, hvac compatibility."""
import base64

import hvac
import requests

import coffer_harness as ch

ALL_CODES = {
    "standbyok": "true", "perfstandbyok": "true",
    "activecode": "299", "standbycode": "299", "sealedcode": "299",
    "uninitcode": "299", "performancestandbycode": "299",
    "drsecondarycode": "299", "haunhealthycode": "299",
    "removedcode": "299",
}


def client(srv, token=None):
    return hvac.Client(url=srv.addr, token=token, timeout=30)


def test_init_then_restart_unseals_by_itself(pkcs11_server):
    srv = pkcs11_server
    c = client(srv)
    assert c.sys.is_initialized() is False
    st = c.sys.read_seal_status()
    assert st["initialized"] is False
    assert st["type"] == "pkcs11"

    # hvac always sends secret_shares=5/secret_threshold=3 beside the
    # recovery counts; an auto seal must ignore them.
    init = c.sys.initialize(recovery_shares=1, recovery_threshold=1)
    root = init["root_token"]
    assert root
    assert init["keys"] == []
    assert len(init["recovery_keys"]) == 1
    assert len(init["recovery_keys_base64"]) == 1
    assert (bytes.fromhex(init["recovery_keys"][0])
            == base64.b64decode(init["recovery_keys_base64"][0]))

    # Unsealed straight away, nobody submitted anything.
    assert c.sys.is_initialized() is True
    st = c.sys.read_seal_status()
    assert st["sealed"] is False
    assert st["initialized"] is True
    assert st["type"] == "pkcs11"
    assert st["recovery_seal"] is True
    assert st["t"] == 1 and st["n"] == 1
    r = srv.lookup_self(root)
    assert r.status_code == 200, r.text
    assert r.json()["data"]["id"] == root

    srv.restart()
    # Unsealed again by itself after the restart.
    h = client(srv).sys.read_health_status(method="GET")
    assert isinstance(h, dict), h
    assert h["initialized"] is True and h["sealed"] is False
    assert srv.health().status_code == 200
    assert client(srv).sys.is_sealed() is False
    r = srv.lookup_self(root)
    assert r.status_code == 200, r.text
    assert r.json()["data"]["id"] == root
    assert "root" in r.json()["data"]["policies"]
    assert client(srv, root).lookup_token()["data"]["id"] == root


def test_seal_then_unseal_with_recovery_share(active_server):
    srv, root, init = active_server
    c = client(srv, root)
    # Sealing needs a token.
    assert srv.put("sys/seal").status_code == 403
    assert srv.put("sys/seal", token="hvs.not-a-real-token").status_code == 403
    assert c.sys.is_sealed() is False

    r = c.sys.seal()
    assert r.status_code == 204, r.text
    st = c.sys.read_seal_status()
    assert st["sealed"] is True and st["initialized"] is True
    assert srv.health().status_code == 503
    assert srv.lookup_self(root).status_code == 503

    # A share that is not the recovery key is refused; still sealed.
    bad = bytearray(bytes.fromhex(init["recovery_keys"][0]))
    bad[len(bad) // 2] ^= 0x5A
    r = srv.unseal(bad.hex())
    assert r.status_code == 400, r.text
    assert "errors" in r.json()
    assert srv.seal_status()["sealed"] is True

    st = c.sys.submit_unseal_key(init["recovery_keys_base64"][0])
    assert st["sealed"] is False
    assert srv.health().status_code == 200
    r = srv.lookup_self(root)
    assert r.status_code == 200, r.text

    # Seal and unseal once more with the hex form.
    assert srv.put("sys/seal", token=root).status_code == 204
    r = srv.unseal(init["recovery_keys"][0])
    assert r.status_code == 200, r.text
    assert r.json()["sealed"] is False
    assert srv.lookup_self(root).status_code == 200

    # Sealed through the API, then restarted: the auto seal unseals again.
    assert srv.put("sys/seal", token=root).status_code == 204
    srv.restart()
    assert srv.seal_status()["sealed"] is False
    assert srv.lookup_self(root).status_code == 200


def test_health_codes_in_every_state(pkcs11_server):
    srv = pkcs11_server
    # Uninitialised.
    r = srv.health()
    assert r.status_code == 501
    body = r.json()
    assert body["initialized"] is False
    for k in ("sealed", "standby", "performance_standby",
              "replication_performance_mode", "replication_dr_mode",
              "server_time_utc", "version"):
        assert k in body, k
    assert r.headers["Content-Type"] == "application/json"
    assert srv.health(uninitcode="299").status_code == 299
    assert srv.health(**ALL_CODES).status_code == 299
    assert srv.health(**ALL_CODES).json()["initialized"] is False
    h = requests.head(srv.url("sys/health"), timeout=30)
    assert h.status_code == 501 and h.content == b""
    h = client(srv).sys.read_health_status()          # hvac default: HEAD
    assert h.status_code == 501

    root = srv.init_pkcs11()["root_token"]

    # Active.
    r = srv.health()
    assert r.status_code == 200
    assert r.json()["initialized"] is True and r.json()["sealed"] is False
    assert r.json()["standby"] is False
    assert srv.health(activecode="297").status_code == 297
    assert srv.health(sealedcode="298", uninitcode="296").status_code == 200
    assert srv.health(standbyok="true").status_code == 200
    r = srv.health(**ALL_CODES)
    assert r.status_code == 299
    assert r.json()["sealed"] is False
    assert requests.head(srv.url("sys/health"),
                         timeout=30).status_code == 200
    h = requests.head(srv.url("sys/health"), params=ALL_CODES, timeout=30)
    assert h.status_code == 299 and h.content == b""
    assert client(srv).sys.read_health_status().status_code == 200
    g = client(srv).sys.read_health_status(method="GET")
    assert isinstance(g, dict) and g["sealed"] is False

    # Sealed.
    assert srv.put("sys/seal", token=root).status_code == 204
    r = srv.health()
    assert r.status_code == 503
    assert r.json()["sealed"] is True and r.json()["initialized"] is True
    assert srv.health(sealedcode="298").status_code == 298
    assert srv.health(activecode="297").status_code == 503
    assert srv.health(**ALL_CODES).status_code == 299
    assert requests.head(srv.url("sys/health"),
                         timeout=30).status_code == 503
    assert srv.health(sealedcode="abc").status_code == 400


def test_init_twice_and_bad_share_counts(pkcs11_server):
    srv = pkcs11_server
    for shares, threshold in ((1, 2), (3, 4), (256, 2), (-1, 1)):
        r = srv.put("sys/init", {"recovery_shares": shares,
                                 "recovery_threshold": threshold})
        assert r.status_code == 400, (shares, threshold, r.text)
        assert r.json()["errors"], r.text
        assert srv.get("sys/init").json() == {"initialized": False}
    r = srv.put("sys/init", data="{not json")
    assert r.status_code == 400
    assert srv.get("sys/init").json() == {"initialized": False}

    init = srv.init_pkcs11(shares=3, threshold=2)
    assert len(init["recovery_keys"]) == 3
    assert len(set(init["recovery_keys"])) == 3
    assert srv.get("sys/init").json() == {"initialized": True}
    r = srv.put("sys/init", {"recovery_shares": 1, "recovery_threshold": 1})
    assert r.status_code == 400, r.text
    assert r.json()["errors"]
    # hvac sees the 400 as InvalidRequest.
    try:
        client(srv).sys.initialize(recovery_shares=1, recovery_threshold=1)
        raise AssertionError("second init accepted")
    except hvac.exceptions.InvalidRequest:
        pass
    # The first root token is still the one that works.
    assert srv.lookup_self(init["root_token"]).status_code == 200


def test_three_recovery_shares_unseal_at_threshold(pkcs11_server):
    srv = pkcs11_server
    init = srv.init_pkcs11(shares=3, threshold=2)
    root = init["root_token"]
    st = srv.seal_status()
    assert st["t"] == 2 and st["n"] == 3
    assert srv.put("sys/seal", token=root).status_code == 204
    r = srv.unseal(init["recovery_keys"][2])
    assert r.status_code == 200, r.text
    assert r.json()["sealed"] is True and r.json()["progress"] == 1
    r = srv.unseal(init["recovery_keys_base64"][0])
    assert r.status_code == 200, r.text
    assert r.json()["sealed"] is False
    assert srv.lookup_self(root).status_code == 200


def test_pin_from_environment(workdir):
    pin = "it-pin-50713"
    token = ch.make_token(workdir + "/hsm", label="envpin", pin=pin)
    srv = ch.Coffer(workdir, token, pin=False,
                    env={"VAULT_HSM_PIN": pin}).start()
    root = srv.init_pkcs11()["root_token"]
    srv.stop()
    srv.extra_env = {"COFFER_HSM_PIN": pin}
    srv.start()
    assert srv.health().status_code == 200
    assert srv.lookup_self(root).status_code == 200
    # Neither the PIN nor the root token may end up in the logs.
    logs = srv.all_logs()
    assert pin not in logs
    assert root not in logs
