//! Report: findings → text for people (table, markdown) and for scripts (json, jsonl).
//!
//! Everything shown comes from logs, which are attacker-controlled: terminal output escapes
//! control characters (so `\x1b]` cannot retitle the terminal and `\r` cannot overwrite a line),
//! markdown escapes markdown, and JSON is JSON-escaped by serde.

use std::fmt::Write as _;

use comfy_table::{
    Attribute, Cell, Color, ColumnConstraint, ContentArrangement, Table, Width, presets,
};

use crate::finding::Finding;

pub mod stats;
pub mod verdict;

/// `1 finding`, `2 findings`: a count with its noun in the right number.
pub fn count(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// Output formats of `report`, `replay` and `explain`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// The triage view: findings grouped by function, role or user, fitted to the width.
    Table,
    /// One JSON array of findings: the default when standard output is not a terminal.
    Json,
    /// One finding per line, as JSON.
    Jsonl,
    /// Markdown, with text from the logs escaped.
    Markdown,
}

/// [`escape`] line by line, for a message that is laid out in lines (a TOML parse error with
/// its caret): the lines stay lines, each continuation indented by two spaces so that none can
/// pass for a message of its own.
pub fn escape_lines(s: &str) -> String {
    s.trim_end_matches('\n')
        .split('\n')
        .map(|l| escape(l.strip_suffix('\r').unwrap_or(l)))
        .collect::<Vec<_>>()
        .join("\n  ")
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
            // Invisible format characters (Unicode category Cf: bidi controls, zero-width
            // spaces and joiners, the Arabic letter mark, tag characters) and the line and
            // paragraph separators could hide or reorder what a terminal shows.
            c if invisible(c) => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    out
}

/// Non-ASCII characters a terminal would not show as themselves: format characters (bidi
/// overrides, zero-width spaces, tag characters), line and paragraph separators, and unassigned,
/// private-use and surrogate code points, whose rendering no one can predict.
fn invisible(c: char) -> bool {
    use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};
    !c.is_ascii()
        && matches!(
            c.general_category(),
            GeneralCategory::Format
                | GeneralCategory::LineSeparator
                | GeneralCategory::ParagraphSeparator
                | GeneralCategory::Unassigned
                | GeneralCategory::PrivateUse
                | GeneralCategory::Surrogate
        )
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
    render_styled(findings, format, width, Style::Plain)
}

/// Whether terminal output may use colours: only on a terminal, and never with `NO_COLOR` set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// No escape codes.
    Plain,
    /// ANSI colours; escape codes count for no width, so the table wraps as a plain one does.
    Color,
}

impl Style {
    /// Colour when writing to a terminal and `NO_COLOR` is unset or empty.
    pub fn detect(is_terminal: bool) -> Style {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        if is_terminal && !no_color {
            Style::Color
        } else {
            Style::Plain
        }
    }

    /// `text` in the SGR colour `code` (`1;31`...), reset after it; plain text as it is.
    fn paint(self, code: &str, text: &str) -> String {
        match self {
            Style::Plain => text.to_string(),
            Style::Color => format!("\x1b[{code}m{text}\x1b[0m"),
        }
    }
}

/// Renders findings; tables use colour when `style` allows.
pub fn render_styled(findings: &[Finding], format: Format, width: u16, style: Style) -> String {
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
        Format::Table => triage(findings, width, style),
        Format::Markdown => markdown(findings),
    }
}

/// Writes findings one at a time in the `json` or `jsonl` shape that [`render`] gives, so that
/// a large output is never held whole in memory.
///
/// Each element is printed as `serde_json` prints it inside a pretty array, so the output is
/// what [`render`] gives for the same findings.
pub struct JsonWriter<W: std::io::Write> {
    out: W,
    lines: bool,
    count: u64,
}

