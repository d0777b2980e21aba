"""``RiskScorer``: which scorer ``risk_assessments`` runs, and the LLM's client and limits.

The OpenAI client comes from dagster-openai's ``OpenAIResource`` (key through
``dg.EnvVar("OPENAI_API_KEY")``, ``base_url`` for any OpenAI-compatible server). That resource
does not expose retries or timeouts, and records usage only for ``chat.completions.create`` (not
``.parse``) by writing output metadata from inside the call, which is not safe from worker
threads. So we take its client, copy it with ``with_options(max_retries=0, timeout=...)`` and
count usage ourselves (``LLMUsage``), with our own retry loop (``llm.LLMRiskScorer``).
"""

from collections.abc import Iterator, Mapping
from contextlib import contextmanager

import dagster as dg
from dagster_openai import OpenAIResource
from openai import OpenAI
from pydantic import Field

from digest_pipeline.defs.risk.llm import LLMConfig
from digest_pipeline.settings import (
    DEFAULT_LLM_BATCH_SIZE,
    DEFAULT_LLM_CONCURRENCY,
    DEFAULT_LLM_MAX_TOKENS_PER_RUN,
    DEFAULT_LLM_MODEL,
    LLM_MODES,
)

SCORER_KINDS = ("model", "llm", "rules")

MODE_TAG = "digest/llm_mode"
COLLECT_TAG = "digest/llm_batch"
# Local OpenAI-compatible servers (Ollama, vLLM) ignore the key, but the client needs one.
LOCAL_SERVER_KEY = "unused-local-server"


class RiskScorer(dg.ConfigurableResource):
    """The learned risk model, the model plus the LLM where the model is unsure, or the rules."""

    kind: str = Field(default="model", description="model, llm (model + LLM) or rules")
    model: str = Field(default=DEFAULT_LLM_MODEL, description="DIGEST_LLM_MODEL")
    mode: str = Field(
        default="sync",
        description="sync, or batch (OpenAI Batch API: half price, answers within 24 h)",
    )
    batch_deadline_hours: float = Field(
        default=24.0, description="Cancel a batch still running this long after submission"
    )
    concurrency: int = Field(default=DEFAULT_LLM_CONCURRENCY, description="Requests in flight")
    batch_messages: int = Field(default=DEFAULT_LLM_BATCH_SIZE, description="Messages a request")
    max_tokens_per_run: int = Field(
        default=DEFAULT_LLM_MAX_TOKENS_PER_RUN, description="Token budget per run (0: none)"
    )
    timeout_seconds: float = Field(default=60.0, description="Per-request timeout")
    max_attempts: int = Field(default=4, description="Attempts per request (429, 5xx, timeout)")
    max_retry_wait_seconds: float = Field(
        default=60.0, description="Longest retry-after to honour before giving up on a request"
    )
    openai: OpenAIResource | None = Field(
        default=None, description="The OpenAI client resource (llm only)"
    )

    @property
    def uses_llm(self) -> bool:
        if self.kind not in SCORER_KINDS:
            raise dg.Failure(f"risk scorer kind {self.kind!r} is not one of {SCORER_KINDS}")
        return self.kind == "llm"

    @property
    def uses_model(self) -> bool:
        """The learned model scores (``model`` and ``llm``); ``rules`` is the old scorer."""
        return self.uses_llm or self.kind == "model"

    def llm_config(self) -> LLMConfig:
        return LLMConfig(
            model=self.model,
            batch_messages=self.batch_messages,
            concurrency=self.concurrency,
            max_attempts=self.max_attempts,
            timeout_seconds=self.timeout_seconds,
            max_tokens_per_run=self.max_tokens_per_run,
            max_retry_wait_seconds=self.max_retry_wait_seconds,
        )

    def run_mode(self, tags: Mapping[str, str]) -> str:
        """``sync``, ``batch`` (submit to the Batch API) or ``collect`` (a run the batch sensor
        requested: read the cache, submit nothing); a run tag ``digest/llm_mode`` overrides
        ``mode`` for one run (a backfill in batch mode while hourly runs stay live)."""
        if tags.get(COLLECT_TAG):
            return "collect"
        mode = tags.get(MODE_TAG) or self.mode
        if mode not in LLM_MODES:
            raise dg.Failure(f"LLM mode {mode!r} is not one of {LLM_MODES}")
        return mode

    @contextmanager
    def plain_client(self) -> Iterator[OpenAI]:
        """A client outside an asset (the batch sensor): the SDK's own retries, for files and
        batches endpoints, which we do not count."""
        if self.openai is None:
            raise dg.Failure("the LLM scorer needs an OpenAIResource (RiskScorer.openai)")
        client = OpenAI(
            api_key=self.openai.api_key,
            organization=self.openai.organization,
            project=self.openai.project,
            base_url=self.openai.base_url,
            max_retries=2,
            timeout=self.timeout_seconds,
        )
        try:
            yield client
        finally:
            client.close()

    @contextmanager
    def client(self, context: dg.AssetExecutionContext) -> Iterator[OpenAI]:
        """An OpenAI client without SDK retries (ours count waits and stop on quota)."""
        if self.openai is None:
            raise dg.Failure("the LLM scorer needs an OpenAIResource (RiskScorer.openai)")
        with self.openai.get_client(context) as client:
            yield client.with_options(max_retries=0, timeout=self.timeout_seconds)


def build_risk_scorer(
    *,
    kind: str,
    model: str,
    has_key: bool,
    base_url: str | None,
    mode: str = "sync",
    concurrency: int = DEFAULT_LLM_CONCURRENCY,
    batch_messages: int = DEFAULT_LLM_BATCH_SIZE,
    max_tokens_per_run: int = DEFAULT_LLM_MAX_TOKENS_PER_RUN,
) -> RiskScorer:
    """The resource for the settings: the key only ever as ``dg.EnvVar``."""
    if kind != "llm":
        return RiskScorer(kind=kind, model=model)
    return RiskScorer(
        kind="llm",
        model=model,
        mode=mode,
        concurrency=concurrency,
        batch_messages=batch_messages,
        max_tokens_per_run=max_tokens_per_run,
        openai=OpenAIResource(
            api_key=dg.EnvVar("OPENAI_API_KEY") if has_key else LOCAL_SERVER_KEY,
            base_url=base_url,
        ),
    )
