//! The resource types of the Service Authorization Reference (`rules/resource_types.txt`):
//! which ARN formats each action takes, so that a suggested statement names resources the
//! action can be granted on, and builds them when the log names none.

use std::cmp::Ordering;
use std::collections::HashMap;

use super::caseless;

/// One resource type an action takes, borrowed from the embedded catalog.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ActionType {
    /// The type's name in the reference (`key`, `function`, `network-interface`).
    pub name: &'static str,
    /// Its ARN format (`arn:${Partition}:kms:${Region}:${Account}:key/${KeyId}`).
    pub arn: &'static str,
    /// Whether the action requires it (`ec2:RunInstances` requires several).
    pub required: bool,
}

/// Every action's resource types: the catalog's lines, found by binary search and read when
/// asked (a fix asks for a few actions; fourteen thousand parsed up front were megabytes).
#[derive(Debug, Default)]
pub struct ResourceTypes {
    /// `(prefix, type name)` → ARN format.
    formats: HashMap<(&'static str, &'static str), &'static str>,
    /// `(action, its tab-separated types)`, ordered by action compared case-blind.
    actions: Vec<(&'static str, &'static str)>,
}

impl ResourceTypes {
    /// Indexes the catalog text; malformed lines are skipped (the file is generated).
    pub fn parse(text: &'static str) -> ResourceTypes {
        let mut formats = HashMap::with_capacity(2_500);
        let mut actions = Vec::with_capacity(15_000);
        for line in text.lines() {
            if line.starts_with('#') || line.is_empty() {
                continue;
            }
            let (first, rest) = line.split_once('\t').unwrap_or((line, ""));
            if first == "@" {
                let mut f = rest.split('\t');
                if let (Some(p), Some(n), Some(arn)) = (f.next(), f.next(), f.next()) {
                    formats.insert((p, n), arn);
                }
            } else {
                actions.push((first, rest));
            }
        }
        // Stable: of two spellings of one action, the later line wins, as a map's insert did.
        actions.sort_by(|a, b| caseless(a.0, b.0));
        let mut kept: Vec<(&'static str, &'static str)> = Vec::with_capacity(actions.len());
        for a in actions {
            match kept.last_mut() {
                Some(last) if caseless(last.0, a.0) == Ordering::Equal => *last = a,
                _ => kept.push(a),
            }
        }
        ResourceTypes {
            formats,
            actions: kept,
        }
    }

    /// The types an action takes (any case); empty for an action that takes none (only `*`).
    pub fn of(&self, action: &str) -> Vec<ActionType> {
        let Ok(i) = self.actions.binary_search_by(|(a, _)| caseless(a, action)) else {
            return Vec::new();
        };
        let Some(&(name, types)) = self.actions.get(i) else {
            return Vec::new();
        };
        let prefix = name.split(':').next().unwrap_or_default();
        types
            .split('\t')
            .filter(|t| !t.is_empty())
            .filter_map(|t| {
                let (type_name, required) = match t.strip_suffix('*') {
                    Some(n) => (n, true),
                    None => (t, false),
                };
                self.formats
                    .get_key_value(&(prefix, type_name))
                    .map(|(&(_, name), &arn)| ActionType {
                        name,
                        arn,
                        required,
                    })
            })
            .collect()
    }
}

/// Whether a statement's resource (wildcards allowed) can name a resource of this ARN format.
/// Variables in the account and region fields match within the field; in the resource part
/// they match anything, since names hold `/` and `:` (a DynamoDB stream's label).
pub fn arn_fits(resource: &str, format: &str) -> bool {
    if resource == "*" {
        return true;
    }
    // Split both into the five ARN fields and the resource part.
    let (Some(r), Some(f)) = (split6(resource), split6(format)) else {
        return false;
    };
    for (a, b) in r.iter().zip(f.iter()).take(5) {
        if !field_fits(a, b) {
            return false;
        }
    }
    let (Some(rr), Some(fr)) = (r.get(5), f.get(5)) else {
        return false;
    };
    part_fits(rr.as_bytes(), fr.as_bytes())
}

fn split6(s: &str) -> Option<Vec<&str>> {
    let v: Vec<&str> = s.splitn(6, ':').collect();
    (v.len() == 6).then_some(v)
}

/// One ARN field: a variable or wildcard matches any value (empty included).
fn field_fits(value: &str, format: &str) -> bool {
    format.starts_with("${") || value.contains(['*', '?']) || value == format
}

