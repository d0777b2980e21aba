"""``raw_messages`` rows → ``messages`` rows: the pure core of the ``messages`` asset.

One pass over plain Python lists (not ``DataFrame.apply``): each payload is decoded once, then
cleaned, classified and scored; columns are gathered as lists and turned into a frame at the end.
Everything skipped on purpose is counted by reason in :attr:`EnrichResult.skipped`.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, cast

import numpy as np
import orjson
import pandas as pd
from pandas.api.typing import NaTType

from digest_pipeline.defs.enrichment.analyzer import (
    ENTITY_KINDS,
    Analysis,
    analysis_of,
)
from digest_pipeline.defs.enrichment.classify import category_of, priority_level, urgency_of
from digest_pipeline.defs.enrichment.mrkdwn import MrkdwnCleaner, message_mrkdwn
from digest_pipeline.defs.enrichment.sentiment import sentiment_of
from digest_pipeline.defs.slack.people import PeopleDirectory
from digest_pipeline.defs.slack.ts import ts_micros
from digest_pipeline.vocabulary import KEPT_SUBTYPES, SKIPPED_SUBTYPES

# Contract columns of ``messages`` (in order), then the extra ones.
CONTRACT_COLUMNS: tuple[str, ...] = (
    "id",
    "channel_id",
    "channel",
    "ts",
    "thread_ts",
    "user_id",
    "user",
    "content",
    "timestamp",
    "message_type",
    "urgency",
    "category",
    "mentions",
    "reactions",
    "sentiment_score",
    "priority_level",
    "permalink",
)
EXTRA_COLUMNS: tuple[str, ...] = (
    "is_bot",
    "is_reply",
    "parent_id",
    "reply_count",
    "edited",
    "subtype",
    "entities",
    "content_hash",
)
COLUMNS: tuple[str, ...] = CONTRACT_COLUMNS + EXTRA_COLUMNS
_DTYPES: dict[str, str] = {
    "timestamp": "datetime64[ns, UTC]",
    "sentiment_score": "float64",
    "priority_level": "int64",
    "is_bot": "bool",
    "is_reply": "bool",
    "reply_count": "int64",
    "edited": "bool",
}

_EMPTY_LIST_JSON = "[]"
# json.dumps(..., ensure_ascii=False) builds a new encoder per call; build it once.
_JSON_UNICODE = json.JSONEncoder(ensure_ascii=False)
_EMPTY_ENTITIES_JSON = json.dumps({kind: [] for kind in ENTITY_KINDS})


@dataclass(frozen=True)
class EnrichResult:
    """Enriched messages and what was left out on purpose."""

    frame: pd.DataFrame
    skipped: dict[str, int] = field(default_factory=dict)


def empty_messages_frame() -> pd.DataFrame:
    """A frame with no rows and the ``messages`` columns and dtypes."""
    frame = pd.DataFrame({c: pd.Series(dtype="object") for c in COLUMNS})
    return frame.astype(_DTYPES)


def channel_directory(channels: pd.DataFrame | None) -> dict[str, str]:
    """``channel_id → name``."""
    if channels is None or channels.empty or "channel_id" not in channels:
        return {}
    names = channels["name"].tolist() if "name" in channels else [None] * len(channels)
    return {
        cid: (name if isinstance(name, str) and name else cid)
        for cid, name in zip(channels["channel_id"].tolist(), names, strict=True)
        if isinstance(cid, str)
    }


def permalink(workspace_url: str, channel_id: str, ts: str, thread_ts: str | None) -> str:
    """Slack's web permalink; replies carry their thread so the link opens in context."""
    link = f"{workspace_url}archives/{channel_id}/p{ts.replace('.', '')}"
    if thread_ts and thread_ts != ts:
        link += f"?thread_ts={thread_ts}&cid={channel_id}"
    return link


def _str_or_none(value: Any) -> str | None:
    if value is None or (isinstance(value, float) and value != value):  # NaN
        return None
    text = str(value)
    return text or None


def _reactions(msg: Mapping[str, Any]) -> tuple[list[dict[str, Any]], list[str], int]:
    raw = msg.get("reactions")
    if not isinstance(raw, list) or not raw:
        return [], [], 0
    out: list[dict[str, Any]] = []
    names: list[str] = []
    total = 0
    for r in raw:
        if not isinstance(r, Mapping) or not r.get("name"):
            continue
        name = str(r["name"]).split("::", 1)[0]  # drop skin tone
        try:
            count = int(r.get("count") or len(r.get("users") or ()) or 1)
        except (TypeError, ValueError):
            count = 1
        out.append({"name": name, "count": count})
        names.append(name)
        total += count
    return out, names, total


