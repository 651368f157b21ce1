//! One shared SQL session per reader scope and warehouse version, built on first use.

use std::collections::HashMap;
use std::sync::Arc;

use datafusion::arrow::datatypes::DataType;
use datafusion::logical_expr::{ColumnarValue, Volatility, create_udf};
use datafusion::prelude::SessionContext;
use datafusion::scalar::ScalarValue;
use datafusion_postgres::datafusion_pg_catalog::pg_catalog::context::EmptyContextProvider;
use datafusion_postgres::datafusion_pg_catalog::pg_catalog::setup_pg_catalog;
use tilannekuva_tiles::{Engine, Grain};
use tokio::sync::Mutex;

/// The sessions clients read with, by the sectors they may see.
pub struct Sessions {
    engine: Arc<Engine>,
    built: Mutex<Built>,
}

#[derive(Default)]
struct Built {
    /// Warehouse version the sessions read.
    version: Option<u64>,
    by_scope: HashMap<Option<Vec<String>>, Arc<SessionContext>>,
}

/// What `SELECT version()` answers; clients parse the leading PostgreSQL version.
pub(crate) fn server_version() -> String {
    format!(
        "PostgreSQL 16.6 (Tilannekuva {}, read-only, Apache DataFusion)",
        env!("CARGO_PKG_VERSION")
    )
}

impl Sessions {
    /// Sessions over the warehouse of `engine`.
    pub fn new(engine: Arc<Engine>) -> Self {
        Self {
            engine,
            built: Mutex::new(Built::default()),
        }
    }

    /// The session for readers of `sectors` (`None`: every sector) at the latest committed
    /// warehouse version. Sessions of older versions are dropped; statements running on
    /// them finish on the files they planned with.
    pub async fn for_sectors(
        &self,
        sectors: Option<&[String]>,
    ) -> tilannekuva_tiles::Result<Arc<SessionContext>> {
        let manifest = self.engine.warehouse.manifest().await?;
        let mut built = self.built.lock().await;
        if built.version != Some(manifest.version) {
            built.by_scope.clear();
            built.version = Some(manifest.version);
        }
        let key = sectors.map(<[String]>::to_vec);
        if let Some(ctx) = built.by_scope.get(&key) {
            return Ok(ctx.clone());
        }
        let ctx = self
            .engine
            .reading_session(&manifest, Grain::Month, sectors)
            .await?;
        setup_pg_catalog(&ctx, "datafusion", EmptyContextProvider)
            .map_err(|e| tilannekuva_tiles::Error::DataFusion(*e))?;
        let version = server_version();
        ctx.register_udf(create_udf(
            "version",
            vec![],
            DataType::Utf8,
            Volatility::Stable,
            Arc::new(move |_| {
                Ok(ColumnarValue::Scalar(ScalarValue::Utf8(Some(
                    version.clone(),
                ))))
            }),
        ));
        let ctx = Arc::new(ctx);
        built.by_scope.insert(key, ctx.clone());
        Ok(ctx)
    }
}
