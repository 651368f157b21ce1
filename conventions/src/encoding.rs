//! Text encodings of source exports, decoded to UTF-8.
//!
//! Newer systems write UTF-8, often with a byte order mark (Excel's "CSV UTF-8"); older
//! ones write Windows-1252 or ISO-8859-1, where `ä` is the single byte `0xE4`.
//! [`decoding_reader`] turns any of them into a stream of UTF-8 for a CSV reader, and
//! [`decode`] does the same for a whole buffer.
//!
//! Rules, the same for both:
//!
//! * A byte order mark at the start decides the encoding and is removed: a UTF-8 BOM
//!   (`EF BB BF`) also in a file configured as Windows-1252 (those three bytes would
//!   otherwise read as `ï»¿`), and a UTF-16 BOM likewise switches to UTF-16.
//! * Invalid UTF-8 is an error that names the byte offset of the first bad byte, counted
//!   from the start of the input (BOM included); it is never silently replaced with `�`,
//!   because a configured-as-UTF-8 file that is really Windows-1252 must be noticed.
//! * ISO-8859-1 is decoded as Windows-1252, as the WHATWG Encoding Standard (and every
//!   browser) does: the two differ only in bytes `0x80`–`0x9F`, which are control codes
//!   in ISO-8859-1 and real characters (`€`, `„`, `”`, …) in Windows-1252, and files
//!   labelled ISO-8859-1 that contain them are in practice Windows-1252.

use std::io::{self, Read};

use encoding_rs::{Decoder, DecoderResult, Encoding, UTF_8, WINDOWS_1252};
use serde::{Deserialize, Serialize};

use crate::ValueError;

/// The encoding a source's files are written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum TextEncoding {
    /// UTF-8, with or without a byte order mark.
    #[serde(rename = "utf-8")]
    Utf8,
    /// Windows-1252 (Western European), written by older Windows systems.
    #[serde(rename = "windows-1252")]
    Windows1252,
    /// ISO-8859-1 (Latin-1); decoded as Windows-1252 (see the module docs).
    #[serde(rename = "iso-8859-1")]
    Iso8859_1,
}

impl TextEncoding {
    fn encoding(self) -> &'static Encoding {
        match self {
            Self::Utf8 => UTF_8,
            Self::Windows1252 | Self::Iso8859_1 => WINDOWS_1252,
        }
    }

    /// A decoder that sniffs and removes a byte order mark, then decodes this encoding.
    fn decoder(self) -> Decoder {
        self.encoding().new_decoder()
    }
}

/// The message for malformed input whose first bad byte is at `offset`.
fn malformed_message(decoder: &Decoder, offset: u64) -> String {
    format!(
        "valid {} text (invalid byte sequence at byte offset {offset})",
        decoder.encoding().name()
    )
}

/// The byte offset of a malformed sequence reported after `read` bytes of a call that
/// started at `base`. encoding_rs reports the sequence's length and how many bytes after
/// it were consumed.
fn malformed_offset(base: u64, read: usize, bad_len: u8, consumed_after: u8) -> u64 {
    (base + read as u64).saturating_sub(u64::from(bad_len) + u64::from(consumed_after))
}

/// Wraps `inner` in a reader that yields UTF-8.
///
/// See the module docs for BOM handling and ISO-8859-1. For input that is not valid in
/// its encoding (only possible for UTF-8 and UTF-16), `read` fails with an
/// [`io::ErrorKind::InvalidData`] error whose message names the byte offset, and keeps
/// failing on later calls. Errors of `inner` are passed through.
pub fn decoding_reader<R>(inner: R, enc: TextEncoding) -> Box<dyn Read + Send>
where
    R: Read + Send + 'static,
{
    Box::new(DecodingReader::new(inner, enc))
}

/// Size of the internal input and output buffers.
const BUFFER_SIZE: usize = 16 * 1024;

/// The streaming decoder behind [`decoding_reader`].
struct DecodingReader<R> {
    inner: R,
    decoder: Decoder,
    /// Undecoded input is `input[in_start..in_end]`.
    input: Box<[u8]>,
    in_start: usize,
    in_end: usize,
    /// Decoded UTF-8 not yet handed out is `output[out_start..out_end]`.
    output: Box<[u8]>,
    out_start: usize,
    out_end: usize,
    /// Input bytes consumed by the decoder so far, for error offsets.
    consumed: u64,
    /// `inner` has reported end of file.
    eof: bool,
    /// The decoder has been flushed at end of file; nothing more will come.
    finished: bool,
    /// A decoding error, repeated on every later call.
    failed: Option<String>,
}

