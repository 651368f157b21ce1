//! Chat: sessions from the Ninchat platform and from the county's own social-services chat.
//!
//! * `chat_ninchat`: `ninchat_sessions_YYYY-MM.csv`, UTF-8, `,`, times as Unix epoch seconds
//!   with milliseconds (`1709618832.417`), tags `;`-separated in one quoted field.
//! * `chat_digisote`: `digisote_chat_YYYY-MM.csv`, UTF-8 without BOM, `;`, Helsinki wall-clock
//!   times `d.m.yyyy H:mm:ss`, `kyllä`/`ei`/`-` flags.
//!
//! # Model
//!
//! Nurse chat (≈ 23 000 sessions a year) is open 8–20 every day, the digital sote-centre
//! (≈ 9 000) on working days, the mental-health chat (≈ 3 000) every day; the county's own
//! chat (≈ 2 500 together) 9–15 on working days. Response delay (accept − request) is
//! log-normal with a mean that falls from ≈ 4.2 min in Q1 2024 to ≈ 1.5 min in Q4 2024 and stays
//! 1.5–2 min in 2025. About 4.5 % of requests are dropped before an agent accepts them (6 % in
//! the county's chat). Nurse-chat sessions are resolved in the chat ≈ 85 % of the time (tag
//! `ratkaistu`); the rest are referred to an appointment or to emergency care.
//!
//! Session files are monthly by the Helsinki date of the request. Broken rows (Ninchat only):
//! `accept_time` before `request_time`.

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use rand::Rng;

use crate::calendar::{helsinki, is_working_day, local_instant, outside_repeated_hour, ymd};
use crate::random::{HourProfile, SourceRng, exponential, lognormal, poisson};
use crate::write::{CsvFile, Encoding, EpochSeconds, FiDateTime, Layout, Quoting};
use crate::{Ctx, GeneratedFile, Result};

/// Source name of the Ninchat export.
pub const NINCHAT: &str = "chat_ninchat";
/// Source name of the county's own chat export.
pub const DIGISOTE: &str = "chat_digisote";

/// Tag of a session resolved in the chat.
pub const RESOLVED_TAG: &str = "ratkaistu";

/// One chat session as intended.
#[derive(Clone, Debug, PartialEq)]
pub struct ChatTruth {
    /// [`NINCHAT`] or [`DIGISOTE`].
    pub source: &'static str,
    /// `session_id` / `Keskustelu`.
    pub session_id: String,
    /// Ninchat `queue_id` (`q-nurse`, ...); `None` for the county's chat.
    pub queue_id: Option<String>,
    /// Queue name as written.
    pub queue: String,
    /// When the customer asked for a chat.
    pub requested: DateTime<Utc>,
    /// When an agent accepted it; `None` if dropped.
    pub accepted: Option<DateTime<Utc>>,
    /// When an accepted session ended.
    pub finished: Option<DateTime<Utc>>,
    /// When a session that was never accepted was dropped (the county's chat writes it under
    /// `Päättynyt` with `Keskeytetty` = `kyllä`).
    pub dropped: Option<DateTime<Utc>>,
    /// Resolved in the chat; `None` for dropped sessions.
    pub resolved: Option<bool>,
    /// Ninchat tags as written (empty for the county's chat and for dropped sessions).
    pub tags: Vec<String>,
    /// `false` for a row broken on purpose.
    pub valid: bool,
}

/// A chat queue and its traffic.
#[derive(Debug)]
pub struct ChatQueue {
    /// Ninchat `queue_id`, empty for the county's chat.
    pub id: &'static str,
    /// Name as written.
    pub name: &'static str,
    per_year: f64,
    /// Volume on a day that is not a working day, relative to a working day.
    other_days: f64,
    resolution: f64,
    drop_share: f64,
    /// Multiplies the period's mean response delay.
    delay_factor: f64,
    hours: &'static HourProfile,
    topics: &'static [&'static str],
}

