"""Helpers that run the real `coffer` binary against a private SoftHSM token.

Every server gets its own temp dir (token, softhsm2.conf, SQLite file, config,
logs) and a free loopback port. Processes are started in their own session
and stopped by PID only. Readiness is polled on sys/health, never slept for.
"""
import base64
import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import tempfile
import time

import requests

SOFTHSM_LIB = "/usr/lib/softhsm/libsofthsm2.so"
DEFAULT_PIN = "1234"
DEFAULT_SO_PIN = "5678"
READY_TIMEOUT = 45.0
EXIT_TIMEOUT = 30.0
HTTP_TIMEOUT = 30.0

SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer",
                     "runtime error:", "WARNING: ThreadSanitizer")

# Servers started by the running test; conftest attaches their logs to the
# report of a failed test and stops any that are still alive.
LIVE = []


def coffer_bin():
    path = os.environ.get("COFFER_BIN")
    if not path:
        src = source_dir()
        for cand in ("build/coffer", "build-test/coffer"):
            if os.path.exists(os.path.join(src, cand)):
                path = os.path.join(src, cand)
                break
    if not path or not os.access(path, os.X_OK):
        raise RuntimeError("set COFFER_BIN to the built coffer binary "
                           "(got %r)" % path)
    return path


def source_dir():
    env = os.environ.get("COFFER_SOURCE_DIR")
    if env:
        return env
    return os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def new_tmpdir(prefix="coffer-it-"):
    return tempfile.mkdtemp(prefix=prefix, dir="/tmp")


class Token:
    """A SoftHSM token in its own directory with its own softhsm2.conf."""

    def __init__(self, dir, label, pin, so_pin, conf):
        self.dir = dir
        self.label = label
        self.pin = pin
        self.so_pin = so_pin
        self.conf = conf

    def env(self):
        e = dict(os.environ)
        e["SOFTHSM2_CONF"] = self.conf
        return e

    def pkcs11_tool(self, *args, pin=None, login=True, timeout=60):
        """Run pkcs11-tool on this token; returns CompletedProcess."""
        cmd = ["pkcs11-tool", "--module", SOFTHSM_LIB,
               "--token-label", self.label]
        if login:
            cmd += ["--login", "--pin", self.pin if pin is None else pin]
        cmd += list(args)
        return subprocess.run(cmd, env=self.env(), capture_output=True,
                              text=True, timeout=timeout)


