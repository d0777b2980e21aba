"""LLM: the one ``LLMResource``, bound as ``llm`` for every user (the llm risk scorer, the
digest narrative, ``llm_eval`` and the batch sensor)."""

import dagster as dg

from digest_pipeline.defs.llm.resources import build_llm_resource
from digest_pipeline.settings import Settings


def build_defs(settings: Settings) -> dg.Definitions:
    return dg.Definitions(resources={"llm": build_llm_resource(settings)})
