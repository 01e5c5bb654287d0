"""KV v2 against the real server: hvac's secrets.kv.v2 API, and plain HTTP
for the shapes hvac does not show (404 with a body, empty LIST, 415 on
PATCH, bad input). Storage checks read the SQLite file directly."""
import http.client
import json
import re
import threading

import hvac
import pytest
import requests

import coffer_harness as ch

RFC3339_NS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$")
MERGE = {"Content-Type": "application/merge-patch+json"}


def mount_kv(srv, root, path, version):
    """POST sys/mounts/<path> for a kv engine of `version`; the status."""
    r = srv.post("sys/mounts/" + path,
                 {"type": "kv", "options": {"version": version}}, token=root)
    return r.status_code


@pytest.fixture
def kv(workdir, token):
    """(server, root token, hvac client) with KV v2 at secret/: a config-mode
    server and the mount API, or dev mode's secret/ if there is no mount
    API yet."""
    srv = ch.Coffer(workdir, token).start()
    root = srv.init_pkcs11()["root_token"]
    if mount_kv(srv, root, "secret", "2") not in (200, 204):
        srv.stop()
        srv = ch.Coffer(workdir, dev=True, dev_root_token="kv-root").start()
        root = "kv-root"
    return srv, root, hvac.Client(url=srv.addr, token=root)


@pytest.fixture
def kv_cfg(workdir, token):
    """As kv, but config mode only (restart, storage file): skipped when
    the mount API is not there."""
    srv = ch.Coffer(workdir, token).start()
    root = srv.init_pkcs11()["root_token"]
    code = mount_kv(srv, root, "secret", "2")
    if code not in (200, 204):
        pytest.skip("POST sys/mounts/secret answered %d: no mount API yet"
                    % code)
    return srv, root, hvac.Client(url=srv.addr, token=root)


def mount_uuid(srv, root, path="secret/"):
    r = srv.get("sys/mounts", token=root)
    assert r.status_code == 200, r.text
    return r.json()["data"][path]["uuid"]


def version_entries(srv, uuid):
    """Storage paths of the mount's version entries."""
    prefix = "logical/%s/ver/" % uuid
    return sorted(p for p in ch.db_entries(srv.db_path)
                  if p.startswith(prefix))


def errors_of(r):
    return " ".join(r.json().get("errors", []))


# -- hvac ----------------------------------------------------------------

def test_write_read_versions_and_metadata(kv):
    srv, root, c = kv
    kv2 = c.secrets.kv.v2
    w1 = kv2.create_or_update_secret("app/db", {"user": "u1", "n": 1})
    assert w1["data"]["version"] == 1
    assert w1["data"]["deletion_time"] == ""
    assert w1["data"]["destroyed"] is False
    assert w1["data"]["custom_metadata"] is None
    assert RFC3339_NS.match(w1["data"]["created_time"])
    w2 = kv2.create_or_update_secret("app/db", {"user": "u2"})
    assert w2["data"]["version"] == 2

    latest = kv2.read_secret_version("app/db")
    assert latest["data"]["data"] == {"user": "u2"}
    assert latest["data"]["metadata"]["version"] == 2
    assert latest["mount_type"] == "kv"
    v1 = kv2.read_secret_version("app/db", version=1)
    assert v1["data"]["data"] == {"user": "u1", "n": 1}
    assert v1["data"]["metadata"]["version"] == 1
    # version=0 means the latest, as in Vault
    r = srv.get("secret/data/app/db", token=root, params={"version": 0})
    assert r.json()["data"]["metadata"]["version"] == 2

    md = kv2.read_secret_metadata("app/db")["data"]
    assert md["current_version"] == 2
    assert md["oldest_version"] == 0
    assert md["max_versions"] == 0
    assert md["cas_required"] is False
    assert md["delete_version_after"] == "0s"
    assert md["custom_metadata"] is None
    assert sorted(md["versions"]) == ["1", "2"]
    for v in md["versions"].values():
        assert RFC3339_NS.match(v["created_time"])
        assert v["deletion_time"] == ""
        assert v["destroyed"] is False
    assert RFC3339_NS.match(md["created_time"])
    assert md["updated_time"] == md["versions"]["2"]["created_time"]
    assert md["created_time"] == md["versions"]["1"]["created_time"]

    with pytest.raises(hvac.exceptions.InvalidPath):
        kv2.read_secret_version("app/missing")
    with pytest.raises(hvac.exceptions.InvalidPath):
        kv2.read_secret_version("app/db", version=3)
    with pytest.raises(hvac.exceptions.InvalidPath):
        kv2.read_secret_metadata("app/missing")


