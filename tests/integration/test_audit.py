"""Audit devices (sys/audit): JSON lines with every secret HMAC'd by a key
on the token, sys/audit-hash to find values, requests failing when no
device can log, SIGHUP reopening files, and devices surviving a
restart."""
import json
import os
import signal
import time

import pytest

import coffer_harness as ch

SECRET = "hunter2-this-must-never-be-logged"


def ok(r, code=200):
    assert r.status_code == code, "%d %s" % (r.status_code, r.text)
    return r.json() if code == 200 else None


def lines(path):
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(x) for x in f if x.strip()]


@pytest.fixture
def kv(active_server):
    srv, root, _ = active_server
    ok(srv.post("sys/mounts/secret", {"type": "kv-v2"}, token=root), 204)
    return srv, root


def test_entries_hide_secrets_and_hash_matches(kv, workdir):
    srv, root = kv
    log = os.path.join(workdir, "audit.log")
    ok(srv.put("sys/audit/file", {"type": "file", "description": "main",
                                  "options": {"file_path": log}},
               token=root), 204)
    devs = ok(srv.get("sys/audit", token=root))
    assert devs["data"]["file/"]["type"] == "file"
    assert devs["data"]["file/"]["options"]["file_path"] == log
    assert os.stat(log).st_mode & 0o777 == 0o600

    ok(srv.post("secret/data/app", {"data": {"password": SECRET}},
                token=root))
    got = ok(srv.get("secret/data/app", token=root))
    assert got["data"]["data"]["password"] == SECRET
    tok = ok(srv.post("auth/token/create", {"policies": ["default"]},
                      token=root))["auth"]["client_token"]

    with open(log) as f:
        raw = f.read()
    assert SECRET not in raw and root not in raw and tok not in raw
    es = lines(log)
    kinds = [(e["type"], e["request"]["path"]) for e in es]
    assert ("request", "secret/data/app") in kinds
    assert ("response", "secret/data/app") in kinds
    h = ok(srv.put("sys/audit-hash/file", {"input": SECRET},
                   token=root))["data"]["hash"]
    assert h.startswith("hmac-sha256:") and h in raw
    th = ok(srv.put("sys/audit-hash/file", {"input": root},
                    token=root))["data"]["hash"]
    req = [e for e in es if e["type"] == "request"
           and e["request"]["path"] == "secret/data/app"][0]
    assert req["auth"]["client_token"] == th
    assert req["request"]["client_token"] == th
    assert req["request"]["operation"] in ("create", "update")
    assert req["request"]["remote_address"] == "127.0.0.1"
    assert req["request"]["data"]["data"]["password"] == h
    resp = [e for e in es if e["type"] == "response"
            and e["request"]["path"] == "secret/data/app"
            and e["request"]["operation"] == "read"][0]
    assert resp["response"]["data"]["data"]["password"] == h
    created = [e for e in es if e["type"] == "response"
               and e["request"]["path"] == "auth/token/create"][0]
    assert created["response"]["auth"]["client_token"].startswith(
        "hmac-sha256:")


def test_management_rules(kv, workdir):
    srv, root = kv
    log = os.path.join(workdir, "a.log")
    for body, needle in (
            ({"type": "syslog"}, "type"),
            ({"type": "file"}, "file_path"),
            ({"type": "file", "options": {"file_path": log,
                                          "log_raw": "true"}}, "log_raw"),
            ({"type": "file", "options": {"file_path": log,
                                          "format": "jsonx"}}, "json"),
            ({"type": "file", "options": {"file_path": "/nonexistent/x"}},
             "unable to open")):
        b = srv.put("sys/audit/bad", body, token=root)
        assert b.status_code == 400 and needle in b.json()["errors"][0], \
            (body, b.text)
    ok(srv.put("sys/audit/one", {"type": "file",
                                 "options": {"file_path": log}}, token=root),
       204)
    b = srv.put("sys/audit/one", {"type": "file",
                                  "options": {"file_path": log}}, token=root)
    assert b.status_code == 400 and "in use" in b.text
    # sudo needed
    pol = 'path "sys/audit*" { capabilities = ["create", "update", "read", ' \
          '"delete", "list"] }\n'
    ok(srv.put("sys/policies/acl/aud", {"policy": pol}, token=root), 204)
    t = ok(srv.post("auth/token/create", {"policies": ["aud"]},
                    token=root))["auth"]["client_token"]
    assert srv.get("sys/audit", token=t).status_code == 403
    assert srv.put("sys/audit/two", {"type": "file", "options": {
        "file_path": log}}, token=t).status_code == 403
    assert srv.req("DELETE", "sys/audit/one", token=t).status_code == 403
    # unknown device for audit-hash
    b = srv.put("sys/audit-hash/nope", {"input": "x"}, token=root)
    assert b.status_code == 400
    # disable stops the logging; disabling again is fine
    ok(srv.req("DELETE", "sys/audit/one", token=root), 204)
    n = len(lines(log))
    ok(srv.get("sys/health"))
    ok(srv.get("secret/config", token=root))
    assert len(lines(log)) == n
    ok(srv.req("DELETE", "sys/audit/one", token=root), 204)
    assert ok(srv.get("sys/audit", token=root))["data"] == {}


