"""Leases (sys/leases/*) through the PKI engine's generate_lease roles:
registration, lookup, listing, revocation (by id, prefix, token), expiry
by the expiration thread, and the heap rebuilt after a restart. The
certificate a lease revokes is checked in the CRL with the openssl CLI."""
import os
import subprocess
import time

import hvac
import pytest

import coffer_harness as ch


def ok(r, code=200):
    assert r.status_code == code, "%d %s" % (r.status_code, r.text)
    return r.json() if code == 200 else None


def role(**kw):
    b = {"allowed_domains": ["example.com"], "allow_subdomains": True,
         "key_type": "ec", "key_bits": 256, "ttl": "1h", "max_ttl": "2h",
         "generate_lease": True}
    b.update(kw)
    return b


@pytest.fixture
def pki(active_server):
    srv, root, _ = active_server
    ok(srv.post("sys/mounts/pki", {"type": "pki"}, token=root), 204)
    ok(srv.post("pki/root/generate/internal",
                {"common_name": "Lease Root", "key_type": "ec",
                 "key_bits": 256, "ttl": "87600h"}, token=root))
    ok(srv.post("pki/roles/web", role(), token=root))
    return srv, root


def revoked_serials(srv, workdir):
    """Serials on the CRL, as `openssl crl -text` prints them (hex,
    upper case, no colons)."""
    r = srv.get("pki/crl/pem")
    assert r.status_code == 200, r.text
    p = os.path.join(workdir, "crl.pem")
    with open(p, "w") as f:
        f.write(r.text)
    out = subprocess.run(["openssl", "crl", "-in", p, "-noout", "-text"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return {line.split(":", 1)[1].strip().lstrip("0")
            for line in out.stdout.splitlines()
            if "Serial Number:" in line}


def serial_hex(serial):
    return serial.replace(":", "").upper().lstrip("0")


def issue(srv, root, cn="a.example.com", path="pki/issue/web", **kw):
    body = {"common_name": cn}
    body.update(kw)
    return ok(srv.post(path, body, token=root))


def test_issue_carries_a_lease_lookup_list_revoke(pki, workdir):
    srv, root = pki
    c = hvac.Client(url=srv.addr, token=root)
    r = issue(srv, root)
    lid = r["lease_id"]
    assert lid.startswith("pki/issue/web/") and len(lid.split("/")[-1]) == 24
    assert 3500 <= r["lease_duration"] <= 3600 and r["renewable"] is False
    # the lease and its certificate share their end
    assert abs(int(time.time()) + r["lease_duration"]
               - r["data"]["expiration"]) <= 2

    info = c.sys.read_lease(lease_id=lid)["data"]
    assert info["id"] == lid and info["renewable"] is False
    assert 3500 <= info["ttl"] <= 3600 and info["last_renewal"] is None
    assert info["expire_time"].endswith("Z")
    # LIST needs sudo (root has it); keys are the children of the prefix
    keys = c.sys.list_leases("pki/issue/web/")["data"]["keys"]
    assert keys == [lid.split("/")[-1]]
    assert ok(srv.req("LIST", "sys/leases/lookup/pki/", token=root)
              )["data"]["keys"] == ["issue/"]
    # not renewable, as in Vault
    b = srv.put("sys/leases/renew", {"lease_id": lid}, token=root)
    assert b.status_code == 400 and "not renewable" in b.text
    b = srv.put("sys/leases/renew", {"lease_id": "pki/issue/web/nope"},
                token=root)
    assert b.status_code == 400 and "not found" in b.text

    serial = r["data"]["serial_number"]
    assert serial_hex(serial) not in revoked_serials(srv, workdir)
    resp = c.sys.revoke_lease(lease_id=lid)
    assert resp.status_code == 204
    assert serial_hex(serial) in revoked_serials(srv, workdir)
    cert = ok(srv.get("pki/cert/" + serial.replace(":", "-")))["data"]
    assert cert["revocation_time"] > 0
    b = srv.put("sys/leases/lookup", {"lease_id": lid}, token=root)
    assert b.status_code == 400 and "invalid lease" in b.text
    # revoking again is not an error (idempotent, as Vault)
    ok(srv.put("sys/leases/revoke/" + lid, token=root), 204)
    # sign/ with a CSR gets a lease too; the legacy sys/revoke path works
    key = os.path.join(workdir, "k.pem")
    csr = os.path.join(workdir, "k.csr")
    subprocess.run(["openssl", "req", "-new", "-nodes", "-newkey", "ec",
                    "-pkeyopt", "ec_paramgen_curve:P-256", "-keyout", key,
                    "-out", csr, "-subj", "/CN=b.example.com"], check=True,
                   capture_output=True, timeout=60)
    s = ok(srv.post("pki/sign/web", {"csr": open(csr).read(),
                                     "common_name": "b.example.com"},
                    token=root))
    assert s["lease_id"].startswith("pki/sign/web/")
    ok(srv.put("sys/revoke/" + s["lease_id"], token=root), 204)
    assert serial_hex(s["data"]["serial_number"]) in \
        revoked_serials(srv, workdir)


def test_roles_without_generate_lease_give_no_lease(pki):
    srv, root = pki
    ok(srv.post("pki/roles/plain", role(generate_lease=False), token=root))
    r = issue(srv, root, path="pki/issue/plain")
    assert r["lease_id"] == "" and r["lease_duration"] == 0


def test_bad_input(pki):
    srv, root = pki
    for body in ({}, {"lease_id": ""}, {"lease_id": 5}):
        b = srv.put("sys/leases/lookup", body, token=root)
        assert b.status_code == 400, b.text
        assert b.json()["errors"]
    for lid in ("../x", "a//b", "/abs", "pki/issue/web/none"):
        b = srv.put("sys/leases/lookup", {"lease_id": lid}, token=root)
        assert b.status_code == 400 and "invalid lease" in b.text
    b = srv.req("LIST", "sys/leases/lookup/nothing/", token=root)
    assert b.status_code == 404


def test_prefix_revocation_needs_sudo(pki, workdir):
    srv, root = pki
    leases = [issue(srv, root, cn="h%d.example.com" % i) for i in range(3)]
    pol = ('path "sys/leases/*" { capabilities = ["update", "list"] }\n'
           'path "pki/issue/web" { capabilities = ["update"] }\n')
    ok(srv.put("sys/policies/acl/leases", {"policy": pol}, token=root), 204)
    t = ok(srv.post("auth/token/create", {"policies": ["leases"]},
                    token=root))["auth"]["client_token"]
    for path in ("sys/leases/revoke-prefix/pki/issue/web",
                 "sys/leases/revoke-force/pki/issue/web",
                 "sys/revoke-prefix/pki/issue/web"):
        assert srv.put(path, token=t).status_code == 403, path
    assert srv.req("LIST", "sys/leases/lookup/pki/", token=t
                   ).status_code == 403
    # without sudo a single lease can still be looked up and revoked
    ok(srv.put("sys/leases/lookup", {"lease_id": leases[0]["lease_id"]},
               token=t))
    ok(srv.put("sys/leases/revoke", {"lease_id": leases[0]["lease_id"]},
               token=t), 204)
    ok(srv.put("sys/leases/revoke-prefix/pki/issue/web", token=root), 204)
    crl = revoked_serials(srv, workdir)
    for le in leases:
        assert serial_hex(le["data"]["serial_number"]) in crl
    assert srv.req("LIST", "sys/leases/lookup/pki/issue/web/",
                   token=root).status_code == 404


def test_revoking_a_token_revokes_its_leases(pki, workdir):
    srv, root = pki
    pol = ('path "pki/issue/web" { capabilities = ["update"] }\n'
           'path "auth/token/create" { capabilities = ["update"] }\n')
    ok(srv.put("sys/policies/acl/issuer", {"policy": pol}, token=root), 204)
    parent = ok(srv.post("auth/token/create", {"policies": ["issuer"]},
                         token=root))["auth"]["client_token"]
    child = ok(srv.post("auth/token/create", {"policies": ["issuer"]},
                        token=parent))["auth"]["client_token"]
    mine = issue(srv, parent, cn="p.example.com")
    theirs = issue(srv, child, cn="c.example.com")
    other = issue(srv, root, cn="r.example.com")
    ok(srv.post("auth/token/revoke", {"token": parent}, token=root), 204)
    crl = revoked_serials(srv, workdir)
    assert serial_hex(mine["data"]["serial_number"]) in crl
    assert serial_hex(theirs["data"]["serial_number"]) in crl
    assert serial_hex(other["data"]["serial_number"]) not in crl
    for le in (mine, theirs):
        b = srv.put("sys/leases/lookup", {"lease_id": le["lease_id"]},
                    token=root)
        assert b.status_code == 400
    ok(srv.put("sys/leases/lookup", {"lease_id": other["lease_id"]},
               token=root))


def test_expiry_ends_the_lease_and_survives_a_restart(pki, workdir):
    srv, root = pki
    ok(srv.post("pki/roles/short", role(ttl="3s", max_ttl="1h"), token=root))
    ok(srv.post("pki/roles/later", role(ttl="6s", max_ttl="1h"), token=root))
    short = issue(srv, root, path="pki/issue/short")
    later = issue(srv, root, path="pki/issue/later")
    assert short["lease_duration"] <= 3
    # the restart drops the in-memory heap; unseal rebuilds it from storage
    srv.restart()
    ok(srv.put("sys/leases/lookup", {"lease_id": later["lease_id"]},
               token=root))
    deadline = time.time() + 20
    gone = set()
    while time.time() < deadline and len(gone) < 2:
        for le in (short, later):
            b = srv.put("sys/leases/lookup", {"lease_id": le["lease_id"]},
                        token=root)
            if b.status_code == 400:
                gone.add(le["lease_id"])
        time.sleep(0.5)
    assert gone == {short["lease_id"], later["lease_id"]}
    # an expired certificate is not put on the CRL (Vault neither)
    crl = revoked_serials(srv, workdir)
    assert serial_hex(short["data"]["serial_number"]) not in crl


def test_tidy_and_disabled_mount(pki):
    srv, root = pki
    le = issue(srv, root)
    ok(srv.put("sys/leases/tidy", token=root), 204)
    ok(srv.put("sys/leases/lookup", {"lease_id": le["lease_id"]},
               token=root))
    # disabling the mount drops its leases with its data
    ok(srv.req("DELETE", "sys/mounts/pki", token=root), 204)
    b = srv.put("sys/leases/lookup", {"lease_id": le["lease_id"]},
                token=root)
    assert b.status_code == 400
    ok(srv.put("sys/leases/revoke", {"lease_id": le["lease_id"]},
               token=root), 204)


def test_last_use_of_a_token_ends_its_leases(pki, workdir):
    """Vault: a use-limited token is revoked after its last use, and its
    leases with it, also the one that last request made."""
    srv, root = pki
    pol = 'path "pki/issue/web" { capabilities = ["update"] }\n'
    ok(srv.put("sys/policies/acl/once", {"policy": pol}, token=root), 204)
    t = ok(srv.post("auth/token/create", {"policies": ["once"],
                                          "num_uses": 2},
                    token=root))["auth"]["client_token"]
    first = issue(srv, t, cn="one.example.com")
    ok(srv.put("sys/leases/lookup", {"lease_id": first["lease_id"]},
               token=root))
    last = issue(srv, t, cn="two.example.com")
    assert last["lease_id"]
    crl = revoked_serials(srv, workdir)
    for le in (first, last):
        assert serial_hex(le["data"]["serial_number"]) in crl
        b = srv.put("sys/leases/lookup", {"lease_id": le["lease_id"]},
                    token=root)
        assert b.status_code == 400
    assert srv.post("pki/issue/web", {"common_name": "x.example.com"},
                    token=t).status_code == 403


def test_hvac_lease_api(pki, workdir):
    """hvac's sys lease calls work unchanged."""
    srv, root = pki
    c = hvac.Client(url=srv.addr, token=root)
    one = c.write("pki/issue/web", common_name="h1.example.com")
    two = c.write("pki/issue/web", common_name="h2.example.com")
    assert c.sys.read_lease(one["lease_id"])["data"]["id"] == \
        one["lease_id"]
    keys = c.sys.list_leases("pki/issue/web")["data"]["keys"]
    assert sorted(keys) == sorted(x["lease_id"].split("/")[-1]
                                  for x in (one, two))
    with pytest.raises(hvac.exceptions.InvalidRequest):
        c.sys.renew_lease(one["lease_id"])
    c.sys.revoke_lease(one["lease_id"])
    c.sys.revoke_prefix("pki/issue/web")
    c.sys.revoke_force("pki/issue")
    with pytest.raises(hvac.exceptions.InvalidPath):
        c.sys.list_leases("pki/issue/web")
    crl = revoked_serials(srv, workdir)
    for x in (one, two):
        assert serial_hex(x["data"]["serial_number"]) in crl
