"""The jwt auth method: config (PEM keys, JWKS URL, OIDC discovery), roles,
and login with JWTs signed here with real RSA, EC and Ed25519 keys. The key
sets are served by a loopback http.server started by the test."""
import os
import time

import hvac
import pytest

import jwt_keys as jk

GENERIC = "login failed: JWT not accepted for this role"


@pytest.fixture
def srv(active_server):
    s, root, _ = active_server
    c = hvac.Client(url=s.addr, token=root)
    c.sys.enable_auth_method("jwt")
    return s, root, c


@pytest.fixture
def docs():
    d = jk.DocServer()
    yield d
    d.stop()


def login(s, role, token, mount="jwt"):
    body = {"jwt": token}
    if role is not None:
        body["role"] = role
    return s.post("auth/%s/login" % mount, body)


def assert_generic_400(r):
    assert r.status_code == 400, r.text
    assert r.json()["errors"] == [GENERIC]


def dev_role(c, **kw):
    args = dict(name="dev", role_type="jwt", bound_audiences=["coffer"],
                allowed_redirect_uris=[],
                user_claim="email", token_policies=["dev"], token_ttl="30m")
    args.update(kw)
    c.auth.jwt.create_role(**args)


def test_pubkeys_login_policies_metadata(srv):
    s, root, c = srv
    rsa_key, ec_key = jk.Key("rsa"), jk.Key("p256")
    c.auth.jwt.configure(jwt_validation_pubkeys=[rsa_key.pem(),
                                                 ec_key.pem()],
                         bound_issuer="https://issuer.test")
    cfg = c.auth.jwt.read_config()["data"]
    assert cfg["bound_issuer"] == "https://issuer.test"
    assert len(cfg["jwt_validation_pubkeys"]) == 2
    assert cfg["jwks_url"] == "" and cfg["oidc_discovery_url"] == ""
    dev_role(c, bound_subject="user-1",
             bound_claims={"team": ["infra", "ops"]},
             claim_mappings={"email": "email", "/org/name": "org",
                             "level": "level"})

    eids = set()
    for key in (rsa_key, ec_key):
        tok = key.sign(jk.claims(email="alice@example.com", team="ops",
                                 org={"name": "acme"}, level=3))
        anon = hvac.Client(url=s.addr)
        a = anon.auth.jwt.jwt_login("dev", tok)["auth"]
        assert a["policies"] == ["default", "dev"]
        assert a["token_policies"] == ["default", "dev"]
        assert a["metadata"] == {"role": "dev", "email": "alice@example.com",
                                 "org": "acme", "level": "3"}
        assert 1790 <= a["lease_duration"] <= 1800
        assert a["orphan"] is True and a["renewable"] is True
        me = s.lookup_self(a["client_token"]).json()["data"]
        assert me["path"] == "auth/jwt/login"
        assert me["display_name"] == "jwt-alice@example.com"
        assert me["meta"]["role"] == "dev"
        eids.add(a["entity_id"])
    # Both logins are the same user: one entity, aliased by the user claim.
    assert len(eids) == 1 and "" not in eids
    e = c.secrets.identity.read_entity(eids.pop())["data"]
    acc = c.sys.list_auth_methods()["data"]["jwt/"]["accessor"]
    assert [(x["name"], x["mount_accessor"]) for x in e["aliases"]] == \
        [("alice@example.com", acc)]


@pytest.mark.parametrize("kind,alg", [
    ("rsa", "RS256"), ("rsa", "RS384"), ("rsa", "RS512"), ("rsa", "PS256"),
    ("p256", "ES256"), ("p384", "ES384"), ("ed25519", "EdDSA")])
