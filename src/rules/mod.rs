//! The catalogs under `rules/`, compiled into the binary so that it needs nothing at run time.
//!
//! - `actions.txt`: every IAM action in its canonical case, to normalise `sqs:receivemessage`.
//! - `api_actions.txt`: CloudTrail event names whose IAM action is not `<prefix>:<eventName>`.
//! - `managed_policies.json`: AWS managed policies a Lambda user meets, and which may be suggested.
//! - `lambda_setup.json`: Lambda trigger-setup errors, the actions each needs, the managed policy
//!   that grants them, and the service principals that invoke functions.
//! - `integrations.json`: Lambda integrations whose failures name another party or another
//!   action than the call in the log: their texts, party, needs and fix owner.
//! - `organizations.json`: where organization policies apply (the services RCPs cover, the path
//!   of service-linked roles that SCPs and RCPs never restrict).
//!
//! Loading is a pure function of the embedded text, done once per process and passed explicitly.

use std::collections::HashMap;

use serde::Deserialize;

const ACTIONS: &str = include_str!("../../rules/actions.txt");
const API_ACTIONS: &str = include_str!("../../rules/api_actions.txt");
const MANAGED: &str = include_str!("../../rules/managed_policies.json");
const SETUP: &str = include_str!("../../rules/lambda_setup.json");
const ORGANIZATIONS: &str = include_str!("../../rules/organizations.json");
const INTEGRATIONS: &str = include_str!("../../rules/integrations.json");
const RESOURCE_TYPES: &str = include_str!("../../rules/resource_types.txt");
const PUT_BACK: &str = include_str!("../../rules/put_back.json");

mod actions;
pub mod integrations;
pub mod resources;

pub use integrations::{Integration, Party};

/// A catalog file that does not parse: a build of the project with a broken `rules/` file.
#[derive(Debug, thiserror::Error)]
pub enum RulesError {
    /// A JSON catalog did not match its schema.
    #[error("rules/{file}: {source}")]
    Json {
        /// The catalog file, under `rules/`.
        file: &'static str,
        /// Where and why it failed to match its schema.
        source: serde_json::Error,
    },
    /// A line of a text catalog is malformed.
    #[error("rules/{file} line {line}: {what}")]
    Line {
        /// The catalog file, under `rules/`.
        file: &'static str,
        /// The 1-based line number.
        line: usize,
        /// What is wrong with the line.
        what: &'static str,
    },
}

/// IAM access level of an action, from the service reference.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccessLevel {
    /// Reads data (`R` in `actions.txt`): `s3:GetObject`.
    Read,
    /// Lists resources (`L`): `s3:ListBucket`.
    List,
    /// Creates, changes or deletes (`W`): `sqs:SendMessage`.
    Write,
    /// Changes permissions (`P`): `iam:PutRolePolicy`.
    Permissions,
    /// Changes tags only (`T`): `lambda:TagResource`.
    Tagging,
}

/// An AWS managed policy as shipped in `rules/managed_policies.json`.
#[derive(Debug, Clone, Deserialize)]
pub struct ManagedPolicy {
    /// The policy's name (`AWSLambdaSQSQueueExecutionRole`).
    pub name: String,
    /// The policy's ARN, as `fix.managed_policy_arn` names it.
    pub arn: String,
    /// The default version the shipped document is (`v1`...).
    pub version: String,
    /// What Lambda feature it is made for.
    pub feature: String,
    /// Whether it may be named as a fix.
    pub suggest: bool,
    /// The policy document (default version).
    pub document: serde_json::Value,
    /// Action patterns the document allows on `*` with no condition, worked out once at load
    /// so that choosing a fix for each denial does not walk JSON.
    #[serde(skip)]
    pub everywhere: Vec<String>,
    /// How many actions its statements list: the smaller, the closer to least privilege.
    #[serde(skip)]
    pub size: usize,
}

/// A policy element that is one string or a list of strings (`Action`, `Resource`), as a list.
pub(crate) fn string_list(v: Option<&serde_json::Value>) -> Vec<String> {
    use serde_json::Value;
    match v {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(|x| x.as_str().map(str::to_string))
            .collect(),
        _ => Vec::new(),
    }
}

