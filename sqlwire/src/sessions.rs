//! One shared SQL session per reader scope and warehouse version, built on first use.

use std::collections::HashMap;
use std::sync::Arc;

use datafusion::arrow::datatypes::DataType;
use datafusion::catalog::{SchemaProvider, TableProvider};
use datafusion::datasource::MemTable;
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

/// Replaces `pg_catalog.pg_type` with a copy whose `typreceive` is the receive function's
/// oid in `pg_proc` (it is the function's name in the catalogue as set up; in PostgreSQL a
/// `regproc`, which compares as an oid). Npgsql, the driver of Power BI and Excel, loads its
/// types at connect with `JOIN pg_proc ON pg_proc.oid = typ.typreceive`.
async fn with_receive_oids(ctx: &SessionContext) -> tilannekuva_tiles::Result<()> {
    let Some(catalog) = ctx.catalog("datafusion") else {
        return Ok(());
    };
    let Some(inner) = catalog.schema("pg_catalog") else {
        return Ok(());
    };
    let Some(pg_type) = inner.table("pg_type").await? else {
        return Ok(());
    };
    let columns: Vec<String> = pg_type
        .schema()
        .fields()
        .iter()
        .map(|f| match f.name().as_str() {
            "typreceive" => "coalesce(p.oid, 0) AS typreceive".to_string(),
            name => format!("t.\"{name}\""),
        })
        .collect();
    let copied = ctx
        .sql(&format!(
            "SELECT {} FROM pg_catalog.pg_type t LEFT JOIN \
             (SELECT proname, min(oid) AS oid FROM pg_catalog.pg_proc GROUP BY proname) p \
             ON p.proname = t.typreceive",
            columns.join(", ")
        ))
        .await?;
    let schema = Arc::new(copied.schema().as_arrow().clone());
    let batches = copied.collect().await?;
    let table = MemTable::try_new(schema, vec![batches])?;
    catalog.register_schema(
        "pg_catalog",
        Arc::new(ReceiveOids {
            inner,
            pg_type: Arc::new(table),
        }),
    )?;
    Ok(())
}

/// The `pg_catalog` schema with [`with_receive_oids`]'s `pg_type`.
#[derive(Debug)]
struct ReceiveOids {
    inner: Arc<dyn SchemaProvider>,
    pg_type: Arc<dyn TableProvider>,
}

#[async_trait::async_trait]
impl SchemaProvider for ReceiveOids {
    fn table_names(&self) -> Vec<String> {
        self.inner.table_names()
    }

    async fn table(&self, name: &str) -> datafusion::error::Result<Option<Arc<dyn TableProvider>>> {
        if name == "pg_type" {
            return Ok(Some(self.pg_type.clone()));
        }
        self.inner.table(name).await
    }

    fn table_exist(&self, name: &str) -> bool {
        self.inner.table_exist(name)
    }
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
        with_receive_oids(&ctx).await?;
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