def _decode(payload: str | bytes) -> Any:
    """A JSON payload with orjson (2-3x faster than ``json``); ``json`` for what orjson refuses
    (lone surrogate escapes, NaN); ``None`` when neither can read it."""
    try:
        return orjson.loads(payload)
    except orjson.JSONDecodeError:
        try:
            return json.loads(payload)
        except (ValueError, RecursionError):
            return None


# What depends on the cleaned text alone: (analysis, sentiment, entities JSON, sha256). The
# category also depends on the channel's name (category_of).
_Features = tuple[Analysis, float, str, str]


def _text_features(analysis: Analysis, text: str) -> _Features:
    entities = analysis.entities
    return (
        analysis,
        sentiment_of(analysis, text),
        _JSON_UNICODE.encode({k: entities.get(k, []) for k in ENTITY_KINDS})
        if entities
        else _EMPTY_ENTITIES_JSON,
        hashlib.sha256(text.encode("utf-8")).hexdigest(),
    )


def enrich_messages(
    raw: pd.DataFrame | None,
    users: pd.DataFrame | None,
    channels: pd.DataFrame | None,
    *,
    workspace_url: str = "https://slack.com/",
    include_bots: bool = True,
) -> EnrichResult:
    """Clean and enrich ``raw_messages`` rows into ``messages`` rows (see the table contract).

    Housekeeping subtypes, malformed payloads, empty messages, duplicates of one
    ``(channel_id, ts)`` (the last row wins), the app's own posts and the replies in their threads
    (``is_own_post``, marked at extraction: the pipeline never reads its own digests as news) and,
    with ``include_bots=False``, bot messages are dropped and counted by reason. Other bots' posts
    are kept. Never raises on message content.

    ``message_type`` precedence: ``bot`` (a ``bot_id``, the ``bot_message`` subtype, or a bot
    user) over ``broadcast`` over ``reply``; ``is_reply`` is true for broadcasts too, since they
    live in a thread. A thread parent keeps ``thread_ts == ts`` and is a ``message``.
    """
    if raw is None or raw.empty:
        return EnrichResult(empty_messages_frame(), {})
    if not workspace_url.endswith("/"):
        workspace_url += "/"
    people = PeopleDirectory.from_users(users)
    user_names, bot_users = people.names, people.bots
    channel_names = channel_directory(channels)
    cleaner = MrkdwnCleaner(user_names, channel_names)
    skipped: Counter[str] = Counter()

    n = len(raw)
    none_col = [None] * n
    channel_ids = raw["channel_id"].tolist()
    tss = raw["ts"].tolist()
    thread_tss = raw["thread_ts"].tolist() if "thread_ts" in raw else none_col
    payloads = raw["payload"].tolist()
    # Rows extracted before the flag existed carry NULL: not known to be ours.
    own_posts = raw["is_own_post"].tolist() if "is_own_post" in raw else none_col

    # Last occurrence of each key wins (a later extraction saw the latest edit).
    last_index = {key: i for i, key in enumerate(zip(channel_ids, tss, strict=True))}
    if len(last_index) < n:
        skipped["duplicate"] = n - len(last_index)

    rows: list[tuple[Any, ...]] = []
    kept_rows: list[int] = []
    # Chatter repeats ("ok", "+1", bot alerts): clean and analyze each distinct text once.
    clean_cache: dict[str, tuple[str, list[str], str]] = {}
    text_cache: dict[str, _Features] = {}
    # (text, channel) → (category, category of the words alone): a text repeats within a channel.
    topics: dict[tuple[str, str], tuple[str, str]] = {}
    for i, (channel_id, ts, row_thread_ts, payload, own_post) in enumerate(
        zip(channel_ids, tss, thread_tss, payloads, own_posts, strict=True)
    ):
        if last_index[(channel_id, ts)] != i:
            continue
        if own_post is True or own_post is np.True_:
            skipped["own_post"] += 1
            continue
        if isinstance(payload, str | bytes):
            msg = _decode(payload)
            if msg is None:
                skipped["malformed_payload"] += 1
                continue
        else:
            msg = payload
        if not isinstance(msg, dict):
            skipped["malformed_payload"] += 1
            continue
        if not isinstance(channel_id, str) or not isinstance(ts, str) or not ts:
            skipped["missing_key"] += 1
            continue

        subtype = msg.get("subtype")
        subtype = subtype if isinstance(subtype, str) and subtype else None
        edited = isinstance(msg.get("edited"), Mapping)
        if subtype == "message_changed" and isinstance(msg.get("message"), dict):
            # Events API shape: the edited message is nested.
            msg = msg["message"]
            edited = True
            subtype = msg.get("subtype") if isinstance(msg.get("subtype"), str) else None
        if subtype in SKIPPED_SUBTYPES:
            skipped[f"subtype:{subtype}"] += 1
            continue

        user_id = msg.get("user") or msg.get("bot_id") or ""
        user_id = user_id if isinstance(user_id, str) else str(user_id)
        is_bot = bool(msg.get("bot_id")) or subtype == "bot_message" or user_id in bot_users
        if is_bot and not include_bots:
            skipped["bot"] += 1
            continue

        mrkdwn = message_mrkdwn(msg)
        cleaned = clean_cache.get(mrkdwn)
        if cleaned is None:
            text, mentions = cleaner.clean(mrkdwn)
            cleaned = clean_cache[mrkdwn] = (
                text,
                mentions,
                json.dumps(mentions) if mentions else _EMPTY_LIST_JSON,
            )
        text, mentions, mentions_json = cleaned
        if not text:
            skipped["empty"] += 1
            continue
        if subtype is not None and subtype not in KEPT_SUBTYPES:
            skipped[f"unknown_subtype_kept:{subtype}"] += 1

        thread_ts = _str_or_none(msg.get("thread_ts")) or _str_or_none(row_thread_ts)
        is_reply = thread_ts is not None and thread_ts != ts
        if is_bot:
            message_type = "bot"
        elif subtype == "thread_broadcast":
            message_type = "broadcast"
        elif is_reply:
            message_type = "reply"
        else:
            message_type = "message"

        shown = user_names.get(user_id)
        if not shown:
            profile = msg.get("bot_profile")
            profile_name = profile.get("name") if isinstance(profile, Mapping) else None
            shown = msg.get("username") or profile_name or user_id
            shown = shown if isinstance(shown, str) else user_id

        reactions, reaction_names, reaction_total = _reactions(msg)
        try:
            reply_count = int(msg.get("reply_count") or 0)
        except (TypeError, ValueError):
            reply_count = 0

        features = text_cache.get(text)
        if features is None:
            features = text_cache[text] = _text_features(analysis_of(text), text)
        analysis, sentiment, entities_json, content_hash = features
        channel_name = channel_names.get(channel_id, channel_id)
        topic_key = (text, channel_name)
        found = topics.get(topic_key)
        if found is None:
            found = topics[topic_key] = (category_of(analysis, channel_name), category_of(analysis))
        topic, worded = found
        level = urgency_of(analysis, mentions=mentions, reactions=reaction_names)

        rows.append(
            (
                f"{channel_id}:{ts}",
                channel_id,
                channel_name,
                ts,
                thread_ts,
                user_id,
                shown,
                text,
                message_type,
                level,
                topic,
                mentions_json,
                json.dumps(reactions) if reactions else _EMPTY_LIST_JSON,
                sentiment,
                priority_level(
                    level,
                    # Whether the words name a topic: chatter in #supply-chain stays chatter.
                    worded,
                    mentions=mentions,
                    reaction_count=reaction_total,
                    reply_count=reply_count,
                ),
                permalink(workspace_url, channel_id, ts, thread_ts),
                is_bot,
                is_reply,
                f"{channel_id}:{thread_ts}" if is_reply else None,
                reply_count,
                edited,
                subtype,
                entities_json,
                content_hash,
            )
        )
        kept_rows.append(i)

    if not kept_rows:
        return EnrichResult(empty_messages_frame(), dict(skipped))
    names = [c for c in COLUMNS if c != "timestamp"]
    # From the row tuples in one step (pandas builds one object array in C): ~3x cheaper than
    # transposing them into column lists first.
    frame = pd.DataFrame.from_records(rows, columns=names)
    # pandas is untyped here: one column selects a Series.
    tss = cast(pd.Series, frame["ts"])
    frame.insert(COLUMNS.index("timestamp"), "timestamp", _timestamps(raw, kept_rows, tss))
    return EnrichResult(frame.astype(_DTYPES), dict(skipped))


def _timestamps(raw: pd.DataFrame, rows: list[int], tss: pd.Series) -> pd.Series:
    """UTC timestamps from ``raw.timestamp``, falling back to the message ``ts`` where missing."""
    if "timestamp" in raw:
        # cache=False: deciding whether to cache converts the first 10,000 values to Python
        # objects, which costs more than the conversion itself.
        given = pd.to_datetime(raw["timestamp"].iloc[rows], utc=True, errors="coerce", cache=False)
        given = given.reset_index(drop=True).astype("datetime64[ns, UTC]")
    else:
        given = pd.Series(pd.NaT, index=range(len(rows)), dtype="datetime64[ns, UTC]")
    missing = given.isna()
    if missing.any():
        given[missing] = [_ts_timestamp(ts) for ts in tss[missing]]
    return given


def _ts_timestamp(ts: object) -> pd.Timestamp | NaTType:
    """A Slack ``ts`` ("1700000000.000100") as an exact UTC timestamp (NaT if unreadable)."""
    try:
        return pd.Timestamp(ts_micros(str(ts)), unit="us", tz="UTC")
    except (ValueError, OverflowError):
        return pd.NaT
