//! Evaluation throughput on a real export: every role and user of the cloudsplaining
//! `get-account-authorization-details` example, each asked a mix of the calls Lambda functions
//! make. Gathering (SQLite reads) is measured apart from evaluation itself.
//!
//! Run: `cargo bench --bench evaluate`. Needs `../shared/corpus`; without it the benchmark says
//! so and measures nothing.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "a benchmark: a panic is its error report"
)]

use std::path::Path;

use divan::counter::ItemsCount;
use whydenied::evaluate::gather::{self, PolicySource};
use whydenied::evaluate::{Caller, PolicySet, Request, RequestContext, context::Facts, evaluate};
use whydenied::rules::Rules;
use whydenied::store::Store;

const MIX: [(&str, &str); 8] = [
    (
        "s3:GetObject",
        "arn:aws:s3:::orders-bucket/templates/invoice.html",
    ),
    (
        "sqs:ReceiveMessage",
        "arn:aws:sqs:us-east-1:200611803367:orders",
    ),
    ("iam:PassRole", "arn:aws:iam::200611803367:role/orders-role"),
    (
        "ec2:RunInstances",
        "arn:aws:ec2:us-east-1:200611803367:instance/*",
    ),
    (
        "kms:Decrypt",
        "arn:aws:kms:us-east-1:200611803367:key/1234abcd-12ab-34cd-56ef-1234567890ab",
    ),
    (
        "lambda:InvokeFunction",
        "arn:aws:lambda:us-east-1:200611803367:function:orders",
    ),
    (
        "dynamodb:PutItem",
        "arn:aws:dynamodb:us-east-1:200611803367:table/Orders",
    ),
    (
        "logs:PutLogEvents",
        "arn:aws:logs:us-east-1:200611803367:log-group:/aws/lambda/orders:*",
    ),
];

struct Case {
    caller: Caller,
    action: &'static str,
    resource: &'static str,
    set: PolicySet,
    ctx: RequestContext,
}

fn setup() -> Option<(tempfile::TempDir, Vec<Case>)> {
    let export = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/corpus/iam/cloudsplaining/example-account-authorization-details.json");
    if !export.exists() {
        eprintln!("SKIPPED: {} is absent", export.display());
        return None;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(&dir.path().join("b.db")).unwrap();
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&export).unwrap()).unwrap();
    let imp = whydenied::import::recognise(&v, &Default::default()).unwrap();
    store.import(&imp, "bench").unwrap();
    let rules = Rules::embedded().unwrap();
    let mut cases = Vec::new();
    let principals: Vec<String> = v["RoleDetailList"]
        .as_array()
        .unwrap()
        .iter()
        .chain(v["UserDetailList"].as_array().unwrap())
        .map(|p| p["Arn"].as_str().unwrap().to_string())
        .collect();
    for arn in &principals {
        let p = store.principal(arn).unwrap();
        for (action, resource) in MIX {
            let caller = Caller::Iam {
                arn: arn.clone(),
                session_arn: None,
                account: p.account.clone(),
            };
            let (set, _) = gather::gather(
                &store,
                &rules,
                &caller,
                action,
                resource,
                Default::default(),
            );
            let ctx = RequestContext::derive(&caller, resource, &Facts::default());
            cases.push(Case {
                caller,
                action,
                resource,
                set,
                ctx,
            });
        }
    }
    Some((dir, cases))
}

fn main() {
    divan::main();
}

#[divan::bench]
fn evaluate_mix(bencher: divan::Bencher) {
    let Some((_dir, cases)) = setup() else { return };
    bencher
        .counter(ItemsCount::new(cases.len()))
        .bench_local(|| {
            let mut allowed = 0usize;
            for c in &cases {
                let req = Request {
                    caller: c.caller.clone(),
                    action: c.action,
                    resource: c.resource,
                    context: &c.ctx,
                };
                if evaluate(&req, &c.set).decision == whydenied::evaluate::Decision::Allow {
                    allowed += 1;
                }
            }
            divan::black_box(allowed)
        });
}

#[divan::bench(sample_count = 10)]
fn gather_and_evaluate_mix(bencher: divan::Bencher) {
    let Some((dir, cases)) = setup() else { return };
    let store = Store::open_existing(&dir.path().join("b.db"))
        .unwrap()
        .unwrap();
    let rules = Rules::embedded().unwrap();
    bencher
        .counter(ItemsCount::new(cases.len()))
        .bench_local(|| {
            let mut allowed = 0usize;
            for c in &cases {
                let (set, _) = gather::gather(
                    &store,
                    &rules,
                    &c.caller,
                    c.action,
                    c.resource,
                    Default::default(),
                );
                let req = Request {
                    caller: c.caller.clone(),
                    action: c.action,
                    resource: c.resource,
                    context: &c.ctx,
                };
                if evaluate(&req, &set).decision == whydenied::evaluate::Decision::Allow {
                    allowed += 1;
                }
            }
            divan::black_box(allowed)
        });
}
