"""Outbound safety with the real binary (docs/security.md, "Outbound calls"): a
webhook job and a provider account aimed at a name that resolves to 127.0.0.1
(localhost) are refused with the policy's reason, once and for good, and the local
server receives nothing; a daemon that allows 127.0.0.0/8 (by flag or by
OUTFLOW_OUTBOUND_ALLOW) delivers; a bad CIDR stops `serve` with a usage error."""
import os
import unittest

import test_campaigns as tc
from harness import Daemon, Sink, await_condition, free_port, run_cli, temp_data_dir


class OutboundTest(unittest.TestCase):
    def setUp(self):
        self.sink = Sink()
        self.addCleanup(self.sink.close)
        self.url = f"http://localhost:{self.sink.port}/hook"  # a name, resolved by the daemon

    def daemon(self, **kwargs):
        d = Daemon(temp_data_dir(self), **kwargs).start()
        self.addCleanup(d.stop)
        api = d.api()
        self.addCleanup(api.close)
        return d, api

    def webhook(self, api):
        status, job, _ = api.call("POST", "/v1/jobs", {
            "kind": "webhook", "max_attempts": 5, "payload": {"url": self.url, "body": {"n": 1}, "timeout_ms": 2000}})
        self.assertEqual(status, 201, job)
        return job["id"]

    def await_state(self, api, job_id, states):
        return await_condition(lambda: (lambda j: j if j["state"] in states else None)(
            api.call("GET", f"/v1/jobs/{job_id}")[1]), 30, what=f"job {job_id} in {states}")

    def test_a_webhook_to_a_name_that_resolves_to_loopback_is_refused_by_default(self):
        _, api = self.daemon(outbound_allow=None)
        dead = self.await_state(api, self.webhook(api), {"dead", "done"})
        self.assertEqual(dead["state"], "dead", dead)
        self.assertEqual(dead["attempts"], 1, dead)  # not retried: the answer would not change
        self.assertIn("(loopback) is refused by the outbound policy; allow it with --outbound-allow",
                      dead["last_error"])
        self.assertEqual(self.sink.total(), 0)

    def test_an_allowed_range_delivers(self):
        _, api = self.daemon(outbound_allow=("127.0.0.0/8", "::1/128"))
        done = self.await_state(api, self.webhook(api), {"dead", "done"})
        self.assertEqual(done["state"], "done", done)
        self.assertEqual(self.sink.total(), 1)

    def test_the_allowlist_from_the_environment(self):
        _, api = self.daemon(outbound_allow=None, env={"OUTFLOW_OUTBOUND_ALLOW": "::1/128,127.0.0.0/8"})
        done = self.await_state(api, self.webhook(api), {"dead", "done"})
        self.assertEqual(done["state"], "done", done)
        self.assertEqual(self.sink.total(), 1)

    def test_a_provider_account_on_loopback_fails_its_message_with_the_reason(self):
        fake = tc.ProviderFake(os.path.join(os.path.dirname(temp_data_dir(self)), "provider.jsonl"))
        self.addCleanup(fake.close)
        _, api = self.daemon(outbound_allow=None)
        status, acct, _ = api.call("POST", "/v1/accounts", {
            "name": "wa", "channel": "whatsapp", "provider": "whatsapp_cloud",
            "settings": {"phone_number_id": "106540352242922", "base_url": f"http://localhost:{fake.port}"},
            "credentials": {"access_token": tc.ProviderFake.TOKEN}, "rate_per_second": 10, "burst": 10})
        self.assertEqual(status, 201, acct)
        status, verify, _ = api.call("POST", f"/v1/accounts/{acct['id']}/verify", {})
        self.assertEqual(status, 202, verify)  # an account.verify job
        job = await_condition(lambda: (lambda j: j if j["state"] in ("done", "dead") else None)(
            api.call("GET", verify["job"])[1]), 30, what="the verification job")
        self.assertEqual(job["state"], "dead", job)
        self.assertIn("(loopback) is refused by the outbound policy", job["last_error"])
        status, tpl, _ = api.call("POST", "/v1/templates", {"name": "t", "text": "Hello"})
        self.assertEqual(status, 201, tpl)
        status, contact, _ = api.call("POST", "/v1/contacts", {"email": "a@example.com", "phone": "+14155550101"})
        self.assertEqual(status, 201, contact)
        status, sent, _ = api.call("POST", "/v1/messages", {
            "account_id": acct["id"], "template_id": tpl["id"], "contact_id": contact["id"]})
        self.assertEqual(status, 202, sent)
        mid = sent["message"]["id"]
        m = await_condition(lambda: (lambda m: m if m["state"] in ("sent", "failed") else None)(
            api.call("GET", f"/v1/messages/{mid}")[1]), 30, what="the message to finish")
        self.assertEqual(m["state"], "failed", m)
        self.assertIn("(loopback) is refused by the outbound policy", m["reason"])
        self.assertEqual(fake.requests(), [])

    def test_a_bad_cidr_is_a_usage_error_naming_it(self):
        rc, _, err = run_cli("serve", "--addr", f"127.0.0.1:{free_port()}", "--data-dir", temp_data_dir(self),
                             "--outbound-allow", "127.0.0.0/8", "--outbound-allow", "10.0.0.1/8")
        self.assertEqual(rc, 2, err)
        self.assertIn("--outbound-allow[1]: '10.0.0.1/8' is not a CIDR block", err)


if __name__ == "__main__":
    unittest.main()
