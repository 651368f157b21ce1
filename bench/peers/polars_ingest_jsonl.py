"""Polars peer of the JSON Lines ingest benchmark: the same mapping as
duckdb_ingest_jsonl.py with the streaming engine (scan_ndjson → sink_parquet), one file per
reporting month.

usage: polars_ingest_jsonl.py JSONL OUT_DIR QUEUES_TOML THREADS
"""

import os
import shutil
import sys

from common import ROW_GROUP_ROWS, ZSTD_LEVEL, Timer, emit, queues


def main():
    path, out, queues_toml, threads = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
    os.environ["POLARS_MAX_THREADS"] = threads
    import polars as pl

    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    name = os.path.basename(path)
    rows = [{"queue": q["queue"], "service": q["service"], "sector": q["sector"],
             "nurse_chat": q.get("nurse_chat"), "digital_sote": q.get("digital_sote")}
            for q in queues(queues_toml)]
    lookup = pl.LazyFrame(rows, schema={"queue": pl.String, "service": pl.String,
                                        "sector": pl.String, "nurse_chat": pl.Boolean,
                                        "digital_sote": pl.Boolean})
    schema = {
        "event": pl.String,
        "session": pl.Struct({"id": pl.String}),
        "queue": pl.Struct({"id": pl.String, "name": pl.String}),
        "audience": pl.Struct({"request_time": pl.Float64, "accept_time": pl.Float64,
                               "complete_time": pl.Float64, "drop_time": pl.Float64}),
        "tagging": pl.Struct({"tags": pl.List(pl.Struct({"name": pl.String}))}),
    }

    def instant(field):
        seconds = pl.col("audience").struct.field(field)
        return pl.from_epoch((seconds * 1e6).round().cast(pl.Int64), time_unit="us") \
            .dt.replace_time_zone("UTC").alias(field)

    tags = pl.col("tagging").struct.field("tags")
    with Timer() as t:
        q = (
            pl.scan_ndjson(path, schema=schema, ignore_errors=True)
            .with_row_index("_line", offset=1)
            .with_columns(pl.col("queue").struct.field("name").alias("queue_name"))
            .join(lookup, left_on="queue_name", right_on="queue", how="left",
                  maintain_order="left")
            .select(
                pl.col("session").struct.field("id").alias("session_id"),
                pl.col("queue_name").alias("queue"),
                "service", "sector", "nurse_chat", "digital_sote",
                pl.lit("chat").alias("channel"),
                instant("request_time").alias("requested_at"),
                instant("accept_time").alias("accepted_at"),
                instant("complete_time").alias("finished_at"),
                instant("drop_time").alias("dropped_at"),
                pl.when(pl.col("audience").struct.field("drop_time").is_not_null())
                .then(True).alias("dropped"),
                pl.when(tags.list.len() > 0)
                .then(tags.list.eval(pl.element().struct.field("name") == "ratkaistu").list.any())
                .alias("resolved"),
                instant("request_time").dt.convert_time_zone("Europe/Helsinki")
                .dt.strftime("%Y-%m").alias("period"),
                pl.lit("chat_webhooks").alias("_source"),
                pl.lit(name).alias("_file_sha256"),
                pl.col("_line").cast(pl.Int64),
            )
            .filter(
                pl.col("session_id").is_not_null() & pl.col("service").is_not_null()
                & pl.col("requested_at").is_not_null()
                & (pl.col("accepted_at").is_null()
                   | (pl.col("accepted_at") >= pl.col("requested_at")))
                & (pl.col("finished_at").is_null() | pl.col("accepted_at").is_null()
                   | (pl.col("finished_at") >= pl.col("accepted_at")))
            )
        )
        q.sink_parquet(pl.PartitionBy(out, key="period", include_key=True),
                       compression="zstd", compression_level=ZSTD_LEVEL,
                       row_group_size=ROW_GROUP_ROWS, mkdir=True)
    n = pl.scan_parquet(f"{out}/**/*.parquet").select(pl.len()).collect().item()
    size = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(out) for f in fs)
    emit({"engine": "polars", "version": pl.__version__, "seconds": t.seconds, "rows": n,
          "parquet_bytes": size})


if __name__ == "__main__":
    main()
