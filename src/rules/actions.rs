//! The action catalog (`rules/actions.txt`) as sorted indexes into the embedded text.
//!
//! Twenty thousand actions held as owned, lower-cased map keys, canonical copies and per-name
//! prefix lists were a third of the process's heap before it read a log. Borrowing the text the
//! binary already holds and finding an action by binary search with a case-blind comparison
//! keeps one small record per action and allocates nothing per lookup.

use std::cmp::Ordering;

use super::{AccessLevel, RulesError, caseless};

/// One action of the catalog, borrowed from the embedded text.
#[derive(Debug, Clone, Copy)]
pub(super) struct Action {
    /// The service prefix (`sqs`).
    pub prefix: &'static str,
    /// The action's name in its canonical case (`ReceiveMessage`).
    pub name: &'static str,
    /// Its access level.
    pub level: AccessLevel,
}

impl Action {
    /// `prefix:Name`.
    pub fn canonical(&self) -> String {
        format!("{}:{}", self.prefix, self.name)
    }
}

/// The catalog, with the two orders lookups need.
#[derive(Debug)]
pub(super) struct Actions {
    /// Every action, in catalog order.
    all: Vec<Action>,
    /// Indexes into `all`, ordered by prefix then name, both compared case-blind.
    by_key: Vec<u32>,
    /// Indexes into `all`, ordered by name compared case-blind, then catalog order; sorted
    /// when first asked (only a message naming an operation without its service asks, and
    /// sorting twenty thousand names is most of loading the catalog).
    by_name: std::sync::OnceLock<Vec<u32>>,
    /// The service prefixes, sorted.
    prefixes: Vec<&'static str>,
}

impl Actions {
    /// Reads the catalog text: one line per service, `prefix Name/L Name/L...`, `L` one of
    /// `R L W P T`.
    pub fn parse(text: &'static str, file: &'static str) -> Result<Actions, RulesError> {
        let mut all = Vec::with_capacity(21_000);
        let mut prefixes = Vec::with_capacity(512);
        for (n, line) in text.lines().enumerate() {
            if line.starts_with('#') || line.trim().is_empty() {
                continue;
            }
            let bad = |what| RulesError::Line {
                file,
                line: n + 1,
                what,
            };
            let mut fields = line.split(' ');
            let prefix = fields.next().ok_or(bad("no prefix"))?;
            prefixes.push(prefix);
            for f in fields {
                let (name, level) = f.rsplit_once('/').ok_or(bad("action without /level"))?;
                let level = match level {
                    "R" => AccessLevel::Read,
                    "L" => AccessLevel::List,
                    "W" => AccessLevel::Write,
                    "P" => AccessLevel::Permissions,
                    "T" => AccessLevel::Tagging,
                    _ => return Err(bad("unknown access level")),
                };
                all.push(Action {
                    prefix,
                    name,
                    level,
                });
            }
        }
        let count = u32::try_from(all.len()).map_err(|_| RulesError::Line {
            file,
            line: 0,
            what: "too many actions",
        })?;
        let entry = |i: &u32| all.get(*i as usize).copied();
        let mut by_key: Vec<u32> = (0..count).collect();
        // The generated catalog is in this order already: the sort only checks it.
        by_key.sort_by(|a, b| match (entry(a), entry(b)) {
            (Some(x), Some(y)) => {
                caseless(x.prefix, y.prefix).then_with(|| caseless(x.name, y.name))
            }
            _ => Ordering::Equal,
        });
        prefixes.sort_unstable();
        prefixes.dedup();
        Ok(Actions {
            all,
            by_key,
            by_name: std::sync::OnceLock::new(),
            prefixes,
        })
    }

    fn by_name(&self) -> &[u32] {
        self.by_name.get_or_init(|| {
            let mut by_name: Vec<u32> = (0..self.all.len() as u32).collect();
            // Stable: actions of the same name keep the catalog's order of their services.
            by_name.sort_by(|a, b| match (self.at(*a), self.at(*b)) {
                (Some(x), Some(y)) => caseless(x.name, y.name),
                _ => Ordering::Equal,
            });
            by_name
        })
    }

