"""``digest-demo``: run the main job over recent days and print the daily digest.

Materializes the whole pipeline hour by hour (the same ``hourly_digest_job`` the schedule runs),
then the daily digests, into the configured warehouse (``data/warehouse.duckdb`` by default). Shows
one progress line per partition instead of Dagster's debug logs; the full event log is in the UI
(``dagster dev``) when ``DAGSTER_HOME`` is set, as the Makefile does.
"""

import argparse
import logging
import os
import sys
import time
import warnings
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import dagster as dg

from digest_pipeline.settings import ConfigError, load_settings

QUIET_LOGS = {"loggers": {"console": {"config": {"log_level": "ERROR"}}}}


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="digest-demo", description=(__doc__ or "").partition("\n")[0]
    )
    parser.add_argument("--days", type=int, default=1, help="full local days to run (default 1)")
    parser.add_argument(
        "--end",
        help="last local day to run, YYYY-MM-DD (default: yesterday in DIGEST_TIMEZONE)",
    )
    args = parser.parse_args(argv)
    if args.days < 1:
        parser.error("--days must be at least 1")
    return args


def _instance() -> dg.DagsterInstance:
    if os.environ.get("DAGSTER_HOME"):
        os.makedirs(os.environ["DAGSTER_HOME"], exist_ok=True)
        return dg.DagsterInstance.get()
    return dg.DagsterInstance.ephemeral()


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    try:
        settings = load_settings()
    except ConfigError as e:
        print(f"configuration error: {e}", file=sys.stderr)
        return 2
    warnings.filterwarnings("ignore")
    logging.getLogger("dagster").setLevel(logging.ERROR)

    try:  # the definitions check the settings across domains (a post channel needs a token)
        from digest_pipeline.definitions import defs
    except ConfigError as e:
        print(f"configuration error: {e}", file=sys.stderr)
        return 2
    from digest_pipeline.defs.partitions import DIGEST_TIMEZONE, daily_partitions

    zone = ZoneInfo(DIGEST_TIMEZONE)
    if args.end:
        try:
            last_day = datetime.strptime(args.end, "%Y-%m-%d").date()
        except ValueError:
            print(f"--end {args.end!r} is not a date in YYYY-MM-DD form", file=sys.stderr)
            return 2
    else:
        last_day = (datetime.now(zone) - timedelta(days=1)).date()
    days = [(last_day - timedelta(days=i)).isoformat() for i in reversed(range(args.days))]
    start = daily_partitions.time_window_for_partition_key(days[0]).start.astimezone(UTC)
    end = daily_partitions.time_window_for_partition_key(days[-1]).end.astimezone(UTC)
    hours = []
    hour = start
    while hour < end:
        hours.append(hour.strftime("%Y-%m-%d-%H:%M"))
        hour += timedelta(hours=1)

    remember_start(days[0])
    instance = _instance()
    hourly = defs.resolve_job_def("hourly_digest_job")
    daily = defs.resolve_job_def("daily_digest_job")
    print(
        f"Slack digest demo — source={settings.source}, warehouse={settings.warehouse}, "
        f"days {days[0]}..{days[-1]} ({DIGEST_TIMEZONE}), {len(hours)} hourly partitions"
    )
    began = time.monotonic()
    model = defs.resolve_job_def("risk_model_job").execute_in_process(
        instance=instance, run_config=QUIET_LOGS, raise_on_error=True
    )
    meta = _materialization_metadata(model, "risk_model")
    print(
        f"  risk model {meta.get('version')}: {meta.get('training_rows')} labeled messages, "
        f"out-of-source high+critical recall {meta.get('recall_high_critical')} / precision "
        f"{meta.get('precision_high_critical')} ({meta.get('train_seconds')}s"
        f"{', reused' if meta.get('reused') else ''})"
    )
    total_messages = 0
    for index, key in enumerate(hours, start=1):
        t0 = time.monotonic()
        result = hourly.execute_in_process(
            partition_key=key, instance=instance, run_config=QUIET_LOGS, raise_on_error=True
        )
        meta = _materialization_metadata(result, "hourly_digest")
        total_messages += int(meta.get("messages", 0))
        print(
            f"  [{index:>3}/{len(hours)}] {key} UTC  {int(meta.get('messages', 0)):>5} messages  "
            f"{int(meta.get('critical_threads', 0))} critical  "
            f"{int(meta.get('high_threads', 0))} high threads  "
            f"({time.monotonic() - t0:.1f}s)",
            flush=True,
        )
    labeled = write_quality_labels(settings, start, end)
    print(f"  ground truth of {labeled} messages in digest_quality_labels (digest quality)")
    digest_text = ""
    for index, day in enumerate(days, start=1):
        result = daily.execute_in_process(
            partition_key=day, instance=instance, run_config=QUIET_LOGS, raise_on_error=True
        )
        meta = _materialization_metadata(result, "daily_digest")
        digest_text = str(meta.get("digest", ""))
        print(f"  [{index:>3}/{len(days)}] daily digest {day}: {meta.get('summary', '')}")
        print(
            f"        act on these: {meta.get('act_on_lines')} lines, precision "
            f"{meta.get('act_on_precision')} (truly high/critical), recall "
            f"{meta.get('act_on_recall')} of {meta.get('quality_true_high_critical_threads')} "
            f"truly high/critical threads (at most {meta.get('act_on_recall_bound')} with "
            "10 lines)"
        )
        print(
            f"        resolved: {meta.get('resolved_listed')} listed, recall "
            f"{meta.get('resolved_recall')} of {meta.get('quality_truly_resolved_threads')} truly "
            f"closed risky threads, precision {meta.get('resolved_precision')}"
        )
    defs.resolve_job_def("analyst_views_job").execute_in_process(
        instance=instance, run_config=QUIET_LOGS, raise_on_error=True
    )
    print("  analyst views: v_open_risks, v_latest_messages, v_risk_summary, v_channel_stats")
    # In a deployment messages_quality_sensor runs these after every hour; the demo runs them
    # once, on the last hour, to show them.
    quality = defs.resolve_job_def("messages_quality_job").execute_in_process(
        instance=instance,
        run_config=QUIET_LOGS,
        tags={"dagster/partition": hours[-1]},
        raise_on_error=True,
    )
    checks = quality.get_asset_check_evaluations()
    failed = [e.check_name for e in checks if not e.passed]
    print(
        f"  data quality (Great Expectations) on {hours[-1]}: "
        f"{len(checks) - len(failed)}/{len(checks)} checks passed"
        + (f"; failed: {', '.join(failed)}" if failed else "")
    )
    elapsed = time.monotonic() - began
    print(f"\nDone: {total_messages} messages in {elapsed:.0f}s.\n")
    print(digest_text)
    where = (
        os.path.abspath(settings.duckdb_path) if settings.warehouse == "duckdb" else "DATABASE_URL"
    )
    print(
        f"\nTables: schema 'digest' in {where}\n"
        "  slack_channels, slack_users, raw_messages, messages, risk_assessments,"
        " hourly_digest, daily_digest\n"
        "Query them from Python:\n"
        f"  .venv/bin/python -c \"import duckdb; c = duckdb.connect('{settings.duckdb_path}',"
        " read_only=True);"
        " c.sql('SELECT risk_level, count(*) FROM digest.risk_assessments GROUP BY ALL').show()\"\n"
        "Open the UI: make dev  (http://127.0.0.1:3000)"
    )
    return 0


