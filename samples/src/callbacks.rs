//! Phone first lines: contacts and call-backs from two contact-centre platforms.
//!
//! * `callbacks_ace`: Telia ACE style, the health and older-people lines.
//!   `ace_contacts_YYYY-MM.csv`, UTF-8 with BOM, `;`, quotes only when needed, Helsinki
//!   wall-clock times `d.m.yyyy H:mm:ss`, queue time in seconds with a decimal comma.
//! * `callbacks_genesys`: Genesys Cloud style, the social-services lines.
//!   `genesys_conversations_YYYY-MM.csv`, Windows-1252, `,`, every field quoted, ISO-8601 UTC
//!   with milliseconds, wait in milliseconds.
//!
//! # Model
//!
//! First-line queues open 8–16 on working days, busiest at opening; the hospital switchboard
//! answers around the clock, every day (and so has a few calls in the repeated autumn hour).
//! About 900 contacts per working day reach the ACE queues and 250 the Genesys queues. A
//! caller who does not want to wait asks for a call-back (40–75 % by queue, ≈ 59 % of all
//! first-line contacts); the request is registered when the caller leaves the queue. The first
//! call-back attempt that reaches the customer comes the same working day (≈ 60 %) or the next
//! (together ≈ 96 %), 2–3 working days later for ≈ 2.5 %, never for ≈ 1.5 % (closed after 3–5
//! attempts). December 2024 is worse: ≈ 14 % late. Call-backs planned after the export moment
//! are still open (`Open`, `Active` or `Paused`, reached `-`).
//!
//! Broken rows: ACE has a negative queue time or an impossible arrival date; Genesys has a
//! `callbackConnectedAt` before `callbackRequestedAt`.

use chrono::{DateTime, Datelike, TimeDelta, Timelike, Utc};
use rand::Rng;

use crate::calendar::{
    add_working_days, autumn_dst_day, helsinki, is_working_day, local_instant,
    outside_repeated_hour,
};
use crate::personal;
use crate::random::{HourProfile, SourceRng, lognormal, poisson, weighted};
use crate::write::{CsvFile, DecimalComma, Encoding, FiDateTime, IsoUtcMillis, Layout, Quoting};
use crate::{Ctx, GeneratedFile, Result};

/// Source name of the Telia ACE export.
pub const ACE: &str = "callbacks_ace";
/// Source name of the Genesys Cloud export.
pub const GENESYS: &str = "callbacks_genesys";

/// How a contact left the queue.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// An agent answered (`Vastattu`, `answered`).
    Answered,
    /// The caller asked to be called back (`Takaisinsoitto`, `callback`).
    Callback,
    /// The caller hung up waiting (`Keskeytetty`, `abandoned`).
    Abandoned,
}

/// One phone contact as intended.
#[derive(Clone, Debug, PartialEq)]
pub struct ContactTruth {
    /// [`ACE`] or [`GENESYS`].
    pub source: &'static str,
    /// `Yhteys-ID` / `conversationId`.
    pub contact_id: String,
    /// Queue name as written.
    pub queue: String,
    /// Whether the queue is a first-line service (the callback-share KPI's population).
    pub first_line: bool,
    /// Arrival in the queue.
    pub received: DateTime<Utc>,
    /// Time in the queue, milliseconds (ACE writes tenths of a second).
    pub wait_ms: u64,
    /// How the contact left the queue.
    pub outcome: Outcome,
    /// When the call-back was requested (`Some` exactly when `outcome` is `Callback`).
    pub callback_requested: Option<DateTime<Utc>>,
    /// The first call-back attempt that reached the customer; `None` if never or not yet.
    pub callback_reached: Option<DateTime<Utc>>,
    /// Call-back attempts so far (0 without a call-back).
    pub attempts: u32,
    /// `false` for a row broken on purpose.
    pub valid: bool,
}

/// A queue and its traffic.
#[derive(Debug)]
pub struct Queue {
    /// Name as written in the export.
    pub name: &'static str,
    /// Whether it counts as a first-line service.
    pub first_line: bool,
    per_working_day: f64,
    per_other_day: f64,
    callback_share: f64,
    answer_wait_s: f64,
    hours: &'static HourProfile,
}

const fn queue(name: &'static str, first_line: bool, per_day: f64, callback: f64) -> Queue {
    Queue {
        name,
        first_line,
        per_working_day: per_day,
        per_other_day: 0.0,
        callback_share: callback,
        answer_wait_s: 70.0,
        hours: &HourProfile::OFFICE,
    }
}

