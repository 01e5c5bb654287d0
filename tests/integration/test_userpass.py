"""sys/auth and the userpass auth method: users CRUD, login, the token it
issues, failed logins, and passwords never stored in the clear."""
import statistics
import time

import hvac
import pytest

import coffer_harness as ch


@pytest.fixture
def srv(active_server):
    s, root, _ = active_server
    c = hvac.Client(url=s.addr, token=root)
    c.sys.enable_auth_method("userpass", description="people")
    return s, root, c


def test_enable_list_tune_disable(srv):
    s, root, c = srv
    auths = c.sys.list_auth_methods()["data"]
    assert auths["userpass/"]["type"] == "userpass"
    assert auths["token/"]["type"] == "token"
    c.sys.tune_auth_method("userpass", default_lease_ttl="2h")
    t = c.sys.read_auth_method_tuning("userpass")["data"]
    assert t["default_lease_ttl"] == 7200
    # kv is not an auth method, userpass is not a secrets engine
    r = s.post("sys/auth/x", {"type": "kv"}, token=root)
    assert r.status_code == 400 and "not an auth method" in r.text
    r = s.post("sys/mounts/x", {"type": "userpass"}, token=root)
    assert r.status_code == 400 and "auth method" in r.text
    # token/ is required
    assert s.req("DELETE", "sys/auth/token", token=root).status_code == 400
    c.sys.disable_auth_method("userpass")
    assert "userpass/" not in c.sys.list_auth_methods()["data"]


def test_users_and_login(srv):
    s, root, c = srv
    c.auth.userpass.create_or_update_user(
        "Alice", password="s3cret-PASSWORD-91", policies=["dev", "ops"],
        token_ttl="30m")
    u = c.auth.userpass.read_user("alice")["data"]
    assert u["token_policies"] == ["dev", "ops"]
    assert u["token_ttl"] == 1800
    assert "password" not in str(u)
    assert c.auth.userpass.list_user()["data"]["keys"] == ["alice"]

    anon = hvac.Client(url=s.addr)
    a = anon.auth.userpass.login("alice", "s3cret-PASSWORD-91")["auth"]
    assert a["policies"] == ["default", "dev", "ops"]
    assert a["metadata"] == {"username": "alice"}
    assert 1790 <= a["lease_duration"] <= 1800
    assert a["orphan"] is True and a["renewable"] is True
    me = s.lookup_self(a["client_token"]).json()["data"]
    assert me["path"] == "auth/userpass/login/alice"
    assert me["display_name"] == "userpass-alice"

    c.auth.userpass.update_password_on_user("alice", "new-pass-22")
    with pytest.raises(hvac.exceptions.InvalidRequest):
        anon.auth.userpass.login("alice", "s3cret-PASSWORD-91")
    anon.auth.userpass.login("alice", "new-pass-22")

    raw = ch.storage_bytes(s.db_path)
    logs = s.all_logs()
    for pw in ("s3cret-PASSWORD-91", "new-pass-22", a["client_token"]):
        for enc in ch.encodings(pw):
            assert enc not in raw
        assert pw not in logs

    c.auth.userpass.delete_user("alice")
    r = s.post("auth/userpass/login/alice", {"password": "new-pass-22"})
    assert r.status_code == 400


def test_failed_logins_look_the_same(srv):
    s, root, c = srv
    c.auth.userpass.create_or_update_user("bob", password="right")
    bodies = set()
    times = {"known": [], "unknown": []}
    for i in range(6):
        for who, name in (("known", "bob"), ("unknown", "nobody%d" % i)):
            t0 = time.monotonic()
            r = s.post("auth/userpass/login/" + name, {"password": "wrong"})
            times[who].append(time.monotonic() - t0)
            assert r.status_code == 400
            bodies.add(r.text)
    assert len(bodies) == 1, bodies
    # Both pay for one scrypt; medians within a factor of two (loose on
    # purpose: this guards against skipping the hash, not microseconds).
    k, u = (statistics.median(times[w]) for w in ("known", "unknown"))
    assert u > k / 2 and k > u / 2, times


@pytest.mark.parametrize("body,needle", [
    ({}, "password"),
    ({"password": "x", "token_ttl": "soon"}, "token_ttl"),
    ({"password": "x", "token_policies": 3}, "token_policies"),
    ({"password": "x", "token_num_uses": -2}, "token_num_uses"),
    ({"password": "x", "token_type": "batch"}, "token_type"),
    ({"password": "x", "token_bound_cidrs": ["10.0.0.1/8"]},
     "token_bound_cidrs"),
    ({"password": "x", "token_bound_cidrs": "not-a-cidr"},
     "token_bound_cidrs"),
])
def test_bad_user_is_400(srv, body, needle):
    s, root, _ = srv
    r = s.post("auth/userpass/users/carol", body, token=root)
    assert r.status_code == 400, (body, r.text)
    assert needle in r.text


def test_login_needs_no_token_but_users_do(srv):
    s, root, c = srv
    c.auth.userpass.create_or_update_user("dave", password="pw")
    assert s.get("auth/userpass/users/dave").status_code == 403
    r = s.post("auth/userpass/login/dave", {"password": "pw"},
               token="hvs.garbage")
    assert r.status_code == 200
