//! The message grammar: any text, parsed and diagnosed, must not panic.
#![no_main]
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

/// Rules and parser are built once: building them per input would measure regex compilation.
fn setup() -> (&'static whydenied::rules::Rules, &'static whydenied::parse::Parser<'static>) {
    static RULES: OnceLock<whydenied::rules::Rules> = OnceLock::new();
    static PARSER: OnceLock<whydenied::parse::Parser<'static>> = OnceLock::new();
    let rules = RULES.get_or_init(|| whydenied::rules::Rules::embedded().unwrap());
    (rules, PARSER.get_or_init(|| whydenied::parse::Parser::new(rules).unwrap()))
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let (rules, parser) = setup();
    if let Some(d) = parser.message(text) {
        let diag = whydenied::suggest::analyse(&d, rules, None);
        // Every suggested command must split back into words.
        for c in &diag.fix.commands {
            assert!(!c.is_empty());
        }
    }
    let _ = parser.text(text, whydenied::ingest::SourceKind::LambdaText);
});
