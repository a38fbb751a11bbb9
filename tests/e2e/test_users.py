"""Web UI users against the real binary: the first-run setup link, login, the
session cookie, CSRF, logout, idle expiry, the login lockout and roles
(docs/security.md "Users and sessions")."""
import json
import re
import time
import unittest
import urllib.parse

from harness import Api, Daemon, await_condition, run_cli, temp_data_dir

PASSWORD = "a good long password"
LINK = re.compile(r"(http://\S+/setup\?token=[0-9a-f]{64})")


class Browser:
    """A client that keeps the session cookie and CSRF token as the web UI will, with no API key."""

    def __init__(self, port):
        self.api = Api(port, None)
        self.cookie = None
        self.csrf = None

    def call(self, method, path, body=None, csrf=True, cookie=None):
        headers = {}
        cookie = cookie or self.cookie
        if cookie:
            headers["Cookie"] = cookie
        if csrf and self.csrf:
            headers["X-CSRF-Token"] = self.csrf
        return self.api.call(method, path, body, headers=headers)

    def login(self, email, password=PASSWORD):
        status, reply, resp = self.api.call("POST", "/v1/session", {"email": email, "password": password})
        if status == 200:
            self.cookie = resp.getheader("Set-Cookie").split(";")[0]
            self.csrf = reply["csrf_token"]
        return status, reply, resp


def setup_with(port, link, email=None, password=PASSWORD):
    """Uses a setup link as its page's form does."""
    token = urllib.parse.parse_qs(urllib.parse.urlparse(link).query)["token"][0]
    body = {"token": token, "password": password}
    if email:
        body["email"] = email
    status, reply, _ = Api(port, None).call("POST", "/v1/setup", body)
    return status, reply