/// One unit of a pattern: a literal byte, or a run of any bytes (a value's `*`, a format's
/// `${Var}`), or any one byte (a value's `?`).
#[derive(Clone, Copy, PartialEq)]
enum Unit {
    Byte(u8),
    Run,
    One,
}

fn units(s: &[u8], vars: bool) -> Vec<Unit> {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while let Some(&c) = s.get(i) {
        if vars && c == b'$' && s.get(i + 1) == Some(&b'{') {
            let end = s
                .get(i..)
                .and_then(|r| r.iter().position(|&b| b == b'}'))
                .map(|k| i + k + 1);
            if let Some(e) = end {
                out.push(Unit::Run);
                i = e;
                continue;
            }
        }
        out.push(match (vars, c) {
            (false, b'*') => Unit::Run,
            (false, b'?') => Unit::One,
            _ => Unit::Byte(c),
        });
        i += 1;
    }
    out
}

/// The resource part: whether some name matches both the value (with its wildcards) and the
/// format (with its variables). Dynamic programming over both, so hostile values cost at most
/// their length times the format's.
fn part_fits(value: &[u8], format: &[u8]) -> bool {
    const MAX: usize = 4096;
    if value.len() > MAX || format.len() > MAX {
        return false;
    }
    // Most values are a log's literal ARN: matching it is a search for the format's pieces,
    // not a table (a suggestion checks each resource against every type its action takes).
    if !value.iter().any(|&b| b == b'*' || b == b'?') {
        return literal_fits(value, format);
    }
    let (v, f) = (units(value, false), units(format, true));
    let m = f.len();
    // One row of the table per unit of the value: row[j] says that the units of the value so
    // far and the first j of the format can match alike.
    let mut row = vec![false; m + 1];
    let mut next = vec![false; m + 1];
    if let Some(c) = row.get_mut(0) {
        *c = true;
    }
    for i in 0..=v.len() {
        next.iter_mut().for_each(|c| *c = false);
        for j in 0..=m {
            if !row.get(j).copied().unwrap_or(false) {
                continue;
            }
            match (v.get(i), f.get(j)) {
                (Some(Unit::Run), fu) => {
                    // The run is empty, or it covers the format's next unit.
                    set(&mut next, j);
                    if fu.is_some() {
                        set(&mut row, j + 1);
                    }
                }
                (vu, Some(Unit::Run)) => {
                    set(&mut row, j + 1);
                    if vu.is_some() {
                        set(&mut next, j);
                    }
                }
                (Some(a), Some(b)) => {
                    let same = match (a, b) {
                        (Unit::Byte(x), Unit::Byte(y)) => x == y,
                        _ => true,
                    };
                    if same {
                        set(&mut next, j + 1);
                    }
                }
                _ => {}
            }
        }
        if i == v.len() {
            break;
        }
        std::mem::swap(&mut row, &mut next);
    }
    row.get(m).copied().unwrap_or(false)
}

fn set(row: &mut [bool], j: usize) {
    if let Some(c) = row.get_mut(j) {
        *c = true;
    }
}

/// [`part_fits`] for a value without wildcards: the format's literal pieces (between its
/// variables) must appear in order, the first at the start and the last at the end. Taking
/// each middle piece where it first occurs never loses a match a later place would give.
fn literal_fits(value: &[u8], format: &[u8]) -> bool {
    let pieces = pieces(format);
    let [first, middle @ .., last] = pieces.as_slice() else {
        return pieces.first().is_some_and(|p| *p == value);
    };
    if first.len() + last.len() > value.len() || !value.starts_with(first) || !value.ends_with(last)
    {
        return false;
    }
    let mut rest = value
        .get(first.len()..value.len() - last.len())
        .unwrap_or_default();
    for p in middle {
        match memchr::memmem::find(rest, p) {
            Some(i) => rest = rest.get(i + p.len()..).unwrap_or_default(),
            None => return false,
        }
    }
    true
}

/// A format cut at its variables (`${Name}`, which [`units`] reads as a run): n variables
/// give n + 1 pieces, empty ones included.
fn pieces(format: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let (mut from, mut i) = (0, 0);
    while let Some(&c) = format.get(i) {
        if c == b'$'
            && format.get(i + 1) == Some(&b'{')
            && let Some(k) = format
                .get(i..)
                .and_then(|r| r.iter().position(|&b| b == b'}'))
        {
            out.push(format.get(from..i).unwrap_or_default());
            i += k + 1;
            from = i;
            continue;
        }
        i += 1;
    }
    out.push(format.get(from..).unwrap_or_default());
    out
}

