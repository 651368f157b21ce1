//! The warehouse and the published tiles over the PostgreSQL wire protocol, read-only, for
//! the tools analysts already use: Power BI, Excel (PostgreSQL connector or ODBC), `psql`,
//! Python's `psycopg`.
//!
//! - **What a client sees** is the session `tilannekuva sql` reads
//!   ([`tilannekuva_tiles::reading`]): the canonical tables, `quarantine`, `calendar`, and the
//!   latest published tiles as `tiles`, `tile_cells` and `tile_sources`, plus the
//!   `pg_catalog` and `information_schema` tables BI tools query when they connect. Each
//!   statement reads the warehouse as last committed: a load or publish between two
//!   statements shows in the second.
//! - **Signing in**: the password is an access token of the desktop (`[[desktop.tokens]]` or
//!   the operator token); the user name is free and only logged. A token limited to sectors
//!   sees only those sectors' tiles, the tables feeding them and their sources' quarantine.
//! - **Read-only**: queries, `EXPLAIN`, `SHOW` and the session settings clients send (`SET
//!   statement_timeout`, `DateStyle`, `extra_float_digits`, ...). Writes, DDL and `COPY`
//!   are refused with SQLSTATE `25006`.
//! - **Limits**: a statement runs at most `statement_timeout_secs` (a client may ask for
//!   less with `SET statement_timeout`, not more) and returns at most `max_rows` rows; past
//!   either it fails with SQLSTATE `57014` or `54000` and a message saying which limit, never
//!   with a silently cut result. At most `max_connections` clients at a time.
//!
//! - **TLS** with `tls_cert_file` and `tls_key_file`; without them the password (a token)
//!   crosses the network as the client sends it.
//!
//! `tilannekuva serve` listens when `[sql_wire] bind` (or `--sql-bind`) is set.

mod handlers;
mod limits;
mod sessions;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use serde::Deserialize;
use tilannekuva_desktop::TokenConfig;
use tilannekuva_tiles::Engine;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

pub use sessions::Sessions;

/// The `[sql_wire]` section of the main configuration.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SqlWireSettings {
    /// Address to listen on for PostgreSQL clients, e.g. `127.0.0.1:5433`; unset: not at all
    /// (`serve --sql-bind` sets it too).
    #[serde(default)]
    pub bind: Option<SocketAddr>,
    /// The longest a statement may run, in seconds.
    #[serde(default = "default_statement_timeout_secs")]
    pub statement_timeout_secs: u64,
    /// The most rows one statement may return.
    #[serde(default = "default_max_rows")]
    pub max_rows: u64,
    /// The most clients connected at a time; more are turned away.
    #[serde(default = "default_max_connections")]
    pub max_connections: usize,
    /// A PEM file with the server's certificate chain. With `tls_key_file`, clients can
    /// connect with TLS (`sslmode=require`, Power BI's "Encrypt connection").
    #[serde(default)]
    pub tls_cert_file: Option<PathBuf>,
    /// A PEM file with the certificate's private key.
    #[serde(default)]
    pub tls_key_file: Option<PathBuf>,
}

fn default_statement_timeout_secs() -> u64 {
    300
}

fn default_max_rows() -> u64 {
    5_000_000
}

fn default_max_connections() -> usize {
    32
}

impl Default for SqlWireSettings {
    fn default() -> Self {
        Self {
            bind: None,
            statement_timeout_secs: default_statement_timeout_secs(),
            max_rows: default_max_rows(),
            max_connections: default_max_connections(),
            tls_cert_file: None,
            tls_key_file: None,
        }
    }
}

/// The TLS side of the server, made from the settings' certificate and key.
pub type Tls = datafusion_postgres::pgwire::tokio::TlsAcceptor;

impl SqlWireSettings {
    /// The TLS acceptor for `tls_cert_file` and `tls_key_file`; `None` without them; an
    /// error naming the file when one cannot be read.
    pub fn tls(&self) -> Result<Option<Tls>, String> {
        use rustls::pki_types::pem::PemObject;
        use rustls::pki_types::{CertificateDer, PrivateKeyDer};
        let (cert, key) = match (&self.tls_cert_file, &self.tls_key_file) {
            (None, None) => return Ok(None),
            (Some(c), Some(k)) => (c, k),
            _ => {
                return Err(
                    "[sql_wire] needs both `tls_cert_file` and `tls_key_file`, or neither".into(),
                );
            }
        };
        let certs = CertificateDer::pem_file_iter(cert)
            .and_then(|i| i.collect::<Result<Vec<_>, _>>())
            .map_err(|e| format!("[sql_wire] `tls_cert_file` {}: {e}", cert.display()))?;
        if certs.is_empty() {
            return Err(format!(
                "[sql_wire] `tls_cert_file` {}: no certificate in it",
                cert.display()
            ));
        }
        let key = PrivateKeyDer::from_pem_file(key)
            .map_err(|e| format!("[sql_wire] `tls_key_file` {}: {e}", key.display()))?;
        let _ = rustls::crypto::ring::default_provider().install_default();
        let config = rustls::ServerConfig::builder()
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .map_err(|e| format!("[sql_wire] the certificate and key do not go together: {e}"))?;
        Ok(Some(Tls::from(Arc::new(config))))
    }
}

/// Finds the access token a client presents as its password; the server asks it at every
/// sign-in, so tokens reloaded on SIGHUP hold from the next connection.
pub type TokenLookup = Arc<dyn Fn(&str) -> Option<TokenConfig> + Send + Sync>;

/// Serves PostgreSQL clients on `listener` until `shutdown` resolves. Connections already
/// open finish the statement they run.
pub async fn serve(
    listener: TcpListener,
    engine: Arc<Engine>,
    tokens: TokenLookup,
    settings: SqlWireSettings,
    tls: Option<Tls>,
    shutdown: impl std::future::Future<Output = ()>,
) {
    let handlers = Arc::new(handlers::Handlers::new(
        Sessions::new(engine),
        tokens,
        limits::Limits::of(&settings),
    ));
    let slots = Arc::new(Semaphore::new(settings.max_connections.max(1)));
    tokio::pin!(shutdown);
    loop {
        let (socket, peer) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot accept a PostgreSQL client");
                    continue;
                }
            },
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            tracing::warn!(%peer, max = settings.max_connections, "PostgreSQL client turned away: too many connections");
            drop(socket);
            continue;
        };
        let (handlers, tls) = (handlers.clone(), tls.clone());
        tokio::spawn(async move {
            let _slot = slot;
            if let Err(e) =
                datafusion_postgres::pgwire::tokio::process_socket(socket, tls, handlers).await
            {
                tracing::debug!(%peer, error = %e, "PostgreSQL connection ended with an error");
            }
        });
    }
}