def test_no_device_can_log_means_no_request(kv, workdir):
    srv, root = kv
    d = os.path.join(workdir, "logs")
    os.mkdir(d)
    log = os.path.join(d, "audit.log")
    ok(srv.put("sys/audit/file", {"type": "file",
                                  "options": {"file_path": log}},
               token=root), 204)
    ok(srv.post("secret/data/app", {"data": {"v": "1"}}, token=root))
    # log rotation gone wrong: the directory disappears, SIGHUP reopens
    os.rename(d, d + ".old")
    os.kill(srv.proc.pid, signal.SIGHUP)
    time.sleep(0.5)
    b = srv.post("secret/data/app", {"data": {"v": "2"}}, token=root)
    assert b.status_code == 500 and "audit" in b.json()["errors"][0]
    assert srv.get("secret/data/app", token=root).status_code == 500
    # the directory comes back: requests work again, and the write that
    # could not be audited was never made
    os.rename(d + ".old", d)
    os.kill(srv.proc.pid, signal.SIGHUP)
    time.sleep(0.5)
    got = ok(srv.get("secret/data/app", token=root))["data"]
    assert got["data"] == {"v": "1"} and got["metadata"]["version"] == 1
    # a second device that works is enough
    log2 = os.path.join(workdir, "second.log")
    ok(srv.put("sys/audit/second", {"type": "file",
                                    "options": {"file_path": log2}},
               token=root), 204)
    os.rename(d, d + ".old")
    os.kill(srv.proc.pid, signal.SIGHUP)
    time.sleep(0.5)
    ok(srv.get("secret/data/app", token=root))
    assert any(e["request"]["path"] == "secret/data/app" for e in lines(log2))


def test_devices_survive_a_restart(kv, workdir):
    srv, root = kv
    log = os.path.join(workdir, "audit.log")
    ok(srv.put("sys/audit/file", {"type": "file",
                                  "options": {"file_path": log,
                                              "prefix": "COFFER "}},
               token=root), 204)
    h1 = ok(srv.put("sys/audit-hash/file", {"input": "x"},
                    token=root))["data"]["hash"]
    srv.restart()
    assert "file/" in ok(srv.get("sys/audit", token=root))["data"]
    # the same key on the token: the same hash
    assert ok(srv.put("sys/audit-hash/file", {"input": "x"},
                      token=root))["data"]["hash"] == h1
    ok(srv.get("secret/config", token=root))
    with open(log) as f:
        last = f.read().splitlines()[-1]
    assert last.startswith("COFFER {")
    assert json.loads(last[len("COFFER "):])["request"]["path"] == \
        "secret/config"


def test_hvac_audit_api(kv, workdir):
    """hvac's sys audit calls work unchanged."""
    import hvac

    srv, root = kv
    c = hvac.Client(url=srv.addr, token=root)
    log = os.path.join(workdir, "hvac.log")
    c.sys.enable_audit_device("file", description="via hvac",
                              options={"file_path": log}, path="hv")
    assert "hv/" in c.sys.list_enabled_audit_devices()["data"]
    h = c.sys.calculate_hash("hv", SECRET)["data"]["hash"]
    c.secrets.kv.v2.create_or_update_secret("x", {"p": SECRET})
    with open(log) as f:
        raw = f.read()
    assert h in raw and SECRET not in raw
    c.sys.disable_audit_device("hv")
    assert "hv/" not in c.sys.list_enabled_audit_devices()["data"]


def test_refused_requests_are_logged(kv, workdir):
    """Vault logs denied requests too: an attacker's probing shows in the
    log, with the token tried (hashed) and the error."""
    srv, root = kv
    log = os.path.join(workdir, "audit.log")
    ok(srv.put("sys/audit/file", {"type": "file",
                                  "options": {"file_path": log}},
               token=root), 204)
    bogus = "hvs.this-token-does-not-exist-0123456789"
    assert srv.get("secret/data/app", token=bogus).status_code == 403
    t = ok(srv.post("auth/token/create", {"policies": ["default"]},
                    token=root))["auth"]["client_token"]
    assert srv.get("sys/audit", token=t).status_code == 403
    with open(log) as f:
        raw = f.read()
    assert bogus not in raw and t not in raw
    es = lines(log)
    hb = ok(srv.put("sys/audit-hash/file", {"input": bogus},
                    token=root))["data"]["hash"]
    probe = [e for e in es if e["request"]["path"] == "secret/data/app"]
    assert [e["type"] for e in probe] == ["request", "response"]
    assert probe[0]["request"]["client_token"] == hb
    assert probe[1]["error"] == "permission denied"
    denied = [e for e in es if e["request"]["path"] == "sys/audit"
              and e["type"] == "response"]
    assert denied and denied[-1]["error"] == "permission denied"
    assert denied[-1]["auth"]["policies"] == ["default"]


def test_seal_is_audited(kv, workdir):
    srv, root = kv
    log = os.path.join(workdir, "audit.log")
    ok(srv.put("sys/audit/file", {"type": "file",
                                  "options": {"file_path": log}},
               token=root), 204)
    ok(srv.put("sys/seal", token=root), 204)
    assert any(e["request"]["path"] == "sys/seal" and e["type"] == "request"
               for e in lines(log))
