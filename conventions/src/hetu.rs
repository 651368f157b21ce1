//! Personal data that must not reach a KPI tile: henkilötunnus, phone numbers and e-mail
//! addresses.
//!
//! A henkilötunnus (Finnish personal identity code) is `DDMMYYCZZZQ`: date of birth,
//! century sign `C`, individual number `ZZZ` and check character `Q`. [`is_valid_hetu`]
//! validates one exactly; [`find_hetu`], [`find_phone`] and [`find_email`] look for one
//! inside free text (feedback comments, call notes), and [`find_personal`] for any of them,
//! so that a pipeline can refuse, drop or redact it.
//!
//! The finders lean towards finding: a false alarm costs a redacted word, a miss leaks a
//! person's identity.

use chrono::NaiveDate;

/// Check characters indexed by the nine-digit number `DDMMYYZZZ` modulo 31.
const CHECK_CHARS: &[u8; 31] = b"0123456789ABCDEFHJKLMNPRSTUVWXY";

/// Length of a henkilötunnus in bytes (it is all ASCII).
const HETU_LEN: usize = 11;

/// The century of a century sign: `+` 1800s; `-`, `Y`, `X`, `W`, `V`, `U` 1900s;
/// `A`–`F` 2000s (the letters other than `A` and `-` are in use since 2023).
fn century(sign: u8) -> Option<i32> {
    match sign {
        b'+' => Some(1800),
        b'-' | b'Y' | b'X' | b'W' | b'V' | b'U' => Some(1900),
        b'A'..=b'F' => Some(2000),
        _ => None,
    }
}

/// The value of `n` ASCII digits, or `None` if any byte is not a digit.
fn ascii_number(bytes: &[u8]) -> Option<u32> {
    bytes.iter().try_fold(0_u32, |acc, &b| {
        b.is_ascii_digit().then(|| acc * 10 + u32::from(b - b'0'))
    })
}

/// Validates `b` as a henkilötunnus; with `any_case`, letters may also be lower case.
fn check(b: &[u8], any_case: bool) -> bool {
    if b.len() != HETU_LEN {
        return false;
    }
    let letter = |c: u8| if any_case { c.to_ascii_uppercase() } else { c };
    let (Some(day), Some(month), Some(yy), Some(individual)) = (
        ascii_number(&b[0..2]),
        ascii_number(&b[2..4]),
        ascii_number(&b[4..6]),
        ascii_number(&b[7..10]),
    ) else {
        return false;
    };
    let Some(century) = century(letter(b[6])) else {
        return false;
    };
    // 000 and 001 are never issued; 002–899 are permanent, 900–999 temporary ids.
    if individual < 2 {
        return false;
    }
    // `yy` < 100, so the cast cannot truncate.
    let year = century + yy as i32;
    if NaiveDate::from_ymd_opt(year, month, day).is_none() {
        return false;
    }
    let number = (day * 10_000 + month * 100 + yy) * 1000 + individual;
    letter(b[10]) == CHECK_CHARS[(number % 31) as usize]
}

/// Whether `s` is exactly one valid henkilötunnus `DDMMYYCZZZQ`: an existing date of birth,
/// a century sign (`+`; `-` `Y` `X` `W` `V` `U`; `A`–`F`), an individual number 002–899
/// (or 900–999, temporary ids) and the right check character, in upper case. No
/// surrounding whitespace is allowed.
pub fn is_valid_hetu(s: &str) -> bool {
    check(s.as_bytes(), false)
}

/// Whether the character ending at byte `i` (before) or starting at byte `i` (after) is a
/// letter or digit, so that a match at `i` would be inside a longer alphanumeric run.
fn alnum_before(text: &str, i: usize) -> bool {
    text[..i]
        .chars()
        .next_back()
        .is_some_and(char::is_alphanumeric)
}

fn alnum_after(text: &str, i: usize) -> bool {
    text[i..].chars().next().is_some_and(char::is_alphanumeric)
}

