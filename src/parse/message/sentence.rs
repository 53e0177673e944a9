//! The sentences of AWS's messages as nom combinators: `User: <principal> is not authorized to
//! perform: <action> on resource: <resource> because ...`, the policy type and ARN a reason
//! names, and Lambda's trigger-setup sentences.

use nom::branch::alt;
use nom::bytes::complete::{tag, tag_no_case, take_till1, take_until};
use nom::combinator::{opt, value};
use nom::sequence::{delimited, preceded};
use nom::{IResult, Parser};

use super::*;

/// Capture group `i` of a match, empty when the group took no part in it.
pub(super) fn cap(c: &regex::Captures<'_>, i: usize) -> String {
    c.get(i).map(|x| x.as_str().to_string()).unwrap_or_default()
}

/// Folds every run of white space (newlines, tabs, double spaces) into one space.
pub fn fold_ws(s: &str) -> String {
    let s = s.trim();
    // Most messages are ASCII with single spaces already: copied whole, not a char at a time.
    // (ASCII's white space, as `char::is_whitespace` has it, is the space and 0x09-0x0D.)
    let b = s.as_bytes();
    if b.is_ascii()
        && !b.iter().any(|c| (0x09..=0x0d).contains(c))
        && memchr::memmem::find(b, b"  ").is_none()
    {
        return s.to_string();
    }
    fold_ws_chars(s)
}

fn fold_ws_chars(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut space = false;
    for ch in s.chars() {
        if ch.is_whitespace() {
            space = true;
        } else {
            if space {
                out.push(' ');
                space = false;
            }
            out.push(ch);
        }
    }
    out
}

/// A message of `family` with nothing parsed yet but what the text shows on its face: an attached
/// `Encoded authorization failure message` (EC2), and a cut at the end (`...`), as CloudTrail
/// makes at about 1 KiB.
pub(super) fn empty(family: Family, t: &str) -> Message {
    Message {
        family,
        principal: None,
        action: None,
        more_actions: Vec::new(),
        resource: None,
        reason: Reason::Unstated,
        via: None,
        policy_arn: None,
        authorization_id: None,
        encoded: t.contains("Encoded authorization failure message"),
        truncated: t.ends_with("...") || t.ends_with('…'),
        error_code: None,
        operation: None,
        service: None,
        event_row: false,
        integration: None,
        captures: Vec::new(),
        text: t.to_string(),
    }
}

/// A message without detail (`Access Denied`): the text and what [`empty`] sees in it.
pub(super) fn bare(t: &str) -> Message {
    empty(Family::Bare, t)
}

/// A Lambda setup or invoke sentence. These state no policy reason: the cause comes from the
/// sentence's family, the catalog or the stored policies.
pub(super) fn lambda_msg(t: &str, e: LambdaError) -> Message {
    let mut m = empty(Family::Lambda(e), t);
    m.reason = Reason::Unstated;
    m
}

/// The text after the first occurrence of `needle`, ignoring ASCII case. A position found in the
/// lower-cased copy holds in the original, since ASCII lower-casing moves no byte.
pub(super) fn after<'a>(t: &'a str, needle: &str) -> Option<&'a str> {
    let l = t.to_ascii_lowercase();
    l.find(&needle.to_ascii_lowercase())
        .and_then(|i| t.get(i + needle.len()..))
}

/// The next white-space-delimited token, without trailing punctuation or quotes.
pub(super) fn token(s: &str) -> Option<String> {
    let tok = s.split_whitespace().next()?;
    let tok = tok.trim_matches(|c| c == '"' || c == '\'' || c == '`');
    if tok.ends_with("...") || tok.ends_with('…') {
        // Cut by the log: the rest of the value is unknown.
        return None;
    }
    let tok = tok.trim_end_matches(['.', ',', ';', ')', ']']);
    if tok.is_empty() {
        None
    } else {
        Some(tok.to_string())
    }
}

