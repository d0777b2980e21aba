"""Digest assets: what the GTM team reads, hourly (UTC) and daily (the team's time zone)."""

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

import dagster as dg
import pandas as pd
from dagster._core.storage.db_io_manager import TablePartitionDimension

from digest_pipeline import contract
from digest_pipeline.defs.digest.build import (
    DIGEST_INPUT_COLUMNS,
    OPTIONAL_INPUT_COLUMNS,
    OVERALL,
    DigestInputs,
    build_digests,
)
from digest_pipeline.defs.digest.delivery import (
    DigestDelivery,
    DigestSlackResource,
    block_kit_payload,
    deliver_digest,
    write_digest_files,
)
from digest_pipeline.defs.digest.feedback import apply_feedback, read_feedback
from digest_pipeline.defs.digest.line_replies import risk_line_replies
from digest_pipeline.defs.digest.models import DigestContent
from digest_pipeline.defs.digest.narrative import LLMNarrator
from digest_pipeline.defs.digest.quality import act_on_quality, read_truth
from digest_pipeline.defs.digest.render import (
    focus,
    render_blocks,
    render_html,
    risk_counts_markdown,
)
from digest_pipeline.defs.digest.threads import ASSESSMENT_COLUMNS, MESSAGE_COLUMNS
from digest_pipeline.defs.llm.resources import LLMResource
from digest_pipeline.defs.llm.text import names_to_ids
from digest_pipeline.defs.partitions import (
    DIGEST_TIMEZONE,
    daily_partitions,
    daily_upstream_mapping,
    hourly_partitions,
)
from digest_pipeline.defs.storage.schema import column_names, partition_filter, quote_ident
from digest_pipeline.defs.storage.warehouse import Warehouse

HOURLY = contract.table("hourly_digest", "asset")
DAILY = contract.table("daily_digest", "asset")
HOURLY_SCHEMA = HOURLY.schema
DAILY_SCHEMA = DAILY.schema

INPUT_COLUMNS = DIGEST_INPUT_COLUMNS + list(OPTIONAL_INPUT_COLUMNS)
# What the digest reads of its inputs, from threads.MESSAGE_COLUMNS / ASSESSMENT_COLUMNS: the
# I/O manager selects only these columns for the hourly digest's inputs, and read_window selects
# the same for every window read from the warehouse (a single-run day of 100k messages loaded
# every column of both tables, most never read).
RISK_INPUT_COLUMNS = ["id", "channel_id", "message_id", *ASSESSMENT_COLUMNS]
MESSAGE_INPUT_COLUMNS = [*MESSAGE_COLUMNS, *OPTIONAL_INPUT_COLUMNS]
HOUR = timedelta(hours=1)


def join_assessments(messages: pd.DataFrame, risks: pd.DataFrame) -> pd.DataFrame:
    """The digest's input rows: each message with its assessment (``INPUT_COLUMNS``)."""
    if messages.empty:
        return pd.DataFrame(columns=pd.Index(INPUT_COLUMNS))
    merged = messages.merge(
        risks.drop(columns=["id", "channel_id"]), left_on="id", right_on="message_id", how="inner"
    )
    for column, default in OPTIONAL_INPUT_COLUMNS.items():
        if column not in merged.columns:
            merged[column] = default
    return cast(
        pd.DataFrame, merged[INPUT_COLUMNS]
    )  # pandas is untyped here: columns select a frame


def read_window(warehouse: Warehouse, start: datetime, end: datetime) -> pd.DataFrame:
    """Messages with their assessments posted in ``[start, end)``, from the warehouse, read as
    the hourly digest's asset inputs are: ``messages``' window through the I/O manager's
    ``read_window`` and their ``risk_assessments`` rows, each with its input columns, joined by
    :func:`join_assessments`. Assessments are found by message ID (as the join matches them),
    not by their own ``message_timestamp``."""
    schema = warehouse.schema_name
    window = TablePartitionDimension("timestamp", dg.TimeWindow(start, end))
    with warehouse.session() as session:
        if not (
            session.columns(schema, "messages") and session.columns(schema, "risk_assessments")
        ):
            return pd.DataFrame(columns=pd.Index(INPUT_COLUMNS))
        messages = session.read_window(schema, "messages", MESSAGE_INPUT_COLUMNS, [window])
        in_window, params = partition_filter([window], placeholder="?")
        risks = session.query(
            f"SELECT {', '.join(quote_ident(c) for c in RISK_INPUT_COLUMNS)}"
            f" FROM {session.qualified(schema, 'risk_assessments')} WHERE message_id IN"
            f" (SELECT id FROM {session.qualified(schema, 'messages')} WHERE {in_window})",
            params,
        )
    joined = join_assessments(messages, risks)
    joined["timestamp"] = pd.to_datetime(joined["timestamp"], utc=True)
    return joined.sort_values("timestamp", kind="stable", ignore_index=True)


