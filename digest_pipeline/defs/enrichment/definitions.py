"""Enrich: the ``messages`` asset and its data-quality checks."""

import dagster as dg

from digest_pipeline.defs.enrichment import assets, checks
from digest_pipeline.settings import Settings


def build_defs(settings: Settings) -> dg.Definitions:
    return dg.Definitions(
        assets=dg.load_assets_from_modules([assets]),
        asset_checks=dg.load_asset_checks_from_modules([assets, checks]),
        jobs=[checks.messages_quality_job],
        sensors=[checks.messages_quality_sensor],
    )