impl<W: std::io::Write> JsonWriter<W> {
    /// A writer for `json` or `jsonl`; None for the other formats, which need every finding.
    pub fn new(out: W, format: Format) -> Option<Self> {
        let lines = match format {
            Format::Json => false,
            Format::Jsonl => true,
            Format::Table | Format::Markdown => return None,
        };
        Some(JsonWriter {
            out,
            lines,
            count: 0,
        })
    }

    /// Whether it writes JSON lines (else one pretty array).
    pub fn lines(&self) -> bool {
        self.lines
    }

    /// Writes one finding.
    pub fn push(&mut self, f: &Finding) -> std::io::Result<()> {
        let mut bytes = Vec::new();
        encode(f, self.lines, &mut bytes)?;
        self.push_encoded(&bytes)
    }

    /// Writes one finding that [`encode`] has made bytes of (with this writer's `lines`).
    pub fn push_encoded(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        if !self.lines {
            self.out
                .write_all(if self.count == 0 { b"[\n  " } else { b",\n  " })?;
        }
        self.out.write_all(bytes)?;
        self.count += 1;
        Ok(())
    }

    /// Closes the array and flushes.
    pub fn finish(mut self) -> std::io::Result<()> {
        if !self.lines {
            self.out
                .write_all(if self.count == 0 { b"[]\n" } else { b"\n]\n" })?;
        }
        self.out.flush()
    }
}

/// Appends one finding to `out` as [`JsonWriter`] writes it: a line of JSON (`lines`), or an
/// element of the pretty array without the separator before it, printed as `serde_json`
/// prints it inside a pretty array (each line indented by two spaces; JSON strings hold no
/// raw newline, so lines are safe to indent).
pub fn encode(f: &Finding, lines: bool, out: &mut Vec<u8>) -> std::io::Result<()> {
    if lines {
        serde_json::to_writer(&mut *out, f)?;
        out.push(b'\n');
        return Ok(());
    }
    let body = serde_json::to_vec_pretty(f)?;
    let mut from = 0;
    for nl in memchr::memchr_iter(b'\n', &body) {
        out.extend_from_slice(body.get(from..=nl).unwrap_or_default());
        out.extend_from_slice(b"  ");
        from = nl + 1;
    }
    out.extend_from_slice(body.get(from..).unwrap_or_default());
    Ok(())
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
    match (f.fix.target.as_str(), f.cause) {
        ("resource_policy" | "function_policy", _) if service.is_some() => {
            format!("add-permission for {}", service.unwrap_or_default())
        }
        ("layer_policy", _) => "add-layer-version-permission (layer owner)".to_string(),
        ("repository_policy", _) => "ECR repository policy for Lambda".to_string(),
        ("vpc_endpoint_policy", _) => "allow in the VPC endpoint policy".to_string(),
        ("trust_policy", _) => "trust lambda.amazonaws.com".to_string(),
        (t, _) if f.cause.is_explicit_deny() => {
            format!("narrow the Deny ({})", t.replace('_', " "))
        }
        ("none", _) => "see notes".to_string(),
        (t, _) if f.fix.statement.is_some() => format!("add Allow to {}", t.replace('_', " ")),
        (t, _) => format!("change {}", t.replace('_', " ")),
    }
}

/// Whether the fix is proven, in a few characters.
fn verified_mark(f: &Finding) -> &'static str {
    match f.fix.verified {
        Some(true) => "verified",
        Some(false) => "NOT verified",
        None => "unverified (policies unknown)",
    }
}

/// The triage view: findings grouped by function (or role), the group seen most recently
/// first, each with its cause and the fix in one line.
/// The heading a finding is grouped under in the triage table: its function, else its role or
/// user.
pub fn group_key(f: &Finding) -> String {
    heading_key(f.function.as_deref(), f.principal.as_deref())
}

/// [`group_key`] from the two fields it reads.
pub fn heading_key(function: Option<&str>, principal: Option<&str>) -> String {
    match (function, principal) {
        (Some(func), _) => format!("function {func}"),
        (None, Some(p)) => {
            let name = p.rsplit(['/', ':']).next().unwrap_or(p);
            if p.contains(":role/") {
                format!("role {name}")
            } else if p.contains(":user/") {
                format!("user {name}")
            } else {
                name.to_string()
            }
        }
        (None, None) => "unknown principal".to_string(),
    }
}

