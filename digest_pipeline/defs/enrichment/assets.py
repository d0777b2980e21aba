"""The ``messages`` asset: raw Slack payloads cleaned and enriched for the GTM team."""

from typing import cast

import dagster as dg
import pandas as pd

from digest_pipeline import contract
from digest_pipeline.defs.enrichment.enrich import enrich_messages
from digest_pipeline.defs.partitions import hourly_partitions
from digest_pipeline.defs.slack.resources import SlackSource
from digest_pipeline.defs.storage.schema import column_names

MESSAGES = contract.table("messages", "asset")
MESSAGES_SCHEMA = MESSAGES.schema


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
    metadata=MESSAGES.asset_metadata(),
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
