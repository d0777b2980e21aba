"""Digest assets: what the GTM team reads, hourly (UTC) and daily (the team's time zone)."""

from datetime import datetime, timedelta

import dagster as dg
import pandas as pd

from digest_pipeline.defs.digest.build import (
    DIGEST_INPUT_COLUMNS,
    OVERALL,
    DigestInputs,
    build_digest,
)
from digest_pipeline.defs.partitions import (
    DIGEST_TIMEZONE,
    daily_partitions,
    daily_upstream_mapping,
    hourly_partitions,
)
from digest_pipeline.defs.storage.schema import column_names, table_schema
from digest_pipeline.defs.storage.warehouse import Warehouse

_DIGEST_COLUMNS = (
    ("window_start", "TIMESTAMPTZ", "Window start; the partition column"),
    ("window_end", "TIMESTAMPTZ", "Window end (exclusive)"),
    ("channel_id", "VARCHAR", "Channel ID, or * for the overall digest"),
    ("channel", "VARCHAR", "Channel name, or 'all channels'"),
    ("message_count", "BIGINT", "Messages and replies in the window"),
    ("thread_count", "BIGINT", "Threads (a lone message is a thread of one)"),
    ("low_count", "BIGINT", "Messages assessed low"),
    ("medium_count", "BIGINT", "Messages assessed medium"),
    ("high_count", "BIGINT", "Messages assessed high"),
    ("critical_count", "BIGINT", "Messages assessed critical"),
    ("attention_count", "BIGINT", "Risky threads that require attention"),
    ("top_risks", "JSON", "Ranked risks, one per thread, each with message_id and permalink"),
    ("summary", "VARCHAR", "One-paragraph extractive summary"),
    ("markdown", "VARCHAR", "The digest rendered as Markdown"),
    ("new_risks", "JSON", "Risky threads not seen in the previous window"),
    ("escalated_risks", "JSON", "Threads whose level rose since the previous window"),
    ("resolved_risks", "JSON", "Risky threads whose latest message resolves them"),
    ("action_items", "JSON", "Risks that require attention"),
    ("opted_out_channels", "JSON", "Channels left out by their [no-digest] marker"),
)
HOURLY_SCHEMA = table_schema(*_DIGEST_COLUMNS)
DAILY_SCHEMA = table_schema(
    *_DIGEST_COLUMNS,
    ("digest_date", "VARCHAR", "The local day (YYYY-MM-DD) in timezone"),
    ("timezone", "VARCHAR", "DIGEST_TIMEZONE the day is cut in"),
)

_JOIN_SQL = """
SELECT m.id, m.channel_id, m.channel, m."user", m."timestamp", m.content, m.permalink,
       m.is_reply, m.parent_id, r.risk_level, r.risk_category, r.description,
       r.confidence_score, r.requires_attention
FROM {schema}.messages AS m
JOIN {schema}.risk_assessments AS r ON r.message_id = m.id
WHERE m."timestamp" >= ? AND m."timestamp" < ?
ORDER BY m."timestamp"
"""


def join_assessments(messages: pd.DataFrame, risks: pd.DataFrame) -> pd.DataFrame:
    if messages.empty:
        return pd.DataFrame(columns=DIGEST_INPUT_COLUMNS)
    merged = messages.merge(
        risks.drop(columns=["id", "channel_id"]), left_on="id", right_on="message_id", how="inner"
    )
    return merged[DIGEST_INPUT_COLUMNS]


def _metadata(frame: pd.DataFrame) -> dict[str, dg.MetadataValue | int | str]:
    overall = frame.loc[frame["channel_id"] == OVERALL].iloc[0]
    return {
        "digest": dg.MetadataValue.md(str(overall["markdown"])),
        "summary": str(overall["summary"]),
        "messages": int(overall["message_count"]),
        "critical": int(overall["critical_count"]),
        "high": int(overall["high_count"]),
        "medium": int(overall["medium_count"]),
        "channels": len(frame) - 1,
    }


@dg.asset(
    group_name="digest",
    kinds={"markdown", "duckdb"},
    partitions_def=hourly_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    description=(
        "The hourly digest: per channel and overall, message counts, risk counts per level and "
        "the top risks, each citing its source message."
    ),
    metadata={"partition_expr": "window_start", "dagster/column_schema": HOURLY_SCHEMA},
)
def hourly_digest(
    context: dg.AssetExecutionContext,
    messages: pd.DataFrame,
    risk_assessments: pd.DataFrame,
    slack_channels: pd.DataFrame,
) -> pd.DataFrame:
    start, end = context.partition_time_window
    joined = join_assessments(messages, risk_assessments)
    frames = []
    # A single-run backfill covers many hours: one digest per hour, as if run hour by hour.
    hour = start
    while hour < end:
        nxt = hour + timedelta(hours=1)
        part = joined.loc[(joined["timestamp"] >= hour) & (joined["timestamp"] < nxt)]
        title = f"Hourly digest {hour:%Y-%m-%d %H:%M} UTC"
        frames.append(build_digest(DigestInputs(hour, nxt, part, slack_channels), title))
        hour = nxt
    frame = pd.concat(frames, ignore_index=True)[column_names(HOURLY_SCHEMA)]
    context.add_output_metadata(_metadata(frames[-1]) | {"hours": len(frames)})
    return frame


def read_window(warehouse: Warehouse, start: datetime, end: datetime) -> pd.DataFrame:
    if not (warehouse.table_exists("messages") and warehouse.table_exists("risk_assessments")):
        return pd.DataFrame(columns=DIGEST_INPUT_COLUMNS)
    frame = warehouse.query(_JOIN_SQL, [start, end])
    frame["timestamp"] = pd.to_datetime(frame["timestamp"], utc=True)
    return frame[DIGEST_INPUT_COLUMNS]


@dg.asset(
    group_name="digest",
    kinds={"markdown", "duckdb"},
    partitions_def=daily_partitions,
    deps=[
        dg.AssetDep("messages", partition_mapping=daily_upstream_mapping()),
        dg.AssetDep("risk_assessments", partition_mapping=daily_upstream_mapping()),
    ],
    description=(
        "The daily digest for the team's local day (DIGEST_TIMEZONE): top risks, new, escalated "
        "and resolved risks since the day before, action items and the hourly trend."
    ),
    metadata={"partition_expr": "window_start", "dagster/column_schema": DAILY_SCHEMA},
)
def daily_digest(
    context: dg.AssetExecutionContext, warehouse: Warehouse, slack_channels: pd.DataFrame
) -> pd.DataFrame:
    frames = []
    for key in context.partition_keys:
        start, end = daily_partitions.time_window_for_partition_key(key)
        day = DigestInputs(
            window_start=start,
            window_end=end,
            frame=read_window(warehouse, start, end),
            channels=slack_channels,
            previous=read_window(warehouse, start - (end - start), start),
        )
        frame = build_digest(day, f"Daily digest {key} ({DIGEST_TIMEZONE})", trend_freq="h")
        frame["digest_date"] = key
        frame["timezone"] = DIGEST_TIMEZONE
        frames.append(frame)
    frame = pd.concat(frames, ignore_index=True)[column_names(DAILY_SCHEMA)]
    context.add_output_metadata(_metadata(frames[-1]) | {"days": len(frames)})
    return frame
