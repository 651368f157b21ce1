//! Alerts reaching real receivers on 127.0.0.1: a webhook receiver (generic JSON, Teams and
//! Slack shapes) and an SMTP server with STARTTLS and AUTH (Python's aiosmtpd). `serve` runs
//! a rescue load every two seconds; a PRONTO export with a henkilötunnus in it fails every
//! run, yet each alert arrives once; when the export is replaced by a clean one with a bad
//! row, both alerts resolve and the reject share's fires. The receiver refuses its first
//! request, so the first message is retried, and `tilannekuva alerts` shows both attempts.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::{CopiedProject, test_python};

const SMTP_USER: &str = "tilannekuva";
const SMTP_PASSWORD: &str = "smtp-password-for-the-alert-test";

/// The bodies POSTed to the receiver, by path, in arrival order.
type Received = Arc<Mutex<Vec<(String, Value)>>>;

/// A webhook receiver; it answers its very first request with 503.
fn start_receiver() -> (String, Received) {
    use axum::extract::{Path as UrlPath, State};
    use axum::http::StatusCode;
    let received: Received = Arc::new(Mutex::new(Vec::new()));
    let refused = Arc::new(Mutex::new(false));
    let state = (received.clone(), refused);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send(listener.local_addr().unwrap()).unwrap();
            let hook = |State((received, refused)): State<(Received, Arc<Mutex<bool>>)>,
                        UrlPath(path): UrlPath<String>,
                        axum::Json(body): axum::Json<Value>| async move {
                let mut refused = refused.lock().unwrap();
                if !*refused {
                    *refused = true;
                    return StatusCode::SERVICE_UNAVAILABLE;
                }
                received.lock().unwrap().push((path, body));
                StatusCode::OK
            };
            let app = axum::Router::new()
                .route("/hooks/{path}", axum::routing::post(hook))
                .with_state(state);
            axum::serve(listener, app).await.unwrap();
        });
    });
    (format!("http://{}/hooks", rx.recv().unwrap()), received)
}

struct Smtp {
    child: Child,
    dir: PathBuf,
    port: u16,
}

impl Drop for Smtp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_smtp(dir: &Path) -> Smtp {
    std::fs::create_dir_all(dir).unwrap();
    let child = Command::new(test_python())
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/it/fixtures/smtp_server.py"
        ))
        .arg(dir)
        .args([SMTP_USER, SMTP_PASSWORD])
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let port = loop {
        if let Ok(p) = std::fs::read_to_string(dir.join("port")) {
            break p.trim().parse().unwrap();
        }
        assert!(Instant::now() < deadline, "the SMTP server did not start");
        std::thread::sleep(Duration::from_millis(100));
    };
    Smtp {
        child,
        dir: dir.to_path_buf(),
        port,
    }
}

/// The mails the SMTP server accepted: (envelope and session, message text).
fn mails(dir: &Path) -> Vec<(Value, String)> {
    let mut out = Vec::new();
    for n in 1.. {
        let (Ok(meta), Ok(text)) = (
            std::fs::read_to_string(dir.join(format!("mail-{n}.json"))),
            std::fs::read_to_string(dir.join(format!("mail-{n}.eml"))),
        ) else {
            break;
        };
        out.push((serde_json::from_str(&meta).unwrap(), text));
    }
    out
}

const PRONTO_HEADER: &str = "Tehtävänumero;Kiireellisyysluokka;Riskiluokka;Tehtävätyyppi;Kunta;Hälytysaika;Ensimmäinen yksikkö kohteessa";

fn pronto(rows: &[&str]) -> Vec<u8> {
    let mut text = format!("{PRONTO_HEADER}\r\n");
    for r in rows {
        text.push_str(r);
        text.push_str("\r\n");
    }
    text.into_bytes()
}

fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(120);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn alerts_reach_webhooks_and_smtp_once_per_condition_and_resolve() {
    let (hooks, received) = start_receiver();
    let project = CopiedProject::new();
    let smtp = start_smtp(&project.dir.path().join("smtp"));
    let jobs = project.dir.path().join("config/jobs.toml");
    std::fs::write(
        &jobs,
        "[scheduler]\nmax_concurrent = 1\n\n[[job]]\nname = \"load_rescue\"\n\
         schedule = \"*/2 * * * * *\"\nrun = { load = [\"rescue_pronto\"] }\nretries = 1\n\
         backoff_seconds = 1\ntimeout_seconds = 60\ncatch_up = \"skip\"\n",
    )
    .unwrap();
    let config = std::fs::read_to_string(&project.config).unwrap();
    std::fs::write(
        &project.config,
        format!(
            r#"{config}
[alerting]
check_every_seconds = 0.5
retries = 2
backoff_seconds = 0.2

[[alerts]]
name = "yökuormat"
when = "job_failed"
send_to = ["hook", "teams", "slack", "mail"]

[[alerts]]
name = "henkilötunnukset"
when = "personal_data"
send_to = ["hook", "mail"]

[[alerts]]
name = "hylätyt rivit"
when = "reject_share"
above = 0.05
sources = ["rescue_pronto"]
send_to = ["hook"]

[alert_channels.hook]
kind = "webhook"
url_env = "TEST_ALERT_HOOK"

[alert_channels.teams]
kind = "teams"
url_env = "TEST_ALERT_TEAMS"

[alert_channels.slack]
kind = "slack"
url_env = "TEST_ALERT_SLACK"

[alert_channels.mail]
kind = "smtp"
host = "127.0.0.1"
port = {port}
security = "starttls"
ca_file = "{ca}"
username_env = "TEST_SMTP_USER"
password_env = "TEST_SMTP_PASSWORD"
from = "Tilannekuva <tilannekuva@example.fi>"
to = ["tietopalvelut@example.fi"]
"#,
            port = smtp.port,
            ca = smtp.dir.join("ca.pem").display(),
        ),
    )
    .unwrap();
    let folder = project.inputs.join("rescue_pronto");
    std::fs::create_dir_all(&folder).unwrap();
    // 131052-308T has a valid check character: a henkilötunnus in the task type text.
    std::fs::write(
        folder.join("pronto_tehtavat_2025-03.csv"),
        pronto(&[
            "250301;A;I;Rakennuspalo;Jyväskylä;1.3.2025 10:00:00;1.3.2025 10:07:00",
            "250302;B;II;Tieliikenneonnettomuus, ilmoittaja 131052-308T;Jämsä;2.3.2025 11:00:00;2.3.2025 11:12:00",
        ]),
    )
    .unwrap();
    let served = project.serve(
        &["--bind", "127.0.0.1:0"],
        &[
            ("TEST_ALERT_HOOK", format!("{hooks}/generic")),
            ("TEST_ALERT_TEAMS", format!("{hooks}/teams")),
            ("TEST_ALERT_SLACK", format!("{hooks}/slack")),
            ("TEST_SMTP_USER", SMTP_USER.to_string()),
            ("TEST_SMTP_PASSWORD", SMTP_PASSWORD.to_string()),
        ],
    );
    let generic = || -> Vec<Value> {
        received
            .lock()
            .unwrap()
            .iter()
            .filter(|(p, _)| p == "generic")
            .map(|(_, b)| b.clone())
            .collect()
    };
    let has = |status: &str, key: &str| {
        generic()
            .iter()
            .filter(|b| b["status"] == status && b["key"] == key)
            .count()
    };
    wait_until("the firing alerts", || {
        has("firing", "job_failed/load_rescue") == 1
            && has("firing", "personal_data/load_rescue") == 1
            && mails(&smtp.dir).len() >= 2
    });
    // Several more failed runs: still one message per alert.
    std::thread::sleep(Duration::from_secs(6));
    assert_eq!(
        has("firing", "job_failed/load_rescue"),
        1,
        "{:#?}",
        generic()
    );
    assert_eq!(has("firing", "personal_data/load_rescue"), 1);
    let personal = generic()
        .into_iter()
        .find(|b| b["key"] == "personal_data/load_rescue")
        .unwrap();
    let text = personal["text"].as_str().unwrap();
    assert!(
        text.contains("pronto_tehtavat_2025-03.csv")
            && text.contains("line 3")
            && text.contains("henkilötunnus"),
        "{text}"
    );
    assert!(
        !text.contains("131052-308T"),
        "the alert must not carry the code: {text}"
    );
    let failed = generic()
        .into_iter()
        .find(|b| b["key"] == "job_failed/load_rescue")
        .unwrap();
    assert_eq!(failed["rule"], "yökuormat");
    assert!(
        failed["summary"]
            .as_str()
            .unwrap()
            .contains("after 2 attempt(s)"),
        "{failed}"
    );
    {
        let all = received.lock().unwrap();
        let teams = &all.iter().find(|(p, _)| p == "teams").unwrap().1;
        assert_eq!(
            teams["attachments"][0]["contentType"],
            "application/vnd.microsoft.card.adaptive"
        );
        assert!(
            teams["attachments"][0]["content"]["body"][0]["text"]
                .as_str()
                .unwrap()
                .contains("FIRING"),
            "{teams}"
        );
        let slack = &all.iter().find(|(p, _)| p == "slack").unwrap().1;
        assert!(
            slack["text"].as_str().unwrap().contains("load_rescue"),
            "{slack}"
        );
    }
    let sent = mails(&smtp.dir);
    for (session, text) in &sent {
        assert_eq!(session["tls"], true, "STARTTLS was used");
        assert_eq!(session["authenticated"], true, "AUTH was used");
        assert_eq!(session["to"][0], "tietopalvelut@example.fi");
        assert!(!text.contains("131052-308T"), "{text}");
    }
    assert!(
        sent.iter()
            .any(|(_, t)| t.contains("Subject: [Tilannekuva] FIRING: job load_rescue")),
        "{sent:?}"
    );

    // The vendor redelivers the month without the code, with one bad row to 14 good ones
    // (7.1 %: within the source's `max_reject_share`, above the rule's 5 %).
    std::fs::remove_file(folder.join("pronto_tehtavat_2025-03.csv")).unwrap();
    let mut rows: Vec<String> = (1..=14)
        .map(|i| {
            format!(
                "2503{i:02};C;III;Rakennuspalo;Jyväskylä;{i}.3.2025 10:00:00;{i}.3.2025 10:09:00"
            )
        })
        .collect();
    rows.push("250320;C;III;Rakennuspalo;Jyväskylä;10.3.2025 10:00:00;eilen".into());
    let rows: Vec<&str> = rows.iter().map(String::as_str).collect();
    std::fs::write(folder.join("pronto_tehtavat_2025-03.csv"), pronto(&rows)).unwrap();
    wait_until("the resolutions and the reject share", || {
        has("resolved", "job_failed/load_rescue") == 1
            && has("resolved", "personal_data/load_rescue") == 1
            && has("firing", "reject_share/rescue_pronto") == 1
    });
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(has("resolved", "job_failed/load_rescue"), 1);
    assert_eq!(has("firing", "reject_share/rescue_pronto"), 1);
    let rejects = generic()
        .into_iter()
        .find(|b| b["key"] == "reject_share/rescue_pronto")
        .unwrap();
    assert!(
        rejects["summary"]
            .as_str()
            .unwrap()
            .starts_with("7.1 % of the rows"),
        "{rejects}"
    );
    assert!(
        mails(&smtp.dir)
            .iter()
            .any(|(_, t)| t.contains("Subject: [Tilannekuva] RESOLVED: job load_rescue")),
        "{:?}",
        mails(&smtp.dir)
    );

    std::mem::drop(served);
    // Every message is recorded with every attempt: the first to the generic hook twice.
    let (out, _) = project.run_apart(&["alerts", "--format", "json", "--limit", "1000"]);
    let history: Vec<Value> = serde_json::from_str(&out).unwrap();
    let first = history
        .iter()
        .find(|h| h["key"] == "job_failed/load_rescue" && h["status"] == "firing")
        .unwrap();
    let to_hook: Vec<&Value> = first["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["channel"] == "hook")
        .collect();
    assert_eq!(to_hook.len(), 2, "{first:#}");
    assert!(
        to_hook[0]["error"].as_str().unwrap().contains("503"),
        "{first:#}"
    );
    assert!(to_hook[1]["error"].is_null(), "{first:#}");
    assert!(
        history.iter().all(|h| h["delivered"] == true),
        "{history:#?}"
    );
}
