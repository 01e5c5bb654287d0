"""PKI engine: CA keys generated and used on the SoftHSM token, certificates
checked with the real openssl CLI and hvac's secrets.pki client."""
import base64
import os
import re
import subprocess

import hvac
import pytest

import coffer_harness as ch


@pytest.fixture
def pki(active_server):
    srv, root, _ = active_server
    r = srv.post("sys/mounts/pki", {"type": "pki"}, token=root)
    assert r.status_code == 204, r.text
    return srv, root


def client(srv, root):
    return hvac.Client(url=srv.addr, token=root)


def ok(r, code=200):
    assert r.status_code == code, "%d %s" % (r.status_code, r.text)
    return r.json() if code == 200 else None


def openssl(*args, input=None):
    r = subprocess.run(["openssl"] + list(args), capture_output=True,
                       input=input, timeout=60)
    return r


def write(workdir, name, text):
    p = os.path.join(workdir, name)
    with open(p, "w" if isinstance(text, str) else "wb") as f:
        f.write(text)
    return p


def make_csr(workdir, cn, key_args=("-newkey", "ec",
                                     "-pkeyopt", "ec_paramgen_curve:P-256"),
             name="leaf", sans=None):
    key = os.path.join(workdir, name + ".key")
    csr = os.path.join(workdir, name + ".csr")
    args = ["req", "-new", "-nodes"] + list(key_args) + [
        "-keyout", key, "-out", csr, "-subj", "/CN=" + cn]
    if sans:
        args += ["-addext", "subjectAltName=" + sans]
    r = openssl(*args)
    assert r.returncode == 0, r.stderr
    with open(csr) as f:
        return f.read()


def root_ca(srv, root, key_type="ec", bits=256, mount="pki", cn="Coffer Root"):
    d = ok(srv.post(mount + "/root/generate/internal",
                    {"common_name": cn, "key_type": key_type,
                     "key_bits": bits, "ttl": "87600h",
                     "issuer_name": "root-1"}, token=root))["data"]
    return d


def test_root_generate_internal_ec_and_rsa_and_exported_refused(pki,
                                                                workdir):
    srv, root = pki
    c = client(srv, root)
    r = c.secrets.pki.generate_root(
        "internal", "Coffer Root EC",
        extra_params={"key_type": "ec", "key_bits": 384, "ttl": "8760h",
                      "issuer_name": "ec-root", "key_name": "ec-key"})
    d = r["data"]
    for f in ("certificate", "issuing_ca", "serial_number", "expiration",
              "issuer_id", "key_id"):
        assert d[f], f
    assert "private_key" not in d
    assert d["issuer_name"] == "ec-root" and d["key_name"] == "ec-key"
    p = write(workdir, "ec-root.pem", d["certificate"])
    t = openssl("x509", "-in", p, "-noout", "-text").stdout.decode()
    assert "CN = Coffer Root EC" in t and "CA:TRUE" in t
    assert "secp384r1" in t or "P-384" in t
    assert "ecdsa-with-SHA384" in t
    # self-signed: verifies against itself
    r2 = openssl("verify", "-CAfile", p, p)
    assert r2.returncode == 0, r2.stdout + r2.stderr

    # ca/pem through hvac, and DER at /ca
    assert c.secrets.pki.read_ca_certificate().strip() == \
        d["certificate"].strip()
    der = srv.get("pki/ca", token=root)
    assert der.status_code == 200
    assert openssl("x509", "-inform", "DER", "-noout",
                   input=der.content).returncode == 0

    # a second, RSA root in a second mount
    ok(srv.post("sys/mounts/pki2", {"type": "pki"}, token=root), 204)
    d2 = ok(srv.post("pki2/root/generate/internal",
                     {"common_name": "Coffer Root RSA", "key_type": "rsa",
                      "key_bits": 2048}, token=root))["data"]
    p2 = write(workdir, "rsa-root.pem", d2["certificate"])
    t2 = openssl("x509", "-in", p2, "-noout", "-text").stdout.decode()
    assert "sha256WithRSAEncryption" in t2 and "2048 bit" in t2
    assert openssl("verify", "-CAfile", p2, p2).returncode == 0

    # CA certificate and CRL are public, as in Vault; issuing is not
    assert srv.get("pki/ca/pem").status_code == 200
    assert srv.get("pki/crl").status_code == 200
    assert srv.post("pki/issue/x", {"common_name": "a"}).status_code in (
        400, 403)

    # exported: the key cannot leave the token
    r3 = srv.post("pki/root/generate/exported",
                  {"common_name": "x", "key_type": "ec"}, token=root)
    assert r3.status_code == 400
    assert "internal" in r3.json()["errors"][0]
    # unknown key type
    r4 = srv.post("pki/root/generate/internal",
                  {"common_name": "x", "key_type": "dsa"}, token=root)
    assert r4.status_code == 400 and "key_type" in r4.json()["errors"][0]


