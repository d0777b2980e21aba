"""An official Slack workspace export, answering the Web API methods the extraction planner uses.

A standard export (ZIP or unzipped folder) holds ``channels.json`` and ``users.json``, plus
``groups.json`` (private channels), ``dms.json`` and ``mpims.json`` when the export includes them,
and one folder per conversation (by name; direct messages by ID) with ``YYYY-MM-DD.json`` day
files, each a JSON list of messages. Thread replies sit inline in the day file of the day they
were posted, with ``thread_ts`` pointing at their parent.

:class:`ExportApi` serves that data through the same ``call(method, params)`` seam as the Web API,
with Slack's semantics for ``conversations.history`` (top-level messages and broadcasts, newest
first, ``oldest``/``latest``/``inclusive``/``limit``/``cursor``) and ``conversations.replies``
(parent first, then replies oldest first). Day files are parsed on demand and cached, so an hourly
window reads a few files, not the whole export.

An export is untrusted input. Every file is size-checked before it is read — from the ZIP
directory or the file system — and again while it is read in chunks, since a ZIP directory can
lie (:class:`ExportLimits`); an oversized file is skipped and named, never read whole. Each
message and each channel or user entry is validated where it enters (:mod:`.validate`): a bad one
is one counted skip (:attr:`ExportApi.skipped_records`), never a lost day file or a failed run.
Bytes that are not UTF-8 are decoded with replacement characters and the file is named in
:attr:`ExportApi.decode_warnings`, so a bad byte in a name never costs the whole user list.

The paging helpers here (:func:`history_page`, :func:`replies_page`, :func:`list_page`) hold
those semantics in one place; the test suite's fake Slack workspace serves from them too.
"""

from __future__ import annotations

import base64
import binascii
import copy
import json
import re
import threading
import zipfile
import zlib
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal, Protocol

from digest_pipeline.defs.slack.models import ApiStats
from digest_pipeline.defs.slack.validate import is_message_ts, is_slack_id, message_problem

DEFAULT_EXPORT_URL = "https://export.slack.com/"
# ``auth.test`` fields an own-app ID fills, by its prefix: bot user (U, or W on Enterprise Grid),
# bot (B), app (A).
_OWN_ID_FIELDS = {"U": "user_id", "W": "user_id", "B": "bot_id", "A": "app_id"}
_OWN_ID = re.compile(r"[UWBA][A-Z0-9]{2,31}")


def own_app_fields(ids: Iterable[str]) -> dict[str, str]:
    """``auth.test`` identity fields for the IDs of the app whose posts in an export are the
    pipeline's own (``SLACK_EXPORT_OWN_APP``); raises ``ValueError`` on anything else."""
    fields: dict[str, str] = {}
    for value in ids:
        if not _OWN_ID.fullmatch(value):
            raise ValueError(f"{value[:40]!r} is not a bot user (U…/W…), bot (B…) or app (A…) ID")
        field = _OWN_ID_FIELDS[value[0]]
        if field in fields and fields[field] != value:
            raise ValueError(f"two {field} values: {fields[field]} and {value}")
        fields[field] = value
    return fields


_DAY_FILE = re.compile(r"^(\d{4}-\d{2}-\d{2})\.json$")
_TS = re.compile(r"^\d+(\.\d+)?$")
# Slack's own bounds for ``limit`` on the conversations.* and users.list methods.
_MAX_LIMIT = 999
_READ_CHUNK = 1 << 20
# How many skipped records are named in metadata (all are counted).
_NAMED_SKIPS = 50

Message = dict[str, Any]


@dataclass(frozen=True)
class ExportLimits:
    """Size limits on an untrusted export.

    ``max_file_bytes`` bounds each file (uncompressed); a real channel-day is rarely past a few
    MB, and a file parses to about 8 times its size in Python objects. ``max_message_bytes``
    bounds one message's JSON; Slack caps text at 40,000 characters, and blocks, files and
    attachments stay far below a MiB.
    """

    max_file_bytes: int = 32 << 20
    max_message_bytes: int = 1 << 20

    def __post_init__(self) -> None:
        if self.max_file_bytes <= 0 or self.max_message_bytes <= 0:
            raise ValueError("export size limits must be positive")


class _Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


class _TooLarge(ValueError):
    pass