/// The first valid henkilötunnus in free text, as its byte offset and the matched text.
///
/// The match must stand at word boundaries: not preceded or followed by a letter or digit
/// (so `x131052-308T` and `131052-308T5` are not matches). Letters are matched in either
/// case, since people type codes in lower case too; the check character must still be right.
pub fn find_hetu(text: &str) -> Option<(usize, &str)> {
    let bytes = text.as_bytes();
    text.char_indices()
        .filter(|&(_, c)| c.is_ascii_digit())
        .map(|(i, _)| i)
        .find(|&i| {
            bytes.get(i..i + HETU_LEN).is_some_and(|w| check(w, true))
                && !alnum_before(text, i)
                && !alnum_after(text, i + HETU_LEN)
        })
        // A valid window is all ASCII, so `i + HETU_LEN` is a char boundary.
        .and_then(|i| text.get(i..i + HETU_LEN).map(|m| (i, m)))
}

/// Fewest and most digits of a phone number after its `0` or `+358` prefix.
const PHONE_MIN_DIGITS: usize = 6;
const PHONE_MAX_DIGITS: usize = 11;

/// Byte length of a digit-group separator at the start of `s`: a space, a dash or a
/// no-break space.
fn separator_len(s: &str) -> Option<usize> {
    let c = s.chars().next()?;
    matches!(c, ' ' | '-' | '\u{a0}').then(|| c.len_utf8())
}

fn leading_digits(s: &str) -> usize {
    s.bytes().take_while(u8::is_ascii_digit).count()
}

/// Length in bytes of a phone number starting exactly at the start of `s`, if there is one.
fn phone_at(s: &str) -> Option<usize> {
    let mut pos = if s.starts_with("+358") {
        4
    } else if s.starts_with("00358") {
        5
    } else if s.starts_with('0') {
        1
    } else {
        return None;
    };
    if pos > 1 {
        // International form: "+358 40 …", "+358-40…", "+358 (0)40 …".
        pos += separator_len(&s[pos..]).unwrap_or(0);
        if s[pos..].starts_with("(0)") {
            pos += 3;
            pos += separator_len(&s[pos..]).unwrap_or(0);
        }
    }
    // An area code or mobile prefix never starts with 0.
    if !s
        .as_bytes()
        .get(pos)
        .is_some_and(|b| (b'1'..=b'9').contains(b))
    {
        return None;
    }
    let mut digits = 0;
    let mut end = pos;
    loop {
        let run = leading_digits(&s[pos..]);
        if digits + run > PHONE_MAX_DIGITS {
            if digits == 0 {
                // One run longer than any phone number: some other number.
                return None;
            }
            break;
        }
        digits += run;
        pos += run;
        end = pos;
        match separator_len(&s[pos..]) {
            Some(len) if leading_digits(&s[pos + len..]) > 0 => pos += len,
            _ => break,
        }
    }
    (digits >= PHONE_MIN_DIGITS && !alnum_after(s, end) && !dash_joined_after(s, end))
        .then_some(end)
}

/// `-` followed by a letter or digit at `i`: the text goes on as one dashed identifier.
fn dash_joined_after(text: &str, i: usize) -> bool {
    text[i..]
        .strip_prefix('-')
        .is_some_and(|rest| rest.chars().next().is_some_and(char::is_alphanumeric))
}

/// A letter or digit then `-` just before `i`: the text is a dashed identifier's part.
fn dash_joined_before(text: &str, i: usize) -> bool {
    text[..i]
        .strip_suffix('-')
        .is_some_and(|rest| rest.chars().next_back().is_some_and(char::is_alphanumeric))
}

/// The first Finnish phone number in free text, as its byte offset and the matched text.
///
/// A number starts with `+358` (or `00358`, optionally followed by `(0)`) or with a
/// national `0`, and is followed by 6–11 digits (7–12 digits in national form, counting
/// the `0`) in groups separated by single spaces, dashes or no-break spaces, for example
/// `+358 40 123 4567`, `040-1234567`, `0401234567`, `09 123 4567`. The match must stand at
/// word boundaries, and the digit after the prefix must not be `0`. Digits joined by dashes
/// to other letters or digits on either side (`55b164a3-0115-4847-abac-…`, a UUID; `A-0401234567`,
/// a case number) are part of an identifier, not a phone number.
pub fn find_phone(text: &str) -> Option<(usize, &str)> {
    text.char_indices()
        .filter(|&(i, c)| {
            (c == '+' || c == '0')
                && !alnum_before(text, i)
                && !dash_joined_before(text, i)
                && !(c == '0' && text[..i].ends_with('+'))
        })
        .find_map(|(i, _)| phone_at(&text[i..]).map(|len| (i, &text[i..i + len])))
}