def make_token(dir, label="coffer-it", pin=DEFAULT_PIN, so_pin=DEFAULT_SO_PIN):
    """Create a fresh SoftHSM token under dir (dir/softhsm2.conf, dir/tokens).

    Uses softhsm-conf/make-token.sh when it exists, else does the same by
    hand. Never touches the system token directory.
    """
    os.makedirs(dir, exist_ok=True)
    script = os.path.join(source_dir(), "softhsm-conf", "make-token.sh")
    if os.path.exists(script):
        r = subprocess.run(["bash", script, dir, label, pin, so_pin],
                           capture_output=True, text=True, timeout=60)
        if r.returncode != 0:
            raise RuntimeError("make-token.sh failed (%d): %s%s"
                               % (r.returncode, r.stdout, r.stderr))
        lines = [l for l in r.stdout.splitlines() if l.strip()]
        conf = lines[-1].strip() if lines else os.path.join(dir,
                                                              "softhsm2.conf")
        if not os.path.isabs(conf):
            conf = os.path.abspath(conf)
        if not os.path.exists(conf):
            raise RuntimeError("make-token.sh printed %r, which does not "
                               "exist" % r.stdout)
        return Token(dir, label, pin, so_pin, conf)
    tokdir = os.path.join(dir, "tokens")
    os.makedirs(tokdir, exist_ok=True)
    conf = os.path.join(dir, "softhsm2.conf")
    with open(conf, "w") as f:
        f.write("directories.tokendir = %s/\n"
                "objectstore.backend = file\n"
                "log.level = ERROR\n"
                "slots.removable = false\n" % tokdir)
    env = dict(os.environ)
    env["SOFTHSM2_CONF"] = conf
    r = subprocess.run(["softhsm2-util", "--init-token", "--free",
                        "--label", label, "--so-pin", so_pin, "--pin", pin],
                       env=env, capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        raise RuntimeError("softhsm2-util failed: %s%s" % (r.stdout, r.stderr))
    return Token(dir, label, pin, so_pin, conf)


def pkcs11_seal_stanza(token, pin=True, lib=SOFTHSM_LIB, label=None):
    lines = ['seal "pkcs11" {',
             '  lib          = "%s"' % lib,
             '  token_label  = "%s"' % (label or token.label)]
    if pin is True:
        lines.append('  pin          = "%s"' % token.pin)
    elif pin:
        lines.append('  pin          = "%s"' % pin)
    lines += ['  key_label    = "coffer-barrier"',
              '  generate_key = "true"',
              '}']
    return "\n".join(lines) + "\n"


def shamir_seal_stanza(token, pin=True, lib=SOFTHSM_LIB, generate_key=True):
    lines = ['seal "shamir" {}',
             'hsm {',
             '  lib         = "%s"' % lib,
             '  token_label = "%s"' % token.label]
    if pin is True:
        lines.append('  pin         = "%s"' % token.pin)
    elif pin:
        lines.append('  pin         = "%s"' % pin)
    if generate_key:
        lines.append('  generate_key = "true"')
    lines.append('}')
    return "\n".join(lines) + "\n"


class ServerError(AssertionError):
    pass


class Coffer:
    """One coffer server process (config mode or dev mode)."""

    def __init__(self, workdir, token=None, seal="pkcs11", pin=True,
                 lib=SOFTHSM_LIB, label=None, listener_extra="",
                 top_extra="", config_text=None, dev=False,
                 generate_key=True,
                 dev_root_token=None, env=None):
        self.workdir = workdir
        self.token = token
        self.dev = dev
        self.dev_root_token = dev_root_token
        self.extra_env = dict(env or {})
        self.db_path = os.path.join(workdir, "coffer.db")
        self.config_path = os.path.join(workdir, "coffer.hcl")
        self.seal = seal
        self.pin = pin
        self.lib = lib
        self.label = label
        self.listener_extra = listener_extra
        self.top_extra = top_extra
        self.config_text = config_text
        self.generate_key = generate_key
        self.port = None
        # A TLS listener: scheme "https" and verify = the CA file to trust.
        self.scheme = "http"
        self.verify = True
        self.proc = None
        self.runs = 0
        self.out_path = None
        self.err_path = None
        self.dev_dir = None
        self.term_exits = []
        LIVE.append(self)

    # -- config and process -------------------------------------------------

    def render_config(self):
        if self.config_text is not None:
            return self.config_text.replace("@PORT@", str(self.port)) \
                                   .replace("@DB@", self.db_path)
        if self.seal == "pkcs11":
            seal = pkcs11_seal_stanza(self.token, self.pin, self.lib,
                                      self.label)
        else:
            seal = shamir_seal_stanza(self.token, self.pin, self.lib,
                                      self.generate_key)
        return ('storage "sqlite" {\n  path = "%s"\n}\n'
                'listener "tcp" {\n  address     = "127.0.0.1:%d"\n'
                '  tls_disable = true\n%s}\n'
                '%s'
                'disable_mlock = true\n'
                'log_level = "info"\n%s'
                % (self.db_path, self.port, self.listener_extra, seal,
                   self.top_extra))

    def argv(self):
        if self.dev:
            a = [coffer_bin(), "server", "-dev",
                 "-dev-listen-address=127.0.0.1:%d" % self.port]
            if self.dev_root_token:
                a.append("-dev-root-token-id=%s" % self.dev_root_token)
            return a
        return [coffer_bin(), "server", "-config=%s" % self.config_path]

    def env(self):
        e = dict(os.environ)
        for k in ("VAULT_HSM_PIN", "COFFER_HSM_PIN", "VAULT_TOKEN",
                  "VAULT_ADDR", "BAO_HSM_PIN"):
            e.pop(k, None)
        if self.token is not None:
            e["SOFTHSM2_CONF"] = self.token.conf
        else:
            e.pop("SOFTHSM2_CONF", None)
        e.update(self.extra_env)
        return e

    def spawn(self, port=None):
        """Start the process without waiting for anything."""
        assert self.proc is None or self.proc.poll() is not None
        self.port = port or self.port or free_port()
        if not self.dev:
            with open(self.config_path, "w") as f:
                f.write(self.render_config())
        self.runs += 1
        self.out_path = os.path.join(self.workdir, "stdout.%d" % self.runs)
        self.err_path = os.path.join(self.workdir, "stderr.%d" % self.runs)
        with open(self.out_path, "wb") as out, \
                open(self.err_path, "wb") as err:
            self.proc = subprocess.Popen(self.argv(), stdin=subprocess.DEVNULL,
                                         stdout=out, stderr=err,
                                         env=self.env(), cwd=self.workdir,
                                         start_new_session=True)
        return self

    def start(self, timeout=READY_TIMEOUT):
        """Start and wait until sys/health answers. Retries on a port clash."""
        for attempt in range(3):
            # Keep the port across restarts; a clash gets a fresh one.
            self.spawn(port=self.port if attempt == 0 else free_port())
            try:
                self.wait_ready(timeout)
                if self.dev:
                    self._find_dev_dir()
                return self
            except ServerError:
                if self.proc.poll() is None:
                    raise
                text = (self.stderr() + self.stdout()).lower()
                if "address already in use" in text or "listener" in text:
                    continue
                raise
        raise ServerError("could not start coffer:\n" + self.logs())

    def wait_ready(self, timeout=READY_TIMEOUT):
        deadline = time.monotonic() + timeout
        while True:
            rc = self.proc.poll()
            if rc is not None:
                raise ServerError("coffer exited with %d during start-up:\n%s"
                                  % (rc, self.logs()))
            try:
                requests.get(self.url("sys/health"), timeout=2,
                             verify=self.verify)
                return
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                raise ServerError("coffer not ready after %.0fs:\n%s"
                                  % (timeout, self.logs()))
            time.sleep(0.05)      # poll interval, not a wait for an event

    def wait_exit(self, timeout=EXIT_TIMEOUT):
        """Wait for the process to exit on its own; returns its exit code."""
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise ServerError("coffer still running after %.0fs:\n%s"
                              % (timeout, self.logs()))

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout=EXIT_TIMEOUT):
        """SIGTERM by PID, SIGKILL if it does not exit; returns exit code."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            try:
                os.kill(self.proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.kill9()
                raise ServerError("coffer ignored SIGTERM for %.0fs" % timeout)
            self.term_exits.append((self.runs, self.proc.returncode))
        return self.proc.returncode

    def shutdown_problems(self):
        """What went wrong at shutdown or under a sanitizer in any run:
        a SIGTERM that did not end in exit code 0, or a sanitizer report."""
        problems = ["run %d: exit code %d after SIGTERM" % (run, rc)
                    for run, rc in self.term_exits if rc != 0]
        for i in range(1, self.runs + 1):
            err = _read(os.path.join(self.workdir, "stderr.%d" % i))
            for marker in SANITIZER_MARKERS:
                if marker in err:
                    at = err.index(marker)
                    problems.append("run %d: %s" % (i, err[at:at + 3000]))
                    break
        return problems

    def kill9(self):
        if self.proc is not None and self.proc.poll() is None:
            try:
                os.kill(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait(timeout=EXIT_TIMEOUT)

    def restart(self, timeout=READY_TIMEOUT):
        self.stop()
        return self.start(timeout)

    def cleanup(self):
        try:
            self.kill9()
        finally:
            if self.dev_dir and os.path.isdir(self.dev_dir):
                shutil.rmtree(self.dev_dir, ignore_errors=True)

    def _find_dev_dir(self):
        """Dev mode keeps its token and db in /tmp/coffer-dev-*; find ours
        through the process's open files so cleanup can make sure it goes."""
        fddir = "/proc/%d/fd" % self.proc.pid
        try:
            for fd in os.listdir(fddir):
                try:
                    t = os.readlink(os.path.join(fddir, fd))
                except OSError:
                    continue
                if t.startswith("/tmp/coffer-dev-"):
                    self.dev_dir = "/".join(t.split("/")[:3])
                    return
        except OSError:
            pass

    def stdout(self):
        return _read(self.out_path)

    def stderr(self):
        return _read(self.err_path)

    def all_logs(self):
        """stdout+stderr of every run so far."""
        parts = []
        for i in range(1, self.runs + 1):
            for name in ("stdout", "stderr"):
                parts.append(_read(os.path.join(self.workdir,
                                                "%s.%d" % (name, i))))
        return "\n".join(parts)

    def logs(self):
        out = []
        for i in range(1, self.runs + 1):
            for name in ("stdout", "stderr"):
                text = _read(os.path.join(self.workdir, "%s.%d" % (name, i)))
                if text:
                    out.append("--- %s run %d ---\n%s" % (name, i,
                                                          text[-6000:]))
        return "\n".join(out) or "(no output)"

    # -- HTTP --------------------------------------------------------------

    @property
    def addr(self):
        return "%s://127.0.0.1:%d" % (self.scheme, self.port)

    def url(self, path):
        return "%s/v1/%s" % (self.addr, path.lstrip("/"))

    def req(self, method, path, token=None, json_body=None, data=None,
            headers=None, params=None, bearer=False):
        h = dict(headers or {})
        if token is not None:
            if bearer:
                h["Authorization"] = "Bearer " + token
            else:
                h["X-Vault-Token"] = token
        if json_body is not None:
            data = json.dumps(json_body)
        return requests.request(method, self.url(path), data=data, headers=h,
                                params=params, timeout=HTTP_TIMEOUT,
                                verify=self.verify)

    def get(self, path, token=None, **kw):
        return self.req("GET", path, token, **kw)

    def put(self, path, body=None, token=None, **kw):
        return self.req("PUT", path, token, json_body=body, **kw)

    def post(self, path, body=None, token=None, **kw):
        return self.req("POST", path, token, json_body=body, **kw)

    def health(self, **params):
        return self.get("sys/health", params=params or None)

    def seal_status(self):
        r = self.get("sys/seal-status")
        assert r.status_code == 200, r.text
        return r.json()

    def init_pkcs11(self, shares=1, threshold=1):
        r = self.put("sys/init", {"recovery_shares": shares,
                                  "recovery_threshold": threshold})
        assert r.status_code == 200, "init: %d %s" % (r.status_code, r.text)
        return r.json()

    def init_shamir(self, shares=3, threshold=2):
        r = self.put("sys/init", {"secret_shares": shares,
                                  "secret_threshold": threshold})
        assert r.status_code == 200, "init: %d %s" % (r.status_code, r.text)
        return r.json()

    def unseal(self, key):
        return self.put("sys/unseal", {"key": key})

    def lookup_self(self, token):
        return self.get("auth/token/lookup-self", token=token)


