"""Shared helpers of the peer scripts: the queue lookup, timing and the JSON result line."""

import json
import resource
import sys
import time
import tomllib

# The Parquet settings every engine writes with (warehouse/src/parquet_io.rs).
ZSTD_LEVEL = 3
ROW_GROUP_ROWS = 128 * 1024


def queues(path):
    """The queue lookup (config/lookups/queues.toml) as a list of dicts."""
    with open(path, "rb") as f:
        return tomllib.load(f)["rows"]


def peak_rss_bytes():
    """This process's peak RSS: VmHWM of its own address space. Not `ru_maxrss`: Linux
    carries the parent's peak into it across the exec that started this process, so a
    harness that generated a large data set would be counted in every peer."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def emit(result):
    """One JSON object on stdout: what the harness reads."""
    result["peak_rss_bytes"] = peak_rss_bytes()
    sys.stdout.write(json.dumps(result) + "\n")
    sys.stdout.flush()


class Timer:
    def __enter__(self):
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self.start
