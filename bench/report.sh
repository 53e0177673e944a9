#!/usr/bin/env bash
# Peak memory of every `report` view over a large store, against the streaming JSON view and
# the binary doing nothing, measured in the same run.
#
#   bash bench/report.sh [FINDINGS]      (default 100000)
#
# Writes FINDINGS distinct denials (500 functions, one table each) as CloudTrail JSON lines,
# replays them into a fresh database, then runs `report` as a table, Markdown, JSON and JSON
# lines and prints wall seconds, peak RSS and the RSS ratio to `report --format json`, then replays
# the same events into fresh databases with each view as the output. The
# target: every view within 64 MiB.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-100000}
cargo build --release --quiet --bin whydenied
BIN=$PWD/target/release/whydenied
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
python3 - "$N" "$tmp/events.jsonl" <<'PY'
import json, sys
n, out = int(sys.argv[1]), sys.argv[2]
with open(out, "w") as f:
    for i in range(n):
        fn = f"fn-{i % 500}"
        role = f"{fn}-role"
        table = f"arn:aws:dynamodb:eu-west-1:111122223333:table/t-{i}"
        msg = (f"User: arn:aws:sts::111122223333:assumed-role/{role}/{fn} is not authorized to perform: "
               f"dynamodb:PutItem on resource: {table} because no identity-based policy allows the dynamodb:PutItem action")
        f.write(json.dumps({"eventVersion": "1.09", "eventTime": f"2026-11-20T{10 + i % 10:02d}:{i % 60:02d}:00Z",
            "eventSource": "dynamodb.amazonaws.com", "eventName": "PutItem", "awsRegion": "eu-west-1",
            "errorCode": "AccessDenied", "errorMessage": msg, "eventID": f"ev-{i}",
            "recipientAccountId": "111122223333",
            "userIdentity": {"type": "AssumedRole", "arn": f"arn:aws:sts::111122223333:assumed-role/{role}/{fn}",
                             "accountId": "111122223333"}}) + "\n")
PY
"$BIN" --db "$tmp/w.db" replay --format json "$tmp/events.jsonl" >/dev/null 2>"$tmp/replay.err" || true
tail -1 "$tmp/replay.err"
run() {
  /usr/bin/time -f "%e %M" -o "$tmp/t" "$@" >/dev/null 2>&1 || true
  cat "$tmp/t"
}
read -r t0 m0 < <(run "$BIN" --version)
read -r tj mj < <(run "$BIN" --db "$tmp/w.db" report --format json)
printf '%-28s %8s %9s %12s\n' "view" "seconds" "RSS MiB" "x json RSS"
row() { python3 -c "import sys; n,t,m,b=sys.argv[1],float(sys.argv[2]),int(sys.argv[3]),int(sys.argv[4]); print(f'{n:<28} {t:8.2f} {m/1024:9.1f} {m/b:12.2f}')" "$@"; }
row "(0) --version" "$t0" "$m0" "$mj"
row "(j) report --format json" "$tj" "$mj" "$mj"
for f in jsonl table markdown; do
  read -r t m < <(run "$BIN" --db "$tmp/w.db" report --format "$f")
  row "report --format $f" "$t" "$m" "$mj"
done
# A replay prints what it touched in the same views: the same findings, read back the same way
# after the replay's own work (each into a fresh database).
for f in json table markdown; do
  rm -f "$tmp"/r.db*
  read -r t m < <(run "$BIN" --db "$tmp/r.db" replay --format "$f" "$tmp/events.jsonl")
  row "replay --format $f" "$t" "$m" "$mj"
done
