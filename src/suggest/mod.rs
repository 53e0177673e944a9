//! Suggest: what is needed → the fix: the managed policy to attach, the least-privilege
//! statement, the `aws` commands that apply it (every argument shell-quoted), and notes.
//!
//! Pure: reads the `rules/` catalogs and the [`Need`], writes nothing. The managed policy is named
//! only when it was made for a Lambda feature and grants every needed action; among several, the
//! one with the fewest actions wins.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::diagnose::Need;
use crate::policy::arn;
use crate::policy::vocab::{Cause, Kind, Target};
use crate::rules::{ManagedPolicy, Rules};

mod build;
mod deny;
mod identity;
pub mod merged;
mod org;
mod owners;
pub mod put_back;
mod resource;
mod tags;
mod valid;
mod verify;

pub use build::{Suggestion, analyse, suggest};

use identity::identity_fix;
use resource::{deny_fix, guard_fix, resource_fix, trust_fix};

/// The fix of a finding, as CONTRACT.md shapes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fix {
    /// Whose policy (or what) must change, which decides the commands.
    pub target: Target,
    /// The AWS managed policy made for the Lambda feature, when it grants every action the fix
    /// needs without unrelated ones (the one with the fewest actions among several).
    pub managed_policy_arn: Option<String>,
    /// The least-privilege statement, with the concrete resource ARN (and `SourceArn` and
    /// `SourceAccount` conditions for a service principal); None when nothing is to be granted.
    pub statement: Option<Value>,
    /// AWS CLI commands that apply the fix, every argument shell-quoted.
    pub commands: Vec<String>,
    /// Whether re-evaluating the stored policies with the fix applied allows the request; None when
    /// the principal's policies are unknown.
    pub verified: Option<bool>,
    /// What else to know: propagation delays, refreshing running functions, who must act.
    pub notes: Vec<String>,
    /// Every statement of the fix when there are several (`statement` is the first): a stream
    /// mapping needs `ListStreams` on `*` beside the stream's own actions.
    #[serde(default, rename = "statements", skip_serializing_if = "at_most_one")]
    pub all_statements: Vec<Value>,
    /// The account whose credentials must run the commands, when it is not the denied
    /// principal's (a repository, layer or key owner).
    #[serde(default)]
    pub account: Option<String>,
}

fn at_most_one(v: &[Value]) -> bool {
    v.len() <= 1
}

impl Fix {
    fn none(notes: Vec<String>) -> Fix {
        Fix {
            target: Target::None,
            managed_policy_arn: None,
            statement: None,
            commands: Vec::new(),
            verified: None,
            notes,
            all_statements: Vec::new(),
            account: None,
        }
    }
}

/// Quotes each argument for a POSIX shell and joins them. Arguments come from logs, so none is
/// trusted: `shlex` quotes anything that is not plainly safe, and a NUL byte (which no shell
/// argument can hold) is dropped.
pub fn command(args: &[&str]) -> String {
    let quote = |a: &str| {
        // NUL cannot be quoted for a shell: dropped (copying only when there is one).
        let clean: std::borrow::Cow<'_, str> = if a.contains('\0') {
            a.replace('\0', "").into()
        } else {
            a.into()
        };
        match shlex::try_quote(&clean) {
            Ok(q) => q.into_owned(),
            Err(_) => "''".to_string(),
        }
    };
    let mut out: Vec<String> = Vec::with_capacity(args.len());
    let mut i = 0;
    while let Some(a) = args.get(i) {
        // A value that begins with `-` (an IAM name may) would be read as an option: it goes
        // with its flag as `--flag=value`.
        match args.get(i + 1) {
            Some(v) if a.starts_with("--") && v.starts_with('-') && !v.starts_with("--") => {
                out.push(quote(&format!("{a}={v}")));
                i += 2;
            }
            _ => {
                out.push(quote(a));
                i += 1;
            }
        }
    }
    out.join(" ")
}

pub use crate::policy::wildcard::action_matches;

use crate::rules::string_list as as_list;

/// Whether a managed policy allows `action` on every resource (`*`) with no condition.
fn grants_everywhere(p: &ManagedPolicy, action: &str) -> bool {
    p.everywhere.iter().any(|a| action_matches(a, action))
}

