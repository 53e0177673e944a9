//! The evaluator's independent, data-driven test corpus.
//!
//! Every file `tests/eval_cases/*.json` holds `{"cases": [...]}`, one theme per file (condition
//! operators, set operators, NotAction/NotResource, traps, boundaries, session policies, SCP
//! levels, RCPs, cross-account access, service principals, KMS key and role trust policies,
//! resource policies, policy variables, unknown keys). Each case states a request (caller,
//! action, resource), its context exactly (`context` values, `absent` keys, `closed`: every
//! unset key absent; otherwise unset keys are unknown), the policies that apply, and the decision
//! AWS's documented evaluation logic gives, with the rule it checks in `why`. `deciding`,
//! `missing_allow` and `missing_context_keys` are checked only when a case names them
//! (`deciding` as an order-insensitive set of statements, `missing_context_keys`
//! case-insensitively, since condition keys are). `identity_known` defaults to true.
//!
//! The expectations come from the AWS documentation, not from the evaluator. Where the evaluator
//! disagrees with the documented logic the case stays, with the documented expectation, and says
//! so in `known_gap`: such a case is run and printed, never asserted, so the gap stays tracked.
//!
//! The test runs every case and fails once, naming each failing case. The other tests check the
//! keys `RequestContext::derive` derives, directly and through `evaluate`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "tests fail by panicking"
)]

use std::collections::{BTreeMap, HashSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::{Value, json};

use whydenied::evaluate::condition::{KeyState, Lookup, MapContext};
use whydenied::evaluate::context::{Facts, RequestContext};
use whydenied::evaluate::{
    Caller, Decision, NamedPolicy, PolicyKind, PolicySet, Request, Verdict, evaluate,
};
use whydenied::policy::Policy;

/// Fewer cases than this means a file went missing or stopped parsing into cases.
const MIN_CASES: usize = 200;

// ---------------------------------------------------------------------------------------------
// The case format
// ---------------------------------------------------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CaseFile {
    cases: Vec<Case>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    name: String,
    why: String,
    caller: CallerSpec,
    action: String,
    resource: String,
    #[serde(default)]
    context: BTreeMap<String, Values>,
    #[serde(default)]
    absent: Vec<String>,
    #[serde(default)]
    closed: bool,
    policies: Policies,
    expect: Expect,
    #[serde(default)]
    known_gap: Option<String>,
}

/// A context value: one string or a list (a multi-valued key; `[]` is an empty set).
#[derive(Deserialize)]
#[serde(untagged)]
enum Values {
    One(String),
    Many(Vec<String>),
}

