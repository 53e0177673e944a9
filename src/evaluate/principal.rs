//! Whom a resource-based policy's `Principal` or `NotPrincipal` element names, seen from one
//! caller.
//!
//! AWS does not treat every match alike, and the evaluator needs to know which kind it met:
//! - a statement that names the caller's **account** (`"111122223333"`, `arn:aws:iam::…:root`)
//!   delegates to that account's IAM policies: the identity side must allow as well
//!   (<https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_principal.html#principal-accounts>);
//! - a statement that names the **role** a session was made from (or the IAM user behind a
//!   federated session) grants to every session of it, but the grant stays within the role's
//!   permissions boundary and session policies;
//! - a statement that names the **session or user itself** (or everyone, `*`) grants directly,
//!   unlimited by a boundary
//!   (<https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies_boundaries.html>).
//!
//! A role is matched by account and name: session ARNs carry no path, and role names are unique
//! within an account whatever their path.

use super::Caller;
use crate::policy::arn::{Principal, PrincipalKind};
use crate::policy::{PrincipalType, Principals, wildcard};

/// How strongly a principal element names the caller, weakest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Match {
    /// Not named.
    No,
    /// The caller's account: a delegation to its IAM policies.
    Account,
    /// The role (or user) the caller's session belongs to: limited by boundary and session.
    Parent,
    /// The caller itself, a service principal, or everyone.
    Direct,
}

/// A twelve-digit account id, bare or as an `arn:…:iam::<id>:root` ARN.
fn account_of_entry(v: &str) -> Option<&str> {
    if v.len() == 12 && v.bytes().all(|b| b.is_ascii_digit()) {
        return Some(v);
    }
    let p = Principal::parse(v)?;
    (p.kind == PrincipalKind::Root).then_some(p.account)
}

/// How one `AWS` entry names an IAM caller.
fn aws_entry(v: &str, arn: &str, session_arn: Option<&str>, account: &str) -> Match {
    if v == "*" {
        return Match::Direct;
    }
    if let Some(a) = account_of_entry(v) {
        return if a == account {
            Match::Account
        } else {
            Match::No
        };
    }
    if let Some(p) = Principal::parse(v)
        && !v.contains(['*', '?'])
    {
        if p.account != account {
            return Match::No;
        }
        let me = Principal::parse(arn);
        return match p.kind {
            PrincipalKind::Role => match me {
                Some(m) if m.kind == PrincipalKind::Role && m.name.eq_ignore_ascii_case(p.name) => {
                    Match::Parent
                }
                _ => Match::No,
            },
            PrincipalKind::User if v == arn => {
                // A federated session of this user is limited like a role session.
                if session_arn.is_some_and(|s| s.contains(":federated-user/")) {
                    Match::Parent
                } else {
                    Match::Direct
                }
            }
            PrincipalKind::AssumedRole | PrincipalKind::FederatedUser if session_arn == Some(v) => {
                Match::Direct
            }
            _ => Match::No,
        };
    }
    // AWS refuses wildcards inside principal ARNs; older documents stored elsewhere may have
    // them, and they are read as patterns.
    if v.contains(['*', '?'])
        && (wildcard::matches(v, arn, false)
            || session_arn.is_some_and(|s| wildcard::matches(v, s, false)))
    {
        return Match::Direct;
    }
    Match::No
}

/// How one principal entry names the caller.
fn entry(t: PrincipalType, v: &str, caller: &Caller) -> Match {
    match (t, caller) {
        (PrincipalType::Service, Caller::Service(svc)) if v.eq_ignore_ascii_case(svc) => {
            Match::Direct
        }
        (
            PrincipalType::Aws,
            Caller::Iam {
                arn,
                session_arn,
                account,
            },
        ) => aws_entry(v, arn, session_arn.as_deref(), account),
        _ => Match::No,
    }
}

/// How a `Principal` element names the caller: its strongest entry.
pub fn principal_match(p: &Principals, caller: &Caller) -> Match {
    if p.any {
        return Match::Direct;
    }
    p.entries
        .iter()
        .map(|(t, v)| entry(*t, v, caller))
        .max()
        .unwrap_or(Match::No)
}

