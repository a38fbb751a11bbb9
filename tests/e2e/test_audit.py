"""The audit log against the real binary (docs/security.md "Audit log"): an entry
for each kind of change, made through the API and through the CLI, with who,
from where and the request id; no secret anywhere in the table; reads for admins
only; and nothing that edits or deletes an entry."""
import json
import os
import unittest

from harness import TEST_SECRET_KEY, Daemon, db_query, run_cli, temp_data_dir

ACCESS_TOKEN = "EAAG-audit-e2e-access-token-0123456789"
APP_SECRET = "audit-e2e-app-secret-9876543210"


class AuditTest(unittest.TestCase):
    def setUp(self):
        self.data = temp_data_dir(self)
        self.daemon = Daemon(self.data).start()
        self.addCleanup(self.daemon.stop)
        self.server = f"http://127.0.0.1:{self.daemon.port}"
        self.api = self.daemon.api()
        self.addCleanup(self.api.close)
        self.admin_id = self.call("GET", "/v1/keys")["keys"][0]["id"]  # serve's own key for the CLI

    def call(self, method, path, body=None, expect=(200, 201, 202, 204), api=None, headers=None):
        status, reply, _ = (api or self.api).call(method, path, body, headers=headers)
        expected = expect if isinstance(expect, tuple) else (expect,)
        self.assertIn(status, expected, f"{method} {path}: {reply}")
        return reply

    def entries(self, **filters):
        query = "&".join(f"{k}={v}" for k, v in filters.items())
        return self.call("GET", "/v1/audit?limit=1000&" + query)["entries"]

    def make_changes(self):
        """One change of each kind; returns (action, object id) for each, and the keys made."""
        made = []
        contact = self.call("POST", "/v1/contacts", {"email": "ada@example.com", "first_name": "Ada"})
        made.append(("contact.create", str(contact["id"])))
        self.call("PATCH", f"/v1/contacts/{contact['id']}", {"first_name": "Ada L."})
        made.append(("contact.update", str(contact["id"])))
        segment = self.call("POST", "/v1/segments", {"name": "vip", "kind": "static"})
        made.append(("segment.create", str(segment["id"])))
        self.call("POST", f"/v1/segments/{segment['id']}/members", {"contact_ids": [contact["id"]]})
        made.append(("segment.members", str(segment["id"])))
        account = self.call("POST", "/v1/accounts", {
            "name": "wa", "channel": "whatsapp", "provider": "whatsapp_cloud",
            "settings": {"phone_number_id": "106540352242922", "base_url": "http://127.0.0.1:9"},
            "credentials": {"access_token": ACCESS_TOKEN, "app_secret": APP_SECRET}, "rate_per_second": 10})
        made.append(("account.create", str(account["id"])))
        log_account = self.call("POST", "/v1/accounts", {"name": "dry", "channel": "log", "provider": "log"})
        template = self.call("POST", "/v1/templates", {"name": "hello", "subject": "Hi", "text": "Hi {{first_name}}"})
        made.append(("template.create", str(template["id"])))
        message = self.call("POST", "/v1/messages", {"account_id": log_account["id"], "contact_id": contact["id"],
                                                     "template_id": template["id"]})["message"]
        made.append(("message.create", str(message["id"])))
        campaign = self.call("POST", "/v1/campaigns", {"name": "spring", "account_id": log_account["id"],
                                                       "template_id": template["id"], "draft": True,
                                                       "audience": {"segments": [segment["id"]]}})
        made.append(("campaign.create", str(campaign["id"])))
        self.call("POST", f"/v1/campaigns/{campaign['id']}/schedule", {"send_at": "2099-01-01T10:00:00Z"})
        made.append(("campaign.schedule", str(campaign["id"])))
        self.call("POST", f"/v1/campaigns/{campaign['id']}/cancel")
        made.append(("campaign.cancel", str(campaign["id"])))
        job = self.call("POST", "/v1/jobs", {"kind": "noop", "due_at": "2099-01-01T00:00:00Z"})
        made.append(("job.create", str(job["id"])))
        self.call("POST", f"/v1/jobs/{job['id']}/cancel")
        made.append(("job.cancel", str(job["id"])))
        key = self.call("POST", "/v1/keys", {"name": "ci", "role": "editor"})
        made.append(("key.create", str(key["id"])))
        self.call("DELETE", f"/v1/contacts/{contact['id']}")
        made.append(("contact.delete", str(contact["id"])))
        return made, [key["key"]]

    def test_each_kind_of_change_is_recorded_with_who_where_and_the_request(self):
        made, keys = self.make_changes()
        entries = self.entries()
        for action, object_id in made:
            found = [e for e in entries if e["action"] == action and e["object_id"] == object_id]
            self.assertEqual(len(found), 1, f"{action} {object_id} in {[e['action'] for e in entries]}")
            e = found[0]
            self.assertEqual(e["actor"], f"key:{self.admin_id}")
            self.assertEqual(e["address"], "127.0.0.1")
            self.assertRegex(e["request_id"], r"^[0-9a-f]{16}$")
        self.assertEqual(len(entries), len(made) + 1, "and the log account; reads are not changes")
        update = next(e for e in entries if e["action"] == "contact.update")
        self.assertEqual(update["summary"], {"fields": ["first_name"]})
        wa_id = next(object_id for action, object_id in made if action == "account.create")
        account = next(e for e in entries if e["action"] == "account.create" and e["object_id"] == wa_id)
        self.assertEqual(account["summary"]["fields"], ["channel", "credentials", "name", "provider",
                                                        "rate_per_second", "settings"])

        # A client's request id is kept; a refused or failed change is not recorded.
        self.call("POST", "/v1/contacts", {"email": "bob@example.com"}, headers={"X-Request-Id": "trace-42"})
        self.assertEqual(self.entries(action="contact.create")[0]["request_id"], "trace-42")
        self.call("POST", "/v1/contacts", {"email": "not an address"}, expect=400)
        editor = self.daemon.api(keys[0])
        self.addCleanup(editor.close)
        self.call("POST", "/v1/keys", {"name": "x", "role": "admin"}, expect=403, api=editor)
        self.assertEqual(len(self.entries(action="contact.create")), 2)
        self.assertEqual(len(self.entries(action="key.create")), 1)

        # The editor's own change names the editor's key.
        self.call("POST", "/v1/contacts", {"email": "eve@example.com"}, api=editor)
        newest = self.entries()[0]
        self.assertEqual(newest["action"], "contact.create")
        self.assertEqual(newest["actor_name"], "ci")

    def test_no_secret_reaches_the_audit_table(self):
        _, keys = self.make_changes()
        rc, out, err = run_cli("key", "create", "--data-dir", self.data, "--name", "ops", "--role", "admin")
        self.assertEqual(rc, 0, err)
        cli_key = out.strip().splitlines()[-1]
        secrets = [ACCESS_TOKEN, APP_SECRET, TEST_SECRET_KEY, self.daemon.key, cli_key, *keys]
        rows = db_query(self.daemon.db_path, "SELECT * FROM audit_log")
        self.assertGreater(len(rows), 10)
        table = json.dumps(rows)
        for secret in secrets:
            self.assertNotIn(secret, table)
            self.assertNotIn(secret[-24:], table, "not even a part of one")
        self.assertNotIn("ofk_", table)

    def test_the_cli_records_its_own_changes_and_reads_the_log(self):
        rc, out, err = run_cli("key", "create", "--data-dir", self.data, "--name", "ops", "--role", "viewer")
        self.assertEqual(rc, 0, err)
        key_id = out.split()[3]
        rc, _, err = run_cli("key", "revoke", "--data-dir", self.data, key_id)
        self.assertEqual(rc, 0, err)
        rc, out, err = run_cli("audit", "--server", self.server, "--object-type", "key", "--json")
        self.assertEqual(rc, 0, err)
        page = json.loads(out)
        actions = [(e["action"], e["object_id"], e["address"]) for e in page["entries"]]
        self.assertEqual(actions, [("key.delete", key_id, "local"), ("key.create", key_id, "local")])
        self.assertTrue(all(e["actor"].startswith("cli:") for e in page["entries"]))
        rc, out, err = run_cli("audit", "--server", self.server)
        self.assertEqual(rc, 0, err)
        self.assertIn("key.delete", out)

    def test_only_admins_read_it_and_nothing_edits_it(self):
        self.call("POST", "/v1/contacts", {"email": "ada@example.com"})
        for role in ("viewer", "editor"):
            rc, out, err = run_cli("key", "create", "--data-dir", self.data, "--name", role, "--role", role)
            self.assertEqual(rc, 0, err)
            other = self.daemon.api(out.strip().splitlines()[-1])
            self.addCleanup(other.close)
            self.call("GET", "/v1/audit", expect=403, api=other)
        before = self.entries()
        for method in ("POST", "PATCH", "DELETE", "PUT"):
            self.call(method, "/v1/audit", {}, expect=405)
            self.call(method, f"/v1/audit/{before[0]['id']}", {}, expect=404)
        self.assertEqual(self.entries(), before)
        self.call("GET", "/v1/audit?since=yesterday", expect=400)
        self.call("GET", "/v1/audit?limit=0", expect=400)
        self.call("GET", "/v1/audit?colour=red", expect=400)

    def test_behind_a_trusted_proxy_the_forwarded_client_is_recorded(self):
        forwarded = {"X-Forwarded-For": "198.51.100.9, 203.0.113.7"}
        self.call("POST", "/v1/contacts", {"email": "direct@example.com"}, headers=forwarded)
        self.assertEqual(self.entries()[0]["address"], "127.0.0.1", "an untrusted peer's header is ignored")
        self.daemon.stop()
        self.api.close()
        self.daemon = Daemon(self.data, extra_args=["--trusted-proxy", "127.0.0.1/32"]).start()
        self.addCleanup(self.daemon.stop)
        self.api = self.daemon.api()
        self.addCleanup(self.api.close)
        self.call("POST", "/v1/contacts", {"email": "proxied@example.com"}, headers=forwarded)
        self.assertEqual(self.entries()[0]["address"], "203.0.113.7", "the rightmost address the proxy added")

    def test_users_and_their_sessions_are_audited_and_no_password_or_link_is(self):
        password = "audit-e2e correct horse battery"
        made = self.call("POST", "/v1/users", {"email": "ann@example.com", "role": "editor"})
        token = made["setup_link"].split("token=")[1]
        setup = self.daemon.api(key="")
        self.addCleanup(setup.close)
        self.call("POST", "/v1/setup", {"token": token, "password": password}, api=setup)
        status, login, resp = setup.call("POST", "/v1/session", {"email": "ann@example.com", "password": password})
        self.assertEqual(status, 200, login)
        cookie = resp.getheader("Set-Cookie").split(";")[0]
        browser = {"Cookie": cookie, "X-CSRF-Token": login["csrf_token"]}
        contact = self.call("POST", "/v1/contacts", {"email": "by-ann@example.com"}, api=setup, headers=browser)
        rc, out, err = run_cli("user", "unlock", "--data-dir", self.data, str(made["id"]))
        self.assertEqual(rc, 0, err)

        entries = self.entries()
        by_ann = next(e for e in entries if e["action"] == "contact.create" and e["object_id"] == str(contact["id"]))
        self.assertEqual(by_ann["actor"], f"user:{made['id']}")
        self.assertEqual(by_ann["actor_name"], "ann@example.com")
        created = next(e for e in entries if e["action"] == "user.create")
        self.assertEqual((created["object_id"], created["actor"]), (str(made["id"]), f"key:{self.admin_id}"))
        unlock = next(e for e in entries if e["action"] == "user.unlock")
        self.assertTrue(unlock["actor"].startswith("cli:"))
        table = json.dumps(db_query(self.daemon.db_path, "SELECT * FROM audit_log"))
        for secret in (password, token, cookie.split("=", 1)[1], login["csrf_token"]):
            self.assertNotIn(secret, table)

    def test_commands_on_the_data_directory_are_audited_too(self):
        data = os.path.join(os.path.dirname(self.data), "offline")  # no daemon on it
        rc, out, err = run_cli("migrate", "--data-dir", data)
        self.assertEqual(rc, 0, err)
        path = os.path.join(os.path.dirname(self.data), "people.csv")
        with open(path, "w") as f:
            f.write("email,first_name\nada@example.com,Ada\nbob@example.com,Bob\n")
        rc, out, err = run_cli("import", path, "--data-dir", data)
        self.assertEqual(rc, 0, err)
        rows = db_query(os.path.join(data, "outflow.db"),
                        "SELECT action, object_id, address, summary, actor FROM audit_log ORDER BY id")
        self.assertEqual([r[0] for r in rows], ["schema.migrate", "import.create"])
        self.assertTrue(all(r[2] == "local" and r[4].startswith("cli:") for r in rows), rows)
        self.assertEqual(json.loads(rows[1][3]), {"upload_bytes": str(os.path.getsize(path))})

    def test_filters_and_pages(self):
        for i in range(5):
            self.call("POST", "/v1/contacts", {"email": f"c{i}@example.com"})
        page = self.call("GET", "/v1/audit?limit=2&action=contact.create")
        self.assertEqual(len(page["entries"]), 2)
        seen = [e["id"] for e in page["entries"]]
        while "next_before" in page:
            page = self.call("GET", f"/v1/audit?limit=2&action=contact.create&before={page['next_before']}")
            seen += [e["id"] for e in page["entries"]]
        self.assertEqual(len(seen), 5)
        self.assertEqual(seen, sorted(seen, reverse=True))
        self.assertEqual(self.entries(actor="key:999999"), [])
        self.assertEqual(len(self.entries(actor=f"key:{self.admin_id}")), 5)


if __name__ == "__main__":
    unittest.main()