/// `{"iam": ARN, "session": ARN?, "account": ID}` or `{"service": "s3.amazonaws.com"}`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CallerSpec {
    iam: Option<String>,
    session: Option<String>,
    account: Option<String>,
    service: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Doc {
    name: String,
    document: Value,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ResourceDoc {
    name: String,
    kind: ResourceKind,
    document: Value,
}

#[derive(Deserialize, Clone, Copy)]
#[serde(rename_all = "snake_case")]
enum ResourceKind {
    Resource,
    Trust,
}

fn yes() -> bool {
    true
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Policies {
    #[serde(default)]
    identity: Vec<Doc>,
    boundary: Option<Doc>,
    #[serde(default)]
    session: Vec<Doc>,
    resource: Option<ResourceDoc>,
    resource_account: Option<String>,
    #[serde(default)]
    scp_levels: Vec<Vec<Doc>>,
    #[serde(default)]
    rcp_levels: Vec<Vec<Doc>>,
    #[serde(default = "yes")]
    identity_known: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Expect {
    decision: String,
    deciding: Option<Vec<ExpectRef>>,
    missing_allow: Option<Vec<String>>,
    missing_context_keys: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ExpectRef {
    policy: String,
    sid: Option<String>,
    index: usize,
    /// Checked when given.
    kind: Option<String>,
}

// ---------------------------------------------------------------------------------------------
// Building the evaluator's inputs
// ---------------------------------------------------------------------------------------------

fn decision_name(d: Decision) -> &'static str {
    match d {
        Decision::Allow => "allow",
        Decision::ImplicitDeny => "implicit_deny",
        Decision::ExplicitDeny => "explicit_deny",
        Decision::Unknown => "unknown",
    }
}

fn build_caller(c: &CallerSpec) -> Result<Caller, String> {
    match (&c.iam, &c.service) {
        (Some(arn), None) => Ok(Caller::Iam {
            arn: arn.clone(),
            session_arn: c.session.clone(),
            account: c.account.clone().ok_or("an IAM caller needs \"account\"")?,
        }),
        (None, Some(svc)) if c.session.is_none() && c.account.is_none() => {
            Ok(Caller::Service(svc.clone()))
        }
        _ => Err("caller must be {iam, session?, account} or {service}".into()),
    }
}

fn named(d: &Doc, kind: PolicyKind) -> Result<NamedPolicy, String> {
    let policy = Policy::parse(&d.document)
        .map_err(|e| format!("policy {:?} does not parse: {e}", d.name))?;
    Ok(NamedPolicy {
        name: d.name.clone(),
        kind,
        policy: policy.into(),
    })
}

fn levels(lv: &[Vec<Doc>], kind: PolicyKind) -> Result<Vec<Vec<NamedPolicy>>, String> {
    lv.iter()
        .map(|l| l.iter().map(|d| named(d, kind)).collect())
        .collect()
}

fn build_set(p: &Policies) -> Result<PolicySet, String> {
    Ok(PolicySet {
        identity: p
            .identity
            .iter()
            .map(|d| named(d, PolicyKind::Identity))
            .collect::<Result<_, _>>()?,
        boundary: p
            .boundary
            .as_ref()
            .map(|d| named(d, PolicyKind::PermissionsBoundary))
            .transpose()?,
        session: p
            .session
            .iter()
            .map(|d| named(d, PolicyKind::Session))
            .collect::<Result<_, _>>()?,
        resource: p
            .resource
            .as_ref()
            .map(|r| {
                let kind = match r.kind {
                    ResourceKind::Resource => PolicyKind::Resource,
                    ResourceKind::Trust => PolicyKind::Trust,
                };
                named(
                    &Doc {
                        name: r.name.clone(),
                        document: r.document.clone(),
                    },
                    kind,
                )
            })
            .transpose()?,
        resource_account: p.resource_account.clone(),
        scp_levels: levels(&p.scp_levels, PolicyKind::Scp)?,
        rcp_levels: levels(&p.rcp_levels, PolicyKind::Rcp)?,
        identity_known: p.identity_known,
        scp_exempt: None,
        rcp_exempt: None,
        ..PolicySet::default()
    })
}

fn build_context(c: &Case) -> Result<MapContext, String> {
    let mut m = MapContext::default();
    m.closed = c.closed;
    let mut seen = HashSet::new();
    for (k, v) in &c.context {
        if !seen.insert(k.to_ascii_lowercase()) {
            return Err(format!(
                "context key {k:?} given twice (keys are case-insensitive)"
            ));
        }
        let values = match v {
            Values::One(s) => vec![s.clone()],
            Values::Many(l) => l.clone(),
        };
        m.set_owned(k, values);
    }
    for k in &c.absent {
        if !seen.insert(k.to_ascii_lowercase()) {
            return Err(format!("key {k:?} is both given and absent"));
        }
        m.absent(k);
    }
    Ok(m)
}

// ---------------------------------------------------------------------------------------------
// Comparing
// ---------------------------------------------------------------------------------------------

fn show(v: &Verdict) -> String {
    let deciding: Vec<String> = v
        .deciding
        .iter()
        .map(|r| {
            format!(
                "{}#{}{} ({}, {})",
                r.policy,
                r.index,
                r.sid
                    .as_deref()
                    .map(|s| format!(" {s}"))
                    .unwrap_or_default(),
                r.kind.as_str(),
                r.effect
            )
        })
        .collect();
    let missing: Vec<&str> = v.missing_allow.iter().map(|k| k.as_str()).collect();
    format!(
        "{} deciding={deciding:?} missing_allow={missing:?} missing_context_keys={:?}",
        decision_name(v.decision),
        v.missing_context_keys
    )
}

/// What differs between the expectation and the verdict; empty when they agree.
fn compare(e: &Expect, v: &Verdict) -> Vec<String> {
    let mut out = Vec::new();
    if e.decision != decision_name(v.decision) {
        out.push(format!(
            "decision: expected {}, got {}",
            e.decision,
            decision_name(v.decision)
        ));
    }
    if let Some(want) = &e.deciding {
        let mut w: Vec<(&str, Option<&str>, usize)> = want
            .iter()
            .map(|r| (r.policy.as_str(), r.sid.as_deref(), r.index))
            .collect();
        let mut g: Vec<(&str, Option<&str>, usize)> = v
            .deciding
            .iter()
            .map(|r| (r.policy.as_str(), r.sid.as_deref(), r.index))
            .collect();
        w.sort();
        g.sort();
        if w != g {
            out.push(format!("deciding: expected {w:?}, got {g:?}"));
        }
        for r in want {
            let Some(kind) = &r.kind else { continue };
            let found = v.deciding.iter().any(|d| {
                d.policy == r.policy
                    && d.sid == r.sid
                    && d.index == r.index
                    && d.kind.as_str() == kind
            });
            if !found {
                out.push(format!(
                    "deciding: no {}#{} of kind {kind}",
                    r.policy, r.index
                ));
            }
        }
    }
    if let Some(want) = &e.missing_allow {
        let mut w: Vec<&str> = want.iter().map(String::as_str).collect();
        let mut g: Vec<&str> = v.missing_allow.iter().map(|k| k.as_str()).collect();
        w.sort_unstable();
        g.sort_unstable();
        if w != g {
            out.push(format!("missing_allow: expected {w:?}, got {g:?}"));
        }
    }
    if let Some(want) = &e.missing_context_keys {
        let norm = |l: &[String]| {
            let mut l: Vec<String> = l.iter().map(|k| k.to_ascii_lowercase()).collect();
            l.sort();
            l.dedup();
            l
        };
        let (w, g) = (norm(want), norm(&v.missing_context_keys));
        if w != g {
            out.push(format!("missing_context_keys: expected {w:?}, got {g:?}"));
        }
    }
    out
}

/// Runs one case: the verdict, or why the case itself is malformed.
fn run(c: &Case) -> Result<Verdict, String> {
    if c.why.trim().is_empty() {
        return Err("no \"why\"".into());
    }
    if !["allow", "implicit_deny", "explicit_deny", "unknown"].contains(&c.expect.decision.as_str())
    {
        return Err(format!("unknown decision {:?}", c.expect.decision));
    }
    let caller = build_caller(&c.caller)?;
    let set = build_set(&c.policies)?;
    let ctx = build_context(c)?;
    let req = Request {
        caller,
        action: &c.action,
        resource: &c.resource,
        context: &ctx,
    };
    Ok(evaluate(&req, &set))
}

fn case_files() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/eval_cases");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no case files in {}", dir.display());
    files
}

#[test]
fn corpus() {
    let mut failures = Vec::new();
    let mut gaps = Vec::new();
    let mut names = HashSet::new();
    let mut total = 0usize;
    let mut summary = String::new();
    for path in case_files() {
        let file = path.file_name().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(&path).unwrap();
        let parsed: CaseFile = match serde_json::from_str(&text) {
            Ok(f) => f,
            Err(e) => {
                failures.push(format!("{file}: not a case file: {e}"));
                continue;
            }
        };
        if parsed.cases.is_empty() {
            failures.push(format!("{file}: no cases"));
        }
        let _ = write!(summary, " {file}={}", parsed.cases.len());
        total += parsed.cases.len();
        for c in &parsed.cases {
            let id = format!("{file}: {}", c.name);
            if !names.insert(c.name.clone()) {
                failures.push(format!("{id}: the case name is used twice"));
            }
            let verdict = match run(c) {
                Ok(v) => v,
                Err(e) => {
                    failures.push(format!("{id}: malformed case: {e}"));
                    continue;
                }
            };
            let diffs = compare(&c.expect, &verdict);
            match &c.known_gap {
                Some(gap) => {
                    let state = if diffs.is_empty() {
                        "the evaluator now agrees with the documented expectation: remove \
                         \"known_gap\""
                            .to_string()
                    } else {
                        diffs.join("; ")
                    };
                    gaps.push(format!(
                        "KNOWN GAP {id}\n    rule: {}\n    gap: {gap}\n    now: {state}\n    \
                         verdict: {}",
                        c.why,
                        show(&verdict)
                    ));
                }
                None if diffs.is_empty() => {}
                None => failures.push(format!(
                    "{id}\n    rule: {}\n    {}\n    verdict: {}",
                    c.why,
                    diffs.join("\n    "),
                    show(&verdict)
                )),
            }
        }
    }
    eprintln!(
        "evaluator corpus: {total} cases, {} known gaps:{summary}",
        gaps.len()
    );
    for g in &gaps {
        eprintln!("{g}");
    }
    if total < MIN_CASES {
        failures.push(format!(
            "only {total} cases were read (at least {MIN_CASES} expected)"
        ));
    }
    assert!(
        failures.is_empty(),
        "{} of {total} evaluator cases failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

// ---------------------------------------------------------------------------------------------
// Derived context keys
// ---------------------------------------------------------------------------------------------

const ROLE: &str = "arn:aws:iam::111122223333:role/fn-role";
const SESSION: &str = "arn:aws:sts::111122223333:assumed-role/fn-role/fn";
const USER: &str = "arn:aws:iam::111122223333:user/alice";
const QUEUE_B: &str = "arn:aws:sqs:eu-west-1:444455556666:q";
/// A queue in the caller's own account: no queue policy is needed.
const QUEUE_A: &str = "arn:aws:sqs:eu-west-1:111122223333:q";

fn role() -> Caller {
    Caller::Iam {
        arn: ROLE.into(),
        session_arn: Some(SESSION.into()),
        account: "111122223333".into(),
    }
}

fn user() -> Caller {
    Caller::Iam {
        arn: USER.into(),
        session_arn: None,
        account: "111122223333".into(),
    }
}

fn at_time() -> Facts<'static> {
    Facts {
        time: Some("2026-11-20T10:00:00Z".parse().unwrap()),
        ..Facts::default()
    }
}

/// A key's values, `Err("absent")` or `Err("unknown")`.
fn key(ctx: &RequestContext, k: &str) -> Result<Vec<String>, &'static str> {
    match ctx.get(k) {
        KeyState::Present(v) => Ok(v.to_vec()),
        KeyState::Absent => Err("absent"),
        KeyState::Unknown => Err("unknown"),
    }
}

fn one(v: &str) -> Result<Vec<String>, &'static str> {
    Ok(vec![v.to_string()])
}

