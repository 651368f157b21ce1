//! Writes the full default sample set (two years, one county) and reports what it wrote.
//!
//! ```text
//! cargo run --release -p tilannekuva-samples --example generate -- /tmp/samples [scale]
//! ```

use std::path::PathBuf;
use std::time::Instant;

use tilannekuva_samples::{SampleConfig, generate};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let dir = PathBuf::from(args.next().unwrap_or_else(|| "samples-out".to_owned()));
    let scale = args.next().map(|s| s.parse()).transpose()?.unwrap_or(1.0);
    let cfg = SampleConfig {
        scale,
        ..SampleConfig::default()
    };
    let started = Instant::now();
    let generated = generate(&dir, &cfg)?;
    let elapsed = started.elapsed();
    let mut per_source = std::collections::BTreeMap::<&str, (usize, usize)>::new();
    for file in &generated.files {
        let entry = per_source.entry(file.source.as_str()).or_default();
        entry.0 += 1;
        entry.1 += file.rows;
    }
    for (source, (files, rows)) in per_source {
        println!("{source:<20} {files:>3} files {rows:>9} rows");
    }
    println!("generated in {:.2} s", elapsed.as_secs_f64());
    Ok(())
}
