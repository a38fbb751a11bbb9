"""Campaigns through the real daemon and real servers: the secret key at start-up,
credentials never stored or shown in plain text, e-mail to a real SMTP server
(aiosmtpd), WhatsApp through a faithful fake of the Cloud API with its errors,
bad credentials failing a campaign early, scheduling (a time in the past, a missed
campaign), pause/resume, and a 20,000-recipient campaign whose daemon is
SIGKILLed several times: no recipient lost, and a repeat only for a send that was
in flight at a kill."""
import csv
import glob
import email
import email.policy
import io
import json
import os
import signal
import stat
import subprocess
import sys
import time
import unittest
import urllib.parse
from collections import Counter

from harness import Api, Daemon, OUTFLOW, await_condition, db_query, run_cli, temp_data_dir

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "../.."))
PYTHON = "/usr/bin/python3"
# A campaign's engagement counts when no tracking event came (test_tracking.py has them).
NO_ENGAGEMENT = {"delivered": 0, "opened": 0, "clicked": 0, "bounced": 0, "complained": 0, "unsubscribed": 0}


class Child:
    """A helper server (provider fake, SMTP sink) that prints its port and exits when stdin closes."""

    def __init__(self, argv):
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        line = self.proc.stdout.readline().decode().strip()
        if not line.isdigit():
            self.proc.kill()
            raise AssertionError(f"{argv[1]} did not start: {line!r}")
        self.port = int(line)

    def close(self):
        self.proc.stdin.close()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc.stdout.close()


class ProviderFake(Child):
    TOKEN = "wa-e2e-token"

    def __init__(self, record):
        self.record = record
        super().__init__([PYTHON, os.path.join(ROOT, "tests/fakes/provider_fake.py"), "--record", record,
                          "--whatsapp-token", self.TOKEN])
        self.api = Api(self.port)

    def control(self, body):
        status, _, _ = self.api.call("POST", "/_control", body)
        assert status == 200, status

    def stats(self):
        return self.api.call("GET", "/_stats")[1]

    def requests(self):
        with open(self.record) as f:
            return [json.loads(line) for line in f if line.strip()]

    def close(self):
        self.api.close()
        super().close()


def import_contacts(test, env, rows, segment):
    """Imports contacts through the CLI into a static segment; returns the segment's id."""
    path = os.path.join(os.path.dirname(test.data), f"{segment}.csv")
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["email", "phone", "first_name"])
        w.writerows(rows)
    rc, out, err = run_cli("import", path, "--segment", segment, env=env, timeout=300)
    test.assertEqual(rc, 0, err)
    test.assertIn("completed", out)
    segments = test.api.call("GET", "/v1/segments")[1]["segments"]
    return next(s["id"] for s in segments if s["name"] == segment)


