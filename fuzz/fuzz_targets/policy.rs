//! The policy document parser, and the importer's recognition of CLI outputs.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(data) else {
        if let Ok(s) = std::str::from_utf8(data) {
            let _ = whydenied::policy::document_text(s);
        }
        return;
    };
    let _ = whydenied::policy::Policy::parse(&v);
    let _ = whydenied::import::recognise(&v, &whydenied::import::Options::default());
});
