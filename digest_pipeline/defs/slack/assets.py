"""Extract assets: channels, users and the raw messages of each UTC hour."""

import json
import time
from datetime import UTC, datetime
from typing import Any

import dagster as dg
import pandas as pd

from digest_pipeline import contract
from digest_pipeline.defs.partitions import hourly_partitions
from digest_pipeline.defs.slack.export import ExportApi
from digest_pipeline.defs.slack.extract import (
    ExtractResult,
    RawMessage,
    Window,
    app_identity,
    extract_window,
    join_channels,
    list_channels,
    list_users,
    workspace_url,
)
from digest_pipeline.defs.slack.models import SlackApi, SlackCallError
from digest_pipeline.defs.slack.resources import SlackSource, slack_failure
from digest_pipeline.defs.slack.validate import is_slack_id
from digest_pipeline.defs.storage.schema import column_names
from digest_pipeline.defs.storage.side_table import SideTable
from digest_pipeline.defs.storage.warehouse import Warehouse

CHANNELS_SCHEMA = contract.table("slack_channels", "asset").schema

# How the last extraction of each channel went (a side table: a by-product of reading messages).
CHANNEL_READS = SideTable.declared("slack_channel_reads")

USERS_SCHEMA = contract.table("slack_users", "asset").schema

RAW_MESSAGES = contract.table("raw_messages", "asset")
RAW_MESSAGES_SCHEMA = RAW_MESSAGES.schema


def _missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and value != value) or value is pd.NaT


def _plain(value: object, limit: int = 200) -> str:
    """A directory string (a name, a title): the value if it is one, bounded; else empty."""
    return value[:limit] if isinstance(value, str) else ""


def _text(value: object) -> str:
    if isinstance(value, dict):
        return str(value.get("value") or "")
    return str(value or "")


# How many skipped entries (channels, users) are named in metadata; all are counted.
_NAMED_SKIPS = 20


def _with_valid_ids(
    items: list[dict[str, Any]], kind: str, log: Any
) -> tuple[list[dict[str, Any]], list[str]]:
    """The entries whose ``id`` is a Slack ID, and a short description of the others.

    Whatever the source, an ID reaches permalinks, mentions and posted digests, so a crafted one
    (``C1>|<!channel>``) is refused here and counted rather than escaped later.
    """
    kept, refused = [], []
    for item in items:
        if is_slack_id(item.get("id")):
            kept.append(item)
        else:
            refused.append(f"{kind} with invalid id {str(item.get('id'))[:40]!r}")
    if refused:
        log.warning("Skipped %d %s(s) with an invalid ID: %s", len(refused), kind, refused[:5])
    return kept, refused


@dg.asset(
    group_name="extract",
    kinds={"slack", "duckdb"},
    pool="slack",
    description="Every channel the workspace lists, with whether this deployment extracts it.",
    metadata={"dagster/column_schema": CHANNELS_SCHEMA},
)
def slack_channels(
    context: dg.AssetExecutionContext, slack: SlackSource, warehouse: Warehouse
) -> pd.DataFrame:
    api = slack.open_api()
    try:
        channels = list_channels(api, slack.page_limit)
        url = workspace_url(api)
    except SlackCallError as e:
        raise slack_failure(e) from e
    channels, refused = _with_valid_ids(channels, "channel", context.log)
    joins: dict[str, str] = {}
    if slack.auto_join and slack.kind == "slack":
        joins = join_channels(api, channels, slack.selection)
        failed = {c: o for c, o in joins.items() if o != "joined"}
        if failed:
            context.log.warning(f"could not join {len(failed)} channel(s): {failed}")
    frame = channel_rows(channels, slack, url, datetime.now(UTC), last_reads(warehouse))
    # The ignore: Series.map takes a dict; pandas' annotation omits it.
    frame["join_outcome"] = frame["channel_id"].map(joins)  # pyright: ignore[reportArgumentType]
    skipped = frame.loc[~frame["selected"], "skip_reason"].value_counts().to_dict()
    unreadable = frame.loc[frame["selected"] & frame["skip_reason"].notna(), "skip_reason"]
    context.add_output_metadata(
        {
            "channels_listed": len(frame),
            "channels_selected": int(frame["selected"].sum()),
            "channels_skipped": {str(k): int(v) for k, v in skipped.items()},
            "channels_unreadable": {str(k): int(v) for k, v in unreadable.value_counts().items()},
            "channels_invalid_id": len(refused),
            "channels_invalid_id_list": refused[:_NAMED_SKIPS],
            "channels_joined": sum(1 for o in joins.values() if o == "joined"),
            "channels_join_failed": sum(1 for o in joins.values() if o != "joined"),
            **export_metadata(api, context.log),
            **api.stats.as_metadata(),
        }
    )
    return frame


