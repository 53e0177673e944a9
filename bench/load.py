#!/usr/bin/env python3
"""The service under load: many files appended at once, CPU used and denial latency.

Usage: python3 bench/load.py [--binary target/release/whydenied] [--files 100] [--rate 5000]
                             [--seconds 30]

Starts `whydenied watch` with the default configuration on a temporary directory, then appends
CloudTrail records (one JSON line each, about 1 KB, 0.5% of them denials with their own eventID)
round-robin to `--files` files at a combined `--rate` events per second for `--seconds`. A second
thread polls the database (a WAL reader, as `report` is) for the denials' evidence rows. Prints
the service's CPU time over the run as a fraction of one core (from /proc, user + system) and as a
ratio to this script's own CPU for writing the same lines (the baseline of the same run), the
events/s actually written, and the latency from append to stored finding (p50/p99/max), with
both ratios to their targets (1 core, 1 s). Needs only the Python standard library and Linux.
"""
import argparse, json, os, sqlite3, subprocess, sys, tempfile, threading, time

ALLOWED = {"eventVersion": "1.09", "eventTime": "2026-11-20T10:00:00Z", "eventSource": "dynamodb.amazonaws.com",
           "eventName": "GetItem", "awsRegion": "eu-west-1", "sourceIPAddress": "10.0.3.17",
           "userAgent": "aws-sdk-js/3.511.0 ua/2.0 os/linux lang/js md/nodejs#20.11 exec-env/AWS_Lambda_nodejs20.x",
           "requestParameters": {"tableName": "Orders", "key": {"pk": {"S": "ORDER#12345"}}, "consistentRead": False},
           "responseElements": None, "requestID": "REQ", "eventID": "ID", "readOnly": True,
           "resources": [{"accountId": "111122223333", "type": "AWS::DynamoDB::Table",
                          "ARN": "arn:aws:dynamodb:eu-west-1:111122223333:table/Orders"}],
           "eventType": "AwsApiCall", "managementEvent": False, "recipientAccountId": "111122223333",
           "eventCategory": "Data",
           "tlsDetails": {"tlsVersion": "TLSv1.3", "cipherSuite": "TLS_AES_128_GCM_SHA256",
                          "clientProvidedHostHeader": "dynamodb.eu-west-1.amazonaws.com"},
           "userIdentity": {"type": "AssumedRole", "principalId": "AROAEXAMPLE:orders-api",
                            "arn": "arn:aws:sts::111122223333:assumed-role/orders-api-role/orders-api",
                            "accountId": "111122223333",
                            "sessionContext": {"sessionIssuer": {"type": "Role", "principalId": "AROAEXAMPLE",
                                                                 "arn": "arn:aws:iam::111122223333:role/orders-api-role",
                                                                 "accountId": "111122223333", "userName": "orders-api-role"},
                                               "attributes": {"creationDate": "2026-11-20T09:55:00Z", "mfaAuthenticated": "false"}}}}
DENIED = dict(ALLOWED, eventName="PutItem", readOnly=False, errorCode="AccessDenied",
              errorMessage="User: arn:aws:sts::111122223333:assumed-role/orders-api-role/orders-api is not authorized to perform: dynamodb:PutItem on resource: arn:aws:dynamodb:eu-west-1:111122223333:table/Orders because no identity-based policy allows the dynamodb:PutItem action")


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", default="target/release/whydenied")
    ap.add_argument("--files", type=int, default=100)
    ap.add_argument("--rate", type=int, default=5000)
    ap.add_argument("--seconds", type=float, default=30)
    a = ap.parse_args()
    allowed = json.dumps(ALLOWED)
    denied = json.dumps(DENIED)
    with tempfile.TemporaryDirectory() as d:
        logs = os.path.join(d, "logs")
        os.mkdir(logs)
        db = os.path.join(d, "w.db")
        cfg = os.path.join(d, "w.toml")
        with open(cfg, "w") as f:
            f.write(f'database = "{db}"\n[[source]]\npath = "{logs}/**/*"\n')
        svc = subprocess.Popen([a.binary, "watch", "--config", cfg], stderr=subprocess.DEVNULL)
        sent, seen = {}, {}
        done = threading.Event()

        def poll():
            con = sqlite3.connect(db, timeout=5)
            while not done.is_set() or len(seen) < len(sent):
                now = time.monotonic()
                for (eid,) in con.execute("SELECT event_id FROM evidence WHERE event_id LIKE 'load-%'"):
                    seen.setdefault(eid, now)
                if done.is_set() and now - last_sent[0] > 10:
                    break
                time.sleep(0.01)

        last_sent = [time.monotonic()]
        try:
            deadline = time.time() + 10
            while not os.path.exists(db) and time.time() < deadline:
                time.sleep(0.05)
            time.sleep(0.5)
            files = [open(os.path.join(logs, f"fn-{i:03}.jsonl"), "a") for i in range(a.files)]
            poller = threading.Thread(target=poll)
            poller.start()
            cpu0, t0, me0 = cpu_seconds(svc.pid), time.monotonic(), os.times()
            n, tick = 0, 0.01
            per_tick = a.rate * tick
            while time.monotonic() - t0 < a.seconds:
                target = int((time.monotonic() - t0) / tick + 1) * per_tick
                while n < target:
                    f = files[n % a.files]
                    if n % 200 == 0:
                        eid = f"load-{n}"
                        f.write(denied.replace('"eventID": "ID"', f'"eventID": "{eid}"') + "\n")
                        f.flush()
                        sent[eid] = time.monotonic()
                        last_sent[0] = sent[eid]
                    else:
                        f.write(allowed.replace('"eventID": "ID"', f'"eventID": "e-{n}"') + "\n")
                    n += 1
                for f in files:
                    f.flush()
                time.sleep(max(0.0, t0 + (n / a.rate) - time.monotonic()))
            wall = time.monotonic() - t0
            for f in files:
                f.close()
            done.set()
            poller.join()
            # The service's CPU over the writing period and the drain after it.
            cpu = cpu_seconds(svc.pid) - cpu0
            total = time.monotonic() - t0
            me1 = os.times()
            writer = (me1.user - me0.user) + (me1.system - me0.system)
        finally:
            done.set()
            svc.terminate()
            svc.wait(timeout=10)
    lat = sorted(seen[e] - sent[e] for e in sent if e in seen)
    missing = len(sent) - len(lat)
    q = lambda p: lat[min(len(lat) - 1, int(p * len(lat)))] if lat else float("nan")
    print(f"cores: {os.cpu_count()}  files: {a.files}  events written: {n} in {wall:.1f} s = {n / wall:.0f}/s")
    print(f"service CPU: {cpu:.2f} s over {total:.1f} s = {cpu / total:.2f} of one core (target < 1)")
    print(f"baseline, this script writing the lines (and polling): {writer:.2f} s CPU; service / writer = {cpu / writer:.2f}")
    print(f"denials: {len(sent)} written, {len(lat)} stored, {missing} missing")
    print(f"latency p50 {q(0.5)*1000:.0f} ms  p99 {q(0.99)*1000:.0f} ms  max {(lat[-1] if lat else 0)*1000:.0f} ms"
          f"  p99 / 1 s target = {q(0.99):.2f}")
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
