"""pytest fixtures for the Coffer integration tests.

Each test gets its own temp dir, SoftHSM token and server; everything is
stopped (by PID) and removed afterwards. A failed test's report carries the
server logs.
"""
import os
import shutil
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))

import coffer_harness as ch  # noqa: E402


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if rep.failed and ch.LIVE:
        for i, srv in enumerate(ch.LIVE):
            rep.sections.append(("coffer server %d logs" % i, srv.logs()))


def _finish_servers():
    """Stop every server the test left running with SIGTERM; return what
    went wrong: a server that did not exit cleanly on SIGTERM (now or
    earlier in the test) or printed a sanitizer report (ASan/UBSan)."""
    problems = []
    try:
        for srv in list(ch.LIVE):
            try:
                srv.stop()
            except ch.ServerError as e:
                problems.append(str(e))
            problems += srv.shutdown_problems()
    finally:
        for srv in list(ch.LIVE):
            srv.cleanup()
        ch.LIVE.clear()
    return problems


@pytest.fixture(autouse=True)
def _live_servers():
    ch.LIVE.clear()
    yield
    _finish_servers()           # safety net; workdir normally did it


@pytest.fixture
def workdir():
    """A temp dir for the test's token, db, config and logs. Its teardown
    stops the servers first (their logs live here), then removes it."""
    d = ch.new_tmpdir()
    yield d
    problems = _finish_servers()
    shutil.rmtree(d, ignore_errors=True)
    if problems:
        pytest.fail("coffer shutdown/sanitizer problems:\n"
                    + "\n".join(problems), pytrace=False)


@pytest.fixture
def token(workdir):
    return ch.make_token(os.path.join(workdir, "hsm"), label="coffer-it")


@pytest.fixture
def pkcs11_server(workdir, token):
    """A started, uninitialised server with the pkcs11 seal."""
    return ch.Coffer(workdir, token).start()


@pytest.fixture
def active_server(pkcs11_server):
    """(server, root_token, init response) for an initialised, unsealed
    pkcs11-seal server."""
    init = pkcs11_server.init_pkcs11()
    return pkcs11_server, init["root_token"], init


@pytest.fixture
def shamir_server(workdir, token):
    """A started, uninitialised server with the shamir seal."""
    return ch.Coffer(workdir, token, seal="shamir").start()