def test_issuers_keys_config_urls_and_chain(pki):
    srv, root = pki
    d = root_ca(srv, root)
    lst = ok(srv.req("LIST", "pki/issuers", token=root))["data"]
    assert lst["keys"] == [d["issuer_id"]]
    assert lst["key_info"][d["issuer_id"]]["is_default"] is True
    keys = ok(srv.req("LIST", "pki/keys", token=root))["data"]
    assert keys["keys"] == [d["key_id"]]
    iss = ok(srv.get("pki/issuer/default", token=root))["data"]
    assert iss["issuer_id"] == d["issuer_id"]
    assert iss["key_id"] == d["key_id"]
    assert iss["leaf_not_after_behavior"] == "err"
    by_name = ok(srv.get("pki/issuer/root-1", token=root))["data"]
    assert by_name["issuer_id"] == d["issuer_id"]
    assert srv.get("pki/issuer/nope", token=root).status_code == 404
    k = ok(srv.get("pki/key/" + d["key_id"], token=root))["data"]
    assert k["key_type"] == "ec" and k["key_bits"] == 256
    chain = ok(srv.get("pki/cert/ca_chain", token=root))["data"]
    assert chain["ca_chain"] == [d["certificate"]]
    c = client(srv, root)
    c.secrets.pki.set_urls({
        "issuing_certificates": ["http://127.0.0.1:8200/v1/pki/ca"],
        "crl_distribution_points": "http://127.0.0.1:8200/v1/pki/crl",
        "ocsp_servers": ["http://127.0.0.1:8200/v1/pki/ocsp"]})
    u = c.secrets.pki.read_urls()["data"]
    assert u["crl_distribution_points"] == [
        "http://127.0.0.1:8200/v1/pki/crl"]
    cfg = ok(srv.get("pki/config/issuers", token=root))["data"]
    assert cfg["default"] == d["issuer_id"]


def role_body(**kw):
    b = {"allowed_domains": ["example.com"], "allow_subdomains": True,
         "key_type": "ec", "key_bits": 256, "max_ttl": "72h", "ttl": "24h"}
    b.update(kw)
    return b


def test_issue_sign_verify_and_list(pki, workdir):
    srv, root = pki
    c = client(srv, root)
    d = root_ca(srv, root)
    ca = write(workdir, "ca.pem", d["certificate"])
    c.secrets.pki.set_urls({
        "ocsp_servers": ["http://127.0.0.1:8200/v1/pki/ocsp"],
        "crl_distribution_points": ["http://127.0.0.1:8200/v1/pki/crl"]})
    c.secrets.pki.create_or_update_role("web", role_body())
    role = c.secrets.pki.read_role("web")["data"]
    assert role["allow_subdomains"] is True and role["max_ttl"] == 72 * 3600
    assert c.secrets.pki.list_roles()["data"]["keys"] == ["web"]

    r = c.secrets.pki.generate_certificate(
        "web", "www.example.com",
        extra_params={"alt_names": "api.example.com",
                      "ip_sans": "127.0.0.1"})["data"]
    assert r["private_key_type"] == "ec"
    assert r["private_key"].startswith("-----BEGIN EC PRIVATE KEY-----\n")
    assert r["ca_chain"] == [d["certificate"]]
    leaf = write(workdir, "leaf.pem", r["certificate"])
    v = openssl("verify", "-CAfile", ca, leaf)
    assert v.returncode == 0, v.stdout + v.stderr
    t = openssl("x509", "-in", leaf, "-noout", "-text").stdout.decode()
    assert "DNS:www.example.com" in t and "DNS:api.example.com" in t
    assert "IP Address:127.0.0.1" in t
    assert "TLS Web Server Authentication" in t
    # as Vault: no Basic Constraints on a leaf unless the role asks
    assert "Basic Constraints" not in t
    assert "OCSP - URI:http://127.0.0.1:8200/v1/pki/ocsp" in t
    assert "URI:http://127.0.0.1:8200/v1/pki/crl" in t
    # the returned key belongs to the certificate
    kp = write(workdir, "leaf.key", r["private_key"])
    m1 = openssl("x509", "-in", leaf, "-noout", "-pubkey").stdout
    m2 = openssl("pkey", "-in", kp, "-pubout").stdout
    assert m1 == m2
    # serial: 20 random bytes, colon-separated
    assert re.fullmatch(r"([0-9a-f]{2}:){19}[0-9a-f]{2}", r["serial_number"])

    # RSA-2048 leaf through a second role
    c.secrets.pki.create_or_update_role(
        "web-rsa", role_body(key_type="rsa", key_bits=2048))
    r2 = c.secrets.pki.generate_certificate(
        "web-rsa", "rsa.example.com")["data"]
    assert r2["private_key_type"] == "rsa"
    leaf2 = write(workdir, "leaf2.pem", r2["certificate"])
    assert openssl("verify", "-CAfile", ca, leaf2).returncode == 0

    # sign/<role> from a CSR
    csr = make_csr(workdir, "csr.example.com")
    s = c.secrets.pki.sign_certificate("web", csr,
                                       "csr.example.com")["data"]
    leaf3 = write(workdir, "leaf3.pem", s["certificate"])
    assert openssl("verify", "-CAfile", ca, leaf3).returncode == 0
    assert "private_key" not in s

    # cert/<serial> and certs LIST (colon form)
    got = c.secrets.pki.read_certificate(r["serial_number"])["data"]
    assert got["certificate"].strip() == r["certificate"].strip()
    assert got["revocation_time"] == 0
    ser = c.secrets.pki.list_certificates()["data"]["keys"]
    for x in (r, r2, s):
        assert x["serial_number"] in ser
    assert srv.get("pki/cert/00:11", token=root).status_code == 404

    # format der and pem_bundle
    rd = ok(srv.post("pki/issue/web", {"common_name": "d.example.com",
                                       "format": "der"},
                     token=root))["data"]
    assert openssl("x509", "-inform", "DER", "-noout",
                   input=base64.b64decode(rd["certificate"])).returncode == 0
    # the EC key in DER (SEC1) is the certificate's key too
    kd = openssl("pkey", "-inform", "DER", "-pubout",
                 input=base64.b64decode(rd["private_key"]))
    assert kd.returncode == 0, kd.stderr
    cd = openssl("x509", "-inform", "DER", "-noout", "-pubkey",
                 input=base64.b64decode(rd["certificate"]))
    assert kd.stdout == cd.stdout
    rb = ok(srv.post("pki/issue/web", {"common_name": "b.example.com",
                                       "format": "pem_bundle"},
                     token=root))["data"]
    assert rb["certificate"].count("BEGIN CERTIFICATE") == 2
    assert "PRIVATE KEY" in rb["certificate"]


