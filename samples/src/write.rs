//! Writing exports the way the source systems do: delimiter, quoting, encoding, CRLF, and the
//! Finnish value formats (decimal comma, `d.m.yyyy H:mm:ss`, thousands separators).
//!
//! Rows are streamed through a buffered writer one line at a time; nothing holds a whole file.

use std::fmt::{self, Display, Write as _};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, Timelike, Utc};

use crate::{GeneratedFile, Result, SampleError};

/// Character encoding of a file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Encoding {
    Utf8,
    /// UTF-8 starting with the byte order mark `EF BB BF` (Excel-friendly exports).
    Utf8Bom,
    /// Windows-1252 (`ä` = 0xE4), from older systems.
    Windows1252,
}

/// When fields are put in double quotes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Quoting {
    /// Only fields containing the delimiter, a quote or a line break.
    Needed,
    /// Every field, header included.
    Always,
}

/// How one export layout writes its CSV.
pub(crate) struct Layout {
    pub delimiter: char,
    pub encoding: Encoding,
    pub quoting: Quoting,
    pub header: &'static [&'static str],
}

impl Layout {
    /// `;`, UTF-8 without BOM, quotes only when needed: the common Finnish export.
    pub const fn finnish(header: &'static [&'static str]) -> Self {
        Self {
            delimiter: ';',
            encoding: Encoding::Utf8,
            quoting: Quoting::Needed,
            header,
        }
    }
}

/// One CSV file being written, row by row, with CRLF line endings.
///
/// ```text
/// file.field("ACE-00000001").field(FiDateTime(t)).empty().end_row()?;
/// ```
pub(crate) struct CsvFile {
    source: &'static str,
    path: PathBuf,
    out: BufWriter<File>,
    layout: &'static Layout,
    line: String,
    scratch: String,
    fields: usize,
    rows: usize,
}

impl CsvFile {
    /// Creates `path` and writes the BOM (if any) and the header.
    pub fn create(source: &'static str, path: PathBuf, layout: &'static Layout) -> Result<Self> {
        let file = File::create(&path).map_err(|e| io_error(&path, e))?;
        let mut csv = Self {
            source,
            path,
            out: BufWriter::with_capacity(1 << 16, file),
            layout,
            line: String::with_capacity(256),
            scratch: String::with_capacity(64),
            fields: 0,
            rows: 0,
        };
        if layout.encoding == Encoding::Utf8Bom {
            csv.out
                .write_all(b"\xEF\xBB\xBF")
                .map_err(|e| io_error(&csv.path, e))?;
        }
        for name in layout.header {
            csv.field(name);
        }
        csv.write_line()?;
        Ok(csv)
    }

    /// Appends a field, quoted if the layout or the value needs it.
    pub fn field(&mut self, value: impl Display) -> &mut Self {
        self.push(value, self.layout.quoting == Quoting::Always)
    }

    /// Appends a field that is always quoted (Ninchat's tag list).
    pub fn quoted(&mut self, value: impl Display) -> &mut Self {
        self.push(value, true)
    }

    /// Appends an empty field.
    pub fn empty(&mut self) -> &mut Self {
        self.field("")
    }

    /// Appends `value` or an empty field.
    pub fn opt<T: Display>(&mut self, value: Option<T>) -> &mut Self {
        match value {
            Some(v) => self.field(v),
            None => self.empty(),
        }
    }

    /// Ends the current data row.
    pub fn end_row(&mut self) -> Result<()> {
        debug_assert_eq!(self.fields, self.layout.header.len(), "{}", self.line);
        self.write_line()?;
        self.rows += 1;
        Ok(())
    }

    /// Flushes the file and reports what was written.
    pub fn finish(mut self) -> Result<GeneratedFile> {
        self.out.flush().map_err(|e| io_error(&self.path, e))?;
        Ok(GeneratedFile {
            source: self.source.to_owned(),
            path: self.path,
            rows: self.rows,
        })
    }

    fn push(&mut self, value: impl Display, force_quotes: bool) -> &mut Self {
        self.scratch.clear();
        write!(self.scratch, "{value}").expect("writing to a String cannot fail");
        if self.fields > 0 {
            self.line.push(self.layout.delimiter);
        }
        let delimiter = self.layout.delimiter;
        let needs_quotes = self.scratch.contains([delimiter, '"', '\r', '\n']);
        if force_quotes || needs_quotes {
            self.line.push('"');
            for c in self.scratch.chars() {
                if c == '"' {
                    self.line.push('"');
                }
                self.line.push(c);
            }
            self.line.push('"');
        } else {
            self.line.push_str(&self.scratch);
        }
        self.fields += 1;
        self
    }

