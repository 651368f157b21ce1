//! Record batches as files: the one set of encoders the command line (`sql`, `tiles`,
//! `quarantine`, `runs`) and the desktop's downloads share.

use std::io::Write;

use arrow::array::RecordBatch;
use arrow::error::ArrowError;

/// The byte-order mark that makes Excel read a UTF-8 CSV's letters (ä, ö, å) right.
pub const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// Writes `batches` as CSV with a header row; `bom` puts [`UTF8_BOM`] first.
pub fn write_csv<W: Write>(out: W, batches: &[RecordBatch], bom: bool) -> Result<(), ArrowError> {
    let mut out = out;
    if bom {
        out.write_all(UTF8_BOM)?;
    }
    let mut w = arrow::csv::WriterBuilder::new()
        .with_header(true)
        .build(out);
    for b in batches {
        w.write(b)?;
    }
    Ok(())
}

/// Writes `batches` as one JSON array of objects (nulls left out).
pub fn write_json<W: Write>(out: W, batches: &[RecordBatch]) -> Result<(), ArrowError> {
    let mut w = arrow::json::ArrayWriter::new(out);
    for b in batches {
        w.write(b)?;
    }
    w.finish()
}

/// `batches` as one Parquet file in memory (zstd); an empty file of `schema` when there are
/// none.
pub fn parquet_bytes(
    schema: arrow::datatypes::SchemaRef,
    batches: &[RecordBatch],
) -> Result<Vec<u8>, parquet::errors::ParquetError> {
    let props = parquet::file::properties::WriterProperties::builder()
        .set_compression(parquet::basic::Compression::ZSTD(Default::default()))
        .build();
    let mut buf = Vec::new();
    let mut w = parquet::arrow::ArrowWriter::try_new(&mut buf, schema, Some(props))?;
    for b in batches {
        w.write(b)?;
    }
    w.close()?;
    Ok(buf)
}

/// `batches` as an aligned text table.
pub fn pretty(batches: &[RecordBatch]) -> Result<String, ArrowError> {
    Ok(arrow::util::pretty::pretty_format_batches(batches)?.to_string())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{Int64Array, StringArray};
    use arrow::datatypes::{DataType, Field, Schema};

    use super::*;

    fn batch() -> RecordBatch {
        let schema = Arc::new(Schema::new(vec![
            Field::new("alue", DataType::Utf8, true),
            Field::new("n", DataType::Int64, false),
        ]));
        RecordBatch::try_new(
            schema,
            vec![
                Arc::new(StringArray::from(vec![Some("Länsi"), None])),
                Arc::new(Int64Array::from(vec![3, 4])),
            ],
        )
        .unwrap()
    }

    #[test]
    fn csv_with_and_without_the_bom() {
        let mut plain = Vec::new();
        write_csv(&mut plain, &[batch()], false).unwrap();
        assert_eq!(
            String::from_utf8(plain.clone()).unwrap(),
            "alue,n\nLänsi,3\n,4\n"
        );
        let mut bom = Vec::new();
        write_csv(&mut bom, &[batch()], true).unwrap();
        assert_eq!(&bom[..3], UTF8_BOM);
        assert_eq!(&bom[3..], &plain[..]);
    }

    #[test]
    fn json_array_leaves_out_nulls() {
        let mut out = Vec::new();
        write_json(&mut out, &[batch()]).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            r#"[{"alue":"Länsi","n":3},{"n":4}]"#
        );
    }

    #[test]
    fn parquet_reads_back() {
        let b = batch();
        let bytes = parquet_bytes(b.schema(), std::slice::from_ref(&b)).unwrap();
        let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(
            bytes::Bytes::from(bytes),
        )
        .unwrap()
        .build()
        .unwrap();
        let back: Vec<RecordBatch> = reader.collect::<Result<_, _>>().unwrap();
        assert_eq!(back, vec![b]);
    }
}