/// The first e-mail address in free text, as its byte offset and the matched text: a local
/// part of letters, digits and `.`, `_`, `%`, `+`, `-`, then `@`, then a domain of at least
/// two dot-separated labels whose last is two or more letters (`etunimi.sukunimi@hva.fi`).
pub fn find_email(text: &str) -> Option<(usize, &str)> {
    let local = |c: char| c.is_alphanumeric() || matches!(c, '.' | '_' | '%' | '+' | '-');
    let label = |c: char| c.is_alphanumeric() || c == '-';
    for (at, _) in text.match_indices('@') {
        let Some((start, _)) = text[..at]
            .char_indices()
            .rev()
            .take_while(|&(_, c)| local(c))
            .last()
        else {
            continue;
        };
        let start = start + text[start..at].len() - text[start..at].trim_start_matches('.').len();
        if start == at {
            continue;
        }
        let rest = &text[at + 1..];
        let len = rest
            .char_indices()
            .take_while(|&(_, c)| label(c) || c == '.')
            .last()
            .map_or(0, |(i, c)| i + c.len_utf8());
        let domain = rest[..len].trim_end_matches(['.', '-']);
        let labels: Vec<&str> = domain.split('.').collect();
        let ok = labels.len() >= 2
            && labels.iter().all(|l| !l.is_empty())
            && labels
                .last()
                .is_some_and(|tld| tld.len() >= 2 && tld.chars().all(char::is_alphabetic));
        if ok {
            return Some((start, &text[start..at + 1 + domain.len()]));
        }
    }
    None
}

/// What kind of personal data a value carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PersonalKind {
    /// A henkilötunnus.
    Hetu,
    /// A Finnish phone number.
    Phone,
    /// An e-mail address.
    Email,
}

impl PersonalKind {
    /// How messages name it.
    pub fn describe(self) -> &'static str {
        match self {
            Self::Hetu => "a personal identity code (henkilötunnus)",
            Self::Phone => "a phone number",
            Self::Email => "an e-mail address",
        }
    }

    /// The placeholder a redacted value gets.
    pub fn placeholder(self) -> &'static str {
        match self {
            Self::Hetu => "[henkilötunnus]",
            Self::Phone => "[puhelinnumero]",
            Self::Email => "[sähköposti]",
        }
    }
}

/// The first personal identifier of any kind in free text: its kind, byte offset and text.
pub fn find_personal(text: &str) -> Option<(PersonalKind, usize, &str)> {
    // Every identifier has an `@` or at least six digits (a henkilötunnus nine, a phone
    // number six after its prefix): most values have neither and are passed at a glance.
    let bytes = text.as_bytes();
    if !bytes.contains(&b'@')
        && bytes.iter().filter(|b| b.is_ascii_digit()).count() < PHONE_MIN_DIGITS
    {
        return None;
    }
    let found = [
        find_hetu(text).map(|(i, m)| (PersonalKind::Hetu, i, m)),
        find_phone(text).map(|(i, m)| (PersonalKind::Phone, i, m)),
        find_email(text).map(|(i, m)| (PersonalKind::Email, i, m)),
    ];
    found.into_iter().flatten().min_by_key(|&(_, i, _)| i)
}

