"""The AppRole auth method: roles, role_id, secret_ids (TTL, num_uses,
accessors) and login, against a real token and SQLite file."""
import concurrent.futures
import time

import hvac
import pytest

import coffer_harness as ch


@pytest.fixture
def srv(active_server):
    s, root, _ = active_server
    c = hvac.Client(url=s.addr, token=root)
    c.sys.enable_auth_method("approle")
    return s, root, c


def test_role_secret_login(srv):
    s, root, c = srv
    c.auth.approle.create_or_update_approle(
        "ci", token_policies=["deploy"], token_ttl="20m",
        secret_id_ttl="10m")
    r = c.auth.approle.read_role("ci")["data"]
    assert r["token_policies"] == ["deploy"] and r["token_ttl"] == 1200
    assert r["secret_id_ttl"] == 600 and r["bind_secret_id"] is True
    assert c.auth.approle.list_roles()["data"]["keys"] == ["ci"]

    role_id = c.auth.approle.read_role_id("ci")["data"]["role_id"]
    sec = c.auth.approle.generate_secret_id(
        "ci", metadata={"pipeline": "p-1"})["data"]
    assert sec["secret_id_ttl"] == 600

    anon = hvac.Client(url=s.addr)
    a = anon.auth.approle.login(role_id, sec["secret_id"])["auth"]
    assert a["policies"] == ["default", "deploy"]
    assert a["metadata"] == {"pipeline": "p-1", "role_name": "ci"}
    assert 1190 <= a["lease_duration"] <= 1200

    info = c.auth.approle.read_secret_id("ci", sec["secret_id"])["data"]
    assert info["secret_id_accessor"] == sec["secret_id_accessor"]
    assert info["metadata"] == {"pipeline": "p-1"}
    acc = c.auth.approle.list_secret_id_accessors("ci")["data"]["keys"]
    assert acc == [sec["secret_id_accessor"]]

    # neither the secret_id nor the role_id is in the file
    raw = ch.storage_bytes(s.db_path)
    for secret in (sec["secret_id"], role_id):
        for enc in ch.encodings(secret):
            assert enc not in raw

    c.auth.approle.destroy_secret_id_accessor("ci",
                                              sec["secret_id_accessor"])
    r = s.post("auth/approle/login", {"role_id": role_id,
                                      "secret_id": sec["secret_id"]})
    assert r.status_code == 400
    assert r.json()["errors"] == ["invalid role or secret ID"]


def test_secret_id_num_uses_once_under_concurrency(srv):
    s, root, c = srv
    c.auth.approle.create_or_update_approle("once", token_policies=["x"],
                                            secret_id_num_uses=1)
    role_id = c.auth.approle.read_role_id("once")["data"]["role_id"]
    sid = c.auth.approle.generate_secret_id("once")["data"]["secret_id"]

    def login(_):
        return s.post("auth/approle/login", {"role_id": role_id,
                                             "secret_id": sid}).status_code

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        codes = list(pool.map(login, range(8)))
    assert codes.count(200) == 1 and codes.count(400) == 7, codes


def test_secret_id_ttl_and_custom_ids(srv):
    s, root, c = srv
    c.auth.approle.create_or_update_approle("short", secret_id_ttl="1s")
    c.auth.approle.update_role_id("short", "my-role-id")
    assert c.auth.approle.read_role_id("short")["data"]["role_id"] == \
        "my-role-id"
    sid = c.auth.approle.create_custom_secret_id(
        "short", "my-secret-id-123")["data"]["secret_id"]
    assert sid == "my-secret-id-123"
    time.sleep(1.2)
    r = s.post("auth/approle/login", {"role_id": "my-role-id",
                                      "secret_id": sid})
    assert r.status_code == 400

    c.auth.approle.create_or_update_approle("other")
    r = s.post("auth/approle/role/other/role-id",
               {"role_id": "my-role-id"}, token=root)
    assert r.status_code == 400 and "in use" in r.text

    c.auth.approle.delete_role("short")
    assert s.get("auth/approle/role/short", token=root).status_code == 404
    r = s.post("auth/approle/login", {"role_id": "my-role-id",
                                      "secret_id": sid})
    assert r.status_code == 400


@pytest.mark.parametrize("path,body,needle", [
    ("auth/approle/role/r", {"secret_id_num_uses": -1},
     "secret_id_num_uses"),
    ("auth/approle/role/r", {"bind_secret_id": False}, "bind_secret_id"),
    ("auth/approle/role/r", {"token_ttl": "x"}, "token_ttl"),
    ("auth/approle/role/nope/secret-id", {}, "does not exist"),
    ("auth/approle/login", {"role_id": "x"}, "secret_id"),
    ("auth/approle/login", {"secret_id": "x"}, "role_id"),
])
def test_bad_input_is_400(srv, path, body, needle):
    s, root, _ = srv
    r = s.post(path, body, token=root)
    assert r.status_code == 400, (path, r.text)
    assert needle in r.text