def read_bounded(stream: _Readable, limit: int) -> bytes:
    """All of ``stream``, read in chunks; raises ``ValueError`` once it passes ``limit`` bytes,
    whatever size its container declared."""
    chunks: list[bytes] = []
    total = 0
    while chunk := stream.read(min(_READ_CHUNK, limit - total + 1)):
        total += len(chunk)
        if total > limit:
            raise _TooLarge(f"too large: more than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


class ExportFormatError(ValueError):
    """A file in a workspace export is missing or malformed; ``file`` is its path in the export."""

    def __init__(self, file: str, reason: str, *, export: str | None = None) -> None:
        self.file = file
        self.reason = reason
        where = f" (export {export})" if export else ""
        super().__init__(f"Slack export file {file}{where}: {reason}")


# --------------------------------------------------------------------------------------------
# Slack semantics shared by every in-process source: ts values, windows, cursors, pages.


def ts_value(ts: object) -> Decimal:
    """A ``ts`` string as an exact number for comparison; the string itself is never changed."""
    if not isinstance(ts, str) or not _TS.match(ts):
        raise ValueError(f"not a Slack ts: {ts!r}")
    return Decimal(ts)


def ts_date(ts: str) -> date:
    return datetime.fromtimestamp(int(ts_value(ts)), tz=UTC).date()


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


def param_limit(params: Mapping[str, Any], default: int) -> int:
    try:
        limit = int(params.get("limit") or default)
    except (TypeError, ValueError):
        limit = default
    # Slack treats 0 as "the default" and clamps large values.
    return default if limit <= 0 else min(limit, _MAX_LIMIT)


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
            if raw is not None and not _TS.match(raw):
                return error(f"invalid_ts_{name}")
            bounds[name] = None if raw is None else Decimal(raw)
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
    ordered = sorted(replies, key=lambda m: ts_value(m["ts"]))
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
            ((ts_value(m["ts"]), m) for m in messages if is_history_message(m)),
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


def sorted_history_page(history: SortedHistory, params: Mapping[str, Any]) -> dict[str, Any]:
    """:func:`history_page` over messages already sorted."""
    window = TsWindow.from_params(params)
    if isinstance(window, dict):
        return window
    limit = param_limit(params, 100)
    below: Decimal | None = None
    if cursor := param_str(params, "cursor"):
        value = decode_cursor(cursor, "next_ts")
        if value is None:
            return error("invalid_cursor")
        below = Decimal(value)
    low, high = history.span(window, below)
    start = max(low, high - limit)
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
    window = TsWindow.from_params(params)
    if isinstance(window, dict):
        return window
    limit = param_limit(params, 100)
    above: Decimal | None = None
    if cursor := param_str(params, "cursor"):
        value = decode_cursor(cursor, "next_ts")
        if value is None:
            return error("invalid_cursor")
        above = Decimal(value)
    keyed = sorted(((ts_value(m["ts"]), m) for m in replies), key=lambda pair: pair[0])
    selected = [m for ts, m in keyed if window.contains(ts) and (above is None or ts > above)]
    # The parent counts towards the page size, so a page never exceeds ``limit`` items.
    size = max(1, limit - 1)
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


# --------------------------------------------------------------------------------------------
# Reading the export's files.


class _Files:
    """Read-only access to the export's files by their path inside the export."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._zip: zipfile.ZipFile | None = None
        self._prefix = ""
        if path.is_dir():
            if not (path / "channels.json").is_file():
                raise ExportFormatError(
                    "channels.json",
                    "missing: a Slack export folder holds channels.json at its top level",
                    export=str(path),
                )
            self._names = sorted(
                p.relative_to(path).as_posix() for p in path.rglob("*.json") if p.is_file()
            )
        elif path.is_file() and zipfile.is_zipfile(path):
            self._zip = zipfile.ZipFile(path)
            names = [n for n in self._zip.namelist() if not n.endswith("/")]
            if "channels.json" not in names:
                # A re-zipped export folder puts everything under one top-level directory.
                nested = [n for n in names if n.count("/") == 1 and n.endswith("/channels.json")]
                if len(nested) != 1:
                    raise ExportFormatError(
                        "channels.json",
                        "missing: a Slack export ZIP holds channels.json at its top level",
                        export=str(path),
                    )
                self._prefix = nested[0].removesuffix("channels.json")
            self._names = sorted(
                n.removeprefix(self._prefix) for n in names if n.startswith(self._prefix)
            )
        else:
            raise ExportFormatError(
                str(path),
                "not a Slack workspace export: expected a ZIP file or a folder with channels.json",
            )

        self._name_set = set(self._names)

    def names(self) -> list[str]:
        return self._names

    def exists(self, name: str) -> bool:
        return name in self._name_set

    def size(self, name: str) -> int:
        """The uncompressed size the ZIP directory (or the file system) declares."""
        if self._zip is not None:
            return self._zip.getinfo(self._prefix + name).file_size
        return (self.path / name).stat().st_size

    def read(self, name: str, limit: int) -> bytes:
        """The file's bytes, read in chunks and never past ``limit`` (``ValueError`` if it is
        longer). Python's ``zipfile`` also stops at the declared size and checks the CRC, so a
        directory that understates a member makes it unreadable rather than large."""
        if self._zip is not None:
            with self._lock, self._zip.open(self._prefix + name) as member:
                return read_bounded(member, limit)
        with (self.path / name).open("rb") as file:
            return read_bounded(file, limit)

    def close(self) -> None:
        if self._zip is not None:
            self._zip.close()


@dataclass(frozen=True)
class _Conversation:
    id: str
    folder: str
    info: dict[str, Any]


# Which list file holds which conversation type, and how Slack marks it.
_LIST_FILES: dict[str, tuple[str, dict[str, bool]]] = {
    "channels.json": (
        "public_channel",
        {"is_channel": True, "is_group": False, "is_im": False, "is_mpim": False},
    ),
    "groups.json": (
        "private_channel",
        {"is_channel": True, "is_group": True, "is_im": False, "is_mpim": False},
    ),
    "mpims.json": (
        "mpim",
        {"is_channel": False, "is_group": False, "is_im": False, "is_mpim": True},
    ),
    "dms.json": (
        "im",
        {"is_channel": False, "is_group": False, "is_im": True, "is_mpim": False},
    ),
}


class ExportApi:
    """A Slack workspace export (ZIP or folder) answering the planner's Web API methods.

    ``on_bad_file`` decides what a malformed file does: ``"raise"`` (default) raises
    :class:`ExportFormatError`; ``"skip"`` records ``(file, reason)`` in :attr:`bad_files` and
    serves everything else. ``channels.json`` is always required. Every conversation in the export
    counts as ``is_member: true``: the export holds what the workspace could read.

    An export was made by no app, so ``auth.test`` names no bot user, bot or app — nothing in it
    is the pipeline's own post — unless ``own_app`` gives the IDs of the app that posted digests
    into the exported channels (``SLACK_EXPORT_OWN_APP``; see :func:`own_app_fields`).
    """

    def __init__(
        self,
        path: str | Path,
        *,
        on_bad_file: Literal["raise", "skip"] = "raise",
        url: str = DEFAULT_EXPORT_URL,
        own_app: Sequence[str] = (),
        limits: ExportLimits | None = None,
    ) -> None:
        if on_bad_file not in ("raise", "skip"):
            raise ValueError(f"on_bad_file must be 'raise' or 'skip', not {on_bad_file!r}")
        self.own_app = own_app_fields(own_app)
        self.path = Path(path)
        self.on_bad_file = on_bad_file
        self.url = url
        self.stats = ApiStats()
        self.limits = limits or ExportLimits()
        self.bad_files: list[tuple[str, str]] = []
        self.oversized_files: list[str] = []  # also in bad_files, with their sizes
        # Files with bytes that are not UTF-8, decoded with replacement characters.
        self.decode_warnings: list[tuple[str, str]] = []
        # Messages and list entries skipped one by one; the first few are named.
        self.skipped_records = 0
        self.skipped_record_list: list[str] = []
        self._lock = threading.RLock()
        self._files = _Files(self.path)
        self._days: dict[str, dict[date, str]] = {}  # folder -> day -> file
        for name in self._files.names():
            folder, _, base = name.rpartition("/")
            if folder and "/" not in folder and (match := _DAY_FILE.match(base)):
                try:
                    day = date.fromisoformat(match.group(1))
                except ValueError:
                    reason = "file name is not a valid YYYY-MM-DD date"
                    self._problem(ExportFormatError(name, reason, export=str(self.path)))
                    continue
                self._days.setdefault(folder, {})[day] = name
        self._conversations = self._read_conversations()
        # users.json is read on the first users.list, so its problems show on slack_users.
        self._users: list[dict[str, Any]] | None = None
        self._day_cache: dict[str, list[Message]] = {}
        self._history_cache: dict[str, tuple[tuple[date | None, date | None], SortedHistory]] = {}
        # Per conversation: which day files are in the thread index, and the index itself.
        self._indexed: dict[str, set[date]] = {}
        self._messages_by_ts: dict[str, dict[str, Message]] = {}
        self._thread_replies: dict[str, dict[str, dict[str, Message]]] = {}

    def __repr__(self) -> str:
        return f"ExportApi(path={str(self.path)!r}, on_bad_file={self.on_bad_file!r})"

    def close(self) -> None:
        self._files.close()

    def __enter__(self) -> ExportApi:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the SlackApi seam ---------------------------------------------------------------------

    def call(self, method: str, params: Mapping[str, Any]) -> dict[str, Any]:
        handlers = {
            "auth.test": self._auth_test,
            "conversations.list": self._conversations_list,
            "users.list": self._users_list,
            "conversations.history": self._history,
            "conversations.replies": self._replies,
        }
        handler = handlers.get(method)
        if handler is None:
            self.stats.calls[method] += 1
            return error("unknown_method")
        with self._lock:
            self.stats.calls[method] += 1
            return handler(params)

    def _auth_test(self, params: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "ok": True,
            "url": self.url,
            "team": "export",
            "user": "export",
            "team_id": "T00000000",
            # No user_id/bot_id/app_id of its own unless configured: see the class docstring.
            **self.own_app,
        }

    def _conversations_list(self, params: Mapping[str, Any]) -> dict[str, Any]:
        types = conversation_types(params)
        if isinstance(types, dict):
            return types
        exclude_archived = param_bool(params, "exclude_archived")
        channels = [
            c.info
            for c in self._conversations.values()
            if conversation_type(c.info) in types
            and not (exclude_archived and c.info.get("is_archived"))
        ]
        return list_page(channels, params, "channels")

    def _users_list(self, params: Mapping[str, Any]) -> dict[str, Any]:
        if self._users is None:
            self._users = []
            for index, entry in enumerate(self._read_list("users.json", required=False)):
                if is_slack_id(entry.get("id")):
                    self._users.append(entry)
                else:
                    self._skip_record(f"users.json#{index}", f"invalid 'id' {_preview(entry)}")
        return list_page(self._users, params, "members")

    def _history(self, params: Mapping[str, Any]) -> dict[str, Any]:
        conversation = self._conversation(params)
        if conversation is None:
            return error("channel_not_found")
        window = TsWindow.from_params(params)
        if isinstance(window, dict):
            return window
        body = sorted_history_page(self._sorted_history(conversation, window.days()), params)
        for message in body.get("messages", []):
            if message.get("thread_ts") == message["ts"]:
                self._fill_thread_fields(conversation, message)
        return body

    def _replies(self, params: Mapping[str, Any]) -> dict[str, Any]:
        conversation = self._conversation(params)
        if conversation is None:
            return error("channel_not_found")
        ts = param_str(params, "ts")
        if ts is None:
            return error("invalid_arguments")
        try:
            ts_day = ts_date(ts)
        except ValueError:
            return error("thread_not_found")
        self._index_threads(conversation, ts_day - timedelta(days=1))
        by_ts = self._messages_by_ts[conversation.id]
        found = by_ts.get(ts)
        # Asking with a reply's ts answers for its whole thread, as Slack does.
        thread_ts = found.get("thread_ts", ts) if found else ts
        if thread_ts != ts:
            self._index_threads(conversation, ts_date(thread_ts) - timedelta(days=1))
        parent = by_ts.get(thread_ts)
        if parent is None:
            return error("thread_not_found")
        replies = list(self._thread_replies[conversation.id].get(thread_ts, {}).values())
        parent = dict(parent)
        self._fill_thread_fields(conversation, parent)
        return replies_page(parent, replies, params)

    # -- conversations, days, threads ----------------------------------------------------------

    def _sorted_history(
        self, conversation: _Conversation, days: tuple[date | None, date | None]
    ) -> SortedHistory:
        """The history messages of the day files in ``days``, sorted once for all the pages of
        one sweep (the planner pages with the same bounds and a moving cursor)."""
        cached = self._history_cache.get(conversation.id)
        if cached is not None and cached[0] == days:
            return cached[1]
        first, last = days
        candidates: dict[str, Message] = {}
        for day, name in sorted(self._days.get(conversation.folder, {}).items()):
            if (first is None or day >= first) and (last is None or day <= last):
                for message in self._day(name):
                    if is_history_message(message):
                        candidates[message["ts"]] = message
        history = SortedHistory.of(candidates.values())
        self._history_cache[conversation.id] = (days, history)
        return history

    def _conversation(self, params: Mapping[str, Any]) -> _Conversation | None:
        channel = param_str(params, "channel")
        return self._conversations.get(channel) if channel else None

    def _read_conversations(self) -> dict[str, _Conversation]:
        conversations: dict[str, _Conversation] = {}
        for list_file, (kind, flags) in _LIST_FILES.items():
            entries = self._read_list(list_file, required=list_file == "channels.json")
            for index, entry in enumerate(entries):
                channel_id = entry.get("id")
                if not is_slack_id(channel_id):
                    # A crafted ID would reach permalinks and posted digests: refuse it here.
                    self._skip_record(f"{list_file}#{index}", f"invalid 'id' {_preview(entry)}")
                    continue
                name = entry.get("name")
                folder = name if isinstance(name, str) and name in self._days else channel_id
                info: dict[str, Any] = {
                    "name": name if isinstance(name, str) else channel_id,
                    "topic": {"value": ""},
                    "purpose": {"value": ""},
                    "is_archived": False,
                    **entry,
                    **flags,
                    "id": channel_id,
                    "is_private": kind != "public_channel",
                    "is_member": True,
                }
                conversations[channel_id] = _Conversation(channel_id, folder, info)
        return conversations

    def _read_list(self, name: str, *, required: bool) -> list[dict[str, Any]]:
        if not self._files.exists(name):
            if required:
                raise ExportFormatError(name, "missing", export=str(self.path))
            return []
        try:
            data = self._parse(name)
            if not isinstance(data, list):
                raise ExportFormatError(
                    name, "expected a JSON list of objects", export=str(self.path)
                )
        except ExportFormatError as e:
            if required:
                raise
            self._problem(e)
            return []
        # One entry that is not an object (null, a string) is one counted skip, not the file.
        kept = []
        for index, item in enumerate(data):
            if isinstance(item, dict):
                kept.append(item)
            else:
                self._skip_record(f"{name}#{index}", f"not an object ({type(item).__name__})")
        return kept

    def _text(self, name: str) -> str:
        """A file's text, within the size limit: its declared size is checked before reading
        and the bytes are counted while reading. Bytes that are not UTF-8 are replaced."""
        limit = self.limits.max_file_bytes
        try:
            declared = self._files.size(name)
            if declared > limit:
                raise _TooLarge(f"too large: {declared} bytes, the limit is {limit}")
            data = self._files.read(name, limit)
        except _TooLarge as e:
            self.oversized_files.append(name)
            raise ExportFormatError(name, str(e), export=str(self.path)) from e
        except (OSError, zipfile.BadZipFile, zlib.error, EOFError) as e:
            raise ExportFormatError(name, f"unreadable ({e})", export=str(self.path)) from e
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError as e:
            text = data.decode("utf-8", errors="replace")
            bad = text.count("\ufffd") - data.count("\ufffd".encode())
            reason = f"not valid UTF-8 ({e.reason} at byte {e.start}): {bad} sequence(s) replaced"
            self.decode_warnings.append((name, reason))
            return text

    def _parse(self, name: str) -> Any:
        text = self._text(name)
        try:
            return json.loads(text)
        except (json.JSONDecodeError, RecursionError) as e:
            raise ExportFormatError(name, f"not valid JSON ({e})", export=str(self.path)) from e

    def _skip_record(self, where: str, reason: str) -> None:
        self.skipped_records += 1
        if len(self.skipped_record_list) < _NAMED_SKIPS:
            self.skipped_record_list.append(f"{where}: {reason}")

    def _problem(self, problem: ExportFormatError) -> None:
        """Apply the bad-file policy: raise, or record the file and go on."""
        if self.on_bad_file == "raise":
            raise problem
        self.bad_files.append((problem.file, problem.reason))

    def _day(self, name: str) -> list[Message]:
        cached = self._day_cache.get(name)
        if cached is not None:
            return cached
        try:
            messages = self._validated_day(name)
        except ExportFormatError as e:
            self._problem(e)
            messages = []
        # A skipped file is remembered as empty, so it is read and reported once.
        self._day_cache[name] = messages
        return messages

    def _validated_day(self, name: str) -> list[Message]:
        """The day file's usable messages. A file that is not a JSON list is a bad file; a
        message that is too large or has a field of the wrong shape is one skipped record."""
        text = self._text(name)
        limit = self.limits.max_message_bytes
        messages: list[Message] = []
        try:
            for index, start, end, message in _json_list_items(text):
                size = end - start  # characters: a lower bound of the UTF-8 size
                if size > limit or (4 * size > limit and len(text[start:end].encode()) > limit):
                    self._skip_record(f"{name}#{index}", f"too large: over {limit} bytes")
                    continue
                problem = message_problem(message)
                if problem is not None:
                    ts = message.get("ts") if isinstance(message, dict) else None
                    where = f"{name}#{index}" + (f" ts={ts}" if is_message_ts(ts) else "")
                    self._skip_record(where, problem)
                    continue
                messages.append(message)
        except (ValueError, RecursionError) as e:
            raise ExportFormatError(name, f"not valid JSON ({e})", export=str(self.path)) from e
        return messages

    def _index_threads(self, conversation: _Conversation, since: date) -> None:
        """Add every day file from ``since`` on to the conversation's thread index."""
        indexed = self._indexed.setdefault(conversation.id, set())
        by_ts = self._messages_by_ts.setdefault(conversation.id, {})
        threads = self._thread_replies.setdefault(conversation.id, {})
        for day, name in sorted(self._days.get(conversation.folder, {}).items()):
            if day < since or day in indexed:
                continue
            indexed.add(day)
            for message in self._day(name):
                by_ts[message["ts"]] = message
                if is_reply(message):
                    threads.setdefault(message["thread_ts"], {})[message["ts"]] = message

    def _fill_thread_fields(self, conversation: _Conversation, parent: Message) -> None:
        """Give a parent missing ``reply_count``/``latest_reply`` those of the replies present.

        Only parents lacking the fields pay for it: their thread is indexed from the parent's day
        on, which reads the channel's later day files once.
        """
        if "reply_count" in parent and "latest_reply" in parent:
            return
        self._index_threads(conversation, ts_date(parent["ts"]) - timedelta(days=1))
        replies = list(self._thread_replies[conversation.id].get(parent["ts"], {}).values())
        if not replies:
            return
        for key, value in thread_summary(replies).items():
            parent.setdefault(key, value)


