"""Segments through the CLI and REST API of a real daemon: dynamic membership
that follows contact changes and imports, static segments, segment_name columns,
and the durable membership log."""
import json
import os
import unittest

from harness import Daemon, db_query, run_cli, temp_data_dir


class SegmentsTest(unittest.TestCase):
    def setUp(self):
        self.data = temp_data_dir(self)
        self.daemon = Daemon(self.data).start()
        self.addCleanup(lambda: self.daemon.stop())
        self.env = {"OUTFLOW_SERVER": f"http://127.0.0.1:{self.daemon.port}"}

    def cli(self, *args):
        rc, out, err = run_cli(*args, env=self.env)
        return rc, out, err

    def ok(self, *args):
        rc, out, err = self.cli(*args)
        self.assertEqual(rc, 0, f"{args}: {err}")
        return out

    def members(self, segment_id):
        return [int(x) for x in self.ok("segment", "members", str(segment_id)).split() if x.isdigit()]

    def test_dynamic_segment_follows_contacts_and_imports(self):
        self.ok("field", "define", "seats", "--type", "number")
        ann = json.loads(self.ok("contact", "--json", "create", "--email", "ann@x.io", "--tier", "pro", "--field", "seats=5"))
        bob = json.loads(self.ok("contact", "--json", "create", "--email", "bob@x.io", "--tier", "free"))
        seg = json.loads(self.ok("segment", "--json", "create", "Big pro accounts", "--filter", json.dumps(
            {"all": [{"field": "tier", "op": "equals", "value": "pro"}, {"field": "seats", "op": "greater_than", "value": 3}]})))
        self.assertEqual(seg["member_count"], 1)
        self.assertEqual(self.members(seg["id"]), [ann["id"]])
        self.ok("contact", "update", str(bob["id"]), "--tier", "pro", "--field", "seats=10")
        self.ok("contact", "update", str(ann["id"]), "--field", "seats=2")
        self.assertEqual(self.members(seg["id"]), [bob["id"]])
        # An import's rows join as they are committed; staged rows do not.
        path = os.path.join(os.path.dirname(self.data), "pro.csv")
        with open(path, "w") as f:
            f.write("email,tier,seats\ncarl@x.io,pro,7\ndee@x.io,free,9\n")
        self.ok("import", path)
        with open(path, "w") as f:
            f.write("email,tier,seats\nstaged@x.io,pro,7\n")
        self.ok("import", path, "--staging")
        ids = self.members(seg["id"])
        self.assertEqual(len(ids), 2, ids)
        out = self.ok("segment", "list")
        self.assertRegex(out, r"Big pro accounts\s+dynamic\s+2")
        rc, _, err = self.cli("segment", "create", "Bad", "--filter", '{"field":"colour","op":"equals","value":"red"}')
        self.assertEqual(rc, 3)
        self.assertIn("unknown field 'colour'", err)
        # The log holds every join and leave, in order.
        log = db_query(self.daemon.db_path, "SELECT contact_id, change FROM segment_events WHERE segment_id = ? ORDER BY id",
                       (seg["id"],))
        self.assertEqual(log[:3], [(ann["id"], "joined"), (bob["id"], "joined"), (ann["id"], "left")])

    def test_static_segments_and_segment_name_column(self):
        path = os.path.join(os.path.dirname(self.data), "leads.csv")
        with open(path, "w") as f:
            f.write("email,segment_name\na@x.io,Webinar\nb@x.io,Webinar\nc@x.io,Trade show\nd@x.io,\n")
        self.ok("import", path, "--segment", "All leads")
        segs = {s["name"]: s for s in json.loads(self.ok("segment", "--json", "list"))["segments"]}
        self.assertEqual({n: s["member_count"] for n, s in segs.items()},
                         {"Webinar": 2, "Trade show": 1, "All leads": 1})
        self.assertTrue(all(s["kind"] == "static" for s in segs.values()))
        vip = json.loads(self.ok("segment", "--json", "create", "VIP", "--static"))
        self.assertIn("added 2", self.ok("segment", "add", str(vip["id"]), "1", "2"))
        rc, _, err = self.cli("segment", "add", str(vip["id"]), "999")
        self.assertEqual(rc, 4)
        self.assertIn("contact 999 does not exist", err)
        self.ok("contact", "delete", "1")
        self.assertEqual(self.members(vip["id"]), [2], "a deleted contact leaves its segments")
        # Staged rows are remembered for their release, not members yet.
        with open(path, "w") as f:
            f.write("email,segment_name\ne@x.io,Webinar\n")
        self.ok("import", path, "--staging")
        webinar = json.loads(self.ok("segment", "--json", "show", str(segs["Webinar"]["id"])))
        self.assertEqual(webinar["member_count"], 1, "b only: a was deleted and e is staged")
        self.assertEqual(db_query(self.daemon.db_path, "SELECT count(*) FROM staged_memberships")[0][0], 1)


if __name__ == "__main__":
    unittest.main()
