"""Warehouse benchmark: PostgreSQL against DuckDB through the I/O managers' own write path.

    python benchmarks/warehouse.py                    # 1M rows, 3 repeats, both backends
    python benchmarks/warehouse.py --rows 200000 --repeat 5 --backend postgres

For each backend and repeat, against a fresh DuckDB file / a fresh PostgreSQL database:

* ``load``          — 1M ``messages``-shaped rows (all 25 columns) written as one partition
                      window (a single-run backfill): create table, delete window, bulk insert;
* ``replace_hour``  — replace one hourly partition inside the loaded table (delete + insert,
                      one transaction) — what every hourly run does;
* ``replace_day``   — replace one day's 24 partitions in one run (a daily reconcile);
* ``read_hour``     — load one hourly partition back as a DataFrame (a downstream asset's input).

PostgreSQL: DIGEST_BENCH_DATABASE_URL, else the local server (postgres@127.0.0.1:5432);
a database ``digest_bench_<random>`` is created and dropped. Prints median and min-max per step,
and the machine's load average (absolute numbers on a shared machine are noisy).
"""

import argparse
import os
import secrets
import statistics
import tempfile
import time
import warnings
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlsplit

import dagster as dg
import numpy as np
import pandas as pd
import psycopg
from dagster._core.storage.db_io_manager import TablePartitionDimension, TableSlice

from digest_pipeline.defs.enrichment.assets import MESSAGES_SCHEMA
from digest_pipeline.defs.storage.backend import Backend
from digest_pipeline.defs.storage.duckdb import DuckDBBackend
from digest_pipeline.defs.storage.io_manager import PandasWarehouseHandler, WarehouseClient
from digest_pipeline.defs.storage.postgres import PostgresBackend

START = datetime(2026, 1, 1, tzinfo=UTC)
WORDS = (
    "shortage allocation MCU PMIC lead time supplier EOL notice yield excursion line down "
    "DVT PVT EVT build FCC CE certification fail retest launch slip customer escalation "
    "customs hold freight forwarder Rotterdam Shenzhen expedite PO forecast the a to of for "
    "and is on we need update please check today tomorrow week units"
).split()


def messages_frame(rows: int, hours: int, seed: int = 7) -> pd.DataFrame:
    """``rows`` synthetic messages spread evenly over ``hours`` hours from START."""
    rng = np.random.default_rng(seed)
    seconds = np.sort(rng.integers(0, hours * 3600, rows))
    stamps = pd.to_datetime(START) + pd.to_timedelta(seconds, unit="s")
    channels = rng.integers(0, 40, rows)
    words = np.array(WORDS, dtype=object)
    content = [" ".join(words[rng.integers(0, len(words), 18)]) for _ in range(min(rows, 5000))]
    ts = [f"{int(s.timestamp())}.{i % 1_000_000:06d}" for i, s in enumerate(stamps)]
    channel_ids = np.char.add("C", channels.astype(str).astype("<U8")).astype(object)
    is_reply = rng.random(rows) < 0.4
    frame = pd.DataFrame(
        {
            "id": [f"{c}:{t}" for c, t in zip(channel_ids, ts, strict=True)],
            "channel_id": channel_ids,
            "channel": np.char.add("channel-", channels.astype(str)).astype(object),
            "ts": ts,
            "thread_ts": ts,
            "user_id": np.char.add("U", rng.integers(0, 300, rows).astype(str)).astype(object),
            "user": "Dana Example",
            "content": [content[i % len(content)] for i in range(rows)],
            "timestamp": stamps,
            "message_type": np.where(is_reply, "reply", "message").astype(object),
            "urgency": rng.choice(["low", "medium", "high", "critical"], rows).astype(object),
            "category": rng.choice(["supply_chain", "logistics", "none"], rows).astype(object),
            "mentions": '["U12"]',
            "reactions": "[]",
            "sentiment_score": rng.uniform(-1, 1, rows),
            "priority_level": rng.integers(1, 6, rows),
            "permalink": "https://example.slack.com/archives/C1/p1",
            "is_bot": False,
            "is_reply": is_reply,
            "parent_id": None,
            "reply_count": 0,
            "edited": False,
            "subtype": None,
            "entities": '{"parts": ["MCU"], "suppliers": []}',
            "content_hash": "0" * 64,
        }
    )
    return frame[[c.name for c in MESSAGES_SCHEMA.columns]]


def _slice(start: datetime, end: datetime) -> TableSlice:
    return TableSlice(
        table="messages",
        schema="digest",
        database="bench",
        partition_dimensions=[
            TablePartitionDimension(
                partition_expr="timestamp", partitions=dg.TimeWindow(start, end)
            )
        ],
    )