def test_check_and_set(kv):
    srv, root, c = kv
    kv2 = c.secrets.kv.v2
    assert kv2.create_or_update_secret("k", {"a": 1}, cas=0)["data"][
        "version"] == 1
    with pytest.raises(hvac.exceptions.InvalidRequest) as e:
        kv2.create_or_update_secret("k", {"a": 2}, cas=0)
    assert "check-and-set parameter did not match the current version" \
        in str(e.value)
    with pytest.raises(hvac.exceptions.InvalidRequest):
        kv2.create_or_update_secret("k", {"a": 2}, cas=5)
    assert kv2.create_or_update_secret("k", {"a": 2}, cas=1)["data"][
        "version"] == 2

    # cas_required on the key
    kv2.update_metadata("k", cas_required=True)
    with pytest.raises(hvac.exceptions.InvalidRequest) as e:
        kv2.create_or_update_secret("k", {"a": 3})
    assert "check-and-set parameter required" in str(e.value)
    assert kv2.create_or_update_secret("k", {"a": 3}, cas=2)["data"][
        "version"] == 3

    # cas_required on the mount
    kv2.configure(cas_required=True)
    with pytest.raises(hvac.exceptions.InvalidRequest):
        kv2.create_or_update_secret("other", {"a": 1})
    assert kv2.create_or_update_secret("other", {"a": 1}, cas=0)["data"][
        "version"] == 1
    kv2.configure(cas_required=False)
    assert kv2.create_or_update_secret("other", {"a": 2})["data"][
        "version"] == 2


def test_concurrent_cas_writers(kv):
    """Many writers with cas=N on the same key: exactly one wins per
    version, none is lost or doubled."""
    srv, root, _ = kv
    url = srv.url("secret/data/race")
    h = {"X-Vault-Token": root}
    wins, losses, lock = [], [], threading.Lock()

    def writer(i):
        s = requests.Session()
        for cas in range(4):
            r = s.post(url, headers=h, timeout=30,
                       data=json.dumps({"data": {"w": i},
                                        "options": {"cas": cas}}))
            with lock:
                if r.status_code == 200:
                    wins.append(r.json()["data"]["version"])
                else:
                    assert r.status_code == 400, r.text
                    losses.append(cas)

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(wins) == list(range(1, len(wins) + 1))
    assert len(wins) + len(losses) == 24
    md = srv.get("secret/metadata/race", token=root).json()["data"]
    assert md["current_version"] == len(wins)


