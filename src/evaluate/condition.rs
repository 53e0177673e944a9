//! Conditions decided against a request context: the context a condition or policy variable
//! asks, and the evaluation of each operator.
//!
//! Semantics, as the IAM User Guide documents them:
//! - Several operators in a block, and several keys under one operator, are ANDed; several values
//!   for one key are ORed (for negated operators: the key must match none of them).
//! - A key missing from the request makes a condition false, except for negated operators
//!   (`StringNotEquals`, `ArnNotLike`, `NotIpAddress`...) where it is true, `...IfExists` where it
//!   is true, and `Null`, which tests exactly that.
//! - `ForAllValues:` is true when every request value matches some policy value, and also when
//!   the key is missing or empty; `ForAnyValue:` needs at least one matching value and is false
//!   when the key is missing or empty.
//! - A key whose value the log does not reveal makes the condition *unknown*, never a guess: the
//!   result names the key.

use std::net::IpAddr;

use crate::policy::condition::{Base, Condition, Operator, SetOp};
use crate::policy::wildcard::{Pattern, Var, VarError, Vars};

/// What the request context knows about a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyState<'a> {
    /// The key is in the request, with these values.
    Present(&'a [String]),
    /// The key is certainly not in the request.
    Absent,
    /// The log does not say.
    Unknown,
}

/// A request context: what a condition or policy variable can ask about.
pub trait Lookup {
    /// The state of `key` (condition keys are case-insensitive).
    fn get(&self, key: &str) -> KeyState<'_>;
}

/// A simple map-backed context, keys lower-cased. Keys neither set nor marked absent are
/// unknown, unless `closed` is set (then they are absent).
#[derive(Debug, Clone, Default)]
pub struct MapContext {
    values: std::collections::HashMap<String, Vec<String>>,
    absent: std::collections::HashSet<String>,
    /// Key prefixes (lower-cased, e.g. `aws:principaltag/`) whose unset keys are absent: the
    /// principal's tags are known, so a tag not among them is certainly not there.
    absent_prefixes: Vec<String>,
    /// Every key not set is absent (for tests and for `simulate` with a closed context).
    pub closed: bool,
}

impl MapContext {
    /// Sets a key's values.
    pub fn set(&mut self, key: &str, values: &[&str]) {
        let k = key.to_ascii_lowercase();
        self.absent.remove(&k);
        self.values
            .insert(k, values.iter().map(|v| v.to_string()).collect());
    }
    /// Sets a key from owned values.
    pub fn set_owned(&mut self, key: &str, values: Vec<String>) {
        let k = key.to_ascii_lowercase();
        self.absent.remove(&k);
        self.values.insert(k, values);
    }
    /// Adds a value to a key (making it multi-valued).
    pub fn push(&mut self, key: &str, value: &str) {
        let k = key.to_ascii_lowercase();
        self.absent.remove(&k);
        self.values.entry(k).or_default().push(value.to_string());
    }
    /// Marks a key as certainly absent.
    pub fn absent(&mut self, key: &str) {
        let k = key.to_ascii_lowercase();
        self.values.remove(&k);
        self.absent.insert(k);
    }
    /// Marks every unset key under a prefix (`aws:PrincipalTag/`) as absent.
    pub fn absent_prefix(&mut self, prefix: &str) {
        self.absent_prefixes.push(prefix.to_ascii_lowercase());
    }

    /// Whether the key has been set or marked absent.
    pub fn knows(&self, key: &str) -> bool {
        let k = key.to_ascii_lowercase();
        self.values.contains_key(&k) || self.absent.contains(&k)
    }
}

impl Lookup for MapContext {
    fn get(&self, key: &str) -> KeyState<'_> {
        let k = key.to_ascii_lowercase();
        if let Some(v) = self.values.get(&k) {
            return KeyState::Present(v);
        }
        if self.closed
            || self.absent.contains(&k)
            || self
                .absent_prefixes
                .iter()
                .any(|p| k.starts_with(p.as_str()))
        {
            KeyState::Absent
        } else {
            KeyState::Unknown
        }
    }
}

