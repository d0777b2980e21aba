"""``LLMResource``: the one OpenAI-compatible API every LLM user calls, bound once.

Risk scoring, the digest narrative and ``llm_eval`` all take it as the resource ``llm`` (bound in
``defs/llm/definitions.py``) and open their client and their
:class:`~digest_pipeline.defs.llm.calls.StructuredCaller` here, so they share one key, one
server, one model and one set of limits: each limit is a field of this resource, declared once,
and reaches the calls through :attr:`LLMResource.policy` and :meth:`LLMResource.caller`. The key
is only ever bound as ``dg.EnvVar("OPENAI_API_KEY")`` (:func:`build_llm_resource`), so it never
appears in config, logs or metadata. Clients are built with ``max_retries=0``: the retries are
the caller's own, so every wait is counted and a quota error stops at once.

Why not dagster-openai's ``OpenAIResource``: it records usage only for ``chat.completions.create``
(we call ``chat.completions.with_raw_response.parse``), from inside the call by wrapping the
shared client's methods (not safe from the scorer's worker threads); its client takes neither
``max_retries`` nor ``timeout`` (the SDK's 2 retries and 10 minutes); and it needs an asset or op
context, which the batch sensor and ``digest-eval`` do not have. Our usage is counted by
:class:`~digest_pipeline.defs.llm.calls.LLMUsage` in every asset's metadata instead.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import dagster as dg
from openai import OpenAI
from pydantic import Field

from digest_pipeline.defs.llm.calls import (
    AdaptiveLimiter,
    CallPolicy,
    LLMUsage,
    StructuredCaller,
    TokenBudget,
)
from digest_pipeline.settings import (
    DEFAULT_LLM_CONCURRENCY,
    DEFAULT_LLM_MAX_TOKENS_PER_RUN,
    DEFAULT_LLM_MODEL,
    Settings,
)

# Local OpenAI-compatible servers (Ollama, vLLM) ignore the key, but the client needs one.
LOCAL_SERVER_KEY = "unused-local-server"


class LLMResource(dg.ConfigurableResource):
    """An OpenAI-compatible API: key, server, model, and how hard and how much to call it.

    ``enabled`` is False where the settings turn the LLM off (``DIGEST_SCORER`` resolves to
    ``model`` or ``rules``): the digest keeps its extractive summary and ``llm_eval`` refuses."""

    api_key: str = Field(
        default=LOCAL_SERVER_KEY,
        description="OPENAI_API_KEY (bound as dg.EnvVar); a placeholder for a local server",
    )
    base_url: str | None = Field(default=None, description="OPENAI_BASE_URL; None: OpenAI")
    model: str = Field(default=DEFAULT_LLM_MODEL, description="DIGEST_LLM_MODEL")
    enabled: bool = Field(default=True, description="False: no LLM user may call it")
    concurrency: int = Field(
        default=DEFAULT_LLM_CONCURRENCY, description="DIGEST_LLM_CONCURRENCY: requests in flight"
    )
    max_tokens_per_run: int = Field(
        default=DEFAULT_LLM_MAX_TOKENS_PER_RUN,
        description="DIGEST_LLM_MAX_TOKENS_PER_RUN: token budget per run (0: none)",
    )
    timeout_seconds: float = Field(default=60.0, description="Per-request timeout")
    max_attempts: int = Field(
        default=4, description="Attempts per request on 5xx, timeouts and connection errors"
    )
    backoff_seconds: float = Field(
        default=0.5, description="First wait between attempts without a retry-after (doubles)"
    )
    max_retry_wait_seconds: float = Field(
        default=60.0, description="Longest retry-after to honour before giving up on a request"
    )
    max_rate_limited: int = Field(
        default=8, description="429 retries per request, counted apart from max_attempts"
    )

    @property
    def policy(self) -> CallPolicy:
        return CallPolicy(
            self.model,
            max_attempts=self.max_attempts,
            backoff_seconds=self.backoff_seconds,
            max_retry_wait_seconds=self.max_retry_wait_seconds,
            max_rate_limited=self.max_rate_limited,
        )

    def open_client(self, *, max_retries: int = 0) -> OpenAI:
        """A client of its own (the caller closes it); ``max_retries`` 0: retries are ours."""
        return OpenAI(
            api_key=self.api_key,
            base_url=self.base_url,
            max_retries=max_retries,
            timeout=self.timeout_seconds,
        )

    @contextmanager
    def client(self, *, max_retries: int = 0) -> Iterator[OpenAI]:
        """:meth:`open_client` for the length of a block. ``max_retries=2`` (the SDK's own) is
        for the files and batches endpoints, whose calls we do not count."""
        client = self.open_client(max_retries=max_retries)
        try:
            yield client
        finally:
            client.close()

    def caller(
        self,
        client: OpenAI,
        *,
        purpose: str,
        budget: int | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> StructuredCaller:
        """A caller for one run and ``purpose`` (scoring, narrative, evaluation): the policy,
        up to :attr:`concurrency` requests in flight, under ``budget`` tokens (default: the
        run's whole budget)."""
        return StructuredCaller(
            client,
            self.policy,
            budget=TokenBudget(self.max_tokens_per_run if budget is None else budget),
            usage=LLMUsage(purpose=purpose),
            sleep=sleep,
            limiter=AdaptiveLimiter(self.concurrency, sleep=sleep),
        )


def build_llm_resource(settings: Settings) -> LLMResource:
    """The resource for the settings: the key only ever as ``dg.EnvVar``; enabled where the
    settings choose the LLM scorer."""
    return LLMResource(
        api_key=dg.EnvVar("OPENAI_API_KEY") if settings.has_openai_key else LOCAL_SERVER_KEY,
        base_url=settings.openai_base_url,
        model=settings.llm_model,
        enabled=settings.effective_scorer == "llm",
        concurrency=settings.llm_concurrency,
        max_tokens_per_run=settings.llm_max_tokens_per_run,
    )
