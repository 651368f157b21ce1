"""DuckDB peer of the JSON Lines ingest benchmark: a chat platform's webhook log (one event
per line, nested objects, epoch seconds, tags as an array of objects) to the `chats` table as
zstd Parquet, one file per reporting month, with the pipeline's mapping: the queue lookup,
UTC instants, `dropped` from a drop time, `resolved` from the tags, the two row checks and
the lineage columns. Rows the pipeline would quarantine are left out.

usage: duckdb_ingest_jsonl.py JSONL OUT_DIR QUEUES_TOML THREADS
"""

import os
import shutil
import sys

import duckdb

from common import ROW_GROUP_ROWS, ZSTD_LEVEL, Timer, emit, queues


def main():
    path, out, queues_toml, threads = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    shutil.rmtree(out, ignore_errors=True)
    con = duckdb.connect()
    con.execute(f"SET threads = {threads}")
    con.execute("SET TimeZone = 'UTC'")
    rows = [(q["queue"], q["service"], q["sector"], q.get("nurse_chat"), q.get("digital_sote"))
            for q in queues(queues_toml)]
    con.execute("CREATE TABLE queues (queue VARCHAR, service VARCHAR, sector VARCHAR, "
                "nurse_chat BOOLEAN, digital_sote BOOLEAN)")
    con.executemany("INSERT INTO queues VALUES (?, ?, ?, ?, ?)", rows)
    name = os.path.basename(path)
    sql = f"""
    COPY (
      WITH raw AS (
        SELECT *, row_number() OVER () AS _line
        FROM read_json('{path}', format = 'newline_delimited', ignore_errors = true,
          columns = {{
            'event': 'VARCHAR',
            'session': 'STRUCT(id VARCHAR)',
            'queue': 'STRUCT(id VARCHAR, name VARCHAR)',
            'audience': 'STRUCT(request_time DOUBLE, accept_time DOUBLE, complete_time DOUBLE, drop_time DOUBLE)',
            'tagging': 'STRUCT(tags STRUCT(name VARCHAR)[])'}})
      ),
      typed AS (
        SELECT
          r.session.id AS session_id,
          r.queue.name AS queue,
          q.service, q.sector, q.nurse_chat, q.digital_sote,
          'chat' AS channel,
          make_timestamp(CAST(round(r.audience.request_time * 1e6) AS BIGINT)) AS requested_at,
          make_timestamp(CAST(round(r.audience.accept_time * 1e6) AS BIGINT)) AS accepted_at,
          make_timestamp(CAST(round(r.audience.complete_time * 1e6) AS BIGINT)) AS finished_at,
          make_timestamp(CAST(round(r.audience.drop_time * 1e6) AS BIGINT)) AS dropped_at,
          CASE WHEN r.audience.drop_time IS NOT NULL THEN true END AS dropped,
          CASE WHEN len(r.tagging.tags) > 0
               THEN list_contains(list_transform(r.tagging.tags, lambda t: t.name), 'ratkaistu')
          END AS resolved,
          r._line
        FROM raw r LEFT JOIN queues q ON q.queue = r.queue.name
      )
      SELECT session_id, queue, service, sector, nurse_chat, digital_sote, channel,
             timezone('UTC', requested_at) AS requested_at,
             timezone('UTC', accepted_at) AS accepted_at,
             timezone('UTC', finished_at) AS finished_at,
             timezone('UTC', dropped_at) AS dropped_at,
             dropped, resolved,
             strftime(timezone('Europe/Helsinki', timezone('UTC', requested_at)), '%Y-%m') AS period,
             'chat_webhooks' AS _source, '{name}' AS _file_sha256, _line
      FROM typed
      WHERE session_id IS NOT NULL AND service IS NOT NULL AND requested_at IS NOT NULL
        AND (accepted_at IS NULL OR accepted_at >= requested_at)
        AND (finished_at IS NULL OR accepted_at IS NULL OR finished_at >= accepted_at)
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
