"""What the background threads do when time passes, proven by restarting
the real server under libfaketime (Debian package faketime) hours in the
future: transit auto-rotation without any use of the key (ticker), lease
expiry (expiration thread, heap rebuilt at unseal) and expired tokens
(ticker tidy). No clock knob exists in Coffer itself."""
import os
import subprocess
import time

import pytest

import coffer_harness as ch

FAKETIME_LIB = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1"

pytestmark = pytest.mark.skipif(not os.path.exists(FAKETIME_LIB),
                                reason="faketime is not installed")


def ok(r, code=200):
    assert r.status_code == code, "%d %s" % (r.status_code, r.text)
    return r.json() if code == 200 else None


def in_the_future(srv, offset):
    """Restart srv with its clock `offset` ahead ("+2h") and a 1 s tick."""
    srv.stop()
    srv.extra_env.update({
        "LD_PRELOAD": FAKETIME_LIB, "FAKETIME": offset,
        "FAKETIME_DONT_FAKE_MONOTONIC": "1",
        "COFFER_TICK_SECONDS": "1",
        # ASan wants to be first in the library list; faketime only
        # wraps time calls, so the order does not matter here.
        "ASAN_OPTIONS": os.environ.get("ASAN_OPTIONS", "")
        + ":verify_asan_link_order=0"})
    srv.start()


def wait_for(pred, timeout=20):
    end = time.time() + timeout
    while time.time() < end:
        if pred():
            return True
        time.sleep(0.3)
    return pred()


def test_two_hours_later(active_server, workdir):
    srv, root, _ = active_server
    # transit: a key that rotates every hour and is never used
    ok(srv.post("sys/mounts/transit", {"type": "transit"}, token=root), 204)
    ok(srv.post("transit/keys/hourly", {"auto_rotate_period": "1h"},
                token=root))
    ok(srv.post("transit/keys/steady", {}, token=root))
    # pki: a certificate with a one-hour lease
    ok(srv.post("sys/mounts/pki", {"type": "pki"}, token=root), 204)
    ok(srv.post("pki/root/generate/internal",
                {"common_name": "Time Root", "key_type": "ec",
                 "key_bits": 256, "ttl": "87600h"}, token=root))
    ok(srv.post("pki/roles/web", {"allowed_domains": ["example.com"],
                                  "allow_subdomains": True, "ttl": "1h",
                                  "generate_lease": True}, token=root))
    cert = ok(srv.post("pki/issue/web", {"common_name": "a.example.com"},
                       token=root))
    ok(srv.put("sys/leases/lookup", {"lease_id": cert["lease_id"]},
               token=root))
    # a token that lives one hour
    tok = ok(srv.post("auth/token/create", {"ttl": "1h"},
                      token=root))["auth"]["client_token"]
    acc = ok(srv.get("auth/token/lookup-self", token=tok))["data"]["accessor"]

    in_the_future(srv, "+2h")

    def latest(name):
        return ok(srv.get("transit/keys/" + name, token=root)
                  )["data"]["latest_version"]

    assert wait_for(lambda: latest("hourly") == 2), latest("hourly")
    assert latest("steady") == 1
    # the lease ended by itself, and the expired certificate is not put
    # on the CRL
    assert wait_for(lambda: srv.put(
        "sys/leases/lookup", {"lease_id": cert["lease_id"]},
        token=root).status_code == 400)
    # the token is gone, also from its accessor (the ticker's tidy, not
    # just a refused lookup)
    assert srv.get("auth/token/lookup-self", token=tok).status_code == 403
    assert wait_for(lambda: srv.post(
        "auth/token/lookup-accessor", {"accessor": acc},
        token=root).status_code == 400)
    # and the rotated key works: new ciphertexts say v2
    ct = ok(srv.post("transit/encrypt/hourly", {"plaintext": "aGk="},
                     token=root))["data"]["ciphertext"]
    assert ct.startswith("vault:v2:")
