//! Report: findings → text for people (table, markdown) and for scripts (json, jsonl).
//!
//! Everything shown comes from logs, which are attacker-controlled: terminal output escapes
//! control characters (so `\x1b]` cannot retitle the terminal and `\r` cannot overwrite a line),
//! markdown escapes markdown, and JSON is JSON-escaped by serde.

use std::fmt::Write as _;

use comfy_table::{ColumnConstraint, ContentArrangement, Table, Width, presets};

use crate::store::Finding;

/// Output formats of `report`, `replay` and `explain`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Table,
    Json,
    Jsonl,
    Markdown,
}

/// Escapes control characters (C0, DEL, C1) and bidirectional overrides so that text from logs
/// cannot drive a terminal. Printable text, including non-ASCII, is kept.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c if (0x80..=0x9f).contains(&(c as u32)) => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c if matches!(c as u32, 0x202a..=0x202e | 0x2066..=0x2069 | 0x200e | 0x200f) => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    out
}

/// Escapes text for a markdown table cell or paragraph.
pub fn escape_markdown(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in escape(s).chars() {
        if "\\`*_{}[]()<>#+-.!|~".contains(ch) {
            out.push('\\');
        }
        out.push(ch);
    }
    out
}

/// Renders findings in `format`. `width` is the terminal width for tables.
pub fn render(findings: &[Finding], format: Format, width: u16) -> String {
    match format {
        Format::Json => {
            let mut s = serde_json::to_string_pretty(findings).unwrap_or_else(|_| "[]".into());
            s.push('\n');
            s
        }
        Format::Jsonl => {
            let mut s = String::new();
            for f in findings {
                if let Ok(line) = serde_json::to_string(f) {
                    s.push_str(&line);
                    s.push('\n');
                }
            }
            s
        }
        Format::Table => table(findings, width),
        Format::Markdown => markdown(findings),
    }
}

/// Who a finding is about, in few characters: the function, else the principal's name.
fn subject(f: &Finding) -> String {
    if let Some(func) = &f.function {
        return func.clone();
    }
    match &f.principal {
        Some(p) => p.rsplit(['/', ':']).next().unwrap_or(p).to_string(),
        None => "?".to_string(),
    }
}

/// The fix in one line.
pub fn fix_summary(f: &Finding) -> String {
    if let Some(m) = &f.fix.managed_policy_arn {
        return format!("attach {}", m.rsplit('/').next().unwrap_or(m));
    }
    let service = f
        .fix
        .statement
        .as_ref()
        .and_then(|s| s.get("Principal"))
        .and_then(|p| p.get("Service"))
        .and_then(|s| s.as_str());
    match (f.fix.target.as_str(), f.cause.as_str()) {
        ("resource_policy", _) if service.is_some() => {
            format!("add-permission for {}", service.unwrap_or_default())
        }
        ("trust_policy", _) => "trust lambda.amazonaws.com".to_string(),
        (t, c) if c.starts_with("explicit_deny") => {
            format!("narrow the Deny ({})", t.replace('_', " "))
        }
        ("none", _) => "see notes".to_string(),
        (t, _) if f.fix.statement.is_some() => format!("add Allow to {}", t.replace('_', " ")),
        (t, _) => format!("change {}", t.replace('_', " ")),
    }
}

fn table(findings: &[Finding], width: u16) -> String {
    if findings.is_empty() {
        return "No findings.\n".to_string();
    }
    let mut t = Table::new();
    t.load_style(presets::UTF8_HORIZONTAL_ONLY)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_width(width.max(60))
        .set_header(vec!["ID / SEEN", "FUNCTION / ACTION", "CAUSE / FIX"]);
    if let Some(c) = t.column_mut(0) {
        c.set_constraint(ColumnConstraint::Absolute(Width::Fixed(16)));
    }
    for f in findings {
        let last = f
            .last_seen
            .as_deref()
            .map(|s| s.get(5..16).unwrap_or(s).replace('T', " "))
            .unwrap_or_else(|| "-".into());
        t.add_row(vec![
            format!(
                "{}\n{}× {last}",
                escape(f.id.get(..8).unwrap_or(&f.id)),
                f.count
            ),
            format!(
                "{}\n{}",
                escape(&subject(f)),
                escape(f.action.as_deref().unwrap_or("-"))
            ),
            format!("{}\n{}", escape(&f.cause), escape(&fix_summary(f))),
        ]);
    }
    let mut s = t.to_string();
    s.push('\n');
    s
}

fn markdown(findings: &[Finding]) -> String {
    let mut s = String::from("# whydenied findings\n\n");
    if findings.is_empty() {
        s.push_str("No findings.\n");
        return s;
    }
    s.push_str("| ID | Last seen | Count | Function / principal | Action | Cause | Fix |\n|---|---|---|---|---|---|---|\n");
    for f in findings {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} | {} |",
            escape_markdown(&f.id),
            escape_markdown(f.last_seen.as_deref().unwrap_or("-")),
            f.count,
            escape_markdown(&subject(f)),
            escape_markdown(f.action.as_deref().unwrap_or("-")),
            escape_markdown(&f.cause),
            escape_markdown(&fix_summary(f)),
        );
    }
    for f in findings {
        let _ = writeln!(
            s,
            "\n## {} {}\n",
            escape_markdown(&f.id),
            escape_markdown(f.action.as_deref().unwrap_or(""))
        );
        let _ = writeln!(
            s,
            "- **Principal:** {}",
            escape_markdown(f.principal.as_deref().unwrap_or("unknown"))
        );
        if let Some(r) = &f.resource {
            let _ = writeln!(s, "- **Resource:** {}", escape_markdown(r));
        }
        let _ = writeln!(s, "- **Message:** {}", escape_markdown(&f.message));
        for e in &f.explanation {
            let _ = writeln!(s, "- {}", escape_markdown(e));
        }
        if let Some(st) = &f.fix.statement {
            let pretty = serde_json::to_string_pretty(st).unwrap_or_default();
            // A fence longer than any backtick run inside keeps the block closed.
            let fence = "`".repeat(longest_backtick_run(&pretty).max(2) + 1);
            let _ = writeln!(
                s,
                "\n{fence}json\n{}\n{fence}",
                escape(&pretty).replace("\\n", "\n")
            );
        }
        for c in &f.fix.commands {
            let fence = "`".repeat(longest_backtick_run(c).max(2) + 1);
            let _ = writeln!(s, "\n{fence}sh\n{}\n{fence}", escape(c));
        }
    }
    s
}

fn longest_backtick_run(s: &str) -> usize {
    let (mut best, mut cur) = (0, 0);
    for c in s.chars() {
        if c == '`' {
            cur += 1;
            best = best.max(cur);
        } else {
            cur = 0;
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_terminal_controls() {
        assert_eq!(escape("a\x1b]0;pwned\x07b"), "a\\x1b]0;pwned\\x07b");
        assert_eq!(escape("x\ry"), "x\\ry");
        assert_eq!(escape("\u{9b}31m"), "\\u{9b}31m");
        assert_eq!(escape("\u{202e}evil"), "\\u{202e}evil");
        assert_eq!(escape("ünïcode ok"), "ünïcode ok");
    }

    #[test]
    fn escapes_markdown() {
        assert_eq!(escape_markdown("a|b*c_"), "a\\|b\\*c\\_");
    }
}