/// The order of the triage groups: newest first, then the most denials. `groups` holds each
/// key with the newest time and total count of its findings.
pub fn order_groups<T>(groups: &mut [(String, Option<String>, u64, T)]) {
    groups.sort_by(|a, b| b.1.cmp(&a.1).then(b.2.cmp(&a.2)));
}

/// The triage view of `findings`: grouped by [`group_key`], the group seen most recently first,
/// each group laid out by [`triage_group`].
fn triage(findings: &[Finding], width: u16, style: Style) -> String {
    if findings.is_empty() {
        return "No findings.\n".to_string();
    }
    let mut groups: Vec<(String, Option<String>, u64, Vec<&Finding>)> = Vec::new();
    for f in findings {
        let key = group_key(f);
        let at = match groups.iter().position(|g| g.0 == key) {
            Some(i) => i,
            None => {
                groups.push((key, None, 0, Vec::new()));
                groups.len() - 1
            }
        };
        if let Some(g) = groups.get_mut(at) {
            g.1 = g.1.clone().max(f.last_seen.clone());
            g.2 += f.count;
            g.3.push(f);
        }
    }
    order_groups(&mut groups);
    let mut s = String::new();
    for (i, (key, _, _, list)) in groups.iter().enumerate() {
        if i > 0 {
            s.push('\n');
        }
        s.push_str(&triage_group(key, list, width, style));
    }
    s
}

/// One group of the triage table: its heading and a row per finding.
pub fn triage_group(key: &str, list: &[&Finding], width: u16, style: Style) -> String {
    use std::fmt::Write as _;
    let mut s = String::new();
    let n: u64 = list.iter().map(|f| f.count).sum();
    let last = list
        .iter()
        .filter_map(|f| f.last_seen.clone())
        .max()
        .map(|t| t.get(5..16).unwrap_or(&t).replace('T', " "))
        .unwrap_or_else(|| "-".into());
    let role = list
        .iter()
        .find_map(|f| f.principal.as_deref())
        .filter(|p| key.starts_with("function ") && p.contains(":role/"))
        .map(|p| format!(" ({})", escape(p.rsplit('/').next().unwrap_or(p))))
        .unwrap_or_default();
    let counts = format!(
        ": {} finding{}, {n} denial{}, last {last}",
        list.len(),
        if list.len() == 1 { "" } else { "s" },
        if n == 1 { "" } else { "s" }
    );
    let name = escape(key);
    // The heading fits the width: the role goes first, then the name is cut.
    let budget = usize::from(width.max(60));
    let role = if name.chars().count() + role.chars().count() + counts.chars().count() > budget {
        String::new()
    } else {
        role
    };
    let room = budget.saturating_sub(counts.chars().count() + role.chars().count());
    let name = if name.chars().count() > room {
        let cut: String = name.chars().take(room.saturating_sub(1)).collect();
        format!("{cut}…")
    } else {
        name
    };
    let _ = writeln!(s, "{}{role}{counts}", style.paint("1", &name));
    let mut t = Table::new();
    if style == Style::Color {
        t.enforce_styling();
    }
    t.load_style(presets::NOTHING)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_width(width.max(60));
    for f in list {
        let seen = f
            .last_seen
            .as_deref()
            .map(|s| s.get(5..16).unwrap_or(s).replace('T', " "))
            .unwrap_or_else(|| "-".into());
        let mut state = String::new();
        if f.status == "resolved" {
            state.push_str(" [resolved]");
        }
        if f.suppressed.is_some() {
            state.push_str(" [suppressed]");
        }
        let mut id = Cell::new(format!(
            "{}\n{}× {seen}",
            escape(f.id.get(..8).unwrap_or(&f.id)),
            f.count
        ));
        let mut fix = Cell::new(format!("{}\n{}", escape(&fix_summary(f)), verified_mark(f)));
        // Colour is comfy-table's own, applied after the layout: cells hold no escape codes,
        // so measuring them needs no ANSI parsing (which was a sixth of a large table's time).
        if style == Style::Color {
            id = id.add_attribute(Attribute::Dim);
            fix = fix.fg(match f.fix.verified {
                Some(true) => Color::DarkGreen,
                Some(false) => Color::DarkRed,
                None => Color::DarkYellow,
            });
        }
        t.add_row(vec![
            id,
            Cell::new(format!(
                "{}{state}\n{}",
                escape(f.action.as_deref().unwrap_or("-")),
                escape(f.cause.as_str())
            )),
            fix,
        ]);
    }
    // The first column holds the id and `<count>× MM-DD HH:MM`: as wide as the largest count
    // needs (the date line must not wrap), plus a space each side.
    let digits = list
        .iter()
        .map(|f| f.count.max(1).ilog10() as u16 + 1)
        .max()
        .unwrap_or(1);
    if let Some(c) = t.column_mut(0) {
        c.set_constraint(ColumnConstraint::Absolute(Width::Fixed(digits + 15)));
    }
    // The last column is padded to its width: a piped or pasted table carries no trailing blanks
    // (in colour, on a terminal, painted padding may stay: it shows as nothing).
    for line in t.lines() {
        s.push_str(line.trim_end());
        s.push('\n');
    }
    s
}

