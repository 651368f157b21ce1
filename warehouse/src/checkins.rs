//! Owners' check-ins: a goal's or a tile's owner writes, each period, a short assessment and
//! a rating. Check-ins live in the warehouse state and are written by the same atomic
//! commits as everything else. None is ever changed or removed: a new one for the same
//! subject and period supersedes the one before, and both stay, so any earlier moment shows
//! the words as they were then.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{Error, Manifest, Result, Warehouse};

/// The longest assessment accepted, in characters.
pub const MAX_TEXT: usize = 2000;

/// An owner's rating of a goal's or a tile's progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckInRating {
    /// Progressing (etenee).
    Progressing,
    /// Needs attention (huomioitavaa).
    Attention,
    /// Not progressing (ei etene).
    NotProgressing,
}

/// One check-in, as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckIn {
    /// Unique id.
    pub id: String,
    /// What it is about: a tile id, or `goal:<id>` for a binding goal.
    pub subject: String,
    /// The period assessed (`2025-Q2`).
    pub period: String,
    /// The sector whose owner wrote it (the subject's sector).
    pub sector: String,
    /// The owner's rating.
    pub rating: CheckInRating,
    /// The assessment.
    pub text: String,
    /// Who wrote it: the access token's name.
    pub author: String,
    /// When it was committed.
    pub written_at: DateTime<Utc>,
    /// The check-in it supersedes (the previous one of the same subject and period).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub supersedes: Option<String>,
}

/// A check-in to write.
#[derive(Debug, Clone)]
pub struct NewCheckIn {
    /// A tile id, or `goal:<id>`.
    pub subject: String,
    /// The period assessed.
    pub period: String,
    /// The subject's sector.
    pub sector: String,
    /// The owner's rating.
    pub rating: CheckInRating,
    /// The assessment.
    pub text: String,
    /// The access token's name.
    pub author: String,
}

impl Manifest {
    /// The check-ins in force at `at`: for each subject and period, the newest written at or
    /// before it. In the order written.
    pub fn checkins_as_of(&self, at: DateTime<Utc>) -> Vec<&CheckIn> {
        let visible: Vec<&CheckIn> = self
            .checkins
            .iter()
            .filter(|c| c.written_at <= at)
            .collect();
        visible
            .iter()
            .filter(|c| {
                !visible
                    .iter()
                    .any(|o| o.supersedes.as_deref() == Some(c.id.as_str()))
            })
            .copied()
            .collect()
    }

    /// Every version of the check-ins of `subject` written at or before `at`, newest first.
    pub fn checkin_history(&self, subject: &str, at: DateTime<Utc>) -> Vec<&CheckIn> {
        let mut all: Vec<&CheckIn> = self
            .checkins
            .iter()
            .filter(|c| c.subject == subject && c.written_at <= at)
            .collect();
        all.reverse();
        all
    }
}

impl Warehouse {
    /// Commits a check-in; it supersedes the newest one of the same subject and period.
    pub async fn write_checkin(&self, new: NewCheckIn) -> Result<CheckIn> {
        let text = new.text.trim().to_string();
        if text.is_empty() {
            return Err(Error::Rejected("a check-in needs an assessment".into()));
        }
        if text.chars().count() > MAX_TEXT {
            return Err(Error::Rejected(format!(
                "an assessment is at most {MAX_TEXT} characters; this one is {}",
                text.chars().count()
            )));
        }
        let id = uuid::Uuid::new_v4().to_string();
        let mut written = None;
        self.commit(
            &format!("check-in on {} {}", new.subject, new.period),
            |m| {
                let supersedes = m
                    .checkins
                    .iter()
                    .rev()
                    .find(|c| c.subject == new.subject && c.period == new.period)
                    .map(|c| c.id.clone());
                let c = CheckIn {
                    id: id.clone(),
                    subject: new.subject.clone(),
                    period: new.period.clone(),
                    sector: new.sector.clone(),
                    rating: new.rating,
                    text: text.clone(),
                    author: new.author.clone(),
                    written_at: Utc::now(),
                    supersedes,
                };
                m.checkins.push(c.clone());
                written = Some(c);
                Ok(())
            },
        )
        .await?;
        Ok(written.expect("set by the commit"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new(text: &str) -> NewCheckIn {
        NewCheckIn {
            subject: "nps".into(),
            period: "2025-Q2".into(),
            sector: "strategia".into(),
            rating: CheckInRating::Attention,
            text: text.into(),
            author: "strategy-director".into(),
        }
    }

    #[tokio::test]
    async fn a_new_check_in_supersedes_the_old_and_both_are_kept() {
        let dir = tempfile::tempdir().unwrap();
        let wh = Warehouse::open_local(dir.path()).unwrap();
        let first = wh
            .write_checkin(new("Vastausaste laski kesällä."))
            .await
            .unwrap();
        let between = Utc::now();
        std::thread::sleep(std::time::Duration::from_millis(5));
        let second = wh
            .write_checkin(new("Vastausaste laski kesällä; syksyllä korjaantui."))
            .await
            .unwrap();
        assert_eq!(second.supersedes.as_deref(), Some(first.id.as_str()));
        let other = wh
            .write_checkin(NewCheckIn {
                period: "2025-Q3".into(),
                ..new("Q3 ok")
            })
            .await
            .unwrap();
        assert_eq!(other.supersedes, None);

        let m = wh.manifest().await.unwrap();
        assert_eq!(m.checkins.len(), 3, "nothing is overwritten");
        let now: Vec<&str> = m
            .checkins_as_of(Utc::now())
            .iter()
            .map(|c| c.text.as_str())
            .collect();
        assert_eq!(
            now,
            ["Vastausaste laski kesällä; syksyllä korjaantui.", "Q3 ok"]
        );
        let then: Vec<&str> = m
            .checkins_as_of(between)
            .iter()
            .map(|c| c.text.as_str())
            .collect();
        assert_eq!(then, ["Vastausaste laski kesällä."]);
        assert_eq!(m.checkin_history("nps", Utc::now()).len(), 3);

        let empty = wh.write_checkin(new("  ")).await.unwrap_err().to_string();
        assert!(empty.contains("needs an assessment"), "{empty}");
        let long = wh
            .write_checkin(new(&"x".repeat(MAX_TEXT + 1)))
            .await
            .unwrap_err()
            .to_string();
        assert!(long.contains("at most 2000"), "{long}");
    }
}
