"""ACL policies through the API: the policy store (sys/policies/acl and
the legacy sys/policy), every request of a non-root token checked
against its policies, sudo paths, capabilities, and a policy matrix from
Vault's documented examples."""
import hvac
import pytest

import coffer_harness as ch


@pytest.fixture
def srv(active_server):
    s, root, _ = active_server
    c = hvac.Client(url=s.addr, token=root)
    assert ch.try_enable_kv(s, root, mount="secret")
    return s, root, c


def token_with(c, *policies, **kw):
    return c.auth.token.create(policies=list(policies),
                               **kw)["auth"]["client_token"]


def test_policy_crud(srv):
    s, root, c = srv
    c.sys.create_or_update_policy("reader", 'path "secret/data/*" '
                                  '{ capabilities = ["read"] }')
    r = c.sys.read_policy("reader")
    assert 'secret/data/*' in r["data"]["rules"]
    assert "reader" in c.sys.list_policies()["data"]["policies"]
    r = s.get("sys/policies/acl/reader", token=root).json()["data"]
    assert r["name"] == "reader" and "capabilities" in r["policy"]
    keys = s.req("LIST", "sys/policies/acl", token=root).json()["data"]
    assert {"default", "root", "reader"} <= set(keys["keys"])
    # JSON syntax, and names are case-insensitive
    r = s.put("sys/policies/acl/JSONPOL",
              {"policy": '{"path": {"a/*": {"capabilities": ["list"]}}}'},
              token=root)
    assert r.status_code == 204, r.text
    assert s.get("sys/policies/acl/jsonpol", token=root).status_code == 200
    c.sys.delete_policy("reader")
    assert s.get("sys/policies/acl/reader", token=root).status_code == 404
    # the default policy exists, root cannot change, neither can be deleted
    assert s.get("sys/policies/acl/default", token=root).status_code == 200
    for name in ("root", "default"):
        r = s.req("DELETE", "sys/policies/acl/" + name, token=root)
        assert r.status_code == 400, name
    r = s.put("sys/policies/acl/root", {"policy": 'path "a" {}'},
              token=root)
    assert r.status_code == 400


@pytest.mark.parametrize("text,needle", [
    ('path "a" { capabilities = ["fly"] }', "capability"),
    ('path "a" { capabilities = "read" }', "capabilities"),
    ('path "a" { bogus = 1 }', "bogus"),
    ('path "a" {', "line"),
    ("", "policy"),
])
def test_bad_policy_is_400(srv, text, needle):
    s, root, _ = srv
    r = s.put("sys/policies/acl/bad", {"policy": text}, token=root)
    assert r.status_code == 400, r.text
    assert needle in r.text


def test_requests_are_checked_against_policies(srv):
    s, root, c = srv
    assert s.post("secret/data/app/db", {"data": {"pw": "x"}},
                  token=root).status_code == 200
    assert s.post("secret/data/other", {"data": {"v": "1"}},
                  token=root).status_code == 200
    c.sys.create_or_update_policy("app", """
path "secret/data/app/*" { capabilities = ["read", "update", "create"] }
path "secret/metadata/app/*" { capabilities = ["list"] }
path "secret/data/app/locked" { capabilities = ["deny"] }
""")
    t = token_with(c, "app")
    assert s.get("secret/data/app/db", token=t).status_code == 200
    assert s.post("secret/data/app/new", {"data": {"a": "b"}},
                  token=t).status_code == 200
    assert s.get("secret/data/other", token=t).status_code == 403
    assert s.req("DELETE", "secret/data/app/db", token=t).status_code == 403
    assert s.get("secret/data/app/locked", token=t).status_code == 403
    assert s.get("sys/mounts", token=t).status_code == 403
    # default policy: self-service and cubbyhole
    assert s.lookup_self(t).status_code == 200
    assert s.post("cubbyhole/x", {"a": "b"}, token=t).status_code == 204
    # a policy change takes effect on the next request
    c.sys.create_or_update_policy("app", 'path "secret/data/other" '
                                  '{ capabilities = ["read"] }')
    assert s.get("secret/data/other", token=t).status_code == 200
    assert s.get("secret/data/app/db", token=t).status_code == 403


