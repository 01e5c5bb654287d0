"""Response wrapping: X-Vault-Wrap-TTL on any request, sys/wrapping/wrap,
unwrap (exactly once, also under concurrency), lookup, rewrap."""
import concurrent.futures

import hvac
import pytest

import coffer_harness as ch


@pytest.fixture
def srv(active_server):
    s, root, _ = active_server
    assert ch.try_enable_kv(s, root, mount="secret")
    return s, root, hvac.Client(url=s.addr, token=root)


def wrapped(s, method, path, token, body=None, ttl="60s"):
    r = s.req(method, path, token=token, json_body=body,
              headers={"X-Vault-Wrap-TTL": ttl})
    assert r.status_code == 200, r.text
    j = r.json()
    assert j["data"] is None and j["auth"] is None
    return j["wrap_info"]


def test_wrap_a_kv_read_and_unwrap_once(srv):
    s, root, c = srv
    s.post("secret/data/app", {"data": {"pw": "hunter2"}}, token=root)
    info = wrapped(s, "GET", "secret/data/app", root)
    assert info["ttl"] == 60 and info["creation_path"] == "secret/data/app"
    assert info["token"] and info["accessor"]

    look = s.post("sys/wrapping/lookup", {"token": info["token"]})
    assert look.status_code == 200, look.text       # no token needed
    assert look.json()["data"]["creation_path"] == "secret/data/app"
    assert look.json()["data"]["creation_ttl"] == 60

    # unwrap with the wrapping token itself
    r = s.post("sys/wrapping/unwrap", {}, token=info["token"])
    assert r.status_code == 200, r.text
    assert r.json()["data"]["data"] == {"pw": "hunter2"}
    # once only
    r = s.post("sys/wrapping/unwrap", {}, token=info["token"])
    assert r.status_code in (400, 403)
    assert s.post("sys/wrapping/lookup",
                  {"token": info["token"]}).status_code == 400


def test_wrap_unwrap_with_hvac_and_token_create(srv):
    s, root, c = srv
    r = c.sys.wrap({"hello": "world"}, ttl="2m") if hasattr(
        c.sys, "wrap") else None
    if r is None:
        info = wrapped(s, "POST", "sys/wrapping/wrap", root,
                       {"hello": "world"}, ttl="2m")
    else:
        info = r["wrap_info"]
    out = c.sys.unwrap(info["token"])
    assert out["data"] == {"hello": "world"}

    # a wrapped token creation carries wrapped_accessor
    info = wrapped(s, "POST", "auth/token/create", root,
                   {"policies": ["p"]})
    assert info["wrapped_accessor"]
    out = s.post("sys/wrapping/unwrap", {"token": info["token"]},
                 token=root).json()
    assert out["auth"]["accessor"] == info["wrapped_accessor"]
    assert s.lookup_self(out["auth"]["client_token"]).status_code == 200


def test_unwrap_exactly_once_under_concurrency(srv):
    s, root, c = srv
    info = wrapped(s, "POST", "sys/wrapping/wrap", root, {"k": "v"})

    def unwrap(_):
        return s.post("sys/wrapping/unwrap", {"token": info["token"]},
                      token=root).status_code

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        codes = list(pool.map(unwrap, range(8)))
    assert codes.count(200) == 1, codes


def test_rewrap_and_bad_input(srv):
    s, root, c = srv
    info = wrapped(s, "POST", "sys/wrapping/wrap", root, {"k": "v"})
    r = s.post("sys/wrapping/rewrap", {"token": info["token"]}, token=root)
    assert r.status_code == 200, r.text
    new = r.json()["wrap_info"]["token"]
    assert new != info["token"]
    assert s.post("sys/wrapping/unwrap", {"token": info["token"]},
                  token=root).status_code == 400
    assert s.post("sys/wrapping/unwrap", {"token": new},
                  token=root).json()["data"] == {"k": "v"}

    for ttl in ("soon", "-5s", "1000h"):
        r = s.req("GET", "secret/data/x", token=root,
                  headers={"X-Vault-Wrap-TTL": ttl})
        assert r.status_code == 400, (ttl, r.text)
    r = s.post("sys/wrapping/wrap", {"a": "b"}, token=root)
    assert r.status_code == 400 and "wrap" in r.text.lower()
    # an ordinary token is not a wrapping token
    r = s.post("sys/wrapping/unwrap", {"token": root}, token=root)
    assert r.status_code == 400


def test_wrapping_ttl_policy_limits(srv):
    s, root, c = srv
    c.sys.create_or_update_policy("w", """
path "sys/wrapping/wrap" {
  capabilities = ["update"]
  min_wrapping_ttl = "30s"
  max_wrapping_ttl = "5m"
}
""")
    t = c.auth.token.create(policies=["w"])["auth"]["client_token"]
    ok = s.req("POST", "sys/wrapping/wrap", token=t, json_body={"a": "b"},
               headers={"X-Vault-Wrap-TTL": "60s"})
    assert ok.status_code == 200, ok.text
    for ttl in ("10s", "10m"):
        r = s.req("POST", "sys/wrapping/wrap", token=t,
                  json_body={"a": "b"}, headers={"X-Vault-Wrap-TTL": ttl})
        assert r.status_code == 403, (ttl, r.text)