/// The policy type a reason names, in each spelling AWS has used (`identity-based` and
/// `identity based`, `sessions policy`). The phrase `permissions boundary policy` is tried
/// first: `alt` takes the first that matches, and the rest of the sentence must follow it.
pub(super) fn policy_type(i: &str) -> IResult<&str, PolicyKind> {
    alt((
        value(PolicyKind::Identity, tag_no_case("identity-based policy")),
        value(PolicyKind::Identity, tag_no_case("identity based policy")),
        value(PolicyKind::Resource, tag_no_case("resource-based policy")),
        value(PolicyKind::Resource, tag_no_case("resource based policy")),
        value(PolicyKind::Scp, tag_no_case("service control policy")),
        value(PolicyKind::Rcp, tag_no_case("resource control policy")),
        value(
            PolicyKind::PermissionsBoundary,
            tag_no_case("permissions boundary policy"),
        ),
        value(
            PolicyKind::PermissionsBoundary,
            tag_no_case("permissions boundary"),
        ),
        value(PolicyKind::Session, tag_no_case("sessions policy")),
        value(PolicyKind::Session, tag_no_case("session policy")),
        value(PolicyKind::VpcEndpoint, tag_no_case("VPC endpoint policy")),
        value(PolicyKind::Trust, tag_no_case("role trust policy")),
        value(PolicyKind::Trust, tag_no_case("trust policy")),
    ))
    .parse(i)
}

/// `a`, `an` or `the` before a policy type: AWS's messages use each.
pub(super) fn article(i: &str) -> IResult<&str, &str> {
    alt((tag_no_case("an "), tag_no_case("a "), tag_no_case("the "))).parse(i)
}

/// `because no <type> allows the <action> action`
pub(super) fn because_no(i: &str) -> IResult<&str, Reason> {
    let (i, t) = preceded(tag_no_case("because no "), policy_type).parse(i)?;
    let (i, _) = opt((
        tag_no_case(" allows the "),
        take_till1(|c: char| c == ' '),
        opt(tag_no_case(" action")),
    ))
    .parse(i)?;
    Ok((i, Reason::Implicit(t)))
}

/// `with an explicit deny [in a|an|the <type> [transitively through a|an|the <type>]]`
pub(super) fn explicit(i: &str) -> IResult<&str, (Reason, Option<PolicyKind>)> {
    let (i, _) = tag_no_case("with an explicit deny").parse(i)?;
    let (i, t) = opt(preceded((tag_no_case(" in "), article), policy_type)).parse(i)?;
    let (i, via) = opt(preceded(
        (tag_no_case(" transitively through "), article),
        policy_type,
    ))
    .parse(i)?;
    let reason = match t {
        Some(t) => Reason::Explicit(t),
        None => Reason::ExplicitUntyped,
    };
    Ok((i, (reason, via)))
}

/// Older wording: `due to an explicit deny in a Service Control Policy`.
pub(super) fn due_to(i: &str) -> IResult<&str, Reason> {
    let (i, t) = preceded(
        (tag_no_case("due to an explicit deny in "), article),
        policy_type,
    )
    .parse(i)?;
    Ok((i, Reason::Explicit(t)))
}

/// `: arn:...` or `, with policy ARN: arn:...`
pub(super) fn policy_arn(i: &str) -> IResult<&str, &str> {
    preceded(
        alt((
            tag(": "),
            tag_no_case(", with policy ARN: "),
            tag_no_case(" with policy ARN: "),
        )),
        take_till1(|c: char| c == ' '),
    )
    .parse(i)
}

/// The resource between the quotes of `on resource: "..."` in the unfolded text, unless cut.
pub(super) fn quoted_resource(text: &str) -> Option<String> {
    let i = text.find("on resource: \"")?;
    let rest = text.get(i + "on resource: \"".len()..)?;
    let end = rest.find('"')?;
    let r = rest.get(..end)?;
    (!r.is_empty() && !r.ends_with("...")).then(|| r.to_string())
}