/// One finding in full: what happened, the evidence, why, and the fix ready to copy.
pub fn detail(f: &Finding, style: Style) -> String {
    use std::fmt::Write as _;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{} {}",
        style.paint("1", &format!("Finding {}", escape(&f.id))),
        escape(f.action.as_deref().unwrap_or(""))
    );
    let field = |s: &mut String, k: &str, v: &str| {
        let _ = writeln!(s, "  {:<13} {}", format!("{k}:"), escape(v));
    };
    field(&mut s, "kind", f.kind.as_str());
    field(&mut s, "cause", f.cause.as_str());
    field(&mut s, "status", &f.status);
    if let Some(sup) = &f.suppressed {
        field(&mut s, "suppressed", &sup.reason);
    }
    field(&mut s, "policies", f.policy_state.as_str());
    field(
        &mut s,
        "principal",
        f.principal.as_deref().unwrap_or("unknown"),
    );
    if let Some(func) = &f.function {
        field(&mut s, "function", func);
    }
    field(&mut s, "resource", f.resource.as_deref().unwrap_or("-"));
    field(
        &mut s,
        "account",
        &format!(
            "{} {}",
            f.account.as_deref().unwrap_or("-"),
            f.region.as_deref().unwrap_or("")
        ),
    );
    field(
        &mut s,
        "seen",
        &format!(
            "{}× from {} to {}",
            f.count,
            f.first_seen.as_deref().unwrap_or("-"),
            f.last_seen.as_deref().unwrap_or("-")
        ),
    );
    let _ = writeln!(s, "\n{}", style.paint("1", "Message"));
    let _ = writeln!(s, "  {}", escape(&f.message));
    let _ = writeln!(s, "\n{}", style.paint("1", "Why"));
    for e in &f.explanation {
        let _ = writeln!(s, "  - {}", escape(e));
    }
    let _ = writeln!(
        s,
        "\n{} ({}, {})",
        style.paint("1", "Fix"),
        escape(f.fix.target.as_str()),
        verified_mark(f)
    );
    if let Some(m) = &f.fix.managed_policy_arn {
        let _ = writeln!(s, "  Attach the AWS managed policy {}", escape(m));
    }
    let statements: Vec<&serde_json::Value> = if f.fix.all_statements.len() > 1 {
        f.fix.all_statements.iter().collect()
    } else {
        f.fix.statement.iter().collect()
    };
    for st in statements {
        let pretty = serde_json::to_string_pretty(st).unwrap_or_default();
        for line in pretty.lines() {
            let _ = writeln!(s, "  {}", escape(line));
        }
    }
    if !f.fix.commands.is_empty() {
        let _ = writeln!(s, "\n{}", style.paint("1", "Commands"));
        for c in &f.fix.commands {
            let _ = writeln!(s, "  {}", escape(c));
        }
    }
    for n in &f.fix.notes {
        let _ = writeln!(s, "  note: {}", escape(n));
    }
    let _ = writeln!(
        s,
        "\n{} ({})",
        style.paint("1", "Evidence"),
        f.evidence.len()
    );
    for e in f.evidence.iter().take(20) {
        let _ = writeln!(
            s,
            "  {} {}:{} {} {}",
            escape(e.time.as_deref().unwrap_or("-")),
            escape(&e.file),
            e.line,
            escape(e.event_name.as_deref().unwrap_or("")),
            escape(e.event_id.as_deref().unwrap_or(""))
        );
    }
    if f.evidence.len() > 20 {
        let _ = writeln!(
            s,
            "  ... and {} more (--format json lists all)",
            f.evidence.len() - 20
        );
    }
    s
}

