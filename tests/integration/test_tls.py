"""The TLS listener: the real server with tls_cert_file/tls_key_file,
spoken to over HTTPS by requests and hvac with the certificate as the only
trusted CA. Writes go through the durability hold (suspend and resume of
the TLS connection), so several run at once."""
import subprocess
import threading

import hvac
import pytest
import requests

import coffer_harness as ch


@pytest.fixture
def tls_server(workdir, token):
    cert = "%s/tls.crt" % workdir
    key = "%s/tls.key" % workdir
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec",
                    "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-keyout", key, "-out", cert, "-days", "1",
                    "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True)
    config = ('storage "sqlite" {\n  path = "@DB@"\n}\n'
              'listener "tcp" {\n  address       = "127.0.0.1:@PORT@"\n'
              '  tls_cert_file = "%s"\n  tls_key_file  = "%s"\n}\n'
              'disable_mlock = true\n%s'
              % (cert, key, ch.pkcs11_seal_stanza(token)))
    srv = ch.Coffer(workdir, token, config_text=config)
    srv.scheme = "https"
    srv.verify = cert
    srv.start()
    root = srv.init_pkcs11()["root_token"]
    return srv, root, cert


def test_https_end_to_end(tls_server):
    srv, root, cert = tls_server
    assert srv.addr.startswith("https://")
    c = hvac.Client(url=srv.addr, token=root, verify=cert)
    assert c.sys.is_initialized() and not c.sys.is_sealed()
    c.sys.enable_secrets_engine("kv", path="kv2",
                                options={"version": "2"})
    c.secrets.kv.v2.create_or_update_secret(path="app", secret={"k": "v"},
                                            mount_point="kv2")
    got = c.secrets.kv.v2.read_secret_version(path="app", mount_point="kv2")
    assert got["data"]["data"] == {"k": "v"}


def test_concurrent_writes_over_tls(tls_server):
    srv, root, _ = tls_server
    assert srv.post("sys/mounts/kv", {"type": "kv"},
                    token=root).status_code == 204
    codes = []

    def writer(n):
        s = requests.Session()
        for i in range(20):
            r = s.put(srv.url("kv/w%d-%d" % (n, i)), json={"v": i},
                      headers={"X-Vault-Token": root}, verify=srv.verify,
                      timeout=30)
            codes.append(r.status_code)

    ts = [threading.Thread(target=writer, args=(n,)) for n in range(6)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(timeout=120)
    assert codes == [204] * 120
    for n in range(6):
        r = srv.get("kv/w%d-19" % n, token=root)
        assert r.status_code == 200 and r.json()["data"] == {"v": 19}


def test_plain_http_and_untrusted_clients_get_nothing(tls_server):
    srv, _, _ = tls_server
    with pytest.raises(requests.RequestException):
        requests.get("http://127.0.0.1:%d/v1/sys/health" % srv.port,
                     timeout=5)
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(srv.url("sys/health"), timeout=5, verify=True)
    # The server is still fine afterwards.
    assert requests.get(srv.url("sys/health"), timeout=5,
                        verify=srv.verify).status_code == 200
