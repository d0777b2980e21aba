"""A fake Slack Web API: a real HTTP server on 127.0.0.1 for the real ``slack_sdk.WebClient``.

``FakeSlackServer`` answers ``POST``/``GET /api/<method>`` (form-encoded, JSON or query params),
checks ``Authorization: Bearer`` against the expected token, and hands every authorized call to a
backend with ``call(method, params) -> dict``: a :class:`FakeWorkspace` built by hand in a test,
the demo workspace, or an ``ExportApi``. Tests script faults per method (429 with ``Retry-After``,
500/503, a dropped connection, an ``ok: false`` body) and read the request log::

    with FakeSlackServer(workspace, token="xoxb-test") as server:
        server.inject("conversations.history", Fault.rate_limited(retry_after=0))
        api = WebApi(token="xoxb-test", base_url=server.base_url)
"""

from __future__ import annotations

import json
import threading
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal, Protocol
from urllib.parse import parse_qsl, urlsplit

from digest_pipeline.defs.slack.emulation import (
    conversations_page,
    error,
    history_page,
    list_page,
    param_str,
    replies_page,
    thread_summary,
)
from digest_pipeline.defs.slack.models import ApiStats
from digest_pipeline.defs.slack.ts import ts_decimal

ANY_METHOD = "*"


class Backend(Protocol):
    def call(self, method: str, params: Mapping[str, Any]) -> dict[str, Any]: ...


@dataclass(frozen=True)
class Fault:
    """One scripted answer that replaces the backend's for a single request."""

    kind: Literal["status", "drop", "body"]
    status: int = 200
    retry_after: int | None = None
    body: Mapping[str, Any] | None = None

    @classmethod
    def rate_limited(cls, retry_after: int = 0) -> Fault:
        return cls("status", 429, retry_after=retry_after)

    @classmethod
    def server_error(cls, status: int = 500) -> Fault:
        return cls("status", status)

    @classmethod
    def drop(cls) -> Fault:
        """Read the request, then close the socket without a response."""
        return cls("drop")

    @classmethod
    def error(cls, code: str, **fields: Any) -> Fault:
        """An HTTP 200 ``{"ok": false, "error": code}`` body, as Slack sends its errors."""
        return cls("body", body={"ok": False, "error": code, **fields})


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    params: dict[str, Any]
    http_verb: str
    authorized: bool
    fault: Fault | None = None


@dataclass
class _State:
    backend: Backend
    token: str | None
    faults: dict[str, deque[Fault]] = field(default_factory=dict)
    requests: list[RecordedRequest] = field(default_factory=list)
    backend_errors: list[BaseException] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def next_fault(self, method: str) -> Fault | None:
        with self.lock:
            for key in (method, ANY_METHOD):
                queue = self.faults.get(key)
                if queue:
                    return queue.popleft()
        return None


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
        return

    def _serve(self) -> None:
        state = self.server.state
        url = urlsplit(self.path)
        if not url.path.startswith("/api/"):
            self._send_json(404, {"ok": False, "error": "unknown_method"})
            return
        method = url.path.removeprefix("/api/")
        params = self._params(url.query)
        token = self._token(params)
        authorized = state.token is None or token == state.token
        fault = state.next_fault(method)
        with state.lock:
            state.requests.append(
                RecordedRequest(method, dict(params), self.command, authorized, fault)
            )
        if fault is not None:
            self._send_fault(fault)
            return
        if state.token is not None and not token:
            self._send_json(200, {"ok": False, "error": "not_authed"})
            return
        if not authorized:
            self._send_json(200, {"ok": False, "error": "invalid_auth"})
            return
        try:
            body = state.backend.call(method, params)
        except Exception as e:  # surfaced to the test through ``backend_errors``
            with state.lock:
                state.backend_errors.append(e)
            self._send_text(500, f"backend raised {type(e).__name__}: {e}")
            return
        self._send_json(200, body)

    def _params(self, query: str) -> dict[str, Any]:
        params: dict[str, Any] = dict(parse_qsl(query, keep_blank_values=True))
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        content_type = (self.headers.get("Content-Type") or "").split(";")[0].strip()
        if raw and content_type == "application/json":
            params.update(json.loads(raw))
        elif raw:
            params.update(parse_qsl(raw.decode(), keep_blank_values=True))
        return params

    def _token(self, params: dict[str, Any]) -> str | None:
        header = self.headers.get("Authorization") or ""
        if header.startswith("Bearer "):
            return header.removeprefix("Bearer ").strip()
        token = params.pop("token", None)
        return str(token) if token else None

    def _send_fault(self, fault: Fault) -> None:
        if fault.kind == "drop":
            self.close_connection = True
            return
        if fault.kind == "body":
            self._send_json(200, dict(fault.body or {}))
            return
        if fault.status == 429:
            headers = {"Retry-After": str(fault.retry_after or 0)}
            self._send_json(429, {"ok": False, "error": "ratelimited"}, headers)
            return
        self._send_text(fault.status, "<html><body>Slack is having trouble</body></html>")

    def _send_json(
        self, status: int, body: Mapping[str, Any], headers: Mapping[str, str] | None = None
    ) -> None:
        self._send(status, json.dumps(body).encode(), "application/json; charset=utf-8", headers)

    def _send_text(self, status: int, text: str) -> None:
        self._send(status, text.encode(), "text/html; charset=utf-8", None)

    def _send(
        self, status: int, payload: bytes, content_type: str, headers: Mapping[str, str] | None
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, state: _State) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.state = state


