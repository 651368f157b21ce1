//! How long a statement may run and how many rows it may return. Past either the statement
//! fails, saying which limit; a result is never cut short silently.

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::streaming::StreamingTable;
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::streaming::PartitionStream;
use datafusion::prelude::{DataFrame, SessionContext};
use futures::{Stream, StreamExt};

use crate::SqlWireSettings;

/// The key under which the PostgreSQL hooks keep a client's `SET statement_timeout`.
const CLIENT_TIMEOUT_KEY: &str = "statement_timeout_ms";

/// The limits of one server.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    statement_timeout: Duration,
    max_rows: u64,
}

/// A statement ran past its time.
#[derive(Debug, thiserror::Error)]
#[error(
    "canceling statement due to statement timeout ({0} s; the server allows at most `sql_wire.statement_timeout_secs`)"
)]
pub(crate) struct TimedOut(pub f64);

/// A statement returned more rows than allowed.
#[derive(Debug, thiserror::Error)]
#[error(
    "the result has more than {0} rows, the most one statement may return here (`sql_wire.max_rows`); filter or aggregate in the query"
)]
pub(crate) struct TooManyRows(pub u64);

impl Limits {
    pub(crate) fn of(settings: &SqlWireSettings) -> Self {
        Self {
            statement_timeout: Duration::from_secs(settings.statement_timeout_secs.max(1)),
            max_rows: settings.max_rows,
        }
    }

    /// The time a statement of this client may run: the server's limit, or less when the
    /// client asked for less.
    pub(crate) fn timeout(&self, metadata: &HashMap<String, String>) -> Duration {
        metadata
            .get(CLIENT_TIMEOUT_KEY)
            .and_then(|ms| ms.parse::<u64>().ok())
            .filter(|ms| *ms > 0)
            .map(Duration::from_millis)
            .map_or(self.statement_timeout, |t| t.min(self.statement_timeout))
    }

    /// `df` as a frame whose rows stream through the limits: the stream fails once `timeout`
    /// has passed since now, or once more than `max_rows` rows have come.
    pub(crate) async fn apply(
        &self,
        ctx: &SessionContext,
        df: DataFrame,
        timeout: Duration,
    ) -> Result<DataFrame> {
        let deadline = tokio::time::Instant::now() + timeout;
        let stream = tokio::time::timeout_at(deadline, df.execute_stream())
            .await
            .map_err(|_| external(TimedOut(timeout.as_secs_f64())))??;
        let schema: SchemaRef = stream.schema();
        let limited = Limited {
            inner: Some(stream),
            deadline: Box::pin(tokio::time::sleep_until(deadline)),
            timeout,
            rows: 0,
            max_rows: self.max_rows,
        };
        let once = OneStream {
            schema: schema.clone(),
            stream: Mutex::new(Some(Box::pin(RecordBatchStreamAdapter::new(
                schema.clone(),
                limited,
            )))),
        };
        let table = StreamingTable::try_new(schema, vec![Arc::new(once)])?;
        ctx.read_table(Arc::new(table))
    }
}

fn external(e: impl std::error::Error + Send + Sync + 'static) -> DataFusionError {
    DataFusionError::External(Box::new(e))
}

struct Limited {
    /// Dropped at the first error, which stops the statement's work.
    inner: Option<SendableRecordBatchStream>,
    deadline: Pin<Box<tokio::time::Sleep>>,
    timeout: Duration,
    rows: u64,
    max_rows: u64,
}

impl Stream for Limited {
    type Item = Result<RecordBatch>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let Some(inner) = self.inner.as_mut() else {
            return Poll::Ready(None);
        };
        let polled = inner.poll_next_unpin(cx);
        let failed = if self.deadline.as_mut().poll(cx).is_ready() {
            Some(external(TimedOut(self.timeout.as_secs_f64())))
        } else {
            match polled {
                Poll::Ready(Some(Ok(batch))) => {
                    self.rows += batch.num_rows() as u64;
                    if self.rows <= self.max_rows {
                        return Poll::Ready(Some(Ok(batch)));
                    }
                    Some(external(TooManyRows(self.max_rows)))
                }
                Poll::Ready(None) => {
                    self.inner = None;
                    return Poll::Ready(None);
                }
                Poll::Ready(Some(Err(e))) => Some(e),
                Poll::Pending => return Poll::Pending,
            }
        };
        self.inner = None;
        Poll::Ready(failed.map(Err))
    }
}

/// A stream already running, handed to DataFusion once as a one-partition table.
struct OneStream {
    schema: SchemaRef,
    stream: Mutex<Option<SendableRecordBatchStream>>,
}

impl std::fmt::Debug for OneStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OneStream")
    }
}

impl PartitionStream for OneStream {
    fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    fn execute(&self, _ctx: Arc<TaskContext>) -> SendableRecordBatchStream {
        let taken = self.stream.lock().expect("not poisoned").take();
        taken.unwrap_or_else(|| {
            Box::pin(RecordBatchStreamAdapter::new(
                self.schema.clone(),
                futures::stream::empty(),
            ))
        })
    }
}
