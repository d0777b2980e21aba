"""Polling channels for new messages between hourly runs (what the urgent-message sensor reads).

:func:`poll_history` reads the selected channels' ``conversations.history`` for messages newer
than each channel's cursor — one small page per call (:data:`POLL_PAGE_LIMIT`), at most a budget
of calls a tick (:data:`POLL_CALLS_PER_TICK` by rate tier), channels taken in turn — and returns
the new messages, the app's own posts left out. Judging them is the caller's business.

The cursor is JSON: ``{"latest": {channel_id: newest ts seen}, "offset": n}`` (``offset``: where
the next tick starts when there are more channels than calls). Replies are not polled
(``conversations.history`` does not return them); they reach the next hourly run.
"""

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from digest_pipeline.defs.slack.extract import NO_IDENTITY, AppIdentity
from digest_pipeline.defs.slack.models import SlackApi, SlackCallError, require_ok
from digest_pipeline.defs.slack.ts import datetime_to_ts, ts_decimal

POLL_PAGE_LIMIT = 15
POLL_PAGES_PER_CHANNEL = 2
# History calls per tick by rate tier: Tier 3 allows ~50 a minute and the hourly extraction needs
# most of them; the strict tier (1 a minute) leaves nothing for polling.
POLL_CALLS_PER_TICK = {"tier3": 8, "strict": 0}
POLL_FIRST_LOOKBACK = timedelta(minutes=15)


@dataclass
class HistoryPoll:
    """One tick's reading: the new messages (channel ID, raw message) and the cursor to keep."""

    latest: dict[str, str]
    offset: int
    messages: list[tuple[str, Mapping[str, Any]]] = field(default_factory=list)
    calls: int = 0
    polled: list[str] = field(default_factory=list)
    skipped_messages: int = 0  # a burst beyond the pages one tick reads: left to the hourly run
    own_posts: int = 0  # the app's own posts read past

    @property
    def cursor(self) -> str:
        return json.dumps({"latest": self.latest, "offset": self.offset}, sort_keys=True)


def parse_poll_cursor(raw: str | None) -> tuple[dict[str, str], int]:
    """``(latest ts by channel, offset)`` from a cursor; an unreadable one starts over."""
    if not raw:
        return {}, 0
    try:
        data = json.loads(raw)
        return {str(k): str(v) for k, v in data.get("latest", {}).items()}, int(
            data.get("offset", 0)
        )
    except (ValueError, AttributeError, TypeError):
        return {}, 0  # an unreadable cursor starts over from the first look-back


def _history_page(
    api: SlackApi, channel_id: str, oldest: str, cursor: str | None
) -> Mapping[str, Any]:
    params: dict[str, Any] = {
        "channel": channel_id,
        "oldest": oldest,
        "inclusive": "false",
        "limit": POLL_PAGE_LIMIT,
    }
    if cursor:
        params["cursor"] = cursor
    return require_ok(
        "conversations.history", api.call("conversations.history", params), channel=channel_id
    )


def poll_history(
    api: SlackApi,
    channels: Sequence[tuple[str, str]],
    latest: Mapping[str, str],
    *,
    offset: int,
    budget: int,
    now: datetime,
    own: AppIdentity = NO_IDENTITY,
) -> HistoryPoll:
    """One tick: read each channel's new messages (newest first, in small pages) in turn.
    ``own``'s posts, and broadcasts in their threads, are read past and counted, never returned.
    A channel Slack refuses (archived, left) is passed over; any other Slack error is raised."""
    result = HistoryPoll(dict(latest), offset)
    if not channels or budget <= 0:
        return result
    start = offset % len(channels)
    order = [*channels[start:], *channels[:start]]
    done = 0
    for channel_id, _name in order:
        if result.calls >= budget:
            break
        oldest = latest.get(channel_id) or datetime_to_ts(now - POLL_FIRST_LOOKBACK)
        newest = oldest
        cursor: str | None = None
        pages = 0
        try:
            while result.calls < budget and pages < POLL_PAGES_PER_CHANNEL:
                body = _history_page(api, channel_id, oldest, cursor)
                result.calls += 1
                pages += 1
                for message in body.get("messages") or []:
                    ts = message.get("ts")
                    if not isinstance(ts, str) or ts_decimal(ts) <= ts_decimal(oldest):
                        continue
                    if ts_decimal(ts) > ts_decimal(newest):
                        newest = ts
                    if own.authored(message) or own.answers(message):
                        result.own_posts += 1
                        continue
                    result.messages.append((channel_id, message))
                cursor = (body.get("response_metadata") or {}).get("next_cursor") or None
                if not (body.get("has_more") and cursor):
                    cursor = None
                    break
        except SlackCallError as e:
            if not e.is_channel_error:
                raise
        if cursor:  # still more after the pages we may read: the hourly run will see them
            result.skipped_messages += 1
        result.latest[channel_id] = newest
        result.polled.append(channel_id)
        done += 1
    result.offset = (start + done) % len(channels)
    return result
