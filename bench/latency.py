#!/usr/bin/env python3
"""Latency of the service: from a denial appended to a watched file to its stored finding.

Usage: python3 bench/latency.py [--binary target/release/whydenied] [--count 200]

Starts `whydenied watch` with the default rescan interval on a temporary directory, appends one
CloudTrail denial at a time (each with its own eventID) at random intervals, and polls the
database (a WAL reader, as `report` is) until the evidence row appears. Prints p50/p90/p99/max
and the ratio of p99 to the 1 s target. Needs only the Python standard library.
"""
import argparse, json, os, random, sqlite3, statistics, subprocess, sys, tempfile, time

DENIED = {"eventVersion": "1.09", "eventTime": "2026-11-20T10:00:00Z", "eventSource": "dynamodb.amazonaws.com",
          "eventName": "PutItem", "awsRegion": "eu-west-1", "errorCode": "AccessDenied",
          "errorMessage": "User: arn:aws:sts::111122223333:assumed-role/app-role/app-fn is not authorized to perform: dynamodb:PutItem on resource: arn:aws:dynamodb:eu-west-1:111122223333:table/T because no identity-based policy allows the dynamodb:PutItem action",
          "recipientAccountId": "111122223333",
          "userIdentity": {"type": "AssumedRole", "arn": "arn:aws:sts::111122223333:assumed-role/app-role/app-fn", "accountId": "111122223333"}}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", default="target/release/whydenied")
    ap.add_argument("--count", type=int, default=200)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        logs = os.path.join(d, "logs")
        os.mkdir(logs)
        db = os.path.join(d, "w.db")
        cfg = os.path.join(d, "w.toml")
        with open(cfg, "w") as f:
            f.write(f'database = "{db}"\n[[source]]\npath = "{logs}/**/*"\n')
        svc = subprocess.Popen([a.binary, "watch", "--config", cfg], stderr=subprocess.DEVNULL)
        try:
            deadline = time.time() + 10
            while not os.path.exists(db) and time.time() < deadline:
                time.sleep(0.05)
            time.sleep(0.5)
            con = sqlite3.connect(db, timeout=5)
            lat = []
            rnd = random.Random(7)
            with open(os.path.join(logs, "trail.jsonl"), "a") as f:
                for i in range(a.count):
                    rec = dict(DENIED, eventID=f"lat-{i}")
                    t0 = time.monotonic()
                    f.write(json.dumps(rec) + "\n")
                    f.flush()
                    while True:
                        row = con.execute("SELECT 1 FROM evidence WHERE event_id = ?", (f"lat-{i}",)).fetchone()
                        if row:
                            lat.append(time.monotonic() - t0)
                            break
                        if time.monotonic() - t0 > 10:
                            print(f"lat-{i}: not stored within 10 s", file=sys.stderr)
                            lat.append(10.0)
                            break
                        time.sleep(0.005)
                    time.sleep(rnd.uniform(0.0, 0.3))
        finally:
            svc.terminate()
            svc.wait(timeout=10)
    lat.sort()
    q = lambda p: lat[min(len(lat) - 1, int(p * len(lat)))]
    print(f"cores: {os.cpu_count()}  denials: {len(lat)}")
    print(f"latency p50 {q(0.5)*1000:.0f} ms  p90 {q(0.9)*1000:.0f} ms  p99 {q(0.99)*1000:.0f} ms  max {lat[-1]*1000:.0f} ms")
    print(f"p99 / 1 s target = {q(0.99):.2f}")


if __name__ == "__main__":
    main()
