//! Failures the integration catalog (`rules/integrations.json`) knows: whose permission AWS
//! checked, everything that party needs, the function and source involved, and who must fix
//! it, read from the catalog's templates rather than written here case by case.

use serde_json::Value;

use super::{Cause, Kind, Target};
use crate::evaluate::gather::PolicySource;
use crate::parse::Denial;
use crate::policy::arn::{self, Arn};
use crate::policy::snapshot::FunctionRow;
use crate::rules::{Integration, Party};

/// Actions one party needs on one resource, and the condition the statement carries.
#[derive(Debug, Clone, PartialEq)]
pub struct Grant {
    /// The actions, as the catalog lists them.
    pub actions: Vec<String>,
    /// None when the log and the store do not say.
    pub resource: Option<String>,
    /// A condition block the statement carries (`aws:SourceArn`...), placeholders expanded; None
    /// when the catalog gives none, or gives it only for another event source.
    pub condition: Option<Value>,
}

/// What the catalog makes of one denial.
#[derive(Debug, Clone)]
pub(super) struct Resolved {
    pub kind: Kind,
    pub cause: Cause,
    pub principal: Option<String>,
    pub function: Option<String>,
    pub resource: Option<String>,
    pub service_principal: Option<String>,
    pub source_arn: Option<String>,
    pub source_account: Option<String>,
    pub grants: Vec<Grant>,
    pub fix_target: Target,
    pub fix_account: Option<String>,
    pub note: Option<String>,
    /// The table or secret a KMS failure is about (the catalog's `subject`).
    pub subject: Option<String>,
}

/// The values templates may name, for one denial.
struct Fields<'a> {
    /// The denial the templates read: its request parameters, message captures, region, account.
    d: &'a Denial,
    /// The imported configuration of the function the failure is about, once it is known.
    config: Option<FunctionRow>,
    /// The store, for what only an import says (a user pool's triggers).
    src: Option<&'a dyn PolicySource>,
    /// The catalog's `subject`, expanded: the table or secret whose key a failure is about.
    subject: Option<String>,
}