def test_algorithms(srv, kind, alg):
    s, root, c = srv
    key = jk.Key(kind)
    c.auth.jwt.configure(jwt_validation_pubkeys=[key.pem()])
    dev_role(c)
    r = login(s, "dev", key.sign(jk.claims(email="a@b"), alg=alg))
    assert r.status_code == 200, r.text
    # A key that does not fit the algorithm is refused: a P-256 key
    # signing "ES384", an EC key behind an "RS256" header.
    if alg == "ES256":
        assert_generic_400(login(s, "dev", key.sign(jk.claims(email="a@b"),
                                                    alg="ES384")))
        forged = jk.tamper(key.sign(jk.claims(email="a@b")))
        h = jk.b64u(b'{"alg":"RS256","typ":"JWT"}')
        assert_generic_400(login(s, "dev", h + forged[forged.index("."):]))


def test_failed_logins_are_generic(srv):
    s, root, c = srv
    key, other = jk.Key("rsa"), jk.Key("rsa")
    c.auth.jwt.configure(jwt_validation_pubkeys=[key.pem()],
                         bound_issuer="https://issuer.test")
    dev_role(c, bound_subject="user-1",
             bound_claims={"team": "infra"}, groups_claim="groups")
    now = int(time.time())
    good = dict(email="alice@x", team="infra", groups=["g1", "g2"])
    assert login(s, "dev", key.sign(jk.claims(**good))).status_code == 200

    bad = {
        "expired": key.sign(jk.claims(exp=now - 600, **good)),
        "not yet valid": key.sign(jk.claims(nbf=now + 600, **good)),
        "issued in the future": key.sign(jk.claims(iat=now + 600, **good)),
        "no exp or nbf": key.sign(jk.claims(exp=None, nbf=None, **good)),
        "wrong aud": key.sign(jk.claims(aud="other", **good)),
        "wrong iss": key.sign(jk.claims(iss="https://evil.test", **good)),
        "wrong sub": key.sign(jk.claims(sub="user-2", **good)),
        "unbound claim": key.sign(jk.claims(
            **dict(good, team="sales"))),
        "missing bound claim": key.sign(jk.claims(
            email="alice@x", groups=["g"])),
        "no user claim": key.sign(jk.claims(team="infra", groups=[])),
        "groups not a list": key.sign(jk.claims(
            **dict(good, groups={"a": 1}))),
        "other key": other.sign(jk.claims(**good)),
        "tampered": jk.tamper(key.sign(jk.claims(**good)), sub="user-1",
                              team="infra", email="mallory@x", aud="coffer",
                              exp=now + 9999),
        "alg none": jk.unsigned(jk.claims(**good)),
        "hs256 with the public key": jk.unsigned(jk.claims(**good),
                                                 alg="HS256") + "AAAA",
        "garbage": "not.a.jwt",
        "jwe-shaped": "a.b.c.d.e",
    }
    for why, tok in bad.items():
        r = login(s, "dev", tok)
        assert r.status_code == 400, why
        assert r.json()["errors"] == [GENERIC], why
    # An unknown role answers the same.
    assert_generic_400(login(s, "nope", key.sign(jk.claims(**good))))
    # The JWTs never reach the log.
    logs = s.all_logs()
    for tok in bad.values():
        if len(tok) > 40:
            assert tok.split(".")[1] not in logs


def test_leeways(srv):
    s, root, c = srv
    key = jk.Key("p256")
    c.auth.jwt.configure(jwt_validation_pubkeys=[key.pem()])
    now = int(time.time())
    dev_role(c)
    # Default leeways: exp 150 s + skew 60 s.
    assert login(s, "dev", key.sign(jk.claims(
        email="a", exp=now - 100))).status_code == 200
    assert_generic_400(login(s, "dev", key.sign(jk.claims(
        email="a", exp=now - 400))))
    assert login(s, "dev", key.sign(jk.claims(
        email="a", nbf=now + 100))).status_code == 200
    # -1 turns them off.
    dev_role(c, clock_skew_leeway=-1, expiration_leeway="-1",
             not_before_leeway=-1)
    role = c.auth.jwt.read_role("dev")["data"]
    assert role["clock_skew_leeway"] == -1
    assert role["expiration_leeway"] == -1
    assert_generic_400(login(s, "dev", key.sign(jk.claims(
        email="a", exp=now - 5))))
    assert_generic_400(login(s, "dev", key.sign(jk.claims(
        email="a", nbf=now + 30))))
    # Explicit leeways as durations.
    dev_role(c, clock_skew_leeway=0, expiration_leeway="10m",
             not_before_leeway="10m")
    assert login(s, "dev", key.sign(jk.claims(
        email="a", exp=now - 500))).status_code == 200


