//! Policy: the IAM policy language as data — documents, statements, conditions — separate from
//! how they are evaluated.
//!
//! Input: a policy document as AWS prints it: a JSON object, a JSON string holding one, or a
//! URL-encoded JSON string (the raw IAM API). Output: a [`Policy`] whose statements keep their
//! `Sid` and index so that a verdict can name them. Everything AWS allows as "string or array" is
//! normalised to a list. Parsing is strict about structure (an unknown `Effect` is an error) and
//! lenient about spelling AWS itself tolerates (element names are case-sensitive in AWS, so they
//! are here; condition operator names are matched case-insensitively because AWS does).

pub mod arn;
pub mod condition;
pub mod snapshot;
pub mod vocab;
pub mod wildcard;

use serde_json::Value;

pub use condition::{Condition, Operator, SetOp};

/// What went wrong with a policy document, and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    /// The text is not JSON, nor a JSON string, nor URL-encoded JSON.
    #[error("not a policy document: {0}")]
    NotJson(String),
    /// The document has no `Statement`.
    #[error("policy document has no Statement")]
    NoStatement,
    /// A statement element is malformed.
    #[error("statement {index}: {what}")]
    Statement {
        /// The statement's 0-based index.
        index: usize,
        /// What is malformed.
        what: String,
    },
}

/// Allow or Deny.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Effect {
    /// The statement grants what it matches, unless a Deny also applies.
    Allow,
    /// The statement refuses what it matches, whatever any Allow says.
    Deny,
}

/// `Action` / `NotAction`, `Resource` / `NotResource`: a list of patterns, or its complement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Matcher {
    /// True for `NotAction` / `NotResource` / `NotPrincipal`.
    pub not: bool,
    /// The patterns, compiled; each keeps its text as written (wildcards and policy variables
    /// such as `${aws:username}`).
    pub patterns: Vec<wildcard::Pattern>,
}

/// The kinds of principal a `Principal` element names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PrincipalType {
    /// `"AWS"`: an account id, an account's `root`, a role or user ARN, or `*`.
    Aws,
    /// `"Service"`: a service principal (`s3.amazonaws.com`).
    Service,
    /// `"Federated"`: an identity provider (`cognito-identity.amazonaws.com`, a SAML provider ARN).
    Federated,
    /// `"CanonicalUser"`: an S3 canonical user id.
    CanonicalUser,
}

/// A `Principal` or `NotPrincipal` element.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principals {
    /// True for `NotPrincipal`: the statement applies to everyone but the entries.
    pub not: bool,
    /// `"Principal": "*"`.
    pub any: bool,
    /// Each principal named, with the key it was listed under.
    pub entries: Vec<(PrincipalType, String)>,
}

/// One statement, with its position in the document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    /// The statement's `Sid`, when it has one.
    pub sid: Option<String>,
    /// 0-based position in the document.
    pub index: usize,
    /// `Allow` or `Deny`.
    pub effect: Effect,
    /// `Action` or `NotAction`; None when the statement has neither (it then matches no action).
    pub action: Option<Matcher>,
    /// `Resource` or `NotResource`; None when the statement has neither (trust and some resource
    /// policies): it then covers the policy's own resource.
    pub resource: Option<Matcher>,
    /// `Principal` or `NotPrincipal`; only resource and trust policies have one.
    pub principal: Option<Principals>,
    /// The `Condition` block, one entry per (operator, key); empty when there is none.
    pub conditions: Vec<Condition>,
}

/// A parsed policy document.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Policy {
    /// The `Version`; any other than `2012-10-17` (or none) makes `${...}` literal text.
    pub version: Option<String>,
    /// The document's `Id`, when it has one.
    pub id: Option<String>,
    /// The statements, in document order (a single statement object becomes a list of one).
    pub statements: Vec<Statement>,
}

/// Decodes a policy document given as a JSON object, a JSON string containing the document, or
/// a URL-encoded JSON string (`%7B%22Version%22...`).
pub fn document_value(v: &Value) -> Result<Value, PolicyError> {
    match v {
        Value::Object(_) => Ok(v.clone()),
        Value::String(s) => document_text(s),
        other => Err(PolicyError::NotJson(format!("a JSON {}", json_kind(other)))),
    }
}