impl Fields<'_> {
    /// The value of one template field (see the catalog's `_about`): `request.<path>` (request
    /// parameters), `message.<group>` (a capture of the matching text), or a named fact of the
    /// record, the store or the function's configuration. None when neither log nor store says.
    fn field(&self, name: &str) -> Option<String> {
        let d = self.d;
        if let Some(path) = name.strip_prefix("request.") {
            let mut v = &d.request.params;
            for part in path.split('.') {
                // A list on the way (SourceAccessConfigurations) is read at the first element
                // whose field is an ARN (the secret, not the subnet or the virtual host), else
                // at the first that has the field.
                if let Value::Array(a) = v {
                    let has = |e: &&Value| e.get(part).is_some();
                    let is_arn = |e: &&Value| {
                        e.get(part)
                            .and_then(Value::as_str)
                            .is_some_and(|s| s.starts_with("arn:"))
                    };
                    v = a.iter().find(is_arn).or_else(|| a.iter().find(has))?;
                }
                v = v.get(part)?;
            }
            return match v {
                Value::String(s) if !s.is_empty() => Some(s.clone()),
                Value::Array(a) => a.first().and_then(Value::as_str).map(str::to_string),
                _ => None,
            };
        }
        if let Some(group) = name.strip_prefix("message.") {
            if let Some((_, v)) = d.message.captures.iter().find(|(k, _)| k == group) {
                return Some(v.clone());
            }
            return match group {
                "resource" => d.resource.clone().or_else(|| d.message.resource.clone()),
                _ => None,
            };
        }
        match name {
            "region" => d.region.clone(),
            "account" => d.account.clone(),
            "caller.account" => d
                .caller
                .as_deref()
                .and_then(arn::Principal::parse)
                .map(|p| p.account.to_string()),
            "vpc_endpoint" => d.request.vpc_endpoint.clone(),
            // The function a Cognito trigger invokes: named by the older wording, else the
            // user pool's LambdaConfig for the trigger the message names.
            "cognito.trigger_function" => self.field("message.function").or_else(|| {
                let pool = d.request.params.get("userPoolId")?.as_str()?;
                let trigger = d
                    .message
                    .captures
                    .iter()
                    .find(|(k, _)| k == "trigger")
                    .map(|(_, v)| v.as_str())?;
                self.src?.user_pool_trigger(pool, trigger)
            }),
            "event_source" => d.request.event_source_arn.clone(),
            // A request's TableName or SecretId, as the ARN KMS's encryption context reduces to.
            "dynamodb.table_arn" => {
                let t = d.request.params.get("tableName")?.as_str()?;
                arn::table_arn(t, d.region.as_deref()?, d.account.as_deref()?)
            }
            "secret.arn" => {
                let id = d.request.params.get("secretId")?.as_str()?;
                arn::secret_base(id, d.region.as_deref()?, d.account.as_deref()?)
            }
            // The key the imports or the logs showed for the subject.
            "subject.kms_key" => self.src?.encryption_key(self.subject.as_deref()?),
            // arn:aws:kafka:<region>:<account>:cluster/<name>/<uuid> → its topics and groups.
            "kafka.topics" | "kafka.groups" => {
                let src = d.request.event_source_arn.as_deref()?;
                let (head, tail) = src.split_once(":cluster/")?;
                let kind = if name == "kafka.topics" {
                    "topic"
                } else {
                    "group"
                };
                Some(format!("{head}:{kind}/{tail}/*"))
            }
            "function_arn" => self.config.as_ref().map(|c| c.arn.clone()),
            "config.kms_key" => self.config.as_ref().and_then(|c| c.kms_key.clone()),
            "config.role" => self.config.as_ref().and_then(|c| c.role.clone()),
            "config.file_systems" => self
                .config
                .as_ref()
                .and_then(|c| c.file_systems.first().cloned()),
            "image.repository_arn" => self.image().map(|(acct, region, repo)| {
                format!("arn:aws:ecr:{region}:{acct}:repository/{repo}")
            }),
            "image.account" => self.image().map(|(acct, _, _)| acct),
            "resource.account" => d
                .resource
                .as_deref()
                .and_then(Arn::parse)
                .map(|a| a.account.to_string())
                .filter(|a| !a.is_empty()),
            _ => None,
        }
    }

    /// The registry account, region and repository of the container image the request names
    /// (`111122223333.dkr.ecr.eu-west-1.amazonaws.com/repo:tag` or `@sha256:...`).
    fn image(&self) -> Option<(String, String, String)> {
        let p = &self.d.request.params;
        let uri = p
            .get("code")
            .and_then(|c| c.get("imageUri"))
            .or_else(|| p.get("imageUri"))
            .and_then(Value::as_str)?;
        let (host, path) = uri.split_once('/')?;
        let mut h = host.split('.');
        let acct = h.next()?;
        if h.next()? != "dkr" || h.next()? != "ecr" {
            return None;
        }
        let region = h.next()?;
        let repo = path
            .split_once('@')
            .map(|(r, _)| r)
            .unwrap_or(path)
            .rsplit_once(':')
            .map(|(r, _)| r)
            .unwrap_or(path.split('@').next().unwrap_or(path));
        (acct.len() == 12 && acct.bytes().all(|b| b.is_ascii_digit()))
            .then(|| (acct.to_string(), region.to_string(), repo.to_string()))
    }

    /// Expands `{name}` (or `{name|default}`) placeholders; None when one is unknown and has
    /// no default.
    fn expand(&self, tpl: &str) -> Option<String> {
        let mut out = String::new();
        let mut rest = tpl;
        while let Some(i) = rest.find('{') {
            out.push_str(rest.get(..i)?);
            let after = rest.get(i + 1..)?;
            let j = after.find('}')?;
            let spec = after.get(..j)?;
            let (name, default) = match spec.split_once('|') {
                Some((n, d)) => (n, Some(d)),
                None => (spec, None),
            };
            out.push_str(&self.field(name).or(default.map(str::to_string))?);
            rest = after.get(j + 1..)?;
        }
        out.push_str(rest);
        Some(out)
    }

    /// Expands the string values of a condition block.
    fn expand_value(&self, v: &Value) -> Option<Value> {
        Some(match v {
            Value::String(s) => Value::String(self.expand(s)?),
            Value::Array(a) => Value::Array(
                a.iter()
                    .map(|x| self.expand_value(x))
                    .collect::<Option<_>>()?,
            ),
            Value::Object(o) => Value::Object(
                o.iter()
                    .map(|(k, x)| Some((k.clone(), self.expand_value(x)?)))
                    .collect::<Option<_>>()?,
            ),
            other => other.clone(),
        })
    }
}

/// The catalog's `kind`; a word it does not know reads as a denial at run time.
fn kind_of(s: &str) -> Kind {
    Kind::parse(s).unwrap_or(Kind::AccessDenied)
}

/// Whether `function` is the one that made the call (its execution role's session is named
/// after it, as Lambda names them).
fn is_callers_own(d: &Denial, function: &str) -> bool {
    d.caller
        .as_deref()
        .is_some_and(|c| c.contains(":assumed-role/") && c.rsplit('/').next() == Some(function))
}

