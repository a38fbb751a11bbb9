#!/usr/bin/env python3
"""A fake of the HTTP messaging providers Outflow talks to, for tests.

Usage: provider_fake.py [--record FILE] [--port N] [--whatsapp-token T]
                        [--twilio-sid SID] [--twilio-token T] [--custom-auth VALUE]

Listens on 127.0.0.1 (an ephemeral port unless --port) with HTTP/1.1 keep-alive,
prints the port on stdout as one line once it accepts connections, and exits when
its stdin closes (so a test that dies cannot leak it). Python standard library only.

Endpoints, shaped after the providers' public API documentation:

  WhatsApp Cloud API (Meta Graph API)
    POST /{version}/{phone_number_id}/messages   Authorization: Bearer <token>
         JSON {"messaging_product": "whatsapp", "to", "type": "text"|"template", ...}
         200 {"messaging_product": "whatsapp", "contacts": [{"input", "wa_id"}],
              "messages": [{"id": "wamid...."}]}
    GET  /{version}/{phone_number_id}            the phone number (used to verify a token)
    errors: {"error": {"message": "(#100) ...", "type": "OAuthException", "code",
             "error_data": {"messaging_product": "whatsapp", "details"}, "fbtrace_id"}}
            401 code 190 for a bad token, 400 code 100 for a missing parameter.

  Twilio Programmable Messaging
    POST /2010-04-01/Accounts/{AccountSid}/Messages.json   HTTP basic AccountSid:AuthToken
         form-encoded To, From | MessagingServiceSid, Body
         201 the Message resource {"sid": "SM...", "status": "queued", ...}
    GET  /2010-04-01/Accounts/{AccountSid}.json           the Account (verify)
    errors: {"code", "message", "more_info", "status"}: 401 20003 "Authenticate",
            400 21604 (To missing), 21603 (From missing), 21602 (Body missing),
            21211 (To not E.164).

  Anything else (a custom "http" provider): POST -> 200 {"data": {"id": "msg-N"}},
  GET -> 200 {"ok": true}; with --custom-auth, an Authorization header other than
  VALUE gets 401 {"error": {"message": "unauthorized"}}.

Status callbacks (Twilio): a message created with a StatusCallback URL is followed,
after --callback-delay-ms (default 300), by the status callbacks Twilio would POST
there: "sent", then "delivered" (or what /_control "delivery" set for the number),
form-encoded and signed in X-Twilio-Signature (base64 HMAC-SHA1 of the URL and the
sorted parameters, keyed with the auth token). The answers' statuses are counted
in /_stats "callbacks".

Idempotency: a request whose Idempotency-Key (or I-Twilio-Idempotency-Token) was
already answered with success gets the same answer again (the same message id)
and is recorded with "duplicate": true.

Control (not recorded):
  POST /_control {"fail_next": N, "status": 429, "retry_after": "2", "code": 130429,
                  "message": "Rate limit hit"}
       the next N provider requests fail with that status and the provider's error body
  POST /_control {"rules": [{"to": "+15550001", "status": 400, "code": 100, "message": "...",
                  "retry_after": "7", "times": N, "drop": true, "delay_ms": 500}]}
       requests to that recipient (JSON "to" or form "To"; no "to": any request) fail
       with `status`, or have their connection closed without a reply (`drop`), or are
       answered normally after `delay_ms` (`delay_ms` without `status`); `times`
       limits how often a rule applies (default: always).
  POST /_control {"delivery": {"+15550002": {"status": "undelivered", "error_code": 30006}}}
       the final status callback for that number (default: delivered)
  POST /_control {"clear": true}      forget every rule
  GET  /_stats   {"connections", "requests", "sent", "duplicates"}

--record FILE appends one JSON line per provider request, before the reply is sent:
  {"seq", "t" (arrival, Unix seconds), "connection", "method", "path", "headers": {lower-case name: value},
   "body", "duplicate"}
"""

import argparse
import base64
import hashlib
import hmac
import itertools
import json
import re
import socket
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

WA_MESSAGES = re.compile(r"^/(v\d+\.\d+)/([0-9A-Za-z_-]+)/messages$")
WA_PHONE = re.compile(r"^/(v\d+\.\d+)/([0-9A-Za-z_-]+)$")
TW_MESSAGES = re.compile(r"^/2010-04-01/Accounts/(AC[0-9A-Za-z]+)/Messages\.json$")
TW_ACCOUNT = re.compile(r"^/2010-04-01/Accounts/(AC[0-9A-Za-z]+)\.json$")
E164 = re.compile(r"^\+[1-9][0-9]{1,14}$")


