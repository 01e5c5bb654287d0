"""The kubernetes auth method: config, roles, and login with service-account
JWTs signed here, checked locally (pem_keys) or by a fake TokenReview API
served over HTTPS (self-signed certificate, passed as kubernetes_ca_cert)
by a loopback http.server the test starts."""
import os
import time

import hvac
import pytest

import jwt_keys as jk

GENERIC = "login failed: JWT not accepted for this role"
REVIEW = "/apis/authentication.k8s.io/v1/tokenreviews"


@pytest.fixture
def srv(active_server):
    s, root, _ = active_server
    c = hvac.Client(url=s.addr, token=root)
    c.sys.enable_auth_method("kubernetes")
    return s, root, c


@pytest.fixture
def api(workdir):
    """A fake Kubernetes API over HTTPS answering TokenReviews from
    api.accounts: JWT -> (namespace, name, uid)."""
    d = jk.DocServer(tls_dir=os.path.join(workdir, "k8s-tls"))
    d.accounts = {}

    def review(body):
        tok = body["spec"]["token"]
        if tok not in d.accounts:
            return 201, {"kind": "TokenReview", "status": {
                "authenticated": False, "error": "invalid token"}}
        ns, name, uid = d.accounts[tok]
        st = {"authenticated": True, "user": {
            "username": "system:serviceaccount:%s:%s" % (ns, name),
            "uid": uid, "groups": ["system:serviceaccounts"]}}
        if "audiences" in body["spec"]:
            st["audiences"] = body["spec"]["audiences"]
        return 201, {"kind": "TokenReview", "status": st}

    d.routes[REVIEW] = review
    yield d
    d.stop()


def legacy_claims(ns="default", name="vault-auth", uid="uid-1",
                  secret="vault-auth-token-x1"):
    """A secret-based service-account token's claims (no exp)."""
    return {"iss": "kubernetes/serviceaccount",
            "sub": "system:serviceaccount:%s:%s" % (ns, name),
            "kubernetes.io/serviceaccount/namespace": ns,
            "kubernetes.io/serviceaccount/secret.name": secret,
            "kubernetes.io/serviceaccount/service-account.name": name,
            "kubernetes.io/serviceaccount/service-account.uid": uid}


def projected_claims(ns="default", name="vault-auth", uid="uid-2",
                     aud="vault", iss="https://kubernetes.default.svc",
                     exp=None):
    """A projected (bound) token's claims with the nested claim."""
    now = int(time.time())
    return {"iss": iss, "aud": [aud], "iat": now, "nbf": now,
            "exp": exp if exp is not None else now + 600,
            "sub": "system:serviceaccount:%s:%s" % (ns, name),
            "kubernetes.io": {"namespace": ns,
                              "serviceaccount": {"name": name, "uid": uid},
                              "pod": {"name": "p-1", "uid": "pod-uid"}}}


def login(s, role, token):
    return s.post("auth/kubernetes/login", {"role": role, "jwt": token})


def assert_generic_400(r):
    assert r.status_code == 400, r.text
    assert r.json()["errors"] == [GENERIC]


def test_local_pem_keys_login(srv):
    s, root, c = srv
    key, other = jk.Key("rsa"), jk.Key("rsa")
    ec_key = jk.Key("p256")
    # Certificates: hvac sends pem_keys only in that form.
    c.auth.kubernetes.configure("https://127.0.0.1:1",
                                pem_keys=[key.cert(), ec_key.cert()])
    c.auth.kubernetes.create_role("app", ["vault-auth"], ["default"],
                                  policies=["app"], ttl="20m")
    anon = hvac.Client(url=s.addr)
    a = anon.auth.kubernetes.login("app", key.sign(legacy_claims()))["auth"]
    assert a["policies"] == ["app", "default"]
    assert a["metadata"] == {
        "role": "app", "service_account_name": "vault-auth",
        "service_account_namespace": "default",
        "service_account_uid": "uid-1",
        "service_account_secret_name": "vault-auth-token-x1"}
    assert 1190 <= a["lease_duration"] <= 1200 and a["orphan"] is True
    me = s.lookup_self(a["client_token"]).json()["data"]
    assert me["display_name"] == "kubernetes-default-vault-auth"
    assert me["path"] == "auth/kubernetes/login"
    # The entity alias is the account's uid (alias_name_source default).
    acc = c.sys.list_auth_methods()["data"]["kubernetes/"]["accessor"]

    def alias_names(eid):
        e = c.secrets.identity.read_entity(eid)["data"]
        return [(x["name"], x["mount_accessor"]) for x in e["aliases"]]

    assert alias_names(a["entity_id"]) == [("uid-1", acc)]

    # A projected token signed with ES256 (issuer checks are off by
    # default, as in Vault).
    r = login(s, "app", ec_key.sign(projected_claims()))
    assert r.status_code == 200, r.text
    m = r.json()["auth"]["metadata"]
    assert m["service_account_uid"] == "uid-2"
    assert m["service_account_secret_name"] == ""
    # Another uid is another entity; by name, both share "default/vault-auth".
    assert r.json()["auth"]["entity_id"] != a["entity_id"]
    s.post("auth/kubernetes/role/app",
           {"alias_name_source": "serviceaccount_name"}, token=root)
    e1 = login(s, "app", key.sign(legacy_claims())).json()["auth"]
    e2 = login(s, "app", ec_key.sign(projected_claims())).json()["auth"]
    assert e1["entity_id"] == e2["entity_id"]
    assert alias_names(e1["entity_id"]) == [("default/vault-auth", acc)]

    now = int(time.time())
    bad = {
        "unbound name": key.sign(legacy_claims(name="other")),
        "unbound namespace": key.sign(legacy_claims(ns="kube-system")),
        "other key": other.sign(legacy_claims()),
        "expired": key.sign(projected_claims(exp=now - 300)),
        "tampered": jk.tamper(key.sign(legacy_claims(ns="kube-system")),
                              **{"kubernetes.io/serviceaccount/namespace":
                                 "default"}),
        "alg none": jk.unsigned(legacy_claims()),
        "no account": key.sign({"iss": "kubernetes/serviceaccount"}),
        "garbage": "x.y.z",
    }
    for why, tok in bad.items():
        r = login(s, "app", tok)
        assert r.status_code == 400, why
        assert r.json()["errors"] == [GENERIC], why
    assert_generic_400(login(s, "nope", key.sign(legacy_claims())))
    for tok in bad.values():
        if len(tok) > 40:
            assert tok.split(".")[1] not in s.all_logs()


