"""Adds the common AWS managed policies a Lambda user meets to rules/managed_policies.json.

Usage (from the project root):
    python3 rules/gen_managed.py <dir with the AWS managed policy documents>

The directory holds `aws iam get-policy-version` outputs named <PolicyName>.json and
`list-policies.mamip.json.gz` (an `aws iam list-policies` output that maps names to ARNs).
The Lambda execution-role policies already in managed_policies.json are kept as they are;
the policies added here are marked "suggest": false: they are broad (read or full access to a
service) and never named as a fix, but diagnosis must know what they grant when a role has them.
"""
import gzip
import json
import sys
from pathlib import Path

EXTRA = {
    "AWSLambda_FullAccess": "full access to Lambda and the services its console uses",
    "AWSLambda_ReadOnlyAccess": "read-only access to Lambda",
    "AWSLambdaExecute": "logs and S3 object read/write (legacy)",
    "AWSLambdaInvocation-DynamoDB": "invoking functions from DynamoDB streams",
    "AmazonDynamoDBReadOnlyAccess": "read-only access to DynamoDB",
    "AmazonKinesisReadOnlyAccess": "read-only access to Kinesis",
    "AmazonS3ReadOnlyAccess": "read-only access to S3",
    "AmazonSQSFullAccess": "full access to SQS",
    "AmazonSSMReadOnlyAccess": "read-only access to Systems Manager",
    "SecretsManagerReadWrite": "read/write access to Secrets Manager",
    "CloudWatchLambdaApplicationSignalsExecutionRolePolicy": "CloudWatch Application Signals",
}


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    src = Path(sys.argv[1])
    out = Path(__file__).resolve().parent / "managed_policies.json"
    data = json.loads(out.read_text())
    with gzip.open(src / "list-policies.mamip.json.gz", "rt") as f:
        listing = json.load(f)
    arns = {p["PolicyName"]: p["Arn"] for p in listing.get("Policies", [])}
    have = {p["name"] for p in data["policies"]}
    for name, feature in sorted(EXTRA.items()):
        if name in have:
            continue
        pv = json.loads((src / f"{name}.json").read_text())["PolicyVersion"]
        data["policies"].append({
            "name": name,
            "arn": arns[name],
            "version": pv["VersionId"],
            "feature": feature,
            "suggest": False,
            "document": pv["Document"],
        })
    out.write_text(json.dumps(data, indent=1) + "\n")
    print(f"{out}: {len(data['policies'])} policies")


if __name__ == "__main__":
    main()
