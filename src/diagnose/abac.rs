//! Attribute-based access control: an Allow that a tag condition kept from applying is the
//! design saying no, and the fix is the tag (`iam tag-role`), not a broader Allow.

use super::*;

/// Sentences naming each Allow a tag condition stopped, with the tags the principal has.
pub(super) fn explain(v: &Verdict, tags: Option<&[(String, String)]>) -> Vec<String> {
    let mut out = Vec::new();
    for m in &v.tag_conditions_failed {
        let have: Vec<String> = m
            .keys
            .iter()
            .filter_map(|k| {
                let t = k.strip_prefix("aws:PrincipalTag/").or_else(|| {
                    k.get(..17)
                        .filter(|p| p.eq_ignore_ascii_case("aws:PrincipalTag/"))
                        .and_then(|_| k.get(17..))
                })?;
                let v = tags
                    .and_then(|ts| ts.iter().find(|(tk, _)| tk.eq_ignore_ascii_case(t)))
                    .map(|(_, v)| format!("{t}={v}"))
                    .unwrap_or_else(|| format!("no tag {t}"));
                Some(v)
            })
            .collect();
        out.push(format!(
            "{} would allow it, but its condition on {} does not hold{}: an attribute-based rule, so the tag is what must change.",
            super::correlate::describe_statement(&m.statement),
            m.keys.join(", "),
            if have.is_empty() {
                String::new()
            } else {
                format!(" (the principal has {})", have.join(", "))
            }
        ));
    }
    out
}

/// The principal tag a failed condition wants, when it is one literal value: (key, value).
pub(super) fn wanted_principal_tag(v: &Verdict) -> Option<(String, String)> {
    v.tag_conditions_failed.iter().find_map(|m| {
        m.wanted.iter().find_map(|(k, vals)| {
            let key = k
                .get(..17)
                .filter(|p| p.eq_ignore_ascii_case("aws:PrincipalTag/"))
                .and_then(|_| k.get(17..))?;
            match vals.as_slice() {
                [one] if !one.contains(['*', '?']) => Some((key.to_string(), one.clone())),
                _ => None,
            }
        })
    })
}
