#!/usr/bin/env python3
"""Benchmarks of the real `outflow serve` binary (stdlib only).

  bench/daemon_bench.py [--jobs 1000000] [--batch 10000] [--runs 3]

1. Enqueue through the REST API: POST /v1/jobs/batch with `--batch` jobs a request,
   one keep-alive connection, until `--jobs` jobs are pending (due in an hour): jobs/s.
2. Start-up with that many pending jobs: from exec to the first 200 from /readyz,
   and the daemon's peak RSS (VmHWM) after start and one /metrics scrape (which
   counts every job by state), per run; the median is reported.
"""
import argparse
import http.client
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "e2e"))
from harness import OUTFLOW, free_port, read_cli_key, vm_hwm_mb  # noqa: E402

# The daemons started here seal no credentials, but serve needs a key (docs/secrets.md).
os.environ.setdefault("OUTFLOW_SECRET_KEY", "5f" * 32)


def start(data, port):
    t0 = time.monotonic()
    p = subprocess.Popen([OUTFLOW, "--log-level", "warn", "serve", "--addr", f"127.0.0.1:{port}", "--data-dir", data],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while True:
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            c.request("GET", "/readyz")
            if c.getresponse().status == 200:
                c.close()
                return p, time.monotonic() - t0
        except OSError:
            pass
        if p.poll() is not None or time.monotonic() - t0 > 60:
            raise SystemExit("outflow did not become ready")
        time.sleep(0.002)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--jobs", type=int, default=1_000_000)
    ap.add_argument("--batch", type=int, default=10_000)
    ap.add_argument("--runs", type=int, default=3)
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="outflow-bench-")
    data = os.path.join(tmp, "data")
    port = free_port()
    try:
        print(f"machine: {os.cpu_count()} cores, "
              f"{next(l.split(':')[1].strip() for l in open('/proc/cpuinfo') if l.startswith('model name'))}")
        p, _ = start(data, port)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        auth = {"Authorization": f"Bearer {read_cli_key(data)}"}  # the key serve keeps for the local CLI
        due = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 3600))
        body = json.dumps({"jobs": [{"kind": "noop", "due_at": due, "payload": {"n": i}} for i in range(a.batch)]})
        t0 = time.monotonic()
        sent = 0
        while sent < a.jobs:
            conn.request("POST", "/v1/jobs/batch", body=body, headers=auth)
            r = conn.getresponse()
            r.read()
            assert r.status == 200, r.status
            sent += a.batch
        dt = time.monotonic() - t0
        print(f"enqueue via API: {sent} jobs in {dt:.2f} s = {sent / dt:,.0f} jobs/s "
              f"(batches of {a.batch}, one connection, JSON encoding by the client included)")
        p.terminate()
        p.wait(60)
        size = sum(os.path.getsize(os.path.join(data, f)) for f in os.listdir(data))
        print(f"data directory: {size / 1e6:.0f} MB for {sent} pending jobs")
        starts, rss = [], []
        for run in range(a.runs):
            p, t = start(data, port)
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
            c.request("GET", "/metrics", headers=auth)
            m = c.getresponse().read().decode()
            assert f'outflow_jobs{{state="ready"}} {sent}' in m
            starts.append(t)
            rss.append(vm_hwm_mb(p.pid))
            print(f"  run {run + 1}: start-up to ready {t * 1000:.0f} ms, peak RSS {rss[-1]:.0f} MB")
            p.terminate()
            p.wait(60)
        print(f"start-up with {sent} pending jobs: median {statistics.median(starts) * 1000:.0f} ms; "
              f"peak RSS median {statistics.median(rss):.0f} MB")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