def test_jwks_url_and_kid_refetch(srv, docs):
    s, root, c = srv
    k1, k2, k3 = (jk.Key("rsa", kid="k1"), jk.Key("p256", kid="k2"),
                  jk.Key("rsa", kid="k3"))
    docs.routes["/keys"] = (200, {"keys": [k1.jwk()]})
    c.auth.jwt.configure(jwks_url=docs.base + "/keys")
    assert docs.hit_count("/keys") == 1         # checked at config time
    dev_role(c)
    assert login(s, "dev", k1.sign(jk.claims(email="a"))).status_code == 200
    assert docs.hit_count("/keys") == 1         # served from the cache

    # The issuer rotates in k2: the unknown kid makes Coffer fetch again
    # (at most once a second: logins are unauthenticated).
    docs.routes["/keys"] = (200, {"keys": [k1.jwk(), k2.jwk()]})
    time.sleep(1.1)
    assert login(s, "dev", k2.sign(jk.claims(email="a"))).status_code == 200
    assert docs.hit_count("/keys") == 2
    assert login(s, "dev", k2.sign(jk.claims(email="a"))).status_code == 200
    assert docs.hit_count("/keys") == 2

    # A kid nobody has: one refetch, then the generic 400; a flood of
    # them within the second fetches nothing more.
    time.sleep(1.1)
    t0 = time.time()
    assert_generic_400(login(s, "dev", k3.sign(jk.claims(email="a"))))
    assert docs.hit_count("/keys") == 3
    for _ in range(5):
        assert_generic_400(login(s, "dev", k3.sign(jk.claims(email="a"))))
    # at most one more fetch per whole second the flood took (a slow,
    # sanitized build may take more than one)
    assert docs.hit_count("/keys") <= 3 + int(time.time() - t0 + 0.001)
    # A known kid with a bad signature does not refetch.
    time.sleep(1.1)
    n = docs.hit_count("/keys")
    forged = jk.Key("rsa", kid="k1").sign(jk.claims(email="a"))
    assert_generic_400(login(s, "dev", forged))
    assert docs.hit_count("/keys") == n
    # The key set server going away does not let anything in.
    docs.routes["/keys"] = (500, {"error": "down"})
    time.sleep(1.1)
    assert_generic_400(login(s, "dev", k3.sign(jk.claims(email="a"))))
    assert login(s, "dev", k1.sign(jk.claims(email="a"))).status_code == 200


def test_oidc_discovery(srv, docs):
    s, root, c = srv
    key = jk.Key("p256", kid="d1")
    base = docs.base + "/tenant"
    docs.routes["/tenant/.well-known/openid-configuration"] = (
        200, {"issuer": base, "jwks_uri": docs.base + "/tenant/jwks"})
    docs.routes["/tenant/jwks"] = (200, {"keys": [key.jwk()]})
    c.auth.jwt.configure(oidc_discovery_url=base, default_role="dev")
    assert c.auth.jwt.read_config()["data"]["oidc_discovery_url"] == base
    dev_role(c)
    # The role comes from default_role.
    r = login(s, None, key.sign(jk.claims(iss=base, email="d@x")))
    assert r.status_code == 200, r.text
    assert r.json()["auth"]["metadata"]["role"] == "dev"
    # The token must come from the discovered issuer.
    assert_generic_400(login(s, "dev", key.sign(jk.claims(email="d@x"))))
    # A discovery document naming another issuer is refused at config.
    docs.routes["/tenant/.well-known/openid-configuration"] = (
        200, {"issuer": "https://elsewhere", "jwks_uri": docs.base + "/x"})
    r = s.post("auth/jwt/config", {"oidc_discovery_url": base}, token=root)
    assert r.status_code == 400 and "oidc_discovery_url" in r.text


