//! Text decoding: UTF-8 with or without BOM, else Windows-1252.

use std::io::{self, Read};

use encoding_rs::{Decoder, WINDOWS_1252};

const BOM: &[u8] = b"\xEF\xBB\xBF";

/// A text file's encoding, as detected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextEncoding {
    /// UTF-8.
    Utf8,
    /// UTF-8 after a byte-order mark.
    Utf8Bom,
    /// Windows-1252: what a file that is not valid UTF-8 is taken to be.
    Windows1252,
}

impl TextEncoding {
    /// The name written to the ingest report.
    pub fn label(self) -> &'static str {
        match self {
            TextEncoding::Utf8 => "UTF-8",
            TextEncoding::Utf8Bom => "UTF-8 with BOM",
            TextEncoding::Windows1252 => "windows-1252",
        }
    }
}

/// Reads `input` to the end and tells its encoding, without holding it in memory.
///
/// Each block read is checked in place (SIMD UTF-8 validation); only a character cut
/// by the block's end is carried to the front of the buffer for the next read.
pub fn detect_encoding(mut input: impl Read) -> io::Result<TextEncoding> {
    let mut buf = vec![0u8; 256 * 1024];
    // Bytes at the front of `buf` still to be checked: a cut character, or the start
    // of what may be a byte-order mark.
    let mut kept = 0;
    let mut first = true;
    let mut bom = false;
    let mut valid = true;
    loop {
        let n = input.read(&mut buf[kept..])?;
        if n == 0 {
            break;
        }
        if !valid {
            continue; // drain, so callers that hash through this reader see it all
        }
        let len = kept + n;
        let mut start = 0;
        if first {
            if len < BOM.len() && BOM.starts_with(&buf[..len]) {
                kept = len;
                continue;
            }
            first = false;
            if buf[..len].starts_with(BOM) {
                bom = true;
                start = BOM.len();
            }
        }
        match simdutf8::compat::from_utf8(&buf[start..len]) {
            Ok(_) => kept = 0,
            Err(e) if e.error_len().is_none() => {
                // An incomplete sequence at the end of the block: keep it for the next.
                let cut = start + e.valid_up_to();
                buf.copy_within(cut..len, 0);
                kept = len - cut;
            }
            Err(_) => valid = false,
        }
    }
    Ok(if bom {
        TextEncoding::Utf8Bom
    } else if valid && kept == 0 {
        TextEncoding::Utf8
    } else {
        TextEncoding::Windows1252
    })
}

/// Wraps `input` so that it reads as UTF-8 whatever `encoding` it is in; a BOM is
/// skipped.
pub fn decoded(input: impl Read + Send + 'static, encoding: TextEncoding) -> Box<dyn Read + Send> {
    match encoding {
        TextEncoding::Utf8 => Box::new(input),
        TextEncoding::Utf8Bom => Box::new(SkipBom {
            inner: input,
            skipped: false,
        }),
        TextEncoding::Windows1252 => Box::new(Transcoder {
            inner: input,
            decoder: WINDOWS_1252.new_decoder_without_bom_handling(),
            input: vec![0; 16 * 1024],
            output: Vec::new(),
            pos: 0,
            done: false,
        }),
    }
}

struct SkipBom<R> {
    inner: R,
    skipped: bool,
}

impl<R: Read> Read for SkipBom<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if !self.skipped {
            self.skipped = true;
            let mut head = [0u8; 3];
            let mut got = 0;
            while got < 3 {
                let n = self.inner.read(&mut head[got..])?;
                if n == 0 {
                    break;
                }
                got += n;
            }
            if !(got == 3 && head == *BOM) {
                // Not a BOM after all: hand the bytes back.
                let n = got.min(buf.len());
                buf[..n].copy_from_slice(&head[..n]);
                if n < got {
                    return Err(io::Error::other("read buffer too small"));
                }
                return Ok(n);
            }
        }
        self.inner.read(buf)
    }
}

struct Transcoder<R> {
    inner: R,
    decoder: Decoder,
    input: Vec<u8>,
    output: Vec<u8>,
    pos: usize,
    done: bool,
}

impl<R: Read> Read for Transcoder<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.pos == self.output.len() {
            if self.done {
                return Ok(0);
            }
            let n = self.inner.read(&mut self.input)?;
            let last = n == 0;
            // A Windows-1252 byte is at most 3 UTF-8 bytes.
            self.output.resize(n * 3 + 16, 0);
            let (_, read, written, _) =
                self.decoder
                    .decode_to_utf8(&self.input[..n], &mut self.output, last);
            debug_assert_eq!(read, n);
            self.output.truncate(written);
            self.pos = 0;
            self.done = last;
        }
        let n = (self.output.len() - self.pos).min(buf.len());
        buf[..n].copy_from_slice(&self.output[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_all(bytes: &[u8]) -> (TextEncoding, String) {
        let enc = detect_encoding(bytes).unwrap();
        let mut s = String::new();
        decoded(std::io::Cursor::new(bytes.to_vec()), enc)
            .read_to_string(&mut s)
            .unwrap();
        (enc, s)
    }

    #[test]
    fn utf8_bom_and_windows_1252() {
        assert_eq!(
            decode_all("Région".as_bytes()),
            (TextEncoding::Utf8, "Région".into())
        );
        assert_eq!(
            decode_all(b"\xEF\xBB\xBFR\xC3\xA9gion"),
            (TextEncoding::Utf8Bom, "Région".into())
        );
        // 0x80–0x9F are €, œ, ’… in Windows-1252, not C1 controls as in Latin-1.
        assert_eq!(
            decode_all(b"R\xE9gion \x80 \x9C \x92"),
            (TextEncoding::Windows1252, "Région € œ ’".into())
        );
        assert_eq!(decode_all(b""), (TextEncoding::Utf8, String::new()));
    }

    /// Hands out its bytes `block` at a time, so characters are cut at every place.
    struct Trickle<'a> {
        bytes: &'a [u8],
        block: usize,
    }

    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = self.block.min(buf.len()).min(self.bytes.len());
            buf[..n].copy_from_slice(&self.bytes[..n]);
            self.bytes = &self.bytes[n..];
            Ok(n)
        }
    }

    #[test]
    fn characters_cut_between_reads_are_still_utf8() {
        let text = "Région ⵜⴰⵎⴰⵣⵉⵖⵜ تعاونية 𝔄 ".repeat(3);
        let with_bom = [BOM, text.as_bytes()].concat();
        let mut broken = text.as_bytes().to_vec();
        broken.insert(9, 0xE9); // Windows-1252 `é` mid-text
        for block in 1..=9 {
            let detect = |bytes: &[u8]| detect_encoding(Trickle { bytes, block }).unwrap();
            assert_eq!(detect(text.as_bytes()), TextEncoding::Utf8, "block {block}");
            assert_eq!(detect(&with_bom), TextEncoding::Utf8Bom, "block {block}");
            assert_eq!(detect(&broken), TextEncoding::Windows1252, "block {block}");
            assert_eq!(
                detect(&BOM[..2]),
                TextEncoding::Windows1252,
                "block {block}"
            );
        }
        // And across the reader's own buffer.
        let long = "é".repeat(300_000);
        assert_eq!(
            detect_encoding(long.as_bytes()).unwrap(),
            TextEncoding::Utf8
        );
    }

    #[test]
    fn a_truncated_sequence_at_the_end_is_not_utf8() {
        assert_eq!(
            detect_encoding(&b"abc\xC3"[..]).unwrap(),
            TextEncoding::Windows1252
        );
    }
}
