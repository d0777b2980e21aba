"""Analytics: views for analysts over the digest tables (both warehouse backends)."""

import dagster as dg

from digest_pipeline.defs.analytics.assets import analyst_views, analyst_views_automation_sensor
from digest_pipeline.settings import Settings

analyst_views_job = dg.define_asset_job(
    "analyst_views_job",
    selection=[analyst_views],
    description="(Re)create the analyst views; `digest-demo` runs it after the daily digests.",
)


def build_defs(settings: Settings) -> dg.Definitions:
    return dg.Definitions(
        assets=[analyst_views],
        jobs=[analyst_views_job],
        sensors=[analyst_views_automation_sensor],
    )
