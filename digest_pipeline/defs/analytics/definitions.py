"""Analytics: views for analysts over the digest tables (both warehouse backends)."""

import dagster as dg

from digest_pipeline.defs.analytics.assets import analyst_views, analyst_views_automation_sensor
from digest_pipeline.settings import Settings


def build_defs(settings: Settings) -> dg.Definitions:
    return dg.Definitions(assets=[analyst_views], sensors=[analyst_views_automation_sensor])
