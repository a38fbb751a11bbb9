"""Contacts and custom fields through the CLI and the REST API of a real daemon."""
import json
import unittest

from harness import Daemon, run_cli, temp_data_dir


class ContactsTest(unittest.TestCase):
    def setUp(self):
        self.daemon = Daemon(temp_data_dir(self)).start()
        self.addCleanup(self.daemon.stop)
        self.env = {"OUTFLOW_SERVER": f"http://127.0.0.1:{self.daemon.port}"}

    def cli(self, *args, input=None):
        return run_cli(*args, env=self.env, input=input)

    def test_cli_contact_lifecycle(self):
        rc, out, err = self.cli("field", "define", "seats", "--type", "number", "--label", "Seats")
        self.assertEqual(rc, 0, err)
        rc, out, err = self.cli("contact", "--json", "create", "--email", " Ann@Example.com ", "--first-name", "Ann",
                                "--phone", "+49 151 1234 5678", "--locale", "de_de", "--field", "seats=4")
        self.assertEqual(rc, 0, err)
        ann = json.loads(out)
        self.assertEqual((ann["email"], ann["phone"], ann["locale"], ann["custom"]),
                         ("Ann@Example.com", "+4915112345678", "de-DE", {"seats": 4}))
        rc, _, err = self.cli("contact", "create", "--email", "ann@EXAMPLE.com")
        self.assertEqual(rc, 5, "a duplicate email is a conflict")
        self.assertIn(f"already used by contact {ann['id']}", err)
        rc, _, err = self.cli("contact", "create", "--email", "x@y.io", "--field", "seats=many")
        self.assertEqual(rc, 3)
        self.assertIn("custom.seats: 'many' is not a number", err)
        rc, out, err = self.cli("contact", "--json", "update", str(ann["id"]), "--tier", "pro")
        self.assertEqual(rc, 0, err)
        self.assertEqual(json.loads(out)["tier"], "pro")
        rc, out, err = self.cli("contact", "upsert", "--file", "-", input=json.dumps(
            {"contacts": [{"email": "ann@example.com", "last_name": "Lee"}, {"email": "bob@example.com"},
                          {"email": "not-an-email"}]}))
        self.assertEqual(rc, 0, err)
        self.assertIn("created 1, updated 1, skipped 0, failed 1", out)
        self.assertIn("contacts[2].email", out)
        rc, out, _ = self.cli("contact", "count", "--tier", "pro")
        self.assertEqual(out.strip(), "1")
        rc, out, _ = self.cli("contact", "list")
        self.assertRegex(out, r"ann@example\.com\s+\+4915112345678\s+Ann Lee")
        self.assertIn("bob@example.com", out)
        self.assertEqual(self.cli("contact", "delete", str(ann["id"]))[0], 0)
        self.assertEqual(self.cli("contact", "get", str(ann["id"]))[0], 4)
        rc, out, _ = self.cli("field", "list")
        self.assertRegex(out, r"seats\s+number\s+Seats")

    def test_contacts_survive_a_restart(self):
        rc, out, err = self.cli("contact", "--json", "create", "--email", "keep@example.com", "--status", "staged")
        self.assertEqual(rc, 0, err)
        self.daemon.stop()
        self.daemon = Daemon(self.daemon.data_dir, port=self.daemon.port).start()
        self.addCleanup(self.daemon.stop)
        rc, out, _ = self.cli("contact", "--json", "list", "--status", "staged")
        self.assertEqual([c["email"] for c in json.loads(out)["contacts"]], ["keep@example.com"])


if __name__ == "__main__":
    unittest.main()