impl ManagedPolicy {
    /// Fills `everywhere` and `size` from the document.
    fn index(&mut self) {
        use serde_json::Value;
        let list = string_list;
        let statements: Vec<&Value> = match self.document.get("Statement") {
            Some(Value::Array(a)) => a.iter().collect(),
            Some(v @ Value::Object(_)) => vec![v],
            _ => Vec::new(),
        };
        self.size = statements.iter().map(|s| list(s.get("Action")).len()).sum();
        self.everywhere = statements
            .iter()
            .filter(|s| {
                s.get("Effect").and_then(Value::as_str) == Some("Allow")
                    && s.get("Condition").is_none()
                    && list(s.get("Resource")).iter().any(|r| r == "*")
            })
            .flat_map(|s| list(s.get("Action")))
            .collect();
    }
}

/// One grant of a setup fix: actions on a resource.
#[derive(Debug, Clone, Deserialize)]
pub struct Grant {
    /// The actions, in canonical case.
    pub actions: Vec<String>,
    /// `event_source`, `consumer`, `target`, `key`, `star`, or a template containing `{source}`.
    pub resource: String,
}

/// What the log and the store say about a setup, from which a grant's resource is named.
#[derive(Debug, Clone, Copy, Default)]
pub struct GrantFacts<'a> {
    /// The event source mapping's source (queue, stream, stream consumer, cluster).
    pub event_source: Option<&'a str>,
    /// The resource the denial names.
    pub resource: Option<&'a str>,
    /// A dead-letter or destination target.
    pub target: Option<&'a str>,
    /// A KMS key.
    pub key: Option<&'a str>,
}

impl Grant {
    /// The resource this grant needs, or None when nothing the log or the store says names it.
    ///
    /// A Kinesis mapping that reads through an enhanced fan-out consumer has the consumer's ARN
    /// as its source (`arn:aws:kinesis:<region>:<account>:stream/<name>/consumer/<consumer>:<time>`):
    /// the stream's own actions (`event_source`, `{source}`) take the stream's ARN, the part
    /// before `/consumer/`, and `consumer` actions (`SubscribeToShard`) the consumer's; for a
    /// mapping on the stream itself, `consumer` is every consumer of the stream.
    pub fn resource_for(&self, f: &GrantFacts<'_>) -> Option<String> {
        let source = f.event_source.or(f.resource);
        let stream = source.map(|s| s.split_once("/consumer/").map_or(s, |(stream, _)| stream));
        let consumer = source.filter(|s| s.contains("/consumer/"));
        match self.resource.as_str() {
            "star" => Some("*".to_string()),
            "event_source" => stream.map(str::to_string),
            "consumer" => consumer
                .map(str::to_string)
                .or_else(|| stream.map(|s| format!("{s}/consumer/*"))),
            "target" => f.target.or(f.resource).map(str::to_string),
            "key" => f.key.or(f.resource).map(str::to_string),
            tpl if tpl.contains("{source}") => stream.map(|s| tpl.replace("{source}", s)),
            other => Some(other.to_string()),
        }
    }
}

/// A Lambda feature whose setup checks the execution role.
#[derive(Debug, Clone, Deserialize)]
pub struct Setup {
    /// The feature in words (`SQS event source mapping`), for notes.
    pub feature: String,
    /// Actions a message may name for this feature.
    pub when: Vec<String>,
    /// The statements of the least-privilege fix.
    pub grants: Vec<Grant>,
    /// The AWS managed policy made for the feature, when one grants every action of `grants`.
    #[serde(default)]
    pub managed_policy: Option<String>,
    /// The source may be encrypted with a customer managed key: the role then also needs
    /// `kms:Decrypt` on it (granted when the key is known, else said in a note).
    #[serde(default)]
    pub kms_when_encrypted: bool,
}

#[derive(Debug, Deserialize)]
struct SetupFile {
    service_words: HashMap<String, String>,
    setups: Vec<Setup>,
    invoke_principals: HashMap<String, String>,
    trust_statement: serde_json::Value,
}

#[derive(Debug, Deserialize)]
struct OrgFile {
    rcp_services: Vec<String>,
    service_linked_role_path: String,
}

#[derive(Debug, Deserialize)]
struct ManagedFile {
    policies: Vec<ManagedPolicy>,
}