/// A context's answers as the wildcard matcher asks them: a variable's first value.
pub struct AsVars<'a>(pub &'a dyn Lookup);

impl Vars for AsVars<'_> {
    fn var(&self, key: &str) -> Var<'_> {
        match self.0.get(key) {
            KeyState::Present(v) => Var::Value(v.first().map(String::as_str).unwrap_or_default()),
            KeyState::Absent => Var::Absent,
            KeyState::Unknown => Var::Unknown,
        }
    }
}

/// A three-valued result: a condition holds, does not, or cannot be decided for want of a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tri {
    /// The condition holds.
    True,
    /// The condition does not hold.
    False,
    /// Undecided: these keys were needed and are not known.
    Unknown(Vec<String>),
}

impl Tri {
    /// AND of two results: false wins, then unknown (keys merged).
    pub fn and(self, other: Tri) -> Tri {
        match (self, other) {
            (Tri::False, _) | (_, Tri::False) => Tri::False,
            (Tri::Unknown(mut a), Tri::Unknown(b)) => {
                for k in b {
                    if !a.contains(&k) {
                        a.push(k);
                    }
                }
                Tri::Unknown(a)
            }
            (Tri::Unknown(a), Tri::True) | (Tri::True, Tri::Unknown(a)) => Tri::Unknown(a),
            (Tri::True, Tri::True) => Tri::True,
        }
    }

    fn from_bool(b: bool) -> Tri {
        if b { Tri::True } else { Tri::False }
    }
}

/// Evaluates every condition (AND).
pub fn evaluate_all(conds: &[Condition], ctx: &dyn Lookup) -> Tri {
    let mut acc = Tri::True;
    for c in conds {
        acc = acc.and(evaluate(c, ctx));
        if acc == Tri::False {
            break;
        }
    }
    acc
}

/// Evaluates one condition.
pub fn evaluate(c: &Condition, ctx: &dyn Lookup) -> Tri {
    let op = &c.op;
    if op.base == Base::Unsupported {
        return Tri::Unknown(vec![format!("{} (operator not supported)", op.name)]);
    }
    let state = ctx.get(&c.key);
    if op.base == Base::Null {
        let want_absent = c.values.iter().any(|v| v.eq_ignore_ascii_case("true"));
        return match state {
            KeyState::Unknown => Tri::Unknown(vec![c.key.clone()]),
            KeyState::Absent => Tri::from_bool(want_absent),
            KeyState::Present(v) => Tri::from_bool(if v.is_empty() {
                want_absent
            } else {
                !want_absent
            }),
        };
    }
    let values = match state {
        KeyState::Unknown => return Tri::Unknown(vec![c.key.clone()]),
        KeyState::Absent => &[][..],
        KeyState::Present(v) => v,
    };
    match op.set {
        Some(SetOp::ForAllValues) => {
            if values.is_empty() {
                return Tri::True;
            }
            let mut acc = Tri::True;
            for v in values {
                let any = any_match(op, v, &c.values, ctx);
                let r = if op.negated { not(any) } else { any };
                acc = acc.and(r);
            }
            acc
        }
        Some(SetOp::ForAnyValue) => {
            if values.is_empty() {
                return Tri::from_bool(op.if_exists);
            }
            let mut unknown = None;
            for v in values {
                let any = any_match(op, v, &c.values, ctx);
                match if op.negated { not(any) } else { any } {
                    Tri::True => return Tri::True,
                    Tri::Unknown(k) => unknown = Some(k),
                    Tri::False => {}
                }
            }
            unknown.map(Tri::Unknown).unwrap_or(Tri::False)
        }
        None => {
            if values.is_empty() {
                return Tri::from_bool(op.if_exists || op.negated);
            }
            // A multi-valued key with a single-valued operator: any value may match.
            let mut any = Tri::False;
            for v in values {
                match any_match(op, v, &c.values, ctx) {
                    Tri::True => {
                        any = Tri::True;
                        break;
                    }
                    Tri::Unknown(k) => any = Tri::Unknown(k),
                    Tri::False => {}
                }
            }
            if op.negated { not(any) } else { any }
        }
    }
}

