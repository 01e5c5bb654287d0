"""Keys, JWTs and small loopback servers for the jwt and kubernetes auth
method tests.

JWTs are signed here with real keys (python3-cryptography via PyJWT, both
Debian packages); the documents Coffer fetches (JWKS, OIDC discovery, a
Kubernetes TokenReview answer) come from a tiny http.server on 127.0.0.1,
over HTTPS with a self-signed certificate made by the openssl CLI when
asked. Servers are stopped by the fixture that started them.
"""
import base64
import datetime
import http.server
import json
import os
import ssl
import subprocess
import threading
import time

import jwt as pyjwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import NameOID
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa


def b64u(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _int_bytes(n, length=None):
    length = length or (n.bit_length() + 7) // 8
    return n.to_bytes(length, "big")


class Key:
    """A signing key pair, its PEM public key and its JWK."""

    def __init__(self, kind="rsa", kid=None, bits=2048):
        self.kind = kind
        self.kid = kid
        if kind == "rsa":
            self.priv = rsa.generate_private_key(public_exponent=65537,
                                                 key_size=bits)
        elif kind == "p256":
            self.priv = ec.generate_private_key(ec.SECP256R1())
        elif kind == "p384":
            self.priv = ec.generate_private_key(ec.SECP384R1())
        elif kind == "ed25519":
            self.priv = ed25519.Ed25519PrivateKey.generate()
        else:
            raise ValueError(kind)
        self.pub = self.priv.public_key()

    def pem(self):
        return self.pub.public_bytes(
            serialization.Encoding.PEM,
            serialization.PublicFormat.SubjectPublicKeyInfo).decode()

    def cert(self):
        """A self-signed certificate for the key, in PEM."""
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME,
                                             "sa-signer")])
        now = datetime.datetime.utcnow()
        c = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
             .public_key(self.pub).serial_number(x509.random_serial_number())
             .not_valid_before(now - datetime.timedelta(minutes=5))
             .not_valid_after(now + datetime.timedelta(days=1))
             .sign(self.priv, None if self.kind == "ed25519"
                   else hashes.SHA256()))
        return c.public_bytes(serialization.Encoding.PEM).decode()

    def jwk(self):
        d = {"use": "sig"}
        if self.kid:
            d["kid"] = self.kid
        if self.kind == "rsa":
            n = self.pub.public_numbers()
            d.update(kty="RSA", n=b64u(_int_bytes(n.n)),
                     e=b64u(_int_bytes(n.e)))
        elif self.kind in ("p256", "p384"):
            n = self.pub.public_numbers()
            size = 32 if self.kind == "p256" else 48
            d.update(kty="EC", crv="P-256" if size == 32 else "P-384",
                     x=b64u(_int_bytes(n.x, size)),
                     y=b64u(_int_bytes(n.y, size)))
        else:
            raw = self.pub.public_bytes(serialization.Encoding.Raw,
                                        serialization.PublicFormat.Raw)
            d.update(kty="OKP", crv="Ed25519", x=b64u(raw))
        return d

    def sign(self, claims, alg=None, headers=None):
        alg = alg or {"rsa": "RS256", "p256": "ES256", "p384": "ES384",
                      "ed25519": "EdDSA"}[self.kind]
        h = dict(headers or {})
        if self.kid and "kid" not in h:
            h["kid"] = self.kid
        return pyjwt.encode(claims, self.priv, algorithm=alg, headers=h)


def claims(**kw):
    """Typical claims, valid now for ten minutes; kw overrides or adds
    (a value of None removes the claim)."""
    now = int(time.time())
    c = {"iss": "https://issuer.test", "sub": "user-1", "aud": "coffer",
         "iat": now, "nbf": now - 5, "exp": now + 600}
    c.update(kw)
    return {k: v for k, v in c.items() if v is not None}


def unsigned(claims_, alg="none"):
    """A token with alg "none" and an empty signature."""
    h = b64u(json.dumps({"alg": alg, "typ": "JWT"}).encode())
    p = b64u(json.dumps(claims_).encode())
    return "%s.%s." % (h, p)


def tamper(token, **kw):
    """The same header and signature over changed claims."""
    h, p, s = token.split(".")
    c = json.loads(base64.urlsafe_b64decode(p + "=" * (-len(p) % 4)))
    c.update(kw)
    return "%s.%s.%s" % (h, b64u(json.dumps(c).encode()), s)


class DocServer:
    """A loopback HTTP(S) server answering from a dict of path ->
    (status, JSON-able body), counting requests and keeping POST bodies
    and Authorization headers."""

    def __init__(self, tls_dir=None):
        self.routes = {}
        self.hits = {}
        self.posts = []
        self.auth = []
        self.lock = threading.Lock()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def _answer(self, body_in=None):
                path = self.path.split("?")[0]
                with outer.lock:
                    outer.hits[path] = outer.hits.get(path, 0) + 1
                    outer.auth.append(self.headers.get("Authorization"))
                    if body_in is not None:
                        outer.posts.append((path, body_in))
                    route = outer.routes.get(path)
                if route is None:
                    status, body = 404, {"error": "not found"}
                elif callable(route):
                    status, body = route(body_in)
                else:
                    status, body = route
                data = (body if isinstance(body, bytes)
                        else json.dumps(body).encode())
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                self._answer()

            def do_POST(self):
                n = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(n)
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = raw
                self._answer(body)

            def log_message(self, *a):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                                     Handler)
        self.httpd.daemon_threads = True
        self.scheme = "http"
        self.ca_pem = None
        if tls_dir is not None:
            cert, key = self_signed_cert(tls_dir)
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(cert, key)
            self.httpd.socket = ctx.wrap_socket(self.httpd.socket,
                                                server_side=True)
            self.scheme = "https"
            with open(cert) as f:
                self.ca_pem = f.read()
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever,
                                       daemon=True)
        self.thread.start()

    @property
    def base(self):
        return "%s://127.0.0.1:%d" % (self.scheme, self.port)

    def hit_count(self, path):
        with self.lock:
            return self.hits.get(path, 0)

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=10)


def self_signed_cert(d):
    """A self-signed certificate for 127.0.0.1 made with the openssl CLI;
    returns (cert path, key path)."""
    os.makedirs(d, exist_ok=True)
    cert, key = os.path.join(d, "tls.crt"), os.path.join(d, "tls.key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec",
                    "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-keyout", key, "-out", cert, "-days", "2",
                    "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True, timeout=60)
    return cert, key
