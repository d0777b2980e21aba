"""Structured-output calls to an OpenAI-compatible API under one run's rules.

Every LLM user (the risk scorer, the digest narrative, the on-demand evaluation) calls through
:class:`StructuredCaller`, so they share one behaviour: ``chat.completions.parse`` into a pydantic
schema at temperature 0; retries that honour ``retry-after`` (ours: the client is built with
``max_retries=0``, so every wait is counted); a token budget reserved before each call and
settled with the usage the response reports; and a :class:`Reply` that says why a call failed
instead of raising.

Two things are shared beyond one caller:

* :class:`StopSignal`: ``insufficient_quota`` or a rejected key stops every caller of that key
  and server in the process at once (for :data:`STOP_SECONDS`; the next hourly run tries again).
* :class:`AdaptiveLimiter`: requests in flight. The first request of a run goes alone; the pool
  fans out only once a call has succeeded. A 429 halves the number in flight and pauses every
  worker for its ``retry-after``; each success lets one more request in, up to the configured
  concurrency.
"""

from __future__ import annotations

import email.utils
import hashlib
import json
import random
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
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
    lowest_concurrency: int = 0  # fewest requests in flight the limiter allowed after a 429
    purpose: str = "scoring"  # scoring, narrative or evaluation: what the calls were for
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
            "llm_calls_by_purpose": {self.purpose: self.calls},
            "llm_lowest_concurrency": self.lowest_concurrency,
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
# What callers share: the stop and the number of requests in flight

STOP_SECONDS = 900.0


class StopSignal:
    """Why calls with one key stopped (``insufficient_quota``, ``auth``), for ``ttl`` seconds."""

    def __init__(self, ttl: float = STOP_SECONDS, clock: Callable[[], float] = time.monotonic):
        self.ttl = ttl
        self.clock = clock
        self._reason: str | None = None
        self._at = 0.0
        self._lock = threading.Lock()

    @property
    def reason(self) -> str | None:
        with self._lock:
            if self._reason is not None and self.clock() - self._at > self.ttl:
                self._reason = None
            return self._reason

    def trip(self, reason: str) -> None:
        with self._lock:
            if self._reason is None:
                self._reason, self._at = reason, self.clock()


_STOPS: dict[str, StopSignal] = {}
_STOPS_LOCK = threading.Lock()


def shared_stop(client: openai.OpenAI) -> StopSignal:
    """The process's stop signal for ``client``'s server and key (the key only as a hash)."""
    fingerprint = hashlib.sha256(f"{client.base_url}\0{client.api_key}".encode()).hexdigest()
    with _STOPS_LOCK:
        return _STOPS.setdefault(fingerprint, StopSignal())


