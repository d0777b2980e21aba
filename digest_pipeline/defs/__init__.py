"""The code location's domains (slack, enrichment, risk, digest, analytics, storage) and the
pipeline layer above them (jobs, schedules and sensors that span domains)."""

import warnings

import dagster as dg

# Two Dagster features this project uses on purpose, flagged on every load of the code: the
# single-run backfill policy (beta) and partitioned asset checks (preview). Silenced by their
# exact message, so any other beta or preview warning still shows.
warnings.filterwarnings(
    "ignore", message=r"Parameter `backfill_policy` of function", category=dg.BetaWarning
)
warnings.filterwarnings(
    "ignore",
    message=r"Specifying a partitions_def on an AssetCheckSpec",
    category=dg.PreviewWarning,
)
