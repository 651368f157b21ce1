"""Polars peer of the ingest benchmark: the same transformation as duckdb_ingest.py with the
streaming engine (scan_csv → sink_parquet), one file per reporting month.

usage: polars_ingest.py CSV OUT_DIR QUEUES_TOML THREADS
"""

import os
import shutil
import sys

from common import ROW_GROUP_ROWS, ZSTD_LEVEL, Timer, emit, queues


def main():
    csv, out, queues_toml, threads = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
    os.environ["POLARS_MAX_THREADS"] = threads
    import polars as pl

    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    name = os.path.basename(csv)
    lookup = pl.LazyFrame(queues(queues_toml)).select("queue", "service", "sector", "first_line")

    def local(col):
        # `d.m.yyyy H:mm`, seconds optional, as the pipeline's reader takes it.
        return pl.coalesce(
            pl.col(col).str.strptime(pl.Datetime("us"), "%d.%m.%Y %H:%M:%S", strict=False),
            pl.col(col).str.strptime(pl.Datetime("us"), "%d.%m.%Y %H:%M", strict=False),
        )

    def utc(col):
        return (local(col).dt.replace_time_zone("Europe/Helsinki", ambiguous="earliest",
                                                non_existent="null")
                .dt.convert_time_zone("UTC"))

    strings = {c: pl.String for c in ["Yhteys-ID", "Jono", "Saapumisaika", "Soittajan numero",
                                      "Tulos", "Takaisinsoitto pyydetty",
                                      "Takaisinsoitto tavoitettu", "Takaisinsoiton tila"]}
    schema = {**strings, "Jonotusaika (s)": pl.Float64, "Soittoyrityksiä": pl.Int64}
    outcome = {"Vastattu": "answered", "Takaisinsoitto": "callback", "Keskeytetty": "abandoned"}
    with Timer() as t:
        q = (
            pl.scan_csv(csv, separator=";", decimal_comma=True, schema_overrides=schema,
                        infer_schema=False, ignore_errors=True)
            .with_row_index("_line", offset=2)
            .join(lookup, left_on="Jono", right_on="queue", how="left", maintain_order="left")
            .select(
                pl.col("Yhteys-ID").alias("contact_id"),
                pl.col("Jono").alias("queue"),
                "service", "sector", "first_line",
                pl.lit("phone").alias("channel"),
                utc("Saapumisaika").alias("received_at"),
                pl.col("Jonotusaika (s)").alias("queue_seconds"),
                pl.col("Tulos").replace_strict(outcome, default=None).alias("outcome"),
                (pl.col("Tulos") == "Takaisinsoitto").alias("callback_requested"),
                utc("Takaisinsoitto pyydetty").alias("callback_requested_at"),
                utc("Takaisinsoitto tavoitettu").alias("callback_reached_at"),
                pl.col("Soittoyrityksiä").alias("callback_attempts"),
                pl.col("Takaisinsoiton tila").alias("callback_status"),
                local("Saapumisaika").dt.strftime("%Y-%m").alias("period"),
                pl.lit("callbacks_ace").alias("_source"),
                pl.lit(name).alias("_file_sha256"),
                pl.col("_line").cast(pl.Int64),
            )
            .filter(
                pl.col("contact_id").is_not_null() & pl.col("service").is_not_null()
                & pl.col("received_at").is_not_null() & pl.col("outcome").is_not_null()
                & (pl.col("queue_seconds").is_null() | (pl.col("queue_seconds") >= 0))
                & (pl.col("callback_attempts").is_null() | (pl.col("callback_attempts") >= 0))
                & (pl.col("callback_reached_at").is_null()
                   | pl.col("callback_requested_at").is_null()
                   | (pl.col("callback_reached_at") >= pl.col("callback_requested_at")))
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