/// The Markdown report: the summary table first, then a section per finding.
fn markdown(findings: &[Finding]) -> String {
    let mut s = markdown_header(findings.is_empty());
    for f in findings {
        s.push_str(&markdown_row(f));
    }
    for f in findings {
        s.push_str(&markdown_detail(f));
    }
    s
}

/// The title and, when there are findings, the summary table's head.
pub fn markdown_header(empty: bool) -> String {
    let mut s = String::from("# whydenied findings\n\n");
    if empty {
        s.push_str("No findings.\n");
    } else {
        s.push_str("| ID | Last seen | Count | Function / principal | Action | Cause | Fix |\n|---|---|---|---|---|---|---|\n");
    }
    s
}

/// One finding's row of the Markdown summary table.
pub fn markdown_row(f: &Finding) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "| {} | {} | {} | {} | {} | {} | {} |",
        escape_markdown(&f.id),
        escape_markdown(f.last_seen.as_deref().unwrap_or("-")),
        f.count,
        escape_markdown(&subject(f)),
        escape_markdown(f.action.as_deref().unwrap_or("-")),
        escape_markdown(f.cause.as_str()),
        escape_markdown(&fix_summary(f)),
    );
    s
}

/// One finding's section of the Markdown report.
pub fn markdown_detail(f: &Finding) -> String {
    let mut s = String::new();
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
    s
}

/// The longest run of backticks in `s`: a code fence one longer can hold `s` without closing
/// early, whatever a log put in it.
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
#[allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "tests fail by panicking"
)]
mod tests {
    use super::*;
    use crate::policy::vocab::{Cause, Kind, PolicyState, Target};
    use crate::suggest::Fix;

    #[test]
    fn escape_lines_keeps_lines_and_indents_them() {
        assert_eq!(
            escape_lines("TOML parse error at line 3\n  |\n3 | x = \x1b[2J\n"),
            "TOML parse error at line 3\n    |\n  3 | x = \\x1b[2J"
        );
        assert_eq!(escape_lines("one line"), "one line");
    }

    #[test]
    fn escapes_terminal_controls() {
        assert_eq!(escape("a\x1b]0;pwned\x07b"), "a\\x1b]0;pwned\\x07b");
        assert_eq!(escape("x\ry"), "x\\ry");
        assert_eq!(escape("\u{9b}31m"), "\\u{9b}31m");
        assert_eq!(escape("\u{202e}evil"), "\\u{202e}evil");
        assert_eq!(escape("ünïcode ok"), "ünïcode ok");
        // Invisible format characters: the Arabic letter mark, zero-width space and no-break
        // space, a line separator, a tag letter.
        assert_eq!(
            escape("a\u{61c}b\u{200b}c\u{feff}d\u{2028}e\u{e0041}f"),
            "a\\u{61c}b\\u{200b}c\\u{feff}d\\u{2028}e\\u{e0041}f"
        );
        // Letters of every script and emoji stay as they are.
        assert_eq!(escape("日本語 عربي 👍"), "日本語 عربي 👍");
    }