/// Whether a `NotPrincipal` element leaves the caller inside the statement. The caller is exempt
/// only when every identity it carries is listed: the account, and the role and the session for
/// a role session, the user for a user. AWS checks the account, then the role, then the session
/// (<https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_notprincipal.html>).
pub fn not_principal_applies(p: &Principals, caller: &Caller) -> bool {
    if p.any {
        return false;
    }
    let listed = |want: Match| p.entries.iter().any(|(t, v)| entry(*t, v, caller) == want);
    let star = p
        .entries
        .iter()
        .any(|(t, v)| *t == PrincipalType::Aws && v == "*");
    match caller {
        Caller::Service(_) => !listed(Match::Direct),
        Caller::Iam {
            arn, session_arn, ..
        } => {
            if star {
                return false;
            }
            let account = listed(Match::Account);
            let kind = Principal::parse(arn).map(|p| p.kind);
            let exempt = match (kind, session_arn) {
                (Some(PrincipalKind::Root), _) => account,
                (Some(PrincipalKind::Role), Some(_)) => {
                    account && listed(Match::Parent) && listed(Match::Direct)
                }
                (Some(PrincipalKind::Role), None) => account && listed(Match::Parent),
                (Some(PrincipalKind::User), Some(_)) => {
                    account && listed(Match::Parent) && listed(Match::Direct)
                }
                _ => account && listed(Match::Direct),
            };
            !exempt
        }
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
    use crate::policy::Policy;
    use serde_json::json;

    fn session() -> Caller {
        Caller::Iam {
            arn: "arn:aws:iam::111122223333:role/diff/r1".into(),
            session_arn: Some("arn:aws:sts::111122223333:assumed-role/r1/s".into()),
            account: "111122223333".into(),
        }
    }

    fn principals(v: serde_json::Value) -> Principals {
        let p = Policy::parse(
            &json!({"Statement":[{"Effect":"Deny","Action":"*","Resource":"*","Principal": v}]}),
        )
        .unwrap();
        p.statements[0].principal.clone().unwrap()
    }

    #[test]
    fn kinds_of_match() {
        let c = session();
        let m = |v| principal_match(&principals(v), &c);
        assert_eq!(m(json!({"AWS": "111122223333"})), Match::Account);
        assert_eq!(
            m(json!({"AWS": "arn:aws:iam::111122223333:root"})),
            Match::Account
        );
        assert_eq!(
            m(json!({"AWS": "arn:aws:iam::111122223333:role/r1"})),
            Match::Parent
        );
        assert_eq!(
            m(json!({"AWS": "arn:aws:iam::111122223333:role/other/R1"})),
            Match::Parent
        );
        assert_eq!(
            m(json!({"AWS": "arn:aws:sts::111122223333:assumed-role/r1/s"})),
            Match::Direct
        );
        assert_eq!(
            m(json!({"AWS": "arn:aws:sts::111122223333:assumed-role/r1/t"})),
            Match::No
        );
        assert_eq!(m(json!({"AWS": "*"})), Match::Direct);
        assert_eq!(m(json!("*")), Match::Direct);
        assert_eq!(
            m(json!({"AWS": "arn:aws:iam::444455556666:role/r1"})),
            Match::No
        );
        assert_eq!(m(json!({"Service": "lambda.amazonaws.com"})), Match::No);
    }

    #[test]
    fn not_principal_needs_every_identity() {
        let c = session();
        let applies = |v| not_principal_applies(&principals(v), &c);
        assert!(applies(json!({"AWS": "arn:aws:iam::111122223333:role/r1"})));
        assert!(applies(json!({"AWS": [
            "arn:aws:iam::111122223333:role/r1",
            "arn:aws:sts::111122223333:assumed-role/r1/s"
        ]})));
        assert!(!applies(json!({"AWS": [
            "arn:aws:iam::111122223333:role/r1",
            "arn:aws:sts::111122223333:assumed-role/r1/s",
            "arn:aws:iam::111122223333:root"
        ]})));
        assert!(applies(json!({"AWS": "arn:aws:iam::444455556666:root"})));
    }
}
