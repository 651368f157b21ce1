//! `tilannekuva serve` reloading its config on SIGHUP, as an operator adds a token: the new
//! config is taken without a restart and without a failed request, and a broken one is
//! refused while the running one goes on.

use std::process::{Child, Command};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::common::CopiedProject;

const FIRST: &str = "first-token-for-the-reload-test";
const SECOND: &str = "second-token-added-while-serving";

fn token_entry(name: &str, token: &str) -> String {
    format!(
        "\n[[desktop.tokens]]\nname = \"{name}\"\nsha256 = \"{}\"\n",
        tilannekuva_desktop::TokenConfig::hash(token)
    )
}

fn hangup(child: &Child) {
    let sent = Command::new("kill")
        .args(["-HUP", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
}

#[test]
fn sighup_reloads_the_config_and_a_broken_one_is_refused() {
    let project = CopiedProject::new();
    let main = project.config.clone();
    let original = std::fs::read_to_string(&main).unwrap();
    std::fs::write(
        &main,
        format!("{original}{}", token_entry("operator", FIRST)),
    )
    .unwrap();
    let served = project.serve(&["--bind", "127.0.0.1:0"], &[]);
    let url = served
        .wait_for("serving: desktop on http://")
        .split("serving: desktop on ")
        .nth(1)
        .and_then(|rest| rest.split(',').next())
        .unwrap()
        .to_string();
    let status_of = |token: &str| {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            reqwest::Client::new()
                .get(format!("{url}api/v1/status"))
                .bearer_auth(token)
                .send()
                .await
                .map(|r| r.status().as_u16())
                .map_err(|e| e.to_string())
        })
    };
    let _ = rustls::crypto::ring::default_provider().install_default();
    assert_eq!(status_of(FIRST), Ok(200));
    assert_eq!(status_of(SECOND), Ok(401));

    // A client keeps asking while the config is reloaded: no request may fail.
    let stop = Arc::new(AtomicBool::new(false));
    let (asked, failed) = (
        Arc::new(AtomicUsize::new(0)),
        Arc::new(Mutex::new(Vec::new())),
    );
    let client = {
        let (stop, asked, failed, url) = (stop.clone(), asked.clone(), failed.clone(), url.clone());
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                let client = reqwest::Client::new();
                while !stop.load(Ordering::Relaxed) {
                    let r = client
                        .get(format!("{url}api/v1/status"))
                        .bearer_auth(FIRST)
                        .send()
                        .await;
                    asked.fetch_add(1, Ordering::Relaxed);
                    match r {
                        Ok(r) if r.status().is_success() => {}
                        Ok(r) => failed.lock().unwrap().push(r.status().to_string()),
                        Err(e) => failed.lock().unwrap().push(e.to_string()),
                    }
                }
            })
        })
    };

    // The operator adds a token and sends SIGHUP.
    std::fs::write(
        &main,
        format!(
            "{original}{}{}",
            token_entry("operator", FIRST),
            token_entry("johtoryhmä", SECOND)
        ),
    )
    .unwrap();
    hangup(&served.child);
    served.wait_for("config reloaded:");
    assert_eq!(status_of(SECOND), Ok(200), "the new token works");
    assert_eq!(status_of(FIRST), Ok(200), "the old one still does");

    // A config with a typo is refused; the running one stays.
    std::fs::write(&main, format!("{original}\n[[desktop.tokens]\n")).unwrap();
    hangup(&served.child);
    served.wait_for("config reload refused; the running config stays");
    assert_eq!(status_of(SECOND), Ok(200));
    assert!(
        served.said("tilannekuva.toml"),
        "the refusal names the file: {:?}",
        served.lines.lock().unwrap()
    );

    stop.store(true, Ordering::Relaxed);
    client.join().unwrap();
    assert!(asked.load(Ordering::Relaxed) > 0);
    assert!(
        failed.lock().unwrap().is_empty(),
        "{:?}",
        failed.lock().unwrap()
    );

    let stopped = Command::new("kill")
        .args(["-TERM", &served.child.id().to_string()])
        .status()
        .unwrap();
    assert!(stopped.success());
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut served = served;
    let status = loop {
        if let Some(s) = served.child.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < deadline, "serve did not stop");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(status.success(), "{status:?}");
}