/// Ninchat queues.
pub const NINCHAT_QUEUES: &[ChatQueue] = &[
    ChatQueue {
        id: "q-nurse",
        name: "Sairaanhoitajan chat",
        per_year: 23_000.0,
        other_days: 0.45,
        resolution: 0.85,
        drop_share: 0.045,
        delay_factor: 1.0,
        hours: &HourProfile::CHAT,
        topics: &[
            "reseptiasia",
            "oireet",
            "ajanvaraus",
            "laboratorio",
            "rokotukset",
            "haavanhoito",
        ],
    },
    ChatQueue {
        id: "q-digisote",
        name: "Digitaalinen sote-keskus",
        per_year: 9_000.0,
        other_days: 0.0,
        resolution: 0.64,
        drop_share: 0.045,
        delay_factor: 1.0,
        hours: &HourProfile::OFFICE,
        topics: &[
            "ajanvaraus",
            "todistukset",
            "etavastaanotto",
            "sosiaalipalvelut",
        ],
    },
    ChatQueue {
        id: "q-mental",
        name: "Mielenterveyschat",
        per_year: 3_000.0,
        other_days: 0.5,
        resolution: 0.70,
        drop_share: 0.05,
        delay_factor: 1.1,
        hours: &HourProfile::CHAT,
        topics: &["keskusteluapu", "paihteet", "ahdistus", "kriisi"],
    },
];

/// The county's own chat queues.
pub const DIGISOTE_QUEUES: &[ChatQueue] = &[
    ChatQueue {
        id: "",
        name: "Sosiaaliohjauksen chat",
        per_year: 1_600.0,
        other_days: 0.0,
        resolution: 0.60,
        drop_share: 0.06,
        delay_factor: 1.2,
        hours: &HourProfile::DAYTIME,
        topics: &[],
    },
    ChatQueue {
        id: "",
        name: "Vammaispalvelujen chat",
        per_year: 900.0,
        other_days: 0.0,
        resolution: 0.60,
        drop_share: 0.06,
        delay_factor: 1.2,
        hours: &HourProfile::DAYTIME,
        topics: &[],
    },
];

/// Header of the Ninchat export.
pub const NINCHAT_HEADER: &[&str] = &[
    "session_id",
    "queue_id",
    "queue_name",
    "request_time",
    "accept_time",
    "finish_time",
    "drop_time",
    "tags",
];

/// Header of the county's chat export.
pub const DIGISOTE_HEADER: &[&str] = &[
    "Keskustelu",
    "Jono",
    "Aloitettu",
    "Vastattu",
    "Päättynyt",
    "Keskeytetty",
    "Ratkaistu",
];

static NINCHAT_LAYOUT: Layout = Layout {
    delimiter: ',',
    encoding: Encoding::Utf8,
    quoting: Quoting::Needed,
    header: NINCHAT_HEADER,
};

static DIGISOTE_LAYOUT: Layout = Layout::finnish(DIGISOTE_HEADER);

/// Mean response delay in minutes on `day`: 4.2 in Q1 2024 falling to 1.5 in Q4 2024, then
/// 1.5–2 through 2025 (linear between the knots, flat outside them).
pub fn mean_response_minutes(day: NaiveDate) -> f64 {
    const KNOTS: [((i32, u32, u32), f64); 10] = [
        ((2024, 1, 1), 4.7),
        ((2024, 3, 31), 3.7),
        ((2024, 6, 30), 2.8),
        ((2024, 9, 30), 1.8),
        ((2024, 10, 31), 1.5),
        ((2024, 12, 31), 1.45),
        ((2025, 3, 31), 1.7),
        ((2025, 6, 30), 1.95),
        ((2025, 9, 30), 1.6),
        ((2025, 12, 31), 1.75),
    ];
    let knots = KNOTS.map(|((y, m, d), v)| (ymd(y, m, d), v));
    if day <= knots[0].0 {
        return knots[0].1;
    }
    for pair in knots.windows(2) {
        let ((d0, v0), (d1, v1)) = (pair[0], pair[1]);
        if day <= d1 {
            let t = (day - d0).num_days() as f64 / (d1 - d0).num_days() as f64;
            return v0 + t * (v1 - v0);
        }
    }
    knots[knots.len() - 1].1
}

