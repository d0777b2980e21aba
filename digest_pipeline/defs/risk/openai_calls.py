"""Structured-output calls to an OpenAI-compatible API under one run's rules.

Both LLM users (the risk scorer and the digest narrative) call through :class:`StructuredCaller`,
so they share one behaviour: ``chat.completions.parse`` into a pydantic schema at temperature 0;
retries that honour ``retry-after`` (ours: the client is built with ``max_retries=0``, so every
wait is counted); ``insufficient_quota`` and authentication errors stop every later call of the
run; a token budget reserved before each call and settled with the usage the response reports;
and a :class:`Reply` that says why a call failed instead of raising.
"""

from __future__ import annotations

import email.utils
import json
import random
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, Literal, TypeVar

import openai
from pydantic import BaseModel, ValidationError

# --------------------------------------------------------------------------------------------
# Prices (USD per million tokens: input, cached input, output), as published for the models we
# document; the Batch API costs half. Unknown models report usage without a cost estimate.

PRICES_PER_MILLION: dict[str, tuple[float, float, float]] = {
    "gpt-4.1": (2.00, 0.50, 8.00),
    "gpt-4.1-mini": (0.40, 0.10, 1.60),
    "gpt-4.1-nano": (0.10, 0.025, 0.40),
    "gpt-4o": (2.50, 1.25, 10.00),
    "gpt-4o-mini": (0.15, 0.075, 0.60),
}


def estimate_cost(
    model: str, prompt_tokens: int, cached_tokens: int, completion_tokens: int, *, batch: bool
) -> float | None:
    prices = PRICES_PER_MILLION.get(model)
    if prices is None:
        return None
    fresh = max(prompt_tokens - cached_tokens, 0)
    dollars = (fresh * prices[0] + cached_tokens * prices[1] + completion_tokens * prices[2]) / 1e6
    return dollars / 2 if batch else dollars


# --------------------------------------------------------------------------------------------
# Usage and budget


@dataclass
class LLMUsage:
    """What the run spent and how the API behaved; thread-safe."""

    calls: int = 0
    failed_calls: int = 0
    retries: int = 0
    rate_limited: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0
    unmetered_calls: int = 0
    seconds_waited: float = 0.0
    unexpected_ids: int = 0
    split_batches: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, **deltas: float) -> None:
        with self._lock:
            for name, delta in deltas.items():
                setattr(self, name, getattr(self, name) + delta)

    def record(self, usage: Any) -> int:
        """Add a response's ``usage``; returns its total tokens (0 when absent)."""
        if usage is None:
            self.add(unmetered_calls=1)
            return 0
        details = getattr(usage, "prompt_tokens_details", None)
        cached = int(getattr(details, "cached_tokens", 0) or 0) if details is not None else 0
        prompt = int(usage.prompt_tokens or 0)
        completion = int(usage.completion_tokens or 0)
        self.add(prompt_tokens=prompt, completion_tokens=completion, cached_tokens=cached)
        return prompt + completion

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def as_metadata(self, model: str, *, batch: bool = False) -> dict[str, Any]:
        cost = estimate_cost(
            model, self.prompt_tokens, self.cached_tokens, self.completion_tokens, batch=batch
        )
        return {
            "llm_calls": self.calls,
            "llm_failed_calls": self.failed_calls,
            "llm_retries": self.retries,
            "llm_rate_limited": self.rate_limited,
            "llm_prompt_tokens": self.prompt_tokens,
            "llm_completion_tokens": self.completion_tokens,
            "llm_cached_tokens": self.cached_tokens,
            "llm_total_tokens": self.total_tokens,
            "llm_seconds_waited": round(self.seconds_waited, 2),
            "llm_unexpected_ids": self.unexpected_ids,
            "llm_split_batches": self.split_batches,
            "llm_estimated_cost_usd": round(cost, 6) if cost is not None else "unknown model",
        }


