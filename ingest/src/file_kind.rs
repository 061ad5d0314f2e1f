//! What a registry file looks like, from its first bytes, so that a file passed with
//! the wrong flag (a workbook as `--cooperatives`, a CSV as `--mutuals`) is named as
//! what it is, with the flag that fits, before a reader fails on it with less helpful
//! words.

use std::io::Read;

use ess_schemas::Family;

use crate::error::{IngestError, Result};
use crate::stage::LocalSource;

/// Bytes looked at.
const HEAD: usize = 4096;

/// A file's kind, as far as its first bytes tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    /// A ZIP archive: an XLSX workbook (or another Office file).
    Zip,
    /// An Excel 97–2003 workbook (OLE2 compound file).
    OldExcel,
    /// A PDF document.
    Pdf,
    /// Text starting with `{` or `[`: JSON.
    Json,
    /// Other text: CSV, as far as can be told.
    Text,
    /// Bytes that are not text.
    Binary,
    /// Nothing at all.
    Empty,
}

impl FileKind {
    /// Sniffs `head`, a file's first bytes.
    pub fn of(head: &[u8]) -> FileKind {
        if head.is_empty() {
            return FileKind::Empty;
        }
        if head.starts_with(b"PK\x03\x04") || head.starts_with(b"PK\x05\x06") {
            return FileKind::Zip;
        }
        if head.starts_with(&[0xD0, 0xCF, 0x11, 0xE0]) {
            return FileKind::OldExcel;
        }
        if head.starts_with(b"%PDF") {
            return FileKind::Pdf;
        }
        let text = head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(head);
        let controls = text
            .iter()
            .filter(|b| **b == 0 || (**b < 0x20 && !b"\t\n\r\x0c".contains(b)))
            .count();
        if controls > 0 && controls * 100 > text.len() {
            return FileKind::Binary;
        }
        match text.iter().find(|b| !b.is_ascii_whitespace()) {
            Some(b'{' | b'[') => FileKind::Json,
            _ => FileKind::Text,
        }
    }

    /// What it looks like, in words.
    fn describe(self) -> &'static str {
        match self {
            FileKind::Zip => "an XLSX workbook (a ZIP archive)",
            FileKind::OldExcel => "an Excel 97-2003 workbook (.xls)",
            FileKind::Pdf => "a PDF document",
            FileKind::Json => "JSON",
            FileKind::Text => "CSV text",
            FileKind::Binary => "a binary file, not text",
            FileKind::Empty => "empty",
        }
    }

    /// The flag for files of this kind, if any takes them.
    fn flag(self) -> Option<&'static str> {
        match self {
            FileKind::Zip => Some("--associations"),
            FileKind::Json => Some("--mutuals"),
            FileKind::Text => Some("--cooperatives"),
            _ => None,
        }
    }
}

/// Refuses a file whose kind does not fit its family's flag, saying what it looks
/// like and which flag fits. Empty files are left to the readers, which say so.
pub(crate) fn check_kind(source: &LocalSource) -> Result<()> {
    let mut head = Vec::with_capacity(HEAD);
    source
        .data
        .open()
        .and_then(|r| r.take(HEAD as u64).read_to_end(&mut head))
        .map_err(|e| IngestError::Io {
            file: source.name.clone(),
            source: e,
        })?;
    let kind = FileKind::of(&head);
    // A JSON Lines file may begin with a blank line or a BOM: a mutuals file fits
    // when it looks like JSON at all.
    let flag = match source.family {
        Family::Cooperative => "--cooperatives",
        Family::Association => "--associations",
        Family::Mutual => "--mutuals",
    };
    if kind.flag() == Some(flag) || kind == FileKind::Empty {
        return Ok(());
    }
    let advice = match (kind, kind.flag()) {
        (FileKind::OldExcel, _) => "save it as .xlsx and pass it with --associations".to_owned(),
        (_, Some(other)) => format!("pass it with {other}"),
        (_, None) => {
            "pass a CSV (--cooperatives), an XLSX (--associations) or a JSON file (--mutuals)"
                .to_owned()
        }
    };
    Err(IngestError::WrongKind {
        file: source.name.clone(),
        flag,
        looks_like: kind.describe(),
        advice,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_from_first_bytes() {
        assert_eq!(FileKind::of(b"PK\x03\x04\x14\x00"), FileKind::Zip);
        assert_eq!(
            FileKind::of(&[0xD0, 0xCF, 0x11, 0xE0, 0xA1]),
            FileKind::OldExcel
        );
        assert_eq!(FileKind::of(b"%PDF-1.7"), FileKind::Pdf);
        assert_eq!(FileKind::of(b"\xEF\xBB\xBF  [{\"id\": 1}]"), FileKind::Json);
        assert_eq!(FileKind::of(b"{\"id\": 1}\n{\"id\": 2}"), FileKind::Json);
        assert_eq!(
            FileKind::of("N° immatriculation;Raison sociale\r\n".as_bytes()),
            FileKind::Text
        );
        assert_eq!(FileKind::of(b"\x00\x01\x02\x03binary"), FileKind::Binary);
        assert_eq!(FileKind::of(b""), FileKind::Empty);
        // Windows-1252 text is text.
        assert_eq!(
            FileKind::of(b"N\xb0 immatriculation;Raison sociale"),
            FileKind::Text
        );
    }
}
