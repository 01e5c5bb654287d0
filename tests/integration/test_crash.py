"""kill -9 in the middle of a stream of writes: every write that was
acknowledged before the kill reads back after a restart."""
import threading
import time

import pytest
import requests

import coffer_harness as ch

ACKED_BEFORE_KILL = 8


def write_stream(send, acked, enough, stop, failures):
    """Call send(i) until it fails; record each acknowledged i."""
    i = 0
    while not stop.is_set():
        try:
            send(i)
        except requests.RequestException:
            return              # the kill: connection refused or reset
        except AssertionError as e:
            failures.append(str(e))
            return
        acked.append(i)
        i += 1
        if len(acked) >= ACKED_BEFORE_KILL:
            enough.set()


def run_and_kill(srv, send):
    acked, failures = [], []
    enough, stop = threading.Event(), threading.Event()
    t = threading.Thread(target=write_stream,
                         args=(send, acked, enough, stop, failures),
                         daemon=True)
    t.start()
    deadline = time.monotonic() + 120
    try:
        while not enough.wait(timeout=0.2):
            assert t.is_alive(), "writer stopped after %d writes: %s" % (
                len(acked), failures)
            assert time.monotonic() < deadline, \
                "only %d writes in 120 s" % len(acked)
        srv.kill9()                 # while the writer is mid-stream
    finally:
        stop.set()
        t.join(timeout=60)
    assert not t.is_alive()
    return list(acked)


def test_rotations_survive_kill9(active_server):
    srv, root, _ = active_server

    def rotate(_):
        r = srv.put("sys/rotate", token=root)
        assert r.status_code == 204, r.text

    acked = run_and_kill(srv, rotate)
    assert srv.proc.returncode == -9

    srv.start()
    assert srv.health().status_code == 200, srv.health().text
    r = srv.get("sys/key-status", token=root)
    assert r.status_code == 200, r.text
    term = r.json()["data"]["term"]
    # Every acknowledged rotation is there; at most the one in flight more.
    assert len(acked) + 1 <= term <= len(acked) + 2, (len(acked), term)
    assert srv.lookup_self(root).status_code == 200
    # And it keeps working: one more rotation, one more term.
    assert srv.put("sys/rotate", token=root).status_code == 204
    assert srv.get("sys/key-status",
                   token=root).json()["data"]["term"] == term + 1


def test_kv_writes_survive_kill9(active_server):
    srv, root, _ = active_server
    if not ch.try_enable_kv(srv, root):
        pytest.skip("no KV engine mountable at secret/")

    def write(i):
        r = srv.post("secret/data/k%d" % i, {"data": {"v": "value-%d" % i}},
                     token=root)
        assert r.status_code == 200, r.text

    acked = run_and_kill(srv, write)
    srv.start()
    assert srv.health().status_code == 200
    for i in acked:
        r = srv.get("secret/data/k%d" % i, token=root)
        assert r.status_code == 200, (i, r.text)
        assert r.json()["data"]["data"] == {"v": "value-%d" % i}