def test_local_issuer_audience_and_globs(srv):
    s, root, c = srv
    key = jk.Key("p256")
    s.post("auth/kubernetes/config", {
        "kubernetes_host": "https://127.0.0.1:1", "pem_keys": [key.pem()],
        "disable_iss_validation": False,
        "issuer": "https://kubernetes.default.svc"}, token=root)
    s.post("auth/kubernetes/role/web", {
        "bound_service_account_names": "web-*,api",
        "bound_service_account_namespaces": ["*"],
        "audience": "vault", "token_policies": "web"}, token=root)
    for name, ns in (("web-1", "prod"), ("web-frontend", "dev"),
                     ("api", "x")):
        r = login(s, "web", key.sign(projected_claims(ns=ns, name=name)))
        assert r.status_code == 200, (name, r.text)
    assert_generic_400(login(s, "web", key.sign(projected_claims(
        name="db"))))
    assert_generic_400(login(s, "web", key.sign(projected_claims(
        name="web-1", aud="other"))))
    assert_generic_400(login(s, "web", key.sign(projected_claims(
        name="web-1", iss="https://evil"))))
    # Legacy tokens carry the legacy issuer: refused when it is checked.
    assert_generic_400(login(s, "web", key.sign(legacy_claims(
        name="web-1"))))


def test_token_review_login(srv, api):
    s, root, c = srv
    reviewer = jk.Key("rsa").sign({"sub": "system:serviceaccount:kube:rev"})
    sa_key = jk.Key("rsa")          # the cluster's key; Coffer never sees it
    good = sa_key.sign(legacy_claims(uid="ignored"))
    projected = sa_key.sign(projected_claims())
    api.accounts[good] = ("default", "vault-auth", "uid-from-api")
    api.accounts[projected] = ("default", "vault-auth", "uid-p")
    c.auth.kubernetes.configure(api.base, kubernetes_ca_cert=api.ca_pem,
                                token_reviewer_jwt=reviewer)
    cfg = c.auth.kubernetes.read_config()
    assert cfg["kubernetes_host"] == api.base
    assert cfg["token_reviewer_jwt_set"] is True
    assert "token_reviewer_jwt" not in cfg
    assert cfg["disable_iss_validation"] is True
    c.auth.kubernetes.create_role("app", ["vault-auth"], ["default"],
                                  policies=["app"])

    r = login(s, "app", good)
    assert r.status_code == 200, r.text
    m = r.json()["auth"]["metadata"]
    assert m["service_account_uid"] == "uid-from-api"
    assert m["service_account_secret_name"] == "vault-auth-token-x1"
    path, body = api.posts[-1]
    assert path == REVIEW
    assert body["kind"] == "TokenReview"
    assert body["apiVersion"] == "authentication.k8s.io/v1"
    assert body["spec"]["token"] == good
    assert api.auth[-1] == "Bearer " + reviewer

    # Unknown to the cluster, or a different account than the JWT says.
    assert_generic_400(login(s, "app", sa_key.sign(legacy_claims())))
    api.accounts[good] = ("other-ns", "vault-auth", "uid-x")
    assert_generic_400(login(s, "app", good))
    api.accounts[good] = ("default", "vault-auth", "uid-from-api")

    # With an audience on the role the review asks for it.
    s.post("auth/kubernetes/role/app", {"audience": "vault"}, token=root)
    assert login(s, "app", projected).status_code == 200
    assert api.posts[-1][1]["spec"]["audiences"] == ["vault"]

    # Without a reviewer JWT the caller's own JWT authenticates the call.
    s.post("auth/kubernetes/config", {"kubernetes_host": api.base,
                                      "kubernetes_ca_cert": api.ca_pem,
                                      "disable_local_ca_jwt": True},
           token=root)
    assert login(s, "app", projected).status_code == 200
    assert api.auth[-1] == "Bearer " + projected

    # The API refusing the reviewer, or not trusted over TLS: 400.
    api.routes[REVIEW] = (403, {"kind": "Status", "code": 403})
    assert_generic_400(login(s, "app", projected))
    api.routes.pop(REVIEW)
    s.post("auth/kubernetes/config", {"kubernetes_host": api.base},
           token=root)
    n = len(api.posts)
    assert_generic_400(login(s, "app", projected))
    assert len(api.posts) == n          # the TLS handshake failed first