def _read(path):
    if not path or not os.path.exists(path):
        return ""
    with open(path, "rb") as f:
        return f.read().decode("utf-8", "replace")


# -- storage file helpers ---------------------------------------------------

def db_entries(db_path):
    """All (path, value) rows of the entries table."""
    con = sqlite3.connect(db_path, timeout=30)
    try:
        return dict(con.execute("SELECT path, value FROM entries").fetchall())
    finally:
        con.close()


def db_update(db_path, changes):
    """Write {path: bytes} into the entries table (server must be stopped)."""
    con = sqlite3.connect(db_path, timeout=30)
    try:
        with con:
            for path, value in changes.items():
                con.execute("UPDATE entries SET value = ? WHERE path = ?",
                            (sqlite3.Binary(value), path))
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        con.close()


def storage_bytes(db_path):
    """Raw bytes of the SQLite file and its -wal/-journal companions."""
    data = b""
    for suffix in ("", "-wal", "-journal", "-shm"):
        p = db_path + suffix
        if os.path.exists(p):
            with open(p, "rb") as f:
                data += f.read()
    return data


def encodings(secret):
    """The byte strings under which a secret could leak into a file."""
    if isinstance(secret, str):
        secret = secret.encode()
    return [secret, secret.hex().encode(), secret.hex().upper().encode(),
            base64.b64encode(secret), base64.b64encode(secret).rstrip(b"=")]


def try_enable_kv(srv, token, mount="secret"):
    """Make sure a KV v2 engine is mounted at <mount>/; False if the server
    has no KV engine or no mount API yet (callers skip that part)."""
    r = srv.get("sys/mounts", token=token)
    if r.status_code == 200:
        body = r.json()
        data = body.get("data") or body
        if mount + "/" in data:
            return True
    r = srv.post("sys/mounts/" + mount,
                 {"type": "kv", "options": {"version": "2"}}, token=token)
    if r.status_code not in (200, 204):
        return False
    probe = srv.post(mount + "/data/__probe", {"data": {"p": "1"}},
                     token=token)
    return probe.status_code in (200, 204)
