"""The keys Coffer creates live on the token as sensitive, never-extractable
objects that nobody (Coffer included) can read out."""
import re
import subprocess

import coffer_harness as ch


def secret_keys(token):
    """{label: block text} of the secret-key objects pkcs11-tool lists."""
    r = token.pkcs11_tool("--list-objects", "--type", "secrkey")
    assert r.returncode == 0, r.stdout + r.stderr
    keys = {}
    for block in re.split(r"\n(?=\S)", r.stdout):
        if not block.startswith("Secret Key Object"):
            continue
        m = re.search(r"^\s*label:\s*(.*)$", block, re.M)
        assert m, block
        keys[m.group(1).strip()] = block
    return keys


def access_flags(block):
    m = re.search(r"^\s*Access:\s*(.*)$", block, re.M)
    assert m, block
    return {f.strip() for f in m.group(1).split(",")}


def test_keys_are_sensitive_and_never_extractable(active_server, token):
    srv, root, _ = active_server
    assert srv.put("sys/rotate", token=root).status_code == 204
    srv.stop()

    keys = secret_keys(token)
    for label in ("coffer-barrier/1", "coffer-barrier/2", "coffer/token-hmac"):
        assert label in keys, "missing %s in %s" % (label, sorted(keys))
    assert "AES" in keys["coffer-barrier/1"].splitlines()[0]
    # Every secret key Coffer made, not only the ones named above.
    for label, block in keys.items():
        flags = access_flags(block)
        assert "sensitive" in flags, (label, block)
        assert "always sensitive" in flags, (label, block)
        assert "never extractable" in flags, (label, block)
        assert "extractable" not in flags, (label, block)

    # CKA_PRIVATE: without a login the keys are not even visible.
    r = token.pkcs11_tool("--list-objects", "--type", "secrkey", login=False)
    assert "coffer-barrier/1" not in r.stdout
    assert "coffer/token-hmac" not in r.stdout

    # The value cannot be read, even logged in with the user PIN.
    for label in ("coffer-barrier/1", "coffer/token-hmac"):
        r = token.pkcs11_tool("--read-object", "--type", "secrkey",
                              "--label", label)
        assert r.returncode != 0, "key %s was read out: %r" % (label,
                                                               r.stdout)

    # The server still comes up and works with them.
    srv.start()
    assert srv.health().status_code == 200
    assert srv.lookup_self(root).status_code == 200


def test_shamir_keys_are_on_the_token_too(workdir, token):
    srv = ch.Coffer(workdir, token, seal="shamir").start()
    srv.init_shamir(1, 1)
    srv.stop()
    # The PIN changed at init; the SO can set a known one to inspect.
    r = subprocess.run(
        ["pkcs11-tool", "--module", ch.SOFTHSM_LIB, "--token-label",
         token.label, "--login", "--login-type", "so", "--so-pin",
         token.so_pin, "--init-pin", "--new-pin", "4321"],
        env=token.env(), capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    token.pin = "4321"
    keys = secret_keys(token)
    for label in ("coffer-barrier/1", "coffer/token-hmac"):
        assert label in keys, sorted(keys)
        flags = access_flags(keys[label])
        assert {"sensitive", "never extractable"} <= flags, keys[label]
