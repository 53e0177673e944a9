"""Lints policy documents with Parliament (https://github.com/duo-labs/parliament).

Reads a JSON array of {"id": ..., "document": <policy document>} from the file named on the
command line and prints a JSON array of {"id", "issue", "detail"} for every finding. Used by
the test suite to check every policy document whydenied suggests.
"""

import json
import sys

from parliament import analyze_policy_string


def main():
    with open(sys.argv[1], encoding="utf-8") as f:
        docs = json.load(f)
    out = []
    for d in docs:
        policy = analyze_policy_string(json.dumps(d["document"]), include_community_auditors=False)
        for finding in policy.findings:
            out.append({"id": d["id"], "issue": finding.issue, "detail": finding.detail})
    json.dump(out, sys.stdout, default=str)


if __name__ == "__main__":
    main()