    fn write_line(&mut self) -> Result<()> {
        self.line.push_str("\r\n");
        let written = match self.layout.encoding {
            Encoding::Utf8 | Encoding::Utf8Bom => self.out.write_all(self.line.as_bytes()),
            Encoding::Windows1252 => {
                let (bytes, _, unmappable) = encoding_rs::WINDOWS_1252.encode(&self.line);
                debug_assert!(!unmappable, "not Windows-1252: {}", self.line);
                self.out.write_all(&bytes)
            }
        };
        written.map_err(|e| io_error(&self.path, e))?;
        self.line.clear();
        self.fields = 0;
        Ok(())
    }
}

/// The I/O error of `path`.
pub(crate) fn io_error(path: &Path, source: std::io::Error) -> SampleError {
    SampleError::Io {
        path: path.to_owned(),
        source,
    }
}

/// `d.m.yyyy H:mm:ss`, no zero padding of day, month or hour: `5.3.2024 8:07:12`.
pub(crate) struct FiDateTime(pub NaiveDateTime);

impl Display for FiDateTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let t = self.0;
        write!(
            f,
            "{} {}:{:02}:{:02}",
            FiDate(t.date()),
            t.hour(),
            t.minute(),
            t.second()
        )
    }
}

/// `d.m.yyyy H:mm`: `25.3.2025 14:05`.
pub(crate) struct FiDateTimeMinutes(pub NaiveDateTime);

impl Display for FiDateTimeMinutes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let t = self.0;
        write!(f, "{} {}:{:02}", FiDate(t.date()), t.hour(), t.minute())
    }
}

/// `d.m.yyyy`: `31.12.2024`.
pub(crate) struct FiDate(pub NaiveDate);

impl Display for FiDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.0.day(), self.0.month(), self.0.year())
    }
}

/// A number with a fixed count of decimals and a decimal comma: `83,5`.
pub(crate) struct DecimalComma(pub f64, pub usize);

impl Display for DecimalComma {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = format!("{:.*}", self.1, self.0);
        f.write_str(&text.replace('.', ","))
    }
}

/// An integer with a thousands separator (a space or a no-break space): `22 700`.
pub(crate) struct Thousands(pub u64, pub char);

impl Display for Thousands {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let digits = self.0.to_string();
        for (i, digit) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i).is_multiple_of(3) {
                f.write_char(self.1)?;
            }
            f.write_char(digit)?;
        }
        Ok(())
    }
}

/// ISO 8601 in UTC with milliseconds: `2024-03-05T06:07:12.000Z`.
pub(crate) struct IsoUtcMillis(pub DateTime<Utc>);

impl Display for IsoUtcMillis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0.format("%Y-%m-%dT%H:%M:%S%.3fZ"))
    }
}

/// Unix epoch seconds with milliseconds: `1709618832.417`.
pub(crate) struct EpochSeconds(pub DateTime<Utc>);

impl Display for EpochSeconds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let millis = self.0.timestamp_millis();
        write!(
            f,
            "{}.{:03}",
            millis.div_euclid(1000),
            millis.rem_euclid(1000)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calendar::ymd;

    #[test]
    fn finnish_formats() {
        let t = ymd(2024, 3, 5).and_hms_opt(8, 7, 12).unwrap();
        assert_eq!(FiDateTime(t).to_string(), "5.3.2024 8:07:12");
        assert_eq!(FiDateTimeMinutes(t).to_string(), "5.3.2024 8:07");
        assert_eq!(DecimalComma(83.5, 1).to_string(), "83,5");
        assert_eq!(DecimalComma(-12.0, 1).to_string(), "-12,0");
        assert_eq!(Thousands(22_700, ' ').to_string(), "22 700");
        assert_eq!(
            Thousands(1_234_567, '\u{a0}').to_string(),
            "1\u{a0}234\u{a0}567"
        );
        assert_eq!(Thousands(999, ' ').to_string(), "999");
        let utc = t.and_utc();
        assert_eq!(IsoUtcMillis(utc).to_string(), "2024-03-05T08:07:12.000Z");
        assert_eq!(
            EpochSeconds(utc + chrono::TimeDelta::milliseconds(417)).to_string(),
            "1709626032.417"
        );
    }

    #[test]
    fn quoting_and_encoding() {
        static LAYOUT: Layout = Layout {
            delimiter: ';',
            encoding: Encoding::Windows1252,
            quoting: Quoting::Needed,
            header: &["Yksikkö", "Teksti"],
        };
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.csv");
        let mut csv = CsvFile::create("test", path.clone(), &LAYOUT).unwrap();
        csv.field("Hämeenlinna")
            .field("a;b \"c\"")
            .end_row()
            .unwrap();
        let file = csv.finish().unwrap();
        assert_eq!(file.rows, 1);
        let bytes = std::fs::read(path).unwrap();
        assert_eq!(
            bytes,
            b"Yksikk\xF6;Teksti\r\nH\xE4meenlinna;\"a;b \"\"c\"\"\"\r\n".to_vec()
        );
    }
}
