//! The warehouse and the tiles over the PostgreSQL protocol, with the clients analysts use:
//! Debian's `psql` (its `\dt` and `\d` catalogue queries included) and Python's `psycopg`
//! (the extended protocol with parameters), against `tilannekuva serve --sql-bind` on a demo
//! warehouse. Figures are compared with `tiles --format json`; a sector-limited token sees
//! only its sectors; writes, DDL and `COPY` are refused; the row limit and the statement
//! timeout fail the statement, saying which limit.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::common::{CopiedProject, Served, figure, test_python};

const OPERATOR: &str = "operator-token-for-the-sql-wire-test";
const RESCUE: &str = "rescue-sector-token-for-the-sql-wire-test";
const MAX_ROWS: u64 = 2000;

/// What the rescue sector's token may read: its two tiles' tables and the shared ones.
const RESCUE_SECTOR_TABLES: [&str; 5] = [
    "rescue_tasks",
    "ems_tasks",
    "tiles",
    "tile_cells",
    "quarantine",
];

/// The table names `\dt` lists (unaligned output: `schema|name|type|owner`).
fn dt_names(listed: &str) -> Vec<&str> {
    listed.lines().filter_map(|l| l.split('|').nth(1)).collect()
}

/// In the shape of what Npgsql (the driver inside Power BI and Excel's PostgreSQL
/// connector) asks at connect, before anything else: every type with its namespace, array
/// element and range subtype, arrays told apart by their receive function in `pg_proc`.
const NPGSQL_TYPES: &str = "SELECT ns.nspname, a.typname, a.oid, a.typbasetype,
  CASE WHEN pg_proc.proname = 'array_recv' THEN 'a' ELSE a.typtype END AS typtype,
  CASE WHEN pg_proc.proname = 'array_recv' THEN a.typelem
       WHEN a.typtype = 'r' THEN rngsubtype ELSE 0 END AS typelem,
  CASE WHEN pg_proc.proname IN ('array_recv', 'oidvectorrecv') THEN 3
       WHEN a.typtype = 'r' THEN 2 WHEN a.typtype = 'd' THEN 1 ELSE 0 END AS ord
FROM pg_type AS a
JOIN pg_namespace AS ns ON (ns.oid = a.typnamespace)
JOIN pg_proc ON pg_proc.oid = a.typreceive
LEFT OUTER JOIN pg_class AS cls ON (cls.oid = a.typrelid)
LEFT OUTER JOIN pg_type AS b ON (b.oid = a.typelem)
LEFT OUTER JOIN pg_class AS elemcls ON (elemcls.oid = b.typrelid)
LEFT OUTER JOIN pg_range ON (pg_range.rngtypid = a.oid)
WHERE a.typtype IN ('b', 'r', 'e', 'd')
   OR (a.typtype = 'c' AND cls.relkind = 'c')
   OR (pg_proc.proname = 'array_recv' AND (b.typtype IN ('b', 'r', 'e', 'd')
       OR (b.typtype = 'p' AND b.typname IN ('record', 'void'))
       OR (b.typtype = 'c' AND elemcls.relkind = 'c')))
   OR (a.typtype = 'p' AND a.typname IN ('record', 'void'))
ORDER BY ord";

/// The same for the fields of free-standing composite types and the labels of enums.
const NPGSQL_COMPOSITES: &str = "SELECT typ.oid, att.attname, att.atttypid
FROM pg_type AS typ
JOIN pg_namespace AS ns ON (ns.oid = typ.typnamespace)
JOIN pg_class AS cls ON (cls.oid = typ.typrelid)
JOIN pg_attribute AS att ON (att.attrelid = typ.typrelid)
WHERE (typ.typtype = 'c' AND cls.relkind = 'c') AND attnum > 0 AND NOT attisdropped
ORDER BY typ.oid, att.attnum";
const NPGSQL_ENUMS: &str = "SELECT pg_type.oid, enumlabel FROM pg_enum
JOIN pg_type ON pg_type.oid = enumtypid ORDER BY oid, enumsortorder";

struct Server {
    // Dropped first: the server stops before its project's folder goes.
    _served: Served,
    project: CopiedProject,
    port: u16,
}