def tokens_spent_in_run(context: dg.AssetExecutionContext) -> int:
    """LLM tokens the run's earlier steps reported (``llm_total_tokens``).

    A step covering many partitions (a single-run backfill) reports its metadata on each
    partition's materialization: each step is counted once.
    """
    by_step: dict[tuple[str | None, str], int] = {}
    records = context.instance.all_logs(
        context.run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION
    )
    for record in records:
        materialization = record.asset_materialization
        value = materialization.metadata.get("llm_total_tokens") if materialization else None
        if materialization is not None and value is not None and isinstance(value.value, int):
            key = (record.step_key, materialization.asset_key.to_user_string())
            by_step.setdefault(key, int(value.value))
    return sum(by_step.values())


@contextmanager
def llm_narrator(
    context: dg.AssetExecutionContext,
    llm: LLMResource,
    warehouse: Warehouse,
    users: pd.DataFrame,
) -> Iterator[LLMNarrator | None]:
    """The narrator when the LLM is on (else None), its calls under what is left of the run's
    token budget after ``risk_assessments``; ``users`` is ``slack_users``."""
    if not llm.enabled:
        yield None
        return
    names = names_to_ids(users)
    limit = llm.max_tokens_per_run  # 0: no budget, and nothing to subtract
    left = limit - tokens_spent_in_run(context) if limit else 0
    if limit and left <= 0:
        yield LLMNarrator(None, warehouse, llm.model, unavailable="budget", names_to_ids=names)
        return
    with llm.client() as client:
        caller = llm.caller(client, purpose="narrative", budget=left)
        yield LLMNarrator(caller, warehouse, llm.model, names_to_ids=names)


def _narrative_metadata(narrator: LLMNarrator | None) -> dict[str, Any]:
    if narrator is None:
        return {}
    meta = narrator.metadata()
    return meta | {"narrative_fallbacks": dg.MetadataValue.json(meta["narrative_fallbacks"])}


def _metadata(
    frame: pd.DataFrame, content: DigestContent
) -> dict[str, dg.MetadataValue | int | str]:
    overall = frame.loc[frame["channel_id"] == OVERALL].iloc[0]
    return {
        "digest": dg.MetadataValue.md(str(overall["markdown"])),
        "risk_counts": dg.MetadataValue.md(risk_counts_markdown(content)),
        "summary": str(overall["summary"]),
        "summary_source": content.summary_source,
        "messages": int(overall["message_count"]),
        "threads": int(overall["thread_count"]),
        # Threads, as the digest counts them; messages per level are the table's *_count.
        **{f"{lv}_threads": n for lv, n in content.threads_by_level.items() if lv != "low"},
        **{f"{lv}_messages": int(overall[f"{lv}_count"]) for lv in ("critical", "high", "medium")},
        "risk_threads": len(content.risks),
        "act_on_these_lines": len(focus(content)[0]),
        "new_risk_threads": len(content.new),
        "escalated_risk_threads": len(content.escalated),
        "resolved_risk_threads": len(content.resolved),
        "unanswered_questions": len(content.questions),
        "channels": len(frame) - 1,
        "hidden_messages": content.hidden_messages,
    }


@dataclass(frozen=True)
class _Outlets:
    """Where a digest goes: its files and Slack, and the warehouse that remembers the post."""

    delivery: DigestDelivery
    slack_chat: DigestSlackResource
    warehouse: Warehouse


