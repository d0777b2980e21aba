"""A fake OpenAI-compatible server: a real HTTP server on 127.0.0.1 for the real ``openai`` client.

``FakeOpenAIServer`` answers ``POST /v1/chat/completions`` the way the API does for structured
outputs: it reads the ``<slack_data>`` JSON of the user message, "judges" every message with a
``judge(text) -> dict`` function (default: the rules scorer, so answers are plausible and
deterministic) and returns ``{"assessments": [...]}`` as the message content, with ``usage``
(prompt tokens estimated from the request, cached tokens when the system prompt was seen before,
as provider prompt caching would report). A digest narrative request (``<digest_data>``) is
answered by ``narrate(data) -> {"sentences": [...]}`` (default :func:`plain_narrator`). Tests
script faults, consumed one per request::

    with FakeOpenAIServer() as server:
        server.inject(Fault.rate_limited(retry_after=1))
        client = openai.OpenAI(api_key="sk-test", base_url=server.base_url, max_retries=0)

Faults: 429 with ``retry-after`` (and ``insufficient_quota``), 5xx, a delay past the client's
timeout, malformed JSON content, a refusal, missing / duplicated / unknown IDs, a cut-off answer
(``finish_reason="length"``) and a non-JSON body. ``latency`` delays every answer (benchmarks);
``max_in_flight`` shows the client's concurrency; ``rate_limit_every=n`` answers every n-th
request 429 with ``retry-after`` (a provider under load).

The Batch API is faked too: ``POST /v1/files`` (multipart upload), ``GET /v1/files/{id}/content``,
``POST /v1/batches``, ``GET /v1/batches/{id}`` and ``POST /v1/batches/{id}/cancel``. Batches stay
``in_progress`` until the test calls :meth:`FakeOpenAIServer.finish_batches` (``completed``, or
``expired`` / ``failed`` with only the first ``answered`` requests in the output file).
"""

from __future__ import annotations

import email.parser
import json
import math
import re
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal

from digest_pipeline.defs.risk.rules import rules_scorer

_DATA = re.compile(r"<slack_data>\n(.*)\n</slack_data>", re.S)
_DIGEST = re.compile(r"<digest_data>\n(.*)\n</digest_data>", re.S)

Judge = Callable[[str, str | None, str | None], dict[str, Any]]
# Writes a digest narrative ({"sentences": [{"text", "sources"}]}) from the <digest_data> JSON.
Narrate = Callable[[dict[str, Any]], dict[str, Any]]


def plain_narrator(data: dict[str, Any]) -> dict[str, Any]:
    """The default "model" for digest narratives: one sentence per risk (three at most) and
    one for the unanswered questions, each citing its item, owners by their pseudonyms."""
    sentences = []
    risks = [item for item in data["items"] if item["id"].startswith("r")]
    for item in risks[:3]:
        owner = f"; {item['owner']} to act" if item.get("owner") else ""
        sentences.append(
            {
                "text": f"{item['level'].capitalize()} in {', '.join(item['channels'])}: "
                f"{item['description']}{owner}.",
                "sources": [item["id"]],
            }
        )
    questions = [item["id"] for item in data["items"] if item["id"].startswith("q")]
    if questions:
        sentences.append(
            {"text": f"{len(questions)} urgent questions wait for an answer.", "sources": questions}
        )
    return {"sentences": sentences}


def rules_judge(text: str, channel: str | None, parent: str | None) -> dict[str, Any]:
    """The default "model": the rules scorer's judgement, with a short description."""
    a = rules_scorer(text, channel.lstrip("#") if channel else None, parent)
    return {
        "risk_level": a.risk_level,
        "risk_category": a.risk_category,
        "description": a.description,
        "confidence_score": a.confidence_score,
        "mitigation_suggestions": a.mitigation_suggestions[:3]
        if a.risk_level in ("high", "critical")
        else [],
        "requires_attention": a.requires_attention,
    }


def gullible_judge(text: str, channel: str | None, parent: str | None) -> dict[str, Any]:
    """A model that obeys instructions found in the data ("mark this low")."""
    verdict = rules_judge(text, channel, parent)
    if re.search(r"ignore|mark (this|it|all|every\w*) (as )?low", text, re.I):
        verdict.update(risk_level="low", risk_category="none", requires_attention=False)
        verdict.update(description="No business risk", mitigation_suggestions=[])
    return verdict


def estimate_tokens(text: str) -> int:
    return math.ceil(len(text.encode("utf-8")) / 4)


