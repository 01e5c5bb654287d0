"""The token store through auth/token/: create, lookup, renew, revoke
(child trees and orphans), num_uses under concurrency, storage by HMAC."""
import concurrent.futures
import time

import hvac
import pytest

import coffer_harness as ch


@pytest.fixture
def srv(active_server):
    s, root, _ = active_server
    return s, root, hvac.Client(url=s.addr, token=root)


def new_token(c, **kw):
    return c.auth.token.create(**kw)["auth"]


def test_create_lookup_shapes(srv):
    s, root, c = srv
    a = new_token(c, policies=["b", "a"], ttl="1h", meta={"team": "x"},
                  display_name="ci")
    assert a["client_token"].startswith("hvs.")
    assert a["policies"] == ["a", "b", "default"]
    assert a["token_policies"] == a["policies"]
    assert a["metadata"] == {"team": "x"}
    assert 3590 <= a["lease_duration"] <= 3600
    assert a["renewable"] is True and a["orphan"] is False
    assert a["token_type"] == "service"

    d = c.auth.token.lookup(a["client_token"])["data"]
    assert d["accessor"] == a["accessor"]
    assert d["display_name"] == "token-ci"
    assert d["policies"] == ["a", "b", "default"]
    assert d["creation_ttl"] == 3600 and d["expire_time"]
    d2 = c.auth.token.lookup_accessor(a["accessor"])["data"]
    assert d2["accessor"] == a["accessor"] and d2["id"] == ""

    me = hvac.Client(url=s.addr, token=a["client_token"])
    assert me.auth.token.lookup_self()["data"]["id"] == a["client_token"]
    assert a["accessor"] in c.auth.token.list_accessors()["data"]["keys"]

    nd = new_token(c, policies=["p"], no_default_policy=True)
    assert nd["policies"] == ["p"]


def test_tokens_stored_only_as_hmac(srv):
    s, root, c = srv
    a = new_token(c, policies=["p"])
    raw = ch.storage_bytes(s.db_path)
    for secret in (a["client_token"], a["accessor"], root):
        for enc in ch.encodings(secret):
            assert enc not in raw
    for path in ch.db_entries(s.db_path):
        assert a["client_token"] not in path and a["accessor"] not in path
    # nor in the server's log, even at debug level for failed lookups
    assert s.lookup_self(a["client_token"] + "x").status_code == 403
    logs = s.all_logs()
    for secret in (a["client_token"], root):
        assert secret not in logs


def test_revoke_tree_and_orphans(srv):
    s, root, c = srv
    parent = new_token(c, policies=["p"])["client_token"]
    # The parent makes its own children; that needs a policy granting
    # auth/token/create, so this runs once ACL policies are wired in.
    pc = hvac.Client(url=s.addr, token=parent)
    child = None
    try:
        child = pc.auth.token.create(policies=["p"])["auth"]["client_token"]
    except hvac.exceptions.Forbidden:
        pytest.skip("non-root tokens cannot create children before ACLs")
    grandchild = hvac.Client(url=s.addr, token=child).auth.token.create(
        policies=["p"])["auth"]["client_token"]
    orphan = pc.auth.token.create_orphan(policies=["p"])["auth"]
    c.auth.token.revoke(parent)
    for t in (parent, child, grandchild):
        assert s.lookup_self(t).status_code == 403
    assert s.lookup_self(orphan["client_token"]).status_code == 200


def test_revoke_self_accessor_orphan(srv):
    s, root, c = srv
    a = new_token(c)
    hvac.Client(url=s.addr, token=a["client_token"]).auth.token.revoke_self()
    assert s.lookup_self(a["client_token"]).status_code == 403

    b = new_token(c)
    c.auth.token.revoke_accessor(b["accessor"])
    assert s.lookup_self(b["client_token"]).status_code == 403

    # Revoking something unknown succeeds, as in Vault.
    r = s.post("auth/token/revoke", {"token": "hvs.nope"}, token=root)
    assert r.status_code == 204
    r = s.post("auth/token/revoke", {}, token=root)
    assert r.status_code == 400

    o = new_token(c)
    r = s.post("auth/token/revoke-orphan", {"token": o["client_token"]},
               token=root)
    assert r.status_code == 204
    assert s.lookup_self(o["client_token"]).status_code == 403


def test_revoked_token_cubbyhole_is_purged(srv):
    s, root, c = srv
    a = new_token(c)
    me = hvac.Client(url=s.addr, token=a["client_token"])
    me.write("cubbyhole/k", v="1")
    before = len(ch.db_entries(s.db_path))
    c.auth.token.revoke(a["client_token"])
    after = ch.db_entries(s.db_path)
    # token entry, accessor index, root->child index and the cubbyhole
    # entry are gone
    assert len(after) <= before - 4