/// Resolves a denial the catalog knows.
///
/// The function comes first, since its configuration names the execution role and key: the
/// catalog's template, else the one the request names (for a service, never the caller's own).
/// The resource is the first need's unless that is `*`, else, when the caller itself (or its
/// VPC endpoint) was checked, the denial's own.
pub(super) fn resolve(i: &Integration, d: &Denial, src: Option<&dyn PolicySource>) -> Resolved {
    let mut fields = Fields {
        d,
        config: None,
        src,
        subject: None,
    };
    fields.subject = i.subject.as_deref().and_then(|t| fields.expand(t));
    // The function the failure is about: the catalog's template, else what the record names.
    let function_ref = i
        .function
        .as_deref()
        .and_then(|t| fields.expand(t))
        .or_else(|| match i.party {
            // Lambda acts for the function named in the request, not for whoever called.
            Party::ExecutionRole => d
                .request
                .function_arn
                .clone()
                .or_else(|| d.request.function_name.clone())
                .or_else(|| d.function.clone()),
            // A service invokes a function of its own configuration (a trigger, a target):
            // the function that called the service's API is not it.
            Party::ServicePrincipal => d
                .request
                .function_arn
                .clone()
                .or_else(|| d.request.function_name.clone())
                .or_else(|| d.function.clone().filter(|f| !is_callers_own(d, f))),
            _ => d.function.clone(),
        });
    if let (Some(s), Some(f)) = (src, &function_ref) {
        fields.config = s
            .function(f)
            .or_else(|| arn::function_name(f).and_then(|n| s.function(&n)));
    }
    let function = function_ref.as_deref().and_then(arn::function_name);
    let grants: Vec<Grant> = i
        .needs
        .iter()
        .map(|n| {
            let applies = n
                .when_event_source
                .as_deref()
                .is_none_or(|want| d.event_source.as_deref() == Some(want));
            Grant {
                actions: n.actions.clone(),
                resource: fields.expand(&n.resource),
                condition: n
                    .condition
                    .as_ref()
                    .filter(|_| applies)
                    .and_then(|c| fields.expand_value(c)),
            }
        })
        .collect();
    let resource = grants
        .first()
        .and_then(|g| g.resource.clone())
        .filter(|r| r != "*")
        .or_else(|| match i.party {
            Party::ServicePrincipal | Party::ResourceOwner | Party::ExecutionRole => None,
            // A KMS failure about a table or secret whose key is unknown is not about the
            // table: the request's own resource is not what KMS checked.
            Party::Caller | Party::VpcEndpoint if i.subject.is_some() => None,
            Party::Caller | Party::VpcEndpoint => d.resource.clone(),
        });
    let service_principal = match i.party {
        Party::ServicePrincipal => i.service_principal.clone().or_else(|| {
            d.caller
                .clone()
                .filter(|c| crate::parse::is_service_principal(c))
        }),
        Party::ResourceOwner => i.service_principal.clone(),
        _ => None,
    };
    let principal = match i.party {
        Party::Caller | Party::VpcEndpoint => d.caller_iam.clone().or_else(|| d.caller.clone()),
        Party::ExecutionRole => fields.config.as_ref().and_then(|c| c.role.clone()),
        Party::ServicePrincipal => service_principal.clone(),
        Party::ResourceOwner => service_principal
            .clone()
            .or_else(|| d.caller_iam.clone().or_else(|| d.caller.clone())),
    };
    Resolved {
        kind: kind_of(&i.kind),
        cause: i.cause,
        principal,
        function,
        resource,
        source_arn: i.source_arn.as_deref().and_then(|t| fields.expand(t)),
        source_account: i
            .source_account
            .as_deref()
            .and_then(|t| fields.expand(t))
            .or_else(|| service_principal.as_ref().and(d.account.clone())),
        service_principal,
        grants,
        fix_target: i.fix,
        fix_account: i.fix_account.as_deref().and_then(|t| fields.expand(t)),
        note: i.note.clone(),
        subject: fields.subject.clone(),
    }
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "tests fail by panicking"
)]
mod tests {
    use super::*;

    #[test]
    fn image_uris_name_their_repository() {
        let mut d = crate::parse::Parser::new(&crate::rules::Rules::embedded().unwrap())
            .unwrap()
            .message("Lambda does not have permission to access the ECR image.")
            .unwrap();
        for (uri, want) in [
            (
                "444455556666.dkr.ecr.eu-west-1.amazonaws.com/team/app:latest",
                Some("arn:aws:ecr:eu-west-1:444455556666:repository/team/app"),
            ),
            (
                "444455556666.dkr.ecr.eu-west-1.amazonaws.com/app@sha256:abc",
                Some("arn:aws:ecr:eu-west-1:444455556666:repository/app"),
            ),
            ("public.ecr.aws/lambda/python:3.12", None),
        ] {
            d.request.params = serde_json::json!({"code": {"imageUri": uri}});
            let f = Fields {
                d: &d,
                config: None,
                src: None,
                subject: None,
            };
            assert_eq!(f.field("image.repository_arn").as_deref(), want, "{uri}");
        }
    }