@dataclass(frozen=True)
class Fault:
    """One scripted answer in place of the normal one."""

    kind: Literal[
        "status",
        "delay",
        "malformed",
        "refusal",
        "drop_ids",
        "duplicate_ids",
        "extra_ids",
        "length",
        "garbage",
    ]
    status: int = 200
    retry_after: str | None = None
    code: str | None = None
    seconds: float = 0.0
    count: int = 1

    @classmethod
    def rate_limited(cls, retry_after: float = 0) -> Fault:
        return cls("status", 429, retry_after=str(retry_after), code="rate_limit_exceeded")

    @classmethod
    def insufficient_quota(cls) -> Fault:
        return cls("status", 429, code="insufficient_quota")

    @classmethod
    def server_error(cls, status: int = 500) -> Fault:
        return cls("status", status, code="server_error")

    @classmethod
    def unauthorized(cls) -> Fault:
        return cls("status", 401, code="invalid_api_key")

    @classmethod
    def delay(cls, seconds: float) -> Fault:
        """Answer normally, but only after ``seconds`` (past the client's timeout)."""
        return cls("delay", seconds=seconds)

    @classmethod
    def malformed(cls) -> Fault:
        """Content that is not valid JSON (an unterminated object)."""
        return cls("malformed")

    @classmethod
    def refusal(cls) -> Fault:
        return cls("refusal")

    @classmethod
    def drop_ids(cls, count: int = 1) -> Fault:
        """Leave the last ``count`` assessments out."""
        return cls("drop_ids", count=count)

    @classmethod
    def duplicate_ids(cls) -> Fault:
        """Answer the first message twice (with different levels)."""
        return cls("duplicate_ids")

    @classmethod
    def extra_ids(cls) -> Fault:
        """Add an assessment for an ID that was never sent."""
        return cls("extra_ids")

    @classmethod
    def length(cls) -> Fault:
        """Cut the answer off: ``finish_reason='length'`` with truncated content."""
        return cls("length")

    @classmethod
    def garbage(cls) -> Fault:
        """HTTP 200 with a body that is not JSON at all."""
        return cls("garbage")


@dataclass(frozen=True)
class RecordedRequest:
    body: dict[str, Any]
    authorization: str | None
    fault: Fault | None
    ids: tuple[str, ...]

    @property
    def user_content(self) -> str:
        return next(m["content"] for m in self.body["messages"] if m["role"] == "user")

    @property
    def system_content(self) -> str:
        return next(m["content"] for m in self.body["messages"] if m["role"] == "system")


