"""Mount management through sys/mounts, sys/remount and the vault CLI's
preflight route, against a real token and SQLite file."""
import http.client

import hvac
import pytest

import coffer_harness as ch


@pytest.fixture
def srv(active_server):
    s, root, _ = active_server
    return s, root


def client(s, root):
    return hvac.Client(url=s.addr, token=root)


def mounts(s, root):
    r = s.get("sys/mounts", token=root)
    assert r.status_code == 200, r.text
    body = r.json()
    # Vault's legacy shape: the map both under data and at the top level.
    for k, v in body["data"].items():
        assert body[k] == v
    return body["data"]


def test_default_mounts(srv):
    s, root = srv
    m = mounts(s, root)
    assert m["sys/"]["type"] == "system"
    assert m["cubbyhole/"]["type"] == "cubbyhole"
    assert m["cubbyhole/"]["config"] == {"default_lease_ttl": 0,
                                         "max_lease_ttl": 0,
                                         "force_no_cache": False}
    r = s.get("sys/auth", token=root)
    assert r.json()["data"]["token/"]["type"] == "token"


def test_enable_read_tune_disable_with_hvac(srv):
    s, root = srv
    c = client(s, root)
    c.sys.enable_secrets_engine("kv", path="team-a", description="A",
                                config={"default_lease_ttl": "1h",
                                        "max_lease_ttl": 7200},
                                options={"version": "1"})
    m = mounts(s, root)["team-a/"]
    assert m["type"] == "kv" and m["description"] == "A"
    assert m["options"] == {"version": "1"}
    assert m["config"]["default_lease_ttl"] == 3600
    assert m["config"]["max_lease_ttl"] == 7200
    assert m["uuid"] and m["accessor"].startswith("kv_")

    tune = c.sys.read_mount_configuration("team-a")
    assert tune["data"]["default_lease_ttl"] == 3600
    assert tune["data"]["max_lease_ttl"] == 7200
    assert tune["default_lease_ttl"] == 3600      # also at the top level
    c.sys.tune_mount_configuration("team-a", default_lease_ttl="30m",
                                   description="B")
    tune = c.sys.read_mount_configuration("team-a")["data"]
    assert tune["default_lease_ttl"] == 1800 and tune["description"] == "B"

    r = s.get("sys/mounts/team-a", token=root)
    assert r.status_code == 200 and r.json()["data"]["type"] == "kv"

    # no KV version upgrade: refuse rather than hide the keys
    r = s.post("sys/mounts/team-a/tune", {"options": {"version": "2"}},
               token=root)
    assert r.status_code == 400 and "version" in r.text
    c.sys.disable_secrets_engine("team-a")
    assert "team-a/" not in mounts(s, root)
    # Disabling what is not there succeeds, as in Vault.
    assert s.req("DELETE", "sys/mounts/team-a", token=root).status_code == 204


def test_kv_v2_type_alias_and_preflight(srv):
    s, root = srv
    r = s.post("sys/mounts/apps/kv", {"type": "kv-v2"}, token=root)
    assert r.status_code == 204, r.text
    m = mounts(s, root)["apps/kv/"]
    assert m["type"] == "kv" and m["options"] == {"version": "2"}

    r = s.get("sys/internal/ui/mounts/apps/kv/some/secret", token=root)
    assert r.status_code == 200, r.text
    d = r.json()["data"]
    assert d["path"] == "apps/kv/" and d["type"] == "kv"
    assert d["options"]["version"] == "2"
    r = s.get("sys/internal/ui/mounts/nothing/here", token=root)
    assert r.status_code == 403

    r = s.get("sys/internal/ui/mounts", token=root)
    assert "apps/kv/" in r.json()["data"]["secret"]
    assert "token/" in r.json()["data"]["auth"]


def test_ui_mounts_show_a_token_only_what_its_acl_reaches(srv):
    """Vault's hasMountAccess: a mount is listed when some rule grants
    anything on it or below it (exact, prefix or '+' rules); deny-only
    rules do not count."""
    s, root = srv
    for path, typ in (("apps/kv", "kv-v2"), ("team-b", "kv"),
                      ("team-c", "kv"), ("hidden", "kv"),
                      ("denied", "kv")):
        r = s.post("sys/mounts/" + path, {"type": typ}, token=root)
        assert r.status_code == 204, r.text
    r = s.post("sys/auth/up", {"type": "userpass"}, token=root)
    assert r.status_code == 204, r.text
    pol = ('path "apps/kv/data/app1/*" { capabilities = ["read"] }\n'
           'path "team-b/*" { capabilities = ["list"] }\n'
           'path "+/secret/x" { capabilities = ["read"] }\n'
           'path "denied/*" { capabilities = ["deny"] }\n'
           'path "auth/up/login/*" { capabilities = ["update"] }\n')
    r = s.put("sys/policies/acl/ui", {"policy": pol}, token=root)
    assert r.status_code == 204, r.text
    r = s.post("auth/token/create", {"policies": ["ui"],
                                     "no_default_policy": True}, token=root)
    t = r.json()["auth"]["client_token"]

    r = s.get("sys/internal/ui/mounts", token=t)
    assert r.status_code == 200, r.text
    d = r.json()["data"]
    # "+/secret/x" could match under every one-segment mount
    assert {"apps/kv/", "team-b/", "team-c/", "hidden/"} <= set(d["secret"])
    assert set(d["auth"]) == {"up/"}
    assert s.get("sys/internal/ui/mounts/apps/kv/data/app1/x",
                 token=t).status_code == 200
    # without the "+" rule, team-c and hidden disappear
    pol2 = pol.replace('path "+/secret/x" { capabilities = ["read"] }\n', "")
    r = s.put("sys/policies/acl/ui", {"policy": pol2}, token=root)
    assert r.status_code == 204, r.text
    d = s.get("sys/internal/ui/mounts", token=t).json()["data"]
    assert set(d["secret"]) == {"apps/kv/", "team-b/"}   # deny-only: no
    for p in ("hidden/x", "denied/x", "sys/policies"):
        assert s.get("sys/internal/ui/mounts/" + p,
                     token=t).status_code == 403, p
    # root still sees all
    d = s.get("sys/internal/ui/mounts", token=root).json()["data"]
    assert {"hidden/", "denied/", "team-c/"} <= set(d["secret"])


