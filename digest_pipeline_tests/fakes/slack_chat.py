"""``FakeChatWorkspace``: the in-memory :class:`FakeWorkspace` plus Slack's posting methods.

Adds ``chat.postMessage`` (top-level and thread replies), ``chat.update``, ``chat.delete``,
``chat.getPermalink`` and ``reactions.get`` (``reactions: [{name, users, count}]`` on a post, set
by a test with :meth:`FakeChatWorkspace.react`), with Slack's rules that matter to delivery: a
channel may be named
(``#name`` or ``name``) or given by ID and the answer carries the ID; posting needs the bot in the
channel; ``chat.update`` needs the ID and an existing ``ts`` (else ``channel_not_found`` /
``message_not_found``); ``blocks`` over 50 are ``invalid_blocks``; a section text over 3,000
characters is ``invalid_blocks``; ``text`` over 40,000 characters is ``msg_too_long``.
As in Slack, a post comes back in the channel's ``conversations.history`` (and a thread reply in
``conversations.replies``) with the app's bot ``user``, ``bot_id`` and ``app_id`` — the same IDs
``auth.test`` reports — and updates and deletes show there too. Serve it with
``FakeSlackServer(FakeChatWorkspace())`` and drive it with the real ``WebClient``.
"""

from __future__ import annotations

import itertools
import json
import threading
from collections.abc import Mapping
from typing import Any

from digest_pipeline.defs.slack.emulation import error
from digest_pipeline_tests.fakes.slack_server import FakeWorkspace

MAX_BLOCKS = 50
MAX_SECTION_TEXT = 3000
MAX_TEXT = 40_000
# The app the token belongs to: FakeWorkspace's auth.test answers with the same user and bot.
BOT_USER, BOT_ID, APP_ID = "U0BOT", "B0BOT", "A0BOT"
CHAT_METHODS = frozenset(
    {"chat.postMessage", "chat.update", "chat.delete", "chat.getPermalink", "reactions.get"}
)


def _blocks(value: Any) -> list[dict[str, Any]] | None:
    if value in (None, ""):
        return None
    if isinstance(value, str):
        return json.loads(value)
    return list(value)


def _block_error(blocks: list[dict[str, Any]]) -> str | None:
    if len(blocks) > MAX_BLOCKS:
        return "invalid_blocks"
    for block in blocks:
        text = block.get("text")
        if isinstance(text, Mapping) and len(str(text.get("text", ""))) > MAX_SECTION_TEXT:
            return "invalid_blocks"
        if block.get("type") == "header" and len(str((text or {}).get("text", ""))) > 150:
            return "invalid_blocks"
        if block.get("type") == "context" and len(block.get("elements") or []) > 10:
            return "invalid_blocks"
    return None