/// A session's course, before it is written.
struct Session {
    queue: &'static ChatQueue,
    requested: DateTime<Utc>,
    accepted: Option<DateTime<Utc>>,
    finished: Option<DateTime<Utc>>,
    dropped: Option<DateTime<Utc>>,
    resolved: Option<bool>,
    tags: Vec<String>,
}

/// The sessions of one day, in request order. `millis` gives times a sub-second part.
fn sessions(
    ctx: &Ctx<'_>,
    rng: &mut SourceRng,
    queues: &'static [ChatQueue],
    day: NaiveDate,
    millis: bool,
) -> Vec<Session> {
    let working = is_working_day(day);
    let mut requests = Vec::new();
    for queue in queues {
        let per_working_day = queue.per_year / (251.0 + queue.other_days * 114.0);
        let per_day = per_working_day * if working { 1.0 } else { queue.other_days };
        for _ in 0..poisson(rng, ctx.scaled(per_day)) {
            let ms = if millis { rng.random_range(0..1000) } else { 0 };
            requests.push((queue, local_instant(day, queue.hours.seconds(rng), ms)));
        }
    }
    requests.sort_by_key(|(_, t)| *t);
    let unit = if millis { 1 } else { 1000 };
    let after = |t: DateTime<Utc>, minutes: f64| {
        let ms = (minutes * 60_000.0 / f64::from(unit)).round().max(1.0) as i64 * i64::from(unit);
        outside_repeated_hour(t + TimeDelta::milliseconds(ms))
    };
    let mean_delay = mean_response_minutes(day);
    requests
        .into_iter()
        .map(|(queue, requested)| {
            if rng.random_bool(queue.drop_share) {
                let dropped = after(requested, exponential(rng, 2.5));
                return Session {
                    queue,
                    requested,
                    accepted: None,
                    finished: None,
                    dropped: Some(dropped),
                    resolved: None,
                    tags: Vec::new(),
                };
            }
            let accepted = after(
                requested,
                lognormal(rng, mean_delay * queue.delay_factor, 0.9),
            );
            let finished = after(accepted, lognormal(rng, 12.0, 0.6));
            let resolved = rng.random_bool(queue.resolution);
            let mut tags = Vec::new();
            if !queue.topics.is_empty() {
                tags.push(
                    if resolved {
                        RESOLVED_TAG
                    } else if rng.random_bool(0.75) {
                        "ohjattu_vastaanotolle"
                    } else {
                        "ohjattu_paivystykseen"
                    }
                    .to_owned(),
                );
                tags.push(queue.topics[rng.random_range(0..queue.topics.len())].to_owned());
            }
            Session {
                queue,
                requested,
                accepted: Some(accepted),
                finished: Some(finished),
                dropped: None,
                resolved: Some(resolved),
                tags,
            }
        })
        .collect()
}

/// A Ninchat-like session id: 13 characters of base-32.
fn session_id(rng: &mut SourceRng) -> String {
    const ALPHABET: &[u8; 32] = b"0123456789abcdefghijklmnopqrstuv";
    let mut bits: u64 = rng.random();
    (0..13)
        .map(|_| {
            let c = ALPHABET[(bits & 31) as usize] as char;
            bits >>= 5;
            c
        })
        .collect()
}