@pytest.mark.parametrize("path,body,needle", [
    ("sys/mounts/sys/x", {"type": "kv"}, "reserved"),
    ("sys/mounts/cubbyhole", {"type": "kv"}, "reserved"),
    ("sys/mounts/identity", {"type": "kv"}, "reserved"),
    ("sys/mounts/auth/x", {"type": "kv"}, "not an auth method"),
    ("sys/mounts/x", {"type": "no-such-engine"}, "no-such-engine"),
    ("sys/mounts/x", {}, "type"),
    ("sys/mounts/x", {"type": 7}, "type"),
    ("sys/mounts/x", {"type": "kv", "options": "v2"}, "options"),
    ("sys/mounts/x", {"type": "kv", "options": {"version": "3"}}, "version"),
    ("sys/mounts/x", {"type": "kv", "config": []}, "config"),
    ("sys/mounts/x", {"type": "kv",
                      "config": {"default_lease_ttl": "soon"}},
     "default_lease_ttl"),
    ("sys/mounts/x", {"type": "kv",
                      "config": {"default_lease_ttl": "2h",
                                 "max_lease_ttl": "1h"}}, "max_lease_ttl"),
    ("sys/mounts/x", {"type": "kv",
                      "config": {"default_lease_ttl": -5}},
     "default_lease_ttl"),
])
def test_bad_enable_is_400(srv, path, body, needle):
    s, root = srv
    r = s.post(path, body, token=root)
    assert r.status_code == 400, (path, body, r.text)
    assert needle in r.json()["errors"][0], r.text


def test_overlapping_and_dotted_paths(srv):
    s, root = srv
    assert s.post("sys/mounts/a/b", {"type": "kv"},
                  token=root).status_code == 204
    for p in ("a/b", "a", "a/b/c", "/a/b/"):
        r = s.post("sys/mounts/" + p, {"type": "kv"}, token=root)
        assert r.status_code == 400, (p, r.text)
        assert "already in use" in r.text
    # Paths with dot segments never reach the mount table (http.client
    # sends the path as written; requests would resolve the dots itself).
    conn = http.client.HTTPConnection("127.0.0.1", s.port, timeout=30)
    conn.request("POST", "/v1/sys/mounts/x/../y", body='{"type":"kv"}',
                 headers={"X-Vault-Token": root})
    assert conn.getresponse().status == 400
    conn.close()
    m = mounts(s, root)
    assert "y/" not in m and "x/../y/" not in m


def test_required_mounts_stay(srv):
    s, root = srv
    for p in ("sys", "cubbyhole"):
        r = s.req("DELETE", "sys/mounts/" + p, token=root)
        assert r.status_code == 400, (p, r.text)
        r = s.post("sys/remount", {"from": p, "to": p + "2"}, token=root)
        assert r.status_code == 400, (p, r.text)


def test_remount_keeps_data_and_disable_removes_it(srv):
    s, root = srv
    c = client(s, root)
    if not ch.try_enable_kv(s, root, mount="old"):
        pytest.skip("no KV v2 engine yet")
    assert s.post("old/data/k", {"data": {"v": "1"}},
                  token=root).status_code == 200
    view = "logical/%s/" % mounts(s, root)["old/"]["uuid"]
    assert any(k.startswith(view) for k in ch.db_entries(s.db_path))

    r = s.post("sys/remount", {"from": "old", "to": "new/place"},
               token=root)
    assert r.status_code == 200, r.text
    mig = r.json()["data"]["migration_id"]
    st = s.get("sys/remount/status/" + mig, token=root).json()["data"]
    assert st["migration_info"]["status"] == "success"
    assert s.get("old/data/k", token=root).status_code in (403, 404)
    r = s.get("new/place/data/k", token=root)
    assert r.status_code == 200 and r.json()["data"]["data"] == {"v": "1"}

    # remount onto a taken path fails and changes nothing
    c.sys.enable_secrets_engine("kv", path="taken")
    r = s.post("sys/remount", {"from": "new/place", "to": "taken"},
               token=root)
    assert r.status_code == 400
    assert "new/place/" in mounts(s, root)

    # survives a restart
    s.restart()
    r = s.get("new/place/data/k", token=root)
    assert r.status_code == 200, r.text

    # disable deletes the mount's entries from the SQLite file
    c.sys.disable_secrets_engine("new/place")
    assert not any(k.startswith(view) for k in ch.db_entries(s.db_path))
