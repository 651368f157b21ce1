//! Time, behind a trait so that tests can drive it.

use std::sync::Mutex;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

/// Where the scheduler gets the time from and how it waits.
#[async_trait]
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// The current instant.
    fn now(&self) -> DateTime<Utc>;
    /// Waits until `at` (returns at once when it has passed).
    async fn sleep_until(&self, at: DateTime<Utc>);
}

/// The system clock and tokio timers.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

#[async_trait]
impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }

    async fn sleep_until(&self, at: DateTime<Utc>) {
        if let Ok(d) = (at - Utc::now()).to_std() {
            tokio::time::sleep(d).await;
        }
    }
}

/// A clock that moves only when told to, or when something sleeps on it: a sleep jumps
/// the clock to its end at once. Every sleep is remembered for assertions.
#[derive(Debug)]
pub struct FakeClock {
    now: Mutex<DateTime<Utc>>,
    sleeps: Mutex<Vec<(DateTime<Utc>, DateTime<Utc>)>>,
}

impl FakeClock {
    /// A clock showing `now`.
    pub fn new(now: DateTime<Utc>) -> Self {
        Self {
            now: Mutex::new(now),
            sleeps: Mutex::new(Vec::new()),
        }
    }

    /// Sets the time.
    pub fn set(&self, now: DateTime<Utc>) {
        *self.now.lock().expect("clock lock") = now;
    }

    /// The sleeps so far, as (from, until).
    pub fn sleeps(&self) -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
        self.sleeps.lock().expect("clock lock").clone()
    }
}

#[async_trait]
impl Clock for FakeClock {
    fn now(&self) -> DateTime<Utc> {
        *self.now.lock().expect("clock lock")
    }

    async fn sleep_until(&self, at: DateTime<Utc>) {
        let from = {
            let mut now = self.now.lock().expect("clock lock");
            let from = *now;
            *now = (*now).max(at);
            from
        };
        self.sleeps.lock().expect("clock lock").push((from, at));
        tokio::task::yield_now().await;
    }
}
