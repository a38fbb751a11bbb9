#!/usr/bin/env python3
"""POST /v1/messages against the real `outflow serve` binary (stdlib only).

  bench/messages_bench.py [--rate 5000] [--seconds 10] [--clients 4] [--contacts 20000] [--runs 3]

Open loop: `--clients` processes, each on one keep-alive connection, send
transactional messages (by contact id, a `log` account that sends nothing over the
network, 100,000/s, so the send loop drains them as they come) at `--rate` messages/s
in total, each request at its scheduled time. Latency is measured from the scheduled
time to the response, so a server that falls behind shows it (no coordinated
omission). Reported per run: messages accepted per second, p50 / p99 / max latency,
and the share answered 202; then the medians.
"""
import argparse
import http.client
import json
import multiprocessing
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "e2e"))
from harness import OUTFLOW, free_port, read_cli_key  # noqa: E402

os.environ.setdefault("OUTFLOW_SECRET_KEY", "5f" * 32)


AUTH = {}  # Authorization with the key serve keeps in <data-dir>/cli.key, once it is up


def call(conn, method, path, body=None):
    conn.request(method, path, body=json.dumps(body) if body is not None else None,
                 headers={"Content-Type": "application/json", **AUTH})
    r = conn.getresponse()
    return r.status, json.loads(r.read() or b"null")


def start(data, port):
    p = subprocess.Popen([OUTFLOW, "--log-level", "warn", "serve", "--addr", f"127.0.0.1:{port}", "--data-dir", data,
                          "--http-threads", "2", "--key-rate", "1000000"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    t0 = time.monotonic()
    while time.monotonic() - t0 < 60:
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            if call(c, "GET", "/readyz")[0] == 200:
                AUTH["Authorization"] = f"Bearer {read_cli_key(data)}"
                return p, c
        except OSError:
            time.sleep(0.01)
    p.kill()
    raise SystemExit("outflow did not become ready")


def client(port, account, template, contact_ids, rate, seconds, t_start, offset, out):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    interval = 1.0 / rate
    n = int(rate * seconds)
    lat, ok = [], 0
    for i in range(n):
        due = t_start + i * interval + offset
        now = time.monotonic()
        if due > now:
            time.sleep(due - now)
        body = {"account_id": account, "template_id": template, "contact_id": contact_ids[(i * 7 + int(offset * 1e6)) % len(contact_ids)],
                "variables": {"code": i}}
        status, _ = call(conn, "POST", "/v1/messages", body)
        lat.append(time.monotonic() - due)
        ok += status == 202
    out.put((lat, ok, n, time.monotonic()))


def run(a, port, account, template, contact_ids):
    q = multiprocessing.Queue()
    per_client = a.rate / a.clients
    t_start = time.monotonic() + 0.5
    procs = [multiprocessing.Process(target=client, args=(port, account, template, contact_ids, per_client, a.seconds,
                                                          t_start, k / a.rate, q)) for k in range(a.clients)]
    for p in procs:
        p.start()
    results = [q.get() for _ in procs]
    for p in procs:
        p.join()
    lat = sorted(x for r in results for x in r[0])
    ok = sum(r[1] for r in results)
    n = sum(r[2] for r in results)
    end = max(r[3] for r in results)
    return {"accepted_per_s": ok / (end - t_start), "p50_ms": lat[len(lat) // 2] * 1000,
            "p99_ms": lat[int(len(lat) * 0.99)] * 1000, "max_ms": lat[-1] * 1000, "ok_share": ok / n}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rate", type=float, default=5000)
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--contacts", type=int, default=20000)
    ap.add_argument("--runs", type=int, default=3)
    a = ap.parse_args()
    cpu = next(l.split(":")[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name"))
    print(f"machine: {os.cpu_count()} cores, {cpu}; load average {os.getloadavg()}")
    tmp = tempfile.mkdtemp(prefix="outflow-msgbench-")
    port = free_port()
    p, conn = start(os.path.join(tmp, "data"), port)
    try:
        status, acct = call(conn, "POST", "/v1/accounts", {"name": "dry", "channel": "log", "provider": "log",
                                                           "rate_per_second": int(os.environ.get("BENCH_SEND_RATE", "100000"))})
        assert status == 201, acct
        status, tpl = call(conn, "POST", "/v1/templates", {"name": "code", "text": "Your code is {{vars.code}}"})
        assert status == 201, tpl
        ids = []
        for start_i in range(0, a.contacts, 10000):
            batch = [{"email": f"m{i}@example.com"} for i in range(start_i, min(a.contacts, start_i + 10000))]
            status, r = call(conn, "POST", "/v1/contacts/upsert", {"contacts": batch})
            assert status == 200, r
            ids += [x["id"] for x in r["results"]]
        rows = []
        for k in range(a.runs):
            r = run(a, port, acct["id"], tpl["id"], ids)
            rows.append(r)
            print(f"run {k + 1}: {r['accepted_per_s']:,.0f} accepted/s at {a.rate:,.0f}/s offered; latency p50 "
                  f"{r['p50_ms']:.2f} ms, p99 {r['p99_ms']:.2f} ms, max {r['max_ms']:.1f} ms; 202 for "
                  f"{r['ok_share']:.2%}")
        med = {k: statistics.median(r[k] for r in rows) for k in rows[0]}
        print(f"median: {med['accepted_per_s']:,.0f} accepted/s, p99 {med['p99_ms']:.2f} ms "
              f"(target >= 5,000/s with p99 <= 20 ms)")
    finally:
        p.terminate()
        p.wait(timeout=30)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