def _deliver(
    context: dg.AssetExecutionContext,
    outlets: _Outlets,
    kind: str,
    partition_key: str,
    content: DigestContent,
    markdown: str,
    *,
    post: bool,
) -> dict[str, dg.MetadataValue | int | str]:
    """Write the ``kind`` (hourly, daily) digest's files and, when configured, post it (or
    update the earlier post).

    The Block Kit file is written with or without a token: it is the post to preview."""
    delivery, slack_chat, warehouse = outlets.delivery, outlets.slack_chat, outlets.warehouse
    digest = f"{kind}_digest"
    message = render_blocks(content)
    lines = risk_line_replies(content, delivery.feedback_reactions)
    md_file, html_file, block_kit_file = write_digest_files(
        delivery.output_dir,
        kind,
        partition_key,
        markdown=markdown,
        html=render_html(content),
        block_kit=block_kit_payload(message, lines),
    )
    meta: dict[str, dg.MetadataValue | int | str] = {
        "file": dg.MetadataValue.path(md_file),
        "html_file": dg.MetadataValue.path(html_file),
        "block_kit_file": dg.MetadataValue.path(block_kit_file),
    }
    if post and delivery.posts_digests and delivery.post_channel:
        result = deliver_digest(
            slack_chat.get_client(),
            warehouse,
            digest=digest,
            partition_key=partition_key,
            channel=delivery.post_channel,
            message=message,
            lines=lines,
        )
        context.log.info(f"{digest} {partition_key} {result.action} in Slack ({result.channel_id})")
        meta |= result.as_metadata()
    elif post and delivery.post_channel:
        meta["slack_delivery"] = "skipped: no SLACK_BOT_TOKEN"
    else:
        meta["slack_delivery"] = "not configured" if not delivery.post_channel else "not posted"
    return meta


@dg.asset(
    group_name="digest",
    kinds={"markdown", "duckdb", "slack"},
    partitions_def=hourly_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    description=(
        "The hourly digest: per channel and overall, message counts, risk counts per level, "
        "the ranked risks with owner and status against the hour before, resolved threads and "
        "urgent unanswered questions, each citing its source message. Written as Markdown and "
        "HTML to DIGEST_OUTPUT_DIR; posted to DIGEST_POST_CHANNEL when DIGEST_POST_HOURLY is on."
    ),
    metadata=HOURLY.asset_metadata(),
    ins={
        "messages": dg.AssetIn(metadata={"columns": MESSAGE_INPUT_COLUMNS}),
        "risk_assessments": dg.AssetIn(metadata={"columns": RISK_INPUT_COLUMNS}),
    },
)
def hourly_digest(
    context: dg.AssetExecutionContext,
    messages: pd.DataFrame,
    risk_assessments: pd.DataFrame,
    slack_channels: pd.DataFrame,
    slack_users: pd.DataFrame,
    warehouse: Warehouse,
    delivery: DigestDelivery,
    slack_chat: DigestSlackResource,
    llm: LLMResource,
) -> pd.DataFrame:
    start, end = context.partition_time_window
    # People's verdicts on earlier digests (risk_feedback) adjust what the digest reads.
    feedback = read_feedback(warehouse)
    joined = apply_feedback(join_assessments(messages, risk_assessments), feedback)
    allow = frozenset(delivery.private_allow)
    # The hour before the first one comes from the warehouse; later ones from this run.
    previous = apply_feedback(read_window(warehouse, start - HOUR, start), feedback)
    frames = []
    content: DigestContent | None = None
    # A single-run backfill covers many hours: one digest per hour, as if run hour by hour.
    hour = start
    with llm_narrator(context, llm, warehouse, slack_users) as narrator:
        while hour < end:
            nxt = hour + HOUR
            part = joined.loc[(joined["timestamp"] >= hour) & (joined["timestamp"] < nxt)]
            title = f"Hourly digest {hour:%Y-%m-%d %H:%M} UTC"
            inputs = DigestInputs(
                hour, nxt, part, slack_channels, previous, users=slack_users, private_allow=allow
            )
            # The LLM narrates the hour that is read (the last); a backfill's earlier hours keep
            # the extractive summary rather than spend a call each.
            frame, content, _ = build_digests(
                inputs, title, kind="hourly", narrator=narrator if nxt >= end else None
            )
            frames.append(frame)
            previous = part
            hour = nxt
    assert content is not None
    # pandas is untyped here: columns select a frame.
    frame = cast(pd.DataFrame, pd.concat(frames, ignore_index=True)[column_names(HOURLY_SCHEMA)])
    last_key = context.partition_keys[-1]
    overall = frames[-1].loc[frames[-1]["channel_id"] == OVERALL].iloc[0]
    outlets = _Outlets(delivery, slack_chat, warehouse)
    # A backfill of many hours never floods the channel: only single-hour runs post.
    post = delivery.post_hourly and len(context.partition_keys) == 1
    markdown = str(overall["markdown"])
    delivered = _deliver(context, outlets, "hourly", last_key, content, markdown, post=post)
    context.add_output_metadata(
        _metadata(frames[-1], content)
        | delivered
        | _narrative_metadata(narrator)
        | {"hours": len(frames)}
    )
    return frame