/// Telia ACE queues (≈ 900 contacts per working day).
pub const ACE_QUEUES: &[Queue] = &[
    queue("Terveysasemien ensilinja", true, 378.0, 0.64),
    queue("Suun terveydenhuollon ajanvaraus", true, 144.0, 0.58),
    queue("Mielenterveys- ja päihdeneuvonta", true, 72.0, 0.42),
    queue("Ikäihmisten palveluneuvonta", true, 90.0, 0.55),
    queue("Kotihoidon asiakaspalvelu", false, 90.0, 0.30),
    Queue {
        name: "Sairaalan vaihde",
        first_line: false,
        per_working_day: 126.0,
        per_other_day: 60.0,
        callback_share: 0.0,
        answer_wait_s: 20.0,
        hours: &HourProfile::ROUND_THE_CLOCK,
    },
];

/// Genesys Cloud queues (≈ 250 contacts per working day, all first-line).
pub const GENESYS_QUEUES: &[Queue] = &[
    queue("Sosiaalipalvelujen neuvonta", true, 100.0, 0.62),
    queue("Lapsiperheiden palvelut", true, 62.0, 0.58),
    queue("Vammaisneuvonta ja -päätökset", true, 50.0, 0.60),
    queue("Perheneuvola", true, 38.0, 0.55),
];

/// Header of the ACE export.
pub const ACE_HEADER: &[&str] = &[
    "Yhteys-ID",
    "Jono",
    "Saapumisaika",
    "Soittajan numero",
    "Jonotusaika (s)",
    "Tulos",
    "Takaisinsoitto pyydetty",
    "Takaisinsoitto tavoitettu",
    "Soittoyrityksiä",
    "Takaisinsoiton tila",
];

/// Header of the Genesys export.
pub const GENESYS_HEADER: &[&str] = &[
    "conversationId",
    "queueName",
    "conversationStart",
    "ani",
    "waitMs",
    "disposition",
    "callbackRequested",
    "callbackRequestedAt",
    "callbackConnectedAt",
    "attempts",
];

static ACE_LAYOUT: Layout = Layout {
    delimiter: ';',
    encoding: Encoding::Utf8Bom,
    quoting: Quoting::Needed,
    header: ACE_HEADER,
};

static GENESYS_LAYOUT: Layout = Layout {
    delimiter: ',',
    encoding: Encoding::Windows1252,
    quoting: Quoting::Always,
    header: GENESYS_HEADER,
};

/// A contact before the details are drawn.
struct Arrival {
    queue: &'static Queue,
    received: DateTime<Utc>,
}

/// The arrivals of one day in one platform's queues, in time order. `millis` gives arrivals a
/// sub-second part (Genesys); `planted` adds calls to the switchboard in the repeated hour.
fn arrivals(
    ctx: &Ctx<'_>,
    rng: &mut SourceRng,
    queues: &'static [Queue],
    day: chrono::NaiveDate,
    millis: bool,
) -> Vec<Arrival> {
    let working = is_working_day(day);
    let mut out = Vec::new();
    for queue in queues {
        let per_day = if working {
            queue.per_working_day
        } else {
            queue.per_other_day
        };
        for _ in 0..poisson(rng, ctx.scaled(per_day)) {
            let ms = if millis { rng.random_range(0..1000) } else { 0 };
            let received = local_instant(day, queue.hours.seconds(rng), ms);
            out.push(Arrival { queue, received });
        }
        let round_the_clock = queue.per_other_day > 0.0;
        if round_the_clock && day == autumn_dst_day(day.year()) {
            for _ in 0..2 {
                let seconds = 3 * 3600 + rng.random_range(0..3600);
                let received = local_instant(day, seconds, 0);
                out.push(Arrival { queue, received });
            }
        }
    }
    out.sort_by_key(|a| a.received);
    out
}

/// How the contact left the queue and how long it waited, in milliseconds rounded to
/// `resolution_ms` (ACE writes tenths of a second, Genesys milliseconds).
fn outcome(rng: &mut SourceRng, queue: &Queue, resolution_ms: u64) -> (Outcome, u64) {
    let u: f64 = rng.random();
    let (outcome, mean_s, sigma) = if u < queue.callback_share {
        (Outcome::Callback, 35.0, 0.6)
    } else if rng.random_bool(0.07) {
        (Outcome::Abandoned, 55.0, 1.0)
    } else {
        (Outcome::Answered, queue.answer_wait_s, 0.9)
    };
    let steps = (lognormal(rng, mean_s, sigma) * 1000.0 / resolution_ms as f64).round();
    let max_steps = (3_600_000 / resolution_ms) as f64;
    (outcome, steps.clamp(1.0, max_steps) as u64 * resolution_ms)
}

/// The life of one call-back request.
struct Callback {
    reached: Option<DateTime<Utc>>,
    attempts: u32,
    /// ACE `Takaisinsoiton tila`.
    status: &'static str,
}

