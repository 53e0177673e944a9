//! Conditions as data: the `Condition` block of a statement parsed into one condition per
//! operator and key, with the operator split into its comparison, negation, `...IfExists` and
//! set qualifier. How a condition is decided against a request is the evaluator's
//! (`evaluate::condition`).

use serde_json::Value;

/// The comparison an operator makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Base {
    /// Exact, case-sensitive string match (`StringEquals`, negated: `StringNotEquals`).
    StringEquals,
    /// String match ignoring case (`StringEqualsIgnoreCase`, `StringNotEqualsIgnoreCase`).
    StringEqualsIgnoreCase,
    /// Case-sensitive match with `*` and `?` wildcards (`StringLike`, `StringNotLike`).
    StringLike,
    /// Numbers equal (`NumericEquals`, `NumericNotEquals`).
    NumericEquals,
    /// The key's number is less than the value's.
    NumericLessThan,
    /// The key's number is less than or equal to the value's.
    NumericLessThanEquals,
    /// The key's number is greater than the value's.
    NumericGreaterThan,
    /// The key's number is greater than or equal to the value's.
    NumericGreaterThanEquals,
    /// The same instant (`DateEquals`, `DateNotEquals`); ISO 8601 dates or epoch seconds.
    DateEquals,
    /// The key's time is before the value's.
    DateLessThan,
    /// The key's time is before or at the value's.
    DateLessThanEquals,
    /// The key's time is after the value's.
    DateGreaterThan,
    /// The key's time is at or after the value's.
    DateGreaterThanEquals,
    /// `true` or `false` (`aws:SecureTransport`...).
    Bool,
    /// Base64-encoded bytes equal.
    BinaryEquals,
    /// The address lies in one of the CIDR ranges (`IpAddress`, `NotIpAddress`).
    IpAddress,
    /// `ArnEquals`, `ArnNotEquals`: AWS matches these exactly like [`Base::ArnLike`].
    ArnEquals,
    /// Case-sensitive ARN match, `*` and `?` wildcards within each colon-separated field.
    ArnLike,
    /// Whether the key is absent (`"true"`) or present (`"false"`).
    Null,
    /// An operator AWS does not define: never decided.
    Unsupported,
}

/// `ForAllValues:` or `ForAnyValue:`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetOp {
    /// Every value of the request's key must match one of the condition's values; true when the key
    /// is missing or empty.
    ForAllValues,
    /// At least one value of the request's key must match one of the condition's values; false
    /// when the key is missing or empty.
    ForAnyValue,
}

/// A parsed operator name (`ForAnyValue:StringNotLikeIfExists`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operator {
    /// The operator as written in the policy, for explanations.
    pub name: String,
    /// The comparison, with the `Not`, `IfExists` and set parts taken off.
    pub base: Base,
    /// A `Not` operator (`StringNotEquals`, `NotIpAddress`...): the comparison inverted.
    pub negated: bool,
    /// `...IfExists`: a key the request does not have makes the condition hold.
    pub if_exists: bool,
    /// The `ForAllValues:` or `ForAnyValue:` qualifier, for multi-valued keys.
    pub set: Option<SetOp>,
}

impl Operator {
    /// Parses an operator name; unknown names become `Base::Unsupported`.
    pub fn parse(name: &str) -> Operator {
        let (set, rest) = match name.split_once(':') {
            Some((q, r)) if q.eq_ignore_ascii_case("ForAllValues") => {
                (Some(SetOp::ForAllValues), r)
            }
            Some((q, r)) if q.eq_ignore_ascii_case("ForAnyValue") => (Some(SetOp::ForAnyValue), r),
            _ => (None, name),
        };
        let lower = rest.to_ascii_lowercase();
        let (core, if_exists) = match lower.strip_suffix("ifexists") {
            Some(c) => (c.to_string(), true),
            None => (lower, false),
        };
        let (base, negated) = match core.as_str() {
            "stringequals" => (Base::StringEquals, false),
            "stringnotequals" => (Base::StringEquals, true),
            "stringequalsignorecase" => (Base::StringEqualsIgnoreCase, false),
            "stringnotequalsignorecase" => (Base::StringEqualsIgnoreCase, true),
            "stringlike" => (Base::StringLike, false),
            "stringnotlike" => (Base::StringLike, true),
            "numericequals" => (Base::NumericEquals, false),
            "numericnotequals" => (Base::NumericEquals, true),
            "numericlessthan" => (Base::NumericLessThan, false),
            "numericlessthanequals" => (Base::NumericLessThanEquals, false),
            "numericgreaterthan" => (Base::NumericGreaterThan, false),
            "numericgreaterthanequals" => (Base::NumericGreaterThanEquals, false),
            "dateequals" => (Base::DateEquals, false),
            "datenotequals" => (Base::DateEquals, true),
            "datelessthan" => (Base::DateLessThan, false),
            "datelessthanequals" => (Base::DateLessThanEquals, false),
            "dategreaterthan" => (Base::DateGreaterThan, false),
            "dategreaterthanequals" => (Base::DateGreaterThanEquals, false),
            "bool" => (Base::Bool, false),
            "binaryequals" => (Base::BinaryEquals, false),
            "ipaddress" => (Base::IpAddress, false),
            "notipaddress" => (Base::IpAddress, true),
            "arnequals" => (Base::ArnEquals, false),
            "arnnotequals" => (Base::ArnEquals, true),
            "arnlike" => (Base::ArnLike, false),
            "arnnotlike" => (Base::ArnLike, true),
            "null" => (Base::Null, false),
            _ => (Base::Unsupported, false),
        };
        Operator {
            name: name.to_string(),
            base,
            negated,
            if_exists,
            set,
        }
    }
}

/// One operator applied to one key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Condition {
    /// The operator.
    pub op: Operator,
    /// The condition key as written (`aws:SourceArn`); keys compare case-insensitively.
    pub key: String,
    /// The values to compare with, compiled (numbers and booleans as text); any may match.
    pub values: Vec<super::wildcard::Pattern>,
}

/// Parses a `Condition` block into one condition per (operator, key).
pub fn parse_block(v: &Value) -> Result<Vec<Condition>, String> {
    let obj = v.as_object().ok_or("Condition is not an object")?;
    let mut out = Vec::new();
    for (op_name, keys) in obj {
        let op = Operator::parse(op_name);
        let keys = keys
            .as_object()
            .ok_or_else(|| format!("Condition operator {op_name} does not map keys to values"))?;
        for (key, vals) in keys {
            let values = match vals {
                Value::Array(a) => a.iter().map(scalar).collect::<Option<Vec<_>>>(),
                other => scalar(other).map(|s| vec![s]),
            }
            .ok_or_else(|| {
                format!("Condition {op_name} {key}: values must be strings, numbers or booleans")
            })?;
            out.push(Condition {
                op: op.clone(),
                key: key.clone(),
                values: values
                    .iter()
                    .map(|v| super::wildcard::Pattern::new(v, true))
                    .collect(),
            });
        }
    }
    Ok(out)
}

fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operator_names() {
        let o = Operator::parse("ForAnyValue:StringNotLikeIfExists");
        assert_eq!(
            (o.base, o.negated, o.if_exists, o.set),
            (Base::StringLike, true, true, Some(SetOp::ForAnyValue))
        );
        assert_eq!(Operator::parse("stringequals").base, Base::StringEquals);
        assert_eq!(Operator::parse("Bogus").base, Base::Unsupported);
    }
}
