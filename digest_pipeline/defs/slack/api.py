"""The Slack Web API through ``slack_sdk.WebClient``, metered for the materialization metadata.

Retries are slack-sdk's own handlers (rate limits honouring ``Retry-After``, 500/503, dropped
connections), bounded by ``max_retries``. They are subclassed only so that every wait goes through
one injectable ``sleep`` and lands in :class:`ApiStats`: 429s received and seconds spent waiting.

Slack's answers come back as they are, ``{"ok": false, ...}`` bodies included; the caller checks
``ok``. Only failures that survive the retries (still 429, still 5xx, no connection) raise
:class:`SlackCallError`. The token lives inside the ``WebClient`` and never appears in a repr,
an exception or the stats.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.client import HTTPException, RemoteDisconnected
from typing import Any
from urllib.error import URLError

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackRequestError
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)
from slack_sdk.http_retry.builtin_interval_calculators import BackoffRetryIntervalCalculator
from slack_sdk.http_retry.handler import RetryHandler
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState

from digest_pipeline.defs.slack.models import ApiStats, SlackCallError

DEFAULT_BASE_URL = "https://slack.com/api/"


@dataclass(frozen=True)
class RateTier:
    """How to pace a Slack app: seconds between two calls of a method, and page-size caps."""

    min_interval_s: Mapping[str, float] = field(default_factory=dict)
    page_limit: Mapping[str, int] = field(default_factory=dict)


# The one table of Slack rate tiers (``DIGEST_SLACK_RATE_TIER``). Internal (customer-built) apps
# and Marketplace apps keep Tier 3 on conversations.history/replies (~50 calls a minute: one call
# every 1.2 s) and Tier 2 on the list methods (~20 a minute). Since 2025, commercially distributed
# non-Marketplace apps get one call a minute and at most 15 items a page on history and replies.
RATE_TIERS: Mapping[str, RateTier] = {
    "tier3": RateTier(
        min_interval_s={
            "conversations.history": 1.2,
            "conversations.replies": 1.2,
            "conversations.list": 3.0,
            "users.list": 3.0,
        }
    ),
    "strict": RateTier(
        min_interval_s={
            "conversations.history": 60.0,
            "conversations.replies": 60.0,
            "conversations.list": 3.0,
            "users.list": 3.0,
        },
        page_limit={"conversations.history": 15, "conversations.replies": 15},
    ),
}
STRICT_MIN_INTERVAL_S: Mapping[str, float] = RATE_TIERS["strict"].min_interval_s
STRICT_PAGE_LIMIT: Mapping[str, int] = RATE_TIERS["strict"].page_limit

Wait = Callable[[float, bool], None]


class _Metered(RetryHandler):
    """Waits between attempts through an injected ``wait`` instead of ``time.sleep``, so every
    wait is counted in :class:`ApiStats` and skipped in tests; :meth:`_delay` says how long
    (by default the SDK's exponential backoff)."""

    _wait: Wait

    def _delay(
        self, state: RetryState, response: HttpResponse | None, error: Exception | None
    ) -> tuple[float, bool]:
        """Seconds to wait before the next attempt, and whether it is a rate-limit wait."""
        return self.interval_calculator.calculate_sleep_duration(state.current_attempt), False

    def prepare_for_next_attempt(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> None:
        seconds, rate_limited = self._delay(state, response, error)
        state.next_attempt_requested = True
        self._wait(seconds, rate_limited)
        state.increment_current_attempt()


class MeteredRateLimitRetryHandler(_Metered, RateLimitErrorRetryHandler):
    """The SDK's 429 handler, waiting ``Retry-After`` (plus jitter) through an injected wait."""

    def __init__(self, wait: Wait, *, max_retry_count: int, jitter_s: float = 1.0) -> None:
        super().__init__(max_retry_count=max_retry_count)
        self._wait = wait
        self._jitter_s = jitter_s

    def _delay(
        self, state: RetryState, response: HttpResponse | None, error: Exception | None
    ) -> tuple[float, bool]:
        if response is None:
            raise error  # type: ignore[misc]  # the SDK's contract: no response, nothing to honour
        return retry_after_seconds(response) + random.random() * self._jitter_s, True


class MeteredServerErrorRetryHandler(_Metered, ServerErrorRetryHandler):
    """The SDK's 500/503 handler with metered backoff, also retrying gateway errors (502/504)."""

    RETRY_STATUSES = frozenset({500, 502, 503, 504})

    def __init__(self, wait: Wait, *, max_retry_count: int, backoff_s: float = 0.5) -> None:
        super().__init__(
            max_retry_count=max_retry_count,
            interval_calculator=BackoffRetryIntervalCalculator(backoff_factor=backoff_s),
        )
        self._wait = wait

    def _can_retry(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        return response is not None and response.status_code in self.RETRY_STATUSES


class MeteredConnectionErrorRetryHandler(_Metered, ConnectionErrorRetryHandler):
    """The SDK's connection-error handler with metered backoff; read timeouts count too."""

    def __init__(self, wait: Wait, *, max_retry_count: int, backoff_s: float = 0.5) -> None:
        super().__init__(
            max_retry_count=max_retry_count,
            interval_calculator=BackoffRetryIntervalCalculator(backoff_factor=backoff_s),
            # Every method this pipeline calls is a read, so repeating a request is safe.
            error_types=[URLError, ConnectionError, RemoteDisconnected, TimeoutError],
        )
        self._wait = wait


def retry_after_seconds(response: HttpResponse, default: float = 1.0) -> float:
    """The ``Retry-After`` header of a 429, in seconds (Slack sends whole seconds)."""
    for name, values in response.headers.items():
        if name.lower() == "retry-after":
            value = values[0] if isinstance(values, list | tuple) else values
            try:
                return max(0.0, float(value))
            except (TypeError, ValueError):
                return default
    return default


class WebApi:
    """:class:`~digest_pipeline.defs.slack.models.SlackApi` over the real Slack Web API.

    ``min_interval_s`` paces methods (seconds between the starts of two calls of one method) and
    ``page_limit`` caps their ``limit`` parameter; :meth:`for_rate_tier` sets both for
    ``DIGEST_SLACK_RATE_TIER``. ``sleep`` and ``clock`` are injectable so tests never wait.
    """

    def __init__(
        self,
        token: str,
        base_url: str = DEFAULT_BASE_URL,
        *,
        timeout: float = 30,
        max_retries: int = 5,
        backoff_s: float = 0.5,
        min_interval_s: Mapping[str, float] | None = None,
        page_limit: Mapping[str, int] | None = None,
        tier: str = "custom",
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not token:
            raise ValueError("a Slack token is required (SLACK_BOT_TOKEN)")
        if max_retries < 0:
            raise ValueError(f"max_retries must be at least 0, not {max_retries}")
        self.base_url = base_url if base_url.endswith("/") else base_url + "/"
        self.max_retries = max_retries
        self.min_interval_s = dict(min_interval_s or {})
        self.page_limit = dict(page_limit or {})
        self.tier = tier
        self.stats = ApiStats()
        self._sleep = sleep
        self._clock = clock
        self._lock = threading.Lock()
        self._last_start: dict[str, float] = {}
        self._client = WebClient(
            token=token,
            base_url=self.base_url,
            timeout=timeout,  # type: ignore[arg-type]  # urllib takes float seconds
            retry_handlers=[
                MeteredRateLimitRetryHandler(self._wait, max_retry_count=max_retries),
                MeteredServerErrorRetryHandler(
                    self._wait, max_retry_count=max_retries, backoff_s=backoff_s
                ),
                MeteredConnectionErrorRetryHandler(
                    self._wait, max_retry_count=max_retries, backoff_s=backoff_s
                ),
            ],
        )

    @classmethod
    def for_rate_tier(
        cls, token: str, base_url: str = DEFAULT_BASE_URL, *, tier: str = "tier3", **kwargs: Any
    ) -> WebApi:
        """A client paced as :data:`RATE_TIERS` says for ``DIGEST_SLACK_RATE_TIER``."""
        rate = RATE_TIERS.get(tier)
        if rate is None:
            allowed = ", ".join(RATE_TIERS)
            raise ValueError(f"unknown Slack rate tier {tier!r}; allowed: {allowed}")
        kwargs.setdefault("min_interval_s", rate.min_interval_s)
        kwargs.setdefault("page_limit", rate.page_limit)
        return cls(token, base_url, tier=tier, **kwargs)

    def __repr__(self) -> str:
        return (
            f"WebApi(base_url={self.base_url!r}, tier={self.tier!r}, "
            f"max_retries={self.max_retries}, min_interval_s={self.min_interval_s!r}, "
            f"page_limit={self.page_limit!r})"
        )

    def call(self, method: str, params: Mapping[str, Any]) -> dict[str, Any]:
        """Call ``method``; Slack's body comes back as is, ``ok: false`` included."""
        with self._lock:
            self.stats.calls[method] += 1
        self._pace(method)
        try:
            response = self._client.api_call(
                method, http_verb="POST", data=self._params(method, params)
            )
        except SlackApiError as e:
            # ``from None``: the SDK's exception holds the request headers, token included.
            return self._error_body(method, e.response.status_code, e.response.data)
        except (SlackRequestError, URLError, OSError, HTTPException) as e:
            raise SlackCallError(
                method,
                f"connection failed after {self.max_retries} retries: {type(e).__name__}: {e}",
            ) from None
        data = response.data
        if not isinstance(data, dict):
            raise SlackCallError(method, f"unexpected {type(data).__name__} response body")
        return data

    def _error_body(self, method: str, status: int, data: Any) -> dict[str, Any]:
        if status == 429:
            with self._lock:
                self.stats.rate_limited += 1
            raise SlackCallError(
                method, f"ratelimited: still HTTP 429 after {self.max_retries} retries"
            ) from None
        if status >= 500:
            raise SlackCallError(
                method, f"server_error: still HTTP {status} after {self.max_retries} retries"
            ) from None
        if isinstance(data, dict) and "ok" in data:
            return data
        raise SlackCallError(method, f"HTTP {status} with an unexpected body") from None

    def _params(self, method: str, params: Mapping[str, Any]) -> dict[str, Any]:
        data = dict(params)
        cap = self.page_limit.get(method)
        if cap is not None:
            try:
                asked = int(data.get("limit") or cap)
            except (TypeError, ValueError):
                asked = cap
            data["limit"] = min(asked, cap) if asked > 0 else cap
        return data

    def _pace(self, method: str) -> None:
        interval = self.min_interval_s.get(method)
        if not interval:
            return
        with self._lock:
            now = self._clock()
            last = self._last_start.get(method)
            start = now if last is None else max(now, last + interval)
            # Claim the slot before sleeping, so concurrent callers queue behind each other.
            self._last_start[method] = start
        if start > now:
            self._wait(start - now, False)

    def _wait(self, seconds: float, rate_limited: bool) -> None:
        with self._lock:
            self.stats.seconds_waited += seconds
            if rate_limited:
                self.stats.rate_limited += 1
        self._sleep(seconds)