impl<R: Read> DecodingReader<R> {
    fn new(inner: R, enc: TextEncoding) -> Self {
        Self {
            inner,
            decoder: enc.decoder(),
            input: vec![0; BUFFER_SIZE].into_boxed_slice(),
            in_start: 0,
            in_end: 0,
            output: vec![0; BUFFER_SIZE].into_boxed_slice(),
            out_start: 0,
            out_end: 0,
            consumed: 0,
            eof: false,
            finished: false,
            failed: None,
        }
    }

    /// Decodes more input into the empty output buffer. Returns with output available,
    /// or with `finished` set, or with an error.
    fn fill_output(&mut self) -> io::Result<()> {
        while self.out_start == self.out_end && !self.finished {
            if self.in_start == self.in_end && !self.eof {
                self.in_start = 0;
                self.in_end = 0;
                let n = self.inner.read(&mut self.input)?;
                if n == 0 {
                    self.eof = true;
                }
                self.in_end = n;
            }
            let last = self.eof;
            let (result, read, written) = self.decoder.decode_to_utf8_without_replacement(
                &self.input[self.in_start..self.in_end],
                &mut self.output,
                last,
            );
            let base = self.consumed;
            self.in_start += read;
            self.consumed += read as u64;
            self.out_start = 0;
            self.out_end = written;
            match result {
                DecoderResult::InputEmpty => {
                    if last {
                        self.finished = true;
                    }
                }
                DecoderResult::OutputFull => {}
                DecoderResult::Malformed(bad_len, after) => {
                    let offset = malformed_offset(base, read, bad_len, after);
                    let message = malformed_message(&self.decoder, offset);
                    self.failed = Some(message.clone());
                    // Hand out what was decoded before the bad bytes first.
                    if written == 0 {
                        return Err(io::Error::new(io::ErrorKind::InvalidData, message));
                    }
                    return Ok(());
                }
            }
        }
        Ok(())
    }
}

impl<R: Read> Read for DecodingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        if self.out_start == self.out_end {
            if let Some(message) = &self.failed {
                return Err(io::Error::new(io::ErrorKind::InvalidData, message.clone()));
            }
            self.fill_output()?;
        }
        let available = &self.output[self.out_start..self.out_end];
        let n = available.len().min(buf.len());
        buf[..n].copy_from_slice(&available[..n]);
        self.out_start += n;
        Ok(n)
    }
}