class State:
    def __init__(self, args):
        self.args = args
        self.lock = threading.Lock()
        self.connections = 0
        self.requests = 0
        self.sent = 0
        self.duplicates = 0
        self.seq = itertools.count(1)
        self.rules = []
        self.delivery = {}  # Twilio: number -> {"status", "error_code"}
        self.callbacks = {}  # HTTP status of each status callback's answer -> count
        self.answered = {}  # idempotency key -> (status, body, headers)
        self.record = open(args.record, "a", encoding="utf-8") if args.record else None

    def take_rule(self, to):
        with self.lock:
            for rule in self.rules:
                if "to" in rule and rule["to"] != to:
                    continue
                if "times" in rule:
                    if rule["times"] <= 0:
                        continue
                    rule["times"] -= 1
                return dict(rule)
        return None


def fbtrace(seed):
    return "A" + hashlib.sha1(seed.encode()).hexdigest()[:22]


def whatsapp_error(status, code, message, details=None):
    # Graph API messages carry "(#code) " except OAuth token errors (code 190).
    prefixed = message.startswith("(#") or code == 190
    return status, {"error": {
        "message": message if prefixed else "(#%d) %s" % (code, message),
        "type": "OAuthException",
        "code": code,
        "error_data": {"messaging_product": "whatsapp", "details": details or message},
        "fbtrace_id": fbtrace("%d%s%f" % (code, message, time.time())),
    }}


def twilio_error(status, code, message):
    return status, {"code": code, "message": message,
                    "more_info": "https://www.twilio.com/docs/errors/%d" % code, "status": status}