fn not(t: Tri) -> Tri {
    match t {
        Tri::True => Tri::False,
        Tri::False => Tri::True,
        u => u,
    }
}

/// Whether the request value matches any of the policy values.
fn any_match(op: &Operator, value: &str, policy: &[Pattern], ctx: &dyn Lookup) -> Tri {
    let mut unknown = None;
    for p in policy {
        match one(op.base, value, p, ctx) {
            Tri::True => return Tri::True,
            Tri::Unknown(k) => unknown = Some(k),
            Tri::False => {}
        }
    }
    unknown.map(Tri::Unknown).unwrap_or(Tri::False)
}

fn var_result(r: Result<bool, VarError>) -> Tri {
    match r {
        Ok(b) => Tri::from_bool(b),
        Err(VarError::Absent(_)) => Tri::False,
        Err(VarError::Unknown(k)) => Tri::Unknown(vec![k]),
    }
}

fn one(base: Base, value: &str, pattern: &Pattern, ctx: &dyn Lookup) -> Tri {
    let vars = AsVars(ctx);
    let policy = pattern.as_str();
    match base {
        Base::StringEquals => var_result(pattern.equals(value, false, Some(&vars))),
        Base::StringEqualsIgnoreCase => var_result(pattern.equals(value, true, Some(&vars))),
        Base::StringLike => var_result(pattern.matches(value, false, Some(&vars))),
        Base::ArnEquals | Base::ArnLike => var_result(pattern.matches_arn(value, Some(&vars))),
        Base::NumericEquals
        | Base::NumericLessThan
        | Base::NumericLessThanEquals
        | Base::NumericGreaterThan
        | Base::NumericGreaterThanEquals => {
            let (Ok(v), Ok(p)) = (value.trim().parse::<f64>(), policy.trim().parse::<f64>()) else {
                return Tri::False;
            };
            Tri::from_bool(match base {
                Base::NumericEquals => v == p,
                Base::NumericLessThan => v < p,
                Base::NumericLessThanEquals => v <= p,
                Base::NumericGreaterThan => v > p,
                _ => v >= p,
            })
        }
        Base::DateEquals
        | Base::DateLessThan
        | Base::DateLessThanEquals
        | Base::DateGreaterThan
        | Base::DateGreaterThanEquals => {
            let (Some(v), Some(p)) = (date(value), date(policy)) else {
                return Tri::False;
            };
            Tri::from_bool(match base {
                Base::DateEquals => v == p,
                Base::DateLessThan => v < p,
                Base::DateLessThanEquals => v <= p,
                Base::DateGreaterThan => v > p,
                _ => v >= p,
            })
        }
        Base::Bool => Tri::from_bool(value.trim().eq_ignore_ascii_case(policy.trim())),
        Base::BinaryEquals => Tri::from_bool(value.trim() == policy.trim()),
        Base::IpAddress => Tri::from_bool(ip_in(value, policy)),
        Base::Null | Base::Unsupported => Tri::False,
    }
}

/// Dates: ISO 8601 (with or without time or zone) or epoch seconds.
fn date(s: &str) -> Option<i64> {
    let t = s.trim();
    if let Ok(n) = t.parse::<i64>() {
        return Some(n * 1000);
    }
    if let Ok(ts) = t.parse::<jiff::Timestamp>() {
        return Some(ts.as_millisecond());
    }
    if let Ok(dt) = t.trim_end_matches('Z').parse::<jiff::civil::DateTime>() {
        return dt
            .to_zoned(jiff::tz::TimeZone::UTC)
            .ok()
            .map(|z| z.timestamp().as_millisecond());
    }
    if let Ok(d) = t.parse::<jiff::civil::Date>() {
        return d
            .to_zoned(jiff::tz::TimeZone::UTC)
            .ok()
            .map(|z| z.timestamp().as_millisecond());
    }
    None
}

