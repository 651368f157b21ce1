//! The desktop in Debian's Chromium, headless: sign in, compare the tiles with the API,
//! move with the keyboard, open a drill-down, and save screenshots.
//!
//! Chromium is taken from `TILANNEKUVA_CHROMIUM` or `/usr/bin/chromium`; when it is missing
//! the test fails, unless `TILANNEKUVA_SKIP_BROWSER=1`.

mod common;

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::path::PathBuf;
use std::time::Duration;

use common::ADMIN;
use headless_chrome::protocol::cdp::Page::CaptureScreenshotFormatOption;
use headless_chrome::{Browser, LaunchOptions, Tab};

/// Signs in on the sign-in form with `token` and waits for the desktop to load.
fn sign_in(tab: &Tab, token: &str) {
    tab.wait_for_element("#token").unwrap().click().unwrap();
    tab.type_str(token).unwrap();
    tab.wait_for_element("#login-submit")
        .unwrap()
        .click()
        .unwrap();
    wait_for(
        tab,
        "document.body.dataset.ready === 'true'",
        "the desktop to load",
    );
}

fn shots_dir() -> PathBuf {
    let shots = std::env::temp_dir().join("tilannekuva-desktop-screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    shots
}

/// Types `words` into the open drill-down's check-in form and saves them as the signed-in
/// owner (`terveysjohtaja`); once the drill-down shows them, closes it and returns the
/// excerpt the overview's scorecard row `row` (a selector) shows.
fn write_assessment(tab: &Tab, words: &str, shot: &str, row: &str) -> String {
    tab.wait_for_element("#checkin-text")
        .unwrap()
        .click()
        .unwrap();
    tab.type_str(words).unwrap();
    tab.wait_for_element("#checkin-save")
        .unwrap()
        .click()
        .unwrap();
    let words_js = serde_json::to_string(words).unwrap();
    wait_for(
        tab,
        &format!(
            "[...document.querySelectorAll('#detail-body .checkin')].some(p => p.textContent.includes({words_js}) && p.textContent.includes('terveysjohtaja'))"
        ),
        "the saved assessment in the drill-down",
    );
    screenshot(tab, &shots_dir(), shot);
    tab.press_key("Escape").unwrap();
    eval_string(
        tab,
        &format!("document.querySelector('#scorecard {row} .excerpt').textContent"),
    )
}

fn eval_string(tab: &Tab, js: &str) -> String {
    let v = tab
        .evaluate(js, false)
        .unwrap_or_else(|e| panic!("evaluating {js}: {e}"));
    match v.value {
        Some(serde_json::Value::String(s)) => s,
        other => panic!("{js} gave {other:?}"),
    }
}

fn wait_for(tab: &Tab, js: &str, what: &str) {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(v) = tab.evaluate(js, false)
            && v.value == Some(serde_json::Value::Bool(true))
        {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn screenshot(tab: &Tab, dir: &std::path::Path, name: &str) -> PathBuf {
    let png = tab
        .capture_screenshot(CaptureScreenshotFormatOption::Png, None, None, true)
        .unwrap();
    let path = dir.join(name);
    std::fs::write(&path, png).unwrap();
    println!("screenshot: {}", path.display());
    path
}

#[test]
fn the_desktop_in_chromium_shows_the_api_values_and_works_with_the_keyboard() {
    if std::env::var("TILANNEKUVA_SKIP_BROWSER").as_deref() == Ok("1") {
        eprintln!("TILANNEKUVA_SKIP_BROWSER=1: browser test skipped");
        return;
    }
    let chromium = PathBuf::from(
        std::env::var("TILANNEKUVA_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into()),
    );
    assert!(
        chromium.exists(),
        "Chromium not found at {}: run the tests with `scripts/test` (it installs Debian's chromium), point \
         TILANNEKUVA_CHROMIUM at it, or set TILANNEKUVA_SKIP_BROWSER=1 to skip this test",
        chromium.display()
    );

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (_dir, state) = rt.block_on(common::state());
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = rt.spawn(tilannekuva_desktop::serve(listener, state, async move {
        let _ = stopped.await;
    }));
    let base = format!("http://{addr}");

    // What the API says, formatted as the page formats it.
    let api: serde_json::Value = rt.block_on(async {
        let r = common::client_builder()
            .build()
            .unwrap()
            .get(format!("{base}/api/v1/tiles?grain=quarter"))
            .bearer_auth(ADMIN)
            .send()
            .await
            .unwrap();
        serde_json::from_str(&r.text().await.unwrap()).unwrap()
    });
    let expected: BTreeMap<String, String> = api["tiles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            let value = t["figure"]["value"].as_f64();
            let decimals = t["decimals"].as_u64().unwrap() as u32;
            (
                t["id"].as_str().unwrap().to_string(),
                common::fi_value(value, decimals, t["unit"].as_str().unwrap()),
            )
        })
        .collect();
    assert_eq!(expected.len(), 6);

    let profile = tempfile::tempdir().unwrap();
    let args: Vec<&OsStr> = [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--lang=fi-FI",
    ]
    .iter()
    .map(OsStr::new)
    .collect();
    let options = LaunchOptions::default_builder()
        .path(Some(chromium))
        .headless(true)
        .sandbox(false)
        .enable_gpu(false)
        .user_data_dir(Some(profile.path().to_path_buf()))
        .window_size(Some((1440, 1100)))
        .idle_browser_timeout(Duration::from_secs(120))
        .args(args)
        .build()
        .unwrap();
    let browser = Browser::new(options).expect("Chromium starts");
    let tab = browser.new_tab().unwrap();
    tab.set_default_timeout(Duration::from_secs(20));

    // Unsigned: the page sends us to the sign-in form.
    tab.navigate_to(&format!("{base}/"))
        .unwrap()
        .wait_until_navigated()
        .unwrap();
    assert!(tab.get_url().ends_with("/login"), "{}", tab.get_url());
    sign_in(&tab, ADMIN);
    assert_eq!(eval_string(&tab, "document.documentElement.lang"), "fi");

    // A director's first screen at 1366×768: every tile in the scorecard and the priority ×
    // perspective grid beside it, with room for every tile the product ships.
    tab.set_bounds(headless_chrome::types::Bounds::Normal {
        left: None,
        top: None,
        width: Some(1366.0),
        height: Some(768.0),
    })
    .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let layout: serde_json::Value = serde_json::from_str(&eval_string(
        &tab,
        "JSON.stringify({w: innerWidth, h: innerHeight, \
         rows: [...document.querySelectorAll('#scorecard tbody.kpis tr')].map(r => { const b = r.getBoundingClientRect(); return {top: b.top, bottom: b.bottom, right: b.right, id: r.dataset.id}; }), \
         goals: [...document.querySelectorAll('#scorecard tbody.goals tr')].map(r => { const b = r.getBoundingClientRect(); return {top: b.top, bottom: b.bottom, right: b.right, id: r.dataset.goal, value: r.querySelector('.num').textContent}; }), \
         matrix: (() => { const b = document.querySelector('#matrix table').getBoundingClientRect(); return {top: b.top, left: b.left, right: b.right, bottom: b.bottom}; })(), \
         dots: document.querySelectorAll('#matrix .dot').length})",
    ))
    .unwrap();
    let (w, h) = (layout["w"].as_f64().unwrap(), layout["h"].as_f64().unwrap());
    assert!(w <= 1366.0 && h <= 768.0, "{layout}");
    let rows = layout["rows"].as_array().unwrap();
    assert_eq!(rows.len(), expected.len(), "{layout}");
    // The binding goals of the year shown come first, each with its progress, on screen.
    let goals = layout["goals"].as_array().unwrap();
    let ids: Vec<&str> = goals.iter().map(|g| g["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["SV1", "SV2", "SV3", "SV4", "SV5"], "{layout}");
    let sv1 = 100.0 * common::progressing(7, 0) as f64 / common::KEY_RESULTS_PER_GOAL as f64;
    assert_eq!(goals[0]["value"], common::fi_value(Some(sv1), 1, "%"));
    assert!(
        goals.iter().all(|g| g["bottom"].as_f64().unwrap()
            <= rows[0]["top"].as_f64().unwrap() + 1.0
            && g["right"].as_f64().unwrap() <= w),
        "the goals stand above the KPIs: {layout}"
    );
    let shipped = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../sql"))
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "toml")
        })
        .count();
    let row_height = rows[1]["top"].as_f64().unwrap() - rows[0]["top"].as_f64().unwrap();
    let last_bottom = rows.last().unwrap()["bottom"].as_f64().unwrap();
    let room = last_bottom + row_height * (shipped - rows.len()) as f64;
    assert!(
        room <= h,
        "{shipped} tiles need {room} px of a {h} px screen: {layout}"
    );
    assert!(
        rows.iter().all(|r| r["right"].as_f64().unwrap() <= w),
        "{layout}"
    );
    let m = &layout["matrix"];
    let first_row = &goals[0];
    assert!(
        m["right"].as_f64().unwrap() <= w
            && m["bottom"].as_f64().unwrap() <= h
            && m["left"].as_f64().unwrap() > first_row["right"].as_f64().unwrap() - 1.0
            && m["top"].as_f64().unwrap() < rows[0]["bottom"].as_f64().unwrap(),
        "the grid stands beside the scorecard: {layout}"
    );
    assert_eq!(
        layout["dots"].as_u64().unwrap() as usize,
        expected.len(),
        "a symbol per tile"
    );
    screenshot(&tab, &shots_dir(), "overview-1366x768.png");
    tab.set_bounds(headless_chrome::types::Bounds::Normal {
        left: None,
        top: None,
        width: Some(1440.0),
        height: Some(1100.0),
    })
    .unwrap();
    std::thread::sleep(Duration::from_millis(300));

    // The values shown are the API's.
    let shown: BTreeMap<String, String> = serde_json::from_str(&eval_string(
        &tab,
        "JSON.stringify(Object.fromEntries([...document.querySelectorAll('#grid .tile')]\
         .map(b => [b.dataset.id, b.querySelector('.tile-value').textContent])))",
    ))
    .unwrap();
    assert_eq!(shown, expected);
    // Status is told in text too, not by colour alone.
    let badge = eval_string(
        &tab,
        "document.querySelector('.tile[data-id=nps] .badge').textContent",
    );
    assert!(badge.contains("Osittain tavoitteessa"), "{badge}");
    // "Latest" in the period picker names the periods the tiles show, not the newest begun.
    let mut displayed: Vec<String> = api["tiles"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|t| t["figure"]["period"].as_str().map(str::to_string))
        .collect();
    displayed.sort();
    displayed.dedup();
    displayed.reverse();
    let latest = eval_string(&tab, "document.querySelector('#period option').textContent");
    assert_eq!(latest, format!("Viimeisin ({})", displayed.join(", ")));

    let shots = shots_dir();
    screenshot(&tab, &shots, "desktop.png");

    // Keyboard: Tab and the arrow keys move between tiles.
    let order: Vec<String> = serde_json::from_str(&eval_string(
        &tab,
        "JSON.stringify([...document.querySelectorAll('#grid .tile')].map(b => b.dataset.id))",
    ))
    .unwrap();
    let active = "document.activeElement && document.activeElement.dataset.id || ''";
    tab.evaluate("document.querySelector('#grid .tile').focus()", false)
        .unwrap();
    assert_eq!(eval_string(&tab, active), order[0]);
    tab.press_key("ArrowRight").unwrap();
    assert_eq!(eval_string(&tab, active), order[1]);
    tab.press_key("ArrowLeft").unwrap();
    assert_eq!(eval_string(&tab, active), order[0]);
    tab.press_key("Tab").unwrap();
    assert_eq!(eval_string(&tab, active), order[1]);
    tab.press_key("ArrowDown").unwrap();
    let below = eval_string(&tab, active);
    assert_ne!(below, order[1], "ArrowDown moves to the next priority row");
    tab.press_key("ArrowUp").unwrap();
    tab.press_key("Home").unwrap();
    assert_eq!(eval_string(&tab, active), order[0]);
    // nps is the second tile of the first row.
    tab.press_key("ArrowRight").unwrap();
    assert_eq!(eval_string(&tab, active), "nps");

    // Enter opens the drill-down with the breakdown and the definition.
    tab.press_key("Enter").unwrap();
    wait_for(
        &tab,
        "document.querySelector('#detail').open && !!document.querySelector('#detail-body table')",
        "the drill-down",
    );
    assert_eq!(
        eval_string(&tab, "document.querySelector('#detail-title').textContent"),
        "Asiakaskokemus (NPS)"
    );
    let body = eval_string(&tab, "document.querySelector('#detail-body').innerText");
    for needle in [
        "Erittely",
        "Chat",
        "Määritelmä",
        "Palvelujohtaja",
        "contact_centre",
        "soitot_2025-12.csv",
    ] {
        assert!(
            body.contains(needle),
            "the drill-down lacks {needle}: {body}"
        );
    }
    // A breakdown member's note stands beside it, in the language it is written in.
    assert_eq!(
        eval_string(
            &tab,
            "[...document.querySelectorAll('#detail-body td .cell-note')]\
             .map(n => n.parentNode.firstChild.textContent + ' | ' + n.lang + ' | ' + n.textContent).join('\\n')"
        ),
        "Sähköinen asiointi | en | Verkkoasiointi (SA01) continues as Sähköinen asiointi (SA02) from 1.10.2025"
    );
    // Charts: the series with its target line, the breakdown as bars, each an image whose
    // text alternative lists the values.
    let charts: Vec<String> = serde_json::from_str(&eval_string(
        &tab,
        "JSON.stringify([...document.querySelectorAll('#detail-body svg.chart[role=img]')]\
         .map(s => s.getAttribute('aria-label')))",
    ))
    .unwrap();
    assert_eq!(charts.len(), 2, "{charts:?}");
    assert!(
        charts[0].starts_with("Erittely: ") && charts[0].contains("Chat: 47,5"),
        "{charts:?}"
    );
    assert!(
        charts[1].starts_with("Aikasarja: ")
            && charts[1].contains("2025-Q4 47,5")
            && charts[1].contains("Tavoite 60,0"),
        "{charts:?}"
    );
    assert_eq!(
        eval_string(
            &tab,
            "String(document.querySelectorAll('#detail-body svg.chart .target').length)"
        ),
        "1",
        "the target line"
    );
    screenshot(&tab, &shots, "drilldown.png");
    tab.press_key("Escape").unwrap();
    wait_for(
        &tab,
        "!document.querySelector('#detail').open",
        "the dialog to close",
    );
    assert_eq!(
        eval_string(&tab, active),
        "nps",
        "focus returns to the tile"
    );

    // English.
    tab.evaluate(
        "document.querySelector('.lang button[data-lang=en]').click()",
        false,
    )
    .unwrap();
    assert_eq!(eval_string(&tab, "document.documentElement.lang"), "en");
    let badge = eval_string(
        &tab,
        "document.querySelector('.tile[data-id=nps] .badge').textContent",
    );
    assert!(badge.contains("Partly on target"), "{badge}");
    screenshot(&tab, &shots, "desktop-en.png");

    // The owner signs in and writes the period's assessment in the drill-down's form; the
    // overview then shows its words.
    tab.evaluate(
        "document.querySelector('.lang button[data-lang=fi]').click()",
        false,
    )
    .unwrap();
    tab.evaluate(
        "document.querySelector('form[action=\"/logout\"] button').click()",
        false,
    )
    .unwrap();
    tab.wait_until_navigated().unwrap();
    wait_for(&tab, "location.pathname === '/login'", "the sign-in form");
    sign_in(&tab, common::OWNER);
    tab.evaluate(
        "document.querySelector('#grid .tile[data-id=nps]').click()",
        false,
    )
    .unwrap();
    wait_for(
        &tab,
        "!!document.querySelector('#checkin-text')",
        "the check-in form",
    );
    tab.evaluate(
        "document.querySelector('#checkin-rating').value = 'attention'",
        false,
    )
    .unwrap();
    let words = "Vastaajia oli vähän: kysely lähti vain tekstiviestinä.";
    let excerpt = write_assessment(&tab, words, "checkin.png", "tr[data-id=nps]");
    assert_eq!(excerpt, format!("Huomioitavaa: {words}"));

    // The owner of a binding goal opens it from the overview, sees its key results' progress
    // and writes the quarter's assessment; the goal's row shows the words.
    tab.evaluate(
        "document.querySelector('#scorecard tr[data-goal=SV2] button').click()",
        false,
    )
    .unwrap();
    wait_for(
        &tab,
        "document.querySelector('#detail').dataset.goal === 'SV2' && !!document.querySelector('#checkin-text')",
        "the goal's drill-down with the check-in form",
    );
    let summary = eval_string(
        &tab,
        "document.querySelector('#detail-body .summary').textContent",
    );
    let progressing = common::progressing(7, 1);
    assert!(
        summary.contains(&format!("{progressing}/42 avaintulosta etenee")),
        "{summary}"
    );
    assert!(
        eval_string(
            &tab,
            "document.querySelector('#detail-body svg.chart').getAttribute('aria-label')"
        )
        .contains("2025-Q1"),
        "the progress chart has a text alternative"
    );
    let goal_words = "Yhteisasiakkuuksien tunnistaminen etenee; CRM tulee keväällä.";
    let excerpt = write_assessment(&tab, goal_words, "goal-checkin.png", "tr[data-goal=SV2]");
    assert_eq!(excerpt, format!("Etenee: {goal_words}"));

    drop(tab);
    drop(browser);
    stop.send(()).unwrap();
    rt.block_on(server).unwrap().unwrap();
}
