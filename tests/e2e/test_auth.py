"""API keys, roles and the route table against the real binary (docs/security.md)."""
import json
import os
import shutil
import sqlite3
import subprocess
import time
import unittest

from harness import OUTFLOW, Api, Daemon, run_cli, temp_data_dir

BAD_KEY = "ofk_0123456789abcdef_" + "a" * 64

# A representative sample of the route table: (method, path, body, least role or None for public).
SAMPLE = [
    ("GET", "/healthz", None, None),
    ("GET", "/readyz", None, None),
    ("GET", "/openapi.json", None, None),
    ("GET", "/t/o/999/x.gif", None, None),
    ("GET", "/u/not-a-token", None, None),
    ("GET", "/v1/callbacks/whatsapp/999?hub.mode=subscribe&hub.challenge=1&hub.verify_token=x", None, None),
    ("POST", "/v1/callbacks/status/999", {}, None),
    ("GET", "/metrics", None, "viewer"),
    ("GET", "/", None, None),
    ("GET", "/v1/jobs", None, "viewer"),
    ("GET", "/v1/contacts", None, "viewer"),
    ("GET", "/v1/suppressions", None, "viewer"),
    ("GET", "/v1/accounts", None, "viewer"),
    ("GET", "/v1/campaigns/999", None, "viewer"),
    ("POST", "/v1/jobs", {"kind": "noop", "due_at": "2030-01-01T00:00:00Z"}, "editor"),
    ("POST", "/v1/contacts", {"email": "auth-e2e@example.com"}, "editor"),
    ("DELETE", "/v1/contacts/999", None, "editor"),
    ("POST", "/v1/segments", {"name": "auth-e2e", "static": True}, "editor"),
    ("DELETE", "/v1/suppressions/x@example.com", None, "editor"),
    ("POST", "/v1/accounts", {"name": "dry", "channel": "log", "provider": "log"}, "admin"),
    ("GET", "/v1/keys", None, "admin"),
    ("DELETE", "/v1/keys/999", None, "admin"),
    ("GET", "/v1/no-such-route", None, "admin"),  # not in the table: fails closed
]
RANK = {"viewer": 1, "editor": 2, "admin": 3}