    fn at(&self, i: u32) -> Option<&Action> {
        self.all.get(i as usize)
    }

    /// The action `prefix:name`, in any case.
    pub fn get(&self, action: &str) -> Option<&Action> {
        let (prefix, name) = action.split_once(':')?;
        let found = self.by_key.binary_search_by(|&i| match self.at(i) {
            Some(a) => caseless(a.prefix, prefix).then_with(|| caseless(a.name, name)),
            None => Ordering::Less,
        });
        found
            .ok()
            .and_then(|k| self.by_key.get(k))
            .and_then(|&i| self.at(i))
    }

    /// The prefixes of the services that have an action of this name (any case), in catalog
    /// order.
    pub fn prefixes_with(&self, name: &str) -> Vec<&'static str> {
        let key = |i: &u32| self.at(*i).map(|a| a.name).unwrap_or_default();
        let by_name = self.by_name();
        let start = by_name.partition_point(|i| caseless(key(i), name) == Ordering::Less);
        by_name
            .get(start..)
            .unwrap_or_default()
            .iter()
            .take_while(|i| caseless(key(i), name) == Ordering::Equal)
            .filter_map(|&i| self.at(i).map(|a| a.prefix))
            .collect()
    }

    /// Whether `prefix` is a service prefix (exact case: prefixes are lower-case).
    pub fn is_prefix(&self, prefix: &str) -> bool {
        self.prefixes.binary_search(&prefix).is_ok()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "tests fail by panicking")]
mod tests {
    use super::*;

    const TEXT: &str = "# comment\nsqs ReceiveMessage/R SendMessage/W\ns3 GetObject/R ListBucket/L\nmq ReceiveMessage/R\n";

    #[test]
    fn finds_an_action_in_any_case_and_keeps_its_canonical_spelling() {
        let a = Actions::parse(TEXT, "t").unwrap();
        let got = a.get("SQS:receivemessage").unwrap();
        assert_eq!(got.canonical(), "sqs:ReceiveMessage");
        assert_eq!(got.level, AccessLevel::Read);
        assert_eq!(a.get("s3:listbucket").unwrap().level, AccessLevel::List);
        assert!(a.get("s3:GetObjects").is_none());
        assert!(a.get("s3").is_none());
        assert!(a.get("s3:GetObject:x").is_none());
        assert!(a.is_prefix("mq") && !a.is_prefix("MQ") && !a.is_prefix("sns"));
    }

    #[test]
    fn names_list_their_services_in_catalog_order() {
        let a = Actions::parse(TEXT, "t").unwrap();
        assert_eq!(a.prefixes_with("receivemessage"), ["sqs", "mq"]);
        assert_eq!(a.prefixes_with("GetObject"), ["s3"]);
        assert!(a.prefixes_with("Nothing").is_empty());
    }

    #[test]
    fn a_malformed_line_names_the_file_and_line() {
        let e = Actions::parse("sqs ReceiveMessage\n", "actions.txt").unwrap_err();
        assert_eq!(
            e.to_string(),
            "rules/actions.txt line 1: action without /level"
        );
        let e = Actions::parse("#\nsqs ReceiveMessage/X\n", "actions.txt").unwrap_err();
        assert_eq!(
            e.to_string(),
            "rules/actions.txt line 2: unknown access level"
        );
    }

    #[test]
    fn every_embedded_action_is_found_by_its_own_spelling_in_any_case() {
        let a = Actions::parse(super::super::ACTIONS, "actions.txt").unwrap();
        assert!(a.all.len() > 15_000);
        for x in &a.all {
            let c = x.canonical();
            let found = a.get(&c.to_ascii_uppercase()).map(Action::canonical);
            assert_eq!(found.as_deref(), Some(c.as_str()));
            assert!(a.prefixes_with(x.name).contains(&x.prefix));
        }
    }
}
