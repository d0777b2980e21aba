"""Where digests and alerts go: Slack (post, then update in place), files, an alerts outbox.

* :class:`DigestSlackResource` is dagster-slack's ``SlackResource`` with a ``base_url`` and
  slack-sdk's retry handlers: the stock resource builds ``WebClient(token)`` and offers no way to
  point it at another server, and the tests drive the real client against a local fake Slack.
* :class:`DigestDelivery` holds the delivery settings (channels, folder, allow list).
* :func:`deliver_digest` posts a digest once per (digest, partition, channel) and on a re-run
  *updates* that post with ``chat.update``; the post's channel and ``ts`` live in the warehouse
  table ``digest_posts``. Details go to one reply in the post's thread, updated the same way,
  and each risk line shown gets its own reply (:mod:`.line_replies`) for the team's reactions;
  ``digest_posts.line_replies`` maps each reply's ``ts`` to the risks it stands for.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import dagster as dg
import pandas as pd
from dagster_slack import SlackResource
from pydantic import Field
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackRequestError
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)

from digest_pipeline.contract.enumerations import DEFAULT_REACTIONS
from digest_pipeline.defs.digest.line_replies import MAX_LINE_REPLIES, LineReply
from digest_pipeline.defs.digest.render import SlackMessage
from digest_pipeline.defs.storage.side_table import SideTable
from digest_pipeline.defs.storage.warehouse import Warehouse

DEFAULT_BASE_URL = "https://slack.com/api/"
# A post that vanished (deleted by someone) or is too old to edit: post a fresh one instead.
_REPOST_ERRORS = frozenset({"message_not_found", "cant_update_message", "edit_window_closed"})
# Line replies one post keeps over its re-runs (a re-run whose lines changed adds replies for the
# new lines and keeps the old ones, whose reactions still count).
MAX_RECORDED_LINES = 2 * MAX_LINE_REPLIES

POSTS = SideTable.declared("digest_posts")
POSTS_TABLE = POSTS.name


class DigestSlackResource(SlackResource):
    """dagster-slack's ``SlackResource`` with a configurable Web API base URL and retries."""

    base_url: str = Field(default=DEFAULT_BASE_URL, description="SLACK_API_BASE_URL")
    max_retries: int = Field(default=3, ge=0, description="Retries on 429, 5xx and lost links")
    timeout_seconds: int = Field(default=30, ge=1)

    def get_client(self) -> WebClient:
        return WebClient(
            token=self.token or None,
            base_url=self.base_url,
            timeout=self.timeout_seconds,
            retry_handlers=[
                RateLimitErrorRetryHandler(max_retry_count=self.max_retries),
                ServerErrorRetryHandler(max_retry_count=self.max_retries),
                ConnectionErrorRetryHandler(max_retry_count=self.max_retries),
            ],
        )


class DigestDelivery(dg.ConfigurableResource):
    """Where digests and alerts go. Empty channels mean: not posted."""

    post_channel: str | None = Field(default=None, description="DIGEST_POST_CHANNEL")
    alert_channel: str | None = Field(default=None, description="DIGEST_ALERT_CHANNEL")
    post_hourly: bool = Field(default=False, description="DIGEST_POST_HOURLY")
    output_dir: str = Field(default="data/digests", description="DIGEST_OUTPUT_DIR")
    private_allow: list[str] = Field(
        default_factory=list,
        description="DIGEST_PRIVATE_ALLOW: private channels the overall digest may quote",
    )
    can_post: bool = Field(default=False, description="A Slack bot token is configured")
    feedback_reactions: dict[str, str] = Field(
        default_factory=lambda: dict(DEFAULT_REACTIONS),
        description="DIGEST_FEEDBACK_REACTIONS: reaction name → verdict on a risk line's reply",
    )

    @property
    def posts_digests(self) -> bool:
        return bool(self.post_channel) and self.can_post

    @property
    def posts_alerts(self) -> bool:
        return bool(self.alert_channel) and self.can_post


@dataclass(frozen=True)
class DeliveryResult:
    action: str  # posted, updated or reposted
    channel_id: str
    ts: str
    details_ts: str | None
    calls: int
    line_replies: int = 0  # risk lines with a reply in the thread
    lines_skipped: int = 0  # lines left without one (past MAX_RECORDED_LINES)

    def as_metadata(self) -> dict[str, Any]:
        return {
            "slack_delivery": self.action,
            "slack_channel_id": self.channel_id,
            "slack_ts": self.ts,
            "slack_line_replies": self.line_replies,
            "slack_lines_skipped": self.lines_skipped,
        }


def content_hash(message: SlackMessage, lines: Sequence[LineReply] = ()) -> str:
    payload = (message.blocks, message.details, [line.blocks for line in lines])
    return hashlib.sha256(repr(payload).encode()).hexdigest()


