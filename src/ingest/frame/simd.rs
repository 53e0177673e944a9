//! Finding where a JSON record ends, 64 bytes at a time: quotes, backslashes, braces and
//! newlines classified into bit masks (SSE2 everywhere on x86_64, AVX2 or AVX-512 where the CPU
//! has them, a scalar loop elsewhere). The only module of the crate allowed `unsafe`: the
//! intrinsics, each call behind a check that the CPU has the feature.
#![allow(
    unsafe_code,
    reason = "SIMD intrinsics; every block says why it is sound"
)]

/// Scanning state inside one record: brace depth, whether the last byte scanned was inside a
/// string, and whether the next byte is escaped by a backslash that ended the previous block.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Scan {
    depth: u32,
    in_string: bool,
    prev_escaped: u64,
}

impl Scan {
    /// Just inside a record's opening brace.
    pub(super) fn in_record() -> Scan {
        Scan {
            depth: 1,
            ..Scan::default()
        }
    }
}

/// Bit masks of one 64-byte block: quotes, backslashes, `{`, `}`, newlines.
#[derive(Debug, Clone, Copy, Default)]
struct Masks {
    quote: u64,
    backslash: u64,
    open: u64,
    close: u64,
    newline: u64,
}

/// Classifies 64 bytes with SSE2, which every x86_64 CPU has (AVX2 is used where the CPU has it,
/// through `scan_record`); other targets use the scalar loop.
#[cfg(target_arch = "x86_64")]
fn classify(block: &[u8; 64]) -> Masks {
    classify_sse2(block)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[inline]
unsafe fn classify_avx2(block: &[u8; 64]) -> Masks {
    use std::arch::x86_64::{
        __m256i, _mm256_cmpeq_epi8, _mm256_loadu_si256, _mm256_movemask_epi8, _mm256_set1_epi8,
    };
    let mut m = Masks::default();
    for lane in 0..2 {
        // SAFETY: bytes lane*32 .. lane*32+32 of the 64-byte block are in bounds; unaligned load.
        let v = unsafe { _mm256_loadu_si256(block.as_ptr().add(lane * 32) as *const __m256i) };
        let bits = |c: u8| {
            _mm256_movemask_epi8(_mm256_cmpeq_epi8(v, _mm256_set1_epi8(c as i8))) as u32 as u64
        };
        let shift = lane * 32;
        m.quote |= bits(b'"') << shift;
        m.backslash |= bits(b'\\') << shift;
        m.open |= bits(b'{') << shift;
        m.close |= bits(b'}') << shift;
        m.newline |= bits(b'\n') << shift;
    }
    m
}

#[cfg(target_arch = "x86_64")]
fn classify_sse2(block: &[u8; 64]) -> Masks {
    use std::arch::x86_64::{
        __m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_set1_epi8,
    };
    let mut m = Masks::default();
    for lane in 0..4 {
        // SAFETY: `block` holds 64 bytes, so bytes lane*16 .. lane*16+16 are in bounds; the load
        // is unaligned; SSE2 is always available on x86_64.
        unsafe {
            let v = _mm_loadu_si128(block.as_ptr().add(lane * 16) as *const __m128i);
            let bits =
                |c: u8| _mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8(c as i8))) as u16 as u64;
            let shift = lane * 16;
            m.quote |= bits(b'"') << shift;
            m.backslash |= bits(b'\\') << shift;
            m.open |= bits(b'{') << shift;
            m.close |= bits(b'}') << shift;
            m.newline |= bits(b'\n') << shift;
        }
    }
    m
}

#[cfg(not(target_arch = "x86_64"))]
fn classify(block: &[u8; 64]) -> Masks {
    let mut m = Masks::default();
    for (i, &b) in block.iter().enumerate() {
        let bit = 1u64 << i;
        match b {
            b'"' => m.quote |= bit,
            b'\\' => m.backslash |= bit,
            b'{' => m.open |= bit,
            b'}' => m.close |= bit,
            b'\n' => m.newline |= bit,
            _ => {}
        }
    }
    m
}

/// The characters escaped by backslashes (simdjson's branchless odd-run rule): after an odd run
/// of backslashes the next character is escaped, after an even run it is not.
fn escaped_mask(backslash: u64, prev_escaped: &mut u64) -> u64 {
    const EVEN: u64 = 0x5555_5555_5555_5555;
    let backslash = backslash & !*prev_escaped;
    let follows_escape = (backslash << 1) | *prev_escaped;
    let odd_starts = backslash & !EVEN & !follows_escape;
    let (even_starts, overflow) = odd_starts.overflowing_add(backslash);
    *prev_escaped = u64::from(overflow);
    (EVEN ^ (even_starts << 1)) & follows_escape
}