def test_basic_constraints_on_leaves_only_when_asked(pki, workdir):
    srv, root = pki
    ca = write(workdir, "ca.pem", root_ca(srv, root)["certificate"])
    ok(srv.post("pki/roles/bc", role_body(
        basic_constraints_valid_for_non_ca=True), token=root))
    r = ok(srv.post("pki/issue/bc", {"common_name": "bc.example.com"},
                    token=root))["data"]
    leaf = write(workdir, "bc.pem", r["certificate"])
    t = openssl("x509", "-in", leaf, "-noout", "-text").stdout.decode()
    assert re.search(r"X509v3 Basic Constraints: critical\s+CA:FALSE", t), t
    v = openssl("verify", "-CAfile", ca, leaf)
    assert v.returncode == 0, v.stdout + v.stderr


def test_ttl_capping_and_bad_input(pki, workdir):
    srv, root = pki
    d = root_ca(srv, root)
    ok(srv.post("pki/roles/web", role_body(), token=root))
    # TTL beyond the role's max: capped with a warning (Vault)
    r = ok(srv.post("pki/issue/web", {"common_name": "a.example.com",
                                      "ttl": "1000h"}, token=root))
    assert any("maxTTL" in w for w in r["warnings"])
    left = r["data"]["expiration"] - int(
        __import__("time").time())
    assert 71 * 3600 < left <= 72 * 3600 + 60
    # ttl > max_ttl in a role: 400
    b = srv.post("pki/roles/bad", role_body(ttl="100h", max_ttl="10h"),
                 token=root)
    assert b.status_code == 400 and "max_ttl" in b.json()["errors"][0]
    # unknown key type in a role: 400
    b = srv.post("pki/roles/bad", role_body(key_type="dsa"), token=root)
    assert b.status_code == 400 and "key type" in b.json()["errors"][0]
    # a lease revokes by serial: it cannot go with no_store
    b = srv.post("pki/roles/bad", role_body(generate_lease=True,
                                            no_store=True), token=root)
    assert b.status_code == 400 and "no_store" in b.json()["errors"][0]
    # beyond the CA's own expiry: 400 (leaf_not_after_behavior=err)
    ok(srv.post("pki/roles/long", role_body(max_ttl="200000h"), token=root))
    b = srv.post("pki/issue/long", {"common_name": "a.example.com",
                                    "ttl": "100000h"}, token=root)
    assert b.status_code == 400
    assert "beyond the expiration of the CA" in b.json()["errors"][0]
    # truncate instead
    ok(srv.post("pki/issuer/default", {"leaf_not_after_behavior":
                                       "truncate"}, token=root))
    t = ok(srv.post("pki/issue/long", {"common_name": "a.example.com",
                                       "ttl": "100000h"}, token=root))
    assert t["data"]["expiration"] <= d["expiration"]
    # malformed CSR
    b = srv.post("pki/sign/web", {"csr": "-----BEGIN CERTIFICATE REQUEST"
                                  "-----\nAAAA\n-----END CERTIFICATE "
                                  "REQUEST-----", "common_name":
                                  "a.example.com"}, token=root)
    assert b.status_code == 400 and "parsed" in b.json()["errors"][0]
    # CSR whose signature does not verify: flip a byte in the signature
    csr = make_csr(workdir, "a.example.com")
    der = bytearray(base64.b64decode("".join(
        l for l in csr.splitlines() if "-----" not in l)))
    der[-5] ^= 0xff
    bad = ("-----BEGIN CERTIFICATE REQUEST-----\n"
           + base64.encodebytes(bytes(der)).decode()
           + "-----END CERTIFICATE REQUEST-----\n")
    b = srv.post("pki/sign/web", {"csr": bad}, token=root)
    assert b.status_code == 400
    assert "signature" in b.json()["errors"][0]
    # unknown role
    b = srv.post("pki/issue/nope", {"common_name": "a.example.com"},
                 token=root)
    assert b.status_code == 400 and "unknown role" in b.json()["errors"][0]
    # CSR key type differs from the role's
    rsa_csr = make_csr(workdir, "a.example.com",
                       key_args=("-newkey", "rsa:2048"), name="rsa")
    b = srv.post("pki/sign/web", {"csr": rsa_csr}, token=root)
    assert b.status_code == 400 and "type ec" in b.json()["errors"][0]


