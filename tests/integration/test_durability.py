"""A response leaves only once every commit it could reflect is on disk.

Commits return before their fsync (SQLite WAL, synchronous=NORMAL); a
syncer thread fdatasyncs the WAL and the HTTP layer holds each response
until the syncer says the commits before it are durable (storage.h). These
tests run the real server with a small LD_PRELOAD shim around fdatasync
(tests/integration/shims/fdatasync_ctl.c) that can slow every sync down or
make it fail, as a slow or dying disk would. Nothing else is replaced."""
import os
import subprocess
import threading
import time

import pytest

import coffer_harness as ch

SHIM_SRC = os.path.join(ch.source_dir(), "tests", "integration", "shims",
                        "fdatasync_ctl.c")


@pytest.fixture
def shimmed(active_server, workdir):
    """(server, root, ctl dir): the active server restarted with the shim;
    files created in ctl steer every fdatasync."""
    srv, root, _ = active_server
    shim = os.path.join(workdir, "fdatasync_ctl.so")
    subprocess.run(["gcc", "-shared", "-fPIC", "-O2", "-o", shim, SHIM_SRC,
                    "-ldl"], check=True, capture_output=True)
    ctl = os.path.join(workdir, "fsync-ctl")
    os.mkdir(ctl)
    srv.stop()
    srv.extra_env.update({
        "LD_PRELOAD": shim, "COFFER_TEST_FSYNC_DIR": ctl,
        # The shim only wraps fdatasync; ASan need not come first.
        "ASAN_OPTIONS": os.environ.get("ASAN_OPTIONS", "")
        + ":verify_asan_link_order=0"})
    srv.start()
    r = srv.post("sys/mounts/kv", {"type": "kv"}, token=root)
    assert r.status_code == 204, r.text
    return srv, root, ctl


def touch(ctl, name):
    open(os.path.join(ctl, name), "w").close()


def wait_for_line(path, word, timeout=20):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if os.path.exists(path):
            with open(path) as f:
                if any(ln.split()[0] == word for ln in f if ln.strip()):
                    return
        time.sleep(0.01)
    raise AssertionError("no '%s' in %s" % (word, path))


def test_write_and_read_wait_for_the_sync(shimmed):
    srv, root, ctl = shimmed
    assert srv.put("kv/a", {"v": "1"}, token=root).status_code == 204
    touch(ctl, "slow")
    log = os.path.join(ctl, "log")
    result = {}

    def write():
        r = srv.put("kv/a", {"v": "2"}, token=root)
        result["write"] = (r.status_code, time.monotonic_ns())

    t = threading.Thread(target=write)
    t.start()
    # The write has committed and its sync has started (and sleeps): a
    # read now sees the new value, so it must wait for that sync too.
    wait_for_line(log, "start")
    r = srv.get("kv/a", token=root)
    read_at = time.monotonic_ns()
    t.join(timeout=30)
    os.unlink(os.path.join(ctl, "slow"))
    assert r.status_code == 200, r.text
    assert r.json()["data"] == {"v": "2"}
    with open(log) as f:
        done = [int(ln.split()[1]) for ln in f if ln.startswith("done")]
    assert done, "the sync never finished"
    status, write_at = result["write"]
    assert status == 204
    # Neither answer left before the first sync after the write was done.
    assert write_at > done[0]
    assert read_at > done[0]


def test_failed_sync_fails_the_write_and_everything_after(shimmed):
    srv, root, ctl = shimmed
    assert srv.put("kv/kept", {"v": "1"}, token=root).status_code == 204
    touch(ctl, "fail")
    r = srv.put("kv/lost", {"v": "2"}, token=root)
    assert r.status_code == 500, r.text
    assert r.json()["errors"]
    os.unlink(os.path.join(ctl, "fail"))
    # The disk's state is unknown from now on: writes are refused and no
    # answer claims anything, until a restart recovers from the WAL.
    r = srv.put("kv/later", {"v": "3"}, token=root)
    assert r.status_code == 500, r.text
    r = srv.get("kv/kept", token=root)
    assert r.status_code == 500, r.text
    assert "fdatasync of the WAL failed" in srv.all_logs()
    srv.stop()
    del srv.extra_env["LD_PRELOAD"]
    srv.start()
    r = srv.get("kv/kept", token=root)
    assert r.status_code == 200, r.text
    assert r.json()["data"] == {"v": "1"}
    assert srv.get("kv/later", token=root).status_code == 404