def test_delete_undelete_destroy(kv):
    srv, root, c = kv
    kv2 = c.secrets.kv.v2
    for i in range(3):
        kv2.create_or_update_secret("d", {"i": i})

    kv2.delete_latest_version_of_secret("d")
    with pytest.raises(hvac.exceptions.InvalidPath):
        kv2.read_secret_version("d")
    # 404 whose body still carries the version's metadata
    r = srv.get("secret/data/d", token=root)
    assert r.status_code == 404
    body = r.json()
    assert body["errors"] == []
    assert body["data"]["data"] is None
    meta = body["data"]["metadata"]
    assert meta["version"] == 3
    assert RFC3339_NS.match(meta["deletion_time"])
    assert meta["destroyed"] is False
    assert kv2.read_secret_version("d", version=2)["data"]["data"] == {
        "i": 1}

    kv2.undelete_secret_versions("d", versions=[3])
    assert kv2.read_secret_version("d")["data"]["data"] == {"i": 2}
    assert kv2.read_secret_metadata("d")["data"]["versions"]["3"][
        "deletion_time"] == ""

    kv2.delete_secret_versions("d", versions=[1, 2, 99])
    for v in (1, 2):
        r = srv.get("secret/data/d", token=root, params={"version": v})
        assert r.status_code == 404
        assert r.json()["data"]["metadata"]["deletion_time"] != ""
    kv2.undelete_secret_versions("d", versions=[2])
    assert kv2.read_secret_version("d", version=2)["data"]["data"] == {
        "i": 1}

    kv2.destroy_secret_versions("d", versions=[1])
    r = srv.get("secret/data/d", token=root, params={"version": 1})
    assert r.status_code == 404
    assert r.json()["data"]["data"] is None
    assert r.json()["data"]["metadata"]["destroyed"] is True
    md = kv2.read_secret_metadata("d")["data"]
    assert md["versions"]["1"]["destroyed"] is True
    assert md["current_version"] == 3
    # undelete cannot bring a destroyed version back
    kv2.undelete_secret_versions("d", versions=[1])
    assert srv.get("secret/data/d", token=root,
                   params={"version": 1}).status_code == 404
    # operations on a key that does not exist are no-ops, as in Vault
    assert srv.post("secret/delete/nope", {"versions": [1]},
                    token=root).status_code == 204
    assert srv.post("secret/destroy/nope", {"versions": [1]},
                    token=root).status_code == 204
    assert srv.req("DELETE", "secret/data/nope",
                   token=root).status_code == 204


def test_destroy_wipes_the_ciphertext(kv_cfg):
    srv, root, c = kv_cfg
    kv2 = c.secrets.kv.v2
    uuid = mount_uuid(srv, root)
    kv2.create_or_update_secret("w", {"v": "one"})
    kv2.create_or_update_secret("w", {"v": "two"})
    before = version_entries(srv, uuid)
    assert len(before) == 2
    kv2.destroy_secret_versions("w", versions=[1])
    after = version_entries(srv, uuid)
    assert len(after) == 1 and after[0] in before
    assert after[0].endswith("/2")
    # soft delete keeps the ciphertext (undelete needs it)
    kv2.delete_latest_version_of_secret("w")
    assert version_entries(srv, uuid) == after
    kv2.delete_metadata_and_all_versions("w")
    assert version_entries(srv, uuid) == []
    assert not [p for p in ch.db_entries(srv.db_path)
                if p.startswith("logical/%s/meta/" % uuid)]


def test_list(kv):
    srv, root, c = kv
    kv2 = c.secrets.kv.v2
    for p in ("a", "dir/b", "dir/sub/c", "z/"[:-1]):
        kv2.create_or_update_secret(p, {"x": 1})
    assert kv2.list_secrets("")["data"]["keys"] == ["a", "dir/", "z"]
    assert kv2.list_secrets("dir")["data"]["keys"] == ["b", "sub/"]
    assert kv2.list_secrets("dir/")["data"]["keys"] == ["b", "sub/"]
    assert kv2.list_secrets("dir/sub")["data"]["keys"] == ["c"]
    with pytest.raises(hvac.exceptions.InvalidPath):
        kv2.list_secrets("nothing")
    # plain HTTP: both list styles, and the empty list is a bare 404
    r = srv.req("LIST", "secret/metadata", token=root)
    assert r.status_code == 200 and r.json()["data"]["keys"] == [
        "a", "dir/", "z"]
    r = srv.get("secret/metadata/dir/", token=root, params={"list": "true"})
    assert r.json()["data"]["keys"] == ["b", "sub/"]
    r = srv.req("LIST", "secret/metadata/nothing/", token=root)
    assert r.status_code == 404
    assert r.json() == {"errors": []}
    # a deleted (soft or all versions) key disappears from LIST only with
    # its metadata
    kv2.delete_latest_version_of_secret("a")
    assert "a" in kv2.list_secrets("")["data"]["keys"]
    kv2.delete_metadata_and_all_versions("a")
    assert kv2.list_secrets("")["data"]["keys"] == ["dir/", "z"]


