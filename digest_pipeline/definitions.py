"""The code location's root: each domain, and the pipeline layer over them, builds its
definitions from the settings; merge them."""

import dagster as dg

from digest_pipeline.defs.analytics import definitions as analytics
from digest_pipeline.defs.digest import definitions as digest
from digest_pipeline.defs.enrichment import definitions as enrichment
from digest_pipeline.defs.llm import definitions as llm
from digest_pipeline.defs.pipeline import definitions as pipeline
from digest_pipeline.defs.risk import definitions as risk
from digest_pipeline.defs.slack import definitions as slack
from digest_pipeline.defs.storage import definitions as storage
from digest_pipeline.settings import Settings, load_settings


def build_defs(settings: Settings) -> dg.Definitions:
    return dg.Definitions.merge(
        *(
            domain.build_defs(settings)
            for domain in (slack, enrichment, llm, risk, digest, analytics, storage, pipeline)
        )
    )


defs = build_defs(load_settings())