fn identity_only(doc: Value) -> PolicySet {
    PolicySet {
        identity: vec![NamedPolicy {
            name: "p".into(),
            kind: PolicyKind::Identity,
            policy: Policy::parse(&doc).unwrap().into(),
        }],
        identity_known: true,
        ..PolicySet::default()
    }
}

fn decide(
    caller: Caller,
    action: &str,
    resource: &str,
    facts: &Facts<'_>,
    set: &PolicySet,
) -> Decision {
    let ctx = RequestContext::derive(&caller, resource, facts);
    evaluate(
        &Request {
            caller,
            action,
            resource,
            context: &ctx,
        },
        set,
    )
    .decision
}

#[test]
fn derived_keys_for_a_role_session() {
    let ctx = RequestContext::derive(&role(), QUEUE_B, &at_time());
    assert_eq!(
        key(&ctx, "aws:username"),
        Err("absent"),
        "roles have no aws:username"
    );
    assert_eq!(key(&ctx, "aws:PrincipalArn"), one(ROLE));
    assert_eq!(key(&ctx, "aws:PrincipalAccount"), one("111122223333"));
    assert_eq!(key(&ctx, "aws:PrincipalType"), one("AssumedRole"));
    assert_eq!(key(&ctx, "aws:PrincipalIsAWSService"), one("false"));
    // A direct IAM call carries no source resource.
    assert_eq!(key(&ctx, "aws:SourceArn"), Err("absent"));
    assert_eq!(key(&ctx, "aws:SourceAccount"), Err("absent"));
    // From the resource ARN.
    assert_eq!(key(&ctx, "aws:ResourceAccount"), one("444455556666"));
    assert_eq!(key(&ctx, "aws:RequestedRegion"), one("eu-west-1"));
    // From the event time.
    assert_eq!(key(&ctx, "aws:CurrentTime"), one("2026-11-20T10:00:00Z"));
    assert_eq!(key(&ctx, "aws:EpochTime"), one("1795168800"));
    // Tags not imported, source IP not logged: unknown, not guessed.
    assert_eq!(key(&ctx, "aws:PrincipalTag/team"), Err("unknown"));
    assert_eq!(key(&ctx, "aws:SourceIp"), Err("unknown"));
    // Keys are case-insensitive.
    assert_eq!(key(&ctx, "AWS:RESOURCEACCOUNT"), one("444455556666"));
}