def test_patch(kv):
    srv, root, c = kv
    kv2 = c.secrets.kv.v2
    with pytest.raises(hvac.exceptions.InvalidPath):
        kv2.patch("p", {"a": 1})
    kv2.create_or_update_secret("p", {"a": 1, "b": {"c": 1, "d": 2}})
    # hvac's patch: read + write with cas
    kv2.patch("p", {"e": 5})
    assert kv2.read_secret_version("p")["data"]["data"] == {
        "a": 1, "b": {"c": 1, "d": 2}, "e": 5}

    # HTTP PATCH: RFC 7386 merge patch
    r = srv.req("PATCH", "secret/data/p", token=root, headers=MERGE,
                json_body={"data": {"a": None, "b": {"c": 9}, "f": [1]}})
    assert r.status_code == 200, r.text
    assert r.json()["data"]["version"] == 3
    assert kv2.read_secret_version("p")["data"]["data"] == {
        "b": {"c": 9, "d": 2}, "e": 5, "f": [1]}
    # cas on PATCH
    r = srv.req("PATCH", "secret/data/p", token=root, headers=MERGE,
                json_body={"data": {"g": 1}, "options": {"cas": 1}})
    assert r.status_code == 400
    assert "check-and-set" in errors_of(r)
    r = srv.req("PATCH", "secret/data/p", token=root, headers=MERGE,
                json_body={"data": {"g": 1}, "options": {"cas": 3}})
    assert r.status_code == 200, r.text

    # without the merge-patch content type: 415
    for h in ({}, {"Content-Type": "application/json"}):
        r = srv.req("PATCH", "secret/data/p", token=root, headers=h,
                    json_body={"data": {"x": 1}})
        assert r.status_code == 415, r.text
        assert "merge-patch" in errors_of(r)
    # on a missing or deleted key: 404
    r = srv.req("PATCH", "secret/data/nope", token=root, headers=MERGE,
                json_body={"data": {"x": 1}})
    assert r.status_code == 404
    kv2.delete_latest_version_of_secret("p")
    r = srv.req("PATCH", "secret/data/p", token=root, headers=MERGE,
                json_body={"data": {"x": 1}})
    assert r.status_code == 404


def test_metadata_max_versions_and_custom(kv):
    srv, root, c = kv
    kv2 = c.secrets.kv.v2
    # metadata can exist before any version
    kv2.update_metadata("m", max_versions=2)
    md = kv2.read_secret_metadata("m")["data"]
    assert md["current_version"] == 0 and md["versions"] == {}
    assert md["max_versions"] == 2
    with pytest.raises(hvac.exceptions.InvalidPath):
        kv2.read_secret_version("m")
    for i in range(4):
        kv2.create_or_update_secret("m", {"i": i})
    md = kv2.read_secret_metadata("m")["data"]
    assert sorted(md["versions"]) == ["3", "4"]
    assert md["oldest_version"] == 3
    assert md["current_version"] == 4
    with pytest.raises(hvac.exceptions.InvalidPath):
        kv2.read_secret_version("m", version=1)
    assert kv2.read_secret_version("m", version=3)["data"]["data"] == {
        "i": 2}

    # custom_metadata: POST replaces, PATCH merges
    r = srv.post("secret/metadata/m", {"custom_metadata": {"owner": "ops",
                                                          "tier": "1"}},
                 token=root)
    assert r.status_code == 204, r.text
    r = srv.req("PATCH", "secret/metadata/m", token=root, headers=MERGE,
                json_body={"custom_metadata": {"tier": None, "env": "prod"},
                           "max_versions": 5})
    assert r.status_code == 204, r.text
    md = kv2.read_secret_metadata("m")["data"]
    assert md["custom_metadata"] == {"owner": "ops", "env": "prod"}
    assert md["max_versions"] == 5
    got = kv2.read_secret_version("m")["data"]["metadata"]
    assert got["custom_metadata"] == {"owner": "ops", "env": "prod"}
    r = srv.req("PATCH", "secret/metadata/m", token=root,
                json_body={"max_versions": 1})
    assert r.status_code == 415
    r = srv.req("PATCH", "secret/metadata/none", token=root, headers=MERGE,
                json_body={"max_versions": 1})
    assert r.status_code == 404

    # delete_version_after gives new versions a deletion time
    kv2.update_metadata("m", delete_version_after="1h")
    assert kv2.read_secret_metadata("m")["data"][
        "delete_version_after"] == "1h0m0s"
    w = kv2.create_or_update_secret("m", {"i": 9})["data"]
    assert RFC3339_NS.match(w["deletion_time"])
    assert w["deletion_time"] > w["created_time"]
    assert kv2.read_secret_version("m")["data"]["data"] == {"i": 9}


