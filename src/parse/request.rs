//! A CloudTrail record's `requestParameters`: the resource, function, role, mapping source,
//! destinations and condition-key values a diagnosis reads, taken from whichever fields each
//! API names them in. Nothing is required: an unknown API gives an empty request.

use serde_json::value::RawValue;

use super::Request;
use crate::policy::arn;

/// Condition keys whose value CloudTrail records among the request parameters, as the service
/// authorization reference defines them: (condition key, `requestParameters` field).
const REQUEST_KEYS: [(&str, &str); 8] = [
    ("ec2:InstanceType", "instanceType"),
    ("s3:prefix", "prefix"),
    ("s3:delimiter", "delimiter"),
    ("s3:max-keys", "max-keys"),
    ("s3:x-amz-acl", "x-amz-acl"),
    ("lambda:FunctionArn", "functionArn"),
    ("lambda:Principal", "principal"),
    ("iam:PassedToService", "passedToService"),
];

/// The request parameters we use, read from the raw JSON without requiring any of them.
pub(super) fn request(raw: &RawValue, region: Option<&str>, account: Option<&str>) -> Request {
    let v: serde_json::Value = match serde_json::from_str(raw.get()) {
        Ok(v) => v,
        Err(_) => return Request::default(),
    };
    let s = |k: &str| v.get(k).and_then(|x| x.as_str()).map(str::to_string);
    let mut r = Request::default();
    if let Some(f) = s("functionName").or_else(|| s("FunctionName")) {
        r.function_name = arn::function_name(&f);
        if f.starts_with("arn:") {
            r.function_arn = Some(f);
        }
    }
    r.event_source_arn = s("eventSourceArn").or_else(|| s("EventSourceArn"));
    r.role = s("role").or_else(|| s("Role"));
    r.bucket = s("bucketName");
    r.key = s("key");
    r.kms_key = s("kMSKeyArn")
        .or_else(|| s("kmsKeyArn"))
        .or_else(|| s("keyId"));
    r.target_group = s("targetGroupArn");
    r.api_id = s("restApiId");
    r.target_arn = v
        .get("deadLetterConfig")
        .and_then(|d| d.get("targetArn"))
        .and_then(|x| x.as_str())
        .map(str::to_string)
        .or_else(|| destination(&v));
    // Service condition keys a request carries as parameters.
    for (key, param) in REQUEST_KEYS {
        let text = match v.get(param) {
            Some(serde_json::Value::String(t)) => Some(t.clone()),
            Some(serde_json::Value::Number(n)) => Some(n.to_string()),
            Some(serde_json::Value::Bool(b)) => Some(b.to_string()),
            _ => None,
        };
        if let Some(t) = text {
            r.context.push((key.to_string(), t));
        }
    }
    if let Some(cfg) = v.get("NotificationConfiguration") {
        collect_notification_targets(cfg, &mut r);
    }
    if r.resource_arn.is_none() {
        r.resource_arn = match (&r.bucket, &r.key) {
            (Some(b), Some(k)) => Some(format!("arn:aws:s3:::{b}/{k}")),
            (Some(b), None) => Some(format!("arn:aws:s3:::{b}")),
            _ => None,
        };
    }
    if r.resource_arn.is_none() {
        r.resource_arn = r
            .function_arn
            .clone()
            .or_else(|| s("topicArn"))
            .or_else(|| s("roleArn"))
            .or_else(|| s("secretId").filter(|x| x.starts_with("arn:")))
            .or_else(|| s("resourceArn"));
    }
    if r.resource_arn.is_none()
        && let (Some(region), Some(account)) = (region, account)
    {
        if let Some(name) = &r.function_name {
            if s("functionName").is_some() {
                r.resource_arn = Some(format!("arn:aws:lambda:{region}:{account}:function:{name}"));
            }
        } else if let Some(t) = s("tableName") {
            r.resource_arn = Some(format!("arn:aws:dynamodb:{region}:{account}:table/{t}"));
        } else if let Some(db) = s("dBInstanceIdentifier") {
            r.resource_arn = Some(format!("arn:aws:rds:{region}:{account}:db:{db}"));
        } else if let Some(c) = s("dBClusterIdentifier") {
            r.resource_arn = Some(format!("arn:aws:rds:{region}:{account}:cluster:{c}"));
        } else if let Some(name) = s("secretId") {
            // A secret named without its ARN: its ARN ends in six random characters.
            r.resource_arn = Some(format!(
                "arn:aws:secretsmanager:{region}:{account}:secret:{name}-??????"
            ));
        } else if let Some(g) = s("groupId").filter(|g| g.starts_with("sg-")) {
            r.resource_arn = Some(format!("arn:aws:ec2:{region}:{account}:security-group/{g}"));
        } else if let Some(lg) = s("logGroupName") {
            r.resource_arn = Some(format!("arn:aws:logs:{region}:{account}:log-group:{lg}"));
        } else if let Some(st) = s("streamName") {
            r.resource_arn = Some(format!("arn:aws:kinesis:{region}:{account}:stream/{st}"));
        } else if let Some(repo) = s("repositoryName") {
            r.resource_arn = Some(format!("arn:aws:ecr:{region}:{account}:repository/{repo}"));
        } else if let Some(n) =
            s("name").filter(|_| v.get("withDecryption").is_some() || v.get("type").is_some())
        {
            // SSM GetParameter / PutParameter name a parameter.
            let n = n.trim_start_matches('/');
            r.resource_arn = Some(format!("arn:aws:ssm:{region}:{account}:parameter/{n}"));
        } else if let Some(q) = s("queueUrl").and_then(|u| u.rsplit('/').next().map(str::to_string))
        {
            r.resource_arn = Some(format!("arn:aws:sqs:{region}:{account}:{q}"));
        }
    }
    r.params = v;
    r
}

/// The on-failure (else on-success) destination of an event source mapping or of an
/// asynchronous invocation configuration (`destinationConfig.onFailure.destination`).
fn destination(v: &serde_json::Value) -> Option<String> {
    let cfg = v
        .get("destinationConfig")
        .or_else(|| v.get("DestinationConfig"))?;
    ["onFailure", "OnFailure", "onSuccess", "OnSuccess"]
        .iter()
        .find_map(|k| cfg.get(*k))
        .and_then(|d| d.get("destination").or_else(|| d.get("Destination")))
        .and_then(|x| x.as_str())
        .map(str::to_string)
}

/// S3 notification configurations name their targets under several spellings
/// (`CloudFunctionConfiguration.CloudFunction`, `LambdaFunctionConfiguration.LambdaFunctionArn`,
/// `QueueConfiguration.Queue`), each either an object or a list.
fn collect_notification_targets(v: &serde_json::Value, r: &mut Request) {
    match v {
        serde_json::Value::Object(map) => {
            for (k, val) in map {
                if let Some(s) = val.as_str() {
                    if k == "CloudFunction" || k == "LambdaFunctionArn" || k == "Function" {
                        r.lambda_targets.push(s.to_string());
                    } else if k == "Queue" || k == "QueueArn" {
                        r.queue_targets.push(s.to_string());
                    }
                } else {
                    collect_notification_targets(val, r);
                }
            }
        }
        serde_json::Value::Array(items) => {
            for i in items {
                collect_notification_targets(i, r);
            }
        }
        _ => {}
    }
}
