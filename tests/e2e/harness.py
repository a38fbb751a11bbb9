"""Test harness for black-box tests of the real `outflow` binary.

Starts and kills real daemons on 127.0.0.1, talks to them over HTTP, and runs
local HTTP servers that stand in for external systems. Python standard library
only. Every wait is bounded and awaits a condition; nothing sleeps to synchronise.
"""
import http.client
import http.server
import json
import os
import signal
import socket
import sqlite3
import subprocess
import tempfile
import threading
import time
import collections

OUTFLOW = os.environ.get("OUTFLOW_BIN", os.path.join(os.path.dirname(__file__), "../../build/outflow"))

# `outflow serve` needs the key that seals account credentials (docs/secrets.md).
# Every daemon these tests start gets this one through the environment, unless a
# test passes its own (test_campaigns.py checks start-up without a key).
TEST_SECRET_KEY = "5f" * 32
os.environ.setdefault("OUTFLOW_SECRET_KEY", TEST_SECRET_KEY)


# Every request needs an API key (docs/security.md). The tests use the key that
# `serve` keeps in <data-dir>/cli.key (mode 0600) for the local CLI: the Api client
# reads that file, and run_cli points the CLI at the daemon's data directory, so the
# CLI finds the file itself. Daemons run with a high per-key rate (--key-rate)
# because some tests send thousands of requests at once; test_auth.py checks the
# default rate. Nothing here turns authentication off: there is no such switch.
TEST_KEY_RATE = "1000000"

# Outbound calls may not reach loopback or private addresses by default
# (docs/security.md, "Outbound calls"); the tests' own sinks and fakes listen on
# 127.0.0.1, so every daemon allows loopback unless a test passes
# outbound_allow=None (the default policy) or its own list (test_outbound.py).
TEST_OUTBOUND_ALLOW = ("127.0.0.0/8", "::1/128")
_DAEMONS = {}  # port -> Daemon, for run_cli


def read_cli_key(data_dir):
    """The admin key `serve` keeps for the local CLI in <data-dir>/cli.key."""
    with open(os.path.join(data_dir, "cli.key")) as f:
        return f.read().strip()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def vm_hwm_mb(pid):
    """A process's peak resident memory in MB (VmHWM), for benchmarks."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def await_condition(predicate, timeout=30.0, interval=0.02, what="condition"):
    """Polls `predicate` until it returns a truthy value or `timeout` passes."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


