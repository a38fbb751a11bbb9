"""The delivery guarantee, end to end: SIGKILL the daemon at random moments while
20,000 webhook jobs fall due, restart it each time, and prove that every job ran,
and that a job ran twice only if it was in flight (leased) at a kill."""
import os
import random
import signal
import time
import unittest

from harness import Daemon, Sink, await_condition, db_query, temp_data_dir

JOBS = int(os.environ.get("OUTFLOW_CRASH_JOBS", "20000"))
KILLS = int(os.environ.get("OUTFLOW_CRASH_KILLS", "5"))


class CrashTest(unittest.TestCase):
    def test_sigkill_loses_nothing_and_reruns_only_in_flight_jobs(self):
        rng = random.Random(int(os.environ.get("OUTFLOW_CRASH_SEED", str(int(time.time())))))
        sink = Sink()
        self.addCleanup(sink.close)
        data = temp_data_dir(self)
        daemon = Daemon(data, extra_args=["--workers", "8"]).start()
        self.addCleanup(daemon.stop)
        api = daemon.api()

        # 20,000 jobs due over the next 4 seconds, in batches of 1,000.
        start = time.time() + 0.5
        ids = []
        for b in range(JOBS // 1000):
            jobs = []
            for i in range(1000):
                n = b * 1000 + i
                due = start + 4.0 * n / JOBS
                jobs.append({"kind": "webhook", "max_attempts": 25,
                             "due_at": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(due)) + f".{int(due % 1 * 1e6):06d}Z",
                             "payload": {"url": sink.url, "body": {"n": n}}})
            status, body, _ = api.call("POST", "/v1/jobs/batch", {"jobs": jobs})
            self.assertEqual(status, 200, body)
            ids += [j["id"] for j in body["jobs"]]
        api.close()
        self.assertEqual(len(set(ids)), JOBS)

        in_flight_at_kills = []  # ids leased at each kill: the only ones allowed to run twice
        for k in range(KILLS):
            # Kill at a random moment while jobs are running (chaos timing, not synchronisation).
            time.sleep(rng.uniform(0.2, 1.2))
            self.assertEqual(daemon.kill(), -signal.SIGKILL)
            leased = {r[0] for r in db_query(daemon.db_path, "SELECT id FROM jobs WHERE state = 'leased'")}
            in_flight_at_kills.append(leased)
            daemon = Daemon(data, port=daemon.port, extra_args=["--workers", "8"]).start()
            self.addCleanup(daemon.stop)

        def all_finished():
            rows = db_query(daemon.db_path,
                            "SELECT count(*) FROM jobs WHERE state IN ('ready','leased','retrying')")
            return rows[0][0] == 0
        await_condition(all_finished, timeout=180, interval=0.2, what="every job to finish")
        self.assertEqual(daemon.stop(), 0)

        states = dict(db_query(daemon.db_path, "SELECT state, count(*) FROM jobs GROUP BY state"))
        self.assertEqual(states, {"done": JOBS}, "every job must end done")
        with sink.lock:
            counts = dict(sink.counts)
        missing = [i for i in ids if counts.get(i, 0) == 0]
        self.assertEqual(missing, [], "a job completed without reaching the sink")
        allowed = set().union(*in_flight_at_kills)
        duplicates = {i: c for i, c in counts.items() if c > 1}
        not_allowed = sorted(i for i in duplicates if i not in allowed)
        self.assertEqual(not_allowed, [], "ran twice without being in flight at a kill")
        extra_runs = sum(c - 1 for c in duplicates.values())
        bound = sum(len(s) for s in in_flight_at_kills)
        self.assertLessEqual(extra_runs, bound)
        print(f"\ncrash test: {JOBS} jobs, {KILLS} SIGKILLs, in flight at each kill "
              f"{[len(s) for s in in_flight_at_kills]}, jobs run twice {len(duplicates)}, "
              f"extra runs {extra_runs} <= bound {bound}")
        # The kills must have hit work in flight, or the test proved nothing.
        self.assertGreater(bound, 0, "no kill happened while jobs were in flight")


if __name__ == "__main__":
    unittest.main()
