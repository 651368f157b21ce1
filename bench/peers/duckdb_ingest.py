"""DuckDB peer of the ingest benchmark: the Telia ACE export (`;`, decimal comma,
`d.m.yyyy H:mm` Helsinki wall-clock times, UTF-8 with BOM) to the `contacts` table as zstd
Parquet, one file per reporting month, with the pipeline's types, lookups, value maps, checks
and lineage columns. Rows the pipeline would quarantine are left out.

usage: duckdb_ingest.py CSV OUT_DIR QUEUES_TOML THREADS
"""

import os
import shutil
import sys

import duckdb

from common import ROW_GROUP_ROWS, ZSTD_LEVEL, Timer, emit, queues


def main():
    csv, out, queues_toml, threads = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    shutil.rmtree(out, ignore_errors=True)
    con = duckdb.connect()
    con.execute(f"SET threads = {threads}")
    con.execute("SET TimeZone = 'UTC'")
    rows = [(q["queue"], q["service"], q["sector"], q["first_line"]) for q in queues(queues_toml)]
    con.execute("CREATE TABLE queues (queue VARCHAR, service VARCHAR, sector VARCHAR, first_line BOOLEAN)")
    con.executemany("INSERT INTO queues VALUES (?, ?, ?, ?)", rows)
    name = os.path.basename(csv)
    local = "try_strptime({}, ['%d.%m.%Y %H:%M:%S', '%d.%m.%Y %H:%M'])"
    utc = "timezone('Europe/Helsinki', " + local + ")"
    sql = f"""
    COPY (
      WITH raw AS (
        SELECT *, row_number() OVER () + 1 AS _line
        FROM read_csv('{csv}', delim = ';', header = true, quote = '"', decimal_separator = ',',
          auto_detect = false,
          columns = {{
            'Yhteys-ID': 'VARCHAR', 'Jono': 'VARCHAR', 'Saapumisaika': 'VARCHAR',
            'Soittajan numero': 'VARCHAR', 'Jonotusaika (s)': 'DOUBLE', 'Tulos': 'VARCHAR',
            'Takaisinsoitto pyydetty': 'VARCHAR', 'Takaisinsoitto tavoitettu': 'VARCHAR',
            'Soittoyrityksiä': 'BIGINT', 'Takaisinsoiton tila': 'VARCHAR'}},
          ignore_errors = true)
      ),
      typed AS (
        SELECT
          r."Yhteys-ID" AS contact_id,
          r."Jono" AS queue,
          q.service, q.sector, q.first_line,
          'phone' AS channel,
          {utc.format('r."Saapumisaika"')} AS received_at,
          strftime({local.format('r."Saapumisaika"')}, '%Y-%m') AS period,
          r."Jonotusaika (s)" AS queue_seconds,
          CASE r."Tulos" WHEN 'Vastattu' THEN 'answered' WHEN 'Takaisinsoitto' THEN 'callback'
            WHEN 'Keskeytetty' THEN 'abandoned' END AS outcome,
          CASE r."Tulos" WHEN 'Vastattu' THEN false WHEN 'Takaisinsoitto' THEN true
            WHEN 'Keskeytetty' THEN false END AS callback_requested,
          {utc.format('r."Takaisinsoitto pyydetty"')} AS callback_requested_at,
          {utc.format('r."Takaisinsoitto tavoitettu"')} AS callback_reached_at,
          r."Soittoyrityksiä" AS callback_attempts,
          nullif(r."Takaisinsoiton tila", '') AS callback_status,
          r._line
        FROM raw r LEFT JOIN queues q ON q.queue = r."Jono"
      )
      SELECT contact_id, queue, service, sector, first_line, channel, received_at,
             queue_seconds, outcome, callback_requested, callback_requested_at,
             callback_reached_at, callback_attempts, callback_status, period,
             'callbacks_ace' AS _source, '{name}' AS _file_sha256, _line
      FROM typed
      WHERE contact_id IS NOT NULL AND service IS NOT NULL AND received_at IS NOT NULL
        AND outcome IS NOT NULL
        AND (queue_seconds IS NULL OR queue_seconds >= 0)
        AND (callback_attempts IS NULL OR callback_attempts >= 0)
        AND (callback_reached_at IS NULL OR callback_requested_at IS NULL
             OR callback_reached_at >= callback_requested_at)
    ) TO '{out}' (FORMAT parquet, COMPRESSION zstd, COMPRESSION_LEVEL {ZSTD_LEVEL},
                  ROW_GROUP_SIZE {ROW_GROUP_ROWS}, PARTITION_BY (period),
                  WRITE_PARTITION_COLUMNS true)
    """
    with Timer() as t:
        con.execute(sql)
    n = con.execute(f"SELECT count(*) FROM read_parquet('{out}/**/*.parquet')").fetchone()[0]
    size = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(out) for f in fs)
    emit({"engine": "duckdb", "version": duckdb.__version__, "seconds": t.seconds,
          "rows": n, "parquet_bytes": size})


if __name__ == "__main__":
    main()