/// The smallest suggestable managed policy that grants all `actions`.
pub fn smallest_managed<'a>(rules: &'a Rules, actions: &[String]) -> Option<&'a ManagedPolicy> {
    if actions.is_empty() {
        return None;
    }
    rules
        .managed
        .iter()
        .filter(|p| p.suggest && actions.iter().all(|a| grants_everywhere(p, a)))
        .min_by_key(|p| p.size)
}

/// A statement id that every policy language accepts: letters and digits only (IAM's `Sid`
/// rule; Lambda's statement ids allow more, but one id serves both), `Whydenied<Word><hash>`.
pub(crate) fn statement_id(word: &str, hash: u64) -> String {
    let mut w: String = word.chars().filter(char::is_ascii_alphanumeric).collect();
    if let Some(first) = w.get_mut(0..1) {
        first.make_ascii_uppercase();
    }
    format!("Whydenied{w}{:08x}", hash as u32)
}

/// Whether a statement grants to everyone: a `*` principal with no condition narrowing it to
/// an account, an organization, a principal or a source.
pub fn is_public(st: &Value) -> bool {
    let star = match st.get("Principal") {
        Some(Value::String(p)) => p == "*",
        Some(Value::Object(o)) => o.get("AWS").is_some_and(|a| match a {
            Value::String(s) => s == "*",
            Value::Array(v) => v.iter().any(|x| x == "*"),
            _ => false,
        }),
        _ => false,
    };
    if !star || st.get("Effect").and_then(Value::as_str) != Some("Allow") {
        return false;
    }
    const NARROW: [&str; 8] = [
        "kms:calleraccount",
        "aws:principalaccount",
        "aws:principalorgid",
        "aws:principalorgpaths",
        "aws:principalarn",
        "aws:sourceaccount",
        "aws:sourcearn",
        "aws:sourcevpce",
    ];
    let narrowed = st
        .get("Condition")
        .and_then(Value::as_object)
        .is_some_and(|ops| {
            ops.values().any(|keys| {
                keys.as_object().is_some_and(|k| {
                    k.keys()
                        .any(|key| NARROW.contains(&key.to_ascii_lowercase().as_str()))
                })
            })
        });
    !narrowed
}

/// The account of the denied principal, else the source account.
pub(crate) fn account_of(need: &Need) -> Option<String> {
    need.principal
        .as_deref()
        .and_then(arn::Arn::parse)
        .map(|a| a.account.to_string())
        .filter(|a| !a.is_empty())
        .or_else(|| need.source_account.clone())
}

/// Sets a member of a JSON object (statements are built as objects).
pub(crate) fn set_member(v: &mut Value, key: &str, val: Value) {
    if let Some(o) = v.as_object_mut() {
        o.insert(key.to_string(), val);
    }
}

fn policy_document(stmts: &[Value]) -> Value {
    json!({"Version": "2012-10-17", "Statement": stmts})
}

fn first_statement(stmts: &[Value]) -> Option<Value> {
    stmts.first().cloned()
}

/// Merges fix statements into one least-privilege policy: statements with the same effect,
/// resource and condition share one statement with the union of their actions; order is kept.
pub fn merge_statements(stmts: &[Value]) -> Value {
    let mut merged: Vec<Value> = Vec::new();
    for st in stmts {
        let key = |v: &Value| {
            (
                v.get("Effect").cloned(),
                v.get("Resource").cloned(),
                v.get("Condition").cloned(),
                v.get("Principal").cloned(),
            )
        };
        let actions = as_list(st.get("Action"));
        match merged.iter_mut().find(|m| key(m) == key(st)) {
            Some(m) => {
                let mut have = as_list(m.get("Action"));
                for a in actions {
                    if !have.iter().any(|h| h.eq_ignore_ascii_case(&a)) {
                        have.push(a);
                    }
                }
                if let Some(o) = m.as_object_mut() {
                    o.insert("Action".into(), json!(have));
                }
            }
            None => {
                let mut s = st.clone();
                if let Some(o) = s.as_object_mut() {
                    o.remove("Sid");
                    o.insert("Action".into(), json!(actions));
                }
                merged.push(s);
            }
        }
    }
    json!({"Version": "2012-10-17", "Statement": merged})
}

