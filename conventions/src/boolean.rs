//! Booleans and missing values as Finnish exports write them.
//!
//! Sources say yes and no as `kyllä/ei`, `K/E`, `1/0`, `true/false` or an `x` in a
//! checkbox column; a [`BoolVocabulary`] lists the words a column may use. Missing values
//! are usually an empty cell or `-`; [`is_missing`] checks a value against the markers a
//! source uses ([`default_missing_markers`]).

use serde::{Deserialize, Serialize};

use crate::ValueError;

/// The words a source uses for true and for false. Compared trimmed and case-insensitively.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BoolVocabulary {
    /// Words meaning true, e.g. `kyllä`.
    pub true_values: Vec<String>,
    /// Words meaning false, e.g. `ei`.
    pub false_values: Vec<String>,
}

impl Default for BoolVocabulary {
    /// True: `kyllä, k, 1, true, x, yes, y`; false: `ei, e, 0, false, no, n`.
    fn default() -> Self {
        let words = |ws: &[&str]| ws.iter().map(|w| (*w).to_owned()).collect();
        Self {
            true_values: words(&["kyllä", "k", "1", "true", "x", "yes", "y"]),
            false_values: words(&["ei", "e", "0", "false", "no", "n"]),
        }
    }
}

/// Whether `value` is `word`, ignoring surrounding whitespace and letter case.
fn same_word(value: &str, word: &str) -> bool {
    let word = word.trim();
    value.eq_ignore_ascii_case(word) || value.to_lowercase() == word.to_lowercase()
}

/// Reads one boolean. The error lists the accepted words.
///
/// If a word is listed as both true and false (a configuration mistake), it is rejected
/// rather than guessed.
pub fn parse_bool(s: &str, v: &BoolVocabulary) -> Result<bool, ValueError> {
    let value = s.trim();
    let is_true = v.true_values.iter().any(|w| same_word(value, w));
    let is_false = v.false_values.iter().any(|w| same_word(value, w));
    match (is_true, is_false) {
        (true, false) => Ok(true),
        (false, true) => Ok(false),
        _ => Err(ValueError::new(format!(
            "a yes/no value: one of {} for yes or {} for no",
            v.true_values.join(", "),
            v.false_values.join(", ")
        ))),
    }
}

/// The usual missing-value markers: the empty string and `-`.
pub fn default_missing_markers() -> Vec<String> {
    vec![String::new(), "-".to_owned()]
}

/// Whether `s` is one of `markers`, comparing both trimmed. A whitespace-only value is
/// missing when `""` is a marker.
pub fn is_missing(s: &str, markers: &[String]) -> bool {
    let value = crate::trim(s);
    markers.iter().any(|m| crate::trim(m) == value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_vocabulary() {
        let v = BoolVocabulary::default();
        for yes in [
            "kyllä", "Kyllä", "KYLLÄ", "k", "K", "1", "true", "TRUE", "x", "X", "yes", "Y",
        ] {
            assert_eq!(parse_bool(yes, &v), Ok(true), "{yes}");
        }
        for no in ["ei", "EI", "Ei", "e", "E", "0", "false", "False", "no", "N"] {
            assert_eq!(parse_bool(no, &v), Ok(false), "{no}");
        }
        assert_eq!(parse_bool("  kyllä\t", &v), Ok(true));
        assert_eq!(parse_bool("\u{a0}E ", &v), Ok(false));
    }

    #[test]
    fn rejects_unknown_and_lists_accepted() {
        let v = BoolVocabulary::default();
        for bad in ["", "-", "2", "kylla", "maybe", "tosi", "01", "k e"] {
            assert!(parse_bool(bad, &v).is_err(), "{bad:?}");
        }
        let e = parse_bool("maybe", &v).unwrap_err();
        assert_eq!(
            e.to_string(),
            "expected a yes/no value: one of kyllä, k, 1, true, x, yes, y for yes \
             or ei, e, 0, false, no, n for no"
        );
    }

    #[test]
    fn custom_vocabulary() {
        let v = BoolVocabulary {
            true_values: vec!["Tosi".to_owned(), " ON ".to_owned()],
            false_values: vec!["epätosi".to_owned()],
        };
        assert_eq!(parse_bool("tosi", &v), Ok(true));
        assert_eq!(parse_bool("on", &v), Ok(true));
        assert_eq!(parse_bool("EPÄTOSI", &v), Ok(false));
        assert!(parse_bool("kyllä", &v).is_err());
    }

    #[test]
    fn word_in_both_lists_is_rejected() {
        let v = BoolVocabulary {
            true_values: vec!["x".to_owned()],
            false_values: vec!["X".to_owned()],
        };
        assert!(parse_bool("x", &v).is_err());
    }

    #[test]
    fn missing_markers() {
        let m = default_missing_markers();
        assert_eq!(m, vec!["".to_owned(), "-".to_owned()]);
        assert!(is_missing("", &m));
        assert!(is_missing("   ", &m));
        assert!(is_missing(" - ", &m));
        assert!(!is_missing("0", &m));
        assert!(!is_missing("--", &m));
        assert!(!is_missing("-1", &m));
        let custom = vec!["NULL".to_owned(), " n/a ".to_owned()];
        assert!(is_missing("NULL", &custom));
        assert!(is_missing("n/a", &custom));
        assert!(!is_missing("null", &custom));
        assert!(!is_missing("", &custom));
        assert!(!is_missing("", &[]));
    }

    #[test]
    fn serde_round_trip() {
        let v = BoolVocabulary::default();
        let json = serde_json::to_string(&v).unwrap();
        assert_eq!(serde_json::from_str::<BoolVocabulary>(&json).unwrap(), v);
    }
}
