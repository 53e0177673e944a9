//! Wildcards and policy variables.
//!
//! `*` matches any run of characters and `?` exactly one. Actions match case-insensitively; ARNs
//! and most strings case-sensitively. In ARNs each of the six colon-separated fields is matched on
//! its own, so a `*` never reaches across a colon into another field (the resource field, the
//! sixth, keeps any further colons). Policy variables (`${aws:username}`, `${aws:PrincipalTag/team}`,
//! `${aws:username, 'default'}`, and the escapes `${*}`, `${?}`, `${$}`) are replaced by their
//! values from the request context before matching, and what they insert matches literally.

/// A policy variable's value, as the request context knows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Var<'a> {
    /// The variable's value in the request; it is inserted into the pattern as literal text.
    Value(&'a str),
    /// Certainly not in the request.
    Absent,
    /// The log does not say.
    Unknown,
}

/// Where policy variables get their values: the request context, seen from the policy
/// language (the evaluator's context implements it).
pub trait Vars {
    /// The value of variable `key` (`aws:username`, `aws:PrincipalTag/team`).
    fn var(&self, key: &str) -> Var<'_>;
}

/// One element of a [`Pattern`], as the policy text wrote it.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    /// Text matched as written (`${*}`, `${?}` and `${$}` are literal `*`, `?`, `$`).
    Lit(String),
    /// `*`: any run of characters.
    Star,
    /// `?`: exactly one character.
    One,
    /// A policy variable and its default (`${aws:username, 'guest'}`).
    Var {
        key: String,
        default: Option<String>,
    },
}

/// A policy string compiled once, when its policy is parsed: literal text, the wildcards `*` and
/// `?`, and policy variables with their defaults. The text as written is kept for everything
/// that shows or merges policies; matching reads the parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern {
    text: String,
    parts: Vec<Part>,
    /// Whether any part is a variable (or an escape): otherwise the text itself is matched.
    variables: bool,
}

impl Pattern {
    /// Compiles `text`. With `variables` false (a policy whose `Version` is not `2012-10-17`,
    /// where AWS reads `${...}` as plain text) only `*` and `?` are special.
    pub fn new(text: &str, variables: bool) -> Pattern {
        let mut parts = Vec::new();
        let mut lit = String::new();
        let mut has_vars = false;
        let mut rest = text;
        let flush = |lit: &mut String, parts: &mut Vec<Part>| {
            if !lit.is_empty() {
                parts.push(Part::Lit(std::mem::take(lit)));
            }
        };
        while let Some(ch) = rest.chars().next() {
            if variables
                && rest.starts_with("${")
                && let Some(end) = rest.find('}')
            {
                let inner = rest.get(2..end).unwrap_or_default();
                rest = rest.get(end + 1..).unwrap_or_default();
                has_vars = true;
                match inner {
                    "*" | "?" | "$" => lit.push_str(inner),
                    var => {
                        flush(&mut lit, &mut parts);
                        let (key, default) = match var.split_once(',') {
                            Some((k, d)) => {
                                (k.trim(), Some(d.trim().trim_matches('\'').to_string()))
                            }
                            None => (var.trim(), None),
                        };
                        parts.push(Part::Var {
                            key: key.to_string(),
                            default,
                        });
                    }
                }
                continue;
            }
            match ch {
                '*' | '?' => {
                    flush(&mut lit, &mut parts);
                    parts.push(if ch == '*' { Part::Star } else { Part::One });
                }
                c => lit.push(c),
            }
            rest = rest.get(ch.len_utf8()..).unwrap_or_default();
        }
        flush(&mut lit, &mut parts);
        Pattern {
            text: text.to_string(),
            parts,
            variables: has_vars,
        }
    }

    /// The text as the policy wrote it.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether the pattern holds policy variables (or their escapes).
    pub fn has_variables(&self) -> bool {
        self.variables
    }

    /// The pattern with variables read as plain text (see [`Pattern::new`]).
    pub fn without_variables(&self) -> Pattern {
        Pattern::new(&self.text, false)
    }

