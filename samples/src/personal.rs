//! Synthetic personal data: the values the pipeline must drop or hash before anything is stored.
//!
//! Identity codes use individual numbers 900–999, the range reserved for temporary codes, so a
//! generated code is well-formed and check-character valid but never a real person's.

use chrono::{Datelike, NaiveDate};
use rand::Rng;

use crate::random::SourceRng;

const CHECK_CHARACTERS: &[u8; 31] = b"0123456789ABCDEFHJKLMNPRSTUVWXY";

/// A henkilötunnus `DDMMYYCZZZQ` for `birth` with individual number `individual` (002–999).
/// Born in the 1900s the century sign is `-` (or, if `new_sign`, `Y`, valid since 2023).
pub(crate) fn hetu(birth: NaiveDate, individual: u32, new_sign: bool) -> String {
    let (day, month, year) = (birth.day(), birth.month(), birth.year());
    let sign = match year {
        1800..=1899 => '+',
        1900..=1999 if new_sign => 'Y',
        1900..=1999 => '-',
        _ if new_sign => 'B',
        _ => 'A',
    };
    let yy = year.rem_euclid(100) as u32;
    let number = (day * 10_000 + month * 100 + yy) * 1000 + individual;
    let check = CHECK_CHARACTERS[(number % 31) as usize] as char;
    format!("{day:02}{month:02}{yy:02}{sign}{individual:03}{check}")
}

/// A random synthetic identity code for someone born on `birth`.
pub(crate) fn random_hetu(rng: &mut SourceRng, birth: NaiveDate) -> String {
    hetu(birth, rng.random_range(900..1000), rng.random_bool(0.1))
}

/// A Finnish mobile number, written the way people and systems write it:
/// `040 1234567` or `+358 50 1234567`.
pub(crate) fn phone(rng: &mut SourceRng) -> String {
    let (prefix, subscriber) = phone_parts(rng);
    if rng.random_bool(0.5) {
        format!("0{prefix} {subscriber:07}")
    } else {
        format!("+358 {prefix} {subscriber:07}")
    }
}

/// A mobile number as a Genesys ANI: `tel:+358401234567`.
pub(crate) fn phone_uri(rng: &mut SourceRng) -> String {
    let (prefix, subscriber) = phone_parts(rng);
    format!("tel:+358{prefix}{subscriber:07}")
}

fn phone_parts(rng: &mut SourceRng) -> (u32, u32) {
    const PREFIXES: [u32; 6] = [40, 41, 44, 45, 46, 50];
    (
        PREFIXES[rng.random_range(0..PREFIXES.len())],
        rng.random_range(0..10_000_000),
    )
}

/// Whether `code` is a well-formed henkilötunnus with the right check character.
#[cfg(test)]
pub(crate) fn hetu_is_valid(code: &str) -> bool {
    let bytes = code.as_bytes();
    if bytes.len() != 11 || !b"+-YXWVUABCDEF".contains(&bytes[6]) {
        return false;
    }
    let digits: String = code[..6].chars().chain(code[7..10].chars()).collect();
    match digits.parse::<u64>() {
        Ok(n) => CHECK_CHARACTERS[(n % 31) as usize] == bytes[10],
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calendar::ymd;

    #[test]
    fn known_check_character() {
        // The example of the Digital and Population Data Services Agency: 131052-308T.
        assert_eq!(hetu(ymd(1952, 10, 13), 308, false), "131052-308T");
        assert!(hetu_is_valid("131052-308T"));
        assert!(!hetu_is_valid("131052-308U"));
    }

    #[test]
    fn generated_codes_are_valid() {
        let mut rng = crate::random::source_rng(1, "t", "data");
        for year in [1920, 1948, 1999, 2005] {
            let code = random_hetu(&mut rng, ymd(year, 2, 28));
            assert!(hetu_is_valid(&code), "{code}");
        }
        assert!(phone(&mut rng).chars().filter(char::is_ascii_digit).count() >= 10);
    }
}