# (role settings, common_name, extra, issued?)
ROLE_CASES = [
    ({"allowed_domains": "example.com", "allow_subdomains": True},
     "www.example.com", {}, True),
    ({"allowed_domains": "example.com", "allow_subdomains": True},
     "a.b.example.com", {}, True),
    ({"allowed_domains": "example.com", "allow_subdomains": True},
     "example.com", {}, False),
    ({"allowed_domains": "example.com", "allow_bare_domains": True},
     "example.com", {}, True),
    ({"allowed_domains": "example.com", "allow_bare_domains": True},
     "www.example.com", {}, False),
    ({"allowed_domains": "example.com", "allow_subdomains": True},
     "www.example.org", {}, False),
    ({"allowed_domains": "example.com", "allow_subdomains": True},
     "badexample.com", {}, False),
    ({"allowed_domains": "*.svc.example.com", "allow_glob_domains": True},
     "db.svc.example.com", {}, True),
    ({"allowed_domains": "*.svc.example.com", "allow_glob_domains": True},
     "db.other.example.com", {}, False),
    ({"allowed_domains": "web-*.example.com", "allow_glob_domains": True},
     "web-01.example.com", {}, True),
    ({"allowed_domains": "example.com", "allow_subdomains": True},
     "*.example.com", {}, True),
    ({"allowed_domains": "example.com", "allow_subdomains": True,
      "allow_wildcard_certificates": False}, "*.example.com", {}, False),
    ({"allow_any_name": True}, "anything.internal", {}, True),
    ({"allow_any_name": True}, "not a hostname", {}, False),
    ({"allow_any_name": True, "enforce_hostnames": False},
     "not a hostname", {}, True),
    ({"allowed_domains": "example.com"}, "localhost", {}, True),
    ({"allowed_domains": "example.com", "allow_localhost": False},
     "localhost", {}, False),
    ({"allowed_domains": "example.com", "allow_subdomains": True},
     "www.example.com", {"ip_sans": "10.0.0.1"}, True),
    ({"allowed_domains": "example.com", "allow_subdomains": True,
      "allow_ip_sans": False}, "www.example.com", {"ip_sans": "10.0.0.1"},
     False),
    ({"allowed_domains": "example.com", "allow_subdomains": True},
     "www.example.com", {"alt_names": "evil.org"}, False),
    ({"allowed_domains": "example.com", "allow_subdomains": True},
     "www.example.com", {"uri_sans": "spiffe://x/y"}, False),
    ({"allowed_domains": "example.com", "allow_subdomains": True,
      "allowed_uri_sans": "spiffe://x/*"}, "www.example.com",
     {"uri_sans": "spiffe://x/y"}, True),
]


def test_role_enforcement_table(pki, workdir):
    srv, root = pki
    d = root_ca(srv, root)
    ca = write(workdir, "ca.pem", d["certificate"])
    for i, (settings, cn, extra, want) in enumerate(ROLE_CASES):
        body = {"key_type": "ec", "max_ttl": "1h"}
        body.update(settings)
        ok(srv.post("pki/roles/r%d" % i, body, token=root))
        req = {"common_name": cn}
        req.update(extra)
        r = srv.post("pki/issue/r%d" % i, req, token=root)
        case = (settings, cn, extra, r.status_code, r.text)
        if want:
            assert r.status_code == 200, case
            p = write(workdir, "c%d.pem" % i, r.json()["data"]["certificate"])
            assert openssl("verify", "-CAfile", ca, p).returncode == 0, case
        else:
            assert r.status_code == 400, case
            msg = r.json()["errors"][0]
            # a refused name is named in the message
            named = [cn] + [v for v in extra.values()]
            assert any(n in msg for n in named), case


