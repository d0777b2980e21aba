"""Peak memory of the pipeline's jobs on a 100k-message export day (issue #15: < 1 GiB).

    python benchmarks/memory.py                       # 100,000 messages, 2 repeats
    python benchmarks/memory.py --messages 20000 --repeat 1

Builds an official-export-format folder (``channels.json``, ``users.json``, one day file per
channel) holding one UTC day of short messages across a few channels, a thread now and then, and
trains the default risk model once (production scores with a trained model on disk). Then, per
repeat, against a fresh DuckDB file, each job runs in a fresh process, as the daemon launches it:

* ``hourly``    — the 24 ``hourly_digest_job`` runs of the day, one after another in one process
                  (what the hourly schedule runs, one partition each); RSS after each run shows
                  any growth from run to run;
* ``reconcile`` — ``daily_reconcile_job`` over the day's 24 hours in one run (the daily schedule);
* ``daily``     — ``daily_digest_job`` for the day (after the reconcile, as the sensor runs it).

Peak RSS is the child's ``VmHWM`` (``/proc/self/status``), the kernel's high-water mark.
"""

import argparse
import json
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

QUIET = {"loggers": {"console": {"config": {"log_level": "ERROR"}}}}
DAY = "2026-03-10"
CHANNELS = ("supply-chain", "manufacturing", "logistics", "npi-launch")
USERS = 40
# Short messages, as a busy day has them: mostly chatter, a few risks for the digests to rank
# (``--risky-share``; every risky message raises a thread the daily digest lists).
CHATTER = (
    "ok",
    "+1",
    "thanks",
    "on it",
    "PO {n} confirmed",
    "shipment {n} left the dock",
    "line {k} yield {p}%",
    "can someone check order {n}?",
    "FCC retest booked for unit {n}",
)
RISKS = (
    "lead time on part {n} now {w} weeks",
    "customs hold on shipment {n}",
    "supplier slipped PCB lot {n} by {w} weeks",
    "MCU allocation cut for week {w}",
    "line {k} is down, waiting on parts",
)


def _hours(day: str) -> list[str]:
    start = datetime.fromisoformat(day).replace(tzinfo=UTC)
    return [(start + timedelta(hours=h)).strftime("%Y-%m-%d-%H:%M") for h in range(24)]


