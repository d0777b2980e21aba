"""The seam between extraction and the places messages come from.

Every source — the Slack Web API, an official workspace export, the simulated demo workspace —
answers the same Web API methods (``conversations.list``, ``users.list``,
``conversations.history``, ``conversations.replies``, ``auth.test``) with Slack-shaped JSON bodies.
The extraction planner only ever talks to a :class:`SlackApi`, so the demo and the tests run the
very code that production runs.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

# Errors that mean "this one channel cannot be read": skip it visibly, keep going.
CHANNEL_ERRORS = frozenset(
    {"not_in_channel", "channel_not_found", "missing_scope", "is_archived", "access_denied"}
)
# Errors that mean the credentials are wrong: stop the run at once.
AUTH_ERRORS = frozenset(
    {"invalid_auth", "not_authed", "token_revoked", "token_expired", "account_inactive"}
)


class SlackApi(Protocol):
    """Something that answers Slack Web API methods.

    ``call`` returns the decoded JSON body exactly as Slack would, including ``{"ok": false,
    "error": ...}`` bodies: callers must check ``ok`` (see :func:`require_ok`). Transport problems
    that survive the implementation's own retries raise :class:`SlackCallError`.
    """

    stats: ApiStats

    def call(self, method: str, params: Mapping[str, Any]) -> dict[str, Any]: ...


@dataclass
class ApiStats:
    """What talking to Slack cost: reported in materialization metadata."""

    calls: Counter[str] = field(default_factory=Counter)
    rate_limited: int = 0
    seconds_waited: float = 0.0

    def as_metadata(self) -> dict[str, Any]:
        return {
            "api_calls": int(sum(self.calls.values())),
            "api_calls_by_method": dict(sorted(self.calls.items())),
            "rate_limited_responses": self.rate_limited,
            "seconds_waited": round(self.seconds_waited, 3),
        }


class SlackCallError(Exception):
    """A Slack method failed: ``error`` is Slack's error code (or a transport description)."""

    def __init__(self, method: str, error: str, *, channel: str | None = None) -> None:
        self.method = method
        self.error = error
        self.channel = channel
        where = f" for channel {channel}" if channel else ""
        super().__init__(f"Slack {method}{where} failed: {error}")

    @property
    def is_channel_error(self) -> bool:
        return self.error in CHANNEL_ERRORS

    @property
    def is_auth_error(self) -> bool:
        return self.error in AUTH_ERRORS


def require_ok(
    method: str, body: Mapping[str, Any], *, channel: str | None = None
) -> Mapping[str, Any]:
    """Return ``body`` if Slack said ``ok``; raise :class:`SlackCallError` otherwise."""
    if not isinstance(body, Mapping):
        raise SlackCallError(method, f"unexpected response of type {type(body).__name__}")
    if body.get("ok") is not True:
        raise SlackCallError(method, str(body.get("error") or "unknown_error"), channel=channel)
    return body