def _context() -> Any:
    # What the client and type handler read from an OutputContext; the asset machinery around
    # them (events, metadata) is not what is measured here.
    return SimpleNamespace(
        definition_metadata={"dagster/column_schema": MESSAGES_SCHEMA},
        has_asset_partitions=True,
        asset_key=dg.AssetKey("messages"),
        asset_partition_keys=["bench"],
    )


def _write(backend: Backend, frame: pd.DataFrame, start, end) -> None:
    client, handler = WarehouseClient(backend), PandasWarehouseHandler()
    context, table_slice = _context(), _slice(start, end)
    with client.connect(context, table_slice) as conn:
        client.ensure_schema_exists(context, table_slice, conn)
        client.delete_table_slice(context, table_slice, conn)
        handler.handle_output(context, table_slice, frame, conn)


def _read(backend: Backend, start, end) -> pd.DataFrame:
    client, handler = WarehouseClient(backend), PandasWarehouseHandler()
    context, table_slice = _context(), _slice(start, end)
    with client.connect(context, table_slice) as conn:
        return handler.load_input(context, table_slice, conn)


def _timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    t0 = time.perf_counter()
    value = fn()
    return time.perf_counter() - t0, value


def run_once(backend: str, frame: pd.DataFrame, hours: int, server_url: str) -> dict[str, float]:
    end = START + timedelta(hours=hours)
    hour = (START + timedelta(hours=hours // 2), START + timedelta(hours=hours // 2 + 1))
    day = (START + timedelta(days=3), START + timedelta(days=4))
    in_hour = frame[(frame["timestamp"] >= hour[0]) & (frame["timestamp"] < hour[1])]
    in_day = frame[(frame["timestamp"] >= day[0]) & (frame["timestamp"] < day[1])]
    admin = None
    with tempfile.TemporaryDirectory() as tmp:
        if backend == "postgres":
            name = f"digest_bench_{secrets.token_hex(4)}"
            admin = psycopg.connect(server_url, autocommit=True)
            admin.execute(f'CREATE DATABASE "{name}"')
            store: Backend = PostgresBackend(
                urlsplit(server_url)._replace(path=f"/{name}").geturl()
            )
        else:
            store = DuckDBBackend(str(Path(tmp) / "digest.duckdb"))
        try:
            out = {
                "load": _timed(lambda: _write(store, frame, START, end))[0],
                "replace_hour": _timed(lambda: _write(store, in_hour, *hour))[0],
                "replace_day": _timed(lambda: _write(store, in_day, *day))[0],
            }
            seconds, read = _timed(lambda: _read(store, *hour))
            assert len(read) == len(in_hour), (len(read), len(in_hour))
            out["read_hour"] = seconds
        finally:
            if admin is not None:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                admin.close()
    out["rows_hour"], out["rows_day"] = len(in_hour), len(in_day)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=30, help="days the rows are spread over")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--backend", choices=["both", "duckdb", "postgres"], default="both")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    server_url = (
        os.environ.get("DIGEST_BENCH_DATABASE_URL")
        or "postgresql://postgres@127.0.0.1:5432/postgres"
    )
    hours = args.days * 24
    t_gen, frame = _timed(lambda: messages_frame(args.rows, hours))
    backends = ["duckdb", "postgres"] if args.backend == "both" else [args.backend]
    print(
        f"{args.rows:,} messages over {args.days} days (generated in {t_gen:.1f}s);"
        f" load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())};"
        f" {os.cpu_count()} CPUs"
    )
    results: dict[str, list[dict[str, float]]] = {b: [] for b in backends}
    for i in range(args.repeat):
        for backend in backends:  # interleaved, so load changes hit both alike
            results[backend].append(run_once(backend, frame, hours, server_url))
            r = results[backend][-1]
            print(
                f"  [{i + 1}/{args.repeat}] {backend:8} load {r['load']:.2f}s  replace_hour"
                f" {r['replace_hour'] * 1000:.0f}ms ({r['rows_hour']:.0f} rows)  replace_day"
                f" {r['replace_day']:.2f}s ({r['rows_day']:.0f} rows)  read_hour"
                f" {r['read_hour'] * 1000:.0f}ms",
                flush=True,
            )
    print(f"\nload average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print("| step | " + " | ".join(backends) + " |")
    print("|---|" + "---|" * len(backends))
    for step, unit, scale in (
        ("load", "s", 1),
        ("replace_hour", "ms", 1000),
        ("replace_day", "s", 1),
        ("read_hour", "ms", 1000),
    ):
        cells = []
        for backend in backends:
            values = [r[step] * scale for r in results[backend]]
            digits = 0 if unit == "ms" else 2
            cells.append(
                f"{statistics.median(values):.{digits}f} {unit}"
                f" ({min(values):.{digits}f}-{max(values):.{digits}f})"
            )
        print(f"| {step} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