class AdaptiveLimiter:
    """Requests in flight: one until a call succeeds, then up to ``maximum``; a 429 halves the
    limit and pauses everyone for ``retry-after``; each success raises the limit by one."""

    def __init__(
        self,
        maximum: int,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.maximum = max(1, maximum)
        self.limit = 1
        self.lowest = self.maximum
        self.sleep = sleep
        self.clock = clock
        self._in_flight = 0
        self._proven = False
        self._resume_at = 0.0
        self._cond = threading.Condition()

    @contextmanager
    def slot(self) -> Iterator[float]:
        """Hold one request slot; yields the seconds waited for a shared pause."""
        with self._cond:
            while self._in_flight >= self.limit:
                self._cond.wait()
            self._in_flight += 1
            resume_at = self._resume_at
            wait = round(resume_at - self.clock(), 3)
        try:
            if wait > 0:
                self.sleep(wait)
                with self._cond:  # the pause is over (also for a test's sleep that is instant)
                    if self._resume_at == resume_at:
                        self._resume_at = 0.0
            yield max(wait, 0.0)
        finally:
            with self._cond:
                self._in_flight -= 1
                self._cond.notify_all()

    def succeeded(self) -> None:
        with self._cond:
            self.limit = self.maximum if not self._proven else min(self.limit + 1, self.maximum)
            self._proven = True
            self._cond.notify_all()

    def rate_limited(self, wait: float) -> None:
        with self._cond:
            self.limit = max(1, self.limit // 2)
            self.lowest = min(self.lowest, self.limit)
            self._resume_at = max(self._resume_at, self.clock() + wait)


# --------------------------------------------------------------------------------------------
# Calling

T = TypeVar("T", bound=BaseModel)


@dataclass(frozen=True)
class CallPolicy:
    """How hard to try: attempts per request on errors, retries on 429 (counted apart: a rate
    limit says "slower", not "broken"), backoff, and the longest server-asked wait.

    Built by :attr:`~digest_pipeline.defs.llm.resources.LLMResource.policy`, where each limit
    is declared (with its default) once."""

    model: str
    max_attempts: int
    backoff_seconds: float
    max_retry_wait_seconds: float
    max_rate_limited: int


@dataclass(frozen=True)
class Reply(Generic[T]):
    """A call's outcome: ``ok`` with the parsed answer (or the model's refusal), ``length`` when
    the answer was cut off, or ``failed`` with a reason (timeout, budget, http_400, ...)."""

    kind: Literal["ok", "length", "failed"]
    parsed: T | None = None
    refusal: str | None = None
    reason: str = ""


class StructuredCaller:
    """Calls ``client.chat.completions.parse`` for one run: shared budget, usage, limiter and
    stop rule.

    Thread-safe: the risk scorer calls from a pool. Once a call meets ``insufficient_quota`` or
    a rejected key, the :class:`StopSignal` of that key is tripped and every later call of any
    caller in the process fails at once with that reason.
    """

    def __init__(
        self,
        client: openai.OpenAI,
        policy: CallPolicy,
        *,
        budget: TokenBudget | None = None,
        usage: LLMUsage | None = None,
        sleep: Callable[[float], None] = time.sleep,
        limiter: AdaptiveLimiter | None = None,
        stop: StopSignal | None = None,
    ) -> None:
        self.client = client
        self.policy = policy
        self.budget = budget or TokenBudget(0)
        self.usage = usage or LLMUsage()
        self.sleep = sleep
        self.limiter = limiter or AdaptiveLimiter(1, sleep=sleep)
        self.stop = stop or shared_stop(client)

    @property
    def stopped(self) -> str | None:
        """Why calls stopped (insufficient_quota, auth), else None."""
        return self.stop.reason

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
        errors = limited = 0
        while True:
            with self.limiter.slot() as paused:
                if paused:
                    usage.add(seconds_waited=paused)
                # Checked after the wait for a slot: a stop tripped meanwhile costs no call.
                if (stopped := self.stop.reason) is not None:
                    return Reply("failed", reason=stopped)
                reserved = input_tokens + max_output_tokens
                if not self.budget.reserve(reserved):
                    return Reply("failed", reason="budget")
                if errors or limited:
                    usage.add(retries=1)
                usage.add(calls=1)
                reply, reason, wait, spent = self._attempt(messages, schema, max_output_tokens)
                self.budget.settle(reserved, reserved if spent is None else spent)
            if reply is not None:
                if reply.kind != "failed" or reply.reason == "malformed":
                    self.limiter.succeeded()  # the server answered: it is not limiting us
                return reply
            if reason == "rate_limited":
                limited += 1
                if wait is None:
                    wait = min(policy.backoff_seconds * 2**limited, 8.0)
                if limited > policy.max_rate_limited or wait > policy.max_retry_wait_seconds:
                    break
                self.limiter.rate_limited(wait)  # the next slot waits, for every worker
                continue
            errors += 1
            if errors >= policy.max_attempts:
                break
            if wait is None:
                wait = min(policy.backoff_seconds * 2 ** (errors - 1), 8.0)
                wait *= 0.75 + random.random() / 4
            if wait > policy.max_retry_wait_seconds:
                break
            usage.add(seconds_waited=wait)
            self.sleep(wait)
        return Reply("failed", reason=reason)

    def _attempt(
        self, messages: list[Mapping[str, str]], schema: type[T], max_output_tokens: int
    ) -> tuple[Reply[T] | None, str, float | None, int | None]:
        """One request: (a final reply or None to retry, the retry reason, the server-asked
        wait, tokens spent or None when nothing reported them)."""
        usage = self.usage
        try:
            raw = self.client.chat.completions.with_raw_response.parse(
                model=self.policy.model,
                messages=messages,  # type: ignore[arg-type]
                response_format=schema,
                temperature=0,
                max_completion_tokens=max_output_tokens,
            )
        except openai.RateLimitError as e:
            usage.add(failed_calls=1, rate_limited=1)
            if e.code == "insufficient_quota":
                self.stop.trip("insufficient_quota")
                return Reply("failed", reason="insufficient_quota"), "", None, 0
            return None, "rate_limited", retry_after_seconds(e.response.headers), 0
        except (openai.AuthenticationError, openai.PermissionDeniedError):
            usage.add(failed_calls=1)
            self.stop.trip("auth")
            return Reply("failed", reason="auth"), "", None, 0
        except openai.APITimeoutError:
            usage.add(failed_calls=1)
            return None, "timeout", None, None
        except openai.APIConnectionError:
            usage.add(failed_calls=1)
            return None, "connection", None, 0
        except openai.APIStatusError as e:
            usage.add(failed_calls=1)
            if e.status_code < 500 and e.status_code not in (408, 409):
                return Reply("failed", reason=f"http_{e.status_code}"), "", None, 0
            return None, "server_error", retry_after_seconds(e.response.headers), 0
        try:
            completion = raw.parse()
        except openai.LengthFinishReasonError as e:
            spent = self._reported(e.completion.usage)
            return Reply("length", reason="length"), "", None, spent
        except openai.ContentFilterFinishReasonError as e:
            # The SDK may raise it without the completion: then no usage was reported.
            spent = self._reported(e.completion.usage if e.completion else None)
            return Reply("failed", reason="refusal"), "", None, spent
        except (ValidationError, ValueError, openai.APIResponseValidationError):
            usage.add(failed_calls=1)
            return Reply("failed", reason="malformed"), "", None, self._reported(_raw_usage(raw))
        message = completion.choices[0].message if completion.choices else None
        spent = self._reported(completion.usage)
        if message is None:
            return Reply("failed", reason="malformed"), "", None, spent
        return Reply("ok", parsed=message.parsed, refusal=message.refusal), "", None, spent

    def _reported(self, reported: Any) -> int | None:
        """Record a response's usage; tokens it reports, or None (charge the reservation)."""
        tokens = self.usage.record(reported)
        return tokens if reported is not None else None


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