_WHITESPACE = re.compile(r"[ \t\n\r]*")


def _json_list_items(text: str) -> Iterator[tuple[int, int, int, Any]]:
    """``(index, start, end, value)`` for each item of the JSON list ``text``, decoded one at a
    time, so each item's size is known without serialising it again."""
    decoder = json.JSONDecoder()
    pos = _WHITESPACE.match(text).end()  # type: ignore[union-attr]
    if text[pos : pos + 1] != "[":
        raise ValueError("expected a JSON list of messages")
    pos = _WHITESPACE.match(text, pos + 1).end()  # type: ignore[union-attr]
    index = 0
    if text[pos : pos + 1] == "]":
        pos += 1
    else:
        while True:
            value, end = decoder.raw_decode(text, pos)
            yield index, pos, end, value
            index += 1
            pos = _WHITESPACE.match(text, end).end()  # type: ignore[union-attr]
            separator = text[pos : pos + 1]
            pos = _WHITESPACE.match(text, pos + 1).end()  # type: ignore[union-attr]
            if separator == "]":
                break
            if separator != ",":
                raise ValueError(f"expected ',' or ']' at character {pos}")
    if pos < len(text) and text[pos:].strip(" \t\n\r"):
        raise ValueError(f"extra data after the list at character {pos}")


def _preview(value: object, size: int = 80) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= size else text[: size - 1] + "…"