def test_sudo_paths(srv):
    s, root, c = srv
    c.sys.create_or_update_policy("ops", """
path "sys/auth/*" { capabilities = ["create", "update", "read"] }
path "sys/mounts/*" { capabilities = ["create", "update", "read"] }
""")
    c.sys.create_or_update_policy("ops-sudo", """
path "sys/auth/*" { capabilities = ["create", "update", "read", "sudo"] }
""")
    plain, sudo = token_with(c, "ops"), token_with(c, "ops-sudo")
    # sys/auth/* is root-protected; sys/mounts/* is not
    r = s.post("sys/auth/up", {"type": "userpass"}, token=plain)
    assert r.status_code == 403
    assert s.post("sys/auth/up", {"type": "userpass"},
                  token=sudo).status_code == 204
    assert s.post("sys/mounts/kvx", {"type": "kv"},
                  token=plain).status_code == 204


def test_child_tokens_and_tree_revocation(srv):
    s, root, c = srv
    c.sys.create_or_update_policy("maker", """
path "auth/token/create" { capabilities = ["update"] }
path "secret/data/*" { capabilities = ["read"] }
""")
    parent = token_with(c, "maker")
    pc = hvac.Client(url=s.addr, token=parent)
    child = pc.auth.token.create(policies=["maker"])["auth"]["client_token"]
    grand = hvac.Client(url=s.addr, token=child).auth.token.create(
        policies=["maker"])["auth"]["client_token"]
    # a child may not get policies its parent lacks
    r = s.post("auth/token/create", {"policies": ["root"]}, token=parent)
    assert r.status_code in (400, 403)
    r = s.post("auth/token/create", {"policies": ["other"]}, token=parent)
    assert r.status_code == 403
    c.auth.token.revoke(parent)
    for t in (parent, child, grand):
        assert s.lookup_self(t).status_code == 403


def test_capabilities(srv):
    s, root, c = srv
    c.sys.create_or_update_policy("caps", """
path "secret/data/a/*" { capabilities = ["read", "list"] }
path "secret/data/a/x" { capabilities = ["deny"] }
""")
    t = token_with(c, "caps")
    tc = hvac.Client(url=s.addr, token=t)
    r = s.post("sys/capabilities-self",
               {"paths": ["secret/data/a/b", "secret/data/a/x", "nope"]},
               token=t).json()["data"]
    assert r["secret/data/a/b"] == ["list", "read"]
    assert r["secret/data/a/x"] == ["deny"]
    assert r["nope"] == ["deny"]
    r = s.post("sys/capabilities", {"token": t, "path": "secret/data/a/b"},
               token=root).json()
    assert r["capabilities"] == ["list", "read"]
    acc = tc.auth.token.lookup_self()["data"]["accessor"]
    r = s.post("sys/capabilities-accessor",
               {"accessor": acc, "paths": ["secret/data/a/b"]},
               token=root).json()["data"]
    assert r["secret/data/a/b"] == ["list", "read"]
    r = s.post("sys/capabilities-self", {"paths": ["x"]},
               token=root).json()["data"]
    assert r["x"] == ["root"]