/// An ARN of a format, for the region and account given (`*` where not known), every other
/// variable `*`: the statement resource to use when the log names none.
pub fn arn_for(format: &str, region: Option<&str>, account: Option<&str>) -> String {
    let mut out = String::new();
    let mut rest = format;
    while let Some(i) = rest.find("${") {
        out.push_str(rest.get(..i).unwrap_or_default());
        let after = rest.get(i + 2..).unwrap_or_default();
        let Some(j) = after.find('}') else { break };
        let var = after.get(..j).unwrap_or_default();
        out.push_str(match var {
            "Partition" => "aws",
            "Region" => region.unwrap_or("*"),
            "Account" => account.unwrap_or("*"),
            _ => "*",
        });
        rest = after.get(j + 1..).unwrap_or_default();
    }
    out.push_str(rest);
    // `*:*` runs and `/*/*` collapse to what they mean.
    out
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

    #[test]
    fn formats_match_resources() {
        let key = "arn:${Partition}:kms:${Region}:${Account}:key/${KeyId}";
        assert!(arn_fits("arn:aws:kms:eu-west-1:111122223333:key/1234", key));
        assert!(arn_fits("arn:aws:kms:*:*:key/*", key));
        assert!(!arn_fits(
            "arn:aws:lambda:eu-west-1:111122223333:function:f",
            key
        ));
        let stream = "arn:${Partition}:dynamodb:${Region}:${Account}:table/${TableName}/stream/${StreamLabel}";
        assert!(arn_fits(
            "arn:aws:dynamodb:eu-west-1:111122223333:table/Orders/stream/2026-11-01T08:00:00.000",
            stream
        ));
        let obj = "arn:${Partition}:s3:::${BucketName}/${ObjectName}";
        assert!(arn_fits("arn:aws:s3:::b1/*", obj));
        assert!(!arn_fits("arn:aws:s3:::b1", obj));
        assert_eq!(
            arn_for(key, Some("eu-west-1"), None),
            "arn:aws:kms:eu-west-1:*:key/*"
        );
        // A hostile value costs its length times the format's, not more.
        let hostile = format!("arn:aws:s3:::{}", "*a".repeat(2000));
        assert!(!arn_fits(
            &hostile,
            "arn:${Partition}:s3:::${BucketName}/${Key}/b"
        ));
    }

    /// The table, as [`part_fits`] used it for every value: the reference for its fast path.
    fn table_fits(value: &[u8], format: &[u8]) -> bool {
        let (v, f) = (units(value, false), units(format, true));
        let (n, m) = (v.len(), f.len());
        let mut reach = vec![vec![false; m + 1]; n + 1];
        reach[0][0] = true;
        for i in 0..=n {
            for j in 0..=m {
                if !reach[i][j] {
                    continue;
                }
                match (v.get(i), f.get(j)) {
                    (Some(Unit::Run), fu) => {
                        reach[i + 1][j] = true;
                        if fu.is_some() {
                            reach[i][j + 1] = true;
                        }
                    }
                    (vu, Some(Unit::Run)) => {
                        reach[i][j + 1] = true;
                        if vu.is_some() {
                            reach[i + 1][j] = true;
                        }
                    }
                    (Some(Unit::Byte(x)), Some(Unit::Byte(y))) if x != y => {}
                    (Some(_), Some(_)) => reach[i + 1][j + 1] = true,
                    _ => {}
                }
            }
        }
        reach[n][m]
    }

    proptest::proptest! {
        /// Literal values take the piece search, wildcard values the one-row table: both
        /// agree with the full table on short strings over a small alphabet (where pieces
        /// repeat and overlap).
        #[test]
        fn fast_paths_agree_with_the_table(
            value in "[ab/*?]{0,12}",
            format in "(a|b|/|\\$\\{V\\}|\\$\\{){0,8}",
        ) {
            proptest::prop_assert_eq!(
                part_fits(value.as_bytes(), format.as_bytes()),
                table_fits(value.as_bytes(), format.as_bytes()),
                "{:?} against {:?}", value, format
            );
        }
    }

    #[test]
    fn the_catalog_knows_run_instances() {
        let r = crate::rules::Rules::embedded().unwrap();
        let t = r.resource_types().of("ec2:RunInstances");
        let required: Vec<&str> = t.iter().filter(|t| t.required).map(|t| t.name).collect();
        assert!(
            required.contains(&"instance") && required.contains(&"subnet"),
            "{required:?}"
        );
        assert!(r.resource_types().of("sts:GetCallerIdentity").is_empty());
    }
}