    fn denial_of(record: &str) -> Denial {
        let rules = crate::rules::Rules::embedded().unwrap();
        let parser = crate::parse::Parser::new(&rules).unwrap();
        match parser.json_record(record.as_bytes()).unwrap() {
            crate::parse::Parsed::Denial(d) => *d,
            _ => panic!("a denial: {record}"),
        }
    }

    /// A service's KMS failure and KMS's record of the call the service made for the same
    /// caller are one finding, by the table or secret: DynamoDB's "KMS key access denied
    /// error" (aws-samples/aws-secure-environment-accelerator#919) and Secrets Manager's "Access
    /// to KMS is not allowed" (aws-samples/aws-secrets-manager-rotation-lambdas#53), each with
    /// the Decrypt the service made (encryption contexts as the AWS KMS developer guide shows
    /// them for DynamoDB and Secrets Manager; the IAM guide's enhanced message).
    #[test]
    fn a_service_failure_and_its_kms_call_are_one_finding() {
        let rules = crate::rules::Rules::embedded().unwrap();
        let who = r#""userIdentity":{"type":"AssumedRole","arn":"arn:aws:sts::111122223333:assumed-role/app-role/app","accountId":"111122223333","sessionContext":{"sessionIssuer":{"type":"Role","arn":"arn:aws:iam::111122223333:role/app-role"}}INVOKED},"awsRegion":"eu-west-1","recipientAccountId":"111122223333""#;
        let caller = who.replace("INVOKED", "");
        let key = "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";
        let decrypt = |service: &str, context: &str| {
            format!(
                r#"{{{},"eventSource":"kms.amazonaws.com","eventName":"Decrypt","errorCode":"AccessDenied","errorMessage":"User: arn:aws:sts::111122223333:assumed-role/app-role/app is not authorized to perform: kms:Decrypt on resource: {key} because no identity-based policy allows the kms:Decrypt action","requestParameters":{{"encryptionContext":{context}}},"resources":[{{"ARN":"{key}","type":"AWS::KMS::Key"}}]}}"#,
                who.replace("INVOKED", &format!(r#","invokedBy":"{service}""#))
            )
        };
        let pairs = [
            (
                format!(
                    r#"{{{caller},"eventSource":"dynamodb.amazonaws.com","eventName":"PutItem","errorCode":"AccessDeniedException","errorMessage":"KMS key access denied error: com.amazonaws.services.kms.model.AWSKMSException: The ciphertext refers to a customer master key that does not exist, does not exist in this region, or you are not allowed to access. (Service: AWSKMS; Status Code: 400; Error Code: AccessDeniedException; Request ID: 84ab7ccb-4f2b-400c-a9ec-c7624d21a23b; Proxy: null)","requestParameters":{{"tableName":"Orders"}}}}"#
                ),
                decrypt(
                    "dynamodb.amazonaws.com",
                    r#"{"aws:dynamodb:tableName":"Orders","aws:dynamodb:subscriberId":"111122223333"}"#,
                ),
            ),
            (
                format!(
                    r#"{{{caller},"eventSource":"secretsmanager.amazonaws.com","eventName":"GetSecretValue","errorCode":"AccessDeniedException","errorMessage":"Access to KMS is not allowed","requestParameters":{{"secretId":"prod/db"}}}}"#
                ),
                decrypt(
                    "secretsmanager.amazonaws.com",
                    r#"{"SecretARN":"arn:aws:secretsmanager:eu-west-1:111122223333:secret:prod/db-Xy12Zw","SecretVersionId":"EXAMPLE1-90ab-cdef-fedc-ba987SECRET1"}"#,
                ),
            ),
        ];
        for (service, kms) in &pairs {
            let a = super::super::diagnose(&denial_of(service), &rules);
            let b = super::super::diagnose(&denial_of(kms), &rules);
            assert_eq!(a.id(), b.id(), "{service}\n{kms}");
            assert_eq!(a.action.as_deref(), Some("kms:Decrypt"));
            assert_eq!(b.resource.as_deref(), Some(key));
        }
        // A second table is a second finding.
        let other = pairs[0].0.replace(r#""Orders""#, r#""Invoices""#);
        assert_ne!(
            super::super::diagnose(&denial_of(&other), &rules).id(),
            super::super::diagnose(&denial_of(&pairs[0].1), &rules).id()
        );
    }
}
