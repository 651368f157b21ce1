//! Numbers as Finnish exports write them: decimal comma and space-separated thousands.
//!
//! Excel in a Finnish locale writes `4,2` and `22 700`, where the space is often a
//! no-break space (U+00A0) or a narrow no-break space (U+202F). [`NumberFormat`] names
//! the decimal separator and the thousands separators a source uses, and
//! [`parse_f64`] / [`parse_i64`] read one value strictly:
//!
//! * surrounding whitespace is ignored; an optional sign `-`, `+` or `−` (U+2212) may lead;
//! * thousands separators may appear only in the integer part, between digit groups of
//!   three (`1 234 567`), never doubled or at the ends;
//! * at most one decimal separator, with digits on both sides (`0,5`, not `,5` or `5,`);
//! * no exponents, no `NaN`, no infinities, and nothing else: `1.5` is rejected when the
//!   decimal separator is `,`, because a dot there means the column is not what the
//!   configuration says it is.

use serde::{Deserialize, Serialize};

use crate::ValueError;

/// How a source writes numbers: its decimal separator and accepted thousands separators.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NumberFormat {
    /// The decimal separator, `,` in Finnish exports.
    pub decimal: char,
    /// Characters accepted between groups of three digits in the integer part.
    pub thousands: Vec<char>,
}

impl NumberFormat {
    /// Finnish locale: decimal `,`; thousands separated by a space, a no-break space
    /// (U+00A0) or a narrow no-break space (U+202F).
    pub fn finnish() -> Self {
        Self {
            decimal: ',',
            thousands: vec![' ', '\u{a0}', '\u{202f}'],
        }
    }

    /// Machine format: decimal `.`, no thousands separators (JSON, APIs, ISO exports).
    pub fn plain() -> Self {
        Self {
            decimal: '.',
            thousands: Vec::new(),
        }
    }

    fn is_thousands(&self, c: char) -> bool {
        c != self.decimal && self.thousands.contains(&c)
    }

    /// Human description of this format, used in error messages.
    fn describe(&self, integer: bool) -> String {
        let mut out = String::from(if integer {
            "a whole number"
        } else {
            "a number"
        });
        if !integer {
            out.push_str(&format!(
                " with decimal separator {}",
                char_name(self.decimal)
            ));
        }
        let seps: Vec<char> = self
            .thousands
            .iter()
            .copied()
            .filter(|&c| c != self.decimal)
            .collect();
        if !seps.is_empty() {
            let names: Vec<String> = seps.iter().map(|&c| char_name(c)).collect();
            out.push_str(if integer { " with" } else { " and" });
            out.push_str(" thousands separated by ");
            out.push_str(&names.join(" or "));
        }
        let sep = seps.first().map(|c| c.to_string()).unwrap_or_default();
        if integer {
            out.push_str(&format!(" (e.g. -22{sep}700)"));
        } else {
            out.push_str(&format!(" (e.g. -1{sep}234{}5)", self.decimal));
        }
        out
    }
}

impl Default for NumberFormat {
    /// The Finnish format, [`NumberFormat::finnish`].
    fn default() -> Self {
        Self::finnish()
    }
}

fn char_name(c: char) -> String {
    match c {
        ' ' => "space".to_owned(),
        '\u{a0}' => "no-break space".to_owned(),
        '\u{202f}' => "narrow no-break space".to_owned(),
        '\t' => "tab".to_owned(),
        c => format!("'{c}'"),
    }
}

/// A number split into its parts, validated against a [`NumberFormat`].
#[derive(Debug, PartialEq)]
struct Scanned {
    negative: bool,
    int_digits: String,
    frac_digits: String,
}

impl Scanned {
    /// The number in Rust's own float/integer syntax, e.g. `-1234.5`.
    fn canonical(&self, with_fraction: bool) -> String {
        let mut out = String::with_capacity(self.int_digits.len() + self.frac_digits.len() + 2);
        if self.negative {
            out.push('-');
        }
        out.push_str(&self.int_digits);
        if with_fraction && !self.frac_digits.is_empty() {
            out.push('.');
            out.push_str(&self.frac_digits);
        }
        out
    }
}

/// Splits `s` into sign, integer digits and fraction digits, or `None` if it does not
/// follow the grammar in the module docs.
fn scan(s: &str, fmt: &NumberFormat) -> Option<Scanned> {
    let s = crate::trim(s);
    let mut chars = s.chars().peekable();
    let negative = match chars.peek() {
        Some('-' | '\u{2212}') => {
            chars.next();
            true
        }
        Some('+') => {
            chars.next();
            false
        }
        _ => false,
    };

    let mut int_digits = String::new();
    // Length of each digit group between thousands separators.
    let mut groups: Vec<usize> = vec![0];
    let mut saw_decimal = false;
    for c in chars.by_ref() {
        if c.is_ascii_digit() {
            int_digits.push(c);
            *groups.last_mut()? += 1;
        } else if c == fmt.decimal {
            saw_decimal = true;
            break;
        } else if fmt.is_thousands(c) {
            groups.push(0);
        } else {
            return None;
        }
    }
    if int_digits.is_empty() {
        return None;
    }
    if groups.len() > 1 {
        let (first, rest) = groups.split_first()?;
        if !(1..=3).contains(first) || rest.iter().any(|&g| g != 3) {
            return None;
        }
    }

    let mut frac_digits = String::new();
    if saw_decimal {
        for c in chars {
            if c.is_ascii_digit() {
                frac_digits.push(c);
            } else {
                return None;
            }
        }
        if frac_digits.is_empty() {
            return None;
        }
    }
    Some(Scanned {
        negative,
        int_digits,
        frac_digits,
    })
}

