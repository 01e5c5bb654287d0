"""shamir seal: the unseal key shares reconstruct the token's user PIN."""
import base64

import hvac

import coffer_harness as ch


def corrupt(share_hex):
    b = bytearray(bytes.fromhex(share_hex))
    b[len(b) // 2] ^= 0xA5          # a middle byte: not the x coordinate
    return b.hex()


def test_init_leaves_it_sealed_and_shares_unseal(shamir_server):
    srv = shamir_server
    assert srv.health().status_code == 501
    st = srv.seal_status()
    assert st["type"] == "shamir" and st["initialized"] is False

    init = srv.init_shamir(3, 2)
    keys, keys64 = init["keys"], init["keys_base64"]
    root = init["root_token"]
    assert len(keys) == 3 and len(keys64) == 3 and root
    assert len(set(keys)) == 3
    for h, b in zip(keys, keys64):
        assert bytes.fromhex(h) == base64.b64decode(b)

    # Sealed after init, as Vault does.
    st = srv.seal_status()
    assert st["sealed"] is True and st["initialized"] is True
    assert st["t"] == 2 and st["n"] == 3 and st["progress"] == 0
    assert srv.health().status_code == 503
    assert srv.lookup_self(root).status_code == 503

    # First share (hex): progress 1, still sealed.
    r = srv.unseal(keys[0])
    assert r.status_code == 200, r.text
    assert r.json()["sealed"] is True
    assert r.json()["progress"] == 1
    assert r.json()["t"] == 2 and r.json()["n"] == 3
    assert srv.seal_status()["progress"] == 1

    # Second share (base64): unsealed.
    r = srv.unseal(keys64[2])
    assert r.status_code == 200, r.text
    assert r.json()["sealed"] is False
    assert srv.health().status_code == 200
    r = srv.lookup_self(root)
    assert r.status_code == 200, r.text
    assert r.json()["data"]["id"] == root


def test_wrong_share_reset_and_progress(shamir_server):
    srv = shamir_server
    init = srv.init_shamir(3, 2)
    keys = init["keys"]

    # A wrong share at the threshold: 400 and progress back to 0.
    assert srv.unseal(keys[1]).json()["progress"] == 1
    r = srv.unseal(corrupt(keys[0]))
    assert r.status_code == 400, r.text
    assert r.json()["errors"]
    st = srv.seal_status()
    assert st["sealed"] is True and st["progress"] == 0

    # Garbage that is neither hex nor base64 of a share: 400.
    r = srv.unseal("this is not a key share!")
    assert r.status_code == 400, r.text
    assert srv.seal_status()["progress"] == 0

    # Reset throws away collected shares.
    assert srv.unseal(keys[0]).json()["progress"] == 1
    r = srv.put("sys/unseal", {"reset": True})
    assert r.status_code == 200, r.text
    assert r.json()["progress"] == 0 and r.json()["sealed"] is True
    assert srv.seal_status()["progress"] == 0

    # The same share twice counts once.
    assert srv.unseal(keys[2]).json()["progress"] == 1
    r = srv.unseal(keys[2])
    assert r.status_code == 200, r.text
    assert r.json()["progress"] == 1 and r.json()["sealed"] is True
    srv.put("sys/unseal", {"reset": True})

    # hvac's helper unseals with two correct shares.
    c = hvac.Client(url=srv.addr, timeout=30)
    st = c.sys.submit_unseal_keys([keys[2], keys[1]])
    assert st["sealed"] is False
    assert srv.lookup_self(init["root_token"]).status_code == 200
    # A share sent while unsealed just reports the status.
    r = srv.unseal(keys[0])
    assert r.status_code == 200 and r.json()["sealed"] is False, r.text


def test_initial_pin_is_gone_and_restart_stays_sealed(workdir, token):
    # Before init the initial PIN logs in.
    r = token.pkcs11_tool("--list-objects")
    assert r.returncode == 0, r.stdout + r.stderr

    srv = ch.Coffer(workdir, token, seal="shamir").start()
    init = srv.init_shamir(3, 2)
    root = init["root_token"]
    srv.stop()

    # After init nobody holds the PIN whole: the old one no longer works.
    r = token.pkcs11_tool("--list-objects")
    assert r.returncode != 0, "initial PIN still logs in:\n" + r.stdout
    assert "CKR_PIN_INCORRECT" in r.stdout + r.stderr \
        or "login" in (r.stdout + r.stderr).lower()

    # Restart (config still has the old PIN): it starts, sealed.
    srv.start()
    st = srv.seal_status()
    assert st["initialized"] is True and st["sealed"] is True
    assert st["progress"] == 0
    assert srv.health().status_code == 503
    assert srv.lookup_self(root).status_code == 503

    assert srv.unseal(init["keys_base64"][1]).json()["sealed"] is True
    r = srv.unseal(init["keys"][0])
    assert r.status_code == 200 and r.json()["sealed"] is False, r.text
    assert srv.lookup_self(root).status_code == 200

    # Seal through the API and unseal once more.
    assert srv.put("sys/seal", token=root).status_code == 204
    assert srv.seal_status()["sealed"] is True
    srv.unseal(init["keys"][2])
    assert srv.unseal(init["keys"][1]).json()["sealed"] is False
    assert srv.lookup_self(root).status_code == 200


def test_bad_share_counts_and_init_twice(shamir_server):
    srv = shamir_server
    for shares, threshold in ((2, 3), (256, 2), (0, 0), (-3, 2)):
        r = srv.put("sys/init", {"secret_shares": shares,
                                 "secret_threshold": threshold})
        assert r.status_code == 400, (shares, threshold, r.text)
        assert srv.get("sys/init").json() == {"initialized": False}
    init = srv.init_shamir(3, 2)
    r = srv.put("sys/init", {"secret_shares": 3, "secret_threshold": 2})
    assert r.status_code == 400, r.text
    srv.unseal(init["keys"][0])
    assert srv.unseal(init["keys"][1]).json()["sealed"] is False


def test_hsm_block_without_generate_key(workdir, token):
    """The minimal shamir config (hsm { lib, token_label, pin }, no
    generate_key): init either creates the keys, or says plainly (400) that
    generate_key is needed. Never an opaque 404."""
    srv = ch.Coffer(workdir, token, seal="shamir", generate_key=False).start()
    r = srv.put("sys/init", {"secret_shares": 3, "secret_threshold": 2})
    if r.status_code == 200:
        keys = r.json()["keys"]
        srv.unseal(keys[0])
        assert srv.unseal(keys[1]).json()["sealed"] is False
        return
    assert r.status_code == 400, (r.status_code, r.text)
    assert "generate_key" in r.text, r.text
    assert srv.get("sys/init").json() == {"initialized": False}