def test_ca_keys_on_token_sensitive_not_in_storage(pki, token):
    srv, root = pki
    d = root_ca(srv, root)
    ok(srv.post("sys/mounts/pki-rsa", {"type": "pki"}, token=root), 204)
    root_ca(srv, root, key_type="rsa", bits=2048, mount="pki-rsa")
    srv.stop()
    r = token.pkcs11_tool("--list-objects", "--type", "privkey")
    assert r.returncode == 0, r.stderr
    blocks = [b for b in re.split(r"\n(?=\S)", r.stdout)
              if b.startswith("Private Key Object")]
    pki_blocks = [b for b in blocks if "coffer/pki/" in b]
    assert len(pki_blocks) == 2, r.stdout
    labels = [re.search(r"label:\s*(\S+)", b).group(1) for b in pki_blocks]
    assert any(l.endswith("/" + d["key_id"]) for l in labels), labels
    for b in pki_blocks:
        flags = {f.strip() for f in
                 re.search(r"Access:\s*(.*)", b).group(1).split(",")}
        assert "sensitive" in flags and "never extractable" in flags, b
        assert "extractable" not in flags, b
        r2 = token.pkcs11_tool("--read-object", "--type", "privkey",
                               "--label", re.search(r"label:\s*(\S+)",
                                                    b).group(1))
        # nothing comes out: pkcs11-tool refuses or the token does
        assert r2.returncode != 0 or r2.stdout == "", r2.stdout
    # no private key material in the database: no PEM/DER private key
    # markers, and the token's CKA_VALUE can't be read, so compare with
    # what a key dump would contain: the EC private key OID sequence.
    data = ch.storage_bytes(srv.db_path)
    assert b"PRIVATE KEY" not in data
    srv.start()


def test_ed25519_key_on_same_token_still_issues(pki, workdir, token):
    srv, root = pki
    ok(srv.post("sys/mounts/transit", {"type": "transit"}, token=root), 204)
    r = srv.post("transit/keys/ed", {"type": "ed25519"}, token=root)
    assert r.status_code in (200, 204), r.text
    srv.stop()
    objs = token.pkcs11_tool("--list-objects", "--type", "privkey").stdout
    assert "EC_EDWARDS" in objs or "EDDSA" in objs.upper() or \
        "ed25519" in objs.lower() or "transit" in objs, objs
    srv.start()
    d = root_ca(srv, root)
    ca = write(workdir, "ca.pem", d["certificate"])
    ok(srv.post("pki/roles/web", role_body(), token=root))
    r = ok(srv.post("pki/issue/web", {"common_name": "ed.example.com"},
                    token=root))["data"]
    leaf = write(workdir, "leaf.pem", r["certificate"])
    v = openssl("verify", "-CAfile", ca, leaf)
    assert v.returncode == 0, v.stdout + v.stderr
    # CRL and OCSP are signed on the same token too
    ok(srv.post("pki/revoke", {"serial_number": r["serial_number"]},
                token=root))
    crl = srv.get("pki/crl/pem", token=root)
    cp = write(workdir, "crl.pem", crl.text)
    assert openssl("crl", "-in", cp, "-CAfile", ca, "-noout").returncode == 0