/// All catalogs, loaded.
#[derive(Debug)]
pub struct Rules {
    /// Every action of the service reference: canonical case, level, services by name.
    actions: actions::Actions,
    /// eventSource host (minus `.amazonaws.com`) → IAM prefix, where they differ.
    hosts: HashMap<String, String>,
    /// `prefix eventName` → actions.
    api: HashMap<String, Vec<String>>,
    /// Managed policies by ARN.
    pub managed: Vec<ManagedPolicy>,
    /// Setups in catalog order.
    pub setups: Vec<Setup>,
    /// Service words of Lambda messages (`SQS`, `EC2`) → IAM prefix, keys upper-case.
    service_words: HashMap<String, String>,
    /// Service (IAM prefix or short name) → principal that invokes functions.
    pub invoke_principals: HashMap<String, String>,
    /// The trust statement Lambda needs.
    pub trust_statement: serde_json::Value,
    /// Lambda integrations, in catalog order.
    pub integrations: Vec<Integration>,
    /// The resource types of every action, read on first use (only fixes need them).
    resource_types: std::sync::OnceLock<resources::ResourceTypes>,
    /// Service prefixes resource control policies apply to.
    rcp_services: Vec<String>,
    /// The path of service-linked roles (`/aws-service-role/`).
    service_linked_role_path: String,
    /// Per service prefix (and `trust`), the command that writes a whole resource policy back,
    /// with placeholders (`rules/put_back.json`).
    pub put_back: HashMap<String, Vec<String>>,
    /// Tells this catalog from any other loaded in the process (memos keyed on it).
    instance: u64,
}

#[derive(Deserialize)]
struct PutBackFile {
    commands: HashMap<String, Vec<String>>,
}

impl Rules {
    /// A number no other catalog loaded by this process has: what a memo of results computed
    /// from the catalog is keyed on.
    pub fn instance(&self) -> u64 {
        self.instance
    }

    /// The service principal with which `service` (an IAM prefix) invokes functions
    /// (`rules/lambda_setup.json`).
    pub fn invoke_principal(&self, service: &str) -> Option<String> {
        self.invoke_principals.get(service).cloned()
    }

    /// Loads the catalogs compiled into the binary.
    pub fn embedded() -> Result<Rules, RulesError> {
        let actions = actions::Actions::parse(ACTIONS, "actions.txt")?;
        let mut hosts = HashMap::new();
        let mut api = HashMap::new();
        for (n, line) in API_ACTIONS.lines().enumerate() {
            if line.starts_with('#') || line.trim().is_empty() {
                continue;
            }
            let f: Vec<&str> = line.split(' ').collect();
            match f.as_slice() {
                ["@host", host, prefix] => {
                    hosts.insert((*host).to_string(), (*prefix).to_string());
                }
                [prefix, event, acts] => {
                    api.insert(
                        format!("{prefix} {event}"),
                        acts.split(',').map(str::to_string).collect(),
                    );
                }
                _ => {
                    return Err(RulesError::Line {
                        file: "api_actions.txt",
                        line: n + 1,
                        what: "expected 3 fields",
                    });
                }
            }
        }
        let mut managed: ManagedFile =
            serde_json::from_str(MANAGED).map_err(|e| RulesError::Json {
                file: "managed_policies.json",
                source: e,
            })?;
        managed.policies.iter_mut().for_each(ManagedPolicy::index);
        let setup: SetupFile = serde_json::from_str(SETUP).map_err(|e| RulesError::Json {
            file: "lambda_setup.json",
            source: e,
        })?;
        let org: OrgFile = serde_json::from_str(ORGANIZATIONS).map_err(|e| RulesError::Json {
            file: "organizations.json",
            source: e,
        })?;
        let integrations: integrations::IntegrationFile = serde_json::from_str(INTEGRATIONS)
            .map_err(|e| RulesError::Json {
                file: "integrations.json",
                source: e,
            })?;
        let put_back: PutBackFile =
            serde_json::from_str(PUT_BACK).map_err(|e| RulesError::Json {
                file: "put_back.json",
                source: e,
            })?;
        static INSTANCES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        Ok(Rules {
            instance: INSTANCES.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            put_back: put_back.commands,
            resource_types: std::sync::OnceLock::new(),
            integrations: integrations.integrations,
            rcp_services: org.rcp_services,
            service_linked_role_path: org.service_linked_role_path,
            actions,
            hosts,
            api,
            managed: managed.policies,
            setups: setup.setups,
            service_words: setup
                .service_words
                .into_iter()
                .map(|(k, v)| (k.to_ascii_uppercase(), v))
                .collect(),
            invoke_principals: setup.invoke_principals,
            trust_statement: setup.trust_statement,
        })
    }

