"""Message events through the real daemon: email opens and clicks through signed
tracking links (mail to a real SMTP server), Twilio status callbacks posted and
signed by the provider fake as Twilio signs them, WhatsApp Cloud webhooks and their
handshake, Outflow's own signed status endpoint, and suppression after a bounce.
A bad or missing signature is 401 and records nothing; a forged link is 404."""
import email
import email.policy
import glob
import hashlib
import hmac
import json
import os
import re
import time
import unittest
import urllib.parse

import test_campaigns as tc
from harness import await_condition, temp_data_dir

PYTHON, ROOT = tc.PYTHON, tc.ROOT

CALLBACK_SECRET = "status-secret-e2e"


def outflow_signature(body, secret, at=None):
    t = str(int(at if at is not None else time.time()))
    return f"t={t},v1=" + hmac.new(secret.encode(), (t + ".").encode() + body, hashlib.sha256).hexdigest()


class TrackingTest(unittest.TestCase):
    # The campaign tests' helpers (not their tests).
    start_daemon, fake, post, template = (tc.CampaignTest.start_daemon, tc.CampaignTest.fake, tc.CampaignTest.post,
                                          tc.CampaignTest.template)
    campaign, get_campaign, wait_state, recipients = (tc.CampaignTest.campaign, tc.CampaignTest.get_campaign,
                                                      tc.CampaignTest.wait_state, tc.CampaignTest.recipients)

    def setUp(self):
        self.data = temp_data_dir(self)
        self.tmp = os.path.dirname(self.data)
        self.start_daemon()

    def events(self, contact_id):
        msgs = self.api.call("GET", f"/v1/contacts/{contact_id}/messages")[1]["messages"]
        return {m["id"]: [e["type"] for e in m["events"]] for m in msgs}

    def message(self, mid):
        return self.api.call("GET", f"/v1/messages/{mid}")[1]

    def test_email_opens_and_clicks_through_signed_links_and_a_bounce_suppresses(self):
        mail_dir = os.path.join(self.tmp, "mail")
        os.makedirs(mail_dir)
        sink = tc.Child([PYTHON, os.path.join(ROOT, "tests/smtp/smtp_sink.py"), mail_dir])
        self.addCleanup(sink.close)
        segment = tc.import_contacts(self, self.env, [("ann@example.com", "", "Ann"), ("bob@example.com", "", "Bob")],
                                     "readers")
        account = self.post("/v1/accounts", {
            "name": "smtp", "channel": "email", "provider": "smtp",
            "settings": {"host": "127.0.0.1", "port": sink.port, "tls": "none", "from_address": "news@example.com"},
            "credentials": {"callback_secret": CALLBACK_SECRET}, "rate_per_second": 100})
        tpl = self.template(name="news", html='<html><body><p>Hi {{first_name}}, see '
                                              '<a href="https://shop.example/sale?a=1&amp;b=2">the sale</a> or '
                                              '<a href="mailto:help@example.com">write</a>.</p></body></html>')
        c = self.campaign(account, tpl, segment)
        done = self.wait_state(c["id"], ("completed", "failed"))
        self.assertEqual(done["counts"]["sent"], 2, done)

        mails = {}
        for path in glob.glob(os.path.join(mail_dir, "*.eml")):
            with open(path, "rb") as f:
                m = email.message_from_bytes(f.read(), policy=email.policy.default)
            mails[m["To"].addresses[0].addr_spec] = m.get_body(("html",)).get_content()
        html = mails["ann@example.com"]
        base = f"http://127.0.0.1:{self.daemon.port}"
        click = re.search(r'href="([^"]*/t/c/[^"]*)"', html).group(1)
        pixel = re.search(r'<img src="([^"]*/t/o/[^"]*\.gif)"', html).group(1)
        self.assertIn('href="mailto:help@example.com"', html, "only http(s) links are tracked")
        self.assertTrue(click.startswith(base) and pixel.startswith(base), (click, pixel))
        click, pixel = click[len(base):], pixel[len(base):]

        # A forged or altered link is 404 and records nothing.
        mid = int(pixel.split("/")[3])
        for bad in (click.replace("sale%3Fa", "sale%3Fx"), re.sub(r"/t/c/(\d+)/", lambda m: f"/t/c/{mid + 1}/", click),
                    re.sub(r"/([0-9a-f]{32})\?", lambda m: "/" + "0" * 32 + "?", click), pixel.replace(".gif", "0.gif")):
            self.assertEqual(self.api.call("GET", bad)[0], 404, bad)
        self.assertEqual(self.message(mid)["events"][-1]["type"], "sent")

        status, body, resp = self.api.call("GET", pixel)
        self.assertEqual((status, resp.getheader("Content-Type")), (200, "image/gif"))
        self.assertTrue(body.startswith(b"GIF89a"))
        status, _, resp = self.api.call("GET", click)
        self.assertEqual(status, 302)
        self.assertEqual(resp.getheader("Location"), "https://shop.example/sale?a=1&b=2")
        types = [e["type"] for e in self.message(mid)["events"]]
        self.assertEqual(types, ["queued", "sent", "opened", "clicked"])
        counts = self.get_campaign(c["id"])["counts"]
        self.assertEqual((counts["opened"], counts["clicked"]), (1, 1), counts)

        # Outflow's signed status endpoint: a permanent bounce for Bob's message.
        bob_mid = next(m["id"] for m in self.api.call("GET", f"/v1/messages?source_kind=campaign&source_id={c['id']}")[1]
                       ["messages"] if m["address"] == "bob@example.com")
        payload = json.dumps({"events": [{"message_id": bob_mid, "event": "bounced", "permanent": True,
                                          "detail": "550 5.1.1 no such user"}]}).encode()
        path = f"/v1/callbacks/status/{account['id']}"
        for headers in ({}, {"X-Outflow-Signature": outflow_signature(payload, "wrong")},
                        {"X-Outflow-Signature": outflow_signature(payload, CALLBACK_SECRET, time.time() - 3600)}):
            status, reply, _ = self.api.call("POST", path, raw=payload, headers=headers)
            self.assertEqual(status, 401, reply)
        self.assertNotIn("bounced", [e["type"] for e in self.message(bob_mid)["events"]])
        status, reply, _ = self.api.call("POST", path, raw=payload,
                                         headers={"X-Outflow-Signature": outflow_signature(payload, CALLBACK_SECRET)})
        self.assertEqual((status, reply), (200, {"recorded": 1, "unmatched": 0}))
        self.assertEqual(self.get_campaign(c["id"])["counts"]["bounced"], 1)
        supp = self.api.call("GET", "/v1/suppressions")[1]["suppressions"]
        self.assertEqual([(s["address"], s["reason"]) for s in supp],
                         [("bob@example.com", "bounced: 550 5.1.1 no such user")])

        # The next campaign skips Bob; a template with tracking off goes as written.
        plain = self.post("/v1/templates", {"name": "plain", "subject": "s", "text": "t", "tracking": False,
                                            "html": '<p><a href="https://x.example/">x</a></p>'})
        again = self.campaign(account, plain, segment, name="again")
        done = self.wait_state(again["id"], ("completed", "failed"))
        self.assertEqual((done["counts"]["sent"], done["counts"]["skipped"]), (1, 1), done)
        skipped = self.recipients(again["id"], "skipped")
        self.assertEqual(skipped[0]["error"], "suppressed: bounced: 550 5.1.1 no such user")
        await_condition(lambda: len(glob.glob(os.path.join(mail_dir, "*.eml"))) == 3, 30, what="third mail")
        newest = max(glob.glob(os.path.join(mail_dir, "*.eml")), key=os.path.getmtime)
        with open(newest, "rb") as f:
            third = email.message_from_bytes(f.read(), policy=email.policy.default).get_body(("html",)).get_content()
        self.assertIn('<a href="https://x.example/">x</a>', third)
        self.assertNotIn("/t/o/", third)

        status, _, _ = self.api.call("DELETE", "/v1/suppressions/bob%40example.com")
        self.assertEqual(status, 204)
        self.assertEqual(self.api.call("DELETE", "/v1/suppressions/bob%40example.com")[0], 404)

    def test_twilio_status_callbacks_signed_by_the_fake(self):
        fake = self.fake()
        segment = tc.import_contacts(self, self.env, [("", "+14155550101", "A"), ("", "+14155550102", "B")], "sms")
        fake.control({"delivery": {"+14155550102": {"status": "undelivered", "error_code": 30006}}})
        account = self.post("/v1/accounts", {
            "name": "twilio", "channel": "sms", "provider": "twilio_sms",
            "settings": {"account_sid": "AC00000000000000000000000000000001", "from": "+14155550000",
                         "base_url": f"http://127.0.0.1:{fake.port}"},
            "credentials": {"auth_token": "twilio-test-token"}, "rate_per_second": 50})
        c = self.campaign(account, self.template(), segment)
        done = self.wait_state(c["id"], ("completed", "failed"))
        self.assertEqual(done["counts"]["sent"], 2, done)
        # The fake posts "sent" and the final status for each message to the
        # StatusCallback Outflow set, signed with the auth token.
        await_condition(lambda: sum(fake.stats()["callbacks"].values()) == 4, 30, what="4 status callbacks")
        self.assertEqual(fake.stats()["callbacks"], {"200": 4})
        counts = self.get_campaign(c["id"])["counts"]
        self.assertEqual((counts["delivered"], counts["bounced"]), (1, 1), counts)
        self.assertEqual([s["address"] for s in self.api.call("GET", "/v1/suppressions")[1]["suppressions"]],
                         ["+14155550102"])
        form = fake.requests()[-1]["body"]
        self.assertIn("StatusCallback=" + urllib.parse.quote(
            f"http://127.0.0.1:{self.daemon.port}/v1/callbacks/twilio/{account['id']}", safe=""), form)

        # A forged callback (no signature, a wrong one) is 401 and records nothing.
        sid = self.api.call("GET", f"/v1/messages?source_kind=campaign&source_id={c['id']}")[1]["messages"][0]
        body = urllib.parse.urlencode({"MessageSid": sid["provider_message_id"], "MessageStatus": "read"}).encode()
        path = f"/v1/callbacks/twilio/{account['id']}"
        hdr = {"Content-Type": "application/x-www-form-urlencoded"}
        self.assertEqual(self.api.call("POST", path, raw=body, headers=hdr)[0], 401)
        self.assertEqual(self.api.call("POST", path, raw=body, headers={**hdr, "X-Twilio-Signature": "AAAA"})[0], 401)
        self.assertEqual(self.get_campaign(c["id"])["counts"]["opened"], 0)

    def test_whatsapp_handshake_and_signed_webhooks(self):
        fake = self.fake()
        segment = tc.import_contacts(self, self.env, [("", "+14155550101", "A")], "wa")
        account = self.post("/v1/accounts", {
            "name": "wa", "channel": "whatsapp", "provider": "whatsapp_cloud",
            "settings": {"phone_number_id": "106540352242922", "base_url": f"http://127.0.0.1:{fake.port}"},
            "credentials": {"access_token": tc.ProviderFake.TOKEN, "app_secret": "app-secret",
                            "verify_token": "verify-me"}, "rate_per_second": 50})
        path = f"/v1/callbacks/whatsapp/{account['id']}"
        status, body, _ = self.api.call("GET", path + "?hub.mode=subscribe&hub.verify_token=verify-me"
                                        "&hub.challenge=1158201444")
        self.assertEqual((status, body), (200, b"1158201444"))
        self.assertEqual(self.api.call("GET", path + "?hub.mode=subscribe&hub.verify_token=nope"
                                       "&hub.challenge=1")[0], 401)

        c = self.campaign(account, self.template(), segment)
        self.assertEqual(self.wait_state(c["id"], ("completed", "failed"))["counts"]["sent"], 1)
        msg = self.api.call("GET", f"/v1/messages?source_kind=campaign&source_id={c['id']}")[1]["messages"][0]
        payload = json.dumps({"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": [{
            "field": "messages", "value": {"messaging_product": "whatsapp", "statuses": [
                {"id": msg["provider_message_id"], "status": "delivered", "timestamp": str(int(time.time()))},
                {"id": msg["provider_message_id"], "status": "read", "timestamp": str(int(time.time()))},
                {"id": "wamid.unknown", "status": "read", "timestamp": str(int(time.time()))}]}}]}]}).encode()
        good = "sha256=" + hmac.new(b"app-secret", payload, hashlib.sha256).hexdigest()
        self.assertEqual(self.api.call("POST", path, raw=payload)[0], 401)
        self.assertEqual(self.api.call("POST", path, raw=payload,
                                       headers={"X-Hub-Signature-256": good[:-1] + ("1" if good[-1] == "0" else "0")})[0],
                         401)
        self.assertEqual(self.events(msg["contact_id"])[msg["id"]], ["queued", "sent"])
        status, reply, _ = self.api.call("POST", path, raw=payload, headers={"X-Hub-Signature-256": good})
        self.assertEqual((status, reply), (200, {"recorded": 2, "unmatched": 1}))
        self.assertEqual(self.events(msg["contact_id"])[msg["id"]], ["queued", "sent", "delivered", "opened"])
        counts = self.get_campaign(c["id"])["counts"]
        self.assertEqual((counts["delivered"], counts["opened"]), (1, 1), counts)


if __name__ == "__main__":
    unittest.main()
