//! `tilannekuva report`: a snapshot's board report written to files, HTML always and PDF
//! when a local Chromium can print it.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use tilannekuva_tiles::Grain;
use tilannekuva_tiles::report::{Lang, ReportOptions, checkins_at};

use crate::project::Project;

/// What to write.
#[derive(Debug, Clone)]
pub struct ReportRequest {
    /// Pinned label or snapshot id; the latest snapshot when `None`.
    pub snapshot: Option<String>,
    /// Language.
    pub lang: Lang,
    /// Grain of the figures.
    pub grain: Grain,
    /// The HTML file; by default `report-<label>.<lang>.html` in the current folder.
    pub out: Option<PathBuf>,
    /// Also print it to PDF beside the HTML.
    pub pdf: bool,
}

/// Writes the report; returns the files written.
pub async fn write(project: &Project, req: &ReportRequest) -> Result<Vec<PathBuf>> {
    let wh = project.warehouse()?;
    let manifest = wh.manifest().await?;
    let record = match &req.snapshot {
        Some(label) => tilannekuva_tiles::snapshot::pick_pinned(&manifest, label)?,
        None => tilannekuva_tiles::snapshot::pick(&manifest, None)?,
    };
    let doc = tilannekuva_tiles::snapshot::read(&wh, record).await?;
    let options = ReportOptions {
        lang: req.lang,
        grain: req.grain,
        pin: record.pin.as_ref().map(|p| (p.label.clone(), p.pinned_at)),
        checkins: checkins_at(&manifest, record),
        stylesheet: None,
    };
    let html = tilannekuva_tiles::report::html(&doc, &options);
    let name = record
        .pin
        .as_ref()
        .map_or(record.id.as_str(), |p| p.label.as_str());
    let out = req.out.clone().unwrap_or_else(|| {
        PathBuf::from(format!(
            "report-{}.{}.html",
            file_safe(name),
            req.lang.code()
        ))
    });
    std::fs::write(&out, html).with_context(|| format!("writing {}", out.display()))?;
    let mut written = vec![out.clone()];
    if req.pdf {
        let pdf = out.with_extension("pdf");
        print_pdf(&out, &pdf)?;
        written.push(pdf);
    }
    Ok(written)
}

/// A label as a file name: letters and digits kept, everything else a hyphen.
fn file_safe(label: &str) -> String {
    let s: String = label
        .chars()
        .map(|c| if c.is_alphanumeric() { c } else { '-' })
        .collect();
    s.split('-')
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join("-")
}

/// The browsers that can print a page to PDF headless, in the order tried after
/// `TILANNEKUVA_CHROMIUM`.
const BROWSERS: &[&str] = &["chromium", "chromium-browser", "google-chrome"];

/// Prints the HTML to PDF with a local headless Chromium.
fn print_pdf(html: &Path, pdf: &Path) -> Result<()> {
    let named = std::env::var("TILANNEKUVA_CHROMIUM").ok();
    let browser = named
        .iter()
        .map(String::as_str)
        .chain(BROWSERS.iter().copied())
        .find(|b| {
            std::process::Command::new(b)
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success())
        })
        .with_context(|| {
            format!(
                "--pdf needs a local Chromium ({}); the HTML report was written and prints \
                 to PDF from any browser",
                BROWSERS.join(", ")
            )
        })?;
    // A browser profile of its own, removed after.
    let profile = std::env::temp_dir().join(format!(
        "tilannekuva-report-{}-{}",
        std::process::id(),
        uuid::Uuid::new_v4()
    ));
    let html = std::path::absolute(html)?;
    let pdf_abs = std::path::absolute(pdf)?;
    let out = std::process::Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-pdf-header-footer",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(format!("--print-to-pdf={}", pdf_abs.display()))
        .arg(format!("file://{}", html.display()))
        .output()
        .with_context(|| format!("running {browser}"));
    let _ = std::fs::remove_dir_all(&profile);
    let out = out?;
    if !out.status.success() || !pdf.exists() {
        bail!(
            "{browser} could not print {} to PDF: {}",
            html.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn labels_become_file_names() {
        assert_eq!(
            super::file_safe("Aluevaltuusto 16.12.2026"),
            "Aluevaltuusto-16-12-2026"
        );
        assert_eq!(super::file_safe("../../etc"), "etc");
    }
}