/// The stored policies allow the request now: nothing to add, but what to do.
pub fn propagation_fix(need: &Need, rules: &Rules) -> Fix {
    let mut notes = vec![
        "The stored policies allow this now. IAM is eventually consistent: a grant made seconds before the call may not have applied yet, so retry, or make the deployment or trigger depend on the policy.".to_string(),
    ];
    if need.function.is_some() || need.kind == Some(Kind::TriggerSetup) {
        notes.push(
            "Running functions keep the credentials they started with: update the function's configuration (any change) so new instances pick up the current role.".into(),
        );
    }
    let setup = need.actions.first().and_then(|a| rules.setup_for_action(a));
    if need.kind == Some(Kind::TriggerSetup) && setup.is_some_and(|s| s.kms_when_encrypted) {
        notes.push(
            "If the mapping still fails, check that the mapping's source ARN is the one the role allows, that a source encrypted with a customer managed KMS key also allows kms:Decrypt to the role, that no SCP denies it, and that the role was not deleted and re-created (grants to the old role do not carry over).".into(),
        );
    }
    if need.kind == Some(Kind::Kms) {
        notes.push(
            "A role deleted and re-created with the same name breaks the key's grant: point the function at another role and back, or re-save its KMS key setting, to create a new grant.".into(),
        );
    }
    Fix {
        target: Target::None,
        managed_policy_arn: None,
        statement: None,
        commands: Vec::new(),
        verified: None,
        notes,
        all_statements: Vec::new(),
        account: None,
    }
}

/// How many fixes a thread keeps in each of its memo's two generations.
const MEMO_MAX: usize = 256;

/// Fixes built recently, in two generations: when the young one is full it becomes the old
/// one and the previous old one is dropped; a fix found in the old one moves back. A fix in
/// use stays however many one-off needs pass through (a replay where a few functions fail on
/// every invocation among thousands of single denials), and memory stays bounded.
#[derive(Default)]
struct Memo {
    young: std::collections::HashMap<(u64, u128), Fix>,
    old: std::collections::HashMap<(u64, u128), Fix>,
}

impl Memo {
    fn get(&mut self, key: &(u64, u128)) -> Option<Fix> {
        if let Some(f) = self.young.get(key) {
            return Some(f.clone());
        }
        let f = self.old.remove(key)?;
        self.insert(*key, f.clone());
        Some(f)
    }

    fn insert(&mut self, key: (u64, u128), f: Fix) {
        if self.young.len() >= MEMO_MAX {
            self.old = std::mem::take(&mut self.young);
        }
        self.young.insert(key, f);
    }
}

std::thread_local! {
    /// Fixes built recently by this thread, by catalog and need. A replay with many denials
    /// meets the same need thousands of times (a function failing on every invocation, a
    /// scanner probing every bucket); building its fix validates every statement against the
    /// service reference, which costs far more than hashing the need.
    static MEMO: std::cell::RefCell<Memo> = std::cell::RefCell::new(Memo::default());
}

/// The fix for what the diagnosis needs: a pure function of `need` and the catalog, so that
/// it is remembered.
pub fn fix(need: &Need, rules: &Rules) -> Fix {
    let key = (rules.instance(), need.digest());
    if let Some(f) = MEMO.with(|m| m.borrow_mut().get(&key)) {
        return f;
    }
    let f = build(need, rules);
    MEMO.with(|m| m.borrow_mut().insert(key, f.clone()));
    f
}