fn start() -> Server {
    let mut project = CopiedProject::new();
    project.warehouse = project.dir.path().join("warehouse");
    project.inputs = project.dir.path().join("incoming");
    let dir = project.dir.path().to_str().unwrap().to_string();
    project.run(&["demo", "--no-serve", "--dir", &dir, "--scale", "0.1"]);
    // A certificate for 127.0.0.1 from a test CA (trustme).
    let tls = project.dir.path().join("tls");
    std::fs::create_dir_all(&tls).unwrap();
    let made = Command::new(test_python())
        .args([
            "-c",
            "import sys, trustme; ca = trustme.CA(); c = ca.issue_cert('127.0.0.1'); \
             ca.cert_pem.write_to_path(sys.argv[1] + '/ca.pem'); \
             c.private_key_pem.write_to_path(sys.argv[1] + '/key.pem'); \
             c.cert_chain_pems[0].write_to_path(sys.argv[1] + '/cert.pem')",
        ])
        .arg(&tls)
        .status()
        .unwrap();
    assert!(made.success());
    project.edit(
        "tilannekuva.toml",
        "max_rows = 5000000",
        &format!(
            "max_rows = {MAX_ROWS}\ntls_cert_file = \"{}\"\ntls_key_file = \"{}\"",
            tls.join("cert.pem").display(),
            tls.join("key.pem").display()
        ),
    );
    let config = std::fs::read_to_string(&project.config).unwrap();
    let token = |name: &str, token: &str, sectors: &str| {
        format!(
            "\n[[desktop.tokens]]\nname = \"{name}\"\nsha256 = \"{}\"\nsectors = [{sectors}]\n",
            tilannekuva_desktop::TokenConfig::hash(token)
        )
    };
    std::fs::write(
        &project.config,
        format!(
            "{config}{}{}",
            token("operator", OPERATOR, ""),
            token("pelastuksen johtoryhmä", RESCUE, "\"pelastus\""),
        ),
    )
    .unwrap();
    let served = project.serve(&["--bind", "127.0.0.1:0", "--sql-bind", "127.0.0.1:0"], &[]);
    let port = served
        .wait_for("PostgreSQL protocol on ")
        .split("PostgreSQL protocol on ")
        .nth(1)
        .and_then(|rest| {
            rest.split_whitespace()
                .next()?
                .rsplit(':')
                .next()?
                .parse()
                .ok()
        })
        .expect("a port");
    Server {
        _served: served,
        project,
        port,
    }
}