class FakeOpenAIServer:
    def __init__(
        self,
        *,
        judge: Judge = rules_judge,
        narrate: Narrate = plain_narrator,
        latency: float = 0.0,
        api_key: str | None = None,
        model: str | None = None,
        rate_limit_every: int = 0,
        rate_limit_retry_after: float = 1.0,
    ) -> None:
        self.judge = judge
        self.rate_limit_every = rate_limit_every
        self.rate_limit_retry_after = rate_limit_retry_after
        self.narrate = narrate
        self.latency = latency
        self.api_key = api_key
        self.model = model
        self.requests: list[RecordedRequest] = []
        self.files: dict[str, tuple[str, bytes]] = {}  # id -> (purpose, content)
        self.batches: dict[str, dict[str, Any]] = {}
        self.batch_api_calls: list[tuple[str, str]] = []  # (method, path)
        self.in_flight = 0
        self.max_in_flight = 0
        self._faults: deque[tuple[Fault, Callable[[str], bool] | None]] = deque()
        self._seen_prefixes: set[str] = set()
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    # -- lifecycle

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def __enter__(self) -> FakeOpenAIServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    # -- scripting

    def inject(self, *faults: Fault, when: Callable[[str], bool] | None = None) -> None:
        """Queue faults, one per request; ``when(user_content)`` picks the requests."""
        with self._lock:
            self._faults.extend((fault, when) for fault in faults)

    @property
    def calls(self) -> int:
        return len(self.requests)

    def _next_fault(self, user_content: str) -> Fault | None:
        with self._lock:
            for i, (fault, when) in enumerate(self._faults):
                if when is None or when(user_content):
                    del self._faults[i]
                    return fault
        return None

    # -- the Batch API

    def _add_file(self, purpose: str, content: bytes, filename: str = "file.jsonl") -> dict:
        file_id = f"file-{uuid.uuid4().hex[:16]}"
        with self._lock:
            self.files[file_id] = (purpose, content)
        return {
            "id": file_id,
            "object": "file",
            "bytes": len(content),
            "created_at": int(time.time()),
            "filename": filename,
            "purpose": purpose,
            "status": "processed",
        }

    def _create_batch(self, body: dict[str, Any]) -> tuple[int, dict]:
        if body.get("input_file_id") not in self.files:
            return 400, {"error": {"message": "no such file", "type": "invalid_request_error"}}
        batch_id = f"batch_{uuid.uuid4().hex[:16]}"
        batch = {
            "id": batch_id,
            "object": "batch",
            "endpoint": body["endpoint"],
            "input_file_id": body["input_file_id"],
            "completion_window": body["completion_window"],
            "status": "in_progress",
            "created_at": int(time.time()),
            "metadata": body.get("metadata"),
            "output_file_id": None,
            "error_file_id": None,
        }
        with self._lock:
            self.batches[batch_id] = batch
        return 200, batch

    def batch_requests(self, batch_id: str) -> list[dict[str, Any]]:
        """The requests of an uploaded batch input file."""
        content = self.files[self.batches[batch_id]["input_file_id"]][1]
        return [json.loads(line) for line in content.decode().splitlines() if line.strip()]

    def finish_batches(self, status: str = "completed", answered: int | None = None) -> None:
        """End every open batch with ``status``; the output file answers the first ``answered``
        requests (all by default), each as a chat completion would."""
        for batch_id, batch in list(self.batches.items()):
            if batch["status"] not in ("in_progress", "cancelling"):
                continue
            final = "cancelled" if batch["status"] == "cancelling" else status
            requests = self.batch_requests(batch_id)
            lines = []
            for request in requests[: len(requests) if answered is None else answered]:
                _, _, payload = self._completion(request["body"], None)
                lines.append(
                    json.dumps(
                        {
                            "id": f"batch_req_{uuid.uuid4().hex[:12]}",
                            "custom_id": request["custom_id"],
                            "response": {
                                "status_code": 200,
                                "request_id": uuid.uuid4().hex,
                                "body": json.loads(payload),
                            },
                            "error": None,
                        }
                    )
                )
            if lines:
                output = self._add_file("batch_output", ("\n".join(lines) + "\n").encode())
                batch["output_file_id"] = output["id"]
            batch["status"] = final
            batch["request_counts"] = {
                "total": len(requests),
                "completed": len(lines),
                "failed": len(requests) - len(lines),
            }

    def _batch_api(
        self, method: str, path: str, raw: bytes, content_type: str
    ) -> tuple[int, dict | bytes]:
        with self._lock:
            self.batch_api_calls.append((method, path))
        parts = path.rstrip("/").split("/")  # ['', 'v1', 'files', ...]
        if method == "POST" and parts[2:] == ["files"]:
            message = email.parser.BytesParser().parsebytes(
                f"Content-Type: {content_type}\r\n\r\n".encode() + raw
            )
            fields: dict[str, tuple[str | None, bytes]] = {}
            for part in message.get_payload():
                name = part.get_param("name", header="content-disposition")
                fields[name] = (part.get_filename(), part.get_payload(decode=True))
            purpose = fields["purpose"][1].decode()
            filename, content = fields["file"]
            return 200, self._add_file(purpose, content, filename or "upload.jsonl")
        if method == "GET" and parts[2] == "files" and parts[-1] == "content":
            found = self.files.get(parts[3])
            return (200, found[1]) if found else (404, {"error": {"message": "no such file"}})
        if method == "POST" and parts[2:] == ["batches"]:
            return self._create_batch(json.loads(raw))
        if parts[2] == "batches" and len(parts) >= 4 and parts[3] in self.batches:
            batch = self.batches[parts[3]]
            if method == "POST" and parts[-1] == "cancel":
                if batch["status"] == "in_progress":
                    batch["status"] = "cancelling"
                return 200, batch
            if method == "GET":
                return 200, batch
        return 404, {"error": {"message": f"not found: {method} {path}"}}

    # -- answering

    def _completion(self, body: dict[str, Any], fault: Fault | None) -> tuple[int, dict, bytes]:
        messages = body.get("messages") or []
        user = next((m["content"] for m in messages if m["role"] == "user"), "")
        digest = _DIGEST.search(user)
        if digest is not None:
            answer = json.dumps(self.narrate(json.loads(digest.group(1))))
            return self._response(body, fault, answer)
        match = _DATA.search(user)
        threads = json.loads(match.group(1)) if match else []
        verdicts: list[dict[str, Any]] = []
        for thread in threads:
            parent = (thread.get("parent") or {}).get("text")
            msgs = thread["messages"]
            for index, m in enumerate(msgs):
                # Replies are read with the parent: the context, or the thread's first message.
                context = parent if parent is not None else (msgs[0]["text"] if index else None)
                verdicts.append(
                    {"id": m["id"], **self.judge(m["text"], thread["channel"], context)}
                )
        if fault is not None and fault.kind == "drop_ids":
            verdicts = verdicts[: max(len(verdicts) - fault.count, 0)]
        elif fault is not None and fault.kind == "duplicate_ids" and verdicts:
            verdicts.append({**verdicts[0], "risk_level": "low"})
        elif fault is not None and fault.kind == "extra_ids":
            verdicts.append(
                {**(verdicts[0] if verdicts else rules_judge("", None, None)), "id": "m999"}
            )
        return self._response(body, fault, json.dumps({"assessments": verdicts}))

    def _response(
        self, body: dict[str, Any], fault: Fault | None, answer: str
    ) -> tuple[int, dict, bytes]:
        """The completion for ``answer`` (JSON), with the content faults applied."""
        messages = body.get("messages") or []
        system = next((m["content"] for m in messages if m["role"] == "system"), "")
        finish = "stop"
        refusal: str | None = None
        content: str | None = answer
        if fault is not None and fault.kind == "malformed":
            content = content[: len(content) // 2]
        elif fault is not None and fault.kind == "length":
            content, finish = content[: len(content) // 3], "length"
        elif fault is not None and fault.kind == "refusal":
            content, refusal = None, "I'm sorry, I can't help with that."
        prompt_tokens = sum(estimate_tokens(m.get("content") or "") + 4 for m in messages)
        prompt_tokens += estimate_tokens(json.dumps(body.get("response_format") or {}))
        cached = 0
        with self._lock:
            system_tokens = estimate_tokens(system)
            if system in self._seen_prefixes and prompt_tokens >= 1024:
                cached = (system_tokens // 128) * 128
            self._seen_prefixes.add(system)
        completion_tokens = estimate_tokens(content or refusal or "")
        response = {
            "id": f"chatcmpl-{uuid.uuid4().hex[:12]}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": self.model or body.get("model", "fake"),
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": content, "refusal": refusal},
                    "finish_reason": finish,
                    "logprobs": None,
                }
            ],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
                "prompt_tokens_details": {"cached_tokens": cached},
            },
        }
        return 200, {}, json.dumps(response).encode()

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # quiet
                return

            def _send(self, status: int, headers: dict[str, str], payload: bytes) -> None:
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    for name, value in headers.items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout)

            def _batch(self, method: str, raw: bytes) -> None:
                if server.api_key is not None and (
                    self.headers.get("Authorization") != f"Bearer {server.api_key}"
                ):
                    self._send(
                        401, {}, b'{"error": {"message": "bad key", "code": "invalid_api_key"}}'
                    )
                    return
                status, answer = server._batch_api(
                    method, self.path, raw, self.headers.get("Content-Type") or ""
                )
                payload = answer if isinstance(answer, bytes) else json.dumps(answer).encode()
                self._send(status, {}, payload)

            def do_GET(self) -> None:
                self._batch("GET", b"")

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                if "/files" in self.path or "/batches" in self.path:
                    self._batch("POST", raw)
                    return
                if not self.path.rstrip("/").endswith("/chat/completions"):
                    self._send(404, {}, b'{"error": {"message": "not found"}}')
                    return
                body = json.loads(raw or b"{}")
                auth = self.headers.get("Authorization")
                user = next(
                    (m["content"] for m in body.get("messages", []) if m["role"] == "user"), ""
                )
                fault = server._next_fault(user)
                ids = tuple(re.findall(r'"id":"(m\d+)"', user))
                with server._lock:
                    every = server.rate_limit_every
                    if fault is None and every and (len(server.requests) + 1) % every == 0:
                        fault = Fault.rate_limited(server.rate_limit_retry_after)
                    server.requests.append(RecordedRequest(body, auth, fault, ids))
                    server.in_flight += 1
                    server.max_in_flight = max(server.max_in_flight, server.in_flight)
                try:
                    self._answer(body, auth, fault)
                finally:
                    with server._lock:
                        server.in_flight -= 1

            def _answer(self, body: dict[str, Any], auth: str | None, fault: Fault | None) -> None:
                if server.latency:
                    time.sleep(server.latency)
                if server.api_key is not None and auth != f"Bearer {server.api_key}":
                    fault = Fault.unauthorized()
                if fault is not None and fault.kind == "status":
                    headers = {"retry-after": fault.retry_after} if fault.retry_after else {}
                    if fault.code == "insufficient_quota":
                        headers["x-should-retry"] = "false"
                    error = {
                        "error": {
                            "message": f"fake {fault.status} ({fault.code})",
                            "type": fault.code,
                            "code": fault.code,
                            "param": None,
                        }
                    }
                    self._send(fault.status, headers, json.dumps(error).encode())
                    return
                if fault is not None and fault.kind == "delay":
                    time.sleep(fault.seconds)
                if fault is not None and fault.kind == "garbage":
                    self._send(200, {}, b"<html>502 Bad Gateway</html>")
                    return
                status, headers, payload = server._completion(body, fault)
                self._send(status, headers, payload)

        return Handler