def build_export(
    root: Path, messages: int, risky_share: float = 0.03, day: str = DAY, seed: int = 15
) -> Path:
    """An export folder with ``messages`` messages on ``day``: every 25th message starts a
    thread whose next four are its replies (same channel, later in the day); ``risky_share``
    of the messages name a risk."""
    rng = random.Random(seed)
    start = int(datetime.fromisoformat(day).replace(tzinfo=UTC).timestamp())
    step = 86_400 / messages
    ids = {name: f"C{i + 1:07d}" for i, name in enumerate(CHANNELS)}
    days: dict[str, list[dict[str, Any]]] = {name: [] for name in CHANNELS}
    parent: dict[str, str] = {}
    for i in range(messages):
        channel = CHANNELS[i % len(CHANNELS)]
        ts = f"{start + int(i * step)}.{i % 1_000_000:06d}"
        texts = RISKS if rng.random() < risky_share else CHATTER
        text = rng.choice(texts).format(
            n=rng.randrange(10_000),
            w=rng.randrange(2, 40),
            k=rng.randrange(1, 9),
            p=rng.randrange(60, 100),
        )
        message = {
            "type": "message",
            "user": f"U{rng.randrange(USERS):07d}",
            "text": text,
            "ts": ts,
        }
        position = (i // len(CHANNELS)) % 25
        if position == 0:
            parent[channel] = ts
            message |= {"thread_ts": ts, "reply_count": 4, "reply_users_count": 1}
        elif position <= 4 and channel in parent:
            message["thread_ts"] = parent[channel]
        days[channel].append(message)
    for items in days.values():
        for message in items:
            if message.get("reply_count"):
                replies = [m for m in items if m.get("thread_ts") == message["ts"]]
                message["latest_reply"] = replies[-1]["ts"]
                message["reply_count"] = len(replies) - 1  # the parent carries thread_ts too
    root.mkdir(parents=True, exist_ok=True)
    channels = [
        {"id": ids[name], "name": name, "created": start - 86_400 * 30, "is_archived": False}
        for name in CHANNELS
    ]
    users = [{"id": f"U{i:07d}", "name": f"user{i}"} for i in range(USERS)]
    (root / "channels.json").write_text(json.dumps(channels))
    (root / "users.json").write_text(json.dumps(users))
    for name, items in days.items():
        (root / name).mkdir(exist_ok=True)
        (root / name / f"{day}.json").write_text(json.dumps(items))
    return root


def _status_kib(field: str) -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def _child(job: str, export: str, workdir: str) -> dict[str, Any]:
    warnings.filterwarnings("ignore")
    from digest_pipeline.definitions import build_defs
    from digest_pipeline.defs.pipeline.schedules import range_tags
    from digest_pipeline.defs.risk.store import RiskModelStore
    from digest_pipeline.settings import Settings

    settings = Settings(
        source="export", export_path=export, duckdb_path=str(Path(workdir) / "bench.duckdb")
    )
    if job == "train":
        RiskModelStore(model_dir=settings.effective_model_dir).current()
        return {}
    defs = build_defs(settings)
    began = time.perf_counter()
    after_runs: list[float] = []
    hours = _hours(DAY)
    if job == "hourly":
        hourly = defs.resolve_job_def("hourly_digest_job")
        for key in hours:
            hourly.execute_in_process(partition_key=key, run_config=QUIET, raise_on_error=True)
            after_runs.append(_status_kib("VmRSS") / 1024)
    elif job == "reconcile":
        defs.resolve_job_def("daily_reconcile_job").execute_in_process(
            tags=range_tags(hours[0], hours[-1]), run_config=QUIET, raise_on_error=True
        )
    else:
        defs.resolve_job_def("daily_digest_job").execute_in_process(
            partition_key=DAY, run_config=QUIET, raise_on_error=True
        )
    return {
        "job": job,
        "wall_s": time.perf_counter() - began,
        "peak_mib": _status_kib("VmHWM") / 1024,
        "rss_after_runs_mib": after_runs,
    }


def _run_child(job: str, export: Path, workdir: Path) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, __file__, "_child", job, str(export), str(workdir)],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def _message_count(workdir: Path) -> int:
    import duckdb

    with duckdb.connect(str(workdir / "bench.duckdb"), read_only=True) as conn:
        return conn.execute("SELECT count(*) FROM digest.messages").fetchone()[0]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", nargs="?", default="run", choices=["run", "_child"])
    parser.add_argument("child_args", nargs="*", help=argparse.SUPPRESS)
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--risky-share", type=float, default=0.03)
    parser.add_argument("--keep", help="copy the export and the last run's folder here")
    parser.add_argument(
        "--jobs", default="hourly,reconcile,daily", help="comma list, run in this order"
    )
    args = parser.parse_args()
    if args.mode == "_child":
        print(json.dumps(_child(*args.child_args)))
        return 0
    jobs = args.jobs.split(",")
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}, load {os.getloadavg()[0]:.1f}"
    )
    results: dict[str, list[dict[str, Any]]] = {job: [] for job in jobs}
    with tempfile.TemporaryDirectory() as tmp:
        export = build_export(Path(tmp) / "export", args.messages, args.risky_share)
        size = sum(f.stat().st_size for f in export.rglob("*.json")) / (1 << 20)
        print(
            f"export: {args.messages:,} messages on {DAY} ({args.risky_share:.0%} risky),"
            f" {size:.1f} MB of JSON"
        )
        trained = Path(tmp) / "trained"
        trained.mkdir()
        _run_child("train", export, trained)
        for repeat in range(args.repeat):
            workdir = Path(tmp) / f"run{repeat}"
            shutil.copytree(trained, workdir)
            for job in jobs:
                result = _run_child(job, export, workdir)
                results[job].append(result)
                growth = result["rss_after_runs_mib"]
                trail = (
                    f"  RSS after runs 1/12/24: {growth[0]:.0f}/{growth[11]:.0f}"
                    f"/{growth[-1]:.0f} MiB"
                    if len(growth) == 24
                    else ""
                )
                print(
                    f"run {repeat + 1} {job:9} peak {result['peak_mib']:6.0f} MiB"
                    f"  {result['wall_s']:6.1f} s{trail}"
                )
            print(f"run {repeat + 1} messages in the warehouse: {_message_count(workdir):,}")
            if args.keep:
                shutil.rmtree(args.keep, ignore_errors=True)
                shutil.copytree(export, Path(args.keep) / "export")
                shutil.copytree(workdir, Path(args.keep) / "run")
            shutil.rmtree(workdir)
    for job, runs in results.items():
        peaks = [r["peak_mib"] for r in runs]
        print(
            f"{job:9} peak RSS min {min(peaks):.0f}  median {statistics.median(peaks):.0f}"
            f"  max {max(peaks):.0f} MiB  (load now {os.getloadavg()[0]:.1f})"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