@dg.asset(
    group_name="digest",
    kinds={"markdown", "duckdb", "slack"},
    partitions_def=daily_partitions,
    deps=[
        dg.AssetDep("messages", partition_mapping=daily_upstream_mapping()),
        dg.AssetDep("risk_assessments", partition_mapping=daily_upstream_mapping()),
    ],
    description=(
        "The daily digest for the team's local day (DIGEST_TIMEZONE): what to act on (ranked, "
        "with owner and new / escalated / ongoing since the day before), what was resolved, "
        "urgent questions nobody answered, the hourly trend and a per-channel table. Every line "
        "links to its source message. Written to DIGEST_OUTPUT_DIR and, when "
        "DIGEST_POST_CHANNEL is set, posted to Slack (a re-run updates the same post)."
    ),
    metadata=DAILY.asset_metadata(),
)
def daily_digest(
    context: dg.AssetExecutionContext,
    warehouse: Warehouse,
    slack_channels: pd.DataFrame,
    slack_users: pd.DataFrame,
    delivery: DigestDelivery,
    slack_chat: DigestSlackResource,
    llm: LLMResource,
) -> pd.DataFrame:
    frames = []
    meta: dict[str, dg.MetadataValue | int | str] = {}
    outlets = _Outlets(delivery, slack_chat, warehouse)
    # People's verdicts on earlier digests (risk_feedback) adjust what the digest reads.
    feedback = read_feedback(warehouse)
    with llm_narrator(context, llm, warehouse, slack_users) as narrator:
        for key in context.partition_keys:
            start, end = daily_partitions.time_window_for_partition_key(key)
            day = DigestInputs(
                window_start=start,
                window_end=end,
                frame=apply_feedback(read_window(warehouse, start, end), feedback),
                channels=slack_channels,
                previous=apply_feedback(
                    read_window(warehouse, start - (end - start), start), feedback
                ),
                users=slack_users,
                private_allow=frozenset(delivery.private_allow),
            )
            frame, content, _ = build_digests(
                day,
                f"Daily digest {key} ({DIGEST_TIMEZONE})",
                kind="daily",
                trend_freq="h",
                narrator=narrator,
            )
            frame["digest_date"] = key
            frame["timezone"] = DIGEST_TIMEZONE
            frames.append(frame)
            overall = frame.loc[frame["channel_id"] == OVERALL].iloc[0]
            markdown = str(overall["markdown"])
            last = key == context.partition_keys[-1]  # a backfill of many days posts the last
            shown = {c.channel_id for c in content.per_channel}
            # The ignore: isin takes a set; pandas' annotation omits it.
            quoted = day.frame.loc[day.frame["channel_id"].isin(shown)]  # pyright: ignore[reportArgumentType]
            truth = read_truth(warehouse, quoted["id"].tolist())
            meta = (
                _metadata(frame, content)
                | act_on_quality(content, quoted, truth)
                | _deliver(context, outlets, "daily", key, content, markdown, post=last)
            )
    # pandas is untyped here: columns select a frame.
    frame = cast(pd.DataFrame, pd.concat(frames, ignore_index=True)[column_names(DAILY_SCHEMA)])
    context.add_output_metadata(meta | _narrative_metadata(narrator) | {"days": len(frames)})
    return frame
