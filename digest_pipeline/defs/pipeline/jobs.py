"""The pipeline's jobs: they run assets of every domain, from Slack to the digests.

The hourly and reconcile jobs carry their assets' cheap checks (reply coverage, the scorer's
recall, the digest's citations) but not the Great Expectations checks on ``messages``: importing
GX costs 3-12 s a run, which would delay every digest and urgent alert. Those run in their own
``messages_quality_job``, requested by ``messages_quality_sensor`` after each new hour.
"""

import dagster as dg

from digest_pipeline.defs.enrichment.checks import MESSAGES_QUALITY_CHECKS

HOURLY_ASSETS = ["slack_channels", "slack_users", "raw_messages", "messages", "risk_assessments"]
HOURLY_SELECTION = dg.AssetSelection.assets(
    *HOURLY_ASSETS, "hourly_digest"
) - dg.AssetSelection.checks(*MESSAGES_QUALITY_CHECKS)

hourly_digest_job = dg.define_asset_job(
    "hourly_digest_job",
    selection=HOURLY_SELECTION,
    description="Extract, enrich, score and digest one UTC hour (or a range, in one run).",
)
daily_reconcile_job = dg.define_asset_job(
    "daily_reconcile_job",
    selection=HOURLY_SELECTION,
    description="Re-extract a local day's hours in one run before its daily digest.",
)
daily_digest_job = dg.define_asset_job(
    "daily_digest_job",
    selection=dg.AssetSelection.assets("daily_digest"),
    description="Build the daily digest of one local day from the reconciled hours.",
)