    /// The tokens to match, variables replaced by their values (literal text); with
    /// `wildcards` false, `*` and `?` are literal too (an exact comparison).
    fn tokens(&self, ctx: Option<&dyn Vars>, wildcards: bool) -> Result<Vec<Tok>, VarError> {
        let mut out = Vec::with_capacity(self.text.len());
        for part in &self.parts {
            match part {
                Part::Lit(s) => out.extend(s.chars().map(Tok::Lit)),
                Part::Star if wildcards => out.push(Tok::Star),
                Part::One if wildcards => out.push(Tok::One),
                Part::Star => out.push(Tok::Lit('*')),
                Part::One => out.push(Tok::Lit('?')),
                Part::Var { key, default } => {
                    let value = match ctx.map(|c| c.var(key)) {
                        Some(Var::Value(v)) => v.to_string(),
                        Some(Var::Absent) | None => match default {
                            Some(d) => d.clone(),
                            None => return Err(VarError::Absent(key.clone())),
                        },
                        Some(Var::Unknown) => return Err(VarError::Unknown(key.clone())),
                    };
                    // What a variable inserts never separates ARN fields.
                    out.extend(value.chars().map(Tok::Sub));
                }
            }
        }
        Ok(out)
    }

    /// Matches `value` as a glob, variables resolved from `ctx`.
    pub fn matches(
        &self,
        value: &str,
        case_insensitive: bool,
        ctx: Option<&dyn Vars>,
    ) -> Result<bool, VarError> {
        if !self.variables {
            return Ok(matches(&self.text, value, case_insensitive));
        }
        let toks = self.tokens(ctx, true)?;
        let chars: Vec<char> = value.chars().collect();
        Ok(glob(&toks, &chars, case_insensitive))
    }

    /// Compares `value` for equality (`StringEquals`): wildcards are literal, variables are
    /// resolved from `ctx`.
    pub fn equals(
        &self,
        value: &str,
        case_insensitive: bool,
        ctx: Option<&dyn Vars>,
    ) -> Result<bool, VarError> {
        if !self.variables {
            return Ok(if case_insensitive {
                self.text.eq_ignore_ascii_case(value)
            } else {
                self.text == value
            });
        }
        let toks = self.tokens(ctx, false)?;
        let chars: Vec<char> = value.chars().collect();
        Ok(glob(&toks, &chars, case_insensitive))
    }

    /// Matches an ARN field by field (see the module documentation). `*` alone matches
    /// anything, ARN or not; a pattern or value with fewer than six fields is matched as one
    /// plain glob. Fields are split at the pattern's own colons, never at one a variable
    /// inserts or holds (`${aws:username}`).
    pub fn matches_arn(&self, arn: &str, ctx: Option<&dyn Vars>) -> Result<bool, VarError> {
        if self.text == "*" {
            return Ok(true);
        }
        if !self.variables {
            return Ok(arn_text_matches(&self.text, arn));
        }
        let toks = self.tokens(ctx, true)?;
        let colons = toks.iter().filter(|t| **t == Tok::Lit(':')).count();
        if colons < 5 || arn.bytes().filter(|&b| b == b':').count() < 5 {
            let chars: Vec<char> = arn.chars().collect();
            return Ok(glob(&toks, &chars, false));
        }
        let mut fields = toks.splitn(6, |t| *t == Tok::Lit(':'));
        for v in arn.splitn(6, ':') {
            let p = fields.next().unwrap_or_default();
            let chars: Vec<char> = v.chars().collect();
            if !glob(p, &chars, false) {
                return Ok(false);
            }
        }
        Ok(true)
    }
}

impl std::ops::Deref for Pattern {
    type Target = str;
    fn deref(&self) -> &str {
        &self.text
    }
}

impl PartialEq<&str> for Pattern {
    fn eq(&self, other: &&str) -> bool {
        self.text == *other
    }
}

impl std::fmt::Display for Pattern {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

/// A piece of a pattern, ready to match.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tok {
    Lit(char),
    /// A character a policy variable inserted: literal, and never an ARN field separator.
    Sub(char),
    Star,
    One,
}

/// Why a pattern could not be decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VarError {
    /// A variable's key is not in the request context (the element does not match).
    Absent(String),
    /// A variable's key is not known from the log.
    Unknown(String),
}

