//! Unit tests of the evaluation order on plain values.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "tests fail by panicking"
)]
use super::*;
use crate::evaluate::condition::MapContext;
use serde_json::json;

fn np(name: &str, kind: PolicyKind, doc: serde_json::Value) -> NamedPolicy {
    NamedPolicy {
        name: name.into(),
        kind,
        policy: Policy::parse(&doc).unwrap().into(),
    }
}

fn role() -> Caller {
    Caller::Iam {
        arn: "arn:aws:iam::111122223333:role/r".into(),
        session_arn: Some("arn:aws:sts::111122223333:assumed-role/r/fn".into()),
        account: "111122223333".into(),
    }
}

fn allow(action: &str, resource: &str) -> serde_json::Value {
    json!({"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":action,"Resource":resource}]})
}

#[test]
fn identity_allow_and_implicit_deny() {
    let ctx = MapContext::default();
    let set = PolicySet {
        identity: vec![np("p", PolicyKind::Identity, allow("sqs:*", "*"))],
        identity_known: true,
        ..Default::default()
    };
    let q = "arn:aws:sqs:eu-west-1:111122223333:q";
    let v = evaluate(
        &Request {
            caller: role(),
            action: "sqs:ReceiveMessage",
            resource: q,
            context: &ctx,
        },
        &set,
    );
    assert_eq!(v.decision, Decision::Allow);
    assert_eq!(v.deciding[0].policy, "p");
    let v = evaluate(
        &Request {
            caller: role(),
            action: "s3:GetObject",
            resource: q,
            context: &ctx,
        },
        &set,
    );
    assert_eq!(v.decision, Decision::ImplicitDeny);
    assert_eq!(v.missing_allow, vec![PolicyKind::Identity]);
}

#[test]
fn boundary_intersects_and_deny_wins() {
    let ctx = MapContext::default();
    let mut set = PolicySet {
        identity: vec![np("p", PolicyKind::Identity, allow("*", "*"))],
        boundary: Some(np("b", PolicyKind::PermissionsBoundary, allow("s3:*", "*"))),
        identity_known: true,
        ..Default::default()
    };
    let v = evaluate(
        &Request {
            caller: role(),
            action: "sqs:SendMessage",
            resource: "*",
            context: &ctx,
        },
        &set,
    );
    assert_eq!(v.decision, Decision::ImplicitDeny);
    assert_eq!(v.missing_allow, vec![PolicyKind::PermissionsBoundary]);
    set.identity.push(np(
        "d",
        PolicyKind::Identity,
        json!({"Statement":[{"Sid":"NoGet","Effect":"Deny","NotAction":"s3:List*","Resource":"*"}]}),
    ));
    let v = evaluate(
        &Request {
            caller: role(),
            action: "s3:GetObject",
            resource: "*",
            context: &ctx,
        },
        &set,
    );
    assert_eq!(v.decision, Decision::ExplicitDeny);
    assert_eq!(v.deciding[0].sid.as_deref(), Some("NoGet"));
}

#[test]
fn unknown_only_when_it_matters() {
    let ctx = MapContext::default();
    let set = PolicySet {
        identity: vec![np(
            "p",
            PolicyKind::Identity,
            json!({"Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*","Condition":{"StringEquals":{"aws:PrincipalOrgID":"o-1"}}}]}),
        )],
        identity_known: true,
        ..Default::default()
    };
    let v = evaluate(
        &Request {
            caller: role(),
            action: "s3:GetObject",
            resource: "*",
            context: &ctx,
        },
        &set,
    );
    assert_eq!(v.decision, Decision::Unknown);
    assert_eq!(v.missing_context_keys, vec!["aws:PrincipalOrgID"]);
    // Not applicable to this action: the unknown key does not matter.
    let v = evaluate(
        &Request {
            caller: role(),
            action: "sqs:SendMessage",
            resource: "*",
            context: &ctx,
        },
        &set,
    );
    assert_eq!(v.decision, Decision::ImplicitDeny);
}