DEFAULTS = {  # status -> (WhatsApp code, Twilio code, message)
    400: (100, 21211, "Invalid parameter"),
    401: (190, 20003, "Authenticate"),
    403: (10, 20003, "Permission denied"),
    404: (100, 20404, "The requested resource was not found"),
    429: (130429, 20429, "Too Many Requests"),
    500: (131000, 20500, "Internal Server Error"),
    503: (2, 20503, "Service temporarily unavailable"),
}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "provider-fake/1"
    sys_version = ""

    def setup(self):
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        state = self.server.state
        with state.lock:
            state.connections += 1
            self.connection_number = state.connections

    def log_message(self, *args):
        pass

    def do_GET(self):
        self.handle_any()

    def do_POST(self):
        self.handle_any()

    def do_PUT(self):
        self.handle_any()

    def do_PATCH(self):
        self.handle_any()

    def do_DELETE(self):
        self.handle_any()

    # --- plumbing ---

    def reply(self, status, body, headers=None):
        data = json.dumps(body).encode() if not isinstance(body, bytes) else body
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        # Headers and body in one write: no Nagle stall between them.
        self._headers_buffer.append(b"\r\n" + data)
        self.flush_headers()

    def drop(self):
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def handle_any(self):
        arrived = time.time()  # as soon as the request line and headers are read
        state = self.server.state
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        path = urllib.parse.urlsplit(self.path).path
        if path == "/_control":
            return self.control(raw)
        if path == "/_stats":
            with state.lock:
                return self.reply(200, {"connections": state.connections, "requests": state.requests,
                                        "sent": state.sent, "duplicates": state.duplicates,
                                        "callbacks": {str(k): v for k, v in state.callbacks.items()}})

        body_text = raw.decode("utf-8", errors="replace")
        key = self.headers.get("I-Twilio-Idempotency-Token") or self.headers.get("Idempotency-Key")
        with state.lock:
            state.requests += 1
            seq = next(state.seq)
            previous = state.answered.get(key) if key else None
            if previous:
                state.duplicates += 1
            if state.record:
                state.record.write(json.dumps({
                    "seq": seq, "t": arrived, "connection": self.connection_number, "method": self.command,
                    "path": path,
                    "headers": {k.lower(): v for k, v in self.headers.items()}, "body": body_text,
                    "duplicate": previous is not None}) + "\n")
                state.record.flush()
        if previous:
            return self.reply(*previous)

        kind, match = self.route(path)
        to = self.recipient(kind, raw)
        rule = state.take_rule(to)
        if rule:
            if rule.get("drop"):
                return self.drop()
            if rule.get("delay_ms"):
                time.sleep(rule["delay_ms"] / 1000.0)
            if rule.get("status"):
                status, body = self.rule_error(kind, rule)
                headers = {"Retry-After": str(rule["retry_after"])} if "retry_after" in rule else {}
                return self.reply(status, body, headers)

        status, body = self.provider(kind, match, raw, seq)
        if 200 <= status < 300 and self.command == "POST":
            with state.lock:
                state.sent += 1
                if key:
                    state.answered[key] = (status, body)
        self.reply(status, body)

    def control(self, raw):
        state = self.server.state
        try:
            req = json.loads(raw or b"{}")
        except ValueError:
            return self.reply(400, {"error": "not JSON"})
        with state.lock:
            if req.get("clear"):
                state.rules.clear()
            if "fail_next" in req:
                rule = {k: v for k, v in req.items() if k in ("status", "code", "message", "retry_after", "drop",
                                                                "delay_ms")}
                rule["times"] = int(req["fail_next"])
                rule.setdefault("status", 500)
                state.rules.append(rule)
            for rule in req.get("rules", []):
                state.rules.append(dict(rule))
            state.delivery.update(req.get("delivery", {}))
        self.reply(200, {"ok": True})

    def route(self, path):
        for kind, pattern in (("whatsapp_messages", WA_MESSAGES), ("twilio_messages", TW_MESSAGES),
                              ("twilio_account", TW_ACCOUNT), ("whatsapp_phone", WA_PHONE)):
            m = pattern.match(path)
            if m:
                return kind, m
        return "custom", None

    def recipient(self, kind, raw):
        try:
            if kind.startswith("twilio"):
                return urllib.parse.parse_qs(raw.decode(), keep_blank_values=True).get("To", [None])[0]
            if raw:
                return json.loads(raw).get("to")
        except (ValueError, AttributeError, UnicodeDecodeError):
            pass
        return None

    def rule_error(self, kind, rule):
        status = int(rule["status"])
        wa_code, tw_code, message = DEFAULTS.get(status, (1, 20001, "Error"))
        message = rule.get("message", message)
        if kind.startswith("whatsapp"):
            return whatsapp_error(status, int(rule.get("code", wa_code)), message)
        if kind.startswith("twilio"):
            return twilio_error(status, int(rule.get("code", tw_code)), message)
        return status, {"error": {"message": message, "code": rule.get("code", status)}}

    # --- the providers ---

    def provider(self, kind, match, raw, seq):
        if kind.startswith("whatsapp"):
            return self.whatsapp(kind, match, raw, seq)
        if kind.startswith("twilio"):
            return self.twilio(kind, match, raw, seq)
        return self.custom(raw, seq)

    def whatsapp(self, kind, match, raw, seq):
        args = self.server.state.args
        if self.headers.get("Authorization") != "Bearer " + args.whatsapp_token:
            return whatsapp_error(401, 190, "Invalid OAuth access token - Cannot parse access token")
        phone_number_id = match.group(2)
        if kind == "whatsapp_phone":
            if self.command != "GET":
                return whatsapp_error(400, 100, "Unsupported post request")
            return 200, {"verified_name": "Outflow Test", "display_phone_number": "+1 555-0100",
                         "quality_rating": "GREEN", "id": phone_number_id}
        if self.command != "POST":
            return whatsapp_error(400, 100, "Unsupported get request")
        if not (self.headers.get("Content-Type") or "").startswith("application/json"):
            return whatsapp_error(400, 100, "Invalid parameter", "Content-Type must be application/json")
        try:
            msg = json.loads(raw)
        except ValueError:
            return whatsapp_error(400, 100, "Invalid parameter", "the request body is not valid JSON")
        if not isinstance(msg, dict) or msg.get("messaging_product") != "whatsapp":
            return whatsapp_error(400, 100, "The parameter messaging_product is required.")
        to = msg.get("to")
        if not isinstance(to, str) or not to:
            return whatsapp_error(400, 100, "The parameter to is required.")
        kind_of = msg.get("type", "text")
        if kind_of == "text":
            text = msg.get("text")
            if not isinstance(text, dict) or not isinstance(text.get("body"), str) or not text["body"]:
                return whatsapp_error(400, 100, "The parameter text['body'] is required.")
        elif kind_of == "template":
            tpl = msg.get("template")
            if not isinstance(tpl, dict) or not tpl.get("name"):
                return whatsapp_error(400, 100, "The parameter template['name'] is required.")
            if not isinstance(tpl.get("language"), dict) or not tpl["language"].get("code"):
                return whatsapp_error(400, 100, "The parameter template['language']['code'] is required.")
        else:
            return whatsapp_error(400, 100, "Invalid parameter", "unsupported message type " + str(kind_of))
        wa_id = re.sub(r"\D", "", to)
        wamid = "wamid." + base64.b64encode(("%s:%d" % (phone_number_id, seq)).encode()).decode().rstrip("=")
        message = {"id": wamid}
        if kind_of == "template":
            message["message_status"] = "accepted"
        return 200, {"messaging_product": "whatsapp", "contacts": [{"input": to, "wa_id": wa_id}],
                     "messages": [message]}

    def twilio_auth_ok(self, sid):
        args = self.server.state.args
        auth = self.headers.get("Authorization") or ""
        if not auth.startswith("Basic "):
            return False
        try:
            user, _, password = base64.b64decode(auth[6:]).decode().partition(":")
        except ValueError:
            return False
        return user == sid == args.twilio_sid and password == args.twilio_token

    def twilio(self, kind, match, raw, seq):
        sid = match.group(1)
        if not self.twilio_auth_ok(sid):
            return twilio_error(401, 20003, "Authenticate")
        now = formatdate(usegmt=False).replace("-0000", "+0000")
        if kind == "twilio_account":
            return 200, {"sid": sid, "friendly_name": "Outflow test account", "status": "active", "type": "Full",
                         "date_created": now, "date_updated": now,
                         "uri": "/2010-04-01/Accounts/%s.json" % sid}
        if self.command != "POST":
            return twilio_error(405, 20004, "Method not allowed")
        if not (self.headers.get("Content-Type") or "").startswith("application/x-www-form-urlencoded"):
            return twilio_error(400, 21602, "Message body is required.")
        form = {k: v[0] for k, v in urllib.parse.parse_qs(raw.decode("utf-8", "replace"),
                                                           keep_blank_values=True).items()}
        to = form.get("To", "")
        if not to:
            return twilio_error(400, 21604, "A 'To' phone number is required.")
        if not form.get("From") and not form.get("MessagingServiceSid"):
            return twilio_error(400, 21603, "A 'From' phone number is required.")
        if not form.get("Body") and not form.get("MediaUrl") and not form.get("ContentSid"):
            return twilio_error(400, 21602, "Message body is required.")
        if not E164.match(to):
            return twilio_error(400, 21211, "Invalid 'To' Phone Number: %s" % to)
        msid = "SM" + hashlib.md5(("%s:%d" % (sid, seq)).encode()).hexdigest()
        if form.get("StatusCallback"):
            threading.Thread(target=send_status_callbacks, daemon=True,
                             args=(self.server.state, form["StatusCallback"], sid, msid, form)).start()
        return 201, {
            "account_sid": sid, "api_version": "2010-04-01", "body": form.get("Body", ""),
            "date_created": now, "date_sent": None, "date_updated": now, "direction": "outbound-api",
            "error_code": None, "error_message": None, "from": form.get("From"),
            "messaging_service_sid": form.get("MessagingServiceSid"), "num_media": "0", "num_segments": "1",
            "price": None, "price_unit": "USD", "sid": msid,
            "status": "accepted" if form.get("MessagingServiceSid") else "queued",
            "subresource_uris": {"media": "/2010-04-01/Accounts/%s/Messages/%s/Media.json" % (sid, msid)},
            "to": to, "uri": "/2010-04-01/Accounts/%s/Messages/%s.json" % (sid, msid),
        }

    def custom(self, raw, seq):
        args = self.server.state.args
        if args.custom_auth and self.headers.get("Authorization") != args.custom_auth:
            return 401, {"error": {"message": "unauthorized"}}
        if self.command == "GET":
            return 200, {"ok": True}
        return 200, {"data": {"id": "msg-%d" % seq}}


