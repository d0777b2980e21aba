"""Slack's Web API semantics, written once for every source that answers in-process.

The workspace export (:mod:`.export`), the demo workspace and the test suite's fake Slack server
answer ``conversations.list``, ``users.list``, ``conversations.history`` and
``conversations.replies`` the way Slack does; the parts they share live here: reading the
parameters (``limit``, booleans, ``types``, ``oldest``/``latest``/``inclusive``), opaque
cursors, error bodies, and pages over lists, histories and threads.

``conversations.history`` is newest first (top-level messages, thread parents and broadcasts;
the cursor continues below the last ``ts`` returned); ``conversations.replies`` is the parent
first, then the replies oldest first; list methods page by offset.
"""

from __future__ import annotations

import base64
import binascii
import copy
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from digest_pipeline.defs.slack.ts import ts_decimal

# Slack's own bounds for ``limit`` on the conversations.* and users.list methods.
MAX_LIMIT = 999


def param_str(params: Mapping[str, Any], name: str) -> str | None:
    value = params.get(name)
    if value is None or value == "":
        return None
    return str(value)


def param_bool(params: Mapping[str, Any], name: str, default: bool = False) -> bool:
    value = params.get(name)
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in {"1", "true", "yes"}


def param_limit(params: Mapping[str, Any], default: int, cap: int = MAX_LIMIT) -> int:
    try:
        limit = int(params.get("limit") or default)
    except (TypeError, ValueError):
        limit = default
    # Slack treats 0 as "the default" and clamps large values.
    return default if limit <= 0 else min(limit, cap)


def error(code: str) -> dict[str, Any]:
    return {"ok": False, "error": code}


@dataclass(frozen=True)
class TsWindow:
    """``oldest``/``latest``/``inclusive`` of a history or replies call."""

    oldest: Decimal | None = None
    latest: Decimal | None = None
    inclusive: bool = False

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> TsWindow | dict[str, Any]:
        """The window, or Slack's error body for an unparseable bound."""
        bounds: dict[str, Decimal | None] = {}
        for name in ("oldest", "latest"):
            raw = param_str(params, name)
            try:
                bounds[name] = None if raw is None else ts_decimal(raw)
            except ValueError:
                return error(f"invalid_ts_{name}")
        oldest, latest = bounds["oldest"], bounds["latest"]
        return cls(oldest, latest, param_bool(params, "inclusive"))

    def contains(self, ts: Decimal) -> bool:
        if self.oldest is not None and (
            ts < self.oldest or (ts == self.oldest and not self.inclusive)
        ):
            return False
        return not (
            self.latest is not None
            and (ts > self.latest or (ts == self.latest and not self.inclusive))
        )

    def days(self, margin: timedelta = timedelta(days=1)) -> tuple[date | None, date | None]:
        """The day range whose files can hold messages of this window, widened by ``margin``."""

        def day(value: Decimal | None) -> date | None:
            if value is None:
                return None
            return datetime.fromtimestamp(int(value), tz=UTC).date()

        first, last = day(self.oldest), day(self.latest)
        return (first - margin if first else None, last + margin if last else None)


def encode_cursor(kind: str, value: str) -> str:
    return base64.urlsafe_b64encode(f"{kind}:{value}".encode()).decode()


def decode_cursor(cursor: str, kind: str) -> str | None:
    try:
        decoded = base64.urlsafe_b64decode(cursor.encode()).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    prefix, _, value = decoded.partition(":")
    return value if prefix == kind and value else None


def ts_cursor(params: Mapping[str, Any]) -> Decimal | dict[str, Any] | None:
    """The ``ts`` a history or replies cursor continues from (None: the first page), or
    Slack's error body for a cursor this source did not hand out."""
    cursor = param_str(params, "cursor")
    if cursor is None:
        return None
    value = decode_cursor(cursor, "next_ts")
    try:
        return ts_decimal(value)
    except ValueError:
        return error("invalid_cursor")


def is_history_message(message: Mapping[str, Any]) -> bool:
    """What ``conversations.history`` shows: top-level messages, thread parents and broadcasts."""
    thread_ts = message.get("thread_ts")
    return (
        thread_ts is None
        or thread_ts == message.get("ts")
        or message.get("subtype") == "thread_broadcast"
    )


def is_reply(message: Mapping[str, Any]) -> bool:
    thread_ts = message.get("thread_ts")
    return thread_ts is not None and thread_ts != message.get("ts")


