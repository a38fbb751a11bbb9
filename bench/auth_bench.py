#!/usr/bin/env python3
"""What authentication adds to a read: GET /v1/contacts/{id} against two builds.

  ninja -C build outflow http_load
  bench/auth_bench.py --with build/outflow --without /path/to/pre-auth/outflow \
                      [--rate 10000] [--seconds 8] [--runs 3] [--contacts 20000]

Issue 11's benchmark: authentication may add at most 5% to the cost of a
`GET /v1/contacts/{id}` at 10,000 requests/s with keep-alive. Each build is started on
its own fresh data directory with the same contacts; the load is bench/http_load
(open loop, GETs of random contact ids over 64 keep-alive connections). The build
with authentication is called with the admin key `serve` keeps in
<data-dir>/cli.key (so every request pays the key check); the build before it takes
none. Runs alternate between the builds. Reported per run: requests answered 200 per
second, p50 / p99 latency from each request's due time, and the daemon's CPU time
per request (from /proc, the fairer figure on a shared machine); then medians and
the ratio of CPU per request.
"""
import argparse
import http.client
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "e2e"))
from harness import Daemon  # noqa: E402

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
HTTP_LOAD = os.environ.get("OUTFLOW_HTTP_LOAD", os.path.join(REPO, "build", "bench", "http_load"))
os.environ.setdefault("OUTFLOW_SECRET_KEY", "5f" * 32)


def start_daemon(binary, tmp, name):
    """The build with authentication gets the key of <data-dir>/cli.key; the one before it has none."""
    d = Daemon(os.path.join(tmp, name), binary=binary,
               key_rate=1000000 if name == "with" else None).start()
    d.headers = {"Authorization": f"Bearer {d.key}"} if os.path.exists(os.path.join(d.data_dir, "cli.key")) else {}
    return d


def call(d, method, path, body=None):
    c = http.client.HTTPConnection("127.0.0.1", d.port, timeout=30)
    c.request(method, path, body=json.dumps(body) if body is not None else None,
              headers={"Content-Type": "application/json", **d.headers})
    r = c.getresponse()
    return r.status, json.loads(r.read() or b"null")


def cpu_seconds(d):
    with open(f"/proc/{d.proc.pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def load(d, a, paths_file):
    cmd = [HTTP_LOAD, "--host", "127.0.0.1", "--port", str(d.port), "--rate", str(a.rate), "--seconds",
           str(a.seconds), "--connections", "64", "--paths-file", paths_file]
    for k, v in d.headers.items():
        cmd += ["--header", f"{k}: {v}"]
    cpu0 = cpu_seconds(d)
    r = subprocess.run(cmd, stdout=subprocess.PIPE, timeout=a.seconds + 90)
    cpu = cpu_seconds(d) - cpu0
    out = json.loads(r.stdout)
    ok = out["status"].get("200", 0)
    return {"ok_per_s": out["accepted_per_s"], "p50": out["p50_ms"], "p99": out["p99_ms"],
            "cpu_us": cpu / max(ok, 1) * 1e6, "ok_share": ok / max(out["scheduled"], 1)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--with", dest="with_auth", required=True, help="outflow binary with authentication")
    ap.add_argument("--without", required=True, help="outflow binary from before authentication")
    ap.add_argument("--rate", type=float, default=10000)
    ap.add_argument("--seconds", type=float, default=8)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--contacts", type=int, default=20000)
    a = ap.parse_args()
    if not os.access(HTTP_LOAD, os.X_OK):
        raise SystemExit(f"no load generator at {HTTP_LOAD}: ninja -C build http_load")
    print(f"machine: {os.cpu_count()} cores; load average {os.getloadavg()}")
    tmp = tempfile.mkdtemp(prefix="outflow-authbench-")
    daemons = {}
    try:
        paths = {}
        for name, binary in (("with", a.with_auth), ("without", a.without)):
            d = daemons[name] = start_daemon(binary, tmp, name)
            ids = []
            for start in range(0, a.contacts, 5000):
                batch = [{"email": f"g{i}@example.com", "first_name": f"G{i}"}
                         for i in range(start, min(a.contacts, start + 5000))]
                status, r = call(d, "POST", "/v1/contacts/upsert", {"contacts": batch})
                assert status == 200, r
                ids += [x["id"] for x in r["results"]]
            rng = random.Random(7)
            paths[name] = os.path.join(tmp, f"paths-{name}.txt")
            with open(paths[name], "w") as f:
                for _ in range(int(a.rate * a.seconds)):
                    f.write(f"/v1/contacts/{rng.choice(ids)}\n")
        rows = {"with": [], "without": []}
        for k in range(a.runs):
            for name in ("without", "with"):
                r = load(daemons[name], a, paths[name])
                rows[name].append(r)
                print(f"run {k + 1} {name:7} auth: {r['ok_per_s']:,.0f} ok/s, p50 {r['p50']:.2f} ms, p99 {r['p99']:.2f} ms, "
                      f"daemon CPU {r['cpu_us']:.1f} us/request, 200 for {r['ok_share']:.2%}")
        med = {n: {k: statistics.median(r[k] for r in rows[n]) for k in rows[n][0]} for n in rows}
        for n in ("without", "with"):
            print(f"median {n:7} auth: {med[n]['ok_per_s']:,.0f} ok/s, p99 {med[n]['p99']:.2f} ms, "
                  f"{med[n]['cpu_us']:.1f} us CPU/request")
        print(f"authentication adds {med['with']['cpu_us'] / med['without']['cpu_us'] - 1:+.1%} CPU per request "
              f"(target <= +5%)")
    finally:
        for d in daemons.values():
            d.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
