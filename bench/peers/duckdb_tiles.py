"""DuckDB peer of the tiles benchmark: the contact, chat and feedback tiles of sql/*.sql written
for DuckDB, run for every grain (month, quarter, year) over the same curated Parquet files the
pipeline's manifest lists. `fi_period` is the Helsinki calendar period of a UTC instant, as in
tiles/src/udf.rs; `fi_deadline(t, 1)` comes from a table of deadlines the harness writes from
the same Finnish working-day calendar.

usage: duckdb_tiles.py SPEC_JSON
spec: {"tables": {name: [parquet files]}, "deadlines_csv": path, "threads": n, "runs": n,
       "values_out": path}
"""

import json
import sys

import duckdb

from common import Timer, emit

PERIOD = {
    "month": "strftime(timezone('Europe/Helsinki', t), '%Y-%m')",
    "quarter": "strftime(timezone('Europe/Helsinki', t), '%Y') || '-Q' || "
               "CAST(quarter(timezone('Europe/Helsinki', t)) AS VARCHAR)",
    "year": "strftime(timezone('Europe/Helsinki', t), '%Y')",
}

TILES = {
    "callback_share": """
WITH first_line AS (
    SELECT fi_period(received_at) AS period, service, sector,
           CASE WHEN callback_requested THEN 1 ELSE 0 END AS callback
    FROM contacts WHERE first_line
)
SELECT period,
       CASE WHEN GROUPING(service) = 0 THEN 'service' WHEN GROUPING(sector) = 0 THEN 'sector' END AS dimension,
       CASE WHEN GROUPING(service) = 0 THEN service WHEN GROUPING(sector) = 0 THEN sector END AS member,
       100.0 * SUM(callback) / COUNT(*) AS value, SUM(callback) AS numerator,
       COUNT(*) AS denominator, COUNT(*) AS n
FROM first_line GROUP BY GROUPING SETS ((period), (period, service), (period, sector))
""",
    "callback_delay": """
WITH done AS (
    SELECT fi_period(received_at) AS period, service, sector,
           (epoch_us(callback_reached_at) - epoch_us(callback_requested_at)) / 3600000000.0 AS hours
    FROM contacts
    WHERE callback_requested AND callback_requested_at IS NOT NULL
      AND callback_reached_at IS NOT NULL
)
SELECT period,
       CASE WHEN GROUPING(service) = 0 THEN 'service' WHEN GROUPING(sector) = 0 THEN 'sector' END AS dimension,
       CASE WHEN GROUPING(service) = 0 THEN service WHEN GROUPING(sector) = 0 THEN sector END AS member,
       MEDIAN(hours) AS value, COUNT(*) AS n
FROM done GROUP BY GROUPING SETS ((period), (period, service), (period, sector))
""",
    "callbacks_within_promise": """
WITH through AS (SELECT MAX(received_at) AS data_through FROM contacts),
due AS (
    SELECT fi_period(c.received_at) AS period, c.service, c.sector,
           CASE WHEN c.callback_reached_at IS NOT NULL AND c.callback_reached_at < d.deadline
                THEN 1 ELSE 0 END AS kept
    FROM contacts c
    CROSS JOIN through
    JOIN deadlines d ON d.day = CAST(timezone('Europe/Helsinki', c.callback_requested_at) AS DATE)
    WHERE c.callback_requested AND c.callback_requested_at IS NOT NULL
      AND d.deadline <= through.data_through
)
SELECT period,
       CASE WHEN GROUPING(service) = 0 THEN 'service' WHEN GROUPING(sector) = 0 THEN 'sector' END AS dimension,
       CASE WHEN GROUPING(service) = 0 THEN service WHEN GROUPING(sector) = 0 THEN sector END AS member,
       100.0 * SUM(kept) / COUNT(*) AS value, SUM(kept) AS numerator,
       COUNT(*) AS denominator, COUNT(*) AS n
FROM due GROUP BY GROUPING SETS ((period), (period, service), (period, sector))
""",
    "chat_abandonment": """
WITH requests AS (
    SELECT fi_period(requested_at) AS period, queue, service, sector,
           CASE WHEN COALESCE(dropped, accepted_at IS NULL) THEN 1 ELSE 0 END AS dropped
    FROM chats
)
SELECT period,
       CASE WHEN GROUPING(queue) = 0 THEN 'queue' WHEN GROUPING(service) = 0 THEN 'service' WHEN GROUPING(sector) = 0 THEN 'sector' END AS dimension,
       CASE WHEN GROUPING(queue) = 0 THEN queue WHEN GROUPING(service) = 0 THEN service WHEN GROUPING(sector) = 0 THEN sector END AS member,
       100.0 * SUM(dropped) / COUNT(*) AS value, SUM(dropped) AS numerator,
       COUNT(*) AS denominator, COUNT(*) AS n
FROM requests GROUP BY GROUPING SETS ((period), (period, queue), (period, service), (period, sector))
""",
    "chat_response_delay": """
WITH accepted AS (
    SELECT fi_period(requested_at) AS period, queue, service, sector,
           (epoch_us(accepted_at) - epoch_us(requested_at)) / 60000000.0 AS minutes
    FROM chats WHERE accepted_at IS NOT NULL
)
SELECT period,
       CASE WHEN GROUPING(queue) = 0 THEN 'queue' WHEN GROUPING(service) = 0 THEN 'service' WHEN GROUPING(sector) = 0 THEN 'sector' END AS dimension,
       CASE WHEN GROUPING(queue) = 0 THEN queue WHEN GROUPING(service) = 0 THEN service WHEN GROUPING(sector) = 0 THEN sector END AS member,
       AVG(minutes) AS value, SUM(minutes) AS numerator, COUNT(*) AS denominator, COUNT(*) AS n
FROM accepted GROUP BY GROUPING SETS ((period), (period, queue), (period, service), (period, sector))
""",
    "nurse_chat_resolution": """
SELECT fi_period(requested_at) AS period, NULL::VARCHAR AS dimension, NULL::VARCHAR AS member,
       100.0 * SUM(CASE WHEN COALESCE(resolved, false) THEN 1 ELSE 0 END) / COUNT(*) AS value,
       SUM(CASE WHEN COALESCE(resolved, false) THEN 1 ELSE 0 END) AS numerator,
       COUNT(*) AS denominator, COUNT(*) AS n
FROM chats WHERE nurse_chat AND accepted_at IS NOT NULL
GROUP BY fi_period(requested_at)
""",
    "nps": """
WITH responses AS (
    SELECT fi_period(answered_at) AS period, unit, service, sector, channel,
           CASE WHEN score >= 9 THEN 1 WHEN score <= 6 THEN -1 ELSE 0 END AS vote
    FROM feedback
)
SELECT period,
       CASE WHEN GROUPING(unit) = 0 THEN 'unit' WHEN GROUPING(service) = 0 THEN 'service' WHEN GROUPING(sector) = 0 THEN 'sector' WHEN GROUPING(channel) = 0 THEN 'channel' END AS dimension,
       CASE WHEN GROUPING(unit) = 0 THEN unit WHEN GROUPING(service) = 0 THEN service WHEN GROUPING(sector) = 0 THEN sector WHEN GROUPING(channel) = 0 THEN channel END AS member,
       ROUND(100.0 * SUM(vote) / COUNT(*), 1) AS value, COUNT(*) AS n
FROM responses GROUP BY GROUPING SETS ((period), (period, unit), (period, service), (period, sector), (period, channel))
""",
}