def recorded_lines(value: object) -> list[dict[str, Any]]:
    """``digest_posts.line_replies`` as a list (a missing or unreadable value: none)."""
    if isinstance(value, list):  # PostgreSQL's driver parses JSON
        return [d for d in value if isinstance(d, dict)]
    if isinstance(value, str) and value:
        try:
            parsed = json.loads(value)
        except ValueError:
            return []
        return [d for d in parsed if isinstance(d, dict)] if isinstance(parsed, list) else []
    return []


def _previous_post(
    warehouse: Warehouse, digest: str, partition_key: str, channel: str
) -> dict[str, Any] | None:
    return POSTS.get(
        warehouse, {"digest": digest, "partition_key": partition_key, "channel": channel}
    )


def _record(
    warehouse: Warehouse,
    digest: str,
    partition_key: str,
    channel: str,
    *,
    channel_id: str,
    ts: str,
    details_ts: str | None,
    digest_hash: str,
    posted_at: datetime,
    updates: int,
    lines: Sequence[Mapping[str, Any]] = (),
) -> None:
    row = {
        "digest": digest,
        "partition_key": partition_key,
        "channel": channel,
        "channel_id": channel_id,
        "ts": ts,
        "details_ts": details_ts,
        "line_replies": json.dumps(list(lines)),
        "content_hash": digest_hash,
        "posted_at": posted_at,
        "updated_at": datetime.now(UTC),
        "updates": updates,
    }
    POSTS.upsert(warehouse, pd.DataFrame([row]))


def _failure(what: str, channel: str, e: Exception) -> dg.Failure:
    code = e.response.get("error") if isinstance(e, SlackApiError) else type(e).__name__
    hint = {
        "channel_not_found": "check DIGEST_POST_CHANNEL / DIGEST_ALERT_CHANNEL",
        "not_in_channel": "invite the bot to the channel",
        "invalid_auth": "check SLACK_BOT_TOKEN",
        "missing_scope": "the app needs the chat:write scope",
    }.get(str(code), "")
    return dg.Failure(
        f"Slack {what} to {channel} failed: {code}" + (f" ({hint})" if hint else ""),
        metadata={"slack_error": str(code)},
    )


def deliver_digest(
    client: WebClient,
    warehouse: Warehouse,
    *,
    digest: str,
    partition_key: str,
    channel: str,
    message: SlackMessage,
    lines: Sequence[LineReply] = (),
) -> DeliveryResult:
    """Post ``message`` to ``channel``, or update the post made for this partition before;
    then its details reply and one reply per risk line (``lines``) in its thread.

    The post is recorded right after Slack accepts it, before the replies, and what was posted
    is recorded again when a reply fails: the retry updates instead of posting twice.
    """
    digest_hash = content_hash(message, lines)
    previous = _previous_post(warehouse, digest, partition_key, channel)
    calls = 0
    action = "posted"
    channel_id = ts = details_ts = None
    posted_at = datetime.now(UTC)
    updates = 0
    line_records: list[dict[str, Any]] = []
    skipped = 0
    try:
        if previous is not None:
            channel_id, ts = str(previous["channel_id"]), str(previous["ts"])
            details_ts = previous.get("details_ts") or None
            line_records = recorded_lines(previous.get("line_replies"))
            # pandas types Timestamp(x) as maybe NaT; a recorded post always has its time.
            posted_at = cast(datetime, pd.Timestamp(previous["posted_at"]).to_pydatetime())
            updates = int(previous.get("updates") or 0)
            try:
                calls += 1
                client.chat_update(
                    channel=channel_id, ts=ts, text=message.text, blocks=message.blocks
                )
                action, updates = "updated", updates + 1
            except SlackApiError as e:
                if e.response.get("error") not in _REPOST_ERRORS:
                    raise
                previous, details_ts, action = None, None, "reposted"
                line_records = []  # the thread went with the post
        if previous is None:
            calls += 1
            response = client.chat_postMessage(
                channel=channel,
                text=message.text,
                blocks=message.blocks,
                unfurl_links=False,
                unfurl_media=False,
            )
            channel_id, ts = str(response["channel"]), str(response["ts"])
            posted_at = datetime.now(UTC)
            _record(
                warehouse, digest, partition_key, channel, channel_id=channel_id, ts=ts,
                details_ts=None, digest_hash=digest_hash, posted_at=posted_at, updates=updates,
            )  # fmt: skip
        assert channel_id is not None and ts is not None
        if message.details:
            details_ts = _deliver_details(client, channel_id, ts, details_ts, message)
            calls += 1
        for line in lines:
            done = _deliver_line(client, channel_id, ts, line_records, line)
            calls += done
            skipped += not done
    except (SlackApiError, SlackRequestError, OSError) as e:
        if channel_id is not None and ts is not None:
            # What Slack accepted before the failure, so the retry updates it.
            _record(
                warehouse, digest, partition_key, channel, channel_id=channel_id, ts=ts,
                details_ts=details_ts, digest_hash="", posted_at=posted_at, updates=updates,
                lines=line_records,
            )  # fmt: skip
        raise _failure(f"posting {digest} {partition_key}", channel, e) from e
    _record(
        warehouse, digest, partition_key, channel, channel_id=channel_id, ts=ts,
        details_ts=details_ts, digest_hash=digest_hash, posted_at=posted_at, updates=updates,
        lines=line_records,
    )  # fmt: skip
    shown = {line.key for line in lines} & {str(r.get("key")) for r in line_records}
    return DeliveryResult(action, channel_id, ts, details_ts, calls, len(shown), skipped)