def test_configure(kv):
    srv, root, c = kv
    kv2 = c.secrets.kv.v2
    cfg = kv2.read_configuration()["data"]
    assert cfg == {"cas_required": False, "delete_version_after": "0s",
                   "max_versions": 0}
    kv2.configure(max_versions=3, delete_version_after="90s")
    cfg = kv2.read_configuration()["data"]
    assert cfg == {"cas_required": False, "delete_version_after": "1m30s",
                   "max_versions": 3}
    for i in range(5):
        kv2.create_or_update_secret("c", {"i": i})
    assert sorted(kv2.read_secret_metadata("c")["data"]["versions"]) == [
        "3", "4", "5"]
    # a key's own max_versions overrides the mount's
    kv2.update_metadata("c", max_versions=4)
    kv2.create_or_update_secret("c", {"i": 5})
    assert sorted(kv2.read_secret_metadata("c")["data"]["versions"]) == [
        "3", "4", "5", "6"]
    # 0 means the default of 10
    kv2.configure(max_versions=0)
    kv2.update_metadata("c", max_versions=0)
    for i in range(10):
        kv2.create_or_update_secret("c", {"i": i})
    assert len(kv2.read_secret_metadata("c")["data"]["versions"]) == 10


def test_delete_metadata_and_all_versions(kv):
    srv, root, c = kv
    kv2 = c.secrets.kv.v2
    kv2.create_or_update_secret("gone", {"a": 1})
    kv2.create_or_update_secret("gone", {"a": 2})
    kv2.delete_metadata_and_all_versions("gone")
    with pytest.raises(hvac.exceptions.InvalidPath):
        kv2.read_secret_version("gone", version=1)
    with pytest.raises(hvac.exceptions.InvalidPath):
        kv2.read_secret_metadata("gone")
    r = srv.get("secret/data/gone", token=root)
    assert r.status_code == 404 and r.json() == {"errors": []}
    # the key starts over at version 1
    assert kv2.create_or_update_secret("gone", {"a": 3})["data"][
        "version"] == 1


def test_subkeys(kv):
    srv, root, c = kv
    c.secrets.kv.v2.create_or_update_secret(
        "s", {"a": 1, "b": {"c": {"d": 1}, "e": "x"}, "f": [1, 2]})
    r = srv.get("secret/subkeys/s", token=root)
    assert r.status_code == 200, r.text
    assert r.json()["data"]["subkeys"] == {
        "a": None, "b": {"c": {"d": None}, "e": None}, "f": None}
    assert r.json()["data"]["metadata"]["version"] == 1
    r = srv.get("secret/subkeys/s", token=root, params={"depth": 1})
    assert r.json()["data"]["subkeys"] == {"a": None, "b": None, "f": None}
    r = srv.get("secret/subkeys/s", token=root, params={"depth": 2})
    assert r.json()["data"]["subkeys"]["b"] == {"c": None, "e": None}
    assert srv.get("secret/subkeys/none", token=root).status_code == 404
    c.secrets.kv.v2.delete_latest_version_of_secret("s")
    r = srv.get("secret/subkeys/s", token=root)
    assert r.status_code == 404
    assert r.json()["data"]["subkeys"] is None
    assert r.json()["data"]["metadata"]["deletion_time"] != ""