class Api:
    """A keep-alive JSON client for one daemon."""

    def __init__(self, port, key=None):
        self.port = port
        self.key = key  # sent as Authorization: Bearer KEY unless the call gives its own
        self.conn = None

    def call(self, method, path, body=None, raw=None, headers=None):
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        headers = dict(headers or {})
        if self.key and "Authorization" not in headers:
            headers["Authorization"] = f"Bearer {self.key}"
        for attempt in range(2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            try:
                self.conn.request(method, path, body=data, headers=headers)
                resp = self.conn.getresponse()
                payload = resp.read()
                if resp.getheader("Connection", "").lower() == "close":
                    self.close()
                ctype = resp.getheader("Content-Type", "")
                parsed = json.loads(payload) if payload and ctype.startswith("application/json") else payload
                return resp.status, parsed, resp
            except (ConnectionError, http.client.RemoteDisconnected, BrokenPipeError):
                self.close()
                if attempt == 1:
                    raise

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None


class Daemon:
    """One `outflow serve` process on a data directory."""

    def __init__(self, data_dir, port=None, extra_args=(), env=None, key_rate=TEST_KEY_RATE, binary=None,
                 outbound_allow=TEST_OUTBOUND_ALLOW):
        self.binary = binary or OUTFLOW  # another build (benchmarks compare two)
        self.data_dir = data_dir
        self.key_rate = key_rate  # None: the daemon's default (100/s)
        self.outbound_allow = outbound_allow or ()  # None or (): the daemon's default policy
        self.port = port or free_port()
        self.extra_args = list(extra_args)
        self.env = dict(os.environ, **(env or {}))
        self.proc = None
        self.log_path = os.path.join(data_dir + ".logs", f"daemon-{self.port}.log")
        os.makedirs(os.path.dirname(self.log_path), exist_ok=True)

    def start(self, wait_ready=True):
        self.log = open(self.log_path, "ab")
        rate = [] if self.key_rate is None else ["--key-rate", str(self.key_rate)]
        allow = [arg for cidr in self.outbound_allow for arg in ("--outbound-allow", cidr)]
        self.proc = subprocess.Popen(
            [self.binary, "serve", "--addr", f"127.0.0.1:{self.port}", "--data-dir", self.data_dir] + rate + allow +
            self.extra_args, stdout=self.log, stderr=self.log, env=self.env)
        _DAEMONS[self.port] = self
        if wait_ready:
            self.wait_ready()
        return self

    def wait_ready(self, timeout=20):
        def ready():
            if self.proc.poll() is not None:
                raise AssertionError(f"outflow exited with {self.proc.returncode}:\n{self.logs()}")
            try:
                c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                c.request("GET", "/readyz")
                ok = c.getresponse().status == 200
                c.close()
                return ok
            except OSError:
                return False
        await_condition(ready, timeout, what="/readyz")

    def signal(self, sig):
        self.proc.send_signal(sig)

    def wait(self, timeout=60):
        rc = self.proc.wait(timeout)
        self.log.close()
        return rc

    def kill(self):
        self.proc.kill()
        return self.wait()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                return self.wait(60)
            except subprocess.TimeoutExpired:
                return self.kill()
        return self.proc.returncode if self.proc else None

    def logs(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")

    @property
    def key(self):
        """The admin key of the local CLI (<data-dir>/cli.key), as the CLI reads it."""
        return read_cli_key(self.data_dir)

    def auth_headers(self):
        return {"Authorization": f"Bearer {self.key}"}

    def api(self, key=None):
        """A client that sends `key`, by default the data directory's cli.key."""
        return Api(self.port, key if key is not None else self.key)

    @property
    def db_path(self):
        return os.path.join(self.data_dir, "outflow.db")


def _daemon_of(args, env):
    """The Daemon a CLI call talks to (by --server or OUTFLOW_SERVER), if one of ours."""
    server = env.get("OUTFLOW_SERVER", "")
    for i, a in enumerate(args):
        if a == "--server" and i + 1 < len(args):
            server = args[i + 1]
        elif a.startswith("--server="):
            server = a.split("=", 1)[1]
    try:
        return _DAEMONS.get(int(server.rsplit(":", 1)[1].strip("/")))
    except (IndexError, ValueError):
        return None


def run_cli(*args, env=None, input=None, timeout=60):
    """Runs the `outflow` CLI; returns (exit code, stdout, stderr).

    A command aimed at one of our daemons runs with OUTFLOW_DATA_DIR set to that
    daemon's data directory (unless the caller sets it or a key), so the CLI finds
    <data-dir>/cli.key itself, as it does for an operator.
    """
    full = dict(os.environ, **(env or {}))
    daemon = _daemon_of(args, full)
    if daemon is not None and not any(k in (env or {}) for k in ("OUTFLOW_DATA_DIR", "OUTFLOW_API_KEY")):
        full["OUTFLOW_DATA_DIR"] = daemon.data_dir
    p = subprocess.run([OUTFLOW] + list(args), capture_output=True, text=True, env=full, input=input,
                       timeout=timeout)
    return p.returncode, p.stdout, p.stderr


def db_query(db_path, sql, params=()):
    """Reads the daemon's SQLite file directly (read-only), as an operator would."""
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=10)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


class Sink:
    """A local HTTP server standing in for an external system that receives webhooks.

    Records every request's X-Outflow-Job-Id and Idempotency-Key at receipt. `behaviour`
    maps a job id to a list of (status, headers) answers, consumed one per request;
    otherwise it answers 200. `delay` seconds are spent before answering.
    """

    def __init__(self, delay=0.0):
        self.lock = threading.Lock()
        self.counts = collections.Counter()
        self.requests = []  # (job_id, attempt, idempotency_key, body)
        self.behaviour = {}
        self.delay = delay
        sink = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                job = int(self.headers.get("X-Outflow-Job-Id", "0"))
                with sink.lock:
                    sink.counts[job] += 1
                    sink.requests.append((job, int(self.headers.get("X-Outflow-Attempt", "0")),
                                          self.headers.get("Idempotency-Key"), body))
                    answers = sink.behaviour.get(job)
                    status, headers = answers.pop(0) if answers else (200, {})
                if sink.delay:
                    time.sleep(sink.delay)  # the external system is slow: part of what is tested
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                text = b"" if status < 300 else f"status {status}".encode()
                self.send_header("Content-Length", str(len(text)))
                self.end_headers()
                self.wfile.write(text)

            def log_message(self, *args):
                pass

        class Server(http.server.ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request, client_address):
                pass  # a client killed mid-request (SIGKILL tests) is expected here

        self.server = Server(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def total(self):
        with self.lock:
            return sum(self.counts.values())

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def temp_data_dir(test):
    d = tempfile.mkdtemp(prefix="outflow-e2e-")
    test.addCleanup(lambda: subprocess.run(["rm", "-rf", d, d + ".logs"]))
    return os.path.join(d, "data")
