"""The webhook job kind against local HTTP servers: retries, Retry-After,
permanent failures, unreachable hosts, and a stable Idempotency-Key."""
import time
import unittest

from harness import Daemon, Sink, await_condition, free_port, temp_data_dir


def iso(t):
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int(t % 1 * 1e6):06d}Z"


class WebhookTest(unittest.TestCase):
    def setUp(self):
        self.sink = Sink()
        self.addCleanup(self.sink.close)
        self.daemon = Daemon(temp_data_dir(self)).start()
        self.addCleanup(self.daemon.stop)
        self.api = self.daemon.api()
        self.addCleanup(self.api.close)

    def enqueue(self, url, max_attempts=5, due_in=1.0):
        status, job, _ = self.api.call("POST", "/v1/jobs", {
            "kind": "webhook", "max_attempts": max_attempts, "due_at": iso(time.time() + due_in),
            "payload": {"url": url, "body": {"hello": "world"}, "timeout_ms": 2000}})
        self.assertEqual(status, 201, job)
        return job["id"]

    def await_state(self, job_id, states, timeout=30):
        return await_condition(lambda: (lambda j: j if j["state"] in states else None)(
            self.api.call("GET", f"/v1/jobs/{job_id}")[1]), timeout, what=f"job {job_id} in {states}")

    def test_5xx_is_retried_with_the_same_idempotency_key(self):
        job = self.enqueue(self.sink.url)
        self.sink.behaviour[job] = [(500, {}), (503, {})]
        done = self.await_state(job, {"done"})
        self.assertEqual(done["attempts"], 3)
        reqs = [r for r in self.sink.requests if r[0] == job]
        self.assertEqual([r[1] for r in reqs], [1, 2, 3])
        self.assertEqual({r[2] for r in reqs}, {f"outflow-job-{job}"})
        self.assertEqual(reqs[0][3], b'{"hello":"world"}')

    def test_429_honours_retry_after(self):
        job = self.enqueue(self.sink.url)
        self.sink.behaviour[job] = [(429, {"Retry-After": "2"})]
        self.await_state(job, {"retrying"})
        retrying = self.api.call("GET", f"/v1/jobs/{job}")[1]
        self.assertIn("HTTP 429", retrying["last_error"])
        first_started = retrying["started_at"]
        done = self.await_state(job, {"done"})
        # The retry was due no earlier than Retry-After after the first attempt.
        from datetime import datetime
        t0 = datetime.fromisoformat(first_started.replace("Z", "+00:00"))
        t1 = datetime.fromisoformat(done["started_at"].replace("Z", "+00:00"))
        self.assertGreaterEqual((t1 - t0).total_seconds(), 1.9)

    def test_4xx_is_permanent(self):
        job = self.enqueue(self.sink.url)
        self.sink.behaviour[job] = [(400, {})]
        dead = self.await_state(job, {"dead"})
        self.assertEqual(dead["attempts"], 1)
        self.assertIn("HTTP 400", dead["last_error"])

    def test_unreachable_host_retries_then_dies_with_the_reason(self):
        job = self.enqueue(f"http://127.0.0.1:{free_port()}/nothing-listens", max_attempts=2, due_in=0)
        dead = self.await_state(job, {"dead"})
        self.assertEqual(dead["attempts"], 2)
        self.assertIn("attempt 2 of 2", dead["last_error"])
        self.assertIn("request failed", dead["last_error"])

    def test_bad_payload_is_rejected_at_enqueue(self):
        status, body, _ = self.api.call("POST", "/v1/jobs", {"kind": "webhook", "payload": {"url": "file:///etc/passwd"}})
        self.assertEqual(status, 400)
        self.assertEqual(body["error"]["field"], "payload.url")
        status, body, _ = self.api.call("POST", "/v1/jobs", {"kind": "webhook", "payload": {}})
        self.assertEqual(status, 400)
        self.assertIn("payload.url: is required", body["error"]["message"])


if __name__ == "__main__":
    unittest.main()