def test_bad_input(kv):
    srv, root, c = kv
    c.secrets.kv.v2.create_or_update_secret("ok", {"a": 1})

    def post(path, body, want, field):
        r = srv.post(path, body, token=root)
        assert r.status_code == want, (path, body, r.status_code, r.text)
        if field:
            assert field in errors_of(r), (body, r.text)

    for data in ("str", [1, 2], 5, True):
        post("secret/data/x", {"data": data}, 400, "'data'")
    post("secret/data/x", {}, 400, "data")
    post("secret/data/x", {"data": None}, 400, "data")
    post("secret/data/x", {"data": {}, "options": "x"}, 400, "'options'")
    for cas in (-1, 1.5, "abc", "-2", True, [0], {}):
        post("secret/data/x", {"data": {"a": 1}, "options": {"cas": cas}},
             400, "'cas'")
    for vs in (["x"], [-1], "a", [1.5], [None]):
        post("secret/delete/ok", {"versions": vs}, 400, "'versions'")
        post("secret/destroy/ok", {"versions": vs}, 400, "'versions'")
        post("secret/undelete/ok", {"versions": vs}, 400, "'versions'")
    post("secret/delete/ok", {}, 400, "versions")
    post("secret/destroy/ok", {"versions": []}, 400, "versions")
    post("secret/metadata/ok", {"max_versions": -1}, 400, "'max_versions'")
    post("secret/metadata/ok", {"max_versions": "many"}, 400,
         "'max_versions'")
    post("secret/metadata/ok", {"cas_required": "maybe"}, 400,
         "'cas_required'")
    post("secret/metadata/ok", {"delete_version_after": "soon"}, 400,
         "'delete_version_after'")
    for dva in (-5, "forever", 10 ** 12, "9999999999h",
                "99999999999999999999s"):
        post("secret/metadata/ok", {"delete_version_after": dva}, 400,
             "'delete_version_after'")
        post("secret/config", {"delete_version_after": dva}, 400,
             "'delete_version_after'")
    post("secret/metadata/ok", {"custom_metadata": "x"}, 400,
         "'custom_metadata'")
    post("secret/metadata/ok", {"custom_metadata": {"a": 1}}, 400,
         "'custom_metadata'")
    post("secret/metadata/ok", {"custom_metadata": {"k%d" % i: "v"
                                                    for i in range(65)}},
         400, "'custom_metadata'")
    post("secret/config", {"max_versions": -3}, 400, "'max_versions'")
    post("secret/config", {"cas_required": "perhaps"}, 400,
         "'cas_required'")
    post("secret/data/dir/", {"data": {"a": 1}}, 400, "path")

    for v in ("-1", "abc", "1.5"):
        r = srv.get("secret/data/ok", token=root, params={"version": v})
        assert r.status_code == 400, (v, r.text)
        assert "'version'" in errors_of(r)
    r = srv.get("secret/subkeys/ok", token=root, params={"depth": "-1"})
    assert r.status_code == 400 and "'depth'" in errors_of(r)

    # body that is not JSON / not an object
    r = srv.req("POST", "secret/data/x", token=root, data="{not json")
    assert r.status_code == 400
    r = srv.req("POST", "secret/data/x", token=root, data="[1,2]")
    assert r.status_code == 400
    # relative paths (http.client sends the path as given)
    for path in ("/v1/secret/data/../../sys/mounts",
                 "/v1/secret/data/a/../ok"):
        conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=30)
        conn.request("GET", path, headers={"X-Vault-Token": root})
        resp = conn.getresponse()
        assert resp.status == 400, path
        assert b"relative" in resp.read()
        conn.close()
    # methods and paths a v2 mount does not have
    assert srv.req("LIST", "secret/data/ok",
                   token=root).status_code == 405
    assert srv.get("secret/delete/ok", token=root).status_code == 405
    assert srv.req("DELETE", "secret/config",
                   token=root).status_code == 405
    r = srv.get("secret/ok", token=root)
    assert r.status_code == 404 and "versioned" in errors_of(r)
    # nothing above broke the key or the server
    assert c.secrets.kv.v2.read_secret_version("ok")["data"]["data"] == {
        "a": 1}
    assert c.secrets.kv.v2.read_secret_metadata("ok")["data"][
        "current_version"] == 1