/// `on resource: "arn"` or `on resource: arn`, and SES's legacy `` on resource `arn' ``.
pub(super) fn on_resource(i: &str) -> IResult<&str, &str> {
    alt((
        preceded(
            tag_no_case(" on resource: "),
            alt((
                delimited(tag("\""), take_until("\""), tag("\"")),
                take_till1(|c: char| c == ' '),
            )),
        ),
        preceded(
            tag_no_case(" on resource `"),
            nom::sequence::terminated(take_until("'"), tag("'")),
        ),
    ))
    .parse(i)
}

/// Parses `User: <principal> is not authorized to perform: <action> [on resource: <r>] [reason]`.
pub(super) fn authorization(t: &str) -> Option<Message> {
    let lower = t.to_ascii_lowercase();
    // The sentence may start at the verb when the principal was cut off or redacted.
    let at = match lower.find(" is not authorized to perform") {
        Some(i) => i,
        None if lower.starts_with("is not authorized to perform") => 0,
        None => return None,
    };
    let before = t.get(..at)?;
    // The principal is what follows the last `User: ` (or `Principal `) before the verb; SES's
    // legacy sentences quote it `like this' instead.
    let principal = before
        .rfind("User: ")
        .and_then(|i| before.get(i + 6..))
        .or_else(|| before.rfind("User `").and_then(|i| before.get(i + 5..)))
        .map(|p| p.trim().trim_matches(['"', '`', '\'']).to_string())
        .filter(|p| !p.is_empty() && !p.contains(' '));
    let rest = t.get(at..)?.trim_start();
    let rest = rest.get("is not authorized to perform".len()..)?;
    let rest = rest.strip_prefix(':').unwrap_or(rest);
    let rest = rest.strip_prefix(' ')?;
    let (rest, action_raw) =
        take_till1::<_, _, nom::error::Error<&str>>(|c: char| c == ' ' || c == '<')
            .parse(rest)
            .ok()?;
    let mut m = empty(Family::Authorization, t);
    m.principal = principal;
    let action = action_raw
        .trim_start_matches('`')
        .trim_end_matches(['.', ',', ';', '"', '\'']);
    if action.contains(':') && !action.ends_with("...") && !action.ends_with('…') {
        m.action = Some(action.to_string());
    }
    let mut rest = rest;
    if let Ok((r, res)) = on_resource(rest) {
        // A message quoted inside JSON or a log ends the ARN with its closing quote.
        let res = res.trim_end_matches([',', ';', '"', '\'', '`', ')']);
        let res = if res.ends_with('.') && !res.ends_with("...") {
            res.trim_end_matches('.')
        } else {
            res
        };
        if !res.ends_with("...") && !res.ends_with('…') && !res.is_empty() {
            m.resource = Some(res.to_string());
        }
        rest = r;
    }
    let rest = rest.trim_start_matches([',', '.']);
    let rest = rest.strip_prefix(' ').unwrap_or(rest);
    if let Ok((r, reason)) = because_no(rest) {
        m.reason = reason;
        rest_suffix(r, &mut m);
    } else if let Ok((r, (reason, via))) = explicit(rest) {
        m.reason = reason;
        m.via = via;
        rest_suffix(r, &mut m);
    } else if let Ok((r, reason)) = due_to(rest) {
        m.reason = reason;
        rest_suffix(r, &mut m);
    } else if let Some(other) = rest.strip_prefix("because ") {
        let end = other.find(". ").unwrap_or(other.len());
        m.reason = Reason::Other(format!("because {}", other.get(..end).unwrap_or(other)));
    }
    if let Some(id) = after(t, "with the following authorization id: ").and_then(token) {
        m.authorization_id = Some(id);
    }
    Some(m)
}

/// Takes the policy ARN that may follow a reason, unless it is cut (`...`): a partial ARN would
/// name some other policy.
pub(super) fn rest_suffix(r: &str, m: &mut Message) {
    if let Ok((_, arn)) = policy_arn(r) {
        let arn = arn.trim_end_matches(['.', ',', ';']);
        if arn.starts_with("arn:") && !arn.ends_with("...") {
            m.policy_arn = Some(arn.to_string());
        }
    }
}

