//! Writing a whole resource policy back: the per-service commands of `rules/put_back.json`,
//! filled in for one resource.

use crate::policy::arn::{self, Arn};
use crate::rules::Rules;

/// The command that replaces the policy of `arn` (or, with `trust`, the trust policy of the
/// role `arn`) by `doc`; None when the service has no such command in the catalog.
pub fn command(rules: &Rules, arn: &str, doc: &serde_json::Value, trust: bool) -> Option<String> {
    let text = serde_json::to_string(doc).ok()?;
    let parsed = Arn::parse(arn)?;
    let key = if trust { "trust" } else { parsed.service };
    let template = rules.put_back.get(key)?;
    let (name, id) = match parsed.resource.split_once('/') {
        Some((n, i)) => (n, i),
        None => (parsed.resource, parsed.resource),
    };
    let role = if trust { arn::role_name(arn) } else { None };
    let attributes = serde_json::json!({ "Policy": text }).to_string();
    let value = |k: &str| -> Option<&str> {
        Some(match k {
            "arn" => arn,
            "name" => name,
            "id" => id,
            "region" => parsed.region,
            "account" => parsed.account,
            "role" => role?,
            "policy_attributes" => attributes.as_str(),
            "policy" => text.as_str(),
            _ => return None,
        })
    };
    // One pass over the template, so that nothing a value holds is read as a placeholder.
    let mut args = Vec::with_capacity(template.len());
    for t in template {
        let mut out = String::new();
        let mut rest = t.as_str();
        while let Some((before, after)) = rest.split_once('{') {
            let (name, tail) = after.split_once('}')?;
            out.push_str(before);
            out.push_str(value(name)?);
            rest = tail;
        }
        out.push_str(rest);
        args.push(out);
    }
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    Some(super::command(&refs))
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    reason = "tests fail by panicking"
)]
mod tests {
    use super::*;

    fn words(arn: &str, trust: bool) -> Vec<String> {
        let rules = Rules::embedded().unwrap();
        let doc = serde_json::json!({"Version": "2012-10-17", "Statement": []});
        shlex::split(&command(&rules, arn, &doc, trust).expect("a command")).unwrap()
    }

    #[test]
    fn each_service_gets_its_own_put_back_command() {
        let w = words("arn:aws:sqs:eu-west-1:111122223333:jobs", false);
        assert!(w.contains(&"https://sqs.eu-west-1.amazonaws.com/111122223333/jobs".to_string()));
        let attrs = w.last().unwrap();
        let v: serde_json::Value = serde_json::from_str(attrs).unwrap();
        assert!(v["Policy"].as_str().unwrap().contains("2012-10-17"));
        let w = words(
            "arn:aws:ecr:us-west-2:123456789012:repository/project-a/nginx",
            false,
        );
        assert!(w.contains(&"project-a/nginx".to_string()), "{w:?}");
        let w = words("arn:aws:iam::111122223333:role/service/app-role", true);
        assert!(w.contains(&"app-role".to_string()), "{w:?}");
        let w = words("arn:aws:s3:::my-bucket", false);
        assert!(w.contains(&"my-bucket".to_string()), "{w:?}");
    }

    #[test]
    fn a_value_holding_braces_is_not_read_as_a_placeholder() {
        let w = words("arn:aws:sns:us-east-1:111122223333:t{policy}", false);
        assert!(
            w.contains(&"arn:aws:sns:us-east-1:111122223333:t{policy}".to_string()),
            "{w:?}"
        );
    }

    #[test]
    fn a_service_without_a_put_back_command_has_none() {
        let rules = Rules::embedded().unwrap();
        let doc = serde_json::json!({});
        assert!(command(&rules, "arn:aws:lambda:us-east-1:1:function:f", &doc, false).is_none());
    }
}