fn plan_callback(
    rng: &mut SourceRng,
    requested: DateTime<Utc>,
    snapshot: DateTime<Utc>,
) -> Callback {
    let local = helsinki(requested);
    let day = local.date();
    let seconds = local.time().num_seconds_from_midnight();
    let december_2024 = day.year() == 2024 && day.month() == 12;
    let (p_never, p_late, p_same_day) = if december_2024 {
        (0.025, 0.14, 0.35)
    } else {
        (0.015, 0.025, 0.60)
    };
    let u: f64 = rng.random();
    let planned = if u < p_never {
        None
    } else {
        let offset = if u < p_never + p_late {
            rng.random_range(2..=3)
        } else if is_working_day(day) && seconds < 15 * 3600 + 1800 && rng.random_bool(p_same_day) {
            0
        } else {
            1
        };
        Some(if offset == 0 {
            local_instant(day, rng.random_range(seconds + 300..16 * 3600), 0)
        } else {
            let when = add_working_days(day, offset);
            local_instant(when, HourProfile::OFFICE.seconds(rng), 0)
        })
    };
    let closes = planned.unwrap_or_else(|| local_instant(add_working_days(day, 3), 16 * 3600, 0));
    if closes > snapshot {
        let (status, attempts) = match weighted(rng, &[0.6, 0.25, 0.15]) {
            0 => ("Open", 0),
            1 => ("Active", rng.random_range(0..=1)),
            _ => ("Paused", rng.random_range(1..=2)),
        };
        return Callback {
            reached: None,
            attempts,
            status,
        };
    }
    let attempts = match planned {
        Some(_) => 1 + extra_attempts(rng),
        None => rng.random_range(3..=5),
    };
    Callback {
        reached: planned,
        attempts,
        status: "Closed",
    }
}

/// Unanswered attempts before the one that reached the customer.
fn extra_attempts(rng: &mut SourceRng) -> u32 {
    weighted(rng, &[0.72, 0.2, 0.08]) as u32
}

/// Writes `callbacks_ace`.
pub(crate) fn generate_ace(
    ctx: &Ctx<'_>,
    truth: &mut Vec<ContactTruth>,
) -> Result<Vec<GeneratedFile>> {
    let mut rng = ctx.rng(ACE);
    let mut faults = ctx.faults(ACE);
    let snapshot = ctx.snapshot();
    let dir = ctx.source_dir(ACE)?;
    let mut next_id: u32 = 10_000_000 + rng.random_range(0..100_000);
    let mut files = Vec::new();
    for month in ctx.months() {
        let path = dir.join(format!("ace_contacts_{}.csv", month.label()));
        let mut csv = CsvFile::create(ACE, path, &ACE_LAYOUT)?;
        for day in ctx.days(month) {
            for arrival in arrivals(ctx, &mut rng, ACE_QUEUES, day, false) {
                next_id += rng.random_range(1..=3);
                let contact_id = format!("ACE-{next_id:08}");
                let phone = personal::phone(&mut rng);
                let (outcome, wait_ms) = outcome(&mut rng, arrival.queue, 100);
                let received = arrival.received;
                let (requested, callback) = if outcome == Outcome::Callback {
                    let requested = outside_repeated_hour(
                        received + TimeDelta::seconds((wait_ms / 1000) as i64),
                    );
                    (
                        Some(requested),
                        Some(plan_callback(&mut rng, requested, snapshot)),
                    )
                } else {
                    (None, None)
                };
                let broken = faults.hit(1.0).then(|| faults.kind(2));

                csv.field(&contact_id).field(arrival.queue.name);
                if broken == Some(1) {
                    // An impossible date: one day past the end of the month.
                    let t = helsinki(received);
                    csv.field(format!(
                        "{}.{}.{} {}:{:02}:{:02}",
                        month.days_in() + 1,
                        t.month(),
                        t.year(),
                        t.hour(),
                        t.minute(),
                        t.second()
                    ));
                } else {
                    csv.field(FiDateTime(helsinki(received)));
                }
                csv.field(&phone);
                if broken == Some(0) {
                    csv.field(DecimalComma(-f64::from(faults.range(1..600)) / 10.0, 1));
                } else {
                    csv.field(DecimalComma(wait_ms as f64 / 1000.0, 1));
                }
                csv.field(match outcome {
                    Outcome::Answered => "Vastattu",
                    Outcome::Callback => "Takaisinsoitto",
                    Outcome::Abandoned => "Keskeytetty",
                });
                csv.opt(requested.map(|t| FiDateTime(helsinki(t))));
                match &callback {
                    Some(cb) => {
                        match cb.reached {
                            Some(t) => csv.field(FiDateTime(helsinki(t))),
                            None => csv.field("-"),
                        };
                        csv.field(cb.attempts).field(cb.status);
                    }
                    None => {
                        csv.empty().field(0).empty();
                    }
                }
                csv.end_row()?;

                truth.push(ContactTruth {
                    source: ACE,
                    contact_id,
                    queue: arrival.queue.name.to_owned(),
                    first_line: arrival.queue.first_line,
                    received,
                    wait_ms,
                    outcome,
                    callback_requested: requested,
                    callback_reached: callback.as_ref().and_then(|cb| cb.reached),
                    attempts: callback.as_ref().map_or(0, |cb| cb.attempts),
                    valid: broken.is_none(),
                });
            }
        }
        files.push(csv.finish()?);
    }
    Ok(files)
}

