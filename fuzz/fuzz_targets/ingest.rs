//! Format detection and framing of any bytes (JSON, JSON lines, text), through the parser.
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
    let (_, parser) = setup();
    let limits = whydenied::ingest::Limits {
        max_record_bytes: 4096,
        max_line_bytes: 1024,
        max_event_bytes: 2048,
        max_decompressed_bytes: 1 << 20,
        ..Default::default()
    };
    let mut reader = data;
    let _ = whydenied::ingest::read_reader(&mut reader, &limits, &mut |item| match item {
        whydenied::ingest::Item::Json(_, bytes) => {
            let _ = parser.json_record(bytes);
        }
        whydenied::ingest::Item::Text(_, text) => {
            let _ = parser.text(text, whydenied::ingest::SourceKind::LambdaText);
        }
        _ => {}
    });
});