def thread_summary(replies: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The fields Slack puts on a thread parent, from the replies present."""
    ordered = sorted(replies, key=lambda m: ts_decimal(m["ts"]))
    users = list(dict.fromkeys(str(m["user"]) for m in ordered if m.get("user")))
    return {
        "reply_count": len(ordered),
        "reply_users_count": len(users),
        "reply_users": users,
        "latest_reply": ordered[-1]["ts"] if ordered else None,
    }


def history_page(
    messages: Iterable[Mapping[str, Any]], params: Mapping[str, Any]
) -> dict[str, Any]:
    """One ``conversations.history`` page over a channel's history messages (any order).

    Newest first; the cursor continues below the last ``ts`` returned, so a message deleted
    between pages never shifts the next page.
    """
    return sorted_history_page(SortedHistory.of(messages), params)


@dataclass(frozen=True)
class SortedHistory:
    """History messages sorted by ``ts`` (oldest first) with their exact ``ts`` values, built
    once so that paging a large channel costs a binary search per page, not a sort."""

    keys: Sequence[Decimal]
    messages: Sequence[Mapping[str, Any]]

    @classmethod
    def of(cls, messages: Iterable[Mapping[str, Any]]) -> SortedHistory:
        keyed = sorted(
            ((ts_decimal(m["ts"]), m) for m in messages if is_history_message(m)),
            key=lambda pair: pair[0],
        )
        return cls([k for k, _ in keyed], [m for _, m in keyed])

    def span(self, window: TsWindow, below: Decimal | None) -> tuple[int, int]:
        """Index range of the messages inside ``window`` and older than ``below``."""
        keys, inclusive = self.keys, window.inclusive
        low, high = 0, len(keys)
        if window.oldest is not None:
            low = (bisect_left if inclusive else bisect_right)(keys, window.oldest)
        if window.latest is not None:
            high = (bisect_right if inclusive else bisect_left)(keys, window.latest)
        if below is not None:
            high = min(high, bisect_left(keys, below))
        return low, max(low, high)


@dataclass(frozen=True)
class PageRequest:
    """What one history or replies call asks for: its window, page size and cursor position."""

    window: TsWindow
    limit: int
    cursor: Decimal | None

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> PageRequest | dict[str, Any]:
        """The request, or Slack's error body for an unparseable bound or cursor."""
        window = TsWindow.from_params(params)
        if isinstance(window, dict):
            return window
        cursor = ts_cursor(params)
        if isinstance(cursor, dict):
            return cursor
        return cls(window, param_limit(params, 100), cursor)


def sorted_history_page(history: SortedHistory, params: Mapping[str, Any]) -> dict[str, Any]:
    """:func:`history_page` over messages already sorted."""
    request = PageRequest.from_params(params)
    if isinstance(request, dict):
        return request
    low, high = history.span(request.window, request.cursor)
    start = max(low, high - request.limit)
    page, more = list(history.messages[start:high])[::-1], start > low
    body: dict[str, Any] = {
        "ok": True,
        "messages": [copy.deepcopy(dict(m)) for m in page],
        "has_more": more,
        "pin_count": 0,
    }
    if more:
        body["response_metadata"] = {"next_cursor": encode_cursor("next_ts", page[-1]["ts"])}
    return body


def replies_page(
    parent: Mapping[str, Any], replies: Iterable[Mapping[str, Any]], params: Mapping[str, Any]
) -> dict[str, Any]:
    """One ``conversations.replies`` page: the parent first (on every page, as Slack does),
    then the replies inside the window, oldest first."""
    request = PageRequest.from_params(params)
    if isinstance(request, dict):
        return request
    window, above = request.window, request.cursor
    keyed = sorted(((ts_decimal(m["ts"]), m) for m in replies), key=lambda pair: pair[0])
    selected = [m for ts, m in keyed if window.contains(ts) and (above is None or ts > above)]
    # The parent counts towards the page size, so a page never exceeds ``limit`` items.
    size = max(1, request.limit - 1)
    page, more = selected[:size], len(selected) > size
    body: dict[str, Any] = {
        "ok": True,
        "messages": [copy.deepcopy(dict(m)) for m in [parent, *page]],
        "has_more": more,
    }
    if more:
        body["response_metadata"] = {"next_cursor": encode_cursor("next_ts", page[-1]["ts"])}
    return body


def list_page(
    items: Sequence[Mapping[str, Any]], params: Mapping[str, Any], key: str
) -> dict[str, Any]:
    """One page of ``conversations.list`` / ``users.list``: offset cursors, Slack's shape."""
    limit = param_limit(params, 100)
    start = 0
    if cursor := param_str(params, "cursor"):
        value = decode_cursor(cursor, "offset")
        if value is None or not value.isdigit():
            return error("invalid_cursor")
        start = int(value)
    page = items[start : start + limit]
    end = start + len(page)
    next_cursor = encode_cursor("offset", str(end)) if end < len(items) else ""
    return {
        "ok": True,
        key: [copy.deepcopy(dict(item)) for item in page],
        "response_metadata": {"next_cursor": next_cursor},
    }


CONVERSATION_TYPES = ("public_channel", "private_channel", "mpim", "im")


def conversation_types(params: Mapping[str, Any]) -> set[str] | dict[str, Any]:
    raw = param_str(params, "types") or "public_channel"
    types = {t.strip() for t in raw.split(",") if t.strip()}
    if not types <= set(CONVERSATION_TYPES):
        return error("invalid_types")
    return types


def conversation_type(channel: Mapping[str, Any]) -> str:
    if channel.get("is_im"):
        return "im"
    if channel.get("is_mpim"):
        return "mpim"
    return "private_channel" if channel.get("is_private") else "public_channel"


def conversations_page(
    channels: Iterable[Mapping[str, Any]], params: Mapping[str, Any]
) -> dict[str, Any]:
    """One ``conversations.list`` page over the conversations the caller may see: those of the
    asked ``types``, less the archived ones when ``exclude_archived``."""
    types = conversation_types(params)
    if isinstance(types, dict):
        return types
    exclude_archived = param_bool(params, "exclude_archived")
    listed = [
        c
        for c in channels
        if conversation_type(c) in types and not (exclude_archived and c.get("is_archived"))
    ]
    return list_page(listed, params, "channels")