#[test]
fn derived_keys_for_a_user() {
    let ctx = RequestContext::derive(&user(), QUEUE_B, &at_time());
    assert_eq!(key(&ctx, "aws:username"), one("alice"));
    assert_eq!(key(&ctx, "aws:PrincipalType"), one("User"));
    assert_eq!(key(&ctx, "aws:PrincipalArn"), one(USER));
    assert_eq!(key(&ctx, "aws:SourceArn"), Err("absent"));
}

#[test]
fn derived_principal_tags() {
    let tags = vec![("team".to_string(), "data".to_string())];
    let known = Facts {
        principal_tags: Some(&tags),
        ..at_time()
    };
    let ctx = RequestContext::derive(&role(), QUEUE_B, &known);
    assert_eq!(key(&ctx, "aws:PrincipalTag/team"), one("data"));
    assert_eq!(
        key(&ctx, "aws:PrincipalTag/env"),
        Err("absent"),
        "the tags are known and env is not among them"
    );
    let ctx = RequestContext::derive(&role(), QUEUE_B, &at_time());
    assert_eq!(key(&ctx, "aws:PrincipalTag/env"), Err("unknown"));
}

#[test]
fn derived_resource_keys_for_global_arns() {
    // An S3 object ARN names neither region nor account.
    let ctx = RequestContext::derive(&role(), "arn:aws:s3:::b/k", &at_time());
    assert_eq!(key(&ctx, "aws:ResourceAccount"), Err("unknown"));
    assert_eq!(key(&ctx, "aws:RequestedRegion"), Err("unknown"));
    let facts = Facts {
        region: Some("us-east-1"),
        ..at_time()
    };
    let ctx = RequestContext::derive(&role(), "arn:aws:s3:::b/k", &facts);
    assert_eq!(key(&ctx, "aws:RequestedRegion"), one("us-east-1"));
    // The ARN's region wins over the region the facts give.
    let ctx = RequestContext::derive(&role(), QUEUE_B, &facts);
    assert_eq!(key(&ctx, "aws:RequestedRegion"), one("eu-west-1"));
}

