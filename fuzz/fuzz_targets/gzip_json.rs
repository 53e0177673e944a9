//! The gzip and JSON streaming path: the input is used as gzip data as it is (mostly corrupt),
//! and as JSON wrapped in a valid gzip stream.
#![no_main]
use libfuzzer_sys::fuzz_target;
use std::io::Write;

fuzz_target!(|data: &[u8]| {
    let limits = whydenied::ingest::Limits {
        max_record_bytes: 4096,
        max_line_bytes: 1024,
        max_event_bytes: 2048,
        max_decompressed_bytes: 1 << 20,
        ..Default::default()
    };
    let mut raw = vec![0x1f, 0x8b];
    raw.extend_from_slice(data);
    let mut r = raw.as_slice();
    let _ = whydenied::ingest::read_reader(&mut r, &limits, &mut |_| {});
    let mut gz = flate2_like(data);
    let mut r = gz.as_mut_slice() as &[u8];
    let _ = whydenied::ingest::read_reader(&mut r, &limits, &mut |_| {});
});

/// A valid gzip member holding `data` (stored, uncompressed blocks).
fn flate2_like(data: &[u8]) -> Vec<u8> {
    let mut out = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];
    let mut chunks = data.chunks(65535).peekable();
    if chunks.peek().is_none() {
        out.extend_from_slice(&[1, 0, 0, 0xff, 0xff]);
    }
    while let Some(c) = chunks.next() {
        let last = chunks.peek().is_none();
        out.push(u8::from(last));
        let len = c.len() as u16;
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&(!len).to_le_bytes());
        out.write_all(c).unwrap();
    }
    out.extend_from_slice(&crc32(data).to_le_bytes());
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    out
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    !crc
}
