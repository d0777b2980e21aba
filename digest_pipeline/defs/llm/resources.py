"""``LLMResource``: the one OpenAI-compatible API every LLM user calls, bound once.

Risk scoring, the digest narrative and ``llm_eval`` all open their client and their
:class:`~digest_pipeline.defs.llm.calls.StructuredCaller` here, so they share one key, one
server, one model and one set of limits. The key is only ever bound as
``dg.EnvVar("OPENAI_API_KEY")`` (:func:`build_llm_resource`), so it never appears in config, logs
or metadata. Clients are built with ``max_retries=0``: the retries are the caller's own, so
every wait is counted and a quota error stops at once. (dagster-openai's ``OpenAIResource``
exposes neither retries nor timeouts and records usage only for ``chat.completions.create``, from
inside the call, which is not safe from worker threads.)
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
)

# Local OpenAI-compatible servers (Ollama, vLLM) ignore the key, but the client needs one.
LOCAL_SERVER_KEY = "unused-local-server"


class LLMResource(dg.ConfigurableResource):
    """An OpenAI-compatible API: key, server, model, and how hard and how much to call it."""

    api_key: str = Field(
        default=LOCAL_SERVER_KEY,
        description="OPENAI_API_KEY (bound as dg.EnvVar); a placeholder for a local server",
    )
    base_url: str | None = Field(default=None, description="OPENAI_BASE_URL; None: OpenAI")
    model: str = Field(default=DEFAULT_LLM_MODEL, description="DIGEST_LLM_MODEL")
    concurrency: int = Field(default=DEFAULT_LLM_CONCURRENCY, description="Requests in flight")
    max_tokens_per_run: int = Field(
        default=DEFAULT_LLM_MAX_TOKENS_PER_RUN, description="Token budget per run (0: none)"
    )
    timeout_seconds: float = Field(default=60.0, description="Per-request timeout")
    max_attempts: int = Field(default=4, description="Attempts per request (429, 5xx, timeout)")
    max_retry_wait_seconds: float = Field(
        default=60.0, description="Longest retry-after to honour before giving up on a request"
    )

    @property
    def policy(self) -> CallPolicy:
        return CallPolicy(
            self.model,
            max_attempts=self.max_attempts,
            max_retry_wait_seconds=self.max_retry_wait_seconds,
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
        policy: CallPolicy | None = None,
        limiter: AdaptiveLimiter | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> StructuredCaller:
        """A caller for one run and ``purpose`` (scoring, narrative, evaluation), under
        ``budget`` tokens (default: the run's whole budget)."""
        return StructuredCaller(
            client,
            policy or self.policy,
            budget=TokenBudget(self.max_tokens_per_run if budget is None else budget),
            usage=LLMUsage(purpose=purpose),
            sleep=sleep,
            limiter=limiter,
        )


def build_llm_resource(
    *,
    model: str,
    has_key: bool,
    base_url: str | None,
    concurrency: int = DEFAULT_LLM_CONCURRENCY,
    max_tokens_per_run: int = DEFAULT_LLM_MAX_TOKENS_PER_RUN,
) -> LLMResource:
    """The resource for the settings: the key only ever as ``dg.EnvVar``."""
    return LLMResource(
        api_key=dg.EnvVar("OPENAI_API_KEY") if has_key else LOCAL_SERVER_KEY,
        base_url=base_url,
        model=model,
        concurrency=concurrency,
        max_tokens_per_run=max_tokens_per_run,
    )
