"""Start-up failures exit non-zero, quickly, with a message that names the
reason (and never the PIN)."""
import re

import coffer_harness as ch


def fails_to_start(srv):
    srv.spawn()
    rc = srv.wait_exit()
    assert rc != 0, "exit code %d\n%s" % (rc, srv.logs())
    return srv.stdout() + srv.stderr()


def test_wrong_pin(workdir, token):
    wrong = "wrong-pin-73519"
    out = fails_to_start(ch.Coffer(workdir, token, pin=wrong))
    assert "pin" in out.lower(), out
    assert wrong not in out, "the PIN was printed:\n" + out


def test_wrong_pin_from_environment(workdir, token):
    wrong = "wrong-pin-env-2208"
    out = fails_to_start(ch.Coffer(workdir, token, pin=False,
                                   env={"VAULT_HSM_PIN": wrong}))
    assert "pin" in out.lower(), out
    assert wrong not in out, "the PIN was printed:\n" + out


def test_wrong_pin_shamir_before_init(workdir, token):
    """With the shamir seal the configured PIN is only the initial one (init
    replaces it), so the server may either refuse to start or refuse init;
    it must never initialise with it."""
    wrong = "wrong-pin-9931"
    srv = ch.Coffer(workdir, token, seal="shamir", pin=wrong)
    srv.spawn()
    try:
        srv.wait_ready(timeout=ch.READY_TIMEOUT)
        up = True
    except ch.ServerError:
        up = False
    if up:
        r = srv.put("sys/init", {"secret_shares": 3, "secret_threshold": 2})
        assert r.status_code >= 400, r.text
        assert "pin" in r.text.lower(), r.text
        assert srv.get("sys/init").json() == {"initialized": False}
        srv.stop()
    else:
        assert srv.proc.returncode != 0
    out = srv.all_logs()
    assert "pin" in out.lower(), out
    assert wrong not in out


def test_missing_module(workdir, token):
    lib = workdir + "/no/such/libpkcs11-module.so"
    out = fails_to_start(ch.Coffer(workdir, token, lib=lib))
    assert lib in out, out


def test_missing_token_label(workdir, token):
    label = "no-such-token-label-4711"
    out = fails_to_start(ch.Coffer(workdir, token, label=label))
    assert label in out, out


def test_unknown_config_key(workdir, token):
    srv = ch.Coffer(workdir, token)
    srv.port = ch.free_port()
    text = srv.render_config().splitlines()
    text.insert(3, 'frobnicate_widgets = "yes"')       # line 4
    srv.config_text = "\n".join(text) + "\n"
    out = fails_to_start(srv)
    assert re.search(r"line\s*4\b|:4:", out), out


def test_unknown_key_inside_block(workdir, token):
    srv = ch.Coffer(workdir, token)
    srv.port = ch.free_port()
    text = srv.render_config().splitlines()
    i = next(n for n, l in enumerate(text) if l.startswith("listener"))
    text.insert(i + 1, '  bogus_listener_option = 1')
    srv.config_text = "\n".join(text) + "\n"
    out = fails_to_start(srv)
    assert re.search(r"line\s*%d\b|:%d:" % (i + 2, i + 2), out), out


def test_syntax_error_names_the_line(workdir, token):
    srv = ch.Coffer(workdir, token)
    srv.port = ch.free_port()
    text = srv.render_config().splitlines()
    text.insert(2, 'storage "sqlite" {{{ = ')            # line 3
    srv.config_text = "\n".join(text) + "\n"
    out = fails_to_start(srv)
    assert re.search(r"line\s*3\b|:3:", out), out


def test_missing_config_file(workdir, token):
    srv = ch.Coffer(workdir, token)
    srv.config_text = None
    srv.port = ch.free_port()
    missing = workdir + "/does-not-exist.hcl"
    srv.argv = lambda: [ch.coffer_bin(), "server", "-config=" + missing]
    srv.dev = True                      # do not write a config file
    out = fails_to_start(srv)
    assert missing in out, out