#[test]
fn derived_keys_for_a_service_principal() {
    let s3 = Caller::Service("s3.amazonaws.com".into());
    let facts = Facts {
        source_arn: Some("arn:aws:s3:::uploads"),
        source_account: Some("111122223333"),
        ..at_time()
    };
    let ctx = RequestContext::derive(
        &s3,
        "arn:aws:lambda:us-east-1:111122223333:function:f",
        &facts,
    );
    assert_eq!(key(&ctx, "aws:SourceArn"), one("arn:aws:s3:::uploads"));
    assert_eq!(key(&ctx, "aws:SourceAccount"), one("111122223333"));
    assert_eq!(key(&ctx, "aws:PrincipalIsAWSService"), one("true"));
    assert_eq!(
        key(&ctx, "aws:PrincipalServiceName"),
        one("s3.amazonaws.com")
    );
    assert_eq!(key(&ctx, "aws:PrincipalArn"), Err("absent"));
    assert_eq!(key(&ctx, "aws:username"), Err("absent"));
    // Not logged: unknown.
    let ctx = RequestContext::derive(
        &s3,
        "arn:aws:lambda:us-east-1:111122223333:function:f",
        &at_time(),
    );
    assert_eq!(key(&ctx, "aws:SourceArn"), Err("unknown"));
}

