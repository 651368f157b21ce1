//! Tiles on an Apache Ballista cluster: `[engine] kind = "ballista"`.
//!
//! - [`BallistaEngine`]: the client side, a [`QueryEngine`] whose sessions plan the tile SQL
//!   here and run it on the cluster. Tables reach the nodes as Parquet file lists in the
//!   warehouse's store (rows that are not warehouse files are written there first, see
//!   [`tilannekuva_warehouse::Rows::AsFiles`]), so no table provider needs a codec.
//! - [`node`]: the scheduler and executor processes (`tilannekuva cluster scheduler`,
//!   `tilannekuva cluster executor`), built on the `ballista-scheduler` and
//!   `ballista-executor` crates, with the county's SQL functions and the warehouse's object
//!   store (local folder, S3, Azure) on every node.
//!
//! The cluster's code lives in its own crate so that the crates computing and serving tiles
//! do not link gRPC and Arrow Flight.

pub mod client;
pub mod node;

pub use client::BallistaEngine;
pub use node::{ExecutorSettings, SchedulerSettings};
pub use tilannekuva_tiles::QueryEngine;

/// What can go wrong starting or reaching a cluster.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A scheduler address that is not one.
    #[error("scheduler address `{address}`: {reason}")]
    Address {
        /// The address as written.
        address: String,
        /// What is wrong.
        reason: String,
    },
    /// Ballista failed.
    #[error(transparent)]
    Ballista(#[from] ballista_core::error::BallistaError),
    /// DataFusion failed.
    #[error(transparent)]
    DataFusion(#[from] datafusion::error::DataFusionError),
    /// Reading the network failed.
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// Results of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The port a scheduler listens on unless told otherwise: Ballista's.
pub const DEFAULT_SCHEDULER_PORT: u16 = 50050;

/// A scheduler's address as the config writes it (`df://host:50050`, `http://host:port` or
/// `host:port`), as `(host, port)`.
pub fn scheduler_address(text: &str) -> Result<(String, u16)> {
    let invalid = |reason: &str| Error::Address {
        address: text.to_string(),
        reason: reason.to_string(),
    };
    let with_scheme = if text.contains("://") {
        text.to_string()
    } else {
        format!("df://{text}")
    };
    let url = url::Url::parse(&with_scheme).map_err(|e| invalid(&e.to_string()))?;
    if !matches!(url.scheme(), "df" | "http") {
        return Err(invalid("the scheme is df:// (or http://)"));
    }
    let host = url
        .host_str()
        .filter(|h| !h.is_empty())
        .ok_or_else(|| invalid("names no host"))?;
    if !matches!(url.path(), "" | "/") || url.query().is_some() {
        return Err(invalid("is host and port only"));
    }
    Ok((
        host.to_string(),
        url.port().unwrap_or(DEFAULT_SCHEDULER_PORT),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scheduler_addresses_as_people_write_them() {
        assert_eq!(
            scheduler_address("df://10.0.0.5:50050").unwrap(),
            ("10.0.0.5".into(), 50050)
        );
        assert_eq!(
            scheduler_address("df://scheduler.internal").unwrap(),
            ("scheduler.internal".into(), DEFAULT_SCHEDULER_PORT)
        );
        assert_eq!(
            scheduler_address("127.0.0.1:7000").unwrap(),
            ("127.0.0.1".into(), 7000)
        );
        assert_eq!(
            scheduler_address("http://localhost:7001").unwrap(),
            ("localhost".into(), 7001)
        );
        for bad in [
            "s3://bucket",
            "df://",
            "df://host:1/path",
            "df://host:99999",
        ] {
            let e = scheduler_address(bad).unwrap_err().to_string();
            assert!(e.contains(bad), "{bad}: {e}");
        }
    }
}