    #[test]
    #[allow(unsafe_code, reason = "set_var in a test that alone reads NO_COLOR")]
    fn colour_only_on_a_terminal_and_never_with_no_color() {
        // SAFETY of the test: no other test in this binary reads NO_COLOR.
        assert_eq!(Style::detect(false), Style::Plain);
        unsafe { std::env::set_var("NO_COLOR", "1") };
        assert_eq!(Style::detect(true), Style::Plain);
        unsafe { std::env::remove_var("NO_COLOR") };
        assert_eq!(Style::detect(true), Style::Color);
        assert_eq!(Style::Color.paint("1", "x"), "\x1b[1mx\x1b[0m");
        assert_eq!(Style::Plain.paint("1", "x"), "x");
    }

    fn finding(id: &str, action: &str) -> Finding {
        Finding {
            id: id.into(),
            kind: Kind::AccessDenied,
            cause: Cause::NoIdentityAllow,
            first_seen: Some("2026-11-20T10:00:00Z".into()),
            last_seen: Some("2026-11-20T10:00:00Z".into()),
            count: 3,
            account: Some("111122223333".into()),
            region: Some("eu-west-1".into()),
            principal: Some(
                "arn:aws:iam::111122223333:role/a-rather-long-role-name-for-width".into(),
            ),
            function: Some("a-function-with-a-long-name-that-needs-room".into()),
            action: Some(action.into()),
            resource: Some("arn:aws:dynamodb:eu-west-1:111122223333:table/t".into()),
            message: String::new(),
            evidence: Vec::new(),
            policy_state: PolicyState::Denied,
            explanation: Vec::new(),
            fix: Fix {
                target: Target::IdentityPolicy,
                managed_policy_arn: Some(
                    "arn:aws:iam::aws:policy/service-role/AWSLambdaSQSQueueExecutionRole".into(),
                ),
                statement: None,
                commands: Vec::new(),
                verified: Some(true),
                notes: Vec::new(),
                all_statements: Vec::new(),
                account: None,
            },
            status: "open".into(),
            resolved_at: None,
            suppressed: None,
        }
    }

    /// With colour on, escape codes take no width: every line fits, no sequence is cut.
    #[test]
    fn coloured_tables_fit_their_width() {
        let fs = vec![
            finding("0123456789abcdef", "secretsmanager:GetSecretValue"),
            finding("fedcba9876543210", "dynamodb:BatchWriteItem"),
        ];
        for width in [60u16, 72, 100] {
            let out = render_styled(&fs, Format::Table, width, Style::Color);
            let plain = render_styled(&fs, Format::Table, width, Style::Plain);
            let stripped: String = {
                let mut t = String::new();
                let mut rest = out.as_str();
                while let Some((before, after)) = rest.split_once('\x1b') {
                    t.push_str(before);
                    let (params, tail) = after
                        .strip_prefix('[')
                        .and_then(|a| a.split_once('m'))
                        .unwrap_or_else(|| panic!("cut sequence: {out:?}"));
                    assert!(
                        params.chars().all(|c| c.is_ascii_digit() || c == ';'),
                        "{out:?}"
                    );
                    rest = tail;
                }
                t.push_str(rest);
                t
            };
            let stripped: Vec<&str> = stripped.lines().map(str::trim_end).collect();
            assert_eq!(stripped, plain.lines().collect::<Vec<_>>(), "only colour");
            for line in plain.lines() {
                assert!(
                    line.chars().count() <= usize::from(width),
                    "{width}: {line:?}"
                );
                assert_eq!(line, line.trim_end(), "no trailing blanks");
            }
        }
    }

    #[test]
    fn escapes_markdown() {
        assert_eq!(escape_markdown("a|b*c_"), "a\\|b\\*c\\_");
    }
}
