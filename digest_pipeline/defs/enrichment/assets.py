"""The ``messages`` asset: raw Slack payloads cleaned and enriched for the GTM team."""

from typing import cast

import dagster as dg
import pandas as pd

from digest_pipeline.defs.enrichment.enrich import enrich_messages
from digest_pipeline.defs.partitions import hourly_partitions
from digest_pipeline.defs.slack.resources import SlackSource
from digest_pipeline.defs.storage.schema import column_names, table_schema

MESSAGES_SCHEMA = table_schema(
    ("id", "VARCHAR", "channel ID:ts (key)"),
    ("channel_id", "VARCHAR", "Slack channel ID"),
    ("channel", "VARCHAR", "Channel name"),
    ("ts", "VARCHAR", "Slack ts, exact string"),
    ("thread_ts", "VARCHAR", "Parent ts for thread parents and replies"),
    ("user_id", "VARCHAR", "Author user ID (or bot ID)"),
    ("user", "VARCHAR", "Author display name"),
    ("content", "VARCHAR", "Readable text: Slack markup resolved, kept whole"),
    ("timestamp", "TIMESTAMPTZ", "When posted (UTC); the partition column"),
    ("message_type", "VARCHAR", "message, reply, broadcast or bot"),
    ("urgency", "VARCHAR", "low, medium, high or critical"),
    ("category", "VARCHAR", "Hardware-GTM category (supply_chain, ...) or none"),
    ("mentions", "JSON", "Mentioned user IDs and here/channel/everyone"),
    ("reactions", "JSON", "Reactions: [{name, count}]"),
    ("sentiment_score", "DOUBLE", "Sentiment in [-1, 1]"),
    ("priority_level", "BIGINT", "1 (lowest) to 5 (most urgent)"),
    ("permalink", "VARCHAR", "Link to the message in Slack"),
    ("is_bot", "BOOLEAN", "Posted by a bot or integration"),
    ("is_reply", "BOOLEAN", "A thread reply"),
    ("parent_id", "VARCHAR", "id of the thread parent, for replies"),
    ("reply_count", "BIGINT", "Replies the parent advertises"),
    ("edited", "BOOLEAN", "Edited after posting"),
    ("subtype", "VARCHAR", "Slack subtype, if any"),
    ("entities", "JSON", "Parts, suppliers, build stages, certifications, dates, amounts, ..."),
    ("content_hash", "VARCHAR", "sha256 of content, for caches"),
)


@dg.asset(
    group_name="enrich",
    kinds={"pandas", "duckdb"},
    partitions_def=hourly_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    description=(
        "Human-readable messages and replies with people, mentions, reactions, threads, urgency, "
        "category, sentiment and hardware-GTM entities. Joins, leaves and topic changes, and "
        "this app's own posts (digests, alerts) with the replies in their threads, are dropped "
        "and counted."
    ),
    metadata={"partition_expr": "timestamp", "dagster/column_schema": MESSAGES_SCHEMA},
)
def messages(
    context: dg.AssetExecutionContext,
    raw_messages: pd.DataFrame,
    slack_users: pd.DataFrame,
    slack_channels: pd.DataFrame,
    slack: SlackSource,
) -> pd.DataFrame:
    urls = slack_channels["workspace_url"].dropna() if len(slack_channels) else pd.Series()
    result = enrich_messages(
        raw_messages,
        slack_users,
        slack_channels,
        workspace_url=str(urls.iloc[0]) if len(urls) else "https://slack.com/",
        include_bots=slack.include_bots,
    )
    # pandas is untyped here: columns select a frame.
    frame = cast(pd.DataFrame, result.frame[column_names(MESSAGES_SCHEMA)])
    context.add_output_metadata(
        {
            "messages": len(frame),
            "raw_messages": len(raw_messages),
            "skipped": {str(k): int(v) for k, v in sorted(result.skipped.items())},
            "by_urgency": frame["urgency"].value_counts().to_dict() if len(frame) else {},
            "by_category": frame["category"].value_counts().to_dict() if len(frame) else {},
        }
    )
    return frame
