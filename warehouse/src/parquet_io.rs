//! Parquet writing and reading with the warehouse's settings: zstd, row-group and page
//! statistics, bounded row groups, streamed to the object store.

use std::sync::Arc;

use arrow::array::RecordBatch;
use arrow::datatypes::{DataType, Schema, SchemaRef};
use bytes::Bytes;
use object_store::buffered::BufWriter;
use object_store::path::Path as ObjectPath;
use parquet::arrow::AsyncArrowWriter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::basic::{Compression, Encoding, ZstdLevel};
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::schema::types::ColumnPath;

use crate::catalog::LINEAGE_LINE;
use crate::{Error, Result, Warehouse};

/// Rows per row group: large enough for good compression, small enough to prune.
pub const ROW_GROUP_ROWS: usize = 128 * 1024;

/// Bytes an open file holds before it is handed to the store in parts: the smallest part
/// cloud object stores accept. A load writing many months at once keeps one such buffer
/// (and one row group in progress) per month, whatever the export's size.
pub const UPLOAD_PART_BYTES: usize = 5 * 1024 * 1024;

/// A column's dictionary grows to this before the column falls back to its own encoding:
/// far above the few hundred values of a queue, a service or a status, far below a row
/// group of ids, which then leave the dictionary early.
pub const DICTIONARY_PAGE_BYTES: usize = 256 * 1024;

/// The properties every warehouse Parquet file of `schema` is written with: zstd, page
/// statistics, bounded row groups, and encodings by what a column holds. Times, dates and
/// the source line are written as deltas (they grow along an export; a dictionary of them
/// would be as large as the column); other integers and text are dictionary-encoded while
/// their values repeat, then as deltas (ids such as `ACE-2024-000123` share their prefixes).
pub fn writer_properties(schema: &Schema) -> WriterProperties {
    let mut b = WriterProperties::builder()
        .set_compression(Compression::ZSTD(
            ZstdLevel::try_new(3).expect("valid zstd level"),
        ))
        .set_statistics_enabled(EnabledStatistics::Page)
        .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
        .set_dictionary_page_size_limit(DICTIONARY_PAGE_BYTES)
        .set_created_by(format!("tilannekuva {}", env!("CARGO_PKG_VERSION")));
    for field in schema.fields() {
        let column = ColumnPath::from(field.name().as_str());
        let growing = matches!(
            field.data_type(),
            DataType::Timestamp(..) | DataType::Date32 | DataType::Date64
        ) || field.name() == LINEAGE_LINE;
        b = match field.data_type() {
            _ if growing => b
                .set_column_dictionary_enabled(column.clone(), false)
                .set_column_encoding(column, Encoding::DELTA_BINARY_PACKED),
            DataType::Int8
            | DataType::Int16
            | DataType::Int32
            | DataType::Int64
            | DataType::UInt8
            | DataType::UInt16
            | DataType::UInt32
            | DataType::UInt64 => b.set_column_encoding(column, Encoding::DELTA_BINARY_PACKED),
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Binary | DataType::LargeBinary => {
                b.set_column_encoding(column, Encoding::DELTA_BYTE_ARRAY)
            }
            _ => b,
        };
    }
    b.build()
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
        let writer =
            AsyncArrowWriter::try_new(object, schema.clone(), Some(writer_properties(&schema)))
                .map_err(|source| Error::Parquet {
                    path: path.to_string(),
                    source,
                })?;
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

/// `batches` as the bytes of one Parquet file written with the warehouse's settings; `name`
/// says what they are in an error.
pub fn parquet_bytes(name: &str, schema: &SchemaRef, batches: &[RecordBatch]) -> Result<Bytes> {
    let err = |source| Error::Parquet {
        path: name.to_string(),
        source,
    };
    let mut out = Vec::new();
    let mut writer = parquet::arrow::ArrowWriter::try_new(
        &mut out,
        schema.clone(),
        Some(writer_properties(schema)),
    )
    .map_err(err)?;
    for b in batches {
        writer.write(b).map_err(err)?;
    }
    writer.close().map_err(err)?;
    Ok(Bytes::from(out))
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

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Int64Array, StringArray, TimestampMicrosecondArray};
    use arrow::datatypes::{Field, TimeUnit};
    use parquet::file::reader::{FileReader, SerializedFileReader};

    #[tokio::test]
    async fn each_column_is_encoded_by_what_it_holds_and_reads_back_the_same() {
        let dir = tempfile::tempdir().unwrap();
        let wh = Warehouse::open_local(dir.path()).unwrap();
        let schema = Arc::new(Schema::new(vec![
            Field::new("contact_id", DataType::Utf8, false),
            Field::new("queue", DataType::Utf8, false),
            Field::new(
                "received_at",
                DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
                false,
            ),
            Field::new(LINEAGE_LINE, DataType::Int64, false),
        ]));
        let n = 50_000i64;
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(StringArray::from_iter_values(
                    (0..n).map(|i| format!("ACE-2024-{i:07}")),
                )),
                Arc::new(StringArray::from_iter_values((0..n).map(|i| {
                    ["Neuvonta", "Ajanvaraus", "Kotihoito"][i as usize % 3]
                }))),
                Arc::new(
                    TimestampMicrosecondArray::from_iter_values(
                        (0..n).map(|i| 1_704_067_200_000_000 + i * 60_000_000),
                    )
                    .with_timezone("UTC"),
                ),
                Arc::new(Int64Array::from_iter_values(2..n + 2)),
            ],
        )
        .unwrap();
        let (rows, bytes) = write_parquet(&wh, "t.parquet", schema, std::slice::from_ref(&batch))
            .await
            .unwrap();
        assert_eq!(rows, n as u64);
        // Ids past the dictionary, the times and lines as deltas: a few bytes a row.
        assert!(bytes < 3 * n as u64, "{bytes} bytes for {n} rows");

        let file = SerializedFileReader::new(Bytes::from(
            std::fs::read(dir.path().join("t.parquet")).unwrap(),
        ))
        .unwrap();
        let group = file.metadata().row_group(0);
        let encodings = |i: usize| group.column(i).encodings().collect::<Vec<_>>();
        assert!(
            encodings(0).contains(&Encoding::DELTA_BYTE_ARRAY),
            "{:?}",
            encodings(0)
        );
        assert!(
            encodings(1).contains(&Encoding::RLE_DICTIONARY),
            "{:?}",
            encodings(1)
        );
        assert!(
            !encodings(1).contains(&Encoding::DELTA_BYTE_ARRAY),
            "{:?}",
            encodings(1)
        );
        for i in [2, 3] {
            assert!(
                encodings(i).contains(&Encoding::DELTA_BINARY_PACKED),
                "{:?}",
                encodings(i)
            );
            assert!(
                !encodings(i).contains(&Encoding::RLE_DICTIONARY),
                "{:?}",
                encodings(i)
            );
        }
        let (_, back) = read_parquet_bytes(
            "t.parquet",
            Bytes::from(std::fs::read(dir.path().join("t.parquet")).unwrap()),
        )
        .unwrap();
        let back = arrow::compute::concat_batches(&back[0].schema(), &back).unwrap();
        assert_eq!(back, batch);
    }
}