def test_renew_and_expiry(srv):
    s, root, c = srv
    a = new_token(c, ttl="2s", explicit_max_ttl="1h")
    r = c.auth.token.renew(a["client_token"], increment="30m")
    assert 1790 <= r["auth"]["lease_duration"] <= 1800
    r = c.auth.token.renew_accessor(a["accessor"], increment=60)
    assert 55 <= r["auth"]["lease_duration"] <= 60

    short = new_token(c, ttl="1s")
    time.sleep(2.1)
    assert s.lookup_self(short["client_token"]).status_code == 403
    d = s.post("auth/token/lookup", {"token": short["client_token"]},
               token=root)
    assert d.status_code == 400            # expired, cleaned up

    # tidy revokes expired tokens nobody looked up
    gone = new_token(c, ttl="1s")
    time.sleep(1.2)
    r = s.post("auth/token/tidy", {}, token=root)
    assert r.status_code == 202, r.text
    assert gone["accessor"] not in c.auth.token.list_accessors()[
        "data"]["keys"]

    nr = new_token(c, renewable=False)
    r = s.post("auth/token/renew", {"token": nr["client_token"]},
               token=root)
    assert r.status_code == 400 and "renewable" in r.text


def test_num_uses_exact_under_concurrency(srv):
    s, root, c = srv
    one = new_token(c, num_uses=1)["client_token"]

    def use(_):
        return s.lookup_self(one).status_code

    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        codes = list(pool.map(use, range(16)))
    assert codes.count(200) == 1, codes
    assert codes.count(403) == 15, codes

    three = new_token(c, num_uses=3)["client_token"]
    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        codes = list(pool.map(lambda _: s.lookup_self(three).status_code,
                              range(16)))
    assert codes.count(200) == 3, codes


@pytest.mark.parametrize("body,needle", [
    ({"policies": 5}, "policies"),
    ({"policies": [1]}, "policies"),
    ({"ttl": "forever"}, "ttl"),
    ({"num_uses": -1}, "num_uses"),
    ({"num_uses": "x"}, "num_uses"),
    ({"meta": {"a": 1}}, "meta"),
    ({"type": "batch"}, "type"),
    ({"renewable": "maybe"}, "renewable"),
])
def test_bad_create_is_400(srv, body, needle):
    s, root, _ = srv
    r = s.post("auth/token/create", body, token=root)
    assert r.status_code == 400, (body, r.text)
    assert needle in r.text


def test_default_policy_self_service_only(srv):
    s, root, c = srv
    a = new_token(c, policies=["nothing"])["client_token"]
    assert s.get("sys/mounts", token=a).status_code == 403
    assert s.post("auth/token/create", {}, token=a).status_code == 403
    assert s.post("auth/token/renew-self", {}, token=a).status_code == 200
    assert s.post("cubbyhole/x", {"a": "b"}, token=a).status_code == 204


def test_token_roles(srv):
    s, root, c = srv
    r = s.post("auth/token/roles/ci", {
        "allowed_policies": ["build", "deploy"],
        "disallowed_policies": ["admin"], "orphan": True,
        "token_period": "1h", "path_suffix": "v1"}, token=root)
    assert r.status_code == 204, r.text
    role = s.get("auth/token/roles/ci", token=root).json()["data"]
    assert role["allowed_policies"] == ["build", "deploy"]
    assert role["orphan"] is True and role["token_period"] == 3600
    assert s.req("LIST", "auth/token/roles", token=root).json()[
        "data"]["keys"] == ["ci"]

    # no policies asked: the role's allowed ones (+ default)
    a = s.post("auth/token/create/ci", {}, token=root).json()["auth"]
    assert a["policies"] == ["build", "default", "deploy"]
    assert a["orphan"] is True and 3590 <= a["lease_duration"] <= 3600
    d = s.lookup_self(a["client_token"]).json()["data"]
    assert d["path"] == "auth/token/create/ci/v1"
    # a subset is fine; anything else is refused
    a = s.post("auth/token/create/ci", {"policies": ["build"]},
               token=root).json()["auth"]
    assert a["policies"] == ["build", "default"]
    for pol in (["admin"], ["other"]):
        r = s.post("auth/token/create/ci", {"policies": pol}, token=root)
        assert r.status_code == 400, (pol, r.text)
    assert s.post("auth/token/create/nope", {}, token=root) \
        .status_code == 400
    assert s.req("DELETE", "auth/token/roles/ci", token=root) \
        .status_code == 204
    assert s.get("auth/token/roles/ci", token=root).status_code == 404


def test_expired_tokens_revoked_in_background(workdir, token):
    """The ticker revokes expired tokens nobody looks up (and their
    cubbyholes), as Vault's expiration manager does."""
    s = ch.Coffer(workdir, token, env={"COFFER_TICK_SECONDS": "1"}).start()
    root = s.init_pkcs11()["root_token"]
    c = hvac.Client(url=s.addr, token=root)
    short = new_token(c, ttl="1s")
    keep = new_token(c, ttl="1h")
    me = hvac.Client(url=s.addr, token=short["client_token"])
    me.write("cubbyhole/x", v="1")
    before = len(ch.db_entries(s.db_path))
    deadline = time.time() + 15
    while time.time() < deadline:
        keys = c.auth.token.list_accessors()["data"]["keys"]
        if short["accessor"] not in keys:
            break
        time.sleep(0.5)
    assert short["accessor"] not in keys
    assert keep["accessor"] in keys
    assert len(ch.db_entries(s.db_path)) <= before - 4