# (rules, method, path, body, allowed) from Vault's policy documentation.
MATRIX = [
    ('path "secret/foo" { capabilities = ["read"] }',
     "GET", "secret/foo", None, True),
    ('path "secret/foo" { capabilities = ["read"] }',
     "GET", "secret/foo/bar", None, False),
    ('path "secret/*" { capabilities = ["read"] }',
     "GET", "secret/foo/bar", None, True),
    ('path "secret/+/teamb" { capabilities = ["read"] }',
     "GET", "secret/x/teamb", None, True),
    ('path "secret/+/teamb" { capabilities = ["read"] }',
     "GET", "secret/x/y/teamb", None, False),
    # most specific wins: the exact rule beats the glob
    ('path "secret/*" { capabilities = ["read"] }\n'
     'path "secret/super" { capabilities = ["deny"] }',
     "GET", "secret/super", None, False),
    ('path "secret/*" { capabilities = ["deny"] }\n'
     'path "secret/ok" { capabilities = ["read"] }',
     "GET", "secret/ok", None, True),
    # parameters
    ('path "secret/p" { capabilities = ["update"]\n'
     '  allowed_parameters = { "a" = [] } }',
     "POST", "secret/p", {"a": "1"}, True),
    ('path "secret/p" { capabilities = ["update"]\n'
     '  allowed_parameters = { "a" = [] } }',
     "POST", "secret/p", {"b": "1"}, False),
    ('path "secret/p" { capabilities = ["update"]\n'
     '  denied_parameters = { "b" = [] } }',
     "POST", "secret/p", {"b": "1"}, False),
    ('path "secret/p" { capabilities = ["update"]\n'
     '  required_parameters = ["r"] }',
     "POST", "secret/p", {"a": "1"}, False),
    ('path "secret/p" { capabilities = ["update"]\n'
     '  allowed_parameters = { "a" = ["x", "y*"] } }',
     "POST", "secret/p", {"a": "yes"}, True),
    ('path "secret/p" { capabilities = ["update"]\n'
     '  allowed_parameters = { "a" = ["x", "y*"] } }',
     "POST", "secret/p", {"a": "no"}, False),
    # LIST needs list; a deny on the folder cannot be bypassed by LIST
    ('path "secret/d/*" { capabilities = ["list"] }',
     "LIST", "secret/d/", None, True),
    ('path "secret/d" { capabilities = ["deny"] }\n'
     'path "secret/*" { capabilities = ["list"] }',
     "LIST", "secret/d/", None, False),
]


@pytest.mark.parametrize("rules,method,path,body,allowed", MATRIX)
def test_policy_matrix(active_server, rules, method, path, body, allowed):
    s, root, _ = active_server
    c = hvac.Client(url=s.addr, token=root)
    c.sys.enable_secrets_engine("kv", path="secret",
                                options={"version": "1"})
    for p in ("secret/foo", "secret/foo/bar", "secret/x/teamb",
              "secret/x/y/teamb", "secret/super", "secret/ok",
              "secret/d/e", "secret/p"):
        assert s.post(p, {"v": "1"}, token=root).status_code == 204
    c.sys.create_or_update_policy("m", rules)
    t = token_with(c, "m")
    r = s.req(method, path, token=t, json_body=body)
    if allowed:
        assert r.status_code in (200, 204), (rules, path, r.text)
    else:
        assert r.status_code == 403, (rules, path, r.text)


def test_create_versus_update(srv):
    """A write to something that does not exist is a "create" (Vault's
    existence check): KV v2 data, and transit's encrypt upsert."""
    s, root, c = srv
    c.sys.create_or_update_policy("create-only", """
path "secret/data/new/*" { capabilities = ["create"] }
path "transit/encrypt/*" { capabilities = ["update"] }
path "transit/keys/*" { capabilities = ["create"] }
""")
    t = token_with(c, "create-only")
    assert s.post("secret/data/new/a", {"data": {"v": "1"}},
                  token=t).status_code == 200
    # the same path again is an update: refused
    assert s.post("secret/data/new/a", {"data": {"v": "2"}},
                  token=t).status_code == 403
    c.sys.enable_secrets_engine("transit")
    assert s.post("transit/keys/k1", {}, token=t).status_code in (200, 204)
    assert s.post("transit/keys/k1", {"type": "aes256-gcm96"},
                  token=t).status_code == 403     # exists: update
    pt = "aGVsbG8="
    assert s.post("transit/encrypt/k1", {"plaintext": pt},
                  token=t).status_code == 200     # existing key: update
    # upsert of a missing key needs create, which this token lacks there
    assert s.post("transit/encrypt/k2", {"plaintext": pt},
                  token=t).status_code == 403