START_FILE = "demo-start-date"


def remember_start(day: str) -> None:
    """Keep the first day the demo ever ran in ``$DAGSTER_HOME/demo-start-date``: ``make dev``
    starts the partitions there, so the UI opens on filled partitions, not on a year of empty
    ones (a ``DIGEST_START_DATE`` the user sets still wins)."""
    home = os.environ.get("DAGSTER_HOME")
    if not home:
        return
    path = os.path.join(home, START_FILE)
    try:
        with open(path, encoding="utf-8") as f:
            known = f.read().strip()
    except OSError:
        known = ""
    first = min(d for d in (known, day) if len(d) == 10) if known else day
    os.makedirs(home, exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        f.write(first + "\n")


def write_quality_labels(settings: Any, start: datetime, end: datetime) -> int:
    """The demo's ground truth (each message's scenario level; chatter is low) for the
    messages of ``[start, end)``, into ``digest_quality_labels``: the daily digest measures its
    "Act on these" lines against it."""
    import pandas as pd

    from digest_pipeline.defs.digest.quality import LABELS
    from digest_pipeline.defs.storage.warehouse import Warehouse
    from digest_pipeline.demo.content import RESOLUTION, scenario_level
    from digest_pipeline.demo.workspace import DemoWorkspace

    if settings.source != "demo":
        return 0
    warehouse = (
        Warehouse(backend="postgres", database_url=os.environ["DATABASE_URL"])
        if settings.warehouse == "postgres"
        else Warehouse(duckdb_path=settings.duckdb_path)
    )
    messages = warehouse.query(
        'SELECT id, channel_id, ts FROM {schema}.messages WHERE "timestamp" >= ? AND '
        '"timestamp" < ?',
        [start, end],
    )
    ws = DemoWorkspace(seed=settings.demo_seed, scale=settings.demo_scale)
    scenarios = [
        ws.scenario_of(channel_id, ts)
        for channel_id, ts in zip(messages["channel_id"], messages["ts"], strict=True)
    ]
    frame = pd.DataFrame(
        {
            "message_id": messages["id"],
            "risk_level": [scenario_level(s) or "low" for s in scenarios],
            # A scenario's closing reply ("Line is back up", "PO is out, we're covered").
            "resolves": [s == RESOLUTION for s in scenarios],
            "source": "demo ground truth",
        }
    )
    LABELS.upsert(warehouse, frame)
    return len(frame)


def _materialization_metadata(result: dg.ExecuteInProcessResult, asset: str) -> dict[str, Any]:
    for event in result.get_asset_materialization_events():
        materialization = event.materialization
        if materialization and materialization.asset_key == dg.AssetKey(asset):
            return {k: getattr(v, "value", v) for k, v in materialization.metadata.items()}
    return {}


if __name__ == "__main__":
    raise SystemExit(main())