fn build(need: &Need, rules: &Rules) -> Fix {
    let cause = need.cause;
    let owner_fix = match need.target {
        _ if cause.is_explicit_deny() && need.target != Some(Target::VpcEndpointPolicy) => None,
        Some(Target::LayerPolicy) => Some(owners::layer_fix(need)),
        Some(Target::RepositoryPolicy) => Some(owners::repository_fix(need)),
        // An Allow in the endpoint's policy cannot override its Deny.
        Some(Target::VpcEndpointPolicy) if cause == Cause::ExplicitDenyVpcEndpoint => {
            Some(owners::vpc_endpoint_deny_fix(need))
        }
        Some(Target::VpcEndpointPolicy) => Some(owners::vpc_endpoint_fix(need)),
        Some(Target::FunctionPolicy) => Some(resource_fix(need, rules)),
        Some(Target::IdentityPolicy) if !need.grants.is_empty() => Some(identity_fix(need, rules)),
        _ => None,
    };
    let mut f = owner_fix.unwrap_or_else(|| match cause {
        Cause::NoIdentityAllow | Cause::Unknown if need.kind != Some(Kind::InvokePermission) => {
            identity_fix(need, rules)
        }
        Cause::NoResourceAllow => resource_fix(need, rules),
        Cause::TrustPolicy => trust_fix(need, rules),
        Cause::NoBoundaryAllow | Cause::NoScpAllow | Cause::NoRcpAllow => guard_fix(need, rules),
        Cause::ExplicitDenyVpcEndpoint => owners::vpc_endpoint_deny_fix(need),
        c if c.is_explicit_deny() => deny_fix(need),
        Cause::NoSessionAllow => Fix::none(vec![
            "The session policy passed when the role was assumed does not allow it: pass a session policy that does, or none.".into(),
        ]),
        Cause::NoVpcEndpointAllow => owners::vpc_endpoint_fix(need),
        Cause::KeyDisabled => Fix::none(vec![
            "Enable the key (`aws kms enable-key`) or point the function at another key.".into(),
        ]),
        _ => Fix::none(Vec::new()),
    });
    // The last guard: never a statement that grants to everyone.
    let before = f.all_statements.len();
    f.all_statements.retain(|st| !is_public(st));
    if f.statement.as_ref().is_some_and(is_public) {
        f.statement = f.all_statements.first().cloned();
    }
    if f.all_statements.len() < before {
        f.notes.push("A statement that would have granted to everyone was left out: name the principal, or narrow it with aws:PrincipalAccount, aws:PrincipalOrgID or aws:PrincipalArn.".into());
    }
    let own = need
        .principal
        .as_deref()
        .and_then(arn::Arn::parse)
        .map(|a| a.account.to_string());
    // Else the owner of the resource whose policy changes, when its ARN names an account
    // (a queue, topic, key, secret, repository or layer; a bucket's ARN names none).
    let owner = || {
        let arn = match f.target {
            Target::KeyPolicy => need.kms_key.as_deref().or(need.resource.as_deref()),
            Target::ResourcePolicy | Target::RepositoryPolicy | Target::LayerPolicy => {
                need.resource.as_deref()
            }
            _ => None,
        }?;
        let account = arn::Arn::parse(arn)?.account.to_string();
        (!account.is_empty() && own.is_some()).then_some(account)
    };
    // The fix's own finding first (an organization's management account), then the
    // integration's, then the resource's owner.
    f.account = f
        .account
        .take()
        .or_else(|| need.fix_account.clone())
        .or_else(owner)
        .filter(|a| own.as_deref() != Some(a.as_str()));
    f
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
    fn nul_is_dropped_and_the_rest_quoted() {
        assert_eq!(
            command(&["aws", "--role-name", "a\0b c", "plain"]),
            "aws --role-name 'ab c' plain"
        );
    }

    #[test]
    fn values_that_look_like_options_stay_values() {
        let c = command(&[
            "aws",
            "iam",
            "put-role-policy",
            "--role-name",
            "-evil",
            "--policy-name",
            "p",
        ]);
        assert_eq!(
            shlex::split(&c).unwrap(),
            vec![
                "aws",
                "iam",
                "put-role-policy",
                "--role-name=-evil",
                "--policy-name",
                "p"
            ]
        );
    }

    #[test]
    fn quoting_is_inert() {
        let c = command(&["aws", "s3", "cp", "reports/'; rm -rf ~; echo '.csv"]);
        assert_eq!(
            shlex::split(&c).unwrap(),
            vec!["aws", "s3", "cp", "reports/'; rm -rf ~; echo '.csv"]
        );
        let c = command(&["x", "a\nb$(id)`id`"]);
        assert_eq!(shlex::split(&c).unwrap(), vec!["x", "a\nb$(id)`id`"]);
    }

    #[test]
    fn smallest_managed_policy_is_chosen() {
        let rules = Rules::embedded().unwrap();
        let sqs: Vec<String> = [
            "sqs:ReceiveMessage",
            "sqs:DeleteMessage",
            "sqs:GetQueueAttributes",
        ]
        .map(String::from)
        .to_vec();
        assert_eq!(
            smallest_managed(&rules, &sqs).unwrap().name,
            "AWSLambdaSQSQueueExecutionRole"
        );
        let eni = vec!["ec2:CreateNetworkInterface".to_string()];
        assert_eq!(
            smallest_managed(&rules, &eni).unwrap().name,
            "AWSLambdaENIManagementAccess"
        );
        assert!(smallest_managed(&rules, &["s3:GetObject".to_string()]).is_none());
    }
}
