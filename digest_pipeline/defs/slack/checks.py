"""Reply coverage: are the replies the thread parents advertise all in ``raw_messages``?

Slack puts ``reply_count`` and ``latest_reply`` on every thread parent. A parent stored in
``raw_messages`` carries them as they were when its hour was extracted, so the replies it
advertises are exactly those posted up to its ``latest_reply``. The check compares, per channel,
that count with the replies stored for the parent with ``ts <= latest_reply`` — but only for
threads whose replies *should* all be stored:

* every hourly partition from the parent's hour to its ``latest_reply``'s hour has been
  materialized (replies in hours not extracted yet, or never, are not missing — they are not due);
* the thread's latest reply came within the thread look-back of the parent (later replies are
  out of reach by design: see ``DIGEST_THREAD_LOOKBACK_DAYS``).

Other threads are counted as not verifiable, never as failures. A parent whose ``reply_count`` or
``latest_reply`` is not a count or a ``ts`` (rows stored before validation at entry, or a source
that sends them) is counted as unreadable: the values are read as text and parsed here, never
cast in SQL, where one bad row would fail the check on every run. A reply deleted after its parent
was extracted makes the stored count fall short until the parent's hour is re-extracted (the daily
reconcile does that), so a failure a day old is worth a look; one that persists is a real gap.
"""

from bisect import bisect_right
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import dagster as dg
import pandas as pd

from digest_pipeline.defs.partitions import hourly_partitions
from digest_pipeline.defs.slack.extract import ts_to_datetime
from digest_pipeline.defs.slack.resources import SlackSource
from digest_pipeline.defs.slack.validate import is_message_ts
from digest_pipeline.defs.storage.warehouse import Warehouse

HOUR = timedelta(hours=1)

# Thread parents and the replies stored since ``?``. ``reply_count`` and ``latest_reply`` come
# back as text and are parsed in Python (see the module docstring). Portable SQL: the same text
# runs on DuckDB and PostgreSQL (Warehouse turns ? into %s).
PARENTS_SQL = """
SELECT channel_id, ts, payload ->> 'reply_count' AS reply_count,
       payload ->> 'latest_reply' AS latest_reply
FROM {schema}.raw_messages
WHERE thread_ts = ts AND timestamp >= ?
"""
REPLIES_SQL = """
SELECT channel_id, thread_ts, ts
FROM {schema}.raw_messages
WHERE thread_ts IS NOT NULL AND thread_ts <> ts AND timestamp >= ?
"""


def thread_rows(parents: pd.DataFrame, replies: pd.DataFrame) -> pd.DataFrame:
    """One row per parent: its advertised ``reply_count`` and ``latest_reply`` (as stored) and
    ``stored``, the replies stored for it with ``ts <= latest_reply``."""
    by_thread: dict[tuple[str, str], list[Decimal]] = defaultdict(list)
    for channel_id, thread_ts, ts in replies[["channel_id", "thread_ts", "ts"]].itertuples(
        index=False
    ):
        if is_message_ts(ts):
            by_thread[(channel_id, thread_ts)].append(Decimal(ts))
    for values in by_thread.values():
        values.sort()
    stored = []
    for channel_id, ts, latest_reply in parents[["channel_id", "ts", "latest_reply"]].itertuples(
        index=False
    ):
        found = by_thread.get((channel_id, ts), [])
        readable = is_message_ts(latest_reply)
        stored.append(bisect_right(found, Decimal(latest_reply)) if readable else 0)
    return parents.assign(stored=stored)