    /// The canonical spelling of an action (`sqs:receivemessage` → `sqs:ReceiveMessage`). An
    /// unknown action keeps its own spelling with the prefix lower-cased.
    pub fn canonical_action(&self, action: &str) -> String {
        if let Some(a) = self.actions.get(action) {
            return a.canonical();
        }
        match action.split_once(':') {
            Some((p, a)) => format!("{}:{a}", p.to_ascii_lowercase()),
            None => action.to_string(),
        }
    }

    /// Whether the catalog knows this action (any case).
    pub fn is_known_action(&self, action: &str) -> bool {
        self.actions.get(action).is_some()
    }

    /// Access level of a known action.
    pub fn access_level(&self, action: &str) -> Option<AccessLevel> {
        self.actions.get(action).map(|a| a.level)
    }

    /// Whether `prefix` is a known IAM service prefix.
    pub fn is_prefix(&self, prefix: &str) -> bool {
        self.actions.is_prefix(prefix)
    }

    /// The IAM prefix for a CloudTrail `eventSource` (`monitoring.amazonaws.com` → `cloudwatch`).
    pub fn prefix_for_event_source(&self, event_source: &str) -> String {
        let host = event_source
            .strip_suffix(".amazonaws.com")
            .unwrap_or(event_source);
        if let Some(p) = self.hosts.get(host) {
            return p.clone();
        }
        host.rsplit('.').next().unwrap_or(host).to_string()
    }

    /// The IAM actions a CloudTrail event checks, first the main one. `eventName` may carry
    /// Lambda's API-version suffix (`ListFunctions20150331`, `AddPermission20150331v2`).
    pub fn actions_for_event(&self, event_source: &str, event_name: &str) -> Vec<String> {
        let prefix = self.prefix_for_event_source(event_source);
        let name = strip_api_version(event_name);
        if let Some(acts) = self.api.get(&format!("{prefix} {name}")) {
            return acts.clone();
        }
        vec![self.canonical_action(&format!("{prefix}:{name}"))]
    }

    /// The IAM prefix for a service word of a message (`SQS`, `EC2`, `XRAY`, SDK names such as
    /// `Amazon S3`, `AWSKMS`, `AmazonDynamoDBv2`).
    pub fn prefix_for_service_word(&self, word: &str) -> String {
        let up = word.trim().to_ascii_uppercase();
        if let Some(p) = self.service_words.get(&up) {
            return p.clone();
        }
        let squeezed: String = up.chars().filter(|c| !c.is_whitespace()).collect();
        let core = squeezed
            .strip_prefix("AMAZON")
            .or_else(|| squeezed.strip_prefix("AWS"))
            .unwrap_or(&squeezed);
        let core = core.strip_suffix("V2").unwrap_or(core);
        if let Some(p) = self.service_words.get(core) {
            return p.clone();
        }
        core.to_ascii_lowercase()
    }

    /// The action an API operation name means when no service is given: the only prefix that
    /// has it, or among several the most common service for Lambda users.
    pub fn action_for_operation(&self, op: &str) -> Option<String> {
        const COMMON: [&str; 22] = [
            "s3",
            "dynamodb",
            "sqs",
            "sns",
            "lambda",
            "kms",
            "secretsmanager",
            "ssm",
            "sts",
            "iam",
            "ec2",
            "logs",
            "cloudwatch",
            "kinesis",
            "events",
            "states",
            "xray",
            "ecr",
            "ecs",
            "rds",
            "apigateway",
            "cloudformation",
        ];
        let prefixes = self.actions.prefixes_with(op);
        let prefix = match prefixes.as_slice() {
            [only] => *only,
            _ => *COMMON.iter().find(|c| prefixes.contains(c))?,
        };
        Some(self.canonical_action(&format!("{prefix}:{op}")))
    }

    /// The setup feature a missing action belongs to.
    pub fn setup_for_action(&self, action: &str) -> Option<&Setup> {
        self.setups
            .iter()
            .find(|s| s.when.iter().any(|w| w.eq_ignore_ascii_case(action)))
    }

    /// Whether resource control policies apply to actions of this service prefix.
    pub fn rcp_covers(&self, prefix: &str) -> bool {
        self.rcp_services
            .iter()
            .any(|s| s.eq_ignore_ascii_case(prefix))
    }

