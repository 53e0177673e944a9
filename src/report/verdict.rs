//! A verdict as `whydenied simulate` prints it for people: the decision, the statements that
//! decided, what no statement allows, and the keys an undecided verdict needs.

use super::escape;

/// The verdict of `action` on `resource`, a few lines, every value escaped.
pub fn table(v: &crate::evaluate::Verdict, action: &str, resource: &str) -> String {
    use std::fmt::Write as _;
    let mut s = String::new();
    let decision = serde_json::to_value(v.decision)
        .ok()
        .and_then(|d| d.as_str().map(str::to_string))
        .unwrap_or_default();
    let _ = writeln!(
        s,
        "{}: {} on {}",
        decision,
        escape(action),
        escape(resource)
    );
    for d in &v.deciding {
        let _ = writeln!(
            s,
            "  {} statement {} in {} policy {}",
            d.effect,
            d.sid
                .as_deref()
                .map(|s| format!("{} (#{})", escape(s), d.index))
                .unwrap_or_else(|| format!("#{}", d.index)),
            d.kind.as_str(),
            escape(&d.policy)
        );
    }
    if !v.missing_allow.is_empty() {
        let kinds: Vec<&str> = v.missing_allow.iter().map(|k| k.as_str()).collect();
        let _ = writeln!(s, "  no statement allows it in: {}", kinds.join(", "));
    }
    if !v.missing_context_keys.is_empty() || !v.missing_policies.is_empty() {
        let _ = writeln!(s, "  undecided without: {}", escape(&v.undecided_by()));
    }
    for n in &v.notes {
        let _ = writeln!(s, "  note: {}", escape(n));
    }
    s
}
