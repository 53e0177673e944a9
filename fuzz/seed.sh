#!/usr/bin/env bash
# Seeds each fuzz target's corpus from samples/ and, when present, ../shared/corpus.
set -euo pipefail
cd "$(dirname "$0")"
for t in message ingest policy condition gzip_json; do mkdir -p "corpus/$t"; done
# Messages: every message of the real corpus and of the golden tests.
if [ -f ../../shared/corpus/lambda-logs/github-issues/messages.jsonl ]; then
  python3 - <<'PY'
import json, hashlib
for line in open('../../shared/corpus/lambda-logs/github-issues/messages.jsonl'):
    m = json.loads(line)['message'].encode()
    open('corpus/message/' + hashlib.sha1(m).hexdigest(), 'wb').write(m)
PY
fi
# Whole files for the ingest paths.
for f in ../samples/cloudtrail/* ../samples/lambda-logs/* $(find ../samples/cloudwatch -type f); do
  cp "$f" "corpus/ingest/$(basename "$f" | tr -c 'A-Za-z0-9._-' _)"
done
find ../../shared/corpus/cloudtrail ../../shared/corpus/lambda-logs -type f -size -200k 2>/dev/null \
  | while read -r f; do cp "$f" "corpus/ingest/$(echo "$f" | md5sum | cut -c1-16)"; done
cp corpus/ingest/* corpus/gzip_json/ 2>/dev/null || true
# Policies and CLI outputs.
for f in ../samples/policies/*.json $(find ../../shared/corpus/iam ../../shared/corpus/managed-policies -name '*.json' -size -300k 2>/dev/null); do
  cp "$f" "corpus/policy/$(echo "$f" | md5sum | cut -c1-16)"
done
# Conditions: the evaluator corpus's cases as {context, condition, policy} documents.
python3 - <<'PY'
import json, glob, hashlib
for path in glob.glob('../tests/eval_cases/*.json'):
    for c in json.load(open(path))['cases']:
        ids = c['policies'].get('identity') or []
        doc = {"context": c.get('context', {}), "action": c['action'], "resource": c['resource']}
        if ids:
            doc["policy"] = ids[0]['document']
            st = ids[0]['document'].get('Statement', [])
            st = st if isinstance(st, list) else [st]
            for s in st:
                if 'Condition' in s:
                    doc["condition"] = s['Condition']
        b = json.dumps(doc).encode()
        open('corpus/condition/' + hashlib.sha1(b).hexdigest(), 'wb').write(b)
PY
ls corpus/*/ | head -0
for t in message ingest policy condition gzip_json; do echo "$t: $(ls corpus/$t | wc -l) seeds"; done
