"""An official Slack workspace export, answering the Web API methods the extraction planner uses.

A standard export (ZIP or unzipped folder) holds ``channels.json`` and ``users.json``, plus
``groups.json`` (private channels), ``dms.json`` and ``mpims.json`` when the export includes them,
and one folder per conversation (by name; direct messages by ID) with ``YYYY-MM-DD.json`` day
files, each a JSON list of messages. Thread replies sit inline in the day file of the day they
were posted, with ``thread_ts`` pointing at their parent.

:class:`ExportApi` serves that data through the same ``call(method, params)`` seam as the Web API,
with Slack's semantics (:mod:`.emulation`) for ``conversations.history`` (top-level messages and
broadcasts, newest first, ``oldest``/``latest``/``inclusive``/``limit``/``cursor``) and
``conversations.replies`` (parent first, then replies oldest first). Day files are parsed on
demand and cached, so an hourly window reads a few files, not the whole export.

An export is untrusted input. Its files are read within size limits (:mod:`.export_files`); an
oversized file is skipped and named, never read whole. Each message and each channel or user
entry is validated where it enters (:mod:`.validate`): a bad one is one counted skip
(:attr:`ExportApi.skipped_records`), never a lost day file or a failed run. Bytes that are not
UTF-8 are decoded with replacement characters and the file is named in
:attr:`ExportApi.decode_warnings`, so a bad byte in a name never costs the whole user list.
"""

from __future__ import annotations

import json
import re
import threading
import zipfile
import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any, Literal

from digest_pipeline.defs.slack.emulation import (
    SortedHistory,
    TsWindow,
    conversations_page,
    error,
    is_history_message,
    is_reply,
    list_page,
    param_str,
    replies_page,
    sorted_history_page,
    thread_summary,
)
from digest_pipeline.defs.slack.export_files import (
    ExportFiles,
    ExportFormatError,
    ExportLimits,
    FileTooLarge,
    json_list_items,
)
from digest_pipeline.defs.slack.models import ApiStats
from digest_pipeline.defs.slack.ts import is_message_ts, ts_date
from digest_pipeline.defs.slack.validate import is_slack_id, message_problem

__all__ = ["ExportApi", "ExportFormatError", "ExportLimits", "own_app_fields"]

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
# How many skipped records are named in metadata (all are counted).
_NAMED_SKIPS = 50

Message = dict[str, Any]


@dataclass(frozen=True)
class _Conversation:
    id: str
    folder: str
    info: dict[str, Any]


# Which list file holds which conversation type, and which of Slack's type flags it sets (the
# others are false): a private channel is a channel and a group.
_TYPE_FLAGS = ("is_channel", "is_group", "is_im", "is_mpim")
_LIST_FILES: dict[str, tuple[str, frozenset[str]]] = {
    "channels.json": ("public_channel", frozenset({"is_channel"})),
    "groups.json": ("private_channel", frozenset({"is_channel", "is_group"})),
    "mpims.json": ("mpim", frozenset({"is_mpim"})),
    "dms.json": ("im", frozenset({"is_im"})),
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
        self._files = ExportFiles(self.path)
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
        return conversations_page((c.info for c in self._conversations.values()), params)

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
        for list_file, (kind, set_flags) in _LIST_FILES.items():
            flags = {flag: flag in set_flags for flag in _TYPE_FLAGS}
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
                raise FileTooLarge(f"too large: {declared} bytes, the limit is {limit}")
            data = self._files.read(name, limit)
        except FileTooLarge as e:
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
            for index, start, end, message in json_list_items(text):
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


def _preview(value: object, size: int = 80) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= size else text[: size - 1] + "…"
