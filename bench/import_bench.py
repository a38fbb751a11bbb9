#!/usr/bin/env python3
"""End-to-end CSV import benchmark of the real `outflow serve` binary (stdlib only).

  bench/import_bench.py [--rows 1000000] [--runs 3] [--segment NAME] [--dynamic N]

Generates a 12-column CSV (email, names, phone, time zone, locale, owner, stage,
tier, score, two custom columns), uploads it with POST /v1/imports into a fresh
data directory, and times upload start -> import completed (parsed, validated,
deduplicated, committed, segment memberships updated). Reports rows/s per run and
the median, and the daemon's peak RSS (VmHWM).

--segment NAME: every row also joins that static segment (the import's `segment`).
--dynamic N: N dynamic segments exist before the import (filters on owner, pipeline
stage, tier and score that each row's values match in turn, so each row joins about
N/2 of them), kept up to date row by row as the import commits.
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

ZONES = ["Europe/Berlin", "America/New_York", "Asia/Tokyo", "UTC"]


def make_csv(path, rows):
    with open(path, "w") as f:
        f.write("email,first_name,last_name,phone,time_zone,locale,owner,pipeline_stage,tier,score,company,city\n")
        for i in range(rows):
            f.write(f"user{i}@example.com,First{i},\"Last, {i}\",+1415{i % 10000000:07d},{ZONES[i % 4]},en-US,"
                    f"owner{i % 20},hook,pro,{i % 100},Company {i % 997},City {i % 113}\n")


def dynamic_filters(n):
    """N segment filters; a row matches about half of them."""
    out = []
    for k in range(n):
        kind = k % 4
        if kind == 0:
            out.append({"field": "owner", "op": "in", "values": [f"owner{j}" for j in range(k % 20, 20, 2)]})
        elif kind == 1:
            out.append({"field": "pipeline_stage", "op": "equals", "value": "hook" if k % 8 == 1 else "closed"})
        elif kind == 2:
            out.append({"field": "engagement_score", "op": "greater_than", "value": 49})
        else:
            out.append({"field": "email", "op": "contains", "value": f"{k % 10}@"})
    return out


def run_once(csv_path, rows, segment=None, dynamic=0):
    tmp = tempfile.mkdtemp(prefix="outflow-ibench-")
    port = free_port()
    p = subprocess.Popen([OUTFLOW, "--log-level", "warn", "serve", "--addr", f"127.0.0.1:{port}",
                          "--data-dir", os.path.join(tmp, "data"), "--upload-limit", str(4 << 30)],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                c.request("GET", "/readyz")
                if c.getresponse().status == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit("daemon did not start")
            time.sleep(0.01)
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
        auth = {"Authorization": f"Bearer {read_cli_key(os.path.join(tmp, 'data'))}"}  # serve's local CLI key
        for k, flt in enumerate(dynamic_filters(dynamic)):
            c.request("POST", "/v1/segments", body=json.dumps({"name": f"dyn{k}", "filter": flt}),
                      headers={"Content-Type": "application/json", **auth})
            resp = c.getresponse()
            body = resp.read()
            assert resp.status == 201, body
        query = "/v1/imports?create_fields=true" + (f"&segment={segment}" if segment else "")
        t0 = time.monotonic()
        with open(csv_path, "rb") as body:
            c.request("POST", query, body=body,
                      headers={"Content-Length": str(os.path.getsize(csv_path)), **auth})
            r = c.getresponse()
            im = json.loads(r.read())
        assert r.status == 202, im
        while im["state"] not in ("completed", "failed", "cancelled"):
            time.sleep(0.05)
            c.request("GET", f"/v1/imports/{im['id']}", headers=auth)
            im = json.loads(c.getresponse().read())
        dt = time.monotonic() - t0
        assert im["state"] == "completed" and im["created"] == rows and im["failed"] == 0, im
        return dt, vm_hwm_mb(p.pid)
    finally:
        p.terminate()
        p.wait(60)
        shutil.rmtree(tmp, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--segment", help="every row joins this static segment")
    ap.add_argument("--dynamic", type=int, default=0, help="dynamic segments kept during the import")
    a = ap.parse_args()
    work = tempfile.mkdtemp(prefix="outflow-ibench-csv-")
    try:
        path = os.path.join(work, "contacts.csv")
        make_csv(path, a.rows)
        mb = os.path.getsize(path) / 1e6
        print(f"machine: {os.cpu_count()} cores; file: {a.rows} rows x 12 columns, {mb:.0f} MB; "
              f"static segment: {a.segment or 'none'}; dynamic segments: {a.dynamic}")
        rates, rss = [], []
        for i in range(a.runs):
            dt, hwm = run_once(path, a.rows, a.segment, a.dynamic)
            rates.append(a.rows / dt)
            rss.append(hwm)
            print(f"  run {i + 1}: {dt:.2f} s = {a.rows / dt:,.0f} rows/s, peak RSS {hwm:.0f} MB")
        print(f"median: {statistics.median(rates):,.0f} rows/s; peak RSS median {statistics.median(rss):.0f} MB")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
