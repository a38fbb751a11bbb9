#!/usr/bin/env python3
"""Pace of a paced release plan with the real daemon (stdlib only).

  bench/release_bench.py [--per 10000] [--every 60] [--minutes 10]

Stages per * (minutes + 1) contacts with a CSV import, creates a plan releasing
`per` every `every` seconds, and samples the live count each second for
`minutes`. Reports, for every slot, when it ran relative to its schedule, and
the pace error: released after N whole intervals versus N * per.
"""
import argparse
import http.client
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "e2e"))
from harness import OUTFLOW, free_port, read_cli_key  # noqa: E402

# The daemons started here seal no credentials, but serve needs a key (docs/secrets.md).
os.environ.setdefault("OUTFLOW_SECRET_KEY", "5f" * 32)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--per", type=int, default=10_000)
    ap.add_argument("--every", type=int, default=60)
    ap.add_argument("--minutes", type=float, default=10)
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="outflow-rbench-")
    port = free_port()
    p = subprocess.Popen([OUTFLOW, "--log-level", "warn", "serve", "--addr", f"127.0.0.1:{port}",
                          "--data-dir", os.path.join(tmp, "data")], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(0.5)
        # The CLI finds <data-dir>/cli.key through OUTFLOW_DATA_DIR, as an operator's would.
        env = dict(os.environ, OUTFLOW_SERVER=f"http://127.0.0.1:{port}", OUTFLOW_DATA_DIR=os.path.join(tmp, "data"))
        auth = {"Authorization": f"Bearer {read_cli_key(os.path.join(tmp, 'data'))}"}
        duration = a.minutes * 60
        n = a.per * (int(duration // a.every) + 2)
        csv_path = os.path.join(tmp, "staged.csv")
        with open(csv_path, "w") as f:
            f.write("email\n" + "".join(f"u{i}@x.io\n" for i in range(n)))
        subprocess.run([OUTFLOW, "import", csv_path, "--staging"], env=env, check=True, capture_output=True)
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        c.request("POST", "/v1/releases", body=json.dumps({"name": "pace", "per_slot": a.per, "interval_seconds": a.every}),
                  headers=auth)
        plan = json.loads(c.getresponse().read())
        start = time.time()
        while time.time() - start < duration:
            time.sleep(1)
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)  # the first one idled past the server's timeout
        c.request("GET", f"/v1/releases/{plan['id']}/log?limit=10000", headers=auth)
        log = sorted(json.loads(c.getresponse().read())["log"], key=lambda e: e["at"])
        from datetime import datetime
        t0 = datetime.fromisoformat(plan["started_at"].replace("Z", "+00:00")).timestamp()
        lateness = []
        for k, e in enumerate(log):
            at = datetime.fromisoformat(e["at"].replace("Z", "+00:00")).timestamp()
            lateness.append((at - (t0 + k * a.every)) * 1000)
        slots = int(duration // a.every)
        released = sum(e["released"] for e in log[:slots])
        expected = slots * a.per
        print(f"machine: {os.cpu_count()} cores; plan {a.per} every {a.every} s for {a.minutes} min")
        print(f"slots run: {len(log)}; released in the first {slots} slots: {released} of {expected} "
              f"(pace error {abs(released - expected) / expected * 100:.3f}%)")
        print(f"slot start after its schedule: median {sorted(lateness)[len(lateness)//2]:.1f} ms, "
              f"max {max(lateness):.1f} ms; every slot released {sorted(set(e['released'] for e in log[:slots]))}")
    finally:
        p.terminate()
        p.wait(60)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
