//! Parquet writing and reading with the warehouse's settings: zstd, row-group and page
//! statistics, bounded row groups, streamed to the object store.

use std::sync::Arc;

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use bytes::Bytes;
use object_store::buffered::BufWriter;
use object_store::path::Path as ObjectPath;
use parquet::arrow::AsyncArrowWriter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::{EnabledStatistics, WriterProperties};

use crate::{Error, Result, Warehouse};

/// Rows per row group: large enough for good compression, small enough to prune.
pub const ROW_GROUP_ROWS: usize = 128 * 1024;

/// Bytes an open file holds before it is handed to the store in parts: the smallest part
/// cloud object stores accept. A load writing many months at once keeps one such buffer
/// (and one row group in progress) per month, whatever the export's size.
pub const UPLOAD_PART_BYTES: usize = 5 * 1024 * 1024;

/// The properties every warehouse Parquet file is written with.
pub fn writer_properties() -> WriterProperties {
    WriterProperties::builder()
        .set_compression(Compression::ZSTD(
            ZstdLevel::try_new(3).expect("valid zstd level"),
        ))
        .set_statistics_enabled(EnabledStatistics::Page)
        .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
        .set_created_by(format!("tilannekuva {}", env!("CARGO_PKG_VERSION")))
        .build()
}

/// A Parquet file being streamed into the warehouse. Nothing is visible at its final
/// path until [`ParquetSink::finish`], and nothing is visible to readers until a manifest
/// lists the file.
pub struct ParquetSink {
    path: String,
    writer: AsyncArrowWriter<BufWriter>,
    rows: u64,
}

impl ParquetSink {
    /// Starts a file at `path` (relative to the warehouse root).
    pub fn create(wh: &Warehouse, path: &str, schema: SchemaRef) -> Result<Self> {
        let object =
            BufWriter::with_capacity(wh.store(), ObjectPath::from(path), UPLOAD_PART_BYTES);
        let writer = AsyncArrowWriter::try_new(object, schema, Some(writer_properties())).map_err(
            |source| Error::Parquet {
                path: path.to_string(),
                source,
            },
        )?;
        Ok(Self {
            path: path.to_string(),
            writer,
            rows: 0,
        })
    }

    /// Appends a batch.
    pub async fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        self.rows += batch.num_rows() as u64;
        self.writer
            .write(batch)
            .await
            .map_err(|source| Error::Parquet {
                path: self.path.clone(),
                source,
            })
    }

    /// Rows written so far.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// The file's path.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// Completes the file; returns its path, row count and size in bytes.
    pub async fn finish(self, wh: &Warehouse) -> Result<(String, u64, u64)> {
        let Self { path, writer, rows } = self;
        // Nothing becomes an object on a store whose commits would not be safe.
        if let Err(e) = wh.verify_create_only().await {
            drop(writer);
            return Err(e);
        }
        writer.close().await.map_err(|source| Error::Parquet {
            path: path.clone(),
            source,
        })?;
        let bytes = wh.size(&path).await?;
        Ok((path, rows, bytes))
    }

    /// Drops an unfinished file without making it visible.
    pub async fn abort(self) {
        // Closing the upload is the only way to release it; an aborted writer leaves no object.
        drop(self.writer);
    }
}

/// Writes `batches` as one Parquet file; returns rows and bytes.
pub async fn write_parquet(
    wh: &Warehouse,
    path: &str,
    schema: SchemaRef,
    batches: &[RecordBatch],
) -> Result<(u64, u64)> {
    let mut sink = ParquetSink::create(wh, path, schema)?;
    for b in batches {
        sink.write(b).await?;
    }
    let (_, rows, bytes) = sink.finish(wh).await?;
    Ok((rows, bytes))
}

/// Reads a whole Parquet file held in memory.
pub fn read_parquet_bytes(path: &str, bytes: Bytes) -> Result<(SchemaRef, Vec<RecordBatch>)> {
    let err = |source| Error::Parquet {
        path: path.to_string(),
        source,
    };
    let builder = ParquetRecordBatchReaderBuilder::try_new(bytes).map_err(err)?;
    let schema: SchemaRef = Arc::clone(builder.schema());
    let reader = builder.build().map_err(err)?;
    let batches = reader
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| Error::Parquet {
            path: path.to_string(),
            source: parquet::errors::ParquetError::ArrowError(e.to_string()),
        })?;
    Ok((schema, batches))
}
