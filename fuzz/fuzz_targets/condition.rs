//! Condition blocks evaluated against a context whose keys come from the input too, and whole
//! statements through the evaluator.
#![no_main]
use libfuzzer_sys::fuzz_target;
use whydenied::evaluate::{Caller, NamedPolicy, PolicyKind, PolicySet, Request, evaluate};
use whydenied::evaluate::condition::{MapContext, evaluate_all};
use whydenied::policy::condition::parse_block;

fuzz_target!(|data: &[u8]| {
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(data) else { return };
    let mut ctx = MapContext::default();
    if let Some(obj) = v.get("context").and_then(|c| c.as_object()) {
        for (k, val) in obj {
            match val {
                serde_json::Value::Array(a) => {
                    for x in a {
                        if let Some(s) = x.as_str() {
                            ctx.push(k, s);
                        }
                    }
                }
                serde_json::Value::Null => ctx.absent(k),
                other => ctx.set(k, &[other.to_string().as_str()]),
            }
        }
    }
    if let Some(block) = v.get("condition") {
        if let Ok(conds) = parse_block(block) {
            let _ = evaluate_all(&conds, &ctx);
        }
    }
    if let Some(doc) = v.get("policy") {
        if let Ok(policy) = whydenied::policy::Policy::parse(doc) {
            let set = PolicySet {
                identity: vec![NamedPolicy { name: "p".into(), kind: PolicyKind::Identity, policy: policy.clone().into() }],
                resource: Some(NamedPolicy { name: "r".into(), kind: PolicyKind::Resource, policy: policy.into() }),
                identity_known: true,
                ..PolicySet::default()
            };
            let action = v.get("action").and_then(|a| a.as_str()).unwrap_or("s3:GetObject");
            let resource = v.get("resource").and_then(|a| a.as_str()).unwrap_or("arn:aws:s3:::b/k");
            let caller = Caller::Iam {
                arn: "arn:aws:iam::111122223333:role/r".into(),
                session_arn: Some("arn:aws:sts::111122223333:assumed-role/r/s".into()),
                account: "111122223333".into(),
            };
            let _ = evaluate(&Request { caller, action, resource, context: &ctx }, &set);
        }
    }
});