#[test]
fn derived_given_keys_override_and_repeat() {
    let given = vec![
        ("aws:SecureTransport".to_string(), "false".to_string()),
        ("aws:TagKeys".to_string(), "team".to_string()),
        ("AWS:TagKeys".to_string(), "env".to_string()),
    ];
    let facts = Facts {
        given: &given,
        source_ip: Some("not-an-ip"),
        ..at_time()
    };
    let ctx = RequestContext::derive(&role(), QUEUE_B, &facts);
    assert_eq!(key(&ctx, "aws:SecureTransport"), one("false"));
    assert_eq!(
        key(&ctx, "aws:TagKeys"),
        Ok(vec!["team".to_string(), "env".to_string()])
    );
    assert_eq!(
        key(&ctx, "aws:SourceIp"),
        Err("unknown"),
        "an invalid IP is not a key"
    );
}

#[test]
fn derived_keys_decide_evaluations() {
    let home = identity_only(json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::home/${aws:username}/*"}]}));
    let obj = "arn:aws:s3:::home/alice/a.txt";
    assert_eq!(
        decide(user(), "s3:GetObject", obj, &at_time(), &home),
        Decision::Allow
    );
    assert_eq!(
        decide(
            role(),
            "s3:GetObject",
            "arn:aws:s3:::home/fn-role/a.txt",
            &at_time(),
            &home
        ),
        Decision::ImplicitDeny,
        "a role has no aws:username, so the variable cannot match"
    );

    let untagged = identity_only(json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "sqs:*", "Resource": "*",
         "Condition": {"Null": {"aws:PrincipalTag/env": "true"}}}]}));
    let tags = vec![("team".to_string(), "data".to_string())];
    let known = Facts {
        principal_tags: Some(&tags),
        ..at_time()
    };
    assert_eq!(
        decide(role(), "sqs:SendMessage", QUEUE_A, &known, &untagged),
        Decision::Allow
    );
    assert_eq!(
        decide(role(), "sqs:SendMessage", QUEUE_A, &at_time(), &untagged),
        Decision::Unknown,
        "with the tags not imported, the tag's absence is unknown"
    );

    let no_confused_deputy = identity_only(json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "sqs:*", "Resource": "*"},
        {"Effect": "Deny", "Action": "sqs:*", "Resource": "*",
         "Condition": {"Null": {"aws:SourceArn": "false"}}}]}));
    assert_eq!(
        decide(
            role(),
            "sqs:SendMessage",
            QUEUE_A,
            &at_time(),
            &no_confused_deputy
        ),
        Decision::Allow,
        "a direct IAM call has no aws:SourceArn"
    );

    let own_account = identity_only(json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "sqs:*", "Resource": "*",
         "Condition": {"StringEquals": {"aws:ResourceAccount": "${aws:PrincipalAccount}"}}}]}));
    let mine = "arn:aws:sqs:eu-west-1:111122223333:q";
    assert_eq!(
        decide(role(), "sqs:SendMessage", mine, &at_time(), &own_account),
        Decision::Allow
    );
    assert_eq!(
        decide(role(), "sqs:SendMessage", QUEUE_B, &at_time(), &own_account),
        Decision::ImplicitDeny
    );

    let region_lock = identity_only(json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "*", "Resource": "*"},
        {"Effect": "Deny", "NotAction": "iam:*", "Resource": "*",
         "Condition": {"StringNotEquals": {"aws:RequestedRegion": "eu-west-1"}}}]}));
    assert_eq!(
        decide(role(), "sqs:SendMessage", mine, &at_time(), &region_lock),
        Decision::Allow
    );
    assert_eq!(
        decide(
            role(),
            "sqs:SendMessage",
            "arn:aws:sqs:us-east-1:111122223333:q",
            &at_time(),
            &region_lock
        ),
        Decision::ExplicitDeny,
        "the region comes from the resource ARN"
    );
}
