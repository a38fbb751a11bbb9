"""Paced release from staging through the CLI of a real daemon: the pace, the log,
segment memberships applied on release, pause and resume, a restart mid-plan,
and bad plans."""
import json
import os
import unittest

from harness import Daemon, await_condition, db_query, run_cli, temp_data_dir


class ReleaseTest(unittest.TestCase):
    def setUp(self):
        self.data = temp_data_dir(self)
        self.daemon = Daemon(self.data).start()
        self.addCleanup(lambda: self.daemon.stop())
        self.env = {"OUTFLOW_SERVER": f"http://127.0.0.1:{self.daemon.port}"}

    def ok(self, *args):
        rc, out, err = run_cli(*args, env=self.env)
        self.assertEqual(rc, 0, f"{args}: {err}")
        return out

    def live(self):
        return db_query(self.daemon.db_path, "SELECT count(*) FROM contacts WHERE status = 'live'")[0][0]

    def stage(self, n, segment):
        path = os.path.join(os.path.dirname(self.data), "staged.csv")
        with open(path, "w") as f:
            f.write("email,segment_name\n" + "".join(f"u{i}@x.io,{segment}\n" for i in range(n)))
        self.assertIn(f"{n} created", self.ok("import", path, "--staging"))

    def test_releases_at_the_pace_with_a_log_and_segments(self):
        self.stage(25, "Wave 1")
        self.assertEqual(self.live(), 0)
        plan = json.loads(self.ok("release", "--json", "create", "warm-up", "--per", "10", "--every", "1"))
        await_condition(lambda: self.live() == 25, timeout=20, what="all 25 released")
        log = json.loads(self.ok("release", "--json", "log", str(plan["id"])))["log"]
        self.assertEqual(sorted(e["released"] for e in log), [5, 10, 10])
        # Oldest first, one slot a second: the slots are 1 s apart (within scheduling jitter).
        from datetime import datetime
        ats = sorted(datetime.fromisoformat(e["at"].replace("Z", "+00:00")) for e in log)
        gaps = [(b - a).total_seconds() for a, b in zip(ats, ats[1:])]
        self.assertTrue(all(0.95 <= g <= 1.5 for g in gaps), gaps)
        plan = json.loads(self.ok("release", "--json", "show", str(plan["id"])))
        self.assertEqual((plan["state"], plan["released_total"]), ("completed", 25))
        segs = json.loads(self.ok("segment", "--json", "list"))["segments"]
        self.assertEqual([(s["name"], s["member_count"]) for s in segs], [("Wave 1", 25)])

    def test_pause_resume_and_restart(self):
        self.stage(30, "W")
        plan = json.loads(self.ok("release", "--json", "create", "slow", "--per", "5", "--every", "1"))
        await_condition(lambda: self.live() >= 5, timeout=20, what="a first slot")
        self.ok("release", "pause", str(plan["id"]))
        paused_at = self.live()
        # While paused nothing more goes live: a restart and the next due slot change nothing.
        self.daemon.stop()
        self.daemon = Daemon(self.data, port=self.daemon.port).start()
        self.assertEqual(json.loads(self.ok("release", "--json", "show", str(plan["id"])))["state"], "paused")
        self.assertEqual(self.live(), paused_at)
        self.ok("release", "resume", str(plan["id"]))
        # Kill the daemon mid-plan: the plan goes on after the restart.
        await_condition(lambda: self.live() >= paused_at + 5, timeout=20, what="slots after resume")
        self.daemon.kill()
        self.daemon = Daemon(self.data, port=self.daemon.port).start()
        await_condition(lambda: self.live() == 30, timeout=30, what="all 30 released after a restart")
        total = json.loads(self.ok("release", "--json", "show", str(plan["id"])))["released_total"]
        self.assertEqual(total, 30, "no contact released twice or lost")

    def test_cron_verbs_without_a_daemon(self):
        """outflow import FILE --data-dir, outflow import process and outflow release run."""
        self.stage(3, "Cron")
        plan = json.loads(self.ok("release", "--json", "create", "nightly", "--per", "2", "--every", "1"))
        self.daemon.stop()
        path = os.path.join(os.path.dirname(self.data), "more.csv")
        with open(path, "w") as f:
            f.write("email\nextra1@x.io\nextra2@x.io\nnot-an-email\n")
        rc, out, err = run_cli("import", path, "--data-dir", self.data, "--staging")
        self.assertEqual(rc, 0, err)
        self.assertIn("completed: 3 rows read, 2 created, 0 updated, 0 skipped, 1 failed", out)
        header_only = os.path.join(os.path.dirname(self.data), "header.csv")
        with open(header_only, "w") as f:
            f.write("email\n")
        rc, out, _ = run_cli("import", header_only, "--data-dir", self.data)
        self.assertEqual(rc, 3, "an offline import that fails exits as the daemon path does")
        self.assertIn("only a header", out)
        rc, out, err = run_cli("import", "process", "--data-dir", self.data)
        self.assertEqual(rc, 0, err)
        self.assertIn("ran 0 due jobs", out)

        def released():  # each run performs the slots that are due, then exits
            rc, _, err = run_cli("release", "run", "--data-dir", self.data)
            self.assertEqual(rc, 0, err)
            return db_query(self.daemon.db_path, "SELECT count(*) FROM contacts WHERE status = 'live'")[0][0] == 5
        await_condition(released, timeout=30, interval=0.5, what="release run to release all 5")
        [(state, total)] = db_query(self.daemon.db_path, "SELECT state, released_total FROM release_plans WHERE id = ?",
                                    (plan["id"],))
        self.assertEqual((state, total), ("completed", 5))
        # A running daemon holds the data directory: the cron verbs refuse it.
        self.daemon = Daemon(self.data, port=self.daemon.port).start()
        rc, _, err = run_cli("release", "run", "--data-dir", self.data)
        self.assertEqual(rc, 6)
        self.assertIn("in use by another outflow process", err)

    def test_change_the_pace_of_a_running_plan(self):
        self.stage(40, "Pace")
        plan = json.loads(self.ok("release", "--json", "create", "slow", "--per", "1", "--every", "3600"))
        await_condition(lambda: self.live() == 1, timeout=20, what="the first slot")
        api = self.daemon.api()
        status, changed, _ = api.call("PATCH", f"/v1/releases/{plan['id']}", {"per_slot": 20, "interval_seconds": 1})
        self.assertEqual(status, 200, changed)
        self.assertEqual((changed["per_slot"], changed["interval_seconds"]), (20, 1))
        await_condition(lambda: self.live() == 40, timeout=20, what="the faster pace to release the rest")
        status, body, _ = api.call("PATCH", f"/v1/releases/{plan['id']}", {"per_slot": 5})
        self.assertEqual(status, 409, "a completed plan does not change")
        status, body, _ = api.call("PATCH", f"/v1/releases/{plan['id']}", {"name": "renamed"})
        self.assertEqual(status, 400)
        api.close()

    def test_bad_plans_are_refused(self):
        for args, text in [(["--per", "0", "--every", "1"], "per_slot"),
                           (["--per", "5", "--every", "1", "--time-zone", "Mars/Base"], "not an IANA time zone"),
                           (["--per", "5", "--every", "1", "--window", "funday 09:00-17:00"], "not a list of days"),
                           (["--per", "5", "--every", "1", "--window", "mon-fri 17:00-09:00"], "start before its end")]:
            rc, _, err = run_cli("release", "create", "bad", *args, env=self.env)
            self.assertEqual(rc, 3, args)
            self.assertIn(text, err)


if __name__ == "__main__":
    unittest.main()
