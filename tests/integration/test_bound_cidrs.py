"""CIDR bindings: token_bound_cidrs on token roles and auth method roles,
AppRole's secret_id_bound_cidrs and per-secret-ID cidr_list and
token_bound_cidrs. The client side picks its source address on loopback
(127.0.0.1 or 127.0.0.2) to be inside or outside a block."""
import http.client
import json

import pytest

import coffer_harness as ch


def call(srv, method, path, body=None, token=None, source="127.0.0.1"):
    """One request from the given loopback source address."""
    c = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=30,
                                   source_address=(source, 0))
    h = {"Content-Type": "application/json"}
    if token:
        h["X-Vault-Token"] = token
    c.request(method, "/v1/" + path,
              body=json.dumps(body) if body is not None else None,
              headers=h)
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, (json.loads(data) if data else None)


def ok(res, code=200):
    status, body = res
    assert status == code, "%d %s" % (status, body)
    return body


@pytest.fixture
def srv(active_server):
    s, root, _ = active_server
    return s, root


def test_token_role_binds_tokens_to_blocks(srv):
    s, root = srv
    ok(call(s, "POST", "auth/token/roles/near",
            {"allowed_policies": ["default"],
             "token_bound_cidrs": ["127.0.0.2", "10.0.0.0/8"]},
            token=root), 204)
    role = ok(call(s, "GET", "auth/token/roles/near", token=root))
    assert role["data"]["token_bound_cidrs"] == ["127.0.0.2/32",
                                                 "10.0.0.0/8"]
    tok = ok(call(s, "POST", "auth/token/create/near", {},
                  token=root))["auth"]["client_token"]
    # from 127.0.0.1 the token is refused, from 127.0.0.2 it works
    assert call(s, "GET", "auth/token/lookup-self", token=tok)[0] == 403
    info = ok(call(s, "GET", "auth/token/lookup-self", token=tok,
                   source="127.0.0.2"))
    assert info["data"]["bound_cidrs"] == ["127.0.0.2/32", "10.0.0.0/8"]
    # bad blocks are a 400 naming the field
    for bad in (["127.0.0.1/8"], ["nonsense"], ["10.0.0.0/40"]):
        st, body = call(s, "POST", "auth/token/roles/bad",
                        {"token_bound_cidrs": bad}, token=root)
        assert st == 400 and "token_bound_cidrs" in body["errors"][0]


def test_userpass_login_tokens_carry_the_binding(srv):
    s, root = srv
    ok(call(s, "POST", "sys/auth/userpass", {"type": "userpass"},
            token=root), 204)
    ok(call(s, "POST", "auth/userpass/users/ann",
            {"password": "pw", "token_bound_cidrs": "127.0.0.2/32"},
            token=root), 204)
    u = ok(call(s, "GET", "auth/userpass/users/ann", token=root))
    assert u["data"]["token_bound_cidrs"] == ["127.0.0.2/32"]
    tok = ok(call(s, "POST", "auth/userpass/login/ann",
                  {"password": "pw"}))["auth"]["client_token"]
    assert call(s, "GET", "auth/token/lookup-self", token=tok)[0] == 403
    ok(call(s, "GET", "auth/token/lookup-self", token=tok,
            source="127.0.0.2"))
    # removing the binding from the user affects new tokens only
    ok(call(s, "POST", "auth/userpass/users/ann",
            {"token_bound_cidrs": []}, token=root), 204)
    tok2 = ok(call(s, "POST", "auth/userpass/login/ann",
                   {"password": "pw"}))["auth"]["client_token"]
    ok(call(s, "GET", "auth/token/lookup-self", token=tok2))
    assert call(s, "GET", "auth/token/lookup-self", token=tok)[0] == 403


def test_approle_secret_id_blocks(srv):
    s, root = srv
    ok(call(s, "POST", "sys/auth/approle", {"type": "approle"},
            token=root), 204)
    ok(call(s, "POST", "auth/approle/role/ci",
            {"secret_id_bound_cidrs": ["127.0.0.2/32"],
             "token_policies": ["default"]}, token=root), 204)
    rid = ok(call(s, "GET", "auth/approle/role/ci/role-id",
                  token=root))["data"]["role_id"]
    sid = ok(call(s, "POST", "auth/approle/role/ci/secret-id", {},
                  token=root))["data"]["secret_id"]
    st, body = call(s, "POST", "auth/approle/login",
                    {"role_id": rid, "secret_id": sid})
    assert st == 400 and "CIDR" in body["errors"][0] \
        and "role" in body["errors"][0]
    ok(call(s, "POST", "auth/approle/login",
            {"role_id": rid, "secret_id": sid}, source="127.0.0.2"))

    # a secret ID of its own: cidr_list, and token_bound_cidrs for the
    # token its login gets
    ok(call(s, "POST", "auth/approle/role/ci",
            {"secret_id_bound_cidrs": []}, token=root), 204)
    sec = ok(call(s, "POST", "auth/approle/role/ci/secret-id",
                  {"cidr_list": "127.0.0.2", "token_bound_cidrs":
                   ["127.0.0.2/32"], "num_uses": 1}, token=root))["data"]
    look = ok(call(s, "POST", "auth/approle/role/ci/secret-id/lookup",
                   {"secret_id": sec["secret_id"]}, token=root))["data"]
    assert look["cidr_list"] == ["127.0.0.2/32"]
    assert look["token_bound_cidrs"] == ["127.0.0.2/32"]
    st, body = call(s, "POST", "auth/approle/login",
                    {"role_id": rid, "secret_id": sec["secret_id"]})
    assert st == 400 and "secret ID" in body["errors"][0]
    # the refused attempt did not use up its single use
    auth = ok(call(s, "POST", "auth/approle/login",
                   {"role_id": rid, "secret_id": sec["secret_id"]},
                   source="127.0.0.2"))["auth"]
    assert call(s, "GET", "auth/token/lookup-self",
                token=auth["client_token"])[0] == 403
    ok(call(s, "GET", "auth/token/lookup-self", token=auth["client_token"],
            source="127.0.0.2"))
    st, _ = call(s, "POST", "auth/approle/role/ci/secret-id",
                 {"cidr_list": "127.0.0.2/8"}, token=root)
    assert st == 400