class CampaignTest(unittest.TestCase):
    def setUp(self):
        self.data = temp_data_dir(self)
        self.tmp = os.path.dirname(self.data)

    def start_daemon(self, extra=()):
        self.daemon = Daemon(self.data, extra_args=["--send-retry-base-ms", "200", *extra]).start()
        self.addCleanup(lambda: self.daemon.stop())
        self.api = self.daemon.api()
        self.addCleanup(lambda: self.api.close())
        self.env = {"OUTFLOW_SERVER": f"http://127.0.0.1:{self.daemon.port}"}

    def fake(self):
        fake = ProviderFake(os.path.join(self.tmp, "provider.jsonl"))
        self.addCleanup(fake.close)
        return fake

    def post(self, path, body, expect=201):
        status, reply, _ = self.api.call("POST", path, body)
        self.assertEqual(status, expect, reply)
        return reply

    def start_daemon_with_env(self, env):
        self.daemon = Daemon(self.data, extra_args=["--send-retry-base-ms", "200"], env=env).start()
        self.addCleanup(lambda: self.daemon.stop())
        self.api = self.daemon.api()
        self.addCleanup(lambda: self.api.close())
        self.env = {"OUTFLOW_SERVER": f"http://127.0.0.1:{self.daemon.port}"}

    def send_and_await(self, account, contact, tpl):
        """A transactional message through `account`; awaits and returns it, sent."""
        queued = self.post("/v1/messages", {"account_id": account["id"], "contact_id": contact["id"],
                                            "template_id": tpl["id"]}, expect=202)["message"]
        message = {}

        def finished():
            message.update(self.api.call("GET", f"/v1/messages/{queued['id']}")[1])
            return message["state"] in ("sent", "failed", "skipped")
        await_condition(finished, timeout=60, what="the message")
        self.assertEqual(message["state"], "sent", message)
        return message

    def verify(self, account):
        """POST .../verify queues an account.verify job (202); awaits it and returns the finished job."""
        queued = self.post(f"/v1/accounts/{account['id']}/verify", None, expect=202)
        self.assertEqual(queued["job"], f"/v1/jobs/{queued['job_id']}")
        job = {}

        def finished():
            job.update(self.api.call("GET", queued["job"])[1])
            return job["state"] in ("done", "dead")
        await_condition(finished, timeout=60, what="the verification job")
        self.assertEqual(job["kind"], "account.verify")
        return job

    def whatsapp_account(self, fake, token=ProviderFake.TOKEN, **limits):
        return self.post("/v1/accounts", {
            "name": f"wa-{len(token)}-{token[:2]}", "channel": "whatsapp", "provider": "whatsapp_cloud",
            "settings": {"phone_number_id": "106540352242922", "base_url": f"http://127.0.0.1:{fake.port}"},
            "credentials": {"access_token": token}, "rate_per_second": limits.get("rate", 1000),
            "burst": limits.get("burst", limits.get("rate", 1000))})

    def template(self, name="welcome", subject="Hi {{first_name}}", text="Hello {first_name|there}, welcome!",
                 html=""):
        return self.post("/v1/templates", {"name": name, "subject": subject, "text": text, "html": html})

    def campaign(self, account, template, segment, **extra):
        body = {"name": extra.pop("name", "launch"), "account_id": account["id"], "template_id": template["id"],
                "audience": {"segments": [segment]}}
        body.update(extra)
        return self.post("/v1/campaigns", body)

    def get_campaign(self, cid):
        return self.api.call("GET", f"/v1/campaigns/{cid}")[1]

    def wait_state(self, cid, states, timeout=60):
        box = {}

        def done():
            box["c"] = self.get_campaign(cid)
            return box["c"]["state"] in states
        await_condition(done, timeout, what=f"campaign {cid} in {states}")
        return box["c"]

    def recipients(self, cid, state=None):
        out, after = [], None
        while True:
            q = f"/v1/campaigns/{cid}/recipients?limit=1000" + (f"&state={state}" if state else "") + \
                (f"&after={after}" if after else "")
            page = self.api.call("GET", q)[1]
            out += page["recipients"]
            after = page.get("next_after")
            if not after:
                return out

    # ---- the secret key ----

    def test_a_new_data_directory_gets_its_key_and_one_that_lost_it_is_refused(self):
        key = os.path.join(self.data, "secret.key")
        self.assertFalse(os.path.exists(os.path.join(self.data, "outflow.db")))
        daemon = Daemon(self.data, env={"OUTFLOW_SECRET_KEY": ""}).start()
        try:
            self.assertEqual(stat.S_IMODE(os.stat(key).st_mode), 0o600, "made by serve, readable by its owner only")
            with open(daemon.log_path) as f:
                self.assertIn(key, f.read(), "the log says where the new key is")
        finally:
            daemon.stop()
        with open(key, "rb") as f:
            first = f.read()
        # The same directory again: the key is kept, not made anew.
        Daemon(self.data, env={"OUTFLOW_SECRET_KEY": ""}).start().stop()
        with open(key, "rb") as f:
            self.assertEqual(f.read(), first)
        # The database exists and the key is gone: refused, never a new key.
        os.remove(key)
        env = {k: v for k, v in os.environ.items() if k != "OUTFLOW_SECRET_KEY"}
        p = subprocess.run([OUTFLOW, "serve", "--addr", "127.0.0.1:0", "--data-dir", self.data], env=env,
                           capture_output=True, timeout=30)
        self.assertNotEqual(p.returncode, 0)
        err = p.stderr.decode()
        self.assertIn("no secret key", err)
        self.assertIn("outflow.db", err)
        self.assertFalse(os.path.exists(key), "no key made beside an existing database")

    def test_the_daemon_needs_a_key_and_keeps_credentials_sealed(self):
        env = {k: v for k, v in os.environ.items() if k != "OUTFLOW_SECRET_KEY"}
        # A database without its key (as if the key had been lost): refused.
        os.makedirs(self.data, exist_ok=True)
        open(os.path.join(self.data, "outflow.db"), "wb").close()
        p = subprocess.run([OUTFLOW, "serve", "--addr", "127.0.0.1:0", "--data-dir", self.data], env=env,
                           capture_output=True, timeout=30)
        self.assertNotEqual(p.returncode, 0)
        err = p.stderr.decode()
        self.assertIn("no secret key", err)
        self.assertIn("outflow keygen", err)
        os.remove(os.path.join(self.data, "outflow.db"))

        rc, out, err = run_cli("keygen", "--data-dir", self.data, env=env)
        self.assertEqual(rc, 0, err)
        key = os.path.join(self.data, "secret.key")
        self.assertEqual(stat.S_IMODE(os.stat(key).st_mode), 0o600)
        self.assertNotEqual(run_cli("keygen", "--data-dir", self.data, env=env)[0], 0, "never overwrites a key")
        self.assertEqual(run_cli("keygen", "--data-dir", self.data, "--if-missing", env=env)[0], 0)

        os.chmod(key, 0o644)
        p = subprocess.run([OUTFLOW, "serve", "--addr", "127.0.0.1:0", "--data-dir", self.data], env=env,
                           capture_output=True, timeout=30)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn(key, p.stderr.decode())
        os.chmod(key, 0o600)

        self.daemon = Daemon(self.data, env={"OUTFLOW_SECRET_KEY": ""}).start()
        self.addCleanup(lambda: self.daemon.stop())
        self.api = self.daemon.api()
        self.addCleanup(lambda: self.api.close())
        fake = self.fake()
        secret = "EAAG-very-secret-token-0123456789"
        account = self.whatsapp_account(fake, token=secret)
        self.assertTrue(account["has_credentials"])
        for reply in (account, self.api.call("GET", f"/v1/accounts/{account['id']}")[1],
                      self.api.call("GET", "/v1/accounts")[1]):
            self.assertNotIn(secret, json.dumps(reply))
        self.daemon.stop()
        for path in glob.glob(os.path.join(self.data, "outflow.db*")) + [self.daemon.log_path]:
            with open(path, "rb") as f:
                self.assertNotIn(secret.encode(), f.read(), path)

    def test_the_secret_key_rotates_while_the_daemon_runs_and_sends_still_authenticate(self):
        no_env_key = {"OUTFLOW_SECRET_KEY": ""}  # the daemon makes and reads <data>/secret.key
        self.start_daemon_with_env(no_env_key)
        fake = self.fake()
        used = self.whatsapp_account(fake)
        fresh = self.post("/v1/accounts", {
            "name": "wa-fresh", "channel": "whatsapp", "provider": "whatsapp_cloud",
            "settings": {"phone_number_id": "106540352242922", "base_url": f"http://127.0.0.1:{fake.port}"},
            "credentials": {"access_token": ProviderFake.TOKEN}, "rate_per_second": 100})
        contact = self.post("/v1/contacts", {"phone": "+14155550100", "first_name": "Ro"})
        tpl = self.template(name="rot", subject="", text="Hi {{first_name}}")
        self.send_and_await(used, contact, tpl)  # the send loop of `used` now holds its opened credentials
        key_path = os.path.join(self.data, "secret.key")
        with open(key_path) as f:
            old_key = f.read().strip()
        sealed = lambda: dict(db_query(self.daemon.db_path, "SELECT id, credentials FROM sending_accounts"))
        before = sealed()

        # Refused, with nothing changed: a key from the environment, and a key file that is not this database's.
        rc, _, err = run_cli("secrets", "rotate", "--data-dir", self.data, env={"OUTFLOW_SECRET_KEY": "ab" * 32})
        self.assertNotEqual(rc, 0)
        self.assertIn("OUTFLOW_SECRET_KEY", err)
        other = os.path.join(os.path.dirname(self.data), "other.key")
        self.assertEqual(run_cli("keygen", "--out", other, env=no_env_key)[0], 0)
        rc, _, err = run_cli("secrets", "rotate", "--data-dir", self.data, "--secret-key-file", other, env=no_env_key)
        self.assertNotEqual(rc, 0)
        self.assertIn("do not open with this key file", err)
        self.assertEqual(sealed(), before)

        rc, out, err = run_cli("secrets", "rotate", "--data-dir", self.data, env=no_env_key)
        self.assertEqual(rc, 0, err)
        self.assertIn("resealed 2 account credential(s)", out)
        with open(key_path) as f:
            lines = f.read().split()
        self.assertEqual(len(lines), 2)
        self.assertEqual(lines[1], old_key, "the old key is kept, after the new one")
        self.assertEqual(stat.S_IMODE(os.stat(key_path).st_mode), 0o600)
        after = sealed()
        self.assertTrue(all(after[i] != before[i] for i in before), "every credential is sealed anew")

        # The daemon did not restart: an account first used now (its credentials are
        # sealed under the new key only) and the account used before both still
        # authenticate at the provider, and so does a verification.
        for account in (fresh, used):
            self.send_and_await(account, contact, tpl)
        self.assertEqual(self.verify(fresh)["state"], "done")
        posts = [r for r in fake.requests() if r["method"] == "POST"]
        self.assertEqual(len(posts), 3)
        self.assertTrue(all(r["headers"]["authorization"] == f"Bearer {ProviderFake.TOKEN}" for r in posts))
        audit = self.api.call("GET", "/v1/audit?action=secret_key.rotate")[1]["entries"]
        self.assertEqual(len(audit), 1)
        self.assertEqual(audit[0]["summary"], {"resealed": 2, "keys": 2})

    # ---- channels ----

    def test_whatsapp_campaign_with_provider_errors(self):
        self.start_daemon()
        fake = self.fake()
        rows = [(f"wa{i}@example.com", f"+1415555{i:04d}", f"Name{i}") for i in range(30)]
        segment = import_contacts(self, self.env, rows, "wa")
        account = self.whatsapp_account(fake)
        tpl = self.template()
        # One number is refused for good; one gets a 429 with Retry-After once; one
        # connection is dropped once; one reply is slow.
        fake.control({"rules": [
            {"to": "+14155550003", "status": 400, "code": 131026, "message": "Message undeliverable"},
            {"to": "+14155550005", "status": 429, "code": 130429, "message": "Rate limit hit", "retry_after": "1",
             "times": 1},
            {"to": "+14155550007", "drop": True, "times": 1},
            {"to": "+14155550009", "delay_ms": 300}]})
        c = self.campaign(account, tpl, segment)
        self.assertIn(c["state"], ("scheduled", "processing"))
        done = self.wait_state(c["id"], ("completed", "failed"))
        self.assertEqual(done["state"], "completed", done)
        self.assertEqual(done["counts"], {"total": 30, "pending": 0, "sent": 29, "failed": 1, "skipped": 0, "cancelled": 0,
                                          **NO_ENGAGEMENT})
        failed = self.recipients(c["id"], "failed")
        self.assertEqual([r["address"] for r in failed], ["+14155550003"])
        self.assertIn("131026", failed[0]["error"])
        sent = {r["address"]: r for r in self.recipients(c["id"], "sent")}
        self.assertEqual(sent["+14155550005"]["attempts"], 2)
        self.assertEqual(sent["+14155550007"]["attempts"], 2)
        self.assertTrue(sent["+14155550001"]["provider_id"].startswith("wamid."))

        posts = [r for r in fake.requests() if r["method"] == "POST"]
        bodies = [json.loads(r["body"]) for r in posts]
        texts = {b["to"]: b["text"]["body"] for b in bodies}
        self.assertEqual(texts["+14155550012"], "Hello Name12, welcome!")
        # Every request carried its ledger key; each number got one message.
        keys = Counter(r["headers"]["idempotency-key"] for r in posts if not r["duplicate"])
        self.assertTrue(all(k.startswith(f"outflow-c{c['id']}-r") for k in keys))
        self.assertEqual(fake.stats()["duplicates"], 0)
        self.assertEqual(fake.stats()["sent"], 29)
        metrics = self.api.call("GET", "/metrics")[1].decode()
        self.assertIn('outflow_messages_total{result="sent"} 29\n', metrics)
        self.assertIn('outflow_messages_total{result="failed"} 1\n', metrics)
        self.assertIn('outflow_messages_total{result="transient"} 2\n', metrics)

    def test_sms_through_the_twilio_preset(self):
        self.start_daemon()
        fake = self.fake()
        rows = [(f"sms{i}@example.com", f"+1415559{i:04d}", f"Sam{i}") for i in range(6)]
        segment = import_contacts(self, self.env, rows, "sms")
        account = self.post("/v1/accounts", {
            "name": "twilio", "channel": "sms", "provider": "twilio_sms",
            "settings": {"account_sid": "AC00000000000000000000000000000001", "from": "+15005550006",
                         "base_url": f"http://127.0.0.1:{fake.port}"},
            "credentials": {"auth_token": "twilio-test-token"}, "rate_per_second": 100})
        self.assertEqual(self.verify(account)["state"], "done")
        # Twilio refuses one number for good (21610: the recipient replied STOP).
        fake.control({"rules": [{"to": "+14155590002", "status": 400, "code": 21610,
                                 "message": "Attempt to send to unsubscribed recipient"}]})
        c = self.campaign(account, self.template(name="sms", subject="", text="Hi {{first_name}}, 20% off today"),
                          segment)
        done = self.wait_state(c["id"], ("completed", "failed"))
        self.assertEqual(done["counts"]["sent"], 5, done)
        self.assertEqual(done["counts"]["failed"], 1)
        self.assertIn("21610", self.recipients(c["id"], "failed")[0]["error"])
        sent = self.recipients(c["id"], "sent")
        self.assertTrue(all(r["provider_id"].startswith("SM") for r in sent), sent)
        posts = [r for r in fake.requests() if r["method"] == "POST"]
        form = dict(urllib.parse.parse_qsl(posts[0]["body"]))
        self.assertEqual(form["From"], "+15005550006")
        self.assertTrue(form["Body"].startswith("Hi Sam"))
        for r in posts:
            self.assertEqual(r["headers"]["i-twilio-idempotency-token"], r["headers"]["idempotency-key"])
            self.assertTrue(r["headers"]["authorization"].startswith("Basic "))

    def test_invalid_credentials_fail_the_campaign_early(self):
        self.start_daemon()
        fake = self.fake()
        segment = import_contacts(self, self.env, [(f"x{i}@example.com", f"+1415556{i:04d}", "X") for i in range(50)],
                                  "bad-creds")
        account = self.whatsapp_account(fake, token="wrong-token")
        job = self.verify(account)
        self.assertEqual(job["state"], "dead", job)
        self.assertIn("rejected the credentials", job["last_error"])
        rc, _, err = run_cli("account", "verify", str(account["id"]), env=self.env)
        self.assertEqual(rc, 3, err)
        self.assertIn("rejected the credentials", err)
        c = self.campaign(account, self.template(), segment)
        done = self.wait_state(c["id"], ("failed", "completed"))
        self.assertEqual(done["state"], "failed")
        self.assertIn("rejected the credentials", done["error"])
        self.assertEqual([r["method"] for r in fake.requests()], ["GET", "GET", "GET"], "no message was attempted")

    def test_a_slow_provider_does_not_hold_the_api_while_an_account_is_verified(self):
        self.start_daemon()
        fake = self.fake()
        account = self.whatsapp_account(fake)
        fake.control({"rules": [{"delay_ms": 5000, "times": 1}]})  # the provider holds its answer 5 s
        queued = self.post(f"/v1/accounts/{account['id']}/verify", None, expect=202)
        await_condition(lambda: len(fake.requests()) == 1, timeout=30, what="the provider to be asked")
        # The provider has the request and has not answered: the API still answers, and
        # the job is running on the engine, not on an API thread.
        self.assertEqual(self.api.call("GET", queued["job"])[1]["state"], "leased")
        self.assertEqual(self.api.call("GET", "/healthz")[0], 200)
        rc, out, err = run_cli("account", "verify", str(account["id"]), env=self.env)
        self.assertEqual(rc, 0, err)
        self.assertIn("accepted", out)

    def test_email_over_smtp(self):
        self.start_daemon()
        mail_dir = os.path.join(self.tmp, "mail")
        os.makedirs(mail_dir)
        sink = Child([PYTHON, os.path.join(ROOT, "tests/smtp/smtp_sink.py"), mail_dir, "--auth", "news:pw",
                      "--permanent-rcpt", "^bounce@"])
        self.addCleanup(sink.close)
        rows = [(f"user{i}@example.com", "", f"Zoë{i}") for i in range(20)] + [("bounce@example.com", "", "B")]
        rows[3] = ("user3@example.com", "", "Ann <Admin>")
        segment = import_contacts(self, self.env, rows, "mail")
        account = self.post("/v1/accounts", {
            "name": "smtp", "channel": "email", "provider": "smtp",
            "settings": {"host": "127.0.0.1", "port": sink.port, "tls": "none", "from_address": "news@example.com",
                         "from_name": "Outflow News"},
            "credentials": {"username": "news", "password": "pw"}, "rate_per_second": 500})
        tpl = self.template(name="mail", subject="Hi {{first_name}} – news",
                            html="<p>Hello {{first_name}} & <b>friends</b></p>")
        c = self.campaign(account, tpl, segment)
        done = self.wait_state(c["id"], ("completed", "failed"))
        self.assertEqual(done["counts"]["sent"], 20, done)
        self.assertEqual(done["counts"]["failed"], 1)
        self.assertIn("SMTP 550", self.recipients(c["id"], "failed")[0]["error"])
        msgs = {}
        for path in sorted(glob.glob(os.path.join(mail_dir, "*.eml"))):
            with open(path, "rb") as f:
                m = email.message_from_bytes(f.read(), policy=email.policy.default)
            msgs[m["To"].addresses[0].addr_spec] = m
        self.assertEqual(len(msgs), 20)
        m = msgs["user7@example.com"]
        self.assertEqual(str(m["Subject"]), "Hi Zoë7 – news")
        self.assertTrue(m["Message-ID"].startswith(f"<outflow-c{c['id']}-r"))
        self.assertIn("<p>Hello Zoë7 & <b>friends</b></p>", m.get_body(("html",)).get_content())
        self.assertIn("Hello Zoë7, welcome!", m.get_body(("plain",)).get_content())
        # Field values are HTML-escaped in the html part only.
        m = msgs["user3@example.com"]
        self.assertEqual(str(m["Subject"]), "Hi Ann <Admin> – news")
        self.assertIn("Hello Ann &lt;Admin&gt; & <b>friends</b>", m.get_body(("html",)).get_content())
        self.assertIn("Hello Ann <Admin>, welcome!", m.get_body(("plain",)).get_content())

        # Unsubscribing: the header's link (RFC 2369) with one-click POST (RFC 8058).
        link = m["List-Unsubscribe"].strip("<>")
        self.assertEqual(m["List-Unsubscribe-Post"], "List-Unsubscribe=One-Click")
        self.assertTrue(link.startswith(f"http://127.0.0.1:{self.daemon.port}/u/"), link)
        path = link[len(f"http://127.0.0.1:{self.daemon.port}"):]
        status, page, _ = self.api.call("GET", path)
        self.assertEqual(status, 200)
        self.assertIn(b'<form method="post"', page)
        forged = path[:-1] + ("0" if path[-1] != "0" else "1")
        self.assertEqual(self.api.call("POST", forged, raw=b"List-Unsubscribe=One-Click")[0], 400)
        status, _, _ = self.api.call("POST", path, raw=b"List-Unsubscribe=One-Click",
                                     headers={"Content-Type": "application/x-www-form-urlencoded"})
        self.assertEqual(status, 200)
        contact = int(path.split("-")[1])
        sub = self.api.call("GET", f"/v1/contacts/{contact}/subscription")[1]
        self.assertTrue(sub["unsubscribed"])
        # ... recorded on the campaign's message: its timeline and the campaign's counts.
        self.assertEqual(self.get_campaign(c["id"])["counts"]["unsubscribed"], 1)
        timeline = self.api.call("GET", f"/v1/contacts/{contact}/messages")[1]["messages"][0]["events"]
        self.assertIn({"type": "unsubscribed", "detail": "unsubscribe link"},
                      [{k: e[k] for k in ("type", "detail") if k in e} for e in timeline])
        again = self.campaign(account, tpl, segment, name="second")
        done = self.wait_state(again["id"], ("completed", "failed"))
        self.assertEqual(done["counts"]["skipped"], 1)
        skipped = self.recipients(again["id"], "skipped")
        self.assertEqual([(r["contact_id"], r["error"]) for r in skipped], [(contact, "unsubscribed")])
        self.assertEqual(self.post(f"/v1/contacts/{contact}/resubscribe", None, expect=200)["unsubscribed"], False)

    def test_cli_dry_run_with_a_csv_audience(self):
        self.start_daemon()
        csv_path = os.path.join(self.tmp, "audience.csv")
        with open(csv_path, "w") as f:
            f.write("email,first_name\nann@example.com,Ann\nbob@example.com,Bob\nnot-an-email,Bad\n")

        def cli(*args):
            rc, out, err = run_cli(*args, env=self.env)
            self.assertEqual(rc, 0, err)
            return out, err
        cli("account", "create", "--name", "dry", "--channel", "email", "--provider", "log")
        cli("template", "create", "--name", "hi", "--subject", "Hi {{first_name}}", "--text", "Hello")
        out, err = cli("campaign", "create", "--name", "dry run", "--account", "1", "--template", "1",
                       "--csv", csv_path)
        self.assertIn("3 rows read, 1 failed", err)
        done = self.wait_state(1, ("completed", "failed"))
        self.assertEqual(done["counts"]["sent"], 2, done)
        out, _ = cli("campaign", "get", "1")
        self.assertIn("completed", out)
        out, _ = cli("campaign", "recipients", "1")
        self.assertIn("ann@example.com", out)
        self.daemon.stop()
        with open(self.daemon.log_path) as f:
            logged = [json.loads(line) for line in f if '"log channel message"' in line]
        self.assertEqual(sorted(m["to"] for m in logged), ["ann@example.com", "bob@example.com"])
        self.assertIn("Hi Ann", [m["subject"] for m in logged])

    # ---- scheduling ----

    def test_scheduled_past_and_missed_campaigns(self):
        self.start_daemon()
        fake = self.fake()
        segment = import_contacts(self, self.env, [(f"s{i}@example.com", f"+1415557{i:04d}", "S") for i in range(5)],
                                  "sched")
        account, tpl = self.whatsapp_account(fake), self.template()
        status, reply, _ = self.api.call("POST", "/v1/campaigns", {
            "name": "past", "account_id": account["id"], "template_id": tpl["id"], "audience": {"segments": [segment]},
            "send_at": "2020-01-01T09:00", "time_zone": "Europe/Berlin"})
        self.assertEqual(status, 400, reply)
        self.assertIn("in the past", reply["error"]["message"])
        status, reply, _ = self.api.call("POST", "/v1/campaigns", {
            "name": "nobody", "account_id": account["id"], "template_id": tpl["id"], "audience": {"segments": [9999]}})
        self.assertEqual(status, 404, reply)
        self.assertIn("audience.segments", reply["error"]["message"])
        # A segment with no members: the campaign fails with the reason when it starts.
        empty = self.post("/v1/segments", {"name": "empty", "kind": "static"})
        nobody = self.campaign(account, tpl, empty["id"], name="to nobody")
        failed = self.wait_state(nobody["id"], ("failed", "completed"))
        self.assertEqual(failed["state"], "failed")
        self.assertIn("no recipients", failed["error"])

        at = time.time() + 2
        send_at = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(at)) + "Z"
        missed = self.campaign(account, tpl, segment, name="missed", send_at=send_at, missed_after_seconds=1)
        late = self.campaign(account, tpl, segment, name="late", send_at=send_at)
        self.assertEqual(missed["state"], "scheduled")
        self.daemon.stop()
        time.sleep(max(0.0, at + 1.5 - time.time()))  # the daemon is down when both fall due, and 1 s beyond
        self.daemon.start()
        self.assertEqual(self.wait_state(missed["id"], ("failed",))["state"], "failed")
        self.assertIn("missed", self.get_campaign(missed["id"])["error"])
        done = self.wait_state(late["id"], ("completed",))
        self.assertEqual(done["counts"]["sent"], 5)

    def test_pause_resume_cancel(self):
        self.start_daemon()
        fake = self.fake()
        segment = import_contacts(self, self.env, [(f"p{i}@example.com", f"+1415558{i:04d}", "P") for i in range(40)],
                                  "pause")
        account, tpl = self.whatsapp_account(fake, rate=10, burst=1), self.template()
        c = self.campaign(account, tpl, segment)
        await_condition(lambda: self.get_campaign(c["id"])["counts"]["sent"] >= 3, 30, what="three sent")
        self.assertEqual(self.post(f"/v1/campaigns/{c['id']}/pause", None, expect=200)["state"], "paused")
        # Within a second, nothing is left being sent.
        await_condition(lambda: not self.recipients(c["id"], "sending"), 1.0, what="no send in flight")
        paused = self.get_campaign(c["id"])
        self.assertEqual(paused["state"], "paused")
        self.assertLess(paused["counts"]["sent"], 40)
        status, reply, _ = self.api.call("POST", f"/v1/campaigns/{c['id']}/pause")
        self.assertEqual(status, 409, reply)
        self.assertEqual(self.post(f"/v1/campaigns/{c['id']}/resume", None, expect=200)["state"], "processing")
        done = self.wait_state(c["id"], ("completed",))
        self.assertEqual(done["counts"]["sent"], 40)
        self.assertEqual(fake.stats()["duplicates"], 0)
        self.assertEqual(fake.stats()["sent"], 40)
        self.assertIsNotNone(done.get("paused_at"))

        c2 = self.campaign(account, tpl, segment, name="cancelled")
        await_condition(lambda: self.get_campaign(c2["id"])["counts"]["sent"] >= 1, 30, what="one sent")
        self.assertEqual(self.post(f"/v1/campaigns/{c2['id']}/cancel", None, expect=200)["state"], "cancelled")
        await_condition(lambda: not self.recipients(c2["id"], "sending"), 1.0, what="no send in flight")
        kept = self.get_campaign(c2["id"])
        self.assertEqual(kept["counts"]["total"], 40, "cancel leaves the ledger")
        history = self.api.call("GET", "/v1/campaigns")[1]["campaigns"]
        self.assertEqual([h["id"] for h in history], [c2["id"], c["id"]])
        self.assertEqual(history[1]["counts"]["sent"], 40)

    # ---- crashes ----

    def test_sigkill_five_times_during_a_20000_recipient_campaign_and_transactional_sends(self):
        self.start_daemon()
        fake = self.fake()
        n = 20_000
        segment = import_contacts(self, self.env, [(f"k{i}@example.com", f"+1416{i:07d}", f"K{i}") for i in range(n)],
                                  "big")
        account = self.post("/v1/accounts", {
            "name": "sms", "channel": "sms", "provider": "http",
            "settings": {"url": f"http://127.0.0.1:{fake.port}/send", "body": {"to": "{{to}}", "text": "{{text}}"},
                         "concurrency": 16},
            "rate_per_second": 100000})
        tpl = self.template()
        c = self.campaign(account, tpl, segment)
        # Mixed sending: transactional messages arrive between the kills, each batch
        # accepted (202) before the next kill.
        contacts = self.api.call("GET", "/v1/contacts?limit=1000")[1]["contacts"]
        kills = 0
        for k, threshold in enumerate((2000, 5000, 8000, 11000, 14000)):
            batch = [{"account_id": account["id"], "template_id": tpl["id"], "contact_id": ct["id"],
                      "idempotency_key": f"kill{k}-{ct['id']}"} for ct in contacts[k * 200:(k + 1) * 200]]
            results = self.post("/v1/messages/batch", {"messages": batch}, expect=200)["results"]
            self.assertEqual({r["status"] for r in results}, {202})
            await_condition(lambda: fake.stats()["requests"] >= threshold, 120, what=f"{threshold} requests")
            self.daemon.kill()
            kills += 1
            self.daemon.start()
        done = self.wait_state(c["id"], ("completed", "failed"), timeout=300)
        self.assertEqual(done["state"], "completed", done)
        self.assertEqual(done["counts"], {"total": n, "pending": 0, "sent": n, "failed": 0, "skipped": 0, "cancelled": 0,
                                          **NO_ENGAGEMENT})
        await_condition(lambda: not db_query(self.daemon.db_path,
                                             "SELECT 1 FROM messages WHERE state <> 'sent' LIMIT 1"),
                        120, what="every message sent")

        # Nothing lost: every message's key reached the provider, campaign and transactional.
        requests = Counter(r["headers"]["idempotency-key"] for r in fake.requests() if r["method"] == "POST")
        ledger = db_query(self.daemon.db_path,
                          "SELECT source_kind, source_id, contact_id, id, attempts FROM messages")
        self.assertEqual(len(ledger), n + 1000)
        keys = {(f"outflow-c{sid}-r{cid}" if kind == "campaign" else f"outflow-m{mid}"): attempts
                for kind, sid, cid, mid, attempts in ledger}
        self.assertEqual(set(requests), set(keys))
        # A second request only for a message that was in flight at a kill: claimed
        # again after the restart, so its attempts count is above 1. Outcomes are
        # committed after every chunk handed to the channel (while the next one goes),
        # so at most two chunks (SenderOptions::max_chunk, 100) can be re-sent per
        # kill, not a whole claim.
        repeated = [k for k, times in requests.items() if times > 1]
        for k in repeated:
            self.assertGreaterEqual(keys[k], 2, k)
        self.assertLessEqual(len(repeated), kills * 200)
        # The provider honours the key: the repeats were answered as duplicates, not sent twice.
        self.assertEqual(fake.stats()["sent"], n + 1000)
        print(f"\n  {kills} kills, {len(repeated)} messages requested twice (all deduplicated by the provider)",
              file=sys.stderr)


if __name__ == "__main__":
    unittest.main()