def _count(value: object) -> int | None:
    """A stored ``reply_count`` (text from JSON, or a number) as an int; ``None`` if it is not
    a non-negative whole number."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value >= 0 else None
    if isinstance(value, str) and value.isascii() and value.isdigit():
        return int(value)
    return None


@dataclass
class ChannelCoverage:
    threads_checked: int = 0
    replies_advertised: int = 0
    replies_stored: int = 0
    replies_missing: int = 0
    threads_incomplete: int = 0
    not_due: int = 0  # replies in hours not (yet) extracted
    beyond_lookback: int = 0
    unreadable: int = 0  # reply_count or latest_reply that is not a count or a ts


@dataclass
class CoverageReport:
    channels: dict[str, ChannelCoverage] = field(default_factory=dict)
    incomplete: list[tuple[str, str, int, int]] = field(default_factory=list)

    @property
    def missing(self) -> int:
        return sum(c.replies_missing for c in self.channels.values())

    @property
    def checked(self) -> int:
        return sum(c.threads_checked for c in self.channels.values())


def _missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and value != value)


def _hour(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


def reply_coverage(
    threads: pd.DataFrame, extracted_hours: Iterable[datetime], lookback: timedelta
) -> CoverageReport:
    """Compare advertised and stored replies for the threads that should be complete.

    ``threads`` has one row per parent: ``channel_id``, ``ts``, ``reply_count``,
    ``latest_reply`` and ``stored`` (replies stored with ``ts <= latest_reply``).
    ``extracted_hours`` are the starts (UTC) of the materialized hourly partitions.
    """
    hours = sorted({_hour(h) for h in extracted_hours})
    index = {h: i for i, h in enumerate(hours)}
    report = CoverageReport(channels=defaultdict(ChannelCoverage))
    row: Any  # itertuples yields named tuples; pandas types them as plain tuples
    for row in threads.itertuples(index=False):
        channel = report.channels[str(row.channel_id)]
        if _missing(row.reply_count):
            continue  # not a thread parent with replies
        advertised = _count(row.reply_count)
        if advertised == 0:
            continue
        if advertised is None or not is_message_ts(row.latest_reply) or not is_message_ts(row.ts):
            channel.unreadable += 1
            continue
        parent_at, latest_at = ts_to_datetime(row.ts), ts_to_datetime(row.latest_reply)
        if latest_at - parent_at > lookback:
            channel.beyond_lookback += 1
            continue
        first, last = index.get(_hour(parent_at)), index.get(_hour(latest_at))
        # Contiguous: both ends extracted and every hour between them too.
        span = (_hour(latest_at) - _hour(parent_at)) // HOUR
        if first is None or last is None or last - first != span:
            channel.not_due += 1
            continue
        stored = int(row.stored)
        channel.threads_checked += 1
        channel.replies_advertised += advertised
        channel.replies_stored += stored
        if stored < advertised:
            channel.replies_missing += advertised - stored
            channel.threads_incomplete += 1
            report.incomplete.append((str(row.channel_id), str(row.ts), advertised, stored))
    report.channels = dict(report.channels)
    return report


@dg.asset_check(
    asset="raw_messages",
    description=(
        "Per channel, the replies stored for each thread parent match the reply_count it "
        "advertises, for the threads whose replies all fall in extracted hours within the "
        "thread look-back (recent threads: the look-back plus two days)."
    ),
    blocking=False,
)
def raw_messages_reply_coverage(
    context: dg.AssetCheckExecutionContext, warehouse: Warehouse, slack: SlackSource
) -> dg.AssetCheckResult:
    if not warehouse.table_exists("raw_messages"):
        return dg.AssetCheckResult(passed=True, metadata={"threads_checked": 0})
    newest = warehouse.query("SELECT max(timestamp) AS newest FROM {schema}.raw_messages")
    if newest.empty or pd.isna(newest["newest"].iloc[0]):
        return dg.AssetCheckResult(passed=True, metadata={"threads_checked": 0})
    since = pd.Timestamp(newest["newest"].iloc[0]).to_pydatetime() - slack.lookback
    since -= timedelta(days=2)
    threads = thread_rows(
        warehouse.query(PARENTS_SQL, [since]), warehouse.query(REPLIES_SQL, [since])
    )
    keys = context.instance.get_materialized_partitions(dg.AssetKey("raw_messages"))
    hours = [hourly_partitions.time_window_for_partition_key(key).start for key in keys]
    report = reply_coverage(threads, hours, slack.lookback)
    per_channel = {
        channel: {
            "threads_checked": c.threads_checked,
            "replies_advertised": c.replies_advertised,
            "replies_missing": c.replies_missing,
            "not_due": c.not_due,
            "beyond_lookback": c.beyond_lookback,
            "unreadable": c.unreadable,
        }
        for channel, c in sorted(report.channels.items())
    }
    return dg.AssetCheckResult(
        passed=report.missing == 0,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={
            "threads_checked": report.checked,
            "replies_missing": report.missing,
            "threads_incomplete": len(report.incomplete),
            "incomplete_threads": [
                f"{channel}:{ts} advertises {advertised}, {stored} stored"
                for channel, ts, advertised, stored in report.incomplete[:20]
            ],
            "threads_not_due": sum(c.not_due for c in report.channels.values()),
            "threads_beyond_lookback": sum(c.beyond_lookback for c in report.channels.values()),
            "threads_unreadable": sum(c.unreadable for c in report.channels.values()),
            "by_channel": per_channel,
        },
    )