def twilio_signature(token, url, params):
    data = url + "".join(k + params[k] for k in sorted(params))
    return base64.b64encode(hmac.new(token.encode(), data.encode(), hashlib.sha1).digest()).decode()


def send_status_callbacks(state, url, account_sid, msid, form):
    """POSTs "sent" and then the final status to `url`, signed as Twilio signs them."""
    final = state.delivery.get(form.get("To"), {"status": "delivered"})
    for status in ("sent", final["status"]):
        time.sleep(state.args.callback_delay_ms / 1000.0)
        params = {"MessageSid": msid, "SmsSid": msid, "MessageStatus": status, "SmsStatus": status,
                  "AccountSid": account_sid, "To": form.get("To", ""), "ApiVersion": "2010-04-01"}
        if form.get("From"):
            params["From"] = form["From"]
        if status in ("undelivered", "failed") and final.get("error_code"):
            params["ErrorCode"] = str(final["error_code"])
        body = urllib.parse.urlencode(params).encode()
        req = urllib.request.Request(url, data=body, method="POST", headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Twilio-Signature": twilio_signature(state.args.twilio_token, url, params)})
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                code = r.status
        except urllib.error.HTTPError as e:
            code = e.code
        except OSError:
            code = 0
        with state.lock:
            state.callbacks[code] = state.callbacks.get(code, 0) + 1


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--record")
    parser.add_argument("--whatsapp-token", default="wa-test-token")
    parser.add_argument("--twilio-sid", default="AC00000000000000000000000000000001")
    parser.add_argument("--twilio-token", default="twilio-test-token")
    parser.add_argument("--custom-auth")
    parser.add_argument("--callback-delay-ms", type=int, default=300)
    args = parser.parse_args()

    server = Server(("127.0.0.1", args.port), Handler)
    server.state = State(args)
    print(server.server_address[1], flush=True)

    def wait_stdin():
        try:
            while sys.stdin.buffer.read(4096):
                pass
        finally:
            server.shutdown()

    threading.Thread(target=wait_stdin, daemon=True).start()
    server.serve_forever(poll_interval=0.2)
    server.server_close()


if __name__ == "__main__":
    main()