def test_glob_bound_claims_and_supported_algs(srv):
    s, root, c = srv
    rsa_key, ec_key = jk.Key("rsa"), jk.Key("p256")
    c.auth.jwt.configure(jwt_validation_pubkeys=[rsa_key.pem(),
                                                 ec_key.pem()],
                         jwt_supported_algs=["ES256"])
    dev_role(c, bound_claims_type="glob",
             bound_claims={"email": ["*@example.com", "root@*"],
                           "/ctx/repo": "acme/*"})
    ok = jk.claims(email="bob@example.com", ctx={"repo": "acme/api"})
    assert login(s, "dev", ec_key.sign(ok)).status_code == 200
    assert_generic_400(login(s, "dev", rsa_key.sign(ok)))   # RS256 not allowed
    assert_generic_400(login(s, "dev", ec_key.sign(jk.claims(
        email="bob@evil.com", ctx={"repo": "acme/api"}))))
    assert_generic_400(login(s, "dev", ec_key.sign(jk.claims(
        email="bob@example.com", ctx={"repo": "other/api"}))))
    # Globs need string values.
    r = s.post("auth/jwt/role/g", {"role_type": "jwt", "user_claim": "sub",
                                   "bound_claims_type": "glob",
                                   "bound_claims": {"n": 1}}, token=root)
    assert r.status_code == 400 and "bound_claims" in r.text


def test_role_crud_shapes(srv):
    s, root, c = srv
    dev_role(c, bound_claims={"team": "infra"},
             claim_mappings={"email": "mail"}, groups_claim="groups")
    d = c.auth.jwt.read_role("dev")["data"]
    assert d["role_type"] == "jwt"
    assert d["bound_audiences"] == ["coffer"]
    assert d["user_claim"] == "email"
    assert d["bound_claims"] == {"team": "infra"}
    assert d["bound_claims_type"] == "string"
    assert d["claim_mappings"] == {"email": "mail"}
    assert d["groups_claim"] == "groups"
    assert d["token_policies"] == ["dev"] and d["policies"] == ["dev"]
    assert d["token_ttl"] == 1800
    for k in ("bound_subject", "clock_skew_leeway", "expiration_leeway",
              "not_before_leeway", "token_max_ttl", "token_num_uses"):
        assert k in d
    # Updates keep fields not given.
    s.post("auth/jwt/role/dev", {"token_ttl": "1h"}, token=root)
    d = c.auth.jwt.read_role("dev")["data"]
    assert d["token_ttl"] == 3600 and d["bound_audiences"] == ["coffer"]
    dev_role(c, name="Ops")
    assert c.auth.jwt.list_roles()["data"]["keys"] == ["dev", "ops"]
    c.auth.jwt.delete_role("dev")
    assert s.get("auth/jwt/role/dev", token=root).status_code == 404
    c.auth.jwt.delete_role("ops")
    r = s.req("LIST", "auth/jwt/role", token=root)
    assert r.status_code == 404

    bad = [
        ({"role_type": "jwt", "bound_audiences": ["a"]}, "user_claim"),
        ({"role_type": "jwt", "user_claim": "sub"}, "bound"),
        ({"user_claim": "sub", "bound_audiences": ["a"]},
         "allowed_redirect_uris"),
        ({"role_type": "saml", "user_claim": "sub"}, "role_type"),
        ({"role_type": "jwt", "user_claim": "sub", "bound_audiences": "a",
          "bound_claims_type": "regex"}, "bound_claims_type"),
        ({"role_type": "jwt", "user_claim": "sub", "bound_audiences": "a",
          "claim_mappings": {"a": "x", "b": "x"}}, "claim_mappings"),
        ({"role_type": "jwt", "user_claim": "sub", "bound_audiences": "a",
          "bound_claims": "not json"}, "bound_claims"),
        ({"role_type": "jwt", "user_claim": "sub", "bound_audiences": "a",
          "token_ttl": "forever"}, "token_ttl"),
    ]
    for body, word in bad:
        r = s.post("auth/jwt/role/x", body, token=root)
        assert r.status_code == 400, body
        assert word in r.text, (body, r.text)
    assert s.get("auth/jwt/role/x", token=root).status_code == 404

    # An oidc role can be stored; logging in with it is refused.
    c.auth.jwt.configure(jwt_validation_pubkeys=[jk.Key("p256").pem()])
    s.post("auth/jwt/role/web", {"user_claim": "sub",
                                 "allowed_redirect_uris": ["https://x/cb"]},
           token=root)
    assert c.auth.jwt.read_role("web")["data"]["role_type"] == "oidc"
    r = login(s, "web", jk.Key("p256").sign(jk.claims()))
    assert r.status_code == 400 and "oidc" in r.text
    r = s.post("auth/jwt/oidc/auth_url", {"role": "web",
                                          "redirect_uri": "https://x/cb"})
    assert r.status_code == 400


