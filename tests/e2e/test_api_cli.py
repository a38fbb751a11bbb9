"""The REST API and the CLI against a real daemon on 127.0.0.1."""
import http.client
import json
import socket
import threading
import time
import unittest

from harness import Daemon, free_port, run_cli, temp_data_dir


class ApiCliTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = None

    def setUp(self):
        self.daemon = Daemon(temp_data_dir(self), extra_args=["--body-limit", "65536"]).start()
        self.addCleanup(self.daemon.stop)
        self.api = self.daemon.api()
        self.addCleanup(self.api.close)
        self.server = f"http://127.0.0.1:{self.daemon.port}"

    def cli(self, *args, **kw):
        return run_cli("job", "--server", self.server, *args, **kw)

    def test_cli_enqueue_list_show_cancel_and_exit_codes(self):
        rc, out, err = self.cli("enqueue", "--kind", "noop", "--due", "+1h", "--key", "k-1")
        self.assertEqual(rc, 0, err)
        self.assertIn("enqueued job 1", out)
        rc, out, _ = self.cli("enqueue", "--kind", "noop", "--key", "k-1")
        self.assertEqual(rc, 0)
        self.assertIn("already exists: 1", out)
        rc, out, _ = self.cli("--json", "show", "1")
        self.assertEqual(rc, 0)
        self.assertEqual(json.loads(out)["state"], "ready")
        rc, out, _ = self.cli("list", "--state", "ready")
        self.assertEqual(rc, 0)
        self.assertRegex(out, r"\n1\s+noop\s+ready")
        self.assertEqual(self.cli("cancel", "1")[0], 0)
        rc, _, err = self.cli("cancel", "1")
        self.assertEqual(rc, 5, "conflict")
        self.assertIn("only ready or retrying jobs can be cancelled", err)
        rc, _, err = self.cli("show", "999")
        self.assertEqual(rc, 4, "not found")
        rc, _, err = self.cli("enqueue", "--kind", "nope")
        self.assertEqual(rc, 3, "invalid input")
        self.assertIn("unknown kind 'nope'", err)
        rc, _, err = self.cli("enqueue", "--kind", "noop", "--due", "yesterday")
        self.assertEqual(rc, 3)
        self.assertIn("not an RFC 3339 timestamp", err)
        rc, out, err = self.cli("kinds")
        self.assertEqual(rc, 0, err)
        for kind in ("noop", "webhook", "import.process"):
            self.assertIn(kind, out)
        rc, _, _ = run_cli("job", "frobnicate")
        self.assertEqual(rc, 2, "usage error")
        rc, _, err = run_cli("job", "--server", f"http://127.0.0.1:{free_port()}", "list")
        self.assertEqual(rc, 6, "daemon unreachable")
        self.assertIn("cannot reach outflow", err)

    def test_cli_batch_from_file_is_all_or_nothing(self):
        good = [{"kind": "noop", "due_at": "2030-01-01T00:00:00Z"} for _ in range(3)]
        rc, out, err = self.cli("enqueue", "--file", "-", input=json.dumps(good))
        self.assertEqual(rc, 0, err)
        self.assertIn("enqueued 3 of 3", out)
        bad = good + [{"kind": "noop", "due_at": "2030-02-30T00:00:00Z"}]
        rc, _, err = self.cli("enqueue", "--file", "-", input=json.dumps({"jobs": bad}))
        self.assertEqual(rc, 3)
        self.assertIn("jobs[3].due_at", err)
        rc, out, _ = self.cli("--json", "list")
        self.assertEqual(len(json.loads(out)["jobs"]), 3)

    def test_jobs_run_at_their_due_time(self):
        due = time.time() + 0.5
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(due)) + f".{int(due % 1 * 1e6):06d}Z"
        status, job, _ = self.api.call("POST", "/v1/jobs", {"kind": "noop", "due_at": stamp})
        self.assertEqual(status, 201)
        deadline = time.time() + 10
        while time.time() < deadline:
            _, job, _ = self.api.call("GET", f"/v1/jobs/{job['id']}")
            if job["state"] == "done":
                break
            time.sleep(0.02)
        self.assertEqual(job["state"], "done")
        self.assertGreaterEqual(job["started_at"], job["due_at"])

    def test_bad_input_gets_400_naming_the_problem(self):
        cases = [
            (b"{oops", "not valid JSON"),
            (b'{"kind":"noop","extra":1}', "extra: unknown field"),
            (b'{"kind":"noop","due_at":"2026-11-24 25:00"}', "due_at"),
            (json.dumps({"kind": "noop", "idempotency_key": "k" * 256}).encode(), "over the limit of 255"),
        ]
        for raw, text in cases:
            status, body, _ = self.api.call("POST", "/v1/jobs", raw=raw)
            self.assertEqual(status, 400, raw)
            self.assertEqual(body["error"]["code"], "invalid_argument")
            self.assertIn(text, body["error"]["message"])
        status, body, _ = self.api.call("POST", "/v1/jobs/batch", {"jobs": []})
        self.assertEqual(status, 400)
        # Over --body-limit (64 KiB here): 413 before the body is read, and the connection is closed.
        status, body, _ = self.api.call("POST", "/v1/jobs", raw=b"x" * 70000)
        self.assertEqual(status, 413)
        self.assertIn("over the limit of 65536 bytes", body["error"]["message"])
        status, body, _ = self.api.call("GET", "/v1/jobs?limit=5000")
        self.assertEqual(status, 400)
        self.assertEqual(body["error"]["field"], "limit")
        status, body, _ = self.api.call("GET", "/v1/jobs")
        self.assertEqual(body["jobs"], [], "nothing of the rejected requests was applied")

    def test_malformed_http_gets_400(self):
        with socket.create_connection(("127.0.0.1", self.daemon.port), timeout=10) as s:
            s.sendall(b"THIS IS NOT HTTP\r\n\r\n")
            reply = s.recv(4096)
        self.assertIn(b" 400 ", reply.split(b"\r\n")[0])

    def test_keep_alive_and_hundreds_of_concurrent_connections(self):
        conns = [http.client.HTTPConnection("127.0.0.1", self.daemon.port, timeout=30) for _ in range(300)]
        errors = []

        def client(c, n):
            try:
                for i in range(5):  # several requests on one connection
                    c.request("POST", "/v1/jobs", body=json.dumps({"kind": "noop", "idempotency_key": f"c{n}-{i}",
                                                                    "due_at": "2030-01-01T00:00:00Z"}),
                              headers=self.daemon.auth_headers())
                    r = c.getresponse()
                    r.read()
                    if r.status != 201:
                        errors.append(r.status)
            except Exception as e:  # noqa: BLE001 - collected and asserted below
                errors.append(repr(e))
            finally:
                c.close()
        threads = [threading.Thread(target=client, args=(c, n)) for n, c in enumerate(conns)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        self.assertEqual(errors, [])
        status, body, _ = self.api.call("GET", "/metrics")
        self.assertIn(b'outflow_jobs{state="ready"} 1500\n', body)

    def test_health_metrics_openapi_index(self):
        self.assertEqual(self.api.call("GET", "/healthz")[0], 200)
        self.assertEqual(self.api.call("GET", "/readyz")[0], 200)
        status, doc, _ = self.api.call("GET", "/openapi.json")
        self.assertEqual(status, 200)
        self.assertIn("/v1/jobs/batch", doc["paths"])
        status, page, _ = self.api.call("GET", "/")
        self.assertEqual(status, 200)
        self.assertIn(b"Outflow", page)
        self.api.call("POST", "/v1/jobs", {"kind": "noop"})
        deadline = time.time() + 10
        while time.time() < deadline:
            _, metrics, _ = self.api.call("GET", "/metrics")
            if b"outflow_jobs_completed_total 1\n" in metrics:
                break
            time.sleep(0.02)
        self.assertIn(b"outflow_jobs_completed_total 1\n", metrics)
        self.assertIn(b'outflow_job_start_lateness_seconds_bucket{le="+Inf"} 1\n', metrics)


if __name__ == "__main__":
    unittest.main()
