"""KV v1 against the real server: hvac's secrets.kv.v1 API, plain HTTP for
the empty-LIST 404 and bad input, and the storage file for plaintext. Needs
the mount API (POST sys/mounts/<path>); skipped with a reason without it."""
import hvac
import pytest

import coffer_harness as ch


@pytest.fixture
def kv1(workdir, token):
    """(server, root, hvac client) with KV v1 at kv1/ ({"type": "kv"}) and
    at kvx/ (options.version "1" spelled out)."""
    srv = ch.Coffer(workdir, token).start()
    root = srv.init_pkcs11()["root_token"]
    r = srv.post("sys/mounts/kv1", {"type": "kv"}, token=root)
    if r.status_code not in (200, 204):
        pytest.skip("POST sys/mounts/kv1 answered %d: the mount API is not "
                    "there yet" % r.status_code)
    r = srv.post("sys/mounts/kvx", {"type": "kv",
                                    "options": {"version": "1"}},
                 token=root)
    assert r.status_code in (200, 204), r.text
    return srv, root, hvac.Client(url=srv.addr, token=root)


def test_write_read_delete(kv1):
    srv, root, c = kv1
    kv = c.secrets.kv.v1
    for mount in ("kv1", "kvx"):
        kv.create_or_update_secret("app/db", {"user": "u", "n": 1,
                                              "nested": {"a": [1, 2]}},
                                   mount_point=mount)
        got = kv.read_secret("app/db", mount_point=mount)
        assert got["data"] == {"user": "u", "n": 1, "nested": {"a": [1, 2]}}
        assert got["mount_type"] == "kv"
        # Vault gives v1 reads the mount's default lease (768h)
        assert got["lease_duration"] == 2764800
        # PUT replaces the whole object
        kv.create_or_update_secret("app/db", {"only": "this"}, method="PUT",
                                   mount_point=mount)
        assert kv.read_secret("app/db", mount_point=mount)["data"] == {
            "only": "this"}
        kv.delete_secret("app/db", mount_point=mount)
        with pytest.raises(hvac.exceptions.InvalidPath):
            kv.read_secret("app/db", mount_point=mount)
    r = srv.get("kv1/app/db", token=root)
    assert r.status_code == 404 and r.json() == {"errors": []}
    # deleting what is not there is fine
    assert srv.req("DELETE", "kv1/nothing", token=root).status_code == 204
    # a ttl in the secret becomes the lease duration, as in Vault
    srv.post("kv1/leased", {"v": "x", "ttl": "1h"}, token=root)
    assert srv.get("kv1/leased", token=root).json()["lease_duration"] == 3600


def test_list(kv1):
    srv, root, c = kv1
    kv = c.secrets.kv.v1
    for p in ("a", "dir/b", "dir/sub/c", "dir"):
        kv.create_or_update_secret(p, {"x": 1}, mount_point="kv1")
    assert kv.list_secrets("", mount_point="kv1")["data"]["keys"] == [
        "a", "dir", "dir/"]
    assert kv.list_secrets("dir", mount_point="kv1")["data"]["keys"] == [
        "b", "sub/"]
    assert kv.list_secrets("dir/sub/", mount_point="kv1")["data"][
        "keys"] == ["c"]
    with pytest.raises(hvac.exceptions.InvalidPath):
        kv.list_secrets("nope", mount_point="kv1")
    r = srv.req("LIST", "kv1/nope/", token=root)
    assert r.status_code == 404 and r.json() == {"errors": []}
    r = srv.get("kv1/dir", token=root, params={"list": "true"})
    assert r.status_code == 200 and r.json()["data"]["keys"] == [
        "b", "sub/"]
    # mounts do not see each other's keys
    with pytest.raises(hvac.exceptions.InvalidPath):
        kv.list_secrets("", mount_point="kvx")


def test_bad_input(kv1):
    srv, root, _ = kv1
    r = srv.post("kv1/x", {}, token=root)
    assert r.status_code == 400 and "data" in r.json()["errors"][0]
    r = srv.req("POST", "kv1/x", token=root, data="not json")
    assert r.status_code == 400
    r = srv.req("POST", "kv1/x", token=root, data='"a string"')
    assert r.status_code == 400
    r = srv.post("kv1/dir/", {"a": 1}, token=root)
    assert r.status_code == 400 and "path" in r.json()["errors"][0]
    r = srv.req("PATCH", "kv1/x", token=root, json_body={"a": 1},
                headers={"Content-Type": "application/merge-patch+json"})
    assert r.status_code == 405
    # v2 paths mean nothing special on a v1 mount: plain keys
    r = srv.get("kv1/data/x", token=root)
    assert r.status_code == 404
    assert srv.post("kv1/y", {"a": 1}, token=root).status_code == 204


def test_no_plaintext_survives_restart_and_rotate(kv1):
    srv, root, c = kv1
    kv = c.secrets.kv.v1
    m1 = "KV1-MARKER-before-rotate-0f9d2a"
    m2 = "KV1-MARKER-after-rotate-51c7e3"
    kv.create_or_update_secret("one", {"v": m1}, mount_point="kv1")
    assert srv.put("sys/rotate", token=root).status_code == 204
    kv.create_or_update_secret("two", {"v": m2}, mount_point="kv1")
    for phase in ("running", "stopped"):
        if phase == "stopped":
            srv.stop()
        blob = ch.storage_bytes(srv.db_path)
        assert b"logical/" in blob          # positive control
        for s in (m1, m2):
            for enc in ch.encodings(s):
                assert enc not in blob, (s, phase)
    srv.start()
    kv = hvac.Client(url=srv.addr, token=root).secrets.kv.v1
    assert kv.read_secret("one", mount_point="kv1")["data"] == {"v": m1}
    assert kv.read_secret("two", mount_point="kv1")["data"] == {"v": m2}
    assert kv.list_secrets("", mount_point="kv1")["data"]["keys"] == [
        "one", "two"]