def test_revoke_crl_and_ocsp(pki, workdir):
    srv, root = pki
    c = client(srv, root)
    d = root_ca(srv, root)
    ca = write(workdir, "ca.pem", d["certificate"])
    ok(srv.post("pki/roles/web", role_body(), token=root))
    r = ok(srv.post("pki/issue/web", {"common_name": "www.example.com"},
                    token=root))["data"]
    leaf = write(workdir, "leaf.pem", r["certificate"])

    def ocsp_status():
        reqf = os.path.join(workdir, "ocsp.req")
        o = openssl("ocsp", "-issuer", ca, "-cert", leaf, "-no_nonce",
                    "-reqout", reqf)
        assert o.returncode == 0, o.stderr
        with open(reqf, "rb") as f:
            b64 = base64.b64encode(f.read()).decode()
        resp = srv.get("pki/ocsp/" + b64, token=root)
        assert resp.status_code == 200, resp.text
        assert resp.headers["Content-Type"] == "application/ocsp-response"
        rf = write(workdir, "ocsp.resp", resp.content)
        o = openssl("ocsp", "-respin", rf, "-issuer", ca, "-cert", leaf,
                    "-CAfile", ca, "-no_nonce")
        out = (o.stdout + o.stderr).decode()
        assert "Response verify OK" in out, out
        return out

    assert "leaf.pem: good" in ocsp_status()
    # an empty CRL verifies first
    cp = write(workdir, "crl0.pem", c.secrets.pki.read_crl())
    v = openssl("crl", "-in", cp, "-CAfile", ca, "-noout")
    assert v.returncode == 0 and b"verify OK" in v.stdout + v.stderr

    rv = c.secrets.pki.revoke_certificate(r["serial_number"])["data"]
    assert rv["revocation_time"] > 0
    got = c.secrets.pki.read_certificate(r["serial_number"])["data"]
    assert got["revocation_time"] == rv["revocation_time"]
    revoked = ok(srv.req("LIST", "pki/certs/revoked", token=root))["data"]
    assert r["serial_number"] in revoked["keys"]

    cp = write(workdir, "crl.pem", c.secrets.pki.read_crl())
    v = openssl("crl", "-in", cp, "-CAfile", ca, "-noout", "-text")
    out = (v.stdout + v.stderr).decode()
    assert v.returncode == 0 and "verify OK" in out, out
    assert r["serial_number"].replace(":", "").upper() in out
    # DER at /crl
    der = srv.get("pki/crl", token=root)
    assert der.headers["Content-Type"] == "application/pkix-crl"
    assert openssl("crl", "-inform", "DER", "-noout",
                   input=der.content).returncode == 0
    # openssl verify -crl_check refuses the revoked leaf
    both = write(workdir, "ca+crl.pem", d["certificate"] + "\n"
                 + c.secrets.pki.read_crl())
    v = openssl("verify", "-crl_check", "-CAfile", both, leaf)
    assert v.returncode != 0 and b"revoked" in v.stdout + v.stderr

    assert "leaf.pem: revoked" in ocsp_status()
    # and over POST, the way `openssl ocsp -url` asks (no token: OCSP is
    # served to anyone, as in Vault)
    o = openssl("ocsp", "-issuer", ca, "-cert", leaf, "-CAfile", ca,
                "-no_nonce", "-url", srv.addr + "/v1/pki/ocsp")
    out = (o.stdout + o.stderr).decode()
    assert "Response verify OK" in out and "leaf.pem: revoked" in out, out

    # crl/rotate bumps the CRL number
    n1 = openssl("crl", "-in", cp, "-noout", "-crlnumber").stdout
    c.secrets.pki.rotate_crl()
    cp2 = write(workdir, "crl2.pem", c.secrets.pki.read_crl())
    n2 = openssl("crl", "-in", cp2, "-noout", "-crlnumber").stdout
    assert n1 != n2
    # config/crl
    ok(srv.post("pki/config/crl", {"expiry": "48h"}, token=root))
    assert ok(srv.get("pki/config/crl", token=root))["data"]["expiry"] == \
        "48h"
    # revoking an unknown serial
    b = srv.post("pki/revoke", {"serial_number": "aa:bb"}, token=root)
    assert b.status_code == 400

    # revoke-with-key needs the matching key
    r2 = ok(srv.post("pki/issue/web", {"common_name": "k.example.com"},
                     token=root))["data"]
    b = srv.post("pki/revoke-with-key",
                 {"serial_number": r2["serial_number"],
                  "private_key": r["private_key"]}, token=root)
    assert b.status_code == 400
    ok(srv.post("pki/revoke-with-key",
                {"serial_number": r2["serial_number"],
                 "private_key": r2["private_key"]}, token=root))

    # tidy
    t = srv.post("pki/tidy", {"tidy_cert_store": True,
                              "tidy_revoked_certs": True}, token=root)
    assert t.status_code == 202, t.text
    st = ok(srv.get("pki/tidy-status", token=root))["data"]
    assert st["state"] == "Finished"