class FakeSlackServer:
    """A local Slack Web API endpoint; ``base_url`` ends with ``/api/`` like Slack's."""

    def __init__(self, backend: Backend, *, token: str | None = "xoxb-test") -> None:
        self._state = _State(backend=backend, token=token)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def backend(self) -> Backend:
        return self._state.backend

    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError("the fake Slack server is not running")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/api/"

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._state.lock:
            return list(self._state.requests)

    @property
    def backend_errors(self) -> list[BaseException]:
        return list(self._state.backend_errors)

    def calls(self, method: str | None = None) -> int:
        """How many requests reached the server (for ``method``, or all)."""
        return sum(1 for r in self.requests if method is None or r.method == method)

    def inject(self, method: str, *faults: Fault) -> None:
        """Queue faults for the next requests to ``method`` (``"*"``: any method)."""
        with self._state.lock:
            self._state.faults.setdefault(method, deque()).extend(faults)

    def pending_faults(self) -> int:
        with self._state.lock:
            return sum(len(queue) for queue in self._state.faults.values())

    def start(self) -> FakeSlackServer:
        self._server = _Server(self._state)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="fake-slack-server",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> FakeSlackServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


# --------------------------------------------------------------------------------------------
# A hand-made workspace with Slack's semantics, for scenarios a test spells out message by message.


