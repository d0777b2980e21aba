"""End-to-end pipeline benchmark on the demo workspace.

    python benchmarks/pipeline.py day        # 24 hourly runs + the daily digest, like `make demo`
    python benchmarks/pipeline.py backfill   # a 30-day single-run backfill of the hourly assets
    python benchmarks/pipeline.py all --repeat 3

Each measurement runs in a fresh subprocess (clean caches, honest peak memory) against a fresh
DuckDB file, and prints messages, wall time, messages/s and peak RSS, then min/median/max.
"""

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from datetime import UTC, datetime, timedelta

QUIET = {"loggers": {"console": {"config": {"log_level": "ERROR"}}}}
DAY = "2026-03-10"  # a Tuesday, fully in the past, so every late reply is visible
BACKFILL_START = datetime(2026, 2, 1, tzinfo=UTC)
BACKFILL_DAYS = 30


def _hours(start: datetime, count: int) -> list[str]:
    return [(start + timedelta(hours=i)).strftime("%Y-%m-%d-%H:%M") for i in range(count)]


def _run_one(mode: str, path: str) -> dict[str, float]:
    warnings.filterwarnings("ignore")
    import duckdb

    from digest_pipeline.definitions import build_defs
    from digest_pipeline.defs.pipeline.schedules import range_tags
    from digest_pipeline.settings import Settings

    defs = build_defs(Settings(duckdb_path=path))
    hourly = defs.resolve_job_def("hourly_digest_job")
    began = time.perf_counter()
    if mode == "day":
        for key in _hours(datetime.fromisoformat(DAY).replace(tzinfo=UTC), 24):
            hourly.execute_in_process(partition_key=key, run_config=QUIET, raise_on_error=True)
        defs.resolve_job_def("daily_digest_job").execute_in_process(
            partition_key=DAY, run_config=QUIET, raise_on_error=True
        )
    else:
        keys = _hours(BACKFILL_START, 24 * BACKFILL_DAYS)
        hourly.execute_in_process(
            tags=range_tags(keys[0], keys[-1]), run_config=QUIET, raise_on_error=True
        )
    wall = time.perf_counter() - began
    with duckdb.connect(path, read_only=True) as conn:
        # The file is bench.duckdb, so "digest" names only the schema here.
        messages = conn.execute("SELECT count(*) FROM digest.messages").fetchone()[0]
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "messages": messages,
        "wall_s": wall,
        "msg_per_s": messages / wall,
        "peak_mib": peak_mib,
    }


def _measure(mode: str) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        out = subprocess.run(
            [sys.executable, __file__, "_child", mode, os.path.join(tmp, "bench.duckdb")],
            check=True,
            capture_output=True,
            text=True,
        )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=["day", "backfill", "all", "_child"])
    parser.add_argument("child_args", nargs="*", help=argparse.SUPPRESS)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    if args.mode == "_child":
        child_mode, path = args.child_args
        print(json.dumps(_run_one(child_mode, path)))
        return 0
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    )
    for mode in ["day", "backfill"] if args.mode == "all" else [args.mode]:
        runs = [_measure(mode) for _ in range(args.repeat)]
        for run in runs:
            print(
                f"{mode:9} {run['messages']:>7} msgs  {run['wall_s']:7.1f}s  "
                f"{run['msg_per_s']:7.0f} msg/s  peak {run['peak_mib']:6.0f} MiB"
            )
        for key in ("wall_s", "msg_per_s", "peak_mib"):
            values = [r[key] for r in runs]
            print(
                f"{mode:9} {key:10} min {min(values):8.1f}  median "
                f"{statistics.median(values):8.1f}  max {max(values):8.1f}"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
