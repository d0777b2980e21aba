"""The extraction planner: which Slack calls fetch a window's messages, exactly once each.

For a window ``[start, end)`` and each readable channel it

1. pages ``conversations.history`` once over the look-back and the window together
   (``[start - lookback, end)``, pages of 999): the window's top-level messages and thread
   broadcasts, and the look-back's parents whose ``latest_reply`` moved into the window — Slack
   never shows new replies to old threads in a history window, and this is the one signal it gives;
2. calls ``conversations.replies`` for threads that can hold replies in the window (parents in the
   window with replies, and the moved old parents) — never for every old parent — and keeps the
   replies whose ``ts`` is inside the window.

Messages are keyed by ``(channel_id, ts)`` with ``ts`` as Slack's exact string; a thread broadcast
seen by both history and replies is stored once. Re-extracting a window returns its current state,
so edits carry their latest text and deleted messages are gone.

The app's own posts (its digests and alerts, and every reply in their threads) come back in
history like any other message. They are marked here (:attr:`RawMessage.own`, from the
:class:`AppIdentity` that ``auth.test`` reports) so that nothing downstream reads the pipeline's
own output as news; other bots' posts are not touched.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from functools import cached_property
from typing import Any

from digest_pipeline.defs.slack.models import SlackApi, SlackCallError, require_ok
from digest_pipeline.defs.slack.ts import datetime_to_ts, ts_decimal, ts_to_datetime
from digest_pipeline.defs.slack.validate import SLACK_ID, message_problem

# Join/leave/topic messages are extracted too (raw_messages keeps the channel's full record);
# enrichment filters them out of ``messages``.
CHANNEL_TYPES = "public_channel,private_channel"
# Page sizes. History and replies ask for Slack's maximum (999): every hourly run must re-read
# each top-level message of the thread look-back (see ``_extract_channel``), the rate limits
# count calls and not items, and pagination stays correct when Slack returns fewer. The list
# methods keep Slack's recommended 200. ``WebApi`` caps both for the strict rate tier (15).
HISTORY_PAGE_LIMIT = 999
LIST_PAGE_LIMIT = 200
# How many invalid messages are named in metadata (all are counted).
_NAMED_INVALID = 20


@dataclass(frozen=True)
class Window:
    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("window bounds must be time-zone aware")
        if self.end <= self.start:
            raise ValueError(f"empty window: {self.start} .. {self.end}")

    @property
    def oldest(self) -> str:
        return datetime_to_ts(self.start)

    @property
    def latest(self) -> str:
        return datetime_to_ts(self.end)

    @cached_property
    def ts_bounds(self) -> tuple[Decimal, Decimal]:
        return ts_decimal(self.oldest), ts_decimal(self.latest)

    def contains(self, ts: str) -> bool:
        low, high = self.ts_bounds
        return low <= ts_decimal(ts) < high


@dataclass(frozen=True)
class ChannelSelection:
    """Which channels to extract: include/exclude by name or ID; archived skipped by default."""

    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    include_archived: bool = False

    def skip_reason(self, channel: Mapping[str, Any]) -> str | None:
        keys = {str(channel.get("id")), str(channel.get("name"))}
        if self.include and not keys & set(self.include):
            return "not_selected"
        if keys & set(self.exclude):
            return "excluded"
        if channel.get("is_archived") and not self.include_archived:
            return "archived"
        if not channel.get("is_member", False):
            return "not_in_channel"
        return None


def slack_id(value: object) -> str | None:
    """``value`` if it looks like a Slack ID, else ``None`` (never trust an ID's shape)."""
    return value if isinstance(value, str) and SLACK_ID.fullmatch(value) else None


@dataclass(frozen=True)
class AppIdentity:
    """Who the pipeline itself is in the workspace, as ``auth.test`` reports it.

    Its posts carry the bot's ``user`` and ``bot_id`` (and ``app_id``); an identity with no ID
    (an export with no app configured) owns nothing.
    """

    user_id: str | None = None
    bot_id: str | None = None
    app_id: str | None = None

    @classmethod
    def from_auth_test(cls, body: Mapping[str, Any]) -> AppIdentity:
        return cls(
            user_id=slack_id(body.get("user_id")),
            bot_id=slack_id(body.get("bot_id")),
            app_id=slack_id(body.get("app_id")),
        )

    @property
    def known(self) -> bool:
        return bool(self.user_id or self.bot_id or self.app_id)

    def authored(self, message: Mapping[str, Any]) -> bool:
        """The message was posted by this app (as its bot user, its bot or its app)."""
        profile = message.get("bot_profile")
        app_ids = {message.get("app_id"), message.get("api_app_id")}
        if isinstance(profile, Mapping):
            app_ids.add(profile.get("app_id"))
        return bool(
            (self.user_id and message.get("user") == self.user_id)
            or (self.bot_id and message.get("bot_id") == self.bot_id)
            or (self.app_id and self.app_id in app_ids)
        )

    def answers(self, message: Mapping[str, Any]) -> bool:
        """A reply or broadcast in one of this app's threads (Slack's ``parent_user_id``)."""
        parent = message.get("parent_user_id")
        return bool(self.user_id and parent == self.user_id and message.get("thread_ts"))

    def as_metadata(self) -> dict[str, str]:
        return {
            "user_id": self.user_id or "",
            "bot_id": self.bot_id or "",
            "app_id": self.app_id or "",
        }


NO_IDENTITY = AppIdentity()


@dataclass(frozen=True)
class RawMessage:
    channel_id: str
    ts: str
    thread_ts: str | None
    payload: Mapping[str, Any]
    own: bool = False  # the app's own post, or a reply in one of its threads

    @property
    def timestamp(self) -> datetime:
        return ts_to_datetime(self.ts)

    def as_row(self, source: str, extracted_at: datetime) -> dict[str, Any]:
        return {
            "channel_id": self.channel_id,
            "ts": self.ts,
            "thread_ts": self.thread_ts,
            "timestamp": self.timestamp,
            "payload": json.dumps(self.payload, ensure_ascii=False, sort_keys=True),
            "source": source,
            "user_id": self.payload.get("user") or self.payload.get("bot_id"),
            "subtype": self.payload.get("subtype"),
            "is_reply": bool(self.thread_ts and self.thread_ts != self.ts),
            "is_own_post": self.own,
            "extracted_at": extracted_at,
        }


@dataclass(frozen=True)
class ChannelRead:
    """How reading one channel went: ``status`` is ``ok`` or Slack's error code."""

    channel_id: str
    status: str
    method: str | None = None  # the method that failed
    messages: int = 0


@dataclass
class ExtractResult:
    messages: list[RawMessage] = field(default_factory=list)
    skipped_channels: dict[str, str] = field(default_factory=dict)
    reads: list[ChannelRead] = field(default_factory=list)
    channels_read: int = 0
    threads_fetched: int = 0
    moved_threads: int = 0
    lookback_messages_scanned: int = 0
    own_posts: int = 0  # own posts and replies in their threads, marked ``own``
    # Messages a source returned with a field of the wrong shape (see validate.message_problem):
    # counted, the first few named ``<channel>@<index in the sweep>: <problem>``.
    invalid_messages: int = 0
    invalid_message_list: list[str] = field(default_factory=list)

    def add_invalid(self, found: list[str]) -> None:
        self.invalid_messages += len(found)
        self.invalid_message_list.extend(found[: _NAMED_INVALID - len(self.invalid_message_list)])


def paginate(
    api: SlackApi,
    method: str,
    params: Mapping[str, Any],
    key: str,
    *,
    channel: str | None = None,
) -> Iterator[dict[str, Any]]:
    """Yield every item of a cursor-paginated Slack method, checking ``ok`` on every page."""
    cursor: str | None = None
    while True:
        page_params = dict(params)
        if cursor:
            page_params["cursor"] = cursor
        body = require_ok(method, api.call(method, page_params), channel=channel)
        items = body.get(key)
        if not isinstance(items, list):
            raise SlackCallError(method, f"response has no '{key}' list", channel=channel)
        yield from items
        cursor = (body.get("response_metadata") or {}).get("next_cursor") or None
        if not cursor:
            return


def list_channels(api: SlackApi, page_limit: int = LIST_PAGE_LIMIT) -> list[dict[str, Any]]:
    params = {"types": CHANNEL_TYPES, "exclude_archived": "false", "limit": page_limit}
    return list(paginate(api, "conversations.list", params, "channels"))


MAX_JOINS_PER_RUN = 50  # conversations.join is Tier 3 (50+ a minute): one run's worth


def join_channels(
    api: SlackApi, channels: list[dict[str, Any]], selection: ChannelSelection
) -> dict[str, str]:
    """Join the selected public channels the bot is not in (``DIGEST_AUTO_JOIN``); marks the
    joined ones as members in ``channels`` and returns each attempt's outcome by channel ID:
    ``joined`` or ``join_failed: <error>``. A missing ``channels:join`` scope or a rejected token
    stops the attempts at once (every other join would fail the same way)."""
    outcomes: dict[str, str] = {}
    for channel in channels:
        if len(outcomes) >= MAX_JOINS_PER_RUN:
            break
        private = channel.get("is_private") or channel.get("is_group") or channel.get("is_im")
        if private or selection.skip_reason(channel) != "not_in_channel":
            continue
        channel_id = slack_id(channel.get("id"))
        if channel_id is None:
            continue
        try:
            require_ok(
                "conversations.join", api.call("conversations.join", {"channel": channel_id})
            )
        except SlackCallError as e:
            outcomes[channel_id] = f"join_failed: {e.error}"
            if e.is_auth_error or e.error == "missing_scope":
                break
            continue
        channel["is_member"] = True
        outcomes[channel_id] = "joined"
    return outcomes


def list_users(api: SlackApi, page_limit: int = LIST_PAGE_LIMIT) -> list[dict[str, Any]]:
    return list(paginate(api, "users.list", {"limit": page_limit}, "members"))


def workspace_url(api: SlackApi) -> str:
    body = require_ok("auth.test", api.call("auth.test", {}))
    url = str(body.get("url") or "https://slack.com/")
    return url if url.endswith("/") else url + "/"


def app_identity(api: SlackApi) -> AppIdentity:
    """The app's own IDs from ``auth.test`` (none when the source reports none)."""
    return AppIdentity.from_auth_test(require_ok("auth.test", api.call("auth.test", {})))


def _valid(
    messages: Iterator[dict[str, Any]], channel_id: str, invalid: list[str]
) -> Iterator[dict[str, Any]]:
    """The messages whose fields have Slack's shapes; the others are recorded in ``invalid``.
    Validated before anything reads them: a numeric ``ts`` or a ``latest_reply`` of ``"soon"``
    would otherwise fail the whole channel, and a crafted ``user`` reach a posted digest."""
    for index, message in enumerate(messages):
        problem = message_problem(message)
        if problem is None:
            yield message
        else:
            invalid.append(f"{channel_id}@{index}: {problem}")


def _window_messages(
    api: SlackApi,
    channel_id: str,
    window: Window,
    page_limit: int,
    invalid: list[str],
    thread_ts: str | None = None,
) -> Iterator[dict[str, Any]]:
    """The valid messages inside ``window``: of the channel's history, or with ``thread_ts`` the
    replies of that thread (its parent left out)."""
    params: dict[str, Any] = {"channel": channel_id}
    if thread_ts is not None:
        params["ts"] = thread_ts
    params |= {
        "oldest": window.oldest,
        "latest": window.latest,
        "inclusive": "true",
        "limit": page_limit,
    }
    method = "conversations.history" if thread_ts is None else "conversations.replies"
    pages = paginate(api, method, params, "messages", channel=channel_id)
    for message in _valid(pages, channel_id, invalid):
        ts = message["ts"]
        if ts != thread_ts and window.contains(ts):
            yield message


def _has_replies_in(parent: Mapping[str, Any], window: Window) -> bool:
    """Whether a parent's thread can hold replies posted in ``window``.

    ``latest_reply`` at or after the window's start is the only signal Slack gives. A thread whose
    latest reply is *after* the window may or may not have one inside it, so it is fetched too.
    """
    latest_reply = parent.get("latest_reply")
    if not parent.get("reply_count") or not isinstance(latest_reply, str):
        return False
    return ts_decimal(latest_reply) >= window.ts_bounds[0]


@dataclass
class _ChannelExtract:
    messages: list[RawMessage]
    threads: int
    moved: int
    scanned: int
    invalid: list[str]


def _extract_channel(
    api: SlackApi,
    channel_id: str,
    window: Window,
    *,
    lookback: timedelta,
    page_limit: int,
    own: AppIdentity = NO_IDENTITY,
) -> _ChannelExtract:
    found: dict[str, RawMessage] = {}
    threads: list[str] = []
    own_threads: set[str] = set()  # parents the app posted: every reply in them is its own too
    moved = scanned = 0
    invalid: list[str] = []
    # One history scan covers the look-back and the window: Slack limits calls, not items, so
    # reading both in one paginated sweep of large pages costs the fewest calls (see README).
    scan = Window(window.start - lookback, window.end) if lookback > timedelta(0) else window
    for message in _window_messages(api, channel_id, scan, page_limit, invalid):
        ts = message["ts"]
        thread_ts = message.get("thread_ts")
        is_parent = thread_ts == ts
        if own.known and (is_parent or not thread_ts) and own.authored(message):
            own_threads.add(ts)
        if window.contains(ts):
            mine = own.known and (
                own.authored(message) or own.answers(message) or thread_ts in own_threads
            )
            found[ts] = RawMessage(channel_id, ts, thread_ts, message, mine)
            if is_parent and _has_replies_in(message, window):
                threads.append(ts)
            continue
        scanned += 1
        if is_parent and _has_replies_in(message, window):
            threads.append(ts)
            moved += 1
    for thread_ts in threads:
        in_own_thread = thread_ts in own_threads
        replies = _window_messages(api, channel_id, window, page_limit, invalid, thread_ts)
        for reply in replies:
            # A broadcast reply already came from history: keep one copy, the fuller reply form.
            mine = in_own_thread or (own.known and (own.authored(reply) or own.answers(reply)))
            found[reply["ts"]] = RawMessage(channel_id, reply["ts"], thread_ts, reply, mine)
    ordered = sorted(found.values(), key=lambda m: ts_decimal(m.ts))
    return _ChannelExtract(ordered, len(threads), moved, scanned, invalid)


def extract_window(
    api: SlackApi,
    channel_ids: Sequence[str],
    window: Window,
    *,
    lookback: timedelta = timedelta(days=14),
    page_limit: int = HISTORY_PAGE_LIMIT,
    own: AppIdentity = NO_IDENTITY,
    on_progress: Callable[[int, int, str], None] | None = None,
) -> ExtractResult:
    """Extract every readable channel; unreadable ones are skipped and recorded, auth stops.

    ``own`` marks the app's own posts and the replies in their threads (:attr:`RawMessage.own`).
    """
    result = ExtractResult()
    for index, channel_id in enumerate(channel_ids, start=1):
        try:
            found = _extract_channel(
                api, channel_id, window, lookback=lookback, page_limit=page_limit, own=own
            )
        except SlackCallError as e:
            if e.is_channel_error:
                result.skipped_channels[channel_id] = e.error
                result.reads.append(ChannelRead(channel_id, e.error, e.method))
                continue
            raise
        result.messages.extend(found.messages)
        result.reads.append(ChannelRead(channel_id, "ok", messages=len(found.messages)))
        result.channels_read += 1
        result.threads_fetched += found.threads
        result.moved_threads += found.moved
        result.lookback_messages_scanned += found.scanned
        result.own_posts += sum(1 for m in found.messages if m.own)
        result.add_invalid(found.invalid)
        if on_progress:
            on_progress(index, len(channel_ids), channel_id)
    return result