/// Whether `ip` lies in `cidr` (an address without a prefix length is a /32 or /128).
pub fn ip_in(ip: &str, cidr: &str) -> bool {
    let Ok(addr) = ip.trim().parse::<IpAddr>() else {
        return false;
    };
    let (net, len) = match cidr.trim().split_once('/') {
        Some((n, l)) => (n, l.parse::<u32>().ok()),
        None => (cidr.trim(), None),
    };
    let Ok(net) = net.parse::<IpAddr>() else {
        return false;
    };
    match (addr, net) {
        (IpAddr::V4(a), IpAddr::V4(n)) => {
            let len = len.unwrap_or(32).min(32);
            let mask = if len == 0 { 0 } else { u32::MAX << (32 - len) };
            (u32::from(a) & mask) == (u32::from(n) & mask)
        }
        (IpAddr::V6(a), IpAddr::V6(n)) => {
            let len = len.unwrap_or(128).min(128);
            let mask = if len == 0 {
                0
            } else {
                u128::MAX << (128 - len)
            };
            (u128::from(a) & mask) == (u128::from(n) & mask)
        }
        (IpAddr::V4(a), IpAddr::V6(n)) => {
            // An IPv4 request against an IPv4-mapped IPv6 network.
            let mapped = u128::from(a.to_ipv6_mapped());
            let len = len.unwrap_or(128).min(128);
            let mask = if len == 0 {
                0
            } else {
                u128::MAX << (128 - len)
            };
            (mapped & mask) == (u128::from(n) & mask)
        }
        (IpAddr::V6(_), IpAddr::V4(_)) => false,
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
    use crate::policy::condition::parse_block;
    use serde_json::{Value, json};

    fn eval(block: Value, ctx: &MapContext) -> Tri {
        evaluate_all(&parse_block(&block).unwrap(), ctx)
    }

    fn ctx() -> MapContext {
        let mut c = MapContext::default();
        c.set("aws:SourceIp", &["203.0.113.7"]);
        c.set("aws:username", &["alice"]);
        c.set("aws:CurrentTime", &["2026-11-20T10:00:00Z"]);
        c.set("aws:SecureTransport", &["true"]);
        c.set("s3:max-keys", &["10"]);
        c.set("aws:TagKeys", &["team", "env"]);
        c.set("aws:SourceArn", &["arn:aws:s3:::bucket"]);
        c.absent("aws:PrincipalTag/missing");
        c.absent("aws:RequestTag/x");
        c
    }

    #[test]
    fn operators() {
        let c = ctx();
        assert_eq!(
            eval(
                json!({"StringEquals": {"aws:username": ["bob", "alice"]}}),
                &c
            ),
            Tri::True
        );
        assert_eq!(
            eval(
                json!({"StringNotEquals": {"aws:username": ["bob", "alice"]}}),
                &c
            ),
            Tri::False
        );
        assert_eq!(
            eval(
                json!({"StringEqualsIgnoreCase": {"aws:username": "ALICE"}}),
                &c
            ),
            Tri::True
        );
        assert_eq!(
            eval(json!({"StringLike": {"aws:username": "a*"}}), &c),
            Tri::True
        );
        assert_eq!(
            eval(json!({"StringNotLike": {"aws:username": "b*"}}), &c),
            Tri::True
        );
        assert_eq!(
            eval(json!({"NumericLessThanEquals": {"s3:max-keys": "10"}}), &c),
            Tri::True
        );
        assert_eq!(
            eval(json!({"NumericGreaterThan": {"s3:max-keys": 10}}), &c),
            Tri::False
        );
        assert_eq!(
            eval(
                json!({"DateLessThan": {"aws:CurrentTime": "2027-01-01"}}),
                &c
            ),
            Tri::True
        );
        assert_eq!(
            eval(
                json!({"DateGreaterThan": {"aws:CurrentTime": "2026-11-20T10:00:01Z"}}),
                &c
            ),
            Tri::False
        );
        assert_eq!(
            eval(json!({"Bool": {"aws:SecureTransport": false}}), &c),
            Tri::False
        );
        assert_eq!(
            eval(json!({"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}}), &c),
            Tri::True
        );
        assert_eq!(
            eval(
                json!({"NotIpAddress": {"aws:SourceIp": ["10.0.0.0/8", "203.0.113.0/24"]}}),
                &c
            ),
            Tri::False
        );
        assert_eq!(
            eval(
                json!({"ArnLike": {"aws:SourceArn": "arn:aws:s3:::buck*"}}),
                &c
            ),
            Tri::True
        );
        assert_eq!(
            eval(
                json!({"ArnNotEquals": {"aws:SourceArn": "arn:aws:s3:::other"}}),
                &c
            ),
            Tri::True
        );
        assert_eq!(
            eval(json!({"Null": {"aws:PrincipalTag/missing": "true"}}), &c),
            Tri::True
        );
        assert_eq!(
            eval(json!({"Null": {"aws:username": "true"}}), &c),
            Tri::False
        );
        assert_eq!(
            eval(
                json!({"StringEquals": {"aws:username": "${aws:username}"}}),
                &c
            ),
            Tri::True
        );
    }

    #[test]
    fn missing_keys_and_if_exists() {
        let c = ctx();
        assert_eq!(
            eval(json!({"StringEquals": {"aws:RequestTag/x": "a"}}), &c),
            Tri::False
        );
        assert_eq!(
            eval(json!({"StringNotEquals": {"aws:RequestTag/x": "a"}}), &c),
            Tri::True
        );
        assert_eq!(
            eval(
                json!({"StringEqualsIfExists": {"aws:RequestTag/x": "a"}}),
                &c
            ),
            Tri::True
        );
        assert_eq!(
            eval(json!({"StringEqualsIfExists": {"aws:username": "bob"}}), &c),
            Tri::False
        );
        // A key the log does not reveal: unknown, naming it.
        assert_eq!(
            eval(json!({"StringEquals": {"aws:PrincipalOrgID": "o-1"}}), &c),
            Tri::Unknown(vec!["aws:PrincipalOrgID".into()])
        );
        // False beats unknown.
        assert_eq!(
            eval(
                json!({"StringEquals": {"aws:PrincipalOrgID": "o-1", "aws:username": "bob"}}),
                &c
            ),
            Tri::False
        );
    }

    #[test]
    fn set_operators() {
        let c = ctx();
        assert_eq!(
            eval(
                json!({"ForAllValues:StringEquals": {"aws:TagKeys": ["team", "env", "x"]}}),
                &c
            ),
            Tri::True
        );
        assert_eq!(
            eval(
                json!({"ForAllValues:StringEquals": {"aws:TagKeys": ["team"]}}),
                &c
            ),
            Tri::False
        );
        assert_eq!(
            eval(
                json!({"ForAnyValue:StringEquals": {"aws:TagKeys": ["team"]}}),
                &c
            ),
            Tri::True
        );
        assert_eq!(
            eval(
                json!({"ForAnyValue:StringEquals": {"aws:TagKeys": ["nope"]}}),
                &c
            ),
            Tri::False
        );
        // Missing key: ForAllValues is true, ForAnyValue false.
        assert_eq!(
            eval(
                json!({"ForAllValues:StringEquals": {"aws:RequestTag/x": ["a"]}}),
                &c
            ),
            Tri::True
        );
        assert_eq!(
            eval(
                json!({"ForAnyValue:StringEquals": {"aws:RequestTag/x": ["a"]}}),
                &c
            ),
            Tri::False
        );
        assert_eq!(
            eval(
                json!({"ForAllValues:StringNotEquals": {"aws:TagKeys": ["secret"]}}),
                &c
            ),
            Tri::True
        );
        assert_eq!(
            eval(
                json!({"ForAnyValue:StringNotEquals": {"aws:TagKeys": ["team", "env"]}}),
                &c
            ),
            Tri::False
        );
    }

    #[test]
    fn cidrs() {
        assert!(ip_in("10.1.2.3", "10.0.0.0/8"));
        assert!(!ip_in("11.1.2.3", "10.0.0.0/8"));
        assert!(ip_in("2001:db8::1", "2001:db8::/32"));
        assert!(!ip_in("2001:db9::1", "2001:db8::/32"));
        assert!(ip_in("1.2.3.4", "1.2.3.4"));
        assert!(ip_in("1.2.3.4", "0.0.0.0/0"));
        assert!(!ip_in("not-an-ip", "0.0.0.0/0"));
    }
}