/// `text` with every personal identifier replaced by its kind's placeholder.
pub fn redact_personal(text: &str) -> String {
    let mut out = text.to_string();
    while let Some((kind, at, hit)) = find_personal(&out) {
        let len = hit.len();
        out.replace_range(at..at + len, kind.placeholder());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Check character computed independently of `check`, for building test codes.
    fn check_char(ddmmyy: &str, zzz: &str) -> char {
        let n: u64 = format!("{ddmmyy}{zzz}").parse().unwrap();
        "0123456789ABCDEFHJKLMNPRSTUVWXY"
            .chars()
            .nth((n % 31) as usize)
            .unwrap()
    }

    #[test]
    fn e_mail_addresses_in_text() {
        assert_eq!(
            find_email("soita tai kirjoita: matti.meikalainen@hyvaks.fi, kiitos"),
            Some((20, "matti.meikalainen@hyvaks.fi"))
        );
        assert_eq!(
            find_email("<a.b+tag@sub.example.org>."),
            Some((1, "a.b+tag@sub.example.org"))
        );
        for none in [
            "@hva.fi",
            "nimi@",
            "nimi@localhost",
            "x@y.1",
            "a @ b.fi",
            "jono@asiakas",
        ] {
            assert_eq!(find_email(none), None, "{none}");
        }
    }

    #[test]
    fn any_personal_identifier_is_found_first_come_and_redacted() {
        let t = "Soitin 040 123 4567, sposti liisa@example.fi, hetu 131052-308T.";
        assert_eq!(
            find_personal(t).map(|(k, _, m)| (k, m)),
            Some((PersonalKind::Phone, "040 123 4567"))
        );
        assert_eq!(
            redact_personal(t),
            "Soitin [puhelinnumero], sposti [sähköposti], hetu [henkilötunnus]."
        );
        assert_eq!(find_personal("jono 12, odotus 45 s"), None);
    }

    #[test]
    fn known_valid_codes() {
        for valid in [
            "131052-308T", // DVV's classic example
            "010101A123N",
            "010594Y9032",
            "311299-999E", // temporary id
            "290200A002C", // 2000 was a leap year
            "010100+002H", // 1800s
        ] {
            assert!(is_valid_hetu(valid), "{valid} should be valid");
        }
    }

    #[test]
    fn check_chars_match_independent_computation() {
        assert_eq!(check_char("131052", "308"), 'T');
        assert_eq!(check_char("010101", "123"), 'N');
        assert_eq!(check_char("010594", "903"), '2');
        assert_eq!(check_char("311299", "999"), 'E');
    }

    #[test]
    fn one_char_off_is_invalid() {
        let valid = "131052-308T";
        // Change every position to every other plausible character: a valid code is
        // never one digit substitution away from another with the same check character.
        for (i, _) in valid.char_indices() {
            for replacement in "0123456789ABCDEFHJKLMNPRSTUVWXY+-".chars() {
                let mut candidate: Vec<char> = valid.chars().collect();
                if candidate[i] == replacement {
                    continue;
                }
                candidate[i] = replacement;
                let candidate: String = candidate.into_iter().collect();
                // The century sign is not in the checksum: another sign only moves the
                // date of birth to another century (13.10.1852, 13.10.2052), which exists.
                let other_century = i == 6 && century(replacement as u8).is_some();
                assert_eq!(is_valid_hetu(&candidate), other_century, "{candidate}");
            }
        }
        assert!(!is_valid_hetu("131052-308S"));
        assert!(!is_valid_hetu("010101A123M"));
    }

    #[test]
    fn invalid_codes() {
        for invalid in [
            "",
            "131052-308",
            "131052-308TT",
            " 131052-308T",
            "131052-308t",  // lower case check char
            "131052Z308T",  // unknown century sign
            "290200-002C",  // 1900 was not a leap year
            "290201A002C",  // 29.2.2001 does not exist
            "320101A002C",  // day 32
            "011301A002C",  // month 13
            "010101A001R",  // individual number 001 is never issued
            "010101A000",   // too short
            "13105２-308T", // full-width digit
            "131052-3O8T",  // letter O for zero
        ] {
            assert!(!is_valid_hetu(invalid), "{invalid:?} should be invalid");
        }
        // The same codes with individual numbers 001 and 000 and correct check chars.
        let c001 = format!("010101A001{}", check_char("010101", "001"));
        let c000 = format!("010101A000{}", check_char("010101", "000"));
        let c002 = format!("010101A002{}", check_char("010101", "002"));
        assert!(!is_valid_hetu(&c001));
        assert!(!is_valid_hetu(&c000));
        assert!(is_valid_hetu(&c002));
    }

    #[test]
    fn find_hetu_in_text() {
        assert_eq!(find_hetu("131052-308T"), Some((0, "131052-308T")));
        assert_eq!(
            find_hetu("Asiakas (hetu 131052-308T) soitti."),
            Some((14, "131052-308T"))
        );
        // Byte offsets count multi-byte characters as bytes.
        let text = "Pyyntö: 010101A123N, kiitos";
        let (at, m) = find_hetu(text).unwrap();
        assert_eq!(m, "010101A123N");
        assert_eq!(&text[at..at + m.len()], "010101A123N");
        assert_eq!(at, "Pyyntö: ".len());
        // Lower-case letters in free text are still found.
        assert_eq!(find_hetu("hetu 010101a123n"), Some((5, "010101a123n")));
        // Inside a longer alphanumeric run: not a match.
        assert_eq!(find_hetu("x131052-308T"), None);
        assert_eq!(find_hetu("1131052-308T"), None);
        assert_eq!(find_hetu("131052-308T5"), None);
        assert_eq!(find_hetu("131052-308Tä"), None);
        // Invalid check character: not a match.
        assert_eq!(find_hetu("hetu 131052-308S"), None);
        assert_eq!(find_hetu(""), None);
        assert_eq!(find_hetu("ei tunnusta"), None);
        // First valid one wins, after skipping invalid candidates.
        assert_eq!(
            find_hetu("131052-308S ja 010101A123N ja 131052-308T"),
            Some((15, "010101A123N"))
        );
        // Punctuation around it is a boundary.
        assert_eq!(find_hetu("\"131052-308T\""), Some((1, "131052-308T")));
        assert_eq!(find_hetu("ääää131052-308T"), None);
        assert_eq!(find_hetu("ä 131052-308T"), Some((3, "131052-308T")));
    }

    #[test]
    fn find_phone_numbers() {
        for (text, expected) in [
            ("+358 40 123 4567", "+358 40 123 4567"),
            ("040-1234567", "040-1234567"),
            ("0401234567", "0401234567"),
            ("09 123 4567", "09 123 4567"),
            ("+358401234567", "+358401234567"),
            ("+358-40-123-4567", "+358-40-123-4567"),
            ("+358 (0)40 123 4567", "+358 (0)40 123 4567"),
            ("00358 40 123 4567", "00358 40 123 4567"),
            ("040\u{a0}123\u{a0}4567", "040\u{a0}123\u{a0}4567"),
        ] {
            assert_eq!(find_phone(text), Some((0, expected)), "{text:?}");
        }
    }

    #[test]
    fn find_phone_in_text() {
        assert_eq!(
            find_phone("Soittakaa numeroon 040 123 4567 huomenna."),
            Some((19, "040 123 4567"))
        );
        let text = "Pyyntö: soita +358 40 123 4567!";
        let (at, m) = find_phone(text).unwrap();
        assert_eq!(&text[at..], "+358 40 123 4567!");
        assert_eq!(m, "+358 40 123 4567");
        // A trailing separator is not part of the number.
        assert_eq!(find_phone("040-1234567- ok"), Some((0, "040-1234567")));
        assert_eq!(find_phone("(040) 1234567"), None);
        assert_eq!(find_phone("tel:0401234567"), Some((4, "0401234567")));
    }

    #[test]
    fn find_phone_rejects() {
        for text in [
            "",
            "040 123",                              // too short
            "0401234567890123",                     // one long run: some other number
            "x0401234567",                          // inside a word
            "0401234567x",                          // inside a word
            "00401234567",                          // 0 after the prefix
            "+35840",                               // too short
            "4,2 ja 0,5",                           // decimals
            "25.3.2025 14:05",                      // a date and time
            "040--1234567",                         // doubled separator leaves 2 digits
            "+0401234567",                          // 0 right after +
            "123 456 789",                          // no prefix
            "55b164a3-0115-4847-abac-fe4b55425e31", // a UUID's groups
            "A-0401234567",                         // a dashed case number
            "0401234567-B",                         // a dashed case number
        ] {
            assert_eq!(find_phone(text), None, "{text:?}");
        }
    }

    #[test]
    fn find_phone_stops_before_an_overlong_group() {
        // The group that would make the number too long is left out.
        assert_eq!(
            find_phone("040 1234567 123456789"),
            Some((0, "040 1234567"))
        );
    }
}