def main():
    spec = json.load(open(sys.argv[1]))
    con = duckdb.connect()
    con.execute(f"SET threads = {spec['threads']}")
    con.execute("SET TimeZone = 'UTC'")
    for name, files in spec["tables"].items():
        listed = ", ".join("'" + f.replace("'", "''") + "'" for f in files)
        con.execute(f"CREATE VIEW {name} AS SELECT * FROM read_parquet([{listed}])")
    con.execute(
        "CREATE TABLE deadlines AS SELECT CAST(day AS DATE) AS day, "
        "CAST(deadline AS TIMESTAMPTZ) AS deadline "
        f"FROM read_csv('{spec['deadlines_csv']}', header = true, all_varchar = true)")
    tiles = spec.get("tiles") or list(TILES)
    seconds, values = [], {}
    for _ in range(spec["runs"]):
        values = {}
        with Timer() as t:
            for grain, period in PERIOD.items():
                con.execute(f"CREATE OR REPLACE MACRO fi_period(t) AS {period}")
                for tile in tiles:
                    rows = con.execute(TILES[tile]).fetchall()
                    values.setdefault(tile, {})[grain] = {
                        r[0]: [r[3], r[-1]] for r in rows if r[1] is None and r[0] is not None}
        seconds.append(t.seconds)
    with open(spec["values_out"], "w") as f:
        json.dump(values, f)
    emit({"engine": "duckdb", "version": duckdb.__version__, "seconds": seconds,
          "tiles": tiles})


if __name__ == "__main__":
    main()