/// A reason clause without the sentence before it (`because no identity-based policy allows
/// the iam:PassRole action`), as CloudFormation sometimes cuts it.
pub(super) fn fragment(t: &str) -> Option<Message> {
    let lower = t.to_ascii_lowercase();
    let mut m = empty(Family::Authorization, t);
    if let Some(i) = lower.find("because no ") {
        let rest = t.get(i..)?;
        let (_, reason) = because_no(rest).ok()?;
        m.reason = reason;
        let a = after(rest, " allows the ")?;
        let action = a.split([' ', '(']).next()?.trim_end_matches(['.', ',']);
        if action.contains(':') {
            m.action = Some(action.to_string());
        }
    } else if let Some(i) = lower.find("with an explicit deny") {
        let (r, (reason, via)) = explicit(t.get(i..)?).ok()?;
        m.reason = reason;
        m.via = via;
        rest_suffix(r, &mut m);
    }
    Some(m)
}

/// `... role does not have permissions to call <Op> on <Svc>`
pub(super) fn role_lacks(t: &str) -> Option<Message> {
    let lower = t.to_ascii_lowercase();
    let i = lower.find(" to call ")?;
    let rest = t.get(i + " to call ".len()..)?;
    let mut words = rest.split(' ');
    let op = words.next()?.trim_matches('*').to_string();
    let on = words.next()?;
    if !on.eq_ignore_ascii_case("on") {
        return None;
    }
    let svc = words
        .next()?
        .trim_end_matches(['.', ',', ';', ':', ')', '"'])
        .trim_matches('*');
    let svc = svc.to_string();
    let mut m = lambda_msg(
        t,
        LambdaError::RoleLacks {
            operation: op,
            service: svc,
        },
    );
    m.reason = Reason::Implicit(PolicyKind::Identity);
    Some(m)
}

/// `Cannot access stream <arn>. Please ensure the role can perform the A, B, and C Actions ...`
pub(super) fn stream(t: &str) -> Message {
    let arn = after(t, "cannot access stream ").and_then(|r| {
        let tok = r.split_whitespace().next()?;
        let tok = tok.strip_suffix('.').unwrap_or(tok);
        tok.starts_with("arn:").then(|| tok.to_string())
    });
    let mut ops = Vec::new();
    if let Some(list) = after(t, "can perform the ") {
        let end = list
            .to_ascii_lowercase()
            .find(" actions")
            .unwrap_or(list.len());
        for part in list.get(..end).unwrap_or_default().split([',', ' ']) {
            let w = part.trim().trim_end_matches("...").trim_end_matches('…');
            if !w.is_empty()
                && !w.eq_ignore_ascii_case("and")
                && w.chars().all(|c| c.is_ascii_alphanumeric())
            {
                ops.push(w.to_string());
            }
        }
    }
    let mut m = lambda_msg(
        t,
        LambdaError::CannotAccessStream {
            stream: arn.clone(),
            operations: ops,
        },
    );
    m.resource = arn;
    m.reason = Reason::Implicit(PolicyKind::Identity);
    m
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "tests fail by panicking")]
mod fold_tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// The copy for plain text folds exactly as the general path does.
        #[test]
        fn the_fast_path_folds_as_the_general_one(
            ascii in "[ a-z:\t\n\r\x0b\x0c]{0,40}",
            any in "[ a-z:\t\n\r\x0b\x0c\u{85}\u{a0}\u{2028}\u{3000}é]{0,40}",
        ) {
            prop_assert_eq!(fold_ws(&ascii), fold_ws_chars(ascii.trim()));
            prop_assert_eq!(fold_ws(&any), fold_ws_chars(any.trim()));
        }
    }

    #[test]
    fn every_white_space_folds() {
        for (s, want) in [
            ("a\rb", "a b"),
            ("a\x0bb", "a b"),
            ("a\x0cb", "a b"),
            (" a  b\t\n c ", "a b c"),
            ("a\u{a0}b", "a b"),
            ("plain text: as is", "plain text: as is"),
        ] {
            assert_eq!(fold_ws(s), want, "{s:?}");
        }
    }
}
