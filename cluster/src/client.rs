//! The client side: sessions whose queries run on a Ballista cluster.

use std::time::Duration;

use ballista::prelude::{SessionConfigExt, SessionContextExt};
use ballista_core::serde::protobuf::scheduler_grpc_client::SchedulerGrpcClient;
use datafusion::execution::context::SessionState;
use datafusion::prelude::SessionContext;
use tilannekuva_tiles::QueryEngine;
use tilannekuva_warehouse::Rows;

use crate::{Result, scheduler_address};

/// How long reaching the scheduler may take before a compute fails.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Tile SQL planned here and run on the Ballista cluster whose scheduler is at an address.
#[derive(Debug, Clone)]
pub struct BallistaEngine {
    /// The address as the config writes it.
    address: String,
    /// The scheduler's gRPC endpoint, `http://host:port`.
    endpoint: String,
}

impl BallistaEngine {
    /// The cluster whose scheduler is at `address` (`df://host:50050`); nothing is sent
    /// until the first session.
    pub fn new(address: &str) -> Result<Self> {
        let (host, port) = scheduler_address(address)?;
        Ok(Self {
            address: address.to_string(),
            endpoint: format!("http://{host}:{port}"),
        })
    }
}

/// An error and its causes on one line: tonic's own message is only "transport error".
fn source_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut next = e.source();
    while let Some(cause) = next {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        next = cause.source();
    }
    text
}

#[async_trait::async_trait]
impl QueryEngine for BallistaEngine {
    async fn session(&self, state: SessionState) -> tilannekuva_tiles::Result<SessionContext> {
        self.check()
            .await
            .map_err(|message| tilannekuva_tiles::Error::Engine {
                engine: self.describe(),
                message,
            })?;
        // Ballista's static planner: its adaptive one (the default in 55) spent minutes of
        // the scheduler's CPU on a tile query of a few thousand rows.
        let mut state = state;
        let config = std::mem::take(state.config_mut())
            .upgrade_for_ballista()
            .with_ballista_adaptive_query_planner(false);
        *state.config_mut() = config;
        Ok(SessionContext::remote_with_state(&self.endpoint, state).await?)
    }

    fn rows(&self) -> Rows {
        Rows::AsFiles
    }

    fn describe(&self) -> String {
        format!("Ballista at {}", self.address)
    }

    /// Whether the scheduler answers; why not otherwise.
    async fn check(&self) -> Result<(), String> {
        match tokio::time::timeout(
            CONNECT_TIMEOUT,
            SchedulerGrpcClient::connect(self.endpoint.clone()),
        )
        .await
        {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(format!(
                "the scheduler cannot be reached ({}); is `tilannekuva cluster scheduler` \
                 running there?",
                source_chain(&e)
            )),
            Err(_) => Err(format!(
                "the scheduler did not answer within {} s",
                CONNECT_TIMEOUT.as_secs()
            )),
        }
    }
}