/// Bit i set when an odd number of bits at or below i are set in `x`.
fn prefix_xor(mut x: u64) -> u64 {
    x ^= x << 1;
    x ^= x << 2;
    x ^= x << 4;
    x ^= x << 8;
    x ^= x << 16;
    x ^= x << 32;
    x
}

/// Scans `data` from `start` inside a record whose state is `st`, 64 bytes at a time, for the
/// brace that closes it. Returns its index (or None at the end of `data`, with `st` ready for the
/// next chunk) and the newlines outside strings before it.
pub(super) fn scan_record(data: &[u8], start: usize, st: &mut Scan) -> (Option<usize>, u64) {
    #[cfg(target_arch = "x86_64")]
    {
        match simd_level() {
            // SAFETY: the CPU supports AVX-512BW, PCLMULQDQ and POPCNT (checked by simd_level).
            Simd::Avx512 => return unsafe { scan_record_avx512(data, start, st) },
            // SAFETY: the CPU supports AVX2, PCLMULQDQ and POPCNT (checked by simd_level).
            Simd::Avx2 => return unsafe { scan_record_avx2(data, start, st) },
            Simd::Sse2 => {}
        }
    }
    scan_record_with(data, start, st, classify, prefix_xor)
}

/// The widest instruction set the scanner can use on this CPU.
#[cfg(target_arch = "x86_64")]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Simd {
    Avx512,
    Avx2,
    Sse2,
}

#[cfg(target_arch = "x86_64")]
fn simd_level() -> Simd {
    use std::sync::OnceLock;
    static LEVEL: OnceLock<Simd> = OnceLock::new();
    *LEVEL.get_or_init(|| {
        let base = std::arch::is_x86_feature_detected!("pclmulqdq")
            && std::arch::is_x86_feature_detected!("popcnt");
        if base && std::arch::is_x86_feature_detected!("avx512bw") {
            Simd::Avx512
        } else if base && std::arch::is_x86_feature_detected!("avx2") {
            Simd::Avx2
        } else {
            Simd::Sse2
        }
    })
}

/// Classifies 64 bytes with one AVX-512 load and a compare into a mask register per class.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw")]
#[inline]
unsafe fn classify_avx512(block: &[u8; 64]) -> Masks {
    use std::arch::x86_64::{_mm512_cmpeq_epi8_mask, _mm512_loadu_si512, _mm512_set1_epi8};
    // SAFETY: `block` is 64 readable bytes; the load is unaligned.
    let v = unsafe { _mm512_loadu_si512(block.as_ptr().cast()) };
    let eq = |c: u8| _mm512_cmpeq_epi8_mask(v, _mm512_set1_epi8(c as i8));
    Masks {
        quote: eq(b'"'),
        backslash: eq(b'\\'),
        open: eq(b'{'),
        close: eq(b'}'),
        newline: eq(b'\n'),
    }
}

/// `scan_record` compiled for AVX-512BW.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,pclmulqdq,popcnt")]
unsafe fn scan_record_avx512(data: &[u8], start: usize, st: &mut Scan) -> (Option<usize>, u64) {
    // SAFETY: this function only runs where AVX-512BW, PCLMULQDQ and POPCNT are available.
    scan_record_with(
        data,
        start,
        st,
        // SAFETY: this function runs only where the CPU has AVX-512BW and PCLMULQDQ.
        |b| unsafe { classify_avx512(b) },
        // SAFETY: as above.
        |x| unsafe { prefix_xor_clmul(x) },
    )
}

/// `scan_record` compiled for AVX2, carry-less multiplication and POPCNT, so that the
/// classification, the quote prefix-xor and the brace counts inline into the loop as single
/// instructions.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,pclmulqdq,popcnt")]
unsafe fn scan_record_avx2(data: &[u8], start: usize, st: &mut Scan) -> (Option<usize>, u64) {
    // SAFETY: this function only runs where AVX2, PCLMULQDQ and POPCNT are available.
    scan_record_with(
        data,
        start,
        st,
        // SAFETY: this function runs only where the CPU has AVX2 and PCLMULQDQ.
        |b| unsafe { classify_avx2(b) },
        // SAFETY: as above.
        |x| unsafe { prefix_xor_clmul(x) },
    )
}

/// `prefix_xor` in one carry-less multiplication by all ones (simdjson's trick).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "pclmulqdq")]
#[inline]
unsafe fn prefix_xor_clmul(x: u64) -> u64 {
    use std::arch::x86_64::{
        _mm_clmulepi64_si128, _mm_cvtsi128_si64, _mm_set_epi64x, _mm_set1_epi8,
    };
    let product = _mm_clmulepi64_si128(_mm_set_epi64x(0, x as i64), _mm_set1_epi8(-1), 0);
    _mm_cvtsi128_si64(product) as u64
}

