"""Score: the ``risk_assessments`` asset and its scorer."""

import dagster as dg

from digest_pipeline.defs.risk import assets
from digest_pipeline.settings import Settings


def build_defs(settings: Settings) -> dg.Definitions:
    return dg.Definitions(
        assets=dg.load_assets_from_modules([assets]),
        asset_checks=dg.load_asset_checks_from_modules([assets]),
    )
