"""cubbyhole/: per-token private storage on every server."""
import hvac

import coffer_harness as ch


def test_cubbyhole_crud_and_restart(active_server):
    s, root, _ = active_server
    c = hvac.Client(url=s.addr, token=root)
    marker = "CUBBY-PLAINTEXT-7d1e"
    c.write("cubbyhole/app/one", value=marker)
    c.write("cubbyhole/app/two", value="2")
    c.write("cubbyhole/top", value="t")
    assert c.read("cubbyhole/app/one")["data"] == {"value": marker}
    assert c.list("cubbyhole/app")["data"]["keys"] == ["one", "two"]
    assert c.list("cubbyhole")["data"]["keys"] == ["app/", "top"]

    # Stored under the token's HMAC, encrypted: neither the token nor the
    # value is readable in the SQLite file.
    raw = ch.storage_bytes(s.db_path)
    for enc in ch.encodings(marker) + ch.encodings(root):
        assert enc not in raw

    s.restart()
    assert c.read("cubbyhole/app/one")["data"] == {"value": marker}
    c.delete("cubbyhole/app/one")
    assert c.read("cubbyhole/app/one") is None


def test_cubbyhole_http_shapes(active_server):
    s, root, _ = active_server
    r = s.req("LIST", "cubbyhole/", token=root)
    assert r.status_code == 404 and r.json() == {"errors": []}
    r = s.get("cubbyhole/missing", token=root)
    assert r.status_code == 404
    r = s.post("cubbyhole/x", {}, token=root)
    assert r.status_code == 400 and "missing data" in r.text
    r = s.post("cubbyhole/", {"a": "b"}, token=root)
    assert r.status_code == 400
    r = s.get("cubbyhole/x", token=None)
    assert r.status_code == 403