/// Writes `chat_ninchat`.
pub(crate) fn generate_ninchat(
    ctx: &Ctx<'_>,
    truth: &mut Vec<ChatTruth>,
) -> Result<Vec<GeneratedFile>> {
    let mut rng = ctx.rng(NINCHAT);
    let mut faults = ctx.faults(NINCHAT);
    let dir = ctx.source_dir(NINCHAT)?;
    let mut files = Vec::new();
    for month in ctx.months() {
        let path = dir.join(format!("ninchat_sessions_{}.csv", month.label()));
        let mut csv = CsvFile::create(NINCHAT, path, &NINCHAT_LAYOUT)?;
        for day in ctx.days(month) {
            for s in sessions(ctx, &mut rng, NINCHAT_QUEUES, day, true) {
                let id = session_id(&mut rng);
                let broken = s.accepted.is_some() && faults.hit(0.955);
                csv.field(&id)
                    .field(s.queue.id)
                    .field(s.queue.name)
                    .field(EpochSeconds(s.requested));
                if broken {
                    let before = TimeDelta::seconds(i64::from(faults.range(5..600)));
                    csv.field(EpochSeconds(s.requested - before));
                } else {
                    csv.opt(s.accepted.map(EpochSeconds));
                }
                csv.opt(s.finished.map(EpochSeconds))
                    .opt(s.dropped.map(EpochSeconds));
                if s.tags.is_empty() {
                    csv.empty();
                } else {
                    csv.quoted(s.tags.join(";"));
                }
                csv.end_row()?;
                truth.push(ChatTruth {
                    source: NINCHAT,
                    session_id: id,
                    queue_id: Some(s.queue.id.to_owned()),
                    queue: s.queue.name.to_owned(),
                    requested: s.requested,
                    accepted: s.accepted,
                    finished: s.finished,
                    dropped: s.dropped,
                    resolved: s.resolved,
                    tags: s.tags,
                    valid: !broken,
                });
            }
        }
        files.push(csv.finish()?);
    }
    Ok(files)
}

/// Writes `chat_digisote`. This layout has no planted broken rows.
pub(crate) fn generate_digisote(
    ctx: &Ctx<'_>,
    truth: &mut Vec<ChatTruth>,
) -> Result<Vec<GeneratedFile>> {
    let mut rng = ctx.rng(DIGISOTE);
    let dir = ctx.source_dir(DIGISOTE)?;
    let mut next = 100_000 + rng.random_range(0..1000);
    let mut files = Vec::new();
    let local = |t: DateTime<Utc>| FiDateTime(helsinki(t));
    for month in ctx.months() {
        let path = dir.join(format!("digisote_chat_{}.csv", month.label()));
        let mut csv = CsvFile::create(DIGISOTE, path, &DIGISOTE_LAYOUT)?;
        for day in ctx.days(month) {
            for s in sessions(ctx, &mut rng, DIGISOTE_QUEUES, day, false) {
                next += 1;
                let id = format!("DS-{next}");
                let ended = s.finished.or(s.dropped).expect("a session ends");
                csv.field(&id)
                    .field(s.queue.name)
                    .field(local(s.requested))
                    .opt(s.accepted.map(local))
                    .field(local(ended))
                    .field(if s.dropped.is_some() { "kyllä" } else { "ei" })
                    .field(match s.resolved {
                        Some(true) => "kyllä",
                        Some(false) => "ei",
                        None => "-",
                    });
                csv.end_row()?;
                truth.push(ChatTruth {
                    source: DIGISOTE,
                    session_id: id,
                    queue_id: None,
                    queue: s.queue.name.to_owned(),
                    requested: s.requested,
                    accepted: s.accepted,
                    finished: s.finished,
                    dropped: s.dropped,
                    resolved: s.resolved,
                    tags: s.tags,
                    valid: true,
                });
            }
        }
        files.push(csv.finish()?);
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn response_delay_follows_the_reported_trend() {
        let quarter_mean = |from: NaiveDate, days: u64| {
            from.iter_days()
                .take(days as usize)
                .map(mean_response_minutes)
                .sum::<f64>()
                / days as f64
        };
        let q1 = quarter_mean(ymd(2024, 1, 1), 91);
        let q4 = quarter_mean(ymd(2024, 10, 1), 92);
        assert!((q1 - 4.2).abs() < 0.1, "{q1}");
        assert!((q4 - 1.5).abs() < 0.1, "{q4}");
        for month in 1..=12 {
            let m = mean_response_minutes(ymd(2025, month, 15));
            assert!((1.4..=2.0).contains(&m), "{m}");
        }
    }

    #[test]
    fn session_ids_are_short_base32() {
        let mut rng = crate::random::source_rng(1, "t", "data");
        let id = session_id(&mut rng);
        assert_eq!(id.len(), 13);
        assert!(
            id.chars()
                .all(|c| c.is_ascii_digit() || ('a'..='v').contains(&c))
        );
    }
}