#[test]
fn service_principal_and_resource_policy() {
    let mut ctx = MapContext::default();
    ctx.set("aws:SourceArn", &["arn:aws:s3:::b"]);
    ctx.set("aws:SourceAccount", &["111122223333"]);
    let fpol = json!({"Statement":[{"Sid":"s3","Effect":"Allow","Principal":{"Service":"s3.amazonaws.com"},"Action":"lambda:InvokeFunction","Resource":"arn:aws:lambda:eu-west-1:111122223333:function:f","Condition":{"ArnLike":{"AWS:SourceArn":"arn:aws:s3:::b"}}}]});
    let set = PolicySet {
        resource: Some(np(
            "arn:aws:lambda:eu-west-1:111122223333:function:f",
            PolicyKind::Resource,
            fpol,
        )),
        ..Default::default()
    };
    let f = "arn:aws:lambda:eu-west-1:111122223333:function:f";
    let v = evaluate(
        &Request {
            caller: Caller::Service("s3.amazonaws.com".into()),
            action: "lambda:InvokeFunction",
            resource: f,
            context: &ctx,
        },
        &set,
    );
    assert_eq!(v.decision, Decision::Allow);
    let v = evaluate(
        &Request {
            caller: Caller::Service("sns.amazonaws.com".into()),
            action: "lambda:InvokeFunction",
            resource: f,
            context: &ctx,
        },
        &set,
    );
    assert_eq!(v.decision, Decision::ImplicitDeny);
    assert_eq!(v.missing_allow, vec![PolicyKind::Resource]);
}

#[test]
fn cross_account_needs_both_sides() {
    let ctx = MapContext::default();
    let bucket = json!({"Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:role/r"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}]});
    let mut set = PolicySet {
        resource: Some(np("arn:aws:s3:::b", PolicyKind::Resource, bucket)),
        resource_account: Some("444455556666".into()),
        identity_known: true,
        ..Default::default()
    };
    let req = Request {
        caller: role(),
        action: "s3:GetObject",
        resource: "arn:aws:s3:::b/k",
        context: &ctx,
    };
    assert_eq!(evaluate(&req, &set).decision, Decision::ImplicitDeny);
    set.identity
        .push(np("p", PolicyKind::Identity, allow("s3:GetObject", "*")));
    assert_eq!(evaluate(&req, &set).decision, Decision::Allow);
    // Same account: the bucket policy alone allows.
    set.identity.clear();
    set.resource_account = Some("111122223333".into());
    assert_eq!(evaluate(&req, &set).decision, Decision::Allow);
}

#[test]
fn scp_levels_must_all_allow() {
    let ctx = MapContext::default();
    let full = np("FullAWSAccess", PolicyKind::Scp, allow("*", "*"));
    let set = PolicySet {
        identity: vec![np("p", PolicyKind::Identity, allow("*", "*"))],
        identity_known: true,
        scp_levels: vec![
            vec![full.clone()],
            vec![np("ou", PolicyKind::Scp, allow("s3:*", "*"))],
            vec![full],
        ],
        ..Default::default()
    };
    let v = evaluate(
        &Request {
            caller: role(),
            action: "sqs:SendMessage",
            resource: "*",
            context: &ctx,
        },
        &set,
    );
    assert_eq!(v.decision, Decision::ImplicitDeny);
    assert_eq!(v.missing_allow, vec![PolicyKind::Scp]);
    let v = evaluate(
        &Request {
            caller: role(),
            action: "s3:PutObject",
            resource: "*",
            context: &ctx,
        },
        &set,
    );
    assert_eq!(v.decision, Decision::Allow);
}

/// An unimported policy leaves the decision open, but is named as a policy, not as a key.
#[test]
fn an_unimported_policy_is_not_a_context_key() {
    let ctx = MapContext::default();
    let set = PolicySet {
        identity_known: false,
        ..Default::default()
    };
    let v = evaluate(
        &Request {
            caller: role(),
            action: "s3:GetObject",
            resource: "arn:aws:s3:::b/k",
            context: &ctx,
        },
        &set,
    );
    assert_eq!(v.decision, Decision::Unknown);
    assert!(v.missing_context_keys.is_empty(), "{v:?}");
    assert_eq!(v.missing_policies, vec!["identity policies"]);
    assert_eq!(v.undecided_by(), "identity policies (not imported)");
}
