"""Start, stop, refuse: drain on SIGTERM, data directory lock, corrupt or newer
databases, migrations, a locked database, a port in use."""
import os
import signal
import sqlite3
import subprocess
import time
import unittest

from harness import OUTFLOW, Daemon, Sink, await_condition, db_query, free_port, run_cli, temp_data_dir


def iso(t):
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int(t % 1 * 1e6):06d}Z"


class LifecycleTest(unittest.TestCase):
    def test_sigterm_drains_running_jobs_and_releases_queued_ones(self):
        sink = Sink(delay=0.3)
        self.addCleanup(sink.close)
        daemon = Daemon(temp_data_dir(self), extra_args=["--workers", "2"]).start()
        self.addCleanup(daemon.stop)
        api = daemon.api()
        status, body, _ = api.call("POST", "/v1/jobs/batch",
                                   {"jobs": [{"kind": "webhook", "payload": {"url": sink.url}} for _ in range(20)]})
        self.assertEqual(status, 200)
        api.close()
        await_condition(lambda: sink.total() >= 2, what="two webhooks in flight")
        daemon.signal(signal.SIGTERM)
        self.assertEqual(daemon.wait(30), 0)
        self.assertIn("signal received: draining", daemon.logs())
        rows = db_query(daemon.db_path, "SELECT id, state, attempts FROM jobs")
        states = {s for _, s, _ in rows}
        self.assertLessEqual(states, {"done", "ready"}, rows)
        with sink.lock:
            counts = dict(sink.counts)
        for job_id, state, attempts in rows:
            if state == "done":
                self.assertEqual(counts.get(job_id), 1, "a drained job ran once")
            else:
                self.assertEqual(attempts, 0, "a released job's attempt is not counted")
                self.assertNotIn(job_id, counts, "a released job never started")
        self.assertGreater(sum(1 for r in rows if r[1] == "ready"), 0, "the test must catch queued jobs")
        # And after a restart the released jobs run.
        daemon2 = Daemon(daemon.data_dir, extra_args=["--workers", "4"]).start()
        self.addCleanup(daemon2.stop)
        await_condition(lambda: db_query(daemon2.db_path, "SELECT count(*) FROM jobs WHERE state='done'")[0][0] == 20,
                        what="all 20 jobs done")
        with sink.lock:
            self.assertEqual(sorted(sink.counts.values()), [1] * 20)

    def test_second_daemon_on_same_data_dir_is_refused(self):
        data = temp_data_dir(self)
        first = Daemon(data).start()
        self.addCleanup(first.stop)
        second = Daemon(data).start(wait_ready=False)
        self.assertEqual(second.wait(20), 6)
        self.assertIn("is in use by another outflow process", second.logs())
        api = first.api()
        self.assertEqual(api.call("GET", "/readyz")[0], 200)
        api.close()

    def test_port_in_use_is_refused(self):
        first = Daemon(temp_data_dir(self)).start()
        self.addCleanup(first.stop)
        second = Daemon(temp_data_dir(self), port=first.port).start(wait_ready=False)
        self.assertEqual(second.wait(20), 6)
        self.assertIn("cannot listen on 127.0.0.1:%d" % first.port, second.logs())

    def test_corrupt_database_is_refused(self):
        data = temp_data_dir(self)
        os.makedirs(data)
        with open(os.path.join(data, "outflow.db"), "wb") as f:
            f.write(b"garbage, not a database\n" * 400)
        d = Daemon(data).start(wait_ready=False)
        self.assertEqual(d.wait(20), 7)
        self.assertIn("file is not a database", d.logs())

    def test_newer_database_is_refused_and_migrate_reports_it(self):
        data = temp_data_dir(self)
        rc, out, err = run_cli("migrate", "--data-dir", data)
        self.assertEqual(rc, 0, err)
        self.assertIn("applied migration 1 jobs", out)
        rc, out, _ = run_cli("migrate", "--data-dir", data)
        self.assertIn("up to date", out)
        conn = sqlite3.connect(os.path.join(data, "outflow.db"))
        conn.execute("INSERT INTO schema_migrations VALUES (42, 'from the future', 0)")
        conn.commit()
        conn.close()
        d = Daemon(data).start(wait_ready=False)
        self.assertEqual(d.wait(20), 7)
        self.assertIn("written by a newer Outflow", d.logs())
        rc, out, _ = run_cli("migrate", "--data-dir", data, "--status")
        self.assertEqual(rc, 7)
        self.assertIn("schema version 42", out)

    def test_locked_database_gives_503_then_recovers_and_loses_nothing(self):
        daemon = Daemon(temp_data_dir(self)).start()
        self.addCleanup(daemon.stop)
        api = daemon.api()
        status, first, _ = api.call("POST", "/v1/jobs", {"kind": "noop", "due_at": iso(time.time() + 1.0)})
        self.assertEqual(status, 201)
        locker = sqlite3.connect(daemon.db_path, timeout=10, isolation_level=None)
        locker.execute("BEGIN IMMEDIATE")  # another writer holds the database
        try:
            status, body, resp = api.call("POST", "/v1/jobs", {"kind": "noop"})
            self.assertEqual(status, 503)
            self.assertEqual(body["error"]["code"], "unavailable")
            self.assertIn("locked", body["error"]["message"])
            self.assertEqual(resp.getheader("Retry-After"), "1")
        finally:
            locker.execute("ROLLBACK")
            locker.close()
        status, second, _ = api.call("POST", "/v1/jobs", {"kind": "noop"})
        self.assertEqual(status, 201)
        for job in (first, second):  # the job accepted before the lock, and the one after, both run
            await_condition(lambda: api.call("GET", f"/v1/jobs/{job['id']}")[1]["state"] == "done",
                            what=f"job {job['id']} done")
        api.close()

    def test_config_file_and_environment(self):
        data = temp_data_dir(self)
        port = free_port()
        cfg = os.path.join(os.path.dirname(data), "outflow.toml")
        with open(cfg, "w") as f:
            f.write(f'[serve]\naddr = "127.0.0.1:{port}"\ndata-dir = "{data}"\nworkers = 3\n')
        # The file sets the address and data directory; the environment sets what the file does not.
        p = subprocess.Popen([OUTFLOW, "--config", cfg, "serve"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             env=dict(os.environ, OUTFLOW_HTTP_THREADS="3", OUTFLOW_WORKERS="9"))
        try:
            line = p.stdout.readline().decode()
            self.assertIn(f"http://127.0.0.1:{port}/", line)
            p.send_signal(signal.SIGTERM)
            out = p.communicate(timeout=30)[1].decode()  # the structured log
            self.assertEqual(p.returncode, 0)
            self.assertIn('"workers":3', out, "the file wins over the environment")
            self.assertTrue(os.path.exists(os.path.join(data, "outflow.db")))
        finally:
            if p.poll() is None:
                p.kill()
        with open(cfg, "w") as f:
            f.write("[serve]\nworkerz = 3\n")
        rc, _, err = run_cli("--config", cfg, "serve")
        self.assertEqual(rc, 2)
        self.assertIn("workerz", err)
        rc, _, err = run_cli("serve", "--addr", "no-port-here")
        self.assertEqual(rc, 2)
        self.assertIn("must be host:port", err)

    def test_version_and_help(self):
        rc, out, _ = run_cli("version")
        self.assertEqual(rc, 0)
        self.assertRegex(out, r"^outflow \d+\.\d+\.\d+")
        rc, out, _ = run_cli("--help")
        self.assertEqual(rc, 0)
        for word in ("serve", "migrate", "job", "version", "Exit codes"):
            self.assertIn(word, out)
        rc, out, _ = run_cli("job", "enqueue", "--help")
        self.assertEqual(rc, 0)
        self.assertIn("--idempotency", out.replace("--key", "--idempotency"))


if __name__ == "__main__":
    unittest.main()