fn glob(p: &[Tok], s: &[char], fold: bool) -> bool {
    let tok = |t: &Tok| match t {
        Tok::Star => Wild::Star,
        Tok::One => Wild::One,
        Tok::Lit(c) | Tok::Sub(c) => Wild::Lit(*c),
    };
    glob_by(p, s, tok, |a: char, b: char| {
        if fold {
            a.eq_ignore_ascii_case(&b)
        } else {
            a == b
        }
    })
}

/// A pattern element as the matcher sees it.
#[derive(Clone, Copy, PartialEq)]
enum Wild<L> {
    Star,
    One,
    Lit(L),
}

/// The glob matcher (greedy, backtracking to the last star) over any element type: `tok`
/// tells what a pattern element is, `eq` compares a literal with a value element.
fn glob_by<P, S: Copy, L: Copy>(
    p: &[P],
    s: &[S],
    tok: impl Fn(&P) -> Wild<L>,
    eq: impl Fn(L, S) -> bool,
) -> bool {
    let (mut pi, mut si) = (0usize, 0usize);
    let (mut star, mut mark) = (None::<usize>, 0usize);
    while let Some(&x) = s.get(si) {
        match p.get(pi).map(&tok) {
            Some(Wild::Star) => {
                star = Some(pi);
                mark = si;
                pi += 1;
            }
            Some(Wild::One) => {
                pi += 1;
                si += 1;
            }
            Some(Wild::Lit(c)) if eq(c, x) => {
                pi += 1;
                si += 1;
            }
            _ => match star {
                Some(st) => {
                    pi = st + 1;
                    mark += 1;
                    si = mark;
                }
                None => return false,
            },
        }
    }
    while matches!(p.get(pi).map(&tok), Some(Wild::Star)) {
        pi += 1;
    }
    pi == p.len()
}

/// Matches `value` against a glob `pattern` (no policy variables).
pub fn matches(pattern: &str, value: &str, case_insensitive: bool) -> bool {
    if pattern.is_ascii() && value.is_ascii() {
        // ARNs and actions nearly always are: no allocation.
        return glob_ascii(pattern.as_bytes(), value.as_bytes(), case_insensitive);
    }
    let toks: Vec<Tok> = pattern
        .chars()
        .map(|c| match c {
            '*' => Tok::Star,
            '?' => Tok::One,
            c => Tok::Lit(c),
        })
        .collect();
    let chars: Vec<char> = value.chars().collect();
    glob(&toks, &chars, case_insensitive)
}

/// [`glob`] over ASCII bytes, `*` and `?` being the wildcards.
fn glob_ascii(p: &[u8], s: &[u8], fold: bool) -> bool {
    let tok = |b: &u8| match b {
        b'*' => Wild::Star,
        b'?' => Wild::One,
        c => Wild::Lit(*c),
    };
    glob_by(p, s, tok, |a: u8, b: u8| {
        if fold {
            a.eq_ignore_ascii_case(&b)
        } else {
            a == b
        }
    })
}

/// Matches an action against an `Action` pattern: case-insensitive, `*` and `?`.
pub fn action_matches(pattern: &str, action: &str) -> bool {
    // Fast paths for the common shapes.
    if pattern == "*" {
        return true;
    }
    if !pattern.contains(['*', '?']) {
        return pattern.eq_ignore_ascii_case(action);
    }
    matches(pattern, action, true)
}

/// Matches a string against a pattern with policy variables resolved from `ctx` (the pattern
/// compiled for this one call; policies hold theirs compiled, see [`Pattern`]).
pub fn matches_with(
    pattern: &str,
    value: &str,
    case_insensitive: bool,
    ctx: &dyn Vars,
) -> Result<bool, VarError> {
    Pattern::new(pattern, true).matches(value, case_insensitive, Some(ctx))
}

/// [`Pattern::matches_arn`] of a pattern compiled for this one call.
pub fn arn_matches(pattern: &str, arn: &str, ctx: Option<&dyn Vars>) -> Result<bool, VarError> {
    Pattern::new(pattern, true).matches_arn(arn, ctx)
}