/// Decodes a whole buffer to a `String`, by the same rules as [`decoding_reader`].
///
/// The error names the byte offset of the first invalid byte sequence.
pub fn decode(bytes: &[u8], enc: TextEncoding) -> Result<String, ValueError> {
    let mut decoder = enc.decoder();
    let capacity = decoder
        .max_utf8_buffer_length_without_replacement(bytes.len())
        .unwrap_or(bytes.len().saturating_mul(3));
    let mut out = String::with_capacity(capacity);
    let mut start = 0;
    loop {
        let (result, read) =
            decoder.decode_to_string_without_replacement(&bytes[start..], &mut out, true);
        let base = start as u64;
        start += read;
        match result {
            DecoderResult::InputEmpty => return Ok(out),
            DecoderResult::OutputFull => out.reserve(bytes.len() - start + 16),
            DecoderResult::Malformed(bad_len, after) => {
                let offset = malformed_offset(base, read, bad_len, after);
                return Err(ValueError::new(malformed_message(&decoder, offset)));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reads everything through `decoding_reader`, `chunk` bytes at a time from a reader
    /// that itself returns at most `inner_chunk` bytes per call.
    fn read_all(
        bytes: &[u8],
        enc: TextEncoding,
        inner_chunk: usize,
        chunk: usize,
    ) -> io::Result<String> {
        let inner = Trickle {
            data: bytes.to_vec(),
            pos: 0,
            chunk: inner_chunk,
        };
        let mut reader = decoding_reader(inner, enc);
        let mut out = Vec::new();
        let mut buf = vec![0; chunk];
        loop {
            let n = reader.read(&mut buf)?;
            if n == 0 {
                break;
            }
            out.extend_from_slice(&buf[..n]);
        }
        Ok(String::from_utf8(out).expect("decoding_reader yields UTF-8"))
    }

    /// A reader that returns at most `chunk` bytes per call, to exercise buffer edges.
    struct Trickle {
        data: Vec<u8>,
        pos: usize,
        chunk: usize,
    }

    impl Read for Trickle {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = self.chunk.min(buf.len()).min(self.data.len() - self.pos);
            buf[..n].copy_from_slice(&self.data[self.pos..self.pos + n]);
            self.pos += n;
            Ok(n)
        }
    }

    const CHUNKINGS: [(usize, usize); 5] = [(1, 1), (1, 7), (3, 2), (4096, 1), (100_000, 100_000)];

    #[test]
    fn windows_1252_a_umlaut() {
        assert_eq!(
            decode(&[0xE4], TextEncoding::Windows1252),
            Ok("ä".to_owned())
        );
        let bytes = b"P\xE4ij\xE4t-H\xE4me;\xD6\xF6\xC5\xE5;\x80 5\r\n";
        let expected = "Päijät-Häme;ÖöÅå;€ 5\r\n";
        for enc in [TextEncoding::Windows1252, TextEncoding::Iso8859_1] {
            assert_eq!(decode(bytes, enc).as_deref(), Ok(expected));
            for (inner, chunk) in CHUNKINGS {
                assert_eq!(read_all(bytes, enc, inner, chunk).unwrap(), expected);
            }
        }
    }

    #[test]
    fn utf8_passes_through() {
        let text = "Kanta-Häme;jono;€;\u{1F600}\r\n";
        assert_eq!(
            decode(text.as_bytes(), TextEncoding::Utf8).as_deref(),
            Ok(text)
        );
        for (inner, chunk) in CHUNKINGS {
            assert_eq!(
                read_all(text.as_bytes(), TextEncoding::Utf8, inner, chunk).unwrap(),
                text
            );
        }
    }

    #[test]
    fn utf8_bom_is_stripped() {
        let bytes = b"\xEF\xBB\xBFp\xC3\xA4iv\xC3\xA4;arvo";
        for enc in [
            TextEncoding::Utf8,
            TextEncoding::Windows1252,
            TextEncoding::Iso8859_1,
        ] {
            assert_eq!(decode(bytes, enc).as_deref(), Ok("päivä;arvo"), "{enc:?}");
            for (inner, chunk) in CHUNKINGS {
                assert_eq!(read_all(bytes, enc, inner, chunk).unwrap(), "päivä;arvo");
            }
        }
        // Only a leading BOM is removed; a BOM-only file is empty.
        assert_eq!(
            decode(b"\xEF\xBB\xBF", TextEncoding::Utf8).as_deref(),
            Ok("")
        );
        assert_eq!(
            decode("a\u{feff}b".as_bytes(), TextEncoding::Utf8).as_deref(),
            Ok("a\u{feff}b")
        );
    }

    #[test]
    fn utf16_bom_switches_encoding() {
        let bytes = b"\xFF\xFEa\x00\xE4\x00";
        assert_eq!(decode(bytes, TextEncoding::Utf8).as_deref(), Ok("aä"));
        assert_eq!(read_all(bytes, TextEncoding::Utf8, 1, 1).unwrap(), "aä");
    }

    #[test]
    fn empty_input() {
        assert_eq!(decode(b"", TextEncoding::Utf8).as_deref(), Ok(""));
        assert_eq!(read_all(b"", TextEncoding::Utf8, 1, 1).unwrap(), "");
        assert_eq!(read_all(b"", TextEncoding::Windows1252, 1, 1).unwrap(), "");
    }

    #[test]
    fn invalid_utf8_is_reported_with_offset() {
        // "Päijät" in Windows-1252, read as UTF-8: 0xE4 at offset 1 is not valid UTF-8.
        let bytes = b"P\xE4ij\xE4t";
        let e = decode(bytes, TextEncoding::Utf8).unwrap_err();
        assert_eq!(
            e.to_string(),
            "expected valid UTF-8 text (invalid byte sequence at byte offset 1)"
        );
        for (inner, chunk) in CHUNKINGS {
            let err = read_all(bytes, TextEncoding::Utf8, inner, chunk).unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::InvalidData);
            assert!(err.to_string().contains("byte offset 1"), "{err}");
        }
    }

    #[test]
    fn invalid_utf8_offset_far_into_a_stream_and_after_bom() {
        let mut bytes = b"\xEF\xBB\xBF".to_vec();
        bytes.extend(std::iter::repeat_n(b'a', 40_000));
        bytes.push(0xFF);
        bytes.extend_from_slice(b"rest");
        let expected_offset = 3 + 40_000;
        let e = decode(&bytes, TextEncoding::Utf8).unwrap_err();
        assert!(
            e.expected
                .contains(&format!("byte offset {expected_offset})")),
            "{e}"
        );
        for (inner, chunk) in CHUNKINGS {
            let err = read_all(&bytes, TextEncoding::Utf8, inner, chunk).unwrap_err();
            assert!(
                err.to_string()
                    .contains(&format!("byte offset {expected_offset})")),
                "{inner}/{chunk}: {err}"
            );
        }
    }

    #[test]
    fn truncated_sequence_at_end_and_overlong() {
        // "ä" is C3 A4; a lone C3 at the end is malformed.
        let e = decode(b"ab\xC3", TextEncoding::Utf8).unwrap_err();
        assert!(e.expected.contains("byte offset 2"), "{e}");
        let err = read_all(b"ab\xC3", TextEncoding::Utf8, 1, 1).unwrap_err();
        assert!(err.to_string().contains("byte offset 2"), "{err}");
        // Overlong encoding of '/'.
        let e = decode(b"x\xC0\xAF", TextEncoding::Utf8).unwrap_err();
        assert!(e.expected.contains("byte offset 1"), "{e}");
        // A bad continuation byte after a valid lead: the sequence starts at the lead.
        let e = decode(b"abc\xE2\x28\xA1", TextEncoding::Utf8).unwrap_err();
        assert!(e.expected.contains("byte offset 3"), "{e}");
    }

    #[test]
    fn error_is_sticky_and_good_prefix_is_delivered() {
        let mut reader =
            decoding_reader(io::Cursor::new(b"ok\xFFmore".to_vec()), TextEncoding::Utf8);
        let mut buf = [0_u8; 64];
        let n = reader.read(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"ok");
        assert_eq!(
            reader.read(&mut buf).unwrap_err().kind(),
            io::ErrorKind::InvalidData
        );
        assert_eq!(
            reader.read(&mut buf).unwrap_err().kind(),
            io::ErrorKind::InvalidData
        );
    }

    #[test]
    fn read_to_string_and_inner_errors() {
        let mut s = String::new();
        decoding_reader(
            io::Cursor::new(b"\xC5bo".to_vec()),
            TextEncoding::Windows1252,
        )
        .read_to_string(&mut s)
        .unwrap();
        assert_eq!(s, "Åbo");

        struct Failing;
        impl Read for Failing {
            fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
                Err(io::Error::other("disk on fire"))
            }
        }
        let err = decoding_reader(Failing, TextEncoding::Utf8)
            .read(&mut [0; 8])
            .unwrap_err();
        assert_eq!(err.to_string(), "disk on fire");
    }

    #[test]
    fn large_windows_1252_input_expands_correctly() {
        // Every byte becomes two UTF-8 bytes: exercises OutputFull handling.
        let bytes = vec![0xE4_u8; 100_000];
        let decoded = read_all(&bytes, TextEncoding::Windows1252, 100_000, 100_000).unwrap();
        assert_eq!(decoded.chars().count(), 100_000);
        assert!(decoded.chars().all(|c| c == 'ä'));
        assert_eq!(decode(&bytes, TextEncoding::Windows1252).unwrap(), decoded);
    }

    #[test]
    fn serde_names() {
        assert_eq!(
            serde_json::to_string(&TextEncoding::Utf8).unwrap(),
            "\"utf-8\""
        );
        assert_eq!(
            serde_json::from_str::<TextEncoding>("\"windows-1252\"").unwrap(),
            TextEncoding::Windows1252
        );
        assert_eq!(
            serde_json::from_str::<TextEncoding>("\"iso-8859-1\"").unwrap(),
            TextEncoding::Iso8859_1
        );
        assert!(serde_json::from_str::<TextEncoding>("\"latin1\"").is_err());
    }
}