def last_reads(warehouse: Warehouse) -> pd.DataFrame:
    """The last read of each channel (empty before the first ``raw_messages`` run)."""
    return CHANNEL_READS.read(warehouse)


def channel_rows(
    channels: list[dict[str, Any]],
    slack: SlackSource,
    url: str,
    listed_at: datetime,
    reads: pd.DataFrame,
) -> pd.DataFrame:
    """``slack_channels`` rows: the listing, the selection and how the last read went."""
    selection = slack.selection
    by_channel = {
        str(r["channel_id"]): {k: None if _missing(v) else v for k, v in r.items()}
        for r in reads.to_dict("records")
    }
    rows = []
    for c in channels:
        channel_id = str(c["id"])
        reason = selection.skip_reason(c)
        read = by_channel.get(channel_id)
        status = str(read["read_status"]) if read else None
        if reason is None and status not in (None, "ok"):
            reason = status  # selected, but the last read failed: say why nothing comes from it
        rows.append(
            {
                "channel_id": channel_id,
                "name": str(c.get("name") or c["id"]),
                "is_private": bool(c.get("is_private", False)),
                "is_archived": bool(c.get("is_archived", False)),
                "is_member": bool(c.get("is_member", False)),
                "topic": _text(c.get("topic")),
                "purpose": _text(c.get("purpose")),
                "num_members": int(c.get("num_members") or 0),
                "selected": selection.skip_reason(c) is None,
                "skip_reason": reason,
                "read_status": status,
                "read_failed_method": read["failed_method"] if read else None,
                "read_at": read["read_at"] if read else None,
                "join_outcome": None,
                "workspace_url": url,
                "listed_at": listed_at,
            }
        )
    frame = pd.DataFrame(rows, columns=pd.Index(column_names(CHANNELS_SCHEMA)))
    for column in ("read_at", "listed_at"):
        frame[column] = pd.to_datetime(frame[column], utc=True)
    return frame


@dg.asset(
    group_name="extract",
    kinds={"slack", "duckdb"},
    pool="slack",
    description="Workspace members and bots: names for mentions, roles for owners.",
    metadata={"dagster/column_schema": USERS_SCHEMA},
)
def slack_users(context: dg.AssetExecutionContext, slack: SlackSource) -> pd.DataFrame:
    api = slack.open_api()
    try:
        members = list_users(api, slack.page_limit)
    except SlackCallError as e:
        raise slack_failure(e) from e
    members, refused = _with_valid_ids(members, "user", context.log)
    rows = []
    for m in members:
        # A field of the wrong type (a string profile, a list name) reads as empty, never fails.
        profile = m.get("profile")
        if not isinstance(profile, dict):
            profile = {}
        rows.append(
            {
                "user_id": str(m["id"]),
                "name": _plain(m.get("name")),
                "display_name": _plain(profile.get("display_name")),
                "real_name": _plain(m.get("real_name")) or _plain(profile.get("real_name")),
                "title": _plain(profile.get("title")),
                "is_bot": m.get("is_bot") is True,
                "deleted": m.get("deleted") is True,
                "tz": _plain(m.get("tz")),
            }
        )
    frame = pd.DataFrame(rows, columns=pd.Index(column_names(USERS_SCHEMA)))
    context.add_output_metadata(
        {
            "users": int((~frame["is_bot"]).sum()),
            "bots": int(frame["is_bot"].sum()),
            "deleted": int(frame["deleted"].sum()),
            "users_invalid_id": len(refused),
            "users_invalid_id_list": refused[:_NAMED_SKIPS],
            **export_metadata(api, context.log),
        }
    )
    return frame


