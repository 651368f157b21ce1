//! Finnish data conventions shared by every Tilannekuva pipeline.
//!
//! Source systems of a Finnish wellbeing services county export data the way Finnish
//! Excel and Finnish people write it: decimal commas, spaces as thousands separators,
//! `d.m.yyyy` dates in Europe/Helsinki local time, `kyllä/ei` booleans, Windows-1252
//! files from older systems, and personal data that must never reach a KPI tile.
//! This crate reads those values strictly and explains, in one sentence, what it
//! expected when a value cannot be read.
//!
//! | module | what it reads |
//! | --- | --- |
//! | [`number`] | `4,2`, `22 700`, `-0,5` |
//! | [`datetime`] | `25.3.2025 14:05`, ISO 8601, epoch seconds; Helsinki local time to UTC |
//! | [`boolean`] | `kyllä/ei`, `K/E`, `1/0`, missing-value markers |
//! | [`encoding`] | UTF-8 (with or without BOM), Windows-1252, ISO-8859-1 |
//! | [`hetu`] | henkilötunnus validation and detection, phone numbers in free text |
//! | [`calendar`] | Finnish public holidays and working days (arkipäivät) |
//!
//! Every fallible function returns [`ValueError`], which never contains the raw value
//! (it may be personal data), only what was expected; the caller adds file, line and
//! column.
//!
//! ```
//! use chrono::NaiveDate;
//! use tilannekuva_conventions::{calendar, datetime, number};
//!
//! let n = number::parse_f64("1 234,5", &number::NumberFormat::finnish())?;
//! assert_eq!(n, 1234.5);
//!
//! let t = datetime::parse_time("25.3.2025 14:05", &datetime::TimeFormat::FinnishDateTime)?;
//! let utc = datetime::to_utc(t, &datetime::LocalTimePolicy::default())?;
//! assert_eq!(utc.to_rfc3339(), "2025-03-25T12:05:00+00:00");
//!
//! // Callback promised by the next working day, asked for on Monday 23.12.2024:
//! let asked = NaiveDate::from_ymd_opt(2024, 12, 23).expect("a real date");
//! let due = calendar::add_working_days(asked, 1);
//! assert_eq!(due, NaiveDate::from_ymd_opt(2024, 12, 27).expect("a real date"));
//! # Ok::<(), tilannekuva_conventions::ValueError>(())
//! ```

pub mod boolean;
pub mod calendar;
pub mod datetime;
pub mod encoding;
mod error;
pub mod hetu;
pub mod number;

pub use error::ValueError;

/// `s` without leading and trailing whitespace, exactly as [`str::trim`] gives it, but
/// without decoding characters when the first and last bytes are printable ASCII, as they
/// are in nearly every field of an export: the readers call this once or more per field.
pub fn trim(s: &str) -> &str {
    let printable = |b: &u8| (0x21..0x7f).contains(b);
    let bytes = s.as_bytes();
    if bytes.first().is_some_and(printable) && bytes.last().is_some_and(printable) {
        s
    } else {
        s.trim()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn trim_is_str_trim() {
        for s in [
            "",
            " ",
            "a",
            " a ",
            "\u{a0}12\u{a0}",
            "x\u{202f}",
            "\u{b}v\u{b}",
            "\tk\r",
            "kyllä",
            "ä",
            " ä",
            "12 700",
            "\u{3000}jono\u{3000}",
            "\u{1f}a\u{1f}",
            "~",
        ] {
            assert_eq!(super::trim(s), s.trim(), "{s:?}");
        }
    }
}
