//! Asking the store one question: would this principal be allowed this action on this resource
//! now? This is `whydenied simulate`, kept in the library so that the binary only parses flags
//! and prints, and tests can ask the very same question in-process.

use super::context::Facts;
use super::gather::{self, OwnerHint, PolicySource};
use super::{Caller, NamedPolicy, PolicyKind, Request, RequestContext, Verdict};
use crate::policy::Policy;
use crate::rules::Rules;

/// One question.
#[derive(Debug, Clone, Default)]
pub struct Question<'a> {
    /// A role, user, `assumed-role` session or federated-user ARN, or a service principal.
    pub principal: &'a str,
    /// The IAM action (`s3:GetObject`, any case); it must be one the service reference lists.
    pub action: &'a str,
    /// `*` when the action takes no resource.
    pub resource: &'a str,
    /// `KEY=VALUE` pairs, already split; a repeated key is multi-valued.
    pub context: &'a [(String, String)],
    /// A policy to add for this question only: to the principal's identity policies, or for a
    /// service principal to the resource's policy.
    pub with_policy: Option<(String, Policy)>,
}

/// Why a question cannot be asked.
#[derive(Debug, thiserror::Error)]
pub enum AskError {
    /// An `arn:` principal that is not an IAM or STS principal.
    #[error(
        "--principal {0:?} is not an IAM principal ARN (role, user, assumed-role or federated-user)"
    )]
    NotAPrincipal(String),
    /// Neither an ARN nor a service principal.
    #[error(
        "--principal {0:?} is neither an IAM principal ARN nor a service principal (name.amazonaws.com)"
    )]
    UnknownPrincipal(String),
    /// An action the Service Authorization Reference does not list.
    #[error("--action {0:?} is not an IAM action the Service Authorization Reference lists")]
    UnknownAction(String),
    /// The principal's policies were never imported.
    #[error(
        "the policies of {0} were never imported: run `whydenied import` on `aws iam get-account-authorization-details` output first"
    )]
    NotImported(String),
}

/// The caller a `--principal` names.
pub fn caller_of(principal: &str) -> Result<Caller, AskError> {
    if principal.starts_with("arn:") {
        let p = crate::policy::arn::Principal::parse(principal)
            .filter(|p| p.kind != crate::policy::arn::PrincipalKind::Other)
            .ok_or_else(|| AskError::NotAPrincipal(principal.to_string()))?;
        return Ok(Caller::Iam {
            arn: p.iam_arn(),
            session_arn: p.session.map(|_| principal.to_string()),
            account: p.account.to_string(),
        });
    }
    let service = principal.len() <= 128
        && principal.ends_with(".amazonaws.com")
        && principal
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-');
    if service {
        Ok(Caller::Service(principal.to_string()))
    } else {
        Err(AskError::UnknownPrincipal(principal.to_string()))
    }
}

/// Asks the question against the store; the verdict notes what was assumed or missing.
pub fn ask(src: &dyn PolicySource, rules: &Rules, q: Question<'_>) -> Result<Verdict, AskError> {
    if !rules.is_known_action(q.action) {
        return Err(AskError::UnknownAction(q.action.to_string()));
    }
    let action = rules.canonical_action(q.action);
    let caller = gather::resolve_caller(src, caller_of(q.principal)?);
    let hint = OwnerHint {
        given: q
            .context
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("aws:ResourceAccount"))
            .map(|(_, v)| v.as_str()),
        logged: None,
    };
    let (mut set, gaps) = gather::gather(src, rules, &caller, &action, q.resource, hint);
    if let Caller::Iam { arn, .. } = &caller
        && gaps.principal_missing
    {
        return Err(AskError::NotImported(arn.clone()));
    }
    if let Some((name, policy)) = q.with_policy {
        let np = NamedPolicy {
            name: format!("with-policy:{name}"),
            kind: PolicyKind::Identity,
            policy: policy.into(),
        };
        match caller {
            Caller::Service(_) => {
                set.resource = Some(NamedPolicy {
                    kind: PolicyKind::Resource,
                    ..np
                })
            }
            Caller::Iam { .. } => set.identity.push(np),
        }
    }
    let known = gather::store_facts(src, &caller, &set);
    let facts = Facts {
        given: q.context,
        ..Facts::default()
    }
    .with_store(&known);
    let ctx = RequestContext::derive(&caller, q.resource, &facts);
    let req = Request {
        caller,
        action: &action,
        resource: q.resource,
        context: &ctx,
    };
    let mut verdict = super::evaluate(&req, &set);
    for m in &gaps.missing_policies {
        verdict
            .notes
            .push(format!("{m} is attached but its document was not imported"));
    }
    Ok(verdict)
}
