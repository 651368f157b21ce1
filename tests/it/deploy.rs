//! The systemd units in `deploy/` (the service, and a cluster's scheduler and executors) are
//! ones systemd accepts as written, and hardened: checked with `systemd-analyze` where it is
//! installed (Debian's `systemd`).

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

/// The units of `deploy/`: each file, the name it is verified under (an instance, for a
/// template), and the command it runs.
const UNITS: &[(&str, &str, &str)] = &[
    ("tilannekuva.service", "tilannekuva.service", "serve"),
    (
        "tilannekuva-scheduler.service",
        "tilannekuva-scheduler.service",
        "-v cluster scheduler",
    ),
    (
        "tilannekuva-executor@.service",
        "tilannekuva-executor@50051.service",
        "-v cluster executor --bind 0.0.0.0:%i",
    ),
];

#[test]
fn the_systemd_units_verify_and_are_hardened() {
    let Some(analyze) = systemd_analyze() else {
        eprintln!("systemd-analyze is not installed: the unit files are not checked here");
        return;
    };
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    for (file, name, command) in UNITS {
        let unit = std::fs::read_to_string(repo.join("deploy").join(file)).unwrap();
        assert!(
            unit.contains(&format!("ExecStart=/usr/local/bin/tilannekuva {command}")),
            "{file}"
        );
        // Verify against the binary just built, where the unit expects the installed one.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(name);
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
        assert!(
            out.status.success() && said.trim().is_empty(),
            "{file}: {said}"
        );

        let out = Command::new(analyze)
            .args(["security", "--offline=true", "--no-pager"])
            .arg(&path)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        let level: f64 = text
            .lines()
            .find_map(|l| {
                l.split(&format!("Overall exposure level for {name}: "))
                    .nth(1)
            })
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("{file}: no exposure level in:\n{text}"));
        // systemd calls 0–2 "OK"; an unhardened service scores about 9.6.
        assert!(level <= 2.0, "{file}: exposure {level}:\n{text}");
    }
}