def test_role_crud_shapes(srv):
    s, root, c = srv
    c.auth.kubernetes.create_role("App", ["a", "b"], "default",
                                  policies=["p1", "p2"], ttl="1h")
    d = c.auth.kubernetes.read_role("app")
    assert d["bound_service_account_names"] == ["a", "b"]
    assert d["bound_service_account_namespaces"] == ["default"]
    assert d["audience"] == ""
    assert d["alias_name_source"] == "serviceaccount_uid"
    assert d["token_policies"] == ["p1", "p2"] and d["token_ttl"] == 3600
    s.post("auth/kubernetes/role/app", {"audience": "vault",
                                        "alias_name_source":
                                        "serviceaccount_name"}, token=root)
    d = c.auth.kubernetes.read_role("app")
    assert d["audience"] == "vault" and d["bound_service_account_names"] \
        == ["a", "b"]
    assert d["alias_name_source"] == "serviceaccount_name"
    c.auth.kubernetes.create_role("other", ["*"], ["ns"])
    assert c.auth.kubernetes.list_roles()["keys"] == ["app", "other"]
    c.auth.kubernetes.delete_role("app")
    assert s.get("auth/kubernetes/role/app", token=root).status_code == 404
    c.auth.kubernetes.delete_role("other")
    assert s.req("LIST", "auth/kubernetes/role",
                 token=root).status_code == 404

    bad = [
        ({"bound_service_account_namespaces": ["x"]},
         "bound_service_account_names"),
        ({"bound_service_account_names": ["x"]},
         "bound_service_account_namespaces"),
        ({"bound_service_account_names": "*",
          "bound_service_account_namespaces": "*"}, "both"),
        ({"bound_service_account_names": "a",
          "bound_service_account_namespaces": "b",
          "alias_name_source": "pod"}, "alias_name_source"),
        ({"bound_service_account_names": "a",
          "bound_service_account_namespaces": "b",
          "token_num_uses": -1}, "token_num_uses"),
    ]
    for body, word in bad:
        r = s.post("auth/kubernetes/role/x", body, token=root)
        assert r.status_code == 400, body
        assert word in r.text, (body, r.text)


def test_bad_config(srv):
    s, root, c = srv
    key = jk.Key("rsa")
    assert s.get("auth/kubernetes/config", token=root).json()["data"] is None
    r = login(s, "app", key.sign(legacy_claims()))
    assert r.status_code == 400 and "configuration" in r.text
    bad = [
        {},
        {"kubernetes_host": ""},
        {"kubernetes_host": "https://k", "kubernetes_ca_cert": "nope"},
        {"kubernetes_host": "https://k", "pem_keys": ["nope"]},
        {"kubernetes_host": "https://k", "token_reviewer_jwt": "not-a-jwt"},
        {"kubernetes_host": "https://k", "disable_local_ca_jwt": "maybe"},
    ]
    for body in bad:
        r = s.post("auth/kubernetes/config", body, token=root)
        assert r.status_code == 400, (body, r.text)
    r = s.post("auth/kubernetes/config", {
        "kubernetes_host": "k8s.example:6443", "pem_keys": key.pem(),
        "issuer": "https://kubernetes.default.svc"}, token=root)
    assert r.status_code == 204, r.text
    d = c.auth.kubernetes.read_config()
    assert d["kubernetes_host"] == "k8s.example:6443"
    assert d["pem_keys"] == [key.pem()]
    assert d["issuer"] == "https://kubernetes.default.svc"
    assert d["token_reviewer_jwt_set"] is False
    assert d["disable_local_ca_jwt"] is False
    # Missing role or jwt are named.
    r = s.post("auth/kubernetes/login", {"jwt": "a.b.c"})
    assert r.status_code == 400 and "role" in r.text
    r = s.post("auth/kubernetes/login", {"role": "app"})
    assert r.status_code == 400 and "jwt" in r.text
