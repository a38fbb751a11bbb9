#!/usr/bin/python3
"""A real SMTP server (aiosmtpd) for tests: stores every accepted message as files.

Usage: smtp_sink.py DIR [--auth USER:PASS] [--transient-rcpt REGEX]
                        [--permanent-rcpt REGEX] [--starttls | --implicit-tls] [--port N]

Listens on 127.0.0.1 (an ephemeral port unless --port), prints the port on stdout
as one line once it accepts connections, and exits when its stdin closes, so a
test that dies cannot leak it. Needs Debian's python3-aiosmtpd (run it with
/usr/bin/python3); --starttls and --implicit-tls need the `openssl` command.

For each accepted message it writes, before replying 250 (so a client that got
its 250 finds the files):
  DIR/NNNNNN.eml   the raw message as received (after dot-unstuffing)
  DIR/NNNNNN.json  {"seq", "connection", "peer", "mail_from", "rcpt_tos",
                    "auth_login", "tls"}
`connection` numbers the TCP connections from 1 in the order they were accepted;
DIR/connections holds how many have been accepted so far.

--auth USER:PASS      AUTH (PLAIN or LOGIN) is required before MAIL; other
                      credentials get "535 5.7.8 Authentication credentials invalid".
--transient-rcpt RE   RCPT TO addresses matching RE get 451 4.3.0 ...
--permanent-rcpt RE   RCPT TO addresses matching RE get 550 5.1.1 ...
--starttls            STARTTLS with a fresh self-signed certificate is required.
--implicit-tls        TLS from the first byte (smtps), self-signed certificate.
"""

import argparse
import asyncio
import itertools
import json
import logging
import os
import re
import ssl
import subprocess
import sys
import tempfile
import threading
import warnings

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword


def write_atomic(path, data):
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def self_signed_context(workdir):
    key = os.path.join(workdir, "key.pem")
    cert = os.path.join(workdir, "cert.pem")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert,
         "-days", "1", "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
        check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    return ctx


class Sink:
    def __init__(self, args):
        self.dir = args.dir
        self.transient = re.compile(args.transient_rcpt) if args.transient_rcpt else None
        self.permanent = re.compile(args.permanent_rcpt) if args.permanent_rcpt else None
        self.credentials = None
        if args.auth:
            user, _, password = args.auth.partition(":")
            self.credentials = (user.encode(), password.encode())
        self.seq = itertools.count(1)
        self.connections = 0

    # aiosmtpd handler hooks.
    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.transient and self.transient.search(address):
            return "451 4.3.0 <%s>: Mailbox temporarily unavailable, try again later" % address
        if self.permanent and self.permanent.search(address):
            return "550 5.1.1 <%s>: Recipient address rejected: User unknown" % address
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        n = next(self.seq)
        base = os.path.join(self.dir, "%06d" % n)
        login = session.auth_data.login.decode() if isinstance(session.auth_data, LoginPassword) else None
        record = {
            "seq": n,
            "connection": getattr(server, "connection_number", 0),
            "peer": list(session.peer) if session.peer else None,
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "auth_login": login,
            "tls": session.ssl is not None or server.transport.get_extra_info("sslcontext") is not None,
        }
        write_atomic(base + ".eml", envelope.original_content)
        write_atomic(base + ".json", json.dumps(record).encode())
        return "250 2.0.0 OK: queued as %d" % n

    def authenticate(self, server, session, envelope, mechanism, auth_data):
        if isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == self.credentials:
            return AuthResult(success=True, auth_data=auth_data)
        return AuthResult(success=False, handled=False)

    def connection_opened(self):
        self.connections += 1
        write_atomic(os.path.join(self.dir, "connections"), str(self.connections).encode())
        return self.connections


class SinkSMTP(SMTP):
    """Numbers each TCP connection (STARTTLS re-enters connection_made: not counted)."""

    def __init__(self, sink, **kwargs):
        super().__init__(sink, **kwargs)
        self.sink = sink
        self.connection_number = 0

    def connection_made(self, transport):
        if self.connection_number == 0:
            self.connection_number = self.sink.connection_opened()
        super().connection_made(transport)


async def main():
    warnings.simplefilter("ignore")  # "AUTH without TLS" is what a test wants
    logging.getLogger("mail.log").setLevel(logging.CRITICAL)
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dir")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--auth")
    parser.add_argument("--transient-rcpt")
    parser.add_argument("--permanent-rcpt")
    tls = parser.add_mutually_exclusive_group()
    tls.add_argument("--starttls", action="store_true")
    tls.add_argument("--implicit-tls", action="store_true")
    args = parser.parse_args()
    os.makedirs(args.dir, exist_ok=True)

    sink = Sink(args)
    kwargs = {"hostname": "sink.test", "ident": "outflow-smtp-sink", "auth_require_tls": False}
    if sink.credentials:
        kwargs.update(auth_required=True, authenticator=sink.authenticate)
    server_ssl = None
    if args.starttls or args.implicit_tls:
        certdir = tempfile.mkdtemp(prefix="smtp-sink-tls-")
        ctx = self_signed_context(certdir)
        if args.starttls:
            kwargs.update(tls_context=ctx, require_starttls=True, auth_require_tls=True)
        else:
            server_ssl = ctx

    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: SinkSMTP(sink, **kwargs), "127.0.0.1", args.port, ssl=server_ssl)
    print(server.sockets[0].getsockname()[1], flush=True)

    stdin_closed = asyncio.Event()

    def wait_stdin():
        try:
            while sys.stdin.buffer.read(4096):
                pass
        finally:
            loop.call_soon_threadsafe(stdin_closed.set)

    threading.Thread(target=wait_stdin, daemon=True).start()
    await stdin_closed.wait()
    server.close()


if __name__ == "__main__":
    asyncio.run(main())