/// `psql -c` output (unaligned, tuples only) and whether it succeeded.
fn psql(server: &Server, password: &str, command: &str) -> (bool, String) {
    let out = Command::new("psql")
        .args(["-h", "127.0.0.1", "-p", &server.port.to_string()])
        .args([
            "-U",
            "analyst",
            "-d",
            "tilannekuva",
            "-X",
            "-A",
            "-t",
            "-F",
            "|",
        ])
        .args(["-v", "ON_ERROR_STOP=1", "-c", command])
        .env("PGPASSWORD", password)
        .env("PGCONNECT_TIMEOUT", "10")
        // TLS, with the server's certificate checked against the test CA.
        .env("PGSSLMODE", "verify-full")
        .env(
            "PGSSLROOTCERT",
            server.project.dir.path().join("tls/ca.pem"),
        )
        .output()
        .expect("psql runs (Debian's postgresql-client; scripts/test installs it)");
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

fn psql_ok(server: &Server, password: &str, command: &str) -> String {
    let (ok, out) = psql(server, password, command);
    assert!(ok, "{command}: {out}");
    out.trim().to_string()
}

/// Runs `statements` with psycopg; the first entry is the connection's server version.
fn psycopg(port: u16, password: &str, statements: Value) -> Vec<Value> {
    let mut child = Command::new(test_python())
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/it/fixtures/pg_client.py"
        ))
        .args([&port.to_string(), password])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(statements.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Column `column` of the rows of answer `i`, as strings.
fn names_at(answers: &[Value], i: usize, column: usize) -> Vec<String> {
    answers[i]["rows"]
        .as_array()
        .unwrap_or_else(|| panic!("{:?}", answers[i]))
        .iter()
        .map(|r| r[column].as_str().unwrap_or_default().to_string())
        .collect()
}

fn parse_number(s: &str) -> f64 {
    s.trim()
        .parse()
        .unwrap_or_else(|_| panic!("not a number: {s:?}"))
}

#[test]
fn bi_clients_read_tiles_and_tables_read_only_within_their_sectors() {
    let server = start();
    let port = server.port;
    let tiles = server.project.tiles();
    let published = tiles["tiles"].as_array().unwrap();

    // psql: the server, the catalogue and the tiles.
    assert!(psql_ok(&server, OPERATOR, "SELECT version()").starts_with("PostgreSQL 16"));
    let listed = psql_ok(&server, OPERATOR, "\\dt");
    for table in [
        "contacts",
        "rescue_tasks",
        "quarantine",
        "tiles",
        "tile_cells",
        "tile_sources",
    ] {
        assert!(
            dt_names(&listed).contains(&table),
            "\\dt lists {table}: {listed}"
        );
    }
    let described = psql_ok(&server, OPERATOR, "\\d tile_cells");
    assert!(
        described.contains("value") && described.contains("double precision"),
        "{described}"
    );
    assert_eq!(
        psql_ok(&server, OPERATOR, "SELECT count(*) FROM tiles"),
        published.len().to_string()
    );

    // The figures are the published ones, to the last digit.
    let rescue = published
        .iter()
        .find(|t| t["id"] == "rescue_response")
        .unwrap();
    let quarter = rescue["series"]["quarter"]
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .find(|f| f["value"].is_number())
        .unwrap()["period"]
        .as_str()
        .unwrap()
        .to_string();
    for tile in ["rescue_response", "callbacks_within_promise"] {
        let expected = figure(&tiles, tile, "quarter", &quarter)["value"].as_f64();
        let got = psql_ok(
            &server,
            OPERATOR,
            &format!(
                "SELECT value FROM tile_cells WHERE tile_id = '{tile}' AND grain = 'quarter' \
                 AND period = '{quarter}' AND dimension IS NULL"
            ),
        );
        assert_eq!(
            (!got.is_empty()).then(|| parse_number(&got)),
            expected,
            "{tile} {quarter}"
        );
    }

    // A curated table gives the same count as `tilannekuva sql`.
    let cli = server.project.sql("SELECT count(*) AS n FROM rescue_tasks");
    let n = cli[0]["n"].as_u64().unwrap();
    assert!(n > 0);
    assert_eq!(
        psql_ok(&server, RESCUE, "SELECT count(*) FROM rescue_tasks"),
        n.to_string()
    );

    // The rescue sector's token sees its two tiles, their tables and nothing else.
    let rescue_tiles: Vec<&str> = published
        .iter()
        .filter(|t| t["owner"]["sector"] == "pelastus")
        .map(|t| t["id"].as_str().unwrap())
        .collect();
    assert_eq!(rescue_tiles.len(), 2);
    let listed = psql_ok(&server, RESCUE, "\\dt");
    let names = dt_names(&listed);
    for table in RESCUE_SECTOR_TABLES {
        assert!(
            names.contains(&table),
            "the rescue sector's \\dt lists {table}: {listed}"
        );
    }
    for table in ["contacts", "chats", "feedback"] {
        assert!(
            !names.contains(&table),
            "the rescue sector's \\dt hides {table}: {listed}"
        );
    }
    let seen = psql_ok(
        &server,
        RESCUE,
        "SELECT tile_id FROM tiles ORDER BY tile_id",
    );
    let mut expected = rescue_tiles.clone();
    expected.sort();
    assert_eq!(seen.lines().collect::<Vec<_>>(), expected);
    assert_eq!(
        psql_ok(
            &server,
            RESCUE,
            "SELECT count(DISTINCT tile_id) FROM tile_cells WHERE tile_id NOT IN \
             ('rescue_response', 'ems_non_conveyance')"
        ),
        "0"
    );
    let (ok, out) = psql(&server, RESCUE, "SELECT count(*) FROM contacts");
    assert!(!ok && out.contains("contacts"), "{out}");
    let sources = psql_ok(&server, RESCUE, "SELECT DISTINCT source FROM tile_sources");
    assert!(
        sources
            .lines()
            .all(|s| s.starts_with("rescue") || s.starts_with("ems")),
        "{sources}"
    );
    let quarantined = psql_ok(&server, RESCUE, "SELECT DISTINCT source FROM quarantine");
    assert!(
        quarantined
            .lines()
            .all(|s| s.starts_with("rescue") || s.starts_with("ems")),
        "{quarantined}"
    );
    let all_quarantined = psql_ok(
        &server,
        OPERATOR,
        "SELECT count(DISTINCT source) FROM quarantine",
    );
    assert!(
        parse_number(&all_quarantined) > quarantined.lines().count() as f64,
        "the operator sees more sources' rejects: {all_quarantined} vs {quarantined}"
    );

    // Wrong password: refused at sign-in.
    let (ok, out) = psql(&server, "not-a-token", "SELECT 1");
    assert!(!ok && out.contains("authentication failed"), "{out}");

    // Read-only: no DDL, no writes, no COPY to a file.
    let copied = server.project.dir.path().join("copied.csv");
    for statement in [
        "CREATE TABLE mine AS SELECT 1 AS x".to_string(),
        "CREATE VIEW mine AS SELECT 1 AS x".to_string(),
        "INSERT INTO tiles SELECT * FROM tiles".to_string(),
        "DROP TABLE tiles".to_string(),
        format!("COPY tiles TO '{}'", copied.display()),
        format!(
            "CREATE EXTERNAL TABLE mine STORED AS PARQUET LOCATION '{}'",
            copied.display()
        ),
    ] {
        let (ok, out) = psql(&server, OPERATOR, &statement);
        assert!(!ok && out.contains("read-only"), "{statement}: {out}");
    }
    assert!(!copied.exists());
    assert_eq!(
        psql_ok(&server, OPERATOR, "SELECT count(*) FROM tiles"),
        published.len().to_string()
    );

    // Limits: past the row limit or the statement timeout a statement fails, saying which.
    let (ok, out) = psql(&server, OPERATOR, "SELECT * FROM calendar");
    assert!(
        !ok && out.contains("max_rows") && out.contains("2000"),
        "{out}"
    );
    assert_eq!(
        psql_ok(
            &server,
            OPERATOR,
            "SELECT count(*) FROM (SELECT * FROM calendar LIMIT 2000)"
        ),
        "2000"
    );
    let started = Instant::now();
    let (ok, out) = psql(
        &server,
        OPERATOR,
        "SET statement_timeout = 300; SELECT count(*) FROM calendar a, calendar b, calendar c \
         WHERE a.date < b.date AND b.date < c.date",
    );
    assert!(!ok && out.contains("statement timeout"), "{out}");
    assert!(started.elapsed() < Duration::from_secs(60));

    // psycopg: parameters over the extended protocol, the catalogue BI tools read.
    let answers = psycopg(
        port,
        RESCUE,
        json!([
            {"sql": "SELECT tile_id, value FROM tile_cells WHERE grain = %s AND period = %s \
                     AND dimension IS NULL ORDER BY tile_id",
             "params": ["quarter", quarter]},
            {"sql": "SELECT table_name FROM information_schema.tables \
                     WHERE table_schema = 'public' ORDER BY table_name", "params": null},
            {"sql": "SELECT c.relname FROM pg_catalog.pg_class c \
                     JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
                     WHERE n.nspname = 'public' AND c.relkind = 'r' ORDER BY 1", "params": null},
            {"sql": "SELECT typname FROM pg_catalog.pg_type WHERE typname = %s", "params": ["float8"]},
            {"sql": "SELECT count(*) FROM rescue_tasks WHERE urgent = %s", "params": [true]},
            {"sql": "INSERT INTO tiles SELECT * FROM tiles", "params": null},
            {"sql": "DISCARD ALL", "params": null},
            {"sql": NPGSQL_TYPES, "params": null},
            {"sql": NPGSQL_COMPOSITES, "params": null},
            {"sql": NPGSQL_ENUMS, "params": null},
        ]),
    );
    assert!(
        answers[0]["server_version"].as_u64().unwrap() >= 160000,
        "{answers:?}"
    );
    let rows = answers[1]["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 2, "{rows:?}");
    for row in rows {
        let tile = row[0].as_str().unwrap();
        assert_eq!(
            row[1].as_f64(),
            figure(&tiles, tile, "quarter", &quarter)["value"].as_f64(),
            "{tile}"
        );
    }
    let names = |i: usize| names_at(&answers, i, 0);
    let public = names(2);
    for table in RESCUE_SECTOR_TABLES {
        assert!(public.iter().any(|t| t == table), "{public:?}");
    }
    assert!(!public.iter().any(|t| t == "contacts"), "{public:?}");
    assert!(
        names(3).iter().any(|t| t == "rescue_tasks"),
        "{:?}",
        answers[3]
    );
    assert_eq!(names(4), ["float8"]);
    let urgent = server
        .project
        .sql("SELECT count(*) AS n FROM rescue_tasks WHERE urgent");
    assert_eq!(
        answers[5]["rows"][0][0].as_u64(),
        urgent[0]["n"].as_u64(),
        "{:?}",
        answers[5]
    );
    assert_eq!(answers[6]["error"]["sqlstate"], "25006", "{:?}", answers[6]);
    // Connection pools reset a connection with DISCARD ALL: taken, nothing to reset.
    assert!(answers[7]["error"].is_null(), "{:?}", answers[7]);
    // The types Npgsql would load, arrays among them.
    let types = names_at(&answers, 8, 1);
    for t in [
        "int8",
        "float8",
        "text",
        "date",
        "timestamptz",
        "bool",
        "_int4",
    ] {
        assert!(types.iter().any(|x| x == t), "{t} in {:?}", answers[8]);
    }
    let arrays = answers[8]["rows"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r[4] == "a")
        .count();
    assert!(
        arrays > 10,
        "array types told apart by array_recv: {arrays}"
    );
    assert!(answers[9]["error"].is_null(), "{:?}", answers[9]);
    assert!(answers[10]["error"].is_null(), "{:?}", answers[10]);
}