class AuthTest(unittest.TestCase):
    def setUp(self):
        self.data = temp_data_dir(self)
        self.daemon = Daemon(self.data).start()
        self.addCleanup(self.daemon.stop)
        self.server = f"http://127.0.0.1:{self.daemon.port}"

    def create_key(self, role, *extra):
        """`outflow key create` on the data directory while the daemon runs: the key is the last line."""
        rc, out, err = run_cli("key", "create", "--data-dir", self.data, "--name", f"e2e-{role}", "--role", role,
                               *extra)
        self.assertEqual(rc, 0, err)
        key = out.strip().splitlines()[-1]
        self.assertRegex(key, r"^ofk_[0-9a-f]{16}_[0-9a-f]{64}$")
        return key

    def test_route_sample_without_a_key_with_a_bad_key_and_each_role(self):
        keys = {role: self.create_key(role) for role in RANK}
        for method, path, body, least in SAMPLE:
            for creds in (None, BAD_KEY):
                api = Api(self.daemon.port, creds)
                status, reply, resp = api.call(method, path, body)
                api.close()
                if least is None:  # (a callback may refuse a bad signature itself, without WWW-Authenticate)
                    self.assertIsNone(resp.getheader("WWW-Authenticate"), f"{method} {path} is public")
                    continue
                self.assertEqual(status, 401, f"{method} {path} with {creds and 'a bad key'}")
                self.assertEqual(reply["error"]["code"], "unauthenticated")
                self.assertTrue(resp.getheader("WWW-Authenticate", "").startswith("Bearer"))
            for role, key in keys.items():
                api = Api(self.daemon.port, key)
                status, reply, resp = api.call(method, path, body)
                api.close()
                if least is None:
                    self.assertIsNone(resp.getheader("WWW-Authenticate"), f"{method} {path} is public")
                elif RANK[role] >= RANK[least]:
                    self.assertNotIn(status, (401, 403), f"{method} {path} as {role}: {reply}")
                else:
                    self.assertEqual(status, 403, f"{method} {path} as {role}")
                    self.assertEqual(reply["error"]["code"], "permission_denied")

    def test_revoked_and_expired_keys_are_refused_at_once(self):
        key = self.create_key("viewer")
        api = Api(self.daemon.port, key)
        self.assertEqual(api.call("GET", "/v1/jobs")[0], 200)
        rc, out, err = run_cli("key", "list", "--data-dir", self.data, "--json")
        self.assertEqual(rc, 0, err)
        listed = json.loads(out)["keys"]
        self.assertNotIn(key, out)
        self.assertNotIn(key.split("_")[2], out, "never the secret part")
        mine = next(k for k in listed if k["name"] == "e2e-viewer")
        self.assertTrue(key.startswith(mine["prefix"] + "_"))
        self.assertIsNotNone(mine["last_used_at"], "recorded on first use")
        rc, _, err = run_cli("key", "revoke", "--data-dir", self.data, str(mine["id"]))
        self.assertEqual(rc, 0, err)
        status, reply, _ = api.call("GET", "/v1/jobs")
        self.assertEqual(status, 401, "revoked by another process: refused on the next request")
        self.assertIn("revoked", reply["error"]["message"])
        # Through the API: an admin creates a key (shown once) and revokes it.
        admin = self.daemon.api()
        status, made, _ = admin.call("POST", "/v1/keys", {"name": "tmp", "role": "editor"})
        self.assertEqual(status, 201, made)
        self.assertEqual(Api(self.daemon.port, made["key"]).call("GET", "/v1/jobs")[0], 200)
        self.assertEqual(admin.call("DELETE", f"/v1/keys/{made['id']}")[0], 200)
        self.assertEqual(Api(self.daemon.port, made["key"]).call("GET", "/v1/jobs")[0], 401)
        status, listing, _ = admin.call("GET", "/v1/keys")
        self.assertNotIn(made["key"], json.dumps(listing))
        # Expired: move a key's expiry into the past in the database, as time would.
        short = self.create_key("viewer", "--expires-in-days", "1")
        self.assertEqual(Api(self.daemon.port, short).call("GET", "/v1/jobs")[0], 200)
        conn = sqlite3.connect(self.daemon.db_path, timeout=10)
        conn.execute("UPDATE api_keys SET expires_at = 1 WHERE lookup = ?", (short.split("_")[1],))
        conn.commit()
        conn.close()
        status, reply, _ = Api(self.daemon.port, short).call("GET", "/v1/jobs")
        self.assertEqual(status, 401)
        self.assertIn("expired", reply["error"]["message"])

    def test_cli_uses_the_local_key_file_an_api_key_or_the_environment(self):
        self.assertEqual(os.stat(os.path.join(self.data, "cli.key")).st_mode & 0o777, 0o600)
        rc, out, err = run_cli("job", "--server", self.server, "list")
        self.assertEqual(rc, 0, err)  # the owner: <data-dir>/cli.key, found through OUTFLOW_DATA_DIR
        rc, _, err = run_cli("job", "--server", self.server, "list", "--api-key", BAD_KEY)
        self.assertEqual(rc, 8, err)
        self.assertIn("HTTP 401", err)
        viewer = self.create_key("viewer")
        rc, _, err = run_cli("job", "--server", self.server, "enqueue", "--kind", "noop", env={"OUTFLOW_API_KEY": viewer})
        self.assertEqual(rc, 8, err)
        self.assertIn("needs the editor role", err)
        rc, _, err = run_cli("--api-key", viewer, "job", "--server", self.server, "list")
        self.assertEqual(rc, 0, err)

    def test_another_unix_user_cannot_use_the_local_key(self):
        if os.geteuid() != 0:
            self.skipTest("switching to another user needs root")
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            self.skipTest("setpriv (util-linux) is not installed")
        # Open the directories, so that only the key file's own mode (0600) protects it.
        os.chmod(os.path.dirname(self.data), 0o755)
        os.chmod(self.data, 0o755)
        as_nobody = [setpriv, "--reuid=nobody", "--regid=nogroup", "--clear-groups", OUTFLOW]
        probe = subprocess.run(as_nobody + ["version"], capture_output=True, text=True)
        if probe.returncode != 0:
            self.skipTest(f"cannot run outflow as nobody: {probe.stderr.strip()}")
        env = dict(os.environ, OUTFLOW_DATA_DIR=self.data)
        env.pop("OUTFLOW_API_KEY", None)
        p = subprocess.run(as_nobody + ["job", "--server", self.server, "list"], capture_output=True, text=True,
                           env=env, timeout=60)
        self.assertEqual(p.returncode, 8, p.stderr)
        self.assertIn("cannot read", p.stderr)
        self.assertIn("HTTP 401", p.stderr)
        # The owner (root here) still gets in the same way.
        self.assertEqual(run_cli("job", "--server", self.server, "list")[0], 0)


class MetricsAndRateTest(unittest.TestCase):
    def test_metrics_public_flag(self):
        d = Daemon(temp_data_dir(self), extra_args=["--metrics-public"]).start()
        self.addCleanup(d.stop)
        self.assertEqual(Api(d.port).call("GET", "/metrics")[0], 200)
        self.assertEqual(Api(d.port).call("GET", "/v1/jobs")[0], 401)

    def test_default_key_rate_is_100_per_second_then_429_with_retry_after(self):
        d = Daemon(temp_data_dir(self), key_rate=None).start()
        self.addCleanup(d.stop)
        api = d.api()
        statuses, retry_after = [], None
        t0 = time.monotonic()
        for _ in range(300):
            status, _, resp = api.call("GET", "/v1/kinds")
            statuses.append(status)
            if status == 429:
                retry_after = resp.getheader("Retry-After")
        elapsed = time.monotonic() - t0
        ok = statuses.count(200)
        self.assertEqual(set(statuses) - {200, 429}, set())
        self.assertGreater(statuses.count(429), 0)
        self.assertGreaterEqual(ok, 100)
        self.assertLessEqual(ok, 100 + 100 * elapsed + 2)
        self.assertEqual(retry_after, "1")


if __name__ == "__main__":
    unittest.main()
