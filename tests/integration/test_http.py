"""The HTTP surface: Vault envelope and error shapes, status codes, headers,
auth headers, body limits, path checks, LIST, sys/tools, dev mode."""
import base64
import hashlib
import http.client
import os
import re
import select
import socket
import time

import hvac
import pytest

import coffer_harness as ch

UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-"
                  r"[0-9a-f]{12}$")
ENVELOPE = {"request_id", "lease_id", "renewable", "lease_duration", "data",
            "wrap_info", "warnings", "auth"}


def assert_json_headers(r):
    assert r.headers.get("Content-Type") == "application/json", r.headers
    assert r.headers.get("Cache-Control") == "no-store", r.headers


def assert_error(r, status):
    assert r.status_code == status, (r.status_code, r.text)
    assert_json_headers(r)
    body = r.json()
    assert isinstance(body.get("errors"), list), body
    return body


def raw_request(port, request_line, headers, body_len=0, chunk=1 << 16):
    """Send a request by hand (no path normalisation, streamed body that
    stops as soon as the server answers). Returns (status, head, body)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    try:
        head = request_line + "\r\n" + "".join(
            "%s: %s\r\n" % kv for kv in headers.items())
        if body_len:
            head += "Content-Length: %d\r\n" % body_len
        s.sendall((head + "Connection: close\r\n\r\n").encode())
        sent, block = 0, b"a" * chunk
        while sent < body_len:
            r, _, _ = select.select([s], [], [], 0)
            if r:
                break                          # the server answered early
            n = min(chunk, body_len - sent)
            try:
                s.sendall(block[:n])
            except (BrokenPipeError, ConnectionResetError):
                break
            sent += n
        data = b""
        while True:
            try:
                part = s.recv(65536)
            except ConnectionResetError:
                break
            if not part:
                break
            data += part
    finally:
        s.close()
    assert data, "no response"
    status = int(data.split(b" ", 2)[1])
    head, _, body = data.partition(b"\r\n\r\n")
    return status, head.decode("latin-1"), body


# -- envelope, headers, bare endpoints ------------------------------------

def test_envelope_fields_and_headers(active_server):
    srv, root, _ = active_server
    r = srv.get("sys/key-status", token=root)
    assert r.status_code == 200, r.text
    assert_json_headers(r)
    body = r.json()
    assert ENVELOPE <= set(body), body
    assert UUID.match(body["request_id"]), body["request_id"]
    assert body["lease_id"] == "" and body["renewable"] is False
    assert body["lease_duration"] == 0
    assert body["wrap_info"] is None and body["auth"] is None
    assert body["warnings"] is None
    d = body["data"]
    assert d["term"] == 1 and isinstance(d["encryptions"], int)
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", d["install_time"])
    # Legacy route: data duplicated at the top level.
    assert body["term"] == 1 and body["install_time"] == d["install_time"]
    r2 = srv.get("sys/key-status", token=root)
    assert r2.json()["request_id"] != body["request_id"]

    r = srv.lookup_self(root)
    assert r.status_code == 200, r.text
    assert_json_headers(r)
    body = r.json()
    assert ENVELOPE <= set(body)
    d = body["data"]
    for k in ("accessor", "creation_time", "creation_ttl", "display_name",
              "expire_time", "explicit_max_ttl", "id", "meta", "num_uses",
              "orphan", "path", "policies", "renewable", "ttl", "type"):
        assert k in d, k
    assert d["id"] == root and d["policies"] == ["root"]
    assert d["accessor"] and d["accessor"] != root

    r = srv.get("sys/mounts", token=root)
    assert r.status_code == 200, r.text
    body = r.json()
    assert "sys/" in body["data"], body
    assert "sys/" in body, "sys/mounts data not duplicated at top level"
    assert body["data"]["sys/"]["type"] == "system"
    assert isinstance(hvac.Client(url=srv.addr, token=root, timeout=30)
                      .sys.list_mounted_secrets_engines(), dict)


def test_bare_sys_endpoints(active_server):
    srv, root, _ = active_server
    for path in ("sys/health", "sys/seal-status", "sys/init", "sys/leader"):
        r = srv.get(path)
        assert r.status_code == 200, (path, r.status_code, r.text)
        assert_json_headers(r)
        body = r.json()
        assert "request_id" not in body and "data" not in body, (path, body)
    st = srv.get("sys/seal-status").json()
    for k in ("type", "initialized", "sealed", "t", "n", "progress",
              "nonce", "version", "recovery_seal", "storage_type"):
        assert k in st, k
    assert st["storage_type"] == "sqlite"
    assert st["cluster_name"] and st["cluster_id"]
    ld = srv.get("sys/leader").json()
    for k in ("ha_enabled", "is_self", "leader_address",
              "leader_cluster_address", "performance_standby"):
        assert k in ld, k
    assert ld["ha_enabled"] is False
    h = srv.get("sys/health").json()
    assert h["cluster_id"] == st["cluster_id"]
    assert abs(h["server_time_utc"] - time.time()) < 300


# -- status codes -----------------------------------------------------------

def test_not_found_and_method_not_allowed(active_server):
    srv, root, _ = active_server
    assert_error(srv.get("no/such/mount/here", token=root), 404)
    assert_error(srv.get("sys/no-such-endpoint", token=root), 404)
    assert_error(srv.req("DELETE", "sys/key-status", token=root), 405)
    assert_error(srv.req("PATCH", "sys/rotate", token=root,
                         data="{}", headers={"Content-Type":
                                             "application/merge-patch+json"}),
                 405)
    r = srv.req("GET", "sys/rotate", token=root)
    assert r.status_code == 405, (r.status_code, r.text)
    # Paths ending in a period are 404, as in Vault.
    assert_error(srv.get("sys/key-status.", token=root), 404)
    # hvac maps 404 to InvalidPath.
    c = hvac.Client(url=srv.addr, token=root, timeout=30)
    with pytest.raises(hvac.exceptions.InvalidPath):
        c.adapter.get("/v1/no/such/mount/here")


def test_tokens_and_bearer(active_server):
    srv, root, _ = active_server
    assert_error(srv.get("sys/key-status"), 403)
    assert_error(srv.get("sys/key-status", token="hvs.bogus000000000000"), 403)
    assert_error(srv.get("sys/key-status", token=""), 403)
    assert_error(srv.lookup_self("hvs.bogus000000000000"), 403)
    assert_error(srv.get("sys/key-status",
                         headers={"Authorization": "Bearer nope"}), 403)
    r = srv.get("sys/key-status", token=root, bearer=True)
    assert r.status_code == 200, r.text
    r = srv.lookup_self(root)
    assert r.status_code == 200
    r = srv.req("GET", "auth/token/lookup-self", token=root, bearer=True)
    assert r.status_code == 200 and r.json()["data"]["id"] == root
    assert hvac.Client(url=srv.addr, token=root,
                       timeout=30).is_authenticated() is True
    assert hvac.Client(url=srv.addr, token="hvs.bogus",
                       timeout=30).is_authenticated() is False
    with pytest.raises(hvac.exceptions.Forbidden):
        hvac.Client(url=srv.addr, token="hvs.bogus", timeout=30) \
            .lookup_token()


def test_bad_json_bodies(active_server):
    srv, root, _ = active_server
    for body in ("{not json", "[1, 2]", '"a string"', "42", '{"input": '):
        r = srv.req("POST", "sys/tools/hash", token=root, data=body)
        assert_error(r, 400)
    r = srv.req("PUT", "sys/unseal", data="{oops")
    assert_error(r, 400)
    # Pathologically deep nesting and invalid UTF-8: 400, server still up.
    deep = '{"input":' + "[" * 20000 + "]" * 20000 + "}"
    assert_error(srv.req("POST", "sys/tools/hash", token=root, data=deep), 400)
    assert_error(srv.req("POST", "sys/tools/hash", token=root,
                         data=b'{"input": "\xff\xfe"}'), 400)
    assert srv.lookup_self(root).status_code == 200
    # A body is optional: no body at all is fine where nothing is required.
    r = srv.req("POST", "sys/tools/random", token=root)
    assert r.status_code == 200, r.text


def test_request_size_limit(workdir, token):
    srv = ch.Coffer(workdir, token,
                    listener_extra="  max_request_size = 1024\n").start()
    root = srv.init_pkcs11()["root_token"]
    small = base64.b64encode(b"x" * 600).decode()
    r = srv.post("sys/tools/hash", {"input": small}, token=root)
    assert r.status_code == 200, r.text
    big = base64.b64encode(b"x" * 1500).decode()
    r = srv.post("sys/tools/hash", {"input": big}, token=root)
    assert_error(r, 413)
    # Still serving afterwards.
    assert srv.lookup_self(root).status_code == 200


def test_default_request_size_limit_is_32mib(active_server):
    srv, root, _ = active_server
    status, head, _ = raw_request(
        srv.port, "POST /v1/sys/tools/hash HTTP/1.1",
        {"Host": "127.0.0.1", "X-Vault-Token": root,
         "Content-Type": "application/json"},
        body_len=32 * 1024 * 1024 + 4096)
    assert status == 413, head
    assert srv.lookup_self(root).status_code == 200


def test_dot_dot_in_path(active_server):
    srv, root, _ = active_server
    for path in ("/v1/sys/tools/../key-status", "/v1/sys/../sys/health",
                 "/v1/auth/token/../../sys/key-status"):
        status, head, body = raw_request(
            srv.port, "GET %s HTTP/1.1" % path,
            {"Host": "127.0.0.1", "X-Vault-Token": root})
        assert status == 400, (path, head, body)
        assert b"errors" in body


def test_paths_with_no_segments(active_server):
    """/v1/ and friends name nothing: a clean 404 (the normaliser once
    read past its buffer here; fuzz_path found it)."""
    srv, root, _ = active_server
    for path in ("/v1/", "/v1//", "/v1/./", "/v1/.//./"):
        status, head, body = raw_request(
            srv.port, "GET %s HTTP/1.1" % path,
            {"Host": "127.0.0.1", "X-Vault-Token": root})
        assert status == 404, (path, head, body)
        assert b"errors" in body


def test_list_method_and_query(active_server):
    srv, root, _ = active_server
    # The LIST verb and ?list=true are understood (404 = nothing there).
    assert_error(srv.req("LIST", "no/such/mount", token=root), 404)
    assert_error(srv.get("no/such/mount", token=root,
                         params={"list": "true"}), 404)
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=30)
    conn.request("LIST", "/v1/no/such/mount/", headers={"X-Vault-Token": root})
    assert conn.getresponse().status == 404
    conn.close()
    if not ch.try_enable_kv(srv, root):
        pytest.skip("no KV engine at secret/: LIST of real keys skipped")
    for p in ("dir/a", "dir/b", "top"):
        r = srv.post("secret/data/" + p, {"data": {"k": "v"}}, token=root)
        assert r.status_code == 200, r.text
    for r in (srv.req("LIST", "secret/metadata/", token=root),
              srv.get("secret/metadata", token=root,
                      params={"list": "true"})):
        assert r.status_code == 200, r.text
        keys = r.json()["data"]["keys"]
        assert "dir/" in keys and "top" in keys, keys
    r = srv.req("LIST", "secret/metadata/dir", token=root)
    assert sorted(r.json()["data"]["keys"]) == ["a", "b"]
    assert_error(srv.req("LIST", "secret/metadata/empty/", token=root), 404)


def test_put_and_post_are_synonyms(active_server):
    srv, root, _ = active_server
    assert srv.post("sys/rotate", token=root).status_code == 204
    assert srv.put("sys/rotate", token=root).status_code == 204
    assert srv.get("sys/key-status", token=root).json()["data"]["term"] == 3
    for m in ("PUT", "POST"):
        r = srv.req(m, "sys/tools/hash", token=root,
                    json_body={"input": base64.b64encode(b"hi").decode()})
        assert r.status_code == 200, (m, r.text)


# -- sys/tools --------------------------------------------------------------

def random_bytes(r, fmt):
    assert r.status_code == 200, (r.status_code, r.text)
    assert_json_headers(r)
    s = r.json()["data"]["random_bytes"]
    if fmt == "hex":
        return bytes.fromhex(s)
    return base64.b64decode(s, validate=True)


def test_random(active_server):
    srv, root, _ = active_server
    assert len(random_bytes(srv.get("sys/tools/random", token=root),
                            "base64")) == 32
    assert len(random_bytes(srv.post("sys/tools/random",
                                     {"format": "hex", "bytes": 16},
                                     token=root), "hex")) == 16
    r = srv.get("sys/tools/random/24", token=root)
    assert len(random_bytes(r, "base64")) == 24
    r = srv.get("sys/tools/random/48", token=root, params={"format": "hex"})
    s = r.json()["data"]["random_bytes"]
    assert re.fullmatch(r"[0-9a-f]{96}", s), s
    for source in ("platform", "seal", "all"):
        r = srv.post("sys/tools/random/%s/10" % source, {"format": "hex"},
                     token=root)
        assert len(random_bytes(r, "hex")) == 10, source
        r = srv.post("sys/tools/random", {"source": source, "bytes": 7},
                     token=root)
        assert len(random_bytes(r, "base64")) == 7, source
    r = srv.get("sys/tools/random/seal", token=root)
    assert len(random_bytes(r, "base64")) == 32
    a = random_bytes(srv.get("sys/tools/random/32", token=root), "base64")
    b = random_bytes(srv.get("sys/tools/random/32", token=root), "base64")
    assert a != b

    for bad in ({"bytes": 0}, {"bytes": -5}, {"bytes": 10 ** 9},
                {"bytes": "many"}, {"format": "base32"},
                {"source": "moon"}):
        assert_error(srv.post("sys/tools/random", bad, token=root), 400)
    assert_error(srv.get("sys/tools/random/abc", token=root), 400)
    assert_error(srv.get("sys/tools/random/0", token=root), 400)


HELLO_SHA256 = ("2cf24dba5fb0a30e26e83b2ac5b9e29e"
                "1b161e5c1fa7425e73043362938b9824")


def test_hash_vectors(active_server):
    srv, root, _ = active_server
    hello = base64.b64encode(b"hello").decode()
    r = srv.post("sys/tools/hash", {"input": hello}, token=root)
    assert r.status_code == 200, r.text
    assert_json_headers(r)
    assert r.json()["data"]["sum"] == HELLO_SHA256
    r = srv.post("sys/tools/hash/sha2-256", {"input": hello}, token=root)
    assert r.json()["data"]["sum"] == HELLO_SHA256
    r = srv.post("sys/tools/hash", {"input": hello, "format": "base64"},
                 token=root)
    assert base64.b64decode(r.json()["data"]["sum"]).hex() == HELLO_SHA256
    msg = b"The quick brown fox jumps over the lazy dog"
    m64 = base64.b64encode(msg).decode()
    for alg, fn in (("sha2-224", "sha224"), ("sha2-384", "sha384"),
                    ("sha2-512", "sha512"), ("sha3-256", "sha3_256")):
        r = srv.post("sys/tools/hash/" + alg, {"input": m64}, token=root)
        assert r.status_code == 200, (alg, r.text)
        assert r.json()["data"]["sum"] == hashlib.new(fn, msg).hexdigest()
        r = srv.post("sys/tools/hash", {"input": m64, "algorithm": alg},
                     token=root)
        assert r.json()["data"]["sum"] == hashlib.new(fn, msg).hexdigest()
    # Empty input hashes the empty string.
    r = srv.post("sys/tools/hash", {"input": ""}, token=root)
    if r.status_code == 200:
        assert r.json()["data"]["sum"] == hashlib.sha256(b"").hexdigest()
    else:
        assert_error(r, 400)

    assert_error(srv.post("sys/tools/hash/md5", {"input": hello},
                          token=root), 400)
    assert_error(srv.post("sys/tools/hash", {"input": hello,
                                             "algorithm": "sha2-999"},
                          token=root), 400)
    assert_error(srv.post("sys/tools/hash", {"input": "%%% not b64 %%%"},
                          token=root), 400)
    assert_error(srv.post("sys/tools/hash", {"input": hello,
                                             "format": "binary"},
                          token=root), 400)


# -- sealed and uninitialised -------------------------------------------

def test_sealed_answers_503(active_server):
    srv, root, _ = active_server
    assert srv.put("sys/seal", token=root).status_code == 204
    for m, p in (("GET", "sys/key-status"), ("GET", "auth/token/lookup-self"),
                 ("PUT", "sys/rotate"), ("GET", "sys/mounts"),
                 ("GET", "sys/tools/random"), ("GET", "no/such/path")):
        assert_error(srv.req(m, p, token=root), 503)
        assert_error(srv.req(m, p), 503)
    with pytest.raises(hvac.exceptions.VaultDown):
        hvac.Client(url=srv.addr, token=root, timeout=30).lookup_token()
    for p in ("sys/seal-status", "sys/init"):
        assert srv.get(p).status_code == 200, p
    assert srv.get("sys/health").status_code == 503


def test_uninitialised_answers_503(pkcs11_server):
    srv = pkcs11_server
    assert_error(srv.get("sys/key-status", token="hvs.anything"), 503)
    assert_error(srv.get("auth/token/lookup-self"), 503)
    assert srv.get("sys/seal-status").status_code == 200
    assert srv.get("sys/init").json() == {"initialized": False}


# -- dev mode -------------------------------------------------------------

def wait_for_text(srv, text, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if text in srv.stdout():
            return True
        if not srv.alive():
            break
        time.sleep(0.05)
    return text in srv.stdout()


def test_dev_mode(workdir):
    root = "root-dev-TOKEN-id-91c4"
    srv = ch.Coffer(workdir, dev=True, dev_root_token=root).start()
    # The banner is on stdout while it runs, not only at exit.
    assert wait_for_text(srv, "==> Coffer server started!"), srv.logs()
    assert "Root Token: %s" % root in srv.stdout()
    assert srv.health().status_code == 200
    st = srv.seal_status()
    assert st["initialized"] is True and st["sealed"] is False
    r = srv.lookup_self(root)
    assert r.status_code == 200, r.text
    assert r.json()["data"]["id"] == root
    assert srv.get("sys/key-status", token=root).status_code == 200
    assert_error(srv.get("sys/key-status", token="root-dev-wrong"), 403)
    assert srv.dev_dir and os.path.isdir(srv.dev_dir), \
        "dev mode storage not found under /tmp/coffer-dev-*"
    dev_dir = srv.dev_dir
    assert srv.stop() == 0
    assert not os.path.exists(dev_dir), "dev mode left %s behind" % dev_dir


def test_dev_mode_random_root_token(workdir):
    srv = ch.Coffer(workdir, dev=True).start()
    assert wait_for_text(srv, "==> Coffer server started!"), srv.logs()
    m = re.search(r"Root Token: (\S+)", srv.stdout())
    assert m, srv.stdout()
    root = m.group(1)
    assert root.startswith("hvs."), root
    assert srv.lookup_self(root).status_code == 200


# -- concurrency ----------------------------------------------------------

def test_concurrent_requests(active_server):
    """Several clients at once (token lookups, HSM random, hashing,
    rotations): every answer is right and the server survives."""
    from concurrent.futures import ThreadPoolExecutor
    srv, root, _ = active_server
    hello = base64.b64encode(b"hello").decode()

    def work(i):
        kind = i % 4
        if kind == 0:
            r = srv.lookup_self(root)
            return r.status_code == 200 and r.json()["data"]["id"] == root
        if kind == 1:
            r = srv.get("sys/tools/random/seal/16", token=root)
            return (r.status_code == 200 and len(base64.b64decode(
                r.json()["data"]["random_bytes"])) == 16)
        if kind == 2:
            r = srv.post("sys/tools/hash", {"input": hello}, token=root)
            return r.status_code == 200 and \
                r.json()["data"]["sum"] == HELLO_SHA256
        r = srv.put("sys/rotate", token=root)
        return r.status_code == 204

    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(work, range(160)))
    assert all(results), [i for i, ok in enumerate(results) if not ok]
    assert srv.alive()
    term = srv.get("sys/key-status", token=root).json()["data"]["term"]
    assert term == 1 + 40
    srv.restart()
    assert srv.lookup_self(root).status_code == 200
    assert srv.get("sys/key-status",
                   token=root).json()["data"]["term"] == 41