def test_intermediate_two_mounts_with_hvac(pki, workdir):
    srv, root = pki
    c = client(srv, root)
    d = root_ca(srv, root, key_type="rsa", bits=2048)
    ca = write(workdir, "root.pem", d["certificate"])
    ok(srv.post("sys/mounts/pki_int", {"type": "pki"}, token=root), 204)
    g = c.secrets.pki.generate_intermediate(
        "internal", "Coffer Intermediate",
        extra_params={"key_type": "ec", "key_bits": 256},
        mount_point="pki_int")["data"]
    assert "BEGIN CERTIFICATE REQUEST" in g["csr"]
    assert "private_key" not in g
    csrp = write(workdir, "int.csr", g["csr"])
    assert openssl("req", "-in", csrp, "-verify",
                   "-noout").returncode == 0
    s = c.secrets.pki.sign_intermediate(
        g["csr"], "Coffer Intermediate",
        extra_params={"ttl": "43800h"})["data"]
    intp = write(workdir, "int.pem", s["certificate"])
    assert openssl("verify", "-CAfile", ca, intp).returncode == 0
    t = openssl("x509", "-in", intp, "-noout", "-text").stdout.decode()
    assert "CA:TRUE" in t
    r = c.secrets.pki.set_signed_intermediate(
        s["certificate"] + "\n" + d["certificate"], mount_point="pki_int")
    imp = r.json()["data"] if hasattr(r, "json") else r["data"]
    assert len(imp["imported_issuers"]) == 2     # intermediate + root
    c.secrets.pki.create_or_update_role("web", role_body(),
                                        mount_point="pki_int")
    leaf = c.secrets.pki.generate_certificate(
        "web", "svc.example.com", mount_point="pki_int")["data"]
    assert leaf["issuing_ca"].strip() == s["certificate"].strip()
    assert len(leaf["ca_chain"]) == 2
    lp = write(workdir, "leaf.pem", leaf["certificate"])
    v = openssl("verify", "-CAfile", ca, "-untrusted", intp, lp)
    assert v.returncode == 0, v.stdout + v.stderr
    # issuer/<ref>/issue/<role> through the named intermediate
    iid = [k for k, v in imp["mapping"].items() if v][0]
    leaf2 = ok(srv.post("pki_int/issuer/%s/issue/web" % iid,
                        {"common_name": "x.example.com"},
                        token=root))["data"]
    lp2 = write(workdir, "leaf2.pem", leaf2["certificate"])
    assert openssl("verify", "-CAfile", ca, "-untrusted", intp,
                   lp2).returncode == 0


def test_multiple_issuers_default_update_and_root_delete(pki, workdir):
    srv, root = pki
    a = root_ca(srv, root)
    b = ok(srv.post("pki/root/generate/internal",
                    {"common_name": "Second Root", "key_type": "rsa",
                     "issuer_name": "root-2"}, token=root))["data"]
    lst = ok(srv.req("LIST", "pki/issuers", token=root))["data"]
    assert sorted(lst["keys"]) == sorted([a["issuer_id"], b["issuer_id"]])
    assert lst["key_info"][a["issuer_id"]]["is_default"]
    # the same name twice is refused
    x = srv.post("pki/root/generate/internal",
                 {"common_name": "X", "key_type": "ec",
                  "issuer_name": "root-2"}, token=root)
    assert x.status_code == 400
    # switch default
    ok(srv.post("pki/config/issuers", {"default": "root-2"}, token=root))
    assert ok(srv.get("pki/issuer/default", token=root))["data"][
        "issuer_id"] == b["issuer_id"]
    ok(srv.post("pki/roles/web", role_body(key_type="rsa", key_bits=2048),
                token=root))
    leaf = ok(srv.post("pki/issue/web", {"common_name": "a.example.com"},
                       token=root))["data"]
    assert leaf["issuing_ca"] == b["certificate"]
    # issuer update: rename
    u = ok(srv.post("pki/issuer/root-2", {"issuer_name": "renamed"},
                    token=root))["data"]
    assert u["issuer_name"] == "renamed"
    # sign-verbatim keeps the CSR's subject
    csr = make_csr(workdir, "verbatim.anything", sans="DNS:v.anything")
    v = ok(srv.post("pki/sign-verbatim", {"csr": csr, "ttl": "1h"},
                    token=root))["data"]
    vp = write(workdir, "v.pem", v["certificate"])
    t = openssl("x509", "-in", vp, "-noout", "-text").stdout.decode()
    assert "CN = verbatim.anything" in t and "DNS:v.anything" in t
    # root/sign-self-issued
    key = os.path.join(workdir, "self.key")
    selfp = os.path.join(workdir, "self.pem")
    assert openssl("req", "-x509", "-newkey", "ec", "-pkeyopt",
                   "ec_paramgen_curve:P-256", "-nodes", "-keyout", key,
                   "-out", selfp, "-subj", "/CN=Self Issued",
                   "-addext", "basicConstraints=critical,CA:TRUE",
                   "-days", "1").returncode == 0
    with open(selfp) as f:
        s = ok(srv.post("pki/root/sign-self-issued",
                        {"certificate": f.read()}, token=root))["data"]
    sp = write(workdir, "s.pem", s["certificate"])
    cap = write(workdir, "b.pem", b["certificate"])
    assert openssl("verify", "-CAfile", cap, "-partial_chain",
                   sp).returncode == 0
    # existing key: root/generate/existing with the first key
    e = ok(srv.post("pki/root/generate/existing",
                    {"common_name": "Reissued", "key_ref": a["key_id"]},
                    token=root))["data"]
    assert e["key_id"] == a["key_id"]
    # root DELETE removes issuers, keys and their token objects
    ok(srv.req("DELETE", "pki/root", token=root), 204)
    assert srv.req("LIST", "pki/issuers", token=root).status_code == 404
    assert srv.req("LIST", "pki/keys", token=root).status_code == 404
    r = srv.post("pki/issue/web", {"common_name": "a.example.com"},
                 token=root)
    assert r.status_code == 400