@dg.asset(
    group_name="extract",
    kinds={"slack", "duckdb"},
    pool="slack",
    partitions_def=hourly_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    description=(
        "Every message and thread reply posted in the hour, keyed by (channel_id, ts), as the "
        "source returned it. Re-extracting an hour replaces it: edits and deletes reach the table."
    ),
    metadata=RAW_MESSAGES.asset_metadata(),
    retry_policy=dg.RetryPolicy(
        max_retries=2, delay=30, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS
    ),
)
def raw_messages(
    context: dg.AssetExecutionContext,
    slack: SlackSource,
    warehouse: Warehouse,
    slack_channels: pd.DataFrame,
) -> pd.DataFrame:
    window = Window(*context.partition_time_window)
    selected = slack_channels.loc[slack_channels["selected"].astype(bool)]
    api = slack.open_api()
    extracted_at = datetime.now(UTC)
    began = time.perf_counter()
    try:
        own = app_identity(api)
        result = extract_window(
            api,
            list(selected["channel_id"]),
            window,
            lookback=slack.lookback,
            page_limit=slack.history_page_limit,
            own=own,
        )
    except SlackCallError as e:
        raise slack_failure(e) from e
    seconds = time.perf_counter() - began
    frame = raw_frame(result.messages, slack.kind, extracted_at)
    result.messages.clear()  # the payloads now live in the frame only
    CHANNEL_READS.upsert(warehouse, read_rows(result, window, extracted_at))
    if result.skipped_channels:
        context.log.warning(
            "Skipped %d unreadable channel(s): %s",
            len(result.skipped_channels),
            json.dumps(result.skipped_channels),
        )
    if result.invalid_messages:
        context.log.warning(
            "Skipped %d message(s) with invalid fields: %s",
            result.invalid_messages,
            json.dumps(result.invalid_message_list[:5]),
        )
    lag = (datetime.now(UTC) - window.end).total_seconds()
    context.add_output_metadata(
        {
            "window_start": window.start.isoformat(),
            "window_end": window.end.isoformat(),
            "messages": len(frame),
            "replies": int(frame["is_reply"].sum()),
            "channels_read": result.channels_read,
            "channels_skipped": len(result.skipped_channels),
            "skipped_channels": result.skipped_channels,
            "threads_fetched": result.threads_fetched,
            "own_posts": result.own_posts,
            "invalid_messages": result.invalid_messages,
            "invalid_message_list": result.invalid_message_list,
            "own_app": own.as_metadata(),
            "old_threads_with_new_replies": result.moved_threads,
            "lookback_messages_scanned": result.lookback_messages_scanned,
            "extraction_seconds": round(seconds, 2),
            "extraction_lag_seconds": round(lag, 1),
            **_rate_metadata(slack, api),
            **export_metadata(api, context.log),
            **api.stats.as_metadata(),
        }
    )
    return frame


def read_rows(result: ExtractResult, window: Window, read_at: datetime) -> pd.DataFrame:
    """``slack_channel_reads`` rows for the channels this run tried to read."""
    return pd.DataFrame(
        [
            {
                "channel_id": read.channel_id,
                "read_status": read.status,
                "failed_method": read.method,
                "messages": read.messages,
                "window_start": window.start,
                "window_end": window.end,
                "read_at": read_at,
            }
            for read in result.reads
        ],
        columns=pd.Index(CHANNEL_READS.columns),
    )


def _rate_metadata(slack: SlackSource, api: SlackApi) -> dict[str, object]:
    """The pacing in force: the tier, and the page size history/replies really asked for."""
    if slack.kind != "slack":
        return {"rate_tier": f"none ({slack.kind} source)"}
    caps = getattr(api, "page_limit", {})
    asked = slack.history_page_limit
    return {
        "rate_tier": slack.rate_tier,
        "history_page_size": min(asked, caps.get("conversations.history", asked)),
        "replies_page_size": min(asked, caps.get("conversations.replies", asked)),
        "min_seconds_between_calls": dict(getattr(api, "min_interval_s", {})),
    }


def raw_frame(messages: list[RawMessage], source: str, extracted_at: datetime) -> pd.DataFrame:
    """``raw_messages`` rows built column by column: one list per column instead of a dict per
    row, so a large window holds the payload strings once plus the frame."""
    columns: dict[str, list[Any]] = {name: [] for name in column_names(RAW_MESSAGES_SCHEMA)}
    for message in messages:
        for name, value in message.as_row(source, extracted_at).items():
            columns[name].append(value)
    frame = pd.DataFrame(columns)
    frame["timestamp"] = pd.to_datetime(frame["timestamp"], utc=True)
    frame["extracted_at"] = pd.to_datetime(frame["extracted_at"], utc=True)
    return frame


def export_metadata(api: SlackApi, log: Any) -> dict[str, Any]:
    """What an export source skipped or repaired while this asset read it (nothing for other
    sources): bad and oversized files, files decoded with replacement characters, and records
    (messages, channel and user entries) skipped one by one. Each kind is also logged."""
    if not isinstance(api, ExportApi):
        return {}
    bad_files = {str(name): str(reason) for name, reason in api.bad_files}
    decoded = {str(name): str(reason) for name, reason in api.decode_warnings}
    if bad_files:
        log.warning(
            "Skipped %d malformed export file(s): %s", len(bad_files), json.dumps(bad_files)
        )
    if decoded:
        log.warning("Export files that are not valid UTF-8 (decoded leniently): %s", decoded)
    if api.skipped_records:
        log.warning(
            "Skipped %d export record(s) with invalid fields: %s",
            api.skipped_records,
            json.dumps(api.skipped_record_list[:5]),
        )
    return {
        "export_bad_files": len(bad_files),
        "export_bad_file_list": bad_files,
        "export_oversized_files": len(api.oversized_files),
        "export_decode_warnings": decoded,
        "export_skipped_records": api.skipped_records,
        "export_skipped_record_list": api.skipped_record_list[:_NAMED_SKIPS],
    }
