//! The one error type of this crate: why a single raw value could not be read.

/// Why one raw value could not be read.
///
/// It says what was expected, for example `expected a number with decimal separator ','`.
/// It deliberately does not repeat the raw value, which may be personal data; the caller
/// adds file, line and column, which are enough to find it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("expected {expected}")]
pub struct ValueError {
    /// What the value should have looked like, phrased to follow the word "expected".
    pub expected: String,
}

impl ValueError {
    /// A `ValueError` saying that `expected` was expected.
    pub fn new(expected: impl Into<String>) -> Self {
        Self {
            expected: expected.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_prefixes_expected() {
        let e = ValueError::new("a number");
        assert_eq!(e.to_string(), "expected a number");
        assert_eq!(e.expected, "a number");
    }

    #[test]
    fn is_a_std_error() {
        let e: Box<dyn std::error::Error + Send + Sync> = Box::new(ValueError::new("x"));
        assert_eq!(e.to_string(), "expected x");
    }
}
