"""`serve --tls-cert --tls-key` with the real binary (docs/security.md, "TLS"): a
client that trusts the certificate gets /healthz and an authenticated route over
HTTPS, plain HTTP to the port gets no answer, and bad files stop the start with a
message naming them. The certificates are made here with the `openssl` command."""
import http.client
import json
import os
import shutil
import ssl
import subprocess
import tempfile
import unittest

from harness import Daemon, await_condition, free_port, run_cli, temp_data_dir


def make_cert(directory, name):
    """A self-signed certificate for 127.0.0.1 and localhost; returns (cert, key)."""
    cert, key = os.path.join(directory, f"{name}.crt"), os.path.join(directory, f"{name}.key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                    "-keyout", key, "-out", cert, "-days", "1", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
                   check=True, capture_output=True, timeout=60)
    return cert, key


@unittest.skipIf(shutil.which("openssl") is None, "the openssl command makes the test certificates")
class TlsTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="outflow-tls-")
        self.addCleanup(lambda: shutil.rmtree(self.dir, ignore_errors=True))
        self.cert, self.key = make_cert(self.dir, "server")

    def https(self, port, cafile):
        ctx = ssl.create_default_context(cafile=cafile)
        return http.client.HTTPSConnection("127.0.0.1", port, timeout=10, context=ctx)

    def test_https_serves_a_client_that_trusts_the_certificate(self):
        d = Daemon(temp_data_dir(self), extra_args=["--tls-cert", self.cert, "--tls-key", self.key]).start(
            wait_ready=False)
        self.addCleanup(d.stop)

        def healthy():
            if d.proc.poll() is not None:
                raise AssertionError(f"outflow exited with {d.proc.returncode}:\n{d.logs()}")
            try:
                c = self.https(d.port, self.cert)
                c.request("GET", "/healthz")
                status = c.getresponse().status
                c.close()
                return status == 200
            except OSError:
                return False
        await_condition(healthy, 20, what="/healthz over HTTPS")

        c = self.https(d.port, self.cert)
        c.request("GET", "/v1/jobs", headers={"Authorization": f"Bearer {d.key}"})
        r = c.getresponse()
        self.assertEqual(r.status, 200)
        self.assertIn("jobs", json.loads(r.read()))
        c.request("GET", "/v1/jobs")  # the same connection, no key
        r = c.getresponse()
        self.assertEqual(r.status, 401)
        r.read()
        c.close()

        # A client that does not trust the certificate refuses the server.
        other, _ = make_cert(self.dir, "other")
        with self.assertRaises(ssl.SSLCertVerificationError):
            c = self.https(d.port, other)
            c.request("GET", "/healthz")
        # Plain HTTP to the TLS port gets no HTTP answer.
        plain = http.client.HTTPConnection("127.0.0.1", d.port, timeout=10)
        with self.assertRaises((http.client.RemoteDisconnected, ConnectionError, http.client.BadStatusLine)):
            plain.request("GET", "/healthz")
            plain.getresponse()
        plain.close()
        self.assertIsNone(d.proc.poll())

    def test_bad_tls_files_stop_the_start_naming_them(self):
        _, other_key = make_cert(self.dir, "other")
        missing = os.path.join(self.dir, "missing.pem")
        cases = [
            (["--tls-cert", self.cert], 2, "--tls-cert and --tls-key go together"),
            (["--tls-cert", missing, "--tls-key", self.key], None, f"TLS certificate {missing}"),
            (["--tls-cert", self.cert, "--tls-key", other_key], None,
             f"TLS private key {other_key} does not match the certificate {self.cert}"),
        ]
        for args, want_rc, message in cases:
            rc, _, err = run_cli("serve", "--addr", f"127.0.0.1:{free_port()}", "--data-dir", temp_data_dir(self),
                                 *args)
            self.assertNotEqual(rc, 0, args)
            if want_rc is not None:
                self.assertEqual(rc, want_rc, err)
            self.assertIn(message, err)


if __name__ == "__main__":
    unittest.main()