class FakeChatWorkspace(FakeWorkspace):
    """A :class:`FakeWorkspace` that also takes posts; ``posts`` is what Slack now shows."""

    def __init__(self, *, url: str = "https://fake-hardware.slack.com/") -> None:
        super().__init__(url=url)
        self.posts: dict[tuple[str, str], dict[str, Any]] = {}
        self.chat_log: list[tuple[str, dict[str, Any]]] = []
        self._clock = itertools.count(1)
        self._chat_lock = threading.Lock()
        self.base_ts = 1_790_000_000

    def call(self, method: str, params: Mapping[str, Any]) -> dict[str, Any]:
        if method not in CHAT_METHODS:
            return super().call(method, params)
        self.stats.calls[method] += 1
        with self._chat_lock:
            self.chat_log.append((method, dict(params)))
            if method == "chat.postMessage":
                return self._post(params)
            if method == "chat.update":
                return self._update(params)
            if method == "chat.delete":
                return self._delete(params)
            if method == "reactions.get":
                return self._reactions(params)
            return self._permalink(params)

    # -- helpers for tests ------------------------------------------------------------------------

    def top_level_posts(self, channel_id: str) -> list[dict[str, Any]]:
        return [
            p
            for (c, _), p in sorted(self.posts.items())
            if c == channel_id and "thread_ts" not in p
        ]

    def replies_to(self, channel_id: str, ts: str) -> list[dict[str, Any]]:
        return [
            p
            for (c, _), p in sorted(self.posts.items())
            if c == channel_id and p.get("thread_ts") == ts
        ]

    def react(self, channel_id: str, ts: str, name: str, user: str) -> None:
        """``user`` adds reaction ``name`` to a post (as ``reactions.add`` would)."""
        with self._chat_lock:
            reactions = self.posts[(channel_id, ts)].setdefault("reactions", [])
            held = next((r for r in reactions if r["name"] == name), None)
            if held is None:
                reactions.append({"name": name, "users": [user], "count": 1})
            elif user not in held["users"]:
                held["users"].append(user)
                held["count"] += 1

    def unreact(self, channel_id: str, ts: str, name: str, user: str) -> None:
        """``user`` removes reaction ``name`` (as ``reactions.remove`` would)."""
        with self._chat_lock:
            message = self.posts[(channel_id, ts)]
            for reaction in message.get("reactions", []):
                if reaction["name"] == name and user in reaction["users"]:
                    reaction["users"].remove(user)
                    reaction["count"] -= 1
            message["reactions"] = [r for r in message.get("reactions", []) if r["count"]]

    def calls_of(self, method: str) -> int:
        return sum(1 for m, _ in self.chat_log if m == method)

    # -- methods ----------------------------------------------------------------------------------

    def _resolve(self, name: Any) -> dict[str, Any] | None:
        key = str(name or "").lstrip("#")
        if key in self.channels:
            return self.channels[key]
        return next((c for c in self.channels.values() if c["name"] == key), None)

    def _content_error(self, params: Mapping[str, Any]) -> str | None:
        text = str(params.get("text") or "")
        blocks = _blocks(params.get("blocks"))
        if not text and not blocks:
            return "no_text"
        if len(text) > MAX_TEXT:
            return "msg_too_long"
        return _block_error(blocks) if blocks else None

    def _post(self, params: Mapping[str, Any]) -> dict[str, Any]:
        channel = self._resolve(params.get("channel"))
        if channel is None:
            return error("channel_not_found")
        if not channel["is_member"]:
            return error("not_in_channel")
        problem = self._content_error(params)
        if problem:
            return error(problem)
        thread_ts = params.get("thread_ts") or None
        if thread_ts and (channel["id"], str(thread_ts)) not in self.posts:
            return error("thread_not_found")
        ts = f"{self.base_ts + next(self._clock)}.000100"
        message: dict[str, Any] = {
            "type": "message",
            "ts": ts,
            "user": BOT_USER,
            "bot_id": BOT_ID,
            "app_id": APP_ID,
            "bot_profile": {"id": BOT_ID, "app_id": APP_ID, "name": "digest-bot"},
            "text": str(params.get("text") or ""),
            "blocks": _blocks(params.get("blocks")) or [],
            "edits": 0,
        }
        if thread_ts:
            message["thread_ts"] = str(thread_ts)
            message["parent_user_id"] = BOT_USER
        self.posts[(channel["id"], ts)] = message
        with self._lock:  # the same object: chat.update shows in history too
            self._messages[channel["id"]][ts] = message
        return {"ok": True, "channel": channel["id"], "ts": ts, "message": message}

    def _update(self, params: Mapping[str, Any]) -> dict[str, Any]:
        channel_id = str(params.get("channel") or "")
        if channel_id not in self.channels:  # chat.update takes IDs only
            return error("channel_not_found")
        key = (channel_id, str(params.get("ts") or ""))
        if key not in self.posts:
            return error("message_not_found")
        problem = self._content_error(params)
        if problem:
            return error(problem)
        message = self.posts[key]
        message["text"] = str(params.get("text") or "")
        message["blocks"] = _blocks(params.get("blocks")) or []
        message["edits"] += 1
        return {"ok": True, "channel": channel_id, "ts": key[1], "text": message["text"]}

    def _delete(self, params: Mapping[str, Any]) -> dict[str, Any]:
        key = (str(params.get("channel") or ""), str(params.get("ts") or ""))
        if self.posts.pop(key, None) is None:
            return error("message_not_found")
        with self._lock:
            self._messages.get(key[0], {}).pop(key[1], None)
        return {"ok": True, "channel": key[0], "ts": key[1]}

    def _reactions(self, params: Mapping[str, Any]) -> dict[str, Any]:
        channel_id = str(params.get("channel") or "")
        if channel_id not in self.channels:
            return error("channel_not_found")
        message = self.posts.get((channel_id, str(params.get("timestamp") or "")))
        if message is None:
            return error("message_not_found")
        shown = {k: v for k, v in message.items() if k != "reactions"}
        if message.get("reactions"):
            shown["reactions"] = json.loads(json.dumps(message["reactions"]))
        return {"ok": True, "type": "message", "channel": channel_id, "message": shown}

    def _permalink(self, params: Mapping[str, Any]) -> dict[str, Any]:
        key = (str(params.get("channel") or ""), str(params.get("message_ts") or ""))
        if key not in self.posts:
            return error("message_not_found")
        return {
            "ok": True,
            "channel": key[0],
            "permalink": f"{self.url}archives/{key[0]}/p{key[1].replace('.', '')}",
        }