def test_bad_config(srv, docs, workdir):
    s, root, c = srv
    key = jk.Key("rsa")
    assert s.get("auth/jwt/config", token=root).json()["data"] is None
    r = s.post("auth/jwt/login", {"role": "dev", "jwt": "a.b.c"})
    assert r.status_code == 400
    docs.routes["/keys"] = (200, {"keys": [key.jwk()]})
    docs.routes["/nokeys"] = (200, {"keys": [{"kty": "oct", "k": "AAAA"}]})
    docs.routes["/html"] = (200, b"<html></html>")
    tls = jk.DocServer(tls_dir=os.path.join(workdir, "tls"))
    try:
        tls.routes["/keys"] = (200, {"keys": [key.jwk()]})
        bad = [
            {},
            {"jwt_validation_pubkeys": [key.pem()],
             "jwks_url": docs.base + "/keys"},
            {"jwt_validation_pubkeys": ["-----BEGIN PUBLIC KEY-----\nAAAA\n"
                                        "-----END PUBLIC KEY-----\n"]},
            {"jwt_validation_pubkeys": [key.pem()],
             "jwt_supported_algs": ["HS256"]},
            {"jwt_validation_pubkeys": [key.pem()],
             "jwt_supported_algs": "none"},
            {"jwks_url": docs.base + "/missing"},
            {"jwks_url": docs.base + "/nokeys"},
            {"jwks_url": docs.base + "/html"},
            {"jwks_url": "http://127.0.0.1:1/keys"},
            {"jwks_url": "file:///etc/passwd"},
            {"jwks_url": docs.base + "/keys", "jwks_ca_pem": "not a pem"},
            # Our self-signed server without its CA is not trusted...
            {"jwks_url": tls.base + "/keys"},
            {"jwks_url": docs.base + "/keys", "jwks_pairs": [
                {"jwks_url": docs.base + "/keys"}]},
        ]
        for body in bad:
            r = s.post("auth/jwt/config", body, token=root)
            assert r.status_code == 400, (body, r.text)
        # ... and is with it.
        r = s.post("auth/jwt/config", {"jwks_url": tls.base + "/keys",
                                       "jwks_ca_pem": tls.ca_pem},
                   token=root)
        assert r.status_code == 204, r.text
        assert tls.hit_count("/keys") == 1
        dev_role(c)
        assert login(s, "dev", key.sign(jk.claims(email="a"))) \
            .status_code == 200
    finally:
        tls.stop()
    assert s.get("auth/jwt/config", token=root).json()["data"][
        "jwks_ca_pem"] == tls.ca_pem
