"""Messages through the real daemon and the provider fake: transactional sends
(POST /v1/messages and /v1/messages/batch) with their bad input, idempotency keys,
message variables, a contact's messages; and one account's limit held across two
campaigns and a burst of transactional messages at once, which go first."""
import json
import os
import unittest
from collections import Counter

import test_campaigns as tc
from harness import Daemon, await_condition, temp_data_dir


class MessagesTest(unittest.TestCase):
    def setUp(self):
        self.data = temp_data_dir(self)
        self.tmp = os.path.dirname(self.data)
        # A 50 ms pacing guard (serve --pacing-guard-ms, docs/pacing.md): the fake is a
        # Python server whose arrival times carry its own scheduling delay, tens of
        # milliseconds on a loaded 2-core CI machine; the default 10 ms guard covers
        # loopback delivery jitter, not that.
        self.daemon = Daemon(self.data, extra_args=["--send-retry-base-ms", "200", "--pacing-guard-ms", "50"]).start()
        self.addCleanup(lambda: self.daemon.stop())
        self.api = self.daemon.api()
        self.addCleanup(lambda: self.api.close())
        self.env = {"OUTFLOW_SERVER": f"http://127.0.0.1:{self.daemon.port}"}
        self.fake = tc.ProviderFake(os.path.join(self.tmp, "provider.jsonl"))
        self.addCleanup(self.fake.close)

    def call(self, method, path, body=None, expect=None):
        status, reply, _ = self.api.call(method, path, body)
        if expect is not None:
            self.assertEqual(status, expect, reply)
        return status, reply

    def account(self, rate=1000, burst=None):
        return self.call("POST", "/v1/accounts", {
            "name": f"wa-{rate}", "channel": "whatsapp", "provider": "whatsapp_cloud",
            "settings": {"phone_number_id": "106540352242922", "base_url": f"http://127.0.0.1:{self.fake.port}"},
            "credentials": {"access_token": tc.ProviderFake.TOKEN}, "rate_per_second": rate,
            "burst": burst or rate}, expect=201)[1]

    def template(self, text):
        return self.call("POST", "/v1/templates", {"name": f"t{len(text)}", "text": text}, expect=201)[1]

    def contact(self, email, phone=None, first_name=None):
        body = {"email": email}
        if phone:
            body["phone"] = phone
        if first_name:
            body["first_name"] = first_name
        return self.call("POST", "/v1/contacts", body, expect=201)[1]

    def wait_message(self, mid, states=("sent", "failed", "skipped")):
        box = {}

        def done():
            box["m"] = self.call("GET", f"/v1/messages/{mid}", expect=200)[1]
            return box["m"]["state"] in states
        await_condition(done, 30, what=f"message {mid} in {states}")
        return box["m"]

    def test_transactional_sends_their_keys_variables_and_bad_input(self):
        acct = self.account()
        tpl = self.template("Hi {{first_name|there}}, your code is {{vars.code}}.")
        ann = self.contact("ann@example.com", "+14155550101", "Ann")
        nophone = self.contact("np@example.com")

        # By contact id, email and phone; each goes through the outbox to the provider.
        sent = []
        for who in ({"contact_id": ann["id"]}, {"email": "ANN@example.com"}, {"phone": "+14155550101"}):
            status, reply = self.call("POST", "/v1/messages",
                                      {"account_id": acct["id"], "template_id": tpl["id"], "variables": {"code": 4242},
                                       **who}, expect=202)
            self.assertFalse(reply["duplicate"])
            self.assertEqual(reply["message"]["contact_id"], ann["id"])
            self.assertEqual(reply["message"]["source"]["kind"], "transactional")
            sent.append(reply["message"]["id"])
        for mid in sent:
            m = self.wait_message(mid)
            self.assertEqual(m["state"], "sent", m)
            self.assertTrue(m["provider_message_id"].startswith("wamid."), m)
        bodies = [json.loads(r["body"]) for r in self.fake.requests() if r["method"] == "POST"]
        self.assertEqual([b["text"]["body"] for b in bodies], ["Hi Ann, your code is 4242."] * 3)

        # The same idempotency key twice: the first message, 200, nothing sent again.
        body = {"account_id": acct["id"], "template_id": tpl["id"], "contact_id": ann["id"],
                "variables": {"code": "7"}, "idempotency_key": "reset-ann-1"}
        first = self.call("POST", "/v1/messages", body, expect=202)[1]["message"]
        again = self.call("POST", "/v1/messages", body, expect=200)[1]
        self.assertTrue(again["duplicate"])
        self.assertEqual(again["message"]["id"], first["id"])
        self.wait_message(first["id"])
        self.assertEqual(self.fake.stats()["sent"], 4)

        # What fails one message, with its reason, and nothing else.
        no_phone = self.call("POST", "/v1/messages", {"account_id": acct["id"], "template_id": tpl["id"],
                                                      "contact_id": nophone["id"], "variables": {"code": 1}},
                             expect=202)[1]["message"]
        self.assertEqual((no_phone["state"], no_phone["reason"]), ("failed", "no phone number"))
        no_var = self.call("POST", "/v1/messages", {"account_id": acct["id"], "template_id": tpl["id"],
                                                    "contact_id": ann["id"]}, expect=202)[1]["message"]
        m = self.wait_message(no_var["id"])
        self.assertEqual(m["state"], "failed")
        self.assertIn("vars.code", m["reason"])

        # Bad requests name the field; unknown references are 404s that name them.
        cases = [
            ({"template_id": tpl["id"], "contact_id": ann["id"]}, 400, "account_id: required"),
            ({"account_id": acct["id"], "template_id": tpl["id"]}, 400, "give exactly one of"),
            ({"account_id": 999, "template_id": tpl["id"], "contact_id": ann["id"]}, 404, "account_id: account 999"),
            ({"account_id": acct["id"], "template_id": 999, "contact_id": ann["id"]}, 404, "template_id: template 999"),
            ({"account_id": acct["id"], "template_id": tpl["id"], "contact_id": 99999}, 404, "contact_id: contact 99999"),
            ({"account_id": acct["id"], "template_id": tpl["id"], "email": "nobody@example.com"}, 404,
             "email: no contact has email nobody@example.com"),
            ({"account_id": acct["id"], "template_id": tpl["id"], "phone": "12"}, 400, "phone"),
            ({"account_id": acct["id"], "template_id": tpl["id"], "contact_id": ann["id"], "variables": [1]}, 400,
             "variables: must be a JSON object"),
            ({"account_id": acct["id"], "template_id": tpl["id"], "contact_id": ann["id"], "send_at": "tomorrow"},
             400, "send_at"),
            ({"account_id": acct["id"], "template_id": tpl["id"], "contact_id": ann["id"],
              "send_at": "2999-01-01T00:00:00Z"}, 400, "more than 366 days ahead"),
            ({"account_id": acct["id"], "template_id": tpl["id"], "contact_id": ann["id"], "idempotency_key": "a b"},
             400, "idempotency_key"),
            ({"account_id": acct["id"], "template_id": tpl["id"], "contact_id": ann["id"], "colour": "red"}, 400,
             "colour: unknown field"),
            ({"account_id": 18446744073709551615, "template_id": tpl["id"], "contact_id": ann["id"]}, 400,
             "account_id"),
        ]
        for body, status, text in cases:
            got, reply = self.call("POST", "/v1/messages", body)
            self.assertEqual(got, status, (body, reply))
            self.assertIn(text, reply["error"]["message"], body)

        # A batch: a result per item, in order; the good ones are stored.
        batch = {"messages": [
            {"account_id": acct["id"], "template_id": tpl["id"], "contact_id": ann["id"], "variables": {"code": 1},
             "idempotency_key": "b-1"},
            {"account_id": acct["id"], "template_id": 999, "contact_id": ann["id"]},
            {"account_id": acct["id"]},
            {"account_id": acct["id"], "template_id": tpl["id"], "contact_id": ann["id"], "variables": {"code": 1},
             "idempotency_key": "reset-ann-1"},
        ]}
        results = self.call("POST", "/v1/messages/batch", batch, expect=200)[1]["results"]
        self.assertEqual([r["status"] for r in results], [202, 404, 400, 200])
        self.assertIn("messages[1].template_id", results[1]["error"]["message"])
        self.assertIn("messages[2].template_id: required", results[2]["error"]["message"])
        self.assertEqual(results[3]["message"]["id"], first["id"])
        too_many = {"messages": [batch["messages"][0]] * 1001}
        self.assertEqual(self.call("POST", "/v1/messages/batch", too_many)[0], 400)

        # Reading: a contact's messages from every source, filters, paging.
        mine = self.call("GET", f"/v1/contacts/{ann['id']}/messages?limit=1000", expect=200)[1]["messages"]
        self.assertEqual(len(mine), 6)
        failed = self.call("GET", "/v1/messages?state=failed", expect=200)[1]["messages"]
        self.assertEqual({m["id"] for m in failed}, {no_phone["id"], no_var["id"]})
        page = self.call("GET", "/v1/messages?limit=2", expect=200)[1]
        self.assertEqual(len(page["messages"]), 2)
        rest = self.call("GET", f"/v1/messages?after={page['next_after']}&limit=1000", expect=200)[1]
        self.assertEqual(len(rest["messages"]), 5)
        self.assertEqual(self.call("GET", "/v1/messages?state=lost")[0], 400)
        self.assertEqual(self.call("GET", "/v1/messages/0")[0], 400)
        self.assertEqual(self.call("GET", "/v1/messages/424242")[0], 404)

    def test_one_accounts_limit_holds_across_campaigns_and_transactional_sends_which_go_first(self):
        # 29/s at the account; two campaigns (2,000 and 500) and then 1,000
        # transactional messages at once, all on one account.
        n1, n2, nt = 2000, 500, 1000
        rows = [(f"p{i}@example.com", f"+1416{i:07d}", f"P{i}") for i in range(n1 + n2)]
        big = tc.import_contacts(self, self.env, rows[:n1], "big")
        small = tc.import_contacts(self, self.env, rows[n1:], "small")
        acct = self.account(rate=29, burst=29)
        tpl = self.template("Hello {{first_name}}")
        for name, seg in (("big", big), ("small", small)):
            self.call("POST", "/v1/campaigns", {"name": name, "account_id": acct["id"], "template_id": tpl["id"],
                                                "audience": {"segments": [seg]}}, expect=201)
        await_condition(lambda: self.fake.stats()["requests"] >= 100, 60, what="campaigns sending")
        contacts = self.call("GET", "/v1/contacts?limit=1000", expect=200)[1]["contacts"]
        batch = [{"account_id": acct["id"], "template_id": tpl["id"], "contact_id": c["id"],
                  "idempotency_key": f"t-{c['id']}"} for c in contacts[:nt]]
        results = self.call("POST", "/v1/messages/batch", {"messages": batch}, expect=200)[1]["results"]
        self.assertEqual(Counter(r["status"] for r in results), {202: nt})
        transactional_keys = {r["message"]["key"] for r in results}
        enqueued_at = max(r["message"]["created_at"] for r in results)  # noqa: F841 (shown on failure)
        await_condition(lambda: self.fake.stats()["requests"] >= n1 + n2 + nt, 300, interval=0.5,
                        what="every message sent")

        reqs = [r for r in self.fake.requests() if r["method"] == "POST"]
        keys = Counter(r["headers"]["idempotency-key"] for r in reqs)
        self.assertEqual(len(keys), n1 + n2 + nt, "every message arrived")
        self.assertEqual(max(keys.values()), 1, "none twice")
        # Never more than 29 in any one-second window at the provider.
        times = sorted(r["t"] for r in reqs)
        j, worst = 0, 0
        for i, t in enumerate(times):
            while times[j] <= t - 1.0:
                j += 1
            worst = max(worst, i - j + 1)
        self.assertLessEqual(worst, 29)
        # Transactional before campaigns: from one second after they were accepted,
        # no campaign message reached the provider until the last transactional ones
        # (a claim that took the last transactional messages fills up with campaign
        # ones, which may arrive beside them).
        order = [(r["t"], r["headers"]["idempotency-key"] in transactional_keys) for r in reqs]
        first_t = min(t for t, is_t in order if is_t)
        last_t = max(t for t, is_t in order if is_t)
        between = [(r["seq"], r["t"] - first_t, r["headers"]["idempotency-key"]) for r in reqs
                   if r["headers"]["idempotency-key"] not in transactional_keys
                   and first_t + 1.0 < r["t"] < last_t - 1.0]
        self.assertEqual(between, [], "campaign messages sent while transactional ones waited")
        self.assertLess(last_t - first_t, nt / 29 + 3)
        print(f"\n  busiest second {worst}; 1,000 transactional sent in {last_t - first_t:.1f} s",
              file=__import__("sys").stderr)


if __name__ == "__main__":
    unittest.main()