class FakeWorkspace:
    """Channels, users and messages in memory, answering the planner's Web API methods.

    Threads, broadcasts, edits and deletes behave as in Slack: history shows top-level messages
    and broadcasts, parents carry ``reply_count``/``latest_reply``, replies come from
    ``conversations.replies`` (parent first), a deleted parent with replies leaves a tombstone.
    """

    def __init__(self, *, url: str = "https://fake-hardware.slack.com/") -> None:
        self.url = url
        self.stats = ApiStats()
        self.channels: dict[str, dict[str, Any]] = {}
        self.users: list[dict[str, Any]] = []
        self._messages: dict[str, dict[str, dict[str, Any]]] = {}
        self._read_errors: dict[str, str] = {}
        self.join_error: str | None = None  # e.g. "missing_scope": every join fails with it
        self._lock = threading.Lock()

    # -- building the scenario -----------------------------------------------------------------

    def add_channel(
        self,
        channel_id: str,
        name: str,
        *,
        is_private: bool = False,
        is_archived: bool = False,
        is_member: bool = True,
        topic: str = "",
        purpose: str = "",
    ) -> dict[str, Any]:
        channel = {
            "id": channel_id,
            "name": name,
            "is_channel": True,
            "is_group": is_private,
            "is_im": False,
            "is_mpim": False,
            "is_private": is_private,
            "is_archived": is_archived,
            "is_member": is_member,
            "topic": {"value": topic},
            "purpose": {"value": purpose},
        }
        self.channels[channel_id] = channel
        self._messages.setdefault(channel_id, {})
        return channel

    def add_user(
        self,
        user_id: str,
        name: str,
        *,
        real_name: str | None = None,
        is_bot: bool = False,
        deleted: bool = False,
    ) -> dict[str, Any]:
        user = {
            "id": user_id,
            "name": name,
            "real_name": real_name or name,
            "profile": {"display_name": name, "real_name": real_name or name},
            "is_bot": is_bot,
            "deleted": deleted,
        }
        self.users.append(user)
        return user

    def post(
        self,
        channel: str,
        ts: str,
        text: str,
        *,
        user: str = "U001",
        thread_ts: str | None = None,
        broadcast: bool = False,
        subtype: str | None = None,
        **extra: Any,
    ) -> dict[str, Any]:
        """Add a message: ``thread_ts`` makes it a reply, ``broadcast`` shows it in history too."""
        ts_decimal(ts)
        messages = self._messages[channel]
        message: dict[str, Any] = {"type": "message", "ts": ts, "user": user, "text": text}
        if thread_ts is not None:
            parent = messages[thread_ts]
            message["thread_ts"] = thread_ts
            message["parent_user_id"] = parent.get("user")
        if broadcast:
            message["subtype"] = "thread_broadcast"
        elif subtype:
            message["subtype"] = subtype
        message.update(extra)
        messages[ts] = message
        return message

    def set_read_error(self, channel: str, error_code: str | None) -> None:
        """Make history/replies of a listed channel answer ``ok: false`` with ``error_code``
        (``missing_scope``, ``channel_not_found``, ...); ``None`` makes it readable again."""
        if error_code is None:
            self._read_errors.pop(channel, None)
        else:
            self._read_errors[channel] = error_code

    def edit(self, channel: str, ts: str, text: str, *, edited_ts: str | None = None) -> None:
        message = self._messages[channel][ts]
        message["text"] = text
        message["edited"] = {"user": message.get("user"), "ts": edited_ts or ts}

    def delete(self, channel: str, ts: str) -> None:
        messages = self._messages[channel]
        if self._replies(channel, ts):
            # Slack keeps a parent's place while its thread has replies.
            messages[ts] = {
                "type": "message",
                "subtype": "tombstone",
                "hidden": True,
                "text": "This message was deleted.",
                "user": "USLACKBOT",
                "ts": ts,
                "thread_ts": ts,
            }
        else:
            del messages[ts]

    # -- the Web API -----------------------------------------------------------------------------

    def call(self, method: str, params: Mapping[str, Any]) -> dict[str, Any]:
        self.stats.calls[method] += 1
        with self._lock:
            if method == "auth.test":
                return {
                    "ok": True,
                    "url": self.url,
                    "team": "Fake Hardware",
                    "team_id": "T0FAKE",
                    "user": "digest-bot",
                    "user_id": "U0BOT",  # slack_chat.BOT_USER / BOT_ID: the app's own posts
                    "bot_id": "B0BOT",
                }
            if method == "users.list":
                return list_page(self.users, params, "members")
            if method == "conversations.list":
                return self._list(params)
            if method == "conversations.join":
                return self._join(param_str(params, "channel") or "")
            if method in ("conversations.history", "conversations.replies"):
                channel = self.channels.get(param_str(params, "channel") or "")
                if channel is None:
                    return error("channel_not_found")
                if not channel["is_member"]:
                    return error("not_in_channel")
                if channel["id"] in self._read_errors:
                    return error(self._read_errors[channel["id"]])
                if method == "conversations.history":
                    return self._history(channel["id"], params)
                return self._thread(channel["id"], params)
            return error("unknown_method")

    def _join(self, channel_id: str) -> dict[str, Any]:
        """``conversations.join`` as Slack answers it: public channels only, one scope."""
        if self.join_error:
            return error(self.join_error)
        channel = self.channels.get(channel_id)
        if channel is None:
            return error("channel_not_found")
        if channel["is_archived"]:
            return error("is_archived")
        if channel.get("is_private"):
            return error("method_not_supported_for_channel_type")
        channel["is_member"] = True
        return {"ok": True, "channel": channel}

    def _list(self, params: Mapping[str, Any]) -> dict[str, Any]:
        return conversations_page(self.channels.values(), params)

    def _replies(self, channel: str, thread_ts: str) -> list[dict[str, Any]]:
        return [
            m
            for m in self._messages[channel].values()
            if m.get("thread_ts") == thread_ts and m["ts"] != thread_ts
        ]

    def _rendered(self, channel: str, message: dict[str, Any]) -> dict[str, Any]:
        replies = self._replies(channel, message["ts"])
        if not replies:
            return message
        return {**message, "thread_ts": message["ts"], **thread_summary(replies)}

    def _history(self, channel: str, params: Mapping[str, Any]) -> dict[str, Any]:
        messages = [self._rendered(channel, m) for m in self._messages[channel].values()]
        return history_page(messages, params)

    def _thread(self, channel: str, params: Mapping[str, Any]) -> dict[str, Any]:
        ts = param_str(params, "ts")
        message = self._messages[channel].get(ts or "")
        if message is None:
            return error("thread_not_found")
        thread_ts = message.get("thread_ts") or message["ts"]
        parent = self._rendered(channel, self._messages[channel][thread_ts])
        return replies_page(parent, self._replies(channel, thread_ts), params)
