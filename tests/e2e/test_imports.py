"""CSV imports through the real daemon: row errors, file-level errors that apply
nothing, interrupted uploads, cancel, and a SIGKILL mid-import that resumes with
no row lost or applied twice."""
import csv
import io
import json
import os
import signal
import socket
import unittest

from harness import Daemon, await_condition, db_query, run_cli, temp_data_dir


def contacts_csv(n, start=0):
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(["Email", "First Name", "Last Name", "Phone", "Company"])
    for i in range(start, start + n):
        w.writerow([f"user{i}@example.com", f"First{i}", f'Last "{i}", Jr', f"+1415555{i % 10000:04d}", f"Co {i % 7}"])
    return out.getvalue()


class ImportsTest(unittest.TestCase):
    def setUp(self):
        self.data = temp_data_dir(self)
        self.daemon = Daemon(self.data, extra_args=["--upload-limit", str(32 << 20)]).start()
        self.addCleanup(lambda: self.daemon.stop())
        self.env = {"OUTFLOW_SERVER": f"http://127.0.0.1:{self.daemon.port}"}
        self.tmp = os.path.dirname(self.data)

    def write(self, name, text, mode="w"):
        path = os.path.join(self.tmp, name)
        with open(path, mode) as f:
            f.write(text)
        return path

    def cli(self, *args):
        return run_cli(*args, env=self.env, timeout=300)

    def count(self):
        return db_query(self.daemon.db_path, "SELECT count(*) FROM contacts")[0][0]

    def test_rows_errors_and_report(self):
        self.assertEqual(self.cli("field", "define", "seats", "--type", "number")[0], 0)
        path = self.write("a.csv", "\ufeffE-mail Address;First Name;Surname;Seats\n"
                                   "ann@example.com;Ann;Lee;3\n"
                                   "bob@example;Bob;;2\n"
                                   "carl@example.com;\"Carl \"\"CJ\"\"\";Jones;many\n"
                                   "dee@example.com;Dee\n")
        rc, out, err = self.cli("import", path, "--owner", "olga")
        self.assertEqual(rc, 0, err)
        self.assertIn("completed: 4 rows read, 1 created, 0 updated, 0 skipped, 3 failed", out)
        rc, report, _ = self.cli("imports", "errors", "1")
        rows = list(csv.reader(io.StringIO(report)))
        self.assertEqual(rows[0], ["row", "column", "value", "reason"])
        self.assertEqual(rows[1][:3], ["3", "E-mail Address", "bob@example"])
        self.assertEqual(rows[2][:3], ["4", "Seats", "many"])
        self.assertIn("line 5: 2 fields, the header has 4", rows[3][3])
        rc, out, _ = self.cli("contact", "--json", "list")
        [ann] = json.loads(out)["contacts"]
        self.assertEqual((ann["email"], ann["first_name"], ann["owner"], ann["custom"]),
                         ("ann@example.com", "Ann", "olga", {"seats": 3}))

    def test_file_level_errors_apply_nothing(self):
        good_rows = "".join(f"u{i}@example.com,U{i}\n" for i in range(50))
        cases = [
            ("unclosed.csv", "email,name\n" + good_rows + 'x@y.io,"never closed\n', "quoted field is never closed"),
            ("header_only.csv", "email,name\n", "only a header"),
            ("dup.csv", "email,Email\na@b.co,c@d.co\n", "are both"),
            ("blank_header.csv", "email,,name\na@b.co,x,y\n", "is empty"),
        ]
        for name, text, message in cases:
            rc, out, err = self.cli("import", self.write(name, text))
            self.assertEqual(rc, 3, name)
            self.assertIn(message, out + err, name)
        rc, _, err = self.cli("import", self.write("empty.csv", ""))
        self.assertEqual(rc, 3)
        self.assertIn("the file is empty", err)
        rc, out, _ = self.cli("import", self.write("m.csv", "email\na@b.co\n"), "--map", "email=favourite_colour")
        self.assertEqual(rc, 3)
        self.assertIn("unknown field 'favourite_colour'", out)
        self.assertEqual(self.count(), 0, "a file-level error applied nothing")

    def test_upload_over_the_limit_and_interrupted_upload_leave_nothing(self):
        big = self.write("big.csv", "email\n" + "x" * (33 << 20))
        rc, _, err = self.cli("import", big)
        self.assertEqual(rc, 3)
        self.assertIn("over the limit", err)
        # A client that sends part of its body and disconnects: the partial file is removed.
        uploads = os.path.join(self.data, "uploads")
        with socket.create_connection(("127.0.0.1", self.daemon.port), timeout=10) as s:
            auth = f"Authorization: Bearer {self.daemon.key}\r\n".encode()
            s.sendall(b"POST /v1/imports HTTP/1.1\r\nHost: x\r\n" + auth +
                      b"Content-Length: 100000\r\n\r\nemail\na@b.co\n")
            await_condition(lambda: os.path.isdir(uploads) and os.listdir(uploads), what="the upload to start")
        api = self.daemon.api()
        await_condition(lambda: not os.path.isdir(uploads) or not os.listdir(uploads), what="the partial upload removed")
        self.assertEqual(api.call("GET", "/v1/imports")[1]["imports"], [])
        api.close()

    def test_sigkill_mid_import_resumes_without_losing_or_repeating_rows(self):
        n = 120_000
        path = self.write("many.csv", contacts_csv(n))
        rc, out, err = self.cli("import", path, "--create-fields", "--no-wait")
        self.assertEqual(rc, 0, err)

        def progressed():
            rows = db_query(self.daemon.db_path, "SELECT rows_read, state FROM imports WHERE id = 1")
            return rows and rows[0][1] == "running" and 0 < rows[0][0] < n
        await_condition(progressed, timeout=60, interval=0.005, what="the import to be part way")
        self.daemon.kill()
        done_before = db_query(self.daemon.db_path, "SELECT rows_read FROM imports WHERE id = 1")[0][0]
        self.assertLess(done_before, n)
        self.daemon = Daemon(self.data, port=self.daemon.port).start()
        await_condition(lambda: db_query(self.daemon.db_path, "SELECT state FROM imports WHERE id = 1")[0][0]
                        == "completed", timeout=120, what="the import to complete")
        [(read, created, updated, failed)] = db_query(
            self.daemon.db_path, "SELECT rows_read, created, updated, failed FROM imports WHERE id = 1")
        self.assertEqual((read, created, updated, failed), (n, n, 0, 0), "a row applied twice would count as updated")
        self.assertEqual(self.count(), n)
        [(company,)] = db_query(self.daemon.db_path,
                                "SELECT json_extract(custom, '$.company') FROM contacts WHERE email = 'user77@example.com'")
        self.assertEqual(company, "Co 0")

    def test_sigterm_mid_import_stops_after_the_batch_and_resumes(self):
        n = 150_000
        rc, out, err = self.cli("import", self.write("many.csv", contacts_csv(n)), "--no-wait")
        self.assertEqual(rc, 0, err)

        def part_way():
            rows = db_query(self.daemon.db_path, "SELECT rows_read, state FROM imports WHERE id = 1")
            return rows and rows[0][1] == "running" and 0 < rows[0][0] < n
        await_condition(part_way, timeout=60, interval=0.005, what="the import to be part way")
        self.daemon.signal(signal.SIGTERM)
        self.assertEqual(self.daemon.wait(30), 0)
        [(state, read)] = db_query(self.daemon.db_path, "SELECT state, rows_read FROM imports WHERE id = 1")
        self.assertEqual(state, "running")
        self.assertLess(read, n, "the drain did not wait for the whole file")
        self.daemon = Daemon(self.data, port=self.daemon.port).start()
        await_condition(lambda: db_query(self.daemon.db_path, "SELECT state FROM imports WHERE id = 1")[0][0]
                        == "completed", timeout=120, what="the import to complete")
        [(read, created, updated)] = db_query(self.daemon.db_path,
                                              "SELECT rows_read, created, updated FROM imports WHERE id = 1")
        self.assertEqual((read, created, updated), (n, n, 0))

    def test_cancel_stops_at_the_next_batch(self):
        path = self.write("many.csv", contacts_csv(150_000))
        rc, out, err = self.cli("import", path, "--no-wait")
        self.assertEqual(rc, 0, err)
        await_condition(lambda: db_query(self.daemon.db_path, "SELECT state FROM imports WHERE id = 1")[0][0]
                        in ("running", "completed"), timeout=60, interval=0.005, what="running")
        rc, out, err = self.cli("imports", "cancel", "1")
        if rc == 5:
            self.skipTest("the import finished before the cancel arrived")  # a fast machine: nothing to cancel
        self.assertEqual(rc, 0, err)
        rc, out, _ = self.cli("imports", "--json", "show", "1")
        im = json.loads(out)
        self.assertEqual(im["state"], "cancelled")
        rows_then = im["rows_read"]
        self.assertLess(rows_then, 150_000)
        # Nothing more is applied after the cancel.
        self.daemon.stop()
        self.assertEqual(db_query(self.daemon.db_path, "SELECT rows_read FROM imports")[0][0], rows_then)


if __name__ == "__main__":
    unittest.main()