def test_oversize_body(workdir, token):
    srv = ch.Coffer(workdir, token,
                    listener_extra="  max_request_size = 4096\n").start()
    root = srv.init_pkcs11()["root_token"]
    if mount_kv(srv, root, "secret", "2") not in (200, 204):
        pytest.skip("no mount API yet")
    r = srv.post("secret/data/big", {"data": {"v": "x" * 8192}}, token=root)
    assert r.status_code == 413
    r = srv.post("secret/data/small", {"data": {"v": "x"}}, token=root)
    assert r.status_code == 200


def test_no_plaintext_survives_restart_and_rotate(kv_cfg):
    srv, root, c = kv_cfg
    kv2 = c.secrets.kv.v2
    m1 = "KV2-MARKER-before-rotate-7d1f0c"
    m2 = "KV2-MARKER-after-rotate-9b3e55"
    cm = "KV2-CUSTOM-MARKER-44a0"
    kv2.create_or_update_secret("p/one", {"v": m1})
    srv.post("secret/metadata/p/one", {"custom_metadata": {"c": cm}},
             token=root)
    assert srv.put("sys/rotate", token=root).status_code == 204
    kv2.create_or_update_secret("p/two", {"v": m2})
    kv2.create_or_update_secret("p/one", {"v": m2})
    for phase in ("running", "stopped"):
        if phase == "stopped":
            srv.stop()
        blob = ch.storage_bytes(srv.db_path)
        assert b"logical/" in blob          # positive control
        for s in (m1, m2, cm):
            for enc in ch.encodings(s):
                assert enc not in blob, (s, phase)
    srv.start()
    c = hvac.Client(url=srv.addr, token=root)
    kv2 = c.secrets.kv.v2
    assert kv2.read_secret_version("p/one", version=1)["data"]["data"] == {
        "v": m1}
    assert kv2.read_secret_version("p/one")["data"]["data"] == {"v": m2}
    assert kv2.read_secret_version("p/two")["data"]["data"] == {"v": m2}
    assert kv2.read_secret_metadata("p/one")["data"]["custom_metadata"] == {
        "c": cm}
    assert kv2.list_secrets("p")["data"]["keys"] == ["one", "two"]


def test_kv_v2_type_and_ui_mounts(kv_cfg):
    """type=kv-v2 mounts the same engine as kv + version 2; the vault
    CLI's preflight (sys/internal/ui/mounts/<path>) sees type kv, v2."""
    srv, root, c = kv_cfg
    r = srv.post("sys/mounts/other", {"type": "kv-v2"}, token=root)
    assert r.status_code == 204, r.text
    c.secrets.kv.v2.create_or_update_secret("x", {"a": 1},
                                            mount_point="other")
    c.secrets.kv.v2.create_or_update_secret("x", {"a": 2},
                                            mount_point="other")
    assert c.secrets.kv.v2.read_secret_version(
        "x", version=1, mount_point="other")["data"]["data"] == {"a": 1}
    r = srv.get("sys/internal/ui/mounts/other/data/x", token=root)
    assert r.status_code == 200, r.text
    d = r.json()["data"]
    assert d["type"] == "kv" and d["options"]["version"] == "2"
    # mounts are isolated
    with pytest.raises(hvac.exceptions.InvalidPath):
        c.secrets.kv.v2.read_secret_version("x")
