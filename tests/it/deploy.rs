//! The systemd unit in `deploy/` is one systemd accepts as written, and hardened: checked
//! with `systemd-analyze` where it is installed (Debian's `systemd`).

use std::path::Path;
use std::process::Command;

fn systemd_analyze() -> Option<&'static str> {
    Command::new("systemd-analyze")
        .arg("--version")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|_| "systemd-analyze")
}

#[test]
fn the_systemd_unit_verifies_and_is_hardened() {
    let Some(analyze) = systemd_analyze() else {
        eprintln!("systemd-analyze is not installed: the unit file is not checked here");
        return;
    };
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let unit = std::fs::read_to_string(repo.join("deploy/tilannekuva.service")).unwrap();
    assert!(unit.contains("ExecStart=/usr/local/bin/tilannekuva serve"));
    // Verify against the binary just built, where the unit expects the installed one.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tilannekuva.service");
    std::fs::write(
        &path,
        unit.replace(
            "/usr/local/bin/tilannekuva",
            env!("CARGO_BIN_EXE_tilannekuva"),
        ),
    )
    .unwrap();
    let out = Command::new(analyze)
        .args(["verify", "--man=no"])
        .arg(&path)
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && said.trim().is_empty(), "{said}");

    let out = Command::new(analyze)
        .args(["security", "--offline=true", "--no-pager"])
        .arg(&path)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let level: f64 = text
        .lines()
        .find_map(|l| {
            l.split("Overall exposure level for tilannekuva.service: ")
                .nth(1)
        })
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no exposure level in:\n{text}"));
    // systemd calls 0–2 "OK"; an unhardened service scores about 9.6.
    assert!(level <= 2.0, "exposure {level}:\n{text}");
}