/// The value of a field that is nothing but 1 to 15 ASCII digits (surrounding whitespace
/// aside), as most numbers in an export are: read without the scan, which [`scan`] would
/// accept in every format with the same value. Longer runs, signs, separators and
/// fractions take the scan.
fn plain_digits(s: &str) -> Option<i64> {
    let digits = crate::trim(s).as_bytes();
    if digits.is_empty() || digits.len() > 15 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(digits.iter().fold(0, |n, d| n * 10 + i64::from(d - b'0')))
}

/// Reads a decimal number written in `fmt`, e.g. `"4,2"` → 4.2, `"22 700"` → 22700.0,
/// `"-1 234,56"` → -1234.56.
///
/// Rejects empty strings, malformed numbers (`"1,2,3"`, `"1.5"` when the decimal
/// separator is `,`), and anything that is not a finite number.
pub fn parse_f64(s: &str, fmt: &NumberFormat) -> Result<f64, ValueError> {
    if let Some(n) = plain_digits(s) {
        return Ok(n as f64); // exact: at most 15 digits
    }
    let err = || ValueError::new(fmt.describe(false));
    let scanned = scan(s, fmt).ok_or_else(err)?;
    let value: f64 = scanned.canonical(true).parse().map_err(|_| err())?;
    if value.is_finite() {
        Ok(value)
    } else {
        Err(ValueError::new(format!(
            "{} within the range of a 64-bit float",
            fmt.describe(false)
        )))
    }
}