def _deliver_line(
    client: WebClient,
    channel_id: str,
    ts: str,
    records: list[dict[str, Any]],
    line: LineReply,
) -> int:
    """Update the line's earlier reply, or post one (recording it in ``records`` in place).
    Returns the calls made: 0 when the post already holds :data:`MAX_RECORDED_LINES`."""
    record = {
        "key": line.key,
        "level": line.level,
        "thread_ids": list(line.thread_ids),
        "message_ids": list(line.message_ids),
    }
    held = next((r for r in records if r.get("key") == line.key), None)
    if held is not None:
        try:
            client.chat_update(
                channel=channel_id, ts=str(held["ts"]), text=line.text, blocks=list(line.blocks)
            )
            held.update(record)
            return 1
        except SlackApiError as e:
            if e.response.get("error") not in _REPOST_ERRORS:
                raise
        records.remove(held)
    if len(records) >= MAX_RECORDED_LINES:
        return 0
    response = client.chat_postMessage(
        channel=channel_id,
        thread_ts=ts,
        text=line.text,
        blocks=list(line.blocks),
        unfurl_links=False,
        unfurl_media=False,
    )
    records.append({**record, "ts": str(response["ts"])})
    return 1


def _deliver_details(
    client: WebClient, channel_id: str, ts: str, details_ts: str | None, message: SlackMessage
) -> str:
    if details_ts:
        try:
            client.chat_update(
                channel=channel_id, ts=details_ts, text=message.details_text,
                blocks=message.details,
            )  # fmt: skip
            return details_ts
        except SlackApiError as e:
            if e.response.get("error") not in _REPOST_ERRORS:
                raise
    response = client.chat_postMessage(
        channel=channel_id,
        thread_ts=ts,
        text=message.details_text,
        blocks=message.details,
        unfurl_links=False,
        unfurl_media=False,
    )
    return str(response["ts"])


def post_text(
    client: WebClient, channel: str, text: str, blocks: Sequence[Mapping[str, Any]] | None = None
) -> tuple[str, str]:
    """One plain post (alerts); returns Slack's (channel ID, ts)."""
    try:
        response = client.chat_postMessage(
            # Dicts: slack_sdk serialises blocks with json.dumps, which refuses other mappings.
            channel=channel, text=text, blocks=[dict(b) for b in blocks] if blocks else None,
            unfurl_links=False, unfurl_media=False,
        )  # fmt: skip
    except (SlackApiError, SlackRequestError, OSError) as e:
        raise _failure("alert", channel, e) from e
    return str(response["channel"]), str(response["ts"])


# -- files ----------------------------------------------------------------------------------------

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def digest_path(folder: str, kind: str, partition_key: str, suffix: str) -> Path:
    """``<folder>/<kind>/<partition>.<suffix>``; ``2026-03-10-14:00`` → ``2026-03-10-1400``."""
    name = _UNSAFE.sub("", partition_key.replace(":", ""))
    return Path(folder) / kind / f"{name}.{suffix}"


BLOCK_KIT_SUFFIX = "slack.json"


def block_kit_payload(message: SlackMessage, lines: Sequence[LineReply] = ()) -> dict[str, Any]:
    """What :func:`deliver_digest` sends to Slack, as Slack's API receives it: the top-level
    post's ``text`` and ``blocks``, then each thread reply's (the details, then one per risk
    line), in the order they are posted."""
    details = [{"text": message.details_text, "blocks": message.details}] if message.details else []
    return {
        "post": {"text": message.text, "blocks": message.blocks},
        "thread": details + [line.payload() for line in lines],
    }


def write_digest_files(
    folder: str,
    kind: str,
    partition_key: str,
    *,
    markdown: str,
    html: str,
    block_kit: Mapping[str, Any] | None = None,
) -> list[str]:
    """Write the digest as Markdown, HTML and (given) the Block Kit JSON of its Slack post,
    atomically: a reader never sees half a file. Paths come back in that order."""
    files = [("md", markdown), ("html", html)]
    if block_kit is not None:
        files.append((BLOCK_KIT_SUFFIX, json.dumps(block_kit, ensure_ascii=False, indent=1)))
    written = []
    for suffix, text in files:
        path = digest_path(folder, kind, partition_key, suffix)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(path.suffix + ".tmp")
            tmp.write_text(text, encoding="utf-8")
            os.replace(tmp, path)
        except OSError as e:
            raise dg.Failure(
                f"DIGEST_OUTPUT_DIR={folder!r}: cannot write {path.name}: {e.strerror}"
            ) from e
        written.append(str(path))
    return written