/// An ARN pattern without variables, matched field by field on its text.
fn arn_text_matches(pattern: &str, arn: &str) -> bool {
    let fields = |s: &str| s.bytes().filter(|&b| b == b':').count() >= 5;
    if !fields(pattern) || !fields(arn) {
        // Not ARNs (a bare function name, `*`-only fields): plain case-sensitive glob.
        return matches(pattern, arn, false);
    }
    pattern
        .splitn(6, ':')
        .zip(arn.splitn(6, ':'))
        .all(|(p, v)| matches(p, v, false))
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

    /// `aws:username` is `alice*`, a team tag certainly absent, everything else unknown.
    struct Ctx;
    impl Vars for Ctx {
        fn var(&self, key: &str) -> Var<'_> {
            match key {
                "aws:username" => Var::Value("alice*"),
                "aws:PrincipalTag/team" => Var::Absent,
                _ => Var::Unknown,
            }
        }
    }

    /// A naive reference: recursive glob on bytes.
    fn naive(p: &[u8], s: &[u8], fold: bool) -> bool {
        match (p.first(), s.first()) {
            (None, None) => true,
            (Some(b'*'), _) => {
                naive(&p[1..], s, fold) || (!s.is_empty() && naive(p, &s[1..], fold))
            }
            (Some(b'?'), Some(_)) => naive(&p[1..], &s[1..], fold),
            (Some(a), Some(b)) if a == b || (fold && a.eq_ignore_ascii_case(b)) => {
                naive(&p[1..], &s[1..], fold)
            }
            _ => false,
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(4000))]

        /// Short patterns and strings over a small alphabet, so that stars, question marks and
        /// case meet often; a failure shrinks to the smallest pair that disagrees.
        #[test]
        fn glob_agrees_with_the_naive_reference(
            ps in "[aAb*?:]{0,6}",
            ss in "[aAb]{0,7}",
        ) {
            for fold in [false, true] {
                proptest::prop_assert_eq!(
                    matches(&ps, &ss, fold),
                    naive(ps.as_bytes(), ss.as_bytes(), fold),
                    "{:?} vs {:?} fold={}", ps, ss, fold
                );
            }
        }
    }

    /// Naive reference for ARN patterns: split both into six fields and glob each.
    fn naive_arn(p: &str, v: &str) -> bool {
        if p == "*" {
            return true;
        }
        let pf: Vec<&str> = p.splitn(6, ':').collect();
        let vf: Vec<&str> = v.splitn(6, ':').collect();
        if pf.len() != 6 || vf.len() != 6 {
            return naive(p.as_bytes(), v.as_bytes(), false);
        }
        pf.iter()
            .zip(&vf)
            .all(|(a, b)| naive(a.as_bytes(), b.as_bytes(), false))
    }

    /// The ARN fields a generated pattern or value is made of: every field alone, wildcards
    /// within and across fields, colons in the resource.
    fn arn_fields() -> [&'static [&'static str]; 6] {
        [
            &["arn"][..],
            &["aws", "aws-cn", "*"][..],
            &["s3", "iam", "sqs", "*", "s?s"][..],
            &["", "us-east-1", "*", "us-*"][..],
            &["", "111122223333", "*", "1111*"][..],
            &[
                "bucket/key",
                "role/a/b",
                "q",
                "*",
                "role/*",
                "bucket/*:x",
                "function:f:PROD",
                "b?cket/*",
            ][..],
        ]
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(4000))]

        /// A failure shrinks towards the first choice of each field.
        #[test]
        fn arn_matching_agrees_with_the_naive_reference(
            pick in proptest::collection::vec((0usize..16, 0usize..16), 6),
        ) {
            let fields = arn_fields();
            let p: Vec<&str> = fields.iter().zip(&pick).map(|(f, (i, _))| f[i % f.len()]).collect();
            let v: Vec<String> = fields
                .iter()
                .zip(&pick)
                .map(|(f, (_, j))| f[j % f.len()].replace(['*', '?'], "x"))
                .collect();
            let (p, v) = (p.join(":"), v.join(":"));
            proptest::prop_assert_eq!(
                arn_matches(&p, &v, None).unwrap(),
                naive_arn(&p, &v),
                "{} vs {}", p, v
            );
        }
    }

    #[test]
    fn actions_fold_case_arns_do_not() {
        assert!(action_matches("SQS:Receive*", "sqs:ReceiveMessage"));
        assert!(action_matches("s3:Get?bject", "s3:GetObject"));
        assert!(!action_matches("s3:Get?bject", "s3:GetObjectAcl"));
        assert!(arn_matches("arn:aws:s3:::bucket/*", "arn:aws:s3:::bucket/a/b", None).unwrap());
        assert!(!arn_matches("arn:aws:s3:::Bucket/*", "arn:aws:s3:::bucket/a", None).unwrap());
        // `*` does not cross into another field.
        assert!(!arn_matches("arn:aws:iam::*:role/*", "arn:aws:iam::1:user/role/x", None).unwrap());
        assert!(!arn_matches("arn:aws:*:us-east-1:1:x", "arn:aws:s3:us-west-2:1:x", None).unwrap());
        assert!(arn_matches("arn:aws:iam::*:role/*", "arn:aws:iam::1:role/x", None).unwrap());
        // The resource field keeps its colons.
        assert!(
            arn_matches(
                "arn:aws:lambda:*:*:function:f*",
                "arn:aws:lambda:us-east-1:1:function:fn:PROD",
                None
            )
            .unwrap()
        );
        assert!(arn_matches("*", "anything", None).unwrap());
    }

    #[test]
    fn policy_variables() {
        let c: &dyn Vars = &Ctx;
        assert!(
            arn_matches(
                "arn:aws:s3:::home/${aws:username}/*",
                "arn:aws:s3:::home/alice*/x",
                Some(c)
            )
            .unwrap()
        );
        // The inserted `*` is literal.
        assert!(
            !arn_matches(
                "arn:aws:s3:::home/${aws:username}/*",
                "arn:aws:s3:::home/alicebob/x",
                Some(c)
            )
            .unwrap()
        );
        assert!(matches_with("a${*}b", "a*b", false, c).unwrap());
        assert!(!matches_with("a${*}b", "axb", false, c).unwrap());
        assert!(matches_with("${aws:PrincipalTag/team, 'none'}", "none", false, c).unwrap());
        assert_eq!(
            matches_with("${aws:PrincipalTag/team}", "x", false, c),
            Err(VarError::Absent("aws:PrincipalTag/team".into()))
        );
        assert_eq!(
            matches_with("${aws:SourceIp}", "x", false, c),
            Err(VarError::Unknown("aws:SourceIp".into()))
        );
    }

    /// A variable in a field before the resource holds a colon in its key: the fields are
    /// split at the pattern's own colons, so it stays one field.
    #[test]
    fn variables_in_any_arn_field() {
        struct Region;
        impl Vars for Region {
            fn var(&self, key: &str) -> Var<'_> {
                match key {
                    "aws:RequestedRegion" => Var::Value("eu-west-1"),
                    _ => Var::Unknown,
                }
            }
        }
        let p = Pattern::new("arn:aws:sqs:${aws:RequestedRegion}:111122223333:q-*", true);
        let r: &dyn Vars = &Region;
        assert!(
            p.matches_arn("arn:aws:sqs:eu-west-1:111122223333:q-1", Some(r))
                .unwrap()
        );
        assert!(
            !p.matches_arn("arn:aws:sqs:us-east-1:111122223333:q-1", Some(r))
                .unwrap()
        );
    }

    /// Without variables (a policy of another `Version`) `${...}` is text, and the text
    /// shown is the one written.
    #[test]
    fn plain_text_variables_keep_their_text() {
        let p = Pattern::new("arn:aws:s3:::home/${aws:username}/*", true).without_variables();
        assert_eq!(p.as_str(), "arn:aws:s3:::home/${aws:username}/*");
        assert!(
            p.matches_arn("arn:aws:s3:::home/${aws:username}/x", None)
                .unwrap()
        );
        assert!(!p.matches_arn("arn:aws:s3:::home/alice/x", None).unwrap());
        // StringEquals reads wildcards literally, variables resolved.
        let c: &dyn Vars = &Ctx;
        let e = Pattern::new("${aws:username}-*", true);
        assert!(e.equals("alice*-*", false, Some(c)).unwrap());
        assert!(!e.equals("alice*-x", false, Some(c)).unwrap());
    }
}