/// Reads a whole number written in `fmt`, e.g. `"22 700"` → 22700.
///
/// A fraction is rejected (`"1,5"`), except an all-zero one (`"5,00"`), which some
/// exports write for counts formatted as decimals; it loses nothing. Values outside
/// the `i64` range are rejected.
pub fn parse_i64(s: &str, fmt: &NumberFormat) -> Result<i64, ValueError> {
    if let Some(n) = plain_digits(s) {
        return Ok(n);
    }
    let err = || ValueError::new(fmt.describe(true));
    let scanned = scan(s, fmt).ok_or_else(err)?;
    if scanned.frac_digits.bytes().any(|b| b != b'0') {
        return Err(err());
    }
    scanned.canonical(false).parse().map_err(|_| {
        ValueError::new(format!(
            "{} within the range of a 64-bit integer",
            fmt.describe(true)
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fi(s: &str) -> Result<f64, ValueError> {
        parse_f64(s, &NumberFormat::finnish())
    }

    fn fi_int(s: &str) -> Result<i64, ValueError> {
        parse_i64(s, &NumberFormat::finnish())
    }

    #[test]
    fn plain_digits_read_as_the_scan_reads_them() {
        for fmt in [NumberFormat::finnish(), NumberFormat::plain()] {
            for text in ["0", "7", "007", " 42 ", "\u{a0}900", "123456789012345"] {
                let scanned = scan(text, &fmt).expect("a number");
                let float: f64 = scanned.canonical(true).parse().unwrap();
                let int: i64 = scanned.canonical(false).parse().unwrap();
                assert_eq!(plain_digits(text), Some(int), "{text:?}");
                assert_eq!(parse_f64(text, &fmt).unwrap().to_bits(), float.to_bits());
                assert_eq!(parse_i64(text, &fmt).unwrap(), int);
            }
        }
        for other in [
            "",
            "-0",
            "+1",
            "1 234",
            "1,5",
            "1234567890123456",
            "12a",
            "١٢",
        ] {
            assert_eq!(plain_digits(other), None, "{other:?}");
        }
    }

    #[test]
    fn default_is_finnish() {
        assert_eq!(NumberFormat::default(), NumberFormat::finnish());
        assert_eq!(NumberFormat::finnish().decimal, ',');
        assert_eq!(
            NumberFormat::finnish().thousands,
            vec![' ', '\u{a0}', '\u{202f}']
        );
        assert_eq!(NumberFormat::plain().decimal, '.');
        assert!(NumberFormat::plain().thousands.is_empty());
    }

    #[test]
    fn finnish_decimals() {
        assert_eq!(fi("4,2"), Ok(4.2));
        assert_eq!(fi("-0,5"), Ok(-0.5));
        assert_eq!(fi("-1,5"), Ok(-1.5));
        assert_eq!(fi("+1,5"), Ok(1.5));
        assert_eq!(fi("\u{2212}1,5"), Ok(-1.5));
        assert_eq!(fi("0"), Ok(0.0));
        assert_eq!(fi("007"), Ok(7.0));
        assert_eq!(fi("  12,25 \t"), Ok(12.25));
    }

    #[test]
    fn finnish_thousands() {
        assert_eq!(fi("22 700"), Ok(22700.0));
        assert_eq!(fi("22\u{a0}700"), Ok(22700.0));
        assert_eq!(fi("22\u{202f}700"), Ok(22700.0));
        assert_eq!(fi("1 234,56"), Ok(1234.56));
        assert_eq!(fi("-1 234 567,5"), Ok(-1_234_567.5));
        assert_eq!(fi("1\u{a0}234 567"), Ok(1_234_567.0));
    }

    #[test]
    fn rejects_malformed() {
        for bad in [
            "",
            "   ",
            "-",
            "+",
            "1,2,3",
            "1.5",
            ",5",
            "5,",
            "1e5",
            "NaN",
            "nan",
            "inf",
            "-inf",
            "infinity",
            "1 23",
            "1234 567",
            "1  234",
            "12 34,5",
            "1 234,567 8",
            "--1",
            "+-1",
            "1-",
            "0x10",
            "١٢",
            "4,2 €",
            "½",
        ] {
            assert!(fi(bad).is_err(), "{bad:?} should be rejected");
        }
    }

    #[test]
    fn separator_at_end_of_integer_part_rejected() {
        assert!(fi("1 ,5").is_err());
        assert!(fi("1 234 ,5").is_err());
        // Surrounding whitespace, including no-break spaces, is trimmed, not a separator.
        assert_eq!(fi(" 1 234 "), Ok(1234.0));
        assert_eq!(fi("\u{a0}1 234\u{a0}"), Ok(1234.0));
    }

    #[test]
    fn huge_values_are_rejected_not_infinite() {
        let huge = format!("1{}", "0".repeat(400));
        let err = fi(&huge).unwrap_err();
        assert!(err.expected.contains("range"), "{err}");
        // Very long but finite is fine.
        assert_eq!(fi(&format!("1{}", "0".repeat(300))), Ok(1e300));
    }

    #[test]
    fn plain_format() {
        let p = NumberFormat::plain();
        assert_eq!(parse_f64("1.5", &p), Ok(1.5));
        assert_eq!(parse_f64("-1234.25", &p), Ok(-1234.25));
        assert!(parse_f64("1,5", &p).is_err());
        assert!(parse_f64("1 234", &p).is_err());
        assert_eq!(parse_i64("1234", &p), Ok(1234));
    }

    #[test]
    fn custom_format_with_dot_thousands() {
        let de = NumberFormat {
            decimal: ',',
            thousands: vec!['.'],
        };
        assert_eq!(parse_f64("1.234,5", &de), Ok(1234.5));
        assert!(parse_f64("1.23,5", &de).is_err());
    }

    #[test]
    fn decimal_wins_over_same_thousands_char() {
        // A misconfiguration listing the decimal separator as thousands separator too:
        // the decimal meaning wins.
        let odd = NumberFormat {
            decimal: ',',
            thousands: vec![',', ' '],
        };
        assert_eq!(parse_f64("1,5", &odd), Ok(1.5));
        assert!(!odd.describe(false).contains("separated by ','"));
    }

    #[test]
    fn integers() {
        assert_eq!(fi_int("22 700"), Ok(22700));
        assert_eq!(fi_int("22\u{a0}700"), Ok(22700));
        assert_eq!(fi_int("-5"), Ok(-5));
        assert_eq!(fi_int("5,00"), Ok(5));
        assert_eq!(fi_int("-9 223 372 036 854 775 808"), Ok(i64::MIN));
        assert_eq!(fi_int("9223372036854775807"), Ok(i64::MAX));
        assert!(
            fi_int("9223372036854775808")
                .unwrap_err()
                .expected
                .contains("range")
        );
        for bad in ["1,5", "0,01", "", "-", "1.0", "22 70", "x"] {
            assert!(fi_int(bad).is_err(), "{bad:?} should be rejected");
        }
    }

    #[test]
    fn error_messages_describe_the_format_not_the_value() {
        let e = fi("123456-789A").unwrap_err();
        assert_eq!(
            e.to_string(),
            "expected a number with decimal separator ',' and thousands separated by \
             space or no-break space or narrow no-break space (e.g. -1 234,5)"
        );
        assert!(!e.to_string().contains("123456"));
        let e = fi_int("1,5").unwrap_err();
        assert_eq!(
            e.to_string(),
            "expected a whole number with thousands separated by space or no-break space \
             or narrow no-break space (e.g. -22 700)"
        );
        let e = parse_f64("x", &NumberFormat::plain()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "expected a number with decimal separator '.' (e.g. -1234.5)"
        );
    }

    #[test]
    fn serde_round_trip() {
        let fmt = NumberFormat::finnish();
        let json = serde_json::to_string(&fmt).unwrap();
        assert_eq!(serde_json::from_str::<NumberFormat>(&json).unwrap(), fmt);
        let custom: NumberFormat =
            serde_json::from_str(r#"{"decimal": ".", "thousands": [","]}"#).unwrap();
        assert_eq!(parse_f64("1,234.5", &custom), Ok(1234.5));
    }
}