/// Writes `callbacks_genesys`.
pub(crate) fn generate_genesys(
    ctx: &Ctx<'_>,
    truth: &mut Vec<ContactTruth>,
) -> Result<Vec<GeneratedFile>> {
    let mut rng = ctx.rng(GENESYS);
    let mut faults = ctx.faults(GENESYS);
    let snapshot = ctx.snapshot();
    let dir = ctx.source_dir(GENESYS)?;
    let mut files = Vec::new();
    for month in ctx.months() {
        let path = dir.join(format!("genesys_conversations_{}.csv", month.label()));
        let mut csv = CsvFile::create(GENESYS, path, &GENESYS_LAYOUT)?;
        for day in ctx.days(month) {
            for arrival in arrivals(ctx, &mut rng, GENESYS_QUEUES, day, true) {
                let contact_id = uuid(&mut rng);
                let ani = personal::phone_uri(&mut rng);
                let (outcome, wait_ms) = outcome(&mut rng, arrival.queue, 1);
                let received = arrival.received;
                let requested = (outcome == Outcome::Callback)
                    .then(|| received + TimeDelta::milliseconds(wait_ms as i64));
                let callback = requested.map(|r| plan_callback(&mut rng, r, snapshot));
                let reached = callback.as_ref().and_then(|cb| cb.reached);
                // Only a reached call-back can be connected before it was requested.
                let broken = reached.is_some() && faults.hit(0.55);

                csv.field(&contact_id)
                    .field(arrival.queue.name)
                    .field(IsoUtcMillis(received))
                    .field(&ani)
                    .field(wait_ms)
                    .field(match outcome {
                        Outcome::Answered => "answered",
                        Outcome::Callback => "callback",
                        Outcome::Abandoned => "abandoned",
                    })
                    .field(if requested.is_some() { "K" } else { "E" })
                    .opt(requested.map(IsoUtcMillis));
                match (requested, reached) {
                    (Some(r), Some(_)) if broken => {
                        let before = TimeDelta::seconds(i64::from(faults.range(60..7200)));
                        csv.field(IsoUtcMillis(r - before))
                    }
                    _ => csv.opt(reached.map(IsoUtcMillis)),
                };
                csv.field(callback.as_ref().map_or(0, |cb| cb.attempts));
                csv.end_row()?;

                truth.push(ContactTruth {
                    source: GENESYS,
                    contact_id,
                    queue: arrival.queue.name.to_owned(),
                    first_line: arrival.queue.first_line,
                    received,
                    wait_ms,
                    outcome,
                    callback_requested: requested,
                    callback_reached: reached,
                    attempts: callback.as_ref().map_or(0, |cb| cb.attempts),
                    valid: !broken,
                });
            }
        }
        files.push(csv.finish()?);
    }
    Ok(files)
}

/// A random (version 4 shaped) UUID from the source's stream.
fn uuid(rng: &mut SourceRng) -> String {
    let bits: u128 = rng.random();
    let bits = (bits & !(0xF << 76) & !(0x3 << 62)) | (0x4 << 76) | (0x2 << 62);
    let hex = format!("{bits:032x}");
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuid_shape() {
        let mut rng = crate::random::source_rng(1, "t", "data");
        let id = uuid(&mut rng);
        assert_eq!(id.len(), 36);
        assert_eq!(&id[14..15], "4");
        assert!(matches!(&id[19..20], "8" | "9" | "a" | "b"));
    }

    #[test]
    fn first_line_callback_share_is_near_59_percent() {
        let share = |queues: &[Queue]| {
            let first: Vec<_> = queues.iter().filter(|q| q.first_line).collect();
            let volume: f64 = first.iter().map(|q| q.per_working_day).sum();
            first
                .iter()
                .map(|q| q.per_working_day * q.callback_share)
                .sum::<f64>()
                / volume
        };
        assert!((share(ACE_QUEUES) - 0.59).abs() < 0.01);
        assert!((0.55..=0.65).contains(&share(GENESYS_QUEUES)));
    }
}