class TokenBudget:
    """Tokens this run may still spend; calls reserve before they start. ``limit`` 0: none."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.spent = 0
        self._reserved = 0
        self._lock = threading.Lock()

    def reserve(self, tokens: int) -> bool:
        with self._lock:
            if self.limit and self.spent + self._reserved + tokens > self.limit:
                return False
            self._reserved += tokens
            return True

    def settle(self, reserved: int, actual: int) -> None:
        with self._lock:
            self._reserved -= reserved
            self.spent += actual


def retry_after_seconds(headers: Mapping[str, str] | None) -> float | None:
    """Seconds the server asks us to wait: ``retry-after-ms``, ``retry-after`` (seconds or an
    HTTP date), or None."""
    if not headers:
        return None
    for name, divisor in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        value = headers.get(name)
        if value is None:
            continue
        try:
            return max(float(value) / divisor, 0.0)
        except ValueError:
            parsed = email.utils.parsedate_tz(value)
            if parsed is not None:
                return max(email.utils.mktime_tz(parsed) - time.time(), 0.0)
    return None


# --------------------------------------------------------------------------------------------
# Calling

T = TypeVar("T", bound=BaseModel)


@dataclass(frozen=True)
class CallPolicy:
    """How hard to try: attempts per request, backoff, and the longest server-asked wait."""

    model: str
    max_attempts: int = 4
    backoff_seconds: float = 0.5
    max_retry_wait_seconds: float = 60.0


@dataclass(frozen=True)
class Reply(Generic[T]):
    """A call's outcome: ``ok`` with the parsed answer (or the model's refusal), ``length`` when
    the answer was cut off, or ``failed`` with a reason (timeout, budget, http_400, ...)."""

    kind: Literal["ok", "length", "failed"]
    parsed: T | None = None
    refusal: str | None = None
    reason: str = ""


class StructuredCaller:
    """Calls ``client.chat.completions.parse`` for one run: shared budget, usage and stop rule.

    Thread-safe: the risk scorer calls from a pool. Once a call meets ``insufficient_quota`` or
    a rejected key, :attr:`stopped` is set and every later call fails at once with that reason.
    """

    def __init__(
        self,
        client: openai.OpenAI,
        policy: CallPolicy,
        *,
        budget: TokenBudget | None = None,
        usage: LLMUsage | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.client = client
        self.policy = policy
        self.budget = budget or TokenBudget(0)
        self.usage = usage or LLMUsage()
        self.sleep = sleep
        self._stop = threading.Event()
        self._stop_reason: str | None = None

    @property
    def stopped(self) -> str | None:
        """Why calls stopped for the rest of the run (insufficient_quota, auth), else None."""
        return self._stop_reason

    def _stop_all(self, reason: str) -> None:
        if not self._stop.is_set():
            self._stop_reason = reason
            self._stop.set()

    def _charge(self, reported: Any, reserved: int) -> int:
        """Tokens a call cost: what the response reports, else all that was reserved."""
        tokens = self.usage.record(reported)
        return tokens if reported is not None else reserved

    def parse(
        self,
        messages: Iterable[Mapping[str, str]],
        schema: type[T],
        *,
        input_tokens: int,
        max_output_tokens: int,
    ) -> Reply[T]:
        """One structured answer, retried on 429, 5xx, timeouts and connection errors."""
        policy, usage = self.policy, self.usage
        messages = list(messages)
        reason = "not_scored"
        for attempt in range(policy.max_attempts):
            if self._stop.is_set():
                return Reply("failed", reason=self._stop_reason or "stopped")
            reserved = input_tokens + max_output_tokens
            if not self.budget.reserve(reserved):
                return Reply("failed", reason="budget")
            if attempt:
                usage.add(retries=1)
            usage.add(calls=1)
            spent = reserved  # charged in full unless the response reports its usage
            wait: float | None = None
            try:
                raw = self.client.chat.completions.with_raw_response.parse(
                    model=policy.model,
                    messages=messages,  # type: ignore[arg-type]
                    response_format=schema,
                    temperature=0,
                    max_completion_tokens=max_output_tokens,
                )
                try:
                    completion = raw.parse()
                except openai.LengthFinishReasonError as e:
                    spent = self._charge(e.completion.usage, reserved)
                    return Reply("length", reason="length")
                except openai.ContentFilterFinishReasonError as e:
                    spent = self._charge(e.completion.usage, reserved)
                    return Reply("failed", reason="refusal")
                except (ValidationError, ValueError, openai.APIResponseValidationError):
                    spent = self._charge(_raw_usage(raw), reserved)
                    usage.add(failed_calls=1)
                    return Reply("failed", reason="malformed")
                spent = self._charge(completion.usage, reserved)
                message = completion.choices[0].message if completion.choices else None
                if message is None:
                    return Reply("failed", reason="malformed")
                return Reply("ok", parsed=message.parsed, refusal=message.refusal)
            except openai.RateLimitError as e:
                spent = 0
                usage.add(failed_calls=1, rate_limited=1)
                if e.code == "insufficient_quota":
                    self._stop_all("insufficient_quota")
                    return Reply("failed", reason="insufficient_quota")
                reason = "rate_limited"
                wait = retry_after_seconds(e.response.headers)
            except (openai.AuthenticationError, openai.PermissionDeniedError):
                spent = 0
                usage.add(failed_calls=1)
                self._stop_all("auth")
                return Reply("failed", reason="auth")
            except openai.APITimeoutError:
                usage.add(failed_calls=1)
                reason = "timeout"
            except openai.APIConnectionError:
                spent = 0
                usage.add(failed_calls=1)
                reason = "connection"
            except openai.APIStatusError as e:
                spent = 0
                usage.add(failed_calls=1)
                if e.status_code < 500 and e.status_code not in (408, 409):
                    return Reply("failed", reason=f"http_{e.status_code}")
                reason = "server_error"
                wait = retry_after_seconds(e.response.headers)
            finally:
                self.budget.settle(reserved, spent)
            if attempt + 1 == policy.max_attempts:
                break
            if wait is None:
                wait = min(policy.backoff_seconds * 2**attempt, 8.0) * (0.75 + random.random() / 4)
            if wait > policy.max_retry_wait_seconds:
                break
            usage.add(seconds_waited=wait)
            self.sleep(wait)
        return Reply("failed", reason=reason)


def _raw_usage(raw: Any) -> Any:
    """``usage`` from a raw response whose content failed to parse, if the body has one."""
    try:
        body = json.loads(raw.http_response.text)
        usage = body.get("usage") if isinstance(body, dict) else None
    except (ValueError, AttributeError):
        return None
    if not isinstance(usage, dict):
        return None
    return openai.types.CompletionUsage.model_validate(usage)