    /// Whether a role ARN is a service-linked role's (organization policies never restrict one).
    pub fn is_service_linked_role(&self, role_arn: &str) -> bool {
        crate::policy::arn::Arn::parse(role_arn).is_some_and(|a| {
            a.service == "iam"
                && a.resource
                    .strip_prefix("role")
                    .is_some_and(|r| r.starts_with(self.service_linked_role_path.as_str()))
        })
    }

    /// The resource types of the Service Authorization Reference.
    pub fn resource_types(&self) -> &resources::ResourceTypes {
        self.resource_types
            .get_or_init(|| resources::ResourceTypes::parse(RESOURCE_TYPES))
    }

    /// The service principals whose invoke failures name a user pool's trigger rather than the
    /// function (the integrations whose function comes from `{cognito.*}`): a user pool's
    /// triggers learnt from the logs change what their findings say.
    pub fn user_pool_invokers(&self) -> Vec<&str> {
        let mut out: Vec<&str> = self
            .integrations
            .iter()
            .filter(|i| {
                i.function
                    .as_deref()
                    .is_some_and(|f| f.contains("{cognito."))
            })
            .filter_map(|i| i.service_principal.as_deref())
            .collect();
        out.sort_unstable();
        out.dedup();
        out
    }

    /// An integration by id.
    pub fn integration(&self, id: &str) -> Option<&Integration> {
        self.integrations.iter().find(|i| i.id == id)
    }

    /// A managed policy by ARN.
    pub fn managed_by_arn(&self, arn: &str) -> Option<&ManagedPolicy> {
        self.managed.iter().find(|m| m.arn == arn)
    }
}

/// Compares as if both sides were lower-cased, without lower-casing either: how the catalogs
/// find an action spelt in any case.
fn caseless(a: &str, b: &str) -> std::cmp::Ordering {
    a.bytes()
        .map(|c| c.to_ascii_lowercase())
        .cmp(b.bytes().map(|c| c.to_ascii_lowercase()))
}

/// `ListFunctions20150331` → `ListFunctions`; `AddPermission20150331v2` → `AddPermission`.
pub fn strip_api_version(event_name: &str) -> &str {
    let b = event_name.as_bytes();
    let mut end = b.len();
    // Optional `v<digits>` after the date.
    let mut i = end;
    while i > 0 && b.get(i - 1).is_some_and(u8::is_ascii_digit) {
        i -= 1;
    }
    if i < end && i > 0 && b.get(i - 1) == Some(&b'v') {
        end = i - 1;
    }
    let mut j = end;
    while j > 0 && b.get(j - 1).is_some_and(u8::is_ascii_digit) {
        j -= 1;
    }
    if end - j == 8 && j > 0 {
        event_name.get(..j).unwrap_or(event_name)
    } else {
        event_name
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
    fn catalogs_load_and_normalise() {
        let r = Rules::embedded().unwrap();
        assert_eq!(
            r.canonical_action("sqs:receivemessage"),
            "sqs:ReceiveMessage"
        );
        assert_eq!(r.canonical_action("SNS:Publish"), "sns:Publish");
        assert_eq!(r.canonical_action("foo:Bar"), "foo:Bar");
        assert_eq!(
            r.actions_for_event("lambda.amazonaws.com", "ListFunctions20150331"),
            vec!["lambda:ListFunctions"]
        );
        assert_eq!(
            r.actions_for_event("s3.amazonaws.com", "GetBucketLifecycle"),
            vec!["s3:GetLifecycleConfiguration"]
        );
        assert_eq!(
            r.prefix_for_event_source("monitoring.amazonaws.com"),
            "cloudwatch"
        );
        assert_eq!(r.prefix_for_service_word("XRAY"), "xray");
        assert!(r.setup_for_action("sqs:ReceiveMessage").is_some());
        assert!(
            r.managed
                .iter()
                .any(|m| m.name == "AWSLambdaSQSQueueExecutionRole")
        );
    }

    #[test]
    fn strips_lambda_api_versions() {
        assert_eq!(strip_api_version("ListFunctions20150331"), "ListFunctions");
        assert_eq!(
            strip_api_version("AddPermission20150331v2"),
            "AddPermission"
        );
        assert_eq!(
            strip_api_version("UpdateFunctionConfiguration20150331v2"),
            "UpdateFunctionConfiguration"
        );
        assert_eq!(strip_api_version("GetObject"), "GetObject");
        assert_eq!(strip_api_version("PutObject2"), "PutObject2");
    }
}