class UsersTest(unittest.TestCase):
    def start(self, *extra):
        self.data = temp_data_dir(self)
        self.daemon = Daemon(self.data, extra_args=list(extra)).start()
        self.addCleanup(self.daemon.stop)
        return self.daemon

    def create_user(self, email, role):
        """`outflow user create` on the data directory beside the daemon; sets the password through the link."""
        rc, out, err = run_cli("user", "create", "--data-dir", self.data, "--email", email, "--role", role,
                               "--public-url", f"http://127.0.0.1:{self.daemon.port}")
        self.assertEqual(rc, 0, err)
        link = out.strip().splitlines()[-1]
        self.assertRegex(link, LINK)
        status, reply = setup_with(self.daemon.port, link)
        self.assertEqual(status, 200, reply)
        return reply["user"]

    def test_first_run_link_login_csrf_and_logout(self):
        d = self.start()
        link = await_condition(lambda: LINK.search(d.logs()), timeout=10, what="the first-run link").group(1)
        self.assertTrue(link.startswith(f"http://127.0.0.1:{d.port}/setup?token="))
        path = link[len(f"http://127.0.0.1:{d.port}"):]
        status, page, resp = Api(d.port, None).call("GET", path)
        self.assertEqual(status, 200)
        self.assertIn(b"<form", page)
        self.assertEqual(resp.getheader("Referrer-Policy"), "no-referrer")
        status, reply = setup_with(d.port, link, email="Root@Example.com")
        self.assertEqual(status, 200, reply)
        self.assertEqual((reply["user"]["email"], reply["user"]["role"]), ("root@example.com", "admin"))
        status, reply = setup_with(d.port, link, email="other@example.com")
        self.assertEqual(status, 400, "the link works once")
        self.assertEqual(reply["error"]["field"], "token")

        b = Browser(d.port)
        status, reply, resp = b.login("root@example.com")
        self.assertEqual(status, 200, reply)
        cookie = resp.getheader("Set-Cookie")
        for attr in ("HttpOnly", "SameSite=Strict", "Path=/"):
            self.assertIn(attr, cookie)
        self.assertNotIn("Secure", cookie, "plain HTTP")
        self.assertEqual(b.call("GET", "/v1/jobs", csrf=False)[0], 200)
        job = {"kind": "noop", "due_at": "2030-01-01T00:00:00Z"}
        status, reply, _ = b.call("POST", "/v1/jobs", job, csrf=False)
        self.assertEqual((status, reply["error"]["code"]), (403, "csrf_failed"))
        status, reply, _ = b.call("POST", "/v1/jobs", job)
        self.assertEqual(status, 201, reply)
        status, me, _ = b.call("GET", "/v1/session")
        self.assertEqual((status, me["csrf_token"]), (200, b.csrf))
        old = b.cookie
        status, reply, resp = b.call("DELETE", "/v1/session")
        self.assertEqual(status, 200, reply)
        self.assertIn("Max-Age=0", resp.getheader("Set-Cookie"))
        status, reply, _ = b.call("GET", "/v1/jobs", cookie=old)
        self.assertEqual(status, 401, "logout ended the session server-side")
        self.assertEqual(reply["error"]["code"], "unauthenticated")

        # With a user, a restart prints no new link.
        d.stop()
        d.start()
        self.assertEqual(len(set(LINK.findall(d.logs()))), 1, "one link (in the log line and on stderr)")
        self.assertEqual(Browser(d.port).login("root@example.com")[0], 200)
        rc, out, err = run_cli("user", "list", "--data-dir", self.data, "--json")
        self.assertEqual(rc, 0, err)
        users = json.loads(out)["users"]
        self.assertEqual([u["email"] for u in users], ["root@example.com"])
        self.assertNotIn("argon2", out)

    def test_idle_sessions_end(self):
        d = self.start("--session-idle", "2s")
        self.create_user("ed@example.com", "editor")
        b = Browser(d.port)
        self.assertEqual(b.login("ed@example.com")[0], 200)
        for _ in range(5):  # 3 s of use, each request within the idle time: the session lives on
            self.assertEqual(b.call("GET", "/v1/session")[0], 200)
            time.sleep(0.6)  # the pace of use under test, not a synchronisation
        # Unused for longer than 2 s: the next request is refused. Poll no faster than the idle time,
        # since each accepted request would keep the session alive.
        def refused():
            status, reply, _ = b.call("GET", "/v1/session")
            return reply if status == 401 else None

        reply = await_condition(refused, timeout=15, interval=2.5, what="the idle session to end")
        self.assertIn("idle", reply["error"]["message"])
        self.assertEqual(b.call("GET", "/v1/jobs")[0], 401)

    def test_lockout_after_failed_logins_looks_the_same_for_unknown_emails(self):
        # A first delay long enough that the 6th attempt, sent right after the 5th is answered, falls in it.
        d = self.start("--login-backoff", "500ms", "--login-lock", "10s")
        user = self.create_user("ed@example.com", "editor")
        known, unknown = Browser(d.port), Browser(d.port)

        def both(password="wrong password!"):
            a = known.login("ed@example.com", password)
            b = unknown.login("ghost@example.com", password)
            return a, b

        def same(a, b, status):
            self.assertEqual(a[0], status, a[1])
            self.assertEqual(b[0], status, b[1])
            self.assertEqual(a[1]["error"]["code"], b[1]["error"]["code"])
            self.assertEqual(re.sub(r"\d+", "N", a[1]["error"]["message"]),
                             re.sub(r"\d+", "N", b[1]["error"]["message"]))
            self.assertEqual(a[2].getheader("Retry-After") is None, b[2].getheader("Retry-After") is None)

        for _ in range(5):
            a, b = both()
            same(a, b, 401)
            self.assertEqual(a[1], b[1], "the same body")
        a, b = both()
        same(a, b, 429)  # the 6th at once: slowed down
        self.assertEqual(a[2].getheader("Retry-After"), "1")
        for n in range(6, 11):  # attempts 6..10, each let in once its doubling delay has passed
            for client, email in ((known, "ed@example.com"), (unknown, "ghost@example.com")):
                await_condition(lambda: client.login(email, "wrong password!")[0] == 401, timeout=20,
                                interval=0.05, what=f"attempt {n} for {email}")
        a, b = both(PASSWORD)
        same(a, b, 429)  # locked: even the right password
        self.assertIn("too many failed logins", a[1]["error"]["message"])
        rc, _, err = run_cli("user", "unlock", "--data-dir", self.data, str(user["id"]))
        self.assertEqual(rc, 0, err)
        self.assertEqual(known.login("ed@example.com")[0], 200, "an admin unlocked it")
        self.assertEqual(unknown.login("ghost@example.com", PASSWORD)[0], 429, "still locked")

    def test_a_viewer_user_is_refused_an_editor_route(self):
        d = self.start()
        admin = d.api()  # the local CLI's admin key
        status, made, _ = admin.call("POST", "/v1/users", {"email": "vi@example.com", "role": "viewer"})
        self.assertEqual(status, 201, made)
        self.assertEqual(setup_with(d.port, made["setup_link"])[0], 200)
        b = Browser(d.port)
        self.assertEqual(b.login("vi@example.com")[0], 200)
        self.assertEqual(b.call("GET", "/v1/jobs")[0], 200)
        status, reply, _ = b.call("POST", "/v1/jobs", {"kind": "noop"})
        self.assertEqual(status, 403)
        self.assertEqual(reply["error"]["code"], "permission_denied")
        self.assertIn("needs the editor role", reply["error"]["message"])
        status, reply, _ = b.call("GET", "/v1/users")
        self.assertEqual(status, 403, "users are admin's")
        # Disabled by an admin: refused from the next request on.
        self.assertEqual(admin.call("PATCH", f"/v1/users/{made['id']}", {"disabled": True})[0], 200)
        self.assertEqual(b.call("GET", "/v1/jobs")[0], 401)


if __name__ == "__main__":
    unittest.main()
