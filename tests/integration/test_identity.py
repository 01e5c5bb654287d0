"""Identity: entities and aliases made on login, groups carrying
policies, templated policies, disabled entities, and the identity/ API."""
import hvac
import pytest

import coffer_harness as ch


@pytest.fixture
def srv(active_server):
    s, root, _ = active_server
    c = hvac.Client(url=s.addr, token=root)
    assert ch.try_enable_kv(s, root, mount="secret")
    c.sys.enable_auth_method("userpass")
    for user in ("alice", "bob"):
        c.auth.userpass.create_or_update_user(user, password="pw-" + user)
    return s, root, c


def login(s, user):
    return hvac.Client(url=s.addr).auth.userpass.login(
        user, "pw-" + user)["auth"]


def accessor_of(c, path):
    return c.sys.list_auth_methods()["data"][path]["accessor"]


def test_login_creates_entity_and_alias(srv):
    s, root, c = srv
    a = login(s, "alice")
    eid = a["entity_id"]
    assert eid
    assert s.lookup_self(a["client_token"]).json()["data"]["entity_id"] == \
        eid
    e = c.secrets.identity.read_entity(eid)["data"]
    acc = accessor_of(c, "userpass/")
    assert [(x["name"], x["mount_accessor"]) for x in e["aliases"]] == \
        [("alice", acc)]
    # the second login finds the same entity
    assert login(s, "alice")["entity_id"] == eid
    assert login(s, "bob")["entity_id"] != eid
    r = s.post("identity/lookup/entity",
               {"alias_name": "alice", "alias_mount_accessor": acc},
               token=root)
    assert r.json()["data"]["id"] == eid


def test_group_policies_apply(srv):
    s, root, c = srv
    assert s.post("secret/data/team/x", {"data": {"v": "1"}},
                  token=root).status_code == 200
    c.sys.create_or_update_policy("team-read", 'path "secret/data/team/*" '
                                  '{ capabilities = ["read"] }')
    a = login(s, "alice")
    assert s.get("secret/data/team/x", token=a["client_token"]) \
        .status_code == 403
    g = c.secrets.identity.create_or_update_group(
        "team", policies=["team-read"], member_entity_ids=[a["entity_id"]])
    gid = g["data"]["id"]
    assert s.get("secret/data/team/x", token=a["client_token"]) \
        .status_code == 200
    b = login(s, "bob")
    assert s.get("secret/data/team/x", token=b["client_token"]) \
        .status_code == 403
    assert c.secrets.identity.read_group(gid)["data"]["name"] == "team"
    e = c.secrets.identity.read_entity(a["entity_id"])["data"]
    assert e["group_ids"] == [gid]


def test_templated_policy(srv):
    s, root, c = srv
    c.sys.create_or_update_policy("own", """
path "secret/data/users/{{identity.entity.name}}/*" {
  capabilities = ["create", "update", "read"]
}
path "secret/data/by-meta/{{identity.entity.metadata.team}}/*" {
  capabilities = ["read"]
}
""")
    a = login(s, "alice")
    c.secrets.identity.update_entity(a["entity_id"], name="alice-e",
                                     policies=["own"],
                                     metadata={"team": "red"})
    t = a["client_token"]
    assert s.post("secret/data/users/alice-e/k", {"data": {"v": "1"}},
                  token=t).status_code == 200
    assert s.get("secret/data/users/bob/k", token=t).status_code == 403
    assert s.post("secret/data/by-meta/red/x", {"data": {"v": "1"}},
                  token=root).status_code == 200
    assert s.get("secret/data/by-meta/red/x", token=t).status_code == 200
    assert s.get("secret/data/by-meta/blue/x", token=t).status_code == 403


def test_disabled_entity(srv):
    s, root, c = srv
    a = login(s, "alice")
    c.secrets.identity.update_entity(a["entity_id"], disabled=True)
    assert s.lookup_self(a["client_token"]).status_code == 403
    r = s.post("auth/userpass/login/alice", {"password": "pw-alice"})
    assert r.status_code == 400
    c.secrets.identity.update_entity(a["entity_id"], disabled=False)
    assert s.lookup_self(a["client_token"]).status_code == 200


def test_identity_crud(srv):
    s, root, c = srv
    e = c.secrets.identity.create_or_update_entity(
        name="svc", metadata={"k": "v"}, policies=["p"])["data"]
    assert e["name"] == "svc"
    r = c.secrets.identity.read_entity_by_name("svc")["data"]
    assert r["metadata"] == {"k": "v"} and r["policies"] == ["p"]
    acc = accessor_of(c, "userpass/")
    al = c.secrets.identity.create_or_update_entity_alias(
        name="carol", canonical_id=e["id"], mount_accessor=acc)["data"]
    # carol's login now lands on svc
    c.auth.userpass.create_or_update_user("carol", password="pw-carol")
    assert login(s, "carol")["entity_id"] == e["id"]
    r = s.post("identity/entity-alias",
               {"name": "carol", "canonical_id": e["id"],
                "mount_accessor": acc}, token=root)
    assert r.status_code == 400
    ids = s.req("LIST", "identity/entity/id", token=root).json()
    assert e["id"] in ids["data"]["keys"]
    c.secrets.identity.delete_entity_alias(al["id"])
    c.secrets.identity.delete_entity(e["id"])
    assert s.get("identity/entity/id/" + e["id"], token=root) \
        .status_code == 404
    r = s.post("identity/group", {"name": "g", "type": "external"},
               token=root)
    assert r.status_code == 400
    r = s.post("identity/group", {"name": "g",
                                  "member_entity_ids": ["nope"]},
               token=root)
    assert r.status_code == 400 and "nope" in r.text