def test_role_extras_are_applied_or_refused(pki, workdir):
    """Role settings beyond names: policy OIDs, extra EKU OIDs, other
    SANs, subject UIDs and serial numbers, signature hash and CN
    validation end up in the certificate (parsed with the cryptography
    package); what Coffer cannot apply is refused, not stored."""
    from cryptography import x509
    from cryptography.x509.oid import NameOID, ObjectIdentifier
    from cryptography.hazmat.primitives import hashes

    srv, root = pki
    root_ca(srv, root)
    ok(srv.post("pki/roles/extra", role_body(
        policy_identifiers=["1.3.6.1.4.1.44947.1.1.1", "2.23.140.1.2.1"],
        ext_key_usage_oids=["1.3.6.1.5.5.7.3.9"],
        allowed_other_sans=["1.3.6.1.4.1.311.20.2.3;UTF8:*@example.com"],
        allowed_user_ids=["svc-*"], allowed_serial_numbers=["SN-*"],
        signature_bits=384), token=root))
    d = ok(srv.post("pki/issue/extra", {
        "common_name": "a.example.com",
        "other_sans": "1.3.6.1.4.1.311.20.2.3;UTF8:alice@example.com",
        "user_ids": "svc-web", "serial_number": "SN-42"},
        token=root))["data"]
    cert = x509.load_pem_x509_certificate(d["certificate"].encode())
    pols = cert.extensions.get_extension_for_class(
        x509.CertificatePolicies).value
    assert [p.policy_identifier.dotted_string for p in pols] == [
        "1.3.6.1.4.1.44947.1.1.1", "2.23.140.1.2.1"]
    eku = cert.extensions.get_extension_for_class(
        x509.ExtendedKeyUsage).value
    assert ObjectIdentifier("1.3.6.1.5.5.7.3.9") in list(eku)
    san = cert.extensions.get_extension_for_class(
        x509.SubjectAlternativeName).value
    other = san.get_values_for_type(x509.OtherName)
    assert len(other) == 1
    assert other[0].type_id.dotted_string == "1.3.6.1.4.1.311.20.2.3"
    assert other[0].value == b"\x0c\x11alice@example.com"   # UTF8String
    assert cert.subject.get_attributes_for_oid(NameOID.USER_ID)[0].value \
        == "svc-web"
    assert cert.subject.get_attributes_for_oid(
        NameOID.SERIAL_NUMBER)[0].value == "SN-42"
    assert isinstance(cert.signature_hash_algorithm, hashes.SHA384)

    # what the role does not allow: 400 naming the value
    for body, needle in (
            ({"other_sans": "1.3.6.1.4.1.311.20.2.3;UTF8:eve@evil.com"},
             "eve@evil.com"),
            ({"other_sans": "1.2.3.4;UTF8:x@example.com"}, "1.2.3.4"),
            ({"user_ids": "root"}, "root"),
            ({"serial_number": "XX-1"}, "XX-1")):
        body["common_name"] = "a.example.com"
        b = srv.post("pki/issue/extra", body, token=root)
        assert b.status_code == 400 and needle in b.json()["errors"][0], \
            b.text
    # a role without those lists allows none of them
    ok(srv.post("pki/roles/plain", role_body(), token=root))
    for body in ({"user_ids": "svc-web"}, {"serial_number": "SN-1"},
                 {"other_sans": "1.3.6.1.4.1.311.20.2.3;UTF8:a@example.com"}):
        body["common_name"] = "a.example.com"
        assert srv.post("pki/issue/plain", body,
                        token=root).status_code == 400

    # cn_validations: disabled lets any CN through; email-only refuses a
    # host name
    ok(srv.post("pki/roles/anycn", role_body(cn_validations=["disabled"]),
                token=root))
    ok(srv.post("pki/issue/anycn", {"common_name": "Build Agent 7"},
                token=root))
    ok(srv.post("pki/roles/mailonly", role_body(cn_validations=["email"],
                                                 allow_bare_domains=True),
                token=root))
    assert srv.post("pki/issue/mailonly", {"common_name": "a.example.com"},
                    token=root).status_code == 400
    ok(srv.post("pki/issue/mailonly", {"common_name": "bob@example.com"},
                token=root))

    # refused rather than stored and ignored
    for bad, needle in ((dict(use_pss=True), "use_pss"),
                        (dict(allowed_domains_template=True), "template"),
                        (dict(policy_identifiers=["not-an-oid"]), "OID"),
                        (dict(signature_bits=100), "signature_bits"),
                        (dict(allowed_other_sans=["foo"]), "other_sans"),
                        (dict(cn_validations=["disabled", "email"]),
                         "disabled")):
        b = srv.post("pki/roles/bad", role_body(**bad), token=root)
        assert b.status_code == 400 and needle in b.json()["errors"][0], \
            (bad, b.text)
