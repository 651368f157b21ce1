//! What the commands print: tiles, query results and run histories as a table, JSON or
//! CSV. The encoders themselves are the tiles crate's ([`tilannekuva_tiles::encode`]),
//! shared with the desktop's downloads.

use std::io::Write;

use anyhow::{Context, Result};
use clap::ValueEnum;
use tilannekuva_tiles::{Grain, TilesDoc, encode, render};

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// A readable table.
    Table,
    /// JSON.
    Json,
    /// CSV.
    Csv,
}

/// Prints a snapshot's tiles, or one tile's breakdown.
pub fn print_tiles(
    doc: &TilesDoc,
    format: Format,
    grain: Grain,
    period: Option<&str>,
    tile: Option<&str>,
) -> Result<()> {
    let out = std::io::stdout();
    let mut out = out.lock();
    match (format, tile) {
        (Format::Json, None) => serde_json::to_writer_pretty(&mut out, doc)?,
        (Format::Json, Some(id)) => {
            let t = doc
                .tile(id)
                .with_context(|| format!("no tile `{id}` in snapshot {}", doc.snapshot_id))?;
            serde_json::to_writer_pretty(&mut out, t)?
        }
        (Format::Table, None) => {
            writeln!(
                out,
                "snapshot {} computed {} (data version {})",
                doc.snapshot_id,
                doc.computed_at.format("%Y-%m-%d %H:%M UTC"),
                doc.data_version
            )?;
            writeln!(out, "{}", render::table(doc, grain, period))?
        }
        (Format::Table, Some(id)) => {
            let b = render::breakdown(doc, id, grain, period)
                .with_context(|| format!("no tile `{id}` or no figure for that period"))?;
            writeln!(out, "{b}")?
        }
        (Format::Csv, _) => encode::write_csv(&mut out, &[doc.to_batch()?], false)?,
    }
    writeln!(out)?;
    Ok(())
}

/// Prints query results.
pub fn print_batches(batches: &[arrow::array::RecordBatch], format: Format) -> Result<()> {
    let out = std::io::stdout();
    let mut out = out.lock();
    match format {
        Format::Table => writeln!(out, "{}", encode::pretty(batches)?)?,
        Format::Csv => encode::write_csv(&mut out, batches, false)?,
        Format::Json => {
            encode::write_json(&mut out, batches)?;
            writeln!(out)?;
        }
    }
    Ok(())
}