/// The scanning loop. Most 64-byte blocks of a record hold no backslash and cannot close the
/// record (fewer closing braces than the depth), so those take no per-bit work: the depth moves
/// by the difference of two popcounts.
#[inline(always)]
fn scan_record_with(
    data: &[u8],
    start: usize,
    st: &mut Scan,
    classify: impl Fn(&[u8; 64]) -> Masks,
    prefix_xor: impl Fn(u64) -> u64,
) -> (Option<usize>, u64) {
    let mut pos = start;
    let mut lines = 0u64;
    let mut block = [0u8; 64];
    while pos < data.len() {
        let n = (data.len() - pos).min(64);
        let bytes: &[u8; 64] = match data
            .get(pos..pos + 64)
            .and_then(|s| <&[u8; 64]>::try_from(s).ok())
        {
            Some(b) => b,
            None => {
                block.fill(0);
                if let (Some(dst), Some(src)) = (block.get_mut(..n), data.get(pos..pos + n)) {
                    dst.copy_from_slice(src);
                }
                &block
            }
        };
        let valid = if n == 64 { u64::MAX } else { (1u64 << n) - 1 };
        let m = classify(bytes);
        let backslash = m.backslash & valid;
        let (escaped, carry) = if backslash == 0 && st.prev_escaped == 0 {
            (0, 0)
        } else {
            let mut carry = st.prev_escaped;
            let escaped = escaped_mask(backslash, &mut carry);
            (escaped, carry)
        };
        let quotes = m.quote & valid & !escaped;
        let mut in_str = prefix_xor(quotes);
        if st.in_string {
            in_str = !in_str;
        }
        let open = m.open & valid & !in_str;
        let close = m.close & valid & !in_str;
        let newline = m.newline & valid & !in_str;
        let closes = close.count_ones();
        if closes < st.depth {
            // The depth stays above zero through this block.
            st.depth = st.depth + open.count_ones() - closes;
        } else {
            let mut structural = open | close;
            while structural != 0 {
                let bit = structural.trailing_zeros();
                structural &= structural - 1;
                if (open >> bit) & 1 == 1 {
                    st.depth += 1;
                } else {
                    st.depth = st.depth.saturating_sub(1);
                    if st.depth == 0 {
                        let below = if bit == 63 {
                            u64::MAX
                        } else {
                            (1u64 << (bit + 1)) - 1
                        };
                        lines += u64::from((newline & below).count_ones());
                        // The record closed outside any string; the next byte starts fresh.
                        st.in_string = false;
                        st.prev_escaped = 0;
                        return (Some(pos + bit as usize), lines);
                    }
                }
            }
        }
        lines += u64::from(newline.count_ones());
        st.in_string = (in_str >> (n - 1)) & 1 == 1;
        st.prev_escaped = if n == 64 { carry } else { (escaped >> n) & 1 };
        pos += n;
    }
    (None, lines)
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "tests fail by panicking"
)]
mod scan_tests {
    use super::*;
    use crate::ingest::frame::{Frame, JsonFramer};

    const PIECES: [&str; 12] = [
        "a", "\\\\", "\\\"", "{", "}", "[", "]", "\\n", "x y", "\\\\\\\"", "é", "\\u0041",
    ];

    /// A record whose strings are made of `PIECES` (escapes, braces, brackets, multi-byte
    /// characters), nested or not.
    fn record() -> impl proptest::strategy::Strategy<Value = String> {
        (
            proptest::collection::vec(0..PIECES.len(), 0..8),
            proptest::bool::ANY,
        )
            .prop_map(|(idx, nested)| {
                let s: String = idx.iter().map(|&i| PIECES[i]).collect();
                let nested = if nested {
                    format!(r#","n":{{"m":[1,{{"k":"{s}"}}]}}"#)
                } else {
                    String::new()
                };
                format!(r#"{{"a":"{s}","b":[{{}},"{s}"]{nested}}}"#)
            })
    }

    /// A block of 64 bytes drawn from `alphabet`.
    fn block_of(alphabet: &'static [u8]) -> impl proptest::strategy::Strategy<Value = [u8; 64]> {
        proptest::collection::vec(proptest::sample::select(alphabet), 64).prop_map(|v| {
            let mut b = [0u8; 64];
            b.copy_from_slice(&v);
            b
        })
    }

    use proptest::strategy::Strategy as _;

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(300))]