/// Decodes document text: JSON, or URL-encoded JSON.
pub fn document_text(s: &str) -> Result<Value, PolicyError> {
    let t = s.trim();
    if t.starts_with('{') {
        return serde_json::from_str(t).map_err(|e| PolicyError::NotJson(e.to_string()));
    }
    if t.starts_with("%7B") || t.starts_with("%7b") {
        let decoded =
            percent_decode(t).ok_or_else(|| PolicyError::NotJson("bad URL encoding".into()))?;
        return serde_json::from_str(&decoded).map_err(|e| PolicyError::NotJson(e.to_string()));
    }
    Err(PolicyError::NotJson(format!(
        "text starting {:?}",
        t.chars().take(20).collect::<String>()
    )))
}

fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while let Some(&c) = b.get(i) {
        match c {
            b'%' => {
                let hex = s.get(i + 1..i + 3)?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            _ => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// A string or an array of strings (numbers and booleans become their text).
fn string_list(v: &Value) -> Option<Vec<String>> {
    match v {
        Value::String(s) => Some(vec![s.clone()]),
        Value::Number(n) => Some(vec![n.to_string()]),
        Value::Bool(b) => Some(vec![b.to_string()]),
        Value::Array(a) => a
            .iter()
            .map(|x| match x {
                Value::String(s) => Some(s.clone()),
                Value::Number(n) => Some(n.to_string()),
                Value::Bool(b) => Some(b.to_string()),
                _ => None,
            })
            .collect(),
        _ => None,
    }
}

impl Policy {
    /// Parses a policy document in any of the encodings AWS prints.
    pub fn parse(v: &Value) -> Result<Policy, PolicyError> {
        let doc = document_value(v)?;
        Policy::from_document(&doc)
    }

    /// Parses a decoded document object.
    pub fn from_document(doc: &Value) -> Result<Policy, PolicyError> {
        let stmts = match doc.get("Statement") {
            Some(Value::Array(a)) => a.iter().collect::<Vec<_>>(),
            Some(o @ Value::Object(_)) => vec![o],
            _ => return Err(PolicyError::NoStatement),
        };
        let version = doc
            .get("Version")
            .and_then(Value::as_str)
            .map(str::to_string);
        let mut statements = Vec::with_capacity(stmts.len());
        for (index, s) in stmts.into_iter().enumerate() {
            let mut st = statement(index, s)?;
            if version.as_deref() != Some("2012-10-17") {
                literal_variables(&mut st);
            }
            statements.push(st);
        }
        Ok(Policy {
            version,
            id: doc.get("Id").and_then(Value::as_str).map(str::to_string),
            statements,
        })
    }
}

fn statement(index: usize, s: &Value) -> Result<Statement, PolicyError> {
    let err = |what: String| PolicyError::Statement { index, what };
    let obj = s.as_object().ok_or_else(|| err("not an object".into()))?;
    let effect = match obj.get("Effect").and_then(Value::as_str) {
        Some("Allow") => Effect::Allow,
        Some("Deny") => Effect::Deny,
        Some(other) => return Err(err(format!("Effect {other:?} is neither Allow nor Deny"))),
        None => return Err(err("no Effect".into())),
    };
    let matcher = |yes: &str, no: &str| -> Result<Option<Matcher>, PolicyError> {
        match (obj.get(yes), obj.get(no)) {
            (Some(_), Some(_)) => Err(err(format!("both {yes} and {no}"))),
            (Some(v), None) => Ok(Some(Matcher {
                not: false,
                patterns: patterns(v)
                    .ok_or_else(|| err(format!("{yes} is not a string or list")))?,
            })),
            (None, Some(v)) => Ok(Some(Matcher {
                not: true,
                patterns: patterns(v)
                    .ok_or_else(|| err(format!("{no} is not a string or list")))?,
            })),
            (None, None) => Ok(None),
        }
    };
    let action = matcher("Action", "NotAction")?;
    let resource = matcher("Resource", "NotResource")?;
    let principal = match (obj.get("Principal"), obj.get("NotPrincipal")) {
        (Some(_), Some(_)) => return Err(err("both Principal and NotPrincipal".into())),
        (Some(v), None) => {
            Some(principals(v, false).ok_or_else(|| err("malformed Principal".into()))?)
        }
        (None, Some(v)) => {
            Some(principals(v, true).ok_or_else(|| err("malformed NotPrincipal".into()))?)
        }
        (None, None) => None,
    };
    let conditions = match obj.get("Condition") {
        None | Some(Value::Null) => Vec::new(),
        Some(c) => condition::parse_block(c).map_err(err)?,
    };
    Ok(Statement {
        sid: obj.get("Sid").and_then(Value::as_str).map(str::to_string),
        index,
        effect,
        action,
        resource,
        principal,
        conditions,
    })
}

/// Policy variables exist only in version 2012-10-17 documents; elsewhere `${...}` is plain
/// text, so the patterns are compiled again without them.
fn literal_variables(st: &mut Statement) {
    let plain = |p: &mut wildcard::Pattern| {
        if p.has_variables() {
            *p = p.without_variables();
        }
    };
    if let Some(r) = &mut st.resource {
        r.patterns.iter_mut().for_each(plain);
    }
    for c in &mut st.conditions {
        c.values.iter_mut().for_each(plain);
    }
}

/// A string or list of strings, each compiled.
fn patterns(v: &Value) -> Option<Vec<wildcard::Pattern>> {
    Some(
        string_list(v)?
            .iter()
            .map(|p| wildcard::Pattern::new(p, true))
            .collect(),
    )
}

fn principals(v: &Value, not: bool) -> Option<Principals> {
    match v {
        Value::String(s) if s == "*" => Some(Principals {
            not,
            any: true,
            entries: Vec::new(),
        }),
        Value::Object(m) => {
            let mut entries = Vec::new();
            for (k, val) in m {
                let t = match k.as_str() {
                    "AWS" => PrincipalType::Aws,
                    "Service" => PrincipalType::Service,
                    "Federated" => PrincipalType::Federated,
                    "CanonicalUser" => PrincipalType::CanonicalUser,
                    _ => return None,
                };
                for s in string_list(val)? {
                    entries.push((t, s));
                }
            }
            Some(Principals {
                not,
                any: false,
                entries,
            })
        }
        _ => None,
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
    use serde_json::json;

    #[test]
    fn parses_all_three_encodings() {
        let obj = json!({"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}});
        let as_string = Value::String(obj.to_string());
        let encoded = Value::String("%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%7B%22Effect%22%3A%22Allow%22%2C%22Action%22%3A%22s3%3AGetObject%22%2C%22Resource%22%3A%22%2A%22%7D%7D".into());
        let a = Policy::parse(&obj).unwrap();
        assert_eq!(a, Policy::parse(&as_string).unwrap());
        assert_eq!(a, Policy::parse(&encoded).unwrap());
        assert_eq!(
            a.statements[0].action.as_ref().unwrap().patterns,
            vec!["s3:GetObject"]
        );
    }

    #[test]
    fn keeps_sid_index_and_not_elements() {
        let p = Policy::parse(&json!({"Statement":[
            {"Sid":"A","Effect":"Allow","Action":["s3:*"],"Resource":"*"},
            {"Effect":"Deny","NotAction":"iam:*","NotResource":["arn:aws:s3:::b/*"],
             "Principal":{"AWS":["arn:aws:iam::1:root", "2"], "Service":"lambda.amazonaws.com"},
             "Condition":{"StringEquals":{"aws:username":["a","b"]}}}
        ]}))
        .unwrap();
        assert_eq!(p.statements[0].sid.as_deref(), Some("A"));
        let s = &p.statements[1];
        assert_eq!(s.index, 1);
        assert_eq!(s.effect, Effect::Deny);
        assert!(s.action.as_ref().unwrap().not && s.resource.as_ref().unwrap().not);
        assert_eq!(s.principal.as_ref().unwrap().entries.len(), 3);
        assert_eq!(s.conditions.len(), 1);
    }

    #[test]
    fn rejects_malformed() {
        assert!(Policy::parse(&json!({"Statement":[{"Effect":"Maybe"}]})).is_err());
        assert!(Policy::parse(&json!({"Version":"2012-10-17"})).is_err());
        assert!(Policy::parse(&json!("not json")).is_err());
        assert!(
            Policy::parse(&json!({"Statement":[{"Effect":"Allow","Action":"a","NotAction":"b"}]}))
                .is_err()
        );
    }
}