        /// Random records with nasty strings, split at random chunk sizes: the framer must
        /// return exactly the records serde_json sees in the array.
        #[test]
        fn fast_scan_agrees_with_serde_on_random_records(
            records in proptest::collection::vec(record(), 1..7),
            cap in 1usize..98,
        ) {
            let file = format!("{{\"Records\":[{}]}}", records.join(","));
            let parsed: serde_json::Value = serde_json::from_str(&file).unwrap();
            proptest::prop_assert_eq!(parsed["Records"].as_array().unwrap().len(), records.len());
            let mut got = Vec::new();
            let mut skipped = None;
            let mut r = std::io::BufReader::with_capacity(cap, file.as_bytes());
            JsonFramer::new(1 << 20)
                .run(&mut r, &mut |f| match f {
                    Frame::Record(_, b) => got.push(String::from_utf8(b.to_vec()).unwrap()),
                    Frame::Skipped(_, why) => skipped = Some(why.to_string()),
                })
                .unwrap();
            proptest::prop_assert_eq!(skipped, None);
            proptest::prop_assert_eq!(got, records, "chunk {}", cap);
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2000))]

        /// Every classifier agrees with a plain byte loop.
        #[test]
        fn classifiers_agree(block in block_of(b"\"\\{}\nax")) {
            let mut want = Masks::default();
            for (i, &b) in block.iter().enumerate() {
                let bit = 1u64 << i;
                match b {
                    b'"' => want.quote |= bit,
                    b'\\' => want.backslash |= bit,
                    b'{' => want.open |= bit,
                    b'}' => want.close |= bit,
                    b'\n' => want.newline |= bit,
                    _ => {}
                }
            }
            let same = |m: Masks| {
                (m.quote, m.backslash, m.open, m.close, m.newline)
                    == (
                        want.quote,
                        want.backslash,
                        want.open,
                        want.close,
                        want.newline,
                    )
            };
            assert!(same(classify(&block)));
            #[cfg(target_arch = "x86_64")]
            if std::arch::is_x86_feature_detected!("avx2") {
                // SAFETY: checked just above.
                assert!(same(unsafe { classify_avx2(&block) }));
            }
            #[cfg(target_arch = "x86_64")]
            if std::arch::is_x86_feature_detected!("avx512bw") {
                // SAFETY: checked just above.
                assert!(same(unsafe { classify_avx512(&block) }));
            }
    }
    }

    /// The carry-less prefix-xor equals the shift ladder.
    #[cfg(target_arch = "x86_64")]
    #[test]
    fn clmul_prefix_xor_agrees() {
        if !std::arch::is_x86_feature_detected!("pclmulqdq") {
            return;
        }
        proptest::proptest!(|(x in proptest::num::u64::ANY)| {
            // SAFETY: checked just above.
            proptest::prop_assert_eq!(unsafe { prefix_xor_clmul(x) }, prefix_xor(x));
        });
        // SAFETY: as above.
        assert_eq!(unsafe { prefix_xor_clmul(0) }, 0);
        // SAFETY: as above.
        assert_eq!(unsafe { prefix_xor_clmul(1 << 63) }, 1 << 63);
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(3000))]

        /// The portable scanner and the dispatched one (AVX2 where the CPU has it) find the same
        /// ends with the same state, from every start, on random nasty records.
        #[test]
        fn portable_and_dispatched_scanners_agree(
            body in proptest::collection::vec(proptest::sample::select(&b"\"\\{}[]\nax"[..]), 0..300),
            start in 1usize..4,
            depth in 1u32..5,
            in_string in proptest::bool::ANY,
            prev_escaped in 0u64..2,
        ) {
            let mut rec = vec![b'{'];
            rec.extend(body);
            let init = Scan {
                depth,
                in_string,
                prev_escaped,
            };
            let (mut a, mut b) = (init, init);
            let start = start.min(rec.len());
            let want = scan_record_with(&rec, start, &mut a, classify, prefix_xor);
            let got = scan_record(&rec, start, &mut b);
            proptest::prop_assert_eq!(got, want, "{:?}", String::from_utf8_lossy(&rec));
            proptest::prop_assert_eq!(a, b);
        }
    }

    #[test]
    fn escapes_across_block_boundaries() {
        // 63 bytes then a backslash at the block edge escaping a quote in the next block.
        let filler = "x".repeat(57);
        let rec = format!(r#"{{"a":"{filler}\"}}","b":1}}"#);
        let mut st = Scan {
            depth: 1,
            ..Scan::default()
        };
        let (end, _) = scan_record(rec.as_bytes(), 1, &mut st);
        assert_eq!(end, Some(rec.len() - 1));
    }
}
